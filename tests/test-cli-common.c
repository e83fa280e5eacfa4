/* test-cli-common.c: the helpers every tool shares
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "pk-cli-common.h"
#include "pk-test-utils.h"

static GSocket *
notify_socket_new (char **path)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("pk-notify-XXXXXX", &error);
  g_autoptr(GSocketAddress) addr = NULL;
  GSocket *socket;

  g_assert_no_error (error);
  *path = g_build_filename (dir, "notify", NULL);
  addr = g_unix_socket_address_new (*path);
  socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_DATAGRAM, 0, &error);
  g_assert_no_error (error);
  g_socket_bind (socket, addr, FALSE, &error);
  g_assert_no_error (error);
  g_socket_set_timeout (socket, 5);
  return socket;
}

static char *
receive_state (GSocket *socket)
{
  char buf[256];
  g_autoptr(GError) error = NULL;
  gssize n = g_socket_receive (socket, buf, sizeof buf - 1, NULL, &error);

  g_assert_no_error (error);
  buf[n] = '\0';
  return g_strdup (buf);
}

static void
test_sd_notify (void)
{
  g_autofree char *path = NULL;
  g_autoptr(GSocket) socket = notify_socket_new (&path);
  g_autofree char *state1 = NULL;
  g_autofree char *state2 = NULL;

  g_unsetenv ("NOTIFY_SOCKET");
  g_assert_false (pk_cli_sd_notify ("READY=1"));

  g_setenv ("NOTIFY_SOCKET", path, TRUE);
  g_assert_true (pk_cli_sd_notify ("READY=1"));
  state1 = receive_state (socket);
  g_assert_cmpstr (state1, ==, "READY=1");

  g_assert_true (pk_cli_sd_notifyf ("STATUS=serving %d listeners", 3));
  state2 = receive_state (socket);
  g_assert_cmpstr (state2, ==, "STATUS=serving 3 listeners");

  g_unsetenv ("NOTIFY_SOCKET");
  g_unlink (path);
}

static gboolean
healthy (gpointer data)
{
  return *(gboolean *) data;
}

static void
test_sd_watchdog (void)
{
  g_autofree char *path = NULL;
  g_autoptr(GSocket) socket = notify_socket_new (&path);
  g_autofree char *pid = g_strdup_printf ("%d", getpid ());
  g_autofree char *state = NULL;
  gboolean ok = TRUE;
  gboolean got = FALSE;
  g_autoptr(GMainContext) context = g_main_context_new ();

  g_main_context_push_thread_default (context);
  g_setenv ("NOTIFY_SOCKET", path, TRUE);

  /* another process's watchdog: no pings from us */
  g_setenv ("WATCHDOG_USEC", "100000", TRUE);
  g_setenv ("WATCHDOG_PID", "1", TRUE);
  g_assert_cmpuint (pk_cli_sd_watchdog_start (healthy, &ok), ==, 0);

  g_setenv ("WATCHDOG_PID", pid, TRUE);
  g_assert_cmpuint (pk_cli_sd_watchdog_start (healthy, &ok), ==, 100000);

  while (!got)
    {
      g_main_context_iteration (context, TRUE);
      got = g_socket_condition_check (socket, G_IO_IN) != 0;
    }
  state = receive_state (socket);
  g_assert_cmpstr (state, ==, "WATCHDOG=1");

  g_unsetenv ("NOTIFY_SOCKET");
  g_unsetenv ("WATCHDOG_USEC");
  g_unsetenv ("WATCHDOG_PID");
  g_main_context_pop_thread_default (context);
  g_unlink (path);
}

static void
test_parse_value (void)
{
  g_autoptr(GError) error = NULL;
  guint64 v = 0;

  g_assert_true (pk_cli_parse_value (TRUE, "2m", 0, 0, &v, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (v, ==, 120000);
  g_assert_true (pk_cli_parse_value (FALSE, "1024", 1, 1024, &v, &error));
  g_assert_cmpuint (v, ==, 1024);

  g_assert_false (pk_cli_parse_value (FALSE, "1025", 1, 1024, &v, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "'1025'"));
  g_clear_error (&error);

  g_assert_false (pk_cli_parse_value (TRUE, "2h", 0, 60000, &v, &error));
  g_assert_nonnull (strstr (error->message, "'2h' is too long"));
  g_clear_error (&error);

  g_assert_false (pk_cli_parse_value (TRUE, "soon", 0, 0, &v, &error));
  g_assert_nonnull (strstr (error->message, "'soon' is not a duration"));
}

static void
test_usage_error_exits_2 (void)
{
  int fds[2];
  pid_t pid;
  int status = 0;
  char buf[512] = { 0 };
  gssize n, off = 0;

  g_assert_cmpint (pipe (fds), ==, 0);
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      dup2 (fds[1], STDERR_FILENO);
      g_set_prgname ("pk-test");
      pk_cli_usage_error ("--max-sessions: '%s' is not a number", "x");
    }
  close (fds[1]);
  while ((n = read (fds[0], buf + off, sizeof buf - 1 - off)) > 0)
    off += n;
  close (fds[0]);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);

  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, PK_CLI_EXIT_USAGE);
  g_assert_cmpstr (buf, ==, "pk-test: --max-sessions: 'x' is not a number\nTry 'pk-test --help'.\n");
}

/* What the tool's log writer prints on stderr for: a proxykit debug
 * line, a GLib-GIO one, a session line and a warning, after parsing @args
 * with the shared -v option (in a child: the verbosity is global). */
static char *
log_lines (const char *args,
           const char *messages_debug,
           gboolean    quiet)
{
  int fds[2];
  pid_t pid;
  int status = 0;
  GString *out = g_string_new (NULL);
  char buf[512];
  gssize n;

  g_assert_cmpint (pipe (fds), ==, 0);
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      GOptionEntry entries[] = { PK_CLI_OPTION_VERBOSE, { NULL } };
      g_autoptr(GOptionContext) context = g_option_context_new (NULL);
      g_auto(GStrv) argv = g_strsplit (args, " ", -1);
      int argc = g_strv_length (argv);

      dup2 (fds[1], STDERR_FILENO);
      g_setenv ("G_MESSAGES_DEBUG", messages_debug, TRUE);
      pk_cli_init ("pk-test");
      g_option_context_add_main_entries (context, entries, NULL);
      pk_cli_parse_options (context, &argc, &argv);
      pk_cli_set_quiet_sessions (quiet);
      g_log_structured ("proxykit", G_LOG_LEVEL_DEBUG, "MESSAGE", "rotation step");
      g_log_structured ("GLib-GIO", G_LOG_LEVEL_DEBUG, "MESSAGE", "GSocketClient: starting");
      g_log_structured ("proxykit", G_LOG_LEVEL_INFO, "PK_RESULT", "succeeded", "MESSAGE", "session end");
      g_log_structured ("proxykit", G_LOG_LEVEL_INFO, "MESSAGE", "listening");
      _exit (0);
    }
  close (fds[1]);
  while ((n = read (fds[0], buf, sizeof buf)) > 0)
    g_string_append_len (out, buf, n);
  close (fds[0]);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  return g_string_free (out, FALSE);
}

/* -v is proxykit's debug; GLib's takes -vv or G_MESSAGES_DEBUG (19.6). */
static void
test_verbosity (void)
{
  g_autofree char *none = log_lines ("pk-test", "", FALSE);
  g_autofree char *v = log_lines ("pk-test -v", "", FALSE);
  g_autofree char *vv = log_lines ("pk-test -vv", "", FALSE);
  g_autofree char *env = log_lines ("pk-test", "GLib-GIO", FALSE);
  g_autofree char *quiet = log_lines ("pk-test", "", TRUE);

  g_assert_cmpstr (none, ==, "pk-test: session end\npk-test: listening\n");
  g_assert_cmpstr (v, ==, "pk-test: debug: rotation step\npk-test: session end\npk-test: listening\n");
  g_assert_cmpstr (vv, ==, "pk-test: debug: rotation step\n"
                           "pk-test: debug: GLib-GIO: GSocketClient: starting\n"
                           "pk-test: session end\npk-test: listening\n");
  g_assert_cmpstr (env, ==, "pk-test: debug: GLib-GIO: GSocketClient: starting\n"
                            "pk-test: session end\npk-test: listening\n");
  /* --quiet drops the per-session lines only. */
  g_assert_cmpstr (quiet, ==, "pk-test: listening\n");
}

int
main (int argc, char **argv)
{
  pk_test_init (&argc, &argv);

  g_test_add_func ("/cli-common/sd-notify", test_sd_notify);
  g_test_add_func ("/cli-common/sd-watchdog", test_sd_watchdog);
  g_test_add_func ("/cli-common/parse-value", test_parse_value);
  g_test_add_func ("/cli-common/usage-error-exits-2", test_usage_error_exits_2);
  g_test_add_func ("/cli-common/verbosity", test_verbosity);

  return g_test_run ();
}
