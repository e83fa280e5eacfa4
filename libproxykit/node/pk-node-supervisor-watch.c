/* pk-node-supervisor-watch.c: a node's state file, its watchdog, the
 * failure actions and the check from cron
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <signal.h>
#include <unistd.h>

#include "pk-error.h"
#include "pk-node-supervisor-private.h"
#include "pk-util-private.h"

/* --- the state file --- */

PkNodeState *
pk_node_supervisor_load_state (PkNodeSupervisor *self)
{
  g_autoptr(GError) error = NULL;
  PkNodeState *state = pk_state_store_load_or_new (self->store, self->name, &error);

  if (state == NULL)
    g_warning ("node %s: %s", self->name, error->message);
  return state;
}

/* Changes are made under the node's lock: other processes write the
 * same file. */
PkNodeState *
pk_node_supervisor_lock_state (PkNodeSupervisor *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkNodeState) peek = pk_state_store_load (self->store, self->name, &error);
  gboolean corrupt = peek == NULL && g_error_matches (error, PK_ERROR, PK_ERROR_STATE);
  PkNodeState *state;

  g_clear_error (&error);
  state = pk_state_store_load_locked (self->store, self->name, &error);
  if (state == NULL)
    {
      g_warning ("node %s: %s", self->name, error->message);
      self->state_failed = TRUE;
      return NULL;
    }
  /* The store kept a corrupt file aside and started the node afresh:
   * what this supervisor last read goes back in, so that a watched node
   * stays watched. */
  if (corrupt && self->watching && self->known != NULL && pk_node_state_get_tunnel_pid (state) == 0)
    {
      PkNodeState *known = pk_node_state_new_from_json (self->known, -1, NULL);

      if (known != NULL)
        {
          g_object_unref (state);
          state = known;
          /* the lock is held: a plain save keeps it */
          if (pk_state_store_save (self->store, state, &error))
            g_message ("node %s: recorded its last known state again", self->name);
          else
            g_warning ("node %s: %s", self->name, error->message);
        }
    }
  return state;
}

void
pk_node_supervisor_save_unlock (PkNodeSupervisor *self,
             PkNodeState      *state)
{
  g_autoptr(GError) error = NULL;

  if (!pk_state_store_save_unlock (self->store, state, &error))
    {
      g_warning ("node %s: %s", self->name, error->message);
      self->state_failed = TRUE;
    }
}

void
pk_node_supervisor_record_tunnel (PkNodeState *state,
                   PkTunnel    *tunnel)
{
  gboolean running = pk_tunnel_get_pid (tunnel) != 0;

  pk_node_state_set_tunnel (state, pk_tunnel_get_server (tunnel), pk_tunnel_get_linkname (tunnel),
                            pk_tunnel_get_unit (tunnel), running ? pk_tunnel_get_interface (tunnel) : NULL,
                            running ? pk_tunnel_get_pid (tunnel) : 0);
}

/* The bring-up's records: the tunnel as it is, the status. */
void
pk_node_supervisor_record_bring_up (PkNodeSupervisor *self,
                 PkNodeStatus      status,
                 const char       *reason)
{
  g_autoptr(PkNodeState) state = pk_node_supervisor_lock_state (self);

  if (state == NULL)
    return;
  if (self->tunnel != NULL)
    pk_node_supervisor_record_tunnel (state, self->tunnel);
  pk_node_state_clear_socks (state);
  pk_node_state_set_status (state, status, reason);
  pk_node_supervisor_save_unlock (self, state);
}

/* --- watching --- */

/* Where to connect to reach a listener: its address, or loopback for a
 * wildcard one. */
const char *
pk_node_supervisor_connect_host_for (const char *host)
{
  if (g_str_equal (host, "0.0.0.0"))
    return "127.0.0.1";
  if (g_str_equal (host, "::"))
    return "::1";
  return host;
}

static gboolean
node_is_watchable (PkNodeState *state)
{
  return pk_node_state_get_status (state) == PK_NODE_STATUS_ONLINE &&
         pk_node_state_get_tunnel_pid (state) > 0 &&
         pk_node_state_get_tunnel_interface (state) != NULL;
}

void
pk_node_supervisor_on_checked (PkWatchdog       *wd,
              gboolean          ok,
              const char       *reason,
              PkNodeSupervisor *self)
{
  g_autoptr(PkNodeState) state = NULL;
  guint cf = pk_watchdog_get_consecutive_failures (wd);

  pk_prom_histogram_observe_us (&self->latency, pk_watchdog_get_last_check_us (wd));
  /* check_once_async() counts in the file itself */
  if (self->once != NULL)
    return;
  if (ok)
    g_message ("node %s: ok", self->name);
  else
    g_message ("node %s: check failed (%u/%u): %s", self->name, cf, pk_watchdog_get_fall (wd), reason);

  /* keep the file's counter in step with what happened */
  state = pk_node_supervisor_lock_state (self);
  if (state == NULL)
    return;
  if (pk_node_state_get_consecutive_failures (state) != cf)
    {
      pk_node_state_set_consecutive_failures (state, cf);
      pk_node_supervisor_save_unlock (self, state);
    }
  else
    pk_state_store_unlock (self->store, self->name);
}

void
pk_node_supervisor_on_state_changed (PkWatchdog       *wd,
                    PkHealth          old_health,
                    PkHealth          new_health,
                    PkNodeSupervisor *self)
{
  g_message ("node %s: %s -> %s", self->name, pk_health_to_string (old_health),
             pk_health_to_string (new_health));
}

/* (Re)builds the watchdog's probes for the tunnel recorded in @state. */
void
pk_node_supervisor_watch (PkNodeSupervisor *self,
            PkNodeState      *state,
            gboolean          start)
{
  g_autoptr(PkProbe) alive = NULL;
  g_autoptr(PkProbe) link = NULL;
  int pid = pk_node_state_get_tunnel_pid (state);

  g_free (self->known);
  self->known = pk_node_state_to_json (state);
  if (self->watching && self->watched_pid == pid)
    return;

  pk_watchdog_stop (self->wd);
  pk_watchdog_clear_probes (self->wd);
  pk_hysteresis_reset (pk_watchdog_get_hysteresis (self->wd), PK_HEALTH_UP, g_get_real_time ());
  pk_hysteresis_set_total_failures (pk_watchdog_get_hysteresis (self->wd), pk_node_state_get_fails (state));

  alive = pk_probe_new_process (pid);
  link = pk_probe_new_interface (pk_node_state_get_tunnel_interface (state));
  pk_watchdog_add_probe (self->wd, alive);
  pk_watchdog_add_probe (self->wd, link);
  if (self->socks_target_host != NULL && pk_node_state_get_socks_listen (state) != NULL)
    {
      g_autofree char *host = NULL;
      guint16 port = 0;

      if (pk_parse_host_port (pk_node_state_get_socks_listen (state), 0, &host, &port, NULL))
        {
          g_autoptr(PkProbe) socks = pk_probe_new_socks (pk_node_supervisor_connect_host_for (host), port,
                                                         self->socks_target_host,
                                                         self->socks_target_port);

          pk_watchdog_add_probe (self->wd, socks);
        }
    }
  self->watched_pid = pid;
  self->watching = TRUE;
  if (start)
    pk_watchdog_start (self->wd);
  g_message ("node %s: watching pppd %d on %s%s", self->name, pid,
             pk_node_state_get_tunnel_interface (state),
             pk_watchdog_get_n_probes (self->wd) > 2 ? " and its SOCKS listener" : "");
}

void
pk_node_supervisor_unwatch (PkNodeSupervisor *self)
{
  pk_watchdog_stop (self->wd);
  self->watching = FALSE;
  self->watched_pid = 0;
}

/**
 * pk_node_supervisor_refresh:
 * @self: a [class@NodeSupervisor]
 *
 * Reads the node's state and acts on it, as `pk-watchdog` does at start,
 * on every rescan and on SIGHUP: a node `online` with a tunnel is watched
 * (again, if its pppd changed); any other node is not, and a
 * `ping_failed` one is recovered if recovery is on. Does nothing while
 * failure actions or a recovery run.
 *
 * Returns: %TRUE if the node is watched now
 *
 * Since: 0.2
 */
gboolean
pk_node_supervisor_refresh (PkNodeSupervisor *self)
{
  g_autoptr(PkNodeState) state = NULL;

  g_return_val_if_fail (PK_IS_NODE_SUPERVISOR (self), FALSE);

  if (self->busy)
    return self->watching;
  state = pk_node_supervisor_load_state (self);
  if (state == NULL)
    return self->watching;
  if (node_is_watchable (state))
    pk_node_supervisor_watch (self, state, TRUE);
  else
    {
      pk_node_supervisor_unwatch (self);
      if (self->recover && pk_node_state_get_status (state) == PK_NODE_STATUS_PING_FAILED)
        pk_node_supervisor_schedule_recovery (self);
    }
  return self->watching;
}

/**
 * pk_node_supervisor_stop:
 * @self: a [class@NodeSupervisor]
 *
 * Stops watching and calls off a scheduled recovery. The tunnel and the
 * listener keep running; an attempt already under way finishes.
 *
 * Since: 0.2
 */
void
pk_node_supervisor_stop (PkNodeSupervisor *self)
{
  g_return_if_fail (PK_IS_NODE_SUPERVISOR (self));

  pk_node_supervisor_unwatch (self);
  if (self->recovery_timer != NULL)
    {
      g_source_destroy (self->recovery_timer);
      g_clear_pointer (&self->recovery_timer, g_source_unref);
      self->busy = FALSE;
    }
}

/* --- failure actions --- */

static void
stop_listener (PkNodeSupervisor *self,
               PkNodeState      *state)
{
  int pid = pk_node_state_get_socks_pid (state);

  if (self->socks != NULL)
    {
      g_subprocess_send_signal (self->socks, SIGTERM);
      g_clear_object (&self->socks);
      g_message ("node %s: stopped its listener", self->name);
    }
  else if (pid > 0 && pid != getpid ())
    {
      /* the pid may have been reused (after a reboot, say): signal it
       * only while it is the process that was recorded */
      if (!pk_node_state_socks_pid_is_current (state))
        g_message ("node %s: listener process %d is gone (that pid is not the recorded listener now); "
                   "nothing to signal", self->name, pid);
      else if (kill (pid, SIGTERM) == 0)
        g_message ("node %s: stopped its listener (sent SIGTERM to pk-socks, pid %d)", self->name, pid);
      else
        g_message ("node %s: listener process %d is already gone", self->name, pid);
    }
}

static PkTunnel *
tunnel_for_state (PkNodeSupervisor *self,
                  PkNodeState      *state)
{
  const char *linkname = pk_node_state_get_tunnel_linkname (state);
  PkTunnel *tunnel;

  if (linkname == NULL)
    return NULL;
  tunnel = pk_tunnel_new (linkname);
  pk_tunnel_set_run_dir (tunnel, self->run_dir);
  if (pk_node_state_get_tunnel_server (state) != NULL)
    pk_tunnel_set_server (tunnel, pk_node_state_get_tunnel_server (state), NULL);
  pk_tunnel_set_unit (tunnel, pk_node_state_get_tunnel_unit (state));
  return tunnel;
}

static void
finish_once (PkNodeSupervisor *self)
{
  g_autoptr(GTask) task = g_steal_pointer (&self->once);
  GError *error = g_task_get_task_data (task);

  if (self->state_failed)
    g_task_return_new_error (task, PK_ERROR, PK_ERROR_STATE,
                             "node %s: the state directory could not be locked or written", self->name);
  else if (error != NULL)
    g_task_return_error (task, g_error_copy (error));
  else
    g_task_return_boolean (task, TRUE);
}

/* What the failure actions carry until the tunnel is down. */
typedef struct {
  PkNodeSupervisor *self;
  char *reason;
} Failure;

static void
failure_free (Failure *failure)
{
  g_object_unref (failure->self);
  g_free (failure->reason);
  g_free (failure);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Failure, failure_free)

static void
failure_tunnel_stopped (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  g_autoptr(Failure) failure = user_data;
  PkNodeSupervisor *self = failure->self;
  const char *reason = failure->reason;
  g_autoptr(GError) error = NULL;
  g_autoptr(PkNodeState) state = NULL;

  if (source != NULL && !pk_tunnel_stop_finish (PK_TUNNEL (source), result, &error))
    g_warning ("node %s: %s", self->name, error->message);
  g_clear_object (&self->tunnel);

  state = pk_node_supervisor_lock_state (self);
  if (state != NULL)
    {
      /* the tunnel's identity stays (recovery rebuilds it), its process goes */
      pk_node_state_set_tunnel (state, pk_node_state_get_tunnel_server (state),
                                pk_node_state_get_tunnel_linkname (state),
                                pk_node_state_get_tunnel_unit (state), NULL, 0);
      pk_node_state_clear_socks (state);
      pk_node_state_set_status (state, PK_NODE_STATUS_PING_FAILED, reason);
      pk_node_state_set_fails (state, pk_node_state_get_fails (state) + 1);
      pk_node_state_set_consecutive_failures (state, pk_watchdog_get_consecutive_failures (self->wd));
      pk_node_state_set_last_change (state, g_get_real_time () / G_USEC_PER_SEC);
      pk_node_supervisor_save_unlock (self, state);
      g_message ("node %s: status ping_failed, fails %u", self->name, pk_node_state_get_fails (state));
    }
  pk_node_supervisor_unwatch (self);
  self->busy = FALSE;
  if (self->once != NULL)
    finish_once (self);
  else if (self->recover)
    pk_node_supervisor_schedule_recovery (self);
}

static void
run_failure_actions (PkNodeSupervisor *self,
                     const char       *reason)
{
  g_autoptr(PkNodeState) state = pk_node_supervisor_load_state (self);
  g_autoptr(GError) error = NULL;
  Failure *failure;

  if (self->busy || state == NULL)
    return;
  self->busy = TRUE;
  pk_watchdog_stop (self->wd);
  g_message ("node %s: tunnel failure confirmed: %s", self->name, reason);

  failure = g_new0 (Failure, 1);
  failure->self = g_object_ref (self);
  failure->reason = g_strdup (reason);

  if (pk_node_state_get_socks_listen (state) != NULL)
    {
      g_free (self->listen);
      self->listen = g_strdup (pk_node_state_get_socks_listen (state));
    }
  stop_listener (self, state);

  if (self->tunnel == NULL)
    {
      self->tunnel = tunnel_for_state (self, state);
      if (self->tunnel != NULL && !pk_tunnel_adopt (self->tunnel, &error))
        g_debug ("node %s: %s", self->name, error->message);
    }
  if (self->tunnel == NULL)
    {
      failure_tunnel_stopped (NULL, NULL, failure);
      return;
    }
  g_message ("node %s: destroying tunnel %s", self->name, pk_tunnel_get_linkname (self->tunnel));
  pk_tunnel_stop_async (self->tunnel, NULL, failure_tunnel_stopped, failure);
}

void
pk_node_supervisor_on_failed (PkWatchdog       *wd,
             const char       *reason,
             PkNodeSupervisor *self)
{
  if (self->once == NULL)
    run_failure_actions (self, reason);
}

/* --- --once --- */

static void
once_checked (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(PkNodeSupervisor) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PkNodeState) state = NULL;
  gboolean ok = pk_watchdog_check_finish (PK_WATCHDOG (source), result, &error);
  guint fall = pk_watchdog_get_fall (self->wd);
  guint cf;

  if (error != NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_task_set_task_data (self->once, g_steal_pointer (&error), (GDestroyNotify) g_error_free);
      finish_once (self);
      return;
    }
  /* Across runs, the counter lives in the state file. */
  state = pk_node_supervisor_lock_state (self);
  if (state == NULL)
    {
      finish_once (self);
      return;
    }
  cf = ok ? 0 : pk_node_state_get_consecutive_failures (state) + 1;
  g_message ("node %s: %s%s%s (%u/%u)", self->name, ok ? "ok" : "check failed",
             ok ? "" : ": ", ok ? "" : error->message, cf, fall);
  pk_node_state_set_consecutive_failures (state, cf);
  pk_node_supervisor_save_unlock (self, state);
  if (!ok)
    g_task_set_task_data (self->once, g_error_copy (error), (GDestroyNotify) g_error_free);
  if (cf >= fall)
    {
      run_failure_actions (self, error->message);
      /* failure_tunnel_stopped() finishes, now or once the tunnel is down */
      if (self->busy || self->once == NULL)
        return;
    }
  finish_once (self);
}

/**
 * pk_node_supervisor_check_once_async:
 * @self: a [class@NodeSupervisor]
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when the check (and any failure
 *   actions) ended
 * @user_data: data for @callback
 *
 * One check of a watchable node, for a run from cron: the count of
 * failed checks in a row lives in the state file, and the failure
 * actions run when it reaches the watchdog's fall count. A node that is
 * not `online` with a tunnel passes without a check. Nothing is
 * recovered, and a watchdog that [method@NodeSupervisor.refresh] started
 * is stopped (refresh again to go on watching).
 *
 * Since: 0.2
 */
void
pk_node_supervisor_check_once_async (PkNodeSupervisor    *self,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(PkNodeState) state = NULL;

  g_return_if_fail (PK_IS_NODE_SUPERVISOR (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_node_supervisor_check_once_async);
  if (self->once != NULL || self->busy)
    {
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_BUSY, "node %s: already acting on it", self->name);
      return;
    }
  state = pk_node_supervisor_load_state (self);
  if (state == NULL)
    {
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_STATE, "node %s: cannot read its state", self->name);
      return;
    }
  if (!node_is_watchable (state))
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  pk_node_supervisor_unwatch (self);
  pk_node_supervisor_watch (self, state, FALSE);
  self->once = g_steal_pointer (&task);
  pk_watchdog_check_async (self->wd, cancellable, once_checked, g_object_ref (self));
}

/**
 * pk_node_supervisor_check_once_finish:
 * @self: a [class@NodeSupervisor]
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Finishes [method@NodeSupervisor.check_once_async].
 *
 * Returns: %TRUE if the node passed (or was not checked); %FALSE with
 *   %PK_ERROR_CHECK_FAILED when the check failed (counted, and acted on
 *   if confirmed), or %PK_ERROR_STATE when the state file could not be
 *   locked or written
 *
 * Since: 0.2
 */
gboolean
pk_node_supervisor_check_once_finish (PkNodeSupervisor  *self,
                                      GAsyncResult      *result,
                                      GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pk_node_supervisor_check_once_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
