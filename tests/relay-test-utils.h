/* relay-test-utils.h: what the relay's test programs share (loopback
 * rules, clients in threads, a resolver that never leaves the process)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <json-glib/json-glib.h>
#include <proxykit/proxykit.h>

#include "pk-relay-private.h"
#include "pk-test-utils.h"

G_BEGIN_DECLS

/* For pk_test_wait_until(): a rule's counter is above 0. */
typedef struct {
  PkRelay *relay;
  const char *rule;
  const char *member;
} Counter;

/* The relay runs in this thread's main context; blocking clients run in
 * threads while it iterates. */
typedef struct {
  GThread *thread;
  gint done;
} Client;

typedef struct {
  Client client;
  guint16 port;
  const char *connect_to;
  guint n_clients;
  guint n_datagrams;
  guint timeout_s;
  guint ok;
} UdpClients;

/* DNS for the names of this test only: no lookup leaves the process.
 * The answer for "moving.test" is whatever the test last set. */
typedef struct {
  GResolver parent_instance;
  char *address;
} TestResolver;

GType test_resolver_get_type (void);

JsonObject *
rule_status (PkRelay    *relay,
             const char *name);

gint64
rule_counter (PkRelay    *relay,
              const char *name,
              const char *member);

gboolean
counter_set (gpointer data);

gboolean
socket_readable (gpointer data);

GSocketAddress *
loopback (const char *ip,
          guint16     port);

PkRelayRule *
loopback_rule (PkRelayProtocol protocol,
               guint16         out_port,
               const char     *name);

guint16
start_rule (PkRelay     *relay,
            PkRelayRule *rule);

gboolean
client_done (gpointer data);

void
client_join (Client *client);

guint16
unused_port (void);

gpointer
udp_clients_thread (gpointer data);

gboolean
connect_refused (guint16 port);

void
echo_roundtrip (GSocket    *client,
                const char *msg);

G_END_DECLS
