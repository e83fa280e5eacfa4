/* pk-metrics-server.h: /metrics (and the node's history) over HTTP
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
#include "pk-metrics-sampler.h"

G_BEGIN_DECLS

/**
 * PkMetricsCollectFunc:
 * @user_data: the data given to `pk_metrics_server_add_collector()`
 *
 * Gives metric families in the Prometheus text format (`# HELP`,
 * `# TYPE` and samples, each line ending in a newline), called for every
 * scrape of `/metrics` in the server's main context.
 *
 * Returns: (transfer full) (nullable): the text, or %NULL for nothing
 *
 * Since: 0.2
 */
typedef char *(*PkMetricsCollectFunc) (gpointer user_data);

#define PK_TYPE_METRICS_SERVER (pk_metrics_server_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkMetricsServer, pk_metrics_server, PK, METRICS_SERVER, GObject)

PK_AVAILABLE_IN_ALL
PkMetricsServer  *pk_metrics_server_new                   (void);
PK_AVAILABLE_IN_ALL
void              pk_metrics_server_set_sampler           (PkMetricsServer  *self,
                                                           PkMetricsSampler *sampler);
PK_AVAILABLE_IN_ALL
PkMetricsSampler *pk_metrics_server_get_sampler           (PkMetricsServer  *self);
PK_AVAILABLE_IN_ALL
void              pk_metrics_server_set_history_directory (PkMetricsServer  *self,
                                                           const char       *directory);
PK_AVAILABLE_IN_ALL
const char       *pk_metrics_server_get_history_directory (PkMetricsServer  *self);
PK_AVAILABLE_IN_ALL
void              pk_metrics_server_set_last_sample       (PkMetricsServer  *self,
                                                           JsonNode         *sample);
PK_AVAILABLE_IN_ALL
guint             pk_metrics_server_add_collector         (PkMetricsServer      *self,
                                                           PkMetricsCollectFunc  func,
                                                           gpointer              user_data,
                                                           GDestroyNotify        destroy);
PK_AVAILABLE_IN_ALL
void              pk_metrics_server_remove_collector      (PkMetricsServer  *self,
                                                           guint             id);
PK_AVAILABLE_IN_ALL
gboolean          pk_metrics_server_listen                (PkMetricsServer  *self,
                                                           const char       *address,
                                                           GError          **error);
PK_AVAILABLE_IN_ALL
guint16           pk_metrics_server_get_port              (PkMetricsServer  *self);
PK_AVAILABLE_IN_ALL
char            **pk_metrics_server_dup_urls              (PkMetricsServer  *self);
PK_AVAILABLE_IN_ALL
void              pk_metrics_server_stop                  (PkMetricsServer  *self);

G_END_DECLS
