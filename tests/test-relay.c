/* test-relay.c: PkRelay puts rules together: reload keeps, adds and removes
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

int
main (int argc, char **argv)
{
  pk_test_init (&argc, &argv);

  g_test_add_func ("/relay/set-rules/add-remove-keep", test_set_rules_add_remove_keep);

  return g_test_run ();
}
