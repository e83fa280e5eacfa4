/* test-probe.c: PkProbe kinds, retries and the startup check, on loopback
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <sys/wait.h>
#include <unistd.h>

#ifdef HAVE_LIBSOUP
#include <libsoup/soup.h>
#endif

#include <proxykit/proxykit.h>

#include "pk-test-utils.h"

static gboolean
run_probe (PkProbe *probe, guint timeout_ms, GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  guint64 latency = G_MAXUINT64;
  gboolean ok;

  pk_probe_run_async (probe, timeout_ms, NULL, pk_test_store_result, &result);
  pk_test_wait_result (&result, 20000);
  ok = pk_probe_run_finish (probe, result, &latency, error);
  if (ok)
    g_assert_cmpuint (latency, <, G_MAXUINT64);
  return ok;
}

/* a loopback port where nothing listens: connects are refused */
static guint16
closed_port (void)
{
  g_autoptr(GSocket) s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, 0, NULL);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) local = NULL;

  g_assert_true (g_socket_bind (s, any, FALSE, NULL));
  local = g_socket_get_local_address (s, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
}

static void
test_tcp_connect (void)
{
  g_autoptr(PkTestEchoServer) server = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_STREAM);
  g_autoptr(PkProbe) ok = pk_probe_new_tcp_connect (NULL, "127.0.0.1", pk_test_echo_server_get_port (server));
  g_autoptr(PkProbe) refused = pk_probe_new_tcp_connect (NULL, "127.0.0.1", closed_port ());
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (pk_probe_get_kind (ok), ==, PK_PROBE_TCP_CONNECT);
  g_assert_true (run_probe (ok, 5000, &error));
  g_assert_no_error (error);
  g_assert_false (run_probe (refused, 5000, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_assert_true (g_str_has_prefix (error->message, "tcp-connect 127.0.0.1:"));
}

static void
test_tcp_connect_timeout (void)
{
  guint16 port = 0;
  g_autoptr(GSocket) hole = pk_test_blackhole_listener_new (&port);
  g_autoptr(PkProbe) probe = pk_probe_new_tcp_connect (NULL, "127.0.0.1", port);
  g_autoptr(GError) error = NULL;

  (void) hole;  /* held open for the length of the test */

  g_assert_false (run_probe (probe, 200, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
}

static void
test_tcp_connect_through_egress (void)
{
  g_autoptr(PkTestEchoServer) server = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_STREAM);
  g_autoptr(PkEgress) lo = pk_egress_new_full ("127.0.0.1", "lo", 0, 0, NULL);
  g_autoptr(PkEgress) bad = pk_egress_new_full (NULL, "pk-no-such0", 0, 0, NULL);
  g_autoptr(PkProbe) ok = pk_probe_new_tcp_connect (lo, "127.0.0.1", pk_test_echo_server_get_port (server));
  g_autoptr(PkProbe) fail = pk_probe_new_tcp_connect (bad, "127.0.0.1", pk_test_echo_server_get_port (server));
  g_autoptr(GError) error = NULL;

  if (geteuid () != 0)
    {
      g_test_skip ("SO_BINDTODEVICE needs root (CI runs as root)");
      return;
    }
  g_assert_true (run_probe (ok, 5000, &error));
  g_assert_no_error (error);
  g_assert_false (run_probe (fail, 5000, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_EGRESS);
  g_assert_nonnull (strstr (error->message, "pk-no-such0"));
}

static void
test_process (void)
{
  g_autoptr(PkProbe) self_probe = pk_probe_new_process (getpid ());
  g_autoptr(PkProbe) gone = NULL;
  g_autoptr(GError) error = NULL;
  pid_t child = fork ();

  if (child == 0)
    _exit (0);
  waitpid (child, NULL, 0);
  gone = pk_probe_new_process (child);

  g_assert_true (run_probe (self_probe, 0, &error));
  g_assert_false (run_probe (gone, 0, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CHECK_FAILED);
  g_assert_nonnull (strstr (error->message, "is gone"));
}

static void
test_interface (void)
{
  g_autoptr(PkProbe) lo = pk_probe_new_interface ("lo");
  g_autoptr(PkProbe) missing = pk_probe_new_interface ("pk-no-such0");
  g_autoptr(GError) error = NULL;

  g_assert_true (run_probe (lo, 0, &error));
  g_assert_no_error (error);
  g_assert_false (run_probe (missing, 0, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CHECK_FAILED);
  g_assert_cmpstr (error->message, ==, "interface pk-no-such0 does not exist");
}

/* --- SOCKS: a minimal SOCKS5 server in a thread, enough to answer one
 * no-auth CONNECT the way a real one would --- */

typedef struct {
  GSocket *listener;
  guint8 method;      /* what the greeting is answered with */
  guint8 reply;       /* the reply code when the connect succeeds */
  gboolean trickle;   /* answers one byte at a time */
  guint8 last_atyp;
  char last_target[300];
  GThread *thread;
} MiniSocks;

static gboolean
recv_n (GSocket *s, guint8 *buf, gsize n)
{
  gsize off = 0;

  while (off < n)
    {
      gssize r = g_socket_receive (s, (char *) buf + off, n - off, NULL, NULL);
      if (r <= 0)
        return FALSE;
      off += r;
    }
  return TRUE;
}

static void
mini_send (MiniSocks *m, GSocket *c, const guint8 *buf, gsize n)
{
  for (gsize off = 0; off < n; off += m->trickle ? 1 : n)
    {
      g_socket_send (c, (const char *) buf + off, m->trickle ? 1 : n, NULL, NULL);
      if (m->trickle)
        g_usleep (2000);
    }
}

static gpointer
mini_socks_thread (gpointer data)
{
  MiniSocks *m = data;
  g_autoptr(GSocket) c = g_socket_accept (m->listener, NULL, NULL);
  guint8 buf[300];
  guint8 rep[10] = { 5, 0, 0, 1, 127, 0, 0, 1, 0, 0 };
  g_autoptr(GSocket) upstream = NULL;
  guint16 port;

  if (c == NULL || !recv_n (c, buf, 2) || !recv_n (c, buf + 2, buf[1]))
    return NULL;
  buf[0] = 5;
  buf[1] = m->method;
  mini_send (m, c, buf, 2);
  if (m->method != 0 || !recv_n (c, buf, 4))
    return NULL;
  m->last_atyp = buf[3];
  if (buf[3] == 1)
    {
      recv_n (c, buf + 4, 6);
      g_snprintf (m->last_target, sizeof m->last_target, "%u.%u.%u.%u",
                  buf[4], buf[5], buf[6], buf[7]);
      port = buf[8] << 8 | buf[9];
    }
  else if (buf[3] == 3)
    {
      recv_n (c, buf + 4, 1);
      recv_n (c, buf + 5, buf[4] + 2);
      memcpy (m->last_target, buf + 5, buf[4]);
      m->last_target[buf[4]] = '\0';
      port = buf[5 + buf[4]] << 8 | buf[6 + buf[4]];
    }
  else
    return NULL;

  if (m->reply == 0)
    {
      g_autoptr(GInetAddress) a = g_inet_address_new_from_string (m->last_target);
      g_autoptr(GSocketAddress) sa = a ? g_inet_socket_address_new (a, port) : NULL;

      upstream = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, 0, NULL);
      if (sa == NULL || !g_socket_connect (upstream, sa, NULL, NULL))
        rep[1] = 5;
    }
  else
    rep[1] = m->reply;
  mini_send (m, c, rep, sizeof rep);
  return NULL;
}

static guint16
mini_socks_start (MiniSocks *m)
{
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) local = NULL;

  m->listener = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, 0, NULL);
  g_assert_true (g_socket_bind (m->listener, any, TRUE, NULL));
  g_assert_true (g_socket_listen (m->listener, NULL));
  local = g_socket_get_local_address (m->listener, NULL);
  m->thread = g_thread_new ("mini-socks", mini_socks_thread, m);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
}

static void
mini_socks_stop (MiniSocks *m)
{
  g_thread_join (m->thread);
  g_clear_object (&m->listener);
}

static gboolean
echo_connected (gpointer server)
{
  return pk_test_echo_server_get_n_connections (server) == 1;
}

static void
test_socks_round_trip (void)
{
  g_autoptr(PkTestEchoServer) server = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_STREAM);
  MiniSocks m = { 0 };
  guint16 port = mini_socks_start (&m);
  g_autoptr(PkProbe) probe = pk_probe_new_socks ("127.0.0.1", port, "127.0.0.1",
                                                 pk_test_echo_server_get_port (server));
  g_autoptr(GError) error = NULL;

  g_assert_true (run_probe (probe, 5000, &error));
  g_assert_no_error (error);
  mini_socks_stop (&m);
  g_assert_cmpuint (m.last_atyp, ==, 1);
  g_assert_cmpstr (m.last_target, ==, "127.0.0.1");
  pk_test_wait_until (echo_connected, server, 5000);
}

/* Answers that arrive in pieces are read until the codec has them whole. */
static void
test_socks_trickled_answers (void)
{
  g_autoptr(PkTestEchoServer) server = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_STREAM);
  MiniSocks m = { .trickle = TRUE };
  guint16 port = mini_socks_start (&m);
  g_autoptr(PkProbe) probe = pk_probe_new_socks ("127.0.0.1", port, "127.0.0.1",
                                                 pk_test_echo_server_get_port (server));
  g_autoptr(GError) error = NULL;

  g_assert_true (run_probe (probe, 5000, &error));
  g_assert_no_error (error);
  mini_socks_stop (&m);
}

static void
test_socks_refused (void)
{
  MiniSocks m = { 0 };
  guint16 port = mini_socks_start (&m);
  g_autoptr(PkProbe) probe = pk_probe_new_socks ("127.0.0.1", port, "localhost", closed_port ());
  g_autoptr(GError) error = NULL;

  g_assert_false (run_probe (probe, 5000, &error));
  mini_socks_stop (&m);
  g_assert_error (error, PK_ERROR, PK_ERROR_CHECK_FAILED);
  g_assert_nonnull (strstr (error->message, "0x05 (connection refused)"));
  /* a name goes to the proxy as a name */
  g_assert_cmpuint (m.last_atyp, ==, 3);
  g_assert_cmpstr (m.last_target, ==, "localhost");
}

static void
test_socks_needs_auth (void)
{
  MiniSocks m = { .method = 0xff };
  guint16 port = mini_socks_start (&m);
  g_autoptr(PkProbe) probe = pk_probe_new_socks ("127.0.0.1", port, "127.0.0.1", 9);
  g_autoptr(GError) error = NULL;

  g_assert_false (run_probe (probe, 5000, &error));
  mini_socks_stop (&m);
  g_assert_error (error, PK_ERROR, PK_ERROR_AUTH_FAILED);
}

static void
test_socks_proxy_down (void)
{
  g_autoptr(PkProbe) probe = pk_probe_new_socks ("127.0.0.1", closed_port (), "127.0.0.1", 9);
  g_autoptr(GError) error = NULL;

  g_assert_false (run_probe (probe, 5000, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
}

/* --- HTTP --- */

#ifdef HAVE_LIBSOUP
static void
http_handler (SoupServer        *server,
              SoupServerMessage *msg,
              const char        *path,
              GHashTable        *query,
              gpointer           user_data)
{
  if (g_str_equal (path, "/ok"))
    soup_server_message_set_status (msg, 204, NULL);
  else
    soup_server_message_set_status (msg, 503, NULL);
}

/* An HTTP server on loopback answering /ok with 204 and anything else
 * with 503; returns its base URL. */
static char *
http_server_start (SoupServer **out_server)
{
  SoupServer *server = soup_server_new (NULL, NULL);
  g_autoptr(GError) error = NULL;
  GSList *uris;
  char *base;

  soup_server_add_handler (server, NULL, http_handler, NULL, NULL);
  g_assert_true (soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  g_assert_no_error (error);
  uris = soup_server_get_uris (server);
  base = g_uri_to_string (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  *out_server = server;
  return base;
}

static void
test_http (void)
{
  g_autoptr(SoupServer) server = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *base = http_server_start (&server);
  g_autofree char *ok_url = g_strconcat (base, "ok", NULL);
  g_autofree char *bad_url = g_strconcat (base, "bad", NULL);
  g_autoptr(PkProbe) ok = NULL;
  g_autoptr(PkProbe) bad = NULL;

  ok = pk_probe_new_http (NULL, ok_url);
  g_assert_true (run_probe (ok, 5000, &error));
  g_assert_no_error (error);

  bad = pk_probe_new_http (NULL, bad_url);
  g_assert_false (run_probe (bad, 5000, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CHECK_FAILED);
  g_assert_nonnull (strstr (error->message, "HTTP status 503"));
}

/* The egress is applied to libsoup's socket: through an interface that
 * does not exist, the probe fails naming it. */
static void
test_http_through_egress (void)
{
  g_autoptr(SoupServer) server = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *base = NULL;
  g_autofree char *ok_url = NULL;
  g_autoptr(PkProbe) probe = NULL;
  g_autoptr(PkEgress) nowhere = NULL;

  if (geteuid () != 0)
    {
      g_test_skip ("SO_BINDTODEVICE needs root (CI runs as root)");
      return;
    }
  base = http_server_start (&server);
  ok_url = g_strconcat (base, "ok", NULL);
  nowhere = pk_egress_new_full (NULL, "pk-no-such0", 0, 0, NULL);
  probe = pk_probe_new_http (nowhere, ok_url);
  g_assert_false (run_probe (probe, 5000, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_EGRESS);
  g_assert_nonnull (strstr (error->message, "pk-no-such0"));
}

typedef struct {
  guint hits;
  char *peer;
} HttpSeen;

static void
seen_handler (SoupServer        *server,
              SoupServerMessage *msg,
              const char        *path,
              GHashTable        *query,
              gpointer           user_data)
{
  HttpSeen *seen = user_data;

  seen->hits++;
  g_free (seen->peer);
  seen->peer = g_strdup (soup_server_message_get_remote_host (msg));
  soup_server_message_set_status (msg, 204, NULL);
}

static char *
listen_seen (SoupServer *server,
             HttpSeen   *seen)
{
  g_autoptr(GError) error = NULL;
  GSList *uris;
  char *base;

  soup_server_add_handler (server, NULL, seen_handler, seen, NULL);
  g_assert_true (soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  g_assert_no_error (error);
  uris = soup_server_get_uris (server);
  base = g_uri_to_string (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return base;
}

/* A check of an egress must leave through that egress: an http_proxy in
 * the environment must not take it elsewhere (the proxy would answer for
 * a dead egress). */
static void
test_http_ignores_http_proxy (void)
{
  g_autoptr(SoupServer) origin = soup_server_new (NULL, NULL);
  g_autoptr(SoupServer) proxy = soup_server_new (NULL, NULL);
  HttpSeen at_origin = { 0 }, at_proxy = { 0 };
  g_autofree char *origin_url = listen_seen (origin, &at_origin);
  g_autofree char *proxy_url = listen_seen (proxy, &at_proxy);
  g_autofree char *old_http_proxy = g_strdup (g_getenv ("http_proxy"));
  g_autofree char *old_no_proxy = g_strdup (g_getenv ("no_proxy"));
  g_autoptr(PkProbe) probe = pk_probe_new_http (NULL, origin_url);
  g_autoptr(GError) error = NULL;

  g_setenv ("http_proxy", proxy_url, TRUE);
  g_unsetenv ("no_proxy");
  {
    /* the precondition: this host's default resolver honours http_proxy */
    g_auto(GStrv) proxies = g_proxy_resolver_lookup (g_proxy_resolver_get_default (), origin_url, NULL, NULL);

    if (proxies == NULL || !g_str_has_prefix (proxies[0], proxy_url))
      {
        g_test_skip ("the default proxy resolver ignores http_proxy here (no libproxy?)");
        goto out;
      }
  }

  g_assert_true (run_probe (probe, 5000, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (at_origin.hits, ==, 1);
  g_assert_cmpuint (at_proxy.hits, ==, 0);

out:
  if (old_http_proxy != NULL)
    g_setenv ("http_proxy", old_http_proxy, TRUE);
  else
    g_unsetenv ("http_proxy");
  if (old_no_proxy != NULL)
    g_setenv ("no_proxy", old_no_proxy, TRUE);
  g_free (at_origin.peer);
  g_free (at_proxy.peer);
}

/* The egress's source address is where the request comes from (and
 * setting it makes no GObject warning: tests make warnings fatal). */
static void
test_http_source_address (void)
{
  g_autoptr(SoupServer) origin = soup_server_new (NULL, NULL);
  HttpSeen at_origin = { 0 };
  g_autofree char *origin_url = listen_seen (origin, &at_origin);
  g_autoptr(PkEgress) egress = pk_egress_new_full ("127.0.0.2", NULL, 0, 0, NULL);
  g_autoptr(PkProbe) probe = pk_probe_new_http (egress, origin_url);
  g_autoptr(GError) error = NULL;

  g_assert_true (run_probe (probe, 5000, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (at_origin.hits, ==, 1);
  g_assert_cmpstr (at_origin.peer, ==, "127.0.0.2");
  g_free (at_origin.peer);
}
#endif

/* --- retries and the startup check --- */

typedef struct {
  GSocket *socket;
  guint failures;
  guint listen_after;
} Opener;

static void
open_after_failures (PkProbe *probe, gboolean ok, guint64 latency, const char *reason, Opener *o)
{
  if (!ok && ++o->failures == o->listen_after)
    g_assert_true (g_socket_listen (o->socket, NULL));
}

static void
test_retries_pass_on_third_try (void)
{
  g_autoptr(GSocket) s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, 0, NULL);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) local = NULL;
  g_autoptr(PkProbe) probe = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  Opener o = { 0 };
  guint tries = 0;

  /* bound but not listening: refused until the second failure opens it */
  g_assert_true (g_socket_bind (s, any, FALSE, NULL));
  local = g_socket_get_local_address (s, NULL);
  o.socket = s;
  o.listen_after = 2;
  probe = pk_probe_new_tcp_connect (NULL, "127.0.0.1",
                                    g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local)));
  g_signal_connect (probe, "completed", G_CALLBACK (open_after_failures), &o);

  pk_probe_run_with_retries_async (probe, 5, 10, 2000, NULL, pk_test_store_result, &result);
  pk_test_wait_result (&result, 20000);
  g_assert_true (pk_probe_run_with_retries_finish (probe, result, &tries, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (tries, ==, 3);
  g_assert_cmpuint (o.failures, ==, 2);
}

static void
count_completed (PkProbe *probe, gboolean ok, guint64 latency, const char *reason, guint *n)
{
  (*n)++;
}

static void
test_startup_check_fails_all_tries (void)
{
  g_autofree char *target = g_strdup_printf ("127.0.0.1:%u", closed_port ());
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  pk_startup_check_async (NULL, target, 5, 5, 1000, NULL, pk_test_store_result, &result);
  pk_test_wait_result (&result, 20000);
  g_assert_false (pk_startup_check_finish (result, NULL, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CHECK_FAILED);
  g_assert_nonnull (strstr (error->message, "failed 5 times"));
  g_assert_nonnull (strstr (error->message, target));
}

static void
test_startup_check_passes (void)
{
  g_autoptr(PkTestEchoServer) server = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_STREAM);
  g_autofree char *target = g_strdup_printf ("127.0.0.1:%u", pk_test_echo_server_get_port (server));
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  guint tries = 0;

  pk_startup_check_async (NULL, target, 5, 5, 1000, NULL, pk_test_store_result, &result);
  pk_test_wait_result (&result, 20000);
  g_assert_true (pk_startup_check_finish (result, &tries, &error));
  g_assert_cmpuint (tries, ==, 1);
}

static gboolean
flag_is_nonzero (gpointer data)
{
  return *(guint *) data != 0;
}

static void
test_retries_cancelled_during_delay (void)
{
  g_autoptr(PkProbe) probe = pk_probe_new_tcp_connect (NULL, "127.0.0.1", closed_port ());
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  guint n = 0;

  g_signal_connect (probe, "completed", G_CALLBACK (count_completed), &n);
  /* an hour between tries: only the cancellation can end this */
  pk_probe_run_with_retries_async (probe, 5, 3600 * 1000, 1000, cancellable, pk_test_store_result, &result);
  pk_test_wait_until (flag_is_nonzero, &n, 5000);
  g_cancellable_cancel (cancellable);
  pk_test_wait_result (&result, 5000);
  g_assert_false (pk_probe_run_with_retries_finish (probe, result, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (n, ==, 1);
}

static void
test_startup_check_settings (void)
{
  g_autoptr(PkConfig) config = pk_config_new ();
  const char *env[] = {
    "SOCKS_STARTUP_CHECK_RETRIES=7",
    "SOCKS_STARTUP_RETRY_DELAY=2",
    "SOCKS_STARTUP_CHECK_TARGET=127.0.0.1:9",
    NULL,
  };
  const char *bad_env[] = { "SOCKS_STARTUP_CHECK_RETRIES=many", NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *target = NULL;
  guint tries = 0, delay = 0, timeout = 0;

  pk_config_set_environ (config, env);
  g_assert_true (pk_config_load_data (config, "[startup-check]\ntimeout=45\nretries=3\n", -1, "test.conf", &error));
  g_assert_true (pk_startup_check_get_settings (config, &target, &tries, &delay, &timeout, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (target, ==, "127.0.0.1:9");
  g_assert_cmpuint (tries, ==, 7);       /* the environment wins over the file */
  g_assert_cmpuint (delay, ==, 2000);
  g_assert_cmpuint (timeout, ==, 45000);

  pk_config_set_environ (config, bad_env);
  g_assert_false (pk_startup_check_get_settings (config, NULL, &tries, NULL, NULL, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "SOCKS_STARTUP_CHECK_RETRIES"));
}

static void
test_startup_check_defaults (void)
{
  g_autoptr(PkConfig) config = pk_config_new ();
  const char *env[] = { NULL };
  g_autofree char *target = NULL;
  guint tries = 0, delay = 0, timeout = 0;

  pk_config_set_environ (config, env);
  g_assert_true (pk_startup_check_get_settings (config, &target, &tries, &delay, &timeout, NULL));
  g_assert_cmpstr (target, ==, "1.1.1.1:443");
  g_assert_cmpuint (tries, ==, 5);
  g_assert_cmpuint (delay, ==, 20000);
  g_assert_cmpuint (timeout, ==, 30000);
}

int
main (int argc, char **argv)
{
  pk_test_init (&argc, &argv);

  g_test_add_func ("/probe/tcp-connect", test_tcp_connect);
  g_test_add_func ("/probe/tcp-connect-timeout", test_tcp_connect_timeout);
  g_test_add_func ("/probe/tcp-connect-through-egress", test_tcp_connect_through_egress);
  g_test_add_func ("/probe/process", test_process);
  g_test_add_func ("/probe/interface", test_interface);
  g_test_add_func ("/probe/socks/round-trip", test_socks_round_trip);
  g_test_add_func ("/probe/socks/trickled-answers", test_socks_trickled_answers);
  g_test_add_func ("/probe/socks/refused", test_socks_refused);
  g_test_add_func ("/probe/socks/needs-auth", test_socks_needs_auth);
  g_test_add_func ("/probe/socks/proxy-down", test_socks_proxy_down);
#ifdef HAVE_LIBSOUP
  g_test_add_func ("/probe/http", test_http);
  g_test_add_func ("/probe/http/through-egress", test_http_through_egress);
  g_test_add_func ("/probe/http/ignores-http-proxy", test_http_ignores_http_proxy);
  g_test_add_func ("/probe/http/source-address", test_http_source_address);
#endif
  g_test_add_func ("/probe/retries/pass-on-third-try", test_retries_pass_on_third_try);
  g_test_add_func ("/probe/retries/cancelled-during-delay", test_retries_cancelled_during_delay);
  g_test_add_func ("/startup-check/fails-all-tries", test_startup_check_fails_all_tries);
  g_test_add_func ("/startup-check/passes", test_startup_check_passes);
  g_test_add_func ("/startup-check/settings", test_startup_check_settings);
  g_test_add_func ("/startup-check/defaults", test_startup_check_defaults);

  return g_test_run ();
}
