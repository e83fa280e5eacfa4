/* pk-socks-server-config.c: a PkSocksServer from a configuration, and the open-listener rule
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "pk-access-list-private.h"
#include "pk-config-private.h"
#include "pk-error.h"
#include "pk-socks-server-private.h"
#include "pk-state-store.h"
#include "pk-util-private.h"

#define DEFAULT_LISTEN "127.0.0.1:1080"

/* --- the open-listener rule --- */

/**
 * pk_socks_server_get_allow_open:
 * @self: a [class@SocksServer]
 *
 * Tells whether an open listener is allowed.
 *
 * Returns: whether an open listener (non-loopback, no users, no
 *   allowlist) is allowed, see [property@SocksServer:allow-open]
 *
 * Since: 0.2
 */
gboolean
pk_socks_server_get_allow_open (PkSocksServer *self)
{
  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), FALSE);

  return self->allow_open;
}

/**
 * pk_socks_server_set_allow_open:
 * @self: a [class@SocksServer]
 * @allow_open: whether to allow an open listener
 *
 * Allows (or refuses again) listening on a non-loopback address with
 * neither users nor a client allowlist. See [property@SocksServer:allow-open].
 *
 * Since: 0.2
 */
void
pk_socks_server_set_allow_open (PkSocksServer *self,
                                gboolean       allow_open)
{
  g_return_if_fail (PK_IS_SOCKS_SERVER (self));

  allow_open = !!allow_open;
  if (self->allow_open == allow_open)
    return;
  self->allow_open = allow_open;
  g_object_notify (G_OBJECT (self), "allow-open");
}

gboolean
pk_socks_server_check_open (PkSocksServer  *self,
                            GSocketAddress *address,
                            GError        **error)
{
  g_autofree char *where = NULL;

  if (self->allow_open || !G_IS_INET_SOCKET_ADDRESS (address))
    return TRUE;
  if (pk_socket_address_is_loopback (address) ||
      pk_socks_server_get_auth_required (self) || pk_socks_server_has_allowlist (self))
    return TRUE;

  where = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (address));
  g_set_error (error, PK_ERROR, PK_ERROR_NOT_ALLOWED,
               "listener %s on %s is not on loopback and has neither users nor a client allowlist: "
               "anyone who can reach it could use it; add users (--users) or an allowlist (--allow), "
               "or allow an open listener if that is meant (--allow-open, allow-open = true in the "
               "configuration)",
               self->name ? self->name : "main", where);
  return FALSE;
}

/* --- from a configuration --- */

/* The keys of a [socks] or [socks:NAME] section. */
static const char * const section_keys[] = {
  "listen", "egress-address", "egress-interface", "egress-dns", "fwmark", "ttl",
  "users", "users-inline", "allow", "deny", "connect-timeout", "idle-timeout",
  "handshake-timeout", "resolve-timeout", "udp-idle-timeout", "max-sessions",
  "max-sessions-per-client", "udp-advertise", "allow-open", "allow-host-destinations",
  "allow-url", "deny-url", "refresh", "url-egress", "state-dir",
  "metrics-listen",   /* pk-socks' /metrics, read by the tool from [socks] only */
  NULL
};

/* The main listener (@name NULL) is the bare [socks] section; it also
 * takes the per-listener variables (addresses, users, lists), which
 * would make no sense for every [socks:NAME] at once. The tuning
 * variables (timeouts, limits) apply to every listener. */
typedef struct {
  char *section;
  gboolean is_main;
} Where;

static void
where_init (Where      *w,
            const char *name)
{
  w->is_main = name == NULL || *name == '\0';
  w->section = w->is_main ? g_strdup ("socks") : g_strconcat ("socks:", name, NULL);
}

static void
where_clear (Where *w)
{
  g_free (w->section);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Where, where_clear)

static const char *
main_env (const Where *w,
          const char  *env)
{
  return w->is_main ? env : NULL;
}

/* url-egress: `default` (or unset), `listener`, an address or an interface. */
static gboolean
url_egress (PkSocksServer  *server,
            PkConfig       *config,
            const Where    *w,
            PkEgress      **out,
            GError        **error)
{
  g_autofree char *value = pk_config_dup_string (config, w->section, "url-egress", NULL, NULL);
  g_autoptr(GInetAddress) inet = NULL;
  GError *local_error = NULL;

  *out = NULL;
  if (value == NULL || g_str_equal (value, "default"))
    return TRUE;
  if (g_str_equal (value, "listener"))
    {
      *out = g_object_ref (pk_socks_server_get_egress (server));
      return TRUE;
    }
  inet = g_inet_address_new_from_string (value);
  *out = pk_egress_new_full (inet != NULL ? value : NULL, inet != NULL ? NULL : value, 0, 0, &local_error);
  if (*out == NULL)
    {
      g_prefix_error (&local_error, "expected default, listener, an address or an interface: ");
      return pk_config_value_error (config, w->section, "url-egress", NULL, local_error, error);
    }
  return TRUE;
}

static gboolean
egress_equal (PkEgress *a,
              PkEgress *b)
{
  g_autofree char *sa = a != NULL ? pk_egress_to_string (a) : NULL;
  g_autofree char *sb = b != NULL ? pk_egress_to_string (b) : NULL;

  return g_strcmp0 (sa, sb) == 0;
}

/* allow-url or deny-url. A list that a reload finds alike (URL, cache,
 * egress) is kept, with what it has loaded: a reload must not leave a
 * listener without its allowlist until the next fetch. */
static gboolean
configure_url_list (PkSocksServer  *server,
                    PkConfig       *config,
                    const Where    *w,
                    gboolean        allow,
                    GError        **error)
{
  const char *key = allow ? "allow-url" : "deny-url";
  const char *env = main_env (w, allow ? "SOCKS_ALLOW_URL" : "SOCKS_DENY_URL");
  PkAccessList *current = allow ? server->allow_list : server->deny_list;
  g_autofree char *url = pk_config_dup_string (config, w->section, key, env, NULL);
  g_autoptr(PkAccessList) list = NULL;
  g_autoptr(PkEgress) egress = NULL;
  g_autoptr(PkStateStore) store = NULL;
  g_autofree char *file = NULL;
  g_autofree char *cache = NULL;
  GError *local_error = NULL;
  guint refresh;

  if (url != NULL && !pk_access_list_check_url (url, &local_error))
    return pk_config_value_error (config, w->section, key, env, local_error, error);
  if (!pk_config_get_duration_uint (config, w->section, "refresh", NULL, 100, PK_ACCESS_LIST_REFRESH_DEFAULT,
                                    &refresh, error) ||
      !url_egress (server, config, w, &egress, error))
    return FALSE;

  if (url != NULL)
    {
      /* STATE_DIR/access-lists/socks-NAME-allow.list */
      store = pk_state_store_new_from_config (config, w->section);
      file = g_strdup_printf ("%s-%s.list", w->section, allow ? "allow" : "deny");
      g_strdelimit (file, ":/", '-');
      cache = g_build_filename (pk_state_store_get_directory (store), "access-lists", file, NULL);
      if (current != NULL && g_str_equal (pk_access_list_get_url (current), url) &&
          g_strcmp0 (pk_access_list_get_cache_path (current), cache) == 0 &&
          egress_equal (pk_access_list_get_egress (current), egress))
        {
          pk_access_list_set_refresh (current, refresh);
          return TRUE;
        }
      list = pk_access_list_new (url);
      pk_access_list_set_refresh (list, refresh);
      pk_access_list_set_egress (list, egress);
      pk_access_list_set_cache_path (list, cache);
    }
  if (allow)
    pk_socks_server_set_allow_access_list (server, list);
  else
    pk_socks_server_set_deny_access_list (server, list);
  return TRUE;
}

/* Users and lists: what a reload reads again. */
static gboolean
configure_access (PkSocksServer  *server,
                  PkConfig       *config,
                  const Where    *w,
                  GError        **error)
{
  g_autofree char *users = NULL;
  g_autofree char *allow = NULL;
  g_autofree char *deny = NULL;
  g_auto(GStrv) inline_users = NULL;
  GError *local_error = NULL;

  users = pk_config_dup_string (config, w->section, "users", main_env (w, "SOCKS_USERS"), NULL);
  if (!pk_socks_server_set_users_file (server, users, &local_error))
    return pk_config_value_error (config, w->section, "users", main_env (w, "SOCKS_USERS"), local_error, error);

  if (pk_config_has_value (config, w->section, "users-inline", NULL))
    {
      g_autofree char *value = pk_config_dup_string (config, w->section, "users-inline", NULL, NULL);
      g_auto(GStrv) parts = g_strsplit_set (value, "; ", -1);
      g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

      for (guint i = 0; parts[i] != NULL; i++)
        if (*parts[i] != '\0')
          g_strv_builder_add (builder, parts[i]);
      inline_users = g_strv_builder_end (builder);
      if (!pk_socks_server_set_users (server, (const char * const *) inline_users, &local_error))
        return pk_config_value_error (config, w->section, "users-inline", NULL, local_error, error);
    }

  allow = pk_config_dup_string (config, w->section, "allow", main_env (w, "SOCKS_ALLOW"), NULL);
  if (!pk_socks_server_set_allowlist (server, allow, &local_error))
    return pk_config_value_error (config, w->section, "allow", main_env (w, "SOCKS_ALLOW"), local_error, error);
  deny = pk_config_dup_string (config, w->section, "deny", main_env (w, "SOCKS_DENY"), NULL);
  if (!pk_socks_server_set_denylist (server, deny, &local_error))
    return pk_config_value_error (config, w->section, "deny", main_env (w, "SOCKS_DENY"), local_error, error);
  return configure_url_list (server, config, w, TRUE, error) &&
         configure_url_list (server, config, w, FALSE, error);
}

static gboolean
get_ms (PkConfig    *config,
        const Where *w,
        const char  *key,
        const char  *env,
        guint        current,
        guint       *out,
        GError     **error)
{
  return pk_config_get_duration_uint (config, w->section, key, env, 0, current, out, error);
}

/**
 * pk_socks_server_new_from_config:
 * @config: a [class@Config]
 * @name: (nullable): the listener's name: the section `[socks:NAME]`;
 *   %NULL for the main listener of section `[socks]`
 * @error: return location for a `GError`
 *
 * Builds a server from a configuration section, with the precedence of
 * every [class@Config] lookup: an override (a flag), the environment, the
 * file, the default. The keys: `egress-address`, `egress-interface`,
 * `egress-dns`, `fwmark`, `ttl` (see `pk_egress_new_from_config()`),
 * `users` (a file), `users-inline` (`user:password` items), `allow`,
 * `deny`, `allow-url`, `deny-url` (see below), `refresh`, `url-egress`,
 * `state-dir`, `connect-timeout`, `idle-timeout`, `handshake-timeout`,
 * `resolve-timeout`, `udp-idle-timeout`, `max-sessions`,
 * `max-sessions-per-client`, `udp-advertise`, `allow-open` and
 * `allow-host-destinations`; `listen` is read by
 * `pk_socks_server_listen_from_config()`. Another key in the section is an
 * error, so that a typo does not pass for a default.
 *
 * `allow-url` and `deny-url` name an `http` or `https` URL whose list
 * (see [class@AccessList]) adds to `allow` (clients let in) or to `deny`
 * (destinations refused), fetched every `refresh` (a duration, 1 h by
 * default) while the server listens, through `url-egress`: `default` (the
 * default route, the default), `listener` (the listener's own egress), an
 * IP address (the source address) or an interface name. The last good copy
 * is kept in `STATE_DIR/access-lists/SECTION-allow.list` (or `-deny`),
 * where `STATE_DIR` is the section's `state-dir`, else
 * `PROXYKIT_STATE_DIR`, else %PK_STATE_DIR_DEFAULT; it stands in at start
 * while the URL cannot be reached. Until a copy is loaded, a listener with
 * `allow-url` lets in only the clients of `allow` (none without it).
 *
 * The variables of the shell tools apply too: `SOCKS_CONNECT_TIMEOUT`,
 * `SOCKS_IDLE_TIMEOUT` (or the older `SOCKS_READ_TIMEOUT`),
 * `SOCKS_HANDSHAKE_TIMEOUT`, `SOCKS_RESOLVE_TIMEOUT`,
 * `SOCKS_UDP_IDLE_TIMEOUT`, `SOCKS_MAX_SESSIONS`,
 * `SOCKS_MAX_SESSIONS_PER_CLIENT` and `SOCKS_UDP_ADVERTISE` to every
 * listener; `SOCKS_LISTEN`, `SOCKS_EGRESS_ADDRESS`,
 * `SOCKS_EGRESS_INTERFACE`, `SOCKS_EGRESS_DNS`, `SOCKS_FWMARK`,
 * `SOCKS_TTL`, `SOCKS_USERS`, `SOCKS_ALLOW`, `SOCKS_DENY`,
 * `SOCKS_ALLOW_URL` and `SOCKS_DENY_URL` to the main listener only.
 *
 * Returns: (transfer full): the server, not listening yet; or %NULL with
 *   @error set (%PK_ERROR_CONFIG) naming the bad value and where it came from
 *
 * Since: 0.2
 */
PkSocksServer *
pk_socks_server_new_from_config (PkConfig    *config,
                                 const char  *name,
                                 GError     **error)
{
  g_autoptr(PkSocksServer) server = pk_socks_server_new ();
  g_autoptr(PkEgress) egress = NULL;
  g_auto(Where) w = { 0 };
  g_autofree char *advertise = NULL;
  const char *idle_env;
  GError *local_error = NULL;
  guint ms;
  guint64 n;
  gboolean b;

  g_return_val_if_fail (PK_IS_CONFIG (config), NULL);

  where_init (&w, name);
  if (!pk_config_check_keys (config, w.section, section_keys, error))
    return NULL;
  /* The tool's /metrics serves every listener from one address. */
  if (!w.is_main && pk_config_has_key (config, w.section, "metrics-listen"))
    {
      g_autofree char *where = pk_config_describe (config, w.section, "metrics-listen");

      g_set_error (error, PK_ERROR, PK_ERROR_CONFIG,
                   "%s: belongs in [socks]: one /metrics serves every listener", where);
      return NULL;
    }
  pk_socks_server_set_name (server, w.is_main ? "main" : name);

  egress = pk_egress_new_from_config (config, w.section, w.is_main ? "SOCKS_" : NULL, error);
  if (egress == NULL)
    return NULL;
  pk_socks_server_set_egress (server, egress);

  if (!get_ms (config, &w, "connect-timeout", "SOCKS_CONNECT_TIMEOUT",
               pk_socks_server_get_connect_timeout (server), &ms, error))
    return NULL;
  pk_socks_server_set_connect_timeout (server, ms);
  /* The seed's SOCKS_READ_TIMEOUT (a read with no data) is what the idle
   * timeout does; SOCKS_IDLE_TIMEOUT wins when both are set. */
  idle_env = pk_config_getenv (config, "SOCKS_IDLE_TIMEOUT") ? "SOCKS_IDLE_TIMEOUT" : "SOCKS_READ_TIMEOUT";
  if (!get_ms (config, &w, "idle-timeout", idle_env, pk_socks_server_get_idle_timeout (server), &ms, error))
    return NULL;
  pk_socks_server_set_idle_timeout (server, ms);
  if (!get_ms (config, &w, "handshake-timeout", "SOCKS_HANDSHAKE_TIMEOUT",
               pk_socks_server_get_handshake_timeout (server), &ms, error))
    return NULL;
  pk_socks_server_set_handshake_timeout (server, ms);
  if (!get_ms (config, &w, "resolve-timeout", "SOCKS_RESOLVE_TIMEOUT",
               pk_socks_server_get_resolve_timeout (server), &ms, error))
    return NULL;
  pk_socks_server_set_resolve_timeout (server, ms);
  if (!get_ms (config, &w, "udp-idle-timeout", "SOCKS_UDP_IDLE_TIMEOUT",
               pk_socks_server_get_udp_idle_timeout (server), &ms, error))
    return NULL;
  pk_socks_server_set_udp_idle_timeout (server, ms);

  if (!pk_config_get_uint (config, w.section, "max-sessions", "SOCKS_MAX_SESSIONS", 0, G_MAXUINT, 0, &n, error))
    return NULL;
  pk_socks_server_set_max_sessions (server, n);
  if (!pk_config_get_uint (config, w.section, "max-sessions-per-client", "SOCKS_MAX_SESSIONS_PER_CLIENT",
                           0, G_MAXUINT, 0, &n, error))
    return NULL;
  pk_socks_server_set_max_sessions_per_client (server, n);

  advertise = pk_config_dup_string (config, w.section, "udp-advertise", "SOCKS_UDP_ADVERTISE", NULL);
  if (!pk_socks_server_set_udp_advertise_address (server, advertise, &local_error))
    return pk_config_value_error (config, w.section, "udp-advertise", "SOCKS_UDP_ADVERTISE", local_error, error), NULL;

  if (!pk_config_get_boolean (config, w.section, "allow-host-destinations", NULL, FALSE, &b, error))
    return NULL;
  pk_socks_server_set_allow_host_destinations (server, b);
  if (!pk_config_get_boolean (config, w.section, "allow-open", NULL, FALSE, &b, error))
    return NULL;
  pk_socks_server_set_allow_open (server, b);

  if (!configure_access (server, config, &w, error))
    return NULL;
  return g_steal_pointer (&server);
}

/**
 * pk_socks_server_dup_config_listen:
 * @config: a [class@Config]
 * @name: (nullable): the listener's name, %NULL for the main listener
 * @error: return location for a `GError`
 *
 * The addresses the listener is configured to listen on: its `listen`
 * key (comma- or space-separated `ADDRESS:PORT`; for the main listener
 * also `SOCKS_LISTEN`, and `127.0.0.1:1080` by default). A named
 * listener without one is an error.
 *
 * Returns: (transfer full) (array zero-terminated=1): the addresses, or
 *   %NULL with @error set (%PK_ERROR_CONFIG)
 *
 * Since: 0.2
 */
char **
pk_socks_server_dup_config_listen (PkConfig    *config,
                                   const char  *name,
                                   GError     **error)
{
  g_auto(Where) w = { 0 };
  char **addresses;

  g_return_val_if_fail (PK_IS_CONFIG (config), NULL);

  where_init (&w, name);
  addresses = pk_config_dup_list (config, w.section, "listen", main_env (&w, "SOCKS_LISTEN"));
  if (addresses != NULL && addresses[0] != NULL)
    return addresses;
  g_strfreev (addresses);
  if (w.is_main)
    {
      const char *def[] = { DEFAULT_LISTEN, NULL };
      return g_strdupv ((char **) def);
    }
  {
    g_autofree char *desc = pk_config_describe (config, w.section, NULL);
    g_set_error (error, PK_ERROR, PK_ERROR_CONFIG,
                 "%s: no listen key (example: listen = 0.0.0.0:10011)", desc);
  }
  return NULL;
}

/* Listens on (or, with @bind FALSE, only checks) each configured
 * address; a bad one is a configuration error naming where it came from. */
static gboolean
listen_from_config (PkSocksServer  *self,
                    PkConfig       *config,
                    const char     *name,
                    gboolean        bind,
                    GError        **error)
{
  g_auto(Where) w = { 0 };
  g_auto(GStrv) addresses = NULL;

  where_init (&w, name);
  addresses = pk_socks_server_dup_config_listen (config, name, error);
  if (addresses == NULL)
    return FALSE;
  for (guint i = 0; addresses[i] != NULL; i++)
    {
      g_autoptr(GSocketAddress) sa = NULL;
      GError *local_error = NULL;
      gboolean ok;

      if (bind)
        ok = pk_socks_server_listen (self, addresses[i], &local_error);
      else
        ok = (sa = pk_parse_listen_address (addresses[i], 1080, &local_error)) != NULL &&
             pk_socks_server_check_open (self, sa, &local_error);
      if (ok)
        continue;
      if (g_error_matches (local_error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT))
        {
          g_autofree char *where = pk_config_describe_value (config, w.section, "listen",
                                                             main_env (&w, "SOCKS_LISTEN"));
          g_set_error (error, PK_ERROR, PK_ERROR_CONFIG, "%s: %s",
                       where ? where : "the default listen address", local_error->message);
          g_error_free (local_error);
        }
      else
        g_propagate_error (error, local_error);
      return FALSE;
    }
  return TRUE;
}

/**
 * pk_socks_server_listen_from_config:
 * @self: a [class@SocksServer], such as one of `pk_socks_server_new_from_config()`
 * @config: a [class@Config]
 * @name: (nullable): the listener's name, %NULL for the main listener
 * @error: return location for a `GError`
 *
 * Listens on the configured addresses (see
 * `pk_socks_server_dup_config_listen()`), each an IP address and a port.
 *
 * Returns: %TRUE, or %FALSE with @error set: %PK_ERROR_CONFIG for a bad
 *   address (naming where it came from), %PK_ERROR_NOT_ALLOWED for an
 *   open listener (see [property@SocksServer:allow-open]), GIO's error when an
 *   address cannot be listened on
 *
 * Since: 0.2
 */
gboolean
pk_socks_server_listen_from_config (PkSocksServer  *self,
                                    PkConfig       *config,
                                    const char     *name,
                                    GError        **error)
{
  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), FALSE);
  g_return_val_if_fail (PK_IS_CONFIG (config), FALSE);

  return listen_from_config (self, config, name, TRUE, error);
}

/**
 * pk_socks_server_check_listen_from_config:
 * @self: a [class@SocksServer], such as one of `pk_socks_server_new_from_config()`
 * @config: a [class@Config]
 * @name: (nullable): the listener's name, %NULL for the main listener
 * @error: return location for a `GError`
 *
 * What `pk_socks_server_listen_from_config()` would refuse, without
 * making a socket: a bad address, or an open listener.
 *
 * Returns: %TRUE, or %FALSE with @error set as
 *   `pk_socks_server_listen_from_config()` would
 *
 * Since: 0.2
 */
gboolean
pk_socks_server_check_listen_from_config (PkSocksServer  *self,
                                          PkConfig       *config,
                                          const char     *name,
                                          GError        **error)
{
  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), FALSE);
  g_return_val_if_fail (PK_IS_CONFIG (config), FALSE);

  return listen_from_config (self, config, name, FALSE, error);
}

/**
 * pk_socks_server_reload_from_config:
 * @self: a [class@SocksServer]
 * @config: the configuration, read again
 * @name: (nullable): the listener's name, %NULL for the main listener
 * @error: return location for a `GError`
 *
 * What a reload (SIGHUP) changes: the users (file and inline) and the
 * client and destination lists, all or nothing; live sessions keep what
 * they started with. The rest (addresses, egress, timeouts) needs a
 * restart. New settings that would leave a listener off loopback with
 * neither users nor an allowlist are refused, unless allow-open is set.
 *
 * Returns: %TRUE, or %FALSE with @error set when the new settings are
 *   bad (the old ones stay) or the listener's section is gone
 *
 * Since: 0.2
 */
gboolean
pk_socks_server_reload_from_config (PkSocksServer  *self,
                                    PkConfig       *config,
                                    const char     *name,
                                    GError        **error)
{
  g_autoptr(PkSocksServer) scratch = pk_socks_server_new ();
  g_auto(Where) w = { 0 };
  gboolean allow_open = FALSE;

  g_return_val_if_fail (PK_IS_SOCKS_SERVER (self), FALSE);
  g_return_val_if_fail (PK_IS_CONFIG (config), FALSE);

  where_init (&w, name);
  if (!w.is_main && !pk_config_has_section (config, w.section))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_CONFIG,
                   "section [%s] is gone; the listener keeps its settings (restart to remove it)",
                   w.section);
      return FALSE;
    }
  /* a trial on a scratch server first, so that a bad allowlist does not
   * leave new users with old lists */
  if (!configure_access (scratch, config, &w, error) ||
      !pk_config_get_boolean (config, w.section, "allow-open", NULL, FALSE, &allow_open, error))
    return FALSE;
  /* what listening refuses, a reload refuses too: emptying the users
   * must not turn a public listener into an open proxy */
  if (!allow_open && !self->allow_open && !pk_socks_server_is_listening_on_loopback_only (self) &&
      !pk_socks_server_get_auth_required (scratch) && !pk_socks_server_has_allowlist (scratch))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_CONFIG,
                   "the new settings have neither users nor a client allowlist, and the listener is "
                   "not on loopback: anyone who can reach it could use it (set allow-open = true if that is meant)");
      return FALSE;
    }
  return configure_access (self, config, &w, error) && pk_socks_server_reload (self, error);
}

/* Whether the listener @name is configured alike in both: its listen
 * addresses, in order. */
static gboolean
listen_equal (PkConfig    *old_config,
              PkConfig    *new_config,
              const char  *name,
              gboolean    *equal,
              GError     **error)
{
  g_auto(GStrv) before = pk_socks_server_dup_config_listen (old_config, name, NULL);
  g_auto(GStrv) after = pk_socks_server_dup_config_listen (new_config, name, error);

  if (after == NULL)
    return FALSE;
  *equal = before != NULL && g_strv_equal ((const char * const *) before, (const char * const *) after);
  return TRUE;
}

static gboolean
strv_has (char       **strv,
          const char  *s)
{
  return strv != NULL && g_strv_contains ((const char * const *) strv, s);
}

/**
 * pk_socks_server_diff_config_listeners:
 * @old_config: the configuration the listeners run with
 * @new_config: the configuration read again
 * @added: (out) (transfer full) (array zero-terminated=1): the names of
 *   the `[socks:NAME]` sections only in @new_config
 * @removed: (out) (transfer full) (array zero-terminated=1): the names of
 *   the `[socks:NAME]` sections only in @old_config
 * @changed: (out) (transfer full) (array zero-terminated=1): the names of
 *   the listeners in both whose listen addresses
 *   (`pk_socks_server_dup_config_listen()`) differ; the empty name stands
 *   for the main listener (`[socks]`, its overrides and `SOCKS_LISTEN`)
 * @error: return location for a `GError`
 *
 * Compares the listeners of two configurations, as a reload does: an
 * added listener is to start, a removed one to stop, a changed one to
 * stop and start again on its new addresses; the others keep their
 * sockets and sessions (their users and lists are what
 * `pk_socks_server_reload_from_config()` reads again). The main
 * listener is never added or removed: whether it runs is the caller's
 * decision (pk-socks runs it when asked for or when there is no other).
 *
 * Returns: %TRUE, or %FALSE with @error set (%PK_ERROR_CONFIG) and the
 *   lists unset when a listener of @new_config has no listen key
 *
 * Since: 0.2
 */
gboolean
pk_socks_server_diff_config_listeners (PkConfig   *old_config,
                                       PkConfig   *new_config,
                                       char     ***added,
                                       char     ***removed,
                                       char     ***changed,
                                       GError    **error)
{
  g_auto(GStrv) before = NULL;
  g_auto(GStrv) after = NULL;
  g_autoptr(GStrvBuilder) add = g_strv_builder_new ();
  g_autoptr(GStrvBuilder) rem = g_strv_builder_new ();
  g_autoptr(GStrvBuilder) chg = g_strv_builder_new ();
  gboolean equal;

  g_return_val_if_fail (PK_IS_CONFIG (old_config), FALSE);
  g_return_val_if_fail (PK_IS_CONFIG (new_config), FALSE);
  g_return_val_if_fail (added != NULL && removed != NULL && changed != NULL, FALSE);

  before = pk_config_list_sections (old_config, "socks");
  after = pk_config_list_sections (new_config, "socks");

  if (!listen_equal (old_config, new_config, NULL, &equal, error))
    return FALSE;
  if (!equal)
    g_strv_builder_add (chg, "");
  for (guint i = 0; after[i] != NULL; i++)
    {
      if (*after[i] == '\0')
        continue;
      if (!strv_has (before, after[i]))
        {
          g_autoptr(GError) local_error = NULL;
          g_auto(GStrv) listen = pk_socks_server_dup_config_listen (new_config, after[i], &local_error);

          if (listen == NULL)
            return g_propagate_error (error, g_steal_pointer (&local_error)), FALSE;
          g_strv_builder_add (add, after[i]);
          continue;
        }
      if (!listen_equal (old_config, new_config, after[i], &equal, error))
        return FALSE;
      if (!equal)
        g_strv_builder_add (chg, after[i]);
    }
  for (guint i = 0; before[i] != NULL; i++)
    if (*before[i] != '\0' && !strv_has (after, before[i]))
      g_strv_builder_add (rem, before[i]);

  *added = g_strv_builder_end (add);
  *removed = g_strv_builder_end (rem);
  *changed = g_strv_builder_end (chg);
  return TRUE;
}
