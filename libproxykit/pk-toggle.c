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
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <glib/gstdio.h>

#ifdef HAVE_JSON_GLIB
#include <json-glib/json-glib.h>
#endif

#include "pk-error.h"
#include "pk-hilink-modem.h"
#include "pk-toggle.h"
#include "pk-toggle-private.h"

/* --- PkToggleStep --- */

G_DEFINE_INTERFACE (PkToggleStep, pk_toggle_step, G_TYPE_OBJECT)

static void
pk_toggle_step_default_init (PkToggleStepInterface *iface)
{
}

/**
 * pk_toggle_step_get_name:
 * @self: a #PkToggleStep
 *
 * Returns: the step's short name, e.g. `modem`
 */
const char *
pk_toggle_step_get_name (PkToggleStep *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_STEP (self), NULL);

  return PK_TOGGLE_STEP_GET_IFACE (self)->get_name (self);
}

/**
 * pk_toggle_step_run_async:
 * @self: a #PkToggleStep
 * @toggle: the toggle that runs the step
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the step is done
 * @user_data: data for @callback
 *
 * Runs the step on the dongle of @toggle.
 */
void
pk_toggle_step_run_async (PkToggleStep        *self,
                          PkToggle            *toggle,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_return_if_fail (PK_IS_TOGGLE_STEP (self));
  g_return_if_fail (PK_IS_TOGGLE (toggle));

  PK_TOGGLE_STEP_GET_IFACE (self)->run_async (self, toggle, cancellable, callback, user_data);
}

/**
 * pk_toggle_step_run_finish:
 * @self: a #PkToggleStep
 * @result: the #GAsyncResult
 * @out_detail: (out) (optional) (transfer full) (nullable): a one-line
 *   account of what the step did
 * @error: return location for a #GError
 *
 * Finishes [method@ToggleStep.run_async].
 *
 * Returns: %TRUE if the step did its work, %FALSE with @error set otherwise
 */
gboolean
pk_toggle_step_run_finish (PkToggleStep  *self,
                           GAsyncResult  *result,
                           char         **out_detail,
                           GError       **error)
{
  g_return_val_if_fail (PK_IS_TOGGLE_STEP (self), FALSE);

  if (out_detail != NULL)
    *out_detail = NULL;
  return PK_TOGGLE_STEP_GET_IFACE (self)->run_finish (self, result, out_detail, error);
}

/* --- PkToggleModemStep --- */

/**
 * PkToggleModemStep:
 *
 * The [iface@ToggleStep] that rotates the IP through the modem API with a
 * [class@Rotation]: the toggle's method first, then the escalation order.
 */
struct _PkToggleModemStep
{
  GObject parent_instance;

  char *escalation;
  guint settle_ms;
  guint poll_interval_ms;
  guint timeout_ms;
  guint unchanged_polls;
  PkRotation *last_rotation;
};

static void pk_toggle_modem_step_iface_init (PkToggleStepInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PkToggleModemStep, pk_toggle_modem_step, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (PK_TYPE_TOGGLE_STEP, pk_toggle_modem_step_iface_init))

static void
pk_toggle_modem_step_finalize (GObject *object)
{
  PkToggleModemStep *self = PK_TOGGLE_MODEM_STEP (object);

  g_free (self->escalation);
  g_clear_object (&self->last_rotation);

  G_OBJECT_CLASS (pk_toggle_modem_step_parent_class)->finalize (object);
}

static void
pk_toggle_modem_step_class_init (PkToggleModemStepClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pk_toggle_modem_step_finalize;
}

static void
pk_toggle_modem_step_init (PkToggleModemStep *self)
{
  self->escalation = g_strdup (PK_ROTATION_DEFAULT_ESCALATION);
  self->settle_ms = 3000;
  self->poll_interval_ms = 1000;
  self->timeout_ms = 60000;
  self->unchanged_polls = 3;
}

/**
 * pk_toggle_modem_step_new:
 *
 * Creates the modem rotation step with the default escalation order and
 * timing of [class@Rotation].
 *
 * Returns: (transfer full): a new #PkToggleModemStep
 */
PkToggleModemStep *
pk_toggle_modem_step_new (void)
{
  return g_object_new (PK_TYPE_TOGGLE_MODEM_STEP, NULL);
}

/**
 * pk_toggle_modem_step_set_escalation:
 * @self: a #PkToggleModemStep
 * @order: (nullable): the escalation order, see [method@Rotation.set_escalation]
 * @error: return location for a #GError
 *
 * Returns: %TRUE, or %FALSE with @error set if @order names an unknown method
 */
gboolean
pk_toggle_modem_step_set_escalation (PkToggleModemStep  *self,
                                     const char         *order,
                                     GError            **error)
{
  g_auto(GStrv) parts = NULL;

  g_return_val_if_fail (PK_IS_TOGGLE_MODEM_STEP (self), FALSE);

  parts = g_strsplit (order != NULL ? order : "", ",", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      PkRotationMethod m;
      char *name = g_strstrip (parts[i]);

      if (*name != '\0' && !g_str_equal (name, "none") && !pk_rotation_method_from_string (name, &m))
        {
          g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                       "escalation order '%s': unknown method '%s' (expected data, netmode or reboot)",
                       order, name);
          return FALSE;
        }
    }
  g_free (self->escalation);
  self->escalation = g_strdup (order);
  return TRUE;
}

/**
 * pk_toggle_modem_step_set_timing:
 * @self: a #PkToggleModemStep
 * @settle_ms: see [method@Rotation.set_timing]
 * @poll_interval_ms: see [method@Rotation.set_timing]
 * @timeout_ms: see [method@Rotation.set_timing]
 *
 * Sets the timing of the rotations this step runs.
 */
void
pk_toggle_modem_step_set_timing (PkToggleModemStep *self,
                                 guint              settle_ms,
                                 guint              poll_interval_ms,
                                 guint              timeout_ms)
{
  g_return_if_fail (PK_IS_TOGGLE_MODEM_STEP (self));

  self->settle_ms = settle_ms;
  self->poll_interval_ms = poll_interval_ms;
  self->timeout_ms = timeout_ms;
}

/**
 * pk_toggle_modem_step_set_unchanged_polls:
 * @self: a #PkToggleModemStep
 * @n_polls: see [method@Rotation.set_unchanged_polls]
 *
 * Sets when a rotation attempt counts as having kept the IP.
 */
void
pk_toggle_modem_step_set_unchanged_polls (PkToggleModemStep *self,
                                          guint              n_polls)
{
  g_return_if_fail (PK_IS_TOGGLE_MODEM_STEP (self));

  self->unchanged_polls = n_polls;
}

/**
 * pk_toggle_modem_step_get_last_rotation:
 * @self: a #PkToggleModemStep
 *
 * Returns: (transfer none) (nullable): the rotation of the last run, or %NULL
 */
PkRotation *
pk_toggle_modem_step_get_last_rotation (PkToggleModemStep *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_MODEM_STEP (self), NULL);

  return self->last_rotation;
}

static const char *
modem_step_get_name (PkToggleStep *step)
{
  return "modem";
}

static char *
describe_rotation (PkRotation *rotation)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < pk_rotation_get_n_attempts (rotation); i++)
    {
      const char *msg = pk_rotation_get_attempt_message (rotation, i);

      g_string_append_printf (s, "%s%s: %s", i ? "; " : "",
                              pk_rotation_method_to_string (pk_rotation_get_attempt_method (rotation, i)),
                              pk_rotation_outcome_to_string (pk_rotation_get_attempt_outcome (rotation, i)));
      if (msg != NULL)
        g_string_append_printf (s, " (%s)", msg);
    }
  if (s->len == 0)
    g_string_append (s, "no attempt");
  return g_string_free (s, FALSE);
}

static void
modem_step_rotated (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PkRotation *rotation = PK_ROTATION (source);
  GError *error = NULL;

  g_task_set_task_data (task, describe_rotation (rotation), g_free);
  if (!pk_rotation_run_finish (rotation, result, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
modem_step_run_async (PkToggleStep        *step,
                      PkToggle            *toggle,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  PkToggleModemStep *self = PK_TOGGLE_MODEM_STEP (step);
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  g_autoptr(GError) error = NULL;

  g_task_set_source_tag (task, modem_step_run_async);
  g_clear_object (&self->last_rotation);
  self->last_rotation = pk_rotation_new (pk_toggle_get_modem (toggle), pk_toggle_get_method (toggle));
  if (!pk_rotation_set_escalation (self->last_rotation, self->escalation, &error))
    g_critical ("%s", error->message);
  pk_rotation_set_timing (self->last_rotation, self->settle_ms, self->poll_interval_ms, self->timeout_ms);
  pk_rotation_set_unchanged_polls (self->last_rotation, self->unchanged_polls);
  pk_rotation_run_async (self->last_rotation, cancellable, modem_step_rotated, task);
}

static gboolean
modem_step_run_finish (PkToggleStep  *step,
                       GAsyncResult  *result,
                       char         **out_detail,
                       GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, step), FALSE);

  if (out_detail != NULL)
    *out_detail = g_strdup (g_task_get_task_data (G_TASK (result)));
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
pk_toggle_modem_step_iface_init (PkToggleStepInterface *iface)
{
  iface->get_name = modem_step_get_name;
  iface->run_async = modem_step_run_async;
  iface->run_finish = modem_step_run_finish;
}

/* --- PkToggleLimiter --- */

/**
 * PkToggleLimiter:
 *
 * How many toggles may run at once, shared by the [class@Toggle]s of one
 * host: each radio reconnect and reboot draws power from the same USB
 * hubs, and the operator wants most dongles serving at any time.
 */
struct _PkToggleLimiter
{
  GObject parent_instance;

  guint max;
  guint running;
};

G_DEFINE_FINAL_TYPE (PkToggleLimiter, pk_toggle_limiter, G_TYPE_OBJECT)

static void
pk_toggle_limiter_class_init (PkToggleLimiterClass *klass)
{
}

static void
pk_toggle_limiter_init (PkToggleLimiter *self)
{
}

/**
 * pk_toggle_limiter_new:
 * @max_concurrent: how many toggles may run at once, 0 for no limit
 *
 * Returns: (transfer full): a new #PkToggleLimiter
 */
PkToggleLimiter *
pk_toggle_limiter_new (guint max_concurrent)
{
  PkToggleLimiter *self = g_object_new (PK_TYPE_TOGGLE_LIMITER, NULL);

  self->max = max_concurrent;
  return self;
}

/**
 * pk_toggle_limiter_get_max:
 * @self: a #PkToggleLimiter
 *
 * Returns: the limit, 0 for none
 */
guint
pk_toggle_limiter_get_max (PkToggleLimiter *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_LIMITER (self), 0);

  return self->max;
}

/**
 * pk_toggle_limiter_get_running:
 * @self: a #PkToggleLimiter
 *
 * Returns: how many toggles run now
 */
guint
pk_toggle_limiter_get_running (PkToggleLimiter *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_LIMITER (self), 0);

  return self->running;
}

/* --- PkToggleResult --- */

/**
 * PkToggleResult:
 *
 * What one run of a [class@Toggle] did: the old and new IP, the method
 * that worked, the duration, and each step with its outcome (`ok`,
 * `changed`, `unchanged` or `failed`) and a one-line detail.
 */
typedef struct {
  char *name;
  char *outcome;
  char *detail;
} Step;

struct _PkToggleResult
{
  GObject parent_instance;

  guint id;
  gboolean success;
  GError *error;
  char *old_ip;
  char *new_ip;
  char *method;
  guint64 duration_ms;
  gint64 finished_at;
  guint attempts;
  gboolean escalated;
  GArray *steps;
};

G_DEFINE_FINAL_TYPE (PkToggleResult, pk_toggle_result, G_TYPE_OBJECT)

static void
step_clear (gpointer data)
{
  Step *s = data;

  g_free (s->name);
  g_free (s->outcome);
  g_free (s->detail);
}

static void
pk_toggle_result_finalize (GObject *object)
{
  PkToggleResult *self = PK_TOGGLE_RESULT (object);

  g_clear_error (&self->error);
  g_free (self->old_ip);
  g_free (self->new_ip);
  g_free (self->method);
  g_array_unref (self->steps);

  G_OBJECT_CLASS (pk_toggle_result_parent_class)->finalize (object);
}

static void
pk_toggle_result_class_init (PkToggleResultClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pk_toggle_result_finalize;
}

static void
pk_toggle_result_init (PkToggleResult *self)
{
  self->steps = g_array_new (FALSE, TRUE, sizeof (Step));
  g_array_set_clear_func (self->steps, step_clear);
}

static void
result_add_step (PkToggleResult *self,
                 const char     *name,
                 const char     *outcome,
                 const char     *detail)
{
  Step s = { g_strdup (name), g_strdup (outcome), g_strdup (detail) };

  g_array_append_val (self->steps, s);
}

/**
 * pk_toggle_result_get_id:
 * @self: a #PkToggleResult
 *
 * Returns: the dongle's number
 */
guint
pk_toggle_result_get_id (PkToggleResult *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_RESULT (self), 0);
  return self->id;
}

/**
 * pk_toggle_result_get_success:
 * @self: a #PkToggleResult
 *
 * Returns: %TRUE if the dongle has a new, verified IP
 */
gboolean
pk_toggle_result_get_success (PkToggleResult *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_RESULT (self), FALSE);
  return self->success;
}

/**
 * pk_toggle_result_get_error:
 * @self: a #PkToggleResult
 *
 * Returns: (nullable) (transfer none): why the toggle failed
 *   (%PK_ERROR_UNCHANGED when the IP stayed, the modem's error when it
 *   could not be reached), or %NULL on success
 */
const GError *
pk_toggle_result_get_error (PkToggleResult *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_RESULT (self), NULL);
  return self->error;
}

/**
 * pk_toggle_result_get_old_ip:
 * @self: a #PkToggleResult
 *
 * Returns: (nullable): the WAN IP before, %NULL if there was none or it
 *   could not be read
 */
const char *
pk_toggle_result_get_old_ip (PkToggleResult *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_RESULT (self), NULL);
  return self->old_ip;
}

/**
 * pk_toggle_result_get_new_ip:
 * @self: a #PkToggleResult
 *
 * Returns: (nullable): the new WAN IP, %NULL unless the toggle succeeded
 */
const char *
pk_toggle_result_get_new_ip (PkToggleResult *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_RESULT (self), NULL);
  return self->new_ip;
}

/**
 * pk_toggle_result_get_method:
 * @self: a #PkToggleResult
 *
 * Returns: (nullable): what brought the new IP (for the modem step the
 *   rotation method: `data`, `netmode`, `reboot`), or the last thing
 *   tried; %NULL if no step ran
 */
const char *
pk_toggle_result_get_method (PkToggleResult *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_RESULT (self), NULL);
  return self->method;
}

/**
 * pk_toggle_result_get_duration_ms:
 * @self: a #PkToggleResult
 *
 * Returns: how long the toggle took, in milliseconds
 */
guint64
pk_toggle_result_get_duration_ms (PkToggleResult *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_RESULT (self), 0);
  return self->duration_ms;
}

/**
 * pk_toggle_result_get_finished_at:
 * @self: a #PkToggleResult
 *
 * Returns: when the toggle ended, in microseconds since the epoch
 */
gint64
pk_toggle_result_get_finished_at (PkToggleResult *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_RESULT (self), 0);
  return self->finished_at;
}

/**
 * pk_toggle_result_get_attempts:
 * @self: a #PkToggleResult
 *
 * Returns: how many rotation methods were tried
 */
guint
pk_toggle_result_get_attempts (PkToggleResult *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_RESULT (self), 0);
  return self->attempts;
}

/**
 * pk_toggle_result_get_escalated:
 * @self: a #PkToggleResult
 *
 * Returns: %TRUE if the first method was not enough
 */
gboolean
pk_toggle_result_get_escalated (PkToggleResult *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_RESULT (self), FALSE);
  return self->escalated;
}

/**
 * pk_toggle_result_get_n_steps:
 * @self: a #PkToggleResult
 *
 * Returns: how many steps the toggle went through, the diagnosis included
 */
guint
pk_toggle_result_get_n_steps (PkToggleResult *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_RESULT (self), 0);
  return self->steps->len;
}

static Step *
result_get_step (PkToggleResult *self,
                 guint           index)
{
  g_return_val_if_fail (PK_IS_TOGGLE_RESULT (self), NULL);
  g_return_val_if_fail (index < self->steps->len, NULL);
  return &g_array_index (self->steps, Step, index);
}

/**
 * pk_toggle_result_get_step_name:
 * @self: a #PkToggleResult
 * @index: the step, from 0
 *
 * Returns: the step's name: `diagnose`, `modem`, `verify`, ...
 */
const char *
pk_toggle_result_get_step_name (PkToggleResult *self,
                                guint           index)
{
  Step *s = result_get_step (self, index);
  return s != NULL ? s->name : NULL;
}

/**
 * pk_toggle_result_get_step_outcome:
 * @self: a #PkToggleResult
 * @index: the step, from 0
 *
 * Returns: `ok`, `changed`, `unchanged` or `failed`
 */
const char *
pk_toggle_result_get_step_outcome (PkToggleResult *self,
                                   guint           index)
{
  Step *s = result_get_step (self, index);
  return s != NULL ? s->outcome : NULL;
}

/**
 * pk_toggle_result_get_step_detail:
 * @self: a #PkToggleResult
 * @index: the step, from 0
 *
 * Returns: (nullable): a one-line account of the step
 */
const char *
pk_toggle_result_get_step_detail (PkToggleResult *self,
                                  guint           index)
{
  Step *s = result_get_step (self, index);
  return s != NULL ? s->detail : NULL;
}

/**
 * pk_toggle_result_to_json:
 * @self: a #PkToggleResult
 *
 * Describes the result as a JSON object: `dongle`, `success`, `old_ip`,
 * `new_ip`, `method`, `duration_ms`, `attempts`, `escalated`,
 * `finished_at` (ISO 8601), `error` and `error_code` (the Huawei code or
 * 0) when it failed, and `steps` (objects with `name`, `outcome`,
 * `detail`).
 *
 * Returns: (transfer full) (nullable): the JSON text, or %NULL when the
 *   library was built without json-glib
 */
char *
pk_toggle_result_to_json (PkToggleResult *self)
{
#ifdef HAVE_JSON_GLIB
  g_autoptr(JsonNode) root = NULL;

  g_return_val_if_fail (PK_IS_TOGGLE_RESULT (self), NULL);

  root = pk_toggle_result_to_json_node (self);
  return json_to_string (root, FALSE);
#else
  g_return_val_if_fail (PK_IS_TOGGLE_RESULT (self), NULL);
  return NULL;
#endif
}

#ifdef HAVE_JSON_GLIB
JsonNode *
pk_toggle_result_to_json_node (PkToggleResult *self)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(GDateTime) dt = NULL;
  g_autofree char *when = NULL;

  dt = g_date_time_new_from_unix_utc (self->finished_at / G_USEC_PER_SEC);
  when = dt != NULL ? g_date_time_format_iso8601 (dt) : NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "dongle");
  json_builder_add_int_value (b, self->id);
  json_builder_set_member_name (b, "success");
  json_builder_add_boolean_value (b, self->success);
  json_builder_set_member_name (b, "old_ip");
  self->old_ip ? json_builder_add_string_value (b, self->old_ip) : json_builder_add_null_value (b);
  json_builder_set_member_name (b, "new_ip");
  self->new_ip ? json_builder_add_string_value (b, self->new_ip) : json_builder_add_null_value (b);
  json_builder_set_member_name (b, "method");
  self->method ? json_builder_add_string_value (b, self->method) : json_builder_add_null_value (b);
  json_builder_set_member_name (b, "duration_ms");
  json_builder_add_int_value (b, (gint64) self->duration_ms);
  json_builder_set_member_name (b, "attempts");
  json_builder_add_int_value (b, self->attempts);
  json_builder_set_member_name (b, "escalated");
  json_builder_add_boolean_value (b, self->escalated);
  json_builder_set_member_name (b, "finished_at");
  when ? json_builder_add_string_value (b, when) : json_builder_add_null_value (b);
  if (self->error != NULL)
    {
      json_builder_set_member_name (b, "error");
      json_builder_add_string_value (b, self->error->message);
      json_builder_set_member_name (b, "error_code");
      json_builder_add_int_value (b, pk_hilink_error_get_code (self->error));
    }
  json_builder_set_member_name (b, "steps");
  json_builder_begin_array (b);
  for (guint i = 0; i < self->steps->len; i++)
    {
      Step *s = &g_array_index (self->steps, Step, i);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, s->name);
      json_builder_set_member_name (b, "outcome");
      json_builder_add_string_value (b, s->outcome);
      json_builder_set_member_name (b, "detail");
      s->detail ? json_builder_add_string_value (b, s->detail) : json_builder_add_null_value (b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);

  return json_builder_get_root (b);
}
#endif

/* --- PkToggle --- */

struct _PkToggle
{
  GObject parent_instance;

  guint id;
  PkModem *modem;
  PkToggleLimiter *limiter;
  GPtrArray *steps;
  guint cooldown_ms;
  char *state_dir;
  int lock_fd;

  gboolean running;
  gint64 last_finished;   /* monotonic, 0 before the first run */
  PkToggleResult *last_result;

  /* the run */
  PkRotationMethod method;
  char *old_ip;
  guint step_index;
  gint64 started;
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

static void
pk_toggle_finalize (GObject *object)
{
  PkToggle *self = PK_TOGGLE (object);

  g_clear_object (&self->modem);
  g_clear_object (&self->limiter);
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
   */
  properties[PROP_ID] =
    g_param_spec_uint ("id", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * PkToggle:modem:
   *
   * The dongle's modem.
   */
  properties[PROP_MODEM] =
    g_param_spec_object ("modem", NULL, NULL, PK_TYPE_MODEM,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * PkToggle:limiter:
   *
   * The limit on toggles at once this toggle shares with others.
   */
  properties[PROP_LIMITER] =
    g_param_spec_object ("limiter", NULL, NULL, PK_TYPE_TOGGLE_LIMITER,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * PkToggle:cooldown:
   *
   * The pause after a toggle before the next one may start, in
   * milliseconds.
   */
  properties[PROP_COOLDOWN] =
    g_param_spec_uint ("cooldown", NULL, NULL, 0, G_MAXUINT, PK_TOGGLE_DEFAULT_COOLDOWN_MS,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
pk_toggle_init (PkToggle *self)
{
  self->steps = g_ptr_array_new_with_free_func (g_object_unref);
  self->cooldown_ms = PK_TOGGLE_DEFAULT_COOLDOWN_MS;
  self->lock_fd = -1;
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
 * Returns: (transfer full): a new #PkToggle
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
 * @self: a #PkToggle
 *
 * Returns: the dongle's number
 */
guint
pk_toggle_get_id (PkToggle *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE (self), 0);
  return self->id;
}

/**
 * pk_toggle_get_modem:
 * @self: a #PkToggle
 *
 * Returns: (transfer none): the dongle's modem
 */
PkModem *
pk_toggle_get_modem (PkToggle *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE (self), NULL);
  return self->modem;
}

/**
 * pk_toggle_get_limiter:
 * @self: a #PkToggle
 *
 * Returns: (transfer none): the shared limiter
 */
PkToggleLimiter *
pk_toggle_get_limiter (PkToggle *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE (self), NULL);
  return self->limiter;
}

/**
 * pk_toggle_add_step:
 * @self: a #PkToggle
 * @step: a step, run after those added before
 *
 * Appends a step.
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
 * pk_toggle_get_n_steps:
 * @self: a #PkToggle
 *
 * Returns: how many steps the toggle has
 */
guint
pk_toggle_get_n_steps (PkToggle *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE (self), 0);
  return self->steps->len;
}

/**
 * pk_toggle_get_cooldown:
 * @self: a #PkToggle
 *
 * Returns: the cooldown in milliseconds
 */
guint
pk_toggle_get_cooldown (PkToggle *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE (self), 0);
  return self->cooldown_ms;
}

/**
 * pk_toggle_set_cooldown:
 * @self: a #PkToggle
 * @cooldown_ms: the pause after a toggle, in milliseconds
 *
 * Sets the pause after a toggle before the next one may start.
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
 * @self: a #PkToggle
 *
 * Returns: (nullable): the state directory, or %NULL
 */
const char *
pk_toggle_get_state_dir (PkToggle *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE (self), NULL);
  return self->state_dir;
}

/**
 * pk_toggle_set_state_dir:
 * @self: a #PkToggle
 * @state_dir: (nullable): a directory for the lock and cooldown files, or
 *   %NULL to keep them in this process only
 *
 * Shares the per-dongle lock and cooldown with other processes through
 * files in @state_dir (created if missing).
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
 * by any process; 0 if unknown. */
static gint64
shared_last_finished (PkToggle *self)
{
  g_autofree char *path = NULL;
  g_autofree char *text = NULL;

  if (self->state_dir == NULL)
    return 0;
  path = state_path (self, "last");
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  return g_ascii_strtoll (text, NULL, 10);
}

static void
shared_record_finished (PkToggle *self)
{
  g_autofree char *path = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;

  if (self->state_dir == NULL)
    return;
  path = state_path (self, "last");
  text = g_strdup_printf ("%" G_GINT64_FORMAT "\n", g_get_real_time ());
  if (!g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, &error))
    g_warning ("dongle %u: cannot record the toggle in %s: %s", self->id, path, error->message);
}

/* Takes the dongle's lock file; FALSE with PK_ERROR_BUSY when another
 * process holds it. */
static gboolean
shared_lock (PkToggle  *self,
             GError   **error)
{
  g_autofree char *path = NULL;
  int fd;

  if (self->state_dir == NULL)
    return TRUE;
  if (g_mkdir_with_parents (self->state_dir, 0755) < 0)
    {
      int saved = errno;
      g_set_error (error, PK_ERROR, PK_ERROR_STATE, "dongle %u: cannot create %s: %s",
                   self->id, self->state_dir, g_strerror (saved));
      return FALSE;
    }
  path = state_path (self, "lock");
  fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, PK_ERROR, PK_ERROR_STATE, "dongle %u: cannot open %s: %s",
                   self->id, path, g_strerror (saved));
      return FALSE;
    }
  if (flock (fd, LOCK_EX | LOCK_NB) < 0)
    {
      int saved = errno;
      close (fd);
      if (saved == EWOULDBLOCK)
        g_set_error (error, PK_ERROR, PK_ERROR_BUSY,
                     "dongle %u: a toggle is running already (in another process)", self->id);
      else
        g_set_error (error, PK_ERROR, PK_ERROR_STATE, "dongle %u: cannot lock %s: %s",
                     self->id, path, g_strerror (saved));
      return FALSE;
    }
  self->lock_fd = fd;
  return TRUE;
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

/**
 * pk_toggle_is_running:
 * @self: a #PkToggle
 *
 * Returns: %TRUE while a toggle runs on this dongle
 */
gboolean
pk_toggle_is_running (PkToggle *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE (self), FALSE);
  return self->running;
}

/**
 * pk_toggle_get_cooldown_remaining:
 * @self: a #PkToggle
 *
 * Returns: how long until the next toggle may start, in milliseconds
 *   (0 when it may start now)
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
 * @self: a #PkToggle
 *
 * Returns: (transfer none) (nullable): the result of the last run, or %NULL
 */
PkToggleResult *
pk_toggle_get_last_result (PkToggle *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE (self), NULL);
  return self->last_result;
}

/**
 * pk_toggle_get_old_ip:
 * @self: a #PkToggle
 *
 * For steps: the WAN IP the diagnosis found.
 *
 * Returns: (nullable): the IP before the run, %NULL if unknown
 */
const char *
pk_toggle_get_old_ip (PkToggle *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE (self), NULL);
  return self->old_ip;
}

/**
 * pk_toggle_get_method:
 * @self: a #PkToggle
 *
 * For steps: the rotation method the run was asked for.
 *
 * Returns: the method
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
  char *detail;
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

static void
run_done (GTask  *task,
          GError *error)
{
  PkToggle *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  PkToggleResult *result = data->result;

  result->duration_ms = (guint64) ((g_get_monotonic_time () - self->started) / 1000);
  result->finished_at = g_get_real_time ();
  result->success = error == NULL;
  result->error = error;
  self->running = FALSE;
  self->limiter->running--;
  self->last_finished = g_get_monotonic_time ();
  shared_record_finished (self);
  shared_unlock (self);
  g_set_object (&self->last_result, result);

  if (error != NULL)
    g_debug ("dongle %u: toggle failed after %" G_GUINT64_FORMAT " ms: %s",
               self->id, result->duration_ms, error->message);
  else
    g_debug ("dongle %u: %s -> %s by %s in %" G_GUINT64_FORMAT " ms",
               self->id, result->old_ip ? result->old_ip : "(none)", result->new_ip,
               result->method ? result->method : "?", result->duration_ms);

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
      result_add_step (data->result, name, "failed", detail);
      g_clear_error (&self->step_error);
      self->step_error = g_steal_pointer (&error);
    }
  else if (state == PK_MODEM_STATE_CONNECTED && wan_ip != NULL && g_strcmp0 (wan_ip, self->old_ip) != 0)
    {
      result_add_step (data->result, name, "changed", data->detail);
      data->result->new_ip = g_steal_pointer (&wan_ip);
      run_done (task, NULL);
      return;
    }
  else
    {
      g_autofree char *detail = g_strdup_printf ("%s; verify: %s %s", data->detail ? data->detail : "done",
                                                 pk_modem_state_to_string (state), wan_ip ? wan_ip : "");
      result_add_step (data->result, name, "unchanged", detail);
      g_clear_error (&self->step_error);
      self->step_error = g_error_new (PK_ERROR, PK_ERROR_UNCHANGED, "dongle %u: the IP stayed %s",
                                      self->id, self->old_ip ? self->old_ip : "(none)");
    }
  self->step_index++;
  run_next_step (task);
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
  g_autoptr(GError) error = NULL;
  gboolean ok;

  g_clear_pointer (&data->detail, g_free);
  ok = pk_toggle_step_run_finish (step, res, &data->detail, &error);

  if (PK_IS_TOGGLE_MODEM_STEP (step))
    {
      PkRotation *rotation = pk_toggle_modem_step_get_last_rotation (PK_TOGGLE_MODEM_STEP (step));

      g_free (data->result->method);
      data->result->method = g_strdup (pk_rotation_method_to_string (pk_rotation_get_final_method (rotation)));
      data->result->attempts += pk_rotation_get_n_attempts (rotation);
      data->result->escalated = data->result->escalated || pk_rotation_get_escalated (rotation);
    }
  else
    {
      g_free (data->result->method);
      data->result->method = g_strdup (pk_toggle_step_get_name (step));
    }

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      result_add_step (data->result, pk_toggle_step_get_name (step), "failed", "cancelled");
      run_done (task, g_steal_pointer (&error));
      return;
    }
  if (!ok)
    {
      g_autofree char *detail = data->detail != NULL
        ? g_strdup_printf ("%s: %s", error->message, data->detail) : g_strdup (error->message);
      result_add_step (data->result, pk_toggle_step_get_name (step),
                       g_error_matches (error, PK_ERROR, PK_ERROR_UNCHANGED) ? "unchanged" : "failed",
                       detail);
      g_clear_error (&self->step_error);
      self->step_error = g_steal_pointer (&error);
      self->step_index++;
      run_next_step (task);
      return;
    }

  /* The step says it worked: check with the modem. */
  pk_modem_get_status_async (self->modem, g_task_get_cancellable (task), on_verified, task);
}

static void
run_next_step (GTask *task)
{
  PkToggle *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);

  if (self->step_index >= self->steps->len)
    {
      GError *error = g_steal_pointer (&self->step_error);

      if (error == NULL)
        error = g_error_new (PK_ERROR, PK_ERROR_NOT_SUPPORTED,
                             "dongle %u: no step to change the IP with", self->id);
      else if (self->steps->len > 1)
        g_prefix_error (&error, "dongle %u: every step failed; last: ", self->id);
      run_done (task, error);
      return;
    }

  g_set_object (&data->step, g_ptr_array_index (self->steps, self->step_index));
  pk_toggle_step_run_async (data->step, self, g_task_get_cancellable (task), on_step_done, task);
}

static void
on_diagnosed (GObject      *source,
              GAsyncResult *res,
              gpointer      user_data)
{
  GTask *task = user_data;
  PkToggle *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  PkModemState state = PK_MODEM_STATE_UNKNOWN;

  g_clear_pointer (&self->old_ip, g_free);
  if (!pk_modem_get_status_finish (self->modem, res, &state, &self->old_ip, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          run_done (task, g_steal_pointer (&error));
          return;
        }
      /* Later steps (USB rebind, power cycle) may help a modem that does
       * not answer; the modem step will report it unreachable. */
      result_add_step (data->result, "diagnose", "failed", error->message);
      self->step_error = g_error_copy (error);
    }
  else
    {
      g_autofree char *detail = g_strdup_printf ("%s%s%s", pk_modem_state_to_string (state),
                                                 self->old_ip ? ", WAN IP " : "",
                                                 self->old_ip ? self->old_ip : "");
      result_add_step (data->result, "diagnose", "ok", detail);
      data->result->old_ip = g_strdup (self->old_ip);
    }
  run_next_step (task);
}

/**
 * pk_toggle_run_async:
 * @self: a #PkToggle
 * @method: the rotation method to try first
 * @recovery: %TRUE to ignore the limit on toggles at once (to bring back
 *   a dongle that is down)
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the toggle ends or is refused
 * @user_data: data for @callback
 *
 * Runs the toggle: diagnosis, then the steps until the IP changes, each
 * verified with the modem. It is refused at once while this dongle runs
 * a toggle, cools down, or the limiter is full.
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
  if (!recovery && self->limiter->max > 0 && self->limiter->running >= self->limiter->max)
    {
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_NOT_ALLOWED,
                               "dongle %u: %u toggles are running, the limit is %u",
                               self->id, self->limiter->running, self->limiter->max);
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

  self->running = TRUE;
  self->limiter->running++;
  self->method = method;
  self->step_index = 0;
  self->started = g_get_monotonic_time ();
  g_clear_error (&self->step_error);

  data = g_new0 (RunData, 1);
  data->result = g_object_new (PK_TYPE_TOGGLE_RESULT, NULL);
  data->result->id = self->id;
  g_task_set_task_data (task, data, (GDestroyNotify) run_data_free);

  g_debug ("dongle %u: toggle (%s%s)", self->id, pk_rotation_method_to_string (method),
             recovery ? ", recovery" : "");
  pk_modem_get_status_async (self->modem, cancellable, on_diagnosed, task);
}

/**
 * pk_toggle_run_finish:
 * @self: a #PkToggle
 * @result: the #GAsyncResult
 * @error: return location for a #GError
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
