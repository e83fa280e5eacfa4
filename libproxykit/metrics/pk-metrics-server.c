/* pk-metrics-server.c: /metrics (and the node's history) over HTTP
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkMetricsServer:
 *
 * An HTTP server for Prometheus and for people, beside
 * [class@Proxykit.ToggleServer]:
 *
 * - `GET /metrics`: the Prometheus text format: a fresh sample of the
 *   [class@Proxykit.MetricsSampler] (when one is set), then the families
 *   of every collector ([method@Proxykit.MetricsServer.add_collector]), so
 *   that a daemon (pk-socks, pk-relay, pk-watchdog) exports its own
 *   counters with the same server.
 * - `GET /api/sample`: the last sample as JSON
 *   ([method@Proxykit.MetricsServer.set_last_sample]), or a fresh one.
 * - `GET /api/history?since=&until=&resolution=raw|hour|day`: the
 *   recorded history of the history directory, as JSON; `since` and
 *   `until` as `pk_metrics_parse_time()` reads them (`since` defaults to
 *   `1h`). More than 48 hours of raw samples is refused: ask for a rollup.
 *
 * ```c
 * g_autoptr(PkMetricsServer) server = pk_metrics_server_new ();
 * pk_metrics_server_add_collector (server, my_counters, self, NULL);
 * if (!pk_metrics_server_listen (server, "9110", &error))   // 127.0.0.1:9110
 *   ...
 * ```
 *
 * Since: 0.2
 */
#include "config.h"

#include <string.h>

#include <libsoup/soup.h>

#include "pk-error.h"
#include "pk-http-server-private.h"
#include "pk-metrics-recorder.h"
#include "pk-metrics-server.h"
#include "pk-prom-private.h"

#define HOUR_US (G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC)
#define MAX_RAW_US (48 * HOUR_US)

typedef struct {
  guint id;
  PkMetricsCollectFunc func;
  gpointer data;
  GDestroyNotify destroy;
} Collector;

struct _PkMetricsServer
{
  GObject parent_instance;

  PkMetricsSampler *sampler;
  char *history_directory;
  JsonNode *last_sample;
  GArray *collectors;          /* Collector */
  guint next_id;
  SoupServer *server;
  PkHttpListener *listener;
  guint16 port;
};

G_DEFINE_FINAL_TYPE (PkMetricsServer, pk_metrics_server, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_SAMPLER,
  PROP_HISTORY_DIRECTORY,
  PROP_PORT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
collector_clear (gpointer data)
{
  Collector *c = data;

  if (c->destroy != NULL)
    c->destroy (c->data);
}

static void
pk_metrics_server_dispose (GObject *object)
{
  PkMetricsServer *self = PK_METRICS_SERVER (object);

  pk_metrics_server_stop (self);
  g_clear_object (&self->sampler);
  g_array_set_size (self->collectors, 0);

  G_OBJECT_CLASS (pk_metrics_server_parent_class)->dispose (object);
}

static void
pk_metrics_server_finalize (GObject *object)
{
  PkMetricsServer *self = PK_METRICS_SERVER (object);

  g_free (self->history_directory);
  g_clear_pointer (&self->last_sample, json_node_unref);
  g_array_unref (self->collectors);

  G_OBJECT_CLASS (pk_metrics_server_parent_class)->finalize (object);
}

static void
pk_metrics_server_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  PkMetricsServer *self = PK_METRICS_SERVER (object);

  switch (prop_id)
    {
    case PROP_SAMPLER:
      g_value_set_object (value, self->sampler);
      break;
    case PROP_HISTORY_DIRECTORY:
      g_value_set_string (value, self->history_directory);
      break;
    case PROP_PORT:
      g_value_set_uint (value, self->port);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_metrics_server_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  PkMetricsServer *self = PK_METRICS_SERVER (object);

  switch (prop_id)
    {
    case PROP_SAMPLER:
      pk_metrics_server_set_sampler (self, g_value_get_object (value));
      break;
    case PROP_HISTORY_DIRECTORY:
      pk_metrics_server_set_history_directory (self, g_value_get_string (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_metrics_server_class_init (PkMetricsServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pk_metrics_server_dispose;
  object_class->finalize = pk_metrics_server_finalize;
  object_class->get_property = pk_metrics_server_get_property;
  object_class->set_property = pk_metrics_server_set_property;

  /**
   * PkMetricsServer:sampler:
   *
   * The sampler whose fresh sample each scrape of `/metrics` starts with;
   * %NULL for none (a daemon that exports only its own counters).
   *
   * Since: 0.2
   */
  properties[PROP_SAMPLER] =
    g_param_spec_object ("sampler", NULL, NULL, PK_TYPE_METRICS_SAMPLER,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * PkMetricsServer:history-directory:
   *
   * The directory of a [class@Proxykit.MetricsRecorder] that
   * `/api/history` reads; %NULL: `/api/history` answers 404.
   *
   * Since: 0.2
   */
  properties[PROP_HISTORY_DIRECTORY] =
    g_param_spec_string ("history-directory", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * PkMetricsServer:port:
   *
   * The port listened on, 0 before [method@Proxykit.MetricsServer.listen].
   *
   * Since: 0.2
   */
  properties[PROP_PORT] =
    g_param_spec_uint ("port", NULL, NULL, 0, G_MAXUINT16, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
pk_metrics_server_init (PkMetricsServer *self)
{
  self->collectors = g_array_new (FALSE, TRUE, sizeof (Collector));
  g_array_set_clear_func (self->collectors, collector_clear);
  self->next_id = 1;
}

/**
 * pk_metrics_server_new:
 *
 * Creates a metrics server; give it a sampler, a history directory or
 * collectors, then [method@MetricsServer.listen].
 *
 * Returns: (transfer full): a server with no sampler, no history and no
 *   collector, not listening yet
 *
 * Since: 0.2
 */
PkMetricsServer *
pk_metrics_server_new (void)
{
  return g_object_new (PK_TYPE_METRICS_SERVER, NULL);
}

/**
 * pk_metrics_server_set_sampler:
 * @self: a [class@MetricsServer]
 * @sampler: (nullable): a [class@MetricsSampler]
 *
 * Sets [property@MetricsServer:sampler].
 *
 * Since: 0.2
 */
void
pk_metrics_server_set_sampler (PkMetricsServer  *self,
                               PkMetricsSampler *sampler)
{
  g_return_if_fail (PK_IS_METRICS_SERVER (self));
  g_return_if_fail (sampler == NULL || PK_IS_METRICS_SAMPLER (sampler));

  if (g_set_object (&self->sampler, sampler))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SAMPLER]);
}

/**
 * pk_metrics_server_get_sampler:
 * @self: a [class@MetricsServer]
 *
 * Gets the sampler of each scrape.
 *
 * Returns: (transfer none) (nullable): [property@MetricsServer:sampler]
 *
 * Since: 0.2
 */
PkMetricsSampler *
pk_metrics_server_get_sampler (PkMetricsServer *self)
{
  g_return_val_if_fail (PK_IS_METRICS_SERVER (self), NULL);

  return self->sampler;
}

/**
 * pk_metrics_server_set_history_directory:
 * @self: a [class@MetricsServer]
 * @directory: (nullable) (type filename): a recorder's directory
 *
 * Sets [property@MetricsServer:history-directory].
 *
 * Since: 0.2
 */
void
pk_metrics_server_set_history_directory (PkMetricsServer *self,
                                         const char      *directory)
{
  g_return_if_fail (PK_IS_METRICS_SERVER (self));

  if (g_strcmp0 (self->history_directory, directory) == 0)
    return;
  g_free (self->history_directory);
  self->history_directory = g_strdup (directory);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HISTORY_DIRECTORY]);
}

/**
 * pk_metrics_server_get_history_directory:
 * @self: a [class@MetricsServer]
 *
 * Gets the directory `/api/history` reads.
 *
 * Returns: (nullable) (type filename): [property@MetricsServer:history-directory]
 *
 * Since: 0.2
 */
const char *
pk_metrics_server_get_history_directory (PkMetricsServer *self)
{
  g_return_val_if_fail (PK_IS_METRICS_SERVER (self), NULL);

  return self->history_directory;
}

/**
 * pk_metrics_server_set_last_sample:
 * @self: a [class@MetricsServer]
 * @sample: (nullable): a sample of `pk_metrics_sampler_sample()`
 *
 * The sample `/api/sample` answers with, such as the one a recorder took
 * last; with none, `/api/sample` takes a fresh one from the sampler.
 *
 * Since: 0.2
 */
void
pk_metrics_server_set_last_sample (PkMetricsServer *self,
                                   JsonNode        *sample)
{
  g_return_if_fail (PK_IS_METRICS_SERVER (self));

  g_clear_pointer (&self->last_sample, json_node_unref);
  if (sample != NULL)
    self->last_sample = json_node_ref (sample);
}

/**
 * pk_metrics_server_add_collector:
 * @self: a [class@MetricsServer]
 * @func: (scope notified) (closure user_data) (destroy destroy): gives
 *   metric families for a scrape
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data when the collector is removed
 *
 * Adds families to every scrape of `/metrics`, after the sampler's and
 * the collectors added before.
 *
 * Returns: an id for `pk_metrics_server_remove_collector()`
 *
 * Since: 0.2
 */
guint
pk_metrics_server_add_collector (PkMetricsServer      *self,
                                 PkMetricsCollectFunc  func,
                                 gpointer              user_data,
                                 GDestroyNotify        destroy)
{
  Collector c = { 0 };

  g_return_val_if_fail (PK_IS_METRICS_SERVER (self), 0);
  g_return_val_if_fail (func != NULL, 0);

  c.id = self->next_id++;
  c.func = func;
  c.data = user_data;
  c.destroy = destroy;
  g_array_append_val (self->collectors, c);
  return c.id;
}

/**
 * pk_metrics_server_remove_collector:
 * @self: a [class@MetricsServer]
 * @id: what `pk_metrics_server_add_collector()` returned
 *
 * Removes a collector; its destroy function runs.
 *
 * Since: 0.2
 */
void
pk_metrics_server_remove_collector (PkMetricsServer *self,
                                    guint            id)
{
  g_return_if_fail (PK_IS_METRICS_SERVER (self));

  for (guint i = 0; i < self->collectors->len; i++)
    if (g_array_index (self->collectors, Collector, i).id == id)
      {
        g_array_remove_index (self->collectors, i);
        return;
      }
}

/* --- HTTP --- */

static void
reply (SoupServerMessage *msg,
       guint              status,
       const char        *type,
       char              *body)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, type, SOUP_MEMORY_TAKE, body, strlen (body));
}

static void
handle_metrics (PkMetricsServer   *self,
                SoupServerMessage *msg)
{
  g_autoptr(GString) body = g_string_new (NULL);

  /* a fresh sample per scrape, from the same sampler, so that the
   * percentages cover the time since the previous scrape */
  if (self->sampler != NULL)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) sample = pk_metrics_sampler_sample (self->sampler, &error);
      g_autofree char *text = NULL;

      if (sample == NULL)
        {
          reply (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "text/plain", g_strdup_printf ("%s\n", error->message));
          return;
        }
      text = pk_metrics_to_prometheus (sample);
      g_string_append (body, text);
    }
  for (guint i = 0; i < self->collectors->len; i++)
    {
      Collector *c = &g_array_index (self->collectors, Collector, i);
      g_autofree char *text = c->func (c->data);

      if (text != NULL)
        g_string_append (body, text);
    }
  reply (msg, SOUP_STATUS_OK, PK_PROM_CONTENT_TYPE, g_string_free (g_steal_pointer (&body), FALSE));
}

static void
handle_sample (PkMetricsServer   *self,
               SoupServerMessage *msg)
{
  g_autoptr(GError) error = NULL;

  if (self->last_sample == NULL && self->sampler != NULL)
    self->last_sample = pk_metrics_sampler_sample (self->sampler, &error);
  if (self->last_sample == NULL)
    reply (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "text/plain",
           g_strdup_printf ("no sample yet%s%s\n", error ? ": " : "", error ? error->message : ""));
  else
    reply (msg, SOUP_STATUS_OK, "application/json", json_to_string (self->last_sample, FALSE));
}

static void
handle_history (PkMetricsServer   *self,
                SoupServerMessage *msg,
                GHashTable        *query)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) history = NULL;
  const char *since_s = query ? g_hash_table_lookup (query, "since") : NULL;
  const char *until_s = query ? g_hash_table_lookup (query, "until") : NULL;
  const char *res = query ? g_hash_table_lookup (query, "resolution") : NULL;
  PkMetricsResolution resolution;
  gint64 since, until = G_MAXINT64;

  if (self->history_directory == NULL)
    {
      reply (msg, SOUP_STATUS_NOT_FOUND, "text/plain", g_strdup ("no history here\n"));
      return;
    }
  if (!pk_metrics_parse_time (since_s ? since_s : "1h", &since, NULL) ||
      (until_s && !pk_metrics_parse_time (until_s, &until, NULL)))
    {
      reply (msg, SOUP_STATUS_BAD_REQUEST, "text/plain",
             g_strdup ("since/until: unix seconds (0 to 253402300799), ISO 8601, 'YYYY-MM-DD HH:MM' "
                       "or a duration ago (1h)\n"));
      return;
    }
  if (until < since)
    {
      reply (msg, SOUP_STATUS_BAD_REQUEST, "text/plain", g_strdup ("until is before since\n"));
      return;
    }
  if (res == NULL || strcmp (res, "raw") == 0)
    resolution = PK_METRICS_RESOLUTION_RAW;
  else if (strcmp (res, "hour") == 0)
    resolution = PK_METRICS_RESOLUTION_HOUR;
  else if (strcmp (res, "day") == 0)
    resolution = PK_METRICS_RESOLUTION_DAY;
  else
    {
      reply (msg, SOUP_STATUS_BAD_REQUEST, "text/plain", g_strdup ("resolution: raw, hour or day\n"));
      return;
    }
  /* raw samples are a few kB each: a week of them is too much for one
   * answer, which is what the rollups are for */
  if (resolution == PK_METRICS_RESOLUTION_RAW &&
      MIN (until, g_get_real_time () + HOUR_US) - since > MAX_RAW_US)
    {
      reply (msg, SOUP_STATUS_BAD_REQUEST, "text/plain",
             g_strdup ("more than 48 hours of raw samples: ask for resolution=hour or day\n"));
      return;
    }
  history = pk_metrics_history_read (self->history_directory, resolution, since, until, &error);
  if (history == NULL)
    {
      reply (msg, SOUP_STATUS_NOT_FOUND, "text/plain", g_strdup_printf ("%s\n", error->message));
      return;
    }
  reply (msg, SOUP_STATUS_OK, "application/json", json_to_string (history, FALSE));
}

static void
server_cb (SoupServer        *server,
           SoupServerMessage *msg,
           const char        *path,
           GHashTable        *query,
           gpointer           user_data)
{
  PkMetricsServer *self = user_data;
  const char *method = soup_server_message_get_method (msg);

  if (!g_str_equal (method, "GET") && !g_str_equal (method, "HEAD"))
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", "GET, HEAD");
      reply (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "text/plain", g_strdup ("GET only\n"));
      return;
    }
  if (g_str_equal (path, "/metrics"))
    handle_metrics (self, msg);
  else if (g_str_equal (path, "/api/sample"))
    handle_sample (self, msg);
  else if (g_str_equal (path, "/api/history"))
    handle_history (self, msg, query);
  else
    reply (msg, SOUP_STATUS_NOT_FOUND, "text/plain",
           g_strdup_printf ("no such path: %s (try /metrics, /api/sample, /api/history)\n", path));
}

/**
 * pk_metrics_server_listen:
 * @self: a [class@MetricsServer]
 * @address: `ADDRESS:PORT`, or a bare port for loopback (`9110` is
 *   `127.0.0.1:9110`); port 0 picks a free one
 *   (see [method@Proxykit.MetricsServer.get_port])
 * @error: return location for a `GError`
 *
 * Starts serving on the thread-default main context. Metrics say much
 * about a node: a port alone stays on loopback.
 *
 * Returns: %TRUE, or %FALSE with @error set when @address is malformed
 *   (%PK_ERROR_INVALID_ARGUMENT) or cannot be listened on (GIO's error)
 *
 * Since: 0.2
 */
gboolean
pk_metrics_server_listen (PkMetricsServer  *self,
                          const char       *address,
                          GError          **error)
{
  g_autofree char *full = NULL;

  g_return_val_if_fail (PK_IS_METRICS_SERVER (self), FALSE);
  g_return_val_if_fail (address != NULL, FALSE);
  g_return_val_if_fail (self->server == NULL, FALSE);

  if (*address != '\0' && strspn (address, "0123456789") == strlen (address))
    full = g_strconcat ("127.0.0.1:", address, NULL);
  else
    full = g_strdup (address);
  self->server = pk_http_server_listen (full, "proxykit/" PACKAGE_VERSION " ", server_cb, self,
                                        &self->listener, &self->port, error);
  if (self->server == NULL)
    return FALSE;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PORT]);
  return TRUE;
}

/**
 * pk_metrics_server_get_port:
 * @self: a [class@MetricsServer]
 *
 * Gets the port listened on.
 *
 * Returns: [property@MetricsServer:port]
 *
 * Since: 0.2
 */
guint16
pk_metrics_server_get_port (PkMetricsServer *self)
{
  g_return_val_if_fail (PK_IS_METRICS_SERVER (self), 0);

  return self->port;
}

/**
 * pk_metrics_server_dup_urls:
 * @self: a [class@MetricsServer]
 *
 * Lists where `/metrics` is served.
 *
 * Returns: (transfer full) (array zero-terminated=1): the `/metrics` URL of
 *   each listening socket, empty before [method@Proxykit.MetricsServer.listen]
 *
 * Since: 0.2
 */
char **
pk_metrics_server_dup_urls (PkMetricsServer *self)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autofree char *url = NULL;

  g_return_val_if_fail (PK_IS_METRICS_SERVER (self), NULL);

  url = self->listener != NULL ? pk_http_listener_dup_url (self->listener, "/metrics") : NULL;
  if (url != NULL)
    g_strv_builder_add (builder, url);
  return g_strv_builder_end (builder);
}

/**
 * pk_metrics_server_stop:
 * @self: a [class@MetricsServer]
 *
 * Stops listening; the server may listen again.
 *
 * Since: 0.2
 */
void
pk_metrics_server_stop (PkMetricsServer *self)
{
  g_return_if_fail (PK_IS_METRICS_SERVER (self));

  if (self->server != NULL)
    {
      pk_http_server_stop (&self->server, &self->listener);
      self->port = 0;
    }
}
