/* pk-tunnel-pppd.c: pppd's command line, options file and pidfile, as pure functions
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "pk-error.h"
#include "pk-tunnel.h"
#include "pk-tunnel-pppd-private.h"

gboolean
pk_pppd_is_valid_word (const char *s,
                       const char *extra)
{
  if (s == NULL || *s == '\0' || strlen (s) > 255 || *s == '-')
    return FALSE;
  for (const char *p = s; *p; p++)
    if (!g_ascii_isalnum (*p) && strchr (extra, *p) == NULL)
      return FALSE;
  return TRUE;
}

char **
pk_pppd_build_argv (const PkPppdCommand  *cmd,
                    GError              **error)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);

  if (cmd->peer == NULL && cmd->server == NULL)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                   "tunnel %s has neither a PPTP server nor a pppd peer", cmd->linkname);
      return NULL;
    }

  g_ptr_array_add (argv, g_strdup (cmd->pppd_path));
  if (cmd->peer != NULL)
    {
      g_ptr_array_add (argv, g_strdup ("call"));
      g_ptr_array_add (argv, g_strdup (cmd->peer));
    }
  else
    {
      g_ptr_array_add (argv, g_strdup ("pty"));
      g_ptr_array_add (argv, g_strdup_printf ("%s %s --nolaunchpppd", cmd->pptp_path, cmd->server));
    }
  g_ptr_array_add (argv, g_strdup ("linkname"));
  g_ptr_array_add (argv, g_strdup (cmd->linkname));
  if (cmd->unit >= 0)
    {
      g_ptr_array_add (argv, g_strdup ("unit"));
      g_ptr_array_add (argv, g_strdup_printf ("%d", cmd->unit));
    }
  g_ptr_array_add (argv, g_strdup ("nodetach"));
  if (cmd->user != NULL)
    {
      g_ptr_array_add (argv, g_strdup ("user"));
      g_ptr_array_add (argv, g_strdup (cmd->user));
    }
  if (cmd->options_file != NULL)
    {
      g_ptr_array_add (argv, g_strdup ("file"));
      g_ptr_array_add (argv, g_strdup (cmd->options_file));
    }
  for (guint i = 0; cmd->options && cmd->options[i]; i++)
    g_ptr_array_add (argv, g_strdup (cmd->options[i]));
  g_ptr_array_add (argv, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&argv), FALSE);
}

char *
pk_pppd_options_file_text (const char *linkname,
                           const char *password)
{
  GString *s = g_string_new (NULL);

  g_string_append_printf (s, "# written by libproxykit for tunnel %s; removed when it stops\npassword \"",
                          linkname);
  for (const char *p = password; *p; p++)
    {
      if (*p == '"' || *p == '\\')
        g_string_append_c (s, '\\');
      g_string_append_c (s, *p);
    }
  g_string_append (s, "\"\n");
  return g_string_free (s, FALSE);
}

gboolean
pk_pppd_parse_pidfile (const char  *text,
                       int         *out_pid,
                       char       **out_ifname)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", 3);
  guint64 pid = 0;

  *out_pid = 0;
  *out_ifname = NULL;
  if (lines[0] == NULL || !g_ascii_string_to_unsigned (g_strstrip (lines[0]), 10, 1, G_MAXINT, &pid, NULL))
    return FALSE;
  *out_pid = (int) pid;
  if (lines[1] != NULL && *g_strstrip (lines[1]) != '\0')
    *out_ifname = g_strdup (lines[1]);
  return TRUE;
}

gboolean
pk_pppd_cmdline_has_linkname (const char *cmdline,
                              gsize       len,
                              const char *linkname)
{
  const char *prev = NULL;
  const char *end = cmdline + len;

  for (const char *p = cmdline; p < end; p += strnlen (p, end - p) + 1)
    {
      gsize n = strnlen (p, end - p);

      if (prev != NULL && g_str_equal (prev, "linkname") && n == strlen (linkname) &&
          strncmp (p, linkname, n) == 0)
        return TRUE;
      prev = n < (gsize) (end - p) ? p : NULL;
    }
  return FALSE;
}

/**
 * pk_tunnel_describe_exit_status:
 * @status: an exit status of pppd
 *
 * Tells what pppd's documented exit status means (its man page, EXIT STATUS),
 * or "an undocumented exit status".
 *
 * Returns: what pppd's documented exit status means (its man page, EXIT
 *   STATUS), or "an undocumented exit status"
 *
 * Since: 0.1
 */
const char *
pk_tunnel_describe_exit_status (int status)
{
  static const char * const reasons[] = {
    "the connection ended normally (or pppd detached)",
    "a fatal error (a system call failed or memory ran out)",
    "an error in the options given to pppd",
    "pppd is not setuid-root and the invoking user is not root",
    "no kernel PPP support (the ppp_generic module is missing or cannot be loaded)",
    "pppd was terminated by SIGINT, SIGTERM or SIGHUP",
    "the serial port could not be locked",
    "the serial port could not be opened",
    "the connect script failed",
    "the pty command (pptp) could not be run",
    "the PPP negotiation failed (no network protocol came up)",
    "the peer failed to authenticate itself",
    "the link was terminated because it was idle",
    "the link was terminated because the connect time limit was reached",
    "callback was negotiated and an incoming call should arrive shortly",
    "the peer stopped answering LCP echo requests",
    "the modem hung up",
    "the PPP negotiation failed because serial loopback was detected",
    "the init script failed",
    "we failed to authenticate ourselves to the peer (wrong user or password)",
    "the link was terminated because the traffic limit was reached",
    "the CNID authentication failed",
  };

  if (status < 0 || (guint) status >= G_N_ELEMENTS (reasons))
    return "an undocumented exit status";
  return reasons[status];
}
