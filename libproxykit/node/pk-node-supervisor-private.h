/* pk-node-supervisor-private.h: what the files of PkNodeSupervisor share
 * (not installed)
 *
 * pk-node-supervisor.c: the object, its settings, status and metrics;
 * pk-node-supervisor-watch.c: the state file, watching, failure actions, --once;
 * pk-node-supervisor-bring-up.c: bring-up, recovery, shut down.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "pk-node-supervisor.h"
#include "pk-prom-private.h"

G_BEGIN_DECLS

struct _PkNodeSupervisor
{
  GObject parent_instance;

  char *name;
  PkStateStore *store;
  PkConfig *config;             /* [tunnel:NAME] for recovery; may be NULL */
  PkWatchdog *wd;               /* its probes follow the recorded pppd */

  /* settings */
  char *socks_target_host;      /* NULL: no SOCKS check */
  guint16 socks_target_port;
  gboolean recover;
  guint recover_delay_ms;
  guint recover_max_delay_ms;
  char *run_dir;
  char *pppd;
  char *socks_command;
  char *check_target;
  guint check_tries;
  guint check_delay_ms;
  guint check_timeout_ms;
  PkTunnel *given_tunnel;       /* set_tunnel(): brought up instead of [tunnel:NAME] */

  /* what runs */
  gboolean watching;
  int watched_pid;              /* the pppd the probes were built for */
  PkTunnel *tunnel;             /* a tunnel we adopted or started */
  GSubprocess *socks;           /* a listener we started */
  char *listen;                 /* the listener's address, kept across a failure */
  int own_listener_pid;         /* record_online()'s listener */
  gboolean busy;                /* failure actions or a recovery are running */
  guint attempt;
  GSource *recovery_timer;
  char *known;                  /* the state last read while watching, as JSON */
  GTask *once;                  /* check_once_async() in progress */
  gboolean state_failed;        /* a state file could not be locked or written */
  guint recoveries;
  PkPromHistogram latency;     /* of the watchdog's checks */
};

/* the state file, under the node's lock (pk-node-supervisor-watch.c) */
PkNodeState *pk_node_supervisor_load_state       (PkNodeSupervisor *self);
PkNodeState *pk_node_supervisor_lock_state       (PkNodeSupervisor *self);
void         pk_node_supervisor_save_unlock      (PkNodeSupervisor *self,
                                                  PkNodeState      *state);
void         pk_node_supervisor_record_tunnel    (PkNodeState      *state,
                                                  PkTunnel         *tunnel);
void         pk_node_supervisor_record_bring_up  (PkNodeSupervisor *self,
                                                  PkNodeStatus      status,
                                                  const char       *reason);
const char  *pk_node_supervisor_connect_host_for (const char       *host);

/* watching (pk-node-supervisor-watch.c) */
void         pk_node_supervisor_watch            (PkNodeSupervisor *self,
                                                  PkNodeState      *state,
                                                  gboolean          start);
void         pk_node_supervisor_unwatch          (PkNodeSupervisor *self);
void         pk_node_supervisor_on_checked       (PkWatchdog       *wd,
                                                  gboolean          ok,
                                                  const char       *reason,
                                                  PkNodeSupervisor *self);
void         pk_node_supervisor_on_state_changed (PkWatchdog       *wd,
                                                  PkHealth          old_health,
                                                  PkHealth          new_health,
                                                  PkNodeSupervisor *self);
void         pk_node_supervisor_on_failed        (PkWatchdog       *wd,
                                                  const char       *reason,
                                                  PkNodeSupervisor *self);

/* recovery (pk-node-supervisor-bring-up.c) */
void         pk_node_supervisor_schedule_recovery (PkNodeSupervisor *self);
/* (pk-node-supervisor.c) */
void         pk_node_supervisor_count_recovery   (PkNodeSupervisor *self);

G_END_DECLS
