/* pk-socks-udp.c: the relay behind one SOCKS5 UDP ASSOCIATE
 *
 * See pk-socks-udp-private.h for what it does. How:
 *
 * - The client-facing socket and the outbound sockets are non-blocking and
 *   each has a GSocket source; a wakeup drains up to a batch of datagrams so
 *   that one busy association cannot starve the others in the same worker.
 * - Datagrams to a domain name wait (a few per name) while the name is
 *   resolved through the egress; answers, failures too, are cached briefly
 *   so that a stream of datagrams costs one lookup, not one each.
 * - Replies are accepted from any source (as a full-cone NAT does, and as
 *   RFC 1928 describes: the relay sends the client whatever arrives on the
 *   association); the destination filter guards what goes out.
 * - The idle timer is not touched per datagram: it fires after the timeout,
 *   looks at when the last datagram went through and sleeps again for the
 *   rest, so the hot path costs no syscall for it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <string.h>

#include "pk-error.h"
#include "pk-socks-proto-private.h"
#include "pk-socks-udp-private.h"
#include "pk-util-private.h"

/* The largest UDP payload plus room for the longest IP header in front of
 * it (a reply carries an IPv6 source at most: 4 + 16 + 2). */
#define MAX_DATAGRAM 65536
#define REPLY_HEADER_ROOM 22
#define BATCH 64

#define DNS_CACHE_TTL_US (30 * G_USEC_PER_SEC)
#define DNS_NEGATIVE_TTL_US (5 * G_USEC_PER_SEC)
#define DNS_TIMEOUT_MS 5000
#define DNS_MAX_NAMES 64
#define DNS_MAX_PENDING 8

typedef struct {
  GBytes *payload;
  guint16 port;
} PendingDatagram;

typedef struct {
  GInetAddress *address;   /* NULL: unresolvable (or still resolving) */
  gint64 expires;          /* monotonic; 0 while resolving */
  GQueue pending;          /* PendingDatagram, while resolving */
} DnsEntry;

typedef struct {
  GSocket *socket;
  GSource *source;
  gboolean failed;         /* the egress cannot make one: drop, don't retry */
} Outbound;

struct _PkSocksUdpRelay
{
  GObject parent_instance;

  GSocket *client_socket;
  GSource *client_source;
  GSocketAddress *local_address;
  GInetAddress *client_address;      /* unmapped */
  guint16 client_port;               /* 0 until known */
  GSocketAddress *client_target;     /* where replies go, as the kernel named the client */

  PkEgress *egress;
  GInetAddress *advertise;

  Outbound out4;
  Outbound out6;

  PkSocksUdpDestinationFilter filter;
  gpointer filter_data;
  GDestroyNotify filter_destroy;

  GHashTable *dns;                   /* name -> DnsEntry */
  GCancellable *cancellable;

  GMainContext *context;
  GSource *idle_source;
  guint idle_timeout_ms;
  gint64 last_activity;

  gboolean started;
  gboolean running;

  PkSocksUdpRelayStats stats;
  guint8 *buf;
  /* where the client sent to, for the session's log line */
  GInetAddress *first_dest;
  guint16 first_dest_port;
  gboolean other_dests;
};

G_DEFINE_FINAL_TYPE (PkSocksUdpRelay, pk_socks_udp_relay, G_TYPE_OBJECT)

enum {
  SIGNAL_IDLE,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
pending_datagram_free (gpointer data)
{
  PendingDatagram *p = data;

  g_bytes_unref (p->payload);
  g_free (p);
}

static void
dns_entry_free (gpointer data)
{
  DnsEntry *entry = data;

  g_clear_object (&entry->address);
  g_queue_clear_full (&entry->pending, pending_datagram_free);
  g_free (entry);
}

static void
outbound_close (Outbound *out)
{
  pk_source_clear (&out->source);
  if (out->socket != NULL)
    g_socket_close (out->socket, NULL);
  g_clear_object (&out->socket);
}

static void
pk_socks_udp_relay_finalize (GObject *object)
{
  PkSocksUdpRelay *self = PK_SOCKS_UDP_RELAY (object);

  pk_socks_udp_relay_stop (self);

  if (self->filter_destroy != NULL)
    self->filter_destroy (self->filter_data);
  g_clear_object (&self->client_socket);
  g_clear_object (&self->local_address);
  g_clear_object (&self->client_address);
  g_clear_object (&self->client_target);
  g_clear_object (&self->egress);
  g_clear_object (&self->advertise);
  g_clear_object (&self->first_dest);
  g_clear_pointer (&self->dns, g_hash_table_unref);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_free (self->buf);

  G_OBJECT_CLASS (pk_socks_udp_relay_parent_class)->finalize (object);
}

static void
pk_socks_udp_relay_class_init (PkSocksUdpRelayClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = pk_socks_udp_relay_finalize;

  /* Emitted once when no datagram went through for the idle timeout,
   * after the relay stopped itself. */
  signals[SIGNAL_IDLE] =
    g_signal_new ("idle", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
pk_socks_udp_relay_init (PkSocksUdpRelay *self)
{
  self->dns = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, dns_entry_free);
  self->cancellable = g_cancellable_new ();
}

PkSocksUdpRelay *
pk_socks_udp_relay_new (GSocketAddress   *bind_address,
                        GInetAddress     *client_address,
                        guint16           client_port_hint,
                        PkEgress         *egress,
                        GSocketAddress   *advertise_address,
                        guint             idle_timeout_ms,
                        GError          **error)
{
  g_autoptr(PkSocksUdpRelay) self = NULL;
  g_autoptr(GSocketAddress) bind_to = NULL;
  g_autoptr(GError) local_error = NULL;
  GInetAddress *bind_inet;

  g_return_val_if_fail (G_IS_INET_SOCKET_ADDRESS (bind_address), NULL);
  g_return_val_if_fail (G_IS_INET_ADDRESS (client_address), NULL);
  g_return_val_if_fail (egress == NULL || PK_IS_EGRESS (egress), NULL);
  g_return_val_if_fail (advertise_address == NULL || G_IS_INET_SOCKET_ADDRESS (advertise_address), NULL);

  self = g_object_new (PK_TYPE_SOCKS_UDP_RELAY, NULL);
  self->client_address = pk_inet_address_unmap (client_address);
  self->client_port = client_port_hint;
  self->egress = egress != NULL ? g_object_ref (egress) : pk_egress_new ();
  if (advertise_address != NULL)
    self->advertise = g_object_ref (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (advertise_address)));
  self->idle_timeout_ms = idle_timeout_ms;

  bind_inet = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (bind_address));
  bind_to = g_inet_socket_address_new (bind_inet, 0);

  self->client_socket = g_socket_new (g_inet_address_get_family (bind_inet),
                                      G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_DEFAULT,
                                      &local_error);
  if (self->client_socket == NULL ||
      !g_socket_bind (self->client_socket, bind_to, FALSE, &local_error))
    {
      g_autofree char *where = pk_format_socket_address (bind_to);
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  "SOCKS UDP relay: cannot bind a UDP socket to %s: ", where);
      return NULL;
    }
  g_socket_set_blocking (self->client_socket, FALSE);

  self->local_address = g_socket_get_local_address (self->client_socket, error);
  if (self->local_address == NULL)
    return NULL;

  return g_steal_pointer (&self);
}

GSocketAddress *
pk_socks_udp_relay_get_local_address (PkSocksUdpRelay *self)
{
  g_return_val_if_fail (PK_IS_SOCKS_UDP_RELAY (self), NULL);

  return g_object_ref (self->local_address);
}

GSocketAddress *
pk_socks_udp_relay_get_reply_address (PkSocksUdpRelay *self)
{
  guint16 port;

  g_return_val_if_fail (PK_IS_SOCKS_UDP_RELAY (self), NULL);

  if (self->advertise == NULL)
    return g_object_ref (self->local_address);

  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (self->local_address));
  return g_inet_socket_address_new (self->advertise, port);
}

void
pk_socks_udp_relay_set_destination_filter (PkSocksUdpRelay             *self,
                                           PkSocksUdpDestinationFilter  filter,
                                           gpointer                     user_data,
                                           GDestroyNotify               destroy)
{
  g_return_if_fail (PK_IS_SOCKS_UDP_RELAY (self));

  if (self->filter_destroy != NULL)
    self->filter_destroy (self->filter_data);
  self->filter = filter;
  self->filter_data = user_data;
  self->filter_destroy = destroy;
}

gboolean
pk_socks_udp_relay_is_running (PkSocksUdpRelay *self)
{
  g_return_val_if_fail (PK_IS_SOCKS_UDP_RELAY (self), FALSE);

  return self->running;
}

void
pk_socks_udp_relay_get_stats (PkSocksUdpRelay      *self,
                              PkSocksUdpRelayStats *stats)
{
  g_return_if_fail (PK_IS_SOCKS_UDP_RELAY (self));
  g_return_if_fail (stats != NULL);

  *stats = self->stats;
}

char *
pk_socks_udp_relay_dup_destinations (PkSocksUdpRelay *self)
{
  g_autoptr(GSocketAddress) first = NULL;
  g_autofree char *text = NULL;

  g_return_val_if_fail (PK_IS_SOCKS_UDP_RELAY (self), NULL);

  if (self->first_dest == NULL)
    return NULL;
  first = g_inet_socket_address_new (self->first_dest, self->first_dest_port);
  text = pk_format_socket_address (first);
  return self->other_dests ? g_strconcat (text, "+more", NULL) : g_steal_pointer (&text);
}

/* --- outbound --- */

static gboolean outbound_readable_cb (GSocket      *socket,
                                      GIOCondition  condition,
                                      gpointer      user_data);

static GSource *
attach_socket_source (PkSocksUdpRelay *self,
                      GSocket         *socket,
                      GSocketSourceFunc func,
                      const char      *name)
{
  GSource *source = g_socket_create_source (socket, G_IO_IN, NULL);

  g_source_set_callback (source, G_SOURCE_FUNC (func), self, NULL);
  g_source_set_static_name (source, name);
  g_source_attach (source, self->context);

  return source;
}

static GSocket *
get_outbound (PkSocksUdpRelay *self,
              GSocketFamily    family)
{
  Outbound *out = family == G_SOCKET_FAMILY_IPV6 ? &self->out6 : &self->out4;
  g_autoptr(GError) error = NULL;

  if (out->socket != NULL || out->failed)
    return out->socket;

  out->socket = pk_egress_create_socket (self->egress, family, G_SOCKET_TYPE_DATAGRAM, &error);
  if (out->socket == NULL)
    {
      /* Logged once: later datagrams of this family are dropped quietly. */
      g_debug ("SOCKS UDP relay: no outbound %s socket: %s",
               family == G_SOCKET_FAMILY_IPV6 ? "IPv6" : "IPv4", error->message);
      out->failed = TRUE;
      return NULL;
    }

  out->source = attach_socket_source (self, out->socket, outbound_readable_cb,
                                      "[proxykit] SOCKS UDP outbound");
  return out->socket;
}

static void
send_out (PkSocksUdpRelay *self,
          GInetAddress    *address,
          guint16          port,
          const guint8    *payload,
          gsize            len)
{
  g_autoptr(GInetAddress) plain = pk_inet_address_unmap (address);
  g_autoptr(GSocketAddress) dest = NULL;
  g_autoptr(GError) error = NULL;
  GSocket *socket;

  if (self->filter != NULL && !self->filter (plain, port, self->filter_data))
    {
      self->stats.dropped++;
      return;
    }

  socket = get_outbound (self, g_inet_address_get_family (plain));
  if (socket == NULL)
    {
      self->stats.dropped++;
      return;
    }

  dest = g_inet_socket_address_new (plain, port);
  if (g_socket_send_to (socket, dest, (const char *) payload, len, NULL, &error) < 0)
    {
      /* A full send buffer drops the datagram, as the network would. */
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          g_autofree char *to = pk_format_socket_address (dest);
          g_debug ("SOCKS UDP relay: send to %s: %s", to, error->message);
        }
      self->stats.dropped++;
      return;
    }

  if (self->first_dest == NULL)
    {
      self->first_dest = g_object_ref (plain);
      self->first_dest_port = port;
    }
  else if (!self->other_dests && (port != self->first_dest_port || !g_inet_address_equal (plain, self->first_dest)))
    self->other_dests = TRUE;
  self->stats.packets_from_client++;
  self->stats.bytes_from_client += len;
  self->last_activity = g_get_monotonic_time ();
}

/* --- names --- */

typedef struct {
  PkSocksUdpRelay *self;
  char *name;
} ResolveData;

static void
resolve_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  ResolveData *data = user_data;
  PkSocksUdpRelay *self = data->self;
  g_autoptr(GError) error = NULL;
  GList *addresses;
  DnsEntry *entry;
  PendingDatagram *p;

  addresses = pk_egress_resolve_finish (PK_EGRESS (source), result, &error);

  entry = self->running ? g_hash_table_lookup (self->dns, data->name) : NULL;
  if (entry != NULL)
    {
      if (addresses != NULL)
        {
          entry->address = g_object_ref (addresses->data);
          entry->expires = g_get_monotonic_time () + DNS_CACHE_TTL_US;
        }
      else
        {
          g_debug ("SOCKS UDP relay: %s", error->message);
          entry->expires = g_get_monotonic_time () + DNS_NEGATIVE_TTL_US;
        }

      while ((p = g_queue_pop_head (&entry->pending)) != NULL)
        {
          if (entry->address != NULL)
            send_out (self, entry->address, p->port,
                      g_bytes_get_data (p->payload, NULL), g_bytes_get_size (p->payload));
          else
            self->stats.dropped++;
          pending_datagram_free (p);
          /* send_out never stops the relay or touches the cache, so the
           * entry stays valid through this loop. */
        }
    }

  pk_inet_address_list_free (addresses);
  g_object_unref (data->self);
  g_free (data->name);
  g_free (data);
}

/* Makes room for one more name: expired answers go first. FALSE if every
 * entry is fresh or still resolving. */
static gboolean
dns_make_room (PkSocksUdpRelay *self,
               gint64           now)
{
  GHashTableIter iter;
  DnsEntry *entry;

  if (g_hash_table_size (self->dns) < DNS_MAX_NAMES)
    return TRUE;

  g_hash_table_iter_init (&iter, self->dns);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry))
    if (entry->expires != 0 && entry->expires <= now)
      g_hash_table_iter_remove (&iter);

  return g_hash_table_size (self->dns) < DNS_MAX_NAMES;
}

static void
send_to_name (PkSocksUdpRelay *self,
              const char      *name,
              guint16          port,
              const guint8    *payload,
              gsize            len)
{
  gint64 now = g_get_monotonic_time ();
  DnsEntry *entry = g_hash_table_lookup (self->dns, name);
  PendingDatagram *p;
  ResolveData *data;

  if (entry != NULL && entry->expires != 0 && entry->expires <= now)
    {
      g_hash_table_remove (self->dns, name);
      entry = NULL;
    }

  if (entry != NULL && entry->expires != 0)
    {
      if (entry->address != NULL)
        send_out (self, entry->address, port, payload, len);
      else
        self->stats.dropped++;
      return;
    }

  if (entry == NULL)
    {
      if (!dns_make_room (self, now))
        {
          self->stats.dropped++;
          return;
        }
      entry = g_new0 (DnsEntry, 1);
      g_hash_table_insert (self->dns, g_strdup (name), entry);

      data = g_new0 (ResolveData, 1);
      data->self = g_object_ref (self);
      data->name = g_strdup (name);
      /* The lookup's callback must run in this relay's context even if
       * the caller iterates it without making it thread-default. */
      g_main_context_push_thread_default (self->context);
      pk_egress_resolve_async (self->egress, name, DNS_TIMEOUT_MS, self->cancellable,
                               resolve_done, data);
      g_main_context_pop_thread_default (self->context);
      /* A literal resolves at once; look the entry up again. */
      entry = g_hash_table_lookup (self->dns, name);
      if (entry == NULL || entry->expires != 0)
        {
          if (entry != NULL && entry->address != NULL)
            send_out (self, entry->address, port, payload, len);
          else
            self->stats.dropped++;
          return;
        }
    }

  if (entry->pending.length >= DNS_MAX_PENDING)
    {
      self->stats.dropped++;
      return;
    }

  p = g_new0 (PendingDatagram, 1);
  p->payload = g_bytes_new (payload, len);
  p->port = port;
  g_queue_push_tail (&entry->pending, p);
}

/* --- client side --- */

static gboolean
is_from_client (PkSocksUdpRelay *self,
                GSocketAddress  *from)
{
  GInetSocketAddress *isa;
  g_autoptr(GInetAddress) plain = NULL;

  if (!G_IS_INET_SOCKET_ADDRESS (from))
    return FALSE;

  isa = G_INET_SOCKET_ADDRESS (from);
  if (self->client_port != 0 && g_inet_socket_address_get_port (isa) != self->client_port)
    return FALSE;

  plain = pk_inet_address_unmap (g_inet_socket_address_get_address (isa));
  return g_inet_address_equal (plain, self->client_address);
}

static void
handle_client_datagram (PkSocksUdpRelay *self,
                        GSocketAddress  *from,
                        const guint8    *buf,
                        gsize            len)
{
  PkSocksUdpHeader header;
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) dest = NULL;
  const guint8 *payload;
  gsize payload_len;

  if (!is_from_client (self, from))
    {
      self->stats.dropped++;
      return;
    }

  if (!pk_socks_parse_udp_header (buf, len, &header, &error))
    {
      g_autofree char *peer = pk_format_socket_address (from);
      g_debug ("SOCKS UDP relay: datagram from %s dropped: %s", peer, error->message);
      self->stats.dropped++;
      return;
    }

  /* No reassembly (RFC 1928 allows a relay without it): a fragment on its
   * own is useless to the destination. */
  if (header.frag != 0)
    {
      self->stats.dropped++;
      return;
    }

  /* The first good datagram fixes the client's port for the rest of the
   * association, and says where replies go. */
  if (self->client_target == NULL)
    {
      self->client_target = g_object_ref (from);
      self->client_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (from));
    }

  payload = buf + header.header_len;
  payload_len = len - header.header_len;

  switch (header.address.atyp)
    {
    case PK_SOCKS_ATYP_IPV4:
      dest = g_inet_address_new_from_bytes (header.address.addr.ipv4, G_SOCKET_FAMILY_IPV4);
      send_out (self, dest, header.address.port, payload, payload_len);
      break;
    case PK_SOCKS_ATYP_IPV6:
      dest = g_inet_address_new_from_bytes (header.address.addr.ipv6, G_SOCKET_FAMILY_IPV6);
      send_out (self, dest, header.address.port, payload, payload_len);
      break;
    default:
      send_to_name (self, header.address.addr.domain, header.address.port, payload, payload_len);
      break;
    }
}

static gboolean
client_readable_cb (GSocket      *socket,
                    GIOCondition  condition,
                    gpointer      user_data)
{
  PkSocksUdpRelay *self = user_data;

  for (guint i = 0; i < BATCH && self->running; i++)
    {
      g_autoptr(GSocketAddress) from = NULL;
      g_autoptr(GError) error = NULL;
      gssize n;

      n = g_socket_receive_from (socket, &from, (char *) self->buf, MAX_DATAGRAM, NULL, &error);
      if (n < 0)
        {
          if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            g_debug ("SOCKS UDP relay: receive from client: %s", error->message);
          break;
        }
      handle_client_datagram (self, from, self->buf, n);
    }

  return G_SOURCE_CONTINUE;
}

static gboolean
outbound_readable_cb (GSocket      *socket,
                      GIOCondition  condition,
                      gpointer      user_data)
{
  PkSocksUdpRelay *self = user_data;
  guint8 *payload = self->buf + REPLY_HEADER_ROOM;

  for (guint i = 0; i < BATCH && self->running; i++)
    {
      g_autoptr(GSocketAddress) from = NULL;
      g_autoptr(GError) error = NULL;
      PkSocksAddress source;
      guint8 header[REPLY_HEADER_ROOM];
      gsize header_len;
      gssize n;

      n = g_socket_receive_from (socket, &from, (char *) payload, MAX_DATAGRAM - REPLY_HEADER_ROOM,
                                 NULL, &error);
      if (n < 0)
        {
          if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            g_debug ("SOCKS UDP relay: receive from outside: %s", error->message);
          break;
        }

      if (self->client_target == NULL ||
          !pk_socks_address_from_socket_address (from, &source))
        {
          self->stats.dropped++;
          continue;
        }

      header_len = pk_socks_encode_udp_header (header, sizeof header, &source);
      g_assert (header_len > 0 && header_len <= REPLY_HEADER_ROOM);
      memcpy (payload - header_len, header, header_len);

      g_clear_error (&error);
      if (g_socket_send_to (self->client_socket, self->client_target,
                            (const char *) payload - header_len, header_len + n,
                            NULL, &error) < 0)
        {
          if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            g_debug ("SOCKS UDP relay: send to client: %s", error->message);
          self->stats.dropped++;
          continue;
        }

      self->stats.packets_to_client++;
      self->stats.bytes_to_client += n;
      self->last_activity = g_get_monotonic_time ();
    }

  return G_SOURCE_CONTINUE;
}

/* --- lifetime --- */

static void schedule_idle (PkSocksUdpRelay *self,
                           guint            ms);

static gboolean
idle_timeout_cb (gpointer user_data)
{
  PkSocksUdpRelay *self = user_data;
  gint64 quiet_ms = (g_get_monotonic_time () - self->last_activity) / 1000;

  if (quiet_ms < self->idle_timeout_ms)
    {
      schedule_idle (self, self->idle_timeout_ms - quiet_ms);
      return G_SOURCE_REMOVE;
    }

  g_object_ref (self);
  g_debug ("SOCKS UDP relay on port %u: idle for %u ms, closing",
           g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (self->local_address)),
           self->idle_timeout_ms);
  pk_socks_udp_relay_stop (self);
  g_signal_emit (self, signals[SIGNAL_IDLE], 0);
  g_object_unref (self);

  return G_SOURCE_REMOVE;
}

static void
schedule_idle (PkSocksUdpRelay *self,
               guint            ms)
{
  pk_source_clear (&self->idle_source);
  self->idle_source = g_timeout_source_new (MAX (ms, 1));
  g_source_set_callback (self->idle_source, idle_timeout_cb, self, NULL);
  g_source_set_static_name (self->idle_source, "[proxykit] SOCKS UDP idle");
  g_source_attach (self->idle_source, self->context);
}

void
pk_socks_udp_relay_start (PkSocksUdpRelay *self)
{
  g_return_if_fail (PK_IS_SOCKS_UDP_RELAY (self));
  g_return_if_fail (!self->started);

  self->started = TRUE;
  self->running = TRUE;
  self->context = g_main_context_ref_thread_default ();
  self->buf = g_malloc (MAX_DATAGRAM);
  self->last_activity = g_get_monotonic_time ();

  self->client_source = attach_socket_source (self, self->client_socket, client_readable_cb,
                                              "[proxykit] SOCKS UDP client");
  if (self->idle_timeout_ms > 0)
    schedule_idle (self, self->idle_timeout_ms);
}

void
pk_socks_udp_relay_stop (PkSocksUdpRelay *self)
{
  g_return_if_fail (PK_IS_SOCKS_UDP_RELAY (self));

  /* A relay stopped before it started cannot be started any more. */
  self->started = TRUE;

  if (self->running)
    {
      self->running = FALSE;
      g_cancellable_cancel (self->cancellable);
      pk_source_clear (&self->client_source);
      pk_source_clear (&self->idle_source);
      g_hash_table_remove_all (self->dns);
    }

  if (self->client_socket != NULL)
    g_socket_close (self->client_socket, NULL);
  outbound_close (&self->out4);
  outbound_close (&self->out6);
}
