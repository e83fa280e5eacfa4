/* pk-metrics: samples, records, serves and analyzes a proxy node's health
 *
 *   pk-metrics [--json|--prometheus]         one sample, as a table
 *   pk-metrics record --interval 10 --dir DIR
 *   pk-metrics serve --listen ADDR:PORT [--record]
 *   pk-metrics analyze "2025-08-20 14:30" [--window 10m] [--json]
 *   pk-metrics bench N                       CPU cost of N samples (bench/)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <libsoup/soup.h>

#include "pk-cli-common.h"

#define DEFAULT_DIR PK_STATE_DIR "/metrics"
#define DEFAULT_LISTEN "127.0.0.1:9110"

static char *opt_config;
static char *opt_dir;
static char *opt_interval;
static char *opt_window;
static char *opt_listen;
static char *opt_delay;
static char *opt_proc_root;
static char *opt_sys_root;
static char *opt_layout;
static char **opt_ports;
static char **opt_pids;
static char **opt_processes;
static gboolean opt_json;
static gboolean opt_prometheus;
static gboolean opt_record;
static gboolean opt_version;

static const GOptionEntry entries[] = {
  { "json", 'j', 0, G_OPTION_ARG_NONE, &opt_json, "Print JSON", NULL },
  { "prometheus", 'p', 0, G_OPTION_ARG_NONE, &opt_prometheus, "Print the Prometheus text format", NULL },
  { "dir", 'd', 0, G_OPTION_ARG_FILENAME, &opt_dir, "History directory (default " DEFAULT_DIR ")", "DIR" },
  { "interval", 'i', 0, G_OPTION_ARG_STRING, &opt_interval, "Time between samples when recording (default 10s)", "DURATION" },
  { "window", 'w', 0, G_OPTION_ARG_STRING, &opt_window, "analyze: how far before the time to look (default 10m)", "DURATION" },
  { "listen", 'l', 0, G_OPTION_ARG_STRING, &opt_listen, "serve: listen on ADDR:PORT (default " DEFAULT_LISTEN ")", "ADDR:PORT" },
  { "record", 'r', 0, G_OPTION_ARG_NONE, &opt_record, "serve: also record history and evaluate alerts", NULL },
  { "delay", 0, 0, G_OPTION_ARG_STRING, &opt_delay, "One sample: wait this long between the two samples that rates need (default 1s; 0: no rates)", "DURATION" },
  { "watch-port", 'P', 0, G_OPTION_ARG_STRING_ARRAY, &opt_ports, "Count TCP sockets of this local port by state (repeatable)", "PORT" },
  { "watch-pid", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_pids, "Watch this process (repeatable)", "PID" },
  { "watch-process", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_processes, "Watch processes of this name (repeatable)", "NAME" },
  { "layout", 0, 0, G_OPTION_ARG_STRING, &opt_layout, "record: one raw file per 'hour' (default) or 'day'", "hour|day" },
  { "proc-root", 0, 0, G_OPTION_ARG_FILENAME, &opt_proc_root, "Read procfs from DIR (default /proc)", "DIR" },
  { "sys-root", 0, 0, G_OPTION_ARG_FILENAME, &opt_sys_root, "Read sysfs from DIR (default /sys)", "DIR" },
  { "config", 'c', 0, G_OPTION_ARG_FILENAME, &opt_config, "Configuration file ([metrics], [alert:NAME], [socks:NAME])", "FILE" },
  PK_CLI_OPTION_VERBOSE,
  { "version", 'V', 0, G_OPTION_ARG_NONE, &opt_version, "Print the version and exit", NULL },
  { NULL }
};

typedef struct {
  PkConfig *config;
  PkMetricsSampler *sampler;
  PkMetricsMonitor *monitor;   /* record, serve --record */
  PkMetricsServer *server;
  GMainLoop *loop;
  char *dir;
} App;

/* ------------------------------------------------------------------ */
/* value parsing */

/* ------------------------------------------------------------------ */
/* setup */

static guint64
duration_or_die (const char *flag,
                 const char *value)
{
  g_autoptr(GError) error = NULL;
  guint64 ms = 0;

  if (!pk_cli_parse_value (TRUE, value, 0, 0, &ms, &error))
    pk_cli_usage_error ("%s '%s': %s", flag, value, error->message);
  return ms;
}

/* Flags that replace a [metrics] key are overrides of the configuration;
 * --watch-* add to what the configuration watches. */
static void
setup_sampler (App *app)
{
  g_autoptr(GError) error = NULL;

  app->sampler = pk_metrics_sampler_new_from_config (app->config, &error);
  if (app->sampler == NULL)
    pk_cli_usage_error ("%s", error->message);
  if (opt_proc_root)
    pk_metrics_sampler_set_proc_root (app->sampler, opt_proc_root);
  if (opt_sys_root)
    pk_metrics_sampler_set_sys_root (app->sampler, opt_sys_root);

  for (guint i = 0; opt_ports && opt_ports[i]; i++)
    {
      guint64 port;

      if (!pk_cli_parse_value (FALSE, opt_ports[i], 1, 65535, &port, &error))
        pk_cli_usage_error ("--watch-port '%s': %s", opt_ports[i], error->message);
      pk_metrics_sampler_add_watch_port (app->sampler, port);
    }
  for (guint i = 0; opt_pids && opt_pids[i]; i++)
    {
      guint64 pid;

      if (!pk_cli_parse_value (FALSE, opt_pids[i], 1, G_MAXINT, &pid, &error))
        pk_cli_usage_error ("--watch-pid '%s': %s", opt_pids[i], error->message);
      pk_metrics_sampler_add_watch_pid (app->sampler, pid);
    }
  for (guint i = 0; opt_processes && opt_processes[i]; i++)
    pk_metrics_sampler_add_watch_process (app->sampler, opt_processes[i]);
}

/* The history and the alert rules; --interval is an override of the
 * [metrics] interval. */
static void
setup_monitor (App *app)
{
  g_autoptr(GError) error = NULL;

  app->monitor = pk_metrics_monitor_new_from_config (app->config, app->sampler, &error);
  if (app->monitor == NULL)
    pk_cli_usage_error ("%s", error->message);
}

/* ------------------------------------------------------------------ */
/* the table */

static void
print_json (JsonNode *node,
            gboolean  pretty)
{
  g_autofree char *text = json_to_string (node, pretty);
  g_print ("%s\n", text);
}

/* ------------------------------------------------------------------ */
/* record */

/* Events of rules whose action says stdout are printed as JSON lines. */
static void
on_alert (PkMetricsMonitor *monitor,
          JsonNode         *event,
          gboolean          to_stdout,
          gpointer          data)
{
  if (!to_stdout)
    return;
  print_json (event, FALSE);
  fflush (stdout);
}

static void
on_sampled (PkMetricsMonitor *monitor,
            JsonNode         *sample,
            gpointer          data)
{
  App *app = data;

  if (app->server != NULL)
    pk_metrics_server_set_last_sample (app->server, sample);
}

static gboolean
on_stop (gpointer data)
{
  App *app = data;

  pk_cli_sd_notify ("STOPPING=1");
  g_main_loop_quit (app->loop);
  return G_SOURCE_CONTINUE;
}

/* SIGHUP: the alert rules are read again (their state starts afresh); a
 * bad file keeps the rules in force. Watched ports and processes and the
 * history settings stay as they were at start. */
static gboolean
on_reload (gpointer data)
{
  App *app = data;
  g_autoptr(PkConfig) config = pk_config_new ();
  g_autoptr(GError) error = NULL;
  const char *path = opt_config ? opt_config : g_getenv ("PROXYKIT_CONFIG");

  /* serve without --record evaluates no rules; SIGHUP must not kill it
   * (systemctl reload of the unit sends it whatever the flags). */
  if (app->monitor == NULL)
    {
      g_message ("reload: nothing to reload without --record");
      return G_SOURCE_CONTINUE;
    }
  pk_cli_sd_notify ("RELOADING=1");
  if (path == NULL || *path == '\0')
    path = g_file_test (PK_CLI_DEFAULT_CONFIG, G_FILE_TEST_EXISTS) ? PK_CLI_DEFAULT_CONFIG : NULL;
  if (path && !pk_config_load_file (config, path, &error))
    g_warning ("reload: %s; keeping the rules in force", error->message);
  else if (!pk_metrics_monitor_reload_alerts (app->monitor, config, &error))
    g_warning ("reload: %s; keeping the rules in force", error->message);
  else
    g_message ("reload: %u alert rule(s)",
               pk_metrics_alerts_get_n_rules (pk_metrics_monitor_get_alerts (app->monitor)));
  pk_cli_sd_notify ("READY=1");
  return G_SOURCE_CONTINUE;
}

static void
start_recording (App *app)
{
  g_signal_connect (app->monitor, "alert", G_CALLBACK (on_alert), app);
  g_signal_connect (app->monitor, "sampled", G_CALLBACK (on_sampled), app);
  pk_metrics_monitor_start (app->monitor);
}

/* ------------------------------------------------------------------ */
/* serve */

static int
run_serve (App *app)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *listen = NULL;
  g_auto(GStrv) urls = NULL;

  listen = opt_listen ? g_strdup (opt_listen)
                      : pk_config_dup_string (app->config, "metrics", "listen", "PK_METRICS_LISTEN", DEFAULT_LISTEN);
  /* before "serving" is logged, so that whoever waits for it may signal */
  pk_cli_handle_signals (on_stop, on_reload, app);
  app->server = pk_metrics_server_new ();
  pk_metrics_server_set_sampler (app->server, app->sampler);
  pk_metrics_server_set_history_directory (app->server, app->dir);
  if (!pk_metrics_server_listen (app->server, listen, &error))
    {
      if (g_error_matches (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT))
        pk_cli_usage_error ("--listen '%s': %s", listen, error->message);
      pk_cli_die (PK_CLI_EXIT_FAILURE, "%s", error->message);
    }
  urls = pk_metrics_server_dup_urls (app->server);
  for (guint i = 0; urls[i] != NULL; i++)
    g_message ("serving %s", urls[i]);

  if (app->monitor != NULL)
    start_recording (app);
  pk_cli_sd_watchdog_start (NULL, NULL);
  pk_cli_sd_notifyf ("READY=1\nSTATUS=serving on %s", listen);
  g_main_loop_run (app->loop);
  return PK_CLI_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* analyze */

static int
run_analyze (App        *app,
             const char *when)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) result = NULL;
  guint64 window_ms = duration_or_die ("--window", opt_window ? opt_window : "10m");
  gint64 at;

  if (!pk_metrics_parse_time (when, &at, &error))
    pk_cli_usage_error ("%s", error->message);
  if (window_ms == 0)
    pk_cli_usage_error ("--window must be more than 0");
  result = pk_metrics_analyze (app->dir, at, (gint64) window_ms * 1000, &error);
  if (result == NULL)
    pk_cli_die (PK_CLI_EXIT_FAILURE, "%s", error->message);
  if (opt_json)
    print_json (result, TRUE);
  else
    {
      g_autofree char *text = pk_metrics_format_analysis (result);
      g_print ("%s", text);
    }
  return PK_CLI_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* bench: the CPU time of N samples with their exposition, as JSON */

static double
cpu_seconds (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int
run_bench (App        *app,
           const char *count)
{
  g_autoptr(GError) error = NULL;
  guint64 n;
  double start, spent;
  gint64 wall;
  double tcp = -1;

  if (!pk_cli_parse_value (FALSE, count, 1, 1000000, &n, &error))
    pk_cli_usage_error ("bench '%s': %s", count, error->message);
  wall = g_get_monotonic_time ();
  start = cpu_seconds ();
  for (guint64 i = 0; i < n; i++)
    {
      g_autoptr(JsonNode) sample = pk_metrics_sampler_sample (app->sampler, &error);
      g_autofree char *text = NULL;
      JsonObject *root;
      JsonNode *t;

      if (sample == NULL)
        pk_cli_die (PK_CLI_EXIT_FAILURE, "%s", error->message);
      text = pk_metrics_to_prometheus (sample);
      root = json_node_get_object (sample);
      t = json_object_get_member (root, "tcp");
      if (t != NULL && JSON_NODE_HOLDS_OBJECT (t))
        tcp = json_object_get_double_member_with_default (json_node_get_object (t), "total", tcp);
    }
  spent = cpu_seconds () - start;
  g_print ("{\"samples\": %" G_GUINT64_FORMAT ", \"cpu_seconds\": %.6f, \"cpu_ms_per_sample\": %.3f, "
           "\"wall_ms_per_sample\": %.3f, \"tcp_sockets\": %.0f}\n",
           n, spent, spent * 1000 / n, (g_get_monotonic_time () - wall) / 1000.0 / n, tcp);
  return PK_CLI_EXIT_OK;
}

/* ------------------------------------------------------------------ */

int
main (int argc, char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  App app = { 0 };
  const char *command;
  int status = PK_CLI_EXIT_OK;

  pk_cli_init ("pk-metrics");
  context = g_option_context_new ("[record|serve|analyze TIME|bench N] - the health of a proxy node");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
    "With no command, prints one sample as a table (--json, --prometheus).\n"
    "  record             sample every --interval into --dir, with rollups and alerts\n"
    "  serve              serve /metrics, /api/history and /api/sample on --listen\n"
    "  analyze TIME       name the likely causes of a failure at TIME (\"2025-08-20 14:30\")\n");
  pk_cli_parse_options (context, &argc, &argv);
  if (opt_version)
    pk_cli_print_version ();
  if (opt_json && opt_prometheus)
    pk_cli_usage_error ("--json and --prometheus exclude each other");

  command = argc > 1 ? argv[1] : NULL;
  app.config = pk_cli_load_config (opt_config);
  pk_config_set_override (app.config, "metrics", "directory", opt_dir, "--dir");
  pk_config_set_override (app.config, "metrics", "layout", opt_layout, "--layout");
  pk_config_set_override (app.config, "metrics", "interval", opt_interval, "--interval");
  app.dir = pk_config_dup_string (app.config, "metrics", "directory", "PK_METRICS_DIR", DEFAULT_DIR);
  app.loop = g_main_loop_new (NULL, FALSE);
  setup_sampler (&app);

  if (command == NULL)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) sample = NULL;
      guint64 delay = duration_or_die ("--delay", opt_delay ? opt_delay : "1s");

      if (argc > 1)
        pk_cli_usage_error ("unexpected argument '%s'", argv[1]);
      if (delay > 0)
        {
          g_autoptr(JsonNode) first = pk_metrics_sampler_sample (app.sampler, &error);
          if (first == NULL)
            pk_cli_die (PK_CLI_EXIT_FAILURE, "%s", error->message);
          g_usleep (delay * 1000);
        }
      sample = pk_metrics_sampler_sample (app.sampler, &error);
      if (sample == NULL)
        pk_cli_die (PK_CLI_EXIT_FAILURE, "%s", error->message);
      if (opt_prometheus)
        {
          g_autofree char *text = pk_metrics_to_prometheus (sample);
          g_print ("%s", text);
        }
      else if (opt_json)
        print_json (sample, TRUE);
      else
        {
          g_autofree char *table = pk_metrics_format_table (sample);
          g_print ("%s", table);
        }
    }
  else if (strcmp (command, "record") == 0)
    {
      if (argc > 2)
        pk_cli_usage_error ("record: unexpected argument '%s'", argv[2]);
      setup_monitor (&app);
      start_recording (&app);
      pk_cli_handle_signals (on_stop, on_reload, &app);
      pk_cli_sd_watchdog_start (NULL, NULL);
      pk_cli_sd_notifyf ("READY=1\nSTATUS=recording into %s", app.dir);
      g_main_loop_run (app.loop);
    }
  else if (strcmp (command, "serve") == 0)
    {
      if (argc > 2)
        pk_cli_usage_error ("serve: unexpected argument '%s'", argv[2]);
      if (opt_record)
        setup_monitor (&app);
      status = run_serve (&app);
    }
  else if (strcmp (command, "analyze") == 0)
    {
      if (argc != 3)
        pk_cli_usage_error ("analyze needs one TIME, such as \"2025-08-20 14:30\"");
      status = run_analyze (&app, argv[2]);
    }
  else if (strcmp (command, "bench") == 0)
    {
      if (argc != 3)
        pk_cli_usage_error ("bench needs a sample count");
      status = run_bench (&app, argv[2]);
    }
  else
    pk_cli_usage_error ("unknown command '%s' (record, serve, analyze)", command);

  g_clear_object (&app.server);
  g_clear_object (&app.sampler);
  g_clear_object (&app.monitor);
  g_clear_object (&app.config);
  g_main_loop_unref (app.loop);
  g_free (app.dir);
  return status;
}
