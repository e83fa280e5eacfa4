/* pk-port-power.h: a dongle's hub port on, off or cycled, under the dongle's lock
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__PROXYKIT_INSIDE__) && !defined(PROXYKIT_COMPILATION)
#error "Only <proxykit/proxykit.h> can be included directly."
#endif

#include <gio/gio.h>
#include "pk-version-macros.h"
#include "pk-usb-map.h"

G_BEGIN_DECLS

/**
 * PkPortPowerAction:
 * @PK_PORT_POWER_ON: switch the port on
 * @PK_PORT_POWER_OFF: switch the port off
 * @PK_PORT_POWER_CYCLE: off, a pause ([method@PortPower.set_off_time]), on
 *
 * What [method@PortPower.run_async] does to the port.
 *
 * Since: 0.2
 */
typedef enum {
  PK_PORT_POWER_ON,
  PK_PORT_POWER_OFF,
  PK_PORT_POWER_CYCLE,
} PkPortPowerAction;

PK_AVAILABLE_IN_ALL
const char *pk_port_power_action_to_string   (PkPortPowerAction  action);
PK_AVAILABLE_IN_ALL
gboolean    pk_port_power_action_from_string (const char        *name,
                                              PkPortPowerAction *out_action);

#define PK_TYPE_PORT_POWER (pk_port_power_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkPortPower, pk_port_power, PK, PORT_POWER, GObject)

PK_AVAILABLE_IN_ALL
PkPortPower   *pk_port_power_new            (PkUsbMapEntry       *entry);
PK_AVAILABLE_IN_ALL
PkUsbMapEntry *pk_port_power_get_entry      (PkPortPower         *self);
PK_AVAILABLE_IN_ALL
void           pk_port_power_set_state_dir  (PkPortPower         *self,
                                             const char          *state_dir);
PK_AVAILABLE_IN_ALL
void           pk_port_power_set_off_time   (PkPortPower         *self,
                                             guint                off_ms);
PK_AVAILABLE_IN_ALL
void           pk_port_power_run_async      (PkPortPower         *self,
                                             PkPortPowerAction    action,
                                             GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data);
PK_AVAILABLE_IN_ALL
gboolean       pk_port_power_run_finish     (PkPortPower         *self,
                                             GAsyncResult        *result,
                                             GError             **error);
PK_AVAILABLE_IN_ALL
const GError  *pk_port_power_get_error      (PkPortPower         *self);

PK_AVAILABLE_IN_ALL
void           pk_port_power_run_all_async  (PkPortPower        **powers,
                                             guint                n_powers,
                                             PkPortPowerAction    action,
                                             GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data);
PK_AVAILABLE_IN_ALL
gboolean       pk_port_power_run_all_finish (GAsyncResult        *result,
                                             GError             **error);

G_END_DECLS
