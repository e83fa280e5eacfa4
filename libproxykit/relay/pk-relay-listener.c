/* pk-relay-listener.c: one relay rule's listener
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* What TCP (pk-relay-tcp.c), UDP (pk-relay-udp.c) and the health check
 * (pk-relay-health.c) of a rule share: the listening socket, the
 * counters, and the outbound addresses, resolved through the rule's
 * egress and kept fresh. It includes none of them: a change of address
 * reaches UDP through the listener's upstream_changed hook. */

#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#include "pk-egress-private.h"
#include "pk-relay-listener-private.h"
#include "pk-util-private.h"

/* A resolved outbound name is used this long before it is looked up
 * again; a failed connect drops it at once. */
#define RESOLVE_MAX_AGE_US (60 * G_USEC_PER_SEC)

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
gboolean
pk_relay_prepare_listen_socket (GSocket   *socket,
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
      if (!pk_relay_prepare_listen_socket (socket, rule, error))
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

PkRelayListener *
pk_relay_listener_new (PkRelayRule *rule,
                       PkEgress    *egress,
                       gint        *relay_connections)
{
  PkRelayListener *listener = g_new0 (PkRelayListener, 1);

  g_atomic_ref_count_init (&listener->ref_count);
  g_mutex_init (&listener->lock);
  listener->relay_connections = g_atomic_rc_box_acquire (relay_connections);
  listener->rule = pk_relay_rule_ref (rule);
  listener->egress = g_object_ref (egress);
  listener->cancellable = g_cancellable_new ();
  listener->literal = g_inet_address_new_from_string (rule->out_host);
  if (listener->literal != NULL)
    listener_make_upstream (listener, listener->literal, &listener->upstream);
  listener->health = (rule->health_check && rule->protocol == PK_RELAY_PROTOCOL_TCP)
                       ? PK_RELAY_HEALTH_UNKNOWN : PK_RELAY_HEALTH_DISABLED;
  return listener;
}

void
pk_relay_listener_set_addresses (PkRelayListener *listener,
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

  if (changed && addresses != NULL && listener->upstream_changed != NULL)
    listener->upstream_changed (listener);
}

void
pk_relay_listener_forget_addresses (PkRelayListener *listener)
{
  GList *old;

  if (listener->literal != NULL)
    return;
  g_mutex_lock (&listener->lock);
  old = g_steal_pointer (&listener->addresses);
  g_mutex_unlock (&listener->lock);
  pk_inet_address_list_free (old);
}

gboolean
pk_relay_listener_get_upstream (PkRelayListener *listener,
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

  if (!pk_relay_listener_get_upstream (listener, FALSE, &upstream))
    {
      /* Stale is still the best guess while a new lookup is on its way. */
      pk_relay_listener_resolve (listener);
      if (!pk_relay_listener_get_upstream (listener, TRUE, &upstream))
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
    pk_relay_listener_set_addresses (listener, addresses);

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
