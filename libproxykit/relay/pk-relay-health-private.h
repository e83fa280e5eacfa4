/* pk-relay-health-private.h: a relay rule's upstream health check
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "pk-relay-listener-private.h"

G_BEGIN_DECLS

/* Checks at once and then every health-check-interval, in the
 * thread-default main context, until pk_relay_health_stop(). */
void        pk_relay_health_start (PkRelayListener *listener);
void        pk_relay_health_stop  (PkRelayListener *listener);
const char *pk_relay_health_name  (PkRelayHealth    health);

G_END_DECLS
