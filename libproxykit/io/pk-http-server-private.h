/* pk-http-server-private.h: the libsoup server of PkToggleServer and
 * PkMetricsServer
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <libsoup/soup.h>

#include "pk-http-listener-private.h"

G_BEGIN_DECLS

/* A SoupServer with @callback on every path, listening on @address
 * ("ADDRESS:PORT", port 0 for any free one, see pk_parse_listen_address())
 * through a PkHttpListener (*@out_listener: idle timeout, connection cap,
 * an accept loop that survives EMFILE); *@port is set to the port it got.
 * NULL with @error set
 * (PK_ERROR_INVALID_ARGUMENT for a bad address, GIO's error naming the
 * address when it cannot be listened on). */
SoupServer *pk_http_server_listen (const char          *address,
                                   const char          *server_header,
                                   SoupServerCallback   callback,
                                   gpointer             user_data,
                                   PkHttpListener     **out_listener,
                                   guint16             *port,
                                   GError             **error);
/* Stops listening, disconnects the server's clients and clears both. */
void        pk_http_server_stop   (SoupServer         **server,
                                   PkHttpListener     **listener);

G_END_DECLS
