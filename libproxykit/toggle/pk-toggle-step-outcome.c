/* pk-toggle-step-outcome.c: what one step of a PkToggle did
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkToggleStepOutcome:
 *
 * What one [iface@ToggleStep] did, whether it got the dongle a new IP or
 * not: the method it used (`data`, `netmode`, `usb`...), how many
 * attempts that took, whether it had to escalate, and a one-line detail.
 * A step returns it from [method@ToggleStep.run_finish]; the
 * [class@Toggle] copies it into its [class@ToggleResult].
 *
 * Since: 0.2
 */

#include "config.h"

#include "pk-toggle-step-outcome.h"

struct _PkToggleStepOutcome
{
  char *method;
  guint attempts;
  gboolean escalated;
  char *detail;
};

G_DEFINE_BOXED_TYPE (PkToggleStepOutcome, pk_toggle_step_outcome,
                     pk_toggle_step_outcome_copy, pk_toggle_step_outcome_free)

/**
 * pk_toggle_step_outcome_new:
 * @method: (nullable): the method the step used, %NULL for the step's name
 * @attempts: how many attempts the step made
 * @escalated: whether the step had to go past its first method
 * @detail: (nullable): a one-line account of what the step did
 *
 * Creates what a step reports.
 *
 * Returns: (transfer full): a new [struct@ToggleStepOutcome]
 *
 * Since: 0.2
 */
PkToggleStepOutcome *
pk_toggle_step_outcome_new (const char *method,
                            guint       attempts,
                            gboolean    escalated,
                            const char *detail)
{
  PkToggleStepOutcome *self = g_new0 (PkToggleStepOutcome, 1);

  self->method = g_strdup (method);
  self->attempts = attempts;
  self->escalated = escalated;
  self->detail = g_strdup (detail);
  return self;
}

/**
 * pk_toggle_step_outcome_copy:
 * @self: a [struct@ToggleStepOutcome]
 *
 * Copies an outcome.
 *
 * Returns: (transfer full): a copy of @self
 *
 * Since: 0.2
 */
PkToggleStepOutcome *
pk_toggle_step_outcome_copy (const PkToggleStepOutcome *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return pk_toggle_step_outcome_new (self->method, self->attempts, self->escalated, self->detail);
}

/**
 * pk_toggle_step_outcome_free:
 * @self: (nullable): a [struct@ToggleStepOutcome]
 *
 * Frees @self.
 *
 * Since: 0.2
 */
void
pk_toggle_step_outcome_free (PkToggleStepOutcome *self)
{
  if (self == NULL)
    return;
  g_free (self->method);
  g_free (self->detail);
  g_free (self);
}

/**
 * pk_toggle_step_outcome_get_method:
 * @self: a [struct@ToggleStepOutcome]
 *
 * Gets the rotation method the step used.
 *
 * Returns: (nullable): the method the step used, %NULL if it named none
 *
 * Since: 0.2
 */
const char *
pk_toggle_step_outcome_get_method (const PkToggleStepOutcome *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->method;
}

/**
 * pk_toggle_step_outcome_get_attempts:
 * @self: a [struct@ToggleStepOutcome]
 *
 * Gets how many attempts the step made.
 *
 * Returns: how many attempts the step made
 *
 * Since: 0.2
 */
guint
pk_toggle_step_outcome_get_attempts (const PkToggleStepOutcome *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->attempts;
}

/**
 * pk_toggle_step_outcome_get_escalated:
 * @self: a [struct@ToggleStepOutcome]
 *
 * Tells whether the step escalated past its first method.
 *
 * Returns: whether the step went past its first method
 *
 * Since: 0.2
 */
gboolean
pk_toggle_step_outcome_get_escalated (const PkToggleStepOutcome *self)
{
  g_return_val_if_fail (self != NULL, FALSE);
  return self->escalated;
}

/**
 * pk_toggle_step_outcome_get_detail:
 * @self: a [struct@ToggleStepOutcome]
 *
 * Gets the one-line account of what the step did.
 *
 * Returns: (nullable): a one-line account of what the step did
 *
 * Since: 0.2
 */
const char *
pk_toggle_step_outcome_get_detail (const PkToggleStepOutcome *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->detail;
}
