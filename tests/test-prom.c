/* test-prom.c: the Prometheus text format writer
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "pk-prom-private.h"
#include "pk-test-utils.h"

static void
test_counter_and_labels (void)
{
  g_autoptr(PkPromWriter) w = pk_prom_writer_new ();

  pk_prom_writer_family (w, "proxykit_socks_connections_total", PK_PROM_COUNTER,
                         "Connections accepted.");
  pk_prom_writer_sample_uint (w, "proxykit_socks_connections_total", 18446744073709551615u,
                              "port", "10011", "egress", NULL, NULL);
  pk_prom_writer_sample_uint (w, "proxykit_socks_connections_total", 3, NULL);
  pk_prom_writer_family (w, "node_load1", PK_PROM_GAUGE, NULL);
  pk_prom_writer_sample (w, "node_load1", 0.25, NULL);
  pk_prom_writer_sample (w, "node_load1", 3.0, "a", "x", "b", "y", NULL);

  g_assert_cmpstr (pk_prom_writer_get_text (w), ==,
                   "# HELP proxykit_socks_connections_total Connections accepted.\n"
                   "# TYPE proxykit_socks_connections_total counter\n"
                   "proxykit_socks_connections_total{port=\"10011\"} 18446744073709551615\n"
                   "proxykit_socks_connections_total 3\n"
                   "# TYPE node_load1 gauge\n"
                   "node_load1 0.25\n"
                   "node_load1{a=\"x\",b=\"y\"} 3\n");
}

static void
test_escaping (void)
{
  g_autoptr(PkPromWriter) w = pk_prom_writer_new ();
  const char *labels[] = { "path", "C:\\dir \"q\"\nnext", NULL };

  pk_prom_writer_family (w, "x", PK_PROM_GAUGE, "a \\ b\nc \"quoted\"");
  pk_prom_writer_sample_labels (w, "x", labels, 1.5);
  g_assert_cmpstr (pk_prom_writer_get_text (w), ==,
                   "# HELP x a \\\\ b\\nc \"quoted\"\n"
                   "# TYPE x gauge\n"
                   "x{path=\"C:\\\\dir \\\"q\\\"\\nnext\"} 1.5\n");
}

static void
test_special_values (void)
{
  g_autoptr(PkPromWriter) w = pk_prom_writer_new ();
  g_autofree char *text = NULL;

  pk_prom_writer_family (w, "v", PK_PROM_GAUGE, NULL);
  pk_prom_writer_sample (w, "v", NAN, "k", "nan", NULL);
  pk_prom_writer_sample (w, "v", INFINITY, "k", "inf", NULL);
  pk_prom_writer_sample (w, "v", -INFINITY, "k", "-inf", NULL);
  pk_prom_writer_sample (w, "v", 1e300, "k", "big", NULL);
  pk_prom_writer_sample (w, "v", -42, "k", "neg", NULL);
  text = pk_prom_writer_free_to_string (g_steal_pointer (&w));
  g_assert_nonnull (strstr (text, "v{k=\"nan\"} NaN\n"));
  g_assert_nonnull (strstr (text, "v{k=\"inf\"} +Inf\n"));
  g_assert_nonnull (strstr (text, "v{k=\"-inf\"} -Inf\n"));
  g_assert_nonnull (strstr (text, "v{k=\"big\"} 1e+300\n"));
  g_assert_nonnull (strstr (text, "v{k=\"neg\"} -42\n"));
}

static void
test_histogram (void)
{
  g_autoptr(PkPromWriter) w = pk_prom_writer_new ();

  pk_prom_writer_family (w, "proxykit_connect_seconds", PK_PROM_HISTOGRAM, "Connect time.");
  pk_prom_writer_sample_uint (w, "proxykit_connect_seconds_bucket", 1, "le", "0.1", NULL);
  pk_prom_writer_sample_uint (w, "proxykit_connect_seconds_bucket", 2, "le", "+Inf", NULL);
  pk_prom_writer_sample (w, "proxykit_connect_seconds_sum", 0.3, NULL);
  pk_prom_writer_sample_uint (w, "proxykit_connect_seconds_count", 2, NULL);
  g_assert_nonnull (strstr (pk_prom_writer_get_text (w),
                            "proxykit_connect_seconds_bucket{le=\"+Inf\"} 2\n"
                            "proxykit_connect_seconds_sum 0.3\n"
                            "proxykit_connect_seconds_count 2\n"));
}

/* Observations land in the first bucket whose bound holds them (a bound
 * is inclusive), buckets are written cumulative with the labels before
 * "le", and the sum is in seconds. */
static void
test_histogram_observe (void)
{
  g_autoptr(PkPromWriter) w = pk_prom_writer_new ();
  PkPromHistogram h = { { 0 }, 0 };
  const char *labels[] = { "listener", "a", NULL };
  const char *text;

  pk_prom_histogram_observe_us (&h, 400);        /* 0.001 */
  pk_prom_histogram_observe_us (&h, 1000);       /* 0.001, inclusive */
  pk_prom_histogram_observe_us (&h, 300000);     /* 0.5 */
  pk_prom_histogram_observe_us (&h, 60000000);   /* +Inf only */
  pk_prom_writer_family (w, "proxykit_connect_seconds", PK_PROM_HISTOGRAM, NULL);
  pk_prom_writer_histogram (w, "proxykit_connect_seconds", labels, &h);
  text = pk_prom_writer_get_text (w);
  g_assert_nonnull (strstr (text, "proxykit_connect_seconds_bucket{listener=\"a\",le=\"0.001\"} 2\n"
                                  "proxykit_connect_seconds_bucket{listener=\"a\",le=\"0.0025\"} 2\n"));
  g_assert_nonnull (strstr (text, "proxykit_connect_seconds_bucket{listener=\"a\",le=\"0.25\"} 2\n"
                                  "proxykit_connect_seconds_bucket{listener=\"a\",le=\"0.5\"} 3\n"));
  g_assert_nonnull (strstr (text, "proxykit_connect_seconds_bucket{listener=\"a\",le=\"10\"} 3\n"
                                  "proxykit_connect_seconds_bucket{listener=\"a\",le=\"+Inf\"} 4\n"
                                  "proxykit_connect_seconds_sum{listener=\"a\"} 60.3014\n"
                                  "proxykit_connect_seconds_count{listener=\"a\"} 4\n"));
  g_assert_null (strstr (text, "le=\"1e"));
}

/* Misuse is reported with g_critical(); structured logging bypasses
 * g_test_expect_message(), so each case runs in a subprocess. */
static void
misuse_case (int n)
{
  g_autoptr(PkPromWriter) w = pk_prom_writer_new ();

  switch (n)
    {
    case 0:
      pk_prom_writer_sample (w, "orphan", 1, NULL);
      break;
    case 1:
      pk_prom_writer_family (w, "requests", PK_PROM_COUNTER, NULL);
      break;
    case 2:
      pk_prom_writer_family (w, "a", PK_PROM_GAUGE, NULL);
      pk_prom_writer_sample (w, "a", 1, "__name__", "x", NULL);
      break;
    case 3:
      pk_prom_writer_family (w, "a", PK_PROM_GAUGE, NULL);
      pk_prom_writer_sample (w, "a", 1, "1bad", "x", NULL);
      break;
    case 4:
      /* the current family again is harmless; an earlier one is not */
      pk_prom_writer_family (w, "a", PK_PROM_GAUGE, NULL);
      pk_prom_writer_family (w, "a", PK_PROM_GAUGE, NULL);
      g_printerr ("second announcement passed\n");
      pk_prom_writer_family (w, "b", PK_PROM_GAUGE, NULL);
      pk_prom_writer_family (w, "a", PK_PROM_GAUGE, NULL);
      break;
    case 5:
      pk_prom_writer_family (w, "h", PK_PROM_GAUGE, NULL);
      pk_prom_writer_sample (w, "h_bucket", 1, "le", "1", NULL);
      break;
    case 6:
      {
        PkPromHistogram h = { { 0 }, 0 };

        pk_prom_writer_family (w, "h", PK_PROM_GAUGE, NULL);
        pk_prom_writer_histogram (w, "h", NULL, &h);
      }
      break;
    }
  exit (0);
}

static const char *misuse_expect[] = {
  "*does not belong to the current family (none)*",
  "*requests does not end in _total*",
  "*invalid label name '__name__'*",
  "*invalid label name '1bad'*",
  "*second announcement passed*announced twice*",
  "*h_bucket does not belong*",
  "*histogram h is not the histogram family announced last*",
};

static void
test_misuse (gconstpointer data)
{
  int n = GPOINTER_TO_INT (data);

  if (g_test_subprocess ())
    {
      misuse_case (n);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr (misuse_expect[n]);
}

static void
test_names (void)
{
  g_assert_true (pk_prom_is_valid_metric_name ("node_nf_conntrack_entries"));
  g_assert_true (pk_prom_is_valid_metric_name ("job:rate5m"));
  g_assert_false (pk_prom_is_valid_metric_name ("5xx"));
  g_assert_false (pk_prom_is_valid_metric_name ("a-b"));
  g_assert_false (pk_prom_is_valid_metric_name (""));
  g_assert_false (pk_prom_is_valid_label_name ("__x"));
  g_assert_true (pk_prom_is_valid_label_name ("_x1"));
}

/* The real parser agrees: promtool from Debian's prometheus package. */
static void
test_promtool (void)
{
  g_autoptr(PkPromWriter) w = pk_prom_writer_new ();
  g_autofree char *promtool = g_find_program_in_path ("promtool");
  g_autofree char *path = NULL;
  g_autofree char *cmd = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  int fd, status = -1;
  const char *labels[] = { "iface", "we\"ird\\\nname", NULL };
  PkPromHistogram h = { { 0 }, 0 };

  if (promtool == NULL)
    {
      g_test_skip ("promtool not installed (Debian package prometheus)");
      return;
    }
  pk_prom_writer_family (w, "proxykit_bytes_total", PK_PROM_COUNTER, "Bytes \\ moved\nsomewhere.");
  pk_prom_writer_sample_uint_labels (w, "proxykit_bytes_total", labels, 12345);
  pk_prom_writer_family (w, "proxykit_ratio", PK_PROM_GAUGE, "A ratio.");
  pk_prom_writer_sample (w, "proxykit_ratio", NAN, "k", "a", NULL);
  pk_prom_writer_sample (w, "proxykit_ratio", 0.5, "k", "b", NULL);
  pk_prom_writer_family (w, "proxykit_connect_seconds", PK_PROM_HISTOGRAM, "Connect time.");
  pk_prom_writer_sample_uint (w, "proxykit_connect_seconds_bucket", 1, "le", "0.1", NULL);
  pk_prom_writer_sample_uint (w, "proxykit_connect_seconds_bucket", 2, "le", "+Inf", NULL);
  pk_prom_writer_sample (w, "proxykit_connect_seconds_sum", 0.3, NULL);
  pk_prom_writer_sample_uint (w, "proxykit_connect_seconds_count", 2, NULL);
  pk_prom_histogram_observe_us (&h, 1500);
  pk_prom_writer_family (w, "proxykit_handshake_seconds", PK_PROM_HISTOGRAM, "Handshake time.");
  pk_prom_writer_histogram (w, "proxykit_handshake_seconds", labels, &h);

  fd = g_file_open_tmp ("pk-prom-XXXXXX.txt", &path, &error);
  g_assert_no_error (error);
  close (fd);
  g_file_set_contents (path, pk_prom_writer_get_text (w), -1, &error);
  g_assert_no_error (error);
  cmd = g_strdup_printf ("sh -c 'promtool check metrics < %s'", path);
  g_spawn_command_line_sync (cmd, &out, &err, &status, &error);
  g_assert_no_error (error);
  g_unlink (path);
  if (!g_spawn_check_wait_status (status, NULL) || (err && *err) || (out && *out))
    g_error ("promtool: %s%s\n%s", out, err, pk_prom_writer_get_text (w));
}

int
main (int argc, char **argv)
{
  pk_test_init (&argc, &argv);
  g_test_add_func ("/prom/counter-and-labels", test_counter_and_labels);
  g_test_add_func ("/prom/escaping", test_escaping);
  g_test_add_func ("/prom/special-values", test_special_values);
  g_test_add_func ("/prom/histogram", test_histogram);
  g_test_add_func ("/prom/histogram-observe", test_histogram_observe);
  for (guint i = 0; i < G_N_ELEMENTS (misuse_expect); i++)
    {
      g_autofree char *path = g_strdup_printf ("/prom/misuse/%u", i);
      g_test_add_data_func (path, GINT_TO_POINTER (i), test_misuse);
    }
  g_test_add_func ("/prom/names", test_names);
  g_test_add_func ("/prom/promtool", test_promtool);
  return g_test_run ();
}
