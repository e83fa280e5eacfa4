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

#include "pk-egress.h"
#include "pk-egress-private.h"
#include "pk-error.h"
#include "pk-poller-private.h"
#include "pk-util-private.h"

/* --- connecting --- */

typedef struct {
  GSocket *socket;
  GSocketAddress *address;
  PkPollerWatch *watch;     /* writability, the timeout and cancellation */
  guint timeout_ms;
} ConnectData;

static void
connect_data_free (ConnectData *data)
{
  g_clear_pointer (&data->watch, pk_poller_watch_destroy);
  g_clear_object (&data->socket);
  g_clear_object (&data->address);
  g_free (data);
}

static char *
describe_address (GSocketAddress *address)
{
  return g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (address));
}

/* The watch holds the task's reference until it fires. */
static GTask *
connect_stop (ConnectData *data,
              GTask       *task)
{
  g_clear_pointer (&data->watch, pk_poller_watch_destroy);
  return task;
}

/* The socket is writable (connected or failed), the timeout passed
 * (@slot -1), or the connect was cancelled. */
static void
connect_watch_cb (PkPollerWatch *watch,
                  int            slot,
                  GIOCondition   condition,
                  gpointer       user_data)
{
  g_autoptr(GTask) task = user_data;
  ConnectData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autofree char *dest = NULL;

  connect_stop (data, task);

  /* PK_POLLER_CANCELLED, or cancelled while the socket became ready. */
  if (g_task_return_error_if_cancelled (task))
    return;

  if (slot == -1)
    {
      dest = describe_address (data->address);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                               "connect to %s timed out after %u ms", dest, data->timeout_ms);
      return;
    }

  if (!g_socket_check_connect_result (data->socket, &error))
    {
      dest = describe_address (data->address);
      g_prefix_error (&error, "connect to %s: ", dest);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  g_task_return_pointer (task, g_steal_pointer (&data->socket), g_object_unref);
}

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
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  ConnectData *data;
  PkPoller *poller;

  g_return_if_fail (PK_IS_EGRESS (self));
  g_return_if_fail (G_IS_INET_SOCKET_ADDRESS (address));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_egress_connect_async);

  data = g_new0 (ConnectData, 1);
  data->address = g_object_ref (address);
  data->timeout_ms = timeout_ms;
  g_task_set_task_data (task, data, (GDestroyNotify) connect_data_free);

  data->socket = pk_egress_create_socket (self, g_socket_address_get_family (address),
                                          G_SOCKET_TYPE_STREAM, &error);
  if (data->socket == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (g_socket_connect (data->socket, address, NULL, &error))
    {
      g_task_return_pointer (task, g_steal_pointer (&data->socket), g_object_unref);
      return;
    }

  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PENDING))
    {
      g_autofree char *dest = describe_address (address);
      g_prefix_error (&error, "connect to %s: ", dest);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  /* The socket, the timeout and cancellation in the context's poller:
   * see pk-poller-private.h. */
  poller = pk_poller_get_thread_default (&error);
  if (poller == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  data->watch = pk_poller_watch_new (poller, connect_watch_cb, g_object_ref (task));
  if (!pk_poller_watch_set_fd (data->watch, 0, g_socket_get_fd (data->socket), G_IO_OUT, &error))
    {
      g_object_unref (connect_stop (data, task));
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (timeout_ms > 0)
    pk_poller_watch_set_deadline (data->watch, g_get_monotonic_time () +
                                               (gint64) timeout_ms * G_TIME_SPAN_MILLISECOND);

  if (cancellable != NULL)
    pk_poller_watch_set_cancellable (data->watch, cancellable);
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
  GSocket *socket;

  socket = pk_egress_connect_finish (PK_EGRESS (source), result, &error);
  if (socket != NULL)
    {
      g_task_return_pointer (task, socket, g_object_unref);
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
  g_autoptr(GSocketAddress) address = NULL;
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

  address = g_inet_socket_address_new (data->next->data, data->port);
  data->next = data->next->next;

  pk_egress_connect_async (self, address, timeout_ms, g_task_get_cancellable (task),
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

      data->dest = describe_address (first);
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
  g_return_val_if_fail (PK_IS_EGRESS (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        pk_egress_connect_to_addresses_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
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
