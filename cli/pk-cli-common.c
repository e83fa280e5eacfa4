/* pk-cli-common.c: what every proxykit tool does the same way
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib-unix.h>

#include "pk-cli-common.h"

/* 0: info and above; 1 (-v): proxykit's debug too; 2 (-vv): every
 * library's debug (GLib-GIO, libsoup, ...). */
static guint verbosity;
static gboolean quiet_sessions;

static gboolean
is_our_domain (const char *domain)
{
  return domain == NULL || g_str_equal (domain, "proxykit") || g_str_has_prefix (domain, "pk-");
}

gboolean
pk_cli_debug_enabled (const char *domain)
{
  const char *env = g_getenv ("G_MESSAGES_DEBUG");

  if (verbosity >= 2 || (verbosity >= 1 && is_our_domain (domain)))
    return TRUE;
  /* GLib's own switch, for one library's debug without -vv. */
  if (env != NULL && *env != '\0')
    {
      g_auto(GStrv) names = g_strsplit_set (env, " ,", -1);

      for (guint i = 0; names[i] != NULL; i++)
        if (g_str_equal (names[i], "all") || g_strcmp0 (names[i], domain) == 0)
          return TRUE;
    }
  return FALSE;
}

static gboolean stderr_is_journald;

static GLogWriterOutput
cli_log_writer (GLogLevelFlags   log_level,
                const GLogField *fields,
                gsize            n_fields,
                gpointer         user_data)
{
  const char *message = NULL;
  const char *domain = NULL;
  gboolean session = FALSE;
  const char *level;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_strcmp0 (fields[i].key, "MESSAGE") == 0)
        message = fields[i].value;
      else if (g_strcmp0 (fields[i].key, "GLIB_DOMAIN") == 0)
        domain = fields[i].value;
      else if (g_strcmp0 (fields[i].key, "PK_RESULT") == 0)
        session = TRUE;
    }

  /* Info carries what operators grep for (one line per session end):
   * shown by default, unless --quiet; debug only with --verbose. */
  if ((log_level & G_LOG_LEVEL_DEBUG) && !pk_cli_debug_enabled (domain))
    return G_LOG_WRITER_HANDLED;
  if (session && quiet_sessions && (log_level & G_LOG_LEVEL_INFO))
    return G_LOG_WRITER_HANDLED;

  if (stderr_is_journald)
    return g_log_writer_journald (log_level, fields, n_fields, user_data);

  if (log_level & G_LOG_LEVEL_ERROR)
    level = "error: ";
  else if (log_level & G_LOG_LEVEL_CRITICAL)
    level = "critical: ";
  else if (log_level & G_LOG_LEVEL_WARNING)
    level = "warning: ";
  else if (log_level & G_LOG_LEVEL_DEBUG)
    level = "debug: ";
  else
    level = "";

  /* Library domains other than ours say where they come from. */
  if (!is_our_domain (domain))
    fprintf (stderr, "%s: %s%s: %s\n", g_get_prgname (), level, domain, message ? message : "");
  else
    fprintf (stderr, "%s: %s%s\n", g_get_prgname (), level, message ? message : "");
  fflush (stderr);

  return G_LOG_WRITER_HANDLED;
}

void
pk_cli_init (const char *prgname)
{
  g_set_prgname (prgname);
  /* Once: stderr stays what it is, and asking costs a getpeername() per
   * line (one per SOCKS session). */
  stderr_is_journald = g_log_writer_is_journald (fileno (stderr));
  g_log_set_writer_func (cli_log_writer, NULL, NULL);
  /* A write to a closed client socket must be an EPIPE, not a signal. */
  signal (SIGPIPE, SIG_IGN);
}

void
pk_cli_set_verbose (gboolean value)
{
  verbosity = value ? MAX (verbosity, 1) : 0;
}

void
pk_cli_set_verbosity (guint level)
{
  verbosity = level;
}

gboolean
pk_cli_option_verbose (const char  *option_name,
                       const char  *value,
                       gpointer     data,
                       GError     **error)
{
  verbosity++;
  return TRUE;
}

void
pk_cli_set_quiet_sessions (gboolean quiet)
{
  quiet_sessions = quiet;
}

void
pk_cli_usage_error (const char *format,
                    ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  fprintf (stderr, "%s: %s\nTry '%s --help'.\n", g_get_prgname (), message, g_get_prgname ());
  exit (PK_CLI_EXIT_USAGE);
}

void
pk_cli_die (int         status,
            const char *format,
            ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  fprintf (stderr, "%s: %s\n", g_get_prgname (), message);
  exit (status);
}

void
pk_cli_print_version (void)
{
  printf ("%s (libproxykit) %s\n", g_get_prgname (), PK_VERSION_S);
  exit (PK_CLI_EXIT_OK);
}

void
pk_cli_parse_options (GOptionContext   *context,
                      int              *argc,
                      char           ***argv)
{
  g_autoptr(GError) error = NULL;

  if (!g_option_context_parse (context, argc, argv, &error))
    pk_cli_usage_error ("%s", error->message);
}

gboolean
pk_cli_parse_value (gboolean     duration,
                    const char  *value,
                    guint64      min,
                    guint64      max,
                    guint64     *out,
                    GError     **error)
{
  if (!duration)
    return pk_parse_uint (value, min, max, out, error);

  if (!pk_parse_duration_ms (value, out, error))
    return FALSE;
  if ((max != 0 && *out > max) || *out < min)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                   "'%s' is %s (from %" G_GUINT64_FORMAT " ms to %" G_GUINT64_FORMAT " ms)",
                   value, *out < min ? "too short" : "too long", min, max);
      return FALSE;
    }
  return TRUE;
}

PkConfig *
pk_cli_try_load_config (const char  *path,
                        GError     **error)
{
  g_autoptr(PkConfig) config = pk_config_new ();
  const char *env_path = g_getenv ("PROXYKIT_CONFIG");

  if (path == NULL && env_path != NULL && *env_path != '\0')
    path = env_path;

  if (path == NULL)
    {
      if (!g_file_test (PK_CLI_DEFAULT_CONFIG, G_FILE_TEST_EXISTS))
        return g_steal_pointer (&config);
      path = PK_CLI_DEFAULT_CONFIG;
    }

  if (!pk_config_load_file (config, path, error))
    return NULL;

  return g_steal_pointer (&config);
}

PkConfig *
pk_cli_load_config (const char *path)
{
  g_autoptr(GError) error = NULL;
  PkConfig *config = pk_cli_try_load_config (path, &error);

  if (config == NULL)
    pk_cli_usage_error ("%s", error->message);
  return config;
}

PkMetricsServer *
pk_cli_metrics_listen (PkConfig             *config,
                       const char           *section,
                       const char           *flag,
                       PkMetricsCollectFunc  func,
                       gpointer              user_data)
{
  g_autoptr(PkMetricsServer) server = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *address = NULL;
  g_auto(GStrv) urls = NULL;

  address = flag != NULL ? g_strdup (flag)
                         : pk_config_dup_string (config, section, "metrics-listen", NULL, NULL);
  if (address == NULL || *address == '\0')
    return NULL;
  server = pk_metrics_server_new ();
  pk_metrics_server_add_collector (server, func, user_data, NULL);
  if (!pk_metrics_server_listen (server, address, &error))
    {
      if (g_error_matches (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT))
        {
          /* The file, line and section of a configured one. */
          g_autofree char *where = flag != NULL ? g_strdup ("--metrics")
                                                : pk_config_describe_value (config, section, "metrics-listen", NULL);
          pk_cli_usage_error ("%s '%s': %s", where, address, error->message);
        }
      pk_cli_die (PK_CLI_EXIT_FAILURE, "metrics on %s: %s", address, error->message);
    }
  urls = pk_metrics_server_dup_urls (server);
  for (guint i = 0; urls[i] != NULL; i++)
    g_message ("metrics on %s", urls[i]);
  return g_steal_pointer (&server);
}

gboolean
pk_cli_sd_notify (const char *state)
{
  const char *path = g_getenv ("NOTIFY_SOCKET");
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  socklen_t addr_len;
  gsize path_len;
  int fd;
  gboolean ok;

  if (path == NULL || (path[0] != '/' && path[0] != '@'))
    return FALSE;

  path_len = strlen (path);
  if (path_len >= sizeof addr.sun_path)
    return FALSE;

  memcpy (addr.sun_path, path, path_len);
  /* '@' names a socket in the abstract namespace: a leading NUL. */
  if (addr.sun_path[0] == '@')
    addr.sun_path[0] = '\0';
  addr_len = offsetof (struct sockaddr_un, sun_path) + path_len;

  fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return FALSE;

  ok = sendto (fd, state, strlen (state), MSG_NOSIGNAL, (struct sockaddr *) &addr, addr_len) >= 0;
  if (!ok)
    g_debug ("sd_notify to %s failed: %s", path, g_strerror (errno));
  close (fd);

  return ok;
}

gboolean
pk_cli_sd_notifyf (const char *format,
                   ...)
{
  g_autofree char *state = NULL;
  va_list args;

  va_start (args, format);
  state = g_strdup_vprintf (format, args);
  va_end (args);

  return pk_cli_sd_notify (state);
}

typedef struct {
  gboolean (*alive) (gpointer data);
  gpointer data;
} WatchdogPing;

static gboolean
watchdog_ping_cb (gpointer user_data)
{
  WatchdogPing *ping = user_data;

  if (ping->alive == NULL || ping->alive (ping->data))
    pk_cli_sd_notify ("WATCHDOG=1");
  else
    g_warning ("not sending the systemd watchdog ping: the service is not healthy");

  return G_SOURCE_CONTINUE;
}

guint64
pk_cli_sd_watchdog_start (gboolean (*alive) (gpointer data),
                          gpointer   data)
{
  const char *usec_str = g_getenv ("WATCHDOG_USEC");
  const char *pid_str = g_getenv ("WATCHDOG_PID");
  guint64 usec;
  WatchdogPing *ping;
  GSource *source;

  if (usec_str == NULL || !g_ascii_string_to_unsigned (usec_str, 10, 1, G_MAXUINT64, &usec, NULL))
    return 0;

  /* The variables may have been inherited by a child that is not the
   * service's main process: only that process pings. */
  if (pid_str != NULL)
    {
      guint64 pid;

      if (!g_ascii_string_to_unsigned (pid_str, 10, 1, G_MAXINT, &pid, NULL) || pid != (guint64) getpid ())
        return 0;
    }

  ping = g_new0 (WatchdogPing, 1);
  ping->alive = alive;
  ping->data = data;

  source = g_timeout_source_new (MAX (usec / 2000, 1));
  g_source_set_callback (source, watchdog_ping_cb, ping, g_free);
  g_source_set_static_name (source, "[proxykit] systemd watchdog");
  g_source_attach (source, g_main_context_get_thread_default ());
  g_source_unref (source);

  return usec;
}

void
pk_cli_handle_signals (GSourceFunc on_stop,
                       GSourceFunc on_reload,
                       gpointer    data)
{
  if (on_stop != NULL)
    {
      g_unix_signal_add (SIGTERM, on_stop, data);
      g_unix_signal_add (SIGINT, on_stop, data);
    }
  if (on_reload != NULL)
    g_unix_signal_add (SIGHUP, on_reload, data);
}

void
pk_cli_store_result (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

GAsyncResult *
pk_cli_wait_result (GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *result;
}
