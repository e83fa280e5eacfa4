/* pk-socks-server.c: a SOCKS5 listener pinned to an egress
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkSocksServer:
 *
 * A SOCKS5 server (RFC 1928, with RFC 1929 username/password
 * authentication) whose outbound connections all leave through one
 * [class@Egress]: a dongle's source address, a `pppN` interface, a
 * firewall mark.
 *
 * It serves CONNECT and UDP ASSOCIATE (BIND is answered with 0x07), for
 * IPv4, IPv6 and domain-name destinations; names are resolved through the
 * egress. Replies say what happened (0x02 refused by rule, 0x03 network
 * unreachable, 0x04 host unreachable, 0x05 refused, 0x06 timeout), and the
 * bound address in a successful reply is the real local address of the
 * upstream socket.
 *
 * Access is controlled by users (a `user:password` file or inline
 * entries), a client allowlist, a destination denylist (a listener on a
 * non-loopback address refuses destinations on the host itself unless
 * [property@SocksServer:allow-host-destinations] is set), and caps on
 * concurrent sessions overall and per client address.
 * [method@SocksServer.reload] re-reads the users file without touching live
 * sessions, and [method@SocksServer.stop_async] drains them.
 *
 * Each session's end is logged once at `G_LOG_LEVEL_INFO` with structured
 * fields (`PK_LISTENER`, `PK_CLIENT`, `PK_USER`, `PK_COMMAND`,
 * `PK_DESTINATION`, `PK_EGRESS`, `PK_BYTES_UP`, `PK_BYTES_DOWN`,
 * `PK_DURATION_MS`, `PK_RESULT`) and a message such as
 * `socks[11] client=10.0.0.5:51234 cmd=connect dest=example.org:443
 * egress=interface=ppp0 up=512 down=40960 duration=1.250s result=succeeded`.
 * Bytes are counted into the listener's totals when a session ends.
 *
 * ```c
 * g_autoptr(GError) error = NULL;
 * g_autoptr(PkSocksServer) server = pk_socks_server_new ();
 * g_autoptr(PkEgress) egress = pk_egress_new_full ("192.168.11.100", NULL, 0, 0, &error);
 *
 * pk_socks_server_set_egress (server, egress);
 * if (!pk_socks_server_set_users_file (server, "/etc/proxykit/users", &error) ||
 *     !pk_socks_server_listen (server, "0.0.0.0:10011", &error))
 *   g_error ("%s", error->message);
 * // sessions run in the thread-default main context of the caller
 * ```
 */

#include "config.h"

#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "pk-error.h"
#include "pk-socks-proto-private.h"
#include "pk-socks-server-private.h"
#include "pk-util-private.h"

#define DEFAULT_HANDSHAKE_TIMEOUT_MS  30000
#define DEFAULT_CONNECT_TIMEOUT_MS   120000
#define DEFAULT_RESOLVE_TIMEOUT_MS    30000
#define DEFAULT_IDLE_TIMEOUT_MS      600000
#define DEFAULT_UDP_IDLE_TIMEOUT_MS  120000
/* How long accepting pauses when the process is out of descriptors. */
#define ACCEPT_BACKOFF_MS 250

typedef struct {
  PkSocksServer *server;      /* unowned: the server owns the listener */
  GSocket *socket;
  GSource *source;
  GSource *backoff;
  GMainContext *context;
} Listener;

struct _PkSocksServer
{
  GObject parent_instance;

  GMutex lock;                 /* guards what sessions in other threads read */
  char *name;
  PkEgress *egress;
  guint handshake_timeout_ms;
  guint connect_timeout_ms;
  guint resolve_timeout_ms;
  guint idle_timeout_ms;
  guint udp_idle_timeout_ms;
  guint max_sessions;
  guint max_sessions_per_client;
  char *udp_advertise;
  GInetAddress *udp_advertise_inet;
  gboolean allow_host_destinations;

  char *users_file;
  GHashTable *inline_users;
  GHashTable *file_users;
  GPtrArray *allow;
  GPtrArray *deny;
  PkSocksPolicy *policy;

  GPtrArray *listeners;        /* Listener */
  gboolean non_loopback;

  /* sessions */
  guint n_active;
  GHashTable *per_client;      /* address string -> count */
  GCancellable *stop_cancellable;
  gboolean stopping;
  GTask *stop_task;
  GSource *stop_deadline;
  GCancellable *stop_user_cancellable;
  gulong stop_user_handler;

  /* counters (atomic) */
  guint64 sessions_total;
  guint64 bytes_up;
  guint64 bytes_down;
  guint64 results[PK_SOCKS_RESULT_N];
};

G_DEFINE_FINAL_TYPE (PkSocksServer, pk_socks_server, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_NAME,
  PROP_EGRESS,
  PROP_HANDSHAKE_TIMEOUT,
  PROP_CONNECT_TIMEOUT,
  PROP_RESOLVE_TIMEOUT,
  PROP_IDLE_TIMEOUT,
  PROP_UDP_IDLE_TIMEOUT,
  PROP_MAX_SESSIONS,
  PROP_MAX_SESSIONS_PER_CLIENT,
  PROP_UDP_ADVERTISE_ADDRESS,
  PROP_ALLOW_HOST_DESTINATIONS,
  PROP_AUTH_REQUIRED,
  PROP_SESSIONS_ACTIVE,
  PROP_SESSIONS_TOTAL,
  PROP_BYTES_UP,
  PROP_BYTES_DOWN,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void rebuild_policy (PkSocksServer *self);

/* --- policy --- */

PkSocksPolicy *
pk_socks_policy_ref (PkSocksPolicy *policy)
{
  return g_atomic_rc_box_acquire (policy);
}

static void
policy_clear (gpointer data)
{
  PkSocksPolicy *policy = data;

  g_clear_pointer (&policy->users, g_hash_table_unref);
  g_clear_pointer (&policy->allow, g_ptr_array_unref);
  g_clear_pointer (&policy->deny, g_ptr_array_unref);
  g_clear_pointer (&policy->deny_host, g_ptr_array_unref);
}

void
pk_socks_policy_unref (PkSocksPolicy *policy)
{
  g_atomic_rc_box_release_full (policy, policy_clear);
}

static const char * const result_names[] = {
  [PK_SOCKS_REPLY_SUCCEEDED] = "succeeded",
  [PK_SOCKS_REPLY_GENERAL_FAILURE] = "general-failure",
  [PK_SOCKS_REPLY_NOT_ALLOWED] = "not-allowed",
  [PK_SOCKS_REPLY_NETWORK_UNREACHABLE] = "network-unreachable",
  [PK_SOCKS_REPLY_HOST_UNREACHABLE] = "host-unreachable",
  [PK_SOCKS_REPLY_CONNECTION_REFUSED] = "connection-refused",
  [PK_SOCKS_REPLY_TTL_EXPIRED] = "ttl-expired",
  [PK_SOCKS_REPLY_COMMAND_NOT_SUPPORTED] = "command-not-supported",
  [PK_SOCKS_REPLY_ADDRESS_TYPE_NOT_SUPPORTED] = "address-type-not-supported",
};

static const char * const extra_result_names[] = {
  "auth-failed",
  "no-acceptable-method",
  "handshake-failed",
  "handshake-timeout",
};

const char *
pk_socks_result_to_string (guint result)
{
  if (result < G_N_ELEMENTS (result_names))
    return result_names[result];
  if (result >= PK_SOCKS_RESULT_AUTH_FAILED && result < PK_SOCKS_RESULT_N)
    return extra_result_names[result - PK_SOCKS_RESULT_AUTH_FAILED];
  return "unknown";
}

void
pk_socks_session_config_free (PkSocksSessionConfig *config)
{
  g_clear_pointer (&config->name, g_free);
  g_clear_pointer (&config->policy, pk_socks_policy_unref);
  g_clear_object (&config->egress);
  g_clear_object (&config->udp_advertise);
  g_free (config);
}

/* --- GObject --- */

static void
listener_free (gpointer data)
{
  Listener *listener = data;

  if (listener->source != NULL)
    {
      g_source_destroy (listener->source);
      g_source_unref (listener->source);
    }
  if (listener->backoff != NULL)
    {
      g_source_destroy (listener->backoff);
      g_source_unref (listener->backoff);
    }
  if (listener->socket != NULL)
    g_socket_close (listener->socket, NULL);
  g_clear_object (&listener->socket);
  g_clear_pointer (&listener->context, g_main_context_unref);
  g_free (listener);
}

static void
pk_socks_server_dispose (GObject *object)
{
  PkSocksServer *self = PK_SOCKS_SERVER (object);

  g_ptr_array_set_size (self->listeners, 0);

  G_OBJECT_CLASS (pk_socks_server_parent_class)->dispose (object);
}

static void
pk_socks_server_finalize (GObject *object)
{
  PkSocksServer *self = PK_SOCKS_SERVER (object);

  g_ptr_array_unref (self->listeners);
  g_clear_pointer (&self->name, g_free);
  g_clear_object (&self->egress);
  g_clear_pointer (&self->udp_advertise, g_free);
  g_clear_object (&self->udp_advertise_inet);
  g_clear_pointer (&self->users_file, g_free);
  g_clear_pointer (&self->inline_users, g_hash_table_unref);
  g_clear_pointer (&self->file_users, g_hash_table_unref);
  g_clear_pointer (&self->allow, g_ptr_array_unref);
  g_clear_pointer (&self->deny, g_ptr_array_unref);
  g_clear_pointer (&self->policy, pk_socks_policy_unref);
  g_clear_pointer (&self->per_client, g_hash_table_unref);
  g_clear_object (&self->stop_cancellable);
  if (self->stop_deadline != NULL)
    {
      g_source_destroy (self->stop_deadline);
      g_source_unref (self->stop_deadline);
    }
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (pk_socks_server_parent_class)->finalize (object);
}

static void
pk_socks_server_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  PkSocksServer *self = PK_SOCKS_SERVER (object);

  switch (prop_id)
    {
    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    case PROP_EGRESS:
      g_value_set_object (value, self->egress);
      break;
    case PROP_HANDSHAKE_TIMEOUT:
      g_value_set_uint (value, self->handshake_timeout_ms);
      break;
    case PROP_CONNECT_TIMEOUT:
      g_value_set_uint (value, self->connect_timeout_ms);
      break;
    case PROP_RESOLVE_TIMEOUT:
      g_value_set_uint (value, self->resolve_timeout_ms);
      break;
    case PROP_IDLE_TIMEOUT:
      g_value_set_uint (value, self->idle_timeout_ms);
      break;
    case PROP_UDP_IDLE_TIMEOUT:
      g_value_set_uint (value, self->udp_idle_timeout_ms);
      break;
    case PROP_MAX_SESSIONS:
      g_value_set_uint (value, self->max_sessions);
      break;
    case PROP_MAX_SESSIONS_PER_CLIENT:
      g_value_set_uint (value, self->max_sessions_per_client);
      break;
    case PROP_UDP_ADVERTISE_ADDRESS:
      g_value_set_string (value, self->udp_advertise);
      break;
    case PROP_ALLOW_HOST_DESTINATIONS:
      g_value_set_boolean (value, self->allow_host_destinations);
      break;
    case PROP_AUTH_REQUIRED:
      g_value_set_boolean (value, pk_socks_server_get_auth_required (self));
      break;
    case PROP_SESSIONS_ACTIVE:
      g_value_set_uint (value, pk_socks_server_get_sessions_active (self));
      break;
    case PROP_SESSIONS_TOTAL:
      g_value_set_uint64 (value, pk_socks_server_get_sessions_total (self));
      break;
    case PROP_BYTES_UP:
      g_value_set_uint64 (value, pk_socks_server_get_bytes_up (self));
      break;
    case PROP_BYTES_DOWN:
      g_value_set_uint64 (value, pk_socks_server_get_bytes_down (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_socks_server_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  PkSocksServer *self = PK_SOCKS_SERVER (object);
  g_autoptr(GError) error = NULL;

  switch (prop_id)
    {
    case PROP_NAME:
      pk_socks_server_set_name (self, g_value_get_string (value));
      break;
    case PROP_EGRESS:
      pk_socks_server_set_egress (self, g_value_get_object (value));
      break;
    case PROP_HANDSHAKE_TIMEOUT:
      pk_socks_server_set_handshake_timeout (self, g_value_get_uint (value));
      break;
    case PROP_CONNECT_TIMEOUT:
      pk_socks_server_set_connect_timeout (self, g_value_get_uint (value));
      break;
    case PROP_RESOLVE_TIMEOUT:
      pk_socks_server_set_resolve_timeout (self, g_value_get_uint (value));
      break;
    case PROP_IDLE_TIMEOUT:
      pk_socks_server_set_idle_timeout (self, g_value_get_uint (value));
      break;
    case PROP_UDP_IDLE_TIMEOUT:
      pk_socks_server_set_udp_idle_timeout (self, g_value_get_uint (value));
      break;
    case PROP_MAX_SESSIONS:
      pk_socks_server_set_max_sessions (self, g_value_get_uint (value));
      break;
    case PROP_MAX_SESSIONS_PER_CLIENT:
      pk_socks_server_set_max_sessions_per_client (self, g_value_get_uint (value));
      break;
    case PROP_UDP_ADVERTISE_ADDRESS:
      if (!pk_socks_server_set_udp_advertise_address (self, g_value_get_string (value), &error))
        g_critical ("%s", error->message);
      break;
    case PROP_ALLOW_HOST_DESTINATIONS:
      pk_socks_server_set_allow_host_destinations (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static GParamSpec *
timeout_pspec (const char *name,
               guint       default_ms)
{
  return g_param_spec_uint (name, NULL, NULL, 0, G_MAXUINT, default_ms,
                            G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
}

static void
pk_socks_server_class_init (PkSocksServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  object_class->dispose = pk_socks_server_dispose;
  object_class->finalize = pk_socks_server_finalize;
  object_class->get_property = pk_socks_server_get_property;
  object_class->set_property = pk_socks_server_set_property;

  /**
   * PkSocksServer:name: (nullable)
   *
   * The listener's name in logs, for example the `11` of `[socks:11]`.
   */
  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * PkSocksServer:egress:
   *
   * The egress every outbound connection and UDP datagram leaves by.
   */
  properties[PROP_EGRESS] =
    g_param_spec_object ("egress", NULL, NULL, PK_TYPE_EGRESS,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * PkSocksServer:handshake-timeout:
   *
   * Milliseconds a client has from connecting to sending its request
   * (greeting and authentication included); 0 for none.
   */
  properties[PROP_HANDSHAKE_TIMEOUT] = timeout_pspec ("handshake-timeout", DEFAULT_HANDSHAKE_TIMEOUT_MS);
  /**
   * PkSocksServer:connect-timeout:
   *
   * Milliseconds for resolving and connecting to a destination; 0 for none.
   */
  properties[PROP_CONNECT_TIMEOUT] = timeout_pspec ("connect-timeout", DEFAULT_CONNECT_TIMEOUT_MS);
  /**
   * PkSocksServer:resolve-timeout:
   *
   * Milliseconds for resolving a destination name (within the connect
   * timeout); 0 for none.
   */
  properties[PROP_RESOLVE_TIMEOUT] = timeout_pspec ("resolve-timeout", DEFAULT_RESOLVE_TIMEOUT_MS);
  /**
   * PkSocksServer:idle-timeout:
   *
   * Milliseconds without a byte in either direction after which a
   * connection is closed; 0 for none.
   */
  properties[PROP_IDLE_TIMEOUT] = timeout_pspec ("idle-timeout", DEFAULT_IDLE_TIMEOUT_MS);
  /**
   * PkSocksServer:udp-idle-timeout:
   *
   * Milliseconds without a datagram after which a UDP association ends;
   * 0 for none.
   */
  properties[PROP_UDP_IDLE_TIMEOUT] = timeout_pspec ("udp-idle-timeout", DEFAULT_UDP_IDLE_TIMEOUT_MS);
  /**
   * PkSocksServer:max-sessions:
   *
   * The most concurrent sessions; 0 for no limit.
   */
  properties[PROP_MAX_SESSIONS] =
    g_param_spec_uint ("max-sessions", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * PkSocksServer:max-sessions-per-client:
   *
   * The most concurrent sessions from one client address; 0 for no limit.
   */
  properties[PROP_MAX_SESSIONS_PER_CLIENT] =
    g_param_spec_uint ("max-sessions-per-client", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * PkSocksServer:udp-advertise-address: (nullable)
   *
   * The address a UDP ASSOCIATE reply tells clients to send datagrams to,
   * for a server behind NAT; %NULL for the local address of the client's
   * TCP connection.
   */
  properties[PROP_UDP_ADVERTISE_ADDRESS] =
    g_param_spec_string ("udp-advertise-address", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * PkSocksServer:allow-host-destinations:
   *
   * Whether a listener on a non-loopback address may connect to the host
   * itself (127.0.0.0/8, ::1 and the host's own addresses). Off by
   * default, so that an exposed proxy is no way into local services.
   */
  properties[PROP_ALLOW_HOST_DESTINATIONS] =
    g_param_spec_boolean ("allow-host-destinations", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * PkSocksServer:auth-required:
   *
   * Whether clients must authenticate (users are configured).
   */
  properties[PROP_AUTH_REQUIRED] =
    g_param_spec_boolean ("auth-required", NULL, NULL, FALSE, ro);
  /**
   * PkSocksServer:sessions-active:
   *
   * Sessions open now (read on demand; not notified).
   */
  properties[PROP_SESSIONS_ACTIVE] =
    g_param_spec_uint ("sessions-active", NULL, NULL, 0, G_MAXUINT, 0, ro);
  /**
   * PkSocksServer:sessions-total:
   *
   * Sessions ended since the server was created (read on demand).
   */
  properties[PROP_SESSIONS_TOTAL] =
    g_param_spec_uint64 ("sessions-total", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  /**
   * PkSocksServer:bytes-up:
   *
   * Bytes from clients to destinations, counted when sessions end.
   */
  properties[PROP_BYTES_UP] =
    g_param_spec_uint64 ("bytes-up", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  /**
   * PkSocksServer:bytes-down:
   *
   * Bytes from destinations to clients, counted when sessions end.
   */
  properties[PROP_BYTES_DOWN] =
    g_param_spec_uint64 ("bytes-down", NULL, NULL, 0, G_MAXUINT64, 0, ro);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
pk_socks_server_init (PkSocksServer *self)
{
  g_mutex_init (&self->lock);
  self->egress = pk_egress_new ();
  self->handshake_timeout_ms = DEFAULT_HANDSHAKE_TIMEOUT_MS;
  self->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
  self->resolve_timeout_ms = DEFAULT_RESOLVE_TIMEOUT_MS;
  self->idle_timeout_ms = DEFAULT_IDLE_TIMEOUT_MS;
  self->udp_idle_timeout_ms = DEFAULT_UDP_IDLE_TIMEOUT_MS;
  self->inline_users = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->file_users = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->listeners = g_ptr_array_new_with_free_func (listener_free);
  self->per_client = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->stop_cancellable = g_cancellable_new ();
  rebuild_policy (self);
}

/**
 * pk_socks_server_new:
 *
 * Creates a server with no listening socket, the default egress, no
 * users and no allowlist. Add listening sockets with
 * pk_socks_server_listen().
 *
 * Returns: (transfer full): a new #PkSocksServer
 */
PkSocksServer *
pk_socks_server_new (void)
{
  return g_object_new (PK_TYPE_SOCKS_SERVER, NULL);
}

/* --- simple properties --- */

/**
 * pk_socks_server_get_name:
 * @self: a #PkSocksServer
 *
 * Returns: (nullable): the name in logs
 */
const char *
pk_socks_server_get_name (PkSocksServer *self)
{
  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), NULL);
  return self->name;
}

/**
 * pk_socks_server_set_name:
 * @self: a #PkSocksServer
 * @name: (nullable): the name in logs
 *
 * Names the listener in its log lines.
 */
void
pk_socks_server_set_name (PkSocksServer *self,
                          const char    *name)
{
  g_return_if_fail (PK_IS_SOCKS_SERVER (self));

  if (g_strcmp0 (self->name, name) == 0)
    return;
  g_mutex_lock (&self->lock);
  g_free (self->name);
  self->name = g_strdup (name);
  g_mutex_unlock (&self->lock);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NAME]);
}

/**
 * pk_socks_server_get_egress:
 * @self: a #PkSocksServer
 *
 * Returns: (transfer none): the egress
 */
PkEgress *
pk_socks_server_get_egress (PkSocksServer *self)
{
  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), NULL);
  return self->egress;
}

/**
 * pk_socks_server_set_egress:
 * @self: a #PkSocksServer
 * @egress: (nullable): an egress, or %NULL for the default one
 *
 * Sets the egress of sessions that start from now on.
 */
void
pk_socks_server_set_egress (PkSocksServer *self,
                            PkEgress      *egress)
{
  g_autoptr(PkEgress) old = NULL;

  g_return_if_fail (PK_IS_SOCKS_SERVER (self));
  g_return_if_fail (egress == NULL || PK_IS_EGRESS (egress));

  if (egress == self->egress)
    return;
  g_mutex_lock (&self->lock);
  old = self->egress;
  self->egress = egress != NULL ? g_object_ref (egress) : pk_egress_new ();
  g_mutex_unlock (&self->lock);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_EGRESS]);
}

#define DEFINE_UINT_PROPERTY(prop, field, PROP)                                \
  guint                                                                        \
  pk_socks_server_get_##prop (PkSocksServer *self)                            \
  {                                                                            \
    g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), 0);                       \
    return (guint) g_atomic_int_get (&self->field);                            \
  }                                                                            \
  void                                                                         \
  pk_socks_server_set_##prop (PkSocksServer *self,                            \
                              guint          value)                            \
  {                                                                            \
    g_return_if_fail (PK_IS_SOCKS_SERVER (self));                              \
    if ((guint) g_atomic_int_get (&self->field) == value)                      \
      return;                                                                  \
    g_atomic_int_set (&self->field, value);                                    \
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP]);              \
  }

/**
 * pk_socks_server_get_handshake_timeout:
 * @self: a #PkSocksServer
 *
 * Returns: the handshake timeout in milliseconds
 */
/**
 * pk_socks_server_set_handshake_timeout:
 * @self: a #PkSocksServer
 * @timeout_ms: milliseconds, 0 for none
 *
 * Sets [property@SocksServer:handshake-timeout].
 */
DEFINE_UINT_PROPERTY (handshake_timeout, handshake_timeout_ms, PROP_HANDSHAKE_TIMEOUT)
/**
 * pk_socks_server_get_connect_timeout:
 * @self: a #PkSocksServer
 *
 * Returns: the connect timeout in milliseconds
 */
/**
 * pk_socks_server_set_connect_timeout:
 * @self: a #PkSocksServer
 * @timeout_ms: milliseconds, 0 for none
 *
 * Sets [property@SocksServer:connect-timeout].
 */
DEFINE_UINT_PROPERTY (connect_timeout, connect_timeout_ms, PROP_CONNECT_TIMEOUT)
/**
 * pk_socks_server_get_resolve_timeout:
 * @self: a #PkSocksServer
 *
 * Returns: the resolve timeout in milliseconds
 */
/**
 * pk_socks_server_set_resolve_timeout:
 * @self: a #PkSocksServer
 * @timeout_ms: milliseconds, 0 for none
 *
 * Sets [property@SocksServer:resolve-timeout].
 */
DEFINE_UINT_PROPERTY (resolve_timeout, resolve_timeout_ms, PROP_RESOLVE_TIMEOUT)
/**
 * pk_socks_server_get_idle_timeout:
 * @self: a #PkSocksServer
 *
 * Returns: the idle timeout in milliseconds
 */
/**
 * pk_socks_server_set_idle_timeout:
 * @self: a #PkSocksServer
 * @timeout_ms: milliseconds, 0 for none
 *
 * Sets [property@SocksServer:idle-timeout].
 */
DEFINE_UINT_PROPERTY (idle_timeout, idle_timeout_ms, PROP_IDLE_TIMEOUT)
/**
 * pk_socks_server_get_udp_idle_timeout:
 * @self: a #PkSocksServer
 *
 * Returns: the UDP association idle timeout in milliseconds
 */
/**
 * pk_socks_server_set_udp_idle_timeout:
 * @self: a #PkSocksServer
 * @timeout_ms: milliseconds, 0 for none
 *
 * Sets [property@SocksServer:udp-idle-timeout].
 */
DEFINE_UINT_PROPERTY (udp_idle_timeout, udp_idle_timeout_ms, PROP_UDP_IDLE_TIMEOUT)
/**
 * pk_socks_server_get_max_sessions:
 * @self: a #PkSocksServer
 *
 * Returns: the session cap, 0 for none
 */
/**
 * pk_socks_server_set_max_sessions:
 * @self: a #PkSocksServer
 * @max_sessions: the most concurrent sessions, 0 for no limit
 *
 * Sets [property@SocksServer:max-sessions].
 */
DEFINE_UINT_PROPERTY (max_sessions, max_sessions, PROP_MAX_SESSIONS)
/**
 * pk_socks_server_get_max_sessions_per_client:
 * @self: a #PkSocksServer
 *
 * Returns: the per-client session cap, 0 for none
 */
/**
 * pk_socks_server_set_max_sessions_per_client:
 * @self: a #PkSocksServer
 * @max_sessions: the most concurrent sessions per client address, 0 for no limit
 *
 * Sets [property@SocksServer:max-sessions-per-client].
 */
DEFINE_UINT_PROPERTY (max_sessions_per_client, max_sessions_per_client, PROP_MAX_SESSIONS_PER_CLIENT)

/**
 * pk_socks_server_get_udp_advertise_address:
 * @self: a #PkSocksServer
 *
 * Returns: (nullable): the address UDP ASSOCIATE replies advertise
 */
const char *
pk_socks_server_get_udp_advertise_address (PkSocksServer *self)
{
  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), NULL);
  return self->udp_advertise;
}

/**
 * pk_socks_server_set_udp_advertise_address:
 * @self: a #PkSocksServer
 * @address: (nullable): an IPv4 or IPv6 address, or %NULL
 * @error: return location for a #GError
 *
 * Sets [property@SocksServer:udp-advertise-address].
 *
 * Returns: %TRUE, or %FALSE if @address is not an IP address
 */
gboolean
pk_socks_server_set_udp_advertise_address (PkSocksServer  *self,
                                           const char     *address,
                                           GError        **error)
{
  g_autoptr(GInetAddress) inet = NULL;

  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), FALSE);

  if (address != NULL && *address == '\0')
    address = NULL;
  if (g_strcmp0 (address, self->udp_advertise) == 0)
    return TRUE;
  if (address != NULL && (inet = g_inet_address_new_from_string (address)) == NULL)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                   "UDP advertise address '%s' is not an IPv4 or IPv6 address", address);
      return FALSE;
    }

  g_mutex_lock (&self->lock);
  g_free (self->udp_advertise);
  self->udp_advertise = g_strdup (address);
  g_set_object (&self->udp_advertise_inet, inet);
  g_mutex_unlock (&self->lock);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UDP_ADVERTISE_ADDRESS]);
  return TRUE;
}

/**
 * pk_socks_server_get_allow_host_destinations:
 * @self: a #PkSocksServer
 *
 * Returns: whether destinations on the host itself are allowed
 */
gboolean
pk_socks_server_get_allow_host_destinations (PkSocksServer *self)
{
  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), FALSE);
  return self->allow_host_destinations;
}

/**
 * pk_socks_server_set_allow_host_destinations:
 * @self: a #PkSocksServer
 * @allow: whether to allow them
 *
 * Sets [property@SocksServer:allow-host-destinations].
 */
void
pk_socks_server_set_allow_host_destinations (PkSocksServer *self,
                                             gboolean       allow)
{
  g_return_if_fail (PK_IS_SOCKS_SERVER (self));

  allow = !!allow;
  if (self->allow_host_destinations == allow)
    return;
  self->allow_host_destinations = allow;
  rebuild_policy (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ALLOW_HOST_DESTINATIONS]);
}

/* --- access policy --- */

/* 127.0.0.0/8, ::1, the unspecified addresses (a connect to 0.0.0.0 reaches
 * the host too) and every address on the host's interfaces now. */
static GPtrArray *
host_destinations (void)
{
  GPtrArray *list = pk_parse_cidr_list ("127.0.0.0/8 0.0.0.0/8 ::1/128 ::/128", NULL);
  struct ifaddrs *ifap = NULL;

  if (getifaddrs (&ifap) < 0)
    {
      g_warning ("cannot list the host's addresses (getifaddrs: %s): only loopback is denied",
                 g_strerror (errno));
      return list;
    }

  for (struct ifaddrs *ifa = ifap; ifa != NULL; ifa = ifa->ifa_next)
    {
      g_autoptr(GSocketAddress) sa = NULL;
      GInetAddress *inet;
      gsize len;

      if (ifa->ifa_addr == NULL)
        continue;
      if (ifa->ifa_addr->sa_family == AF_INET)
        len = sizeof (struct sockaddr_in);
      else if (ifa->ifa_addr->sa_family == AF_INET6)
        len = sizeof (struct sockaddr_in6);
      else
        continue;
      sa = g_socket_address_new_from_native (ifa->ifa_addr, len);
      if (sa == NULL)
        continue;
      inet = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (sa));
      g_ptr_array_add (list, g_inet_address_mask_new (inet, g_inet_address_get_family (inet) ==
                                                            G_SOCKET_FAMILY_IPV6 ? 128 : 32, NULL));
    }
  freeifaddrs (ifap);
  return list;
}

static GHashTable *
copy_users (GHashTable *a,
            GHashTable *b)
{
  GHashTable *users = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GHashTable *sources[] = { a, b };

  for (guint i = 0; i < G_N_ELEMENTS (sources); i++)
    {
      GHashTableIter iter;
      gpointer key, value;

      g_hash_table_iter_init (&iter, sources[i]);
      while (g_hash_table_iter_next (&iter, &key, &value))
        g_hash_table_replace (users, g_strdup (key), g_strdup (value));
    }
  return users;
}

/* Called with the lock not held: builds a new policy from the current
 * settings and swaps it in. */
static void
rebuild_policy (PkSocksServer *self)
{
  PkSocksPolicy *policy = g_atomic_rc_box_new0 (PkSocksPolicy);
  PkSocksPolicy *old;

  g_mutex_lock (&self->lock);
  policy->users = copy_users (self->file_users, self->inline_users);
  policy->allow = self->allow != NULL ? g_ptr_array_ref (self->allow) : NULL;
  policy->deny = self->deny != NULL ? g_ptr_array_ref (self->deny) : NULL;
  if (self->non_loopback && !self->allow_host_destinations)
    policy->deny_host = host_destinations ();
  old = self->policy;
  self->policy = policy;
  g_mutex_unlock (&self->lock);

  if (old != NULL)
    pk_socks_policy_unref (old);
}

static gboolean
add_user_line (GHashTable  *users,
               const char  *line,
               const char  *origin,
               guint        lineno,
               GError     **error)
{
  const char *colon = strchr (line, ':');
  gsize ulen;

  if (colon == NULL || colon == line || colon[1] == '\0')
    {
      if (lineno > 0)
        g_set_error (error, PK_ERROR, PK_ERROR_CONFIG,
                     "%s:%u: expected user:password", origin, lineno);
      else
        g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                     "user entry '%s': expected user:password", line);
      return FALSE;
    }
  ulen = colon - line;
  if (ulen > 255 || strlen (colon + 1) > 255)
    {
      if (lineno > 0)
        g_set_error (error, PK_ERROR, PK_ERROR_CONFIG,
                     "%s:%u: user name and password must be at most 255 bytes each", origin, lineno);
      else
        g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                     "user entry for '%.*s': user name and password must be at most 255 bytes each",
                     (int) MIN (ulen, 64), line);
      return FALSE;
    }
  g_hash_table_replace (users, g_strndup (line, ulen), g_strdup (colon + 1));
  return TRUE;
}

static GHashTable *
load_users_file (const char  *path,
                 GError     **error)
{
  g_autoptr(GHashTable) users = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GError) local_error = NULL;

  if (!g_file_get_contents (path, &contents, NULL, &local_error))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_CONFIG, "users file: %s", local_error->message);
      return NULL;
    }

  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *line = g_strstrip (lines[i]);

      if (*line == '\0' || *line == '#')
        continue;
      if (!add_user_line (users, line, path, i + 1, error))
        return NULL;
    }

  return g_steal_pointer (&users);
}

/**
 * pk_socks_server_set_users_file:
 * @self: a #PkSocksServer
 * @path: (nullable): a file with one `user:password` per line (`#`
 *   comments and blank lines are skipped), or %NULL for none
 * @error: return location for a #GError
 *
 * Loads users from @path, which pk_socks_server_reload() reads again.
 * While the server has any user, clients must authenticate.
 *
 * Returns: %TRUE, or %FALSE with @error set (%PK_ERROR_CONFIG naming the
 *   file and line); the users are unchanged then
 */
gboolean
pk_socks_server_set_users_file (PkSocksServer  *self,
                                const char     *path,
                                GError        **error)
{
  g_autoptr(GHashTable) users = NULL;

  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), FALSE);

  if (path != NULL)
    {
      users = load_users_file (path, error);
      if (users == NULL)
        return FALSE;
    }
  else
    users = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  g_mutex_lock (&self->lock);
  g_free (self->users_file);
  self->users_file = g_strdup (path);
  g_hash_table_unref (self->file_users);
  self->file_users = g_steal_pointer (&users);
  g_mutex_unlock (&self->lock);
  rebuild_policy (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AUTH_REQUIRED]);
  return TRUE;
}

/**
 * pk_socks_server_get_users_file:
 * @self: a #PkSocksServer
 *
 * Returns: (nullable): the users file
 */
const char *
pk_socks_server_get_users_file (PkSocksServer *self)
{
  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), NULL);
  return self->users_file;
}

/**
 * pk_socks_server_set_users:
 * @self: a #PkSocksServer
 * @users: (array zero-terminated=1) (nullable): `user:password` entries
 * @error: return location for a #GError
 *
 * Replaces the inline users (those not from the users file).
 *
 * Returns: %TRUE, or %FALSE if an entry is malformed (nothing changes then)
 */
gboolean
pk_socks_server_set_users (PkSocksServer      *self,
                           const char * const *users,
                           GError            **error)
{
  g_autoptr(GHashTable) table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), FALSE);

  for (guint i = 0; users != NULL && users[i] != NULL; i++)
    if (!add_user_line (table, users[i], NULL, 0, error))
      return FALSE;

  g_mutex_lock (&self->lock);
  g_hash_table_unref (self->inline_users);
  self->inline_users = g_steal_pointer (&table);
  g_mutex_unlock (&self->lock);
  rebuild_policy (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AUTH_REQUIRED]);
  return TRUE;
}

/**
 * pk_socks_server_get_auth_required:
 * @self: a #PkSocksServer
 *
 * Returns: %TRUE if clients must authenticate
 */
gboolean
pk_socks_server_get_auth_required (PkSocksServer *self)
{
  gboolean required;

  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), FALSE);

  g_mutex_lock (&self->lock);
  required = g_hash_table_size (self->policy->users) > 0;
  g_mutex_unlock (&self->lock);
  return required;
}

static gboolean
set_cidr_list (PkSocksServer  *self,
               GPtrArray     **field,
               const char     *cidrs,
               const char     *what,
               GError        **error)
{
  g_autoptr(GPtrArray) list = NULL;

  if (cidrs != NULL)
    {
      list = pk_parse_cidr_list (cidrs, error);
      if (list == NULL)
        {
          g_prefix_error (error, "%s: ", what);
          return FALSE;
        }
    }

  g_mutex_lock (&self->lock);
  g_clear_pointer (field, g_ptr_array_unref);
  *field = g_steal_pointer (&list);
  g_mutex_unlock (&self->lock);
  rebuild_policy (self);
  return TRUE;
}

/**
 * pk_socks_server_set_allowlist:
 * @self: a #PkSocksServer
 * @cidrs: (nullable): client CIDRs separated by commas or spaces, or
 *   %NULL to let every client in
 * @error: return location for a #GError
 *
 * Sets which client addresses may use the server; others get 0x02 to
 * their request. Live sessions are not affected.
 *
 * Returns: %TRUE, or %FALSE if @cidrs is malformed (nothing changes then)
 */
gboolean
pk_socks_server_set_allowlist (PkSocksServer  *self,
                               const char     *cidrs,
                               GError        **error)
{
  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), FALSE);
  return set_cidr_list (self, &self->allow, cidrs, "client allowlist", error);
}

/**
 * pk_socks_server_set_denylist:
 * @self: a #PkSocksServer
 * @cidrs: (nullable): destination CIDRs, or %NULL for none
 * @error: return location for a #GError
 *
 * Sets which destinations are refused (0x02), on top of the host's own
 * addresses (see [property@SocksServer:allow-host-destinations]).
 *
 * Returns: %TRUE, or %FALSE if @cidrs is malformed (nothing changes then)
 */
gboolean
pk_socks_server_set_denylist (PkSocksServer  *self,
                              const char     *cidrs,
                              GError        **error)
{
  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), FALSE);
  return set_cidr_list (self, &self->deny, cidrs, "destination denylist", error);
}

/**
 * pk_socks_server_has_allowlist:
 * @self: a #PkSocksServer
 *
 * Returns: %TRUE if a client allowlist is set
 */
gboolean
pk_socks_server_has_allowlist (PkSocksServer *self)
{
  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), FALSE);
  return self->allow != NULL;
}

/**
 * pk_socks_server_reload:
 * @self: a #PkSocksServer
 * @error: return location for a #GError
 *
 * Reads the users file again and refreshes the list of the host's own
 * addresses. Live sessions keep running under the policy they started
 * with; new sessions use the new one. On error the old users stay.
 *
 * Returns: %TRUE, or %FALSE with @error set
 */
gboolean
pk_socks_server_reload (PkSocksServer  *self,
                        GError        **error)
{
  g_autofree char *path = NULL;

  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), FALSE);

  g_mutex_lock (&self->lock);
  path = g_strdup (self->users_file);
  g_mutex_unlock (&self->lock);

  if (path != NULL)
    return pk_socks_server_set_users_file (self, path, error);

  rebuild_policy (self);
  return TRUE;
}

/* --- sessions --- */

PkSocksSessionConfig *
pk_socks_server_dup_session_config (PkSocksServer *self)
{
  PkSocksSessionConfig *config = g_new0 (PkSocksSessionConfig, 1);

  g_mutex_lock (&self->lock);
  config->name = g_strdup (self->name);
  config->policy = pk_socks_policy_ref (self->policy);
  config->egress = g_object_ref (self->egress);
  config->udp_advertise = self->udp_advertise_inet ? g_object_ref (self->udp_advertise_inet) : NULL;
  g_mutex_unlock (&self->lock);
  config->handshake_timeout_ms = g_atomic_int_get (&self->handshake_timeout_ms);
  config->connect_timeout_ms = g_atomic_int_get (&self->connect_timeout_ms);
  config->resolve_timeout_ms = g_atomic_int_get (&self->resolve_timeout_ms);
  config->idle_timeout_ms = g_atomic_int_get (&self->idle_timeout_ms);
  config->udp_idle_timeout_ms = g_atomic_int_get (&self->udp_idle_timeout_ms);
  return config;
}

char *
pk_socks_server_take_slot (PkSocksServer *self,
                           GInetAddress  *client)
{
  g_autofree char *key = g_inet_address_to_string (client);
  guint per_client, max, max_per_client;

  max = g_atomic_int_get (&self->max_sessions);
  max_per_client = g_atomic_int_get (&self->max_sessions_per_client);

  g_mutex_lock (&self->lock);
  per_client = GPOINTER_TO_UINT (g_hash_table_lookup (self->per_client, key));
  if (max > 0 && self->n_active >= max)
    {
      g_mutex_unlock (&self->lock);
      return g_strdup_printf ("listener has %u sessions (max-sessions)", max);
    }
  if (max_per_client > 0 && per_client >= max_per_client)
    {
      g_mutex_unlock (&self->lock);
      return g_strdup_printf ("client has %u sessions (max-sessions-per-client)", max_per_client);
    }
  self->n_active++;
  g_hash_table_replace (self->per_client, g_steal_pointer (&key), GUINT_TO_POINTER (per_client + 1));
  g_mutex_unlock (&self->lock);
  return NULL;
}

static gboolean
stop_complete_cb (gpointer data)
{
  g_autoptr(GTask) task = data;
  PkSocksServer *self = g_task_get_source_object (task);

  if (self->stop_deadline != NULL)
    {
      g_source_destroy (self->stop_deadline);
      g_clear_pointer (&self->stop_deadline, g_source_unref);
    }
  if (self->stop_user_handler != 0)
    g_cancellable_disconnect (self->stop_user_cancellable, self->stop_user_handler);
  self->stop_user_handler = 0;
  g_clear_object (&self->stop_user_cancellable);
  g_task_return_boolean (task, TRUE);
  return G_SOURCE_REMOVE;
}

void
pk_socks_server_release_slot (PkSocksServer *self,
                              GInetAddress  *client)
{
  g_autofree char *key = g_inet_address_to_string (client);
  guint per_client;
  GTask *stop_task = NULL;

  g_mutex_lock (&self->lock);
  per_client = GPOINTER_TO_UINT (g_hash_table_lookup (self->per_client, key));
  if (per_client <= 1)
    g_hash_table_remove (self->per_client, key);
  else
    g_hash_table_replace (self->per_client, g_steal_pointer (&key), GUINT_TO_POINTER (per_client - 1));
  g_assert (self->n_active > 0);
  self->n_active--;
  if (self->n_active == 0 && self->stop_task != NULL)
    stop_task = g_steal_pointer (&self->stop_task);
  g_mutex_unlock (&self->lock);

  if (stop_task != NULL)
    g_main_context_invoke (g_task_get_context (stop_task), stop_complete_cb, stop_task);
}

void
pk_socks_server_session_ended (PkSocksServer *self,
                               guint          result,
                               guint64        bytes_up,
                               guint64        bytes_down)
{
  __atomic_add_fetch (&self->sessions_total, 1, __ATOMIC_RELAXED);
  __atomic_add_fetch (&self->bytes_up, bytes_up, __ATOMIC_RELAXED);
  __atomic_add_fetch (&self->bytes_down, bytes_down, __ATOMIC_RELAXED);
  if (result < PK_SOCKS_RESULT_N)
    __atomic_add_fetch (&self->results[result], 1, __ATOMIC_RELAXED);
}

GCancellable *
pk_socks_server_get_stop_cancellable (PkSocksServer *self)
{
  return self->stop_cancellable;
}

void
pk_socks_server_handle_client (PkSocksServer *self,
                               GSocket       *client)
{
  g_return_if_fail (PK_IS_SOCKS_SERVER (self));
  g_return_if_fail (G_IS_SOCKET (client));

  if (g_cancellable_is_cancelled (self->stop_cancellable) || self->stopping)
    {
      g_socket_close (client, NULL);
      return;
    }
  pk_socks_session_start (self, client);
}

/* --- listening --- */

static gboolean accept_cb (GSocket *socket, GIOCondition condition, gpointer data);

static void
listener_watch (Listener *listener)
{
  listener->source = g_socket_create_source (listener->socket, G_IO_IN, NULL);
  g_source_set_callback (listener->source, G_SOURCE_FUNC (accept_cb), listener, NULL);
  g_source_set_static_name (listener->source, "[proxykit] socks accept");
  g_source_attach (listener->source, listener->context);
}

static gboolean
backoff_done_cb (gpointer data)
{
  Listener *listener = data;

  g_clear_pointer (&listener->backoff, g_source_unref);
  listener_watch (listener);
  return G_SOURCE_REMOVE;
}

static gboolean
accept_cb (GSocket      *socket,
           GIOCondition  condition,
           gpointer      data)
{
  Listener *listener = data;
  PkSocksServer *self = listener->server;

  /* A bounded batch, so that one busy listener cannot starve the rest of
   * the main context. */
  for (guint i = 0; i < 64; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GSocket) client = g_socket_accept (socket, NULL, &error);

      if (client != NULL)
        {
          g_socket_set_blocking (client, FALSE);
          pk_socks_server_handle_client (self, client);
          continue;
        }

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        break;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES) ||
          g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE))
        {
          /* Out of descriptors: the pending connection stays in the
           * backlog, so the socket stays readable and a plain retry would
           * spin. Pause until sessions have had time to end. */
          g_warning ("socks%s%s%s: cannot accept: %s; pausing accepts for %u ms",
                     self->name ? "[" : "", self->name ? self->name : "", self->name ? "]" : "",
                     error->message, ACCEPT_BACKOFF_MS);
          g_source_destroy (listener->source);
          g_clear_pointer (&listener->source, g_source_unref);
          listener->backoff = g_timeout_source_new (ACCEPT_BACKOFF_MS);
          g_source_set_callback (listener->backoff, backoff_done_cb, listener, NULL);
          g_source_set_static_name (listener->backoff, "[proxykit] socks accept backoff");
          g_source_attach (listener->backoff, listener->context);
          return G_SOURCE_REMOVE;
        }

      /* ECONNABORTED and the like concern one client only. */
      g_debug ("socks accept: %s", error->message);
    }

  return G_SOURCE_CONTINUE;
}

static gboolean
address_is_loopback (GSocketAddress *address)
{
  GInetAddress *inet;

  if (!G_IS_INET_SOCKET_ADDRESS (address))
    return FALSE;
  inet = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address));
  return g_inet_address_get_is_loopback (inet);
}

/**
 * pk_socks_server_add_socket:
 * @self: a #PkSocksServer
 * @socket: a bound, listening TCP socket
 * @error: return location for a #GError
 *
 * Serves clients that connect to @socket (for example one passed by
 * systemd), in the thread-default main context of the caller.
 *
 * Returns: %TRUE, or %FALSE with @error set
 */
gboolean
pk_socks_server_add_socket (PkSocksServer  *self,
                            GSocket        *socket,
                            GError        **error)
{
  g_autoptr(GSocketAddress) local = NULL;
  Listener *listener;
  gboolean was_non_loopback;

  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), FALSE);
  g_return_val_if_fail (G_IS_SOCKET (socket), FALSE);

  if (self->stopping)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_STATE, "the SOCKS server is stopping");
      return FALSE;
    }

  local = g_socket_get_local_address (socket, error);
  if (local == NULL)
    return FALSE;

  g_socket_set_blocking (socket, FALSE);

  listener = g_new0 (Listener, 1);
  listener->server = self;
  listener->socket = g_object_ref (socket);
  listener->context = g_main_context_ref_thread_default ();
  g_ptr_array_add (self->listeners, listener);
  listener_watch (listener);

  was_non_loopback = self->non_loopback;
  self->non_loopback |= !address_is_loopback (local);
  if (self->non_loopback != was_non_loopback)
    rebuild_policy (self);

  return TRUE;
}

/**
 * pk_socks_server_listen:
 * @self: a #PkSocksServer
 * @address: "ADDRESS:PORT" (`127.0.0.1:1080`, `[::]:1080`, port 0 for
 *   any free port; a bare address means port 1080)
 * @error: return location for a #GError
 *
 * Binds a listening socket and serves it in the thread-default main
 * context of the caller. A server can listen on several addresses; they
 * share its policy, egress and counters.
 *
 * Returns: %TRUE, or %FALSE with @error set naming @address
 */
gboolean
pk_socks_server_listen (PkSocksServer  *self,
                        const char     *address,
                        GError        **error)
{
  g_autoptr(GSocketAddress) sa = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), FALSE);
  g_return_val_if_fail (address != NULL, FALSE);

  /* Port 0 (any free port) is fine for a listener, though not for a
   * destination, which is what the shared parser is for. */
  if (g_str_has_suffix (address, ":0") && strlen (address) > 2)
    {
      g_autofree char *host = g_strndup (address, strlen (address) - 2);
      g_autoptr(GSocketAddress) with_port = pk_parse_socket_address (host, 1080, error);

      if (with_port == NULL)
        return FALSE;
      sa = g_inet_socket_address_new (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (with_port)), 0);
    }
  else
    sa = pk_parse_socket_address (address, 1080, error);
  if (sa == NULL)
    return FALSE;

  socket = g_socket_new (g_socket_address_get_family (sa), G_SOCKET_TYPE_STREAM,
                         G_SOCKET_PROTOCOL_TCP, &local_error);
  if (socket == NULL ||
      !g_socket_bind (socket, sa, TRUE, &local_error) ||
      (g_socket_set_listen_backlog (socket, 1024), !g_socket_listen (socket, &local_error)))
    {
      g_set_error (error, local_error->domain, local_error->code,
                   "cannot listen on %s: %s", address, local_error->message);
      return FALSE;
    }

  return pk_socks_server_add_socket (self, socket, error);
}

/**
 * pk_socks_server_get_port:
 * @self: a #PkSocksServer
 *
 * Returns: the port of the first listening socket, or 0 if there is none
 */
guint16
pk_socks_server_get_port (PkSocksServer *self)
{
  Listener *listener;
  g_autoptr(GSocketAddress) local = NULL;

  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), 0);

  if (self->listeners->len == 0)
    return 0;
  listener = g_ptr_array_index (self->listeners, 0);
  local = g_socket_get_local_address (listener->socket, NULL);
  if (local == NULL || !G_IS_INET_SOCKET_ADDRESS (local))
    return 0;
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
}

/**
 * pk_socks_server_dup_listen_addresses:
 * @self: a #PkSocksServer
 *
 * Returns: (transfer full) (array zero-terminated=1): the bound addresses,
 *   such as `127.0.0.1:40123` and `[::1]:40123`
 */
char **
pk_socks_server_dup_listen_addresses (PkSocksServer *self)
{
  GStrvBuilder *builder;
  char **result;

  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), NULL);

  builder = g_strv_builder_new ();
  for (guint i = 0; i < self->listeners->len; i++)
    {
      Listener *listener = g_ptr_array_index (self->listeners, i);
      g_autoptr(GSocketAddress) local = g_socket_get_local_address (listener->socket, NULL);

      g_autofree char *str = local != NULL ? pk_format_socket_address (local) : NULL;

      if (str != NULL)
        g_strv_builder_add (builder, str);
    }
  result = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return result;
}

/**
 * pk_socks_server_is_listening_on_loopback_only:
 * @self: a #PkSocksServer
 *
 * Returns: %TRUE if every listening socket is on a loopback address
 */
gboolean
pk_socks_server_is_listening_on_loopback_only (PkSocksServer *self)
{
  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), TRUE);
  return !self->non_loopback;
}

/* --- stopping --- */

static gboolean
stop_deadline_cb (gpointer data)
{
  PkSocksServer *self = data;

  g_clear_pointer (&self->stop_deadline, g_source_unref);
  g_message ("socks%s%s%s: drain deadline reached, closing %u sessions",
             self->name ? "[" : "", self->name ? self->name : "", self->name ? "]" : "",
             pk_socks_server_get_sessions_active (self));
  g_cancellable_cancel (self->stop_cancellable);
  return G_SOURCE_REMOVE;
}

static void
stop_cancelled_cb (GCancellable *cancellable,
                   gpointer      data)
{
  PkSocksServer *self = data;

  g_cancellable_cancel (self->stop_cancellable);
}

/**
 * pk_socks_server_stop_async:
 * @self: a #PkSocksServer
 * @drain_timeout_ms: how long live sessions may go on, 0 to close them now
 * @cancellable: (nullable): cancelling it closes live sessions at once
 * @callback: (scope async): called when every session has ended
 * @user_data: data for @callback
 *
 * Stops accepting clients, lets live sessions finish for up to
 * @drain_timeout_ms, then closes what is left. The server cannot be
 * started again.
 */
void
pk_socks_server_stop_async (PkSocksServer       *self,
                            guint                drain_timeout_ms,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (PK_IS_SOCKS_SERVER (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_socks_server_stop_async);

  self->stopping = TRUE;
  g_ptr_array_set_size (self->listeners, 0);

  g_mutex_lock (&self->lock);
  if (self->n_active == 0 || self->stop_task != NULL)
    {
      /* A second stop does not wait for the first one. */
      g_mutex_unlock (&self->lock);
      g_task_return_boolean (task, TRUE);
      return;
    }
  self->stop_task = g_object_ref (task);
  g_mutex_unlock (&self->lock);

  if (cancellable != NULL)
    {
      /* The task holds the server until the stop completes, which is when
       * this handler goes. */
      self->stop_user_cancellable = g_object_ref (cancellable);
      self->stop_user_handler = g_cancellable_connect (cancellable, G_CALLBACK (stop_cancelled_cb),
                                                       self, NULL);
    }

  if (drain_timeout_ms == 0)
    g_cancellable_cancel (self->stop_cancellable);
  else
    {
      self->stop_deadline = g_timeout_source_new (drain_timeout_ms);
      g_source_set_callback (self->stop_deadline, stop_deadline_cb, self, NULL);
      g_source_set_static_name (self->stop_deadline, "[proxykit] socks drain deadline");
      g_source_attach (self->stop_deadline, g_main_context_get_thread_default ());
    }
}

/**
 * pk_socks_server_stop_finish:
 * @self: a #PkSocksServer
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: %TRUE once every session has ended
 */
gboolean
pk_socks_server_stop_finish (PkSocksServer  *self,
                             GAsyncResult   *result,
                             GError        **error)
{
  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pk_socks_server_stop_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * pk_socks_server_close:
 * @self: a #PkSocksServer
 *
 * Closes the listening sockets and every live session now.
 */
void
pk_socks_server_close (PkSocksServer *self)
{
  g_return_if_fail (PK_IS_SOCKS_SERVER (self));

  self->stopping = TRUE;
  g_ptr_array_set_size (self->listeners, 0);
  g_cancellable_cancel (self->stop_cancellable);
}

/* --- counters --- */

/**
 * pk_socks_server_get_sessions_active:
 * @self: a #PkSocksServer
 *
 * Returns: the number of sessions open now
 */
guint
pk_socks_server_get_sessions_active (PkSocksServer *self)
{
  guint n;

  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), 0);
  g_mutex_lock (&self->lock);
  n = self->n_active;
  g_mutex_unlock (&self->lock);
  return n;
}

/**
 * pk_socks_server_get_sessions_total:
 * @self: a #PkSocksServer
 *
 * Returns: the number of sessions that have ended
 */
guint64
pk_socks_server_get_sessions_total (PkSocksServer *self)
{
  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), 0);
  return __atomic_load_n (&self->sessions_total, __ATOMIC_RELAXED);
}

/**
 * pk_socks_server_get_bytes_up:
 * @self: a #PkSocksServer
 *
 * Returns: bytes from clients to destinations of ended sessions
 */
guint64
pk_socks_server_get_bytes_up (PkSocksServer *self)
{
  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), 0);
  return __atomic_load_n (&self->bytes_up, __ATOMIC_RELAXED);
}

/**
 * pk_socks_server_get_bytes_down:
 * @self: a #PkSocksServer
 *
 * Returns: bytes from destinations to clients of ended sessions
 */
guint64
pk_socks_server_get_bytes_down (PkSocksServer *self)
{
  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), 0);
  return __atomic_load_n (&self->bytes_down, __ATOMIC_RELAXED);
}

/**
 * pk_socks_server_get_stats:
 * @self: a #PkSocksServer
 *
 * A snapshot of the counters as a dictionary (`a{st}`): `sessions-active`,
 * `sessions-total`, `bytes-up`, `bytes-down`, and `result-NAME` for every
 * way a session can end (`result-succeeded`, `result-not-allowed`,
 * `result-connection-refused`, `result-ttl-expired`, `result-auth-failed`,
 * `result-handshake-timeout`, ...).
 *
 * Returns: (transfer full): a floating-free #GVariant of type `a{st}`
 */
GVariant *
pk_socks_server_get_stats (PkSocksServer *self)
{
  GVariantBuilder builder;

  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), NULL);

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{st}"));
  g_variant_builder_add (&builder, "{st}", "sessions-active",
                         (guint64) pk_socks_server_get_sessions_active (self));
  g_variant_builder_add (&builder, "{st}", "sessions-total", pk_socks_server_get_sessions_total (self));
  g_variant_builder_add (&builder, "{st}", "bytes-up", pk_socks_server_get_bytes_up (self));
  g_variant_builder_add (&builder, "{st}", "bytes-down", pk_socks_server_get_bytes_down (self));
  for (guint r = 0; r < PK_SOCKS_RESULT_N; r++)
    {
      g_autofree char *key = NULL;

      if (r > PK_SOCKS_REPLY_ADDRESS_TYPE_NOT_SUPPORTED && r < PK_SOCKS_RESULT_AUTH_FAILED)
        continue;
      key = g_strconcat ("result-", pk_socks_result_to_string (r), NULL);
      g_variant_builder_add (&builder, "{st}", key,
                             (guint64) __atomic_load_n (&self->results[r], __ATOMIC_RELAXED));
    }
  return g_variant_ref_sink (g_variant_builder_end (&builder));
}

/**
 * pk_socks_server_dup_stats_json:
 * @self: a #PkSocksServer
 *
 * The same snapshot as pk_socks_server_get_stats(), as a JSON object
 * with integer values (for scripts and the Python binding).
 *
 * Returns: (transfer full): a JSON object
 */
char *
pk_socks_server_dup_stats_json (PkSocksServer *self)
{
  g_autoptr(GVariant) stats = NULL;
  GVariantIter iter;
  const char *key;
  guint64 value;
  GString *json;
  gboolean first = TRUE;

  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), NULL);

  stats = pk_socks_server_get_stats (self);
  json = g_string_new ("{");
  g_variant_iter_init (&iter, stats);
  while (g_variant_iter_next (&iter, "{&st}", &key, &value))
    {
      g_string_append_printf (json, "%s\"%s\": %" G_GUINT64_FORMAT, first ? "" : ", ", key, value);
      first = FALSE;
    }
  g_string_append_c (json, '}');
  return g_string_free (json, FALSE);
}
