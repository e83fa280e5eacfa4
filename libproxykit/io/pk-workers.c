/* pk-workers.c: worker threads, each with its own main context and listeners
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkWorkers:
 *
 * A fixed set of threads (by default one per CPU), each running its own
 * `GMainContext`. A listener gets one listening socket per worker, all bound
 * to one port with `SO_REUSEPORT`, so that the kernel spreads new
 * connections across the workers and no lock or hand-off sits between
 * accept and the data path. A connection stays on the thread that accepted
 * it for its whole life: the accept callback runs there with the worker's
 * context as the thread-default one, and everything the session starts
 * (handshake, [class@Bridge]) runs there too. Each worker has its own pool
 * of pipes for splicing.
 *
 * Name resolution does not run on the workers: [method@Egress.resolve_async]
 * goes through GResolver, whose lookups run in GLib's thread pool.
 *
 * [func@Workers.raise_fd_limit] raises the soft `RLIMIT_NOFILE` to the hard
 * limit; [method@Workers.start] does so and logs how many sessions the
 * limit allows.
 *
 * ```c
 * static void
 * on_accepted (GSocket *client, guint worker, gpointer user_data)
 * {
 *   // on the worker's thread; its context is the thread-default one
 *   start_session (user_data, client);
 * }
 *
 * g_autoptr(PkWorkers) workers = pk_workers_new (0);
 * g_autoptr(GSocketAddress) address = g_inet_socket_address_new_from_string ("127.0.0.1", 1080);
 *
 * if (!pk_workers_start (workers, &error) ||
 *     pk_workers_listen (workers, address, on_accepted, server, NULL, &error) == 0)
 *   g_printerr ("%s\n", error->message);
 * ```
 *
 * Since: 0.1
 */

#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "pk-workers-private.h"
#include "pk-acceptor-private.h"
#include "pk-pipe-pool-private.h"
#include "pk-poller-private.h"
#include "pk-util-private.h"

/* Descriptors kept aside for everything that is not a session. */
#define FD_RESERVE 64

typedef struct _Listener Listener;

typedef struct
{
  PkWorkers *owner;
  guint index;
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  PkPipePool *pool;
  guint64 n_accepted;   /* written by this worker only */
} Worker;

/* One listener's socket on one worker; touched only on that worker's
 * thread once attached. */
typedef struct
{
  Listener *listener;
  guint worker;
  GMainContext *context;   /* the worker's */
  GSocket *socket;
  PkAcceptor *acceptor;
  GError *error;           /* of attaching it */
} WorkerSocket;

struct _Listener
{
  guint id;
  PkWorkersAcceptFunc accepted;      /* or: */
  PkWorkersAcceptFdFunc accepted_fd;
  gpointer user_data;
  GDestroyNotify destroy;
  GSocketAddress *address;
  WorkerSocket *per_worker;  /* n_workers */
};

struct _PkWorkers
{
  GObject parent_instance;

  guint n_workers;
  gboolean reuse_port;
  guint max_pipes;
  guint pipe_size;
  Worker *workers;
  gboolean started;
  GHashTable *listeners;    /* id -> Listener */
  guint next_id;
};

G_DEFINE_FINAL_TYPE (PkWorkers, pk_workers, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_N_WORKERS,
  PROP_REUSE_PORT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static GPrivate current_worker;

static void listener_free (PkWorkers *self, Listener *listener);

static void
pk_workers_dispose (GObject *object)
{
  PkWorkers *self = PK_WORKERS (object);

  pk_workers_stop (self);

  G_OBJECT_CLASS (pk_workers_parent_class)->dispose (object);
}

static void
pk_workers_finalize (GObject *object)
{
  PkWorkers *self = PK_WORKERS (object);

  for (guint i = 0; i < self->n_workers; i++)
    {
      Worker *w = &self->workers[i];

      g_clear_pointer (&w->loop, g_main_loop_unref);
      g_clear_pointer (&w->context, g_main_context_unref);
      g_clear_pointer (&w->pool, pk_pipe_pool_unref);
    }
  g_free (self->workers);
  g_hash_table_unref (self->listeners);

  G_OBJECT_CLASS (pk_workers_parent_class)->finalize (object);
}

static void
pk_workers_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  PkWorkers *self = PK_WORKERS (object);

  switch (prop_id)
    {
    case PROP_N_WORKERS:
      g_value_set_uint (value, self->n_workers);
      break;
    case PROP_REUSE_PORT:
      g_value_set_boolean (value, self->reuse_port);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_workers_set_property (GObject      *object,
                         guint         prop_id,
                         const GValue *value,
                         GParamSpec   *pspec)
{
  PkWorkers *self = PK_WORKERS (object);

  switch (prop_id)
    {
    case PROP_N_WORKERS:
      self->n_workers = g_value_get_uint (value);
      break;
    case PROP_REUSE_PORT:
      pk_workers_set_reuse_port (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_workers_constructed (GObject *object)
{
  PkWorkers *self = PK_WORKERS (object);

  G_OBJECT_CLASS (pk_workers_parent_class)->constructed (object);

  if (self->n_workers == 0)
    self->n_workers = MAX (1, g_get_num_processors ());
  self->workers = g_new0 (Worker, self->n_workers);
  for (guint i = 0; i < self->n_workers; i++)
    {
      Worker *w = &self->workers[i];

      w->owner = self;
      w->index = i;
      w->context = g_main_context_new ();
      w->loop = g_main_loop_new (w->context, FALSE);
      w->pool = pk_pipe_pool_new (self->max_pipes, self->pipe_size);
    }
}

static void
pk_workers_class_init (PkWorkersClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pk_workers_dispose;
  object_class->finalize = pk_workers_finalize;
  object_class->get_property = pk_workers_get_property;
  object_class->set_property = pk_workers_set_property;
  object_class->constructed = pk_workers_constructed;

  /**
   * PkWorkers:n-workers:
   *
   * How many worker threads; 0 at construction means one per online CPU.
   *
   * Since: 0.1
   */
  properties[PROP_N_WORKERS] =
    g_param_spec_uint ("n-workers", NULL, NULL,
                       0, 1024, 0,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                       G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * PkWorkers:reuse-port:
   *
   * Whether the listening sockets of [method@Workers.listen] may share
   * their port with other processes. See [method@Workers.set_reuse_port].
   *
   * Since: 0.2
   */
  properties[PROP_REUSE_PORT] =
    g_param_spec_boolean ("reuse-port", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
pk_workers_init (PkWorkers *self)
{
  self->listeners = g_hash_table_new (NULL, NULL);
  self->next_id = 1;
  self->max_pipes = PK_PIPE_POOL_DEFAULT_MAX_PIPES;
  self->pipe_size = PK_PIPE_POOL_DEFAULT_PIPE_SIZE;
}

/**
 * pk_workers_new:
 * @n_workers: how many threads; 0 for one per online CPU
 *
 * Makes the workers; [method@Workers.start] starts their threads.
 *
 * Returns: (transfer full): new workers
 *
 * Since: 0.1
 */
PkWorkers *
pk_workers_new (guint n_workers)
{
  return g_object_new (PK_TYPE_WORKERS, "n-workers", n_workers, NULL);
}

/**
 * pk_workers_get_n_workers:
 * @self: workers
 *
 * Gets the number of worker threads.
 *
 * Returns: the number of worker threads
 *
 * Since: 0.1
 */
guint
pk_workers_get_n_workers (PkWorkers *self)
{
  g_return_val_if_fail (PK_IS_WORKERS (self), 0);

  return self->n_workers;
}

/**
 * pk_workers_get_context:
 * @self: workers
 * @worker: a worker index
 *
 * Gets the main context the worker runs.
 *
 * Returns: (transfer none): the main context the worker runs
 *
 * Since: 0.1
 */
GMainContext *
pk_workers_get_context (PkWorkers *self,
                        guint      worker)
{
  g_return_val_if_fail (PK_IS_WORKERS (self), NULL);
  g_return_val_if_fail (worker < self->n_workers, NULL);

  return self->workers[worker].context;
}

/**
 * pk_workers_set_reuse_port:
 * @self: workers
 * @reuse_port: %TRUE to let other processes listen on the same ports
 *
 * By default the sockets of a listener share its port among the workers
 * of this process only: [method@Workers.listen] claims the port with its
 * first socket before the others join it with `SO_REUSEPORT`, so that a
 * port another process listens on fails with
 * %G_IO_ERROR_ADDRESS_IN_USE, and a second instance started by mistake
 * cannot take half of the connections (of a port that wants a password,
 * say). With @reuse_port, every socket is bound with `SO_REUSEPORT` from
 * the start: another process that does the same (as user, the same one)
 * shares the port and the kernel spreads connections across both, which
 * a restart without downtime can use. Listeners made afterwards follow
 * the setting.
 *
 * Since: 0.2
 */
void
pk_workers_set_reuse_port (PkWorkers *self,
                           gboolean   reuse_port)
{
  g_return_if_fail (PK_IS_WORKERS (self));

  reuse_port = !!reuse_port;
  if (self->reuse_port == reuse_port)
    return;
  self->reuse_port = reuse_port;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REUSE_PORT]);
}

/**
 * pk_workers_get_reuse_port:
 * @self: workers
 *
 * Gets whether listeners may share their ports with other processes: see
 * [method@Workers.set_reuse_port].
 *
 * Returns: whether listeners may share their ports with other processes
 *
 * Since: 0.2
 */
gboolean
pk_workers_get_reuse_port (PkWorkers *self)
{
  g_return_val_if_fail (PK_IS_WORKERS (self), FALSE);

  return self->reuse_port;
}

/**
 * pk_workers_set_splice_pipes:
 * @self: workers
 * @max_pipes: most pipes per worker (0: no splicing, bridges copy)
 * @pipe_size: bytes per pipe (`F_SETPIPE_SZ`; 0 for the kernel default)
 *
 * Sizes the pipe pool of each worker: a bridge that moves bulk data takes
 * a pipe per direction while data flows and copies when none is free.
 * The default is 256 pipes of 256 KiB. Call it before
 * [method@Workers.start].
 *
 * Since: 0.1
 */
void
pk_workers_set_splice_pipes (PkWorkers *self,
                             guint      max_pipes,
                             guint      pipe_size)
{
  g_return_if_fail (PK_IS_WORKERS (self));
  g_return_if_fail (!self->started);

  self->max_pipes = max_pipes;
  self->pipe_size = pipe_size;
  for (guint i = 0; i < self->n_workers; i++)
    {
      g_clear_pointer (&self->workers[i].pool, pk_pipe_pool_unref);
      self->workers[i].pool = pk_pipe_pool_new (max_pipes, pipe_size);
    }
}

/**
 * pk_workers_get_current:
 * @self: workers
 *
 * Gets the index of the worker whose thread calls this, or -1 when the caller
 * is not one of them.
 *
 * Returns: the index of the worker whose thread calls this, or -1 when the
 *   caller is not one of them
 *
 * Since: 0.1
 */
int
pk_workers_get_current (PkWorkers *self)
{
  Worker *w = g_private_get (&current_worker);

  g_return_val_if_fail (PK_IS_WORKERS (self), -1);

  return w != NULL && w->owner == self ? (int) w->index : -1;
}

/**
 * pk_workers_get_n_accepted:
 * @self: workers
 * @worker: a worker index
 *
 * Tells how many connections the worker has accepted.
 *
 * Returns: how many connections the worker has accepted
 *
 * Since: 0.1
 */
guint64
pk_workers_get_n_accepted (PkWorkers *self,
                           guint      worker)
{
  g_return_val_if_fail (PK_IS_WORKERS (self), 0);
  g_return_val_if_fail (worker < self->n_workers, 0);

  return __atomic_load_n (&self->workers[worker].n_accepted, __ATOMIC_RELAXED);
}

/**
 * pk_workers_raise_fd_limit:
 *
 * Raises the soft `RLIMIT_NOFILE` of the process to its hard limit: each
 * proxied session holds two descriptors, and the usual soft limit of 1024
 * would cap a node at about 500 sessions.
 *
 * Returns: the soft limit in force afterwards
 *
 * Since: 0.1
 */
guint64
pk_workers_raise_fd_limit (void)
{
  struct rlimit rl;

  if (getrlimit (RLIMIT_NOFILE, &rl) < 0)
    return 1024;
  if (rl.rlim_cur < rl.rlim_max)
    {
      rlim_t old = rl.rlim_cur;

      rl.rlim_cur = rl.rlim_max;
      if (setrlimit (RLIMIT_NOFILE, &rl) < 0)
        {
          g_warning ("Cannot raise the open-file limit from %" G_GUINT64_FORMAT
                     " to %" G_GUINT64_FORMAT ": %s",
                     (guint64) old, (guint64) rl.rlim_max, g_strerror (errno));
          rl.rlim_cur = old;
        }
    }
  return rl.rlim_cur == RLIM_INFINITY ? G_MAXUINT64 : (guint64) rl.rlim_cur;
}

static gpointer
worker_thread (gpointer data)
{
  Worker *w = data;

  g_private_set (&current_worker, w);
  pk_pipe_pool_set_thread_default (w->pool);
  g_main_context_push_thread_default (w->context);
  g_main_loop_run (w->loop);
  g_main_context_pop_thread_default (w->context);
  pk_pipe_pool_set_thread_default (NULL);
  g_private_set (&current_worker, NULL);
  return NULL;
}

/**
 * pk_workers_start:
 * @self: workers
 * @error: return location for an error
 *
 * Raises the open-file limit (see [func@Workers.raise_fd_limit]), logs how
 * many sessions it allows, and starts the worker threads. Calling it again
 * does nothing.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
pk_workers_start (PkWorkers  *self,
                  GError    **error)
{
  guint64 limit, pipe_fds, sessions;

  g_return_val_if_fail (PK_IS_WORKERS (self), FALSE);

  if (self->started)
    return TRUE;

  limit = pk_workers_raise_fd_limit ();
  pipe_fds = (guint64) self->n_workers * self->max_pipes * 2;
  sessions = limit > pipe_fds + FD_RESERVE ? (limit - pipe_fds - FD_RESERVE) / 2 : 0;
  g_message ("%u worker thread%s; open-file limit %" G_GUINT64_FORMAT
             ": room for about %" G_GUINT64_FORMAT " proxied sessions"
             " (2 descriptors each, %" G_GUINT64_FORMAT " kept for splice pipes)",
             self->n_workers, self->n_workers == 1 ? "" : "s", limit, sessions, pipe_fds);

  /* What a worker needs for its sessions is made now, so that running
   * out of descriptors later refuses a session rather than a worker. */
  for (guint i = 0; i < self->n_workers; i++)
    if (pk_poller_get_for_context (self->workers[i].context, error) == NULL)
      {
        g_prefix_error (error, "worker %u: ", i);
        return FALSE;
      }

  for (guint i = 0; i < self->n_workers; i++)
    {
      Worker *w = &self->workers[i];
      g_autofree char *name = g_strdup_printf ("pk-worker-%u", i);

      w->thread = g_thread_try_new (name, worker_thread, w, error);
      if (w->thread == NULL)
        {
          self->started = TRUE;
          pk_workers_stop (self);
          return FALSE;
        }
    }
  self->started = TRUE;
  return TRUE;
}

/* Runs @func on the worker's thread and waits for it: afterwards the
 * worker is not inside any callback that was running before. */
typedef struct
{
  GSourceFunc func;
  gpointer data;
  GMutex lock;
  GCond cond;
  gboolean done;
} SyncCall;

static gboolean
sync_call_cb (gpointer user_data)
{
  SyncCall *call = user_data;

  if (call->func != NULL)
    call->func (call->data);
  g_mutex_lock (&call->lock);
  call->done = TRUE;
  g_cond_signal (&call->cond);
  g_mutex_unlock (&call->lock);
  return G_SOURCE_REMOVE;
}

static void
worker_run_sync (PkWorkers   *self,
                 Worker      *w,
                 GSourceFunc  func,
                 gpointer     data)
{
  SyncCall call = { func, data };

  if (!self->started || w->thread == NULL || g_private_get (&current_worker) == w)
    {
      if (func != NULL)
        func (data);
      return;
    }
  g_mutex_init (&call.lock);
  g_cond_init (&call.cond);
  g_main_context_invoke (w->context, sync_call_cb, &call);
  g_mutex_lock (&call.lock);
  while (!call.done)
    g_cond_wait (&call.cond, &call.lock);
  g_mutex_unlock (&call.lock);
  g_mutex_clear (&call.lock);
  g_cond_clear (&call.cond);
}

static gboolean
detach_socket (gpointer data)
{
  WorkerSocket *ws = data;

  g_clear_pointer (&ws->acceptor, pk_acceptor_free);
  return G_SOURCE_REMOVE;
}

static gboolean
quit_loop_cb (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

/**
 * pk_workers_stop:
 * @self: workers
 *
 * Removes every listener, stops the worker threads and waits for them.
 * Sessions still running in a worker's context are dropped with it: stop
 * the services that own them first.
 *
 * Since: 0.1
 */
void
pk_workers_stop (PkWorkers *self)
{
  GHashTableIter iter;
  gpointer value;

  g_return_if_fail (PK_IS_WORKERS (self));

  g_hash_table_iter_init (&iter, self->listeners);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      listener_free (self, value);
      g_hash_table_iter_remove (&iter);
    }

  if (!self->started)
    return;
  for (guint i = 0; i < self->n_workers; i++)
    if (self->workers[i].thread != NULL)
      {
        /* From inside the loop: a g_main_loop_quit() from here, before
         * the thread got as far as g_main_loop_run(), would be lost. */
        GSource *quit = g_idle_source_new ();

        g_source_set_callback (quit, quit_loop_cb, self->workers[i].loop, NULL);
        g_source_set_static_name (quit, "[proxykit] worker quit");
        g_source_attach (quit, self->workers[i].context);
        g_source_unref (quit);
      }
  for (guint i = 0; i < self->n_workers; i++)
    if (self->workers[i].thread != NULL)
      g_thread_join (g_steal_pointer (&self->workers[i].thread));
  self->started = FALSE;
}

/* On the worker's thread. */
static void
accepted_cb (int               fd,
             const PkSockaddr *peer,
             gpointer          data)
{
  WorkerSocket *ws = data;
  Listener *listener = ws->listener;
  Worker *w = g_private_get (&current_worker);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) client = NULL;

  if (w != NULL)
    __atomic_store_n (&w->n_accepted, w->n_accepted + 1, __ATOMIC_RELAXED);
  if (listener->accepted_fd != NULL)
    {
      listener->accepted_fd (fd, peer, ws->worker, listener->user_data);
      return;
    }
  client = pk_socket_new_accepted (fd, peer, &error);
  if (client == NULL)
    {
      g_debug ("accept on worker %u: %s", ws->worker, error->message);
      return;
    }
  listener->accepted (client, ws->worker, listener->user_data);
}

/* On the worker's thread, or before it runs. */
static gboolean
attach_socket (gpointer data)
{
  WorkerSocket *ws = data;
  g_autofree char *name = g_strdup_printf ("worker %u", ws->worker);

  ws->acceptor = pk_acceptor_new (ws->context, ws->socket, name, accepted_cb, ws, &ws->error);
  return G_SOURCE_REMOVE;
}

static void
listener_free (PkWorkers *self,
               Listener  *listener)
{
  for (guint i = 0; i < self->n_workers; i++)
    {
      WorkerSocket *ws = &listener->per_worker[i];

      worker_run_sync (self, &self->workers[i], detach_socket, ws);
      if (ws->socket != NULL)
        g_socket_close (ws->socket, NULL);
      g_clear_object (&ws->socket);
    }
  if (listener->destroy != NULL)
    listener->destroy (listener->user_data);
  g_clear_object (&listener->address);
  g_free (listener->per_worker);
  g_free (listener);
}

static guint add_sockets (PkWorkers *self, GPtrArray *sockets, PkWorkersAcceptFunc accepted,
                          PkWorkersAcceptFdFunc accepted_fd, gpointer user_data,
                          GDestroyNotify destroy, GError **error);

/**
 * pk_workers_add_sockets:
 * @self: workers
 * @sockets: (element-type GSocket): one listening socket per worker
 * @accepted: (scope notified): called on the worker's thread per client
 * @user_data: data for @accepted
 * @destroy: (nullable): frees @user_data when the listener is removed
 * @error: return location for an error
 *
 * Serves listening sockets made by the caller (bound, listening and
 * sharing one port with `SO_REUSEPORT`), one per worker, in that order.
 * They get `TCP_NODELAY`, which the clients they accept inherit.
 *
 * Returns: a listener id, or 0 with @error set
 *
 * Since: 0.1
 */
guint
pk_workers_add_sockets (PkWorkers           *self,
                        GPtrArray           *sockets,
                        PkWorkersAcceptFunc  accepted,
                        gpointer             user_data,
                        GDestroyNotify       destroy,
                        GError             **error)
{
  g_return_val_if_fail (PK_IS_WORKERS (self), 0);
  g_return_val_if_fail (sockets != NULL, 0);
  g_return_val_if_fail (accepted != NULL, 0);

  for (guint i = 0; i < sockets->len; i++)
    pk_socket_set_nodelay (g_socket_get_fd (g_ptr_array_index (sockets, i)));
  return add_sockets (self, sockets, accepted, NULL, user_data, destroy, error);
}

static guint
add_sockets (PkWorkers             *self,
             GPtrArray             *sockets,
             PkWorkersAcceptFunc    accepted,
             PkWorkersAcceptFdFunc  accepted_fd,
             gpointer               user_data,
             GDestroyNotify         destroy,
             GError               **error)
{
  Listener *listener;

  if (sockets->len != self->n_workers)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "%u listening sockets for %u workers", sockets->len, self->n_workers);
      return 0;
    }

  listener = g_new0 (Listener, 1);
  listener->id = self->next_id++;
  listener->accepted = accepted;
  listener->accepted_fd = accepted_fd;
  listener->user_data = user_data;
  listener->destroy = destroy;
  listener->address = g_socket_get_local_address (g_ptr_array_index (sockets, 0), NULL);
  listener->per_worker = g_new0 (WorkerSocket, self->n_workers);
  g_hash_table_insert (self->listeners, GUINT_TO_POINTER (listener->id), listener);

  for (guint i = 0; i < self->n_workers; i++)
    {
      WorkerSocket *ws = &listener->per_worker[i];

      ws->listener = listener;
      ws->worker = i;
      ws->context = self->workers[i].context;
      ws->socket = g_object_ref (g_ptr_array_index (sockets, i));
      g_socket_set_blocking (ws->socket, FALSE);
      /* Attached from the worker's own thread, since its accept watch is
       * only touched there. */
      worker_run_sync (self, &self->workers[i], attach_socket, ws);
      if (ws->acceptor == NULL)
        {
          g_propagate_error (error, g_steal_pointer (&ws->error));
          g_hash_table_remove (self->listeners, GUINT_TO_POINTER (listener->id));
          /* Not the caller's data: it keeps it when this fails. */
          listener->destroy = NULL;
          listener_free (self, listener);
          return 0;
        }
    }
  return listener->id;
}

/**
 * pk_workers_listen:
 * @self: workers
 * @address: where to listen; port 0 for one the kernel picks
 * @accepted: (scope notified): called on the worker's thread per client
 * @user_data: data for @accepted
 * @destroy: (nullable): frees @user_data when the listener is removed
 * @error: return location for an error
 *
 * Makes a listening socket per worker on @address, all bound with
 * `SO_REUSEPORT` to the same port, so that the kernel spreads connections
 * across the workers. With port 0 the kernel picks one for the first
 * socket and the others join it; [method@Workers.get_listener_address]
 * says which. A port another process listens on is an error
 * (%G_IO_ERROR_ADDRESS_IN_USE) unless both share it on purpose: see
 * [method@Workers.set_reuse_port]. The sockets get `TCP_NODELAY` before they listen, and the
 * clients they accept inherit it.
 *
 * Returns: a listener id, or 0 with @error set
 *
 * Since: 0.1
 */
guint
pk_workers_listen (PkWorkers           *self,
                   GSocketAddress      *address,
                   PkWorkersAcceptFunc  accepted,
                   gpointer             user_data,
                   GDestroyNotify       destroy,
                   GError             **error)
{
  return pk_workers_listen_full (self, address, NULL, NULL, accepted, NULL, user_data, destroy,
                                 error);
}

guint
pk_workers_listen_full (PkWorkers             *self,
                        GSocketAddress        *address,
                        PkWorkersPrepareFunc   prepare,
                        gpointer               prepare_data,
                        PkWorkersAcceptFunc    accepted,
                        PkWorkersAcceptFdFunc  accepted_fd,
                        gpointer               user_data,
                        GDestroyNotify         destroy,
                        GError               **error)
{
  g_autoptr(GPtrArray) sockets = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GSocketAddress) bind_address = g_object_ref (address);
  g_autofree char *where = pk_format_socket_address (address);

  g_return_val_if_fail (PK_IS_WORKERS (self), 0);
  g_return_val_if_fail (G_IS_INET_SOCKET_ADDRESS (address), 0);
  g_return_val_if_fail ((accepted != NULL) != (accepted_fd != NULL), 0);

  for (guint i = 0; i < self->n_workers; i++)
    {
      g_autoptr(GError) local_error = NULL;
      g_autoptr(GSocket) socket = g_socket_new (g_socket_address_get_family (address),
                                                G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                                &local_error);
      struct sockaddr_storage native;
      int one = 1;

      if (socket == NULL)
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                      "Cannot listen on %s: ", where);
          return 0;
        }
      /* bind() directly: g_socket_bind() turns SO_REUSEPORT off again for
       * stream sockets. The first socket claims the port without
       * SO_REUSEPORT, which fails when any other process listens there
       * (with or without it); the port is then ours, the first socket
       * turns SO_REUSEPORT on (before listen(), when the kernel makes
       * the group), and the other workers' sockets join it. Another
       * process that claims the port the same way fails against ours. */
      if (setsockopt (g_socket_get_fd (socket), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
          ((i > 0 || self->reuse_port) &&
           setsockopt (g_socket_get_fd (socket), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) ||
          !g_socket_address_to_native (bind_address, &native, sizeof native, &local_error) ||
          bind (g_socket_get_fd (socket), (struct sockaddr *) &native,
                g_socket_address_get_native_size (bind_address)) < 0 ||
          (i == 0 && !self->reuse_port && self->n_workers > 1 &&
           setsockopt (g_socket_get_fd (socket), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0))
        {
          int errsv = errno;

          if (local_error != NULL)
            g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                        "Cannot listen on %s: ", where);
          else
            g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                         "Cannot listen on %s: %s", where, g_strerror (errsv));
          return 0;
        }
      /* Before listen: a client accepted earlier would miss them. */
      pk_socket_set_nodelay (g_socket_get_fd (socket));
      if (prepare != NULL && !prepare (socket, prepare_data, &local_error))
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                      "Cannot listen on %s: ", where);
          return 0;
        }
      g_socket_set_listen_backlog (socket, 4096);
      if (!g_socket_listen (socket, &local_error))
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                      "Cannot listen on %s: ", where);
          return 0;
        }
      if (i == 0)
        {
          /* The others join the port the kernel picked for the first. */
          g_clear_object (&bind_address);
          bind_address = g_socket_get_local_address (socket, &local_error);
          if (bind_address == NULL)
            {
              g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                          "Cannot listen on %s: ", where);
              return 0;
            }
        }
      g_ptr_array_add (sockets, g_steal_pointer (&socket));
    }
  return add_sockets (self, sockets, accepted, accepted_fd, user_data, destroy, error);
}

/**
 * pk_workers_get_listener_address:
 * @self: workers
 * @listener_id: an id from [method@Workers.listen]
 *
 * Gets the address the listener is bound to, with the port the kernel picked.
 *
 * Returns: (transfer full) (nullable): the address the listener is bound
 *   to, with the port the kernel picked
 *
 * Since: 0.1
 */
GSocketAddress *
pk_workers_get_listener_address (PkWorkers *self,
                                 guint      listener_id)
{
  Listener *listener;

  g_return_val_if_fail (PK_IS_WORKERS (self), NULL);

  listener = g_hash_table_lookup (self->listeners, GUINT_TO_POINTER (listener_id));
  return listener != NULL && listener->address != NULL ? g_object_ref (listener->address) : NULL;
}

/**
 * pk_workers_remove_listener:
 * @self: workers
 * @listener_id: an id from [method@Workers.listen]
 *
 * Stops accepting on the listener and closes its sockets; sessions it
 * started keep running. Returns once no worker runs its callback any more,
 * after calling its destroy notify.
 *
 * Since: 0.1
 */
void
pk_workers_remove_listener (PkWorkers *self,
                            guint      listener_id)
{
  Listener *listener;

  g_return_if_fail (PK_IS_WORKERS (self));

  listener = g_hash_table_lookup (self->listeners, GUINT_TO_POINTER (listener_id));
  g_return_if_fail (listener != NULL);
  g_hash_table_remove (self->listeners, GUINT_TO_POINTER (listener_id));
  listener_free (self, listener);
}
