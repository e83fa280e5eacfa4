/* pk-relay-rule-private.h: PkRelayRule's fields, for the relay's files
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "pk-egress.h"
#include "pk-relay-rule.h"
#include "pk-util-private.h"

G_BEGIN_DECLS

struct _PkRelayRule
{
  gatomicrefcount ref_count;

  char *name;
  PkRelayProtocol protocol;
  char *listen_address;         /* NULL: all addresses */
  guint16 in_port;
  char *out_host;
  guint16 out_port;

  guint connect_timeout_ms;
  guint idle_timeout_ms;
  guint keepalive_idle;
  guint keepalive_interval;
  guint keepalive_count;
  guint max_sessions;

  gboolean health_check;
  guint health_timeout_ms;
  guint health_retries;
  guint health_interval_ms;

  PkEgress *egress;
  char *allow;
  GPtrArray *allow_list;        /* of GInetAddressMask, shared by copies */
};

gboolean pk_relay_parse_protocol (const char      *value,
                                  PkRelayProtocol *out);
gboolean pk_relay_rule_allows    (PkRelayRule     *rule,
                                  GSocketAddress  *peer);
gboolean pk_relay_rule_allows_native (PkRelayRule      *rule,
                                      const PkSockaddr *peer);

/* pk-relay-config.c: the rules of a configuration with the [relay]
 * section's listen-address and kernel-nat (an override, the environment,
 * the file), refusing zero rules. */
GPtrArray *pk_relay_config_load (PkConfig            *config,
                                 const char * const  *specs,
                                 gboolean            *kernel_nat,
                                 GError             **error);

G_END_DECLS
