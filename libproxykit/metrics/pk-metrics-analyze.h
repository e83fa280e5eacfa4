/* pk-metrics-analyze.h: the likely causes of a failure, from history
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

G_BEGIN_DECLS

PK_AVAILABLE_IN_ALL
JsonNode *pk_metrics_analyze_samples (JsonArray  *samples);
PK_AVAILABLE_IN_ALL
JsonNode *pk_metrics_analyze         (const char *directory,
                                      gint64      at_us,
                                      gint64      window_us,
                                      GError    **error);
PK_AVAILABLE_IN_ALL
char     *pk_metrics_format_analysis (JsonNode   *analysis);

G_END_DECLS
