/* pk-tunnel-config.c: a PkTunnel from a [tunnel:NAME] section
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "pk-config-private.h"
#include "pk-error.h"
#include "pk-tunnel.h"

/* The keys of [tunnel:NAME]: the tunnel's, and the listener's that a node
 * supervisor (pk-watchdog) starts on it. */
static const char * const tunnel_keys[] = {
  "server", "peer", "user", "password-file", "unit", "linkname", "options",
  "pppd", "listen", "socks-args", NULL
};

/**
 * pk_tunnel_get_config_keys:
 *
 * Lists the keys of a `[tunnel:NAME]` section, for a key check.
 *
 * Returns: (transfer none) (array zero-terminated=1): the keys a
 *   `[tunnel:NAME]` section may have
 *
 * Since: 0.2
 */
const char * const *
pk_tunnel_get_config_keys (void)
{
  return tunnel_keys;
}

/**
 * pk_tunnel_new_from_config:
 * @config: a [class@Config]
 * @name: the node's name: the section `[tunnel:NAME]`
 * @recorded: (nullable): the node's recorded state, whose tunnel server,
 *   link name and unit stand in for keys the section lacks (a node that
 *   was brought up by hand, then left to the watchdog)
 * @error: return location for a `GError`
 *
 * A tunnel from the keys `server` (or `peer`, a pppd peer file), `user`,
 * `password-file` (read now; the password is not kept in the
 * configuration), `unit`, `linkname` (`pk-NAME` by default), `options`
 * (extra pppd options, shell-quoted) and `pppd`.
 *
 * Returns: (transfer full): the tunnel, not started; or %NULL with @error
 *   set (%PK_ERROR_CONFIG) naming the bad value, or saying that neither a
 *   server nor a peer is known
 *
 * Since: 0.2
 */
PkTunnel *
pk_tunnel_new_from_config (PkConfig     *config,
                           const char   *name,
                           PkNodeState  *recorded,
                           GError      **error)
{
  g_autofree char *section = NULL;
  g_autofree char *server = NULL;
  g_autofree char *peer = NULL;
  g_autofree char *linkname = NULL;
  g_autofree char *user = NULL;
  g_autofree char *password_file = NULL;
  g_autofree char *pppd = NULL;
  g_autofree char *options = NULL;
  g_auto(GStrv) options_argv = NULL;
  g_autoptr(PkTunnel) tunnel = NULL;
  GError *local_error = NULL;
  guint64 unit = 0;

  g_return_val_if_fail (PK_IS_CONFIG (config), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (recorded == NULL || PK_IS_NODE_STATE (recorded), NULL);

  section = g_strconcat ("tunnel:", name, NULL);
  if (!pk_config_check_keys (config, section, tunnel_keys, error))
    return NULL;

  server = pk_config_dup_string (config, section, "server", NULL,
                                 recorded ? pk_node_state_get_tunnel_server (recorded) : NULL);
  peer = pk_config_dup_string (config, section, "peer", NULL, NULL);
  linkname = pk_config_dup_string (config, section, "linkname", NULL,
                                   recorded ? pk_node_state_get_tunnel_linkname (recorded) : NULL);
  if (linkname == NULL)
    linkname = g_strconcat ("pk-", name, NULL);
  if (server == NULL && peer == NULL)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_CONFIG,
                   "[%s]: no PPTP server or pppd peer is known (set [tunnel:NAME] server=)", section);
      return NULL;
    }
  if (!pk_config_get_uint (config, section, "unit", NULL, 0, 65535,
                           recorded ? MAX (pk_node_state_get_tunnel_unit (recorded), 0) : 0, &unit, error))
    return NULL;

  tunnel = pk_tunnel_new (linkname);
  if (server != NULL && !pk_tunnel_set_server (tunnel, server, &local_error))
    return pk_config_value_error (config, section, "server", NULL, local_error, error), NULL;
  if (peer != NULL && !pk_tunnel_set_peer (tunnel, peer, &local_error))
    return pk_config_value_error (config, section, "peer", NULL, local_error, error), NULL;

  password_file = pk_config_dup_string (config, section, "password-file", NULL, NULL);
  if (password_file != NULL)
    {
      g_autofree char *password = NULL;

      if (!g_file_get_contents (password_file, &password, NULL, &local_error))
        return pk_config_value_error (config, section, "password-file", NULL, local_error, error), NULL;
      g_strchomp (password);
      pk_tunnel_set_password (tunnel, password);
      memset (password, 0, strlen (password));
    }

  options = pk_config_dup_string (config, section, "options", NULL, NULL);
  if (options != NULL && !g_shell_parse_argv (options, NULL, &options_argv, &local_error))
    return pk_config_value_error (config, section, "options", NULL, local_error, error), NULL;

  user = pk_config_dup_string (config, section, "user", NULL, NULL);
  pk_tunnel_set_user (tunnel, user);
  pk_tunnel_set_unit (tunnel, unit);
  pk_tunnel_set_options (tunnel, (const char * const *) options_argv);
  pppd = pk_config_dup_string (config, section, "pppd", NULL, NULL);
  if (pppd != NULL)
    pk_tunnel_set_pppd_path (tunnel, pppd);
  return g_steal_pointer (&tunnel);
}
