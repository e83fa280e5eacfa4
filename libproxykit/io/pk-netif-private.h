/* pk-netif-private.h: interface state for probes and tunnels (not installed)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* TRUE if @ifname has IFF_UP, IFF_LOWER_UP and an IPv4 address (a PPP
 * link's operstate reads "unknown", so operstate is not consulted). On
 * FALSE, @out_reason says which part is missing. @out_ipv4 gets the first
 * IPv4 address. */
gboolean  pk_netif_is_up          (const char  *ifname,
                                   char       **out_ipv4,
                                   char       **out_reason);

/* TRUE if @pid is alive and not a zombie; otherwise @out_reason says why. */
gboolean  pk_process_is_alive     (int          pid,
                                   char       **out_reason);

G_END_DECLS
