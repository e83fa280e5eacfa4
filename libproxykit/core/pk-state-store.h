/* pk-state-store.h: node state as JSON files in a state directory
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__PROXYKIT_INSIDE__) && !defined(PROXYKIT_COMPILATION)
#error "Only <proxykit/proxykit.h> can be included directly."
#endif

#include <gio/gio.h>
#include "pk-version-macros.h"
#include "pk-node-state.h"
#include "pk-config.h"
#include "pk-paths.h"

G_BEGIN_DECLS

/**
 * PK_STATE_DIR_DEFAULT:
 *
 * The default state directory, `PK_STATE_DIR` (/var/lib/proxykit).
 *
 * Since: 0.1
 */
#define PK_STATE_DIR_DEFAULT PK_STATE_DIR

#define PK_TYPE_STATE_STORE (pk_state_store_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkStateStore, pk_state_store, PK, STATE_STORE, GObject)

PK_AVAILABLE_IN_ALL
PkStateStore *pk_state_store_new        (const char    *directory);
PK_AVAILABLE_IN_ALL
PkStateStore *pk_state_store_new_from_config (PkConfig   *config,
                                              const char *section);
PK_AVAILABLE_IN_ALL
const char   *pk_state_store_get_directory (PkStateStore *self);
PK_AVAILABLE_IN_ALL
char        **pk_state_store_list       (PkStateStore  *self,
                                         GError       **error);
PK_AVAILABLE_IN_ALL
char         *pk_state_store_dup_prometheus (PkStateStore *self);
PK_AVAILABLE_IN_ALL
PkNodeState  *pk_state_store_load       (PkStateStore  *self,
                                         const char    *name,
                                         GError       **error);
PK_AVAILABLE_IN_ALL
PkNodeState  *pk_state_store_load_or_new (PkStateStore *self,
                                          const char   *name,
                                          GError      **error);
PK_AVAILABLE_IN_ALL
gboolean      pk_state_store_save       (PkStateStore  *self,
                                         PkNodeState   *node,
                                         GError       **error);
PK_AVAILABLE_IN_ALL
PkNodeState  *pk_state_store_load_locked (PkStateStore *self,
                                          const char   *name,
                                          GError      **error);
PK_AVAILABLE_IN_ALL
gboolean      pk_state_store_save_unlock (PkStateStore *self,
                                          PkNodeState  *node,
                                          GError      **error);
PK_AVAILABLE_IN_ALL
void          pk_state_store_unlock     (PkStateStore  *self,
                                         const char    *name);
PK_AVAILABLE_IN_ALL
gboolean      pk_state_store_remove     (PkStateStore  *self,
                                         const char    *name,
                                         GError       **error);
PK_AVAILABLE_IN_ALL
char         *pk_state_store_dup_path   (PkStateStore  *self,
                                         const char    *name);
PK_AVAILABLE_IN_ALL
gboolean      pk_state_store_is_valid_name (const char *name);

PK_AVAILABLE_IN_ALL
char         *pk_state_store_dup_document_path (PkStateStore *self,
                                                const char   *name);
PK_AVAILABLE_IN_ALL
char         *pk_state_store_load_document (PkStateStore  *self,
                                            const char    *name,
                                            GError       **error);
PK_AVAILABLE_IN_ALL
gboolean      pk_state_store_save_document (PkStateStore  *self,
                                            const char    *name,
                                            const char    *contents,
                                            GError       **error);
PK_AVAILABLE_IN_ALL
gboolean      pk_state_store_lock_document (PkStateStore  *self,
                                            const char    *name,
                                            GError       **error);
PK_AVAILABLE_IN_ALL
void          pk_state_store_unlock_document (PkStateStore *self,
                                              const char   *name);

G_END_DECLS
