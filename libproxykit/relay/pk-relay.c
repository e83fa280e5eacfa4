/* pk-relay.c: TCP and UDP port relays
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkRelay:
 *
 * A set of port relays, each a [struct@RelayRule]: traffic that reaches an
 * inbound port goes 1:1, unchanged, to an outbound host and port. It
 * replaces socat (TCP) and iptables DNAT (UDP).
 *
 * TCP connections are accepted, connected upstream through the rule's
 * [class@Egress] with the connect timeout (the outbound name is resolved
 * through the egress, and again when a connect fails in a way that says
 * the host may have moved), given TCP keepalive on both sides, and handed
 * to a [class@Bridge] (splice, half-close, idle timeout).
 *
 * UDP datagrams make a session per client address, each with its own
 * upstream socket; replies go back to the client from the address it
 * sent to. Sessions end after the idle timeout; their number is capped.
 * Datagrams are read and written in batches (`recvmmsg`, `sendmmsg`).
 *
 * A rule may have a health check, a TCP connect to the outbound host
 * with a timeout and a number of retries; a rule whose upstream is down
 * keeps listening, and the check goes on until it is up again.
 *
 * [method@Relay.set_rules] applies a new set of rules the way a reload
 * should: rules that are new start, rules that are gone stop, rules that
 * did not change keep their listening socket and live connections.
 *
 * ```c
 * g_autoptr(PkRelay) relay = pk_relay_new ();
 * g_autoptr(PkRelayRule) rule = pk_relay_rule_new_from_string ("50025;25;192.0.2.10;TCP", &error);
 *
 * if (!pk_relay_add_rule (relay, rule, &error))
 *   return FALSE;
 * // ... run the main loop; later:
 * g_autofree char *json = pk_relay_dup_status_json (relay);
 * ```
 *
 * Since: 0.1
 */

#include "config.h"

#include <string.h>

#include <json-glib/json-glib.h>

#include "pk-error.h"
#include "pk-prom-private.h"
#include "pk-relay.h"
#include "pk-relay-private.h"
#include "pk-workers-private.h"

struct _PkRelay
{
  GObject parent_instance;

  GPtrArray *listeners;         /* of PkRelayListener, in rule order */
  PkEgress *default_egress;
  PkWorkers *workers;           /* nullable: TCP rules then run here */
  gboolean kernel_nat;
  GPtrArray *nat_rules;         /* UDP rules in nftables, when kernel_nat */
  gboolean nat_table_active;
  gint *connections;            /* atomic rc box: open TCP connections */
  /* From pk_relay_new_from_config(): the rules not started yet, and the
   * rules given apart from the configuration, which every reload reads
   * again. */
  GPtrArray *configured;
  char **specs;
};

#define NFT_TABLE "pk_relay"

G_DEFINE_FINAL_TYPE (PkRelay, pk_relay, G_TYPE_OBJECT)

static void listener_stop (PkRelayListener *listener);

static void
pk_relay_dispose (GObject *object)
{
  PkRelay *self = PK_RELAY (object);

  pk_relay_stop (self);

  G_OBJECT_CLASS (pk_relay_parent_class)->dispose (object);
}

static void
pk_relay_finalize (GObject *object)
{
  PkRelay *self = PK_RELAY (object);

  g_clear_pointer (&self->listeners, g_ptr_array_unref);
  g_clear_object (&self->default_egress);
  g_clear_object (&self->workers);
  g_clear_pointer (&self->nat_rules, g_ptr_array_unref);
  g_atomic_rc_box_release (self->connections);
  g_clear_pointer (&self->configured, g_ptr_array_unref);
  g_strfreev (self->specs);

  G_OBJECT_CLASS (pk_relay_parent_class)->finalize (object);
}

static void
pk_relay_class_init (PkRelayClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pk_relay_dispose;
  object_class->finalize = pk_relay_finalize;
}

static void
pk_relay_init (PkRelay *self)
{
  self->listeners = g_ptr_array_new_with_free_func ((GDestroyNotify) pk_relay_listener_unref);
  self->default_egress = pk_egress_new ();
  self->nat_rules = g_ptr_array_new_with_free_func ((GDestroyNotify) pk_relay_rule_unref);
  self->connections = g_atomic_rc_box_new0 (gint);
}

/**
 * pk_relay_new:
 *
 * Creates a relay with no rules.
 *
 * Returns: (transfer full): a new [class@Relay]
 *
 * Since: 0.1
 */
PkRelay *
pk_relay_new (void)
{
  return g_object_new (PK_TYPE_RELAY, NULL);
}

/**
 * pk_relay_new_from_config:
 * @config: a [class@Config]
 * @specs: (nullable) (array zero-terminated=1): more rules in the
 *   `in_port;out_port;out_host;TCP|UDP` format, such as a tool's arguments
 * @error: return location for a `GError`
 *
 * Builds a relay from a configuration, as pk-relay does: every rule of
 * [func@Relay.rules_load] and @specs, with the precedence of every
 * [class@Config] lookup: an override (a flag), the environment, the file,
 * the default. The `[relay]` section holds what belongs to the whole
 * relay: `listen-address` (`RELAY_LISTEN_ADDRESS`; the inbound address of
 * rules that name none) and `kernel-nat` (`RELAY_KERNEL_NAT`; see
 * [method@Relay.set_kernel_nat]), besides the options every rule defaults
 * to and `metrics-listen`, which the tool reads. A `[relay:NAME]` section
 * that sets one of those is an error that names it.
 *
 * Every rule is read and checked here, and a configuration without rules
 * is an error; nothing listens until [method@Relay.start].
 *
 * Returns: (transfer full): the relay, or %NULL with @error set
 *   (%PK_ERROR_CONFIG) naming the bad value and where it came from
 *
 * Since: 0.2
 */
PkRelay *
pk_relay_new_from_config (PkConfig            *config,
                          const char * const  *specs,
                          GError             **error)
{
  g_autoptr(PkRelay) self = NULL;
  g_autoptr(GPtrArray) rules = NULL;
  gboolean kernel_nat = FALSE;

  g_return_val_if_fail (PK_IS_CONFIG (config), NULL);

  rules = pk_relay_config_load (config, specs, &kernel_nat, error);
  if (rules == NULL)
    return NULL;
  self = pk_relay_new ();
  self->kernel_nat = kernel_nat;
  self->configured = g_steal_pointer (&rules);
  self->specs = g_strdupv ((char **) specs);
  return g_steal_pointer (&self);
}

/**
 * pk_relay_start:
 * @self: a [class@Relay] from [ctor@Relay.new_from_config]
 * @error: return location for a `GError`
 *
 * Starts the rules of the configuration the relay was made from (in the
 * thread-default main context, or on the relay's [class@Workers]). A rule
 * that cannot listen does not stop the others (see
 * [method@Relay.set_rules]). A relay that was not made from a
 * configuration, or has started already, has nothing to start.
 *
 * Returns: %TRUE, or %FALSE with @error set, naming the rules that could not
 *   listen
 *
 * Since: 0.2
 */
gboolean
pk_relay_start (PkRelay  *self,
                GError  **error)
{
  g_autoptr(GPtrArray) rules = NULL;

  g_return_val_if_fail (PK_IS_RELAY (self), FALSE);

  rules = g_steal_pointer (&self->configured);
  if (rules == NULL)
    return TRUE;
  return pk_relay_set_rules (self, rules, error);
}

/**
 * pk_relay_reload_from_config:
 * @self: a [class@Relay] from [ctor@Relay.new_from_config]
 * @config: the configuration read again
 * @error: return location for a `GError`
 *
 * Reads the rules of @config (with the rules given to
 * [ctor@Relay.new_from_config] apart) and applies them as
 * [method@Relay.set_rules] does: unchanged rules keep their connections.
 * A configuration that fails to load, or has no rules, changes nothing.
 * `kernel-nat` is read at construction only.
 *
 * Returns: %TRUE, or %FALSE with @error set
 *
 * Since: 0.2
 */
gboolean
pk_relay_reload_from_config (PkRelay   *self,
                             PkConfig  *config,
                             GError   **error)
{
  g_autoptr(GPtrArray) rules = NULL;
  gboolean kernel_nat;

  g_return_val_if_fail (PK_IS_RELAY (self), FALSE);
  g_return_val_if_fail (PK_IS_CONFIG (config), FALSE);

  rules = pk_relay_config_load (config, (const char * const *) self->specs, &kernel_nat, error);
  if (rules == NULL)
    return FALSE;
  g_clear_pointer (&self->configured, g_ptr_array_unref);
  return pk_relay_set_rules (self, rules, error);
}

/* --- rules --- */

static PkRelayListener *
listener_start (PkRelay      *self,
                PkRelayRule  *rule,
                GError      **error)
{
  g_autoptr(PkRelayListener) listener = NULL;
  g_autoptr(GSocketAddress) local = NULL;
  gboolean ok;

  listener = pk_relay_listener_new (rule, rule->egress ? rule->egress : self->default_egress,
                                    self->connections);
  if (rule->protocol == PK_RELAY_PROTOCOL_TCP)
    ok = pk_relay_tcp_start (listener, self->workers, error);
  else
    ok = pk_relay_udp_start (listener, error);
  if (!ok)
    {
      listener_stop (listener);
      return NULL;
    }

  local = listener->workers_id != 0
            ? pk_workers_get_listener_address (listener->workers, listener->workers_id)
            : g_socket_get_local_address (listener->socket, NULL);
  listener->bound_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));

  if (listener->literal == NULL)
    pk_relay_listener_resolve (listener);
  if (listener->health == PK_RELAY_HEALTH_UNKNOWN)
    pk_relay_health_start (listener);

  {
    g_autofree char *desc = pk_relay_rule_to_string (rule);
    g_message ("relay %s: %s", rule->name, desc);
  }
  return g_steal_pointer (&listener);
}

/* No new connections; those in progress go on. */
static void
listener_close (PkRelayListener *listener)
{
  g_atomic_int_set (&listener->stopped, TRUE);
  pk_relay_tcp_close (listener);
  if (listener->source != NULL)
    {
      g_source_destroy (listener->source);
      g_clear_pointer (&listener->source, g_source_unref);
    }
  if (listener->udp == NULL && listener->socket != NULL)
    g_socket_close (listener->socket, NULL);
}

static void
listener_stop (PkRelayListener *listener)
{
  listener_close (listener);
  pk_relay_health_stop (listener);
  if (listener->udp != NULL)
    pk_relay_udp_stop (listener);
  g_cancellable_cancel (listener->cancellable);
  if (listener->socket != NULL)
    g_socket_close (listener->socket, NULL);
}

/* Whether @b is @a's listener again. A rule on port 0 has no port of its
 * own to be known by, so its name says which one it is: without that, every
 * pk_relay_add_rule() would restart the port-0 rules before it, on a new
 * port and with their connections closed. */
static gboolean
same_listen (PkRelayRule *a,
             PkRelayRule *b)
{
  if (a->protocol != b->protocol || a->in_port != b->in_port ||
      g_strcmp0 (a->listen_address, b->listen_address) != 0)
    return FALSE;
  return a->in_port != 0 || g_str_equal (a->name, b->name);
}

static gint
find_listener (PkRelay     *self,
               PkRelayRule *rule)
{
  for (guint i = 0; i < self->listeners->len; i++)
    {
      PkRelayListener *listener = g_ptr_array_index (self->listeners, i);

      if (same_listen (listener->rule, rule))
        return i;
    }
  return -1;
}

/**
 * pk_relay_set_workers:
 * @self: a [class@Relay]
 * @workers: (nullable): worker threads to serve TCP rules on
 *
 * Serves TCP rules started from now on with @workers: a listening socket
 * per worker thread (`SO_REUSEPORT`), and each connection on the thread
 * that accepted it, so that accepting and relaying scale across cores.
 * Without workers (the default) everything runs in the thread-default
 * main context of the caller; UDP rules and health checks always do.
 *
 * Since: 0.1
 */
void
pk_relay_set_workers (PkRelay   *self,
                      PkWorkers *workers)
{
  g_return_if_fail (PK_IS_RELAY (self));
  g_return_if_fail (workers == NULL || PK_IS_WORKERS (workers));

  g_set_object (&self->workers, workers);
}

/**
 * pk_relay_set_kernel_nat:
 * @self: a [class@Relay]
 * @kernel_nat: whether UDP rules become nftables rules
 *
 * Relays UDP rules applied from now on in the kernel instead: DNAT to the
 * outbound address and masquerade towards it, in an nftables table of
 * the relay's own (`table ip pk_relay`), replaced as a whole on every
 * [method@Relay.set_rules] and deleted by [method@Relay.stop]. This is what the
 * older tools did with iptables: IPv4 only, for clients that reach the
 * host from outside, with net.ipv4.ip_forward=1; outbound names are
 * resolved when the rules are applied. Needs `nft` and CAP_NET_ADMIN.
 *
 * Since: 0.1
 */
void
pk_relay_set_kernel_nat (PkRelay  *self,
                         gboolean  kernel_nat)
{
  g_return_if_fail (PK_IS_RELAY (self));

  self->kernel_nat = !!kernel_nat;
}

/**
 * pk_relay_set_rules:
 * @self: a [class@Relay]
 * @rules: (element-type PkRelayRule): the rules to relay
 * @error: return location for a `GError`
 *
 * Makes @rules the relay's rules, as a reload does: a rule on a port and
 * protocol that was not there starts; one that is no longer there stops
 * (its live connections are closed); one that is equal to the old one
 * ([method@RelayRule.equal]) keeps its socket and its live connections. A
 * rule that changed otherwise is restarted on its port.
 *
 * The rules are checked first ([func@Relay.rules_check]): when that fails
 * nothing changes. A rule that cannot listen (its port is taken) does not
 * stop the others; the error names it.
 *
 * Returns: %TRUE, or %FALSE with @error set
 *
 * Since: 0.1
 */
gboolean
pk_relay_set_rules (PkRelay    *self,
                    GPtrArray  *rules,
                    GError    **error)
{
  g_autoptr(GPtrArray) next = NULL;
  g_autoptr(GPtrArray) socket_rules = NULL;
  g_autoptr(GString) failures = NULL;
  GError *first_error = NULL;

  g_return_val_if_fail (PK_IS_RELAY (self), FALSE);
  g_return_val_if_fail (rules != NULL, FALSE);

  if (!pk_relay_rules_check (rules, error))
    return FALSE;
  /* Rules set here replace those a configuration left to start. */
  g_clear_pointer (&self->configured, g_ptr_array_unref);

  if (self->kernel_nat)
    {
      /* UDP goes to the kernel; the table is replaced before any socket
       * changes, so that a failure leaves everything as it was. */
      g_autoptr(GPtrArray) nat = g_ptr_array_new_with_free_func ((GDestroyNotify) pk_relay_rule_unref);
      GPtrArray *sockets = g_ptr_array_new_with_free_func ((GDestroyNotify) pk_relay_rule_unref);

      for (guint i = 0; i < rules->len; i++)
        {
          PkRelayRule *rule = g_ptr_array_index (rules, i);

          g_ptr_array_add (rule->protocol == PK_RELAY_PROTOCOL_UDP ? nat : sockets,
                           pk_relay_rule_ref (rule));
        }
      if ((nat->len > 0 || self->nat_table_active) && !pk_relay_nft_apply (NFT_TABLE, nat, error))
        {
          g_ptr_array_unref (sockets);
          return FALSE;
        }
      self->nat_table_active = nat->len > 0;
      for (guint i = 0; i < nat->len; i++)
        {
          g_autofree char *desc = pk_relay_rule_to_string (g_ptr_array_index (nat, i));
          g_message ("relay %s: %s (kernel NAT)", pk_relay_rule_get_name (g_ptr_array_index (nat, i)), desc);
        }
      g_ptr_array_unref (self->nat_rules);
      self->nat_rules = g_steal_pointer (&nat);
      socket_rules = sockets;
      rules = sockets;
    }

  next = g_ptr_array_new_with_free_func ((GDestroyNotify) pk_relay_listener_unref);

  /* Keep the unchanged first, and stop what goes or changes before any
   * new socket binds, so that a changed rule can take its own port. */
  for (guint i = 0; i < rules->len; i++)
    {
      PkRelayRule *rule = g_ptr_array_index (rules, i);
      gint idx = find_listener (self, rule);

      g_ptr_array_add (next, NULL);
      if (idx >= 0)
        {
          PkRelayListener *old = g_ptr_array_index (self->listeners, idx);

          if (pk_relay_rule_equal (old->rule, rule))
            {
              /* The name may change without a restart. */
              if (!g_str_equal (old->rule->name, rule->name))
                {
                  if (old->retired_rules == NULL)
                    old->retired_rules = g_ptr_array_new_with_free_func ((GDestroyNotify) pk_relay_rule_unref);
                  g_ptr_array_add (old->retired_rules, old->rule);
                  old->rule = pk_relay_rule_ref (rule);
                }
              next->pdata[i] = g_ptr_array_steal_index (self->listeners, idx);
            }
        }
    }

  for (guint i = 0; i < self->listeners->len; i++)
    {
      PkRelayListener *old = g_ptr_array_index (self->listeners, i);

      g_message ("relay %s: stopped", old->rule->name);
      listener_stop (old);
    }
  g_ptr_array_set_size (self->listeners, 0);

  for (guint i = 0; i < rules->len; i++)
    {
      g_autoptr(GError) local_error = NULL;

      if (next->pdata[i] != NULL)
        continue;
      next->pdata[i] = listener_start (self, g_ptr_array_index (rules, i), &local_error);
      if (next->pdata[i] == NULL)
        {
          if (failures == NULL)
            failures = g_string_new (NULL);
          else
            g_string_append (failures, "; ");
          g_string_append (failures, local_error->message);
          if (first_error == NULL)
            first_error = g_steal_pointer (&local_error);
        }
    }

  for (guint i = 0; i < next->len; i++)
    if (next->pdata[i] != NULL)
      g_ptr_array_add (self->listeners, g_steal_pointer (&next->pdata[i]));

  if (first_error != NULL)
    {
      g_set_error_literal (error, first_error->domain, first_error->code, failures->str);
      g_error_free (first_error);
      return FALSE;
    }
  return TRUE;
}

/**
 * pk_relay_add_rule:
 * @self: a [class@Relay]
 * @rule: a rule
 * @error: return location for a `GError`
 *
 * Adds one rule and starts listening at once.
 *
 * Returns: %TRUE, or %FALSE with @error set (a duplicate port or name, a
 *   port in use)
 *
 * Since: 0.1
 */
gboolean
pk_relay_add_rule (PkRelay      *self,
                   PkRelayRule  *rule,
                   GError      **error)
{
  g_autoptr(GPtrArray) rules = NULL;

  g_return_val_if_fail (PK_IS_RELAY (self), FALSE);
  g_return_val_if_fail (rule != NULL, FALSE);

  rules = pk_relay_list_rules (self);
  g_ptr_array_add (rules, pk_relay_rule_ref (rule));
  return pk_relay_set_rules (self, rules, error);
}

/**
 * pk_relay_remove_rule:
 * @self: a [class@Relay]
 * @name: a rule's name
 *
 * Stops one rule and closes its connections.
 *
 * Returns: whether a rule of that name was there
 *
 * Since: 0.1
 */
gboolean
pk_relay_remove_rule (PkRelay    *self,
                      const char *name)
{
  g_return_val_if_fail (PK_IS_RELAY (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  for (guint i = 0; i < self->listeners->len; i++)
    {
      PkRelayListener *listener = g_ptr_array_index (self->listeners, i);

      if (g_str_equal (listener->rule->name, name))
        {
          g_message ("relay %s: stopped", name);
          listener_stop (listener);
          g_ptr_array_remove_index (self->listeners, i);
          return TRUE;
        }
    }
  for (guint i = 0; i < self->nat_rules->len; i++)
    {
      PkRelayRule *rule = g_ptr_array_index (self->nat_rules, i);

      if (g_str_equal (rule->name, name))
        {
          g_autoptr(GPtrArray) rules = pk_relay_list_rules (self);

          g_ptr_array_remove (rules, rule);
          return pk_relay_set_rules (self, rules, NULL);
        }
    }
  return FALSE;
}

/**
 * pk_relay_list_rules:
 * @self: a [class@Relay]
 *
 * Gets the running rules; for a relay from [ctor@Relay.new_from_config]
 * that has not started, the rules it will start.
 *
 * Returns: (transfer full) (element-type PkRelayRule): the rules
 *
 * Since: 0.1
 */
GPtrArray *
pk_relay_list_rules (PkRelay *self)
{
  GPtrArray *rules;

  g_return_val_if_fail (PK_IS_RELAY (self), NULL);

  rules = g_ptr_array_new_with_free_func ((GDestroyNotify) pk_relay_rule_unref);
  for (guint i = 0; self->configured != NULL && i < self->configured->len; i++)
    g_ptr_array_add (rules, pk_relay_rule_ref (g_ptr_array_index (self->configured, i)));
  for (guint i = 0; i < self->listeners->len; i++)
    {
      PkRelayListener *listener = g_ptr_array_index (self->listeners, i);
      g_ptr_array_add (rules, pk_relay_rule_ref (listener->rule));
    }
  for (guint i = 0; i < self->nat_rules->len; i++)
    g_ptr_array_add (rules, pk_relay_rule_ref (g_ptr_array_index (self->nat_rules, i)));
  return rules;
}

/**
 * pk_relay_get_local_port:
 * @self: a [class@Relay]
 * @name: a rule's name
 *
 * Gets the port a rule listens on: the rule's inbound port, or the one
 * the system chose for a rule with port 0.
 *
 * Returns: the port, or 0 when no rule of that name runs
 *
 * Since: 0.1
 */
guint16
pk_relay_get_local_port (PkRelay    *self,
                         const char *name)
{
  g_return_val_if_fail (PK_IS_RELAY (self), 0);

  for (guint i = 0; i < self->listeners->len; i++)
    {
      PkRelayListener *listener = g_ptr_array_index (self->listeners, i);

      if (g_str_equal (listener->rule->name, name))
        return listener->bound_port;
    }
  for (guint i = 0; i < self->nat_rules->len; i++)
    {
      PkRelayRule *rule = g_ptr_array_index (self->nat_rules, i);

      if (g_str_equal (rule->name, name))
        return rule->in_port;
    }
  return 0;
}

/**
 * pk_relay_get_n_connections:
 * @self: a [class@Relay]
 *
 * Counts the open TCP connections of all rules, including those of rules
 * that were stopped and whose connections are still closing. After
 * [method@Relay.stop] this falls to 0 once each connection's thread has seen
 * the cancellation: wait for that before stopping [class@Workers].
 *
 * Returns: the number of open TCP connections
 *
 * Since: 0.1
 */
guint
pk_relay_get_n_connections (PkRelay *self)
{
  g_return_val_if_fail (PK_IS_RELAY (self), 0);

  return g_atomic_int_get (self->connections);
}

/**
 * pk_relay_drain:
 * @self: a [class@Relay]
 *
 * Stops accepting: TCP rules close their listening sockets, so that new
 * clients are refused, while the connections in progress go on (see
 * [method@Relay.get_n_connections]). UDP rules stop at once: their sessions
 * answer through the listening socket. [method@Relay.stop] ends the rest.
 * This is how a tool drains on SIGTERM.
 *
 * Since: 0.1
 */
void
pk_relay_drain (PkRelay *self)
{
  g_return_if_fail (PK_IS_RELAY (self));

  for (guint i = 0; i < self->listeners->len; i++)
    {
      PkRelayListener *listener = g_ptr_array_index (self->listeners, i);

      if (listener->udp != NULL)
        listener_stop (listener);
      else
        listener_close (listener);
    }
}

/**
 * pk_relay_stop:
 * @self: a [class@Relay]
 *
 * Stops every rule and closes every connection.
 *
 * Since: 0.1
 */
void
pk_relay_stop (PkRelay *self)
{
  g_return_if_fail (PK_IS_RELAY (self));

  for (guint i = 0; i < self->listeners->len; i++)
    listener_stop (g_ptr_array_index (self->listeners, i));
  g_ptr_array_set_size (self->listeners, 0);
  if (self->nat_table_active)
    {
      pk_relay_nft_remove (NFT_TABLE);
      self->nat_table_active = FALSE;
    }
  if (self->nat_rules != NULL)
    g_ptr_array_set_size (self->nat_rules, 0);
}

/**
 * pk_relay_dup_status_json:
 * @self: a [class@Relay]
 *
 * Describes each rule as JSON: `{"rules": [{"name", "protocol",
 * "listen", "target", "health", "health_reason", "connections",
 * "active", "refused", "failed", "bytes_in", "bytes_out", "sessions",
 * "datagrams_in", "datagrams_out", "dropped"}]}`. `bytes_in` counts
 * client to upstream, `bytes_out` upstream to client; `health` is
 * `disabled`, `unknown`, `up` or `down`.
 *
 * Returns: (transfer full): the status as a JSON text
 *
 * Since: 0.1
 */
char *
pk_relay_dup_status_json (PkRelay *self)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;

  g_return_val_if_fail (PK_IS_RELAY (self), NULL);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "rules");
  json_builder_begin_array (builder);
  for (guint i = 0; i < self->listeners->len; i++)
    {
      PkRelayListener *l = g_ptr_array_index (self->listeners, i);
      PkRelayRule *rule = l->rule;
      g_autofree char *listen = NULL;
      g_autofree char *target = NULL;
      const char *addr = rule->listen_address ? rule->listen_address : "*";

      listen = strchr (addr, ':') ? g_strdup_printf ("[%s]:%u", addr, l->bound_port)
                                  : g_strdup_printf ("%s:%u", addr, l->bound_port);
      target = strchr (rule->out_host, ':')
                 ? g_strdup_printf ("[%s]:%u", rule->out_host, rule->out_port)
                 : g_strdup_printf ("%s:%u", rule->out_host, rule->out_port);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "name");
      json_builder_add_string_value (builder, rule->name);
      json_builder_set_member_name (builder, "protocol");
      json_builder_add_string_value (builder, rule->protocol == PK_RELAY_PROTOCOL_UDP ? "udp" : "tcp");
      json_builder_set_member_name (builder, "listen");
      json_builder_add_string_value (builder, listen);
      json_builder_set_member_name (builder, "target");
      json_builder_add_string_value (builder, target);
      json_builder_set_member_name (builder, "health");
      json_builder_add_string_value (builder, pk_relay_health_name (l->health));
      json_builder_set_member_name (builder, "health_reason");
      if (l->health_reason != NULL)
        json_builder_add_string_value (builder, l->health_reason);
      else
        json_builder_add_null_value (builder);

#define ADD_INT(member, value) \
      json_builder_set_member_name (builder, member); \
      json_builder_add_int_value (builder, (gint64) (value))
      ADD_INT ("connections", PK_RELAY_LOAD (l->connections));
      ADD_INT ("active", l->udp ? pk_relay_udp_get_n_sessions (l) : PK_RELAY_LOAD (l->active));
      ADD_INT ("refused", PK_RELAY_LOAD (l->refused));
      ADD_INT ("failed", PK_RELAY_LOAD (l->failed));
      ADD_INT ("bytes_in", PK_RELAY_LOAD (l->bytes_in));
      ADD_INT ("bytes_out", PK_RELAY_LOAD (l->bytes_out));
      if (rule->protocol == PK_RELAY_PROTOCOL_UDP)
        {
          ADD_INT ("datagrams_in", PK_RELAY_LOAD (l->datagrams_in));
          ADD_INT ("datagrams_out", PK_RELAY_LOAD (l->datagrams_out));
          ADD_INT ("dropped", PK_RELAY_LOAD (l->dropped));
        }
#undef ADD_INT
      json_builder_end_object (builder);
    }
  if (self->nat_rules->len > 0)
    {
      g_autoptr(GHashTable) counters = pk_relay_nft_counters (NFT_TABLE);

      for (guint i = 0; i < self->nat_rules->len; i++)
        {
          PkRelayRule *rule = g_ptr_array_index (self->nat_rules, i);
          g_autofree char *desc = pk_relay_rule_to_string (rule);
          g_autofree char *listen = NULL;
          g_autofree char *target = NULL;
          guint64 *c = g_hash_table_lookup (counters, rule->name);

          /* "[addr]:port/udp -> host:port": the two halves. */
          listen = g_strndup (desc, strstr (desc, "/udp") - desc);
          target = g_strdup (strstr (desc, " -> ") + 4);
          json_builder_begin_object (builder);
          json_builder_set_member_name (builder, "name");
          json_builder_add_string_value (builder, rule->name);
          json_builder_set_member_name (builder, "protocol");
          json_builder_add_string_value (builder, "udp");
          json_builder_set_member_name (builder, "mode");
          json_builder_add_string_value (builder, "kernel-nat");
          json_builder_set_member_name (builder, "listen");
          json_builder_add_string_value (builder, listen);
          json_builder_set_member_name (builder, "target");
          json_builder_add_string_value (builder, target);
          json_builder_set_member_name (builder, "health");
          json_builder_add_string_value (builder, "disabled");
          /* NAT chains see the first packet of each flow only. */
          json_builder_set_member_name (builder, "connections");
          json_builder_add_int_value (builder, c ? (gint64) c[0] : 0);
          json_builder_end_object (builder);
        }
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  return json_generator_to_data (generator, NULL);
}

/**
 * pk_relay_dup_prometheus:
 * @self: a [class@Relay]
 *
 * The counters of [method@Relay.dup_status_json] in the Prometheus text
 * format, labelled by rule name:
 *
 * - `proxykit_relay_rule_info{rule,protocol,mode}`: 1 for every rule;
 *   `mode` is `relay` (in user space) or `kernel-nat` (a UDP rule in
 *   nftables, see [method@Relay.set_kernel_nat]);
 * - `proxykit_relay_connections_total{rule}`: TCP connections accepted, UDP
 *   sessions opened, flows the kernel NATed;
 * - `proxykit_relay_connections_active{rule}`, `proxykit_relay_refused_total{rule}`,
 *   `proxykit_relay_failed_total{rule}` (upstream connects that failed) and
 *   `proxykit_relay_bytes_total{rule,direction}` (`in`: client to upstream;
 *   `out`), for rules relayed in user space;
 * - `proxykit_relay_healthy{rule}`: 0 while the health check has the
 *   rule's upstream down, else 1;
 * - `proxykit_relay_udp_sessions{rule}` (open now),
 *   `proxykit_relay_datagrams_total{rule,direction}` and
 *   `proxykit_relay_udp_dropped_total{rule}`, for UDP rules in user space.
 *
 * For a collector of [class@MetricsServer].
 *
 * Returns: (transfer full): the text
 *
 * Since: 0.2
 */
char *
pk_relay_dup_prometheus (PkRelay *self)
{
  g_autoptr(PkPromWriter) w = pk_prom_writer_new ();
  g_autoptr(GHashTable) nat_counters = NULL;
  guint n;

  g_return_val_if_fail (PK_IS_RELAY (self), NULL);

  n = self->listeners->len;
  if (self->nat_rules->len > 0)
    nat_counters = pk_relay_nft_counters (NFT_TABLE);

#define LISTENER(i) ((PkRelayListener *) g_ptr_array_index (self->listeners, (i)))
#define NAT_RULE(i) ((PkRelayRule *) g_ptr_array_index (self->nat_rules, (i)))
#define IS_UDP(l) ((l)->rule->protocol == PK_RELAY_PROTOCOL_UDP)
  /* A family with a sample per listener that @cond admits. */
#define PER_LISTENER(metric, type, help, cond, expr) \
  pk_prom_writer_family (w, metric, type, help); \
  for (guint i = 0; i < n; i++) \
    { \
      PkRelayListener *l = LISTENER (i); \
      if (cond) \
        pk_prom_writer_sample_uint (w, metric, (guint64) (expr), "rule", l->rule->name, NULL); \
    }
  /* A counter family with an "in" and an "out" sample per listener. */
#define PER_DIRECTION(metric, help, cond, in, out) \
  pk_prom_writer_family (w, metric, PK_PROM_COUNTER, help); \
  for (guint i = 0; i < n; i++) \
    { \
      PkRelayListener *l = LISTENER (i); \
      if (!(cond)) \
        continue; \
      pk_prom_writer_sample_uint (w, metric, PK_RELAY_LOAD (in), "rule", l->rule->name, "direction", "in", NULL); \
      pk_prom_writer_sample_uint (w, metric, PK_RELAY_LOAD (out), "rule", l->rule->name, "direction", "out", NULL); \
    }

  pk_prom_writer_family (w, "proxykit_relay_rule_info", PK_PROM_GAUGE,
                         "Each rule, with its protocol and mode (relay: in user space; kernel-nat: UDP in nftables).");
  for (guint i = 0; i < n; i++)
    pk_prom_writer_sample_uint (w, "proxykit_relay_rule_info", 1, "rule", LISTENER (i)->rule->name,
                                "protocol", IS_UDP (LISTENER (i)) ? "udp" : "tcp", "mode", "relay", NULL);
  for (guint i = 0; i < self->nat_rules->len; i++)
    pk_prom_writer_sample_uint (w, "proxykit_relay_rule_info", 1, "rule", NAT_RULE (i)->name,
                                "protocol", "udp", "mode", "kernel-nat", NULL);

  PER_LISTENER ("proxykit_relay_connections_total", PK_PROM_COUNTER,
                "Connections accepted (TCP), sessions opened (UDP) or flows NATed (kernel-nat), by rule.",
                TRUE, PK_RELAY_LOAD (l->connections));
  for (guint i = 0; i < self->nat_rules->len; i++)
    {
      /* NAT chains see the first packet of each flow only. */
      guint64 *c = g_hash_table_lookup (nat_counters, NAT_RULE (i)->name);

      pk_prom_writer_sample_uint (w, "proxykit_relay_connections_total", c ? c[0] : 0,
                                  "rule", NAT_RULE (i)->name, NULL);
    }
  PER_LISTENER ("proxykit_relay_connections_active", PK_PROM_GAUGE,
                "Connections (TCP) or sessions (UDP) open now, by rule.",
                TRUE, IS_UDP (l) ? pk_relay_udp_get_n_sessions (l) : PK_RELAY_LOAD (l->active));
  PER_LISTENER ("proxykit_relay_refused_total", PK_PROM_COUNTER,
                "Connections refused (allowlist, session limit, rule down), by rule.",
                TRUE, PK_RELAY_LOAD (l->refused));
  PER_LISTENER ("proxykit_relay_failed_total", PK_PROM_COUNTER,
                "Connections whose upstream could not be reached, by rule.",
                TRUE, PK_RELAY_LOAD (l->failed));
  PER_LISTENER ("proxykit_relay_healthy", PK_PROM_GAUGE,
                "1 unless the rule's health check has its upstream down.",
                TRUE, l->health != PK_RELAY_HEALTH_DOWN);
  for (guint i = 0; i < self->nat_rules->len; i++)
    pk_prom_writer_sample_uint (w, "proxykit_relay_healthy", 1, "rule", NAT_RULE (i)->name, NULL);

  PER_DIRECTION ("proxykit_relay_bytes_total",
                 "Bytes relayed, by rule and direction (in: client to upstream, out: upstream to client).",
                 TRUE, l->bytes_in, l->bytes_out);

  PER_LISTENER ("proxykit_relay_udp_sessions", PK_PROM_GAUGE,
                "UDP sessions (one per client address) open now, by rule.",
                IS_UDP (l), pk_relay_udp_get_n_sessions (l));
  PER_DIRECTION ("proxykit_relay_datagrams_total",
                 "UDP datagrams relayed, by rule and direction (in: client to upstream, out: upstream to client).",
                 IS_UDP (l), l->datagrams_in, l->datagrams_out);
  PER_LISTENER ("proxykit_relay_udp_dropped_total", PK_PROM_COUNTER,
                "UDP datagrams dropped (no session possible, upstream unreachable, send failed), by rule.",
                IS_UDP (l), PK_RELAY_LOAD (l->dropped));
#undef PER_DIRECTION
#undef PER_LISTENER
#undef IS_UDP
#undef NAT_RULE
#undef LISTENER
  return pk_prom_writer_free_to_string (g_steal_pointer (&w));
}
