/* pk-relay.h: TCP and UDP port relays
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__PROXYKIT_INSIDE__) && !defined(PROXYKIT_COMPILATION)
#error "Only <proxykit/proxykit.h> can be included directly."
#endif

#include <gio/gio.h>
#include "pk-version-macros.h"
#include "pk-relay-rule.h"
#include "pk-workers.h"
#include "pk-config.h"

G_BEGIN_DECLS

#define PK_TYPE_RELAY (pk_relay_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkRelay, pk_relay, PK, RELAY, GObject)

PK_AVAILABLE_IN_ALL
PkRelay    *pk_relay_new               (void);

PK_AVAILABLE_IN_ALL
PkRelay    *pk_relay_new_from_config   (PkConfig           *config,
                                        const char * const *specs,
                                        GError            **error);
PK_AVAILABLE_IN_ALL
gboolean    pk_relay_start             (PkRelay      *self,
                                        GError      **error);
PK_AVAILABLE_IN_ALL
gboolean    pk_relay_reload_from_config (PkRelay     *self,
                                         PkConfig    *config,
                                         GError     **error);

PK_AVAILABLE_IN_ALL
void        pk_relay_set_workers       (PkRelay      *self,
                                        PkWorkers    *workers);
PK_AVAILABLE_IN_ALL
void        pk_relay_set_kernel_nat    (PkRelay      *self,
                                        gboolean      kernel_nat);
PK_AVAILABLE_IN_ALL
gboolean    pk_relay_set_rules         (PkRelay      *self,
                                        GPtrArray    *rules,
                                        GError      **error);
PK_AVAILABLE_IN_ALL
gboolean    pk_relay_add_rule          (PkRelay      *self,
                                        PkRelayRule  *rule,
                                        GError      **error);
PK_AVAILABLE_IN_ALL
gboolean    pk_relay_remove_rule       (PkRelay      *self,
                                        const char   *name);
PK_AVAILABLE_IN_ALL
GPtrArray  *pk_relay_list_rules        (PkRelay      *self);
PK_AVAILABLE_IN_ALL
guint16     pk_relay_get_local_port    (PkRelay      *self,
                                        const char   *name);
PK_AVAILABLE_IN_ALL
guint       pk_relay_get_n_connections (PkRelay      *self);
PK_AVAILABLE_IN_ALL
void        pk_relay_drain             (PkRelay      *self);
PK_AVAILABLE_IN_ALL
void        pk_relay_stop              (PkRelay      *self);

PK_AVAILABLE_IN_ALL
char       *pk_relay_dup_status_json   (PkRelay      *self);
PK_AVAILABLE_IN_ALL
char       *pk_relay_dup_prometheus    (PkRelay      *self);

G_END_DECLS
