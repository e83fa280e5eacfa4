/* pk-metrics-analyze.c: names the likely causes of a failure from the
 * recorded history around its time
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "pk-error.h"
#include "pk-metrics-analyze.h"
#include "pk-metrics-private.h"
#include "pk-metrics-recorder.h"

/* The thresholds of the operators' own failure reports. */
#define EPHEMERAL_PCT      80.0
#define TIME_WAIT_443      500.0
#define CONNTRACK_PCT      90.0
#define RSS_GROWTH_RATIO   1.10
#define RSS_GROWTH_BYTES   (8.0 * 1024 * 1024)
#define FDS_GROWTH_RATIO   1.20
#define FDS_GROWTH_COUNT   100.0
#define MONOTONIC_SHARE    0.8

typedef struct {
  GPtrArray *samples;    /* JsonNode, oldest first */
  GPtrArray *flat;       /* GHashTable path -> double, same order */
  JsonBuilder *b;        /* inside the "suspects" array */
  guint n_suspects;
} Analysis;

static char *
iso_time (gint64 t)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (t / G_USEC_PER_SEC);
  return g_date_time_format (dt, "%Y-%m-%dT%H:%M:%SZ");
}

static void
begin_suspect (Analysis   *a,
               const char *cause,
               const char *summary)
{
  json_builder_begin_object (a->b);
  json_builder_set_member_name (a->b, "cause");
  json_builder_add_string_value (a->b, cause);
  json_builder_set_member_name (a->b, "summary");
  json_builder_add_string_value (a->b, summary);
  json_builder_set_member_name (a->b, "evidence");
  json_builder_begin_object (a->b);
  a->n_suspects++;
}

static void
end_suspect (Analysis *a)
{
  json_builder_end_object (a->b);
  json_builder_end_object (a->b);
}

static void
evidence_double (Analysis   *a,
                 const char *name,
                 double      v)
{
  json_builder_set_member_name (a->b, name);
  json_builder_add_double_value (a->b, v);
}

static void
evidence_string (Analysis   *a,
                 const char *name,
                 const char *v)
{
  json_builder_set_member_name (a->b, name);
  json_builder_add_string_value (a->b, v);
}

static gint64
time_of (Analysis *a,
         guint     i)
{
  return pk_metrics_sample_time_us (a->samples->pdata[i]);
}

static gboolean
value_at (Analysis   *a,
          guint       i,
          const char *path,
          double     *v)
{
  double *p = g_hash_table_lookup (a->flat->pdata[i], path);

  if (p)
    *v = *p;
  return p != NULL;
}

/* A gauge above a threshold in any sample of the window. */
static void
check_above (Analysis   *a,
             const char *path,
             double      threshold,
             const char *cause,
             const char *what,
             const char *detail_path,
             const char *detail_name)
{
  double max = -1, v;
  gint64 first_above = 0, at_max = 0;
  guint n_above = 0;

  for (guint i = 0; i < a->samples->len; i++)
    {
      if (!value_at (a, i, path, &v))
        continue;
      if (v > threshold)
        {
          if (n_above++ == 0)
            first_above = time_of (a, i);
        }
      if (v > max)
        {
          max = v;
          at_max = time_of (a, i);
        }
    }
  if (n_above == 0)
    return;
  {
    g_autofree char *summary = g_strdup_printf ("%s reached %.0f (threshold %.0f)", what, max, threshold);
    g_autofree char *first = iso_time (first_above);
    g_autofree char *peak = iso_time (at_max);

    begin_suspect (a, cause, summary);
    evidence_string (a, "metric", path);
    evidence_double (a, "max", max);
    evidence_double (a, "threshold", threshold);
    evidence_string (a, "first_above", first);
    evidence_string (a, "peak_at", peak);
    evidence_double (a, "samples_above", n_above);
    if (detail_path)
      for (guint i = a->samples->len; i-- > 0;)
        if (value_at (a, i, detail_path, &v))
          {
            JsonObject *eph = json_object_get_object_member (json_node_get_object (a->samples->pdata[i]),
                                                             "ephemeral_ports");
            JsonNode *busiest = eph ? json_object_get_member (eph, "busiest_destination") : NULL;

            evidence_double (a, detail_name, v);
            if (g_str_has_prefix (path, "ephemeral_ports.busiest") && busiest && JSON_NODE_HOLDS_OBJECT (busiest))
              evidence_string (a, "destination",
                               json_object_get_string_member_with_default (json_node_get_object (busiest),
                                                                           "destination", "?"));
            break;
          }
    end_suspect (a);
  }
}

/* Paths of the first sample's figures that match a glob. */
static GPtrArray *
matching_paths (Analysis   *a,
                const char *glob)
{
  g_autoptr(GPatternSpec) spec = g_pattern_spec_new (glob);
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < a->flat->len; i++)
    {
      GHashTableIter iter;
      gpointer key;

      g_hash_table_iter_init (&iter, a->flat->pdata[i]);
      while (g_hash_table_iter_next (&iter, &key, NULL))
        if (!g_hash_table_contains (seen, key) && g_pattern_spec_match_string (spec, key))
          {
            g_hash_table_add (seen, key);
            g_ptr_array_add (out, g_strdup (key));
          }
    }
  g_ptr_array_sort (out, (GCompareFunc) g_strcmp0);
  return out;
}

/* A counter (drops) that rose within the window. */
static void
check_rising (Analysis   *a,
              const char *glob,
              const char *cause,
              const char *what)
{
  g_autoptr(GPtrArray) paths = matching_paths (a, glob);

  for (guint p = 0; p < paths->len; p++)
    {
      const char *path = paths->pdata[p];
      double first = 0, last = 0, prev = 0, v, rise = 0;
      gint64 t_first = 0, t_last = 0, t_rise = 0;
      gboolean have = FALSE;

      for (guint i = 0; i < a->samples->len; i++)
        {
          if (!value_at (a, i, path, &v))
            continue;
          if (!have)
            {
              first = v;
              t_first = time_of (a, i);
              have = TRUE;
            }
          else if (v > prev)
            {
              rise += v - prev;   /* a reset (v < prev) adds nothing */
              if (t_rise == 0)
                t_rise = time_of (a, i);
            }
          prev = last = v;
          t_last = time_of (a, i);
        }
      if (rise <= 0)
        continue;
      {
        g_autofree char *summary = g_strdup_printf ("%s rose by %.0f (%s)", what, rise, path);
        g_autofree char *s_first = iso_time (t_first);
        g_autofree char *s_last = iso_time (t_last);
        g_autofree char *s_rise = iso_time (t_rise);

        begin_suspect (a, cause, summary);
        evidence_string (a, "metric", path);
        evidence_double (a, "increase", rise);
        evidence_double (a, "first", first);
        evidence_double (a, "last", last);
        evidence_string (a, "from", s_first);
        evidence_string (a, "to", s_last);
        evidence_string (a, "first_rise", s_rise);
        if (t_last > t_first)
          evidence_double (a, "per_minute", rise * 60e6 / (t_last - t_first));
        end_suspect (a);
      }
    }
}

/* A per-process gauge (RSS, fds) that keeps growing. */
static void
check_growing (Analysis   *a,
               const char *glob,
               double      min_ratio,
               double      min_growth,
               const char *cause,
               const char *what)
{
  g_autoptr(GPtrArray) paths = matching_paths (a, glob);

  for (guint p = 0; p < paths->len; p++)
    {
      const char *path = paths->pdata[p];
      double first = 0, prev = 0, v;
      guint steps = 0, ups = 0, n = 0;

      for (guint i = 0; i < a->samples->len; i++)
        {
          if (!value_at (a, i, path, &v))
            continue;
          if (n++ == 0)
            first = v;
          else
            {
              steps++;
              if (v > prev)
                ups++;
            }
          prev = v;
        }
      if (n < 4 || first <= 0 || prev < first * min_ratio || prev - first < min_growth ||
          ups < MONOTONIC_SHARE * steps)
        continue;
      {
        g_auto(GStrv) parts = g_strsplit (path, ".", -1);   /* processes.PID.field */
        const char *name = "?";
        g_autofree char *summary = NULL;

        for (guint i = 0; i < a->samples->len; i++)
          {
            JsonObject *procs = json_object_get_object_member (json_node_get_object (a->samples->pdata[i]), "processes");
            JsonObject *proc = procs && json_object_has_member (procs, parts[1]) ?
                               json_object_get_object_member (procs, parts[1]) : NULL;
            if (proc && json_object_has_member (proc, "name"))
              {
                name = json_object_get_string_member (proc, "name");
                break;
              }
          }
        summary = g_strdup_printf ("%s of %s (pid %s) grew from %.0f to %.0f in %u of %u steps",
                                   what, name, parts[1], first, prev, ups, steps);
        begin_suspect (a, cause, summary);
        evidence_string (a, "metric", path);
        evidence_string (a, "process", name);
        evidence_double (a, "pid", g_ascii_strtod (parts[1], NULL));
        evidence_double (a, "first", first);
        evidence_double (a, "last", prev);
        evidence_double (a, "growth", prev - first);
        evidence_double (a, "rising_steps", ups);
        evidence_double (a, "steps", steps);
        end_suspect (a);
      }
    }
}

/* A watched listening port that lost its listener. */
static void
check_listeners (Analysis *a)
{
  g_autoptr(GPtrArray) paths = matching_paths (a, "tcp.ports.*.LISTEN");

  for (guint p = 0; p < paths->len; p++)
    {
      const char *path = paths->pdata[p];
      gboolean was_up = FALSE;
      double v;

      for (guint i = 0; i < a->samples->len; i++)
        {
          if (!value_at (a, i, path, &v))
            continue;
          if (v > 0)
            was_up = TRUE;
          else if (was_up)
            {
              g_auto(GStrv) parts = g_strsplit (path, ".", -1);
              g_autofree char *summary = g_strdup_printf ("nothing listens on port %s any more", parts[2]);
              g_autofree char *at = iso_time (time_of (a, i));

              begin_suspect (a, "listener-gone", summary);
              evidence_string (a, "metric", path);
              evidence_string (a, "gone_at", at);
              end_suspect (a);
              break;
            }
        }
    }
}

/**
 * pk_metrics_analyze_samples:
 * @samples: a JSON array of samples, oldest first
 *
 * Looks through @samples for the usual causes of a node that stops
 * serving: ephemeral ports above 80% used, more than 500 `TIME_WAIT`
 * sockets towards remote port 443, conntrack above 90% of its limit,
 * drops (NIC, softnet, conntrack) that rise, a watched process whose RSS
 * or open fds keep growing, a watched port that lost its listener.
 *
 * Returns: (transfer full): a JSON object with `samples`, `from`, `to` and
 *   `suspects`, a list of objects with `cause`, `summary` and `evidence`
 *
 * Since: 0.1
 */
JsonNode *
pk_metrics_analyze_samples (JsonArray *samples)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  Analysis a = { 0 };
  guint len;

  g_return_val_if_fail (samples != NULL, NULL);

  a.samples = g_ptr_array_new ();
  a.flat = g_ptr_array_new_with_free_func ((GDestroyNotify) g_hash_table_unref);
  a.b = b;
  len = json_array_get_length (samples);
  for (guint i = 0; i < len; i++)
    {
      JsonNode *s = json_array_get_element (samples, i);

      if (!JSON_NODE_HOLDS_OBJECT (s) || pk_metrics_sample_time_us (s) <= 0)
        continue;
      g_ptr_array_add (a.samples, s);
      g_ptr_array_add (a.flat, pk_metrics_flatten (s));
    }

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "samples");
  json_builder_add_int_value (b, a.samples->len);
  if (a.samples->len > 0)
    {
      g_autofree char *from = iso_time (time_of (&a, 0));
      g_autofree char *to = iso_time (time_of (&a, a.samples->len - 1));

      json_builder_set_member_name (b, "from");
      json_builder_add_string_value (b, from);
      json_builder_set_member_name (b, "to");
      json_builder_add_string_value (b, to);
    }
  json_builder_set_member_name (b, "suspects");
  json_builder_begin_array (b);

  check_above (&a, "ephemeral_ports.used_pct", EPHEMERAL_PCT, "ephemeral-ports",
               "ephemeral ports in use (%)", "ephemeral_ports.in_use", "in_use");
  check_above (&a, "ephemeral_ports.busiest_destination.used_pct", EPHEMERAL_PCT,
               "ephemeral-ports-destination",
               "ephemeral ports towards one destination (%)",
               "ephemeral_ports.busiest_destination.in_use", "in_use");
  check_above (&a, "tcp.remote_443.TIME_WAIT", TIME_WAIT_443, "time-wait-443",
               "TIME_WAIT sockets towards :443", NULL, NULL);
  check_above (&a, "conntrack.used_pct", CONNTRACK_PCT, "conntrack-full",
               "conntrack table use (%)", "conntrack.entries", "entries");
  check_rising (&a, "conntrack.stats.drop", "conntrack-drops", "conntrack drops");
  check_rising (&a, "conntrack.stats.insert_failed", "conntrack-drops", "conntrack insert failures");
  check_rising (&a, "conntrack.stats.early_drop", "conntrack-drops", "conntrack early drops");
  check_rising (&a, "softnet.dropped", "softnet-drops", "softnet drops");
  check_rising (&a, "softnet.time_squeeze", "softnet-squeeze", "softnet time squeezes");
  check_rising (&a, "interfaces.*.rx_drops", "nic-drops", "receive drops");
  check_rising (&a, "interfaces.*.tx_drops", "nic-drops", "transmit drops");
  check_rising (&a, "interfaces.*.rx_errors", "nic-errors", "receive errors");
  check_rising (&a, "interfaces.*.tx_errors", "nic-errors", "transmit errors");
  check_growing (&a, "processes.*.rss_bytes", RSS_GROWTH_RATIO, RSS_GROWTH_BYTES,
                 "process-leak", "RSS");
  check_growing (&a, "processes.*.open_fds", FDS_GROWTH_RATIO, FDS_GROWTH_COUNT,
                 "fd-leak", "open fds");
  check_listeners (&a);

  json_builder_end_array (b);
  json_builder_end_object (b);

  g_ptr_array_unref (a.samples);
  g_ptr_array_unref (a.flat);
  return json_builder_get_root (b);
}

/**
 * pk_metrics_analyze:
 * @directory: a history directory written by a [class@MetricsRecorder]
 * @at_us: the time of the failure, in microseconds since the epoch
 * @window_us: how far before @at_us to look
 * @error: return location for a `GError`
 *
 * Reads the raw history from @window_us before @at_us to a minute after
 * it and runs [func@metrics_analyze_samples] on it.
 *
 * Returns: (transfer full): the analysis, or %NULL with @error set when
 *   there is no history around that time
 *
 * Since: 0.1
 */
JsonNode *
pk_metrics_analyze (const char *directory,
                    gint64      at_us,
                    gint64      window_us,
                    GError    **error)
{
  g_autoptr(JsonNode) history = NULL;
  JsonNode *result;

  g_return_val_if_fail (directory != NULL, NULL);
  g_return_val_if_fail (window_us > 0, NULL);

  history = pk_metrics_history_read (directory, PK_METRICS_RESOLUTION_RAW,
                                     at_us - window_us, at_us + 60 * G_USEC_PER_SEC, error);
  if (history == NULL)
    return NULL;
  if (json_array_get_length (json_node_get_array (history)) == 0)
    {
      g_autofree char *at = iso_time (at_us);
      g_set_error (error, PK_ERROR, PK_ERROR_FAILED,
                   "No samples in %s between %" G_GINT64_FORMAT " s before %s and a minute after",
                   directory, window_us / G_USEC_PER_SEC, at);
      return NULL;
    }
  result = pk_metrics_analyze_samples (json_node_get_array (history));
  return result;
}

/**
 * pk_metrics_format_analysis:
 * @analysis: what [func@metrics_analyze] or [func@metrics_analyze_samples]
 *   returned
 *
 * The analysis as text for a terminal, as `pk-metrics analyze` prints it:
 * how many samples from when to when, then each suspect with its cause,
 * summary and evidence, or a line saying there are none.
 *
 * Returns: (transfer full): the text, ended by a newline
 *
 * Since: 0.2
 */
char *
pk_metrics_format_analysis (JsonNode *analysis)
{
  GString *out = g_string_new (NULL);
  JsonObject *o;
  JsonArray *suspects;

  g_return_val_if_fail (analysis != NULL && JSON_NODE_HOLDS_OBJECT (analysis), NULL);

  o = json_node_get_object (analysis);
  suspects = json_object_get_array_member (o, "suspects");
  g_string_append_printf (out, "%" G_GINT64_FORMAT " samples from %s to %s\n",
                          json_object_get_int_member_with_default (o, "samples", 0),
                          json_object_get_string_member_with_default (o, "from", "?"),
                          json_object_get_string_member_with_default (o, "to", "?"));
  if (suspects == NULL || json_array_get_length (suspects) == 0)
    {
      g_string_append (out, "No suspects: ephemeral ports, TIME_WAIT to :443, conntrack, drops "
                            "and watched processes look normal.\n");
      return g_string_free (out, FALSE);
    }
  for (guint i = 0; i < json_array_get_length (suspects); i++)
    {
      JsonObject *s = json_array_get_object_element (suspects, i);
      JsonObject *ev = json_object_get_object_member (s, "evidence");
      g_autoptr(GList) keys = ev != NULL ? json_object_get_members (ev) : NULL;

      g_string_append_printf (out, "\n[%s] %s\n", json_object_get_string_member_with_default (s, "cause", "?"),
                              json_object_get_string_member_with_default (s, "summary", ""));
      for (GList *l = keys; l; l = l->next)
        {
          JsonNode *n = json_object_get_member (ev, l->data);
          g_autofree char *v = json_node_get_value_type (n) == G_TYPE_STRING
                                 ? g_strdup (json_node_get_string (n))
                                 : g_strdup_printf ("%g", json_node_get_double (n));

          g_string_append_printf (out, "    %-14s %s\n", (char *) l->data, v);
        }
    }
  return g_string_free (out, FALSE);
}
