/* pk-toggle-limiter.h: how many toggles may run at once on one host
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__PROXYKIT_INSIDE__) && !defined(PROXYKIT_COMPILATION)
#error "Only <proxykit/proxykit.h> can be included directly."
#endif

#include <gio/gio.h>
#include "pk-version-macros.h"

G_BEGIN_DECLS

#define PK_TYPE_TOGGLE_LIMITER (pk_toggle_limiter_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkToggleLimiter, pk_toggle_limiter, PK, TOGGLE_LIMITER, GObject)

PK_AVAILABLE_IN_ALL
PkToggleLimiter *pk_toggle_limiter_new         (guint            max_concurrent);
PK_AVAILABLE_IN_ALL
guint            pk_toggle_limiter_get_max     (PkToggleLimiter *self);
PK_AVAILABLE_IN_ALL
guint            pk_toggle_limiter_get_running (PkToggleLimiter *self);

G_END_DECLS
