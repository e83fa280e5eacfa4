/* pk-access-list.c: a list of addresses and CIDRs kept up to date from a URL
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkAccessList:
 *
 * A list of IP addresses and CIDRs that an HTTP or HTTPS URL serves, such
 * as a farm's client allowlist shared by every server, or a blocklist
 * refreshed daily. [class@SocksServer] uses one as its client allowlist
 * or destination denylist (`allow-url`, `deny-url`).
 *
 * The list is one entry per line: an address (`192.0.2.7`, `2001:db8::1`)
 * or a CIDR (`10.0.0.0/8`). `#` starts a comment, blank lines are
 * skipped, and so is white space around an entry. A line that is anything
 * else rejects the whole copy, with an error that names the line's number
 * and text: half a list is never applied.
 *
 * Once started ([method@AccessList.start]), the list is fetched at once
 * and then every [property@AccessList:refresh], through
 * [property@AccessList:egress] (by default the host's default route, never
 * through an `http_proxy` of the environment). A fetch that fails, or a
 * copy that does not parse, keeps the list that was loaded before,
 * counts in [property@AccessList:fetch-failures], sets
 * [property@AccessList:last-error] and is logged (at most once per ten
 * minutes while it goes on, naming the URL); the next try comes sooner
 * than the refresh (5 s, then twice as long each time, up to the
 * refresh). Fetches are conditional: the `ETag` and `Last-Modified` of
 * the last good copy go out as `If-None-Match` and `If-Modified-Since`,
 * and a `304 Not Modified` counts as a success.
 *
 * Every good copy is written to [property@AccessList:cache-path] (if
 * set) atomically (a temporary file, fsync, rename), with the URL and
 * the validators in comment lines at the top. Starting loads that copy
 * first (if it is of the same URL), so that a host that cannot reach the
 * URL at boot still has the last list it saw.
 *
 * [signal@AccessList::changed] tells when the entries change; until the
 * first copy is loaded (fetched or cached), [property@AccessList:loaded]
 * is %FALSE, and a SOCKS server that uses it as its client allowlist
 * lets no client in through it.
 *
 * ```c
 * g_autoptr(PkAccessList) list = pk_access_list_new ("https://lists.example/allow.txt");
 *
 * pk_access_list_set_cache_path (list, "/var/lib/proxykit/access-lists/allow.list");
 * pk_access_list_set_refresh (list, 15 * 60 * 1000);
 * g_signal_connect (list, "changed", G_CALLBACK (on_changed), NULL);
 * pk_access_list_start (list);
 * ```
 *
 * A password in the URL (`https://user:password@host/list`) is left out
 * of log lines and errors, and the cache of such a list is readable by
 * its owner only.
 *
 * Without libsoup in the build, every fetch fails with
 * %PK_ERROR_NOT_SUPPORTED; a cached copy and
 * [method@AccessList.load_data] still work.
 *
 * Since: 0.2
 */

#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

#include "pk-access-list-private.h"
#include "pk-error.h"
#include "pk-util-private.h"

#ifdef HAVE_LIBSOUP
#include <libsoup/soup.h>

#include "pk-egress-soup-private.h"
#endif

#define RETRY_MIN_MS 5000
#define FETCH_TIMEOUT_S 30
#define MAX_BODY_BYTES (64 * 1024 * 1024)
#define LOG_INTERVAL_US (10 * G_USEC_PER_SEC * 60)
#define MIN_REFRESH_MS 100

#define CACHE_MAGIC "# proxykit access list cache"
#define CACHE_URL "# url: "
#define CACHE_ETAG "# etag: "
#define CACHE_LAST_MODIFIED "# last-modified: "

struct _PkAccessList
{
  GObject parent_instance;

  char *url;
  char *shown_url;             /* in logs and errors: without a password */
  gboolean secret_url;         /* with user info: the cache is 0600 */
  guint refresh_ms;
  PkEgress *egress;
  char *cache_path;

  /* Only the thread that loads copies changes these; the lock keeps
   * readers in other threads (the SOCKS server's policy, metrics) off a
   * copy being replaced. */
  GMutex lock;
  GPtrArray *masks;            /* GInetAddressMask; NULL until loaded */
  char **entries;              /* the same as text, to tell a change */
  char *etag;                  /* validators of the copy loaded */
  char *last_modified;

  char *last_error;
  gint64 last_success;         /* real time, seconds; 0: never */
  guint64 fetch_failures;
  PkLogLimit log_limit;
  gboolean failing;

  /* started: in the thread-default context of the caller of start() */
  gboolean started;
  gboolean fetching;
  guint retry_ms;
  GSource *timer;
  GCancellable *cancellable;
  gpointer session;            /* SoupSession, made on first use */
};

G_DEFINE_FINAL_TYPE (PkAccessList, pk_access_list, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_URL,
  PROP_REFRESH,
  PROP_EGRESS,
  PROP_CACHE_PATH,
  PROP_LOADED,
  PROP_N_ENTRIES,
  PROP_LAST_ERROR,
  PROP_LAST_SUCCESS,
  PROP_FETCH_FAILURES,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
pk_access_list_dispose (GObject *object)
{
  PkAccessList *self = PK_ACCESS_LIST (object);

  pk_access_list_stop (self);
  g_clear_object (&self->session);

  G_OBJECT_CLASS (pk_access_list_parent_class)->dispose (object);
}

static void
pk_access_list_finalize (GObject *object)
{
  PkAccessList *self = PK_ACCESS_LIST (object);

  g_free (self->url);
  g_free (self->shown_url);
  g_clear_object (&self->egress);
  g_free (self->cache_path);
  g_clear_pointer (&self->masks, g_ptr_array_unref);
  g_strfreev (self->entries);
  g_free (self->etag);
  g_free (self->last_modified);
  g_free (self->last_error);
  g_clear_object (&self->cancellable);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (pk_access_list_parent_class)->finalize (object);
}

static void
pk_access_list_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  PkAccessList *self = PK_ACCESS_LIST (object);

  switch (prop_id)
    {
    case PROP_URL:
      g_value_set_string (value, self->url);
      break;
    case PROP_REFRESH:
      g_value_set_uint (value, self->refresh_ms);
      break;
    case PROP_EGRESS:
      g_value_set_object (value, self->egress);
      break;
    case PROP_CACHE_PATH:
      g_value_set_string (value, self->cache_path);
      break;
    case PROP_LOADED:
      g_value_set_boolean (value, pk_access_list_get_loaded (self));
      break;
    case PROP_N_ENTRIES:
      g_value_set_uint (value, pk_access_list_get_n_entries (self));
      break;
    case PROP_LAST_ERROR:
      g_value_set_string (value, self->last_error);
      break;
    case PROP_LAST_SUCCESS:
      g_value_set_int64 (value, self->last_success);
      break;
    case PROP_FETCH_FAILURES:
      g_value_set_uint64 (value, self->fetch_failures);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_access_list_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  PkAccessList *self = PK_ACCESS_LIST (object);

  switch (prop_id)
    {
    case PROP_URL:
      {
        g_autoptr(GUri) uri = NULL;

        self->url = g_value_dup_string (value);
        uri = self->url != NULL ? g_uri_parse (self->url, G_URI_FLAGS_HAS_PASSWORD, NULL) : NULL;
        self->secret_url = uri != NULL && g_uri_get_userinfo (uri) != NULL;
        self->shown_url = uri != NULL ? g_uri_to_string_partial (uri, G_URI_HIDE_PASSWORD | G_URI_HIDE_AUTH_PARAMS)
                                      : g_strdup (self->url);
      }
      break;
    case PROP_REFRESH:
      pk_access_list_set_refresh (self, g_value_get_uint (value));
      break;
    case PROP_EGRESS:
      pk_access_list_set_egress (self, g_value_get_object (value));
      break;
    case PROP_CACHE_PATH:
      pk_access_list_set_cache_path (self, g_value_get_string (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_access_list_class_init (PkAccessListClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pk_access_list_dispose;
  object_class->finalize = pk_access_list_finalize;
  object_class->get_property = pk_access_list_get_property;
  object_class->set_property = pk_access_list_set_property;

  /**
   * PkAccessList:url:
   *
   * The `http` or `https` URL the list is fetched from.
   *
   * Since: 0.2
   */
  properties[PROP_URL] =
    g_param_spec_string ("url", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * PkAccessList:refresh:
   *
   * Milliseconds between fetches once started (at least 100), by default
   * %PK_ACCESS_LIST_REFRESH_DEFAULT (one hour). A change applies from the
   * next fetch on.
   *
   * Since: 0.2
   */
  properties[PROP_REFRESH] =
    g_param_spec_uint ("refresh", NULL, NULL, MIN_REFRESH_MS, G_MAXUINT, PK_ACCESS_LIST_REFRESH_DEFAULT,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * PkAccessList:egress:
   *
   * The egress fetches leave through, or %NULL for the default route.
   *
   * Since: 0.2
   */
  properties[PROP_EGRESS] =
    g_param_spec_object ("egress", NULL, NULL, PK_TYPE_EGRESS,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * PkAccessList:cache-path:
   *
   * The file that keeps the last good copy, or %NULL for none.
   *
   * Since: 0.2
   */
  properties[PROP_CACHE_PATH] =
    g_param_spec_string ("cache-path", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * PkAccessList:loaded:
   *
   * Whether a copy (fetched, cached or given) is loaded.
   *
   * Since: 0.2
   */
  properties[PROP_LOADED] =
    g_param_spec_boolean ("loaded", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * PkAccessList:n-entries:
   *
   * How many addresses and CIDRs the loaded copy holds (0 while none is).
   *
   * Since: 0.2
   */
  properties[PROP_N_ENTRIES] =
    g_param_spec_uint ("n-entries", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * PkAccessList:last-error:
   *
   * Why the last fetch failed or its copy was rejected (the URL, and the
   * line for a malformed one), or %NULL when the last fetch succeeded.
   *
   * Since: 0.2
   */
  properties[PROP_LAST_ERROR] =
    g_param_spec_string ("last-error", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * PkAccessList:last-success:
   *
   * When a fetch last succeeded (a new copy or `304 Not Modified`), in
   * seconds since the Unix epoch; 0 if none has.
   *
   * Since: 0.2
   */
  properties[PROP_LAST_SUCCESS] =
    g_param_spec_int64 ("last-success", NULL, NULL, 0, G_MAXINT64, 0,
                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * PkAccessList:fetch-failures:
   *
   * How many fetches failed or brought a copy that was rejected.
   *
   * Since: 0.2
   */
  properties[PROP_FETCH_FAILURES] =
    g_param_spec_uint64 ("fetch-failures", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * PkAccessList::changed:
   * @self: the list
   *
   * The entries changed: a copy was loaded for the first time, or one
   * with other entries replaced it. Emitted in the thread-default main
   * context of the caller of [method@AccessList.start] (or of the call
   * that loaded the copy).
   *
   * Since: 0.2
   */
  signals[SIGNAL_CHANGED] =
    g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
pk_access_list_init (PkAccessList *self)
{
  g_mutex_init (&self->lock);
  self->refresh_ms = PK_ACCESS_LIST_REFRESH_DEFAULT;
  self->cancellable = g_cancellable_new ();
}

/**
 * pk_access_list_new:
 * @url: the `http` or `https` URL of the list
 *
 * Creates a list, empty and not loaded until a copy is fetched
 * ([method@AccessList.start], [method@AccessList.refresh_async]), read
 * from the cache ([method@AccessList.load_cache]) or given
 * ([method@AccessList.load_data]).
 *
 * Returns: (transfer full): a new [class@AccessList]
 *
 * Since: 0.2
 */
PkAccessList *
pk_access_list_new (const char *url)
{
  g_return_val_if_fail (url != NULL, NULL);

  return g_object_new (PK_TYPE_ACCESS_LIST, "url", url, NULL);
}

gboolean
pk_access_list_check_url (const char  *url,
                          GError     **error)
{
  g_autoptr(GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);

  if (uri == NULL || g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0' ||
      (g_strcmp0 (g_uri_get_scheme (uri), "http") != 0 && g_strcmp0 (g_uri_get_scheme (uri), "https") != 0))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                   "'%s' is not an http or https URL (example: https://lists.example/allow.txt)", url);
      return FALSE;
    }
  return TRUE;
}

/**
 * pk_access_list_get_url:
 * @self: a [class@AccessList]
 *
 * Gets [property@AccessList:url].
 *
 * Returns: the URL
 *
 * Since: 0.2
 */
const char *
pk_access_list_get_url (PkAccessList *self)
{
  g_return_val_if_fail (PK_IS_ACCESS_LIST (self), NULL);
  return self->url;
}

/**
 * pk_access_list_get_refresh:
 * @self: a [class@AccessList]
 *
 * Gets [property@AccessList:refresh].
 *
 * Returns: milliseconds between fetches
 *
 * Since: 0.2
 */
guint
pk_access_list_get_refresh (PkAccessList *self)
{
  g_return_val_if_fail (PK_IS_ACCESS_LIST (self), 0);
  return self->refresh_ms;
}

/**
 * pk_access_list_set_refresh:
 * @self: a [class@AccessList]
 * @refresh_ms: milliseconds between fetches (at least 100)
 *
 * Sets [property@AccessList:refresh].
 *
 * Since: 0.2
 */
void
pk_access_list_set_refresh (PkAccessList *self,
                            guint         refresh_ms)
{
  g_return_if_fail (PK_IS_ACCESS_LIST (self));

  refresh_ms = MAX (refresh_ms, MIN_REFRESH_MS);
  if (self->refresh_ms == refresh_ms)
    return;
  self->refresh_ms = refresh_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REFRESH]);
}

/**
 * pk_access_list_get_egress:
 * @self: a [class@AccessList]
 *
 * Gets [property@AccessList:egress].
 *
 * Returns: (transfer none) (nullable): the egress fetches leave through
 *
 * Since: 0.2
 */
PkEgress *
pk_access_list_get_egress (PkAccessList *self)
{
  g_return_val_if_fail (PK_IS_ACCESS_LIST (self), NULL);
  return self->egress;
}

/**
 * pk_access_list_set_egress:
 * @self: a [class@AccessList]
 * @egress: (nullable): the egress fetches leave through, %NULL for the
 *   default route
 *
 * Sets [property@AccessList:egress], from the next fetch on.
 *
 * Since: 0.2
 */
void
pk_access_list_set_egress (PkAccessList *self,
                           PkEgress     *egress)
{
  g_return_if_fail (PK_IS_ACCESS_LIST (self));
  g_return_if_fail (egress == NULL || PK_IS_EGRESS (egress));

  if (!g_set_object (&self->egress, egress))
    return;
  /* the session binds the egress's address when it is made */
  g_clear_object (&self->session);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_EGRESS]);
}

/**
 * pk_access_list_get_cache_path:
 * @self: a [class@AccessList]
 *
 * Gets [property@AccessList:cache-path].
 *
 * Returns: (nullable): the cache file
 *
 * Since: 0.2
 */
const char *
pk_access_list_get_cache_path (PkAccessList *self)
{
  g_return_val_if_fail (PK_IS_ACCESS_LIST (self), NULL);
  return self->cache_path;
}

/**
 * pk_access_list_set_cache_path:
 * @self: a [class@AccessList]
 * @path: (nullable): the file that keeps the last good copy; its
 *   directory is made when the first copy is written
 *
 * Sets [property@AccessList:cache-path].
 *
 * Since: 0.2
 */
void
pk_access_list_set_cache_path (PkAccessList *self,
                               const char   *path)
{
  g_return_if_fail (PK_IS_ACCESS_LIST (self));

  if (g_strcmp0 (self->cache_path, path) == 0)
    return;
  g_free (self->cache_path);
  self->cache_path = g_strdup (path);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CACHE_PATH]);
}

/**
 * pk_access_list_get_loaded:
 * @self: a [class@AccessList]
 *
 * Gets [property@AccessList:loaded].
 *
 * Returns: whether a copy is loaded
 *
 * Since: 0.2
 */
gboolean
pk_access_list_get_loaded (PkAccessList *self)
{
  gboolean loaded;

  g_return_val_if_fail (PK_IS_ACCESS_LIST (self), FALSE);

  g_mutex_lock (&self->lock);
  loaded = self->entries != NULL;
  g_mutex_unlock (&self->lock);
  return loaded;
}

/**
 * pk_access_list_get_n_entries:
 * @self: a [class@AccessList]
 *
 * Gets [property@AccessList:n-entries].
 *
 * Returns: the number of entries loaded
 *
 * Since: 0.2
 */
guint
pk_access_list_get_n_entries (PkAccessList *self)
{
  guint n;

  g_return_val_if_fail (PK_IS_ACCESS_LIST (self), 0);

  g_mutex_lock (&self->lock);
  n = self->entries != NULL ? g_strv_length (self->entries) : 0;
  g_mutex_unlock (&self->lock);
  return n;
}

/**
 * pk_access_list_dup_entries:
 * @self: a [class@AccessList]
 *
 * The entries loaded, as written in the list (comments and blank lines
 * left out).
 *
 * Returns: (transfer full) (array zero-terminated=1) (nullable): the
 *   entries, or %NULL while no copy is loaded
 *
 * Since: 0.2
 */
char **
pk_access_list_dup_entries (PkAccessList *self)
{
  char **entries;

  g_return_val_if_fail (PK_IS_ACCESS_LIST (self), NULL);

  g_mutex_lock (&self->lock);
  entries = g_strdupv (self->entries);
  g_mutex_unlock (&self->lock);
  return entries;
}

GPtrArray *
pk_access_list_ref_masks (PkAccessList *self)
{
  GPtrArray *masks;

  g_return_val_if_fail (PK_IS_ACCESS_LIST (self), NULL);

  g_mutex_lock (&self->lock);
  masks = self->masks != NULL ? g_ptr_array_ref (self->masks) : NULL;
  g_mutex_unlock (&self->lock);
  return masks;
}

/**
 * pk_access_list_matches:
 * @self: a [class@AccessList]
 * @address: an IP address
 *
 * Tells whether an entry of the loaded copy covers @address (an
 * IPv4-mapped IPv6 address counts as its IPv4 address).
 *
 * Returns: %TRUE if it does; %FALSE if not, if @address is not an IP
 *   address, or while no copy is loaded
 *
 * Since: 0.2
 */
gboolean
pk_access_list_matches (PkAccessList *self,
                        const char   *address)
{
  g_autoptr(GInetAddress) inet = NULL;
  g_autoptr(GPtrArray) masks = NULL;

  g_return_val_if_fail (PK_IS_ACCESS_LIST (self), FALSE);
  g_return_val_if_fail (address != NULL, FALSE);

  inet = g_inet_address_new_from_string (address);
  masks = pk_access_list_ref_masks (self);
  return inet != NULL && pk_cidr_list_matches (masks, inet);
}

/**
 * pk_access_list_dup_last_error:
 * @self: a [class@AccessList]
 *
 * Gets [property@AccessList:last-error].
 *
 * Returns: (transfer full) (nullable): why the last fetch failed, or
 *   %NULL if it succeeded
 *
 * Since: 0.2
 */
char *
pk_access_list_dup_last_error (PkAccessList *self)
{
  g_return_val_if_fail (PK_IS_ACCESS_LIST (self), NULL);
  return g_strdup (self->last_error);
}

/**
 * pk_access_list_get_last_success:
 * @self: a [class@AccessList]
 *
 * Gets [property@AccessList:last-success].
 *
 * Returns: when a fetch last succeeded, in seconds since the Unix epoch,
 *   or 0
 *
 * Since: 0.2
 */
gint64
pk_access_list_get_last_success (PkAccessList *self)
{
  g_return_val_if_fail (PK_IS_ACCESS_LIST (self), 0);
  return self->last_success;
}

/**
 * pk_access_list_get_fetch_failures:
 * @self: a [class@AccessList]
 *
 * Gets [property@AccessList:fetch-failures].
 *
 * Returns: how many fetches failed or were rejected
 *
 * Since: 0.2
 */
guint64
pk_access_list_get_fetch_failures (PkAccessList *self)
{
  g_return_val_if_fail (PK_IS_ACCESS_LIST (self), 0);
  return self->fetch_failures;
}

/* --- parsing and loading --- */

/* One entry per line, `#` comments; the first bad line fails it all. */
static gboolean
parse_list (const char  *text,
            gsize        length,
            GPtrArray  **masks_out,
            char      ***entries_out,
            GError     **error)
{
  g_autoptr(GPtrArray) masks = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GStrvBuilder) entries = g_strv_builder_new ();
  const char *p = text;
  const char *end = text + length;
  guint lineno = 0;

  if (memchr (text, '\0', length) != NULL)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_PROTOCOL, "a NUL byte: not a text list of addresses");
      return FALSE;
    }
  while (p < end)
    {
      const char *nl = memchr (p, '\n', end - p);
      g_autofree char *raw = g_strndup (p, (nl != NULL ? nl : end) - p);
      g_autoptr(GError) local_error = NULL;
      char *hash, *entry;

      p = nl != NULL ? nl + 1 : end;
      lineno++;
      entry = g_strdup (raw);
      hash = strchr (entry, '#');
      if (hash != NULL)
        *hash = '\0';
      g_strstrip (entry);
      if (*entry == '\0')
        {
          g_free (entry);
          continue;
        }
      if (strpbrk (entry, " \t") != NULL || !pk_cidr_list_add (masks, entry, &local_error))
        {
          g_autofree char *shown = NULL;

          g_strstrip (raw);
          shown = g_utf8_make_valid (raw, MIN (strlen (raw), 80));

          g_set_error (error, PK_ERROR, PK_ERROR_PROTOCOL,
                       "line %u '%s': not an address or CIDR (one per line, such as 10.0.0.0/8 "
                       "or 192.0.2.7; # starts a comment)", lineno, shown);
          g_free (entry);
          return FALSE;
        }
      g_strv_builder_add (entries, entry);
      g_free (entry);
    }
  *masks_out = g_steal_pointer (&masks);
  *entries_out = g_strv_builder_end (entries);
  return TRUE;
}

/* Publishes a parsed copy; "changed" (and TRUE) when its entries differ. */
static gboolean
publish (PkAccessList  *self,
         GPtrArray     *masks,
         char         **entries,
         const char    *etag,
         const char    *last_modified)
{
  gboolean was_loaded = self->entries != NULL;
  guint old_n = pk_access_list_get_n_entries (self);
  gboolean changed;
  GPtrArray *old_masks;
  char **old_entries;

  changed = !was_loaded || !g_strv_equal ((const char * const *) self->entries, (const char * const *) entries);

  g_mutex_lock (&self->lock);
  old_masks = self->masks;
  self->masks = masks;
  old_entries = self->entries;
  self->entries = entries;
  g_mutex_unlock (&self->lock);
  g_clear_pointer (&old_masks, g_ptr_array_unref);
  g_strfreev (old_entries);
  g_free (self->etag);
  self->etag = g_strdup (etag);
  g_free (self->last_modified);
  self->last_modified = g_strdup (last_modified);

  if (!was_loaded)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOADED]);
  if (old_n != pk_access_list_get_n_entries (self))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ENTRIES]);
  if (changed)
    g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
  return changed;
}

/**
 * pk_access_list_load_data:
 * @self: a [class@AccessList]
 * @text: a copy of the list: one address or CIDR per line, `#` comments
 * @error: return location for a `GError`
 *
 * Loads a copy given by the caller, as if it had been fetched (it is not
 * written to the cache). Emits [signal@AccessList::changed] if the
 * entries change.
 *
 * Returns: %TRUE, or %FALSE with @error set (%PK_ERROR_PROTOCOL naming
 *   the first bad line's number and text); the list is unchanged then
 *
 * Since: 0.2
 */
gboolean
pk_access_list_load_data (PkAccessList  *self,
                          const char    *text,
                          GError       **error)
{
  GPtrArray *masks;
  char **entries;

  g_return_val_if_fail (PK_IS_ACCESS_LIST (self), FALSE);
  g_return_val_if_fail (text != NULL, FALSE);

  if (!parse_list (text, strlen (text), &masks, &entries, error))
    return FALSE;
  publish (self, masks, entries, NULL, NULL);
  return TRUE;
}

/* The value of a header line "PREFIXvalue" of the cache, or NULL. */
static char *
cache_header (char       **lines,
              const char  *prefix)
{
  for (guint i = 0; lines[i] != NULL && g_str_has_prefix (lines[i], "# "); i++)
    if (g_str_has_prefix (lines[i], prefix))
      return g_strstrip (g_strdup (lines[i] + strlen (prefix)));
  return NULL;
}

/**
 * pk_access_list_load_cache:
 * @self: a [class@AccessList]
 * @error: return location for a `GError`
 *
 * Loads the copy kept in [property@AccessList:cache-path], if it is of
 * this list's URL. [method@AccessList.start] does this itself when
 * nothing is loaded yet.
 *
 * Returns: %TRUE, or %FALSE with @error set: %G_IO_ERROR_NOT_FOUND when
 *   there is no copy of this URL (no cache path, no file, or the copy of
 *   another URL), %PK_ERROR_STATE naming the file when it cannot be read
 *   or does not parse
 *
 * Since: 0.2
 */
gboolean
pk_access_list_load_cache (PkAccessList  *self,
                           GError       **error)
{
  g_autofree char *contents = NULL;
  g_autofree char *url = NULL;
  g_autofree char *etag = NULL;
  g_autofree char *last_modified = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GError) local_error = NULL;
  GPtrArray *masks;
  char **entries;
  gsize length;

  g_return_val_if_fail (PK_IS_ACCESS_LIST (self), FALSE);

  if (self->cache_path == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no cache path");
      return FALSE;
    }
  if (!g_file_get_contents (self->cache_path, &contents, &length, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "%s", local_error->message);
      else
        g_set_error (error, PK_ERROR, PK_ERROR_STATE, "%s", local_error->message);
      return FALSE;
    }
  lines = g_strsplit (contents, "\n", 8);
  url = cache_header (lines, CACHE_URL);
  if (!g_str_has_prefix (contents, CACHE_MAGIC) || g_strcmp0 (url, self->url) != 0)
    {
      /* after a change of URL: there is no copy of this one */
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "cache %s is not a copy of %s",
                   self->cache_path, self->shown_url);
      return FALSE;
    }
  if (!parse_list (contents, length, &masks, &entries, &local_error))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_STATE, "cache %s: %s", self->cache_path, local_error->message);
      return FALSE;
    }
  etag = cache_header (lines, CACHE_ETAG);
  last_modified = cache_header (lines, CACHE_LAST_MODIFIED);
  publish (self, masks, entries, etag, last_modified);
  return TRUE;
}

#ifdef HAVE_LIBSOUP

/* The header line of a validator: one line, or none at all. */
static void
append_header (GString    *out,
               const char *prefix,
               const char *value)
{
  if (value != NULL && strpbrk (value, "\r\n") == NULL)
    g_string_append_printf (out, "%s%s\n", prefix, value);
}

static void
save_cache (PkAccessList *self,
            const char   *body,
            gsize         length)
{
  g_autoptr(GString) out = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *stamp = g_date_time_format_iso8601 (now);
  g_autofree char *directory = NULL;

  if (self->cache_path == NULL)
    return;
  out = g_string_new (CACHE_MAGIC "\n");
  append_header (out, CACHE_URL, self->url);
  append_header (out, CACHE_ETAG, self->etag);
  append_header (out, CACHE_LAST_MODIFIED, self->last_modified);
  g_string_append_printf (out, "# fetched: %s\n", stamp);
  g_string_append_len (out, body, length);
  if (length > 0 && body[length - 1] != '\n')
    g_string_append_c (out, '\n');

  directory = g_path_get_dirname (self->cache_path);
  if (g_mkdir_with_parents (directory, 0755) < 0)
    {
      int saved = errno;
      g_warning ("access list %s: cannot make %s for its cache: %s", self->shown_url, directory, g_strerror (saved));
      return;
    }
  if (!g_file_set_contents_full (self->cache_path, out->str, out->len,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 self->secret_url ? 0600 : 0644, &error))
    g_warning ("access list %s: cannot write its cache: %s", self->shown_url, error->message);
}

#endif /* HAVE_LIBSOUP: what only a fetch writes */

/* --- fetching --- */

static void
set_last_error (PkAccessList *self,
                const char   *message)
{
  if (g_strcmp0 (self->last_error, message) == 0)
    return;
  g_free (self->last_error);
  self->last_error = g_strdup (message);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST_ERROR]);
}

/* "1 entry", "12 entries" */
static char *
describe_size (PkAccessList *self)
{
  guint n = pk_access_list_get_n_entries (self);

  return g_strdup_printf ("%u %s", n, n == 1 ? "entry" : "entries");
}

static void
fetch_failed (PkAccessList *self,
              const GError *error)
{
  g_autofree char *size = describe_size (self);
  guint64 count;

  self->fetch_failures++;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FETCH_FAILURES]);
  set_last_error (self, error->message);
  if (!self->failing)
    self->log_limit = (PkLogLimit) { 0 };
  self->failing = TRUE;
  if (!pk_log_limit_due (&self->log_limit, LOG_INTERVAL_US, &count))
    return;
  /* the message starts with the URL */
  if (self->entries != NULL)
    g_warning ("access list %s; keeping the copy loaded before (%s)%s", error->message,
               size, count > 1 ? " (and more failures since the last line)" : "");
  else
    g_warning ("access list %s; no copy loaded yet%s", error->message,
               count > 1 ? " (and more failures since the last line)" : "");
}

#ifdef HAVE_LIBSOUP
static void
fetch_succeeded (PkAccessList *self,
                 gboolean      changed)
{
  g_autofree char *size = describe_size (self);

  self->last_success = g_get_real_time () / G_USEC_PER_SEC;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST_SUCCESS]);
  set_last_error (self, NULL);
  if (changed)
    g_message ("access list %s: %s loaded", self->shown_url, size);
  else if (self->failing)
    g_message ("access list %s: fetched again, unchanged (%s)", self->shown_url, size);
  self->failing = FALSE;
}

#endif

/* The task's error, with the URL in front; counted and logged unless the
 * fetch was cancelled. */
static void
return_error (GTask  *task,
              GError *error)
{
  PkAccessList *self = g_task_get_source_object (task);

  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_prefix_error (&error, "%s: ", self->shown_url);
      fetch_failed (self, error);
    }
  g_task_return_error (task, error);
}

#ifdef HAVE_LIBSOUP

static void
fetched_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PkAccessList *self = g_task_get_source_object (task);
  SoupMessage *message = g_task_get_task_data (task);
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GPtrArray) masks = NULL;
  GError *error = NULL;
  SoupMessageHeaders *headers;
  char **entries = NULL;
  const char *data;
  gsize length;
  const char *etag, *last_modified;
  guint status;
  gboolean changed, rewrite;

  body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  if (body == NULL)
    {
      GError *egress_error = pk_egress_soup_message_steal_error (message);

      /* the egress could not be applied: say so, not "socket closed" */
      if (egress_error != NULL)
        {
          g_clear_error (&error);
          error = egress_error;
        }
      return_error (task, error);
      return;
    }
  if (g_task_return_error_if_cancelled (task))
    return;

  status = soup_message_get_status (message);
  if (status == SOUP_STATUS_NOT_MODIFIED && self->entries != NULL)
    {
      fetch_succeeded (self, FALSE);
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (status != SOUP_STATUS_OK)
    {
      return_error (task, g_error_new (PK_ERROR, PK_ERROR_PROTOCOL, "HTTP status %u %s", status,
                                       soup_message_get_reason_phrase (message)));
      return;
    }
  data = g_bytes_get_data (body, &length);
  if (length > MAX_BODY_BYTES)
    {
      return_error (task, g_error_new (PK_ERROR, PK_ERROR_PROTOCOL, "the list is larger than %u MiB",
                                       MAX_BODY_BYTES / (1024 * 1024)));
      return;
    }
  if (!parse_list (data != NULL ? data : "", length, &masks, &entries, &error))
    {
      return_error (task, error);
      return;
    }
  headers = soup_message_get_response_headers (message);
  etag = soup_message_headers_get_one (headers, "ETag");
  last_modified = soup_message_headers_get_one (headers, "Last-Modified");
  /* the same copy again (a server without validators): no write, no fsync */
  rewrite = g_strcmp0 (etag, self->etag) != 0 || g_strcmp0 (last_modified, self->last_modified) != 0;
  changed = publish (self, g_steal_pointer (&masks), entries, etag, last_modified);
  if (changed || rewrite || (self->cache_path != NULL && !g_file_test (self->cache_path, G_FILE_TEST_EXISTS)))
    save_cache (self, data, length);
  fetch_succeeded (self, changed);
  g_task_return_boolean (task, TRUE);
}

static void
fetch_start (PkAccessList *self,
             GTask        *task)
{
  g_autoptr(GError) error = NULL;
  SoupMessageHeaders *headers;
  SoupMessage *message;

  if (!pk_access_list_check_url (self->url, &error))
    {
      return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  /* No proxy from the environment: the list comes through the egress. */
  if (self->session == NULL)
    self->session = pk_egress_soup_session_new (self->egress,
                                                "timeout", FETCH_TIMEOUT_S,
                                                "user-agent", "proxykit/" PACKAGE_VERSION,
                                                NULL);
  message = soup_message_new ("GET", self->url);
  g_task_set_task_data (task, message, g_object_unref);
  headers = soup_message_get_request_headers (message);
  if (self->entries != NULL && self->etag != NULL)
    soup_message_headers_replace (headers, "If-None-Match", self->etag);
  else if (self->entries != NULL && self->last_modified != NULL)
    soup_message_headers_replace (headers, "If-Modified-Since", self->last_modified);
  pk_egress_soup_message_prepare (self->session, message);
  soup_session_send_and_read_async (self->session, message, G_PRIORITY_DEFAULT,
                                    g_task_get_cancellable (task), fetched_cb, task);
}

#else /* !HAVE_LIBSOUP */

static void
fetch_start (PkAccessList *self,
             GTask        *task)
{
  return_error (task, g_error_new (PK_ERROR, PK_ERROR_NOT_SUPPORTED,
                                   "fetching a list needs libsoup, which this build lacks"));
  g_object_unref (task);
}

#endif

/**
 * pk_access_list_refresh_async:
 * @self: a [class@AccessList]
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when the fetch is done
 * @user_data: data for @callback
 *
 * Fetches the list once now (conditionally, when a copy with validators
 * is loaded), whether or not the list is started. A good copy replaces
 * the loaded one and is cached; a failure keeps the loaded one and is
 * counted and logged as a failure of a periodic fetch is.
 *
 * Since: 0.2
 */
void
pk_access_list_refresh_async (PkAccessList        *self,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (PK_IS_ACCESS_LIST (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_access_list_refresh_async);
  fetch_start (self, task);
}

/**
 * pk_access_list_refresh_finish:
 * @self: a [class@AccessList]
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Finishes [method@AccessList.refresh_async].
 *
 * Returns: %TRUE when the copy is current (fetched, or not modified);
 *   %FALSE with @error set, naming the URL: GIO's or libsoup's error when
 *   it could not be fetched, %PK_ERROR_PROTOCOL for an HTTP status other
 *   than 200 or a malformed copy (naming the line), %PK_ERROR_EGRESS when
 *   the egress could not be applied
 *
 * Since: 0.2
 */
gboolean
pk_access_list_refresh_finish (PkAccessList  *self,
                               GAsyncResult  *result,
                               GError       **error)
{
  g_return_val_if_fail (PK_IS_ACCESS_LIST (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pk_access_list_refresh_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* --- the periodic fetch --- */

static void fetch_now (PkAccessList *self);

static gboolean
timer_cb (gpointer data)
{
  PkAccessList *self = data;

  g_clear_pointer (&self->timer, g_source_unref);
  fetch_now (self);
  return G_SOURCE_REMOVE;
}

static void
schedule (PkAccessList *self,
          guint         delay_ms)
{
  if (self->timer != NULL)
    {
      g_source_destroy (self->timer);
      g_source_unref (self->timer);
    }
  self->timer = g_timeout_source_new (delay_ms);
  g_source_set_callback (self->timer, timer_cb, self, NULL);
  g_source_set_static_name (self->timer, "[proxykit] access list refresh");
  g_source_attach (self->timer, g_main_context_get_thread_default ());
}

static void
periodic_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  PkAccessList *self = PK_ACCESS_LIST (source);
  g_autoptr(GError) error = NULL;
  gboolean ok;

  ok = pk_access_list_refresh_finish (self, result, &error);
  /* a cancelled fetch is one that stop() already forgot */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self->fetching = FALSE;
  if (!self->started)
    return;
  /* after a failure, sooner than the refresh: 5 s, then doubling */
  if (ok)
    self->retry_ms = 0;
  else
    self->retry_ms = MIN (self->retry_ms == 0 ? RETRY_MIN_MS : self->retry_ms * 2, self->refresh_ms);
  schedule (self, ok ? self->refresh_ms : self->retry_ms);
}

static void
fetch_now (PkAccessList *self)
{
  if (self->fetching)
    return;
  self->fetching = TRUE;
  pk_access_list_refresh_async (self, self->cancellable, periodic_cb, NULL);
}

/**
 * pk_access_list_start:
 * @self: a [class@AccessList]
 *
 * Keeps the list up to date in the thread-default main context of the
 * caller: loads the cached copy if nothing is loaded yet, fetches at
 * once, then every [property@AccessList:refresh] (sooner after a
 * failure). Calling it on a started list fetches now.
 *
 * Since: 0.2
 */
void
pk_access_list_start (PkAccessList *self)
{
  g_return_if_fail (PK_IS_ACCESS_LIST (self));

  if (!self->started && self->entries == NULL && self->cache_path != NULL)
    {
      g_autoptr(GError) error = NULL;

      if (pk_access_list_load_cache (self, &error))
        {
          g_autofree char *size = describe_size (self);

          g_message ("access list %s: %s from the cache %s, until a fetch succeeds",
                     self->shown_url, size, self->cache_path);
        }
      else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        g_warning ("access list %s: %s", self->shown_url, error->message);
    }
  self->started = TRUE;
  if (self->timer != NULL)
    {
      g_source_destroy (self->timer);
      g_clear_pointer (&self->timer, g_source_unref);
    }
  fetch_now (self);
}

/**
 * pk_access_list_stop:
 * @self: a [class@AccessList]
 *
 * Stops fetching (a fetch under way is cancelled). The loaded copy stays.
 *
 * Since: 0.2
 */
void
pk_access_list_stop (PkAccessList *self)
{
  g_return_if_fail (PK_IS_ACCESS_LIST (self));

  self->started = FALSE;
  if (self->timer != NULL)
    {
      g_source_destroy (self->timer);
      g_clear_pointer (&self->timer, g_source_unref);
    }
  if (self->fetching)
    {
      g_cancellable_cancel (self->cancellable);
      g_clear_object (&self->cancellable);
      self->cancellable = g_cancellable_new ();
      self->fetching = FALSE;
    }
}

/**
 * pk_access_list_is_started:
 * @self: a [class@AccessList]
 *
 * Tells whether [method@AccessList.start] keeps the list up to date.
 *
 * Returns: %TRUE between start and stop
 *
 * Since: 0.2
 */
gboolean
pk_access_list_is_started (PkAccessList *self)
{
  g_return_val_if_fail (PK_IS_ACCESS_LIST (self), FALSE);
  return self->started;
}
