/* pk-toggle-service-query.c: what the dongles of a PkToggleService say
 *
 * `pk-toggle --status` and `--info`: each modem's state and WAN IP, each
 * dongle's USB side and routing, or the device information and signal,
 * as JSON and as text.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include <json-glib/json-glib.h>

#include "pk-error.h"
#include "pk-routing.h"
#include "pk-toggle-private.h"
#include "pk-toggle-service-private.h"

/* --- --status and --info --- */

typedef struct {
  JsonObject **objects;   /* one per dongle asked, in that order */
  guint n_objects;
  guint pending;
  gboolean all_ok;
  PkDongleMonitor *monitor;
} Query;

typedef struct {
  GTask *task;
  JsonObject *obj;
} QueryPart;

static void
query_free (Query *q)
{
  for (guint i = 0; i < q->n_objects; i++)
    json_object_unref (q->objects[i]);
  g_free (q->objects);
  g_clear_object (&q->monitor);
  g_free (q);
}

static void
query_part_done (QueryPart *part,
                 gboolean   ok)
{
  GTask *task = part->task;
  Query *q = g_task_get_task_data (task);

  q->all_ok = q->all_ok && ok;
  if (--q->pending == 0)
    {
      JsonArray *array = json_array_new ();
      g_autoptr(JsonNode) root = NULL;

      for (guint i = 0; i < q->n_objects; i++)
        json_array_add_object_element (array, json_object_ref (q->objects[i]));
      root = json_node_init_array (json_node_alloc (), array);
      json_array_unref (array);
      g_task_return_pointer (task, json_to_string (root, TRUE), g_free);
    }
  g_object_unref (task);
  g_free (part);
}

static QueryPart *
query_part (GTask      *task,
            JsonObject *obj)
{
  QueryPart *part = g_new0 (QueryPart, 1);

  part->task = g_object_ref (task);
  part->obj = obj;
  return part;
}

static GTask *
query_start (PkToggleService      *self,
             const guint          *ids,
             gsize                 n_ids,
             gpointer              source_tag,
             GCancellable         *cancellable,
             GAsyncReadyCallback   callback,
             gpointer              user_data,
             GPtrArray           **toggles)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  g_autoptr(GError) error = NULL;
  Query *q = g_new0 (Query, 1);

  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, q, (GDestroyNotify) query_free);
  q->all_ok = TRUE;
  *toggles = pk_toggle_service_select (self, ids, n_ids, &error);
  if (*toggles == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return NULL;
    }
  q->n_objects = (*toggles)->len;
  q->objects = g_new0 (JsonObject *, q->n_objects + 1);
  for (guint i = 0; i < q->n_objects; i++)
    {
      guint id = pk_toggle_get_id (g_ptr_array_index (*toggles, i));
      PkToggleServiceDongle *d = pk_toggle_service_setup_find (pk_toggle_service_get_setup (self), id);

      q->objects[i] = json_object_new ();
      json_object_set_int_member (q->objects[i], "dongle", id);
      json_object_set_string_member (q->objects[i], "api", d->api);
      json_object_set_string_member (q->objects[i], "egress_ip", d->address);
    }
  /* Two parts per dongle; one more, ended below, for the empty set. */
  q->pending = 2 * q->n_objects + 1;
  return task;
}

static void
on_status (GObject      *source,
           GAsyncResult *res,
           gpointer      user_data)
{
  QueryPart *part = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *wan_ip = NULL;
  PkModemState state = PK_MODEM_STATE_UNKNOWN;
  gboolean ok = pk_modem_get_status_finish (PK_MODEM (source), res, &state, &wan_ip, &error);

  query_part_done (part, pk_toggle_modem_status_to_json (part->obj, ok, state, wan_ip, error));
}

static void
on_diagnosed (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  QueryPart *part = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PkRoutingDiagnosis) d = pk_routing_diagnose_finish (PK_ROUTING (source), result, &error);

  if (d != NULL)
    {
      g_autofree char *text = pk_routing_diagnosis_to_json (d);
      json_object_set_member (part->obj, "routing", json_from_string (text, NULL));
    }
  else
    {
      JsonObject *r = json_object_new ();
      json_object_set_boolean_member (r, "healthy", FALSE);
      json_object_set_string_member (r, "error", error->message);
      json_object_set_object_member (part->obj, "routing", r);
    }
  query_part_done (part, TRUE);
}

/* The dongle's USB side and routing health: "mode", "usb_path", "hub",
 * "port", "interface", "routing". */
static void
usb_status (PkDongleMonitor *monitor,
            guint            id,
            QueryPart       *part)
{
  PkDongle *d = monitor ? pk_dongle_monitor_get_dongle (monitor, id) : NULL;
  g_autoptr(PkRouting) routing = NULL;
  JsonObject *obj = part->obj;

  if (d == NULL)
    {
      json_object_set_string_member (obj, "mode", monitor ? "absent" : "unknown");
      json_object_set_null_member (obj, "usb_path");
      json_object_set_null_member (obj, "routing");
      query_part_done (part, TRUE);
      return;
    }
  json_object_set_string_member (obj, "mode", pk_dongle_mode_to_string (pk_dongle_get_mode (d)));
  json_object_set_string_member (obj, "usb_path", pk_dongle_get_usb_path (d));
  if (pk_dongle_get_hub_path (d) != NULL)
    {
      json_object_set_string_member (obj, "hub", pk_dongle_get_hub_path (d));
      json_object_set_int_member (obj, "port", pk_dongle_get_hub_port (d));
    }
  if (pk_dongle_get_interface (d) != NULL)
    json_object_set_string_member (obj, "interface", pk_dongle_get_interface (d));
  routing = pk_routing_new (d);
  pk_routing_diagnose_async (routing, NULL, on_diagnosed, part);
}

/**
 * pk_toggle_service_query_status_async:
 * @self: a [class@ToggleService]
 * @ids: (array length=n_ids) (nullable): the dongles, %NULL for all
 * @n_ids: the number of @ids
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when every dongle has answered
 * @user_data: data for @callback
 *
 * Asks each modem for its state and WAN IP, and looks at each dongle on
 * USB (a scan made now) and at its routing: what `pk-toggle --status`
 * shows.
 *
 * Since: 0.2
 */
void
pk_toggle_service_query_status_async (PkToggleService     *self,
                                      const guint         *ids,
                                      gsize                n_ids,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  g_autoptr(GPtrArray) toggles = NULL;
  GTask *task;
  Query *q;

  g_return_if_fail (PK_IS_TOGGLE_SERVICE (self));

  task = query_start (self, ids, n_ids, pk_toggle_service_query_status_async, cancellable, callback,
                      user_data, &toggles);
  if (task == NULL)
    return;
  q = g_task_get_task_data (task);
  if (q->n_objects > 0)
    q->monitor = pk_toggle_service_scan (pk_toggle_service_get_setup (self)->config);
  for (guint i = 0; i < toggles->len; i++)
    {
      PkToggle *toggle = g_ptr_array_index (toggles, i);

      pk_modem_get_status_async (pk_toggle_get_modem (toggle), cancellable, on_status,
                                 query_part (task, q->objects[i]));
      usb_status (q->monitor, pk_toggle_get_id (toggle), query_part (task, q->objects[i]));
    }
  query_part_done (query_part (task, NULL), TRUE);
  g_object_unref (task);
}

static char *
query_finish (PkToggleService  *self,
              GAsyncResult     *result,
              gpointer          source_tag,
              gboolean         *all_ok,
              GError          **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, NULL);

  if (all_ok != NULL)
    *all_ok = ((Query *) g_task_get_task_data (G_TASK (result)))->all_ok;
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * pk_toggle_service_query_status_finish:
 * @self: a [class@ToggleService]
 * @result: the `GAsyncResult`
 * @all_ok: (out) (optional): whether every modem answered
 * @error: return location for a `GError`
 *
 * Finishes [method@ToggleService.query_status_async].
 *
 * Returns: (transfer full) (nullable): a JSON array, an object per dongle:
 *   `dongle`, `api`, `egress_ip`, `reachable`, `connected`, `state`,
 *   `wan_ip`, `error` (when the modem did not answer), `mode`,
 *   `usb_path`, `hub`, `port`, `interface`, `routing`; or %NULL with
 *   @error set when a dongle asked for is not there
 *
 * Since: 0.2
 */
char *
pk_toggle_service_query_status_finish (PkToggleService  *self,
                                       GAsyncResult     *result,
                                       gboolean         *all_ok,
                                       GError          **error)
{
  return query_finish (self, result, pk_toggle_service_query_status_async, all_ok, error);
}

static JsonObject *
object_from_table (GHashTable *table)
{
  JsonObject *obj = json_object_new ();
  g_autoptr(GList) keys = g_list_sort (g_hash_table_get_keys (table), (GCompareFunc) strcmp);

  for (GList *l = keys; l != NULL; l = l->next)
    json_object_set_string_member (obj, l->data, g_hash_table_lookup (table, l->data));
  return obj;
}

static void
on_info_part (GObject      *source,
              GAsyncResult *res,
              gpointer      user_data,
              gboolean      is_signal)
{
  QueryPart *part = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) table = is_signal ? pk_modem_get_signal_finish (PK_MODEM (source), res, &error)
                                          : pk_modem_get_device_info_finish (PK_MODEM (source), res, &error);
  const char *member = is_signal ? "signal" : "device";

  if (table != NULL)
    json_object_set_object_member (part->obj, member, object_from_table (table));
  else
    {
      g_autofree char *key = g_strconcat (member, "_error", NULL);
      json_object_set_null_member (part->obj, member);
      json_object_set_string_member (part->obj, key, error->message);
    }
  query_part_done (part, table != NULL);
}

static void
on_device_info (GObject *source, GAsyncResult *res, gpointer user_data)
{
  on_info_part (source, res, user_data, FALSE);
}

static void
on_signal (GObject *source, GAsyncResult *res, gpointer user_data)
{
  on_info_part (source, res, user_data, TRUE);
}

/**
 * pk_toggle_service_query_info_async:
 * @self: a [class@ToggleService]
 * @ids: (array length=n_ids) (nullable): the dongles, %NULL for all
 * @n_ids: the number of @ids
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when every dongle has answered
 * @user_data: data for @callback
 *
 * Asks each modem for its device information and its signal: what
 * `pk-toggle --info` shows.
 *
 * Since: 0.2
 */
void
pk_toggle_service_query_info_async (PkToggleService     *self,
                                    const guint         *ids,
                                    gsize                n_ids,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_autoptr(GPtrArray) toggles = NULL;
  GTask *task;
  Query *q;

  g_return_if_fail (PK_IS_TOGGLE_SERVICE (self));

  task = query_start (self, ids, n_ids, pk_toggle_service_query_info_async, cancellable, callback,
                      user_data, &toggles);
  if (task == NULL)
    return;
  q = g_task_get_task_data (task);
  for (guint i = 0; i < toggles->len; i++)
    {
      PkModem *modem = pk_toggle_get_modem (g_ptr_array_index (toggles, i));

      pk_modem_get_device_info_async (modem, cancellable, on_device_info, query_part (task, q->objects[i]));
      pk_modem_get_signal_async (modem, cancellable, on_signal, query_part (task, q->objects[i]));
    }
  query_part_done (query_part (task, NULL), TRUE);
  g_object_unref (task);
}

/**
 * pk_toggle_service_query_info_finish:
 * @self: a [class@ToggleService]
 * @result: the `GAsyncResult`
 * @all_ok: (out) (optional): whether every modem answered both questions
 * @error: return location for a `GError`
 *
 * Finishes [method@ToggleService.query_info_async].
 *
 * Returns: (transfer full) (nullable): a JSON array, an object per dongle:
 *   `dongle`, `api`, `egress_ip`, `device` and `signal` (objects of
 *   strings, the device's own names and the normalized ones), or `null`
 *   with `device_error` or `signal_error`; %NULL with @error set when a
 *   dongle asked for is not there
 *
 * Since: 0.2
 */
char *
pk_toggle_service_query_info_finish (PkToggleService  *self,
                                     GAsyncResult     *result,
                                     gboolean         *all_ok,
                                     GError          **error)
{
  return query_finish (self, result, pk_toggle_service_query_info_async, all_ok, error);
}

/* "hilink 1-1.3 routing ok", the USB columns of a --status line. */
static char *
usb_status_text (JsonObject *obj)
{
  const char *mode = json_object_get_string_member_with_default (obj, "mode", "unknown");
  const char *usb = json_object_get_string_member_with_default (obj, "usb_path", NULL);
  JsonNode *routing = json_object_get_member (obj, "routing");
  g_autofree char *health = NULL;

  if (routing == NULL || !JSON_NODE_HOLDS_OBJECT (routing))
    health = g_strdup ("-");
  else
    {
      JsonObject *r = json_node_get_object (routing);
      JsonArray *problems = json_object_get_array_member (r, "problems");

      if (json_object_get_boolean_member_with_default (r, "healthy", FALSE))
        health = g_strdup ("routing ok");
      else if (problems != NULL && json_array_get_length (problems) > 0)
        health = g_strdup_printf ("routing: %s", json_array_get_string_element (problems, 0));
      else
        health = g_strdup_printf ("routing: %s", json_object_get_string_member_with_default (r, "error", "?"));
    }
  return g_strdup_printf ("%-12s %-10s %s", mode, usb ? usb : "-", health);
}

static void
status_line (GString    *out,
             JsonObject *o)
{
  const char *wan_ip = json_object_get_null_member (o, "wan_ip") ? "-" : json_object_get_string_member (o, "wan_ip");
  g_autofree char *usb = usb_status_text (o);

  g_string_append_printf (out, "dongle %-3u  %-13s  %-15s  %s  %s", (guint) json_object_get_int_member (o, "dongle"),
                          json_object_get_string_member (o, "state"), wan_ip,
                          json_object_get_string_member (o, "api"), usb);
  if (json_object_has_member (o, "error"))
    g_string_append_printf (out, "  (%s)", json_object_get_string_member (o, "error"));
  g_string_append_c (out, '\n');
}

static void
info_lines (GString    *out,
            JsonObject *o)
{
  g_string_append_printf (out, "dongle %u (%s)\n", (guint) json_object_get_int_member (o, "dongle"),
                          json_object_get_string_member (o, "api"));
  for (guint part = 0; part < 2; part++)
    {
      const char *member = part == 0 ? "device" : "signal";
      JsonNode *node = json_object_get_member (o, member);

      if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
        {
          JsonObject *t = json_node_get_object (node);
          g_autoptr(GList) keys = g_list_sort (json_object_get_members (t), (GCompareFunc) strcmp);

          g_string_append_printf (out, "  %s:\n", member);
          for (GList *l = keys; l != NULL; l = l->next)
            {
              const char *v = json_object_get_string_member (t, l->data);
              /* The normalized names only; the device's own are in JSON. */
              if (strchr (l->data, '-') != NULL || g_ascii_islower (*(const char *) l->data))
                if (v != NULL && *v != '\0')
                  g_string_append_printf (out, "    %-18s %s\n", (const char *) l->data, v);
            }
        }
      else
        {
          g_autofree char *key = g_strconcat (member, "_error", NULL);
          g_string_append_printf (out, "  %s: error: %s\n", member, json_object_get_string_member (o, key));
        }
    }
}

/**
 * pk_toggle_service_query_to_text:
 * @json: what [method@ToggleService.query_status_finish] or
 *   [method@ToggleService.query_info_finish] returned
 *
 * The text `pk-toggle --status` and `--info` print: for a status, a line
 * per dongle (number, state, WAN IP, API, USB mode and path, routing
 * health, the error); for device information, a block per dongle.
 *
 * Returns: (transfer full): the text, empty when @json holds nothing
 *
 * Since: 0.2
 */
char *
pk_toggle_service_query_to_text (const char *json)
{
  g_autoptr(JsonNode) root = NULL;
  GString *out = g_string_new (NULL);
  JsonArray *array;

  g_return_val_if_fail (json != NULL, g_string_free (out, FALSE));

  root = json_from_string (json, NULL);
  if (root == NULL || !JSON_NODE_HOLDS_ARRAY (root))
    return g_string_free (out, FALSE);
  array = json_node_get_array (root);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonObject *o = json_array_get_object_element (array, i);

      if (json_object_has_member (o, "state"))
        status_line (out, o);
      else
        info_lines (out, o);
    }
  return g_string_free (out, FALSE);
}
