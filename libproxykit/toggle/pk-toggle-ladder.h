/* pk-toggle-ladder.h: the rungs past the modem: routing, USB rebind, port and hub power
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
#include "pk-dongle.h"
#include "pk-routing.h"
#include "pk-toggle.h"
#include "pk-toggle-step.h"

G_BEGIN_DECLS

/**
 * PK_TOGGLE_USB_DEFAULT_WAIT_MS:
 *
 * How long a USB rebind waits for the interface and its address.
 *
 * Since: 0.2
 */
#define PK_TOGGLE_USB_DEFAULT_WAIT_MS 15000

/**
 * PK_TOGGLE_POWER_DEFAULT_OFF_MS:
 *
 * How long a port power cycle keeps the port off.
 *
 * Since: 0.2
 */
#define PK_TOGGLE_POWER_DEFAULT_OFF_MS 5000

/**
 * PK_TOGGLE_POWER_DEFAULT_WAIT_MS:
 *
 * How long a port power cycle waits for the interface and its address.
 *
 * Since: 0.2
 */
#define PK_TOGGLE_POWER_DEFAULT_WAIT_MS 60000

PK_AVAILABLE_IN_ALL
const char * const *pk_toggle_ladder_get_stages (void);

/* --- PkToggleRoutingStep --- */

#define PK_TYPE_TOGGLE_ROUTING_STEP (pk_toggle_routing_step_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkToggleRoutingStep, pk_toggle_routing_step, PK, TOGGLE_ROUTING_STEP, GObject)

PK_AVAILABLE_IN_ALL
PkToggleRoutingStep *pk_toggle_routing_step_new (PkRouting *routing);

/* --- PkToggleUsbStep --- */

#define PK_TYPE_TOGGLE_USB_STEP (pk_toggle_usb_step_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkToggleUsbStep, pk_toggle_usb_step, PK, TOGGLE_USB_STEP, GObject)

PK_AVAILABLE_IN_ALL
PkToggleUsbStep *pk_toggle_usb_step_new        (PkDongle        *dongle);
PK_AVAILABLE_IN_ALL
void             pk_toggle_usb_step_set_timing (PkToggleUsbStep *self,
                                                guint            off_ms,
                                                guint            wait_ms);

/* --- PkTogglePowerStep --- */

#define PK_TYPE_TOGGLE_POWER_STEP (pk_toggle_power_step_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkTogglePowerStep, pk_toggle_power_step, PK, TOGGLE_POWER_STEP, GObject)

PK_AVAILABLE_IN_ALL
PkTogglePowerStep *pk_toggle_power_step_new        (PkDongle          *dongle,
                                                    gboolean           whole_hub);
PK_AVAILABLE_IN_ALL
void               pk_toggle_power_step_set_timing (PkTogglePowerStep *self,
                                                    guint              off_ms,
                                                    guint              wait_ms);

/* --- PkToggleLadderSettings --- */

typedef struct _PkToggleLadderSettings PkToggleLadderSettings;

#define PK_TYPE_TOGGLE_LADDER_SETTINGS (pk_toggle_ladder_settings_get_type ())
PK_AVAILABLE_IN_ALL
GType                   pk_toggle_ladder_settings_get_type        (void) G_GNUC_CONST;
PK_AVAILABLE_IN_ALL
PkToggleLadderSettings *pk_toggle_ladder_settings_new             (void);
PK_AVAILABLE_IN_ALL
PkToggleLadderSettings *pk_toggle_ladder_settings_new_from_config (PkConfig  *config,
                                                                   GError   **error);
PK_AVAILABLE_IN_ALL
PkToggleLadderSettings *pk_toggle_ladder_settings_ref             (PkToggleLadderSettings *self);
PK_AVAILABLE_IN_ALL
void                    pk_toggle_ladder_settings_unref           (PkToggleLadderSettings *self);
PK_AVAILABLE_IN_ALL
const char             *pk_toggle_ladder_settings_get_max_stage   (PkToggleLadderSettings *self);
PK_AVAILABLE_IN_ALL
const char             *pk_toggle_ladder_settings_get_state_dir   (PkToggleLadderSettings *self);
PK_AVAILABLE_IN_ALL
void                    pk_toggle_ladder_settings_set_state_dir   (PkToggleLadderSettings *self,
                                                                   const char             *state_dir);
PK_AVAILABLE_IN_ALL
guint                   pk_toggle_ladder_settings_get_max_recoveries (PkToggleLadderSettings *self);
PK_AVAILABLE_IN_ALL
void                    pk_toggle_ladder_settings_set_max_recoveries (PkToggleLadderSettings *self,
                                                                      guint                   max_recoveries);
PK_AVAILABLE_IN_ALL
guint                   pk_toggle_ladder_settings_get_recovery_cooldown (PkToggleLadderSettings *self);
PK_AVAILABLE_IN_ALL
void                    pk_toggle_ladder_settings_set_recovery_cooldown (PkToggleLadderSettings *self,
                                                                         guint                   cooldown_ms);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PkToggleLadderSettings, pk_toggle_ladder_settings_unref)

PK_AVAILABLE_IN_ALL
void                    pk_toggle_add_ladder          (PkToggle               *self,
                                                       PkDongle               *dongle,
                                                       PkToggleStep           *modem_step,
                                                       PkToggleLadderSettings *settings,
                                                       const char             *first,
                                                       const char             *last);
PK_AVAILABLE_IN_ALL
void                    pk_toggle_add_recovery_ladder (PkToggle               *self,
                                                       PkDongle               *dongle,
                                                       PkToggleStep           *modem_step,
                                                       PkToggleLadderSettings *settings);

G_END_DECLS
