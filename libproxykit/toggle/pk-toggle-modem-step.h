/* pk-toggle-modem-step.h: the PkToggleStep that rotates the IP through the modem API
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__PROXYKIT_INSIDE__) && !defined(PROXYKIT_COMPILATION)
#error "Only <proxykit/proxykit.h> can be included directly."
#endif

#include <gio/gio.h>
#include "pk-version-macros.h"
#include "pk-config.h"
#include "pk-rotation.h"
#include "pk-toggle-step.h"

G_BEGIN_DECLS

#define PK_TYPE_TOGGLE_MODEM_STEP (pk_toggle_modem_step_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkToggleModemStep, pk_toggle_modem_step, PK, TOGGLE_MODEM_STEP, GObject)

PK_AVAILABLE_IN_ALL
PkToggleModemStep *pk_toggle_modem_step_new            (void);
PK_AVAILABLE_IN_ALL
PkToggleModemStep *pk_toggle_modem_step_new_from_config (PkConfig  *config,
                                                         GError   **error);
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

G_END_DECLS
