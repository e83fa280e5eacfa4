/* socks-test-fixture.h: a PkSocksServer in its own thread, and a raw
 * SOCKS5 client, for the tests of the SOCKS server (loopback and netns)
 *
 * The server runs in its own thread (its own main context), so that the
 * tests can use blocking clients.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <proxykit/proxykit.h>

#include "pk-test-utils.h"

/* Not every test program uses every helper. */
#pragma GCC diagnostic ignored "-Wunused-function"

typedef struct {
  PkTestEchoServer *echo;
  PkSocksServer *server;
  GMainContext *context;
  GMainLoop *loop;
  GThread *thread;
  GSocketAddress *proxy;
  guint16 port;
  char *tmpdir;
} Fixture;

static gpointer
server_thread (gpointer data)
{
  Fixture *f = data;

  g_main_context_push_thread_default (f->context);
  g_main_loop_run (f->loop);
  g_main_context_pop_thread_default (f->context);
  return NULL;
}

typedef struct {
  GSourceFunc func;
  gpointer data;
  gboolean done;
  GMutex lock;
  GCond cond;
} Call;

static gboolean
call_in_thread_cb (gpointer data)
{
  Call *call = data;

  call->func (call->data);
  g_mutex_lock (&call->lock);
  call->done = TRUE;
  g_cond_signal (&call->cond);
  g_mutex_unlock (&call->lock);
  return G_SOURCE_REMOVE;
}

/* Runs func in the server's thread and waits for it. */
static void
call_in_server (Fixture     *f,
                GSourceFunc  func,
                gpointer     data)
{
  Call call = { func, data, FALSE };

  g_mutex_init (&call.lock);
  g_cond_init (&call.cond);
  g_main_context_invoke (f->context, call_in_thread_cb, &call);
  g_mutex_lock (&call.lock);
  while (!call.done)
    g_cond_wait (&call.cond, &call.lock);
  g_mutex_unlock (&call.lock);
  g_mutex_clear (&call.lock);
  g_cond_clear (&call.cond);
}

typedef struct {
  Fixture *f;
  const char *address;
  GError *error;
} ListenData;

static gboolean
listen_cb (gpointer data)
{
  ListenData *ld = data;

  pk_socks_server_listen (ld->f->server, ld->address, &ld->error);
  return G_SOURCE_REMOVE;
}

static void call_in_server (Fixture *f, GSourceFunc func, gpointer data);

/* Listening sockets belong to the server's thread, like its sessions. */
static void
listen_on (Fixture    *f,
           const char *address)
{
  ListenData ld = { f, address, NULL };
  g_autoptr(GInetAddress) lo = NULL;

  call_in_server (f, listen_cb, &ld);
  g_assert_no_error (ld.error);

  f->port = pk_socks_server_get_port (f->server);
  g_assert_cmpuint (f->port, >, 0);
  lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_clear_object (&f->proxy);
  f->proxy = g_inet_socket_address_new (lo, f->port);
}

static void
setup (Fixture       *f,
       gconstpointer  data)
{
  f->echo = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_STREAM);
  f->server = pk_socks_server_new ();
  f->context = g_main_context_new ();
  f->loop = g_main_loop_new (f->context, FALSE);
  f->thread = g_thread_new ("socks-server", server_thread, f);
  f->tmpdir = g_dir_make_tmp ("test-socks-server-XXXXXX", NULL);
  g_assert_nonnull (f->tmpdir);

  if (data == NULL)
    listen_on (f, "127.0.0.1:0");
}

static gboolean
close_server_cb (gpointer data)
{
  pk_socks_server_close (data);
  return G_SOURCE_REMOVE;
}

static gboolean
no_sessions (gpointer data)
{
  return pk_socks_server_get_sessions_active (data) == 0;
}

static void
teardown (Fixture       *f,
          gconstpointer  data)
{
  g_autofree char *cmd = NULL;

  call_in_server (f, close_server_cb, f->server);
  pk_test_wait_until (no_sessions, f->server, 10000);
  /* Let sessions that held no slot (refused ones) finish closing too. */
  g_usleep (50000);
  g_main_loop_quit (f->loop);
  g_thread_join (f->thread);
  while (g_main_context_iteration (f->context, FALSE))
    ;
  g_clear_object (&f->server);
  g_main_loop_unref (f->loop);
  g_main_context_unref (f->context);
  g_clear_object (&f->proxy);
  pk_test_echo_server_free (f->echo);
  cmd = g_strdup_printf ("rm -rf '%s'", f->tmpdir);
  g_assert_cmpint (system (cmd), ==, 0);
  g_free (f->tmpdir);
}

/* --- raw protocol helpers --- */

static GSocket *
proxy_connect (Fixture *f)
{
  return pk_test_connect_tcp (f->proxy);
}

static guint8
greet (GSocket      *sock,
       const guint8 *methods,
       gsize         n_methods)
{
  guint8 msg[16] = { 5, n_methods };
  guint8 reply[2];

  memcpy (msg + 2, methods, n_methods);
  pk_test_send_all (sock, msg, 2 + n_methods);
  pk_test_recv_exact (sock, reply, 2, 5000);
  g_assert_cmpuint (reply[0], ==, 5);
  return reply[1];
}

static guint8
auth (GSocket    *sock,
      const char *user,
      const char *password)
{
  guint8 msg[600];
  gsize ulen = strlen (user), plen = strlen (password);
  guint8 reply[2];

  msg[0] = 1;
  msg[1] = ulen;
  memcpy (msg + 2, user, ulen);
  msg[2 + ulen] = plen;
  memcpy (msg + 3 + ulen, password, plen);
  pk_test_send_all (sock, msg, 3 + ulen + plen);
  pk_test_recv_exact (sock, reply, 2, 5000);
  g_assert_cmpuint (reply[0], ==, 1);
  return reply[1];
}

/* Sends a request to an IPv4 destination (or the raw atyp given) and
 * returns the reply code; *bound_port gets BND.PORT. */
static guint8
request_full (GSocket      *sock,
              guint8        command,
              guint8        atyp,
              const guint8 *addr,
              gsize         addr_len,
              guint16       port,
              guint16      *bound_port,
              guint8       *bound_addr)
{
  guint8 msg[300] = { 5, command, 0, atyp };
  guint8 reply[4 + 16 + 2];
  gsize len = 4;

  memcpy (msg + len, addr, addr_len);
  len += addr_len;
  msg[len++] = port >> 8;
  msg[len++] = port & 0xff;
  pk_test_send_all (sock, msg, len);

  pk_test_recv_exact (sock, reply, 4, 10000);
  g_assert_cmpuint (reply[0], ==, 5);
  g_assert_cmpuint (reply[2], ==, 0);
  if (reply[3] == 1)
    {
      pk_test_recv_exact (sock, reply + 4, 6, 5000);
      if (bound_addr != NULL)
        memcpy (bound_addr, reply + 4, 4);
      if (bound_port != NULL)
        *bound_port = (reply[8] << 8) | reply[9];
    }
  else if (reply[3] == 4)
    {
      pk_test_recv_exact (sock, reply + 4, 18, 5000);
      if (bound_port != NULL)
        *bound_port = (reply[20] << 8) | reply[21];
    }
  else
    g_assert_not_reached ();
  return reply[1];
}

static guint8
request_ipv4 (GSocket    *sock,
              guint8      command,
              const char *ip,
              guint16     port)
{
  g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (ip);

  return request_full (sock, command, 1, g_inet_address_to_bytes (inet), 4, port, NULL, NULL);
}

/* A new no-auth connection to the proxy with a CONNECT to ip:port;
 * returns the reply code, and the socket in *out if wanted. */
static guint8
connect_via_proxy (Fixture     *f,
                   const char  *ip,
                   guint16      port,
                   GSocket    **out)
{
  g_autoptr(GSocket) sock = pk_test_connect_tcp (f->proxy);
  guint8 rep;

  g_assert_cmpuint (greet (sock, (const guint8 *) "\0", 1), ==, 0);
  rep = request_ipv4 (sock, 1, ip, port);
  if (out != NULL)
    *out = g_steal_pointer (&sock);
  return rep;
}

/* Expected warnings: see pk_test_expect_warnings(). */
#define expect_warnings pk_test_expect_warnings
#define take_expected_warnings pk_test_take_expected_warnings
#define count_expected_warnings pk_test_count_expected_warnings
