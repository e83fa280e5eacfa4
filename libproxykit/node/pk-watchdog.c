/* pk-watchdog.c: hysteresis over probes, driven by timers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkWatchdog:
 *
 * Watches one thing (a tunnel, a dongle, a listener) through one or more
 * [class@Probe] and decides, with hysteresis, when it has failed and when it
 * has recovered, like haproxy's `rise`/`fall` and keepalived's
 * `vrrp_script`.
 *
 * Every check round runs all probes at once, each with the per-check
 * timeout; the round passes only if every probe passed. A failure is
 * confirmed after [property@Watchdog:fall] failed rounds in a row, a recovery
 * after [property@Watchdog:rise] passed rounds in a row. Rounds are
 * [property@Watchdog:interval-ms] apart, and
 * [property@Watchdog:retry-delay-ms] apart while a change is being
 * confirmed; [property@Watchdog:jitter-ms] spreads the rounds of many
 * watchdogs, [property@Watchdog:initial-delay-ms] delays the first.
 *
 * The watchdog acts on nothing itself: actions hang off its signals
 * ([signal@Watchdog::failed], [signal@Watchdog::recovered],
 * [signal@Watchdog::state-changed], [signal@Watchdog::checked]). Its
 * decisions come from a [struct@Hysteresis], which can be used alone; [method@Watchdog.feed] feeds a result from elsewhere and
 * runs the same signals without timers or probes.
 *
 * ```c
 * g_autoptr(PkWatchdog) wd = pk_watchdog_new ("pptp-11");
 * g_autoptr(PkProbe) alive = pk_probe_new_process (pppd_pid);
 * g_autoptr(PkProbe) link = pk_probe_new_interface ("ppp11");
 *
 * pk_watchdog_add_probe (wd, alive);
 * pk_watchdog_add_probe (wd, link);
 * pk_watchdog_set_interval_ms (wd, 180000);    // WATCHDOG_CHECK_INTERVAL
 * pk_watchdog_set_retry_delay_ms (wd, 30000);  // WATCHDOG_RETRY_DELAY
 * pk_watchdog_set_fall (wd, 3);                // WATCHDOG_PPTP_RETRIES
 * g_signal_connect (wd, "failed", G_CALLBACK (on_tunnel_failed), node);
 * pk_watchdog_start (wd);
 * ```
 *
 * Since: 0.1
 */

#include "config.h"

#include "pk-enum-types.h"
#include "pk-error.h"
#include "pk-watchdog.h"

struct _PkWatchdog
{
  GObject parent_instance;

  char *name;
  GPtrArray *probes;
  PkHysteresis *hysteresis;
  char *last_reason;
  guint64 last_check_us;

  guint interval_ms;
  guint retry_delay_ms;
  guint initial_delay_ms;
  guint jitter_ms;
  guint timeout_ms;

  gboolean running;
  GSource *timer;
  GCancellable *round_cancellable;
};

G_DEFINE_FINAL_TYPE (PkWatchdog, pk_watchdog, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_NAME,
  PROP_INTERVAL_MS,
  PROP_RETRY_DELAY_MS,
  PROP_INITIAL_DELAY_MS,
  PROP_JITTER_MS,
  PROP_TIMEOUT_MS,
  PROP_FALL,
  PROP_RISE,
  PROP_HEALTH,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_CHECKED,
  SIGNAL_STATE_CHANGED,
  SIGNAL_FAILED,
  SIGNAL_RECOVERED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
pk_watchdog_dispose (GObject *object)
{
  PkWatchdog *self = PK_WATCHDOG (object);

  pk_watchdog_stop (self);

  G_OBJECT_CLASS (pk_watchdog_parent_class)->dispose (object);
}

static void
pk_watchdog_finalize (GObject *object)
{
  PkWatchdog *self = PK_WATCHDOG (object);

  g_free (self->name);
  g_ptr_array_unref (self->probes);
  pk_hysteresis_unref (self->hysteresis);
  g_free (self->last_reason);

  G_OBJECT_CLASS (pk_watchdog_parent_class)->finalize (object);
}

static void
pk_watchdog_get_property (GObject    *object,
                          guint       prop_id,
                          GValue     *value,
                          GParamSpec *pspec)
{
  PkWatchdog *self = PK_WATCHDOG (object);

  switch (prop_id)
    {
    case PROP_NAME: g_value_set_string (value, self->name); break;
    case PROP_INTERVAL_MS: g_value_set_uint (value, self->interval_ms); break;
    case PROP_RETRY_DELAY_MS: g_value_set_uint (value, self->retry_delay_ms); break;
    case PROP_INITIAL_DELAY_MS: g_value_set_uint (value, self->initial_delay_ms); break;
    case PROP_JITTER_MS: g_value_set_uint (value, self->jitter_ms); break;
    case PROP_TIMEOUT_MS: g_value_set_uint (value, self->timeout_ms); break;
    case PROP_FALL: g_value_set_uint (value, pk_watchdog_get_fall (self)); break;
    case PROP_RISE: g_value_set_uint (value, pk_watchdog_get_rise (self)); break;
    case PROP_HEALTH: g_value_set_enum (value, pk_watchdog_get_health (self)); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_watchdog_set_property (GObject      *object,
                          guint         prop_id,
                          const GValue *value,
                          GParamSpec   *pspec)
{
  PkWatchdog *self = PK_WATCHDOG (object);

  switch (prop_id)
    {
    case PROP_NAME: self->name = g_value_dup_string (value); break;
    case PROP_INTERVAL_MS: pk_watchdog_set_interval_ms (self, g_value_get_uint (value)); break;
    case PROP_RETRY_DELAY_MS: pk_watchdog_set_retry_delay_ms (self, g_value_get_uint (value)); break;
    case PROP_INITIAL_DELAY_MS: pk_watchdog_set_initial_delay_ms (self, g_value_get_uint (value)); break;
    case PROP_JITTER_MS: pk_watchdog_set_jitter_ms (self, g_value_get_uint (value)); break;
    case PROP_TIMEOUT_MS: pk_watchdog_set_timeout_ms (self, g_value_get_uint (value)); break;
    case PROP_FALL: pk_watchdog_set_fall (self, g_value_get_uint (value)); break;
    case PROP_RISE: pk_watchdog_set_rise (self, g_value_get_uint (value)); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

#define UINT_PROP(name, min, def) \
  g_param_spec_uint (name, NULL, NULL, min, G_MAXUINT, def, \
                     G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY)

static void
pk_watchdog_class_init (PkWatchdogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pk_watchdog_dispose;
  object_class->finalize = pk_watchdog_finalize;
  object_class->get_property = pk_watchdog_get_property;
  object_class->set_property = pk_watchdog_set_property;

  /**
   * PkWatchdog:name:
   *
   * What is watched, for logs (a node or target name).
   *
   * Since: 0.1
   */
  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * PkWatchdog:interval-ms:
   *
   * Milliseconds between check rounds (`WATCHDOG_CHECK_INTERVAL`).
   *
   * Since: 0.1
   */
  properties[PROP_INTERVAL_MS] = UINT_PROP ("interval-ms", 1, 180000);
  /**
   * PkWatchdog:retry-delay-ms:
   *
   * Milliseconds between rounds while a failure or a recovery is being
   * confirmed (`WATCHDOG_RETRY_DELAY`).
   *
   * Since: 0.1
   */
  properties[PROP_RETRY_DELAY_MS] = UINT_PROP ("retry-delay-ms", 1, 30000);
  /**
   * PkWatchdog:initial-delay-ms:
   *
   * Milliseconds from [method@Watchdog.start] to the first round.
   *
   * Since: 0.1
   */
  properties[PROP_INITIAL_DELAY_MS] = UINT_PROP ("initial-delay-ms", 0, 0);
  /**
   * PkWatchdog:jitter-ms:
   *
   * Up to this many milliseconds, chosen at random, are added to each
   * delay, so that many watchdogs do not check in lockstep.
   *
   * Since: 0.1
   */
  properties[PROP_JITTER_MS] = UINT_PROP ("jitter-ms", 0, 0);
  /**
   * PkWatchdog:timeout-ms:
   *
   * How long each probe of a round may take.
   *
   * Since: 0.1
   */
  properties[PROP_TIMEOUT_MS] = UINT_PROP ("timeout-ms", 1, 30000);
  /**
   * PkWatchdog:fall:
   *
   * Failed rounds in a row that confirm a failure (`WATCHDOG_PPTP_RETRIES`).
   *
   * Since: 0.1
   */
  properties[PROP_FALL] = UINT_PROP ("fall", 1, 3);
  /**
   * PkWatchdog:rise:
   *
   * Passed rounds in a row that confirm a recovery.
   *
   * Since: 0.1
   */
  properties[PROP_RISE] = UINT_PROP ("rise", 1, 2);
  /**
   * PkWatchdog:health:
   *
   * The health as decided by the hysteresis.
   *
   * Since: 0.1
   */
  properties[PROP_HEALTH] =
    g_param_spec_enum ("health", NULL, NULL, PK_TYPE_HEALTH, PK_HEALTH_UNKNOWN,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * PkWatchdog::checked:
   * @self: the watchdog
   * @ok: whether the round passed
   * @reason: (nullable): why it failed
   *
   * Emitted after every check round (or [method@Watchdog.feed]), before any
   * other signal of that round.
   *
   * Since: 0.1
   */
  signals[SIGNAL_CHECKED] =
    g_signal_new ("checked", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_BOOLEAN, G_TYPE_STRING);
  /**
   * PkWatchdog::state-changed:
   * @self: the watchdog
   * @old_health: the previous [enum@Health]
   * @new_health: the new [enum@Health]
   *
   * Emitted when the health changes, including to and from the
   * confirming states.
   *
   * Since: 0.1
   */
  signals[SIGNAL_STATE_CHANGED] =
    g_signal_new ("state-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, PK_TYPE_HEALTH, PK_TYPE_HEALTH);
  /**
   * PkWatchdog::failed:
   * @self: the watchdog
   * @reason: why the last round failed
   *
   * Emitted once when a failure is confirmed. Connect the failure actions
   * here.
   *
   * Since: 0.1
   */
  signals[SIGNAL_FAILED] =
    g_signal_new ("failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_STRING);
  /**
   * PkWatchdog::recovered:
   * @self: the watchdog
   *
   * Emitted once when a recovery is confirmed.
   *
   * Since: 0.1
   */
  signals[SIGNAL_RECOVERED] =
    g_signal_new ("recovered", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);
}

static void
pk_watchdog_init (PkWatchdog *self)
{
  self->probes = g_ptr_array_new_with_free_func (g_object_unref);
  self->hysteresis = pk_hysteresis_new (3, 2);
  self->interval_ms = 180000;
  self->retry_delay_ms = 30000;
  self->timeout_ms = 30000;
}

/**
 * pk_watchdog_new:
 * @name: (nullable): what is watched, for logs
 *
 * Creates a watchdog with the seed's defaults: a round every 180 s, 30 s
 * while confirming, fall 3, rise 2, 30 s per check, no probes.
 *
 * Returns: (transfer full): a new [class@Watchdog]
 *
 * Since: 0.1
 */
PkWatchdog *
pk_watchdog_new (const char *name)
{
  return g_object_new (PK_TYPE_WATCHDOG, "name", name, NULL);
}

/**
 * pk_watchdog_get_name:
 * @self: a [class@Watchdog]
 *
 * Gets the name.
 *
 * Returns: (nullable): the name
 *
 * Since: 0.1
 */
const char *
pk_watchdog_get_name (PkWatchdog *self)
{
  g_return_val_if_fail (PK_IS_WATCHDOG (self), NULL);
  return self->name;
}

/**
 * pk_watchdog_add_probe:
 * @self: a [class@Watchdog]
 * @probe: a [class@Probe]
 *
 * Adds a probe to every later round.
 *
 * Since: 0.1
 */
void
pk_watchdog_add_probe (PkWatchdog *self,
                       PkProbe    *probe)
{
  g_return_if_fail (PK_IS_WATCHDOG (self));
  g_return_if_fail (PK_IS_PROBE (probe));

  g_ptr_array_add (self->probes, g_object_ref (probe));
}

/**
 * pk_watchdog_clear_probes:
 * @self: a [class@Watchdog]
 *
 * Removes all probes (to replace them after the watched thing was
 * rebuilt, with a new pid for example).
 *
 * Since: 0.1
 */
void
pk_watchdog_clear_probes (PkWatchdog *self)
{
  g_return_if_fail (PK_IS_WATCHDOG (self));
  g_ptr_array_set_size (self->probes, 0);
}

/**
 * pk_watchdog_get_n_probes:
 * @self: a [class@Watchdog]
 *
 * Gets the number of probes.
 *
 * Returns: the number of probes
 *
 * Since: 0.1
 */
guint
pk_watchdog_get_n_probes (PkWatchdog *self)
{
  g_return_val_if_fail (PK_IS_WATCHDOG (self), 0);
  return self->probes->len;
}

#define DEFINE_UINT_ACCESSORS(field, prop, min)                          \
  guint                                                                  \
  pk_watchdog_get_##field (PkWatchdog *self)                             \
  {                                                                      \
    g_return_val_if_fail (PK_IS_WATCHDOG (self), 0);                     \
    return self->field;                                                  \
  }                                                                      \
  void                                                                   \
  pk_watchdog_set_##field (PkWatchdog *self,                             \
                           guint       value)                            \
  {                                                                      \
    g_return_if_fail (PK_IS_WATCHDOG (self));                            \
    value = MAX (value, min);                                            \
    if (self->field == value)                                            \
      return;                                                            \
    self->field = value;                                                 \
    g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);        \
  }

/**
 * pk_watchdog_get_interval_ms:
 * @self: a [class@Watchdog]
 *
 * Gets the value of [property@Watchdog:interval-ms].
 *
 * Returns: the value of [property@Watchdog:interval-ms]
 *
 * Since: 0.1
 */
/**
 * pk_watchdog_set_interval_ms:
 * @self: a [class@Watchdog]
 * @interval_ms: milliseconds between rounds
 *
 * Sets [property@Watchdog:interval-ms]; it applies from the next round on.
 *
 * Since: 0.1
 */
DEFINE_UINT_ACCESSORS (interval_ms, PROP_INTERVAL_MS, 1)
/**
 * pk_watchdog_get_retry_delay_ms:
 * @self: a [class@Watchdog]
 *
 * Gets the value of [property@Watchdog:retry-delay-ms].
 *
 * Returns: the value of [property@Watchdog:retry-delay-ms]
 *
 * Since: 0.1
 */
/**
 * pk_watchdog_set_retry_delay_ms:
 * @self: a [class@Watchdog]
 * @retry_delay_ms: milliseconds between rounds while confirming
 *
 * Sets [property@Watchdog:retry-delay-ms].
 *
 * Since: 0.1
 */
DEFINE_UINT_ACCESSORS (retry_delay_ms, PROP_RETRY_DELAY_MS, 1)
/**
 * pk_watchdog_get_initial_delay_ms:
 * @self: a [class@Watchdog]
 *
 * Gets the value of [property@Watchdog:initial-delay-ms].
 *
 * Returns: the value of [property@Watchdog:initial-delay-ms]
 *
 * Since: 0.1
 */
/**
 * pk_watchdog_set_initial_delay_ms:
 * @self: a [class@Watchdog]
 * @initial_delay_ms: milliseconds before the first round
 *
 * Sets [property@Watchdog:initial-delay-ms].
 *
 * Since: 0.1
 */
DEFINE_UINT_ACCESSORS (initial_delay_ms, PROP_INITIAL_DELAY_MS, 0)
/**
 * pk_watchdog_get_jitter_ms:
 * @self: a [class@Watchdog]
 *
 * Gets the value of [property@Watchdog:jitter-ms].
 *
 * Returns: the value of [property@Watchdog:jitter-ms]
 *
 * Since: 0.1
 */
/**
 * pk_watchdog_set_jitter_ms:
 * @self: a [class@Watchdog]
 * @jitter_ms: the largest random addition to each delay, in milliseconds
 *
 * Sets [property@Watchdog:jitter-ms].
 *
 * Since: 0.1
 */
DEFINE_UINT_ACCESSORS (jitter_ms, PROP_JITTER_MS, 0)
/**
 * pk_watchdog_get_timeout_ms:
 * @self: a [class@Watchdog]
 *
 * Gets the value of [property@Watchdog:timeout-ms].
 *
 * Returns: the value of [property@Watchdog:timeout-ms]
 *
 * Since: 0.1
 */
/**
 * pk_watchdog_set_timeout_ms:
 * @self: a [class@Watchdog]
 * @timeout_ms: how long each probe may take, in milliseconds
 *
 * Sets [property@Watchdog:timeout-ms].
 *
 * Since: 0.1
 */
DEFINE_UINT_ACCESSORS (timeout_ms, PROP_TIMEOUT_MS, 1)

/**
 * pk_watchdog_get_fall:
 * @self: a [class@Watchdog]
 *
 * Gets the fall count.
 *
 * Returns: the fall count
 *
 * Since: 0.1
 */
guint
pk_watchdog_get_fall (PkWatchdog *self)
{
  g_return_val_if_fail (PK_IS_WATCHDOG (self), 0);
  return pk_hysteresis_get_fall (self->hysteresis);
}

/**
 * pk_watchdog_set_fall:
 * @self: a [class@Watchdog]
 * @fall: failed rounds in a row that confirm a failure
 *
 * Sets [property@Watchdog:fall].
 *
 * Since: 0.1
 */
void
pk_watchdog_set_fall (PkWatchdog *self,
                      guint       fall)
{
  g_return_if_fail (PK_IS_WATCHDOG (self));
  if (pk_hysteresis_get_fall (self->hysteresis) == MAX (fall, 1))
    return;
  pk_hysteresis_set_fall (self->hysteresis, fall);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FALL]);
}

/**
 * pk_watchdog_get_rise:
 * @self: a [class@Watchdog]
 *
 * Gets the rise count.
 *
 * Returns: the rise count
 *
 * Since: 0.1
 */
guint
pk_watchdog_get_rise (PkWatchdog *self)
{
  g_return_val_if_fail (PK_IS_WATCHDOG (self), 0);
  return pk_hysteresis_get_rise (self->hysteresis);
}

/**
 * pk_watchdog_set_rise:
 * @self: a [class@Watchdog]
 * @rise: passed rounds in a row that confirm a recovery
 *
 * Sets [property@Watchdog:rise].
 *
 * Since: 0.1
 */
void
pk_watchdog_set_rise (PkWatchdog *self,
                      guint       rise)
{
  g_return_if_fail (PK_IS_WATCHDOG (self));
  if (pk_hysteresis_get_rise (self->hysteresis) == MAX (rise, 1))
    return;
  pk_hysteresis_set_rise (self->hysteresis, rise);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RISE]);
}

/**
 * pk_watchdog_get_hysteresis:
 * @self: a [class@Watchdog]
 *
 * Gets the decision core, for its counters.
 *
 * Returns: (transfer none): the decision core, for its counters
 *
 * Since: 0.1
 */
PkHysteresis *
pk_watchdog_get_hysteresis (PkWatchdog *self)
{
  g_return_val_if_fail (PK_IS_WATCHDOG (self), NULL);
  return self->hysteresis;
}

/**
 * pk_watchdog_get_health:
 * @self: a [class@Watchdog]
 *
 * Gets the current health.
 *
 * Returns: the current health
 *
 * Since: 0.1
 */
PkHealth
pk_watchdog_get_health (PkWatchdog *self)
{
  g_return_val_if_fail (PK_IS_WATCHDOG (self), PK_HEALTH_UNKNOWN);
  return pk_hysteresis_get_health (self->hysteresis);
}

/**
 * pk_watchdog_get_consecutive_failures:
 * @self: a [class@Watchdog]
 *
 * Tells how many rounds in a row failed.
 *
 * Returns: how many rounds in a row failed
 *
 * Since: 0.1
 */
guint
pk_watchdog_get_consecutive_failures (PkWatchdog *self)
{
  g_return_val_if_fail (PK_IS_WATCHDOG (self), 0);
  return pk_hysteresis_get_consecutive_failures (self->hysteresis);
}

/**
 * pk_watchdog_get_fails:
 * @self: a [class@Watchdog]
 *
 * Tells how many failures were confirmed in total.
 *
 * Returns: how many failures were confirmed in total
 *
 * Since: 0.1
 */
guint
pk_watchdog_get_fails (PkWatchdog *self)
{
  g_return_val_if_fail (PK_IS_WATCHDOG (self), 0);
  return pk_hysteresis_get_total_failures (self->hysteresis);
}

/**
 * pk_watchdog_get_last_change:
 * @self: a [class@Watchdog]
 *
 * Tells when the health last changed, in microseconds since the epoch (0 if
 * never).
 *
 * Returns: when the health last changed, in microseconds since the epoch
 *   (0 if never)
 *
 * Since: 0.1
 */
gint64
pk_watchdog_get_last_change (PkWatchdog *self)
{
  g_return_val_if_fail (PK_IS_WATCHDOG (self), 0);
  return pk_hysteresis_get_last_change (self->hysteresis);
}

/**
 * pk_watchdog_get_last_reason:
 * @self: a [class@Watchdog]
 *
 * Tells why the last failed round failed.
 *
 * Returns: (nullable): why the last failed round failed
 *
 * Since: 0.1
 */
const char *
pk_watchdog_get_last_reason (PkWatchdog *self)
{
  g_return_val_if_fail (PK_IS_WATCHDOG (self), NULL);
  return self->last_reason;
}

/**
 * pk_watchdog_get_last_check_us:
 * @self: a [class@Watchdog]
 *
 * Tells how long the last round that ran its probes took, from its start
 * until its last probe answered (or timed out): the check latency that
 * `pk-watchdog` exports.
 *
 * Returns: the duration of the last round in microseconds, 0 before the
 *   first
 *
 * Since: 0.2
 */
guint64
pk_watchdog_get_last_check_us (PkWatchdog *self)
{
  g_return_val_if_fail (PK_IS_WATCHDOG (self), 0);
  return self->last_check_us;
}

/**
 * pk_watchdog_feed:
 * @self: a [class@Watchdog]
 * @ok: whether the check passed
 * @reason: (nullable): why it failed
 *
 * Feeds one result as if a round had produced it, and emits the signals
 * it causes. Rounds run by the watchdog itself end here too.
 *
 * Returns: what the result confirmed
 *
 * Since: 0.1
 */
PkHysteresisEvent
pk_watchdog_feed (PkWatchdog *self,
                  gboolean    ok,
                  const char *reason)
{
  g_autoptr(PkWatchdog) hold = NULL;
  PkHealth old_health, new_health;
  PkHysteresisEvent event;

  g_return_val_if_fail (PK_IS_WATCHDOG (self), PK_HYSTERESIS_EVENT_NONE);

  /* A handler may drop the last reference (or stop the watchdog). */
  hold = g_object_ref (self);

  if (!ok)
    {
      g_free (self->last_reason);
      self->last_reason = g_strdup (reason ? reason : "check failed");
    }

  old_health = pk_hysteresis_get_health (self->hysteresis);
  event = pk_hysteresis_feed (self->hysteresis, ok, g_get_real_time ());
  new_health = pk_hysteresis_get_health (self->hysteresis);

  g_signal_emit (self, signals[SIGNAL_CHECKED], 0, ok, ok ? NULL : self->last_reason);
  if (old_health != new_health)
    {
      g_debug ("watchdog %s: %s -> %s", self->name ? self->name : "",
               pk_health_to_string (old_health), pk_health_to_string (new_health));
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HEALTH]);
      g_signal_emit (self, signals[SIGNAL_STATE_CHANGED], 0, old_health, new_health);
    }
  if (event == PK_HYSTERESIS_EVENT_FAILED)
    g_signal_emit (self, signals[SIGNAL_FAILED], 0, self->last_reason);
  else if (event == PK_HYSTERESIS_EVENT_RECOVERED)
    g_signal_emit (self, signals[SIGNAL_RECOVERED], 0);

  return event;
}

/* --- one round --- */

typedef struct {
  guint pending;
  gboolean ok;
  GString *reasons;
  gint64 started;
} RoundData;

static void
round_data_free (RoundData *data)
{
  g_string_free (data->reasons, TRUE);
  g_free (data);
}

static void
round_probe_done (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  GTask *task = user_data;
  PkWatchdog *self = g_task_get_source_object (task);
  RoundData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (!pk_probe_run_finish (PK_PROBE (source), result, NULL, &error))
    {
      data->ok = FALSE;
      if (data->reasons->len > 0)
        g_string_append (data->reasons, "; ");
      g_string_append (data->reasons, error->message);
    }
  if (--data->pending > 0)
    {
      g_object_unref (task);
      return;
    }

  /* A stopped watchdog feeds nothing: its round was cancelled. */
  if (g_task_return_error_if_cancelled (task))
    {
      g_object_unref (task);
      return;
    }
  self->last_check_us = g_get_monotonic_time () - data->started;
  pk_watchdog_feed (self, data->ok, data->ok ? NULL : data->reasons->str);
  if (data->ok)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_new_error (task, PK_ERROR, PK_ERROR_CHECK_FAILED, "%s", data->reasons->str);
  g_object_unref (task);
}

/**
 * pk_watchdog_check_async:
 * @self: a [class@Watchdog]
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when the round ends
 * @user_data: data for @callback
 *
 * Runs one round now: all probes at once, each with
 * [property@Watchdog:timeout-ms], and feeds the result (so the signals are
 * emitted before @callback runs). For `--once` and for tests; a started
 * watchdog runs rounds by itself.
 *
 * Since: 0.1
 */
void
pk_watchdog_check_async (PkWatchdog          *self,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  GTask *task;
  RoundData *data;

  g_return_if_fail (PK_IS_WATCHDOG (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_watchdog_check_async);

  if (self->probes->len == 0)
    {
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                               "watchdog %s has no probes", self->name ? self->name : "");
      g_object_unref (task);
      return;
    }

  data = g_new0 (RoundData, 1);
  data->ok = TRUE;
  data->reasons = g_string_new (NULL);
  data->pending = self->probes->len;
  data->started = g_get_monotonic_time ();
  g_task_set_task_data (task, data, (GDestroyNotify) round_data_free);

  /* Each probe holds a reference to the task; the last one returns it. */
  for (guint i = 1; i < self->probes->len; i++)
    g_object_ref (task);
  for (guint i = 0; i < self->probes->len; i++)
    pk_probe_run_async (g_ptr_array_index (self->probes, i), self->timeout_ms,
                        cancellable, round_probe_done, task);
}

/**
 * pk_watchdog_check_finish:
 * @self: a [class@Watchdog]
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Finishes [method@Watchdog.check_async].
 *
 * Returns: %TRUE if every probe passed; %FALSE with %PK_ERROR_CHECK_FAILED
 *   naming the failures, or %G_IO_ERROR_CANCELLED
 *
 * Since: 0.1
 */
gboolean
pk_watchdog_check_finish (PkWatchdog    *self,
                          GAsyncResult  *result,
                          GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pk_watchdog_check_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* --- the timer driver --- */

static void schedule_round (PkWatchdog *self, guint delay_ms);

static void
round_done (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  PkWatchdog *self = PK_WATCHDOG (source);
  g_autoptr(GError) error = NULL;

  if (!pk_watchdog_check_finish (self, result, &error) &&
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  /* A handler of this round may have stopped (or restarted) us. */
  if (!self->running || self->timer != NULL)
    return;
  g_clear_object (&self->round_cancellable);
  schedule_round (self, pk_hysteresis_is_confirming (self->hysteresis)
                        ? self->retry_delay_ms : self->interval_ms);
}

static gboolean
timer_fired (gpointer user_data)
{
  PkWatchdog *self = user_data;

  g_clear_pointer (&self->timer, g_source_unref);
  g_clear_object (&self->round_cancellable);
  self->round_cancellable = g_cancellable_new ();
  pk_watchdog_check_async (self, self->round_cancellable, round_done, NULL);
  return G_SOURCE_REMOVE;
}

static void
schedule_round (PkWatchdog *self,
                guint       delay_ms)
{
  if (self->jitter_ms > 0)
    delay_ms += g_random_int_range (0, (gint32) MIN (self->jitter_ms, G_MAXINT32 - 1) + 1);
  self->timer = g_timeout_source_new (delay_ms);
  g_source_set_callback (self->timer, timer_fired, self, NULL);
  g_source_set_static_name (self->timer, "[proxykit] watchdog round");
  g_source_attach (self->timer, g_main_context_get_thread_default ());
}

/**
 * pk_watchdog_start:
 * @self: a [class@Watchdog]
 *
 * Starts checking in the thread-default main context: the first round
 * after [property@Watchdog:initial-delay-ms], then at the interval (or retry
 * delay). Does nothing if already running.
 *
 * Since: 0.1
 */
void
pk_watchdog_start (PkWatchdog *self)
{
  g_return_if_fail (PK_IS_WATCHDOG (self));

  if (self->running)
    return;
  self->running = TRUE;
  schedule_round (self, self->initial_delay_ms);
}

/**
 * pk_watchdog_stop:
 * @self: a [class@Watchdog]
 *
 * Stops checking; a round in progress is cancelled and fed nothing.
 * Counters and health are kept. Safe to call from the watchdog's own
 * signal handlers.
 *
 * Since: 0.1
 */
void
pk_watchdog_stop (PkWatchdog *self)
{
  g_return_if_fail (PK_IS_WATCHDOG (self));

  self->running = FALSE;
  if (self->timer != NULL)
    {
      g_source_destroy (self->timer);
      g_clear_pointer (&self->timer, g_source_unref);
    }
  if (self->round_cancellable != NULL)
    {
      g_cancellable_cancel (self->round_cancellable);
      g_clear_object (&self->round_cancellable);
    }
}

/**
 * pk_watchdog_is_running:
 * @self: a [class@Watchdog]
 *
 * Tells whether @self is running.
 *
 * Returns: %TRUE between [method@Watchdog.start] and [method@Watchdog.stop]
 *
 * Since: 0.1
 */
gboolean
pk_watchdog_is_running (PkWatchdog *self)
{
  g_return_val_if_fail (PK_IS_WATCHDOG (self), FALSE);
  return self->running;
}
