/* pk-hilink-modem-private.h: a dongle's modem client from the configuration
 * (not installed)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "pk-config.h"
#include "pk-hilink-modem.h"

G_BEGIN_DECLS

/* The settings of dongle @id's modem client that the configuration
 * holds, one rule for pk-toggle and the dongles' watch: the bound of one
 * API call ([toggle] request_timeout) and the web login ([dongle:N]
 * username/password, else [toggle]'s). An error names the key. */
gboolean pk_hilink_modem_apply_config (PkHilinkModem  *self,
                                       PkConfig       *config,
                                       guint           id,
                                       GError        **error);

G_END_DECLS
