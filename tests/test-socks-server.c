/* test-socks-server.c: PkSocksServer with real clients on loopback
 *
 * Clients: GIO's own SOCKS5 client and raw sockets speaking the protocol
 * byte by byte.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <proxykit/proxykit.h>

#include "pk-poller-private.h"
#include "pk-socks-server-private.h"
#include "socks-test-fixture.h"


/* A no-auth session through the proxy to the echo server. */
static GSocket *
open_echo_session (Fixture *f)
{
  GSocket *sock = NULL;

  g_assert_cmpuint (connect_via_proxy (f, "127.0.0.1", pk_test_echo_server_get_port (f->echo), &sock), ==, 0);
  return sock;
}

static void
assert_echo (GSocket    *sock,
             const char *text)
{
  char buf[256];
  gsize len = strlen (text);

  g_assert_cmpuint (len, <, sizeof buf);
  pk_test_send_all (sock, text, len);
  pk_test_recv_exact (sock, buf, len, 5000);
  g_assert_cmpmem (buf, len, text, len);
}

static guint64
stat_value (PkSocksServer *server,
            const char    *key)
{
  g_autoptr(GVariant) stats = pk_socks_server_get_stats (server);
  guint64 value = G_MAXUINT64;

  g_assert_true (g_variant_lookup (stats, key, "t", &value));
  return value;
}

static void
write_file (const char *path,
            const char *contents)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
}

/* --- tests --- */

static GSocketConnection *
gio_connect (Fixture     *f,
             const char  *userinfo,
             GError     **error)
{
  g_autofree char *uri = g_strdup_printf ("socks5://%s%s127.0.0.1:%u", userinfo ? userinfo : "",
                                          userinfo ? "@" : "", f->port);
  g_autoptr(GProxyResolver) resolver = g_simple_proxy_resolver_new (uri, NULL);
  g_autoptr(GSocketClient) client = g_socket_client_new ();

  g_socket_client_set_proxy_resolver (client, resolver);
  g_socket_client_set_timeout (client, 10);
  return g_socket_client_connect_to_host (client, "127.0.0.1", pk_test_echo_server_get_port (f->echo),
                                          NULL, error);
}

static void
gio_echo (GSocketConnection *conn)
{
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (conn));
  g_autoptr(GError) error = NULL;
  char buf[5];
  gsize n = 0;

  g_output_stream_write_all (out, "hello", 5, NULL, NULL, &error);
  g_assert_no_error (error);
  g_input_stream_read_all (in, buf, 5, &n, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (buf, n, "hello", 5);
}

static void
test_gio_client (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnection) conn = gio_connect (f, NULL, &error);

  g_assert_no_error (error);
  gio_echo (conn);
  g_io_stream_close (G_IO_STREAM (conn), NULL, NULL);
  g_clear_object (&conn);

  pk_test_wait_until (no_sessions, f->server, 5000);
  g_assert_cmpuint (pk_socks_server_get_sessions_total (f->server), ==, 1);
  g_assert_cmpuint (stat_value (f->server, "result-succeeded"), ==, 1);
  g_assert_cmpuint (pk_socks_server_get_bytes_up (f->server), ==, 5);
  g_assert_cmpuint (pk_socks_server_get_bytes_down (f->server), ==, 5);
}

static void
test_gio_client_auth (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnection) conn = NULL;
  const char *users[] = { "alice:s3cret", NULL };

  pk_socks_server_set_users (f->server, users, &error);
  g_assert_no_error (error);
  g_assert_true (pk_socks_server_get_auth_required (f->server));

  conn = gio_connect (f, "alice:s3cret", &error);
  g_assert_no_error (error);
  gio_echo (conn);
  g_clear_object (&conn);

  conn = gio_connect (f, "alice:wrong", &error);
  g_assert_null (conn);
  g_assert_nonnull (error);
  g_clear_error (&error);

  /* No credentials at all: the server offers no method the client has. */
  conn = gio_connect (f, NULL, &error);
  g_assert_null (conn);
  g_assert_nonnull (error);

  pk_test_wait_until (no_sessions, f->server, 5000);
  g_assert_cmpuint (stat_value (f->server, "result-auth-failed"), ==, 1);
  g_assert_cmpuint (stat_value (f->server, "result-no-acceptable-method"), ==, 1);
}

static void
test_wrong_password (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) sock = NULL;
  g_autofree char *path = g_build_filename (f->tmpdir, "users", NULL);
  static const guint8 methods[] = { 0, 2 };

  write_file (path, "# farm users\nalice:s3cret\n\nbob:hunter2\n");
  pk_socks_server_set_users_file (f->server, path, &error);
  g_assert_no_error (error);

  sock = proxy_connect (f);
  g_assert_cmpuint (greet (sock, methods, 2), ==, 2);
  g_assert_cmpuint (auth (sock, "bob", "hunter3"), !=, 0);
  g_assert_true (pk_test_wait_eof (sock, 5000));
  g_clear_object (&sock);

  sock = proxy_connect (f);
  g_assert_cmpuint (greet (sock, methods, 2), ==, 2);
  g_assert_cmpuint (auth (sock, "mallory", "s3cret"), !=, 0);
  g_assert_true (pk_test_wait_eof (sock, 5000));
  g_clear_object (&sock);

  sock = proxy_connect (f);
  g_assert_cmpuint (greet (sock, methods, 2), ==, 2);
  g_assert_cmpuint (auth (sock, "bob", "hunter2"), ==, 0);
  g_assert_cmpuint (request_ipv4 (sock, 1, "127.0.0.1", pk_test_echo_server_get_port (f->echo)), ==, 0);
  assert_echo (sock, "authenticated");
}

static void
test_users_file_errors (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (f->tmpdir, "users", NULL);
  const char *bad[] = { "nocolon", NULL };

  write_file (path, "alice:ok\nbroken line\n");
  g_assert_false (pk_socks_server_set_users_file (f->server, path, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, ":2:"));
  g_clear_error (&error);

  g_assert_false (pk_socks_server_set_users (f->server, bad, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT);
  g_assert_false (pk_socks_server_get_auth_required (f->server));
}

static void
test_no_acceptable_method (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(GSocket) sock = proxy_connect (f);
  static const guint8 gssapi_only[] = { 1 };

  g_assert_cmpuint (greet (sock, gssapi_only, 1), ==, 0xff);
  g_assert_true (pk_test_wait_eof (sock, 5000));
}

static void
test_allowlist (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) sock = NULL;

  pk_socks_server_set_allowlist (f->server, "10.0.0.0/8, 192.168.0.0/16", &error);
  g_assert_no_error (error);
  g_assert_true (pk_socks_server_has_allowlist (f->server));

  g_assert_cmpuint (connect_via_proxy (f, "127.0.0.1", pk_test_echo_server_get_port (f->echo), &sock), ==, 2);
  g_assert_true (pk_test_wait_eof (sock, 5000));
  g_clear_object (&sock);
  g_assert_cmpuint (pk_test_echo_server_get_n_connections (f->echo), ==, 0);

  pk_socks_server_set_allowlist (f->server, "127.0.0.0/8", &error);
  g_assert_no_error (error);
  sock = open_echo_session (f);
  assert_echo (sock, "allowed now");

  g_assert_false (pk_socks_server_set_allowlist (f->server, "10.0.0.0/33", &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "10.0.0.0/33"));
}

static void
test_denylist (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) sock = NULL;

  pk_socks_server_set_denylist (f->server, "127.0.0.0/30", &error);
  g_assert_no_error (error);

  g_assert_cmpuint (connect_via_proxy (f, "127.0.0.1", pk_test_echo_server_get_port (f->echo), &sock), ==, 2);
  g_assert_true (pk_test_wait_eof (sock, 5000));
  g_assert_cmpuint (pk_test_echo_server_get_n_connections (f->echo), ==, 0);

  pk_test_wait_until (no_sessions, f->server, 5000);
  g_assert_cmpuint (stat_value (f->server, "result-not-allowed"), ==, 1);
}

/* A listener on a non-loopback address refuses the host itself by
 * default, names included. */
static void
test_deny_host (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) sock = NULL;
  guint8 domain[1 + 9] = { 9, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't' };

  /* Only loopback clients may use it while it exists. */
  pk_socks_server_set_allowlist (f->server, "127.0.0.1", &error);
  g_assert_no_error (error);
  listen_on (f, "0.0.0.0:0");
  g_assert_false (pk_socks_server_is_listening_on_loopback_only (f->server));

  g_assert_cmpuint (connect_via_proxy (f, "127.0.0.1", pk_test_echo_server_get_port (f->echo), &sock), ==, 2);
  g_clear_object (&sock);

  sock = proxy_connect (f);
  g_assert_cmpuint (greet (sock, (const guint8 *) "\0", 1), ==, 0);
  g_assert_cmpuint (request_full (sock, 1, 3, domain, sizeof domain,
                                  pk_test_echo_server_get_port (f->echo), NULL, NULL), ==, 2);
  g_clear_object (&sock);
  g_assert_cmpuint (pk_test_echo_server_get_n_connections (f->echo), ==, 0);

  pk_socks_server_set_allow_host_destinations (f->server, TRUE);
  sock = open_echo_session (f);
  assert_echo (sock, "host allowed");
}

static void
test_domain_name (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GSocket) sock = proxy_connect (f);
  guint8 domain[1 + 9] = { 9, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't' };
  guint16 bound_port = 0;
  guint8 rep;

  g_assert_cmpuint (greet (sock, (const guint8 *) "\0", 1), ==, 0);
  rep = request_full (sock, 1, 3, domain, sizeof domain, pk_test_echo_server_get_port (f->echo),
                      &bound_port, NULL);
  /* "localhost" may resolve to ::1 first, where nothing listens: the
   * server then tries 127.0.0.1. */
  g_assert_cmpuint (rep, ==, 0);
  g_assert_cmpuint (bound_port, >, 0);
  assert_echo (sock, "by name");
}

static void
test_ipv6_destination (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(PkTestEchoServer) echo6 = pk_test_echo_server_new ("::1", G_SOCKET_TYPE_STREAM);
  g_autoptr(GInetAddress) lo6 = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV6);
  g_autoptr(GSocket) sock = proxy_connect (f);
  guint16 bound_port = 0;

  g_assert_cmpuint (greet (sock, (const guint8 *) "\0", 1), ==, 0);
  g_assert_cmpuint (request_full (sock, 1, 4, g_inet_address_to_bytes (lo6), 16,
                                  pk_test_echo_server_get_port (echo6), &bound_port, NULL), ==, 0);
  g_assert_cmpuint (bound_port, >, 0);
  assert_echo (sock, "over IPv6");
}

static void
test_bound_address (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GSocket) sock = proxy_connect (f);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autofree char *peer = NULL;
  g_autofree char *expected = NULL;
  guint16 bound_port = 0;
  guint8 bound_addr[4];

  g_assert_cmpuint (greet (sock, (const guint8 *) "\0", 1), ==, 0);
  g_assert_cmpuint (request_full (sock, 1, 1, g_inet_address_to_bytes (lo), 4,
                                  pk_test_echo_server_get_port (f->echo), &bound_port, bound_addr), ==, 0);
  assert_echo (sock, "x");
  /* BND is the upstream socket's real local address: what the echo
   * server saw as its peer. */
  peer = pk_test_echo_server_dup_last_peer (f->echo);
  expected = g_strdup_printf ("%u.%u.%u.%u", bound_addr[0], bound_addr[1], bound_addr[2],
                              bound_addr[3]);
  g_assert_cmpstr (peer, ==, expected);
  g_assert_cmpuint (bound_port, !=, f->port);
}

static void
test_connect_refused (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GSocket) sock = NULL;
  g_autoptr(GSocket) probe = NULL;
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GSocketAddress) any = NULL;
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  guint16 closed_port;

  /* A port that was free a moment ago: nothing listens there. */
  probe = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  any = g_inet_socket_address_new (lo, 0);
  g_assert_true (g_socket_bind (probe, any, FALSE, NULL));
  bound = g_socket_get_local_address (probe, NULL);
  closed_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_socket_close (probe, NULL);

  g_assert_cmpuint (connect_via_proxy (f, "127.0.0.1", closed_port, &sock), ==, 5);
  g_assert_true (pk_test_wait_eof (sock, 5000));

  pk_test_wait_until (no_sessions, f->server, 5000);
  g_assert_cmpuint (stat_value (f->server, "result-connection-refused"), ==, 1);
}

static void
test_connect_timeout (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GSocket) sock = NULL;
  g_autoptr(GSocket) blackhole = NULL;
  guint16 port;

  blackhole = pk_test_blackhole_listener_new (&port);
  pk_socks_server_set_connect_timeout (f->server, 300);

  g_assert_cmpuint (connect_via_proxy (f, "127.0.0.1", port, &sock), ==, 6);
  g_assert_true (pk_test_wait_eof (sock, 5000));

  pk_test_wait_until (no_sessions, f->server, 5000);
  g_assert_cmpuint (stat_value (f->server, "result-ttl-expired"), ==, 1);
}

static void
test_unknown_atyp (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GSocket) sock = proxy_connect (f);
  static const guint8 addr[4] = { 127, 0, 0, 1 };

  g_assert_cmpuint (greet (sock, (const guint8 *) "\0", 1), ==, 0);
  g_assert_cmpuint (request_full (sock, 1, 2, addr, 4, 80, NULL, NULL), ==, 8);
  g_assert_true (pk_test_wait_eof (sock, 5000));
}

static void
test_bind_command (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GSocket) sock = proxy_connect (f);

  g_assert_cmpuint (greet (sock, (const guint8 *) "\0", 1), ==, 0);
  g_assert_cmpuint (request_ipv4 (sock, 2, "127.0.0.1", 80), ==, 7);
  g_assert_true (pk_test_wait_eof (sock, 5000));
}

static void
test_half_close (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GSocket) sock = open_echo_session (f);
  g_autoptr(GError) error = NULL;
  char buf[32];

  pk_test_send_all (sock, "half-closed", 11);
  /* Our write side ends; the echo server sees EOF only if the proxy
   * passes the half-close on, and its answer still comes back. */
  g_socket_shutdown (sock, FALSE, TRUE, &error);
  g_assert_no_error (error);
  pk_test_recv_exact (sock, buf, 11, 5000);
  g_assert_cmpmem (buf, 11, "half-closed", 11);
  g_assert_true (pk_test_wait_eof (sock, 5000));
}

static void
test_idle_timeout (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GSocket) sock = NULL;

  pk_socks_server_set_idle_timeout (f->server, 300);
  sock = open_echo_session (f);
  assert_echo (sock, "then silence");
  g_assert_true (pk_test_wait_eof (sock, 10000));
}

static void
test_handshake_timeout (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GSocket) sock = NULL;

  pk_socks_server_set_handshake_timeout (f->server, 200);
  sock = proxy_connect (f);
  pk_test_send_all (sock, "\x05", 1);
  g_assert_true (pk_test_wait_eof (sock, 10000));
  pk_test_wait_until (no_sessions, f->server, 5000);
  g_assert_cmpuint (stat_value (f->server, "result-handshake-timeout"), ==, 1);
}

static void
test_per_client_cap (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GSocket) first = NULL;
  g_autoptr(GSocket) second = NULL;
  g_autoptr(GSocket) third = NULL;

  pk_socks_server_set_max_sessions_per_client (f->server, 1);
  first = open_echo_session (f);

  g_assert_cmpuint (connect_via_proxy (f, "127.0.0.1", pk_test_echo_server_get_port (f->echo), &second), ==, 2);
  g_assert_true (pk_test_wait_eof (second, 5000));

  /* The first session is unaffected, and its end frees the slot. */
  assert_echo (first, "still here");
  g_clear_object (&first);
  pk_test_wait_until (no_sessions, f->server, 5000);
  third = open_echo_session (f);
  assert_echo (third, "slot free again");
}

static void
test_max_sessions (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GSocket) first = NULL;
  g_autoptr(GSocket) second = NULL;

  pk_socks_server_set_max_sessions (f->server, 1);
  first = open_echo_session (f);
  g_assert_cmpuint (pk_socks_server_get_sessions_active (f->server), ==, 1);

  g_assert_cmpuint (connect_via_proxy (f, "127.0.0.1", pk_test_echo_server_get_port (f->echo), &second), ==, 2);
}

/* A client that may not connect is refused at the greeting, before it
 * can send credentials, so it cannot learn whether a password is right. */
static void
test_denied_before_auth (Fixture       *f,
                         gconstpointer  data)
{
  static const guint8 both[] = { 0, 2 };
  const char *users[] = { "alice:s3cret", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) first = NULL;

  pk_socks_server_set_users (f->server, users, &error);
  g_assert_no_error (error);
  pk_socks_server_set_allowlist (f->server, "10.0.0.0/8", &error);
  g_assert_no_error (error);

  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(GSocket) sock = proxy_connect (f);
      static const guint8 userpass_only[] = { 2 };

      g_assert_cmpuint (greet (sock, i == 0 ? both : userpass_only, i == 0 ? 2 : 1), ==, 0xff);
      g_assert_true (pk_test_wait_eof (sock, 5000));
    }
  pk_test_wait_until (no_sessions, f->server, 5000);
  g_assert_cmpuint (stat_value (f->server, "result-not-allowed"), ==, 2);
  g_assert_cmpuint (stat_value (f->server, "result-auth-failed"), ==, 0);

  /* Over the per-client cap: the same. */
  pk_socks_server_set_allowlist (f->server, NULL, &error);
  g_assert_no_error (error);
  pk_socks_server_set_max_sessions_per_client (f->server, 1);
  first = proxy_connect (f);
  g_assert_cmpuint (greet (first, both, 2), ==, 2);
  g_assert_cmpuint (auth (first, "alice", "s3cret"), ==, 0);
  g_assert_cmpuint (request_ipv4 (first, 1, "127.0.0.1", pk_test_echo_server_get_port (f->echo)), ==, 0);
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(GSocket) sock = proxy_connect (f);

      g_assert_cmpuint (greet (sock, both, 2), ==, 0xff);
      g_assert_true (pk_test_wait_eof (sock, 5000));
    }
  assert_echo (first, "the first session is unaffected");
  g_assert_cmpuint (stat_value (f->server, "result-auth-failed"), ==, 0);
}

/* A reload that would leave a non-loopback listener with no users and no
 * allowlist is refused: the users stay. */
static void
test_reload_keeps_auth (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("pk-users-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "users", NULL);

  write_file (path, "alice:s3cret\n");
  g_assert_true (pk_socks_server_set_users_file (f->server, path, &error));
  g_assert_no_error (error);

  /* on loopback only, emptying the file is allowed */
  write_file (path, "# nobody\n");
  g_assert_true (pk_socks_server_reload (f->server, &error));
  g_assert_no_error (error);
  g_assert_false (pk_socks_server_get_auth_required (f->server));

  write_file (path, "alice:s3cret\n");
  g_assert_true (pk_socks_server_reload (f->server, &error));
  listen_on (f, "0.0.0.0:0");
  write_file (path, "# alice:s3cret\n");
  g_assert_false (pk_socks_server_reload (f->server, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "open to anyone"));
  g_clear_error (&error);
  g_assert_true (pk_socks_server_get_auth_required (f->server));

  /* with an allowlist, it may */
  pk_socks_server_set_allowlist (f->server, "127.0.0.1", &error);
  g_assert_no_error (error);
  g_assert_true (pk_socks_server_reload (f->server, &error));
  g_assert_no_error (error);
  g_assert_false (pk_socks_server_get_auth_required (f->server));
  pk_test_run ("rm -rf '%s'", dir);
}

typedef struct {
  Fixture *f;
  guint drain_ms;
  gboolean done;
  gboolean ok;
} StopData;

static void
stop_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  StopData *sd = data;

  sd->ok = pk_socks_server_stop_finish (PK_SOCKS_SERVER (source), result, NULL);
  g_atomic_int_set (&sd->done, TRUE);
}

static gboolean
start_stop_cb (gpointer data)
{
  StopData *sd = data;

  pk_socks_server_stop_async (sd->f->server, sd->drain_ms, NULL, stop_done_cb, sd);
  return G_SOURCE_REMOVE;
}

static gboolean
stop_is_done (gpointer data)
{
  StopData *sd = data;

  return g_atomic_int_get (&sd->done);
}

static void
test_graceful_stop (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GSocket) live = open_echo_session (f);
  g_autoptr(GSocket) late = NULL;
  g_autoptr(GError) error = NULL;
  StopData sd = { f, 30000, FALSE, FALSE };

  call_in_server (f, start_stop_cb, &sd);

  /* No new clients... */
  late = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_assert_false (g_socket_connect (late, f->proxy, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);

  /* ...but the live session goes on until it ends by itself. */
  g_usleep (100000);
  g_assert_false (g_atomic_int_get (&sd.done));
  assert_echo (live, "draining");
  g_clear_object (&live);
  pk_test_wait_until (stop_is_done, &sd, 5000);
  g_assert_true (sd.ok);
}

static void
test_stop_deadline (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GSocket) live = open_echo_session (f);
  StopData sd = { f, 200, FALSE, FALSE };

  call_in_server (f, start_stop_cb, &sd);
  /* The session outlives the drain time: the server closes it. */
  g_assert_true (pk_test_wait_eof (live, 10000));
  pk_test_wait_until (stop_is_done, &sd, 5000);
  g_assert_true (sd.ok);
}

static void
test_stats (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(GSocket) a = open_echo_session (f);
  g_autoptr(GSocket) b = proxy_connect (f);
  g_autofree char *json = NULL;

  assert_echo (a, "0123456789");
  g_assert_cmpuint (pk_socks_server_get_sessions_active (f->server), ==, 2);
  g_assert_cmpuint (greet (b, (const guint8 *) "\0", 1), ==, 0);
  g_assert_cmpuint (request_ipv4 (b, 2, "127.0.0.1", 1), ==, 7);
  g_clear_object (&a);
  g_clear_object (&b);
  pk_test_wait_until (no_sessions, f->server, 5000);

  g_assert_cmpuint (stat_value (f->server, "sessions-active"), ==, 0);
  g_assert_cmpuint (stat_value (f->server, "sessions-total"), ==, 2);
  g_assert_cmpuint (stat_value (f->server, "bytes-up"), ==, 10);
  g_assert_cmpuint (stat_value (f->server, "bytes-down"), ==, 10);
  g_assert_cmpuint (stat_value (f->server, "result-succeeded"), ==, 1);
  g_assert_cmpuint (stat_value (f->server, "result-command-not-supported"), ==, 1);

  json = pk_socks_server_dup_stats_json (f->server);
  g_assert_nonnull (strstr (json, "\"sessions-total\": 2"));
  g_assert_nonnull (strstr (json, "\"bytes-up\": 10"));
}

static void
test_reload_keeps_session (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) live = NULL;
  g_autoptr(GSocket) sock = NULL;
  g_autofree char *path = g_build_filename (f->tmpdir, "users", NULL);
  static const guint8 userpass[] = { 2 };

  write_file (path, "alice:one\n");
  pk_socks_server_set_users_file (f->server, path, &error);
  g_assert_no_error (error);

  live = proxy_connect (f);
  g_assert_cmpuint (greet (live, userpass, 1), ==, 2);
  g_assert_cmpuint (auth (live, "alice", "one"), ==, 0);
  g_assert_cmpuint (request_ipv4 (live, 1, "127.0.0.1", pk_test_echo_server_get_port (f->echo)), ==, 0);
  assert_echo (live, "before reload");

  write_file (path, "bob:two\n");
  g_assert_true (pk_socks_server_reload (f->server, &error));
  g_assert_no_error (error);

  /* The live session does not notice... */
  assert_echo (live, "after reload");

  /* ...new sessions use the new users. */
  sock = proxy_connect (f);
  g_assert_cmpuint (greet (sock, userpass, 1), ==, 2);
  g_assert_cmpuint (auth (sock, "alice", "one"), !=, 0);
  g_clear_object (&sock);
  sock = proxy_connect (f);
  g_assert_cmpuint (greet (sock, userpass, 1), ==, 2);
  g_assert_cmpuint (auth (sock, "bob", "two"), ==, 0);
  g_clear_object (&sock);

  /* A broken file keeps the users as they were. */
  write_file (path, "garbage\n");
  g_assert_false (pk_socks_server_reload (f->server, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  sock = proxy_connect (f);
  g_assert_cmpuint (greet (sock, userpass, 1), ==, 2);
  g_assert_cmpuint (auth (sock, "bob", "two"), ==, 0);
  assert_echo (live, "still alive");
}

static void
test_pipelined_handshake (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(GSocket) sock = proxy_connect (f);
  guint16 port = pk_test_echo_server_get_port (f->echo);
  /* Greeting, request and the first data in one write, as optimistic
   * clients send them. */
  guint8 msg[] = { 5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, port >> 8, port & 0xff, 'p', 'i', 'n', 'g' };
  guint8 reply[2 + 10];
  char buf[4];

  pk_test_send_all (sock, msg, sizeof msg);
  pk_test_recv_exact (sock, reply, sizeof reply, 5000);
  g_assert_cmpuint (reply[1], ==, 0);
  g_assert_cmpuint (reply[3], ==, 0);
  pk_test_recv_exact (sock, buf, 4, 5000);
  g_assert_cmpmem (buf, 4, "ping", 4);
}

/* --- UDP ASSOCIATE --- */

/* Sends UDP ASSOCIATE on a no-auth control connection and returns the
 * relay's address from the reply. */
static GSocketAddress *
udp_associate (GSocket *control)
{
  guint8 msg[] = { 5, 3, 0, 1, 0, 0, 0, 0, 0, 0 };
  guint8 reply[4 + 16 + 2];
  g_autoptr(GInetAddress) inet = NULL;
  guint16 port;

  g_assert_cmpuint (greet (control, (const guint8 *) "\0", 1), ==, 0);
  pk_test_send_all (control, msg, sizeof msg);
  pk_test_recv_exact (control, reply, 4, 5000);
  g_assert_cmpuint (reply[1], ==, 0);
  if (reply[3] == 1)
    {
      pk_test_recv_exact (control, reply + 4, 6, 5000);
      inet = g_inet_address_new_from_bytes (reply + 4, G_SOCKET_FAMILY_IPV4);
      port = (reply[8] << 8) | reply[9];
    }
  else
    {
      g_assert_cmpuint (reply[3], ==, 4);
      pk_test_recv_exact (control, reply + 4, 18, 5000);
      inet = g_inet_address_new_from_bytes (reply + 4, G_SOCKET_FAMILY_IPV6);
      port = (reply[20] << 8) | reply[21];
    }
  g_assert_cmpuint (port, >, 0);
  return g_inet_socket_address_new (inet, port);
}

/* One datagram through the relay to the UDP echo server and back; the
 * answer's header names the echo server as its source. */
static GSocket *
udp_client (GSocketAddress *relay)
{
  g_autoptr(GError) error = NULL;
  GSocket *sock = g_socket_new (g_socket_address_get_family (relay), G_SOCKET_TYPE_DATAGRAM,
                                G_SOCKET_PROTOCOL_UDP, &error);

  g_assert_no_error (error);
  g_socket_set_timeout (sock, 5);
  return sock;
}

/* The relay takes datagrams from one client port only: the first one's. */
static void
udp_round_trip (GSocket        *sock,
                GSocketAddress *relay,
                GSocketAddress *echo,
                const char     *payload)
{
  GInetAddress *echo_inet = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (echo));
  guint16 echo_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (echo));
  gboolean v6 = g_inet_address_get_family (echo_inet) == G_SOCKET_FAMILY_IPV6;
  gsize addr_len = v6 ? 16 : 4;
  gsize header_len = 4 + addr_len + 2;
  gsize len = strlen (payload);
  g_autoptr(GError) error = NULL;
  guint8 out[512] = { 0, 0, 0, v6 ? 4 : 1 };
  guint8 in[512];
  gssize n;

  memcpy (out + 4, g_inet_address_to_bytes (echo_inet), addr_len);
  out[4 + addr_len] = echo_port >> 8;
  out[5 + addr_len] = echo_port & 0xff;
  memcpy (out + header_len, payload, len);
  g_socket_send_to (sock, relay, (const char *) out, header_len + len, NULL, &error);
  g_assert_no_error (error);

  n = g_socket_receive (sock, (char *) in, sizeof in, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, (gssize) (header_len + len));
  g_assert_cmpmem (in, header_len, out, header_len);
  g_assert_cmpmem (in + header_len, len, payload, len);
}

static void
test_udp_ipv4 (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(PkTestEchoServer) echo = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_DATAGRAM);
  g_autoptr(GSocketAddress) echo_address = pk_test_echo_server_get_address (echo);
  g_autoptr(GSocket) control = proxy_connect (f);
  g_autoptr(GSocketAddress) relay = udp_associate (control);
  g_autoptr(GSocket) sock = udp_client (relay);

  udp_round_trip (sock, relay, echo_address, "datagram one");
  udp_round_trip (sock, relay, echo_address, "datagram two");
  g_assert_cmpuint (pk_socks_server_get_sessions_active (f->server), ==, 1);

  /* The association ends with its TCP connection. */
  g_clear_object (&control);
  pk_test_wait_until (no_sessions, f->server, 5000);
  g_assert_cmpuint (stat_value (f->server, "result-succeeded"), ==, 1);
  g_assert_cmpuint (pk_socks_server_get_bytes_up (f->server), ==, 24);
  g_assert_cmpuint (pk_socks_server_get_bytes_down (f->server), ==, 24);
}

static void
test_udp_ipv6 (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(PkTestEchoServer) echo = pk_test_echo_server_new ("::1", G_SOCKET_TYPE_DATAGRAM);
  g_autoptr(GSocketAddress) echo_address = pk_test_echo_server_get_address (echo);
  g_autoptr(GInetAddress) lo6 = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV6);
  g_autoptr(GSocketAddress) proxy6 = NULL;
  g_autoptr(GSocket) control = NULL;
  g_autoptr(GSocketAddress) relay = NULL;
  g_autoptr(GSocket) sock = NULL;

  listen_on (f, "[::1]:0");
  proxy6 = g_inet_socket_address_new (lo6, f->port);
  control = pk_test_connect_tcp (proxy6);
  relay = udp_associate (control);
  g_assert_cmpint (g_socket_address_get_family (relay), ==, G_SOCKET_FAMILY_IPV6);
  sock = udp_client (relay);
  udp_round_trip (sock, relay, echo_address, "over IPv6");
}

static void
test_udp_advertise (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) control = NULL;
  g_autoptr(GSocketAddress) relay = NULL;
  g_autofree char *host = NULL;

  pk_socks_server_set_udp_advertise_address (f->server, "203.0.113.7", &error);
  g_assert_no_error (error);
  control = proxy_connect (f);
  relay = udp_associate (control);
  host = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (relay)));
  g_assert_cmpstr (host, ==, "203.0.113.7");

  g_assert_false (pk_socks_server_set_udp_advertise_address (f->server, "nat-box", &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT);
}

static void
test_udp_idle (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GSocket) control = NULL;
  g_autoptr(GSocketAddress) relay = NULL;

  pk_socks_server_set_udp_idle_timeout (f->server, 200);
  control = proxy_connect (f);
  relay = udp_associate (control);
  /* No datagram: the association ends, and with it the control
   * connection. */
  g_assert_true (pk_test_wait_eof (control, 10000));
}

/* --- what a session costs the server's poller --- */

typedef struct {
  GMainContext *context;
  guint watches, fds, cancellables;
} PollerCounts;

static gboolean
count_poller (gpointer data)
{
  PollerCounts *c = data;
  PkPoller *poller = pk_poller_get_for_context (c->context, NULL);

  g_assert_nonnull (poller);
  c->watches = pk_poller_get_n_watches (poller);
  c->fds = pk_poller_get_n_fds (poller);
  c->cancellables = pk_poller_get_n_cancellables (poller);
  return G_SOURCE_REMOVE;
}

static void
test_poller_cost (Fixture       *f,
                  gconstpointer  data)
{
  PollerCounts before = { f->context }, during = { f->context };
  GSocket *socks[3];

  call_in_server (f, count_poller, &before);
  for (guint i = 0; i < G_N_ELEMENTS (socks); i++)
    {
      socks[i] = open_echo_session (f);
      assert_echo (socks[i], "x");
    }
  call_in_server (f, count_poller, &during);

  /* Each relaying session: one watch with its two sockets (the connect
   * ran in it too), and no cancellation handler of its own: they all
   * watch the server's stop cancellable, which has one. */
  g_assert_cmpuint (during.watches - before.watches, ==, G_N_ELEMENTS (socks));
  g_assert_cmpuint (during.fds - before.fds, ==, 2 * G_N_ELEMENTS (socks));
  g_assert_cmpuint (during.cancellables - before.cancellables, <=, 1);

  for (guint i = 0; i < G_N_ELEMENTS (socks); i++)
    g_object_unref (socks[i]);
  pk_test_wait_until (no_sessions, f->server, 5000);
}

/* --- out of descriptors --- */

static gboolean
accept_warned (gpointer data)
{
  return count_expected_warnings () > 0;
}

static void
test_accept_backoff (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GArray) fillers = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr(GSocket) client = NULL;
  struct rlimit old, low;
  int fd;

  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &old), ==, 0);
  fd = dup (0);
  close (fd);
  low = old;
  low.rlim_cur = fd + 32;
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &low), ==, 0);

  /* The client's socket is made first, then every descriptor is taken:
   * the kernel completes the client's connect, the server cannot accept
   * it. (Taking all but one and leaving that one for the client raced
   * with the test's other threads, which could take it first.) Another
   * thread may also free a descriptor meanwhile and let the server accept
   * after all: then start again with another client. */
  for (guint attempt = 0; attempt < 10 && !accept_warned (NULL); attempt++)
    {
      g_autoptr(GError) error = NULL;

      for (guint i = 0; i < fillers->len; i++)
        close (g_array_index (fillers, int, i));
      g_array_set_size (fillers, 0);
      g_clear_object (&client);
      client = g_socket_new (g_socket_address_get_family (f->proxy), G_SOCKET_TYPE_STREAM,
                             G_SOCKET_PROTOCOL_DEFAULT, &error);
      g_assert_no_error (error);
      g_socket_set_timeout (client, 10);
      while ((fd = open ("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
        g_array_append_val (fillers, fd);
      g_assert_cmpint (errno, ==, EMFILE);
      g_socket_connect (client, f->proxy, NULL, &error);
      g_assert_no_error (error);
      for (guint i = 0; i < 100 && !accept_warned (NULL); i++)
        g_usleep (20000);
    }
  g_assert_true (accept_warned (NULL));

  for (guint i = 0; i < fillers->len; i++)
    close (g_array_index (fillers, int, i));
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &old), ==, 0);

  /* Accepting resumes, and the waiting client is served. */
  g_assert_cmpuint (greet (client, (const guint8 *) "\0", 1), ==, 0);
  g_assert_cmpuint (request_ipv4 (client, 1, "127.0.0.1", pk_test_echo_server_get_port (f->echo)), ==, 0);
  assert_echo (client, "served after the pause");
  /* Paused, not spinning: a handful of warnings at most, not thousands. */
  g_assert_cmpuint (count_expected_warnings (), <, 100);
}

int
main (int   argc,
      char *argv[])
{
  pk_test_init (&argc, &argv);
  expect_warnings ("pausing accepts");

#define ADD(path, func) g_test_add (path, Fixture, NULL, setup, func, teardown)
  ADD ("/socks-server/connect/gio-client", test_gio_client);
  ADD ("/socks-server/connect/gio-client-auth", test_gio_client_auth);
  ADD ("/socks-server/connect/domain-name", test_domain_name);
  ADD ("/socks-server/connect/bound-address", test_bound_address);
  ADD ("/socks-server/connect/ipv6", test_ipv6_destination);
  ADD ("/socks-server/connect/pipelined", test_pipelined_handshake);
  ADD ("/socks-server/connect/poller-cost", test_poller_cost);
  ADD ("/socks-server/auth/wrong-password", test_wrong_password);
  ADD ("/socks-server/auth/users-file-errors", test_users_file_errors);
  ADD ("/socks-server/auth/no-acceptable-method", test_no_acceptable_method);
  ADD ("/socks-server/policy/allowlist", test_allowlist);
  ADD ("/socks-server/policy/denylist", test_denylist);
  g_test_add ("/socks-server/policy/deny-host", Fixture, "no-listen", setup, test_deny_host, teardown);
  ADD ("/socks-server/policy/per-client-cap", test_per_client_cap);
  ADD ("/socks-server/policy/denied-before-auth", test_denied_before_auth);
  ADD ("/socks-server/policy/reload-keeps-auth", test_reload_keeps_auth);
  ADD ("/socks-server/policy/max-sessions", test_max_sessions);
  ADD ("/socks-server/reply/connect-refused", test_connect_refused);
  ADD ("/socks-server/reply/connect-timeout", test_connect_timeout);
  ADD ("/socks-server/reply/unknown-atyp", test_unknown_atyp);
  ADD ("/socks-server/reply/bind", test_bind_command);
  ADD ("/socks-server/data/half-close", test_half_close);
  ADD ("/socks-server/data/idle-timeout", test_idle_timeout);
  ADD ("/socks-server/handshake-timeout", test_handshake_timeout);
  ADD ("/socks-server/stop/graceful", test_graceful_stop);
  ADD ("/socks-server/stop/deadline", test_stop_deadline);
  ADD ("/socks-server/stats", test_stats);
  ADD ("/socks-server/accept-backoff", test_accept_backoff);
  ADD ("/socks-server/udp/ipv4", test_udp_ipv4);
  g_test_add ("/socks-server/udp/ipv6", Fixture, "no-listen", setup, test_udp_ipv6, teardown);
  ADD ("/socks-server/udp/advertise", test_udp_advertise);
  ADD ("/socks-server/udp/idle-timeout", test_udp_idle);
  ADD ("/socks-server/reload/keeps-live-session", test_reload_keeps_session);
#undef ADD

  return g_test_run ();
}
