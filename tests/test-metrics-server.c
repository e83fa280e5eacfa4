/* test-metrics-server.c: PkMetricsServer over real HTTP on loopback, and
 * the sampler and recorder from a [metrics] section
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <libsoup/soup.h>
#include <proxykit/proxykit.h>

#include "pk-test-utils.h"

typedef struct {
  gboolean done;
  GBytes *body;
  GError *error;
} Get;

static void
got (GObject      *source,
     GAsyncResult *result,
     gpointer      data)
{
  Get *g = data;

  g->body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &g->error);
  g->done = TRUE;
}

/* A request while the server runs in this thread's main context. */
static char *
request (PkMetricsServer *server,
         const char      *method,
         const char      *path,
         guint           *status)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u%s", pk_metrics_server_get_port (server), path);
  g_autoptr(SoupMessage) msg = soup_message_new (method, url);
  Get g = { 0 };
  char *text;

  soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, NULL, got, &g);
  pk_test_wait_for_flag (&g.done, 20000);
  g_assert_no_error (g.error);
  *status = soup_message_get_status (msg);
  text = g_bytes_get_size (g.body) > 0 ? g_strndup (g_bytes_get_data (g.body, NULL), g_bytes_get_size (g.body)) : g_strdup ("");
  g_bytes_unref (g.body);
  return text;
}

static char *
collect_relay (gpointer data)
{
  guint *calls = data;

  (*calls)++;
  return g_strdup_printf ("# HELP proxykit_test_total A test counter.\n"
                          "# TYPE proxykit_test_total counter\n"
                          "proxykit_test_total %u\n", *calls);
}

static void
count_destroy (gpointer data)
{
  guint *calls = data;

  *calls = 1000;
}

/* A daemon's own counters, no sampler: what pk-socks or pk-relay would
 * serve. A bare port listens on loopback. */
static void
test_collectors (void)
{
  g_autoptr(PkMetricsServer) server = pk_metrics_server_new ();
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) urls = NULL;
  g_autofree char *body = NULL;
  guint status = 0, calls = 0, id;

  id = pk_metrics_server_add_collector (server, collect_relay, &calls, count_destroy);
  g_assert_true (pk_metrics_server_listen (server, "0", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (pk_metrics_server_get_port (server), >, 0);
  urls = pk_metrics_server_dup_urls (server);
  g_assert_nonnull (urls[0]);
  g_assert_true (g_str_has_prefix (urls[0], "http://127.0.0.1:"));
  g_assert_true (g_str_has_suffix (urls[0], "/metrics"));

  body = request (server, "GET", "/metrics", &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpstr (body, ==, "# HELP proxykit_test_total A test counter.\n"
                             "# TYPE proxykit_test_total counter\n"
                             "proxykit_test_total 1\n");
  g_clear_pointer (&body, g_free);
  body = request (server, "GET", "/metrics", &status);
  g_assert_nonnull (strstr (body, "proxykit_test_total 2\n"));
  g_clear_pointer (&body, g_free);

  pk_metrics_server_remove_collector (server, id);
  g_assert_cmpuint (calls, ==, 1000);
  body = request (server, "GET", "/metrics", &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpstr (body, ==, "");
  g_clear_pointer (&body, g_free);

  /* no sampler, no history */
  body = request (server, "GET", "/api/sample", &status);
  g_assert_cmpuint (status, ==, 503);
  g_clear_pointer (&body, g_free);
  body = request (server, "GET", "/api/history", &status);
  g_assert_cmpuint (status, ==, 404);
  g_clear_pointer (&body, g_free);
  body = request (server, "POST", "/metrics", &status);
  g_assert_cmpuint (status, ==, 405);
  g_clear_pointer (&body, g_free);
  body = request (server, "GET", "/nothing", &status);
  g_assert_cmpuint (status, ==, 404);

  pk_metrics_server_stop (server);
  g_assert_cmpuint (pk_metrics_server_get_port (server), ==, 0);
}

/* The node's sampler, its recorded history and the last sample. */
static void
test_sampler_and_history (void)
{
  g_autoptr(PkMetricsServer) server = pk_metrics_server_new ();
  g_autoptr(PkMetricsSampler) sampler = pk_metrics_sampler_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("pk-metrics-server-XXXXXX", &error);
  g_autoptr(PkMetricsRecorder) recorder = pk_metrics_recorder_new (dir);
  g_autoptr(JsonNode) sample = NULL;
  g_autoptr(JsonNode) parsed = NULL;
  g_autofree char *body = NULL;
  guint status = 0, calls = 0;

  pk_metrics_server_set_sampler (server, sampler);
  pk_metrics_server_set_history_directory (server, dir);
  pk_metrics_server_add_collector (server, collect_relay, &calls, NULL);
  g_assert_true (pk_metrics_server_listen (server, "127.0.0.1:0", &error));
  g_assert_no_error (error);

  body = request (server, "GET", "/metrics", &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_nonnull (strstr (body, "node_load1 "));
  {
    g_autoptr(JsonNode) one = pk_metrics_sampler_sample (sampler, NULL);
    g_autofree char *table = pk_metrics_format_table (one);

    g_assert_true (g_str_has_prefix (table, "time "));
    g_assert_nonnull (strstr (table, "\nload "));
  }
  /* the collectors come after the sampler */
  g_assert_true (strstr (body, "node_load1 ") < strstr (body, "proxykit_test_total 1\n"));
  g_clear_pointer (&body, g_free);

  sample = pk_metrics_sampler_sample (sampler, &error);
  g_assert_no_error (error);
  g_assert_true (pk_metrics_recorder_append (recorder, sample, &error));
  g_assert_no_error (error);
  pk_metrics_server_set_last_sample (server, sample);

  body = request (server, "GET", "/api/sample", &status);
  g_assert_cmpuint (status, ==, 200);
  parsed = json_from_string (body, &error);
  g_assert_no_error (error);
  g_assert_true (json_node_equal (parsed, sample));
  g_clear_pointer (&body, g_free);
  g_clear_pointer (&parsed, json_node_unref);

  body = request (server, "GET", "/api/history?since=10m", &status);
  g_assert_cmpuint (status, ==, 200);
  parsed = json_from_string (body, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (json_array_get_length (json_node_get_array (parsed)), ==, 1);
  g_clear_pointer (&body, g_free);

  body = request (server, "GET", "/api/history?since=yesterday-ish", &status);
  g_assert_cmpuint (status, ==, 400);
  g_clear_pointer (&body, g_free);
  body = request (server, "GET", "/api/history?since=0", &status);
  g_assert_cmpuint (status, ==, 400);
  g_assert_nonnull (strstr (body, "48 hours"));
  g_clear_pointer (&body, g_free);
  body = request (server, "GET", "/api/history?since=2025-08-20&until=2025-08-19", &status);
  g_assert_cmpuint (status, ==, 400);
  g_assert_nonnull (strstr (body, "before"));
  g_clear_pointer (&body, g_free);
  body = request (server, "GET", "/api/history?resolution=week", &status);
  g_assert_cmpuint (status, ==, 400);

  pk_test_run ("rm -rf %s", dir);
}

static void
test_listen_errors (void)
{
  g_autoptr(PkMetricsServer) server = pk_metrics_server_new ();
  g_autoptr(PkMetricsServer) second = pk_metrics_server_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *taken = NULL;

  g_assert_false (pk_metrics_server_listen (server, "eth0:9110", &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  g_assert_true (pk_metrics_server_listen (server, "127.0.0.1:0", &error));
  taken = g_strdup_printf ("127.0.0.1:%u", pk_metrics_server_get_port (server));
  g_assert_false (pk_metrics_server_listen (second, taken, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
  g_assert_nonnull (strstr (error->message, taken));
}

static void
test_parse_time (void)
{
  g_autoptr(GError) error = NULL;
  gint64 us = 0, now = g_get_real_time ();

  g_assert_true (pk_metrics_parse_time ("1755700200", &us, &error));
  g_assert_cmpint (us, ==, G_GINT64_CONSTANT (1755700200) * G_USEC_PER_SEC);
  g_assert_true (pk_metrics_parse_time ("2025-08-20T14:30:00Z", &us, &error));
  g_assert_cmpint (us, ==, G_GINT64_CONSTANT (1755700200) * G_USEC_PER_SEC);
  g_assert_true (pk_metrics_parse_time ("1h", &us, &error));
  g_assert_cmpint (us, <=, now - G_GINT64_CONSTANT (3540) * G_USEC_PER_SEC);
  g_assert_true (pk_metrics_parse_time ("2025-08-20 14:30", &us, &error));
  g_assert_true (pk_metrics_parse_time ("2025-08-20", &us, &error));
  g_assert_false (pk_metrics_parse_time ("1e20", &us, NULL));
  g_assert_false (pk_metrics_parse_time ("nan", &us, NULL));
  g_assert_false (pk_metrics_parse_time ("1000000h", &us, NULL));
  g_assert_false (pk_metrics_parse_time ("yesterday-ish", &us, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "yesterday-ish"));
}

static PkConfig *
config_new (const char *text)
{
  PkConfig *config = pk_config_new ();
  g_autoptr(GError) error = NULL;
  const char *none[] = { NULL };

  pk_config_set_environ (config, none);
  g_assert_true (pk_config_load_data (config, text, -1, "test.conf", &error));
  return config;
}

static void
test_from_config (void)
{
  g_autoptr(PkConfig) good = config_new ("[metrics]\ndirectory = /nonexistent/m\nlayout = day\nmax-size = 2G\n"
                                         "watch-ports = 1, 2\n");
  g_autoptr(PkConfig) bad_port = config_new ("[metrics]\nwatch-ports = 1, 70000\n");
  g_autoptr(PkConfig) bad_layout = config_new ("[metrics]\nlayout = weekly\n");
  g_autoptr(PkConfig) bad_size = config_new ("[metrics]\n\nmax-size = lots\n");
  g_autoptr(PkConfig) typo = config_new ("[metrics]\nwatch-port = 1\n");
  g_autoptr(PkMetricsSampler) sampler = NULL;
  g_autoptr(PkMetricsRecorder) recorder = NULL;
  g_autoptr(GError) error = NULL;

  sampler = pk_metrics_sampler_new_from_config (good, &error);
  g_assert_no_error (error);
  recorder = pk_metrics_recorder_new_from_config (good, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pk_metrics_recorder_get_directory (recorder), ==, "/nonexistent/m");
  g_clear_object (&recorder);
  pk_config_set_override (good, "metrics", "directory", "/nonexistent/flag", "--dir");
  recorder = pk_metrics_recorder_new_from_config (good, &error);
  g_assert_cmpstr (pk_metrics_recorder_get_directory (recorder), ==, "/nonexistent/flag");

  g_assert_null (pk_metrics_sampler_new_from_config (bad_port, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  g_assert_true (g_str_has_prefix (error->message, "test.conf:2: [metrics] watch-ports: "));
  g_clear_error (&error);
  g_assert_null (pk_metrics_recorder_new_from_config (bad_layout, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "weekly"));
  g_clear_error (&error);
  g_assert_null (pk_metrics_recorder_new_from_config (bad_size, &error));
  g_assert_true (g_str_has_prefix (error->message, "test.conf:3: [metrics] max-size: "));
  g_clear_error (&error);
  g_assert_null (pk_metrics_sampler_new_from_config (typo, &error));
  g_assert_nonnull (strstr (error->message, "unknown key"));
}

int
main (int argc, char **argv)
{
  pk_test_init (&argc, &argv);

  g_test_add_func ("/metrics-server/collectors", test_collectors);
  g_test_add_func ("/metrics-server/sampler-and-history", test_sampler_and_history);
  g_test_add_func ("/metrics-server/listen-errors", test_listen_errors);
  g_test_add_func ("/metrics-server/parse-time", test_parse_time);
  g_test_add_func ("/metrics-server/from-config", test_from_config);
  return g_test_run ();
}
