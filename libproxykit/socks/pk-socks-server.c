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
 *
 * Since: 0.1
 */

#include "config.h"

#include "pk-error.h"
#include "pk-access-list-private.h"
#include "pk-prom-private.h"
#include "pk-socks-proto-private.h"
#include "pk-socks-server-private.h"
#include "pk-util-private.h"

#define DEFAULT_HANDSHAKE_TIMEOUT_MS  30000
#define DEFAULT_CONNECT_TIMEOUT_MS   120000
#define DEFAULT_RESOLVE_TIMEOUT_MS    30000
#define DEFAULT_IDLE_TIMEOUT_MS      600000
#define DEFAULT_UDP_IDLE_TIMEOUT_MS  120000

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
  PROP_ALLOW_OPEN,
  PROP_AUTH_REQUIRED,
  PROP_SESSIONS_ACTIVE,
  PROP_SESSIONS_TOTAL,
  PROP_BYTES_UP,
  PROP_BYTES_DOWN,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* --- GObject --- */


static void
pk_socks_server_dispose (GObject *object)
{
  PkSocksServer *self = PK_SOCKS_SERVER (object);

  g_ptr_array_set_size (self->listeners, 0);
  pk_socks_server_set_allow_access_list (self, NULL);
  pk_socks_server_set_deny_access_list (self, NULL);

  G_OBJECT_CLASS (pk_socks_server_parent_class)->dispose (object);
}

static void
pk_socks_server_finalize (GObject *object)
{
  PkSocksServer *self = PK_SOCKS_SERVER (object);

  g_ptr_array_unref (self->listeners);
  g_clear_object (&self->workers);
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
    case PROP_ALLOW_OPEN:
      g_value_set_boolean (value, self->allow_open);
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
    case PROP_ALLOW_OPEN:
      pk_socks_server_set_allow_open (self, g_value_get_boolean (value));
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
   * PkSocksServer:name:
   *
   * The listener's name in logs, for example the `11` of `[socks:11]`.
   *
   * Since: 0.1
   */
  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * PkSocksServer:egress:
   *
   * The egress every outbound connection and UDP datagram leaves by.
   *
   * Since: 0.1
   */
  properties[PROP_EGRESS] =
    g_param_spec_object ("egress", NULL, NULL, PK_TYPE_EGRESS,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * PkSocksServer:handshake-timeout:
   *
   * Milliseconds a client has from connecting to sending its request
   * (greeting and authentication included); 0 for none.
   *
   * Since: 0.1
   */
  properties[PROP_HANDSHAKE_TIMEOUT] = timeout_pspec ("handshake-timeout", DEFAULT_HANDSHAKE_TIMEOUT_MS);
  /**
   * PkSocksServer:connect-timeout:
   *
   * Milliseconds for resolving and connecting to a destination; 0 for none.
   *
   * Since: 0.1
   */
  properties[PROP_CONNECT_TIMEOUT] = timeout_pspec ("connect-timeout", DEFAULT_CONNECT_TIMEOUT_MS);
  /**
   * PkSocksServer:resolve-timeout:
   *
   * Milliseconds for resolving a destination name (within the connect
   * timeout); 0 for none.
   *
   * Since: 0.1
   */
  properties[PROP_RESOLVE_TIMEOUT] = timeout_pspec ("resolve-timeout", DEFAULT_RESOLVE_TIMEOUT_MS);
  /**
   * PkSocksServer:idle-timeout:
   *
   * Milliseconds without a byte in either direction after which a
   * connection is closed; 0 for none.
   *
   * Since: 0.1
   */
  properties[PROP_IDLE_TIMEOUT] = timeout_pspec ("idle-timeout", DEFAULT_IDLE_TIMEOUT_MS);
  /**
   * PkSocksServer:udp-idle-timeout:
   *
   * Milliseconds without a datagram after which a UDP association ends;
   * 0 for none.
   *
   * Since: 0.1
   */
  properties[PROP_UDP_IDLE_TIMEOUT] = timeout_pspec ("udp-idle-timeout", DEFAULT_UDP_IDLE_TIMEOUT_MS);
  /**
   * PkSocksServer:max-sessions:
   *
   * The most concurrent sessions; 0 for no limit.
   *
   * Since: 0.1
   */
  properties[PROP_MAX_SESSIONS] =
    g_param_spec_uint ("max-sessions", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * PkSocksServer:max-sessions-per-client:
   *
   * The most concurrent sessions from one client address; 0 for no limit.
   *
   * Since: 0.1
   */
  properties[PROP_MAX_SESSIONS_PER_CLIENT] =
    g_param_spec_uint ("max-sessions-per-client", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * PkSocksServer:udp-advertise-address:
   *
   * The address a UDP ASSOCIATE reply tells clients to send datagrams to,
   * for a server behind NAT; %NULL for the local address of the client's
   * TCP connection.
   *
   * Since: 0.1
   */
  properties[PROP_UDP_ADVERTISE_ADDRESS] =
    g_param_spec_string ("udp-advertise-address", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * PkSocksServer:allow-host-destinations:
   *
   * Whether a listener on a non-loopback address may connect to the host
   * itself (127.0.0.0/8, ::1 and the host's own addresses). Off by
   * default, so that an exposed proxy is no way into local services. The
   * host's addresses are those it holds when a session asks (followed
   * through rtnetlink), not those it held at start.
   *
   * Since: 0.1
   */
  properties[PROP_ALLOW_HOST_DESTINATIONS] =
    g_param_spec_boolean ("allow-host-destinations", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * PkSocksServer:allow-open:
   *
   * Whether the server may listen on a non-loopback address with neither
   * users nor a client allowlist, where anyone who reaches it could use
   * it. Off by default: `pk_socks_server_listen()` refuses such a listener
   * with %PK_ERROR_NOT_ALLOWED.
   *
   * Since: 0.2
   */
  properties[PROP_ALLOW_OPEN] =
    g_param_spec_boolean ("allow-open", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * PkSocksServer:auth-required:
   *
   * Whether clients must authenticate (users are configured).
   *
   * Since: 0.1
   */
  properties[PROP_AUTH_REQUIRED] =
    g_param_spec_boolean ("auth-required", NULL, NULL, FALSE, ro);
  /**
   * PkSocksServer:sessions-active:
   *
   * Sessions open now (read on demand; not notified).
   *
   * Since: 0.1
   */
  properties[PROP_SESSIONS_ACTIVE] =
    g_param_spec_uint ("sessions-active", NULL, NULL, 0, G_MAXUINT, 0, ro);
  /**
   * PkSocksServer:sessions-total:
   *
   * Sessions ended since the server was created (read on demand).
   *
   * Since: 0.1
   */
  properties[PROP_SESSIONS_TOTAL] =
    g_param_spec_uint64 ("sessions-total", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  /**
   * PkSocksServer:bytes-up:
   *
   * Bytes from clients to destinations, counted when sessions end.
   *
   * Since: 0.1
   */
  properties[PROP_BYTES_UP] =
    g_param_spec_uint64 ("bytes-up", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  /**
   * PkSocksServer:bytes-down:
   *
   * Bytes from destinations to clients, counted when sessions end.
   *
   * Since: 0.1
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
  self->inline_users = pk_socks_users_new ();
  self->file_users = pk_socks_users_new ();
  self->listeners = g_ptr_array_new_with_free_func (pk_socks_listener_free);
  self->per_client = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->stop_cancellable = g_cancellable_new ();
  pk_socks_server_rebuild_policy (self);
}

/**
 * pk_socks_server_new:
 *
 * Creates a server with no listening socket, the default egress, no
 * users and no allowlist. Add listening sockets with
 * [method@SocksServer.listen].
 *
 * Returns: (transfer full): a new [class@SocksServer]
 *
 * Since: 0.1
 */
PkSocksServer *
pk_socks_server_new (void)
{
  return g_object_new (PK_TYPE_SOCKS_SERVER, NULL);
}

/* --- simple properties --- */

/**
 * pk_socks_server_get_name:
 * @self: a [class@SocksServer]
 *
 * Gets the name in logs.
 *
 * Returns: (nullable): the name in logs
 *
 * Since: 0.1
 */
const char *
pk_socks_server_get_name (PkSocksServer *self)
{
  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), NULL);
  return self->name;
}

/**
 * pk_socks_server_set_name:
 * @self: a [class@SocksServer]
 * @name: (nullable): the name in logs
 *
 * Names the listener in its log lines.
 *
 * Since: 0.1
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
 * @self: a [class@SocksServer]
 *
 * Gets the egress.
 *
 * Returns: (transfer none): the egress
 *
 * Since: 0.1
 */
PkEgress *
pk_socks_server_get_egress (PkSocksServer *self)
{
  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), NULL);
  return self->egress;
}

/**
 * pk_socks_server_set_egress:
 * @self: a [class@SocksServer]
 * @egress: (nullable): an egress, or %NULL for the default one
 *
 * Sets the egress of sessions that start from now on.
 *
 * Since: 0.1
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
 * @self: a [class@SocksServer]
 *
 * Gets the handshake timeout in milliseconds.
 *
 * Returns: the handshake timeout in milliseconds
 *
 * Since: 0.1
 */
/**
 * pk_socks_server_set_handshake_timeout:
 * @self: a [class@SocksServer]
 * @timeout_ms: milliseconds, 0 for none
 *
 * Sets [property@SocksServer:handshake-timeout].
 *
 * Since: 0.1
 */
DEFINE_UINT_PROPERTY (handshake_timeout, handshake_timeout_ms, PROP_HANDSHAKE_TIMEOUT)
/**
 * pk_socks_server_get_connect_timeout:
 * @self: a [class@SocksServer]
 *
 * Gets the connect timeout in milliseconds.
 *
 * Returns: the connect timeout in milliseconds
 *
 * Since: 0.1
 */
/**
 * pk_socks_server_set_connect_timeout:
 * @self: a [class@SocksServer]
 * @timeout_ms: milliseconds, 0 for none
 *
 * Sets [property@SocksServer:connect-timeout].
 *
 * Since: 0.1
 */
DEFINE_UINT_PROPERTY (connect_timeout, connect_timeout_ms, PROP_CONNECT_TIMEOUT)
/**
 * pk_socks_server_get_resolve_timeout:
 * @self: a [class@SocksServer]
 *
 * Gets the resolve timeout in milliseconds.
 *
 * Returns: the resolve timeout in milliseconds
 *
 * Since: 0.1
 */
/**
 * pk_socks_server_set_resolve_timeout:
 * @self: a [class@SocksServer]
 * @timeout_ms: milliseconds, 0 for none
 *
 * Sets [property@SocksServer:resolve-timeout].
 *
 * Since: 0.1
 */
DEFINE_UINT_PROPERTY (resolve_timeout, resolve_timeout_ms, PROP_RESOLVE_TIMEOUT)
/**
 * pk_socks_server_get_idle_timeout:
 * @self: a [class@SocksServer]
 *
 * Gets the idle timeout in milliseconds.
 *
 * Returns: the idle timeout in milliseconds
 *
 * Since: 0.1
 */
/**
 * pk_socks_server_set_idle_timeout:
 * @self: a [class@SocksServer]
 * @timeout_ms: milliseconds, 0 for none
 *
 * Sets [property@SocksServer:idle-timeout].
 *
 * Since: 0.1
 */
DEFINE_UINT_PROPERTY (idle_timeout, idle_timeout_ms, PROP_IDLE_TIMEOUT)
/**
 * pk_socks_server_get_udp_idle_timeout:
 * @self: a [class@SocksServer]
 *
 * Gets the UDP association idle timeout in milliseconds.
 *
 * Returns: the UDP association idle timeout in milliseconds
 *
 * Since: 0.1
 */
/**
 * pk_socks_server_set_udp_idle_timeout:
 * @self: a [class@SocksServer]
 * @timeout_ms: milliseconds, 0 for none
 *
 * Sets [property@SocksServer:udp-idle-timeout].
 *
 * Since: 0.1
 */
DEFINE_UINT_PROPERTY (udp_idle_timeout, udp_idle_timeout_ms, PROP_UDP_IDLE_TIMEOUT)
/**
 * pk_socks_server_get_max_sessions:
 * @self: a [class@SocksServer]
 *
 * Gets the session cap, 0 for none.
 *
 * Returns: the session cap, 0 for none
 *
 * Since: 0.1
 */
/**
 * pk_socks_server_set_max_sessions:
 * @self: a [class@SocksServer]
 * @max_sessions: the most concurrent sessions, 0 for no limit
 *
 * Sets [property@SocksServer:max-sessions].
 *
 * Since: 0.1
 */
DEFINE_UINT_PROPERTY (max_sessions, max_sessions, PROP_MAX_SESSIONS)
/**
 * pk_socks_server_get_max_sessions_per_client:
 * @self: a [class@SocksServer]
 *
 * Gets the per-client session cap, 0 for none.
 *
 * Returns: the per-client session cap, 0 for none
 *
 * Since: 0.1
 */
/**
 * pk_socks_server_set_max_sessions_per_client:
 * @self: a [class@SocksServer]
 * @max_sessions: the most concurrent sessions per client address, 0 for no limit
 *
 * Sets [property@SocksServer:max-sessions-per-client].
 *
 * Since: 0.1
 */
DEFINE_UINT_PROPERTY (max_sessions_per_client, max_sessions_per_client, PROP_MAX_SESSIONS_PER_CLIENT)

/**
 * pk_socks_server_get_udp_advertise_address:
 * @self: a [class@SocksServer]
 *
 * Gets the address UDP ASSOCIATE replies advertise.
 *
 * Returns: (nullable): the address UDP ASSOCIATE replies advertise
 *
 * Since: 0.1
 */
const char *
pk_socks_server_get_udp_advertise_address (PkSocksServer *self)
{
  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), NULL);
  return self->udp_advertise;
}

/**
 * pk_socks_server_set_udp_advertise_address:
 * @self: a [class@SocksServer]
 * @address: (nullable): an IPv4 or IPv6 address, or %NULL
 * @error: return location for a `GError`
 *
 * Sets [property@SocksServer:udp-advertise-address].
 *
 * Returns: %TRUE, or %FALSE if @address is not an IP address
 *
 * Since: 0.1
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
 * @self: a [class@SocksServer]
 *
 * Tells whether destinations on the host itself are allowed.
 *
 * Returns: whether destinations on the host itself are allowed
 *
 * Since: 0.1
 */
gboolean
pk_socks_server_get_allow_host_destinations (PkSocksServer *self)
{
  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), FALSE);
  return self->allow_host_destinations;
}

/**
 * pk_socks_server_set_allow_host_destinations:
 * @self: a [class@SocksServer]
 * @allow: whether to allow them
 *
 * Sets [property@SocksServer:allow-host-destinations].
 *
 * Since: 0.1
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
  pk_socks_server_rebuild_policy (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ALLOW_HOST_DESTINATIONS]);
}

/* --- access policy --- */



/* The CIDRs of a policy: those set (@cidrs, NULL for none) and those of
 * an access list. A list not loaded yet adds nothing, except that with
 * @fail_closed (a client allowlist) its presence alone makes a list:
 * empty until something is loaded, so that no client gets in before. */
static GPtrArray *
merge_cidrs (GPtrArray    *cidrs,
             PkAccessList *list,
             gboolean      fail_closed)
{
  g_autoptr(GPtrArray) masks = list != NULL ? pk_access_list_ref_masks (list) : NULL;
  GPtrArray *merged;

  if (masks == NULL && (list == NULL || !fail_closed || cidrs != NULL))
    return cidrs != NULL ? g_ptr_array_ref (cidrs) : NULL;
  if (cidrs == NULL)
    return masks != NULL ? g_steal_pointer (&masks) : g_ptr_array_new_with_free_func (g_object_unref);
  merged = g_ptr_array_new_full (cidrs->len + masks->len, g_object_unref);
  for (guint i = 0; i < cidrs->len; i++)
    g_ptr_array_add (merged, g_object_ref (g_ptr_array_index (cidrs, i)));
  for (guint i = 0; i < masks->len; i++)
    g_ptr_array_add (merged, g_object_ref (g_ptr_array_index (masks, i)));
  return merged;
}

/* Called with the lock not held: builds a new policy from the current
 * settings and swaps it in. */
void
pk_socks_server_rebuild_policy (PkSocksServer *self)
{
  PkSocksPolicy *policy = g_atomic_rc_box_new0 (PkSocksPolicy);
  PkSocksPolicy *old;

  g_mutex_lock (&self->lock);
  policy->users = pk_socks_users_merge (self->file_users, self->inline_users);
  policy->allow = merge_cidrs (self->allow, self->allow_list, TRUE);
  policy->deny = merge_cidrs (self->deny, self->deny_list, FALSE);
  if (self->non_loopback && !self->allow_host_destinations)
    pk_socks_policy_deny_host (policy);
  old = self->policy;
  self->policy = policy;
  g_mutex_unlock (&self->lock);

  if (old != NULL)
    pk_socks_policy_unref (old);
}



/**
 * pk_socks_server_set_users_file:
 * @self: a [class@SocksServer]
 * @path: (nullable): a file with one `user:password` per line (`#`
 *   comments and blank lines are skipped), or %NULL for none
 * @error: return location for a `GError`
 *
 * Loads users from @path, which [method@SocksServer.reload] reads again.
 * While the server has any user, clients must authenticate.
 *
 * Returns: %TRUE, or %FALSE with @error set (%PK_ERROR_CONFIG naming the
 *   file and line); the users are unchanged then
 *
 * Since: 0.1
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
      users = pk_socks_users_load_file (path, error);
      if (users == NULL)
        return FALSE;
    }
  else
    users = pk_socks_users_new ();

  g_mutex_lock (&self->lock);
  g_free (self->users_file);
  self->users_file = g_strdup (path);
  g_hash_table_unref (self->file_users);
  self->file_users = g_steal_pointer (&users);
  g_mutex_unlock (&self->lock);
  pk_socks_server_rebuild_policy (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AUTH_REQUIRED]);
  return TRUE;
}

/**
 * pk_socks_server_get_users_file:
 * @self: a [class@SocksServer]
 *
 * Gets the users file.
 *
 * Returns: (nullable): the users file
 *
 * Since: 0.1
 */
const char *
pk_socks_server_get_users_file (PkSocksServer *self)
{
  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), NULL);
  return self->users_file;
}

/**
 * pk_socks_server_set_users:
 * @self: a [class@SocksServer]
 * @users: (array zero-terminated=1) (nullable): `user:password` entries
 * @error: return location for a `GError`
 *
 * Replaces the inline users (those not from the users file).
 *
 * Returns: %TRUE, or %FALSE if an entry is malformed (nothing changes then)
 *
 * Since: 0.1
 */
gboolean
pk_socks_server_set_users (PkSocksServer      *self,
                           const char * const *users,
                           GError            **error)
{
  g_autoptr(GHashTable) table = pk_socks_users_new ();

  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), FALSE);

  for (guint i = 0; users != NULL && users[i] != NULL; i++)
    if (!pk_socks_users_add_entry (table, users[i], NULL, 0, error))
      return FALSE;

  g_mutex_lock (&self->lock);
  g_hash_table_unref (self->inline_users);
  self->inline_users = g_steal_pointer (&table);
  g_mutex_unlock (&self->lock);
  pk_socks_server_rebuild_policy (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AUTH_REQUIRED]);
  return TRUE;
}

/**
 * pk_socks_server_get_auth_required:
 * @self: a [class@SocksServer]
 *
 * Tells whether clients must authenticate.
 *
 * Returns: %TRUE if clients must authenticate
 *
 * Since: 0.1
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
  pk_socks_server_rebuild_policy (self);
  return TRUE;
}

/**
 * pk_socks_server_set_allowlist:
 * @self: a [class@SocksServer]
 * @cidrs: (nullable): client CIDRs separated by commas or spaces, or
 *   %NULL to let every client in
 * @error: return location for a `GError`
 *
 * Sets which client addresses may use the server; others get 0x02 to
 * their request. Live sessions are not affected.
 *
 * Returns: %TRUE, or %FALSE if @cidrs is malformed (nothing changes then)
 *
 * Since: 0.1
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
 * @self: a [class@SocksServer]
 * @cidrs: (nullable): destination CIDRs, or %NULL for none
 * @error: return location for a `GError`
 *
 * Sets which destinations are refused (0x02), on top of the host's own
 * addresses (see [property@SocksServer:allow-host-destinations]).
 *
 * Returns: %TRUE, or %FALSE if @cidrs is malformed (nothing changes then)
 *
 * Since: 0.1
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
 * @self: a [class@SocksServer]
 *
 * Tells whether a client allowlist is set.
 *
 * Returns: %TRUE if a client allowlist is set
 *
 * Since: 0.1
 */
gboolean
pk_socks_server_has_allowlist (PkSocksServer *self)
{
  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), FALSE);
  return self->allow != NULL || self->allow_list != NULL;
}


/**
 * pk_socks_server_reload:
 * @self: a [class@SocksServer]
 * @error: return location for a `GError`
 *
 * Reads the users file again, fetches the access lists again (those the
 * server keeps up to date: see [method@SocksServer.set_allow_access_list])
 * and refreshes the list of the host's own addresses. Live sessions keep running under the policy they started
 * with; new sessions use the new one. On error the old users stay.
 *
 * A reload does not turn authentication off where that would leave a
 * listener on a non-loopback address open to anyone: when the users file
 * now names nobody, there are no inline users and no client allowlist, it
 * fails with %PK_ERROR_CONFIG and the old users stay (unless
 * [property@SocksServer:allow-open] is set).
 *
 * Returns: %TRUE, or %FALSE with @error set
 *
 * Since: 0.1
 */
gboolean
pk_socks_server_reload (PkSocksServer  *self,
                        GError        **error)
{
  g_autofree char *path = NULL;
  gboolean guarded;

  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), FALSE);

  g_mutex_lock (&self->lock);
  path = g_strdup (self->users_file);
  guarded = self->non_loopback && !self->allow_open && self->allow == NULL && self->allow_list == NULL &&
            g_hash_table_size (self->inline_users) == 0 && g_hash_table_size (self->file_users) > 0;
  g_mutex_unlock (&self->lock);

  if (path != NULL && guarded)
    {
      g_autoptr(GHashTable) users = pk_socks_users_load_file (path, error);

      if (users == NULL)
        return FALSE;
      if (g_hash_table_size (users) == 0)
        {
          g_set_error (error, PK_ERROR, PK_ERROR_CONFIG,
                       "users file %s names nobody now, and the server listens beyond loopback "
                       "with no client allowlist: it would be open to anyone", path);
          return FALSE;
        }
    }
  /* the lists too are read again: fetched now */
  if (self->allow_list != NULL && pk_access_list_is_started (self->allow_list))
    pk_access_list_start (self->allow_list);
  if (self->deny_list != NULL && pk_access_list_is_started (self->deny_list))
    pk_access_list_start (self->deny_list);
  if (path != NULL)
    return pk_socks_server_set_users_file (self, path, error);

  pk_socks_server_rebuild_policy (self);
  return TRUE;
}

/* --- counters --- */

/**
 * pk_socks_server_get_sessions_active:
 * @self: a [class@SocksServer]
 *
 * Gets the number of sessions open now.
 *
 * Returns: the number of sessions open now
 *
 * Since: 0.1
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
 * @self: a [class@SocksServer]
 *
 * Gets the number of sessions that have ended.
 *
 * Returns: the number of sessions that have ended
 *
 * Since: 0.1
 */
guint64
pk_socks_server_get_sessions_total (PkSocksServer *self)
{
  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), 0);
  return __atomic_load_n (&self->sessions_total, __ATOMIC_RELAXED);
}

/**
 * pk_socks_server_get_bytes_up:
 * @self: a [class@SocksServer]
 *
 * Gets bytes from clients to destinations of ended sessions.
 *
 * Returns: bytes from clients to destinations of ended sessions
 *
 * Since: 0.1
 */
guint64
pk_socks_server_get_bytes_up (PkSocksServer *self)
{
  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), 0);
  return __atomic_load_n (&self->bytes_up, __ATOMIC_RELAXED);
}

/**
 * pk_socks_server_get_bytes_down:
 * @self: a [class@SocksServer]
 *
 * Gets bytes from destinations to clients of ended sessions.
 *
 * Returns: bytes from destinations to clients of ended sessions
 *
 * Since: 0.1
 */
guint64
pk_socks_server_get_bytes_down (PkSocksServer *self)
{
  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), 0);
  return __atomic_load_n (&self->bytes_down, __ATOMIC_RELAXED);
}

/**
 * pk_socks_server_get_stats:
 * @self: a [class@SocksServer]
 *
 * A snapshot of the counters as a dictionary (`a{st}`): `sessions-active`,
 * `sessions-total`, `bytes-up`, `bytes-down`, and `result-NAME` for every
 * way a session can end (`result-succeeded`, `result-not-allowed`,
 * `result-connection-refused`, `result-ttl-expired`, `result-auth-failed`,
 * `result-handshake-timeout`, ...).
 *
 * Returns: (transfer full): a floating-free `GVariant` of type `a{st}`
 *
 * Since: 0.1
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
 * @self: a [class@SocksServer]
 *
 * The same snapshot as [method@SocksServer.get_stats], as a JSON object
 * with integer values (for scripts and the Python binding).
 *
 * Returns: (transfer full): a JSON object
 *
 * Since: 0.1
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

static const struct {
  const char *name;
  const char *help;
} latency_families[PK_SOCKS_LATENCY_N] = {
  [PK_SOCKS_LATENCY_HANDSHAKE] = {
    "proxykit_socks_handshake_seconds",
    "Time from accept to the SOCKS request read (greeting, authentication, request), by listener." },
  [PK_SOCKS_LATENCY_CONNECT] = {
    "proxykit_socks_connect_seconds",
    "Time from the SOCKS request to the destination connected (resolving included), by listener." },
};

/**
 * pk_socks_server_dup_prometheus:
 * @servers: (array length=n_servers): the listeners
 * @n_servers: how many
 *
 * The counters of [method@SocksServer.get_stats] of every listener, in
 * the Prometheus text format, labelled by listener name:
 * `proxykit_socks_sessions_active{listener}`,
 * `proxykit_socks_sessions_total{listener, result}` (every way a session
 * ends: `succeeded`, the refusals such as `not-allowed` or
 * `auth-failed`, the connect errors such as `connection-refused` or
 * `host-unreachable`) and `proxykit_socks_bytes_total{listener,
 * direction}` (`up`: client to destination; `down`, of ended sessions),
 * and two histograms by listener: `proxykit_socks_handshake_seconds`
 * (from accept to the request read: greeting, authentication, request)
 * and `proxykit_socks_connect_seconds` (from the request to the
 * destination connected, resolving included; successful connects only).
 * Listeners with access lists (see [method@SocksServer.set_allow_access_list])
 * add `proxykit_socks_access_list_entries{listener, list}` (`list` is
 * `allow` or `deny`), `proxykit_socks_access_list_loaded`,
 * `proxykit_socks_access_list_last_success_timestamp_seconds` and
 * `proxykit_socks_access_list_fetch_failures_total`.
 * For a collector of [class@MetricsServer].
 *
 * Returns: (transfer full): the text
 *
 * Since: 0.2
 */
char *
pk_socks_server_dup_prometheus (PkSocksServer * const *servers,
                                guint                  n_servers)
{
  g_autoptr(PkPromWriter) w = pk_prom_writer_new ();

  g_return_val_if_fail (servers != NULL || n_servers == 0, NULL);

  pk_prom_writer_family (w, "proxykit_socks_sessions_active", PK_PROM_GAUGE,
                         "SOCKS sessions open now, by listener.");
  for (guint i = 0; i < n_servers; i++)
    pk_prom_writer_sample_uint (w, "proxykit_socks_sessions_active",
                                pk_socks_server_get_sessions_active (servers[i]),
                                "listener", pk_socks_server_get_name (servers[i]), NULL);

  pk_prom_writer_family (w, "proxykit_socks_sessions_total", PK_PROM_COUNTER,
                         "SOCKS sessions ended, by listener and result (succeeded, a refusal or a connect error).");
  for (guint i = 0; i < n_servers; i++)
    for (guint r = 0; r < PK_SOCKS_RESULT_N; r++)
      {
        if (r > PK_SOCKS_REPLY_ADDRESS_TYPE_NOT_SUPPORTED && r < PK_SOCKS_RESULT_AUTH_FAILED)
          continue;
        pk_prom_writer_sample_uint (w, "proxykit_socks_sessions_total",
                                    __atomic_load_n (&servers[i]->results[r], __ATOMIC_RELAXED),
                                    "listener", pk_socks_server_get_name (servers[i]),
                                    "result", pk_socks_result_to_string (r), NULL);
      }

  pk_prom_writer_family (w, "proxykit_socks_bytes_total", PK_PROM_COUNTER,
                         "Bytes relayed by ended SOCKS sessions, by listener and direction (up: client to destination).");
  for (guint i = 0; i < n_servers; i++)
    {
      const char *name = pk_socks_server_get_name (servers[i]);

      pk_prom_writer_sample_uint (w, "proxykit_socks_bytes_total", pk_socks_server_get_bytes_up (servers[i]),
                                  "listener", name, "direction", "up", NULL);
      pk_prom_writer_sample_uint (w, "proxykit_socks_bytes_total", pk_socks_server_get_bytes_down (servers[i]),
                                  "listener", name, "direction", "down", NULL);
    }

  for (guint k = 0; k < PK_SOCKS_LATENCY_N; k++)
    {
      pk_prom_writer_family (w, latency_families[k].name, PK_PROM_HISTOGRAM, latency_families[k].help);
      for (guint i = 0; i < n_servers; i++)
        {
          const char *labels[] = { "listener", pk_socks_server_get_name (servers[i]), NULL };

          pk_prom_writer_histogram (w, latency_families[k].name, labels, &servers[i]->latency[k]);
        }
    }
  pk_socks_server_write_access_list_metrics (w, servers, n_servers);
  return pk_prom_writer_free_to_string (g_steal_pointer (&w));
}
