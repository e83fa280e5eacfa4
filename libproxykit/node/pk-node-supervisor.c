/* pk-node-supervisor.c: one proxy node's life: tunnel, watchdog, recovery
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkNodeSupervisor:
 *
 * Runs one proxy node (a PPTP tunnel and the SOCKS listener that leaves
 * through it) from its record in a [class@StateStore], so that `pk-socks
 * --pptp-server`, `pk-watchdog` and Python share one code path.
 *
 * - **Bring-up** ([method@NodeSupervisor.bring_up_async]): the tunnel
 *   (a running pppd of the same link name is adopted), then the startup
 *   check through it ([func@startup_check_async]); if either fails, the
 *   tunnel is destroyed again and the node recorded `stopped` with the
 *   reason. [method@NodeSupervisor.record_online] records the listener
 *   that then serves, [method@NodeSupervisor.shut_down_async] takes the
 *   tunnel down again.
 * - **Watching** ([method@NodeSupervisor.refresh]): a node recorded
 *   `online` with a tunnel gets a [class@Watchdog] over it: pppd alive
 *   and `pppN` up (and, with [method@NodeSupervisor.set_socks_check], a
 *   SOCKS round trip through the recorded listener). Every check keeps
 *   the file's `consecutive_failures` in step.
 * - **Failure actions**, on a confirmed failure: the listener is stopped
 *   (the recorded pk-socks gets SIGTERM, if it is still the process that
 *   was recorded), the tunnel destroyed, the SOCKS data cleared, the
 *   status set to `ping_failed` with the reason and `fails` raised by one.
 * - **Recovery** (with [method@NodeSupervisor.set_recovery]): the node is
 *   brought back with exponential backoff: tunnel up from `[tunnel:NAME]`,
 *   startup check, a listener (`pk-socks`, [method@NodeSupervisor.set_socks_command])
 *   on the address it had, `online` once it answers, `recoveries` raised
 *   by one. A failed attempt is rolled back and tried again later.
 *
 * Every write takes the node's lock ([method@StateStore.load_locked]):
 * other processes write the same file. A state file that turns out
 * corrupt while the node is watched is set aside by the store, and the
 * state this supervisor last read goes back in.
 *
 * [ctor@NodeSupervisor.new_from_config] reads `[watchdog]`: `interval`
 * (`WATCHDOG_CHECK_INTERVAL`, 180 s), `retry-delay`
 * (`WATCHDOG_RETRY_DELAY`, 30 s), `retries` (`WATCHDOG_PPTP_RETRIES`, 3),
 * `rise` (2), `timeout` (30 s), `jitter` (0), `check-socks`,
 * `socks-target`, `recover`, `recover-delay` (10 s), `recover-max-delay`
 * (10 min), `run-dir`, `pppd` and `socks-command`, and `[startup-check]`.
 * A tool's flags win over both when it sets them as overrides
 * ([method@Config.set_override]).
 *
 * ```c
 * g_autoptr(PkStateStore) store = pk_state_store_new ("/var/lib/proxykit");
 * g_autoptr(PkNodeSupervisor) sup =
 *   pk_node_supervisor_new_from_config (config, store, "vpn1", &error);
 *
 * if (sup == NULL)
 *   return FALSE;
 * pk_node_supervisor_refresh (sup);   // watch it, or recover it
 * // the node is watched and recovered while the main loop runs
 * ```
 *
 * Since: 0.2
 */

#include "config.h"

#include <json-glib/json-glib.h>

#include "pk-config-private.h"
#include "pk-error.h"
#include "pk-node-supervisor-private.h"
#include "pk-prom-private.h"
#include "pk-util-private.h"


static const char * const watchdog_keys[] = {
  "interval", "retry-delay", "retries", "rise", "timeout", "jitter", "state-dir",
  "run-dir", "check-socks", "socks-target", "recover", "recover-delay",
  "recover-max-delay", "pppd", "socks-command", "metrics-listen", NULL
};




G_DEFINE_FINAL_TYPE (PkNodeSupervisor, pk_node_supervisor, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_NAME,
  PROP_STATE_STORE,
  PROP_RECOVERIES,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];


static void
pk_node_supervisor_dispose (GObject *object)
{
  PkNodeSupervisor *self = PK_NODE_SUPERVISOR (object);

  if (self->wd != NULL)
    {
      pk_watchdog_stop (self->wd);
      g_signal_handlers_disconnect_by_data (self->wd, self);
    }
  if (self->recovery_timer != NULL)
    {
      g_source_destroy (self->recovery_timer);
      g_clear_pointer (&self->recovery_timer, g_source_unref);
    }
  g_clear_object (&self->wd);
  g_clear_object (&self->tunnel);
  g_clear_object (&self->given_tunnel);
  g_clear_object (&self->socks);
  g_clear_object (&self->config);

  G_OBJECT_CLASS (pk_node_supervisor_parent_class)->dispose (object);
}

static void
pk_node_supervisor_finalize (GObject *object)
{
  PkNodeSupervisor *self = PK_NODE_SUPERVISOR (object);

  g_clear_object (&self->store);
  g_free (self->name);
  g_free (self->socks_target_host);
  g_free (self->run_dir);
  g_free (self->pppd);
  g_free (self->socks_command);
  g_free (self->check_target);
  g_free (self->listen);
  g_free (self->known);

  G_OBJECT_CLASS (pk_node_supervisor_parent_class)->finalize (object);
}

static void
pk_node_supervisor_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  PkNodeSupervisor *self = PK_NODE_SUPERVISOR (object);

  switch (prop_id)
    {
    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    case PROP_STATE_STORE:
      g_value_set_object (value, self->store);
      break;
    case PROP_RECOVERIES:
      g_value_set_uint (value, self->recoveries);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_node_supervisor_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  PkNodeSupervisor *self = PK_NODE_SUPERVISOR (object);

  switch (prop_id)
    {
    case PROP_NAME:
      self->name = g_value_dup_string (value);
      break;
    case PROP_STATE_STORE:
      self->store = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_node_supervisor_constructed (GObject *object)
{
  PkNodeSupervisor *self = PK_NODE_SUPERVISOR (object);

  G_OBJECT_CLASS (pk_node_supervisor_parent_class)->constructed (object);
  if (self->store == NULL)
    self->store = pk_state_store_new (NULL);
  self->wd = pk_watchdog_new (self->name);
  g_signal_connect (self->wd, "checked", G_CALLBACK (pk_node_supervisor_on_checked), self);
  g_signal_connect (self->wd, "state-changed", G_CALLBACK (pk_node_supervisor_on_state_changed), self);
  g_signal_connect (self->wd, "failed", G_CALLBACK (pk_node_supervisor_on_failed), self);
}

static void
pk_node_supervisor_class_init (PkNodeSupervisorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pk_node_supervisor_dispose;
  object_class->finalize = pk_node_supervisor_finalize;
  object_class->get_property = pk_node_supervisor_get_property;
  object_class->set_property = pk_node_supervisor_set_property;
  object_class->constructed = pk_node_supervisor_constructed;

  /**
   * PkNodeSupervisor:name:
   *
   * The node's name in the state store (and its `[tunnel:NAME]` section).
   *
   * Since: 0.2
   */
  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * PkNodeSupervisor:state-store:
   *
   * Where the node is recorded.
   *
   * Since: 0.2
   */
  properties[PROP_STATE_STORE] =
    g_param_spec_object ("state-store", NULL, NULL, PK_TYPE_STATE_STORE,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * PkNodeSupervisor:recoveries:
   *
   * How many times this supervisor brought the node back after a
   * confirmed failure (the state file counts across processes).
   *
   * Since: 0.2
   */
  properties[PROP_RECOVERIES] =
    g_param_spec_uint ("recoveries", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
pk_node_supervisor_init (PkNodeSupervisor *self)
{
  self->recover_delay_ms = 10000;
  self->recover_max_delay_ms = 600000;
  self->socks_command = g_strdup ("pk-socks");
  self->check_target = g_strdup (PK_STARTUP_CHECK_TARGET_DEFAULT);
  self->check_tries = 5;
  self->check_delay_ms = 20000;
  self->check_timeout_ms = 30000;
}

/**
 * pk_node_supervisor_new:
 * @store: (nullable): where the node is recorded; %NULL for the default
 *   state directory
 * @name: the node's name (a valid [func@StateStore.is_valid_name])
 *
 * Creates a supervisor with the built-in settings: the watchdog's are
 * those of [method@NodeSupervisor.get_watchdog], recovery is off.
 *
 * Returns: (transfer full): a new [class@NodeSupervisor]
 *
 * Since: 0.2
 */
PkNodeSupervisor *
pk_node_supervisor_new (PkStateStore *store,
                        const char   *name)
{
  g_return_val_if_fail (store == NULL || PK_IS_STATE_STORE (store), NULL);
  g_return_val_if_fail (pk_state_store_is_valid_name (name), NULL);

  return g_object_new (PK_TYPE_NODE_SUPERVISOR, "state-store", store, "name", name, NULL);
}

/**
 * pk_node_supervisor_get_config_keys:
 *
 * Lists the keys of the `[watchdog]` section, for a key check.
 *
 * Returns: (transfer none) (array zero-terminated=1): the keys
 *
 * Since: 0.2
 */
const char * const *
pk_node_supervisor_get_config_keys (void)
{
  return watchdog_keys;
}

/**
 * pk_node_supervisor_check_config:
 * @config: a [class@Config]
 * @extra_keys: (nullable) (array zero-terminated=1): more keys that the
 *   tool reads from `[watchdog]` (a watch of its own beside the tunnels')
 * @error: return location for a `GError`
 *
 * Checks the sections a supervisor reads, once, where a tool starts: that
 * `[watchdog]` has only the keys of [func@NodeSupervisor.get_config_keys]
 * and @extra_keys, and that every `[tunnel:NAME]` section has a valid node
 * name and only known keys ([func@Tunnel.get_config_keys]).
 * [ctor@NodeSupervisor.new_from_config] leaves unknown keys alone.
 *
 * Returns: %TRUE, or %FALSE with @error (%PK_ERROR_CONFIG) naming the
 *   bad section or key
 *
 * Since: 0.2
 */
gboolean
pk_node_supervisor_check_config (PkConfig            *config,
                                 const char * const  *extra_keys,
                                 GError             **error)
{
  g_auto(GStrv) sections = NULL;
  g_autoptr(GStrvBuilder) keys = g_strv_builder_new ();
  g_auto(GStrv) known = NULL;

  g_return_val_if_fail (PK_IS_CONFIG (config), FALSE);

  g_strv_builder_addv (keys, (const char **) watchdog_keys);
  if (extra_keys != NULL)
    g_strv_builder_addv (keys, (const char **) extra_keys);
  known = g_strv_builder_end (keys);
  if (pk_config_has_section (config, "watchdog") &&
      !pk_config_check_keys (config, "watchdog", (const char * const *) known, error))
    return FALSE;
  sections = pk_config_list_sections (config, "tunnel");
  for (guint i = 0; sections && sections[i]; i++)
    {
      g_autofree char *section = g_strdup_printf ("tunnel:%s", sections[i]);

      if (*sections[i] == '\0')
        {
          g_set_error (error, PK_ERROR, PK_ERROR_CONFIG, "a [tunnel] section needs a name: [tunnel:NAME]");
          return FALSE;
        }
      if (!pk_state_store_is_valid_name (sections[i]))
        {
          g_set_error (error, PK_ERROR, PK_ERROR_CONFIG, "[%s]: '%s' is not a valid node name",
                       section, sections[i]);
          return FALSE;
        }
      if (!pk_config_check_keys (config, section, pk_tunnel_get_config_keys (), error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
get_duration (PkConfig    *config,
              const char  *key,
              const char  *env,
              guint        min_ms,
              guint        def,
              guint       *out,
              GError     **error)
{
  return pk_config_get_duration_uint (config, "watchdog", key, env, min_ms, def, out, error);
}

/**
 * pk_node_supervisor_new_from_config:
 * @config: a [class@Config]
 * @store: (nullable): where the node is recorded; %NULL for the store that
 *   `[watchdog]` `state-dir` (`PROXYKIT_STATE_DIR`) names
 * @name: the node's name
 * @error: return location for a `GError`
 *
 * A supervisor with the settings of `[watchdog]` and `[startup-check]`
 * (see the class description): a tool's override
 * ([method@Config.set_override]) wins over the environment, which wins
 * over the file. Recovery builds the tunnel from `[tunnel:NAME]` of
 * @config, with `[watchdog]` `pppd` for a section that names none.
 *
 * Returns: (transfer full): the supervisor; or %NULL with @error
 *   (%PK_ERROR_CONFIG) naming the bad value and where it came from
 *
 * Since: 0.2
 */
PkNodeSupervisor *
pk_node_supervisor_new_from_config (PkConfig      *config,
                                    PkStateStore  *store,
                                    const char    *name,
                                    GError       **error)
{
  g_autoptr(PkNodeSupervisor) self = NULL;
  g_autoptr(PkStateStore) own_store = NULL;
  g_autofree char *target = NULL;
  g_autofree char *socks_target = NULL;
  PkWatchdog *wd;
  guint interval, retry_delay, timeout, jitter, recover_delay, recover_max_delay;
  guint tries, delay_ms, timeout_ms;
  guint64 fall, rise;
  gboolean check_socks, recover;

  g_return_val_if_fail (PK_IS_CONFIG (config), NULL);
  g_return_val_if_fail (store == NULL || PK_IS_STATE_STORE (store), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  if (!pk_state_store_is_valid_name (name))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT, "'%s' is not a valid node name", name);
      return NULL;
    }
  if (!get_duration (config, "interval", "WATCHDOG_CHECK_INTERVAL", 1, 180000, &interval, error) ||
      !get_duration (config, "retry-delay", "WATCHDOG_RETRY_DELAY", 1, 30000, &retry_delay, error) ||
      !pk_config_get_uint (config, "watchdog", "retries", "WATCHDOG_PPTP_RETRIES", 1, 1000, 3, &fall, error) ||
      !pk_config_get_uint (config, "watchdog", "rise", NULL, 1, 1000, 2, &rise, error) ||
      !get_duration (config, "timeout", NULL, 1, 30000, &timeout, error) ||
      !get_duration (config, "jitter", NULL, 0, 0, &jitter, error) ||
      !get_duration (config, "recover-delay", NULL, 1, 10000, &recover_delay, error) ||
      !get_duration (config, "recover-max-delay", NULL, 0, 600000, &recover_max_delay, error) ||
      !pk_config_get_boolean (config, "watchdog", "check-socks", NULL, FALSE, &check_socks, error) ||
      !pk_config_get_boolean (config, "watchdog", "recover", NULL, FALSE, &recover, error) ||
      !pk_startup_check_get_settings (config, &target, &tries, &delay_ms, &timeout_ms, error))
    return NULL;

  if (store == NULL)
    store = own_store = pk_state_store_new_from_config (config, "watchdog");
  self = pk_node_supervisor_new (store, name);
  self->config = g_object_ref (config);

  wd = self->wd;
  pk_watchdog_set_interval_ms (wd, interval);
  pk_watchdog_set_retry_delay_ms (wd, retry_delay);
  pk_watchdog_set_fall (wd, fall);
  pk_watchdog_set_rise (wd, rise);
  pk_watchdog_set_timeout_ms (wd, timeout);
  pk_watchdog_set_jitter_ms (wd, jitter);
  pk_watchdog_set_initial_delay_ms (wd, interval);

  socks_target = pk_config_dup_string (config, "watchdog", "socks-target", NULL, PK_STARTUP_CHECK_TARGET_DEFAULT);
  if (!pk_parse_host_port (socks_target, 0, &self->socks_target_host, &self->socks_target_port, error))
    {
      g_autofree char *where = pk_config_describe_value (config, "watchdog", "socks-target", NULL);

      g_prefix_error (error, "%s: ", where);
      return NULL;
    }
  if (!check_socks)
    g_clear_pointer (&self->socks_target_host, g_free);

  pk_node_supervisor_set_recovery (self, recover, recover_delay, recover_max_delay);
  pk_node_supervisor_set_startup_check (self, target, tries, delay_ms, timeout_ms);
  g_free (self->run_dir);
  self->run_dir = pk_config_dup_string (config, "watchdog", "run-dir", NULL, PK_TUNNEL_RUN_DIR_DEFAULT);
  g_free (self->pppd);
  self->pppd = pk_config_dup_string (config, "watchdog", "pppd", NULL, PK_TUNNEL_PPPD_PATH_DEFAULT);
  g_free (self->socks_command);
  self->socks_command = pk_config_dup_string (config, "watchdog", "socks-command", NULL, "pk-socks");
  return g_steal_pointer (&self);
}

/**
 * pk_node_supervisor_list_nodes:
 * @store: a [class@StateStore]
 * @config: (nullable): a [class@Config]
 *
 * Lists the nodes a supervisor can look after: the state files of @store
 * and the names of the `[tunnel:NAME]` sections of @config. A state
 * directory that cannot be read is logged and left out.
 *
 * Returns: (transfer full) (array zero-terminated=1): the node names:
 *   the store's (sorted), then those of sections without a state file
 *
 * Since: 0.2
 */
char **
pk_node_supervisor_list_nodes (PkStateStore *store,
                               PkConfig     *config)
{
  g_autoptr(GError) local_error = NULL;
  g_auto(GStrv) stored = NULL;
  g_auto(GStrv) sections = NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);

  g_return_val_if_fail (PK_IS_STATE_STORE (store), NULL);
  g_return_val_if_fail (config == NULL || PK_IS_CONFIG (config), NULL);

  stored = pk_state_store_list (store, &local_error);
  if (stored == NULL)
    g_warning ("%s", local_error->message);
  if (config != NULL)
    sections = pk_config_list_sections (config, "tunnel");
  for (guint i = 0; stored && stored[i]; i++)
    g_ptr_array_add (names, g_strdup (stored[i]));
  for (guint i = 0; sections && sections[i]; i++)
    if (*sections[i] != '\0' && (stored == NULL || !g_strv_contains ((const char * const *) stored, sections[i])))
      g_ptr_array_add (names, g_strdup (sections[i]));
  g_ptr_array_add (names, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&names), FALSE);
}

/* --- getters and setters --- */

/**
 * pk_node_supervisor_get_name:
 * @self: a [class@NodeSupervisor]
 *
 * Gets [property@NodeSupervisor:name].
 *
 * Returns: the node's name
 *
 * Since: 0.2
 */
const char *
pk_node_supervisor_get_name (PkNodeSupervisor *self)
{
  g_return_val_if_fail (PK_IS_NODE_SUPERVISOR (self), NULL);
  return self->name;
}

/**
 * pk_node_supervisor_get_state_store:
 * @self: a [class@NodeSupervisor]
 *
 * Gets [property@NodeSupervisor:state-store].
 *
 * Returns: (transfer none): where the node is recorded
 *
 * Since: 0.2
 */
PkStateStore *
pk_node_supervisor_get_state_store (PkNodeSupervisor *self)
{
  g_return_val_if_fail (PK_IS_NODE_SUPERVISOR (self), NULL);
  return self->store;
}

/**
 * pk_node_supervisor_get_watchdog:
 * @self: a [class@NodeSupervisor]
 *
 * Gets the watchdog over the node's tunnel, whose timing and counts
 * ([method@Watchdog.set_interval_ms], [method@Watchdog.set_fall], ...)
 * are the supervisor's. Its probes are the supervisor's business: they
 * are rebuilt whenever the recorded pppd changes.
 *
 * Returns: (transfer none): the watchdog
 *
 * Since: 0.2
 */
PkWatchdog *
pk_node_supervisor_get_watchdog (PkNodeSupervisor *self)
{
  g_return_val_if_fail (PK_IS_NODE_SUPERVISOR (self), NULL);
  return self->wd;
}

/**
 * pk_node_supervisor_get_tunnel:
 * @self: a [class@NodeSupervisor]
 *
 * Gets the tunnel that this supervisor brought up or adopted.
 *
 * Returns: (transfer none) (nullable): the tunnel, %NULL while there is none
 *
 * Since: 0.2
 */
PkTunnel *
pk_node_supervisor_get_tunnel (PkNodeSupervisor *self)
{
  g_return_val_if_fail (PK_IS_NODE_SUPERVISOR (self), NULL);
  return self->tunnel;
}

/**
 * pk_node_supervisor_set_tunnel:
 * @self: a [class@NodeSupervisor]
 * @tunnel: (nullable): the tunnel to bring up
 *
 * Sets the tunnel that [method@NodeSupervisor.bring_up_async] brings up
 * (and that recovery restarts when no configuration is set), instead of
 * one built from `[tunnel:NAME]`.
 *
 * Since: 0.2
 */
void
pk_node_supervisor_set_tunnel (PkNodeSupervisor *self,
                               PkTunnel         *tunnel)
{
  g_return_if_fail (PK_IS_NODE_SUPERVISOR (self));
  g_return_if_fail (tunnel == NULL || PK_IS_TUNNEL (tunnel));
  g_set_object (&self->given_tunnel, tunnel);
}

/**
 * pk_node_supervisor_set_config:
 * @self: a [class@NodeSupervisor]
 * @config: (nullable): a [class@Config]
 *
 * Sets the configuration whose `[tunnel:NAME]` section (`listen` and
 * `socks-args` included) a recovery brings the node back from.
 *
 * Since: 0.2
 */
void
pk_node_supervisor_set_config (PkNodeSupervisor *self,
                               PkConfig         *config)
{
  g_return_if_fail (PK_IS_NODE_SUPERVISOR (self));
  g_return_if_fail (config == NULL || PK_IS_CONFIG (config));
  g_set_object (&self->config, config);
}

/**
 * pk_node_supervisor_set_socks_check:
 * @self: a [class@NodeSupervisor]
 * @target: (nullable): `HOST:PORT` that the SOCKS check connects to
 *   through the node's listener; %NULL for no SOCKS check
 * @error: return location for a `GError`
 *
 * Adds a SOCKS round trip through the recorded listener to the checks.
 *
 * Returns: %TRUE, or %FALSE if @target is not `HOST:PORT`
 *
 * Since: 0.2
 */
gboolean
pk_node_supervisor_set_socks_check (PkNodeSupervisor  *self,
                                    const char        *target,
                                    GError           **error)
{
  g_autofree char *host = NULL;
  guint16 port = 0;

  g_return_val_if_fail (PK_IS_NODE_SUPERVISOR (self), FALSE);

  if (target != NULL && !pk_parse_host_port (target, 0, &host, &port, error))
    return FALSE;
  g_free (self->socks_target_host);
  self->socks_target_host = g_steal_pointer (&host);
  self->socks_target_port = port;
  return TRUE;
}

/**
 * pk_node_supervisor_set_recovery:
 * @self: a [class@NodeSupervisor]
 * @enabled: whether to bring a failed node back
 * @delay_ms: the first delay before an attempt, doubled after each failed
 *   attempt
 * @max_delay_ms: the longest delay
 *
 * Turns recovery on or off.
 *
 * Since: 0.2
 */
void
pk_node_supervisor_set_recovery (PkNodeSupervisor *self,
                                 gboolean          enabled,
                                 guint             delay_ms,
                                 guint             max_delay_ms)
{
  g_return_if_fail (PK_IS_NODE_SUPERVISOR (self));
  self->recover = enabled;
  self->recover_delay_ms = MAX (delay_ms, 1);
  self->recover_max_delay_ms = max_delay_ms;
}

/**
 * pk_node_supervisor_get_recover:
 * @self: a [class@NodeSupervisor]
 *
 * Tells whether recovery is on.
 *
 * Returns: %TRUE if a failed node is brought back
 *
 * Since: 0.2
 */
gboolean
pk_node_supervisor_get_recover (PkNodeSupervisor *self)
{
  g_return_val_if_fail (PK_IS_NODE_SUPERVISOR (self), FALSE);
  return self->recover;
}

/**
 * pk_node_supervisor_set_startup_check:
 * @self: a [class@NodeSupervisor]
 * @target: (nullable): `HOST:PORT`, %NULL for %PK_STARTUP_CHECK_TARGET_DEFAULT
 * @tries: how many tries
 * @delay_ms: the pause between tries
 * @timeout_ms: the timeout of each try
 *
 * Sets the startup check that a bring-up and a recovery run through the
 * tunnel ([func@startup_check_async]; [func@startup_check_get_settings]
 * reads these).
 *
 * Since: 0.2
 */
void
pk_node_supervisor_set_startup_check (PkNodeSupervisor *self,
                                      const char       *target,
                                      guint             tries,
                                      guint             delay_ms,
                                      guint             timeout_ms)
{
  g_return_if_fail (PK_IS_NODE_SUPERVISOR (self));
  g_free (self->check_target);
  self->check_target = g_strdup (target ? target : PK_STARTUP_CHECK_TARGET_DEFAULT);
  self->check_tries = MAX (tries, 1);
  self->check_delay_ms = delay_ms;
  self->check_timeout_ms = MAX (timeout_ms, 1);
}

/**
 * pk_node_supervisor_set_run_dir:
 * @self: a [class@NodeSupervisor]
 * @run_dir: (nullable): where pppd writes its pidfiles, %NULL for
 *   %PK_TUNNEL_RUN_DIR_DEFAULT
 *
 * Sets where the tunnels' pidfiles are.
 *
 * Since: 0.2
 */
void
pk_node_supervisor_set_run_dir (PkNodeSupervisor *self,
                                const char       *run_dir)
{
  g_return_if_fail (PK_IS_NODE_SUPERVISOR (self));
  g_free (self->run_dir);
  self->run_dir = g_strdup (run_dir);
}

/**
 * pk_node_supervisor_set_pppd_path:
 * @self: a [class@NodeSupervisor]
 * @path: (nullable): the pppd binary of tunnels whose `[tunnel:NAME]`
 *   names none
 *
 * Sets the pppd that recovery runs.
 *
 * Since: 0.2
 */
void
pk_node_supervisor_set_pppd_path (PkNodeSupervisor *self,
                                  const char       *path)
{
  g_return_if_fail (PK_IS_NODE_SUPERVISOR (self));
  g_free (self->pppd);
  self->pppd = g_strdup (path);
}

/**
 * pk_node_supervisor_set_socks_command:
 * @self: a [class@NodeSupervisor]
 * @command: the `pk-socks` binary that recovery starts as the node's
 *   listener (looked up in `PATH` without a slash)
 *
 * Sets the listener that recovery starts.
 *
 * Since: 0.2
 */
void
pk_node_supervisor_set_socks_command (PkNodeSupervisor *self,
                                      const char       *command)
{
  g_return_if_fail (PK_IS_NODE_SUPERVISOR (self));
  g_return_if_fail (command != NULL);
  g_free (self->socks_command);
  self->socks_command = g_strdup (command);
}

/**
 * pk_node_supervisor_get_recoveries:
 * @self: a [class@NodeSupervisor]
 *
 * Gets [property@NodeSupervisor:recoveries].
 *
 * Returns: how many recoveries this supervisor completed
 *
 * Since: 0.2
 */
guint
pk_node_supervisor_get_recoveries (PkNodeSupervisor *self)
{
  g_return_val_if_fail (PK_IS_NODE_SUPERVISOR (self), 0);
  return self->recoveries;
}

/**
 * pk_node_supervisor_get_state_failed:
 * @self: a [class@NodeSupervisor]
 *
 * Tells whether a write of the node's state failed (its file could not be
 * locked or written), so that a run that lost a count does not look clean.
 *
 * Returns: %TRUE after a failed state write
 *
 * Since: 0.2
 */
gboolean
pk_node_supervisor_get_state_failed (PkNodeSupervisor *self)
{
  g_return_val_if_fail (PK_IS_NODE_SUPERVISOR (self), FALSE);
  return self->state_failed;
}

/**
 * pk_node_supervisor_is_watching:
 * @self: a [class@NodeSupervisor]
 *
 * Tells whether the node's tunnel is being watched.
 *
 * Returns: %TRUE while a watchdog runs over the tunnel
 *
 * Since: 0.2
 */
gboolean
pk_node_supervisor_is_watching (PkNodeSupervisor *self)
{
  g_return_val_if_fail (PK_IS_NODE_SUPERVISOR (self), FALSE);
  return self->watching;
}

/**
 * pk_node_supervisor_is_busy:
 * @self: a [class@NodeSupervisor]
 *
 * Tells whether failure actions or a recovery are under way (or a
 * recovery attempt is scheduled).
 *
 * Returns: %TRUE while the supervisor acts on the node
 *
 * Since: 0.2
 */
gboolean
pk_node_supervisor_is_busy (PkNodeSupervisor *self)
{
  g_return_val_if_fail (PK_IS_NODE_SUPERVISOR (self), FALSE);
  return self->busy || self->recovery_timer != NULL;
}

/* A recovery completed: the property follows. */
void
pk_node_supervisor_count_recovery (PkNodeSupervisor *self)
{
  self->recoveries++;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RECOVERIES]);
}

/* --- status and metrics --- */

/**
 * pk_node_supervisor_dup_status_json:
 * @store: a [class@StateStore]
 * @names: (array zero-terminated=1): the nodes to describe
 *
 * The nodes' recorded state as a JSON array of their state objects (see
 * [class@NodeState]), each with `pppd_alive`: whether the recorded pppd
 * still runs. A node whose state cannot be read is logged and left out.
 *
 * Returns: (transfer full): the JSON text
 *
 * Since: 0.2
 */
char *
pk_node_supervisor_dup_status_json (PkStateStore       *store,
                                    const char * const *names)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;

  g_return_val_if_fail (PK_IS_STATE_STORE (store), NULL);
  g_return_val_if_fail (names != NULL, NULL);

  json_builder_begin_array (b);
  for (guint i = 0; names[i]; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PkNodeState) state = pk_state_store_load_or_new (store, names[i], &error);
      g_autofree char *json = NULL;
      g_autoptr(JsonNode) node = NULL;

      if (state == NULL)
        {
          g_warning ("node %s: %s", names[i], error->message);
          continue;
        }
      json = pk_node_state_to_json (state);
      node = json_from_string (json, NULL);
      json_object_set_boolean_member (json_node_get_object (node), "pppd_alive",
                                      pk_node_state_tunnel_pid_is_alive (state));
      json_builder_add_value (b, g_steal_pointer (&node));
    }
  json_builder_end_array (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  return json_generator_to_data (gen, NULL);
}

/**
 * pk_node_supervisor_dup_prometheus:
 * @store: (nullable): the state store whose nodes to describe
 * @supervisors: (array length=n_supervisors): the supervisors whose check
 *   latencies to add
 * @n_supervisors: the length of @supervisors
 *
 * What `pk-watchdog` serves on `/metrics`: the nodes of @store
 * ([method@StateStore.dup_prometheus]: status, `fails`, `recoveries`,
 * consecutive failures) and the histogram
 * `proxykit_node_check_duration_seconds{node}` of the supervisors' check
 * rounds. For a collector of [class@MetricsServer].
 *
 * Returns: (transfer full): the text, in the Prometheus text format
 *
 * Since: 0.2
 */
char *
pk_node_supervisor_dup_prometheus (PkStateStore      *store,
                                   PkNodeSupervisor **supervisors,
                                   guint              n_supervisors)
{
  g_autoptr(PkPromWriter) w = pk_prom_writer_new ();
  g_autofree char *nodes = NULL;

  g_return_val_if_fail (store == NULL || PK_IS_STATE_STORE (store), NULL);
  g_return_val_if_fail (supervisors != NULL || n_supervisors == 0, NULL);

  if (store != NULL)
    nodes = pk_state_store_dup_prometheus (store);
  pk_prom_writer_family (w, "proxykit_node_check_duration_seconds", PK_PROM_HISTOGRAM,
                         "How long the node's check rounds took.");
  for (guint i = 0; i < n_supervisors; i++)
    {
      const char *labels[] = { "node", supervisors[i]->name, NULL };

      g_return_val_if_fail (PK_IS_NODE_SUPERVISOR (supervisors[i]), NULL);
      pk_prom_writer_histogram (w, "proxykit_node_check_duration_seconds", labels, &supervisors[i]->latency);
    }
  return g_strconcat (nodes ? nodes : "", pk_prom_writer_get_text (w), NULL);
}
