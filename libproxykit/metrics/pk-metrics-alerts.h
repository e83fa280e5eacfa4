/* pk-metrics-alerts.h: alert rules over metrics samples
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

G_BEGIN_DECLS

#define PK_TYPE_METRICS_ALERTS (pk_metrics_alerts_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkMetricsAlerts, pk_metrics_alerts, PK, METRICS_ALERTS, GObject)

PK_AVAILABLE_IN_ALL
PkMetricsAlerts *pk_metrics_alerts_new_from_config (PkConfig         *config,
                                                    GError          **error);
PK_AVAILABLE_IN_ALL
guint            pk_metrics_alerts_get_n_rules     (PkMetricsAlerts  *self);
PK_AVAILABLE_IN_ALL
void             pk_metrics_alerts_set_dispatch    (PkMetricsAlerts  *self,
                                                    gboolean          dispatch);
PK_AVAILABLE_IN_ALL
JsonNode        *pk_metrics_alerts_evaluate        (PkMetricsAlerts  *self,
                                                    JsonNode         *sample,
                                                    gint64            now_us);
PK_AVAILABLE_IN_ALL
gboolean         pk_metrics_alerts_event_wants_stdout (PkMetricsAlerts *self,
                                                       JsonNode        *event);

G_END_DECLS
