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

typedef struct _PkToggle PkToggle;

/* --- PkToggleStep --- */

#define PK_TYPE_TOGGLE_STEP (pk_toggle_step_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_INTERFACE (PkToggleStep, pk_toggle_step, PK, TOGGLE_STEP, GObject)

/**
 * PkToggleStepInterface:
 * @get_name: returns the step's short name, e.g. `modem`
 * @run_async: starts the step on the dongle of @toggle
 * @run_finish: finishes @run_async; returns %TRUE if the step did its
 *   work (the toggle then checks the IP), with a one-line @out_detail
 *
 * One thing a [class@Toggle] can do to get a dongle a new IP: a modem
 * rotation today; a routing reset, a USB rebind or a port power cycle
 * later. Steps read what they need from the toggle
 * ([method@Toggle.get_modem], [method@Toggle.get_old_ip],
 * [method@Toggle.get_method]).
 */
struct _PkToggleStepInterface
{
  GTypeInterface g_iface;

  const char *(*get_name)   (PkToggleStep        *self);
  void        (*run_async)  (PkToggleStep        *self,
                             PkToggle            *toggle,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data);
  gboolean    (*run_finish) (PkToggleStep        *self,
                             GAsyncResult        *result,
                             char               **out_detail,
                             GError             **error);

  /*< private >*/
  gpointer padding[8];
};

PK_AVAILABLE_IN_ALL
const char *pk_toggle_step_get_name   (PkToggleStep        *self);
PK_AVAILABLE_IN_ALL
void        pk_toggle_step_run_async  (PkToggleStep        *self,
                                       PkToggle            *toggle,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data);
PK_AVAILABLE_IN_ALL
gboolean    pk_toggle_step_run_finish (PkToggleStep        *self,
                                       GAsyncResult        *result,
                                       char               **out_detail,
                                       GError             **error);

/* --- PkToggleModemStep --- */

#define PK_TYPE_TOGGLE_MODEM_STEP (pk_toggle_modem_step_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkToggleModemStep, pk_toggle_modem_step, PK, TOGGLE_MODEM_STEP, GObject)

PK_AVAILABLE_IN_ALL
PkToggleModemStep *pk_toggle_modem_step_new            (void);
PK_AVAILABLE_IN_ALL
gboolean           pk_toggle_modem_step_set_escalation (PkToggleModemStep *self,
                                                        const char        *order,
                                                        GError           **error);
PK_AVAILABLE_IN_ALL
void               pk_toggle_modem_step_set_timing     (PkToggleModemStep *self,
                                                        guint              settle_ms,
                                                        guint              poll_interval_ms,
                                                        guint              timeout_ms);
PK_AVAILABLE_IN_ALL
void               pk_toggle_modem_step_set_unchanged_polls (PkToggleModemStep *self,
                                                             guint              n_polls);
PK_AVAILABLE_IN_ALL
PkRotation        *pk_toggle_modem_step_get_last_rotation (PkToggleModemStep *self);

/* --- PkToggleLimiter --- */

#define PK_TYPE_TOGGLE_LIMITER (pk_toggle_limiter_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkToggleLimiter, pk_toggle_limiter, PK, TOGGLE_LIMITER, GObject)

PK_AVAILABLE_IN_ALL
PkToggleLimiter *pk_toggle_limiter_new         (guint            max_concurrent);
PK_AVAILABLE_IN_ALL
guint            pk_toggle_limiter_get_max     (PkToggleLimiter *self);
PK_AVAILABLE_IN_ALL
guint            pk_toggle_limiter_get_running (PkToggleLimiter *self);

/* --- PkToggleResult --- */

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

/* --- PkToggle --- */

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
