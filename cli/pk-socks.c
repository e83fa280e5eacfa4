/* pk-socks: SOCKS5 listeners pinned to egresses
 *
 * With no arguments, one listener on 127.0.0.1:1080. Flags describe one
 * listener (the command-line one); a configuration file adds one per
 * [socks:NAME] section. Settings come from, in order: a flag, an
 * environment variable, the configuration file, the built-in default.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <stdlib.h>

#include "pk-cli-common.h"
#include "pk-socks-pptp.h"

#define DEFAULT_LISTEN "127.0.0.1:1080"
#define DEFAULT_DRAIN_MS 30000

static char **opt_listen;
static char *opt_egress_address;
static char *opt_egress_interface;
static char *opt_fwmark;
static char *opt_ttl;
static char **opt_egress_dns;
static char *opt_users;
static char **opt_allow;
static char **opt_deny;
static char *opt_allow_url;
static char *opt_deny_url;
static char *opt_connect_timeout;
static char *opt_idle_timeout;
static char *opt_handshake_timeout;
static char *opt_udp_idle_timeout;
static char *opt_max_sessions;
static char *opt_max_sessions_per_client;
static char *opt_udp_advertise;
static char *opt_drain_timeout;
static char *opt_config;
static char *opt_port_file;
static char *opt_workers;
static char *opt_metrics_listen;
static gboolean opt_reuse_port;
static gboolean opt_allow_open;
static gboolean opt_allow_host;
static gboolean opt_check;
static gboolean opt_quiet;
static gboolean opt_version;
static gboolean opt_dongles;

static const GOptionEntry entries[] = {
  { "listen", 'l', 0, G_OPTION_ARG_STRING_ARRAY, &opt_listen, "Listen on ADDR:PORT (repeatable; default " DEFAULT_LISTEN ")", "ADDR:PORT" },
  { "egress-address", 0, 0, G_OPTION_ARG_STRING, &opt_egress_address, "Source address of outbound connections", "ADDR" },
  { "egress-interface", 0, 0, G_OPTION_ARG_STRING, &opt_egress_interface, "Bind outbound connections to this interface (SO_BINDTODEVICE)", "IFACE" },
  { "fwmark", 0, 0, G_OPTION_ARG_STRING, &opt_fwmark, "Firewall mark of outbound connections (SO_MARK)", "N" },
  { "ttl", 0, 0, G_OPTION_ARG_STRING, &opt_ttl, "IP TTL of outbound connections", "N" },
  { "egress-dns", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_egress_dns, "Resolve names with this nameserver, through the egress (repeatable)", "ADDR[:PORT]" },
  { "users", 'u', 0, G_OPTION_ARG_FILENAME, &opt_users, "Require authentication by the user:password lines of FILE", "FILE" },
  { "allow", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_allow, "Only clients from CIDR (repeatable)", "CIDR" },
  { "deny", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_deny, "Refuse destinations in CIDR (repeatable)", "CIDR" },
  { "allow-url", 0, 0, G_OPTION_ARG_STRING, &opt_allow_url, "Also let in the clients of the list at URL, fetched hourly (refresh = in the configuration)", "URL" },
  { "deny-url", 0, 0, G_OPTION_ARG_STRING, &opt_deny_url, "Also refuse the destinations of the list at URL, fetched hourly", "URL" },
  { "connect-timeout", 0, 0, G_OPTION_ARG_STRING, &opt_connect_timeout, "Resolve and connect timeout (default 120s)", "DURATION" },
  { "idle-timeout", 0, 0, G_OPTION_ARG_STRING, &opt_idle_timeout, "Close connections idle this long (default 600s)", "DURATION" },
  { "handshake-timeout", 0, 0, G_OPTION_ARG_STRING, &opt_handshake_timeout, "Time a client has to send its request (default 30s)", "DURATION" },
  { "udp-idle-timeout", 0, 0, G_OPTION_ARG_STRING, &opt_udp_idle_timeout, "End UDP associations idle this long (default 120s)", "DURATION" },
  { "max-sessions", 0, 0, G_OPTION_ARG_STRING, &opt_max_sessions, "Most concurrent sessions per listener (0: no limit)", "N" },
  { "max-sessions-per-client", 0, 0, G_OPTION_ARG_STRING, &opt_max_sessions_per_client, "Most concurrent sessions per client address (0: no limit)", "N" },
  { "udp-advertise", 0, 0, G_OPTION_ARG_STRING, &opt_udp_advertise, "Address UDP ASSOCIATE replies advertise (behind NAT)", "ADDR" },
  { "drain-timeout", 0, 0, G_OPTION_ARG_STRING, &opt_drain_timeout, "On SIGTERM, let sessions finish this long (default 30s)", "DURATION" },
  { "allow-open", 0, 0, G_OPTION_ARG_NONE, &opt_allow_open, "Allow a non-loopback listener with neither users nor an allowlist", NULL },
  { "allow-host-destinations", 0, 0, G_OPTION_ARG_NONE, &opt_allow_host, "Let a non-loopback listener connect to this host itself", NULL },
  { "config", 'c', 0, G_OPTION_ARG_FILENAME, &opt_config, "Configuration file with [socks:NAME] sections", "FILE" },
  { "dongles", 0, 0, G_OPTION_ARG_NONE, &opt_dongles, "A listener on port-base+N for each dongle N, started and stopped as dongles come and go ([dongles] auto = true)", NULL },
  { "port-file", 0, 0, G_OPTION_ARG_FILENAME, &opt_port_file, "Write \"NAME ADDR:PORT\" of each bound socket to FILE", "FILE" },
  { "check", 0, 0, G_OPTION_ARG_NONE, &opt_check, "Check the flags and configuration, then exit without listening", NULL },
  { "workers", 0, 0, G_OPTION_ARG_STRING, &opt_workers, "Worker threads, each with its own listening sockets (default: one per CPU)", "N" },
  { "reuse-port", 0, 0, G_OPTION_ARG_NONE, &opt_reuse_port, "Let other processes listen on the same ports (SO_REUSEPORT); without it a port in use is an error", NULL },
  PK_CLI_OPTION_METRICS_LISTEN (opt_metrics_listen),
  PK_CLI_OPTION_VERBOSE,
  { "quiet", 'q', 0, G_OPTION_ARG_NONE, &opt_quiet, "Do not log a line per finished session", NULL },
  { "version", 'V', 0, G_OPTION_ARG_NONE, &opt_version, "Print the version and exit", NULL },
  { NULL }
};

typedef struct {
  PkConfig *config;
  PkSocksService *service;     /* the main listener and [socks:NAME] */
  GMainLoop *loop;
  PkWorkers *workers;
  PkDongleFarm *farm;          /* --dongles */
  PkMetricsServer *metrics;    /* --metrics */
  char *pptp_interface;        /* the tunnel's, set again on every reload */
  char *pptp_address;
  guint drain_ms;
  guint stopping;
  guint n_stopped;
} App;

/* /metrics: the counters of every listener. */
static char *
collect_metrics (gpointer user_data)
{
  App *app = user_data;
  g_autoptr(GPtrArray) servers = pk_socks_service_dup_servers (app->service);

  /* the configured listeners first, then the dongles' */
  if (app->farm != NULL)
    {
      g_autoptr(GPtrArray) dongles = pk_dongle_farm_dup_servers (app->farm);

      g_ptr_array_extend_and_steal (servers, g_steal_pointer (&dongles));
    }
  return pk_socks_server_dup_prometheus ((PkSocksServer * const *) servers->pdata, servers->len);
}

/* Flags are overrides of the configuration: they win over the
 * environment and the file, and apply to every listener (--listen only
 * to the command-line one). */
static void
set_overrides (PkConfig *config)
{
  static const struct {
    const char *key;
    char **value;
  } strings[] = {
    { "egress-address", &opt_egress_address },
    { "egress-interface", &opt_egress_interface },
    { "fwmark", &opt_fwmark },
    { "ttl", &opt_ttl },
    { "users", &opt_users },
    { "allow-url", &opt_allow_url },
    { "deny-url", &opt_deny_url },
    { "connect-timeout", &opt_connect_timeout },
    { "idle-timeout", &opt_idle_timeout },
    { "handshake-timeout", &opt_handshake_timeout },
    { "udp-idle-timeout", &opt_udp_idle_timeout },
    { "max-sessions", &opt_max_sessions },
    { "max-sessions-per-client", &opt_max_sessions_per_client },
    { "udp-advertise", &opt_udp_advertise },
  };
  static const struct {
    const char *key;
    char ***values;
  } lists[] = {
    { "egress-dns", &opt_egress_dns },
    { "allow", &opt_allow },
    { "deny", &opt_deny },
  };

  for (guint i = 0; i < G_N_ELEMENTS (strings); i++)
    if (*strings[i].value != NULL)
      {
        g_autofree char *flag = g_strconcat ("--", strings[i].key, NULL);
        pk_config_set_override (config, NULL, strings[i].key, *strings[i].value, flag);
      }
  for (guint i = 0; i < G_N_ELEMENTS (lists); i++)
    {
      g_autofree char *flag = g_strconcat ("--", lists[i].key, NULL);
      pk_config_set_override_list (config, NULL, lists[i].key, (const char * const *) *lists[i].values, flag);
    }
  pk_config_set_override_list (config, "socks", "listen", (const char * const *) opt_listen, "--listen");
  if (opt_allow_open)
    pk_config_set_override (config, NULL, "allow-open", "true", "--allow-open");
  if (opt_allow_host)
    pk_config_set_override (config, NULL, "allow-host-destinations", "true", "--allow-host-destinations");
}

/* A configuration error is a usage error; one of the system (an address
 * in use) is a failure. */
static void
die_on (GError *error)
{
  if (error->domain == PK_ERROR &&
      (error->code == PK_ERROR_CONFIG || error->code == PK_ERROR_NOT_ALLOWED))
    pk_cli_usage_error ("%s", error->message);
  pk_cli_die (PK_CLI_EXIT_FAILURE, "%s", error->message);
}

static gboolean
write_port_file (App     *app,
                 GError **error)
{
  g_autofree char *contents = pk_socks_service_dup_port_lines (app->service);

  return g_file_set_contents_full (opt_port_file, contents, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, error);
}

static void
set_pptp_overrides (App      *app,
                    PkConfig *config)
{
  if (app->pptp_interface != NULL)
    pk_config_set_override (config, NULL, "egress-interface", app->pptp_interface, "the PPTP tunnel's interface");
  if (app->pptp_address != NULL && opt_egress_address == NULL)
    pk_config_set_override (config, NULL, "egress-address", app->pptp_address, "the PPTP tunnel's address");
}

static gboolean
on_reload (gpointer data)
{
  App *app = data;
  g_autoptr(PkConfig) fresh = NULL;
  g_autoptr(GError) error = NULL;

  if (app->stopping > 0)
    return G_SOURCE_CONTINUE;
  g_message ("SIGHUP: reloading listeners, users and allowlists");
  pk_cli_sd_notifyf ("RELOADING=1\nMONOTONIC_USEC=%" G_GINT64_FORMAT, g_get_monotonic_time ());

  if (opt_config != NULL || g_getenv ("PROXYKIT_CONFIG") != NULL)
    {
      const char *path = opt_config ? opt_config : g_getenv ("PROXYKIT_CONFIG");

      fresh = pk_config_new ();
      if (!pk_config_load_file (fresh, path, &error))
        {
          g_warning ("reload refused, the running listeners and their settings stay: %s", error->message);
          pk_cli_sd_notify ("READY=1");
          return G_SOURCE_CONTINUE;
        }
      set_overrides (fresh);
      set_pptp_overrides (app, fresh);
    }
  /* The library logs each step and how it ended. */
  pk_socks_service_reload (app->service, fresh ? fresh : pk_socks_service_get_config (app->service), NULL);
  if (opt_port_file != NULL && !write_port_file (app, &error))
    g_warning ("reload: --port-file: %s", error->message);
  pk_cli_sd_notifyf ("STATUS=%u listener(s)%s", pk_socks_service_get_n_servers (app->service),
                     app->farm ? " and one per dongle" : "");

  pk_cli_sd_notify ("READY=1");
  return G_SOURCE_CONTINUE;
}

static void
stopped_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  App *app = data;

  if (PK_IS_DONGLE_FARM (source))
    pk_dongle_farm_stop_finish (PK_DONGLE_FARM (source), result, NULL);
  else
    pk_socks_service_stop_finish (PK_SOCKS_SERVICE (source), result, NULL);
  if (++app->n_stopped == 1 + (app->farm != NULL))
    g_main_loop_quit (app->loop);
}

static gboolean
on_stop (gpointer data)
{
  App *app = data;

  app->stopping++;
  if (app->stopping > 1)
    {
      g_message ("second stop signal: closing every session now");
      pk_socks_service_close (app->service);
      if (app->farm != NULL)
        pk_dongle_farm_close (app->farm);
      return G_SOURCE_CONTINUE;
    }

  g_message ("stopping: no new clients; live sessions have %u ms to finish", app->drain_ms);
  pk_cli_sd_notify ("STOPPING=1");
  pk_socks_service_stop_async (app->service, app->drain_ms, NULL, stopped_cb, app);
  if (app->farm != NULL)
    pk_dongle_farm_stop_async (app->farm, app->drain_ms, NULL, stopped_cb, app);
  return G_SOURCE_CONTINUE;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  App app = { 0 };
  guint64 n_workers = 0;

  pk_cli_init ("pk-socks");

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context,
                                "SOCKS5 proxy (RFC 1928/1929) whose outbound connections leave through "
                                "a chosen egress.\nWith no options it listens on " DEFAULT_LISTEN ".");
  g_option_context_set_description (context,
                                    "Environment: SOCKS_LISTEN, SOCKS_EGRESS_ADDRESS, SOCKS_EGRESS_INTERFACE, SOCKS_EGRESS_DNS, "
                                    "SOCKS_FWMARK, SOCKS_TTL, SOCKS_USERS, SOCKS_ALLOW, SOCKS_DENY, "
                                    "SOCKS_ALLOW_URL, SOCKS_DENY_URL, PROXYKIT_STATE_DIR, "
                                    "SOCKS_CONNECT_TIMEOUT, SOCKS_IDLE_TIMEOUT, SOCKS_READ_TIMEOUT, "
                                    "SOCKS_HANDSHAKE_TIMEOUT, SOCKS_UDP_IDLE_TIMEOUT, SOCKS_MAX_SESSIONS, "
                                    "SOCKS_MAX_SESSIONS_PER_CLIENT, SOCKS_UDP_ADVERTISE, PROXYKIT_CONFIG.\n"
                                    "See pk-socks(1).");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, pk_socks_pptp_option_group ());
  pk_cli_parse_options (context, &argc, &argv);
  pk_cli_set_quiet_sessions (opt_quiet);

  if (opt_version)
    pk_cli_print_version ();
  if (argc > 1)
    pk_cli_usage_error ("unexpected argument '%s'", argv[1]);

  app.config = pk_cli_load_config (opt_config);
  app.loop = g_main_loop_new (NULL, FALSE);

  app.drain_ms = DEFAULT_DRAIN_MS;
  if (opt_drain_timeout != NULL)
    {
      guint64 ms;

      if (!pk_cli_parse_value (TRUE, opt_drain_timeout, 0, G_MAXUINT, &ms, &error))
        pk_cli_usage_error ("--drain-timeout: %s", error->message);
      app.drain_ms = ms;
    }

  /* Dongle listeners ([dongles] and [dongle:N]) come from the library. */
  if (opt_dongles || pk_dongle_farm_config_enabled (app.config, &error))
    {
      app.farm = pk_dongle_farm_new_from_config (app.config, &error);
      if (app.farm == NULL)
        pk_cli_usage_error ("%s", error->message);
    }
  if (error != NULL)
    pk_cli_usage_error ("%s", error->message);

  set_overrides (app.config);

  /* With a PPTP upstream, the tunnel (checked) is every listener's egress. */
  if (pk_socks_pptp_enabled ())
    {
      if (opt_egress_interface != NULL)
        pk_cli_usage_error ("--egress-interface and --pptp-server exclude each other: the tunnel is the egress");
      pk_socks_pptp_bring_up (app.config, &app.pptp_interface, &app.pptp_address);
      set_pptp_overrides (&app, app.config);
    }

  /* The command-line listener: asked for, or the only one there is. */
  app.service = pk_socks_service_new_from_config (app.config,
                                                  opt_listen != NULL ? PK_SOCKS_SERVICE_MAIN_ALWAYS
                                                  : app.farm != NULL ? PK_SOCKS_SERVICE_MAIN_IF_ASKED
                                                  : PK_SOCKS_SERVICE_MAIN_AUTO, &error);
  if (app.service == NULL)
    pk_cli_usage_error ("%s", error->message);
  pk_socks_service_set_drain_timeout (app.service, app.drain_ms);

  /* PkWorkers raises RLIMIT_NOFILE when it starts and logs how many
   * sessions that allows (pipes for splicing counted). */
  if (opt_workers != NULL && !pk_cli_parse_value (FALSE, opt_workers, 0, 1024, &n_workers, &error))
    pk_cli_usage_error ("--workers: %s", error->message);

  if (opt_check)
    {
      if (!pk_socks_service_check (app.service, &error))
        die_on (error);
      g_print ("configuration OK: %u listener(s)%s\n", pk_socks_service_get_n_servers (app.service),
               app.farm ? " and one per dongle" : "");
      g_clear_object (&app.farm);
      g_clear_object (&app.service);
      g_main_loop_unref (app.loop);
      g_clear_object (&app.config);
      return PK_CLI_EXIT_OK;
    }

  app.workers = pk_workers_new (n_workers);
  pk_workers_set_reuse_port (app.workers, opt_reuse_port);

  /* Listeners first, so that a bad address is the first thing said; the
   * threads then serve the sockets made for them. */
  if (!pk_socks_service_start (app.service, app.workers, &error))
    die_on (error);
  if (!pk_workers_start (app.workers, &error))
    pk_cli_die (PK_CLI_EXIT_FAILURE, "cannot start worker threads: %s", error->message);
  if (app.farm != NULL)
    {
      pk_dongle_farm_set_workers (app.farm, app.workers);
      if (!pk_dongle_farm_start (app.farm, &error))
        pk_cli_die (PK_CLI_EXIT_FAILURE, "dongles: %s", error->message);
    }

  app.metrics = pk_cli_metrics_listen (app.config, "socks", opt_metrics_listen, collect_metrics, &app);

  /* Signals first: whoever reads the port file as "ready" may send
   * SIGTERM at once, which must drain, not kill. */
  pk_cli_handle_signals (on_stop, on_reload, &app);
  if (opt_port_file != NULL && !write_port_file (&app, &error))
    pk_cli_die (PK_CLI_EXIT_FAILURE, "--port-file: %s", error->message);

  if (pk_socks_pptp_enabled ())
    {
      g_auto(GStrv) bound = pk_socks_server_dup_listen_addresses (pk_socks_service_get_server (app.service, 0));

      pk_socks_pptp_record_online (bound[0]);
    }

  pk_cli_sd_notifyf ("READY=1\nSTATUS=%u listener(s)%s", pk_socks_service_get_n_servers (app.service),
                     app.farm ? " and one per dongle" : "");
  pk_cli_sd_watchdog_start (NULL, NULL);

  g_main_loop_run (app.loop);

  g_message ("stopped");
  pk_socks_pptp_shutdown ();
  if (app.metrics != NULL)
    pk_metrics_server_stop (app.metrics);
  g_clear_object (&app.metrics);
  g_clear_object (&app.farm);
  g_clear_object (&app.service);
  g_free (app.pptp_interface);
  g_free (app.pptp_address);
  pk_workers_stop (app.workers);
  g_clear_object (&app.workers);
  g_main_loop_unref (app.loop);
  g_clear_object (&app.config);
  return PK_CLI_EXIT_OK;
}
