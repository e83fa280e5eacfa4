/* test-relay-netns.c: PkRelay against an unroutable upstream, in a namespace of its own
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <glib/gstdio.h>

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

/* Runs in the named namespace @ns while it makes a socket, then comes
 * back: the socket stays in @ns. */
static void
enter_netns (const char *ns,
             int        *back)
{
  g_autofree char *path = g_strdup_printf ("/run/netns/%s", ns);
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  g_assert_cmpint (fd, >=, 0);
  *back = open ("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (*back, >=, 0);
  g_assert_cmpint (setns (fd, CLONE_NEWNET), ==, 0);
  close (fd);
}

static void
leave_netns (int back)
{
  g_assert_cmpint (setns (back, CLONE_NEWNET), ==, 0);
  close (back);
}

static gboolean
nft_table_exists (void)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  /* Output captured: it must not mix with the TAP stream. */
  g_spawn_command_line_sync ("nft list table ip pk_relay", &out, &err, &status, NULL);
  return g_spawn_check_wait_status (status, NULL);
}

/* client (10.77.1.2) -- relay host, this namespace (10.77.1.1 | 10.77.2.1)
 * -- upstream (10.77.2.2), which has no route back to the client: only
 * the masquerade makes its replies come back. */
static void
test_kernel_nat (void)
{
  g_autofree char *c = g_strdup_printf ("pkrelay-c-%d", getpid ());
  g_autofree char *u = g_strdup_printf ("pkrelay-u-%d", getpid ());
  g_autoptr(PkTestEchoServer) echo = NULL;
  g_autoptr(PkRelay) relay = NULL;
  g_autoptr(PkRelayRule) rule = NULL;
  g_autoptr(GPtrArray) rules = NULL;
  g_autoptr(GSocket) client = NULL;
  g_autoptr(GSocketAddress) relay_addr = NULL;
  g_autoptr(GInetAddress) relay_ip = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) o = NULL;
  g_autofree char *spec = NULL;
  g_autofree char *peer = NULL;
  g_autofree char *metrics = NULL;
  g_autofree char *promtool = NULL;
  int back;

  if (skip_reason != NULL)
    {
      g_test_skip (skip_reason);
      return;
    }
  if (!g_file_test ("/usr/sbin/nft", G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("needs nft (apt-get install nftables)");
      return;
    }

  pk_test_run ("ip netns add %s && ip netns add %s", c, u);
  pk_test_run ("ip link add pkrc type veth peer name eth0 netns %s && "
               "ip link add pkru type veth peer name eth0 netns %s", c, u);
  pk_test_run ("ip addr add 10.77.1.1/24 dev pkrc && ip link set pkrc up && "
               "ip addr add 10.77.2.1/24 dev pkru && ip link set pkru up && "
               "echo 1 > /proc/sys/net/ipv4/ip_forward");
  pk_test_run ("ip -n %s addr add 10.77.1.2/24 dev eth0 && ip -n %s link set eth0 up && "
               "ip -n %s route add default via 10.77.1.1", c, c, c);
  pk_test_run ("ip -n %s addr add 10.77.2.2/24 dev eth0 && ip -n %s link set eth0 up", u, u);

  enter_netns (u, &back);
  echo = pk_test_echo_server_new ("10.77.2.2", G_SOCKET_TYPE_DATAGRAM);
  leave_netns (back);

  relay = pk_relay_new ();
  pk_relay_set_kernel_nat (relay, TRUE);
  spec = g_strdup_printf ("5300;%u;10.77.2.2;UDP", pk_test_echo_server_get_port (echo));
  rules = g_ptr_array_new_with_free_func ((GDestroyNotify) pk_relay_rule_unref);
  rule = pk_relay_rule_new_from_string (spec, &error);
  g_assert_no_error (error);
  pk_relay_rule_set_name (rule, "wg");
  g_ptr_array_add (rules, pk_relay_rule_ref (rule));
  pk_relay_set_rules (relay, rules, &error);
  g_assert_no_error (error);
  g_assert_true (nft_table_exists ());

  enter_netns (c, &back);
  client = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_DEFAULT, &error);
  g_assert_no_error (error);
  leave_netns (back);
  relay_ip = g_inet_address_new_from_string ("10.77.1.1");
  relay_addr = g_inet_socket_address_new (relay_ip, 5300);
  /* Connected: only answers from the relay's address are delivered. */
  g_socket_connect (client, relay_addr, NULL, &error);
  g_assert_no_error (error);
  g_socket_set_timeout (client, 5);

  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *msg = g_strdup_printf ("datagram %u", i);
      char buf[64];
      gssize n;

      g_assert_cmpint (g_socket_send (client, msg, strlen (msg), NULL, &error), ==, strlen (msg));
      g_assert_no_error (error);
      n = g_socket_receive (client, buf, sizeof buf, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpmem (buf, n, msg, strlen (msg));
    }

  /* The upstream saw the relay host, not the client. */
  peer = pk_test_echo_server_dup_last_peer (echo);
  g_assert_cmpstr (peer, ==, "10.77.2.1");

  o = rule_status (relay, "wg");
  g_assert_cmpstr (json_object_get_string_member (o, "mode"), ==, "kernel-nat");
  g_assert_cmpint (json_object_get_int_member (o, "connections"), ==, 1);

  /* /metrics has the rule too, with the flows the kernel NATed. */
  metrics = pk_relay_dup_prometheus (relay);
  g_assert_nonnull (strstr (metrics, "proxykit_relay_rule_info{rule=\"wg\",protocol=\"udp\",mode=\"kernel-nat\"} 1\n"));
  g_assert_nonnull (strstr (metrics, "proxykit_relay_connections_total{rule=\"wg\"} 1\n"));
  g_assert_nonnull (strstr (metrics, "proxykit_relay_healthy{rule=\"wg\"} 1\n"));
  promtool = g_find_program_in_path ("promtool");
  if (promtool != NULL)
    {
      g_autofree char *path = NULL;
      int fd = g_file_open_tmp ("pk-relay-metrics-XXXXXX", &path, &error);

      g_assert_no_error (error);
      close (fd);
      g_assert_true (g_file_set_contents (path, metrics, -1, &error));
      pk_test_run ("%s check metrics < %s", promtool, path);
      g_unlink (path);
    }

  /* Stopping removes our table, and only it. */
  pk_relay_stop (relay);
  g_assert_false (nft_table_exists ());

  g_clear_object (&client);
  pk_test_run ("ip link del pkrc && ip link del pkru && ip netns del %s && ip netns del %s", c, u);
}

int
main (int argc, char **argv)
{
  /* Before any thread exists. */
  pk_test_enter_new_netns (&skip_reason);
  pk_test_init (&argc, &argv);

  g_test_add_func ("/relay-netns/connect-timeout-to-unroutable", test_connect_timeout);
  g_test_add_func ("/relay-netns/kernel-nat", test_kernel_nat);

  return g_test_run ();
}
