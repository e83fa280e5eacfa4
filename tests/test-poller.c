/* test-poller.c: the per-context epoll poller under the bridge and connects
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>

#include "pk-poller-private.h"

typedef struct {
  guint calls;
  int last_slot;
  GIOCondition last_condition;
  gint64 fired_at;
  PkPollerWatch *destroy_other;   /* destroyed by this watch's callback */
  guint rearm;                    /* set the deadline to now this many times */
} Record;

static void
record_cb (PkPollerWatch *watch,
           int            slot,
           GIOCondition   condition,
           gpointer       user_data)
{
  Record *r = user_data;

  r->calls++;
  r->last_slot = slot;
  r->last_condition = condition;
  r->fired_at = g_get_monotonic_time ();
  if (r->destroy_other != NULL)
    g_clear_pointer (&r->destroy_other, pk_poller_watch_destroy);
  if (slot < 0 && r->rearm > 0)
    {
      r->rearm--;
      pk_poller_watch_set_deadline (watch, pk_poller_watch_get_time (watch));
    }
}

/* Iterates @context without blocking for about @ms. */
static void
spin (GMainContext *context,
      guint         ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < end)
    {
      g_main_context_iteration (context, FALSE);
      g_usleep (1000);
    }
}

static void
pair (int fds[2])
{
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), ==, 0);
}

static void
test_readable (void)
{
  PkPoller *poller = pk_poller_get_thread_default (NULL);
  Record r = { 0 };
  g_autoptr(GError) error = NULL;
  PkPollerWatch *watch;
  int fds[2];
  char c = 'x';

  pair (fds);
  watch = pk_poller_watch_new (poller, record_cb, &r);
  g_assert_true (pk_poller_watch_set_fd (watch, 1, fds[0], G_IO_IN, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (pk_poller_get_n_fds (poller), ==, 1);

  spin (NULL, 20);
  g_assert_cmpuint (r.calls, ==, 0);

  g_assert_cmpint (write (fds[1], &c, 1), ==, 1);
  while (r.calls == 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (r.last_slot, ==, 1);
  g_assert_true (r.last_condition & G_IO_IN);

  /* Level-triggered: unread data keeps it ready. */
  g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (r.calls, >=, 2);

  /* Wanting nothing means no calls, even for the hang-up that comes
   * with the peer closing (epoll would report it regardless). */
  pk_poller_watch_set_events (watch, 1, 0);
  g_assert_cmpuint (pk_poller_get_n_fds (poller), ==, 0);
  close (fds[1]);
  r.calls = 0;
  spin (NULL, 30);
  g_assert_cmpuint (r.calls, ==, 0);

  /* And wanting it again reports what is there, the hang-up included. */
  pk_poller_watch_set_events (watch, 1, G_IO_IN);
  while (r.calls == 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (r.last_condition & (G_IO_IN | G_IO_HUP));

  pk_poller_watch_destroy (watch);
  g_assert_cmpuint (pk_poller_get_n_fds (poller), ==, 0);
  close (fds[0]);
}

static void
test_deadline (void)
{
  PkPoller *poller = pk_poller_get_thread_default (NULL);
  Record early = { 0 }, late = { 0 };
  PkPollerWatch *a = pk_poller_watch_new (poller, record_cb, &late);
  PkPollerWatch *b = pk_poller_watch_new (poller, record_cb, &early);
  gint64 start = g_get_monotonic_time ();

  pk_poller_watch_set_deadline (a, start + 60 * 1000);
  pk_poller_watch_set_deadline (b, start + 20 * 1000);
  /* Moved earlier: the heap must follow. */
  pk_poller_watch_set_deadline (a, start + 40 * 1000);

  while (late.calls == 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (early.calls, ==, 1);
  g_assert_cmpint (early.last_slot, ==, -1);
  g_assert_cmpint (early.fired_at, >=, start + 20 * 1000);
  g_assert_cmpint (late.fired_at, >=, start + 40 * 1000);
  g_assert_cmpint (early.fired_at, <=, late.fired_at);
  /* Fired once, and cleared. */
  g_assert_cmpint (pk_poller_watch_get_deadline (a), ==, -1);
  spin (NULL, 30);
  g_assert_cmpuint (early.calls, ==, 1);
  g_assert_cmpuint (late.calls, ==, 1);

  /* A deadline cleared before it is due never fires. */
  pk_poller_watch_set_deadline (a, g_get_monotonic_time () + 10 * 1000);
  pk_poller_watch_set_deadline (a, -1);
  spin (NULL, 30);
  g_assert_cmpuint (late.calls, ==, 1);

  pk_poller_watch_destroy (a);
  pk_poller_watch_destroy (b);
}

/* A callback that re-arms its deadline for "now" runs again in a later
 * dispatch, and the context keeps serving everything else meanwhile. */
static gboolean
count_idle (gpointer data)
{
  (*(guint *) data)++;
  return G_SOURCE_CONTINUE;
}

static void
test_rearm_now (void)
{
  PkPoller *poller = pk_poller_get_thread_default (NULL);
  Record r = { .rearm = 5 };
  PkPollerWatch *watch = pk_poller_watch_new (poller, record_cb, &r);
  guint idles = 0;
  guint id = g_idle_add_full (G_PRIORITY_DEFAULT, count_idle, &idles, NULL);

  pk_poller_watch_set_deadline (watch, g_get_monotonic_time ());
  while (r.calls < 6)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (r.calls, ==, 6);
  /* Each call came from its own dispatch, between which the idle ran. */
  g_assert_cmpuint (idles, >=, 5);
  g_source_remove (id);
  pk_poller_watch_destroy (watch);
}

static void
test_destroy_in_callback (void)
{
  PkPoller *poller = pk_poller_get_thread_default (NULL);
  Record first = { 0 }, second = { 0 };
  PkPollerWatch *a = pk_poller_watch_new (poller, record_cb, &first);
  PkPollerWatch *b = pk_poller_watch_new (poller, record_cb, &second);
  int p[2], q[2];
  char c = 'x';

  pair (p);
  pair (q);
  g_assert_true (pk_poller_watch_set_fd (a, 0, p[0], G_IO_IN, NULL));
  g_assert_true (pk_poller_watch_set_fd (b, 0, q[0], G_IO_IN, NULL));
  /* Whichever runs first destroys the other: both are ready in the same
   * epoll_wait(), so the other's event is already in hand. */
  first.destroy_other = b;
  second.destroy_other = a;
  g_assert_cmpint (write (p[1], &c, 1), ==, 1);
  g_assert_cmpint (write (q[1], &c, 1), ==, 1);
  while (first.calls + second.calls == 0)
    g_main_context_iteration (NULL, TRUE);
  spin (NULL, 20);
  /* The survivor is still ready (nobody reads); the other never ran. */
  g_assert_true ((first.calls == 0) != (second.calls == 0));
  g_assert_cmpuint (pk_poller_get_n_watches (poller), ==, 1);
  pk_poller_watch_destroy (first.calls ? a : b);
  g_assert_cmpuint (pk_poller_get_n_watches (poller), ==, 0);
  g_assert_cmpuint (pk_poller_get_n_fds (poller), ==, 0);
  for (int i = 0; i < 2; i++)
    {
      close (p[i]);
      close (q[i]);
    }
}

/* A descriptor closed and its number reused: the new watch gets the
 * events, the old one (destroyed) nothing. */
static void
test_fd_reuse (void)
{
  PkPoller *poller = pk_poller_get_thread_default (NULL);
  Record old = { 0 }, fresh = { 0 };
  PkPollerWatch *a = pk_poller_watch_new (poller, record_cb, &old);
  PkPollerWatch *b;
  int p[2], q[2];
  char c = 'x';

  pair (p);
  g_assert_true (pk_poller_watch_set_fd (a, 0, p[0], G_IO_IN, NULL));
  /* Closed first, destroyed after: the descriptor left the set with the
   * close, and the destroy must not mind. */
  close (p[0]);
  pk_poller_watch_destroy (a);
  pair (q);
  g_assert_cmpint (q[0], ==, p[0]);
  b = pk_poller_watch_new (poller, record_cb, &fresh);
  g_assert_true (pk_poller_watch_set_fd (b, 0, q[0], G_IO_IN, NULL));
  g_assert_cmpint (write (q[1], &c, 1), ==, 1);
  while (fresh.calls == 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (old.calls, ==, 0);
  pk_poller_watch_destroy (b);
  close (p[1]);
  close (q[0]);
  close (q[1]);
}

/* One poller per context; a watch outliving its context stays safe to
 * destroy. */
static void
test_per_context (void)
{
  PkPoller *main_poller = pk_poller_get_thread_default (NULL);
  GMainContext *context = g_main_context_new ();
  PkPoller *other;
  PkPollerWatch *orphan;
  Record r = { 0 };
  int p[2];
  char c = 'x';

  g_main_context_push_thread_default (context);
  other = pk_poller_get_thread_default (NULL);
  g_assert_true (other != main_poller);
  g_assert_true (pk_poller_get_thread_default (NULL) == other);

  pair (p);
  orphan = pk_poller_watch_new (other, record_cb, &r);
  g_assert_true (pk_poller_watch_set_fd (orphan, 0, p[0], G_IO_IN, NULL));
  g_assert_cmpint (write (p[1], &c, 1), ==, 1);
  /* The main context does not run the other context's watches. */
  spin (NULL, 20);
  g_assert_cmpuint (r.calls, ==, 0);
  while (r.calls == 0)
    g_main_context_iteration (context, TRUE);

  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);
  pk_poller_watch_destroy (orphan);
  close (p[0]);
  close (p[1]);
}

static gpointer
cancel_in_thread (gpointer data)
{
  g_usleep (10 * 1000);
  g_cancellable_cancel (data);
  return NULL;
}

/* Cancelled from another thread: each watch sharing the cancellable hears
 * of it once, in its own thread, through one handler. */
static void
test_cancel_from_thread (void)
{
  PkPoller *poller = pk_poller_get_thread_default (NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Record a = { 0 }, b = { 0 };
  PkPollerWatch *wa = pk_poller_watch_new (poller, record_cb, &a);
  PkPollerWatch *wb = pk_poller_watch_new (poller, record_cb, &b);
  GThread *thread;

  pk_poller_watch_set_cancellable (wa, cancellable);
  pk_poller_watch_set_cancellable (wb, cancellable);
  g_assert_cmpuint (pk_poller_get_n_cancellables (poller), ==, 1);

  thread = g_thread_new ("canceller", cancel_in_thread, cancellable);
  while (a.calls == 0 || b.calls == 0)
    g_main_context_iteration (NULL, TRUE);
  g_thread_join (thread);
  g_assert_cmpint (a.last_slot, ==, PK_POLLER_CANCELLED);
  g_assert_cmpint (b.last_slot, ==, PK_POLLER_CANCELLED);
  /* Once: the cancellable was dropped, and its handler with it. */
  g_assert_cmpuint (pk_poller_get_n_cancellables (poller), ==, 0);
  spin (NULL, 20);
  g_assert_cmpuint (a.calls, ==, 1);
  g_assert_cmpuint (b.calls, ==, 1);
  pk_poller_watch_destroy (wa);
  pk_poller_watch_destroy (wb);
}

/* Already cancelled: told in the next dispatch, not from inside the call;
 * a watch destroyed by another's cancellation is not told at all. */
static void
test_cancel_already (void)
{
  PkPoller *poller = pk_poller_get_thread_default (NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Record a = { 0 }, b = { 0 };
  PkPollerWatch *wa = pk_poller_watch_new (poller, record_cb, &a);
  PkPollerWatch *wb = pk_poller_watch_new (poller, record_cb, &b);

  g_cancellable_cancel (cancellable);
  a.destroy_other = wb;
  b.destroy_other = wa;
  pk_poller_watch_set_cancellable (wa, cancellable);
  pk_poller_watch_set_cancellable (wb, cancellable);
  g_assert_cmpuint (a.calls + b.calls, ==, 0);
  while (a.calls + b.calls == 0)
    g_main_context_iteration (NULL, TRUE);
  spin (NULL, 20);
  g_assert_cmpuint (a.calls + b.calls, ==, 1);
  g_assert_cmpuint (pk_poller_get_n_cancellables (poller), ==, 0);
  pk_poller_watch_destroy (a.calls ? wa : wb);
  g_assert_cmpuint (pk_poller_get_n_watches (poller), ==, 0);
}

/* A watch that leaves before the cancel hears nothing, and takes the
 * handler with it when it was the last. */
static void
test_cancel_after_leaving (void)
{
  PkPoller *poller = pk_poller_get_thread_default (NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Record r = { 0 };
  PkPollerWatch *watch = pk_poller_watch_new (poller, record_cb, &r);

  pk_poller_watch_set_cancellable (watch, cancellable);
  pk_poller_watch_set_cancellable (watch, NULL);
  g_assert_cmpuint (pk_poller_get_n_cancellables (poller), ==, 0);
  g_cancellable_cancel (cancellable);
  spin (NULL, 20);
  g_assert_cmpuint (r.calls, ==, 0);
  pk_poller_watch_destroy (watch);
}

/* A connect's watch handed to a bridge: the socket stays in the set, its
 * events change, and the new callback hears of it. */
static void
test_hand_over (void)
{
  PkPoller *poller = pk_poller_get_thread_default (NULL);
  Record first = { 0 }, second = { 0 };
  g_autoptr(GError) error = NULL;
  PkPollerWatch *watch;
  int fds[2];
  char c = 'x';

  pair (fds);
  watch = pk_poller_watch_new (poller, record_cb, &first);
  g_assert_true (pk_poller_watch_set_fd (watch, 1, fds[0], G_IO_OUT, &error));
  spin (NULL, 10);
  g_assert_cmpuint (first.calls, >, 0);
  g_assert_cmpint (first.last_slot, ==, 1);
  g_assert_true (first.last_condition & G_IO_OUT);

  first.calls = 0;
  pk_poller_watch_set_func (watch, record_cb, &second);
  g_assert_cmpint (pk_poller_watch_get_fd (watch, 1), ==, fds[0]);
  g_assert_cmpint (pk_poller_watch_get_fd (watch, 0), ==, -1);
  pk_poller_watch_set_events (watch, 1, G_IO_IN);
  g_assert_cmpuint (pk_poller_get_n_fds (poller), ==, 1);
  spin (NULL, 10);
  g_assert_cmpuint (second.calls, ==, 0);   /* nothing to read yet */

  g_assert_cmpint (write (fds[1], &c, 1), ==, 1);
  spin (NULL, 10);
  g_assert_cmpuint (first.calls, ==, 0);
  g_assert_cmpuint (second.calls, >, 0);
  g_assert_true (second.last_condition & G_IO_IN);

  pk_poller_watch_destroy (watch);
  close (fds[0]);
  close (fds[1]);
}

/* destroy_and_close() closes the watch's sockets and takes them out of
 * the set by that close. A copy of one (as a child holds between fork()
 * and exec()) keeps its file, and its place in the set, alive: its events
 * must reach no one, not even the watch that took the same index. */
static void
test_destroy_and_close (void)
{
  PkPoller *poller = pk_poller_get_thread_default (NULL);
  Record gone = { 0 }, next = { 0 };
  g_autoptr(GError) error = NULL;
  PkPollerWatch *watch;
  int fds[2], other[2], copy;
  char c = 'x';

  pair (fds);
  pair (other);
  watch = pk_poller_watch_new (poller, record_cb, &gone);
  g_assert_true (pk_poller_watch_set_fd (watch, 0, fds[0], G_IO_IN, &error));
  copy = dup (fds[0]);
  g_assert_cmpint (copy, >=, 0);
  pk_poller_watch_destroy_and_close (watch);
  g_assert_cmpuint (pk_poller_get_n_fds (poller), ==, 0);
  g_assert_cmpuint (pk_poller_get_n_watches (poller), ==, 0);
  /* Closed: the number is free again. */
  g_assert_cmpint (fcntl (fds[0], F_GETFD), ==, -1);

  watch = pk_poller_watch_new (poller, record_cb, &next);
  g_assert_true (pk_poller_watch_set_fd (watch, 0, other[0], G_IO_IN, &error));

  /* The old file turns readable: its stale event is dropped. */
  g_assert_cmpint (write (fds[1], &c, 1), ==, 1);
  spin (NULL, 20);
  g_assert_cmpuint (gone.calls, ==, 0);
  g_assert_cmpuint (next.calls, ==, 0);

  g_assert_cmpint (write (other[1], &c, 1), ==, 1);
  spin (NULL, 10);
  g_assert_cmpuint (next.calls, >, 0);
  g_assert_cmpint (next.last_slot, ==, 0);

  pk_poller_watch_destroy (watch);
  close (copy);
  close (fds[1]);
  close (other[0]);
  close (other[1]);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/poller/readable-and-no-hangup-spin", test_readable);
  g_test_add_func ("/poller/deadlines-in-order", test_deadline);
  g_test_add_func ("/poller/rearm-now-yields", test_rearm_now);
  g_test_add_func ("/poller/destroy-in-callback", test_destroy_in_callback);
  g_test_add_func ("/poller/fd-number-reused", test_fd_reuse);
  g_test_add_func ("/poller/per-context", test_per_context);
  g_test_add_func ("/poller/hand-over", test_hand_over);
  g_test_add_func ("/poller/destroy-and-close", test_destroy_and_close);
  g_test_add_func ("/poller/cancel/from-another-thread", test_cancel_from_thread);
  g_test_add_func ("/poller/cancel/already-cancelled", test_cancel_already);
  g_test_add_func ("/poller/cancel/after-leaving", test_cancel_after_leaving);

  return g_test_run ();
}
