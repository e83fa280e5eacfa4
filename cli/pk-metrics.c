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
#define HOUR_US (G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC)
/* 9999-12-31T23:59:59Z, the last second GDateTime can represent: a bound
 * that keeps every time in microseconds far from gint64 overflow */
#define MAX_UNIX_SECONDS 253402300799.0

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

static const char * const metrics_keys[] = {
  "directory", "interval", "listen", "watch-ports", "watch-processes", "layout",
  "retention-days", "max-size", "hourly-days", "daily-days", NULL
};

typedef struct {
  PkConfig *config;
  PkMetricsSampler *sampler;
  PkMetricsRecorder *recorder;
  PkMetricsAlerts *alerts;
  JsonNode *last;
  GMainLoop *loop;
  char *dir;
  guint64 interval_ms;
} App;

/* ------------------------------------------------------------------ */
/* value parsing */

static gboolean
parse_duration (const char *text,
                      guint64    *ms,
                      GError    **error)
{
  return pk_cli_parse_value (TRUE, text, 0, 0, ms, error);
}

static gboolean
parse_uint (const char *text,
               guint64     min,
               guint64     max,
               guint64    *out,
               GError    **error)
{
  return pk_cli_parse_value (FALSE, text, min, max, out, error);
}

/* ADDR:PORT with an IP literal (no name lookups); port 0 picks one, which
 * the "serving" message names */
static GSocketAddress *
parse_listen (const char  *text,
              GError     **error)
{
  g_autoptr(GSocketConnectable) na = g_network_address_parse (text, 0, error);
  g_autoptr(GInetAddress) ip = NULL;

  if (na == NULL)
    return NULL;
  ip = g_inet_address_new_from_string (g_network_address_get_hostname (G_NETWORK_ADDRESS (na)));
  if (ip == NULL)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT, "expected IP:PORT (an IP address)");
      return NULL;
    }
  return g_inet_socket_address_new (ip, g_network_address_get_port (G_NETWORK_ADDRESS (na)));
}

/* ------------------------------------------------------------------ */
/* setup */

static guint64
duration_or_die (const char *flag,
                 const char *value)
{
  g_autoptr(GError) error = NULL;
  guint64 ms = 0;

  if (!parse_duration (value, &ms, &error))
    pk_cli_usage_error ("%s '%s': %s", flag, value, error->message);
  return ms;
}

static guint64
parse_size (const char *where,
            const char *text)
{
  char *end = NULL;
  double v = g_ascii_strtod (text, &end);
  guint64 mult = 1;

  if (end == text || v < 0)
    pk_cli_usage_error ("%s: '%s' is not a size (such as 5G, 500M)", where, text);
  switch (g_ascii_toupper (*end))
    {
    case 'K': mult = 1000; end++; break;
    case 'M': mult = 1000 * 1000; end++; break;
    case 'G': mult = 1000 * 1000 * 1000; end++; break;
    case 'T': mult = G_GUINT64_CONSTANT (1000) * 1000 * 1000 * 1000; end++; break;
    default: break;
    }
  if (*end == 'B' || *end == 'b')
    end++;
  if (*end != '\0')
    pk_cli_usage_error ("%s: '%s' is not a size (such as 5G, 500M)", where, text);
  return (guint64) (v * mult);
}

static void
add_port (App        *app,
          const char *where,
          const char *text)
{
  g_autoptr(GError) error = NULL;
  guint64 port;

  if (!parse_uint (text, 1, 65535, &port, &error))
    pk_cli_usage_error ("%s '%s': %s", where, text, error->message);
  pk_metrics_sampler_add_watch_port (app->sampler, port);
}

static void
setup_sampler (App *app)
{
  g_autofree char *ports = NULL;
  g_autofree char *procs = NULL;
  g_auto(GStrv) socks = NULL;

  app->sampler = pk_metrics_sampler_new ();
  if (opt_proc_root)
    pk_metrics_sampler_set_proc_root (app->sampler, opt_proc_root);
  if (opt_sys_root)
    pk_metrics_sampler_set_sys_root (app->sampler, opt_sys_root);

  for (guint i = 0; opt_ports && opt_ports[i]; i++)
    add_port (app, "--watch-port", opt_ports[i]);
  ports = pk_config_dup_string (app->config, "metrics", "watch-ports", "PK_METRICS_WATCH_PORTS", NULL);
  if (ports)
    {
      g_auto(GStrv) parts = g_strsplit_set (ports, ", ", -1);
      g_autofree char *where = pk_config_describe (app->config, "metrics", "watch-ports");

      for (guint i = 0; parts[i]; i++)
        if (*parts[i])
          add_port (app, where, parts[i]);
    }
  /* the SOCKS listeners of the same configuration are watched as well */
  socks = pk_config_list_sections (app->config, "socks");
  for (guint i = 0; socks[i]; i++)
    {
      g_autofree char *section = g_strconcat ("socks:", socks[i], NULL);
      g_autofree char *listen = pk_config_dup_string (app->config, section, "listen", NULL, NULL);
      g_autoptr(GSocketConnectable) na = listen ? g_network_address_parse (listen, 0, NULL) : NULL;

      if (na && g_network_address_get_port (G_NETWORK_ADDRESS (na)) > 0)
        pk_metrics_sampler_add_watch_port (app->sampler, g_network_address_get_port (G_NETWORK_ADDRESS (na)));
    }

  for (guint i = 0; opt_pids && opt_pids[i]; i++)
    {
      g_autoptr(GError) error = NULL;
      guint64 pid;

      if (!parse_uint (opt_pids[i], 1, G_MAXINT, &pid, &error))
        pk_cli_usage_error ("--watch-pid '%s': %s", opt_pids[i], error->message);
      pk_metrics_sampler_add_watch_pid (app->sampler, pid);
    }
  for (guint i = 0; opt_processes && opt_processes[i]; i++)
    pk_metrics_sampler_add_watch_process (app->sampler, opt_processes[i]);
  procs = pk_config_dup_string (app->config, "metrics", "watch-processes", "PK_METRICS_WATCH_PROCESSES", NULL);
  if (procs)
    {
      g_auto(GStrv) parts = g_strsplit_set (procs, ", ", -1);

      for (guint i = 0; parts[i]; i++)
        if (*parts[i])
          pk_metrics_sampler_add_watch_process (app->sampler, parts[i]);
    }
}

static void
setup_history (App *app)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *layout = NULL;
  g_autofree char *max_size = NULL;
  guint64 raw_days, hourly_days, daily_days, max_bytes = G_GUINT64_CONSTANT (5000000000);

  if (opt_interval)
    app->interval_ms = duration_or_die ("--interval", opt_interval);
  else if (!pk_config_get_duration_ms (app->config, "metrics", "interval", "PK_METRICS_INTERVAL",
                                       10000, &app->interval_ms, &error))
    pk_cli_usage_error ("%s", error->message);
  if (app->interval_ms < 100)
    pk_cli_usage_error ("--interval: at least 100ms");

  if (!pk_config_get_uint (app->config, "metrics", "retention-days", NULL, 0, 100000, 7, &raw_days, &error) ||
      !pk_config_get_uint (app->config, "metrics", "hourly-days", NULL, 0, 100000, 30, &hourly_days, &error) ||
      !pk_config_get_uint (app->config, "metrics", "daily-days", NULL, 0, 100000, 365, &daily_days, &error))
    pk_cli_usage_error ("%s", error->message);
  max_size = pk_config_dup_string (app->config, "metrics", "max-size", NULL, NULL);
  if (max_size)
    {
      g_autofree char *where = pk_config_describe (app->config, "metrics", "max-size");
      max_bytes = parse_size (where, max_size);
    }

  app->recorder = pk_metrics_recorder_new (app->dir);
  pk_metrics_recorder_set_retention (app->recorder, raw_days, max_bytes, hourly_days, daily_days);
  layout = opt_layout ? g_strdup (opt_layout) : pk_config_dup_string (app->config, "metrics", "layout", NULL, "hour");
  if (g_strcmp0 (layout, "day") == 0 || g_strcmp0 (layout, "daily") == 0)
    pk_metrics_recorder_set_layout (app->recorder, PK_METRICS_FILE_DAILY);
  else if (g_strcmp0 (layout, "hour") != 0 && g_strcmp0 (layout, "hourly") != 0)
    pk_cli_usage_error ("layout '%s': expected hour or day", layout);

  app->alerts = pk_metrics_alerts_new_from_config (app->config, &error);
  if (app->alerts == NULL)
    pk_cli_usage_error ("%s", error->message);
}

/* ------------------------------------------------------------------ */
/* the table */

static JsonObject *
obj (JsonObject *o,
     const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;
  return n && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

static gboolean
num (JsonObject *o,
     const char *name,
     double     *v)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n))
    return FALSE;
  *v = json_node_get_value_type (n) == G_TYPE_INT64 ? json_node_get_int (n) : json_node_get_double (n);
  return TRUE;
}

static char *
fmt_num (JsonObject *o,
         const char *name,
         int         decimals,
         const char *suffix)
{
  double v;

  if (!num (o, name, &v))
    return g_strdup ("-");
  return g_strdup_printf ("%.*f%s", decimals, v, suffix);
}

/* g_format_size() puts a no-break space between number and unit, which
 * a C-locale terminal shows as '?' */
static char *
plain_spaces (char *s)
{
  GString *str = g_string_new (s);

  g_free (s);
  g_string_replace (str, "\u00a0", " ", 0);
  return g_string_free (str, FALSE);
}

static char *
fmt_bytes (double v)
{
  return plain_spaces (g_format_size_full ((guint64) v, G_FORMAT_SIZE_IEC_UNITS));
}

static char *
fmt_rate (JsonObject *o,
          const char *name)
{
  double v;
  g_autofree char *s = NULL;

  if (!num (o, name, &v))
    return g_strdup ("-");
  s = plain_spaces (g_format_size ((guint64) v));
  return g_strconcat (s, "/s", NULL);
}

static void
print_states (const char *label,
              JsonObject *states)
{
  g_autoptr(GList) names = json_object_get_members (states);
  gboolean any = FALSE;

  g_print ("%-12s", label);
  for (GList *l = names; l; l = l->next)
    {
      double v;
      if (num (states, l->data, &v) && v > 0)
        {
          g_print (" %s %.0f", (char *) l->data, v);
          any = TRUE;
        }
    }
  g_print ("%s\n", any ? "" : " none");
}

static void
print_table (JsonNode *sample)
{
  JsonObject *root = json_node_get_object (sample);
  JsonObject *o, *p;
  double v, w;

  g_print ("%-12s %s  host %s\n", "time", json_object_get_string_member_with_default (root, "time", "?"),
           json_object_get_string_member_with_default (root, "host", "?"));

  o = obj (root, "cpu");
  if (o)
    {
      g_autofree char *busy = fmt_num (obj (o, "total"), "busy_pct", 1, "%");
      g_autofree char *iowait = fmt_num (obj (o, "total"), "iowait_pct", 1, "%");
      g_autofree char *steal = fmt_num (obj (o, "total"), "steal_pct", 1, "%");
      g_autoptr(GList) cores = json_object_get_members (obj (o, "cores"));

      g_print ("%-12s busy %s  iowait %s  steal %s  |", "cpu", busy, iowait, steal);
      for (GList *l = cores; l; l = l->next)
        {
          g_autofree char *c = fmt_num (obj (obj (o, "cores"), l->data), "busy_pct", 0, "%");
          g_print (" %s %s", (char *) l->data, c);
        }
      g_print ("\n");
    }
  else
    g_print ("%-12s absent\n", "cpu");

  o = obj (root, "load");
  if (o)
    {
      g_autofree char *a = fmt_num (o, "1m", 2, "");
      g_autofree char *b = fmt_num (o, "5m", 2, "");
      g_autofree char *c = fmt_num (o, "15m", 2, "");
      g_print ("%-12s %s %s %s\n", "load", a, b, c);
    }
  else
    g_print ("%-12s absent\n", "load");

  o = obj (root, "memory");
  if (o && num (o, "total_bytes", &v))
    {
      g_autofree char *total = fmt_bytes (v);
      g_autofree char *avail = num (o, "available_bytes", &w) ? fmt_bytes (w) : g_strdup ("-");
      g_autofree char *used = fmt_num (o, "used_pct", 1, "%");
      g_print ("%-12s used %s  available %s of %s\n", "memory", used, avail, total);
    }
  else
    g_print ("%-12s absent\n", "memory");

  o = obj (root, "tcp");
  if (o)
    {
      g_autoptr(GList) ports = json_object_get_members (obj (o, "ports"));

      num (o, "total", &v);
      g_print ("%-12s %.0f sockets\n", "tcp", v);
      print_states ("  states", obj (o, "states"));
      for (GList *l = ports; l; l = l->next)
        {
          g_autofree char *label = g_strdup_printf ("  port %s", (char *) l->data);
          print_states (label, obj (obj (o, "ports"), l->data));
        }
      print_states ("  to :443", obj (o, "remote_443"));
    }
  else
    g_print ("%-12s absent\n", "tcp");

  o = obj (root, "ephemeral_ports");
  if (o)
    {
      g_autofree char *in_use = fmt_num (o, "in_use", 0, "");
      g_autofree char *pct = fmt_num (o, "used_pct", 1, "%");
      num (o, "size", &v);
      g_print ("%-12s %s in use of %.0f (%s)\n", "ephemeral", in_use, v, pct);
    }
  else
    g_print ("%-12s absent\n", "ephemeral");

  o = obj (root, "sockstat");
  if (o && (p = obj (o, "TCP")) != NULL)
    {
      g_autofree char *inuse = fmt_num (p, "inuse", 0, "");
      g_autofree char *orphan = fmt_num (p, "orphan", 0, "");
      g_autofree char *tw = fmt_num (p, "tw", 0, "");
      g_autofree char *mem = fmt_num (p, "mem", 0, "");
      g_print ("%-12s TCP inuse %s  orphan %s  tw %s  mem %s pages\n", "sockstat", inuse, orphan, tw, mem);
    }
  else
    g_print ("%-12s absent\n", "sockstat");

  o = obj (root, "conntrack");
  if (o)
    {
      g_autofree char *n_entries = fmt_num (o, "entries", 0, "");
      g_autofree char *limit = fmt_num (o, "limit", 0, "");
      g_autofree char *pct = fmt_num (o, "used_pct", 1, "%");
      g_autofree char *drop = fmt_num (obj (o, "stats"), "drop", 0, "");
      g_autofree char *ins = fmt_num (obj (o, "stats"), "insert_failed", 0, "");
      g_print ("%-12s %s of %s (%s)  drop %s  insert_failed %s\n", "conntrack", n_entries, limit, pct, drop, ins);
    }
  else
    g_print ("%-12s absent\n", "conntrack");

  o = obj (root, "softnet");
  if (o)
    {
      g_autofree char *dropped = fmt_num (o, "dropped", 0, "");
      g_autofree char *rate = fmt_num (o, "dropped_per_s", 2, "/s");
      g_autofree char *squeeze = fmt_num (o, "time_squeeze", 0, "");
      g_print ("%-12s dropped %s (%s)  time_squeeze %s\n", "softnet", dropped, rate, squeeze);
    }
  else
    g_print ("%-12s absent\n", "softnet");

  o = obj (root, "interfaces");
  if (o)
    {
      g_autoptr(GList) names = g_list_sort (json_object_get_members (o), (GCompareFunc) strcmp);

      g_print ("interfaces\n");
      for (GList *l = names; l; l = l->next)
        {
          JsonObject *i = obj (o, l->data);
          g_autofree char *rx = fmt_rate (i, "rx_bytes_per_s");
          g_autofree char *tx = fmt_rate (i, "tx_bytes_per_s");
          g_autofree char *rd = fmt_num (i, "rx_drops", 0, "");
          g_autofree char *td = fmt_num (i, "tx_drops", 0, "");
          g_autofree char *re = fmt_num (i, "rx_errors", 0, "");
          g_autofree char *te = fmt_num (i, "tx_errors", 0, "");

          g_print ("  %-10s rx %-12s tx %-12s drops %s/%s  errors %s/%s\n",
                   (char *) l->data, rx, tx, rd, td, re, te);
        }
    }

  o = obj (root, "processes");
  if (o && json_object_get_size (o) > 0)
    {
      g_autoptr(GList) pids = json_object_get_members (o);

      g_print ("processes\n");
      for (GList *l = pids; l; l = l->next)
        {
          JsonObject *pr = obj (o, l->data);
          g_autofree char *rss = num (pr, "rss_bytes", &v) ? fmt_bytes (v) : g_strdup ("-");
          g_autofree char *threads = fmt_num (pr, "threads", 0, "");
          g_autofree char *fds = fmt_num (pr, "open_fds", 0, "");
          g_autofree char *cpu = fmt_num (pr, "cpu_pct", 1, "%");

          g_print ("  %-7s %-16s rss %-10s threads %-4s fds %-6s cpu %s\n", (char *) l->data,
                   json_object_get_string_member_with_default (pr, "name", "?"), rss, threads, fds, cpu);
        }
    }
  {
    JsonArray *missing = json_object_get_array_member (root, "processes_missing");
    for (guint i = 0; missing && i < json_array_get_length (missing); i++)
      g_print ("%-12s %s is not running\n", i == 0 ? "missing" : "", json_array_get_string_element (missing, i));
  }
}

static void
print_json (JsonNode *node,
            gboolean  pretty)
{
  g_autofree char *text = json_to_string (node, pretty);
  g_print ("%s\n", text);
}

/* ------------------------------------------------------------------ */
/* record */

static void
take_and_record (App *app)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) sample = pk_metrics_sampler_sample (app->sampler, &error);
  g_autoptr(JsonNode) events = NULL;
  JsonArray *arr;

  if (sample == NULL)
    g_warning ("sample failed: %s", error->message);
  else if (app->recorder && !pk_metrics_recorder_append (app->recorder, sample, &error))
    g_warning ("%s", error->message);

  if (app->alerts)
    {
      events = pk_metrics_alerts_evaluate (app->alerts, sample, g_get_real_time ());
      arr = json_node_get_array (events);
      for (guint i = 0; i < json_array_get_length (arr); i++)
        if (pk_metrics_alerts_event_wants_stdout (app->alerts, json_array_get_element (arr, i)))
          {
            print_json (json_array_get_element (arr, i), FALSE);
            fflush (stdout);
          }
    }
  if (sample)
    {
      g_clear_pointer (&app->last, json_node_unref);
      app->last = g_steal_pointer (&sample);
    }
}

static gboolean
on_tick (gpointer data)
{
  take_and_record (data);
  return G_SOURCE_CONTINUE;
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
  g_autoptr(PkMetricsAlerts) alerts = NULL;
  g_autoptr(GError) error = NULL;
  const char *path = opt_config ? opt_config : g_getenv ("PROXYKIT_CONFIG");

  /* serve without --record evaluates no rules; SIGHUP must not kill it
   * (systemctl reload of the unit sends it whatever the flags). */
  if (app->recorder == NULL)
    {
      g_message ("reload: nothing to reload without --record");
      return G_SOURCE_CONTINUE;
    }
  pk_cli_sd_notify ("RELOADING=1");
  if (path == NULL || *path == '\0')
    path = g_file_test (PK_CLI_DEFAULT_CONFIG, G_FILE_TEST_EXISTS) ? PK_CLI_DEFAULT_CONFIG : NULL;
  if (path && !pk_config_load_file (config, path, &error))
    g_warning ("reload: %s; keeping the rules in force", error->message);
  else if ((alerts = pk_metrics_alerts_new_from_config (config, &error)) == NULL)
    g_warning ("reload: %s; keeping the rules in force", error->message);
  else
    {
      g_message ("reload: %u alert rule(s)", pk_metrics_alerts_get_n_rules (alerts));
      g_set_object (&app->alerts, alerts);
    }
  pk_cli_sd_notify ("READY=1");
  return G_SOURCE_CONTINUE;
}

static void
start_recording (App *app)
{
  take_and_record (app);
  g_timeout_add (app->interval_ms, on_tick, app);
}

/* ------------------------------------------------------------------ */
/* serve */

static gboolean
parse_time (const char *text,
            gint64     *out_us)
{
  g_autoptr(GTimeZone) local = g_time_zone_new_local ();
  g_autoptr(GDateTime) dt = NULL;
  g_autofree char *iso = NULL;
  guint64 ms;
  char *end;
  double secs;

  if (text == NULL || *text == '\0')
    return FALSE;
  /* unix seconds */
  secs = g_ascii_strtod (text, &end);
  if (*end == '\0' && end != text)
    {
      /* "nan" fails both comparisons; "inf" and 1e20 the second */
      if (!(secs >= 0 && secs <= MAX_UNIX_SECONDS))
        return FALSE;
      *out_us = (gint64) (secs * G_USEC_PER_SEC);
      return TRUE;
    }
  /* a duration: that long ago, and not before 1970 */
  if (parse_duration (text, &ms, NULL))
    {
      gint64 now = g_get_real_time ();

      if (ms > (guint64) (now / 1000))
        return FALSE;
      *out_us = now - (gint64) ms * 1000;
      return TRUE;
    }
  /* "2025-08-20 14:30" (local time), "2025-08-20T14:30:00Z", ... */
  iso = g_strdup (text);
  if (strlen (iso) > 10 && iso[10] == ' ')
    iso[10] = 'T';
  if (strlen (iso) == 16)
    {
      char *longer = g_strconcat (iso, ":00", NULL);
      g_free (iso);
      iso = longer;
    }
  else if (strlen (iso) == 10)
    {
      char *longer = g_strconcat (iso, "T00:00:00", NULL);
      g_free (iso);
      iso = longer;
    }
  dt = g_date_time_new_from_iso8601 (iso, local);
  if (dt == NULL)
    return FALSE;
  *out_us = g_date_time_to_unix (dt) * G_USEC_PER_SEC + g_date_time_get_microsecond (dt);
  return TRUE;
}

static void
reply (SoupServerMessage *msg,
       guint              status,
       const char        *type,
       char              *body)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, type, SOUP_MEMORY_TAKE, body, strlen (body));
}

static void
on_metrics (SoupServer        *server,
            SoupServerMessage *msg,
            const char        *path,
            GHashTable        *query,
            gpointer           data)
{
  App *app = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) sample = NULL;

  if (strcmp (soup_server_message_get_method (msg), "GET") != 0 &&
      strcmp (soup_server_message_get_method (msg), "HEAD") != 0)
    {
      reply (msg, 405, "text/plain", g_strdup ("GET only\n"));
      return;
    }
  /* a fresh sample per scrape, from the same sampler, so that the
   * percentages cover the time since the previous scrape or tick */
  sample = pk_metrics_sampler_sample (app->sampler, &error);
  if (sample == NULL)
    {
      reply (msg, 500, "text/plain", g_strdup_printf ("%s\n", error->message));
      return;
    }
  reply (msg, 200, "text/plain; version=0.0.4; charset=utf-8", pk_metrics_to_prometheus (sample));
}

static void
on_history (SoupServer        *server,
            SoupServerMessage *msg,
            const char        *path,
            GHashTable        *query,
            gpointer           data)
{
  App *app = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) history = NULL;
  const char *since_s = query ? g_hash_table_lookup (query, "since") : NULL;
  const char *until_s = query ? g_hash_table_lookup (query, "until") : NULL;
  const char *res = query ? g_hash_table_lookup (query, "resolution") : NULL;
  PkMetricsResolution resolution = PK_METRICS_RESOLUTION_RAW;
  gint64 since, until = G_MAXINT64;

  if (!parse_time (since_s ? since_s : "1h", &since) || (until_s && !parse_time (until_s, &until)))
    {
      reply (msg, 400, "text/plain",
             g_strdup ("since/until: unix seconds (0 to 253402300799), ISO 8601, 'YYYY-MM-DD HH:MM' "
                       "or a duration ago (1h)\n"));
      return;
    }
  if (until < since)
    {
      reply (msg, 400, "text/plain", g_strdup ("until is before since\n"));
      return;
    }
  if (res == NULL || strcmp (res, "raw") == 0)
    resolution = PK_METRICS_RESOLUTION_RAW;
  else if (strcmp (res, "hour") == 0)
    resolution = PK_METRICS_RESOLUTION_HOUR;
  else if (strcmp (res, "day") == 0)
    resolution = PK_METRICS_RESOLUTION_DAY;
  else
    {
      reply (msg, 400, "text/plain", g_strdup ("resolution: raw, hour or day\n"));
      return;
    }
  /* raw samples are a few kB each: a week of them is too much for one
   * answer, which is what the rollups are for */
  if (resolution == PK_METRICS_RESOLUTION_RAW &&
      MIN (until, g_get_real_time () + HOUR_US) - since > 48 * HOUR_US)
    {
      reply (msg, 400, "text/plain",
             g_strdup ("more than 48 hours of raw samples: ask for resolution=hour or day\n"));
      return;
    }
  history = pk_metrics_history_read (app->dir, resolution, since, until, &error);
  if (history == NULL)
    {
      reply (msg, 404, "text/plain", g_strdup_printf ("%s\n", error->message));
      return;
    }
  reply (msg, 200, "application/json", json_to_string (history, FALSE));
}

static void
on_sample (SoupServer        *server,
           SoupServerMessage *msg,
           const char        *path,
           GHashTable        *query,
           gpointer           data)
{
  App *app = data;

  if (app->last == NULL)
    take_and_record (app);
  if (app->last == NULL)
    reply (msg, 503, "text/plain", g_strdup ("no sample yet\n"));
  else
    reply (msg, 200, "application/json", json_to_string (app->last, FALSE));
}

static int
run_serve (App *app)
{
  g_autoptr(SoupServer) server = soup_server_new ("server-header", "pk-metrics", NULL);
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *listen = NULL;
  g_autoptr(GSList) uris = NULL;

  listen = opt_listen ? g_strdup (opt_listen)
                      : pk_config_dup_string (app->config, "metrics", "listen", "PK_METRICS_LISTEN", DEFAULT_LISTEN);
  address = parse_listen (listen, &error);
  if (address == NULL)
    pk_cli_usage_error ("--listen '%s': %s", listen, error->message);

  /* before "serving" is logged, so that whoever waits for it may signal */
  pk_cli_handle_signals (on_stop, on_reload, app);
  soup_server_add_handler (server, "/metrics", on_metrics, app, NULL);
  soup_server_add_handler (server, "/api/history", on_history, app, NULL);
  soup_server_add_handler (server, "/api/sample", on_sample, app, NULL);
  if (!soup_server_listen (server, address, 0, &error))
    pk_cli_die (PK_CLI_EXIT_FAILURE, "listen on %s: %s", listen, error->message);
  uris = soup_server_get_uris (server);
  for (GSList *l = uris; l; l = l->next)
    {
      g_autofree char *s = g_uri_to_string (l->data);
      g_message ("serving %smetrics", s);
    }
  g_slist_free_full (g_steal_pointer (&uris), (GDestroyNotify) g_uri_unref);

  if (opt_record)
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
  JsonObject *o;
  JsonArray *suspects;
  gint64 at;

  if (!parse_time (when, &at))
    pk_cli_usage_error ("'%s' is not a time (such as \"2025-08-20 14:30\", local time)", when);
  if (window_ms == 0)
    pk_cli_usage_error ("--window must be more than 0");
  result = pk_metrics_analyze (app->dir, at, (gint64) window_ms * 1000, &error);
  if (result == NULL)
    pk_cli_die (PK_CLI_EXIT_FAILURE, "%s", error->message);
  if (opt_json)
    {
      print_json (result, TRUE);
      return PK_CLI_EXIT_OK;
    }
  o = json_node_get_object (result);
  suspects = json_object_get_array_member (o, "suspects");
  g_print ("%" G_GINT64_FORMAT " samples from %s to %s\n", json_object_get_int_member (o, "samples"),
           json_object_get_string_member_with_default (o, "from", "?"),
           json_object_get_string_member_with_default (o, "to", "?"));
  if (json_array_get_length (suspects) == 0)
    g_print ("No suspects: ephemeral ports, TIME_WAIT to :443, conntrack, drops and watched processes look normal.\n");
  for (guint i = 0; i < json_array_get_length (suspects); i++)
    {
      JsonObject *s = json_array_get_object_element (suspects, i);
      JsonObject *ev = json_object_get_object_member (s, "evidence");
      g_autoptr(GList) keys = json_object_get_members (ev);

      g_print ("\n[%s] %s\n", json_object_get_string_member (s, "cause"),
               json_object_get_string_member (s, "summary"));
      for (GList *l = keys; l; l = l->next)
        {
          JsonNode *n = json_object_get_member (ev, l->data);
          g_autofree char *v = json_node_get_value_type (n) == G_TYPE_STRING
                                 ? g_strdup (json_node_get_string (n))
                                 : g_strdup_printf ("%g", json_node_get_double (n));
          g_print ("    %-14s %s\n", (char *) l->data, v);
        }
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

  if (!parse_uint (count, 1, 1000000, &n, &error))
    pk_cli_usage_error ("bench '%s': %s", count, error->message);
  wall = g_get_monotonic_time ();
  start = cpu_seconds ();
  for (guint64 i = 0; i < n; i++)
    {
      g_autoptr(JsonNode) sample = pk_metrics_sampler_sample (app->sampler, &error);
      g_autofree char *text = NULL;
      JsonObject *t;

      if (sample == NULL)
        pk_cli_die (PK_CLI_EXIT_FAILURE, "%s", error->message);
      text = pk_metrics_to_prometheus (sample);
      t = obj (json_node_get_object (sample), "tcp");
      if (t)
        num (t, "total", &tcp);
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
  {
    g_autoptr(GError) error = NULL;
    if (pk_config_has_section (app.config, "metrics") &&
        !pk_config_check_keys (app.config, "metrics", metrics_keys, &error))
      pk_cli_usage_error ("%s", error->message);
  }
  app.dir = opt_dir ? g_strdup (opt_dir)
                    : pk_config_dup_string (app.config, "metrics", "directory", "PK_METRICS_DIR", DEFAULT_DIR);
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
        print_table (sample);
    }
  else if (strcmp (command, "record") == 0)
    {
      if (argc > 2)
        pk_cli_usage_error ("record: unexpected argument '%s'", argv[2]);
      setup_history (&app);
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
        setup_history (&app);
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

  g_clear_pointer (&app.last, json_node_unref);
  g_clear_object (&app.sampler);
  g_clear_object (&app.recorder);
  g_clear_object (&app.alerts);
  g_clear_object (&app.config);
  g_main_loop_unref (app.loop);
  g_free (app.dir);
  return status;
}
