/* pk-relay-tcp.c: the TCP half of PkRelay
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Connections accepted on a rule's listening socket (or on a worker
 * thread's, see pk_relay_set_workers()) are connected upstream through
 * the rule's egress and bridged; a connect that fails in a way that says
 * the host may have moved looks the name up again, once. */

#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pk-acceptor-private.h"
#include "pk-bridge-private.h"
#include "pk-egress-private.h"
#include "pk-error.h"
#include "pk-relay-tcp-private.h"
#include "pk-util-private.h"
#include "pk-workers-private.h"

/* How long a relayed connection runs before its upstream socket gets the
 * rule's keepalive: see tcp_bridge(). */
#define KEEPALIVE_DELAY_US (1 * G_USEC_PER_SEC)
/* Out of descriptors, every client accepted fails the same way, as fast as
 * clients come: one line per rule this often says how many did. */
#define SOCKET_LOG_INTERVAL_US (10 * G_USEC_PER_SEC)

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

/* No upstream socket (or no poller) for @conn: the process is out of
 * descriptors or memory, and the log says so at most once per interval. */
static void
tcp_fail_no_socket (TcpConn      *conn,
                    const GError *error)
{
  PkRelayListener *listener = conn->listener;
  guint64 count;
  gboolean due;

  PK_RELAY_COUNT (listener->failed, 1);
  g_mutex_lock (&listener->lock);
  due = pk_log_limit_due (&listener->socket_log, SOCKET_LOG_INTERVAL_US, &count);
  g_mutex_unlock (&listener->lock);
  if (due)
    {
      g_autofree char *peer = pk_format_sockaddr (&conn->peer);

      if (count > 1)
        g_message ("relay %s: connection from %s: %s (%" G_GUINT64_FORMAT
                   " connections failed so since the last message)",
                   listener->rule->name, peer, error->message, count);
      else
        g_message ("relay %s: connection from %s: %s", listener->rule->name, peer, error->message);
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
  pk_relay_listener_set_addresses (listener, addresses);
  pk_relay_listener_get_upstream (listener, TRUE, &first);

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
      pk_relay_listener_forget_addresses (listener);
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
      tcp_fail_no_socket (conn, error);
      return;
    }
  /* Before the connect, as on the listening socket (see
   * pk_relay_prepare_listen_socket()); keepalive comes later (tcp_bridge()). */
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
          tcp_fail_no_socket (conn, error);
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
   * pk_relay_prepare_listen_socket(). */

  if (pk_relay_listener_get_upstream (listener, FALSE, &to))
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
  tcp_accept_cb (fd, peer, user_data);
}

static guint
workers_listen (PkWorkers        *workers,
                PkRelayListener  *listener,
                GInetAddress     *address,
                GError          **error)
{
  g_autoptr(GSocketAddress) sa = g_inet_socket_address_new (address, listener->rule->in_port);
  guint id;

  id = pk_workers_listen_full (workers, sa, pk_relay_prepare_listen_socket, listener->rule,
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
listen_on_workers (PkWorkers        *workers,
                   PkRelayListener  *listener,
                   GError          **error)
{
  PkRelayRule *rule = listener->rule;
  g_autoptr(GInetAddress) address = NULL;
  g_autoptr(GError) local_error = NULL;

  address = rule->listen_address ? g_inet_address_new_from_string (rule->listen_address)
                                 : g_inet_address_new_any (G_SOCKET_FAMILY_IPV6);
  listener->workers_id = workers_listen (workers, listener, address, &local_error);
  if (listener->workers_id == 0 && rule->listen_address == NULL &&
      !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))
    {
      /* A host without IPv6. */
      g_clear_error (&local_error);
      g_clear_object (&address);
      address = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
      listener->workers_id = workers_listen (workers, listener, address, &local_error);
    }
  if (listener->workers_id == 0)
    {
      g_set_error (error, local_error->domain, local_error->code,
                   "relay %s: cannot listen on port %u/tcp: %s", rule->name, rule->in_port,
                   local_error->message);
      return FALSE;
    }
  listener->workers = g_object_ref (workers);
  return TRUE;
}

gboolean
pk_relay_tcp_start (PkRelayListener  *listener,
                    PkWorkers        *workers,
                    GError          **error)
{
  PkRelayRule *rule = listener->rule;
  g_autofree char *name = NULL;

  if (workers != NULL)
    return listen_on_workers (workers, listener, error);

  listener->socket = pk_relay_listen_socket (rule, G_SOCKET_TYPE_STREAM, error);
  if (listener->socket == NULL)
    return FALSE;
  /* The same accept loop as the workers', with its pause when out of
   * descriptors. */
  name = g_strdup_printf ("relay %s", rule->name);
  listener->acceptor = pk_acceptor_new (g_main_context_get_thread_default (), listener->socket,
                                        name, tcp_accept_cb, listener, error);
  if (listener->acceptor == NULL)
    {
      g_prefix_error (error, "relay %s: ", rule->name);
      return FALSE;
    }
  return TRUE;
}

void
pk_relay_tcp_close (PkRelayListener *listener)
{
  if (listener->workers_id != 0)
    {
      pk_workers_remove_listener (listener->workers, listener->workers_id);
      listener->workers_id = 0;
    }
  g_clear_pointer (&listener->acceptor, pk_acceptor_free);
}
