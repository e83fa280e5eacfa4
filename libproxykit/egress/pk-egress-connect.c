/* pk-egress-connect.c: TCP connections through an egress
 *
 * The one connect loop is a PkEgressConnectOp: each address in turn (after
 * an optional filter, which the SOCKS destination policy uses) under one
 * deadline, each a non-blocking connect on a descriptor watched by the
 * thread-default PkPoller (no GSource, no GTask, no GSocket), ending in a
 * plain callback. pk_egress_connect_async() and
 * pk_egress_connect_to_addresses_async() are it behind a GTask, and
 * pk_egress_connect_to_host_async() is the latter after
 * pk_egress_resolve_async().
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <string.h>
#include <unistd.h>

#include "pk-egress.h"
#include "pk-egress-private.h"
#include "pk-error.h"
#include "pk-poller-private.h"
#include "pk-util-private.h"

struct _PkEgressConnectOp {
  PkEgress *egress;
  char *dest;               /* for errors; NULL: the address being tried */
  guint16 port;
  guint timeout_ms;
  gint64 deadline;          /* 0: none */
  guint each_timeout_ms;    /* without a deadline: each connect's */
  GList *addresses;         /* GInetAddress, unmapped and filtered */
  GList *next;
  GError *first_error;
  GCancellable *cancellable;

  /* The connect under way. */
  int fd;
  PkSockaddr to;
  guint attempt_timeout_ms;
  PkPollerWatch *watch;     /* writability, the timeout and cancellation */
  PkPollerWatch *shared;    /* or the caller's watch, in slot: */
  guint slot;

  PkEgressConnectFunc func;
  gpointer user_data;
  gboolean starting;        /* inside pk_egress_connect_op_start() */
  gboolean done;
};

/* Out of the watch and closed: the descriptor of a connect that failed or
 * was given up. */
static void
op_drop_fd (PkEgressConnectOp *op)
{
  if (op->fd < 0)
    return;
  if (op->shared != NULL)
    {
      pk_poller_watch_set_fd (op->shared, op->slot, -1, 0, NULL);
      pk_poller_watch_set_deadline (op->shared, -1);
    }
  close (op->fd);
  op->fd = -1;
}

static void
op_free (PkEgressConnectOp *op)
{
  g_clear_pointer (&op->watch, pk_poller_watch_destroy);
  op_drop_fd (op);
  g_free (op->dest);
  pk_inet_address_list_free (op->addresses);
  g_clear_error (&op->first_error);
  g_clear_object (&op->cancellable);
  g_clear_object (&op->egress);
  g_free (op);
}

/* Calls back once; frees @op unless inside start (which then does). */
static void
op_complete (PkEgressConnectOp *op,
             int                fd,
             GError            *error)
{
  g_assert (!op->done);
  op->done = TRUE;
  g_clear_pointer (&op->watch, pk_poller_watch_destroy);
  if (op->shared != NULL && fd >= 0)
    pk_poller_watch_set_deadline (op->shared, -1);
  op->func (fd, error, op->user_data);
  if (!op->starting)
    op_free (op);
}

static void
sockaddr_from_inet (PkSockaddr   *native,
                    GInetAddress *address,
                    guint16       port)
{
  memset (native, 0, sizeof *native);
  if (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV6)
    {
      native->in6.sin6_family = AF_INET6;
      native->in6.sin6_port = g_htons (port);
      memcpy (&native->in6.sin6_addr, g_inet_address_to_bytes (address), 16);
      native->len = sizeof native->in6;
    }
  else
    {
      native->in.sin_family = AF_INET;
      native->in.sin_port = g_htons (port);
      memcpy (&native->in.sin_addr, g_inet_address_to_bytes (address), 4);
      native->len = sizeof native->in;
    }
}

static void op_try_next (PkEgressConnectOp *op);

/* One address failed with @error (taken). */
static void
op_attempt_failed (PkEgressConnectOp *op,
                   GError            *error)
{
  op_drop_fd (op);

  /* Never another route, and nothing more once cancelled. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
      g_error_matches (error, PK_ERROR, PK_ERROR_EGRESS))
    {
      op_complete (op, -1, error);
      return;
    }

  /* The first address's error is the one to report: it is the address
   * the host prefers, and later ones tend to fail the same way. */
  if (op->first_error == NULL)
    op->first_error = error;
  else
    g_error_free (error);
  op_try_next (op);
}

/* What the watch said about the connect under way: @slot is the
 * descriptor's, or -1 (the deadline), or PK_POLLER_CANCELLED. */
static void
op_ready (PkEgressConnectOp *op,
          int                slot,
          GIOCondition       condition)
{
  GError *error = NULL;
  int fd;

  g_clear_pointer (&op->watch, pk_poller_watch_destroy);
  if (g_cancellable_set_error_if_cancelled (op->cancellable, &error))
    {
      op_attempt_failed (op, error);
      return;
    }
  if (slot == PK_POLLER_CANCELLED)
    {
      op_attempt_failed (op, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "Operation was cancelled"));
      return;
    }
  if (slot == -1)
    {
      g_autofree char *dest = pk_format_sockaddr (&op->to);

      op_attempt_failed (op, g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                          "connect to %s timed out after %u ms",
                                          dest, op->attempt_timeout_ms));
      return;
    }
  if (!pk_fd_connect_finish (op->fd, condition, &op->to, &error))
    {
      op_attempt_failed (op, error);
      return;
    }
  fd = op->fd;
  op->fd = -1;
  op_complete (op, fd, NULL);
}

static void
op_watch_cb (PkPollerWatch *watch,
             int            slot,
             GIOCondition   condition,
             gpointer       user_data)
{
  op_ready (user_data, slot, condition);
}

/* See pk-egress-private.h. */
void
pk_egress_connect_op_dispatch (PkEgressConnectOp *op,
                               int                slot,
                               GIOCondition       condition)
{
  g_return_if_fail (op != NULL && op->shared != NULL && !op->done);

  op_ready (op, slot == (int) op->slot ? 0 : slot, condition);
}

/* Starts the connect to @address; FALSE with @error when it failed at once. */
static gboolean
op_connect_one (PkEgressConnectOp  *op,
                GInetAddress       *address,
                guint               timeout_ms,
                GError            **error)
{
  gboolean in_progress;
  PkPoller *poller;
  int fd;

  op->attempt_timeout_ms = timeout_ms;
  sockaddr_from_inet (&op->to, address, op->port);
  op->fd = pk_egress_open_fd (op->egress, g_inet_address_get_family (address), G_SOCKET_TYPE_STREAM,
                              error);
  if (op->fd < 0 || !pk_fd_connect (op->fd, &op->to, &in_progress, error))
    return FALSE;
  if (!in_progress)
    {
      fd = op->fd;
      op->fd = -1;
      op_complete (op, fd, NULL);
      return TRUE;
    }
  /* The descriptor and the timeout in the caller's watch, which passes
   * on what it hears (pk_egress_connect_op_dispatch()). */
  if (op->shared != NULL)
    {
      if (!pk_poller_watch_set_fd (op->shared, op->slot, op->fd, G_IO_OUT, error))
        return FALSE;
      pk_poller_watch_set_deadline (op->shared, timeout_ms == 0 ? -1 :
                                    g_get_monotonic_time () + (gint64) timeout_ms * G_TIME_SPAN_MILLISECOND);
      return TRUE;
    }
  /* The descriptor, the timeout and cancellation in the context's poller:
   * see pk-poller-private.h. */
  poller = pk_poller_get_thread_default (error);
  if (poller == NULL)
    return FALSE;
  op->watch = pk_poller_watch_new (poller, op_watch_cb, op);
  if (!pk_poller_watch_set_fd (op->watch, 0, op->fd, G_IO_OUT, error))
    {
      g_clear_pointer (&op->watch, pk_poller_watch_destroy);
      return FALSE;
    }
  if (timeout_ms > 0)
    pk_poller_watch_set_deadline (op->watch, g_get_monotonic_time () +
                                             (gint64) timeout_ms * G_TIME_SPAN_MILLISECOND);
  if (op->cancellable != NULL)
    pk_poller_watch_set_cancellable (op->watch, op->cancellable);
  return TRUE;
}

static void
op_try_next (PkEgressConnectOp *op)
{
  GInetAddress *address;
  GError *error = NULL;
  guint timeout_ms = op->each_timeout_ms;

  if (g_cancellable_set_error_if_cancelled (op->cancellable, &error))
    {
      op_complete (op, -1, error);
      return;
    }
  if (op->next == NULL)
    {
      op_complete (op, -1, g_steal_pointer (&op->first_error));
      return;
    }

  if (op->deadline > 0)
    {
      gint64 left = (op->deadline - g_get_monotonic_time ()) / 1000;

      if (left <= 0)
        {
          if (op->first_error != NULL)
            error = g_steal_pointer (&op->first_error);
          else if (op->dest != NULL)
            error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "connect to %s timed out after %u ms",
                                 op->dest, op->timeout_ms);
          else
            {
              g_autoptr(GSocketAddress) sa = g_inet_socket_address_new (op->addresses->data, op->port);
              g_autofree char *dest = pk_format_socket_address (sa);

              error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "connect to %s timed out after %u ms",
                                   dest, op->timeout_ms);
            }
          op_complete (op, -1, error);
          return;
        }
      timeout_ms = (guint) MIN (left, G_MAXUINT);
    }

  address = op->next->data;
  op->next = op->next->next;
  if (!op_connect_one (op, address, timeout_ms, &error))
    op_attempt_failed (op, error);
}

static PkEgressConnectOp *
op_start (PkEgressConnectOp *op)
{
  op->starting = TRUE;
  op_try_next (op);
  op->starting = FALSE;
  if (op->done)
    {
      op_free (op);
      return NULL;
    }
  return op;
}

static PkEgressConnectOp *
op_new (PkEgress            *self,
        guint16              port,
        const char          *dest,
        gint64               started_us,
        guint                timeout_ms,
        GCancellable        *cancellable,
        PkEgressConnectFunc  func,
        gpointer             user_data)
{
  PkEgressConnectOp *op = g_new0 (PkEgressConnectOp, 1);

  op->egress = g_object_ref (self);
  op->fd = -1;
  op->port = port;
  op->dest = g_strdup (dest);
  op->timeout_ms = timeout_ms;
  if (timeout_ms > 0)
    op->deadline = (started_us > 0 ? started_us : g_get_monotonic_time ()) +
                   (gint64) timeout_ms * G_TIME_SPAN_MILLISECOND;
  if (cancellable != NULL)
    op->cancellable = g_object_ref (cancellable);
  op->func = func;
  op->user_data = user_data;
  return op;
}

/* See pk-egress-private.h. */
PkEgressConnectOp *
pk_egress_connect_op_start (PkEgress              *self,
                            GList                 *addresses,
                            guint16                port,
                            const char            *dest,
                            gint64                 started_us,
                            guint                  timeout_ms,
                            PkEgressAddressFilter  filter,
                            gpointer               filter_data,
                            GCancellable          *cancellable,
                            PkPollerWatch         *watch,
                            guint                  slot,
                            PkEgressConnectFunc    func,
                            gpointer               user_data)
{
  PkEgressConnectOp *op;
  GList *kept = NULL;

  g_return_val_if_fail (PK_IS_EGRESS (self), NULL);
  g_return_val_if_fail (addresses != NULL, NULL);
  g_return_val_if_fail (func != NULL, NULL);
  g_return_val_if_fail (watch == NULL || slot < PK_POLLER_SLOTS, NULL);

  op = op_new (self, port, dest, started_us, timeout_ms, cancellable, func, user_data);
  op->shared = watch;
  op->slot = slot;
  for (GList *l = addresses; l != NULL; l = l->next)
    {
      g_autoptr(GInetAddress) plain = pk_inet_address_unmap (l->data);

      if (filter == NULL || filter (plain, filter_data))
        kept = g_list_prepend (kept, g_steal_pointer (&plain));
    }
  if (kept == NULL)
    {
      g_autoptr(GSocketAddress) first = g_inet_socket_address_new (addresses->data, port);
      g_autofree char *shown = dest != NULL ? g_strdup (dest) : pk_format_socket_address (first);

      op->starting = TRUE;
      op_complete (op, -1, g_error_new (PK_ERROR, PK_ERROR_NOT_ALLOWED,
                                        "destination %s is denied by rule", shown));
      op_free (op);
      return NULL;
    }
  op->addresses = g_list_reverse (kept);
  op->next = op->addresses;
  return op_start (op);
}

/* See pk-egress-private.h. */
void
pk_egress_connect_op_cancel (PkEgressConnectOp *op)
{
  g_return_if_fail (op != NULL && !op->done);
  op_free (op);
}

/* --- behind a GTask --- */

static void
task_connect_done (int      fd,
                   GError  *error,
                   gpointer user_data)
{
  GTask *task = user_data;

  if (fd >= 0)
    g_task_return_int (task, fd);
  else
    g_task_return_error (task, error);
  g_object_unref (task);
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
task_socket_done (int      fd,
                  GError  *error,
                  gpointer user_data)
{
  GTask *task = user_data;
  GSocket *socket = fd >= 0 ? socket_from_fd (fd, &error) : NULL;

  if (socket != NULL)
    g_task_return_pointer (task, socket, g_object_unref);
  else
    g_task_return_error (task, error);
  g_object_unref (task);
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
  GTask *task;
  PkEgressConnectOp *op;
  GInetAddress *inet;

  g_return_if_fail (PK_IS_EGRESS (self));
  g_return_if_fail (G_IS_INET_SOCKET_ADDRESS (address));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_egress_connect_async);
  /* The address as given (not unmapped), and no deadline of its own: the
   * one connect's timeout. */
  inet = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address));
  op = op_new (self, g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address)), NULL, 0, 0,
               cancellable, task_socket_done, task);
  op->each_timeout_ms = timeout_ms;
  op->addresses = g_list_prepend (NULL, g_object_ref (inet));
  op->next = op->addresses;
  op_start (op);
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

  g_return_if_fail (PK_IS_EGRESS (self));
  g_return_if_fail (addresses != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_egress_connect_to_addresses_async);
  pk_egress_connect_op_start (self, addresses, port, dest, started_us, timeout_ms, filter, filter_data,
                              cancellable, NULL, 0, task_connect_done, task);
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
