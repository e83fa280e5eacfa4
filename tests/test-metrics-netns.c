/* test-metrics-netns.c: the live sampler counts the sockets this test
 * opens (LISTEN, ESTABLISHED, TIME_WAIT) in a network namespace of its own,
 * so that nothing else on the host is counted.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include <proxykit/proxykit.h>

#include "pk-metrics-private.h"
#include "pk-test-utils.h"

static char *skip_reason;

static GSocket *
listen_on_family (GSocketFamily family,
                  guint16       port)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (family);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new (lo, port);
  GSocket *s = g_socket_new (family, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);

  g_assert_no_error (error);
  g_socket_bind (s, addr, TRUE, &error);
  g_assert_no_error (error);
  g_socket_listen (s, &error);
  g_assert_no_error (error);
  return s;
}

static GSocket *
listen_on (guint16 port)
{
  return listen_on_family (G_SOCKET_FAMILY_IPV4, port);
}

static guint16
local_port (GSocket *s)
{
  g_autoptr(GSocketAddress) a = g_socket_get_local_address (s, NULL);

  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (a));
}

/* n connections to the listener, kept open; the client sockets use
 * ephemeral ports */
/* the local ports of the client ends: a port can serve two destinations
 * at once, so the distinct ones are counted */
static GHashTable *client_ports;

static void
note_port (GSocket *s)
{
  g_hash_table_add (client_ports, GUINT_TO_POINTER (local_port (s)));
}

static void
open_conns (GSocket   *listener,
            guint      n,
            GPtrArray *keep)
{
  g_autoptr(GSocketAddress) addr = g_socket_get_local_address (listener, NULL);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GError) error = NULL;
      GSocket *c = pk_test_connect_tcp (addr);
      GSocket *a = g_socket_accept (listener, NULL, &error);

      g_assert_no_error (error);
      note_port (c);
      g_ptr_array_add (keep, c);
      g_ptr_array_add (keep, a);
    }
}

/* n connections that the client closes first, leaving the client side in
 * TIME_WAIT */
static void
make_time_wait (GSocket *listener,
                guint    n)
{
  g_autoptr(GSocketAddress) addr = g_socket_get_local_address (listener, NULL);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GSocket) c = pk_test_connect_tcp (addr);
      g_autoptr(GSocket) a = g_socket_accept (listener, NULL, &error);

      g_assert_no_error (error);
      note_port (c);
      g_socket_close (c, NULL);
      g_assert_true (pk_test_wait_eof (a, 5000));
      g_socket_close (a, NULL);
    }
}

typedef struct {
  PkMetricsSampler *sampler;
  const char *path;
  double want;
  JsonNode *last;
} WaitFor;

static gboolean
sample_matches (gpointer data)
{
  WaitFor *w = data;
  g_autoptr(GError) error = NULL;
  double v = -1;

  g_clear_pointer (&w->last, json_node_unref);
  w->last = pk_metrics_sampler_sample (w->sampler, &error);
  g_assert_no_error (error);
  return pk_metrics_lookup (w->last, w->path, &v) && v == w->want;
}

static JsonNode *
wait_for (PkMetricsSampler *sampler,
          const char       *path,
          double            want)
{
  WaitFor w = { sampler, path, want, NULL };

  pk_test_wait_until (sample_matches, &w, 5000);
  return w.last;
}

static double
num (JsonNode   *s,
     const char *path)
{
  double v = -1;

  if (!pk_metrics_lookup (s, path, &v))
    g_error ("no number at %s", path);
  return v;
}

static void
states_body (gconstpointer data)
{
  g_autoptr(PkMetricsSampler) sampler = NULL;
  g_autoptr(GSocket) socks = NULL;
  g_autoptr(GSocket) https = NULL;
  g_autoptr(GSocket) v6 = NULL;
  g_autoptr(GPtrArray) keep = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(JsonNode) s = NULL;
  g_autofree char *p = NULL;
  guint16 port;

  /* the listeners first, with ports from the default range; then a small
   * range above it for the clients, so that "in use" is a share of it and
   * no client port can be a listener's port */
  client_ports = g_hash_table_new (NULL, NULL);
  socks = listen_on (0);
  port = local_port (socks);
  https = listen_on (443);
  v6 = listen_on_family (G_SOCKET_FAMILY_IPV6, 0);
  pk_test_run ("echo '61000 61099' > /proc/sys/net/ipv4/ip_local_port_range");
  sampler = pk_metrics_sampler_new ();
  pk_metrics_sampler_set_dump_per_family (sampler, GPOINTER_TO_INT (data));
  pk_metrics_sampler_add_watch_port (sampler, port);

  open_conns (socks, 3, keep);
  open_conns (https, 2, keep);
  /* IPv6 sockets count too (one dump covers both families) */
  open_conns (v6, 1, keep);
  make_time_wait (https, 4);
  make_time_wait (socks, 1);

  s = wait_for (sampler, "tcp.states.TIME_WAIT", 5);
  /* 3 + 2 + 1 connections, each seen from both ends */
  g_assert_cmpfloat (num (s, "tcp.states.ESTABLISHED"), ==, 12);
  g_assert_cmpfloat (num (s, "tcp.states.LISTEN"), ==, 3);
  g_assert_cmpfloat (num (s, "tcp.total"), ==, 20);

  p = g_strdup_printf ("tcp.ports.%u.ESTABLISHED", port);
  g_assert_cmpfloat (num (s, p), ==, 3);     /* the accepted ends */
  g_clear_pointer (&p, g_free);
  p = g_strdup_printf ("tcp.ports.%u.LISTEN", port);
  g_assert_cmpfloat (num (s, p), ==, 1);
  g_clear_pointer (&p, g_free);
  p = g_strdup_printf ("tcp.ports.%u.TIME_WAIT", port);
  g_assert_cmpfloat (num (s, p), ==, 0);     /* the client ends hold it */

  g_assert_cmpfloat (num (s, "tcp.remote_443.ESTABLISHED"), ==, 2);
  g_assert_cmpfloat (num (s, "tcp.remote_443.TIME_WAIT"), ==, 4);

  /* clients: 6 open + 5 in TIME_WAIT on ephemeral ports (a port may
   * serve two destinations: the distinct ones are counted) */
  g_assert_cmpuint (g_hash_table_size (client_ports), >=, 6);
  g_assert_cmpfloat (num (s, "ephemeral_ports.size"), ==, 100);
  g_assert_cmpfloat (num (s, "ephemeral_ports.in_use"), ==, g_hash_table_size (client_ports));
  g_assert_cmpfloat (num (s, "ephemeral_ports.used_pct"), ==, g_hash_table_size (client_ports));
  /* towards 127.0.0.1:443: 2 open + 4 in TIME_WAIT */
  g_assert_cmpfloat (num (s, "ephemeral_ports.busiest_destination.in_use"), ==, 6);
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (
                       json_object_get_object_member (json_node_get_object (s), "ephemeral_ports"),
                       "busiest_destination"), "destination"), ==, "127.0.0.1:443");

  /* closing the kept connections moves them on, and the figures follow */
  for (guint i = 0; i < keep->len; i++)
    g_socket_close (keep->pdata[i], NULL);
  json_node_unref (s);
  s = wait_for (sampler, "tcp.states.ESTABLISHED", 0);
  g_assert_cmpfloat (num (s, "tcp.states.LISTEN"), ==, 3);
  g_hash_table_unref (client_ports);
}

/* Each case runs in a child of its own, in a namespace of its own, so
 * that the TIME_WAIT sockets of one do not show in the next. */
static void
test_states (gconstpointer data)
{
  if (g_test_subprocess ())
    {
      if (!pk_test_enter_new_netns (&skip_reason))
        g_error ("%s", skip_reason);
      states_body (data);
      return;
    }
  if (geteuid () != 0)
    {
      g_test_skip ("needs root for a network namespace (CI runs as root)");
      return;
    }
  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC,
                          G_TEST_SUBPROCESS_INHERIT_STDOUT | G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

int
main (int argc, char **argv)
{
  pk_test_init (&argc, &argv);
  g_test_add_data_func ("/metrics/netns/tcp-states", GINT_TO_POINTER (FALSE), test_states);
  g_test_add_data_func ("/metrics/netns/tcp-states-per-family", GINT_TO_POINTER (TRUE), test_states);
  return g_test_run ();
}
