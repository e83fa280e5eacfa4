/* test-pk-metrics.c: the pk-metrics tool: one sample, serve (/metrics
 * through promtool, /api/history, /api/sample) while recording, analyze
 * on a planted history, usage errors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>
#include <libsoup/soup.h>

#include <proxykit/proxykit.h>

#include "pk-test-utils.h"

#define SEC G_GINT64_CONSTANT (1000000)

static char *
run_tool (int         *status,
          char       **err,
          const char  *first,
          ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  char *out = NULL;
  const char *arg;
  va_list ap;

  g_ptr_array_add (argv, pk_test_build_path ("cli/pk-metrics"));
  va_start (ap, first);
  for (arg = first; arg; arg = va_arg (ap, const char *))
    g_ptr_array_add (argv, g_strdup (arg));
  va_end (ap);
  g_ptr_array_add (argv, NULL);

  proc = g_subprocess_newv ((const char * const *) argv->pdata,
                            G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, err, &error);
  g_assert_no_error (error);
  *status = g_subprocess_get_exit_status (proc);
  return out;
}

static JsonNode *
parse_json (const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (parser));
}

static void
test_one_sample (void)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(JsonNode) sample = NULL;
  int status;

  out = run_tool (&status, &err, "--json", "--delay", "100ms", "--watch-process", "no-such-process", NULL);
  g_assert_cmpint (status, ==, 0);
  sample = parse_json (out);
  g_assert_true (json_object_has_member (json_node_get_object (sample), "tcp"));
  /* two samples 100 ms apart: the percentages are there */
  g_assert_true (json_object_has_member (json_object_get_object_member (
                   json_object_get_object_member (json_node_get_object (sample), "cpu"), "total"), "user_pct"));
  g_free (out);
  g_free (err);

  out = run_tool (&status, &err, "--delay", "0", "--watch-process", "no-such-process", NULL);
  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (strstr (out, "\nephemeral "));
  g_assert_nonnull (strstr (out, "no-such-process is not running"));
  g_free (out);
  g_free (err);

  out = run_tool (&status, &err, "--delay", "soon", NULL);
  g_assert_cmpint (status, ==, 2);
  g_assert_nonnull (strstr (err, "--delay 'soon'"));
  g_free (out);
  g_free (err);

  out = run_tool (&status, &err, "frobnicate", NULL);
  g_assert_cmpint (status, ==, 2);
  g_assert_nonnull (strstr (err, "unknown command 'frobnicate'"));
}

/* ---- serve ---- */

typedef struct {
  GDataInputStream *stderr_in;
  char *url;
} Serve;

static gboolean
got_url (gpointer data)
{
  Serve *s = data;
  g_autofree char *line = NULL;
  const char *p;

  if (s->url)
    return TRUE;
  line = g_data_input_stream_read_line_utf8 (s->stderr_in, NULL, NULL, NULL);
  if (line && (p = strstr (line, "serving ")) != NULL)
    s->url = g_strdup (p + strlen ("serving "));
  return s->url != NULL;
}

static char *
http_get (SoupSession *session,
          const char  *url,
          guint       *status)
{
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = soup_session_send_and_read (session, msg, NULL, &error);

  g_assert_no_error (error);
  *status = soup_message_get_status (msg);
  return g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
}

typedef struct {
  SoupSession *session;
  char *url;
} Poll;

static gboolean
history_has_two (gpointer data)
{
  Poll *p = data;
  guint status;
  g_autofree char *body = http_get (p->session, p->url, &status);
  g_autoptr(JsonNode) node = NULL;

  if (status != 200)
    return FALSE;
  node = parse_json (body);
  return json_array_get_length (json_node_get_array (node)) >= 2;
}

static void
test_serve (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *tool = pk_test_build_path ("cli/pk-metrics");
  g_autofree char *dir = g_dir_make_tmp ("pk-metrics-serve-XXXXXX", &error);
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autofree char *base = NULL;
  g_autofree char *metrics = NULL;
  g_autofree char *sample = NULL;
  g_autofree char *bad = NULL;
  g_autofree char *promtool = g_find_program_in_path ("promtool");
  g_autofree char *conf = NULL;
  g_autoptr(GDataInputStream) out_in = NULL;
  g_autofree char *event_line = NULL;
  Serve s = { 0 };
  Poll poll = { session, NULL };
  guint status;

  g_assert_no_error (error);
  conf = g_build_filename (dir, "proxykit.conf", NULL);
  /* an alert that holds from the second sample on, printed on stdout */
  g_file_set_contents (conf,
                       "[metrics]\nwatch-ports = 1\n"
                       "[alert:memory]\nmetric = memory.total_bytes\nthreshold = 0\nfor = 2\nnotify = stdout\n",
                       -1, &error);
  g_assert_no_error (error);
  proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDERR_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                           tool, "serve", "--listen", "127.0.0.1:0", "--record", "--interval", "200ms",
                           "--dir", dir, "--watch-pid", "1", "--config", conf, NULL);
  g_assert_no_error (error);
  s.stderr_in = g_data_input_stream_new (g_subprocess_get_stderr_pipe (proc));
  pk_test_wait_until (got_url, &s, 10000);
  g_assert_true (g_str_has_prefix (s.url, "http://127.0.0.1:"));
  base = g_strndup (s.url, strlen (s.url) - strlen ("metrics"));

  metrics = http_get (session, s.url, &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_nonnull (strstr (metrics, "# TYPE node_tcp_connection_states gauge\n"));
  g_assert_nonnull (strstr (metrics, "node_load1 "));
  if (promtool)
    {
      g_autoptr(GSubprocess) check = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                       G_SUBPROCESS_FLAGS_STDERR_MERGE, &error,
                                                       promtool, "check", "metrics", NULL);
      g_autofree char *out = NULL;

      g_assert_no_error (error);
      g_subprocess_communicate_utf8 (check, metrics, NULL, &out, NULL, &error);
      g_assert_no_error (error);
      /* status 1 would be a parse error; lint findings are only the
       * camelCase node_memory_* names kept from node_exporter */
      g_assert_cmpint (g_subprocess_get_exit_status (check), !=, 1);
      {
        g_auto(GStrv) lines = g_strsplit (out, "\n", -1);
        for (guint i = 0; lines[i]; i++)
          if (*lines[i] && !g_str_has_prefix (lines[i], "node_memory_"))
            g_error ("promtool: %s", lines[i]);
      }
    }

  poll.url = g_strconcat (base, "api/history?since=10m", NULL);
  pk_test_wait_until (history_has_two, &poll, 20000);

  g_free (sample);
  {
    g_autofree char *url = g_strconcat (base, "api/sample", NULL);
    g_autoptr(JsonNode) node = NULL;

    sample = http_get (session, url, &status);
    g_assert_cmpuint (status, ==, 200);
    node = parse_json (sample);
    g_assert_true (json_object_has_member (json_object_get_object_member (json_node_get_object (node), "processes"), "1"));
  }
  {
    g_autofree char *url = g_strconcat (base, "api/history?since=yesterday-ish", NULL);
    g_autofree char *week = g_strconcat (base, "api/history?since=0", NULL);
    g_autofree char *hourly = g_strconcat (base, "api/history?since=0&resolution=hour", NULL);
    g_autofree char *body = NULL;

    bad = http_get (session, url, &status);
    g_assert_cmpuint (status, ==, 400);
    body = http_get (session, week, &status);
    g_assert_cmpuint (status, ==, 400);
    g_assert_nonnull (strstr (body, "resolution=hour"));
    g_free (body);
    body = http_get (session, hourly, &status);
    g_assert_cmpuint (status, ==, 200);
    g_assert_true (g_str_has_prefix (body, "["));
  }
  /* out-of-range times are refused, not turned into a range that
   * overflows past the 48 h cap on raw samples */
  {
    static const char *const ranges[] = {
      "since=1e20", "since=-1e20", "since=inf", "since=nan", "since=-inf",
      "since=1h&until=1e20", "since=1h&until=nan", "since=1h&until=-1e20",
      "since=100000000000000d", "since=2h&until=3h",
    };

    for (guint i = 0; i < G_N_ELEMENTS (ranges); i++)
      {
        g_autofree char *url = g_strconcat (base, "api/history?", ranges[i], NULL);
        g_autofree char *body = http_get (session, url, &status);

        g_test_message ("%s: %u %s", ranges[i], status, body != NULL ? body : "");
        g_assert_cmpuint (status, ==, 400);
        g_assert_nonnull (body);
      }
  }

  /* the alert event, one JSON line */
  out_in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (proc));
  event_line = g_data_input_stream_read_line_utf8 (out_in, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (event_line);
  {
    g_autoptr(JsonNode) event = parse_json (event_line);
    JsonObject *o = json_node_get_object (event);

    g_assert_cmpstr (json_object_get_string_member (o, "alert"), ==, "memory");
    g_assert_cmpstr (json_object_get_string_member (o, "state"), ==, "firing");
  }
  /* SIGHUP: a broken file keeps the rules; a good one replaces them */
  g_file_set_contents (conf, "[alert:memory]\nmetric = memory.total_bytes\nkind = sideways\n", -1, &error);
  g_assert_no_error (error);
  g_subprocess_send_signal (proc, SIGHUP);
  {
    g_autofree char *line = NULL;

    do
      {
        g_free (line);
        line = g_data_input_stream_read_line_utf8 (s.stderr_in, NULL, NULL, &error);
        g_assert_no_error (error);
        g_assert_nonnull (line);
      }
    while (strstr (line, "reload") == NULL);
    g_assert_nonnull (strstr (line, "keeping the rules in force"));
  }
  g_file_set_contents (conf, "[alert:memory2]\nmetric = memory.total_bytes\nthreshold = 0\nnotify = stdout\n",
                       -1, &error);
  g_assert_no_error (error);
  g_subprocess_send_signal (proc, SIGHUP);
  g_free (event_line);
  event_line = g_data_input_stream_read_line_utf8 (out_in, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (event_line, "\"alert\":\"memory2\""));

  /* watch-ports of [metrics] reached the sampler */
  {
    g_autofree char *url = g_strconcat (base, "metrics", NULL);
    g_autofree char *again = http_get (session, url, &status);
    g_assert_nonnull (strstr (again, "proxykit_tcp_local_port_connection_states{port=\"1\",state=\"listen\"} 0\n"));
  }

  g_subprocess_send_signal (proc, SIGTERM);
  g_subprocess_wait (proc, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (proc));
  g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, 0);

  g_clear_object (&s.stderr_in);
  g_free (s.url);
  g_free (poll.url);
  pk_test_run ("rm -rf '%s'", dir);
}

/* serve without --record: SIGHUP (what `systemctl reload` sends) keeps
 * it serving instead of killing it */
static void
test_serve_reload_without_record (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *tool = pk_test_build_path ("cli/pk-metrics");
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autofree char *body = NULL;
  g_autofree char *line = NULL;
  Serve s = { 0 };
  guint status;

  proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDERR_PIPE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error,
                           tool, "serve", "--listen", "127.0.0.1:0", "--config", "/dev/null", NULL);
  g_assert_no_error (error);
  s.stderr_in = g_data_input_stream_new (g_subprocess_get_stderr_pipe (proc));
  pk_test_wait_until (got_url, &s, 10000);

  g_subprocess_send_signal (proc, SIGHUP);
  do
    {
      g_free (line);
      line = g_data_input_stream_read_line_utf8 (s.stderr_in, NULL, NULL, &error);
      g_assert_no_error (error);
      g_assert_nonnull (line);
    }
  while (strstr (line, "reload") == NULL);

  body = http_get (session, s.url, &status);
  g_assert_cmpuint (status, ==, 200);
  g_subprocess_send_signal (proc, SIGTERM);
  g_subprocess_wait (proc, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (proc));
  g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, 0);
  g_clear_object (&s.stderr_in);
  g_free (s.url);
}

/* ---- analyze ---- */

static void
test_analyze (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("pk-metrics-an-XXXXXX", &error);
  g_autoptr(PkMetricsRecorder) rec = pk_metrics_recorder_new (dir);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(JsonNode) result = NULL;
  /* 2025-08-20 14:30:00 UTC */
  gint64 fail = G_GINT64_CONSTANT (1755700200) * SEC;
  int status;

  g_assert_no_error (error);
  for (int i = 0; i < 10; i++)
    {
      g_autofree char *json = g_strdup_printf ("{\"timestamp\": %" G_GINT64_FORMAT ", "
                                               "\"tcp\": {\"remote_443\": {\"TIME_WAIT\": %d}}}",
                                               (fail - (9 - i) * 60 * SEC) / SEC, 100 + i * 100);
      g_autoptr(JsonNode) s = parse_json (json);

      pk_metrics_recorder_append (rec, s, &error);
      g_assert_no_error (error);
    }

  /* ISO 8601 with a zone, so that the test does not depend on TZ */
  out = run_tool (&status, &err, "analyze", "2025-08-20T14:30:00Z", "--dir", dir, NULL);
  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (strstr (out, "[time-wait-443] TIME_WAIT sockets towards :443 reached 1000"));
  g_assert_nonnull (strstr (out, "first_above    2025-08-20T14:26:00Z"));
  g_free (out);
  g_free (err);

  out = run_tool (&status, &err, "analyze", "1755700200", "--window", "3m", "--json", "--dir", dir, NULL);
  g_assert_cmpint (status, ==, 0);
  result = parse_json (out);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (result), "samples"), ==, 4);
  g_free (out);
  g_free (err);

  out = run_tool (&status, &err, "analyze", "2025-01-01T00:00:00Z", "--dir", dir, NULL);
  g_assert_cmpint (status, ==, 1);
  g_assert_nonnull (strstr (err, "No samples"));
  g_free (out);
  g_free (err);

  out = run_tool (&status, &err, "analyze", "half past two", "--dir", dir, NULL);
  g_assert_cmpint (status, ==, 2);
  g_assert_nonnull (strstr (err, "'half past two' is not a time"));

  pk_test_run ("rm -rf '%s'", dir);
}

int
main (int argc, char **argv)
{
  pk_test_init (&argc, &argv);
  g_test_add_func ("/pk-metrics/one-sample", test_one_sample);
  g_test_add_func ("/pk-metrics/serve", test_serve);
  g_test_add_func ("/pk-metrics/serve/reload-without-record", test_serve_reload_without_record);
  g_test_add_func ("/pk-metrics/analyze", test_analyze);
  return g_test_run ();
}
