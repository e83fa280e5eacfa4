/* pk-toggle-dongles.c: pk-toggle's dongle side (--discover, --routing, --status columns)
 *
 * Discovery, the USB map and routing are PkDongleMonitor, PkUsbMap and
 * PkRouting; this file parses the flags and prints.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <stdio.h>

#include "pk-toggle-dongles.h"

static gboolean opt_discover;
static gboolean opt_routing;
static char **opt_import_map;
static char *opt_max_stage;
static char *opt_stage;
static gboolean opt_recover;
static gboolean opt_rebind;
static char *opt_power;
static gboolean opt_power_status;
static gboolean opt_allow_controller_reset;

const GOptionEntry pk_toggle_dongles_entries[] = {
  { "discover", 0, 0, G_OPTION_ARG_NONE, &opt_discover, "List the dongles on USB (number, mode, interface, hub and port) and record them in the USB map", NULL },
  { "routing", 0, 0, G_OPTION_ARG_NONE, &opt_routing, "Diagnose and repair the policy routing of dongle N (or --all): table N, rule, metric", NULL },
  { "import-map", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &opt_import_map, "With --discover: take the older tools' usb_mapping.json or dongle_config.json into the USB map (repeatable)", "FILE" },
  { "max-stage", 0, 0, G_OPTION_ARG_STRING, &opt_max_stage, "How far a toggle may climb: routing, modem, usb, power or hub (default modem)", "STAGE" },
  { "recover", 0, 0, G_OPTION_ARG_NONE, &opt_recover, "Bring dongle N back: climb up to the hub, and a healthy dongle counts, new IP or not", NULL },
  { "stage", 0, 0, G_OPTION_ARG_STRING, &opt_stage, "Run one rung only: routing, modem, usb, power or hub", "STAGE" },
  { "rebind", 0, 0, G_OPTION_ARG_NONE, &opt_rebind, "Rebind dongle N on USB (authorized 0/1) and wait for its interface", NULL },
  { "power", 0, 0, G_OPTION_ARG_STRING, &opt_power, "Switch the hub port of dongle N (or --all) on, off, or cycle it, under the dongle's lock (refused, exit 3, while a toggle or recovery of it runs); works for a dongle that has gone, through the USB map", "on|off|cycle" },
  { "power-status", 0, 0, G_OPTION_ARG_NONE, &opt_power_status, "Show the power of every dongle's hub port, from the USB map", NULL },
  { "allow-controller-reset", 0, 0, G_OPTION_ARG_NONE, &opt_allow_controller_reset, "With --recover: when 70 % or more of the dongles fail, reset their USB controller once first (unbind/bind of its xhci_hcd device, at most once per 10 min on the host)", NULL },
  { NULL }
};

static void
print_json_text (const char *text)
{
  printf ("%s\n", text);
  fflush (stdout);
}

static PkDongleMonitor *
make_monitor (PkConfig *config)
{
  g_autoptr(GError) error = NULL;
  PkDongleMonitor *monitor = pk_dongle_monitor_new_from_config (config, &error);

  if (monitor == NULL)
    pk_cli_usage_error ("%s", error->message);
  return monitor;
}

static gboolean
stage_known (const char *name)
{
  return name != NULL && g_strv_contains (pk_toggle_ladder_get_stages (), name);
}

gboolean
pk_toggle_dongles_mode (void)
{
  int modes = (opt_discover ? 1 : 0) + (opt_routing ? 1 : 0) + (opt_power != NULL ? 1 : 0) +
              (opt_power_status ? 1 : 0);

  if (opt_import_map != NULL && !opt_discover)
    pk_cli_usage_error ("--import-map goes with --discover");
  if (modes > 1)
    pk_cli_usage_error ("--discover, --routing, --power and --power-status exclude each other");
  if (opt_power != NULL && !g_str_equal (opt_power, "on") && !g_str_equal (opt_power, "off") &&
      !g_str_equal (opt_power, "cycle"))
    pk_cli_usage_error ("--power '%s': expected on, off or cycle", opt_power);
  if (opt_max_stage != NULL && !stage_known (opt_max_stage))
    pk_cli_usage_error ("--max-stage '%s': expected routing, modem, usb, power or hub", opt_max_stage);
  if (opt_stage != NULL && !stage_known (opt_stage))
    pk_cli_usage_error ("--stage '%s': expected routing, modem, usb, power or hub", opt_stage);
  if ((opt_stage != NULL) + (opt_rebind ? 1 : 0) + (opt_recover ? 1 : 0) > 1)
    pk_cli_usage_error ("--stage, --rebind and --recover exclude each other");
  if (opt_max_stage != NULL && (opt_stage != NULL || opt_rebind))
    pk_cli_usage_error ("--max-stage goes with a toggle or --recover, not with --stage or --rebind");
  if (opt_allow_controller_reset && !opt_recover)
    pk_cli_usage_error ("--allow-controller-reset goes with --recover");
  return modes > 0;
}

gboolean
pk_toggle_dongles_recovery (void)
{
  /* A rung past the modem does not change the IP: the dongle back is
   * what counts. */
  return opt_recover || opt_rebind || (opt_stage != NULL && !g_str_equal (opt_stage, "modem"));
}

/* --- the ladder --- */

void
pk_toggle_dongles_override (PkConfig *config)
{
  if (opt_max_stage != NULL)
    pk_config_set_override (config, "toggle", "max_stage", opt_max_stage, "--max-stage");
  if (opt_allow_controller_reset)
    pk_config_set_override (config, "toggle", "allow-controller-reset", "true", "--allow-controller-reset");
}

void
pk_toggle_dongles_stages (PkToggleService *service)
{
  /* Every rung, up to the hub, is there for recoveries (pk-toggle
   * --recover, /recover/N); a plain toggle stops at the max stage. */
  if (opt_rebind)
    pk_toggle_service_set_stages (service, "usb", "usb");
  else if (opt_stage != NULL)
    pk_toggle_service_set_stages (service, opt_stage, opt_stage);
}

/* --- --power, --power-status, --discover, --routing --- */

/* The positional dongle numbers (NULL, none, for every dongle), each in
 * the USB map or, @on_usb, found by the scan; a dongle that is not is
 * named as it was typed, before anything runs. */
static guint *
parse_ids (PkDongleMonitor  *monitor,
           char            **ids,
           gboolean          on_usb,
           gsize            *n_ids)
{
  guint *out = g_new0 (guint, ids ? g_strv_length (ids) + 1 : 1);

  *n_ids = 0;
  for (guint i = 0; ids != NULL && ids[i] != NULL; i++)
    {
      guint64 id;

      if (!g_ascii_string_to_unsigned (ids[i], 10, 1, 255, &id, NULL))
        pk_cli_usage_error ("'%s' is not a dongle number (1-255)", ids[i]);
      if (on_usb && pk_dongle_monitor_get_dongle (monitor, (guint) id) == NULL)
        pk_cli_die (PK_CLI_EXIT_FAILURE, "dongle %s is not on USB, or has no number yet "
                    "(no 192.168.%s.x address, no [dongle:%s] naming it): see pk-toggle --discover",
                    ids[i], ids[i], ids[i]);
      if (!on_usb && pk_usb_map_lookup (pk_dongle_monitor_get_usb_map (monitor), (guint) id) == NULL)
        pk_cli_die (PK_CLI_EXIT_FAILURE, "dongle %s is not in the USB map: see pk-toggle --discover", ids[i]);
      out[(*n_ids)++] = (guint) id;
    }
  return out;
}

static int
run_power (PkConfig   *config,
           const char *lock_dir,
           char      **ids,
           gboolean    all,
           gboolean    json,
           guint       off_ms)
{
  g_autoptr(PkDongleMonitor) monitor = make_monitor (config);
  g_autoptr(GPtrArray) entries = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree guint *numbers = NULL;
  g_autofree char *text = NULL;
  g_autoptr(JsonNode) root = NULL;
  JsonArray *out;
  gsize n_ids;
  int status = PK_CLI_EXIT_OK;
  PkPortPowerAction action = PK_PORT_POWER_ON;

  if (opt_power != NULL && ids == NULL && !all)
    pk_cli_usage_error ("--power: name a dongle (pk-toggle --power cycle 11) or use --all");
  pk_dongle_monitor_scan (monitor);
  numbers = parse_ids (monitor, ids, FALSE, &n_ids);
  entries = pk_dongle_monitor_lookup_usb_map_entries (monitor, numbers, n_ids, &error);
  if (entries == NULL)
    pk_cli_die (PK_CLI_EXIT_FAILURE, "%s", error->message);

  if (opt_power != NULL && pk_port_power_action_from_string (opt_power, &action) && entries->len > 0)
    {
      g_autoptr(GPtrArray) switches = g_ptr_array_new_with_free_func (g_object_unref);
      g_autoptr(GAsyncResult) result = NULL;

      for (guint i = 0; i < entries->len; i++)
        {
          PkPortPower *power = pk_port_power_new (g_ptr_array_index (entries, i));

          pk_port_power_set_state_dir (power, lock_dir);
          pk_port_power_set_off_time (power, off_ms);
          g_ptr_array_add (switches, power);
        }
      pk_port_power_run_all_async ((PkPortPower **) switches->pdata, switches->len, action, NULL, pk_cli_store_result,
                                   &result);
      if (!pk_port_power_run_all_finish (pk_cli_wait_result (&result), &error))
        /* a held lock is a refusal (3), as for a toggle */
        status = g_error_matches (error, PK_ERROR, PK_ERROR_BUSY) ? PK_TOGGLE_EXIT_REFUSED : PK_CLI_EXIT_FAILURE;
      for (guint i = 0; i < switches->len; i++)
        if (pk_port_power_get_error (g_ptr_array_index (switches, i)) != NULL)
          g_printerr ("pk-toggle: %s\n", pk_port_power_get_error (g_ptr_array_index (switches, i))->message);
    }

  text = pk_dongle_monitor_power_to_json (monitor, numbers, n_ids, NULL);
  if (json)
    {
      print_json_text (text);
      return status;
    }
  root = json_from_string (text, NULL);
  out = json_node_get_array (root);
  for (guint i = 0; i < json_array_get_length (out); i++)
    {
      JsonObject *o = json_array_get_object_element (out, i);

      printf ("dongle %" G_GINT64_FORMAT ": hub %s port %" G_GINT64_FORMAT " power %s%s\n",
              json_object_get_int_member (o, "dongle"), json_object_get_string_member (o, "hub"),
              json_object_get_int_member (o, "port"), json_object_get_string_member (o, "power"),
              json_object_get_boolean_member (o, "present") ? "" : " (not on USB)");
    }
  fflush (stdout);
  return status;
}

static int
run_discover (PkConfig *config,
              gboolean  json)
{
  g_autoptr(PkDongleMonitor) monitor = make_monitor (config);
  g_autoptr(GPtrArray) dongles = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *map_path = NULL;

  dongles = pk_dongle_monitor_discover (monitor, (const char * const *) opt_import_map, &error);
  if (dongles == NULL)
    pk_cli_usage_error ("--import-map: %s", error->message);
  if (json)
    {
      g_autofree char *text = pk_dongle_monitor_to_json (monitor);
      print_json_text (text);
      return PK_CLI_EXIT_OK;
    }
  if (dongles->len == 0)
    printf ("no dongles found (Huawei USB devices, vendor 12d1)\n");
  for (guint i = 0; i < dongles->len; i++)
    {
      PkDongle *d = g_ptr_array_index (dongles, i);
      g_autofree char *id = pk_dongle_get_id (d) ? g_strdup_printf ("%u", pk_dongle_get_id (d)) : g_strdup ("-");
      g_autofree char *usb_id = pk_dongle_dup_usb_id (d);
      g_autofree char *where = pk_dongle_get_hub_path (d)
        ? g_strdup_printf ("hub %s port %u", pk_dongle_get_hub_path (d), pk_dongle_get_hub_port (d))
        : g_strdup ("-");

      printf ("dongle %-3s  %-12s  %-15s  %-15s  usb %-10s  %-18s  %s%s%s\n", id,
              pk_dongle_mode_to_string (pk_dongle_get_mode (d)),
              pk_dongle_get_interface (d) ? pk_dongle_get_interface (d) : "-",
              pk_dongle_get_host_address (d) ? pk_dongle_get_host_address (d) : "-",
              pk_dongle_get_usb_path (d), where, usb_id ? usb_id : "-",
              pk_dongle_get_serial (d) ? "  serial " : "",
              pk_dongle_get_serial (d) ? pk_dongle_get_serial (d) : "");
      if (pk_dongle_get_mode (d) == PK_DONGLE_MODE_MASS_STORAGE)
        printf ("            in mass-storage mode: set [dongles] modeswitch = true, or run usb_modeswitch\n");
    }
  map_path = pk_state_store_dup_document_path (pk_usb_map_get_store (pk_dongle_monitor_get_usb_map (monitor)),
                                               PK_USB_MAP_DOCUMENT);
  printf ("USB map: %s\n", map_path);
  fflush (stdout);
  return PK_CLI_EXIT_OK;
}

static JsonNode *
json_parse_text (const char *text)
{
  return json_from_string (text, NULL);
}

static void
print_routing_text (JsonObject *o)
{
  guint id = (guint) json_object_get_int_member (o, "dongle");
  JsonArray *problems, *actions;

  if (json_object_has_member (o, "error"))
    {
      printf ("dongle %u routing: %s\n", id, json_object_get_string_member (o, "error"));
      return;
    }
  problems = json_object_get_array_member (o, "problems");
  actions = json_object_get_array_member (o, "actions");
  for (guint i = 0; i < json_array_get_length (actions); i++)
    printf ("dongle %u routing: %s\n", id, json_array_get_string_element (actions, i));
  if (json_array_get_length (problems) == 0)
    printf ("dongle %u routing: ok (%s, table %" G_GINT64_FORMAT ")\n", id,
            json_object_get_string_member (o, "backend"), json_object_get_int_member (o, "table"));
  for (guint i = 0; i < json_array_get_length (problems); i++)
    printf ("dongle %u routing: still wrong: %s\n", id, json_array_get_string_element (problems, i));
}

static int
run_routing (PkConfig  *config,
             char     **ids,
             gboolean   all,
             gboolean   json)
{
  g_autoptr(PkDongleMonitor) monitor = make_monitor (config);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GPtrArray) diagnoses = NULL;
  g_autoptr(GPtrArray) nodes = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
  g_autoptr(GError) error = NULL;
  g_autofree guint *numbers = NULL;
  gsize n_ids;
  PkRoutingBackend backend;
  int status = PK_CLI_EXIT_OK;

  if (!pk_routing_backend_from_config (config, NULL, &backend, NULL))
    pk_cli_usage_error ("[dongles] routing: expected auto, rtnetlink, networkmanager or off");
  if (!all && ids == NULL)
    pk_cli_usage_error ("--routing: name a dongle (pk-toggle --routing 11) or use --all");
  pk_dongle_monitor_scan (monitor);
  numbers = parse_ids (monitor, all ? NULL : ids, TRUE, &n_ids);
  pk_dongle_monitor_repair_routing_async (monitor, numbers, n_ids, backend, NULL, pk_cli_store_result, &result);
  diagnoses = pk_dongle_monitor_repair_routing_finish (monitor, pk_cli_wait_result (&result), &error);
  if (diagnoses == NULL)
    pk_cli_die (PK_CLI_EXIT_FAILURE, "%s", error->message);
  for (guint i = 0; i < diagnoses->len; i++)
    {
      g_autofree char *text = pk_routing_diagnosis_to_json (g_ptr_array_index (diagnoses, i));

      if (!pk_routing_diagnosis_get_healthy (g_ptr_array_index (diagnoses, i)))
        status = PK_CLI_EXIT_FAILURE;
      g_ptr_array_add (nodes, json_parse_text (text));
    }

  if (json)
    {
      g_autoptr(JsonNode) out = NULL;
      g_autofree char *text = NULL;

      if (!all && nodes->len == 1)
        out = json_node_ref (g_ptr_array_index (nodes, 0));
      else
        {
          JsonArray *array = json_array_new ();
          for (guint i = 0; i < nodes->len; i++)
            json_array_add_element (array, json_node_ref (g_ptr_array_index (nodes, i)));
          out = json_node_init_array (json_node_alloc (), array);
          json_array_unref (array);
        }
      text = json_to_string (out, TRUE);
      print_json_text (text);
    }
  else
    {
      if (nodes->len == 0)
        printf ("no dongles with a number found: see pk-toggle --discover\n");
      for (guint i = 0; i < nodes->len; i++)
        print_routing_text (json_node_get_object (g_ptr_array_index (nodes, i)));
      fflush (stdout);
    }
  return status;
}

int
pk_toggle_dongles_run (PkConfig   *config,
                       const char *lock_dir,
                       char      **ids,
                       gboolean    all,
                       gboolean    json)
{
  if (opt_discover)
    {
      if (ids != NULL || all)
        pk_cli_usage_error ("--discover takes no dongle numbers and no --all");
      return run_discover (config, json);
    }
  if (opt_power != NULL || opt_power_status)
    {
      guint64 off_ms = PK_TOGGLE_POWER_DEFAULT_OFF_MS;
      g_autoptr(GError) error = NULL;

      if (opt_power_status && (ids != NULL || all))
        pk_cli_usage_error ("--power-status takes no dongle numbers and no --all");
      if (ids != NULL && all)
        pk_cli_usage_error ("--all takes no dongle numbers");
      if (!pk_config_get_duration_ms (config, "toggle", "power_off", NULL, off_ms, &off_ms, &error))
        pk_cli_usage_error ("%s", error->message);
      return run_power (config, lock_dir, ids, all, json, (guint) MIN (off_ms, G_MAXUINT));
    }
  return run_routing (config, ids, all, json);
}
