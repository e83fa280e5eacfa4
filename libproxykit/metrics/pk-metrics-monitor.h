/* pk-metrics-monitor.h: samples on a timer, into the history and the
 * alert rules
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__PROXYKIT_INSIDE__) && !defined(PROXYKIT_COMPILATION)
#error "Only <proxykit/proxykit.h> can be included directly."
#endif

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include "pk-version-macros.h"
#include "pk-config.h"
#include "pk-metrics-alerts.h"
#include "pk-metrics-recorder.h"
#include "pk-metrics-sampler.h"

G_BEGIN_DECLS

#define PK_TYPE_METRICS_MONITOR (pk_metrics_monitor_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkMetricsMonitor, pk_metrics_monitor, PK, METRICS_MONITOR, GObject)

PK_AVAILABLE_IN_ALL
PkMetricsMonitor  *pk_metrics_monitor_new             (PkMetricsSampler   *sampler,
                                                       PkMetricsRecorder  *recorder,
                                                       PkMetricsAlerts    *alerts,
                                                       guint               interval_ms);
PK_AVAILABLE_IN_ALL
PkMetricsMonitor  *pk_metrics_monitor_new_from_config (PkConfig           *config,
                                                       PkMetricsSampler   *sampler,
                                                       GError            **error);

PK_AVAILABLE_IN_ALL
PkMetricsSampler  *pk_metrics_monitor_get_sampler     (PkMetricsMonitor   *self);
PK_AVAILABLE_IN_ALL
PkMetricsRecorder *pk_metrics_monitor_get_recorder    (PkMetricsMonitor   *self);
PK_AVAILABLE_IN_ALL
PkMetricsAlerts   *pk_metrics_monitor_get_alerts      (PkMetricsMonitor   *self);
PK_AVAILABLE_IN_ALL
guint              pk_metrics_monitor_get_interval    (PkMetricsMonitor   *self);

PK_AVAILABLE_IN_ALL
void               pk_metrics_monitor_start           (PkMetricsMonitor   *self);
PK_AVAILABLE_IN_ALL
void               pk_metrics_monitor_stop            (PkMetricsMonitor   *self);
PK_AVAILABLE_IN_ALL
JsonNode          *pk_metrics_monitor_tick            (PkMetricsMonitor   *self,
                                                       GError            **error);
PK_AVAILABLE_IN_ALL
gboolean           pk_metrics_monitor_reload_alerts   (PkMetricsMonitor   *self,
                                                       PkConfig           *config,
                                                       GError            **error);

G_END_DECLS
