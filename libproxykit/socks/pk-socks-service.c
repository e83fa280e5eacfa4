/* pk-socks-service.c: every SOCKS listener a configuration describes
 *
 * The main listener (settings of the bare [socks] section) and one per
 * [socks:NAME] section, served together on one PkWorkers. A reload
 * compares the listener sets: a configuration error refuses all of it;
 * removed and moved listeners stop and drain as on a stop while new
 * ones start; one that cannot bind is named and the rest applies.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "pk-socks-service.h"

#include "pk-config-private.h"
#include "pk-error.h"

/**
 * PkSocksService:
 *
 * Every SOCKS listener a [class@Config] describes, as one set: a
 * [class@SocksServer] for each `[socks:NAME]` section (named `NAME`) and,
 * as [enum@SocksServiceMain] says, the main listener (named `main`) with
 * the settings of the bare `[socks]` section, the `SOCKS_*` variables and
 * the overrides. This is what `pk-socks` runs.
 *
 * The set starts on one [class@Workers] ([method@SocksService.start]),
 * reloads as a whole ([method@SocksService.reload]: a configuration
 * error refuses all of it, removed listeners drain, kept ones take their
 * new users and lists without dropping a session) and stops with a drain
 * ([method@SocksService.stop_async]).
 *
 * ```c
 * g_autoptr(PkSocksService) service =
 *   pk_socks_service_new_from_config (config, PK_SOCKS_SERVICE_MAIN_AUTO, &error);
 *
 * if (service == NULL || !pk_socks_service_start (service, NULL, &error))
 *   g_printerr ("%s\n", error->message);
 * ```
 *
 * Since: 0.2
 */

#define MAIN_NAME "main"

typedef struct {
  char *name;                  /* "main" or the section's NAME */
  gboolean is_main;
  PkSocksServer *server;
} Listener;

struct _PkSocksService
{
  GObject parent_instance;

  PkConfig *config;
  GPtrArray *listeners;        /* Listener, the main one first */
  GPtrArray *retired;          /* PkSocksServer: stopped by a reload, draining */
  PkWorkers *workers;
  guint drain_ms;              /* of listeners a reload retires */
  GTask *stop_task;
  guint n_stopping;
};

G_DEFINE_FINAL_TYPE (PkSocksService, pk_socks_service, G_TYPE_OBJECT)

/* How long a listener a reload removes may drain. */
#define RETIRE_DRAIN_MS 30000

static void
listener_free (gpointer data)
{
  Listener *l = data;

  g_free (l->name);
  g_clear_object (&l->server);
  g_free (l);
}

/* The library name of a listener: NULL for the main one. */
static const char *
config_name (Listener *l)
{
  return l->is_main ? NULL : l->name;
}

static Listener *
listener_new (const char *section)
{
  Listener *l = g_new0 (Listener, 1);

  l->is_main = *section == '\0';
  l->name = g_strdup (l->is_main ? MAIN_NAME : section);
  return l;
}

static void
pk_socks_service_dispose (GObject *object)
{
  PkSocksService *self = PK_SOCKS_SERVICE (object);

  g_clear_object (&self->workers);
  G_OBJECT_CLASS (pk_socks_service_parent_class)->dispose (object);
}

static void
pk_socks_service_finalize (GObject *object)
{
  PkSocksService *self = PK_SOCKS_SERVICE (object);

  g_ptr_array_unref (self->listeners);
  g_ptr_array_unref (self->retired);
  g_clear_object (&self->config);
  G_OBJECT_CLASS (pk_socks_service_parent_class)->finalize (object);
}

static void
pk_socks_service_class_init (PkSocksServiceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pk_socks_service_dispose;
  object_class->finalize = pk_socks_service_finalize;
}

static void
pk_socks_service_init (PkSocksService *self)
{
  self->listeners = g_ptr_array_new_with_free_func (listener_free);
  self->retired = g_ptr_array_new_with_free_func (g_object_unref);
  self->drain_ms = RETIRE_DRAIN_MS;
}

/* Whether the configuration asks for the main listener: SOCKS_LISTEN, or
 * a [socks] section that holds more than metrics-listen (the tool's
 * setting, not a listener's). */
static gboolean
config_asks_for_main (PkConfig *config)
{
  static const char * const metrics_only[] = { "metrics-listen", NULL };

  return pk_config_getenv (config, "SOCKS_LISTEN") != NULL ||
         (pk_config_has_section (config, "socks") && !pk_config_check_keys (config, "socks", metrics_only, NULL));
}

/**
 * pk_socks_service_new_from_config:
 * @config: a [class@Config]
 * @main_listener: when to run the main listener
 * @error: return location for an error
 *
 * Builds a [class@SocksServer] for each `[socks:NAME]` section of @config
 * (named `NAME`), and the main listener (named `main`, with the settings
 * of the bare `[socks]` section, the environment and the overrides of
 * @config) as @main_listener says. Each server comes from
 * [ctor@SocksServer.new_from_config]; nothing listens yet.
 *
 * Returns: (transfer full) (nullable): the service, or %NULL with
 *   %PK_ERROR_CONFIG naming the section and key at fault
 *
 * Since: 0.2
 */
PkSocksService *
pk_socks_service_new_from_config (PkConfig            *config,
                                  PkSocksServiceMain   main_listener,
                                  GError             **error)
{
  g_autoptr(PkSocksService) self = NULL;
  g_auto(GStrv) sections = NULL;
  gboolean with_main;

  g_return_val_if_fail (PK_IS_CONFIG (config), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_object_new (PK_TYPE_SOCKS_SERVICE, NULL);
  self->config = g_object_ref (config);

  sections = pk_config_list_sections (config, "socks");
  for (guint i = 0; sections != NULL && sections[i] != NULL; i++)
    if (*sections[i] != '\0')
      g_ptr_array_add (self->listeners, listener_new (sections[i]));

  switch (main_listener)
    {
    case PK_SOCKS_SERVICE_MAIN_ALWAYS:
      with_main = TRUE;
      break;
    case PK_SOCKS_SERVICE_MAIN_IF_ASKED:
      with_main = config_asks_for_main (config);
      break;
    case PK_SOCKS_SERVICE_MAIN_AUTO:
    default:
      with_main = config_asks_for_main (config) || self->listeners->len == 0;
      break;
    }
  if (with_main)
    g_ptr_array_insert (self->listeners, 0, listener_new (""));

  for (guint i = 0; i < self->listeners->len; i++)
    {
      Listener *l = g_ptr_array_index (self->listeners, i);

      l->server = pk_socks_server_new_from_config (config, config_name (l), error);
      if (l->server == NULL)
        return NULL;
    }
  return g_steal_pointer (&self);
}

/**
 * pk_socks_service_get_n_servers:
 * @self: a [class@SocksService]
 *
 * How many listeners the service runs (or will run once started).
 *
 * Returns: how many listeners the service runs
 *
 * Since: 0.2
 */
guint
pk_socks_service_get_n_servers (PkSocksService *self)
{
  g_return_val_if_fail (PK_IS_SOCKS_SERVICE (self), 0);
  return self->listeners->len;
}

/**
 * pk_socks_service_get_server:
 * @self: a [class@SocksService]
 * @index: from 0 to [method@SocksService.get_n_servers] - 1
 *
 * A listener of the service: the main one first, then the `[socks:NAME]`
 * ones in the order of the file (those a reload adds come last).
 *
 * Returns: (transfer none): the listener
 *
 * Since: 0.2
 */
PkSocksServer *
pk_socks_service_get_server (PkSocksService *self,
                             guint           index)
{
  g_return_val_if_fail (PK_IS_SOCKS_SERVICE (self), NULL);
  g_return_val_if_fail (index < self->listeners->len, NULL);
  return ((Listener *) g_ptr_array_index (self->listeners, index))->server;
}

/**
 * pk_socks_service_dup_servers:
 * @self: a [class@SocksService]
 *
 * Every listener of the service, as [method@SocksService.get_server]
 * orders them; for [func@SocksServer.dup_prometheus], say.
 *
 * Returns: (transfer full) (element-type PkSocksServer): the listeners
 *
 * Since: 0.2
 */
GPtrArray *
pk_socks_service_dup_servers (PkSocksService *self)
{
  GPtrArray *servers;

  g_return_val_if_fail (PK_IS_SOCKS_SERVICE (self), NULL);

  servers = g_ptr_array_new_full (self->listeners->len, g_object_unref);
  for (guint i = 0; i < self->listeners->len; i++)
    g_ptr_array_add (servers, g_object_ref (((Listener *) g_ptr_array_index (self->listeners, i))->server));
  return servers;
}

/**
 * pk_socks_service_get_config:
 * @self: a [class@SocksService]
 *
 * The configuration the listeners run with: the one the service was
 * built from, or the last one a [method@SocksService.reload] applied.
 *
 * Returns: (transfer none): the configuration
 *
 * Since: 0.2
 */
PkConfig *
pk_socks_service_get_config (PkSocksService *self)
{
  g_return_val_if_fail (PK_IS_SOCKS_SERVICE (self), NULL);
  return self->config;
}

/**
 * pk_socks_service_set_drain_timeout:
 * @self: a [class@SocksService]
 * @timeout_ms: how long the sessions of a listener a reload removes may
 *   go on, 0 to close them at once
 *
 * Sets how long the sessions of a listener that a
 * [method@SocksService.reload] removes (or moves to other addresses) may
 * go on; 30 s by default.
 *
 * Since: 0.2
 */
void
pk_socks_service_set_drain_timeout (PkSocksService *self,
                                    guint           timeout_ms)
{
  g_return_if_fail (PK_IS_SOCKS_SERVICE (self));
  self->drain_ms = timeout_ms;
}

/**
 * pk_socks_service_get_drain_timeout:
 * @self: a [class@SocksService]
 *
 * See [method@SocksService.set_drain_timeout].
 *
 * Returns: the drain timeout of retired listeners, in milliseconds
 *
 * Since: 0.2
 */
guint
pk_socks_service_get_drain_timeout (PkSocksService *self)
{
  g_return_val_if_fail (PK_IS_SOCKS_SERVICE (self), 0);
  return self->drain_ms;
}

static gboolean
prefix_error (Listener  *l,
              GError   **error)
{
  g_prefix_error (error, "listener %s: ", l->name);
  return FALSE;
}

/**
 * pk_socks_service_check:
 * @self: a [class@SocksService]
 * @error: return location for an error
 *
 * Checks every listener's addresses as
 * [method@SocksServer.check_listen_from_config] does (the open-listener
 * rule included), without listening.
 *
 * Returns: %TRUE if every listener could start; else %FALSE with the
 *   error of the first that could not, its message starting with
 *   `listener NAME: `
 *
 * Since: 0.2
 */
gboolean
pk_socks_service_check (PkSocksService  *self,
                        GError         **error)
{
  g_return_val_if_fail (PK_IS_SOCKS_SERVICE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  for (guint i = 0; i < self->listeners->len; i++)
    {
      Listener *l = g_ptr_array_index (self->listeners, i);

      if (!pk_socks_server_check_listen_from_config (l->server, self->config, config_name (l), error))
        return prefix_error (l, error);
    }
  return TRUE;
}

static void
log_listener (Listener *l)
{
  g_auto(GStrv) bound = pk_socks_server_dup_listen_addresses (l->server);
  g_autofree char *list = g_strjoinv (", ", bound);
  g_autofree char *egress = pk_egress_to_string (pk_socks_server_get_egress (l->server));

  g_message ("listener %s on %s, egress %s%s", l->name, list, egress,
             pk_socks_server_get_auth_required (l->server) ? ", authentication required" : "");
}

static gboolean
start_listener (PkSocksService  *self,
                Listener        *l,
                GError         **error)
{
  pk_socks_server_set_workers (l->server, self->workers);
  return pk_socks_server_listen_from_config (l->server, self->config, config_name (l), error);
}

/**
 * pk_socks_service_start:
 * @self: a [class@SocksService]
 * @workers: (nullable): the worker threads to serve on, or %NULL for the
 *   thread-default main context of the caller
 * @error: return location for an error
 *
 * Makes every listener's sockets, as
 * [method@SocksServer.listen_from_config] does, and logs a line for each
 * (`listener NAME on ADDRESSES, egress EGRESS`). With @workers, the
 * threads serve the sockets once [method@Workers.start] runs.
 *
 * Returns: %TRUE if every listener listens; else %FALSE with the error
 *   of the first that could not (%PK_ERROR_CONFIG or
 *   %PK_ERROR_NOT_ALLOWED for a configuration at fault, a `G_IO_ERROR`
 *   for an address in use), its message starting with `listener NAME: `
 *
 * Since: 0.2
 */
gboolean
pk_socks_service_start (PkSocksService  *self,
                        PkWorkers       *workers,
                        GError         **error)
{
  g_return_val_if_fail (PK_IS_SOCKS_SERVICE (self), FALSE);
  g_return_val_if_fail (workers == NULL || PK_IS_WORKERS (workers), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_set_object (&self->workers, workers);
  for (guint i = 0; i < self->listeners->len; i++)
    {
      Listener *l = g_ptr_array_index (self->listeners, i);

      if (!start_listener (self, l, error))
        return prefix_error (l, error);
    }
  for (guint i = 0; i < self->listeners->len; i++)
    log_listener (g_ptr_array_index (self->listeners, i));
  return TRUE;
}

static gint
find_listener (PkSocksService *self,
               const char     *section)
{
  for (guint i = 0; i < self->listeners->len; i++)
    {
      Listener *l = g_ptr_array_index (self->listeners, i);

      if (l->is_main ? *section == '\0' : g_str_equal (l->name, section))
        return i;
    }
  return -1;
}

static gboolean
strv_has (char       **strv,
          const char  *s)
{
  return g_strv_contains ((const char * const *) strv, s);
}

static void
retired_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  g_autoptr(PkSocksService) self = data;

  pk_socks_server_stop_finish (PK_SOCKS_SERVER (source), result, NULL);
  g_message ("listener %s: drained", pk_socks_server_get_name (PK_SOCKS_SERVER (source)));
  g_ptr_array_remove (self->retired, source);
}

/* Stops a listener a reload removes or moves: no new clients, its
 * sessions drain as on a stop. */
static void
retire (PkSocksService *self,
        Listener       *l)
{
  g_message ("listener %s: stopped, its %u session(s) draining", l->name,
             pk_socks_server_get_sessions_active (l->server));
  g_ptr_array_add (self->retired, g_object_ref (l->server));
  pk_socks_server_stop_async (l->server, self->drain_ms, NULL, retired_cb, g_object_ref (self));
}

static void
note_failure (GString    **failed,
              const char  *name)
{
  if (*failed == NULL)
    *failed = g_string_new (name);
  else
    g_string_append_printf (*failed, ", %s", name);
}

/**
 * pk_socks_service_reload:
 * @self: a started [class@SocksService]
 * @config: the configuration to apply (@self's own, read again, or a new
 *   one with the same overrides)
 * @error: return location for an error
 *
 * Applies @config to the running listeners, without dropping a session
 * that may go on:
 *
 * - every listener to start (a new `[socks:NAME]`, one whose addresses
 *   changed, one a former reload could not bind) is built and checked
 *   first; a configuration error refuses the whole reload and nothing
 *   changes;
 * - removed listeners, and those whose addresses changed, stop taking
 *   clients and their sessions drain (see
 *   [method@SocksService.set_drain_timeout]);
 * - the others keep their sockets and sessions and take their new users
 *   and lists ([method@SocksServer.reload_from_config]);
 * - new listeners start. One that cannot bind (an address still in use)
 *   is named and the rest applies: a later reload starts it.
 *
 * Each step is logged; the last line says `reload done`, `reload
 * incomplete` or `reload refused`.
 *
 * Returns: %TRUE if all of @config applies; %FALSE if the reload was
 *   refused (nothing changed) or is incomplete (what could apply did), with
 *   an error that says which
 *
 * Since: 0.2
 */
gboolean
pk_socks_service_reload (PkSocksService  *self,
                         PkConfig        *config,
                         GError         **error)
{
  g_auto(GStrv) added = NULL;
  g_auto(GStrv) removed = NULL;
  g_auto(GStrv) changed = NULL;
  g_auto(GStrv) sections = NULL;
  g_autoptr(GPtrArray) starting = g_ptr_array_new_with_free_func (listener_free);
  g_autoptr(GString) failed = NULL;
  g_autoptr(GError) local_error = NULL;
  guint n_kept = 0, n_started = 0, n_stopped = 0;

  g_return_val_if_fail (PK_IS_SOCKS_SERVICE (self), FALSE);
  g_return_val_if_fail (PK_IS_CONFIG (config), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!pk_socks_server_diff_config_listeners (self->config, config, &added, &removed, &changed, &local_error))
    goto refused;

  /* Every listener to start is built and checked before anything
   * changes: the moved ones, and every section without a running
   * listener (the added ones, and one a former reload could not bind). */
  sections = pk_config_list_sections (config, "socks");
  for (guint pass = 0; pass < 2; pass++)
    for (char **n = pass == 0 ? changed : sections; *n != NULL; n++)
      {
        Listener *l;

        /* changed: the running ones; sections: those not running */
        if ((pass == 0) != (find_listener (self, *n) >= 0) || (pass == 1 && **n == '\0'))
          continue;
        l = listener_new (*n);
        g_ptr_array_add (starting, l);
        l->server = pk_socks_server_new_from_config (config, config_name (l), &local_error);
        if (l->server == NULL ||
            !pk_socks_server_check_listen_from_config (l->server, config, config_name (l), &local_error))
          {
            prefix_error (l, &local_error);
            goto refused;
          }
      }

  g_set_object (&self->config, config);

  /* Removed and moved listeners stop before new sockets bind, so that a
   * moved listener may take an address it had. */
  for (guint i = self->listeners->len; i-- > 0;)
    {
      Listener *l = g_ptr_array_index (self->listeners, i);

      if (l->is_main ? !strv_has (changed, "") : !strv_has (removed, l->name) && !strv_has (changed, l->name))
        continue;
      retire (self, l);
      g_ptr_array_remove_index (self->listeners, i);
      n_stopped++;
    }

  for (guint i = 0; i < self->listeners->len; i++)
    {
      Listener *l = g_ptr_array_index (self->listeners, i);

      g_clear_error (&local_error);
      if (!pk_socks_server_reload_from_config (l->server, self->config, config_name (l), &local_error))
        {
          g_warning ("reload of listener %s: %s; its users and lists stay as they were", l->name,
                     local_error->message);
          note_failure (&failed, l->name);
        }
      n_kept++;
    }

  for (guint i = 0; i < starting->len; i++)
    {
      Listener *l = g_ptr_array_index (starting, i);

      g_clear_error (&local_error);
      if (!start_listener (self, l, &local_error))
        {
          g_warning ("reload: listener %s not started: %s", l->name, local_error->message);
          note_failure (&failed, l->name);
          continue;
        }
      log_listener (l);
      n_started++;
      g_ptr_array_insert (self->listeners, l->is_main ? 0 : -1, g_ptr_array_steal_index (starting, i--));
    }

  if (failed != NULL)
    {
      g_warning ("reload incomplete, not applied: %s; %u listener(s) running", failed->str,
                 self->listeners->len);
      g_set_error (error, PK_ERROR, PK_ERROR_FAILED, "reload incomplete, not applied: %s", failed->str);
      return FALSE;
    }
  g_message ("reload done: %u listener(s) running (%u started, %u stopped, %u kept)",
             self->listeners->len, n_started, n_stopped, n_kept);
  return TRUE;

refused:
  g_warning ("reload refused, the running listeners and their settings stay: %s", local_error->message);
  g_propagate_prefixed_error (error, g_steal_pointer (&local_error), "reload refused: ");
  return FALSE;
}

/**
 * pk_socks_service_dup_port_lines:
 * @self: a started [class@SocksService]
 *
 * One line `NAME ADDRESS:PORT` per bound socket of every listener, each
 * ended by a newline: what `pk-socks --port-file` writes.
 *
 * Returns: (transfer full): the lines
 *
 * Since: 0.2
 */
char *
pk_socks_service_dup_port_lines (PkSocksService *self)
{
  GString *contents = g_string_new (NULL);

  g_return_val_if_fail (PK_IS_SOCKS_SERVICE (self), NULL);

  for (guint i = 0; i < self->listeners->len; i++)
    {
      Listener *l = g_ptr_array_index (self->listeners, i);
      g_auto(GStrv) bound = pk_socks_server_dup_listen_addresses (l->server);

      for (guint j = 0; bound[j] != NULL; j++)
        g_string_append_printf (contents, "%s %s\n", l->name, bound[j]);
    }
  return g_string_free (contents, FALSE);
}

static void
stopped_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  g_autoptr(GTask) task = data;
  PkSocksService *self = g_task_get_source_object (task);

  pk_socks_server_stop_finish (PK_SOCKS_SERVER (source), result, NULL);
  if (--self->n_stopping == 0)
    {
      g_clear_object (&self->stop_task);
      g_task_return_boolean (task, TRUE);
    }
}

/**
 * pk_socks_service_stop_async:
 * @self: a [class@SocksService]
 * @drain_timeout_ms: how long live sessions may go on, 0 to close them now
 * @cancellable: (nullable): cancelling it closes live sessions at once
 * @callback: (scope async): called when every session has ended
 * @user_data: data for @callback
 *
 * Stops every listener as [method@SocksServer.stop_async] does, and
 * those a reload retired too; the callback runs when every session of
 * all of them has ended. A second stop while one runs closes what is
 * left at once (as [method@SocksService.close]) and completes with the
 * first.
 *
 * Since: 0.2
 */
void
pk_socks_service_stop_async (PkSocksService      *self,
                             guint                drain_timeout_ms,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GPtrArray) all = NULL;

  g_return_if_fail (PK_IS_SOCKS_SERVICE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_socks_service_stop_async);

  if (self->stop_task != NULL)
    {
      pk_socks_service_close (self);
      g_task_return_boolean (task, TRUE);
      return;
    }

  all = pk_socks_service_dup_servers (self);
  for (guint i = 0; i < self->retired->len; i++)
    g_ptr_array_add (all, g_object_ref (g_ptr_array_index (self->retired, i)));
  if (all->len == 0)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }

  self->stop_task = g_object_ref (task);
  self->n_stopping = all->len;
  for (guint i = 0; i < all->len; i++)
    pk_socks_server_stop_async (g_ptr_array_index (all, i), drain_timeout_ms, cancellable,
                                stopped_cb, g_object_ref (task));
}

/**
 * pk_socks_service_stop_finish:
 * @self: a [class@SocksService]
 * @result: the result passed to the callback
 * @error: return location for an error
 *
 * Finishes [method@SocksService.stop_async].
 *
 * Returns: %TRUE once every session has ended
 *
 * Since: 0.2
 */
gboolean
pk_socks_service_stop_finish (PkSocksService  *self,
                              GAsyncResult    *result,
                              GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * pk_socks_service_close:
 * @self: a [class@SocksService]
 *
 * Closes every listener and every session now, those of listeners a
 * reload retired too.
 *
 * Since: 0.2
 */
void
pk_socks_service_close (PkSocksService *self)
{
  g_return_if_fail (PK_IS_SOCKS_SERVICE (self));

  for (guint i = 0; i < self->listeners->len; i++)
    pk_socks_server_close (((Listener *) g_ptr_array_index (self->listeners, i))->server);
  for (guint i = 0; i < self->retired->len; i++)
    pk_socks_server_close (g_ptr_array_index (self->retired, i));
}
