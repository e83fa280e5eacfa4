/* test-relay-tcp.c: TCP relays on loopback: data, half-close, workers, keepalive, refusals, names that move, egress
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

typedef struct {
  PkRelay *relay;
  const char *name;
} RuleRef;

static gboolean
rule_is_idle (gpointer data)
{
  RuleRef *r = data;

  return rule_counter (r->relay, r->name, "active") == 0;
}

/* Until the rule's connections have all ended and counted their bytes. */
static void
wait_idle (PkRelay    *relay,
           const char *name)
{
  RuleRef r = { relay, name };

  pk_test_wait_until (rule_is_idle, &r, 10000);
}

/* --- TCP --- */

static gboolean
no_connections (gpointer data)
{
  return pk_relay_get_n_connections (data) == 0;
}

/* Removing a rule ends its live connections, on the worker threads that
 * hold them: the rule's cancellable is cancelled in the thread that
 * removes it, and each worker's poller brings that to its bridges. */
static void
test_tcp_remove_ends_live (void)
{
  g_autoptr(PkTestEchoServer) echo = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_STREAM);
  g_autoptr(PkWorkers) workers = pk_workers_new (2);
  g_autoptr(PkRelay) relay = pk_relay_new ();
  g_autoptr(PkRelayRule) rule = loopback_rule (PK_RELAY_PROTOCOL_TCP, pk_test_echo_server_get_port (echo), "live");
  g_autoptr(GSocketAddress) addr = NULL;
  g_autoptr(GError) error = NULL;
  GSocket *clients[6];
  guint16 port;

  pk_workers_start (workers, &error);
  g_assert_no_error (error);
  pk_relay_set_workers (relay, workers);
  port = start_rule (relay, rule);
  addr = loopback ("127.0.0.1", port);

  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    {
      char buf[4];

      clients[i] = pk_test_connect_tcp (addr);
      g_socket_set_timeout (clients[i], 10);
      pk_test_send_all (clients[i], "ping", 4);
      g_assert_cmpint (g_socket_receive (clients[i], buf, sizeof buf, NULL, &error), ==, 4);
      g_assert_no_error (error);
    }
  g_assert_cmpuint (pk_relay_get_n_connections (relay), ==, G_N_ELEMENTS (clients));

  g_assert_true (pk_relay_remove_rule (relay, "live"));
  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    {
      char buf[4];
      gssize n = g_socket_receive (clients[i], buf, sizeof buf, NULL, &error);

      /* EOF, or a reset: either way the connection ended, well before
       * the 10 s timeout. */
      g_assert_true (n == 0 || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED));
      g_clear_error (&error);
      g_object_unref (clients[i]);
    }
  pk_test_wait_until (no_connections, relay, 10000);
  pk_relay_stop (relay);
  pk_workers_stop (workers);
}

typedef struct {
  Client client;
  guint16 port;
  gsize size;
  char *sent_sha;
  char *received_sha;
  gsize received;
} Transfer;

static gpointer
writer_thread (gpointer data)
{
  GSocket *socket = data;
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  gsize size = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (socket), "size"));
  g_autofree guint32 *block = g_new (guint32, 16384);
  gsize off = 0;

  while (off < size)
    {
      gsize n = MIN (size - off, 16384 * sizeof (guint32));

      for (guint i = 0; i < 16384; i++)
        block[i] = g_random_int ();
      pk_test_send_all (socket, block, n);
      g_checksum_update (sum, (const guchar *) block, n);
      off += n;
    }
  g_socket_shutdown (socket, FALSE, TRUE, NULL);
  return g_strdup (g_checksum_get_string (sum));
}

static gpointer
transfer_thread (gpointer data)
{
  Transfer *t = data;
  g_autoptr(GSocketAddress) addr = loopback ("127.0.0.1", t->port);
  g_autoptr(GSocket) socket = pk_test_connect_tcp (addr);
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree char *buf = g_malloc (65536);
  GThread *writer;

  g_socket_set_timeout (socket, 30);
  g_object_set_data (G_OBJECT (socket), "size", GSIZE_TO_POINTER (t->size));
  writer = g_thread_new ("writer", writer_thread, socket);
  for (;;)
    {
      gssize n = g_socket_receive (socket, buf, 65536, NULL, NULL);

      if (n <= 0)
        break;
      g_checksum_update (sum, (const guchar *) buf, n);
      t->received += n;
    }
  t->sent_sha = g_thread_join (writer);
  t->received_sha = g_strdup (g_checksum_get_string (sum));
  g_atomic_int_set (&t->client.done, 1);
  return NULL;
}

static void
test_tcp_large_transfer (void)
{
  g_autoptr(PkTestEchoServer) echo = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_STREAM);
  g_autoptr(PkRelay) relay = pk_relay_new ();
  g_autoptr(PkRelayRule) rule = loopback_rule (PK_RELAY_PROTOCOL_TCP, pk_test_echo_server_get_port (echo), "big");
  Transfer t = { .size = 48 * 1024 * 1024 + 12345 };

  t.port = start_rule (relay, rule);
  t.client.thread = g_thread_new ("transfer", transfer_thread, &t);
  client_join (&t.client);

  /* Every byte went both ways, unchanged, and then EOF came back. */
  g_assert_cmpuint (t.received, ==, t.size);
  g_assert_cmpstr (t.sent_sha, ==, t.received_sha);
  wait_idle (relay, "big");
  g_assert_cmpint (rule_counter (relay, "big", "bytes_in"), ==, t.size);
  g_assert_cmpint (rule_counter (relay, "big", "bytes_out"), ==, t.size);
  g_assert_cmpint (rule_counter (relay, "big", "connections"), ==, 1);
  g_free (t.sent_sha);
  g_free (t.received_sha);
}

/* With worker threads, connections run on several threads at once; the
 * counters add up and every stream arrives intact. */
static void
test_tcp_workers (void)
{
  g_autoptr(PkTestEchoServer) echo = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_STREAM);
  g_autoptr(PkWorkers) workers = pk_workers_new (2);
  g_autoptr(PkRelay) relay = pk_relay_new ();
  g_autoptr(PkRelayRule) rule = loopback_rule (PK_RELAY_PROTOCOL_TCP, pk_test_echo_server_get_port (echo), "workers");
  g_autoptr(GError) error = NULL;
  Transfer t[8] = { 0 };
  guint16 port;
  gsize total = 0;

  pk_workers_start (workers, &error);
  g_assert_no_error (error);
  pk_relay_set_workers (relay, workers);
  port = start_rule (relay, rule);
  g_assert_cmpuint (port, !=, 0);

  for (guint i = 0; i < G_N_ELEMENTS (t); i++)
    {
      t[i].port = port;
      t[i].size = 1024 * 1024 + i * 4099;
      total += t[i].size;
      t[i].client.thread = g_thread_new ("transfer", transfer_thread, &t[i]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (t); i++)
    {
      client_join (&t[i].client);
      g_assert_cmpuint (t[i].received, ==, t[i].size);
      g_assert_cmpstr (t[i].sent_sha, ==, t[i].received_sha);
      g_free (t[i].sent_sha);
      g_free (t[i].received_sha);
    }
  wait_idle (relay, "workers");
  g_assert_cmpint (rule_counter (relay, "workers", "connections"), ==, G_N_ELEMENTS (t));
  g_assert_cmpint (rule_counter (relay, "workers", "bytes_in"), ==, total);
  g_assert_cmpint (rule_counter (relay, "workers", "bytes_out"), ==, total);

  /* Removing the rule closes its port on every worker. */
  g_assert_true (pk_relay_remove_rule (relay, "workers"));
  g_assert_true (connect_refused (port));
  pk_relay_stop (relay);
  pk_workers_stop (workers);
}

typedef struct {
  Client client;
  guint16 port;
  gboolean got_reply;
  gboolean got_eof;
} HalfClose;

static gpointer
half_close_thread (gpointer data)
{
  HalfClose *h = data;
  g_autoptr(GSocketAddress) addr = loopback ("127.0.0.1", h->port);
  g_autoptr(GSocket) socket = pk_test_connect_tcp (addr);
  char buf[5];

  pk_test_send_all (socket, "hello", 5);
  /* Our EOF goes through; the way back stays open until the server is
   * done answering. */
  g_socket_shutdown (socket, FALSE, TRUE, NULL);
  pk_test_recv_exact (socket, buf, 5, 10000);
  h->got_reply = memcmp (buf, "hello", 5) == 0;
  h->got_eof = pk_test_wait_eof (socket, 10000);
  g_atomic_int_set (&h->client.done, 1);
  return NULL;
}

static void
test_tcp_half_close (void)
{
  g_autoptr(PkTestEchoServer) echo = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_STREAM);
  g_autoptr(PkRelay) relay = pk_relay_new ();
  g_autoptr(PkRelayRule) rule = loopback_rule (PK_RELAY_PROTOCOL_TCP, pk_test_echo_server_get_port (echo), "half");
  HalfClose h = { 0 };

  h.port = start_rule (relay, rule);
  h.client.thread = g_thread_new ("half-close", half_close_thread, &h);
  client_join (&h.client);
  g_assert_true (h.got_reply);
  g_assert_true (h.got_eof);
}

/* Both ends of a relayed connection as plain blocking sockets: the
 * client's, and the upstream's as the server accepted it. */
typedef struct {
  Client client;
  int listen_fd;
  guint16 port;             /* the relay's */
  gboolean upstream_first;  /* which side sends the first EOF */
  int client_last;          /* what the last recv() on each side said: */
  int upstream_last;        /* 0 for a FIN, -errno otherwise */
  gboolean got_data;
} CleanClose;

static int
blocking_socket (void)
{
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct timeval tv = { .tv_sec = 10 };

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), ==, 0);
  return fd;
}

/* 0 on EOF, -errno on an error, else the byte count. */
static int
recv_result (int   fd,
             char *buf,
             int   len)
{
  ssize_t n = recv (fd, buf, len, MSG_WAITALL);

  return n < 0 ? -errno : (int) n;
}

static gpointer
clean_close_thread (gpointer data)
{
  CleanClose *c = data;
  struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons (c->port),
                            .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  int client = blocking_socket ();
  int upstream;
  struct timeval tv = { .tv_sec = 10 };
  char buf[4];

  g_assert_cmpint (connect (client, (struct sockaddr *) &to, sizeof to), ==, 0);
  upstream = accept (c->listen_fd, NULL, NULL);
  g_assert_cmpint (upstream, >=, 0);
  g_assert_cmpint (setsockopt (upstream, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), ==, 0);

  if (c->upstream_first)
    {
      /* The upstream answers and is done; then the client is. */
      g_assert_cmpint (send (upstream, "bye!", 4, 0), ==, 4);
      shutdown (upstream, SHUT_WR);
      c->got_data = recv_result (client, buf, 4) == 4 && memcmp (buf, "bye!", 4) == 0;
      g_assert_cmpint (recv_result (client, buf, 1), ==, 0);
      shutdown (client, SHUT_WR);
      /* The relay passes this last EOF on by closing its socket. */
      c->upstream_last = recv_result (upstream, buf, 1);
      c->client_last = 0;
    }
  else
    {
      g_assert_cmpint (send (client, "quit", 4, 0), ==, 4);
      shutdown (client, SHUT_WR);
      c->got_data = recv_result (upstream, buf, 4) == 4 && memcmp (buf, "quit", 4) == 0;
      g_assert_cmpint (recv_result (upstream, buf, 1), ==, 0);
      g_assert_cmpint (send (upstream, "ok", 2, 0), ==, 2);
      shutdown (upstream, SHUT_WR);
      c->client_last = recv_result (client, buf, 2) == 2 ? recv_result (client, buf, 1) : -EPROTO;
      c->upstream_last = 0;
    }
  close (client);
  close (upstream);
  g_atomic_int_set (&c->client.done, 1);
  return NULL;
}

/* The relay closes its sockets once both directions have ended, and
 * that close carries the last EOF (no shutdown() of its own): each peer
 * must read a FIN there, never a reset, whichever side ended first. */
static void
clean_close (PkWorkers *workers,
             gboolean   upstream_first)
{
  g_autoptr(PkRelay) relay = pk_relay_new ();
  g_autoptr(PkRelayRule) rule = NULL;
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t len = sizeof addr;
  CleanClose c = { 0 };

  c.listen_fd = blocking_socket ();
  g_assert_cmpint (bind (c.listen_fd, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  g_assert_cmpint (listen (c.listen_fd, 4), ==, 0);
  g_assert_cmpint (getsockname (c.listen_fd, (struct sockaddr *) &addr, &len), ==, 0);

  if (workers != NULL)
    pk_relay_set_workers (relay, workers);
  rule = loopback_rule (PK_RELAY_PROTOCOL_TCP, ntohs (addr.sin_port), "close");
  c.port = start_rule (relay, rule);
  c.upstream_first = upstream_first;
  c.client.thread = g_thread_new ("clean-close", clean_close_thread, &c);
  client_join (&c.client);
  g_assert_true (c.got_data);
  g_assert_cmpint (c.client_last, ==, 0);
  g_assert_cmpint (c.upstream_last, ==, 0);
  wait_idle (relay, "close");
  g_assert_cmpint (rule_counter (relay, "close", "bytes_in"), ==, upstream_first ? 0 : 4);
  g_assert_cmpint (rule_counter (relay, "close", "bytes_out"), ==, upstream_first ? 4 : 2);
  close (c.listen_fd);
}

static void
test_tcp_clean_close (void)
{
  g_autoptr(PkWorkers) workers = pk_workers_new (2);
  g_autoptr(GError) error = NULL;

  clean_close (NULL, TRUE);
  clean_close (NULL, FALSE);
  pk_workers_start (workers, &error);
  g_assert_no_error (error);
  clean_close (workers, TRUE);
  clean_close (workers, FALSE);
  pk_workers_stop (workers);
}

/* The relay's own sockets of a connection, found among this process's
 * file descriptors by their addresses. */
static int
find_socket (guint16 local_port,
             guint16 peer_port)
{
  DIR *dir = opendir ("/proc/self/fd");
  struct dirent *de;
  int found = -1;

  g_assert_nonnull (dir);
  while ((de = readdir (dir)) != NULL && found < 0)
    {
      int fd = atoi (de->d_name);
      struct sockaddr_in local, peer;
      socklen_t len = sizeof local;

      if (de->d_name[0] == '.')
        continue;
      if (getsockname (fd, (struct sockaddr *) &local, &len) < 0 || local.sin_family != AF_INET)
        continue;
      len = sizeof peer;
      if (getpeername (fd, (struct sockaddr *) &peer, &len) < 0)
        continue;
      if ((local_port == 0 || ntohs (local.sin_port) == local_port) &&
          (peer_port == 0 || ntohs (peer.sin_port) == peer_port))
        found = fd;
    }
  closedir (dir);
  return found;
}

static void
assert_keepalive (int fd,
                  int idle,
                  int intvl,
                  int cnt)
{
  int value;
  socklen_t len = sizeof value;

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (getsockopt (fd, SOL_SOCKET, SO_KEEPALIVE, &value, &len), ==, 0);
  g_assert_cmpint (value, ==, 1);
  g_assert_cmpint (getsockopt (fd, IPPROTO_TCP, TCP_KEEPIDLE, &value, &len), ==, 0);
  g_assert_cmpint (value, ==, idle);
  g_assert_cmpint (getsockopt (fd, IPPROTO_TCP, TCP_KEEPINTVL, &value, &len), ==, 0);
  g_assert_cmpint (value, ==, intvl);
  g_assert_cmpint (getsockopt (fd, IPPROTO_TCP, TCP_KEEPCNT, &value, &len), ==, 0);
  g_assert_cmpint (value, ==, cnt);
}

static gboolean
upstream_keepalive_on (gpointer data)
{
  int fd = find_socket (0, GPOINTER_TO_UINT (data));
  int value = 0;
  socklen_t len = sizeof value;

  return fd >= 0 && getsockopt (fd, SOL_SOCKET, SO_KEEPALIVE, &value, &len) == 0 && value == 1;
}

static gboolean
has_active (gpointer data)
{
  return rule_counter (data, "ka", "active") == 1;
}

/* The relay sets keepalive on its listening sockets, which pass it on to
 * the clients they accept; read back on the accepted socket itself. */
static void
keepalive_options (PkWorkers *workers)
{
  g_autoptr(PkTestEchoServer) echo = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_STREAM);
  guint16 echo_port = pk_test_echo_server_get_port (echo);
  g_autoptr(PkRelay) relay = pk_relay_new ();
  g_autoptr(PkRelayRule) rule = loopback_rule (PK_RELAY_PROTOCOL_TCP, echo_port, "ka");
  g_autoptr(GSocketAddress) addr = NULL;
  g_autoptr(GSocketAddress) client_local = NULL;
  g_autoptr(GSocket) client = NULL;
  guint16 port, client_port;
  char buf[2];

  pk_relay_rule_set_keepalive (rule, 77, 13, 5);
  if (workers != NULL)
    pk_relay_set_workers (relay, workers);
  port = start_rule (relay, rule);
  addr = loopback ("127.0.0.1", port);
  client = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, NULL);
  g_socket_set_blocking (client, FALSE);
  g_socket_connect (client, addr, NULL, NULL);
  pk_test_wait_until (has_active, relay, 10000);
  client_local = g_socket_get_local_address (client, NULL);
  client_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (client_local));

  /* Let the upstream connect complete, then check it carries data. */
  g_socket_set_blocking (client, TRUE);
  g_socket_set_timeout (client, 10);
  g_assert_cmpint (g_socket_send (client, "ok", 2, NULL, NULL), ==, 2);
  pk_test_wait_until (socket_readable, client, 10000);
  g_assert_cmpint (g_socket_receive (client, buf, 2, NULL, NULL), ==, 2);

  /* Client side: the relay's accepted socket, from the accept; upstream
   * side: the relay's socket connected to the echo server, once the
   * connection has run for a second. */
  assert_keepalive (find_socket (port, client_port), 77, 13, 5);
  pk_test_wait_until (upstream_keepalive_on, GUINT_TO_POINTER (echo_port), 5000);
  assert_keepalive (find_socket (0, echo_port), 77, 13, 5);

  g_socket_close (client, NULL);
  wait_idle (relay, "ka");
}

static void
test_tcp_keepalive_options (void)
{
  keepalive_options (NULL);
}

/* The same with a SO_REUSEPORT listening socket per worker. */
static void
test_tcp_keepalive_options_workers (void)
{
  g_autoptr(PkWorkers) workers = pk_workers_new (2);
  g_autoptr(GError) error = NULL;

  g_assert_true (pk_workers_start (workers, &error));
  g_assert_no_error (error);
  keepalive_options (workers);
  pk_workers_stop (workers);
}

static gboolean
has_failed (gpointer data)
{
  return rule_counter (data, "refused-up", "failed") == 1;
}

static void
test_tcp_upstream_refused (void)
{
  g_autoptr(PkRelay) relay = pk_relay_new ();
  g_autoptr(PkRelayRule) rule = loopback_rule (PK_RELAY_PROTOCOL_TCP, unused_port (), "refused-up");
  g_autoptr(GSocketAddress) addr = NULL;
  g_autoptr(GSocket) client = NULL;

  addr = loopback ("127.0.0.1", start_rule (relay, rule));
  client = pk_test_connect_tcp (addr);
  pk_test_wait_until (has_failed, relay, 10000);
  /* The client is closed, not left hanging. */
  g_assert_true (pk_test_wait_eof (client, 10000));
}

static void
test_tcp_allowlist (void)
{
  g_autoptr(PkTestEchoServer) echo = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_STREAM);
  g_autoptr(PkRelay) relay = pk_relay_new ();
  g_autoptr(PkRelayRule) rule = loopback_rule (PK_RELAY_PROTOCOL_TCP, pk_test_echo_server_get_port (echo), "allow");
  g_autoptr(GSocketAddress) addr = NULL;
  g_autoptr(GSocket) client = NULL;
  g_autoptr(GError) error = NULL;

  pk_relay_rule_set_allow (rule, "10.0.0.0/8, 192.168.1.5", &error);
  g_assert_no_error (error);
  addr = loopback ("127.0.0.1", start_rule (relay, rule));
  client = pk_test_connect_tcp (addr);
  pk_test_wait_until (counter_set, &(Counter) { relay, "allow", "refused" }, 10000);
  g_assert_true (pk_test_wait_eof (client, 10000));
  g_assert_cmpuint (pk_test_echo_server_get_n_connections (echo), ==, 0);
}

/* --- egress --- */

/* Upstream connections and sockets leave through the rule's egress: the
 * upstream sees its source address. */
static void
test_egress_source_address (void)
{
  g_autoptr(PkTestEchoServer) tcp_echo = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_STREAM);
  g_autoptr(PkTestEchoServer) udp_echo = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_DATAGRAM);
  g_autoptr(PkRelay) relay = pk_relay_new ();
  g_autoptr(PkRelayRule) tcp = loopback_rule (PK_RELAY_PROTOCOL_TCP, pk_test_echo_server_get_port (tcp_echo), "tcp-egress");
  g_autoptr(PkRelayRule) udp = loopback_rule (PK_RELAY_PROTOCOL_UDP, pk_test_echo_server_get_port (udp_echo), "udp-egress");
  g_autoptr(PkEgress) egress = NULL;
  g_autoptr(GSocketAddress) addr = NULL;
  g_autoptr(GSocket) client = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *tcp_peer = NULL;
  g_autofree char *udp_peer = NULL;
  UdpClients u = { .connect_to = "127.0.0.1", .n_clients = 1, .n_datagrams = 2 };

  egress = pk_egress_new_full ("127.0.0.5", NULL, 0, 0, &error);
  g_assert_no_error (error);
  pk_relay_rule_set_egress (tcp, egress);
  pk_relay_rule_set_egress (udp, egress);

  addr = loopback ("127.0.0.1", start_rule (relay, tcp));
  client = pk_test_connect_tcp (addr);
  echo_roundtrip (client, "from the egress");
  tcp_peer = pk_test_echo_server_dup_last_peer (tcp_echo);
  g_assert_cmpstr (tcp_peer, ==, "127.0.0.5");

  u.port = start_rule (relay, udp);
  u.client.thread = g_thread_new ("udp", udp_clients_thread, &u);
  client_join (&u.client);
  g_assert_cmpuint (u.ok, ==, 2);
  udp_peer = pk_test_echo_server_dup_last_peer (udp_echo);
  g_assert_cmpstr (udp_peer, ==, "127.0.0.5");
}

/* --- names that move --- */

/* A listener on a given address and port that echoes one connection,
 * in a thread. */
typedef struct {
  GSocket *listener;
  GThread *thread;
  gint done;
} OneEcho;

static gboolean
one_echo_done (gpointer data)
{
  return g_atomic_int_get (&((OneEcho *) data)->done);
}

static gpointer
one_echo_thread (gpointer data)
{
  OneEcho *e = data;
  g_autoptr(GSocket) conn = g_socket_accept (e->listener, NULL, NULL);
  char buf[256];
  gssize n;

  if (conn != NULL)
    {
      g_socket_set_timeout (conn, 10);
      while ((n = g_socket_receive (conn, buf, sizeof buf, NULL, NULL)) > 0)
        g_socket_send (conn, buf, n, NULL, NULL);
    }
  g_atomic_int_set (&e->done, 1);
  return NULL;
}

static void
test_tcp_host_moves (void)
{
  g_autoptr(GResolver) old_resolver = g_resolver_get_default ();
  TestResolver *resolver = g_object_new (test_resolver_get_type (), NULL);
  g_autoptr(PkTestEchoServer) first = pk_test_echo_server_new ("127.0.0.2", G_SOCKET_TYPE_STREAM);
  guint16 port = pk_test_echo_server_get_port (first);
  g_autoptr(PkRelay) relay = pk_relay_new ();
  g_autoptr(PkRelayRule) rule = pk_relay_rule_new (PK_RELAY_PROTOCOL_TCP, 0, "moving.test", port);
  g_autoptr(GSocketAddress) relay_addr = NULL;
  g_autoptr(GSocketAddress) second_addr = NULL;
  g_autoptr(GError) error = NULL;
  OneEcho second = { 0 };

  g_resolver_set_default (G_RESOLVER (resolver));
  resolver->address = g_strdup ("127.0.0.2");
  pk_relay_rule_set_name (rule, "moving");
  g_assert_true (pk_relay_rule_set_listen_address (rule, "127.0.0.1", NULL));
  relay_addr = loopback ("127.0.0.1", start_rule (relay, rule));

  {
    g_autoptr(GSocket) c = pk_test_connect_tcp (relay_addr);
    echo_roundtrip (c, "to the first address");
  }

  /* The host moves: its old address refuses, the name points elsewhere. */
  pk_test_echo_server_free (g_steal_pointer (&first));
  second.listener = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, NULL);
  second_addr = loopback ("127.0.0.3", port);
  g_socket_bind (second.listener, second_addr, TRUE, &error);
  g_assert_no_error (error);
  g_socket_listen (second.listener, &error);
  g_assert_no_error (error);
  second.thread = g_thread_new ("second", one_echo_thread, &second);
  g_free (resolver->address);
  resolver->address = g_strdup ("127.0.0.3");

  /* The relay still has the old address; the refusal makes it look the
   * name up again, and the client never notices. */
  {
    g_autoptr(GSocket) c = pk_test_connect_tcp (relay_addr);
    echo_roundtrip (c, "to the new address");
  }
  g_assert_cmpint (rule_counter (relay, "moving", "failed"), ==, 0);
  g_assert_cmpint (rule_counter (relay, "moving", "connections"), ==, 2);

  /* The relay ends the upstream side once its loop runs: the client has
   * gone. */
  pk_test_wait_until (one_echo_done, &second, 5000);
  pk_relay_stop (relay);
  g_thread_join (second.thread);
  g_socket_close (second.listener, NULL);
  g_object_unref (second.listener);
  g_resolver_set_default (old_resolver);
  g_object_unref (resolver);
}

/* --- out of descriptors --- */

static guint no_socket_lines;

static GLogWriterOutput
count_no_socket_writer (GLogLevelFlags   level,
                        const GLogField *fields,
                        gsize            n_fields,
                        gpointer         data)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "MESSAGE") && fields[i].length < 0 &&
        strstr (fields[i].value, "Unable to create socket") != NULL)
      {
        g_atomic_int_inc (&no_socket_lines);
        return G_LOG_WRITER_HANDLED;
      }
  return g_log_writer_default (level, fields, n_fields, data);
}

typedef struct {
  PkRelay *relay;
  gint64 failed;
} Failed;

static gboolean
failed_reached (gpointer data)
{
  Failed *f = data;

  return rule_counter (f->relay, "tight", "failed") >= f->failed;
}

#define N_NO_SOCKET_CLIENTS 40

/* Each client is accepted on the last descriptor the process may have, so
 * that its upstream socket cannot be made: every one fails, and the log
 * says so in a line or two, not one line per client. */
static void
test_tcp_no_socket_log_limited_child (void)
{
  g_autoptr(PkTestEchoServer) echo = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_STREAM);
  g_autoptr(PkRelay) relay = pk_relay_new ();
  g_autoptr(PkRelayRule) rule = loopback_rule (PK_RELAY_PROTOCOL_TCP, pk_test_echo_server_get_port (echo), "tight");
  g_autoptr(GSocketAddress) addr = NULL;
  GSocket *clients[N_NO_SOCKET_CLIENTS];
  struct rlimit rl, saved;
  int lowest_free;

  g_log_set_writer_func (count_no_socket_writer, NULL, NULL);
  addr = loopback ("127.0.0.1", start_rule (relay, rule));
  /* One that works first: the poller and the pipes exist from then on. */
  {
    g_autoptr(GSocket) first = pk_test_connect_tcp (addr);
    echo_roundtrip (first, "before the limit");
  }
  wait_idle (relay, "tight");
  /* Clients made now take no descriptor later. */
  for (guint i = 0; i < N_NO_SOCKET_CLIENTS; i++)
    {
      clients[i] = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, NULL);
      g_assert_nonnull (clients[i]);
    }
  lowest_free = dup (0);
  g_assert_cmpint (lowest_free, >=, 0);
  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &rl), ==, 0);
  saved = rl;
  rl.rlim_cur = lowest_free + 1;
  close (lowest_free);
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &rl), ==, 0);

  for (guint i = 0; i < N_NO_SOCKET_CLIENTS; i++)
    {
      Failed f = { relay, i + 1 };

      /* Each stays open until the end: a descriptor it freed would be
       * one the next accept leaves for the upstream socket. */
      g_assert_true (g_socket_connect (clients[i], addr, NULL, NULL));
      pk_test_wait_until (failed_reached, &f, 10000);
    }
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &saved), ==, 0);
  for (guint i = 0; i < N_NO_SOCKET_CLIENTS; i++)
    g_object_unref (clients[i]);
  g_assert_cmpint (rule_counter (relay, "tight", "failed"), ==, N_NO_SOCKET_CLIENTS);
  /* One line per 10 s: the first at least, never one per client. */
  g_assert_cmpuint (g_atomic_int_get (&no_socket_lines), >=, 1);
  g_assert_cmpuint (g_atomic_int_get (&no_socket_lines), <, N_NO_SOCKET_CLIENTS / 4);
}

static void
test_tcp_no_socket_log_limited (void)
{
  g_test_trap_subprocess ("/relay/tcp/no-socket-log-limited/subprocess", 120 * G_USEC_PER_SEC,
                          G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

int
main (int argc, char **argv)
{
  pk_test_init (&argc, &argv);

  g_test_add_func ("/relay/tcp/large-transfer-checksummed", test_tcp_large_transfer);
  g_test_add_func ("/relay/tcp/half-close", test_tcp_half_close);
  g_test_add_func ("/relay/tcp/workers", test_tcp_workers);
  g_test_add_func ("/relay/tcp/clean-close-either-side-first", test_tcp_clean_close);
  g_test_add_func ("/relay/tcp/remove-rule-ends-live-connections", test_tcp_remove_ends_live);
  g_test_add_func ("/relay/tcp/keepalive-set-on-both-sides", test_tcp_keepalive_options);
  g_test_add_func ("/relay/tcp/keepalive-set-on-both-sides-workers", test_tcp_keepalive_options_workers);
  g_test_add_func ("/relay/tcp/upstream-refused-closes-client", test_tcp_upstream_refused);
  g_test_add_func ("/relay/tcp/allowlist-refuses", test_tcp_allowlist);
  g_test_add_func ("/relay/tcp/host-moves-resolved-again", test_tcp_host_moves);
  g_test_add_func ("/relay/tcp/no-socket-log-limited", test_tcp_no_socket_log_limited);
  g_test_add_func ("/relay/tcp/no-socket-log-limited/subprocess", test_tcp_no_socket_log_limited_child);
  g_test_add_func ("/relay/egress/source-address", test_egress_source_address);

  return g_test_run ();
}
