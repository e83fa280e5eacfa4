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
  return modes > 0;
}

gboolean
pk_toggle_dongles_recovery (void)
{
  /* A rung past the modem does not change the IP: the dongle back is
   * what counts. */
  return opt_recover || opt_rebind || (opt_stage != NULL && !g_str_equal (opt_stage, "modem"));
}

gboolean
pk_toggle_dongles_needs_usb (void)
{
  return opt_recover || opt_rebind || opt_stage != NULL || opt_max_stage != NULL;
}

/* --- the ladder --- */

void
pk_toggle_dongles_override (PkConfig *config)
{
  if (opt_max_stage != NULL)
    pk_config_set_override (config, "toggle", "max_stage", opt_max_stage, "--max-stage");
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

/* --- --power, --power-status --- */

static JsonNode *
power_json (PkUsbMapEntry *entry,
            PkDongle      *present,
            const char    *error)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  gboolean on = FALSE;
  g_autoptr(GError) local_error = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "dongle");
  json_builder_add_int_value (b, pk_usb_map_entry_get_id (entry));
  json_builder_set_member_name (b, "hub");
  json_builder_add_string_value (b, pk_usb_map_entry_get_hub_path (entry));
  json_builder_set_member_name (b, "port");
  json_builder_add_int_value (b, pk_usb_map_entry_get_hub_port (entry));
  json_builder_set_member_name (b, "present");
  json_builder_add_boolean_value (b, present != NULL);
  json_builder_set_member_name (b, "power");
  if (pk_usb_map_entry_get_power (entry, &on, &local_error))
    json_builder_add_string_value (b, on ? "on" : "off");
  else
    {
      json_builder_add_string_value (b, "unknown");
      if (error == NULL)
        error = local_error->message;
    }
  if (error != NULL)
    {
      json_builder_set_member_name (b, "error");
      json_builder_add_string_value (b, error);
    }
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

typedef struct {
  GMainLoop *loop;
  guint pending;
  int status;
} PowerRun;

static void
on_power_switched (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  PowerRun *run = user_data;
  g_autoptr(GError) error = NULL;

  if (!pk_port_power_run_finish (PK_PORT_POWER (source), result, &error))
    {
      g_printerr ("pk-toggle: %s\n", error->message);
      /* a held lock is a refusal (3), as for a toggle; the worst wins */
      if (g_error_matches (error, PK_ERROR, PK_ERROR_BUSY))
        run->status = MAX (run->status, PK_TOGGLE_EXIT_REFUSED);
      else if (run->status == PK_CLI_EXIT_OK)
        run->status = PK_CLI_EXIT_FAILURE;
    }
  if (--run->pending == 0)
    g_main_loop_quit (run->loop);
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
  PkUsbMap *map = pk_dongle_monitor_get_usb_map (monitor);
  g_autoptr(GPtrArray) entries = NULL;
  g_autoptr(JsonArray) out = json_array_new ();
  PowerRun run = { 0 };
  PkPortPowerAction action = PK_PORT_POWER_ON;

  if (opt_power != NULL && ids == NULL && !all)
    pk_cli_usage_error ("--power: name a dongle (pk-toggle --power cycle 11) or use --all");
  pk_dongle_monitor_scan (monitor);
  if (ids == NULL)
    entries = pk_usb_map_list (map);
  else
    {
      entries = g_ptr_array_new_with_free_func (g_object_unref);
      for (guint i = 0; ids[i] != NULL; i++)
        {
          guint64 id;
          PkUsbMapEntry *entry;

          if (!g_ascii_string_to_unsigned (ids[i], 10, 1, 255, &id, NULL))
            pk_cli_usage_error ("'%s' is not a dongle number (1-255)", ids[i]);
          entry = pk_usb_map_lookup (map, (guint) id);
          if (entry == NULL)
            pk_cli_die (PK_CLI_EXIT_FAILURE, "dongle %s is not in the USB map: see pk-toggle --discover", ids[i]);
          g_ptr_array_add (entries, g_object_ref (entry));
        }
    }

  /* Every port at once, each under its dongle's lock, so that a cycle of
   * --all pauses once. */
  if (opt_power != NULL && pk_port_power_action_from_string (opt_power, &action) && entries->len > 0)
    {
      g_autoptr(GPtrArray) switches = g_ptr_array_new_with_free_func (g_object_unref);

      run.loop = g_main_loop_new (NULL, FALSE);
      run.pending = entries->len;
      for (guint i = 0; i < entries->len; i++)
        {
          PkPortPower *power = pk_port_power_new (g_ptr_array_index (entries, i));

          pk_port_power_set_state_dir (power, lock_dir);
          pk_port_power_set_off_time (power, off_ms);
          g_ptr_array_add (switches, power);
          pk_port_power_run_async (power, action, NULL, on_power_switched, &run);
        }
      g_main_loop_run (run.loop);
      g_main_loop_unref (run.loop);
    }

  for (guint i = 0; i < entries->len; i++)
    {
      PkUsbMapEntry *entry = g_ptr_array_index (entries, i);
      PkDongle *d = pk_dongle_monitor_get_dongle (monitor, pk_usb_map_entry_get_id (entry));
      JsonNode *node = power_json (entry, d, NULL);

      if (!json)
        {
          JsonObject *o = json_node_get_object (node);
          printf ("dongle %" G_GINT64_FORMAT ": hub %s port %" G_GINT64_FORMAT " power %s%s\n",
                  json_object_get_int_member (o, "dongle"), json_object_get_string_member (o, "hub"),
                  json_object_get_int_member (o, "port"), json_object_get_string_member (o, "power"),
                  d != NULL ? "" : " (not on USB)");
        }
      json_array_add_element (out, node);
    }
  if (json)
    {
      g_autoptr(JsonNode) root = json_node_init_array (json_node_alloc (), out);
      g_autofree char *text = json_to_string (root, TRUE);
      print_json_text (text);
    }
  fflush (stdout);
  return run.status;
}

/* --- --discover --- */

static int
run_discover (PkConfig *config,
              gboolean  json)
{
  g_autoptr(PkDongleMonitor) monitor = make_monitor (config);
  PkUsbMap *map = pk_dongle_monitor_get_usb_map (monitor);
  g_autoptr(GPtrArray) dongles = NULL;
  g_autofree char *map_path = NULL;

  for (guint i = 0; opt_import_map != NULL && opt_import_map[i] != NULL; i++)
    {
      g_autoptr(GError) error = NULL;

      if (!pk_usb_map_import_seed (map, opt_import_map[i], &error))
        pk_cli_usage_error ("--import-map: %s", error->message);
    }
  /* A scan records what it finds in the map. */
  pk_dongle_monitor_scan (monitor);
  dongles = pk_dongle_monitor_list_dongles (monitor);

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
  map_path = pk_state_store_dup_document_path (pk_usb_map_get_store (map), PK_USB_MAP_DOCUMENT);
  printf ("USB map: %s\n", map_path);
  fflush (stdout);
  return PK_CLI_EXIT_OK;
}

/* --- --routing --- */

typedef struct {
  GMainLoop *loop;
  guint pending;
  int status;
  GPtrArray *results;     /* JsonNode, in the order of the dongles */
} Routing;

typedef struct {
  Routing *r;
  guint index;
  guint id;
} RoutingOne;

static JsonNode *
json_parse_text (const char *text)
{
  return json_from_string (text, NULL);
}

static void
on_repaired (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  RoutingOne *one = user_data;
  Routing *r = one->r;
  g_autoptr(GError) error = NULL;
  g_autoptr(PkRoutingDiagnosis) d = pk_routing_repair_finish (PK_ROUTING (source), result, &error);
  JsonNode *node;

  if (d != NULL)
    {
      g_autofree char *text = pk_routing_diagnosis_to_json (d);
      node = json_parse_text (text);
      if (!pk_routing_diagnosis_get_healthy (d))
        r->status = PK_CLI_EXIT_FAILURE;
    }
  else
    {
      JsonObject *obj = json_object_new ();

      json_object_set_int_member (obj, "dongle", one->id);
      json_object_set_boolean_member (obj, "healthy", FALSE);
      json_object_set_string_member (obj, "error", error->message);
      node = json_node_init_object (json_node_alloc (), obj);
      json_object_unref (obj);
      r->status = PK_CLI_EXIT_FAILURE;
    }
  g_ptr_array_index (r->results, one->index) = node;
  g_free (one);
  if (--r->pending == 0)
    g_main_loop_quit (r->loop);
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

static gboolean
routing_backend (PkConfig         *config,
                 PkRoutingBackend *out)
{
  g_autofree char *value = pk_config_dup_string (config, "dongles", "routing", NULL, "auto");

  *out = PK_ROUTING_BACKEND_AUTO;
  return g_strcmp0 (value, "off") == 0 || pk_routing_backend_from_string (value, out);
}

static int
run_routing (PkConfig  *config,
             char     **ids,
             gboolean   all,
             gboolean   json)
{
  g_autoptr(PkDongleMonitor) monitor = make_monitor (config);
  g_autoptr(GPtrArray) selected = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  PkRoutingBackend backend;
  Routing r = { 0 };

  if (!routing_backend (config, &backend))
    pk_cli_usage_error ("[dongles] routing: expected auto, rtnetlink, networkmanager or off");
  if (!all && ids == NULL)
    pk_cli_usage_error ("--routing: name a dongle (pk-toggle --routing 11) or use --all");
  pk_dongle_monitor_scan (monitor);

  if (all)
    {
      g_autoptr(GPtrArray) dongles = pk_dongle_monitor_list_dongles (monitor);

      for (guint i = 0; i < dongles->len; i++)
        {
          PkDongle *d = g_ptr_array_index (dongles, i);
          if (pk_dongle_get_id (d) > 0 && pk_dongle_get_mode (d) == PK_DONGLE_MODE_HILINK &&
              pk_dongle_monitor_get_dongle (monitor, pk_dongle_get_id (d)) == d)
            g_ptr_array_add (selected, g_object_ref (d));
        }
    }
  for (guint i = 0; !all && ids[i] != NULL; i++)
    {
      guint64 id;
      PkDongle *d;

      if (!g_ascii_string_to_unsigned (ids[i], 10, 1, 255, &id, NULL))
        pk_cli_usage_error ("'%s' is not a dongle number (1-255)", ids[i]);
      d = pk_dongle_monitor_get_dongle (monitor, (guint) id);
      if (d == NULL)
        pk_cli_die (PK_CLI_EXIT_FAILURE, "dongle %s is not on USB, or has no number yet "
                    "(no 192.168.%s.x address, no [dongle:%s] naming it): see pk-toggle --discover",
                    ids[i], ids[i], ids[i]);
      g_ptr_array_add (selected, g_object_ref (d));
    }

  r.loop = loop;
  r.results = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
  g_ptr_array_set_size (r.results, selected->len);
  r.pending = selected->len;
  for (guint i = 0; i < selected->len; i++)
    {
      PkDongle *d = g_ptr_array_index (selected, i);
      g_autoptr(PkRouting) routing = pk_routing_new (d);
      RoutingOne *one = g_new0 (RoutingOne, 1);

      one->r = &r;
      one->index = i;
      one->id = pk_dongle_get_id (d);
      pk_routing_set_backend (routing, backend);
      pk_routing_repair_async (routing, NULL, on_repaired, one);
    }
  if (r.pending > 0)
    g_main_loop_run (loop);

  if (json)
    {
      g_autoptr(JsonNode) out = NULL;
      g_autofree char *text = NULL;

      if (!all && r.results->len == 1)
        out = json_node_ref (g_ptr_array_index (r.results, 0));
      else
        {
          JsonArray *array = json_array_new ();
          for (guint i = 0; i < r.results->len; i++)
            json_array_add_element (array, json_node_ref (g_ptr_array_index (r.results, i)));
          out = json_node_init_array (json_node_alloc (), array);
          json_array_unref (array);
        }
      text = json_to_string (out, TRUE);
      print_json_text (text);
    }
  else
    {
      if (r.results->len == 0)
        printf ("no dongles with a number found: see pk-toggle --discover\n");
      for (guint i = 0; i < r.results->len; i++)
        print_routing_text (json_node_get_object (g_ptr_array_index (r.results, i)));
      fflush (stdout);
    }
  g_ptr_array_unref (r.results);
  return r.status;
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
