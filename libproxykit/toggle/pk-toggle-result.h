/* pk-toggle-result.h: what one run of a PkToggle did
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

#define PK_TYPE_TOGGLE_RESULT (pk_toggle_result_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkToggleResult, pk_toggle_result, PK, TOGGLE_RESULT, GObject)

PK_AVAILABLE_IN_ALL
guint         pk_toggle_result_get_id            (PkToggleResult *self);
PK_AVAILABLE_IN_ALL
gboolean      pk_toggle_result_get_success       (PkToggleResult *self);
PK_AVAILABLE_IN_ALL
const GError *pk_toggle_result_get_error         (PkToggleResult *self);
PK_AVAILABLE_IN_ALL
const char   *pk_toggle_result_get_old_ip        (PkToggleResult *self);
PK_AVAILABLE_IN_ALL
const char   *pk_toggle_result_get_new_ip        (PkToggleResult *self);
PK_AVAILABLE_IN_ALL
const char   *pk_toggle_result_get_method        (PkToggleResult *self);
PK_AVAILABLE_IN_ALL
guint64       pk_toggle_result_get_duration_ms   (PkToggleResult *self);
PK_AVAILABLE_IN_ALL
gint64        pk_toggle_result_get_finished_at   (PkToggleResult *self);
PK_AVAILABLE_IN_ALL
guint         pk_toggle_result_get_attempts      (PkToggleResult *self);
PK_AVAILABLE_IN_ALL
gboolean      pk_toggle_result_get_escalated     (PkToggleResult *self);
PK_AVAILABLE_IN_ALL
guint         pk_toggle_result_get_n_steps       (PkToggleResult *self);
PK_AVAILABLE_IN_ALL
const char   *pk_toggle_result_get_step_name     (PkToggleResult *self,
                                                  guint           index);
PK_AVAILABLE_IN_ALL
const char   *pk_toggle_result_get_step_outcome  (PkToggleResult *self,
                                                  guint           index);
PK_AVAILABLE_IN_ALL
const char   *pk_toggle_result_get_step_detail   (PkToggleResult *self,
                                                  guint           index);
PK_AVAILABLE_IN_ALL
guint64       pk_toggle_result_get_step_duration_ms (PkToggleResult *self,
                                                     guint           index);
PK_AVAILABLE_IN_ALL
char         *pk_toggle_result_to_json           (PkToggleResult *self);
PK_AVAILABLE_IN_ALL
gboolean      pk_toggle_result_get_refused       (PkToggleResult *self);
PK_AVAILABLE_IN_ALL
const char   *pk_toggle_result_get_reason        (PkToggleResult *self);

PK_AVAILABLE_IN_ALL
const char   *pk_toggle_refusal_reason           (const GError   *error);
PK_AVAILABLE_IN_ALL
const char   *pk_toggle_failure_reason           (const GError   *error);

G_END_DECLS
