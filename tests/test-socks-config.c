/* test-socks-config.c: PkSocksServer and PkEgress from a PkConfig, and
 * the open-listener rule of PkSocksServer
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <proxykit/proxykit.h>

#include "pk-test-utils.h"

static PkConfig *
config_new (const char         *text,
            const char * const *envp)
{
  PkConfig *config = pk_config_new ();
  g_autoptr(GError) error = NULL;
  const char *none[] = { NULL };

  pk_config_set_environ (config, envp ? envp : none);
  g_assert_true (pk_config_load_data (config, text, -1, "test.conf", &error));
  g_assert_no_error (error);
  return config;
}

/* Every key reaches the server; the main listener takes the SOCKS_*
 * variables, a named one only the tuning ones. */
static void
test_new_from_config (void)
{
  const char *envp[] = { "SOCKS_CONNECT_TIMEOUT=45", "SOCKS_EGRESS_ADDRESS=127.0.0.9",
                         "SOCKS_MAX_SESSIONS=9", NULL };
  g_autoptr(PkConfig) config = config_new ("[socks]\n"
                                           "fwmark = 7\n"
                                           "[socks:11]\n"
                                           "listen = 127.0.0.1:0\n"
                                           "egress-address = 127.0.0.2\n"
                                           "egress-dns = 127.0.0.53, 127.0.0.54:5353\n"
                                           "ttl = 3\n"
                                           "idle-timeout = 2m\n"
                                           "handshake-timeout = 4s\n"
                                           "max-sessions-per-client = 5\n"
                                           "users-inline = a:1; b:2\n"
                                           "allow = 127.0.0.0/8\n"
                                           "allow-open = yes\n"
                                           "allow-host-destinations = true\n", envp);
  g_autoptr(GError) error = NULL;
  g_autoptr(PkSocksServer) named = NULL;
  g_autoptr(PkSocksServer) main_server = NULL;
  PkEgress *egress;

  named = pk_socks_server_new_from_config (config, "11", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pk_socks_server_get_name (named), ==, "11");
  egress = pk_socks_server_get_egress (named);
  g_assert_cmpstr (pk_egress_get_address (egress), ==, "127.0.0.2");
  g_assert_cmpuint (pk_egress_get_fwmark (egress), ==, 0);
  g_assert_cmpuint (pk_egress_get_ttl (egress), ==, 3);
  g_assert_cmpuint (g_strv_length ((char **) pk_egress_get_nameservers (egress)), ==, 2);
  g_assert_cmpuint (pk_socks_server_get_connect_timeout (named), ==, 45000);
  g_assert_cmpuint (pk_socks_server_get_idle_timeout (named), ==, 120000);
  g_assert_cmpuint (pk_socks_server_get_handshake_timeout (named), ==, 4000);
  g_assert_cmpuint (pk_socks_server_get_max_sessions (named), ==, 9);
  g_assert_cmpuint (pk_socks_server_get_max_sessions_per_client (named), ==, 5);
  g_assert_true (pk_socks_server_get_auth_required (named));
  g_assert_true (pk_socks_server_has_allowlist (named));
  g_assert_true (pk_socks_server_get_allow_open (named));
  g_assert_true (pk_socks_server_get_allow_host_destinations (named));

  main_server = pk_socks_server_new_from_config (config, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pk_socks_server_get_name (main_server), ==, "main");
  egress = pk_socks_server_get_egress (main_server);
  g_assert_cmpstr (pk_egress_get_address (egress), ==, "127.0.0.9");
  g_assert_cmpuint (pk_egress_get_fwmark (egress), ==, 7);
  g_assert_false (pk_socks_server_get_auth_required (main_server));
  g_assert_false (pk_socks_server_get_allow_open (main_server));
}

/* A flag (an override) wins over the environment, which wins over the
 * file; every error names where the bad value came from. */
static void
test_precedence_and_errors (void)
{
  const char *envp[] = { "SOCKS_CONNECT_TIMEOUT=never", NULL };
  g_autoptr(PkConfig) config = config_new ("[socks:1]\nlisten = 127.0.0.1:0\nconnect-timeout = 7s\n", envp);
  g_autoptr(PkConfig) typo = config_new ("[socks:1]\nlisten = 127.0.0.1:0\nconect-timeout = 7s\n", NULL);
  g_autoptr(PkConfig) bad_egress = config_new ("[socks:1]\negress-address = nowhere\n", NULL);
  g_autoptr(PkConfig) bad_allow = config_new ("[socks:1]\n\nallow = 10.0.0.0/99\n", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PkSocksServer) server = NULL;

  server = pk_socks_server_new_from_config (config, "1", &error);
  g_assert_null (server);
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "environment variable SOCKS_CONNECT_TIMEOUT"));
  g_clear_error (&error);

  pk_config_set_override (config, NULL, "connect-timeout", "3s", "--connect-timeout");
  server = pk_socks_server_new_from_config (config, "1", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pk_socks_server_get_connect_timeout (server), ==, 3000);

  g_assert_null (pk_socks_server_new_from_config (typo, "1", &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "conect-timeout"));
  g_assert_nonnull (strstr (error->message, "unknown key"));
  g_clear_error (&error);

  g_assert_null (pk_socks_server_new_from_config (bad_egress, "1", &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  g_assert_true (g_str_has_prefix (error->message, "test.conf:2: [socks:1] egress-address: "));
  g_clear_error (&error);

  g_assert_null (pk_socks_server_new_from_config (bad_allow, "1", &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  g_assert_true (g_str_has_prefix (error->message, "test.conf:3: [socks:1] allow: "));
}

/* The rule pk-socks always had, now in the library: a listener off
 * loopback needs users, an allowlist or allow-open. Nothing is bound:
 * pk_socks_server_listen() refuses before making a socket. */
static void
test_open_listener_refused (void)
{
  g_autoptr(PkSocksServer) server = pk_socks_server_new ();
  g_autoptr(GError) error = NULL;

  g_assert_false (pk_socks_server_listen (server, "0.0.0.0:0", &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_NOT_ALLOWED);
  g_assert_nonnull (strstr (error->message, "allow-open"));
  g_assert_nonnull (strstr (error->message, "allowlist"));
  g_clear_error (&error);
  g_assert_false (pk_socks_server_listen (server, "[::]:0", &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_NOT_ALLOWED);
  g_clear_error (&error);
  g_assert_cmpuint (pk_socks_server_get_port (server), ==, 0);

  /* a socket made elsewhere (systemd's) is held to the same rule */
  {
    g_autoptr(GSocket) sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
    g_autoptr(GInetAddress) any = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) sa = g_inet_socket_address_new (any, 0);

    g_assert_true (g_socket_bind (sock, sa, TRUE, NULL));
    g_assert_false (pk_socks_server_add_socket (server, sock, &error));
    g_assert_error (error, PK_ERROR, PK_ERROR_NOT_ALLOWED);
    g_clear_error (&error);
    g_socket_close (sock, NULL);
  }

  /* loopback is fine without anything */
  g_assert_true (pk_socks_server_listen (server, "127.0.0.1:0", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (pk_socks_server_get_port (server), >, 0);
  pk_socks_server_close (server);
}

static void
test_open_listener_check (void)
{
  const char *envp[] = { "SOCKS_LISTEN=0.0.0.0:0", NULL };
  g_autoptr(PkConfig) open = config_new ("[socks:open]\nlisten = 0.0.0.0:10011\n", envp);
  g_autoptr(PkConfig) bad = config_new ("[socks:bad]\nlisten = eth0:10011\n", NULL);
  g_autoptr(PkConfig) none = config_new ("[socks:none]\nttl = 3\n", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PkSocksServer) server = NULL;
  g_autoptr(PkSocksServer) main_server = NULL;

  server = pk_socks_server_new_from_config (open, "open", &error);
  g_assert_no_error (error);
  g_assert_false (pk_socks_server_check_listen_from_config (server, open, "open", &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_NOT_ALLOWED);
  g_clear_error (&error);

  /* each way out of the rule */
  pk_config_set_override (open, NULL, "allow", "192.0.2.0/24", "--allow");
  g_clear_object (&server);
  server = pk_socks_server_new_from_config (open, "open", &error);
  g_assert_true (pk_socks_server_check_listen_from_config (server, open, "open", &error));
  g_assert_no_error (error);
  pk_config_set_override (open, NULL, "allow", NULL, NULL);
  pk_config_set_override (open, "socks:open", "users-inline", "u:p", NULL);
  g_clear_object (&server);
  server = pk_socks_server_new_from_config (open, "open", &error);
  g_assert_true (pk_socks_server_check_listen_from_config (server, open, "open", &error));
  pk_config_set_override (open, "socks:open", "users-inline", NULL, NULL);
  pk_config_set_override (open, NULL, "allow-open", "true", "--allow-open");
  g_clear_object (&server);
  server = pk_socks_server_new_from_config (open, "open", &error);
  g_assert_true (pk_socks_server_check_listen_from_config (server, open, "open", &error));
  g_assert_no_error (error);

  /* SOCKS_LISTEN is the main listener's */
  pk_config_set_override (open, NULL, "allow-open", NULL, NULL);
  main_server = pk_socks_server_new_from_config (open, NULL, &error);
  g_assert_false (pk_socks_server_check_listen_from_config (main_server, open, NULL, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_NOT_ALLOWED);
  g_clear_error (&error);

  g_clear_object (&server);
  server = pk_socks_server_new_from_config (bad, "bad", &error);
  g_assert_false (pk_socks_server_check_listen_from_config (server, bad, "bad", &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  g_assert_true (g_str_has_prefix (error->message, "test.conf:2: [socks:bad] listen: "));
  g_clear_error (&error);

  g_clear_object (&server);
  server = pk_socks_server_new_from_config (none, "none", &error);
  g_assert_false (pk_socks_server_check_listen_from_config (server, none, "none", &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "no listen key"));
}

/* A client in a thread of its own, while the server runs in the test's
 * main context: "user:password" through the proxy to the echo server. */
typedef struct {
  guint16 proxy_port;
  guint16 echo_port;
  const char *userinfo;
  gboolean echoed;
  gboolean done;
} Client;

static gpointer
client_thread (gpointer data)
{
  Client *c = data;
  g_autofree char *uri = g_strdup_printf ("socks5://%s@127.0.0.1:%u", c->userinfo, c->proxy_port);
  g_autoptr(GProxyResolver) resolver = g_simple_proxy_resolver_new (uri, NULL);
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) conn = NULL;
  char buf[5];
  gsize n = 0;

  g_socket_client_set_timeout (client, 10);
  g_socket_client_set_proxy_resolver (client, resolver);
  conn = g_socket_client_connect_to_host (client, "127.0.0.1", c->echo_port, NULL, NULL);
  if (conn != NULL &&
      g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)), "hello", 5, NULL, NULL, NULL) &&
      g_input_stream_read_all (g_io_stream_get_input_stream (G_IO_STREAM (conn)), buf, 5, &n, NULL, NULL))
    c->echoed = n == 5 && memcmp (buf, "hello", 5) == 0;
  if (conn != NULL)
    g_io_stream_close (G_IO_STREAM (conn), NULL, NULL);
  g_atomic_int_set (&c->done, TRUE);
  return NULL;
}

static gboolean
run_client (PkSocksServer    *server,
            PkTestEchoServer *echo,
            const char       *userinfo)
{
  Client c = { pk_socks_server_get_port (server), pk_test_echo_server_get_port (echo), userinfo };
  GThread *thread = g_thread_new ("client", client_thread, &c);

  pk_test_wait_for_flag (&c.done, 20000);
  g_thread_join (thread);
  return c.echoed;
}

/* A configured listener serves, with the users of its section. */
static void
test_listen_from_config_serves (void)
{
  g_autoptr(PkConfig) config = config_new ("[socks:a]\nlisten = 127.0.0.1:0\nusers-inline = farm:secret\n", NULL);
  g_autoptr(PkTestEchoServer) echo = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_STREAM);
  g_autoptr(PkSocksServer) server = NULL;
  g_autoptr(GError) error = NULL;

  server = pk_socks_server_new_from_config (config, "a", &error);
  g_assert_no_error (error);
  g_assert_true (pk_socks_server_listen_from_config (server, config, "a", &error));
  g_assert_no_error (error);

  g_assert_false (run_client (server, echo, "farm:wrong"));
  g_assert_true (run_client (server, echo, "farm:secret"));
  pk_socks_server_close (server);
}

/* A reload takes new users and lists all or nothing. */
static void
test_reload_from_config (void)
{
  g_autoptr(PkConfig) config = config_new ("[socks:a]\nlisten = 127.0.0.1:0\nusers-inline = a:1\n", NULL);
  g_autoptr(PkConfig) good = config_new ("[socks:a]\nlisten = 127.0.0.1:0\nusers-inline = b:2\nallow = 127.0.0.1\n", NULL);
  g_autoptr(PkConfig) bad = config_new ("[socks:a]\nlisten = 127.0.0.1:0\nallow = 10.0.0.0/99\n", NULL);
  g_autoptr(PkConfig) gone = config_new ("[socks:b]\nlisten = 127.0.0.1:0\n", NULL);
  g_autoptr(PkSocksServer) server = NULL;
  g_autoptr(GError) error = NULL;

  server = pk_socks_server_new_from_config (config, "a", &error);
  g_assert_no_error (error);
  g_assert_true (pk_socks_server_get_auth_required (server));
  g_assert_false (pk_socks_server_has_allowlist (server));

  g_assert_false (pk_socks_server_reload_from_config (server, bad, "a", &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  g_clear_error (&error);
  g_assert_true (pk_socks_server_get_auth_required (server));
  g_assert_false (pk_socks_server_has_allowlist (server));

  g_assert_false (pk_socks_server_reload_from_config (server, gone, "a", &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  g_clear_error (&error);
  g_assert_true (pk_socks_server_get_auth_required (server));

  g_assert_true (pk_socks_server_reload_from_config (server, good, "a", &error));
  g_assert_no_error (error);
  g_assert_true (pk_socks_server_get_auth_required (server));
  g_assert_true (pk_socks_server_has_allowlist (server));
}

/* Emptying the users of a listener off loopback is refused on reload,
 * as listening would be. */
static void
test_reload_keeps_it_closed (void)
{
  g_autofree char *dir = g_dir_make_tmp ("pk-socks-config-XXXXXX", NULL);
  g_autofree char *users = g_build_filename (dir, "users", NULL);
  g_autofree char *with = g_strdup_printf ("[socks:a]\nlisten = 0.0.0.0:0\nusers = %s\n", users);
  g_autoptr(PkConfig) config = NULL;
  g_autoptr(PkConfig) without = config_new ("[socks:a]\nlisten = 0.0.0.0:0\n", NULL);
  g_autoptr(PkConfig) open = config_new ("[socks:a]\nlisten = 0.0.0.0:0\nallow-open = true\n", NULL);
  g_autoptr(PkSocksServer) server = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_set_contents (users, "a:1\n", -1, NULL));
  config = config_new (with, NULL);
  server = pk_socks_server_new_from_config (config, "a", &error);
  g_assert_no_error (error);
  g_assert_true (pk_socks_server_listen_from_config (server, config, "a", &error));
  g_assert_no_error (error);

  g_assert_false (pk_socks_server_reload_from_config (server, without, "a", &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "allow-open"));
  g_clear_error (&error);
  g_assert_true (pk_socks_server_get_auth_required (server));

  g_assert_true (pk_socks_server_reload_from_config (server, open, "a", &error));
  g_assert_no_error (error);
  g_assert_false (pk_socks_server_get_auth_required (server));
  pk_socks_server_close (server);
  pk_test_run ("rm -rf %s", dir);
}

static void
test_egress_from_config (void)
{
  const char *envp[] = { "X_TTL=9", "X_EGRESS_INTERFACE=lo", NULL };
  g_autoptr(PkConfig) config = config_new ("[e]\nttl = 4\nfwmark = 16\negress-dns = 127.0.0.53\n"
                                           "[bad]\nttl = 300\n", envp);
  g_autoptr(PkEgress) plain = NULL;
  g_autoptr(PkEgress) prefixed = NULL;
  g_autoptr(PkEgress) bad = NULL;
  g_autoptr(GError) error = NULL;

  plain = pk_egress_new_from_config (config, "e", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pk_egress_get_ttl (plain), ==, 4);
  g_assert_null (pk_egress_get_interface (plain));
  g_assert_cmpstr (pk_egress_get_nameservers (plain)[0], ==, "127.0.0.53");

  prefixed = pk_egress_new_from_config (config, "e", "X_", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pk_egress_get_ttl (prefixed), ==, 9);
  g_assert_cmpstr (pk_egress_get_interface (prefixed), ==, "lo");

  bad = pk_egress_new_from_config (config, "bad", NULL, &error);
  g_assert_null (bad);
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "[bad] ttl"));
}

/* What a reload does to the listener set: added, removed, moved. */
static void
test_diff_config_listeners (void)
{
  g_autoptr(PkConfig) before = config_new ("[socks]\nlisten = 127.0.0.1:1\n"
                                            "[socks:keep]\nlisten = 127.0.0.1:2\n"
                                            "[socks:gone]\nlisten = 127.0.0.1:3\n"
                                            "[socks:moved]\nlisten = 127.0.0.1:4\n", NULL);
  g_autoptr(PkConfig) after = config_new ("[socks]\nlisten = 127.0.0.1:5\n"
                                           "[socks:keep]\nlisten = 127.0.0.1:2\nusers-inline = a:b\n"
                                           "[socks:moved]\nlisten = 127.0.0.1:4, 127.0.0.1:6\n"
                                           "[socks:new]\nlisten = 127.0.0.1:7\n", NULL);
  g_autoptr(PkConfig) bad = config_new ("[socks:keep]\nlisten = 127.0.0.1:2\n[socks:nolisten]\nttl = 3\n", NULL);
  g_auto(GStrv) added = NULL;
  g_auto(GStrv) removed = NULL;
  g_auto(GStrv) changed = NULL;
  g_autoptr(GError) error = NULL;
  const char *want_added[] = { "new", NULL };
  const char *want_removed[] = { "gone", NULL };
  const char *want_changed[] = { "", "moved", NULL };

  g_assert_true (pk_socks_server_diff_config_listeners (before, after, &added, &removed, &changed, &error));
  g_assert_no_error (error);
  g_assert_true (g_strv_equal ((const char * const *) added, want_added));
  g_assert_true (g_strv_equal ((const char * const *) removed, want_removed));
  g_assert_true (g_strv_equal ((const char * const *) changed, want_changed));
  g_clear_pointer (&added, g_strfreev);
  g_clear_pointer (&removed, g_strfreev);
  g_clear_pointer (&changed, g_strfreev);

  /* the same configuration: nothing to do */
  g_assert_true (pk_socks_server_diff_config_listeners (after, after, &added, &removed, &changed, &error));
  g_assert_cmpuint (g_strv_length (added) + g_strv_length (removed) + g_strv_length (changed), ==, 0);
  g_clear_pointer (&added, g_strfreev);
  g_clear_pointer (&removed, g_strfreev);
  g_clear_pointer (&changed, g_strfreev);

  /* a new listener without an address is an error naming it */
  g_assert_false (pk_socks_server_diff_config_listeners (before, bad, &added, &removed, &changed, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "socks:nolisten"));
  g_assert_null (added);
}

int
main (int argc, char **argv)
{
  pk_test_init (&argc, &argv);

  g_test_add_func ("/socks-config/new-from-config", test_new_from_config);
  g_test_add_func ("/socks-config/precedence-and-errors", test_precedence_and_errors);
  g_test_add_func ("/socks-config/open-listener-refused", test_open_listener_refused);
  g_test_add_func ("/socks-config/open-listener-check", test_open_listener_check);
  g_test_add_func ("/socks-config/listen-from-config-serves", test_listen_from_config_serves);
  g_test_add_func ("/socks-config/reload-from-config", test_reload_from_config);
  g_test_add_func ("/socks-config/reload-keeps-it-closed", test_reload_keeps_it_closed);
  g_test_add_func ("/socks-config/egress-from-config", test_egress_from_config);
  g_test_add_func ("/socks-config/diff-config-listeners", test_diff_config_listeners);
  return g_test_run ();
}
