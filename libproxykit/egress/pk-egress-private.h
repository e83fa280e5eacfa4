/* pk-egress-private.h: PkEgress on descriptors, for the relay's data path
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "pk-egress.h"

G_BEGIN_DECLS

/* pk_egress_prepare_socket() on a descriptor of @family and @type. */
gboolean pk_egress_prepare_fd (PkEgress       *self,
                               int             fd,
                               GSocketFamily   family,
                               GSocketType     type,
                               GError        **error);

/* pk_egress_create_socket() as a descriptor (non-blocking,
 * close-on-exec), for a path that never makes it a GSocket. -1 with
 * @error set. */
int      pk_egress_open_fd    (PkEgress       *self,
                               GSocketFamily   family,
                               GSocketType     type,
                               GError        **error);

G_END_DECLS
