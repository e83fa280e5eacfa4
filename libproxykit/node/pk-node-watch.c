/* pk-node-watch.c: every node of a state store, each with its supervisor
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkNodeWatch:
 *
 * Looks after every proxy node of a [class@StateStore] (and every
 * `[tunnel:NAME]` section of the configuration), with one
 * [class@NodeSupervisor] each, built from `[watchdog]` by
 * [ctor@NodeSupervisor.new_from_config]: what `pk-watchdog` runs.
 *
 * - [method@NodeWatch.start] watches the nodes recorded `online` with a
 *   tunnel, and rescans the store every check interval (and on
 *   [method@NodeWatch.refresh], for SIGHUP): a node that came online
 *   (`pk-socks --pptp-server` started it), a new pppd pid, a node an
 *   operator stopped. A failed node is recovered when `[watchdog]
 *   recover` is on.
 * - [method@NodeWatch.check_once_async] checks every node once, for cron:
 *   the count of failed checks lives in the state files.
 * - [method@NodeWatch.dup_status_text], [method@NodeWatch.dup_status_json]
 *   and [method@NodeWatch.dup_prometheus] describe the nodes as
 *   `pk-watchdog --status` and its `/metrics` do.
 *
 * Nodes named `dongle-N` are the dongles' ([class@DongleWatch]'s) and are
 * listed, not supervised. [method@NodeWatch.set_nodes] narrows the watch
 * to some nodes (`pk-watchdog --node`).
 *
 * Since: 0.2
 */

#include "config.h"

#include <json-glib/json-glib.h>

#include "pk-node-watch.h"

#include "pk-error.h"
#include "pk-node-state.h"
#include "pk-util-private.h"

struct _PkNodeWatch
{
  GObject parent_instance;

  PkConfig *config;
  PkStateStore *store;
  PkNodeSupervisor *settings;   /* "watchdog": the settings, checked once */
  GHashTable *nodes;            /* name -> PkNodeSupervisor */
  char **selected;              /* or NULL: every node */
  GSource *rescan;
};

G_DEFINE_FINAL_TYPE (PkNodeWatch, pk_node_watch, G_TYPE_OBJECT)

static void
stop_supervisor (gpointer data)
{
  pk_node_supervisor_stop (data);
  g_object_unref (data);
}

static void
pk_node_watch_finalize (GObject *object)
{
  PkNodeWatch *self = PK_NODE_WATCH (object);

  pk_node_watch_stop (self);
  g_hash_table_unref (self->nodes);
  g_strfreev (self->selected);
  g_clear_object (&self->settings);
  g_clear_object (&self->store);
  g_clear_object (&self->config);
  G_OBJECT_CLASS (pk_node_watch_parent_class)->finalize (object);
}

static void
pk_node_watch_class_init (PkNodeWatchClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pk_node_watch_finalize;
}

static void
pk_node_watch_init (PkNodeWatch *self)
{
  self->nodes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, stop_supervisor);
}

/**
 * pk_node_watch_new_from_config:
 * @config: a [class@Config]: `[watchdog]`, `[startup-check]` and the
 *   `[tunnel:NAME]` sections, with the environment and the overrides a
 *   tool set (flag > environment > file)
 * @store: (nullable): where the nodes are recorded, or %NULL for the
 *   store of `[watchdog] state-dir` ([ctor@StateStore.new_from_config])
 * @extra_keys: (nullable) (array zero-terminated=1): further keys that
 *   `[watchdog]` may hold (a tool's own, such as those of
 *   [func@DongleWatch.get_config_keys])
 * @error: return location for a `GError`
 *
 * Checks the configuration ([func@NodeSupervisor.check_config]) and the
 * settings every supervisor will have, so that a bad value is an error
 * now rather than a warning per node later.
 *
 * Returns: (transfer full): the watch, not started, or %NULL with @error
 *   set (%PK_ERROR_CONFIG naming the section and key)
 *
 * Since: 0.2
 */
PkNodeWatch *
pk_node_watch_new_from_config (PkConfig            *config,
                               PkStateStore        *store,
                               const char * const  *extra_keys,
                               GError             **error)
{
  g_autoptr(PkNodeWatch) self = NULL;

  g_return_val_if_fail (PK_IS_CONFIG (config), NULL);
  g_return_val_if_fail (store == NULL || PK_IS_STATE_STORE (store), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!pk_node_supervisor_check_config (config, extra_keys, error))
    return NULL;
  self = g_object_new (PK_TYPE_NODE_WATCH, NULL);
  self->config = g_object_ref (config);
  self->store = store ? g_object_ref (store) : pk_state_store_new_from_config (config, "watchdog");
  self->settings = pk_node_supervisor_new_from_config (config, self->store, "watchdog", error);
  if (self->settings == NULL)
    return NULL;
  return g_steal_pointer (&self);
}

/**
 * pk_node_watch_get_state_store:
 * @self: a [class@NodeWatch]
 *
 * Gets the store whose nodes are watched.
 *
 * Returns: (transfer none): the state store
 *
 * Since: 0.2
 */
PkStateStore *
pk_node_watch_get_state_store (PkNodeWatch *self)
{
  g_return_val_if_fail (PK_IS_NODE_WATCH (self), NULL);
  return self->store;
}

/**
 * pk_node_watch_get_config:
 * @self: a [class@NodeWatch]
 *
 * Gets the configuration the supervisors are built from.
 *
 * Returns: (transfer none): the configuration
 *
 * Since: 0.2
 */
PkConfig *
pk_node_watch_get_config (PkNodeWatch *self)
{
  g_return_val_if_fail (PK_IS_NODE_WATCH (self), NULL);
  return self->config;
}

/**
 * pk_node_watch_get_settings:
 * @self: a [class@NodeWatch]
 *
 * Gets a supervisor with the settings every node's has (its watchdog's
 * interval, retry delay and fall count, whether it recovers), for a tool
 * to report them. It watches nothing.
 *
 * Returns: (transfer none): the settings' supervisor
 *
 * Since: 0.2
 */
PkNodeSupervisor *
pk_node_watch_get_settings (PkNodeWatch *self)
{
  g_return_val_if_fail (PK_IS_NODE_WATCH (self), NULL);
  return self->settings;
}

/**
 * pk_node_watch_set_nodes:
 * @self: a [class@NodeWatch]
 * @names: (nullable) (array zero-terminated=1): the nodes to watch, or
 *   %NULL for every node
 *
 * Narrows the watch to @names from the next rescan on.
 *
 * Since: 0.2
 */
void
pk_node_watch_set_nodes (PkNodeWatch        *self,
                         const char * const *names)
{
  g_return_if_fail (PK_IS_NODE_WATCH (self));
  g_strfreev (self->selected);
  self->selected = g_strdupv ((char **) names);
}

/**
 * pk_node_watch_list_nodes:
 * @self: a [class@NodeWatch]
 *
 * Lists the nodes: those of [func@NodeSupervisor.list_nodes] that
 * [method@NodeWatch.set_nodes] selects.
 *
 * Returns: (transfer full) (array zero-terminated=1): the node names
 *
 * Since: 0.2
 */
char **
pk_node_watch_list_nodes (PkNodeWatch *self)
{
  g_auto(GStrv) all = NULL;
  g_autoptr(GStrvBuilder) selected = g_strv_builder_new ();

  g_return_val_if_fail (PK_IS_NODE_WATCH (self), NULL);

  all = pk_node_supervisor_list_nodes (self->store, self->config);
  for (guint i = 0; all[i]; i++)
    if (self->selected == NULL || g_strv_contains ((const char * const *) self->selected, all[i]))
      g_strv_builder_add (selected, all[i]);
  return g_strv_builder_end (selected);
}

/**
 * pk_node_watch_lookup:
 * @self: a [class@NodeWatch]
 * @name: a node's name
 *
 * Finds the supervisor of node @name, if the watch has made one.
 *
 * Returns: (transfer none) (nullable): the supervisor, or %NULL
 *
 * Since: 0.2
 */
PkNodeSupervisor *
pk_node_watch_lookup (PkNodeWatch *self,
                      const char  *name)
{
  g_return_val_if_fail (PK_IS_NODE_WATCH (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  return g_hash_table_lookup (self->nodes, name);
}

/* The node's supervisor, made on first use; a node whose supervisor
 * cannot be made is logged and left alone. */
static PkNodeSupervisor *
node_get (PkNodeWatch *self,
          const char  *name)
{
  PkNodeSupervisor *sup = g_hash_table_lookup (self->nodes, name);
  g_autoptr(GError) error = NULL;

  if (sup == NULL)
    {
      sup = pk_node_supervisor_new_from_config (self->config, self->store, name, &error);
      if (sup == NULL)
        {
          g_warning ("node %s: %s", name, error->message);
          return NULL;
        }
      g_hash_table_insert (self->nodes, g_strdup (name), sup);
    }
  return sup;
}

/* dongle-N: PkDongleWatch's, listed but not supervised here */
static gboolean
is_dongle (PkNodeWatch *self,
           const char  *name)
{
  g_autoptr(PkNodeState) state = pk_state_store_load (self->store, name, NULL);

  return state != NULL && pk_node_state_get_dongle_id (state) > 0;
}

/**
 * pk_node_watch_refresh:
 * @self: a [class@NodeWatch]
 *
 * Rescans the store ([method@NodeSupervisor.refresh] on every node): a
 * node that came online is watched, a new pppd pid followed, a node an
 * operator stopped let go, and a failed one recovered (with `[watchdog]
 * recover`). [method@NodeWatch.start] does this every check interval;
 * call it for a reload (SIGHUP).
 *
 * Returns: how many nodes are watched now
 *
 * Since: 0.2
 */
guint
pk_node_watch_refresh (PkNodeWatch *self)
{
  g_auto(GStrv) names = NULL;
  guint n_watched = 0;

  g_return_val_if_fail (PK_IS_NODE_WATCH (self), 0);

  names = pk_node_watch_list_nodes (self);
  for (guint i = 0; names[i]; i++)
    {
      PkNodeSupervisor *sup;

      if (is_dongle (self, names[i]))
        continue;
      sup = node_get (self, names[i]);
      n_watched += sup != NULL && pk_node_supervisor_refresh (sup);
    }
  return n_watched;
}

static gboolean
rescan_cb (gpointer data)
{
  pk_node_watch_refresh (data);
  return G_SOURCE_CONTINUE;
}

/**
 * pk_node_watch_start:
 * @self: a [class@NodeWatch]
 *
 * Watches the nodes ([method@NodeWatch.refresh]) and rescans the store
 * every check interval, in the thread-default main context of the
 * caller, until [method@NodeWatch.stop]. Starting a started watch
 * rescans once more.
 *
 * Returns: how many nodes are watched now
 *
 * Since: 0.2
 */
guint
pk_node_watch_start (PkNodeWatch *self)
{
  guint n_watched;

  g_return_val_if_fail (PK_IS_NODE_WATCH (self), 0);

  n_watched = pk_node_watch_refresh (self);
  if (self->rescan == NULL)
    {
      PkWatchdog *wd = pk_node_supervisor_get_watchdog (self->settings);

      self->rescan = pk_timeout_source_attach (NULL, MAX (pk_watchdog_get_interval_ms (wd), 1), rescan_cb, self);
    }
  return n_watched;
}

/**
 * pk_node_watch_stop:
 * @self: a [class@NodeWatch]
 *
 * Stops the rescans and every supervisor ([method@NodeSupervisor.stop]):
 * the tunnels and listeners keep running, scheduled recoveries are
 * called off.
 *
 * Since: 0.2
 */
void
pk_node_watch_stop (PkNodeWatch *self)
{
  g_return_if_fail (PK_IS_NODE_WATCH (self));

  if (self->rescan != NULL)
    {
      g_source_destroy (self->rescan);
      g_clear_pointer (&self->rescan, g_source_unref);
    }
  g_hash_table_remove_all (self->nodes);
}

/* --- once, for cron --- */

typedef struct {
  guint pending;
  guint n_failed;
  gboolean state_failed;
} OnceData;

static void
once_done (GTask *task)
{
  OnceData *data = g_task_get_task_data (task);

  if (--data->pending > 0)
    return;
  if (data->state_failed)
    g_task_return_new_error (task, PK_ERROR, PK_ERROR_STATE,
                             "the state directory %s could not be locked or written",
                             pk_state_store_get_directory (PK_NODE_WATCH (g_task_get_source_object (task))->store));
  else
    g_task_return_boolean (task, TRUE);
}

static void
once_checked (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  OnceData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (!pk_node_supervisor_check_once_finish (PK_NODE_SUPERVISOR (source), result, &error))
    {
      if (g_error_matches (error, PK_ERROR, PK_ERROR_STATE))
        data->state_failed = TRUE;
      else
        data->n_failed++;
    }
  once_done (task);
}

/**
 * pk_node_watch_check_once_async:
 * @self: a [class@NodeWatch]
 * @cancellable: (nullable): a `GCancellable`
 * @callback: called when every node was checked
 * @user_data: data for @callback
 *
 * Checks every node once, as `pk-watchdog --once` does from cron
 * ([method@NodeSupervisor.check_once_async]): the count of failed checks
 * lives in the state files, and the failure actions run on the check
 * that reaches the fall count.
 *
 * Since: 0.2
 */
void
pk_node_watch_check_once_async (PkNodeWatch         *self,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_auto(GStrv) names = NULL;
  OnceData *data;

  g_return_if_fail (PK_IS_NODE_WATCH (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_node_watch_check_once_async);
  data = g_new0 (OnceData, 1);
  g_task_set_task_data (task, data, g_free);

  names = pk_node_watch_list_nodes (self);
  data->pending = 1;
  for (guint i = 0; names[i]; i++)
    {
      PkNodeSupervisor *sup = node_get (self, names[i]);

      if (sup == NULL)
        continue;
      data->pending++;
      pk_node_supervisor_check_once_async (sup, cancellable, once_checked, g_object_ref (task));
    }
  once_done (task);
}

/**
 * pk_node_watch_check_once_finish:
 * @self: a [class@NodeWatch]
 * @result: the `GAsyncResult`
 * @n_failed: (out) (optional): how many nodes failed their check
 * @error: return location for a `GError`
 *
 * Finishes [method@NodeWatch.check_once_async]. Failed checks are no
 * error: they are counted in @n_failed and recorded in the state files.
 *
 * Returns: %TRUE, or %FALSE with %PK_ERROR_STATE when a count or a
 *   failure could not be recorded (a run that must not look clean to
 *   cron)
 *
 * Since: 0.2
 */
gboolean
pk_node_watch_check_once_finish (PkNodeWatch   *self,
                                 GAsyncResult  *result,
                                 guint         *n_failed,
                                 GError       **error)
{
  OnceData *data;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  data = g_task_get_task_data (G_TASK (result));
  if (n_failed != NULL)
    *n_failed = data->n_failed;
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* --- descriptions --- */

/**
 * pk_node_watch_dup_status_json:
 * @self: a [class@NodeWatch]
 *
 * The nodes' recorded state ([func@NodeSupervisor.dup_status_json] of
 * [method@NodeWatch.list_nodes]): what `pk-watchdog --status --json`
 * prints.
 *
 * Returns: (transfer full): the JSON text
 *
 * Since: 0.2
 */
char *
pk_node_watch_dup_status_json (PkNodeWatch *self)
{
  g_auto(GStrv) names = NULL;

  g_return_val_if_fail (PK_IS_NODE_WATCH (self), NULL);

  names = pk_node_watch_list_nodes (self);
  return pk_node_supervisor_dup_status_json (self->store, (const char * const *) names);
}

/**
 * pk_node_watch_dup_status_text:
 * @self: a [class@NodeWatch]
 *
 * The nodes' recorded state as the table `pk-watchdog --status` prints:
 * a header line, then a line per node with its status, interface, pppd
 * pid (`!` when it no longer runs), listener, `fails`, `recoveries`, how
 * long ago the status changed, and the reason. A node whose state cannot
 * be read is logged and left out.
 *
 * Returns: (transfer full): the text, each line ending in a newline
 *
 * Since: 0.2
 */
char *
pk_node_watch_dup_status_text (PkNodeWatch *self)
{
  /* NODE STATUS IFACE PPPD LISTEN FAILS RECOV, then SINCE and the reason */
  enum { N_COLUMNS = 7 };
  static const char * const header[N_COLUMNS] = { "NODE", "STATUS", "IFACE", "PPPD", "LISTEN", "FAILS", "RECOV" };
  static const int min_width[N_COLUMNS] = { 12, 12, 8, 8, 24, 5, 5 };
  g_auto(GStrv) names = NULL;
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  int width[N_COLUMNS];
  GString *out;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  g_return_val_if_fail (PK_IS_NODE_WATCH (self), NULL);

  names = pk_node_watch_list_nodes (self);
  for (guint i = 0; names[i]; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PkNodeState) state = pk_state_store_load_or_new (self->store, names[i], &error);
      const char *iface, *listen, *reason;
      GPtrArray *row;
      gint64 changed;
      int pid;

      if (state == NULL)
        {
          g_warning ("node %s: %s", names[i], error->message);
          continue;
        }
      iface = pk_node_state_get_tunnel_interface (state);
      if (iface == NULL)
        iface = pk_node_state_get_dongle_interface (state);
      listen = pk_node_state_get_socks_listen (state);
      reason = pk_node_state_get_reason (state);
      pid = pk_node_state_get_tunnel_pid (state);
      changed = pk_node_state_get_status_changed (state);
      row = g_ptr_array_new ();
      g_ptr_array_add (row, g_strdup (names[i]));
      g_ptr_array_add (row, g_strdup (pk_node_status_to_string (pk_node_state_get_status (state))));
      g_ptr_array_add (row, g_strdup (iface ? iface : "-"));
      g_ptr_array_add (row, pid > 0 ? g_strdup_printf ("%d%s", pid, pk_node_state_tunnel_pid_is_alive (state) ? "" : "!")
                                    : g_strdup ("-"));
      g_ptr_array_add (row, g_strdup (listen ? listen : "-"));
      g_ptr_array_add (row, g_strdup_printf ("%u", pk_node_state_get_fails (state)));
      g_ptr_array_add (row, g_strdup_printf ("%u", pk_node_state_get_recoveries (state)));
      g_ptr_array_add (row, changed > 0 ? g_strdup_printf ("%" G_GINT64_FORMAT "s ago", now - changed) : g_strdup ("-"));
      g_ptr_array_add (row, g_strdup (reason ? reason : ""));
      g_ptr_array_add (row, NULL);
      g_ptr_array_add (rows, g_ptr_array_free (row, FALSE));
    }

  /* Columns as wide as their longest value (a dongle's interface name,
   * an IPv6 listener), so that the table stays aligned. */
  for (guint c = 0; c < N_COLUMNS; c++)
    {
      width[c] = min_width[c];
      for (guint r = 0; r < rows->len; r++)
        width[c] = MAX (width[c], (int) strlen (((char **) g_ptr_array_index (rows, r))[c]));
    }
  out = g_string_new (NULL);
  for (guint r = 0; r <= rows->len; r++)
    {
      const char * const *row = r == 0 ? header : g_ptr_array_index (rows, r - 1);

      for (guint c = 0; c < N_COLUMNS; c++)
        g_string_append_printf (out, c < 5 ? "%-*s " : "%*s ", width[c], row[c]);
      if (r == 0)
        g_string_append (out, " SINCE\n");
      else
        g_string_append_printf (out, " %s%s%s\n", row[7], *row[8] ? "  " : "", row[8]);
    }
  return g_string_free (out, FALSE);
}

/**
 * pk_node_watch_dup_prometheus:
 * @self: a [class@NodeWatch]
 *
 * What `pk-watchdog` serves on `/metrics`
 * ([func@NodeSupervisor.dup_prometheus]): every recorded node's status,
 * `fails` and `recoveries`, and the check latencies of the nodes watched
 * here. For a collector of [class@MetricsServer].
 *
 * Returns: (transfer full): the text, in the Prometheus text format
 *
 * Since: 0.2
 */
char *
pk_node_watch_dup_prometheus (PkNodeWatch *self)
{
  g_autoptr(GPtrArray) sups = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer sup;

  g_return_val_if_fail (PK_IS_NODE_WATCH (self), NULL);

  g_hash_table_iter_init (&iter, self->nodes);
  while (g_hash_table_iter_next (&iter, NULL, &sup))
    g_ptr_array_add (sups, sup);
  return pk_node_supervisor_dup_prometheus (self->store, (PkNodeSupervisor **) sups->pdata, sups->len);
}
