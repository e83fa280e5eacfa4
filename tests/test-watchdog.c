/* test-watchdog.c: PkHysteresis (no timers) and PkWatchdog (scaled-down timers)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <proxykit/proxykit.h>

#include "pk-test-utils.h"

/* --- the pure core --- */

static void
test_hysteresis_fall (void)
{
  g_autoptr(PkHysteresis) h = pk_hysteresis_new (3, 2);

  g_assert_cmpint (pk_hysteresis_get_health (h), ==, PK_HEALTH_UNKNOWN);
  g_assert_cmpint (pk_hysteresis_feed (h, TRUE, 10), ==, PK_HYSTERESIS_EVENT_NONE);
  g_assert_cmpint (pk_hysteresis_get_health (h), ==, PK_HEALTH_UP);
  g_assert_cmpint (pk_hysteresis_get_last_change (h), ==, 10);

  g_assert_cmpint (pk_hysteresis_feed (h, FALSE, 20), ==, PK_HYSTERESIS_EVENT_NONE);
  g_assert_cmpint (pk_hysteresis_get_health (h), ==, PK_HEALTH_FAILING);
  g_assert_true (pk_hysteresis_is_confirming (h));
  g_assert_cmpint (pk_hysteresis_feed (h, FALSE, 30), ==, PK_HYSTERESIS_EVENT_NONE);
  g_assert_cmpint (pk_hysteresis_get_last_change (h), ==, 20);
  g_assert_cmpint (pk_hysteresis_feed (h, FALSE, 40), ==, PK_HYSTERESIS_EVENT_FAILED);
  g_assert_cmpint (pk_hysteresis_get_health (h), ==, PK_HEALTH_DOWN);
  g_assert_false (pk_hysteresis_is_confirming (h));
  g_assert_cmpuint (pk_hysteresis_get_consecutive_failures (h), ==, 3);
  g_assert_cmpuint (pk_hysteresis_get_total_failures (h), ==, 1);
  g_assert_cmpint (pk_hysteresis_get_last_change (h), ==, 40);

  /* staying down confirms nothing more */
  for (int i = 0; i < 10; i++)
    g_assert_cmpint (pk_hysteresis_feed (h, FALSE, 50 + i), ==, PK_HYSTERESIS_EVENT_NONE);
  g_assert_cmpuint (pk_hysteresis_get_total_failures (h), ==, 1);
  g_assert_cmpuint (pk_hysteresis_get_consecutive_failures (h), ==, 13);
  g_assert_cmpuint (pk_hysteresis_get_n_checks (h), ==, 14);
}

static void
test_hysteresis_flapping_never_fails (void)
{
  g_autoptr(PkHysteresis) h = pk_hysteresis_new (3, 2);

  for (int i = 0; i < 100; i++)
    {
      /* two failures, one pass: always one short of the fall count */
      gboolean ok = i % 3 == 2;
      g_assert_cmpint (pk_hysteresis_feed (h, ok, i), ==, PK_HYSTERESIS_EVENT_NONE);
    }
  g_assert_cmpuint (pk_hysteresis_get_total_failures (h), ==, 0);
  g_assert_cmpint (pk_hysteresis_get_health (h), !=, PK_HEALTH_DOWN);
}

static void
test_hysteresis_rise (void)
{
  g_autoptr(PkHysteresis) h = pk_hysteresis_new (1, 3);

  g_assert_cmpint (pk_hysteresis_feed (h, FALSE, 1), ==, PK_HYSTERESIS_EVENT_FAILED);
  g_assert_cmpint (pk_hysteresis_feed (h, TRUE, 2), ==, PK_HYSTERESIS_EVENT_NONE);
  g_assert_cmpint (pk_hysteresis_get_health (h), ==, PK_HEALTH_RECOVERING);
  g_assert_cmpint (pk_hysteresis_feed (h, TRUE, 3), ==, PK_HYSTERESIS_EVENT_NONE);
  /* a failure while recovering starts the count over */
  g_assert_cmpint (pk_hysteresis_feed (h, FALSE, 4), ==, PK_HYSTERESIS_EVENT_NONE);
  g_assert_cmpint (pk_hysteresis_get_health (h), ==, PK_HEALTH_DOWN);
  g_assert_cmpuint (pk_hysteresis_get_total_failures (h), ==, 1);
  g_assert_cmpint (pk_hysteresis_feed (h, TRUE, 5), ==, PK_HYSTERESIS_EVENT_NONE);
  g_assert_cmpint (pk_hysteresis_feed (h, TRUE, 6), ==, PK_HYSTERESIS_EVENT_NONE);
  g_assert_cmpint (pk_hysteresis_feed (h, TRUE, 7), ==, PK_HYSTERESIS_EVENT_RECOVERED);
  g_assert_cmpint (pk_hysteresis_get_health (h), ==, PK_HEALTH_UP);
  g_assert_cmpuint (pk_hysteresis_get_total_recoveries (h), ==, 1);
  g_assert_cmpint (pk_hysteresis_get_last_change (h), ==, 7);
}

static void
test_hysteresis_reset_keeps_totals (void)
{
  g_autoptr(PkHysteresis) h = pk_hysteresis_new (1, 1);

  pk_hysteresis_set_total_failures (h, 5);
  g_assert_cmpint (pk_hysteresis_feed (h, FALSE, 1), ==, PK_HYSTERESIS_EVENT_FAILED);
  g_assert_cmpuint (pk_hysteresis_get_total_failures (h), ==, 6);
  pk_hysteresis_reset (h, PK_HEALTH_UP, 2);
  g_assert_cmpint (pk_hysteresis_get_health (h), ==, PK_HEALTH_UP);
  g_assert_cmpuint (pk_hysteresis_get_consecutive_failures (h), ==, 0);
  g_assert_cmpuint (pk_hysteresis_get_total_failures (h), ==, 6);
}

/* --- the watchdog, fed directly --- */

typedef struct {
  guint checked;
  guint failed;
  guint recovered;
  GString *transitions;
  char *failed_reason;
} Events;

static void
on_checked (PkWatchdog *wd, gboolean ok, const char *reason, Events *ev)
{
  ev->checked++;
}

static void
on_state_changed (PkWatchdog *wd, PkHealth old_health, PkHealth new_health, Events *ev)
{
  g_string_append_printf (ev->transitions, "%s%s", ev->transitions->len ? " " : "",
                          pk_health_to_string (new_health));
}

static void
on_failed (PkWatchdog *wd, const char *reason, Events *ev)
{
  ev->failed++;
  g_free (ev->failed_reason);
  ev->failed_reason = g_strdup (reason);
}

static void
on_recovered (PkWatchdog *wd, Events *ev)
{
  ev->recovered++;
}

static void
events_connect (Events *ev, PkWatchdog *wd)
{
  ev->transitions = g_string_new (NULL);
  g_signal_connect (wd, "checked", G_CALLBACK (on_checked), ev);
  g_signal_connect (wd, "state-changed", G_CALLBACK (on_state_changed), ev);
  g_signal_connect (wd, "failed", G_CALLBACK (on_failed), ev);
  g_signal_connect (wd, "recovered", G_CALLBACK (on_recovered), ev);
}

static void
events_clear (Events *ev)
{
  g_string_free (ev->transitions, TRUE);
  g_free (ev->failed_reason);
}

static void
test_watchdog_feed_signals (void)
{
  g_autoptr(PkWatchdog) wd = pk_watchdog_new ("fed");
  Events ev = { 0 };

  events_connect (&ev, wd);
  pk_watchdog_feed (wd, TRUE, NULL);
  pk_watchdog_feed (wd, FALSE, "first");
  pk_watchdog_feed (wd, FALSE, "second");
  g_assert_cmpuint (ev.failed, ==, 0);
  pk_watchdog_feed (wd, FALSE, "third");
  g_assert_cmpuint (ev.failed, ==, 1);
  g_assert_cmpstr (ev.failed_reason, ==, "third");
  pk_watchdog_feed (wd, TRUE, NULL);
  g_assert_cmpuint (ev.recovered, ==, 0);
  pk_watchdog_feed (wd, TRUE, NULL);
  g_assert_cmpuint (ev.recovered, ==, 1);
  g_assert_cmpuint (ev.checked, ==, 6);
  g_assert_cmpstr (ev.transitions->str, ==, "up failing down recovering up");
  g_assert_cmpuint (pk_watchdog_get_fails (wd), ==, 1);
  g_assert_cmpint (pk_watchdog_get_last_change (wd), >, 0);
  events_clear (&ev);
}

/* --- the watchdog with real probes and scaled-down timers --- */

/* A loopback port that is either listening (connects pass) or closed
 * (connects are refused at once). */
typedef struct {
  guint16 port;
  GSocket *socket;
} Switch;

static void
switch_set (Switch *sw, gboolean on)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) lo = NULL;
  g_autoptr(GSocketAddress) addr = NULL;

  if (!on)
    {
      if (sw->socket)
        g_socket_close (sw->socket, NULL);
      g_clear_object (&sw->socket);
      return;
    }
  if (sw->socket)
    return;
  lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  addr = g_inet_socket_address_new (lo, sw->port);
  sw->socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, 0, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (sw->socket, addr, TRUE, &error));
  g_assert_no_error (error);
  if (sw->port == 0)
    {
      g_autoptr(GSocketAddress) local = g_socket_get_local_address (sw->socket, NULL);
      sw->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
    }
  g_assert_true (g_socket_listen (sw->socket, &error));
}

typedef struct {
  Switch sw;
  PkWatchdog *wd;
  Events ev;
  /* the switch state for each round, in order; the last one repeats */
  const char *script;
  guint round;
} Scripted;

static void
scripted_checked (PkWatchdog *wd, gboolean ok, const char *reason, Scripted *s)
{
  const char *script = s->script;
  gsize len = strlen (script);
  char next;

  s->round++;
  next = script[MIN (s->round, len - 1)];
  switch_set (&s->sw, next == '+');
}

static void
scripted_setup (Scripted *s, const char *script)
{
  g_autoptr(PkProbe) probe = NULL;

  s->script = script;
  switch_set (&s->sw, TRUE);
  switch_set (&s->sw, script[0] == '+');
  probe = pk_probe_new_tcp_connect (NULL, "127.0.0.1", s->sw.port);
  s->wd = pk_watchdog_new ("scripted");
  pk_watchdog_add_probe (s->wd, probe);
  pk_watchdog_set_interval_ms (s->wd, 20);
  pk_watchdog_set_retry_delay_ms (s->wd, 5);
  pk_watchdog_set_timeout_ms (s->wd, 2000);
  pk_watchdog_set_jitter_ms (s->wd, 3);
  pk_watchdog_set_fall (s->wd, 3);
  pk_watchdog_set_rise (s->wd, 2);
  events_connect (&s->ev, s->wd);
  g_signal_connect (s->wd, "checked", G_CALLBACK (scripted_checked), s);
}

static gboolean
rounds_done (gpointer data)
{
  Scripted *s = data;
  return s->round >= strlen (s->script);
}

static void
scripted_run (Scripted *s)
{
  pk_watchdog_start (s->wd);
  pk_test_wait_until (rounds_done, s, 20000);
  pk_watchdog_stop (s->wd);
}

static void
scripted_clear (Scripted *s)
{
  switch_set (&s->sw, FALSE);
  g_clear_object (&s->wd);
  events_clear (&s->ev);
}

static void
test_watchdog_one_failure_does_nothing (void)
{
  Scripted s = { 0 };

  scripted_setup (&s, "++-++++");
  scripted_run (&s);
  g_assert_cmpuint (s.ev.failed, ==, 0);
  g_assert_cmpuint (pk_watchdog_get_fails (s.wd), ==, 0);
  g_assert_cmpint (pk_watchdog_get_health (s.wd), ==, PK_HEALTH_UP);
  g_assert_cmpstr (s.ev.transitions->str, ==, "up failing up");
  scripted_clear (&s);
}

static void
test_watchdog_three_failures_one_action (void)
{
  Scripted s = { 0 };

  scripted_setup (&s, "+---------");
  scripted_run (&s);
  g_assert_cmpuint (s.ev.failed, ==, 1);
  g_assert_nonnull (strstr (s.ev.failed_reason, "tcp-connect 127.0.0.1"));
  g_assert_cmpuint (pk_watchdog_get_fails (s.wd), ==, 1);
  g_assert_cmpuint (pk_watchdog_get_consecutive_failures (s.wd), ==, 9);
  g_assert_cmpstr (s.ev.transitions->str, ==, "up failing down");
  scripted_clear (&s);
}

static void
test_watchdog_flapping_never_fails (void)
{
  Scripted s = { 0 };

  scripted_setup (&s, "+--+--+-+--+-+--+");
  scripted_run (&s);
  g_assert_cmpuint (s.ev.failed, ==, 0);
  g_assert_cmpuint (pk_watchdog_get_fails (s.wd), ==, 0);
  scripted_clear (&s);
}

static void
test_watchdog_recovery_needs_rise (void)
{
  Scripted s = { 0 };

  scripted_setup (&s, "---+-++++");
  scripted_run (&s);
  g_assert_cmpuint (s.ev.failed, ==, 1);
  g_assert_cmpuint (s.ev.recovered, ==, 1);
  /* one pass is not enough: it takes two in a row */
  g_assert_cmpstr (s.ev.transitions->str, ==, "failing down recovering down recovering up");
  scripted_clear (&s);
}

/* The failure action of pk-watchdog: record the failure in the node's
 * state file. The file must match what happened. */
static void
record_failure (PkWatchdog *wd, const char *reason, PkStateStore *store)
{
  g_autoptr(PkNodeState) node = pk_state_store_load_or_new (store, "n1", NULL);

  pk_node_state_set_status (node, PK_NODE_STATUS_PING_FAILED, reason);
  pk_node_state_set_fails (node, pk_watchdog_get_fails (wd));
  pk_node_state_set_consecutive_failures (node, pk_watchdog_get_consecutive_failures (wd));
  pk_node_state_set_last_change (node, pk_watchdog_get_last_change (wd) / G_USEC_PER_SEC);
  g_assert_true (pk_state_store_save (store, node, NULL));
}

static void
test_watchdog_counters_and_state_file (void)
{
  g_autofree char *dir = g_dir_make_tmp ("pk-wd-XXXXXX", NULL);
  g_autoptr(PkStateStore) store = pk_state_store_new (dir);
  g_autoptr(PkNodeState) node = NULL;
  Scripted s = { 0 };
  gint64 before = g_get_real_time () / G_USEC_PER_SEC;

  /* fails twice, with a recovery in between */
  scripted_setup (&s, "+---++---");
  g_signal_connect (s.wd, "failed", G_CALLBACK (record_failure), store);
  scripted_run (&s);

  g_assert_cmpuint (s.ev.failed, ==, 2);
  g_assert_cmpuint (s.ev.recovered, ==, 1);
  node = pk_state_store_load (store, "n1", NULL);
  g_assert_nonnull (node);
  g_assert_cmpint (pk_node_state_get_status (node), ==, PK_NODE_STATUS_PING_FAILED);
  g_assert_cmpuint (pk_node_state_get_fails (node), ==, 2);
  g_assert_cmpuint (pk_node_state_get_consecutive_failures (node), ==, 3);
  g_assert_cmpint (pk_node_state_get_last_change (node), >=, before);
  g_assert_nonnull (strstr (pk_node_state_get_reason (node), "refused"));
  scripted_clear (&s);
  pk_test_run ("rm -rf '%s'", dir);
}

static gboolean
flag_set (gpointer data)
{
  return *(guint *) data > 0;
}

/* A dead child that was not reaped yet (a zombie) counts as dead. */
static void
test_watchdog_process_killed (void)
{
  g_autoptr(PkWatchdog) wd = pk_watchdog_new ("proc");
  g_autoptr(PkProbe) probe = NULL;
  Events ev = { 0 };
  pid_t child = fork ();

  if (child == 0)
    {
      pause ();
      _exit (0);
    }
  probe = pk_probe_new_process (child);
  pk_watchdog_add_probe (wd, probe);
  pk_watchdog_set_interval_ms (wd, 10);
  pk_watchdog_set_retry_delay_ms (wd, 5);
  events_connect (&ev, wd);
  pk_watchdog_start (wd);
  pk_test_wait_until (flag_set, &ev.checked, 5000);
  g_assert_cmpuint (ev.failed, ==, 0);

  kill (child, SIGKILL);
  pk_test_wait_until (flag_set, &ev.failed, 5000);
  g_assert_nonnull (strstr (ev.failed_reason, "zombie"));
  pk_watchdog_stop (wd);
  waitpid (child, NULL, 0);
  events_clear (&ev);
}

static void
test_watchdog_stop_in_handler (void)
{
  Scripted s = { 0 };
  guint checked_before;

  scripted_setup (&s, "----------");
  g_signal_connect (s.wd, "failed", G_CALLBACK (pk_watchdog_stop), NULL);
  pk_watchdog_start (s.wd);
  pk_test_wait_until (flag_set, &s.ev.failed, 5000);
  g_assert_false (pk_watchdog_is_running (s.wd));
  checked_before = s.ev.checked;
  /* nothing runs after the stop: iterate for a while */
  for (int i = 0; i < 50; i++)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
  g_assert_cmpuint (s.ev.checked, ==, checked_before);
  scripted_clear (&s);
}

int
main (int argc, char **argv)
{
  pk_test_init (&argc, &argv);

  g_test_add_func ("/hysteresis/fall", test_hysteresis_fall);
  g_test_add_func ("/hysteresis/flapping-never-fails", test_hysteresis_flapping_never_fails);
  g_test_add_func ("/hysteresis/rise", test_hysteresis_rise);
  g_test_add_func ("/hysteresis/reset-keeps-totals", test_hysteresis_reset_keeps_totals);
  g_test_add_func ("/watchdog/feed-signals", test_watchdog_feed_signals);
  g_test_add_func ("/watchdog/one-failure-does-nothing", test_watchdog_one_failure_does_nothing);
  g_test_add_func ("/watchdog/three-failures-one-action", test_watchdog_three_failures_one_action);
  g_test_add_func ("/watchdog/flapping-never-fails", test_watchdog_flapping_never_fails);
  g_test_add_func ("/watchdog/recovery-needs-rise", test_watchdog_recovery_needs_rise);
  g_test_add_func ("/watchdog/counters-and-state-file", test_watchdog_counters_and_state_file);
  g_test_add_func ("/watchdog/process-killed", test_watchdog_process_killed);
  g_test_add_func ("/watchdog/stop-in-handler", test_watchdog_stop_in_handler);

  return g_test_run ();
}
