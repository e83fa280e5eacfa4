/* pk-state-store.c: node state as JSON files in a state directory
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkStateStore:
 *
 * Keeps the state of each node ([class@NodeState]) as one JSON file,
 * `DIRECTORY/NAME.json`, in a state directory (by default
 * %PK_STATE_DIR_DEFAULT). It is what pk-socks and pk-watchdog share: one
 * records the tunnel and listener it started, the other reads them to
 * know what to watch and records failures.
 *
 * Every write replaces the file atomically (a temporary file, fsync,
 * rename), so that a reader sees either the old or the new state, never
 * half a file, even if the writer is killed or the host loses power.
 *
 * Several processes change one node (pk-socks records its tunnel,
 * pk-watchdog records failures): a change is a read, a modification and a
 * write, made with [method@StateStore.load_locked] and
 * [method@StateStore.save_unlock], which hold an exclusive lock
 * (`flock(2)` on `DIRECTORY/.NAME.lock`) in between, so that no change is
 * lost to another writer.
 *
 * State that belongs to the host rather than to one node, such as the
 * USB map of a dongle farm ([class@UsbMap]), is kept as *documents*:
 * `DIRECTORY/host/NAME.json`, written atomically the same way, with their
 * own locks (`pk_state_store_lock_document()`). They are never listed as
 * nodes.
 *
 * ```c
 * g_autoptr(PkStateStore) store = pk_state_store_new (NULL);
 * g_autoptr(PkNodeState) node = pk_state_store_load_or_new (store, "11", &error);
 *
 * pk_node_state_set_status (node, PK_NODE_STATUS_PING_FAILED, "pppd is gone");
 * pk_node_state_set_fails (node, pk_node_state_get_fails (node) + 1);
 * if (!pk_state_store_save (store, node, &error))
 *   g_warning ("%s", error->message);
 * ```
 *
 * Since: 0.1
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pk-error.h"
#include "pk-prom-private.h"
#include "pk-state-store.h"

struct _PkStateStore
{
  GObject parent_instance;

  char *directory;
  GHashTable *locks;   /* node name -> lock file descriptor */
};

G_DEFINE_FINAL_TYPE (PkStateStore, pk_state_store, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_DIRECTORY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
pk_state_store_finalize (GObject *object)
{
  PkStateStore *self = PK_STATE_STORE (object);

  g_free (self->directory);
  g_hash_table_unref (self->locks);

  G_OBJECT_CLASS (pk_state_store_parent_class)->finalize (object);
}

static void
pk_state_store_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  PkStateStore *self = PK_STATE_STORE (object);

  switch (prop_id)
    {
    case PROP_DIRECTORY:
      g_value_set_string (value, self->directory);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_state_store_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  PkStateStore *self = PK_STATE_STORE (object);

  switch (prop_id)
    {
    case PROP_DIRECTORY:
      {
        const char *dir = g_value_get_string (value);
        self->directory = g_strdup (dir != NULL && *dir != '\0' ? dir : PK_STATE_DIR_DEFAULT);
      }
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_state_store_class_init (PkStateStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = pk_state_store_finalize;
  object_class->get_property = pk_state_store_get_property;
  object_class->set_property = pk_state_store_set_property;

  /**
   * PkStateStore:directory:
   *
   * The state directory; %NULL at construction means %PK_STATE_DIR_DEFAULT.
   *
   * Since: 0.1
   */
  properties[PROP_DIRECTORY] =
    g_param_spec_string ("directory", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
close_lock (gpointer data)
{
  close (GPOINTER_TO_INT (data));
}

static void
pk_state_store_init (PkStateStore *self)
{
  self->locks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, close_lock);
}

/**
 * pk_state_store_new:
 * @directory: (nullable): the state directory, or %NULL for
 *   %PK_STATE_DIR_DEFAULT
 *
 * Creates a store. The directory is created on the first save.
 *
 * Returns: (transfer full): a new [class@StateStore]
 *
 * Since: 0.1
 */
PkStateStore *
pk_state_store_new (const char *directory)
{
  return g_object_new (PK_TYPE_STATE_STORE, "directory", directory, NULL);
}

/**
 * pk_state_store_new_from_config:
 * @config: (nullable): a configuration
 * @section: the section whose `state-dir` key names the directory, such
 *   as `dongles` or `watchdog`
 *
 * Creates a store in the directory the configuration names: the
 * `state-dir` key of [@section], else the environment variable
 * `PROXYKIT_STATE_DIR`, else %PK_STATE_DIR_DEFAULT.
 *
 * Returns: (transfer full): a new [class@StateStore]
 *
 * Since: 0.2
 */
PkStateStore *
pk_state_store_new_from_config (PkConfig   *config,
                                const char *section)
{
  g_autofree char *directory = NULL;

  g_return_val_if_fail (config == NULL || PK_IS_CONFIG (config), NULL);
  g_return_val_if_fail (section != NULL, NULL);

  if (config != NULL)
    directory = pk_config_dup_string (config, section, "state-dir", "PROXYKIT_STATE_DIR", NULL);
  else
    directory = g_strdup (g_getenv ("PROXYKIT_STATE_DIR"));
  return pk_state_store_new (directory);
}

/**
 * pk_state_store_get_directory:
 * @self: a [class@StateStore]
 *
 * Gets the state directory.
 *
 * Returns: the state directory
 *
 * Since: 0.1
 */
const char *
pk_state_store_get_directory (PkStateStore *self)
{
  g_return_val_if_fail (PK_IS_STATE_STORE (self), NULL);
  return self->directory;
}

/**
 * pk_state_store_is_valid_name:
 * @name: a node name
 *
 * Node names become file names: they are 1-64 characters of letters,
 * digits, `-`, `_`, `.`, `:` and `@`, and do not start with a dot.
 *
 * Returns: %TRUE if @name can name a node
 *
 * Since: 0.1
 */
gboolean
pk_state_store_is_valid_name (const char *name)
{
  gsize len;

  if (name == NULL)
    return FALSE;
  len = strlen (name);
  if (len == 0 || len > 64 || name[0] == '.')
    return FALSE;
  for (const char *p = name; *p; p++)
    if (!g_ascii_isalnum (*p) && strchr ("-_.:@", *p) == NULL)
      return FALSE;
  return TRUE;
}

static gboolean
check_name (const char  *name,
            GError     **error)
{
  if (pk_state_store_is_valid_name (name))
    return TRUE;
  g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
               "node name '%s' is not valid (1-64 of letters, digits, '-', '_', '.', ':', '@'; "
               "no leading dot)", name ? name : "(null)");
  return FALSE;
}

/**
 * pk_state_store_dup_path:
 * @self: a [class@StateStore]
 * @name: a node name
 *
 * Gets the path of the node's state file.
 *
 * Returns: (transfer full): the path of the node's state file
 *
 * Since: 0.1
 */
char *
pk_state_store_dup_path (PkStateStore *self,
                         const char   *name)
{
  g_autofree char *file = NULL;

  g_return_val_if_fail (PK_IS_STATE_STORE (self), NULL);

  file = g_strconcat (name, ".json", NULL);
  return g_build_filename (self->directory, file, NULL);
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return g_strcmp0 (*(const char **) a, *(const char **) b);
}

/**
 * pk_state_store_list:
 * @self: a [class@StateStore]
 * @error: return location for a `GError`
 *
 * Lists the nodes that have a state file, sorted by name. A missing state
 * directory means no nodes.
 *
 * Returns: (transfer full) (array zero-terminated=1) (nullable): node
 *   names, or %NULL with @error set if the directory cannot be read
 *
 * Since: 0.1
 */
char **
pk_state_store_list (PkStateStore  *self,
                     GError       **error)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *entry;

  g_return_val_if_fail (PK_IS_STATE_STORE (self), NULL);

  dir = g_dir_open (self->directory, 0, &local_error);
  if (dir == NULL)
    {
      if (!g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        {
          g_set_error (error, PK_ERROR, PK_ERROR_STATE, "cannot read state directory %s: %s",
                       self->directory, local_error->message);
          return NULL;
        }
    }
  else
    {
      while ((entry = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *name = NULL;

          /* Temporary files of an interrupted write end in a random
           * suffix, not in ".json": they are never listed. */
          if (!g_str_has_suffix (entry, ".json"))
            continue;
          name = g_strndup (entry, strlen (entry) - 5);
          if (pk_state_store_is_valid_name (name))
            g_ptr_array_add (names, g_steal_pointer (&name));
        }
    }

  g_ptr_array_sort (names, compare_strings);
  g_ptr_array_add (names, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&names), FALSE);
}

/* Reads NAME.json; *out_corrupt (if given) says whether it was read but
 * is not a valid state of this node. */
static PkNodeState *
load_file (PkStateStore  *self,
           const char    *name,
           gboolean      *out_corrupt,
           GError       **error)
{
  g_autofree char *path = NULL;
  g_autofree char *data = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(PkNodeState) node = NULL;
  gsize len = 0;

  if (out_corrupt != NULL)
    *out_corrupt = FALSE;
  if (!check_name (name, error))
    return NULL;

  path = pk_state_store_dup_path (self, name);
  if (!g_file_get_contents (path, &data, &len, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_propagate_error (error, g_steal_pointer (&local_error));
      else
        g_set_error (error, PK_ERROR, PK_ERROR_STATE, "%s", local_error->message);
      return NULL;
    }

  node = pk_node_state_new_from_json (data, len, &local_error);
  if (out_corrupt != NULL)
    *out_corrupt = node == NULL || g_strcmp0 (pk_node_state_get_name (node), name) != 0;
  if (node == NULL)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_STATE, "state file %s: %s", path, local_error->message);
      return NULL;
    }
  if (g_strcmp0 (pk_node_state_get_name (node), name) != 0)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_STATE,
                   "state file %s: field 'name' is '%s', expected '%s'",
                   path, pk_node_state_get_name (node), name);
      return NULL;
    }
  return g_steal_pointer (&node);
}

/**
 * pk_state_store_load:
 * @self: a [class@StateStore]
 * @name: a node name
 * @error: return location for a `GError`
 *
 * Reads a node's state file.
 *
 * Returns: (transfer full) (nullable): the node's state, or %NULL with
 *   @error set: %G_FILE_ERROR_NOENT if the node has no state file,
 *   %PK_ERROR_STATE (naming the file) if it cannot be read or parsed
 *
 * Since: 0.1
 */
PkNodeState *
pk_state_store_load (PkStateStore  *self,
                     const char    *name,
                     GError       **error)
{
  g_return_val_if_fail (PK_IS_STATE_STORE (self), NULL);

  return load_file (self, name, NULL, error);
}

/**
 * pk_state_store_load_or_new:
 * @self: a [class@StateStore]
 * @name: a node name
 * @error: return location for a `GError`
 *
 * Like [method@StateStore.load], but a node without a state file gets a new
 * state (status `stopped`, counters at zero).
 *
 * Returns: (transfer full) (nullable): the node's state, or %NULL with
 *   @error set
 *
 * Since: 0.1
 */
PkNodeState *
pk_state_store_load_or_new (PkStateStore  *self,
                            const char    *name,
                            GError       **error)
{
  g_autoptr(GError) local_error = NULL;
  PkNodeState *node = pk_state_store_load (self, name, &local_error);

  if (node != NULL)
    return node;
  if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    return pk_node_state_new (name);
  g_propagate_error (error, g_steal_pointer (&local_error));
  return NULL;
}

/**
 * pk_state_store_save:
 * @self: a [class@StateStore]
 * @node: the node's state
 * @error: return location for a `GError`
 *
 * Writes a node's state file atomically, creating the state directory
 * (mode 0755) if needed.
 *
 * Returns: %TRUE, or %FALSE with @error set (%PK_ERROR_STATE naming the file)
 *
 * Since: 0.1
 */
gboolean
pk_state_store_save (PkStateStore  *self,
                     PkNodeState   *node,
                     GError       **error)
{
  g_autofree char *path = NULL;
  g_autofree char *json = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *name;

  g_return_val_if_fail (PK_IS_STATE_STORE (self), FALSE);
  g_return_val_if_fail (PK_IS_NODE_STATE (node), FALSE);

  name = pk_node_state_get_name (node);
  if (!check_name (name, error))
    return FALSE;

  if (g_mkdir_with_parents (self->directory, 0755) < 0)
    {
      int saved_errno = errno;
      g_set_error (error, PK_ERROR, PK_ERROR_STATE, "cannot create state directory %s: %s",
                   self->directory, g_strerror (saved_errno));
      return FALSE;
    }

  path = pk_state_store_dup_path (self, name);
  json = pk_node_state_to_json (node);
  if (!g_file_set_contents_full (path, json, -1,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 0644, &local_error))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_STATE, "cannot write state file: %s",
                   local_error->message);
      return FALSE;
    }
  return TRUE;
}

/**
 * pk_state_store_remove:
 * @self: a [class@StateStore]
 * @name: a node name
 * @error: return location for a `GError`
 *
 * Deletes a node's state file; a node without one is not an error.
 *
 * Returns: %TRUE, or %FALSE with @error set
 *
 * Since: 0.1
 */
gboolean
pk_state_store_remove (PkStateStore  *self,
                       const char    *name,
                       GError       **error)
{
  g_autofree char *path = NULL;

  g_return_val_if_fail (PK_IS_STATE_STORE (self), FALSE);

  if (!check_name (name, error))
    return FALSE;
  path = pk_state_store_dup_path (self, name);
  if (g_unlink (path) < 0 && errno != ENOENT)
    {
      int saved_errno = errno;
      g_set_error (error, PK_ERROR, PK_ERROR_STATE, "cannot remove state file %s: %s",
                   path, g_strerror (saved_errno));
      return FALSE;
    }
  return TRUE;
}

static gboolean
make_directory (const char  *directory,
                GError     **error)
{
  if (g_mkdir_with_parents (directory, 0755) < 0)
    {
      int saved_errno = errno;
      g_set_error (error, PK_ERROR, PK_ERROR_STATE, "cannot create state directory %s: %s",
                   directory, g_strerror (saved_errno));
      return FALSE;
    }
  return TRUE;
}

/* An exclusive flock(2) on DIRECTORY/.NAME.lock, held under @key. */
static gboolean
take_lock (PkStateStore  *self,
           const char    *directory,
           const char    *name,
           const char    *key,
           GError       **error)
{
  g_autofree char *file = NULL;
  g_autofree char *path = NULL;
  int fd;

  if (!make_directory (directory, error))
    return FALSE;
  file = g_strconcat (".", name, ".lock", NULL);
  path = g_build_filename (directory, file, NULL);
  fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0 || flock (fd, LOCK_EX) < 0)
    {
      int saved_errno = errno;
      if (fd >= 0)
        close (fd);
      g_set_error (error, PK_ERROR, PK_ERROR_STATE, "cannot lock %s: %s", path, g_strerror (saved_errno));
      return FALSE;
    }
  g_hash_table_insert (self->locks, g_strdup (key), GINT_TO_POINTER (fd));
  return TRUE;
}

/* An atomic write that was killed (kill -9, a power cut) leaves its
 * temporary file, NAME.json.XXXXXX, behind. Called under the node's lock,
 * so no locked writer is using one; one younger than a minute may still
 * belong to an unlocked pk_state_store_save() and is left alone. */
static void
remove_stale_temporary_files (PkStateStore *self,
                              const char   *name)
{
  g_autofree char *prefix = g_strconcat (name, ".json.", NULL);
  g_autoptr(GDir) dir = g_dir_open (self->directory, 0, NULL);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  const char *entry;

  if (dir == NULL)
    return;
  while ((entry = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      GStatBuf st;

      if (!g_str_has_prefix (entry, prefix) || strlen (entry) != strlen (prefix) + 6)
        continue;
      path = g_build_filename (self->directory, entry, NULL);
      if (g_lstat (path, &st) == 0 && S_ISREG (st.st_mode) && st.st_mtime < now - 60 &&
          g_unlink (path) == 0)
        g_message ("state: removed %s, left behind by an interrupted write", path);
    }
}

/* A state file that reads but does not parse is kept as NAME.json.corrupt
 * for a person to look at, and the node starts again from a new state:
 * otherwise no tool could ever record it again. */
static PkNodeState *
set_corrupt_file_aside (PkStateStore *self,
                        const char   *name,
                        const char   *why)
{
  g_autofree char *path = pk_state_store_dup_path (self, name);
  g_autofree char *aside = g_strconcat (path, ".corrupt", NULL);

  if (g_rename (path, aside) < 0)
    {
      int saved_errno = errno;
      g_warning ("%s; cannot keep it as %s: %s", why, aside, g_strerror (saved_errno));
      return NULL;
    }
  g_warning ("%s; kept as %s, the node starts from a new state", why, aside);
  return pk_node_state_new (name);
}

/**
 * pk_state_store_load_locked:
 * @self: a [class@StateStore]
 * @name: a node name
 * @error: return location for a `GError`
 *
 * Takes the node's lock, waiting while another process holds it, then
 * reads its state (a new state if it has no file). Under the lock it also
 * removes what killed writes of this node left behind (`NAME.json.XXXXXX`
 * older than a minute), and a state file that does not parse is kept as
 * `NAME.json.corrupt`, with a warning, and a new state returned, so that
 * the node can be recorded again. Release the lock with
 * [method@StateStore.save_unlock] or [method@StateStore.unlock]. Locks are not
 * recursive: do not take the lock of a node twice.
 *
 * Returns: (transfer full) (nullable): the node's state, or %NULL with
 *   @error set (and the lock not held)
 *
 * Since: 0.1
 */
PkNodeState *
pk_state_store_load_locked (PkStateStore  *self,
                            const char    *name,
                            GError       **error)
{
  g_autoptr(GError) local_error = NULL;
  gboolean corrupt = FALSE;
  PkNodeState *node;

  g_return_val_if_fail (PK_IS_STATE_STORE (self), NULL);

  if (!check_name (name, error))
    return NULL;
  g_return_val_if_fail (!g_hash_table_contains (self->locks, name), NULL);

  if (!take_lock (self, self->directory, name, name, error))
    return NULL;

  remove_stale_temporary_files (self, name);
  node = load_file (self, name, &corrupt, &local_error);
  if (node == NULL && g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    node = pk_node_state_new (name);
  else if (node == NULL && corrupt)
    node = set_corrupt_file_aside (self, name, local_error->message);
  if (node == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      pk_state_store_unlock (self, name);
    }
  return node;
}

/**
 * pk_state_store_unlock:
 * @self: a [class@StateStore]
 * @name: a node name
 *
 * Releases the node's lock without writing.
 *
 * Since: 0.1
 */
void
pk_state_store_unlock (PkStateStore *self,
                       const char   *name)
{
  g_return_if_fail (PK_IS_STATE_STORE (self));
  g_hash_table_remove (self->locks, name);
}

/**
 * pk_state_store_save_unlock:
 * @self: a [class@StateStore]
 * @node: the node's state, from [method@StateStore.load_locked]
 * @error: return location for a `GError`
 *
 * Writes the node's state atomically and releases its lock (also when the
 * write fails).
 *
 * Returns: %TRUE, or %FALSE with @error set
 *
 * Since: 0.1
 */
gboolean
pk_state_store_save_unlock (PkStateStore  *self,
                            PkNodeState   *node,
                            GError       **error)
{
  gboolean ok;

  g_return_val_if_fail (PK_IS_STATE_STORE (self), FALSE);
  g_return_val_if_fail (PK_IS_NODE_STATE (node), FALSE);

  ok = pk_state_store_save (self, node, error);
  pk_state_store_unlock (self, pk_node_state_get_name (node));
  return ok;
}

/* --- documents --- */

#define DOCUMENT_DIR "host"

static char *
document_key (const char *name)
{
  return g_strconcat (DOCUMENT_DIR "/", name, NULL);
}

/**
 * pk_state_store_dup_document_path:
 * @self: a [class@StateStore]
 * @name: a document name, such as `usb-map`
 *
 * The path of the document's file,
 * `DIRECTORY/host/NAME.json`.
 *
 * Returns: (transfer full): the path of the document's file,
 *   `DIRECTORY/host/NAME.json`
 *
 * Since: 0.2
 */
char *
pk_state_store_dup_document_path (PkStateStore *self,
                                  const char   *name)
{
  g_autofree char *file = NULL;

  g_return_val_if_fail (PK_IS_STATE_STORE (self), NULL);

  file = g_strconcat (name, ".json", NULL);
  return g_build_filename (self->directory, DOCUMENT_DIR, file, NULL);
}

/**
 * pk_state_store_load_document:
 * @self: a [class@StateStore]
 * @name: a document name (the rules of node names apply)
 * @error: return location for a `GError`
 *
 * Reads a host-wide document, such as the USB map of a dongle farm.
 *
 * Returns: (transfer full) (nullable): the document's text, or %NULL with
 *   @error set: %G_FILE_ERROR_NOENT if there is none yet, %PK_ERROR_STATE
 *   naming the file if it cannot be read
 *
 * Since: 0.2
 */
char *
pk_state_store_load_document (PkStateStore  *self,
                              const char    *name,
                              GError       **error)
{
  g_autofree char *path = NULL;
  g_autoptr(GError) local_error = NULL;
  char *data = NULL;

  g_return_val_if_fail (PK_IS_STATE_STORE (self), NULL);

  if (!check_name (name, error))
    return NULL;
  path = pk_state_store_dup_document_path (self, name);
  if (!g_file_get_contents (path, &data, NULL, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_propagate_error (error, g_steal_pointer (&local_error));
      else
        g_set_error (error, PK_ERROR, PK_ERROR_STATE, "%s", local_error->message);
      return NULL;
    }
  return data;
}

/**
 * pk_state_store_save_document:
 * @self: a [class@StateStore]
 * @name: a document name
 * @contents: the document's text
 * @error: return location for a `GError`
 *
 * Writes a host-wide document atomically (a temporary file, fsync,
 * rename), creating `DIRECTORY/host` if needed.
 *
 * Returns: %TRUE, or %FALSE with @error set (%PK_ERROR_STATE naming the file)
 *
 * Since: 0.2
 */
gboolean
pk_state_store_save_document (PkStateStore  *self,
                              const char    *name,
                              const char    *contents,
                              GError       **error)
{
  g_autofree char *path = NULL;
  g_autofree char *directory = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (PK_IS_STATE_STORE (self), FALSE);
  g_return_val_if_fail (contents != NULL, FALSE);

  if (!check_name (name, error))
    return FALSE;
  directory = g_build_filename (self->directory, DOCUMENT_DIR, NULL);
  if (!make_directory (directory, error))
    return FALSE;
  path = pk_state_store_dup_document_path (self, name);
  if (!g_file_set_contents_full (path, contents, -1,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 0644, &local_error))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_STATE, "cannot write %s: %s", path, local_error->message);
      return FALSE;
    }
  return TRUE;
}

/**
 * pk_state_store_lock_document:
 * @self: a [class@StateStore]
 * @name: a document name
 * @error: return location for a `GError`
 *
 * Takes the document's exclusive lock (`DIRECTORY/host/.NAME.lock`),
 * waiting while another process holds it, so that a read, a change and a
 * write are not interleaved with another writer's. Release it with
 * `pk_state_store_unlock_document()`. Not recursive.
 *
 * Returns: %TRUE, or %FALSE with @error set
 *
 * Since: 0.2
 */
gboolean
pk_state_store_lock_document (PkStateStore  *self,
                              const char    *name,
                              GError       **error)
{
  g_autofree char *key = NULL;
  g_autofree char *directory = NULL;

  g_return_val_if_fail (PK_IS_STATE_STORE (self), FALSE);

  if (!check_name (name, error))
    return FALSE;
  key = document_key (name);
  g_return_val_if_fail (!g_hash_table_contains (self->locks, key), FALSE);
  directory = g_build_filename (self->directory, DOCUMENT_DIR, NULL);
  return take_lock (self, directory, name, key, error);
}

/**
 * pk_state_store_unlock_document:
 * @self: a [class@StateStore]
 * @name: a document name
 *
 * Releases the lock taken by `pk_state_store_lock_document()`.
 *
 * Since: 0.2
 */
void
pk_state_store_unlock_document (PkStateStore *self,
                                const char   *name)
{
  g_autofree char *key = NULL;

  g_return_if_fail (PK_IS_STATE_STORE (self));
  key = document_key (name);
  g_hash_table_remove (self->locks, key);
}

/**
 * pk_state_store_dup_prometheus:
 * @self: a [class@StateStore]
 *
 * The state of every node in the store, in the Prometheus text format:
 * `proxykit_node_status{node, status}` (1 for the node's status, 0 for
 * the others of `starting`, `online`, `ping_failed` and `stopped`),
 * `proxykit_node_fails_total{node}` (confirmed failures),
 * `proxykit_node_recoveries_total{node}` (recoveries after them) and
 * `proxykit_node_consecutive_failures{node}`. A state file that cannot be
 * read is left out (and logged). For a collector of
 * [class@MetricsServer].
 *
 * Returns: (transfer full): the text
 *
 * Since: 0.2
 */
char *
pk_state_store_dup_prometheus (PkStateStore *self)
{
  g_autoptr(PkPromWriter) w = pk_prom_writer_new ();
  g_autoptr(GPtrArray) states = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) names = NULL;

  g_return_val_if_fail (PK_IS_STATE_STORE (self), NULL);

  names = pk_state_store_list (self, &error);
  if (names == NULL)
    g_warning ("%s", error->message);
  for (guint i = 0; names != NULL && names[i] != NULL; i++)
    {
      g_autoptr(GError) load_error = NULL;
      PkNodeState *state = pk_state_store_load (self, names[i], &load_error);

      if (state != NULL)
        g_ptr_array_add (states, state);
      else if (load_error != NULL)
        g_warning ("node %s: %s", names[i], load_error->message);
    }

  pk_prom_writer_family (w, "proxykit_node_status", PK_PROM_GAUGE,
                         "1 for the node's status (starting, online, ping_failed, stopped, recovering), 0 for the others.");
  for (guint i = 0; i < states->len; i++)
    {
      PkNodeState *state = g_ptr_array_index (states, i);

      for (PkNodeStatus st = PK_NODE_STATUS_STARTING; st <= PK_NODE_STATUS_RECOVERING; st++)
        pk_prom_writer_sample_uint (w, "proxykit_node_status", pk_node_state_get_status (state) == st,
                                    "node", pk_node_state_get_name (state),
                                    "status", pk_node_status_to_string (st), NULL);
    }
  pk_prom_writer_family (w, "proxykit_node_fails_total", PK_PROM_COUNTER,
                         "Confirmed health failures of the node.");
  for (guint i = 0; i < states->len; i++)
    {
      PkNodeState *state = g_ptr_array_index (states, i);

      pk_prom_writer_sample_uint (w, "proxykit_node_fails_total", pk_node_state_get_fails (state),
                                  "node", pk_node_state_get_name (state), NULL);
    }
  pk_prom_writer_family (w, "proxykit_node_recoveries_total", PK_PROM_COUNTER,
                         "Times a node supervisor brought the node back after a confirmed failure.");
  for (guint i = 0; i < states->len; i++)
    {
      PkNodeState *state = g_ptr_array_index (states, i);

      pk_prom_writer_sample_uint (w, "proxykit_node_recoveries_total", pk_node_state_get_recoveries (state),
                                  "node", pk_node_state_get_name (state), NULL);
    }
  pk_prom_writer_family (w, "proxykit_node_consecutive_failures", PK_PROM_GAUGE,
                         "Failed checks in a row of the node.");
  for (guint i = 0; i < states->len; i++)
    {
      PkNodeState *state = g_ptr_array_index (states, i);

      pk_prom_writer_sample_uint (w, "proxykit_node_consecutive_failures",
                                  pk_node_state_get_consecutive_failures (state),
                                  "node", pk_node_state_get_name (state), NULL);
    }
  return pk_prom_writer_free_to_string (g_steal_pointer (&w));
}
