/* test-metrics-alerts.c: alert rules fire exactly when their hysteresis
 * says, stay quiet within the cooldown, and reach the exec hook and the
 * webhook. Time is driven by the test.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <libsoup/soup.h>

#include <proxykit/proxykit.h>

#include "pk-test-utils.h"

#define SEC G_GINT64_CONSTANT (1000000)
#define MINUTE (60 * SEC)
#define T0 (G_GINT64_CONSTANT (1755700200) * SEC)

static PkMetricsAlerts *
alerts_from (const char *text,
             GError    **error)
{
  g_autoptr(PkConfig) config = pk_config_new ();
  const char *env[] = { NULL };
  PkMetricsAlerts *alerts;

  pk_config_set_environ (config, env);
  if (!pk_config_load_data (config, text, -1, "test.conf", error))
    return NULL;
  alerts = pk_metrics_alerts_new_from_config (config, error);
  if (alerts)
    pk_metrics_alerts_set_dispatch (alerts, FALSE);
  return alerts;
}

static JsonNode *
value_sample (double v)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "cpu");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "busy");
  json_builder_add_double_value (b, v);
  json_builder_end_object (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* Feeds values (NAN: a missed sample) one a minute from @t and returns
 * "i:state" for every event. */
static char *
feed (PkMetricsAlerts *alerts,
      const double    *values,
      guint            n,
      gint64           t,
      gint64           step)
{
  g_autoptr(GString) out = g_string_new (NULL);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(JsonNode) s = isnan (values[i]) ? NULL : value_sample (values[i]);
      g_autoptr(JsonNode) events = pk_metrics_alerts_evaluate (alerts, s, t + i * step);
      JsonArray *arr = json_node_get_array (events);

      for (guint k = 0; k < json_array_get_length (arr); k++)
        {
          JsonObject *e = json_array_get_object_element (arr, k);

          g_string_append_printf (out, "%s%u:%s%s", out->len ? " " : "", i,
                                  json_object_get_string_member (e, "state"),
                                  json_object_get_boolean_member (e, "repeat") ? "(repeat)" : "");
        }
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static void
test_threshold_hysteresis (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkMetricsAlerts) alerts = alerts_from (
    "[alert:cpu]\n"
    "metric = cpu.busy\n"
    "kind = above\n"
    "threshold = 90\n"
    "clear-threshold = 80\n"
    "for = 3\n"
    "clear-for = 2\n", &error);
  /* two bad, a good one resets the count; three bad fire; 85 is inside
   * the band and keeps it firing; two below 80 resolve it */
  const double v[] = { 95, 95, 50, 95, 95, 95, 85, 85, 79, 85, 79, 79, 95 };
  g_autofree char *events = NULL;

  g_assert_no_error (error);
  g_assert_cmpuint (pk_metrics_alerts_get_n_rules (alerts), ==, 1);
  events = feed (alerts, v, G_N_ELEMENTS (v), T0, 10 * SEC);
  g_assert_cmpstr (events, ==, "5:firing 11:resolved");
}

static void
test_below (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkMetricsAlerts) alerts = alerts_from (
    "[alert:low]\nmetric = cpu.busy\nkind = below\nthreshold = 10\nfor = 2\n", &error);
  const double v[] = { 5, 50, 5, 5, 5, 20, 20 };
  g_autofree char *events = NULL;

  g_assert_no_error (error);
  events = feed (alerts, v, G_N_ELEMENTS (v), T0, 10 * SEC);
  g_assert_cmpstr (events, ==, "3:firing 6:resolved");
}

static void
test_cooldown (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkMetricsAlerts) alerts = alerts_from (
    "[alert:cpu]\nmetric = cpu.busy\nthreshold = 90\ncooldown = 10m\n", &error);
  /* one a minute: fires at 0, resolves at 2; fires again at 4 and 6
   * (inside 10 min: quiet, and so is its resolution); at 11 it may speak */
  const double v[] = { 95, 95, 50, 50, 95, 50, 95, 50, 50, 50, 50, 95, 50 };
  g_autofree char *events = NULL;

  g_assert_no_error (error);
  events = feed (alerts, v, G_N_ELEMENTS (v), T0, MINUTE);
  g_assert_cmpstr (events, ==, "0:firing 2:resolved 11:firing 12:resolved");
}

static void
test_repeat (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkMetricsAlerts) alerts = alerts_from (
    "[alert:cpu]\nmetric = cpu.busy\nthreshold = 90\ncooldown = 10m\nrepeat = true\nfor = 2\n", &error);
  double v[25];
  g_autofree char *events = NULL;

  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (v); i++)
    v[i] = i < 23 ? 99 : 0;
  events = feed (alerts, v, G_N_ELEMENTS (v), T0, MINUTE);
  g_assert_cmpstr (events, ==, "1:firing 11:firing(repeat) 21:firing(repeat) 24:resolved");
}

static void
test_spike_and_drop (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkMetricsAlerts) alerts = alerts_from (
    "[alert:spike]\nmetric = cpu.busy\nkind = spike\nfactor = 3\nema-alpha = 0.5\nwarmup = 3\n"
    "[alert:drop]\nmetric = cpu.busy\nkind = drop\nfactor = 4\nema-samples = 3\nwarmup = 3\n", &error);
  /* no verdict during the warm-up (0 is not a drop there); 400 > 3 x 100;
   * then the baseline is 250: 100 is fine; 20 < 100 / 4 is a drop */
  const double v[] = { 100, 0, 100, 100, 100, 400, 100, 100, 20, 100 };
  g_autoptr(GString) got = g_string_new (NULL);
  gint64 t = T0;

  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (v); i++, t += 10 * SEC)
    {
      g_autoptr(JsonNode) s = value_sample (v[i]);
      g_autoptr(JsonNode) events = pk_metrics_alerts_evaluate (alerts, s, t);
      JsonArray *arr = json_node_get_array (events);

      for (guint k = 0; k < json_array_get_length (arr); k++)
        {
          JsonObject *e = json_array_get_object_element (arr, k);
          g_string_append_printf (got, "%u:%s:%s ", i, json_object_get_string_member (e, "alert"),
                                  json_object_get_string_member (e, "state"));
          if (i == 5)
            g_assert_cmpfloat (json_object_get_double_member (e, "baseline"), >, 80);
        }
    }
  g_assert_cmpstr (got->str, ==, "5:spike:firing 6:spike:resolved 8:drop:firing 9:drop:resolved ");
}

static void
test_absent (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkMetricsAlerts) alerts = alerts_from (
    "[alert:offline]\nmetric = cpu.busy\nkind = absent\nfor = 3\nclear-for = 1\n", &error);
  const double v[] = { 1, NAN, NAN, 1, NAN, NAN, NAN, NAN, 1 };
  g_autofree char *events = NULL;

  g_assert_no_error (error);
  events = feed (alerts, v, G_N_ELEMENTS (v), T0, 10 * SEC);
  g_assert_cmpstr (events, ==, "6:firing 8:resolved");
}

static void
test_config_errors (void)
{
  static const struct { const char *text, *message; } cases[] = {
    { "[alert:a]\nmetric = x\nkind = sideways\n", "test.conf:3: [alert:a] kind: expected above" },
    { "[alert:a]\nmetric = x\nthreshold = lots\n", "test.conf:3: [alert:a] threshold: 'lots' is not a number" },
    { "[alert:a]\nmetric = x\n", "[alert:a]: kind above/below needs a threshold" },
    { "[alert:a]\nkind = absent\n", "[alert:a]: no metric" },
    { "[alert:a]\nmetric = x\nkind = spike\nfactor = 0.5\n", "[alert:a] factor: must be more than 1" },
    { "[alert:a]\nmetric = x\nkind = absent\nnotify = log,pager\n", "unknown target 'pager'" },
    { "[alert:a]\nmetric = x\nkind = absent\nnotify = exec\n", "no exec = command" },
    { "[alert:a]\nmetric = x\nkind = absent\nwebhook = ftp://x/\n", "not an http:// or https:// URL" },
    { "[alert:a]\nmetric = x\nkind = absent\nfour = 3\n", "four" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PkMetricsAlerts) alerts = alerts_from (cases[i].text, &error);

      g_assert_null (alerts);
      g_assert_nonnull (error);
      if (strstr (error->message, cases[i].message) == NULL)
        g_error ("case %u: '%s' does not say '%s'", i, error->message, cases[i].message);
    }
}

/* ---- dispatch: the exec hook and the webhook ---- */

typedef struct {
  GMainLoop *loop;
  char *body;
  char *content_type;
} Hook;

static void
on_hook (SoupServer        *server,
         SoupServerMessage *msg,
         const char        *path,
         GHashTable        *query,
         gpointer           user_data)
{
  Hook *h = user_data;
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr(GBytes) bytes = soup_message_body_flatten (body);

  g_free (h->body);
  h->body = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  g_free (h->content_type);
  h->content_type = g_strdup (soup_message_headers_get_content_type (
                                soup_server_message_get_request_headers (msg), NULL));
  soup_server_message_set_status (msg, 204, NULL);
}

static gboolean
file_has_content (gpointer data)
{
  g_autofree char *c = NULL;

  /* the hook writes END last */
  return g_file_get_contents (data, &c, NULL, NULL) && strstr (c, "END") != NULL;
}

static gboolean
hook_has_body (gpointer data)
{
  return ((Hook *) data)->body != NULL;
}

static void
test_dispatch (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SoupServer) server = soup_server_new (NULL, NULL);
  g_autoptr(PkMetricsAlerts) alerts = NULL;
  g_autoptr(PkConfig) config = pk_config_new ();
  g_autoptr(JsonNode) s = value_sample (99);
  g_autoptr(JsonNode) events = NULL;
  g_autofree char *dir = g_dir_make_tmp ("pk-alert-XXXXXX", &error);
  g_autofree char *out = g_build_filename (dir, "hook.out", NULL);
  g_autofree char *conf = NULL;
  g_autofree char *hook_text = NULL;
  g_autoptr(GSList) uris = NULL;
  g_autofree char *url = NULL;
  const char *env[] = { NULL };
  Hook hook = { 0 };
  g_autoptr(JsonParser) parser = json_parser_new ();

  g_assert_no_error (error);
  soup_server_add_handler (server, "/hook", on_hook, &hook, NULL);
  soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (server);
  url = g_strdup_printf ("http://127.0.0.1:%d/hook", g_uri_get_port (uris->data));
  g_slist_free_full (g_steal_pointer (&uris), (GDestroyNotify) g_uri_unref);

  conf = g_strdup_printf ("[alert:cpu]\nmetric = cpu.busy\nthreshold = 90\n"
                          "notify = log, exec, webhook\n"
                          "exec = { cat; echo; echo \"$PK_ALERT_NAME $PK_ALERT_STATE $PK_ALERT_VALUE\"; echo END; } > '%s'\n"
                          "webhook = %s\n", out, url);
  pk_config_set_environ (config, env);
  pk_config_load_data (config, conf, -1, "test.conf", &error);
  g_assert_no_error (error);
  alerts = pk_metrics_alerts_new_from_config (config, &error);
  g_assert_no_error (error);

  events = pk_metrics_alerts_evaluate (alerts, s, T0);
  g_assert_cmpuint (json_array_get_length (json_node_get_array (events)), ==, 1);
  g_assert_false (pk_metrics_alerts_event_wants_stdout (alerts, json_array_get_element (json_node_get_array (events), 0)));

  pk_test_wait_until (file_has_content, out, 10000);
  pk_test_wait_until (hook_has_body, &hook, 10000);

  g_file_get_contents (out, &hook_text, NULL, NULL);
  g_assert_nonnull (strstr (hook_text, "\"alert\":\"cpu\""));
  g_assert_nonnull (strstr (hook_text, "\ncpu firing 99\nEND"));

  g_assert_cmpstr (hook.content_type, ==, "application/json");
  json_parser_load_from_data (parser, hook.body, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (json_parser_get_root (parser)), "state"),
                   ==, "firing");
  g_assert_cmpfloat (json_object_get_double_member (json_node_get_object (json_parser_get_root (parser)), "value"),
                     ==, 99);

  g_unlink (out);
  g_rmdir (dir);
  g_free (hook.body);
  g_free (hook.content_type);
}

int
main (int argc, char **argv)
{
  pk_test_init (&argc, &argv);
  g_test_add_func ("/metrics/alerts/threshold-hysteresis", test_threshold_hysteresis);
  g_test_add_func ("/metrics/alerts/below", test_below);
  g_test_add_func ("/metrics/alerts/cooldown", test_cooldown);
  g_test_add_func ("/metrics/alerts/repeat", test_repeat);
  g_test_add_func ("/metrics/alerts/spike-and-drop", test_spike_and_drop);
  g_test_add_func ("/metrics/alerts/absent", test_absent);
  g_test_add_func ("/metrics/alerts/config-errors", test_config_errors);
  g_test_add_func ("/metrics/alerts/dispatch", test_dispatch);
  return g_test_run ();
}
