/* pk-dongle-farm.c: a SOCKS listener per dongle, following the dongles
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkDongleFarm:
 *
 * One SOCKS5 listener per dongle, started when the dongle appears and is
 * ready and stopped when it goes, without touching the other listeners.
 *
 * The farm follows a [class@DongleMonitor]. When dongle N is ready (HiLink
 * mode, its interface up with `192.168.N.100`), it first repairs the
 * dongle's policy routing ([class@Routing], unless turned off), then
 * starts a [class@SocksServer] on `LISTEN:PORT_BASE+N` whose egress is the
 * dongle's: source address `192.168.N.100`, bound to its interface, names
 * resolved by the dongle ([method@Dongle.dup_egress]). When the dongle
 * goes, or loses its address, the listener is closed with its sessions
 * (they have nowhere to go); when its interface or address changes, the
 * listener is started again on the new egress.
 *
 * With a [class@StateStore], each listener is recorded as node `dongle-N`
 * (status `online`, the listen address, this process, the dongle), and
 * as `stopped` when it goes: `pk-toggle --serve` lists exactly these in
 * `/proxy-info`, and the watchdog sees them.
 *
 * `pk_dongle_farm_new_from_config()` reads `[dongles]` (`auto`, `port-base`,
 * `listen`, `users`, `allow`, `ttl`, `allow-open`, `connect-timeout`,
 * `idle-timeout`, `modeswitch`, `routing`, `state-dir`) and the per-dongle
 * overrides of `[dongle:N]` (`socks_port`, `users`, `allow`, `ttl`).
 *
 * ```c
 * g_autoptr(PkDongleFarm) farm = pk_dongle_farm_new_from_config (config, &error);
 * g_autoptr(PkWorkers) workers = pk_workers_new (0);
 *
 * if (farm == NULL || !pk_workers_start (workers, &error))
 *   return FALSE;
 * pk_dongle_farm_set_workers (farm, workers);
 * if (!pk_dongle_farm_start (farm, &error))
 *   return FALSE;
 * // listeners come and go with the dongles while the main loop runs
 * ```
 *
 * Since: 0.2
 */

#include "config.h"

#include <unistd.h>

#include <json-glib/json-glib.h>

#include "pk-dongle-farm.h"
#include "pk-error.h"

static const char * const dongles_keys[] = {
  "auto", "port-base", "listen", "users", "allow", "ttl", "allow-open",
  "connect-timeout", "idle-timeout", "modeswitch", "routing", "state-dir", NULL
};

/* A dongle's listener settings: [dongle:N], else [dongles], else defaults. */
typedef struct {
  guint port;
  char *users;
  char *allow;
  guint ttl;
} Settings;

static void
settings_clear (Settings *s)
{
  g_clear_pointer (&s->users, g_free);
  g_clear_pointer (&s->allow, g_free);
}

typedef struct {
  guint id;
  PkDongle *dongle;
  PkSocksServer *server;     /* NULL while routing is being repaired */
  char *interface;           /* the egress it was started on */
  char *address;
  char *listen;
  GCancellable *cancellable;
} Slot;

struct _PkDongleFarm
{
  GObject parent_instance;

  PkDongleMonitor *monitor;
  PkConfig *config;           /* nullable */
  PkWorkers *workers;
  PkStateStore *store;
  guint port_base;
  char *listen_address;
  char *users;
  char *allow;
  guint ttl;
  gboolean allow_open;
  guint64 connect_timeout_ms; /* 0: the server's default */
  guint64 idle_timeout_ms;
  gboolean routing;
  PkRoutingBackend routing_backend;

  GHashTable *slots;          /* id -> Slot */
  gboolean started;
  gulong handlers[3];
};

G_DEFINE_FINAL_TYPE (PkDongleFarm, pk_dongle_farm, G_TYPE_OBJECT)

enum {
  SIGNAL_LISTENER_STARTED,
  SIGNAL_LISTENER_STOPPED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void record (PkDongleFarm *self, Slot *slot, gboolean online, const char *reason);

static void
slot_free (Slot *slot)
{
  if (slot->cancellable != NULL)
    g_cancellable_cancel (slot->cancellable);
  g_clear_object (&slot->cancellable);
  if (slot->server != NULL)
    pk_socks_server_close (slot->server);
  g_clear_object (&slot->server);
  g_clear_object (&slot->dongle);
  g_free (slot->interface);
  g_free (slot->address);
  g_free (slot->listen);
  g_free (slot);
}

static void
pk_dongle_farm_dispose (GObject *object)
{
  PkDongleFarm *self = PK_DONGLE_FARM (object);

  pk_dongle_farm_close (self);
  g_clear_object (&self->monitor);
  g_clear_object (&self->config);
  g_clear_object (&self->workers);
  g_clear_object (&self->store);

  G_OBJECT_CLASS (pk_dongle_farm_parent_class)->dispose (object);
}

static void
pk_dongle_farm_finalize (GObject *object)
{
  PkDongleFarm *self = PK_DONGLE_FARM (object);

  g_hash_table_unref (self->slots);
  g_free (self->listen_address);
  g_free (self->users);
  g_free (self->allow);

  G_OBJECT_CLASS (pk_dongle_farm_parent_class)->finalize (object);
}

static void
pk_dongle_farm_class_init (PkDongleFarmClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pk_dongle_farm_dispose;
  object_class->finalize = pk_dongle_farm_finalize;

  /**
   * PkDongleFarm::listener-started:
   * @self: the farm
   * @dongle: the dongle
   * @server: its new listener, listening
   *
   * A dongle got its listener.
   *
   * Since: 0.2
   */
  signals[SIGNAL_LISTENER_STARTED] =
    g_signal_new ("listener-started", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, PK_TYPE_DONGLE, PK_TYPE_SOCKS_SERVER);
  /**
   * PkDongleFarm::listener-stopped:
   * @self: the farm
   * @id: the dongle's number
   *
   * A dongle's listener was closed (the dongle went, or is not ready).
   *
   * Since: 0.2
   */
  signals[SIGNAL_LISTENER_STOPPED] =
    g_signal_new ("listener-stopped", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
}

static void
pk_dongle_farm_init (PkDongleFarm *self)
{
  self->slots = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) slot_free);
  self->port_base = PK_DONGLE_FARM_DEFAULT_PORT_BASE;
  self->listen_address = g_strdup ("0.0.0.0");
  self->routing = TRUE;
}

/**
 * pk_dongle_farm_new:
 * @monitor: the monitor whose dongles get listeners
 *
 * Creates a farm with the defaults: listeners on `0.0.0.0:10000+N`,
 * routing repaired before a listener starts. Set users or an allowlist
 * (through a configuration), or listen on loopback.
 *
 * Returns: (transfer full): a new [class@DongleFarm]
 *
 * Since: 0.2
 */
PkDongleFarm *
pk_dongle_farm_new (PkDongleMonitor *monitor)
{
  PkDongleFarm *self;

  g_return_val_if_fail (PK_IS_DONGLE_MONITOR (monitor), NULL);

  self = g_object_new (PK_TYPE_DONGLE_FARM, NULL);
  self->monitor = g_object_ref (monitor);
  return self;
}

/**
 * pk_dongle_farm_config_enabled:
 * @config: a configuration
 * @error: return location for a `GError`
 *
 * %TRUE if `[dongles] auto = true`; %FALSE otherwise, or with @error set if
 * the value is not a boolean.
 *
 * Returns: %TRUE if `[dongles] auto = true`; %FALSE otherwise, or with
 *   @error set if the value is not a boolean
 *
 * Since: 0.2
 */
gboolean
pk_dongle_farm_config_enabled (PkConfig  *config,
                               GError   **error)
{
  gboolean on = FALSE;

  g_return_val_if_fail (PK_IS_CONFIG (config), FALSE);
  if (!pk_config_has_section (config, "dongles"))
    return FALSE;
  if (!pk_config_get_boolean (config, "dongles", "auto", NULL, FALSE, &on, error))
    return FALSE;
  return on;
}

static gboolean
is_loopback (const char *address)
{
  g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (address);

  return inet != NULL && g_inet_address_get_is_loopback (inet);
}

/* Reads dongle @id's settings, checking each value. */
static gboolean
read_settings (PkDongleFarm  *self,
               guint          id,
               Settings      *out,
               GError       **error)
{
  g_autofree char *section = g_strdup_printf ("dongle:%u", id);
  PkConfig *config = self->config;
  gboolean has = config != NULL && pk_config_has_section (config, section);
  guint64 port = self->port_base + id, ttl = self->ttl;

  if (has && (!pk_config_get_uint (config, section, "socks_port", NULL, 1, 65535, port, &port, error) ||
              !pk_config_get_uint (config, section, "ttl", NULL, 0, 255, ttl, &ttl, error)))
    return FALSE;
  if (port < 1 || port > 65535)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_CONFIG,
                   "dongle %u: port-base %u + %u is past 65535; set [%s] socks_port", id, self->port_base, id, section);
      return FALSE;
    }
  out->port = (guint) port;
  out->ttl = (guint) ttl;
  out->users = has ? pk_config_dup_string (config, section, "users", NULL, self->users) : g_strdup (self->users);
  out->allow = has ? pk_config_dup_string (config, section, "allow", NULL, self->allow) : g_strdup (self->allow);
  if (!is_loopback (self->listen_address) && !self->allow_open && out->users == NULL && out->allow == NULL)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_CONFIG,
                   "dongle %u: a listener on %s needs users or a client allowlist ([dongles] users or allow, "
                   "or [%s] users or allow); or set [dongles] allow-open = true if that is meant",
                   id, self->listen_address, section);
      settings_clear (out);
      return FALSE;
    }
  return TRUE;
}

/* Users and allowlist on a server, naming the section on error. */
static gboolean
apply_access (PkDongleFarm   *self,
              guint           id,
              Settings       *s,
              PkSocksServer  *server,
              GError        **error)
{
  /* The server holds the same rule; the check above names the section. */
  pk_socks_server_set_allow_open (server, self->allow_open);
  if (!pk_socks_server_set_users_file (server, s->users, error) ||
      !pk_socks_server_set_allowlist (server, s->allow, error))
    {
      g_prefix_error (error, "dongle %u: ", id);
      return FALSE;
    }
  return TRUE;
}

/**
 * pk_dongle_farm_new_from_config:
 * @config: the configuration
 * @error: return location for a `GError`
 *
 * Creates a farm, and the monitor it follows, from `[dongles]`: `port-base`
 * (10000), `listen` (`0.0.0.0`), `users`, `allow`, `ttl`, `allow-open`,
 * `connect-timeout`, `idle-timeout` for every listener; `modeswitch`
 * (false) to switch mass-storage dongles; `routing` (`auto`, `rtnetlink`,
 * `networkmanager` or `off`); `state-dir` (`PROXYKIT_STATE_DIR`, else
 * %PK_STATE_DIR_DEFAULT) for the USB map and the listeners' node states.
 * `[dongle:N]` sections override `socks_port`, `users`, `allow` and `ttl`
 * of dongle N. Every value is checked now: a bad one is an error naming
 * the file, line, section and key.
 *
 * Returns: (transfer full) (nullable): a new [class@DongleFarm], or %NULL with
 *   @error set (%PK_ERROR_CONFIG)
 *
 * Since: 0.2
 */
PkDongleFarm *
pk_dongle_farm_new_from_config (PkConfig  *config,
                                GError   **error)
{
  g_autoptr(PkDongleMonitor) monitor = NULL;
  g_autoptr(PkDongleFarm) self = NULL;
  g_autofree char *listen = NULL;
  g_auto(GStrv) sections = NULL;
  g_autoptr(GError) local_error = NULL;
  guint64 port_base, ttl;

  g_return_val_if_fail (PK_IS_CONFIG (config), NULL);

  if (pk_config_has_section (config, "dongles") &&
      !pk_config_check_keys (config, "dongles", dongles_keys, error))
    return NULL;
  sections = pk_config_list_sections (config, "dongle");
  for (guint i = 0; sections[i] != NULL; i++)
    {
      g_autofree char *section = g_strconcat ("dongle:", sections[i], NULL);
      guint64 n;

      if (!g_ascii_string_to_unsigned (sections[i], 10, 1, 255, &n, NULL))
        {
          g_autofree char *where = pk_config_describe (config, section, NULL);
          g_set_error (error, PK_ERROR, PK_ERROR_CONFIG, "%s: '%s' is not a dongle number (1-255)",
                       where ? where : section, sections[i]);
          return NULL;
        }
      if (!pk_config_check_keys (config, section, pk_dongle_get_config_keys (), error))
        return NULL;
    }

  monitor = pk_dongle_monitor_new_from_config (config, error);
  if (monitor == NULL)
    return NULL;
  self = pk_dongle_farm_new (monitor);
  self->config = g_object_ref (config);

  if (!pk_config_get_uint (config, "dongles", "port-base", NULL, 1, 65535,
                           PK_DONGLE_FARM_DEFAULT_PORT_BASE, &port_base, error) ||
      !pk_config_get_uint (config, "dongles", "ttl", NULL, 0, 255, 0, &ttl, error) ||
      !pk_config_get_boolean (config, "dongles", "allow-open", NULL, FALSE, &self->allow_open, error) ||
      !pk_config_get_duration_ms (config, "dongles", "connect-timeout", "SOCKS_CONNECT_TIMEOUT", 0,
                                  &self->connect_timeout_ms, error) ||
      !pk_config_get_duration_ms (config, "dongles", "idle-timeout", "SOCKS_IDLE_TIMEOUT", 0,
                                  &self->idle_timeout_ms, error))
    return NULL;
  self->port_base = (guint) port_base;
  self->ttl = (guint) ttl;
  self->users = pk_config_dup_string (config, "dongles", "users", NULL, NULL);
  self->allow = pk_config_dup_string (config, "dongles", "allow", NULL, NULL);
  listen = pk_config_dup_string (config, "dongles", "listen", NULL, "0.0.0.0");
  if (!pk_dongle_farm_set_listen_address (self, listen, &local_error))
    {
      g_autofree char *where = pk_config_describe (config, "dongles", "listen");
      g_set_error (error, PK_ERROR, PK_ERROR_CONFIG, "%s: %s", where ? where : "[dongles] listen",
                   local_error->message);
      return NULL;
    }
  if (!pk_routing_backend_from_config (config, &self->routing, &self->routing_backend, error))
    return NULL;

  /* Every [dongle:N] now, so that a bad users file or allowlist stops the
   * start instead of the dongle's plug-in. */
  for (guint i = 0; sections[i] != NULL; i++)
    {
      guint id = (guint) g_ascii_strtoull (sections[i], NULL, 10);
      g_autoptr(PkSocksServer) scratch = pk_socks_server_new ();
      Settings s = { 0 };
      gboolean ok = read_settings (self, id, &s, error) && apply_access (self, id, &s, scratch, error);

      settings_clear (&s);
      if (!ok)
        return NULL;
    }
  {
    g_autoptr(PkSocksServer) scratch = pk_socks_server_new ();
    Settings s = { 0 };
    gboolean ok;

    /* The [dongles] defaults alone (a dongle with no section). */
    ok = read_settings (self, 0, &s, error) && apply_access (self, 0, &s, scratch, error);
    settings_clear (&s);
    if (!ok)
      return NULL;
  }

  self->store = g_object_ref (pk_usb_map_get_store (pk_dongle_monitor_get_usb_map (monitor)));
  return g_steal_pointer (&self);
}

/**
 * pk_dongle_farm_get_monitor:
 * @self: a [class@DongleFarm]
 *
 * The monitor the farm follows.
 *
 * Returns: (transfer none): the monitor the farm follows
 *
 * Since: 0.2
 */
PkDongleMonitor *
pk_dongle_farm_get_monitor (PkDongleFarm *self)
{
  g_return_val_if_fail (PK_IS_DONGLE_FARM (self), NULL);
  return self->monitor;
}

/**
 * pk_dongle_farm_set_workers:
 * @self: a [class@DongleFarm]
 * @workers: (nullable): worker threads for the listeners, or %NULL to
 *   serve in the main context
 *
 * Sets where listeners started from now on serve.
 *
 * Since: 0.2
 */
void
pk_dongle_farm_set_workers (PkDongleFarm *self,
                            PkWorkers    *workers)
{
  g_return_if_fail (PK_IS_DONGLE_FARM (self));
  g_set_object (&self->workers, workers);
}

/**
 * pk_dongle_farm_set_state_store:
 * @self: a [class@DongleFarm]
 * @store: (nullable): where to record the listeners as nodes `dongle-N`
 *
 * Sets where listeners are recorded.
 *
 * Since: 0.2
 */
void
pk_dongle_farm_set_state_store (PkDongleFarm *self,
                                PkStateStore *store)
{
  g_return_if_fail (PK_IS_DONGLE_FARM (self));
  g_set_object (&self->store, store);
}

/**
 * pk_dongle_farm_get_port_base:
 * @self: a [class@DongleFarm]
 *
 * The port of dongle N's listener is this plus N.
 *
 * Returns: the port of dongle N's listener is this plus N
 *
 * Since: 0.2
 */
guint
pk_dongle_farm_get_port_base (PkDongleFarm *self)
{
  g_return_val_if_fail (PK_IS_DONGLE_FARM (self), 0);
  return self->port_base;
}

/**
 * pk_dongle_farm_set_port_base:
 * @self: a [class@DongleFarm]
 * @port_base: the base (1-65535)
 *
 * Sets the port base: dongle N listens on @port_base + N.
 *
 * Since: 0.2
 */
void
pk_dongle_farm_set_port_base (PkDongleFarm *self,
                              guint         port_base)
{
  g_return_if_fail (PK_IS_DONGLE_FARM (self));
  g_return_if_fail (port_base >= 1 && port_base <= 65535);
  self->port_base = port_base;
}

/**
 * pk_dongle_farm_get_listen_address:
 * @self: a [class@DongleFarm]
 *
 * The address the listeners bind.
 *
 * Returns: the address the listeners bind
 *
 * Since: 0.2
 */
const char *
pk_dongle_farm_get_listen_address (PkDongleFarm *self)
{
  g_return_val_if_fail (PK_IS_DONGLE_FARM (self), NULL);
  return self->listen_address;
}

/**
 * pk_dongle_farm_set_listen_address:
 * @self: a [class@DongleFarm]
 * @address: an IPv4 or IPv6 address (`0.0.0.0`, `127.0.0.1`, `::`)
 * @error: return location for a `GError`
 *
 * Sets the address the listeners bind.
 *
 * Returns: %TRUE, or %FALSE with @error set if @address is not an address
 *
 * Since: 0.2
 */
gboolean
pk_dongle_farm_set_listen_address (PkDongleFarm  *self,
                                   const char    *address,
                                   GError       **error)
{
  g_autoptr(GInetAddress) inet = NULL;

  g_return_val_if_fail (PK_IS_DONGLE_FARM (self), FALSE);

  inet = address ? g_inet_address_new_from_string (address) : NULL;
  if (inet == NULL)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                   "'%s' is not an IPv4 or IPv6 address", address ? address : "(null)");
      return FALSE;
    }
  g_free (self->listen_address);
  self->listen_address = g_strdup (address);
  return TRUE;
}

/**
 * pk_dongle_farm_get_routing:
 * @self: a [class@DongleFarm]
 *
 * Whether a dongle's routing is repaired before its listener starts.
 *
 * Returns: whether a dongle's routing is repaired before its listener starts
 *
 * Since: 0.2
 */
gboolean
pk_dongle_farm_get_routing (PkDongleFarm *self)
{
  g_return_val_if_fail (PK_IS_DONGLE_FARM (self), FALSE);
  return self->routing;
}

/**
 * pk_dongle_farm_set_routing:
 * @self: a [class@DongleFarm]
 * @routing: whether to repair a dongle's routing before its listener starts
 * @backend: how ([enum@RoutingBackend])
 *
 * Sets whether and how routing is repaired.
 *
 * Since: 0.2
 */
void
pk_dongle_farm_set_routing (PkDongleFarm     *self,
                            gboolean          routing,
                            PkRoutingBackend  backend)
{
  g_return_if_fail (PK_IS_DONGLE_FARM (self));
  self->routing = !!routing;
  self->routing_backend = backend;
}

/* --- listeners --- */

static char *
node_name (guint id)
{
  return g_strdup_printf (PK_DONGLE_FARM_NODE_PREFIX "%u", id);
}

static void
record (PkDongleFarm *self,
        Slot         *slot,
        gboolean      online,
        const char   *reason)
{
  g_autofree char *name = node_name (slot->id);
  g_autoptr(PkNodeState) state = NULL;
  g_autoptr(GError) error = NULL;

  if (self->store == NULL)
    return;
  state = pk_state_store_load_locked (self->store, name, &error);
  if (state == NULL)
    {
      g_warning ("dongle %u: %s", slot->id, error->message);
      return;
    }
  if (online)
    {
      pk_node_state_set_socks (state, slot->listen, getpid ());
      pk_node_state_set_dongle (state, slot->id, slot->interface, slot->address);
      pk_node_state_set_status (state, PK_NODE_STATUS_ONLINE, NULL);
    }
  else
    {
      pk_node_state_clear_socks (state);
      pk_node_state_set_status (state, PK_NODE_STATUS_STOPPED, reason);
    }
  pk_node_state_set_last_change (state, g_get_real_time () / G_USEC_PER_SEC);
  if (!pk_state_store_save_unlock (self->store, state, &error))
    g_warning ("dongle %u: %s", slot->id, error->message);
}

static char *
format_listen (const char *address,
               guint       port)
{
  return strchr (address, ':') ? g_strdup_printf ("[%s]:%u", address, port)
                               : g_strdup_printf ("%s:%u", address, port);
}

static void
start_listener (PkDongleFarm *self,
                Slot         *slot)
{
  g_autoptr(PkSocksServer) server = pk_socks_server_new ();
  g_autoptr(PkEgress) egress = pk_dongle_dup_egress (slot->dongle);
  g_autoptr(GError) error = NULL;
  g_autofree char *name = node_name (slot->id);
  g_autofree char *listen = NULL;
  g_autofree char *egress_text = NULL;
  Settings s = { 0 };

  if (egress == NULL)
    return;
  if (!read_settings (self, slot->id, &s, &error) || !apply_access (self, slot->id, &s, server, &error))
    {
      g_warning ("dongle %u: no listener: %s", slot->id, error->message);
      settings_clear (&s);
      return;
    }
  pk_egress_set_ttl (egress, s.ttl);
  pk_socks_server_set_name (server, name);
  pk_socks_server_set_egress (server, egress);
  if (self->connect_timeout_ms > 0)
    pk_socks_server_set_connect_timeout (server, (guint) MIN (self->connect_timeout_ms, G_MAXUINT));
  if (self->idle_timeout_ms > 0)
    pk_socks_server_set_idle_timeout (server, (guint) MIN (self->idle_timeout_ms, G_MAXUINT));
  if (self->workers != NULL)
    pk_socks_server_set_workers (server, self->workers);
  listen = format_listen (self->listen_address, s.port);
  settings_clear (&s);
  if (!pk_socks_server_listen (server, listen, &error))
    {
      g_warning ("dongle %u: cannot listen on %s: %s", slot->id, listen, error->message);
      return;
    }
  slot->server = g_steal_pointer (&server);
  slot->listen = g_steal_pointer (&listen);
  egress_text = pk_egress_to_string (egress);
  g_message ("dongle %u: listener on %s, egress %s", slot->id, slot->listen, egress_text);
  record (self, slot, TRUE, NULL);
  g_signal_emit (self, signals[SIGNAL_LISTENER_STARTED], 0, slot->dongle, slot->server);
}

static void
on_routed (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  PkDongleFarm *self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PkRoutingDiagnosis) d = pk_routing_repair_finish (PK_ROUTING (source), result, &error);
  PkDongle *dongle = pk_routing_get_dongle (PK_ROUTING (source));
  guint id = pk_dongle_get_id (dongle);
  Slot *slot;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_object_unref (self);
      return;
    }
  if (d == NULL)
    g_warning ("dongle %u: %s; its listener starts anyway", id, error->message);
  else
    {
      const char * const *actions = pk_routing_diagnosis_get_actions (d);
      g_autofree char *text = pk_routing_diagnosis_to_string (d);

      if (!pk_routing_diagnosis_get_healthy (d))
        g_warning ("%s", text);
      else if (actions[0] != NULL)
        g_message ("%s", text);
    }
  slot = g_hash_table_lookup (self->slots, GUINT_TO_POINTER (id));
  if (slot != NULL && slot->dongle == dongle && slot->server == NULL)
    {
      g_clear_object (&slot->cancellable);
      start_listener (self, slot);
    }
  g_object_unref (self);
}

static void
stop_slot (PkDongleFarm *self,
           guint         id,
           const char   *reason)
{
  Slot *slot = g_hash_table_lookup (self->slots, GUINT_TO_POINTER (id));
  gboolean had_server;

  if (slot == NULL)
    return;
  had_server = slot->server != NULL;
  if (had_server)
    {
      g_message ("dongle %u: listener on %s stopped: %s", id, slot->listen, reason);
      record (self, slot, FALSE, reason);
    }
  g_hash_table_remove (self->slots, GUINT_TO_POINTER (id));
  if (had_server)
    g_signal_emit (self, signals[SIGNAL_LISTENER_STOPPED], 0, id);
}

static void
ensure_slot (PkDongleFarm *self,
             PkDongle     *dongle)
{
  guint id = pk_dongle_get_id (dongle);
  Slot *slot = g_hash_table_lookup (self->slots, GUINT_TO_POINTER (id));

  if (slot != NULL && slot->dongle == dongle &&
      g_strcmp0 (slot->interface, pk_dongle_get_interface (dongle)) == 0 &&
      g_strcmp0 (slot->address, pk_dongle_get_host_address (dongle)) == 0)
    return;
  if (slot != NULL)
    stop_slot (self, id, "the dongle's egress changed");

  slot = g_new0 (Slot, 1);
  slot->id = id;
  slot->dongle = g_object_ref (dongle);
  slot->interface = g_strdup (pk_dongle_get_interface (dongle));
  slot->address = g_strdup (pk_dongle_get_host_address (dongle));
  g_hash_table_insert (self->slots, GUINT_TO_POINTER (id), slot);

  if (self->routing)
    {
      g_autoptr(PkRouting) routing = pk_routing_new (dongle);

      pk_routing_set_backend (routing, self->routing_backend);
      slot->cancellable = g_cancellable_new ();
      pk_routing_repair_async (routing, slot->cancellable, on_routed, g_object_ref (self));
    }
  else
    start_listener (self, slot);
}

/* The listeners the dongles call for now: one per ready dongle number. */
static void
reconcile (PkDongleFarm *self)
{
  g_autoptr(GPtrArray) dongles = pk_dongle_monitor_list_dongles (self->monitor);
  g_autoptr(GArray) gone = g_array_new (FALSE, FALSE, sizeof (guint));
  GHashTableIter iter;
  gpointer key, value;

  for (guint i = 0; i < dongles->len; i++)
    {
      PkDongle *d = g_ptr_array_index (dongles, i);

      /* Of two dongles claiming one number, the monitor says which. */
      if (pk_dongle_is_ready (d) && pk_dongle_monitor_get_dongle (self->monitor, pk_dongle_get_id (d)) == d)
        ensure_slot (self, d);
    }
  g_hash_table_iter_init (&iter, self->slots);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      Slot *slot = value;
      PkDongle *now = pk_dongle_monitor_get_dongle (self->monitor, slot->id);

      if (now != slot->dongle || !pk_dongle_is_ready (now))
        g_array_append_val (gone, slot->id);
    }
  for (guint i = 0; i < gone->len; i++)
    {
      guint id = g_array_index (gone, guint, i);
      PkDongle *now = pk_dongle_monitor_get_dongle (self->monitor, id);

      stop_slot (self, id, now == NULL ? "the dongle is gone" : "the dongle is not ready");
    }
}

static void
on_dongle_event (PkDongleMonitor *monitor,
                 PkDongle        *dongle,
                 gpointer         user_data)
{
  reconcile (user_data);
}

/**
 * pk_dongle_farm_start:
 * @self: a [class@DongleFarm]
 * @error: return location for a `GError`
 *
 * Starts the monitor (if it does not run yet) and a listener for each
 * ready dongle, and from then on follows the dongles in the thread-default
 * main context.
 *
 * Returns: %TRUE, or %FALSE with @error set (the monitor cannot start)
 *
 * Since: 0.2
 */
gboolean
pk_dongle_farm_start (PkDongleFarm  *self,
                      GError       **error)
{
  g_return_val_if_fail (PK_IS_DONGLE_FARM (self), FALSE);

  if (self->started)
    return TRUE;
  self->handlers[0] = g_signal_connect (self->monitor, "dongle-added", G_CALLBACK (on_dongle_event), self);
  self->handlers[1] = g_signal_connect (self->monitor, "dongle-changed", G_CALLBACK (on_dongle_event), self);
  self->handlers[2] = g_signal_connect (self->monitor, "dongle-removed", G_CALLBACK (on_dongle_event), self);
  self->started = TRUE;
  if (!pk_dongle_monitor_start (self->monitor, error))
    {
      pk_dongle_farm_close (self);
      return FALSE;
    }
  reconcile (self);
  return TRUE;
}

static void
disconnect (PkDongleFarm *self)
{
  for (guint i = 0; i < G_N_ELEMENTS (self->handlers); i++)
    if (self->handlers[i] != 0)
      {
        g_signal_handler_disconnect (self->monitor, self->handlers[i]);
        self->handlers[i] = 0;
      }
  self->started = FALSE;
}

/**
 * pk_dongle_farm_close:
 * @self: a [class@DongleFarm]
 *
 * Stops following the dongles and closes every listener and its sessions
 * now, recording each as stopped.
 *
 * Since: 0.2
 */
void
pk_dongle_farm_close (PkDongleFarm *self)
{
  g_autoptr(GList) ids = NULL;

  g_return_if_fail (PK_IS_DONGLE_FARM (self));

  if (self->monitor != NULL)
    disconnect (self);
  ids = g_hash_table_get_keys (self->slots);
  for (GList *l = ids; l != NULL; l = l->next)
    stop_slot (self, GPOINTER_TO_UINT (l->data), "stopped");
}

typedef struct {
  guint pending;
} Stop;

static void
on_server_stopped (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  GTask *task = user_data;
  Stop *s = g_task_get_task_data (task);

  pk_socks_server_stop_finish (PK_SOCKS_SERVER (source), result, NULL);
  if (--s->pending == 0)
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

/**
 * pk_dongle_farm_stop_async:
 * @self: a [class@DongleFarm]
 * @drain_timeout_ms: how long live sessions may go on
 * @cancellable: (nullable): a `GCancellable`
 * @callback: called when every listener has stopped
 * @user_data: data for @callback
 *
 * Stops following the dongles, stops accepting on every listener, and
 * lets live sessions finish for up to @drain_timeout_ms (what SIGTERM
 * does in pk-socks). The listeners are recorded as stopped.
 *
 * Since: 0.2
 */
void
pk_dongle_farm_stop_async (PkDongleFarm        *self,
                           guint                drain_timeout_ms,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GPtrArray) servers = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer value;
  Stop *s;

  g_return_if_fail (PK_IS_DONGLE_FARM (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_dongle_farm_stop_async);
  s = g_new0 (Stop, 1);
  g_task_set_task_data (task, s, g_free);
  disconnect (self);

  g_hash_table_iter_init (&iter, self->slots);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Slot *slot = value;

      if (slot->server == NULL)
        continue;
      g_ptr_array_add (servers, g_object_ref (slot->server));
      record (self, slot, FALSE, "stopped");
      g_clear_object (&slot->server);
    }
  g_hash_table_remove_all (self->slots);

  s->pending = servers->len + 1;
  for (guint i = 0; i < servers->len; i++)
    pk_socks_server_stop_async (g_ptr_array_index (servers, i), drain_timeout_ms, cancellable,
                                on_server_stopped, g_object_ref (task));
  if (--s->pending == 0)
    g_task_return_boolean (task, TRUE);
}

/**
 * pk_dongle_farm_stop_finish:
 * @self: a [class@DongleFarm]
 * @result: the result
 * @error: return location for a `GError`
 *
 * Finishes the operation that `pk_dongle_farm_stop_async()` started.
 *
 * Returns: %TRUE once every listener has stopped
 *
 * Since: 0.2
 */
gboolean
pk_dongle_farm_stop_finish (PkDongleFarm  *self,
                            GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (PK_IS_DONGLE_FARM (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * pk_dongle_farm_get_n_listeners:
 * @self: a [class@DongleFarm]
 *
 * How many dongles have a listener now.
 *
 * Returns: how many dongles have a listener now
 *
 * Since: 0.2
 */
guint
pk_dongle_farm_get_n_listeners (PkDongleFarm *self)
{
  GHashTableIter iter;
  gpointer value;
  guint n = 0;

  g_return_val_if_fail (PK_IS_DONGLE_FARM (self), 0);

  g_hash_table_iter_init (&iter, self->slots);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    n += ((Slot *) value)->server != NULL;
  return n;
}

/**
 * pk_dongle_farm_get_server:
 * @self: a [class@DongleFarm]
 * @id: a dongle number
 *
 * Dongle @id's listener, or %NULL if it has none
 * now.
 *
 * Returns: (transfer none) (nullable): dongle @id's listener, or %NULL if
 *   it has none now
 *
 * Since: 0.2
 */
PkSocksServer *
pk_dongle_farm_get_server (PkDongleFarm *self,
                           guint         id)
{
  Slot *slot;

  g_return_val_if_fail (PK_IS_DONGLE_FARM (self), NULL);
  slot = g_hash_table_lookup (self->slots, GUINT_TO_POINTER (id));
  return slot ? slot->server : NULL;
}

static gint
compare_uint (gconstpointer a,
              gconstpointer b)
{
  guint x = GPOINTER_TO_UINT (*(gconstpointer *) a), y = GPOINTER_TO_UINT (*(gconstpointer *) b);

  return x < y ? -1 : x > y;
}

/* The slots with a listener now, by dongle number. */
static GPtrArray *
serving_slots (PkDongleFarm *self)
{
  g_autoptr(GPtrArray) ids = g_ptr_array_new ();
  GPtrArray *slots = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, self->slots);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (ids, key);
  g_ptr_array_sort (ids, compare_uint);
  for (guint i = 0; i < ids->len; i++)
    {
      Slot *slot = g_hash_table_lookup (self->slots, g_ptr_array_index (ids, i));

      if (slot->server != NULL)
        g_ptr_array_add (slots, slot);
    }
  return slots;
}

/**
 * pk_dongle_farm_dup_servers:
 * @self: a [class@DongleFarm]
 *
 * The listeners the dongles have now, by dongle number; each is named
 * `dongle-N` (see [method@SocksServer.get_name]). For
 * [func@SocksServer.dup_prometheus] together with other listeners, say.
 *
 * Returns: (transfer full) (element-type PkSocksServer): the listeners
 *
 * Since: 0.2
 */
GPtrArray *
pk_dongle_farm_dup_servers (PkDongleFarm *self)
{
  g_autoptr(GPtrArray) slots = NULL;
  GPtrArray *servers;

  g_return_val_if_fail (PK_IS_DONGLE_FARM (self), NULL);

  slots = serving_slots (self);
  servers = g_ptr_array_new_full (slots->len, g_object_unref);
  for (guint i = 0; i < slots->len; i++)
    g_ptr_array_add (servers, g_object_ref (((Slot *) g_ptr_array_index (slots, i))->server));
  return servers;
}

/**
 * pk_dongle_farm_to_json:
 * @self: a [class@DongleFarm]
 *
 * The listeners as a JSON array, by dongle number:
 * `dongle`, `listen`, `port`, `interface`, `egress_ip`, `sessions_active`,
 * `sessions_total`.
 *
 * Returns: (transfer full): the listeners as a JSON array, by dongle
 *   number: `dongle`, `listen`, `port`, `interface`, `egress_ip`,
 *   `sessions_active`, `sessions_total`
 *
 * Since: 0.2
 */
char *
pk_dongle_farm_to_json (PkDongleFarm *self)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GPtrArray) slots = NULL;

  g_return_val_if_fail (PK_IS_DONGLE_FARM (self), NULL);

  slots = serving_slots (self);
  json_builder_begin_array (b);
  for (guint i = 0; i < slots->len; i++)
    {
      Slot *slot = g_ptr_array_index (slots, i);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "dongle");
      json_builder_add_int_value (b, slot->id);
      json_builder_set_member_name (b, "listen");
      json_builder_add_string_value (b, slot->listen);
      json_builder_set_member_name (b, "port");
      json_builder_add_int_value (b, pk_socks_server_get_port (slot->server));
      json_builder_set_member_name (b, "interface");
      json_builder_add_string_value (b, slot->interface);
      json_builder_set_member_name (b, "egress_ip");
      json_builder_add_string_value (b, slot->address);
      json_builder_set_member_name (b, "sessions_active");
      json_builder_add_int_value (b, pk_socks_server_get_sessions_active (slot->server));
      json_builder_set_member_name (b, "sessions_total");
      json_builder_add_int_value (b, (gint64) pk_socks_server_get_sessions_total (slot->server));
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  root = json_builder_get_root (b);
  return json_to_string (root, TRUE);
}
