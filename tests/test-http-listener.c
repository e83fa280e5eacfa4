/* test-http-listener.c: the listening socket of the HTTP servers: idle
 * timeout, connection cap, backlog, and accepting again after EMFILE
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <sys/resource.h>

#include <libsoup/soup.h>

#include "pk-http-listener-private.h"
#include "pk-test-utils.h"

typedef struct {
  SoupServer *server;
  PkHttpListener *listener;
  GSocketAddress *address;
} Fixture;

static gboolean
answer_later (gpointer data)
{
  SoupServerMessage *msg = data;

  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_STATIC, "ok\n", 3);
  soup_server_message_unpause (msg);
  g_object_unref (msg);
  return G_SOURCE_REMOVE;
}

/* /slow answers after 300 ms, longer than the idle timeout of the tests:
 * a handler at work is not idleness. */
static void
handler (SoupServer        *server,
         SoupServerMessage *msg,
         const char        *path,
         GHashTable        *query,
         gpointer           data)
{
  if (g_str_equal (path, "/slow"))
    {
      soup_server_message_pause (msg);
      g_timeout_add (300, answer_later, g_object_ref (msg));
      return;
    }
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_STATIC, "ok\n", 3);
}

static void
start (Fixture      *f,
       PkHttpLimits *limits)
{
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GError) error = NULL;

  f->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (f->server, NULL, handler, NULL, NULL);
  f->listener = pk_http_listener_new (f->server, any, limits, &error);
  g_assert_no_error (error);
  f->address = g_inet_socket_address_new (lo, pk_http_listener_get_port (f->listener));
}

static void
teardown (Fixture       *f,
          gconstpointer  data)
{
  g_clear_pointer (&f->listener, pk_http_listener_free);
  soup_server_disconnect (f->server);
  g_clear_object (&f->server);
  g_clear_object (&f->address);
}

static GSocket *
connect_client (Fixture *f)
{
  GSocket *s = pk_test_connect_tcp (f->address);

  g_socket_set_blocking (s, FALSE);
  return s;
}

typedef struct {
  GSocket *socket;
  GString *got;
  gboolean eof;
} Reader;

/* Reads what has come, without blocking the server in this thread. */
static gboolean
reader_done (gpointer data)
{
  Reader *r = data;
  char buf[1024];
  gssize n;

  while ((n = g_socket_receive (r->socket, buf, sizeof buf, NULL, NULL)) > 0)
    g_string_append_len (r->got, buf, n);
  if (n == 0)
    r->eof = TRUE;
  return r->eof || strstr (r->got->str, "\r\n\r\nok\n") != NULL;
}

/* Waits for an answer or for the end of the stream; returns what came. */
static char *
read_reply (GSocket *socket,
            gboolean *eof)
{
  Reader r = { socket, g_string_new (NULL), FALSE };

  pk_test_wait_until (reader_done, &r, 10000);
  *eof = r.eof;
  return g_string_free (r.got, FALSE);
}

static void
get (GSocket    *socket,
     const char *path)
{
  g_autofree char *req = g_strdup_printf ("GET %s HTTP/1.1\r\nHost: test\r\n\r\n", path);

  g_socket_set_blocking (socket, TRUE);
  pk_test_send_all (socket, req, strlen (req));
  g_socket_set_blocking (socket, FALSE);
}

static void
assert_closed (GSocket *socket)
{
  gboolean eof = FALSE;
  g_autofree char *got = read_reply (socket, &eof);

  g_assert_true (eof);
  g_assert_cmpstr (got, ==, "");
}

static void
assert_ok (GSocket *socket)
{
  gboolean eof = FALSE;
  g_autofree char *got = read_reply (socket, &eof);

  g_assert_true (g_str_has_prefix (got, "HTTP/1.1 200"));
}

static void
test_idle_timeout (Fixture       *f,
                   gconstpointer  data)
{
  PkHttpLimits limits = { .idle_timeout_ms = 100, .max_connections = 0, .backlog = 16 };
  g_autoptr(GSocket) silent = NULL;
  g_autoptr(GSocket) slowloris = NULL;
  g_autoptr(GSocket) keepalive = NULL;
  const char *partial = "GET / HTTP/1.1\r\nHost: te";

  start (f, &limits);
  silent = connect_client (f);
  slowloris = connect_client (f);
  keepalive = connect_client (f);

  g_socket_set_blocking (slowloris, TRUE);
  pk_test_send_all (slowloris, partial, strlen (partial));
  g_socket_set_blocking (slowloris, FALSE);

  /* A slow handler's time does not count; after its answer the
   * connection waits for the next request, and that time does. */
  get (keepalive, "/slow");
  assert_ok (keepalive);

  assert_closed (silent);
  assert_closed (slowloris);
  assert_closed (keepalive);
}

static gboolean
has_connections (gpointer data)
{
  Fixture *f = ((gpointer *) data)[0];
  guint want = GPOINTER_TO_UINT (((gpointer *) data)[1]);

  return pk_http_listener_get_n_connections (f->listener) == want;
}

static void
wait_connections (Fixture *f,
                  guint    n)
{
  gpointer args[] = { f, GUINT_TO_POINTER (n) };

  pk_test_wait_until (has_connections, args, 10000);
}

static void
test_connection_cap (Fixture       *f,
                     gconstpointer  data)
{
  PkHttpLimits limits = { .idle_timeout_ms = 0, .max_connections = 2, .backlog = 16 };
  g_autoptr(GSocket) a = NULL;
  g_autoptr(GSocket) b = NULL;
  g_autoptr(GSocket) over = NULL;
  g_autoptr(GSocket) later = NULL;

  start (f, &limits);
  a = connect_client (f);
  b = connect_client (f);
  wait_connections (f, 2);

  over = connect_client (f);
  assert_closed (over);
  g_assert_cmpuint (pk_http_listener_get_refused (f->listener), ==, 1);
  {
    g_autofree char *warnings = pk_test_take_expected_warnings ();
    g_assert_nonnull (strstr (warnings, "too many connections at once"));
  }

  g_socket_close (a, NULL);
  wait_connections (f, 1);
  later = connect_client (f);
  get (later, "/");
  assert_ok (later);
}

static void
test_backlog (Fixture       *f,
              gconstpointer  data)
{
  g_autofree char *out = NULL;
  g_autofree char *cmd = NULL;
  g_autofree char *ss = g_find_program_in_path ("ss");
  g_auto(GStrv) fields = NULL;
  int status;

  start (f, NULL);
  if (ss == NULL)
    {
      g_test_skip ("no ss (iproute2) to read the backlog");
      return;
    }
  cmd = g_strdup_printf ("ss -Hltn 'sport = :%u'", pk_http_listener_get_port (f->listener));
  g_assert_true (g_spawn_command_line_sync (cmd, &out, NULL, &status, NULL));
  /* State Recv-Q Send-Q Local Peer: a listener's Send-Q is its backlog. */
  fields = g_regex_split_simple ("\\s+", g_strstrip (out), 0, 0);
  g_assert_cmpuint (g_strv_length (fields), >=, 3);
  g_assert_cmpstr (fields[2], ==, G_STRINGIFY (PK_HTTP_DEFAULT_BACKLOG));
}

static gboolean
has_accept_error (gpointer data)
{
  return pk_http_listener_get_accept_errors (data) > 0;
}

/* After an EMFILE the server accepts again once descriptors are free:
 * libsoup's own loop stops for good. */
static void
test_accept_error_recovery (Fixture       *f,
                            gconstpointer  data)
{
  PkHttpLimits limits = { .idle_timeout_ms = 0, .max_connections = 0, .backlog = 16 };
  g_autoptr(GSocket) client = NULL;
  g_autoptr(GArray) fillers = g_array_new (FALSE, FALSE, sizeof (int));
  struct rlimit saved, low;
  int fd;

  start (f, &limits);
  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &saved), ==, 0);
  low = saved;
  low.rlim_cur = MIN (saved.rlim_cur, 4096);
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &low), ==, 0);
  /* The client's socket made, then every descriptor taken: the server's
   * accept fails with EMFILE. (Freeing one for the client's socket would
   * race with any other thread of the process.) */
  client = g_socket_new (g_socket_address_get_family (f->address), G_SOCKET_TYPE_STREAM,
                         G_SOCKET_PROTOCOL_DEFAULT, NULL);
  g_assert_nonnull (client);
  while ((fd = dup (0)) >= 0)
    g_array_append_val (fillers, fd);
  g_assert_cmpint (errno, ==, EMFILE);
  g_assert_true (g_socket_connect (client, f->address, NULL, NULL));
  g_socket_set_blocking (client, FALSE);
  pk_test_wait_until (has_accept_error, f->listener, 10000);

  for (guint i = 0; i < fillers->len; i++)
    close (g_array_index (fillers, int, i));
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &saved), ==, 0);

  wait_connections (f, 1);
  get (client, "/");
  assert_ok (client);
  {
    g_autofree char *warnings = pk_test_take_expected_warnings ();
    g_assert_nonnull (strstr (warnings, "cannot accept"));
  }
}

int
main (int    argc,
      char **argv)
{
  pk_test_init (&argc, &argv);
  /* Refusals over the cap and accept errors are warnings, as they should. */
  pk_test_expect_warnings ("HTTP server on port");

#define ADD(path, fn) g_test_add (path, Fixture, NULL, NULL, fn, teardown)
  ADD ("/http-listener/idle-timeout", test_idle_timeout);
  ADD ("/http-listener/connection-cap", test_connection_cap);
  ADD ("/http-listener/backlog", test_backlog);
  ADD ("/http-listener/accept-error-recovery", test_accept_error_recovery);
#undef ADD

  return g_test_run ();
}
