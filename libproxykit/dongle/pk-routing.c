/* pk-routing.c: one dongle's policy routing, diagnosed and repaired
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkRouting:
 *
 * Sets up and repairs the policy routing of one dongle the way a farm
 * needs it:
 *
 * - table N holds `default via 192.168.N.1 dev IFACE`;
 * - a rule `from 192.168.N.100 lookup N` (priority
 *   %PK_ROUTING_RULE_PRIORITY_BASE + N) sends what leaves from the
 *   dongle's address there;
 * - a default route of the dongle in the main table, if DHCP put one
 *   there, has a metric above the main interface's
 *   (%PK_ROUTING_METRIC_BASE + N): a dongle whose DHCP handed out a low
 *   metric takes over the host's default route, and that is corrected.
 *
 * `pk_routing_diagnose_async()` says what is wrong, in words
 * ([method@RoutingDiagnosis.get_problems]) and as fields;
 * `pk_routing_repair_async()` fixes it and returns the diagnosis after,
 * with what it did ([method@RoutingDiagnosis.get_actions]). Where
 * NetworkManager manages the interface (it would undo anything set
 * behind its back) the repair changes the connection profile instead:
 * `ipv4.route-table`, `ipv4.routing-rules`, `ipv4.route-metric`, then a
 * reapply. Elsewhere it talks rtnetlink to the kernel. Requests act in
 * the network namespace of the calling thread.
 *
 * ```c
 * static void
 * repaired (GObject *source, GAsyncResult *result, gpointer user_data)
 * {
 *   g_autoptr(GError) error = NULL;
 *   g_autoptr(PkRoutingDiagnosis) d =
 *     pk_routing_repair_finish (PK_ROUTING (source), result, &error);
 *   g_autofree char *text = d ? pk_routing_diagnosis_to_string (d) : NULL;
 *
 *   g_print ("%s\n", text ? text : error->message);
 * }
 *
 * g_autoptr(PkDongle) dongle = pk_dongle_new (11, "enx0c5b8f279a64", NULL);
 * g_autoptr(PkRouting) routing = pk_routing_new (dongle);
 * pk_routing_repair_async (routing, NULL, repaired, NULL);
 * ```
 *
 * Since: 0.2
 */

/**
 * PkRoutingDiagnosis:
 *
 * The state of one dongle's routing as [class@Routing] found it: each
 * part as a field, and what is wrong as sentences an operator can act on.
 * After a repair it also lists what was done.
 *
 * Since: 0.2
 */

#include "config.h"

#include <net/if.h>
#include <linux/rtnetlink.h>

#include <json-glib/json-glib.h>

#include "pk-dongle-private.h"
#include "pk-enum-types.h"
#include "pk-error.h"
#include "pk-routing.h"
#include "pk-routing-private.h"
#include "pk-rtnl-private.h"
#include "pk-util-private.h"

/* How long a repair through NetworkManager waits for the kernel to show it. */
#define NM_SETTLE_MS 3000
#define NM_SETTLE_STEP_MS 200

/**
 * pk_routing_backend_to_string:
 * @backend: a [enum@RoutingBackend]
 *
 * `auto`, `rtnetlink` or `networkmanager`.
 *
 * Returns: `auto`, `rtnetlink` or `networkmanager`
 *
 * Since: 0.2
 */
const char *
pk_routing_backend_to_string (PkRoutingBackend backend)
{
  switch (backend)
    {
    case PK_ROUTING_BACKEND_RTNETLINK:
      return "rtnetlink";
    case PK_ROUTING_BACKEND_NETWORKMANAGER:
      return "networkmanager";
    case PK_ROUTING_BACKEND_AUTO:
    default:
      return "auto";
    }
}

/**
 * pk_routing_backend_from_string:
 * @str: `auto`, `rtnetlink` or `networkmanager`
 * @out_backend: (out): the backend
 *
 * %TRUE if @str names a backend.
 *
 * Returns: %TRUE if @str names a backend
 *
 * Since: 0.2
 */
gboolean
pk_routing_backend_from_string (const char       *str,
                                PkRoutingBackend *out_backend)
{
  for (PkRoutingBackend b = PK_ROUTING_BACKEND_AUTO; b <= PK_ROUTING_BACKEND_NETWORKMANAGER; b++)
    if (g_strcmp0 (str, pk_routing_backend_to_string (b)) == 0)
      {
        *out_backend = b;
        return TRUE;
      }
  return FALSE;
}

/**
 * pk_routing_backend_from_config:
 * @config: a [class@Config]
 * @out_enabled: (out) (optional): %FALSE for `routing = off`
 * @out_backend: (out): the backend (%PK_ROUTING_BACKEND_AUTO for `off`)
 * @error: return location for a #GError
 *
 * Reads `[dongles] routing`: `auto` (the default), `rtnetlink`,
 * `networkmanager`, or `off` to leave the dongles' routing alone.
 *
 * Returns: %TRUE, or %FALSE with %PK_ERROR_CONFIG naming the key
 *
 * Since: 0.2
 */
gboolean
pk_routing_backend_from_config (PkConfig          *config,
                                gboolean          *out_enabled,
                                PkRoutingBackend  *out_backend,
                                GError           **error)
{
  g_autofree char *routing = NULL;
  gboolean enabled;

  g_return_val_if_fail (PK_IS_CONFIG (config), FALSE);
  g_return_val_if_fail (out_backend != NULL, FALSE);

  routing = pk_config_dup_string (config, "dongles", "routing", NULL, "auto");
  enabled = g_strcmp0 (routing, "off") != 0;
  *out_backend = PK_ROUTING_BACKEND_AUTO;
  if (enabled && !pk_routing_backend_from_string (routing, out_backend))
    {
      g_autofree char *where = pk_config_describe (config, "dongles", "routing");
      g_set_error (error, PK_ERROR, PK_ERROR_CONFIG, "%s: '%s': expected auto, rtnetlink, networkmanager or off",
                   where, routing);
      return FALSE;
    }
  if (out_enabled != NULL)
    *out_enabled = enabled;
  return TRUE;
}

/* --- PkRoutingDiagnosis --- */

struct _PkRoutingDiagnosis
{
  GObject parent_instance;

  guint id;
  char *interface;
  char *host_address;
  char *gateway;
  guint table;
  guint rule_priority;
  PkRoutingBackend backend;

  gboolean interface_present;
  gboolean address_present;
  gboolean table_route_present;
  gboolean rule_present;
  gint64 metric;
  guint expected_metric;
  char *main_interface;
  gint64 main_metric;
  gboolean takes_default;

  char *connection_id;
  gint64 profile_table;
  gint64 profile_metric;
  gboolean profile_rule;

  GPtrArray *problems;   /* NULL-terminated */
  GPtrArray *actions;    /* NULL-terminated */
  GError *error;         /* why the dongle could not be diagnosed, or NULL */
};

G_DEFINE_FINAL_TYPE (PkRoutingDiagnosis, pk_routing_diagnosis, G_TYPE_OBJECT)

static void
pk_routing_diagnosis_finalize (GObject *object)
{
  PkRoutingDiagnosis *self = PK_ROUTING_DIAGNOSIS (object);

  g_free (self->interface);
  g_free (self->host_address);
  g_free (self->gateway);
  g_free (self->main_interface);
  g_free (self->connection_id);
  g_ptr_array_unref (self->problems);
  g_ptr_array_unref (self->actions);
  g_clear_error (&self->error);

  G_OBJECT_CLASS (pk_routing_diagnosis_parent_class)->finalize (object);
}

static void
pk_routing_diagnosis_class_init (PkRoutingDiagnosisClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pk_routing_diagnosis_finalize;
}

static void
pk_routing_diagnosis_init (PkRoutingDiagnosis *self)
{
  self->problems = g_ptr_array_new_null_terminated (4, g_free, TRUE);
  self->actions = g_ptr_array_new_null_terminated (4, g_free, TRUE);
  self->metric = -1;
  self->main_metric = -1;
  self->profile_metric = -1;
}

static void
add_problem (PkRoutingDiagnosis *self,
             const char         *format,
             ...) G_GNUC_PRINTF (2, 3);

static void
add_problem (PkRoutingDiagnosis *self,
             const char         *format,
             ...)
{
  va_list args;

  va_start (args, format);
  g_ptr_array_add (self->problems, g_strdup_vprintf (format, args));
  va_end (args);
}

/* A diagnosis that could not be made (pk_dongle_monitor_repair_routing_async()
 * reports every dongle, those it could not reach too). */
PkRoutingDiagnosis *
pk_routing_diagnosis_new_failed (guint         id,
                                 const GError *error)
{
  PkRoutingDiagnosis *self = g_object_new (PK_TYPE_ROUTING_DIAGNOSIS, NULL);

  self->id = id;
  self->error = g_error_copy (error);
  return self;
}

/**
 * pk_routing_diagnosis_get_error:
 * @self: a [class@RoutingDiagnosis]
 *
 * Why the dongle could not be diagnosed or repaired, for the diagnoses
 * that [method@DongleMonitor.repair_routing_finish] lists; such a diagnosis
 * is not healthy and has nothing else.
 *
 * Returns: (nullable) (transfer none): the error, or %NULL
 *
 * Since: 0.2
 */
const GError *
pk_routing_diagnosis_get_error (PkRoutingDiagnosis *self)
{
  g_return_val_if_fail (PK_IS_ROUTING_DIAGNOSIS (self), NULL);
  return self->error;
}

/**
 * pk_routing_diagnosis_get_id:
 * @self: a [class@RoutingDiagnosis]
 *
 * The dongle's number N.
 *
 * Returns: the dongle's number N
 *
 * Since: 0.2
 */
guint
pk_routing_diagnosis_get_id (PkRoutingDiagnosis *self)
{
  g_return_val_if_fail (PK_IS_ROUTING_DIAGNOSIS (self), 0);
  return self->id;
}

/**
 * pk_routing_diagnosis_get_healthy:
 * @self: a [class@RoutingDiagnosis]
 *
 * %TRUE if nothing is wrong (and the diagnosis could be made).
 *
 * Returns: %TRUE if nothing is wrong
 *
 * Since: 0.2
 */
gboolean
pk_routing_diagnosis_get_healthy (PkRoutingDiagnosis *self)
{
  g_return_val_if_fail (PK_IS_ROUTING_DIAGNOSIS (self), FALSE);
  return self->error == NULL && self->problems->len == 0;
}

/**
 * pk_routing_diagnosis_get_problems:
 * @self: a [class@RoutingDiagnosis]
 *
 * What is wrong, one sentence
 * each (empty when healthy), such as `table 11 has no default route via
 * 192.168.11.1 dev enx0c5b8f279a64`.
 *
 * Returns: (transfer none) (array zero-terminated=1): what is wrong, one
 *   sentence each (empty when healthy), such as `table 11 has no default
 *   route via 192.168.11.1 dev enx0c5b8f279a64`
 *
 * Since: 0.2
 */
const char * const *
pk_routing_diagnosis_get_problems (PkRoutingDiagnosis *self)
{
  g_return_val_if_fail (PK_IS_ROUTING_DIAGNOSIS (self), NULL);
  return (const char * const *) self->problems->pdata;
}

/**
 * pk_routing_diagnosis_get_actions:
 * @self: a [class@RoutingDiagnosis]
 *
 * What a repair did, one line
 * each (empty for a plain diagnosis or when nothing was wrong).
 *
 * Returns: (transfer none) (array zero-terminated=1): what a repair did,
 *   one line each (empty for a plain diagnosis or when nothing was wrong)
 *
 * Since: 0.2
 */
const char * const *
pk_routing_diagnosis_get_actions (PkRoutingDiagnosis *self)
{
  g_return_val_if_fail (PK_IS_ROUTING_DIAGNOSIS (self), NULL);
  return (const char * const *) self->actions->pdata;
}

/**
 * pk_routing_diagnosis_get_backend:
 * @self: a [class@RoutingDiagnosis]
 *
 * How the routing is managed: %PK_ROUTING_BACKEND_NETWORKMANAGER where
 * NetworkManager manages the interface, else %PK_ROUTING_BACKEND_RTNETLINK.
 *
 * Returns: how the routing is managed: %PK_ROUTING_BACKEND_NETWORKMANAGER
 *   where NetworkManager manages the interface, else
 *   %PK_ROUTING_BACKEND_RTNETLINK
 *
 * Since: 0.2
 */
PkRoutingBackend
pk_routing_diagnosis_get_backend (PkRoutingDiagnosis *self)
{
  g_return_val_if_fail (PK_IS_ROUTING_DIAGNOSIS (self), PK_ROUTING_BACKEND_AUTO);
  return self->backend;
}

/**
 * pk_routing_diagnosis_get_interface_present:
 * @self: a [class@RoutingDiagnosis]
 *
 * Whether the dongle's interface exists.
 *
 * Returns: whether the dongle's interface exists
 *
 * Since: 0.2
 */
gboolean
pk_routing_diagnosis_get_interface_present (PkRoutingDiagnosis *self)
{
  g_return_val_if_fail (PK_IS_ROUTING_DIAGNOSIS (self), FALSE);
  return self->interface_present;
}

/**
 * pk_routing_diagnosis_get_address_present:
 * @self: a [class@RoutingDiagnosis]
 *
 * Whether the interface holds the host address (`192.168.N.100`).
 *
 * Returns: whether the interface holds the host address (`192.168.N.100`)
 *
 * Since: 0.2
 */
gboolean
pk_routing_diagnosis_get_address_present (PkRoutingDiagnosis *self)
{
  g_return_val_if_fail (PK_IS_ROUTING_DIAGNOSIS (self), FALSE);
  return self->address_present;
}

/**
 * pk_routing_diagnosis_get_table_route_present:
 * @self: a [class@RoutingDiagnosis]
 *
 * Whether table N has `default via 192.168.N.1 dev IFACE`.
 *
 * Returns: whether table N has `default via 192.168.N.1 dev IFACE`
 *
 * Since: 0.2
 */
gboolean
pk_routing_diagnosis_get_table_route_present (PkRoutingDiagnosis *self)
{
  g_return_val_if_fail (PK_IS_ROUTING_DIAGNOSIS (self), FALSE);
  return self->table_route_present;
}

/**
 * pk_routing_diagnosis_get_rule_present:
 * @self: a [class@RoutingDiagnosis]
 *
 * Whether a rule `from 192.168.N.100 lookup N` exists.
 *
 * Returns: whether a rule `from 192.168.N.100 lookup N` exists
 *
 * Since: 0.2
 */
gboolean
pk_routing_diagnosis_get_rule_present (PkRoutingDiagnosis *self)
{
  g_return_val_if_fail (PK_IS_ROUTING_DIAGNOSIS (self), FALSE);
  return self->rule_present;
}

/**
 * pk_routing_diagnosis_get_metric:
 * @self: a [class@RoutingDiagnosis]
 *
 * The metric of the dongle's default route in the main table, or -1 if it
 * has none there.
 *
 * Returns: the metric of the dongle's default route in the main table, or
 *   -1 if it has none there
 *
 * Since: 0.2
 */
gint64
pk_routing_diagnosis_get_metric (PkRoutingDiagnosis *self)
{
  g_return_val_if_fail (PK_IS_ROUTING_DIAGNOSIS (self), -1);
  return self->metric;
}

/**
 * pk_routing_diagnosis_get_expected_metric:
 * @self: a [class@RoutingDiagnosis]
 *
 * The lowest metric the dongle's default route may have.
 *
 * Returns: the lowest metric the dongle's default route may have
 *
 * Since: 0.2
 */
guint
pk_routing_diagnosis_get_expected_metric (PkRoutingDiagnosis *self)
{
  g_return_val_if_fail (PK_IS_ROUTING_DIAGNOSIS (self), 0);
  return self->expected_metric;
}

/**
 * pk_routing_diagnosis_get_main_interface:
 * @self: a [class@RoutingDiagnosis]
 *
 * The host's main interface: the one with the lowest-metric default
 * route in the main table, other than the farm's dongles (interfaces
 * holding a `192.168.K.100`).
 *
 * Returns: (nullable): its name, or %NULL if the host has none
 *
 * Since: 0.2
 */
const char *
pk_routing_diagnosis_get_main_interface (PkRoutingDiagnosis *self)
{
  g_return_val_if_fail (PK_IS_ROUTING_DIAGNOSIS (self), NULL);
  return self->main_interface;
}

/**
 * pk_routing_diagnosis_get_main_metric:
 * @self: a [class@RoutingDiagnosis]
 *
 * The metric of the main interface's default route, or -1.
 *
 * Returns: the metric of the main interface's default route, or -1
 *
 * Since: 0.2
 */
gint64
pk_routing_diagnosis_get_main_metric (PkRoutingDiagnosis *self)
{
  g_return_val_if_fail (PK_IS_ROUTING_DIAGNOSIS (self), -1);
  return self->main_metric;
}

/**
 * pk_routing_diagnosis_get_takes_default:
 * @self: a [class@RoutingDiagnosis]
 *
 * %TRUE if the dongle's default route beats the main interface's, so that
 * the host's own traffic leaves through the dongle.
 *
 * Returns: %TRUE if the dongle's default route beats the main
 *   interface's, so that the host's own traffic leaves through the dongle
 *
 * Since: 0.2
 */
gboolean
pk_routing_diagnosis_get_takes_default (PkRoutingDiagnosis *self)
{
  g_return_val_if_fail (PK_IS_ROUTING_DIAGNOSIS (self), FALSE);
  return self->takes_default;
}

/**
 * pk_routing_diagnosis_get_connection_id:
 * @self: a [class@RoutingDiagnosis]
 *
 * The NetworkManager connection profile active on the interface,
 * or %NULL where NetworkManager does not manage it.
 *
 * Returns: (nullable): the NetworkManager connection profile active on the
 *   interface, or %NULL where NetworkManager does not manage it
 *
 * Since: 0.2
 */
const char *
pk_routing_diagnosis_get_connection_id (PkRoutingDiagnosis *self)
{
  g_return_val_if_fail (PK_IS_ROUTING_DIAGNOSIS (self), NULL);
  return self->connection_id;
}

/**
 * pk_routing_diagnosis_to_string:
 * @self: a [class@RoutingDiagnosis]
 *
 * One line, `dongle 11 routing: ok (rtnetlink)` or `dongle
 * 11 routing: <problem>; <problem>`, followed by the actions of a repair,
 * one per line.
 *
 * Returns: (transfer full): one line, `dongle 11 routing: ok (rtnetlink)`
 *   or `dongle 11 routing: <problem>; <problem>`, followed by the actions
 *   of a repair, one per line
 *
 * Since: 0.2
 */
char *
pk_routing_diagnosis_to_string (PkRoutingDiagnosis *self)
{
  GString *s;

  g_return_val_if_fail (PK_IS_ROUTING_DIAGNOSIS (self), NULL);

  s = g_string_new (NULL);
  g_string_append_printf (s, "dongle %u routing: ", self->id);
  if (self->error != NULL)
    g_string_append (s, self->error->message);
  else if (self->problems->len == 0)
    g_string_append_printf (s, "ok (%s)", pk_routing_backend_to_string (self->backend));
  for (guint i = 0; i < self->problems->len; i++)
    g_string_append_printf (s, "%s%s", i ? "; " : "", (const char *) g_ptr_array_index (self->problems, i));
  for (guint i = 0; i < self->actions->len; i++)
    g_string_append_printf (s, "\n  %s", (const char *) g_ptr_array_index (self->actions, i));
  return g_string_free (s, FALSE);
}

static void
add_strv (JsonBuilder *b,
          const char  *name,
          GPtrArray   *list)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (guint i = 0; i < list->len; i++)
    json_builder_add_string_value (b, g_ptr_array_index (list, i));
  json_builder_end_array (b);
}

static void
add_opt_string (JsonBuilder *b,
                const char  *name,
                const char  *value)
{
  json_builder_set_member_name (b, name);
  value ? json_builder_add_string_value (b, value) : json_builder_add_null_value (b);
}

static void
add_opt_int (JsonBuilder *b,
             const char  *name,
             gint64       value)
{
  json_builder_set_member_name (b, name);
  value >= 0 ? json_builder_add_int_value (b, value) : json_builder_add_null_value (b);
}

/**
 * pk_routing_diagnosis_to_json:
 * @self: a [class@RoutingDiagnosis]
 *
 * The diagnosis as a JSON object: `dongle`, `healthy`, `problems`,
 * `actions`, `backend`, `interface`, `host_address`, `gateway`, `table`,
 * `interface_present`, `address_present`, `table_route`, `rule`,
 * `metric`, `expected_metric`, `main_interface`, `main_metric`,
 * `takes_default`, and `networkmanager` (the profile's `connection`,
 * `route_table`, `route_metric`, `rule`) or null; for a diagnosis that
 * could not be made ([method@RoutingDiagnosis.get_error]), `dongle`,
 * `healthy` (false) and `error` only.
 *
 * Returns: (transfer full): the JSON text
 *
 * Since: 0.2
 */
char *
pk_routing_diagnosis_to_json (PkRoutingDiagnosis *self)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  g_return_val_if_fail (PK_IS_ROUTING_DIAGNOSIS (self), NULL);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "dongle");
  json_builder_add_int_value (b, self->id);
  json_builder_set_member_name (b, "healthy");
  json_builder_add_boolean_value (b, pk_routing_diagnosis_get_healthy (self));
  if (self->error != NULL)
    {
      json_builder_set_member_name (b, "error");
      json_builder_add_string_value (b, self->error->message);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      return json_to_string (root, TRUE);
    }
  add_strv (b, "problems", self->problems);
  add_strv (b, "actions", self->actions);
  add_opt_string (b, "backend", pk_routing_backend_to_string (self->backend));
  add_opt_string (b, "interface", self->interface);
  add_opt_string (b, "host_address", self->host_address);
  add_opt_string (b, "gateway", self->gateway);
  json_builder_set_member_name (b, "table");
  json_builder_add_int_value (b, self->table);
  json_builder_set_member_name (b, "interface_present");
  json_builder_add_boolean_value (b, self->interface_present);
  json_builder_set_member_name (b, "address_present");
  json_builder_add_boolean_value (b, self->address_present);
  json_builder_set_member_name (b, "table_route");
  json_builder_add_boolean_value (b, self->table_route_present);
  json_builder_set_member_name (b, "rule");
  json_builder_add_boolean_value (b, self->rule_present);
  add_opt_int (b, "metric", self->metric);
  json_builder_set_member_name (b, "expected_metric");
  json_builder_add_int_value (b, self->expected_metric);
  add_opt_string (b, "main_interface", self->main_interface);
  add_opt_int (b, "main_metric", self->main_metric);
  json_builder_set_member_name (b, "takes_default");
  json_builder_add_boolean_value (b, self->takes_default);
  json_builder_set_member_name (b, "networkmanager");
  if (self->connection_id != NULL)
    {
      json_builder_begin_object (b);
      add_opt_string (b, "connection", self->connection_id);
      json_builder_set_member_name (b, "route_table");
      json_builder_add_int_value (b, self->profile_table);
      add_opt_int (b, "route_metric", self->profile_metric);
      json_builder_set_member_name (b, "rule");
      json_builder_add_boolean_value (b, self->profile_rule);
      json_builder_end_object (b);
    }
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, TRUE);
}

/* --- PkRouting --- */

struct _PkRouting
{
  GObject parent_instance;

  PkDongle *dongle;
  guint table;
  guint metric;
  guint rule_priority;
  PkRoutingBackend backend;
};

G_DEFINE_FINAL_TYPE (PkRouting, pk_routing, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_DONGLE,
  PROP_TABLE,
  PROP_METRIC,
  PROP_RULE_PRIORITY,
  PROP_BACKEND,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
pk_routing_finalize (GObject *object)
{
  PkRouting *self = PK_ROUTING (object);

  g_clear_object (&self->dongle);

  G_OBJECT_CLASS (pk_routing_parent_class)->finalize (object);
}

static void
pk_routing_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  PkRouting *self = PK_ROUTING (object);

  switch (prop_id)
    {
    case PROP_DONGLE:
      g_value_set_object (value, self->dongle);
      break;
    case PROP_TABLE:
      g_value_set_uint (value, pk_routing_get_table (self));
      break;
    case PROP_METRIC:
      g_value_set_uint (value, pk_routing_get_metric (self));
      break;
    case PROP_RULE_PRIORITY:
      g_value_set_uint (value, pk_routing_get_rule_priority (self));
      break;
    case PROP_BACKEND:
      g_value_set_enum (value, self->backend);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_routing_set_property (GObject      *object,
                         guint         prop_id,
                         const GValue *value,
                         GParamSpec   *pspec)
{
  PkRouting *self = PK_ROUTING (object);

  switch (prop_id)
    {
    case PROP_DONGLE:
      self->dongle = g_value_dup_object (value);
      break;
    case PROP_TABLE:
      pk_routing_set_table (self, g_value_get_uint (value));
      break;
    case PROP_METRIC:
      pk_routing_set_metric (self, g_value_get_uint (value));
      break;
    case PROP_RULE_PRIORITY:
      pk_routing_set_rule_priority (self, g_value_get_uint (value));
      break;
    case PROP_BACKEND:
      pk_routing_set_backend (self, g_value_get_enum (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_routing_class_init (PkRoutingClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->finalize = pk_routing_finalize;
  object_class->get_property = pk_routing_get_property;
  object_class->set_property = pk_routing_set_property;

  /**
   * PkRouting:dongle:
   *
   * The dongle whose routing this is (its number, interface, host
   * address and gateway are read at each diagnosis).
   *
   * Since: 0.2
   */
  properties[PROP_DONGLE] =
    g_param_spec_object ("dongle", NULL, NULL, PK_TYPE_DONGLE,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * PkRouting:table:
   *
   * The dongle's routing table (0 at construction: N).
   *
   * Since: 0.2
   */
  properties[PROP_TABLE] = g_param_spec_uint ("table", NULL, NULL, 0, G_MAXUINT32, 0, rw);
  /**
   * PkRouting:metric:
   *
   * The metric of the dongle's default routes (0 at construction:
   * %PK_ROUTING_METRIC_BASE + N).
   *
   * Since: 0.2
   */
  properties[PROP_METRIC] = g_param_spec_uint ("metric", NULL, NULL, 0, G_MAXUINT32, 0, rw);
  /**
   * PkRouting:rule-priority:
   *
   * The priority of the dongle's rule (0 at construction:
   * %PK_ROUTING_RULE_PRIORITY_BASE + N).
   *
   * Since: 0.2
   */
  properties[PROP_RULE_PRIORITY] = g_param_spec_uint ("rule-priority", NULL, NULL, 0, 32765, 0, rw);
  /**
   * PkRouting:backend:
   *
   * How routing is read and changed.
   *
   * Since: 0.2
   */
  properties[PROP_BACKEND] = g_param_spec_enum ("backend", NULL, NULL, PK_TYPE_ROUTING_BACKEND,
                                                PK_ROUTING_BACKEND_AUTO, rw);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
pk_routing_init (PkRouting *self)
{
}

/**
 * pk_routing_new:
 * @dongle: the dongle to route
 *
 * A new [class@Routing] for @dongle, with table N, metric
 * %PK_ROUTING_METRIC_BASE + N and rule priority
 * %PK_ROUTING_RULE_PRIORITY_BASE + N.
 *
 * Returns: (transfer full): a new [class@Routing] for @dongle, with table N,
 *   metric %PK_ROUTING_METRIC_BASE + N and rule priority
 *   %PK_ROUTING_RULE_PRIORITY_BASE + N
 *
 * Since: 0.2
 */
PkRouting *
pk_routing_new (PkDongle *dongle)
{
  g_return_val_if_fail (PK_IS_DONGLE (dongle), NULL);
  return g_object_new (PK_TYPE_ROUTING, "dongle", dongle, NULL);
}

/**
 * pk_routing_get_dongle:
 * @self: a [class@Routing]
 *
 * The dongle.
 *
 * Returns: (transfer none): the dongle
 *
 * Since: 0.2
 */
PkDongle *
pk_routing_get_dongle (PkRouting *self)
{
  g_return_val_if_fail (PK_IS_ROUTING (self), NULL);
  return self->dongle;
}

/**
 * pk_routing_get_table:
 * @self: a [class@Routing]
 *
 * The dongle's routing table.
 *
 * Returns: the dongle's routing table
 *
 * Since: 0.2
 */
guint
pk_routing_get_table (PkRouting *self)
{
  g_return_val_if_fail (PK_IS_ROUTING (self), 0);
  return self->table ? self->table : pk_dongle_get_id (self->dongle);
}

/**
 * pk_routing_set_table:
 * @self: a [class@Routing]
 * @table: a routing table (1-4294967295, not 253-255), or 0 for N
 *
 * Sets the dongle's routing table.
 *
 * Since: 0.2
 */
void
pk_routing_set_table (PkRouting *self,
                      guint      table)
{
  g_return_if_fail (PK_IS_ROUTING (self));
  g_return_if_fail (table < RT_TABLE_DEFAULT || table > RT_TABLE_LOCAL);
  if (self->table == table)
    return;
  self->table = table;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TABLE]);
}

/**
 * pk_routing_get_metric:
 * @self: a [class@Routing]
 *
 * The metric of the dongle's default routes.
 *
 * Returns: the metric of the dongle's default routes
 *
 * Since: 0.2
 */
guint
pk_routing_get_metric (PkRouting *self)
{
  g_return_val_if_fail (PK_IS_ROUTING (self), 0);
  return self->metric ? self->metric : PK_ROUTING_METRIC_BASE + pk_dongle_get_id (self->dongle);
}

/**
 * pk_routing_set_metric:
 * @self: a [class@Routing]
 * @metric: the metric, or 0 for %PK_ROUTING_METRIC_BASE + N
 *
 * Sets the metric of the dongle's default routes. Keep it above the main
 * interface's.
 *
 * Since: 0.2
 */
void
pk_routing_set_metric (PkRouting *self,
                       guint      metric)
{
  g_return_if_fail (PK_IS_ROUTING (self));
  if (self->metric == metric)
    return;
  self->metric = metric;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_METRIC]);
}

/**
 * pk_routing_get_rule_priority:
 * @self: a [class@Routing]
 *
 * The priority of the dongle's rule.
 *
 * Returns: the priority of the dongle's rule
 *
 * Since: 0.2
 */
guint
pk_routing_get_rule_priority (PkRouting *self)
{
  g_return_val_if_fail (PK_IS_ROUTING (self), 0);
  return self->rule_priority ? self->rule_priority
                             : PK_ROUTING_RULE_PRIORITY_BASE + pk_dongle_get_id (self->dongle);
}

/**
 * pk_routing_set_rule_priority:
 * @self: a [class@Routing]
 * @priority: 1-32765, or 0 for %PK_ROUTING_RULE_PRIORITY_BASE + N
 *
 * Sets the priority of the dongle's rule.
 *
 * Since: 0.2
 */
void
pk_routing_set_rule_priority (PkRouting *self,
                              guint      priority)
{
  g_return_if_fail (PK_IS_ROUTING (self));
  g_return_if_fail (priority <= 32765);
  if (self->rule_priority == priority)
    return;
  self->rule_priority = priority;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RULE_PRIORITY]);
}

/**
 * pk_routing_get_backend:
 * @self: a [class@Routing]
 *
 * How routing is read and changed.
 *
 * Returns: how routing is read and changed
 *
 * Since: 0.2
 */
PkRoutingBackend
pk_routing_get_backend (PkRouting *self)
{
  g_return_val_if_fail (PK_IS_ROUTING (self), PK_ROUTING_BACKEND_AUTO);
  return self->backend;
}

/**
 * pk_routing_set_backend:
 * @self: a [class@Routing]
 * @backend: a [enum@RoutingBackend]
 *
 * Sets how routing is read and changed. %PK_ROUTING_BACKEND_NETWORKMANAGER
 * fails where NetworkManager does not manage the interface.
 *
 * Since: 0.2
 */
void
pk_routing_set_backend (PkRouting        *self,
                        PkRoutingBackend  backend)
{
  g_return_if_fail (PK_IS_ROUTING (self));
  if (self->backend == backend)
    return;
  self->backend = backend;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BACKEND]);
}

/* --- looking at the kernel --- */

/* Interfaces that hold a farm host address (192.168.K.100): dongles, not
 * the main interface. */
static gboolean
is_farm_interface (PkRtnlSnapshot *snap,
                   int             ifindex)
{
  for (guint i = 0; i < snap->addresses->len; i++)
    {
      PkRtnlAddress *a = g_ptr_array_index (snap->addresses, i);

      if (a->ifindex == ifindex && pk_dongle_id_from_address (a->address) > 0 &&
          g_str_has_suffix (a->address, ".100"))
        return TRUE;
    }
  return FALSE;
}

static gboolean
is_default (PkRtnlRoute *r,
            guint32      table)
{
  return r->table == table && r->dst_len == 0 && r->type == RTN_UNICAST;
}

static PkRoutingDiagnosis *
diagnose (PkRouting          *self,
          PkRtnlSnapshot     *snap,
          PkRoutingBackend    backend,
          PkRoutingNmProfile *profile)
{
  PkRoutingDiagnosis *d = g_object_new (PK_TYPE_ROUTING_DIAGNOSIS, NULL);
  const char *iface = pk_dongle_get_interface (self->dongle);
  const char *host = pk_dongle_get_host_address (self->dongle);
  int ifindex = iface ? (int) if_nametoindex (iface) : 0;
  char name[IF_NAMESIZE];

  d->id = pk_dongle_get_id (self->dongle);
  d->interface = g_strdup (iface);
  d->host_address = g_strdup (host);
  d->gateway = g_strdup (pk_dongle_get_gateway (self->dongle));
  d->table = pk_routing_get_table (self);
  d->rule_priority = pk_routing_get_rule_priority (self);
  d->expected_metric = pk_routing_get_metric (self);
  d->backend = backend;
  d->interface_present = ifindex > 0;

  for (guint i = 0; i < snap->addresses->len; i++)
    {
      PkRtnlAddress *a = g_ptr_array_index (snap->addresses, i);
      d->address_present |= ifindex > 0 && a->ifindex == ifindex && g_strcmp0 (a->address, host) == 0;
    }
  for (guint i = 0; i < snap->routes->len; i++)
    {
      PkRtnlRoute *r = g_ptr_array_index (snap->routes, i);

      if (ifindex > 0 && is_default (r, d->table) && r->oif == ifindex && g_strcmp0 (r->gateway, d->gateway) == 0)
        d->table_route_present = TRUE;
      if (is_default (r, RT_TABLE_MAIN))
        {
          if (ifindex > 0 && r->oif == ifindex)
            {
              if (d->metric < 0 || r->metric < d->metric)
                d->metric = r->metric;
            }
          else if (r->oif > 0 && !is_farm_interface (snap, r->oif) &&
                   (d->main_metric < 0 || r->metric < d->main_metric))
            {
              d->main_metric = r->metric;
              g_free (d->main_interface);
              d->main_interface = if_indextoname (r->oif, name) ? g_strdup (name) : NULL;
            }
        }
    }
  for (guint i = 0; i < snap->rules->len; i++)
    {
      PkRtnlRule *r = g_ptr_array_index (snap->rules, i);
      d->rule_present |= r->src_len == 32 && g_strcmp0 (r->src, host) == 0 && r->table == d->table;
    }
  d->takes_default = d->metric >= 0 && d->main_metric >= 0 && d->metric <= d->main_metric;

  if (profile != NULL)
    {
      d->connection_id = g_strdup (profile->connection_id);
      d->profile_table = profile->route_table;
      d->profile_metric = profile->route_metric;
      d->profile_rule = profile->rule_present;
    }

  /* What is wrong, in the order an operator would fix it. */
  if (iface == NULL)
    add_problem (d, "the dongle has no network interface");
  else if (!d->interface_present)
    add_problem (d, "interface %s is missing", iface);
  if (host == NULL)
    add_problem (d, "the dongle has no host address (192.168.%u.100)", d->id);
  else if (d->interface_present && !d->address_present)
    add_problem (d, "%s does not hold %s", iface, host);
  if (d->interface_present && d->address_present)
    {
      if (!d->table_route_present)
        add_problem (d, "table %u has no default route via %s dev %s", d->table, d->gateway, iface);
      if (!d->rule_present)
        add_problem (d, "no rule 'from %s lookup %u'", host, d->table);
      if (d->takes_default)
        add_problem (d, "the default route via %s (metric %" G_GINT64_FORMAT ") beats the main interface %s "
                     "(metric %" G_GINT64_FORMAT "): the host's own traffic leaves through the dongle",
                     iface, d->metric, d->main_interface, d->main_metric);
      else if (d->metric >= 0 && d->metric < d->expected_metric)
        add_problem (d, "the default route via %s has metric %" G_GINT64_FORMAT ", below %u",
                     iface, d->metric, d->expected_metric);
    }
  if (profile != NULL)
    {
      if (profile->route_table != d->table)
        add_problem (d, "NetworkManager profile '%s': ipv4.route-table is %" G_GINT64_FORMAT ", expected %u",
                     profile->connection_id, profile->route_table, d->table);
      if (!profile->rule_present)
        add_problem (d, "NetworkManager profile '%s' has no ipv4.routing-rules entry 'from %s table %u'",
                     profile->connection_id, host, d->table);
      if (profile->route_metric < d->expected_metric)
        add_problem (d, "NetworkManager profile '%s': ipv4.route-metric is %" G_GINT64_FORMAT ", expected %u",
                     profile->connection_id, profile->route_metric, d->expected_metric);
    }
  return d;
}

/* --- a diagnosis or a repair, step by step --- */

typedef struct {
  PkRtnlOp op;
  PkRtnlRoute *route;    /* or */
  PkRtnlRule *rule;
  char *action;          /* said when done */
} Change;

static void
change_free (Change *c)
{
  pk_rtnl_route_free (c->route);
  pk_rtnl_rule_free (c->rule);
  g_free (c->action);
  g_free (c);
}

typedef struct {
  gboolean repair;
  PkRoutingBackend backend;
  PkRoutingNmProfile *profile;
  PkRtnlSnapshot *snapshot;
  GPtrArray *changes;      /* Change */
  guint next_change;
  GPtrArray *actions;      /* char*, done so far */
  gint64 settle_deadline;
  GSource *timer;
} Run;

static void
run_free (Run *r)
{
  pk_routing_nm_profile_free (r->profile);
  pk_rtnl_snapshot_free (r->snapshot);
  g_clear_pointer (&r->changes, g_ptr_array_unref);
  g_ptr_array_unref (r->actions);
  if (r->timer != NULL)
    {
      g_source_destroy (r->timer);
      g_source_unref (r->timer);
    }
  g_free (r);
}

static void on_snapshot (GObject *source, GAsyncResult *result, gpointer user_data);

static PkRouting *
task_routing (GTask *task)
{
  return g_task_get_source_object (task);
}

static void
return_diagnosis (GTask              *task,
                  PkRoutingDiagnosis *d)
{
  Run *r = g_task_get_task_data (task);

  for (guint i = 0; i < r->actions->len; i++)
    g_ptr_array_add (d->actions, g_strdup (g_ptr_array_index (r->actions, i)));
  g_task_return_pointer (task, d, g_object_unref);
  g_object_unref (task);
}

static void
fail (GTask  *task,
      GError *error)
{
  PkRouting *self = task_routing (task);

  if (error->domain != G_IO_ERROR || error->code != G_IO_ERROR_CANCELLED)
    g_prefix_error (&error, "routing of dongle %u: ", pk_dongle_get_id (self->dongle));
  g_task_return_error (task, error);
  g_object_unref (task);
}

static void
take_snapshot (GTask *task)
{
  pk_rtnl_snapshot_async (g_task_get_cancellable (task), on_snapshot, task);
}

static void
add_change (Run         *r,
            PkRtnlOp     op,
            PkRtnlRoute *route,
            PkRtnlRule  *rule,
            char        *action)
{
  Change *c = g_new0 (Change, 1);

  c->op = op;
  c->route = route;
  c->rule = rule;
  c->action = action;
  g_ptr_array_add (r->changes, c);
}

static PkRtnlRoute *
copy_route (const PkRtnlRoute *from)
{
  PkRtnlRoute *r = g_new0 (PkRtnlRoute, 1);

  *r = *from;
  r->dst = g_strdup (from->dst);
  r->gateway = g_strdup (from->gateway);
  r->prefsrc = g_strdup (from->prefsrc);
  return r;
}

static PkRtnlRoute *
default_route (guint32     table,
               const char *gateway,
               int         ifindex,
               guint32     metric)
{
  PkRtnlRoute *r = g_new0 (PkRtnlRoute, 1);

  r->table = table;
  r->gateway = g_strdup (gateway);
  r->oif = ifindex;
  r->metric = metric;
  r->type = RTN_UNICAST;
  return r;
}

/* The kernel changes that make @d healthy, from the snapshot it came from. */
static void
plan_rtnetlink (PkRouting          *self,
                Run                *r,
                PkRoutingDiagnosis *d)
{
  PkRtnlSnapshot *snap = r->snapshot;
  int ifindex = (int) if_nametoindex (d->interface);

  r->changes = g_ptr_array_new_with_free_func ((GDestroyNotify) change_free);

  /* Table N: our default route, and no other default in it. */
  if (!d->table_route_present)
    {
      PkRtnlRoute *route = default_route (d->table, d->gateway, ifindex, 0);
      g_autofree char *text = pk_rtnl_route_to_string (route);

      add_change (r, PK_RTNL_REPLACE, route, NULL, g_strdup_printf ("added route %s", text));
    }
  for (guint i = 0; i < snap->routes->len; i++)
    {
      PkRtnlRoute *route = g_ptr_array_index (snap->routes, i);
      g_autofree char *text = NULL;

      if (!is_default (route, d->table) || (route->oif == ifindex && g_strcmp0 (route->gateway, d->gateway) == 0))
        continue;
      if (route->metric == 0 && !d->table_route_present)
        continue;   /* replaced by ours */
      text = pk_rtnl_route_to_string (route);
      add_change (r, PK_RTNL_DELETE, copy_route (route), NULL, g_strdup_printf ("deleted route %s", text));
    }

  /* The rule, and no rule from our address to another table. */
  if (!d->rule_present)
    {
      PkRtnlRule *rule = g_new0 (PkRtnlRule, 1);
      g_autofree char *text = NULL;

      rule->priority = d->rule_priority;
      rule->src = g_strdup (d->host_address);
      rule->src_len = 32;
      rule->table = d->table;
      text = pk_rtnl_rule_to_string (rule);
      add_change (r, PK_RTNL_ADD, NULL, rule, g_strdup_printf ("added rule %s", text));
    }
  for (guint i = 0; i < snap->rules->len; i++)
    {
      PkRtnlRule *rule = g_ptr_array_index (snap->rules, i);
      PkRtnlRule *copy;
      g_autofree char *text = NULL;

      if (rule->src_len != 32 || g_strcmp0 (rule->src, d->host_address) != 0 || rule->table == d->table)
        continue;
      copy = g_new0 (PkRtnlRule, 1);
      copy->priority = rule->priority;
      copy->src = g_strdup (rule->src);
      copy->src_len = 32;
      copy->table = rule->table;
      text = pk_rtnl_rule_to_string (copy);
      add_change (r, PK_RTNL_DELETE, NULL, copy, g_strdup_printf ("deleted rule %s", text));
    }

  /* A main-table default route of the dongle with too low a metric: the
   * same route at the right metric first, then the low one goes, so that
   * the dongle never loses its route in between. */
  if (d->metric >= 0 && (d->takes_default || d->metric < d->expected_metric))
    {
      gboolean have_good = FALSE;

      for (guint i = 0; i < snap->routes->len; i++)
        {
          PkRtnlRoute *route = g_ptr_array_index (snap->routes, i);
          have_good |= is_default (route, RT_TABLE_MAIN) && route->oif == ifindex &&
                       route->metric == d->expected_metric;
        }
      if (!have_good)
        {
          PkRtnlRoute *route = default_route (RT_TABLE_MAIN, d->gateway, ifindex, d->expected_metric);
          g_autofree char *text = pk_rtnl_route_to_string (route);

          add_change (r, PK_RTNL_REPLACE, route, NULL, g_strdup_printf ("added route %s", text));
        }
      for (guint i = 0; i < snap->routes->len; i++)
        {
          PkRtnlRoute *route = g_ptr_array_index (snap->routes, i);
          g_autofree char *text = NULL;

          if (!is_default (route, RT_TABLE_MAIN) || route->oif != ifindex || route->metric >= d->expected_metric)
            continue;
          text = pk_rtnl_route_to_string (route);
          add_change (r, PK_RTNL_DELETE, copy_route (route), NULL,
                      g_strdup_printf ("deleted route %s (it took the host's default route)", text));
        }
    }
}

static void next_change (GTask *task);

static void
on_change_done (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  GTask *task = user_data;
  Run *r = g_task_get_task_data (task);
  Change *c = g_ptr_array_index (r->changes, r->next_change - 1);
  GError *error = NULL;

  if (!pk_rtnl_change_finish (result, &error))
    {
      /* Someone else made or removed it in the meantime: the end state
       * is what we wanted. */
      if (!(g_error_matches (error, G_IO_ERROR, G_IO_ERROR_EXISTS) && c->op != PK_RTNL_DELETE) &&
          !(g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) && c->op == PK_RTNL_DELETE))
        {
          fail (task, error);
          return;
        }
      g_clear_error (&error);
    }
  else
    g_ptr_array_add (r->actions, g_strdup (c->action));
  next_change (task);
}

static void
next_change (GTask *task)
{
  Run *r = g_task_get_task_data (task);
  Change *c;

  if (r->next_change == r->changes->len)
    {
      /* Done: look again, and say how it is now. */
      g_clear_pointer (&r->snapshot, pk_rtnl_snapshot_free);
      r->repair = FALSE;
      take_snapshot (task);
      return;
    }
  c = g_ptr_array_index (r->changes, r->next_change++);
  if (c->route != NULL)
    pk_rtnl_change_route_async (c->op, c->route, g_task_get_cancellable (task), on_change_done, task);
  else
    pk_rtnl_change_rule_async (c->op, c->rule, g_task_get_cancellable (task), on_change_done, task);
}

static gboolean
settle_tick (gpointer user_data)
{
  GTask *task = user_data;
  Run *r = g_task_get_task_data (task);

  g_clear_pointer (&r->timer, g_source_unref);
  take_snapshot (task);
  return G_SOURCE_REMOVE;
}

static gboolean
kernel_part_healthy (PkRoutingDiagnosis *d)
{
  return d->interface_present && d->address_present && d->table_route_present && d->rule_present &&
         !d->takes_default && (d->metric < 0 || d->metric >= d->expected_metric);
}

static void
on_nm_applied (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  GTask *task = user_data;
  Run *r = g_task_get_task_data (task);
  PkRouting *self = task_routing (task);
  GError *error = NULL;
  g_auto(GStrv) actions = pk_routing_nm_apply_finish (result, &error);

  if (actions == NULL)
    {
      fail (task, error);
      return;
    }
  for (guint i = 0; actions[i] != NULL; i++)
    g_ptr_array_add (r->actions, g_strdup (actions[i]));
  /* The profile holds what we set (libnm's copy follows a little later). */
  r->profile->route_table = pk_routing_get_table (self);
  r->profile->route_metric = pk_routing_get_metric (self);
  r->profile->rule_present = TRUE;
  /* NetworkManager applies it in its own time: look until the kernel
   * shows it, for a short while. */
  r->repair = FALSE;
  r->settle_deadline = g_get_monotonic_time () + NM_SETTLE_MS * G_TIME_SPAN_MILLISECOND;
  g_clear_pointer (&r->snapshot, pk_rtnl_snapshot_free);
  take_snapshot (task);
}

static void
on_snapshot (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  GTask *task = user_data;
  Run *r = g_task_get_task_data (task);
  PkRouting *self = task_routing (task);
  GError *error = NULL;
  PkRoutingDiagnosis *d;

  r->snapshot = pk_rtnl_snapshot_finish (result, &error);
  if (r->snapshot == NULL)
    {
      fail (task, error);
      return;
    }
  d = diagnose (self, r->snapshot, r->backend, r->profile);

  if (r->settle_deadline > 0 && !kernel_part_healthy (d) && g_get_monotonic_time () < r->settle_deadline)
    {
      g_object_unref (d);
      g_clear_pointer (&r->snapshot, pk_rtnl_snapshot_free);
      r->timer = pk_timeout_source_attach (g_task_get_context (task), NM_SETTLE_STEP_MS, settle_tick, task);
      return;
    }
  if (!r->repair || pk_routing_diagnosis_get_healthy (d))
    {
      return_diagnosis (task, d);
      return;
    }

  /* A repair needs the interface and its address: without them there is
   * nothing to route through (the dongle needs a USB reset, not routes). */
  if (!d->interface_present || !d->address_present || pk_dongle_get_id (self->dongle) == 0)
    {
      g_autofree char *why = g_strjoinv ("; ", (char **) d->problems->pdata);

      g_object_unref (d);
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_FAILED,
                               "routing of dongle %u cannot be repaired: %s",
                               pk_dongle_get_id (self->dongle), why);
      g_object_unref (task);
      return;
    }

  if (r->backend == PK_ROUTING_BACKEND_NETWORKMANAGER)
    {
      pk_routing_nm_apply_async (d->interface, d->host_address, d->table, d->expected_metric,
                                 d->rule_priority, g_task_get_cancellable (task), on_nm_applied, task);
      g_object_unref (d);
      return;
    }
  plan_rtnetlink (self, r, d);
  g_object_unref (d);
  next_change (task);
}

static void
on_nm_lookup (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GTask *task = user_data;
  Run *r = g_task_get_task_data (task);
  PkRouting *self = task_routing (task);
  GError *error = NULL;

  if (!pk_routing_nm_lookup_finish (result, &r->profile, &error))
    {
      fail (task, error);
      return;
    }
  if (r->profile == NULL && self->backend == PK_ROUTING_BACKEND_NETWORKMANAGER)
    {
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_NOT_SUPPORTED,
                               "routing of dongle %u: NetworkManager does not manage %s (no active connection on it)",
                               pk_dongle_get_id (self->dongle), pk_dongle_get_interface (self->dongle));
      g_object_unref (task);
      return;
    }
  r->backend = r->profile != NULL ? PK_ROUTING_BACKEND_NETWORKMANAGER : PK_ROUTING_BACKEND_RTNETLINK;
  take_snapshot (task);
}

static void
start (PkRouting           *self,
       gboolean             repair,
       gpointer             source_tag,
       GCancellable        *cancellable,
       GAsyncReadyCallback  callback,
       gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  Run *r = g_new0 (Run, 1);
  const char *iface = pk_dongle_get_interface (self->dongle);

  g_task_set_source_tag (task, source_tag);
  r->repair = repair;
  r->actions = g_ptr_array_new_with_free_func (g_free);
  g_task_set_task_data (task, r, (GDestroyNotify) run_free);

  if (self->backend == PK_ROUTING_BACKEND_RTNETLINK || iface == NULL)
    {
      r->backend = PK_ROUTING_BACKEND_RTNETLINK;
      take_snapshot (task);
      return;
    }
  pk_routing_nm_lookup_async (iface, pk_dongle_get_host_address (self->dongle), pk_routing_get_table (self),
                              cancellable, on_nm_lookup, task);
}

/**
 * pk_routing_diagnose_async:
 * @self: a [class@Routing]
 * @cancellable: (nullable): a `GCancellable`
 * @callback: called with the diagnosis
 * @user_data: data for @callback
 *
 * Looks at the dongle's routing (and at its NetworkManager profile where
 * NetworkManager manages the interface) without changing anything.
 *
 * Since: 0.2
 */
void
pk_routing_diagnose_async (PkRouting           *self,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_return_if_fail (PK_IS_ROUTING (self));
  start (self, FALSE, pk_routing_diagnose_async, cancellable, callback, user_data);
}

/**
 * pk_routing_diagnose_finish:
 * @self: a [class@Routing]
 * @result: the result
 * @error: return location for a `GError`
 *
 * Finishes the operation that `pk_routing_diagnose_async()` started.
 *
 * Returns: (transfer full) (nullable): the diagnosis, or %NULL with @error
 *   set (rtnetlink refused, cancelled)
 *
 * Since: 0.2
 */
PkRoutingDiagnosis *
pk_routing_diagnose_finish (PkRouting     *self,
                            GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (PK_IS_ROUTING (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pk_routing_diagnose_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * pk_routing_repair_async:
 * @self: a [class@Routing]
 * @cancellable: (nullable): a `GCancellable`
 * @callback: called with the diagnosis after the repair
 * @user_data: data for @callback
 *
 * Diagnoses, and fixes what is wrong: adds table N's default route and
 * the rule (removing other defaults of table N and other rules from the
 * dongle's address), and moves a main-table default route of the dongle
 * with too low a metric to the expected metric. Through NetworkManager,
 * it changes and reapplies the profile instead, then waits briefly for
 * the kernel to show it. A dongle without its interface or address
 * cannot be repaired (%PK_ERROR_FAILED).
 *
 * Since: 0.2
 */
void
pk_routing_repair_async (PkRouting           *self,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_return_if_fail (PK_IS_ROUTING (self));
  start (self, TRUE, pk_routing_repair_async, cancellable, callback, user_data);
}

/**
 * pk_routing_repair_finish:
 * @self: a [class@Routing]
 * @result: the result
 * @error: return location for a `GError`
 *
 * Finishes the operation that `pk_routing_repair_async()` started.
 *
 * Returns: (transfer full) (nullable): the diagnosis after the repair,
 *   with [method@RoutingDiagnosis.get_actions] saying what was done, or
 *   %NULL with @error set
 *
 * Since: 0.2
 */
PkRoutingDiagnosis *
pk_routing_repair_finish (PkRouting     *self,
                          GAsyncResult  *result,
                          GError       **error)
{
  g_return_val_if_fail (PK_IS_ROUTING (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pk_routing_repair_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
