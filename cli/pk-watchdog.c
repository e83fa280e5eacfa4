/* pk-watchdog: watch the PPTP tunnels of proxy nodes, act on confirmed failures
 *
 * Every node in the state directory (and every [tunnel:NAME] section of
 * the configuration) that is online with a tunnel is looked after by a
 * PkNodeSupervisor: a watchdog over its tunnel (pppd alive and pppN up,
 * and with --check-socks a SOCKS round trip through its listener), the
 * failure actions on a confirmed failure (listener stopped, tunnel
 * destroyed, status ping_failed, fails += 1) and, with --recover, the
 * recovery with backoff. This file parses the flags, hands them to the
 * library as [watchdog] overrides, and prints.
 *
 * With --dongles (or [watchdog] dongles = true), every dongle on USB is
 * watched too, and recovered through the toggle ladder: PkDongleWatch.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <stdio.h>

#include "pk-cli-common.h"

static char *opt_interval;
static char *opt_retry_delay;
static char *opt_retries;
static char *opt_rise;
static char *opt_timeout;
static char *opt_jitter;
static char *opt_state_dir;
static char *opt_run_dir;
static char *opt_config;
static char **opt_nodes;
static gboolean opt_check_socks;
static char *opt_socks_target;
static gboolean opt_recover;
static char *opt_recover_delay;
static char *opt_recover_max_delay;
static char *opt_pppd;
static char *opt_socks_command;
static gboolean opt_once;
static gboolean opt_status;
static gboolean opt_json;
static gboolean opt_version;
static char *opt_metrics_listen;
static gboolean opt_dongles;
static char *opt_dongle_interval;
static char *opt_dongle_retry_delay;
static char *opt_dongle_retries;
static char *opt_dongle_cooldown;
static char *opt_max_recoveries;
static gboolean opt_allow_controller_reset;

static const GOptionEntry entries[] = {
  { "interval", 'i', 0, G_OPTION_ARG_STRING, &opt_interval, "Time between check rounds (WATCHDOG_CHECK_INTERVAL, default 180s)", "DURATION" },
  { "retry-delay", 0, 0, G_OPTION_ARG_STRING, &opt_retry_delay, "Time between checks while a failure is confirmed (WATCHDOG_RETRY_DELAY, default 30s)", "DURATION" },
  { "retries", 0, 0, G_OPTION_ARG_STRING, &opt_retries, "Failed checks in a row that confirm a failure (WATCHDOG_PPTP_RETRIES, default 3)", "N" },
  { "rise", 0, 0, G_OPTION_ARG_STRING, &opt_rise, "Passed checks in a row that confirm a recovery (default 2)", "N" },
  { "timeout", 0, 0, G_OPTION_ARG_STRING, &opt_timeout, "Timeout of each check (default 30s)", "DURATION" },
  { "jitter", 0, 0, G_OPTION_ARG_STRING, &opt_jitter, "Random delay added to each round (default 0)", "DURATION" },
  { "state-dir", 's', 0, G_OPTION_ARG_FILENAME, &opt_state_dir, "Node state directory (default " PK_STATE_DIR_DEFAULT ")", "DIR" },
  { "run-dir", 0, 0, G_OPTION_ARG_FILENAME, &opt_run_dir, "Where pppd writes its pidfiles (default " PK_TUNNEL_RUN_DIR_DEFAULT ")", "DIR" },
  { "config", 'c', 0, G_OPTION_ARG_FILENAME, &opt_config, "Configuration file", "FILE" },
  { "node", 'n', 0, G_OPTION_ARG_STRING_ARRAY, &opt_nodes, "Watch only this node (repeatable)", "NAME" },
  { "check-socks", 0, 0, G_OPTION_ARG_NONE, &opt_check_socks, "Also check a SOCKS round trip through each node's listener", NULL },
  { "socks-target", 0, 0, G_OPTION_ARG_STRING, &opt_socks_target, "Destination of the SOCKS check (default 1.1.1.1:443)", "HOST:PORT" },
  { "recover", 'r', 0, G_OPTION_ARG_NONE, &opt_recover, "Bring failed nodes back (tunnel, startup check, listener) with backoff", NULL },
  { "recover-delay", 0, 0, G_OPTION_ARG_STRING, &opt_recover_delay, "First recovery delay, doubled after each failed attempt (default 10s)", "DURATION" },
  { "recover-max-delay", 0, 0, G_OPTION_ARG_STRING, &opt_recover_max_delay, "Longest recovery delay (default 10m)", "DURATION" },
  { "pppd", 0, 0, G_OPTION_ARG_FILENAME, &opt_pppd, "pppd binary for recovery (default " PK_TUNNEL_PPPD_PATH_DEFAULT ")", "PATH" },
  { "socks-command", 0, 0, G_OPTION_ARG_FILENAME, &opt_socks_command, "pk-socks binary that recovery starts (default: pk-socks in PATH)", "PATH" },
  { "once", '1', 0, G_OPTION_ARG_NONE, &opt_once, "Check every node once, act, and exit (for cron)", NULL },
  { "status", 0, 0, G_OPTION_ARG_NONE, &opt_status, "Print the nodes' state and exit", NULL },
  { "json", 0, 0, G_OPTION_ARG_NONE, &opt_json, "With --status: print JSON", NULL },
  { "dongles", 0, 0, G_OPTION_ARG_NONE, &opt_dongles, "Also watch every dongle on USB and recover a failed one through the toggle ladder", NULL },
  { "dongle-interval", 0, 0, G_OPTION_ARG_STRING, &opt_dongle_interval, "Time between a dongle's checks (default 3m)", "DURATION" },
  { "dongle-retry-delay", 0, 0, G_OPTION_ARG_STRING, &opt_dongle_retry_delay, "Time between a dongle's checks while a failure is confirmed (default 30s)", "DURATION" },
  { "dongle-retries", 0, 0, G_OPTION_ARG_STRING, &opt_dongle_retries, "Failed checks in a row that confirm a dongle's failure (default 2)", "N" },
  { "dongle-cooldown", 0, 0, G_OPTION_ARG_STRING, &opt_dongle_cooldown, "Pause after a dongle's recovery before its next (default: [toggle] recovery_cooldown, 3m)", "DURATION" },
  { "max-recoveries", 0, 0, G_OPTION_ARG_STRING, &opt_max_recoveries, "Dongle recoveries at once on this host (default: [toggle] max_recoveries, 2)", "N" },
  { "allow-controller-reset", 0, 0, G_OPTION_ARG_NONE, &opt_allow_controller_reset, "With --dongles: when 70 % of the dongles fail at once, reset their USB controller (at most once per 10 min)", NULL },
  PK_CLI_OPTION_METRICS_LISTEN (opt_metrics_listen),
  PK_CLI_OPTION_VERBOSE,
  { "version", 'V', 0, G_OPTION_ARG_NONE, &opt_version, "Print the version and exit", NULL },
  { NULL }
};

typedef struct {
  PkConfig *config;
  PkNodeWatch *watch;
  GMainLoop *loop;
  PkMetricsServer *metrics;    /* --metrics */
  GObject *dongles;            /* --dongles: a PkDongleWatch */
} App;

/* The flags win over the environment and [watchdog]: they are the
 * section's overrides, and the library reads them with the rest. */
static void
set_overrides (PkConfig *config)
{
  static const struct { char **value; const char *key; const char *flag; } flags[] = {
    { &opt_interval, "interval", "--interval" },
    { &opt_retry_delay, "retry-delay", "--retry-delay" },
    { &opt_retries, "retries", "--retries" },
    { &opt_rise, "rise", "--rise" },
    { &opt_timeout, "timeout", "--timeout" },
    { &opt_jitter, "jitter", "--jitter" },
    { &opt_state_dir, "state-dir", "--state-dir" },
    { &opt_run_dir, "run-dir", "--run-dir" },
    { &opt_socks_target, "socks-target", "--socks-target" },
    { &opt_recover_delay, "recover-delay", "--recover-delay" },
    { &opt_recover_max_delay, "recover-max-delay", "--recover-max-delay" },
    { &opt_pppd, "pppd", "--pppd" },
    { &opt_socks_command, "socks-command", "--socks-command" },
    { &opt_dongle_interval, "dongle-interval", "--dongle-interval" },
    { &opt_dongle_retry_delay, "dongle-retry-delay", "--dongle-retry-delay" },
    { &opt_dongle_retries, "dongle-retries", "--dongle-retries" },
    { &opt_dongle_cooldown, "dongle-cooldown", "--dongle-cooldown" },
    { &opt_max_recoveries, "max-recoveries", "--max-recoveries" },
  };
  static const struct { gboolean *value; const char *key; const char *flag; } switches[] = {
    { &opt_check_socks, "check-socks", "--check-socks" },
    { &opt_recover, "recover", "--recover" },
    { &opt_dongles, "dongles", "--dongles" },
    { &opt_allow_controller_reset, "allow-controller-reset", "--allow-controller-reset" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (flags); i++)
    pk_config_set_override (config, "watchdog", flags[i].key, *flags[i].value, flags[i].flag);
  for (guint i = 0; i < G_N_ELEMENTS (switches); i++)
    if (*switches[i].value)
      pk_config_set_override (config, "watchdog", switches[i].key, "true", switches[i].flag);
}

static char *
collect_metrics (gpointer user_data)
{
  return pk_node_watch_dup_prometheus (((App *) user_data)->watch);
}

/* --- --dongles: PkDongleWatch --- */

#if PK_HAVE_LIBSOUP
/* Watches the dongles when --dongles or [watchdog] dongles = true asks. */
static void
start_dongles (App *app)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkDongleWatch) watch = NULL;
  PkToggleLadderSettings *ladder;

  if (!pk_dongle_watch_config_enabled (app->config, &error))
    {
      if (error != NULL)
        pk_cli_usage_error ("%s", error->message);
      return;
    }
  watch = pk_dongle_watch_new_from_config (app->config, &error);
  if (watch == NULL)
    pk_cli_usage_error ("%s", error->message);
  pk_dongle_watch_set_state_store (watch, pk_node_watch_get_state_store (app->watch));
  if (!pk_dongle_watch_start (watch, &error))
    pk_cli_die (PK_CLI_EXIT_FAILURE, "--dongles: %s", error->message);
  ladder = pk_dongle_watch_get_ladder_settings (watch);
  g_message ("watching %u dongle%s: interval %.1f s, %u failures in a row confirm, "
             "%u recoveries at once, cooldown %.1f s%s",
             pk_dongle_watch_get_n_dongles (watch), pk_dongle_watch_get_n_dongles (watch) == 1 ? "" : "s",
             pk_dongle_watch_get_interval_ms (watch) / 1000.0, pk_dongle_watch_get_fall (watch),
             pk_toggle_ladder_settings_get_max_recoveries (ladder),
             pk_toggle_ladder_settings_get_recovery_cooldown (ladder) / 1000.0,
             pk_usb_controller_reset_get_allowed (pk_dongle_watch_get_controller_reset (watch))
             ? "; USB controller reset allowed" : "");
  app->dongles = G_OBJECT (g_steal_pointer (&watch));
}

static const char * const *
dongle_config_keys (void)
{
  return pk_dongle_watch_get_config_keys ();
}
#else
static void
start_dongles (App *app)
{
  if (opt_dongles)
    pk_cli_usage_error ("--dongles: this build has no HiLink client (libsoup)");
}

static const char * const *
dongle_config_keys (void)
{
  return NULL;
}
#endif

/* --- main --- */

static gboolean
on_stop (gpointer data)
{
  App *app = data;

  g_message ("stopping; tunnels and listeners keep running");
  pk_cli_sd_notify ("STOPPING=1");
  g_main_loop_quit (app->loop);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_reload (gpointer data)
{
  g_message ("SIGHUP: rescanning the state directory");
  pk_node_watch_refresh (((App *) data)->watch);
  return G_SOURCE_CONTINUE;
}

static int
run_status (App *app)
{
  const char *dir = pk_state_store_get_directory (pk_node_watch_get_state_store (app->watch));
  g_autofree char *text = NULL;

  /* No directory is no record of any node, not "no nodes": say so. */
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    pk_cli_die (PK_CLI_EXIT_FAILURE, "state directory %s does not exist "
                "(--state-dir, or state-dir in [watchdog]); has a node been started?", dir);
  text = opt_json ? pk_node_watch_dup_status_json (app->watch) : pk_node_watch_dup_status_text (app->watch);
  printf ("%s%s", text, opt_json ? "\n" : "");
  return PK_CLI_EXIT_OK;
}

/* Every node checked once; the count of failures lives in the state files. */
static int
run_once (App *app)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  pk_node_watch_check_once_async (app->watch, NULL, pk_cli_store_result, &result);
  /* a count that cannot be kept, or a failure that cannot be recorded,
   * must not look like a clean run to cron */
  if (!pk_node_watch_check_once_finish (app->watch, pk_cli_wait_result (&result), NULL, &error))
    {
      g_printerr ("pk-watchdog: %s\n", error->message);
      return PK_CLI_EXIT_FAILURE;
    }
  return PK_CLI_EXIT_OK;
}

static int
run_watch (App *app)
{
  PkNodeSupervisor *settings = pk_node_watch_get_settings (app->watch);
  PkWatchdog *wd = pk_node_supervisor_get_watchdog (settings);
  guint n_watched = pk_node_watch_start (app->watch);

  g_message ("watching %u node%s in %s: interval %.1f s, retry delay %.1f s, %u failures in a row confirm%s",
             n_watched, n_watched == 1 ? "" : "s",
             pk_state_store_get_directory (pk_node_watch_get_state_store (app->watch)),
             pk_watchdog_get_interval_ms (wd) / 1000.0, pk_watchdog_get_retry_delay_ms (wd) / 1000.0,
             pk_watchdog_get_fall (wd), pk_node_supervisor_get_recover (settings) ? "; recovery on" : "");
  /* The dongles' watch, beside the tunnels': its state files are in
   * the same store, so /metrics and --status show them too. */
  start_dongles (app);

  app->metrics = pk_cli_metrics_listen (app->config, "watchdog", opt_metrics_listen, collect_metrics, app);
  pk_cli_handle_signals (on_stop, on_reload, app);
  pk_cli_sd_watchdog_start (NULL, NULL);
  pk_cli_sd_notifyf ("READY=1\nSTATUS=watching %u node%s", n_watched, n_watched == 1 ? "" : "s");
  app->loop = g_main_loop_new (NULL, FALSE);
  g_main_loop_run (app->loop);

  g_clear_object (&app->dongles);
  if (app->metrics != NULL)
    pk_metrics_server_stop (app->metrics);
  g_clear_object (&app->metrics);
  g_clear_pointer (&app->loop, g_main_loop_unref);
  return PK_CLI_EXIT_OK;
}

int
main (int argc, char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  App app = { 0 };
  int status;

  pk_cli_init ("pk-watchdog");
  context = g_option_context_new ("- watch PPTP tunnels of proxy nodes and act on failures");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
    "Environment: WATCHDOG_CHECK_INTERVAL, WATCHDOG_RETRY_DELAY, WATCHDOG_PPTP_RETRIES,\n"
    "SOCKS_STARTUP_CHECK_RETRIES, SOCKS_STARTUP_RETRY_DELAY, SOCKS_STARTUP_CHECK_TIMEOUT,\n"
    "SOCKS_STARTUP_CHECK_TARGET, PROXYKIT_STATE_DIR, PROXYKIT_CONFIG.");
  pk_cli_parse_options (context, &argc, &argv);
  if (opt_version)
    pk_cli_print_version ();
  if (argc > 1)
    pk_cli_usage_error ("unexpected argument '%s'", argv[1]);
  if (opt_json && !opt_status)
    pk_cli_usage_error ("--json goes with --status");
  if (opt_once && opt_status)
    pk_cli_usage_error ("--once and --status exclude each other");
  if (opt_once && opt_dongles)
    pk_cli_usage_error ("--dongles watches continuously: it does not go with --once");

  app.config = pk_cli_load_config (opt_config);
  set_overrides (app.config);
  /* the dongle watch's [watchdog] keys go in as extra keys; a bad value
   * is a usage error now, not a warning per node later */
  app.watch = pk_node_watch_new_from_config (app.config, NULL, dongle_config_keys (), &error);
  if (app.watch == NULL)
    pk_cli_usage_error ("%s", error->message);
  pk_node_watch_set_nodes (app.watch, (const char * const *) opt_nodes);

  if (opt_status)
    status = run_status (&app);
  else if (opt_once)
    status = run_once (&app);
  else
    status = run_watch (&app);

  g_clear_object (&app.watch);
  g_clear_object (&app.config);
  fflush (stdout);
  return status;
}
