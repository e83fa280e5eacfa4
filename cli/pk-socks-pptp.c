/* pk-socks-pptp.c: pk-socks serving through a PPTP tunnel it brings up
 *
 * pk-socks --pptp-server HOST --pptp-user USER --pptp-password-file FILE
 * first brings the tunnel up (PkTunnel), verifies traffic through it (the
 * startup check: a TCP connect to SOCKS_STARTUP_CHECK_TARGET, 1.1.1.1:443
 * by default, SOCKS_STARTUP_CHECK_RETRIES tries SOCKS_STARTUP_RETRY_DELAY
 * apart, SOCKS_STARTUP_CHECK_TIMEOUT each), then serves bound to pppN, and
 * records the node in the state directory for pk-watchdog. If every try
 * fails, it destroys the tunnel, records the node "stopped" and exits 1.
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
  PkStateStore *store;
  PkTunnel *tunnel;
  char *node;
  GMainLoop *loop;
  GError *error;
  guint tries;
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

static void
save_state (PkNodeStatus  status,
            const char   *reason,
            const char   *listen)
{
  g_autoptr(GError) error = NULL;
  /* under the node's lock: pk-watchdog writes the same file */
  g_autoptr(PkNodeState) node = pk_state_store_load_locked (pptp.store, pptp.node, &error);

  if (node == NULL)
    {
      g_warning ("node %s: %s", pptp.node, error->message);
      return;
    }
  if (pptp.tunnel != NULL && pk_tunnel_get_pid (pptp.tunnel) != 0)
    pk_node_state_set_tunnel (node, pk_tunnel_get_server (pptp.tunnel), pk_tunnel_get_linkname (pptp.tunnel),
                              pk_tunnel_get_unit (pptp.tunnel), pk_tunnel_get_interface (pptp.tunnel),
                              pk_tunnel_get_pid (pptp.tunnel));
  else if (pptp.tunnel != NULL)
    pk_node_state_set_tunnel (node, pk_tunnel_get_server (pptp.tunnel), pk_tunnel_get_linkname (pptp.tunnel),
                              pk_tunnel_get_unit (pptp.tunnel), NULL, 0);
  if (listen != NULL)
    pk_node_state_set_socks (node, listen, getpid ());
  else if (status != PK_NODE_STATUS_ONLINE)
    pk_node_state_clear_socks (node);
  pk_node_state_set_status (node, status, reason);
  if (status == PK_NODE_STATUS_ONLINE)
    pk_node_state_set_consecutive_failures (node, 0);
  if (!pk_state_store_save_unlock (pptp.store, node, &error))
    g_warning ("node %s: %s", pptp.node, error->message);
}

static void
on_done (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
  g_main_loop_quit (pptp.loop);
}

static GAsyncResult *
wait_result (GAsyncResult **slot)
{
  if (*slot == NULL)
    g_main_loop_run (pptp.loop);
  return *slot;
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

static void
rollback_and_exit (const char *reason)
{
  g_autoptr(GAsyncResult) stopped = NULL;

  g_warning ("%s; rolling back", reason);
  if (pptp.tunnel != NULL)
    {
      pk_tunnel_stop_async (pptp.tunnel, NULL, on_done, &stopped);
      pk_tunnel_stop_finish (pptp.tunnel, wait_result (&stopped), NULL);
    }
  save_state (PK_NODE_STATUS_STOPPED, reason, NULL);
  pk_cli_die (PK_CLI_EXIT_FAILURE, "%s", reason);
}

void
pk_socks_pptp_bring_up (PkConfig  *config,
                        char     **egress_interface,
                        char     **egress_address)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) started = NULL;
  g_autoptr(GAsyncResult) checked = NULL;
  g_autoptr(PkEgress) egress = NULL;
  g_autofree char *target = NULL;
  g_autofree char *linkname = NULL;
  g_autofree char *section = NULL;
  guint tries, delay_ms, timeout_ms, n = 0;
  guint64 unit = parse_number ("pptp-unit", opt_unit, 65535, 0);

  if (!pk_startup_check_get_settings (config, &target, &tries, &delay_ms, &timeout_ms, &error))
    pk_cli_usage_error ("%s", error->message);

  pptp.node = opt_node ? g_strdup (opt_node) : g_strdup_printf ("pptp-%" G_GUINT64_FORMAT, unit);
  if (!pk_state_store_is_valid_name (pptp.node))
    pk_cli_usage_error ("--node: '%s' is not a valid node name", pptp.node);
  pptp.store = pk_state_store_new (opt_state_dir ? opt_state_dir : g_getenv ("PROXYKIT_STATE_DIR"));
  pptp.loop = g_main_loop_new (NULL, FALSE);

  /* The flags are the node's [tunnel:NODE] settings, as overrides: the
   * library builds the tunnel the way pk-watchdog's recovery does. */
  section = g_strconcat ("tunnel:", pptp.node, NULL);
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
  pptp.tunnel = pk_tunnel_new_from_config (config, pptp.node, NULL, &error);
  if (pptp.tunnel == NULL)
    pk_cli_usage_error ("%s", error->message);
  pk_tunnel_set_run_dir (pptp.tunnel, opt_run_dir);
  linkname = g_strdup (pk_tunnel_get_linkname (pptp.tunnel));
  if (opt_start_timeout != NULL)
    {
      g_autoptr(GError) parse_error = NULL;
      guint64 ms;

      if (!pk_cli_parse_value (TRUE, opt_start_timeout, 1, G_MAXUINT, &ms, &parse_error))
        pk_cli_usage_error ("--pptp-start-timeout: %s", parse_error->message);
      pk_tunnel_set_start_timeout_ms (pptp.tunnel, ms);
    }

  /* A pppd of ours that outlived a previous pk-socks is taken over. */
  if (pk_tunnel_adopt (pptp.tunnel, NULL))
    g_message ("tunnel %s: adopted the running pppd (pid %d)", linkname, pk_tunnel_get_pid (pptp.tunnel));
  else
    {
      save_state (PK_NODE_STATUS_STARTING, NULL, NULL);
      g_message ("tunnel %s: starting pppd to %s", linkname, opt_server ? opt_server : opt_peer);
      pk_tunnel_start_async (pptp.tunnel, NULL, on_done, &started);
      if (!pk_tunnel_start_finish (pptp.tunnel, wait_result (&started), &error))
        rollback_and_exit (error->message);
    }
  egress = pk_tunnel_get_egress (pptp.tunnel, &error);
  if (egress == NULL)
    rollback_and_exit (error->message);
  save_state (PK_NODE_STATUS_STARTING, NULL, NULL);

  g_message ("tunnel %s up on %s; startup check to %s (%u tries, %u ms apart, %u ms each)", linkname,
             pk_tunnel_get_interface (pptp.tunnel), target, tries, delay_ms, timeout_ms);
  pk_startup_check_async (egress, target, tries, delay_ms, timeout_ms, NULL, on_done, &checked);
  if (!pk_startup_check_finish (wait_result (&checked), &n, &error))
    rollback_and_exit (error->message);
  g_message ("startup check passed on try %u", n);

  *egress_interface = g_strdup (pk_egress_get_interface (egress));
  *egress_address = g_strdup (pk_egress_get_address (egress));
}

void
pk_socks_pptp_record_online (const char *listen)
{
  if (pptp.tunnel == NULL)
    return;
  save_state (PK_NODE_STATUS_ONLINE, NULL, listen);
}

void
pk_socks_pptp_shutdown (void)
{
  g_autoptr(GAsyncResult) stopped = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PkNodeState) node = NULL;

  if (pptp.tunnel == NULL)
    return;
  g_message ("tunnel %s: destroying", pk_tunnel_get_linkname (pptp.tunnel));
  pk_tunnel_stop_async (pptp.tunnel, NULL, on_done, &stopped);
  pk_tunnel_stop_finish (pptp.tunnel, wait_result (&stopped), NULL);

  /* Only a node that is still ours is marked stopped: after a failure,
   * pk-watchdog has recorded ping_failed, and its recovery may already
   * run a new tunnel and listener. */
  node = pk_state_store_load (pptp.store, pptp.node, &error);
  if (node != NULL && pk_node_state_get_socks_pid (node) == getpid () &&
      pk_node_state_get_status (node) != PK_NODE_STATUS_PING_FAILED)
    save_state (PK_NODE_STATUS_STOPPED, NULL, NULL);
  g_clear_object (&pptp.tunnel);
  g_clear_object (&pptp.store);
  g_clear_pointer (&pptp.loop, g_main_loop_unref);
  g_free (pptp.node);
}
