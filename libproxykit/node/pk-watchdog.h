/* pk-watchdog.h: hysteresis over probes, driven by timers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__PROXYKIT_INSIDE__) && !defined(PROXYKIT_COMPILATION)
#error "Only <proxykit/proxykit.h> can be included directly."
#endif

#include <gio/gio.h>
#include "pk-version-macros.h"
#include "pk-hysteresis.h"
#include "pk-probe.h"

G_BEGIN_DECLS

#define PK_TYPE_WATCHDOG (pk_watchdog_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkWatchdog, pk_watchdog, PK, WATCHDOG, GObject)

PK_AVAILABLE_IN_ALL
PkWatchdog   *pk_watchdog_new                 (const char   *name);
PK_AVAILABLE_IN_ALL
const char   *pk_watchdog_get_name            (PkWatchdog   *self);

PK_AVAILABLE_IN_ALL
void          pk_watchdog_add_probe           (PkWatchdog   *self,
                                               PkProbe      *probe);
PK_AVAILABLE_IN_ALL
void          pk_watchdog_clear_probes        (PkWatchdog   *self);
PK_AVAILABLE_IN_ALL
guint         pk_watchdog_get_n_probes        (PkWatchdog   *self);

PK_AVAILABLE_IN_ALL
guint         pk_watchdog_get_interval_ms     (PkWatchdog   *self);
PK_AVAILABLE_IN_ALL
void          pk_watchdog_set_interval_ms     (PkWatchdog   *self,
                                               guint         interval_ms);
PK_AVAILABLE_IN_ALL
guint         pk_watchdog_get_retry_delay_ms  (PkWatchdog   *self);
PK_AVAILABLE_IN_ALL
void          pk_watchdog_set_retry_delay_ms  (PkWatchdog   *self,
                                               guint         retry_delay_ms);
PK_AVAILABLE_IN_ALL
guint         pk_watchdog_get_initial_delay_ms (PkWatchdog  *self);
PK_AVAILABLE_IN_ALL
void          pk_watchdog_set_initial_delay_ms (PkWatchdog  *self,
                                                guint        initial_delay_ms);
PK_AVAILABLE_IN_ALL
guint         pk_watchdog_get_jitter_ms       (PkWatchdog   *self);
PK_AVAILABLE_IN_ALL
void          pk_watchdog_set_jitter_ms       (PkWatchdog   *self,
                                               guint         jitter_ms);
PK_AVAILABLE_IN_ALL
guint         pk_watchdog_get_timeout_ms      (PkWatchdog   *self);
PK_AVAILABLE_IN_ALL
void          pk_watchdog_set_timeout_ms      (PkWatchdog   *self,
                                               guint         timeout_ms);
PK_AVAILABLE_IN_ALL
guint         pk_watchdog_get_fall            (PkWatchdog   *self);
PK_AVAILABLE_IN_ALL
void          pk_watchdog_set_fall            (PkWatchdog   *self,
                                               guint         fall);
PK_AVAILABLE_IN_ALL
guint         pk_watchdog_get_rise            (PkWatchdog   *self);
PK_AVAILABLE_IN_ALL
void          pk_watchdog_set_rise            (PkWatchdog   *self,
                                               guint         rise);

PK_AVAILABLE_IN_ALL
void          pk_watchdog_start               (PkWatchdog   *self);
PK_AVAILABLE_IN_ALL
void          pk_watchdog_stop                (PkWatchdog   *self);
PK_AVAILABLE_IN_ALL
gboolean      pk_watchdog_is_running          (PkWatchdog   *self);

PK_AVAILABLE_IN_ALL
PkHysteresisEvent pk_watchdog_feed            (PkWatchdog   *self,
                                               gboolean      ok,
                                               const char   *reason);
PK_AVAILABLE_IN_ALL
void          pk_watchdog_check_async         (PkWatchdog          *self,
                                               GCancellable        *cancellable,
                                               GAsyncReadyCallback  callback,
                                               gpointer             user_data);
PK_AVAILABLE_IN_ALL
gboolean      pk_watchdog_check_finish        (PkWatchdog    *self,
                                               GAsyncResult  *result,
                                               GError       **error);

PK_AVAILABLE_IN_ALL
PkHysteresis *pk_watchdog_get_hysteresis      (PkWatchdog   *self);
PK_AVAILABLE_IN_ALL
PkHealth      pk_watchdog_get_health          (PkWatchdog   *self);
PK_AVAILABLE_IN_ALL
guint         pk_watchdog_get_consecutive_failures (PkWatchdog *self);
PK_AVAILABLE_IN_ALL
guint         pk_watchdog_get_fails           (PkWatchdog   *self);
PK_AVAILABLE_IN_ALL
gint64        pk_watchdog_get_last_change     (PkWatchdog   *self);
PK_AVAILABLE_IN_ALL
const char   *pk_watchdog_get_last_reason     (PkWatchdog   *self);
PK_AVAILABLE_IN_ALL
guint64       pk_watchdog_get_last_check_us   (PkWatchdog   *self);

G_END_DECLS
