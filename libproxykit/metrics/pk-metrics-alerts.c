/* pk-metrics-alerts.c: alert rules over metrics samples
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkMetricsAlerts:
 *
 * Alert rules from `[alert:NAME]` sections of a [class@Config], evaluated
 * on each sample of a [class@MetricsSampler]:
 *
 * ```ini
 * [alert:cpu]
 * metric = cpu.total.busy_pct
 * kind = above            # above, below, spike, drop, absent
 * threshold = 90
 * for = 6                 # samples beyond the threshold before it fires
 * clear-for = 3           # samples back inside before it resolves
 * clear-threshold = 80    # hysteresis band (default: the threshold)
 * cooldown = 10m          # no new notification of this alert within it
 * repeat = false          # re-notify while firing, once per cooldown
 * notify = log,stdout,exec,webhook
 * exec = /usr/local/bin/page-me
 * webhook = http://127.0.0.1:9093/hook
 *
 * [alert:traffic-spike]
 * metric = interfaces.eth0.rx_bytes_per_s
 * kind = spike            # value > factor x EMA baseline
 * factor = 3
 * ema-samples = 30        # EMA over about 30 samples (or ema-alpha = 0.06)
 * warmup = 10             # samples before the baseline is trusted
 *
 * [alert:offline]
 * metric = tcp.total      # missed samples or a figure gone
 * kind = absent
 * for = 3
 * ```
 *
 * [method@MetricsAlerts.evaluate] returns the events (`firing`,
 * `resolved`) as JSON and, unless dispatch is off, logs them, runs the
 * `exec` hook (event JSON on stdin, `PK_ALERT_*` in the environment) and
 * POSTs them to the `webhook` with libsoup. Printing to stdout is left to
 * the caller ([method@MetricsAlerts.event_wants_stdout]). Time comes from
 * the caller, so tests drive it.
 *
 * ```c
 * g_autoptr(PkMetricsAlerts) alerts = pk_metrics_alerts_new_from_config (config, &error);
 * g_autoptr(JsonNode) events = pk_metrics_alerts_evaluate (alerts, sample, g_get_real_time ());
 * ```
 *
 * Since: 0.1
 */

#include "config.h"

#include <math.h>
#include <string.h>

#ifdef HAVE_LIBSOUP
#include <libsoup/soup.h>
#endif

#include "pk-error.h"
#include "pk-metrics-alerts.h"
#include "pk-metrics-private.h"
#include "pk-util-private.h"

/* ------------------------------------------------------------------ */
/* The hold counter: consecutive bad samples to fire, consecutive good
 * ones to resolve. Kept apart from the rules so that PkWatchdog's
 * hysteresis engine can replace it. */

typedef struct {
  guint fall;       /* bad samples in a row that make it active */
  guint rise;       /* good samples in a row that make it inactive */
  guint bad_run;
  guint good_run;
  gboolean active;
} PkAlertHold;

/* Returns TRUE when the state changes. */
static gboolean
pk_alert_hold_update (PkAlertHold *h,
                      gboolean     bad)
{
  if (bad)
    {
      h->good_run = 0;
      h->bad_run++;
      if (!h->active && h->bad_run >= h->fall)
        {
          h->active = TRUE;
          return TRUE;
        }
    }
  else
    {
      h->bad_run = 0;
      h->good_run++;
      if (h->active && h->good_run >= h->rise)
        {
          h->active = FALSE;
          return TRUE;
        }
    }
  return FALSE;
}

/* ------------------------------------------------------------------ */

typedef enum {
  KIND_ABOVE,
  KIND_BELOW,
  KIND_SPIKE,
  KIND_DROP,
  KIND_ABSENT,
} Kind;

static const char *kind_names[] = { "above", "below", "spike", "drop", "absent" };

enum {
  NOTIFY_LOG = 1 << 0,
  NOTIFY_STDOUT = 1 << 1,
  NOTIFY_EXEC = 1 << 2,
  NOTIFY_WEBHOOK = 1 << 3,
};

typedef struct {
  char *name;
  char *metric;
  Kind kind;
  double threshold;
  double clear_threshold;
  double factor;
  double alpha;
  guint warmup;
  gint64 cooldown_us;
  gboolean repeat;
  guint notify;
  char *exec;
  char *webhook;

  PkAlertHold hold;
  double ema;
  guint ema_n;
  gboolean suppressed;      /* fired inside the cooldown: not notified */
  gint64 last_notified;     /* of a firing event; 0 never */
} Rule;

struct _PkMetricsAlerts
{
  GObject parent_instance;

  GPtrArray *rules;
  gboolean dispatch;
#ifdef HAVE_LIBSOUP
  SoupSession *session;
#endif
};

G_DEFINE_FINAL_TYPE (PkMetricsAlerts, pk_metrics_alerts, G_TYPE_OBJECT)

static void
rule_free (gpointer p)
{
  Rule *r = p;

  g_free (r->name);
  g_free (r->metric);
  g_free (r->exec);
  g_free (r->webhook);
  g_free (r);
}

static void
pk_metrics_alerts_finalize (GObject *object)
{
  PkMetricsAlerts *self = PK_METRICS_ALERTS (object);

  g_ptr_array_unref (self->rules);
#ifdef HAVE_LIBSOUP
  g_clear_object (&self->session);
#endif
  G_OBJECT_CLASS (pk_metrics_alerts_parent_class)->finalize (object);
}

static void
pk_metrics_alerts_class_init (PkMetricsAlertsClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pk_metrics_alerts_finalize;
}

static void
pk_metrics_alerts_init (PkMetricsAlerts *self)
{
  self->rules = g_ptr_array_new_with_free_func (rule_free);
  self->dispatch = TRUE;
}

static gboolean
get_double (PkConfig   *config,
            const char *section,
            const char *key,
            double      default_value,
            double     *out,
            GError    **error)
{
  g_autofree char *text = pk_config_dup_string (config, section, key, NULL, NULL);
  char *end = NULL;

  if (text == NULL)
    {
      *out = default_value;
      return TRUE;
    }
  *out = g_ascii_strtod (g_strstrip (text), &end);
  if (end == text || *end != '\0' || !isfinite (*out))
    {
      g_autofree char *where = pk_config_describe (config, section, key);
      g_set_error (error, PK_ERROR, PK_ERROR_CONFIG, "%s: '%s' is not a number", where, text);
      return FALSE;
    }
  return TRUE;
}

static gboolean
config_error (GError    **error,
              PkConfig   *config,
              const char *section,
              const char *key,
              const char *message)
{
  g_autofree char *where = pk_config_describe (config, section, key);

  g_set_error (error, PK_ERROR, PK_ERROR_CONFIG, "%s: %s", where, message);
  return FALSE;
}

static gboolean
parse_rule (PkConfig   *config,
            const char *name,
            Rule       *r,
            GError    **error)
{
  static const char * const keys[] = {
    "metric", "kind", "threshold", "clear-threshold", "for", "clear-for", "cooldown",
    "repeat", "notify", "exec", "webhook", "factor", "ema-alpha", "ema-samples", "warmup", NULL
  };
  g_autofree char *section = g_strconcat ("alert:", name, NULL);
  g_autofree char *kind = NULL;
  g_autofree char *notify = NULL;
  guint64 fall, rise, ema_samples, warmup, cooldown;

  r->name = g_strdup (name);
  if (!pk_config_check_keys (config, section, keys, error))
    return FALSE;
  r->metric = pk_config_dup_string (config, section, "metric", NULL, NULL);
  if (r->metric == NULL || *r->metric == '\0')
    return config_error (error, config, section, NULL, "no metric (a dotted path such as cpu.total.busy_pct)");

  kind = pk_config_dup_string (config, section, "kind", NULL, "above");
  for (r->kind = 0; r->kind < G_N_ELEMENTS (kind_names); r->kind++)
    if (g_strcmp0 (kind, kind_names[r->kind]) == 0)
      break;
  if (r->kind == G_N_ELEMENTS (kind_names))
    return config_error (error, config, section, "kind",
                         "expected above, below, spike, drop or absent");

  if ((r->kind == KIND_ABOVE || r->kind == KIND_BELOW) &&
      !pk_config_has_key (config, section, "threshold"))
    return config_error (error, config, section, NULL, "kind above/below needs a threshold");
  if (!get_double (config, section, "threshold", 0, &r->threshold, error) ||
      !get_double (config, section, "clear-threshold", r->threshold, &r->clear_threshold, error) ||
      !get_double (config, section, "factor", 3, &r->factor, error) ||
      !get_double (config, section, "ema-alpha", 0, &r->alpha, error))
    return FALSE;
  if (r->factor <= 1 && (r->kind == KIND_SPIKE || r->kind == KIND_DROP))
    return config_error (error, config, section, "factor", "must be more than 1");
  if (!pk_config_get_uint (config, section, "for", NULL, 1, 100000, 1, &fall, error) ||
      !pk_config_get_uint (config, section, "clear-for", NULL, 1, 100000, fall, &rise, error) ||
      !pk_config_get_uint (config, section, "ema-samples", NULL, 1, 1000000, 20, &ema_samples, error) ||
      !pk_config_get_uint (config, section, "warmup", NULL, 0, 1000000, 5, &warmup, error) ||
      !pk_config_get_duration_ms (config, section, "cooldown", NULL, 0, &cooldown, error) ||
      !pk_config_get_boolean (config, section, "repeat", NULL, FALSE, &r->repeat, error))
    return FALSE;
  if (r->alpha < 0 || r->alpha > 1)
    return config_error (error, config, section, "ema-alpha", "must be between 0 and 1");
  if (r->alpha == 0)
    r->alpha = 2.0 / (ema_samples + 1);
  r->hold.fall = fall;
  r->hold.rise = rise;
  r->warmup = warmup;
  r->cooldown_us = cooldown * 1000;

  notify = pk_config_dup_string (config, section, "notify", NULL, NULL);
  r->exec = pk_config_dup_string (config, section, "exec", NULL, NULL);
  r->webhook = pk_config_dup_string (config, section, "webhook", NULL, NULL);
  if (notify == NULL)
    r->notify = NOTIFY_LOG | NOTIFY_STDOUT | (r->exec ? NOTIFY_EXEC : 0) | (r->webhook ? NOTIFY_WEBHOOK : 0);
  else
    {
      g_auto(GStrv) parts = g_strsplit_set (notify, ", ", -1);

      for (guint i = 0; parts[i]; i++)
        {
          if (*parts[i] == '\0')
            continue;
          if (strcmp (parts[i], "log") == 0)
            r->notify |= NOTIFY_LOG;
          else if (strcmp (parts[i], "stdout") == 0)
            r->notify |= NOTIFY_STDOUT;
          else if (strcmp (parts[i], "exec") == 0)
            r->notify |= NOTIFY_EXEC;
          else if (strcmp (parts[i], "webhook") == 0)
            r->notify |= NOTIFY_WEBHOOK;
          else
            {
              g_autofree char *msg = g_strdup_printf ("unknown target '%s' (log, stdout, exec, webhook)", parts[i]);
              return config_error (error, config, section, "notify", msg);
            }
        }
    }
  if ((r->notify & NOTIFY_EXEC) && r->exec == NULL)
    return config_error (error, config, section, "notify", "exec is listed but no exec = command given");
  if ((r->notify & NOTIFY_WEBHOOK) && r->webhook == NULL)
    return config_error (error, config, section, "notify", "webhook is listed but no webhook = URL given");
#ifdef HAVE_LIBSOUP
  if (r->webhook)
    {
      g_autoptr(GUri) uri = g_uri_parse (r->webhook, G_URI_FLAGS_NONE, NULL);

      if (uri == NULL || (g_strcmp0 (g_uri_get_scheme (uri), "http") != 0 &&
                          g_strcmp0 (g_uri_get_scheme (uri), "https") != 0))
        return config_error (error, config, section, "webhook", "not an http:// or https:// URL");
    }
#else
  if (r->webhook)
    return config_error (error, config, section, "webhook", "built without libsoup");
#endif
  return TRUE;
}

/**
 * pk_metrics_alerts_new_from_config:
 * @config: a configuration
 * @error: return location for a `GError`
 *
 * Reads the `[alert:NAME]` sections of @config.
 *
 * Returns: (transfer full): the rules, or %NULL with @error naming the bad
 *   line
 *
 * Since: 0.1
 */
PkMetricsAlerts *
pk_metrics_alerts_new_from_config (PkConfig  *config,
                                   GError   **error)
{
  g_autoptr(PkMetricsAlerts) self = g_object_new (PK_TYPE_METRICS_ALERTS, NULL);
  g_auto(GStrv) names = NULL;

  g_return_val_if_fail (PK_IS_CONFIG (config), NULL);

  names = pk_config_list_sections (config, "alert");
  for (guint i = 0; names[i] != NULL; i++)
    {
      Rule *r = g_new0 (Rule, 1);

      g_ptr_array_add (self->rules, r);
      if (!parse_rule (config, names[i], r, error))
        return NULL;
    }
  return g_steal_pointer (&self);
}

/**
 * pk_metrics_alerts_get_n_rules:
 * @self: alert rules
 *
 * Gets the number of rules.
 *
 * Returns: the number of rules
 *
 * Since: 0.1
 */
guint
pk_metrics_alerts_get_n_rules (PkMetricsAlerts *self)
{
  g_return_val_if_fail (PK_IS_METRICS_ALERTS (self), 0);
  return self->rules->len;
}

/**
 * pk_metrics_alerts_set_dispatch:
 * @self: alert rules
 * @dispatch: whether events go to the log, the exec hook and the webhook
 *
 * With dispatch off, [method@MetricsAlerts.evaluate] only returns events.
 *
 * Since: 0.1
 */
void
pk_metrics_alerts_set_dispatch (PkMetricsAlerts *self,
                                gboolean         dispatch)
{
  g_return_if_fail (PK_IS_METRICS_ALERTS (self));
  self->dispatch = dispatch;
}

/* ------------------------------------------------------------------ */

static void
on_exec_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autofree char *name = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_subprocess_wait_check_finish (G_SUBPROCESS (source), result, &error))
    g_warning ("alert %s: exec hook: %s", name, error->message);
}

static void
on_exec_written (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  GSubprocess *proc = user_data;
  g_autoptr(GError) error = NULL;

  g_subprocess_communicate_finish (proc, result, NULL, NULL, &error);
  g_object_unref (proc);
}

static void
run_exec (Rule       *r,
          JsonNode   *event,
          const char *json)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE);
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) input = g_bytes_new (json, strlen (json));
  JsonObject *o = json_node_get_object (event);
  const char *argv[] = { "/bin/sh", "-c", r->exec, NULL };
  g_autofree char *value = NULL;

  g_subprocess_launcher_setenv (launcher, "PK_ALERT_NAME", r->name, TRUE);
  g_subprocess_launcher_setenv (launcher, "PK_ALERT_STATE",
                                json_object_get_string_member (o, "state"), TRUE);
  g_subprocess_launcher_setenv (launcher, "PK_ALERT_METRIC", r->metric, TRUE);
  if (json_object_has_member (o, "value") && !json_object_get_null_member (o, "value"))
    {
      char buf[G_ASCII_DTOSTR_BUF_SIZE];
      value = g_strdup (g_ascii_dtostr (buf, sizeof buf, json_object_get_double_member (o, "value")));
      g_subprocess_launcher_setenv (launcher, "PK_ALERT_VALUE", value, TRUE);
    }
  proc = g_subprocess_launcher_spawnv (launcher, argv, &error);
  if (proc == NULL)
    {
      g_warning ("alert %s: exec hook '%s': %s", r->name, r->exec, error->message);
      return;
    }
  g_subprocess_communicate_async (proc, input, NULL, on_exec_written, g_object_ref (proc));
  g_subprocess_wait_check_async (proc, NULL, on_exec_done, g_strdup (r->name));
}

#ifdef HAVE_LIBSOUP
static void
on_webhook_done (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(SoupMessage) msg = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  GUri *uri = soup_message_get_uri (msg);
  g_autofree char *url = g_uri_to_string_partial (uri, G_URI_HIDE_PASSWORD);

  if (body == NULL)
    g_warning ("alert webhook %s: %s", url, error->message);
  else if (!SOUP_STATUS_IS_SUCCESSFUL (soup_message_get_status (msg)))
    g_warning ("alert webhook %s: HTTP %u %s", url, soup_message_get_status (msg),
               soup_message_get_reason_phrase (msg));
}

static void
post_webhook (PkMetricsAlerts *self,
              Rule            *r,
              const char      *json)
{
  SoupMessage *msg = soup_message_new ("POST", r->webhook);
  g_autoptr(GBytes) body = g_bytes_new (json, strlen (json));

  if (msg == NULL)
    return;
  if (self->session == NULL)
    self->session = g_object_new (SOUP_TYPE_SESSION, "timeout", 10, "user-agent", "pk-metrics", NULL);
  soup_message_set_request_body_from_bytes (msg, "application/json", body);
  soup_session_send_and_read_async (self->session, msg, G_PRIORITY_DEFAULT, NULL,
                                    on_webhook_done, msg);
}
#endif

static void
dispatch (PkMetricsAlerts *self,
          Rule            *r,
          JsonNode        *event)
{
  g_autofree char *json = json_to_string (event, FALSE);
  JsonObject *o = json_node_get_object (event);

  /* "message" (journald notice) rather than "warning": GLib makes
   * warnings fatal in tests and some embedders */
  if (r->notify & NOTIFY_LOG)
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                      "PK_ALERT", r->name,
                      "PK_ALERT_STATE", json_object_get_string_member (o, "state"),
                      "MESSAGE", "alert %s %s: %s", r->name,
                      json_object_get_string_member (o, "state"),
                      json_object_get_string_member (o, "summary"));
  if ((r->notify & NOTIFY_EXEC) && r->exec)
    run_exec (r, event, json);
#ifdef HAVE_LIBSOUP
  if ((r->notify & NOTIFY_WEBHOOK) && r->webhook)
    post_webhook (self, r, json);
#endif
}

static JsonNode *
make_event (Rule       *r,
            const char *state,
            gint64      now,
            gboolean    have_value,
            double      value,
            gboolean    repeat)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (now / G_USEC_PER_SEC);
  g_autofree char *iso = g_date_time_format (dt, "%Y-%m-%dT%H:%M:%SZ");
  g_autofree char *summary = NULL;
  char v[G_ASCII_DTOSTR_BUF_SIZE] = "absent";

  if (have_value)
    g_ascii_formatd (v, sizeof v, "%.6g", value);
  switch (r->kind)
    {
    case KIND_ABOVE:
    case KIND_BELOW:
      summary = g_strdup_printf ("%s = %s (%s %g)", r->metric, v, kind_names[r->kind], r->threshold);
      break;
    case KIND_SPIKE:
    case KIND_DROP:
      summary = g_strdup_printf ("%s = %s against a baseline of %.6g (%s, factor %g)",
                                 r->metric, v, r->ema, kind_names[r->kind], r->factor);
      break;
    case KIND_ABSENT:
    default:
      summary = g_strdup_printf ("%s = %s", r->metric, v);
      break;
    }

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "alert");
  json_builder_add_string_value (b, r->name);
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, state);
  json_builder_set_member_name (b, "repeat");
  json_builder_add_boolean_value (b, repeat);
  json_builder_set_member_name (b, "time");
  json_builder_add_string_value (b, iso);
  json_builder_set_member_name (b, "timestamp");
  json_builder_add_double_value (b, now / 1e6);
  json_builder_set_member_name (b, "kind");
  json_builder_add_string_value (b, kind_names[r->kind]);
  json_builder_set_member_name (b, "metric");
  json_builder_add_string_value (b, r->metric);
  json_builder_set_member_name (b, "value");
  if (have_value)
    json_builder_add_double_value (b, value);
  else
    json_builder_add_null_value (b);
  if (r->kind == KIND_SPIKE || r->kind == KIND_DROP)
    {
      json_builder_set_member_name (b, "baseline");
      json_builder_add_double_value (b, r->ema);
    }
  else if (r->kind != KIND_ABSENT)
    {
      json_builder_set_member_name (b, "threshold");
      json_builder_add_double_value (b, r->threshold);
    }
  json_builder_set_member_name (b, "summary");
  json_builder_add_string_value (b, summary);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* Is this sample bad for the rule? Also moves the EMA baseline on. */
static gboolean
judge (Rule    *r,
       gboolean have,
       double   v)
{
  gboolean bad = FALSE;

  switch (r->kind)
    {
    case KIND_ABOVE:
      /* hysteresis band: while active, it stays bad until below clear */
      bad = have && (r->hold.active ? v > r->clear_threshold : v > r->threshold);
      break;
    case KIND_BELOW:
      bad = have && (r->hold.active ? v < r->clear_threshold : v < r->threshold);
      break;
    case KIND_SPIKE:
    case KIND_DROP:
      if (!have)
        return FALSE;
      if (r->ema_n >= MAX (r->warmup, 1))
        bad = r->kind == KIND_SPIKE ? v > r->ema * r->factor : v < r->ema / r->factor;
      r->ema = r->ema_n == 0 ? v : r->alpha * v + (1 - r->alpha) * r->ema;
      r->ema_n++;
      break;
    case KIND_ABSENT:
    default:
      bad = !have;
      break;
    }
  return bad;
}

/**
 * pk_metrics_alerts_evaluate:
 * @self: alert rules
 * @sample: (nullable): a sample, or %NULL for a sample that was missed
 * @now_us: the time, in microseconds since the epoch
 *
 * Feeds one sample to every rule. A rule fires after `for` bad samples in
 * a row and resolves after `clear-for` good ones. A firing inside the
 * `cooldown` of the last notified one is not notified (nor is its
 * resolution); with `repeat`, a rule that keeps firing is notified again
 * once per cooldown.
 *
 * Returns: (transfer full): a JSON array of the events of this sample
 *
 * Since: 0.1
 */
JsonNode *
pk_metrics_alerts_evaluate (PkMetricsAlerts *self,
                            JsonNode        *sample,
                            gint64           now_us)
{
  g_autoptr(JsonArray) events = json_array_new ();
  JsonNode *out;

  g_return_val_if_fail (PK_IS_METRICS_ALERTS (self), NULL);

  for (guint i = 0; i < self->rules->len; i++)
    {
      Rule *r = self->rules->pdata[i];
      double v = 0;
      gboolean have = sample != NULL && pk_metrics_lookup (sample, r->metric, &v);
      gboolean bad = judge (r, have, v);
      gboolean changed = pk_alert_hold_update (&r->hold, bad);
      JsonNode *event = NULL;

      if (changed && r->hold.active)
        {
          if (r->last_notified != 0 && now_us - r->last_notified < r->cooldown_us)
            r->suppressed = TRUE;
          else
            {
              r->suppressed = FALSE;
              r->last_notified = now_us;
              event = make_event (r, "firing", now_us, have, v, FALSE);
            }
        }
      else if (changed)
        {
          if (!r->suppressed)
            event = make_event (r, "resolved", now_us, have, v, FALSE);
          r->suppressed = FALSE;
        }
      else if (r->hold.active && r->repeat && r->cooldown_us > 0 &&
               now_us - r->last_notified >= r->cooldown_us)
        {
          r->suppressed = FALSE;
          r->last_notified = now_us;
          event = make_event (r, "firing", now_us, have, v, TRUE);
        }

      if (event)
        {
          if (self->dispatch)
            dispatch (self, r, event);
          json_array_add_element (events, event);
        }
    }
  out = json_node_new (JSON_NODE_ARRAY);
  json_node_set_array (out, events);
  return out;
}

/**
 * pk_metrics_alerts_event_wants_stdout:
 * @self: alert rules
 * @event: an event from [method@MetricsAlerts.evaluate]
 *
 * Tells whether the rule of @event lists `stdout` among its targets.
 *
 * Returns: whether the rule of @event lists `stdout` among its targets
 *
 * Since: 0.1
 */
gboolean
pk_metrics_alerts_event_wants_stdout (PkMetricsAlerts *self,
                                      JsonNode        *event)
{
  const char *name;

  g_return_val_if_fail (PK_IS_METRICS_ALERTS (self), FALSE);
  g_return_val_if_fail (event != NULL && JSON_NODE_HOLDS_OBJECT (event), FALSE);

  name = json_object_get_string_member_with_default (json_node_get_object (event), "alert", NULL);
  for (guint i = 0; i < self->rules->len; i++)
    {
      Rule *r = self->rules->pdata[i];
      if (g_strcmp0 (r->name, name) == 0)
        return (r->notify & NOTIFY_STDOUT) != 0;
    }
  return FALSE;
}
