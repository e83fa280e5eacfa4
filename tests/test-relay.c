/* test-relay.c: PkRelay puts rules together: reload keeps, adds and removes; from a configuration
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "relay-test-utils.h"

static gboolean
iterate_for (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < end)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  return TRUE;
}

/* --- reload --- */

static PkRelayRule *
spec_rule (guint16     out_port,
           const char *name)
{
  g_autofree char *spec = g_strdup_printf ("127.0.0.1:%u;%u;127.0.0.1;TCP", unused_port (), out_port);
  PkRelayRule *rule = pk_relay_rule_new_from_string (spec, NULL);

  pk_relay_rule_set_name (rule, name);
  return rule;
}

static void
test_set_rules_add_remove_keep (void)
{
  g_autoptr(PkTestEchoServer) echo = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_STREAM);
  guint16 echo_port = pk_test_echo_server_get_port (echo);
  g_autoptr(PkRelay) relay = pk_relay_new ();
  g_autoptr(GPtrArray) first = g_ptr_array_new_with_free_func ((GDestroyNotify) pk_relay_rule_unref);
  g_autoptr(GPtrArray) second = g_ptr_array_new_with_free_func ((GDestroyNotify) pk_relay_rule_unref);
  g_autoptr(GPtrArray) bad = g_ptr_array_new_with_free_func ((GDestroyNotify) pk_relay_rule_unref);
  g_autoptr(GSocketAddress) keep_addr = NULL;
  g_autoptr(GSocket) live = NULL;
  g_autoptr(GError) error = NULL;
  guint16 keep_port, gone_port, new_port;

  g_ptr_array_add (first, spec_rule (echo_port, "keep"));
  g_ptr_array_add (first, spec_rule (echo_port, "gone"));
  pk_relay_set_rules (relay, first, &error);
  g_assert_no_error (error);
  keep_port = pk_relay_get_local_port (relay, "keep");
  gone_port = pk_relay_get_local_port (relay, "gone");

  keep_addr = loopback ("127.0.0.1", keep_port);
  live = pk_test_connect_tcp (keep_addr);
  echo_roundtrip (live, "before reload");

  /* An equal copy of "keep", "gone" dropped, "new" added. */
  g_ptr_array_add (second, pk_relay_rule_copy (g_ptr_array_index (first, 0)));
  g_ptr_array_add (second, spec_rule (echo_port, "new"));
  pk_relay_set_rules (relay, second, &error);
  g_assert_no_error (error);
  new_port = pk_relay_get_local_port (relay, "new");
  g_assert_cmpuint (new_port, !=, 0);
  g_assert_cmpuint (pk_relay_get_local_port (relay, "gone"), ==, 0);

  /* The live connection of the kept rule goes on. */
  echo_roundtrip (live, "after reload");
  g_assert_cmpint (rule_counter (relay, "keep", "connections"), ==, 1);
  g_assert_true (connect_refused (gone_port));
  g_assert_false (connect_refused (new_port));

  /* A bad set (a duplicate port) changes nothing. */
  g_ptr_array_add (bad, pk_relay_rule_copy (g_ptr_array_index (second, 0)));
  g_ptr_array_add (bad, pk_relay_rule_copy (g_ptr_array_index (second, 0)));
  pk_relay_rule_set_name (g_ptr_array_index (bad, 1), "dup");
  g_assert_false (pk_relay_set_rules (relay, bad, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  g_assert_cmpuint (pk_relay_get_local_port (relay, "new"), ==, new_port);
  echo_roundtrip (live, "after a refused reload");
  iterate_for (10);
}

/* --- from a configuration --- */

static PkConfig *
config_new (const char         *text,
            const char * const *envp)
{
  static const char * const none[] = { NULL };
  PkConfig *config = pk_config_new ();
  g_autoptr(GError) error = NULL;

  pk_config_set_environ (config, envp ? envp : none);
  g_assert_true (pk_config_load_data (config, text, -1, "test.conf", &error));
  g_assert_no_error (error);
  return config;
}

/* The listen address of the only rule of a relay made from @config. */
static char *
only_rule_listen (PkConfig *config)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkRelay) relay = pk_relay_new_from_config (config, NULL, &error);
  g_autoptr(GPtrArray) rules = NULL;

  g_assert_no_error (error);
  rules = pk_relay_list_rules (relay);
  g_assert_cmpuint (rules->len, ==, 1);
  return g_strdup (pk_relay_rule_get_listen_address (g_ptr_array_index (rules, 0)));
}

static void
test_config_precedence (void)
{
  g_autofree char *spec = g_strdup_printf ("RELAY_1=%u;25;127.0.0.1;TCP", unused_port ());
  const char *env[] = { spec, "RELAY_LISTEN_ADDRESS=127.0.0.2", NULL };
  const char *env_rule_only[] = { spec, NULL };
  const char *text = "[relay]\nlisten-address = 127.0.0.3\n";
  g_autoptr(PkConfig) file_only = config_new (text, env_rule_only);
  g_autoptr(PkConfig) with_env = config_new (text, env);
  g_autoptr(PkConfig) with_flag = config_new (text, env);
  g_autofree char *from_file = NULL;
  g_autofree char *from_env = NULL;
  g_autofree char *from_flag = NULL;

  pk_config_set_override (with_flag, "relay", "listen-address", "127.0.0.1", "--listen-address");
  from_file = only_rule_listen (file_only);
  from_env = only_rule_listen (with_env);
  from_flag = only_rule_listen (with_flag);
  g_assert_cmpstr (from_file, ==, "127.0.0.3");
  g_assert_cmpstr (from_env, ==, "127.0.0.2");
  g_assert_cmpstr (from_flag, ==, "127.0.0.1");
}

static void
assert_config_error (const char         *text,
                     const char * const *envp,
                     const char         *needle)
{
  g_autoptr(PkConfig) config = config_new (text, envp);
  g_autoptr(GError) error = NULL;
  g_autoptr(PkRelay) relay = pk_relay_new_from_config (config, NULL, &error);

  g_assert_null (relay);
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  if (strstr (error->message, needle) == NULL)
    g_error ("'%s' does not say '%s'", error->message, needle);
}

static void
test_config_errors (void)
{
  const char *bad_env[] = { "RELAY_1=50025;25;127.0.0.1;TCP", "RELAY_LISTEN_ADDRESS=nowhere", NULL };

  /* Keys of the whole relay in a rule's section: the section is named. */
  assert_config_error ("[relay:web]\nlisten = 50025\ntarget = 127.0.0.1:25\nmetrics-listen = 9112\n",
                       NULL, "test.conf:4: [relay:web] metrics-listen: belongs to the whole relay");
  assert_config_error ("[relay:web]\nlisten = 50025\ntarget = 127.0.0.1:25\nkernel-nat = true\n",
                       NULL, "[relay:web] kernel-nat");
  assert_config_error ("[relay]\nlisten-address = 127.0.0.1\n", bad_env,
                       "RELAY_LISTEN_ADDRESS: 'nowhere' is not an IP address");
  assert_config_error ("[relay]\nkernel-nat = maybe\n[relay:a]\nlisten = 50025\ntarget = 127.0.0.1:25\n",
                       NULL, "[relay] kernel-nat");
  assert_config_error ("[relay]\nconnect-timeout = 5s\n", NULL, "no relay rules");
}

static void
test_config_start_and_reload (void)
{
  g_autoptr(PkTestEchoServer) echo = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_STREAM);
  guint16 echo_port = pk_test_echo_server_get_port (echo);
  guint16 a_port = unused_port ();
  guint16 spec_port = unused_port ();
  g_autofree char *spec = g_strdup_printf ("127.0.0.1:%u;%u;127.0.0.1;TCP", spec_port, echo_port);
  const char *specs[] = { spec, NULL };
  g_autofree char *one = g_strdup_printf ("[relay:a]\nlisten = 127.0.0.1:%u\ntarget = 127.0.0.1:%u\n",
                                          a_port, echo_port);
  g_autofree char *two = g_strdup_printf ("%s[relay:b]\nlisten = 127.0.0.1:%u\ntarget = 127.0.0.1:%u\n",
                                          one, unused_port (), echo_port);
  g_autoptr(PkConfig) first = config_new (one, NULL);
  g_autoptr(PkConfig) second = config_new (two, NULL);
  g_autoptr(PkConfig) broken = config_new ("[relay:a]\nlisten = 127.0.0.1:1\n", NULL);
  g_autoptr(PkRelay) relay = NULL;
  g_autoptr(GPtrArray) rules = NULL;
  g_autoptr(GSocketAddress) a_addr = NULL;
  g_autoptr(GSocket) live = NULL;
  g_autoptr(GError) error = NULL;
  guint16 b_port;

  relay = pk_relay_new_from_config (first, specs, &error);
  g_assert_no_error (error);
  /* Read and checked, not listening yet. */
  rules = pk_relay_list_rules (relay);
  g_assert_cmpuint (rules->len, ==, 2);
  g_assert_cmpuint (pk_relay_get_local_port (relay, "a"), ==, 0);
  g_assert_true (connect_refused (a_port));

  g_assert_true (pk_relay_start (relay, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (pk_relay_get_local_port (relay, "a"), ==, a_port);
  g_clear_pointer (&rules, g_ptr_array_unref);
  rules = pk_relay_list_rules (relay);
  g_assert_cmpuint (rules->len, ==, 2);
  a_addr = loopback ("127.0.0.1", a_port);
  live = pk_test_connect_tcp (a_addr);
  echo_roundtrip (live, "before reload");

  /* "b" starts; "a" and the rule given apart keep going. */
  g_assert_true (pk_relay_reload_from_config (relay, second, &error));
  g_assert_no_error (error);
  b_port = pk_relay_get_local_port (relay, "b");
  g_assert_cmpuint (b_port, !=, 0);
  g_assert_false (connect_refused (b_port));
  g_assert_false (connect_refused (spec_port));
  echo_roundtrip (live, "after reload");

  /* A configuration that does not load changes nothing. */
  g_assert_false (pk_relay_reload_from_config (relay, broken, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  g_assert_cmpuint (pk_relay_get_local_port (relay, "b"), ==, b_port);
  echo_roundtrip (live, "after a refused reload");
  iterate_for (10);
}

int
main (int argc, char **argv)
{
  pk_test_init (&argc, &argv);

  g_test_add_func ("/relay/set-rules/add-remove-keep", test_set_rules_add_remove_keep);
  g_test_add_func ("/relay/config/flag-over-env-over-file", test_config_precedence);
  g_test_add_func ("/relay/config/errors-name-the-value", test_config_errors);
  g_test_add_func ("/relay/config/start-and-reload", test_config_start_and_reload);

  return g_test_run ();
}
