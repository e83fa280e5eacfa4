/* pk-bridge-private.h: the bridge on descriptors; PkBridge internals
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "pk-bridge.h"
#include "pk-pipe-pool-private.h"
#include "pk-poller-private.h"

G_BEGIN_DECLS

/* The bridge itself, on descriptors, without an object or a task: what
 * PkBridge runs, and what the relay runs directly for its connections,
 * whose sockets never become GSockets. */

typedef enum {
  PK_BRIDGE_WANT_NONE = 0,
  PK_BRIDGE_WANT_IN = 1 << 0,   /* readable on the source */
  PK_BRIDGE_WANT_OUT = 1 << 1,  /* writable on the destination */
} PkBridgeWant;

typedef struct
{
  int src;
  int dst;
  guint64 bytes;
  guint64 spliced;
  gint64 last_activity;  /* monotonic, µs */

  /* copy path: what the destination did not take yet */
  char *pending;
  guint32 pending_off;
  guint32 pending_len;

  /* splice path */
  PkPipe pipe;
  gsize pipe_fill;

  PkBridgeWant want;
  guint has_pipe : 1;
  guint maybe_full : 1;  /* splice in said EAGAIN with data in the pipe */
  guint no_splice : 1;   /* the kernel refused to splice these sockets */
  guint eof : 1;
  guint done : 1;
} PkBridgeDirection;

typedef struct _PkBridgeCore PkBridgeCore;

/* Called once when the run ends, with NULL when both directions ended
 * with EOF, or an error the callee owns: the idle timeout
 * (G_IO_ERROR_TIMED_OUT), cancellation (G_IO_ERROR_CANCELLED) or the
 * socket's. The watch is gone by then, and the sockets too with
 * close_at_end; otherwise they are the owner's. */
typedef void (*PkBridgeCoreDone) (PkBridgeCore *core,
                                  GError       *error,
                                  gpointer      user_data);

typedef void (*PkBridgeCoreFunc) (PkBridgeCore *core,
                                  gpointer      user_data);

struct _PkBridgeCore
{
  PkBridgeDirection dir[2];  /* [0]: a to b, [1]: b to a */
  PkPollerWatch *watch;      /* slot 0: socket a, slot 1: socket b */
  PkPipePool *pool;
  gint64 last_activity;
  guint idle_timeout_ms;
  gboolean close_at_end;
  PkBridgeCoreDone done;
  gpointer user_data;
  gint64 call_at;            /* pk_bridge_core_call_at() */
  PkBridgeCoreFunc call_func;
};

/* Moves bytes between the connected, non-blocking sockets @a and @b
 * until both directions have ended (see PkBridge), in @watch's thread.
 *
 * @watch (transfer full): a watch of the thread's poller, which the core
 * takes over (its callback) and destroys at the end. It may hold @b in
 * slot 1 already, as a connect that just finished does (or @a in slot 0,
 * as a SOCKS session that did its handshake on it), and may have a
 * cancellable. @pool: pipes for splice(2), or NULL to copy only.
 * @close_at_end: the core closes both sockets when the run ends, before
 * @done (even when it fails to start): then the last EOF needs no
 * shutdown(), since the close sends the FIN, and the sockets leave the
 * epoll set with the close (see pk_poller_watch_destroy_and_close()).
 *
 * @done is called from a dispatch of the watch, or before this returns
 * when the watch cannot take a socket: then this returns FALSE, and the
 * core must not be touched again. The caller sets TCP_NODELAY. */
gboolean pk_bridge_core_start        (PkBridgeCore     *core,
                                      int               a,
                                      int               b,
                                      PkPollerWatch    *watch,
                                      PkPipePool       *pool,
                                      guint             idle_timeout_ms,
                                      gboolean          close_at_end,
                                      PkBridgeCoreDone  done,
                                      gpointer          user_data);
/* Calls @func (with the run's user_data) once at the monotonic time @at,
 * from the core's own timer, unless the run has ended by then; a later
 * call replaces an earlier one. @func must not end the run. */
void     pk_bridge_core_call_at      (PkBridgeCore     *core,
                                      gint64            at,
                                      PkBridgeCoreFunc  func);

/* Pipes come from @pool instead of the thread's default pool; NULL: the
 * bridge only copies. Before run_async. */
void     pk_bridge_set_pipe_pool     (PkBridge   *self,
                                      PkPipePool *pool);
/* Bytes of both directions that went through splice(2). */
guint64  pk_bridge_get_bytes_spliced (PkBridge   *self);
/* TRUE while a direction holds a copy buffer or a pipe. */
gboolean pk_bridge_holds_buffers     (PkBridge   *self);

G_END_DECLS
