/* pk-pipe-pool-private.h: a bounded pool of pipes for splice(2)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  int rd;
  int wr;
} PkPipe;

/* A pool belongs to one thread: take and give_back are not locked. The
 * reference count is atomic, so a pool can be released from anywhere. */
typedef struct _PkPipePool PkPipePool;

/* max_pipes: how many pipes may exist at once (0: none, every bridge
 * copies). pipe_size: F_SETPIPE_SZ for each pipe (0: the kernel's default);
 * a size the kernel refuses falls back to what it allows. */
PkPipePool *pk_pipe_pool_new               (guint        max_pipes,
                                            gsize        pipe_size);
PkPipePool *pk_pipe_pool_ref               (PkPipePool  *pool);
void        pk_pipe_pool_unref             (PkPipePool  *pool);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PkPipePool, pk_pipe_pool_unref)

/* FALSE when the pool is exhausted (or pipe() fails, e.g. EMFILE): the
 * caller copies instead. */
gboolean    pk_pipe_pool_take              (PkPipePool  *pool,
                                            PkPipe      *pipe);
/* An empty pipe goes back to the pool; one that still holds data is
 * closed (its bytes are lost with the session that failed). */
void        pk_pipe_pool_give_back         (PkPipePool  *pool,
                                            PkPipe      *pipe,
                                            gboolean     empty);
gsize       pk_pipe_pool_get_pipe_size     (PkPipePool  *pool);
guint       pk_pipe_pool_get_max_pipes     (PkPipePool  *pool);
/* Pipes that exist (in use or idle in the pool) and pipes in use. */
guint       pk_pipe_pool_get_n_pipes       (PkPipePool  *pool);
guint       pk_pipe_pool_get_n_in_use      (PkPipePool  *pool);
/* Times take() found the pool exhausted. */
guint64     pk_pipe_pool_get_n_exhausted   (PkPipePool  *pool);

/* The pool of the calling thread, made on first use with the defaults
 * below; freed when the thread exits. */
PkPipePool *pk_pipe_pool_get_thread_default (void);
/* Replaces the calling thread's pool (NULL: back to the defaults on next
 * use). PkWorkers gives each worker thread its own. */
void        pk_pipe_pool_set_thread_default (PkPipePool *pool);
/* Defaults for pools made by get_thread_default(). */
void        pk_pipe_pool_set_defaults      (guint        max_pipes,
                                            gsize        pipe_size);

#define PK_PIPE_POOL_DEFAULT_MAX_PIPES 256
#define PK_PIPE_POOL_DEFAULT_PIPE_SIZE (256 * 1024)

G_END_DECLS
