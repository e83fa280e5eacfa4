/* pk-egress-private.h: PkEgress on descriptors (for the relay's data
 * path), its stub resolver, and the connect-to-addresses loop
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "pk-egress.h"
#include "pk-poller-private.h"

G_BEGIN_DECLS

/* pk_egress_prepare_socket() on a descriptor of @family and @type. */
gboolean pk_egress_prepare_fd (PkEgress       *self,
                               int             fd,
                               GSocketFamily   family,
                               GSocketType     type,
                               GError        **error);

/* pk_egress_create_socket() as a descriptor (non-blocking,
 * close-on-exec), for a path that never makes it a GSocket. -1 with
 * @error set. */
int      pk_egress_open_fd    (PkEgress       *self,
                               GSocketFamily   family,
                               GSocketType     type,
                               GError        **error);

/* The family of the source address, G_SOCKET_FAMILY_INVALID without one. */
GSocketFamily pk_egress_get_family (PkEgress *self);

/* (transfer none) (element-type GInetSocketAddress) (nullable): the
 * parsed #PkEgress:nameservers; NULL: the system resolver. */
GPtrArray *pk_egress_get_nameserver_addresses (PkEgress *self);

/* The stub resolver (pk-egress-resolve.c, codec in pk-dns-private.h).
 * Resolves @name to addresses of @family (G_SOCKET_FAMILY_INVALID: A and
 * AAAA, IPv4 first) through @egress and @nameservers (GInetSocketAddress).
 * Each try waits @try_timeout_ms; two rounds over the nameservers in all.
 * Errors: PK_ERROR_RESOLVE (no such name, no address, no answer),
 * PK_ERROR_EGRESS (no nameserver reachable through the egress),
 * G_IO_ERROR_CANCELLED. "localhost" and names under it are loopback
 * without a query (RFC 6761). */
void      pk_dns_resolve_async   (PkEgress            *egress,
                                  GPtrArray           *nameservers,
                                  const char          *name,
                                  GSocketFamily        family,
                                  guint                try_timeout_ms,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data);
/* (transfer full) (element-type GInetAddress) */
GList    *pk_dns_resolve_finish  (GAsyncResult        *result,
                                  GError             **error);


/* Whether to try @address (already unmapped from ::ffff:a.b.c.d). */
typedef gboolean (*PkEgressAddressFilter) (GInetAddress *address,
                                           gpointer      user_data);

/* The one address-trying connect: @addresses (element-type GInetAddress,
 * transfer none) are unmapped, kept when @filter (nullable) says so, and
 * tried in order through the egress until one connects (on descriptors,
 * with a watch of the thread-default PkPoller each), all under one
 * deadline: @timeout_ms (0 for none) from @started_us (a monotonic time,
 * 0 for now). @dest names the destination in errors (NULL: the first
 * address and @port).
 *
 * Errors: the first address's connect error (the one the host prefers;
 * later ones tend to fail the same way), G_IO_ERROR_TIMED_OUT when the
 * deadline passes before any error, PK_ERROR_NOT_ALLOWED when @filter
 * leaves no address, and at once PK_ERROR_EGRESS or G_IO_ERROR_CANCELLED. */
void     pk_egress_connect_to_addresses_async  (PkEgress              *self,
                                                GList                 *addresses,
                                                guint16                port,
                                                const char            *dest,
                                                gint64                 started_us,
                                                guint                  timeout_ms,
                                                PkEgressAddressFilter  filter,
                                                gpointer               filter_data,
                                                GCancellable          *cancellable,
                                                GAsyncReadyCallback    callback,
                                                gpointer               user_data);
GSocket *pk_egress_connect_to_addresses_finish (PkEgress              *self,
                                                GAsyncResult          *result,
                                                GError               **error);
/* The same loop without a GTask, for callers in the library that want
 * the descriptor (the SOCKS session): @func gets the connected,
 * non-blocking descriptor, which it then owns, or -1 and an error, which
 * it then owns (the errors above), once, in the thread that started it.
 * When it is over before this returns (no address allowed, an error or a
 * connect that completed at once), @func has been called and the result
 * is NULL; else the operation, which the caller may cancel (then @func is
 * never called) until @func is.
 *
 * With @watch (nullable), each connect's descriptor goes into @slot of
 * that watch of the caller's, with the connect's deadline, instead of a
 * watch of its own (so that a connection that becomes a bridge on that
 * watch stays in the epoll set): the caller passes on to
 * pk_egress_connect_op_dispatch() what the watch reports for that slot,
 * its deadline (-1) and PK_POLLER_CANCELLED while the operation runs, and
 * cancels it before destroying the watch. A connected descriptor stays in
 * the slot (for G_IO_OUT), with no deadline. */
typedef struct _PkEgressConnectOp PkEgressConnectOp;
typedef void (*PkEgressConnectFunc) (int      fd,
                                     GError  *error,
                                     gpointer user_data);

PkEgressConnectOp *pk_egress_connect_op_start  (PkEgress              *self,
                                                GList                 *addresses,
                                                guint16                port,
                                                const char            *dest,
                                                gint64                 started_us,
                                                guint                  timeout_ms,
                                                PkEgressAddressFilter  filter,
                                                gpointer               filter_data,
                                                GCancellable          *cancellable,
                                                PkPollerWatch         *watch,
                                                guint                  slot,
                                                PkEgressConnectFunc    func,
                                                gpointer               user_data);
void               pk_egress_connect_op_dispatch (PkEgressConnectOp   *op,
                                                  int                  slot,
                                                  GIOCondition         condition);
void               pk_egress_connect_op_cancel (PkEgressConnectOp     *op);

G_END_DECLS
