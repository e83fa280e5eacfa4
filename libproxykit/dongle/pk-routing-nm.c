/* pk-routing-nm.c: a dongle's routing through NetworkManager's connection profile
 *
 * Where NetworkManager manages a dongle's interface, routes and rules set
 * behind its back are gone at the next DHCP renewal or reapply. The
 * profile is changed instead (ipv4.route-table, ipv4.routing-rules,
 * ipv4.route-metric), saved, and reapplied to the device, as `nmcli con
 * modify` and `nmcli dev reapply` do.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#ifdef HAVE_LIBNM
#include <NetworkManager.h>

/* libnm 1.42 has no autoptr for it. */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NMIPRoutingRule, nm_ip_routing_rule_unref)
#endif

#include "pk-error.h"
#include "pk-routing-private.h"

void
pk_routing_nm_profile_free (PkRoutingNmProfile *profile)
{
  if (profile == NULL)
    return;
  g_free (profile->connection_id);
  g_free (profile->uuid);
  g_free (profile);
}

#ifdef HAVE_LIBNM

/* --- one NMClient per process (for the first main context that asks) --- */

static GMainContext *cached_context;
static NMClient *cached_client;
static GList *waiters;
static gboolean creating;

static void
on_client (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  NMClient *client = nm_client_new_finish (result, &error);
  GList *list = g_steal_pointer (&waiters);

  creating = FALSE;
  if (client != NULL)
    cached_client = client;
  for (GList *l = list; l != NULL; l = l->next)
    {
      GTask *task = l->data;

      if (client != NULL)
        g_task_return_pointer (task, g_object_ref (client), g_object_unref);
      else
        g_task_return_error (task, g_error_copy (error));
      g_object_unref (task);
    }
  g_list_free (list);
}

static void
on_private_client (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  GTask *task = user_data;
  GError *error = NULL;
  NMClient *client = nm_client_new_finish (result, &error);

  if (client != NULL)
    g_task_return_pointer (task, client, g_object_unref);
  else
    g_task_return_error (task, error);
  g_object_unref (task);
}

static void
get_client_async (GCancellable        *cancellable,
                  GAsyncReadyCallback  callback,
                  gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  GMainContext *context = g_main_context_get_thread_default ();

  if (context == NULL)
    context = g_main_context_default ();
  if (cached_context == NULL)
    cached_context = g_main_context_ref (context);
  if (cached_context != context)
    {
      /* Another thread's context: a client of its own, not kept. */
      nm_client_new_async (cancellable, on_private_client, task);
      return;
    }
  if (cached_client != NULL)
    {
      g_task_return_pointer (task, g_object_ref (cached_client), g_object_unref);
      g_object_unref (task);
      return;
    }
  waiters = g_list_append (waiters, task);
  if (!creating)
    {
      creating = TRUE;
      nm_client_new_async (NULL, on_client, NULL);
    }
}

static NMClient *
get_client_finish (GAsyncResult  *result,
                   GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* The device and the profile active on it, if NM manages @interface. */
static NMRemoteConnection *
managed_connection (NMClient    *client,
                    const char  *interface,
                    NMDevice   **out_device)
{
  NMDevice *device;
  NMActiveConnection *active;

  if (!nm_client_get_nm_running (client))
    return NULL;
  device = nm_client_get_device_by_iface (client, interface);
  if (device == NULL || !nm_device_get_managed (device))
    return NULL;
  active = nm_device_get_active_connection (device);
  if (active == NULL)
    return NULL;
  if (out_device != NULL)
    *out_device = device;
  return nm_active_connection_get_connection (active);
}

static gboolean
rule_is_ours (NMIPRoutingRule *rule,
              const char      *host_address)
{
  return nm_ip_routing_rule_get_addr_family (rule) == AF_INET &&
         g_strcmp0 (nm_ip_routing_rule_get_from (rule), host_address) == 0 &&
         nm_ip_routing_rule_get_from_len (rule) == 32;
}

/* --- lookup --- */

typedef struct {
  char *interface;
  char *host_address;
  guint table;
} Lookup;

static void
lookup_free (Lookup *l)
{
  g_free (l->interface);
  g_free (l->host_address);
  g_free (l);
}

static void
lookup_got_client (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Lookup *l = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(NMClient) client = get_client_finish (result, &error);
  PkRoutingNmProfile *profile;
  NMRemoteConnection *remote;
  NMSettingIPConfig *ip4;

  if (client == NULL)
    {
      /* No system bus, no NetworkManager: nothing manages the interface. */
      g_debug ("NetworkManager not reachable: %s", error->message);
      g_task_return_pointer (task, NULL, NULL);
      return;
    }
  remote = managed_connection (client, l->interface, NULL);
  if (remote == NULL)
    {
      g_task_return_pointer (task, NULL, NULL);
      return;
    }
  profile = g_new0 (PkRoutingNmProfile, 1);
  profile->connection_id = g_strdup (nm_connection_get_id (NM_CONNECTION (remote)));
  profile->uuid = g_strdup (nm_connection_get_uuid (NM_CONNECTION (remote)));
  profile->route_metric = -1;
  ip4 = nm_connection_get_setting_ip4_config (NM_CONNECTION (remote));
  if (ip4 != NULL)
    {
      profile->route_table = nm_setting_ip_config_get_route_table (ip4);
      profile->route_metric = nm_setting_ip_config_get_route_metric (ip4);
      for (guint i = 0; i < nm_setting_ip_config_get_num_routing_rules (ip4); i++)
        {
          NMIPRoutingRule *rule = nm_setting_ip_config_get_routing_rule (ip4, i);

          if (rule_is_ours (rule, l->host_address) && nm_ip_routing_rule_get_table (rule) == l->table)
            profile->rule_present = TRUE;
        }
    }
  g_task_return_pointer (task, profile, (GDestroyNotify) pk_routing_nm_profile_free);
}

void
pk_routing_nm_lookup_async (const char          *interface,
                            const char          *host_address,
                            guint                table,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  Lookup *l = g_new0 (Lookup, 1);

  g_task_set_source_tag (task, pk_routing_nm_lookup_async);
  l->interface = g_strdup (interface);
  l->host_address = g_strdup (host_address);
  l->table = table;
  g_task_set_task_data (task, l, (GDestroyNotify) lookup_free);
  get_client_async (cancellable, lookup_got_client, task);
}

/* --- apply --- */

typedef struct {
  char *interface;
  char *host_address;
  guint table;
  guint metric;
  guint priority;
  NMDevice *device;
  GPtrArray *actions;
} Apply;

static void
apply_free (Apply *a)
{
  g_free (a->interface);
  g_free (a->host_address);
  g_clear_object (&a->device);
  g_ptr_array_unref (a->actions);
  g_free (a);
}

static void
on_reapplied (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Apply *a = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (!nm_device_reapply_finish (NM_DEVICE (source), result, &error))
    {
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_FAILED,
                               "NetworkManager could not reapply the profile to %s: %s",
                               a->interface, error->message);
      return;
    }
  g_ptr_array_add (a->actions, g_strdup_printf ("reapplied the profile to %s", a->interface));
  g_ptr_array_add (a->actions, NULL);
  g_task_return_pointer (task, g_ptr_array_steal (a->actions, NULL), (GDestroyNotify) g_strfreev);
}

static void
on_updated (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Apply *a = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) out = nm_remote_connection_update2_finish (NM_REMOTE_CONNECTION (source), result, &error);

  if (out == NULL)
    {
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_FAILED,
                               "NetworkManager refused the change of profile '%s': %s",
                               nm_connection_get_id (NM_CONNECTION (source)), error->message);
      return;
    }
  /* NULL: the profile as it is saved now. */
  nm_device_reapply_async (a->device, NULL, 0, 0, g_task_get_cancellable (task), on_reapplied,
                           g_object_ref (task));
}

static void
apply_got_client (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Apply *a = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(NMClient) client = get_client_finish (result, &error);
  g_autoptr(NMConnection) copy = NULL;
  g_autoptr(NMIPRoutingRule) rule = NULL;
  g_autofree char *rule_text = NULL;
  NMRemoteConnection *remote;
  NMSettingIPConfig *ip4;
  NMDevice *device = NULL;
  GVariant *settings;

  if (client == NULL)
    {
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_NOT_SUPPORTED,
                               "cannot reach NetworkManager: %s", error->message);
      return;
    }
  remote = managed_connection (client, a->interface, &device);
  if (remote == NULL)
    {
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_NOT_SUPPORTED,
                               "NetworkManager has no active connection on %s", a->interface);
      return;
    }
  a->device = g_object_ref (device);

  copy = nm_simple_connection_new_clone (NM_CONNECTION (remote));
  ip4 = nm_connection_get_setting_ip4_config (copy);
  if (ip4 == NULL)
    {
      ip4 = NM_SETTING_IP_CONFIG (nm_setting_ip4_config_new ());
      nm_connection_add_setting (copy, NM_SETTING (ip4));
    }

  rule = nm_ip_routing_rule_new (AF_INET);
  nm_ip_routing_rule_set_priority (rule, a->priority);
  nm_ip_routing_rule_set_from (rule, a->host_address, 32);
  nm_ip_routing_rule_set_table (rule, a->table);
  if (!nm_ip_routing_rule_validate (rule, &error))
    {
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                               "routing rule for %s: %s", a->host_address, error->message);
      return;
    }
  rule_text = nm_ip_routing_rule_to_string (rule, NM_IP_ROUTING_RULE_AS_STRING_FLAGS_NONE, NULL, NULL);

  /* Other rules from this address (an older table) would shadow ours. */
  for (guint i = nm_setting_ip_config_get_num_routing_rules (ip4); i-- > 0;)
    if (rule_is_ours (nm_setting_ip_config_get_routing_rule (ip4, i), a->host_address))
      nm_setting_ip_config_remove_routing_rule (ip4, i);
  nm_setting_ip_config_add_routing_rule (ip4, rule);
  g_object_set (ip4,
                NM_SETTING_IP_CONFIG_ROUTE_TABLE, (guint) a->table,
                NM_SETTING_IP_CONFIG_ROUTE_METRIC, (gint64) a->metric,
                NULL);

  g_ptr_array_add (a->actions, g_strdup_printf ("set ipv4.route-table %u, ipv4.routing-rules '%s', "
                                                "ipv4.route-metric %u on NetworkManager profile '%s'",
                                                a->table, rule_text, a->metric,
                                                nm_connection_get_id (NM_CONNECTION (remote))));
  settings = nm_connection_to_dbus (copy, NM_CONNECTION_SERIALIZE_ALL);
  nm_remote_connection_update2 (remote, settings, NM_SETTINGS_UPDATE2_FLAG_TO_DISK, NULL,
                                g_task_get_cancellable (task), on_updated, g_object_ref (task));
}

void
pk_routing_nm_apply_async (const char          *interface,
                           const char          *host_address,
                           guint                table,
                           guint                metric,
                           guint                rule_priority,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  Apply *a = g_new0 (Apply, 1);

  g_task_set_source_tag (task, pk_routing_nm_apply_async);
  a->interface = g_strdup (interface);
  a->host_address = g_strdup (host_address);
  a->table = table;
  a->metric = metric;
  a->priority = rule_priority;
  a->actions = g_ptr_array_new_with_free_func (g_free);
  g_task_set_task_data (task, a, (GDestroyNotify) apply_free);
  get_client_async (cancellable, apply_got_client, task);
}

#else /* !HAVE_LIBNM */

void
pk_routing_nm_lookup_async (const char          *interface,
                            const char          *host_address,
                            guint                table,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, pk_routing_nm_lookup_async);
  g_task_return_pointer (task, NULL, NULL);
  g_object_unref (task);
}

void
pk_routing_nm_apply_async (const char          *interface,
                           const char          *host_address,
                           guint                table,
                           guint                metric,
                           guint                rule_priority,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, pk_routing_nm_apply_async);
  g_task_return_new_error (task, PK_ERROR, PK_ERROR_NOT_SUPPORTED,
                           "this libproxykit was built without libnm");
  g_object_unref (task);
}

#endif /* HAVE_LIBNM */

gboolean
pk_routing_nm_lookup_finish (GAsyncResult        *result,
                             PkRoutingNmProfile **out_profile,
                             GError             **error)
{
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  *out_profile = g_task_propagate_pointer (G_TASK (result), &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return TRUE;
}

char **
pk_routing_nm_apply_finish (GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
