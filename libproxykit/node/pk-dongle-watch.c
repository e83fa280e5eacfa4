/* pk-dongle-watch.c: every dongle under a watchdog, recovered through the ladder
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkDongleWatch:
 *
 * Watches every dongle a [class@DongleMonitor] finds, and every one its
 * [class@UsbMap] remembers that is not on USB now, with the same
 * hysteresis as a tunnel's watchdog ([class@Watchdog]): a
 * [ctor@Probe.new_dongle] diagnosis (interface, address, routing, API,
 * modem connected with a WAN IP), and optionally a SOCKS CONNECT through
 * the dongle's listener, every [property@DongleWatch:interval-ms]; a
 * failure counts after [property@DongleWatch:fall] failed checks in a
 * row, [property@DongleWatch:retry-delay-ms] apart.
 *
 * A confirmed failure runs the recovery ladder
 * ([method@Toggle.add_recovery_ladder]: routing, modem, USB rebind, port
 * power, hub) as `pk-toggle --recover` does: the diagnosis picks the first
 * rung, a healthy dongle counts. The guard rails are the toggle's: the
 * per-dongle lock shared with `pk-toggle`, the host-wide limit on
 * recoveries at once and the recovery cooldown
 * ([struct@ToggleLadderSettings]). A recovery that is refused or fails is
 * tried again at the next failed check.
 *
 * With a [class@UsbControllerReset] ([method@DongleWatch.set_controller_reset]),
 * a confirmed failure that makes the failing dongles reach its threshold
 * (70 % of those watched, by default) resets their USB controller once,
 * if that is allowed and the last reset is old enough, instead of
 * climbing the ladder for that dongle: the dongles come back behind the
 * controller, and a dongle that does not is recovered at its next
 * failed check.
 *
 * The state store records dongle N as node `dongle-N` (the node the
 * [class@DongleFarm] records its listener in): status `online`,
 * `ping_failed` (with the reason and `fails` counting confirmed failures)
 * or `recovering`, written atomically under the node's lock.
 *
 * ```c
 * g_autoptr(PkDongleWatch) watch = pk_dongle_watch_new_from_config (config, &error);
 *
 * if (watch == NULL || !pk_dongle_watch_start (watch, &error))
 *   return FALSE;
 * g_signal_connect (watch, "recovery-finished", G_CALLBACK (on_recovered), NULL);
 * ```
 *
 * Since: 0.2
 */

#include "config.h"

#include "pk-dongle-farm.h"
#include "pk-dongle-private.h"
#include "pk-dongle-watch-private.h"
#include "pk-error.h"
#include "pk-node-state.h"
#include "pk-probe.h"
#include "pk-routing.h"
#include "pk-toggle.h"
#include "pk-usb-controller-reset.h"
#include "pk-usb-map.h"
#include "pk-util-private.h"
#include "pk-watchdog.h"

typedef struct _Watched Watched;

struct _PkDongleWatch
{
  GObject parent_instance;

  PkDongleMonitor *monitor;
  PkStateStore *store;
  PkToggleLadderSettings *ladder;
  PkToggleLimiter *limiter;
  PkConfig *config;

  guint interval_ms;
  guint retry_delay_ms;
  guint fall;
  guint rise;
  guint timeout_ms;
  char *socks_host;          /* the SOCKS check's target, or NULL */
  guint16 socks_port;

  GHashTable *dongles;       /* id -> Watched */
  gulong handlers[3];
  gboolean running;
  guint n_failing;
  guint n_recovering;
  PkUsbControllerReset *controller_reset; /* nullable */
  gboolean resetting_controller;
};

struct _Watched
{
  PkDongleWatch *self;
  guint id;
  char *name;                /* dongle-N */
  PkDongle *dongle;
  PkModem *modem;
  PkToggleModemStep *modem_step;
  PkToggle *toggle;
  PkWatchdog *wd;
  GCancellable *cancellable; /* of a recovery */
  gboolean down;             /* a failure was confirmed and recorded */
  gboolean recovering;
  gboolean failing;          /* counted in n-failing */
};

G_DEFINE_FINAL_TYPE (PkDongleWatch, pk_dongle_watch, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_INTERVAL_MS,
  PROP_RETRY_DELAY_MS,
  PROP_FALL,
  PROP_RISE,
  PROP_TIMEOUT_MS,
  PROP_N_DONGLES,
  PROP_N_FAILING,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_RECOVERY_STARTED,
  SIGNAL_RECOVERY_FINISHED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
watched_free (Watched *w)
{
  if (w->cancellable != NULL)
    g_cancellable_cancel (w->cancellable);
  g_clear_object (&w->cancellable);
  if (w->wd != NULL)
    {
      pk_watchdog_stop (w->wd);
      g_signal_handlers_disconnect_by_data (w->wd, w);
    }
  g_clear_object (&w->wd);
  g_clear_object (&w->toggle);
  g_clear_object (&w->modem_step);
  g_clear_object (&w->modem);
  g_clear_object (&w->dongle);
  g_free (w->name);
  g_free (w);
}

static void
pk_dongle_watch_dispose (GObject *object)
{
  PkDongleWatch *self = PK_DONGLE_WATCH (object);

  pk_dongle_watch_stop (self);
  G_OBJECT_CLASS (pk_dongle_watch_parent_class)->dispose (object);
}

static void
pk_dongle_watch_finalize (GObject *object)
{
  PkDongleWatch *self = PK_DONGLE_WATCH (object);

  g_hash_table_unref (self->dongles);
  g_clear_object (&self->monitor);
  g_clear_object (&self->store);
  g_clear_object (&self->limiter);
  g_clear_object (&self->config);
  g_clear_object (&self->controller_reset);
  g_clear_pointer (&self->ladder, pk_toggle_ladder_settings_unref);
  g_free (self->socks_host);
  G_OBJECT_CLASS (pk_dongle_watch_parent_class)->finalize (object);
}

static void
pk_dongle_watch_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  PkDongleWatch *self = PK_DONGLE_WATCH (object);

  switch (prop_id)
    {
    case PROP_INTERVAL_MS: g_value_set_uint (value, self->interval_ms); break;
    case PROP_RETRY_DELAY_MS: g_value_set_uint (value, self->retry_delay_ms); break;
    case PROP_FALL: g_value_set_uint (value, self->fall); break;
    case PROP_RISE: g_value_set_uint (value, self->rise); break;
    case PROP_TIMEOUT_MS: g_value_set_uint (value, self->timeout_ms); break;
    case PROP_N_DONGLES: g_value_set_uint (value, g_hash_table_size (self->dongles)); break;
    case PROP_N_FAILING: g_value_set_uint (value, self->n_failing); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_dongle_watch_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  PkDongleWatch *self = PK_DONGLE_WATCH (object);

  switch (prop_id)
    {
    case PROP_INTERVAL_MS: pk_dongle_watch_set_interval_ms (self, g_value_get_uint (value)); break;
    case PROP_RETRY_DELAY_MS: pk_dongle_watch_set_retry_delay_ms (self, g_value_get_uint (value)); break;
    case PROP_FALL: pk_dongle_watch_set_fall (self, g_value_get_uint (value)); break;
    case PROP_RISE: pk_dongle_watch_set_rise (self, g_value_get_uint (value)); break;
    case PROP_TIMEOUT_MS: pk_dongle_watch_set_timeout_ms (self, g_value_get_uint (value)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_dongle_watch_class_init (PkDongleWatchClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->dispose = pk_dongle_watch_dispose;
  object_class->finalize = pk_dongle_watch_finalize;
  object_class->get_property = pk_dongle_watch_get_property;
  object_class->set_property = pk_dongle_watch_set_property;

  /**
   * PkDongleWatch:interval-ms:
   *
   * Milliseconds between the checks of a dongle (3 minutes by default).
   *
   * Since: 0.2
   */
  properties[PROP_INTERVAL_MS] =
    g_param_spec_uint ("interval-ms", NULL, NULL, 1, G_MAXUINT, PK_DONGLE_WATCH_DEFAULT_INTERVAL_MS, rw);
  /**
   * PkDongleWatch:retry-delay-ms:
   *
   * Milliseconds between the checks while a failure is being confirmed.
   *
   * Since: 0.2
   */
  properties[PROP_RETRY_DELAY_MS] =
    g_param_spec_uint ("retry-delay-ms", NULL, NULL, 1, G_MAXUINT, 30000, rw);
  /**
   * PkDongleWatch:fall:
   *
   * Failed checks in a row that confirm a failure (2 by default).
   *
   * Since: 0.2
   */
  properties[PROP_FALL] =
    g_param_spec_uint ("fall", NULL, NULL, 1, G_MAXUINT, PK_DONGLE_WATCH_DEFAULT_RETRIES, rw);
  /**
   * PkDongleWatch:rise:
   *
   * Passed checks in a row that confirm that a failed dongle came back
   * by itself (2 by default).
   *
   * Since: 0.2
   */
  properties[PROP_RISE] =
    g_param_spec_uint ("rise", NULL, NULL, 1, G_MAXUINT, 2, rw);
  /**
   * PkDongleWatch:timeout-ms:
   *
   * The timeout of each check (30 s by default).
   *
   * Since: 0.2
   */
  properties[PROP_TIMEOUT_MS] =
    g_param_spec_uint ("timeout-ms", NULL, NULL, 1, G_MAXUINT, 30000, rw);
  /**
   * PkDongleWatch:n-dongles:
   *
   * How many dongles are watched.
   *
   * Since: 0.2
   */
  properties[PROP_N_DONGLES] =
    g_param_spec_uint ("n-dongles", NULL, NULL, 0, G_MAXUINT, 0, ro);
  /**
   * PkDongleWatch:n-failing:
   *
   * How many watched dongles have a confirmed failure (being recovered or
   * waiting for a recovery).
   *
   * Since: 0.2
   */
  properties[PROP_N_FAILING] =
    g_param_spec_uint ("n-failing", NULL, NULL, 0, G_MAXUINT, 0, ro);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * PkDongleWatch::recovery-started:
   * @self: the watch
   * @id: the dongle's number N
   * @reason: why: the failed check's reason
   *
   * Emitted when a recovery of dongle @id starts (it may still be refused
   * by the lock, the limit or the cooldown: see
   * [signal@DongleWatch::recovery-finished]).
   *
   * Since: 0.2
   */
  signals[SIGNAL_RECOVERY_STARTED] =
    g_signal_new ("recovery-started", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_UINT, G_TYPE_STRING);
  /**
   * PkDongleWatch::recovery-finished:
   * @self: the watch
   * @id: the dongle's number N
   * @success: whether the dongle is healthy again
   * @detail: the rungs tried (`diagnose ok, routing ok`), or why the
   *   recovery failed or was refused
   *
   * Emitted when a recovery of dongle @id ends. A policy that resets the
   * USB controller when most dongles fail can hook on here.
   *
   * Since: 0.2
   */
  signals[SIGNAL_RECOVERY_FINISHED] =
    g_signal_new ("recovery-finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 3, G_TYPE_UINT, G_TYPE_BOOLEAN, G_TYPE_STRING);
}

static void
pk_dongle_watch_init (PkDongleWatch *self)
{
  self->dongles = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) watched_free);
  self->interval_ms = PK_DONGLE_WATCH_DEFAULT_INTERVAL_MS;
  self->retry_delay_ms = 30000;
  self->fall = PK_DONGLE_WATCH_DEFAULT_RETRIES;
  self->rise = 2;
  self->timeout_ms = 30000;
  self->ladder = pk_toggle_ladder_settings_new ();
  /* Recoveries ignore the limit on toggles at once; theirs is the
   * ladder's max-recoveries. */
  self->limiter = pk_toggle_limiter_new (0);
}

/**
 * pk_dongle_watch_new:
 * @monitor: the dongles to watch
 * @store: the state store to record them in
 *
 * Creates a watch with the built-in settings: a check every 3 minutes, a
 * failure confirmed by 2 failed checks, the ladder's settings of
 * [ctor@ToggleLadderSettings.new] (2 recoveries at once, a 3-minute
 * recovery cooldown) and modems with no credentials.
 *
 * Returns: (transfer full): a new [class@DongleWatch]
 *
 * Since: 0.2
 */
PkDongleWatch *
pk_dongle_watch_new (PkDongleMonitor *monitor,
                     PkStateStore    *store)
{
  PkDongleWatch *self;

  g_return_val_if_fail (PK_IS_DONGLE_MONITOR (monitor), NULL);
  g_return_val_if_fail (PK_IS_STATE_STORE (store), NULL);

  self = g_object_new (PK_TYPE_DONGLE_WATCH, NULL);
  self->monitor = g_object_ref (monitor);
  self->store = g_object_ref (store);
  return self;
}

void
pk_dongle_watch_set_config (PkDongleWatch *self,
                            PkConfig      *config)
{
  g_set_object (&self->config, config);
}

PkConfig *
pk_dongle_watch_get_config (PkDongleWatch *self)
{
  return self->config;
}

/**
 * pk_dongle_watch_get_monitor:
 * @self: a [class@DongleWatch]
 *
 * Gets the monitor the dongles come from.
 *
 * Returns: (transfer none): the monitor
 *
 * Since: 0.2
 */
PkDongleMonitor *
pk_dongle_watch_get_monitor (PkDongleWatch *self)
{
  g_return_val_if_fail (PK_IS_DONGLE_WATCH (self), NULL);
  return self->monitor;
}

/**
 * pk_dongle_watch_get_state_store:
 * @self: a [class@DongleWatch]
 *
 * Gets the store the dongles' states are recorded in.
 *
 * Returns: (transfer none): the store
 *
 * Since: 0.2
 */
PkStateStore *
pk_dongle_watch_get_state_store (PkDongleWatch *self)
{
  g_return_val_if_fail (PK_IS_DONGLE_WATCH (self), NULL);
  return self->store;
}

/**
 * pk_dongle_watch_set_state_store:
 * @self: a [class@DongleWatch]
 * @store: the store to record the dongles' states in
 *
 * Sets the state store, before [method@DongleWatch.start].
 *
 * Since: 0.2
 */
void
pk_dongle_watch_set_state_store (PkDongleWatch *self,
                                 PkStateStore  *store)
{
  g_return_if_fail (PK_IS_DONGLE_WATCH (self));
  g_return_if_fail (PK_IS_STATE_STORE (store));
  g_set_object (&self->store, store);
}

/**
 * pk_dongle_watch_get_ladder_settings:
 * @self: a [class@DongleWatch]
 *
 * Gets the settings the recovery ladder is built with; changes to them
 * apply to the dongles found after.
 *
 * Returns: (transfer none): the settings
 *
 * Since: 0.2
 */
PkToggleLadderSettings *
pk_dongle_watch_get_ladder_settings (PkDongleWatch *self)
{
  g_return_val_if_fail (PK_IS_DONGLE_WATCH (self), NULL);
  return self->ladder;
}

/**
 * pk_dongle_watch_set_ladder_settings:
 * @self: a [class@DongleWatch]
 * @settings: the ladder's settings
 *
 * Sets the settings the recovery ladder is built with, before
 * [method@DongleWatch.start].
 *
 * Since: 0.2
 */
void
pk_dongle_watch_set_ladder_settings (PkDongleWatch          *self,
                                     PkToggleLadderSettings *settings)
{
  g_return_if_fail (PK_IS_DONGLE_WATCH (self));
  g_return_if_fail (settings != NULL);
  pk_toggle_ladder_settings_ref (settings);
  g_clear_pointer (&self->ladder, pk_toggle_ladder_settings_unref);
  self->ladder = settings;
}

#define DEFINE_UINT_ACCESSORS(field, prop, min)                                 \
  guint                                                                         \
  pk_dongle_watch_get_##field (PkDongleWatch *self)                             \
  {                                                                             \
    g_return_val_if_fail (PK_IS_DONGLE_WATCH (self), 0);                        \
    return self->field;                                                         \
  }                                                                             \
  void                                                                          \
  pk_dongle_watch_set_##field (PkDongleWatch *self,                             \
                               guint          value)                            \
  {                                                                             \
    g_return_if_fail (PK_IS_DONGLE_WATCH (self));                               \
    value = MAX (value, min);                                                   \
    if (self->field == value)                                                   \
      return;                                                                   \
    self->field = value;                                                        \
    g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);               \
  }

/**
 * pk_dongle_watch_get_interval_ms:
 * @self: a [class@DongleWatch]
 *
 * Gets [property@DongleWatch:interval-ms].
 *
 * Returns: milliseconds between checks
 *
 * Since: 0.2
 */
/**
 * pk_dongle_watch_set_interval_ms:
 * @self: a [class@DongleWatch]
 * @interval_ms: milliseconds between checks
 *
 * Sets [property@DongleWatch:interval-ms], before [method@DongleWatch.start].
 *
 * Since: 0.2
 */
DEFINE_UINT_ACCESSORS (interval_ms, PROP_INTERVAL_MS, 1)
/**
 * pk_dongle_watch_get_retry_delay_ms:
 * @self: a [class@DongleWatch]
 *
 * Gets [property@DongleWatch:retry-delay-ms].
 *
 * Returns: milliseconds between checks while confirming
 *
 * Since: 0.2
 */
/**
 * pk_dongle_watch_set_retry_delay_ms:
 * @self: a [class@DongleWatch]
 * @retry_delay_ms: milliseconds between checks while confirming
 *
 * Sets [property@DongleWatch:retry-delay-ms], before [method@DongleWatch.start].
 *
 * Since: 0.2
 */
DEFINE_UINT_ACCESSORS (retry_delay_ms, PROP_RETRY_DELAY_MS, 1)
/**
 * pk_dongle_watch_get_fall:
 * @self: a [class@DongleWatch]
 *
 * Gets [property@DongleWatch:fall].
 *
 * Returns: failed checks in a row that confirm a failure
 *
 * Since: 0.2
 */
/**
 * pk_dongle_watch_set_fall:
 * @self: a [class@DongleWatch]
 * @fall: failed checks in a row that confirm a failure
 *
 * Sets [property@DongleWatch:fall], before [method@DongleWatch.start].
 *
 * Since: 0.2
 */
DEFINE_UINT_ACCESSORS (fall, PROP_FALL, 1)
/**
 * pk_dongle_watch_get_rise:
 * @self: a [class@DongleWatch]
 *
 * Gets [property@DongleWatch:rise].
 *
 * Returns: passed checks in a row that confirm a dongle came back
 *
 * Since: 0.2
 */
/**
 * pk_dongle_watch_set_rise:
 * @self: a [class@DongleWatch]
 * @rise: passed checks in a row that confirm a dongle came back
 *
 * Sets [property@DongleWatch:rise], before [method@DongleWatch.start].
 *
 * Since: 0.2
 */
DEFINE_UINT_ACCESSORS (rise, PROP_RISE, 1)
/**
 * pk_dongle_watch_get_timeout_ms:
 * @self: a [class@DongleWatch]
 *
 * Gets [property@DongleWatch:timeout-ms].
 *
 * Returns: the timeout of a check in milliseconds
 *
 * Since: 0.2
 */
/**
 * pk_dongle_watch_set_timeout_ms:
 * @self: a [class@DongleWatch]
 * @timeout_ms: the timeout of a check in milliseconds
 *
 * Sets [property@DongleWatch:timeout-ms], before [method@DongleWatch.start].
 *
 * Since: 0.2
 */
DEFINE_UINT_ACCESSORS (timeout_ms, PROP_TIMEOUT_MS, 1)

/**
 * pk_dongle_watch_set_socks_check:
 * @self: a [class@DongleWatch]
 * @target: (nullable): `HOST:PORT` to CONNECT to through each dongle's
 *   listener, or %NULL for no SOCKS check
 * @error: return location for a `GError`
 *
 * Adds a SOCKS CONNECT through the dongle's listener (the `socks_listen`
 * its state records, see [class@DongleFarm]) to each check. Use an IP
 * address, so that the check does not depend on DNS.
 *
 * Returns: %TRUE, or %FALSE with %PK_ERROR_INVALID_ARGUMENT if @target is
 *   not `HOST:PORT`
 *
 * Since: 0.2
 */
gboolean
pk_dongle_watch_set_socks_check (PkDongleWatch  *self,
                                 const char     *target,
                                 GError        **error)
{
  g_autofree char *host = NULL;
  guint16 port = 0;

  g_return_val_if_fail (PK_IS_DONGLE_WATCH (self), FALSE);

  if (target != NULL && (!pk_parse_host_port (target, 0, &host, &port, error) || port == 0))
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT, "SOCKS check target '%s' has no port", target);
      return FALSE;
    }
  g_free (self->socks_host);
  self->socks_host = g_steal_pointer (&host);
  self->socks_port = port;
  return TRUE;
}

/* --- the state file --- */

static void
update_failing (PkDongleWatch *self,
                Watched       *w,
                gboolean       failing)
{
  if (w->failing == failing)
    return;
  w->failing = failing;
  self->n_failing += failing ? 1 : -1;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_FAILING]);
}

/* Records @status (with @reason; NULL keeps the reason of an unchanged
 * status) and the counters under the node's lock: pk-socks writes the
 * same file. @confirmed counts a confirmed failure. Writes only what
 * changed. */
static void
record (Watched      *w,
        PkNodeStatus  status,
        const char   *reason,
        gboolean      confirmed)
{
  PkDongleWatch *self = w->self;
  g_autoptr(GError) error = NULL;
  g_autoptr(PkNodeState) state = pk_state_store_load_locked (self->store, w->name, &error);
  guint cf = w->wd ? pk_watchdog_get_consecutive_failures (w->wd) : 0;
  gboolean changed = FALSE;
  PkNodeStatus old;

  if (state == NULL)
    {
      g_warning ("dongle %u: %s", w->id, error->message);
      return;
    }
  old = pk_node_state_get_status (state);
  /* an interface that went keeps its name in the record */
  if (pk_node_state_get_dongle_id (state) == 0 ||
      (pk_dongle_get_interface (w->dongle) != NULL &&
       g_strcmp0 (pk_node_state_get_dongle_interface (state), pk_dongle_get_interface (w->dongle)) != 0))
    {
      pk_node_state_set_dongle (state, w->id, pk_dongle_get_interface (w->dongle),
                                pk_dongle_get_host_address (w->dongle));
      changed = TRUE;
    }
  if (confirmed)
    {
      pk_node_state_set_fails (state, pk_node_state_get_fails (state) + 1);
      changed = TRUE;
    }
  if (pk_node_state_get_consecutive_failures (state) != cf)
    {
      pk_node_state_set_consecutive_failures (state, cf);
      changed = TRUE;
    }
  /* the same status without a reason keeps the recorded one (such as
   * "recovered: ...") */
  if (old != status || (reason != NULL && g_strcmp0 (pk_node_state_get_reason (state), reason) != 0))
    {
      pk_node_state_set_status (state, status, reason);
      changed = TRUE;
    }
  /* a check that changes nothing writes nothing */
  if (!changed)
    {
      pk_state_store_unlock (self->store, w->name);
      return;
    }
  if (!pk_state_store_save_unlock (self->store, state, &error))
    {
      g_warning ("dongle %u: %s", w->id, error->message);
      return;
    }
  if (old != status)
    g_message ("dongle %u: %s -> %s%s%s", w->id, pk_node_status_to_string (old),
               pk_node_status_to_string (status), reason ? ": " : "", reason ? reason : "");
}

/* --- recovery --- */

static void recover (Watched *w, const char *reason);

/* The rungs a result went through: "diagnose ok, routing ok". */
static char *
describe_rungs (PkToggleResult *result)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < pk_toggle_result_get_n_steps (result); i++)
    g_string_append_printf (s, "%s%s %s", i ? ", " : "", pk_toggle_result_get_step_name (result, i),
                            pk_toggle_result_get_step_outcome (result, i));
  return g_string_free (s, FALSE);
}

typedef struct {
  PkDongleWatch *self;
  guint id;
} Recovery;

static void
recovered (GObject      *source,
           GAsyncResult *res,
           gpointer      user_data)
{
  Recovery *rec = user_data;
  g_autoptr(PkDongleWatch) self = rec->self;
  Watched *w = g_hash_table_lookup (self->dongles, GUINT_TO_POINTER (rec->id));
  g_autoptr(GError) error = NULL;
  g_autoptr(PkToggleResult) result = pk_toggle_run_finish (PK_TOGGLE (source), res, &error);
  g_autofree char *rungs = NULL;
  g_autofree char *detail = NULL;
  gboolean ok;

  g_free (rec);
  /* stopped meanwhile: the recovery was cancelled and is no more counted */
  if (w == NULL || !w->recovering || w->toggle != PK_TOGGLE (source))
    return;
  g_clear_object (&w->cancellable);
  w->recovering = FALSE;
  self->n_recovering--;
  ok = result != NULL && pk_toggle_result_get_success (result);
  if (result != NULL)
    {
      rungs = describe_rungs (result);
      if (ok)
        detail = g_strdup_printf ("recovered: %s", rungs);
      else
        detail = g_strdup_printf ("recovery failed (%s): %s", rungs,
                                  pk_toggle_result_get_error (result)
                                    ? pk_toggle_result_get_error (result)->message : "unhealthy");
    }
  else
    detail = g_strdup_printf ("recovery refused: %s", error->message);

  if (ok)
    {
      pk_hysteresis_reset (pk_watchdog_get_hysteresis (w->wd), PK_HEALTH_UP, g_get_real_time ());
      w->down = FALSE;
      update_failing (self, w, FALSE);
      record (w, PK_NODE_STATUS_ONLINE, detail, FALSE);
    }
  else
    record (w, PK_NODE_STATUS_PING_FAILED, detail, FALSE);
  g_message ("dongle %u: %s", w->id, detail);
  g_signal_emit (self, signals[SIGNAL_RECOVERY_FINISHED], 0, w->id, ok, detail);
  if (self->running)
    pk_watchdog_start (w->wd);
}

static void
recover (Watched    *w,
         const char *reason)
{
  PkDongleWatch *self = w->self;
  guint max = pk_toggle_ladder_settings_get_max_recoveries (self->ladder);
  g_autofree char *why = NULL;
  Recovery *rec;

  if (w->recovering || !self->running)
    return;
  /* The toggle's slots hold across processes when there is a state
   * directory; this holds within the process without one. */
  if (max > 0 && self->n_recovering >= max)
    {
      why = g_strdup_printf ("%s; waiting: %u recoveries run, the limit is %u", reason, self->n_recovering, max);
      record (w, PK_NODE_STATUS_PING_FAILED, why, FALSE);
      return;
    }
  w->recovering = TRUE;
  self->n_recovering++;
  why = g_strdup_printf ("recovering: %s", reason);
  record (w, PK_NODE_STATUS_RECOVERING, why, FALSE);
  g_signal_emit (self, signals[SIGNAL_RECOVERY_STARTED], 0, w->id, reason);
  /* no checks while the ladder climbs: they would see it half done */
  pk_watchdog_stop (w->wd);
  w->cancellable = g_cancellable_new ();
  rec = g_new0 (Recovery, 1);
  rec->self = g_object_ref (self);
  rec->id = w->id;
  pk_toggle_run_async (w->toggle, PK_ROTATION_METHOD_DATA, TRUE, w->cancellable, recovered, rec);
}

/* --- watching --- */

static void
on_checked (PkWatchdog *wd,
            gboolean    ok,
            const char *reason,
            Watched    *w)
{
  PkHealth health = pk_watchdog_get_health (wd);

  if (ok)
    {
      g_debug ("dongle %u: ok", w->id);
      if (health == PK_HEALTH_UP)
        {
          w->down = FALSE;
          update_failing (w->self, w, FALSE);
          record (w, PK_NODE_STATUS_ONLINE, NULL, FALSE);
        }
      return;
    }
  g_message ("dongle %u: check failed (%u/%u): %s", w->id, pk_watchdog_get_consecutive_failures (wd),
             pk_watchdog_get_fall (wd), reason);
  if (health == PK_HEALTH_DOWN && w->down)
    recover (w, reason);   /* a former recovery was refused or failed */
  else if (health != PK_HEALTH_DOWN)
    record (w, PK_NODE_STATUS_ONLINE, NULL, FALSE);
}

static void
controller_reset_done (GObject      *source,
                       GAsyncResult *result,
                       gpointer      data)
{
  g_autoptr(PkDongleWatch) self = data;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) reset = NULL;

  self->resetting_controller = FALSE;
  reset = pk_usb_controller_reset_maybe_finish (PK_USB_CONTROLLER_RESET (source), result, &error);
  if (reset != NULL)
    {
      g_autofree char *list = g_strjoinv (", ", reset);

      g_message ("USB controller %s reset: %u of %u dongles had failed", list, self->n_failing,
                 g_hash_table_size (self->dongles));
    }
  else
    g_warning ("USB controller reset failed: %s", error->message);
}

/* The controller reset when most dongles fail at once: TRUE if one was
 * started, which then stands in for this dongle's ladder. */
static gboolean
maybe_reset_controller (PkDongleWatch *self)
{
  g_autoptr(GPtrArray) failed = NULL;
  GHashTableIter iter;
  gpointer value;
  guint total = g_hash_table_size (self->dongles);

  if (self->controller_reset == NULL)
    return FALSE;
  if (self->resetting_controller)
    return TRUE;
  if (!pk_usb_controller_reset_get_allowed (self->controller_reset) ||
      !pk_usb_controller_reset_is_due (self->controller_reset, self->n_failing, total))
    return FALSE;
  if (pk_usb_controller_reset_get_remaining (self->controller_reset) > 0)
    {
      g_message ("%u of %u dongles failed: the USB controller was reset less than %u s ago, "
                 "the dongles are recovered one by one", self->n_failing, total,
                 pk_usb_controller_reset_get_interval (self->controller_reset) / 1000);
      return FALSE;
    }
  failed = g_ptr_array_new ();
  g_hash_table_iter_init (&iter, self->dongles);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((Watched *) value)->failing)
      g_ptr_array_add (failed, ((Watched *) value)->dongle);
  g_message ("%u of %u dongles failed at once: resetting their USB controller", failed->len, total);
  self->resetting_controller = TRUE;
  pk_usb_controller_reset_maybe_async (self->controller_reset, (PkDongle **) failed->pdata, failed->len, total,
                                       NULL, controller_reset_done, g_object_ref (self));
  return TRUE;
}

static void
on_failed (PkWatchdog *wd,
           const char *reason,
           Watched    *w)
{
  w->down = TRUE;
  update_failing (w->self, w, TRUE);
  record (w, PK_NODE_STATUS_PING_FAILED, reason, TRUE);
  if (maybe_reset_controller (w->self))
    return;
  recover (w, reason);
}

/* The listener pk-socks records for the dongle, for the SOCKS check. */
static PkProbe *
socks_probe (PkDongleWatch *self,
             Watched       *w)
{
  g_autoptr(PkNodeState) state = pk_state_store_load (self->store, w->name, NULL);
  g_autofree char *host = NULL;
  guint16 port = 0;
  const char *listen = state ? pk_node_state_get_socks_listen (state) : NULL;

  if (listen == NULL || !pk_parse_host_port (listen, 0, &host, &port, NULL) || port == 0)
    return NULL;
  /* a wildcard listener is reached on loopback */
  return pk_probe_new_socks (g_str_equal (host, "0.0.0.0") ? "127.0.0.1" : g_str_equal (host, "::") ? "::1" : host,
                             port, self->socks_host, self->socks_port);
}

/* Builds what watches and recovers dongle @w->id from @dongle. */
static gboolean
build (Watched   *w,
       PkDongle  *dongle,
       GError   **error)
{
  PkDongleWatch *self = w->self;
  g_autoptr(PkModem) modem = pk_dongle_watch_make_modem (self->config, dongle, error);
  g_autoptr(PkToggle) toggle = NULL;
  g_autoptr(PkProbe) probe = NULL;
  g_autoptr(PkProbe) socks = NULL;
  PkRouting *routing;

  if (modem == NULL)
    return FALSE;
  w->dongle = g_object_ref (dongle);
  w->modem = g_steal_pointer (&modem);
  w->modem_step = pk_dongle_watch_make_modem_step (self->config);

  toggle = pk_toggle_new (w->id, w->modem, self->limiter);
  pk_toggle_set_cooldown (toggle, 0);
  pk_toggle_add_recovery_ladder (toggle, dongle, PK_TOGGLE_STEP (w->modem_step), self->ladder);
  w->toggle = g_steal_pointer (&toggle);

  /* The probe asks what the toggle's diagnosis asks, through the same
   * routing (its backend from the same settings). */
  routing = pk_toggle_get_routing (w->toggle);
  probe = pk_probe_new_dongle (dongle, routing, w->modem);
  w->wd = pk_watchdog_new (w->name);
  g_signal_connect (w->wd, "checked", G_CALLBACK (on_checked), w);
  g_signal_connect (w->wd, "failed", G_CALLBACK (on_failed), w);
  pk_watchdog_add_probe (w->wd, probe);
  if (self->socks_host != NULL && (socks = socks_probe (self, w)) != NULL)
    pk_watchdog_add_probe (w->wd, socks);
  pk_watchdog_set_interval_ms (w->wd, self->interval_ms);
  pk_watchdog_set_initial_delay_ms (w->wd, self->interval_ms);
  pk_watchdog_set_retry_delay_ms (w->wd, self->retry_delay_ms);
  pk_watchdog_set_fall (w->wd, self->fall);
  pk_watchdog_set_rise (w->wd, self->rise);
  pk_watchdog_set_timeout_ms (w->wd, self->timeout_ms);
  return TRUE;
}

/* @dongle: one the monitor found, or (@known FALSE) one the USB map
 * remembers that is not on USB now. */
static void
watch_dongle (PkDongleWatch *self,
              PkDongle      *dongle,
              gboolean       known)
{
  guint id = pk_dongle_get_id (dongle);
  Watched *w;
  g_autoptr(GError) error = NULL;

  if (id == 0 || pk_dongle_get_mode (dongle) != PK_DONGLE_MODE_HILINK ||
      (known && pk_dongle_monitor_get_dongle (self->monitor, id) != dongle))
    return;
  w = g_hash_table_lookup (self->dongles, GUINT_TO_POINTER (id));
  if (w != NULL)
    {
      /* Back as a new USB device (a replug, a port power cycle): the
       * object the probe and the ladder hold takes what the new one
       * holds, so that a rung that waits for it sees it come. */
      if (w->dongle != dongle && pk_dongle_update_from (w->dongle, dongle))
        g_debug ("dongle %u: back on USB %s", id, pk_dongle_get_usb_path (dongle));
      return;
    }
  {
    g_autoptr(PkNodeState) state = NULL;

    w = g_new0 (Watched, 1);
    w->self = self;
    w->id = id;
    w->name = g_strdup_printf (PK_DONGLE_FARM_NODE_PREFIX "%u", id);
    if (!build (w, dongle, &error))
      {
        g_warning ("dongle %u: not watched: %s", id, error->message);
        watched_free (w);
        return;
      }
    g_hash_table_insert (self->dongles, GUINT_TO_POINTER (id), w);
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_DONGLES]);
    pk_hysteresis_reset (pk_watchdog_get_hysteresis (w->wd), PK_HEALTH_UP, g_get_real_time ());
    state = pk_state_store_load (self->store, w->name, NULL);
    if (state != NULL)
      pk_hysteresis_set_total_failures (pk_watchdog_get_hysteresis (w->wd), pk_node_state_get_fails (state));
    /* one that is gone is recorded by its checks */
    if (known)
      {
        record (w, PK_NODE_STATUS_ONLINE, NULL, FALSE);
        g_message ("dongle %u: watching %s (USB %s)", id,
                   pk_dongle_get_interface (dongle) ? pk_dongle_get_interface (dongle) : "no interface",
                   pk_dongle_get_usb_path (dongle));
      }
    else
      g_message ("dongle %u: watching it while it is not on USB (hub %s port %u, from the USB map)",
                 id, pk_dongle_get_hub_path (dongle), pk_dongle_get_hub_port (dongle));
  }
  if (self->running)
    pk_watchdog_start (w->wd);
}

static void
on_dongle_event (PkDongleMonitor *monitor,
                 PkDongle        *dongle,
                 PkDongleWatch   *self)
{
  /* A dongle that went stays watched: its checks fail, and the ladder's
   * power rungs reach its port through the USB map. */
  watch_dongle (self, dongle, TRUE);
}

/* The dongles the USB map remembers and discovery did not find: the
 * recovery ladder's port and hub power reach them through the map. */
static void
watch_remembered (PkDongleWatch *self)
{
  PkUsbMap *map = pk_dongle_monitor_get_usb_map (self->monitor);
  g_autoptr(GPtrArray) entries = map ? pk_usb_map_list (map) : NULL;

  for (guint i = 0; entries != NULL && i < entries->len; i++)
    {
      PkUsbMapEntry *e = g_ptr_array_index (entries, i);
      guint id = pk_usb_map_entry_get_id (e);
      g_autofree char *address = g_strdup_printf ("192.168.%u.100", id);
      g_autoptr(PkDongle) dongle = NULL;
      PkDongleInfo info = { 0 };

      if (id == 0 || id > 255 || g_hash_table_contains (self->dongles, GUINT_TO_POINTER (id)) ||
          pk_usb_map_entry_get_hub_path (e) == NULL)
        continue;
      info.id = id;
      info.mode = PK_DONGLE_MODE_HILINK;
      info.interface = (char *) pk_usb_map_entry_get_interface (e);
      info.host_address = address;
      info.mac_address = (char *) pk_usb_map_entry_get_mac_address (e);
      info.usb_path = (char *) pk_usb_map_entry_get_usb_path (e);
      info.hub_path = (char *) pk_usb_map_entry_get_hub_path (e);
      info.hub_port = pk_usb_map_entry_get_hub_port (e);
      info.serial = (char *) pk_usb_map_entry_get_serial (e);
      dongle = pk_dongle_new_from_info (&info);
      watch_dongle (self, dongle, FALSE);
    }
}

/**
 * pk_dongle_watch_start:
 * @self: a [class@DongleWatch]
 * @error: return location for a `GError`
 *
 * Starts the monitor (a scan, then uevents) in the thread-default main
 * context and watches every dongle in HiLink mode with a number, each
 * that the USB map remembers (a dongle that is gone is brought back by
 * the power rungs, which reach its port through the map), and each that
 * appears later. Each dongle's state is recorded `online` at once;
 * its first check comes after [property@DongleWatch:interval-ms].
 *
 * Returns: %TRUE, or %FALSE with @error set when the monitor cannot
 *   start
 *
 * Since: 0.2
 */
gboolean
pk_dongle_watch_start (PkDongleWatch  *self,
                       GError        **error)
{
  g_autoptr(GPtrArray) dongles = NULL;
  GHashTableIter iter;
  Watched *w;

  g_return_val_if_fail (PK_IS_DONGLE_WATCH (self), FALSE);

  if (self->running)
    return TRUE;
  self->handlers[0] = g_signal_connect (self->monitor, "dongle-added", G_CALLBACK (on_dongle_event), self);
  self->handlers[1] = g_signal_connect (self->monitor, "dongle-changed", G_CALLBACK (on_dongle_event), self);
  if (!pk_dongle_monitor_start (self->monitor, error))
    {
      g_clear_signal_handler (&self->handlers[0], self->monitor);
      g_clear_signal_handler (&self->handlers[1], self->monitor);
      return FALSE;
    }
  self->running = TRUE;
  dongles = pk_dongle_monitor_list_dongles (self->monitor);
  for (guint i = 0; i < dongles->len; i++)
    watch_dongle (self, g_ptr_array_index (dongles, i), TRUE);
  watch_remembered (self);
  g_hash_table_iter_init (&iter, self->dongles);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &w))
    if (!w->recovering)
      pk_watchdog_start (w->wd);
  return TRUE;
}

/**
 * pk_dongle_watch_stop:
 * @self: a [class@DongleWatch]
 *
 * Stops the checks, cancels the recoveries that run (the ladder's rungs
 * restore what they changed) and stops following the monitor. The state
 * files keep what they last recorded.
 *
 * Since: 0.2
 */
void
pk_dongle_watch_stop (PkDongleWatch *self)
{
  GHashTableIter iter;
  Watched *w;

  g_return_if_fail (PK_IS_DONGLE_WATCH (self));

  if (!self->running)
    return;
  self->running = FALSE;
  g_clear_signal_handler (&self->handlers[0], self->monitor);
  g_clear_signal_handler (&self->handlers[1], self->monitor);
  g_hash_table_iter_init (&iter, self->dongles);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &w))
    {
      pk_watchdog_stop (w->wd);
      if (w->cancellable != NULL)
        g_cancellable_cancel (w->cancellable);
      if (w->recovering)
        {
          w->recovering = FALSE;
          self->n_recovering--;
        }
    }
}

/**
 * pk_dongle_watch_get_n_dongles:
 * @self: a [class@DongleWatch]
 *
 * Gets [property@DongleWatch:n-dongles].
 *
 * Returns: how many dongles are watched
 *
 * Since: 0.2
 */
guint
pk_dongle_watch_get_n_dongles (PkDongleWatch *self)
{
  g_return_val_if_fail (PK_IS_DONGLE_WATCH (self), 0);
  return g_hash_table_size (self->dongles);
}

/**
 * pk_dongle_watch_set_controller_reset:
 * @self: a [class@DongleWatch]
 * @reset: (nullable): the controller reset policy, or %NULL for none
 *
 * Lets the watch reset the dongles' USB controller when most of them fail
 * at once (see [class@UsbControllerReset]: it does so only when allowed,
 * at its threshold and at most once per its interval).
 *
 * Since: 0.2
 */
void
pk_dongle_watch_set_controller_reset (PkDongleWatch        *self,
                                      PkUsbControllerReset *reset)
{
  g_return_if_fail (PK_IS_DONGLE_WATCH (self));
  g_return_if_fail (reset == NULL || PK_IS_USB_CONTROLLER_RESET (reset));
  g_set_object (&self->controller_reset, reset);
}

/**
 * pk_dongle_watch_get_controller_reset:
 * @self: a [class@DongleWatch]
 *
 * See [method@DongleWatch.set_controller_reset].
 *
 * Returns: (transfer none) (nullable): the controller reset policy
 *
 * Since: 0.2
 */
PkUsbControllerReset *
pk_dongle_watch_get_controller_reset (PkDongleWatch *self)
{
  g_return_val_if_fail (PK_IS_DONGLE_WATCH (self), NULL);
  return self->controller_reset;
}

/**
 * pk_dongle_watch_get_n_failing:
 * @self: a [class@DongleWatch]
 *
 * Gets [property@DongleWatch:n-failing].
 *
 * Returns: how many dongles have a confirmed failure
 *
 * Since: 0.2
 */
guint
pk_dongle_watch_get_n_failing (PkDongleWatch *self)
{
  g_return_val_if_fail (PK_IS_DONGLE_WATCH (self), 0);
  return self->n_failing;
}

/**
 * pk_dongle_watch_get_n_recovering:
 * @self: a [class@DongleWatch]
 *
 * Gets how many recoveries this watch runs now.
 *
 * Returns: how many recoveries run
 *
 * Since: 0.2
 */
guint
pk_dongle_watch_get_n_recovering (PkDongleWatch *self)
{
  g_return_val_if_fail (PK_IS_DONGLE_WATCH (self), 0);
  return self->n_recovering;
}
