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
/* --- modem, toggle --- */
#include "pk-modem.h"
#include "pk-hilink-modem.h"
#include "pk-rotation.h"
#include "pk-toggle.h"
/* --- metrics --- */

#undef __PROXYKIT_INSIDE__
