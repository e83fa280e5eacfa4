/* pk-metrics-recorder.c: history of samples on disk, with rollups
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkMetricsRecorder:
 *
 * Keeps the history of [class@MetricsSampler] samples in a directory:
 *
 * - `raw/YYYY-MM-DD/metrics_HH.jsonl` (or `raw/YYYY-MM-DD/metrics.jsonl`
 *   with %PK_METRICS_FILE_DAILY): one JSON object per line, one line per
 *   sample; kept for a number of days (7 by default) and under a size cap
 *   (5 GB by default), the oldest file removed first;
 * - `hourly/YYYY-MM-DD.jsonl`: one line per hour with the `min`, `avg` and
 *   `max` of every numeric figure (30 days by default);
 * - `daily/YYYY-MM.jsonl`: one line per day, from the hourly lines (365
 *   days by default).
 *
 * Each sample is written with one `write(2)` on a file opened with
 * `O_APPEND`. A line cut short by a crash is cut off the file before the
 * next append, and readers skip a line that does not parse, so that a
 * partial record never spoils the history. Time comes from the samples
 * (their `timestamp`), which also drives retention and rollups.
 *
 * ```c
 * g_autoptr(PkMetricsRecorder) rec = pk_metrics_recorder_new ("/var/lib/proxykit/metrics");
 *
 * if (!pk_metrics_recorder_append (rec, sample, &error))
 *   g_warning ("%s", error->message);
 * ```
 *
 * Since: 0.1
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <sys/stat.h>

#include "pk-config.h"
#include "pk-error.h"
#include "pk-metrics-private.h"
#include "pk-metrics-recorder.h"

#define HOUR_US (G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC)
#define DAY_US  (24 * HOUR_US)

struct _PkMetricsRecorder
{
  GObject parent_instance;

  char *directory;
  PkMetricsFileLayout layout;
  guint raw_days;
  guint64 max_bytes;
  guint hourly_days;
  guint daily_days;

  int fd;
  char *open_path;
  gint64 last_hour;        /* start of the hour of the last sample, 0 before */
  guint64 raw_size;        /* known size of raw/, or G_MAXUINT64 if unknown */
};

G_DEFINE_FINAL_TYPE (PkMetricsRecorder, pk_metrics_recorder, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_DIRECTORY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
pk_metrics_recorder_finalize (GObject *object)
{
  PkMetricsRecorder *self = PK_METRICS_RECORDER (object);

  if (self->fd >= 0)
    close (self->fd);
  g_free (self->open_path);
  g_free (self->directory);
  G_OBJECT_CLASS (pk_metrics_recorder_parent_class)->finalize (object);
}

static void
pk_metrics_recorder_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  PkMetricsRecorder *self = PK_METRICS_RECORDER (object);

  switch (prop_id)
    {
    case PROP_DIRECTORY:
      g_value_set_string (value, self->directory);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_metrics_recorder_set_property (GObject      *object,
                                  guint         prop_id,
                                  const GValue *value,
                                  GParamSpec   *pspec)
{
  PkMetricsRecorder *self = PK_METRICS_RECORDER (object);

  switch (prop_id)
    {
    case PROP_DIRECTORY:
      self->directory = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_metrics_recorder_class_init (PkMetricsRecorderClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = pk_metrics_recorder_finalize;
  object_class->get_property = pk_metrics_recorder_get_property;
  object_class->set_property = pk_metrics_recorder_set_property;

  /**
   * PkMetricsRecorder:directory:
   *
   * The directory that holds the history.
   *
   * Since: 0.1
   */
  properties[PROP_DIRECTORY] =
    g_param_spec_string ("directory", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
pk_metrics_recorder_init (PkMetricsRecorder *self)
{
  self->fd = -1;
  self->layout = PK_METRICS_FILE_HOURLY;
  self->raw_days = 7;
  self->max_bytes = G_GUINT64_CONSTANT (5) * 1000 * 1000 * 1000;
  self->hourly_days = 30;
  self->daily_days = 365;
  self->raw_size = G_MAXUINT64;
}

/**
 * pk_metrics_recorder_new:
 * @directory: where the history is kept (created as needed)
 *
 * Creates a recorder of samples into a history directory.
 *
 * Returns: (transfer full): a recorder
 *
 * Since: 0.1
 */
PkMetricsRecorder *
pk_metrics_recorder_new (const char *directory)
{
  g_return_val_if_fail (directory != NULL, NULL);
  return g_object_new (PK_TYPE_METRICS_RECORDER, "directory", directory, NULL);
}

/**
 * pk_metrics_recorder_get_directory:
 * @self: a recorder
 *
 * Gets the history directory.
 *
 * Returns: the history directory
 *
 * Since: 0.1
 */
const char *
pk_metrics_recorder_get_directory (PkMetricsRecorder *self)
{
  g_return_val_if_fail (PK_IS_METRICS_RECORDER (self), NULL);
  return self->directory;
}

/**
 * pk_metrics_recorder_set_layout:
 * @self: a recorder
 * @layout: one raw file per hour or per day
 *
 * Chooses how raw samples are grouped into files (hourly by default).
 *
 * Since: 0.1
 */
void
pk_metrics_recorder_set_layout (PkMetricsRecorder   *self,
                                PkMetricsFileLayout  layout)
{
  g_return_if_fail (PK_IS_METRICS_RECORDER (self));
  self->layout = layout;
}

/**
 * pk_metrics_recorder_set_retention:
 * @self: a recorder
 * @raw_days: days of raw samples to keep (default 7)
 * @max_bytes: size cap of the raw samples (default 5 GB); 0 for none
 * @hourly_days: days of hourly rollups to keep (default 30)
 * @daily_days: days of daily rollups to keep (default 365)
 *
 * Sets how much history is kept.
 *
 * Since: 0.1
 */
void
pk_metrics_recorder_set_retention (PkMetricsRecorder *self,
                                   guint              raw_days,
                                   guint64            max_bytes,
                                   guint              hourly_days,
                                   guint              daily_days)
{
  g_return_if_fail (PK_IS_METRICS_RECORDER (self));
  self->raw_days = raw_days;
  self->max_bytes = max_bytes;
  self->hourly_days = hourly_days;
  self->daily_days = daily_days;
}

/* ------------------------------------------------------------------ */
/* files */

typedef struct {
  char   *path;
  gint64  start;
  gint64  end;
  guint64 size;
} HistFile;

static void
hist_file_clear (gpointer p)
{
  HistFile *f = p;
  g_free (f->path);
}

static gint
compare_files (gconstpointer a,
               gconstpointer b)
{
  const HistFile *fa = a, *fb = b;
  return (fa->start > fb->start) - (fa->start < fb->start);
}

static gint64
utc_us (int y, int m, int d, int h)
{
  g_autoptr(GDateTime) dt = NULL;

  if (y < 1970 || m < 1 || m > 12 || d < 1 || d > 31 || h < 0 || h > 23)
    return -1;
  dt = g_date_time_new_utc (y, m, d, h, 0, 0);
  return dt ? g_date_time_to_unix (dt) * G_USEC_PER_SEC : -1;
}

static gint64
month_end_us (int y, int m)
{
  return m == 12 ? utc_us (y + 1, 1, 1, 0) : utc_us (y, m + 1, 1, 0);
}

static void
add_file (GArray     *out,
          const char *path,
          gint64      start,
          gint64      end)
{
  GStatBuf st;
  HistFile f;

  if (start < 0 || g_stat (path, &st) != 0)
    return;
  f.path = g_strdup (path);
  f.start = start;
  f.end = end;
  f.size = st.st_size;
  g_array_append_val (out, f);
}

/* Files of one kind ("raw", "hourly", "daily"), oldest first. */
static GArray *
list_files (const char *directory,
            const char *kind)
{
  g_autofree char *base = g_build_filename (directory, kind, NULL);
  g_autoptr(GDir) dir = g_dir_open (base, 0, NULL);
  GArray *out = g_array_new (FALSE, TRUE, sizeof (HistFile));
  const char *name;

  g_array_set_clear_func (out, hist_file_clear);
  while (dir && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (base, name, NULL);
      int y, m, d, h;
      char tail[8];

      if (strcmp (kind, "raw") == 0)
        {
          g_autoptr(GDir) day = NULL;
          const char *fname;

          if (sscanf (name, "%4d-%2d-%2d%1s", &y, &m, &d, tail) != 3)
            continue;
          day = g_dir_open (path, 0, NULL);
          while (day && (fname = g_dir_read_name (day)) != NULL)
            {
              g_autofree char *fpath = g_build_filename (path, fname, NULL);
              gint64 start;

              if (strcmp (fname, "metrics.jsonl") == 0)
                {
                  start = utc_us (y, m, d, 0);
                  add_file (out, fpath, start, start + DAY_US);
                }
              else if (sscanf (fname, "metrics_%2d.jsonl%1s", &h, tail) == 1 &&
                       g_str_has_suffix (fname, ".jsonl"))
                {
                  start = utc_us (y, m, d, h);
                  add_file (out, fpath, start, start + HOUR_US);
                }
            }
        }
      else if (strcmp (kind, "hourly") == 0)
        {
          gint64 start;

          if (sscanf (name, "%4d-%2d-%2d.jsonl%1s", &y, &m, &d, tail) != 3 ||
              !g_str_has_suffix (name, ".jsonl"))
            continue;
          start = utc_us (y, m, d, 0);
          add_file (out, path, start, start + DAY_US);
        }
      else
        {
          if (sscanf (name, "%4d-%2d.jsonl%1s", &y, &m, tail) != 2 ||
              !g_str_has_suffix (name, ".jsonl"))
            continue;
          add_file (out, path, utc_us (y, m, 1, 0), month_end_us (y, m));
        }
    }
  g_array_sort (out, compare_files);
  return out;
}

static char *
path_for (PkMetricsRecorder *self,
          const char        *kind,
          gint64             t)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (t / G_USEC_PER_SEC);
  g_autofree char *day = g_date_time_format (dt, "%Y-%m-%d");

  if (strcmp (kind, "hourly") == 0)
    {
      g_autofree char *name = g_strconcat (day, ".jsonl", NULL);
      return g_build_filename (self->directory, "hourly", name, NULL);
    }
  if (strcmp (kind, "daily") == 0)
    {
      g_autofree char *name = g_date_time_format (dt, "%Y-%m.jsonl");
      return g_build_filename (self->directory, "daily", name, NULL);
    }
  if (self->layout == PK_METRICS_FILE_DAILY)
    return g_build_filename (self->directory, "raw", day, "metrics.jsonl", NULL);
  {
    g_autofree char *name = g_date_time_format (dt, "metrics_%H.jsonl");
    return g_build_filename (self->directory, "raw", day, name, NULL);
  }
}

/* Cuts off a last line without its newline: what a crash mid-write left. */
static gboolean
repair_tail (int          fd,
             const char  *path,
             GError     **error)
{
  struct stat st;
  char buf[4096];
  off_t end;

  if (fstat (fd, &st) != 0 || st.st_size == 0)
    return TRUE;
  end = st.st_size;
  if (pread (fd, buf, 1, end - 1) == 1 && buf[0] == '\n')
    return TRUE;
  while (end > 0)
    {
      off_t from = MAX (end - (off_t) sizeof buf, 0);
      ssize_t n = pread (fd, buf, end - from, from);

      if (n <= 0)
        break;
      for (ssize_t i = n - 1; i >= 0; i--)
        if (buf[i] == '\n')
          {
            end = from + i + 1;
            goto found;
          }
      end = from;
    }
found:
  g_debug ("metrics: %s ended in a partial record; cut at %lld", path, (long long) end);
  if (ftruncate (fd, end) != 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "Could not repair %s: %s", path, g_strerror (errsv));
      return FALSE;
    }
  return TRUE;
}

static int
open_append (const char  *path,
             GError     **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  int fd;

  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "Could not create %s: %s", dir, g_strerror (errsv));
      return -1;
    }
  /* read-write: the tail is read back to find a partial record */
  fd = open (path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "Could not open %s: %s", path, g_strerror (errsv));
      return -1;
    }
  if (!repair_tail (fd, path, error))
    {
      close (fd);
      return -1;
    }
  return fd;
}

static gboolean
write_line (int          fd,
            const char  *path,
            const char  *line,
            gsize        len,
            GError     **error)
{
  while (len > 0)
    {
      ssize_t n = write (fd, line, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          int errsv = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                       "Could not write to %s: %s", path, g_strerror (errsv));
          return FALSE;
        }
      line += n;
      len -= n;
    }
  return TRUE;
}

static gboolean
append_node (const char  *path,
             JsonNode    *node,
             GError     **error)
{
  g_autofree char *text = json_to_string (node, FALSE);
  g_autofree char *line = g_strconcat (text, "\n", NULL);
  int fd = open_append (path, error);
  gboolean ok;

  if (fd < 0)
    return FALSE;
  ok = write_line (fd, path, line, strlen (line), error);
  close (fd);
  return ok;
}

/* ------------------------------------------------------------------ */
/* reading */

static void
read_file_into (const char *path,
                gint64      since,
                gint64      until,
                JsonArray  *out)
{
  g_autofree char *text = NULL;
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  char *line, *next;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return;
  for (line = text; line && *line; line = next)
    {
      JsonNode *root;
      gint64 t;

      next = strchr (line, '\n');
      if (next == NULL)
        break;   /* no newline: a record cut off mid-way */
      *next++ = '\0';
      if (!json_parser_load_from_data (parser, line, -1, NULL))
        continue;
      root = json_parser_get_root (parser);
      if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
        continue;
      t = pk_metrics_sample_time_us (root);
      if (t < since || t >= until)
        continue;
      json_array_add_element (out, json_node_copy (root));
    }
}

/**
 * pk_metrics_history_read:
 * @directory: a history directory written by a [class@MetricsRecorder]
 * @resolution: raw samples, hourly or daily rollups
 * @since_us: start of the span (inclusive), microseconds since the epoch
 * @until_us: end of the span (exclusive)
 * @error: return location for a `GError`
 *
 * Reads the history in a span of time, oldest first. Lines that do not
 * parse (a record cut off by a crash) are skipped.
 *
 * Returns: (transfer full): a JSON array of objects
 *
 * Since: 0.1
 */
JsonNode *
pk_metrics_history_read (const char          *directory,
                         PkMetricsResolution  resolution,
                         gint64               since_us,
                         gint64               until_us,
                         GError             **error)
{
  const char *kind = resolution == PK_METRICS_RESOLUTION_HOUR ? "hourly" :
                     resolution == PK_METRICS_RESOLUTION_DAY ? "daily" : "raw";
  g_autoptr(GArray) files = NULL;
  g_autoptr(JsonArray) out = json_array_new ();
  JsonNode *node;

  g_return_val_if_fail (directory != NULL, NULL);

  if (!g_file_test (directory, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "No history directory %s", directory);
      return NULL;
    }
  files = list_files (directory, kind);
  for (guint i = 0; i < files->len; i++)
    {
      HistFile *f = &g_array_index (files, HistFile, i);

      if (f->end > since_us && f->start < until_us)
        read_file_into (f->path, since_us, until_us, out);
    }
  node = json_node_new (JSON_NODE_ARRAY);
  json_node_set_array (node, out);
  return node;
}

/* ------------------------------------------------------------------ */
/* rollups */

typedef struct {
  double min, max, sum;
  guint64 n;
} Acc;

static void
acc_add (GHashTable *accs,
         const char *key,
         double      min,
         double      max,
         double      sum,
         guint64     n)
{
  Acc *a = g_hash_table_lookup (accs, key);

  if (a == NULL)
    {
      a = g_new0 (Acc, 1);
      a->min = min;
      a->max = max;
      g_hash_table_insert (accs, g_strdup (key), a);
    }
  a->min = MIN (a->min, min);
  a->max = MAX (a->max, max);
  a->sum += sum;
  a->n += n;
}

static JsonNode *
build_rollup (gint64      start,
              const char *period,
              guint64     samples,
              GHashTable *accs)
{
  static const char *parts[] = { "min", "avg", "max", "count" };
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (start / G_USEC_PER_SEC);
  g_autofree char *iso = g_date_time_format (dt, "%Y-%m-%dT%H:%M:%SZ");
  g_autoptr(GList) keys = g_list_sort (g_hash_table_get_keys (accs), (GCompareFunc) strcmp);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "time");
  json_builder_add_string_value (b, iso);
  json_builder_set_member_name (b, "timestamp");
  json_builder_add_double_value (b, start / 1e6);
  json_builder_set_member_name (b, "period");
  json_builder_add_string_value (b, period);
  json_builder_set_member_name (b, "samples");
  json_builder_add_int_value (b, samples);
  for (guint p = 0; p < G_N_ELEMENTS (parts); p++)
    {
      json_builder_set_member_name (b, parts[p]);
      json_builder_begin_object (b);
      for (GList *l = keys; l; l = l->next)
        {
          Acc *a = g_hash_table_lookup (accs, l->data);

          json_builder_set_member_name (b, l->data);
          switch (p)
            {
            case 0: json_builder_add_double_value (b, a->min); break;
            case 1: json_builder_add_double_value (b, a->sum / a->n); break;
            case 2: json_builder_add_double_value (b, a->max); break;
            default: json_builder_add_int_value (b, a->n); break;
            }
        }
      json_builder_end_object (b);
    }
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static gint64
last_rollup_time (PkMetricsRecorder *self,
                  const char        *kind)
{
  g_autoptr(GArray) files = list_files (self->directory, kind);
  g_autoptr(JsonNode) all = NULL;
  JsonArray *arr;

  if (files->len == 0)
    return -1;
  all = pk_metrics_history_read (self->directory,
                                 strcmp (kind, "hourly") == 0 ? PK_METRICS_RESOLUTION_HOUR
                                                               : PK_METRICS_RESOLUTION_DAY,
                                 g_array_index (files, HistFile, files->len - 1).start,
                                 G_MAXINT64, NULL);
  arr = all ? json_node_get_array (all) : NULL;
  if (arr == NULL || json_array_get_length (arr) == 0)
    return -1;
  return pk_metrics_sample_time_us (json_array_get_element (arr, json_array_get_length (arr) - 1));
}

/* Hourly rollups of the raw samples in [from, to), both on hour bounds. */
static gboolean
rollup_hours (PkMetricsRecorder *self,
              gint64             from,
              gint64             to,
              GError           **error)
{
  g_autoptr(JsonNode) raw = NULL;
  JsonArray *arr;
  guint len, i = 0;

  if (from >= to)
    return TRUE;
  raw = pk_metrics_history_read (self->directory, PK_METRICS_RESOLUTION_RAW, from, to, error);
  if (raw == NULL)
    return FALSE;
  arr = json_node_get_array (raw);
  len = json_array_get_length (arr);
  while (i < len)
    {
      gint64 hour = pk_metrics_sample_time_us (json_array_get_element (arr, i));
      g_autoptr(GHashTable) accs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      g_autoptr(JsonNode) line = NULL;
      g_autofree char *path = NULL;
      guint64 samples = 0;

      hour -= hour % HOUR_US;
      for (; i < len; i++)
        {
          JsonNode *s = json_array_get_element (arr, i);
          g_autoptr(GHashTable) flat = NULL;
          GHashTableIter iter;
          gpointer k, v;

          if (pk_metrics_sample_time_us (s) >= hour + HOUR_US)
            break;
          flat = pk_metrics_flatten (s);
          g_hash_table_remove (flat, "timestamp");
          g_hash_table_iter_init (&iter, flat);
          while (g_hash_table_iter_next (&iter, &k, &v))
            {
              double x = *(double *) v;
              acc_add (accs, k, x, x, x, 1);
            }
          samples++;
        }
      line = build_rollup (hour, "hour", samples, accs);
      path = path_for (self, "hourly", hour);
      if (!append_node (path, line, error))
        return FALSE;
    }
  return TRUE;
}

/* Daily rollups from the hourly ones in [from, to), both on day bounds. */
static gboolean
rollup_days (PkMetricsRecorder *self,
             gint64             from,
             gint64             to,
             GError           **error)
{
  g_autoptr(JsonNode) hours = NULL;
  JsonArray *arr;
  guint len, i = 0;

  if (from >= to)
    return TRUE;
  hours = pk_metrics_history_read (self->directory, PK_METRICS_RESOLUTION_HOUR, from, to, error);
  if (hours == NULL)
    return FALSE;
  arr = json_node_get_array (hours);
  len = json_array_get_length (arr);
  while (i < len)
    {
      gint64 day = pk_metrics_sample_time_us (json_array_get_element (arr, i));
      g_autoptr(GHashTable) accs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      g_autoptr(JsonNode) line = NULL;
      g_autofree char *path = NULL;
      guint64 samples = 0;

      day -= day % DAY_US;
      for (; i < len; i++)
        {
          JsonObject *h = json_node_get_object (json_array_get_element (arr, i));
          JsonObject *mins, *avgs, *maxs, *counts;
          JsonObjectIter iter;
          const char *key;
          JsonNode *node;

          if (pk_metrics_sample_time_us (json_array_get_element (arr, i)) >= day + DAY_US)
            break;
          mins = json_object_get_object_member (h, "min");
          avgs = json_object_get_object_member (h, "avg");
          maxs = json_object_get_object_member (h, "max");
          counts = json_object_get_object_member (h, "count");
          if (!mins || !avgs || !maxs || !counts)
            continue;
          samples += json_object_get_int_member_with_default (h, "samples", 0);
          json_object_iter_init (&iter, counts);
          while (json_object_iter_next (&iter, &key, &node))
            {
              guint64 n = json_node_get_int (node);

              acc_add (accs, key,
                       json_object_get_double_member_with_default (mins, key, 0),
                       json_object_get_double_member_with_default (maxs, key, 0),
                       json_object_get_double_member_with_default (avgs, key, 0) * n, n);
            }
        }
      line = build_rollup (day, "day", samples, accs);
      path = path_for (self, "daily", day);
      if (!append_node (path, line, error))
        return FALSE;
    }
  return TRUE;
}

/* Rolls up every finished hour and day before @hour that is not yet. */
static gboolean
catch_up (PkMetricsRecorder *self,
          gint64             hour,
          GError           **error)
{
  gint64 last_h = last_rollup_time (self, "hourly");
  gint64 last_d = last_rollup_time (self, "daily");
  gint64 from;

  if (last_h >= 0)
    from = last_h + HOUR_US;
  else
    {
      g_autoptr(GArray) raw = list_files (self->directory, "raw");
      from = raw->len ? g_array_index (raw, HistFile, 0).start : hour;
    }
  if (!rollup_hours (self, from, hour, error))
    return FALSE;

  if (last_d >= 0)
    from = last_d + DAY_US;
  else
    {
      g_autoptr(GArray) hourly = list_files (self->directory, "hourly");
      from = hourly->len ? g_array_index (hourly, HistFile, 0).start : hour;
    }
  return rollup_days (self, from, hour - hour % DAY_US, error);
}

/* ------------------------------------------------------------------ */

static void
remove_file (HistFile *f)
{
  g_autofree char *dir = g_path_get_dirname (f->path);

  if (g_unlink (f->path) != 0)
    {
      g_warning ("metrics: could not remove %s: %s", f->path, g_strerror (errno));
      return;
    }
  g_debug ("metrics: removed %s", f->path);
  /* an emptied day directory of raw files goes too (fails if not empty) */
  if (g_str_has_suffix (f->path, ".jsonl") && strstr (f->path, "/raw/") != NULL)
    g_rmdir (dir);
}

static void
expire_kind (PkMetricsRecorder *self,
             const char        *kind,
             guint              days,
             gint64             now)
{
  g_autoptr(GArray) files = list_files (self->directory, kind);

  if (days == 0)
    return;
  for (guint i = 0; i < files->len; i++)
    {
      HistFile *f = &g_array_index (files, HistFile, i);

      if (f->end <= now - days * DAY_US && g_strcmp0 (f->path, self->open_path) != 0)
        remove_file (f);
    }
}

/**
 * pk_metrics_recorder_expire:
 * @self: a recorder
 * @now_us: the current time, in microseconds since the epoch
 * @error: return location for a `GError`
 *
 * Removes history older than the retention, then the oldest raw files
 * while the raw samples exceed the size cap (the file being written
 * stays). [method@MetricsRecorder.append] calls this as needed.
 *
 * Returns: %TRUE
 *
 * Since: 0.1
 */
gboolean
pk_metrics_recorder_expire (PkMetricsRecorder *self,
                            gint64             now_us,
                            GError           **error)
{
  g_autoptr(GArray) raw = NULL;
  guint64 total = 0;

  g_return_val_if_fail (PK_IS_METRICS_RECORDER (self), FALSE);

  expire_kind (self, "raw", self->raw_days, now_us);
  expire_kind (self, "hourly", self->hourly_days, now_us);
  expire_kind (self, "daily", self->daily_days, now_us);

  raw = list_files (self->directory, "raw");
  for (guint i = 0; i < raw->len; i++)
    total += g_array_index (raw, HistFile, i).size;
  for (guint i = 0; self->max_bytes > 0 && total > self->max_bytes && i < raw->len; i++)
    {
      HistFile *f = &g_array_index (raw, HistFile, i);

      if (g_strcmp0 (f->path, self->open_path) == 0)
        continue;
      remove_file (f);
      total -= f->size;
    }
  self->raw_size = total;
  return TRUE;
}

/**
 * pk_metrics_recorder_get_raw_size:
 * @self: a recorder
 *
 * Gets the size in bytes of the raw samples, as of the last expiry plus what
 * was appended since.
 *
 * Returns: the size in bytes of the raw samples, as of the last expiry
 *   plus what was appended since
 *
 * Since: 0.1
 */
guint64
pk_metrics_recorder_get_raw_size (PkMetricsRecorder *self)
{
  g_return_val_if_fail (PK_IS_METRICS_RECORDER (self), 0);
  return self->raw_size == G_MAXUINT64 ? 0 : self->raw_size;
}

/**
 * pk_metrics_recorder_append:
 * @self: a recorder
 * @sample: a sample from [method@MetricsSampler.sample]
 * @error: return location for a `GError`
 *
 * Appends @sample as one line to the raw file of its hour (or day). When
 * the sample starts a new hour, the finished hours (and days) are rolled
 * up and old history is expired.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
pk_metrics_recorder_append (PkMetricsRecorder *self,
                            JsonNode          *sample,
                            GError           **error)
{
  g_autofree char *path = NULL;
  g_autofree char *text = NULL;
  g_autofree char *line = NULL;
  gint64 t, hour;
  gsize len;

  g_return_val_if_fail (PK_IS_METRICS_RECORDER (self), FALSE);
  g_return_val_if_fail (sample != NULL, FALSE);

  t = pk_metrics_sample_time_us (sample);
  if (t <= 0)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                   "Sample has no \"timestamp\"");
      return FALSE;
    }
  hour = t - t % HOUR_US;

  if (self->last_hour == 0 || hour > self->last_hour)
    {
      g_autoptr(GError) local_error = NULL;

      /* the file of the finished hour is complete: close it first */
      if (self->fd >= 0)
        {
          close (self->fd);
          self->fd = -1;
          g_clear_pointer (&self->open_path, g_free);
        }
      if (self->last_hour == 0)
        {
          if (!catch_up (self, hour, &local_error))
            g_warning ("metrics: rollup failed: %s", local_error->message);
        }
      else
        {
          gint64 day = hour - hour % DAY_US;

          if (!rollup_hours (self, self->last_hour, hour, &local_error) ||
              !rollup_days (self, self->last_hour - self->last_hour % DAY_US, day, &local_error))
            g_warning ("metrics: rollup failed: %s", local_error->message);
        }
      pk_metrics_recorder_expire (self, t, NULL);
    }
  self->last_hour = MAX (self->last_hour, hour);

  path = path_for (self, "raw", t);
  if (g_strcmp0 (path, self->open_path) != 0)
    {
      if (self->fd >= 0)
        close (self->fd);
      g_clear_pointer (&self->open_path, g_free);
      self->fd = open_append (path, error);
      if (self->fd < 0)
        return FALSE;
      self->open_path = g_steal_pointer (&path);
    }

  text = json_to_string (sample, FALSE);
  line = g_strconcat (text, "\n", NULL);
  len = strlen (line);
  if (!write_line (self->fd, self->open_path, line, len, error))
    {
      /* reopen (and so cut the partial line off) next time */
      close (self->fd);
      self->fd = -1;
      g_clear_pointer (&self->open_path, g_free);
      return FALSE;
    }
  if (self->raw_size != G_MAXUINT64)
    {
      self->raw_size += len;
      if (self->max_bytes > 0 && self->raw_size > self->max_bytes)
        pk_metrics_recorder_expire (self, t, NULL);
    }
  return TRUE;
}

/**
 * pk_metrics_parse_time:
 * @text: a time: Unix seconds (`1755700200`), ISO 8601
 *   (`2025-08-20T14:30:00Z`), local `YYYY-MM-DD HH:MM` or `YYYY-MM-DD`,
 *   or a duration ago (`1h`, `90m`)
 * @out_us: (out): the time in microseconds since the epoch
 * @error: return location for a `GError`
 *
 * Reads a time the way `pk-metrics analyze` and `/api/history` take one.
 *
 * Returns: %TRUE, or %FALSE with @error set (%PK_ERROR_INVALID_ARGUMENT)
 *
 * Since: 0.2
 */
#define MAX_UNIX_SECONDS 253402300799.0

gboolean
pk_metrics_parse_time (const char  *text,
                       gint64      *out_us,
                       GError     **error)
{
  g_autoptr(GTimeZone) local = g_time_zone_new_local ();
  g_autoptr(GDateTime) dt = NULL;
  g_autofree char *iso = NULL;
  guint64 ms;
  char *end;
  double secs;
  gsize len;

  if (text == NULL || *text == '\0')
    goto bad;
  /* unix seconds, up to 9999-12-31T23:59:59Z (the last second GDateTime
   * represents: far from gint64 overflow in microseconds); "nan" fails
   * both comparisons, "inf" the second */
  secs = g_ascii_strtod (text, &end);
  if (*end == '\0' && end != text)
    {
      if (!(secs >= 0 && secs <= MAX_UNIX_SECONDS))
        goto bad;
      *out_us = (gint64) (secs * G_USEC_PER_SEC);
      return TRUE;
    }
  /* a duration: that long ago, and not before 1970 */
  if (pk_parse_duration_ms (text, &ms, NULL))
    {
      gint64 now = g_get_real_time ();

      if (ms > (guint64) (now / 1000))
        goto bad;
      *out_us = now - (gint64) ms * 1000;
      return TRUE;
    }
  /* "2025-08-20 14:30" (local time), "2025-08-20T14:30:00Z", ... */
  len = strlen (text);
  if (len == 10)
    iso = g_strconcat (text, "T00:00:00", NULL);
  else if (len == 16)
    iso = g_strconcat (text, ":00", NULL);
  else
    iso = g_strdup (text);
  if (strlen (iso) > 10 && iso[10] == ' ')
    iso[10] = 'T';
  dt = g_date_time_new_from_iso8601 (iso, local);
  if (dt == NULL)
    goto bad;
  *out_us = g_date_time_to_unix (dt) * G_USEC_PER_SEC + g_date_time_get_microsecond (dt);
  return TRUE;

bad:
  g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
               "'%s' is not a time: Unix seconds (0 to 253402300799), ISO 8601, "
               "'YYYY-MM-DD HH:MM' (local time) or a duration ago (1h)", text);
  return FALSE;
}
