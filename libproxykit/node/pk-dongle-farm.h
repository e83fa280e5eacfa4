/* pk-dongle-farm.h: a SOCKS listener per dongle, following the dongles
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__PROXYKIT_INSIDE__) && !defined(PROXYKIT_COMPILATION)
#error "Only <proxykit/proxykit.h> can be included directly."
#endif

#include <gio/gio.h>
#include "pk-version-macros.h"
#include "pk-config.h"
#include "pk-dongle-monitor.h"
#include "pk-routing.h"
#include "pk-socks-server.h"
#include "pk-state-store.h"
#include "pk-workers.h"

G_BEGIN_DECLS

/**
 * PK_DONGLE_FARM_DEFAULT_PORT_BASE:
 *
 * Dongle N's listener is on port `10000 + N` unless told otherwise.
 *
 * Since: 0.2
 */
#define PK_DONGLE_FARM_DEFAULT_PORT_BASE 10000

/**
 * PK_DONGLE_FARM_NODE_PREFIX:
 *
 * The state store records dongle N's listener as node `dongle-N`.
 *
 * Since: 0.2
 */
#define PK_DONGLE_FARM_NODE_PREFIX "dongle-"

#define PK_TYPE_DONGLE_FARM (pk_dongle_farm_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkDongleFarm, pk_dongle_farm, PK, DONGLE_FARM, GObject)

PK_AVAILABLE_IN_ALL
PkDongleFarm    *pk_dongle_farm_new                (PkDongleMonitor     *monitor);
PK_AVAILABLE_IN_ALL
PkDongleFarm    *pk_dongle_farm_new_from_config    (PkConfig            *config,
                                                    GError             **error);
PK_AVAILABLE_IN_ALL
gboolean         pk_dongle_farm_config_enabled     (PkConfig            *config,
                                                    GError             **error);

PK_AVAILABLE_IN_ALL
PkDongleMonitor *pk_dongle_farm_get_monitor        (PkDongleFarm        *self);
PK_AVAILABLE_IN_ALL
void             pk_dongle_farm_set_workers        (PkDongleFarm        *self,
                                                    PkWorkers           *workers);
PK_AVAILABLE_IN_ALL
void             pk_dongle_farm_set_state_store    (PkDongleFarm        *self,
                                                    PkStateStore        *store);
PK_AVAILABLE_IN_ALL
guint            pk_dongle_farm_get_port_base      (PkDongleFarm        *self);
PK_AVAILABLE_IN_ALL
void             pk_dongle_farm_set_port_base      (PkDongleFarm        *self,
                                                    guint                port_base);
PK_AVAILABLE_IN_ALL
const char      *pk_dongle_farm_get_listen_address (PkDongleFarm        *self);
PK_AVAILABLE_IN_ALL
gboolean         pk_dongle_farm_set_listen_address (PkDongleFarm        *self,
                                                    const char          *address,
                                                    GError             **error);
PK_AVAILABLE_IN_ALL
gboolean         pk_dongle_farm_get_routing        (PkDongleFarm        *self);
PK_AVAILABLE_IN_ALL
void             pk_dongle_farm_set_routing        (PkDongleFarm        *self,
                                                    gboolean             routing,
                                                    PkRoutingBackend     backend);

PK_AVAILABLE_IN_ALL
gboolean         pk_dongle_farm_start              (PkDongleFarm        *self,
                                                    GError             **error);
PK_AVAILABLE_IN_ALL
void             pk_dongle_farm_stop_async         (PkDongleFarm        *self,
                                                    guint                drain_timeout_ms,
                                                    GCancellable        *cancellable,
                                                    GAsyncReadyCallback  callback,
                                                    gpointer             user_data);
PK_AVAILABLE_IN_ALL
gboolean         pk_dongle_farm_stop_finish        (PkDongleFarm        *self,
                                                    GAsyncResult        *result,
                                                    GError             **error);
PK_AVAILABLE_IN_ALL
void             pk_dongle_farm_close              (PkDongleFarm        *self);

PK_AVAILABLE_IN_ALL
guint            pk_dongle_farm_get_n_listeners    (PkDongleFarm        *self);
PK_AVAILABLE_IN_ALL
PkSocksServer   *pk_dongle_farm_get_server         (PkDongleFarm        *self,
                                                    guint                id);
PK_AVAILABLE_IN_ALL
GPtrArray       *pk_dongle_farm_dup_servers        (PkDongleFarm        *self);
PK_AVAILABLE_IN_ALL
char            *pk_dongle_farm_to_json            (PkDongleFarm        *self);

G_END_DECLS
