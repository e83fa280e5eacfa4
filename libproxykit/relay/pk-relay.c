/* pk-relay.c: TCP and UDP port relays
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkRelay:
 *
 * A set of port relays, each a [struct@RelayRule]: traffic that reaches an
 * inbound port goes 1:1, unchanged, to an outbound host and port. It
 * replaces socat (TCP) and iptables DNAT (UDP).
 *
 * TCP connections are accepted, connected upstream through the rule's
 * [class@Egress] with the connect timeout (the outbound name is resolved
 * through the egress, and again when a connect fails in a way that says
 * the host may have moved), given TCP keepalive on both sides, and handed
 * to a [class@Bridge] (splice, half-close, idle timeout).
 *
 * UDP datagrams make a session per client address, each with its own
 * upstream socket; replies go back to the client from the address it
 * sent to. Sessions end after the idle timeout; their number is capped.
 * Datagrams are read and written in batches (`recvmmsg`, `sendmmsg`).
 *
 * A rule may have a health check, a TCP connect to the outbound host
 * with a timeout and a number of retries; a rule whose upstream is down
 * keeps listening, and the check goes on until it is up again.
 *
 * [method@Relay.set_rules] applies a new set of rules the way a reload
 * should: rules that are new start, rules that are gone stop, rules that
 * did not change keep their listening socket and live connections.
 *
 * ```c
 * g_autoptr(PkRelay) relay = pk_relay_new ();
 * g_autoptr(PkRelayRule) rule = pk_relay_rule_new_from_string ("50025;25;192.0.2.10;TCP", &error);
 *
 * if (!pk_relay_add_rule (relay, rule, &error))
 *   return FALSE;
 * // ... run the main loop; later:
 * g_autofree char *json = pk_relay_dup_status_json (relay);
 * ```
 *
 * Since: 0.1
 */

#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "pk-acceptor-private.h"
#include "pk-bridge-private.h"
#include "pk-egress-private.h"
#include "pk-error.h"
#include "pk-prom-private.h"
#include "pk-relay.h"
#include "pk-relay-private.h"
#include "pk-util-private.h"
#include "pk-workers-private.h"

/* A resolved outbound name is used this long before it is looked up
 * again; a failed connect drops it at once. */
#define RESOLVE_MAX_AGE_US (60 * G_USEC_PER_SEC)
/* How long a relayed connection runs before its upstream socket gets the
 * rule's keepalive: see tcp_bridge(). */
#define KEEPALIVE_DELAY_US (1 * G_USEC_PER_SEC)

struct _PkRelay
{
  GObject parent_instance;

  GPtrArray *listeners;         /* of PkRelayListener, in rule order */
  PkEgress *default_egress;
  PkWorkers *workers;           /* nullable: TCP rules then run here */
  gboolean kernel_nat;
  GPtrArray *nat_rules;         /* UDP rules in nftables, when kernel_nat */
  gboolean nat_table_active;
  gint *connections;            /* atomic rc box: open TCP connections */
};

#define NFT_TABLE "pk_relay"

G_DEFINE_FINAL_TYPE (PkRelay, pk_relay, G_TYPE_OBJECT)

static void listener_stop (PkRelayListener *listener);

static void
pk_relay_dispose (GObject *object)
{
  PkRelay *self = PK_RELAY (object);

  pk_relay_stop (self);

  G_OBJECT_CLASS (pk_relay_parent_class)->dispose (object);
}

static void
pk_relay_finalize (GObject *object)
{
  PkRelay *self = PK_RELAY (object);

  g_clear_pointer (&self->listeners, g_ptr_array_unref);
  g_clear_object (&self->default_egress);
  g_clear_object (&self->workers);
  g_clear_pointer (&self->nat_rules, g_ptr_array_unref);
  g_atomic_rc_box_release (self->connections);

  G_OBJECT_CLASS (pk_relay_parent_class)->finalize (object);
}

static void
pk_relay_class_init (PkRelayClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pk_relay_dispose;
  object_class->finalize = pk_relay_finalize;
}

static void
pk_relay_init (PkRelay *self)
{
  self->listeners = g_ptr_array_new_with_free_func ((GDestroyNotify) pk_relay_listener_unref);
  self->default_egress = pk_egress_new ();
  self->nat_rules = g_ptr_array_new_with_free_func ((GDestroyNotify) pk_relay_rule_unref);
  self->connections = g_atomic_rc_box_new0 (gint);
}

/**
 * pk_relay_new:
 *
 * Creates a relay with no rules.
 *
 * Returns: (transfer full): a new [class@Relay]
 *
 * Since: 0.1
 */
PkRelay *
pk_relay_new (void)
{
  return g_object_new (PK_TYPE_RELAY, NULL);
}

/* --- listeners --- */

PkRelayListener *
pk_relay_listener_ref (PkRelayListener *listener)
{
  g_atomic_ref_count_inc (&listener->ref_count);
  return listener;
}

void
pk_relay_listener_unref (PkRelayListener *listener)
{
  /* NULL is allowed: the arrays of pk_relay_set_rules() have holes. */
  if (listener == NULL || !g_atomic_ref_count_dec (&listener->ref_count))
    return;

  g_assert (listener->source == NULL && listener->acceptor == NULL && listener->health_timer == NULL);
  g_assert (listener->workers_id == 0);
  pk_relay_rule_unref (listener->rule);
  g_clear_pointer (&listener->retired_rules, g_ptr_array_unref);
  g_atomic_rc_box_release (listener->relay_connections);
  g_clear_object (&listener->workers);
  g_mutex_clear (&listener->lock);
  g_clear_object (&listener->egress);
  g_clear_object (&listener->socket);
  g_clear_object (&listener->cancellable);
  pk_inet_address_list_free (listener->addresses);
  g_clear_object (&listener->literal);
  g_free (listener->health_reason);
  g_free (listener);
}

gboolean
pk_relay_set_keepalive (int           fd,
                        PkRelayRule  *rule,
                        GError      **error)
{
  int on = 1;
  int value;

  /* A new socket has keepalive off. */
  if (rule->keepalive_idle == 0)
    return TRUE;
  if (setsockopt (fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on) < 0)
    goto fail;
  value = rule->keepalive_idle;
  if (setsockopt (fd, IPPROTO_TCP, TCP_KEEPIDLE, &value, sizeof value) < 0)
    goto fail;
  value = rule->keepalive_interval;
  if (value > 0 && setsockopt (fd, IPPROTO_TCP, TCP_KEEPINTVL, &value, sizeof value) < 0)
    goto fail;
  value = rule->keepalive_count;
  if (value > 0 && setsockopt (fd, IPPROTO_TCP, TCP_KEEPCNT, &value, sizeof value) < 0)
    goto fail;
  return TRUE;

fail:
  {
    int saved_errno = errno;

    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                 "relay %s: cannot set TCP keepalive: %s", rule->name, g_strerror (saved_errno));
    return FALSE;
  }
}

/* Options a listening socket passes on to the clients it accepts (Linux
 * copies them at accept), so that a connection costs no system call for
 * them: the rule's TCP keepalive here, and TCP_NODELAY (PkWorkers sets it
 * on its sockets, bind_socket() on the relay's own), since the sender
 * already decided how to segment and Nagle on the relay would add delays
 * it never asked for (write-write-read protocols such as SMTP pipelining
 * stall for a delayed ACK). Set before listen: a client accepted earlier
 * would miss them. */
static gboolean
prepare_listen_socket (GSocket   *socket,
                       gpointer   rule,
                       GError   **error)
{
  return pk_relay_set_keepalive (g_socket_get_fd (socket), rule, error);
}

static GSocket *
bind_socket (PkRelayRule   *rule,
             GInetAddress  *address,
             guint16        port,
             GSocketType    type,
             GError       **error)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) sa = NULL;

  socket = g_socket_new (g_inet_address_get_family (address), type,
                         G_SOCKET_PROTOCOL_DEFAULT, error);
  if (socket == NULL)
    return NULL;
  g_socket_set_blocking (socket, FALSE);

  sa = g_inet_socket_address_new (address, port);
  /* SO_REUSEADDR for TCP so that a restart does not wait out TIME_WAIT;
   * never for UDP, where GLib would add SO_REUSEPORT and a second relay
   * on the same port would silently share its datagrams. */
  if (!g_socket_bind (socket, sa, type == G_SOCKET_TYPE_STREAM, error))
    return NULL;

  if (type == G_SOCKET_TYPE_STREAM)
    {
      pk_socket_set_nodelay (g_socket_get_fd (socket));
      if (!prepare_listen_socket (socket, rule, error))
        return NULL;
      g_socket_set_listen_backlog (socket, 1024);
      if (!g_socket_listen (socket, error))
        return NULL;
    }
  return g_steal_pointer (&socket);
}

GSocket *
pk_relay_listen_socket (PkRelayRule  *rule,
                        GSocketType   type,
                        GError      **error)
{
  g_autoptr(GInetAddress) address = NULL;
  g_autoptr(GError) local_error = NULL;
  GSocket *socket;
  const char *proto = type == G_SOCKET_TYPE_STREAM ? "tcp" : "udp";

  if (rule->listen_address != NULL)
    {
      address = g_inet_address_new_from_string (rule->listen_address);
      socket = bind_socket (rule, address, rule->in_port, type, &local_error);
    }
  else
    {
      /* All addresses: one dual-stack socket, or IPv4 alone on a host
       * without IPv6. */
      address = g_inet_address_new_any (G_SOCKET_FAMILY_IPV6);
      socket = bind_socket (rule, address, rule->in_port, type, &local_error);
      if (socket == NULL && (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED) ||
                             g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_FAILED)))
        {
          g_clear_error (&local_error);
          g_clear_object (&address);
          address = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
          socket = bind_socket (rule, address, rule->in_port, type, &local_error);
        }
    }

  if (socket == NULL)
    {
      g_autofree char *addr = g_inet_address_to_string (address);

      g_set_error (error, local_error->domain, local_error->code,
                   "relay %s: cannot listen on %s%s%s:%u/%s: %s", rule->name,
                   strchr (addr, ':') ? "[" : "", addr, strchr (addr, ':') ? "]" : "",
                   rule->in_port, proto, local_error->message);
      return NULL;
    }
  return socket;
}

/* @out: @address with the rule's outbound port. */
static void
listener_make_upstream (PkRelayListener *listener,
                        GInetAddress    *address,
                        PkSockaddr      *out)
{
  g_autoptr(GSocketAddress) sa = g_inet_socket_address_new (address, listener->rule->out_port);

  if (!pk_sockaddr_from_socket_address (out, sa))
    g_assert_not_reached ();
}

static void
listener_set_addresses (PkRelayListener *listener,
                        GList           *addresses)
{
  gboolean changed = TRUE;
  GList *old;
  PkSockaddr first;

  if (addresses != NULL)
    listener_make_upstream (listener, addresses->data, &first);

  g_mutex_lock (&listener->lock);
  old = listener->addresses;
  if (old != NULL && addresses != NULL)
    changed = !g_inet_address_equal (old->data, addresses->data);
  listener->addresses = addresses;
  if (addresses != NULL)
    listener->upstream = first;
  listener->resolved_at = g_get_monotonic_time ();
  g_mutex_unlock (&listener->lock);
  pk_inet_address_list_free (old);

  if (changed && addresses != NULL && listener->udp != NULL)
    pk_relay_udp_flush (listener);
}

/* Forgets the outbound addresses, after a failure that suggests they are
 * out of date. */
static void
listener_forget_addresses (PkRelayListener *listener)
{
  GList *old;

  if (listener->literal != NULL)
    return;
  g_mutex_lock (&listener->lock);
  old = g_steal_pointer (&listener->addresses);
  g_mutex_unlock (&listener->lock);
  pk_inet_address_list_free (old);
}

/* The first outbound address with the outbound port, when one is known
 * and fresh; with @stale, an old one will do too. */
static gboolean
listener_get_upstream (PkRelayListener *listener,
                       gboolean         stale,
                       PkSockaddr      *out)
{
  gboolean found = FALSE;

  if (listener->literal != NULL)
    {
      *out = listener->upstream;
      return TRUE;
    }
  g_mutex_lock (&listener->lock);
  if (listener->addresses != NULL &&
      (stale || g_get_monotonic_time () - listener->resolved_at <= RESOLVE_MAX_AGE_US))
    {
      *out = listener->upstream;
      found = TRUE;
    }
  g_mutex_unlock (&listener->lock);
  return found;
}

gboolean
pk_relay_listener_next_upstream (PkRelayListener  *listener,
                                 const PkSockaddr *refused)
{
  g_autoptr(GSocketAddress) sa = NULL;
  GInetAddress *address;
  gboolean moved = FALSE;

  if (listener->literal != NULL)
    return FALSE;
  sa = pk_sockaddr_to_socket_address (refused);
  if (sa == NULL)
    return FALSE;
  address = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (sa));

  g_mutex_lock (&listener->lock);
  for (GList *l = listener->addresses; l != NULL; l = l->next)
    if (g_inet_address_equal (l->data, address))
      {
        /* The next address, round the list: every one gets its turn. */
        GList *next = l->next != NULL ? l->next : listener->addresses;

        if (next != l)
          {
            listener_make_upstream (listener, next->data, &listener->upstream);
            moved = TRUE;
          }
        break;
      }
  g_mutex_unlock (&listener->lock);
  return moved;
}

GSocketAddress *
pk_relay_listener_dup_upstream (PkRelayListener *listener)
{
  PkSockaddr upstream;

  if (!listener_get_upstream (listener, FALSE, &upstream))
    {
      /* Stale is still the best guess while a new lookup is on its way. */
      pk_relay_listener_resolve (listener);
      if (!listener_get_upstream (listener, TRUE, &upstream))
        return NULL;
    }
  return pk_sockaddr_to_socket_address (&upstream);
}

static void
listener_resolve_done (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(PkRelayListener) listener = user_data;
  g_autoptr(GError) error = NULL;
  GList *addresses;

  addresses = pk_egress_resolve_finish (PK_EGRESS (source), result, &error);
  if (addresses == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_message ("relay %s: %s", listener->rule->name, error->message);
    }
  else
    listener_set_addresses (listener, addresses);

  g_atomic_int_set (&listener->resolving, FALSE);
}

void
pk_relay_listener_resolve (PkRelayListener *listener)
{
  if (listener->literal != NULL || g_atomic_int_get (&listener->stopped) ||
      !g_atomic_int_compare_and_exchange (&listener->resolving, FALSE, TRUE))
    return;
  pk_egress_resolve_async (listener->egress, listener->rule->out_host,
                           listener->rule->connect_timeout_ms, listener->cancellable,
                           listener_resolve_done, pk_relay_listener_ref (listener));
}

/* --- TCP --- */

/* Connects and bridges take the rule's cancellable as it is: the
 * context's poller brings its cancellation to their thread. A name lookup
 * needs a cancellable of the connection's own, cancelled on its own
 * thread when the rule stops: cancelling it from the thread that stops
 * the rule would race with the lookup's sources in the worker's context
 * (GLib 2.74's GCancellableSource leaks when that happens). It is made
 * only for a connection that has to look the name up. */
typedef struct {
  GMainContext *context;
  GCancellable *cancellable;
} ConnStop;

static void
conn_stop_free (gpointer data)
{
  ConnStop *stop = data;

  g_main_context_unref (stop->context);
  g_object_unref (stop->cancellable);
  g_free (stop);
}

static gboolean
conn_stop_in_thread (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

static void
conn_stop_requested (GCancellable *rule_cancellable,
                     gpointer      data)
{
  ConnStop *stop = data;

  g_main_context_invoke_full (stop->context, G_PRIORITY_DEFAULT, conn_stop_in_thread,
                              g_object_ref (stop->cancellable), g_object_unref);
}

/* A relayed connection keeps its two sockets as descriptors: no GSocket,
 * GTask or PkBridge object per connection, and no system call that only
 * fills in one of those. One poller watch serves the connect and then the
 * bridge: the upstream socket stays in the epoll set and only changes its
 * events. */
typedef struct {
  PkRelayListener *listener;
  GCancellable *cancellable;    /* for a name lookup only: see above */
  gulong stop_id;
  int client;
  int upstream;                 /* -1 until a connect starts */
  PkPollerWatch *watch;         /* the connect's until the bridge takes it */
  PkBridgeCore bridge;
  gboolean retried;
  PkSockaddr peer;
  PkSockaddr to;                /* the upstream address tried last */
} TcpConn;

static void
tcp_conn_free (TcpConn *conn)
{
  g_clear_pointer (&conn->watch, pk_poller_watch_destroy);
  if (conn->client >= 0)
    close (conn->client);
  if (conn->upstream >= 0)
    close (conn->upstream);
  if (conn->cancellable != NULL)
    {
      g_cancellable_disconnect (conn->listener->cancellable, conn->stop_id);
      g_clear_object (&conn->cancellable);
    }
  PK_RELAY_COUNT (conn->listener->active, -1);
  g_atomic_int_add (conn->listener->relay_connections, -1);
  pk_relay_listener_unref (conn->listener);
  g_free (conn);
}

static void
tcp_bridge_done (PkBridgeCore *core,
                 GError       *error,
                 gpointer      user_data)
{
  TcpConn *conn = user_data;

  /* The bridge closed them. */
  conn->client = conn->upstream = -1;
  if (error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_autofree char *peer = pk_format_sockaddr (&conn->peer);

      g_debug ("relay %s: connection from %s ended: %s",
               conn->listener->rule->name, peer, error->message);
    }
  g_clear_error (&error);

  PK_RELAY_COUNT (conn->listener->bytes_in, core->dir[0].bytes);
  PK_RELAY_COUNT (conn->listener->bytes_out, core->dir[1].bytes);
  tcp_conn_free (conn);
}

static void tcp_connect (TcpConn *conn, const PkSockaddr *to);

/* Errors after which the outbound name is looked up again: the address
 * in hand may be an old one of a host that moved. */
static gboolean
error_suggests_moved_host (const GError *error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_HOST_UNREACHABLE) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
}

static void
tcp_fail (TcpConn      *conn,
          const GError *error)
{
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_autofree char *peer = pk_format_sockaddr (&conn->peer);

      PK_RELAY_COUNT (conn->listener->failed, 1);
      g_message ("relay %s: connection from %s: %s", conn->listener->rule->name,
                 peer, error->message);
    }
  tcp_conn_free (conn);
}

static gboolean
same_host (const PkSockaddr *a,
           const PkSockaddr *b)
{
  if (a->sa.sa_family != b->sa.sa_family)
    return FALSE;
  if (a->sa.sa_family == AF_INET)
    return a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
  return memcmp (&a->in6.sin6_addr, &b->in6.sin6_addr, sizeof a->in6.sin6_addr) == 0;
}

static void
tcp_resolve_done (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  TcpConn *conn = user_data;
  PkRelayListener *listener = conn->listener;
  g_autoptr(GError) error = NULL;
  PkSockaddr first;
  GList *addresses;

  addresses = pk_egress_resolve_finish (PK_EGRESS (source), result, &error);
  if (addresses == NULL)
    {
      tcp_fail (conn, error);
      return;
    }
  listener_set_addresses (listener, addresses);
  listener_get_upstream (listener, TRUE, &first);

  /* After a failure, only a new address is worth a second try. */
  if (conn->retried && same_host (&conn->to, &first))
    {
      g_autoptr(GError) again = g_error_new (PK_ERROR, PK_ERROR_FAILED,
                                             "upstream %s:%u unreachable",
                                             listener->rule->out_host, listener->rule->out_port);
      tcp_fail (conn, again);
      return;
    }
  tcp_connect (conn, &first);
}

static void
tcp_resolve (TcpConn *conn)
{
  PkRelayListener *listener = conn->listener;

  /* The lookup has its own cancellation; the watch would only race it. */
  g_clear_pointer (&conn->watch, pk_poller_watch_destroy);
  if (conn->cancellable == NULL)
    {
      ConnStop *stop = g_new0 (ConnStop, 1);

      conn->cancellable = g_cancellable_new ();
      stop->context = g_main_context_ref_thread_default ();
      stop->cancellable = g_object_ref (conn->cancellable);
      /* Runs at once, here, when the rule is already stopping. */
      conn->stop_id = g_cancellable_connect (listener->cancellable, G_CALLBACK (conn_stop_requested),
                                             stop, conn_stop_free);
    }

  pk_egress_resolve_async (listener->egress, listener->rule->out_host,
                           listener->rule->connect_timeout_ms, conn->cancellable,
                           tcp_resolve_done, conn);
}

static void
tcp_keepalive_due (PkBridgeCore *core,
                   gpointer      user_data)
{
  TcpConn *conn = user_data;
  g_autoptr(GError) error = NULL;

  if (!pk_relay_set_keepalive (conn->upstream, conn->listener->rule, &error))
    g_debug ("%s", error->message);
}

static void
tcp_bridge (TcpConn *conn)
{
  PkRelayRule *rule = conn->listener->rule;

  if (!pk_bridge_core_start (&conn->bridge, conn->client, conn->upstream,
                             g_steal_pointer (&conn->watch),
                             pk_pipe_pool_get_thread_default (), rule->idle_timeout_ms,
                             TRUE, tcp_bridge_done, conn))
    return;
  /* The upstream side's keepalive (the client's came with the accept)
   * waits until the connection has run for a second: most relayed
   * connections are over by then, and four setsockopt() calls and a
   * kernel timer per connection are a tenth of what the relay's own work
   * costs. The first probe of an idle connection leaves at most that
   * second late (the kernel counts idleness from the last segment
   * received either way). */
  if (rule->keepalive_idle > 0)
    pk_bridge_core_call_at (&conn->bridge, g_get_monotonic_time () + KEEPALIVE_DELAY_US,
                            tcp_keepalive_due);
}

static void
tcp_connect_failed (TcpConn *conn,
                    GError  *error)
{
  PkRelayListener *listener = conn->listener;

  if (listener->literal == NULL && !conn->retried && error_suggests_moved_host (error))
    {
      conn->retried = TRUE;
      listener_forget_addresses (listener);
      g_debug ("relay %s: %s; looking %s up again", listener->rule->name, error->message,
               listener->rule->out_host);
      if (conn->watch != NULL)
        pk_poller_watch_set_fd (conn->watch, 1, -1, 0, NULL);
      close (conn->upstream);
      conn->upstream = -1;
      tcp_resolve (conn);
    }
  else
    tcp_fail (conn, error);
  g_error_free (error);
}

/* The connect is done (@slot 1), timed out (-1) or cancelled. */
static void
tcp_connect_watch_cb (PkPollerWatch *watch,
                      int            slot,
                      GIOCondition   condition,
                      gpointer       user_data)
{
  TcpConn *conn = user_data;
  GError *error = NULL;

  if (slot == PK_POLLER_CANCELLED)
    {
      error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "Operation was cancelled");
      tcp_fail (conn, error);
      g_error_free (error);
      return;
    }
  if (slot == -1)
    {
      g_autofree char *dest = pk_format_sockaddr (&conn->to);

      error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                           "connect to %s timed out after %u ms", dest,
                           conn->listener->rule->connect_timeout_ms);
    }
  else if (pk_fd_connect_finish (conn->upstream, condition, &conn->to, &error))
    {
      tcp_bridge (conn);
      return;
    }
  tcp_connect_failed (conn, error);
}

static void
tcp_connect (TcpConn          *conn,
             const PkSockaddr *to)
{
  PkRelayListener *listener = conn->listener;
  PkRelayRule *rule = listener->rule;
  g_autoptr(GError) error = NULL;
  gboolean in_progress;

  conn->to = *to;
  conn->upstream = pk_egress_open_fd (listener->egress, to->sa.sa_family, G_SOCKET_TYPE_STREAM,
                                      &error);
  if (conn->upstream < 0)
    {
      tcp_fail (conn, error);
      return;
    }
  /* Before the connect, as on the listening socket (see
   * prepare_listen_socket()); keepalive comes later (tcp_bridge()). */
  pk_socket_set_nodelay (conn->upstream);

  /* One epoll set per context (see pk-poller-private.h); the watch takes
   * the rule's cancellable as it is. */
  if (conn->watch == NULL)
    {
      PkPoller *poller = pk_poller_get_thread_default (&error);

      if (poller == NULL)
        {
          close (conn->upstream);
          conn->upstream = -1;
          tcp_fail (conn, error);
          return;
        }
      conn->watch = pk_poller_watch_new (poller, tcp_connect_watch_cb, conn);
      pk_poller_watch_set_cancellable (conn->watch, listener->cancellable);
    }
  if (!pk_fd_connect (conn->upstream, to, &in_progress, &error))
    {
      /* Refused at once: the same retry as a refusal that comes later. */
      tcp_connect_failed (conn, g_steal_pointer (&error));
      return;
    }
  if (!in_progress)
    {
      tcp_bridge (conn);
      return;
    }
  if (!pk_poller_watch_set_fd (conn->watch, 1, conn->upstream, G_IO_OUT, &error))
    {
      tcp_fail (conn, error);
      return;
    }
  if (rule->connect_timeout_ms > 0)
    pk_poller_watch_set_deadline (conn->watch, g_get_monotonic_time () +
                                               (gint64) rule->connect_timeout_ms * G_TIME_SPAN_MILLISECOND);
}

static void
tcp_accepted (PkRelayListener  *listener,
              int               fd,
              const PkSockaddr *peer)
{
  PkRelayRule *rule = listener->rule;
  gboolean full = rule->max_sessions > 0 && PK_RELAY_LOAD (listener->active) >= rule->max_sessions;
  PkSockaddr to;
  TcpConn *conn;

  if (full || (rule->allow_list != NULL && !pk_relay_rule_allows_native (rule, peer)))
    {
      g_autofree char *who = pk_format_sockaddr (peer);

      PK_RELAY_COUNT (listener->refused, 1);
      g_debug ("relay %s: refused %s (%s)", rule->name, who,
               full ? "too many connections" : "not in the allowlist");
      close (fd);
      return;
    }

  conn = g_new0 (TcpConn, 1);
  conn->listener = pk_relay_listener_ref (listener);
  conn->client = fd;
  conn->upstream = -1;
  /* Formatted only for a log line. */
  conn->peer = *peer;
  PK_RELAY_COUNT (listener->connections, 1);
  PK_RELAY_COUNT (listener->active, 1);
  g_atomic_int_inc (listener->relay_connections);

  /* Keepalive and TCP_NODELAY came with the accept: see
   * prepare_listen_socket(). */

  if (listener_get_upstream (listener, FALSE, &to))
    tcp_connect (conn, &to);
  else
    tcp_resolve (conn);
}

/* In the relay's own context. */
static void
tcp_accept_cb (int               fd,
               const PkSockaddr *peer,
               gpointer          user_data)
{
  PkRelayListener *listener = user_data;

  if (!g_atomic_int_get (&listener->stopped))
    tcp_accepted (listener, fd, peer);
  else
    close (fd);
}

/* On a worker's thread, which keeps the connection. */
static void
worker_accepted_cb (int               fd,
                    const PkSockaddr *peer,
                    guint             worker,
                    gpointer          user_data)
{
  PkRelayListener *listener = user_data;

  if (!g_atomic_int_get (&listener->stopped))
    tcp_accepted (listener, fd, peer);
  else
    close (fd);
}

/* --- health check --- */

static void health_schedule (PkRelayListener *listener, guint delay_ms);

static const char *
health_name (PkRelayHealth health)
{
  switch (health)
    {
    case PK_RELAY_HEALTH_DISABLED:
      return "disabled";
    case PK_RELAY_HEALTH_UNKNOWN:
      return "unknown";
    case PK_RELAY_HEALTH_UP:
      return "up";
    case PK_RELAY_HEALTH_DOWN:
      return "down";
    }
  return "unknown";
}

static void
health_done (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(PkRelayListener) listener = user_data;
  PkRelayRule *rule = listener->rule;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;

  listener->health_running = FALSE;
  socket = pk_egress_connect_to_host_finish (PK_EGRESS (source), result, &error);
  if (g_atomic_int_get (&listener->stopped))
    return;

  if (socket != NULL)
    {
      g_socket_close (socket, NULL);
      listener->health_failures = 0;
      g_clear_pointer (&listener->health_reason, g_free);
      if (listener->health != PK_RELAY_HEALTH_UP)
        g_message ("relay %s: upstream %s:%u is up", rule->name, rule->out_host, rule->out_port);
      listener->health = PK_RELAY_HEALTH_UP;
      health_schedule (listener, rule->health_interval_ms);
      return;
    }

  listener->health_failures++;
  g_free (listener->health_reason);
  listener->health_reason = g_strdup (error->message);
  /* The address in hand may be the reason. */
  listener_forget_addresses (listener);

  if (listener->health_failures < rule->health_retries)
    {
      /* Confirm a failure sooner than the normal interval. */
      health_schedule (listener, MIN (rule->health_interval_ms, 1000));
      return;
    }

  if (listener->health != PK_RELAY_HEALTH_DOWN)
    g_message ("relay %s: upstream %s:%u is down after %u failed checks: %s; still listening",
               rule->name, rule->out_host, rule->out_port, listener->health_failures,
               error->message);
  listener->health = PK_RELAY_HEALTH_DOWN;
  health_schedule (listener, rule->health_interval_ms);
}

static gboolean
health_timer_cb (gpointer user_data)
{
  PkRelayListener *listener = user_data;
  PkRelayRule *rule = listener->rule;

  g_clear_pointer (&listener->health_timer, g_source_unref);
  listener->health_running = TRUE;
  pk_egress_connect_to_host_async (listener->egress, rule->out_host, rule->out_port,
                                   rule->health_timeout_ms, listener->cancellable,
                                   health_done, pk_relay_listener_ref (listener));
  return G_SOURCE_REMOVE;
}

static void
health_schedule (PkRelayListener *listener,
                 guint            delay_ms)
{
  if (listener->health_timer != NULL)
    {
      g_source_destroy (listener->health_timer);
      g_source_unref (listener->health_timer);
    }
  listener->health_timer = g_timeout_source_new (delay_ms);
  g_source_set_callback (listener->health_timer, health_timer_cb, listener, NULL);
  g_source_set_static_name (listener->health_timer, "[proxykit] relay health check");
  g_source_attach (listener->health_timer, g_main_context_get_thread_default ());
}

/* --- rules --- */

static guint
workers_listen (PkRelay          *self,
                PkRelayListener  *listener,
                GInetAddress     *address,
                GError          **error)
{
  g_autoptr(GSocketAddress) sa = g_inet_socket_address_new (address, listener->rule->in_port);
  guint id;

  id = pk_workers_listen_full (self->workers, sa, prepare_listen_socket, listener->rule,
                               NULL, worker_accepted_cb, pk_relay_listener_ref (listener),
                               (GDestroyNotify) pk_relay_listener_unref, error);
  /* The destroy notify only runs for a listener that was added. */
  if (id == 0)
    pk_relay_listener_unref (listener);
  return id;
}

/* A SO_REUSEPORT socket per worker thread; accepted connections stay on
 * the thread that accepted them. */
static gboolean
listen_on_workers (PkRelay          *self,
                   PkRelayListener  *listener,
                   GError          **error)
{
  PkRelayRule *rule = listener->rule;
  g_autoptr(GInetAddress) address = NULL;
  g_autoptr(GError) local_error = NULL;

  address = rule->listen_address ? g_inet_address_new_from_string (rule->listen_address)
                                 : g_inet_address_new_any (G_SOCKET_FAMILY_IPV6);
  listener->workers_id = workers_listen (self, listener, address, &local_error);
  if (listener->workers_id == 0 && rule->listen_address == NULL &&
      !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))
    {
      /* A host without IPv6. */
      g_clear_error (&local_error);
      g_clear_object (&address);
      address = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
      listener->workers_id = workers_listen (self, listener, address, &local_error);
    }
  if (listener->workers_id == 0)
    {
      g_set_error (error, local_error->domain, local_error->code,
                   "relay %s: cannot listen on port %u/tcp: %s", rule->name, rule->in_port,
                   local_error->message);
      return FALSE;
    }
  listener->workers = g_object_ref (self->workers);
  return TRUE;
}

static PkRelayListener *
listener_start (PkRelay      *self,
                PkRelayRule  *rule,
                GError      **error)
{
  g_autoptr(PkRelayListener) listener = g_new0 (PkRelayListener, 1);
  g_autoptr(GSocketAddress) local = NULL;

  g_atomic_ref_count_init (&listener->ref_count);
  g_mutex_init (&listener->lock);
  listener->relay_connections = g_atomic_rc_box_acquire (self->connections);
  listener->rule = pk_relay_rule_ref (rule);
  listener->egress = g_object_ref (rule->egress ? rule->egress : self->default_egress);
  listener->cancellable = g_cancellable_new ();
  listener->literal = g_inet_address_new_from_string (rule->out_host);
  if (listener->literal != NULL)
    listener_make_upstream (listener, listener->literal, &listener->upstream);
  listener->health = (rule->health_check && rule->protocol == PK_RELAY_PROTOCOL_TCP)
                       ? PK_RELAY_HEALTH_UNKNOWN : PK_RELAY_HEALTH_DISABLED;

  if (rule->protocol == PK_RELAY_PROTOCOL_TCP && self->workers != NULL)
    {
      if (!listen_on_workers (self, listener, error))
        return NULL;
    }
  else if (rule->protocol == PK_RELAY_PROTOCOL_TCP)
    {
      g_autofree char *name = g_strdup_printf ("relay %s", rule->name);

      listener->socket = pk_relay_listen_socket (rule, G_SOCKET_TYPE_STREAM, error);
      if (listener->socket == NULL)
        return NULL;
      /* The same accept loop as the workers', with its pause when out of
       * descriptors. */
      listener->acceptor = pk_acceptor_new (g_main_context_get_thread_default (), listener->socket,
                                            name, tcp_accept_cb, listener, error);
      if (listener->acceptor == NULL)
        {
          g_prefix_error (error, "relay %s: ", rule->name);
          listener_stop (listener);
          return NULL;
        }
    }
  else if (!pk_relay_udp_start (listener, error))
    {
      listener_stop (listener);
      return NULL;
    }

  local = listener->workers_id != 0
            ? pk_workers_get_listener_address (listener->workers, listener->workers_id)
            : g_socket_get_local_address (listener->socket, NULL);
  listener->bound_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));

  if (listener->literal == NULL)
    pk_relay_listener_resolve (listener);
  if (listener->health == PK_RELAY_HEALTH_UNKNOWN)
    health_schedule (listener, 0);

  {
    g_autofree char *desc = pk_relay_rule_to_string (rule);
    g_message ("relay %s: %s", rule->name, desc);
  }
  return g_steal_pointer (&listener);
}

/* No new connections; those in progress go on. */
static void
listener_close (PkRelayListener *listener)
{
  g_atomic_int_set (&listener->stopped, TRUE);
  if (listener->workers_id != 0)
    {
      pk_workers_remove_listener (listener->workers, listener->workers_id);
      listener->workers_id = 0;
    }
  g_clear_pointer (&listener->acceptor, pk_acceptor_free);
  if (listener->source != NULL)
    {
      g_source_destroy (listener->source);
      g_clear_pointer (&listener->source, g_source_unref);
    }
  if (listener->udp == NULL && listener->socket != NULL)
    g_socket_close (listener->socket, NULL);
}

static void
listener_stop (PkRelayListener *listener)
{
  listener_close (listener);
  if (listener->health_timer != NULL)
    {
      g_source_destroy (listener->health_timer);
      g_clear_pointer (&listener->health_timer, g_source_unref);
    }
  if (listener->udp != NULL)
    pk_relay_udp_stop (listener);
  g_cancellable_cancel (listener->cancellable);
  if (listener->socket != NULL)
    g_socket_close (listener->socket, NULL);
}

/* Whether @b is @a's listener again. A rule on port 0 has no port of its
 * own to be known by, so its name says which one it is: without that, every
 * pk_relay_add_rule() would restart the port-0 rules before it, on a new
 * port and with their connections closed. */
static gboolean
same_listen (PkRelayRule *a,
             PkRelayRule *b)
{
  if (a->protocol != b->protocol || a->in_port != b->in_port ||
      g_strcmp0 (a->listen_address, b->listen_address) != 0)
    return FALSE;
  return a->in_port != 0 || g_str_equal (a->name, b->name);
}

static gint
find_listener (PkRelay     *self,
               PkRelayRule *rule)
{
  for (guint i = 0; i < self->listeners->len; i++)
    {
      PkRelayListener *listener = g_ptr_array_index (self->listeners, i);

      if (same_listen (listener->rule, rule))
        return i;
    }
  return -1;
}

/**
 * pk_relay_set_workers:
 * @self: a [class@Relay]
 * @workers: (nullable): worker threads to serve TCP rules on
 *
 * Serves TCP rules started from now on with @workers: a listening socket
 * per worker thread (`SO_REUSEPORT`), and each connection on the thread
 * that accepted it, so that accepting and relaying scale across cores.
 * Without workers (the default) everything runs in the thread-default
 * main context of the caller; UDP rules and health checks always do.
 *
 * Since: 0.1
 */
void
pk_relay_set_workers (PkRelay   *self,
                      PkWorkers *workers)
{
  g_return_if_fail (PK_IS_RELAY (self));
  g_return_if_fail (workers == NULL || PK_IS_WORKERS (workers));

  g_set_object (&self->workers, workers);
}

/**
 * pk_relay_set_kernel_nat:
 * @self: a [class@Relay]
 * @kernel_nat: whether UDP rules become nftables rules
 *
 * Relays UDP rules applied from now on in the kernel instead: DNAT to the
 * outbound address and masquerade towards it, in an nftables table of
 * the relay's own (`table ip pk_relay`), replaced as a whole on every
 * [method@Relay.set_rules] and deleted by [method@Relay.stop]. This is what the
 * older tools did with iptables: IPv4 only, for clients that reach the
 * host from outside, with net.ipv4.ip_forward=1; outbound names are
 * resolved when the rules are applied. Needs `nft` and CAP_NET_ADMIN.
 *
 * Since: 0.1
 */
void
pk_relay_set_kernel_nat (PkRelay  *self,
                         gboolean  kernel_nat)
{
  g_return_if_fail (PK_IS_RELAY (self));

  self->kernel_nat = !!kernel_nat;
}

/**
 * pk_relay_set_rules:
 * @self: a [class@Relay]
 * @rules: (element-type PkRelayRule): the rules to relay
 * @error: return location for a `GError`
 *
 * Makes @rules the relay's rules, as a reload does: a rule on a port and
 * protocol that was not there starts; one that is no longer there stops
 * (its live connections are closed); one that is equal to the old one
 * ([method@RelayRule.equal]) keeps its socket and its live connections. A
 * rule that changed otherwise is restarted on its port.
 *
 * The rules are checked first ([func@Relay.rules_check]): when that fails
 * nothing changes. A rule that cannot listen (its port is taken) does not
 * stop the others; the error names it.
 *
 * Returns: %TRUE, or %FALSE with @error set
 *
 * Since: 0.1
 */
gboolean
pk_relay_set_rules (PkRelay    *self,
                    GPtrArray  *rules,
                    GError    **error)
{
  g_autoptr(GPtrArray) next = NULL;
  g_autoptr(GPtrArray) socket_rules = NULL;
  g_autoptr(GString) failures = NULL;
  GError *first_error = NULL;

  g_return_val_if_fail (PK_IS_RELAY (self), FALSE);
  g_return_val_if_fail (rules != NULL, FALSE);

  if (!pk_relay_rules_check (rules, error))
    return FALSE;

  if (self->kernel_nat)
    {
      /* UDP goes to the kernel; the table is replaced before any socket
       * changes, so that a failure leaves everything as it was. */
      g_autoptr(GPtrArray) nat = g_ptr_array_new_with_free_func ((GDestroyNotify) pk_relay_rule_unref);
      GPtrArray *sockets = g_ptr_array_new_with_free_func ((GDestroyNotify) pk_relay_rule_unref);

      for (guint i = 0; i < rules->len; i++)
        {
          PkRelayRule *rule = g_ptr_array_index (rules, i);

          g_ptr_array_add (rule->protocol == PK_RELAY_PROTOCOL_UDP ? nat : sockets,
                           pk_relay_rule_ref (rule));
        }
      if ((nat->len > 0 || self->nat_table_active) && !pk_relay_nft_apply (NFT_TABLE, nat, error))
        {
          g_ptr_array_unref (sockets);
          return FALSE;
        }
      self->nat_table_active = nat->len > 0;
      for (guint i = 0; i < nat->len; i++)
        {
          g_autofree char *desc = pk_relay_rule_to_string (g_ptr_array_index (nat, i));
          g_message ("relay %s: %s (kernel NAT)", pk_relay_rule_get_name (g_ptr_array_index (nat, i)), desc);
        }
      g_ptr_array_unref (self->nat_rules);
      self->nat_rules = g_steal_pointer (&nat);
      socket_rules = sockets;
      rules = sockets;
    }

  next = g_ptr_array_new_with_free_func ((GDestroyNotify) pk_relay_listener_unref);

  /* Keep the unchanged first, and stop what goes or changes before any
   * new socket binds, so that a changed rule can take its own port. */
  for (guint i = 0; i < rules->len; i++)
    {
      PkRelayRule *rule = g_ptr_array_index (rules, i);
      gint idx = find_listener (self, rule);

      g_ptr_array_add (next, NULL);
      if (idx >= 0)
        {
          PkRelayListener *old = g_ptr_array_index (self->listeners, idx);

          if (pk_relay_rule_equal (old->rule, rule))
            {
              /* The name may change without a restart. */
              if (!g_str_equal (old->rule->name, rule->name))
                {
                  if (old->retired_rules == NULL)
                    old->retired_rules = g_ptr_array_new_with_free_func ((GDestroyNotify) pk_relay_rule_unref);
                  g_ptr_array_add (old->retired_rules, old->rule);
                  old->rule = pk_relay_rule_ref (rule);
                }
              next->pdata[i] = g_ptr_array_steal_index (self->listeners, idx);
            }
        }
    }

  for (guint i = 0; i < self->listeners->len; i++)
    {
      PkRelayListener *old = g_ptr_array_index (self->listeners, i);

      g_message ("relay %s: stopped", old->rule->name);
      listener_stop (old);
    }
  g_ptr_array_set_size (self->listeners, 0);

  for (guint i = 0; i < rules->len; i++)
    {
      g_autoptr(GError) local_error = NULL;

      if (next->pdata[i] != NULL)
        continue;
      next->pdata[i] = listener_start (self, g_ptr_array_index (rules, i), &local_error);
      if (next->pdata[i] == NULL)
        {
          if (failures == NULL)
            failures = g_string_new (NULL);
          else
            g_string_append (failures, "; ");
          g_string_append (failures, local_error->message);
          if (first_error == NULL)
            first_error = g_steal_pointer (&local_error);
        }
    }

  for (guint i = 0; i < next->len; i++)
    if (next->pdata[i] != NULL)
      g_ptr_array_add (self->listeners, g_steal_pointer (&next->pdata[i]));

  if (first_error != NULL)
    {
      g_set_error_literal (error, first_error->domain, first_error->code, failures->str);
      g_error_free (first_error);
      return FALSE;
    }
  return TRUE;
}

/**
 * pk_relay_add_rule:
 * @self: a [class@Relay]
 * @rule: a rule
 * @error: return location for a `GError`
 *
 * Adds one rule and starts listening at once.
 *
 * Returns: %TRUE, or %FALSE with @error set (a duplicate port or name, a
 *   port in use)
 *
 * Since: 0.1
 */
gboolean
pk_relay_add_rule (PkRelay      *self,
                   PkRelayRule  *rule,
                   GError      **error)
{
  g_autoptr(GPtrArray) rules = NULL;

  g_return_val_if_fail (PK_IS_RELAY (self), FALSE);
  g_return_val_if_fail (rule != NULL, FALSE);

  rules = pk_relay_list_rules (self);
  g_ptr_array_add (rules, pk_relay_rule_ref (rule));
  return pk_relay_set_rules (self, rules, error);
}

/**
 * pk_relay_remove_rule:
 * @self: a [class@Relay]
 * @name: a rule's name
 *
 * Stops one rule and closes its connections.
 *
 * Returns: whether a rule of that name was there
 *
 * Since: 0.1
 */
gboolean
pk_relay_remove_rule (PkRelay    *self,
                      const char *name)
{
  g_return_val_if_fail (PK_IS_RELAY (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  for (guint i = 0; i < self->listeners->len; i++)
    {
      PkRelayListener *listener = g_ptr_array_index (self->listeners, i);

      if (g_str_equal (listener->rule->name, name))
        {
          g_message ("relay %s: stopped", name);
          listener_stop (listener);
          g_ptr_array_remove_index (self->listeners, i);
          return TRUE;
        }
    }
  for (guint i = 0; i < self->nat_rules->len; i++)
    {
      PkRelayRule *rule = g_ptr_array_index (self->nat_rules, i);

      if (g_str_equal (rule->name, name))
        {
          g_autoptr(GPtrArray) rules = pk_relay_list_rules (self);

          g_ptr_array_remove (rules, rule);
          return pk_relay_set_rules (self, rules, NULL);
        }
    }
  return FALSE;
}

/**
 * pk_relay_list_rules:
 * @self: a [class@Relay]
 *
 * Gets the running rules.
 *
 * Returns: (transfer full) (element-type PkRelayRule): the running rules
 *
 * Since: 0.1
 */
GPtrArray *
pk_relay_list_rules (PkRelay *self)
{
  GPtrArray *rules;

  g_return_val_if_fail (PK_IS_RELAY (self), NULL);

  rules = g_ptr_array_new_with_free_func ((GDestroyNotify) pk_relay_rule_unref);
  for (guint i = 0; i < self->listeners->len; i++)
    {
      PkRelayListener *listener = g_ptr_array_index (self->listeners, i);
      g_ptr_array_add (rules, pk_relay_rule_ref (listener->rule));
    }
  for (guint i = 0; i < self->nat_rules->len; i++)
    g_ptr_array_add (rules, pk_relay_rule_ref (g_ptr_array_index (self->nat_rules, i)));
  return rules;
}

/**
 * pk_relay_get_local_port:
 * @self: a [class@Relay]
 * @name: a rule's name
 *
 * Gets the port a rule listens on: the rule's inbound port, or the one
 * the system chose for a rule with port 0.
 *
 * Returns: the port, or 0 when no rule of that name runs
 *
 * Since: 0.1
 */
guint16
pk_relay_get_local_port (PkRelay    *self,
                         const char *name)
{
  g_return_val_if_fail (PK_IS_RELAY (self), 0);

  for (guint i = 0; i < self->listeners->len; i++)
    {
      PkRelayListener *listener = g_ptr_array_index (self->listeners, i);

      if (g_str_equal (listener->rule->name, name))
        return listener->bound_port;
    }
  for (guint i = 0; i < self->nat_rules->len; i++)
    {
      PkRelayRule *rule = g_ptr_array_index (self->nat_rules, i);

      if (g_str_equal (rule->name, name))
        return rule->in_port;
    }
  return 0;
}

/**
 * pk_relay_get_n_connections:
 * @self: a [class@Relay]
 *
 * Counts the open TCP connections of all rules, including those of rules
 * that were stopped and whose connections are still closing. After
 * [method@Relay.stop] this falls to 0 once each connection's thread has seen
 * the cancellation: wait for that before stopping [class@Workers].
 *
 * Returns: the number of open TCP connections
 *
 * Since: 0.1
 */
guint
pk_relay_get_n_connections (PkRelay *self)
{
  g_return_val_if_fail (PK_IS_RELAY (self), 0);

  return g_atomic_int_get (self->connections);
}

/**
 * pk_relay_drain:
 * @self: a [class@Relay]
 *
 * Stops accepting: TCP rules close their listening sockets, so that new
 * clients are refused, while the connections in progress go on (see
 * [method@Relay.get_n_connections]). UDP rules stop at once: their sessions
 * answer through the listening socket. [method@Relay.stop] ends the rest.
 * This is how a tool drains on SIGTERM.
 *
 * Since: 0.1
 */
void
pk_relay_drain (PkRelay *self)
{
  g_return_if_fail (PK_IS_RELAY (self));

  for (guint i = 0; i < self->listeners->len; i++)
    {
      PkRelayListener *listener = g_ptr_array_index (self->listeners, i);

      if (listener->udp != NULL)
        listener_stop (listener);
      else
        listener_close (listener);
    }
}

/**
 * pk_relay_stop:
 * @self: a [class@Relay]
 *
 * Stops every rule and closes every connection.
 *
 * Since: 0.1
 */
void
pk_relay_stop (PkRelay *self)
{
  g_return_if_fail (PK_IS_RELAY (self));

  for (guint i = 0; i < self->listeners->len; i++)
    listener_stop (g_ptr_array_index (self->listeners, i));
  g_ptr_array_set_size (self->listeners, 0);
  if (self->nat_table_active)
    {
      pk_relay_nft_remove (NFT_TABLE);
      self->nat_table_active = FALSE;
    }
  if (self->nat_rules != NULL)
    g_ptr_array_set_size (self->nat_rules, 0);
}

/**
 * pk_relay_dup_status_json:
 * @self: a [class@Relay]
 *
 * Describes each rule as JSON: `{"rules": [{"name", "protocol",
 * "listen", "target", "health", "health_reason", "connections",
 * "active", "refused", "failed", "bytes_in", "bytes_out", "sessions",
 * "datagrams_in", "datagrams_out", "dropped"}]}`. `bytes_in` counts
 * client to upstream, `bytes_out` upstream to client; `health` is
 * `disabled`, `unknown`, `up` or `down`.
 *
 * Returns: (transfer full): the status as a JSON text
 *
 * Since: 0.1
 */
char *
pk_relay_dup_status_json (PkRelay *self)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;

  g_return_val_if_fail (PK_IS_RELAY (self), NULL);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "rules");
  json_builder_begin_array (builder);
  for (guint i = 0; i < self->listeners->len; i++)
    {
      PkRelayListener *l = g_ptr_array_index (self->listeners, i);
      PkRelayRule *rule = l->rule;
      g_autofree char *listen = NULL;
      g_autofree char *target = NULL;
      const char *addr = rule->listen_address ? rule->listen_address : "*";

      listen = strchr (addr, ':') ? g_strdup_printf ("[%s]:%u", addr, l->bound_port)
                                  : g_strdup_printf ("%s:%u", addr, l->bound_port);
      target = strchr (rule->out_host, ':')
                 ? g_strdup_printf ("[%s]:%u", rule->out_host, rule->out_port)
                 : g_strdup_printf ("%s:%u", rule->out_host, rule->out_port);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "name");
      json_builder_add_string_value (builder, rule->name);
      json_builder_set_member_name (builder, "protocol");
      json_builder_add_string_value (builder, rule->protocol == PK_RELAY_PROTOCOL_UDP ? "udp" : "tcp");
      json_builder_set_member_name (builder, "listen");
      json_builder_add_string_value (builder, listen);
      json_builder_set_member_name (builder, "target");
      json_builder_add_string_value (builder, target);
      json_builder_set_member_name (builder, "health");
      json_builder_add_string_value (builder, health_name (l->health));
      json_builder_set_member_name (builder, "health_reason");
      if (l->health_reason != NULL)
        json_builder_add_string_value (builder, l->health_reason);
      else
        json_builder_add_null_value (builder);

#define ADD_INT(member, value) \
      json_builder_set_member_name (builder, member); \
      json_builder_add_int_value (builder, (gint64) (value))
      ADD_INT ("connections", PK_RELAY_LOAD (l->connections));
      ADD_INT ("active", l->udp ? pk_relay_udp_get_n_sessions (l) : PK_RELAY_LOAD (l->active));
      ADD_INT ("refused", PK_RELAY_LOAD (l->refused));
      ADD_INT ("failed", PK_RELAY_LOAD (l->failed));
      ADD_INT ("bytes_in", PK_RELAY_LOAD (l->bytes_in));
      ADD_INT ("bytes_out", PK_RELAY_LOAD (l->bytes_out));
      if (rule->protocol == PK_RELAY_PROTOCOL_UDP)
        {
          ADD_INT ("datagrams_in", PK_RELAY_LOAD (l->datagrams_in));
          ADD_INT ("datagrams_out", PK_RELAY_LOAD (l->datagrams_out));
          ADD_INT ("dropped", PK_RELAY_LOAD (l->dropped));
        }
#undef ADD_INT
      json_builder_end_object (builder);
    }
  if (self->nat_rules->len > 0)
    {
      g_autoptr(GHashTable) counters = pk_relay_nft_counters (NFT_TABLE);

      for (guint i = 0; i < self->nat_rules->len; i++)
        {
          PkRelayRule *rule = g_ptr_array_index (self->nat_rules, i);
          g_autofree char *desc = pk_relay_rule_to_string (rule);
          g_autofree char *listen = NULL;
          g_autofree char *target = NULL;
          guint64 *c = g_hash_table_lookup (counters, rule->name);

          /* "[addr]:port/udp -> host:port": the two halves. */
          listen = g_strndup (desc, strstr (desc, "/udp") - desc);
          target = g_strdup (strstr (desc, " -> ") + 4);
          json_builder_begin_object (builder);
          json_builder_set_member_name (builder, "name");
          json_builder_add_string_value (builder, rule->name);
          json_builder_set_member_name (builder, "protocol");
          json_builder_add_string_value (builder, "udp");
          json_builder_set_member_name (builder, "mode");
          json_builder_add_string_value (builder, "kernel-nat");
          json_builder_set_member_name (builder, "listen");
          json_builder_add_string_value (builder, listen);
          json_builder_set_member_name (builder, "target");
          json_builder_add_string_value (builder, target);
          json_builder_set_member_name (builder, "health");
          json_builder_add_string_value (builder, "disabled");
          /* NAT chains see the first packet of each flow only. */
          json_builder_set_member_name (builder, "connections");
          json_builder_add_int_value (builder, c ? (gint64) c[0] : 0);
          json_builder_end_object (builder);
        }
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  return json_generator_to_data (generator, NULL);
}

/**
 * pk_relay_dup_prometheus:
 * @self: a [class@Relay]
 *
 * The counters of [method@Relay.dup_status_json] for every rule relayed
 * in user space, in the Prometheus text format, labelled by rule name:
 * `proxykit_relay_connections_total{rule}` (TCP connections accepted, UDP
 * sessions opened), `proxykit_relay_connections_active{rule}`,
 * `proxykit_relay_refused_total{rule}`, `proxykit_relay_failed_total{rule}`
 * (upstream connects that failed), `proxykit_relay_bytes_total{rule,
 * direction}` (`in`: client to upstream; `out`) and
 * `proxykit_relay_healthy{rule}` (0 when the health check has the rule
 * down). For a collector of [class@MetricsServer].
 *
 * Returns: (transfer full): the text
 *
 * Since: 0.2
 */
char *
pk_relay_dup_prometheus (PkRelay *self)
{
  g_autoptr(PkPromWriter) w = pk_prom_writer_new ();
  guint n;

  g_return_val_if_fail (PK_IS_RELAY (self), NULL);

  n = self->listeners->len;
#define RULE(i) (((PkRelayListener *) g_ptr_array_index (self->listeners, (i)))->rule->name)
#define LISTENER(i) ((PkRelayListener *) g_ptr_array_index (self->listeners, (i)))
#define COUNTER(metric, type, help, expr) \
  pk_prom_writer_family (w, metric, type, help); \
  for (guint i = 0; i < n; i++) \
    { \
      PkRelayListener *l = LISTENER (i); \
      pk_prom_writer_sample_uint (w, metric, (guint64) (expr), "rule", RULE (i), NULL); \
    }
  COUNTER ("proxykit_relay_connections_total", PK_PROM_COUNTER,
           "Connections accepted (TCP) or sessions opened (UDP), by rule.",
           PK_RELAY_LOAD (l->connections));
  COUNTER ("proxykit_relay_connections_active", PK_PROM_GAUGE,
           "Connections (TCP) or sessions (UDP) open now, by rule.",
           l->udp ? pk_relay_udp_get_n_sessions (l) : PK_RELAY_LOAD (l->active));
  COUNTER ("proxykit_relay_refused_total", PK_PROM_COUNTER,
           "Connections refused (allowlist, session limit, rule down), by rule.",
           PK_RELAY_LOAD (l->refused));
  COUNTER ("proxykit_relay_failed_total", PK_PROM_COUNTER,
           "Connections whose upstream could not be reached, by rule.",
           PK_RELAY_LOAD (l->failed));
  COUNTER ("proxykit_relay_healthy", PK_PROM_GAUGE,
           "1 unless the rule's health check has its upstream down.",
           l->health != PK_RELAY_HEALTH_DOWN);
#undef COUNTER
  pk_prom_writer_family (w, "proxykit_relay_bytes_total", PK_PROM_COUNTER,
                         "Bytes relayed, by rule and direction (in: client to upstream, out: upstream to client).");
  for (guint i = 0; i < n; i++)
    {
      PkRelayListener *l = LISTENER (i);

      pk_prom_writer_sample_uint (w, "proxykit_relay_bytes_total", PK_RELAY_LOAD (l->bytes_in),
                                  "rule", RULE (i), "direction", "in", NULL);
      pk_prom_writer_sample_uint (w, "proxykit_relay_bytes_total", PK_RELAY_LOAD (l->bytes_out),
                                  "rule", RULE (i), "direction", "out", NULL);
    }
#undef RULE
#undef LISTENER
  return pk_prom_writer_free_to_string (g_steal_pointer (&w));
}
