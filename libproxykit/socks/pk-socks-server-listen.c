/* pk-socks-server-listen.c: PkSocksServer's listening sockets, session
 * slots and graceful stop
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <arpa/inet.h>
#include <unistd.h>

#include "pk-acceptor-private.h"
#include "pk-error.h"
#include "pk-socks-server-private.h"
#include "pk-util-private.h"
#include "pk-workers-private.h"

struct _PkSocksListener
{
  PkSocksServer *server;      /* unowned: the server owns the listener */
  GSocket *socket;            /* NULL for a listener served by workers */
  PkAcceptor *acceptor;
  PkWorkers *workers;         /* a socket per worker, SO_REUSEPORT */
  guint workers_id;
  GSocketAddress *address;    /* bound address of a workers listener */
};

void
pk_socks_listener_free (gpointer data)
{
  PkSocksListener *listener = data;

  pk_acceptor_free (listener->acceptor);
  if (listener->workers != NULL)
    pk_workers_remove_listener (listener->workers, listener->workers_id);
  g_clear_object (&listener->workers);
  g_clear_object (&listener->address);
  if (listener->socket != NULL)
    g_socket_close (listener->socket, NULL);
  g_clear_object (&listener->socket);
  g_free (listener);
}

/* --- sessions --- */

static PkSocksSessionConfig *
host_dup_config (GObject *host)
{
  PkSocksServer *self = PK_SOCKS_SERVER (host);
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

/* The per-client key: the address as text, on the stack. */
static const char *
client_key (GInetAddress *client,
            char          buf[INET6_ADDRSTRLEN])
{
  int family = g_inet_address_get_family (client) == G_SOCKET_FAMILY_IPV6 ? AF_INET6 : AF_INET;

  if (inet_ntop (family, g_inet_address_to_bytes (client), buf, INET6_ADDRSTRLEN) == NULL)
    g_strlcpy (buf, "?", INET6_ADDRSTRLEN);
  return buf;
}

static char *
host_take_slot (GObject      *host,
                GInetAddress *client)
{
  PkSocksServer *self = PK_SOCKS_SERVER (host);
  char buf[INET6_ADDRSTRLEN];
  const char *key = client_key (client, buf);
  guint *per_client;
  guint max, max_per_client;

  max = g_atomic_int_get (&self->max_sessions);
  max_per_client = g_atomic_int_get (&self->max_sessions_per_client);

  g_mutex_lock (&self->lock);
  per_client = g_hash_table_lookup (self->per_client, key);
  if (max > 0 && self->n_active >= max)
    {
      g_mutex_unlock (&self->lock);
      return g_strdup_printf ("listener has %u sessions (max-sessions)", max);
    }
  if (max_per_client > 0 && per_client != NULL && *per_client >= max_per_client)
    {
      g_mutex_unlock (&self->lock);
      return g_strdup_printf ("client has %u sessions (max-sessions-per-client)", max_per_client);
    }
  self->n_active++;
  /* A count per client, changed in place: no allocation but for a new one. */
  if (per_client == NULL)
    {
      per_client = g_new0 (guint, 1);
      g_hash_table_insert (self->per_client, g_strdup (key), per_client);
    }
  (*per_client)++;
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

static void
host_release_slot (GObject      *host,
                   GInetAddress *client)
{
  PkSocksServer *self = PK_SOCKS_SERVER (host);
  char buf[INET6_ADDRSTRLEN];
  const char *key = client_key (client, buf);
  guint *per_client;
  GTask *stop_task = NULL;

  g_mutex_lock (&self->lock);
  per_client = g_hash_table_lookup (self->per_client, key);
  if (per_client == NULL || *per_client <= 1)
    g_hash_table_remove (self->per_client, key);
  else
    (*per_client)--;
  g_assert (self->n_active > 0);
  self->n_active--;
  if (self->n_active == 0 && self->stop_task != NULL)
    stop_task = g_steal_pointer (&self->stop_task);
  g_mutex_unlock (&self->lock);

  if (stop_task != NULL)
    g_main_context_invoke (g_task_get_context (stop_task), stop_complete_cb, stop_task);
}

static void
host_ended (GObject *host,
            guint    result,
            guint64  bytes_up,
            guint64  bytes_down)
{
  PkSocksServer *self = PK_SOCKS_SERVER (host);

  __atomic_add_fetch (&self->sessions_total, 1, __ATOMIC_RELAXED);
  __atomic_add_fetch (&self->bytes_up, bytes_up, __ATOMIC_RELAXED);
  __atomic_add_fetch (&self->bytes_down, bytes_down, __ATOMIC_RELAXED);
  if (result < PK_SOCKS_RESULT_N)
    __atomic_add_fetch (&self->results[result], 1, __ATOMIC_RELAXED);
}

static void
host_observe (GObject        *host,
              PkSocksLatency  kind,
              gint64          us)
{
  PkSocksServer *self = PK_SOCKS_SERVER (host);

  if (kind < PK_SOCKS_LATENCY_N)
    pk_prom_histogram_observe_us (&self->latency[kind], MAX (us, 0));
}

static GCancellable *
host_get_stop_cancellable (GObject *host)
{
  return PK_SOCKS_SERVER (host)->stop_cancellable;
}

/* What sessions see of the server. */
static const PkSocksSessionHost session_host = {
  .dup_config = host_dup_config,
  .take_slot = host_take_slot,
  .release_slot = host_release_slot,
  .ended = host_ended,
  .observe = host_observe,
  .get_stop_cancellable = host_get_stop_cancellable,
};

void
pk_socks_server_handle_client (PkSocksServer    *self,
                               int               fd,
                               const PkSockaddr *peer)
{
  g_return_if_fail (PK_IS_SOCKS_SERVER (self));
  g_return_if_fail (fd >= 0);

  if (g_cancellable_is_cancelled (self->stop_cancellable) || self->stopping)
    {
      close (fd);
      return;
    }
  pk_socks_session_start (&session_host, G_OBJECT (self), fd, peer);
}

/* --- listening --- */

/* In the listener's context (its own or a worker's). */
static void
accepted_cb (int               fd,
             const PkSockaddr *peer,
             gpointer          user_data)
{
  /* The session runs on the descriptor itself: no GSocket. */
  pk_socks_server_handle_client (user_data, fd, peer);
}

static void
worker_accepted_cb (int               fd,
                    const PkSockaddr *peer,
                    guint             worker,
                    gpointer          user_data)
{
  /* On the worker's thread: the session stays there. */
  accepted_cb (fd, peer, user_data);
}


static gboolean
listen_on_workers (PkSocksServer   *self,
                   GSocketAddress  *address,
                   GError         **error)
{
  PkSocksListener *listener;
  guint id;

  if (self->stopping)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_STATE, "the SOCKS server is stopping");
      return FALSE;
    }
  /* Unowned user data: pk_socks_listener_free() removes the listener, and
   * with it every callback, before the server goes away. */
  id = pk_workers_listen_full (self->workers, address, NULL, NULL, NULL, worker_accepted_cb, self,
                               NULL, error);
  if (id == 0)
    return FALSE;

  listener = g_new0 (PkSocksListener, 1);
  listener->server = self;
  listener->workers = g_object_ref (self->workers);
  listener->workers_id = id;
  listener->address = pk_workers_get_listener_address (self->workers, id);
  g_ptr_array_add (self->listeners, listener);
  pk_socks_server_listener_added (self, listener->address);
  return TRUE;
}

static GSocketAddress *
listener_dup_address (PkSocksListener *listener)
{
  if (listener->address != NULL)
    return g_object_ref (listener->address);
  return g_socket_get_local_address (listener->socket, NULL);
}

/**
 * pk_socks_server_set_workers:
 * @self: a [class@SocksServer]
 * @workers: (nullable): worker threads to serve on
 *
 * Listeners made by [method@SocksServer.listen] from now on get a socket
 * per worker (`SO_REUSEPORT`), and each session runs on the worker that
 * accepted it. Without workers (the default) the server runs in the
 * thread-default main context of the caller of listen().
 *
 * Since: 0.1
 */
void
pk_socks_server_set_workers (PkSocksServer *self,
                             PkWorkers     *workers)
{
  g_return_if_fail (PK_IS_SOCKS_SERVER (self));
  g_return_if_fail (workers == NULL || PK_IS_WORKERS (workers));

  g_set_object (&self->workers, workers);
}

/**
 * pk_socks_server_add_socket:
 * @self: a [class@SocksServer]
 * @socket: a bound, listening TCP socket
 * @error: return location for a `GError`
 *
 * Serves clients that connect to @socket (for example one passed by
 * systemd), in the thread-default main context of the caller. A socket
 * off loopback needs users, an allowlist or [property@SocksServer:allow-open].
 *
 * Returns: %TRUE, or %FALSE with @error set (%PK_ERROR_NOT_ALLOWED for
 *   an open listener)
 *
 * Since: 0.1
 */
gboolean
pk_socks_server_add_socket (PkSocksServer  *self,
                            GSocket        *socket,
                            GError        **error)
{
  g_autoptr(GSocketAddress) local = NULL;
  g_autofree char *name = NULL;
  PkSocksListener *listener;
  PkAcceptor *acceptor;

  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), FALSE);
  g_return_val_if_fail (G_IS_SOCKET (socket), FALSE);

  if (self->stopping)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_STATE, "the SOCKS server is stopping");
      return FALSE;
    }

  local = g_socket_get_local_address (socket, error);
  if (local == NULL || !pk_socks_server_check_open (self, local, error))
    return FALSE;

  /* Clients inherit it: handshake replies go out without waiting for
   * Nagle, as on workers' sockets. */
  pk_socket_set_nodelay (g_socket_get_fd (socket));
  name = g_strdup_printf ("socks%s%s%s", self->name ? "[" : "", self->name ? self->name : "",
                          self->name ? "]" : "");
  acceptor = pk_acceptor_new (g_main_context_get_thread_default (), socket, name, accepted_cb,
                              self, error);
  if (acceptor == NULL)
    return FALSE;

  listener = g_new0 (PkSocksListener, 1);
  listener->server = self;
  listener->socket = g_object_ref (socket);
  listener->acceptor = acceptor;
  g_ptr_array_add (self->listeners, listener);
  pk_socks_server_listener_added (self, local);
  return TRUE;
}

/**
 * pk_socks_server_listen:
 * @self: a [class@SocksServer]
 * @address: "ADDRESS:PORT" (`127.0.0.1:1080`, `[::]:1080`, port 0 for
 *   any free port; a bare address means port 1080)
 * @error: return location for a `GError`
 *
 * Binds a listening socket and serves it in the thread-default main
 * context of the caller. A server can listen on several addresses; they
 * share its policy, egress and counters.
 *
 * A listener off loopback needs users, an allowlist (set before) or
 * [property@SocksServer:allow-open]: one that anyone could use is refused with
 * %PK_ERROR_NOT_ALLOWED before a socket is made.
 *
 * Returns: %TRUE, or %FALSE with @error set naming @address
 *
 * Since: 0.1
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

  sa = pk_parse_listen_address (address, 1080, error);
  if (sa == NULL)
    return FALSE;
  if (!pk_socks_server_check_open (self, sa, error))
    return FALSE;

  if (self->workers != NULL)
    return listen_on_workers (self, sa, error);

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
 * @self: a [class@SocksServer]
 *
 * Gets the port of the first listening socket, or 0 if there is none.
 *
 * Returns: the port of the first listening socket, or 0 if there is none
 *
 * Since: 0.1
 */
guint16
pk_socks_server_get_port (PkSocksServer *self)
{
  PkSocksListener *listener;
  g_autoptr(GSocketAddress) local = NULL;

  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), 0);

  if (self->listeners->len == 0)
    return 0;
  listener = g_ptr_array_index (self->listeners, 0);
  local = listener_dup_address (listener);
  if (local == NULL || !G_IS_INET_SOCKET_ADDRESS (local))
    return 0;
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
}

/**
 * pk_socks_server_dup_listen_addresses:
 * @self: a [class@SocksServer]
 *
 * Gets the bound addresses, such as `127.0.0.1:40123` and `[::1]:40123`.
 *
 * Returns: (transfer full) (array zero-terminated=1): the bound addresses,
 *   such as `127.0.0.1:40123` and `[::1]:40123`
 *
 * Since: 0.1
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
      PkSocksListener *listener = g_ptr_array_index (self->listeners, i);
      g_autoptr(GSocketAddress) local = listener_dup_address (listener);

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
 * @self: a [class@SocksServer]
 *
 * Tells whether every listening socket is on a loopback address.
 *
 * Returns: %TRUE if every listening socket is on a loopback address
 *
 * Since: 0.1
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
 * @self: a [class@SocksServer]
 * @drain_timeout_ms: how long live sessions may go on, 0 to close them now
 * @cancellable: (nullable): cancelling it closes live sessions at once
 * @callback: (scope async): called when every session has ended
 * @user_data: data for @callback
 *
 * Stops accepting clients, lets live sessions finish for up to
 * @drain_timeout_ms, then closes what is left. The server cannot be
 * started again.
 *
 * Since: 0.1
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
  pk_socks_server_stop_access_lists (self);

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
 * @self: a [class@SocksServer]
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Finishes [method@SocksServer.stop_async].
 *
 * Returns: %TRUE once every session has ended
 *
 * Since: 0.1
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
 * @self: a [class@SocksServer]
 *
 * Closes the listening sockets and every live session now.
 *
 * Since: 0.1
 */
void
pk_socks_server_close (PkSocksServer *self)
{
  g_return_if_fail (PK_IS_SOCKS_SERVER (self));

  self->stopping = TRUE;
  g_ptr_array_set_size (self->listeners, 0);
  pk_socks_server_stop_access_lists (self);
  g_cancellable_cancel (self->stop_cancellable);
}
