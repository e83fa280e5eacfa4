/* pk-cancel-source-private.h: a source that fires when a GCancellable is cancelled
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Like g_cancellable_source_new(): ready once @cancellable is cancelled, in
 * any thread; its callback is a plain GSourceFunc. GLib 2.74's
 * GCancellableSource leaks (LeakSanitizer sees it in about one run in
 * three) when the cancellable is cancelled in one thread while the source
 * is destroyed in another, which is what a server does when it stops
 * sessions running on worker threads. Destroy this one with
 * pk_cancel_source_destroy() from the thread of its context: it
 * disconnects first, waiting for a handler running elsewhere. */
GSource *pk_cancel_source_new     (GCancellable  *cancellable);
void     pk_cancel_source_destroy (GSource      **source);

G_END_DECLS
