/* pk-hysteresis.c: rise/fall hysteresis over check results, without timers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkHysteresis:
 *
 * The decision core of [class@Watchdog], kept apart from any timer or I/O so
 * that it can be driven by anything that produces pass/fail results (a
 * watchdog's probes, an alert rule over metrics) and tested without real
 * time: the caller passes the current time with each result.
 *
 * Like haproxy's `rise`/`fall` and keepalived's `vrrp_script`: a thing
 * that is up goes down only after @fall failed checks in a row, and a
 * thing that is down comes back only after @rise passed checks in a row.
 * A pass while a failure is being confirmed (or a failure while a
 * recovery is being confirmed) resets the count, so a flapping check
 * never confirms anything.
 *
 * ```c
 * g_autoptr(PkHysteresis) h = pk_hysteresis_new (3, 2);
 *
 * pk_hysteresis_feed (h, FALSE, now);               // PK_HEALTH_FAILING
 * pk_hysteresis_feed (h, FALSE, now + 30);          // PK_HEALTH_FAILING
 * if (pk_hysteresis_feed (h, FALSE, now + 60) == PK_HYSTERESIS_EVENT_FAILED)
 *   act_on_failure ();                              // PK_HEALTH_DOWN
 * ```
 *
 * A new hysteresis starts in %PK_HEALTH_UNKNOWN: its first pass makes it
 * %PK_HEALTH_UP without confirmation (there was nothing to recover from),
 * while failures need the fall count as from %PK_HEALTH_UP.
 *
 * Since: 0.1
 */

#include "config.h"

#include "pk-hysteresis.h"

struct _PkHysteresis
{
  gatomicrefcount ref;

  guint fall;
  guint rise;
  PkHealth health;
  guint consecutive_failures;
  guint consecutive_successes;
  guint total_failures;
  guint total_recoveries;
  guint64 n_checks;
  gint64 last_change;
};

G_DEFINE_BOXED_TYPE (PkHysteresis, pk_hysteresis, pk_hysteresis_ref, pk_hysteresis_unref)

/**
 * pk_health_to_string:
 * @health: a [enum@Health]
 *
 * Gets a short name for @health (`up`, `failing`, `down`, ...).
 *
 * Returns: a short name for @health (`up`, `failing`, `down`, ...)
 *
 * Since: 0.1
 */
const char *
pk_health_to_string (PkHealth health)
{
  switch (health)
    {
    case PK_HEALTH_UNKNOWN: return "unknown";
    case PK_HEALTH_UP: return "up";
    case PK_HEALTH_FAILING: return "failing";
    case PK_HEALTH_DOWN: return "down";
    case PK_HEALTH_RECOVERING: return "recovering";
    default: return "invalid";
    }
}

/**
 * pk_hysteresis_new:
 * @fall: failed checks in a row that confirm a failure (at least 1)
 * @rise: passed checks in a row that confirm a recovery (at least 1)
 *
 * Creates the decision core of a watchdog: @fall failed checks in a row make a
 * node down, @rise passed checks in a row make it up again.
 *
 * Returns: (transfer full): a new [struct@Hysteresis] in %PK_HEALTH_UNKNOWN
 *
 * Since: 0.1
 */
PkHysteresis *
pk_hysteresis_new (guint fall,
                   guint rise)
{
  PkHysteresis *self = g_new0 (PkHysteresis, 1);

  g_atomic_ref_count_init (&self->ref);
  self->fall = MAX (fall, 1);
  self->rise = MAX (rise, 1);
  self->health = PK_HEALTH_UNKNOWN;
  return self;
}

/**
 * pk_hysteresis_ref:
 * @self: a [struct@Hysteresis]
 *
 * Takes a reference to @self.
 *
 * Returns: (transfer full): @self
 *
 * Since: 0.1
 */
PkHysteresis *
pk_hysteresis_ref (PkHysteresis *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_atomic_ref_count_inc (&self->ref);
  return self;
}

/**
 * pk_hysteresis_unref:
 * @self: (transfer full): a [struct@Hysteresis]
 *
 * Drops a reference.
 *
 * Since: 0.1
 */
void
pk_hysteresis_unref (PkHysteresis *self)
{
  g_return_if_fail (self != NULL);
  if (g_atomic_ref_count_dec (&self->ref))
    g_free (self);
}

static void
set_health (PkHysteresis *self,
            PkHealth      health,
            gint64        now)
{
  if (self->health == health)
    return;
  self->health = health;
  self->last_change = now;
}

/**
 * pk_hysteresis_feed:
 * @self: a [struct@Hysteresis]
 * @ok: whether the check passed
 * @now: the time of the result, in the caller's unit (pk-watchdog uses
 *   microseconds since the epoch); recorded as the last change
 *
 * Feeds one check result.
 *
 * Returns: what the result confirmed: a failure (the fall count was
 *   reached), a recovery (the rise count was reached) or nothing
 *
 * Since: 0.1
 */
PkHysteresisEvent
pk_hysteresis_feed (PkHysteresis *self,
                    gboolean      ok,
                    gint64        now)
{
  g_return_val_if_fail (self != NULL, PK_HYSTERESIS_EVENT_NONE);

  self->n_checks++;

  if (ok)
    {
      self->consecutive_failures = 0;
      self->consecutive_successes++;
      switch (self->health)
        {
        case PK_HEALTH_UNKNOWN:
        case PK_HEALTH_FAILING:
        case PK_HEALTH_UP:
          set_health (self, PK_HEALTH_UP, now);
          return PK_HYSTERESIS_EVENT_NONE;
        case PK_HEALTH_DOWN:
        case PK_HEALTH_RECOVERING:
        default:
          if (self->consecutive_successes >= self->rise)
            {
              set_health (self, PK_HEALTH_UP, now);
              self->total_recoveries++;
              return PK_HYSTERESIS_EVENT_RECOVERED;
            }
          set_health (self, PK_HEALTH_RECOVERING, now);
          return PK_HYSTERESIS_EVENT_NONE;
        }
    }

  self->consecutive_successes = 0;
  self->consecutive_failures++;
  switch (self->health)
    {
    case PK_HEALTH_DOWN:
    case PK_HEALTH_RECOVERING:
      set_health (self, PK_HEALTH_DOWN, now);
      return PK_HYSTERESIS_EVENT_NONE;
    case PK_HEALTH_UNKNOWN:
    case PK_HEALTH_UP:
    case PK_HEALTH_FAILING:
    default:
      if (self->consecutive_failures >= self->fall)
        {
          set_health (self, PK_HEALTH_DOWN, now);
          self->total_failures++;
          return PK_HYSTERESIS_EVENT_FAILED;
        }
      set_health (self, PK_HEALTH_FAILING, now);
      return PK_HYSTERESIS_EVENT_NONE;
    }
}

/**
 * pk_hysteresis_reset:
 * @self: a [struct@Hysteresis]
 * @health: the health to start from
 * @now: the time, recorded as the last change
 *
 * Starts over from @health with the consecutive counters at zero (after a
 * tunnel was rebuilt, for example). Totals are kept.
 *
 * Since: 0.1
 */
void
pk_hysteresis_reset (PkHysteresis *self,
                     PkHealth      health,
                     gint64        now)
{
  g_return_if_fail (self != NULL);

  self->consecutive_failures = 0;
  self->consecutive_successes = 0;
  self->health = health;
  self->last_change = now;
}

/**
 * pk_hysteresis_get_health:
 * @self: a [struct@Hysteresis]
 *
 * Gets the current health.
 *
 * Returns: the current health
 *
 * Since: 0.1
 */
PkHealth
pk_hysteresis_get_health (PkHysteresis *self)
{
  g_return_val_if_fail (self != NULL, PK_HEALTH_UNKNOWN);
  return self->health;
}

/**
 * pk_hysteresis_is_confirming:
 * @self: a [struct@Hysteresis]
 *
 * Tells whether a failure or a recovery is being confirmed.
 *
 * Returns: %TRUE while a failure or a recovery is being confirmed (a
 *   watchdog then checks at its retry delay instead of its interval)
 *
 * Since: 0.1
 */
gboolean
pk_hysteresis_is_confirming (PkHysteresis *self)
{
  g_return_val_if_fail (self != NULL, FALSE);
  return self->health == PK_HEALTH_FAILING || self->health == PK_HEALTH_RECOVERING;
}

/**
 * pk_hysteresis_get_fall:
 * @self: a [struct@Hysteresis]
 *
 * Gets the fall count.
 *
 * Returns: the fall count
 *
 * Since: 0.1
 */
guint
pk_hysteresis_get_fall (PkHysteresis *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->fall;
}

/**
 * pk_hysteresis_set_fall:
 * @self: a [struct@Hysteresis]
 * @fall: failed checks in a row that confirm a failure (at least 1)
 *
 * Sets the fall count.
 *
 * Since: 0.1
 */
void
pk_hysteresis_set_fall (PkHysteresis *self,
                        guint         fall)
{
  g_return_if_fail (self != NULL);
  self->fall = MAX (fall, 1);
}

/**
 * pk_hysteresis_get_rise:
 * @self: a [struct@Hysteresis]
 *
 * Gets the rise count.
 *
 * Returns: the rise count
 *
 * Since: 0.1
 */
guint
pk_hysteresis_get_rise (PkHysteresis *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->rise;
}

/**
 * pk_hysteresis_set_rise:
 * @self: a [struct@Hysteresis]
 * @rise: passed checks in a row that confirm a recovery (at least 1)
 *
 * Sets the rise count.
 *
 * Since: 0.1
 */
void
pk_hysteresis_set_rise (PkHysteresis *self,
                        guint         rise)
{
  g_return_if_fail (self != NULL);
  self->rise = MAX (rise, 1);
}

/**
 * pk_hysteresis_get_consecutive_failures:
 * @self: a [struct@Hysteresis]
 *
 * Tells how many checks in a row failed.
 *
 * Returns: how many checks in a row failed
 *
 * Since: 0.1
 */
guint
pk_hysteresis_get_consecutive_failures (PkHysteresis *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->consecutive_failures;
}

/**
 * pk_hysteresis_get_consecutive_successes:
 * @self: a [struct@Hysteresis]
 *
 * Tells how many checks in a row passed.
 *
 * Returns: how many checks in a row passed
 *
 * Since: 0.1
 */
guint
pk_hysteresis_get_consecutive_successes (PkHysteresis *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->consecutive_successes;
}

/**
 * pk_hysteresis_get_total_failures:
 * @self: a [struct@Hysteresis]
 *
 * Tells how many failures were confirmed in total (a node's `fails`).
 *
 * Returns: how many failures were confirmed in total (a node's `fails`)
 *
 * Since: 0.1
 */
guint
pk_hysteresis_get_total_failures (PkHysteresis *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->total_failures;
}

/**
 * pk_hysteresis_set_total_failures:
 * @self: a [struct@Hysteresis]
 * @fails: the total to continue from (read back from a state file)
 *
 * Sets the total of confirmed failures.
 *
 * Since: 0.1
 */
void
pk_hysteresis_set_total_failures (PkHysteresis *self,
                                  guint         fails)
{
  g_return_if_fail (self != NULL);
  self->total_failures = fails;
}

/**
 * pk_hysteresis_get_total_recoveries:
 * @self: a [struct@Hysteresis]
 *
 * Tells how many recoveries were confirmed in total.
 *
 * Returns: how many recoveries were confirmed in total
 *
 * Since: 0.1
 */
guint
pk_hysteresis_get_total_recoveries (PkHysteresis *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->total_recoveries;
}

/**
 * pk_hysteresis_get_n_checks:
 * @self: a [struct@Hysteresis]
 *
 * Tells how many results were fed.
 *
 * Returns: how many results were fed
 *
 * Since: 0.1
 */
guint64
pk_hysteresis_get_n_checks (PkHysteresis *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->n_checks;
}

/**
 * pk_hysteresis_get_last_change:
 * @self: a [struct@Hysteresis]
 *
 * Gets the time passed with the result that last changed the health, or 0 if
 * it never changed.
 *
 * Returns: the time passed with the result that last changed the health,
 *   or 0 if it never changed
 *
 * Since: 0.1
 */
gint64
pk_hysteresis_get_last_change (PkHysteresis *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->last_change;
}
