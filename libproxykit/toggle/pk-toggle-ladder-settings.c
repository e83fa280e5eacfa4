/* pk-toggle-ladder-settings.c: the ladder's settings from [toggle], and the ladder built from them
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkToggleLadderSettings:
 *
 * What a [class@Toggle]'s ladder needs from the configuration: how far a
 * plain toggle may climb (`[toggle] max_stage`), the timings of the USB
 * and power rungs (`usb_off`, `usb_wait`, `power_off`, `power_wait`), the
 * host-wide limit on recoveries at once (`max_recoveries`), the recovery
 * cooldown (`recovery_cooldown`), the routing backend (`[dongles]
 * routing`) and the directory where locks and cooldowns are shared with
 * other processes (`[toggle] state_dir`, else `$RUNTIME_DIRECTORY`, else
 * the run directory).
 *
 * `pk-toggle` and [class@DongleWatch] read them once with
 * [ctor@ToggleLadderSettings.new_from_config] and build the rungs with
 * [method@Toggle.add_ladder] or [method@Toggle.add_recovery_ladder], so
 * that a toggle and a recovery climb the same ladder.
 *
 * ```c
 * g_autoptr(PkToggleLadderSettings) settings = pk_toggle_ladder_settings_new_from_config (config, &error);
 *
 * pk_toggle_add_recovery_ladder (toggle, dongle, PK_TOGGLE_STEP (modem_step), settings);
 * pk_toggle_run_async (toggle, PK_ROTATION_METHOD_DATA, TRUE, NULL, on_recovered, NULL);
 * ```
 *
 * Since: 0.2
 */

#include "config.h"

#include <unistd.h>

#include "pk-config-private.h"
#include "pk-error.h"
#include "pk-paths.h"
#include "pk-toggle-ladder.h"

struct _PkToggleLadderSettings
{
  gatomicrefcount ref_count;

  char *max_stage;
  gboolean routing;
  PkRoutingBackend backend;
  guint usb_off_ms;
  guint usb_wait_ms;
  guint power_off_ms;
  guint power_wait_ms;
  guint max_recoveries;
  guint recovery_cooldown_ms;
  char *state_dir;
};

G_DEFINE_BOXED_TYPE (PkToggleLadderSettings, pk_toggle_ladder_settings,
                     pk_toggle_ladder_settings_ref, pk_toggle_ladder_settings_unref)

/**
 * pk_toggle_ladder_settings_new:
 *
 * Creates the built-in settings: a plain toggle stops at the modem,
 * routing through the automatic backend, a USB rebind waits
 * %PK_TOGGLE_USB_DEFAULT_WAIT_MS, a port stays off
 * %PK_TOGGLE_POWER_DEFAULT_OFF_MS, %PK_TOGGLE_DEFAULT_MAX_RECOVERIES
 * recoveries at once, %PK_TOGGLE_DEFAULT_RECOVERY_COOLDOWN_MS of
 * cooldown, no state directory.
 *
 * Returns: (transfer full): new settings
 *
 * Since: 0.2
 */
PkToggleLadderSettings *
pk_toggle_ladder_settings_new (void)
{
  PkToggleLadderSettings *self = g_new0 (PkToggleLadderSettings, 1);

  g_atomic_ref_count_init (&self->ref_count);
  self->max_stage = g_strdup ("modem");
  self->routing = TRUE;
  self->backend = PK_ROUTING_BACKEND_AUTO;
  self->usb_off_ms = 1000;
  self->usb_wait_ms = PK_TOGGLE_USB_DEFAULT_WAIT_MS;
  self->power_off_ms = PK_TOGGLE_POWER_DEFAULT_OFF_MS;
  self->power_wait_ms = PK_TOGGLE_POWER_DEFAULT_WAIT_MS;
  self->max_recoveries = PK_TOGGLE_DEFAULT_MAX_RECOVERIES;
  self->recovery_cooldown_ms = PK_TOGGLE_DEFAULT_RECOVERY_COOLDOWN_MS;
  return self;
}

/* The [toggle] durations: a guint of milliseconds each. */
static gboolean
get_ms (PkConfig    *config,
        const char  *key,
        guint        def,
        guint       *out,
        GError     **error)
{
  return pk_config_get_duration_uint (config, "toggle", key, NULL, 0, def, out, error);
}

/* Where locks and cooldowns are shared: the first that can be made and
 * written, or NULL (each process then keeps its own). */
static char *
find_state_dir (PkConfig *config)
{
  g_autofree char *dir = pk_config_dup_string (config, "toggle", "state_dir", NULL, NULL);

  if (dir == NULL)
    {
      const char *runtime = g_getenv ("RUNTIME_DIRECTORY");
      dir = g_strdup (runtime != NULL && *runtime != '\0' ? runtime : PK_RUN_DIR);
    }
  if (g_mkdir_with_parents (dir, 0755) == 0 && access (dir, W_OK) == 0)
    return g_steal_pointer (&dir);
  g_debug ("no state directory (%s is not writable): locks and cooldowns stay in this process", dir);
  return NULL;
}

/**
 * pk_toggle_ladder_settings_new_from_config:
 * @config: a [class@Config]
 * @error: return location for a `GError`
 *
 * Reads the settings from the `[toggle]` section (`max_stage`, `usb_off`,
 * `usb_wait`, `power_off`, `power_wait`, `max_recoveries`,
 * `recovery_cooldown`, `state_dir`) and `[dongles] routing`.
 *
 * Returns: (transfer full) (nullable): the settings, or %NULL with
 *   %PK_ERROR_CONFIG naming a bad value
 *
 * Since: 0.2
 */
PkToggleLadderSettings *
pk_toggle_ladder_settings_new_from_config (PkConfig  *config,
                                           GError   **error)
{
  g_autoptr(PkToggleLadderSettings) self = pk_toggle_ladder_settings_new ();
  guint64 max_recoveries;

  g_return_val_if_fail (PK_IS_CONFIG (config), NULL);

  g_free (self->max_stage);
  self->max_stage = pk_config_dup_string (config, "toggle", "max_stage", NULL, "modem");
  if (!g_strv_contains (pk_toggle_ladder_get_stages (), self->max_stage))
    {
      g_autofree char *where = pk_config_describe (config, "toggle", "max_stage");
      g_set_error (error, PK_ERROR, PK_ERROR_CONFIG, "%s: '%s': expected routing, modem, usb, power or hub",
                   where, self->max_stage);
      return NULL;
    }
  if (!get_ms (config, "usb_off", self->usb_off_ms, &self->usb_off_ms, error) ||
      !get_ms (config, "usb_wait", self->usb_wait_ms, &self->usb_wait_ms, error) ||
      !get_ms (config, "power_off", self->power_off_ms, &self->power_off_ms, error) ||
      !get_ms (config, "power_wait", self->power_wait_ms, &self->power_wait_ms, error) ||
      !get_ms (config, "recovery_cooldown", self->recovery_cooldown_ms, &self->recovery_cooldown_ms, error) ||
      !pk_config_get_uint (config, "toggle", "max_recoveries", NULL, 0, 1000, self->max_recoveries,
                           &max_recoveries, error))
    return NULL;
  self->max_recoveries = (guint) max_recoveries;

  if (!pk_routing_backend_from_config (config, &self->routing, &self->backend, error))
    return NULL;
  self->state_dir = find_state_dir (config);
  return g_steal_pointer (&self);
}

/**
 * pk_toggle_ladder_settings_ref:
 * @self: a [struct@ToggleLadderSettings]
 *
 * Takes a reference.
 *
 * Returns: (transfer full): @self
 *
 * Since: 0.2
 */
PkToggleLadderSettings *
pk_toggle_ladder_settings_ref (PkToggleLadderSettings *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

/**
 * pk_toggle_ladder_settings_unref:
 * @self: (transfer full): a [struct@ToggleLadderSettings]
 *
 * Drops a reference; the last one frees the settings.
 *
 * Since: 0.2
 */
void
pk_toggle_ladder_settings_unref (PkToggleLadderSettings *self)
{
  g_return_if_fail (self != NULL);
  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;
  g_free (self->max_stage);
  g_free (self->state_dir);
  g_free (self);
}

/**
 * pk_toggle_ladder_settings_get_max_stage:
 * @self: a [struct@ToggleLadderSettings]
 *
 * Gets the last rung a plain toggle may take (`[toggle] max_stage`).
 *
 * Returns: a stage name, such as `modem`
 *
 * Since: 0.2
 */
const char *
pk_toggle_ladder_settings_get_max_stage (PkToggleLadderSettings *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->max_stage;
}

/**
 * pk_toggle_ladder_settings_get_state_dir:
 * @self: a [struct@ToggleLadderSettings]
 *
 * Gets the directory where locks, cooldowns and recovery slots are shared
 * with other processes.
 *
 * Returns: (nullable): the directory, or %NULL when none could be made
 *
 * Since: 0.2
 */
const char *
pk_toggle_ladder_settings_get_state_dir (PkToggleLadderSettings *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->state_dir;
}

/**
 * pk_toggle_ladder_settings_set_state_dir:
 * @self: a [struct@ToggleLadderSettings]
 * @state_dir: (nullable): a directory, or %NULL
 *
 * Sets the directory where locks, cooldowns and recovery slots are
 * shared (a `--state-dir` flag).
 *
 * Since: 0.2
 */
void
pk_toggle_ladder_settings_set_state_dir (PkToggleLadderSettings *self,
                                         const char             *state_dir)
{
  g_return_if_fail (self != NULL);
  g_free (self->state_dir);
  self->state_dir = g_strdup (state_dir);
}

/**
 * pk_toggle_ladder_settings_get_max_recoveries:
 * @self: a [struct@ToggleLadderSettings]
 *
 * Gets how many recoveries may run at once on the host (0: no limit).
 *
 * Returns: the limit
 *
 * Since: 0.2
 */
guint
pk_toggle_ladder_settings_get_max_recoveries (PkToggleLadderSettings *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->max_recoveries;
}

/**
 * pk_toggle_ladder_settings_set_max_recoveries:
 * @self: a [struct@ToggleLadderSettings]
 * @max_recoveries: how many recoveries may run at once on the host, 0
 *   for no limit
 *
 * Sets the host-wide limit on recoveries at once.
 *
 * Since: 0.2
 */
void
pk_toggle_ladder_settings_set_max_recoveries (PkToggleLadderSettings *self,
                                              guint                   max_recoveries)
{
  g_return_if_fail (self != NULL);
  self->max_recoveries = max_recoveries;
}

/**
 * pk_toggle_ladder_settings_get_recovery_cooldown:
 * @self: a [struct@ToggleLadderSettings]
 *
 * Gets the pause after a recovery of a dongle before its next one.
 *
 * Returns: the cooldown in milliseconds
 *
 * Since: 0.2
 */
guint
pk_toggle_ladder_settings_get_recovery_cooldown (PkToggleLadderSettings *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->recovery_cooldown_ms;
}

/**
 * pk_toggle_ladder_settings_set_recovery_cooldown:
 * @self: a [struct@ToggleLadderSettings]
 * @cooldown_ms: the pause after a recovery, in milliseconds (0: none)
 *
 * Sets the pause after a recovery of a dongle before its next one.
 *
 * Since: 0.2
 */
void
pk_toggle_ladder_settings_set_recovery_cooldown (PkToggleLadderSettings *self,
                                                 guint                   cooldown_ms)
{
  g_return_if_fail (self != NULL);
  self->recovery_cooldown_ms = cooldown_ms;
}

static guint
stage_index (const char *name)
{
  const char * const *stages = pk_toggle_ladder_get_stages ();

  for (guint i = 0; stages[i] != NULL; i++)
    if (g_str_equal (stages[i], name))
      return i;
  return G_MAXUINT;
}

/**
 * pk_toggle_add_ladder:
 * @self: a [class@Toggle]
 * @dongle: (nullable): the dongle on USB, or %NULL when it is not found
 * @modem_step: the modem rung
 * @settings: the ladder's settings
 * @first: the lowest rung to add, such as `routing`
 * @last: the highest rung to add, such as `hub`
 *
 * Adds the rungs from @first to @last to @self, in the ladder's order
 * (`pk_toggle_ladder_get_stages()`), with the timings of @settings, and
 * sets the toggle's routing (unless `[dongles] routing = off`), its limit
 * on recoveries at once, its recovery cooldown and, when @settings has
 * one, its state directory. Without @dongle only the modem rung is added.
 * A plain toggle is bounded with [method@Toggle.set_max_stage] on top.
 *
 * Since: 0.2
 */
void
pk_toggle_add_ladder (PkToggle               *self,
                      PkDongle               *dongle,
                      PkToggleStep           *modem_step,
                      PkToggleLadderSettings *settings,
                      const char             *first,
                      const char             *last)
{
  const char * const *stages = pk_toggle_ladder_get_stages ();
  g_autoptr(PkRouting) routing = NULL;
  guint from, to;

  g_return_if_fail (PK_IS_TOGGLE (self));
  g_return_if_fail (dongle == NULL || PK_IS_DONGLE (dongle));
  g_return_if_fail (PK_IS_TOGGLE_STEP (modem_step));
  g_return_if_fail (settings != NULL);
  from = stage_index (first);
  to = stage_index (last);
  g_return_if_fail (from != G_MAXUINT && to != G_MAXUINT);

  pk_toggle_set_max_recoveries (self, settings->max_recoveries);
  pk_toggle_set_recovery_cooldown (self, settings->recovery_cooldown_ms);
  if (settings->state_dir != NULL)
    pk_toggle_set_state_dir (self, settings->state_dir);
  if (dongle != NULL && settings->routing)
    {
      routing = pk_routing_new (dongle);
      pk_routing_set_backend (routing, settings->backend);
      pk_toggle_set_routing (self, routing);
    }
  for (guint i = from; i <= to; i++)
    {
      g_autoptr(PkToggleStep) step = NULL;

      if (g_str_equal (stages[i], "modem"))
        step = g_object_ref (modem_step);
      else if (dongle == NULL || (g_str_equal (stages[i], "routing") && routing == NULL))
        {
          /* Not on USB: the modem is all there is; a toggle of it with
           * no rung left fails with "no step". */
          g_debug ("dongle %u: not on USB, no %s rung", pk_toggle_get_id (self), stages[i]);
          continue;
        }
      else if (g_str_equal (stages[i], "routing"))
        step = PK_TOGGLE_STEP (pk_toggle_routing_step_new (routing));
      else if (g_str_equal (stages[i], "usb"))
        {
          PkToggleUsbStep *usb = pk_toggle_usb_step_new (dongle);
          pk_toggle_usb_step_set_timing (usb, settings->usb_off_ms, settings->usb_wait_ms);
          step = PK_TOGGLE_STEP (usb);
        }
      else
        {
          PkTogglePowerStep *power = pk_toggle_power_step_new (dongle, g_str_equal (stages[i], "hub"));
          pk_toggle_power_step_set_timing (power, settings->power_off_ms, settings->power_wait_ms);
          step = PK_TOGGLE_STEP (power);
        }
      pk_toggle_add_step (self, step);
    }
}

/**
 * pk_toggle_add_recovery_ladder:
 * @self: a [class@Toggle]
 * @dongle: (nullable): the dongle on USB, or %NULL when it is not found
 * @modem_step: the modem rung
 * @settings: the ladder's settings
 *
 * Adds every rung, from the routing to the hub, as a recovery climbs
 * them (`pk-toggle --recover`, `/recover/N`, [class@DongleWatch]): see
 * [method@Toggle.add_ladder]. Run the toggle with `recovery` %TRUE, so
 * that a healthy dongle counts.
 *
 * Since: 0.2
 */
void
pk_toggle_add_recovery_ladder (PkToggle               *self,
                               PkDongle               *dongle,
                               PkToggleStep           *modem_step,
                               PkToggleLadderSettings *settings)
{
  pk_toggle_add_ladder (self, dongle, modem_step, settings, "routing", "hub");
}
