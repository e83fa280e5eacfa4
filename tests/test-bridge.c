/* test-bridge.c: PkBridge on loopback, both data paths
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <proxykit/proxykit.h>

#include "pk-bridge-private.h"
#include "pk-test-utils.h"

/* A connected pair of TCP sockets on loopback: [0] is the outer end the
 * test talks through, [1] the inner end the bridge gets. */
static void
tcp_pair (GSocket **outer,
          GSocket **inner)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) listener = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                              G_SOCKET_PROTOCOL_TCP, &error);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;

  g_assert_no_error (error);
  g_socket_bind (listener, any, TRUE, &error);
  g_assert_no_error (error);
  g_socket_listen (listener, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (listener, &error);
  g_assert_no_error (error);
  *outer = pk_test_connect_tcp (bound);
  *inner = g_socket_accept (listener, NULL, &error);
  g_assert_no_error (error);
}

typedef struct
{
  GSocket *a_outer, *a_inner, *b_outer, *b_inner;
  PkBridge *bridge;
  GAsyncResult *result;
} Session;

/* The bridges run in a thread of their own, so that the test can use
 * blocking sockets on the outer ends. */
static GMainContext *loop_context;
static GMainLoop *loop;
static GThread *loop_thread;
static PkPipePool *loop_default_pool;

static gpointer
loop_thread_func (gpointer data)
{
  g_main_context_push_thread_default (loop_context);
  loop_default_pool = pk_pipe_pool_get_thread_default ();
  g_main_loop_run (loop);
  g_main_context_pop_thread_default (loop_context);
  return NULL;
}

static void
on_run (GObject      *source,
        GAsyncResult *result,
        gpointer      user_data)
{
  Session *s = user_data;

  g_atomic_pointer_set (&s->result, g_object_ref (result));
}

typedef struct
{
  Session *session;
  GCancellable *cancellable;
} StartData;

static gboolean
start_in_loop (gpointer data)
{
  StartData *sd = data;

  pk_bridge_run_async (sd->session->bridge, sd->cancellable, on_run, sd->session);
  g_clear_object (&sd->cancellable);
  g_free (sd);
  return G_SOURCE_REMOVE;
}

static Session *
session_new (gboolean    use_pool,
             PkPipePool *pool)
{
  Session *s = g_new0 (Session, 1);

  tcp_pair (&s->a_outer, &s->a_inner);
  tcp_pair (&s->b_inner, &s->b_outer);
  s->bridge = pk_bridge_new (s->a_inner, s->b_inner);
  if (!use_pool)
    pk_bridge_set_pipe_pool (s->bridge, pool);
  return s;
}

static void
session_start (Session      *s,
               GCancellable *cancellable)
{
  StartData *sd = g_new0 (StartData, 1);

  sd->session = s;
  sd->cancellable = cancellable != NULL ? g_object_ref (cancellable) : NULL;
  g_main_context_invoke (loop_context, start_in_loop, sd);
}

static gboolean
session_finish (Session  *s,
                GError  **error)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;

  while (g_atomic_pointer_get (&s->result) == NULL)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("bridge did not end within 60 s");
      g_usleep (1000);
    }
  return pk_bridge_run_finish (s->bridge, s->result, error);
}

static void
session_free (Session *s)
{
  g_clear_object (&s->result);
  g_clear_object (&s->bridge);
  g_clear_object (&s->a_outer);
  g_clear_object (&s->a_inner);
  g_clear_object (&s->b_outer);
  g_clear_object (&s->b_inner);
  g_free (s);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Session, session_free)

/* --- a peer thread: sends a seeded stream, then reads to EOF --- */

typedef struct
{
  GSocket *socket;
  guint32 seed;
  gsize n_send;
  char *sent_sum;
  char *received_sum;
  gsize n_received;
  GThread *sender;
  GThread *receiver;
} Peer;

static void
fill_stream (GRand *rand,
             guchar *buf,
             gsize   len)
{
  for (gsize i = 0; i < len; i += 4)
    {
      guint32 v = g_rand_int (rand);
      memcpy (buf + i, &v, MIN ((gsize) 4, len - i));
    }
}

static gpointer
peer_send (gpointer data)
{
  Peer *p = data;
  g_autoptr(GRand) rand = g_rand_new_with_seed (p->seed);
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guchar *buf = g_malloc (65536);
  gsize left = p->n_send;

  while (left > 0)
    {
      /* Odd sizes, so that writes and reads never line up. */
      gsize r = 1 + g_rand_int_range (rand, 0, 65535);
      gsize len = MIN (left, r);

      fill_stream (rand, buf, len);
      g_checksum_update (sum, buf, len);
      pk_test_send_all (p->socket, buf, len);
      left -= len;
    }
  g_socket_shutdown (p->socket, FALSE, TRUE, NULL);
  p->sent_sum = g_strdup (g_checksum_get_string (sum));
  return NULL;
}

static gpointer
peer_receive (gpointer data)
{
  Peer *p = data;
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree char *buf = g_malloc (70000);

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      /* Odd read sizes as well. */
      gssize n = g_socket_receive (p->socket, buf, 1 + (p->n_received % 69999), NULL, &error);

      g_assert_no_error (error);
      if (n == 0)
        break;
      g_checksum_update (sum, (guchar *) buf, n);
      p->n_received += n;
    }
  p->received_sum = g_strdup (g_checksum_get_string (sum));
  return NULL;
}

static void
peer_start (Peer    *p,
            GSocket *socket,
            guint32  seed,
            gsize    n_send)
{
  g_socket_set_blocking (socket, TRUE);
  p->socket = socket;
  p->seed = seed;
  p->n_send = n_send;
  p->sender = g_thread_new ("peer-send", peer_send, p);
  p->receiver = g_thread_new ("peer-recv", peer_receive, p);
}

static void
peer_join (Peer *p)
{
  g_thread_join (p->sender);
  g_thread_join (p->receiver);
}

static void
peer_clear (Peer *p)
{
  g_free (p->sent_sum);
  g_free (p->received_sum);
}

/* Both ends send a different checksummed stream at once and read the
 * other's to EOF; the bridge must deliver both intact and end cleanly. */
static void
transfer_both_ways (Session *s,
                    gsize    a_bytes,
                    gsize    b_bytes)
{
  g_autoptr(GError) error = NULL;
  Peer pa = { 0 }, pb = { 0 };

  session_start (s, NULL);
  peer_start (&pa, s->a_outer, 1, a_bytes);
  peer_start (&pb, s->b_outer, 2, b_bytes);
  g_assert_true (session_finish (s, &error));
  g_assert_no_error (error);
  peer_join (&pa);
  peer_join (&pb);

  g_assert_cmpuint (pb.n_received, ==, a_bytes);
  g_assert_cmpuint (pa.n_received, ==, b_bytes);
  g_assert_cmpstr (pb.received_sum, ==, pa.sent_sum);
  g_assert_cmpstr (pa.received_sum, ==, pb.sent_sum);
  g_assert_cmpuint (pk_bridge_get_bytes_a_to_b (s->bridge), ==, a_bytes);
  g_assert_cmpuint (pk_bridge_get_bytes_b_to_a (s->bridge), ==, b_bytes);
  g_assert_false (pk_bridge_holds_buffers (s->bridge));
  peer_clear (&pa);
  peer_clear (&pb);
}

static void
test_copy_large (void)
{
  g_autoptr(Session) s = session_new (FALSE, NULL);

  transfer_both_ways (s, 24 * 1024 * 1024 + 7, 16 * 1024 * 1024 + 3);
  g_assert_cmpuint (pk_bridge_get_bytes_spliced (s->bridge), ==, 0);
}

static void
test_splice_large (void)
{
  g_autoptr(PkPipePool) pool = pk_pipe_pool_new (4, 64 * 1024);
  g_autoptr(Session) s = session_new (FALSE, pool);

  transfer_both_ways (s, 24 * 1024 * 1024 + 7, 16 * 1024 * 1024 + 3);
  /* Bulk data went through the pipes (the first read of a direction is
   * copied, and so may be a read of a stream that paused). */
  g_assert_cmpuint (pk_bridge_get_bytes_spliced (s->bridge), >, 8 * 1024 * 1024);
  /* Both pipes went back to the pool. */
  g_assert_cmpuint (pk_pipe_pool_get_n_in_use (pool), ==, 0);
}

static void
test_default_pool (void)
{
  g_autoptr(Session) s = session_new (TRUE, NULL);

  transfer_both_ways (s, 4 * 1024 * 1024, 1);
  g_assert_cmpuint (pk_pipe_pool_get_n_in_use (loop_default_pool), ==, 0);
}

static void
test_empty_session (void)
{
  g_autoptr(Session) s = session_new (TRUE, NULL);

  transfer_both_ways (s, 0, 0);
}

/* With one pipe in the pool, the second bulk session copies and both get
 * their bytes intact. */
static void
test_pool_exhausted (void)
{
  g_autoptr(PkPipePool) pool = pk_pipe_pool_new (1, 64 * 1024);
  g_autoptr(Session) s1 = session_new (FALSE, pool);
  g_autoptr(Session) s2 = session_new (FALSE, pool);
  g_autoptr(GError) error = NULL;
  Peer p[4] = { 0 };
  gsize len = 8 * 1024 * 1024 + 1;

  session_start (s1, NULL);
  session_start (s2, NULL);
  peer_start (&p[0], s1->a_outer, 10, len);
  peer_start (&p[1], s1->b_outer, 11, len);
  peer_start (&p[2], s2->a_outer, 12, len);
  peer_start (&p[3], s2->b_outer, 13, len);
  g_assert_true (session_finish (s1, &error));
  g_assert_no_error (error);
  g_assert_true (session_finish (s2, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < 4; i++)
    peer_join (&p[i]);
  for (guint i = 0; i < 4; i += 2)
    {
      g_assert_cmpuint (p[i].n_received, ==, len);
      g_assert_cmpstr (p[i].received_sum, ==, p[i + 1].sent_sum);
      g_assert_cmpstr (p[i + 1].received_sum, ==, p[i].sent_sum);
    }
  for (guint i = 0; i < 4; i++)
    peer_clear (&p[i]);

  g_assert_cmpuint (pk_pipe_pool_get_n_pipes (pool), <=, 1);
  g_assert_cmpuint (pk_pipe_pool_get_n_exhausted (pool), >, 0);
  /* 64 MiB went through four directions, one pipe between them. */
  g_assert_cmpuint (pk_bridge_get_bytes_spliced (s1->bridge) +
                    pk_bridge_get_bytes_spliced (s2->bridge), <, 4 * len);
  g_assert_cmpuint (pk_pipe_pool_get_n_in_use (pool), ==, 0);
}

/* A half-closes: B sees EOF after the data and can still answer. */
static void
half_close (gboolean use_pool)
{
  g_autoptr(Session) s = session_new (use_pool, NULL);
  g_autoptr(GError) error = NULL;
  char buf[16];

  session_start (s, NULL);
  pk_test_send_all (s->a_outer, "request", 7);
  g_socket_shutdown (s->a_outer, FALSE, TRUE, &error);
  g_assert_no_error (error);
  pk_test_recv_exact (s->b_outer, buf, 7, 10000);
  g_assert_cmpmem (buf, 7, "request", 7);
  g_assert_true (pk_test_wait_eof (s->b_outer, 10000));

  /* The other direction still works after the half-close. */
  pk_test_send_all (s->b_outer, "response", 8);
  pk_test_recv_exact (s->a_outer, buf, 8, 10000);
  g_assert_cmpmem (buf, 8, "response", 8);
  g_assert_null (s->result);

  g_socket_shutdown (s->b_outer, FALSE, TRUE, &error);
  g_assert_no_error (error);
  g_assert_true (pk_test_wait_eof (s->a_outer, 10000));
  g_assert_true (session_finish (s, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (pk_bridge_get_bytes_a_to_b (s->bridge), ==, 7);
  g_assert_cmpuint (pk_bridge_get_bytes_b_to_a (s->bridge), ==, 8);
}

static void
test_half_close_copy (void)
{
  half_close (FALSE);
}

static void
test_half_close_splice (void)
{
  half_close (TRUE);
}

static void
test_idle_timeout (void)
{
  g_autoptr(Session) s = session_new (TRUE, NULL);
  g_autoptr(GError) error = NULL;
  char c;

  pk_bridge_set_idle_timeout (s->bridge, 300);
  g_assert_cmpuint (pk_bridge_get_idle_timeout (s->bridge), ==, 300);
  session_start (s, NULL);
  pk_test_send_all (s->a_outer, "x", 1);
  pk_test_recv_exact (s->b_outer, &c, 1, 10000);
  g_assert_false (session_finish (s, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpuint (pk_bridge_get_bytes_a_to_b (s->bridge), ==, 1);
}

static void
test_cancel (void)
{
  g_autoptr(Session) s = session_new (TRUE, NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;

  session_start (s, cancellable);
  g_cancellable_cancel (cancellable);
  g_assert_false (session_finish (s, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/* A reset on one side ends the bridge with an error naming it. */
static void
test_reset (void)
{
  g_autoptr(Session) s = session_new (TRUE, NULL);
  g_autoptr(GError) error = NULL;
  struct linger lg = { 1, 0 };

  session_start (s, NULL);
  g_assert_cmpint (setsockopt (g_socket_get_fd (s->b_outer), SOL_SOCKET, SO_LINGER, &lg, sizeof lg), ==, 0);
  g_socket_close (s->b_outer, &error);
  g_assert_no_error (error);
  g_assert_false (session_finish (s, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_assert_nonnull (strstr (error->message, "side b"));
}

/* After a burst, a quiet session gives its pipes and buffers back. */
static gboolean
holds_nothing (gpointer data)
{
  return !pk_bridge_holds_buffers (data);
}

static void
test_idle_gives_back_pipes (void)
{
  g_autoptr(PkPipePool) pool = pk_pipe_pool_new (4, 0);
  g_autoptr(Session) s = session_new (FALSE, pool);
  g_autoptr(GError) error = NULL;
  g_autofree char *buf = g_malloc0 (1024 * 1024);
  Peer p = { .socket = s->b_outer };

  g_socket_set_blocking (s->b_outer, TRUE);
  session_start (s, NULL);
  p.receiver = g_thread_new ("peer-recv", peer_receive, &p);
  pk_test_send_all (s->a_outer, buf, 1024 * 1024);
  for (guint i = 0; i < 10000 && !holds_nothing (s->bridge); i++)
    g_usleep (1000);
  g_assert_true (holds_nothing (s->bridge));
  g_assert_cmpuint (pk_pipe_pool_get_n_in_use (pool), ==, 0);

  g_socket_shutdown (s->a_outer, FALSE, TRUE, NULL);
  g_socket_shutdown (s->b_outer, FALSE, TRUE, NULL);
  g_assert_true (session_finish (s, &error));
  g_assert_no_error (error);
  g_thread_join (p.receiver);
  g_assert_cmpuint (p.n_received, ==, 1024 * 1024);
  peer_clear (&p);
}

/* Many sessions at once on one thread, each with its own small exchange. */
static void
test_many_sessions (void)
{
  enum { N = 200 };
  Session *s[N];
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < N; i++)
    {
      s[i] = session_new (TRUE, NULL);
      session_start (s[i], NULL);
    }
  for (guint i = 0; i < N; i++)
    {
      guint32 v = i;
      pk_test_send_all (s[i]->a_outer, &v, sizeof v);
      g_socket_shutdown (s[i]->a_outer, FALSE, TRUE, NULL);
    }
  for (guint i = 0; i < N; i++)
    {
      guint32 v;
      pk_test_recv_exact (s[i]->b_outer, &v, sizeof v, 10000);
      g_assert_cmpuint (v, ==, i);
      v = ~i;
      pk_test_send_all (s[i]->b_outer, &v, sizeof v);
      g_socket_shutdown (s[i]->b_outer, FALSE, TRUE, NULL);
    }
  for (guint i = 0; i < N; i++)
    {
      guint32 v;
      pk_test_recv_exact (s[i]->a_outer, &v, sizeof v, 10000);
      g_assert_cmpuint (v, ==, ~i);
      g_assert_true (session_finish (s[i], &error));
      g_assert_no_error (error);
      session_free (s[i]);
    }
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  pk_test_init (&argc, &argv);
  loop_context = g_main_context_new ();
  loop = g_main_loop_new (loop_context, FALSE);
  loop_thread = g_thread_new ("bridges", loop_thread_func, NULL);

  g_test_add_func ("/bridge/copy/large-both-ways", test_copy_large);
  g_test_add_func ("/bridge/splice/large-both-ways", test_splice_large);
  g_test_add_func ("/bridge/splice/thread-default-pool", test_default_pool);
  g_test_add_func ("/bridge/empty-session", test_empty_session);
  g_test_add_func ("/bridge/splice/pool-exhausted-falls-back-to-copy", test_pool_exhausted);
  g_test_add_func ("/bridge/copy/half-close", test_half_close_copy);
  g_test_add_func ("/bridge/splice/half-close", test_half_close_splice);
  g_test_add_func ("/bridge/idle-timeout", test_idle_timeout);
  g_test_add_func ("/bridge/cancel", test_cancel);
  g_test_add_func ("/bridge/reset", test_reset);
  g_test_add_func ("/bridge/splice/idle-gives-back-pipes", test_idle_gives_back_pipes);
  g_test_add_func ("/bridge/many-sessions", test_many_sessions);

  ret = g_test_run ();
  g_main_loop_quit (loop);
  g_thread_join (loop_thread);
  g_main_loop_unref (loop);
  g_main_context_unref (loop_context);
  return ret;
}
