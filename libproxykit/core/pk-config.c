/* pk-config.c: the one configuration format of all proxykit tools
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkConfig:
 *
 * The configuration shared by every proxykit tool: one `GKeyFile` file
 * (`/etc/proxykit/proxykit.conf`) with a section per object, such as
 * `[socks:11]`, `[relay:1]`, `[tunnel:NAME]`, `[dongle:11]` and
 * `[watchdog]`, plus the environment variables the older shell tools used
 * (`SOCKS_CONNECT_TIMEOUT`, `WATCHDOG_CHECK_INTERVAL`, ...).
 *
 * A value is looked up in this order: an override (a tool's command-line
 * flag, set with `pk_config_set_override()`), the environment, the file,
 * and then the built-in default applies. Errors name where a bad value
 * came from: `proxykit.conf:12: [socks:11] connect-timeout: 'abc' is not
 * a duration`, `environment variable SOCKS_CONNECT_TIMEOUT: ...` or
 * `--connect-timeout: ...`.
 *
 * A line starting with `#` or `;` is a comment. A `#` that follows a
 * space or tab after a value starts a comment too (`users = /etc/users
 * # one user per line`), unless it stands between quotes; to keep a
 * literal ` #` in a value, write the space as `\s`. Env files
 * ([method@Config.load_env_file]) follow the same rule.
 *
 * ```c
 * g_autoptr(PkConfig) config = pk_config_new ();
 * g_auto(GStrv) names = NULL;
 * guint64 timeout_ms;
 *
 * if (!pk_config_load_file (config, "/etc/proxykit/proxykit.conf", &error))
 *   return FALSE;
 * names = pk_config_list_sections (config, "socks");
 * if (!pk_config_get_duration_ms (config, "socks:11", "connect-timeout",
 *                                 "SOCKS_CONNECT_TIMEOUT", 120000, &timeout_ms, &error))
 *   return FALSE;
 * ```
 *
 * Since: 0.1
 */

#include "config.h"

#include "pk-config.h"
#include "pk-config-private.h"
#include "pk-error.h"
#include "pk-util-private.h"

struct _PkConfig
{
  GObject parent_instance;

  GKeyFile *keyfile;
  char *origin;
  /* "section\x1fkey" and "section" -> line number, for error messages */
  GHashTable *lines;
  /* NULL: the process environment */
  GHashTable *environ;
  /* variables from an env file; they override the process environment */
  GHashTable *env_file;
  /* "section\x1fkey" (or "\x1fkey" for every section) -> Override */
  GHashTable *overrides;
};

typedef struct {
  char *value;
  char *origin;
} Override;

static void
override_free (Override *o)
{
  g_free (o->value);
  g_free (o->origin);
  g_free (o);
}

G_DEFINE_FINAL_TYPE (PkConfig, pk_config, G_TYPE_OBJECT)

static void
pk_config_finalize (GObject *object)
{
  PkConfig *self = PK_CONFIG (object);

  g_clear_pointer (&self->keyfile, g_key_file_unref);
  g_clear_pointer (&self->origin, g_free);
  g_clear_pointer (&self->lines, g_hash_table_unref);
  g_clear_pointer (&self->environ, g_hash_table_unref);
  g_clear_pointer (&self->env_file, g_hash_table_unref);
  g_clear_pointer (&self->overrides, g_hash_table_unref);

  G_OBJECT_CLASS (pk_config_parent_class)->finalize (object);
}

static void
pk_config_class_init (PkConfigClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = pk_config_finalize;
}

static void
pk_config_init (PkConfig *self)
{
  self->keyfile = g_key_file_new ();
  self->lines = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->env_file = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->overrides = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) override_free);
}

/**
 * pk_config_new:
 *
 * Creates an empty configuration: every lookup gives the environment's
 * value or the default.
 *
 * Returns: (transfer full): a new [class@Config]
 *
 * Since: 0.1
 */
PkConfig *
pk_config_new (void)
{
  return g_object_new (PK_TYPE_CONFIG, NULL);
}

/* Cuts a trailing comment off a value line, in place: a `#` after a
 * space or tab outside quotes starts one. */
static void
strip_trailing_comment (char *line)
{
  char quote = '\0';

  for (char *p = line; *p != '\0'; p++)
    {
      if (quote != '\0')
        {
          if (*p == quote)
            quote = '\0';
        }
      else if (*p == '"' || *p == '\'')
        quote = *p;
      else if (*p == '#' && p > line && (p[-1] == ' ' || p[-1] == '\t'))
        {
          *p = '\0';
          g_strchomp (line);
          return;
        }
    }
}

/* GKeyFile has no trailing comments: the text it gets has them cut off
 * key and section lines, line for line so that line numbers hold. */
static char *
strip_comments (const char *data,
                gsize       length)
{
  g_autofree char *copy = g_strndup (data, length);
  g_auto(GStrv) lines = g_strsplit (copy, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *start = lines[i] + strspn (lines[i], " \t");

      if (*start == '[')
        strip_trailing_comment (lines[i]);
      else if (*start != '#' && *start != ';' && strchr (start, '=') != NULL)
        strip_trailing_comment (strchr (lines[i], '=') + 1);
    }
  return g_strjoinv ("\n", lines);
}

static char *
line_key (const char *section,
          const char *key)
{
  return key ? g_strconcat (section, "\x1f", key, NULL) : g_strdup (section);
}

/* GKeyFile keeps no line numbers, so a first pass notes where each
 * section and key stands. */
static void
index_lines (PkConfig   *self,
             const char *data,
             gsize       length)
{
  g_autofree char *copy = g_strndup (data, length);
  g_auto(GStrv) lines = g_strsplit (copy, "\n", -1);
  g_autofree char *section = NULL;

  g_hash_table_remove_all (self->lines);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *line = g_strstrip (lines[i]);
      char *eq;

      if (*line == '\0' || *line == '#' || *line == ';')
        continue;

      if (*line == '[')
        {
          char *end = strchr (line, ']');

          if (end != NULL)
            {
              g_free (section);
              section = g_strndup (line + 1, end - line - 1);
              g_hash_table_insert (self->lines, line_key (section, NULL), GUINT_TO_POINTER (i + 1));
            }
          continue;
        }

      eq = strchr (line, '=');
      if (eq != NULL && section != NULL)
        {
          *eq = '\0';
          g_hash_table_insert (self->lines, line_key (section, g_strstrip (line)),
                               GUINT_TO_POINTER (i + 1));
        }
    }
}

/**
 * pk_config_load_data:
 * @self: a [class@Config]
 * @data: the file's contents
 * @length: the length of @data, or -1 if it is nul-terminated
 * @origin: (nullable): the name used in messages, such as a path
 * @error: return location for a `GError`
 *
 * Loads a configuration from memory, replacing what was loaded before.
 *
 * Returns: %TRUE, or %FALSE with @error set (%PK_ERROR_CONFIG)
 *
 * Since: 0.1
 */
gboolean
pk_config_load_data (PkConfig    *self,
                     const char  *data,
                     gssize       length,
                     const char  *origin,
                     GError     **error)
{
  g_autoptr(GKeyFile) keyfile = g_key_file_new ();
  g_autoptr(GError) local_error = NULL;
  g_autofree char *stripped = NULL;

  g_return_val_if_fail (PK_IS_CONFIG (self), FALSE);
  g_return_val_if_fail (data != NULL, FALSE);

  if (length < 0)
    length = strlen (data);

  stripped = strip_comments (data, length);
  if (!g_key_file_load_from_data (keyfile, stripped, -1, G_KEY_FILE_NONE, &local_error))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_CONFIG, "%s: %s",
                   origin ? origin : "configuration", local_error->message);
      return FALSE;
    }

  g_key_file_unref (self->keyfile);
  self->keyfile = g_steal_pointer (&keyfile);
  g_free (self->origin);
  self->origin = g_strdup (origin);
  index_lines (self, data, length);

  return TRUE;
}

/**
 * pk_config_load_file:
 * @self: a [class@Config]
 * @path: a file name
 * @error: return location for a `GError`
 *
 * Loads a configuration file, replacing what was loaded before.
 *
 * Returns: %TRUE, or %FALSE with @error set (%PK_ERROR_CONFIG)
 *
 * Since: 0.1
 */
gboolean
pk_config_load_file (PkConfig    *self,
                     const char  *path,
                     GError     **error)
{
  g_autofree char *contents = NULL;
  gsize length;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (PK_IS_CONFIG (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  if (!g_file_get_contents (path, &contents, &length, &local_error))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_CONFIG, "%s", local_error->message);
      return FALSE;
    }

  return pk_config_load_data (self, contents, length, path, error);
}

static char *
unquote_env_value (const char *value)
{
  gsize len = strlen (value);

  if (len >= 2 && ((value[0] == '"' && value[len - 1] == '"') ||
                   (value[0] == '\'' && value[len - 1] == '\'')))
    return g_strndup (value + 1, len - 2);
  return g_strdup (value);
}

/**
 * pk_config_load_env_file:
 * @self: a [class@Config]
 * @path: a file of `NAME=value` lines, as systemd's `EnvironmentFile=`
 * @error: return location for a `GError`
 *
 * Reads environment variables from a file. They stand for the
 * environment in later lookups and win over the process environment.
 * Lines may start with `export`, values may be quoted, `#` starts a
 * comment line, and a `#` after a space or tab outside quotes starts a
 * comment after a value (`RELAY_1=50025;25;host;TCP  # smtp`).
 *
 * Returns: %TRUE, or %FALSE with @error set naming the bad line
 *
 * Since: 0.1
 */
gboolean
pk_config_load_env_file (PkConfig    *self,
                         const char  *path,
                         GError     **error)
{
  g_autofree char *contents = NULL;
  g_autoptr(GError) local_error = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GHashTable) vars = NULL;

  g_return_val_if_fail (PK_IS_CONFIG (self), FALSE);

  if (!g_file_get_contents (path, &contents, NULL, &local_error))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_CONFIG, "%s", local_error->message);
      return FALSE;
    }

  vars = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *line = g_strstrip (lines[i]);
      char *eq;
      const char *name;

      if (*line == '\0' || *line == '#')
        continue;
      if (g_str_has_prefix (line, "export ") || g_str_has_prefix (line, "export\t"))
        line = g_strchug (line + 7);

      eq = strchr (line, '=');
      if (eq == NULL)
        {
          g_set_error (error, PK_ERROR, PK_ERROR_CONFIG,
                       "%s:%u: expected NAME=value, got '%s'", path, i + 1, line);
          return FALSE;
        }
      *eq = '\0';
      name = g_strchomp (line);
      if (*name == '\0' || (!g_ascii_isalpha (*name) && *name != '_'))
        {
          g_set_error (error, PK_ERROR, PK_ERROR_CONFIG,
                       "%s:%u: '%s' is not a variable name", path, i + 1, name);
          return FALSE;
        }
      strip_trailing_comment (eq + 1);
      g_hash_table_replace (vars, g_strdup (name), unquote_env_value (g_strchug (eq + 1)));
    }

  g_hash_table_unref (self->env_file);
  self->env_file = g_steal_pointer (&vars);
  return TRUE;
}

/**
 * pk_config_set_environ:
 * @self: a [class@Config]
 * @envp: (nullable) (array zero-terminated=1): `NAME=value` strings, or
 *   %NULL for the process environment
 *
 * Sets the environment that lookups consult, for tests and embedders
 * that must not depend on the process environment.
 *
 * Since: 0.1
 */
void
pk_config_set_environ (PkConfig           *self,
                       const char * const *envp)
{
  g_return_if_fail (PK_IS_CONFIG (self));

  g_clear_pointer (&self->environ, g_hash_table_unref);
  if (envp == NULL)
    return;

  self->environ = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (guint i = 0; envp[i] != NULL; i++)
    {
      const char *eq = strchr (envp[i], '=');

      if (eq != NULL)
        g_hash_table_replace (self->environ, g_strndup (envp[i], eq - envp[i]), g_strdup (eq + 1));
    }
}

/**
 * pk_config_getenv:
 * @self: a [class@Config]
 * @name: a variable name
 *
 * Looks up an environment variable: the env file first, then the
 * environment set with [method@Config.set_environ] or the process's.
 *
 * Returns: (nullable): the value, or %NULL when unset or empty
 *
 * Since: 0.1
 */
const char *
pk_config_getenv (PkConfig   *self,
                  const char *name)
{
  const char *value;

  g_return_val_if_fail (PK_IS_CONFIG (self), NULL);

  if (name == NULL)
    return NULL;

  value = g_hash_table_lookup (self->env_file, name);
  if (value == NULL)
    value = self->environ ? g_hash_table_lookup (self->environ, name) : g_getenv (name);

  return (value != NULL && *value != '\0') ? value : NULL;
}

/**
 * pk_config_get_origin:
 * @self: a [class@Config]
 *
 * Gets the path or name the configuration was loaded from.
 *
 * Returns: (nullable): the path or name the configuration was loaded from
 *
 * Since: 0.1
 */
const char *
pk_config_get_origin (PkConfig *self)
{
  g_return_val_if_fail (PK_IS_CONFIG (self), NULL);

  return self->origin;
}

/**
 * pk_config_list_sections:
 * @self: a [class@Config]
 * @kind: (nullable): a section kind such as `socks`, or %NULL for all
 *
 * Lists sections. With @kind, it lists the names of the sections
 * `[KIND:NAME]` (and `[KIND]` as the empty name), in file order.
 *
 * Returns: (transfer full) (array zero-terminated=1): the names
 *
 * Since: 0.1
 */
char **
pk_config_list_sections (PkConfig   *self,
                         const char *kind)
{
  g_auto(GStrv) groups = NULL;
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  gsize kind_len;

  g_return_val_if_fail (PK_IS_CONFIG (self), NULL);

  groups = g_key_file_get_groups (self->keyfile, NULL);
  if (kind == NULL)
    return g_steal_pointer (&groups);

  kind_len = strlen (kind);
  for (guint i = 0; groups[i] != NULL; i++)
    {
      if (strncmp (groups[i], kind, kind_len) != 0)
        continue;
      if (groups[i][kind_len] == ':')
        g_strv_builder_add (builder, groups[i] + kind_len + 1);
      else if (groups[i][kind_len] == '\0')
        g_strv_builder_add (builder, "");
    }

  return g_strv_builder_end (builder);
}

/**
 * pk_config_has_section:
 * @self: a [class@Config]
 * @section: a section name such as `socks:11`
 *
 * Tells whether the section exists.
 *
 * Returns: whether the section exists
 *
 * Since: 0.1
 */
gboolean
pk_config_has_section (PkConfig   *self,
                       const char *section)
{
  g_return_val_if_fail (PK_IS_CONFIG (self), FALSE);

  return section != NULL && g_key_file_has_group (self->keyfile, section);
}

/**
 * pk_config_has_key:
 * @self: a [class@Config]
 * @section: a section name
 * @key: a key name
 *
 * Tells whether @section sets @key.
 *
 * Returns: whether @section sets @key
 *
 * Since: 0.1
 */
gboolean
pk_config_has_key (PkConfig   *self,
                   const char *section,
                   const char *key)
{
  g_return_val_if_fail (PK_IS_CONFIG (self), FALSE);

  return section != NULL && g_key_file_has_key (self->keyfile, section, key, NULL);
}

/**
 * pk_config_describe:
 * @self: a [class@Config]
 * @section: a section name
 * @key: (nullable): a key name
 *
 * Describes where a key (or section) stands, for error messages:
 * `/etc/proxykit/proxykit.conf:12: [socks:11] connect-timeout`.
 *
 * Returns: (transfer full): the description
 *
 * Since: 0.1
 */
char *
pk_config_describe (PkConfig   *self,
                    const char *section,
                    const char *key)
{
  g_autofree char *lk = NULL;
  guint line;

  g_return_val_if_fail (PK_IS_CONFIG (self), NULL);

  lk = line_key (section, key);
  line = GPOINTER_TO_UINT (g_hash_table_lookup (self->lines, lk));

  return g_strdup_printf ("%s:%u: [%s]%s%s",
                          self->origin ? self->origin : "configuration", line,
                          section, key ? " " : "", key ? key : "");
}

/**
 * pk_config_check_keys:
 * @self: a [class@Config]
 * @section: a section name
 * @known_keys: (array zero-terminated=1): the keys the section may have
 * @error: return location for a `GError`
 *
 * Refuses a section with a key that is not in @known_keys, so that a
 * typo in a key name is an error rather than a silent default.
 *
 * Returns: %TRUE, or %FALSE with @error set naming the line
 *
 * Since: 0.1
 */
gboolean
pk_config_check_keys (PkConfig           *self,
                      const char         *section,
                      const char * const *known_keys,
                      GError            **error)
{
  g_auto(GStrv) keys = NULL;

  g_return_val_if_fail (PK_IS_CONFIG (self), FALSE);

  keys = g_key_file_get_keys (self->keyfile, section, NULL, NULL);
  if (keys == NULL)
    return TRUE;

  for (guint i = 0; keys[i] != NULL; i++)
    {
      if (!g_strv_contains (known_keys, keys[i]))
        {
          g_autofree char *where = pk_config_describe (self, section, keys[i]);
          g_autofree char *known = g_strjoinv (", ", (char **) known_keys);

          g_set_error (error, PK_ERROR, PK_ERROR_CONFIG,
                       "%s: unknown key (known keys: %s)", where, known);
          return FALSE;
        }
    }

  return TRUE;
}

static char *lookup (PkConfig    *self,
                     const char  *section,
                     const char  *key,
                     const char  *env_name,
                     char       **where);

/**
 * pk_config_set_override:
 * @self: a [class@Config]
 * @section: (nullable): the section it applies to, %NULL for every section
 * @key: a key name
 * @value: (nullable): the value, %NULL to remove the override
 * @origin: (nullable): where it came from, for messages, such as
 *   `--connect-timeout` (the default is `override of KEY`)
 *
 * Sets a value that wins over the environment and the file: what a
 * command-line flag does. Lookups of @key in @section (or in any section,
 * when @section is %NULL; a section's own override wins over that) then
 * give @value, and errors about it name @origin.
 *
 * Since: 0.2
 */
void
pk_config_set_override (PkConfig   *self,
                        const char *section,
                        const char *key,
                        const char *value,
                        const char *origin)
{
  g_autofree char *k = NULL;
  Override *o;

  g_return_if_fail (PK_IS_CONFIG (self));
  g_return_if_fail (key != NULL);

  k = line_key (section ? section : "", key);
  if (value == NULL)
    {
      g_hash_table_remove (self->overrides, k);
      return;
    }
  o = g_new0 (Override, 1);
  o->value = g_strdup (value);
  o->origin = origin ? g_strdup (origin) : g_strdup_printf ("override of %s", key);
  g_hash_table_replace (self->overrides, g_steal_pointer (&k), o);
}

static Override *
find_override (PkConfig   *self,
               const char *section,
               const char *key)
{
  g_autofree char *own = NULL;
  g_autofree char *any = NULL;
  Override *o;

  if (key == NULL || g_hash_table_size (self->overrides) == 0)
    return NULL;
  if (section != NULL)
    {
      own = line_key (section, key);
      if ((o = g_hash_table_lookup (self->overrides, own)) != NULL)
        return o;
    }
  any = line_key ("", key);
  return g_hash_table_lookup (self->overrides, any);
}

/**
 * pk_config_has_value:
 * @self: a [class@Config]
 * @section: (nullable): a section name
 * @key: (nullable): a key name
 * @env_name: (nullable): an environment variable that stands for the key
 *
 * Whether a lookup of @key would find a value (an override, @env_name in
 * the environment, or the key in @section) rather than fall back to its
 * default.
 *
 * Returns: %TRUE if some value is set
 *
 * Since: 0.2
 */
gboolean
pk_config_has_value (PkConfig   *self,
                     const char *section,
                     const char *key,
                     const char *env_name)
{
  g_return_val_if_fail (PK_IS_CONFIG (self), FALSE);

  return find_override (self, section, key) != NULL || pk_config_getenv (self, env_name) != NULL ||
         (section != NULL && key != NULL && g_key_file_has_key (self->keyfile, section, key, NULL));
}

/**
 * pk_config_describe_value:
 * @self: a [class@Config]
 * @section: (nullable): a section name
 * @key: (nullable): a key name
 * @env_name: (nullable): an environment variable that stands for the key
 *
 * Says where the value of @key comes from, for messages: `--listen`,
 * `environment variable SOCKS_LISTEN` or
 * `/etc/proxykit/proxykit.conf:3: [socks:11] listen`.
 *
 * Returns: (transfer full) (nullable): the description, %NULL when
 *   nothing sets it
 *
 * Since: 0.2
 */
char *
pk_config_describe_value (PkConfig   *self,
                          const char *section,
                          const char *key,
                          const char *env_name)
{
  g_autofree char *where = NULL;
  g_autofree char *value = NULL;

  g_return_val_if_fail (PK_IS_CONFIG (self), NULL);

  value = lookup (self, section, key, env_name, &where);
  return g_steal_pointer (&where);
}

/* The raw value and where it came from: an override, the environment,
 * then the file. */
static char *
lookup (PkConfig    *self,
        const char  *section,
        const char  *key,
        const char  *env_name,
        char       **where)
{
  const char *env = pk_config_getenv (self, env_name);
  Override *o = find_override (self, section, key);

  if (o != NULL)
    {
      *where = g_strdup (o->origin);
      return g_strdup (o->value);
    }

  if (env != NULL)
    {
      *where = g_strdup_printf ("environment variable %s", env_name);
      return g_strdup (env);
    }

  if (section != NULL && key != NULL && g_key_file_has_key (self->keyfile, section, key, NULL))
    {
      char *value = g_key_file_get_string (self->keyfile, section, key, NULL);

      if (value != NULL)
        {
          *where = pk_config_describe (self, section, key);
          return value;
        }
    }

  *where = NULL;
  return NULL;
}

static gboolean
prefix_where (GError     **error,
              GError      *local_error,
              const char  *where)
{
  g_set_error (error, PK_ERROR, PK_ERROR_CONFIG, "%s: %s", where, local_error->message);
  g_error_free (local_error);
  return FALSE;
}

/**
 * pk_config_dup_string:
 * @self: a [class@Config]
 * @section: (nullable): a section name
 * @key: (nullable): a key name
 * @env_name: (nullable): an environment variable that overrides the key
 * @default_value: (nullable): the value when neither is set
 *
 * Reads a string from @section.
 *
 * Returns: (transfer full) (nullable): the value
 *
 * Since: 0.1
 */
char *
pk_config_dup_string (PkConfig   *self,
                      const char *section,
                      const char *key,
                      const char *env_name,
                      const char *default_value)
{
  g_autofree char *where = NULL;
  char *value;

  g_return_val_if_fail (PK_IS_CONFIG (self), NULL);

  value = lookup (self, section, key, env_name, &where);
  return value ? value : g_strdup (default_value);
}

/**
 * pk_config_get_uint:
 * @self: a [class@Config]
 * @section: (nullable): a section name
 * @key: (nullable): a key name
 * @env_name: (nullable): an environment variable that overrides the key
 * @min: the smallest value allowed
 * @max: the largest value allowed
 * @default_value: the value when neither is set
 * @out_value: (out): the value
 * @error: return location for a `GError`
 *
 * Reads an unsigned integer from @section, leaving @value untouched when the
 * key is not set.
 *
 * Returns: %TRUE, or %FALSE with @error set naming where the bad value is
 *
 * Since: 0.1
 */
gboolean
pk_config_get_uint (PkConfig    *self,
                    const char  *section,
                    const char  *key,
                    const char  *env_name,
                    guint64      min,
                    guint64      max,
                    guint64      default_value,
                    guint64     *out_value,
                    GError     **error)
{
  g_autofree char *where = NULL;
  g_autofree char *value = NULL;
  GError *local_error = NULL;

  g_return_val_if_fail (PK_IS_CONFIG (self), FALSE);

  value = lookup (self, section, key, env_name, &where);
  if (value == NULL)
    {
      *out_value = default_value;
      return TRUE;
    }

  if (!pk_parse_uint (value, min, max, out_value, &local_error))
    return prefix_where (error, local_error, where);

  return TRUE;
}

/* A duration within @min_ms..@max_ms (@max_ms 0: no limit); the error
 * names where the value came from and says "too short" or "too long". */
static gboolean
get_duration_bounded (PkConfig    *self,
                      const char  *section,
                      const char  *key,
                      const char  *env_name,
                      guint64      min_ms,
                      guint64      max_ms,
                      guint64      default_ms,
                      guint64     *out_ms,
                      GError     **error)
{
  g_autofree char *where = NULL;
  g_autofree char *value = NULL;
  GError *local_error = NULL;

  g_return_val_if_fail (PK_IS_CONFIG (self), FALSE);

  value = lookup (self, section, key, env_name, &where);
  if (value == NULL)
    {
      *out_ms = default_ms;
      return TRUE;
    }
  if (!pk_parse_duration_ms (value, out_ms, &local_error))
    return prefix_where (error, local_error, where);
  if ((max_ms != 0 && *out_ms > max_ms) || *out_ms < min_ms)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_CONFIG,
                   "%s: '%s' is %s (from %" G_GUINT64_FORMAT " ms to %" G_GUINT64_FORMAT " ms)",
                   where, value, *out_ms < min_ms ? "too short" : "too long", min_ms, max_ms);
      return FALSE;
    }
  return TRUE;
}

/**
 * pk_config_get_duration_ms:
 * @self: a [class@Config]
 * @section: (nullable): a section name
 * @key: (nullable): a key name
 * @env_name: (nullable): an environment variable that overrides the key
 * @default_ms: the value when neither is set, in milliseconds
 * @out_ms: (out): the value in milliseconds
 * @error: return location for a `GError`
 *
 * Reads a duration: a number of seconds (`30`), or a number with a unit
 * (`500ms`, `30s`, `2m`, `1h`).
 *
 * Returns: %TRUE, or %FALSE with @error set naming where the bad value is
 *
 * Since: 0.1
 */
gboolean
pk_config_get_duration_ms (PkConfig    *self,
                           const char  *section,
                           const char  *key,
                           const char  *env_name,
                           guint64      default_ms,
                           guint64     *out_ms,
                           GError     **error)
{
  return get_duration_bounded (self, section, key, env_name, 0, 0, default_ms, out_ms, error);
}

/**
 * pk_config_get_boolean:
 * @self: a [class@Config]
 * @section: (nullable): a section name
 * @key: (nullable): a key name
 * @env_name: (nullable): an environment variable that overrides the key
 * @default_value: the value when neither is set
 * @out_value: (out): the value
 * @error: return location for a `GError`
 *
 * Reads a boolean: `true`/`false`, `yes`/`no`, `on`/`off` or `1`/`0`.
 *
 * Returns: %TRUE, or %FALSE with @error set naming where the bad value is
 *
 * Since: 0.1
 */
gboolean
pk_config_get_boolean (PkConfig    *self,
                       const char  *section,
                       const char  *key,
                       const char  *env_name,
                       gboolean     default_value,
                       gboolean    *out_value,
                       GError     **error)
{
  static const char * const yes[] = { "true", "yes", "on", "1", NULL };
  static const char * const no[] = { "false", "no", "off", "0", NULL };
  g_autofree char *where = NULL;
  g_autofree char *value = NULL;
  g_autofree char *lower = NULL;

  g_return_val_if_fail (PK_IS_CONFIG (self), FALSE);

  value = lookup (self, section, key, env_name, &where);
  if (value == NULL)
    {
      *out_value = default_value;
      return TRUE;
    }

  lower = g_ascii_strdown (g_strstrip (value), -1);
  if (g_strv_contains (yes, lower))
    *out_value = TRUE;
  else if (g_strv_contains (no, lower))
    *out_value = FALSE;
  else
    {
      g_set_error (error, PK_ERROR, PK_ERROR_CONFIG,
                   "%s: '%s' is not a boolean (true/false, yes/no, on/off, 1/0)", where, value);
      return FALSE;
    }

  return TRUE;
}

gboolean
pk_config_get_duration_uint (PkConfig    *self,
                             const char  *section,
                             const char  *key,
                             const char  *env_name,
                             guint        min_ms,
                             guint        default_ms,
                             guint       *out_ms,
                             GError     **error)
{
  guint64 ms;

  if (!get_duration_bounded (self, section, key, env_name, min_ms, G_MAXUINT, default_ms, &ms, error))
    return FALSE;
  *out_ms = (guint) ms;
  return TRUE;
}

char **
pk_config_dup_list (PkConfig   *self,
                    const char *section,
                    const char *key,
                    const char *env_name)
{
  g_autofree char *where = NULL;
  g_autofree char *value = NULL;
  g_auto(GStrv) parts = NULL;
  g_autoptr(GStrvBuilder) builder = NULL;

  g_return_val_if_fail (PK_IS_CONFIG (self), NULL);

  value = lookup (self, section, key, env_name, &where);
  if (value == NULL)
    return NULL;
  builder = g_strv_builder_new ();
  parts = g_strsplit_set (value, ",; ", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    if (*parts[i] != '\0')
      g_strv_builder_add (builder, parts[i]);
  return g_strv_builder_end (builder);
}

/**
 * pk_config_set_override_list:
 * @self: a [class@Config]
 * @section: (nullable): the section it applies to, %NULL for every section
 * @key: a key name
 * @values: (nullable) (array zero-terminated=1): the items (a repeated
 *   flag), %NULL or empty to remove the override
 * @origin: (nullable): where it came from, such as `--allow`
 *
 * `pk_config_set_override()` for a list key: the items joined with commas.
 *
 * Since: 0.2
 */
void
pk_config_set_override_list (PkConfig           *self,
                             const char         *section,
                             const char         *key,
                             const char * const *values,
                             const char         *origin)
{
  g_autofree char *joined = values != NULL && values[0] != NULL ? g_strjoinv (",", (char **) values) : NULL;

  pk_config_set_override (self, section, key, joined, origin);
}

gboolean
pk_config_value_error (PkConfig    *self,
                       const char  *section,
                       const char  *key,
                       const char  *env_name,
                       GError      *local_error,
                       GError     **error)
{
  g_autofree char *where = pk_config_describe_value (self, section, key, env_name);

  g_set_error (error, PK_ERROR, PK_ERROR_CONFIG, "%s: %s", where ? where : key, local_error->message);
  g_error_free (local_error);
  return FALSE;
}
