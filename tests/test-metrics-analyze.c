/* test-metrics-analyze.c: pk_metrics_analyze finds each cause planted in
 * a synthetic history, and nothing in a healthy one
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include <proxykit/proxykit.h>

#include "pk-test-utils.h"

#define SEC G_GINT64_CONSTANT (1000000)
#define MINUTE (60 * SEC)
/* 2025-08-20 14:30:00 UTC, the failure */
#define FAIL (G_GINT64_CONSTANT (1755700200) * SEC)

typedef enum {
  PLANT_NONE,
  PLANT_EPHEMERAL,
  PLANT_TIME_WAIT,
  PLANT_CONNTRACK,
  PLANT_SOFTNET,
  PLANT_NIC,
  PLANT_RSS,
  PLANT_LISTENER,
  PLANT_DESTINATION,
} Plant;

/* One sample of a node, minute i of 20 before the failure (i = 19 is the
 * failure minute), with one cause planted in its last 10 minutes. */
static JsonNode *
sample (int   i,
        Plant plant)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  gboolean bad = i >= 10;
  double k = bad ? i - 9 : 0;   /* 1..10 over the bad minutes */

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "timestamp");
  json_builder_add_double_value (b, (FAIL - (19 - i) * MINUTE) / 1e6);

  json_builder_set_member_name (b, "ephemeral_ports");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "size");
  json_builder_add_int_value (b, 28232);
  json_builder_set_member_name (b, "in_use");
  json_builder_add_int_value (b, plant == PLANT_EPHEMERAL ? 2000 + k * 2400 : 1500 + i % 3);
  json_builder_set_member_name (b, "used_pct");
  json_builder_add_double_value (b, (plant == PLANT_EPHEMERAL ? 2000 + k * 2400 : 1500 + i % 3) * 100.0 / 28232);
  /* one upstream (a relay's target) takes most ports */
  json_builder_set_member_name (b, "busiest_destination");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "destination");
  json_builder_add_string_value (b, "10.0.0.1:1723");
  json_builder_set_member_name (b, "in_use");
  json_builder_add_int_value (b, plant == PLANT_DESTINATION ? 1000 + k * 2500 : 900);
  json_builder_set_member_name (b, "used_pct");
  json_builder_add_double_value (b, (plant == PLANT_DESTINATION ? 1000 + k * 2500 : 900) * 100.0 / 28232);
  json_builder_end_object (b);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "tcp");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "remote_443");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "TIME_WAIT");
  json_builder_add_int_value (b, plant == PLANT_TIME_WAIT ? 100 + k * 100 : 120);
  json_builder_set_member_name (b, "ESTABLISHED");
  json_builder_add_int_value (b, 40);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "ports");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "10011");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "LISTEN");
  json_builder_add_int_value (b, plant == PLANT_LISTENER && i >= 15 ? 0 : 1);
  json_builder_end_object (b);
  json_builder_end_object (b);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "conntrack");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "entries");
  json_builder_add_int_value (b, plant == PLANT_CONNTRACK ? 200000 + k * 6200 : 30000);
  json_builder_set_member_name (b, "limit");
  json_builder_add_int_value (b, 262144);
  json_builder_set_member_name (b, "used_pct");
  json_builder_add_double_value (b, (plant == PLANT_CONNTRACK ? 200000 + k * 6200 : 30000) * 100.0 / 262144);
  json_builder_set_member_name (b, "stats");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "drop");
  json_builder_add_int_value (b, plant == PLANT_CONNTRACK && k > 8 ? 50 * (k - 8) : 0);
  json_builder_end_object (b);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "softnet");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "dropped");
  json_builder_add_int_value (b, 7 + (plant == PLANT_SOFTNET ? k * 30 : 0));
  json_builder_set_member_name (b, "time_squeeze");
  json_builder_add_int_value (b, 3);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "interfaces");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "eth0");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "rx_drops");
  json_builder_add_int_value (b, 12 + (plant == PLANT_NIC ? k * 4 : 0));
  json_builder_set_member_name (b, "tx_drops");
  json_builder_add_int_value (b, 0);
  json_builder_set_member_name (b, "rx_errors");
  json_builder_add_int_value (b, 0);
  json_builder_set_member_name (b, "tx_errors");
  json_builder_add_int_value (b, 0);
  json_builder_end_object (b);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "processes");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "4242");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, "pk-socks");
  json_builder_set_member_name (b, "rss_bytes");
  /* a healthy process wobbles; a leaking one climbs 5 MB a minute */
  json_builder_add_int_value (b, plant == PLANT_RSS ? 50000000 + i * 5000000 + (i % 4 == 3 ? -100000 : 0)
                                                    : 50000000 + (i % 2) * 3000000);
  json_builder_set_member_name (b, "open_fds");
  json_builder_add_int_value (b, 40 + i % 3);
  json_builder_end_object (b);
  json_builder_end_object (b);

  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static JsonNode *
analyze (Plant  plant,
         gint64 at,
         gint64 window)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkMetricsRecorder) rec = NULL;
  g_autofree char *dir = g_dir_make_tmp ("pk-metrics-an-XXXXXX", &error);
  JsonNode *result;

  g_assert_no_error (error);
  rec = pk_metrics_recorder_new (dir);
  for (int i = 0; i < 20; i++)
    {
      g_autoptr(JsonNode) s = sample (i, plant);
      pk_metrics_recorder_append (rec, s, &error);
      g_assert_no_error (error);
    }
  result = pk_metrics_analyze (dir, at, window, &error);
  g_assert_no_error (error);
  pk_test_run ("rm -rf '%s'", dir);
  return result;
}

static char *
causes (JsonNode *result)
{
  JsonArray *suspects = json_object_get_array_member (json_node_get_object (result), "suspects");
  g_autoptr(GString) s = g_string_new (NULL);

  for (guint i = 0; i < json_array_get_length (suspects); i++)
    {
      JsonObject *o = json_array_get_object_element (suspects, i);
      if (s->len)
        g_string_append_c (s, ',');
      g_string_append (s, json_object_get_string_member (o, "cause"));
    }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static JsonObject *
evidence (JsonNode *result,
          guint     index)
{
  JsonArray *suspects = json_object_get_array_member (json_node_get_object (result), "suspects");
  return json_object_get_object_member (json_array_get_object_element (suspects, index), "evidence");
}

static void
test_planted (gconstpointer data)
{
  static const char *expect[] = {
    [PLANT_NONE] = "",
    [PLANT_EPHEMERAL] = "ephemeral-ports",
    [PLANT_TIME_WAIT] = "time-wait-443",
    [PLANT_CONNTRACK] = "conntrack-full,conntrack-drops",
    [PLANT_SOFTNET] = "softnet-drops",
    [PLANT_NIC] = "nic-drops",
    [PLANT_RSS] = "process-leak",
    [PLANT_LISTENER] = "listener-gone",
    [PLANT_DESTINATION] = "ephemeral-ports-destination",
  };
  Plant plant = GPOINTER_TO_INT (data);
  g_autoptr(JsonNode) result = analyze (plant, FAIL, 20 * MINUTE);
  g_autofree char *found = causes (result);

  g_assert_cmpint (json_object_get_int_member (json_node_get_object (result), "samples"), ==, 20);
  g_assert_cmpstr (found, ==, expect[plant]);

  switch (plant)
    {
    case PLANT_EPHEMERAL:
      g_assert_cmpfloat (json_object_get_double_member (evidence (result, 0), "in_use"), ==, 26000);
      g_assert_cmpstr (json_object_get_string_member (evidence (result, 0), "first_above"), ==,
                       "2025-08-20T14:29:00Z");
      break;
    case PLANT_TIME_WAIT:
      g_assert_cmpfloat (json_object_get_double_member (evidence (result, 0), "max"), ==, 1100);
      g_assert_cmpstr (json_object_get_string_member (evidence (result, 0), "first_above"), ==,
                       "2025-08-20T14:25:00Z");
      break;
    case PLANT_SOFTNET:
      g_assert_cmpfloat (json_object_get_double_member (evidence (result, 0), "increase"), ==, 300);
      break;
    case PLANT_NIC:
      g_assert_cmpstr (json_object_get_string_member (evidence (result, 0), "metric"), ==,
                       "interfaces.eth0.rx_drops");
      break;
    case PLANT_RSS:
      g_assert_cmpstr (json_object_get_string_member (evidence (result, 0), "process"), ==, "pk-socks");
      break;
    case PLANT_DESTINATION:
      g_assert_cmpstr (json_object_get_string_member (evidence (result, 0), "destination"), ==,
                       "10.0.0.1:1723");
      g_assert_cmpfloat (json_object_get_double_member (evidence (result, 0), "in_use"), ==, 26000);
      break;
    case PLANT_LISTENER:
      g_assert_cmpstr (json_object_get_string_member (evidence (result, 0), "gone_at"), ==,
                       "2025-08-20T14:26:00Z");
      break;
    default:
      break;
    }
}

/* Only the window counts: the planted cause ends up outside it. */
static void
test_window (void)
{
  /* the time-wait build-up starts at minute 14 (14:25); a window that
   * ends before it sees nothing */
  g_autoptr(JsonNode) early = analyze (PLANT_TIME_WAIT, FAIL - 6 * MINUTE, 5 * MINUTE);
  g_autofree char *found = causes (early);

  g_assert_cmpstr (found, ==, "");
}

static void
test_no_history (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("pk-metrics-an-XXXXXX", &error);
  g_autoptr(JsonNode) result = pk_metrics_analyze (dir, FAIL, 10 * MINUTE, &error);

  g_assert_null (result);
  g_assert_error (error, PK_ERROR, PK_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "2025-08-20T14:30:00Z"));
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  static const char *names[] = { "healthy", "ephemeral", "time-wait", "conntrack", "softnet",
                                 "nic", "rss", "listener", "destination" };

  pk_test_init (&argc, &argv);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *path = g_strdup_printf ("/metrics/analyze/planted/%s", names[i]);
      g_test_add_data_func (path, GINT_TO_POINTER (i), test_planted);
    }
  g_test_add_func ("/metrics/analyze/window", test_window);
  g_test_add_func ("/metrics/analyze/no-history", test_no_history);
  return g_test_run ();
}
