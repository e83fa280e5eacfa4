/* pk-http-listener-private.h: the listening socket of the project's
 * libsoup servers, with the limits libsoup does not have
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

#define PK_HTTP_DEFAULT_IDLE_TIMEOUT_MS   30000
#define PK_HTTP_DEFAULT_MAX_CONNECTIONS   256
#define PK_HTTP_DEFAULT_BACKLOG           128

typedef struct {
  /* A connection that sends no complete request for this long (at the
   * start, between requests, or in the middle of its headers) is closed;
   * the time a handler takes does not count. 0: no limit. */
  guint idle_timeout_ms;
  /* Connections at once; more are accepted and closed at once, so that
   * they never sit in the backlog. 0: no limit. */
  guint max_connections;
  /* listen(2)'s backlog. */
  int backlog;
} PkHttpLimits;

typedef struct _PkHttpListener PkHttpListener;

/* Listens on @address for @server, accepting through PkAcceptor (the
 * project's one accept loop): unlike soup_server_listen(), an accept
 * error (EMFILE, ENFILE, ENOBUFS) is not the end: it is logged
 * (rate-limited, with a count) and accepting resumes after a short
 * back-off. @limits NULL: the defaults above. Accepts on the
 * thread-default main context. */
PkHttpListener *pk_http_listener_new           (SoupServer          *server,
                                                GSocketAddress      *address,
                                                const PkHttpLimits  *limits,
                                                GError             **error);
guint16         pk_http_listener_get_port      (PkHttpListener      *self);
/* "http://ADDRESS:PORT" and @path of the listening socket, or NULL. */
char           *pk_http_listener_dup_url       (PkHttpListener      *self,
                                                const char          *path);
guint           pk_http_listener_get_n_connections (PkHttpListener  *self);
/* Accept errors met so far (each one a back-off), and connections
 * refused over the cap. */
guint64         pk_http_listener_get_accept_errors (PkHttpListener  *self);
guint64         pk_http_listener_get_refused   (PkHttpListener      *self);
/* Stops listening; connections already accepted stay with the server. */
void            pk_http_listener_free          (PkHttpListener      *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PkHttpListener, pk_http_listener_free)

G_END_DECLS
