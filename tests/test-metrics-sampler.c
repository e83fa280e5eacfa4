/* test-metrics-sampler.c: PkMetricsSampler's parsers on captured /proc
 * fixtures (tests/fixtures/proc-*), and the Prometheus exposition
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include <proxykit/proxykit.h>

#include "pk-metrics-private.h"
#include "pk-test-utils.h"

#define T0 (G_GINT64_CONSTANT (1755700200) * G_USEC_PER_SEC)

static char *
fixture (const char *name)
{
  return g_build_filename (g_getenv ("PK_SRCDIR") ? g_getenv ("PK_SRCDIR") : "..",
                           "tests", "fixtures", name, NULL);
}

static double
num (JsonNode   *sample,
     const char *path)
{
  double v = -1;

  if (!pk_metrics_lookup (sample, path, &v))
    g_error ("no number at %s in %s", path, json_to_string (sample, TRUE));
  return v;
}

static gboolean
is_null (JsonNode   *sample,
         const char *path)
{
  g_auto(GStrv) parts = g_strsplit (path, ".", -1);
  JsonNode *node = sample;

  for (guint i = 0; parts[i] != NULL; i++)
    {
      if (!JSON_NODE_HOLDS_OBJECT (node))
        return FALSE;
      node = json_object_get_member (json_node_get_object (node), parts[i]);
      if (node == NULL)
        return FALSE;   /* missing is not "reported as absent" */
    }
  return JSON_NODE_HOLDS_NULL (node);
}

static PkMetricsSampler *
fixture_sampler (const char *name)
{
  g_autofree char *root = fixture (name);
  PkMetricsSampler *sampler = pk_metrics_sampler_new ();

  g_object_set (sampler, "proc-root", root, "sock-diag", FALSE, NULL);
  return sampler;
}

static void
test_real_fixture (void)
{
  g_autoptr(PkMetricsSampler) sampler = fixture_sampler ("proc-real");
  g_autofree char *sys = fixture ("sys-real");
  g_autoptr(JsonNode) s = NULL;
  g_autoptr(GError) error = NULL;
  long page = sysconf (_SC_PAGESIZE), hz = sysconf (_SC_CLK_TCK);

  pk_metrics_sampler_add_watch_pid (sampler, 4242);
  pk_metrics_sampler_set_sys_root (sampler, sys);
  s = pk_metrics_sampler_sample_at (sampler, T0, &error);
  g_assert_no_error (error);

  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (
                       json_object_get_object_member (json_node_get_object (s), "interfaces"), "eth0"),
                     "operstate"), ==, "up");
  /* lo has no operstate file in the fixture */
  g_assert_true (is_null (s, "interfaces.lo.operstate"));
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (s), "time"), ==,
                   "2025-08-20T14:30:00Z");
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (s), "host"), ==,
                   "fixture-host");
  /* no previous sample: no percentages or rates, but the counters */
  g_assert_true (is_null (s, "cpu.total.busy_pct"));
  g_assert_true (is_null (s, "interval_s"));
  g_assert_cmpfloat_with_epsilon (num (s, "cpu.cores.cpu1.seconds.user"), 2103.0 / hz, 0.01);
  g_assert_cmpfloat (num (s, "memory.total_bytes"), >, 0);
  g_assert_true (is_null (s, "interfaces.eth0.rx_bytes_per_s"));
  g_assert_cmpfloat (num (s, "interfaces.eth0.rx_bytes"), ==, 90527448);
  g_assert_cmpfloat (num (s, "interfaces.eth0.tx_packets"), ==, 1071);
  g_assert_cmpfloat (num (s, "conntrack.entries"), ==, 0);   /* a real zero */
  g_assert_cmpfloat (num (s, "conntrack.limit"), ==, 262144);
  g_assert_cmpfloat (num (s, "conntrack.stats.insert_failed"), ==, 0);
  g_assert_cmpfloat (num (s, "softnet.dropped"), ==, 2);
  g_assert_cmpfloat (num (s, "softnet.time_squeeze"), ==, 1);
  g_assert_cmpfloat (num (s, "softnet.processed"), ==, 0x63 + 0x779);
  g_assert_cmpfloat (num (s, "sockstat.TCP.tw"), ==, 6);
  g_assert_cmpfloat (num (s, "sockstat.sockets_used"), ==, 17);
  g_assert_cmpfloat (num (s, "ephemeral_ports.size"), ==, 60999 - 32768 + 1);
  /* sock_diag off: TCP figures absent, not zero */
  g_assert_true (is_null (s, "tcp"));
  g_assert_true (is_null (s, "ephemeral_ports.in_use"));
  g_assert_cmpfloat (num (s, "processes.4242.rss_bytes"), ==, 2560.0 * page);
  g_assert_cmpfloat (num (s, "processes.4242.threads"), ==, 7);
  g_assert_cmpfloat (num (s, "processes.4242.open_fds"), ==, 4);
  g_assert_cmpfloat_with_epsilon (num (s, "processes.4242.cpu_seconds"), 750.0 / hz, 0.01);
  g_assert_true (is_null (s, "processes.4242.cpu_pct"));
}

static void
test_rates (void)
{
  g_autoptr(PkMetricsSampler) sampler = fixture_sampler ("proc-real");
  g_autofree char *later = fixture ("proc-later");
  g_autoptr(JsonNode) s0 = NULL;
  g_autoptr(JsonNode) s1 = NULL;
  g_autoptr(GError) error = NULL;
  long hz = sysconf (_SC_CLK_TCK);

  pk_metrics_sampler_add_watch_process (sampler, "pk-socks");
  s0 = pk_metrics_sampler_sample_at (sampler, T0, &error);
  g_assert_no_error (error);
  pk_metrics_sampler_set_proc_root (sampler, later);
  s1 = pk_metrics_sampler_sample_at (sampler, T0 + 10 * G_USEC_PER_SEC, &error);
  g_assert_no_error (error);

  g_assert_cmpfloat (num (s1, "interval_s"), ==, 10);
  /* +60 user +20 system +20 idle */
  g_assert_cmpfloat_with_epsilon (num (s1, "cpu.total.busy_pct"), 80, 0.01);
  g_assert_cmpfloat_with_epsilon (num (s1, "cpu.total.user_pct"), 60, 0.01);
  g_assert_cmpfloat_with_epsilon (num (s1, "cpu.cores.cpu0.busy_pct"), 50, 0.01);
  /* cpu1's counters do not add up (idle went back): no figure, not a guess */
  g_assert_true (is_null (s1, "cpu.cores.cpu1.busy_pct"));
  g_assert_cmpfloat_with_epsilon (num (s1, "interfaces.eth0.rx_bytes_per_s"), 1000, 0.01);
  g_assert_cmpfloat_with_epsilon (num (s1, "interfaces.eth0.rx_packets_per_s"), 10, 0.01);
  g_assert_cmpfloat_with_epsilon (num (s1, "interfaces.eth0.rx_drops_per_s"), 0.5, 0.01);
  g_assert_cmpfloat (num (s1, "interfaces.lo.rx_bytes_per_s"), ==, 0);
  g_assert_cmpfloat_with_epsilon (num (s1, "softnet.dropped_per_s"), 1, 0.01);
  g_assert_cmpfloat_with_epsilon (num (s1, "softnet.time_squeeze_per_s"), 0.2, 0.01);
  /* 50 ticks in 10 s */
  g_assert_cmpfloat_with_epsilon (num (s1, "processes.4242.cpu_pct"), 100.0 * 50 / hz / 10, 0.01);
  g_assert_cmpfloat (num (s1, "processes.4242.rss_bytes"), >, num (s0, "processes.4242.rss_bytes"));

  /* the clock going back gives no rates rather than nonsense */
  g_clear_pointer (&s1, json_node_unref);
  s1 = pk_metrics_sampler_sample_at (sampler, T0, &error);
  g_assert_no_error (error);
  g_assert_true (is_null (s1, "cpu.total.busy_pct"));
  g_assert_true (is_null (s1, "interfaces.eth0.rx_bytes_per_s"));
}

static void
test_odd_fixture (void)
{
  g_autoptr(PkMetricsSampler) sampler = fixture_sampler ("proc-odd");
  g_autoptr(JsonNode) s = NULL;
  g_autoptr(GError) error = NULL;
  JsonArray *missing;

  pk_metrics_sampler_add_watch_process (sampler, "my (odd) proc");
  pk_metrics_sampler_add_watch_process (sampler, "ghost");
  pk_metrics_sampler_add_watch_pid (sampler, 999999);
  s = pk_metrics_sampler_sample_at (sampler, T0, &error);
  g_assert_no_error (error);

  /* a kernel without conntrack, loadavg, MemAvailable, port range */
  g_assert_true (is_null (s, "conntrack"));
  g_assert_true (is_null (s, "load"));
  g_assert_true (is_null (s, "host"));
  g_assert_true (is_null (s, "memory.available_bytes"));
  g_assert_true (is_null (s, "memory.used_pct"));
  g_assert_true (is_null (s, "ephemeral_ports"));
  g_assert_cmpfloat (num (s, "memory.total_bytes"), ==, 1000000.0 * 1024);
  /* four-column /proc/stat */
  g_assert_cmpfloat (num (s, "cpu.total.seconds.idle"), >, 0);
  /* an extra receive column (nohandler) does not shift transmit */
  g_assert_cmpfloat (num (s, "interfaces.wwan0.rx_errors"), ==, 3);
  g_assert_cmpfloat (num (s, "interfaces.wwan0.rx_drops"), ==, 7);
  g_assert_cmpfloat (num (s, "interfaces.wwan0.tx_bytes"), ==, 6000);
  g_assert_cmpfloat (num (s, "interfaces.wwan0.tx_drops"), ==, 2);
  g_assert_cmpfloat (num (s, "interfaces.lo.tx_bytes"), ==, 200);
  g_assert_cmpfloat (num (s, "sockstat.TCP.tw"), ==, 900);
  g_assert_cmpfloat (num (s, "sockstat.MPTCP.inuse"), ==, 0);
  g_assert_cmpfloat (num (s, "softnet.dropped"), ==, 1);
  /* a name with spaces and parentheses */
  g_assert_cmpfloat (num (s, "processes.77.threads"), ==, 3);
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (
                       json_object_get_object_member (json_node_get_object (s), "processes"), "77"),
                     "name"), ==, "my (odd) proc");
  missing = json_object_get_array_member (json_node_get_object (s), "processes_missing");
  g_assert_cmpuint (json_array_get_length (missing), ==, 2);
  g_assert_cmpstr (json_array_get_string_element (missing, 0), ==, "999999");
  g_assert_cmpstr (json_array_get_string_element (missing, 1), ==, "ghost");
}

static void
test_missing_root (void)
{
  g_autoptr(PkMetricsSampler) sampler = fixture_sampler ("no-such-dir");
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) s = pk_metrics_sampler_sample (sampler, &error);

  g_assert_null (s);
  g_assert_error (error, PK_ERROR, PK_ERROR_NOT_SUPPORTED);
  g_assert_nonnull (strstr (error->message, "no-such-dir"));
}

static void
promtool_check (const char *text)
{
  g_autofree char *promtool = g_find_program_in_path ("promtool");
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) proc = NULL;

  if (promtool == NULL)
    {
      g_test_skip ("promtool not installed (Debian package prometheus)");
      return;
    }
  proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                           G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                           promtool, "check", "metrics", NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (proc, text, NULL, &out, &err, &error);
  g_assert_no_error (error);
  /* Exit status 1 is a parse error. Lint findings (status 3) are
   * tolerated only for node_exporter's own camelCase names
   * (node_memory_MemAvailable_bytes), which we keep on purpose so that
   * dashboards written for node_exporter work. */
  {
    g_auto(GStrv) lines = g_strsplit (err, "\n", -1);
    int status = g_subprocess_get_exit_status (proc);

    if (status != 0 && status != 3)
      g_error ("promtool check metrics (status %d): %s%s\n---\n%s", status, out, err, text);
    for (guint i = 0; lines[i] != NULL; i++)
      if (*lines[i] && !(g_str_has_prefix (lines[i], "node_memory_") &&
                         strstr (lines[i], "should be written in 'snake_case'")))
        g_error ("promtool check metrics: %s\n---\n%s", lines[i], text);
    g_assert_cmpstr (out, ==, "");
  }
}

static void
test_prometheus (void)
{
  g_autoptr(PkMetricsSampler) sampler = fixture_sampler ("proc-real");
  g_autoptr(PkMetricsSampler) odd = fixture_sampler ("proc-odd");
  g_autofree char *later = fixture ("proc-later");
  g_autoptr(JsonNode) s = NULL;
  g_autoptr(JsonNode) so = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *text_odd = NULL;

  pk_metrics_sampler_add_watch_pid (sampler, 4242);
  g_clear_pointer (&s, json_node_unref);
  s = pk_metrics_sampler_sample_at (sampler, T0, &error);
  g_clear_pointer (&s, json_node_unref);
  pk_metrics_sampler_set_proc_root (sampler, later);
  s = pk_metrics_sampler_sample_at (sampler, T0 + 10 * G_USEC_PER_SEC, &error);
  g_assert_no_error (error);
  text = pk_metrics_to_prometheus (s);

  g_assert_nonnull (strstr (text, "\nnode_nf_conntrack_entries 0\n"));
  g_assert_nonnull (strstr (text, "\nnode_nf_conntrack_entries_limit 262144\n"));
  g_assert_nonnull (strstr (text, "\nnode_sockstat_TCP_tw 6\n"));
  g_assert_nonnull (strstr (text, "\nnode_network_receive_drop_total{device=\"eth0\"} 5\n"));
  g_assert_nonnull (strstr (text, "\nnode_softnet_dropped_total{cpu=\"1\"} 12\n"));
  g_assert_nonnull (strstr (text, "node_cpu_seconds_total{cpu=\"0\",mode=\"user\"} "));
  g_assert_nonnull (strstr (text, "proxykit_process_threads{pid=\"4242\",name=\"pk-socks\"} 7\n"));
  g_assert_nonnull (strstr (text, "\nproxykit_ephemeral_ports 28232\n"));
  /* absent figures are left out, not zero */
  g_assert_null (strstr (text, "node_tcp_connection_states"));
  g_assert_null (strstr (text, "proxykit_ephemeral_ports_in_use"));
  promtool_check (text);

  so = pk_metrics_sampler_sample_at (odd, T0, &error);
  g_assert_no_error (error);
  text_odd = pk_metrics_to_prometheus (so);
  g_assert_null (strstr (text_odd, "node_nf_conntrack"));
  g_assert_null (strstr (text_odd, "node_load1"));
  g_assert_null (strstr (text_odd, "MemAvailable"));
  g_assert_nonnull (strstr (text_odd, "\nnode_sockstat_TCP_tw 900\n"));
  promtool_check (text_odd);
}

/* The live host: every section is there or null, never missing. */
static void
test_live_shape (void)
{
  g_autoptr(PkMetricsSampler) sampler = pk_metrics_sampler_new ();
  g_autoptr(JsonNode) s = NULL;
  g_autoptr(GError) error = NULL;
  const char *sections[] = { "cpu", "load", "memory", "interfaces", "tcp", "ephemeral_ports",
                             "sockstat", "conntrack", "softnet", "processes" };

  pk_metrics_sampler_add_watch_pid (sampler, getpid ());
  s = pk_metrics_sampler_sample (sampler, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (sections); i++)
    g_assert_true (json_object_has_member (json_node_get_object (s), sections[i]));
  g_assert_cmpfloat (num (s, "memory.total_bytes"), >, 0);
  {
    g_autofree char *json = pk_metrics_sampler_sample_json (sampler, &error);
    g_autoptr(JsonParser) parser = json_parser_new ();

    g_assert_no_error (error);
    json_parser_load_from_data (parser, json, -1, &error);
    g_assert_no_error (error);
    g_assert_true (json_object_has_member (json_node_get_object (json_parser_get_root (parser)), "softnet"));
  }
  {
    g_autofree char *path = g_strdup_printf ("processes.%d.threads", (int) getpid ());
    g_assert_cmpfloat (num (s, path), >=, 1);
  }
  {
    /* Host-wide TCP states carry their state label (the rules of
     * data/prometheus select on it); each state once. */
    g_autofree char *text = pk_metrics_to_prometheus (s);

    g_assert_nonnull (strstr (text, "\nnode_tcp_connection_states{state=\"established\"} "));
    g_assert_nonnull (strstr (text, "\nnode_tcp_connection_states{state=\"time_wait\"} "));
    g_assert_null (strstr (text, "\nnode_tcp_connection_states "));
  }
}

int
main (int argc, char **argv)
{
  pk_test_init (&argc, &argv);
  g_test_add_func ("/metrics/sampler/real-fixture", test_real_fixture);
  g_test_add_func ("/metrics/sampler/rates", test_rates);
  g_test_add_func ("/metrics/sampler/odd-fixture", test_odd_fixture);
  g_test_add_func ("/metrics/sampler/missing-root", test_missing_root);
  g_test_add_func ("/metrics/sampler/prometheus", test_prometheus);
  g_test_add_func ("/metrics/sampler/live-shape", test_live_shape);
  return g_test_run ();
}
