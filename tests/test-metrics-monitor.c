/* test-metrics-monitor.c: PkMetricsMonitor samples this host on its timer
 * into the history, evaluates the rules and says so by its signals; a bad
 * interval or rule is a configuration error naming the key; a reload with a
 * bad rule keeps the rules in force.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include <proxykit/proxykit.h>

#include "pk-test-utils.h"

typedef struct {
  GMainLoop *loop;             /* quit at the third sample */
  guint n_sampled;
  guint n_alerts;
  guint n_to_stdout;
  char *last_rule;
} Seen;

static void
on_sampled (PkMetricsMonitor *monitor,
            JsonNode         *sample,
            Seen             *seen)
{
  g_assert_true (JSON_NODE_HOLDS_OBJECT (sample));
  g_assert_true (json_object_has_member (json_node_get_object (sample), "memory"));
  if (++seen->n_sampled == 3 && seen->loop != NULL)
    g_main_loop_quit (seen->loop);
}

static void
on_alert (PkMetricsMonitor *monitor,
          JsonNode         *event,
          gboolean          to_stdout,
          Seen             *seen)
{
  seen->n_alerts++;
  seen->n_to_stdout += to_stdout;
  g_free (seen->last_rule);
  seen->last_rule = g_strdup (json_object_get_string_member_with_default (json_node_get_object (event),
                                                                         "alert", "?"));
}

static PkConfig *
config_from (const char *text)
{
  g_autoptr(GError) error = NULL;
  PkConfig *config = pk_config_new ();
  const char *env[] = { NULL };

  pk_config_set_environ (config, env);
  pk_config_load_data (config, text, -1, "test.conf", &error);
  g_assert_no_error (error);
  return config;
}

static PkMetricsSampler *
host_sampler (void)
{
  PkMetricsSampler *sampler = pk_metrics_sampler_new ();

  g_object_set (sampler, "sock-diag", FALSE, NULL);
  return sampler;
}

static gboolean
quit_after (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static gboolean
too_long (gpointer data)
{
  g_error ("the monitor did not take three samples in time");
  return G_SOURCE_REMOVE;
}

static void
test_records_and_alerts (void)
{
  g_autofree char *dir = g_dir_make_tmp ("pk-monitor-XXXXXX", NULL);
  g_autofree char *text = g_strdup_printf ("[metrics]\ndirectory = %s\ninterval = 100ms\n"
                                           "[alert:memory]\nmetric = memory.total_bytes\nthreshold = 1\n"
                                           "notify = stdout\n", dir);
  g_autoptr(PkConfig) config = config_from (text);
  g_autoptr(PkMetricsSampler) sampler = host_sampler ();
  g_autoptr(PkMetricsMonitor) monitor = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) history = NULL;

  /* the test's own bound, far above three intervals */
  guint guard = g_timeout_add (pk_test_timeout_ms (30000), too_long, NULL);
  Seen seen = { loop, 0 };

  monitor = pk_metrics_monitor_new_from_config (config, sampler, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pk_metrics_monitor_get_interval (monitor), ==, 100);
  g_assert_nonnull (pk_metrics_monitor_get_recorder (monitor));
  g_assert_cmpuint (pk_metrics_alerts_get_n_rules (pk_metrics_monitor_get_alerts (monitor)), ==, 1);
  pk_metrics_alerts_set_dispatch (pk_metrics_monitor_get_alerts (monitor), FALSE);
  g_signal_connect (monitor, "sampled", G_CALLBACK (on_sampled), &seen);
  g_signal_connect (monitor, "alert", G_CALLBACK (on_alert), &seen);

  /* the first sample at once, then one every 100 ms */
  pk_metrics_monitor_start (monitor);
  g_assert_cmpuint (seen.n_sampled, ==, 1);
  g_main_loop_run (loop);
  pk_metrics_monitor_stop (monitor);
  g_assert_cmpuint (seen.n_sampled, ==, 3);

  /* memory.total_bytes > 1 from the first sample: fires once, to stdout */
  g_assert_cmpuint (seen.n_alerts, ==, 1);
  g_assert_cmpuint (seen.n_to_stdout, ==, 1);
  g_assert_cmpstr (seen.last_rule, ==, "memory");

  /* every sample went into the history */
  history = pk_metrics_history_read (dir, PK_METRICS_RESOLUTION_RAW, 0, G_MAXINT64, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (json_array_get_length (json_node_get_array (history)), ==, seen.n_sampled);

  /* stopped: no more samples, even after more than an interval */
  g_timeout_add (250, quit_after, loop);
  g_main_loop_run (loop);
  g_assert_cmpuint (seen.n_sampled, ==, 3);
  g_source_remove (guard);
  g_free (seen.last_rule);
  pk_test_run ("rm -rf '%s'", dir);
}

static void
test_config_errors_and_reload (void)
{
  g_autoptr(PkMetricsSampler) sampler = host_sampler ();
  g_autoptr(PkMetricsMonitor) monitor = NULL;
  g_autoptr(PkConfig) config = NULL;
  g_autoptr(PkConfig) bad = NULL;
  g_autoptr(PkConfig) good = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("pk-monitor-XXXXXX", NULL);
  g_autofree char *text = g_strdup_printf ("[metrics]\ndirectory = %s\n", dir);
  g_autofree char *fast = g_strdup_printf ("[metrics]\ndirectory = %s\ninterval = 50ms\n", dir);
  PkMetricsAlerts *before;

  config = config_from (fast);
  g_assert_null (pk_metrics_monitor_new_from_config (config, sampler, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "interval"));
  g_assert_nonnull (strstr (error->message, "at least 100ms"));
  g_clear_error (&error);
  g_clear_object (&config);

  config = config_from (text);
  monitor = pk_metrics_monitor_new_from_config (config, sampler, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pk_metrics_monitor_get_interval (monitor), ==, 10000);
  before = pk_metrics_monitor_get_alerts (monitor);
  g_assert_cmpuint (pk_metrics_alerts_get_n_rules (before), ==, 0);

  bad = config_from ("[alert:x]\nmetric = cpu.busy\nthreshold = lots\n");
  g_assert_false (pk_metrics_monitor_reload_alerts (monitor, bad, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "alert:x"));
  g_clear_error (&error);
  g_assert_true (pk_metrics_monitor_get_alerts (monitor) == before);

  good = config_from ("[alert:x]\nmetric = cpu.busy\nthreshold = 90\n");
  g_assert_true (pk_metrics_monitor_reload_alerts (monitor, good, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (pk_metrics_alerts_get_n_rules (pk_metrics_monitor_get_alerts (monitor)), ==, 1);
  pk_test_run ("rm -rf '%s'", dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/metrics/monitor/records-and-alerts", test_records_and_alerts);
  g_test_add_func ("/metrics/monitor/config-errors-and-reload", test_config_errors_and_reload);
  return g_test_run ();
}
