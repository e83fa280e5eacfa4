/* pk-tunnel-pppd-private.h: pppd's command line, options file and pidfile, as pure functions
 *
 * What PkTunnel says to pppd and reads back from it, without a process,
 * a file or root: unit-tested in tests/test-tunnel-pppd.c. pk-tunnel.c
 * runs the process.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Everything pppd's command line is made of. */
typedef struct {
  const char *pppd_path;
  const char *pptp_path;
  const char *linkname;
  const char *server;               /* pty "pptp SERVER --nolaunchpppd" */
  const char *peer;                 /* or: call PEER (wins over the server) */
  int unit;                         /* -1: pppd picks */
  const char *user;
  const char *options_file;         /* "file PATH": where the password is */
  const char * const *options;      /* extra words, appended */
} PkPppdCommand;

/* A word that is safe on pppd's command line and in a file name: 1 to
 * 255 characters, letters, digits and @extra, not starting with '-'. */
gboolean pk_pppd_is_valid_word        (const char          *word,
                                       const char          *extra);

/* pppd's argv. NULL with PK_ERROR_INVALID_ARGUMENT when @cmd has
 * neither a server nor a peer. */
char   **pk_pppd_build_argv           (const PkPppdCommand *cmd,
                                       GError             **error);

/* The options file that carries the password: "password "QUOTED"",
 * with '"' and '\' escaped as pppd's option parser reads them. */
char    *pk_pppd_options_file_text    (const char          *linkname,
                                       const char          *password);

/* pppd's link pidfile: the pid on the first line, the interface (once
 * the unit exists) on the second. FALSE if there is no valid pid. */
gboolean pk_pppd_parse_pidfile        (const char          *text,
                                       int                 *out_pid,
                                       char               **out_ifname);

/* TRUE if the NUL-separated @cmdline (as /proc/PID/cmdline holds it)
 * has "linkname @linkname": a recycled pid that now belongs to something
 * else is not taken for our pppd. */
gboolean pk_pppd_cmdline_has_linkname (const char          *cmdline,
                                       gsize                len,
                                       const char          *linkname);

G_END_DECLS
