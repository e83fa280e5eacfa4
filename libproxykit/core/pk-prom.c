/* pk-prom.c: Prometheus text exposition format 0.0.4
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "pk-prom-private.h"

struct _PkPromWriter {
  GString    *out;
  char       *family;     /* the family announced last */
  PkPromType  type;
  GHashTable *announced;  /* every family announced so far */
};

PkPromWriter *
pk_prom_writer_new (void)
{
  PkPromWriter *self = g_new0 (PkPromWriter, 1);

  self->out = g_string_sized_new (4096);
  self->announced = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return self;
}

void
pk_prom_writer_free (PkPromWriter *self)
{
  if (self == NULL)
    return;
  g_string_free (self->out, TRUE);
  g_free (self->family);
  g_hash_table_unref (self->announced);
  g_free (self);
}

gboolean
pk_prom_is_valid_metric_name (const char *name)
{
  if (name == NULL || *name == '\0')
    return FALSE;
  if (!(g_ascii_isalpha (name[0]) || name[0] == '_' || name[0] == ':'))
    return FALSE;
  for (const char *p = name + 1; *p; p++)
    if (!(g_ascii_isalnum (*p) || *p == '_' || *p == ':'))
      return FALSE;
  return TRUE;
}

gboolean
pk_prom_is_valid_label_name (const char *name)
{
  if (name == NULL || *name == '\0')
    return FALSE;
  if (!(g_ascii_isalpha (name[0]) || name[0] == '_'))
    return FALSE;
  if (g_str_has_prefix (name, "__"))
    return FALSE;   /* reserved for Prometheus itself */
  for (const char *p = name + 1; *p; p++)
    if (!(g_ascii_isalnum (*p) || *p == '_'))
      return FALSE;
  return TRUE;
}

void
pk_prom_escape_label_value (GString    *out,
                            const char *value)
{
  for (const char *p = value; *p; p++)
    {
      switch (*p)
        {
        case '\\': g_string_append (out, "\\\\"); break;
        case '"':  g_string_append (out, "\\\""); break;
        case '\n': g_string_append (out, "\\n"); break;
        default:   g_string_append_c (out, *p); break;
        }
    }
}

static void
escape_help (GString    *out,
             const char *help)
{
  for (const char *p = help; *p; p++)
    {
      if (*p == '\\')
        g_string_append (out, "\\\\");
      else if (*p == '\n')
        g_string_append (out, "\\n");
      else
        g_string_append_c (out, *p);
    }
}

static const char *
type_name (PkPromType type)
{
  switch (type)
    {
    case PK_PROM_COUNTER: return "counter";
    case PK_PROM_GAUGE: return "gauge";
    case PK_PROM_HISTOGRAM: return "histogram";
    case PK_PROM_SUMMARY: return "summary";
    case PK_PROM_UNTYPED:
    default: return "untyped";
    }
}

void
pk_prom_writer_family (PkPromWriter *self,
                       const char   *name,
                       PkPromType    type,
                       const char   *help)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (pk_prom_is_valid_metric_name (name));

  if (self->family != NULL && strcmp (self->family, name) == 0)
    return;
  if (g_hash_table_contains (self->announced, name))
    {
      g_critical ("Prometheus family %s announced twice with other families between", name);
      return;
    }
  if (type == PK_PROM_COUNTER && !g_str_has_suffix (name, "_total"))
    g_critical ("Prometheus counter %s does not end in _total", name);

  if (help != NULL)
    {
      g_string_append_printf (self->out, "# HELP %s ", name);
      escape_help (self->out, help);
      g_string_append_c (self->out, '\n');
    }
  g_string_append_printf (self->out, "# TYPE %s %s\n", name, type_name (type));

  g_hash_table_add (self->announced, g_strdup (name));
  g_free (self->family);
  self->family = g_strdup (name);
  self->type = type;
}

static gboolean
sample_belongs (PkPromWriter *self,
                const char   *name)
{
  const char *suffix;
  gsize flen;

  if (self->family == NULL)
    return FALSE;
  if (strcmp (name, self->family) == 0)
    return TRUE;
  if (self->type != PK_PROM_HISTOGRAM && self->type != PK_PROM_SUMMARY)
    return FALSE;
  flen = strlen (self->family);
  if (strncmp (name, self->family, flen) != 0)
    return FALSE;
  suffix = name + flen;
  return strcmp (suffix, "_sum") == 0 || strcmp (suffix, "_count") == 0 ||
         (self->type == PK_PROM_HISTOGRAM && strcmp (suffix, "_bucket") == 0);
}

static gboolean
begin_sample (PkPromWriter       *self,
              const char         *name,
              const char * const *labels)
{
  gboolean first = TRUE;

  if (!sample_belongs (self, name))
    {
      g_critical ("Prometheus sample %s does not belong to the current family %s",
                  name, self->family ? self->family : "(none)");
      return FALSE;
    }
  for (gsize i = 0; labels != NULL && labels[i] != NULL; i += 2)
    if (!pk_prom_is_valid_label_name (labels[i]))
      {
        g_critical ("Prometheus sample %s: invalid label name '%s'", name, labels[i]);
        return FALSE;
      }

  g_string_append (self->out, name);
  for (gsize i = 0; labels != NULL && labels[i] != NULL; i += 2)
    {
      if (labels[i + 1] == NULL)
        continue;
      g_string_append_c (self->out, first ? '{' : ',');
      first = FALSE;
      g_string_append (self->out, labels[i]);
      g_string_append (self->out, "=\"");
      pk_prom_escape_label_value (self->out, labels[i + 1]);
      g_string_append_c (self->out, '"');
    }
  if (!first)
    g_string_append_c (self->out, '}');
  g_string_append_c (self->out, ' ');
  return TRUE;
}

static void
append_double (GString *out,
               double   value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (isnan (value))
    g_string_append (out, "NaN");
  else if (isinf (value))
    g_string_append (out, value > 0 ? "+Inf" : "-Inf");
  else if (fabs (value) < 9007199254740992.0 && value == (double) (gint64) value)
    g_string_append_printf (out, "%" G_GINT64_FORMAT, (gint64) value);
  else
    {
      /* the shortest of %.15g..%.17g that reads back as the same value */
      for (int prec = 15; prec <= 17; prec++)
        {
          char fmt[8];

          g_snprintf (fmt, sizeof fmt, "%%.%dg", prec);
          g_ascii_formatd (buf, sizeof buf, fmt, value);
          if (g_ascii_strtod (buf, NULL) == value)
            break;
        }
      g_string_append (out, buf);
    }
}

void
pk_prom_writer_sample_labels (PkPromWriter       *self,
                              const char         *name,
                              const char * const *labels,
                              double              value)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (name != NULL);

  if (!begin_sample (self, name, labels))
    return;
  append_double (self->out, value);
  g_string_append_c (self->out, '\n');
}

void
pk_prom_writer_sample_uint_labels (PkPromWriter       *self,
                                   const char         *name,
                                   const char * const *labels,
                                   guint64             value)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (name != NULL);

  if (!begin_sample (self, name, labels))
    return;
  g_string_append_printf (self->out, "%" G_GUINT64_FORMAT "\n", value);
}

static GPtrArray *
collect_labels (va_list args)
{
  GPtrArray *labels = g_ptr_array_new ();
  const char *key;

  while ((key = va_arg (args, const char *)) != NULL)
    {
      g_ptr_array_add (labels, (gpointer) key);
      g_ptr_array_add (labels, va_arg (args, char *));
    }
  g_ptr_array_add (labels, NULL);
  return labels;
}

void
pk_prom_writer_sample (PkPromWriter *self,
                       const char   *name,
                       double        value,
                       ...)
{
  g_autoptr(GPtrArray) labels = NULL;
  va_list args;

  va_start (args, value);
  labels = collect_labels (args);
  va_end (args);
  pk_prom_writer_sample_labels (self, name, (const char * const *) labels->pdata, value);
}

void
pk_prom_writer_sample_uint (PkPromWriter *self,
                            const char   *name,
                            guint64       value,
                            ...)
{
  g_autoptr(GPtrArray) labels = NULL;
  va_list args;

  va_start (args, value);
  labels = collect_labels (args);
  va_end (args);
  pk_prom_writer_sample_uint_labels (self, name, (const char * const *) labels->pdata, value);
}

const char *
pk_prom_writer_get_text (PkPromWriter *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->out->str;
}

char *
pk_prom_writer_free_to_string (PkPromWriter *self)
{
  char *text;

  g_return_val_if_fail (self != NULL, NULL);
  text = g_string_free (g_steal_pointer (&self->out), FALSE);
  self->out = g_string_new (NULL);
  pk_prom_writer_free (self);
  return text;
}

GBytes *
pk_prom_writer_free_to_bytes (PkPromWriter *self)
{
  char *text = pk_prom_writer_free_to_string (self);

  return g_bytes_new_take (text, strlen (text));
}

/* the upper bounds of the buckets but the last (+Inf), in microseconds */
static const guint64 histogram_bounds_us[PK_PROM_HISTOGRAM_N_BUCKETS - 1] = {
  1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
  1000000, 2500000, 5000000, 10000000,
};

void
pk_prom_histogram_observe_us (PkPromHistogram *histogram,
                              guint64          us)
{
  guint i = 0;

  g_return_if_fail (histogram != NULL);

  while (i < G_N_ELEMENTS (histogram_bounds_us) && us > histogram_bounds_us[i])
    i++;
  __atomic_add_fetch (&histogram->buckets[i], 1, __ATOMIC_RELAXED);
  __atomic_add_fetch (&histogram->sum_us, us, __ATOMIC_RELAXED);
}

void
pk_prom_writer_histogram (PkPromWriter          *self,
                          const char            *family,
                          const char * const    *labels,
                          const PkPromHistogram *histogram)
{
  g_autoptr(GPtrArray) with_le = g_ptr_array_new ();
  g_autofree char *bucket = NULL, *sum = NULL, *count = NULL;
  char le[G_ASCII_DTOSTR_BUF_SIZE];
  guint64 cumulative = 0;

  g_return_if_fail (self != NULL);
  g_return_if_fail (family != NULL);
  g_return_if_fail (histogram != NULL);

  if (self->type != PK_PROM_HISTOGRAM || g_strcmp0 (family, self->family) != 0)
    {
      g_critical ("Prometheus histogram %s is not the histogram family announced last", family);
      return;
    }
  bucket = g_strconcat (family, "_bucket", NULL);
  sum = g_strconcat (family, "_sum", NULL);
  count = g_strconcat (family, "_count", NULL);

  for (gsize i = 0; labels != NULL && labels[i] != NULL; i += 2)
    {
      g_ptr_array_add (with_le, (gpointer) labels[i]);
      g_ptr_array_add (with_le, (gpointer) labels[i + 1]);
    }
  g_ptr_array_add (with_le, (gpointer) "le");
  g_ptr_array_add (with_le, le);
  g_ptr_array_add (with_le, NULL);

  for (guint i = 0; i < PK_PROM_HISTOGRAM_N_BUCKETS; i++)
    {
      cumulative += __atomic_load_n (&histogram->buckets[i], __ATOMIC_RELAXED);
      if (i < G_N_ELEMENTS (histogram_bounds_us))
        g_ascii_formatd (le, sizeof le, "%g", histogram_bounds_us[i] / 1e6);
      else
        g_strlcpy (le, "+Inf", sizeof le);
      pk_prom_writer_sample_uint_labels (self, bucket, (const char * const *) with_le->pdata, cumulative);
    }
  pk_prom_writer_sample_labels (self, sum, labels,
                                __atomic_load_n (&histogram->sum_us, __ATOMIC_RELAXED) / 1e6);
  pk_prom_writer_sample_uint_labels (self, count, labels, cumulative);
}
