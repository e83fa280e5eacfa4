/* proxykit.h: the umbrella header of libproxykit
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#define __PROXYKIT_INSIDE__

#include "pk-version-macros.h"
#include "pk-version.h"
#include "pk-enum-types.h"
#include "pk-error.h"
#include "pk-egress.h"
#include "pk-config.h"
/* --- socks --- */
#include "pk-socks-server.h"
/* --- data path --- */
#include "pk-bridge.h"
#include "pk-workers.h"
/* --- relay --- */
#include "pk-relay-rule.h"
#include "pk-relay.h"
/* --- tunnel, probe, watchdog, state --- */
/* --- modem, toggle --- */
/* --- metrics --- */

#undef __PROXYKIT_INSIDE__
