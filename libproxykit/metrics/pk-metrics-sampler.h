/* pk-metrics-sampler.h: one snapshot of the host's health
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

#define PK_TYPE_METRICS_SAMPLER (pk_metrics_sampler_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkMetricsSampler, pk_metrics_sampler, PK, METRICS_SAMPLER, GObject)

PK_AVAILABLE_IN_ALL
PkMetricsSampler *pk_metrics_sampler_new            (void);
PK_AVAILABLE_IN_ALL
PkMetricsSampler *pk_metrics_sampler_new_from_config (PkConfig        *config,
                                                      GError         **error);

PK_AVAILABLE_IN_ALL
const char       *pk_metrics_sampler_get_proc_root  (PkMetricsSampler *self);
PK_AVAILABLE_IN_ALL
void              pk_metrics_sampler_set_proc_root  (PkMetricsSampler *self,
                                                     const char       *proc_root);
PK_AVAILABLE_IN_ALL
const char       *pk_metrics_sampler_get_sys_root   (PkMetricsSampler *self);
PK_AVAILABLE_IN_ALL
void              pk_metrics_sampler_set_sys_root   (PkMetricsSampler *self,
                                                     const char       *sys_root);
PK_AVAILABLE_IN_ALL
gboolean          pk_metrics_sampler_get_sock_diag  (PkMetricsSampler *self);
PK_AVAILABLE_IN_ALL
void              pk_metrics_sampler_set_sock_diag  (PkMetricsSampler *self,
                                                     gboolean          sock_diag);

PK_AVAILABLE_IN_ALL
void              pk_metrics_sampler_add_watch_port    (PkMetricsSampler *self,
                                                        guint             port);
PK_AVAILABLE_IN_ALL
void              pk_metrics_sampler_add_watch_pid     (PkMetricsSampler *self,
                                                        int               pid);
PK_AVAILABLE_IN_ALL
void              pk_metrics_sampler_add_watch_process (PkMetricsSampler *self,
                                                        const char       *name);

PK_AVAILABLE_IN_ALL
JsonNode         *pk_metrics_sampler_sample         (PkMetricsSampler *self,
                                                     GError          **error);
PK_AVAILABLE_IN_ALL
char             *pk_metrics_sampler_sample_json    (PkMetricsSampler *self,
                                                     GError          **error);
PK_AVAILABLE_IN_ALL
JsonNode         *pk_metrics_sampler_sample_at      (PkMetricsSampler *self,
                                                     gint64            unix_time_us,
                                                     GError          **error);

PK_AVAILABLE_IN_ALL
char             *pk_metrics_to_prometheus          (JsonNode         *sample);
PK_AVAILABLE_IN_ALL
char             *pk_metrics_format_table           (JsonNode         *sample);

G_END_DECLS
