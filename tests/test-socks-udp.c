/* test-socks-udp.c: PkSocksUdpRelay (SOCKS5 UDP ASSOCIATE) on loopback
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include <proxykit/proxykit.h>

#include "pk-socks-proto-private.h"
#include "pk-socks-udp-private.h"
#include "pk-util-private.h"
#include "pk-test-utils.h"

#define WAIT_MS 10000

static GSocketAddress *
inet_socket_address (const char *ip,
                     guint16     port)
{
  g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (ip);

  g_assert_nonnull (inet);
  return g_inet_socket_address_new (inet, port);
}

/* A client's UDP socket, non-blocking, bound to @ip port 0; NULL if @ip
 * cannot be bound here (no IPv6). */
static GSocket *
client_socket_new (const char *ip)
{
  g_autoptr(GSocketAddress) addr = inet_socket_address (ip, 0);
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GError) error = NULL;

  socket = g_socket_new (g_socket_address_get_family (addr), G_SOCKET_TYPE_DATAGRAM,
                         G_SOCKET_PROTOCOL_DEFAULT, &error);
  if (socket == NULL || !g_socket_bind (socket, addr, FALSE, &error))
    return NULL;
  g_socket_set_blocking (socket, FALSE);
  return g_steal_pointer (&socket);
}

static guint16
socket_port (GSocket *socket)
{
  g_autoptr(GSocketAddress) addr = g_socket_get_local_address (socket, NULL);

  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (addr));
}

static PkSocksUdpRelay *
relay_new (const char *bind_ip,
           const char *client_ip,
           guint16     client_port_hint,
           PkEgress   *egress,
           guint       idle_timeout_ms)
{
  g_autoptr(GSocketAddress) bind_addr = inet_socket_address (bind_ip, 0);
  g_autoptr(GInetAddress) client = g_inet_address_new_from_string (client_ip);
  g_autoptr(GError) error = NULL;
  PkSocksUdpRelay *relay;

  relay = pk_socks_udp_relay_new (bind_addr, client, client_port_hint, egress, NULL,
                                  idle_timeout_ms, &error);
  g_assert_no_error (error);
  g_assert_nonnull (relay);
  pk_socks_udp_relay_start (relay);
  return relay;
}

/* Sends @payload to @dest through the relay, wrapped in a SOCKS UDP
 * header; @frag is normally 0. */
static void
send_via_relay (GSocket              *client,
                PkSocksUdpRelay      *relay,
                const PkSocksAddress *dest,
                guint8                frag,
                const void           *payload,
                gsize                 len)
{
  g_autoptr(GSocketAddress) relay_addr = pk_socks_udp_relay_get_local_address (relay);
  g_autofree guint8 *buf = g_malloc (PK_SOCKS_MAX_MESSAGE + len);
  g_autoptr(GError) error = NULL;
  gsize n;

  n = pk_socks_encode_udp_header (buf, PK_SOCKS_MAX_MESSAGE, dest);
  g_assert_cmpuint (n, >, 0);
  buf[2] = frag;
  memcpy (buf + n, payload, len);
  g_assert_cmpint (g_socket_send_to (client, relay_addr, (const char *) buf, n + len, NULL, &error),
                   ==, (gssize) (n + len));
  g_assert_no_error (error);
}

static void
send_raw (GSocket         *client,
          PkSocksUdpRelay *relay,
          const guint8    *buf,
          gsize            len)
{
  g_autoptr(GSocketAddress) relay_addr = pk_socks_udp_relay_get_local_address (relay);

  g_assert_cmpint (g_socket_send_to (client, relay_addr, (const char *) buf, len, NULL, NULL), ==, (gssize) len);
}

static gboolean
socket_readable (gpointer data)
{
  return g_socket_condition_check (data, G_IO_IN) & G_IO_IN;
}

/* Waits (running the relay) for one datagram on @client and checks its
 * header names @expected_source; returns the payload. */
static GBytes *
receive_via_relay (GSocket        *client,
                   GSocketAddress *expected_source)
{
  g_autofree guint8 *buf = g_malloc (65536);
  g_autoptr(GError) error = NULL;
  PkSocksUdpHeader header;
  PkSocksAddress expected;
  gssize n;

  pk_test_wait_until (socket_readable, client, WAIT_MS);
  n = g_socket_receive (client, (char *) buf, 65536, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, >, 0);

  g_assert_true (pk_socks_parse_udp_header (buf, n, &header, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (header.frag, ==, 0);
  g_assert_true (pk_socks_address_from_socket_address (expected_source, &expected));
  g_assert_cmpuint (header.address.atyp, ==, expected.atyp);
  g_assert_cmpuint (header.address.port, ==, expected.port);
  if (expected.atyp == PK_SOCKS_ATYP_IPV4)
    g_assert_cmpmem (header.address.addr.ipv4, 4, expected.addr.ipv4, 4);
  else
    g_assert_cmpmem (header.address.addr.ipv6, 16, expected.addr.ipv6, 16);

  return g_bytes_new (buf + header.header_len, n - header.header_len);
}

static void
assert_bytes_equal (GBytes     *bytes,
                    const void *data,
                    gsize       len)
{
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), data, len);
}

typedef struct {
  PkTestEchoServer *echo;
  GSocketAddress *echo_addr;
  PkSocksAddress dest;          /* the echo server, as a SOCKS address */
  GSocket *client;
  PkSocksUdpRelay *relay;       /* made by the test, or by start_relay() */
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  f->echo = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_DATAGRAM);
  f->echo_addr = pk_test_echo_server_get_address (f->echo);
  g_assert_true (pk_socks_address_from_socket_address (f->echo_addr, &f->dest));
  f->client = client_socket_new ("127.0.0.1");
  g_assert_nonnull (f->client);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_object (&f->relay);
  g_clear_object (&f->client);
  g_clear_object (&f->echo_addr);
  g_clear_pointer (&f->echo, pk_test_echo_server_free);
}

static void
start_relay (Fixture    *f,
             guint16     client_port_hint,
             PkEgress   *egress,
             guint       idle_timeout_ms)
{
  f->relay = relay_new ("127.0.0.1", "127.0.0.1", client_port_hint, egress, idle_timeout_ms);
}

/* Sends @payload to the echo server through the relay and checks that it
 * comes back whole, with a header naming the echo server. */
static void
echo_round_trip (Fixture    *f,
                 const char *payload)
{
  g_autoptr(GBytes) reply = NULL;

  send_via_relay (f->client, f->relay, &f->dest, 0, payload, strlen (payload));
  reply = receive_via_relay (f->client, f->echo_addr);
  assert_bytes_equal (reply, payload, strlen (payload));
}

static PkSocksUdpRelayStats
get_stats (Fixture *f)
{
  PkSocksUdpRelayStats stats;

  pk_socks_udp_relay_get_stats (f->relay, &stats);
  return stats;
}

static void
test_ipv4_round_trip (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GBytes) big_reply = NULL;
  g_autofree guint8 *big = g_malloc (65000);
  PkSocksUdpRelayStats stats;

  start_relay (f, 0, NULL, 0);
  echo_round_trip (f, "hello");

  /* The largest datagrams IPv4 carries pass whole */
  for (guint i = 0; i < 65000; i++)
    big[i] = i * 7;
  send_via_relay (f->client, f->relay, &f->dest, 0, big, 65000);
  big_reply = receive_via_relay (f->client, f->echo_addr);
  assert_bytes_equal (big_reply, big, 65000);

  stats = get_stats (f);
  g_assert_cmpuint (stats.packets_from_client, ==, 2);
  g_assert_cmpuint (stats.packets_to_client, ==, 2);
  g_assert_cmpuint (stats.bytes_from_client, ==, 65005);
  g_assert_cmpuint (stats.bytes_to_client, ==, 65005);
  g_assert_cmpuint (stats.dropped, ==, 0);
}

static void
test_ipv6 (void)
{
  g_autoptr(GSocket) client = client_socket_new ("::1");
  g_autoptr(PkTestEchoServer) echo6 = NULL;
  g_autoptr(PkTestEchoServer) echo4 = NULL;
  g_autoptr(GSocketAddress) echo6_addr = NULL;
  g_autoptr(GSocketAddress) echo4_addr = NULL;
  g_autoptr(PkSocksUdpRelay) relay = NULL;
  g_autoptr(GSocketAddress) local = NULL;
  g_autoptr(GBytes) reply6 = NULL;
  g_autoptr(GBytes) reply4 = NULL;
  PkSocksAddress dest;
  PkSocksUdpRelayStats stats;

  if (client == NULL)
    {
      g_test_skip ("no IPv6 loopback here");
      return;
    }

  echo6 = pk_test_echo_server_new ("::1", G_SOCKET_TYPE_DATAGRAM);
  echo6_addr = pk_test_echo_server_get_address (echo6);
  echo4 = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_DATAGRAM);
  echo4_addr = pk_test_echo_server_get_address (echo4);
  relay = relay_new ("::1", "::1", 0, NULL, 0);

  local = pk_socks_udp_relay_get_local_address (relay);
  g_assert_cmpint (g_socket_address_get_family (local), ==, G_SOCKET_FAMILY_IPV6);

  g_assert_true (pk_socks_address_from_socket_address (echo6_addr, &dest));
  g_assert_cmpuint (dest.atyp, ==, PK_SOCKS_ATYP_IPV6);
  send_via_relay (client, relay, &dest, 0, "six", 3);
  reply6 = receive_via_relay (client, echo6_addr);
  assert_bytes_equal (reply6, "six", 3);

  /* An IPv6 client may send to IPv4 destinations: a second outbound
   * socket, and the reply header names the IPv4 source. */
  g_assert_true (pk_socks_address_from_socket_address (echo4_addr, &dest));
  send_via_relay (client, relay, &dest, 0, "four", 4);
  reply4 = receive_via_relay (client, echo4_addr);
  assert_bytes_equal (reply4, "four", 4);

  pk_socks_udp_relay_get_stats (relay, &stats);
  g_assert_cmpuint (stats.packets_to_client, ==, 2);
  g_assert_cmpuint (stats.dropped, ==, 0);
}

/* Only the client of the control connection may use the association: a
 * datagram from another address, or from another port once the client's
 * is known, goes nowhere. */
static void
test_foreign_sender_dropped (Fixture       *f,
                             gconstpointer  data)
{
  g_autoptr(GSocket) other_port = client_socket_new ("127.0.0.1");
  g_autoptr(GSocket) other_addr = client_socket_new ("127.0.0.2");
  PkSocksUdpRelayStats stats;

  g_assert_nonnull (other_addr);
  start_relay (f, 0, NULL, 0);

  /* Another address, before the client's port is known */
  send_via_relay (other_addr, f->relay, &f->dest, 0, "intruder", 8);
  echo_round_trip (f, "first");

  /* The same address, another port, once the client's port is known */
  send_via_relay (other_port, f->relay, &f->dest, 0, "intruder", 8);
  echo_round_trip (f, "second");

  stats = get_stats (f);
  g_assert_cmpuint (stats.dropped, ==, 2);
  g_assert_cmpuint (stats.packets_from_client, ==, 2);
  g_assert_cmpuint (pk_test_echo_server_get_n_connections (f->echo), ==, 2);
  g_assert_false (socket_readable (other_port));
  g_assert_false (socket_readable (other_addr));
}

/* DST.PORT of the request, when not 0, fixes the client's port from the
 * start. */
static void
test_client_port_hint (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GSocket) other = client_socket_new ("127.0.0.1");

  start_relay (f, socket_port (f->client), NULL, 0);
  send_via_relay (other, f->relay, &f->dest, 0, "intruder", 8);
  echo_round_trip (f, "mine");

  g_assert_cmpuint (get_stats (f).dropped, ==, 1);
  g_assert_cmpuint (pk_test_echo_server_get_n_connections (f->echo), ==, 1);
}

static void
test_frag_and_malformed_dropped (Fixture       *f,
                                 gconstpointer  data)
{
  static const guint8 rsv_set[] = { 0, 1, 0, 1, 127, 0, 0, 1, 0, 9, 'x' };
  static const guint8 bad_atyp[] = { 0, 0, 0, 2, 127, 0, 0, 1, 0, 9, 'x' };
  static const guint8 truncated[] = { 0, 0, 0, 1, 127, 0 };
  PkSocksUdpRelayStats stats;

  start_relay (f, 0, NULL, 0);
  send_via_relay (f->client, f->relay, &f->dest, 1, "fragment 1", 10);
  send_via_relay (f->client, f->relay, &f->dest, 0x81, "last fragment", 13);
  send_raw (f->client, f->relay, rsv_set, sizeof rsv_set);
  send_raw (f->client, f->relay, bad_atyp, sizeof bad_atyp);
  send_raw (f->client, f->relay, truncated, sizeof truncated);
  echo_round_trip (f, "whole");

  stats = get_stats (f);
  g_assert_cmpuint (stats.dropped, ==, 5);
  g_assert_cmpuint (stats.packets_from_client, ==, 1);
  g_assert_cmpuint (pk_test_echo_server_get_n_connections (f->echo), ==, 1);
}

/* A domain name is resolved through the egress's nameserver (one on
 * loopback: never the system resolver), and an egress pinned to
 * 127.0.0.1 picks its IPv4 address. */
static void
test_domain_destination (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(PkTestDnsServer) dns = pk_test_dns_server_new ();
  g_autofree char *nameserver = pk_test_dns_server_dup_address (dns);
  g_autoptr(PkEgress) egress = NULL;
  g_autoptr(GBytes) r1 = NULL;
  g_autoptr(GBytes) r2 = NULL;
  g_autoptr(GBytes) r3 = NULL;
  g_autoptr(GError) error = NULL;
  PkSocksAddress name;
  PkSocksUdpRelayStats stats;

  egress = pk_egress_new_full ("127.0.0.1", NULL, 0, 0, &error);
  g_assert_no_error (error);
  pk_egress_set_nameservers (egress, (const char *[]) { nameserver, NULL }, &error);
  g_assert_no_error (error);
  start_relay (f, 0, egress, 0);

  g_assert_true (pk_socks_address_set_domain (&name, "udp.farm.test", f->dest.port));
  /* Two datagrams before the name is resolved: both wait for it, in order */
  send_via_relay (f->client, f->relay, &name, 0, "one", 3);
  send_via_relay (f->client, f->relay, &name, 0, "two", 3);
  r1 = receive_via_relay (f->client, f->echo_addr);
  assert_bytes_equal (r1, "one", 3);
  r2 = receive_via_relay (f->client, f->echo_addr);
  assert_bytes_equal (r2, "two", 3);

  /* An IP literal sent as a name */
  g_assert_true (pk_socks_address_set_domain (&name, "127.0.0.1", f->dest.port));
  send_via_relay (f->client, f->relay, &name, 0, "three", 5);
  r3 = receive_via_relay (f->client, f->echo_addr);
  assert_bytes_equal (r3, "three", 5);

  stats = get_stats (f);
  g_assert_cmpuint (stats.packets_from_client, ==, 3);
  g_assert_cmpuint (stats.dropped, ==, 0);
  g_assert_cmpuint (pk_test_dns_server_get_n_queries (dns), >=, 1);
}

/* Datagrams leave through the egress: its source address is what the
 * destination sees. */
static void
test_egress_source_address (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(PkEgress) egress = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *peer = NULL;
  PkSocksAddress v6dest;

  egress = pk_egress_new_full ("127.0.0.3", NULL, 0, 0, &error);
  g_assert_no_error (error);
  start_relay (f, 0, egress, 0);

  echo_round_trip (f, "via");
  peer = pk_test_echo_server_dup_last_peer (f->echo);
  g_assert_cmpstr (peer, ==, "127.0.0.3");

  /* An IPv4 egress cannot carry IPv6: dropped, and IPv4 still works */
  memset (&v6dest, 0, sizeof v6dest);
  v6dest.atyp = PK_SOCKS_ATYP_IPV6;
  v6dest.addr.ipv6[15] = 1;
  v6dest.port = 9;
  send_via_relay (f->client, f->relay, &v6dest, 0, "no", 2);
  echo_round_trip (f, "after");

  g_assert_cmpuint (get_stats (f).dropped, ==, 1);
}

static gboolean
refuse_port_9 (GInetAddress *address,
               guint16       port,
               gpointer      user_data)
{
  guint *calls = user_data;

  (*calls)++;
  g_assert_cmpint (g_inet_address_get_family (address), ==, G_SOCKET_FAMILY_IPV4);
  return port != 9;
}

static void
test_destination_filter (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GSocketAddress) bind_addr = inet_socket_address ("127.0.0.1", 0);
  g_autoptr(GInetAddress) client_ip = g_inet_address_new_from_string ("127.0.0.1");
  g_autoptr(GError) error = NULL;
  PkSocksAddress refused;
  PkSocksUdpRelayStats stats;
  guint calls = 0;

  f->relay = pk_socks_udp_relay_new (bind_addr, client_ip, 0, NULL, NULL, 0, &error);
  g_assert_no_error (error);
  pk_socks_udp_relay_set_destination_filter (f->relay, refuse_port_9, &calls, NULL);
  pk_socks_udp_relay_start (f->relay);

  /* An IPv4-mapped destination reaches the filter as plain IPv4 */
  memset (&refused, 0, sizeof refused);
  refused.atyp = PK_SOCKS_ATYP_IPV6;
  memcpy (refused.addr.ipv6, (guint8[]) { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1 }, 16);
  refused.port = 9;
  send_via_relay (f->client, f->relay, &refused, 0, "no", 2);
  echo_round_trip (f, "yes");

  stats = get_stats (f);
  g_assert_cmpuint (calls, ==, 2);
  g_assert_cmpuint (stats.dropped, ==, 1);
  g_assert_cmpuint (stats.packets_from_client, ==, 1);
}

static void
on_idle (PkSocksUdpRelay *relay,
         gpointer         user_data)
{
  guint *n = user_data;

  g_assert_false (pk_socks_udp_relay_is_running (relay));
  (*n)++;
}

static gboolean
counter_nonzero (gpointer data)
{
  return *(guint *) data > 0;
}

static void
test_idle_timeout (Fixture       *f,
                   gconstpointer  data)
{
  guint n_idle = 0;

  start_relay (f, 0, NULL, 200);
  g_signal_connect (f->relay, "idle", G_CALLBACK (on_idle), &n_idle);
  g_assert_true (pk_socks_udp_relay_is_running (f->relay));

  echo_round_trip (f, "ping");

  pk_test_wait_until (counter_nonzero, &n_idle, WAIT_MS);
  g_assert_cmpuint (n_idle, ==, 1);
  g_assert_false (pk_socks_udp_relay_is_running (f->relay));

  /* Stopping again (as the server does when it closes the control
   * connection) is harmless and emits nothing more. */
  pk_socks_udp_relay_stop (f->relay);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (n_idle, ==, 1);
}

static void
test_stop (Fixture       *f,
           gconstpointer  data)
{
  g_autoptr(GSocketAddress) relay_addr = NULL;
  g_autoptr(GSocket) rebind = NULL;
  g_autoptr(GError) error = NULL;

  start_relay (f, 0, NULL, 0);
  relay_addr = pk_socks_udp_relay_get_local_address (f->relay);
  echo_round_trip (f, "before");

  pk_socks_udp_relay_stop (f->relay);
  g_assert_false (pk_socks_udp_relay_is_running (f->relay));

  /* The port is released at once: a new socket can take it. */
  rebind = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_DEFAULT, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (rebind, relay_addr, FALSE, &error));
  g_assert_no_error (error);
}

static void
test_reply_address (void)
{
  g_autoptr(GSocketAddress) bind_addr = inet_socket_address ("127.0.0.1", 0);
  g_autoptr(GSocketAddress) advertise = inet_socket_address ("203.0.113.5", 1);
  g_autoptr(GInetAddress) client_ip = g_inet_address_new_from_string ("::ffff:127.0.0.1");
  g_autoptr(PkSocksUdpRelay) relay = NULL;
  g_autoptr(PkSocksUdpRelay) plain = NULL;
  g_autoptr(GSocketAddress) local = NULL;
  g_autoptr(GSocketAddress) reply = NULL;
  g_autoptr(GSocketAddress) plain_reply = NULL;
  g_autoptr(GSocketAddress) busy = NULL;
  g_autoptr(PkSocksUdpRelay) none = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *reply_str = NULL;
  g_autofree char *expected = NULL;
  guint16 port;

  relay = pk_socks_udp_relay_new (bind_addr, client_ip, 0, NULL, advertise, 0, &error);
  g_assert_no_error (error);
  local = pk_socks_udp_relay_get_local_address (relay);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
  g_assert_cmpuint (port, !=, 0);

  /* Behind NAT: the advertised address, with the port really bound */
  reply = pk_socks_udp_relay_get_reply_address (relay);
  reply_str = pk_format_socket_address (reply);
  expected = g_strdup_printf ("203.0.113.5:%u", port);
  g_assert_cmpstr (reply_str, ==, expected);

  plain = pk_socks_udp_relay_new (bind_addr, client_ip, 0, NULL, NULL, 0, &error);
  g_assert_no_error (error);
  plain_reply = pk_socks_udp_relay_get_reply_address (plain);
  g_clear_pointer (&reply_str, g_free);
  reply_str = pk_format_socket_address (plain_reply);
  g_assert_true (g_str_has_prefix (reply_str, "127.0.0.1:"));
  g_assert_cmpstr (reply_str, !=, "127.0.0.1:0");

  /* An address this host does not have cannot be bound: the error says where */
  busy = inet_socket_address ("192.0.2.1", 0);
  none = pk_socks_udp_relay_new (busy, client_ip, 0, NULL, NULL, 0, &error);
  g_assert_null (none);
  g_assert_nonnull (error);
  g_assert_true (error->domain == G_IO_ERROR);
  g_assert_nonnull (strstr (error->message, "192.0.2.1"));
}

int
main (int    argc,
      char **argv)
{
  pk_test_init (&argc, &argv);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/socks-udp/ipv4-round-trip", test_ipv4_round_trip);
  g_test_add_func ("/socks-udp/ipv6", test_ipv6);
  ADD ("/socks-udp/foreign-sender-dropped", test_foreign_sender_dropped);
  ADD ("/socks-udp/client-port-hint", test_client_port_hint);
  ADD ("/socks-udp/frag-and-malformed-dropped", test_frag_and_malformed_dropped);
  ADD ("/socks-udp/domain-destination", test_domain_destination);
  ADD ("/socks-udp/egress-source-address", test_egress_source_address);
  ADD ("/socks-udp/destination-filter", test_destination_filter);
  ADD ("/socks-udp/idle-timeout", test_idle_timeout);
  ADD ("/socks-udp/stop", test_stop);
  g_test_add_func ("/socks-udp/reply-address", test_reply_address);
#undef ADD

  return g_test_run ();
}
