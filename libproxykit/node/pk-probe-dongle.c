/* pk-probe-dongle.c: the diagnosis of a dongle as a PkProbe
 *
 * The same questions the ladder's diagnosis asks (PkToggle): is the
 * interface there, does it hold its address, is the routing right
 * (PkRouting), does the API answer, is the modem connected with a WAN
 * IP. The first "no" is the probe's reason, so that a state file says
 * what is wrong.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "pk-error.h"
#include "pk-netif-private.h"
#include "pk-probe-private.h"

typedef struct {
  PkDongle *dongle;
  PkModem *modem;
} DongleRun;

static void
dongle_run_free (DongleRun *run)
{
  g_clear_object (&run->dongle);
  g_clear_object (&run->modem);
  g_free (run);
}

static GError *
check_failed (const char *format,
              ...) G_GNUC_PRINTF (1, 2);

static GError *
check_failed (const char *format,
              ...)
{
  va_list args;
  GError *error;

  va_start (args, format);
  error = g_error_new_valist (PK_ERROR, PK_ERROR_CHECK_FAILED, format, args);
  va_end (args);
  return error;
}

static void
modem_answered (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  GTask *task = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *wan_ip = NULL;
  PkModemState state = PK_MODEM_STATE_UNKNOWN;

  if (!pk_modem_get_status_finish (PK_MODEM (source), result, &state, &wan_ip, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_prefix_error (&error, "API: ");
      pk_probe_run_return (task, g_steal_pointer (&error));
    }
  else if (state != PK_MODEM_STATE_CONNECTED)
    pk_probe_run_return (task, check_failed ("modem %s", pk_modem_state_to_string (state)));
  else if (wan_ip == NULL || *wan_ip == '\0')
    pk_probe_run_return (task, check_failed ("modem connected without a WAN IP"));
  else
    pk_probe_run_return (task, NULL);
}

/* The link side passed: the modem's turn, if there is one. */
static void
ask_modem (GTask *task)
{
  PkProbeRun *data = g_task_get_task_data (task);
  DongleRun *run = data->kind_data;

  if (run->modem == NULL)
    pk_probe_run_return (task, NULL);
  else
    pk_modem_get_status_async (run->modem, data->inner, modem_answered, task);
}

static void
routing_diagnosed (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  GTask *task = user_data;
  PkProbeRun *data = g_task_get_task_data (task);
  DongleRun *run = data->kind_data;
  GError *error = NULL;
  g_autoptr(PkRoutingDiagnosis) d = pk_routing_diagnose_finish (PK_ROUTING (source), result, &error);
  const char *iface = pk_dongle_get_interface (run->dongle);
  const char *address = pk_dongle_get_host_address (run->dongle);

  if (d == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_prefix_error (&error, "routing: ");
      pk_probe_run_return (task, error);
    }
  else if (!pk_routing_diagnosis_get_interface_present (d))
    pk_probe_run_return (task, check_failed ("interface %s is missing", iface ? iface : "(none)"));
  else if (!pk_routing_diagnosis_get_address_present (d))
    pk_probe_run_return (task, check_failed ("interface %s does not hold %s", iface ? iface : "(none)",
                                             address ? address : "its address"));
  else if (!pk_routing_diagnosis_get_healthy (d))
    {
      const char * const *problems = pk_routing_diagnosis_get_problems (d);
      pk_probe_run_return (task, check_failed ("routing: %s", problems && problems[0] ? problems[0] : "wrong"));
    }
  else
    ask_modem (task);
}

void
pk_probe_dongle_run (GTask     *task,
                     PkDongle  *dongle,
                     PkRouting *routing,
                     PkModem   *modem)
{
  PkProbeRun *data = g_task_get_task_data (task);
  DongleRun *run = g_new0 (DongleRun, 1);
  const char *iface = pk_dongle_get_interface (dongle);
  const char *address = pk_dongle_get_host_address (dongle);
  g_autofree char *ipv4 = NULL;
  g_autofree char *reason = NULL;

  run->dongle = g_object_ref (dongle);
  run->modem = modem ? g_object_ref (modem) : NULL;
  data->kind_data = run;
  data->kind_data_free = (GDestroyNotify) dongle_run_free;

  if (routing != NULL)
    {
      pk_routing_diagnose_async (routing, data->inner, routing_diagnosed, task);
      return;
    }
  /* Routing is not ours to check ([dongles] routing = off): the link. */
  if (iface == NULL)
    pk_probe_run_return (task, check_failed ("no network interface (is it on USB, in HiLink mode?)"));
  else if (!pk_netif_is_up (iface, &ipv4, &reason))
    pk_probe_run_return (task, check_failed ("interface %s: %s", iface, reason));
  else if (address != NULL && g_strcmp0 (ipv4, address) != 0)
    pk_probe_run_return (task, check_failed ("interface %s does not hold %s", iface, address));
  else
    ask_modem (task);
}
