/* pk-toggle.c: one dongle's "get me a new IP", with locks and limits
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkToggle:
 *
 * Gets one dongle a new IP: it diagnoses the dongle (reads its state and
 * WAN IP), runs its [iface@ToggleStep]s in order until one of them yields
 * a new IP, and verifies the new IP with the modem. The
 * [class@ToggleResult] lists every step with its outcome.
 *
 * A toggle refuses to start while it runs already on the same dongle
 * (%PK_ERROR_BUSY), while the dongle cools down after its last toggle
 * (%PK_ERROR_COOLDOWN, 15 s by default) and while a shared
 * [class@ToggleLimiter] has as many toggles running as it allows
 * (%PK_ERROR_NOT_ALLOWED, 3 by default; a recovery run ignores that
 * limit).
 *
 * With a state directory ([method@Toggle.set_state_dir]) the lock and the
 * cooldown hold across processes too: a toggle holds `toggle-N.lock`
 * (`flock(2)`) while it runs and records its end in `toggle-N.last`, so
 * that a one-shot `pk-toggle N` and a running `pk-toggle --serve` do not
 * toggle the same dongle at once.
 *
 * The steps are objects implementing [iface@ToggleStep];
 * [class@ToggleModemStep] rotates the IP through the modem API. Later
 * steps (a routing reset, a USB rebind, a port power cycle) are added
 * with [method@Toggle.add_step] without changes here.
 *
 * ```c
 * g_autoptr(PkToggleLimiter) limiter = pk_toggle_limiter_new (3);
 * g_autoptr(PkToggle) toggle = pk_toggle_new (11, PK_MODEM (modem), limiter);
 * g_autoptr(PkToggleModemStep) step = pk_toggle_modem_step_new ();
 *
 * pk_toggle_add_step (toggle, PK_TOGGLE_STEP (step));
 * pk_toggle_run_async (toggle, PK_ROTATION_METHOD_DATA, FALSE, NULL, on_toggled, NULL);
 * ```
 *
 * Since: 0.1
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "pk-error.h"
#include "pk-toggle.h"
#include "pk-toggle-private.h"

/* --- PkToggle --- */

struct _PkToggle
{
  GObject parent_instance;

  guint id;
  PkModem *modem;
  PkToggleLimiter *limiter;
  PkRouting *routing;
  GPtrArray *steps;
  guint cooldown_ms;
  char *state_dir;
  int lock_fd;
  int slot_fd;            /* the recovery slot held, or -1 */
  char *max_stage;        /* the last step a run that is no recovery may take */
  guint max_recoveries;
  guint recovery_cooldown_ms;
  gint64 last_recovered;  /* monotonic, 0 before the first recovery */
  char *bad_last;         /* the toggle-N.last contents last warned about */

  gboolean running;
  gint64 last_finished;   /* monotonic, 0 before the first run */
  PkToggleResult *last_result;

  /* the run */
  PkRotationMethod method;
  char *old_ip;
  guint step_index;
  gboolean recovery;
  gint64 started;
  gint64 step_started;
  char *diagnosis;        /* the modem's side of the diagnosis */
  GError *step_error;
};

G_DEFINE_FINAL_TYPE (PkToggle, pk_toggle, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_MODEM,
  PROP_LIMITER,
  PROP_COOLDOWN,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_PROGRESS,
  N_SIGNALS
};

static guint toggle_signals[N_SIGNALS];

static void
pk_toggle_finalize (GObject *object)
{
  PkToggle *self = PK_TOGGLE (object);

  g_clear_object (&self->modem);
  g_clear_object (&self->limiter);
  g_clear_object (&self->routing);
  g_free (self->diagnosis);
  g_free (self->max_stage);
  if (self->slot_fd >= 0)
    close (self->slot_fd);
  g_clear_pointer (&self->bad_last, g_free);
  g_ptr_array_unref (self->steps);
  g_clear_object (&self->last_result);
  g_free (self->state_dir);
  if (self->lock_fd >= 0)
    close (self->lock_fd);
  g_free (self->old_ip);
  g_clear_error (&self->step_error);

  G_OBJECT_CLASS (pk_toggle_parent_class)->finalize (object);
}

static void
pk_toggle_get_property (GObject    *object,
                        guint       prop_id,
                        GValue     *value,
                        GParamSpec *pspec)
{
  PkToggle *self = PK_TOGGLE (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_uint (value, self->id);
      break;
    case PROP_MODEM:
      g_value_set_object (value, self->modem);
      break;
    case PROP_LIMITER:
      g_value_set_object (value, self->limiter);
      break;
    case PROP_COOLDOWN:
      g_value_set_uint (value, self->cooldown_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_toggle_set_property (GObject      *object,
                        guint         prop_id,
                        const GValue *value,
                        GParamSpec   *pspec)
{
  PkToggle *self = PK_TOGGLE (object);

  switch (prop_id)
    {
    case PROP_ID:
      self->id = g_value_get_uint (value);
      break;
    case PROP_MODEM:
      self->modem = g_value_dup_object (value);
      break;
    case PROP_LIMITER:
      self->limiter = g_value_dup_object (value);
      break;
    case PROP_COOLDOWN:
      pk_toggle_set_cooldown (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_toggle_constructed (GObject *object)
{
  PkToggle *self = PK_TOGGLE (object);

  G_OBJECT_CLASS (pk_toggle_parent_class)->constructed (object);

  if (self->limiter == NULL)
    self->limiter = pk_toggle_limiter_new (PK_TOGGLE_DEFAULT_MAX_CONCURRENT);
}

static void
pk_toggle_class_init (PkToggleClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = pk_toggle_finalize;
  object_class->constructed = pk_toggle_constructed;
  object_class->get_property = pk_toggle_get_property;
  object_class->set_property = pk_toggle_set_property;

  /**
   * PkToggle:id:
   *
   * The dongle's number (its subnet, 11 for 192.168.11.x).
   *
   * Since: 0.1
   */
  properties[PROP_ID] =
    g_param_spec_uint ("id", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * PkToggle:modem:
   *
   * The dongle's modem.
   *
   * Since: 0.1
   */
  properties[PROP_MODEM] =
    g_param_spec_object ("modem", NULL, NULL, PK_TYPE_MODEM,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * PkToggle:limiter:
   *
   * The limit on toggles at once this toggle shares with others.
   *
   * Since: 0.1
   */
  properties[PROP_LIMITER] =
    g_param_spec_object ("limiter", NULL, NULL, PK_TYPE_TOGGLE_LIMITER,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * PkToggle:cooldown:
   *
   * The pause after a toggle before the next one may start, in
   * milliseconds.
   *
   * Since: 0.1
   */
  properties[PROP_COOLDOWN] =
    g_param_spec_uint ("cooldown", NULL, NULL, 0, G_MAXUINT, PK_TOGGLE_DEFAULT_COOLDOWN_MS,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * PkToggle::progress:
   * @self: the [class@Toggle]
   * @text: what the toggle does now, such as `diagnose` or `data: mobile
   *   data off` (the [signal@Rotation::progress] of its modem step)
   *
   * Emitted at each step of a run as it starts, so that a tool can show a
   * toggle that takes seconds while it happens (`pk-toggle` does on a
   * terminal).
   *
   * Since: 0.2
   */
  toggle_signals[SIGNAL_PROGRESS] =
    g_signal_new ("progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
pk_toggle_init (PkToggle *self)
{
  self->steps = g_ptr_array_new_with_free_func (g_object_unref);
  self->cooldown_ms = PK_TOGGLE_DEFAULT_COOLDOWN_MS;
  self->lock_fd = -1;
  self->slot_fd = -1;
}

/**
 * pk_toggle_new:
 * @id: the dongle's number
 * @modem: the dongle's modem
 * @limiter: (nullable): the limit shared with the host's other toggles,
 *   or %NULL for a limit of its own (%PK_TOGGLE_DEFAULT_MAX_CONCURRENT)
 *
 * Creates a toggle with no steps; add them with [method@Toggle.add_step].
 *
 * Returns: (transfer full): a new [class@Toggle]
 *
 * Since: 0.1
 */
PkToggle *
pk_toggle_new (guint            id,
               PkModem         *modem,
               PkToggleLimiter *limiter)
{
  g_return_val_if_fail (PK_IS_MODEM (modem), NULL);
  g_return_val_if_fail (limiter == NULL || PK_IS_TOGGLE_LIMITER (limiter), NULL);

  return g_object_new (PK_TYPE_TOGGLE, "id", id, "modem", modem, "limiter", limiter, NULL);
}

/**
 * pk_toggle_get_id:
 * @self: a [class@Toggle]
 *
 * Gets the dongle's number.
 *
 * Returns: the dongle's number
 *
 * Since: 0.1
 */
guint
pk_toggle_get_id (PkToggle *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE (self), 0);
  return self->id;
}

/**
 * pk_toggle_get_modem:
 * @self: a [class@Toggle]
 *
 * Gets the dongle's modem.
 *
 * Returns: (transfer none): the dongle's modem
 *
 * Since: 0.1
 */
PkModem *
pk_toggle_get_modem (PkToggle *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE (self), NULL);
  return self->modem;
}

/**
 * pk_toggle_get_limiter:
 * @self: a [class@Toggle]
 *
 * Gets the shared limiter.
 *
 * Returns: (transfer none): the shared limiter
 *
 * Since: 0.1
 */
PkToggleLimiter *
pk_toggle_get_limiter (PkToggle *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE (self), NULL);
  return self->limiter;
}

/**
 * pk_toggle_add_step:
 * @self: a [class@Toggle]
 * @step: a step, run after those added before
 *
 * Appends a step.
 *
 * Since: 0.1
 */
void
pk_toggle_add_step (PkToggle     *self,
                    PkToggleStep *step)
{
  g_return_if_fail (PK_IS_TOGGLE (self));
  g_return_if_fail (PK_IS_TOGGLE_STEP (step));
  g_return_if_fail (!self->running);

  g_ptr_array_add (self->steps, g_object_ref (step));
}

/**
 * pk_toggle_get_routing:
 * @self: a [class@Toggle]
 *
 * Gets the dongle's routing, or %NULL.
 *
 * Returns: (transfer none) (nullable): the routing set with
 *   [method@Toggle.set_routing]
 *
 * Since: 0.2
 */
PkRouting *
pk_toggle_get_routing (PkToggle *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE (self), NULL);
  return self->routing;
}

/**
 * pk_toggle_set_routing:
 * @self: a [class@Toggle]
 * @routing: (nullable): the dongle's routing, or %NULL
 *
 * With a routing, the diagnosis also checks that the dongle's interface
 * is there and holds its address, and that its routing is right, and the
 * run starts at the first rung that fits: `usb` when the interface or its
 * address is missing, `routing` when the routing is wrong, otherwise the
 * first step that is not `routing`. Steps before it are skipped.
 *
 * Since: 0.2
 */
void
pk_toggle_set_routing (PkToggle  *self,
                       PkRouting *routing)
{
  g_return_if_fail (PK_IS_TOGGLE (self));
  g_return_if_fail (routing == NULL || PK_IS_ROUTING (routing));
  g_return_if_fail (!self->running);

  g_set_object (&self->routing, routing);
}

/**
 * pk_toggle_set_max_stage:
 * @self: a [class@Toggle]
 * @name: (nullable): the name of the last step a run that is not a
 *   recovery may take (`modem`), or %NULL for every step
 *
 * Bounds the climb of a plain toggle: the steps after @name are for
 * recoveries only (see [method@Toggle.run_async]).
 *
 * Since: 0.2
 */
void
pk_toggle_set_max_stage (PkToggle   *self,
                         const char *name)
{
  g_return_if_fail (PK_IS_TOGGLE (self));
  g_return_if_fail (!self->running);

  g_free (self->max_stage);
  self->max_stage = g_strdup (name);
}

/**
 * pk_toggle_set_max_recoveries:
 * @self: a [class@Toggle]
 * @max_recoveries: how many recoveries may run at once on the host, 0
 *   for no limit
 *
 * Limits recoveries (which climb past the modem, to USB and power) across
 * the host: a recovery takes one of @max_recoveries slots, lock files in
 * the state directory ([method@Toggle.set_state_dir]) shared by every
 * toggle and process that uses it, and is refused with
 * %PK_ERROR_NOT_ALLOWED while all are taken. Without a state directory
 * there is no limit.
 *
 * Since: 0.2
 */
void
pk_toggle_set_max_recoveries (PkToggle *self,
                              guint     max_recoveries)
{
  g_return_if_fail (PK_IS_TOGGLE (self));
  self->max_recoveries = max_recoveries;
}

/**
 * pk_toggle_set_recovery_cooldown:
 * @self: a [class@Toggle]
 * @cooldown_ms: the pause after a recovery of this dongle before the next
 *   recovery, in milliseconds (0 for none)
 *
 * A recovery within @cooldown_ms of the dongle's last one is refused with
 * %PK_ERROR_COOLDOWN, so that a dongle that does not come back is not
 * power-cycled in a loop. Shared with other processes through the state
 * directory, like the cooldown.
 *
 * Since: 0.2
 */
void
pk_toggle_set_recovery_cooldown (PkToggle *self,
                                 guint     cooldown_ms)
{
  g_return_if_fail (PK_IS_TOGGLE (self));
  self->recovery_cooldown_ms = cooldown_ms;
}

/**
 * pk_toggle_get_n_steps:
 * @self: a [class@Toggle]
 *
 * Tells how many steps the toggle has.
 *
 * Returns: how many steps the toggle has
 *
 * Since: 0.1
 */
guint
pk_toggle_get_n_steps (PkToggle *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE (self), 0);
  return self->steps->len;
}

/**
 * pk_toggle_get_cooldown:
 * @self: a [class@Toggle]
 *
 * Gets the cooldown in milliseconds.
 *
 * Returns: the cooldown in milliseconds
 *
 * Since: 0.1
 */
guint
pk_toggle_get_cooldown (PkToggle *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE (self), 0);
  return self->cooldown_ms;
}

/**
 * pk_toggle_set_cooldown:
 * @self: a [class@Toggle]
 * @cooldown_ms: the pause after a toggle, in milliseconds
 *
 * Sets the pause after a toggle before the next one may start.
 *
 * Since: 0.1
 */
void
pk_toggle_set_cooldown (PkToggle *self,
                        guint     cooldown_ms)
{
  g_return_if_fail (PK_IS_TOGGLE (self));

  if (self->cooldown_ms == cooldown_ms)
    return;
  self->cooldown_ms = cooldown_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_COOLDOWN]);
}

/**
 * pk_toggle_get_state_dir:
 * @self: a [class@Toggle]
 *
 * Gets the state directory, or %NULL.
 *
 * Returns: (nullable): the state directory, or %NULL
 *
 * Since: 0.1
 */
const char *
pk_toggle_get_state_dir (PkToggle *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE (self), NULL);
  return self->state_dir;
}

/**
 * pk_toggle_set_state_dir:
 * @self: a [class@Toggle]
 * @state_dir: (nullable): a directory for the lock and cooldown files, or
 *   %NULL to keep them in this process only
 *
 * Shares the per-dongle lock and cooldown with other processes through
 * files in @state_dir (created if missing).
 *
 * Since: 0.1
 */
void
pk_toggle_set_state_dir (PkToggle   *self,
                         const char *state_dir)
{
  g_return_if_fail (PK_IS_TOGGLE (self));
  g_return_if_fail (!self->running);

  g_free (self->state_dir);
  self->state_dir = g_strdup (state_dir);
}

static char *
state_path (PkToggle   *self,
            const char *suffix)
{
  g_autofree char *name = g_strdup_printf ("toggle-%u.%s", self->id, suffix);
  return g_build_filename (self->state_dir, name, NULL);
}

/* When the last toggle of this dongle ended, in real time (microseconds),
 * by any process; 0 if unknown. A time in the future (the clock was set
 * back, or the file is corrupt) would hold the cooldown for as long as it
 * stays ahead, so it counts as unknown, with a warning (once per value);
 * this process's own monotonic record still applies. */
static gint64
shared_last_finished_in (PkToggle   *self,
                         const char *suffix)
{
  g_autofree char *path = NULL;
  g_autofree char *text = NULL;
  const char *why = NULL;
  gint64 value = 0;

  if (self->state_dir == NULL)
    return 0;
  path = state_path (self, suffix);
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  g_strstrip (text);
  if (!g_ascii_string_to_signed (text, 10, 1, G_MAXINT64, &value, NULL))
    why = "not a time in microseconds";
  else if (value > g_get_real_time () + G_USEC_PER_SEC)
    why = "in the future (was the clock set back?)";
  if (why == NULL)
    {
      g_clear_pointer (&self->bad_last, g_free);
      return value;
    }
  if (g_strcmp0 (self->bad_last, text) != 0)
    {
      g_autofree char *shown = g_strescape (text, NULL);

      g_warning ("dongle %u: %s holds '%.40s', %s: ignored, no cooldown from it",
                 self->id, path, shown, why);
      g_free (self->bad_last);
      self->bad_last = g_steal_pointer (&text);
    }
  return 0;
}

static gint64
shared_last_finished (PkToggle *self)
{
  return shared_last_finished_in (self, "last");
}

static void
shared_record_finished (PkToggle   *self,
                        const char *suffix)
{
  g_autofree char *path = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;

  if (self->state_dir == NULL)
    return;
  path = state_path (self, suffix);
  text = g_strdup_printf ("%" G_GINT64_FORMAT "\n", g_get_real_time ());
  if (!g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, &error))
    g_warning ("dongle %u: cannot record the toggle in %s: %s", self->id, path, error->message);
}

int
pk_toggle_lock_acquire (const char  *state_dir,
                        guint        id,
                        GError     **error)
{
  g_autofree char *name = g_strdup_printf ("toggle-%u.lock", id);
  g_autofree char *path = g_build_filename (state_dir, name, NULL);
  int fd;

  if (g_mkdir_with_parents (state_dir, 0755) < 0)
    {
      int saved = errno;
      g_set_error (error, PK_ERROR, PK_ERROR_STATE, "dongle %u: cannot create %s: %s",
                   id, state_dir, g_strerror (saved));
      return -1;
    }
  fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, PK_ERROR, PK_ERROR_STATE, "dongle %u: cannot open %s: %s",
                   id, path, g_strerror (saved));
      return -1;
    }
  if (flock (fd, LOCK_EX | LOCK_NB) < 0)
    {
      int saved = errno;
      close (fd);
      if (saved == EWOULDBLOCK)
        g_set_error (error, PK_ERROR, PK_ERROR_BUSY,
                     "dongle %u: a toggle, recovery or power switch of it is running already (in another process, "
                     "or elsewhere in this one: %s is locked)",
                     id, path);
      else
        g_set_error (error, PK_ERROR, PK_ERROR_STATE, "dongle %u: cannot lock %s: %s",
                     id, path, g_strerror (saved));
      return -1;
    }
  return fd;
}

/* Takes the dongle's lock file; FALSE with PK_ERROR_BUSY when another
 * holds it. */
static gboolean
shared_lock (PkToggle  *self,
             GError   **error)
{
  if (self->state_dir == NULL)
    return TRUE;
  self->lock_fd = pk_toggle_lock_acquire (self->state_dir, self->id, error);
  return self->lock_fd >= 0;
}

static void
shared_unlock (PkToggle *self)
{
  if (self->lock_fd >= 0)
    {
      close (self->lock_fd);
      self->lock_fd = -1;
    }
}

/* Milliseconds until a recovery of this dongle may start. */
static guint
recovery_cooldown_remaining (PkToggle *self)
{
  gint64 left = 0, shared;
  gint64 span = (gint64) self->recovery_cooldown_ms * 1000;

  if (span == 0)
    return 0;
  if (self->last_recovered != 0)
    left = self->last_recovered + span - g_get_monotonic_time ();
  shared = shared_last_finished_in (self, "recovered");
  if (shared > 0)
    left = MAX (left, shared + span - g_get_real_time ());
  left = MIN (left, span);
  return left > 0 ? (guint) ((left + 999) / 1000) : 0;
}

/* Takes one of the host's recovery slots (recovery-K.lock in the state
 * directory); FALSE with PK_ERROR_NOT_ALLOWED when all are taken. */
static gboolean
take_recovery_slot (PkToggle  *self,
                    GError   **error)
{
  if (self->max_recoveries == 0 || self->state_dir == NULL)
    return TRUE;
  for (guint k = 0; k < self->max_recoveries; k++)
    {
      g_autofree char *name = g_strdup_printf ("recovery-%u.lock", k);
      g_autofree char *path = g_build_filename (self->state_dir, name, NULL);
      int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

      if (fd < 0)
        continue;
      if (flock (fd, LOCK_EX | LOCK_NB) == 0)
        {
          self->slot_fd = fd;
          return TRUE;
        }
      close (fd);
    }
  g_set_error (error, PK_ERROR, PK_ERROR_NOT_ALLOWED,
               "dongle %u: %u recoveries are running on this host, the limit is %u",
               self->id, self->max_recoveries, self->max_recoveries);
  return FALSE;
}

/**
 * pk_toggle_is_running:
 * @self: a [class@Toggle]
 *
 * Tells whether a toggle runs on this dongle.
 *
 * Returns: %TRUE while a toggle runs on this dongle
 *
 * Since: 0.1
 */
gboolean
pk_toggle_is_running (PkToggle *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE (self), FALSE);
  return self->running;
}

/**
 * pk_toggle_get_cooldown_remaining:
 * @self: a [class@Toggle]
 *
 * Tells how long until the next toggle may start, in milliseconds (0 when it
 * may start now).
 *
 * Returns: how long until the next toggle may start, in milliseconds
 *   (0 when it may start now)
 *
 * Since: 0.1
 */
guint
pk_toggle_get_cooldown_remaining (PkToggle *self)
{
  gint64 left;

  gint64 shared;

  g_return_val_if_fail (PK_IS_TOGGLE (self), 0);

  left = self->last_finished == 0 ? 0
         : self->last_finished + (gint64) self->cooldown_ms * 1000 - g_get_monotonic_time ();
  shared = shared_last_finished (self);
  if (shared > 0)
    left = MAX (left, shared + (gint64) self->cooldown_ms * 1000 - g_get_real_time ());
  left = MIN (left, (gint64) self->cooldown_ms * 1000);
  return left > 0 ? (guint) ((left + 999) / 1000) : 0;
}

/**
 * pk_toggle_get_last_result:
 * @self: a [class@Toggle]
 *
 * Gets the result of the last run, or %NULL.
 *
 * Returns: (transfer none) (nullable): the result of the last run, or %NULL
 *
 * Since: 0.1
 */
PkToggleResult *
pk_toggle_get_last_result (PkToggle *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE (self), NULL);
  return self->last_result;
}

/**
 * pk_toggle_get_old_ip:
 * @self: a [class@Toggle]
 *
 * For steps: the WAN IP the diagnosis found.
 *
 * Returns: (nullable): the IP before the run, %NULL if unknown
 *
 * Since: 0.1
 */
const char *
pk_toggle_get_old_ip (PkToggle *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE (self), NULL);
  return self->old_ip;
}

/**
 * pk_toggle_get_method:
 * @self: a [class@Toggle]
 *
 * For steps: the rotation method the run was asked for.
 *
 * Returns: the method
 *
 * Since: 0.1
 */
PkRotationMethod
pk_toggle_get_method (PkToggle *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE (self), PK_ROTATION_METHOD_DATA);
  return self->method;
}

typedef struct {
  PkToggleResult *result;
  PkToggleStep *step;
  char *detail;          /* what the last step said it did */
} RunData;

static void
run_data_free (RunData *data)
{
  g_clear_object (&data->result);
  g_clear_object (&data->step);
  g_free (data->detail);
  g_free (data);
}

static void run_next_step (GTask *task);

/* A rung's line in the result, with how long it took. */
static void
add_rung (PkToggle   *self,
          RunData    *data,
          const char *name,
          const char *outcome,
          const char *detail)
{
  guint64 ms = (guint64) ((g_get_monotonic_time () - self->step_started) / 1000);

  g_debug ("dongle %u: %s %s in %" G_GUINT64_FORMAT " ms%s%s", self->id, name, outcome, ms,
           detail ? ": " : "", detail ? detail : "");
  pk_toggle_result_add_step (data->result, name, outcome, detail);
  pk_toggle_result_set_step_duration (data->result, ms);
}

static void
run_done (GTask  *task,
          GError *error)
{
  PkToggle *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  PkToggleResult *result = data->result;

  pk_toggle_result_finish (result, (guint64) ((g_get_monotonic_time () - self->started) / 1000), error);
  self->running = FALSE;
  pk_toggle_limiter_release (self->limiter);
  self->last_finished = g_get_monotonic_time ();
  shared_record_finished (self, "last");
  if (self->recovery)
    {
      self->last_recovered = self->last_finished;
      shared_record_finished (self, "recovered");
    }
  if (self->slot_fd >= 0)
    {
      close (self->slot_fd);
      self->slot_fd = -1;
    }
  shared_unlock (self);
  g_set_object (&self->last_result, result);

  if (error != NULL)
    g_debug ("dongle %u: toggle failed after %" G_GUINT64_FORMAT " ms: %s",
             self->id, pk_toggle_result_get_duration_ms (result), error->message);
  else
    g_debug ("dongle %u: %s -> %s by %s in %" G_GUINT64_FORMAT " ms",
             self->id, pk_toggle_result_get_old_ip (result) ? pk_toggle_result_get_old_ip (result) : "(none)",
             pk_toggle_result_get_new_ip (result), pk_toggle_result_get_method (result),
             pk_toggle_result_get_duration_ms (result));

  g_task_return_pointer (task, g_object_ref (result), g_object_unref);
  g_object_unref (task);
}

static void
on_verified (GObject      *source,
             GAsyncResult *res,
             gpointer      user_data)
{
  GTask *task = user_data;
  PkToggle *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autofree char *wan_ip = NULL;
  PkModemState state = PK_MODEM_STATE_UNKNOWN;
  const char *name = pk_toggle_step_get_name (data->step);

  if (!pk_modem_get_status_finish (self->modem, res, &state, &wan_ip, &error))
    {
      g_autofree char *detail = g_strdup_printf ("%s; verify: %s", data->detail ? data->detail : "done",
                                                 error->message);
      add_rung (self, data, name, "failed", detail);
      g_clear_error (&self->step_error);
      self->step_error = g_steal_pointer (&error);
    }
  else if (state == PK_MODEM_STATE_CONNECTED && wan_ip != NULL &&
           (self->recovery || g_strcmp0 (wan_ip, self->old_ip) != 0))
    {
      /* A recovery wants the dongle back; a new IP is not the point. */
      add_rung (self, data, name, g_strcmp0 (wan_ip, self->old_ip) != 0 ? "changed" : "ok", data->detail);
      pk_toggle_result_set_ips (data->result, NULL, wan_ip);
      run_done (task, NULL);
      return;
    }
  else
    {
      g_autofree char *detail = g_strdup_printf ("%s; verify: %s %s", data->detail ? data->detail : "done",
                                                 pk_modem_state_to_string (state), wan_ip ? wan_ip : "");
      add_rung (self, data, name, "unchanged", detail);
      g_clear_error (&self->step_error);
      self->step_error = g_error_new (PK_ERROR, PK_ERROR_UNCHANGED, "dongle %u: the IP stayed %s",
                                      self->id, self->old_ip ? self->old_ip : "(none)");
    }
  self->step_index++;
  run_next_step (task);
}

static void
on_rerouted (GObject      *source,
             GAsyncResult *res,
             gpointer      user_data)
{
  GTask *task = user_data;
  PkToggle *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(PkRoutingDiagnosis) diagnosis = pk_routing_repair_finish (PK_ROUTING (source), res, &error);
  g_autofree char *detail = NULL;

  /* The verify says whether the dongle answers; a routing still wrong
   * goes in the detail. */
  if (diagnosis == NULL)
    detail = g_strdup_printf ("%s; routing: %s", data->detail ? data->detail : "done", error->message);
  else if (pk_routing_diagnosis_get_actions (diagnosis)[0] != NULL || !pk_routing_diagnosis_get_healthy (diagnosis))
    {
      g_autofree char *text = pk_routing_diagnosis_to_string (diagnosis);
      detail = g_strdup_printf ("%s; routing: %s", data->detail ? data->detail : "done", text);
    }
  if (detail != NULL)
    {
      g_free (data->detail);
      data->detail = g_steal_pointer (&detail);
    }
  pk_toggle_emit_progress (self, "verify");
  pk_modem_get_status_async (self->modem, g_task_get_cancellable (task), on_verified, task);
}

static void
on_step_done (GObject      *source,
              GAsyncResult *res,
              gpointer      user_data)
{
  GTask *task = user_data;
  PkToggle *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  PkToggleStep *step = PK_TOGGLE_STEP (source);
  g_autoptr(PkToggleStepOutcome) outcome = NULL;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  ok = pk_toggle_step_run_finish (step, res, &outcome, &error);

  /* what the step did goes in the result, whatever kind of step it is */
  g_clear_pointer (&data->detail, g_free);
  if (outcome != NULL)
    {
      const char *method = pk_toggle_step_outcome_get_method (outcome);

      data->detail = g_strdup (pk_toggle_step_outcome_get_detail (outcome));
      pk_toggle_result_set_method (data->result, method ? method : pk_toggle_step_get_name (step),
                                   pk_toggle_step_outcome_get_attempts (outcome),
                                   pk_toggle_step_outcome_get_escalated (outcome));
    }
  else
    pk_toggle_result_set_method (data->result, pk_toggle_step_get_name (step), 0, FALSE);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      add_rung (self, data, pk_toggle_step_get_name (step), "failed", "cancelled");
      run_done (task, g_steal_pointer (&error));
      return;
    }
  if (!ok)
    {
      g_autofree char *detail = data->detail != NULL
        ? g_strdup_printf ("%s: %s", error->message, data->detail) : g_strdup (error->message);
      add_rung (self, data, pk_toggle_step_get_name (step),
                g_error_matches (error, PK_ERROR, PK_ERROR_UNCHANGED) ? "unchanged" : "failed",
                detail);
      g_clear_error (&self->step_error);
      self->step_error = g_steal_pointer (&error);
      self->step_index++;
      run_next_step (task);
      return;
    }

  /* An interface that came back (USB, power) lost its table routes. */
  if (self->routing != NULL && !g_str_equal (pk_toggle_step_get_name (step), "modem") &&
      !g_str_equal (pk_toggle_step_get_name (step), "routing"))
    {
      pk_toggle_emit_progress (self, "routing");
      pk_routing_repair_async (self->routing, g_task_get_cancellable (task), on_rerouted, task);
      return;
    }
  pk_toggle_emit_progress (self, "verify");
  pk_modem_get_status_async (self->modem, g_task_get_cancellable (task), on_verified, task);
}

/* The index of the last step this run may take. */
static guint
last_step (PkToggle *self)
{
  if (self->recovery || self->max_stage == NULL)
    return G_MAXUINT;
  for (guint i = 0; i < self->steps->len; i++)
    if (g_str_equal (pk_toggle_step_get_name (g_ptr_array_index (self->steps, i)), self->max_stage))
      return i;
  return G_MAXUINT;
}

static void
run_next_step (GTask *task)
{
  PkToggle *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);

  if (self->step_index >= self->steps->len || self->step_index > last_step (self))
    {
      GError *error = g_steal_pointer (&self->step_error);

      /* No step ran: the diagnosis asked for a rung past the bound. */
      if (self->step_index < self->steps->len && data->step == NULL)
        {
          g_clear_error (&error);
          error = g_error_new (PK_ERROR, PK_ERROR_CHECK_FAILED,
                               "dongle %u: the diagnosis calls for the %s rung, past %s; run a recovery",
                               self->id,
                               pk_toggle_step_get_name (g_ptr_array_index (self->steps, self->step_index)),
                               self->max_stage);
        }
      else if (error == NULL)
        error = g_error_new (PK_ERROR, self->step_index < self->steps->len ? PK_ERROR_UNCHANGED : PK_ERROR_NOT_SUPPORTED,
                             "dongle %u: no step to run (a rung past the modem needs the dongle on USB)",
                             self->id);
      else if (self->steps->len > 1)
        g_prefix_error (&error, "dongle %u: every step failed; last: ", self->id);
      run_done (task, error);
      return;
    }

  g_set_object (&data->step, g_ptr_array_index (self->steps, self->step_index));
  self->step_started = g_get_monotonic_time ();
  pk_toggle_emit_progress (self, pk_toggle_step_get_name (data->step));
  pk_toggle_step_run_async (data->step, self, g_task_get_cancellable (task), on_step_done, task);
}

/* The index of the first step named @name, or @fallback. */
static guint
find_step (PkToggle   *self,
           const char *name,
           guint       fallback)
{
  for (guint i = 0; i < self->steps->len; i++)
    if (g_str_equal (pk_toggle_step_get_name (g_ptr_array_index (self->steps, i)), name))
      return i;
  return fallback;
}

/* --- the diagnosis --- */

/* What a diagnosis found: the modem's side, then the routing's. */
typedef struct {
  GError *modem_error;    /* the modem did not answer, or NULL */
  char *old_ip;
  char *modem;            /* "connected, WAN IP ...", or the modem's error */
  char *routing;          /* "routing: ...", or NULL without a routing */
  const char *start;      /* the rung the routing calls for, or NULL */
  gboolean healthy;
} Diagnosis;

static void
diagnosis_free (Diagnosis *d)
{
  g_clear_error (&d->modem_error);
  g_free (d->old_ip);
  g_free (d->modem);
  g_free (d->routing);
  g_free (d);
}

static void
on_modem_diagnosed (GObject      *source,
                    GAsyncResult *res,
                    gpointer      user_data)
{
  GTask *task = user_data;
  PkToggle *self = g_task_get_source_object (task);
  Diagnosis *d = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  PkModemState state = PK_MODEM_STATE_UNKNOWN;

  if (!pk_modem_get_status_finish (self->modem, res, &state, &d->old_ip, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_task_return_error (task, g_steal_pointer (&error));
          g_object_unref (task);
          return;
        }
      /* Later steps (USB rebind, power cycle) may help a modem that does
       * not answer; the modem step will report it unreachable. */
      d->modem = g_strdup (error->message);
      d->modem_error = g_steal_pointer (&error);
    }
  else
    d->modem = g_strdup_printf ("%s%s%s", pk_modem_state_to_string (state), d->old_ip ? ", WAN IP " : "",
                                d->old_ip ? d->old_ip : "");
  d->healthy = d->healthy && d->modem_error == NULL;
  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static void
on_routing_diagnosed (GObject      *source,
                      GAsyncResult *res,
                      gpointer      user_data)
{
  GTask *task = user_data;
  PkToggle *self = g_task_get_source_object (task);
  Diagnosis *d = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(PkRoutingDiagnosis) diagnosis = pk_routing_diagnose_finish (PK_ROUTING (source), res, &error);
  const char *missing = NULL;

  if (diagnosis == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_task_return_error (task, g_steal_pointer (&error));
          g_object_unref (task);
          return;
        }
      d->routing = g_strdup_printf ("routing: %s", error->message);
    }
  else
    {
      g_autofree char *routing = pk_routing_diagnosis_to_string (diagnosis);

      d->routing = g_strdup_printf ("routing: %s", routing);
      if (!pk_routing_diagnosis_get_interface_present (diagnosis))
        missing = "its interface is missing";
      else if (!pk_routing_diagnosis_get_address_present (diagnosis))
        missing = "its interface has no address";
      if (missing != NULL)
        d->start = "usb";
      else if (!pk_routing_diagnosis_get_healthy (diagnosis))
        d->start = "routing";
    }
  d->healthy = d->healthy && diagnosis != NULL && d->start == NULL;

  /* Without its interface or address the modem cannot be reached, and
   * asking it would only wait out the request's retries (seconds, for
   * each dead dongle of a watch). */
  if (missing != NULL)
    {
      d->modem_error = g_error_new (G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE,
                                    "dongle %u: modem not asked: %s", self->id, missing);
      d->modem = g_strdup_printf ("modem not asked: %s", missing);
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  pk_modem_get_status_async (self->modem, g_task_get_cancellable (task), on_modem_diagnosed, task);
}

/**
 * pk_toggle_diagnose_async:
 * @self: a [class@Toggle]
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when the diagnosis is done
 * @user_data: data for @callback
 *
 * Diagnoses the dongle as a run does first, without running a rung: the
 * modem's state and WAN IP and, with a routing
 * ([method@Toggle.set_routing]), the dongle's interface, address and
 * policy routing. The routing is looked at first: when the interface or
 * its address is missing, the modem is not asked (it cannot answer), and
 * the detail says so. It takes no lock and is never refused, so that a caller
 * can see how many dongles fail before it recovers them (as
 * [class@ToggleService] does for the USB controller reset).
 *
 * Since: 0.2
 */
void
pk_toggle_diagnose_async (PkToggle            *self,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  Diagnosis *d;
  GTask *task;

  g_return_if_fail (PK_IS_TOGGLE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_toggle_diagnose_async);
  d = g_new0 (Diagnosis, 1);
  d->healthy = TRUE;      /* until a part finds otherwise */
  g_task_set_task_data (task, d, (GDestroyNotify) diagnosis_free);
  /* The routing first: it is local and quick, and it tells whether the
   * modem can be reached at all. */
  if (self->routing != NULL)
    pk_routing_diagnose_async (self->routing, cancellable, on_routing_diagnosed, task);
  else
    pk_modem_get_status_async (self->modem, cancellable, on_modem_diagnosed, task);
}

/* The whole diagnosis, owned by @result, or NULL with @error set when it
 * was cancelled. */
static Diagnosis *
diagnose_finish (PkToggle      *self,
                 GAsyncResult  *result,
                 GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pk_toggle_diagnose_async, NULL);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;
  return g_task_get_task_data (G_TASK (result));
}

/**
 * pk_toggle_diagnose_finish:
 * @self: a [class@Toggle]
 * @result: the `GAsyncResult`
 * @healthy: (out) (optional): whether the dongle is healthy: its modem
 *   answers and, with a routing, its interface, address and routing are
 *   right
 * @detail: (out) (optional) (transfer full): what the diagnosis found, as
 *   the `diagnose` step of a run says it (`connected, WAN IP 10.0.0.5;
 *   routing: ...`)
 * @error: return location for a `GError`
 *
 * Finishes [method@Toggle.diagnose_async].
 *
 * Returns: %TRUE when the diagnosis ran (healthy or not), %FALSE with
 *   @error set when it was cancelled
 *
 * Since: 0.2
 */
gboolean
pk_toggle_diagnose_finish (PkToggle      *self,
                           GAsyncResult  *result,
                           gboolean      *healthy,
                           char         **detail,
                           GError       **error)
{
  Diagnosis *d = diagnose_finish (self, result, error);

  if (d == NULL)
    return FALSE;
  if (healthy != NULL)
    *healthy = d->healthy;
  if (detail != NULL)
    *detail = d->routing ? g_strdup_printf ("%s; %s", d->modem, d->routing) : g_strdup (d->modem);
  return TRUE;
}

/* The run's diagnosis: where the climb starts, and its line in the
 * result. */
static void
on_diagnosed (GObject      *source,
              GAsyncResult *res,
              gpointer      user_data)
{
  GTask *task = user_data;
  PkToggle *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  Diagnosis *d = diagnose_finish (self, res, &error);

  if (d == NULL)
    {
      run_done (task, g_steal_pointer (&error));
      return;
    }
  g_clear_pointer (&self->old_ip, g_free);
  g_free (self->diagnosis);
  self->old_ip = g_strdup (d->old_ip);
  self->diagnosis = g_strdup (d->modem);
  if (d->modem_error != NULL)
    self->step_error = g_error_copy (d->modem_error);
  else
    pk_toggle_result_set_ips (data->result, self->old_ip, NULL);
  if (d->routing == NULL)
    {
      add_rung (self, data, "diagnose", d->healthy ? "ok" : "failed", self->diagnosis);
      run_next_step (task);
      return;
    }

  /* The first rung that fits; without one, the first that is not the
   * routing (which is right), or the first step at all. */
  if (d->start != NULL)
    self->step_index = find_step (self, d->start, 0);
  else if (self->steps->len > 0 &&
           g_str_equal (pk_toggle_step_get_name (g_ptr_array_index (self->steps, 0)), "routing"))
    self->step_index = self->steps->len > 1 ? 1 : 0;

  {
    g_autofree char *detail = g_strdup_printf ("%s; %s%s%s", self->diagnosis, d->routing,
                                               self->step_index < self->steps->len ? "; start at " : "",
                                               self->step_index < self->steps->len
                                                 ? pk_toggle_step_get_name (g_ptr_array_index (self->steps,
                                                                                               self->step_index))
                                                 : "");
    add_rung (self, data, "diagnose", d->healthy ? "ok" : "failed", detail);
  }
  run_next_step (task);
}

/**
 * pk_toggle_run_async:
 * @self: a [class@Toggle]
 * @method: the rotation method to try first
 * @recovery: %TRUE to ignore the limit on toggles at once and to count a
 *   healthy dongle (connected, with a WAN IP) as success even with its old
 *   IP: to bring back a dongle that is down
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when the toggle ends or is refused
 * @user_data: data for @callback
 *
 * Runs the toggle: diagnosis, then the steps until the IP changes, each
 * verified with the modem. It is refused at once while this dongle runs
 * a toggle, cools down, or the limiter is full.
 *
 * Since: 0.1
 */
void
pk_toggle_run_async (PkToggle            *self,
                     PkRotationMethod     method,
                     gboolean             recovery,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  g_autoptr(GError) error = NULL;
  GTask *task;
  RunData *data;
  guint remaining;

  g_return_if_fail (PK_IS_TOGGLE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_toggle_run_async);

  if (self->running)
    {
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_BUSY,
                               "dongle %u: a toggle is running already", self->id);
      g_object_unref (task);
      return;
    }
  remaining = pk_toggle_get_cooldown_remaining (self);
  if (remaining > 0)
    {
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_COOLDOWN,
                               "dongle %u: cooling down, retry in %u s", self->id, (remaining + 999) / 1000);
      g_object_unref (task);
      return;
    }
  if (!recovery && pk_toggle_limiter_get_max (self->limiter) > 0 &&
      pk_toggle_limiter_get_running (self->limiter) >= pk_toggle_limiter_get_max (self->limiter))
    {
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_NOT_ALLOWED,
                               "dongle %u: %u toggles are running, the limit is %u",
                               self->id, pk_toggle_limiter_get_running (self->limiter),
                               pk_toggle_limiter_get_max (self->limiter));
      g_object_unref (task);
      return;
    }

  if (!shared_lock (self, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  /* Another process may have ended a toggle while we waited for nothing. */
  remaining = pk_toggle_get_cooldown_remaining (self);
  if (remaining > 0)
    {
      shared_unlock (self);
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_COOLDOWN,
                               "dongle %u: cooling down, retry in %u s", self->id, (remaining + 999) / 1000);
      g_object_unref (task);
      return;
    }

  if (recovery)
    {
      remaining = recovery_cooldown_remaining (self);
      if (remaining > 0)
        {
          shared_unlock (self);
          g_task_return_new_error (task, PK_ERROR, PK_ERROR_COOLDOWN,
                                   "dongle %u: recovered recently, next recovery in %u s",
                                   self->id, (remaining + 999) / 1000);
          g_object_unref (task);
          return;
        }
      if (!take_recovery_slot (self, &error))
        {
          shared_unlock (self);
          g_task_return_error (task, g_steal_pointer (&error));
          g_object_unref (task);
          return;
        }
    }

  self->running = TRUE;
  pk_toggle_limiter_try_acquire (self->limiter, TRUE);
  self->method = method;
  self->step_index = 0;
  self->recovery = recovery;
  self->started = g_get_monotonic_time ();
  self->step_started = self->started;
  g_clear_error (&self->step_error);

  data = g_new0 (RunData, 1);
  data->result = pk_toggle_result_new (self->id);
  g_task_set_task_data (task, data, (GDestroyNotify) run_data_free);

  g_debug ("dongle %u: toggle (%s%s)", self->id, pk_rotation_method_to_string (method),
             recovery ? ", recovery" : "");
  pk_toggle_emit_progress (self, "diagnose");
  pk_toggle_diagnose_async (self, cancellable, on_diagnosed, task);
}

void
pk_toggle_emit_progress (PkToggle   *self,
                         const char *text)
{
  g_signal_emit (self, toggle_signals[SIGNAL_PROGRESS], 0, text);
}

/**
 * pk_toggle_run_finish:
 * @self: a [class@Toggle]
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Finishes [method@Toggle.run_async].
 *
 * A toggle that ran returns its result whether the IP changed or not
 * (see [method@ToggleResult.get_success] and
 * [method@ToggleResult.get_error]). A refused toggle returns %NULL with
 * %PK_ERROR_BUSY (this dongle is toggling), %PK_ERROR_COOLDOWN (see
 * [method@Toggle.get_cooldown_remaining]) or %PK_ERROR_NOT_ALLOWED (too
 * many toggles at once).
 *
 * Returns: (transfer full) (nullable): the result, or %NULL with @error set
 *
 * Since: 0.1
 */
PkToggleResult *
pk_toggle_run_finish (PkToggle      *self,
                      GAsyncResult  *result,
                      GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pk_toggle_run_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

