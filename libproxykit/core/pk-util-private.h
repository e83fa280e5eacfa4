/* pk-util-private.h: helpers shared inside the library (not installed)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <netinet/in.h>
#include <sys/socket.h>

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
/* the same for a listener: port 0 allowed */
GSocketAddress *pk_parse_listen_address (const char  *str,
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

/* The soft RLIMIT_NOFILE now: how many descriptors the process may hold. */
guint64    pk_fd_soft_limit          (void);

/* Sets TCP_NODELAY on @fd: proxied data is forwarded as it comes, and
 * Nagle would hold back small segments (handshake replies, interactive
 * data) behind unacknowledged ones. On a listening socket, the clients it
 * accepts inherit it. EOPNOTSUPP on sockets other than TCP is fine. */
void       pk_socket_set_nodelay     (int             fd);

/* A socket address as the kernel takes and gives it, for the paths that
 * keep their sockets as descriptors (see pk-relay.c): a GSocketAddress
 * costs an object per use. */
typedef struct
{
  union
  {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
    struct sockaddr_storage storage;
  };
  socklen_t len;
} PkSockaddr;

gboolean   pk_sockaddr_from_socket_address (PkSockaddr      *native,
                                            GSocketAddress  *address);
/* NULL for a family other than IPv4/IPv6. */
GSocketAddress *pk_sockaddr_to_socket_address (const PkSockaddr *native);
/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d) made the IPv4 one, in
 * place; any other left as it is. */
void       pk_sockaddr_unmap         (PkSockaddr       *native);
/* Formats as pk_format_socket_address() does. */
char      *pk_format_sockaddr        (const PkSockaddr *native);

/* Starts connecting the non-blocking socket @fd to @address. TRUE when
 * connected at once or, with *@in_progress, on the way: the socket turns
 * writable when it is done (pk_fd_connect_finish()). FALSE with @error:
 * "connect to ADDRESS: reason", with GIO's code for errno. */
gboolean   pk_fd_connect             (int               fd,
                                      const PkSockaddr *address,
                                      gboolean         *in_progress,
                                      GError          **error);
/* After a connect in progress on @fd polled @condition: TRUE when it is
 * connected, else FALSE with @error as pk_fd_connect()'s. Asks the kernel
 * only when @condition says something went wrong. */
gboolean   pk_fd_connect_finish      (int               fd,
                                      GIOCondition      condition,
                                      const PkSockaddr *address,
                                      GError          **error);

/* The GSocket of a client accepted as a descriptor (see
 * pk-acceptor-private.h), which it takes (closed on failure), with @peer
 * kept for pk_socket_dup_peer_address(): GSocket would ask the kernel for
 * it on every g_socket_get_remote_address() of a socket it did not
 * connect itself. */
GSocket   *pk_socket_new_accepted    (int                fd,
                                      const PkSockaddr  *peer,
                                      GError           **error);
/* The peer of a socket from pk_socket_new_accepted() without asking the
 * kernel again; of any other socket, g_socket_get_remote_address(). */
GSocketAddress *pk_socket_dup_peer_address (GSocket  *socket,
                                            GError  **error);

/* TRUE for an inet socket address on loopback (127/8, ::1), as
 * g_inet_address_get_is_loopback() says; FALSE for anything else. */
gboolean   pk_socket_address_is_loopback (GSocketAddress *address);

/* Rate-limited logging of a repeated event: count each event with
 * pk_log_limit_due(); TRUE when a line is due (the first event, or
 * @interval_us after the last line), with *@count the events it stands
 * for. Not thread-safe: one per thread or context. */
typedef struct {
  gint64 last_us;
  guint64 pending;
} PkLogLimit;

gboolean   pk_log_limit_due          (PkLogLimit  *limit,
                                      gint64       interval_us,
                                      guint64     *count);

/* A timeout of @ms on @context (NULL: the thread-default context, where
 * an async call started from it runs), not the global default one that
 * g_timeout_add() uses and that a library user's thread may not iterate.
 * The caller owns the source: stop it with pk_source_clear(). */
GSource   *pk_timeout_source_attach  (GMainContext *context,
                                      guint         ms,
                                      GSourceFunc   func,
                                      gpointer      data);
/* Destroys and unrefs *@source, if any, and sets it to NULL. */
void       pk_source_clear           (GSource    **source);

G_END_DECLS
