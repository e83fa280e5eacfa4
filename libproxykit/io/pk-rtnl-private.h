/* pk-rtnl-private.h: IPv4 routes, rules and addresses through rtnetlink (not installed)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Every request opens its own NETLINK_ROUTE socket in the calling thread,
 * so it acts in that thread's network namespace, and is answered in the
 * thread-default main context without blocking. */

typedef struct {
  guint32 table;
  guint8 dst_len;
  guint8 protocol;
  guint8 scope;
  guint8 type;
  char *dst;            /* NULL for a default route */
  char *gateway;        /* nullable */
  char *prefsrc;        /* nullable */
  int oif;              /* 0: none */
  guint32 metric;
} PkRtnlRoute;

typedef struct {
  guint32 priority;
  guint32 table;
  guint8 action;
  guint8 src_len;
  guint8 dst_len;
  char *src;            /* nullable ("from all") */
  char *dst;            /* nullable */
  char *iif;            /* nullable */
  char *oif;            /* nullable */
  guint32 fwmark;
} PkRtnlRule;

typedef struct {
  int ifindex;
  guint8 prefixlen;
  char *address;
  char *label;          /* nullable */
} PkRtnlAddress;

/* What the kernel holds now: IPv4 routes of every table, IPv4 rules and
 * IPv4 addresses. */
typedef struct {
  GPtrArray *routes;     /* PkRtnlRoute */
  GPtrArray *rules;      /* PkRtnlRule */
  GPtrArray *addresses;  /* PkRtnlAddress */
} PkRtnlSnapshot;

void      pk_rtnl_route_free        (PkRtnlRoute    *route);
void      pk_rtnl_rule_free         (PkRtnlRule     *rule);
void      pk_rtnl_address_free      (PkRtnlAddress  *address);
void      pk_rtnl_snapshot_free     (PkRtnlSnapshot *snapshot);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PkRtnlSnapshot, pk_rtnl_snapshot_free)

/* "default via 192.168.11.1 dev enx... table 11 metric 0", as ip(8) says it. */
char     *pk_rtnl_route_to_string   (const PkRtnlRoute *route);
char     *pk_rtnl_rule_to_string    (const PkRtnlRule  *rule);

void            pk_rtnl_snapshot_async  (GCancellable         *cancellable,
                                         GAsyncReadyCallback   callback,
                                         gpointer              user_data);
PkRtnlSnapshot *pk_rtnl_snapshot_finish (GAsyncResult         *result,
                                         GError              **error);

typedef enum {
  PK_RTNL_ADD,          /* fails with G_IO_ERROR_EXISTS if it is there */
  PK_RTNL_REPLACE,      /* adds, or replaces the route with the same key */
  PK_RTNL_DELETE,
} PkRtnlOp;

/* One change of a route (table, dst/dst_len, gateway, oif, metric,
 * protocol are used) or a rule (priority, src/src_len, table). Errors carry
 * the kernel's extended message where it gives one. */
void      pk_rtnl_change_route_async  (PkRtnlOp              op,
                                       const PkRtnlRoute    *route,
                                       GCancellable         *cancellable,
                                       GAsyncReadyCallback   callback,
                                       gpointer              user_data);
void      pk_rtnl_change_rule_async   (PkRtnlOp              op,
                                       const PkRtnlRule     *rule,
                                       GCancellable         *cancellable,
                                       GAsyncReadyCallback   callback,
                                       gpointer              user_data);
gboolean  pk_rtnl_change_finish       (GAsyncResult         *result,
                                       GError              **error);

/* Calls @changed (in the thread-default main context of the caller) after
 * links or IPv4 addresses changed; bursts of kernel messages give one
 * call. Stop it with `pk_rtnl_watch_free()`. */
typedef struct _PkRtnlWatch PkRtnlWatch;

PkRtnlWatch *pk_rtnl_watch_new      (GSourceFunc   changed,
                                     gpointer      user_data,
                                     GError      **error);
void         pk_rtnl_watch_free     (PkRtnlWatch  *watch);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PkRtnlWatch, pk_rtnl_watch_free)

/* The host's own IPv4 and IPv6 addresses, current at every question:
 * `pk_rtnl_host_addresses_contains()` first applies the RTM_NEWADDR and
 * RTM_DELADDR messages the kernel has queued, so an address added before
 * the call is known to it, with no main context involved. Thread-safe;
 * the process shares one (one netlink socket), made in the network
 * namespace of the thread that first asks. */
typedef struct _PkRtnlHostAddresses PkRtnlHostAddresses;

PkRtnlHostAddresses *pk_rtnl_host_addresses_get      (GError              **error);
PkRtnlHostAddresses *pk_rtnl_host_addresses_ref      (PkRtnlHostAddresses  *self);
void                 pk_rtnl_host_addresses_unref    (PkRtnlHostAddresses  *self);
gboolean             pk_rtnl_host_addresses_contains (PkRtnlHostAddresses  *self,
                                                      GInetAddress         *address);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PkRtnlHostAddresses, pk_rtnl_host_addresses_unref)

G_END_DECLS
