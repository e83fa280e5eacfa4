/* test-egress.c: PkEgress on loopback
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <netinet/in.h>
#include <unistd.h>

#include <proxykit/proxykit.h>

#include "pk-egress-private.h"
#include "pk-test-utils.h"

static GSocket *
connect_sync (PkEgress       *egress,
              GSocketAddress *address,
              guint           timeout_ms,
              GError        **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  pk_egress_connect_async (egress, address, timeout_ms, NULL, pk_test_store_result, &result);
  pk_test_wait_result (&result, 20000);
  return pk_egress_connect_finish (egress, result, error);
}

static GSocket *
connect_host_sync (PkEgress    *egress,
                   const char  *host,
                   guint16      port,
                   guint        timeout_ms,
                   GError     **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  pk_egress_connect_to_host_async (egress, host, port, timeout_ms, NULL, pk_test_store_result, &result);
  pk_test_wait_result (&result, 20000);
  return pk_egress_connect_to_host_finish (egress, result, error);
}

static void
test_new_full_rejects_bad_values (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkEgress) egress = NULL;

  egress = pk_egress_new_full ("192.168.11.300", NULL, 0, 0, &error);
  g_assert_null (egress);
  g_assert_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "192.168.11.300"));
  g_clear_error (&error);

  egress = pk_egress_new_full (NULL, "an-interface-name-too-long", 0, 0, &error);
  g_assert_null (egress);
  g_assert_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "an-interface-name-too-long"));
}

static void
test_to_string (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkEgress) plain = pk_egress_new ();
  g_autoptr(PkEgress) egress = pk_egress_new_full ("192.168.11.100", "eth1", 16, 64, &error);
  g_autofree char *s1 = NULL;
  g_autofree char *s2 = NULL;

  g_assert_no_error (error);
  s1 = pk_egress_to_string (plain);
  g_assert_cmpstr (s1, ==, "default");
  g_assert_true (pk_egress_is_default (plain));
  s2 = pk_egress_to_string (egress);
  g_assert_cmpstr (s2, ==, "address=192.168.11.100 interface=eth1 fwmark=0x10 ttl=64");
  g_assert_false (pk_egress_is_default (egress));
}

static void
test_properties_notify_on_change_only (void)
{
  g_autoptr(PkEgress) egress = pk_egress_new ();
  guint notified = 0;

  g_signal_connect_swapped (egress, "notify::ttl", G_CALLBACK (g_atomic_int_inc), &notified);
  pk_egress_set_ttl (egress, 10);
  pk_egress_set_ttl (egress, 10);
  g_assert_cmpuint (notified, ==, 1);
  g_assert_cmpuint (pk_egress_get_ttl (egress), ==, 10);
}

static void
test_connect_echo (void)
{
  g_autoptr(PkTestEchoServer) server = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_STREAM);
  g_autoptr(GSocketAddress) address = pk_test_echo_server_get_address (server);
  g_autoptr(PkEgress) egress = pk_egress_new_full ("127.0.0.1", NULL, 0, 32, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  char buf[5];
  int ttl = 0;

  socket = connect_sync (egress, address, 5000, &error);
  g_assert_no_error (error);
  g_assert_nonnull (socket);

  g_socket_get_option (socket, IPPROTO_IP, IP_TTL, &ttl, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ttl, ==, 32);

  g_socket_set_blocking (socket, TRUE);
  pk_test_send_all (socket, "hello", 5);
  pk_test_recv_exact (socket, buf, 5, 5000);
  g_assert_cmpmem (buf, 5, "hello", 5);
}

static void
test_connect_refused (void)
{
  g_autoptr(PkEgress) egress = pk_egress_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  guint16 port;

  /* A port that was just free: bind, read it back, close. */
  {
    g_autoptr(PkTestEchoServer) server = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_STREAM);
    port = pk_test_echo_server_get_port (server);
  }
  address = g_inet_socket_address_new_from_string ("127.0.0.1", port);

  socket = connect_sync (egress, address, 5000, &error);
  g_assert_null (socket);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_assert_nonnull (strstr (error->message, "127.0.0.1"));
}

static void
test_connect_timeout (void)
{
  g_autoptr(PkEgress) egress = pk_egress_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocket) blackhole = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  guint16 port;

  blackhole = pk_test_blackhole_listener_new (&port);
  address = g_inet_socket_address_new_from_string ("127.0.0.1", port);

  socket = connect_sync (egress, address, 300, &error);
  g_assert_null (socket);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
}

static void
test_family_mismatch (void)
{
  g_autoptr(PkEgress) egress = pk_egress_new_full ("127.0.0.1", NULL, 0, 0, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new_from_string ("::1", 9);

  socket = connect_sync (egress, address, 1000, &error);
  g_assert_null (socket);
  g_assert_error (error, PK_ERROR, PK_ERROR_EGRESS);
  g_assert_nonnull (strstr (error->message, "127.0.0.1"));

  g_clear_error (&error);
  socket = connect_host_sync (egress, "::1", 9, 1000, &error);
  g_assert_null (socket);
  g_assert_error (error, PK_ERROR, PK_ERROR_EGRESS);
}

static void
test_source_address_not_on_host (void)
{
  /* 192.0.2.1 (TEST-NET-1) is not on this host: bind() fails before any
   * packet is sent, and the connect must fail rather than use the default
   * source. */
  g_autoptr(PkEgress) egress = pk_egress_new_full ("192.0.2.1", NULL, 0, 0, NULL);
  g_autoptr(PkTestEchoServer) server = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_STREAM);
  g_autoptr(GSocketAddress) address = pk_test_echo_server_get_address (server);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;

  socket = connect_sync (egress, address, 1000, &error);
  g_assert_null (socket);
  g_assert_error (error, PK_ERROR, PK_ERROR_EGRESS);
  g_assert_nonnull (strstr (error->message, "192.0.2.1"));
  g_assert_cmpuint (pk_test_echo_server_get_n_connections (server), ==, 0);
}

static void
test_missing_interface (void)
{
  g_autoptr(PkEgress) egress = pk_egress_new_full (NULL, "pkno0", 0, 0, NULL);
  g_autoptr(PkTestEchoServer) server = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_STREAM);
  g_autoptr(GSocketAddress) address = pk_test_echo_server_get_address (server);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;

  if (geteuid () != 0)
    {
      g_test_skip ("SO_BINDTODEVICE needs CAP_NET_RAW (CI runs as root)");
      return;
    }

  socket = connect_sync (egress, address, 1000, &error);
  g_assert_null (socket);
  g_assert_error (error, PK_ERROR, PK_ERROR_EGRESS);
  g_assert_nonnull (strstr (error->message, "pkno0"));
  g_assert_cmpuint (pk_test_echo_server_get_n_connections (server), ==, 0);
}

static void
test_connect_to_host_localhost (void)
{
  g_autoptr(PkTestEchoServer) server = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_STREAM);
  g_autoptr(PkEgress) egress = pk_egress_new_full ("127.0.0.1", NULL, 0, 0, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;

  /* "localhost" comes from /etc/hosts; the IPv4 egress filters out ::1. */
  socket = connect_host_sync (egress, "localhost", pk_test_echo_server_get_port (server), 5000, &error);
  g_assert_no_error (error);
  g_assert_nonnull (socket);
}

/* The filter sees each address unmapped, in order; what it refuses is
 * never dialled. */
static gboolean
filter_not_127_0_0_2 (GInetAddress *address,
                      gpointer      user_data)
{
  GPtrArray *seen = user_data;
  char *str = g_inet_address_to_string (address);

  g_ptr_array_add (seen, str);
  return !g_str_equal (str, "127.0.0.2");
}

static gboolean
filter_nothing (GInetAddress *address,
                gpointer      user_data)
{
  return FALSE;
}

static void
test_connect_to_addresses_filter (void)
{
  g_autoptr(PkTestEchoServer) server = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_STREAM);
  guint16 port = pk_test_echo_server_get_port (server);
  g_autoptr(PkEgress) egress = pk_egress_new ();
  g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) peer = NULL;
  GList *addresses = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GAsyncResult) result2 = NULL;
  g_autofree char *peer_str = NULL;

  /* 127.0.0.2 would answer too (loopback): only the filter keeps it out. */
  addresses = g_list_append (addresses, g_inet_address_new_from_string ("127.0.0.2"));
  addresses = g_list_append (addresses, g_inet_address_new_from_string ("::ffff:127.0.0.1"));
  pk_egress_connect_to_addresses_async (egress, addresses, port, NULL, 0, 5000,
                                        filter_not_127_0_0_2, seen, NULL, pk_test_store_result, &result);
  pk_test_wait_result (&result, 20000);
  socket = pk_egress_connect_to_addresses_finish (egress, result, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (seen->len, ==, 2);
  g_assert_cmpstr (seen->pdata[0], ==, "127.0.0.2");
  g_assert_cmpstr (seen->pdata[1], ==, "127.0.0.1");
  peer = g_socket_get_remote_address (socket, &error);
  g_assert_no_error (error);
  peer_str = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (peer)));
  g_assert_cmpstr (peer_str, ==, "127.0.0.1");

  /* Nothing left: refused by rule, named, and nothing dialled. */
  pk_egress_connect_to_addresses_async (egress, addresses, port, "example.test:80", 0, 5000,
                                        filter_nothing, NULL, NULL, pk_test_store_result, &result2);
  g_list_free_full (addresses, g_object_unref);
  pk_test_wait_result (&result2, 20000);
  g_clear_object (&socket);
  socket = pk_egress_connect_to_addresses_finish (egress, result2, &error);
  g_assert_null (socket);
  g_assert_error (error, PK_ERROR, PK_ERROR_NOT_ALLOWED);
  g_assert_cmpstr (error->message, ==, "destination example.test:80 is denied by rule");
}


int
main (int argc, char **argv)
{
  pk_test_init (&argc, &argv);

  g_test_add_func ("/egress/new-full/rejects-bad-values", test_new_full_rejects_bad_values);
  g_test_add_func ("/egress/to-string", test_to_string);
  g_test_add_func ("/egress/properties/notify-on-change-only", test_properties_notify_on_change_only);
  g_test_add_func ("/egress/connect/echo", test_connect_echo);
  g_test_add_func ("/egress/connect/refused", test_connect_refused);
  g_test_add_func ("/egress/connect/timeout", test_connect_timeout);
  g_test_add_func ("/egress/connect/family-mismatch", test_family_mismatch);
  g_test_add_func ("/egress/connect/source-address-not-on-host", test_source_address_not_on_host);
  g_test_add_func ("/egress/connect/missing-interface", test_missing_interface);
  g_test_add_func ("/egress/connect-to-host/localhost", test_connect_to_host_localhost);
  g_test_add_func ("/egress/connect-to-addresses/filter", test_connect_to_addresses_filter);

  return g_test_run ();
}
