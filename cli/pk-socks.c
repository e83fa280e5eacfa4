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
  char *name;
  gboolean is_main;            /* the command-line listener: section [socks] */
  PkSocksServer *server;
} Listener;

typedef struct {
  PkConfig *config;
  GPtrArray *listeners;        /* Listener */
  GMainLoop *loop;
  PkWorkers *workers;
  PkDongleFarm *farm;          /* --dongles */
  PkMetricsServer *metrics;    /* --metrics-listen */
  GPtrArray *retired;          /* PkSocksServer: removed by a reload, draining */
  char *pptp_interface;        /* the tunnel's, set again on every reload */
  char *pptp_address;
  guint drain_ms;
  guint stopping;
  guint n_stopped;
} App;

static void
listener_free (gpointer data)
{
  Listener *l = data;

  g_free (l->name);
  g_clear_object (&l->server);
  g_free (l);
}

/* /metrics: the counters of every listener. */
static char *
collect_metrics (gpointer user_data)
{
  App *app = user_data;
  g_autofree PkSocksServer **servers = g_new0 (PkSocksServer *, app->listeners->len + 1);

  for (guint i = 0; i < app->listeners->len; i++)
    servers[i] = ((Listener *) g_ptr_array_index (app->listeners, i))->server;
  return pk_socks_server_dup_prometheus (servers, app->listeners->len);
}

/* The library name of a listener: NULL for the command-line one. */
static const char *
config_name (Listener *l)
{
  return l->is_main ? NULL : l->name;
}

static gboolean
strv_has (char       **strv,
          const char  *s)
{
  return g_strv_contains ((const char * const *) strv, s);
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
die_on (Listener *l,
        GError   *error)
{
  if (error->domain == PK_ERROR &&
      (error->code == PK_ERROR_CONFIG || error->code == PK_ERROR_NOT_ALLOWED))
    pk_cli_usage_error ("%s", error->message);
  pk_cli_die (PK_CLI_EXIT_FAILURE, "listener %s: %s", l->name, error->message);
}

static gboolean
write_port_file (App     *app,
                 GError **error)
{
  g_autoptr(GString) contents = g_string_new (NULL);

  for (guint i = 0; i < app->listeners->len; i++)
    {
      Listener *l = g_ptr_array_index (app->listeners, i);
      g_auto(GStrv) bound = pk_socks_server_dup_listen_addresses (l->server);

      for (guint j = 0; bound[j] != NULL; j++)
        g_string_append_printf (contents, "%s %s\n", l->name, bound[j]);
    }

  return g_file_set_contents_full (opt_port_file, contents->str, contents->len,
                                  G_FILE_SET_CONTENTS_CONSISTENT, 0644, error);
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

static void
log_listener (Listener *l)
{
  g_auto(GStrv) bound = pk_socks_server_dup_listen_addresses (l->server);
  g_autofree char *list = g_strjoinv (", ", bound);
  g_autofree char *egress = pk_egress_to_string (pk_socks_server_get_egress (l->server));

  g_message ("listener %s on %s, egress %s%s", l->name, list, egress,
             pk_socks_server_get_auth_required (l->server) ? ", authentication required" : "");
}

static gint
find_listener (App        *app,
               const char *config_name)
{
  for (guint i = 0; i < app->listeners->len; i++)
    {
      Listener *l = g_ptr_array_index (app->listeners, i);

      if (l->is_main ? *config_name == '\0' : g_str_equal (l->name, config_name))
        return i;
    }
  return -1;
}

static void
retired_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  App *app = data;

  pk_socks_server_stop_finish (PK_SOCKS_SERVER (source), result, NULL);
  g_message ("listener %s: drained", pk_socks_server_get_name (PK_SOCKS_SERVER (source)));
  g_ptr_array_remove (app->retired, source);
}

/* Stops a listener a reload removes or moves: no new clients, its
 * sessions drain as on SIGTERM. */
static void
retire (App      *app,
        Listener *l)
{
  g_message ("listener %s: stopped, its %u session(s) draining", l->name,
             pk_socks_server_get_sessions_active (l->server));
  g_ptr_array_add (app->retired, g_object_ref (l->server));
  pk_socks_server_stop_async (l->server, app->drain_ms, NULL, retired_cb, app);
}

static void
note_failure (GString    **failed,
              const char  *name)
{
  if (*failed == NULL)
    *failed = g_string_new (name);
  else
    g_string_append_printf (*failed, ", %s", name);
}

/* The listener set of a reload, as pk-relay does with its rules: a
 * configuration error refuses the whole reload (nothing changes); a
 * listener that cannot bind is named and the rest applies. */
static void
reload_listeners (App      *app,
                  PkConfig *fresh)
{
  g_auto(GStrv) added = NULL;
  g_auto(GStrv) removed = NULL;
  g_auto(GStrv) changed = NULL;
  g_auto(GStrv) sections = NULL;
  g_autoptr(GPtrArray) starting = g_ptr_array_new_with_free_func (listener_free);
  g_autoptr(GString) failed = NULL;
  g_autoptr(GError) error = NULL;
  guint n_kept = 0, n_started = 0, n_stopped = 0;

  if (!pk_socks_server_diff_config_listeners (app->config, fresh, &added, &removed, &changed, &error))
    {
      g_warning ("reload refused, the running listeners and their settings stay: %s", error->message);
      return;
    }

  /* Every listener to start is built and checked before anything
   * changes: the moved ones, and every section without a running
   * listener (the added ones, and one a former reload could not bind). */
  sections = pk_config_list_sections (fresh, "socks");
  for (guint pass = 0; pass < 2; pass++)
    for (char **n = pass == 0 ? changed : sections; *n != NULL; n++)
      {
        Listener *l;

        /* changed: the running ones; sections: those not running */
        if ((pass == 0) != (find_listener (app, *n) >= 0) || (pass == 1 && **n == '\0'))
          continue;
        l = g_new0 (Listener, 1);
        l->is_main = **n == '\0';
        l->name = g_strdup (l->is_main ? "main" : *n);
        g_ptr_array_add (starting, l);
        l->server = pk_socks_server_new_from_config (fresh, config_name (l), &error);
        if (l->server == NULL ||
            !pk_socks_server_check_listen_from_config (l->server, fresh, config_name (l), &error))
          {
            g_warning ("reload refused, the running listeners and their settings stay: listener %s: %s",
                       l->name, error->message);
            return;
          }
      }

  g_set_object (&app->config, fresh);

  /* Removed and moved listeners stop before new sockets bind, so that a
   * moved listener may take an address it had. */
  for (guint i = app->listeners->len; i-- > 0;)
    {
      Listener *l = g_ptr_array_index (app->listeners, i);

      if (l->is_main ? !strv_has (changed, "") : !strv_has (removed, l->name) && !strv_has (changed, l->name))
        continue;
      retire (app, l);
      g_ptr_array_remove_index (app->listeners, i);
      n_stopped++;
    }

  for (guint i = 0; i < app->listeners->len; i++)
    {
      Listener *l = g_ptr_array_index (app->listeners, i);

      g_clear_error (&error);
      if (!pk_socks_server_reload_from_config (l->server, app->config, config_name (l), &error))
        {
          g_warning ("reload of listener %s: %s; its users and lists stay as they were", l->name, error->message);
          note_failure (&failed, l->name);
        }
      n_kept++;
    }

  for (guint i = 0; i < starting->len; i++)
    {
      Listener *l = g_ptr_array_index (starting, i);

      g_clear_error (&error);
      pk_socks_server_set_workers (l->server, app->workers);
      if (!pk_socks_server_listen_from_config (l->server, app->config, config_name (l), &error))
        {
          g_warning ("reload: listener %s not started: %s", l->name, error->message);
          note_failure (&failed, l->name);
          continue;
        }
      log_listener (l);
      n_started++;
      g_ptr_array_insert (app->listeners, l->is_main ? 0 : -1, g_ptr_array_steal_index (starting, i--));
    }

  g_clear_error (&error);
  if (opt_port_file != NULL && !write_port_file (app, &error))
    {
      g_warning ("reload: --port-file: %s", error->message);
      note_failure (&failed, "--port-file");
    }

  if (failed != NULL)
    g_warning ("reload incomplete, not applied: %s; %u listener(s) running", failed->str, app->listeners->len);
  else
    g_message ("reload done: %u listener(s) running (%u started, %u stopped, %u kept)",
               app->listeners->len, n_started, n_stopped, n_kept);
  pk_cli_sd_notifyf ("STATUS=%u listener(s)%s", app->listeners->len, app->farm ? " and one per dongle" : "");
}

static gboolean
on_reload (gpointer data)
{
  App *app = data;
  g_autoptr(GError) error = NULL;

  if (app->stopping > 0)
    return G_SOURCE_CONTINUE;
  g_message ("SIGHUP: reloading listeners, users and allowlists");
  pk_cli_sd_notifyf ("RELOADING=1\nMONOTONIC_USEC=%" G_GINT64_FORMAT, g_get_monotonic_time ());

  if (opt_config != NULL || g_getenv ("PROXYKIT_CONFIG") != NULL)
    {
      g_autoptr(PkConfig) fresh = pk_config_new ();
      const char *path = opt_config ? opt_config : g_getenv ("PROXYKIT_CONFIG");

      if (!pk_config_load_file (fresh, path, &error))
        {
          g_warning ("reload refused, the running listeners and their settings stay: %s", error->message);
          pk_cli_sd_notify ("READY=1");
          return G_SOURCE_CONTINUE;
        }
      set_overrides (fresh);
      set_pptp_overrides (app, fresh);
      reload_listeners (app, fresh);
    }
  else
    reload_listeners (app, app->config);

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
    pk_socks_server_stop_finish (PK_SOCKS_SERVER (source), result, NULL);
  if (++app->n_stopped == app->listeners->len + (app->farm != NULL))
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
      for (guint i = 0; i < app->listeners->len; i++)
        pk_socks_server_close (((Listener *) g_ptr_array_index (app->listeners, i))->server);
      for (guint i = 0; i < app->retired->len; i++)
        pk_socks_server_close (g_ptr_array_index (app->retired, i));
      if (app->farm != NULL)
        pk_dongle_farm_close (app->farm);
      return G_SOURCE_CONTINUE;
    }

  g_message ("stopping: no new clients; live sessions have %u ms to finish", app->drain_ms);
  pk_cli_sd_notify ("STOPPING=1");
  for (guint i = 0; i < app->listeners->len; i++)
    {
      Listener *l = g_ptr_array_index (app->listeners, i);
      pk_socks_server_stop_async (l->server, app->drain_ms, NULL, stopped_cb, app);
    }
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
  g_auto(GStrv) sections = NULL;
  App app = { 0 };
  guint64 n_workers = 0;
  gboolean cli_listener;

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
  app.listeners = g_ptr_array_new_with_free_func (listener_free);
  app.retired = g_ptr_array_new_with_free_func (g_object_unref);
  app.loop = g_main_loop_new (NULL, FALSE);

  app.drain_ms = DEFAULT_DRAIN_MS;
  if (opt_drain_timeout != NULL)
    {
      guint64 ms;

      if (!pk_cli_parse_value (TRUE, opt_drain_timeout, 0, G_MAXUINT, &ms, &error))
        pk_cli_usage_error ("--drain-timeout: %s", error->message);
      app.drain_ms = ms;
    }

  sections = pk_config_list_sections (app.config, "socks");
  for (guint i = 0; sections != NULL && sections[i] != NULL; i++)
    {
      Listener *l;

      /* A bare [socks] section holds settings of the command-line
       * listener; it is not a listener of its own. */
      if (*sections[i] == '\0')
        continue;
      l = g_new0 (Listener, 1);
      l->name = g_strdup (sections[i]);
      g_ptr_array_add (app.listeners, l);
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

  /* The command-line listener: asked for, or the only one there is. A
   * [socks] section that holds only metrics-listen (the tool's, not a
   * listener's) asks for none. */
  {
    static const char * const metrics_only[] = { "metrics-listen", NULL };

    cli_listener = opt_listen != NULL || pk_config_getenv (app.config, "SOCKS_LISTEN") != NULL ||
                   (pk_config_has_section (app.config, "socks") &&
                    !pk_config_check_keys (app.config, "socks", metrics_only, NULL)) ||
                   (app.listeners->len == 0 && app.farm == NULL);
  }
  if (cli_listener)
    {
      Listener *l = g_new0 (Listener, 1);

      l->name = g_strdup ("main");
      l->is_main = TRUE;
      g_ptr_array_insert (app.listeners, 0, l);
    }

  set_overrides (app.config);

  /* With a PPTP upstream, the tunnel (checked) is every listener's egress. */
  if (pk_socks_pptp_enabled ())
    {
      if (opt_egress_interface != NULL)
        pk_cli_usage_error ("--egress-interface and --pptp-server exclude each other: the tunnel is the egress");
      pk_socks_pptp_bring_up (app.config, &app.pptp_interface, &app.pptp_address);
      set_pptp_overrides (&app, app.config);
    }

  for (guint i = 0; i < app.listeners->len; i++)
    {
      Listener *l = g_ptr_array_index (app.listeners, i);

      l->server = pk_socks_server_new_from_config (app.config, config_name (l), &error);
      if (l->server == NULL)
        pk_cli_usage_error ("%s", error->message);
    }

  /* PkWorkers raises RLIMIT_NOFILE when it starts and logs how many
   * sessions that allows (pipes for splicing counted). */
  if (opt_workers != NULL && !pk_cli_parse_value (FALSE, opt_workers, 0, 1024, &n_workers, &error))
    pk_cli_usage_error ("--workers: %s", error->message);

  if (opt_check)
    {
      for (guint i = 0; i < app.listeners->len; i++)
        {
          Listener *l = g_ptr_array_index (app.listeners, i);

          if (!pk_socks_server_check_listen_from_config (l->server, app.config, config_name (l), &error))
            die_on (l, error);
        }
      g_print ("configuration OK: %u listener(s)%s\n", app.listeners->len,
               app.farm ? " and one per dongle" : "");
      g_clear_object (&app.farm);
      g_ptr_array_unref (app.listeners);
      g_ptr_array_unref (app.retired);
      g_main_loop_unref (app.loop);
      g_clear_object (&app.config);
      return PK_CLI_EXIT_OK;
    }

  app.workers = pk_workers_new (n_workers);
  pk_workers_set_reuse_port (app.workers, opt_reuse_port);

  /* Listeners first, so that a bad address is the first thing said; the
   * threads then serve the sockets made for them. */
  for (guint i = 0; i < app.listeners->len; i++)
    {
      Listener *l = g_ptr_array_index (app.listeners, i);

      pk_socks_server_set_workers (l->server, app.workers);
      if (!pk_socks_server_listen_from_config (l->server, app.config, config_name (l), &error))
        die_on (l, error);
    }
  if (!pk_workers_start (app.workers, &error))
    pk_cli_die (PK_CLI_EXIT_FAILURE, "cannot start worker threads: %s", error->message);
  if (app.farm != NULL)
    {
      pk_dongle_farm_set_workers (app.farm, app.workers);
      if (!pk_dongle_farm_start (app.farm, &error))
        pk_cli_die (PK_CLI_EXIT_FAILURE, "dongles: %s", error->message);
    }

  for (guint i = 0; i < app.listeners->len; i++)
    log_listener (g_ptr_array_index (app.listeners, i));

  app.metrics = pk_cli_metrics_listen (app.config, "socks", opt_metrics_listen, collect_metrics, &app);

  /* Signals first: whoever reads the port file as "ready" may send
   * SIGTERM at once, which must drain, not kill. */
  pk_cli_handle_signals (on_stop, on_reload, &app);
  if (opt_port_file != NULL && !write_port_file (&app, &error))
    pk_cli_die (PK_CLI_EXIT_FAILURE, "--port-file: %s", error->message);

  if (pk_socks_pptp_enabled ())
    {
      Listener *first = g_ptr_array_index (app.listeners, 0);
      g_auto(GStrv) bound = pk_socks_server_dup_listen_addresses (first->server);

      pk_socks_pptp_record_online (bound[0]);
    }

  pk_cli_sd_notifyf ("READY=1\nSTATUS=%u listener(s)%s", app.listeners->len,
                     app.farm ? " and one per dongle" : "");
  pk_cli_sd_watchdog_start (NULL, NULL);

  g_main_loop_run (app.loop);

  g_message ("stopped");
  pk_socks_pptp_shutdown ();
  if (app.metrics != NULL)
    pk_metrics_server_stop (app.metrics);
  g_clear_object (&app.metrics);
  g_clear_object (&app.farm);
  g_ptr_array_unref (app.listeners);
  g_ptr_array_unref (app.retired);
  g_free (app.pptp_interface);
  g_free (app.pptp_address);
  pk_workers_stop (app.workers);
  g_clear_object (&app.workers);
  g_main_loop_unref (app.loop);
  g_clear_object (&app.config);
  return PK_CLI_EXIT_OK;
}
