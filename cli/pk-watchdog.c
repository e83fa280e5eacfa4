/* pk-watchdog: watch the PPTP tunnels of proxy nodes, act on confirmed failures
 *
 * Every node in the state directory (and every [tunnel:NAME] section of
 * the configuration) that is online with a tunnel gets a PkWatchdog over
 * its tunnel: pppd alive and pppN up (and, with --check-socks, a SOCKS
 * round trip through its listener). A failure counts after
 * WATCHDOG_PPTP_RETRIES failed checks in a row, WATCHDOG_RETRY_DELAY
 * apart, with WATCHDOG_CHECK_INTERVAL between rounds. On a confirmed
 * failure: stop the listener (signal the pk-socks process recorded in the
 * node state), destroy the tunnel, clear the SOCKS data, status
 * ping_failed, fails += 1. With --recover, the node is brought back with
 * exponential backoff: tunnel up, startup check, listener on.
 *
 * With --dongles (or [watchdog] dongles = true), every dongle on USB is
 * watched too, and recovered through the toggle ladder: PkDongleWatch.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

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
  PK_CLI_OPTION_METRICS_LISTEN (opt_metrics_listen),
  PK_CLI_OPTION_VERBOSE,
  { "version", 'V', 0, G_OPTION_ARG_NONE, &opt_version, "Print the version and exit", NULL },
  { NULL }
};

static const char * const watchdog_keys[] = {
  "interval", "retry-delay", "retries", "rise", "timeout", "jitter", "state-dir",
  "run-dir", "check-socks", "socks-target", "recover", "recover-delay",
  "recover-max-delay", "pppd", "socks-command", "metrics-listen", "dongles", "dongle-interval",
  "dongle-retry-delay", "dongle-retries", "dongle-cooldown", "max-recoveries", NULL
};

typedef struct {
  guint64 interval_ms;
  guint64 retry_delay_ms;
  guint64 fall;
  guint64 rise;
  guint64 timeout_ms;
  guint64 jitter_ms;
  gboolean check_socks;
  char *socks_target_host;
  guint16 socks_target_port;
  gboolean recover;
  guint64 recover_delay_ms;
  guint64 recover_max_delay_ms;
  char *run_dir;
  char *pppd;
  char *socks_command;
  char *check_target;
  guint check_tries;
  guint check_delay_ms;
  guint check_timeout_ms;
} Settings;

typedef struct _App App;

typedef struct {
  App *app;
  char *name;
  PkWatchdog *wd;
  int watched_pid;          /* the pppd the probes were built for */
  PkTunnel *tunnel;         /* a tunnel we adopted or started */
  GSubprocess *socks;       /* a listener we started */
  char *listen;             /* the listener's address, kept across a failure */
  gboolean busy;            /* failure actions or a recovery are running */
  guint attempt;
  GSource *recovery_timer;
  char *known;              /* the state last read while watching, as JSON */
} Node;

struct _App {
  PkConfig *config;
  PkStateStore *store;
  Settings s;
  GHashTable *nodes;        /* name -> Node */
  GMainLoop *loop;
  GSource *rescan;
  guint pending_once;
  gboolean state_failed;    /* a state file could not be locked or written */
  PkMetricsServer *metrics; /* --metrics-listen */
  GObject *dongles;         /* --dongles: a PkDongleWatch */
};

/* /metrics: every node's recorded status and failure counts. */
static char *
collect_metrics (gpointer user_data)
{
  App *app = user_data;

  return pk_state_store_dup_prometheus (app->store);
}

/* --- settings --- */

static gboolean
parse_duration_flag (const char  *value,
                     guint64     *out,
                     GError     **error)
{
  return pk_cli_parse_value (TRUE, value, 0, 0, out, error);
}

static gboolean
parse_host_port (const char  *value,
                 char       **host,
                 guint16     *port,
                 GError     **error)
{
  g_autoptr(GSocketConnectable) addr = g_network_address_parse (value, 0, error);

  if (addr == NULL)
    return FALSE;
  if (g_network_address_get_port (G_NETWORK_ADDRESS (addr)) == 0)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT, "'%s' has no port", value);
      return FALSE;
    }
  *host = g_strdup (g_network_address_get_hostname (G_NETWORK_ADDRESS (addr)));
  *port = g_network_address_get_port (G_NETWORK_ADDRESS (addr));
  return TRUE;
}

/* Where to connect to reach a listener: its address, or loopback for a
 * wildcard one. */
static const char *
connect_host_for (const char *host)
{
  if (g_str_equal (host, "0.0.0.0"))
    return "127.0.0.1";
  if (g_str_equal (host, "::"))
    return "::1";
  return host;
}

static void
get_duration (App        *app,
              const char *flag_value,
              const char *flag,
              const char *key,
              const char *env,
              guint64     def,
              guint64    *out)
{
  g_autoptr(GError) error = NULL;

  if (flag_value != NULL)
    {
      if (!parse_duration_flag (flag_value, out, &error))
        pk_cli_usage_error ("--%s: %s", flag, error->message);
      return;
    }
  if (!pk_config_get_duration_ms (app->config, "watchdog", key, env, def, out, &error))
    pk_cli_usage_error ("%s", error->message);
}

static void
get_uint (App        *app,
          const char *flag_value,
          const char *flag,
          const char *key,
          const char *env,
          guint64     min,
          guint64     max,
          guint64     def,
          guint64    *out)
{
  g_autoptr(GError) error = NULL;

  if (flag_value != NULL)
    {
      if (!g_ascii_string_to_unsigned (flag_value, 10, min, max, out, &error))
        pk_cli_usage_error ("--%s: '%s' is not a number from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT,
                            flag, flag_value, min, max);
      return;
    }
  if (!pk_config_get_uint (app->config, "watchdog", key, env, min, max, def, out, &error))
    pk_cli_usage_error ("%s", error->message);
}

static char *
get_string (App        *app,
            const char *flag_value,
            const char *key,
            const char *env,
            const char *def)
{
  if (flag_value != NULL)
    return g_strdup (flag_value);
  return pk_config_dup_string (app->config, "watchdog", key, env, def);
}

static void
load_settings (App *app)
{
  Settings *s = &app->s;
  g_autoptr(GError) error = NULL;
  g_autofree char *target = NULL;
  g_autofree char *state_dir = NULL;
  gboolean b;

  if (pk_config_has_section (app->config, "watchdog") &&
      !pk_config_check_keys (app->config, "watchdog", watchdog_keys, &error))
    pk_cli_usage_error ("%s", error->message);

  get_duration (app, opt_interval, "interval", "interval", "WATCHDOG_CHECK_INTERVAL", 180000, &s->interval_ms);
  get_duration (app, opt_retry_delay, "retry-delay", "retry-delay", "WATCHDOG_RETRY_DELAY", 30000, &s->retry_delay_ms);
  get_uint (app, opt_retries, "retries", "retries", "WATCHDOG_PPTP_RETRIES", 1, 1000, 3, &s->fall);
  get_uint (app, opt_rise, "rise", "rise", NULL, 1, 1000, 2, &s->rise);
  get_duration (app, opt_timeout, "timeout", "timeout", NULL, 30000, &s->timeout_ms);
  get_duration (app, opt_jitter, "jitter", "jitter", NULL, 0, &s->jitter_ms);
  get_duration (app, opt_recover_delay, "recover-delay", "recover-delay", NULL, 10000, &s->recover_delay_ms);
  get_duration (app, opt_recover_max_delay, "recover-max-delay", "recover-max-delay", NULL, 600000,
                &s->recover_max_delay_ms);
  if (s->interval_ms == 0 || s->retry_delay_ms == 0 || s->timeout_ms == 0 ||
      s->interval_ms > G_MAXUINT || s->retry_delay_ms > G_MAXUINT || s->timeout_ms > G_MAXUINT ||
      s->jitter_ms > G_MAXUINT || s->recover_delay_ms == 0)
    pk_cli_usage_error ("intervals, delays and timeouts must be between 1 ms and 49 days");

  if (!pk_config_get_boolean (app->config, "watchdog", "check-socks", NULL, FALSE, &b, &error))
    pk_cli_usage_error ("%s", error->message);
  s->check_socks = opt_check_socks || b;
  if (!pk_config_get_boolean (app->config, "watchdog", "recover", NULL, FALSE, &b, &error))
    pk_cli_usage_error ("%s", error->message);
  s->recover = opt_recover || b;

  target = get_string (app, opt_socks_target, "socks-target", NULL, PK_STARTUP_CHECK_TARGET_DEFAULT);
  if (!parse_host_port (target, &s->socks_target_host, &s->socks_target_port, &error))
    pk_cli_usage_error ("--socks-target: %s", error->message);

  s->run_dir = get_string (app, opt_run_dir, "run-dir", NULL, PK_TUNNEL_RUN_DIR_DEFAULT);
  s->pppd = get_string (app, opt_pppd, "pppd", NULL, PK_TUNNEL_PPPD_PATH_DEFAULT);
  s->socks_command = get_string (app, opt_socks_command, "socks-command", NULL, "pk-socks");

  if (!pk_startup_check_get_settings (app->config, &s->check_target, &s->check_tries,
                                      &s->check_delay_ms, &s->check_timeout_ms, &error))
    pk_cli_usage_error ("%s", error->message);

  state_dir = get_string (app, opt_state_dir, "state-dir", "PROXYKIT_STATE_DIR", PK_STATE_DIR_DEFAULT);
  app->store = pk_state_store_new (state_dir);
}

/* --- nodes --- */

static void
node_free (Node *node)
{
  if (node->wd)
    pk_watchdog_stop (node->wd);
  g_clear_object (&node->wd);
  g_clear_object (&node->tunnel);
  g_clear_object (&node->socks);
  if (node->recovery_timer)
    g_source_destroy (node->recovery_timer);
  g_clear_pointer (&node->recovery_timer, g_source_unref);
  g_free (node->listen);
  g_free (node->known);
  g_free (node->name);
  g_free (node);
}

static Node *
node_get (App        *app,
          const char *name)
{
  Node *node = g_hash_table_lookup (app->nodes, name);

  if (node == NULL)
    {
      node = g_new0 (Node, 1);
      node->app = app;
      node->name = g_strdup (name);
      g_hash_table_insert (app->nodes, node->name, node);
    }
  return node;
}

static gboolean
node_selected (const char *name)
{
  return opt_nodes == NULL || g_strv_contains ((const char * const *) opt_nodes, name);
}

/* The nodes to look at: state files plus [tunnel:NAME] sections. */
static char **
list_node_names (App *app)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) stored = pk_state_store_list (app->store, &error);
  g_auto(GStrv) sections = pk_config_list_sections (app->config, "tunnel");
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);

  if (stored == NULL)
    g_warning ("%s", error->message);
  for (guint i = 0; stored && stored[i]; i++)
    if (node_selected (stored[i]))
      g_ptr_array_add (names, g_strdup (stored[i]));
  /* the names of [tunnel:NAME] sections */
  for (guint i = 0; sections && sections[i]; i++)
    {
      const char *name = sections[i];

      if (*name != '\0' && node_selected (name) &&
          (stored == NULL || !g_strv_contains ((const char * const *) stored, name)))
        g_ptr_array_add (names, g_strdup (name));
    }
  g_ptr_array_add (names, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&names), FALSE);
}

static PkNodeState *
load_node (App        *app,
           const char *name)
{
  g_autoptr(GError) error = NULL;
  PkNodeState *state = pk_state_store_load_or_new (app->store, name, &error);

  if (state == NULL)
    g_warning ("node %s: %s", name, error->message);
  return state;
}

/* Changes are made under the node's lock: pk-socks writes the same file. */
static PkNodeState *
lock_node (App        *app,
           const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkNodeState) peek = pk_state_store_load (app->store, name, &error);
  gboolean corrupt = peek == NULL && g_error_matches (error, PK_ERROR, PK_ERROR_STATE);
  Node *node = g_hash_table_lookup (app->nodes, name);
  PkNodeState *state;

  g_clear_error (&error);
  state = pk_state_store_load_locked (app->store, name, &error);
  if (state == NULL)
    {
      g_warning ("node %s: %s", name, error->message);
      app->state_failed = TRUE;
      return NULL;
    }
  /* The store kept a corrupt file aside and started the node afresh:
   * what this watchdog last read goes back in, so that a watched node
   * stays watched. */
  if (corrupt && node != NULL && node->wd != NULL && node->known != NULL &&
      pk_node_state_get_tunnel_pid (state) == 0)
    {
      PkNodeState *known = pk_node_state_new_from_json (node->known, -1, NULL);

      if (known != NULL)
        {
          g_object_unref (state);
          state = known;
          /* the lock is held: a plain save keeps it */
          if (pk_state_store_save (app->store, state, &error))
            g_message ("node %s: recorded its last known state again", name);
          else
            g_warning ("node %s: %s", name, error->message);
        }
    }
  return state;
}

static void
save_unlock (App         *app,
             PkNodeState *state)
{
  g_autoptr(GError) error = NULL;

  if (!pk_state_store_save_unlock (app->store, state, &error))
    {
      g_warning ("node %s: %s", pk_node_state_get_name (state), error->message);
      app->state_failed = TRUE;
    }
}

static gboolean
node_is_watchable (PkNodeState *state)
{
  return pk_node_state_get_status (state) == PK_NODE_STATUS_ONLINE &&
         pk_node_state_get_tunnel_pid (state) > 0 &&
         pk_node_state_get_tunnel_interface (state) != NULL;
}

static void node_failed (PkWatchdog *wd, const char *reason, Node *node);
static void schedule_recovery (Node *node);

static void
node_checked (PkWatchdog *wd,
              gboolean    ok,
              const char *reason,
              Node       *node)
{
  g_autoptr(PkNodeState) state = NULL;
  guint cf = pk_watchdog_get_consecutive_failures (wd);

  if (ok)
    g_message ("node %s: ok", node->name);
  else
    g_message ("node %s: check failed (%u/%u): %s", node->name, cf, pk_watchdog_get_fall (wd), reason);

  /* keep the file's counter in step with what happened */
  state = lock_node (node->app, node->name);
  if (state == NULL)
    return;
  if (pk_node_state_get_consecutive_failures (state) != cf)
    {
      pk_node_state_set_consecutive_failures (state, cf);
      save_unlock (node->app, state);
    }
  else
    pk_state_store_unlock (node->app->store, node->name);
}

static void
node_state_changed (PkWatchdog *wd,
                    PkHealth    old_health,
                    PkHealth    new_health,
                    Node       *node)
{
  g_message ("node %s: %s -> %s", node->name, pk_health_to_string (old_health),
             pk_health_to_string (new_health));
}

/* (Re)builds the node's watchdog for the tunnel recorded in its state. */
static void
watch_node (Node        *node,
            PkNodeState *state)
{
  App *app = node->app;
  g_autoptr(PkProbe) alive = NULL;
  g_autoptr(PkProbe) link = NULL;
  int pid = pk_node_state_get_tunnel_pid (state);

  g_free (node->known);
  node->known = pk_node_state_to_json (state);
  if (node->wd != NULL && node->watched_pid == pid)
    return;
  if (node->wd != NULL)
    {
      pk_watchdog_stop (node->wd);
      g_clear_object (&node->wd);
    }

  node->wd = pk_watchdog_new (node->name);
  pk_watchdog_set_interval_ms (node->wd, app->s.interval_ms);
  pk_watchdog_set_retry_delay_ms (node->wd, app->s.retry_delay_ms);
  pk_watchdog_set_fall (node->wd, app->s.fall);
  pk_watchdog_set_rise (node->wd, app->s.rise);
  pk_watchdog_set_timeout_ms (node->wd, app->s.timeout_ms);
  pk_watchdog_set_jitter_ms (node->wd, app->s.jitter_ms);
  pk_watchdog_set_initial_delay_ms (node->wd, app->s.interval_ms);
  pk_hysteresis_reset (pk_watchdog_get_hysteresis (node->wd), PK_HEALTH_UP, g_get_real_time ());
  pk_hysteresis_set_total_failures (pk_watchdog_get_hysteresis (node->wd), pk_node_state_get_fails (state));

  alive = pk_probe_new_process (pid);
  link = pk_probe_new_interface (pk_node_state_get_tunnel_interface (state));
  pk_watchdog_add_probe (node->wd, alive);
  pk_watchdog_add_probe (node->wd, link);
  if (app->s.check_socks && pk_node_state_get_socks_listen (state) != NULL)
    {
      g_autofree char *host = NULL;
      guint16 port = 0;

      if (parse_host_port (pk_node_state_get_socks_listen (state), &host, &port, NULL))
        {
          g_autoptr(PkProbe) socks = pk_probe_new_socks (connect_host_for (host), port,
                                                         app->s.socks_target_host,
                                                         app->s.socks_target_port);

          pk_watchdog_add_probe (node->wd, socks);
        }
    }
  node->watched_pid = pid;
  g_signal_connect (node->wd, "checked", G_CALLBACK (node_checked), node);
  g_signal_connect (node->wd, "state-changed", G_CALLBACK (node_state_changed), node);
  g_signal_connect (node->wd, "failed", G_CALLBACK (node_failed), node);
  if (!opt_once)
    pk_watchdog_start (node->wd);
  g_message ("node %s: watching pppd %d on %s%s", node->name, pid,
             pk_node_state_get_tunnel_interface (state),
             pk_watchdog_get_n_probes (node->wd) > 2 ? " and its SOCKS listener" : "");
}

static void
unwatch_node (Node *node)
{
  if (node->wd == NULL)
    return;
  pk_watchdog_stop (node->wd);
  g_clear_object (&node->wd);
  node->watched_pid = 0;
}

/* Picks up nodes that came online (pk-socks started them), new pppd pids
 * and nodes an operator stopped. */
static void
scan_nodes (App *app)
{
  g_auto(GStrv) names = list_node_names (app);

  for (guint i = 0; names[i]; i++)
    {
      g_autoptr(PkNodeState) state = load_node (app, names[i]);
      Node *node;

      if (state == NULL)
        continue;
      /* dongle-N: PkDongleWatch's */
      if (pk_node_state_get_dongle_id (state) > 0)
        continue;
      node = node_get (app, names[i]);
      if (node->busy)
        continue;
      if (node_is_watchable (state))
        watch_node (node, state);
      else
        {
          unwatch_node (node);
          if (app->s.recover && pk_node_state_get_status (state) == PK_NODE_STATUS_PING_FAILED)
            schedule_recovery (node);
        }
    }
}

static gboolean
rescan_cb (gpointer data)
{
  scan_nodes (data);
  return G_SOURCE_CONTINUE;
}

/* --- failure actions --- */

static void
stop_listener (Node        *node,
               PkNodeState *state)
{
  int pid = pk_node_state_get_socks_pid (state);

  if (node->socks != NULL)
    {
      g_subprocess_send_signal (node->socks, SIGTERM);
      g_clear_object (&node->socks);
      g_message ("node %s: stopped its listener", node->name);
    }
  else if (pid > 0 && pid != getpid ())
    {
      /* the pid may have been reused (after a reboot, say): signal it
       * only while it is the process that was recorded */
      if (!pk_node_state_socks_pid_is_current (state))
        g_message ("node %s: listener process %d is gone (that pid is not the recorded listener now); "
                   "nothing to signal", node->name, pid);
      else if (kill (pid, SIGTERM) == 0)
        g_message ("node %s: stopped its listener (sent SIGTERM to pk-socks, pid %d)", node->name, pid);
      else
        g_message ("node %s: listener process %d is already gone", node->name, pid);
    }
}

static PkTunnel *
tunnel_for_node (Node        *node,
                 PkNodeState *state)
{
  const char *linkname = pk_node_state_get_tunnel_linkname (state);
  PkTunnel *tunnel;

  if (linkname == NULL)
    return NULL;
  tunnel = pk_tunnel_new (linkname);
  pk_tunnel_set_run_dir (tunnel, node->app->s.run_dir);
  if (pk_node_state_get_tunnel_server (state) != NULL)
    pk_tunnel_set_server (tunnel, pk_node_state_get_tunnel_server (state), NULL);
  pk_tunnel_set_unit (tunnel, pk_node_state_get_tunnel_unit (state));
  return tunnel;
}

typedef struct {
  Node *node;
  char *reason;
} FailData;

static void
fail_data_free (FailData *fd)
{
  g_free (fd->reason);
  g_free (fd);
}

static void
failure_tunnel_stopped (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  FailData *fd = user_data;
  Node *node = fd->node;
  App *app = node->app;
  g_autoptr(GError) error = NULL;
  g_autoptr(PkNodeState) state = NULL;

  if (source != NULL && !pk_tunnel_stop_finish (PK_TUNNEL (source), result, &error))
    g_warning ("node %s: %s", node->name, error->message);
  g_clear_object (&node->tunnel);

  state = lock_node (app, node->name);
  if (state != NULL)
    {
      /* the tunnel's identity stays (recovery rebuilds it), its process goes */
      pk_node_state_set_tunnel (state, pk_node_state_get_tunnel_server (state),
                                pk_node_state_get_tunnel_linkname (state),
                                pk_node_state_get_tunnel_unit (state), NULL, 0);
      pk_node_state_clear_socks (state);
      pk_node_state_set_status (state, PK_NODE_STATUS_PING_FAILED, fd->reason);
      pk_node_state_set_fails (state, pk_node_state_get_fails (state) + 1);
      pk_node_state_set_consecutive_failures (state, node->wd ? pk_watchdog_get_consecutive_failures (node->wd) : app->s.fall);
      pk_node_state_set_last_change (state, g_get_real_time () / G_USEC_PER_SEC);
      save_unlock (app, state);
      g_message ("node %s: status ping_failed, fails %u", node->name, pk_node_state_get_fails (state));
    }
  unwatch_node (node);
  node->busy = FALSE;
  if (app->pending_once > 0 && --app->pending_once == 0)
    g_main_loop_quit (app->loop);
  if (app->s.recover && !opt_once)
    schedule_recovery (node);
  fail_data_free (fd);
}

static void
run_failure_actions (Node       *node,
                     const char *reason)
{
  App *app = node->app;
  g_autoptr(PkNodeState) state = load_node (app, node->name);
  FailData *fd;
  g_autoptr(GError) error = NULL;

  if (node->busy || state == NULL)
    return;
  node->busy = TRUE;
  if (node->wd)
    pk_watchdog_stop (node->wd);
  g_message ("node %s: tunnel failure confirmed: %s", node->name, reason);
  if (app->pending_once > 0)
    app->pending_once++;

  fd = g_new0 (FailData, 1);
  fd->node = node;
  fd->reason = g_strdup (reason);

  if (pk_node_state_get_socks_listen (state) != NULL)
    {
      g_free (node->listen);
      node->listen = g_strdup (pk_node_state_get_socks_listen (state));
    }
  stop_listener (node, state);

  if (node->tunnel == NULL)
    {
      node->tunnel = tunnel_for_node (node, state);
      if (node->tunnel != NULL && !pk_tunnel_adopt (node->tunnel, &error))
        g_debug ("node %s: %s", node->name, error->message);
    }
  if (node->tunnel == NULL)
    {
      failure_tunnel_stopped (NULL, NULL, fd);
      return;
    }
  g_message ("node %s: destroying tunnel %s", node->name, pk_tunnel_get_linkname (node->tunnel));
  pk_tunnel_stop_async (node->tunnel, NULL, failure_tunnel_stopped, fd);
}

static void
node_failed (PkWatchdog *wd,
             const char *reason,
             Node       *node)
{
  run_failure_actions (node, reason);
}

/* --- recovery --- */

static void recovery_attempt_failed (Node *node, const char *reason);

static gboolean
configure_tunnel (Node         *node,
                  PkNodeState  *state,
                  PkTunnel    **out,
                  char        **reason)
{
  App *app = node->app;
  g_autofree char *section = g_strdup_printf ("tunnel:%s", node->name);
  g_autoptr(GError) error = NULL;
  PkTunnel *tunnel = pk_tunnel_new_from_config (app->config, node->name, state, &error);

  if (tunnel == NULL)
    {
      *reason = g_strdup (error->message);
      return FALSE;
    }
  /* [watchdog] pppd (or --pppd) for the tunnels that name none */
  if (!pk_config_has_value (app->config, section, "pppd", NULL))
    pk_tunnel_set_pppd_path (tunnel, app->s.pppd);
  pk_tunnel_set_run_dir (tunnel, app->s.run_dir);
  *out = tunnel;
  return TRUE;
}

static gboolean
start_listener (Node        *node,
                PkTunnel    *tunnel,
                PkEgress    *egress,
                char       **reason)
{
  App *app = node->app;
  g_autofree char *section = g_strdup_printf ("tunnel:%s", node->name);
  g_autofree char *listen = pk_config_dup_string (app->config, section, "listen", NULL, node->listen);
  g_autofree char *extra = pk_config_dup_string (app->config, section, "socks-args", NULL, NULL);
  g_auto(GStrv) extra_argv = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;

  if (listen == NULL)
    return TRUE;   /* a tunnel without a listener of ours */
  if (extra != NULL && !g_shell_parse_argv (extra, NULL, &extra_argv, &error))
    {
      *reason = g_strdup_printf ("[%s] socks-args: %s", section, error->message);
      return FALSE;
    }
  g_ptr_array_add (argv, app->s.socks_command);
  g_ptr_array_add (argv, "--listen");
  g_ptr_array_add (argv, listen);
  g_ptr_array_add (argv, "--egress-interface");
  g_ptr_array_add (argv, (gpointer) pk_tunnel_get_interface (tunnel));
  g_ptr_array_add (argv, "--egress-address");
  g_ptr_array_add (argv, (gpointer) pk_egress_get_address (egress));
  for (guint i = 0; extra_argv && extra_argv[i]; i++)
    g_ptr_array_add (argv, extra_argv[i]);
  g_ptr_array_add (argv, NULL);

  g_clear_object (&node->socks);
  node->socks = g_subprocess_newv ((const char * const *) argv->pdata, G_SUBPROCESS_FLAGS_NONE, &error);
  if (node->socks == NULL)
    {
      *reason = g_strdup_printf ("cannot start %s: %s", app->s.socks_command, error->message);
      return FALSE;
    }
  g_free (node->listen);
  node->listen = g_steal_pointer (&listen);
  g_message ("node %s: started listener %s on %s (pid %s)", node->name, node->listen,
             pk_tunnel_get_interface (tunnel), g_subprocess_get_identifier (node->socks));
  return TRUE;
}

/* How long a restarted pk-socks may take to answer on its address. */
#define LISTENER_READY_TRIES 100
#define LISTENER_READY_DELAY_MS 100

static void recovery_listener_ready (GObject      *source,
                                     GAsyncResult *result,
                                     gpointer      user_data);

static void
recovery_checked (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Node *node = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PkEgress) egress = NULL;
  g_autofree char *reason = NULL;
  g_autofree char *host = NULL;
  guint16 port = 0;
  guint tries = 0;

  if (!pk_startup_check_finish (result, &tries, &error))
    {
      recovery_attempt_failed (node, error->message);
      return;
    }
  g_message ("node %s: startup check passed on try %u", node->name, tries);
  egress = pk_tunnel_get_egress (node->tunnel, &error);
  if (egress == NULL || !start_listener (node, node->tunnel, egress, &reason))
    {
      recovery_attempt_failed (node, reason ? reason : error->message);
      return;
    }

  /* "online" is only true once the new listener answers: the process
   * exists before it has bound its socket. */
  if (parse_host_port (node->listen, &host, &port, &error))
    {
      g_autoptr(PkProbe) probe = pk_probe_new_tcp_connect (NULL, connect_host_for (host), port);

      pk_probe_run_with_retries_async (probe, LISTENER_READY_TRIES, LISTENER_READY_DELAY_MS, 1000,
                                       NULL, recovery_listener_ready, node);
      return;
    }
  recovery_attempt_failed (node, error->message);
}

static void
recovery_listener_ready (GObject      *source,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  Node *node = user_data;
  App *app = node->app;
  g_autoptr(GError) error = NULL;
  g_autoptr(PkNodeState) state = NULL;

  if (!pk_probe_run_with_retries_finish (PK_PROBE (source), result, NULL, &error))
    {
      g_autofree char *reason = g_strdup_printf ("listener %s does not answer: %s", node->listen,
                                                 error->message);
      recovery_attempt_failed (node, reason);
      return;
    }

  state = lock_node (app, node->name);
  if (state == NULL)
    {
      recovery_attempt_failed (node, "cannot read the node state");
      return;
    }
  pk_node_state_set_tunnel (state, pk_tunnel_get_server (node->tunnel), pk_tunnel_get_linkname (node->tunnel),
                            pk_tunnel_get_unit (node->tunnel), pk_tunnel_get_interface (node->tunnel),
                            pk_tunnel_get_pid (node->tunnel));
  if (node->socks != NULL)
    pk_node_state_set_socks (state, node->listen, atoi (g_subprocess_get_identifier (node->socks)));
  pk_node_state_set_status (state, PK_NODE_STATUS_ONLINE, NULL);
  pk_node_state_set_consecutive_failures (state, 0);
  pk_node_state_set_last_change (state, g_get_real_time () / G_USEC_PER_SEC);
  save_unlock (app, state);
  g_message ("node %s: recovered after %u attempt%s: online on %s", node->name, node->attempt,
             node->attempt == 1 ? "" : "s", pk_tunnel_get_interface (node->tunnel));
  node->attempt = 0;
  node->busy = FALSE;
  watch_node (node, state);
}

static void
recovery_tunnel_up (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  Node *node = user_data;
  App *app = node->app;
  g_autoptr(GError) error = NULL;
  g_autoptr(PkEgress) egress = NULL;

  if (!pk_tunnel_start_finish (PK_TUNNEL (source), result, &error) ||
      (egress = pk_tunnel_get_egress (PK_TUNNEL (source), &error)) == NULL)
    {
      recovery_attempt_failed (node, error->message);
      return;
    }
  g_message ("node %s: tunnel up on %s; startup check to %s", node->name,
             pk_tunnel_get_interface (node->tunnel), app->s.check_target);
  pk_startup_check_async (egress, app->s.check_target, app->s.check_tries, app->s.check_delay_ms,
                          app->s.check_timeout_ms, NULL, recovery_checked, node);
}

static gboolean
recovery_start (gpointer user_data)
{
  Node *node = user_data;
  g_autoptr(PkNodeState) state = load_node (node->app, node->name);
  g_autofree char *reason = NULL;
  PkTunnel *tunnel = NULL;

  g_clear_pointer (&node->recovery_timer, g_source_unref);
  if (state == NULL)
    {
      recovery_attempt_failed (node, "cannot read the node state");
      return G_SOURCE_REMOVE;
    }
  if (pk_node_state_get_status (state) != PK_NODE_STATUS_PING_FAILED)
    {
      /* someone else (an operator, pk-socks) took over the node */
      g_message ("node %s: is %s now; recovery called off", node->name,
                 pk_node_status_to_string (pk_node_state_get_status (state)));
      node->busy = FALSE;
      node->attempt = 0;
      return G_SOURCE_REMOVE;
    }
  if (!configure_tunnel (node, state, &tunnel, &reason))
    {
      g_warning ("node %s: cannot recover: %s", node->name, reason);
      node->busy = FALSE;
      return G_SOURCE_REMOVE;
    }
  g_clear_object (&node->tunnel);
  node->tunnel = tunnel;
  g_message ("node %s: recovery attempt %u: starting tunnel %s", node->name, node->attempt,
             pk_tunnel_get_linkname (tunnel));
  pk_tunnel_start_async (tunnel, NULL, recovery_tunnel_up, node);
  return G_SOURCE_REMOVE;
}

static void
schedule_recovery (Node *node)
{
  App *app = node->app;
  guint64 delay = app->s.recover_delay_ms;

  /* one recovery per node at a time */
  if (node->busy || node->recovery_timer != NULL)
    return;
  node->busy = TRUE;
  node->attempt++;
  for (guint i = 1; i < node->attempt && delay < app->s.recover_max_delay_ms; i++)
    delay *= 2;
  delay = MIN (delay, app->s.recover_max_delay_ms);
  g_message ("node %s: recovery attempt %u in %.1f s", node->name, node->attempt, delay / 1000.0);
  node->recovery_timer = g_timeout_source_new (delay);
  g_source_set_callback (node->recovery_timer, recovery_start, node, NULL);
  g_source_attach (node->recovery_timer, NULL);
}

static void
recovery_stopped (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Node *node = user_data;

  pk_tunnel_stop_finish (PK_TUNNEL (source), result, NULL);
  g_clear_object (&node->tunnel);
  node->busy = FALSE;
  schedule_recovery (node);
}

/* Roll back what the attempt started, and try again later. */
static void
recovery_attempt_failed (Node       *node,
                         const char *reason)
{
  g_autoptr(PkNodeState) state = lock_node (node->app, node->name);

  g_message ("node %s: recovery attempt %u failed: %s", node->name, node->attempt, reason);
  if (node->socks != NULL)
    {
      g_subprocess_send_signal (node->socks, SIGTERM);
      g_clear_object (&node->socks);
    }
  if (state != NULL)
    {
      pk_node_state_set_status (state, PK_NODE_STATUS_PING_FAILED, reason);
      save_unlock (node->app, state);
    }
  if (node->tunnel != NULL)
    pk_tunnel_stop_async (node->tunnel, NULL, recovery_stopped, node);
  else
    {
      node->busy = FALSE;
      schedule_recovery (node);
    }
}

/* --- --status --- */

static void
print_status (App *app)
{
  g_auto(GStrv) names = list_node_names (app);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  if (opt_json)
    json_builder_begin_array (b);
  else
    printf ("%-12s %-12s %-8s %-8s %-24s %5s  %s\n", "NODE", "STATUS", "IFACE", "PPPD", "LISTEN", "FAILS", "SINCE");

  for (guint i = 0; names[i]; i++)
    {
      g_autoptr(PkNodeState) state = load_node (app, names[i]);
      const char *iface;
      int pid;
      gboolean alive;

      if (state == NULL)
        continue;
      iface = pk_node_state_get_tunnel_interface (state);
      if (iface == NULL)
        iface = pk_node_state_get_dongle_interface (state);
      pid = pk_node_state_get_tunnel_pid (state);
      alive = pid > 0 && kill (pid, 0) == 0;
      if (opt_json)
        {
          g_autofree char *json = pk_node_state_to_json (state);
          g_autoptr(JsonNode) node = json_from_string (json, NULL);
          JsonObject *obj = json_node_get_object (node);

          json_object_set_boolean_member (obj, "pppd_alive", alive);
          json_builder_add_value (b, g_steal_pointer (&node));
        }
      else
        {
          g_autofree char *pidstr = pid > 0 ? g_strdup_printf ("%d%s", pid, alive ? "" : "!") : g_strdup ("-");
          gint64 changed = pk_node_state_get_status_changed (state);
          g_autofree char *since = changed > 0 ? g_strdup_printf ("%" G_GINT64_FORMAT "s ago", now - changed)
                                               : g_strdup ("-");

          printf ("%-12s %-12s %-8s %-8s %-24s %5u  %s%s%s\n", names[i],
                  pk_node_status_to_string (pk_node_state_get_status (state)),
                  iface ? iface : "-", pidstr,
                  pk_node_state_get_socks_listen (state) ? pk_node_state_get_socks_listen (state) : "-",
                  pk_node_state_get_fails (state), since,
                  pk_node_state_get_reason (state) ? "  " : "",
                  pk_node_state_get_reason (state) ? pk_node_state_get_reason (state) : "");
        }
    }
  if (opt_json)
    {
      g_autoptr(JsonGenerator) gen = json_generator_new ();
      g_autoptr(JsonNode) root = NULL;
      g_autofree char *text = NULL;

      json_builder_end_array (b);
      root = json_builder_get_root (b);
      json_generator_set_root (gen, root);
      json_generator_set_pretty (gen, TRUE);
      text = json_generator_to_data (gen, NULL);
      printf ("%s\n", text);
    }
}

/* --- --once --- */

static void
once_checked (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Node *node = user_data;
  App *app = node->app;
  PkWatchdog *wd = PK_WATCHDOG (source);
  g_autoptr(GError) error = NULL;
  g_autoptr(PkNodeState) state = lock_node (app, node->name);
  gboolean ok = pk_watchdog_check_finish (wd, result, &error);

  /* Across runs, the counter lives in the state file. */
  if (state != NULL)
    {
      guint cf = ok ? 0 : pk_node_state_get_consecutive_failures (state) + 1;

      g_message ("node %s: %s%s%s (%u/%" G_GUINT64_FORMAT ")", node->name, ok ? "ok" : "check failed",
                 ok ? "" : ": ", ok ? "" : error->message, cf, app->s.fall);
      pk_node_state_set_consecutive_failures (state, cf);
      save_unlock (app, state);
      if (cf >= app->s.fall)
        {
          run_failure_actions (node, error->message);
          if (--app->pending_once == 0)
            g_main_loop_quit (app->loop);
          return;
        }
    }
  if (--app->pending_once == 0)
    g_main_loop_quit (app->loop);
}

static void
run_once (App *app)
{
  g_auto(GStrv) names = list_node_names (app);

  app->pending_once = 1;
  for (guint i = 0; names[i]; i++)
    {
      g_autoptr(PkNodeState) state = load_node (app, names[i]);
      Node *node;

      if (state == NULL || !node_is_watchable (state))
        continue;
      node = node_get (app, names[i]);
      watch_node (node, state);
      /* the decision is made here, from the file's counter */
      g_signal_handlers_disconnect_by_func (node->wd, node_failed, node);
      g_signal_handlers_disconnect_by_func (node->wd, node_checked, node);
      app->pending_once++;
      pk_watchdog_check_async (node->wd, NULL, once_checked, node);
    }
  if (--app->pending_once == 0)
    return;
  g_main_loop_run (app->loop);
}

/* --- --dongles: PkDongleWatch --- */

#if PK_HAVE_LIBSOUP

static void
set_dongle_flag (const char *flag,
                 const char *value,
                 gboolean    duration,
                 guint64     min,
                 const char *property,
                 gpointer    object)
{
  g_autoptr(GError) error = NULL;
  guint64 v;

  if (value == NULL)
    return;
  if (!pk_cli_parse_value (duration, value, min, G_MAXUINT, &v, &error))
    pk_cli_usage_error ("--%s: %s", flag, error->message);
  g_object_set (object, property, (guint) v, NULL);
}

/* Watches the dongles when --dongles or [watchdog] dongles = true asks. */
static void
start_dongles (App *app)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkDongleWatch) watch = NULL;
  PkToggleLadderSettings *ladder;
  guint64 v;

  if (!opt_dongles && !pk_dongle_watch_config_enabled (app->config, &error))
    {
      if (error != NULL)
        pk_cli_usage_error ("%s", error->message);
      return;
    }
  watch = pk_dongle_watch_new_from_config (app->config, &error);
  if (watch == NULL)
    pk_cli_usage_error ("%s", error->message);
  pk_dongle_watch_set_state_store (watch, app->store);
  set_dongle_flag ("dongle-interval", opt_dongle_interval, TRUE, 1, "interval-ms", watch);
  set_dongle_flag ("dongle-retry-delay", opt_dongle_retry_delay, TRUE, 1, "retry-delay-ms", watch);
  set_dongle_flag ("dongle-retries", opt_dongle_retries, FALSE, 1, "fall", watch);
  ladder = pk_dongle_watch_get_ladder_settings (watch);
  if (opt_dongle_cooldown != NULL)
    {
      if (!pk_cli_parse_value (TRUE, opt_dongle_cooldown, 0, G_MAXUINT, &v, &error))
        pk_cli_usage_error ("--dongle-cooldown: %s", error->message);
      pk_toggle_ladder_settings_set_recovery_cooldown (ladder, (guint) v);
    }
  if (opt_max_recoveries != NULL)
    {
      if (!pk_cli_parse_value (FALSE, opt_max_recoveries, 0, 1000, &v, &error))
        pk_cli_usage_error ("--max-recoveries: %s", error->message);
      pk_toggle_ladder_settings_set_max_recoveries (ladder, (guint) v);
    }
  if (!pk_dongle_watch_start (watch, &error))
    pk_cli_die (PK_CLI_EXIT_FAILURE, "--dongles: %s", error->message);
  app->dongles = G_OBJECT (g_object_ref (watch));
  g_message ("watching %u dongle%s: interval %.1f s, %u failures in a row confirm, "
             "%u recoveries at once, cooldown %.1f s",
             pk_dongle_watch_get_n_dongles (watch), pk_dongle_watch_get_n_dongles (watch) == 1 ? "" : "s",
             pk_dongle_watch_get_interval_ms (watch) / 1000.0, pk_dongle_watch_get_fall (watch),
             pk_toggle_ladder_settings_get_max_recoveries (ladder),
             pk_toggle_ladder_settings_get_recovery_cooldown (ladder) / 1000.0);
}
#else
static void
start_dongles (App *app)
{
  if (opt_dongles)
    pk_cli_usage_error ("--dongles: this build has no HiLink client (libsoup)");
}
#endif

/* --- main --- */

static void
app_clear (App *app)
{
  Settings *s = &app->s;

  if (app->rescan != NULL)
    {
      g_source_destroy (app->rescan);
      g_clear_pointer (&app->rescan, g_source_unref);
    }
  g_clear_object (&app->dongles);
  g_clear_pointer (&app->nodes, g_hash_table_unref);
  g_clear_pointer (&app->loop, g_main_loop_unref);
  g_clear_object (&app->store);
  g_clear_object (&app->config);
  g_free (s->socks_target_host);
  g_free (s->run_dir);
  g_free (s->pppd);
  g_free (s->socks_command);
  g_free (s->check_target);
  fflush (stdout);
}

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
  scan_nodes (data);
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  App app = { 0 };
  guint n_watched = 0;
  GHashTableIter iter;
  Node *node;

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
  {
    g_auto(GStrv) sections = pk_config_list_sections (app.config, "tunnel");
    g_autoptr(GError) error = NULL;

    for (guint i = 0; sections && sections[i]; i++)
      {
        g_autofree char *section = g_strdup_printf ("tunnel:%s", sections[i]);

        if (*sections[i] == '\0')
          pk_cli_usage_error ("a [tunnel] section needs a name: [tunnel:NAME]");
        if (!pk_state_store_is_valid_name (sections[i]))
          pk_cli_usage_error ("[%s]: '%s' is not a valid node name", section, sections[i]);
        if (!pk_config_check_keys (app.config, section, pk_tunnel_get_config_keys (), &error))
          pk_cli_usage_error ("%s", error->message);
      }
  }
  load_settings (&app);
  app.nodes = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) node_free);
  app.loop = g_main_loop_new (NULL, FALSE);

  if (opt_status)
    {
      const char *dir = pk_state_store_get_directory (app.store);

      /* No directory is no record of any node, not "no nodes": say so. */
      if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
        pk_cli_die (PK_CLI_EXIT_FAILURE, "state directory %s does not exist "
                    "(--state-dir, or state-dir in [watchdog]); has a node been started?", dir);
      print_status (&app);
      app_clear (&app);
      return PK_CLI_EXIT_OK;
    }
  if (opt_once)
    {
      gboolean failed;

      run_once (&app);
      /* a count that cannot be kept, or a failure that cannot be
       * recorded, must not look like a clean run to cron */
      failed = app.state_failed;
      app_clear (&app);
      if (failed)
        {
          g_printerr ("pk-watchdog: the state directory could not be locked or written\n");
          return PK_CLI_EXIT_FAILURE;
        }
      return PK_CLI_EXIT_OK;
    }

  scan_nodes (&app);
  start_dongles (&app);
  g_hash_table_iter_init (&iter, app.nodes);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &node))
    n_watched += node->wd != NULL;
  g_message ("watching %u node%s in %s: interval %.1f s, retry delay %.1f s, %" G_GUINT64_FORMAT
             " failures in a row confirm%s", n_watched, n_watched == 1 ? "" : "s",
             pk_state_store_get_directory (app.store), app.s.interval_ms / 1000.0,
             app.s.retry_delay_ms / 1000.0, app.s.fall, app.s.recover ? "; recovery on" : "");

  app.metrics = pk_cli_metrics_listen (app.config, "watchdog", opt_metrics_listen, collect_metrics, &app);
  app.rescan = g_timeout_source_new (app.s.interval_ms);
  g_source_set_callback (app.rescan, rescan_cb, &app, NULL);
  g_source_attach (app.rescan, NULL);
  pk_cli_handle_signals (on_stop, on_reload, &app);
  pk_cli_sd_watchdog_start (NULL, NULL);
  pk_cli_sd_notifyf ("READY=1\nSTATUS=watching %u node%s", n_watched, n_watched == 1 ? "" : "s");

  g_main_loop_run (app.loop);

  if (app.metrics != NULL)
    pk_metrics_server_stop (app.metrics);
  g_clear_object (&app.metrics);
  app_clear (&app);
  return PK_CLI_EXIT_OK;
}
