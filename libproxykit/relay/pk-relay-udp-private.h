/* pk-relay-udp-private.h: the UDP half of a relay rule
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "pk-relay-listener-private.h"

G_BEGIN_DECLS

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

G_END_DECLS
