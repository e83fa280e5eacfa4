/* pk-tunnel.h: one PPTP tunnel through pppd and pptp-linux
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
#include "pk-node-state.h"

G_BEGIN_DECLS

/**
 * PkTunnelState:
 * @PK_TUNNEL_STATE_DOWN: no pppd runs
 * @PK_TUNNEL_STATE_STARTING: pppd runs, the interface is not up yet
 * @PK_TUNNEL_STATE_UP: the interface is up with an IPv4 address
 * @PK_TUNNEL_STATE_STOPPING: pppd was asked to end
 * @PK_TUNNEL_STATE_FAILED: pppd ended by itself or did not come up in time
 *
 * The state of a [class@Tunnel].
 *
 * Since: 0.1
 */
typedef enum {
  PK_TUNNEL_STATE_DOWN,
  PK_TUNNEL_STATE_STARTING,
  PK_TUNNEL_STATE_UP,
  PK_TUNNEL_STATE_STOPPING,
  PK_TUNNEL_STATE_FAILED,
} PkTunnelState;

/**
 * PK_TUNNEL_RUN_DIR_DEFAULT:
 *
 * Where pppd writes its pidfiles.
 *
 * Since: 0.1
 */
#define PK_TUNNEL_RUN_DIR_DEFAULT "/var/run"

/**
 * PK_TUNNEL_PPPD_PATH_DEFAULT:
 *
 * The default pppd binary.
 *
 * Since: 0.1
 */
#define PK_TUNNEL_PPPD_PATH_DEFAULT "/usr/sbin/pppd"

#define PK_TYPE_TUNNEL (pk_tunnel_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkTunnel, pk_tunnel, PK, TUNNEL, GObject)

PK_AVAILABLE_IN_ALL
PkTunnel      *pk_tunnel_new                (const char    *linkname);
PK_AVAILABLE_IN_ALL
PkTunnel      *pk_tunnel_new_from_config    (PkConfig      *config,
                                             const char    *name,
                                             PkNodeState   *recorded,
                                             GError       **error);
PK_AVAILABLE_IN_ALL
const char * const *pk_tunnel_get_config_keys (void);
PK_AVAILABLE_IN_ALL
const char    *pk_tunnel_get_linkname       (PkTunnel      *self);

PK_AVAILABLE_IN_ALL
const char    *pk_tunnel_get_server         (PkTunnel      *self);
PK_AVAILABLE_IN_ALL
gboolean       pk_tunnel_set_server         (PkTunnel      *self,
                                             const char    *server,
                                             GError       **error);
PK_AVAILABLE_IN_ALL
const char    *pk_tunnel_get_peer           (PkTunnel      *self);
PK_AVAILABLE_IN_ALL
gboolean       pk_tunnel_set_peer           (PkTunnel      *self,
                                             const char    *peer,
                                             GError       **error);
PK_AVAILABLE_IN_ALL
const char    *pk_tunnel_get_user           (PkTunnel      *self);
PK_AVAILABLE_IN_ALL
void           pk_tunnel_set_user           (PkTunnel      *self,
                                             const char    *user);
PK_AVAILABLE_IN_ALL
void           pk_tunnel_set_password       (PkTunnel      *self,
                                             const char    *password);
PK_AVAILABLE_IN_ALL
int            pk_tunnel_get_unit           (PkTunnel      *self);
PK_AVAILABLE_IN_ALL
void           pk_tunnel_set_unit           (PkTunnel      *self,
                                             int            unit);
PK_AVAILABLE_IN_ALL
const char * const *pk_tunnel_get_options   (PkTunnel      *self);
PK_AVAILABLE_IN_ALL
void           pk_tunnel_set_options        (PkTunnel           *self,
                                             const char * const *options);
PK_AVAILABLE_IN_ALL
const char    *pk_tunnel_get_pppd_path      (PkTunnel      *self);
PK_AVAILABLE_IN_ALL
void           pk_tunnel_set_pppd_path      (PkTunnel      *self,
                                             const char    *path);
PK_AVAILABLE_IN_ALL
const char    *pk_tunnel_get_pptp_path      (PkTunnel      *self);
PK_AVAILABLE_IN_ALL
void           pk_tunnel_set_pptp_path      (PkTunnel      *self,
                                             const char    *path);
PK_AVAILABLE_IN_ALL
const char    *pk_tunnel_get_run_dir        (PkTunnel      *self);
PK_AVAILABLE_IN_ALL
void           pk_tunnel_set_run_dir        (PkTunnel      *self,
                                             const char    *run_dir);
PK_AVAILABLE_IN_ALL
guint          pk_tunnel_get_start_timeout_ms (PkTunnel    *self);
PK_AVAILABLE_IN_ALL
void           pk_tunnel_set_start_timeout_ms (PkTunnel    *self,
                                               guint        timeout_ms);
PK_AVAILABLE_IN_ALL
guint          pk_tunnel_get_stop_grace_ms  (PkTunnel      *self);
PK_AVAILABLE_IN_ALL
void           pk_tunnel_set_stop_grace_ms  (PkTunnel      *self,
                                             guint          grace_ms);

PK_AVAILABLE_IN_ALL
PkTunnelState  pk_tunnel_get_state          (PkTunnel      *self);
PK_AVAILABLE_IN_ALL
const char    *pk_tunnel_state_to_string    (PkTunnelState  state);
PK_AVAILABLE_IN_ALL
int            pk_tunnel_get_pid            (PkTunnel      *self);
PK_AVAILABLE_IN_ALL
const char    *pk_tunnel_get_interface      (PkTunnel      *self);
PK_AVAILABLE_IN_ALL
char          *pk_tunnel_dup_pidfile_path   (PkTunnel      *self);
PK_AVAILABLE_IN_ALL
const char    *pk_tunnel_get_last_error     (PkTunnel      *self);
PK_AVAILABLE_IN_ALL
const char    *pk_tunnel_describe_exit_status (int          status);

PK_AVAILABLE_IN_ALL
char         **pk_tunnel_build_argv         (PkTunnel      *self,
                                             GError       **error);

PK_AVAILABLE_IN_ALL
void           pk_tunnel_start_async        (PkTunnel            *self,
                                             GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data);
PK_AVAILABLE_IN_ALL
gboolean       pk_tunnel_start_finish       (PkTunnel      *self,
                                             GAsyncResult  *result,
                                             GError       **error);
PK_AVAILABLE_IN_ALL
void           pk_tunnel_stop_async         (PkTunnel            *self,
                                             GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data);
PK_AVAILABLE_IN_ALL
gboolean       pk_tunnel_stop_finish        (PkTunnel      *self,
                                             GAsyncResult  *result,
                                             GError       **error);
PK_AVAILABLE_IN_ALL
gboolean       pk_tunnel_adopt              (PkTunnel      *self,
                                             GError       **error);
PK_AVAILABLE_IN_ALL
gboolean       pk_tunnel_refresh            (PkTunnel      *self);
PK_AVAILABLE_IN_ALL
PkEgress      *pk_tunnel_get_egress         (PkTunnel      *self,
                                             GError       **error);

G_END_DECLS
