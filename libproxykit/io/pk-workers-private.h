/* pk-workers-private.h: PkWorkers API used inside the library
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "pk-workers.h"
#include "pk-util-private.h"

G_BEGIN_DECLS

/* Sets options on a listening socket before it listens, so that every
 * connection it accepts inherits them (Linux copies SO_KEEPALIVE, the
 * TCP_KEEP* settings and TCP_NODELAY to accepted sockets). */
typedef gboolean (*PkWorkersPrepareFunc) (GSocket  *socket,
                                          gpointer  data,
                                          GError  **error);

/* A client as a descriptor (non-blocking, close-on-exec, the callee's)
 * with its peer's address, for a data path that never makes it a
 * GSocket; on the worker's thread. */
typedef void (*PkWorkersAcceptFdFunc) (int               fd,
                                       const PkSockaddr *peer,
                                       guint             worker,
                                       gpointer          user_data);

/* pk_workers_listen() with @prepare (nullable) called on each worker's
 * socket after bind and before listen, and clients given to either
 * @accepted or @accepted_fd (one of them NULL). */
guint pk_workers_listen_full (PkWorkers             *self,
                              GSocketAddress        *address,
                              PkWorkersPrepareFunc   prepare,
                              gpointer               prepare_data,
                              PkWorkersAcceptFunc    accepted,
                              PkWorkersAcceptFdFunc  accepted_fd,
                              gpointer               user_data,
                              GDestroyNotify         destroy,
                              GError               **error);

G_END_DECLS
