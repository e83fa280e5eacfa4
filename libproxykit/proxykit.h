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
/* --- data path --- */
/* --- relay --- */
/* --- tunnel, probe, watchdog, state --- */
#include "pk-node-state.h"
#include "pk-state-store.h"
#include "pk-hysteresis.h"
#include "pk-probe.h"
#include "pk-watchdog.h"
#include "pk-tunnel.h"
/* --- modem, toggle --- */
/* --- metrics --- */

#undef __PROXYKIT_INSIDE__
