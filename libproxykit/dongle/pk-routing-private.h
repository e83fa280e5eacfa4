/* pk-routing-private.h: PkRouting's NetworkManager side (not installed)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "pk-routing.h"

G_BEGIN_DECLS

/* A diagnosis that could not be made: not healthy, @error only. */
PkRoutingDiagnosis *pk_routing_diagnosis_new_failed (guint         id,
                                                     const GError *error);

/* What NetworkManager applies to a dongle's interface: the connection
 * profile active on it, and its routing settings. */
typedef struct {
  char *connection_id;
  char *uuid;
  gint64 route_table;     /* 0: NM's default (main) */
  gint64 route_metric;    /* -1: NM's default */
  gboolean rule_present;  /* a routing rule "from HOST table TABLE" */
} PkRoutingNmProfile;

void      pk_routing_nm_profile_free   (PkRoutingNmProfile *profile);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PkRoutingNmProfile, pk_routing_nm_profile_free)

/* The profile NetworkManager applies to @interface; *@out_profile is NULL
 * (and the result TRUE) when NM does not run, does not manage the
 * interface, or has no connection active on it. */
void      pk_routing_nm_lookup_async   (const char           *interface,
                                        const char           *host_address,
                                        guint                 table,
                                        GCancellable         *cancellable,
                                        GAsyncReadyCallback   callback,
                                        gpointer              user_data);
gboolean  pk_routing_nm_lookup_finish  (GAsyncResult         *result,
                                        PkRoutingNmProfile  **out_profile,
                                        GError              **error);

/* Sets ipv4.route-table, ipv4.routing-rules (the one rule from
 * @host_address, replacing others from it) and ipv4.route-metric on the
 * profile active on @interface, saves it and reapplies it to the device.
 * Returns what it did, one line each. */
void      pk_routing_nm_apply_async    (const char           *interface,
                                        const char           *host_address,
                                        guint                 table,
                                        guint                 metric,
                                        guint                 rule_priority,
                                        GCancellable         *cancellable,
                                        GAsyncReadyCallback   callback,
                                        gpointer              user_data);
char    **pk_routing_nm_apply_finish   (GAsyncResult         *result,
                                        GError              **error);

G_END_DECLS
