/* pk-test-utils.c: helpers shared by the tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pk-test-utils.h"

/* The system resolver may send a name off the machine: a test that
 * reaches it fails, naming the name. Names in tests go to an egress's
 * nameservers (pk_test_dns_server_new()), and literals need no resolver. */
typedef GResolver PkTestNoResolver;
typedef GResolverClass PkTestNoResolverClass;
static GType pk_test_no_resolver_get_type (void);
G_DEFINE_TYPE (PkTestNoResolver, pk_test_no_resolver, G_TYPE_RESOLVER)

static GList *
no_resolver_lookup (GResolver     *resolver,
                    const char    *name,
                    GCancellable  *cancellable,
                    GError       **error)
{
  g_critical ("a test resolved '%s' through the system resolver; give the egress "
              "pk_test_dns_server_new()'s address as its nameserver", name);
  g_set_error (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND,
               "no system resolver in tests (%s)", name);
  return NULL;
}

static void
no_resolver_lookup_async (GResolver           *resolver,
                          const char          *name,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (resolver, cancellable, callback, user_data);
  GError *error = NULL;

  no_resolver_lookup (resolver, name, cancellable, &error);
  g_task_return_error (task, error);
}

static GList *
no_resolver_lookup_finish (GResolver     *resolver,
                           GAsyncResult  *result,
                           GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static GList *
no_resolver_lookup_flags (GResolver                 *resolver,
                          const char                *name,
                          GResolverNameLookupFlags   flags,
                          GCancellable              *cancellable,
                          GError                   **error)
{
  return no_resolver_lookup (resolver, name, cancellable, error);
}

static void
no_resolver_lookup_flags_async (GResolver                 *resolver,
                                const char                *name,
                                GResolverNameLookupFlags   flags,
                                GCancellable              *cancellable,
                                GAsyncReadyCallback        callback,
                                gpointer                   user_data)
{
  no_resolver_lookup_async (resolver, name, cancellable, callback, user_data);
}

static void
pk_test_no_resolver_class_init (PkTestNoResolverClass *klass)
{
  klass->lookup_by_name = no_resolver_lookup;
  klass->lookup_by_name_async = no_resolver_lookup_async;
  klass->lookup_by_name_finish = no_resolver_lookup_finish;
  klass->lookup_by_name_with_flags = no_resolver_lookup_flags;
  klass->lookup_by_name_with_flags_async = no_resolver_lookup_flags_async;
  klass->lookup_by_name_with_flags_finish = no_resolver_lookup_finish;
}

static void
pk_test_no_resolver_init (PkTestNoResolver *self)
{
}

void
pk_test_init (int    *argc,
              char ***argv)
{
  g_autoptr(GResolver) no_resolver = NULL;

  g_test_init (argc, argv, NULL);
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
  g_setenv ("GIO_USE_VFS", "local", TRUE);
  no_resolver = g_object_new (pk_test_no_resolver_get_type (), NULL);
  g_resolver_set_default (no_resolver);
}

gboolean
pk_test_enter_new_netns (char **reason)
{
  int status = 0;

  if (geteuid () != 0)
    {
      *reason = g_strdup ("needs root for a network namespace (CI runs as root)");
      return FALSE;
    }
  if (unshare (CLONE_NEWNET) < 0)
    {
      *reason = g_strdup_printf ("unshare(CLONE_NEWNET) failed: %s", g_strerror (errno));
      return FALSE;
    }
  if (!g_spawn_command_line_sync ("ip link set lo up", NULL, NULL, &status, NULL) ||
      !g_spawn_check_wait_status (status, NULL))
    {
      *reason = g_strdup ("'ip link set lo up' failed in the new namespace (is iproute2 installed?)");
      return FALSE;
    }
  return TRUE;
}

void
pk_test_run (const char *format,
             ...)
{
  g_autofree char *cmd = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  int status = 0;
  va_list args;
  const char *argv[] = { "/bin/sh", "-c", NULL, NULL };

  va_start (args, format);
  cmd = g_strdup_vprintf (format, args);
  va_end (args);

  argv[2] = cmd;
  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                     &out, &err, &status, &error))
    g_error ("cannot run '%s': %s", cmd, error->message);
  if (!g_spawn_check_wait_status (status, &error))
    g_error ("'%s' failed: %s\n%s%s", cmd, error->message, out, err);
}

static gboolean
flag_is_set (gpointer data)
{
  return *(gboolean *) data;
}

/* How much slower than a plain build this one runs: from
 * PK_TEST_TIMEOUT_MULTIPLIER (tests/run-all sets it for the sanitizer
 * build), else 3 where AddressSanitizer is compiled in, else 1. */
static double
timeout_multiplier (void)
{
  static double multiplier;

  if (multiplier == 0)
    {
      const char *env = g_getenv ("PK_TEST_TIMEOUT_MULTIPLIER");
      double m = env != NULL ? g_ascii_strtod (env, NULL) : 0;

#if defined(__SANITIZE_ADDRESS__)
      if (m <= 0)
        m = 3;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
      if (m <= 0)
        m = 3;
#endif
#endif
      multiplier = m > 0 ? m : 1;
    }
  return multiplier;
}

guint
pk_test_timeout_ms (guint timeout_ms)
{
  return (guint) MIN ((double) G_MAXUINT, timeout_ms * timeout_multiplier ());
}

void
pk_test_store_result (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  GAsyncResult **out = user_data;

  g_assert_null (*out);
  *out = g_object_ref (result);
}

static gboolean
result_ready (gpointer data)
{
  return *(GAsyncResult **) data != NULL;
}

void
pk_test_wait_result (GAsyncResult **result,
                     guint          timeout_ms)
{
  pk_test_wait_until (result_ready, result, timeout_ms);
}

void
pk_test_wait_for_flag (gboolean *flag,
                       guint     timeout_ms)
{
  pk_test_wait_until (flag_is_set, flag, timeout_ms);
}

void
pk_test_wait_until (gboolean (*cond) (gpointer data),
                    gpointer  data,
                    guint     timeout_ms)
{
  GMainContext *context = g_main_context_get_thread_default ();
  gint64 deadline;

  timeout_ms = pk_test_timeout_ms (timeout_ms);
  deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  if (context == NULL)
    context = g_main_context_default ();

  while (!cond (data))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("condition not met within %u ms", timeout_ms);
      /* Poll with a short cap so that the deadline is seen even when no
       * source becomes ready. */
      if (!g_main_context_iteration (context, FALSE))
        g_usleep (1000);
    }
}

/* --- echo server --- */

/* Each blocking GSocket call with a cancellable asks it for a descriptor
 * to poll, and GLib aborts when it cannot make one. The test servers'
 * threads share one, made when the server is and held until its end, so
 * that a test that uses up the process's descriptors (the accept
 * back-off tests) cannot make a server thread abort. */
static GCancellable *
held_cancellable_new (void)
{
  GCancellable *cancellable = g_cancellable_new ();
  GPollFD pollfd;

  g_assert_true (g_cancellable_make_pollfd (cancellable, &pollfd));
  return cancellable;
}

static void
held_cancellable_free (GCancellable *cancellable)
{
  g_cancellable_release_fd (cancellable);
  g_object_unref (cancellable);
}

struct _PkTestEchoServer
{
  GSocket *listener;
  GSocketType type;
  GThread *thread;
  GCancellable *cancellable;
  GMutex lock;
  char *last_peer;
  guint n_connections;
  GPtrArray *conn_threads;
};

static void
note_peer (PkTestEchoServer *server,
           GSocketAddress   *peer)
{
  GInetSocketAddress *isa = G_INET_SOCKET_ADDRESS (peer);
  g_autofree char *host = g_inet_address_to_string (g_inet_socket_address_get_address (isa));

  g_mutex_lock (&server->lock);
  g_free (server->last_peer);
  server->last_peer = g_steal_pointer (&host);
  server->n_connections++;
  g_mutex_unlock (&server->lock);
}

typedef struct {
  PkTestEchoServer *server;
  GSocket *socket;
} EchoConn;

static gpointer
echo_conn_thread (gpointer user_data)
{
  EchoConn *conn = user_data;
  char buf[65536];

  for (;;)
    {
      gssize n = g_socket_receive (conn->socket, buf, sizeof buf, conn->server->cancellable, NULL);
      gssize off = 0;

      if (n <= 0)
        break;
      while (off < n)
        {
          gssize w = g_socket_send (conn->socket, buf + off, n - off, conn->server->cancellable, NULL);
          if (w <= 0)
            goto out;
          off += w;
        }
    }
  /* EOF from the client: answer it with our own, after everything was
   * echoed, like a well-behaved server. */
  g_socket_shutdown (conn->socket, FALSE, TRUE, NULL);
out:
  g_object_unref (conn->socket);
  g_free (conn);
  return NULL;
}

static gpointer
echo_server_thread (gpointer user_data)
{
  PkTestEchoServer *server = user_data;

  if (server->type == G_SOCKET_TYPE_DATAGRAM)
    {
      char buf[65536];

      for (;;)
        {
          g_autoptr(GSocketAddress) from = NULL;
          gssize n = g_socket_receive_from (server->listener, &from, buf, sizeof buf,
                                            server->cancellable, NULL);
          if (n < 0)
            break;
          note_peer (server, from);
          g_socket_send_to (server->listener, from, buf, n, NULL, NULL);
        }
      return NULL;
    }

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      GSocket *client = g_socket_accept (server->listener, server->cancellable, &error);
      g_autoptr(GSocketAddress) peer = NULL;
      EchoConn *conn;

      if (client == NULL)
        {
          /* GLib tries accept() before it waits, and the kernel takes
           * the new descriptor before it looks for a connection: with the
           * process's descriptors used up by a test, this fails even
           * with nothing to accept. Wait, as a server would. */
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES))
            {
              g_usleep (10000);
              continue;
            }
          break;
        }
      peer = g_socket_get_remote_address (client, NULL);
      if (peer != NULL)
        note_peer (server, peer);
      conn = g_new0 (EchoConn, 1);
      conn->server = server;
      conn->socket = client;
      g_ptr_array_add (server->conn_threads, g_thread_new ("echo-conn", echo_conn_thread, conn));
    }
  return NULL;
}

PkTestEchoServer *
pk_test_echo_server_new (const char  *address,
                         GSocketType  type)
{
  PkTestEchoServer *server = g_new0 (PkTestEchoServer, 1);
  g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (address);
  g_autoptr(GSocketAddress) bind_addr = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (inet);
  g_mutex_init (&server->lock);
  server->type = type;
  server->cancellable = held_cancellable_new ();
  server->conn_threads = g_ptr_array_new ();
  server->listener = g_socket_new (g_inet_address_get_family (inet), type,
                                   G_SOCKET_PROTOCOL_DEFAULT, &error);
  g_assert_no_error (error);
  bind_addr = g_inet_socket_address_new (inet, 0);
  g_socket_bind (server->listener, bind_addr, TRUE, &error);
  g_assert_no_error (error);
  if (type == G_SOCKET_TYPE_STREAM)
    {
      g_socket_set_listen_backlog (server->listener, 512);
      g_socket_listen (server->listener, &error);
      g_assert_no_error (error);
    }
  else
    {
      /* Room for a burst that a relay forwards faster than this thread
       * answers (the kernel caps it at net.core.rmem_max). */
      int size = 1 << 20;

      (void) setsockopt (g_socket_get_fd (server->listener), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
  server->thread = g_thread_new ("echo-server", echo_server_thread, server);
  return server;
}

/* --- expected warnings --- */

static GMutex expected_lock;
static GString *expected_warnings;
static const char *expected_needle;

static GLogWriterOutput
expected_warning_writer (GLogLevelFlags   level,
                         const GLogField *fields,
                         gsize            n_fields,
                         gpointer         data)
{
  if (level & G_LOG_LEVEL_WARNING)
    for (gsize i = 0; i < n_fields; i++)
      if (g_str_equal (fields[i].key, "MESSAGE") && fields[i].length < 0 &&
          strstr (fields[i].value, expected_needle) != NULL)
        {
          g_mutex_lock (&expected_lock);
          g_string_append_printf (expected_warnings, "%s\n", (const char *) fields[i].value);
          g_mutex_unlock (&expected_lock);
          return G_LOG_WRITER_HANDLED;
        }
  return g_log_writer_default (level, fields, n_fields, data);
}

void
pk_test_expect_warnings (const char *needle)
{
  expected_needle = needle;
  expected_warnings = g_string_new (NULL);
  g_log_set_writer_func (expected_warning_writer, NULL, NULL);
}

char *
pk_test_take_expected_warnings (void)
{
  char *text;

  g_mutex_lock (&expected_lock);
  text = g_strdup (expected_warnings->str);
  g_string_truncate (expected_warnings, 0);
  g_mutex_unlock (&expected_lock);
  return text;
}

guint
pk_test_count_expected_warnings (void)
{
  guint n = 0;

  g_mutex_lock (&expected_lock);
  for (const char *p = expected_warnings->str; (p = strchr (p, '\n')) != NULL; p++)
    n++;
  g_mutex_unlock (&expected_lock);
  return n;
}

/* --- a loopback nameserver --- */

struct _PkTestDnsServer {
  GSocket *socket;
  GCancellable *cancellable;
  GThread *thread;
  guint n_queries;          /* atomic */
};

static gsize
dns_answer (const guint8 *query,
            gsize         len,
            guint8       *out,
            gsize         room)
{
  g_autoptr(GString) name = g_string_new (NULL);
  gsize off = 12, question_end;
  guint16 qtype;
  gboolean known;
  gsize n;

  if (len < 17 || room < 600)
    return 0;
  while (off < len && query[off] != 0)
    {
      if (off + 1 + query[off] > len)
        return 0;
      if (name->len > 0)
        g_string_append_c (name, '.');
      g_string_append_len (name, (const char *) query + off + 1, query[off]);
      off += 1 + query[off];
    }
  question_end = off + 5;
  if (question_end > len || question_end - 12 > 400)
    return 0;
  qtype = (query[off + 1] << 8) | query[off + 2];
  known = g_str_has_suffix (name->str, ".farm.test");

  memcpy (out, query, 2);                           /* id */
  out[2] = 0x81;                                    /* answer, RD */
  out[3] = known ? 0x80 : 0x83;                     /* RA; NOERROR or NXDOMAIN */
  out[4] = 0; out[5] = 1;                           /* one question */
  out[6] = 0; out[7] = known && qtype == 1;         /* answers */
  memset (out + 8, 0, 4);
  memcpy (out + 12, query + 12, question_end - 12);
  n = question_end;
  if (known && qtype == 1)
    {
      static const guint8 a_record[] = {
        0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1
      };

      memcpy (out + n, a_record, sizeof a_record);
      n += sizeof a_record;
    }
  return n;
}

static gpointer
dns_server_thread (gpointer data)
{
  PkTestDnsServer *server = data;
  guint8 query[512];
  guint8 answer[600];

  for (;;)
    {
      g_autoptr(GSocketAddress) from = NULL;
      gssize n = g_socket_receive_from (server->socket, &from, (char *) query, sizeof query,
                                        server->cancellable, NULL);
      gsize len;

      if (n < 0)
        break;
      g_atomic_int_inc (&server->n_queries);
      len = dns_answer (query, n, answer, sizeof answer);
      if (len > 0)
        g_socket_send_to (server->socket, from, (const char *) answer, len, NULL, NULL);
    }
  return NULL;
}

PkTestDnsServer *
pk_test_dns_server_new (void)
{
  PkTestDnsServer *server = g_new0 (PkTestDnsServer, 1);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new (lo, 0);
  g_autoptr(GError) error = NULL;

  server->cancellable = held_cancellable_new ();
  server->socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                                 G_SOCKET_PROTOCOL_DEFAULT, &error);
  g_assert_no_error (error);
  g_socket_bind (server->socket, addr, FALSE, &error);
  g_assert_no_error (error);
  server->thread = g_thread_new ("dns-server", dns_server_thread, server);
  return server;
}

char *
pk_test_dns_server_dup_address (PkTestDnsServer *server)
{
  g_autoptr(GSocketAddress) addr = g_socket_get_local_address (server->socket, NULL);

  return g_strdup_printf ("127.0.0.1:%u", g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (addr)));
}

guint
pk_test_dns_server_get_n_queries (PkTestDnsServer *server)
{
  return g_atomic_int_get (&server->n_queries);
}

void
pk_test_dns_server_free (PkTestDnsServer *server)
{
  g_cancellable_cancel (server->cancellable);
  g_thread_join (server->thread);
  g_socket_close (server->socket, NULL);
  g_object_unref (server->socket);
  held_cancellable_free (server->cancellable);
  g_free (server);
}

GSocketAddress *
pk_test_echo_server_get_address (PkTestEchoServer *server)
{
  return g_socket_get_local_address (server->listener, NULL);
}

guint16
pk_test_echo_server_get_port (PkTestEchoServer *server)
{
  g_autoptr(GSocketAddress) addr = pk_test_echo_server_get_address (server);

  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (addr));
}

char *
pk_test_echo_server_dup_last_peer (PkTestEchoServer *server)
{
  char *peer;

  g_mutex_lock (&server->lock);
  peer = g_strdup (server->last_peer);
  g_mutex_unlock (&server->lock);
  return peer;
}

guint
pk_test_echo_server_get_n_connections (PkTestEchoServer *server)
{
  guint n;

  g_mutex_lock (&server->lock);
  n = server->n_connections;
  g_mutex_unlock (&server->lock);
  return n;
}

void
pk_test_echo_server_free (PkTestEchoServer *server)
{
  g_cancellable_cancel (server->cancellable);
  g_thread_join (server->thread);
  for (guint i = 0; i < server->conn_threads->len; i++)
    g_thread_join (g_ptr_array_index (server->conn_threads, i));
  g_ptr_array_unref (server->conn_threads);
  g_socket_close (server->listener, NULL);
  g_object_unref (server->listener);
  held_cancellable_free (server->cancellable);
  g_free (server->last_peer);
  g_mutex_clear (&server->lock);
  g_free (server);
}

GSocket *
pk_test_blackhole_listener_new (guint16 *port)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  GSocket *listener = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                    G_SOCKET_PROTOCOL_DEFAULT, &error);

  g_assert_no_error (error);
  g_socket_bind (listener, addr, TRUE, &error);
  g_assert_no_error (error);
  g_socket_set_listen_backlog (listener, 0);
  g_socket_listen (listener, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (listener, NULL);
  *port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));

  /* Fill the accept queue (backlog 0 admits one, plus the SYN queue):
   * further connects then get no SYN-ACK and hang until their timeout. */
  for (int i = 0; i < 4; i++)
    {
      static const char * const keys[] = { "filler-0", "filler-1", "filler-2", "filler-3" };
      GSocket *filler = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                      G_SOCKET_PROTOCOL_DEFAULT, NULL);
      g_socket_set_blocking (filler, FALSE);
      g_socket_connect (filler, bound, NULL, NULL);
      g_object_set_data_full (G_OBJECT (listener), keys[i], filler,
                              g_object_unref);
    }
  g_usleep (50000);
  return listener;
}

GSocket *
pk_test_connect_tcp (GSocketAddress *address)
{
  g_autoptr(GError) error = NULL;
  GSocket *socket = g_socket_new (g_socket_address_get_family (address), G_SOCKET_TYPE_STREAM,
                                  G_SOCKET_PROTOCOL_DEFAULT, &error);

  g_assert_no_error (error);
  g_socket_set_timeout (socket, 10);
  g_socket_connect (socket, address, NULL, &error);
  g_assert_no_error (error);
  return socket;
}

void
pk_test_send_all (GSocket    *socket,
                  const void *data,
                  gsize       len)
{
  gsize off = 0;

  while (off < len)
    {
      g_autoptr(GError) error = NULL;
      gssize n = g_socket_send (socket, (const char *) data + off, len - off, NULL, &error);

      g_assert_no_error (error);
      g_assert_cmpint (n, >, 0);
      off += n;
    }
}

void
pk_test_recv_exact (GSocket *socket,
                    void    *buf,
                    gsize    len,
                    guint    timeout_ms)
{
  gsize off = 0;
  gint64 deadline;

  timeout_ms = pk_test_timeout_ms (timeout_ms);
  deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  while (off < len)
    {
      g_autoptr(GError) error = NULL;
      gssize n;
      gint64 left = (deadline - g_get_monotonic_time ()) / 1000;

      if (left <= 0)
        g_error ("timed out after %u ms with %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " bytes",
                 timeout_ms, off, len);
      if (!g_socket_condition_timed_wait (socket, G_IO_IN, left * 1000, NULL, &error))
        continue;
      n = g_socket_receive (socket, (char *) buf + off, len - off, NULL, &error);
      g_assert_no_error (error);
      if (n == 0)
        g_error ("EOF after %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " bytes", off, len);
      off += n;
    }
}

gboolean
pk_test_wait_eof (GSocket *socket,
                  guint    timeout_ms)
{
  char c;
  g_autoptr(GError) error = NULL;

  if (!g_socket_condition_timed_wait (socket, G_IO_IN,
                                      (gint64) pk_test_timeout_ms (timeout_ms) * 1000, NULL, &error))
    return FALSE;
  /* A reset counts as closed too. */
  return g_socket_receive (socket, &c, 1, NULL, NULL) <= 0;
}

char *
pk_test_build_path (const char *relative)
{
  const char *builddir = g_getenv ("PK_BUILDDIR");

  g_assert_nonnull (builddir);
  return g_build_filename (builddir, relative, NULL);
}
