/* pk-relay-rule.h: one port relay rule
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__PROXYKIT_INSIDE__) && !defined(PROXYKIT_COMPILATION)
#error "Only <proxykit/proxykit.h> can be included directly."
#endif

#include <gio/gio.h>
#include "pk-version-macros.h"
#include "pk-egress.h"
#include "pk-config.h"

G_BEGIN_DECLS

/**
 * PkRelayProtocol:
 * @PK_RELAY_PROTOCOL_TCP: a TCP relay: one upstream connection per client connection
 * @PK_RELAY_PROTOCOL_UDP: a UDP relay: one upstream socket per client address
 *
 * The transport a relay rule carries.
 *
 * Since: 0.1
 */
typedef enum {
  PK_RELAY_PROTOCOL_TCP,
  PK_RELAY_PROTOCOL_UDP,
} PkRelayProtocol;

#define PK_TYPE_RELAY_RULE (pk_relay_rule_get_type ())

typedef struct _PkRelayRule PkRelayRule;

PK_AVAILABLE_IN_ALL
GType            pk_relay_rule_get_type              (void) G_GNUC_CONST;

PK_AVAILABLE_IN_ALL
PkRelayRule     *pk_relay_rule_new                   (PkRelayProtocol   protocol,
                                                      guint16           in_port,
                                                      const char       *out_host,
                                                      guint16           out_port);
PK_AVAILABLE_IN_ALL
PkRelayRule     *pk_relay_rule_new_from_string       (const char       *spec,
                                                      GError          **error);
PK_AVAILABLE_IN_ALL
PkRelayRule     *pk_relay_rule_copy                  (PkRelayRule      *rule);
PK_AVAILABLE_IN_ALL
PkRelayRule     *pk_relay_rule_ref                   (PkRelayRule      *rule);
PK_AVAILABLE_IN_ALL
void             pk_relay_rule_unref                 (PkRelayRule      *rule);
PK_AVAILABLE_IN_ALL
gboolean         pk_relay_rule_equal                 (PkRelayRule      *a,
                                                      PkRelayRule      *b);
PK_AVAILABLE_IN_ALL
char            *pk_relay_rule_to_string             (PkRelayRule      *rule);

PK_AVAILABLE_IN_ALL
const char      *pk_relay_rule_get_name              (PkRelayRule      *rule);
PK_AVAILABLE_IN_ALL
void             pk_relay_rule_set_name              (PkRelayRule      *rule,
                                                      const char       *name);
PK_AVAILABLE_IN_ALL
PkRelayProtocol  pk_relay_rule_get_protocol          (PkRelayRule      *rule);
PK_AVAILABLE_IN_ALL
const char      *pk_relay_rule_get_listen_address    (PkRelayRule      *rule);
PK_AVAILABLE_IN_ALL
gboolean         pk_relay_rule_set_listen_address    (PkRelayRule      *rule,
                                                      const char       *address,
                                                      GError          **error);
PK_AVAILABLE_IN_ALL
guint16          pk_relay_rule_get_in_port           (PkRelayRule      *rule);
PK_AVAILABLE_IN_ALL
const char      *pk_relay_rule_get_out_host          (PkRelayRule      *rule);
PK_AVAILABLE_IN_ALL
guint16          pk_relay_rule_get_out_port          (PkRelayRule      *rule);

PK_AVAILABLE_IN_ALL
guint            pk_relay_rule_get_connect_timeout   (PkRelayRule      *rule);
PK_AVAILABLE_IN_ALL
void             pk_relay_rule_set_connect_timeout   (PkRelayRule      *rule,
                                                      guint             timeout_ms);
PK_AVAILABLE_IN_ALL
guint            pk_relay_rule_get_idle_timeout      (PkRelayRule      *rule);
PK_AVAILABLE_IN_ALL
void             pk_relay_rule_set_idle_timeout      (PkRelayRule      *rule,
                                                      guint             timeout_ms);
PK_AVAILABLE_IN_ALL
void             pk_relay_rule_get_keepalive         (PkRelayRule      *rule,
                                                      guint            *idle_s,
                                                      guint            *interval_s,
                                                      guint            *count);
PK_AVAILABLE_IN_ALL
void             pk_relay_rule_set_keepalive         (PkRelayRule      *rule,
                                                      guint             idle_s,
                                                      guint             interval_s,
                                                      guint             count);
PK_AVAILABLE_IN_ALL
guint            pk_relay_rule_get_max_sessions      (PkRelayRule      *rule);
PK_AVAILABLE_IN_ALL
void             pk_relay_rule_set_max_sessions      (PkRelayRule      *rule,
                                                      guint             max_sessions);
PK_AVAILABLE_IN_ALL
gboolean         pk_relay_rule_get_health_check      (PkRelayRule      *rule,
                                                      guint            *timeout_ms,
                                                      guint            *retries,
                                                      guint            *interval_ms);
PK_AVAILABLE_IN_ALL
void             pk_relay_rule_set_health_check      (PkRelayRule      *rule,
                                                      gboolean          enabled,
                                                      guint             timeout_ms,
                                                      guint             retries,
                                                      guint             interval_ms);
PK_AVAILABLE_IN_ALL
PkEgress        *pk_relay_rule_get_egress            (PkRelayRule      *rule);
PK_AVAILABLE_IN_ALL
void             pk_relay_rule_set_egress            (PkRelayRule      *rule,
                                                      PkEgress         *egress);
PK_AVAILABLE_IN_ALL
const char      *pk_relay_rule_get_allow             (PkRelayRule      *rule);
PK_AVAILABLE_IN_ALL
gboolean         pk_relay_rule_set_allow             (PkRelayRule      *rule,
                                                      const char       *cidrs,
                                                      GError          **error);

PK_AVAILABLE_IN_ALL
GPtrArray       *pk_relay_rules_load                 (PkConfig         *config,
                                                      const char * const *specs,
                                                      const char       *listen_address,
                                                      GError          **error);
PK_AVAILABLE_IN_ALL
gboolean         pk_relay_rules_check                (GPtrArray        *rules,
                                                      GError          **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PkRelayRule, pk_relay_rule_unref)

G_END_DECLS
