/* pk-metrics-history.c: samples as flat "a.b.c" -> number tables, the
 * common ground of rollups, alert rules and the failure analysis.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "pk-metrics-private.h"

static void
flatten_into (GHashTable *out,
              GString    *path,
              JsonNode   *node)
{
  gsize len = path->len;

  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObjectIter iter;
      const char *name;
      JsonNode *child;

      json_object_iter_init (&iter, json_node_get_object (node));
      while (json_object_iter_next (&iter, &name, &child))
        {
          if (len > 0)
            g_string_append_c (path, '.');
          g_string_append (path, name);
          flatten_into (out, path, child);
          g_string_truncate (path, len);
        }
    }
  else if (JSON_NODE_HOLDS_VALUE (node))
    {
      GType t = json_node_get_value_type (node);
      double v;

      if (t == G_TYPE_INT64)
        v = json_node_get_int (node);
      else if (t == G_TYPE_DOUBLE)
        v = json_node_get_double (node);
      else
        return;
      g_hash_table_insert (out, g_strdup (path->str), g_memdup2 (&v, sizeof v));
    }
}

GHashTable *
pk_metrics_flatten (JsonNode *sample)
{
  GHashTable *out = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(GString) path = g_string_new (NULL);

  if (sample != NULL)
    flatten_into (out, path, sample);
  return out;
}

gboolean
pk_metrics_lookup (JsonNode   *sample,
                   const char *path,
                   double     *out)
{
  g_auto(GStrv) parts = g_strsplit (path, ".", -1);
  JsonNode *node = sample;
  GType t;

  for (guint i = 0; parts[i] != NULL; i++)
    {
      JsonObject *o;

      if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
        return FALSE;
      o = json_node_get_object (node);
      node = json_object_get_member (o, parts[i]);
    }
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  t = json_node_get_value_type (node);
  if (t == G_TYPE_INT64)
    *out = json_node_get_int (node);
  else if (t == G_TYPE_DOUBLE)
    *out = json_node_get_double (node);
  else
    return FALSE;
  return TRUE;
}

gint64
pk_metrics_sample_time_us (JsonNode *sample)
{
  double ts;

  if (!pk_metrics_lookup (sample, "timestamp", &ts))
    return 0;
  return (gint64) (ts * G_USEC_PER_SEC + 0.5);
}
