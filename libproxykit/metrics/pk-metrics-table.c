/* pk-metrics-table.c: a sample as a table, for people
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "pk-metrics-sampler.h"

static JsonObject *
obj (JsonObject *o,
     const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;
  return n && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

static gboolean
num (JsonObject *o,
     const char *name,
     double     *v)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n))
    return FALSE;
  *v = json_node_get_value_type (n) == G_TYPE_INT64 ? json_node_get_int (n) : json_node_get_double (n);
  return TRUE;
}

static char *
fmt_num (JsonObject *o,
         const char *name,
         int         decimals,
         const char *suffix)
{
  double v;

  if (!num (o, name, &v))
    return g_strdup ("-");
  return g_strdup_printf ("%.*f%s", decimals, v, suffix);
}

/* g_format_size() puts a no-break space between number and unit, which
 * a C-locale terminal shows as '?' */
static char *
plain_spaces (char *s)
{
  GString *str = g_string_new (s);

  g_free (s);
  g_string_replace (str, "\u00a0", " ", 0);
  return g_string_free (str, FALSE);
}

static char *
fmt_bytes (double v)
{
  return plain_spaces (g_format_size_full ((guint64) v, G_FORMAT_SIZE_IEC_UNITS));
}

static char *
fmt_rate (JsonObject *o,
          const char *name)
{
  double v;
  g_autofree char *s = NULL;

  if (!num (o, name, &v))
    return g_strdup ("-");
  s = plain_spaces (g_format_size ((guint64) v));
  return g_strconcat (s, "/s", NULL);
}

static void
print_states (GString    *out,
              const char *label,
              JsonObject *states)
{
  g_autoptr(GList) names = json_object_get_members (states);
  gboolean any = FALSE;

  g_string_append_printf (out, "%-12s", label);
  for (GList *l = names; l; l = l->next)
    {
      double v;
      if (num (states, l->data, &v) && v > 0)
        {
          g_string_append_printf (out, " %s %.0f", (char *) l->data, v);
          any = TRUE;
        }
    }
  g_string_append_printf (out, "%s\n", any ? "" : " none");
}

/**
 * pk_metrics_format_table:
 * @sample: a sample of `pk_metrics_sampler_sample()`
 *
 * The sample as the table `pk-metrics` prints: one line per area (CPU,
 * load, memory, sockets by state, ports, conntrack, interfaces,
 * processes), for people.
 *
 * Returns: (transfer full): the text
 *
 * Since: 0.2
 */
char *
pk_metrics_format_table (JsonNode *sample)
{
  GString *out;
  JsonObject *root;
  JsonObject *o, *p;
  double v, w;

  g_return_val_if_fail (sample != NULL && JSON_NODE_HOLDS_OBJECT (sample), NULL);

  out = g_string_new (NULL);
  root = json_node_get_object (sample);

  g_string_append_printf (out, "%-12s %s  host %s\n", "time", json_object_get_string_member_with_default (root, "time", "?"),
           json_object_get_string_member_with_default (root, "host", "?"));

  o = obj (root, "cpu");
  if (o)
    {
      g_autofree char *busy = fmt_num (obj (o, "total"), "busy_pct", 1, "%");
      g_autofree char *iowait = fmt_num (obj (o, "total"), "iowait_pct", 1, "%");
      g_autofree char *steal = fmt_num (obj (o, "total"), "steal_pct", 1, "%");
      g_autoptr(GList) cores = json_object_get_members (obj (o, "cores"));

      g_string_append_printf (out, "%-12s busy %s  iowait %s  steal %s  |", "cpu", busy, iowait, steal);
      for (GList *l = cores; l; l = l->next)
        {
          g_autofree char *c = fmt_num (obj (obj (o, "cores"), l->data), "busy_pct", 0, "%");
          g_string_append_printf (out, " %s %s", (char *) l->data, c);
        }
      g_string_append_printf (out, "\n");
    }
  else
    g_string_append_printf (out, "%-12s absent\n", "cpu");

  o = obj (root, "load");
  if (o)
    {
      g_autofree char *a = fmt_num (o, "1m", 2, "");
      g_autofree char *b = fmt_num (o, "5m", 2, "");
      g_autofree char *c = fmt_num (o, "15m", 2, "");
      g_string_append_printf (out, "%-12s %s %s %s\n", "load", a, b, c);
    }
  else
    g_string_append_printf (out, "%-12s absent\n", "load");

  o = obj (root, "memory");
  if (o && num (o, "total_bytes", &v))
    {
      g_autofree char *total = fmt_bytes (v);
      g_autofree char *avail = num (o, "available_bytes", &w) ? fmt_bytes (w) : g_strdup ("-");
      g_autofree char *used = fmt_num (o, "used_pct", 1, "%");
      g_string_append_printf (out, "%-12s used %s  available %s of %s\n", "memory", used, avail, total);
    }
  else
    g_string_append_printf (out, "%-12s absent\n", "memory");

  o = obj (root, "tcp");
  if (o)
    {
      g_autoptr(GList) ports = json_object_get_members (obj (o, "ports"));

      num (o, "total", &v);
      g_string_append_printf (out, "%-12s %.0f sockets\n", "tcp", v);
      print_states (out, "  states", obj (o, "states"));
      for (GList *l = ports; l; l = l->next)
        {
          g_autofree char *label = g_strdup_printf ("  port %s", (char *) l->data);
          print_states (out, label, obj (obj (o, "ports"), l->data));
        }
      print_states (out, "  to :443", obj (o, "remote_443"));
    }
  else
    g_string_append_printf (out, "%-12s absent\n", "tcp");

  o = obj (root, "ephemeral_ports");
  if (o)
    {
      g_autofree char *in_use = fmt_num (o, "in_use", 0, "");
      g_autofree char *pct = fmt_num (o, "used_pct", 1, "%");
      num (o, "size", &v);
      g_string_append_printf (out, "%-12s %s in use of %.0f (%s)\n", "ephemeral", in_use, v, pct);
    }
  else
    g_string_append_printf (out, "%-12s absent\n", "ephemeral");

  o = obj (root, "sockstat");
  if (o && (p = obj (o, "TCP")) != NULL)
    {
      g_autofree char *inuse = fmt_num (p, "inuse", 0, "");
      g_autofree char *orphan = fmt_num (p, "orphan", 0, "");
      g_autofree char *tw = fmt_num (p, "tw", 0, "");
      g_autofree char *mem = fmt_num (p, "mem", 0, "");
      g_string_append_printf (out, "%-12s TCP inuse %s  orphan %s  tw %s  mem %s pages\n", "sockstat", inuse, orphan, tw, mem);
    }
  else
    g_string_append_printf (out, "%-12s absent\n", "sockstat");

  o = obj (root, "conntrack");
  if (o)
    {
      g_autofree char *n_entries = fmt_num (o, "entries", 0, "");
      g_autofree char *limit = fmt_num (o, "limit", 0, "");
      g_autofree char *pct = fmt_num (o, "used_pct", 1, "%");
      g_autofree char *drop = fmt_num (obj (o, "stats"), "drop", 0, "");
      g_autofree char *ins = fmt_num (obj (o, "stats"), "insert_failed", 0, "");
      g_string_append_printf (out, "%-12s %s of %s (%s)  drop %s  insert_failed %s\n", "conntrack", n_entries, limit, pct, drop, ins);
    }
  else
    g_string_append_printf (out, "%-12s absent\n", "conntrack");

  o = obj (root, "softnet");
  if (o)
    {
      g_autofree char *dropped = fmt_num (o, "dropped", 0, "");
      g_autofree char *rate = fmt_num (o, "dropped_per_s", 2, "/s");
      g_autofree char *squeeze = fmt_num (o, "time_squeeze", 0, "");
      g_string_append_printf (out, "%-12s dropped %s (%s)  time_squeeze %s\n", "softnet", dropped, rate, squeeze);
    }
  else
    g_string_append_printf (out, "%-12s absent\n", "softnet");

  o = obj (root, "interfaces");
  if (o)
    {
      g_autoptr(GList) names = g_list_sort (json_object_get_members (o), (GCompareFunc) strcmp);

      g_string_append_printf (out, "interfaces\n");
      for (GList *l = names; l; l = l->next)
        {
          JsonObject *i = obj (o, l->data);
          g_autofree char *rx = fmt_rate (i, "rx_bytes_per_s");
          g_autofree char *tx = fmt_rate (i, "tx_bytes_per_s");
          g_autofree char *rd = fmt_num (i, "rx_drops", 0, "");
          g_autofree char *td = fmt_num (i, "tx_drops", 0, "");
          g_autofree char *re = fmt_num (i, "rx_errors", 0, "");
          g_autofree char *te = fmt_num (i, "tx_errors", 0, "");

          g_string_append_printf (out, "  %-10s rx %-12s tx %-12s drops %s/%s  errors %s/%s\n",
                   (char *) l->data, rx, tx, rd, td, re, te);
        }
    }

  o = obj (root, "processes");
  if (o && json_object_get_size (o) > 0)
    {
      g_autoptr(GList) pids = json_object_get_members (o);

      g_string_append_printf (out, "processes\n");
      for (GList *l = pids; l; l = l->next)
        {
          JsonObject *pr = obj (o, l->data);
          g_autofree char *rss = num (pr, "rss_bytes", &v) ? fmt_bytes (v) : g_strdup ("-");
          g_autofree char *threads = fmt_num (pr, "threads", 0, "");
          g_autofree char *fds = fmt_num (pr, "open_fds", 0, "");
          g_autofree char *cpu = fmt_num (pr, "cpu_pct", 1, "%");

          g_string_append_printf (out, "  %-7s %-16s rss %-10s threads %-4s fds %-6s cpu %s\n", (char *) l->data,
                   json_object_get_string_member_with_default (pr, "name", "?"), rss, threads, fds, cpu);
        }
    }
  {
    JsonNode *node = json_object_get_member (root, "processes_missing");
    JsonArray *missing = node != NULL && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;

    for (guint i = 0; missing && i < json_array_get_length (missing); i++)
      g_string_append_printf (out, "%-12s %s is not running\n", i == 0 ? "missing" : "", json_array_get_string_element (missing, i));
  }
  return g_string_free (out, FALSE);
}
