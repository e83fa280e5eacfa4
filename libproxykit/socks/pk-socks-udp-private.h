/* pk-socks-udp-private.h: the relay behind one SOCKS5 UDP ASSOCIATE
 *
 * One PkSocksUdpRelay serves one association (RFC 1928 section 7): a UDP
 * socket facing the client on the control connection's local address, and
 * outbound UDP sockets made through the listener's egress (one per address
 * family, created on first use). Datagrams from the client carry the SOCKS
 * UDP header naming their destination (IPv4, IPv6 or a domain name, which
 * is resolved through the egress and cached briefly); the header is
 * stripped and the payload sent on. Datagrams that come back are wrapped in
 * a header naming their source and sent to the client.
 *
 * Only datagrams from the client's address (and port, once known: from
 * @client_port_hint if it is not 0, else from the first datagram) are
 * relayed; FRAG != 0 is dropped (no reassembly, as RFC 1928 allows).
 * Nothing blocks: the sockets are non-blocking and polled by GSocket
 * sources on the thread-default main context of the thread that calls
 * pk_socks_udp_relay_start(); use the relay from that thread only.
 *
 * The association ends when the owner calls pk_socks_udp_relay_stop()
 * (the server does when the TCP control connection closes), or when no
 * datagram has been relayed for the idle timeout: the relay then stops
 * itself and emits "idle", and the owner closes the control connection.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "pk-egress.h"

G_BEGIN_DECLS

/* How long an association may go without a datagram in either direction. */
#define PK_SOCKS_UDP_DEFAULT_IDLE_TIMEOUT_MS 120000

#define PK_TYPE_SOCKS_UDP_RELAY (pk_socks_udp_relay_get_type ())
G_DECLARE_FINAL_TYPE (PkSocksUdpRelay, pk_socks_udp_relay, PK, SOCKS_UDP_RELAY, GObject)

typedef struct {
  guint64 packets_from_client;   /* relayed client -> destination */
  guint64 bytes_from_client;     /* payload bytes, without the SOCKS header */
  guint64 packets_to_client;     /* relayed destination -> client */
  guint64 bytes_to_client;
  guint64 dropped;               /* foreign sender, FRAG != 0, malformed, refused, unresolvable, send failed */
} PkSocksUdpRelayStats;

/* Called for every destination before a datagram goes out to it; FALSE
 * drops the datagram (counted in dropped). @address is never IPv4-mapped. */
typedef gboolean (*PkSocksUdpDestinationFilter) (GInetAddress *address,
                                                 guint16       port,
                                                 gpointer      user_data);

/* @bind_address: where the client-facing socket is bound; the control
 *   connection's local address (its port is ignored: the kernel picks one).
 * @client_address: the client's address, from the control connection
 *   (IPv4-mapped IPv6 and plain IPv4 compare equal).
 * @client_port_hint: DST.PORT of the UDP ASSOCIATE request, 0 for any.
 * @egress: (nullable): how datagrams leave; NULL for the default.
 * @advertise_address: (nullable): the address to put in BND.ADDR instead
 *   of the bound one (behind NAT); its port is ignored.
 * @idle_timeout_ms: 0 for none; the server passes
 *   PK_SOCKS_UDP_DEFAULT_IDLE_TIMEOUT_MS unless configured otherwise.
 * Fails (GIO's error, prefixed with what failed) if the socket cannot be
 * created or bound. */
PkSocksUdpRelay *pk_socks_udp_relay_new               (GSocketAddress   *bind_address,
                                                       GInetAddress     *client_address,
                                                       guint16           client_port_hint,
                                                       PkEgress         *egress,
                                                       GSocketAddress   *advertise_address,
                                                       guint             idle_timeout_ms,
                                                       GError          **error);

/* The address the client-facing socket is bound to. (transfer full) */
GSocketAddress  *pk_socks_udp_relay_get_local_address (PkSocksUdpRelay  *self);
/* BND.ADDR/BND.PORT for the reply to UDP ASSOCIATE: the advertised
 * address if set, else the bound one, with the bound port. Feed it to
 * pk_socks_address_from_socket_address(). (transfer full) */
GSocketAddress  *pk_socks_udp_relay_get_reply_address (PkSocksUdpRelay  *self);

/* Optional, before start: a policy for destinations (the listener's
 * destination allow/deny rules). */
void             pk_socks_udp_relay_set_destination_filter (PkSocksUdpRelay            *self,
                                                            PkSocksUdpDestinationFilter filter,
                                                            gpointer                    user_data,
                                                            GDestroyNotify              destroy);

/* Attaches to the thread-default main context. Call once. */
void             pk_socks_udp_relay_start             (PkSocksUdpRelay  *self);
/* Closes the sockets and cancels pending name lookups; idempotent, and
 * done by finalize too. "idle" is never emitted after it. */
void             pk_socks_udp_relay_stop              (PkSocksUdpRelay  *self);
gboolean         pk_socks_udp_relay_is_running        (PkSocksUdpRelay  *self);

/* "ADDR:PORT" of the first destination the client sent to, with "+more"
 * when it sent elsewhere too; NULL before any. */
char            *pk_socks_udp_relay_dup_destinations  (PkSocksUdpRelay      *self);
void             pk_socks_udp_relay_get_stats         (PkSocksUdpRelay      *self,
                                                       PkSocksUdpRelayStats *stats);

/* Signal "idle" (void (*) (PkSocksUdpRelay *relay, gpointer user_data)):
 * emitted once when the idle timeout passes, after the relay has stopped
 * itself. */

G_END_DECLS
