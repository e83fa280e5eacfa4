/* pk-node-watch.h: every node of a state store, each with its supervisor
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
#include "pk-node-supervisor.h"
#include "pk-state-store.h"
#include "pk-watchdog.h"

G_BEGIN_DECLS

#define PK_TYPE_NODE_WATCH (pk_node_watch_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkNodeWatch, pk_node_watch, PK, NODE_WATCH, GObject)

PK_AVAILABLE_IN_ALL
PkNodeWatch      *pk_node_watch_new_from_config  (PkConfig            *config,
                                                  PkStateStore        *store,
                                                  const char * const  *extra_keys,
                                                  GError             **error);

PK_AVAILABLE_IN_ALL
PkStateStore     *pk_node_watch_get_state_store  (PkNodeWatch         *self);
PK_AVAILABLE_IN_ALL
PkConfig         *pk_node_watch_get_config       (PkNodeWatch         *self);
PK_AVAILABLE_IN_ALL
PkNodeSupervisor *pk_node_watch_get_settings     (PkNodeWatch         *self);
PK_AVAILABLE_IN_ALL
void              pk_node_watch_set_nodes        (PkNodeWatch         *self,
                                                  const char * const  *names);
PK_AVAILABLE_IN_ALL
char            **pk_node_watch_list_nodes       (PkNodeWatch         *self);
PK_AVAILABLE_IN_ALL
PkNodeSupervisor *pk_node_watch_lookup           (PkNodeWatch         *self,
                                                  const char          *name);

PK_AVAILABLE_IN_ALL
guint             pk_node_watch_refresh          (PkNodeWatch         *self);
PK_AVAILABLE_IN_ALL
guint             pk_node_watch_start            (PkNodeWatch         *self);
PK_AVAILABLE_IN_ALL
void              pk_node_watch_stop             (PkNodeWatch         *self);

PK_AVAILABLE_IN_ALL
void              pk_node_watch_check_once_async  (PkNodeWatch         *self,
                                                   GCancellable        *cancellable,
                                                   GAsyncReadyCallback  callback,
                                                   gpointer             user_data);
PK_AVAILABLE_IN_ALL
gboolean          pk_node_watch_check_once_finish (PkNodeWatch         *self,
                                                   GAsyncResult        *result,
                                                   guint               *n_failed,
                                                   GError             **error);

PK_AVAILABLE_IN_ALL
char             *pk_node_watch_dup_status_json  (PkNodeWatch         *self);
PK_AVAILABLE_IN_ALL
char             *pk_node_watch_dup_status_text  (PkNodeWatch         *self);
PK_AVAILABLE_IN_ALL
char             *pk_node_watch_dup_prometheus   (PkNodeWatch         *self);

G_END_DECLS
