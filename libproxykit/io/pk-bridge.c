/* pk-bridge.c: moves bytes both ways between two connected sockets
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkBridge:
 *
 * Moves bytes both ways between two connected sockets until both
 * directions have ended. It is the data path of every SOCKS session and
 * every TCP relay.
 *
 * Each direction reads from one socket and writes to the other. Bulk data
 * goes through a pipe with `splice(2)`, so that it never enters user space;
 * pipes come from a bounded pool of the thread the bridge runs in and go
 * back to it when a direction goes idle. Small transfers, and any transfer
 * while the pool is exhausted, are copied through a buffer shared by the
 * thread; a buffer of the bridge's own is allocated only while a peer does
 * not take what was read. An idle bridge therefore holds no buffer and no
 * pipe.
 *
 * EOF on one side becomes `shutdown(SHUT_WR)` on the other, so a
 * half-closed connection keeps working in the other direction. The bridge
 * ends when both directions have seen EOF and passed it on, on a socket
 * error, on cancellation, or after the idle timeout. Both sockets get
 * `TCP_NODELAY`, since data is forwarded as it arrives.
 *
 * Since a peer that goes away while a pipe is being spliced into its
 * socket raises `SIGPIPE`, the first bridge made in a process sets
 * `SIGPIPE` to `SIG_IGN` if it was at its default (which would kill the
 * process).
 *
 * ```c
 * static void
 * on_bridge_done (GObject *source, GAsyncResult *result, gpointer user_data)
 * {
 *   PkBridge *bridge = PK_BRIDGE (source);
 *   g_autoptr(GError) error = NULL;
 *
 *   if (!pk_bridge_run_finish (bridge, result, &error))
 *     g_debug ("session ended: %s", error->message);
 *   g_debug ("%" G_GUINT64_FORMAT " bytes up, %" G_GUINT64_FORMAT " down",
 *            pk_bridge_get_bytes_a_to_b (bridge),
 *            pk_bridge_get_bytes_b_to_a (bridge));
 * }
 *
 * g_autoptr(PkBridge) bridge = pk_bridge_new (client, upstream);
 * pk_bridge_set_idle_timeout (bridge, 300000);
 * pk_bridge_run_async (bridge, cancellable, on_bridge_done, session);
 * ```
 *
 * Since: 0.1
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pk-bridge.h"
#include "pk-bridge-private.h"
#include "pk-pipe-pool-private.h"
#include "pk-poller-private.h"
#include "pk-util-private.h"

/* Reads of the copy path go into a buffer of the thread of this size. */
#define COPY_CHUNK (64 * 1024)
/* A copy read at least this large means bulk data: the direction takes a
 * pipe and splices from then on. */
#define SPLICE_THRESHOLD (16 * 1024)
/* A direction that holds an empty pipe gives it back after this long
 * without data, so that idle sessions hold none. */
#define PIPE_LINGER_US (500 * G_TIME_SPAN_MILLISECOND)
/* Rounds of read+write per direction per wake-up, so that one busy session
 * cannot starve the others of its thread. */
#define ROUNDS_PER_DISPATCH 16

struct _PkBridge
{
  GObject parent_instance;

  GSocket *a;
  GSocket *b;
  guint idle_timeout_ms;
  gboolean use_default_pool;
  PkPipePool *pool;      /* set before the run */

  PkBridgeCore core;
  GTask *task;
  gboolean started;
};

G_DEFINE_FINAL_TYPE (PkBridge, pk_bridge, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_IDLE_TIMEOUT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static GPrivate scratch_key = G_PRIVATE_INIT (g_free);

static char *
scratch_buffer (void)
{
  char *buf = g_private_get (&scratch_key);

  if (G_UNLIKELY (buf == NULL))
    {
      buf = g_malloc (COPY_CHUNK);
      g_private_set (&scratch_key, buf);
    }
  return buf;
}

static void
pk_bridge_finalize (GObject *object)
{
  PkBridge *self = PK_BRIDGE (object);

  g_assert (self->task == NULL);
  g_clear_object (&self->a);
  g_clear_object (&self->b);
  g_clear_pointer (&self->pool, pk_pipe_pool_unref);

  G_OBJECT_CLASS (pk_bridge_parent_class)->finalize (object);
}

static void
pk_bridge_get_property (GObject    *object,
                        guint       prop_id,
                        GValue     *value,
                        GParamSpec *pspec)
{
  PkBridge *self = PK_BRIDGE (object);

  switch (prop_id)
    {
    case PROP_IDLE_TIMEOUT:
      g_value_set_uint (value, self->idle_timeout_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_bridge_set_property (GObject      *object,
                        guint         prop_id,
                        const GValue *value,
                        GParamSpec   *pspec)
{
  PkBridge *self = PK_BRIDGE (object);

  switch (prop_id)
    {
    case PROP_IDLE_TIMEOUT:
      pk_bridge_set_idle_timeout (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_bridge_class_init (PkBridgeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  struct sigaction sa;

  object_class->finalize = pk_bridge_finalize;
  object_class->get_property = pk_bridge_get_property;
  object_class->set_property = pk_bridge_set_property;

  /**
   * PkBridge:idle-timeout:
   *
   * Milliseconds without a byte in either direction after which the bridge
   * ends with %G_IO_ERROR_TIMED_OUT; 0 for none.
   *
   * Since: 0.1
   */
  properties[PROP_IDLE_TIMEOUT] =
    g_param_spec_uint ("idle-timeout", NULL, NULL,
                       0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* splice() into a socket whose peer is gone raises SIGPIPE (there is no
   * MSG_NOSIGNAL for it): a default disposition would kill the process. */
  if (sigaction (SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
    signal (SIGPIPE, SIG_IGN);
}

static void
pk_bridge_init (PkBridge *self)
{
  self->use_default_pool = TRUE;
}

/**
 * pk_bridge_new:
 * @a: a connected socket
 * @b: another connected socket
 *
 * Makes a bridge between @a and @b. The bridge takes a reference on each
 * socket and closes neither: its owner does, after
 * [method@Bridge.run_finish].
 *
 * Returns: (transfer full): a new bridge
 *
 * Since: 0.1
 */
PkBridge *
pk_bridge_new (GSocket *a,
               GSocket *b)
{
  PkBridge *self;

  g_return_val_if_fail (G_IS_SOCKET (a), NULL);
  g_return_val_if_fail (G_IS_SOCKET (b), NULL);
  g_return_val_if_fail (a != b, NULL);

  self = g_object_new (PK_TYPE_BRIDGE, NULL);
  self->a = g_object_ref (a);
  self->b = g_object_ref (b);
  return self;
}

/**
 * pk_bridge_set_idle_timeout:
 * @self: a bridge
 * @timeout_ms: milliseconds, 0 for none
 *
 * Ends the bridge with %G_IO_ERROR_TIMED_OUT when no byte has moved in
 * either direction for @timeout_ms. Set it before [method@Bridge.run_async].
 *
 * Since: 0.1
 */
void
pk_bridge_set_idle_timeout (PkBridge *self,
                            guint     timeout_ms)
{
  g_return_if_fail (PK_IS_BRIDGE (self));

  if (self->idle_timeout_ms == timeout_ms)
    return;
  self->idle_timeout_ms = timeout_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IDLE_TIMEOUT]);
}

/**
 * pk_bridge_get_idle_timeout:
 * @self: a bridge
 *
 * Gets the idle timeout in milliseconds, 0 for none.
 *
 * Returns: the idle timeout in milliseconds, 0 for none
 *
 * Since: 0.1
 */
guint
pk_bridge_get_idle_timeout (PkBridge *self)
{
  g_return_val_if_fail (PK_IS_BRIDGE (self), 0);

  return self->idle_timeout_ms;
}

/**
 * pk_bridge_get_bytes_a_to_b:
 * @self: a bridge
 *
 * Gets bytes written to b that were read from a so far.
 *
 * Returns: bytes written to b that were read from a so far
 *
 * Since: 0.1
 */
guint64
pk_bridge_get_bytes_a_to_b (PkBridge *self)
{
  g_return_val_if_fail (PK_IS_BRIDGE (self), 0);

  return self->core.dir[0].bytes;
}

/**
 * pk_bridge_get_bytes_b_to_a:
 * @self: a bridge
 *
 * Gets bytes written to a that were read from b so far.
 *
 * Returns: bytes written to a that were read from b so far
 *
 * Since: 0.1
 */
guint64
pk_bridge_get_bytes_b_to_a (PkBridge *self)
{
  g_return_val_if_fail (PK_IS_BRIDGE (self), 0);

  return self->core.dir[1].bytes;
}

void
pk_bridge_set_pipe_pool (PkBridge   *self,
                         PkPipePool *pool)
{
  g_return_if_fail (PK_IS_BRIDGE (self));
  g_return_if_fail (!self->started);

  g_clear_pointer (&self->pool, pk_pipe_pool_unref);
  self->use_default_pool = FALSE;
  if (pool != NULL)
    self->pool = pk_pipe_pool_ref (pool);
}

guint64
pk_bridge_get_bytes_spliced (PkBridge *self)
{
  g_return_val_if_fail (PK_IS_BRIDGE (self), 0);

  return self->core.dir[0].spliced + self->core.dir[1].spliced;
}

gboolean
pk_bridge_holds_buffers (PkBridge *self)
{
  g_return_val_if_fail (PK_IS_BRIDGE (self), FALSE);

  for (guint i = 0; i < 2; i++)
    if (self->core.dir[i].pending != NULL || self->core.dir[i].has_pipe)
      return TRUE;
  return FALSE;
}

/* --- the core, on descriptors --- */

static void
direction_release (PkBridgeCore      *core,
                   PkBridgeDirection *d)
{
  g_clear_pointer (&d->pending, g_free);
  d->pending_off = d->pending_len = 0;
  if (d->has_pipe)
    {
      pk_pipe_pool_give_back (core->pool, &d->pipe, d->pipe_fill == 0);
      d->has_pipe = FALSE;
      d->pipe_fill = 0;
    }
}

/* The end of a run: the watch goes first (with the sockets, when they
 * are to be closed), then what the directions hold; the owner hears of it
 * last since it may free the core. */
static void
core_complete (PkBridgeCore *core,
               GError       *error)
{
  PkPollerWatch *watch = g_steal_pointer (&core->watch);

  g_assert (watch != NULL);
  if (core->close_at_end)
    {
      /* Closed by the watch without an epoll_ctl() each; a socket the
       * watch never took (its epoll_ctl failed) here. */
      for (guint i = 0; i < 2; i++)
        if (pk_poller_watch_get_fd (watch, i) != core->dir[i].src)
          close (core->dir[i].src);
      pk_poller_watch_destroy_and_close (watch);
    }
  else
    pk_poller_watch_destroy (watch);
  direction_release (core, &core->dir[0]);
  direction_release (core, &core->dir[1]);
  g_clear_pointer (&core->pool, pk_pipe_pool_unref);
  core->done (core, error, core->user_data);
}

static GError *
socket_error (PkBridgeCore *core,
              int           fd,
              int           errsv,
              const char   *what)
{
  const char *side = fd == core->dir[0].src ? "a" : "b";

  return g_error_new (G_IO_ERROR, g_io_error_from_errno (errsv),
                      "%s on side %s: %s", what, side, g_strerror (errsv));
}

static void
pass_eof (PkBridgeCore      *core,
          PkBridgeDirection *d)
{
  PkBridgeDirection *other = d == &core->dir[0] ? &core->dir[1] : &core->dir[0];

  /* The last EOF of a run that closes the sockets at its end is passed
   * on by that close: both sockets have been read to their FIN, so the
   * close sends a FIN too, not a reset. ENOTCONN when the peer already
   * went away: nothing left to tell it. */
  if (!core->close_at_end || !other->done)
    shutdown (d->dst, SHUT_WR);
  d->done = TRUE;
  d->want = PK_BRIDGE_WANT_NONE;
}

static gboolean
take_pipe (PkBridgeCore      *core,
           PkBridgeDirection *d)
{
  if (core->pool == NULL || d->no_splice)
    return FALSE;
  if (!pk_pipe_pool_take (core->pool, &d->pipe))
    return FALSE;
  d->has_pipe = TRUE;
  d->pipe_fill = 0;
  d->maybe_full = FALSE;
  return TRUE;
}

/* Splices src -> pipe -> dst. Returns FALSE with @error set on a socket
 * error; otherwise sets d->want. */
static gboolean
run_splice (PkBridgeCore       *core,
            PkBridgeDirection  *d,
            gint64              now,
            GError            **error)
{
  gsize pipe_size = pk_pipe_pool_get_pipe_size (core->pool);

  for (guint round = 0; round < ROUNDS_PER_DISPATCH; round++)
    {
      gboolean progress = FALSE;
      gboolean out_blocked = FALSE;

      if (d->pipe_fill > 0)
        {
          ssize_t n = splice (d->pipe.rd, NULL, d->dst, NULL, d->pipe_fill,
                              SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
          if (n > 0)
            {
              d->pipe_fill -= n;
              d->bytes += n;
              d->spliced += n;
              d->maybe_full = FALSE;
              d->last_activity = core->last_activity = now;
              progress = TRUE;
            }
          else if (n < 0 && errno == EAGAIN)
            out_blocked = TRUE;
          else if (n < 0 && errno != EINTR)
            {
              *error = socket_error (core, d->dst, errno, "Sending");
              return FALSE;
            }
        }

      if (d->pipe_fill == 0 && d->eof)
        {
          pass_eof (core, d);
          return TRUE;
        }

      if (!d->eof && !d->maybe_full && d->pipe_fill < pipe_size)
        {
          /* Never more than the pipe can hold: kernels since 6.8 refuse
           * lengths beyond it. */
          ssize_t n = splice (d->src, NULL, d->pipe.wr, NULL, pipe_size - d->pipe_fill,
                              SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
          if (n > 0)
            {
              d->pipe_fill += n;
              progress = TRUE;
            }
          else if (n == 0)
            {
              d->eof = TRUE;
              progress = TRUE;
            }
          else if (errno == EAGAIN)
            {
              /* Either the socket is empty or the pipe has no free slot
               * (a slot per skb fragment, so it can be full before
               * pipe_size bytes): with data in the pipe, wait for the
               * destination before reading again. */
              if (d->pipe_fill > 0)
                d->maybe_full = TRUE;
              else
                {
                  d->want = PK_BRIDGE_WANT_IN;
                  return TRUE;
                }
            }
          else if (errno == EINVAL && d->pipe_fill == 0 && d->bytes == 0)
            {
              /* Not a socket pair the kernel splices: copy from now on. */
              d->no_splice = TRUE;
              direction_release (core, d);
              d->want = PK_BRIDGE_WANT_IN;
              return TRUE;
            }
          else if (errno != EINTR)
            {
              *error = socket_error (core, d->src, errno, "Receiving");
              return FALSE;
            }
        }

      if (out_blocked)
        {
          d->want = PK_BRIDGE_WANT_OUT;
          if (!d->eof && !d->maybe_full && d->pipe_fill < pipe_size)
            d->want |= PK_BRIDGE_WANT_IN;
          return TRUE;
        }
      if (!progress)
        break;
    }

  /* Out of rounds: ask to be woken for whatever comes next. */
  d->want = d->pipe_fill > 0 ? PK_BRIDGE_WANT_OUT : PK_BRIDGE_WANT_IN;
  return TRUE;
}

/* Copies src -> dst through the thread's buffer; what dst does not take
 * goes into a buffer of the direction until it does. */
static gboolean
run_copy (PkBridgeCore       *core,
          PkBridgeDirection  *d,
          gint64              now,
          GError            **error)
{
  for (guint round = 0; round < ROUNDS_PER_DISPATCH; round++)
    {
      char *buf;
      ssize_t n, m;

      if (d->pending != NULL)
        {
          m = send (d->dst, d->pending + d->pending_off, d->pending_len - d->pending_off,
                    MSG_NOSIGNAL | MSG_DONTWAIT);
          if (m < 0)
            {
              if (errno == EAGAIN || errno == EINTR)
                {
                  d->want = PK_BRIDGE_WANT_OUT;
                  return TRUE;
                }
              *error = socket_error (core, d->dst, errno, "Sending");
              return FALSE;
            }
          d->pending_off += m;
          d->bytes += m;
          d->last_activity = core->last_activity = now;
          if (d->pending_off < d->pending_len)
            {
              d->want = PK_BRIDGE_WANT_OUT;
              return TRUE;
            }
          g_clear_pointer (&d->pending, g_free);
          d->pending_off = d->pending_len = 0;
        }

      if (d->eof)
        {
          pass_eof (core, d);
          return TRUE;
        }

      buf = scratch_buffer ();
      n = recv (d->src, buf, COPY_CHUNK, MSG_DONTWAIT);
      if (n < 0)
        {
          if (errno == EAGAIN || errno == EINTR)
            {
              d->want = PK_BRIDGE_WANT_IN;
              return TRUE;
            }
          *error = socket_error (core, d->src, errno, "Receiving");
          return FALSE;
        }
      if (n == 0)
        {
          d->eof = TRUE;
          continue;
        }

      m = send (d->dst, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (m < 0)
        {
          if (errno != EAGAIN && errno != EINTR)
            {
              *error = socket_error (core, d->dst, errno, "Sending");
              return FALSE;
            }
          m = 0;
        }
      d->bytes += m;
      d->last_activity = core->last_activity = now;
      if (m < n)
        {
          d->pending = g_memdup2 (buf + m, n - m);
          d->pending_off = 0;
          d->pending_len = n - m;
          d->want = PK_BRIDGE_WANT_OUT;
          return TRUE;
        }
      if (n >= SPLICE_THRESHOLD && take_pipe (core, d))
        return run_splice (core, d, now, error);
      /* Less than asked for: the socket is most likely empty now, and
       * another recv() would only say EAGAIN. The poll says when more
       * comes (EOF included). */
      if (n < COPY_CHUNK)
        {
          d->want = PK_BRIDGE_WANT_IN;
          return TRUE;
        }
    }

  d->want = d->pending != NULL ? PK_BRIDGE_WANT_OUT : PK_BRIDGE_WANT_IN;
  return TRUE;
}

static gboolean
direction_run (PkBridgeCore       *core,
               PkBridgeDirection  *d,
               gint64              now,
               GError            **error)
{
  if (d->has_pipe)
    return run_splice (core, d, now, error);
  return run_copy (core, d, now, error);
}

static GIOCondition
fd_events (PkBridgeCore *core,
           int           fd)
{
  GIOCondition events = 0;

  for (guint i = 0; i < 2; i++)
    {
      PkBridgeDirection *d = &core->dir[i];

      if ((d->want & PK_BRIDGE_WANT_IN) && d->src == fd)
        events |= G_IO_IN;
      if ((d->want & PK_BRIDGE_WANT_OUT) && d->dst == fd)
        events |= G_IO_OUT;
    }
  return events;
}

/* Arms the source's timer for the earliest deadline: the idle timeout and
 * the linger of held, empty pipes. Deadlines only move later as data
 * flows, so the timer is armed only when it is not, and re-armed when it
 * fires early. */
static void
update_timer (PkBridgeCore *core,
              gint64        now,
              gboolean      force)
{
  gint64 deadline = G_MAXINT64;

  if (!force && pk_poller_watch_get_deadline (core->watch) != -1)
    return;
  if (core->idle_timeout_ms > 0)
    deadline = core->last_activity + (gint64) core->idle_timeout_ms * G_TIME_SPAN_MILLISECOND;
  for (guint i = 0; i < 2; i++)
    {
      PkBridgeDirection *d = &core->dir[i];

      if (d->has_pipe && d->pipe_fill == 0)
        deadline = MIN (deadline, d->last_activity + PIPE_LINGER_US);
    }
  if (core->call_func != NULL)
    deadline = MIN (deadline, core->call_at);
  pk_poller_watch_set_deadline (core->watch, deadline == G_MAXINT64 ? -1 : MAX (deadline, now));
}

/* One side ready (@slot 0: a, 1: b), the deadline passed (@slot -1), or
 * the run was cancelled. */
static void
core_watch_cb (PkPollerWatch *watch,
               int            slot,
               GIOCondition   condition,
               gpointer       user_data)
{
  PkBridgeCore *core = user_data;
  GIOCondition ra = slot == 0 ? condition : 0;
  GIOCondition rb = slot == 1 ? condition : 0;
  gint64 now = pk_poller_watch_get_time (watch);
  GError *error = NULL;
  GIOCondition ea, eb;
  gboolean timer = slot == -1;

  if (slot == PK_POLLER_CANCELLED)
    {
      core_complete (core, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                "Operation was cancelled"));
      return;
    }

  for (guint i = 0; i < 2; i++)
    {
      PkBridgeDirection *d = &core->dir[i];
      GIOCondition rsrc = i == 0 ? ra : rb;
      GIOCondition rdst = i == 0 ? rb : ra;

      if (d->done)
        continue;
      /* Errors and hang-ups show in any condition; the read or write that
       * follows reports them. */
      if (((d->want & PK_BRIDGE_WANT_IN) && (rsrc & (G_IO_IN | G_IO_HUP | G_IO_ERR))) ||
          ((d->want & PK_BRIDGE_WANT_OUT) && (rdst & (G_IO_OUT | G_IO_HUP | G_IO_ERR))))
        {
          if (!direction_run (core, d, now, &error))
            {
              core_complete (core, error);
              return;
            }
        }
    }

  if (core->dir[0].done && core->dir[1].done)
    {
      core_complete (core, NULL);
      return;
    }

  if (timer)
    {
      if (core->idle_timeout_ms > 0 &&
          now - core->last_activity >= (gint64) core->idle_timeout_ms * G_TIME_SPAN_MILLISECOND)
        {
          core_complete (core, g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                            "No data in either direction for %u ms",
                                            core->idle_timeout_ms));
          return;
        }
      for (guint i = 0; i < 2; i++)
        {
          PkBridgeDirection *d = &core->dir[i];

          if (d->has_pipe && d->pipe_fill == 0 && now - d->last_activity >= PIPE_LINGER_US)
            direction_release (core, d);
        }
      if (core->call_func != NULL && now >= core->call_at)
        {
          PkBridgeCoreFunc func = core->call_func;

          core->call_func = NULL;
          func (core, core->user_data);
        }
    }

  /* Each change is an epoll_ctl(): change only what changed. */
  ea = fd_events (core, core->dir[0].src);
  eb = fd_events (core, core->dir[1].src);
  if (ea != pk_poller_watch_get_events (watch, 0))
    pk_poller_watch_set_events (watch, 0, ea);
  if (eb != pk_poller_watch_get_events (watch, 1))
    pk_poller_watch_set_events (watch, 1, eb);
  update_timer (core, now, timer);
}

gboolean
pk_bridge_core_start (PkBridgeCore     *core,
                      int               a,
                      int               b,
                      PkPollerWatch    *watch,
                      PkPipePool       *pool,
                      guint             idle_timeout_ms,
                      gboolean          close_at_end,
                      PkBridgeCoreDone  done,
                      gpointer          user_data)
{
  GError *error = NULL;
  gint64 now = g_get_monotonic_time ();

  memset (core, 0, sizeof *core);
  core->watch = watch;
  core->pool = pool != NULL ? pk_pipe_pool_ref (pool) : NULL;
  core->idle_timeout_ms = idle_timeout_ms;
  core->close_at_end = close_at_end;
  core->done = done;
  core->user_data = user_data;
  core->last_activity = now;
  for (guint i = 0; i < 2; i++)
    {
      PkBridgeDirection *d = &core->dir[i];

      d->src = i == 0 ? a : b;
      d->dst = i == 0 ? b : a;
      d->pipe.rd = d->pipe.wr = -1;
      d->last_activity = now;
      d->want = PK_BRIDGE_WANT_IN;
    }

  /* One epoll set per context rather than a source per bridge: see
   * pk-poller-private.h. A socket already in the watch (a connect's, or
   * a SOCKS session's client) only changes its events. */
  pk_poller_watch_set_func (watch, core_watch_cb, core);
  if (pk_poller_watch_get_fd (watch, 0) == a)
    pk_poller_watch_set_events (watch, 0, G_IO_IN);
  else if (!pk_poller_watch_set_fd (watch, 0, a, G_IO_IN, &error))
    {
      core_complete (core, error);
      return FALSE;
    }
  if (pk_poller_watch_get_fd (watch, 1) == b)
    pk_poller_watch_set_events (watch, 1, G_IO_IN);
  else if (!pk_poller_watch_set_fd (watch, 1, b, G_IO_IN, &error))
    {
      core_complete (core, error);
      return FALSE;
    }
  update_timer (core, now, TRUE);
  return TRUE;
}

void
pk_bridge_core_call_at (PkBridgeCore     *core,
                        gint64            at,
                        PkBridgeCoreFunc  func)
{
  g_return_if_fail (core->watch != NULL);

  core->call_at = at;
  core->call_func = func;
  update_timer (core, pk_poller_watch_get_time (core->watch), TRUE);
}

/* --- the object --- */

static void
bridge_done (PkBridgeCore *core,
             GError       *error,
             gpointer      user_data)
{
  PkBridge *self = user_data;
  GTask *task = g_steal_pointer (&self->task);

  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

/**
 * pk_bridge_run_async:
 * @self: a bridge
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when both directions have ended
 * @user_data: data for @callback
 *
 * Moves bytes both ways, in the thread-default main context of the caller,
 * until both directions have ended: EOF on one side becomes
 * `shutdown(SHUT_WR)` on the other, so a half-closed connection keeps
 * working the other way. A bridge runs once.
 *
 * Since: 0.1
 */
void
pk_bridge_run_async (PkBridge            *self,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  PkPollerWatch *watch;
  PkPoller *poller;
  GError *error = NULL;
  int a, b;

  g_return_if_fail (PK_IS_BRIDGE (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  g_return_if_fail (!self->started);

  self->started = TRUE;
  self->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (self->task, pk_bridge_run_async);
  g_task_set_name (self->task, "[proxykit] bridge");

  if (g_task_return_error_if_cancelled (self->task))
    {
      g_clear_object (&self->task);
      return;
    }

  poller = pk_poller_get_thread_default (&error);
  if (poller == NULL)
    {
      g_task_return_error (self->task, error);
      g_clear_object (&self->task);
      return;
    }

  if (self->use_default_pool)
    self->pool = pk_pipe_pool_ref (pk_pipe_pool_get_thread_default ());

  a = g_socket_get_fd (self->a);
  b = g_socket_get_fd (self->b);
  pk_socket_set_nodelay (a);
  pk_socket_set_nodelay (b);

  watch = pk_poller_watch_new (poller, core_watch_cb, &self->core);
  /* Cancelled from any thread: the poller brings it here. */
  if (cancellable != NULL)
    pk_poller_watch_set_cancellable (watch, cancellable);
  pk_bridge_core_start (&self->core, a, b, watch, self->pool, self->idle_timeout_ms, FALSE,
                        bridge_done, self);
}

/**
 * pk_bridge_run_finish:
 * @self: a bridge
 * @result: the result passed to the callback
 * @error: return location for an error
 *
 * Finishes [method@Bridge.run_async]. The byte counters are valid either
 * way.
 *
 * Returns: %TRUE when both directions ended with EOF; %FALSE with
 *   %G_IO_ERROR_TIMED_OUT on idle timeout, %G_IO_ERROR_CANCELLED, or the
 *   socket error (%G_IO_ERROR_CONNECTION_CLOSED for a reset)
 *
 * Since: 0.1
 */
gboolean
pk_bridge_run_finish (PkBridge      *self,
                      GAsyncResult  *result,
                      GError       **error)
{
  g_return_val_if_fail (PK_IS_BRIDGE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pk_bridge_run_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
