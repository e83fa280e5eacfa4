/* pk-acceptor.c: the one accept loop, for every listening socket
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <sys/socket.h>

#include "pk-acceptor-private.h"
#include "pk-poller-private.h"
#include "pk-util-private.h"

/* Accepts per wake-up, so that a flood of connections on one listener
 * does not starve the sessions that run in the same context. */
#define ACCEPTS_PER_WAKEUP 64

struct _PkAcceptor
{
  GMainContext *context;
  GSocket *socket;
  int fd;
  char *name;
  PkAcceptorFunc func;
  gpointer user_data;
  PkPollerWatch *watch;
  gint stopped;          /* atomic: set by a free from another thread */
  guint64 pauses;        /* atomic */
  gboolean dispatching;
  gboolean dead;         /* freed from inside its own callback */
};

/* --- the warning about pauses, for the whole process --- */

G_LOCK_DEFINE_STATIC (warn);
static PkLogLimit warn_limit;

static void
warn_paused (PkAcceptor *self,
             int         errsv)
{
  guint64 suppressed;
  gboolean log;

  G_LOCK (warn);
  log = pk_log_limit_due (&warn_limit, PK_ACCEPTOR_WARN_INTERVAL_S * G_USEC_PER_SEC, &suppressed);
  G_UNLOCK (warn);

  if (!log)
    return;
  suppressed--;         /* the count includes this pause */
  if (suppressed > 0)
    g_warning ("%s: cannot accept: %s; pausing accepts for %u ms "
               "(%" G_GUINT64_FORMAT " more pause%s in the last %u s, not logged)",
               self->name, g_strerror (errsv), PK_ACCEPTOR_BACKOFF_MS, suppressed,
               suppressed == 1 ? "" : "s", PK_ACCEPTOR_WARN_INTERVAL_S);
  else
    g_warning ("%s: cannot accept: %s; pausing accepts for %u ms",
               self->name, g_strerror (errsv), PK_ACCEPTOR_BACKOFF_MS);
}

/* --- the loop --- */

static void
acceptor_destroy (PkAcceptor *self)
{
  pk_poller_watch_destroy (self->watch);
  g_object_unref (self->socket);
  g_main_context_unref (self->context);
  g_free (self->name);
  g_free (self);
}

static void
pause_accepting (PkAcceptor *self,
                 int         errsv)
{
  __atomic_add_fetch (&self->pauses, 1, __ATOMIC_RELAXED);
  pk_poller_watch_set_events (self->watch, 0, 0);
  pk_poller_watch_set_deadline (self->watch, pk_poller_watch_get_time (self->watch) +
                                             PK_ACCEPTOR_BACKOFF_MS * G_TIME_SPAN_MILLISECOND);
  warn_paused (self, errsv);
}

static void
acceptor_cb (PkPollerWatch *watch,
             int            slot,
             GIOCondition   condition,
             gpointer       user_data)
{
  PkAcceptor *self = user_data;

  if (slot == -1)
    {
      /* The pause is over. */
      pk_poller_watch_set_events (watch, 0, G_IO_IN);
      return;
    }

  self->dispatching = TRUE;
  for (guint i = 0; i < ACCEPTS_PER_WAKEUP; i++)
    {
      PkSockaddr peer;
      int fd;

      if (self->dead || g_atomic_int_get (&self->stopped))
        break;
      peer.len = sizeof peer.storage;
      fd = accept4 (self->fd, &peer.sa, &peer.len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0)
        {
          self->func (fd, &peer, self->user_data);
          continue;
        }
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        break;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
        {
          pause_accepting (self, errno);
          break;
        }
      /* EINTR, and ECONNABORTED and the like, which concern one client
       * only. */
      if (errno != EINTR)
        g_debug ("%s: accept: %s", self->name, g_strerror (errno));
    }
  self->dispatching = FALSE;
  if (self->dead)
    acceptor_destroy (self);
}

PkAcceptor *
pk_acceptor_new (GMainContext    *context,
                 GSocket         *socket,
                 const char      *name,
                 PkAcceptorFunc   func,
                 gpointer         user_data,
                 GError         **error)
{
  PkAcceptor *self;
  PkPoller *poller;

  g_return_val_if_fail (G_IS_SOCKET (socket), NULL);
  g_return_val_if_fail (func != NULL, NULL);

  if (context == NULL)
    context = g_main_context_default ();
  poller = pk_poller_get_for_context (context, error);
  if (poller == NULL)
    return NULL;

  self = g_new0 (PkAcceptor, 1);
  self->context = g_main_context_ref (context);
  self->socket = g_object_ref (socket);
  self->fd = g_socket_get_fd (socket);
  self->name = g_strdup (name);
  self->func = func;
  self->user_data = user_data;
  g_socket_set_blocking (socket, FALSE);
  self->watch = pk_poller_watch_new (poller, acceptor_cb, self);
  if (!pk_poller_watch_set_fd (self->watch, 0, self->fd, G_IO_IN, error))
    {
      acceptor_destroy (self);
      return NULL;
    }
  return self;
}

guint64
pk_acceptor_get_pauses (PkAcceptor *self)
{
  return __atomic_load_n (&self->pauses, __ATOMIC_RELAXED);
}

static gboolean
free_in_context (gpointer data)
{
  PkAcceptor *self = data;

  acceptor_destroy (self);
  return G_SOURCE_REMOVE;
}

void
pk_acceptor_free (PkAcceptor *self)
{
  if (self == NULL)
    return;

  if (g_main_context_is_owner (self->context))
    {
      /* From inside its own loop: at the loop's end. */
      if (self->dispatching)
        self->dead = TRUE;
      else
        acceptor_destroy (self);
      return;
    }
  if (g_main_context_acquire (self->context))
    {
      GMainContext *context = g_main_context_ref (self->context);

      acceptor_destroy (self);
      g_main_context_release (context);
      g_main_context_unref (context);
      return;
    }
  g_atomic_int_set (&self->stopped, TRUE);
  g_main_context_invoke (self->context, free_in_context, self);
}
