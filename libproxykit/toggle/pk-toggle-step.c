/* pk-toggle-step.c: what a PkToggle can do to get a dongle a new IP
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkToggleStep:
 *
 * One thing a [class@Toggle] can do to get a dongle a new IP. The toggle
 * runs its steps in order until one of them yields a new IP, and checks
 * that IP with the modem after each step that says it did its work.
 * [class@ToggleModemStep] rotates the IP through the modem API; a routing
 * reset, a USB rebind or a port power cycle are steps of the same kind.
 *
 * ```c
 * static void
 * my_step_run_async (PkToggleStep *step, PkToggle *toggle, GCancellable *cancellable,
 *                    GAsyncReadyCallback callback, gpointer user_data)
 * {
 *   GTask *task = g_task_new (step, cancellable, callback, user_data);
 *
 *   // unbind and bind the USB device of dongle pk_toggle_get_id (toggle),
 *   // wait until its modem answers, then:
 *   g_task_set_task_data (task, pk_toggle_step_outcome_new ("usb", 1, FALSE, "rebound 1-1.3"),
 *                         (GDestroyNotify) pk_toggle_step_outcome_free);
 *   g_task_return_boolean (task, TRUE);
 *   g_object_unref (task);
 * }
 * ```
 *
 * Since: 0.1
 */

#include "config.h"

#include "pk-toggle-step.h"

G_DEFINE_INTERFACE (PkToggleStep, pk_toggle_step, G_TYPE_OBJECT)

static void
pk_toggle_step_default_init (PkToggleStepInterface *iface)
{
}

/**
 * pk_toggle_step_get_name:
 * @self: a [iface@ToggleStep]
 *
 * Gets the step's short name, e.g. `modem`.
 *
 * Returns: the step's short name, e.g. `modem`
 *
 * Since: 0.1
 */
const char *
pk_toggle_step_get_name (PkToggleStep *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_STEP (self), NULL);

  return PK_TOGGLE_STEP_GET_IFACE (self)->get_name (self);
}

/**
 * pk_toggle_step_run_async:
 * @self: a [iface@ToggleStep]
 * @toggle: the toggle that runs the step
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when the step is done
 * @user_data: data for @callback
 *
 * Runs the step on the dongle of @toggle.
 *
 * Since: 0.1
 */
void
pk_toggle_step_run_async (PkToggleStep        *self,
                          PkToggle            *toggle,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_return_if_fail (PK_IS_TOGGLE_STEP (self));
  g_return_if_fail (G_IS_OBJECT (toggle));

  PK_TOGGLE_STEP_GET_IFACE (self)->run_async (self, toggle, cancellable, callback, user_data);
}

/**
 * pk_toggle_step_run_finish:
 * @self: a [iface@ToggleStep]
 * @result: the `GAsyncResult`
 * @out_outcome: (out) (optional) (transfer full) (nullable): what the
 *   step did (the method, attempts, a one-line detail), also when it
 *   failed; %NULL when the step has nothing to say
 * @error: return location for a `GError`
 *
 * Finishes [method@ToggleStep.run_async].
 *
 * Returns: %TRUE if the step did its work, %FALSE with @error set otherwise
 *
 * Since: 0.1
 */
gboolean
pk_toggle_step_run_finish (PkToggleStep          *self,
                           GAsyncResult          *result,
                           PkToggleStepOutcome  **out_outcome,
                           GError               **error)
{
  g_autoptr(PkToggleStepOutcome) outcome = NULL;
  gboolean ok;

  g_return_val_if_fail (PK_IS_TOGGLE_STEP (self), FALSE);

  ok = PK_TOGGLE_STEP_GET_IFACE (self)->run_finish (self, result, &outcome, error);
  if (out_outcome != NULL)
    *out_outcome = g_steal_pointer (&outcome);
  return ok;
}

