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
  PK_CLI_OPTION_VERBOSE,
  { "quiet", 'q', 0, G_OPTION_ARG_NONE, &opt_quiet, "Do not log a line per finished session", NULL },
  { "version", 'V', 0, G_OPTION_ARG_NONE, &opt_version, "Print the version and exit", NULL },
  { NULL }
};

/* Keys of a [socks:NAME] section. */
static const char * const section_keys[] = {
  "listen", "egress-address", "egress-interface", "egress-dns", "fwmark", "ttl",
  "users", "users-inline", "allow", "deny", "connect-timeout", "idle-timeout",
  "handshake-timeout", "resolve-timeout", "udp-idle-timeout", "max-sessions",
  "max-sessions-per-client", "udp-advertise", "allow-open", "allow-host-destinations",
  NULL
};

typedef struct {
  char *name;
  char *section;               /* "socks:NAME"; "socks" for the command-line listener */
  gboolean is_main;            /* the command-line listener */
  PkSocksServer *server;
} Listener;

typedef struct {
  PkConfig *config;
  GPtrArray *listeners;        /* Listener */
  GMainLoop *loop;
  PkWorkers *workers;
  PkDongleFarm *farm;          /* --dongles */
  guint drain_ms;
  guint stopping;
  guint n_stopped;
} App;

static void
listener_free (gpointer data)
{
  Listener *l = data;

  g_free (l->name);
  g_free (l->section);
  g_clear_object (&l->server);
  g_free (l);
}

/* A setting and where it came from, for messages: "--ttl",
 * "environment variable SOCKS_TTL", "proxykit.conf:12: [socks:11] ttl".
 * Flags apply to every listener; environment variables only where @env is
 * given (the seeds' variables are global tuning, while addresses and
 * users belong to one listener). */
static char *
lookup (App         *app,
        const char  *section,
        const char  *key,
        const char  *env,
        const char  *flag_value,
        char       **where)
{
  const char *value;

  if (flag_value != NULL)
    {
      *where = g_strdup_printf ("--%s", key);
      return g_strdup (flag_value);
    }
  if (env != NULL && (value = pk_config_getenv (app->config, env)) != NULL)
    {
      *where = g_strdup_printf ("environment variable %s", env);
      return g_strdup (value);
    }
  if (section != NULL && pk_config_has_section (app->config, section) &&
      pk_config_has_key (app->config, section, key))
    {
      *where = pk_config_describe (app->config, section, key);
      return pk_config_dup_string (app->config, section, key, NULL, NULL);
    }
  *where = NULL;
  return NULL;
}

/* The library's parsers, reached through PkConfig (the tools link the
 * public API only): the value is handed over as a variable of a private
 * environment, and the message keeps only what follows its name. */

static gboolean
get_duration (App         *app,
              const char  *section,
              const char  *key,
              const char  *env,
              const char  *flag_value,
              guint        default_ms,
              guint       *out,
              GError     **error)
{
  g_autofree char *where = NULL;
  g_autofree char *value = lookup (app, section, key, env, flag_value, &where);
  guint64 ms;

  if (value == NULL)
    {
      *out = default_ms;
      return TRUE;
    }
  if (!pk_cli_parse_value (TRUE, value, 0, G_MAXUINT, &ms, error))
    {
      g_prefix_error (error, "%s: ", where);
      return FALSE;
    }
  *out = ms;
  return TRUE;
}

static gboolean
get_uint (App         *app,
          const char  *section,
          const char  *key,
          const char  *env,
          const char  *flag_value,
          guint64      max,
          guint64      default_value,
          guint64     *out,
          GError     **error)
{
  g_autofree char *where = NULL;
  g_autofree char *value = lookup (app, section, key, env, flag_value, &where);

  if (value == NULL)
    {
      *out = default_value;
      return TRUE;
    }
  if (!pk_cli_parse_value (FALSE, value, 0, max, out, error))
    {
      g_prefix_error (error, "%s: ", where);
      return FALSE;
    }
  return TRUE;
}

static gboolean
get_boolean (App         *app,
             const char  *section,
             const char  *key,
             gboolean     flag,
             gboolean    *out,
             GError     **error)
{
  if (flag)
    {
      *out = TRUE;
      return TRUE;
    }
  if (!pk_config_has_section (app->config, section))
    {
      *out = FALSE;
      return TRUE;
    }
  return pk_config_get_boolean (app->config, section, key, NULL, FALSE, out, error);
}

static char *
join_flags (char **values)
{
  return values != NULL ? g_strjoinv (",", values) : NULL;
}

/* Users and lists: what SIGHUP reads again. */
static gboolean
configure_access (App            *app,
                  Listener       *l,
                  GError        **error)
{
  g_autofree char *allow_flag = join_flags (opt_allow);
  g_autofree char *deny_flag = join_flags (opt_deny);
  g_autofree char *where = NULL;
  g_autofree char *value = NULL;
  const char *env_allow = l->is_main ? "SOCKS_ALLOW" : NULL;
  const char *env_deny = l->is_main ? "SOCKS_DENY" : NULL;
  const char *env_users = l->is_main ? "SOCKS_USERS" : NULL;

  value = lookup (app, l->section, "users", env_users, opt_users, &where);
  if (!pk_socks_server_set_users_file (l->server, value, error))
    {
      g_prefix_error (error, "%s: ", where);
      return FALSE;
    }
  g_clear_pointer (&value, g_free);
  g_clear_pointer (&where, g_free);

  if (pk_config_has_section (app->config, l->section) &&
      pk_config_has_key (app->config, l->section, "users-inline"))
    {
      g_autofree char *inline_users = pk_config_dup_string (app->config, l->section, "users-inline", NULL, NULL);
      g_auto(GStrv) users = g_strsplit_set (inline_users, "; ", -1);
      g_autoptr(GPtrArray) nonempty = g_ptr_array_new ();

      for (guint i = 0; users[i] != NULL; i++)
        if (*users[i] != '\0')
          g_ptr_array_add (nonempty, users[i]);
      g_ptr_array_add (nonempty, NULL);
      if (!pk_socks_server_set_users (l->server, (const char * const *) nonempty->pdata, error))
        {
          g_autofree char *desc = pk_config_describe (app->config, l->section, "users-inline");
          g_prefix_error (error, "%s: ", desc);
          return FALSE;
        }
    }

  value = lookup (app, l->section, "allow", env_allow, allow_flag, &where);
  if (!pk_socks_server_set_allowlist (l->server, value, error))
    {
      g_prefix_error (error, "%s: ", where);
      return FALSE;
    }
  g_clear_pointer (&value, g_free);
  g_clear_pointer (&where, g_free);

  value = lookup (app, l->section, "deny", env_deny, deny_flag, &where);
  if (!pk_socks_server_set_denylist (l->server, value, error))
    {
      g_prefix_error (error, "%s: ", where);
      return FALSE;
    }
  return TRUE;
}

static gboolean
configure_egress (App       *app,
                  Listener  *l,
                  GError   **error)
{
  g_autoptr(PkEgress) egress = pk_egress_new ();
  g_autofree char *where = NULL;
  g_autofree char *value = NULL;
  gboolean cli = l->is_main;
  guint64 n;

  value = lookup (app, l->section, "egress-address", cli ? "SOCKS_EGRESS_ADDRESS" : NULL,
                  opt_egress_address, &where);
  if (value != NULL && !pk_egress_set_address (egress, value, error))
    {
      g_prefix_error (error, "%s: ", where);
      return FALSE;
    }
  g_clear_pointer (&value, g_free);
  g_clear_pointer (&where, g_free);

  value = lookup (app, l->section, "egress-interface", cli ? "SOCKS_EGRESS_INTERFACE" : NULL,
                  opt_egress_interface, &where);
  if (value != NULL)
    {
      g_autoptr(PkEgress) check = pk_egress_new_full (NULL, value, 0, 0, error);

      if (check == NULL)
        {
          g_prefix_error (error, "%s: ", where);
          return FALSE;
        }
      pk_egress_set_interface (egress, value);
    }

  g_clear_pointer (&value, g_free);
  g_clear_pointer (&where, g_free);
  {
    g_autofree char *dns_flag = join_flags (opt_egress_dns);

    value = lookup (app, l->section, "egress-dns", cli ? "SOCKS_EGRESS_DNS" : NULL, dns_flag, &where);
    if (value != NULL)
      {
        g_auto(GStrv) parts = g_strsplit_set (value, ", ", -1);
        g_autoptr(GPtrArray) servers = g_ptr_array_new ();

        for (guint i = 0; parts[i] != NULL; i++)
          if (*parts[i] != '\0')
            g_ptr_array_add (servers, parts[i]);
        g_ptr_array_add (servers, NULL);
        if (!pk_egress_set_nameservers (egress, (const char * const *) servers->pdata, error))
          {
            g_prefix_error (error, "%s: ", where);
            return FALSE;
          }
      }
  }

  if (!get_uint (app, l->section, "fwmark", cli ? "SOCKS_FWMARK" : NULL, opt_fwmark,
                 G_MAXUINT32, 0, &n, error))
    return FALSE;
  pk_egress_set_fwmark (egress, n);
  if (!get_uint (app, l->section, "ttl", cli ? "SOCKS_TTL" : NULL, opt_ttl, 255, 0, &n, error))
    return FALSE;
  pk_egress_set_ttl (egress, n);

  pk_socks_server_set_egress (l->server, egress);
  return TRUE;
}

static gboolean
configure_listener (App       *app,
                    Listener  *l,
                    GError   **error)
{
  PkSocksServer *server = l->server;
  g_autofree char *where = NULL;
  g_autofree char *value = NULL;
  guint ms;
  guint64 n;
  gboolean b;

  if (!configure_egress (app, l, error))
    return FALSE;

  if (!get_duration (app, l->section, "connect-timeout", "SOCKS_CONNECT_TIMEOUT", opt_connect_timeout,
                     pk_socks_server_get_connect_timeout (server), &ms, error))
    return FALSE;
  pk_socks_server_set_connect_timeout (server, ms);

  /* The seed's SOCKS_READ_TIMEOUT (a read with no data) is what the idle
   * timeout does; SOCKS_IDLE_TIMEOUT wins when both are set. */
  if (!get_duration (app, l->section, "idle-timeout",
                     pk_config_getenv (app->config, "SOCKS_IDLE_TIMEOUT") ? "SOCKS_IDLE_TIMEOUT" : "SOCKS_READ_TIMEOUT",
                     opt_idle_timeout, pk_socks_server_get_idle_timeout (server), &ms, error))
    return FALSE;
  pk_socks_server_set_idle_timeout (server, ms);

  if (!get_duration (app, l->section, "handshake-timeout", "SOCKS_HANDSHAKE_TIMEOUT", opt_handshake_timeout,
                     pk_socks_server_get_handshake_timeout (server), &ms, error))
    return FALSE;
  pk_socks_server_set_handshake_timeout (server, ms);

  if (!get_duration (app, l->section, "resolve-timeout", "SOCKS_RESOLVE_TIMEOUT", NULL,
                     pk_socks_server_get_resolve_timeout (server), &ms, error))
    return FALSE;
  pk_socks_server_set_resolve_timeout (server, ms);

  if (!get_duration (app, l->section, "udp-idle-timeout", "SOCKS_UDP_IDLE_TIMEOUT", opt_udp_idle_timeout,
                     pk_socks_server_get_udp_idle_timeout (server), &ms, error))
    return FALSE;
  pk_socks_server_set_udp_idle_timeout (server, ms);

  if (!get_uint (app, l->section, "max-sessions", "SOCKS_MAX_SESSIONS", opt_max_sessions,
                 G_MAXUINT, 0, &n, error))
    return FALSE;
  pk_socks_server_set_max_sessions (server, n);

  if (!get_uint (app, l->section, "max-sessions-per-client", "SOCKS_MAX_SESSIONS_PER_CLIENT",
                 opt_max_sessions_per_client, G_MAXUINT, 0, &n, error))
    return FALSE;
  pk_socks_server_set_max_sessions_per_client (server, n);

  value = lookup (app, l->section, "udp-advertise", "SOCKS_UDP_ADVERTISE", opt_udp_advertise, &where);
  if (!pk_socks_server_set_udp_advertise_address (server, value, error))
    {
      g_prefix_error (error, "%s: ", where);
      return FALSE;
    }

  if (!get_boolean (app, l->section, "allow-host-destinations", opt_allow_host, &b, error))
    return FALSE;
  pk_socks_server_set_allow_host_destinations (server, b);

  return configure_access (app, l, error);
}

static char **
listen_addresses (App       *app,
                  Listener  *l,
                  char     **where)
{
  g_autofree char *value = NULL;

  if (l->is_main)
    {
      if (opt_listen != NULL)
        {
          *where = g_strdup ("--listen");
          return g_strdupv (opt_listen);
        }
      value = lookup (app, l->section, "listen", "SOCKS_LISTEN", NULL, where);
      if (value == NULL)
        {
          *where = g_strdup ("the default listen address");
          value = g_strdup (DEFAULT_LISTEN);
        }
    }
  else
    {
      value = lookup (app, l->section, "listen", NULL, NULL, where);
      if (value == NULL)
        {
          g_autofree char *desc = pk_config_describe (app->config, l->section, NULL);
          pk_cli_usage_error ("%s: no listen key (example: listen = 0.0.0.0:10011)", desc);
        }
    }
  return g_strsplit_set (value, ",; ", -1);
}

static void
start_listener (App      *app,
                Listener *l)
{
  g_autofree char *where = NULL;
  g_auto(GStrv) addresses = listen_addresses (app, l, &where);
  gboolean allow_open = FALSE;
  g_autoptr(GError) error = NULL;

  for (guint i = 0; addresses[i] != NULL; i++)
    {
      if (*addresses[i] == '\0')
        continue;
      if (!pk_socks_server_listen (l->server, addresses[i], &error))
        {
          if (g_error_matches (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT))
            pk_cli_usage_error ("%s: %s", where, error->message);
          pk_cli_die (PK_CLI_EXIT_FAILURE, "listener %s: %s", l->name, error->message);
        }
    }

  if (!get_boolean (app, l->section, "allow-open", opt_allow_open, &allow_open, &error))
    pk_cli_usage_error ("%s", error->message);

  if (!pk_socks_server_is_listening_on_loopback_only (l->server) && !allow_open &&
      !pk_socks_server_get_auth_required (l->server) && !pk_socks_server_has_allowlist (l->server))
    {
      g_auto(GStrv) bound = pk_socks_server_dup_listen_addresses (l->server);
      char list[256];
      char *joined = g_strjoinv (", ", bound);

      /* Nothing on the heap survives into exit(), for leak checkers. */
      g_strlcpy (list, joined, sizeof list);
      g_free (joined);
      g_clear_pointer (&bound, g_strfreev);
      pk_cli_usage_error ("listener %s on %s is not on loopback and has neither users (--users) "
                          "nor a client allowlist (--allow): anyone who can reach it could use it; "
                          "add one, or pass --allow-open (allow-open = true in the config) if that is meant",
                          l->name, list);
    }
}

/* --check: what start_listener() would refuse, without binding. */
static void
check_listener (App      *app,
                Listener *l)
{
  g_autofree char *where = NULL;
  g_auto(GStrv) addresses = listen_addresses (app, l, &where);
  g_autoptr(GError) error = NULL;
  gboolean loopback_only = TRUE;
  gboolean allow_open = FALSE;

  for (guint i = 0; addresses[i] != NULL; i++)
    {
      g_autoptr(GSocketConnectable) address = NULL;
      g_autoptr(GInetAddress) inet = NULL;
      const char *host;

      if (*addresses[i] == '\0')
        continue;
      address = g_network_address_parse (addresses[i], 0, &error);
      if (address == NULL)
        pk_cli_usage_error ("%s: '%s': %s", where, addresses[i], error->message);
      host = g_network_address_get_hostname (G_NETWORK_ADDRESS (address));
      inet = g_inet_address_new_from_string (host);
      if (inet == NULL)
        pk_cli_usage_error ("%s: '%s': '%s' is not an IPv4 or IPv6 address", where, addresses[i], host);
      loopback_only &= g_inet_address_get_is_loopback (inet);
    }

  if (!get_boolean (app, l->section, "allow-open", opt_allow_open, &allow_open, &error))
    pk_cli_usage_error ("%s", error->message);
  if (!loopback_only && !allow_open &&
      !pk_socks_server_get_auth_required (l->server) && !pk_socks_server_has_allowlist (l->server))
    pk_cli_usage_error ("listener %s is not on loopback and has neither users (--users) nor a client "
                        "allowlist (--allow): add one, or pass --allow-open", l->name);
}

static void
write_port_file (App *app)
{
  g_autoptr(GString) contents = g_string_new (NULL);
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < app->listeners->len; i++)
    {
      Listener *l = g_ptr_array_index (app->listeners, i);
      g_auto(GStrv) bound = pk_socks_server_dup_listen_addresses (l->server);

      for (guint j = 0; bound[j] != NULL; j++)
        g_string_append_printf (contents, "%s %s\n", l->name, bound[j]);
    }

  if (!g_file_set_contents_full (opt_port_file, contents->str, contents->len,
                                 G_FILE_SET_CONTENTS_CONSISTENT, 0644, &error))
    pk_cli_die (PK_CLI_EXIT_FAILURE, "--port-file: %s", error->message);
}

/* What start_listener() refuses, a reload refuses too: emptying the
 * users file must not turn a public listener into an open proxy. */
static gboolean
reload_keeps_access (App            *app,
                     Listener       *l,
                     PkSocksServer  *trial,
                     GError        **error)
{
  gboolean allow_open = FALSE;

  if (!get_boolean (app, l->section, "allow-open", opt_allow_open, &allow_open, error))
    return FALSE;
  if (pk_socks_server_is_listening_on_loopback_only (l->server) || allow_open ||
      pk_socks_server_get_auth_required (trial) || pk_socks_server_has_allowlist (trial))
    return TRUE;
  g_set_error (error, PK_ERROR, PK_ERROR_CONFIG,
               "the new settings have neither users nor a client allowlist, and the listener is "
               "not on loopback: anyone who can reach it could use it (set allow-open = true if that is meant)");
  return FALSE;
}

static gboolean
on_reload (gpointer data)
{
  App *app = data;
  g_autoptr(GError) error = NULL;

  g_message ("SIGHUP: reloading users and allowlists");
  pk_cli_sd_notify ("RELOADING=1");

  if (opt_config != NULL || g_getenv ("PROXYKIT_CONFIG") != NULL)
    {
      g_autoptr(PkConfig) fresh = pk_config_new ();
      const char *path = opt_config ? opt_config : g_getenv ("PROXYKIT_CONFIG");

      if (!pk_config_load_file (fresh, path, &error))
        {
          g_warning ("reload: %s; keeping the old settings", error->message);
          pk_cli_sd_notify ("READY=1");
          return G_SOURCE_CONTINUE;
        }
      g_set_object (&app->config, fresh);
    }

  for (guint i = 0; i < app->listeners->len; i++)
    {
      Listener *l = g_ptr_array_index (app->listeners, i);

      g_clear_error (&error);
      if (!l->is_main && !pk_config_has_section (app->config, l->section))
        {
          g_warning ("reload: section [%s] is gone; listener %s keeps its settings (restart to remove it)",
                     l->section, l->name);
          continue;
        }
      /* All or nothing: a trial run on a scratch server first, so that a
       * bad allowlist does not leave new users with old lists. */
      {
        g_autoptr(PkSocksServer) scratch = pk_socks_server_new ();
        Listener trial = *l;

        trial.server = scratch;
        if (!configure_access (app, &trial, &error) || !reload_keeps_access (app, l, scratch, &error) ||
            !configure_access (app, l, &error) || !pk_socks_server_reload (l->server, &error))
          g_warning ("reload of listener %s: %s; its users and lists stay as they were",
                     l->name, error->message);
      }
    }

  g_message ("reload done");

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
      g_autofree char *section = g_strconcat ("socks:", sections[i], NULL);
      Listener *l;

      /* A bare [socks] section holds settings of the command-line
       * listener; it is not a listener of its own. */
      if (*sections[i] == '\0')
        continue;
      if (!pk_config_check_keys (app.config, section, section_keys, &error))
        pk_cli_usage_error ("%s", error->message);
      l = g_new0 (Listener, 1);
      l->section = g_steal_pointer (&section);
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

  /* The command-line listener: asked for, or the only one there is. */
  cli_listener = opt_listen != NULL || pk_config_getenv (app.config, "SOCKS_LISTEN") != NULL ||
                 pk_config_has_section (app.config, "socks") || (app.listeners->len == 0 && app.farm == NULL);
  if (cli_listener)
    {
      Listener *l = g_new0 (Listener, 1);

      if (!pk_config_check_keys (app.config, "socks", section_keys, &error))
        pk_cli_usage_error ("%s", error->message);
      l->name = g_strdup ("main");
      l->is_main = TRUE;
      l->section = g_strdup ("socks");
      g_ptr_array_insert (app.listeners, 0, l);
    }

  /* With a PPTP upstream, the tunnel (checked) is every listener's egress. */
  if (pk_socks_pptp_enabled ())
    pk_socks_pptp_bring_up (app.config, &opt_egress_interface, &opt_egress_address);

  for (guint i = 0; i < app.listeners->len; i++)
    {
      Listener *l = g_ptr_array_index (app.listeners, i);

      l->server = pk_socks_server_new ();
      pk_socks_server_set_name (l->server, l->name);
      if (!configure_listener (&app, l, &error))
        pk_cli_usage_error ("%s", error->message);
    }

  /* PkWorkers raises RLIMIT_NOFILE when it starts and logs how many
   * sessions that allows (pipes for splicing counted). */
  if (opt_workers != NULL && !pk_cli_parse_value (FALSE, opt_workers, 0, 1024, &n_workers, &error))
    pk_cli_usage_error ("--workers: %s", error->message);

  if (opt_check)
    {
      for (guint i = 0; i < app.listeners->len; i++)
        check_listener (&app, g_ptr_array_index (app.listeners, i));
      g_print ("configuration OK: %u listener(s)%s\n", app.listeners->len,
               app.farm ? " and one per dongle" : "");
      g_clear_object (&app.farm);
      g_ptr_array_unref (app.listeners);
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
      start_listener (&app, l);
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
    {
      Listener *l = g_ptr_array_index (app.listeners, i);
      g_auto(GStrv) bound = pk_socks_server_dup_listen_addresses (l->server);
      g_autofree char *list = g_strjoinv (", ", bound);
      g_autofree char *egress = pk_egress_to_string (pk_socks_server_get_egress (l->server));

      g_message ("listener %s on %s, egress %s%s", l->name, list, egress,
                 pk_socks_server_get_auth_required (l->server) ? ", authentication required" : "");
    }

  /* Signals first: whoever reads the port file as "ready" may send
   * SIGTERM at once, which must drain, not kill. */
  pk_cli_handle_signals (on_stop, on_reload, &app);
  if (opt_port_file != NULL)
    write_port_file (&app);

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
  g_clear_object (&app.farm);
  g_ptr_array_unref (app.listeners);
  pk_workers_stop (app.workers);
  g_clear_object (&app.workers);
  g_main_loop_unref (app.loop);
  g_clear_object (&app.config);
  return PK_CLI_EXIT_OK;
}
