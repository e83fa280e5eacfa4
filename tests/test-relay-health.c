/* test-relay-health.c: a relay rule's upstream health check
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

static char *
rule_health (PkRelay    *relay,
             const char *name)
{
  g_autoptr(JsonObject) o = rule_status (relay, name);

  g_assert_nonnull (o);
  return g_strdup (json_object_get_string_member (o, "health"));
}

typedef struct {
  PkRelay *relay;
  const char *name;
  const char *want;
} HealthWait;

static gboolean
health_is (gpointer data)
{
  HealthWait *w = data;
  g_autofree char *health = rule_health (w->relay, w->name);

  return g_str_equal (health, w->want);
}

static GSocket *
listen_on (guint16 port)
{
  g_autoptr(GSocketAddress) addr = loopback ("127.0.0.1", port);
  g_autoptr(GError) error = NULL;
  GSocket *s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, NULL);

  g_socket_bind (s, addr, TRUE, &error);
  g_assert_no_error (error);
  g_socket_listen (s, &error);
  g_assert_no_error (error);
  return s;
}

static void
test_health_down_then_up (void)
{
  guint16 up_port = unused_port ();
  g_autoptr(PkRelay) relay = pk_relay_new ();
  g_autoptr(PkRelayRule) rule = loopback_rule (PK_RELAY_PROTOCOL_TCP, up_port, "hc");
  g_autoptr(GSocket) upstream = NULL;
  g_autoptr(GSocket) client = NULL;
  g_autoptr(GSocketAddress) addr = NULL;
  g_autoptr(JsonObject) status = NULL;
  HealthWait w = { relay, "hc", "down" };

  pk_relay_rule_set_health_check (rule, TRUE, 500, 2, 200);
  addr = loopback ("127.0.0.1", start_rule (relay, rule));

  pk_test_wait_until (health_is, &w, 10000);
  status = rule_status (relay, "hc");
  g_assert_nonnull (strstr (json_object_get_string_member (status, "health_reason"), "refused"));
  /* Down, but still listening: a client is accepted, and closed since
   * the upstream refuses. */
  client = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, NULL);
  g_socket_set_blocking (client, FALSE);
  g_socket_connect (client, addr, NULL, NULL);
  pk_test_wait_until (counter_set, &(Counter) { relay, "hc", "failed" }, 10000);
  g_assert_true (pk_test_wait_eof (client, 10000));

  upstream = listen_on (up_port);
  w.want = "up";
  pk_test_wait_until (health_is, &w, 10000);
  g_socket_close (upstream, NULL);
}

int
main (int argc, char **argv)
{
  pk_test_init (&argc, &argv);

  g_test_add_func ("/relay/health/down-then-up", test_health_down_then_up);

  return g_test_run ();
}
