/* proxykit.h: the umbrella header of libproxykit
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#define __PROXYKIT_INSIDE__

#include "pk-version-macros.h"
#include "pk-version.h"
#include "pk-features.h"
#include "pk-paths.h"
#include "pk-enum-types.h"
#include "pk-error.h"
#include "pk-egress.h"
#include "pk-access-list.h"
#include "pk-config.h"
/* --- socks --- */
#include "pk-socks-server.h"
#include "pk-socks-service.h"
/* --- data path --- */
#include "pk-bridge.h"
#include "pk-workers.h"
/* --- relay --- */
#include "pk-relay-rule.h"
#include "pk-relay.h"
/* --- tunnel, probe, watchdog, state --- */
#include "pk-node-state.h"
#include "pk-state-store.h"
#include "pk-hysteresis.h"
#include "pk-probe.h"
#include "pk-watchdog.h"
#include "pk-tunnel.h"
/* --- modem, toggle --- */
#include "pk-modem.h"
#if PK_HAVE_LIBSOUP
#include "pk-hilink-modem.h"
#endif
#include "pk-rotation.h"
#include "pk-toggle-step-outcome.h"
#include "pk-toggle-step.h"
#include "pk-toggle-modem-step.h"
#include "pk-toggle-limiter.h"
#include "pk-toggle-result.h"
#include "pk-toggle.h"
#include "pk-toggle-ladder.h"
#include "pk-port-power.h"
#if PK_HAVE_LIBSOUP
#include "pk-toggle-server.h"
#include "pk-toggle-service.h"
#endif
/* --- dongles: discovery, USB map, routing; the farm's listeners --- */
#include "pk-dongle.h"
#include "pk-usb-map.h"
#include "pk-usb-controller-reset.h"
#include "pk-routing.h"
#include "pk-dongle-monitor.h"
#include "pk-dongle-farm.h"
#include "pk-node-supervisor.h"
#include "pk-node-watch.h"
#if PK_HAVE_LIBSOUP
#include "pk-dongle-watch.h"
#endif
/* --- metrics --- */
#include "pk-metrics-sampler.h"
#include "pk-metrics-recorder.h"
#include "pk-metrics-analyze.h"
#include "pk-metrics-alerts.h"
#include "pk-metrics-monitor.h"
#if PK_HAVE_LIBSOUP
#include "pk-metrics-server.h"
#endif

#undef __PROXYKIT_INSIDE__
