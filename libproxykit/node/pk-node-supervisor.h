/* pk-node-supervisor.h: one proxy node's life: tunnel, watchdog, recovery
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
#include "pk-egress.h"
#include "pk-state-store.h"
#include "pk-tunnel.h"
#include "pk-watchdog.h"

G_BEGIN_DECLS

#define PK_TYPE_NODE_SUPERVISOR (pk_node_supervisor_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkNodeSupervisor, pk_node_supervisor, PK, NODE_SUPERVISOR, GObject)

PK_AVAILABLE_IN_ALL
PkNodeSupervisor *pk_node_supervisor_new             (PkStateStore        *store,
                                                      const char          *name);
PK_AVAILABLE_IN_ALL
PkNodeSupervisor *pk_node_supervisor_new_from_config (PkConfig            *config,
                                                      PkStateStore        *store,
                                                      const char          *name,
                                                      GError             **error);
PK_AVAILABLE_IN_ALL
const char * const *pk_node_supervisor_get_config_keys (void);
PK_AVAILABLE_IN_ALL
gboolean          pk_node_supervisor_check_config    (PkConfig            *config,
                                                      const char * const  *extra_keys,
                                                      GError             **error);
PK_AVAILABLE_IN_ALL
char            **pk_node_supervisor_list_nodes      (PkStateStore        *store,
                                                      PkConfig            *config);

PK_AVAILABLE_IN_ALL
const char       *pk_node_supervisor_get_name        (PkNodeSupervisor    *self);
PK_AVAILABLE_IN_ALL
PkStateStore     *pk_node_supervisor_get_state_store (PkNodeSupervisor    *self);
PK_AVAILABLE_IN_ALL
PkWatchdog       *pk_node_supervisor_get_watchdog    (PkNodeSupervisor    *self);
PK_AVAILABLE_IN_ALL
PkTunnel         *pk_node_supervisor_get_tunnel      (PkNodeSupervisor    *self);
PK_AVAILABLE_IN_ALL
void              pk_node_supervisor_set_tunnel      (PkNodeSupervisor    *self,
                                                      PkTunnel            *tunnel);
PK_AVAILABLE_IN_ALL
void              pk_node_supervisor_set_config      (PkNodeSupervisor    *self,
                                                      PkConfig            *config);
PK_AVAILABLE_IN_ALL
gboolean          pk_node_supervisor_set_socks_check (PkNodeSupervisor    *self,
                                                      const char          *target,
                                                      GError             **error);
PK_AVAILABLE_IN_ALL
void              pk_node_supervisor_set_recovery    (PkNodeSupervisor    *self,
                                                      gboolean             enabled,
                                                      guint                delay_ms,
                                                      guint                max_delay_ms);
PK_AVAILABLE_IN_ALL
gboolean          pk_node_supervisor_get_recover     (PkNodeSupervisor    *self);
PK_AVAILABLE_IN_ALL
void              pk_node_supervisor_set_startup_check (PkNodeSupervisor  *self,
                                                        const char        *target,
                                                        guint              tries,
                                                        guint              delay_ms,
                                                        guint              timeout_ms);
PK_AVAILABLE_IN_ALL
void              pk_node_supervisor_set_run_dir     (PkNodeSupervisor    *self,
                                                      const char          *run_dir);
PK_AVAILABLE_IN_ALL
void              pk_node_supervisor_set_pppd_path   (PkNodeSupervisor    *self,
                                                      const char          *path);
PK_AVAILABLE_IN_ALL
void              pk_node_supervisor_set_socks_command (PkNodeSupervisor  *self,
                                                        const char        *command);

PK_AVAILABLE_IN_ALL
void              pk_node_supervisor_bring_up_async  (PkNodeSupervisor    *self,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
PK_AVAILABLE_IN_ALL
PkEgress         *pk_node_supervisor_bring_up_finish (PkNodeSupervisor    *self,
                                                      GAsyncResult        *result,
                                                      GError             **error);
PK_AVAILABLE_IN_ALL
gboolean          pk_node_supervisor_record_online   (PkNodeSupervisor    *self,
                                                      const char          *listen,
                                                      int                  pid,
                                                      GError             **error);
PK_AVAILABLE_IN_ALL
void              pk_node_supervisor_shut_down_async (PkNodeSupervisor    *self,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
PK_AVAILABLE_IN_ALL
gboolean          pk_node_supervisor_shut_down_finish (PkNodeSupervisor   *self,
                                                       GAsyncResult       *result,
                                                       GError            **error);

PK_AVAILABLE_IN_ALL
gboolean          pk_node_supervisor_refresh         (PkNodeSupervisor    *self);
PK_AVAILABLE_IN_ALL
void              pk_node_supervisor_stop            (PkNodeSupervisor    *self);
PK_AVAILABLE_IN_ALL
gboolean          pk_node_supervisor_is_watching     (PkNodeSupervisor    *self);
PK_AVAILABLE_IN_ALL
gboolean          pk_node_supervisor_is_busy         (PkNodeSupervisor    *self);
PK_AVAILABLE_IN_ALL
void              pk_node_supervisor_check_once_async  (PkNodeSupervisor    *self,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
PK_AVAILABLE_IN_ALL
gboolean          pk_node_supervisor_check_once_finish (PkNodeSupervisor    *self,
                                                        GAsyncResult        *result,
                                                        GError             **error);

PK_AVAILABLE_IN_ALL
guint             pk_node_supervisor_get_recoveries  (PkNodeSupervisor    *self);
PK_AVAILABLE_IN_ALL
gboolean          pk_node_supervisor_get_state_failed (PkNodeSupervisor   *self);
PK_AVAILABLE_IN_ALL
char             *pk_node_supervisor_dup_status_json (PkStateStore        *store,
                                                      const char * const  *names);
PK_AVAILABLE_IN_ALL
char             *pk_node_supervisor_dup_prometheus  (PkStateStore        *store,
                                                      PkNodeSupervisor   **supervisors,
                                                      guint                n_supervisors);

G_END_DECLS
