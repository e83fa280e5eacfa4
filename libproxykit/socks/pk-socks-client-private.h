/* pk-socks-client-private.h: the client side of a SOCKS5 CONNECT, on the codec
 *
 * For probes and checks that go through a SOCKS listener: a no-auth
 * greeting, then a CONNECT, over a stream the caller connected. Messages
 * are built and read with pk-socks-proto.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Greets the proxy on @stream (no authentication) and asks it to CONNECT
 * to @host:@port: an IP literal goes as an address, anything else as a
 * name for the proxy to resolve. */
void     pk_socks_client_connect_async  (GIOStream            *stream,
                                         const char           *host,
                                         guint16               port,
                                         GCancellable         *cancellable,
                                         GAsyncReadyCallback   callback,
                                         gpointer              user_data);
/* TRUE once the proxy answered the CONNECT, with its reply code in
 * *out_reply (0: succeeded; see pk_socks_reply_to_string()). FALSE with
 * @error for a transport error, a malformed answer (PK_ERROR_PROTOCOL), a
 * proxy that wants authentication (PK_ERROR_AUTH_FAILED) or a target that
 * cannot be put in a request (PK_ERROR_INVALID_ARGUMENT). */
gboolean pk_socks_client_connect_finish (GAsyncResult         *result,
                                         guint8               *out_reply,
                                         GError              **error);

G_END_DECLS
