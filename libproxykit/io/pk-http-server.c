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
                       PkHttpListener     **out_listener,
                       guint16             *port,
                       GError             **error)
{
  g_autoptr(GSocketAddress) sa = pk_parse_listen_address (address, 0, error);
  g_autoptr(SoupServer) server = NULL;

  if (sa == NULL)
    return NULL;
  server = soup_server_new ("server-header", server_header, NULL);
  soup_server_add_handler (server, NULL, callback, user_data, NULL);
  /* Not soup_server_listen(): idle timeouts, a connection cap and an
   * accept loop that outlives EMFILE. */
  *out_listener = pk_http_listener_new (server, sa, NULL, error);
  if (*out_listener == NULL)
    {
      g_prefix_error (error, "cannot listen on %s: ", address);
      return NULL;
    }
  *port = pk_http_listener_get_port (*out_listener);
  return g_steal_pointer (&server);
}

void
pk_http_server_stop (SoupServer     **server,
                     PkHttpListener **listener)
{
  g_clear_pointer (listener, pk_http_listener_free);
  if (*server != NULL)
    {
      soup_server_disconnect (*server);
      g_clear_object (server);
    }
}
