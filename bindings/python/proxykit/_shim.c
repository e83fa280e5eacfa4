/* _shim.c: C helpers compiled into the cffi extension (API mode).
 *
 * The bindings own one GMainContext and run it in one thread: every async
 * call starts in that thread (so its sources attach to that context), and
 * every object the bindings hold is released there too (so that no object
 * is finalized while one of its sources runs in the loop thread).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <proxykit/proxykit.h>

static GMainContext *pk_py_context;
static GMainLoop *pk_py_loop;
static GMutex pk_py_lock;
static gboolean pk_py_running;

static void _pk_py_invoke_cb (gsize id);
static void _pk_py_async_ready_cb (GObject *source, GAsyncResult *res, gsize id);
static void _pk_py_signal_cb (gsize id, guint n_values, const GValue *values);

static void
pk_py_loop_init (void)
{
  g_mutex_lock (&pk_py_lock);
  if (pk_py_context == NULL)
    {
      pk_py_context = g_main_context_new ();
      pk_py_loop = g_main_loop_new (pk_py_context, FALSE);
    }
  g_mutex_unlock (&pk_py_lock);
}

/* Runs in the loop thread until pk_py_loop_quit(). Whatever was queued
 * meanwhile (releases of objects, mostly) runs before it returns. */
static void
pk_py_loop_run (void)
{
  g_main_context_push_thread_default (pk_py_context);
  g_mutex_lock (&pk_py_lock);
  pk_py_running = TRUE;
  g_mutex_unlock (&pk_py_lock);

  g_main_loop_run (pk_py_loop);

  g_mutex_lock (&pk_py_lock);
  pk_py_running = FALSE;
  g_mutex_unlock (&pk_py_lock);
  while (g_main_context_iteration (pk_py_context, FALSE))
    ;
  g_main_context_pop_thread_default (pk_py_context);
}

static void
pk_py_loop_quit (void)
{
  if (pk_py_loop != NULL)
    g_main_loop_quit (pk_py_loop);
}

static gboolean
pk_py_loop_is_running (void)
{
  gboolean running;

  g_mutex_lock (&pk_py_lock);
  running = pk_py_running;
  g_mutex_unlock (&pk_py_lock);
  return running;
}

static gboolean
pk_py_invoke_idle (gpointer data)
{
  _pk_py_invoke_cb (GPOINTER_TO_SIZE (data));
  return G_SOURCE_REMOVE;
}

/* Calls back into Python (_pk_py_invoke_cb) in the loop thread. */
static void
pk_py_invoke (gsize id)
{
  GSource *source = g_idle_source_new ();

  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, pk_py_invoke_idle, GSIZE_TO_POINTER (id), NULL);
  g_source_set_static_name (source, "[proxykit-python] invoke");
  g_source_attach (source, pk_py_context);
  g_source_unref (source);
}

/* Objects that Python owned and that are not finalized yet: every one is
 * released by its Python owner, so at exit (after the loop has drained)
 * this is 0. The memory test checks that. */
static gint pk_py_live;

static void
pk_py_finalized (gpointer  data,
                 GObject  *where_the_object_was)
{
  g_atomic_int_dec_and_test (&pk_py_live);
}

static gpointer
pk_py_track (gpointer object)
{
  if (object != NULL && G_IS_OBJECT (object))
    {
      g_atomic_int_inc (&pk_py_live);
      g_object_weak_ref (object, pk_py_finalized, NULL);
    }
  return object;
}

static int
pk_py_live_objects (void)
{
  return g_atomic_int_get (&pk_py_live);
}

static gboolean
pk_py_unref_idle (gpointer data)
{
  g_object_unref (data);
  return G_SOURCE_REMOVE;
}

/* The destructor of every GObject that Python owns. */
static void
pk_py_object_unref (gpointer object)
{
  g_mutex_lock (&pk_py_lock);
  if (pk_py_running)
    {
      GSource *source = g_idle_source_new ();

      g_source_set_callback (source, pk_py_unref_idle, object, NULL);
      g_source_set_static_name (source, "[proxykit-python] unref");
      g_source_attach (source, pk_py_context);
      g_source_unref (source);
      object = NULL;
    }
  g_mutex_unlock (&pk_py_lock);

  /* No loop runs (before the first call, or at exit): nothing else can
   * touch the object, so it goes here and now. */
  if (object != NULL)
    g_object_unref (object);
}

/* GCancellable is thread-safe, and releasing one must not wait on the loop. */
static void
pk_py_cancellable_unref (gpointer object)
{
  g_object_unref (object);
}

static void
pk_py_async_ready (GObject      *source,
                   GAsyncResult *res,
                   gpointer      user_data)
{
  _pk_py_async_ready_cb (source, res, GPOINTER_TO_SIZE (user_data));
}

static const GValue *
pk_py_value_nth (const GValue *values,
                 guint         i)
{
  return &values[i];
}

static gsize
pk_py_value_fundamental (const GValue *value)
{
  return G_TYPE_FUNDAMENTAL (G_VALUE_TYPE (value));
}

/* A JsonNode argument as JSON text (NULL for another boxed type). */
static char *
pk_py_value_dup_json (const GValue *value)
{
  JsonNode *node;

  if (!G_VALUE_HOLDS (value, JSON_TYPE_NODE) || (node = g_value_get_boxed (value)) == NULL)
    return NULL;
  return json_to_string (node, FALSE);
}

static void
pk_py_closure_marshal (GClosure     *closure,
                       GValue       *return_value,
                       guint         n_param_values,
                       const GValue *param_values,
                       gpointer      invocation_hint,
                       gpointer      marshal_data)
{
  _pk_py_signal_cb (GPOINTER_TO_SIZE (closure->data), n_param_values, param_values);
}

/* Connects @signal on @instance to _pk_py_signal_cb with @id, whatever the
 * signal's arguments: Python reads them from the GValues. */
static unsigned long
pk_py_signal_connect (gpointer    instance,
                      const char *signal,
                      gsize       id)
{
  GClosure *closure = g_closure_new_simple (sizeof (GClosure), GSIZE_TO_POINTER (id));

  g_closure_set_marshal (closure, pk_py_closure_marshal);
  return g_signal_connect_closure (instance, signal, closure, FALSE);
}

static void
pk_py_signal_disconnect (gpointer      instance,
                         unsigned long handler_id)
{
  if (g_signal_handler_is_connected (instance, handler_id))
    g_signal_handler_disconnect (instance, handler_id);
}

/* --- logging: libproxykit's messages into Python's logging ---
 *
 * A GLib log writer (there is one per process) that hands messages of the
 * "proxykit" domain to Python (_pk_py_log_cb) and leaves every other
 * domain to GLib's default writer. Debug messages cross only while Python
 * says its "proxykit" logger wants them, or GLib's G_MESSAGES_DEBUG does;
 * that keeps a quiet library from calling into Python on every debug line. */
static gint pk_py_log_enabled;
static gint pk_py_log_debug;

static void _pk_py_log_cb (int level, const char *domain, const char *message);

static GLogWriterOutput
pk_py_log_writer (GLogLevelFlags   log_level,
                  const GLogField *fields,
                  gsize            n_fields,
                  gpointer         user_data)
{
  const char *domain = NULL;
  const char *message = NULL;
  g_autofree char *message_copy = NULL;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_strcmp0 (fields[i].key, "GLIB_DOMAIN") == 0 && fields[i].length < 0)
        domain = fields[i].value;
      else if (g_strcmp0 (fields[i].key, "MESSAGE") == 0)
        {
          if (fields[i].length < 0)
            message = fields[i].value;
          else
            message = message_copy = g_strndup (fields[i].value, fields[i].length);
        }
    }

  if (!g_atomic_int_get (&pk_py_log_enabled) || g_strcmp0 (domain, "proxykit") != 0)
    return g_log_writer_default (log_level, fields, n_fields, user_data);
  if ((log_level & G_LOG_LEVEL_DEBUG) && !g_atomic_int_get (&pk_py_log_debug) &&
      g_log_writer_default_would_drop (log_level, domain))
    return G_LOG_WRITER_HANDLED;

  _pk_py_log_cb (log_level & G_LOG_LEVEL_MASK, domain, message != NULL ? message : "");
  return G_LOG_WRITER_HANDLED;
}

/* Installs the writer (once; GLib allows one per process). */
static void
pk_py_log_install (void)
{
  static gsize installed;

  if (g_once_init_enter (&installed))
    {
      g_log_set_writer_func (pk_py_log_writer, NULL, NULL);
      g_once_init_leave (&installed, 1);
    }
}

static void
pk_py_log_set_enabled (gboolean enabled)
{
  g_atomic_int_set (&pk_py_log_enabled, enabled);
}

static void
pk_py_log_set_debug (gboolean debug)
{
  g_atomic_int_set (&pk_py_log_debug, debug);
}

/* For tests: a message from the library's own domain. */
static void
pk_py_log_emit (int         level,
                const char *message)
{
  g_log_structured ("proxykit", level, "MESSAGE", "%s", message);
}
