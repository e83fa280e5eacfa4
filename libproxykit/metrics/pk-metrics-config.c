/* pk-metrics-config.c: the sampler and the recorder from the [metrics]
 * section of a configuration
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "pk-config-private.h"
#include "pk-error.h"
#include "pk-metrics-recorder.h"
#include "pk-metrics-sampler.h"
#include "pk-paths.h"
#include "pk-util-private.h"

#define SECTION "metrics"
#define DEFAULT_DIR PK_STATE_DIR "/metrics"

/* Every key of [metrics]: the sampler's, the recorder's, and the tools'
 * own (interval, listen). */
static const char * const metrics_keys[] = {
  "directory", "interval", "listen", "watch-ports", "watch-processes", "layout",
  "retention-days", "max-size", "hourly-days", "daily-days", NULL
};

static gboolean
check_keys (PkConfig  *config,
            GError   **error)
{
  return pk_config_check_keys (config, SECTION, metrics_keys, error);
}

/**
 * pk_metrics_sampler_new_from_config:
 * @config: a [class@Config]
 * @error: return location for a `GError`
 *
 * A sampler from the `[metrics]` section: `watch-ports` (or
 * `PK_METRICS_WATCH_PORTS`) and `watch-processes` (or
 * `PK_METRICS_WATCH_PROCESSES`), comma- or space-separated; the port of
 * every `[socks:NAME]` listener is watched too.
 *
 * Returns: (transfer full): the sampler, or %NULL with @error set
 *   (%PK_ERROR_CONFIG) naming the bad value
 *
 * Since: 0.2
 */
PkMetricsSampler *
pk_metrics_sampler_new_from_config (PkConfig  *config,
                                    GError   **error)
{
  g_autoptr(PkMetricsSampler) sampler = pk_metrics_sampler_new ();
  g_auto(GStrv) ports = NULL;
  g_auto(GStrv) procs = NULL;
  g_auto(GStrv) socks = NULL;

  g_return_val_if_fail (PK_IS_CONFIG (config), NULL);

  if (!check_keys (config, error))
    return NULL;

  ports = pk_config_dup_list (config, SECTION, "watch-ports", "PK_METRICS_WATCH_PORTS");
  for (guint i = 0; ports != NULL && ports[i] != NULL; i++)
    {
      GError *local_error = NULL;
      guint64 port;

      if (!pk_parse_uint (ports[i], 1, 65535, &port, &local_error))
        return pk_config_value_error (config, SECTION, "watch-ports", "PK_METRICS_WATCH_PORTS",
                                      local_error, error), NULL;
      pk_metrics_sampler_add_watch_port (sampler, port);
    }

  /* the SOCKS listeners of the same configuration are watched as well */
  socks = pk_config_list_sections (config, "socks");
  for (guint i = 0; socks != NULL && socks[i] != NULL; i++)
    {
      g_autofree char *section = g_strconcat ("socks:", socks[i], NULL);
      g_auto(GStrv) listen = *socks[i] != '\0' ? pk_config_dup_list (config, section, "listen", NULL) : NULL;

      for (guint j = 0; listen != NULL && listen[j] != NULL; j++)
        {
          g_autoptr(GSocketAddress) sa = pk_parse_listen_address (listen[j], 0, NULL);
          guint16 port = sa ? g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (sa)) : 0;

          if (port > 0)
            pk_metrics_sampler_add_watch_port (sampler, port);
        }
    }

  procs = pk_config_dup_list (config, SECTION, "watch-processes", "PK_METRICS_WATCH_PROCESSES");
  for (guint i = 0; procs != NULL && procs[i] != NULL; i++)
    pk_metrics_sampler_add_watch_process (sampler, procs[i]);

  return g_steal_pointer (&sampler);
}

/* "5G", "500M", "1.5T", "1000" (bytes; K, M, G, T are powers of 1000) */
static gboolean
parse_size (const char  *text,
            guint64     *out,
            GError     **error)
{
  char *end = NULL;
  double v = g_ascii_strtod (text, &end);
  guint64 mult = 1;

  if (end != text && v >= 0)
    {
      switch (g_ascii_toupper (*end))
        {
        case 'K': mult = 1000; end++; break;
        case 'M': mult = 1000 * 1000; end++; break;
        case 'G': mult = 1000 * 1000 * 1000; end++; break;
        case 'T': mult = G_GUINT64_CONSTANT (1000) * 1000 * 1000 * 1000; end++; break;
        default: break;
        }
      if (*end == 'B' || *end == 'b')
        end++;
      if (*end == '\0')
        {
          *out = (guint64) (v * mult);
          return TRUE;
        }
    }
  g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT, "'%s' is not a size (such as 5G, 500M)", text);
  return FALSE;
}

/**
 * pk_metrics_recorder_new_from_config:
 * @config: a [class@Config]
 * @error: return location for a `GError`
 *
 * A recorder from the `[metrics]` section: `directory` (or
 * `PK_METRICS_DIR`; `/var/lib/proxykit/metrics` by default), `layout`
 * (`hour` or `day`), `retention-days` (7), `max-size` (`5G`),
 * `hourly-days` (30) and `daily-days` (365).
 *
 * Returns: (transfer full): the recorder, or %NULL with @error set
 *   (%PK_ERROR_CONFIG) naming the bad value
 *
 * Since: 0.2
 */
PkMetricsRecorder *
pk_metrics_recorder_new_from_config (PkConfig  *config,
                                     GError   **error)
{
  g_autoptr(PkMetricsRecorder) recorder = NULL;
  g_autofree char *directory = NULL;
  g_autofree char *layout = NULL;
  g_autofree char *max_size = NULL;
  guint64 raw_days, hourly_days, daily_days, max_bytes = G_GUINT64_CONSTANT (5000000000);
  GError *local_error = NULL;

  g_return_val_if_fail (PK_IS_CONFIG (config), NULL);

  if (!check_keys (config, error) ||
      !pk_config_get_uint (config, SECTION, "retention-days", NULL, 0, 100000, 7, &raw_days, error) ||
      !pk_config_get_uint (config, SECTION, "hourly-days", NULL, 0, 100000, 30, &hourly_days, error) ||
      !pk_config_get_uint (config, SECTION, "daily-days", NULL, 0, 100000, 365, &daily_days, error))
    return NULL;
  max_size = pk_config_dup_string (config, SECTION, "max-size", NULL, NULL);
  if (max_size != NULL && !parse_size (max_size, &max_bytes, &local_error))
    return pk_config_value_error (config, SECTION, "max-size", NULL, local_error, error), NULL;

  directory = pk_config_dup_string (config, SECTION, "directory", "PK_METRICS_DIR", DEFAULT_DIR);
  recorder = pk_metrics_recorder_new (directory);
  pk_metrics_recorder_set_retention (recorder, raw_days, max_bytes, hourly_days, daily_days);

  layout = pk_config_dup_string (config, SECTION, "layout", NULL, "hour");
  if (g_str_equal (layout, "day") || g_str_equal (layout, "daily"))
    pk_metrics_recorder_set_layout (recorder, PK_METRICS_FILE_DAILY);
  else if (!g_str_equal (layout, "hour") && !g_str_equal (layout, "hourly"))
    {
      g_autofree char *where = pk_config_describe_value (config, SECTION, "layout", NULL);
      g_set_error (error, PK_ERROR, PK_ERROR_CONFIG, "%s: '%s': expected hour or day", where, layout);
      return NULL;
    }
  return g_steal_pointer (&recorder);
}
