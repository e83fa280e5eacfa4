/* pk-prom-private.h: a writer of the Prometheus text exposition format
 * (version 0.0.4), shared by everything in the library that serves
 * /metrics (not installed).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   g_autoptr(PkPromWriter) w = pk_prom_writer_new ();
 *
 *   pk_prom_writer_family (w, "proxykit_socks_connections_total",
 *                          PK_PROM_COUNTER, "SOCKS connections accepted.");
 *   pk_prom_writer_sample_uint (w, "proxykit_socks_connections_total", 42,
 *                               "port", "10011", NULL);
 *   body = pk_prom_writer_free_to_bytes (g_steal_pointer (&w));
 *
 * Every sample must belong to the family announced last: samples of one
 * family are written together, and a family is announced only once per
 * exposition (a second announcement of the current family is a no-op).
 * Counter names end in "_total". Histogram and summary families also take
 * samples named FAMILY_bucket, FAMILY_sum and FAMILY_count. Misuse is a
 * programming error and reported with g_critical().
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The Content-Type of a response carrying this format. */
#define PK_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef enum {
  PK_PROM_COUNTER,
  PK_PROM_GAUGE,
  PK_PROM_UNTYPED,
  PK_PROM_HISTOGRAM,
  PK_PROM_SUMMARY,
} PkPromType;

typedef struct _PkPromWriter PkPromWriter;

PkPromWriter *pk_prom_writer_new            (void);
void          pk_prom_writer_free           (PkPromWriter *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PkPromWriter, pk_prom_writer_free)

/* Announces a family: "# HELP" (if @help is not NULL) and "# TYPE". */
void          pk_prom_writer_family         (PkPromWriter *self,
                                             const char   *name,
                                             PkPromType    type,
                                             const char   *help);

/* One sample. The variadic forms take label name/value pairs ended by
 * NULL; the _labels forms take them as a NULL-terminated array
 * { name, value, name, value, ..., NULL }. Label values may hold any
 * UTF-8 text (it is escaped); label names must match
 * [a-zA-Z_][a-zA-Z0-9_]* and not start with "__". A label with a NULL
 * value is left out. */
void          pk_prom_writer_sample         (PkPromWriter *self,
                                             const char   *name,
                                             double        value,
                                             ...) G_GNUC_NULL_TERMINATED;
void          pk_prom_writer_sample_uint    (PkPromWriter *self,
                                             const char   *name,
                                             guint64       value,
                                             ...) G_GNUC_NULL_TERMINATED;
void          pk_prom_writer_sample_labels  (PkPromWriter       *self,
                                             const char         *name,
                                             const char * const *labels,
                                             double              value);
void          pk_prom_writer_sample_uint_labels (PkPromWriter       *self,
                                                 const char         *name,
                                                 const char * const *labels,
                                                 guint64             value);

/* The text so far (borrowed, valid until the next call). */
const char   *pk_prom_writer_get_text       (PkPromWriter *self);
char         *pk_prom_writer_free_to_string (PkPromWriter *self);
GBytes       *pk_prom_writer_free_to_bytes  (PkPromWriter *self);

/* Valid metric / label names, for callers that build names from data. */
gboolean      pk_prom_is_valid_metric_name  (const char   *name);
gboolean      pk_prom_is_valid_label_name   (const char   *name);
/* Appends @value to @out as a label value: backslash, double quote and
 * newline escaped (the quotes are not added). */
void          pk_prom_escape_label_value    (GString      *out,
                                             const char   *value);

/* A histogram of durations, with the fixed buckets 1 ms, 2.5 ms, 5 ms,
 * 10 ms, 25 ms, 50 ms, 100 ms, 250 ms, 500 ms, 1 s, 2.5 s, 5 s, 10 s and
 * +Inf. Observed with atomics from any thread, without a lock; storage
 * set to zero is an empty histogram. Counts per bucket are kept apart
 * and summed when written, so an observation is one increment. */
#define PK_PROM_HISTOGRAM_N_BUCKETS 14

typedef struct {
  guint64 buckets[PK_PROM_HISTOGRAM_N_BUCKETS];
  guint64 sum_us;
} PkPromHistogram;

void          pk_prom_histogram_observe_us  (PkPromHistogram *histogram,
                                             guint64          us);
/* Writes FAMILY_bucket (with an "le" label after @labels), FAMILY_sum (in
 * seconds) and FAMILY_count of @histogram; @family must be the histogram
 * family announced last. @labels as for pk_prom_writer_sample_labels(),
 * or NULL. */
void          pk_prom_writer_histogram      (PkPromWriter          *self,
                                             const char            *family,
                                             const char * const    *labels,
                                             const PkPromHistogram *histogram);

G_END_DECLS
