/* test-relay-udp.c: UDP relays on loopback: sessions, expiry and cap, descriptor budget, every address, GSO and GRO
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "relay-test-utils.h"

/* --- UDP --- */

static void
test_udp_echo_several_clients (void)
{
  g_autoptr(PkTestEchoServer) echo = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_DATAGRAM);
  g_autoptr(PkRelay) relay = pk_relay_new ();
  g_autoptr(PkRelayRule) rule = loopback_rule (PK_RELAY_PROTOCOL_UDP, pk_test_echo_server_get_port (echo), "udp");
  UdpClients u = { .connect_to = "127.0.0.1", .n_clients = 6, .n_datagrams = 40 };

  u.port = start_rule (relay, rule);
  u.client.thread = g_thread_new ("udp", udp_clients_thread, &u);
  client_join (&u.client);

  /* Each client got its own datagrams back, in order; loopback loses
   * none at this rate. */
  g_assert_cmpuint (u.ok, ==, u.n_clients * u.n_datagrams);
  g_assert_cmpint (rule_counter (relay, "udp", "connections"), ==, u.n_clients);
  g_assert_cmpint (rule_counter (relay, "udp", "active"), ==, u.n_clients);
  g_assert_cmpint (rule_counter (relay, "udp", "datagrams_in"), ==, u.n_clients * u.n_datagrams);
  g_assert_cmpint (rule_counter (relay, "udp", "datagrams_out"), ==, u.n_clients * u.n_datagrams);
}

static void
test_udp_reply_from_listening_address (void)
{
  g_autoptr(PkTestEchoServer) echo = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_DATAGRAM);
  g_autoptr(PkRelay) relay = pk_relay_new ();
  /* All addresses: the reply must leave from the one the client used. */
  g_autoptr(PkRelayRule) rule = pk_relay_rule_new (PK_RELAY_PROTOCOL_UDP, 0, "127.0.0.1",
                                                   pk_test_echo_server_get_port (echo));
  UdpClients u = { .connect_to = "127.0.0.2", .n_clients = 2, .n_datagrams = 5 };

  pk_relay_rule_set_name (rule, "any");
  u.port = start_rule (relay, rule);
  u.client.thread = g_thread_new ("udp", udp_clients_thread, &u);
  client_join (&u.client);
  g_assert_cmpuint (u.ok, ==, u.n_clients * u.n_datagrams);
}

static gboolean
no_sessions (gpointer data)
{
  return rule_counter (data, "expire", "active") == 0;
}

static void
test_udp_session_expiry_and_cap (void)
{
  g_autoptr(PkTestEchoServer) echo = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_DATAGRAM);
  g_autoptr(PkRelay) relay = pk_relay_new ();
  g_autoptr(PkRelayRule) rule = loopback_rule (PK_RELAY_PROTOCOL_UDP, pk_test_echo_server_get_port (echo), "expire");
  /* Short: the refused client waits this long for answers that never come. */
  UdpClients u = { .connect_to = "127.0.0.1", .n_clients = 3, .n_datagrams = 4, .timeout_s = 1 };

  pk_relay_rule_set_idle_timeout (rule, 400);
  pk_relay_rule_set_max_sessions (rule, 2);
  u.port = start_rule (relay, rule);
  u.client.thread = g_thread_new ("udp", udp_clients_thread, &u);
  client_join (&u.client);

  /* Two sessions got through, the third client's datagrams were refused. */
  g_assert_cmpuint (u.ok, ==, 2 * u.n_datagrams);
  g_assert_cmpint (rule_counter (relay, "expire", "refused"), ==, u.n_datagrams);
  g_assert_cmpint (rule_counter (relay, "expire", "connections"), ==, 2);

  pk_test_wait_until (no_sessions, relay, 10000);

  /* With the old sessions gone there is room again. */
  u.client.done = 0;
  u.ok = 0;
  u.n_clients = 2;
  u.client.thread = g_thread_new ("udp", udp_clients_thread, &u);
  client_join (&u.client);
  g_assert_cmpuint (u.ok, ==, 2 * u.n_datagrams);
  g_assert_cmpint (rule_counter (relay, "expire", "connections"), ==, 4);
}

/* UDP clients cost nothing to make, and each session holds a descriptor:
 * under a low RLIMIT_NOFILE a flood of them must leave a TCP rule able to
 * accept. Runs in a child, whose limit is lowered for good. */
#define FD_LIMIT 256
#define N_UDP_CLIENTS 400

typedef struct {
  PkRelay *relay;
  gint64 expected;
} UdpFlood;

static gboolean
udp_flood_counted (gpointer data)
{
  UdpFlood *f = data;

  return rule_counter (f->relay, "flood", "connections") + rule_counter (f->relay, "flood", "refused") +
         rule_counter (f->relay, "flood", "failed") >= f->expected;
}

static void
test_udp_budget_leaves_tcp_room_child (void)
{
  struct rlimit rl = { FD_LIMIT, FD_LIMIT };
  g_autoptr(PkTestEchoServer) udp_echo = NULL;
  g_autoptr(PkTestEchoServer) tcp_echo = NULL;
  g_autoptr(PkRelay) relay = NULL;
  g_autoptr(PkRelayRule) udp = NULL;
  g_autoptr(PkRelayRule) tcp = NULL;
  g_autoptr(GSocketAddress) udp_addr = NULL;
  g_autoptr(GSocketAddress) tcp_addr = NULL;
  g_autoptr(GSocket) client = NULL;
  UdpFlood flood;

  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &rl), ==, 0);
  udp_echo = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_DATAGRAM);
  tcp_echo = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_STREAM);
  relay = pk_relay_new ();
  udp = loopback_rule (PK_RELAY_PROTOCOL_UDP, pk_test_echo_server_get_port (udp_echo), "flood");
  tcp = loopback_rule (PK_RELAY_PROTOCOL_TCP, pk_test_echo_server_get_port (tcp_echo), "tcp");
  pk_relay_rule_set_idle_timeout (udp, 600000);
  udp_addr = loopback ("127.0.0.1", start_rule (relay, udp));
  tcp_addr = loopback ("127.0.0.1", start_rule (relay, tcp));

  /* Each client from an address of its own (a closed socket's port may
   * come back); closed at once, so that the clients hold nothing. */
  for (guint i = 0; i < N_UDP_CLIENTS; i++)
    {
      g_autoptr(GSocket) sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                                              G_SOCKET_PROTOCOL_DEFAULT, NULL);
      g_autofree char *ip = g_strdup_printf ("127.0.%u.%u", 10 + i / 200, 1 + i % 200);
      g_autoptr(GSocketAddress) source = loopback (ip, 0);

      g_assert_nonnull (sock);
      g_assert_true (g_socket_bind (sock, source, FALSE, NULL));
      g_assert_cmpint (g_socket_send_to (sock, udp_addr, "x", 1, NULL, NULL), ==, 1);
      /* One at a time, so that the listening socket's buffer drops none. */
      flood = (UdpFlood) { relay, i + 1 };
      pk_test_wait_until (udp_flood_counted, &flood, 10000);
    }

  /* The TCP rule still accepts and relays... */
  client = pk_test_connect_tcp (tcp_addr);
  echo_roundtrip (client, "tcp still served");

  /* ...because the UDP rule stopped at its share instead of running out. */
  g_assert_cmpint (rule_counter (relay, "flood", "refused"), >, 0);
  g_assert_cmpint (rule_counter (relay, "flood", "failed"), ==, 0);
  g_assert_cmpint (rule_counter (relay, "flood", "connections"), <=, FD_LIMIT / 2);
}

static void
test_udp_budget_leaves_tcp_room (void)
{
  g_test_trap_subprocess ("/relay/udp/budget-leaves-tcp-room/subprocess", 120 * G_USEC_PER_SEC,
                          G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

/* --- names that move --- */

typedef struct {
  Client client;
  guint16 port;
  gboolean answered;
} UdpRetrier;

/* Sends until an answer comes, as a DNS client retries. */
static gpointer
udp_retry_thread (gpointer data)
{
  UdpRetrier *u = data;
  g_autoptr(GSocketAddress) addr = loopback ("127.0.0.1", u->port);
  g_autoptr(GSocket) s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_DEFAULT, NULL);
  char buf[64];

  g_socket_connect (s, addr, NULL, NULL);
  g_socket_set_timeout (s, 1);
  for (guint i = 0; i < 10 && !u->answered; i++)
    {
      g_socket_send (s, "ping", 4, NULL, NULL);
      u->answered = g_socket_receive (s, buf, sizeof buf, NULL, NULL) == 4;
    }
  g_atomic_int_set (&u->client.done, 1);
  return NULL;
}

/* A name with several addresses whose first refuses (localhost as ::1
 * and 127.0.0.1, with the server on one of them): a UDP rule moves on to
 * the next address instead of dropping every datagram in silence. */
static void
test_udp_tries_every_address (void)
{
  g_autoptr(GResolver) old_resolver = g_resolver_get_default ();
  TestResolver *resolver = g_object_new (test_resolver_get_type (), NULL);
  g_autoptr(PkTestEchoServer) echo = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_DATAGRAM);
  g_autoptr(PkRelay) relay = pk_relay_new ();
  g_autoptr(PkRelayRule) rule = pk_relay_rule_new (PK_RELAY_PROTOCOL_UDP, 0, "moving.test",
                                                   pk_test_echo_server_get_port (echo));
  UdpRetrier u = { 0 };

  g_resolver_set_default (G_RESOLVER (resolver));
  /* Nothing listens on 127.0.0.2: it answers port unreachable. */
  resolver->address = g_strdup ("127.0.0.2,127.0.0.1");
  pk_relay_rule_set_name (rule, "two");
  g_assert_true (pk_relay_rule_set_listen_address (rule, "127.0.0.1", NULL));
  u.port = start_rule (relay, rule);
  u.client.thread = g_thread_new ("udp", udp_retry_thread, &u);
  client_join (&u.client);
  g_assert_true (u.answered);
  /* The refused datagram counts as dropped (and is logged). */
  g_assert_cmpint (rule_counter (relay, "two", "dropped"), >=, 1);

  pk_relay_stop (relay);
  g_resolver_set_default (old_resolver);
  g_object_unref (resolver);
}

/* --- UDP segmentation offload --- */

/* Each client sends 40 x 1200 bytes, then 3 x 100, then 1 x 1472, the
 * clients taking turns by phase: runs of equal sizes, a shorter last one,
 * a size change, and the largest IPv4 datagram of an Ethernet frame. */
#define BURST_CLIENTS 3
#define BURST_PER_CLIENT 44

static guint
burst_size (guint index)
{
  return index < 40 ? 1200 : index < 43 ? 100 : 1472;
}

/* Content telling client, index and every byte's place apart. */
static void
burst_fill (guint8 *buf,
            guint   client,
            guint   index)
{
  guint size = burst_size (index);

  for (guint k = 0; k < size; k++)
    buf[k] = (guint8) (client * 89 + index * 31 + k * 7 + k / 256);
  buf[0] = client;
  buf[1] = index;
}

typedef struct {
  GSocket *clients[BURST_CLIENTS];
  guint received[BURST_CLIENTS];        /* in order and intact */
  char *error;
  /* Without an echo server, the test answers as upstream itself, after
   * every datagram arrived: then the relay finds replies queued. */
  GSocket *upstream;
  GPtrArray *upstream_from;             /* of GSocketAddress */
  GPtrArray *upstream_data;             /* of GBytes */
} Burst;

static GSocket *
burst_socket (GSocketAddress *bind_to,
              GSocketAddress *connect_to)
{
  g_autoptr(GError) error = NULL;
  GSocket *socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_DEFAULT, &error);
  int size = 1 << 20;

  g_assert_no_error (error);
  g_assert_no_errno (setsockopt (g_socket_get_fd (socket), SOL_SOCKET, SO_RCVBUF, &size, sizeof size));
  if (bind_to != NULL)
    g_socket_bind (socket, bind_to, FALSE, &error);
  else
    g_socket_connect (socket, connect_to, NULL, &error);
  g_assert_no_error (error);
  g_socket_set_blocking (socket, FALSE);
  return socket;
}

static gboolean
burst_upstream_has_all (gpointer data)
{
  Burst *b = data;
  guint8 buf[2048];
  gssize n;

  while (b->upstream_data->len < BURST_CLIENTS * BURST_PER_CLIENT)
    {
      GSocketAddress *from = NULL;

      n = g_socket_receive_from (b->upstream, &from, (char *) buf, sizeof buf, NULL, NULL);
      if (n < 0)
        return FALSE;
      g_ptr_array_add (b->upstream_from, from);
      g_ptr_array_add (b->upstream_data, g_bytes_new (buf, n));
    }
  return TRUE;
}

static gboolean
burst_clients_have_all (gpointer data)
{
  Burst *b = data;
  guint done = 0;

  for (guint c = 0; c < BURST_CLIENTS; c++)
    {
      guint8 buf[2048], want[2048];
      gssize n;

      while (b->error == NULL && b->received[c] < BURST_PER_CLIENT &&
             (n = g_socket_receive (b->clients[c], (char *) buf, sizeof buf, NULL, NULL)) >= 0)
        {
          guint index = b->received[c];

          burst_fill (want, c, index);
          if ((gsize) n != burst_size (index) || memcmp (buf, want, n) != 0)
            b->error = g_strdup_printf ("client %u, datagram %u: %" G_GSSIZE_FORMAT " bytes "
                                        "(client %u, datagram %u), want %u",
                                        c, index, n, buf[0], buf[1], burst_size (index));
          else
            b->received[c]++;
        }
      done += b->received[c] == BURST_PER_CLIENT;
    }
  return b->error != NULL || done == BURST_CLIENTS;
}

/* The burst through a relay to the pk-test-utils echo server or, with
 * @echo_by_test, to the test answering as upstream; returns the
 * datagrams sent with segmentation offload, both ways. With
 * @all_addresses, the relay listens on all addresses and the clients send
 * to 127.0.0.2: replies carry their source address (IP_PKTINFO) along
 * with the segment size, and connected clients take no other. */
static void
burst_roundtrip (PkRelayUdpGso mode,
                 gboolean      echo_by_test,
                 gboolean      all_addresses,
                 guint64      *gso_to_upstream,
                 guint64      *gso_to_clients,
                 guint64      *refused)
{
  g_autoptr(PkTestEchoServer) echo = NULL;
  g_autoptr(PkRelay) relay = pk_relay_new ();
  g_autoptr(PkRelayRule) rule = NULL;
  g_autoptr(GSocketAddress) relay_addr = NULL;
  guint64 up0, down0, refused0, up1, down1, refused1;
  Burst b = { 0 };
  guint16 upstream_port;
  guint8 buf[2048];

  if (echo_by_test)
    {
      g_autoptr(GSocketAddress) any = loopback ("127.0.0.1", 0);
      g_autoptr(GSocketAddress) local = NULL;

      b.upstream = burst_socket (any, NULL);
      local = g_socket_get_local_address (b.upstream, NULL);
      upstream_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
      b.upstream_from = g_ptr_array_new_with_free_func (g_object_unref);
      b.upstream_data = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
    }
  else
    {
      echo = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_DATAGRAM);
      upstream_port = pk_test_echo_server_get_port (echo);
    }

  pk_relay_udp_set_gso (mode);
  if (all_addresses)
    {
      rule = pk_relay_rule_new (PK_RELAY_PROTOCOL_UDP, 0, "127.0.0.1", upstream_port);
      pk_relay_rule_set_name (rule, "burst");
    }
  else
    rule = loopback_rule (PK_RELAY_PROTOCOL_UDP, upstream_port, "burst");
  relay_addr = loopback (all_addresses ? "127.0.0.2" : "127.0.0.1", start_rule (relay, rule));
  pk_relay_udp_set_gso (PK_RELAY_UDP_GSO_ON);
  pk_relay_udp_get_gso_stats (&up0, &down0, &refused0);

  /* The whole burst waits at the listening socket before the relay (in
   * this thread's main context) reads any of it: its batches hold runs. */
  for (guint c = 0; c < BURST_CLIENTS; c++)
    b.clients[c] = burst_socket (NULL, relay_addr);
  for (guint first = 0; first < BURST_PER_CLIENT;)
    {
      guint end = first + 1;

      while (end < BURST_PER_CLIENT && burst_size (end) == burst_size (first))
        end++;
      for (guint c = 0; c < BURST_CLIENTS; c++)
        for (guint i = first; i < end; i++)
          {
            burst_fill (buf, c, i);
            g_assert_cmpint (g_socket_send (b.clients[c], (char *) buf, burst_size (i), NULL, NULL), ==, burst_size (i));
          }
      first = end;
    }

  if (echo_by_test)
    {
      /* Every datagram reaches upstream first; then all replies go back
       * at once, in the order they came. */
      pk_test_wait_until (burst_upstream_has_all, &b, 10000);
      for (guint i = 0; i < b.upstream_data->len; i++)
        {
          gsize size;
          const char *data = g_bytes_get_data (g_ptr_array_index (b.upstream_data, i), &size);

          g_assert_cmpint (g_socket_send_to (b.upstream, g_ptr_array_index (b.upstream_from, i),
                                             data, size, NULL, NULL), ==, size);
        }
    }
  pk_test_wait_until (burst_clients_have_all, &b, 10000);
  g_assert_cmpstr (b.error, ==, NULL);

  pk_relay_udp_get_gso_stats (&up1, &down1, &refused1);
  *gso_to_upstream = up1 - up0;
  *gso_to_clients = down1 - down0;
  *refused = refused1 - refused0;
  g_assert_cmpint (rule_counter (relay, "burst", "datagrams_in"), ==, BURST_CLIENTS * BURST_PER_CLIENT);
  g_assert_cmpint (rule_counter (relay, "burst", "datagrams_out"), ==, BURST_CLIENTS * BURST_PER_CLIENT);
  g_assert_cmpint (rule_counter (relay, "burst", "dropped"), ==, 0);

  for (guint c = 0; c < BURST_CLIENTS; c++)
    g_object_unref (b.clients[c]);
  g_clear_object (&b.upstream);
  g_clear_pointer (&b.upstream_from, g_ptr_array_unref);
  g_clear_pointer (&b.upstream_data, g_ptr_array_unref);
}

static gboolean
kernel_has_udp_gso (void)
{
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_DEFAULT, NULL);
  int zero = 0;

  return setsockopt (g_socket_get_fd (socket), SOL_UDP, UDP_SEGMENT, &zero, sizeof zero) == 0;
}

static void
test_udp_gso_varied_sizes (void)
{
  guint64 up, down, refused;

  if (!kernel_has_udp_gso ())
    {
      g_test_skip ("the kernel has no UDP_SEGMENT");
      return;
    }

  /* Through a real echo server: the client side is queued whole, so its
   * runs leave segmented; replies come as the echo server sends them. */
  burst_roundtrip (PK_RELAY_UDP_GSO_ON, FALSE, FALSE, &up, &down, &refused);
  g_assert_cmpuint (up, >, 0);
  g_assert_cmpuint (refused, ==, 0);

  /* Replies queued whole: they leave segmented too, by the listening
   * socket, also with their source address when it listens on all. */
  for (guint all = 0; all < 2; all++)
    {
      burst_roundtrip (PK_RELAY_UDP_GSO_ON, TRUE, all, &up, &down, &refused);
      g_assert_cmpuint (up, >, 0);
      g_assert_cmpuint (down, >, 0);
      g_assert_cmpuint (refused, ==, 0);
    }
}

static void
test_udp_gso_off_and_refused (void)
{
  guint64 up, down, refused;

  /* Off: the same traffic, one datagram per message. */
  burst_roundtrip (PK_RELAY_UDP_GSO_OFF, FALSE, FALSE, &up, &down, &refused);
  g_assert_cmpuint (up + down + refused, ==, 0);
  burst_roundtrip (PK_RELAY_UDP_GSO_OFF, TRUE, FALSE, &up, &down, &refused);
  g_assert_cmpuint (up + down + refused, ==, 0);

  if (!kernel_has_udp_gso ())
    {
      g_test_skip ("the kernel has no UDP_SEGMENT");
      return;
    }

  /* Refused by the kernel (sockets without checksums): the refused
   * batch is sent again datagram by datagram and nothing is lost; each
   * socket tries once (the listening one and three sessions). */
  burst_roundtrip (PK_RELAY_UDP_GSO_REFUSED, TRUE, FALSE, &up, &down, &refused);
  g_assert_cmpuint (up + down, ==, 0);
  g_assert_cmpuint (refused, ==, 1 + BURST_CLIENTS);
}

/* --- UDP coalesced on receive (UDP_GRO) --- */

static void
gro_fill (guint8 *buf,
          gsize   size,
          guint   index)
{
  for (gsize k = 0; k < size; k++)
    buf[k] = (guint8) (index * 31 + k * 7 + k / 256);
}

/* One sendmsg with a UDP_SEGMENT control message: datagrams of @segment
 * bytes, the last one @last bytes, that a receiver with UDP_GRO gets as
 * one message. */
static void
send_segmented (GSocket        *socket,
                GSocketAddress *to,
                guint           count,
                guint16         segment,
                guint16         last)
{
  g_autofree guint8 *data = g_malloc ((gsize) count * segment);
  union {
    char buf[CMSG_SPACE (sizeof (guint16))];
    struct cmsghdr align;
  } ctrl;
  struct sockaddr_storage ss;
  struct iovec iov;
  struct msghdr h = { 0 };
  struct cmsghdr *c;
  gsize len = 0;

  for (guint i = 0; i < count; i++)
    {
      gsize size = i + 1 < count ? segment : last;

      gro_fill (data + len, size, i);
      len += size;
    }
  iov.iov_base = data;
  iov.iov_len = len;
  h.msg_iov = &iov;
  h.msg_iovlen = 1;
  if (to != NULL)
    {
      g_assert_true (g_socket_address_to_native (to, &ss, sizeof ss, NULL));
      h.msg_name = &ss;
      h.msg_namelen = g_socket_address_get_native_size (to);
    }
  h.msg_control = ctrl.buf;
  h.msg_controllen = sizeof ctrl.buf;
  c = CMSG_FIRSTHDR (&h);
  c->cmsg_level = SOL_UDP;
  c->cmsg_type = UDP_SEGMENT;
  c->cmsg_len = CMSG_LEN (sizeof segment);
  memcpy (CMSG_DATA (c), &segment, sizeof segment);
  g_assert_cmpint (sendmsg (g_socket_get_fd (socket), &h, 0), ==, len);
}

typedef struct {
  GSocket *socket;
  guint count;
  guint16 segment;
  guint16 last;
  guint received;
  GSocketAddress *from;
  char *error;
} GroReader;

static gboolean
gro_reader_done (gpointer data)
{
  GroReader *r = data;
  guint8 buf[65536], want[2048];
  gssize n;

  while (r->error == NULL && r->received < r->count)
    {
      GSocketAddress *from = NULL;
      gsize size = r->received + 1 < r->count ? r->segment : r->last;

      n = g_socket_receive_from (r->socket, &from, (char *) buf, sizeof buf, NULL, NULL);
      if (n < 0)
        return FALSE;
      g_clear_object (&r->from);
      r->from = from;
      gro_fill (want, size, r->received);
      if ((gsize) n != size || memcmp (buf, want, n) != 0)
        r->error = g_strdup_printf ("datagram %u: %" G_GSSIZE_FORMAT " bytes, want %" G_GSIZE_FORMAT,
                                    r->received, n, size);
      else
        r->received++;
    }
  return TRUE;
}

static void
gro_roundtrip (PkRelayUdpGso mode)
{
  g_autoptr(PkRelay) relay = pk_relay_new ();
  g_autoptr(PkRelayRule) rule = NULL;
  g_autoptr(GSocketAddress) any = loopback ("127.0.0.1", 0);
  g_autoptr(GSocketAddress) local = NULL;
  g_autoptr(GSocketAddress) relay_addr = NULL;
  g_autoptr(GSocket) upstream = burst_socket (any, NULL);
  g_autoptr(GSocket) client = NULL;
  guint64 in0, out0, in1, out1;
  GroReader up = { .count = 11, .segment = 1200, .last = 500 };
  GroReader down = { .count = 6, .segment = 1000, .last = 1 };

  local = g_socket_get_local_address (upstream, NULL);
  pk_relay_udp_set_gso (mode);
  rule = loopback_rule (PK_RELAY_PROTOCOL_UDP, g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local)), "gro");
  relay_addr = loopback ("127.0.0.1", start_rule (relay, rule));
  pk_relay_udp_set_gso (PK_RELAY_UDP_GSO_ON);
  client = burst_socket (NULL, relay_addr);
  pk_relay_udp_get_gro_stats (&in0, &out0);

  /* Neither the client nor the upstream socket has UDP_GRO: each gets
   * datagram by datagram what the relay sent, which must be what the
   * other side sent, boundaries included. */
  send_segmented (client, NULL, up.count, up.segment, up.last);
  up.socket = upstream;
  pk_test_wait_until (gro_reader_done, &up, 10000);
  g_assert_cmpstr (up.error, ==, NULL);

  send_segmented (upstream, up.from, down.count, down.segment, down.last);
  down.socket = client;
  pk_test_wait_until (gro_reader_done, &down, 10000);
  g_assert_cmpstr (down.error, ==, NULL);

  /* The relay received them coalesced (loopback passes a segmented
   * message whole to a socket with UDP_GRO). */
  pk_relay_udp_get_gro_stats (&in1, &out1);
  g_assert_cmpuint (in1 - in0, ==, up.count);
  g_assert_cmpuint (out1 - out0, ==, down.count);
  g_assert_cmpint (rule_counter (relay, "gro", "datagrams_in"), ==, up.count);
  g_assert_cmpint (rule_counter (relay, "gro", "datagrams_out"), ==, down.count);
  g_assert_cmpint (rule_counter (relay, "gro", "dropped"), ==, 0);
  g_clear_object (&up.from);
  g_clear_object (&down.from);
}

static void
test_udp_gro_coalesced_kept_apart (void)
{
  if (!kernel_has_udp_gso ())
    {
      g_test_skip ("the kernel has no UDP_SEGMENT");
      return;
    }
  /* Forwarded segmented again, and, where the kernel refuses that,
   * datagram by datagram. */
  gro_roundtrip (PK_RELAY_UDP_GSO_ON);
  gro_roundtrip (PK_RELAY_UDP_GSO_REFUSED);
}

int
main (int argc, char **argv)
{
  pk_test_init (&argc, &argv);

  g_test_add_func ("/relay/udp/echo-several-clients", test_udp_echo_several_clients);
  g_test_add_func ("/relay/udp/reply-from-listening-address", test_udp_reply_from_listening_address);
  g_test_add_func ("/relay/udp/session-expiry-and-cap", test_udp_session_expiry_and_cap);
  g_test_add_func ("/relay/udp/budget-leaves-tcp-room", test_udp_budget_leaves_tcp_room);
  g_test_add_func ("/relay/udp/budget-leaves-tcp-room/subprocess", test_udp_budget_leaves_tcp_room_child);
  g_test_add_func ("/relay/udp/tries-every-address", test_udp_tries_every_address);
  g_test_add_func ("/relay/udp/gso/varied-sizes-both-ways", test_udp_gso_varied_sizes);
  g_test_add_func ("/relay/udp/gso/off-and-refused-same-result", test_udp_gso_off_and_refused);
  g_test_add_func ("/relay/udp/gro/coalesced-kept-apart", test_udp_gro_coalesced_kept_apart);

  return g_test_run ();
}
