/* pk-relay-rule.c: one port relay rule
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkRelayRule:
 *
 * One rule of a [class@Relay]: an inbound port (on an address or on all of
 * them), an outbound host and port, TCP or UDP, and the options of the
 * relay: connect timeout, TCP keepalive, idle timeout, a cap on UDP
 * sessions, a health check, the egress upstream connections leave by and
 * an allowlist of client networks.
 *
 * Rules are written as the shell tools wrote them,
 * `in_port;out_port;out_host;TCP|UDP`, or as `[relay:NAME]` sections of
 * the configuration file. A rule is a reference-counted boxed type; it is
 * not changed once handed to a relay (copy it with [method@RelayRule.copy]).
 *
 * ```c
 * g_autoptr(GError) error = NULL;
 * g_autoptr(PkRelayRule) rule = pk_relay_rule_new_from_string ("50025;25;pool.example;TCP", &error);
 *
 * if (rule == NULL)
 *   g_printerr ("%s\n", error->message);
 * pk_relay_rule_set_keepalive (rule, 60, 10, 6);
 * ```
 *
 * Since: 0.1
 */

#include "config.h"

#include "pk-error.h"
#include "pk-relay-rule.h"
#include "pk-relay-rule-private.h"
#include "pk-util-private.h"

G_DEFINE_BOXED_TYPE (PkRelayRule, pk_relay_rule, pk_relay_rule_ref, pk_relay_rule_unref)

static PkRelayRule *
rule_alloc (void)
{
  PkRelayRule *rule = g_new0 (PkRelayRule, 1);

  g_ref_count_init (&rule->ref_count);
  return rule;
}

/**
 * pk_relay_rule_new:
 * @protocol: TCP or UDP
 * @in_port: the inbound port, 0 for one the system picks (tests)
 * @out_host: the outbound host name or IP address literal
 * @out_port: the outbound port
 *
 * Creates a rule with the default options: listening on all addresses,
 * a 10 s connect timeout, keepalive 60 s / 10 s / 6 probes, no idle
 * timeout for TCP and 60 s for UDP sessions, at most 4096 UDP sessions
 * (TCP connections are limited by the file descriptor limit only),
 * no health check, the default egress, every client allowed.
 *
 * Returns: (transfer full): a new [struct@RelayRule]
 *
 * Since: 0.1
 */
PkRelayRule *
pk_relay_rule_new (PkRelayProtocol  protocol,
                   guint16          in_port,
                   const char      *out_host,
                   guint16          out_port)
{
  PkRelayRule *rule;

  g_return_val_if_fail (out_host != NULL, NULL);

  rule = rule_alloc ();
  rule->protocol = protocol;
  rule->in_port = in_port;
  rule->out_host = g_strdup (out_host);
  rule->out_port = out_port;
  rule->name = g_strdup_printf ("%u/%s", in_port, protocol == PK_RELAY_PROTOCOL_UDP ? "udp" : "tcp");
  rule->connect_timeout_ms = 10000;
  rule->idle_timeout_ms = protocol == PK_RELAY_PROTOCOL_UDP ? 60000 : 0;
  rule->keepalive_idle = 60;
  rule->keepalive_interval = 10;
  rule->keepalive_count = 6;
  rule->max_sessions = protocol == PK_RELAY_PROTOCOL_UDP ? 4096 : 0;
  rule->health_timeout_ms = 5000;
  rule->health_retries = 3;
  rule->health_interval_ms = 30000;
  return rule;
}

/**
 * pk_relay_rule_copy:
 * @rule: a [struct@RelayRule]
 *
 * Copies @rule.
 *
 * Returns: (transfer full): a new rule with the same settings
 *
 * Since: 0.1
 */
PkRelayRule *
pk_relay_rule_copy (PkRelayRule *rule)
{
  PkRelayRule *copy;

  g_return_val_if_fail (rule != NULL, NULL);

  copy = rule_alloc ();
  copy->name = g_strdup (rule->name);
  copy->protocol = rule->protocol;
  copy->listen_address = g_strdup (rule->listen_address);
  copy->in_port = rule->in_port;
  copy->out_host = g_strdup (rule->out_host);
  copy->out_port = rule->out_port;
  copy->connect_timeout_ms = rule->connect_timeout_ms;
  copy->idle_timeout_ms = rule->idle_timeout_ms;
  copy->keepalive_idle = rule->keepalive_idle;
  copy->keepalive_interval = rule->keepalive_interval;
  copy->keepalive_count = rule->keepalive_count;
  copy->max_sessions = rule->max_sessions;
  copy->health_check = rule->health_check;
  copy->health_timeout_ms = rule->health_timeout_ms;
  copy->health_retries = rule->health_retries;
  copy->health_interval_ms = rule->health_interval_ms;
  copy->egress = rule->egress ? g_object_ref (rule->egress) : NULL;
  copy->allow = g_strdup (rule->allow);
  copy->allow_list = rule->allow_list ? g_ptr_array_ref (rule->allow_list) : NULL;
  return copy;
}

/**
 * pk_relay_rule_ref:
 * @rule: a [struct@RelayRule]
 *
 * Takes a reference to @rule.
 *
 * Returns: (transfer full): @rule
 *
 * Since: 0.1
 */
PkRelayRule *
pk_relay_rule_ref (PkRelayRule *rule)
{
  g_return_val_if_fail (rule != NULL, NULL);

  g_ref_count_inc (&rule->ref_count);
  return rule;
}

/**
 * pk_relay_rule_unref:
 * @rule: (transfer full): a [struct@RelayRule]
 *
 * Drops a reference; the rule is freed with the last one.
 *
 * Since: 0.1
 */
void
pk_relay_rule_unref (PkRelayRule *rule)
{
  g_return_if_fail (rule != NULL);

  if (!g_ref_count_dec (&rule->ref_count))
    return;

  g_free (rule->name);
  g_free (rule->listen_address);
  g_free (rule->out_host);
  g_clear_object (&rule->egress);
  g_free (rule->allow);
  g_clear_pointer (&rule->allow_list, g_ptr_array_unref);
  g_free (rule);
}

static gboolean
egress_equal (PkEgress *a,
              PkEgress *b)
{
  g_autofree char *sa = NULL;
  g_autofree char *sb = NULL;

  if (a == b)
    return TRUE;
  sa = a ? pk_egress_to_string (a) : g_strdup ("default");
  sb = b ? pk_egress_to_string (b) : g_strdup ("default");
  return g_str_equal (sa, sb);
}

/**
 * pk_relay_rule_equal:
 * @a: a [struct@RelayRule]
 * @b: a [struct@RelayRule]
 *
 * Compares every setting except the name. A reload keeps a rule's live
 * connections when the new rule for its port is equal to the old one.
 *
 * Returns: whether @a and @b relay the same way
 *
 * Since: 0.1
 */
gboolean
pk_relay_rule_equal (PkRelayRule *a,
                     PkRelayRule *b)
{
  g_return_val_if_fail (a != NULL && b != NULL, FALSE);

  return a->protocol == b->protocol &&
         g_strcmp0 (a->listen_address, b->listen_address) == 0 &&
         a->in_port == b->in_port &&
         g_str_equal (a->out_host, b->out_host) &&
         a->out_port == b->out_port &&
         a->connect_timeout_ms == b->connect_timeout_ms &&
         a->idle_timeout_ms == b->idle_timeout_ms &&
         a->keepalive_idle == b->keepalive_idle &&
         a->keepalive_interval == b->keepalive_interval &&
         a->keepalive_count == b->keepalive_count &&
         a->max_sessions == b->max_sessions &&
         a->health_check == b->health_check &&
         a->health_timeout_ms == b->health_timeout_ms &&
         a->health_retries == b->health_retries &&
         a->health_interval_ms == b->health_interval_ms &&
         g_strcmp0 (a->allow, b->allow) == 0 &&
         egress_equal (a->egress, b->egress);
}

static const char *
protocol_name (PkRelayProtocol protocol)
{
  return protocol == PK_RELAY_PROTOCOL_UDP ? "UDP" : "TCP";
}

/**
 * pk_relay_rule_to_string:
 * @rule: a [struct@RelayRule]
 *
 * Formats the rule for logs: `[::]:50025/tcp -> pool.example:25`.
 *
 * Returns: (transfer full): the description
 *
 * Since: 0.1
 */
char *
pk_relay_rule_to_string (PkRelayRule *rule)
{
  const char *addr;
  gboolean v6;

  g_return_val_if_fail (rule != NULL, NULL);

  addr = rule->listen_address ? rule->listen_address : "*";
  v6 = strchr (addr, ':') != NULL;
  return g_strdup_printf ("%s%s%s:%u/%s -> %s%s%s:%u", v6 ? "[" : "", addr, v6 ? "]" : "",
                          rule->in_port, rule->protocol == PK_RELAY_PROTOCOL_UDP ? "udp" : "tcp",
                          strchr (rule->out_host, ':') ? "[" : "", rule->out_host,
                          strchr (rule->out_host, ':') ? "]" : "", rule->out_port);
}

/* Host names as RFC 1123 allows them, or IP literals: anything else in
 * the host field is a typo (a swapped field, a stray quote). */
static gboolean
host_is_valid (const char *host)
{
  g_autoptr(GInetAddress) literal = NULL;

  if (*host == '\0' || strlen (host) > 253)
    return FALSE;
  literal = g_inet_address_new_from_string (host);
  if (literal != NULL)
    return TRUE;
  if (g_hostname_is_ip_address (host))
    return FALSE;
  for (const char *p = host; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.' && *p != '_')
      return FALSE;
  return TRUE;
}

static gboolean
parse_port_field (const char  *spec,
                  const char  *field,
                  const char  *value,
                  gboolean     allow_zero,
                  guint16     *out,
                  GError     **error)
{
  guint64 port;

  if (!pk_parse_uint (value, allow_zero ? 0 : 1, 65535, &port, NULL))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                   "relay spec '%s': %s '%s' is not a port (1-65535)", spec, field, value);
      return FALSE;
    }
  *out = port;
  return TRUE;
}

gboolean
pk_relay_parse_protocol (const char       *value,
                         PkRelayProtocol  *out)
{
  if (g_ascii_strcasecmp (value, "tcp") == 0)
    *out = PK_RELAY_PROTOCOL_TCP;
  else if (g_ascii_strcasecmp (value, "udp") == 0)
    *out = PK_RELAY_PROTOCOL_UDP;
  else
    return FALSE;
  return TRUE;
}

/**
 * pk_relay_rule_new_from_string:
 * @spec: a rule as `in_port;out_port;out_host;TCP|UDP`
 * @error: return location for a `GError`
 *
 * Parses a rule in the format of the shell tools'
 * `RELAY_N="in_port;out_port;out_host;TCP|UDP"` lines. The inbound field
 * may name an address too (`127.0.0.1:50025`, `[::1]:50025`); the
 * protocol is case-insensitive. The rule's name is `IN_PORT/tcp` or
 * `IN_PORT/udp` (with the address in front when there is one); the other options have the defaults of
 * [ctor@RelayRule.new].
 *
 * Returns: (transfer full) (nullable): the rule, or %NULL with @error set
 *   (%PK_ERROR_INVALID_ARGUMENT) naming the field that is wrong
 *
 * Since: 0.1
 */
PkRelayRule *
pk_relay_rule_new_from_string (const char  *spec,
                               GError     **error)
{
  static const char * const fields[] = { "in_port", "out_port", "out_host", "protocol" };
  g_auto(GStrv) parts = NULL;
  g_autofree char *in_host = NULL;
  g_autoptr(PkRelayRule) rule = NULL;
  PkRelayProtocol protocol;
  guint16 in_port, out_port;
  guint n;

  g_return_val_if_fail (spec != NULL, NULL);

  parts = g_strsplit (spec, ";", -1);
  n = g_strv_length (parts);
  for (guint i = 0; i < n; i++)
    g_strstrip (parts[i]);
  /* A trailing ';' is harmless. */
  if (n == 5 && *parts[4] == '\0')
    n = 4;

  if (n != 4)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                   "relay spec '%s': %s; expected in_port;out_port;out_host;TCP|UDP",
                   spec, n < 4 ? "missing fields" : "too many fields");
      return NULL;
    }
  for (guint i = 0; i < 4; i++)
    if (*parts[i] == '\0')
      {
        g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                     "relay spec '%s': %s is empty; expected in_port;out_port;out_host;TCP|UDP",
                     spec, fields[i]);
        return NULL;
      }

  if (strchr (parts[0], ':') != NULL)
    {
      g_autoptr(GError) local_error = NULL;

      if (!pk_parse_host_port (parts[0], 0, &in_host, &in_port, &local_error))
        {
          g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                       "relay spec '%s': in_port '%s': %s", spec, parts[0], local_error->message);
          return NULL;
        }
    }
  else if (!parse_port_field (spec, "in_port", parts[0], FALSE, &in_port, error))
    return NULL;

  if (!parse_port_field (spec, "out_port", parts[1], FALSE, &out_port, error))
    return NULL;

  if (!host_is_valid (parts[2]))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                   "relay spec '%s': out_host '%s' is not a host name or IP address",
                   spec, parts[2]);
      return NULL;
    }

  if (!pk_relay_parse_protocol (parts[3], &protocol))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                   "relay spec '%s': protocol '%s' is not TCP or UDP", spec, parts[3]);
      return NULL;
    }

  rule = pk_relay_rule_new (protocol, in_port, parts[2], out_port);
  if (in_host != NULL && !pk_relay_rule_set_listen_address (rule, in_host, error))
    {
      g_prefix_error (error, "relay spec '%s': in_port: ", spec);
      return NULL;
    }
  if (in_host != NULL)
    {
      /* Rules on one port but different addresses need different names. */
      g_free (rule->name);
      gboolean v6 = strchr (rule->listen_address, ':') != NULL;

      rule->name = g_strdup_printf ("%s%s%s:%u/%s", v6 ? "[" : "", rule->listen_address,
                                    v6 ? "]" : "", in_port,
                                    protocol == PK_RELAY_PROTOCOL_UDP ? "udp" : "tcp");
    }
  return g_steal_pointer (&rule);
}

/**
 * pk_relay_rule_get_name:
 * @rule: a [struct@RelayRule]
 *
 * Gets the rule's name, used in logs and the status.
 *
 * Returns: the rule's name, used in logs and the status
 *
 * Since: 0.1
 */
const char *
pk_relay_rule_get_name (PkRelayRule *rule)
{
  g_return_val_if_fail (rule != NULL, NULL);
  return rule->name;
}

/**
 * pk_relay_rule_set_name:
 * @rule: a [struct@RelayRule]
 * @name: a name such as `RELAY_1` or a config section's name
 *
 * Sets the name used in logs and the status.
 *
 * Since: 0.1
 */
void
pk_relay_rule_set_name (PkRelayRule *rule,
                        const char  *name)
{
  g_return_if_fail (rule != NULL && name != NULL);

  g_free (rule->name);
  rule->name = g_strdup (name);
}

/**
 * pk_relay_rule_get_protocol:
 * @rule: a [struct@RelayRule]
 *
 * Gets the protocol of the rule, TCP or UDP.
 *
 * Returns: TCP or UDP
 *
 * Since: 0.1
 */
PkRelayProtocol
pk_relay_rule_get_protocol (PkRelayRule *rule)
{
  g_return_val_if_fail (rule != NULL, PK_RELAY_PROTOCOL_TCP);
  return rule->protocol;
}

/**
 * pk_relay_rule_get_listen_address:
 * @rule: a [struct@RelayRule]
 *
 * Gets the inbound address, or %NULL for all addresses.
 *
 * Returns: (nullable): the inbound address, or %NULL for all addresses
 *
 * Since: 0.1
 */
const char *
pk_relay_rule_get_listen_address (PkRelayRule *rule)
{
  g_return_val_if_fail (rule != NULL, NULL);
  return rule->listen_address;
}

/**
 * pk_relay_rule_set_listen_address:
 * @rule: a [struct@RelayRule]
 * @address: (nullable): an IP address literal, or %NULL for all addresses
 * @error: return location for a `GError`
 *
 * Sets the inbound address of @rule.
 *
 * Returns: %TRUE, or %FALSE with @error set when @address is not an IP
 *   address
 *
 * Since: 0.1
 */
gboolean
pk_relay_rule_set_listen_address (PkRelayRule  *rule,
                                  const char   *address,
                                  GError      **error)
{
  g_autoptr(GInetAddress) inet = NULL;

  g_return_val_if_fail (rule != NULL, FALSE);

  if (address != NULL && *address != '\0')
    {
      inet = g_inet_address_new_from_string (address);
      if (inet == NULL)
        {
          g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                       "listen address '%s' is not an IP address", address);
          return FALSE;
        }
    }

  g_free (rule->listen_address);
  rule->listen_address = inet ? g_inet_address_to_string (inet) : NULL;
  return TRUE;
}

/**
 * pk_relay_rule_get_in_port:
 * @rule: a [struct@RelayRule]
 *
 * Gets the inbound port.
 *
 * Returns: the inbound port
 *
 * Since: 0.1
 */
guint16
pk_relay_rule_get_in_port (PkRelayRule *rule)
{
  g_return_val_if_fail (rule != NULL, 0);
  return rule->in_port;
}

/**
 * pk_relay_rule_get_out_host:
 * @rule: a [struct@RelayRule]
 *
 * Gets the outbound host name or address.
 *
 * Returns: the outbound host name or address
 *
 * Since: 0.1
 */
const char *
pk_relay_rule_get_out_host (PkRelayRule *rule)
{
  g_return_val_if_fail (rule != NULL, NULL);
  return rule->out_host;
}

/**
 * pk_relay_rule_get_out_port:
 * @rule: a [struct@RelayRule]
 *
 * Gets the outbound port.
 *
 * Returns: the outbound port
 *
 * Since: 0.1
 */
guint16
pk_relay_rule_get_out_port (PkRelayRule *rule)
{
  g_return_val_if_fail (rule != NULL, 0);
  return rule->out_port;
}

/**
 * pk_relay_rule_get_connect_timeout:
 * @rule: a [struct@RelayRule]
 *
 * Gets the timeout of upstream connects (resolving included), in ms.
 *
 * Returns: the timeout of upstream connects (resolving included), in ms
 *
 * Since: 0.1
 */
guint
pk_relay_rule_get_connect_timeout (PkRelayRule *rule)
{
  g_return_val_if_fail (rule != NULL, 0);
  return rule->connect_timeout_ms;
}

/**
 * pk_relay_rule_set_connect_timeout:
 * @rule: a [struct@RelayRule]
 * @timeout_ms: the timeout of upstream connects in ms, 0 for the kernel's
 *
 * Sets the connect timeout (the shell tools' `CONNECT_TIMEOUT`).
 *
 * Since: 0.1
 */
void
pk_relay_rule_set_connect_timeout (PkRelayRule *rule,
                                   guint        timeout_ms)
{
  g_return_if_fail (rule != NULL);
  rule->connect_timeout_ms = timeout_ms;
}

/**
 * pk_relay_rule_get_idle_timeout:
 * @rule: a [struct@RelayRule]
 *
 * Gets the idle timeout of a connection or UDP session, in ms.
 *
 * Returns: the idle timeout of a connection or UDP session, in ms
 *
 * Since: 0.1
 */
guint
pk_relay_rule_get_idle_timeout (PkRelayRule *rule)
{
  g_return_val_if_fail (rule != NULL, 0);
  return rule->idle_timeout_ms;
}

/**
 * pk_relay_rule_set_idle_timeout:
 * @rule: a [struct@RelayRule]
 * @timeout_ms: the idle timeout in ms, 0 for none (UDP sessions: the
 *   default of 60 s applies instead)
 *
 * A TCP connection with no byte either way, or a UDP session with no
 * datagram either way, for this long is closed.
 *
 * Since: 0.1
 */
void
pk_relay_rule_set_idle_timeout (PkRelayRule *rule,
                                guint        timeout_ms)
{
  g_return_if_fail (rule != NULL);
  rule->idle_timeout_ms = timeout_ms;
}

/**
 * pk_relay_rule_get_keepalive:
 * @rule: a [struct@RelayRule]
 * @idle_s: (out) (optional): seconds before the first probe
 * @interval_s: (out) (optional): seconds between probes
 * @count: (out) (optional): unanswered probes before the connection drops
 *
 * Gets the TCP keepalive settings applied to both sides of a relayed
 * connection.
 *
 * Since: 0.1
 */
void
pk_relay_rule_get_keepalive (PkRelayRule *rule,
                             guint       *idle_s,
                             guint       *interval_s,
                             guint       *count)
{
  g_return_if_fail (rule != NULL);
  if (idle_s)
    *idle_s = rule->keepalive_idle;
  if (interval_s)
    *interval_s = rule->keepalive_interval;
  if (count)
    *count = rule->keepalive_count;
}

/**
 * pk_relay_rule_set_keepalive:
 * @rule: a [struct@RelayRule]
 * @idle_s: seconds before the first probe (`KEEPALIVE_IDLE`), 0 to turn
 *   keepalive off
 * @interval_s: seconds between probes (`KEEPALIVE_INTVL`), 0 for the
 *   kernel's
 * @count: unanswered probes before the connection drops
 *   (`KEEPALIVE_CNT`), 0 for the kernel's
 *
 * Sets the TCP keepalive of both sides of a relayed connection.
 *
 * Since: 0.1
 */
void
pk_relay_rule_set_keepalive (PkRelayRule *rule,
                             guint        idle_s,
                             guint        interval_s,
                             guint        count)
{
  g_return_if_fail (rule != NULL);
  rule->keepalive_idle = idle_s;
  rule->keepalive_interval = interval_s;
  rule->keepalive_count = count;
}

/**
 * pk_relay_rule_get_max_sessions:
 * @rule: a [struct@RelayRule]
 *
 * Gets the most concurrent sessions (UDP client addresses, TCP connections), 0
 * for no limit.
 *
 * Returns: the most concurrent sessions (UDP client addresses, TCP
 *   connections), 0 for no limit
 *
 * Since: 0.1
 */
guint
pk_relay_rule_get_max_sessions (PkRelayRule *rule)
{
  g_return_val_if_fail (rule != NULL, 0);
  return rule->max_sessions;
}

/**
 * pk_relay_rule_set_max_sessions:
 * @rule: a [struct@RelayRule]
 * @max_sessions: the most concurrent sessions, 0 for no limit
 *
 * Caps the sessions of the rule: datagrams from further UDP clients are
 * dropped, further TCP connections are closed at once; both are counted
 * as refused. Beyond any cap, the UDP sessions of all rules of the
 * process together hold at most half of its open-file limit
 * (`RLIMIT_NOFILE`), so that TCP rules keep descriptors to accept with.
 *
 * Since: 0.1
 */
void
pk_relay_rule_set_max_sessions (PkRelayRule *rule,
                                guint        max_sessions)
{
  g_return_if_fail (rule != NULL);
  rule->max_sessions = max_sessions;
}

/**
 * pk_relay_rule_get_health_check:
 * @rule: a [struct@RelayRule]
 * @timeout_ms: (out) (optional): timeout of one check
 * @retries: (out) (optional): failed checks in a row before the upstream
 *   counts as down
 * @interval_ms: (out) (optional): time between checks
 *
 * Tells whether the health check is on.
 *
 * Returns: whether the health check is on
 *
 * Since: 0.1
 */
gboolean
pk_relay_rule_get_health_check (PkRelayRule *rule,
                                guint       *timeout_ms,
                                guint       *retries,
                                guint       *interval_ms)
{
  g_return_val_if_fail (rule != NULL, FALSE);
  if (timeout_ms)
    *timeout_ms = rule->health_timeout_ms;
  if (retries)
    *retries = rule->health_retries;
  if (interval_ms)
    *interval_ms = rule->health_interval_ms;
  return rule->health_check;
}

/**
 * pk_relay_rule_set_health_check:
 * @rule: a [struct@RelayRule]
 * @enabled: whether to check the upstream (`ENABLE_HEALTH_CHECK`)
 * @timeout_ms: timeout of one TCP connect (`HEALTH_CHECK_TIMEOUT`)
 * @retries: failed checks in a row before the upstream counts as down
 *   (`HEALTH_CHECK_RETRIES`), at least 1
 * @interval_ms: time between checks (`HEALTH_CHECK_INTERVAL`)
 *
 * Sets the health check: a TCP connect to the outbound host and port
 * through the rule's egress. A rule whose upstream is down keeps
 * listening; the check goes on and reports the recovery.
 *
 * Since: 0.1
 */
void
pk_relay_rule_set_health_check (PkRelayRule *rule,
                                gboolean     enabled,
                                guint        timeout_ms,
                                guint        retries,
                                guint        interval_ms)
{
  g_return_if_fail (rule != NULL);
  rule->health_check = enabled;
  rule->health_timeout_ms = timeout_ms;
  rule->health_retries = MAX (retries, 1);
  rule->health_interval_ms = MAX (interval_ms, 100);
}

/**
 * pk_relay_rule_get_egress:
 * @rule: a [struct@RelayRule]
 *
 * Gets the egress of upstream sockets, or %NULL for the default route.
 *
 * Returns: (transfer none) (nullable): the egress of upstream sockets, or
 *   %NULL for the default route
 *
 * Since: 0.1
 */
PkEgress *
pk_relay_rule_get_egress (PkRelayRule *rule)
{
  g_return_val_if_fail (rule != NULL, NULL);
  return rule->egress;
}

/**
 * pk_relay_rule_set_egress:
 * @rule: a [struct@RelayRule]
 * @egress: (nullable): the egress of upstream sockets
 *
 * Sets how upstream connections and sockets leave the host.
 *
 * Since: 0.1
 */
void
pk_relay_rule_set_egress (PkRelayRule *rule,
                          PkEgress    *egress)
{
  g_return_if_fail (rule != NULL);
  g_set_object (&rule->egress, egress);
}

/**
 * pk_relay_rule_get_allow:
 * @rule: a [struct@RelayRule]
 *
 * Gets the client networks allowed, or %NULL for all.
 *
 * Returns: (nullable): the client networks allowed, or %NULL for all
 *
 * Since: 0.1
 */
const char *
pk_relay_rule_get_allow (PkRelayRule *rule)
{
  g_return_val_if_fail (rule != NULL, NULL);
  return rule->allow;
}

/**
 * pk_relay_rule_set_allow:
 * @rule: a [struct@RelayRule]
 * @cidrs: (nullable): client networks such as `10.0.0.0/8, 192.168.1.5`,
 *   or %NULL to allow every client
 * @error: return location for a `GError`
 *
 * Restricts the clients of the rule. Others are refused: TCP connections
 * are closed at once, UDP datagrams are dropped, and both are counted.
 *
 * Returns: %TRUE, or %FALSE with @error set naming the bad network
 *
 * Since: 0.1
 */
gboolean
pk_relay_rule_set_allow (PkRelayRule  *rule,
                         const char   *cidrs,
                         GError      **error)
{
  g_autoptr(GPtrArray) list = NULL;

  g_return_val_if_fail (rule != NULL, FALSE);

  if (cidrs != NULL && *cidrs != '\0')
    {
      list = pk_parse_cidr_list (cidrs, error);
      if (list == NULL)
        return FALSE;
    }

  g_free (rule->allow);
  rule->allow = list ? g_strdup (cidrs) : NULL;
  g_clear_pointer (&rule->allow_list, g_ptr_array_unref);
  rule->allow_list = g_steal_pointer (&list);
  return TRUE;
}

gboolean
pk_relay_rule_allows (PkRelayRule    *rule,
                      GSocketAddress *peer)
{
  if (rule->allow_list == NULL)
    return TRUE;
  return pk_cidr_list_matches (rule->allow_list,
                               g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (peer)));
}

gboolean
pk_relay_rule_allows_native (PkRelayRule      *rule,
                             const PkSockaddr *peer)
{
  g_autoptr(GSocketAddress) address = NULL;

  if (rule->allow_list == NULL)
    return TRUE;
  address = pk_sockaddr_to_socket_address (peer);
  return address != NULL && pk_relay_rule_allows (rule, address);
}

static gboolean
listen_overlaps (PkRelayRule *a,
                 PkRelayRule *b)
{
  return a->protocol == b->protocol && a->in_port == b->in_port && a->in_port != 0 &&
         (a->listen_address == NULL || b->listen_address == NULL ||
          g_str_equal (a->listen_address, b->listen_address));
}

/**
 * pk_relay_rules_check:
 * @rules: (element-type PkRelayRule): rules
 * @error: return location for a `GError`
 *
 * Checks that no two rules listen on the same port and protocol (on the
 * same address, or where one listens on all addresses) and that no two
 * share a name.
 *
 * Returns: %TRUE, or %FALSE with @error set (%PK_ERROR_CONFIG) naming both
 *   rules
 *
 * Since: 0.1
 */
gboolean
pk_relay_rules_check (GPtrArray  *rules,
                      GError    **error)
{
  g_return_val_if_fail (rules != NULL, FALSE);

  for (guint i = 0; i < rules->len; i++)
    for (guint j = 0; j < i; j++)
      {
        PkRelayRule *a = g_ptr_array_index (rules, j);
        PkRelayRule *b = g_ptr_array_index (rules, i);

        if (listen_overlaps (a, b))
          {
            g_set_error (error, PK_ERROR, PK_ERROR_CONFIG,
                         "relay %s: duplicate inbound port %u/%s (already used by relay %s)",
                         b->name, b->in_port, protocol_name (b->protocol), a->name);
            return FALSE;
          }
        if (g_str_equal (a->name, b->name))
          {
            g_set_error (error, PK_ERROR, PK_ERROR_CONFIG,
                         "relay %s: the name is used twice", b->name);
            return FALSE;
          }
      }
  return TRUE;
}
