/* test-relay-rule.c: PkRelayRule parsing, the env-file format and config sections
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gstdio.h>

#include <proxykit/proxykit.h>

#include "pk-test-utils.h"

static void
test_parse_valid (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkRelayRule) tcp = NULL;
  g_autoptr(PkRelayRule) udp = NULL;
  g_autoptr(PkRelayRule) addr = NULL;
  g_autoptr(PkRelayRule) v6 = NULL;
  g_autofree char *desc = NULL;

  tcp = pk_relay_rule_new_from_string ("50025;25;pool.example;TCP", &error);
  g_assert_no_error (error);
  g_assert_cmpint (pk_relay_rule_get_protocol (tcp), ==, PK_RELAY_PROTOCOL_TCP);
  g_assert_cmpuint (pk_relay_rule_get_in_port (tcp), ==, 50025);
  g_assert_cmpuint (pk_relay_rule_get_out_port (tcp), ==, 25);
  g_assert_cmpstr (pk_relay_rule_get_out_host (tcp), ==, "pool.example");
  g_assert_null (pk_relay_rule_get_listen_address (tcp));
  g_assert_cmpstr (pk_relay_rule_get_name (tcp), ==, "50025/tcp");

  /* Lower case, spaces around fields and a trailing ';' are accepted. */
  udp = pk_relay_rule_new_from_string (" 51820 ; 51820 ; 192.0.2.7 ; udp ;", &error);
  g_assert_no_error (error);
  g_assert_cmpint (pk_relay_rule_get_protocol (udp), ==, PK_RELAY_PROTOCOL_UDP);
  g_assert_cmpstr (pk_relay_rule_get_out_host (udp), ==, "192.0.2.7");
  g_assert_cmpuint (pk_relay_rule_get_idle_timeout (udp), ==, 60000);

  addr = pk_relay_rule_new_from_string ("127.0.0.1:50025;25;::1;TCP", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pk_relay_rule_get_listen_address (addr), ==, "127.0.0.1");
  desc = pk_relay_rule_to_string (addr);
  g_assert_cmpstr (desc, ==, "127.0.0.1:50025/tcp -> [::1]:25");

  v6 = pk_relay_rule_new_from_string ("[::1]:5000;25;h;TCP", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pk_relay_rule_get_listen_address (v6), ==, "::1");
}

static void
assert_parse_error (const char *spec,
                    const char *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkRelayRule) rule = pk_relay_rule_new_from_string (spec, &error);

  g_assert_null (rule);
  g_assert_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT);
  if (strstr (error->message, expected) == NULL || strstr (error->message, spec) == NULL)
    g_error ("'%s': message '%s' does not name '%s' and the spec", spec, error->message, expected);
}

static void
test_parse_errors (void)
{
  assert_parse_error ("50025;25;pool.example", "missing fields");
  assert_parse_error ("50025;25;pool.example;TCP;x", "too many fields");
  assert_parse_error ("50025;;pool.example;TCP", "out_port is empty");
  assert_parse_error ("70000;25;pool.example;TCP", "in_port '70000' is not a port");
  assert_parse_error ("0;25;pool.example;TCP", "in_port '0' is not a port");
  assert_parse_error ("50025;-1;pool.example;TCP", "out_port '-1' is not a port");
  assert_parse_error ("50025;smtp;pool.example;TCP", "out_port 'smtp' is not a port");
  assert_parse_error ("50025;25;pool.example;SCTP", "protocol 'SCTP' is not TCP or UDP");
  assert_parse_error ("50025;25;pool example;TCP", "out_host 'pool example'");
  assert_parse_error ("50025;25;\"pool.example\";TCP", "out_host");
  assert_parse_error ("nohost:50025;25;h;TCP", "in_port");
}

static void
test_check_duplicates (void)
{
  g_autoptr(GPtrArray) rules = g_ptr_array_new_with_free_func ((GDestroyNotify) pk_relay_rule_unref);
  g_autoptr(GError) error = NULL;

  g_ptr_array_add (rules, pk_relay_rule_new_from_string ("50025;25;a;TCP", NULL));
  /* The same port over UDP is another socket. */
  g_ptr_array_add (rules, pk_relay_rule_new_from_string ("50025;25;a;UDP", NULL));
  /* Two specific addresses do not collide. */
  g_ptr_array_add (rules, pk_relay_rule_new_from_string ("127.0.0.1:6000;25;a;TCP", NULL));
  g_ptr_array_add (rules, pk_relay_rule_new_from_string ("127.0.0.2:6000;25;a;TCP", NULL));
  g_assert_true (pk_relay_rules_check (rules, &error));
  g_assert_no_error (error);

  /* All addresses collides with a specific one. */
  g_ptr_array_add (rules, pk_relay_rule_new_from_string ("6000;26;b;TCP", NULL));
  pk_relay_rule_set_name (g_ptr_array_index (rules, 4), "other");
  g_assert_false (pk_relay_rules_check (rules, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "relay other: duplicate inbound port 6000/TCP"));
  g_assert_nonnull (strstr (error->message, "6000/tcp"));
}

static void
test_equal (void)
{
  g_autoptr(PkRelayRule) a = pk_relay_rule_new_from_string ("50025;25;a;TCP", NULL);
  g_autoptr(PkRelayRule) b = pk_relay_rule_copy (a);

  pk_relay_rule_set_name (b, "renamed");
  g_assert_true (pk_relay_rule_equal (a, b));
  pk_relay_rule_set_keepalive (b, 1, 2, 3);
  g_assert_false (pk_relay_rule_equal (a, b));
}

static char *
write_temp (const char *name,
            const char *contents)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("pk-relay-XXXXXX", &error);
  char *path;

  g_assert_no_error (error);
  path = g_build_filename (dir, name, NULL);
  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
  return path;
}

static void
remove_temp (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);

  g_unlink (path);
  g_rmdir (dir);
}

static PkConfig *
config_from_env_file (const char *contents)
{
  static const char * const empty[] = { NULL };
  g_autofree char *path = write_temp ("relay.env", contents);
  g_autoptr(GError) error = NULL;
  PkConfig *config = pk_config_new ();

  /* The test's own environment must not leak in. */
  pk_config_set_environ (config, empty);
  pk_config_load_env_file (config, path, &error);
  g_assert_no_error (error);
  remove_temp (path);
  return config;
}

/* The format of the shell tools' relay.env, as operators have it. */
static const char seed_env[] =
  "# relay settings\n"
  "CONNECT_TIMEOUT=15\n"
  "KEEPALIVE_IDLE=120\n"
  "KEEPALIVE_INTVL=30\n"
  "KEEPALIVE_CNT=4\n"
  "ENABLE_HEALTH_CHECK=true\n"
  "HEALTH_CHECK_TIMEOUT=3\n"
  "HEALTH_CHECK_RETRIES=2\n"
  "\n"
  "RELAY_1=\"50025;25;pool.example;TCP\"\n"
  "RELAY_2=\"51820;51820;vpn.example;UDP\"\n"
  "export RELAY_5='50110;110;10.0.0.5;tcp'\n";

static void
test_env_file_seed_format (void)
{
  g_autoptr(PkConfig) config = config_from_env_file (seed_env);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) rules = NULL;
  PkRelayRule *r;
  guint idle, intvl, cnt, timeout, retries;

  rules = pk_relay_rules_load (config, NULL, "127.0.0.1", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rules->len, ==, 3);

  r = g_ptr_array_index (rules, 0);
  g_assert_cmpstr (pk_relay_rule_get_name (r), ==, "RELAY_1");
  g_assert_cmpuint (pk_relay_rule_get_in_port (r), ==, 50025);
  g_assert_cmpstr (pk_relay_rule_get_out_host (r), ==, "pool.example");
  g_assert_cmpstr (pk_relay_rule_get_listen_address (r), ==, "127.0.0.1");
  g_assert_cmpuint (pk_relay_rule_get_connect_timeout (r), ==, 15000);
  pk_relay_rule_get_keepalive (r, &idle, &intvl, &cnt);
  g_assert_cmpuint (idle, ==, 120);
  g_assert_cmpuint (intvl, ==, 30);
  g_assert_cmpuint (cnt, ==, 4);
  g_assert_true (pk_relay_rule_get_health_check (r, &timeout, &retries, NULL));
  g_assert_cmpuint (timeout, ==, 3000);
  g_assert_cmpuint (retries, ==, 2);

  r = g_ptr_array_index (rules, 1);
  g_assert_cmpstr (pk_relay_rule_get_name (r), ==, "RELAY_2");
  g_assert_cmpint (pk_relay_rule_get_protocol (r), ==, PK_RELAY_PROTOCOL_UDP);
  g_assert_cmpuint (pk_relay_rule_get_out_port (r), ==, 51820);

  r = g_ptr_array_index (rules, 2);
  g_assert_cmpstr (pk_relay_rule_get_name (r), ==, "RELAY_5");
  g_assert_cmpstr (pk_relay_rule_get_out_host (r), ==, "10.0.0.5");
}

static void
test_env_file_bad_rule_fails_all (void)
{
  g_autoptr(PkConfig) config = config_from_env_file (
    "RELAY_1=\"50025;25;pool.example;TCP\"\n"
    "RELAY_2=\"51820;51820;vpn.example;QUIC\"\n");
  g_autoptr(PkConfig) dup = config_from_env_file (
    "RELAY_1=\"50025;25;pool.example;TCP\"\n"
    "RELAY_7=\"50025;26;other.example;TCP\"\n");
  g_autoptr(PkConfig) badopt = config_from_env_file (
    "KEEPALIVE_IDLE=soon\n"
    "RELAY_1=\"50025;25;pool.example;TCP\"\n");
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) rules = NULL;

  rules = pk_relay_rules_load (config, NULL, NULL, &error);
  g_assert_null (rules);
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "RELAY_2"));
  g_assert_nonnull (strstr (error->message, "protocol 'QUIC'"));
  g_clear_error (&error);

  rules = pk_relay_rules_load (dup, NULL, NULL, &error);
  g_assert_null (rules);
  g_assert_nonnull (strstr (error->message, "relay RELAY_7: duplicate inbound port 50025/TCP"));
  g_assert_nonnull (strstr (error->message, "RELAY_1"));
  g_clear_error (&error);

  rules = pk_relay_rules_load (badopt, NULL, NULL, &error);
  g_assert_null (rules);
  g_assert_nonnull (strstr (error->message, "KEEPALIVE_IDLE"));
}

static const char sections_conf[] =
  "[relay]\n"
  "connect-timeout = 5s\n"
  "keepalive-idle = 30\n"
  "\n"
  "[relay:smtp]\n"
  "listen = 127.0.0.1:50025\n"
  "target = pool.example:25\n"
  "\n"
  "[relay:wg]\n"
  "listen = 51820\n"
  "target = [2001:db8::1]:51820\n"
  "protocol = UDP\n"
  "idle-timeout = 2m\n"
  "max-sessions = 10\n"
  "connect-timeout = 1s\n"
  "allow = 10.0.0.0/8, 192.168.1.5\n"
  "egress-address = 192.168.11.100\n"
  "egress-fwmark = 11\n";

static void
test_config_sections (void)
{
  static const char * const empty[] = { NULL };
  g_autoptr(PkConfig) config = pk_config_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) rules = NULL;
  PkRelayRule *r;
  guint idle;

  pk_config_set_environ (config, empty);
  pk_config_load_data (config, sections_conf, -1, "relay.conf", &error);
  g_assert_no_error (error);
  rules = pk_relay_rules_load (config, NULL, "::1", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rules->len, ==, 2);

  r = g_ptr_array_index (rules, 0);
  g_assert_cmpstr (pk_relay_rule_get_name (r), ==, "smtp");
  /* Its own address wins over the default listen address. */
  g_assert_cmpstr (pk_relay_rule_get_listen_address (r), ==, "127.0.0.1");
  g_assert_cmpuint (pk_relay_rule_get_connect_timeout (r), ==, 5000);
  pk_relay_rule_get_keepalive (r, &idle, NULL, NULL);
  g_assert_cmpuint (idle, ==, 30);
  g_assert_cmpint (pk_relay_rule_get_protocol (r), ==, PK_RELAY_PROTOCOL_TCP);

  r = g_ptr_array_index (rules, 1);
  g_assert_cmpstr (pk_relay_rule_get_listen_address (r), ==, "::1");
  g_assert_cmpstr (pk_relay_rule_get_out_host (r), ==, "2001:db8::1");
  g_assert_cmpint (pk_relay_rule_get_protocol (r), ==, PK_RELAY_PROTOCOL_UDP);
  g_assert_cmpuint (pk_relay_rule_get_idle_timeout (r), ==, 120000);
  g_assert_cmpuint (pk_relay_rule_get_max_sessions (r), ==, 10);
  g_assert_cmpuint (pk_relay_rule_get_connect_timeout (r), ==, 1000);
  g_assert_cmpstr (pk_relay_rule_get_allow (r), ==, "10.0.0.0/8, 192.168.1.5");
  g_assert_nonnull (pk_relay_rule_get_egress (r));
  g_assert_cmpstr (pk_egress_get_address (pk_relay_rule_get_egress (r)), ==, "192.168.11.100");
  g_assert_cmpuint (pk_egress_get_fwmark (pk_relay_rule_get_egress (r)), ==, 11);
  /* The other rule leaves by the default route. */
  g_assert_null (pk_relay_rule_get_egress (g_ptr_array_index (rules, 0)));
}

static void
assert_config_error (const char *conf,
                     const char *expected)
{
  static const char * const empty[] = { NULL };
  g_autoptr(PkConfig) config = pk_config_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) rules = NULL;

  pk_config_set_environ (config, empty);
  pk_config_load_data (config, conf, -1, "relay.conf", &error);
  g_assert_no_error (error);
  rules = pk_relay_rules_load (config, NULL, NULL, &error);
  g_assert_null (rules);
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  if (strstr (error->message, expected) == NULL)
    g_error ("message '%s' does not contain '%s'", error->message, expected);
}

static void
test_config_errors (void)
{
  assert_config_error ("[relay:a]\nlisten = 70000\ntarget = h:1\n",
                       "relay.conf:2: [relay:a] listen: '70000' is not a port");
  assert_config_error ("[relay:a]\nlisten = 1000\n",
                       "relay.conf:1: [relay:a]: missing key 'target'");
  assert_config_error ("[relay:a]\nlisten = 1000\ntarget = h\n",
                       "relay.conf:3: [relay:a] target");
  assert_config_error ("[relay:a]\nlisten = 1000\ntarget = h:1\nprotocol = sctp\n",
                       "relay.conf:4: [relay:a] protocol: 'sctp' is not tcp or udp");
  assert_config_error ("[relay:a]\nlisten = 1000\ntarget = h:1\nkeepalive = 1\n",
                       "relay.conf:4: [relay:a] keepalive: unknown key");
  assert_config_error ("[relay:a]\nlisten = 1000\ntarget = h:1\nallow = 10.0.0.0/99\n",
                       "[relay:a]: allow: '10.0.0.0/99'");
  assert_config_error ("[relay:a]\nlisten = 1000\ntarget = h:1\n"
                       "[relay:b]\nlisten = 1000\ntarget = h:2\n",
                       "relay b: duplicate inbound port 1000/TCP (already used by relay a)");
}

int
main (int argc, char **argv)
{
  pk_test_init (&argc, &argv);

  g_test_add_func ("/relay-rule/parse/valid", test_parse_valid);
  g_test_add_func ("/relay-rule/parse/errors-name-the-field", test_parse_errors);
  g_test_add_func ("/relay-rule/check/duplicate-inbound-port", test_check_duplicates);
  g_test_add_func ("/relay-rule/equal-ignores-name", test_equal);
  g_test_add_func ("/relay-rule/env-file/seed-format", test_env_file_seed_format);
  g_test_add_func ("/relay-rule/env-file/bad-rule-fails-whole-load", test_env_file_bad_rule_fails_all);
  g_test_add_func ("/relay-rule/config/sections", test_config_sections);
  g_test_add_func ("/relay-rule/config/errors-name-the-line", test_config_errors);

  return g_test_run ();
}
