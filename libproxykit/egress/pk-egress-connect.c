/* pk-egress-connect.c: TCP connections through an egress
 *
 * pk_egress_connect_async() makes one non-blocking connect on the
 * thread-default PkPoller (no GSource of its own); the address-trying
 * loop (resolve, then each address in turn under one deadline, with an
 * optional filter, which the SOCKS destination policy uses) is
 * pk_egress_connect_to_addresses_async(), and
 * pk_egress_connect_to_host_async() is it after pk_egress_resolve_async().
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <unistd.h>

#include "pk-egress.h"
#include "pk-egress-private.h"
#include "pk-error.h"
#include "pk-poller-private.h"
#include "pk-util-private.h"

/* --- one connect, on a descriptor (no GSocket until the caller wants one) --- */

typedef struct {
  int fd;
  PkSockaddr to;
  PkPollerWatch *watch;     /* writability, the timeout and cancellation */
  guint timeout_ms;
} FdConnectData;

static void
fd_connect_data_free (FdConnectData *data)
{
  g_clear_pointer (&data->watch, pk_poller_watch_destroy);
  if (data->fd >= 0)
    close (data->fd);
  g_free (data);
}

static void
fd_connect_watch_cb (PkPollerWatch *watch,
                     int            slot,
                     GIOCondition   condition,
                     gpointer       user_data)
{
  g_autoptr(GTask) task = user_data;
  FdConnectData *data = g_task_get_task_data (task);
  GError *error = NULL;

  g_clear_pointer (&data->watch, pk_poller_watch_destroy);
  if (g_task_return_error_if_cancelled (task))
    return;
  if (slot == -1)
    {
      g_autofree char *dest = pk_format_sockaddr (&data->to);

      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                               "connect to %s timed out after %u ms", dest, data->timeout_ms);
      return;
    }
  if (!pk_fd_connect_finish (data->fd, condition, &data->to, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_return_int (task, data->fd);
  data->fd = -1;
}

/* pk_egress_connect_async() on a descriptor: the result is the connected,
 * non-blocking descriptor (g_task_propagate_int()), or -1 with an error. */
static void
connect_fd_async (PkEgress            *self,
                  GInetAddress        *address,
                  guint16              port,
                  guint                timeout_ms,
                  GCancellable        *cancellable,
                  GAsyncReadyCallback  callback,
                  gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autoptr(GSocketAddress) sa = g_inet_socket_address_new (address, port);
  FdConnectData *data = g_new0 (FdConnectData, 1);
  GError *error = NULL;
  gboolean in_progress;
  PkPoller *poller;

  g_task_set_source_tag (task, connect_fd_async);
  data->fd = -1;
  data->timeout_ms = timeout_ms;
  g_task_set_task_data (task, data, (GDestroyNotify) fd_connect_data_free);
  pk_sockaddr_from_socket_address (&data->to, sa);

  data->fd = pk_egress_open_fd (self, g_inet_address_get_family (address), G_SOCKET_TYPE_STREAM,
                                &error);
  if (data->fd < 0 || !pk_fd_connect (data->fd, &data->to, &in_progress, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  if (!in_progress)
    {
      g_task_return_int (task, data->fd);
      data->fd = -1;
      return;
    }
  /* The descriptor, the timeout and cancellation in the context's poller:
   * see pk-poller-private.h. */
  poller = pk_poller_get_thread_default (&error);
  if (poller == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  data->watch = pk_poller_watch_new (poller, fd_connect_watch_cb, g_object_ref (task));
  if (!pk_poller_watch_set_fd (data->watch, 0, data->fd, G_IO_OUT, &error))
    {
      g_clear_pointer (&data->watch, pk_poller_watch_destroy);
      g_object_unref (task);
      g_task_return_error (task, error);
      return;
    }
  if (timeout_ms > 0)
    pk_poller_watch_set_deadline (data->watch, g_get_monotonic_time () +
                                               (gint64) timeout_ms * G_TIME_SPAN_MILLISECOND);
  if (cancellable != NULL)
    pk_poller_watch_set_cancellable (data->watch, cancellable);
}

/* The GSocket of a descriptor connected through the egress, as
 * pk_egress_create_socket() makes them; NULL with @error (and @fd closed). */
static GSocket *
socket_from_fd (int      fd,
                GError **error)
{
  GSocket *socket = g_socket_new_from_fd (fd, error);

  if (socket == NULL)
    {
      close (fd);
      return NULL;
    }
  g_socket_set_blocking (socket, FALSE);
  return socket;
}

static void
connect_socket_done (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  int fd = (int) g_task_propagate_int (G_TASK (result), &error);
  GSocket *socket = fd >= 0 ? socket_from_fd (fd, &error) : NULL;

  if (socket != NULL)
    g_task_return_pointer (task, socket, g_object_unref);
  else
    g_task_return_error (task, error);
}

/* --- connecting --- */

/**
 * pk_egress_connect_async:
 * @self: a [class@Egress]
 * @address: the destination
 * @timeout_ms: timeout in milliseconds, 0 for none
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Opens a TCP connection to @address through this egress. The socket is
 * non-blocking and never leaves by another route than the egress allows.
 *
 * Since: 0.1
 */
void
pk_egress_connect_async (PkEgress            *self,
                         GSocketAddress      *address,
                         guint                timeout_ms,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (PK_IS_EGRESS (self));
  g_return_if_fail (G_IS_INET_SOCKET_ADDRESS (address));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_egress_connect_async);
  connect_fd_async (self, g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address)),
                    g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address)),
                    timeout_ms, cancellable, connect_socket_done, task);
}

/**
 * pk_egress_connect_finish:
 * @self: a [class@Egress]
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Finishes [method@Egress.connect_async].
 *
 * Returns: (transfer full): the connected, non-blocking socket, or %NULL
 *   with @error set: GIO's errors for the connect itself
 *   (%G_IO_ERROR_CONNECTION_REFUSED, %G_IO_ERROR_NETWORK_UNREACHABLE,
 *   %G_IO_ERROR_HOST_UNREACHABLE, %G_IO_ERROR_TIMED_OUT), %PK_ERROR_EGRESS
 *   when the egress cannot be applied
 *
 * Since: 0.1
 */
GSocket *
pk_egress_connect_finish (PkEgress      *self,
                          GAsyncResult  *result,
                          GError       **error)
{
  g_return_val_if_fail (PK_IS_EGRESS (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pk_egress_connect_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* --- connecting to several addresses in turn --- */

typedef struct {
  char *dest;               /* for errors */
  guint16 port;
  guint timeout_ms;
  gint64 deadline;          /* 0: none */
  GList *addresses;         /* GInetAddress, unmapped and filtered */
  GList *next;
  GError *first_error;
} AddrConnectData;

static void
addr_connect_data_free (AddrConnectData *data)
{
  g_free (data->dest);
  pk_inet_address_list_free (data->addresses);
  g_clear_error (&data->first_error);
  g_free (data);
}

static void addr_connect_try_next (GTask *task);

static void
addr_connect_done (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  AddrConnectData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  int fd;

  fd = g_task_propagate_int (G_TASK (result), &error);
  if (error == NULL)
    {
      g_task_return_int (task, fd);
      return;
    }

  /* Never another route, and nothing more once cancelled. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
      g_error_matches (error, PK_ERROR, PK_ERROR_EGRESS))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  /* The first address's error is the one to report: it is the address
   * the host prefers, and later ones tend to fail the same way. */
  if (data->first_error == NULL)
    data->first_error = g_steal_pointer (&error);

  addr_connect_try_next (g_steal_pointer (&task));
}

/* Takes the reference on @task. */
static void
addr_connect_try_next (GTask *task)
{
  AddrConnectData *data = g_task_get_task_data (task);
  PkEgress *self = g_task_get_source_object (task);
  GInetAddress *address;
  guint timeout_ms = 0;

  if (data->next == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&data->first_error));
      g_object_unref (task);
      return;
    }

  if (data->deadline > 0)
    {
      gint64 left = (data->deadline - g_get_monotonic_time ()) / 1000;

      if (left <= 0)
        {
          if (data->first_error != NULL)
            g_task_return_error (task, g_steal_pointer (&data->first_error));
          else
            g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                     "connect to %s timed out after %u ms",
                                     data->dest, data->timeout_ms);
          g_object_unref (task);
          return;
        }
      timeout_ms = (guint) MIN (left, G_MAXUINT);
    }

  address = data->next->data;
  data->next = data->next->next;

  connect_fd_async (self, address, data->port, timeout_ms, g_task_get_cancellable (task),
                    addr_connect_done, task);
}

/* See pk-egress-private.h. */
void
pk_egress_connect_to_addresses_async (PkEgress              *self,
                                      GList                 *addresses,
                                      guint16                port,
                                      const char            *dest,
                                      gint64                 started_us,
                                      guint                  timeout_ms,
                                      PkEgressAddressFilter  filter,
                                      gpointer               filter_data,
                                      GCancellable          *cancellable,
                                      GAsyncReadyCallback    callback,
                                      gpointer               user_data)
{
  GTask *task;
  AddrConnectData *data;
  GList *kept = NULL;

  g_return_if_fail (PK_IS_EGRESS (self));
  g_return_if_fail (addresses != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_egress_connect_to_addresses_async);

  data = g_new0 (AddrConnectData, 1);
  data->port = port;
  if (dest != NULL)
    data->dest = g_strdup (dest);
  else
    {
      g_autoptr(GSocketAddress) first = g_inet_socket_address_new (addresses->data, port);

      data->dest = pk_format_socket_address (first);
    }
  data->timeout_ms = timeout_ms;
  if (timeout_ms > 0)
    data->deadline = (started_us > 0 ? started_us : g_get_monotonic_time ()) +
                     (gint64) timeout_ms * G_TIME_SPAN_MILLISECOND;
  g_task_set_task_data (task, data, (GDestroyNotify) addr_connect_data_free);

  for (GList *l = addresses; l != NULL; l = l->next)
    {
      g_autoptr(GInetAddress) plain = pk_inet_address_unmap (l->data);

      if (filter == NULL || filter (plain, filter_data))
        kept = g_list_prepend (kept, g_steal_pointer (&plain));
    }
  if (kept == NULL)
    {
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_NOT_ALLOWED,
                               "destination %s is denied by rule", data->dest);
      g_object_unref (task);
      return;
    }
  data->addresses = g_list_reverse (kept);
  data->next = data->addresses;
  addr_connect_try_next (task);
}

/* See pk-egress-private.h. */
GSocket *
pk_egress_connect_to_addresses_finish (PkEgress      *self,
                                       GAsyncResult  *result,
                                       GError       **error)
{
  int fd;

  g_return_val_if_fail (PK_IS_EGRESS (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        pk_egress_connect_to_addresses_async, NULL);

  fd = (int) g_task_propagate_int (G_TASK (result), error);
  if (fd < 0)
    return NULL;
  return socket_from_fd (fd, error);
}

/* See pk-egress-private.h. */
int
pk_egress_connect_to_addresses_finish_fd (PkEgress      *self,
                                          GAsyncResult  *result,
                                          GError       **error)
{
  g_return_val_if_fail (PK_IS_EGRESS (self), -1);
  g_return_val_if_fail (g_task_is_valid (result, self), -1);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        pk_egress_connect_to_addresses_async, -1);

  return (int) g_task_propagate_int (G_TASK (result), error);
}

/* --- connecting to a host: resolve, then the addresses --- */

typedef struct {
  char *dest;               /* "host:port", for errors */
  guint16 port;
  guint timeout_ms;
  gint64 started_us;
} HostConnectData;

static void
host_connect_data_free (HostConnectData *data)
{
  g_free (data->dest);
  g_free (data);
}

static void
host_connect_done (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  GSocket *socket = pk_egress_connect_to_addresses_finish (PK_EGRESS (source), result, &error);

  if (socket != NULL)
    g_task_return_pointer (task, socket, g_object_unref);
  else
    g_task_return_error (task, error);
}

static void
host_resolve_done (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  GTask *task = user_data;
  HostConnectData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  GList *addresses;

  addresses = pk_egress_resolve_finish (PK_EGRESS (source), result, &error);
  if (addresses == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }

  pk_egress_connect_to_addresses_async (PK_EGRESS (source), addresses, data->port, data->dest,
                                        data->started_us, data->timeout_ms, NULL, NULL,
                                        g_task_get_cancellable (task), host_connect_done, task);
  pk_inet_address_list_free (addresses);
}

/**
 * pk_egress_connect_to_host_async:
 * @self: a [class@Egress]
 * @host: a host name or an IP address literal
 * @port: the destination port
 * @timeout_ms: timeout in milliseconds for resolving and connecting
 *   together, 0 for none
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Resolves @host (see [method@Egress.resolve_async]) and connects to its
 * addresses in turn until one answers or the time is up. An IPv4-mapped
 * IPv6 address (`::ffff:a.b.c.d`) is dialled as the IPv4 address it is.
 *
 * Since: 0.1
 */
void
pk_egress_connect_to_host_async (PkEgress            *self,
                                 const char          *host,
                                 guint16              port,
                                 guint                timeout_ms,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  GTask *task;
  HostConnectData *data;

  g_return_if_fail (PK_IS_EGRESS (self));
  g_return_if_fail (host != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_egress_connect_to_host_async);

  data = g_new0 (HostConnectData, 1);
  data->dest = g_strdup_printf ("%s:%u", host, port);
  data->port = port;
  data->timeout_ms = timeout_ms;
  data->started_us = g_get_monotonic_time ();
  g_task_set_task_data (task, data, (GDestroyNotify) host_connect_data_free);

  pk_egress_resolve_async (self, host, timeout_ms, cancellable, host_resolve_done, task);
}

/**
 * pk_egress_connect_to_host_finish:
 * @self: a [class@Egress]
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Finishes [method@Egress.connect_to_host_async].
 *
 * Returns: (transfer full): the connected, non-blocking socket, or %NULL
 *   with @error set (see [method@Egress.connect_finish] and
 *   [method@Egress.resolve_finish])
 *
 * Since: 0.1
 */
GSocket *
pk_egress_connect_to_host_finish (PkEgress      *self,
                                  GAsyncResult  *result,
                                  GError       **error)
{
  g_return_val_if_fail (PK_IS_EGRESS (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pk_egress_connect_to_host_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
