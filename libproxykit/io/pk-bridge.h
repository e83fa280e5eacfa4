/* pk-bridge.h: moves bytes both ways between two connected sockets
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__PROXYKIT_INSIDE__) && !defined(PROXYKIT_COMPILATION)
#error "Only <proxykit/proxykit.h> can be included directly."
#endif

#include <gio/gio.h>
#include "pk-version-macros.h"

G_BEGIN_DECLS

#define PK_TYPE_BRIDGE (pk_bridge_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkBridge, pk_bridge, PK, BRIDGE, GObject)

/* Both sockets connected and non-blocking; the bridge takes a reference on
 * each and closes neither (its owner does, after run_finish). */
PK_AVAILABLE_IN_ALL
PkBridge *pk_bridge_new                (GSocket             *a,
                                        GSocket             *b);
/* No byte in either direction for this long ends the bridge with
 * G_IO_ERROR_TIMED_OUT. 0 (the default) for none. */
PK_AVAILABLE_IN_ALL
void      pk_bridge_set_idle_timeout   (PkBridge            *self,
                                        guint                timeout_ms);
PK_AVAILABLE_IN_ALL
guint     pk_bridge_get_idle_timeout   (PkBridge            *self);

/* Runs in the thread-default main context of the caller until both
 * directions have ended: EOF on one side becomes shutdown(SHUT_WR) on the
 * other, so a half-closed connection keeps working the other way. */
PK_AVAILABLE_IN_ALL
void      pk_bridge_run_async          (PkBridge            *self,
                                        GCancellable        *cancellable,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data);
/* TRUE when both directions ended with EOF; FALSE with G_IO_ERROR_TIMED_OUT
 * on idle timeout, G_IO_ERROR_CANCELLED, or the socket error
 * (G_IO_ERROR_CONNECTION_CLOSED for a reset). The byte counters are valid
 * either way. */
PK_AVAILABLE_IN_ALL
gboolean  pk_bridge_run_finish         (PkBridge            *self,
                                        GAsyncResult        *result,
                                        GError             **error);

PK_AVAILABLE_IN_ALL
guint64   pk_bridge_get_bytes_a_to_b   (PkBridge            *self);
PK_AVAILABLE_IN_ALL
guint64   pk_bridge_get_bytes_b_to_a   (PkBridge            *self);

G_END_DECLS
