/* test-workers.c: PkWorkers with bridged sessions on loopback
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <proxykit/proxykit.h>

#include "pk-test-utils.h"
#include "pk-util-private.h"

/* A tiny TCP relay on top of the workers: each accepted client is bridged
 * to the echo server, on the worker that accepted it. */
typedef struct
{
  PkWorkers *workers;
  GSocketAddress *upstream;
  guint idle_timeout_ms;
  gint wrong_thread;      /* callbacks not on their worker's thread */
  gint ended;
  gint ended_timed_out;
  gint ended_ok;
} Relay;

typedef struct
{
  Relay *relay;
  GSocket *client;
  GSocket *upstream;
  int worker;
} RelaySession;

static void
on_bridge_done (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  RelaySession *rs = user_data;
  g_autoptr(GError) error = NULL;

  if (pk_workers_get_current (rs->relay->workers) != rs->worker)
    g_atomic_int_inc (&rs->relay->wrong_thread);
  if (pk_bridge_run_finish (PK_BRIDGE (source), result, &error))
    g_atomic_int_inc (&rs->relay->ended_ok);
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    g_atomic_int_inc (&rs->relay->ended_timed_out);
  g_socket_close (rs->client, NULL);
  g_socket_close (rs->upstream, NULL);
  g_object_unref (rs->client);
  g_object_unref (rs->upstream);
  g_object_unref (source);
  g_atomic_int_inc (&rs->relay->ended);
  g_free (rs);
}

static void
on_accepted (GSocket  *client,
             guint     worker,
             gpointer  user_data)
{
  Relay *relay = user_data;
  RelaySession *rs = g_new0 (RelaySession, 1);
  PkBridge *bridge;

  if (pk_workers_get_current (relay->workers) != (int) worker ||
      g_main_context_get_thread_default () != pk_workers_get_context (relay->workers, worker))
    g_atomic_int_inc (&relay->wrong_thread);

  rs->relay = relay;
  rs->worker = worker;
  rs->client = g_object_ref (client);
  rs->upstream = pk_test_connect_tcp (relay->upstream);
  bridge = pk_bridge_new (rs->client, rs->upstream);
  pk_bridge_set_idle_timeout (bridge, relay->idle_timeout_ms);
  pk_bridge_run_async (bridge, NULL, on_bridge_done, rs);
}

static void
wait_ended (Relay *relay,
            gint   n)
{
  for (guint i = 0; i < 20000 && g_atomic_int_get (&relay->ended) < n; i++)
    g_usleep (1000);
  g_assert_cmpint (g_atomic_int_get (&relay->ended), ==, n);
}

/* Clients spread over both workers; every session runs on the worker that
 * accepted it, end to end, and each gets its own bytes back. */
static void
test_sessions_stay_on_their_worker (void)
{
  g_autoptr(PkTestEchoServer) echo = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_STREAM);
  g_autoptr(PkWorkers) workers = pk_workers_new (2);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;
  Relay relay = { 0 };
  GSocket *clients[32];
  guint id;

  relay.workers = workers;
  relay.upstream = pk_test_echo_server_get_address (echo);
  g_assert_cmpuint (pk_workers_get_n_workers (workers), ==, 2);
  g_assert_true (pk_workers_start (workers, &error));
  g_assert_no_error (error);
  id = pk_workers_listen (workers, any, on_accepted, &relay, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (id, >, 0);
  bound = pk_workers_get_listener_address (workers, id);
  g_assert_cmpuint (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)), >, 0);
  g_assert_cmpint (pk_workers_get_current (workers), ==, -1);

  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    {
      clients[i] = pk_test_connect_tcp (bound);
      pk_test_send_all (clients[i], &i, sizeof i);
    }
  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    {
      guint v;

      pk_test_recv_exact (clients[i], &v, sizeof v, 10000);
      g_assert_cmpuint (v, ==, i);
      g_socket_shutdown (clients[i], FALSE, TRUE, NULL);
      g_assert_true (pk_test_wait_eof (clients[i], 10000));
      g_object_unref (clients[i]);
    }
  wait_ended (&relay, G_N_ELEMENTS (clients));
  g_assert_cmpint (relay.ended_ok, ==, G_N_ELEMENTS (clients));
  g_assert_cmpint (relay.wrong_thread, ==, 0);
  /* SO_REUSEPORT hashes the 4-tuple: with 32 clients, all on one worker
   * would be a 1 in 2^31 event, or a listener that is not shared. */
  g_assert_cmpuint (pk_workers_get_n_accepted (workers, 0), >, 0);
  g_assert_cmpuint (pk_workers_get_n_accepted (workers, 1), >, 0);
  g_assert_cmpuint (pk_workers_get_n_accepted (workers, 0) +
                    pk_workers_get_n_accepted (workers, 1), ==, G_N_ELEMENTS (clients));

  pk_workers_stop (workers);
  g_object_unref (relay.upstream);
}

/* Idle sessions on several workers each end on their own timer. */
static void
test_idle_timeout_on_workers (void)
{
  g_autoptr(PkTestEchoServer) echo = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_STREAM);
  g_autoptr(PkWorkers) workers = pk_workers_new (3);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;
  Relay relay = { 0 };
  GSocket *clients[12];
  guint id;

  relay.workers = workers;
  relay.upstream = pk_test_echo_server_get_address (echo);
  relay.idle_timeout_ms = 300;
  g_assert_true (pk_workers_start (workers, &error));
  id = pk_workers_listen (workers, any, on_accepted, &relay, NULL, &error);
  g_assert_no_error (error);
  bound = pk_workers_get_listener_address (workers, id);

  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    {
      guint v;

      clients[i] = pk_test_connect_tcp (bound);
      pk_test_send_all (clients[i], &i, sizeof i);
      pk_test_recv_exact (clients[i], &v, sizeof v, 10000);
      g_assert_cmpuint (v, ==, i);
    }
  /* Nobody sends any more: each session is closed by the relay. */
  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    {
      g_assert_true (pk_test_wait_eof (clients[i], 20000));
      g_object_unref (clients[i]);
    }
  wait_ended (&relay, G_N_ELEMENTS (clients));
  g_assert_cmpint (relay.ended_timed_out, ==, G_N_ELEMENTS (clients));
  g_assert_cmpint (relay.wrong_thread, ==, 0);
  pk_workers_stop (workers);
  g_object_unref (relay.upstream);
}

static void
count_destroy (gpointer data)
{
  g_atomic_int_inc ((gint *) data);
}

static void
never_called (GSocket  *client,
              guint     worker,
              gpointer  user_data)
{
  g_assert_not_reached ();
}

/* A removed listener refuses connections and frees its user data. */
static void
test_remove_listener (void)
{
  g_autoptr(PkWorkers) workers = pk_workers_new (2);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  gint destroyed = 0;
  guint id;

  g_assert_true (pk_workers_start (workers, &error));
  id = pk_workers_listen (workers, any, never_called, &destroyed, count_destroy, &error);
  g_assert_no_error (error);
  bound = pk_workers_get_listener_address (workers, id);
  pk_workers_remove_listener (workers, id);
  g_assert_cmpint (destroyed, ==, 1);
  g_assert_null (pk_workers_get_listener_address (workers, id));

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_assert_false (g_socket_connect (socket, bound, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
}

/* A port another process (here: another PkWorkers) listens on is an error
 * by default, whatever either side's number of workers; both share it only
 * when both opt in with reuse-port. */
static void
test_port_in_use (void)
{
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);

  for (guint n_first = 1; n_first <= 2; n_first++)
    for (guint n_second = 1; n_second <= 2; n_second++)
      for (guint shared = 0; shared <= 1; shared++)
        {
          g_autoptr(PkWorkers) first = pk_workers_new (n_first);
          g_autoptr(PkWorkers) second = pk_workers_new (n_second);
          g_autoptr(GSocketAddress) bound = NULL;
          g_autoptr(GError) error = NULL;
          gint destroyed = 0;
          guint id, id2;

          pk_workers_set_reuse_port (first, shared);
          pk_workers_set_reuse_port (second, shared);
          g_assert_cmpint (pk_workers_get_reuse_port (second), ==, shared);
          id = pk_workers_listen (first, any, never_called, &destroyed, count_destroy, &error);
          g_assert_no_error (error);
          bound = pk_workers_get_listener_address (first, id);
          id2 = pk_workers_listen (second, bound, never_called, &destroyed, count_destroy, &error);
          if (shared)
            {
              g_assert_no_error (error);
              g_assert_cmpuint (id2, !=, 0);
            }
          else
            {
              g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
              g_assert_cmpuint (id2, ==, 0);
            }
        }
}

/* What the accept callback saw of its client, before anything else
 * touched the socket. */
typedef struct
{
  gint done;
  int nodelay;
  int fd_flags;
  int fl_flags;
  guint16 peer_port;
} AcceptedSeen;

static void
on_accepted_inspect (GSocket  *client,
                     guint     worker,
                     gpointer  user_data)
{
  AcceptedSeen *seen = user_data;
  g_autoptr(GSocketAddress) peer = pk_socket_dup_peer_address (client, NULL);
  int fd = g_socket_get_fd (client);
  socklen_t len = sizeof seen->nodelay;

  if (getsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &seen->nodelay, &len) < 0)
    seen->nodelay = -1;
  seen->fd_flags = fcntl (fd, F_GETFD);
  seen->fl_flags = fcntl (fd, F_GETFL);
  if (G_IS_INET_SOCKET_ADDRESS (peer))
    seen->peer_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (peer));
  g_socket_close (client, NULL);
  g_atomic_int_set (&seen->done, 1);
}

static gboolean
accepted_seen (gpointer data)
{
  return g_atomic_int_get (&((AcceptedSeen *) data)->done);
}

/* An accepted client comes non-blocking, close-on-exec, with TCP_NODELAY
 * (inherited from the listening socket) and with the address of the peer
 * that connected. */
static void
test_accepted_client (void)
{
  g_autoptr(PkWorkers) workers = pk_workers_new (1);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GSocketAddress) local = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) client = NULL;
  AcceptedSeen seen = { 0 };
  guint id;

  g_assert_true (pk_workers_start (workers, &error));
  id = pk_workers_listen (workers, any, on_accepted_inspect, &seen, NULL, &error);
  g_assert_no_error (error);
  bound = pk_workers_get_listener_address (workers, id);
  client = pk_test_connect_tcp (bound);
  local = g_socket_get_local_address (client, &error);
  g_assert_no_error (error);
  pk_test_wait_until (accepted_seen, &seen, 10000);

  g_assert_cmpint (seen.nodelay, ==, 1);
  g_assert_cmpint (seen.fd_flags & FD_CLOEXEC, ==, FD_CLOEXEC);
  g_assert_cmpint (seen.fl_flags & O_NONBLOCK, ==, O_NONBLOCK);
  g_assert_cmpuint (seen.peer_port, ==, g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local)));
  pk_workers_stop (workers);
}

/* A listener added before start is served once the threads run; stop
 * with a listener still there frees it. */
static void
test_listen_before_start (void)
{
  g_autoptr(PkTestEchoServer) echo = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_STREAM);
  g_autoptr(PkWorkers) workers = pk_workers_new (1);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) client = NULL;
  Relay relay = { 0 };
  guint id;
  char buf[3];

  relay.workers = workers;
  relay.upstream = pk_test_echo_server_get_address (echo);
  id = pk_workers_listen (workers, any, on_accepted, &relay, NULL, &error);
  g_assert_no_error (error);
  bound = pk_workers_get_listener_address (workers, id);
  g_assert_true (pk_workers_start (workers, &error));
  client = pk_test_connect_tcp (bound);
  pk_test_send_all (client, "abc", 3);
  pk_test_recv_exact (client, buf, 3, 10000);
  g_assert_cmpmem (buf, 3, "abc", 3);
  g_socket_shutdown (client, FALSE, TRUE, NULL);
  g_assert_true (pk_test_wait_eof (client, 10000));
  wait_ended (&relay, 1);
  pk_workers_stop (workers);
  g_object_unref (relay.upstream);
}

/* A SOCKS5 CONNECT through a PkSocksServer served by workers: raw
 * handshake bytes, then a checksummed echo of a few MiB. */
static void
socks_connect (GSocket *client,
               guint16  port)
{
  guchar greeting[] = { 5, 1, 0 };
  guchar request[] = { 5, 1, 0, 1, 127, 0, 0, 1, port >> 8, port & 0xff };
  guchar reply[10];

  pk_test_send_all (client, greeting, sizeof greeting);
  pk_test_recv_exact (client, reply, 2, 10000);
  g_assert_cmpint (reply[0], ==, 5);
  g_assert_cmpint (reply[1], ==, 0);
  pk_test_send_all (client, request, sizeof request);
  pk_test_recv_exact (client, reply, 10, 10000);
  g_assert_cmpint (reply[1], ==, 0);
}

static gpointer
send_blob (gpointer data)
{
  GSocket *client = data;
  g_autofree guchar *blob = g_malloc (4 * 1024 * 1024);

  for (gsize i = 0; i < 4 * 1024 * 1024; i++)
    blob[i] = (guchar) (i * 2654435761u >> 13);
  pk_test_send_all (client, blob, 4 * 1024 * 1024);
  g_socket_shutdown (client, FALSE, TRUE, NULL);
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, blob, 4 * 1024 * 1024);
}

static void
test_socks_server_on_workers (void)
{
  g_autoptr(PkTestEchoServer) echo = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_STREAM);
  g_autoptr(PkWorkers) workers = pk_workers_new (2);
  g_autoptr(PkSocksServer) server = pk_socks_server_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) proxy = NULL;
  guint16 echo_port = pk_test_echo_server_get_port (echo);
  GSocket *clients[16];

  pk_socks_server_set_workers (server, workers);
  g_assert_true (pk_socks_server_listen (server, "127.0.0.1:0", &error));
  g_assert_no_error (error);
  g_assert_true (pk_workers_start (workers, &error));
  proxy = g_inet_socket_address_new (lo, pk_socks_server_get_port (server));
  g_assert_cmpuint (pk_socks_server_get_port (server), >, 0);

  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    {
      clients[i] = pk_test_connect_tcp (proxy);
      socks_connect (clients[i], echo_port);
    }
  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    {
      GThread *sender;
      g_autofree char *sent = NULL;
      g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
      g_autofree char *buf = g_malloc (65536);
      gsize total = 0;

      g_socket_set_blocking (clients[i], TRUE);
      sender = g_thread_new ("send", send_blob, clients[i]);
      for (;;)
        {
          gssize n = g_socket_receive (clients[i], buf, 65536, NULL, &error);

          g_assert_no_error (error);
          if (n == 0)
            break;
          g_checksum_update (sum, (guchar *) buf, n);
          total += n;
        }
      sent = g_thread_join (sender);
      g_assert_cmpuint (total, ==, 4 * 1024 * 1024);
      g_assert_cmpstr (g_checksum_get_string (sum), ==, sent);
      g_object_unref (clients[i]);
    }
  for (guint i = 0; i < 5000 && pk_socks_server_get_sessions_active (server) > 0; i++)
    g_usleep (1000);
  g_assert_cmpuint (pk_socks_server_get_sessions_active (server), ==, 0);
  g_assert_cmpuint (pk_socks_server_get_bytes_up (server), ==, 16 * 4 * 1024 * 1024);
  g_assert_cmpuint (pk_workers_get_n_accepted (workers, 0) +
                    pk_workers_get_n_accepted (workers, 1), ==, G_N_ELEMENTS (clients));
  g_assert_cmpuint (pk_workers_get_n_accepted (workers, 0), >, 0);
  g_assert_cmpuint (pk_workers_get_n_accepted (workers, 1), >, 0);

  pk_socks_server_close (server);
  pk_workers_stop (workers);
}

static void
test_fd_limit (void)
{
  struct rlimit rl;
  guint64 limit = pk_workers_raise_fd_limit ();

  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &rl), ==, 0);
  g_assert_cmpuint (limit, ==, rl.rlim_cur);
  g_assert_cmpuint (rl.rlim_cur, ==, rl.rlim_max);
}

/* Takes every free descriptor but @keep, under a limit just above what is
 * open (hard too: PkWorkers raises the soft one); returns them for
 * give_back(). In a child process only. */
static GArray *
take_descriptors (guint keep)
{
  GArray *taken = g_array_new (FALSE, FALSE, sizeof (int));
  struct rlimit rl;
  int fd;

  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &rl), ==, 0);
  fd = dup (0);
  g_assert_cmpint (fd, >=, 0);
  close (fd);
  rl.rlim_cur = rl.rlim_max = MIN (rl.rlim_max, (rlim_t) fd + 64);
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &rl), ==, 0);
  while ((fd = open ("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
    g_array_append_val (taken, fd);
  g_assert_cmpint (errno, ==, EMFILE);
  for (guint i = 0; i < keep; i++)
    {
      close (g_array_index (taken, int, taken->len - 1));
      g_array_set_size (taken, taken->len - 1);
    }
  return taken;
}

static void
give_back (GArray *taken)
{
  for (guint i = 0; i < taken->len; i++)
    close (g_array_index (taken, int, i));
  g_array_unref (taken);
}

/* What a worker needs is made when it starts: out of descriptors, the
 * start fails with an error. */
static void
test_start_out_of_descriptors (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(PkWorkers) workers = pk_workers_new (2);
      g_autoptr(GError) error = NULL;
      GArray *taken = take_descriptors (0);

      g_assert_false (pk_workers_start (workers, &error));
      give_back (taken);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES);

      /* With descriptors again, it starts. */
      g_clear_error (&error);
      g_assert_true (pk_workers_start (workers, &error));
      g_assert_no_error (error);
      pk_workers_stop (workers);
      return;
    }
  /* The limit is lowered in a child only. */
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

static void
record_error_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  GError **error = data;
  g_autoptr(GSocket) socket = NULL;

  if (PK_IS_EGRESS (source))
    socket = pk_egress_connect_finish (PK_EGRESS (source), result, error);
  else
    pk_bridge_run_finish (PK_BRIDGE (source), result, error);
  if (*error == NULL)
    *error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "no error");
}

/* A context whose poller does not exist yet (one that no PkWorkers or
 * listener made) and no descriptor to make it with: a connect or a bridge
 * fails with the error, and the process goes on. */
static void
test_run_out_of_descriptors (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(GMainContext) context = g_main_context_new ();
      g_autoptr(PkEgress) egress = pk_egress_new ();
      g_autoptr(GSocket) listener = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                                  G_SOCKET_PROTOCOL_DEFAULT, NULL);
      g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
      g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
      g_autoptr(GSocketAddress) bound = NULL;
      g_autoptr(GSocket) a = NULL;
      g_autoptr(GSocket) b = NULL;
      g_autoptr(PkBridge) bridge = NULL;
      GError *error = NULL;
      GArray *taken;
      int pair[2];

      g_main_context_push_thread_default (context);
      g_assert_true (g_socket_bind (listener, any, TRUE, NULL));
      g_assert_true (g_socket_listen (listener, NULL));
      bound = g_socket_get_local_address (listener, NULL);
      g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair), ==, 0);
      a = g_socket_new_from_fd (pair[0], NULL);
      b = g_socket_new_from_fd (pair[1], NULL);
      bridge = pk_bridge_new (a, b);

      /* One left: the connect's socket takes it, the poller finds none. */
      taken = take_descriptors (1);
      pk_egress_connect_async (egress, bound, 1000, NULL, record_error_cb, &error);
      while (error == NULL)
        g_main_context_iteration (context, TRUE);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES);
      g_clear_error (&error);

      pk_bridge_run_async (bridge, NULL, record_error_cb, &error);
      while (error == NULL)
        g_main_context_iteration (context, TRUE);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES);
      g_clear_error (&error);
      give_back (taken);

      g_main_context_pop_thread_default (context);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

int
main (int   argc,
      char *argv[])
{
  pk_test_init (&argc, &argv);

  g_test_add_func ("/workers/sessions-stay-on-their-worker", test_sessions_stay_on_their_worker);
  g_test_add_func ("/workers/idle-timeout-on-several-workers", test_idle_timeout_on_workers);
  g_test_add_func ("/workers/remove-listener", test_remove_listener);
  g_test_add_func ("/workers/port-in-use", test_port_in_use);
  g_test_add_func ("/workers/accepted-client", test_accepted_client);
  g_test_add_func ("/workers/listen-before-start", test_listen_before_start);
  g_test_add_func ("/workers/raise-fd-limit", test_fd_limit);
  g_test_add_func ("/workers/socks-server", test_socks_server_on_workers);
  g_test_add_func ("/workers/out-of-descriptors/start", test_start_out_of_descriptors);
  g_test_add_func ("/workers/out-of-descriptors/connect-and-bridge", test_run_out_of_descriptors);

  return g_test_run ();
}
