/* pk-socks-pptp.h: pk-socks serving through a PPTP tunnel it brings up
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "pk-cli-common.h"

G_BEGIN_DECLS

/* --pptp-server and friends, as an option group of pk-socks. */
GOptionGroup *pk_socks_pptp_option_group (void);
gboolean      pk_socks_pptp_enabled      (void);

/* Brings the tunnel up and runs the startup check through it (blocking,
 * in a main loop of its own). On success, *egress_interface and
 * *egress_address are set to the tunnel's (newly allocated). On failure it rolls
 * back (tunnel destroyed, node status "stopped" with the reason) and
 * exits with status 1. */
void          pk_socks_pptp_bring_up     (PkConfig   *config,
                                          char      **egress_interface,
                                          char      **egress_address);

/* Records the node online with its listener (this process). */
void          pk_socks_pptp_record_online (const char *listen);

/* Destroys the tunnel when pk-socks stops; the node becomes "stopped"
 * unless the watchdog already recorded a failure. */
void          pk_socks_pptp_shutdown     (void);

G_END_DECLS
