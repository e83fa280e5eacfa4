/* pk-pipe-pool.c: a bounded pool of pipes for splice(2)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "pk-pipe-pool-private.h"

struct _PkPipePool
{
  guint max_pipes;
  gsize pipe_size;     /* what the kernel gave the first pipe */
  gsize wanted_size;
  guint n_pipes;
  GArray *idle;        /* PkPipe, LIFO so that warm pipes are reused */
  guint64 n_exhausted;
};

/* Set once at start, before worker threads exist. */
static guint default_max_pipes = PK_PIPE_POOL_DEFAULT_MAX_PIPES;
static gsize default_pipe_size = PK_PIPE_POOL_DEFAULT_PIPE_SIZE;

PkPipePool *
pk_pipe_pool_new (guint max_pipes,
                  gsize pipe_size)
{
  PkPipePool *pool = g_atomic_rc_box_new0 (PkPipePool);

  pool->max_pipes = max_pipes;
  pool->wanted_size = pipe_size;
  pool->pipe_size = 0;
  pool->idle = g_array_new (FALSE, FALSE, sizeof (PkPipe));
  return pool;
}

PkPipePool *
pk_pipe_pool_ref (PkPipePool *pool)
{
  return g_atomic_rc_box_acquire (pool);
}

static void
pipe_close (PkPipe *p)
{
  close (p->rd);
  close (p->wr);
  p->rd = p->wr = -1;
}

static void
pool_clear (PkPipePool *pool)
{
  for (guint i = 0; i < pool->idle->len; i++)
    pipe_close (&g_array_index (pool->idle, PkPipe, i));
  g_array_unref (pool->idle);
}

void
pk_pipe_pool_unref (PkPipePool *pool)
{
  g_atomic_rc_box_release_full (pool, (GDestroyNotify) pool_clear);
}

static gboolean
pipe_open (PkPipePool *pool,
           PkPipe     *p)
{
  int fds[2];

  if (pipe2 (fds, O_NONBLOCK | O_CLOEXEC) < 0)
    {
      g_debug ("pipe2: %s; copying instead of splicing", g_strerror (errno));
      return FALSE;
    }
  p->rd = fds[0];
  p->wr = fds[1];

  if (pool->wanted_size > 0)
    {
      int got = fcntl (p->wr, F_SETPIPE_SZ, (int) pool->wanted_size);

      /* Above /proc/sys/fs/pipe-max-size without CAP_SYS_RESOURCE, or over
       * the user's pipe-user-pages limit: keep what the kernel allows. */
      if (got < 0 && pool->pipe_size == 0)
        g_debug ("F_SETPIPE_SZ %" G_GSIZE_FORMAT ": %s; using the default size",
                 pool->wanted_size, g_strerror (errno));
    }
  if (pool->pipe_size == 0)
    {
      int sz = fcntl (p->wr, F_GETPIPE_SZ);

      pool->pipe_size = sz > 0 ? (gsize) sz : 65536;
    }
  else
    {
      int sz = fcntl (p->wr, F_GETPIPE_SZ);

      /* Every pipe of a pool must hold pipe_size bytes, since splice
       * lengths are computed from it. */
      if (sz > 0 && (gsize) sz < pool->pipe_size)
        {
          pipe_close (p);
          return FALSE;
        }
    }
  pool->n_pipes++;
  return TRUE;
}

gboolean
pk_pipe_pool_take (PkPipePool *pool,
                   PkPipe     *pipe)
{
  if (pool->idle->len > 0)
    {
      *pipe = g_array_index (pool->idle, PkPipe, pool->idle->len - 1);
      g_array_set_size (pool->idle, pool->idle->len - 1);
      return TRUE;
    }
  if (pool->n_pipes >= pool->max_pipes || !pipe_open (pool, pipe))
    {
      pool->n_exhausted++;
      return FALSE;
    }
  return TRUE;
}

void
pk_pipe_pool_give_back (PkPipePool *pool,
                        PkPipe     *pipe,
                        gboolean    empty)
{
  g_return_if_fail (pool->n_pipes > 0);

  if (empty)
    g_array_append_val (pool->idle, *pipe);
  else
    {
      pipe_close (pipe);
      pool->n_pipes--;
    }
  pipe->rd = pipe->wr = -1;
}

gsize
pk_pipe_pool_get_pipe_size (PkPipePool *pool)
{
  if (pool->pipe_size == 0)
    return pool->wanted_size > 0 ? pool->wanted_size : 65536;
  return pool->pipe_size;
}

guint
pk_pipe_pool_get_max_pipes (PkPipePool *pool)
{
  return pool->max_pipes;
}

guint
pk_pipe_pool_get_n_pipes (PkPipePool *pool)
{
  return pool->n_pipes;
}

guint
pk_pipe_pool_get_n_in_use (PkPipePool *pool)
{
  return pool->n_pipes - pool->idle->len;
}

guint64
pk_pipe_pool_get_n_exhausted (PkPipePool *pool)
{
  return pool->n_exhausted;
}

static GPrivate thread_pool = G_PRIVATE_INIT ((GDestroyNotify) pk_pipe_pool_unref);

PkPipePool *
pk_pipe_pool_get_thread_default (void)
{
  PkPipePool *pool = g_private_get (&thread_pool);

  if (pool == NULL)
    {
      pool = pk_pipe_pool_new (default_max_pipes, default_pipe_size);
      g_private_set (&thread_pool, pool);
    }
  return pool;
}

void
pk_pipe_pool_set_thread_default (PkPipePool *pool)
{
  g_private_replace (&thread_pool, pool != NULL ? pk_pipe_pool_ref (pool) : NULL);
}

void
pk_pipe_pool_set_defaults (guint max_pipes,
                           gsize pipe_size)
{
  default_max_pipes = max_pipes;
  default_pipe_size = pipe_size;
}
