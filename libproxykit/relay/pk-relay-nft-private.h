/* pk-relay-nft-private.h: UDP rules as nftables DNAT (kernel NAT)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

char            *pk_relay_nft_script     (const char      *table,
                                          GPtrArray       *rules,
                                          GError         **error);
gboolean         pk_relay_nft_apply      (const char      *table,
                                          GPtrArray       *rules,
                                          GError         **error);
void             pk_relay_nft_remove     (const char      *table);
/* comment (rule name) -> guint64[2] { packets, bytes } */
GHashTable      *pk_relay_nft_counters   (const char      *table);

G_END_DECLS
