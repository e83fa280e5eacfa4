/* pk-poller-private.h: one epoll set per main context for per-connection watches
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* GLib polls the descriptors of its sources itself, and every descriptor
 * added to or removed from a context wakes that context up (an eventfd
 * write and read) and makes it start its iteration over; a relayed
 * connection adds and removes six. A poller is a single source per main
 * context that holds the descriptors of many watches in one epoll set, so
 * that watching a socket costs an epoll_ctl() and nothing else, and keeps
 * their deadlines in a heap, so that a timeout costs no source either.
 *
 * A watch has up to PK_POLLER_SLOTS descriptors and one deadline, and one
 * callback that is told which slot is ready, or that the deadline passed.
 * Watches belong to the thread that runs their context: they are made,
 * changed and destroyed there only (from another thread, use a
 * PkCancelSource or g_main_context_invoke() to get there). Destroying a
 * watch from any callback, its own included, is safe. */

#define PK_POLLER_SLOTS 2
/* The slot a watch's callback is given when its cancellable fired. */
#define PK_POLLER_CANCELLED (-2)

typedef struct _PkPoller PkPoller;
typedef struct _PkPollerWatch PkPollerWatch;

/* @slot: the slot whose descriptor is ready, with @condition (G_IO_IN,
 * G_IO_OUT, G_IO_ERR, G_IO_HUP); or -1 when the deadline passed (the
 * deadline is cleared before the call); or PK_POLLER_CANCELLED when the
 * watch's cancellable was cancelled (the cancellable is dropped before the
 * call, so it comes once). */
typedef void (*PkPollerFunc) (PkPollerWatch *watch,
                              int            slot,
                              GIOCondition   condition,
                              gpointer       user_data);

/* The poller of @context (NULL: the global default one), made and
 * attached on first use; it lives as long as the context. Making one
 * takes two descriptors: without them, NULL with @error set (never an
 * abort). Whoever runs a context for sessions makes its poller before the
 * first session (PkWorkers at start, a listener when it is added), so
 * that a session only fails to get one when that failed. Call it from
 * the context's thread, or while no thread runs the context. */
PkPoller      *pk_poller_get_for_context    (GMainContext  *context,
                                             GError       **error);
/* The poller of the calling thread's thread-default main context. */
PkPoller      *pk_poller_get_thread_default (GError       **error);

PkPollerWatch *pk_poller_watch_new          (PkPoller      *poller,
                                             PkPollerFunc   func,
                                             gpointer       user_data);
/* Hands the watch, with its descriptors, deadline and cancellable, to
 * another callback: a connect that becomes a bridge keeps its socket in
 * the set and only changes its events. */
void           pk_poller_watch_set_func     (PkPollerWatch *watch,
                                             PkPollerFunc   func,
                                             gpointer       user_data);
/* Watches @fd in @slot for @events (G_IO_IN and/or G_IO_OUT; 0: not at
 * all, as GLib does with a descriptor that wants nothing, so that a hang-up
 * nobody asked about does not fire over and over). The same descriptor
 * may not be in two slots of one poller at once. @fd -1 empties the slot. */
gboolean       pk_poller_watch_set_fd       (PkPollerWatch *watch,
                                             guint          slot,
                                             int            fd,
                                             GIOCondition   events,
                                             GError       **error);
/* The descriptor in @slot, or -1. */
int            pk_poller_watch_get_fd       (PkPollerWatch *watch,
                                             guint          slot);
/* Changes the events of the descriptor in @slot. */
void           pk_poller_watch_set_events   (PkPollerWatch *watch,
                                             guint          slot,
                                             GIOCondition   events);
GIOCondition   pk_poller_watch_get_events   (PkPollerWatch *watch,
                                             guint          slot);
/* A monotonic time (g_get_monotonic_time()), or -1 for none. */
void           pk_poller_watch_set_deadline (PkPollerWatch *watch,
                                             gint64         deadline);
gint64         pk_poller_watch_get_deadline (PkPollerWatch *watch);
/* Calls the watch back with PK_POLLER_CANCELLED in a dispatch after
 * @cancellable is cancelled, from any thread (at once, if it is already).
 * All the watches of a poller that share a cancellable share one signal
 * handler on it, so that a watch costs no handler and no source of its
 * own. NULL: no longer. */
void           pk_poller_watch_set_cancellable (PkPollerWatch *watch,
                                                GCancellable  *cancellable);
/* The time of the poller's current dispatch, as g_source_get_time(). */
gint64         pk_poller_watch_get_time     (PkPollerWatch *watch);
/* Stops watching its descriptors (they stay open: they are the caller's)
 * and frees the watch, now or, inside a dispatch, at its end. */
void           pk_poller_watch_destroy      (PkPollerWatch *watch);
/* The same for a watch whose descriptors are done with: closes them,
 * which takes them out of the epoll set without an epoll_ctl() each.
 * They must not have been dup()ed. A child between fork() and exec()
 * still holds the files, and so their places in the set, for that
 * while: their events then carry the generation of a watch that is gone
 * and are dropped. */
void           pk_poller_watch_destroy_and_close (PkPollerWatch *watch);

/* For tests: watches alive, descriptors in the epoll set, cancellables
 * with a handler. */
guint          pk_poller_get_n_watches      (PkPoller      *poller);
guint          pk_poller_get_n_fds          (PkPoller      *poller);
guint          pk_poller_get_n_cancellables (PkPoller      *poller);

G_END_DECLS
