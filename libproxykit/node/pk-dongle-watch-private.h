/* pk-dongle-watch-private.h: what pk-dongle-watch-config.c gives PkDongleWatch
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "pk-dongle-watch.h"
#include "pk-modem.h"
#include "pk-toggle-modem-step.h"

G_BEGIN_DECLS

/* The configuration the modems and modem rungs are built from (NULL:
 * built-in settings). */
void               pk_dongle_watch_set_config      (PkDongleWatch  *self,
                                                    PkConfig       *config);
PkConfig          *pk_dongle_watch_get_config      (PkDongleWatch  *self);

/* Dongle @dongle's modem: its API through its egress, with the
 * credentials and request timeout of [dongle:N] or [toggle]. */
PkModem           *pk_dongle_watch_make_modem      (PkConfig       *config,
                                                    PkDongle       *dongle,
                                                    GError        **error);
/* The modem rung with the [toggle] escalation and timings (the
 * built-in ones, with a warning, when they are not valid). */
PkToggleModemStep *pk_dongle_watch_make_modem_step (PkConfig       *config);

G_END_DECLS
