/* pk-dongle-watch-config.c: a PkDongleWatch from the configuration
 *
 * [watchdog] says how often and how strictly (dongle-interval,
 * dongle-retry-delay, dongle-retries, dongle-cooldown, max-recoveries,
 * and the tunnels' rise, timeout, check-socks and socks-target); [toggle]
 * and [dongles] say how the ladder climbs (PkToggleLadderSettings) and
 * how the modems are reached ([dongle:N] or [toggle] username, password,
 * request_timeout).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "pk-config-private.h"
#include "pk-dongle-watch-private.h"
#include "pk-error.h"
#include "pk-hilink-modem.h"
#include "pk-hilink-modem-private.h"
#include "pk-probe.h"

/**
 * pk_dongle_watch_get_config_keys:
 *
 * The `[watchdog]` keys [ctor@DongleWatch.new_from_config] reads beside
 * those of the tunnels' supervisor, for a tool's check of the section:
 * `dongles`, `dongle-interval`, `dongle-retry-delay`, `dongle-retries`,
 * `dongle-cooldown`, `max-recoveries`, and those of
 * [func@UsbControllerReset.get_config_keys].
 *
 * Returns: (transfer none) (array zero-terminated=1): the keys
 *
 * Since: 0.2
 */
const char * const *
pk_dongle_watch_get_config_keys (void)
{
  static const char * const own[] = {
    "dongles", "dongle-interval", "dongle-retry-delay", "dongle-retries", "dongle-cooldown",
    "max-recoveries", NULL
  };
  static GStrv keys;

  if (g_once_init_enter (&keys))
    {
      g_autoptr(GStrvBuilder) b = g_strv_builder_new ();

      g_strv_builder_addv (b, (const char **) own);
      g_strv_builder_addv (b, (const char **) pk_usb_controller_reset_get_config_keys ());
      g_once_init_leave (&keys, g_strv_builder_end (b));
    }
  return (const char * const *) keys;
}

/**
 * pk_dongle_watch_config_enabled:
 * @config: a [class@Config]
 * @error: return location for a `GError`
 *
 * Tells whether the configuration asks for the dongles to be watched:
 * `dongles = true` in `[watchdog]`.
 *
 * Returns: %TRUE if it does; %FALSE if not, or with @error set when the
 *   value is not a boolean
 *
 * Since: 0.2
 */
gboolean
pk_dongle_watch_config_enabled (PkConfig  *config,
                                GError   **error)
{
  gboolean enabled = FALSE;

  g_return_val_if_fail (PK_IS_CONFIG (config), FALSE);
  return pk_config_get_boolean (config, "watchdog", "dongles", NULL, FALSE, &enabled, error) && enabled;
}

static gboolean
get_ms (PkConfig    *config,
        const char  *key,
        guint        def,
        guint       *out,
        GError     **error)
{
  return pk_config_get_duration_uint (config, "watchdog", key, NULL, 1, def, out, error);
}

/**
 * pk_dongle_watch_new_from_config:
 * @config: a [class@Config]
 * @error: return location for a `GError`
 *
 * Creates a watch from the configuration: the dongles of
 * [ctor@DongleMonitor.new_from_config], the state store of `[watchdog]
 * state-dir`, the ladder of [ctor@ToggleLadderSettings.new_from_config],
 * and from `[watchdog]`: `dongle-interval` (default 3 min),
 * `dongle-retry-delay` (30 s), `dongle-retries` (2), `dongle-cooldown`
 * (the `[toggle] recovery_cooldown`, 3 min), `max-recoveries` (the
 * `[toggle] max_recoveries`, 2), `rise` (2), `timeout` (30 s), and with
 * `check-socks = true` a SOCKS CONNECT to `socks-target` through each
 * dongle's listener; and the USB controller reset of
 * [ctor@UsbControllerReset.new_from_config] (`allow-controller-reset`,
 * off by default, `controller-reset-threshold`,
 * `controller-reset-interval`), recorded where the ladder's locks are
 * shared with `pk-toggle` (`[toggle] state_dir`).
 *
 * Returns: (transfer full) (nullable): a new [class@DongleWatch], or
 *   %NULL with %PK_ERROR_CONFIG naming a bad value
 *
 * Since: 0.2
 */
PkDongleWatch *
pk_dongle_watch_new_from_config (PkConfig  *config,
                                 GError   **error)
{
  g_autoptr(PkDongleMonitor) monitor = NULL;
  g_autoptr(PkStateStore) store = NULL;
  g_autoptr(PkToggleLadderSettings) ladder = NULL;
  g_autoptr(PkDongleWatch) self = NULL;
  g_autofree char *target = NULL;
  guint64 n;
  guint ms;
  gboolean check_socks;

  g_return_val_if_fail (PK_IS_CONFIG (config), NULL);

  monitor = pk_dongle_monitor_new_from_config (config, error);
  if (monitor == NULL)
    return NULL;
  ladder = pk_toggle_ladder_settings_new_from_config (config, error);
  if (ladder == NULL)
    return NULL;
  {
    /* the modem rung's [toggle] settings, checked once here */
    g_autoptr(PkToggleModemStep) rung = pk_toggle_modem_step_new_from_config (config, error);
    if (rung == NULL)
      return NULL;
  }
  store = pk_state_store_new_from_config (config, "watchdog");
  self = pk_dongle_watch_new (monitor, store);
  pk_dongle_watch_set_config (self, config);
  {
    /* Recorded where the ladder's locks and cooldowns are shared with
     * pk-toggle ([toggle] state_dir), so that "once per interval" holds
     * for the host and not per tool. */
    const char *shared = pk_toggle_ladder_settings_get_state_dir (ladder);
    g_autoptr(PkStateStore) reset_store = shared ? pk_state_store_new (shared) : g_object_ref (store);
    g_autoptr(PkUsbControllerReset) reset = pk_usb_controller_reset_new_from_config (config, "watchdog",
                                                                                      reset_store, error);
    if (reset == NULL)
      return NULL;
    pk_dongle_watch_set_controller_reset (self, reset);
  }
  pk_dongle_watch_set_ladder_settings (self, ladder);

  if (!get_ms (config, "dongle-interval", PK_DONGLE_WATCH_DEFAULT_INTERVAL_MS, &ms, error))
    return NULL;
  pk_dongle_watch_set_interval_ms (self, ms);
  if (!get_ms (config, "dongle-retry-delay", 30000, &ms, error))
    return NULL;
  pk_dongle_watch_set_retry_delay_ms (self, ms);
  if (!get_ms (config, "timeout", 30000, &ms, error))
    return NULL;
  pk_dongle_watch_set_timeout_ms (self, ms);
  if (!pk_config_get_uint (config, "watchdog", "dongle-retries", NULL, 1, 1000,
                           PK_DONGLE_WATCH_DEFAULT_RETRIES, &n, error))
    return NULL;
  pk_dongle_watch_set_fall (self, (guint) n);
  if (!pk_config_get_uint (config, "watchdog", "rise", NULL, 1, 1000, 2, &n, error))
    return NULL;
  pk_dongle_watch_set_rise (self, (guint) n);

  /* [watchdog] overrides [toggle] for the watch's recoveries. */
  if (pk_config_has_value (config, "watchdog", "dongle-cooldown", NULL))
    {
      guint v;

      if (!pk_config_get_duration_uint (config, "watchdog", "dongle-cooldown", NULL, 0, 0, &v, error))
        return NULL;
      pk_toggle_ladder_settings_set_recovery_cooldown (ladder, v);
    }
  if (pk_config_has_value (config, "watchdog", "max-recoveries", NULL))
    {
      if (!pk_config_get_uint (config, "watchdog", "max-recoveries", NULL, 0, 1000, 0, &n, error))
        return NULL;
      pk_toggle_ladder_settings_set_max_recoveries (ladder, (guint) n);
    }

  if (!pk_config_get_boolean (config, "watchdog", "check-socks", NULL, FALSE, &check_socks, error))
    return NULL;
  target = pk_config_dup_string (config, "watchdog", "socks-target", NULL, PK_STARTUP_CHECK_TARGET_DEFAULT);
  if (check_socks)
    {
      g_autoptr(GError) local_error = NULL;

      if (!pk_dongle_watch_set_socks_check (self, target, &local_error))
        {
          pk_config_value_error (config, "watchdog", "socks-target", NULL, g_steal_pointer (&local_error), error);
          return NULL;
        }
    }
  return g_steal_pointer (&self);
}

PkModem *
pk_dongle_watch_make_modem (PkConfig  *config,
                            PkDongle  *dongle,
                            GError   **error)
{
  guint id = pk_dongle_get_id (dongle);
  g_autofree char *api = pk_dongle_dup_api_url (dongle);
  g_autoptr(PkEgress) egress = pk_dongle_dup_egress (dongle);
  g_autoptr(PkHilinkModem) modem = NULL;

  /* A dongle without its interface yet: the subnet convention. */
  if (api == NULL)
    api = g_strdup_printf ("http://192.168.%u.1", id);
  if (egress == NULL)
    {
      g_autofree char *address = g_strdup_printf ("192.168.%u.100", id);
      egress = pk_egress_new_full (address, NULL, 0, 0, error);
      if (egress == NULL)
        return NULL;
    }
  modem = pk_hilink_modem_new (api, egress, error);
  if (modem == NULL)
    return NULL;
  if (config != NULL && !pk_hilink_modem_apply_config (modem, config, id, error))
    return NULL;
  return PK_MODEM (g_steal_pointer (&modem));
}

PkToggleModemStep *
pk_dongle_watch_make_modem_step (PkConfig *config)
{
  g_autoptr(GError) error = NULL;
  PkToggleModemStep *step = config ? pk_toggle_modem_step_new_from_config (config, &error) : NULL;

  if (step != NULL)
    return step;
  if (error != NULL)
    g_warning ("%s: the modem rung uses the built-in settings", error->message);
  return pk_toggle_modem_step_new ();
}
