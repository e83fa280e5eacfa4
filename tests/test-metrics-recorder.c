/* test-metrics-recorder.c: PkMetricsRecorder's files, retention, size
 * cap, partial records and rollups; time comes from the samples.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include <proxykit/proxykit.h>

#include "pk-metrics-private.h"
#include "pk-test-utils.h"

#define SEC G_GINT64_CONSTANT (1000000)
#define MINUTE (60 * SEC)
#define HOUR (3600 * SEC)
#define DAY (24 * HOUR)
/* 2025-08-20 00:00:00 UTC */
#define D0 (G_GINT64_CONSTANT (1755648000) * G_USEC_PER_SEC)

typedef struct {
  char *dir;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->dir = g_dir_make_tmp ("pk-metrics-rec-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  pk_test_run ("rm -rf '%s'", f->dir);
  g_free (f->dir);
}

static JsonNode *
make_sample (gint64 t,
             double busy,
             gint64 tw)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "timestamp");
  json_builder_add_double_value (b, t / 1e6);
  json_builder_set_member_name (b, "cpu");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "busy_pct");
  json_builder_add_double_value (b, busy);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "tw");
  if (tw < 0)
    json_builder_add_null_value (b);   /* absent in this sample */
  else
    json_builder_add_int_value (b, tw);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static void
append (PkMetricsRecorder *rec,
        gint64             t,
        double             busy,
        gint64             tw)
{
  g_autoptr(JsonNode) s = make_sample (t, busy, tw);
  g_autoptr(GError) error = NULL;

  pk_metrics_recorder_append (rec, s, &error);
  g_assert_no_error (error);
}

static JsonArray *
read_history (const char          *dir,
              PkMetricsResolution  res,
              gint64               since,
              gint64               until,
              JsonNode           **keep)
{
  g_autoptr(GError) error = NULL;

  *keep = pk_metrics_history_read (dir, res, since, until, &error);
  g_assert_no_error (error);
  return json_node_get_array (*keep);
}

static gboolean
exists (const char *dir,
        const char *rel)
{
  g_autofree char *p = g_build_filename (dir, rel, NULL);
  return g_file_test (p, G_FILE_TEST_EXISTS);
}

static void
test_layout_and_read (Fixture *f, gconstpointer data)
{
  g_autoptr(PkMetricsRecorder) rec = pk_metrics_recorder_new (f->dir);
  g_autoptr(PkMetricsRecorder) daily = NULL;
  g_autofree char *ddir = g_build_filename (f->dir, "d", NULL);
  g_autoptr(JsonNode) h = NULL;
  JsonArray *arr;

  for (int i = 0; i < 6; i++)
    append (rec, D0 + 14 * HOUR + i * 20 * MINUTE, i, i);
  g_assert_true (exists (f->dir, "raw/2025-08-20/metrics_14.jsonl"));
  g_assert_true (exists (f->dir, "raw/2025-08-20/metrics_15.jsonl"));

  arr = read_history (f->dir, PK_METRICS_RESOLUTION_RAW, D0 + 14 * HOUR + 30 * MINUTE,
                      D0 + 15 * HOUR + 30 * MINUTE, &h);
  /* 14:40, 15:00, 15:20 */
  g_assert_cmpuint (json_array_get_length (arr), ==, 3);
  g_assert_cmpint (pk_metrics_sample_time_us (json_array_get_element (arr, 0)), ==,
                   D0 + 14 * HOUR + 40 * MINUTE);

  daily = pk_metrics_recorder_new (ddir);
  pk_metrics_recorder_set_layout (daily, PK_METRICS_FILE_DAILY);
  append (daily, D0 + HOUR, 1, 1);
  append (daily, D0 + 5 * HOUR, 1, 1);
  g_assert_true (exists (ddir, "raw/2025-08-20/metrics.jsonl"));
  g_clear_pointer (&h, json_node_unref);
  arr = read_history (ddir, PK_METRICS_RESOLUTION_RAW, D0, D0 + DAY, &h);
  g_assert_cmpuint (json_array_get_length (arr), ==, 2);
}

static void
test_rollups (Fixture *f, gconstpointer data)
{
  g_autoptr(PkMetricsRecorder) rec = pk_metrics_recorder_new (f->dir);
  g_autoptr(JsonNode) h = NULL;
  g_autoptr(JsonNode) d = NULL;
  JsonArray *hours, *days;
  JsonObject *h0;

  /* hour 10: busy 10, 20, 60; tw 5, absent, 7 */
  append (rec, D0 + 10 * HOUR, 10, 5);
  append (rec, D0 + 10 * HOUR + 600 * SEC, 20, -1);
  append (rec, D0 + 10 * HOUR + 1200 * SEC, 60, 7);
  /* hour 11: busy 40 */
  append (rec, D0 + 11 * HOUR, 40, 1);
  /* next day: rolls up hour 11 and day 0 */
  append (rec, D0 + DAY + HOUR, 0, 0);

  hours = read_history (f->dir, PK_METRICS_RESOLUTION_HOUR, D0, D0 + 2 * DAY, &h);
  g_assert_cmpuint (json_array_get_length (hours), ==, 2);
  h0 = json_array_get_object_element (hours, 0);
  g_assert_cmpstr (json_object_get_string_member (h0, "time"), ==, "2025-08-20T10:00:00Z");
  g_assert_cmpint (json_object_get_int_member (h0, "samples"), ==, 3);
  g_assert_cmpfloat (json_object_get_double_member (json_object_get_object_member (h0, "min"), "cpu.busy_pct"), ==, 10);
  g_assert_cmpfloat (json_object_get_double_member (json_object_get_object_member (h0, "avg"), "cpu.busy_pct"), ==, 30);
  g_assert_cmpfloat (json_object_get_double_member (json_object_get_object_member (h0, "max"), "cpu.busy_pct"), ==, 60);
  /* an absent figure does not count as a zero */
  g_assert_cmpfloat (json_object_get_double_member (json_object_get_object_member (h0, "min"), "tw"), ==, 5);
  g_assert_cmpfloat (json_object_get_double_member (json_object_get_object_member (h0, "avg"), "tw"), ==, 6);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (h0, "count"), "tw"), ==, 2);
  g_assert_false (json_object_has_member (json_object_get_object_member (h0, "avg"), "timestamp"));

  days = read_history (f->dir, PK_METRICS_RESOLUTION_DAY, D0 - DAY, D0 + 2 * DAY, &d);
  g_assert_cmpuint (json_array_get_length (days), ==, 1);
  {
    JsonObject *d0 = json_array_get_object_element (days, 0);
    JsonObject *avg = json_object_get_object_member (d0, "avg");

    g_assert_cmpstr (json_object_get_string_member (d0, "period"), ==, "day");
    g_assert_cmpint (json_object_get_int_member (d0, "samples"), ==, 4);
    /* weighted by samples: (10 + 20 + 60 + 40) / 4 */
    g_assert_cmpfloat (json_object_get_double_member (avg, "cpu.busy_pct"), ==, 32.5);
    g_assert_cmpfloat (json_object_get_double_member (json_object_get_object_member (d0, "max"), "cpu.busy_pct"), ==, 60);
    g_assert_cmpfloat (json_object_get_double_member (json_object_get_object_member (d0, "min"), "tw"), ==, 1);
  }

  /* a new recorder on the same directory does not roll up twice */
  {
    g_autoptr(PkMetricsRecorder) again = pk_metrics_recorder_new (f->dir);
    g_autoptr(JsonNode) h2 = NULL;

    append (again, D0 + DAY + 2 * HOUR, 0, 0);
    hours = read_history (f->dir, PK_METRICS_RESOLUTION_HOUR, D0, D0 + 2 * DAY, &h2);
    /* hour 10, 11 and the first hour of the next day */
    g_assert_cmpuint (json_array_get_length (hours), ==, 3);
  }
}

static void
test_partial_record (Fixture *f, gconstpointer data)
{
  g_autofree char *path = g_build_filename (f->dir, "raw/2025-08-20/metrics_09.jsonl", NULL);
  g_autoptr(JsonNode) h = NULL;
  g_autoptr(JsonNode) h2 = NULL;
  g_autofree char *contents = NULL;
  JsonArray *arr;
  FILE *fp;

  {
    g_autoptr(PkMetricsRecorder) rec = pk_metrics_recorder_new (f->dir);
    for (int i = 0; i < 3; i++)
      append (rec, D0 + 9 * HOUR + i * SEC * 10, i, i);
  }
  /* a crash in the middle of a record */
  fp = fopen (path, "a");
  g_assert_nonnull (fp);
  fputs ("{\"timestamp\":1755680430,\"cpu\":{\"busy_p", fp);
  fclose (fp);

  arr = read_history (f->dir, PK_METRICS_RESOLUTION_RAW, D0, D0 + DAY, &h);
  g_assert_cmpuint (json_array_get_length (arr), ==, 3);

  /* the next writer cuts the partial line off and carries on */
  {
    g_autoptr(PkMetricsRecorder) rec = pk_metrics_recorder_new (f->dir);
    append (rec, D0 + 9 * HOUR + 40 * SEC, 9, 9);
  }
  arr = read_history (f->dir, PK_METRICS_RESOLUTION_RAW, D0, D0 + DAY, &h2);
  g_assert_cmpuint (json_array_get_length (arr), ==, 4);
  g_file_get_contents (path, &contents, NULL, NULL);
  g_assert_null (strstr (contents, "busy_p\""));
  g_assert_null (strstr (contents, "busy_p{"));
  g_assert_true (g_str_has_suffix (contents, "}\n"));
}

static void
test_retention (Fixture *f, gconstpointer data)
{
  g_autoptr(PkMetricsRecorder) rec = pk_metrics_recorder_new (f->dir);

  pk_metrics_recorder_set_retention (rec, 3, 0, 5, 365);
  for (int day = 0; day < 10; day++)
    append (rec, D0 + day * DAY + 12 * HOUR, day, day);

  /* day 9 is now: days 6, 7, 8 and 9 end less than 3 days ago */
  g_assert_false (exists (f->dir, "raw/2025-08-25"));
  g_assert_false (exists (f->dir, "raw/2025-08-25/metrics_12.jsonl"));
  g_assert_true (exists (f->dir, "raw/2025-08-26/metrics_12.jsonl"));
  g_assert_true (exists (f->dir, "raw/2025-08-29/metrics_12.jsonl"));
  /* hourly rollups for 5 days, daily ones for longer */
  g_assert_false (exists (f->dir, "hourly/2025-08-23.jsonl"));
  g_assert_true (exists (f->dir, "hourly/2025-08-24.jsonl"));
  g_assert_true (exists (f->dir, "daily/2025-08.jsonl"));
}

static void
test_size_cap (Fixture *f, gconstpointer data)
{
  g_autoptr(PkMetricsRecorder) rec = pk_metrics_recorder_new (f->dir);
  g_autofree char *one = NULL;
  g_autoptr(JsonNode) s = make_sample (D0, 1, 1);
  gsize line;

  one = json_to_string (s, FALSE);
  line = strlen (one) + 1;
  /* room for a little more than 3 hourly files of 4 samples */
  pk_metrics_recorder_set_retention (rec, 0, line * 13, 0, 0);
  for (int hour = 0; hour < 8; hour++)
    for (int i = 0; i < 4; i++)
      append (rec, D0 + hour * HOUR + i * MINUTE, hour, i);

  /* oldest first; the one being written stays */
  for (int hour = 0; hour < 5; hour++)
    {
      g_autofree char *rel = g_strdup_printf ("raw/2025-08-20/metrics_%02d.jsonl", hour);
      g_assert_false (exists (f->dir, rel));
    }
  for (int hour = 5; hour < 8; hour++)
    {
      g_autofree char *rel = g_strdup_printf ("raw/2025-08-20/metrics_%02d.jsonl", hour);
      g_assert_true (exists (f->dir, rel));
    }
  g_assert_cmpuint (pk_metrics_recorder_get_raw_size (rec), <=, line * 13);
  /* the rollups of the removed hours remain */
  g_assert_true (exists (f->dir, "hourly/2025-08-20.jsonl"));
}

int
main (int argc, char **argv)
{
  pk_test_init (&argc, &argv);
  g_test_add ("/metrics/recorder/layout-and-read", Fixture, NULL, setup, test_layout_and_read, teardown);
  g_test_add ("/metrics/recorder/rollups", Fixture, NULL, setup, test_rollups, teardown);
  g_test_add ("/metrics/recorder/partial-record", Fixture, NULL, setup, test_partial_record, teardown);
  g_test_add ("/metrics/recorder/retention", Fixture, NULL, setup, test_retention, teardown);
  g_test_add ("/metrics/recorder/size-cap", Fixture, NULL, setup, test_size_cap, teardown);
  return g_test_run ();
}
