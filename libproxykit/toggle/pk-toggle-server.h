/* pk-toggle-server.h: the HTTP API of pk-toggle --serve
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__PROXYKIT_INSIDE__) && !defined(PROXYKIT_COMPILATION)
#error "Only <proxykit/proxykit.h> can be included directly."
#endif

#include <gio/gio.h>
#include "pk-version-macros.h"
#include "pk-toggle.h"
#include "pk-state-store.h"

G_BEGIN_DECLS

#define PK_TYPE_TOGGLE_SERVER (pk_toggle_server_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkToggleServer, pk_toggle_server, PK, TOGGLE_SERVER, GObject)

PK_AVAILABLE_IN_ALL
PkToggleServer *pk_toggle_server_new                (void);
PK_AVAILABLE_IN_ALL
void            pk_toggle_server_add_dongle         (PkToggleServer   *self,
                                                     PkToggle         *toggle,
                                                     const char       *api_url,
                                                     const char       *egress_ip,
                                                     const char       *socks_host,
                                                     guint16           socks_port);
PK_AVAILABLE_IN_ALL
gboolean        pk_toggle_server_remove_dongle      (PkToggleServer   *self,
                                                     guint             id);
PK_AVAILABLE_IN_ALL
PkToggle       *pk_toggle_server_get_toggle         (PkToggleServer   *self,
                                                     guint             id);
PK_AVAILABLE_IN_ALL
void            pk_toggle_server_set_default_method (PkToggleServer   *self,
                                                     PkRotationMethod  method);
PK_AVAILABLE_IN_ALL
void            pk_toggle_server_set_token          (PkToggleServer   *self,
                                                     const char       *token);
PK_AVAILABLE_IN_ALL
void            pk_toggle_server_set_allow_get      (PkToggleServer   *self,
                                                     gboolean          allow);
PK_AVAILABLE_IN_ALL
void            pk_toggle_server_set_state_store    (PkToggleServer   *self,
                                                     PkStateStore     *store);
PK_AVAILABLE_IN_ALL
gboolean        pk_toggle_server_listen             (PkToggleServer   *self,
                                                     const char       *address,
                                                     GError          **error);
PK_AVAILABLE_IN_ALL
guint16         pk_toggle_server_get_port           (PkToggleServer   *self);
PK_AVAILABLE_IN_ALL
void            pk_toggle_server_stop               (PkToggleServer   *self);

G_END_DECLS
