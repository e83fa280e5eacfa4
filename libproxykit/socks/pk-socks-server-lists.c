/* pk-socks-server-lists.c: the access lists a PkSocksServer keeps up to date
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "pk-access-list-private.h"
#include "pk-prom-private.h"
#include "pk-socks-server-private.h"

static void
access_list_changed_cb (PkAccessList *list,
                        gpointer      user_data)
{
  /* Only new sessions see it: live ones hold the policy they started with. */
  pk_socks_server_rebuild_policy (user_data);
}

static void
set_access_list (PkSocksServer  *self,
                 PkAccessList  **field,
                 gulong         *handler,
                 PkAccessList   *list)
{
  g_autoptr(PkAccessList) old = NULL;

  if (*field == list)
    return;
  if (*field != NULL)
    {
      g_clear_signal_handler (handler, *field);
      pk_access_list_stop (*field);
    }
  g_mutex_lock (&self->lock);
  old = g_steal_pointer (field);
  *field = list != NULL ? g_object_ref (list) : NULL;
  g_mutex_unlock (&self->lock);
  if (list != NULL)
    {
      *handler = g_signal_connect (list, "changed", G_CALLBACK (access_list_changed_cb), self);
      if (self->listeners->len > 0 && !self->stopping)
        pk_access_list_start (list);
    }
  pk_socks_server_rebuild_policy (self);
}

/**
 * pk_socks_server_set_allow_access_list:
 * @self: a [class@SocksServer]
 * @list: (nullable): an access list of client addresses, or %NULL for none
 *
 * Lets in the clients of @list too, as if its entries were in the
 * allowlist of [method@SocksServer.set_allowlist] (the two add up). The
 * server keeps the list up to date while it listens (it starts and stops
 * it) and applies each new copy to new clients; live sessions go on.
 *
 * A server with an allow access list has a client allowlist (for the
 * open-listener rule, see [property@SocksServer:allow-open]), and until
 * the list has a copy loaded (fetched or cached) it lets in only the
 * clients of the allowlist set, if any: it fails closed.
 *
 * Since: 0.2
 */
void
pk_socks_server_set_allow_access_list (PkSocksServer *self,
                                       PkAccessList  *list)
{
  g_return_if_fail (PK_IS_SOCKS_SERVER (self));
  g_return_if_fail (list == NULL || PK_IS_ACCESS_LIST (list));

  set_access_list (self, &self->allow_list, &self->allow_list_handler, list);
}

/**
 * pk_socks_server_get_allow_access_list:
 * @self: a [class@SocksServer]
 *
 * Gets the access list of client addresses.
 *
 * Returns: (transfer none) (nullable): the list of
 *   [method@SocksServer.set_allow_access_list]
 *
 * Since: 0.2
 */
PkAccessList *
pk_socks_server_get_allow_access_list (PkSocksServer *self)
{
  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), NULL);
  return self->allow_list;
}

/**
 * pk_socks_server_set_deny_access_list:
 * @self: a [class@SocksServer]
 * @list: (nullable): an access list of destinations, or %NULL for none
 *
 * Refuses the destinations of @list too, on top of the denylist of
 * [method@SocksServer.set_denylist]. The server keeps the list up to
 * date while it listens and applies each new copy to new requests. Until
 * a copy is loaded, it adds nothing.
 *
 * Since: 0.2
 */
void
pk_socks_server_set_deny_access_list (PkSocksServer *self,
                                      PkAccessList  *list)
{
  g_return_if_fail (PK_IS_SOCKS_SERVER (self));
  g_return_if_fail (list == NULL || PK_IS_ACCESS_LIST (list));

  set_access_list (self, &self->deny_list, &self->deny_list_handler, list);
}

/**
 * pk_socks_server_get_deny_access_list:
 * @self: a [class@SocksServer]
 *
 * Gets the access list of refused destinations.
 *
 * Returns: (transfer none) (nullable): the list of
 *   [method@SocksServer.set_deny_access_list]
 *
 * Since: 0.2
 */
PkAccessList *
pk_socks_server_get_deny_access_list (PkSocksServer *self)
{
  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), NULL);
  return self->deny_list;
}

void
pk_socks_server_listener_added (PkSocksServer  *self,
                                GSocketAddress *address)
{
  gboolean was_non_loopback = self->non_loopback;

  self->non_loopback |= !pk_socket_address_is_loopback (address);
  if (self->non_loopback != was_non_loopback)
    pk_socks_server_rebuild_policy (self);
  if (self->allow_list != NULL && !pk_access_list_is_started (self->allow_list))
    pk_access_list_start (self->allow_list);
  if (self->deny_list != NULL && !pk_access_list_is_started (self->deny_list))
    pk_access_list_start (self->deny_list);
}

void
pk_socks_server_stop_access_lists (PkSocksServer *self)
{
  if (self->allow_list != NULL)
    pk_access_list_stop (self->allow_list);
  if (self->deny_list != NULL)
    pk_access_list_stop (self->deny_list);
}

/* The access lists of listeners that have any (allow-url, deny-url). */
void
pk_socks_server_write_access_list_metrics (PkPromWriter          *w,
                                           PkSocksServer * const *servers,
                                           guint                  n_servers)
{
  static const struct {
    const char *name;
    PkPromType type;
    const char *help;
  } families[] = {
    { "proxykit_socks_access_list_entries", PK_PROM_GAUGE,
      "Addresses and CIDRs of the access list loaded, by listener and list (allow: clients, deny: destinations)." },
    { "proxykit_socks_access_list_loaded", PK_PROM_GAUGE,
      "1 once a copy of the access list is loaded (fetched or cached); an allow list denies every client before." },
    { "proxykit_socks_access_list_last_success_timestamp_seconds", PK_PROM_GAUGE,
      "When a fetch of the access list last succeeded (0: never)." },
    { "proxykit_socks_access_list_fetch_failures_total", PK_PROM_COUNTER,
      "Fetches of the access list that failed or brought a malformed copy (the old list was kept)." },
  };
  gboolean any = FALSE;

  for (guint i = 0; i < n_servers; i++)
    any |= servers[i]->allow_list != NULL || servers[i]->deny_list != NULL;
  if (!any)
    return;
  for (guint f = 0; f < G_N_ELEMENTS (families); f++)
    {
      pk_prom_writer_family (w, families[f].name, families[f].type, families[f].help);
      for (guint i = 0; i < n_servers; i++)
        for (guint k = 0; k < 2; k++)
          {
            PkAccessList *list = k == 0 ? servers[i]->allow_list : servers[i]->deny_list;
            guint64 value;

            if (list == NULL)
              continue;
            switch (f)
              {
              case 0: value = pk_access_list_get_n_entries (list); break;
              case 1: value = pk_access_list_get_loaded (list); break;
              case 2: value = pk_access_list_get_last_success (list); break;
              default: value = pk_access_list_get_fetch_failures (list); break;
              }
            pk_prom_writer_sample_uint (w, families[f].name, value,
                                        "listener", pk_socks_server_get_name (servers[i]),
                                        "list", k == 0 ? "allow" : "deny", NULL);
          }
    }
}
