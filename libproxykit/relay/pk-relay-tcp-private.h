/* pk-relay-tcp-private.h: the TCP half of a relay rule
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "pk-relay-listener-private.h"

G_BEGIN_DECLS

/* Listens for @listener's rule: on @workers (a socket per thread, each
 * connection on the thread that accepted it) or, without, in the
 * thread-default main context. */
gboolean pk_relay_tcp_start (PkRelayListener  *listener,
                             PkWorkers        *workers,
                             GError          **error);
/* No new connections; those in progress go on. */
void     pk_relay_tcp_close (PkRelayListener  *listener);

G_END_DECLS
