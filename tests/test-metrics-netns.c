/* test-metrics-netns.c: the live sampler counts the sockets this test
 * opens (LISTEN, ESTABLISHED, TIME_WAIT) in a network namespace of its own,
 * so that nothing else on the host is counted.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include <proxykit/proxykit.h>

#include "pk-metrics-private.h"
#include "pk-test-utils.h"

static char *skip_reason;

static GSocket *
listen_on (guint16 port)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new (lo, port);
  GSocket *s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);

  g_assert_no_error (error);
  g_socket_bind (s, addr, TRUE, &error);
  g_assert_no_error (error);
  g_socket_listen (s, &error);
  g_assert_no_error (error);
  return s;
}

static guint16
local_port (GSocket *s)
{
  g_autoptr(GSocketAddress) a = g_socket_get_local_address (s, NULL);

  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (a));
}

/* n connections to the listener, kept open; the client sockets use
 * ephemeral ports */
/* Local ports the test's sockets hold: connect() may give two clients
 * with different destinations the same ephemeral port, so "in use" is
 * counted from what the kernel really handed out. */
static GHashTable *used_ports;

static void
note_port (GSocket *s)
{
  g_hash_table_add (used_ports, GUINT_TO_POINTER (local_port (s)));
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
test_states (void)
{
  g_autoptr(PkMetricsSampler) sampler = NULL;
  g_autoptr(GSocket) socks = NULL;
  g_autoptr(GSocket) https = NULL;
  g_autoptr(GPtrArray) keep = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(JsonNode) s = NULL;
  g_autofree char *p = NULL;
  guint16 port;

  if (skip_reason)
    {
      g_test_skip (skip_reason);
      return;
    }
  /* a small ephemeral range, so that "in use" is a share of it */
  pk_test_run ("echo '40000 40099' > /proc/sys/net/ipv4/ip_local_port_range");

  used_ports = g_hash_table_new (NULL, NULL);
  socks = listen_on (0);
  port = local_port (socks);
  note_port (socks);
  https = listen_on (443);
  sampler = pk_metrics_sampler_new ();
  pk_metrics_sampler_add_watch_port (sampler, port);

  open_conns (socks, 3, keep);
  open_conns (https, 2, keep);
  make_time_wait (https, 4);
  make_time_wait (socks, 1);

  s = wait_for (sampler, "tcp.states.TIME_WAIT", 5);
  /* 3 + 2 connections, each seen from both ends */
  g_assert_cmpfloat (num (s, "tcp.states.ESTABLISHED"), ==, 10);
  g_assert_cmpfloat (num (s, "tcp.states.LISTEN"), ==, 2);
  g_assert_cmpfloat (num (s, "tcp.total"), ==, 17);

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

  /* clients: 5 open + 5 in TIME_WAIT, plus the listener bound to port 0
   * (443 is outside the range): 11 sockets on at most 11 distinct ports */
  g_assert_cmpfloat (num (s, "ephemeral_ports.size"), ==, 100);
  g_assert_cmpuint (g_hash_table_size (used_ports), >=, 6);
  g_assert_cmpfloat (num (s, "ephemeral_ports.in_use"), ==, g_hash_table_size (used_ports));
  g_assert_cmpfloat (num (s, "ephemeral_ports.used_pct"), ==, g_hash_table_size (used_ports));
  g_clear_pointer (&used_ports, g_hash_table_unref);

  /* closing the kept connections moves them on, and the figures follow */
  for (guint i = 0; i < keep->len; i++)
    g_socket_close (keep->pdata[i], NULL);
  json_node_unref (s);
  s = wait_for (sampler, "tcp.states.ESTABLISHED", 0);
  g_assert_cmpfloat (num (s, "tcp.states.LISTEN"), ==, 2);
}

int
main (int argc, char **argv)
{
  /* before any thread exists */
  if (!pk_test_enter_new_netns (&skip_reason))
    g_assert_nonnull (skip_reason);
  pk_test_init (&argc, &argv);
  g_test_add_func ("/metrics/netns/tcp-states", test_states);
  return g_test_run ();
}
