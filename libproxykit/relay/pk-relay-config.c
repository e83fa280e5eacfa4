/* pk-relay-config.c: relay rules from PkConfig (sections and RELAY_N)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "pk-config.h"
#include "pk-config-private.h"
#include "pk-error.h"
#include "pk-relay-rule-private.h"
#include "pk-relay-rule.h"
#include "pk-util-private.h"

/* RELAY_0 .. RELAY_999: the shell tools numbered from 1, with gaps. */
#define MAX_ENV_RULES 1000

/* Options shared by every rule: the [relay] section and the shell tools'
 * variables give the defaults, a [relay:NAME] section overrides them. */
typedef struct {
  guint64 connect_timeout_ms;
  guint64 idle_timeout_ms;      /* G_MAXUINT64: the protocol's default */
  guint64 keepalive_idle_ms;
  guint64 keepalive_interval_ms;
  guint64 keepalive_count;
  guint64 max_sessions;         /* G_MAXUINT64: the protocol's default */
  gboolean health_check;
  guint64 health_timeout_ms;
  guint64 health_retries;
  guint64 health_interval_ms;
  char *allow;
  char *egress_address;
  char *egress_interface;
  guint64 egress_fwmark;
} Options;

static void
options_clear (Options *o)
{
  g_clear_pointer (&o->allow, g_free);
  g_clear_pointer (&o->egress_address, g_free);
  g_clear_pointer (&o->egress_interface, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Options, options_clear)

#define OPTION_KEYS \
  "connect-timeout", "idle-timeout", "keepalive-idle", "keepalive-interval", \
  "keepalive-count", "max-sessions", "health-check", "health-check-timeout", \
  "health-check-retries", "health-check-interval", "allow", "egress-address", \
  "egress-interface", "egress-fwmark"

/* A [relay:NAME] section's keys. */
static const char * const option_keys[] = { OPTION_KEYS, NULL };
/* The [relay] section's: the options every rule defaults to, and what
 * belongs to the whole relay (read by pk_relay_new_from_config() and, for
 * metrics-listen, by the tool that serves /metrics). */
static const char * const relay_keys[] = {
  OPTION_KEYS, "kernel-nat", "listen-address", "metrics-listen", NULL
};

/* With a base, a section's own keys override it and the environment is
 * not consulted again (it already went into the base). */
static gboolean
read_options (PkConfig       *config,
              const char     *section,
              const Options  *base,
              Options        *out,
              GError        **error)
{
  gboolean env = base == NULL;
  const Options builtin = {
    .connect_timeout_ms = 10000, .idle_timeout_ms = G_MAXUINT64,
    .keepalive_idle_ms = 60000, .keepalive_interval_ms = 10000, .keepalive_count = 6,
    .max_sessions = G_MAXUINT64, .health_check = FALSE, .health_timeout_ms = 5000,
    .health_retries = 3, .health_interval_ms = 30000,
  };
  const Options *d = base ? base : &builtin;

#define E(name) (env ? name : NULL)
  if (!pk_config_get_duration_ms (config, section, "connect-timeout", E ("CONNECT_TIMEOUT"),
                                  d->connect_timeout_ms, &out->connect_timeout_ms, error) ||
      !pk_config_get_duration_ms (config, section, "idle-timeout", E ("RELAY_IDLE_TIMEOUT"),
                                  d->idle_timeout_ms, &out->idle_timeout_ms, error) ||
      !pk_config_get_duration_ms (config, section, "keepalive-idle", E ("KEEPALIVE_IDLE"),
                                  d->keepalive_idle_ms, &out->keepalive_idle_ms, error) ||
      !pk_config_get_duration_ms (config, section, "keepalive-interval", E ("KEEPALIVE_INTVL"),
                                  d->keepalive_interval_ms, &out->keepalive_interval_ms, error) ||
      !pk_config_get_uint (config, section, "keepalive-count", E ("KEEPALIVE_CNT"),
                           0, 127, d->keepalive_count, &out->keepalive_count, error) ||
      !pk_config_get_uint (config, section, "max-sessions", E ("RELAY_MAX_SESSIONS"),
                           0, G_MAXUINT, d->max_sessions, &out->max_sessions, error) ||
      !pk_config_get_boolean (config, section, "health-check", E ("ENABLE_HEALTH_CHECK"),
                              d->health_check, &out->health_check, error) ||
      !pk_config_get_duration_ms (config, section, "health-check-timeout", E ("HEALTH_CHECK_TIMEOUT"),
                                  d->health_timeout_ms, &out->health_timeout_ms, error) ||
      !pk_config_get_uint (config, section, "health-check-retries", E ("HEALTH_CHECK_RETRIES"),
                           1, 100, d->health_retries, &out->health_retries, error) ||
      !pk_config_get_duration_ms (config, section, "health-check-interval", E ("HEALTH_CHECK_INTERVAL"),
                                  d->health_interval_ms, &out->health_interval_ms, error) ||
      !pk_config_get_uint (config, section, "egress-fwmark", NULL,
                           0, G_MAXUINT32, d->egress_fwmark, &out->egress_fwmark, error))
    return FALSE;
  out->allow = pk_config_dup_string (config, section, "allow", E ("RELAY_ALLOW"), d->allow);
  out->egress_address = pk_config_dup_string (config, section, "egress-address", NULL,
                                              d->egress_address);
  out->egress_interface = pk_config_dup_string (config, section, "egress-interface", NULL,
                                                d->egress_interface);
#undef E
  return TRUE;
}

static gboolean
apply_options (PkRelayRule    *rule,
               const Options  *o,
               const char     *where,
               GError        **error)
{
  g_autoptr(GError) local_error = NULL;

  rule->connect_timeout_ms = MIN (o->connect_timeout_ms, G_MAXUINT);
  if (o->idle_timeout_ms != G_MAXUINT64)
    rule->idle_timeout_ms = MIN (o->idle_timeout_ms, G_MAXUINT);
  pk_relay_rule_set_keepalive (rule, (o->keepalive_idle_ms + 999) / 1000,
                               (o->keepalive_interval_ms + 999) / 1000, o->keepalive_count);
  if (o->max_sessions != G_MAXUINT64)
    rule->max_sessions = o->max_sessions;
  pk_relay_rule_set_health_check (rule, o->health_check, MIN (o->health_timeout_ms, G_MAXUINT),
                                  o->health_retries, MIN (o->health_interval_ms, G_MAXUINT));

  if (!pk_relay_rule_set_allow (rule, o->allow, &local_error))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_CONFIG, "%s: allow: %s", where, local_error->message);
      return FALSE;
    }

  if (o->egress_address != NULL || o->egress_interface != NULL || o->egress_fwmark != 0)
    {
      g_autoptr(PkEgress) egress = pk_egress_new_full (o->egress_address, o->egress_interface,
                                                        o->egress_fwmark, 0, &local_error);
      if (egress == NULL)
        {
          g_set_error (error, PK_ERROR, PK_ERROR_CONFIG, "%s: %s", where, local_error->message);
          return FALSE;
        }
      pk_relay_rule_set_egress (rule, egress);
    }
  return TRUE;
}

static gboolean
set_default_listen (PkRelayRule  *rule,
                    const char   *listen_address,
                    const char   *where,
                    GError      **error)
{
  g_autoptr(GError) local_error = NULL;

  if (rule->listen_address != NULL || listen_address == NULL)
    return TRUE;
  if (!pk_relay_rule_set_listen_address (rule, listen_address, &local_error))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_CONFIG, "%s: %s", where, local_error->message);
      return FALSE;
    }
  return TRUE;
}

static PkRelayRule *
rule_from_section (PkConfig       *config,
                   const char     *name,
                   const Options  *defaults,
                   GError        **error)
{
  g_autofree char *section = g_strconcat ("relay:", name, NULL);
  g_autofree char *listen = NULL;
  g_autofree char *target = NULL;
  g_autofree char *protocol_str = NULL;
  g_autofree char *in_host = NULL;
  g_autofree char *out_host = NULL;
  g_autoptr(GPtrArray) known = g_ptr_array_new ();
  g_autoptr(PkRelayRule) rule = NULL;
  g_autoptr(GError) local_error = NULL;
  g_auto(Options) options = { 0 };
  PkRelayProtocol protocol = PK_RELAY_PROTOCOL_TCP;
  guint16 in_port, out_port;

  /* One /metrics (one kernel NAT table, one default address) per relay:
   * a rule's own would pass for set while nothing reads it. */
  for (guint i = 0; relay_keys[i] != NULL; i++)
    if (!g_strv_contains (option_keys, relay_keys[i]) &&
        pk_config_has_key (config, section, relay_keys[i]))
      {
        g_autofree char *where = pk_config_describe (config, section, relay_keys[i]);
        g_set_error (error, PK_ERROR, PK_ERROR_CONFIG,
                     "%s: belongs to the whole relay, not to one rule: set it in [relay]", where);
        return NULL;
      }
  g_ptr_array_add (known, "listen");
  g_ptr_array_add (known, "target");
  g_ptr_array_add (known, "protocol");
  for (guint i = 0; option_keys[i] != NULL; i++)
    g_ptr_array_add (known, (gpointer) option_keys[i]);
  g_ptr_array_add (known, NULL);
  if (!pk_config_check_keys (config, section, (const char * const *) known->pdata, error))
    return NULL;

  listen = pk_config_dup_string (config, section, "listen", NULL, NULL);
  target = pk_config_dup_string (config, section, "target", NULL, NULL);
  protocol_str = pk_config_dup_string (config, section, "protocol", NULL, NULL);

  if (listen == NULL || target == NULL)
    {
      g_autofree char *where = pk_config_describe (config, section, NULL);
      g_set_error (error, PK_ERROR, PK_ERROR_CONFIG, "%s: missing key '%s' (listen = [ADDRESS:]PORT, target = HOST:PORT)",
                   where, listen == NULL ? "listen" : "target");
      return NULL;
    }

  if (protocol_str != NULL && !pk_relay_parse_protocol (g_strstrip (protocol_str), &protocol))
    {
      g_autofree char *where = pk_config_describe (config, section, "protocol");
      g_set_error (error, PK_ERROR, PK_ERROR_CONFIG, "%s: '%s' is not tcp or udp", where, protocol_str);
      return NULL;
    }

  g_strstrip (listen);
  if (strchr (listen, ':') == NULL)
    {
      guint64 port;

      if (!pk_parse_uint (listen, 1, 65535, &port, NULL))
        {
          g_autofree char *where = pk_config_describe (config, section, "listen");
          g_set_error (error, PK_ERROR, PK_ERROR_CONFIG, "%s: '%s' is not a port (1-65535)", where, listen);
          return NULL;
        }
      in_port = port;
    }
  else if (!pk_parse_host_port (listen, 0, &in_host, &in_port, &local_error) || in_port == 0)
    {
      g_autofree char *where = pk_config_describe (config, section, "listen");
      g_set_error (error, PK_ERROR, PK_ERROR_CONFIG, "%s: %s", where,
                   local_error ? local_error->message : "port 0 is not a port (1-65535)");
      return NULL;
    }

  if (!pk_parse_host_port (g_strstrip (target), 0, &out_host, &out_port, &local_error) ||
      out_port == 0)
    {
      g_autofree char *where = pk_config_describe (config, section, "target");
      g_set_error (error, PK_ERROR, PK_ERROR_CONFIG, "%s: %s", where,
                   local_error ? local_error->message : "port 0 is not a port (1-65535)");
      return NULL;
    }

  rule = pk_relay_rule_new (protocol, in_port, out_host, out_port);
  pk_relay_rule_set_name (rule, name);
  if (in_host != NULL && !pk_relay_rule_set_listen_address (rule, in_host, &local_error))
    {
      g_autofree char *where = pk_config_describe (config, section, "listen");
      g_set_error (error, PK_ERROR, PK_ERROR_CONFIG, "%s: %s", where, local_error->message);
      return NULL;
    }

  if (!read_options (config, section, defaults, &options, error))
    return NULL;
  {
    g_autofree char *where = pk_config_describe (config, section, NULL);
    if (!apply_options (rule, &options, where, error))
      return NULL;
  }
  return g_steal_pointer (&rule);
}

/**
 * pk_relay_rules_load:
 * @config: a [class@Config]
 * @specs: (nullable) (array zero-terminated=1): more rules in the
 *   `in_port;out_port;out_host;TCP|UDP` format, such as a tool's arguments
 * @listen_address: (nullable): the inbound address of rules that name
 *   none, %NULL for all addresses
 * @error: return location for a `GError`
 *
 * Reads every relay rule of a configuration: the `RELAY_N` variables of
 * the shell tools (`RELAY_1="50025;25;pool.example;TCP"`, N from 0 to
 * 999, from an env file loaded with [method@Config.load_env_file] or the
 * environment), the rules in @specs, and the `[relay:NAME]` sections (`listen`, `target`,
 * `protocol` and the option keys). The options of all rules default to
 * the `[relay]` section and the variables `CONNECT_TIMEOUT`,
 * `KEEPALIVE_IDLE`, `KEEPALIVE_INTVL`, `KEEPALIVE_CNT`,
 * `ENABLE_HEALTH_CHECK`, `HEALTH_CHECK_TIMEOUT`, `HEALTH_CHECK_RETRIES`
 * and `HEALTH_CHECK_INTERVAL`; a section's own keys win.
 *
 * All rules are read and checked ([func@Relay.rules_check]) before any is
 * returned: one bad rule fails the whole load.
 *
 * Returns: (transfer full) (element-type PkRelayRule): the rules, or
 *   %NULL with @error set (%PK_ERROR_CONFIG) naming the rule and field
 *
 * Since: 0.1
 */
GPtrArray *
pk_relay_rules_load (PkConfig           *config,
                     const char * const *specs,
                     const char         *listen_address,
                     GError            **error)
{
  g_autoptr(GPtrArray) rules = NULL;
  g_auto(GStrv) sections = NULL;
  g_auto(Options) defaults = { 0 };

  g_return_val_if_fail (PK_IS_CONFIG (config), NULL);

  rules = g_ptr_array_new_with_free_func ((GDestroyNotify) pk_relay_rule_unref);

  if (!pk_config_check_keys (config, "relay", relay_keys, error) ||
      !read_options (config, "relay", NULL, &defaults, error))
    return NULL;

  for (guint n = 0; n < MAX_ENV_RULES; n++)
    {
      g_autofree char *var = g_strdup_printf ("RELAY_%u", n);
      const char *spec = pk_config_getenv (config, var);
      g_autoptr(GError) local_error = NULL;
      PkRelayRule *rule;

      if (spec == NULL)
        continue;
      rule = pk_relay_rule_new_from_string (spec, &local_error);
      if (rule == NULL)
        {
          g_set_error (error, PK_ERROR, PK_ERROR_CONFIG, "%s: %s", var, local_error->message);
          return NULL;
        }
      g_ptr_array_add (rules, rule);
      pk_relay_rule_set_name (rule, var);
      if (!apply_options (rule, &defaults, var, error) ||
          !set_default_listen (rule, listen_address, var, error))
        return NULL;
    }

  for (guint i = 0; specs != NULL && specs[i] != NULL; i++)
    {
      PkRelayRule *rule = pk_relay_rule_new_from_string (specs[i], error);

      if (rule == NULL)
        return NULL;
      g_ptr_array_add (rules, rule);
      if (!apply_options (rule, &defaults, rule->name, error) ||
          !set_default_listen (rule, listen_address, rule->name, error))
        return NULL;
    }

  sections = pk_config_list_sections (config, "relay");
  for (guint i = 0; sections[i] != NULL; i++)
    {
      PkRelayRule *rule;

      if (*sections[i] == '\0')
        continue;
      rule = rule_from_section (config, sections[i], &defaults, error);
      if (rule == NULL)
        return NULL;
      g_ptr_array_add (rules, rule);
      if (!set_default_listen (rule, listen_address, sections[i], error))
        return NULL;
    }

  if (!pk_relay_rules_check (rules, error))
    return NULL;
  return g_steal_pointer (&rules);
}

GPtrArray *
pk_relay_config_load (PkConfig            *config,
                      const char * const  *specs,
                      gboolean            *kernel_nat,
                      GError             **error)
{
  g_autofree char *listen_address = NULL;
  g_autoptr(GInetAddress) address = NULL;
  g_autoptr(GPtrArray) rules = NULL;

  listen_address = pk_config_dup_string (config, "relay", "listen-address", "RELAY_LISTEN_ADDRESS", NULL);
  if (listen_address != NULL && *listen_address == '\0')
    g_clear_pointer (&listen_address, g_free);
  if (listen_address != NULL && (address = g_inet_address_new_from_string (listen_address)) == NULL)
    {
      GError *local_error = g_error_new (PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                                         "'%s' is not an IP address", listen_address);
      return pk_config_value_error (config, "relay", "listen-address", "RELAY_LISTEN_ADDRESS",
                                    local_error, error), NULL;
    }
  if (!pk_config_get_boolean (config, "relay", "kernel-nat", "RELAY_KERNEL_NAT", FALSE,
                              kernel_nat, error))
    return NULL;

  rules = pk_relay_rules_load (config, specs, listen_address, error);
  /* Zero rules is a typo (RELAY1=, a commented-out line), never a plan:
   * a check says so, and a reload must not stop every rule over it. */
  if (rules != NULL && rules->len == 0)
    {
      g_set_error_literal (error, PK_ERROR, PK_ERROR_CONFIG,
                           "no relay rules: give rules (in_port;out_port;out_host;TCP|UDP), "
                           "RELAY_N variables or [relay:NAME] sections");
      return NULL;
    }
  return g_steal_pointer (&rules);
}
