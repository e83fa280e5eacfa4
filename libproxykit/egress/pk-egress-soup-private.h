/* pk-egress-soup-private.h: libsoup sessions whose connections leave through an egress
 *
 * The one way the library puts a PkEgress on a SoupSession (the HiLink
 * client, HTTP probes): no proxy from the environment, the source address
 * bound at construction, the rest of the egress applied to each socket.
 * Built only with libsoup.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <libsoup/soup.h>

#include "pk-egress.h"

G_BEGIN_DECLS

/* A SoupSession whose connections all leave through @egress (NULL: the
 * default route, still without a proxy):
 *  - "proxy-resolver" is NULL: an http_proxy from the environment would
 *    send the traffic to the proxy instead of out through the egress;
 *  - "local-address" (construct-only) holds the egress's source address;
 *  - the interface, mark and TTL are applied to each new socket of a
 *    message passed to pk_egress_soup_message_prepare().
 * More properties follow as for g_object_new(). */
SoupSession *pk_egress_soup_session_new         (PkEgress    *egress,
                                                 const char  *first_property_name,
                                                 ...) G_GNUC_NULL_TERMINATED;

/* Hooks @message to the egress of @session (one of
 * pk_egress_soup_session_new()); call it for every message before it is
 * sent. A socket the egress cannot be applied to is closed before it
 * connects: the message then fails, and
 * pk_egress_soup_message_steal_error() says why. */
void         pk_egress_soup_message_prepare     (SoupSession *session,
                                                 SoupMessage *message);

/* The error that kept the egress off a socket of @message (PK_ERROR_EGRESS),
 * or NULL. Report it instead of the transport error it caused. */
GError      *pk_egress_soup_message_steal_error (SoupMessage *message);

G_END_DECLS
