/* pk-poller.c: one epoll set per main context for per-connection watches
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See pk-poller-private.h for why. The poller is a GSource whose only
 * descriptor is the epoll set; it has no ready time of its own: its
 * prepare() reads the earliest deadline off the heap, so that arming a
 * deadline costs no wake-up either.
 */
#include "config.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <gio/gio.h>

#include "pk-poller-private.h"

/* Events taken per epoll_wait(), and rounds of it per dispatch while
 * events keep coming, so that the rest of the context gets its turn. */
#define EVENTS_PER_WAIT 64
#define ROUNDS_PER_DISPATCH 4
#define NOT_IN_HEAP G_MAXUINT

typedef struct _CancelEntry CancelEntry;

struct _PkPollerWatch
{
  PkPoller *poller;
  PkPollerFunc func;
  gpointer user_data;
  int fd[PK_POLLER_SLOTS];
  guint32 events[PK_POLLER_SLOTS];   /* epoll events; 0: not in the set */
  gint64 deadline;
  guint heap_index;
  guint32 index;               /* in the poller's table */
  guint32 gen;
  gboolean dead;
  PkPollerWatch *next_dead;
  CancelEntry *cancel;         /* and its place in cancel->watches */
  PkPollerWatch *cancel_prev;
  PkPollerWatch *cancel_next;
};

/* The watches of a poller that share a cancellable, and the one handler
 * on it. Made, changed and freed on the poller's thread; the handler, in
 * whatever thread cancels, only queues the entry and wakes the poller. */
struct _CancelEntry
{
  PkPoller *poller;
  GCancellable *cancellable;
  gulong handler;
  PkPollerWatch *watches;
  gboolean queued;             /* under the poller's cancel_lock */
};

struct _PkPoller
{
  GSource source;
  gpointer tag;
  int epfd;
  GMainContext *context;     /* not a reference: the key in the table */
  GPtrArray *heap;           /* PkPollerWatch, a min-heap by deadline */
  /* Live watches by index. Epoll's data for a descriptor is its watch's
   * index and generation rather than a pointer, so that an event of a
   * watch that is gone is recognised and dropped: see
   * pk_poller_watch_destroy_and_close(). Index 0 is the wake_fd. */
  GPtrArray *table;
  GArray *free_indices;
  guint32 next_gen;
  guint n_watches;
  guint n_fds;
  guint dispatching;         /* depth: a callback may iterate the context */
  PkPollerWatch *dead;       /* destroyed while dispatching */

  GHashTable *cancel_entries;  /* GCancellable -> CancelEntry */
  int wake_fd;                 /* an eventfd in the set, for cancellations */
  GMutex cancel_lock;
  GPtrArray *cancelled;        /* CancelEntry, under cancel_lock */
};

G_LOCK_DEFINE_STATIC (pollers);
static GHashTable *pollers;  /* GMainContext -> PkPoller, not referenced */

/* --- the deadline heap --- */

static inline PkPollerWatch *
heap_at (PkPoller *self,
         guint     i)
{
  return g_ptr_array_index (self->heap, i);
}

static inline void
heap_put (PkPoller      *self,
          guint          i,
          PkPollerWatch *watch)
{
  self->heap->pdata[i] = watch;
  watch->heap_index = i;
}

static void
heap_sift_up (PkPoller *self,
              guint     i)
{
  PkPollerWatch *watch = heap_at (self, i);

  while (i > 0)
    {
      guint parent = (i - 1) / 2;

      if (heap_at (self, parent)->deadline <= watch->deadline)
        break;
      heap_put (self, i, heap_at (self, parent));
      i = parent;
    }
  heap_put (self, i, watch);
}

static void
heap_sift_down (PkPoller *self,
                guint     i)
{
  PkPollerWatch *watch = heap_at (self, i);
  guint n = self->heap->len;

  for (;;)
    {
      guint child = 2 * i + 1;

      if (child >= n)
        break;
      if (child + 1 < n && heap_at (self, child + 1)->deadline < heap_at (self, child)->deadline)
        child++;
      if (watch->deadline <= heap_at (self, child)->deadline)
        break;
      heap_put (self, i, heap_at (self, child));
      i = child;
    }
  heap_put (self, i, watch);
}

static void
heap_remove (PkPoller      *self,
             PkPollerWatch *watch)
{
  guint i = watch->heap_index;
  PkPollerWatch *last;

  if (i == NOT_IN_HEAP)
    return;
  watch->heap_index = NOT_IN_HEAP;
  last = g_ptr_array_steal_index_fast (self->heap, self->heap->len - 1);
  if (last == watch)
    return;
  heap_put (self, i, last);
  heap_sift_down (self, i);
  heap_sift_up (self, last->heap_index);
}

/* --- the source --- */

static gboolean
poller_prepare (GSource *source,
                gint    *timeout)
{
  PkPoller *self = (PkPoller *) source;
  gint64 now, wait_ms;

  *timeout = -1;
  if (self->heap->len == 0)
    return FALSE;
  now = g_source_get_time (source);
  if (heap_at (self, 0)->deadline <= now)
    {
      *timeout = 0;
      return TRUE;
    }
  /* Rounded up: waking before the deadline would only poll again. */
  wait_ms = (heap_at (self, 0)->deadline - now + 999) / 1000;
  *timeout = (gint) MIN (wait_ms, G_MAXINT);
  return FALSE;
}

static gboolean
poller_check (GSource *source)
{
  PkPoller *self = (PkPoller *) source;

  if (g_source_query_unix_fd (source, self->tag) & G_IO_IN)
    return TRUE;
  return self->heap->len > 0 && heap_at (self, 0)->deadline <= g_source_get_time (source);
}

static GIOCondition
condition_from_epoll (guint32 events)
{
  GIOCondition condition = 0;

  if (events & EPOLLIN)
    condition |= G_IO_IN;
  if (events & EPOLLOUT)
    condition |= G_IO_OUT;
  if (events & EPOLLPRI)
    condition |= G_IO_PRI;
  if (events & EPOLLERR)
    condition |= G_IO_ERR;
  if (events & EPOLLHUP)
    condition |= G_IO_HUP;
  return condition;
}

static guint32
epoll_from_condition (GIOCondition condition)
{
  guint32 events = 0;

  if (condition & G_IO_IN)
    events |= EPOLLIN;
  if (condition & G_IO_OUT)
    events |= EPOLLOUT;
  if (condition & G_IO_PRI)
    events |= EPOLLPRI;
  return events;
}

/* Bits 0: the slot, 1-32: the index, 33-63: the generation. */
static inline guint64
event_data (PkPollerWatch *watch,
            guint          slot)
{
  return ((guint64) watch->gen << 33) | ((guint64) watch->index << 1) | slot;
}

static void
watch_free (PkPollerWatch *watch)
{
  g_source_unref ((GSource *) watch->poller);
  g_free (watch);
}

/* --- cancellation --- */

/* Any thread. */
static void
cancel_entry_cancelled (GCancellable *cancellable,
                        gpointer      data)
{
  CancelEntry *entry = data;
  PkPoller *self = entry->poller;

  g_mutex_lock (&self->cancel_lock);
  if (!entry->queued)
    {
      entry->queued = TRUE;
      g_ptr_array_add (self->cancelled, entry);
    }
  g_mutex_unlock (&self->cancel_lock);
  eventfd_write (self->wake_fd, 1);
}

static void
cancel_entry_free (CancelEntry *entry)
{
  PkPoller *self = entry->poller;

  /* Waits for a handler running in another thread, so that it is not
   * queueing the entry while it goes. */
  g_cancellable_disconnect (entry->cancellable, entry->handler);
  g_mutex_lock (&self->cancel_lock);
  if (entry->queued)
    g_ptr_array_remove_fast (self->cancelled, entry);
  g_mutex_unlock (&self->cancel_lock);
  g_object_unref (entry->cancellable);
  g_free (entry);
}

static void
watch_leave_cancel (PkPollerWatch *watch)
{
  CancelEntry *entry = watch->cancel;

  if (entry == NULL)
    return;
  if (watch->cancel_prev != NULL)
    watch->cancel_prev->cancel_next = watch->cancel_next;
  else
    entry->watches = watch->cancel_next;
  if (watch->cancel_next != NULL)
    watch->cancel_next->cancel_prev = watch->cancel_prev;
  watch->cancel = NULL;
  watch->cancel_prev = watch->cancel_next = NULL;
  if (entry->watches == NULL)
    {
      g_hash_table_remove (entry->poller->cancel_entries, entry->cancellable);
      cancel_entry_free (entry);
    }
}

void
pk_poller_watch_set_cancellable (PkPollerWatch *watch,
                                 GCancellable  *cancellable)
{
  PkPoller *self;
  CancelEntry *entry;

  g_return_if_fail (watch != NULL && !watch->dead);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  if (watch->cancel != NULL && watch->cancel->cancellable == cancellable)
    return;
  watch_leave_cancel (watch);
  if (cancellable == NULL)
    return;

  self = watch->poller;
  entry = g_hash_table_lookup (self->cancel_entries, cancellable);
  if (entry == NULL)
    {
      entry = g_new0 (CancelEntry, 1);
      entry->poller = self;
      entry->cancellable = g_object_ref (cancellable);
      g_hash_table_insert (self->cancel_entries, cancellable, entry);
      /* Runs the handler at once if already cancelled: the watch hears of
       * it in the next dispatch, never from inside this call. */
      entry->handler = g_cancellable_connect (cancellable, G_CALLBACK (cancel_entry_cancelled),
                                              entry, NULL);
    }
  watch->cancel = entry;
  watch->cancel_next = entry->watches;
  if (entry->watches != NULL)
    entry->watches->cancel_prev = watch;
  entry->watches = watch;
}

static void
deliver_cancellations (PkPoller *self)
{
  g_autoptr(GPtrArray) entries = NULL;
  g_autoptr(GPtrArray) watches = g_ptr_array_new ();
  eventfd_t count;

  eventfd_read (self->wake_fd, &count);
  g_mutex_lock (&self->cancel_lock);
  entries = g_steal_pointer (&self->cancelled);
  self->cancelled = g_ptr_array_new ();
  for (guint i = 0; i < entries->len; i++)
    ((CancelEntry *) g_ptr_array_index (entries, i))->queued = FALSE;
  g_mutex_unlock (&self->cancel_lock);

  /* Every watch to tell first, then the calls: a callback may destroy
   * watches, and with the last of an entry's, the entry. Watches are not
   * freed while dispatching, entries are. */
  for (guint i = 0; i < entries->len; i++)
    {
      CancelEntry *entry = g_ptr_array_index (entries, i);

      for (PkPollerWatch *w = entry->watches; w != NULL; w = w->cancel_next)
        g_ptr_array_add (watches, w);
    }
  for (guint i = 0; i < watches->len; i++)
    {
      PkPollerWatch *watch = g_ptr_array_index (watches, i);

      /* Destroyed meanwhile, or given another cancellable that was not. */
      if (watch->dead || watch->cancel == NULL ||
          !g_cancellable_is_cancelled (watch->cancel->cancellable))
        continue;
      watch_leave_cancel (watch);
      watch->func (watch, PK_POLLER_CANCELLED, 0, watch->user_data);
    }
}

static gboolean
poller_dispatch (GSource     *source,
                 GSourceFunc  callback,
                 gpointer     user_data)
{
  PkPoller *self = (PkPoller *) source;
  struct epoll_event events[EVENTS_PER_WAIT];
  gint64 now = g_source_get_time (source);

  self->dispatching++;

  for (guint round = 0; round < ROUNDS_PER_DISPATCH; round++)
    {
      int n = epoll_wait (self->epfd, events, G_N_ELEMENTS (events), 0);

      if (n <= 0)
        {
          if (n < 0 && errno != EINTR)
            g_critical ("poller: epoll_wait: %s", g_strerror (errno));
          break;
        }
      for (int i = 0; i < n; i++)
        {
          guint64 data = events[i].data.u64;
          guint index = (guint) ((data >> 1) & G_MAXUINT32);
          int slot = (int) (data & 1);
          PkPollerWatch *watch;

          if (index == 0)
            {
              deliver_cancellations (self);
              continue;
            }
          /* A watch destroyed (its index maybe taken again) by an earlier
           * callback or before, or a slot emptied or changed since
           * epoll_wait() reported it. */
          watch = index < self->table->len ? g_ptr_array_index (self->table, index) : NULL;
          if (watch == NULL || watch->gen != (guint32) (data >> 33) || watch->events[slot] == 0)
            continue;
          watch->func (watch, slot, condition_from_epoll (events[i].events), watch->user_data);
        }
      if (n < (int) G_N_ELEMENTS (events))
        break;
    }

  /* The deadlines due now, taken off the heap before any of them runs, so
   * that a callback that sets its deadline to now again runs in the next
   * dispatch rather than in a loop here. */
  if (self->heap->len > 0 && heap_at (self, 0)->deadline <= now)
    {
      g_autoptr(GPtrArray) due = g_ptr_array_new ();

      while (self->heap->len > 0 && heap_at (self, 0)->deadline <= now)
        {
          PkPollerWatch *watch = heap_at (self, 0);

          heap_remove (self, watch);
          watch->deadline = -1;
          g_ptr_array_add (due, watch);
        }
      for (guint i = 0; i < due->len; i++)
        {
          PkPollerWatch *watch = g_ptr_array_index (due, i);

          /* Destroyed, or given a new deadline, by an earlier callback. */
          if (!watch->dead && watch->deadline == -1)
            watch->func (watch, -1, 0, watch->user_data);
        }
    }

  if (--self->dispatching == 0)
    while (self->dead != NULL)
      {
        PkPollerWatch *watch = self->dead;

        self->dead = watch->next_dead;
        watch_free (watch);
      }

  return G_SOURCE_CONTINUE;
}

static void
poller_finalize (GSource *source)
{
  PkPoller *self = (PkPoller *) source;

  G_LOCK (pollers);
  if (pollers != NULL && g_hash_table_lookup (pollers, self->context) == self)
    g_hash_table_remove (pollers, self->context);
  G_UNLOCK (pollers);

  g_assert (self->dead == NULL);
  g_assert (g_hash_table_size (self->cancel_entries) == 0);
  g_hash_table_unref (self->cancel_entries);
  g_ptr_array_unref (self->cancelled);
  g_mutex_clear (&self->cancel_lock);
  g_ptr_array_unref (self->heap);
  g_ptr_array_unref (self->table);
  g_array_unref (self->free_indices);
  close (self->wake_fd);
  close (self->epfd);
}

static GSourceFuncs poller_funcs = {
  .prepare = poller_prepare,
  .check = poller_check,
  .dispatch = poller_dispatch,
  .finalize = poller_finalize,
};

static PkPoller *
poller_new (GMainContext  *context,
            GError       **error)
{
  PkPoller *self;
  struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0 };  /* data 0: no watch */
  int epfd, wake_fd = -1, errsv;
  const char *what;

  /* Out of descriptors is an error for the caller to handle (refuse one
   * session, fail a start), never a reason to abort. */
  epfd = epoll_create1 (EPOLL_CLOEXEC);
  what = "epoll_create1";
  if (epfd >= 0)
    {
      wake_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
      what = "eventfd";
    }
  if (wake_fd >= 0 && epoll_ctl (epfd, EPOLL_CTL_ADD, wake_fd, &ev) < 0)
    {
      what = "epoll_ctl";
      errsv = errno;
      close (wake_fd);
      wake_fd = -1;
      errno = errsv;
    }
  if (wake_fd < 0)
    {
      errsv = errno;
      if (epfd >= 0)
        close (epfd);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "Cannot make a poller: %s: %s", what, g_strerror (errsv));
      return NULL;
    }

  self = (PkPoller *) g_source_new (&poller_funcs, sizeof (PkPoller));
  g_source_set_static_name ((GSource *) self, "[proxykit] poller");
  self->context = context;
  self->heap = g_ptr_array_new ();
  self->table = g_ptr_array_new ();
  g_ptr_array_add (self->table, NULL);  /* index 0: the wake_fd */
  self->free_indices = g_array_new (FALSE, FALSE, sizeof (guint32));
  self->cancel_entries = g_hash_table_new (NULL, NULL);
  self->cancelled = g_ptr_array_new ();
  g_mutex_init (&self->cancel_lock);
  self->epfd = epfd;
  self->wake_fd = wake_fd;
  self->tag = g_source_add_unix_fd ((GSource *) self, self->epfd, G_IO_IN);
  /* Callbacks never iterate the context here, but if one did, blocking
   * the source around dispatch would remove its descriptor from the
   * context and add it back, which wakes the context up each time. */
  g_source_set_can_recurse ((GSource *) self, TRUE);
  g_source_attach ((GSource *) self, context);
  /* The context holds it; each watch holds a reference too. */
  g_source_unref ((GSource *) self);
  return self;
}

PkPoller *
pk_poller_get_for_context (GMainContext  *context,
                           GError       **error)
{
  PkPoller *self;

  if (context == NULL)
    context = g_main_context_default ();

  G_LOCK (pollers);
  if (pollers == NULL)
    pollers = g_hash_table_new (NULL, NULL);
  self = g_hash_table_lookup (pollers, context);
  /* A destroyed one belonged to a context that was freed, and this one
   * was allocated at the same address. */
  if (self == NULL || g_source_is_destroyed ((GSource *) self))
    {
      self = poller_new (context, error);
      if (self != NULL)
        g_hash_table_insert (pollers, context, self);
      else
        g_hash_table_remove (pollers, context);
    }
  G_UNLOCK (pollers);
  return self;
}

PkPoller *
pk_poller_get_thread_default (GError **error)
{
  return pk_poller_get_for_context (g_main_context_get_thread_default (), error);
}

/* --- watches --- */

PkPollerWatch *
pk_poller_watch_new (PkPoller     *poller,
                     PkPollerFunc  func,
                     gpointer      user_data)
{
  PkPollerWatch *watch;

  g_return_val_if_fail (poller != NULL && func != NULL, NULL);

  watch = g_new0 (PkPollerWatch, 1);
  watch->poller = (PkPoller *) g_source_ref ((GSource *) poller);
  watch->func = func;
  watch->user_data = user_data;
  for (guint i = 0; i < PK_POLLER_SLOTS; i++)
    watch->fd[i] = -1;
  watch->deadline = -1;
  watch->heap_index = NOT_IN_HEAP;
  watch->gen = poller->next_gen++ & 0x7fffffff;
  if (poller->free_indices->len > 0)
    {
      watch->index = g_array_index (poller->free_indices, guint32, poller->free_indices->len - 1);
      g_array_set_size (poller->free_indices, poller->free_indices->len - 1);
      poller->table->pdata[watch->index] = watch;
    }
  else
    {
      watch->index = poller->table->len;
      g_ptr_array_add (poller->table, watch);
    }
  poller->n_watches++;
  return watch;
}

void
pk_poller_watch_set_func (PkPollerWatch *watch,
                          PkPollerFunc   func,
                          gpointer       user_data)
{
  g_return_if_fail (watch != NULL && !watch->dead && func != NULL);

  watch->func = func;
  watch->user_data = user_data;
}

static gboolean
slot_ctl (PkPollerWatch  *watch,
          guint           slot,
          guint32         events,
          GError        **error)
{
  PkPoller *self = watch->poller;
  guint32 old = watch->events[slot];
  struct epoll_event ev = {
    .events = events,
    .data.u64 = event_data (watch, slot),
  };
  int op;

  if (old == events)
    return TRUE;
  op = old == 0 ? EPOLL_CTL_ADD : events == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
  if (epoll_ctl (self->epfd, op, watch->fd[slot], &ev) < 0)
    {
      int errsv = errno;

      /* A descriptor closed behind our back is out of the set already
       * (and its number may be another file's by now). */
      if (op == EPOLL_CTL_DEL && (errsv == EBADF || errsv == ENOENT))
        {
          watch->events[slot] = 0;
          self->n_fds--;
          return TRUE;
        }
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "epoll_ctl on descriptor %d: %s", watch->fd[slot], g_strerror (errsv));
      return FALSE;
    }
  if (old == 0)
    self->n_fds++;
  else if (events == 0)
    self->n_fds--;
  watch->events[slot] = events;
  return TRUE;
}

gboolean
pk_poller_watch_set_fd (PkPollerWatch  *watch,
                        guint           slot,
                        int             fd,
                        GIOCondition    events,
                        GError        **error)
{
  g_return_val_if_fail (watch != NULL && !watch->dead, FALSE);
  g_return_val_if_fail (slot < PK_POLLER_SLOTS, FALSE);

  if (watch->fd[slot] >= 0)
    {
      slot_ctl (watch, slot, 0, NULL);
      watch->fd[slot] = -1;
    }
  if (fd < 0)
    return TRUE;
  watch->fd[slot] = fd;
  if (!slot_ctl (watch, slot, epoll_from_condition (events), error))
    {
      watch->fd[slot] = -1;
      return FALSE;
    }
  return TRUE;
}

int
pk_poller_watch_get_fd (PkPollerWatch *watch,
                        guint          slot)
{
  g_return_val_if_fail (watch != NULL && slot < PK_POLLER_SLOTS, -1);

  return watch->fd[slot];
}

void
pk_poller_watch_set_events (PkPollerWatch *watch,
                            guint          slot,
                            GIOCondition   events)
{
  g_autoptr(GError) error = NULL;

  g_return_if_fail (watch != NULL && !watch->dead);
  g_return_if_fail (slot < PK_POLLER_SLOTS && watch->fd[slot] >= 0);

  /* Changing or removing a descriptor already in the set only fails on a
   * bug; adding it back can fail for want of memory, like any add. */
  if (!slot_ctl (watch, slot, epoll_from_condition (events), &error))
    g_critical ("poller: %s", error->message);
}

GIOCondition
pk_poller_watch_get_events (PkPollerWatch *watch,
                            guint          slot)
{
  g_return_val_if_fail (watch != NULL && slot < PK_POLLER_SLOTS, 0);

  return condition_from_epoll (watch->events[slot]);
}

void
pk_poller_watch_set_deadline (PkPollerWatch *watch,
                              gint64         deadline)
{
  PkPoller *self;

  g_return_if_fail (watch != NULL && !watch->dead);

  self = watch->poller;
  if (deadline < 0)
    {
      heap_remove (self, watch);
      watch->deadline = -1;
      return;
    }
  if (watch->heap_index == NOT_IN_HEAP)
    {
      watch->deadline = deadline;
      g_ptr_array_add (self->heap, watch);
      watch->heap_index = self->heap->len - 1;
      heap_sift_up (self, watch->heap_index);
      return;
    }
  watch->deadline = deadline;
  heap_sift_up (self, watch->heap_index);
  heap_sift_down (self, watch->heap_index);
}

gint64
pk_poller_watch_get_deadline (PkPollerWatch *watch)
{
  g_return_val_if_fail (watch != NULL, -1);

  return watch->deadline;
}

gint64
pk_poller_watch_get_time (PkPollerWatch *watch)
{
  g_return_val_if_fail (watch != NULL, 0);

  if (watch->poller->dispatching > 0)
    return g_source_get_time ((GSource *) watch->poller);
  return g_get_monotonic_time ();
}

static void
watch_destroy (PkPollerWatch *watch,
               gboolean       close_fds)
{
  PkPoller *self = watch->poller;

  for (guint i = 0; i < PK_POLLER_SLOTS; i++)
    if (watch->fd[i] >= 0)
      {
        if (!close_fds)
          slot_ctl (watch, i, 0, NULL);
        else
          {
            /* The last reference to the file goes, and with it the
             * descriptor's place in the epoll set. */
            if (watch->events[i] != 0)
              self->n_fds--;
            watch->events[i] = 0;
            close (watch->fd[i]);
          }
        watch->fd[i] = -1;
      }
  heap_remove (self, watch);
  watch_leave_cancel (watch);
  watch->dead = TRUE;
  self->n_watches--;
  self->table->pdata[watch->index] = NULL;
  g_array_append_val (self->free_indices, watch->index);
  if (self->dispatching > 0)
    {
      watch->next_dead = self->dead;
      self->dead = watch;
    }
  else
    watch_free (watch);
}

void
pk_poller_watch_destroy (PkPollerWatch *watch)
{
  if (watch == NULL)
    return;
  g_return_if_fail (!watch->dead);

  watch_destroy (watch, FALSE);
}

void
pk_poller_watch_destroy_and_close (PkPollerWatch *watch)
{
  g_return_if_fail (watch != NULL && !watch->dead);

  watch_destroy (watch, TRUE);
}

guint
pk_poller_get_n_watches (PkPoller *poller)
{
  return poller->n_watches;
}

guint
pk_poller_get_n_fds (PkPoller *poller)
{
  return poller->n_fds;
}

guint
pk_poller_get_n_cancellables (PkPoller *poller)
{
  return g_hash_table_size (poller->cancel_entries);
}
