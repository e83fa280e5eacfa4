/* pk-acceptor-private.h: the one accept loop, for every listening socket
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "pk-util-private.h"

G_BEGIN_DECLS

/* A listening socket served on the poller of a main context: accept4()
 * (non-blocking, close-on-exec, the peer's address from the accept
 * itself) in bounded batches, each client handed on as a descriptor.
 * PkWorkers, the SOCKS server's own listeners and the relay's all accept
 * here.
 *
 * Out of descriptors (EMFILE, ENFILE) or memory (ENOBUFS, ENOMEM), the
 * pending connection stays in the backlog and the socket stays readable:
 * a plain retry would spin. The acceptor stops watching the socket for
 * PK_ACCEPTOR_BACKOFF_MS instead, so that sessions have time to end, and
 * says so in a warning that is rate-limited for the whole process: the
 * first pause logs at once, later ones at most once per
 * PK_ACCEPTOR_WARN_INTERVAL_S, with how many pauses there were since. */

#define PK_ACCEPTOR_BACKOFF_MS 100
#define PK_ACCEPTOR_WARN_INTERVAL_S 10

typedef struct _PkAcceptor PkAcceptor;

/* @fd: the client (non-blocking, close-on-exec; the callee's), with the
 * peer's address as accept4() gave it. */
typedef void (*PkAcceptorFunc) (int               fd,
                                 const PkSockaddr *peer,
                                 gpointer          user_data);

/* Serves @socket (listening; the acceptor takes a reference and leaves it
 * open) on the poller of @context (NULL: the global default one), calling
 * @func for each client. @name says whose socket it is in log lines
 * ("socks[11]", "relay smtp", "worker 1"). Call it from the thread that
 * runs @context, or while none does. NULL with @error set when the
 * context's poller cannot be made or cannot take the socket. */
PkAcceptor *pk_acceptor_new          (GMainContext    *context,
                                      GSocket         *socket,
                                      const char      *name,
                                      PkAcceptorFunc   func,
                                      gpointer         user_data,
                                      GError         **error);
/* Stops accepting and frees the acceptor: from the context's thread (a
 * callback of this acceptor included) or while no thread runs the
 * context, at once; from another thread, nothing more is accepted once
 * this returns (a callback running there finishes), and the rest happens
 * in the context's thread. */
void        pk_acceptor_free         (PkAcceptor      *acceptor);
/* How many times it paused for an accept error (any thread). */
guint64     pk_acceptor_get_pauses   (PkAcceptor      *acceptor);

G_END_DECLS
