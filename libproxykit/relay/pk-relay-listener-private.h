/* pk-relay-listener-private.h: one relay rule's listener, the part that TCP,
 * UDP and the health check share (its sockets, counters and outbound
 * addresses)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "pk-egress.h"
#include "pk-relay-rule-private.h"
#include "pk-workers.h"
#include "pk-util-private.h"

#define PK_RELAY_COUNT(field, n) ((void) __atomic_add_fetch (&(field), (n), __ATOMIC_RELAXED))
#define PK_RELAY_LOAD(field) (__atomic_load_n (&(field), __ATOMIC_RELAXED))

G_BEGIN_DECLS

typedef enum {
  PK_RELAY_HEALTH_DISABLED,
  PK_RELAY_HEALTH_UNKNOWN,
  PK_RELAY_HEALTH_UP,
  PK_RELAY_HEALTH_DOWN,
} PkRelayHealth;

typedef struct _PkRelayUdp PkRelayUdp;

/* One rule's listening socket, counters and state. Connections and UDP
 * sessions hold a reference, so that a rule removed by a reload can count
 * its last bytes after the relay let go of it. */
typedef struct _PkRelayListener PkRelayListener;

struct _PkRelayListener {
  gatomicrefcount ref_count;

  PkRelayRule *rule;
  PkEgress *egress;             /* the rule's, or a default one */
  GSocket *socket;              /* NULL for a TCP rule served by workers */
  GSource *source;              /* UDP */
  struct _PkAcceptor *acceptor; /* TCP without workers */
  PkWorkers *workers;
  guint workers_id;
  GCancellable *cancellable;    /* cancelled when the rule stops */
  guint16 bound_port;
  gint stopped;                 /* atomic */
  /* Rules this listener ran with before a reload renamed it: worker
   * threads may still read them. */
  GPtrArray *retired_rules;
  /* The relay's count of open TCP connections (an atomic rc box shared
   * by its listeners), which outlives a stopped rule. */
  gint *relay_connections;

  /* With workers, TCP connections run on several threads: the counters
   * marked (atomic) are updated with PK_RELAY_COUNT and the outbound
   * addresses are under the lock. UDP runs in the relay's own context. */
  GMutex lock;

  /* Outbound addresses, resolved through the egress; NULL until the
   * first resolution and again after a connect failure that suggests
   * the host moved. */
  GList *addresses;
  gint64 resolved_at;
  gboolean resolving;
  GInetAddress *literal;        /* out_host when it is an IP literal */
  /* The first address (or the literal) with the outbound port, valid
   * while addresses is not NULL (or always, with a literal). */
  PkSockaddr upstream;

  PkRelayHealth health;
  guint health_failures;
  char *health_reason;
  GSource *health_timer;
  gboolean health_running;

  guint64 connections;          /* (atomic) TCP connections accepted, UDP sessions created */
  guint64 active;               /* (atomic) */
  guint64 refused;              /* (atomic) allowlist or session cap */
  guint64 failed;               /* (atomic) upstream connect failures */
  guint64 bytes_in;             /* (atomic) client to upstream */
  guint64 bytes_out;            /* (atomic) upstream to client */
  guint64 datagrams_in;
  guint64 datagrams_out;
  guint64 dropped;
  PkLogLimit drop_log;          /* UDP */
  PkLogLimit socket_log;        /* TCP: upstream sockets not made (under the lock) */

  PkRelayUdp *udp;
  /* Called (in the thread that resolved) when the first outbound address
   * changed: UDP re-creates its sessions. The listener knows nothing of
   * what serves it (TCP, UDP, health), so that those files depend on it
   * and never the other way round. */
  void (*upstream_changed) (PkRelayListener *listener);
};

/* A listener for @rule, not serving yet: the outbound address when it is
 * an IP literal, and the health state the rule asks for. @relay_connections
 * is the relay's count of open TCP connections (an atomic rc box, acquired). */
PkRelayListener *pk_relay_listener_new   (PkRelayRule     *rule,
                                          PkEgress        *egress,
                                          gint            *relay_connections);
PkRelayListener *pk_relay_listener_ref   (PkRelayListener *listener);
void             pk_relay_listener_unref (PkRelayListener *listener);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PkRelayListener, pk_relay_listener_unref)

GSocketAddress  *pk_relay_listener_dup_upstream (PkRelayListener *listener);
/* The first outbound address with the outbound port, when one is known
 * and fresh; with @stale, an old one will do too. */
gboolean         pk_relay_listener_get_upstream (PkRelayListener *listener,
                                                 gboolean         stale,
                                                 PkSockaddr      *out);
/* @refused (an upstream address) answered port unreachable: when the name
 * has other addresses, the next one becomes the upstream and TRUE is
 * returned. */
gboolean         pk_relay_listener_next_upstream (PkRelayListener *listener,
                                                  const PkSockaddr *refused);
/* Takes @addresses (fresh from a lookup). */
void             pk_relay_listener_set_addresses (PkRelayListener *listener,
                                                  GList           *addresses);
/* Forgets the outbound addresses, after a failure that suggests they are
 * out of date. */
void             pk_relay_listener_forget_addresses (PkRelayListener *listener);
/* Looks the outbound name up in the background (once at a time). */
void             pk_relay_listener_resolve      (PkRelayListener *listener);

GSocket         *pk_relay_listen_socket         (PkRelayRule     *rule,
                                                 GSocketType      type,
                                                 GError         **error);
/* What every TCP listening socket of @rule gets before listen(), for
 * pk_workers_listen_full(). */
gboolean         pk_relay_prepare_listen_socket (GSocket         *socket,
                                                 gpointer         rule,
                                                 GError         **error);

/* The rule's TCP keepalive on a new socket (where it is off). */
gboolean         pk_relay_set_keepalive  (int          fd,
                                          PkRelayRule *rule,
                                          GError     **error);

G_END_DECLS
