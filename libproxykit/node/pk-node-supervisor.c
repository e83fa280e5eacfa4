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

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "pk-config-private.h"
#include "pk-error.h"
#include "pk-node-supervisor.h"
#include "pk-prom-private.h"
#include "pk-util-private.h"

/* How long a restarted pk-socks may take to answer on its address. */
#define LISTENER_READY_TRIES 100
#define LISTENER_READY_DELAY_MS 100

static const char * const watchdog_keys[] = {
  "interval", "retry-delay", "retries", "rise", "timeout", "jitter", "state-dir",
  "run-dir", "check-socks", "socks-target", "recover", "recover-delay",
  "recover-max-delay", "pppd", "socks-command", "metrics-listen", NULL
};

/* Upper bounds of the check latency histogram, in seconds. */
static const double latency_bounds[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 };

struct _PkNodeSupervisor
{
  GObject parent_instance;

  char *name;
  PkStateStore *store;
  PkConfig *config;             /* [tunnel:NAME] for recovery; may be NULL */
  PkWatchdog *wd;               /* its probes follow the recorded pppd */

  /* settings */
  char *socks_target_host;      /* NULL: no SOCKS check */
  guint16 socks_target_port;
  gboolean recover;
  guint recover_delay_ms;
  guint recover_max_delay_ms;
  char *run_dir;
  char *pppd;
  char *socks_command;
  char *check_target;
  guint check_tries;
  guint check_delay_ms;
  guint check_timeout_ms;
  PkTunnel *given_tunnel;       /* set_tunnel(): brought up instead of [tunnel:NAME] */

  /* what runs */
  gboolean watching;
  int watched_pid;              /* the pppd the probes were built for */
  PkTunnel *tunnel;             /* a tunnel we adopted or started */
  GSubprocess *socks;           /* a listener we started */
  char *listen;                 /* the listener's address, kept across a failure */
  int own_listener_pid;         /* record_online()'s listener */
  gboolean busy;                /* failure actions or a recovery are running */
  guint attempt;
  GSource *recovery_timer;
  char *known;                  /* the state last read while watching, as JSON */
  GTask *once;                  /* check_once_async() in progress */
  gboolean state_failed;        /* a state file could not be locked or written */
  guint recoveries;
  PkPromHistogram *latency;
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

static void schedule_recovery (PkNodeSupervisor *self);
static void node_checked (PkWatchdog *wd, gboolean ok, const char *reason, PkNodeSupervisor *self);
static void node_state_changed (PkWatchdog *wd, PkHealth old_health, PkHealth new_health,
                                PkNodeSupervisor *self);
static void node_failed (PkWatchdog *wd, const char *reason, PkNodeSupervisor *self);

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
  pk_prom_histogram_free (self->latency);

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
  g_signal_connect (self->wd, "checked", G_CALLBACK (node_checked), self);
  g_signal_connect (self->wd, "state-changed", G_CALLBACK (node_state_changed), self);
  g_signal_connect (self->wd, "failed", G_CALLBACK (node_failed), self);
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
  self->latency = pk_prom_histogram_new (latency_bounds, G_N_ELEMENTS (latency_bounds));
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
              guint64      min_ms,
              guint64      def,
              guint       *out,
              GError     **error)
{
  guint64 ms;

  if (!pk_config_get_duration_bounded (config, "watchdog", key, env, min_ms, G_MAXUINT, def, &ms, error))
    return FALSE;
  *out = ms;
  return TRUE;
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
 * @error: return location for a `GError`
 *
 * Lists the nodes a supervisor can look after: the state files of @store
 * and the names of the `[tunnel:NAME]` sections of @config. A state
 * directory that cannot be read is logged and left out.
 *
 * Returns: (transfer full) (array zero-terminated=1): the node names,
 *   sorted, the store's first
 *
 * Since: 0.2
 */
char **
pk_node_supervisor_list_nodes (PkStateStore  *store,
                               PkConfig      *config,
                               GError       **error)
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

/* --- the state file --- */

static PkNodeState *
load_node (PkNodeSupervisor *self)
{
  g_autoptr(GError) error = NULL;
  PkNodeState *state = pk_state_store_load_or_new (self->store, self->name, &error);

  if (state == NULL)
    g_warning ("node %s: %s", self->name, error->message);
  return state;
}

/* Changes are made under the node's lock: other processes write the
 * same file. */
static PkNodeState *
lock_node (PkNodeSupervisor *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkNodeState) peek = pk_state_store_load (self->store, self->name, &error);
  gboolean corrupt = peek == NULL && g_error_matches (error, PK_ERROR, PK_ERROR_STATE);
  PkNodeState *state;

  g_clear_error (&error);
  state = pk_state_store_load_locked (self->store, self->name, &error);
  if (state == NULL)
    {
      g_warning ("node %s: %s", self->name, error->message);
      self->state_failed = TRUE;
      return NULL;
    }
  /* The store kept a corrupt file aside and started the node afresh:
   * what this supervisor last read goes back in, so that a watched node
   * stays watched. */
  if (corrupt && self->watching && self->known != NULL && pk_node_state_get_tunnel_pid (state) == 0)
    {
      PkNodeState *known = pk_node_state_new_from_json (self->known, -1, NULL);

      if (known != NULL)
        {
          g_object_unref (state);
          state = known;
          /* the lock is held: a plain save keeps it */
          if (pk_state_store_save (self->store, state, &error))
            g_message ("node %s: recorded its last known state again", self->name);
          else
            g_warning ("node %s: %s", self->name, error->message);
        }
    }
  return state;
}

static void
save_unlock (PkNodeSupervisor *self,
             PkNodeState      *state)
{
  g_autoptr(GError) error = NULL;

  if (!pk_state_store_save_unlock (self->store, state, &error))
    {
      g_warning ("node %s: %s", self->name, error->message);
      self->state_failed = TRUE;
    }
}

static void
set_tunnel_record (PkNodeState *state,
                   PkTunnel    *tunnel)
{
  gboolean running = pk_tunnel_get_pid (tunnel) != 0;

  pk_node_state_set_tunnel (state, pk_tunnel_get_server (tunnel), pk_tunnel_get_linkname (tunnel),
                            pk_tunnel_get_unit (tunnel), running ? pk_tunnel_get_interface (tunnel) : NULL,
                            running ? pk_tunnel_get_pid (tunnel) : 0);
}

/* The bring-up's records: the tunnel as it is, the status. */
static void
record_bring_up (PkNodeSupervisor *self,
                 PkNodeStatus      status,
                 const char       *reason)
{
  g_autoptr(PkNodeState) state = lock_node (self);

  if (state == NULL)
    return;
  if (self->tunnel != NULL)
    set_tunnel_record (state, self->tunnel);
  pk_node_state_clear_socks (state);
  pk_node_state_set_status (state, status, reason);
  save_unlock (self, state);
}

/* --- watching --- */

/* Where to connect to reach a listener: its address, or loopback for a
 * wildcard one. */
static const char *
connect_host_for (const char *host)
{
  if (g_str_equal (host, "0.0.0.0"))
    return "127.0.0.1";
  if (g_str_equal (host, "::"))
    return "::1";
  return host;
}

static gboolean
node_is_watchable (PkNodeState *state)
{
  return pk_node_state_get_status (state) == PK_NODE_STATUS_ONLINE &&
         pk_node_state_get_tunnel_pid (state) > 0 &&
         pk_node_state_get_tunnel_interface (state) != NULL;
}

static void
node_checked (PkWatchdog       *wd,
              gboolean          ok,
              const char       *reason,
              PkNodeSupervisor *self)
{
  g_autoptr(PkNodeState) state = NULL;
  guint cf = pk_watchdog_get_consecutive_failures (wd);

  pk_prom_histogram_observe (self->latency, pk_watchdog_get_last_check_us (wd) / 1e6);
  /* check_once_async() counts in the file itself */
  if (self->once != NULL)
    return;
  if (ok)
    g_message ("node %s: ok", self->name);
  else
    g_message ("node %s: check failed (%u/%u): %s", self->name, cf, pk_watchdog_get_fall (wd), reason);

  /* keep the file's counter in step with what happened */
  state = lock_node (self);
  if (state == NULL)
    return;
  if (pk_node_state_get_consecutive_failures (state) != cf)
    {
      pk_node_state_set_consecutive_failures (state, cf);
      save_unlock (self, state);
    }
  else
    pk_state_store_unlock (self->store, self->name);
}

static void
node_state_changed (PkWatchdog       *wd,
                    PkHealth          old_health,
                    PkHealth          new_health,
                    PkNodeSupervisor *self)
{
  g_message ("node %s: %s -> %s", self->name, pk_health_to_string (old_health),
             pk_health_to_string (new_health));
}

/* (Re)builds the watchdog's probes for the tunnel recorded in @state. */
static void
watch_node (PkNodeSupervisor *self,
            PkNodeState      *state,
            gboolean          start)
{
  g_autoptr(PkProbe) alive = NULL;
  g_autoptr(PkProbe) link = NULL;
  int pid = pk_node_state_get_tunnel_pid (state);

  g_free (self->known);
  self->known = pk_node_state_to_json (state);
  if (self->watching && self->watched_pid == pid)
    return;

  pk_watchdog_stop (self->wd);
  pk_watchdog_clear_probes (self->wd);
  pk_hysteresis_reset (pk_watchdog_get_hysteresis (self->wd), PK_HEALTH_UP, g_get_real_time ());
  pk_hysteresis_set_total_failures (pk_watchdog_get_hysteresis (self->wd), pk_node_state_get_fails (state));

  alive = pk_probe_new_process (pid);
  link = pk_probe_new_interface (pk_node_state_get_tunnel_interface (state));
  pk_watchdog_add_probe (self->wd, alive);
  pk_watchdog_add_probe (self->wd, link);
  if (self->socks_target_host != NULL && pk_node_state_get_socks_listen (state) != NULL)
    {
      g_autofree char *host = NULL;
      guint16 port = 0;

      if (pk_parse_host_port (pk_node_state_get_socks_listen (state), 0, &host, &port, NULL))
        {
          g_autoptr(PkProbe) socks = pk_probe_new_socks (connect_host_for (host), port,
                                                         self->socks_target_host,
                                                         self->socks_target_port);

          pk_watchdog_add_probe (self->wd, socks);
        }
    }
  self->watched_pid = pid;
  self->watching = TRUE;
  if (start)
    pk_watchdog_start (self->wd);
  g_message ("node %s: watching pppd %d on %s%s", self->name, pid,
             pk_node_state_get_tunnel_interface (state),
             pk_watchdog_get_n_probes (self->wd) > 2 ? " and its SOCKS listener" : "");
}

static void
unwatch_node (PkNodeSupervisor *self)
{
  pk_watchdog_stop (self->wd);
  self->watching = FALSE;
  self->watched_pid = 0;
}

/**
 * pk_node_supervisor_refresh:
 * @self: a [class@NodeSupervisor]
 *
 * Reads the node's state and acts on it, as `pk-watchdog` does at start,
 * on every rescan and on SIGHUP: a node `online` with a tunnel is watched
 * (again, if its pppd changed); any other node is not, and a
 * `ping_failed` one is recovered if recovery is on. Does nothing while
 * failure actions or a recovery run.
 *
 * Returns: %TRUE if the node is watched now
 *
 * Since: 0.2
 */
gboolean
pk_node_supervisor_refresh (PkNodeSupervisor *self)
{
  g_autoptr(PkNodeState) state = NULL;

  g_return_val_if_fail (PK_IS_NODE_SUPERVISOR (self), FALSE);

  if (self->busy)
    return self->watching;
  state = load_node (self);
  if (state == NULL)
    return self->watching;
  if (node_is_watchable (state))
    watch_node (self, state, TRUE);
  else
    {
      unwatch_node (self);
      if (self->recover && pk_node_state_get_status (state) == PK_NODE_STATUS_PING_FAILED)
        schedule_recovery (self);
    }
  return self->watching;
}

/**
 * pk_node_supervisor_stop:
 * @self: a [class@NodeSupervisor]
 *
 * Stops watching and calls off a scheduled recovery. The tunnel and the
 * listener keep running; an attempt already under way finishes.
 *
 * Since: 0.2
 */
void
pk_node_supervisor_stop (PkNodeSupervisor *self)
{
  g_return_if_fail (PK_IS_NODE_SUPERVISOR (self));

  unwatch_node (self);
  if (self->recovery_timer != NULL)
    {
      g_source_destroy (self->recovery_timer);
      g_clear_pointer (&self->recovery_timer, g_source_unref);
      self->busy = FALSE;
    }
}

/* --- failure actions --- */

static void
stop_listener (PkNodeSupervisor *self,
               PkNodeState      *state)
{
  int pid = pk_node_state_get_socks_pid (state);

  if (self->socks != NULL)
    {
      g_subprocess_send_signal (self->socks, SIGTERM);
      g_clear_object (&self->socks);
      g_message ("node %s: stopped its listener", self->name);
    }
  else if (pid > 0 && pid != getpid ())
    {
      /* the pid may have been reused (after a reboot, say): signal it
       * only while it is the process that was recorded */
      if (!pk_node_state_socks_pid_is_current (state))
        g_message ("node %s: listener process %d is gone (that pid is not the recorded listener now); "
                   "nothing to signal", self->name, pid);
      else if (kill (pid, SIGTERM) == 0)
        g_message ("node %s: stopped its listener (sent SIGTERM to pk-socks, pid %d)", self->name, pid);
      else
        g_message ("node %s: listener process %d is already gone", self->name, pid);
    }
}

static PkTunnel *
tunnel_for_state (PkNodeSupervisor *self,
                  PkNodeState      *state)
{
  const char *linkname = pk_node_state_get_tunnel_linkname (state);
  PkTunnel *tunnel;

  if (linkname == NULL)
    return NULL;
  tunnel = pk_tunnel_new (linkname);
  pk_tunnel_set_run_dir (tunnel, self->run_dir);
  if (pk_node_state_get_tunnel_server (state) != NULL)
    pk_tunnel_set_server (tunnel, pk_node_state_get_tunnel_server (state), NULL);
  pk_tunnel_set_unit (tunnel, pk_node_state_get_tunnel_unit (state));
  return tunnel;
}

static void
finish_once (PkNodeSupervisor *self)
{
  g_autoptr(GTask) task = g_steal_pointer (&self->once);
  GError *error = g_task_get_task_data (task);

  if (self->state_failed)
    g_task_return_new_error (task, PK_ERROR, PK_ERROR_STATE,
                             "node %s: the state directory could not be locked or written", self->name);
  else if (error != NULL)
    g_task_return_error (task, g_error_copy (error));
  else
    g_task_return_boolean (task, TRUE);
}

/* What the failure actions carry until the tunnel is down. */
typedef struct {
  PkNodeSupervisor *self;
  char *reason;
} Failure;

static void
failure_free (Failure *failure)
{
  g_object_unref (failure->self);
  g_free (failure->reason);
  g_free (failure);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Failure, failure_free)

static void
failure_tunnel_stopped (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  g_autoptr(Failure) failure = user_data;
  PkNodeSupervisor *self = failure->self;
  const char *reason = failure->reason;
  g_autoptr(GError) error = NULL;
  g_autoptr(PkNodeState) state = NULL;

  if (source != NULL && !pk_tunnel_stop_finish (PK_TUNNEL (source), result, &error))
    g_warning ("node %s: %s", self->name, error->message);
  g_clear_object (&self->tunnel);

  state = lock_node (self);
  if (state != NULL)
    {
      /* the tunnel's identity stays (recovery rebuilds it), its process goes */
      pk_node_state_set_tunnel (state, pk_node_state_get_tunnel_server (state),
                                pk_node_state_get_tunnel_linkname (state),
                                pk_node_state_get_tunnel_unit (state), NULL, 0);
      pk_node_state_clear_socks (state);
      pk_node_state_set_status (state, PK_NODE_STATUS_PING_FAILED, reason);
      pk_node_state_set_fails (state, pk_node_state_get_fails (state) + 1);
      pk_node_state_set_consecutive_failures (state, pk_watchdog_get_consecutive_failures (self->wd));
      pk_node_state_set_last_change (state, g_get_real_time () / G_USEC_PER_SEC);
      save_unlock (self, state);
      g_message ("node %s: status ping_failed, fails %u", self->name, pk_node_state_get_fails (state));
    }
  unwatch_node (self);
  self->busy = FALSE;
  if (self->once != NULL)
    finish_once (self);
  else if (self->recover)
    schedule_recovery (self);
}

static void
run_failure_actions (PkNodeSupervisor *self,
                     const char       *reason)
{
  g_autoptr(PkNodeState) state = load_node (self);
  g_autoptr(GError) error = NULL;
  Failure *failure;

  if (self->busy || state == NULL)
    return;
  self->busy = TRUE;
  pk_watchdog_stop (self->wd);
  g_message ("node %s: tunnel failure confirmed: %s", self->name, reason);

  failure = g_new0 (Failure, 1);
  failure->self = g_object_ref (self);
  failure->reason = g_strdup (reason);

  if (pk_node_state_get_socks_listen (state) != NULL)
    {
      g_free (self->listen);
      self->listen = g_strdup (pk_node_state_get_socks_listen (state));
    }
  stop_listener (self, state);

  if (self->tunnel == NULL)
    {
      self->tunnel = tunnel_for_state (self, state);
      if (self->tunnel != NULL && !pk_tunnel_adopt (self->tunnel, &error))
        g_debug ("node %s: %s", self->name, error->message);
    }
  if (self->tunnel == NULL)
    {
      failure_tunnel_stopped (NULL, NULL, failure);
      return;
    }
  g_message ("node %s: destroying tunnel %s", self->name, pk_tunnel_get_linkname (self->tunnel));
  pk_tunnel_stop_async (self->tunnel, NULL, failure_tunnel_stopped, failure);
}

static void
node_failed (PkWatchdog       *wd,
             const char       *reason,
             PkNodeSupervisor *self)
{
  if (self->once == NULL)
    run_failure_actions (self, reason);
}

/* --- --once --- */

static void
once_checked (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(PkNodeSupervisor) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PkNodeState) state = NULL;
  gboolean ok = pk_watchdog_check_finish (PK_WATCHDOG (source), result, &error);
  guint fall = pk_watchdog_get_fall (self->wd);
  guint cf;

  if (error != NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_task_set_task_data (self->once, g_steal_pointer (&error), (GDestroyNotify) g_error_free);
      finish_once (self);
      return;
    }
  /* Across runs, the counter lives in the state file. */
  state = lock_node (self);
  if (state == NULL)
    {
      finish_once (self);
      return;
    }
  cf = ok ? 0 : pk_node_state_get_consecutive_failures (state) + 1;
  g_message ("node %s: %s%s%s (%u/%u)", self->name, ok ? "ok" : "check failed",
             ok ? "" : ": ", ok ? "" : error->message, cf, fall);
  pk_node_state_set_consecutive_failures (state, cf);
  save_unlock (self, state);
  if (!ok)
    g_task_set_task_data (self->once, g_error_copy (error), (GDestroyNotify) g_error_free);
  if (cf >= fall)
    {
      run_failure_actions (self, error->message);
      /* failure_tunnel_stopped() finishes, now or once the tunnel is down */
      if (self->busy || self->once == NULL)
        return;
    }
  finish_once (self);
}

/**
 * pk_node_supervisor_check_once_async:
 * @self: a [class@NodeSupervisor]
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when the check (and any failure
 *   actions) ended
 * @user_data: data for @callback
 *
 * One check of a watchable node, for a run from cron: the count of
 * failed checks in a row lives in the state file, and the failure
 * actions run when it reaches the watchdog's fall count. A node that is
 * not `online` with a tunnel passes without a check. Nothing is
 * recovered, and a watchdog that [method@NodeSupervisor.refresh] started
 * is stopped (refresh again to go on watching).
 *
 * Since: 0.2
 */
void
pk_node_supervisor_check_once_async (PkNodeSupervisor    *self,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(PkNodeState) state = NULL;

  g_return_if_fail (PK_IS_NODE_SUPERVISOR (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_node_supervisor_check_once_async);
  if (self->once != NULL || self->busy)
    {
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_BUSY, "node %s: already acting on it", self->name);
      return;
    }
  state = load_node (self);
  if (state == NULL)
    {
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_STATE, "node %s: cannot read its state", self->name);
      return;
    }
  if (!node_is_watchable (state))
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  unwatch_node (self);
  watch_node (self, state, FALSE);
  self->once = g_steal_pointer (&task);
  pk_watchdog_check_async (self->wd, cancellable, once_checked, g_object_ref (self));
}

/**
 * pk_node_supervisor_check_once_finish:
 * @self: a [class@NodeSupervisor]
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Finishes [method@NodeSupervisor.check_once_async].
 *
 * Returns: %TRUE if the node passed (or was not checked); %FALSE with
 *   %PK_ERROR_CHECK_FAILED when the check failed (counted, and acted on
 *   if confirmed), or %PK_ERROR_STATE when the state file could not be
 *   locked or written
 *
 * Since: 0.2
 */
gboolean
pk_node_supervisor_check_once_finish (PkNodeSupervisor  *self,
                                      GAsyncResult      *result,
                                      GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pk_node_supervisor_check_once_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* --- bring-up: tunnel, startup check, rollback --- */

/* Builds the tunnel of [tunnel:NAME] (or the one set_tunnel() gave). */
static PkTunnel *
configure_tunnel (PkNodeSupervisor  *self,
                  PkNodeState       *recorded,
                  GError           **error)
{
  g_autofree char *section = g_strdup_printf ("tunnel:%s", self->name);
  PkTunnel *tunnel;

  if (self->config == NULL)
    {
      g_autoptr(PkConfig) empty = NULL;

      if (self->given_tunnel != NULL)
        return g_object_ref (self->given_tunnel);
      /* the recorded server, link name and unit alone */
      empty = pk_config_new ();
      tunnel = pk_tunnel_new_from_config (empty, self->name, recorded, error);
      if (tunnel != NULL)
        pk_tunnel_set_run_dir (tunnel, self->run_dir);
      return tunnel;
    }
  tunnel = pk_tunnel_new_from_config (self->config, self->name, recorded, error);
  if (tunnel == NULL)
    return NULL;
  /* [watchdog] pppd (or --pppd) for the tunnels that name none */
  if (self->pppd != NULL && !pk_config_has_value (self->config, section, "pppd", NULL))
    pk_tunnel_set_pppd_path (tunnel, self->pppd);
  pk_tunnel_set_run_dir (tunnel, self->run_dir);
  return tunnel;
}

static void
tunnel_up_checked (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PkNodeSupervisor *self = g_task_get_source_object (task);
  GError *error = NULL;
  guint tries = 0;

  if (!pk_startup_check_finish (result, &tries, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  g_message ("node %s: startup check passed on try %u", self->name, tries);
  g_task_return_pointer (task, g_object_ref (g_task_get_task_data (task)), g_object_unref);
}

static void
tunnel_up_check (GTask *task)
{
  PkNodeSupervisor *self = g_task_get_source_object (task);
  GError *error = NULL;
  PkEgress *egress = pk_tunnel_get_egress (self->tunnel, &error);

  if (egress == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  g_task_set_task_data (task, egress, g_object_unref);
  if (GPOINTER_TO_INT (g_object_get_data (G_OBJECT (task), "record")))
    record_bring_up (self, PK_NODE_STATUS_STARTING, NULL);
  g_message ("node %s: tunnel %s up on %s; startup check to %s (%u tries, %u ms apart, %u ms each)",
             self->name, pk_tunnel_get_linkname (self->tunnel), pk_tunnel_get_interface (self->tunnel),
             self->check_target, self->check_tries, self->check_delay_ms, self->check_timeout_ms);
  pk_startup_check_async (egress, self->check_target, self->check_tries, self->check_delay_ms,
                          self->check_timeout_ms, g_task_get_cancellable (task), tunnel_up_checked, task);
}

static void
tunnel_up_started (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  GTask *task = user_data;
  GError *error = NULL;

  if (!pk_tunnel_start_finish (PK_TUNNEL (source), result, &error))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  tunnel_up_check (task);
}

/* The one way up of both a bring-up and a recovery: the tunnel (adopted
 * if @adopt and its pppd runs), its egress, the startup check through it.
 * Returns the egress; rolling back is the caller's. */
static void
tunnel_up_async (PkNodeSupervisor    *self,
                 PkTunnel            *tunnel,
                 gboolean             adopt,
                 gboolean             record,
                 GCancellable        *cancellable,
                 GAsyncReadyCallback  callback,
                 gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, tunnel_up_async);
  g_object_set_data (G_OBJECT (task), "record", GINT_TO_POINTER (record));
  g_set_object (&self->tunnel, tunnel);
  if (adopt && pk_tunnel_adopt (tunnel, NULL))
    {
      g_message ("node %s: tunnel %s: adopted the running pppd (pid %d)", self->name,
                 pk_tunnel_get_linkname (tunnel), pk_tunnel_get_pid (tunnel));
      tunnel_up_check (task);
      return;
    }
  if (record)
    record_bring_up (self, PK_NODE_STATUS_STARTING, NULL);
  g_message ("node %s: starting tunnel %s to %s", self->name, pk_tunnel_get_linkname (tunnel),
             pk_tunnel_get_server (tunnel) ? pk_tunnel_get_server (tunnel) : pk_tunnel_get_peer (tunnel));
  pk_tunnel_start_async (tunnel, cancellable, tunnel_up_started, task);
}

static PkEgress *
tunnel_up_finish (PkNodeSupervisor  *self,
                  GAsyncResult      *result,
                  GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* --- recovery --- */

static void recovery_attempt_failed (PkNodeSupervisor *self, const char *reason);

static gboolean
start_listener (PkNodeSupervisor  *self,
                PkEgress          *egress,
                char             **reason)
{
  g_autofree char *section = g_strdup_printf ("tunnel:%s", self->name);
  g_autofree char *listen = NULL;
  g_autofree char *extra = NULL;
  g_auto(GStrv) extra_argv = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;

  if (self->config != NULL)
    {
      listen = pk_config_dup_string (self->config, section, "listen", NULL, self->listen);
      extra = pk_config_dup_string (self->config, section, "socks-args", NULL, NULL);
    }
  else
    listen = g_strdup (self->listen);
  if (listen == NULL)
    return TRUE;   /* a tunnel without a listener of ours */
  if (extra != NULL && !g_shell_parse_argv (extra, NULL, &extra_argv, &error))
    {
      *reason = g_strdup_printf ("[%s] socks-args: %s", section, error->message);
      return FALSE;
    }
  g_ptr_array_add (argv, self->socks_command);
  g_ptr_array_add (argv, "--listen");
  g_ptr_array_add (argv, listen);
  g_ptr_array_add (argv, "--egress-interface");
  g_ptr_array_add (argv, (gpointer) pk_tunnel_get_interface (self->tunnel));
  g_ptr_array_add (argv, "--egress-address");
  g_ptr_array_add (argv, (gpointer) pk_egress_get_address (egress));
  for (guint i = 0; extra_argv && extra_argv[i]; i++)
    g_ptr_array_add (argv, extra_argv[i]);
  g_ptr_array_add (argv, NULL);

  g_clear_object (&self->socks);
  self->socks = g_subprocess_newv ((const char * const *) argv->pdata, G_SUBPROCESS_FLAGS_NONE, &error);
  if (self->socks == NULL)
    {
      *reason = g_strdup_printf ("cannot start %s: %s", self->socks_command, error->message);
      return FALSE;
    }
  g_free (self->listen);
  self->listen = g_steal_pointer (&listen);
  g_message ("node %s: started listener %s on %s (pid %s)", self->name, self->listen,
             pk_tunnel_get_interface (self->tunnel), g_subprocess_get_identifier (self->socks));
  return TRUE;
}

static void
recovery_online (PkNodeSupervisor *self)
{
  g_autoptr(PkNodeState) state = lock_node (self);

  if (state == NULL)
    {
      recovery_attempt_failed (self, "cannot read the node state");
      return;
    }
  set_tunnel_record (state, self->tunnel);
  if (self->socks != NULL)
    pk_node_state_set_socks (state, self->listen, atoi (g_subprocess_get_identifier (self->socks)));
  pk_node_state_set_status (state, PK_NODE_STATUS_ONLINE, NULL);
  pk_node_state_set_consecutive_failures (state, 0);
  pk_node_state_set_recoveries (state, pk_node_state_get_recoveries (state) + 1);
  pk_node_state_set_last_change (state, g_get_real_time () / G_USEC_PER_SEC);
  save_unlock (self, state);
  g_message ("node %s: recovered after %u attempt%s: online on %s", self->name, self->attempt,
             self->attempt == 1 ? "" : "s", pk_tunnel_get_interface (self->tunnel));
  self->attempt = 0;
  self->busy = FALSE;
  self->recoveries++;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RECOVERIES]);
  watch_node (self, state, TRUE);
}

static void
recovery_listener_ready (GObject      *source,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  g_autoptr(PkNodeSupervisor) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!pk_probe_run_with_retries_finish (PK_PROBE (source), result, NULL, &error))
    {
      g_autofree char *reason = g_strdup_printf ("listener %s does not answer: %s", self->listen,
                                                 error->message);
      recovery_attempt_failed (self, reason);
      return;
    }
  recovery_online (self);
}

static void
recovery_tunnel_up (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(PkNodeSupervisor) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PkEgress) egress = tunnel_up_finish (self, result, &error);
  g_autofree char *reason = NULL;
  g_autofree char *host = NULL;
  guint16 port = 0;

  if (egress == NULL)
    {
      recovery_attempt_failed (self, error->message);
      return;
    }
  if (!start_listener (self, egress, &reason))
    {
      recovery_attempt_failed (self, reason);
      return;
    }
  if (self->socks == NULL)
    {
      recovery_online (self);
      return;
    }
  /* "online" is only true once the new listener answers: the process
   * exists before it has bound its socket. */
  if (pk_parse_host_port (self->listen, 0, &host, &port, &error))
    {
      g_autoptr(PkProbe) probe = pk_probe_new_tcp_connect (NULL, connect_host_for (host), port);

      pk_probe_run_with_retries_async (probe, LISTENER_READY_TRIES, LISTENER_READY_DELAY_MS, 1000,
                                       NULL, recovery_listener_ready, g_object_ref (self));
      return;
    }
  recovery_attempt_failed (self, error->message);
}

static gboolean
recovery_start (gpointer user_data)
{
  PkNodeSupervisor *self = user_data;
  g_autoptr(PkNodeState) state = load_node (self);
  g_autoptr(GError) error = NULL;
  g_autoptr(PkTunnel) tunnel = NULL;

  g_clear_pointer (&self->recovery_timer, g_source_unref);
  if (state == NULL)
    {
      recovery_attempt_failed (self, "cannot read the node state");
      return G_SOURCE_REMOVE;
    }
  if (pk_node_state_get_status (state) != PK_NODE_STATUS_PING_FAILED)
    {
      /* someone else (an operator, pk-socks) took over the node */
      g_message ("node %s: is %s now; recovery called off", self->name,
                 pk_node_status_to_string (pk_node_state_get_status (state)));
      self->busy = FALSE;
      self->attempt = 0;
      return G_SOURCE_REMOVE;
    }
  tunnel = configure_tunnel (self, state, &error);
  if (tunnel == NULL)
    {
      g_warning ("node %s: cannot recover: %s", self->name, error->message);
      self->busy = FALSE;
      return G_SOURCE_REMOVE;
    }
  g_message ("node %s: recovery attempt %u: starting tunnel %s", self->name, self->attempt,
             pk_tunnel_get_linkname (tunnel));
  tunnel_up_async (self, tunnel, FALSE, FALSE, NULL, recovery_tunnel_up, g_object_ref (self));
  return G_SOURCE_REMOVE;
}

static void
schedule_recovery (PkNodeSupervisor *self)
{
  guint64 delay = self->recover_delay_ms;

  /* one recovery at a time */
  if (self->busy || self->recovery_timer != NULL)
    return;
  self->busy = TRUE;
  self->attempt++;
  for (guint i = 1; i < self->attempt && delay < self->recover_max_delay_ms; i++)
    delay *= 2;
  delay = MIN (delay, self->recover_max_delay_ms);
  g_message ("node %s: recovery attempt %u in %.1f s", self->name, self->attempt, delay / 1000.0);
  self->recovery_timer = g_timeout_source_new (delay);
  g_source_set_callback (self->recovery_timer, recovery_start, self, NULL);
  g_source_set_static_name (self->recovery_timer, "[proxykit] node recovery");
  g_source_attach (self->recovery_timer, g_main_context_get_thread_default ());
}

static void
recovery_stopped (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(PkNodeSupervisor) self = user_data;

  pk_tunnel_stop_finish (PK_TUNNEL (source), result, NULL);
  g_clear_object (&self->tunnel);
  self->busy = FALSE;
  schedule_recovery (self);
}

/* Roll back what the attempt started, and try again later. */
static void
recovery_attempt_failed (PkNodeSupervisor *self,
                         const char       *reason)
{
  g_autoptr(PkNodeState) state = lock_node (self);

  g_message ("node %s: recovery attempt %u failed: %s", self->name, self->attempt, reason);
  if (self->socks != NULL)
    {
      g_subprocess_send_signal (self->socks, SIGTERM);
      g_clear_object (&self->socks);
    }
  if (state != NULL)
    {
      pk_node_state_set_status (state, PK_NODE_STATUS_PING_FAILED, reason);
      save_unlock (self, state);
    }
  if (self->tunnel != NULL)
    pk_tunnel_stop_async (self->tunnel, NULL, recovery_stopped, g_object_ref (self));
  else
    {
      self->busy = FALSE;
      schedule_recovery (self);
    }
}

/* --- bring-up for a tool that serves itself (pk-socks --pptp-server) --- */

static void
bring_up_rolled_back (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PkNodeSupervisor *self = g_task_get_source_object (task);
  GError *error = g_task_get_task_data (task);

  if (source != NULL)
    pk_tunnel_stop_finish (PK_TUNNEL (source), result, NULL);
  record_bring_up (self, PK_NODE_STATUS_STOPPED, error->message);
  self->busy = FALSE;
  g_task_return_error (task, g_error_copy (error));
}

static void
bring_up_done (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PkNodeSupervisor *self = g_task_get_source_object (task);
  GError *error = NULL;
  PkEgress *egress = tunnel_up_finish (self, result, &error);

  if (egress != NULL)
    {
      self->busy = FALSE;
      g_task_return_pointer (task, egress, g_object_unref);
      return;
    }
  g_warning ("node %s: %s; rolling back", self->name, error->message);
  g_task_set_task_data (task, error, (GDestroyNotify) g_error_free);
  if (self->tunnel != NULL)
    pk_tunnel_stop_async (self->tunnel, NULL, bring_up_rolled_back, g_steal_pointer (&task));
  else
    bring_up_rolled_back (NULL, NULL, g_steal_pointer (&task));
}

/**
 * pk_node_supervisor_bring_up_async:
 * @self: a [class@NodeSupervisor]
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when the node is up or rolled back
 * @user_data: data for @callback
 *
 * Brings the node's tunnel up for a listener of the caller's: the tunnel
 * of [method@NodeSupervisor.set_tunnel] (else `[tunnel:NAME]`), adopted
 * if its pppd already runs, else started (the node recorded `starting`);
 * then the startup check through it. If the tunnel does not come up or
 * the check fails every try, the tunnel is destroyed again and the node
 * recorded `stopped` with the reason. Serve through the egress that
 * [method@NodeSupervisor.bring_up_finish] returns, then call
 * [method@NodeSupervisor.record_online].
 *
 * Since: 0.2
 */
void
pk_node_supervisor_bring_up_async (PkNodeSupervisor    *self,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(PkTunnel) tunnel = NULL;
  GError *error = NULL;

  g_return_if_fail (PK_IS_NODE_SUPERVISOR (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_node_supervisor_bring_up_async);
  if (self->busy)
    {
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_BUSY, "node %s: already acting on it", self->name);
      return;
    }
  tunnel = self->given_tunnel ? g_object_ref (self->given_tunnel) : configure_tunnel (self, NULL, &error);
  if (tunnel == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  self->busy = TRUE;
  tunnel_up_async (self, tunnel, TRUE, TRUE, cancellable, bring_up_done, g_steal_pointer (&task));
}

/**
 * pk_node_supervisor_bring_up_finish:
 * @self: a [class@NodeSupervisor]
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Finishes [method@NodeSupervisor.bring_up_async].
 *
 * Returns: (transfer full): the tunnel's egress; or %NULL with @error
 *   (%PK_ERROR_TUNNEL, %PK_ERROR_CHECK_FAILED, ...) after the rollback
 *
 * Since: 0.2
 */
PkEgress *
pk_node_supervisor_bring_up_finish (PkNodeSupervisor  *self,
                                    GAsyncResult      *result,
                                    GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pk_node_supervisor_bring_up_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * pk_node_supervisor_record_online:
 * @self: a [class@NodeSupervisor]
 * @listen: (nullable): the listener's address, such as `0.0.0.0:11001`;
 *   %NULL for a tunnel without a listener
 * @pid: the listener's process (`getpid()` for a listener in this one)
 * @error: return location for a `GError`
 *
 * Records the node `online` with its tunnel and listener: from now on a
 * watchdog (this process's or `pk-watchdog`'s) looks after it.
 *
 * Returns: %TRUE, or %FALSE if the state file could not be written
 *
 * Since: 0.2
 */
gboolean
pk_node_supervisor_record_online (PkNodeSupervisor  *self,
                                  const char        *listen,
                                  int                pid,
                                  GError           **error)
{
  g_autoptr(PkNodeState) state = NULL;

  g_return_val_if_fail (PK_IS_NODE_SUPERVISOR (self), FALSE);

  state = pk_state_store_load_locked (self->store, self->name, error);
  if (state == NULL)
    return FALSE;
  if (self->tunnel != NULL)
    set_tunnel_record (state, self->tunnel);
  if (listen != NULL)
    pk_node_state_set_socks (state, listen, pid);
  else
    pk_node_state_clear_socks (state);
  pk_node_state_set_status (state, PK_NODE_STATUS_ONLINE, NULL);
  pk_node_state_set_consecutive_failures (state, 0);
  self->own_listener_pid = pid;
  return pk_state_store_save_unlock (self->store, state, error);
}

static void
shut_down_stopped (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PkNodeSupervisor *self = g_task_get_source_object (task);
  g_autoptr(PkNodeState) state = NULL;

  pk_tunnel_stop_finish (PK_TUNNEL (source), result, NULL);
  /* Only a node that is still ours is marked stopped: after a failure,
   * a watchdog has recorded ping_failed, and its recovery may already run
   * a new tunnel and listener. */
  state = pk_state_store_load (self->store, self->name, NULL);
  if (state != NULL && self->own_listener_pid > 0 &&
      pk_node_state_get_socks_pid (state) == self->own_listener_pid &&
      pk_node_state_get_status (state) != PK_NODE_STATUS_PING_FAILED)
    record_bring_up (self, PK_NODE_STATUS_STOPPED, NULL);
  g_clear_object (&self->tunnel);
  g_task_return_boolean (task, TRUE);
}

/**
 * pk_node_supervisor_shut_down_async:
 * @self: a [class@NodeSupervisor]
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when the tunnel is down
 * @user_data: data for @callback
 *
 * Destroys the tunnel that [method@NodeSupervisor.bring_up_async] brought
 * up, when its listener stops; the node becomes `stopped` unless a
 * watchdog recorded a failure meanwhile (or another listener took over).
 *
 * Since: 0.2
 */
void
pk_node_supervisor_shut_down_async (PkNodeSupervisor    *self,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (PK_IS_NODE_SUPERVISOR (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_node_supervisor_shut_down_async);
  pk_node_supervisor_stop (self);
  if (self->tunnel == NULL)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  g_message ("node %s: destroying tunnel %s", self->name, pk_tunnel_get_linkname (self->tunnel));
  pk_tunnel_stop_async (self->tunnel, cancellable, shut_down_stopped, g_steal_pointer (&task));
}

/**
 * pk_node_supervisor_shut_down_finish:
 * @self: a [class@NodeSupervisor]
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Finishes [method@NodeSupervisor.shut_down_async].
 *
 * Returns: %TRUE
 *
 * Since: 0.2
 */
gboolean
pk_node_supervisor_shut_down_finish (PkNodeSupervisor  *self,
                                     GAsyncResult      *result,
                                     GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pk_node_supervisor_shut_down_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
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
      pk_prom_writer_histogram (w, "proxykit_node_check_duration_seconds", labels, supervisors[i]->latency);
    }
  return g_strconcat (nodes ? nodes : "", pk_prom_writer_get_text (w), NULL);
}
