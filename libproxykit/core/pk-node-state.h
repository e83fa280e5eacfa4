/* pk-node-state.h: the recorded state of one proxy node
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__PROXYKIT_INSIDE__) && !defined(PROXYKIT_COMPILATION)
#error "Only <proxykit/proxykit.h> can be included directly."
#endif

#include <glib-object.h>
#include "pk-version-macros.h"

G_BEGIN_DECLS

/**
 * PkNodeStatus:
 * @PK_NODE_STATUS_STARTING: the node is being brought up (tunnel, startup check)
 * @PK_NODE_STATUS_ONLINE: the node passed its startup check and serves
 * @PK_NODE_STATUS_PING_FAILED: a confirmed health failure took the node down
 * @PK_NODE_STATUS_STOPPED: the node was stopped (by an operator or a failed start)
 * @PK_NODE_STATUS_RECOVERING: a confirmed failure is being repaired (a dongle's
 *   recovery ladder runs). Since: 0.2
 *
 * The status of a node as recorded in its state file. The strings in the
 * file are `starting`, `online`, `ping_failed`, `stopped` and `recovering`.
 *
 * Since: 0.1
 */
typedef enum {
  PK_NODE_STATUS_STARTING,
  PK_NODE_STATUS_ONLINE,
  PK_NODE_STATUS_PING_FAILED,
  PK_NODE_STATUS_STOPPED,
  PK_NODE_STATUS_RECOVERING,
} PkNodeStatus;

PK_AVAILABLE_IN_ALL
const char   *pk_node_status_to_string   (PkNodeStatus  status);
PK_AVAILABLE_IN_ALL
gboolean      pk_node_status_from_string (const char   *str,
                                          PkNodeStatus *out_status);

#define PK_TYPE_NODE_STATE (pk_node_state_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkNodeState, pk_node_state, PK, NODE_STATE, GObject)

PK_AVAILABLE_IN_ALL
PkNodeState  *pk_node_state_new              (const char   *name);
PK_AVAILABLE_IN_ALL
PkNodeState  *pk_node_state_new_from_json   (const char   *data,
                                              gssize        length,
                                              GError      **error);
PK_AVAILABLE_IN_ALL
char         *pk_node_state_to_json         (PkNodeState  *self);

PK_AVAILABLE_IN_ALL
const char   *pk_node_state_get_name        (PkNodeState  *self);
PK_AVAILABLE_IN_ALL
PkNodeStatus  pk_node_state_get_status      (PkNodeState  *self);
PK_AVAILABLE_IN_ALL
void          pk_node_state_set_status      (PkNodeState  *self,
                                             PkNodeStatus  status,
                                             const char   *reason);
PK_AVAILABLE_IN_ALL
const char   *pk_node_state_get_reason      (PkNodeState  *self);
PK_AVAILABLE_IN_ALL
gint64        pk_node_state_get_status_changed (PkNodeState *self);

PK_AVAILABLE_IN_ALL
const char   *pk_node_state_get_tunnel_server    (PkNodeState *self);
PK_AVAILABLE_IN_ALL
const char   *pk_node_state_get_tunnel_linkname  (PkNodeState *self);
PK_AVAILABLE_IN_ALL
const char   *pk_node_state_get_tunnel_interface (PkNodeState *self);
PK_AVAILABLE_IN_ALL
int           pk_node_state_get_tunnel_unit      (PkNodeState *self);
PK_AVAILABLE_IN_ALL
int           pk_node_state_get_tunnel_pid       (PkNodeState *self);
PK_AVAILABLE_IN_ALL
void          pk_node_state_set_tunnel           (PkNodeState *self,
                                                  const char  *server,
                                                  const char  *linkname,
                                                  int          unit,
                                                  const char  *interface,
                                                  int          pid);
PK_AVAILABLE_IN_ALL
void          pk_node_state_clear_tunnel         (PkNodeState *self);

PK_AVAILABLE_IN_ALL
const char   *pk_node_state_get_socks_listen     (PkNodeState *self);
PK_AVAILABLE_IN_ALL
int           pk_node_state_get_socks_pid        (PkNodeState *self);
PK_AVAILABLE_IN_ALL
void          pk_node_state_set_socks            (PkNodeState *self,
                                                  const char  *listen,
                                                  int          pid);
PK_AVAILABLE_IN_ALL
void          pk_node_state_clear_socks          (PkNodeState *self);
PK_AVAILABLE_IN_ALL
gboolean      pk_node_state_socks_pid_is_current (PkNodeState *self);

PK_AVAILABLE_IN_ALL
guint         pk_node_state_get_dongle_id        (PkNodeState *self);
PK_AVAILABLE_IN_ALL
const char   *pk_node_state_get_dongle_interface (PkNodeState *self);
PK_AVAILABLE_IN_ALL
const char   *pk_node_state_get_dongle_address   (PkNodeState *self);
PK_AVAILABLE_IN_ALL
void          pk_node_state_set_dongle           (PkNodeState *self,
                                                  guint        id,
                                                  const char  *interface,
                                                  const char  *address);
PK_AVAILABLE_IN_ALL
void          pk_node_state_clear_dongle         (PkNodeState *self);

PK_AVAILABLE_IN_ALL
guint         pk_node_state_get_fails            (PkNodeState *self);
PK_AVAILABLE_IN_ALL
void          pk_node_state_set_fails            (PkNodeState *self,
                                                  guint        fails);
PK_AVAILABLE_IN_ALL
guint         pk_node_state_get_consecutive_failures (PkNodeState *self);
PK_AVAILABLE_IN_ALL
void          pk_node_state_set_consecutive_failures (PkNodeState *self,
                                                      guint        n);
PK_AVAILABLE_IN_ALL
guint         pk_node_state_get_recoveries       (PkNodeState *self);
PK_AVAILABLE_IN_ALL
void          pk_node_state_set_recoveries       (PkNodeState *self,
                                                  guint        recoveries);
PK_AVAILABLE_IN_ALL
gboolean      pk_node_state_tunnel_pid_is_alive  (PkNodeState *self);
PK_AVAILABLE_IN_ALL
gint64        pk_node_state_get_last_change      (PkNodeState *self);
PK_AVAILABLE_IN_ALL
void          pk_node_state_set_last_change      (PkNodeState *self,
                                                  gint64       unix_time);

G_END_DECLS
