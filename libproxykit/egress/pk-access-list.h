/* pk-access-list.h: a list of addresses and CIDRs kept up to date from a URL
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__PROXYKIT_INSIDE__) && !defined(PROXYKIT_COMPILATION)
#error "Only <proxykit/proxykit.h> can be included directly."
#endif

#include <gio/gio.h>
#include "pk-version-macros.h"
#include "pk-egress.h"

G_BEGIN_DECLS

/**
 * PK_ACCESS_LIST_REFRESH_DEFAULT:
 *
 * The default of [property@AccessList:refresh]: one hour, in milliseconds.
 *
 * Since: 0.2
 */
#define PK_ACCESS_LIST_REFRESH_DEFAULT 3600000

#define PK_TYPE_ACCESS_LIST (pk_access_list_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkAccessList, pk_access_list, PK, ACCESS_LIST, GObject)

PK_AVAILABLE_IN_ALL
PkAccessList *pk_access_list_new              (const char    *url);
PK_AVAILABLE_IN_ALL
const char   *pk_access_list_get_url          (PkAccessList  *self);
PK_AVAILABLE_IN_ALL
guint         pk_access_list_get_refresh      (PkAccessList  *self);
PK_AVAILABLE_IN_ALL
void          pk_access_list_set_refresh      (PkAccessList  *self,
                                               guint          refresh_ms);
PK_AVAILABLE_IN_ALL
PkEgress     *pk_access_list_get_egress       (PkAccessList  *self);
PK_AVAILABLE_IN_ALL
void          pk_access_list_set_egress       (PkAccessList  *self,
                                               PkEgress      *egress);
PK_AVAILABLE_IN_ALL
const char   *pk_access_list_get_cache_path   (PkAccessList  *self);
PK_AVAILABLE_IN_ALL
void          pk_access_list_set_cache_path   (PkAccessList  *self,
                                               const char    *path);

PK_AVAILABLE_IN_ALL
gboolean      pk_access_list_get_loaded       (PkAccessList  *self);
PK_AVAILABLE_IN_ALL
guint         pk_access_list_get_n_entries    (PkAccessList  *self);
PK_AVAILABLE_IN_ALL
char        **pk_access_list_dup_entries      (PkAccessList  *self);
PK_AVAILABLE_IN_ALL
gboolean      pk_access_list_matches          (PkAccessList  *self,
                                               const char    *address);
PK_AVAILABLE_IN_ALL
char         *pk_access_list_dup_last_error   (PkAccessList  *self);
PK_AVAILABLE_IN_ALL
gint64        pk_access_list_get_last_success (PkAccessList  *self);
PK_AVAILABLE_IN_ALL
guint64       pk_access_list_get_fetch_failures (PkAccessList *self);

PK_AVAILABLE_IN_ALL
gboolean      pk_access_list_load_data        (PkAccessList  *self,
                                               const char    *text,
                                               GError       **error);
PK_AVAILABLE_IN_ALL
gboolean      pk_access_list_load_cache       (PkAccessList  *self,
                                               GError       **error);

PK_AVAILABLE_IN_ALL
void          pk_access_list_refresh_async    (PkAccessList        *self,
                                               GCancellable        *cancellable,
                                               GAsyncReadyCallback  callback,
                                               gpointer             user_data);
PK_AVAILABLE_IN_ALL
gboolean      pk_access_list_refresh_finish   (PkAccessList  *self,
                                               GAsyncResult  *result,
                                               GError       **error);

PK_AVAILABLE_IN_ALL
void          pk_access_list_start            (PkAccessList  *self);
PK_AVAILABLE_IN_ALL
void          pk_access_list_stop             (PkAccessList  *self);
PK_AVAILABLE_IN_ALL
gboolean      pk_access_list_is_started       (PkAccessList  *self);

G_END_DECLS
