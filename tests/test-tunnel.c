/* test-tunnel.c: PkTunnel against tests/fake-pppd in a network namespace
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <unistd.h>

#include <proxykit/proxykit.h>

#include "pk-test-utils.h"

static char *fake_pppd;

typedef struct {
  char *run_dir;
  PkTunnel *tunnel;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  f->run_dir = g_dir_make_tmp ("pk-tunnel-XXXXXX", NULL);
  g_setenv ("FAKE_PPPD_RUN_DIR", f->run_dir, TRUE);
  g_unsetenv ("FAKE_PPPD_EXIT");
  g_unsetenv ("FAKE_PPPD_HANG");
  f->tunnel = pk_tunnel_new ("pk-test");
  pk_tunnel_set_pppd_path (f->tunnel, fake_pppd);
  pk_tunnel_set_run_dir (f->tunnel, f->run_dir);
  pk_tunnel_set_unit (f->tunnel, 3);
  g_assert_true (pk_tunnel_set_server (f->tunnel, "203.0.113.9", NULL));
  pk_tunnel_set_start_timeout_ms (f->tunnel, 10000);
  pk_tunnel_set_stop_grace_ms (f->tunnel, 2000);
}

static void
stop_sync (PkTunnel *tunnel)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  pk_tunnel_stop_async (tunnel, NULL, pk_test_store_result, &result);
  pk_test_wait_result (&result, 20000);
  g_assert_true (pk_tunnel_stop_finish (tunnel, result, &error));
  g_assert_no_error (error);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  if (f->tunnel != NULL && pk_tunnel_get_pid (f->tunnel) != 0)
    stop_sync (f->tunnel);
  g_clear_object (&f->tunnel);
  pk_test_run ("rm -rf '%s'", f->run_dir);
  g_free (f->run_dir);
}

static gboolean
start_sync (PkTunnel *tunnel, GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  pk_tunnel_start_async (tunnel, NULL, pk_test_store_result, &result);
  pk_test_wait_result (&result, 20000);
  return pk_tunnel_start_finish (tunnel, result, error);
}

static gboolean
file_exists_in (const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  return g_file_test (path, G_FILE_TEST_EXISTS);
}

static void
write_control (Fixture *f, const char *cmd)
{
  g_autofree char *path = g_build_filename (f->run_dir, "fake-pppd-pk-test.ctl", NULL);
  g_assert_true (g_file_set_contents (path, cmd, -1, NULL));
}

static gboolean
process_gone (gpointer data)
{
  int pid = GPOINTER_TO_INT (data);
  g_autofree char *stat_path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree char *stat = NULL;
  const char *p;

  if (kill (pid, 0) < 0)
    return TRUE;
  /* a zombie waits for GLib's child watch: gone for our purposes */
  return g_file_get_contents (stat_path, &stat, NULL, NULL) &&
         (p = strrchr (stat, ')')) != NULL && p[2] == 'Z';
}

typedef struct {
  PkTunnel *tunnel;
  PkTunnelState state;
} StateWait;

static gboolean
state_reached (gpointer data)
{
  StateWait *w = data;
  return pk_tunnel_get_state (w->tunnel) == w->state;
}

static void
wait_state (PkTunnel *tunnel, PkTunnelState state)
{
  StateWait w = { tunnel, state };
  pk_test_wait_until (state_reached, &w, 10000);
}

static char *
route_to_server (void)
{
  g_autofree char *out = NULL;

  g_assert_true (g_spawn_command_line_sync ("ip -4 route show exact 203.0.113.9/32", &out, NULL, NULL, NULL));
  return g_strstrip (g_steal_pointer (&out));
}

/* --- against fake-pppd --- */

static void
test_start_and_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkEgress) egress = NULL;
  g_autofree char *args_file = g_build_filename (f->run_dir, "args", NULL);
  g_autofree char *args = NULL;
  g_autofree char *pidfile = NULL;
  g_autofree char *pidtext = NULL;
  g_autofree char *expect = NULL;
  g_autofree char *opts_path = g_build_filename (f->run_dir, "pk-tunnel-pk-test.options", NULL);
  g_autofree char *opts = NULL;
  GStatBuf st;

  g_setenv ("FAKE_PPPD_ARGS_FILE", args_file, TRUE);
  pk_tunnel_set_user (f->tunnel, "alice");
  pk_tunnel_set_password (f->tunnel, "pw\\x");

  egress = pk_tunnel_get_egress (f->tunnel, &error);
  g_assert_null (egress);
  g_assert_error (error, PK_ERROR, PK_ERROR_TUNNEL);
  g_clear_error (&error);

  g_assert_true (start_sync (f->tunnel, &error));
  g_assert_no_error (error);
  g_unsetenv ("FAKE_PPPD_ARGS_FILE");
  g_assert_cmpint (pk_tunnel_get_state (f->tunnel), ==, PK_TUNNEL_STATE_UP);
  g_assert_cmpstr (pk_tunnel_get_interface (f->tunnel), ==, "ppp3");
  g_assert_cmpint (pk_tunnel_get_pid (f->tunnel), >, 0);

  /* pppd's pidfile format */
  pidfile = pk_tunnel_dup_pidfile_path (f->tunnel);
  g_assert_true (g_file_get_contents (pidfile, &pidtext, NULL, NULL));
  expect = g_strdup_printf ("%d\nppp3\n", pk_tunnel_get_pid (f->tunnel));
  g_assert_cmpstr (pidtext, ==, expect);
  g_assert_true (file_exists_in (f->run_dir, "ppp3.pid"));

  /* what pppd was given; the password only in a 0600 file */
  g_assert_true (g_file_get_contents (args_file, &args, NULL, NULL));
  g_assert_nonnull (strstr (args, "pty\npptp 203.0.113.9 --nolaunchpppd\nlinkname\npk-test\nunit\n3\nnodetach\nuser\nalice\nfile\n"));
  g_assert_null (strstr (args, "pw"));
  g_assert_true (g_file_get_contents (opts_path, &opts, NULL, NULL));
  g_assert_nonnull (strstr (opts, "password \"pw\\\\x\"\n"));
  g_assert_cmpint (g_stat (opts_path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  egress = pk_tunnel_get_egress (f->tunnel, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pk_egress_get_interface (egress), ==, "ppp3");
  g_assert_cmpstr (pk_egress_get_address (egress), ==, "10.64.3.1");

  /* starting twice is refused */
  g_assert_false (start_sync (f->tunnel, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_BUSY);

  stop_sync (f->tunnel);
  g_assert_false (g_file_test (opts_path, G_FILE_TEST_EXISTS));
}

static void
test_start_timeout (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  int pid;

  g_setenv ("FAKE_PPPD_HANG", "1", TRUE);
  pk_tunnel_set_start_timeout_ms (f->tunnel, 300);
  pk_tunnel_start_async (f->tunnel, NULL, pk_test_store_result, &result);
  pk_test_wait_result (&result, 20000);
  pid = pk_tunnel_get_pid (f->tunnel);
  g_assert_false (pk_tunnel_start_finish (f->tunnel, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_nonnull (strstr (error->message, "did not come up within 300 ms"));
  /* pppd is stopped and the tunnel ends in "failed" */
  g_assert_cmpint (pid, >, 0);
  pk_test_wait_until (process_gone, GINT_TO_POINTER (pid), 10000);
  wait_state (f->tunnel, PK_TUNNEL_STATE_FAILED);
  g_assert_cmpstr (pk_tunnel_get_last_error (f->tunnel), ==, error->message);
  g_assert_false (file_exists_in (f->run_dir, "ppp-pk-test.pid"));
}

static void
test_exit_codes (Fixture *f, gconstpointer data)
{
  for (int code = 0; code <= 19; code++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *value = g_strdup_printf ("%d", code);
      g_autofree char *expect = g_strdup_printf ("pppd exited with status %d: %s", code,
                                                 pk_tunnel_describe_exit_status (code));

      g_setenv ("FAKE_PPPD_EXIT", value, TRUE);
      g_assert_false (start_sync (f->tunnel, &error));
      g_assert_error (error, PK_ERROR, PK_ERROR_TUNNEL);
      if (strstr (error->message, expect) == NULL)
        g_error ("status %d: '%s' lacks '%s'", code, error->message, expect);
      g_assert_cmpint (pk_tunnel_get_state (f->tunnel), ==, PK_TUNNEL_STATE_FAILED);
      g_assert_cmpint (pk_tunnel_get_pid (f->tunnel), ==, 0);
      if (code == 11)
        g_assert_nonnull (strstr (error->message, "peer failed to authenticate"));
      if (code == 4)
        g_assert_nonnull (strstr (error->message, "no kernel PPP support"));
    }
}

static void
test_stop_removes_host_route (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  int pid;

  g_assert_true (start_sync (f->tunnel, &error));
  pid = pk_tunnel_get_pid (f->tunnel);
  before = route_to_server ();
  g_assert_cmpstr (before, !=, "");

  stop_sync (f->tunnel);
  g_assert_cmpint (pk_tunnel_get_state (f->tunnel), ==, PK_TUNNEL_STATE_DOWN);
  g_assert_cmpint (pk_tunnel_get_pid (f->tunnel), ==, 0);
  g_assert_null (pk_tunnel_get_interface (f->tunnel));
  g_assert_true (process_gone (GINT_TO_POINTER (pid)));
  after = route_to_server ();
  g_assert_cmpstr (after, ==, "");
  g_assert_false (file_exists_in (f->run_dir, "ppp-pk-test.pid"));
  g_assert_false (file_exists_in (f->run_dir, "ppp3.pid"));
}

static void
test_stop_escalates_to_sigkill (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  int pid;

  g_assert_true (start_sync (f->tunnel, &error));
  pid = pk_tunnel_get_pid (f->tunnel);
  write_control (f, "ignore-term");
  /* wait until the fake took the command */
  while (file_exists_in (f->run_dir, "fake-pppd-pk-test.ctl"))
    g_usleep (10000);
  pk_tunnel_set_stop_grace_ms (f->tunnel, 200);
  stop_sync (f->tunnel);
  g_assert_true (process_gone (GINT_TO_POINTER (pid)));
  /* a killed pppd leaves its pidfiles: the tunnel removed them */
  g_assert_false (file_exists_in (f->run_dir, "ppp-pk-test.pid"));
  g_assert_false (file_exists_in (f->run_dir, "ppp3.pid"));
  g_assert_cmpint (pk_tunnel_get_state (f->tunnel), ==, PK_TUNNEL_STATE_DOWN);
}

static void
test_adopt_after_restart (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkTunnel) again = NULL;
  int pid;

  g_assert_true (start_sync (f->tunnel, &error));
  pid = pk_tunnel_get_pid (f->tunnel);
  /* our process "restarts": the object goes, pppd stays */
  g_clear_object (&f->tunnel);
  g_assert_false (process_gone (GINT_TO_POINTER (pid)));

  again = pk_tunnel_new ("pk-test");
  pk_tunnel_set_run_dir (again, f->run_dir);
  g_assert_true (pk_tunnel_set_server (again, "203.0.113.9", NULL));
  g_assert_true (pk_tunnel_adopt (again, &error));
  g_assert_no_error (error);
  g_assert_cmpint (pk_tunnel_get_pid (again), ==, pid);
  g_assert_cmpstr (pk_tunnel_get_interface (again), ==, "ppp3");
  g_assert_cmpint (pk_tunnel_get_state (again), ==, PK_TUNNEL_STATE_UP);
  g_assert_false (pk_tunnel_adopt (again, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_BUSY);

  stop_sync (again);
  pk_test_wait_until (process_gone, GINT_TO_POINTER (pid), 10000);
  wait_state (again, PK_TUNNEL_STATE_DOWN);
}

static void
test_adopt_nothing (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *pidfile = pk_tunnel_dup_pidfile_path (f->tunnel);

  g_assert_false (pk_tunnel_adopt (f->tunnel, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* a stale pidfile naming a live process that is not our pppd */
  {
    g_autofree char *text = g_strdup_printf ("%d\nppp3\n", getpid ());
    g_assert_true (g_file_set_contents (pidfile, text, -1, NULL));
  }
  g_assert_false (pk_tunnel_adopt (f->tunnel, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "not a running pppd"));

  /* and a start replaces it */
  g_clear_error (&error);
  g_assert_true (start_sync (f->tunnel, &error));
  g_assert_no_error (error);
}

static void
count (gpointer instance, const char *reason, guint *n)
{
  (*n)++;
}

static gboolean
nonzero (gpointer data)
{
  return *(guint *) data > 0;
}

/* kill -9 of pppd: the tunnel notices, and a watchdog over it confirms
 * a failure and acts once. */
static void
test_kill9_detected (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkWatchdog) wd = pk_watchdog_new ("pk-test");
  g_autoptr(PkProbe) alive = NULL;
  g_autoptr(PkProbe) link = pk_probe_new_interface ("ppp3");
  guint failed = 0;
  int pid;

  g_assert_true (start_sync (f->tunnel, &error));
  pid = pk_tunnel_get_pid (f->tunnel);
  alive = pk_probe_new_process (pid);
  pk_watchdog_add_probe (wd, alive);
  pk_watchdog_add_probe (wd, link);
  pk_watchdog_set_interval_ms (wd, 20);
  pk_watchdog_set_retry_delay_ms (wd, 10);
  g_signal_connect (wd, "failed", G_CALLBACK (count), &failed);
  pk_watchdog_start (wd);

  kill (pid, SIGKILL);
  wait_state (f->tunnel, PK_TUNNEL_STATE_FAILED);
  g_assert_nonnull (strstr (pk_tunnel_get_last_error (f->tunnel), "killed by signal 9"));
  pk_test_wait_until (nonzero, &failed, 10000);
  g_assert_cmpuint (pk_watchdog_get_consecutive_failures (wd), >=, 3);
  g_assert_nonnull (strstr (pk_watchdog_get_last_reason (wd), "interface ppp3 does not exist"));
  pk_watchdog_stop (wd);
  g_assert_cmpuint (failed, ==, 1);
  /* the pidfiles of the killed pppd are cleaned up */
  g_assert_false (file_exists_in (f->run_dir, "ppp-pk-test.pid"));
}

static void
test_interface_dropped (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkProbe) link = pk_probe_new_interface ("ppp3");
  g_autoptr(GAsyncResult) result = NULL;

  g_assert_true (start_sync (f->tunnel, &error));
  write_control (f, "drop");
  while (file_exists_in (f->run_dir, "fake-pppd-pk-test.ctl"))
    g_usleep (10000);
  g_usleep (100000);
  g_assert_false (pk_tunnel_refresh (f->tunnel));
  g_assert_cmpint (pk_tunnel_get_state (f->tunnel), ==, PK_TUNNEL_STATE_STARTING);
  pk_probe_run_async (link, 1000, NULL, pk_test_store_result, &result);
  pk_test_wait_result (&result, 5000);
  g_assert_false (pk_probe_run_finish (link, result, NULL, &error));
  g_assert_nonnull (strstr (error->message, "interface ppp3 is down"));
}

static gboolean
connection_refused (GSocketAddress *address)
{
  g_autoptr(GSocket) s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, 0, NULL);
  g_autoptr(GError) error = NULL;

  return !g_socket_connect (s, address, NULL, &error) &&
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
}

/* The startup check through the tunnel fails (nothing answers behind
 * fake-pppd), and pk-socks's rollback follows: listener closed, tunnel
 * stopped, node recorded as stopped. */
static void
test_startup_check_rollback (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkEgress) egress = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GSocketListener) listener = g_socket_listener_new ();
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(PkStateStore) store = pk_state_store_new (f->run_dir);
  g_autoptr(PkNodeState) node = pk_node_state_new ("pk-test");
  g_autoptr(PkNodeState) back = NULL;
  guint tries = 0;

  g_assert_true (start_sync (f->tunnel, &error));
  g_assert_true (g_socket_listener_add_address (listener, any, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                                NULL, &bound, &error));
  pk_node_state_set_tunnel (node, "203.0.113.9", "pk-test", 3, "ppp3", pk_tunnel_get_pid (f->tunnel));
  pk_node_state_set_status (node, PK_NODE_STATUS_STARTING, NULL);
  g_assert_true (pk_state_store_save (store, node, &error));

  egress = pk_tunnel_get_egress (f->tunnel, &error);
  g_assert_no_error (error);
  /* the peer address of the fake link: inside our namespace, silent */
  pk_startup_check_async (egress, "10.64.3.2:443", 5, 10, 150, NULL, pk_test_store_result, &result);
  pk_test_wait_result (&result, 20000);
  g_assert_false (pk_startup_check_finish (result, &tries, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CHECK_FAILED);
  g_assert_nonnull (strstr (error->message, "failed 5 times"));

  g_socket_listener_close (listener);
  stop_sync (f->tunnel);
  pk_node_state_clear_tunnel (node);
  pk_node_state_set_status (node, PK_NODE_STATUS_STOPPED, error->message);
  g_assert_true (pk_state_store_save (store, node, NULL));

  g_assert_cmpint (pk_tunnel_get_state (f->tunnel), ==, PK_TUNNEL_STATE_DOWN);
  g_assert_true (connection_refused (bound));
  back = pk_state_store_load (store, "pk-test", NULL);
  g_assert_cmpint (pk_node_state_get_status (back), ==, PK_NODE_STATUS_STOPPED);
  g_assert_null (pk_node_state_get_tunnel_interface (back));
}

static char *skip_reason;

static void
skip_test (gconstpointer data)
{
  g_test_skip (data);
}

int
main (int argc, char **argv)
{
  g_autofree char *reason = NULL;
  gboolean in_netns = pk_test_enter_new_netns (&reason);

  pk_test_init (&argc, &argv);
  fake_pppd = g_build_filename (g_getenv ("PK_SRCDIR") ? g_getenv ("PK_SRCDIR") : "..",
                                "tests", "fake-pppd", NULL);

  /* Without a namespace of their own (not root) or a tun device, the
   * fake-pppd cases are still listed, each as a skip that says why. */
  if (!in_netns || access ("/dev/net/tun", R_OK | W_OK) != 0)
    {
      if (reason == NULL)
        reason = g_strdup ("no /dev/net/tun");
      skip_reason = g_strdup_printf ("fake-pppd tests: %s", reason);
    }
#define ADD(path, fn) \
  do { \
    if (skip_reason != NULL) \
      g_test_add_data_func (path, skip_reason, skip_test); \
    else \
      g_test_add (path, Fixture, NULL, setup, fn, teardown); \
  } while (0)
  ADD ("/tunnel/start-and-up", test_start_and_up);
  ADD ("/tunnel/start-timeout", test_start_timeout);
  ADD ("/tunnel/exit-codes", test_exit_codes);
  ADD ("/tunnel/stop-removes-host-route", test_stop_removes_host_route);
  ADD ("/tunnel/stop-escalates-to-sigkill", test_stop_escalates_to_sigkill);
  ADD ("/tunnel/adopt-after-restart", test_adopt_after_restart);
  ADD ("/tunnel/adopt-nothing", test_adopt_nothing);
  ADD ("/tunnel/kill9-detected", test_kill9_detected);
  ADD ("/tunnel/interface-dropped", test_interface_dropped);
  ADD ("/tunnel/startup-check-rollback", test_startup_check_rollback);

  return g_test_run ();
}
