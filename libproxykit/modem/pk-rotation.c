/* pk-rotation.c: getting a new mobile IP from a modem
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkRotation:
 *
 * One IP rotation of a [iface@Modem], as one asynchronous operation.
 *
 * It reads the current WAN IP, then asks the modem for a new one with a
 * [enum@RotationMethod]: `data` (mobile data off, a pause, on), `netmode`
 * (to 3G, a pause, back to the previous mode) or `reboot`. Afterwards it
 * polls the status until the modem is connected with a WAN IP different
 * from the old one, until it has reported the old IP a few polls in a
 * row, or until a timeout. When the IP stays the same (or the modem
 * refuses, or does not come back), it escalates along the configured
 * order, `data,netmode,reboot` by default, starting after the method it
 * was asked for. The object keeps the old and new IP, the method that
 * worked, the duration and every attempt with its outcome.
 *
 * A run never leaves the modem worse than it found it: when an attempt
 * fails (or the run is cancelled) after it switched mobile data off or
 * the network mode away, it switches them back before it escalates or
 * returns, trying 3 times (each call retrying a busy modem itself); a
 * switch-back that still fails is named in the attempt's message.
 *
 * A rotation runs once; create a new one for the next.
 *
 * ```c
 * g_autoptr(PkRotation) rotation = pk_rotation_new (modem, PK_ROTATION_METHOD_DATA);
 *
 * pk_rotation_set_timing (rotation, 3000, 1000, 60000);
 * pk_rotation_run_async (rotation, NULL, on_rotated, NULL);
 *
 * // in on_rotated():
 * if (pk_rotation_run_finish (rotation, result, &error))
 *   g_print ("%s -> %s by %s\n", pk_rotation_get_old_ip (rotation),
 *            pk_rotation_get_new_ip (rotation),
 *            pk_rotation_method_to_string (pk_rotation_get_final_method (rotation)));
 * ```
 *
 * Since: 0.1
 */

#include "config.h"

#include "pk-enum-types.h"
#include "pk-error.h"
#include "pk-rotation.h"
#include "pk-util-private.h"

typedef struct {
  PkRotationMethod method;
  PkRotationOutcome outcome;
  char *message;
  guint64 duration_ms;
} Attempt;

enum {
  SIGNAL_PROGRESS,
  N_SIGNALS
};

static guint rotation_signals[N_SIGNALS];

typedef enum {
  PHASE_DATA_OFF,
  PHASE_DATA_ON,
  PHASE_NET_GET,
  PHASE_NET_AWAY,
  PHASE_NET_BACK,
  PHASE_REBOOT,
  PHASE_POLL,
} Phase;

struct _PkRotation
{
  GObject parent_instance;

  PkModem *modem;
  PkRotationMethod method;
  GArray *ladder;          /* PkRotationMethod */
  guint settle_ms;
  guint poll_interval_ms;
  guint timeout_ms;
  guint unchanged_polls;

  /* the run */
  gboolean started;
  GArray *plan;            /* PkRotationMethod, in the order tried */
  guint plan_index;
  Phase phase;
  PkModemNetworkMode previous_mode;
  gint64 run_started;
  gint64 attempt_started;
  gint64 poll_deadline;
  guint same_ip_polls;
  GError *last_poll_error;
  GSource *sleep_source;
  GSource *cancel_source;

  /* What the run changed and must undo if an attempt fails. */
  gboolean data_off;       /* switched off, not on again yet */
  gboolean mode_away;      /* switched away, not back yet */
  guint restore_tries;
  PkRotationOutcome held_outcome;  /* the attempt's end, while restoring */
  char *held_message;
  GError *held_error;      /* the run's end (a cancellation), while restoring */
  GString *restore_failures;

  char *old_ip;
  char *new_ip;
  PkRotationMethod final_method;
  guint64 duration_ms;
  GArray *attempts;        /* Attempt */
};

G_DEFINE_FINAL_TYPE (PkRotation, pk_rotation, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_MODEM,
  PROP_METHOD,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
attempt_clear (gpointer data)
{
  Attempt *a = data;

  g_clear_pointer (&a->message, g_free);
}

static void
stop_sleep (PkRotation *self)
{
  if (self->sleep_source != NULL)
    {
      g_source_destroy (self->sleep_source);
      g_clear_pointer (&self->sleep_source, g_source_unref);
    }
  if (self->cancel_source != NULL)
    {
      g_source_destroy (self->cancel_source);
      g_clear_pointer (&self->cancel_source, g_source_unref);
    }
}

static void
pk_rotation_finalize (GObject *object)
{
  PkRotation *self = PK_ROTATION (object);

  stop_sleep (self);
  g_clear_object (&self->modem);
  g_clear_pointer (&self->ladder, g_array_unref);
  g_clear_pointer (&self->plan, g_array_unref);
  g_clear_pointer (&self->attempts, g_array_unref);
  g_clear_error (&self->last_poll_error);
  g_clear_error (&self->held_error);
  g_free (self->held_message);
  if (self->restore_failures != NULL)
    g_string_free (self->restore_failures, TRUE);
  g_free (self->old_ip);
  g_free (self->new_ip);

  G_OBJECT_CLASS (pk_rotation_parent_class)->finalize (object);
}

static void
pk_rotation_get_property (GObject    *object,
                          guint       prop_id,
                          GValue     *value,
                          GParamSpec *pspec)
{
  PkRotation *self = PK_ROTATION (object);

  switch (prop_id)
    {
    case PROP_MODEM:
      g_value_set_object (value, self->modem);
      break;
    case PROP_METHOD:
      g_value_set_enum (value, self->method);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_rotation_set_property (GObject      *object,
                          guint         prop_id,
                          const GValue *value,
                          GParamSpec   *pspec)
{
  PkRotation *self = PK_ROTATION (object);

  switch (prop_id)
    {
    case PROP_MODEM:
      self->modem = g_value_dup_object (value);
      break;
    case PROP_METHOD:
      self->method = g_value_get_enum (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_rotation_class_init (PkRotationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = pk_rotation_finalize;
  object_class->get_property = pk_rotation_get_property;
  object_class->set_property = pk_rotation_set_property;

  /**
   * PkRotation:modem:
   *
   * The modem to rotate.
   *
   * Since: 0.1
   */
  properties[PROP_MODEM] =
    g_param_spec_object ("modem", NULL, NULL, PK_TYPE_MODEM,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * PkRotation:method:
   *
   * The [enum@RotationMethod] tried first.
   *
   * Since: 0.1
   */
  properties[PROP_METHOD] =
    g_param_spec_enum ("method", NULL, NULL, PK_TYPE_ROTATION_METHOD, PK_ROTATION_METHOD_DATA,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * PkRotation::progress:
   * @self: the [class@Rotation]
   * @text: what the rotation does now, such as `data: mobile data off` or
   *   `data: the IP stayed, escalating to netmode`
   *
   * Emitted at each step of a run, as it starts, so that a tool can show
   * a rotation that takes seconds while it happens.
   *
   * Since: 0.2
   */
  rotation_signals[SIGNAL_PROGRESS] =
    g_signal_new ("progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
pk_rotation_init (PkRotation *self)
{
  self->ladder = g_array_new (FALSE, FALSE, sizeof (PkRotationMethod));
  self->attempts = g_array_new (FALSE, TRUE, sizeof (Attempt));
  g_array_set_clear_func (self->attempts, attempt_clear);
  self->settle_ms = 3000;
  self->poll_interval_ms = 1000;
  self->timeout_ms = 60000;
  self->unchanged_polls = 3;
  (void) pk_rotation_set_escalation (self, PK_ROTATION_DEFAULT_ESCALATION, NULL);
}

/**
 * pk_rotation_new:
 * @modem: the modem to rotate
 * @method: the method to try first
 *
 * Creates a rotation with the default escalation order
 * (%PK_ROTATION_DEFAULT_ESCALATION) and timing: a 3 s pause, a poll every
 * second, 60 s per attempt, the same IP on 3 polls in a row counts as
 * unchanged.
 *
 * Returns: (transfer full): a new [class@Rotation]
 *
 * Since: 0.1
 */
PkRotation *
pk_rotation_new (PkModem          *modem,
                 PkRotationMethod  method)
{
  g_return_val_if_fail (PK_IS_MODEM (modem), NULL);
  g_return_val_if_fail (method <= PK_ROTATION_METHOD_REBOOT, NULL);

  return g_object_new (PK_TYPE_ROTATION, "modem", modem, "method", (int) method, NULL);
}

/**
 * pk_rotation_get_modem:
 * @self: a [class@Rotation]
 *
 * Gets the modem.
 *
 * Returns: (transfer none): the modem
 *
 * Since: 0.1
 */
PkModem *
pk_rotation_get_modem (PkRotation *self)
{
  g_return_val_if_fail (PK_IS_ROTATION (self), NULL);

  return self->modem;
}

/**
 * pk_rotation_get_method:
 * @self: a [class@Rotation]
 *
 * Gets the method tried first.
 *
 * Returns: the method tried first
 *
 * Since: 0.1
 */
PkRotationMethod
pk_rotation_get_method (PkRotation *self)
{
  g_return_val_if_fail (PK_IS_ROTATION (self), PK_ROTATION_METHOD_DATA);

  return self->method;
}

/**
 * pk_rotation_set_escalation:
 * @self: a [class@Rotation]
 * @order: (nullable): methods separated by commas, e.g. `data,netmode,reboot`;
 *   empty, `none` or %NULL for no escalation
 * @error: return location for a `GError`
 *
 * Sets the escalation order. When the first method leaves the IP as it
 * was, the rotation goes on with the methods after it in @order (or, if
 * it is not in @order, with all of them).
 *
 * Returns: %TRUE, or %FALSE with @error set (%PK_ERROR_INVALID_ARGUMENT)
 *   naming the unknown method
 *
 * Since: 0.1
 */
gboolean
pk_rotation_set_escalation (PkRotation  *self,
                            const char  *order,
                            GError     **error)
{
  g_autoptr(GArray) ladder = g_array_new (FALSE, FALSE, sizeof (PkRotationMethod));
  g_auto(GStrv) parts = NULL;

  g_return_val_if_fail (PK_IS_ROTATION (self), FALSE);

  if (order != NULL)
    parts = g_strsplit (order, ",", -1);
  for (guint i = 0; parts != NULL && parts[i] != NULL; i++)
    {
      PkRotationMethod m;
      char *name = g_strstrip (parts[i]);

      if (*name == '\0' || g_str_equal (name, "none"))
        continue;
      if (!pk_rotation_method_from_string (name, &m))
        {
          g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                       "escalation order '%s': unknown method '%s' (expected data, netmode or reboot)",
                       order, name);
          return FALSE;
        }
      g_array_append_val (ladder, m);
    }

  g_array_unref (self->ladder);
  self->ladder = g_steal_pointer (&ladder);
  return TRUE;
}

/**
 * pk_rotation_dup_escalation:
 * @self: a [class@Rotation]
 *
 * Gets the escalation order, e.g. `data,netmode,reboot`, or an empty string
 * for none.
 *
 * Returns: (transfer full): the escalation order, e.g. `data,netmode,reboot`,
 *   or an empty string for none
 *
 * Since: 0.1
 */
char *
pk_rotation_dup_escalation (PkRotation *self)
{
  GString *s = g_string_new (NULL);

  g_return_val_if_fail (PK_IS_ROTATION (self), NULL);

  for (guint i = 0; i < self->ladder->len; i++)
    g_string_append_printf (s, "%s%s", i ? "," : "",
                            pk_rotation_method_to_string (g_array_index (self->ladder, PkRotationMethod, i)));
  return g_string_free (s, FALSE);
}

/**
 * pk_rotation_set_timing:
 * @self: a [class@Rotation]
 * @settle_ms: the pause between switching off and on (and after a reboot
 *   before polling)
 * @poll_interval_ms: the interval of status polls
 * @timeout_ms: how long one attempt may wait for the modem to come back
 *
 * Sets the timing of every attempt. Tests scale it down.
 *
 * Since: 0.1
 */
void
pk_rotation_set_timing (PkRotation *self,
                        guint       settle_ms,
                        guint       poll_interval_ms,
                        guint       timeout_ms)
{
  g_return_if_fail (PK_IS_ROTATION (self));

  self->settle_ms = settle_ms;
  self->poll_interval_ms = MAX (poll_interval_ms, 1);
  self->timeout_ms = MAX (timeout_ms, 1);
}

/**
 * pk_rotation_set_unchanged_polls:
 * @self: a [class@Rotation]
 * @n_polls: how many polls in a row must show the old IP, at least 1
 *
 * Sets when an attempt counts as having left the IP unchanged: after
 * @n_polls connected polls in a row that show the old IP.
 *
 * Since: 0.1
 */
void
pk_rotation_set_unchanged_polls (PkRotation *self,
                                 guint       n_polls)
{
  g_return_if_fail (PK_IS_ROTATION (self));

  self->unchanged_polls = MAX (n_polls, 1);
}

/* --- running --- */

static void do_phase (GTask *task);
static void next_attempt (GTask *task);

static void G_GNUC_PRINTF (2, 3)
progress (PkRotation *self,
          const char *format,
          ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_debug ("rotation: %s", text);
  g_signal_emit (self, rotation_signals[SIGNAL_PROGRESS], 0, text);
}

static const char *
current_method (PkRotation *self)
{
  return pk_rotation_method_to_string (g_array_index (self->plan, PkRotationMethod, self->plan_index));
}

static guint64
ms_since (gint64 start)
{
  return (guint64) ((g_get_monotonic_time () - start) / 1000);
}

static void
finish_attempt_now (GTask             *task,
                    PkRotationOutcome  outcome,
                    const char        *message)
{
  PkRotation *self = g_task_get_source_object (task);
  Attempt a = { 0 };

  stop_sleep (self);
  a.method = g_array_index (self->plan, PkRotationMethod, self->plan_index);
  a.outcome = outcome;
  a.message = g_strdup (message);
  a.duration_ms = ms_since (self->attempt_started);
  g_array_append_val (self->attempts, a);
  self->final_method = a.method;

  if (outcome == PK_ROTATION_OUTCOME_CHANGED)
    progress (self, "%s: new IP %s", pk_rotation_method_to_string (a.method), self->new_ip ? self->new_ip : "");
  else if (self->plan_index + 1 < self->plan->len)
    progress (self, "%s: %s%s%s, escalating to %s", pk_rotation_method_to_string (a.method),
              pk_rotation_outcome_to_string (outcome), message ? ": " : "", message ? message : "",
              pk_rotation_method_to_string (g_array_index (self->plan, PkRotationMethod, self->plan_index + 1)));
  else
    progress (self, "%s: %s%s%s", pk_rotation_method_to_string (a.method),
              pk_rotation_outcome_to_string (outcome), message ? ": " : "", message ? message : "");

  if (outcome == PK_ROTATION_OUTCOME_CHANGED)
    {
      self->duration_ms = ms_since (self->run_started);
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }

  self->plan_index++;
  if (self->plan_index < self->plan->len)
    {
      next_attempt (task);
      return;
    }

  self->duration_ms = ms_since (self->run_started);
  switch (outcome)
    {
    case PK_ROTATION_OUTCOME_UNCHANGED:
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_UNCHANGED,
                               "the IP stayed %s after %u attempt%s",
                               self->old_ip ? self->old_ip : "(none)",
                               self->attempts->len, self->attempts->len == 1 ? "" : "s");
      break;
    case PK_ROTATION_OUTCOME_TIMED_OUT:
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                               "the modem was not connected again within %u ms", self->timeout_ms);
      break;
    case PK_ROTATION_OUTCOME_FAILED:
    case PK_ROTATION_OUTCOME_CHANGED:
    default:
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_MODEM, "%s", message ? message : "failed");
      break;
    }
  g_object_unref (task);
}

/* --- putting the modem back as it was found --- */

#define RESTORE_TRIES 3

static void restore_step (GTask *task);

static PkModemNetworkMode
mode_to_restore (PkRotation *self)
{
  return self->previous_mode == PK_MODEM_NETWORK_MODE_UNKNOWN
         ? PK_MODEM_NETWORK_MODE_AUTO : self->previous_mode;
}

/* The modem answered with a refusal, so it did not act on the request
 * (a lost answer or a timeout leaves that open). */
static gboolean
modem_refused (const GError *error)
{
  return error->domain == PK_ERROR &&
         (error->code == PK_ERROR_MODEM || error->code == PK_ERROR_BUSY ||
          error->code == PK_ERROR_AUTH_FAILED || error->code == PK_ERROR_INVALID_ARGUMENT);
}

static void
restore_done (GTask *task)
{
  PkRotation *self = g_task_get_source_object (task);
  g_autofree char *message = NULL;

  if (self->held_error != NULL)
    {
      GError *error = g_steal_pointer (&self->held_error);

      if (self->restore_failures != NULL)
        g_prefix_error (&error, "%s; ", self->restore_failures->str);
      self->duration_ms = ms_since (self->run_started);
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }

  if (self->restore_failures != NULL)
    message = g_strdup_printf ("%s; %s", self->held_message ? self->held_message : "failed",
                               self->restore_failures->str);
  else
    message = g_strdup (self->held_message);
  g_clear_pointer (&self->held_message, g_free);
  if (self->restore_failures != NULL)
    g_string_free (g_steal_pointer (&self->restore_failures), TRUE);
  finish_attempt_now (task, self->held_outcome, message);
}

static gboolean
restore_sleep_done_cb (gpointer user_data)
{
  GTask *task = user_data;

  stop_sleep (g_task_get_source_object (task));
  restore_step (task);
  return G_SOURCE_REMOVE;
}

static void
on_restored (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  GTask *task = user_data;
  PkRotation *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;
  gboolean mode = self->mode_away;
  gboolean ok;

  ok = mode ? pk_modem_set_network_mode_finish (self->modem, result, &error)
            : pk_modem_set_data_enabled_finish (self->modem, result, &error);
  if (!ok && ++self->restore_tries < RESTORE_TRIES)
    {
      /* The modem retried what was transient already; give it a pause
       * and ask again. */
      g_debug ("rotation: putting the modem back: %s; trying again", error->message);
      self->sleep_source = pk_timeout_source_attach (NULL, self->poll_interval_ms, restore_sleep_done_cb, task);
      return;
    }
  if (!ok)
    {
      if (self->restore_failures == NULL)
        self->restore_failures = g_string_new (NULL);
      else
        g_string_append (self->restore_failures, "; ");
      if (mode)
        g_string_append_printf (self->restore_failures, "could not switch the network mode back to %s: %s",
                                pk_modem_network_mode_to_string (mode_to_restore (self)), error->message);
      else
        g_string_append_printf (self->restore_failures, "could not switch mobile data back on: %s",
                                error->message);
      g_warning ("rotation: %s", self->restore_failures->str);
    }
  if (mode)
    self->mode_away = FALSE;
  else
    self->data_off = FALSE;
  self->restore_tries = 0;
  restore_step (task);
}

/* Undoes what the run changed, the network mode first, then mobile data.
 * It runs without the caller's cancellable: a cancelled run still leaves
 * the modem as it found it. */
static void
restore_step (GTask *task)
{
  PkRotation *self = g_task_get_source_object (task);

  if (self->mode_away)
    {
      progress (self, "%s: network mode back to %s", current_method (self),
                pk_modem_network_mode_to_string (mode_to_restore (self)));
      pk_modem_set_network_mode_async (self->modem, mode_to_restore (self), NULL, on_restored, task);
    }
  else if (self->data_off)
    {
      progress (self, "%s: mobile data back on", current_method (self));
      pk_modem_set_data_enabled_async (self->modem, TRUE, NULL, on_restored, task);
    }
  else
    restore_done (task);
}

/* Ends the attempt; one that failed puts the modem back first. */
static void
finish_attempt (GTask             *task,
                PkRotationOutcome  outcome,
                const char        *message)
{
  PkRotation *self = g_task_get_source_object (task);

  stop_sleep (self);
  if (outcome != PK_ROTATION_OUTCOME_CHANGED && (self->data_off || self->mode_away))
    {
      self->held_outcome = outcome;
      g_free (self->held_message);
      self->held_message = g_strdup (message);
      self->restore_tries = 0;
      restore_step (task);
      return;
    }
  finish_attempt_now (task, outcome, message);
}

/* Ends the run with @error (a cancellation), after putting the modem back. */
static void
end_run (GTask  *task,
         GError *error)
{
  PkRotation *self = g_task_get_source_object (task);

  stop_sleep (self);
  if (self->data_off || self->mode_away)
    {
      g_clear_error (&self->held_error);
      self->held_error = error;
      self->restore_tries = 0;
      restore_step (task);
      return;
    }
  self->duration_ms = ms_since (self->run_started);
  g_task_return_error (task, error);
  g_object_unref (task);
}

static gboolean
sleep_done_cb (gpointer user_data)
{
  GTask *task = user_data;
  PkRotation *self = g_task_get_source_object (task);

  stop_sleep (self);
  do_phase (task);
  return G_SOURCE_REMOVE;
}

static gboolean
sleep_cancelled_cb (GCancellable *cancellable,
                    gpointer      user_data)
{
  GTask *task = user_data;
  GError *error = NULL;

  g_cancellable_set_error_if_cancelled (cancellable, &error);
  end_run (task, error);
  return G_SOURCE_REMOVE;
}

/* Waits @ms, then runs @next; a cancellation ends the run at once. */
static void
sleep_then (GTask *task,
            guint  ms,
            Phase  next)
{
  PkRotation *self = g_task_get_source_object (task);
  GCancellable *cancellable = g_task_get_cancellable (task);

  self->phase = next;
  self->sleep_source = pk_timeout_source_attach (NULL, ms, sleep_done_cb, task);
  if (cancellable != NULL)
    {
      self->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (self->cancel_source, G_SOURCE_FUNC (sleep_cancelled_cb), task, NULL);
      g_source_attach (self->cancel_source, g_main_context_get_thread_default ());
    }
}

static gboolean
op_failed (GTask       *task,
           GError      *error,
           const char  *what)
{
  g_autofree char *message = NULL;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      end_run (task, error);
      return TRUE;
    }
  message = g_strdup_printf ("%s: %s", what, error->message);
  g_error_free (error);
  finish_attempt (task, PK_ROTATION_OUTCOME_FAILED, message);
  return TRUE;
}

static void
on_poll_status (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  GTask *task = user_data;
  PkRotation *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;
  g_autofree char *wan_ip = NULL;
  PkModemState state = PK_MODEM_STATE_UNKNOWN;

  if (!pk_modem_get_status_finish (self->modem, result, &state, &wan_ip, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          op_failed (task, g_steal_pointer (&error), "status");
          return;
        }
      /* A modem that reconnects or reboots may not answer: keep polling. */
      g_clear_error (&self->last_poll_error);
      self->last_poll_error = g_steal_pointer (&error);
      self->same_ip_polls = 0;
    }
  else if (state == PK_MODEM_STATE_CONNECTED && wan_ip != NULL)
    {
      if (g_strcmp0 (wan_ip, self->old_ip) != 0)
        {
          g_free (self->new_ip);
          self->new_ip = g_steal_pointer (&wan_ip);
          finish_attempt (task, PK_ROTATION_OUTCOME_CHANGED, NULL);
          return;
        }
      if (++self->same_ip_polls >= self->unchanged_polls)
        {
          g_autofree char *msg = g_strdup_printf ("connected again with the same IP %s", self->old_ip);
          finish_attempt (task, PK_ROTATION_OUTCOME_UNCHANGED, msg);
          return;
        }
    }
  else
    self->same_ip_polls = 0;

  if (g_get_monotonic_time () >= self->poll_deadline)
    {
      g_autofree char *msg = g_strdup_printf ("not connected again within %u ms%s%s",
                                              self->timeout_ms,
                                              self->last_poll_error ? "; last error: " : "",
                                              self->last_poll_error ? self->last_poll_error->message : "");
      finish_attempt (task, PK_ROTATION_OUTCOME_TIMED_OUT, msg);
      return;
    }
  sleep_then (task, self->poll_interval_ms, PHASE_POLL);
}

/* Polls the status until the modem is back, after @delay_ms; the
 * attempt's timeout runs from now. */
static void
start_polling (GTask *task,
               guint  delay_ms)
{
  PkRotation *self = g_task_get_source_object (task);

  progress (self, "%s: waiting for a new IP", current_method (self));
  self->same_ip_polls = 0;
  g_clear_error (&self->last_poll_error);
  self->poll_deadline = g_get_monotonic_time () + (gint64) (self->timeout_ms + delay_ms) * 1000;
  if (delay_ms > 0)
    sleep_then (task, delay_ms, PHASE_POLL);
  else
    {
      self->phase = PHASE_POLL;
      do_phase (task);
    }
}

static void
on_op_done (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  GTask *task = user_data;
  PkRotation *self = g_task_get_source_object (task);
  GError *error = NULL;

  switch (self->phase)
    {
    case PHASE_DATA_OFF:
      if (!pk_modem_set_data_enabled_finish (self->modem, result, &error))
        {
          if (modem_refused (error))
            self->data_off = FALSE;
          op_failed (task, error, "turning mobile data off");
        }
      else
        sleep_then (task, self->settle_ms, PHASE_DATA_ON);
      return;

    case PHASE_DATA_ON:
      if (!pk_modem_set_data_enabled_finish (self->modem, result, &error))
        op_failed (task, error, "turning mobile data on");
      else
        {
          self->data_off = FALSE;
          start_polling (task, 0);
        }
      return;

    case PHASE_NET_GET:
      if (!pk_modem_get_network_mode_finish (self->modem, result, &self->previous_mode, &error))
        op_failed (task, error, "reading the network mode");
      else
        {
          self->phase = PHASE_NET_AWAY;
          do_phase (task);
        }
      return;

    case PHASE_NET_AWAY:
      if (!pk_modem_set_network_mode_finish (self->modem, result, &error))
        {
          if (modem_refused (error))
            self->mode_away = FALSE;
          op_failed (task, error, "switching the network mode");
        }
      else
        sleep_then (task, self->settle_ms, PHASE_NET_BACK);
      return;

    case PHASE_NET_BACK:
      if (!pk_modem_set_network_mode_finish (self->modem, result, &error))
        op_failed (task, error, "switching the network mode back");
      else
        {
          self->mode_away = FALSE;
          start_polling (task, 0);
        }
      return;

    case PHASE_REBOOT:
      if (!pk_modem_reboot_finish (self->modem, result, &error))
        op_failed (task, error, "rebooting");
      else
        start_polling (task, self->settle_ms);
      return;

    case PHASE_POLL:
    default:
      g_assert_not_reached ();
    }
}

static void
do_phase (GTask *task)
{
  PkRotation *self = g_task_get_source_object (task);
  GCancellable *cancellable = g_task_get_cancellable (task);

  switch (self->phase)
    {
    case PHASE_DATA_OFF:
      progress (self, "%s: mobile data off", current_method (self));
      self->data_off = TRUE;
      pk_modem_set_data_enabled_async (self->modem, FALSE, cancellable, on_op_done, task);
      break;
    case PHASE_DATA_ON:
      progress (self, "%s: mobile data on", current_method (self));
      pk_modem_set_data_enabled_async (self->modem, TRUE, cancellable, on_op_done, task);
      break;
    case PHASE_NET_GET:
      pk_modem_get_network_mode_async (self->modem, cancellable, on_op_done, task);
      break;
    case PHASE_NET_AWAY:
      progress (self, "%s: network mode to %s", current_method (self),
                self->previous_mode == PK_MODEM_NETWORK_MODE_3G_ONLY ? "auto" : "3G");
      /* 3G is the way out, unless the modem is on 3G already. */
      self->mode_away = TRUE;
      pk_modem_set_network_mode_async (self->modem,
                                       self->previous_mode == PK_MODEM_NETWORK_MODE_3G_ONLY
                                       ? PK_MODEM_NETWORK_MODE_AUTO : PK_MODEM_NETWORK_MODE_3G_ONLY,
                                       cancellable, on_op_done, task);
      break;
    case PHASE_NET_BACK:
      progress (self, "%s: network mode back", current_method (self));
      pk_modem_set_network_mode_async (self->modem, mode_to_restore (self),
                                       cancellable, on_op_done, task);
      break;
    case PHASE_REBOOT:
      progress (self, "%s: rebooting the modem", current_method (self));
      pk_modem_reboot_async (self->modem, cancellable, on_op_done, task);
      break;
    case PHASE_POLL:
    default:
      {
        GError *error = NULL;

        if (g_cancellable_set_error_if_cancelled (cancellable, &error))
          {
            end_run (task, error);
            return;
          }
      }
      pk_modem_get_status_async (self->modem, cancellable, on_poll_status, task);
      break;
    }
}

static void
next_attempt (GTask *task)
{
  PkRotation *self = g_task_get_source_object (task);

  self->attempt_started = g_get_monotonic_time ();
  switch (g_array_index (self->plan, PkRotationMethod, self->plan_index))
    {
    case PK_ROTATION_METHOD_NETMODE:
      self->phase = PHASE_NET_GET;
      break;
    case PK_ROTATION_METHOD_REBOOT:
      self->phase = PHASE_REBOOT;
      break;
    case PK_ROTATION_METHOD_DATA:
    default:
      self->phase = PHASE_DATA_OFF;
      break;
    }
  do_phase (task);
}

static void
on_initial_status (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  GTask *task = user_data;
  PkRotation *self = g_task_get_source_object (task);
  GError *error = NULL;

  if (!pk_modem_get_status_finish (self->modem, result, NULL, &self->old_ip, &error))
    {
      self->duration_ms = ms_since (self->run_started);
      g_prefix_error (&error, "reading the current IP: ");
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  next_attempt (task);
}

/**
 * pk_rotation_run_async:
 * @self: a [class@Rotation]
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when the rotation ends
 * @user_data: data for @callback
 *
 * Runs the rotation. It can run only once.
 *
 * Since: 0.1
 */
void
pk_rotation_run_async (PkRotation          *self,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (PK_IS_ROTATION (self));
  g_return_if_fail (!self->started);

  self->started = TRUE;
  self->run_started = g_get_monotonic_time ();
  self->final_method = self->method;

  /* The plan: the method asked for, then the rest of the ladder above it. */
  self->plan = g_array_new (FALSE, FALSE, sizeof (PkRotationMethod));
  g_array_append_val (self->plan, self->method);
  for (guint i = 0; i < self->ladder->len; i++)
    {
      PkRotationMethod m = g_array_index (self->ladder, PkRotationMethod, i);
      if (m == self->method)
        {
          g_array_set_size (self->plan, 1);
          continue;
        }
      g_array_append_val (self->plan, m);
    }

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_rotation_run_async);
  pk_modem_get_status_async (self->modem, cancellable, on_initial_status, task);
}

/**
 * pk_rotation_run_finish:
 * @self: a [class@Rotation]
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Finishes [method@Rotation.run_async]. The getters describe the run
 * whether it succeeded or not.
 *
 * Returns: %TRUE if the modem has a new IP; %FALSE with @error set
 *   otherwise: %PK_ERROR_UNCHANGED when it kept its IP,
 *   %G_IO_ERROR_TIMED_OUT when it did not come back, the modem's error
 *   when it refused or could not be reached
 *
 * Since: 0.1
 */
gboolean
pk_rotation_run_finish (PkRotation    *self,
                        GAsyncResult  *result,
                        GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pk_rotation_run_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * pk_rotation_get_old_ip:
 * @self: a [class@Rotation]
 *
 * Gets the WAN IP before the rotation, %NULL if the modem had none.
 *
 * Returns: (nullable): the WAN IP before the rotation, %NULL if the modem
 *   had none
 *
 * Since: 0.1
 */
const char *
pk_rotation_get_old_ip (PkRotation *self)
{
  g_return_val_if_fail (PK_IS_ROTATION (self), NULL);

  return self->old_ip;
}

/**
 * pk_rotation_get_new_ip:
 * @self: a [class@Rotation]
 *
 * Gets the new WAN IP, %NULL unless the rotation succeeded.
 *
 * Returns: (nullable): the new WAN IP, %NULL unless the rotation succeeded
 *
 * Since: 0.1
 */
const char *
pk_rotation_get_new_ip (PkRotation *self)
{
  g_return_val_if_fail (PK_IS_ROTATION (self), NULL);

  return self->new_ip;
}

/**
 * pk_rotation_get_final_method:
 * @self: a [class@Rotation]
 *
 * Gets the method that brought the new IP, or the last one tried.
 *
 * Returns: the method that brought the new IP, or the last one tried
 *
 * Since: 0.1
 */
PkRotationMethod
pk_rotation_get_final_method (PkRotation *self)
{
  g_return_val_if_fail (PK_IS_ROTATION (self), PK_ROTATION_METHOD_DATA);

  return self->final_method;
}

/**
 * pk_rotation_get_duration_ms:
 * @self: a [class@Rotation]
 *
 * Tells how long the run took, in milliseconds.
 *
 * Returns: how long the run took, in milliseconds
 *
 * Since: 0.1
 */
guint64
pk_rotation_get_duration_ms (PkRotation *self)
{
  g_return_val_if_fail (PK_IS_ROTATION (self), 0);

  return self->duration_ms;
}

/**
 * pk_rotation_get_escalated:
 * @self: a [class@Rotation]
 *
 * Tells whether the first method was not enough and others were tried.
 *
 * Returns: %TRUE if the first method was not enough and others were tried
 *
 * Since: 0.1
 */
gboolean
pk_rotation_get_escalated (PkRotation *self)
{
  g_return_val_if_fail (PK_IS_ROTATION (self), FALSE);

  return self->attempts->len > 1;
}

/**
 * pk_rotation_get_n_attempts:
 * @self: a [class@Rotation]
 *
 * Tells how many methods were tried.
 *
 * Returns: how many methods were tried
 *
 * Since: 0.1
 */
guint
pk_rotation_get_n_attempts (PkRotation *self)
{
  g_return_val_if_fail (PK_IS_ROTATION (self), 0);

  return self->attempts->len;
}

static Attempt *
get_attempt (PkRotation *self,
             guint       index)
{
  g_return_val_if_fail (PK_IS_ROTATION (self), NULL);
  g_return_val_if_fail (index < self->attempts->len, NULL);

  return &g_array_index (self->attempts, Attempt, index);
}

/**
 * pk_rotation_get_attempt_method:
 * @self: a [class@Rotation]
 * @index: the attempt, from 0
 *
 * Gets the method of attempt @index.
 *
 * Returns: the method of attempt @index
 *
 * Since: 0.1
 */
PkRotationMethod
pk_rotation_get_attempt_method (PkRotation *self,
                                guint       index)
{
  Attempt *a = get_attempt (self, index);

  return a != NULL ? a->method : PK_ROTATION_METHOD_DATA;
}

/**
 * pk_rotation_get_attempt_outcome:
 * @self: a [class@Rotation]
 * @index: the attempt, from 0
 *
 * Gets the outcome of attempt @index.
 *
 * Returns: the outcome of attempt @index
 *
 * Since: 0.1
 */
PkRotationOutcome
pk_rotation_get_attempt_outcome (PkRotation *self,
                                 guint       index)
{
  Attempt *a = get_attempt (self, index);

  return a != NULL ? a->outcome : PK_ROTATION_OUTCOME_FAILED;
}

/**
 * pk_rotation_get_attempt_message:
 * @self: a [class@Rotation]
 * @index: the attempt, from 0
 *
 * Tells what went wrong in attempt @index, %NULL if it brought a new IP.
 *
 * Returns: (nullable): what went wrong in attempt @index, %NULL if it
 *   brought a new IP
 *
 * Since: 0.1
 */
const char *
pk_rotation_get_attempt_message (PkRotation *self,
                                 guint       index)
{
  Attempt *a = get_attempt (self, index);

  return a != NULL ? a->message : NULL;
}

/**
 * pk_rotation_get_attempt_duration_ms:
 * @self: a [class@Rotation]
 * @index: the attempt, from 0
 *
 * Tells how long attempt @index took, in milliseconds.
 *
 * Returns: how long attempt @index took, in milliseconds
 *
 * Since: 0.1
 */
guint64
pk_rotation_get_attempt_duration_ms (PkRotation *self,
                                     guint       index)
{
  Attempt *a = get_attempt (self, index);

  return a != NULL ? a->duration_ms : 0;
}

/**
 * pk_rotation_method_to_string:
 * @method: a [enum@RotationMethod]
 *
 * Gets the name of a value: `data`, `netmode` or `reboot`.
 *
 * Returns: `data`, `netmode` or `reboot`
 *
 * Since: 0.1
 */
const char *
pk_rotation_method_to_string (PkRotationMethod method)
{
  switch (method)
    {
    case PK_ROTATION_METHOD_NETMODE: return "netmode";
    case PK_ROTATION_METHOD_REBOOT: return "reboot";
    case PK_ROTATION_METHOD_DATA:
    default: return "data";
    }
}

/**
 * pk_rotation_method_from_string:
 * @str: `data`, `netmode` or `reboot`
 * @out_method: (out): return location for the method
 *
 * Parses the name of a rotation method.
 *
 * Returns: %TRUE if @str names a method
 *
 * Since: 0.1
 */
gboolean
pk_rotation_method_from_string (const char       *str,
                                PkRotationMethod *out_method)
{
  static const PkRotationMethod all[] = {
    PK_ROTATION_METHOD_DATA, PK_ROTATION_METHOD_NETMODE, PK_ROTATION_METHOD_REBOOT,
  };

  g_return_val_if_fail (out_method != NULL, FALSE);

  for (gsize i = 0; str != NULL && i < G_N_ELEMENTS (all); i++)
    if (g_str_equal (str, pk_rotation_method_to_string (all[i])))
      {
        *out_method = all[i];
        return TRUE;
      }
  return FALSE;
}

/**
 * pk_rotation_outcome_to_string:
 * @outcome: a [enum@RotationOutcome]
 *
 * Gets the name of a value: `changed`, `unchanged`, `timed-out` or `failed`.
 *
 * Returns: `changed`, `unchanged`, `timed-out` or `failed`
 *
 * Since: 0.1
 */
const char *
pk_rotation_outcome_to_string (PkRotationOutcome outcome)
{
  switch (outcome)
    {
    case PK_ROTATION_OUTCOME_CHANGED: return "changed";
    case PK_ROTATION_OUTCOME_UNCHANGED: return "unchanged";
    case PK_ROTATION_OUTCOME_TIMED_OUT: return "timed-out";
    case PK_ROTATION_OUTCOME_FAILED:
    default: return "failed";
    }
}
