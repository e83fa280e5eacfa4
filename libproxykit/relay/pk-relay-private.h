/* pk-relay-private.h: PkRelay internals shared by its source files
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "pk-egress.h"
#include "pk-relay-rule.h"
#include "pk-workers.h"
#include "pk-util-private.h"

#define PK_RELAY_COUNT(field, n) ((void) __atomic_add_fetch (&(field), (n), __ATOMIC_RELAXED))
#define PK_RELAY_LOAD(field) (__atomic_load_n (&(field), __ATOMIC_RELAXED))

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
typedef struct {
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

  PkRelayUdp *udp;
} PkRelayListener;

PkRelayListener *pk_relay_listener_ref   (PkRelayListener *listener);
void             pk_relay_listener_unref (PkRelayListener *listener);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PkRelayListener, pk_relay_listener_unref)

/* pk-relay-udp.c */
gboolean         pk_relay_udp_start      (PkRelayListener *listener,
                                          GError         **error);
void             pk_relay_udp_stop       (PkRelayListener *listener);
guint            pk_relay_udp_get_n_sessions (PkRelayListener *listener);
/* The upstream address changed: sessions are re-created on their next
 * datagram. */
void             pk_relay_udp_flush      (PkRelayListener *listener);
/* For tests: UDP segmentation offload for rules started from now on;
 * REFUSED turns checksums off on their sockets, so that the kernel
 * refuses it and the relay must fall back. */
typedef enum {
  PK_RELAY_UDP_GSO_OFF,
  PK_RELAY_UDP_GSO_ON,
  PK_RELAY_UDP_GSO_REFUSED,
} PkRelayUdpGso;
void             pk_relay_udp_set_gso        (PkRelayUdpGso    mode);
void             pk_relay_udp_get_gso_stats  (guint64         *to_upstream,
                                              guint64         *to_clients,
                                              guint64         *refused);
void             pk_relay_udp_get_gro_stats  (guint64         *from_clients,
                                              guint64         *from_upstreams);

/* pk-relay-nft.c */
char            *pk_relay_nft_script     (const char      *table,
                                          GPtrArray       *rules,
                                          GError         **error);
gboolean         pk_relay_nft_apply      (const char      *table,
                                          GPtrArray       *rules,
                                          GError         **error);
void             pk_relay_nft_remove     (const char      *table);
/* comment (rule name) -> guint64[2] { packets, bytes } */
GHashTable      *pk_relay_nft_counters   (const char      *table);

/* pk-relay.c, for pk-relay-udp.c */
GSocketAddress  *pk_relay_listener_dup_upstream (PkRelayListener *listener);
/* @refused (an upstream address) answered port unreachable: when the name
 * has other addresses, the next one becomes the upstream and TRUE is
 * returned. */
gboolean         pk_relay_listener_next_upstream (PkRelayListener *listener,
                                                  const PkSockaddr *refused);
void             pk_relay_listener_resolve      (PkRelayListener *listener);
GSocket         *pk_relay_listen_socket         (PkRelayRule     *rule,
                                                 GSocketType      type,
                                                 GError         **error);

/* The rule's TCP keepalive on a new socket (where it is off). */
gboolean         pk_relay_set_keepalive  (int          fd,
                                          PkRelayRule *rule,
                                          GError     **error);

G_END_DECLS
