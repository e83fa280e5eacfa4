/* pk-socks-pptp.c: pk-socks serving through a PPTP tunnel it brings up
 *
 * pk-socks --pptp-server HOST --pptp-user USER --pptp-password-file FILE
 * first brings the tunnel up (PkTunnel), verifies traffic through it (the
 * startup check: a TCP connect to SOCKS_STARTUP_CHECK_TARGET, 1.1.1.1:443
 * by default, SOCKS_STARTUP_CHECK_RETRIES tries SOCKS_STARTUP_RETRY_DELAY
 * apart, SOCKS_STARTUP_CHECK_TIMEOUT each), then serves bound to pppN, and
 * records the node in the state directory for pk-watchdog. If every try
 * fails, it destroys the tunnel, records the node "stopped" and exits 1.
 * The library's PkNodeSupervisor does all of that, as it does
 * pk-watchdog's recovery; this file turns the flags into its settings.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <unistd.h>

#include "pk-socks-pptp.h"

static char *opt_server;
static char *opt_peer;
static char *opt_user;
static char *opt_password_file;
static char *opt_unit;
static char *opt_linkname;
static char **opt_options;
static char *opt_pppd;
static char *opt_node;
static char *opt_state_dir;
static char *opt_run_dir;
static char *opt_start_timeout;

static const GOptionEntry pptp_entries[] = {
  { "pptp-server", 0, 0, G_OPTION_ARG_STRING, &opt_server, "Serve through a PPTP tunnel to HOST (pppd + pptp)", "HOST" },
  { "pptp-peer", 0, 0, G_OPTION_ARG_STRING, &opt_peer, "Serve through the tunnel of 'pppd call PEER' instead", "PEER" },
  { "pptp-user", 0, 0, G_OPTION_ARG_STRING, &opt_user, "PPTP user name", "USER" },
  { "pptp-password-file", 0, 0, G_OPTION_ARG_FILENAME, &opt_password_file, "File holding the PPTP password", "FILE" },
  { "pptp-unit", 0, 0, G_OPTION_ARG_STRING, &opt_unit, "pppd unit: the tunnel is pppN (default 0)", "N" },
  { "pptp-linkname", 0, 0, G_OPTION_ARG_STRING, &opt_linkname, "pppd linkname (default pk-NODE)", "NAME" },
  { "pptp-option", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_options, "Extra pppd option word (repeatable)", "WORD" },
  { "pppd", 0, 0, G_OPTION_ARG_FILENAME, &opt_pppd, "pppd binary (default " PK_TUNNEL_PPPD_PATH_DEFAULT ")", "PATH" },
  { "pptp-start-timeout", 0, 0, G_OPTION_ARG_STRING, &opt_start_timeout, "How long the tunnel may take to come up (default 60s)", "DURATION" },
  { "node", 0, 0, G_OPTION_ARG_STRING, &opt_node, "Node name in the state directory (default: pptp-UNIT)", "NAME" },
  { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &opt_state_dir, "Node state directory (default " PK_STATE_DIR_DEFAULT ")", "DIR" },
  { "pptp-run-dir", 0, 0, G_OPTION_ARG_FILENAME, &opt_run_dir, "Where pppd writes its pidfiles (default " PK_TUNNEL_RUN_DIR_DEFAULT ")", "DIR" },
  { NULL }
};

static struct {
  PkNodeSupervisor *sup;
} pptp;

GOptionGroup *
pk_socks_pptp_option_group (void)
{
  GOptionGroup *group = g_option_group_new ("pptp", "Serving through a PPTP tunnel:",
                                            "Show the PPTP tunnel options", NULL, NULL);

  g_option_group_add_entries (group, pptp_entries);
  return group;
}

gboolean
pk_socks_pptp_enabled (void)
{
  return opt_server != NULL || opt_peer != NULL;
}

static guint64
parse_number (const char *flag,
              const char *value,
              guint64     max,
              guint64     def)
{
  guint64 n = def;

  if (value != NULL && !g_ascii_string_to_unsigned (value, 10, 0, max, &n, NULL))
    pk_cli_usage_error ("--%s: '%s' is not a number from 0 to %" G_GUINT64_FORMAT, flag, value, max);
  return n;
}

/* The flags are the node's [tunnel:NODE] settings, as overrides: the
 * library builds the tunnel the way pk-watchdog's recovery does. */
static PkTunnel *
build_tunnel (PkConfig   *config,
              const char *node)
{
  g_autofree char *section = g_strconcat ("tunnel:", node, NULL);
  g_autoptr(GError) error = NULL;
  PkTunnel *tunnel;

  pk_config_set_override (config, section, "server", opt_server, "--pptp-server");
  pk_config_set_override (config, section, "peer", opt_peer, "--pptp-peer");
  pk_config_set_override (config, section, "user", opt_user, "--pptp-user");
  pk_config_set_override (config, section, "password-file", opt_password_file, "--pptp-password-file");
  pk_config_set_override (config, section, "unit", opt_unit, "--pptp-unit");
  pk_config_set_override (config, section, "linkname", opt_linkname, "--pptp-linkname");
  pk_config_set_override (config, section, "pppd", opt_pppd, "--pppd");
  if (opt_options != NULL)
    {
      g_autoptr(GString) words = g_string_new (NULL);

      for (guint i = 0; opt_options[i] != NULL; i++)
        {
          g_autofree char *quoted = g_shell_quote (opt_options[i]);
          g_string_append_printf (words, "%s%s", i ? " " : "", quoted);
        }
      pk_config_set_override (config, section, "options", words->str, "--pptp-option");
    }
  tunnel = pk_tunnel_new_from_config (config, node, NULL, &error);
  if (tunnel == NULL)
    pk_cli_usage_error ("%s", error->message);
  pk_tunnel_set_run_dir (tunnel, opt_run_dir);
  if (opt_start_timeout != NULL)
    {
      guint64 ms;

      if (!pk_cli_parse_value (TRUE, opt_start_timeout, 1, G_MAXUINT, &ms, &error))
        pk_cli_usage_error ("--pptp-start-timeout: %s", error->message);
      pk_tunnel_set_start_timeout_ms (tunnel, ms);
    }
  return tunnel;
}

void
pk_socks_pptp_bring_up (PkConfig  *config,
                        char     **egress_interface,
                        char     **egress_address)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) up = NULL;
  g_autoptr(PkEgress) egress = NULL;
  g_autoptr(PkStateStore) store = NULL;
  g_autoptr(PkTunnel) tunnel = NULL;
  g_autofree char *target = NULL;
  g_autofree char *node = NULL;
  guint tries, delay_ms, timeout_ms;
  guint64 unit = parse_number ("pptp-unit", opt_unit, 65535, 0);

  if (!pk_startup_check_get_settings (config, &target, &tries, &delay_ms, &timeout_ms, &error))
    pk_cli_usage_error ("%s", error->message);
  node = opt_node ? g_strdup (opt_node) : g_strdup_printf ("pptp-%" G_GUINT64_FORMAT, unit);
  if (!pk_state_store_is_valid_name (node))
    pk_cli_usage_error ("--node: '%s' is not a valid node name", node);
  tunnel = build_tunnel (config, node);

  store = pk_state_store_new (opt_state_dir ? opt_state_dir : g_getenv ("PROXYKIT_STATE_DIR"));
  pptp.sup = pk_node_supervisor_new (store, node);
  pk_node_supervisor_set_tunnel (pptp.sup, tunnel);
  pk_node_supervisor_set_startup_check (pptp.sup, target, tries, delay_ms, timeout_ms);

  /* A pppd of ours that outlived a previous pk-socks is adopted; a
   * failure rolls back: tunnel destroyed, node stopped with the reason. */
  pk_node_supervisor_bring_up_async (pptp.sup, NULL, pk_cli_store_result, &up);
  egress = pk_node_supervisor_bring_up_finish (pptp.sup, pk_cli_wait_result (&up), &error);
  if (egress == NULL)
    pk_cli_die (PK_CLI_EXIT_FAILURE, "%s", error->message);

  *egress_interface = g_strdup (pk_egress_get_interface (egress));
  *egress_address = g_strdup (pk_egress_get_address (egress));
}

void
pk_socks_pptp_record_online (const char *listen)
{
  g_autoptr(GError) error = NULL;

  if (pptp.sup != NULL && !pk_node_supervisor_record_online (pptp.sup, listen, getpid (), &error))
    g_warning ("node %s: %s", pk_node_supervisor_get_name (pptp.sup), error->message);
}

void
pk_socks_pptp_shutdown (void)
{
  g_autoptr(GAsyncResult) stopped = NULL;

  if (pptp.sup == NULL)
    return;
  pk_node_supervisor_shut_down_async (pptp.sup, NULL, pk_cli_store_result, &stopped);
  pk_node_supervisor_shut_down_finish (pptp.sup, pk_cli_wait_result (&stopped), NULL);
  g_clear_object (&pptp.sup);
}
