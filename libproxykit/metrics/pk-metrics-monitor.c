/* pk-metrics-monitor.c: samples on a timer, into the history and the
 * alert rules
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "pk-metrics-monitor.h"

#include "pk-error.h"

/**
 * PkMetricsMonitor:
 *
 * What `pk-metrics record` (and `serve --record`) runs: a sample of a
 * [class@MetricsSampler] every interval, appended to a
 * [class@MetricsRecorder] (the history, with its rollups and retention)
 * and evaluated by [class@MetricsAlerts] (the `[alert:NAME]` rules).
 *
 * Each sample is announced by [signal@MetricsMonitor::sampled] (a
 * [class@MetricsServer] serves it as the latest, say), each alert event
 * by [signal@MetricsMonitor::alert]. A sample that fails is logged and
 * the next one comes at its time; so does a history write that fails.
 *
 * ```c
 * g_autoptr(PkMetricsMonitor) monitor =
 *   pk_metrics_monitor_new_from_config (config, sampler, &error);
 *
 * g_signal_connect (monitor, "alert", G_CALLBACK (on_alert), NULL);
 * pk_metrics_monitor_start (monitor);
 * ```
 *
 * Since: 0.2
 */

#define DEFAULT_INTERVAL_MS 10000
#define MIN_INTERVAL_MS 100

struct _PkMetricsMonitor
{
  GObject parent_instance;

  PkMetricsSampler *sampler;
  PkMetricsRecorder *recorder;  /* nullable */
  PkMetricsAlerts *alerts;      /* nullable */
  guint interval_ms;
  GSource *timer;
};

enum {
  SIGNAL_SAMPLED,
  SIGNAL_ALERT,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (PkMetricsMonitor, pk_metrics_monitor, G_TYPE_OBJECT)

static void
pk_metrics_monitor_dispose (GObject *object)
{
  PkMetricsMonitor *self = PK_METRICS_MONITOR (object);

  pk_metrics_monitor_stop (self);
  g_clear_object (&self->sampler);
  g_clear_object (&self->recorder);
  g_clear_object (&self->alerts);
  G_OBJECT_CLASS (pk_metrics_monitor_parent_class)->dispose (object);
}

static void
pk_metrics_monitor_class_init (PkMetricsMonitorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pk_metrics_monitor_dispose;

  /**
   * PkMetricsMonitor::sampled:
   * @self: the monitor
   * @sample: the sample, as [method@MetricsSampler.sample] gives it
   *
   * Emitted after each sample was recorded and evaluated.
   *
   * Since: 0.2
   */
  signals[SIGNAL_SAMPLED] =
    g_signal_new ("sampled", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, JSON_TYPE_NODE);
  /**
   * PkMetricsMonitor::alert:
   * @self: the monitor
   * @event: an event of [method@MetricsAlerts.evaluate] (`rule`, `state`
   *   `firing` or `resolved`, `value`, ...)
   * @to_stdout: whether the rule's `action` asks for the event on
   *   standard output (see [method@MetricsAlerts.event_wants_stdout])
   *
   * Emitted for each alert event of a sample, before
   * [signal@MetricsMonitor::sampled].
   *
   * Since: 0.2
   */
  signals[SIGNAL_ALERT] =
    g_signal_new ("alert", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, JSON_TYPE_NODE, G_TYPE_BOOLEAN);
}

static void
pk_metrics_monitor_init (PkMetricsMonitor *self)
{
  self->interval_ms = DEFAULT_INTERVAL_MS;
}

/**
 * pk_metrics_monitor_new:
 * @sampler: the sampler
 * @recorder: (nullable): where samples go, or %NULL for no history
 * @alerts: (nullable): the rules samples are evaluated by, or %NULL
 * @interval_ms: the time between samples, at least 100 ms
 *
 * Creates a monitor; it samples once [method@MetricsMonitor.start] runs.
 *
 * Returns: (transfer full): a new [class@MetricsMonitor]
 *
 * Since: 0.2
 */
PkMetricsMonitor *
pk_metrics_monitor_new (PkMetricsSampler  *sampler,
                        PkMetricsRecorder *recorder,
                        PkMetricsAlerts   *alerts,
                        guint              interval_ms)
{
  PkMetricsMonitor *self;

  g_return_val_if_fail (PK_IS_METRICS_SAMPLER (sampler), NULL);
  g_return_val_if_fail (recorder == NULL || PK_IS_METRICS_RECORDER (recorder), NULL);
  g_return_val_if_fail (alerts == NULL || PK_IS_METRICS_ALERTS (alerts), NULL);

  self = g_object_new (PK_TYPE_METRICS_MONITOR, NULL);
  self->sampler = g_object_ref (sampler);
  self->recorder = recorder ? g_object_ref (recorder) : NULL;
  self->alerts = alerts ? g_object_ref (alerts) : NULL;
  self->interval_ms = MAX (interval_ms, MIN_INTERVAL_MS);
  return self;
}

/**
 * pk_metrics_monitor_new_from_config:
 * @config: a [class@Config]
 * @sampler: the sampler
 * @error: return location for an error
 *
 * Creates a monitor as `pk-metrics record` does: `interval` of the
 * `[metrics]` section (or `PK_METRICS_INTERVAL`; default 10 s, at least
 * 100 ms), the history of [ctor@MetricsRecorder.new_from_config] and the
 * rules of [ctor@MetricsAlerts.new_from_config].
 *
 * Returns: (transfer full) (nullable): a new [class@MetricsMonitor], or
 *   %NULL with %PK_ERROR_CONFIG naming the key at fault
 *
 * Since: 0.2
 */
PkMetricsMonitor *
pk_metrics_monitor_new_from_config (PkConfig          *config,
                                    PkMetricsSampler  *sampler,
                                    GError           **error)
{
  g_autoptr(PkMetricsRecorder) recorder = NULL;
  g_autoptr(PkMetricsAlerts) alerts = NULL;
  guint64 interval_ms = 0;

  g_return_val_if_fail (PK_IS_CONFIG (config), NULL);
  g_return_val_if_fail (PK_IS_METRICS_SAMPLER (sampler), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!pk_config_get_duration_ms (config, "metrics", "interval", "PK_METRICS_INTERVAL",
                                  DEFAULT_INTERVAL_MS, &interval_ms, error))
    return NULL;
  if (interval_ms < MIN_INTERVAL_MS || interval_ms > G_MAXUINT)
    {
      g_autofree char *where = pk_config_describe_value (config, "metrics", "interval", "PK_METRICS_INTERVAL");

      g_set_error (error, PK_ERROR, PK_ERROR_CONFIG, "%s: %s", where,
                   interval_ms < MIN_INTERVAL_MS ? "at least 100ms" : "too long");
      return NULL;
    }
  recorder = pk_metrics_recorder_new_from_config (config, error);
  if (recorder == NULL)
    return NULL;
  alerts = pk_metrics_alerts_new_from_config (config, error);
  if (alerts == NULL)
    return NULL;
  return pk_metrics_monitor_new (sampler, recorder, alerts, interval_ms);
}

/**
 * pk_metrics_monitor_get_sampler:
 * @self: a [class@MetricsMonitor]
 *
 * The sampler the monitor reads.
 *
 * Returns: (transfer none): the sampler
 *
 * Since: 0.2
 */
PkMetricsSampler *
pk_metrics_monitor_get_sampler (PkMetricsMonitor *self)
{
  g_return_val_if_fail (PK_IS_METRICS_MONITOR (self), NULL);
  return self->sampler;
}

/**
 * pk_metrics_monitor_get_recorder:
 * @self: a [class@MetricsMonitor]
 *
 * Where samples go.
 *
 * Returns: (transfer none) (nullable): the recorder, or %NULL for none
 *
 * Since: 0.2
 */
PkMetricsRecorder *
pk_metrics_monitor_get_recorder (PkMetricsMonitor *self)
{
  g_return_val_if_fail (PK_IS_METRICS_MONITOR (self), NULL);
  return self->recorder;
}

/**
 * pk_metrics_monitor_get_alerts:
 * @self: a [class@MetricsMonitor]
 *
 * The rules in force (those of the last
 * [method@MetricsMonitor.reload_alerts]).
 *
 * Returns: (transfer none) (nullable): the rules, or %NULL for none
 *
 * Since: 0.2
 */
PkMetricsAlerts *
pk_metrics_monitor_get_alerts (PkMetricsMonitor *self)
{
  g_return_val_if_fail (PK_IS_METRICS_MONITOR (self), NULL);
  return self->alerts;
}

/**
 * pk_metrics_monitor_get_interval:
 * @self: a [class@MetricsMonitor]
 *
 * The time between samples.
 *
 * Returns: the time between samples, in milliseconds
 *
 * Since: 0.2
 */
guint
pk_metrics_monitor_get_interval (PkMetricsMonitor *self)
{
  g_return_val_if_fail (PK_IS_METRICS_MONITOR (self), 0);
  return self->interval_ms;
}

/**
 * pk_metrics_monitor_tick:
 * @self: a [class@MetricsMonitor]
 * @error: return location for an error
 *
 * Takes one sample now, appends it to the history, evaluates the rules
 * and emits the signals: what the timer does each interval. A history
 * write that fails is logged (the sample still counts).
 *
 * Returns: (transfer full) (nullable): the sample, or %NULL if sampling
 *   failed
 *
 * Since: 0.2
 */
JsonNode *
pk_metrics_monitor_tick (PkMetricsMonitor  *self,
                         GError           **error)
{
  g_autoptr(PkMetricsMonitor) hold = NULL;
  g_autoptr(JsonNode) sample = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (PK_IS_METRICS_MONITOR (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  hold = g_object_ref (self);
  sample = pk_metrics_sampler_sample (self->sampler, error);
  if (sample == NULL)
    return NULL;
  if (self->recorder != NULL && !pk_metrics_recorder_append (self->recorder, sample, &local_error))
    g_warning ("%s", local_error->message);
  if (self->alerts != NULL)
    {
      g_autoptr(PkMetricsAlerts) alerts = g_object_ref (self->alerts);
      g_autoptr(JsonNode) events = pk_metrics_alerts_evaluate (alerts, sample, g_get_real_time ());
      JsonArray *array = json_node_get_array (events);

      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *event = json_array_get_element (array, i);

          g_signal_emit (self, signals[SIGNAL_ALERT], 0, event,
                         pk_metrics_alerts_event_wants_stdout (alerts, event));
        }
    }
  g_signal_emit (self, signals[SIGNAL_SAMPLED], 0, sample);
  return g_steal_pointer (&sample);
}

static gboolean
timer_cb (gpointer data)
{
  PkMetricsMonitor *self = data;
  g_autoptr(JsonNode) sample = NULL;
  g_autoptr(GError) error = NULL;

  sample = pk_metrics_monitor_tick (self, &error);
  if (sample == NULL)
    g_warning ("sample failed: %s", error->message);
  return G_SOURCE_CONTINUE;
}

/**
 * pk_metrics_monitor_start:
 * @self: a [class@MetricsMonitor]
 *
 * Takes a sample now, then one every interval, in the thread-default
 * main context of the caller, until [method@MetricsMonitor.stop]. A
 * monitor that runs already goes on as it was.
 *
 * Since: 0.2
 */
void
pk_metrics_monitor_start (PkMetricsMonitor *self)
{
  g_return_if_fail (PK_IS_METRICS_MONITOR (self));

  if (self->timer != NULL)
    return;
  self->timer = g_timeout_source_new (self->interval_ms);
  g_source_set_callback (self->timer, timer_cb, self, NULL);
  g_source_set_static_name (self->timer, "[proxykit] metrics monitor");
  g_source_attach (self->timer, g_main_context_get_thread_default ());
  timer_cb (self);
}

/**
 * pk_metrics_monitor_stop:
 * @self: a [class@MetricsMonitor]
 *
 * Stops sampling; [method@MetricsMonitor.start] starts again.
 *
 * Since: 0.2
 */
void
pk_metrics_monitor_stop (PkMetricsMonitor *self)
{
  g_return_if_fail (PK_IS_METRICS_MONITOR (self));

  if (self->timer != NULL)
    {
      g_source_destroy (self->timer);
      g_clear_pointer (&self->timer, g_source_unref);
    }
}

/**
 * pk_metrics_monitor_reload_alerts:
 * @self: a [class@MetricsMonitor]
 * @config: the configuration to read the `[alert:NAME]` rules from
 * @error: return location for an error
 *
 * Replaces the rules with those of @config (their state starts afresh).
 * A configuration with a bad rule changes nothing. The history settings,
 * the interval and what the sampler watches stay as they are.
 *
 * Returns: %TRUE if the new rules are in force
 *
 * Since: 0.2
 */
gboolean
pk_metrics_monitor_reload_alerts (PkMetricsMonitor  *self,
                                  PkConfig          *config,
                                  GError           **error)
{
  g_autoptr(PkMetricsAlerts) alerts = NULL;

  g_return_val_if_fail (PK_IS_METRICS_MONITOR (self), FALSE);
  g_return_val_if_fail (PK_IS_CONFIG (config), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  alerts = pk_metrics_alerts_new_from_config (config, error);
  if (alerts == NULL)
    return FALSE;
  g_set_object (&self->alerts, alerts);
  return TRUE;
}
