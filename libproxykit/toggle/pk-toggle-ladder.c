/* pk-toggle-ladder.c: the rungs past the modem: routing, USB rebind, port and hub power
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkToggleRoutingStep:
 *
 * The [iface@ToggleStep] that repairs a dongle's policy routing with
 * [method@Routing.repair_async]. It is the first rung of the ladder: a
 * [class@Toggle] with a routing ([method@Toggle.set_routing]) starts here
 * when its diagnosis finds the routing wrong.
 *
 * The ladder, in the order a toggle climbs it (see
 * `pk_toggle_ladder_get_stages()`): `routing`, `modem`
 * ([class@ToggleModemStep]), `usb` ([class@ToggleUsbStep]), `power` and
 * `hub` ([class@TogglePowerStep]).
 *
 * ```c
 * g_autoptr(PkRouting) routing = pk_routing_new (dongle);
 * g_autoptr(PkToggleRoutingStep) r = pk_toggle_routing_step_new (routing);
 * g_autoptr(PkToggleUsbStep) usb = pk_toggle_usb_step_new (dongle);
 *
 * pk_toggle_set_routing (toggle, routing);
 * pk_toggle_add_step (toggle, PK_TOGGLE_STEP (r));
 * pk_toggle_add_step (toggle, PK_TOGGLE_STEP (modem_step));
 * pk_toggle_add_step (toggle, PK_TOGGLE_STEP (usb));
 * pk_toggle_run_async (toggle, PK_ROTATION_METHOD_DATA, TRUE, NULL, on_recovered, NULL);
 * ```
 *
 * Since: 0.2
 */

#include "config.h"

#include "pk-dongle-private.h"
#include "pk-error.h"
#include "pk-netif-private.h"
#include "pk-toggle-ladder.h"
#include "pk-toggle-private.h"
#include "pk-usb-map.h"
#include "pk-util-private.h"

#define POLL_MS 200

/**
 * pk_toggle_ladder_get_stages:
 *
 * The names of the ladder's rungs, lowest first: `routing`, `modem`,
 * `usb`, `power`, `hub`.
 *
 * Returns: (transfer none) (array zero-terminated=1): the rungs' names
 *
 * Since: 0.2
 */
const char * const *
pk_toggle_ladder_get_stages (void)
{
  static const char * const stages[] = { "routing", "modem", "usb", "power", "hub", NULL };
  return stages;
}

/* --- PkToggleRoutingStep --- */

struct _PkToggleRoutingStep
{
  GObject parent_instance;

  PkRouting *routing;
};

static void pk_toggle_routing_step_iface_init (PkToggleStepInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PkToggleRoutingStep, pk_toggle_routing_step, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (PK_TYPE_TOGGLE_STEP, pk_toggle_routing_step_iface_init))

static void
pk_toggle_routing_step_finalize (GObject *object)
{
  g_clear_object (&PK_TOGGLE_ROUTING_STEP (object)->routing);
  G_OBJECT_CLASS (pk_toggle_routing_step_parent_class)->finalize (object);
}

static void
pk_toggle_routing_step_class_init (PkToggleRoutingStepClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pk_toggle_routing_step_finalize;
}

static void
pk_toggle_routing_step_init (PkToggleRoutingStep *self)
{
}

/**
 * pk_toggle_routing_step_new:
 * @routing: the dongle's routing
 *
 * Creates the rung that repairs @routing.
 *
 * Returns: (transfer full): a new [class@ToggleRoutingStep]
 *
 * Since: 0.2
 */
PkToggleRoutingStep *
pk_toggle_routing_step_new (PkRouting *routing)
{
  PkToggleRoutingStep *self;

  g_return_val_if_fail (PK_IS_ROUTING (routing), NULL);

  self = g_object_new (PK_TYPE_TOGGLE_ROUTING_STEP, NULL);
  self->routing = g_object_ref (routing);
  return self;
}

static const char *
routing_step_get_name (PkToggleStep *step)
{
  return "routing";
}

static void
routing_step_repaired (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(PkRoutingDiagnosis) diagnosis = NULL;
  GError *error = NULL;

  diagnosis = pk_routing_repair_finish (PK_ROUTING (source), result, &error);
  if (diagnosis == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_set_task_data (task, pk_routing_diagnosis_to_string (diagnosis), g_free);
  if (!pk_routing_diagnosis_get_healthy (diagnosis))
    g_task_return_new_error (task, PK_ERROR, PK_ERROR_STATE, "dongle %u: the routing is still wrong",
                             pk_routing_diagnosis_get_id (diagnosis));
  else
    g_task_return_boolean (task, TRUE);
}

static void
routing_step_run_async (PkToggleStep        *step,
                        PkToggle            *toggle,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  PkToggleRoutingStep *self = PK_TOGGLE_ROUTING_STEP (step);
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, routing_step_run_async);
  pk_routing_repair_async (self->routing, cancellable, routing_step_repaired, task);
}

/* The rungs' GTasks hold their detail (a string) as task data. */
static gboolean
detail_task_finish (PkToggleStep         *step,
                    GAsyncResult         *result,
                    PkToggleStepOutcome **out_outcome,
                    GError              **error)
{
  g_return_val_if_fail (g_task_is_valid (result, step), FALSE);

  if (out_outcome != NULL)
    *out_outcome = pk_toggle_step_outcome_new (pk_toggle_step_get_name (step), 0, FALSE,
                                               g_task_get_task_data (G_TASK (result)));
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
pk_toggle_routing_step_iface_init (PkToggleStepInterface *iface)
{
  iface->get_name = routing_step_get_name;
  iface->run_async = routing_step_run_async;
  iface->run_finish = detail_task_finish;
}

/* --- a cycle: off, a pause, on, then wait for the interface --- */

typedef struct {
  gpointer step;
  PkDongle *dongle;
  PkToggleCycleSwitch do_switch;
  guint off_ms;
  guint wait_ms;
  gint64 on_at;
  GSource *source;
  gulong cancel_id;
  GString *detail;
} Cycle;

static void
cycle_free (Cycle *c)
{
  pk_source_clear (&c->source);
  g_clear_object (&c->dongle);
  g_string_free (c->detail, TRUE);
  g_free (c);
}

static gboolean cycle_poll (gpointer user_data);

static void
cycle_return (GTask  *task,
              GError *error)
{
  Cycle *c = g_task_get_task_data (task);

  pk_source_clear (&c->source);
  if (c->cancel_id != 0)
    g_cancellable_disconnect (g_task_get_cancellable (task), c->cancel_id);
  c->cancel_id = 0;
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static gboolean
cycle_switch_on (gpointer user_data)
{
  GTask *task = user_data;
  Cycle *c = g_task_get_task_data (task);
  GError *error = NULL;

  pk_source_clear (&c->source);
  if (!c->do_switch (c->step, TRUE, c->detail, &error))
    {
      cycle_return (task, error);
      return G_SOURCE_REMOVE;
    }
  c->on_at = g_get_monotonic_time ();
  /* Nothing to wait for: the switch is all. */
  if (c->dongle == NULL)
    {
      cycle_return (task, NULL);
      return G_SOURCE_REMOVE;
    }
  c->source = pk_timeout_source_attach (g_task_get_context (task), POLL_MS, cycle_poll, task);
  return G_SOURCE_REMOVE;
}

static gboolean
cycle_poll (gpointer user_data)
{
  GTask *task = user_data;
  Cycle *c = g_task_get_task_data (task);
  const char *ifname = pk_dongle_get_interface (c->dongle);
  g_autofree char *ipv4 = NULL;
  g_autofree char *reason = NULL;
  gint64 waited = (g_get_monotonic_time () - c->on_at) / 1000;

  if (ifname != NULL && pk_netif_is_up (ifname, &ipv4, &reason))
    {
      g_string_append_printf (c->detail, "; %s back with %s after %" G_GINT64_FORMAT " ms",
                              ifname, ipv4, waited);
      cycle_return (task, NULL);
      return G_SOURCE_REMOVE;
    }
  if (waited >= c->wait_ms)
    {
      cycle_return (task, g_error_new (PK_ERROR, PK_ERROR_CHECK_FAILED,
                                       "dongle %u: %s did not come back with an address within %u ms%s%s",
                                       pk_dongle_get_id (c->dongle), ifname ? ifname : "its interface",
                                       c->wait_ms, reason ? ": " : "", reason ? reason : ""));
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
cycle_on_cancel_idle (gpointer user_data)
{
  GTask *task = user_data;
  Cycle *c = g_task_get_task_data (task);

  if (c->source == NULL)
    return G_SOURCE_REMOVE;
  cycle_return (task, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled"));
  return G_SOURCE_REMOVE;
}

static void
cycle_cancelled (GCancellable *cancellable,
                 gpointer      user_data)
{
  GTask *task = user_data;
  Cycle *c = g_task_get_task_data (task);

  /* Never leave the device switched off. */
  if (c->on_at == 0)
    {
      g_autoptr(GError) error = NULL;
      if (!c->do_switch (c->step, TRUE, c->detail, &error))
        g_warning ("%s", error->message);
      c->on_at = g_get_monotonic_time ();
    }
  /* Later, on the task's context: the cancel may come from another
   * thread, and the handler may not disconnect itself. */
  {
    GSource *idle = g_idle_source_new ();

    g_source_set_callback (idle, cycle_on_cancel_idle, g_object_ref (task), g_object_unref);
    g_source_attach (idle, g_task_get_context (task));
    g_source_unref (idle);
  }
}

void
pk_toggle_cycle_start (gpointer             step,
                       PkDongle            *dongle,
                       PkToggleCycleSwitch  do_switch,
                       guint                off_ms,
                       guint                wait_ms,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data,
                       gpointer             source_tag)
{
  GTask *task = g_task_new (step, cancellable, callback, user_data);
  Cycle *c = g_new0 (Cycle, 1);
  GError *error = NULL;

  g_task_set_source_tag (task, source_tag);
  c->step = step;
  c->dongle = dongle ? g_object_ref (dongle) : NULL;
  c->do_switch = do_switch;
  c->off_ms = off_ms;
  c->wait_ms = wait_ms;
  c->detail = g_string_new (NULL);
  g_task_set_task_data (task, c, (GDestroyNotify) cycle_free);

  if (!do_switch (step, FALSE, c->detail, &error))
    {
      /* Whatever was switched off goes back on. */
      g_autoptr(GError) ignored = NULL;
      (void) do_switch (step, TRUE, c->detail, &ignored);
      cycle_return (task, error);
      return;
    }
  c->source = pk_timeout_source_attach (g_task_get_context (task), off_ms, cycle_switch_on, task);
  if (cancellable != NULL)
    c->cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (cycle_cancelled), task, NULL);
}

static gboolean
cycle_finish (PkToggleStep         *step,
              GAsyncResult         *result,
              PkToggleStepOutcome **out_outcome,
              GError              **error)
{
  Cycle *c;

  g_return_val_if_fail (g_task_is_valid (result, step), FALSE);

  c = g_task_get_task_data (G_TASK (result));
  if (out_outcome != NULL)
    *out_outcome = pk_toggle_step_outcome_new (pk_toggle_step_get_name (step), 0, FALSE,
                                               c->detail->len > 0 ? c->detail->str : NULL);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* --- PkToggleUsbStep --- */

/**
 * PkToggleUsbStep:
 *
 * The [iface@ToggleStep] that rebinds a dongle on USB: it writes 0, then
 * 1, to the `authorized` attribute of its USB device, which unbinds every
 * driver from it and binds them again, then waits for the interface to
 * come back with an address (15 s by default). The rung for a dongle
 * whose interface went missing or whose modem stopped answering.
 *
 * Since: 0.2
 */
struct _PkToggleUsbStep
{
  GObject parent_instance;

  PkDongle *dongle;
  guint off_ms;
  guint wait_ms;
};

static void pk_toggle_usb_step_iface_init (PkToggleStepInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PkToggleUsbStep, pk_toggle_usb_step, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (PK_TYPE_TOGGLE_STEP, pk_toggle_usb_step_iface_init))

static void
pk_toggle_usb_step_finalize (GObject *object)
{
  g_clear_object (&PK_TOGGLE_USB_STEP (object)->dongle);
  G_OBJECT_CLASS (pk_toggle_usb_step_parent_class)->finalize (object);
}

static void
pk_toggle_usb_step_class_init (PkToggleUsbStepClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pk_toggle_usb_step_finalize;
}

static void
pk_toggle_usb_step_init (PkToggleUsbStep *self)
{
  self->off_ms = 1000;
  self->wait_ms = PK_TOGGLE_USB_DEFAULT_WAIT_MS;
}

/**
 * pk_toggle_usb_step_new:
 * @dongle: the dongle, kept up to date by a [class@DongleMonitor]
 *
 * Creates the USB rebind rung for @dongle.
 *
 * Returns: (transfer full): a new [class@ToggleUsbStep]
 *
 * Since: 0.2
 */
PkToggleUsbStep *
pk_toggle_usb_step_new (PkDongle *dongle)
{
  PkToggleUsbStep *self;

  g_return_val_if_fail (PK_IS_DONGLE (dongle), NULL);

  self = g_object_new (PK_TYPE_TOGGLE_USB_STEP, NULL);
  self->dongle = g_object_ref (dongle);
  return self;
}

/**
 * pk_toggle_usb_step_set_timing:
 * @self: a [class@ToggleUsbStep]
 * @off_ms: the pause between unbind and bind (default 1 s)
 * @wait_ms: how long to wait for the interface and its address
 *   (default %PK_TOGGLE_USB_DEFAULT_WAIT_MS)
 *
 * Sets the rung's timing.
 *
 * Since: 0.2
 */
void
pk_toggle_usb_step_set_timing (PkToggleUsbStep *self,
                               guint            off_ms,
                               guint            wait_ms)
{
  g_return_if_fail (PK_IS_TOGGLE_USB_STEP (self));

  self->off_ms = off_ms;
  self->wait_ms = wait_ms;
}

static const char *
usb_step_get_name (PkToggleStep *step)
{
  return "usb";
}

static gboolean
usb_step_switch (gpointer   step,
                 gboolean   on,
                 GString   *detail,
                 GError   **error)
{
  PkToggleUsbStep *self = step;
  const char *sysfs = pk_dongle_get_sysfs_path (self->dongle);
  const char *usb_path = pk_dongle_get_usb_path (self->dongle);
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;

  if (sysfs != NULL)
    dir = g_strdup (sysfs);
  else if (usb_path != NULL)
    dir = g_build_filename ("/sys/bus/usb/devices", usb_path, NULL);
  else
    {
      g_set_error (error, PK_ERROR, PK_ERROR_NOT_SUPPORTED,
                   "dongle %u: no USB device known to rebind (not on USB, or never discovered)",
                   pk_dongle_get_id (self->dongle));
      return FALSE;
    }
  path = g_build_filename (dir, "authorized", NULL);
  if (!pk_sysfs_write (path, on ? "1" : "0", error))
    {
      g_prefix_error (error, "dongle %u: ", pk_dongle_get_id (self->dongle));
      return FALSE;
    }
  g_string_append_printf (detail, "%s%s %s", detail->len ? "; " : "", path, on ? "1" : "0");
  return TRUE;
}

static void
usb_step_run_async (PkToggleStep        *step,
                    PkToggle            *toggle,
                    GCancellable        *cancellable,
                    GAsyncReadyCallback  callback,
                    gpointer             user_data)
{
  PkToggleUsbStep *self = PK_TOGGLE_USB_STEP (step);

  pk_toggle_cycle_start (self, self->dongle, usb_step_switch, self->off_ms, self->wait_ms,
               cancellable, callback, user_data, usb_step_run_async);
}

static void
pk_toggle_usb_step_iface_init (PkToggleStepInterface *iface)
{
  iface->get_name = usb_step_get_name;
  iface->run_async = usb_step_run_async;
  iface->run_finish = cycle_finish;
}

/* --- PkTogglePowerStep --- */

/**
 * PkTogglePowerStep:
 *
 * The [iface@ToggleStep] that cycles the power of a dongle's hub port
 * (`power`) or of every port of its hub (`hub`, for when several dongles
 * on one hub are down) through the ports' `disable` attribute (Linux 6.0
 * and later, see [method@UsbMapEntry.set_power]): off for 5 s, on, then it
 * waits up to 60 s for the interface and its address.
 *
 * Since: 0.2
 */
struct _PkTogglePowerStep
{
  GObject parent_instance;

  PkDongle *dongle;
  gboolean whole_hub;
  guint off_ms;
  guint wait_ms;
};

static void pk_toggle_power_step_iface_init (PkToggleStepInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PkTogglePowerStep, pk_toggle_power_step, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (PK_TYPE_TOGGLE_STEP, pk_toggle_power_step_iface_init))

static void
pk_toggle_power_step_finalize (GObject *object)
{
  g_clear_object (&PK_TOGGLE_POWER_STEP (object)->dongle);
  G_OBJECT_CLASS (pk_toggle_power_step_parent_class)->finalize (object);
}

static void
pk_toggle_power_step_class_init (PkTogglePowerStepClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pk_toggle_power_step_finalize;
}

static void
pk_toggle_power_step_init (PkTogglePowerStep *self)
{
  self->off_ms = PK_TOGGLE_POWER_DEFAULT_OFF_MS;
  self->wait_ms = PK_TOGGLE_POWER_DEFAULT_WAIT_MS;
}

/**
 * pk_toggle_power_step_new:
 * @dongle: the dongle, kept up to date by a [class@DongleMonitor]
 * @whole_hub: %TRUE to cycle every port of the dongle's hub (the `hub`
 *   rung), %FALSE for the dongle's own port (`power`)
 *
 * Creates a power cycle rung for @dongle.
 *
 * Returns: (transfer full): a new [class@TogglePowerStep]
 *
 * Since: 0.2
 */
PkTogglePowerStep *
pk_toggle_power_step_new (PkDongle *dongle,
                          gboolean  whole_hub)
{
  PkTogglePowerStep *self;

  g_return_val_if_fail (PK_IS_DONGLE (dongle), NULL);

  self = g_object_new (PK_TYPE_TOGGLE_POWER_STEP, NULL);
  self->dongle = g_object_ref (dongle);
  self->whole_hub = whole_hub;
  return self;
}

/**
 * pk_toggle_power_step_set_timing:
 * @self: a [class@TogglePowerStep]
 * @off_ms: how long the port stays off (default
 *   %PK_TOGGLE_POWER_DEFAULT_OFF_MS)
 * @wait_ms: how long to wait for the interface and its address (default
 *   %PK_TOGGLE_POWER_DEFAULT_WAIT_MS)
 *
 * Sets the rung's timing.
 *
 * Since: 0.2
 */
void
pk_toggle_power_step_set_timing (PkTogglePowerStep *self,
                                 guint              off_ms,
                                 guint              wait_ms)
{
  g_return_if_fail (PK_IS_TOGGLE_POWER_STEP (self));

  self->off_ms = off_ms;
  self->wait_ms = wait_ms;
}

static const char *
power_step_get_name (PkToggleStep *step)
{
  return PK_TOGGLE_POWER_STEP (step)->whole_hub ? "hub" : "power";
}

/* The hub's number of ports, from its maxchild attribute. */
static guint
hub_n_ports (const char *hub)
{
  g_autofree char *path = g_strdup_printf ("/sys/bus/usb/devices/%s/maxchild", hub);
  g_autofree char *text = NULL;
  guint64 n = 0;

  if (!g_file_get_contents (path, &text, NULL, NULL) ||
      !g_ascii_string_to_unsigned (g_strstrip (text), 10, 1, 255, &n, NULL))
    return 0;
  return (guint) n;
}

static gboolean
power_step_switch (gpointer   step,
                   gboolean   on,
                   GString   *detail,
                   GError   **error)
{
  PkTogglePowerStep *self = step;
  const char *hub = pk_dongle_get_hub_path (self->dongle);
  guint port = pk_dongle_get_hub_port (self->dongle);
  guint first = port, last = port;
  gboolean ok = TRUE;

  if (hub == NULL || port == 0)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_NOT_SUPPORTED,
                   "dongle %u: its hub port is not known (never discovered on USB)", pk_dongle_get_id (self->dongle));
      return FALSE;
    }
  if (self->whole_hub)
    {
      first = 1;
      last = hub_n_ports (hub);
      if (last == 0)
        {
          g_set_error (error, PK_ERROR, PK_ERROR_NOT_SUPPORTED,
                       "dongle %u: cannot read the number of ports of hub %s", pk_dongle_get_id (self->dongle), hub);
          return FALSE;
        }
    }
  for (guint p = first; p <= last; p++)
    {
      g_autoptr(PkUsbMapEntry) entry = pk_usb_map_entry_new (pk_dongle_get_id (self->dongle), hub, p);
      g_autoptr(GError) local_error = NULL;

      /* Switching on goes on past a failure, so that no port stays off. */
      if (!pk_usb_map_entry_set_power (entry, on, &local_error))
        {
          if (ok)
            g_propagate_error (error, g_steal_pointer (&local_error));
          ok = FALSE;
          if (!on)
            break;
        }
    }
  if (ok)
    g_string_append_printf (detail, "%shub %s port%s %u%s%.0u %s", detail->len ? "; " : "", hub,
                            first != last ? "s" : "", first, first != last ? "-" : "",
                            first != last ? last : 0, on ? "on" : "off");
  return ok;
}

static void
power_step_run_async (PkToggleStep        *step,
                      PkToggle            *toggle,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  PkTogglePowerStep *self = PK_TOGGLE_POWER_STEP (step);

  pk_toggle_cycle_start (self, self->dongle, power_step_switch, self->off_ms, self->wait_ms,
               cancellable, callback, user_data, power_step_run_async);
}

static void
pk_toggle_power_step_iface_init (PkToggleStepInterface *iface)
{
  iface->get_name = power_step_get_name;
  iface->run_async = power_step_run_async;
  iface->run_finish = cycle_finish;
}
