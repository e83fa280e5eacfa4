/* pk-socks-server.h: a SOCKS5 listener pinned to an egress
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
#include "pk-access-list.h"
#include "pk-workers.h"

G_BEGIN_DECLS

#define PK_TYPE_SOCKS_SERVER (pk_socks_server_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkSocksServer, pk_socks_server, PK, SOCKS_SERVER, GObject)

PK_AVAILABLE_IN_ALL
PkSocksServer *pk_socks_server_new                    (void);

PK_AVAILABLE_IN_ALL
const char    *pk_socks_server_get_name               (PkSocksServer  *self);
PK_AVAILABLE_IN_ALL
void           pk_socks_server_set_name               (PkSocksServer  *self,
                                                       const char     *name);
PK_AVAILABLE_IN_ALL
PkEgress      *pk_socks_server_get_egress             (PkSocksServer  *self);
PK_AVAILABLE_IN_ALL
void           pk_socks_server_set_egress             (PkSocksServer  *self,
                                                       PkEgress       *egress);

PK_AVAILABLE_IN_ALL
guint          pk_socks_server_get_handshake_timeout  (PkSocksServer  *self);
PK_AVAILABLE_IN_ALL
void           pk_socks_server_set_handshake_timeout  (PkSocksServer  *self,
                                                       guint           timeout_ms);
PK_AVAILABLE_IN_ALL
guint          pk_socks_server_get_connect_timeout    (PkSocksServer  *self);
PK_AVAILABLE_IN_ALL
void           pk_socks_server_set_connect_timeout    (PkSocksServer  *self,
                                                       guint           timeout_ms);
PK_AVAILABLE_IN_ALL
guint          pk_socks_server_get_resolve_timeout    (PkSocksServer  *self);
PK_AVAILABLE_IN_ALL
void           pk_socks_server_set_resolve_timeout    (PkSocksServer  *self,
                                                       guint           timeout_ms);
PK_AVAILABLE_IN_ALL
guint          pk_socks_server_get_idle_timeout       (PkSocksServer  *self);
PK_AVAILABLE_IN_ALL
void           pk_socks_server_set_idle_timeout       (PkSocksServer  *self,
                                                       guint           timeout_ms);
PK_AVAILABLE_IN_ALL
guint          pk_socks_server_get_udp_idle_timeout   (PkSocksServer  *self);
PK_AVAILABLE_IN_ALL
void           pk_socks_server_set_udp_idle_timeout   (PkSocksServer  *self,
                                                       guint           timeout_ms);
PK_AVAILABLE_IN_ALL
guint          pk_socks_server_get_max_sessions       (PkSocksServer  *self);
PK_AVAILABLE_IN_ALL
void           pk_socks_server_set_max_sessions       (PkSocksServer  *self,
                                                       guint           max_sessions);
PK_AVAILABLE_IN_ALL
guint          pk_socks_server_get_max_sessions_per_client (PkSocksServer *self);
PK_AVAILABLE_IN_ALL
void           pk_socks_server_set_max_sessions_per_client (PkSocksServer *self,
                                                            guint          max_sessions);
PK_AVAILABLE_IN_ALL
const char    *pk_socks_server_get_udp_advertise_address (PkSocksServer *self);
PK_AVAILABLE_IN_ALL
gboolean       pk_socks_server_set_udp_advertise_address (PkSocksServer *self,
                                                          const char    *address,
                                                          GError       **error);
PK_AVAILABLE_IN_ALL
gboolean       pk_socks_server_get_allow_host_destinations (PkSocksServer *self);
PK_AVAILABLE_IN_ALL
void           pk_socks_server_set_allow_host_destinations (PkSocksServer *self,
                                                            gboolean       allow);

/* Access policy: replaced as a whole, so that live sessions keep the one
 * they started with. */
PK_AVAILABLE_IN_ALL
gboolean       pk_socks_server_set_users_file         (PkSocksServer  *self,
                                                       const char     *path,
                                                       GError        **error);
PK_AVAILABLE_IN_ALL
const char    *pk_socks_server_get_users_file         (PkSocksServer  *self);
PK_AVAILABLE_IN_ALL
gboolean       pk_socks_server_set_users              (PkSocksServer      *self,
                                                       const char * const *users,
                                                       GError            **error);
PK_AVAILABLE_IN_ALL
gboolean       pk_socks_server_get_auth_required      (PkSocksServer  *self);
PK_AVAILABLE_IN_ALL
gboolean       pk_socks_server_set_allowlist          (PkSocksServer  *self,
                                                       const char     *cidrs,
                                                       GError        **error);
PK_AVAILABLE_IN_ALL
gboolean       pk_socks_server_set_denylist           (PkSocksServer  *self,
                                                       const char     *cidrs,
                                                       GError        **error);
PK_AVAILABLE_IN_ALL
gboolean       pk_socks_server_has_allowlist          (PkSocksServer  *self);
PK_AVAILABLE_IN_ALL
void           pk_socks_server_set_allow_access_list  (PkSocksServer  *self,
                                                       PkAccessList   *list);
PK_AVAILABLE_IN_ALL
PkAccessList  *pk_socks_server_get_allow_access_list  (PkSocksServer  *self);
PK_AVAILABLE_IN_ALL
void           pk_socks_server_set_deny_access_list   (PkSocksServer  *self,
                                                       PkAccessList   *list);
PK_AVAILABLE_IN_ALL
PkAccessList  *pk_socks_server_get_deny_access_list   (PkSocksServer  *self);
PK_AVAILABLE_IN_ALL
gboolean       pk_socks_server_reload                 (PkSocksServer  *self,
                                                       GError        **error);

/* Listeners made from now on serve on these worker threads. */
PK_AVAILABLE_IN_ALL
void           pk_socks_server_set_workers            (PkSocksServer  *self,
                                                       PkWorkers      *workers);
PK_AVAILABLE_IN_ALL
gboolean       pk_socks_server_listen                 (PkSocksServer  *self,
                                                       const char     *address,
                                                       GError        **error);
PK_AVAILABLE_IN_ALL
gboolean       pk_socks_server_add_socket             (PkSocksServer  *self,
                                                       GSocket        *socket,
                                                       GError        **error);
PK_AVAILABLE_IN_ALL
guint16        pk_socks_server_get_port               (PkSocksServer  *self);
PK_AVAILABLE_IN_ALL
char         **pk_socks_server_dup_listen_addresses   (PkSocksServer  *self);
PK_AVAILABLE_IN_ALL
gboolean       pk_socks_server_is_listening_on_loopback_only (PkSocksServer *self);
PK_AVAILABLE_IN_ALL
gboolean       pk_socks_server_get_allow_open         (PkSocksServer  *self);
PK_AVAILABLE_IN_ALL
void           pk_socks_server_set_allow_open         (PkSocksServer  *self,
                                                       gboolean        allow_open);

PK_AVAILABLE_IN_ALL
PkSocksServer *pk_socks_server_new_from_config        (PkConfig       *config,
                                                       const char     *name,
                                                       GError        **error);
PK_AVAILABLE_IN_ALL
char         **pk_socks_server_dup_config_listen      (PkConfig       *config,
                                                       const char     *name,
                                                       GError        **error);
PK_AVAILABLE_IN_ALL
gboolean       pk_socks_server_listen_from_config     (PkSocksServer  *self,
                                                       PkConfig       *config,
                                                       const char     *name,
                                                       GError        **error);
PK_AVAILABLE_IN_ALL
gboolean       pk_socks_server_check_listen_from_config (PkSocksServer *self,
                                                         PkConfig      *config,
                                                         const char    *name,
                                                         GError       **error);
PK_AVAILABLE_IN_ALL
gboolean       pk_socks_server_reload_from_config     (PkSocksServer  *self,
                                                       PkConfig       *config,
                                                       const char     *name,
                                                       GError        **error);
PK_AVAILABLE_IN_ALL
gboolean       pk_socks_server_diff_config_listeners  (PkConfig       *old_config,
                                                       PkConfig       *new_config,
                                                       char         ***added,
                                                       char         ***removed,
                                                       char         ***changed,
                                                       GError        **error);

PK_AVAILABLE_IN_ALL
void           pk_socks_server_stop_async             (PkSocksServer       *self,
                                                       guint                drain_timeout_ms,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
PK_AVAILABLE_IN_ALL
gboolean       pk_socks_server_stop_finish            (PkSocksServer  *self,
                                                       GAsyncResult   *result,
                                                       GError        **error);
PK_AVAILABLE_IN_ALL
void           pk_socks_server_close                  (PkSocksServer  *self);

PK_AVAILABLE_IN_ALL
guint          pk_socks_server_get_sessions_active    (PkSocksServer  *self);
PK_AVAILABLE_IN_ALL
guint64        pk_socks_server_get_sessions_total     (PkSocksServer  *self);
PK_AVAILABLE_IN_ALL
guint64        pk_socks_server_get_bytes_up           (PkSocksServer  *self);
PK_AVAILABLE_IN_ALL
guint64        pk_socks_server_get_bytes_down         (PkSocksServer  *self);
PK_AVAILABLE_IN_ALL
GVariant      *pk_socks_server_get_stats              (PkSocksServer  *self);
PK_AVAILABLE_IN_ALL
char          *pk_socks_server_dup_stats_json         (PkSocksServer  *self);
PK_AVAILABLE_IN_ALL
char          *pk_socks_server_dup_prometheus         (PkSocksServer * const *servers,
                                                       guint                  n_servers);

G_END_DECLS
