/* pk-bridge-private.h: PkBridge internals for PkWorkers and the tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "pk-bridge.h"
#include "pk-pipe-pool-private.h"

G_BEGIN_DECLS

/* Pipes come from @pool instead of the thread's default pool; NULL: the
 * bridge only copies. Before run_async. */
void     pk_bridge_set_pipe_pool     (PkBridge   *self,
                                      PkPipePool *pool);
/* Bytes of both directions that went through splice(2). */
guint64  pk_bridge_get_bytes_spliced (PkBridge   *self);
/* TRUE while a direction holds a copy buffer or a pipe. */
gboolean pk_bridge_holds_buffers     (PkBridge   *self);

G_END_DECLS
