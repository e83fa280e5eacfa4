/* pk-metrics-recorder.h: history of samples on disk, with rollups
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

/**
 * PkMetricsFileLayout:
 * @PK_METRICS_FILE_HOURLY: one raw file per hour
 * @PK_METRICS_FILE_DAILY: one raw file per day
 *
 * How raw samples are grouped into files.
 *
 * Since: 0.1
 */
typedef enum {
  PK_METRICS_FILE_HOURLY,
  PK_METRICS_FILE_DAILY,
} PkMetricsFileLayout;

/**
 * PkMetricsResolution:
 * @PK_METRICS_RESOLUTION_RAW: every sample
 * @PK_METRICS_RESOLUTION_HOUR: hourly rollups (min, avg, max)
 * @PK_METRICS_RESOLUTION_DAY: daily rollups (min, avg, max)
 *
 * Which history to read.
 *
 * Since: 0.1
 */
typedef enum {
  PK_METRICS_RESOLUTION_RAW,
  PK_METRICS_RESOLUTION_HOUR,
  PK_METRICS_RESOLUTION_DAY,
} PkMetricsResolution;

#define PK_TYPE_METRICS_RECORDER (pk_metrics_recorder_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkMetricsRecorder, pk_metrics_recorder, PK, METRICS_RECORDER, GObject)

PK_AVAILABLE_IN_ALL
PkMetricsRecorder *pk_metrics_recorder_new                (const char        *directory);
PK_AVAILABLE_IN_ALL
PkMetricsRecorder *pk_metrics_recorder_new_from_config    (PkConfig          *config,
                                                           GError           **error);
PK_AVAILABLE_IN_ALL
const char        *pk_metrics_recorder_get_directory      (PkMetricsRecorder *self);
PK_AVAILABLE_IN_ALL
void               pk_metrics_recorder_set_layout         (PkMetricsRecorder   *self,
                                                           PkMetricsFileLayout  layout);
PK_AVAILABLE_IN_ALL
void               pk_metrics_recorder_set_retention      (PkMetricsRecorder *self,
                                                           guint              raw_days,
                                                           guint64            max_bytes,
                                                           guint              hourly_days,
                                                           guint              daily_days);

PK_AVAILABLE_IN_ALL
gboolean           pk_metrics_recorder_append             (PkMetricsRecorder *self,
                                                           JsonNode          *sample,
                                                           GError           **error);
PK_AVAILABLE_IN_ALL
gboolean           pk_metrics_recorder_expire             (PkMetricsRecorder *self,
                                                           gint64             now_us,
                                                           GError           **error);
PK_AVAILABLE_IN_ALL
guint64            pk_metrics_recorder_get_raw_size       (PkMetricsRecorder *self);

PK_AVAILABLE_IN_ALL
JsonNode          *pk_metrics_history_read                (const char          *directory,
                                                           PkMetricsResolution  resolution,
                                                           gint64               since_us,
                                                           gint64               until_us,
                                                           GError             **error);
PK_AVAILABLE_IN_ALL
gboolean           pk_metrics_parse_time                  (const char          *text,
                                                           gint64              *out_us,
                                                           GError             **error);

G_END_DECLS
