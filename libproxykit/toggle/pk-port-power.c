/* pk-port-power.c: a dongle's hub port on, off or cycled, under the dongle's lock
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkPortPower:
 *
 * Switches the hub port of one dongle of the [class@UsbMap] on or off, or
 * cycles it (off, a pause of 5 s by default, on), the way
 * `pk-toggle --power` does. The port is known through the map, so `on`
 * works for a dongle that has disappeared from USB. The switch itself is
 * [method@UsbMapEntry.set_power]: the port's `disable` attribute, or a
 * hub-class request where the port has none.
 *
 * With a state directory ([method@PortPower.set_state_dir]) it holds the
 * dongle's lock (`toggle-N.lock`) for the whole switch, the same lock a
 * [class@Toggle] holds, so that a power switch never runs in the middle of
 * a toggle or recovery of that dongle, in this process or another: it is
 * refused with %PK_ERROR_BUSY instead. A cycle that is cancelled during
 * its pause switches the port back on before it returns: a port is never
 * left off by a cycle.
 *
 * ```c
 * g_autoptr(PkPortPower) power = pk_port_power_new (entry);
 *
 * pk_port_power_set_state_dir (power, "/run/proxykit");
 * pk_port_power_run_async (power, PK_PORT_POWER_CYCLE, NULL, on_cycled, NULL);
 * ```
 *
 * Since: 0.2
 */

#include "config.h"

#include <unistd.h>

#include "pk-error.h"
#include "pk-port-power.h"
#include "pk-toggle-ladder.h"
#include "pk-toggle-private.h"

struct _PkPortPower
{
  GObject parent_instance;

  PkUsbMapEntry *entry;
  char *state_dir;
  guint off_ms;

  /* the run */
  gboolean running;
  int lock_fd;
  GError *error;          /* why the last run failed */
};

G_DEFINE_FINAL_TYPE (PkPortPower, pk_port_power, G_TYPE_OBJECT)

static const char * const action_names[] = { "on", "off", "cycle" };

/**
 * pk_port_power_action_to_string:
 * @action: a [enum@PortPowerAction]
 *
 * The action's name: `on`, `off` or `cycle`.
 *
 * Returns: the action's name
 *
 * Since: 0.2
 */
const char *
pk_port_power_action_to_string (PkPortPowerAction action)
{
  g_return_val_if_fail (action <= PK_PORT_POWER_CYCLE, NULL);
  return action_names[action];
}

/**
 * pk_port_power_action_from_string:
 * @name: `on`, `off` or `cycle`
 * @out_action: (out): the action
 *
 * Parses an action's name.
 *
 * Returns: %TRUE if @name is an action's name
 *
 * Since: 0.2
 */
gboolean
pk_port_power_action_from_string (const char        *name,
                                  PkPortPowerAction *out_action)
{
  for (guint i = 0; i < G_N_ELEMENTS (action_names); i++)
    if (g_strcmp0 (name, action_names[i]) == 0)
      {
        if (out_action != NULL)
          *out_action = (PkPortPowerAction) i;
        return TRUE;
      }
  return FALSE;
}

static void
pk_port_power_finalize (GObject *object)
{
  PkPortPower *self = PK_PORT_POWER (object);

  g_clear_object (&self->entry);
  g_free (self->state_dir);
  if (self->lock_fd >= 0)
    close (self->lock_fd);
  g_clear_error (&self->error);

  G_OBJECT_CLASS (pk_port_power_parent_class)->finalize (object);
}

static void
pk_port_power_class_init (PkPortPowerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pk_port_power_finalize;
}

static void
pk_port_power_init (PkPortPower *self)
{
  self->off_ms = PK_TOGGLE_POWER_DEFAULT_OFF_MS;
  self->lock_fd = -1;
}

/**
 * pk_port_power_new:
 * @entry: the dongle's row of the [class@UsbMap]
 *
 * Creates a power switch for the hub port of @entry.
 *
 * Returns: (transfer full): a new [class@PortPower]
 *
 * Since: 0.2
 */
PkPortPower *
pk_port_power_new (PkUsbMapEntry *entry)
{
  PkPortPower *self;

  g_return_val_if_fail (PK_IS_USB_MAP_ENTRY (entry), NULL);

  self = g_object_new (PK_TYPE_PORT_POWER, NULL);
  self->entry = g_object_ref (entry);
  return self;
}

/**
 * pk_port_power_get_entry:
 * @self: a [class@PortPower]
 *
 * The dongle's row of the USB map.
 *
 * Returns: (transfer none): the dongle's row of the USB map
 *
 * Since: 0.2
 */
PkUsbMapEntry *
pk_port_power_get_entry (PkPortPower *self)
{
  g_return_val_if_fail (PK_IS_PORT_POWER (self), NULL);
  return self->entry;
}

/**
 * pk_port_power_set_state_dir:
 * @self: a [class@PortPower]
 * @state_dir: (nullable): the directory of the dongles' lock files (the
 *   one given to [method@Toggle.set_state_dir]), or %NULL for no lock
 *
 * Makes each switch hold the dongle's lock, shared with toggles and
 * recoveries.
 *
 * Since: 0.2
 */
void
pk_port_power_set_state_dir (PkPortPower *self,
                             const char  *state_dir)
{
  g_return_if_fail (PK_IS_PORT_POWER (self));
  g_return_if_fail (!self->running);

  g_free (self->state_dir);
  self->state_dir = g_strdup (state_dir);
}

/**
 * pk_port_power_set_off_time:
 * @self: a [class@PortPower]
 * @off_ms: how long a cycle keeps the port off (default
 *   %PK_TOGGLE_POWER_DEFAULT_OFF_MS)
 *
 * Sets the pause of a cycle.
 *
 * Since: 0.2
 */
void
pk_port_power_set_off_time (PkPortPower *self,
                            guint        off_ms)
{
  g_return_if_fail (PK_IS_PORT_POWER (self));
  self->off_ms = off_ms;
}

static void
run_return (GTask  *task,
            GError *error)
{
  PkPortPower *self = g_task_get_source_object (task);

  if (self->lock_fd >= 0)
    {
      close (self->lock_fd);
      self->lock_fd = -1;
    }
  self->running = FALSE;
  g_clear_error (&self->error);
  if (error != NULL)
    self->error = g_error_copy (error);
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static gboolean
port_switch (gpointer   owner,
             gboolean   on,
             GString   *detail,
             GError   **error)
{
  return pk_usb_map_entry_set_power (PK_PORT_POWER (owner)->entry, on, error);
}

static void
on_cycled (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  GError *error = NULL;

  (void) g_task_propagate_boolean (G_TASK (result), &error);
  run_return (user_data, error);
}

/**
 * pk_port_power_run_async:
 * @self: a [class@PortPower]
 * @action: what to do to the port
 * @cancellable: (nullable): a `GCancellable`; cancelling a cycle in its
 *   pause switches the port back on at once
 * @callback: (scope async): called when the switch is done or refused
 * @user_data: data for @callback
 *
 * Switches the port. With a state directory the dongle's lock is taken
 * first; a held lock refuses the switch at once (%PK_ERROR_BUSY, naming
 * the lock file).
 *
 * Since: 0.2
 */
void
pk_port_power_run_async (PkPortPower         *self,
                         PkPortPowerAction    action,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  GTask *task;
  GError *error = NULL;
  guint id;

  g_return_if_fail (PK_IS_PORT_POWER (self));
  g_return_if_fail (action <= PK_PORT_POWER_CYCLE);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_port_power_run_async);
  id = pk_usb_map_entry_get_id (self->entry);

  if (self->running)
    {
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_BUSY, "dongle %u: a power switch is running already", id);
      g_object_unref (task);
      return;
    }
  if (self->state_dir != NULL)
    {
      self->lock_fd = pk_toggle_lock_acquire (self->state_dir, id, &error);
      if (self->lock_fd < 0)
        {
          g_clear_error (&self->error);
          self->error = g_error_copy (error);
          g_task_return_error (task, error);
          g_object_unref (task);
          return;
        }
    }
  self->running = TRUE;

  if (action == PK_PORT_POWER_CYCLE)
    {
      pk_toggle_cycle_start (self, NULL, port_switch, self->off_ms, 0, cancellable, on_cycled, task,
                             pk_port_power_run_async);
      return;
    }
  (void) pk_usb_map_entry_set_power (self->entry, action == PK_PORT_POWER_ON, &error);
  run_return (task, error);
}

/**
 * pk_port_power_run_finish:
 * @self: a [class@PortPower]
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Finishes [method@PortPower.run_async].
 *
 * Returns: %TRUE when the port was switched, %FALSE with @error set
 *   (%PK_ERROR_BUSY: the dongle's lock is held)
 *
 * Since: 0.2
 */
gboolean
pk_port_power_run_finish (PkPortPower   *self,
                          GAsyncResult  *result,
                          GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pk_port_power_run_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * pk_port_power_get_error:
 * @self: a [class@PortPower]
 *
 * Why the last run of @self failed or was refused, for a look after
 * [func@PortPower.run_all_async].
 *
 * Returns: (nullable) (transfer none): the error, or %NULL when the last
 *   run switched the port (or none ran)
 *
 * Since: 0.2
 */
const GError *
pk_port_power_get_error (PkPortPower *self)
{
  g_return_val_if_fail (PK_IS_PORT_POWER (self), NULL);
  return self->error;
}

typedef struct {
  guint pending;
  GError *worst;
} RunAll;

static void
run_all_free (RunAll *all)
{
  g_clear_error (&all->worst);
  g_free (all);
}

static void
on_one_run (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  GTask *task = user_data;
  RunAll *all = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  /* a refusal (a held lock) wins over a failure, the first of each */
  if (!pk_port_power_run_finish (PK_PORT_POWER (source), result, &error) &&
      (all->worst == NULL ||
       (g_error_matches (error, PK_ERROR, PK_ERROR_BUSY) && !g_error_matches (all->worst, PK_ERROR, PK_ERROR_BUSY))))
    {
      g_clear_error (&all->worst);
      all->worst = g_steal_pointer (&error);
    }
  if (--all->pending == 0)
    {
      if (all->worst != NULL)
        g_task_return_error (task, g_error_copy (all->worst));
      else
        g_task_return_boolean (task, TRUE);
    }
  g_object_unref (task);
}

/**
 * pk_port_power_run_all_async:
 * @powers: (array length=n_powers): the switches, one per dongle
 * @n_powers: how many
 * @action: what to do to every port
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when every switch is done or refused
 * @user_data: data for @callback
 *
 * What `pk-toggle --power` does: runs @action on every port at once, each
 * under its dongle's lock ([method@PortPower.run_async]), so that a cycle
 * of many ports pauses once. Each switch's outcome is then
 * [method@PortPower.get_error].
 *
 * Since: 0.2
 */
void
pk_port_power_run_all_async (PkPortPower         **powers,
                             guint                 n_powers,
                             PkPortPowerAction     action,
                             GCancellable         *cancellable,
                             GAsyncReadyCallback   callback,
                             gpointer              user_data)
{
  GTask *task;
  RunAll *all;

  g_return_if_fail (powers != NULL || n_powers == 0);
  g_return_if_fail (action <= PK_PORT_POWER_CYCLE);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_port_power_run_all_async);
  all = g_new0 (RunAll, 1);
  all->pending = n_powers;
  g_task_set_task_data (task, all, (GDestroyNotify) run_all_free);
  if (n_powers == 0)
    g_task_return_boolean (task, TRUE);
  for (guint i = 0; i < n_powers; i++)
    pk_port_power_run_async (powers[i], action, cancellable, on_one_run, g_object_ref (task));
  g_object_unref (task);
}

/**
 * pk_port_power_run_all_finish:
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Finishes [func@PortPower.run_all_async].
 *
 * Returns: %TRUE when every port was switched, %FALSE with @error set to
 *   the first refusal (%PK_ERROR_BUSY) if there was one, else the first
 *   failure
 *
 * Since: 0.2
 */
gboolean
pk_port_power_run_all_finish (GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pk_port_power_run_all_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
