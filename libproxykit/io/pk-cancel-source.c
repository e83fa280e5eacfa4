/* pk-cancel-source.c: a source that fires when a GCancellable is cancelled
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "pk-cancel-source-private.h"

typedef struct {
  GSource source;
  GCancellable *cancellable;
  gulong handler;
} PkCancelSource;

/* Any thread: wakes the source's context. */
static void
cancelled_cb (GCancellable *cancellable,
              gpointer      source)
{
  g_source_set_ready_time (source, 0);
}

static gboolean
cancel_source_dispatch (GSource     *source,
                        GSourceFunc  callback,
                        gpointer     user_data)
{
  g_source_set_ready_time (source, -1);
  if (callback == NULL)
    return G_SOURCE_REMOVE;
  return callback (user_data);
}

static void
cancel_source_disconnect (PkCancelSource *cs)
{
  if (cs->handler != 0)
    {
      g_cancellable_disconnect (cs->cancellable, cs->handler);
      cs->handler = 0;
    }
}

static void
cancel_source_finalize (GSource *source)
{
  PkCancelSource *cs = (PkCancelSource *) source;

  cancel_source_disconnect (cs);
  g_clear_object (&cs->cancellable);
}

static GSourceFuncs cancel_source_funcs = {
  .dispatch = cancel_source_dispatch,
  .finalize = cancel_source_finalize,
};

GSource *
pk_cancel_source_new (GCancellable *cancellable)
{
  GSource *source = g_source_new (&cancel_source_funcs, sizeof (PkCancelSource));
  PkCancelSource *cs = (PkCancelSource *) source;

  g_source_set_static_name (source, "[proxykit] cancelled");
  g_source_set_ready_time (source, -1);
  cs->cancellable = g_object_ref (cancellable);
  /* Runs the handler at once (and returns 0) if already cancelled. */
  cs->handler = g_cancellable_connect (cancellable, G_CALLBACK (cancelled_cb), source, NULL);

  return source;
}

void
pk_cancel_source_destroy (GSource **source)
{
  if (*source == NULL)
    return;

  cancel_source_disconnect ((PkCancelSource *) *source);
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}
