/* pk-toggle.h: one dongle's "get me a new IP", with locks and limits
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__PROXYKIT_INSIDE__) && !defined(PROXYKIT_COMPILATION)
#error "Only <proxykit/proxykit.h> can be included directly."
#endif

#include <gio/gio.h>
#include "pk-version-macros.h"
#include "pk-modem.h"
#include "pk-rotation.h"
#include "pk-routing.h"
#include "pk-toggle-limiter.h"
#include "pk-toggle-result.h"
#include "pk-toggle-step.h"

G_BEGIN_DECLS

/**
 * PK_TOGGLE_DEFAULT_COOLDOWN_MS:
 *
 * The default pause a dongle gets after a toggle before the next one.
 *
 * Since: 0.1
 */
#define PK_TOGGLE_DEFAULT_COOLDOWN_MS 15000

/**
 * PK_TOGGLE_DEFAULT_MAX_CONCURRENT:
 *
 * The default number of toggles that may run at once on one host.
 *
 * Since: 0.1
 */
#define PK_TOGGLE_DEFAULT_MAX_CONCURRENT 3

/**
 * PK_TOGGLE_DEFAULT_MAX_RECOVERIES:
 *
 * The number of recoveries that may run at once on one host, as the
 * farms' own tools allow.
 *
 * Since: 0.2
 */
#define PK_TOGGLE_DEFAULT_MAX_RECOVERIES 2

/**
 * PK_TOGGLE_DEFAULT_RECOVERY_COOLDOWN_MS:
 *
 * The default pause after a recovery of a dongle before its next one.
 *
 * Since: 0.2
 */
#define PK_TOGGLE_DEFAULT_RECOVERY_COOLDOWN_MS 180000

#define PK_TYPE_TOGGLE (pk_toggle_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkToggle, pk_toggle, PK, TOGGLE, GObject)

PK_AVAILABLE_IN_ALL
PkToggle         *pk_toggle_new                (guint             id,
                                                PkModem          *modem,
                                                PkToggleLimiter  *limiter);
PK_AVAILABLE_IN_ALL
guint             pk_toggle_get_id             (PkToggle         *self);
PK_AVAILABLE_IN_ALL
PkModem          *pk_toggle_get_modem          (PkToggle         *self);
PK_AVAILABLE_IN_ALL
PkToggleLimiter  *pk_toggle_get_limiter        (PkToggle         *self);
PK_AVAILABLE_IN_ALL
void              pk_toggle_add_step           (PkToggle         *self,
                                                PkToggleStep     *step);
PK_AVAILABLE_IN_ALL
guint             pk_toggle_get_n_steps        (PkToggle         *self);
PK_AVAILABLE_IN_ALL
guint             pk_toggle_get_cooldown       (PkToggle         *self);
PK_AVAILABLE_IN_ALL
void              pk_toggle_set_cooldown       (PkToggle         *self,
                                                guint             cooldown_ms);
PK_AVAILABLE_IN_ALL
const char       *pk_toggle_get_state_dir      (PkToggle         *self);
PK_AVAILABLE_IN_ALL
void              pk_toggle_set_state_dir      (PkToggle         *self,
                                                const char       *state_dir);
PK_AVAILABLE_IN_ALL
gboolean          pk_toggle_is_running         (PkToggle         *self);
PK_AVAILABLE_IN_ALL
guint             pk_toggle_get_cooldown_remaining (PkToggle     *self);
PK_AVAILABLE_IN_ALL
PkToggleResult   *pk_toggle_get_last_result    (PkToggle         *self);

PK_AVAILABLE_IN_ALL
PkRouting        *pk_toggle_get_routing        (PkToggle         *self);
PK_AVAILABLE_IN_ALL
void              pk_toggle_set_routing        (PkToggle         *self,
                                                PkRouting        *routing);

PK_AVAILABLE_IN_ALL
void              pk_toggle_set_max_stage      (PkToggle         *self,
                                                const char       *name);
PK_AVAILABLE_IN_ALL
void              pk_toggle_set_max_recoveries (PkToggle         *self,
                                                guint             max_recoveries);
PK_AVAILABLE_IN_ALL
void              pk_toggle_set_recovery_cooldown (PkToggle      *self,
                                                   guint          cooldown_ms);

/* During a run, for the steps: */
PK_AVAILABLE_IN_ALL
const char       *pk_toggle_get_old_ip         (PkToggle         *self);
PK_AVAILABLE_IN_ALL
PkRotationMethod  pk_toggle_get_method         (PkToggle         *self);

PK_AVAILABLE_IN_ALL
void              pk_toggle_diagnose_async     (PkToggle            *self,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
PK_AVAILABLE_IN_ALL
gboolean          pk_toggle_diagnose_finish    (PkToggle         *self,
                                                GAsyncResult     *result,
                                                gboolean         *healthy,
                                                char            **detail,
                                                GError          **error);

PK_AVAILABLE_IN_ALL
void              pk_toggle_run_async          (PkToggle            *self,
                                                PkRotationMethod     method,
                                                gboolean             recovery,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
PK_AVAILABLE_IN_ALL
PkToggleResult   *pk_toggle_run_finish         (PkToggle         *self,
                                                GAsyncResult     *result,
                                                GError          **error);

G_END_DECLS
