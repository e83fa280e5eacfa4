/* _cdef.h: every C declaration the Python bindings use, in one place.
 *
 * This is cffi's cdef dialect, not C: "..." lets the compiler fill in
 * enum values and struct layouts (API mode), and extern "Python" declares
 * the callbacks that C calls back into Python through.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* --- GLib basics --- */
typedef int gint;
typedef unsigned int guint;
typedef int gboolean;
typedef char gchar;
typedef void *gpointer;
typedef uint16_t guint16;
typedef uint32_t guint32;
typedef int64_t gint64;
typedef uint64_t guint64;
typedef double gdouble;
typedef int... gssize;
typedef int... gsize;
typedef int... GType;
typedef uint32_t GQuark;

typedef struct {
  GQuark domain;
  gint code;
  gchar *message;
  ...;
} GError;

typedef struct _GList {
  gpointer data;
  struct _GList *next;
  struct _GList *prev;
} GList;

typedef ... GObject;
typedef ... GValue;
typedef ... GAsyncResult;
typedef ... GCancellable;
typedef ... GSocket;
typedef ... GSocketAddress;
typedef ... GInetAddress;

typedef void (*GAsyncReadyCallback) (GObject *source, GAsyncResult *res, gpointer user_data);
typedef void (*GDestroyNotify) (gpointer data);

typedef enum {
  G_SOCKET_FAMILY_INVALID,
  G_SOCKET_FAMILY_UNIX,
  G_SOCKET_FAMILY_IPV4,
  G_SOCKET_FAMILY_IPV6,
  ...
} GSocketFamily;

typedef enum {
  G_SOCKET_TYPE_INVALID,
  G_SOCKET_TYPE_STREAM,
  G_SOCKET_TYPE_DATAGRAM,
  G_SOCKET_TYPE_SEQPACKET,
  ...
} GSocketType;

typedef enum {
  G_IO_ERROR_FAILED,
  G_IO_ERROR_NOT_FOUND,
  G_IO_ERROR_EXISTS,
  G_IO_ERROR_PERMISSION_DENIED,
  G_IO_ERROR_INVALID_ARGUMENT,
  G_IO_ERROR_NOT_SUPPORTED,
  G_IO_ERROR_CANCELLED,
  G_IO_ERROR_BUSY,
  G_IO_ERROR_TIMED_OUT,
  G_IO_ERROR_HOST_NOT_FOUND,
  G_IO_ERROR_WOULD_BLOCK,
  G_IO_ERROR_ADDRESS_IN_USE,
  G_IO_ERROR_PARTIAL_INPUT,
  G_IO_ERROR_INVALID_DATA,
  G_IO_ERROR_HOST_UNREACHABLE,
  G_IO_ERROR_NETWORK_UNREACHABLE,
  G_IO_ERROR_CONNECTION_REFUSED,
  G_IO_ERROR_PROXY_FAILED,
  G_IO_ERROR_BROKEN_PIPE,
  G_IO_ERROR_CONNECTION_CLOSED,
  G_IO_ERROR_NOT_CONNECTED,
  G_IO_ERROR_MESSAGE_TOO_LARGE,
  ...
} GIOErrorEnum;

GQuark g_io_error_quark (void);
const gchar *g_quark_to_string (GQuark quark);
void g_error_free (GError *error);
void g_free (gpointer mem);
void g_strfreev (gchar **str_array);
void g_list_free (GList *list);

gpointer g_object_ref (gpointer object);
void g_object_unref (gpointer object);

GCancellable *g_cancellable_new (void);
void g_cancellable_cancel (GCancellable *cancellable);

int g_socket_get_fd (GSocket *socket);
GSocket *g_socket_new_from_fd (gint fd, GError **error);
GSocketAddress *g_inet_socket_address_new_from_string (const char *address, guint port);
gchar *g_inet_address_to_string (GInetAddress *address);

/* GValue access, for signal arguments */
gboolean g_value_get_boolean (const GValue *value);
gint g_value_get_int (const GValue *value);
guint g_value_get_uint (const GValue *value);
gint64 g_value_get_int64 (const GValue *value);
guint64 g_value_get_uint64 (const GValue *value);
gdouble g_value_get_double (const GValue *value);
gint g_value_get_enum (const GValue *value);
guint g_value_get_flags (const GValue *value);
const gchar *g_value_get_string (const GValue *value);
gpointer g_value_get_object (const GValue *value);

#define G_TYPE_BOOLEAN ...
#define G_TYPE_INT ...
#define G_TYPE_UINT ...
#define G_TYPE_INT64 ...
#define G_TYPE_UINT64 ...
#define G_TYPE_DOUBLE ...
#define G_TYPE_ENUM ...
#define G_TYPE_FLAGS ...
#define G_TYPE_STRING ...
#define G_TYPE_OBJECT ...

/* --- the shim (_shim.c): the loop thread and marshalling --- */
void pk_py_loop_init (void);
void pk_py_loop_run (void);
void pk_py_loop_quit (void);
gboolean pk_py_loop_is_running (void);
void pk_py_invoke (gsize id);
void pk_py_object_unref (gpointer object);
gpointer pk_py_track (gpointer object);
int pk_py_live_objects (void);
void pk_py_cancellable_unref (gpointer object);
gsize pk_py_value_fundamental (const GValue *value);
const GValue *pk_py_value_nth (const GValue *values, guint i);
unsigned long pk_py_signal_connect (gpointer instance, const char *signal, gsize id);
void pk_py_signal_disconnect (gpointer instance, unsigned long handler_id);
void pk_py_async_ready (GObject *source, GAsyncResult *res, gpointer user_data);

extern "Python" void _pk_py_invoke_cb (gsize id);
extern "Python" void _pk_py_async_ready_cb (GObject *source, GAsyncResult *res, gsize id);
extern "Python" void _pk_py_signal_cb (gsize id, guint n_values, const GValue *values);

/* --- version --- */
#define PK_MAJOR_VERSION ...
#define PK_MINOR_VERSION ...
#define PK_MICRO_VERSION ...
static const char *const PK_VERSION_S;

/* --- PkError --- */
typedef enum {
  PK_ERROR_FAILED,
  PK_ERROR_INVALID_ARGUMENT,
  PK_ERROR_CONFIG,
  PK_ERROR_PROTOCOL,
  PK_ERROR_AUTH_FAILED,
  PK_ERROR_NOT_ALLOWED,
  PK_ERROR_NOT_SUPPORTED,
  PK_ERROR_EGRESS,
  PK_ERROR_RESOLVE,
  PK_ERROR_BUSY,
  PK_ERROR_COOLDOWN,
  PK_ERROR_TUNNEL,
  PK_ERROR_MODEM,
  PK_ERROR_CHECK_FAILED,
  PK_ERROR_STATE,
  PK_ERROR_UNCHANGED,
  ...
} PkError;
GQuark pk_error_quark (void);

/* --- PkEgress --- */
typedef ... PkEgress;
PkEgress *pk_egress_new (void);
PkEgress *pk_egress_new_full (const char *address, const char *interface,
                              guint32 fwmark, guint ttl, GError **error);
const char *pk_egress_get_address (PkEgress *self);
gboolean pk_egress_set_address (PkEgress *self, const char *address, GError **error);
const char *pk_egress_get_interface (PkEgress *self);
void pk_egress_set_interface (PkEgress *self, const char *interface);
guint32 pk_egress_get_fwmark (PkEgress *self);
void pk_egress_set_fwmark (PkEgress *self, guint32 fwmark);
guint pk_egress_get_ttl (PkEgress *self);
void pk_egress_set_ttl (PkEgress *self, guint ttl);
const char * const *pk_egress_get_nameservers (PkEgress *self);
gboolean pk_egress_set_nameservers (PkEgress *self, const char * const *nameservers,
                                    GError **error);
gboolean pk_egress_is_default (PkEgress *self);
char *pk_egress_to_string (PkEgress *self);
gboolean pk_egress_prepare_socket (PkEgress *self, GSocket *socket, GError **error);
GSocket *pk_egress_create_socket (PkEgress *self, GSocketFamily family,
                                  GSocketType type, GError **error);
void pk_egress_resolve_async (PkEgress *self, const char *host, guint timeout_ms,
                              GCancellable *cancellable, GAsyncReadyCallback callback,
                              gpointer user_data);
GList *pk_egress_resolve_finish (PkEgress *self, GAsyncResult *result, GError **error);
void pk_egress_connect_async (PkEgress *self, GSocketAddress *address, guint timeout_ms,
                              GCancellable *cancellable, GAsyncReadyCallback callback,
                              gpointer user_data);
GSocket *pk_egress_connect_finish (PkEgress *self, GAsyncResult *result, GError **error);
void pk_egress_connect_to_host_async (PkEgress *self, const char *host, guint16 port,
                                      guint timeout_ms, GCancellable *cancellable,
                                      GAsyncReadyCallback callback, gpointer user_data);
GSocket *pk_egress_connect_to_host_finish (PkEgress *self, GAsyncResult *result,
                                           GError **error);

/* --- PkConfig --- */
typedef ... PkConfig;
PkConfig *pk_config_new (void);
gboolean pk_config_load_file (PkConfig *self, const char *path, GError **error);
gboolean pk_config_load_data (PkConfig *self, const char *data, gssize length,
                              const char *origin, GError **error);
gboolean pk_config_load_env_file (PkConfig *self, const char *path, GError **error);
void pk_config_set_environ (PkConfig *self, const char * const *envp);
const char *pk_config_getenv (PkConfig *self, const char *name);
const char *pk_config_get_origin (PkConfig *self);
char **pk_config_list_sections (PkConfig *self, const char *kind);
gboolean pk_config_has_section (PkConfig *self, const char *section);
gboolean pk_config_has_key (PkConfig *self, const char *section, const char *key);
char *pk_config_describe (PkConfig *self, const char *section, const char *key);
gboolean pk_config_check_keys (PkConfig *self, const char *section,
                               const char * const *known_keys, GError **error);
char *pk_config_dup_string (PkConfig *self, const char *section, const char *key,
                            const char *env_name, const char *default_value);
gboolean pk_config_get_uint (PkConfig *self, const char *section, const char *key,
                             const char *env_name, guint64 min, guint64 max,
                             guint64 default_value, guint64 *out_value, GError **error);
gboolean pk_config_get_duration_ms (PkConfig *self, const char *section, const char *key,
                                    const char *env_name, guint64 default_ms,
                                    guint64 *out_ms, GError **error);
gboolean pk_config_get_boolean (PkConfig *self, const char *section, const char *key,
                                const char *env_name, gboolean default_value,
                                gboolean *out_value, GError **error);
void pk_config_set_override (PkConfig *self, const char *section, const char *key,
                             const char *value, const char *origin);
void pk_config_set_override_list (PkConfig *self, const char *section, const char *key,
                                  const char * const *values, const char *origin);
gboolean pk_config_has_value (PkConfig *self, const char *section, const char *key,
                              const char *env_name);
char *pk_config_describe_value (PkConfig *self, const char *section, const char *key,
                                const char *env_name);
PkEgress *pk_egress_new_from_config (PkConfig *config, const char *section,
                                     const char *env_prefix, GError **error);

/* --- PkSocksServer --- */
typedef ... PkSocksServer;
PkSocksServer *pk_socks_server_new (void);
const char *pk_socks_server_get_name (PkSocksServer *self);
void pk_socks_server_set_name (PkSocksServer *self, const char *name);
PkEgress *pk_socks_server_get_egress (PkSocksServer *self);
void pk_socks_server_set_egress (PkSocksServer *self, PkEgress *egress);
guint pk_socks_server_get_handshake_timeout (PkSocksServer *self);
void pk_socks_server_set_handshake_timeout (PkSocksServer *self, guint timeout_ms);
guint pk_socks_server_get_connect_timeout (PkSocksServer *self);
void pk_socks_server_set_connect_timeout (PkSocksServer *self, guint timeout_ms);
guint pk_socks_server_get_resolve_timeout (PkSocksServer *self);
void pk_socks_server_set_resolve_timeout (PkSocksServer *self, guint timeout_ms);
guint pk_socks_server_get_idle_timeout (PkSocksServer *self);
void pk_socks_server_set_idle_timeout (PkSocksServer *self, guint timeout_ms);
guint pk_socks_server_get_udp_idle_timeout (PkSocksServer *self);
void pk_socks_server_set_udp_idle_timeout (PkSocksServer *self, guint timeout_ms);
guint pk_socks_server_get_max_sessions (PkSocksServer *self);
void pk_socks_server_set_max_sessions (PkSocksServer *self, guint max_sessions);
guint pk_socks_server_get_max_sessions_per_client (PkSocksServer *self);
void pk_socks_server_set_max_sessions_per_client (PkSocksServer *self, guint max_sessions);
const char *pk_socks_server_get_udp_advertise_address (PkSocksServer *self);
gboolean pk_socks_server_set_udp_advertise_address (PkSocksServer *self, const char *address,
                                                    GError **error);
gboolean pk_socks_server_get_allow_host_destinations (PkSocksServer *self);
void pk_socks_server_set_allow_host_destinations (PkSocksServer *self, gboolean allow);
gboolean pk_socks_server_set_users_file (PkSocksServer *self, const char *path, GError **error);
const char *pk_socks_server_get_users_file (PkSocksServer *self);
gboolean pk_socks_server_set_users (PkSocksServer *self, const char * const *users,
                                    GError **error);
gboolean pk_socks_server_get_auth_required (PkSocksServer *self);
gboolean pk_socks_server_set_allowlist (PkSocksServer *self, const char *cidrs, GError **error);
gboolean pk_socks_server_set_denylist (PkSocksServer *self, const char *cidrs, GError **error);
gboolean pk_socks_server_has_allowlist (PkSocksServer *self);
gboolean pk_socks_server_reload (PkSocksServer *self, GError **error);
gboolean pk_socks_server_listen (PkSocksServer *self, const char *address, GError **error);
gboolean pk_socks_server_add_socket (PkSocksServer *self, GSocket *socket, GError **error);
guint16 pk_socks_server_get_port (PkSocksServer *self);
char **pk_socks_server_dup_listen_addresses (PkSocksServer *self);
gboolean pk_socks_server_is_listening_on_loopback_only (PkSocksServer *self);
gboolean pk_socks_server_get_allow_open (PkSocksServer *self);
void pk_socks_server_set_allow_open (PkSocksServer *self, gboolean allow_open);
PkSocksServer *pk_socks_server_new_from_config (PkConfig *config, const char *name, GError **error);
char **pk_socks_server_dup_config_listen (PkConfig *config, const char *name, GError **error);
gboolean pk_socks_server_listen_from_config (PkSocksServer *self, PkConfig *config,
                                             const char *name, GError **error);
gboolean pk_socks_server_check_listen_from_config (PkSocksServer *self, PkConfig *config,
                                                   const char *name, GError **error);
gboolean pk_socks_server_reload_from_config (PkSocksServer *self, PkConfig *config,
                                             const char *name, GError **error);
void pk_socks_server_stop_async (PkSocksServer *self, guint drain_timeout_ms,
                                 GCancellable *cancellable, GAsyncReadyCallback callback,
                                 gpointer user_data);
gboolean pk_socks_server_stop_finish (PkSocksServer *self, GAsyncResult *result, GError **error);
void pk_socks_server_close (PkSocksServer *self);
guint pk_socks_server_get_sessions_active (PkSocksServer *self);
guint64 pk_socks_server_get_sessions_total (PkSocksServer *self);
guint64 pk_socks_server_get_bytes_up (PkSocksServer *self);
guint64 pk_socks_server_get_bytes_down (PkSocksServer *self);
char *pk_socks_server_dup_stats_json (PkSocksServer *self);

/* --- PkModem (interface) --- */
typedef ... GHashTable;
typedef struct { ...; } GHashTableIter;
void g_hash_table_iter_init (GHashTableIter *iter, GHashTable *hash_table);
gboolean g_hash_table_iter_next (GHashTableIter *iter, gpointer *key, gpointer *value);
void g_hash_table_unref (GHashTable *hash_table);

typedef enum {
  PK_MODEM_STATE_UNKNOWN,
  PK_MODEM_STATE_CONNECTING,
  PK_MODEM_STATE_CONNECTED,
  PK_MODEM_STATE_DISCONNECTED,
  PK_MODEM_STATE_DISCONNECTING,
  ...
} PkModemState;

typedef enum {
  PK_MODEM_NETWORK_MODE_UNKNOWN,
  PK_MODEM_NETWORK_MODE_AUTO,
  PK_MODEM_NETWORK_MODE_2G_ONLY,
  PK_MODEM_NETWORK_MODE_3G_ONLY,
  PK_MODEM_NETWORK_MODE_4G_ONLY,
  PK_MODEM_NETWORK_MODE_3G_2G,
  PK_MODEM_NETWORK_MODE_4G_2G,
  PK_MODEM_NETWORK_MODE_4G_3G,
  ...
} PkModemNetworkMode;

typedef struct {
  guint64 rx_bytes;
  guint64 tx_bytes;
  guint64 rx_rate;
  guint64 tx_rate;
  guint64 connect_time_s;
  guint64 total_rx_bytes;
  guint64 total_tx_bytes;
  ...;
} PkModemTraffic;

typedef ... PkModem;
void pk_modem_get_status_async (PkModem *self, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
gboolean pk_modem_get_status_finish (PkModem *self, GAsyncResult *result,
                                     PkModemState *out_state, char **out_wan_ip, GError **error);
void pk_modem_get_device_info_async (PkModem *self, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data);
GHashTable *pk_modem_get_device_info_finish (PkModem *self, GAsyncResult *result, GError **error);
void pk_modem_get_signal_async (PkModem *self, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
GHashTable *pk_modem_get_signal_finish (PkModem *self, GAsyncResult *result, GError **error);
void pk_modem_get_traffic_async (PkModem *self, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data);
gboolean pk_modem_get_traffic_finish (PkModem *self, GAsyncResult *result,
                                      PkModemTraffic *out_traffic, GError **error);
void pk_modem_get_data_enabled_async (PkModem *self, GCancellable *cancellable,
                                      GAsyncReadyCallback callback, gpointer user_data);
gboolean pk_modem_get_data_enabled_finish (PkModem *self, GAsyncResult *result,
                                           gboolean *out_enabled, GError **error);
void pk_modem_set_data_enabled_async (PkModem *self, gboolean enabled, GCancellable *cancellable,
                                      GAsyncReadyCallback callback, gpointer user_data);
gboolean pk_modem_set_data_enabled_finish (PkModem *self, GAsyncResult *result, GError **error);
void pk_modem_get_network_mode_async (PkModem *self, GCancellable *cancellable,
                                      GAsyncReadyCallback callback, gpointer user_data);
gboolean pk_modem_get_network_mode_finish (PkModem *self, GAsyncResult *result,
                                           PkModemNetworkMode *out_mode, GError **error);
void pk_modem_set_network_mode_async (PkModem *self, PkModemNetworkMode mode,
                                      GCancellable *cancellable, GAsyncReadyCallback callback,
                                      gpointer user_data);
gboolean pk_modem_set_network_mode_finish (PkModem *self, GAsyncResult *result, GError **error);
void pk_modem_reboot_async (PkModem *self, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data);
gboolean pk_modem_reboot_finish (PkModem *self, GAsyncResult *result, GError **error);
const char *pk_modem_state_to_string (PkModemState state);
const char *pk_modem_network_mode_to_string (PkModemNetworkMode mode);

/* --- PkHilinkModem (needs libsoup; _shim.c stubs it out without) --- */
typedef ... PkHilinkModem;
#define PK_HILINK_DEFAULT_TIMEOUT_MS ...
PkHilinkModem *pk_hilink_modem_new (const char *base_url, PkEgress *egress, GError **error);
const char *pk_hilink_modem_get_base_url (PkHilinkModem *self);
PkEgress *pk_hilink_modem_get_egress (PkHilinkModem *self);
void pk_hilink_modem_set_credentials (PkHilinkModem *self, const char *username,
                                      const char *password);
const char *pk_hilink_modem_get_username (PkHilinkModem *self);
guint pk_hilink_modem_get_timeout (PkHilinkModem *self);
void pk_hilink_modem_set_timeout (PkHilinkModem *self, guint timeout_ms);
guint pk_hilink_error_get_code (const GError *error);

/* --- PkRotation --- */
typedef enum {
  PK_ROTATION_METHOD_DATA,
  PK_ROTATION_METHOD_NETMODE,
  PK_ROTATION_METHOD_REBOOT,
  ...
} PkRotationMethod;
typedef enum {
  PK_ROTATION_OUTCOME_CHANGED,
  PK_ROTATION_OUTCOME_UNCHANGED,
  PK_ROTATION_OUTCOME_TIMED_OUT,
  PK_ROTATION_OUTCOME_FAILED,
  ...
} PkRotationOutcome;
typedef ... PkRotation;
PkRotation *pk_rotation_new (PkModem *modem, PkRotationMethod method);
gboolean pk_rotation_set_escalation (PkRotation *self, const char *order, GError **error);
char *pk_rotation_dup_escalation (PkRotation *self);
void pk_rotation_set_timing (PkRotation *self, guint settle_ms, guint poll_interval_ms,
                             guint timeout_ms);
void pk_rotation_set_unchanged_polls (PkRotation *self, guint n_polls);
void pk_rotation_run_async (PkRotation *self, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data);
gboolean pk_rotation_run_finish (PkRotation *self, GAsyncResult *result, GError **error);
const char *pk_rotation_get_old_ip (PkRotation *self);
const char *pk_rotation_get_new_ip (PkRotation *self);
PkRotationMethod pk_rotation_get_final_method (PkRotation *self);
guint64 pk_rotation_get_duration_ms (PkRotation *self);
gboolean pk_rotation_get_escalated (PkRotation *self);
guint pk_rotation_get_n_attempts (PkRotation *self);
PkRotationMethod pk_rotation_get_attempt_method (PkRotation *self, guint index);
PkRotationOutcome pk_rotation_get_attempt_outcome (PkRotation *self, guint index);
const char *pk_rotation_get_attempt_message (PkRotation *self, guint index);
guint64 pk_rotation_get_attempt_duration_ms (PkRotation *self, guint index);
const char *pk_rotation_method_to_string (PkRotationMethod method);
gboolean pk_rotation_method_from_string (const char *str, PkRotationMethod *out_method);
const char *pk_rotation_outcome_to_string (PkRotationOutcome outcome);

/* --- PkProbe --- */
typedef enum {
  PK_PROBE_TCP_CONNECT,
  PK_PROBE_PROCESS,
  PK_PROBE_INTERFACE,
  PK_PROBE_SOCKS,
  PK_PROBE_HTTP,
  ...
} PkProbeKind;
typedef ... PkProbe;
PkProbe *pk_probe_new_tcp_connect (PkEgress *egress, const char *host, guint16 port);
PkProbe *pk_probe_new_process (int pid);
PkProbe *pk_probe_new_interface (const char *interface);
PkProbe *pk_probe_new_socks (const char *proxy_host, guint16 proxy_port,
                             const char *target_host, guint16 target_port);
PkProbe *pk_probe_new_http (PkEgress *egress, const char *url);
PkProbeKind pk_probe_get_kind (PkProbe *self);
const char *pk_probe_get_description (PkProbe *self);
guint pk_probe_get_timeout_ms (PkProbe *self);
void pk_probe_set_timeout_ms (PkProbe *self, guint timeout_ms);
void pk_probe_run_async (PkProbe *self, guint timeout_ms, GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer user_data);
gboolean pk_probe_run_finish (PkProbe *self, GAsyncResult *result, guint64 *out_latency_us,
                              GError **error);
void pk_probe_run_with_retries_async (PkProbe *self, guint tries, guint delay_ms,
                                      guint timeout_ms, GCancellable *cancellable,
                                      GAsyncReadyCallback callback, gpointer user_data);
gboolean pk_probe_run_with_retries_finish (PkProbe *self, GAsyncResult *result,
                                           guint *out_tries, GError **error);
void pk_startup_check_async (PkEgress *egress, const char *target, guint tries,
                             guint delay_ms, guint timeout_ms, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data);
gboolean pk_startup_check_finish (GAsyncResult *result, guint *out_tries, GError **error);

/* --- PkHysteresis (health names) and PkWatchdog --- */
typedef enum {
  PK_HEALTH_UNKNOWN,
  PK_HEALTH_UP,
  PK_HEALTH_FAILING,
  PK_HEALTH_DOWN,
  PK_HEALTH_RECOVERING,
  ...
} PkHealth;
typedef enum {
  PK_HYSTERESIS_EVENT_NONE,
  PK_HYSTERESIS_EVENT_FAILED,
  PK_HYSTERESIS_EVENT_RECOVERED,
  ...
} PkHysteresisEvent;
const char *pk_health_to_string (PkHealth health);

typedef ... PkWatchdog;
PkWatchdog *pk_watchdog_new (const char *name);
const char *pk_watchdog_get_name (PkWatchdog *self);
void pk_watchdog_add_probe (PkWatchdog *self, PkProbe *probe);
void pk_watchdog_clear_probes (PkWatchdog *self);
guint pk_watchdog_get_n_probes (PkWatchdog *self);
guint pk_watchdog_get_interval_ms (PkWatchdog *self);
void pk_watchdog_set_interval_ms (PkWatchdog *self, guint interval_ms);
guint pk_watchdog_get_retry_delay_ms (PkWatchdog *self);
void pk_watchdog_set_retry_delay_ms (PkWatchdog *self, guint retry_delay_ms);
guint pk_watchdog_get_initial_delay_ms (PkWatchdog *self);
void pk_watchdog_set_initial_delay_ms (PkWatchdog *self, guint initial_delay_ms);
guint pk_watchdog_get_jitter_ms (PkWatchdog *self);
void pk_watchdog_set_jitter_ms (PkWatchdog *self, guint jitter_ms);
guint pk_watchdog_get_timeout_ms (PkWatchdog *self);
void pk_watchdog_set_timeout_ms (PkWatchdog *self, guint timeout_ms);
guint pk_watchdog_get_fall (PkWatchdog *self);
void pk_watchdog_set_fall (PkWatchdog *self, guint fall);
guint pk_watchdog_get_rise (PkWatchdog *self);
void pk_watchdog_set_rise (PkWatchdog *self, guint rise);
void pk_watchdog_start (PkWatchdog *self);
void pk_watchdog_stop (PkWatchdog *self);
gboolean pk_watchdog_is_running (PkWatchdog *self);
PkHysteresisEvent pk_watchdog_feed (PkWatchdog *self, gboolean ok, const char *reason);
void pk_watchdog_check_async (PkWatchdog *self, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data);
gboolean pk_watchdog_check_finish (PkWatchdog *self, GAsyncResult *result, GError **error);
PkHealth pk_watchdog_get_health (PkWatchdog *self);
guint pk_watchdog_get_consecutive_failures (PkWatchdog *self);
guint pk_watchdog_get_fails (PkWatchdog *self);
gint64 pk_watchdog_get_last_change (PkWatchdog *self);
const char *pk_watchdog_get_last_reason (PkWatchdog *self);

/* --- PkBridge --- */
typedef ... PkBridge;
PkBridge *pk_bridge_new (GSocket *a, GSocket *b);
void pk_bridge_set_idle_timeout (PkBridge *self, guint timeout_ms);
guint pk_bridge_get_idle_timeout (PkBridge *self);
void pk_bridge_run_async (PkBridge *self, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data);
gboolean pk_bridge_run_finish (PkBridge *self, GAsyncResult *result, GError **error);
guint64 pk_bridge_get_bytes_a_to_b (PkBridge *self);
guint64 pk_bridge_get_bytes_b_to_a (PkBridge *self);

/* --- PkRelayRule, PkRelay --- */
typedef enum {
  PK_RELAY_PROTOCOL_TCP,
  PK_RELAY_PROTOCOL_UDP,
  ...
} PkRelayProtocol;
typedef struct _PkRelayRule PkRelayRule;
PkRelayRule *pk_relay_rule_new (PkRelayProtocol protocol, guint16 in_port,
                                const char *out_host, guint16 out_port);
PkRelayRule *pk_relay_rule_new_from_string (const char *spec, GError **error);
void pk_relay_rule_unref (PkRelayRule *rule);
char *pk_relay_rule_to_string (PkRelayRule *rule);
const char *pk_relay_rule_get_name (PkRelayRule *rule);
void pk_relay_rule_set_name (PkRelayRule *rule, const char *name);
gboolean pk_relay_rule_set_listen_address (PkRelayRule *rule, const char *address,
                                           GError **error);
void pk_relay_rule_set_connect_timeout (PkRelayRule *rule, guint timeout_ms);
void pk_relay_rule_set_idle_timeout (PkRelayRule *rule, guint timeout_ms);
void pk_relay_rule_set_keepalive (PkRelayRule *rule, guint idle_s, guint interval_s,
                                  guint count);
void pk_relay_rule_set_max_sessions (PkRelayRule *rule, guint max_sessions);
void pk_relay_rule_set_health_check (PkRelayRule *rule, gboolean enabled, guint timeout_ms,
                                     guint retries, guint interval_ms);
void pk_relay_rule_set_egress (PkRelayRule *rule, PkEgress *egress);
gboolean pk_relay_rule_set_allow (PkRelayRule *rule, const char *cidrs, GError **error);

typedef ... PkRelay;
PkRelay *pk_relay_new (void);
gboolean pk_relay_add_rule (PkRelay *self, PkRelayRule *rule, GError **error);
gboolean pk_relay_remove_rule (PkRelay *self, const char *name);
guint16 pk_relay_get_local_port (PkRelay *self, const char *name);
void pk_relay_stop (PkRelay *self);
guint pk_relay_get_n_connections (PkRelay *self);
void pk_relay_drain (PkRelay *self);
void pk_relay_set_kernel_nat (PkRelay *self, gboolean kernel_nat);
char *pk_relay_dup_status_json (PkRelay *self);

/* --- PkMetricsSampler (JsonNode through json-glib) --- */
typedef ... JsonNode;
gchar *json_to_string (JsonNode *node, gboolean pretty);
JsonNode *json_from_string (const char *str, GError **error);
void json_node_unref (JsonNode *node);

typedef ... PkMetricsSampler;
PkMetricsSampler *pk_metrics_sampler_new (void);
void pk_metrics_sampler_set_proc_root (PkMetricsSampler *self, const char *proc_root);
void pk_metrics_sampler_set_sys_root (PkMetricsSampler *self, const char *sys_root);
gboolean pk_metrics_sampler_get_sock_diag (PkMetricsSampler *self);
void pk_metrics_sampler_set_sock_diag (PkMetricsSampler *self, gboolean sock_diag);
void pk_metrics_sampler_add_watch_port (PkMetricsSampler *self, guint port);
void pk_metrics_sampler_add_watch_pid (PkMetricsSampler *self, int pid);
void pk_metrics_sampler_add_watch_process (PkMetricsSampler *self, const char *name);
JsonNode *pk_metrics_sampler_sample (PkMetricsSampler *self, GError **error);
char *pk_metrics_to_prometheus (JsonNode *sample);
char *pk_metrics_format_table (JsonNode *sample);
PkMetricsSampler *pk_metrics_sampler_new_from_config (PkConfig *config, GError **error);
gboolean pk_metrics_parse_time (const char *text, gint64 *out_us, GError **error);

/* --- PkMetricsServer --- */
typedef ... PkMetricsServer;
PkMetricsServer *pk_metrics_server_new (void);
void pk_metrics_server_set_sampler (PkMetricsServer *self, PkMetricsSampler *sampler);
void pk_metrics_server_set_history_directory (PkMetricsServer *self, const char *directory);
const char *pk_metrics_server_get_history_directory (PkMetricsServer *self);
void pk_metrics_server_set_last_sample (PkMetricsServer *self, JsonNode *sample);
gboolean pk_metrics_server_listen (PkMetricsServer *self, const char *address, GError **error);
guint16 pk_metrics_server_get_port (PkMetricsServer *self);
char **pk_metrics_server_dup_urls (PkMetricsServer *self);
void pk_metrics_server_stop (PkMetricsServer *self);

/* --- PkToggle (and its modem step, limiter, result) --- */
typedef ... PkToggle;
typedef ... PkToggleStep;
typedef ... PkToggleModemStep;
typedef ... PkToggleLimiter;
typedef ... PkToggleResult;
PkToggleModemStep *pk_toggle_modem_step_new (void);
gboolean pk_toggle_modem_step_set_escalation (PkToggleModemStep *self, const char *order,
                                              GError **error);
void pk_toggle_modem_step_set_timing (PkToggleModemStep *self, guint settle_ms,
                                      guint poll_interval_ms, guint timeout_ms);
void pk_toggle_modem_step_set_unchanged_polls (PkToggleModemStep *self, guint n_polls);
PkToggleLimiter *pk_toggle_limiter_new (guint max_concurrent);
guint pk_toggle_limiter_get_max (PkToggleLimiter *self);
guint pk_toggle_limiter_get_running (PkToggleLimiter *self);
gboolean pk_toggle_result_get_success (PkToggleResult *self);
const GError *pk_toggle_result_get_error (PkToggleResult *self);
char *pk_toggle_result_to_json (PkToggleResult *self);
PkToggle *pk_toggle_new (guint id, PkModem *modem, PkToggleLimiter *limiter);
guint pk_toggle_get_id (PkToggle *self);
void pk_toggle_add_step (PkToggle *self, PkToggleStep *step);
guint pk_toggle_get_n_steps (PkToggle *self);
guint pk_toggle_get_cooldown (PkToggle *self);
void pk_toggle_set_cooldown (PkToggle *self, guint cooldown_ms);
gboolean pk_toggle_is_running (PkToggle *self);
guint pk_toggle_get_cooldown_remaining (PkToggle *self);
void pk_toggle_run_async (PkToggle *self, PkRotationMethod method, gboolean recovery,
                          GCancellable *cancellable, GAsyncReadyCallback callback,
                          gpointer user_data);
PkToggleResult *pk_toggle_run_finish (PkToggle *self, GAsyncResult *result, GError **error);

/* --- PkNodeState, PkStateStore --- */
typedef enum {
  PK_NODE_STATUS_STARTING,
  PK_NODE_STATUS_ONLINE,
  PK_NODE_STATUS_PING_FAILED,
  PK_NODE_STATUS_STOPPED,
  ...
} PkNodeStatus;
const char *pk_node_status_to_string (PkNodeStatus status);
gboolean pk_node_status_from_string (const char *str, PkNodeStatus *out_status);
typedef ... PkNodeState;
PkNodeState *pk_node_state_new (const char *name);
PkNodeState *pk_node_state_new_from_json (const char *data, gssize length, GError **error);
char *pk_node_state_to_json (PkNodeState *self);
const char *pk_node_state_get_name (PkNodeState *self);
PkNodeStatus pk_node_state_get_status (PkNodeState *self);
void pk_node_state_set_status (PkNodeState *self, PkNodeStatus status, const char *reason);
void pk_node_state_set_tunnel (PkNodeState *self, const char *server, const char *linkname,
                               int unit, const char *interface, int pid);
void pk_node_state_clear_tunnel (PkNodeState *self);
void pk_node_state_set_socks (PkNodeState *self, const char *listen, int pid);
void pk_node_state_clear_socks (PkNodeState *self);
void pk_node_state_set_fails (PkNodeState *self, guint fails);
void pk_node_state_set_consecutive_failures (PkNodeState *self, guint n);
typedef ... PkStateStore;
PkStateStore *pk_state_store_new (const char *directory);
const char *pk_state_store_get_directory (PkStateStore *self);
char **pk_state_store_list (PkStateStore *self, GError **error);
PkNodeState *pk_state_store_load (PkStateStore *self, const char *name, GError **error);
PkNodeState *pk_state_store_load_or_new (PkStateStore *self, const char *name, GError **error);
gboolean pk_state_store_save (PkStateStore *self, PkNodeState *node, GError **error);
gboolean pk_state_store_remove (PkStateStore *self, const char *name, GError **error);
char *pk_state_store_dup_path (PkStateStore *self, const char *name);

/* --- PkTunnel --- */
typedef enum {
  PK_TUNNEL_STATE_DOWN,
  PK_TUNNEL_STATE_STARTING,
  PK_TUNNEL_STATE_UP,
  PK_TUNNEL_STATE_STOPPING,
  PK_TUNNEL_STATE_FAILED,
  ...
} PkTunnelState;
typedef ... PkTunnel;
PkTunnel *pk_tunnel_new (const char *linkname);
PkTunnel *pk_tunnel_new_from_config (PkConfig *config, const char *name, PkNodeState *recorded,
                                     GError **error);
const char * const *pk_tunnel_get_config_keys (void);
const char *pk_tunnel_get_linkname (PkTunnel *self);
const char *pk_tunnel_get_server (PkTunnel *self);
gboolean pk_tunnel_set_server (PkTunnel *self, const char *server, GError **error);
gboolean pk_tunnel_set_peer (PkTunnel *self, const char *peer, GError **error);
void pk_tunnel_set_user (PkTunnel *self, const char *user);
void pk_tunnel_set_password (PkTunnel *self, const char *password);
int pk_tunnel_get_unit (PkTunnel *self);
void pk_tunnel_set_unit (PkTunnel *self, int unit);
void pk_tunnel_set_options (PkTunnel *self, const char * const *options);
void pk_tunnel_set_pppd_path (PkTunnel *self, const char *path);
void pk_tunnel_set_pptp_path (PkTunnel *self, const char *path);
void pk_tunnel_set_run_dir (PkTunnel *self, const char *run_dir);
void pk_tunnel_set_start_timeout_ms (PkTunnel *self, guint timeout_ms);
guint pk_tunnel_get_start_timeout_ms (PkTunnel *self);
void pk_tunnel_set_stop_grace_ms (PkTunnel *self, guint grace_ms);
guint pk_tunnel_get_stop_grace_ms (PkTunnel *self);
PkTunnelState pk_tunnel_get_state (PkTunnel *self);
const char *pk_tunnel_state_to_string (PkTunnelState state);
int pk_tunnel_get_pid (PkTunnel *self);
const char *pk_tunnel_get_interface (PkTunnel *self);
const char *pk_tunnel_get_last_error (PkTunnel *self);
char **pk_tunnel_build_argv (PkTunnel *self, GError **error);
void pk_tunnel_start_async (PkTunnel *self, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data);
gboolean pk_tunnel_start_finish (PkTunnel *self, GAsyncResult *result, GError **error);
void pk_tunnel_stop_async (PkTunnel *self, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data);
gboolean pk_tunnel_stop_finish (PkTunnel *self, GAsyncResult *result, GError **error);
gboolean pk_tunnel_adopt (PkTunnel *self, GError **error);
gboolean pk_tunnel_refresh (PkTunnel *self);
PkEgress *pk_tunnel_get_egress (PkTunnel *self, GError **error);

/* --- PkMetricsRecorder, PkMetricsAlerts, pk_metrics_analyze --- */
typedef enum {
  PK_METRICS_FILE_HOURLY,
  PK_METRICS_FILE_DAILY,
  ...
} PkMetricsFileLayout;
typedef enum {
  PK_METRICS_RESOLUTION_RAW,
  PK_METRICS_RESOLUTION_HOUR,
  PK_METRICS_RESOLUTION_DAY,
  ...
} PkMetricsResolution;
typedef ... PkMetricsRecorder;
PkMetricsRecorder *pk_metrics_recorder_new (const char *directory);
const char *pk_metrics_recorder_get_directory (PkMetricsRecorder *self);
void pk_metrics_recorder_set_layout (PkMetricsRecorder *self, PkMetricsFileLayout layout);
void pk_metrics_recorder_set_retention (PkMetricsRecorder *self, guint raw_days,
                                        guint64 max_bytes, guint hourly_days, guint daily_days);
gboolean pk_metrics_recorder_append (PkMetricsRecorder *self, JsonNode *sample, GError **error);
gboolean pk_metrics_recorder_expire (PkMetricsRecorder *self, gint64 now_us, GError **error);
guint64 pk_metrics_recorder_get_raw_size (PkMetricsRecorder *self);
JsonNode *pk_metrics_history_read (const char *directory, PkMetricsResolution resolution,
                                   gint64 since_us, gint64 until_us, GError **error);
typedef ... PkMetricsAlerts;
PkMetricsAlerts *pk_metrics_alerts_new_from_config (PkConfig *config, GError **error);
guint pk_metrics_alerts_get_n_rules (PkMetricsAlerts *self);
void pk_metrics_alerts_set_dispatch (PkMetricsAlerts *self, gboolean dispatch);
JsonNode *pk_metrics_alerts_evaluate (PkMetricsAlerts *self, JsonNode *sample, gint64 now_us);
JsonNode *pk_metrics_analyze (const char *directory, gint64 at_us, gint64 window_us,
                              GError **error);

/* --- PkToggleServer (needs libsoup; _shim.c stubs it out without) --- */
typedef ... PkToggleServer;
PkToggleServer *pk_toggle_server_new (void);
void pk_toggle_server_add_dongle (PkToggleServer *self, PkToggle *toggle, const char *api_url,
                                  const char *egress_ip, const char *socks_host,
                                  guint16 socks_port);
void pk_toggle_server_set_default_method (PkToggleServer *self, PkRotationMethod method);
gboolean pk_toggle_server_listen (PkToggleServer *self, const char *address, GError **error);
guint16 pk_toggle_server_get_port (PkToggleServer *self);
void pk_toggle_server_stop (PkToggleServer *self);

/* --- PkWorkers (for SocksServer(workers=N)) --- */
typedef ... PkWorkers;
PkWorkers *pk_workers_new (guint n_workers);
guint pk_workers_get_n_workers (PkWorkers *self);
gboolean pk_workers_start (PkWorkers *self, GError **error);
void pk_workers_stop (PkWorkers *self);
void pk_socks_server_set_workers (PkSocksServer *self, PkWorkers *workers);

/* --- more: relay rule sets, locked state, startup-check settings, PkHysteresis --- */
typedef struct { gpointer *pdata; guint len; } GPtrArray;
GPtrArray *g_ptr_array_new_with_free_func (GDestroyNotify element_free_func);
void g_ptr_array_add (GPtrArray *array, gpointer data);
void g_ptr_array_unref (GPtrArray *array);
gboolean pk_relay_set_rules (PkRelay *self, GPtrArray *rules, GError **error);
PkNodeState *pk_state_store_load_locked (PkStateStore *self, const char *name, GError **error);
gboolean pk_state_store_save_unlock (PkStateStore *self, PkNodeState *node, GError **error);
void pk_state_store_unlock (PkStateStore *self, const char *name);
gboolean pk_startup_check_get_settings (PkConfig *config, char **out_target, guint *out_tries,
                                        guint *out_delay_ms, guint *out_timeout_ms,
                                        GError **error);
typedef struct _PkHysteresis PkHysteresis;
PkHysteresis *pk_hysteresis_new (guint fall, guint rise);
void pk_hysteresis_unref (PkHysteresis *self);
PkHysteresisEvent pk_hysteresis_feed (PkHysteresis *self, gboolean ok, gint64 now);
void pk_hysteresis_reset (PkHysteresis *self, PkHealth health, gint64 now);
PkHealth pk_hysteresis_get_health (PkHysteresis *self);
gboolean pk_hysteresis_is_confirming (PkHysteresis *self);
guint pk_hysteresis_get_consecutive_failures (PkHysteresis *self);
guint pk_hysteresis_get_consecutive_successes (PkHysteresis *self);
guint pk_hysteresis_get_total_failures (PkHysteresis *self);
guint pk_hysteresis_get_total_recoveries (PkHysteresis *self);
guint64 pk_hysteresis_get_n_checks (PkHysteresis *self);
