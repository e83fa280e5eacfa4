/* pk-modem.h: what any modem backend offers
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

/**
 * PkModemState:
 * @PK_MODEM_STATE_UNKNOWN: the modem reported a state not listed here
 * @PK_MODEM_STATE_CONNECTING: the data connection is being set up
 * @PK_MODEM_STATE_CONNECTED: the data connection is up
 * @PK_MODEM_STATE_DISCONNECTED: the data connection is down
 * @PK_MODEM_STATE_DISCONNECTING: the data connection is being taken down
 *
 * The state of a modem's mobile data connection.
 *
 * Since: 0.1
 */
typedef enum {
  PK_MODEM_STATE_UNKNOWN,
  PK_MODEM_STATE_CONNECTING,
  PK_MODEM_STATE_CONNECTED,
  PK_MODEM_STATE_DISCONNECTED,
  PK_MODEM_STATE_DISCONNECTING,
} PkModemState;

/**
 * PkModemNetworkMode:
 * @PK_MODEM_NETWORK_MODE_UNKNOWN: a mode not listed here
 * @PK_MODEM_NETWORK_MODE_AUTO: the modem picks the best network
 * @PK_MODEM_NETWORK_MODE_2G_ONLY: 2G only
 * @PK_MODEM_NETWORK_MODE_3G_ONLY: 3G only
 * @PK_MODEM_NETWORK_MODE_4G_ONLY: 4G only
 * @PK_MODEM_NETWORK_MODE_3G_2G: 3G, falling back to 2G
 * @PK_MODEM_NETWORK_MODE_4G_2G: 4G, falling back to 2G
 * @PK_MODEM_NETWORK_MODE_4G_3G: 4G, falling back to 3G
 *
 * The radio access technologies a modem may use.
 *
 * Since: 0.1
 */
typedef enum {
  PK_MODEM_NETWORK_MODE_UNKNOWN,
  PK_MODEM_NETWORK_MODE_AUTO,
  PK_MODEM_NETWORK_MODE_2G_ONLY,
  PK_MODEM_NETWORK_MODE_3G_ONLY,
  PK_MODEM_NETWORK_MODE_4G_ONLY,
  PK_MODEM_NETWORK_MODE_3G_2G,
  PK_MODEM_NETWORK_MODE_4G_2G,
  PK_MODEM_NETWORK_MODE_4G_3G,
} PkModemNetworkMode;

/**
 * PkModemTraffic:
 * @rx_bytes: bytes received in the current connection
 * @tx_bytes: bytes sent in the current connection
 * @rx_rate: current download rate, bytes per second
 * @tx_rate: current upload rate, bytes per second
 * @connect_time_s: how long the current connection has been up, seconds
 * @total_rx_bytes: bytes received since the counters were reset
 * @total_tx_bytes: bytes sent since the counters were reset
 *
 * Traffic counters of a modem. Fields the modem does not report are 0.
 *
 * Since: 0.1
 */
typedef struct {
  guint64 rx_bytes;
  guint64 tx_bytes;
  guint64 rx_rate;
  guint64 tx_rate;
  guint64 connect_time_s;
  guint64 total_rx_bytes;
  guint64 total_tx_bytes;
} PkModemTraffic;

#define PK_TYPE_MODEM (pk_modem_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_INTERFACE (PkModem, pk_modem, PK, MODEM, GObject)

/**
 * PkModemInterface:
 * @get_status_async: starts reading the connection state and WAN address
 * @get_status_finish: finishes @get_status_async
 * @get_device_info_async: starts reading the device information
 * @get_device_info_finish: finishes @get_device_info_async
 * @get_signal_async: starts reading the signal information
 * @get_signal_finish: finishes @get_signal_async
 * @get_traffic_async: starts reading the traffic counters
 * @get_traffic_finish: finishes @get_traffic_async
 * @get_data_enabled_async: starts reading the mobile data switch
 * @get_data_enabled_finish: finishes @get_data_enabled_async
 * @set_data_enabled_async: starts turning mobile data on or off
 * @set_data_enabled_finish: finishes @set_data_enabled_async
 * @get_network_mode_async: starts reading the network mode
 * @get_network_mode_finish: finishes @get_network_mode_async
 * @set_network_mode_async: starts changing the network mode
 * @set_network_mode_finish: finishes @set_network_mode_async
 * @reboot_async: starts a reboot of the modem
 * @reboot_finish: finishes @reboot_async
 *
 * The virtual methods of [iface@Modem]. Every method is asynchronous and
 * cancellable; backends bound every call by a timeout of their own.
 */
struct _PkModemInterface
{
  GTypeInterface g_iface;

  void        (*get_status_async)        (PkModem             *self,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data);
  gboolean    (*get_status_finish)       (PkModem             *self,
                                          GAsyncResult        *result,
                                          PkModemState        *out_state,
                                          char               **out_wan_ip,
                                          GError             **error);
  void        (*get_device_info_async)   (PkModem             *self,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data);
  GHashTable *(*get_device_info_finish)  (PkModem             *self,
                                          GAsyncResult        *result,
                                          GError             **error);
  void        (*get_signal_async)        (PkModem             *self,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data);
  GHashTable *(*get_signal_finish)       (PkModem             *self,
                                          GAsyncResult        *result,
                                          GError             **error);
  void        (*get_traffic_async)       (PkModem             *self,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data);
  gboolean    (*get_traffic_finish)      (PkModem             *self,
                                          GAsyncResult        *result,
                                          PkModemTraffic      *out_traffic,
                                          GError             **error);
  void        (*get_data_enabled_async)  (PkModem             *self,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data);
  gboolean    (*get_data_enabled_finish) (PkModem             *self,
                                          GAsyncResult        *result,
                                          gboolean            *out_enabled,
                                          GError             **error);
  void        (*set_data_enabled_async)  (PkModem             *self,
                                          gboolean             enabled,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data);
  gboolean    (*set_data_enabled_finish) (PkModem             *self,
                                          GAsyncResult        *result,
                                          GError             **error);
  void        (*get_network_mode_async)  (PkModem             *self,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data);
  gboolean    (*get_network_mode_finish) (PkModem             *self,
                                          GAsyncResult        *result,
                                          PkModemNetworkMode  *out_mode,
                                          GError             **error);
  void        (*set_network_mode_async)  (PkModem             *self,
                                          PkModemNetworkMode   mode,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data);
  gboolean    (*set_network_mode_finish) (PkModem             *self,
                                          GAsyncResult        *result,
                                          GError             **error);
  void        (*reboot_async)            (PkModem             *self,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data);
  gboolean    (*reboot_finish)           (PkModem             *self,
                                          GAsyncResult        *result,
                                          GError             **error);

  /*< private >*/
  gpointer padding[8];
};

PK_AVAILABLE_IN_ALL
void        pk_modem_get_status_async        (PkModem             *self,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
PK_AVAILABLE_IN_ALL
gboolean    pk_modem_get_status_finish       (PkModem             *self,
                                              GAsyncResult        *result,
                                              PkModemState        *out_state,
                                              char               **out_wan_ip,
                                              GError             **error);
PK_AVAILABLE_IN_ALL
void        pk_modem_get_device_info_async   (PkModem             *self,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
PK_AVAILABLE_IN_ALL
GHashTable *pk_modem_get_device_info_finish  (PkModem             *self,
                                              GAsyncResult        *result,
                                              GError             **error);
PK_AVAILABLE_IN_ALL
void        pk_modem_get_signal_async        (PkModem             *self,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
PK_AVAILABLE_IN_ALL
GHashTable *pk_modem_get_signal_finish       (PkModem             *self,
                                              GAsyncResult        *result,
                                              GError             **error);
PK_AVAILABLE_IN_ALL
void        pk_modem_get_traffic_async       (PkModem             *self,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
PK_AVAILABLE_IN_ALL
gboolean    pk_modem_get_traffic_finish      (PkModem             *self,
                                              GAsyncResult        *result,
                                              PkModemTraffic      *out_traffic,
                                              GError             **error);
PK_AVAILABLE_IN_ALL
void        pk_modem_get_data_enabled_async  (PkModem             *self,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
PK_AVAILABLE_IN_ALL
gboolean    pk_modem_get_data_enabled_finish (PkModem             *self,
                                              GAsyncResult        *result,
                                              gboolean            *out_enabled,
                                              GError             **error);
PK_AVAILABLE_IN_ALL
void        pk_modem_set_data_enabled_async  (PkModem             *self,
                                              gboolean             enabled,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
PK_AVAILABLE_IN_ALL
gboolean    pk_modem_set_data_enabled_finish (PkModem             *self,
                                              GAsyncResult        *result,
                                              GError             **error);
PK_AVAILABLE_IN_ALL
void        pk_modem_get_network_mode_async  (PkModem             *self,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
PK_AVAILABLE_IN_ALL
gboolean    pk_modem_get_network_mode_finish (PkModem             *self,
                                              GAsyncResult        *result,
                                              PkModemNetworkMode  *out_mode,
                                              GError             **error);
PK_AVAILABLE_IN_ALL
void        pk_modem_set_network_mode_async  (PkModem             *self,
                                              PkModemNetworkMode   mode,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
PK_AVAILABLE_IN_ALL
gboolean    pk_modem_set_network_mode_finish (PkModem             *self,
                                              GAsyncResult        *result,
                                              GError             **error);
PK_AVAILABLE_IN_ALL
void        pk_modem_reboot_async            (PkModem             *self,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
PK_AVAILABLE_IN_ALL
gboolean    pk_modem_reboot_finish           (PkModem             *self,
                                              GAsyncResult        *result,
                                              GError             **error);

PK_AVAILABLE_IN_ALL
const char *pk_modem_state_to_string         (PkModemState         state);
PK_AVAILABLE_IN_ALL
const char *pk_modem_network_mode_to_string  (PkModemNetworkMode   mode);

G_END_DECLS
