/* pk-toggle-modem-step.c: the PkToggleStep that rotates the IP through the modem API
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "pk-config-private.h"

#include "pk-error.h"
#include "pk-toggle.h"
#include "pk-toggle-modem-step.h"
#include "pk-toggle-private.h"

/**
 * PkToggleModemStep:
 *
 * The [iface@ToggleStep] that rotates the IP through the modem API with a
 * [class@Rotation]: the toggle's method first, then the escalation order.
 *
 * Since: 0.1
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
 * Returns: (transfer full): a new [class@ToggleModemStep]
 *
 * Since: 0.1
 */
PkToggleModemStep *
pk_toggle_modem_step_new (void)
{
  return g_object_new (PK_TYPE_TOGGLE_MODEM_STEP, NULL);
}

/**
 * pk_toggle_modem_step_new_from_config:
 * @config: a [class@Config]
 * @error: return location for a `GError`
 *
 * Creates the modem rung with the settings of the `[toggle]` section:
 * `escalation` (default `data,netmode,reboot`), `settle` (3 s),
 * `poll_interval` (1 s), `timeout` (60 s) and `unchanged_polls` (3). A
 * tool's flags go in as overrides ([method@Config.set_override]).
 *
 * Returns: (transfer full) (nullable): a new [class@ToggleModemStep], or
 *   %NULL with %PK_ERROR_CONFIG naming a bad value
 *
 * Since: 0.2
 */
PkToggleModemStep *
pk_toggle_modem_step_new_from_config (PkConfig  *config,
                                      GError   **error)
{
  g_autoptr(PkToggleModemStep) self = pk_toggle_modem_step_new ();
  g_autofree char *escalation = NULL;
  g_autoptr(GError) local_error = NULL;
  guint settle, poll, timeout;
  guint64 polls;

  g_return_val_if_fail (PK_IS_CONFIG (config), NULL);

  escalation = pk_config_dup_string (config, "toggle", "escalation", NULL, PK_ROTATION_DEFAULT_ESCALATION);
  if (!pk_toggle_modem_step_set_escalation (self, escalation, &local_error))
    {
      pk_config_value_error (config, "toggle", "escalation", NULL, g_steal_pointer (&local_error), error);
      return NULL;
    }
  if (!pk_config_get_duration_uint (config, "toggle", "settle", NULL, 0, 3000, &settle, error) ||
      !pk_config_get_duration_uint (config, "toggle", "poll_interval", NULL, 1, 1000, &poll, error) ||
      !pk_config_get_duration_uint (config, "toggle", "timeout", NULL, 1, 60000, &timeout, error) ||
      !pk_config_get_uint (config, "toggle", "unchanged_polls", NULL, 1, 1000, 3, &polls, error))
    return NULL;
  pk_toggle_modem_step_set_timing (self, settle, poll, timeout);
  pk_toggle_modem_step_set_unchanged_polls (self, (guint) polls);
  return g_steal_pointer (&self);
}

/**
 * pk_toggle_modem_step_set_escalation:
 * @self: a [class@ToggleModemStep]
 * @order: (nullable): the escalation order, see [method@Rotation.set_escalation]
 * @error: return location for a `GError`
 *
 * Sets the order of rotation methods tried after the first one fails.
 *
 * Returns: %TRUE, or %FALSE with @error set if @order names an unknown method
 *
 * Since: 0.1
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
 * @self: a [class@ToggleModemStep]
 * @settle_ms: see [method@Rotation.set_timing]
 * @poll_interval_ms: see [method@Rotation.set_timing]
 * @timeout_ms: see [method@Rotation.set_timing]
 *
 * Sets the timing of the rotations this step runs.
 *
 * Since: 0.1
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
 * @self: a [class@ToggleModemStep]
 * @n_polls: see [method@Rotation.set_unchanged_polls]
 *
 * Sets when a rotation attempt counts as having kept the IP.
 *
 * Since: 0.1
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
 * @self: a [class@ToggleModemStep]
 *
 * Gets the rotation of the last run, or %NULL.
 *
 * Returns: (transfer none) (nullable): the rotation of the last run, or %NULL
 *
 * Since: 0.1
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
  g_autofree char *detail = describe_rotation (rotation);
  GError *error = NULL;

  /* what the rotation did, whether it got a new IP or not */
  g_task_set_task_data (task,
                        pk_toggle_step_outcome_new (pk_rotation_method_to_string (pk_rotation_get_final_method (rotation)),
                                                    pk_rotation_get_n_attempts (rotation),
                                                    pk_rotation_get_escalated (rotation),
                                                    detail),
                        (GDestroyNotify) pk_toggle_step_outcome_free);
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
  g_signal_connect_object (self->last_rotation, "progress", G_CALLBACK (pk_toggle_emit_progress),
                           toggle, G_CONNECT_SWAPPED);
  pk_rotation_run_async (self->last_rotation, cancellable, modem_step_rotated, task);
}

static gboolean
modem_step_run_finish (PkToggleStep          *step,
                       GAsyncResult          *result,
                       PkToggleStepOutcome  **out_outcome,
                       GError               **error)
{
  PkToggleStepOutcome *outcome;

  g_return_val_if_fail (g_task_is_valid (result, step), FALSE);

  outcome = g_task_get_task_data (G_TASK (result));
  *out_outcome = outcome != NULL ? pk_toggle_step_outcome_copy (outcome) : NULL;
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
pk_toggle_modem_step_iface_init (PkToggleStepInterface *iface)
{
  iface->get_name = modem_step_get_name;
  iface->run_async = modem_step_run_async;
  iface->run_finish = modem_step_run_finish;
}

