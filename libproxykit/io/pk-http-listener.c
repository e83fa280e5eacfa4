/* pk-http-listener.c: the listening socket of the project's libsoup
 * servers, with the limits libsoup does not have
 *
 * soup_server_listen() gives a backlog of 10, no idle timeout and no cap
 * on connections, and stops accepting for good after one accept error:
 * about a thousand idle connections exhaust the descriptors, and after
 * the first EMFILE the server is deaf while the process looks alive. Here
 * the project's one accept loop (PkAcceptor: batches, a back-off on
 * EMFILE and kin, a rate-limited warning) accepts, and each connection is
 * handed to the server with soup_server_accept_iostream(); the server's
 * request signals tell
 * when a connection waits for a request (the idle timer runs) and when a
 * handler works on one (it does not).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <unistd.h>

#include "pk-acceptor-private.h"
#include "pk-http-listener-private.h"
#include "pk-util-private.h"

#define LOG_INTERVAL_US G_USEC_PER_SEC

struct _PkHttpListener
{
  SoupServer *server;       /* weak: the server owns its listener's life */
  GSocket *socket;
  GMainContext *context;
  PkAcceptor *acceptor;
  PkHttpLimits limits;
  guint16 port;
  gboolean stopped;

  GHashTable *conns;        /* "ip:port" of the peer -> Conn */

  guint64 refused;
  PkLogLimit log_limit;
};

typedef struct {
  PkHttpListener *listener; /* a reference */
  GSocket *socket;          /* borrowed from the connection */
  char *key;
  GSource *idle_timer;
} Conn;

static PkHttpListener *
listener_ref (PkHttpListener *self)
{
  return g_atomic_rc_box_acquire (self);
}

static void
listener_clear (PkHttpListener *self)
{
  g_clear_pointer (&self->conns, g_hash_table_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
}

static void
listener_unref (PkHttpListener *self)
{
  g_atomic_rc_box_release_full (self, (GDestroyNotify) listener_clear);
}

/* One line a second at most, with how many it stands for. */
static void
log_limited (PkHttpListener *self,
             const char     *what,
             const char     *detail)
{
  guint64 count;

  if (pk_log_limit_due (&self->log_limit, LOG_INTERVAL_US, &count))
    g_warning ("HTTP server on port %u: %s: %s (%" G_GUINT64_FORMAT " time%s since the last message)",
               self->port, what, detail, count, count == 1 ? "" : "s");
}

static void
conn_stop_timer (Conn *conn)
{
  if (conn->idle_timer != NULL)
    {
      g_source_destroy (conn->idle_timer);
      g_clear_pointer (&conn->idle_timer, g_source_unref);
    }
}

static gboolean
on_idle_timeout (gpointer data)
{
  Conn *conn = data;

  g_debug ("HTTP server on port %u: %s idle for %u ms, closing",
           conn->listener->port, conn->key, conn->listener->limits.idle_timeout_ms);
  g_clear_pointer (&conn->idle_timer, g_source_unref);
  /* The server reads an end of stream and closes the connection. */
  g_socket_shutdown (conn->socket, TRUE, TRUE, NULL);
  return G_SOURCE_REMOVE;
}

static void
conn_start_timer (Conn *conn)
{
  PkHttpListener *self = conn->listener;

  conn_stop_timer (conn);
  if (self->limits.idle_timeout_ms == 0 || self->stopped)
    return;
  conn->idle_timer = pk_timeout_source_attach (self->context, self->limits.idle_timeout_ms, on_idle_timeout, conn);
}

/* The connection object is gone: the server closed it. */
static void
conn_gone (gpointer  data,
           GObject  *where_the_object_was)
{
  Conn *conn = data;
  PkHttpListener *self = conn->listener;

  conn_stop_timer (conn);
  if (self->conns != NULL && g_hash_table_lookup (self->conns, conn->key) == conn)
    g_hash_table_remove (self->conns, conn->key);
  g_free (conn->key);
  g_free (conn);
  listener_unref (self);
}

static char *
address_key (GSocketAddress *address)
{
  GInetSocketAddress *inet;
  g_autofree char *ip = NULL;

  if (!G_IS_INET_SOCKET_ADDRESS (address))
    return NULL;
  inet = G_INET_SOCKET_ADDRESS (address);
  ip = g_inet_address_to_string (g_inet_socket_address_get_address (inet));
  return g_strdup_printf ("%s:%u", ip, g_inet_socket_address_get_port (inet));
}

static Conn *
conn_for_message (PkHttpListener    *self,
                  SoupServerMessage *msg)
{
  g_autofree char *key = address_key (soup_server_message_get_remote_address (msg));

  return key != NULL ? g_hash_table_lookup (self->conns, key) : NULL;
}

/* A whole request is in: its handler may take long (a toggle takes
 * seconds), which is not idleness. */
static void
on_request_read (SoupServer        *server,
                 SoupServerMessage *msg,
                 gpointer           data)
{
  Conn *conn = conn_for_message (data, msg);

  if (conn != NULL)
    conn_stop_timer (conn);
}

/* Answered: the connection waits for its next request. */
static void
on_request_done (SoupServer        *server,
                 SoupServerMessage *msg,
                 gpointer           data)
{
  Conn *conn = conn_for_message (data, msg);

  if (conn != NULL)
    conn_start_timer (conn);
}

static void
hand_over (int               fd,
           const PkSockaddr *peer,
           gpointer          data)
{
  PkHttpListener *self = data;
  g_autoptr(GSocket) client = NULL;
  g_autoptr(GSocketConnection) stream = NULL;
  g_autoptr(GSocketAddress) local = NULL;
  g_autoptr(GSocketAddress) remote = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *key = NULL;
  Conn *conn;

  if (self->limits.max_connections > 0 &&
      g_hash_table_size (self->conns) >= self->limits.max_connections)
    {
      self->refused++;
      log_limited (self, "connection refused", "too many connections at once");
      close (fd);
      return;
    }
  client = g_socket_new_from_fd (fd, &error);
  if (client == NULL)
    {
      g_debug ("HTTP server on port %u: %s", self->port, error->message);
      close (fd);
      return;
    }

  local = g_socket_get_local_address (client, NULL);
  remote = g_socket_get_remote_address (client, &error);
  key = remote != NULL ? address_key (remote) : NULL;
  if (key == NULL)
    {
      /* Gone before we got to it (ENOTCONN). */
      g_socket_close (client, NULL);
      return;
    }

  stream = g_socket_connection_factory_create_connection (client);
  conn = g_new0 (Conn, 1);
  conn->listener = listener_ref (self);
  conn->socket = client;
  conn->key = g_strdup (key);
  g_hash_table_replace (self->conns, conn->key, conn);
  g_object_weak_ref (G_OBJECT (stream), conn_gone, conn);
  conn_start_timer (conn);

  if (!soup_server_accept_iostream (self->server, G_IO_STREAM (stream), local, remote, &error))
    {
      g_debug ("HTTP server on port %u: %s: %s", self->port, key, error->message);
      g_io_stream_close (G_IO_STREAM (stream), NULL, NULL);
    }
}

PkHttpListener *
pk_http_listener_new (SoupServer          *server,
                      GSocketAddress      *address,
                      const PkHttpLimits  *limits,
                      GError             **error)
{
  static const PkHttpLimits defaults = {
    PK_HTTP_DEFAULT_IDLE_TIMEOUT_MS, PK_HTTP_DEFAULT_MAX_CONNECTIONS, PK_HTTP_DEFAULT_BACKLOG
  };
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) bound = NULL;
  g_autofree char *name = NULL;
  PkHttpListener *self;

  g_return_val_if_fail (SOUP_IS_SERVER (server), NULL);
  g_return_val_if_fail (G_IS_SOCKET_ADDRESS (address), NULL);

  socket = g_socket_new (g_socket_address_get_family (address), G_SOCKET_TYPE_STREAM,
                         G_SOCKET_PROTOCOL_TCP, error);
  if (socket == NULL)
    return NULL;
  g_socket_set_blocking (socket, FALSE);
  g_socket_set_listen_backlog (socket, limits != NULL ? limits->backlog : defaults.backlog);
  if (!g_socket_bind (socket, address, TRUE, error) || !g_socket_listen (socket, error))
    return NULL;
  bound = g_socket_get_local_address (socket, error);
  if (bound == NULL)
    return NULL;

  self = g_atomic_rc_box_new0 (PkHttpListener);
  self->server = server;
  self->socket = g_steal_pointer (&socket);
  self->context = g_main_context_ref_thread_default ();
  self->limits = limits != NULL ? *limits : defaults;
  self->port = G_IS_INET_SOCKET_ADDRESS (bound) ? g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)) : 0;
  self->conns = g_hash_table_new (g_str_hash, g_str_equal);

  name = g_strdup_printf ("HTTP server on port %u", self->port);
  self->acceptor = pk_acceptor_new (self->context, self->socket, name, hand_over, self, error);
  if (self->acceptor == NULL)
    {
      g_socket_close (self->socket, NULL);
      g_clear_object (&self->socket);
      listener_unref (self);
      return NULL;
    }

  g_signal_connect (server, "request-read", G_CALLBACK (on_request_read), self);
  g_signal_connect (server, "request-finished", G_CALLBACK (on_request_done), self);
  g_signal_connect (server, "request-aborted", G_CALLBACK (on_request_done), self);
  return self;
}

guint16
pk_http_listener_get_port (PkHttpListener *self)
{
  return self->port;
}

char *
pk_http_listener_dup_url (PkHttpListener *self,
                          const char     *path)
{
  g_autoptr(GSocketAddress) local = g_socket_get_local_address (self->socket, NULL);
  g_autofree char *host = NULL;
  GInetAddress *inet;

  if (!G_IS_INET_SOCKET_ADDRESS (local))
    return NULL;
  inet = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (local));
  host = g_inet_address_to_string (inet);
  if (g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV6)
    return g_strdup_printf ("http://[%s]:%u%s", host, self->port, path);
  return g_strdup_printf ("http://%s:%u%s", host, self->port, path);
}

guint
pk_http_listener_get_n_connections (PkHttpListener *self)
{
  return g_hash_table_size (self->conns);
}

guint64
pk_http_listener_get_accept_errors (PkHttpListener *self)
{
  return pk_acceptor_get_pauses (self->acceptor);
}

guint64
pk_http_listener_get_refused (PkHttpListener *self)
{
  return self->refused;
}

void
pk_http_listener_free (PkHttpListener *self)
{
  GHashTableIter it;
  gpointer value;

  if (self == NULL)
    return;

  self->stopped = TRUE;
  g_signal_handlers_disconnect_by_data (self->server, self);
  g_clear_pointer (&self->acceptor, pk_acceptor_free);
  g_socket_close (self->socket, NULL);
  g_clear_object (&self->socket);
  /* Connections live on with the server; no more idle timers for them. */
  g_hash_table_iter_init (&it, self->conns);
  while (g_hash_table_iter_next (&it, NULL, &value))
    conn_stop_timer (value);
  self->server = NULL;
  listener_unref (self);
}
