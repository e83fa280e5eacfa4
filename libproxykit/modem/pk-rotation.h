/* pk-rotation.h: getting a new mobile IP from a modem
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

G_BEGIN_DECLS

/**
 * PkRotationMethod:
 * @PK_ROTATION_METHOD_DATA: mobile data off, a pause, on again
 * @PK_ROTATION_METHOD_NETMODE: the network mode to 3G, a pause, back to
 *   the previous mode
 * @PK_ROTATION_METHOD_REBOOT: reboot the modem
 *
 * How a [class@Rotation] asks the modem for a new IP, from the gentlest
 * to the slowest.
 *
 * Since: 0.1
 */
typedef enum {
  PK_ROTATION_METHOD_DATA,
  PK_ROTATION_METHOD_NETMODE,
  PK_ROTATION_METHOD_REBOOT,
} PkRotationMethod;

/**
 * PkRotationOutcome:
 * @PK_ROTATION_OUTCOME_CHANGED: the modem came back with a new IP
 * @PK_ROTATION_OUTCOME_UNCHANGED: the modem came back with the same IP
 * @PK_ROTATION_OUTCOME_TIMED_OUT: the modem did not come back connected in time
 * @PK_ROTATION_OUTCOME_FAILED: the modem refused or failed a request
 *
 * What one attempt of a [class@Rotation] led to.
 *
 * Since: 0.1
 */
typedef enum {
  PK_ROTATION_OUTCOME_CHANGED,
  PK_ROTATION_OUTCOME_UNCHANGED,
  PK_ROTATION_OUTCOME_TIMED_OUT,
  PK_ROTATION_OUTCOME_FAILED,
} PkRotationOutcome;

/**
 * PK_ROTATION_DEFAULT_ESCALATION:
 *
 * The default escalation order.
 *
 * Since: 0.1
 */
#define PK_ROTATION_DEFAULT_ESCALATION "data,netmode,reboot"

#define PK_TYPE_ROTATION (pk_rotation_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkRotation, pk_rotation, PK, ROTATION, GObject)

PK_AVAILABLE_IN_ALL
PkRotation       *pk_rotation_new                  (PkModem           *modem,
                                                    PkRotationMethod   method);
PK_AVAILABLE_IN_ALL
PkModem          *pk_rotation_get_modem            (PkRotation        *self);
PK_AVAILABLE_IN_ALL
PkRotationMethod  pk_rotation_get_method           (PkRotation        *self);
PK_AVAILABLE_IN_ALL
gboolean          pk_rotation_set_escalation       (PkRotation        *self,
                                                    const char        *order,
                                                    GError           **error);
PK_AVAILABLE_IN_ALL
char             *pk_rotation_dup_escalation       (PkRotation        *self);
PK_AVAILABLE_IN_ALL
void              pk_rotation_set_timing           (PkRotation        *self,
                                                    guint              settle_ms,
                                                    guint              poll_interval_ms,
                                                    guint              timeout_ms);
PK_AVAILABLE_IN_ALL
void              pk_rotation_set_unchanged_polls  (PkRotation        *self,
                                                    guint              n_polls);

PK_AVAILABLE_IN_ALL
void              pk_rotation_run_async            (PkRotation          *self,
                                                    GCancellable        *cancellable,
                                                    GAsyncReadyCallback  callback,
                                                    gpointer             user_data);
PK_AVAILABLE_IN_ALL
gboolean          pk_rotation_run_finish           (PkRotation        *self,
                                                    GAsyncResult      *result,
                                                    GError           **error);

PK_AVAILABLE_IN_ALL
const char       *pk_rotation_get_old_ip           (PkRotation        *self);
PK_AVAILABLE_IN_ALL
const char       *pk_rotation_get_new_ip           (PkRotation        *self);
PK_AVAILABLE_IN_ALL
PkRotationMethod  pk_rotation_get_final_method     (PkRotation        *self);
PK_AVAILABLE_IN_ALL
guint64           pk_rotation_get_duration_ms      (PkRotation        *self);
PK_AVAILABLE_IN_ALL
gboolean          pk_rotation_get_escalated        (PkRotation        *self);
PK_AVAILABLE_IN_ALL
guint             pk_rotation_get_n_attempts       (PkRotation        *self);
PK_AVAILABLE_IN_ALL
PkRotationMethod  pk_rotation_get_attempt_method   (PkRotation        *self,
                                                    guint              index);
PK_AVAILABLE_IN_ALL
PkRotationOutcome pk_rotation_get_attempt_outcome  (PkRotation        *self,
                                                    guint              index);
PK_AVAILABLE_IN_ALL
const char       *pk_rotation_get_attempt_message  (PkRotation        *self,
                                                    guint              index);
PK_AVAILABLE_IN_ALL
guint64           pk_rotation_get_attempt_duration_ms (PkRotation     *self,
                                                       guint           index);

PK_AVAILABLE_IN_ALL
const char       *pk_rotation_method_to_string     (PkRotationMethod   method);
PK_AVAILABLE_IN_ALL
gboolean          pk_rotation_method_from_string   (const char        *str,
                                                    PkRotationMethod  *out_method);
PK_AVAILABLE_IN_ALL
const char       *pk_rotation_outcome_to_string    (PkRotationOutcome  outcome);

G_END_DECLS
