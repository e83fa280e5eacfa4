/* test-relay.c: PkRelay on loopback: TCP and UDP relays, health check, reload
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

#include <json-glib/json-glib.h>
#include <proxykit/proxykit.h>

#include "pk-relay-private.h"
#include "pk-test-utils.h"

/* --- helpers --- */

static JsonObject *
rule_status (PkRelay    *relay,
             const char *name)
{
  g_autofree char *json = pk_relay_dup_status_json (relay);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonArray *rules;

  json_parser_load_from_data (parser, json, -1, &error);
  g_assert_no_error (error);
  rules = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)), "rules");
  for (guint i = 0; i < json_array_get_length (rules); i++)
    {
      JsonObject *o = json_array_get_object_element (rules, i);

      if (g_str_equal (json_object_get_string_member (o, "name"), name))
        return json_object_ref (o);
    }
  return NULL;
}

static gint64
rule_counter (PkRelay    *relay,
              const char *name,
              const char *member)
{
  g_autoptr(JsonObject) o = rule_status (relay, name);

  g_assert_nonnull (o);
  return json_object_get_int_member (o, member);
}

/* For pk_test_wait_until(): a rule's counter is above 0. */
typedef struct {
  PkRelay *relay;
  const char *rule;
  const char *member;
} Counter;

static gboolean
counter_set (gpointer data)
{
  Counter *c = data;

  return rule_counter (c->relay, c->rule, c->member) > 0;
}

static gboolean
socket_readable (gpointer data)
{
  return g_socket_condition_check (data, G_IO_IN) != 0;
}

static char *
rule_health (PkRelay    *relay,
             const char *name)
{
  g_autoptr(JsonObject) o = rule_status (relay, name);

  g_assert_nonnull (o);
  return g_strdup (json_object_get_string_member (o, "health"));
}

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

static GSocketAddress *
loopback (const char *ip,
          guint16     port)
{
  g_autoptr(GInetAddress) a = g_inet_address_new_from_string (ip);

  return g_inet_socket_address_new (a, port);
}

/* A rule on 127.0.0.1 port 0 (the system picks) to 127.0.0.1:out_port. */
static PkRelayRule *
loopback_rule (PkRelayProtocol protocol,
               guint16         out_port,
               const char     *name)
{
  PkRelayRule *rule = pk_relay_rule_new (protocol, 0, "127.0.0.1", out_port);

  pk_relay_rule_set_name (rule, name);
  g_assert_true (pk_relay_rule_set_listen_address (rule, "127.0.0.1", NULL));
  return rule;
}

static guint16
start_rule (PkRelay     *relay,
            PkRelayRule *rule)
{
  g_autoptr(GError) error = NULL;

  pk_relay_add_rule (relay, rule, &error);
  g_assert_no_error (error);
  return pk_relay_get_local_port (relay, pk_relay_rule_get_name (rule));
}

/* The relay runs in this thread's main context; blocking clients run in
 * threads while it iterates. */
typedef struct {
  GThread *thread;
  gint done;
} Client;

static gboolean
client_done (gpointer data)
{
  return g_atomic_int_get (&((Client *) data)->done);
}

static void
client_join (Client *client)
{
  pk_test_wait_until (client_done, client, 60000);
  g_thread_join (client->thread);
}

static gboolean
iterate_for (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < end)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  return TRUE;
}

static gboolean connect_refused (guint16 port);
static void echo_roundtrip (GSocket *client, const char *msg);

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

static guint16
unused_port (void)
{
  g_autoptr(GSocket) s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, NULL);
  g_autoptr(GSocketAddress) any = loopback ("127.0.0.1", 0);
  g_autoptr(GSocketAddress) bound = NULL;

  g_socket_bind (s, any, TRUE, NULL);
  bound = g_socket_get_local_address (s, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
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

typedef struct {
  PkRelay *relay;
  const char *name;
  const char *want;
} HealthWait;

static gboolean
health_is (gpointer data)
{
  HealthWait *w = data;
  g_autofree char *health = rule_health (w->relay, w->name);

  return g_str_equal (health, w->want);
}

static GSocket *
listen_on (guint16 port)
{
  g_autoptr(GSocketAddress) addr = loopback ("127.0.0.1", port);
  g_autoptr(GError) error = NULL;
  GSocket *s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, NULL);

  g_socket_bind (s, addr, TRUE, &error);
  g_assert_no_error (error);
  g_socket_listen (s, &error);
  g_assert_no_error (error);
  return s;
}

static void
test_health_down_then_up (void)
{
  guint16 up_port = unused_port ();
  g_autoptr(PkRelay) relay = pk_relay_new ();
  g_autoptr(PkRelayRule) rule = loopback_rule (PK_RELAY_PROTOCOL_TCP, up_port, "hc");
  g_autoptr(GSocket) upstream = NULL;
  g_autoptr(GSocket) client = NULL;
  g_autoptr(GSocketAddress) addr = NULL;
  g_autoptr(JsonObject) status = NULL;
  HealthWait w = { relay, "hc", "down" };

  pk_relay_rule_set_health_check (rule, TRUE, 500, 2, 200);
  addr = loopback ("127.0.0.1", start_rule (relay, rule));

  pk_test_wait_until (health_is, &w, 10000);
  status = rule_status (relay, "hc");
  g_assert_nonnull (strstr (json_object_get_string_member (status, "health_reason"), "refused"));
  /* Down, but still listening: a client is accepted, and closed since
   * the upstream refuses. */
  client = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, NULL);
  g_socket_set_blocking (client, FALSE);
  g_socket_connect (client, addr, NULL, NULL);
  pk_test_wait_until (counter_set, &(Counter) { relay, "hc", "failed" }, 10000);
  g_assert_true (pk_test_wait_eof (client, 10000));

  upstream = listen_on (up_port);
  w.want = "up";
  pk_test_wait_until (health_is, &w, 10000);
  g_socket_close (upstream, NULL);
}

/* --- UDP --- */

typedef struct {
  Client client;
  guint16 port;
  const char *connect_to;
  guint n_clients;
  guint n_datagrams;
  guint timeout_s;
  guint ok;
} UdpClients;

static gpointer
udp_clients_thread (gpointer data)
{
  UdpClients *u = data;
  g_autoptr(GSocketAddress) addr = loopback (u->connect_to, u->port);
  GSocket *sockets[16];

  g_assert_cmpuint (u->n_clients, <=, G_N_ELEMENTS (sockets));
  for (guint c = 0; c < u->n_clients; c++)
    {
      g_autoptr(GError) error = NULL;

      sockets[c] = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_DEFAULT, NULL);
      /* Connected: replies from any other address are not delivered. */
      g_socket_connect (sockets[c], addr, NULL, &error);
      g_assert_no_error (error);
      g_socket_set_timeout (sockets[c], u->timeout_s ? u->timeout_s : 5);
    }

  /* All clients send, interleaved, then all read their own answers. */
  for (guint i = 0; i < u->n_datagrams; i++)
    for (guint c = 0; c < u->n_clients; c++)
      {
        g_autofree char *msg = g_strdup_printf ("client %u datagram %u", c, i);
        g_socket_send (sockets[c], msg, strlen (msg), NULL, NULL);
      }
  for (guint c = 0; c < u->n_clients; c++)
    {
      for (guint i = 0; i < u->n_datagrams; i++)
        {
          char buf[128];
          gssize n = g_socket_receive (sockets[c], buf, sizeof buf - 1, NULL, NULL);
          g_autofree char *want = g_strdup_printf ("client %u datagram %u", c, i);

          if (n <= 0)
            break;
          buf[n] = '\0';
          if (g_str_equal (buf, want))
            u->ok++;
        }
      g_object_unref (sockets[c]);
    }
  g_atomic_int_set (&u->client.done, 1);
  return NULL;
}

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

/* DNS for the names of this test only: no lookup leaves the process.
 * The answer for "moving.test" is whatever the test last set. */
typedef struct {
  GResolver parent_instance;
  char *address;
} TestResolver;

typedef struct {
  GResolverClass parent_class;
} TestResolverClass;

static GType test_resolver_get_type (void);
G_DEFINE_TYPE (TestResolver, test_resolver, G_TYPE_RESOLVER)

static GList *
test_resolver_answer (TestResolver  *self,
                      const char    *name,
                      GError       **error)
{
  g_auto(GStrv) addresses = NULL;
  GList *list = NULL;

  if (!g_str_equal (name, "moving.test") || self->address == NULL)
    {
      g_set_error (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND, "no such name '%s'", name);
      return NULL;
    }
  /* "A,B": several addresses, in that order. */
  addresses = g_strsplit (self->address, ",", -1);
  for (guint i = 0; addresses[i] != NULL; i++)
    list = g_list_append (list, g_inet_address_new_from_string (addresses[i]));
  return list;
}

static void
test_resolver_lookup_async (GResolver                *resolver,
                            const char               *name,
                            GResolverNameLookupFlags  flags,
                            GCancellable             *cancellable,
                            GAsyncReadyCallback       callback,
                            gpointer                  user_data)
{
  g_autoptr(GTask) task = g_task_new (resolver, cancellable, callback, user_data);
  GError *error = NULL;
  GList *answer = test_resolver_answer ((TestResolver *) resolver, name, &error);

  if (answer == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, answer, (GDestroyNotify) g_resolver_free_addresses);
}

static void
test_resolver_lookup_plain_async (GResolver           *resolver,
                                  const char          *name,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  test_resolver_lookup_async (resolver, name, 0, cancellable, callback, user_data);
}

static GList *
test_resolver_lookup_finish (GResolver     *resolver,
                             GAsyncResult  *result,
                             GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static GList *
test_resolver_lookup (GResolver     *resolver,
                      const char    *name,
                      GCancellable  *cancellable,
                      GError       **error)
{
  return test_resolver_answer ((TestResolver *) resolver, name, error);
}

static void
test_resolver_finalize (GObject *object)
{
  g_free (((TestResolver *) object)->address);
  G_OBJECT_CLASS (test_resolver_parent_class)->finalize (object);
}

static void
test_resolver_class_init (TestResolverClass *klass)
{
  GResolverClass *resolver_class = G_RESOLVER_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = test_resolver_finalize;
  resolver_class->lookup_by_name = test_resolver_lookup;
  resolver_class->lookup_by_name_async = test_resolver_lookup_plain_async;
  resolver_class->lookup_by_name_finish = test_resolver_lookup_finish;
  resolver_class->lookup_by_name_with_flags_async = test_resolver_lookup_async;
  resolver_class->lookup_by_name_with_flags_finish = test_resolver_lookup_finish;
}

static void
test_resolver_init (TestResolver *self)
{
}

/* A listener on a given address and port that echoes one connection,
 * in a thread. */
typedef struct {
  GSocket *listener;
  GThread *thread;
} OneEcho;

static gpointer
one_echo_thread (gpointer data)
{
  OneEcho *e = data;
  g_autoptr(GSocket) conn = g_socket_accept (e->listener, NULL, NULL);
  char buf[256];
  gssize n;

  if (conn == NULL)
    return NULL;
  g_socket_set_timeout (conn, 10);
  while ((n = g_socket_receive (conn, buf, sizeof buf, NULL, NULL)) > 0)
    g_socket_send (conn, buf, n, NULL, NULL);
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

  pk_relay_stop (relay);
  g_thread_join (second.thread);
  g_socket_close (second.listener, NULL);
  g_object_unref (second.listener);
  g_resolver_set_default (old_resolver);
  g_object_unref (resolver);
}

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

/* --- reload --- */

static gboolean
connect_refused (guint16 port)
{
  g_autoptr(GSocketAddress) addr = loopback ("127.0.0.1", port);
  g_autoptr(GSocket) s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, NULL);
  g_autoptr(GError) error = NULL;

  g_socket_connect (s, addr, NULL, &error);
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
}

static void
echo_roundtrip (GSocket    *client,
                const char *msg)
{
  gsize len = strlen (msg);
  g_autofree char *buf = g_malloc (len);

  pk_test_send_all (client, msg, len);
  pk_test_wait_until (socket_readable, client, 10000);
  pk_test_recv_exact (client, buf, len, 10000);
  g_assert_cmpmem (buf, len, msg, len);
}

static PkRelayRule *
spec_rule (guint16     out_port,
           const char *name)
{
  g_autofree char *spec = g_strdup_printf ("127.0.0.1:%u;%u;127.0.0.1;TCP", unused_port (), out_port);
  PkRelayRule *rule = pk_relay_rule_new_from_string (spec, NULL);

  pk_relay_rule_set_name (rule, name);
  return rule;
}

static void
test_set_rules_add_remove_keep (void)
{
  g_autoptr(PkTestEchoServer) echo = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_STREAM);
  guint16 echo_port = pk_test_echo_server_get_port (echo);
  g_autoptr(PkRelay) relay = pk_relay_new ();
  g_autoptr(GPtrArray) first = g_ptr_array_new_with_free_func ((GDestroyNotify) pk_relay_rule_unref);
  g_autoptr(GPtrArray) second = g_ptr_array_new_with_free_func ((GDestroyNotify) pk_relay_rule_unref);
  g_autoptr(GPtrArray) bad = g_ptr_array_new_with_free_func ((GDestroyNotify) pk_relay_rule_unref);
  g_autoptr(GSocketAddress) keep_addr = NULL;
  g_autoptr(GSocket) live = NULL;
  g_autoptr(GError) error = NULL;
  guint16 keep_port, gone_port, new_port;

  g_ptr_array_add (first, spec_rule (echo_port, "keep"));
  g_ptr_array_add (first, spec_rule (echo_port, "gone"));
  pk_relay_set_rules (relay, first, &error);
  g_assert_no_error (error);
  keep_port = pk_relay_get_local_port (relay, "keep");
  gone_port = pk_relay_get_local_port (relay, "gone");

  keep_addr = loopback ("127.0.0.1", keep_port);
  live = pk_test_connect_tcp (keep_addr);
  echo_roundtrip (live, "before reload");

  /* An equal copy of "keep", "gone" dropped, "new" added. */
  g_ptr_array_add (second, pk_relay_rule_copy (g_ptr_array_index (first, 0)));
  g_ptr_array_add (second, spec_rule (echo_port, "new"));
  pk_relay_set_rules (relay, second, &error);
  g_assert_no_error (error);
  new_port = pk_relay_get_local_port (relay, "new");
  g_assert_cmpuint (new_port, !=, 0);
  g_assert_cmpuint (pk_relay_get_local_port (relay, "gone"), ==, 0);

  /* The live connection of the kept rule goes on. */
  echo_roundtrip (live, "after reload");
  g_assert_cmpint (rule_counter (relay, "keep", "connections"), ==, 1);
  g_assert_true (connect_refused (gone_port));
  g_assert_false (connect_refused (new_port));

  /* A bad set (a duplicate port) changes nothing. */
  g_ptr_array_add (bad, pk_relay_rule_copy (g_ptr_array_index (second, 0)));
  g_ptr_array_add (bad, pk_relay_rule_copy (g_ptr_array_index (second, 0)));
  pk_relay_rule_set_name (g_ptr_array_index (bad, 1), "dup");
  g_assert_false (pk_relay_set_rules (relay, bad, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  g_assert_cmpuint (pk_relay_get_local_port (relay, "new"), ==, new_port);
  echo_roundtrip (live, "after a refused reload");
  iterate_for (10);
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
  g_test_add_func ("/relay/egress/source-address", test_egress_source_address);
  g_test_add_func ("/relay/health/down-then-up", test_health_down_then_up);
  g_test_add_func ("/relay/udp/echo-several-clients", test_udp_echo_several_clients);
  g_test_add_func ("/relay/udp/reply-from-listening-address", test_udp_reply_from_listening_address);
  g_test_add_func ("/relay/udp/session-expiry-and-cap", test_udp_session_expiry_and_cap);
  g_test_add_func ("/relay/udp/budget-leaves-tcp-room", test_udp_budget_leaves_tcp_room);
  g_test_add_func ("/relay/udp/budget-leaves-tcp-room/subprocess", test_udp_budget_leaves_tcp_room_child);
  g_test_add_func ("/relay/udp/tries-every-address", test_udp_tries_every_address);
  g_test_add_func ("/relay/udp/gso/varied-sizes-both-ways", test_udp_gso_varied_sizes);
  g_test_add_func ("/relay/udp/gso/off-and-refused-same-result", test_udp_gso_off_and_refused);
  g_test_add_func ("/relay/udp/gro/coalesced-kept-apart", test_udp_gro_coalesced_kept_apart);
  g_test_add_func ("/relay/set-rules/add-remove-keep", test_set_rules_add_remove_keep);

  return g_test_run ();
}
