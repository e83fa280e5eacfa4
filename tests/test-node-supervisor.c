/* test-node-supervisor.c: PkNodeSupervisor's settings, checks from cron,
 * failure actions and the status, without root: the "tunnel" is a child
 * process on lo. Bring-up and recovery through a tunnel need a namespace:
 * tests/test-pk-watchdog.py and bindings/python/tests/test_supervisor.py.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <json-glib/json-glib.h>
#include <proxykit/proxykit.h>

#include "pk-test-utils.h"

typedef struct {
  char *dir;
  PkStateStore *store;
  GSubprocess *pppd;       /* stands in for pppd: a process that runs */
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->dir = g_dir_make_tmp ("pk-sup-XXXXXX", &error);
  g_assert_no_error (error);
  f->store = pk_state_store_new (f->dir);
  f->pppd = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &error, "sleep", "600", NULL);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_subprocess_force_exit (f->pppd);
  g_subprocess_wait (f->pppd, NULL, NULL);
  g_clear_object (&f->pppd);
  g_clear_object (&f->store);
  pk_test_run ("rm -rf '%s'", f->dir);
  g_free (f->dir);
}

static int
pppd_pid (Fixture *f)
{
  return atoi (g_subprocess_get_identifier (f->pppd));
}

/* Node @name online with its "tunnel": the child process, on lo. */
static void
record_online (Fixture    *f,
               const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkNodeState) state = pk_node_state_new (name);

  pk_node_state_set_tunnel (state, NULL, NULL, 0, "lo", pppd_pid (f));
  pk_node_state_set_status (state, PK_NODE_STATUS_ONLINE, NULL);
  g_assert_true (pk_state_store_save (f->store, state, &error));
  g_assert_no_error (error);
}

static PkNodeState *
load (Fixture    *f,
      const char *name)
{
  g_autoptr(GError) error = NULL;
  PkNodeState *state = pk_state_store_load (f->store, name, &error);

  g_assert_no_error (error);
  return state;
}

static void
kill_pppd (Fixture *f)
{
  g_subprocess_force_exit (f->pppd);
  g_assert_true (g_subprocess_wait (f->pppd, NULL, NULL));
}

/* flag > environment > [watchdog] > default, and errors name the origin */
static void
test_settings_precedence (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(PkConfig) config = pk_config_new ();
  const char *env[] = { "WATCHDOG_CHECK_INTERVAL=7s", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(PkNodeSupervisor) sup = NULL;

  g_assert_true (pk_config_load_data (config, "[watchdog]\ninterval = 5s\nretries = 4\nrecover = yes\n",
                                      -1, "test.conf", &error));
  pk_config_set_environ (config, (const char * const []) { NULL });
  sup = pk_node_supervisor_new_from_config (config, f->store, "n1", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pk_watchdog_get_interval_ms (pk_node_supervisor_get_watchdog (sup)), ==, 5000);
  g_assert_cmpuint (pk_watchdog_get_fall (pk_node_supervisor_get_watchdog (sup)), ==, 4);
  g_assert_cmpuint (pk_watchdog_get_retry_delay_ms (pk_node_supervisor_get_watchdog (sup)), ==, 30000);
  g_assert_true (pk_node_supervisor_get_recover (sup));
  g_clear_object (&sup);

  pk_config_set_environ (config, env);
  sup = pk_node_supervisor_new_from_config (config, f->store, "n1", &error);
  g_assert_cmpuint (pk_watchdog_get_interval_ms (pk_node_supervisor_get_watchdog (sup)), ==, 7000);
  g_clear_object (&sup);

  pk_config_set_override (config, "watchdog", "interval", "9s", "--interval");
  sup = pk_node_supervisor_new_from_config (config, f->store, "n1", &error);
  g_assert_cmpuint (pk_watchdog_get_interval_ms (pk_node_supervisor_get_watchdog (sup)), ==, 9000);
  g_clear_object (&sup);

  pk_config_set_override (config, "watchdog", "interval", "soon", "--interval");
  g_assert_null (pk_node_supervisor_new_from_config (config, f->store, "n1", &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "--interval"));
  g_clear_error (&error);

  g_clear_object (&config);
  config = pk_config_new ();
  g_assert_true (pk_config_load_data (config, "[watchdog]\nbogus = 1\n", -1, "bad.conf", &error));
  g_assert_false (pk_node_supervisor_check_config (config, NULL, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "bogus"));
  g_clear_error (&error);
  /* a tool's own [watchdog] keys pass as extra keys */
  g_assert_true (pk_node_supervisor_check_config (config, (const char * const []) { "bogus", NULL }, &error));
  g_assert_no_error (error);
}

/* --once: the count lives in the file; the fall-th failure acts */
static void
test_check_once_counts_in_the_file (Fixture       *f,
                                    gconstpointer  data)
{
  g_autoptr(PkConfig) config = pk_config_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PkNodeState) state = NULL;

  pk_config_set_environ (config, (const char * const []) { NULL });
  g_assert_true (pk_config_load_data (config, "[watchdog]\nretries = 2\ntimeout = 5s\n", -1, "t", &error));
  record_online (f, "n1");

  for (guint run = 0; run < 3; run++)
    {
      /* a new supervisor each time, as a new process from cron would */
      g_autoptr(PkNodeSupervisor) sup = pk_node_supervisor_new_from_config (config, f->store, "n1", &error);
      g_autoptr(GAsyncResult) result = NULL;
      gboolean ok;

      g_assert_no_error (error);
      if (run == 1)
        kill_pppd (f);
      pk_node_supervisor_check_once_async (sup, NULL, pk_test_store_result, &result);
      pk_test_wait_result (&result, 10000);
      ok = pk_node_supervisor_check_once_finish (sup, result, &error);
      g_clear_object (&state);
      state = load (f, "n1");
      if (run == 0)
        {
          g_assert_no_error (error);
          g_assert_true (ok);
          g_assert_cmpuint (pk_node_state_get_consecutive_failures (state), ==, 0);
          continue;
        }
      g_assert_error (error, PK_ERROR, PK_ERROR_CHECK_FAILED);
      g_assert_nonnull (strstr (error->message, "is gone"));
      g_clear_error (&error);
      if (run == 1)
        {
          g_assert_cmpint (pk_node_state_get_status (state), ==, PK_NODE_STATUS_ONLINE);
          g_assert_cmpuint (pk_node_state_get_consecutive_failures (state), ==, 1);
        }
      else
        {
          g_assert_cmpint (pk_node_state_get_status (state), ==, PK_NODE_STATUS_PING_FAILED);
          g_assert_cmpuint (pk_node_state_get_fails (state), ==, 1);
          g_assert_cmpint (pk_node_state_get_tunnel_pid (state), ==, 0);
          g_assert_nonnull (strstr (pk_node_state_get_reason (state), "is gone"));
        }
    }
}

static gboolean
status_is (gpointer data)
{
  gpointer *args = data;
  g_autoptr(PkNodeState) state = pk_state_store_load (args[0], "n1", NULL);

  return state != NULL && (int) pk_node_state_get_status (state) == GPOINTER_TO_INT (args[1]);
}

/* A watched node whose tunnel dies: failure actions once, recorded */
static void
test_watched_failure (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(PkNodeSupervisor) sup = pk_node_supervisor_new (f->store, "n1");
  PkWatchdog *wd = pk_node_supervisor_get_watchdog (sup);
  gpointer args[] = { f->store, GINT_TO_POINTER (PK_NODE_STATUS_PING_FAILED) };
  g_autoptr(PkNodeState) state = NULL;
  g_autofree char *text = NULL;

  pk_watchdog_set_interval_ms (wd, 20);
  pk_watchdog_set_initial_delay_ms (wd, 20);
  pk_watchdog_set_retry_delay_ms (wd, 10);
  pk_watchdog_set_fall (wd, 2);
  pk_watchdog_set_timeout_ms (wd, 5000);
  record_online (f, "n1");
  g_assert_true (pk_node_supervisor_refresh (sup));
  g_assert_true (pk_node_supervisor_is_watching (sup));

  kill_pppd (f);
  pk_test_wait_until (status_is, args, 10000);
  state = load (f, "n1");
  g_assert_cmpuint (pk_node_state_get_fails (state), ==, 1);
  g_assert_cmpuint (pk_node_state_get_recoveries (state), ==, 0);
  g_assert_false (pk_node_supervisor_is_watching (sup));
  /* without recovery, a rescan leaves the failed node alone */
  g_assert_false (pk_node_supervisor_refresh (sup));
  g_assert_false (pk_node_supervisor_is_busy (sup));

  text = pk_node_supervisor_dup_prometheus (f->store, &sup, 1);
  g_assert_nonnull (strstr (text, "proxykit_node_fails_total{node=\"n1\"} 1\n"));
  g_assert_nonnull (strstr (text, "proxykit_node_recoveries_total{node=\"n1\"} 0\n"));
  g_assert_nonnull (strstr (text, "# TYPE proxykit_node_check_duration_seconds histogram\n"));
  g_assert_null (strstr (text, "proxykit_node_check_duration_seconds_count{node=\"n1\"} 0\n"));
}

/* The node list and the status with pppd's liveness */
static void
test_list_and_status (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(PkConfig) config = pk_config_new ();
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) names = NULL;
  g_autofree char *json = NULL;
  g_autoptr(JsonNode) root = NULL;
  JsonArray *nodes;

  g_assert_true (pk_config_load_data (config, "[tunnel:b]\nserver = 192.0.2.1\n[tunnel:a]\n", -1, "t", &error));
  record_online (f, "a");
  names = pk_node_supervisor_list_nodes (f->store, config);
  g_assert_cmpstrv (names, ((const char *[]) { "a", "b", NULL }));

  json = pk_node_supervisor_dup_status_json (f->store, (const char * const *) names);
  root = json_from_string (json, &error);
  g_assert_no_error (error);
  nodes = json_node_get_array (root);
  g_assert_cmpuint (json_array_get_length (nodes), ==, 2);
  g_assert_true (json_object_get_boolean_member (json_array_get_object_element (nodes, 0), "pppd_alive"));
  g_assert_false (json_object_get_boolean_member (json_array_get_object_element (nodes, 1), "pppd_alive"));
  kill_pppd (f);
  g_clear_pointer (&json, g_free);
  g_clear_pointer (&root, json_node_unref);
  json = pk_node_supervisor_dup_status_json (f->store, (const char * const *) names);
  root = json_from_string (json, NULL);
  g_assert_false (json_object_get_boolean_member (json_array_get_object_element (json_node_get_array (root), 0),
                                                  "pppd_alive"));
}

/* PkNodeWatch: the nodes of a store and of [tunnel:NAME], narrowed with
 * set_nodes; dongle-N listed, not supervised; --once over every node */
static void
test_node_watch (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(PkConfig) config = pk_config_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PkNodeWatch) watch = NULL;
  g_autoptr(PkNodeState) dongle = pk_node_state_new ("dongle-12");
  g_autoptr(GAsyncResult) result = NULL;
  g_auto(GStrv) names = NULL;
  g_autofree char *text = NULL;
  g_autofree char *prom = NULL;
  guint n_failed = 99;

  pk_config_set_environ (config, (const char * const []) { NULL });
  g_assert_true (pk_config_load_data (config, "[watchdog]\nretries = 1\ntimeout = 5s\nbogus = 1\n"
                                      "[tunnel:c]\nserver = 192.0.2.1\n", -1, "t", &error));
  /* [watchdog] keys are checked, a tool's own pass as extra keys */
  g_assert_null (pk_node_watch_new_from_config (config, f->store, NULL, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "bogus"));
  g_clear_error (&error);
  watch = pk_node_watch_new_from_config (config, f->store, (const char * const []) { "bogus", NULL }, &error);
  g_assert_no_error (error);
  g_assert_true (pk_node_watch_get_state_store (watch) == f->store);
  g_assert_cmpuint (pk_watchdog_get_fall (pk_node_supervisor_get_watchdog (pk_node_watch_get_settings (watch))),
                    ==, 1);

  record_online (f, "a");
  record_online (f, "b");
  pk_node_state_set_dongle (dongle, 12, "enx0c5b8f279a64", "192.168.12.100");
  pk_node_state_set_status (dongle, PK_NODE_STATUS_ONLINE, NULL);
  g_assert_true (pk_state_store_save (f->store, dongle, &error));

  names = pk_node_watch_list_nodes (watch);
  g_assert_cmpstrv (names, ((const char *[]) { "a", "b", "dongle-12", "c", NULL }));
  /* a and b have a tunnel; c is only configured, dongle-12 is the dongles' */
  g_assert_cmpuint (pk_node_watch_refresh (watch), ==, 2);
  g_assert_nonnull (pk_node_watch_lookup (watch, "a"));
  g_assert_null (pk_node_watch_lookup (watch, "dongle-12"));
  g_assert_true (pk_node_supervisor_is_watching (pk_node_watch_lookup (watch, "b")));

  text = pk_node_watch_dup_status_text (watch);
  g_assert_true (g_str_has_prefix (text, "NODE "));
  g_assert_nonnull (strstr (text, "\na            online       lo "));
  g_assert_nonnull (strstr (text, "\ndongle-12    online       enx0c5b8f279a64 "));
  /* a long interface name widens its column for every line */
  {
    g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
    gsize col = strstr (lines[0], "LISTEN") - lines[0];

    for (guint i = 1; lines[i] != NULL && *lines[i] != '\0'; i++)
      {
        g_assert_cmpuint (strlen (lines[i]), >, col);
        g_assert_cmpint (lines[i][col - 1], ==, ' ');
        g_assert_cmpint (lines[i][col], ==, '-');
      }
  }
  prom = pk_node_watch_dup_prometheus (watch);
  g_assert_nonnull (strstr (prom, "proxykit_node_check_duration_seconds_count{node=\"a\"}"));

  /* narrowed: b is let go at the next rescan */
  pk_node_watch_set_nodes (watch, (const char * const []) { "a", NULL });
  g_clear_pointer (&names, g_strfreev);
  names = pk_node_watch_list_nodes (watch);
  g_assert_cmpstrv (names, ((const char *[]) { "a", NULL }));
  g_clear_pointer (&text, g_free);
  text = pk_node_watch_dup_status_text (watch);
  g_assert_null (strstr (text, "\nb "));
  pk_node_watch_stop (watch);
  g_assert_null (pk_node_watch_lookup (watch, "a"));

  /* once, for cron: the dead tunnel fails and is acted on (fall = 1) */
  pk_node_watch_set_nodes (watch, NULL);
  kill_pppd (f);
  pk_node_watch_check_once_async (watch, NULL, pk_test_store_result, &result);
  pk_test_wait_result (&result, 20000);
  g_assert_true (pk_node_watch_check_once_finish (watch, result, &n_failed, &error));
  g_assert_no_error (error);
  /* a and b, whose "pppd" is gone; c has no tunnel to check */
  g_assert_cmpuint (n_failed, ==, 2);
  g_clear_object (&dongle);
  dongle = load (f, "a");
  g_assert_cmpint (pk_node_state_get_status (dongle), ==, PK_NODE_STATUS_PING_FAILED);
}

int
main (int argc, char **argv)
{
  pk_test_init (&argc, &argv);

  g_test_add ("/node-supervisor/settings-precedence", Fixture, NULL, fixture_setup,
              test_settings_precedence, fixture_teardown);
  g_test_add ("/node-supervisor/check-once-counts-in-the-file", Fixture, NULL, fixture_setup,
              test_check_once_counts_in_the_file, fixture_teardown);
  g_test_add ("/node-supervisor/watched-failure", Fixture, NULL, fixture_setup,
              test_watched_failure, fixture_teardown);
  g_test_add ("/node-supervisor/list-and-status", Fixture, NULL, fixture_setup,
              test_list_and_status, fixture_teardown);
  g_test_add ("/node-supervisor/node-watch", Fixture, NULL, fixture_setup,
              test_node_watch, fixture_teardown);
  return g_test_run ();
}
