/* pk-error.c: the libproxykit error domain
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "pk-error.h"

/**
 * pk_error_quark:
 *
 * The error domain of libproxykit, [error@Error]: `PK_ERROR` in C.
 *
 * Returns: the quark of the domain
 *
 * Since: 0.1
 */
G_DEFINE_QUARK (pk-error-quark, pk_error)
