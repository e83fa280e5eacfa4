/* pk-workers.h: worker threads, each with its own main context and listeners
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__PROXYKIT_INSIDE__) && !defined(PROXYKIT_COMPILATION)
#error "Only <proxykit/proxykit.h> can be included directly."
#endif

#include <gio/gio.h>
#include "pk-version-macros.h"

G_BEGIN_DECLS

#define PK_TYPE_WORKERS (pk_workers_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkWorkers, pk_workers, PK, WORKERS, GObject)

/**
 * PkWorkersAcceptFunc:
 * @client: (transfer none): the accepted, non-blocking socket
 * @worker: index of the worker that accepted it
 * @user_data: data given to [method@Workers.listen] or [method@Workers.add_sockets]
 *
 * Called on the worker's thread, with the worker's main context as the
 * thread-default one, for each accepted client. Take a reference on
 * @client to keep it; the session stays on this thread.
 *
 * Since: 0.1
 */
typedef void (*PkWorkersAcceptFunc) (GSocket  *client,
                                     guint     worker,
                                     gpointer  user_data);

/* 0 workers: one per online CPU. */
PK_AVAILABLE_IN_ALL
PkWorkers    *pk_workers_new                 (guint                n_workers);
PK_AVAILABLE_IN_ALL
guint         pk_workers_get_n_workers       (PkWorkers           *self);
PK_AVAILABLE_IN_ALL
GMainContext *pk_workers_get_context         (PkWorkers           *self,
                                              guint                worker);
/* Index of the worker whose thread calls this, or -1. */
PK_AVAILABLE_IN_ALL
int           pk_workers_get_current         (PkWorkers           *self);

/* Whether listeners may share their ports with other processes
 * (SO_REUSEPORT from the start); off by default. */
PK_AVAILABLE_IN_ALL
void          pk_workers_set_reuse_port      (PkWorkers           *self,
                                              gboolean             reuse_port);
PK_AVAILABLE_IN_ALL
gboolean      pk_workers_get_reuse_port      (PkWorkers           *self);

/* Pipes for splice(2) per worker (default 256 of 256 KiB; 0 pipes: copy
 * only). Before start. */
PK_AVAILABLE_IN_ALL
void          pk_workers_set_splice_pipes    (PkWorkers           *self,
                                              guint                max_pipes,
                                              guint                pipe_size);

/* Starts the threads (idempotent). */
PK_AVAILABLE_IN_ALL
gboolean      pk_workers_start               (PkWorkers           *self,
                                              GError             **error);
/* Removes every listener, stops the threads and waits for them. Sessions
 * still running in a worker's context are dropped with it: stop the
 * services that own them first. */
PK_AVAILABLE_IN_ALL
void          pk_workers_stop                (PkWorkers           *self);

/* A listening socket per worker on @address, all bound with SO_REUSEPORT
 * to the same port (port 0: one picked by the kernel for the first), so
 * that the kernel spreads connections across the workers. Returns a listener id > 0, or 0 with @error set. */
PK_AVAILABLE_IN_ALL
guint         pk_workers_listen              (PkWorkers           *self,
                                              GSocketAddress      *address,
                                              PkWorkersAcceptFunc  accepted,
                                              gpointer             user_data,
                                              GDestroyNotify       destroy,
                                              GError             **error);
/* The same with listening sockets made by the caller, one per worker
 * (bound, listening, SO_REUSEPORT on one port): @sockets holds
 * n_workers GSocket. */
PK_AVAILABLE_IN_ALL
guint         pk_workers_add_sockets         (PkWorkers           *self,
                                              GPtrArray           *sockets,
                                              PkWorkersAcceptFunc  accepted,
                                              gpointer             user_data,
                                              GDestroyNotify       destroy,
                                              GError             **error);
/* The address the listener is bound to (with the port the kernel picked). */
PK_AVAILABLE_IN_ALL
GSocketAddress *pk_workers_get_listener_address (PkWorkers        *self,
                                                 guint             listener_id);
/* Stops accepting on the listener and closes its sockets; sessions it
 * started keep running. Returns once no worker runs its callback any more;
 * @destroy is called then. */
PK_AVAILABLE_IN_ALL
void          pk_workers_remove_listener     (PkWorkers           *self,
                                              guint                listener_id);

/* Connections accepted by one worker so far. */
PK_AVAILABLE_IN_ALL
guint64       pk_workers_get_n_accepted      (PkWorkers           *self,
                                              guint                worker);

/* Raises the soft RLIMIT_NOFILE to the hard limit; returns the soft limit
 * in force afterwards. */
PK_AVAILABLE_IN_ALL
guint64       pk_workers_raise_fd_limit      (void);

G_END_DECLS
