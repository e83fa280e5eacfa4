/* pk-egress.h: how an outbound socket leaves the host
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

G_BEGIN_DECLS

#define PK_TYPE_EGRESS (pk_egress_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkEgress, pk_egress, PK, EGRESS, GObject)

PK_AVAILABLE_IN_ALL
PkEgress     *pk_egress_new              (void);
PK_AVAILABLE_IN_ALL
PkEgress     *pk_egress_new_full         (const char    *address,
                                          const char    *interface,
                                          guint32        fwmark,
                                          guint          ttl,
                                          GError       **error);

PK_AVAILABLE_IN_ALL
PkEgress     *pk_egress_new_from_config  (PkConfig      *config,
                                          const char    *section,
                                          const char    *env_prefix,
                                          GError       **error);
PK_AVAILABLE_IN_ALL
const char   *pk_egress_get_address      (PkEgress      *self);
PK_AVAILABLE_IN_ALL
gboolean      pk_egress_set_address      (PkEgress      *self,
                                          const char    *address,
                                          GError       **error);
PK_AVAILABLE_IN_ALL
const char   *pk_egress_get_interface    (PkEgress      *self);
PK_AVAILABLE_IN_ALL
void          pk_egress_set_interface    (PkEgress      *self,
                                          const char    *interface);
PK_AVAILABLE_IN_ALL
guint32       pk_egress_get_fwmark       (PkEgress      *self);
PK_AVAILABLE_IN_ALL
void          pk_egress_set_fwmark       (PkEgress      *self,
                                          guint32        fwmark);
PK_AVAILABLE_IN_ALL
guint         pk_egress_get_ttl          (PkEgress      *self);
PK_AVAILABLE_IN_ALL
void          pk_egress_set_ttl          (PkEgress      *self,
                                          guint          ttl);
PK_AVAILABLE_IN_ALL
const char * const *pk_egress_get_nameservers (PkEgress            *self);
PK_AVAILABLE_IN_ALL
gboolean      pk_egress_set_nameservers  (PkEgress            *self,
                                          const char * const  *nameservers,
                                          GError             **error);
PK_AVAILABLE_IN_ALL
gboolean      pk_egress_is_default       (PkEgress      *self);
PK_AVAILABLE_IN_ALL
char         *pk_egress_to_string        (PkEgress      *self);

PK_AVAILABLE_IN_ALL
gboolean      pk_egress_prepare_socket   (PkEgress      *self,
                                          GSocket       *socket,
                                          GError       **error);
PK_AVAILABLE_IN_ALL
GSocket      *pk_egress_create_socket    (PkEgress      *self,
                                          GSocketFamily  family,
                                          GSocketType    type,
                                          GError       **error);

PK_AVAILABLE_IN_ALL
void          pk_egress_resolve_async    (PkEgress            *self,
                                          const char          *host,
                                          guint                timeout_ms,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data);
PK_AVAILABLE_IN_ALL
GList        *pk_egress_resolve_finish   (PkEgress      *self,
                                          GAsyncResult  *result,
                                          GError       **error);

PK_AVAILABLE_IN_ALL
void          pk_egress_connect_async    (PkEgress            *self,
                                          GSocketAddress      *address,
                                          guint                timeout_ms,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data);
PK_AVAILABLE_IN_ALL
GSocket      *pk_egress_connect_finish   (PkEgress      *self,
                                          GAsyncResult  *result,
                                          GError       **error);

PK_AVAILABLE_IN_ALL
void          pk_egress_connect_to_host_async  (PkEgress            *self,
                                                const char          *host,
                                                guint16              port,
                                                guint                timeout_ms,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
PK_AVAILABLE_IN_ALL
GSocket      *pk_egress_connect_to_host_finish (PkEgress      *self,
                                                GAsyncResult  *result,
                                                GError       **error);

G_END_DECLS
