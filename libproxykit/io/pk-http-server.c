/* pk-http-server.c: the libsoup server of PkToggleServer and PkMetricsServer
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "pk-http-server-private.h"
#include "pk-util-private.h"

SoupServer *
pk_http_server_listen (const char          *address,
                       const char          *server_header,
                       SoupServerCallback   callback,
                       gpointer             user_data,
                       guint16             *port,
                       GError             **error)
{
  g_autoptr(GSocketAddress) sa = pk_parse_listen_address (address, 0, error);
  g_autoptr(SoupServer) server = NULL;
  GSList *uris;

  if (sa == NULL)
    return NULL;
  server = soup_server_new ("server-header", server_header, NULL);
  soup_server_add_handler (server, NULL, callback, user_data, NULL);
  if (!soup_server_listen (server, sa, 0, error))
    {
      g_prefix_error (error, "cannot listen on %s: ", address);
      return NULL;
    }
  uris = soup_server_get_uris (server);
  *port = uris != NULL ? g_uri_get_port (uris->data) : 0;
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return g_steal_pointer (&server);
}
