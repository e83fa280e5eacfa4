/* test-relay-netns.c: PkRelay against an unroutable upstream, in a namespace of its own
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <json-glib/json-glib.h>
#include <proxykit/proxykit.h>

#include "pk-test-utils.h"

static char *skip_reason;

static JsonObject *
rule_status (PkRelay    *relay,
             const char *name)
{
  g_autofree char *json = pk_relay_dup_status_json (relay);
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonArray *rules;

  g_assert_true (json_parser_load_from_data (parser, json, -1, NULL));
  rules = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)), "rules");
  for (guint i = 0; i < json_array_get_length (rules); i++)
    {
      JsonObject *o = json_array_get_object_element (rules, i);

      if (g_str_equal (json_object_get_string_member (o, "name"), name))
        return json_object_ref (o);
    }
  g_assert_not_reached ();
}

static gboolean
health_down (gpointer data)
{
  g_autoptr(JsonObject) o = rule_status (data, "blackhole");

  return g_str_equal (json_object_get_string_member (o, "health"), "down");
}

static gboolean
connect_failed (gpointer data)
{
  g_autoptr(JsonObject) o = rule_status (data, "blackhole");

  return json_object_get_int_member (o, "failed") == 1;
}

/* 10.99.0.2 sits behind a veth whose other end has no address, with a
 * fixed neighbour entry: SYNs to it leave and nothing ever answers, which
 * is what an upstream that went away looks like. */
static void
test_connect_timeout (void)
{
  g_autoptr(PkRelay) relay = NULL;
  g_autoptr(PkRelayRule) rule = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketAddress) addr = NULL;
  g_autoptr(GInetAddress) lo = NULL;
  g_autoptr(GSocket) client = NULL;
  g_autoptr(JsonObject) o = NULL;
  gint64 start;

  if (skip_reason != NULL)
    {
      g_test_skip (skip_reason);
      return;
    }

  pk_test_run ("ip link add pkrelay0 type veth peer name pkrelay1 && "
               "ip addr add 10.99.0.1/24 dev pkrelay0 && ip link set pkrelay0 up && "
               "ip link set pkrelay1 up && "
               "ip neigh add 10.99.0.2 lladdr 02:00:00:00:99:02 dev pkrelay0");

  relay = pk_relay_new ();
  rule = pk_relay_rule_new (PK_RELAY_PROTOCOL_TCP, 0, "10.99.0.2", 25);
  pk_relay_rule_set_listen_address (rule, "127.0.0.1", &error);
  g_assert_no_error (error);
  pk_relay_rule_set_name (rule, "blackhole");
  pk_relay_rule_set_connect_timeout (rule, 300);
  pk_relay_rule_set_health_check (rule, TRUE, 300, 1, 60000);
  pk_relay_add_rule (relay, rule, &error);
  g_assert_no_error (error);

  /* The health check gives up after its timeout and says why. */
  pk_test_wait_until (health_down, relay, 10000);
  o = rule_status (relay, "blackhole");
  g_assert_nonnull (strstr (json_object_get_string_member (o, "health_reason"), "timed out"));

  /* A client is accepted, and closed once the connect timeout passed:
   * not at once (nothing refused it), and not never. */
  lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  addr = g_inet_socket_address_new (lo, pk_relay_get_local_port (relay, "blackhole"));
  client = pk_test_connect_tcp (addr);
  start = g_get_monotonic_time ();
  pk_test_wait_until (connect_failed, relay, 10000);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 250 * 1000);
  g_assert_true (pk_test_wait_eof (client, 5000));

  pk_test_run ("ip link del pkrelay0");
}

int
main (int argc, char **argv)
{
  /* Before any thread exists. */
  pk_test_enter_new_netns (&skip_reason);
  pk_test_init (&argc, &argv);

  g_test_add_func ("/relay-netns/connect-timeout-to-unroutable", test_connect_timeout);

  return g_test_run ();
}
