/* pk-node-supervisor-bring-up.c: a node's way up (tunnel, startup check,
 * rollback), its recovery with backoff and its shut down
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <signal.h>
#include <stdlib.h>

#include "pk-error.h"
#include "pk-node-supervisor-private.h"
#include "pk-util-private.h"

/* How long a restarted pk-socks may take to answer on its address. */
#define LISTENER_READY_TRIES 100
#define LISTENER_READY_DELAY_MS 100

/* --- bring-up: tunnel, startup check, rollback --- */

/* Builds the tunnel of [tunnel:NAME] (or the one set_tunnel() gave). */
static PkTunnel *
configure_tunnel (PkNodeSupervisor  *self,
                  PkNodeState       *recorded,
                  GError           **error)
{
  g_autofree char *section = g_strdup_printf ("tunnel:%s", self->name);
  PkTunnel *tunnel;

  if (self->config == NULL)
    {
      g_autoptr(PkConfig) empty = NULL;

      if (self->given_tunnel != NULL)
        return g_object_ref (self->given_tunnel);
      /* the recorded server, link name and unit alone */
      empty = pk_config_new ();
      tunnel = pk_tunnel_new_from_config (empty, self->name, recorded, error);
      if (tunnel != NULL)
        pk_tunnel_set_run_dir (tunnel, self->run_dir);
      return tunnel;
    }
  tunnel = pk_tunnel_new_from_config (self->config, self->name, recorded, error);
  if (tunnel == NULL)
    return NULL;
  /* [watchdog] pppd (or --pppd) for the tunnels that name none */
  if (self->pppd != NULL && !pk_config_has_value (self->config, section, "pppd", NULL))
    pk_tunnel_set_pppd_path (tunnel, self->pppd);
  pk_tunnel_set_run_dir (tunnel, self->run_dir);
  return tunnel;
}

static void
tunnel_up_checked (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PkNodeSupervisor *self = g_task_get_source_object (task);
  GError *error = NULL;
  guint tries = 0;

  if (!pk_startup_check_finish (result, &tries, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  g_message ("node %s: startup check passed on try %u", self->name, tries);
  g_task_return_pointer (task, g_object_ref (g_task_get_task_data (task)), g_object_unref);
}

static void
tunnel_up_check (GTask *task)
{
  PkNodeSupervisor *self = g_task_get_source_object (task);
  GError *error = NULL;
  PkEgress *egress = pk_tunnel_get_egress (self->tunnel, &error);

  if (egress == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  g_task_set_task_data (task, egress, g_object_unref);
  if (GPOINTER_TO_INT (g_object_get_data (G_OBJECT (task), "record")))
    pk_node_supervisor_record_bring_up (self, PK_NODE_STATUS_STARTING, NULL);
  g_message ("node %s: tunnel %s up on %s; startup check to %s (%u tries, %u ms apart, %u ms each)",
             self->name, pk_tunnel_get_linkname (self->tunnel), pk_tunnel_get_interface (self->tunnel),
             self->check_target, self->check_tries, self->check_delay_ms, self->check_timeout_ms);
  pk_startup_check_async (egress, self->check_target, self->check_tries, self->check_delay_ms,
                          self->check_timeout_ms, g_task_get_cancellable (task), tunnel_up_checked, task);
}

static void
tunnel_up_started (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  GTask *task = user_data;
  GError *error = NULL;

  if (!pk_tunnel_start_finish (PK_TUNNEL (source), result, &error))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  tunnel_up_check (task);
}

/* The one way up of both a bring-up and a recovery: the tunnel (adopted
 * if @adopt and its pppd runs), its egress, the startup check through it.
 * Returns the egress; rolling back is the caller's. */
static void
tunnel_up_async (PkNodeSupervisor    *self,
                 PkTunnel            *tunnel,
                 gboolean             adopt,
                 gboolean             record,
                 GCancellable        *cancellable,
                 GAsyncReadyCallback  callback,
                 gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, tunnel_up_async);
  g_object_set_data (G_OBJECT (task), "record", GINT_TO_POINTER (record));
  g_set_object (&self->tunnel, tunnel);
  if (adopt && pk_tunnel_adopt (tunnel, NULL))
    {
      g_message ("node %s: tunnel %s: adopted the running pppd (pid %d)", self->name,
                 pk_tunnel_get_linkname (tunnel), pk_tunnel_get_pid (tunnel));
      tunnel_up_check (task);
      return;
    }
  if (record)
    pk_node_supervisor_record_bring_up (self, PK_NODE_STATUS_STARTING, NULL);
  g_message ("node %s: starting tunnel %s to %s", self->name, pk_tunnel_get_linkname (tunnel),
             pk_tunnel_get_server (tunnel) ? pk_tunnel_get_server (tunnel) : pk_tunnel_get_peer (tunnel));
  pk_tunnel_start_async (tunnel, cancellable, tunnel_up_started, task);
}

static PkEgress *
tunnel_up_finish (PkNodeSupervisor  *self,
                  GAsyncResult      *result,
                  GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* --- recovery --- */

static void recovery_attempt_failed (PkNodeSupervisor *self, const char *reason);

static gboolean
start_listener (PkNodeSupervisor  *self,
                PkEgress          *egress,
                char             **reason)
{
  g_autofree char *section = g_strdup_printf ("tunnel:%s", self->name);
  g_autofree char *listen = NULL;
  g_autofree char *extra = NULL;
  g_auto(GStrv) extra_argv = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;

  if (self->config != NULL)
    {
      listen = pk_config_dup_string (self->config, section, "listen", NULL, self->listen);
      extra = pk_config_dup_string (self->config, section, "socks-args", NULL, NULL);
    }
  else
    listen = g_strdup (self->listen);
  if (listen == NULL)
    return TRUE;   /* a tunnel without a listener of ours */
  if (extra != NULL && !g_shell_parse_argv (extra, NULL, &extra_argv, &error))
    {
      *reason = g_strdup_printf ("[%s] socks-args: %s", section, error->message);
      return FALSE;
    }
  g_ptr_array_add (argv, self->socks_command);
  g_ptr_array_add (argv, "--listen");
  g_ptr_array_add (argv, listen);
  g_ptr_array_add (argv, "--egress-interface");
  g_ptr_array_add (argv, (gpointer) pk_tunnel_get_interface (self->tunnel));
  g_ptr_array_add (argv, "--egress-address");
  g_ptr_array_add (argv, (gpointer) pk_egress_get_address (egress));
  for (guint i = 0; extra_argv && extra_argv[i]; i++)
    g_ptr_array_add (argv, extra_argv[i]);
  g_ptr_array_add (argv, NULL);

  g_clear_object (&self->socks);
  self->socks = g_subprocess_newv ((const char * const *) argv->pdata, G_SUBPROCESS_FLAGS_NONE, &error);
  if (self->socks == NULL)
    {
      *reason = g_strdup_printf ("cannot start %s: %s", self->socks_command, error->message);
      return FALSE;
    }
  g_free (self->listen);
  self->listen = g_steal_pointer (&listen);
  g_message ("node %s: started listener %s on %s (pid %s)", self->name, self->listen,
             pk_tunnel_get_interface (self->tunnel), g_subprocess_get_identifier (self->socks));
  return TRUE;
}

static void
recovery_online (PkNodeSupervisor *self)
{
  g_autoptr(PkNodeState) state = pk_node_supervisor_lock_state (self);

  if (state == NULL)
    {
      recovery_attempt_failed (self, "cannot read the node state");
      return;
    }
  pk_node_supervisor_record_tunnel (state, self->tunnel);
  if (self->socks != NULL)
    pk_node_state_set_socks (state, self->listen, atoi (g_subprocess_get_identifier (self->socks)));
  pk_node_state_set_status (state, PK_NODE_STATUS_ONLINE, NULL);
  pk_node_state_set_consecutive_failures (state, 0);
  pk_node_state_set_recoveries (state, pk_node_state_get_recoveries (state) + 1);
  pk_node_state_set_last_change (state, g_get_real_time () / G_USEC_PER_SEC);
  pk_node_supervisor_save_unlock (self, state);
  g_message ("node %s: recovered after %u attempt%s: online on %s", self->name, self->attempt,
             self->attempt == 1 ? "" : "s", pk_tunnel_get_interface (self->tunnel));
  self->attempt = 0;
  self->busy = FALSE;
  pk_node_supervisor_count_recovery (self);
  pk_node_supervisor_watch (self, state, TRUE);
}

static void
recovery_listener_ready (GObject      *source,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  g_autoptr(PkNodeSupervisor) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!pk_probe_run_with_retries_finish (PK_PROBE (source), result, NULL, &error))
    {
      g_autofree char *reason = g_strdup_printf ("listener %s does not answer: %s", self->listen,
                                                 error->message);
      recovery_attempt_failed (self, reason);
      return;
    }
  recovery_online (self);
}

static void
recovery_tunnel_up (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(PkNodeSupervisor) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PkEgress) egress = tunnel_up_finish (self, result, &error);
  g_autofree char *reason = NULL;
  g_autofree char *host = NULL;
  guint16 port = 0;

  if (egress == NULL)
    {
      recovery_attempt_failed (self, error->message);
      return;
    }
  if (!start_listener (self, egress, &reason))
    {
      recovery_attempt_failed (self, reason);
      return;
    }
  if (self->socks == NULL)
    {
      recovery_online (self);
      return;
    }
  /* "online" is only true once the new listener answers: the process
   * exists before it has bound its socket. */
  if (pk_parse_host_port (self->listen, 0, &host, &port, &error))
    {
      g_autoptr(PkProbe) probe = pk_probe_new_tcp_connect (NULL, pk_node_supervisor_connect_host_for (host), port);

      pk_probe_run_with_retries_async (probe, LISTENER_READY_TRIES, LISTENER_READY_DELAY_MS, 1000,
                                       NULL, recovery_listener_ready, g_object_ref (self));
      return;
    }
  recovery_attempt_failed (self, error->message);
}

static gboolean
recovery_start (gpointer user_data)
{
  PkNodeSupervisor *self = user_data;
  g_autoptr(PkNodeState) state = pk_node_supervisor_load_state (self);
  g_autoptr(GError) error = NULL;
  g_autoptr(PkTunnel) tunnel = NULL;

  g_clear_pointer (&self->recovery_timer, g_source_unref);
  if (state == NULL)
    {
      recovery_attempt_failed (self, "cannot read the node state");
      return G_SOURCE_REMOVE;
    }
  if (pk_node_state_get_status (state) != PK_NODE_STATUS_PING_FAILED)
    {
      /* someone else (an operator, pk-socks) took over the node */
      g_message ("node %s: is %s now; recovery called off", self->name,
                 pk_node_status_to_string (pk_node_state_get_status (state)));
      self->busy = FALSE;
      self->attempt = 0;
      return G_SOURCE_REMOVE;
    }
  tunnel = configure_tunnel (self, state, &error);
  if (tunnel == NULL)
    {
      g_warning ("node %s: cannot recover: %s", self->name, error->message);
      self->busy = FALSE;
      return G_SOURCE_REMOVE;
    }
  g_message ("node %s: recovery attempt %u: starting tunnel %s", self->name, self->attempt,
             pk_tunnel_get_linkname (tunnel));
  tunnel_up_async (self, tunnel, FALSE, FALSE, NULL, recovery_tunnel_up, g_object_ref (self));
  return G_SOURCE_REMOVE;
}

void
pk_node_supervisor_schedule_recovery (PkNodeSupervisor *self)
{
  guint64 delay = self->recover_delay_ms;

  /* one recovery at a time */
  if (self->busy || self->recovery_timer != NULL)
    return;
  self->busy = TRUE;
  self->attempt++;
  for (guint i = 1; i < self->attempt && delay < self->recover_max_delay_ms; i++)
    delay *= 2;
  delay = MIN (delay, self->recover_max_delay_ms);
  g_message ("node %s: recovery attempt %u in %.1f s", self->name, self->attempt, delay / 1000.0);
  self->recovery_timer = g_timeout_source_new (delay);
  g_source_set_callback (self->recovery_timer, recovery_start, self, NULL);
  g_source_set_static_name (self->recovery_timer, "[proxykit] node recovery");
  g_source_attach (self->recovery_timer, g_main_context_get_thread_default ());
}

static void
recovery_stopped (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(PkNodeSupervisor) self = user_data;

  pk_tunnel_stop_finish (PK_TUNNEL (source), result, NULL);
  g_clear_object (&self->tunnel);
  self->busy = FALSE;
  pk_node_supervisor_schedule_recovery (self);
}

/* Roll back what the attempt started, and try again later. */
static void
recovery_attempt_failed (PkNodeSupervisor *self,
                         const char       *reason)
{
  g_autoptr(PkNodeState) state = pk_node_supervisor_lock_state (self);

  g_message ("node %s: recovery attempt %u failed: %s", self->name, self->attempt, reason);
  if (self->socks != NULL)
    {
      g_subprocess_send_signal (self->socks, SIGTERM);
      g_clear_object (&self->socks);
    }
  if (state != NULL)
    {
      pk_node_state_set_status (state, PK_NODE_STATUS_PING_FAILED, reason);
      pk_node_supervisor_save_unlock (self, state);
    }
  if (self->tunnel != NULL)
    pk_tunnel_stop_async (self->tunnel, NULL, recovery_stopped, g_object_ref (self));
  else
    {
      self->busy = FALSE;
      pk_node_supervisor_schedule_recovery (self);
    }
}

/* --- bring-up for a tool that serves itself (pk-socks --pptp-server) --- */

static void
bring_up_rolled_back (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PkNodeSupervisor *self = g_task_get_source_object (task);
  GError *error = g_task_get_task_data (task);

  if (source != NULL)
    pk_tunnel_stop_finish (PK_TUNNEL (source), result, NULL);
  pk_node_supervisor_record_bring_up (self, PK_NODE_STATUS_STOPPED, error->message);
  self->busy = FALSE;
  g_task_return_error (task, g_error_copy (error));
}

static void
bring_up_done (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PkNodeSupervisor *self = g_task_get_source_object (task);
  GError *error = NULL;
  PkEgress *egress = tunnel_up_finish (self, result, &error);

  if (egress != NULL)
    {
      self->busy = FALSE;
      g_task_return_pointer (task, egress, g_object_unref);
      return;
    }
  g_warning ("node %s: %s; rolling back", self->name, error->message);
  g_task_set_task_data (task, error, (GDestroyNotify) g_error_free);
  if (self->tunnel != NULL)
    pk_tunnel_stop_async (self->tunnel, NULL, bring_up_rolled_back, g_steal_pointer (&task));
  else
    bring_up_rolled_back (NULL, NULL, g_steal_pointer (&task));
}

/**
 * pk_node_supervisor_bring_up_async:
 * @self: a [class@NodeSupervisor]
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when the node is up or rolled back
 * @user_data: data for @callback
 *
 * Brings the node's tunnel up for a listener of the caller's: the tunnel
 * of [method@NodeSupervisor.set_tunnel] (else `[tunnel:NAME]`), adopted
 * if its pppd already runs, else started (the node recorded `starting`);
 * then the startup check through it. If the tunnel does not come up or
 * the check fails every try, the tunnel is destroyed again and the node
 * recorded `stopped` with the reason. Serve through the egress that
 * [method@NodeSupervisor.bring_up_finish] returns, then call
 * [method@NodeSupervisor.record_online].
 *
 * Since: 0.2
 */
void
pk_node_supervisor_bring_up_async (PkNodeSupervisor    *self,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(PkTunnel) tunnel = NULL;
  GError *error = NULL;

  g_return_if_fail (PK_IS_NODE_SUPERVISOR (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_node_supervisor_bring_up_async);
  if (self->busy)
    {
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_BUSY, "node %s: already acting on it", self->name);
      return;
    }
  tunnel = self->given_tunnel ? g_object_ref (self->given_tunnel) : configure_tunnel (self, NULL, &error);
  if (tunnel == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  self->busy = TRUE;
  tunnel_up_async (self, tunnel, TRUE, TRUE, cancellable, bring_up_done, g_steal_pointer (&task));
}

/**
 * pk_node_supervisor_bring_up_finish:
 * @self: a [class@NodeSupervisor]
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Finishes [method@NodeSupervisor.bring_up_async].
 *
 * Returns: (transfer full): the tunnel's egress; or %NULL with @error
 *   (%PK_ERROR_TUNNEL, %PK_ERROR_CHECK_FAILED, ...) after the rollback
 *
 * Since: 0.2
 */
PkEgress *
pk_node_supervisor_bring_up_finish (PkNodeSupervisor  *self,
                                    GAsyncResult      *result,
                                    GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pk_node_supervisor_bring_up_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * pk_node_supervisor_record_online:
 * @self: a [class@NodeSupervisor]
 * @listen: (nullable): the listener's address, such as `0.0.0.0:11001`;
 *   %NULL for a tunnel without a listener
 * @pid: the listener's process (`getpid()` for a listener in this one)
 * @error: return location for a `GError`
 *
 * Records the node `online` with its tunnel and listener: from now on a
 * watchdog (this process's or `pk-watchdog`'s) looks after it.
 *
 * Returns: %TRUE, or %FALSE if the state file could not be written
 *
 * Since: 0.2
 */
gboolean
pk_node_supervisor_record_online (PkNodeSupervisor  *self,
                                  const char        *listen,
                                  int                pid,
                                  GError           **error)
{
  g_autoptr(PkNodeState) state = NULL;

  g_return_val_if_fail (PK_IS_NODE_SUPERVISOR (self), FALSE);

  state = pk_state_store_load_locked (self->store, self->name, error);
  if (state == NULL)
    return FALSE;
  if (self->tunnel != NULL)
    pk_node_supervisor_record_tunnel (state, self->tunnel);
  if (listen != NULL)
    pk_node_state_set_socks (state, listen, pid);
  else
    pk_node_state_clear_socks (state);
  pk_node_state_set_status (state, PK_NODE_STATUS_ONLINE, NULL);
  pk_node_state_set_consecutive_failures (state, 0);
  self->own_listener_pid = pid;
  return pk_state_store_save_unlock (self->store, state, error);
}

static void
shut_down_stopped (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PkNodeSupervisor *self = g_task_get_source_object (task);
  g_autoptr(PkNodeState) state = NULL;

  pk_tunnel_stop_finish (PK_TUNNEL (source), result, NULL);
  /* Only a node that is still ours is marked stopped: after a failure,
   * a watchdog has recorded ping_failed, and its recovery may already run
   * a new tunnel and listener. */
  state = pk_state_store_load (self->store, self->name, NULL);
  if (state != NULL && self->own_listener_pid > 0 &&
      pk_node_state_get_socks_pid (state) == self->own_listener_pid &&
      pk_node_state_get_status (state) != PK_NODE_STATUS_PING_FAILED)
    pk_node_supervisor_record_bring_up (self, PK_NODE_STATUS_STOPPED, NULL);
  g_clear_object (&self->tunnel);
  g_task_return_boolean (task, TRUE);
}

/**
 * pk_node_supervisor_shut_down_async:
 * @self: a [class@NodeSupervisor]
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when the tunnel is down
 * @user_data: data for @callback
 *
 * Destroys the tunnel that [method@NodeSupervisor.bring_up_async] brought
 * up, when its listener stops; the node becomes `stopped` unless a
 * watchdog recorded a failure meanwhile (or another listener took over).
 *
 * Since: 0.2
 */
void
pk_node_supervisor_shut_down_async (PkNodeSupervisor    *self,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (PK_IS_NODE_SUPERVISOR (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_node_supervisor_shut_down_async);
  pk_node_supervisor_stop (self);
  if (self->tunnel == NULL)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  g_message ("node %s: destroying tunnel %s", self->name, pk_tunnel_get_linkname (self->tunnel));
  pk_tunnel_stop_async (self->tunnel, cancellable, shut_down_stopped, g_steal_pointer (&task));
}

/**
 * pk_node_supervisor_shut_down_finish:
 * @self: a [class@NodeSupervisor]
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Finishes [method@NodeSupervisor.shut_down_async].
 *
 * Returns: %TRUE
 *
 * Since: 0.2
 */
gboolean
pk_node_supervisor_shut_down_finish (PkNodeSupervisor  *self,
                                     GAsyncResult      *result,
                                     GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pk_node_supervisor_shut_down_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
