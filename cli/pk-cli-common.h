/* pk-cli-common.h: what every proxykit tool does the same way
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <proxykit/proxykit.h>

G_BEGIN_DECLS

/* Exit statuses shared by the tools. */
enum {
  PK_CLI_EXIT_OK = 0,
  PK_CLI_EXIT_FAILURE = 1,   /* the operation failed (reason on stderr) */
  PK_CLI_EXIT_USAGE = 2,     /* bad flag, bad config: nothing was done */
};

#define PK_CLI_DEFAULT_CONFIG PK_CONFIG_FILE
#define PK_CLI_DEFAULT_RELAY_ENV PK_CONFIG_DIR "/relay.env"

/* Sets the program name and installs the log writer: journald when
 * stderr is connected to it (under systemd), else one line per message on
 * stderr: "pk-socks: message" plus the level for warnings. */
void       pk_cli_init              (const char   *prgname);
/* Debug messages: -v shows proxykit's (domains "proxykit" and "pk-*"),
 * -vv every library's (GLib-GIO, libsoup, ...); $G_MESSAGES_DEBUG names
 * more domains ("all" for every one). Info and above are always shown. */
void       pk_cli_set_verbose       (gboolean      verbose);
void       pk_cli_set_verbosity     (guint         level);
gboolean   pk_cli_debug_enabled     (const char   *domain);
/* The GOptionArgFunc of -v: each -v (or -vv) raises the verbosity. */
gboolean   pk_cli_option_verbose    (const char   *option_name,
                                     const char   *value,
                                     gpointer      data,
                                     GError      **error);
#define PK_CLI_OPTION_VERBOSE \
  { "verbose", 'v', G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK, (gpointer) pk_cli_option_verbose, \
    "Log proxykit's debug messages; -vv: other libraries' (GLib, libsoup) too", NULL }
/* --quiet: no line per finished session (the info lines with PK_RESULT). */
void       pk_cli_set_quiet_sessions (gboolean     quiet);

/* Parses the options; on a bad flag prints "PROG: MESSAGE" and
 * "Try 'PROG --help'." and exits with PK_CLI_EXIT_USAGE. */
void       pk_cli_parse_options     (GOptionContext *context,
                                     int            *argc,
                                     char         ***argv);

/* A flag's value: a duration in ms (@duration) or a whole number, within
 * @min..@max (for a duration, @max in ms; 0 for no limit). The error
 * quotes the value; callers prefix the flag or the config line. */
gboolean   pk_cli_parse_value       (gboolean      duration,
                                     const char   *value,
                                     guint64       min,
                                     guint64       max,
                                     guint64      *out,
                                     GError      **error);

/* One-line error, exit status PK_CLI_EXIT_USAGE. */
G_NORETURN
void       pk_cli_usage_error       (const char   *format,
                                     ...) G_GNUC_PRINTF (1, 2);
/* One-line error with the given exit status. */
G_NORETURN
void       pk_cli_die               (int           status,
                                     const char   *format,
                                     ...) G_GNUC_PRINTF (2, 3);

/* Prints "PROG (libproxykit) VERSION" and exits 0. */
G_NORETURN
void       pk_cli_print_version     (void);

/* Loads the configuration: @path if given (an error if missing), else
 * $PROXYKIT_CONFIG, else /etc/proxykit/proxykit.conf if it exists, else an
 * empty configuration. A bad file is a usage error (exit 2). */
PkConfig  *pk_cli_load_config       (const char   *path);
/* The same, with a bad file an error rather than an exit (for a reload). */
PkConfig  *pk_cli_try_load_config   (const char   *path,
                                     GError      **error);

/* A tool's synchronous wait on one async call: pass pk_cli_store_result
 * and &result (NULL) as its callback and data, then pk_cli_wait_result
 * (&result) runs the default main context until the call ends. */
void          pk_cli_store_result   (GObject       *source,
                                     GAsyncResult  *result,
                                     gpointer       user_data);
GAsyncResult *pk_cli_wait_result    (GAsyncResult **result);

/* The daemons' /metrics: serves @func's text on @flag (--metrics-listen)
 * or else the metrics-listen key of [@section]: ADDR:PORT, or a bare port
 * for loopback. Returns NULL when neither is set (off by default); a bad
 * address is a usage error, one that cannot be bound a failure. */
PkMetricsServer *pk_cli_metrics_listen (PkConfig             *config,
                                        const char           *section,
                                        const char           *flag,
                                        PkMetricsCollectFunc  func,
                                        gpointer              user_data);
#define PK_CLI_OPTION_METRICS_LISTEN(var) \
  { "metrics", 0, 0, G_OPTION_ARG_STRING, &(var), \
    "Serve Prometheus /metrics on ADDR:PORT (a bare port: loopback; default off)", "ADDR:PORT" }, \
  { "metrics-listen", 0, 0, G_OPTION_ARG_STRING, &(var), "The same as --metrics", "ADDR:PORT" }

/* systemd's notify protocol, built in (no libsystemd needed): does nothing
 * and returns FALSE when $NOTIFY_SOCKET is unset. */
gboolean   pk_cli_sd_notify         (const char   *state);
gboolean   pk_cli_sd_notifyf        (const char   *format,
                                     ...) G_GNUC_PRINTF (1, 2);
/* When systemd asked for watchdog pings ($WATCHDOG_USEC), sends
 * WATCHDOG=1 at half the period from the thread-default main context.
 * @alive, if given, is asked first: a tool that is stuck in a bad state
 * can withhold the ping. Returns the period in microseconds, or 0. */
guint64    pk_cli_sd_watchdog_start (gboolean    (*alive) (gpointer data),
                                     gpointer      data);

/* SIGTERM and SIGINT call @on_stop, SIGHUP calls @on_reload (either may be
 * NULL), in the default main context. */
void       pk_cli_handle_signals    (GSourceFunc   on_stop,
                                     GSourceFunc   on_reload,
                                     gpointer      data);

G_END_DECLS
