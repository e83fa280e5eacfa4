/* pk-relay-private.h: PkRelay internals, for pk-relay.c and the tests
 *
 * The parts, from the bottom: the rule's fields, the listener that TCP, UDP
 * and the health check share, and those three; pk-relay.c puts them
 * together. tests/check-layers.py keeps the parts from including upward.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "pk-relay-rule-private.h"
#include "pk-relay-listener-private.h"
#include "pk-relay-tcp-private.h"
#include "pk-relay-udp-private.h"
#include "pk-relay-health-private.h"
#include "pk-relay-nft-private.h"
