/* pk-modem.c: what any modem backend offers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkModem:
 *
 * The interface of a modem backend: connection state and WAN address,
 * signal, device information, traffic counters, the mobile data switch,
 * the network mode and reboot. Every method is asynchronous, cancellable
 * and bounded by the backend's timeout. [class@HilinkModem] implements it
 * for Huawei HiLink devices; [class@Rotation] and [class@Toggle] work on
 * any implementation.
 *
 * ```c
 * static void
 * on_status (GObject *source, GAsyncResult *result, gpointer user_data)
 * {
 *   g_autoptr(GError) error = NULL;
 *   g_autofree char *wan_ip = NULL;
 *   PkModemState state;
 *
 *   if (!pk_modem_get_status_finish (PK_MODEM (source), result, &state, &wan_ip, &error))
 *     g_warning ("%s", error->message);
 *   else
 *     g_print ("%s %s\n", pk_modem_state_to_string (state), wan_ip);
 * }
 *
 * pk_modem_get_status_async (modem, NULL, on_status, NULL);
 * ```
 *
 * Since: 0.1
 */

#include "config.h"

#include "pk-modem.h"

G_DEFINE_INTERFACE (PkModem, pk_modem, G_TYPE_OBJECT)

static void
pk_modem_default_init (PkModemInterface *iface)
{
}

/**
 * pk_modem_get_status_async:
 * @self: a [iface@Modem]
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Reads the state of the data connection and the WAN address.
 *
 * Since: 0.1
 */
void
pk_modem_get_status_async (PkModem             *self,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_return_if_fail (PK_IS_MODEM (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  PK_MODEM_GET_IFACE (self)->get_status_async (self, cancellable, callback, user_data);
}

/**
 * pk_modem_get_status_finish:
 * @self: a [iface@Modem]
 * @result: the `GAsyncResult`
 * @out_state: (out) (optional): return location for the state
 * @out_wan_ip: (out) (optional) (transfer full) (nullable): return location for the WAN IP address, %NULL when there is none
 * @error: return location for a `GError`
 *
 * Finishes [method@Modem.get_status_async].
 *
 * Returns: %TRUE on success, or %FALSE with @error set
 *
 * Since: 0.1
 */
gboolean
pk_modem_get_status_finish (PkModem       *self,
                            GAsyncResult  *result,
                            PkModemState  *out_state,
                            char         **out_wan_ip,
                            GError       **error)
{
  g_return_val_if_fail (PK_IS_MODEM (self), FALSE);
  g_return_val_if_fail (G_IS_ASYNC_RESULT (result), FALSE);

  return PK_MODEM_GET_IFACE (self)->get_status_finish (self, result, out_state, out_wan_ip, error);
}

/**
 * pk_modem_get_device_info_async:
 * @self: a [iface@Modem]
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Reads the device information.
 *
 * Since: 0.1
 */
void
pk_modem_get_device_info_async (PkModem             *self,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_return_if_fail (PK_IS_MODEM (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  PK_MODEM_GET_IFACE (self)->get_device_info_async (self, cancellable, callback, user_data);
}

/**
 * pk_modem_get_device_info_finish:
 * @self: a [iface@Modem]
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Finishes [method@Modem.get_device_info_async].
 *
 * Returns: (transfer full) (element-type utf8 utf8): the information by key (`device-name`, `imei`, `imsi`, `iccid`, `serial-number`, `hardware-version`, `software-version`, `mac-address`, `msisdn`, plus backend-specific keys), or %NULL with @error set
 *
 * Since: 0.1
 */
GHashTable *
pk_modem_get_device_info_finish (PkModem       *self,
                                 GAsyncResult  *result,
                                 GError       **error)
{
  g_return_val_if_fail (PK_IS_MODEM (self), NULL);
  g_return_val_if_fail (G_IS_ASYNC_RESULT (result), NULL);

  return PK_MODEM_GET_IFACE (self)->get_device_info_finish (self, result, error);
}

/**
 * pk_modem_get_signal_async:
 * @self: a [iface@Modem]
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Reads the signal information.
 *
 * Since: 0.1
 */
void
pk_modem_get_signal_async (PkModem             *self,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_return_if_fail (PK_IS_MODEM (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  PK_MODEM_GET_IFACE (self)->get_signal_async (self, cancellable, callback, user_data);
}

/**
 * pk_modem_get_signal_finish:
 * @self: a [iface@Modem]
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Finishes [method@Modem.get_signal_async].
 *
 * Returns: (transfer full) (element-type utf8 utf8): the values by key (`rssi`, `rsrp`, `rsrq`, `sinr`, `rscp`, `ecio`, `cell-id`, `band`, `mode` where known; values are strings as the modem reports them, e.g. `-85dBm`), or %NULL with @error set
 *
 * Since: 0.1
 */
GHashTable *
pk_modem_get_signal_finish (PkModem       *self,
                            GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (PK_IS_MODEM (self), NULL);
  g_return_val_if_fail (G_IS_ASYNC_RESULT (result), NULL);

  return PK_MODEM_GET_IFACE (self)->get_signal_finish (self, result, error);
}

/**
 * pk_modem_get_traffic_async:
 * @self: a [iface@Modem]
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Reads the traffic counters.
 *
 * Since: 0.1
 */
void
pk_modem_get_traffic_async (PkModem             *self,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_return_if_fail (PK_IS_MODEM (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  PK_MODEM_GET_IFACE (self)->get_traffic_async (self, cancellable, callback, user_data);
}

/**
 * pk_modem_get_traffic_finish:
 * @self: a [iface@Modem]
 * @result: the `GAsyncResult`
 * @out_traffic: (out caller-allocates): return location for the counters
 * @error: return location for a `GError`
 *
 * Finishes [method@Modem.get_traffic_async].
 *
 * Returns: %TRUE on success, or %FALSE with @error set
 *
 * Since: 0.1
 */
gboolean
pk_modem_get_traffic_finish (PkModem       *self,
                             GAsyncResult  *result,
                             PkModemTraffic *out_traffic,
                             GError       **error)
{
  g_return_val_if_fail (PK_IS_MODEM (self), FALSE);
  g_return_val_if_fail (G_IS_ASYNC_RESULT (result), FALSE);

  return PK_MODEM_GET_IFACE (self)->get_traffic_finish (self, result, out_traffic, error);
}

/**
 * pk_modem_get_data_enabled_async:
 * @self: a [iface@Modem]
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Reads the mobile data switch.
 *
 * Since: 0.1
 */
void
pk_modem_get_data_enabled_async (PkModem             *self,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_return_if_fail (PK_IS_MODEM (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  PK_MODEM_GET_IFACE (self)->get_data_enabled_async (self, cancellable, callback, user_data);
}

/**
 * pk_modem_get_data_enabled_finish:
 * @self: a [iface@Modem]
 * @result: the `GAsyncResult`
 * @out_enabled: (out): return location for the switch
 * @error: return location for a `GError`
 *
 * Finishes [method@Modem.get_data_enabled_async].
 *
 * Returns: %TRUE on success, or %FALSE with @error set
 *
 * Since: 0.1
 */
gboolean
pk_modem_get_data_enabled_finish (PkModem       *self,
                                  GAsyncResult  *result,
                                  gboolean      *out_enabled,
                                  GError       **error)
{
  g_return_val_if_fail (PK_IS_MODEM (self), FALSE);
  g_return_val_if_fail (G_IS_ASYNC_RESULT (result), FALSE);

  return PK_MODEM_GET_IFACE (self)->get_data_enabled_finish (self, result, out_enabled, error);
}

/**
 * pk_modem_set_data_enabled_async:
 * @self: a [iface@Modem]
 * @enabled: %TRUE to turn mobile data on
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Turns mobile data on or off.
 *
 * Since: 0.1
 */
void
pk_modem_set_data_enabled_async (PkModem             *self,
                                 gboolean             enabled,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_return_if_fail (PK_IS_MODEM (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  PK_MODEM_GET_IFACE (self)->set_data_enabled_async (self, enabled, cancellable, callback, user_data);
}

/**
 * pk_modem_set_data_enabled_finish:
 * @self: a [iface@Modem]
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Finishes [method@Modem.set_data_enabled_async].
 *
 * Returns: %TRUE on success, or %FALSE with @error set
 *
 * Since: 0.1
 */
gboolean
pk_modem_set_data_enabled_finish (PkModem       *self,
                                  GAsyncResult  *result,
                                  GError       **error)
{
  g_return_val_if_fail (PK_IS_MODEM (self), FALSE);
  g_return_val_if_fail (G_IS_ASYNC_RESULT (result), FALSE);

  return PK_MODEM_GET_IFACE (self)->set_data_enabled_finish (self, result, error);
}

/**
 * pk_modem_get_network_mode_async:
 * @self: a [iface@Modem]
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Reads the network mode.
 *
 * Since: 0.1
 */
void
pk_modem_get_network_mode_async (PkModem             *self,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_return_if_fail (PK_IS_MODEM (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  PK_MODEM_GET_IFACE (self)->get_network_mode_async (self, cancellable, callback, user_data);
}

/**
 * pk_modem_get_network_mode_finish:
 * @self: a [iface@Modem]
 * @result: the `GAsyncResult`
 * @out_mode: (out): return location for the mode
 * @error: return location for a `GError`
 *
 * Finishes [method@Modem.get_network_mode_async].
 *
 * Returns: %TRUE on success, or %FALSE with @error set
 *
 * Since: 0.1
 */
gboolean
pk_modem_get_network_mode_finish (PkModem       *self,
                                  GAsyncResult  *result,
                                  PkModemNetworkMode *out_mode,
                                  GError       **error)
{
  g_return_val_if_fail (PK_IS_MODEM (self), FALSE);
  g_return_val_if_fail (G_IS_ASYNC_RESULT (result), FALSE);

  return PK_MODEM_GET_IFACE (self)->get_network_mode_finish (self, result, out_mode, error);
}

/**
 * pk_modem_set_network_mode_async:
 * @self: a [iface@Modem]
 * @mode: the new mode
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Changes the network mode. Backends keep the band settings they read last.
 *
 * Since: 0.1
 */
void
pk_modem_set_network_mode_async (PkModem             *self,
                                 PkModemNetworkMode   mode,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_return_if_fail (PK_IS_MODEM (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  PK_MODEM_GET_IFACE (self)->set_network_mode_async (self, mode, cancellable, callback, user_data);
}

/**
 * pk_modem_set_network_mode_finish:
 * @self: a [iface@Modem]
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Finishes [method@Modem.set_network_mode_async].
 *
 * Returns: %TRUE on success, or %FALSE with @error set
 *
 * Since: 0.1
 */
gboolean
pk_modem_set_network_mode_finish (PkModem       *self,
                                  GAsyncResult  *result,
                                  GError       **error)
{
  g_return_val_if_fail (PK_IS_MODEM (self), FALSE);
  g_return_val_if_fail (G_IS_ASYNC_RESULT (result), FALSE);

  return PK_MODEM_GET_IFACE (self)->set_network_mode_finish (self, result, error);
}

/**
 * pk_modem_reboot_async:
 * @self: a [iface@Modem]
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Reboots the modem. The call returns when the modem has accepted the request; the modem is unreachable for a while afterwards.
 *
 * Since: 0.1
 */
void
pk_modem_reboot_async (PkModem             *self,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  g_return_if_fail (PK_IS_MODEM (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  PK_MODEM_GET_IFACE (self)->reboot_async (self, cancellable, callback, user_data);
}

/**
 * pk_modem_reboot_finish:
 * @self: a [iface@Modem]
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Finishes [method@Modem.reboot_async].
 *
 * Returns: %TRUE on success, or %FALSE with @error set
 *
 * Since: 0.1
 */
gboolean
pk_modem_reboot_finish (PkModem       *self,
                        GAsyncResult  *result,
                        GError       **error)
{
  g_return_val_if_fail (PK_IS_MODEM (self), FALSE);
  g_return_val_if_fail (G_IS_ASYNC_RESULT (result), FALSE);

  return PK_MODEM_GET_IFACE (self)->reboot_finish (self, result, error);
}

/**
 * pk_modem_state_to_string:
 * @state: a [enum@ModemState]
 *
 * Gets a short lower-case name of @state, e.g. `connected`.
 *
 * Returns: a short lower-case name of @state, e.g. `connected`
 *
 * Since: 0.1
 */
const char *
pk_modem_state_to_string (PkModemState state)
{
  switch (state)
    {
    case PK_MODEM_STATE_CONNECTING: return "connecting";
    case PK_MODEM_STATE_CONNECTED: return "connected";
    case PK_MODEM_STATE_DISCONNECTED: return "disconnected";
    case PK_MODEM_STATE_DISCONNECTING: return "disconnecting";
    case PK_MODEM_STATE_UNKNOWN:
    default: return "unknown";
    }
}

/**
 * pk_modem_network_mode_to_string:
 * @mode: a [enum@ModemNetworkMode]
 *
 * Gets a short name of @mode, e.g. `4g-only`.
 *
 * Returns: a short name of @mode, e.g. `4g-only`
 *
 * Since: 0.1
 */
const char *
pk_modem_network_mode_to_string (PkModemNetworkMode mode)
{
  switch (mode)
    {
    case PK_MODEM_NETWORK_MODE_AUTO: return "auto";
    case PK_MODEM_NETWORK_MODE_2G_ONLY: return "2g-only";
    case PK_MODEM_NETWORK_MODE_3G_ONLY: return "3g-only";
    case PK_MODEM_NETWORK_MODE_4G_ONLY: return "4g-only";
    case PK_MODEM_NETWORK_MODE_3G_2G: return "3g-2g";
    case PK_MODEM_NETWORK_MODE_4G_2G: return "4g-2g";
    case PK_MODEM_NETWORK_MODE_4G_3G: return "4g-3g";
    case PK_MODEM_NETWORK_MODE_UNKNOWN:
    default: return "unknown";
    }
}
