/* pk-toggle.c: new mobile IPs for HiLink dongles, once or over HTTP
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <stdio.h>
#include <unistd.h>

#include "pk-cli-common.h"
#include "pk-toggle-dongles.h"

static char *opt_config;
static char *opt_method;
static gboolean opt_all;
static gboolean opt_status;
static gboolean opt_info;
static gboolean opt_json;
static char *opt_serve;
static char *opt_dongles;
static char **opt_api;
static char **opt_address;
static char *opt_escalation;
static char *opt_cooldown;
static char *opt_max_concurrent;
static gboolean opt_recovery;
static char *opt_settle;
static char *opt_poll_interval;
static char *opt_timeout;
static char *opt_request_timeout;
static char *opt_unchanged_polls;
static char *opt_state_dir;
static gboolean opt_check;
static char *opt_token_file;
static gboolean opt_allow_get;
static gboolean opt_version;
static char **opt_ids;

static const GOptionEntry entries[] = {
  { "method", 'm', 0, G_OPTION_ARG_STRING, &opt_method, "How to rotate first: data, netmode or reboot (default data)", "METHOD" },
  { "all", 'a', 0, G_OPTION_ARG_NONE, &opt_all, "Toggle (or with --status/--info: show) every configured dongle", NULL },
  { "status", 's', 0, G_OPTION_ARG_NONE, &opt_status, "Show the state and WAN IP of the dongles", NULL },
  { "info", 'i', 0, G_OPTION_ARG_NONE, &opt_info, "Show the device information and signal of the dongles", NULL },
  { "json", 'j', 0, G_OPTION_ARG_NONE, &opt_json, "Print results as JSON", NULL },
  { "serve", 0, 0, G_OPTION_ARG_STRING, &opt_serve, "Serve the HTTP API on ADDRESS:PORT (/toggle/N, /status, /proxy-info, /metrics)", "ADDR:PORT" },
  { "config", 'c', 0, G_OPTION_ARG_FILENAME, &opt_config, "Configuration file with [toggle] and [dongle:N] sections (default: " PK_CLI_DEFAULT_CONFIG ")", "FILE" },
  { "dongles", 'd', 0, G_OPTION_ARG_STRING, &opt_dongles, "Dongles by the subnet convention when the configuration has no [dongle:N], e.g. 11-20,25", "LIST" },
  { "api", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_api, "API address of dongle N (default http://192.168.N.1); repeatable", "N=URL" },
  { "address", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_address, "The host's address on dongle N's subnet, the egress (default 192.168.N.100); repeatable", "N=ADDR" },
  { "escalation", 'e', 0, G_OPTION_ARG_STRING, &opt_escalation, "Methods to try when the IP stays (default data,netmode,reboot; none for no escalation)", "LIST" },
  { "cooldown", 0, 0, G_OPTION_ARG_STRING, &opt_cooldown, "Pause after a toggle of a dongle before the next (default 15s)", "DURATION" },
  { "max-concurrent", 0, 0, G_OPTION_ARG_STRING, &opt_max_concurrent, "Toggles at once (default 3, 0: no limit)", "N" },
  { "recovery", 'r', 0, G_OPTION_ARG_NONE, &opt_recovery, "Ignore the limit on toggles at once (to bring dongles back)", NULL },
  { "settle", 0, 0, G_OPTION_ARG_STRING, &opt_settle, "Pause between switching off and on (default 3s)", "DURATION" },
  { "poll-interval", 0, 0, G_OPTION_ARG_STRING, &opt_poll_interval, "How often to poll the modem for its new IP (default 1s)", "DURATION" },
  { "timeout", 't', 0, G_OPTION_ARG_STRING, &opt_timeout, "How long one method may wait for the modem to come back (default 60s)", "DURATION" },
  { "request-timeout", 0, 0, G_OPTION_ARG_STRING, &opt_request_timeout, "Bound of one modem API call (default 10s)", "DURATION" },
  { "unchanged-polls", 0, 0, G_OPTION_ARG_STRING, &opt_unchanged_polls, "Polls with the old IP that make a method count as unchanged (default 3)", "N" },
  { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &opt_state_dir, "Where locks and cooldowns are shared with other pk-toggle processes (default $RUNTIME_DIRECTORY or " PK_RUN_DIR ")", "DIR" },
  { "token-file", 0, 0, G_OPTION_ARG_FILENAME, &opt_token_file, "With --serve: clients must send 'Authorization: Bearer TOKEN' (the file's first line) to toggle or see /proxy-info", "FILE" },
  { "allow-get", 0, 0, G_OPTION_ARG_NONE, &opt_allow_get, "With --serve: GET /toggle/N toggles too (older clients; POST otherwise)", NULL },
  { "check", 0, 0, G_OPTION_ARG_NONE, &opt_check, "Check the flags and configuration, print the dongles, and exit", NULL },
  PK_CLI_OPTION_VERBOSE,
  { "version", 'V', 0, G_OPTION_ARG_NONE, &opt_version, "Print the version and exit", NULL },
  { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_ids, NULL, "[N...]" },
  { NULL }
};

typedef struct {
  PkToggleService *service;
  GMainLoop *loop;
  int exit_status;
  GAsyncResult *result;
} App;

/* --- flags into the configuration --- */

/* Reads the configuration (like pk_cli_load_config(), without exiting, so
 * that a reload can fail) and puts the flags over it. */
static PkConfig *
load_config (GError **error)
{
  g_autoptr(PkConfig) config = NULL;
  const struct { const char *flag; const char *value; const char *key; } flags[] = {
    { "--method", opt_method, "method" },
    { "--escalation", opt_escalation, "escalation" },
    { "--settle", opt_settle, "settle" },
    { "--poll-interval", opt_poll_interval, "poll_interval" },
    { "--timeout", opt_timeout, "timeout" },
    { "--unchanged-polls", opt_unchanged_polls, "unchanged_polls" },
    { "--cooldown", opt_cooldown, "cooldown" },
    { "--max-concurrent", opt_max_concurrent, "max_concurrent" },
    { "--request-timeout", opt_request_timeout, "request_timeout" },
    { "--state-dir", opt_state_dir, "state_dir" },
    { "--token-file", opt_token_file, "token_file" },
    { "--allow-get", opt_allow_get ? "true" : NULL, "allow_get" },
    { "--dongles", opt_dongles, "dongles" },
  };

  config = pk_cli_try_load_config (opt_config, error);
  if (config == NULL)
    return NULL;
  /* Locks and cooldowns are shared there with other pk-toggle processes:
   * the directory must be usable. */
  if (opt_state_dir != NULL && (g_mkdir_with_parents (opt_state_dir, 0755) != 0 || access (opt_state_dir, W_OK) != 0))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_CONFIG, "--state-dir '%s': cannot create or write it", opt_state_dir);
      return NULL;
    }
  for (guint i = 0; i < G_N_ELEMENTS (flags); i++)
    if (flags[i].value != NULL)
      pk_config_set_override (config, "toggle", flags[i].key, flags[i].value, flags[i].flag);
  pk_toggle_dongles_override (config);
  return g_steal_pointer (&config);
}

static PkToggleService *
make_service (gboolean use_usb)
{
  g_autoptr(PkToggleService) service = pk_toggle_service_new ();
  g_autoptr(PkConfig) config = NULL;
  g_autoptr(GError) error = NULL;

  pk_toggle_service_set_named_dongles (service, (const char * const *) opt_ids);
  pk_toggle_service_set_use_usb (service, use_usb);
  pk_toggle_dongles_stages (service);
  if (!pk_toggle_service_set_dongle_values (service, "api", (const char * const *) opt_api, "--api", &error) ||
      !pk_toggle_service_set_dongle_values (service, "address", (const char * const *) opt_address, "--address",
                                            &error) ||
      (config = load_config (&error)) == NULL || !pk_toggle_service_load_config (service, config, &error))
    pk_cli_usage_error ("%s", error->message);
  return g_steal_pointer (&service);
}

/* The dongles the command names: the positional numbers, or all. */
static guint *
selected_ids (App   *app,
              gsize *n_ids)
{
  g_autoptr(GError) error = NULL;
  guint *ids = pk_toggle_service_parse_ids (app->service, opt_all ? NULL : (const char * const *) opt_ids, n_ids,
                                            &error);

  if (ids == NULL)
    pk_cli_usage_error ("%s", error->message);
  return ids;
}

static void
on_done (GObject      *source,
         GAsyncResult *res,
         gpointer      user_data)
{
  App *app = user_data;

  app->result = g_object_ref (res);
  g_main_loop_quit (app->loop);
}

static void
print_text (const char *text)
{
  printf ("%s\n", text);
  fflush (stdout);
}

/* --- toggling --- */

static void
on_toggled (PkToggleService *service,
            PkToggleResult  *result,
            gpointer         user_data)
{
  App *app = user_data;
  guint id = pk_toggle_result_get_id (result);
  const GError *why = pk_toggle_result_get_error (result);

  if (pk_toggle_result_get_refused (result))
    {
      /* the caller may try again later */
      if (app->exit_status == 0)
        app->exit_status = PK_TOGGLE_EXIT_REFUSED;
      if (!opt_json)
        g_printerr ("pk-toggle: %s\n", why->message);
    }
  else if (!pk_toggle_result_get_success (result))
    {
      app->exit_status = PK_CLI_EXIT_FAILURE;
      if (!opt_json)
        {
          g_printerr ("pk-toggle: dongle %u: %s: %s\n", id, pk_toggle_result_get_reason (result), why->message);
          for (guint i = 0; i < pk_toggle_result_get_n_steps (result); i++)
            g_printerr ("  %s: %s%s%s\n", pk_toggle_result_get_step_name (result, i),
                        pk_toggle_result_get_step_outcome (result, i),
                        pk_toggle_result_get_step_detail (result, i) ? ": " : "",
                        pk_toggle_result_get_step_detail (result, i) ? pk_toggle_result_get_step_detail (result, i) : "");
        }
    }
  else if (!opt_json)
    {
      printf ("dongle %u: %s -> %s by %s in %.1f s", id,
              pk_toggle_result_get_old_ip (result) ? pk_toggle_result_get_old_ip (result) : "(none)",
              pk_toggle_result_get_new_ip (result), pk_toggle_result_get_method (result),
              pk_toggle_result_get_duration_ms (result) / 1000.0);
      if (pk_toggle_result_get_escalated (result))
        printf (" (escalated after %u attempts)", pk_toggle_result_get_attempts (result) - 1);
      printf ("\n");
      fflush (stdout);
    }
}

/* On a terminal, each step as it starts: a toggle takes seconds. */
static void
on_progress (PkToggle   *toggle,
             const char *text,
             gpointer    user_data)
{
  fprintf (stderr, "dongle %u: %s\n", pk_toggle_get_id (toggle), text);
  fflush (stderr);
}

static int
run_toggles (App *app)
{
  gsize n_ids = 0;
  g_autofree guint *ids = selected_ids (app, &n_ids);
  g_autoptr(GPtrArray) results = NULL;

  if (isatty (STDERR_FILENO) && !g_log_writer_is_journald (STDERR_FILENO))
    for (gsize i = 0; i < n_ids; i++)
      g_signal_connect (pk_toggle_service_get_toggle (app->service, ids[i]), "progress", G_CALLBACK (on_progress), NULL);
  g_signal_connect (app->service, "toggled", G_CALLBACK (on_toggled), app);
  /* --all waits for a place instead of giving up. */
  pk_toggle_service_toggle_async (app->service, ids, n_ids, opt_recovery || pk_toggle_dongles_recovery (), opt_all,
                                  NULL, on_done, app);
  g_main_loop_run (app->loop);
  results = pk_toggle_service_toggle_finish (app->service, app->result, NULL);
  if (opt_json)
    {
      g_autofree char *text = pk_toggle_service_results_to_json (results, opt_all || n_ids != 1 || results->len != 1);
      print_text (text);
    }
  return app->exit_status;
}

/* --- --status and --info --- */

static int
run_queries (App *app)
{
  gsize n_ids = 0;
  g_autofree guint *ids = selected_ids (app, &n_ids);
  g_autofree char *json = NULL;
  gboolean all_ok = TRUE;

  if (opt_status)
    pk_toggle_service_query_status_async (app->service, ids, n_ids, NULL, on_done, app);
  else
    pk_toggle_service_query_info_async (app->service, ids, n_ids, NULL, on_done, app);
  g_main_loop_run (app->loop);
  json = opt_status ? pk_toggle_service_query_status_finish (app->service, app->result, &all_ok, NULL)
                    : pk_toggle_service_query_info_finish (app->service, app->result, &all_ok, NULL);
  if (opt_json)
    print_text (json);
  else
    {
      g_autofree char *text = pk_toggle_service_query_to_text (json);
      printf ("%s", text);
      fflush (stdout);
    }
  return all_ok ? PK_CLI_EXIT_OK : PK_CLI_EXIT_FAILURE;
}

/* --- --serve --- */

static gboolean
on_stop (gpointer user_data)
{
  App *app = user_data;

  g_message ("stopping");
  pk_cli_sd_notify ("STOPPING=1");
  g_main_loop_quit (app->loop);
  return G_SOURCE_CONTINUE;
}

/* SIGHUP: the configuration again. The new dongles replace the old ones
 * (a toggle that runs goes on to its end, and the state directory keeps
 * its lock and cooldown); a bad configuration leaves everything as it is. */
static gboolean
on_reload (gpointer user_data)
{
  App *app = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PkConfig) config = NULL;

  pk_cli_sd_notifyf ("RELOADING=1\nMONOTONIC_USEC=%" G_GINT64_FORMAT, g_get_monotonic_time ());
  config = load_config (&error);
  if (config == NULL || !pk_toggle_service_load_config (app->service, config, &error))
    g_warning ("reload refused, the running configuration stays: %s", error->message);
  else
    g_message ("reloaded: %u dongles", pk_toggle_service_get_n_dongles (app->service));
  pk_cli_sd_notify ("READY=1");
  return G_SOURCE_CONTINUE;
}

static int
run_server (App        *app,
            const char *listen)
{
  g_autoptr(GError) error = NULL;
  guint n = pk_toggle_service_get_n_dongles (app->service);

  if (!pk_toggle_service_listen (app->service, listen, &error))
    {
      if (g_error_matches (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT))
        pk_cli_usage_error ("--serve: %s", error->message);
      pk_cli_die (PK_CLI_EXIT_FAILURE, "%s", error->message);
    }

  pk_cli_handle_signals (on_stop, on_reload, app);
  pk_cli_sd_watchdog_start (NULL, NULL);
  g_message ("serving %u dongles on %s, port %u", n, listen,
             pk_toggle_server_get_port (pk_toggle_service_get_server (app->service)));
  pk_cli_sd_notifyf ("READY=1\nSTATUS=serving %u dongles on %s", n, listen);
  g_main_loop_run (app->loop);
  pk_toggle_service_stop (app->service);
  return PK_CLI_EXIT_OK;
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  App app = { 0 };
  int modes;
  int status;

  pk_cli_init ("pk-toggle");
  context = g_option_context_new ("- new mobile IPs for HiLink dongles");
  g_option_context_set_summary (context,
      "Rotates the WAN IP of dongle N (data off/on, network mode, reboot, escalating\n"
      "when the IP stays), shows the dongles, or serves the HTTP API with --serve.");
  g_option_context_set_description (context,
      "Exit status: 0 new IP (or status shown), 1 failed (IP unchanged, modem unreachable),\n"
      "2 bad flag or configuration, 3 refused (busy, cooldown, too many toggles at once).\n");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_main_entries (context, pk_toggle_dongles_entries, NULL);
  pk_cli_parse_options (context, &argc, &argv);

  if (opt_version)
    pk_cli_print_version ();

  /* --discover and --routing: USB and routing, no modem. */
  if (pk_toggle_dongles_mode ())
    {
      g_autoptr(PkConfig) config = NULL;
      g_autoptr(PkToggleLadderSettings) ladder = NULL;
      g_autoptr(GError) error = NULL;

      if (opt_status || opt_info || opt_serve != NULL || opt_check)
        pk_cli_usage_error ("--discover and --routing exclude --status, --info, --serve and --check");
      config = load_config (&error);
      if (config == NULL || (ladder = pk_toggle_ladder_settings_new_from_config (config, &error)) == NULL)
        pk_cli_usage_error ("%s", error->message);
      return pk_toggle_dongles_run (config, pk_toggle_ladder_settings_get_state_dir (ladder), opt_ids, opt_all,
                                    opt_json);
    }

  modes = (opt_status ? 1 : 0) + (opt_info ? 1 : 0) + (opt_serve != NULL ? 1 : 0) + (opt_check ? 1 : 0);
  if (modes > 1)
    pk_cli_usage_error ("--status, --info, --serve and --check exclude each other");
  if (opt_serve != NULL && (opt_ids != NULL || opt_all))
    pk_cli_usage_error ("--serve takes no dongle numbers and no --all");
  if (opt_check && (opt_ids != NULL || opt_all))
    pk_cli_usage_error ("--check takes no dongle numbers and no --all");
  if (modes == 0 && opt_ids == NULL && !opt_all)
    pk_cli_usage_error ("name a dongle (pk-toggle 11), or use --all, --status, --info or --serve");
  if (opt_all && opt_ids != NULL)
    pk_cli_usage_error ("--all takes no dongle numbers");

  /* The rungs past the modem need the dongles on USB. */
  app.service = make_service (!opt_check && !opt_status && !opt_info);
  if (opt_check)
    {
      /* Nothing is contacted: the dongles as the configuration makes them. */
      for (guint i = 0; i < pk_toggle_service_get_n_dongles (app.service); i++)
        {
          guint id = pk_toggle_service_get_dongle_id (app.service, i);
          const char *address = pk_toggle_service_get_address (app.service, id);

          printf ("dongle %u: api %s, address %s\n", id, pk_toggle_service_get_api (app.service, id),
                  address ? address : "-");
        }
      printf ("configuration OK: %u dongle(s)\n", pk_toggle_service_get_n_dongles (app.service));
      g_clear_object (&app.service);
      return PK_CLI_EXIT_OK;
    }
  app.loop = g_main_loop_new (NULL, FALSE);

  if (opt_serve != NULL)
    status = run_server (&app, opt_serve);
  else if (opt_status || opt_info)
    status = run_queries (&app);
  else
    status = run_toggles (&app);

  g_clear_object (&app.result);
  g_clear_object (&app.service);
  g_main_loop_unref (app.loop);
  return status;
}
