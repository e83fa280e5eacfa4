/* pk-relay.c: TCP and UDP port relays (replaces socat and iptables DNAT)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/types.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "pk-cli-common.h"

/* How often a running relay rewrites its state file for --status. */
#define STATUS_INTERVAL_S 2

static char *opt_env_file;
static char *opt_config;
static char *opt_listen_address;
static char *opt_state_file;
static gboolean opt_status;
static gboolean opt_json;
static gboolean opt_check;
static gboolean opt_version;
static int opt_workers = -1;
static gboolean opt_reuse_port;
static gboolean opt_kernel_nat;
static char *opt_drain_timeout;
static char **opt_rules;
static char *opt_metrics_listen;

static const GOptionEntry entries[] = {
  { "env-file", 'e', 0, G_OPTION_ARG_FILENAME, &opt_env_file,
    "Read RELAY_N=\"in_port;out_port;out_host;TCP|UDP\" and the other variables from FILE (default: " PK_CLI_DEFAULT_RELAY_ENV " if it exists)", "FILE" },
  { "config", 'c', 0, G_OPTION_ARG_FILENAME, &opt_config,
    "Configuration file with [relay:NAME] sections (default: " PK_CLI_DEFAULT_CONFIG ")", "FILE" },
  { "listen-address", 'l', 0, G_OPTION_ARG_STRING, &opt_listen_address,
    "Listen on ADDRESS for rules that name none (default: all addresses)", "ADDRESS" },
  { "state-file", 0, 0, G_OPTION_ARG_FILENAME, &opt_state_file,
    "Status file written by the relay and read by --status (default: $RUNTIME_DIRECTORY/pk-relay.json or " PK_RUN_DIR "/pk-relay.json)", "FILE" },
  { "status", 's', 0, G_OPTION_ARG_NONE, &opt_status,
    "Print the state and counters of each rule of the running relay", NULL },
  { "json", 'j', 0, G_OPTION_ARG_NONE, &opt_json, "With --status: print the status as JSON", NULL },
  { "workers", 'w', 0, G_OPTION_ARG_INT, &opt_workers,
    "Threads that accept and relay TCP connections, each with its own listening socket (default: one per CPU; 0: none, all in the main thread)", "N" },
  { "reuse-port", 0, 0, G_OPTION_ARG_NONE, &opt_reuse_port,
    "Let other processes listen on the same TCP ports (SO_REUSEPORT; needs workers); without it a port in use is an error", NULL },
  { "drain-timeout", 0, 0, G_OPTION_ARG_STRING, &opt_drain_timeout,
    "On SIGTERM, let TCP connections finish for up to this long before closing them (default 5s)", "DURATION" },
  { "kernel-nat", 0, 0, G_OPTION_ARG_NONE, &opt_kernel_nat,
    "Relay UDP rules with nftables DNAT/masquerade in the kernel (table ip pk_relay, removed on exit)", NULL },
  { "check", 0, 0, G_OPTION_ARG_NONE, &opt_check, "Read and check the rules, print them, and exit", NULL },
  PK_CLI_OPTION_METRICS_LISTEN (opt_metrics_listen),
  PK_CLI_OPTION_VERBOSE,
  { "version", 'V', 0, G_OPTION_ARG_NONE, &opt_version, "Print the version and exit", NULL },
  { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_rules, NULL, NULL },
  { NULL }
};

typedef struct {
  PkRelay *relay;
  PkWorkers *workers;
  GMainLoop *loop;
  char *state_file;
  gint64 started;
  PkMetricsServer *metrics;   /* --metrics-listen */
} Relay;

static char *
collect_metrics (gpointer user_data)
{
  Relay *r = user_data;

  return pk_relay_dup_prometheus (r->relay);
}

static char *
default_state_file (void)
{
  const char *runtime = g_getenv ("RUNTIME_DIRECTORY");

  if (opt_state_file != NULL)
    return g_strdup (opt_state_file);
  /* systemd may list several directories, separated by ':'. */
  if (runtime != NULL && *runtime != '\0')
    {
      g_auto(GStrv) dirs = g_strsplit (runtime, ":", 2);
      return g_build_filename (dirs[0], "pk-relay.json", NULL);
    }
  return g_strdup (PK_RUN_DIR "/pk-relay.json");
}

/* The files the flags name (or the defaults), with the flags over them:
 * PkRelay reads the rest. */
static PkConfig *
load_config (GError **error)
{
  g_autoptr(PkConfig) config = pk_config_new ();
  const char *path = opt_config;

  if (path == NULL)
    path = g_getenv ("PROXYKIT_CONFIG");
  if ((path == NULL || *path == '\0') && g_file_test (PK_CLI_DEFAULT_CONFIG, G_FILE_TEST_EXISTS))
    path = PK_CLI_DEFAULT_CONFIG;
  if (path != NULL && *path != '\0' && !pk_config_load_file (config, path, error))
    return NULL;
  if (opt_env_file != NULL && !pk_config_load_env_file (config, opt_env_file, error))
    return NULL;
  /* The unit names no env file: the old setup's one is read where it is,
   * and a host with [relay:NAME] sections only needs none. */
  if (opt_env_file == NULL && g_file_test (PK_CLI_DEFAULT_RELAY_ENV, G_FILE_TEST_EXISTS) &&
      !pk_config_load_env_file (config, PK_CLI_DEFAULT_RELAY_ENV, error))
    return NULL;
  pk_config_set_override (config, "relay", "listen-address", opt_listen_address, "--listen-address");
  if (opt_kernel_nat)
    pk_config_set_override (config, "relay", "kernel-nat", "true", "--kernel-nat");
  return g_steal_pointer (&config);
}

static void
write_status (Relay *r)
{
  g_autofree char *relay_json = pk_relay_dup_status_json (r->relay);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *data = NULL;
  JsonObject *root;

  if (!json_parser_load_from_data (parser, relay_json, -1, &error))
    {
      g_warning ("status: %s", error->message);
      return;
    }
  root = json_node_get_object (json_parser_get_root (parser));
  json_object_set_int_member (root, "pid", getpid ());
  json_object_set_int_member (root, "started", r->started);
  json_object_set_int_member (root, "updated", g_get_real_time () / G_USEC_PER_SEC);
  json_generator_set_root (generator, json_parser_get_root (parser));
  json_generator_set_pretty (generator, TRUE);
  data = json_generator_to_data (generator, NULL);

  dir = g_path_get_dirname (r->state_file);
  if (g_mkdir_with_parents (dir, 0755) < 0 ||
      !g_file_set_contents_full (r->state_file, data, -1, G_FILE_SET_CONTENTS_CONSISTENT,
                                 0644, &error))
    {
      static gboolean warned;

      if (!warned)
        g_warning ("cannot write the state file %s: %s", r->state_file,
                   error ? error->message : g_strerror (errno));
      warned = TRUE;
    }
}

static gboolean
status_timer_cb (gpointer user_data)
{
  write_status (user_data);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_stop (gpointer user_data)
{
  Relay *r = user_data;

  g_message ("stopping");
  pk_cli_sd_notify ("STOPPING=1");
  g_main_loop_quit (r->loop);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_reload (gpointer user_data)
{
  Relay *r = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PkConfig) config = NULL;

  pk_cli_sd_notifyf ("RELOADING=1\nMONOTONIC_USEC=%" G_GINT64_FORMAT, g_get_monotonic_time ());
  g_message ("reloading the rules");
  config = load_config (&error);
  if (config == NULL || !pk_relay_reload_from_config (r->relay, config, &error))
    {
      /* A configuration that does not load changes nothing; a rule that
       * cannot listen leaves the others applied. */
      if (config == NULL || g_error_matches (error, PK_ERROR, PK_ERROR_CONFIG))
        g_warning ("reload refused, the running rules stay: %s", error->message);
      else
        g_warning ("reload: %s", error->message);
    }
  else
    {
      g_autoptr(GPtrArray) rules = pk_relay_list_rules (r->relay);
      g_message ("reloaded: %u rules", rules->len);
    }
  write_status (r);
  pk_cli_sd_notify ("READY=1");
  return G_SOURCE_CONTINUE;
}

static const char *
member_string (JsonObject *o,
               const char *name)
{
  JsonNode *node = json_object_get_member (o, name);

  return (node && JSON_NODE_HOLDS_VALUE (node)) ? json_node_get_string (node) : NULL;
}

static int
print_status (void)
{
  g_autofree char *path = default_state_file ();
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *root;
  JsonArray *rules;
  gint64 pid;

  if (!json_parser_load_from_file (parser, path, &error))
    pk_cli_die (PK_CLI_EXIT_FAILURE, "no status: %s (is pk-relay running? see --state-file)",
                error->message);
  root = json_node_get_object (json_parser_get_root (parser));
  pid = json_object_get_int_member_with_default (root, "pid", 0);
  if (pid <= 0 || (kill ((pid_t) pid, 0) < 0 && errno == ESRCH))
    pk_cli_die (PK_CLI_EXIT_FAILURE, "pk-relay is not running (%s is from PID %" G_GINT64_FORMAT ")",
                path, pid);

  if (opt_json)
    {
      g_autofree char *contents = NULL;

      if (!g_file_get_contents (path, &contents, NULL, &error))
        pk_cli_die (PK_CLI_EXIT_FAILURE, "%s", error->message);
      fputs (contents, stdout);
      if (!g_str_has_suffix (contents, "\n"))
        fputc ('\n', stdout);
      return PK_CLI_EXIT_OK;
    }

  rules = json_object_get_array_member (root, "rules");
  printf ("%-16s %-5s %-22s %-28s %-8s %7s %9s %7s %7s %12s %12s\n", "RULE", "PROTO", "LISTEN",
          "TARGET", "HEALTH", "ACTIVE", "TOTAL", "FAILED", "REFUSED", "BYTES_IN", "BYTES_OUT");
  for (guint i = 0; rules != NULL && i < json_array_get_length (rules); i++)
    {
      JsonObject *o = json_array_get_object_element (rules, i);
      const char *reason = member_string (o, "health_reason");

      printf ("%-16s %-5s %-22s %-28s %-8s %7" G_GINT64_FORMAT " %9" G_GINT64_FORMAT
              " %7" G_GINT64_FORMAT " %7" G_GINT64_FORMAT " %12" G_GINT64_FORMAT " %12" G_GINT64_FORMAT "\n",
              member_string (o, "name"), member_string (o, "protocol"), member_string (o, "listen"),
              member_string (o, "target"), member_string (o, "health"),
              json_object_get_int_member_with_default (o, "active", 0),
              json_object_get_int_member_with_default (o, "connections", 0),
              json_object_get_int_member_with_default (o, "failed", 0),
              json_object_get_int_member_with_default (o, "refused", 0),
              json_object_get_int_member_with_default (o, "bytes_in", 0),
              json_object_get_int_member_with_default (o, "bytes_out", 0));
      if (reason != NULL && g_strcmp0 (member_string (o, "health"), "up") != 0)
        printf ("  %s: %s\n", member_string (o, "name"), reason);
    }
  return PK_CLI_EXIT_OK;
}

static void
wait_for_connections (PkRelay *relay,
                      guint64  timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (pk_relay_get_n_connections (relay) > 0 && g_get_monotonic_time () < deadline)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
}

static void
print_rules (GPtrArray *rules)
{
  for (guint i = 0; i < rules->len; i++)
    {
      PkRelayRule *rule = g_ptr_array_index (rules, i);
      g_autofree char *desc = pk_relay_rule_to_string (rule);
      guint idle, intvl, cnt, hc_timeout, hc_retries;
      gboolean hc = pk_relay_rule_get_health_check (rule, &hc_timeout, &hc_retries, NULL);

      pk_relay_rule_get_keepalive (rule, &idle, &intvl, &cnt);
      printf ("%s: %s connect-timeout=%ums keepalive=%u/%u/%u health-check=%s\n",
              pk_relay_rule_get_name (rule), desc, pk_relay_rule_get_connect_timeout (rule),
              idle, intvl, cnt, hc ? "on" : "off");
    }
}

int
main (int argc, char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GPtrArray) rules = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PkConfig) config = NULL;
  guint64 drain_ms = 5000;
  Relay r = { 0 };

  pk_cli_init ("pk-relay");

  context = g_option_context_new ("[RULE...] - relay TCP and UDP ports");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
    "A RULE is in_port;out_port;out_host;TCP|UDP, for example '50025;25;pool.example;TCP'.\n"
    "SIGHUP reloads the rules; unchanged rules keep their connections.");
  pk_cli_parse_options (context, &argc, &argv);

  if (opt_version)
    pk_cli_print_version ();
  if (opt_status)
    return print_status ();

  config = load_config (&error);
  if (config == NULL)
    pk_cli_usage_error ("%s", error->message);
  r.relay = pk_relay_new_from_config (config, (const char * const *) opt_rules, &error);
  if (r.relay == NULL)
    pk_cli_usage_error ("%s", error->message);
  rules = pk_relay_list_rules (r.relay);
  if (opt_check)
    {
      print_rules (rules);
      g_object_unref (r.relay);
      return PK_CLI_EXIT_OK;
    }
  pk_workers_raise_fd_limit ();

  if (opt_drain_timeout != NULL)
    {
      if (!pk_cli_parse_value (TRUE, opt_drain_timeout, 0, 0, &drain_ms, &error))
        pk_cli_usage_error ("--drain-timeout: %s", error->message);
    }
  if (opt_workers < -1 || opt_workers > 1024)
    pk_cli_usage_error ("--workers: %d is not from 0 to 1024", opt_workers);
  if (opt_reuse_port && opt_workers == 0)
    pk_cli_usage_error ("--reuse-port: needs worker threads (not --workers 0)");

  if (opt_workers != 0)
    {
      r.workers = pk_workers_new (opt_workers < 0 ? 0 : (guint) opt_workers);
      pk_workers_set_reuse_port (r.workers, opt_reuse_port);
      if (!pk_workers_start (r.workers, &error))
        pk_cli_die (PK_CLI_EXIT_FAILURE, "%s", error->message);
      pk_relay_set_workers (r.relay, r.workers);
    }
  r.loop = g_main_loop_new (NULL, FALSE);
  r.state_file = default_state_file ();
  r.started = g_get_real_time () / G_USEC_PER_SEC;

  /* Before the rules, which open the ports: a client that finds a port
   * open may take pk-relay as up, and a SIGHUP or SIGTERM sent then must
   * reach the handlers, not the default action (which kills it). */
  pk_cli_handle_signals (on_stop, on_reload, &r);

  if (!pk_relay_start (r.relay, &error))
    pk_cli_die (PK_CLI_EXIT_FAILURE, "%s", error->message);

  r.metrics = pk_cli_metrics_listen (config, "relay", opt_metrics_listen, collect_metrics, &r);
  pk_cli_sd_watchdog_start (NULL, NULL);
  g_timeout_add_seconds (STATUS_INTERVAL_S, status_timer_cb, &r);
  write_status (&r);
  pk_cli_sd_notifyf ("READY=1\nSTATUS=relaying %u rules", rules->len);
  g_message ("relaying %u rules", rules->len);

  g_main_loop_run (r.loop);

  /* Drain: no new clients, and the connections in progress get some
   * time to finish; then the rest are closed, each on its own thread,
   * before the threads stop. */
  if (r.metrics != NULL)
    pk_metrics_server_stop (r.metrics);
  g_clear_object (&r.metrics);
  pk_relay_drain (r.relay);
  if (pk_relay_get_n_connections (r.relay) > 0)
    g_message ("draining %u connections for up to %" G_GUINT64_FORMAT " ms",
               pk_relay_get_n_connections (r.relay), drain_ms);
  wait_for_connections (r.relay, drain_ms);
  pk_relay_stop (r.relay);
  wait_for_connections (r.relay, 5000);
  if (r.workers != NULL)
    pk_workers_stop (r.workers);
  g_unlink (r.state_file);
  g_object_unref (r.relay);
  g_clear_object (&r.workers);
  g_main_loop_unref (r.loop);
  g_free (r.state_file);
  return PK_CLI_EXIT_OK;
}
