/* pk-util-private.h: helpers shared inside the library (not installed)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

void       pk_inet_address_list_free (gpointer list);

/* "127.0.0.1:1080", "[::1]:1080", "host:80", or a bare host with @default_port
 * (0 means a port is required). */
gboolean   pk_parse_host_port        (const char  *str,
                                      guint16      default_port,
                                      char       **host,
                                      guint16     *port,
                                      GError     **error);
GSocketAddress *pk_parse_socket_address (const char  *str,
                                         guint16      default_port,
                                         GError     **error);

/* pk_parse_duration_ms() and pk_parse_uint() are public: pk-config.h. */

/* A list of CIDRs ("10.0.0.0/8,192.168.1.5 ::1/128"), separated by commas
 * or white space; a bare address is a host route. Returns a GPtrArray of
 * GInetAddressMask. */
GPtrArray *pk_parse_cidr_list        (const char  *str,
                                      GError     **error);
gboolean   pk_cidr_list_add          (GPtrArray   *list,
                                      const char  *cidr,
                                      GError     **error);
gboolean   pk_cidr_list_matches      (GPtrArray    *list,
                                      GInetAddress *address);

/* IPv4-mapped IPv6 (::ffff:a.b.c.d) as plain IPv4, so that rules written
 * for IPv4 match clients of a dual-stack listener. */
GInetAddress *pk_inet_address_unmap  (GInetAddress *address);

char      *pk_format_socket_address  (GSocketAddress *address);

/* Sets TCP_NODELAY on @fd: proxied data is forwarded as it comes, and
 * Nagle would hold back small segments (handshake replies, interactive
 * data) behind unacknowledged ones. On a listening socket, the clients it
 * accepts inherit it. EOPNOTSUPP on sockets other than TCP is fine. */
void       pk_socket_set_nodelay     (int             fd);

/* Accepts a client on the listening @listener with accept4() (non-blocking,
 * close-on-exec), and keeps the peer address the accept returned on the
 * new socket for pk_socket_dup_peer_address(). No client: NULL with
 * G_IO_ERROR_WOULD_BLOCK. */
GSocket   *pk_socket_accept          (GSocket   *listener,
                                      GError   **error);
/* The peer of a socket from pk_socket_accept() without asking the kernel
 * again; of any other socket, g_socket_get_remote_address(). */
GSocketAddress *pk_socket_dup_peer_address (GSocket  *socket,
                                            GError  **error);

G_END_DECLS
