/* pk-error.c: the libproxykit error domain
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "pk-error.h"

G_DEFINE_QUARK (pk-error-quark, pk_error)
