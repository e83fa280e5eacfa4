/* test-tunnel-pppd.c: what PkTunnel says to pppd and reads back, without a process or root
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <proxykit/proxykit.h>

#include "pk-test-utils.h"
#include "pk-tunnel-pppd-private.h"

/* --- argv for the real pppd --- */

static void
test_argv_pptp (void)
{
  g_autoptr(PkTunnel) tunnel = pk_tunnel_new ("pk-11");
  const char *options[] = { "require-mppe-128", "mtu", "1400", NULL };
  g_auto(GStrv) argv = NULL;
  g_autofree char *joined = NULL;
  g_autoptr(GError) error = NULL;

  argv = pk_tunnel_build_argv (tunnel, &error);
  g_assert_null (argv);
  g_assert_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  g_assert_true (pk_tunnel_set_server (tunnel, "vpn.example.net", &error));
  pk_tunnel_set_unit (tunnel, 11);
  pk_tunnel_set_user (tunnel, "alice");
  pk_tunnel_set_options (tunnel, options);
  argv = pk_tunnel_build_argv (tunnel, &error);
  g_assert_no_error (error);
  joined = g_strjoinv ("|", argv);
  g_assert_cmpstr (joined, ==,
                   "/usr/sbin/pppd|pty|pptp vpn.example.net --nolaunchpppd|linkname|pk-11|unit|11|"
                   "nodetach|user|alice|require-mppe-128|mtu|1400");
}

static void
test_argv_password_never_on_command_line (void)
{
  g_autoptr(PkTunnel) tunnel = pk_tunnel_new ("pk-12");
  g_auto(GStrv) argv = NULL;
  g_autofree char *joined = NULL;

  g_assert_true (pk_tunnel_set_server (tunnel, "198.51.100.4", NULL));
  pk_tunnel_set_pppd_path (tunnel, "/opt/ppp/sbin/pppd");
  pk_tunnel_set_pptp_path (tunnel, "/usr/sbin/pptp");
  pk_tunnel_set_run_dir (tunnel, "/run/pk");
  pk_tunnel_set_user (tunnel, "bob");
  pk_tunnel_set_password (tunnel, "s3cr\"et");
  argv = pk_tunnel_build_argv (tunnel, NULL);
  joined = g_strjoinv ("|", argv);
  g_assert_cmpstr (joined, ==,
                   "/opt/ppp/sbin/pppd|pty|/usr/sbin/pptp 198.51.100.4 --nolaunchpppd|linkname|pk-12|"
                   "nodetach|user|bob|file|/run/pk/pk-tunnel-pk-12.options");
  g_assert_null (strstr (joined, "s3cr"));
}

static void
test_argv_call_peer (void)
{
  g_autoptr(PkTunnel) tunnel = pk_tunnel_new ("pk-13");
  g_auto(GStrv) argv = NULL;
  g_autofree char *joined = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (pk_tunnel_set_server (tunnel, "198.51.100.4", NULL));
  g_assert_true (pk_tunnel_set_peer (tunnel, "office", NULL));
  pk_tunnel_set_unit (tunnel, 0);
  argv = pk_tunnel_build_argv (tunnel, NULL);
  joined = g_strjoinv ("|", argv);
  g_assert_cmpstr (joined, ==, "/usr/sbin/pppd|call|office|linkname|pk-13|unit|0|nodetach");

  /* the server goes through pppd's shell: no room for other words */
  g_assert_false (pk_tunnel_set_server (tunnel, "host; rm -rf /", &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (pk_tunnel_set_peer (tunnel, "../../etc/passwd", &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT);
}

static void
test_exit_status_messages (void)
{
  g_assert_cmpstr (pk_tunnel_describe_exit_status (11), ==, "the peer failed to authenticate itself");
  g_assert_nonnull (strstr (pk_tunnel_describe_exit_status (4), "no kernel PPP support"));
  g_assert_nonnull (strstr (pk_tunnel_describe_exit_status (19), "we failed to authenticate ourselves"));
  g_assert_cmpstr (pk_tunnel_describe_exit_status (99), ==, "an undocumented exit status");
}

/* --- the options file, the pidfile, /proc/PID/cmdline --- */

static void
test_options_file_quotes_the_password (void)
{
  g_autofree char *text = pk_pppd_options_file_text ("pk-12", "s3cr\"e\\t");

  g_assert_cmpstr (text, ==,
                   "# written by libproxykit for tunnel pk-12; removed when it stops\n"
                   "password \"s3cr\\\"e\\\\t\"\n");
}

static void
test_pidfile (void)
{
  g_autofree char *ifname = NULL;
  int pid = -1;

  g_assert_true (pk_pppd_parse_pidfile ("4242\nppp3\n", &pid, &ifname));
  g_assert_cmpint (pid, ==, 4242);
  g_assert_cmpstr (ifname, ==, "ppp3");
  g_clear_pointer (&ifname, g_free);

  /* before the unit exists: the pid alone */
  g_assert_true (pk_pppd_parse_pidfile ("4242\n", &pid, &ifname));
  g_assert_cmpint (pid, ==, 4242);
  g_assert_null (ifname);

  g_assert_false (pk_pppd_parse_pidfile ("", &pid, &ifname));
  g_assert_cmpint (pid, ==, 0);
  g_assert_false (pk_pppd_parse_pidfile ("0\nppp0\n", &pid, &ifname));
  g_assert_false (pk_pppd_parse_pidfile ("pppd\n", &pid, &ifname));
  g_assert_null (ifname);
}

static void
test_cmdline_has_linkname (void)
{
  static const char ours[] = "/usr/sbin/pppd\0pty\0pptp h --nolaunchpppd\0linkname\0pk-11\0nodetach";
  static const char other[] = "/usr/sbin/pppd\0linkname\0pk-111\0nodetach";
  static const char cut[] = "/usr/sbin/pppd\0linkname";

  /* as /proc has it: NUL after every word, the last one included */
  g_assert_true (pk_pppd_cmdline_has_linkname (ours, sizeof ours, "pk-11"));
  g_assert_false (pk_pppd_cmdline_has_linkname (ours, sizeof ours, "pk-1"));
  g_assert_false (pk_pppd_cmdline_has_linkname (other, sizeof other, "pk-11"));
  g_assert_false (pk_pppd_cmdline_has_linkname (cut, sizeof cut, "pk-11"));
  /* without the final NUL, the last word still counts whole */
  {
    static const char last[] = "/usr/sbin/pppd\0linkname\0pk-111";

    g_assert_true (pk_pppd_cmdline_has_linkname (last, sizeof last - 1, "pk-111"));
    g_assert_false (pk_pppd_cmdline_has_linkname (last, sizeof last - 2, "pk-111"));
  }
  g_assert_false (pk_pppd_cmdline_has_linkname ("", 0, "pk-11"));
}

static void
test_valid_words (void)
{
  g_assert_true (pk_pppd_is_valid_word ("vpn.example.net", "-.:"));
  g_assert_false (pk_pppd_is_valid_word ("-vpn", "-.:"));
  g_assert_false (pk_pppd_is_valid_word ("a b", "-.:"));
  g_assert_false (pk_pppd_is_valid_word ("", "-.:"));
  g_assert_false (pk_pppd_is_valid_word (NULL, "-.:"));
}

/* --- from a [tunnel:NAME] section --- */

static PkConfig *
tunnel_config (const char *text)
{
  PkConfig *config = pk_config_new ();
  const char *none[] = { NULL };

  pk_config_set_environ (config, none);
  g_assert_true (pk_config_load_data (config, text, -1, "test.conf", NULL));
  return config;
}

static void
test_from_config (void)
{
  g_autofree char *dir = g_dir_make_tmp ("pk-tunnel-XXXXXX", NULL);
  g_autofree char *pw = g_build_filename (dir, "pw", NULL);
  g_autofree char *text = g_strdup_printf ("[tunnel:vpn1]\nserver = vpn.example.net\nuser = alice\n"
                                           "password-file = %s\nunit = 7\noptions = mtu 1400 'name x'\n"
                                           "pppd = /opt/pppd\n"
                                           "[tunnel:bare]\nlisten = 127.0.0.1:0\n"
                                           "[tunnel:typo]\nsever = x\n"
                                           "[tunnel:badunit]\nserver = x\nunit = -1\n", pw);
  g_autoptr(PkConfig) config = NULL;
  g_autoptr(PkTunnel) tunnel = NULL;
  g_autoptr(PkNodeState) recorded = pk_node_state_new ("bare");
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) argv = NULL;
  g_autofree char *joined = NULL;

  g_assert_true (g_file_set_contents (pw, "s3cret\n", -1, NULL));
  config = tunnel_config (text);
  tunnel = pk_tunnel_new_from_config (config, "vpn1", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pk_tunnel_get_linkname (tunnel), ==, "pk-vpn1");
  g_assert_cmpstr (pk_tunnel_get_server (tunnel), ==, "vpn.example.net");
  g_assert_cmpint (pk_tunnel_get_unit (tunnel), ==, 7);
  g_assert_cmpstr (pk_tunnel_get_pppd_path (tunnel), ==, "/opt/pppd");
  pk_tunnel_set_run_dir (tunnel, "/run/pk");
  argv = pk_tunnel_build_argv (tunnel, &error);
  joined = g_strjoinv ("|", argv);
  g_assert_cmpstr (joined, ==, "/opt/pppd|pty|pptp vpn.example.net --nolaunchpppd|linkname|pk-vpn1|unit|7|"
                               "nodetach|user|alice|file|/run/pk/pk-tunnel-pk-vpn1.options|mtu|1400|name x");
  g_clear_object (&tunnel);

  /* neither server nor peer: the node's recorded tunnel stands in */
  g_assert_null (pk_tunnel_new_from_config (config, "bare", NULL, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "no PPTP server"));
  g_clear_error (&error);
  pk_node_state_set_tunnel (recorded, "198.51.100.4", "pk-old", 3, NULL, 0);
  tunnel = pk_tunnel_new_from_config (config, "bare", recorded, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pk_tunnel_get_server (tunnel), ==, "198.51.100.4");
  g_assert_cmpstr (pk_tunnel_get_linkname (tunnel), ==, "pk-old");
  g_assert_cmpint (pk_tunnel_get_unit (tunnel), ==, 3);

  g_assert_null (pk_tunnel_new_from_config (config, "typo", NULL, &error));
  g_assert_nonnull (strstr (error->message, "unknown key"));
  g_clear_error (&error);
  g_assert_null (pk_tunnel_new_from_config (config, "badunit", NULL, &error));
  g_assert_nonnull (strstr (error->message, "[tunnel:badunit] unit"));
  pk_test_run ("rm -rf %s", dir);
}

int
main (int argc, char **argv)
{
  pk_test_init (&argc, &argv);

  g_test_add_func ("/tunnel/argv/pptp", test_argv_pptp);
  g_test_add_func ("/tunnel/argv/password-never-on-command-line", test_argv_password_never_on_command_line);
  g_test_add_func ("/tunnel/argv/call-peer", test_argv_call_peer);
  g_test_add_func ("/tunnel/exit-status-messages", test_exit_status_messages);
  g_test_add_func ("/tunnel/options-file-quotes-the-password", test_options_file_quotes_the_password);
  g_test_add_func ("/tunnel/pidfile", test_pidfile);
  g_test_add_func ("/tunnel/cmdline-has-linkname", test_cmdline_has_linkname);
  g_test_add_func ("/tunnel/valid-words", test_valid_words);
  g_test_add_func ("/tunnel/from-config", test_from_config);

  return g_test_run ();
}
