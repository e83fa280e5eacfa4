/* pk-access-list-private.h: what the SOCKS server reads of a PkAccessList
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "pk-access-list.h"

G_BEGIN_DECLS

/* The current list as a GPtrArray of GInetAddressMask (a reference: the
 * array is never changed once published, a new fetch publishes another),
 * or NULL while nothing is loaded. Safe from any thread. */
GPtrArray *pk_access_list_ref_masks (PkAccessList *self);

/* TRUE for an http or https URL; else FALSE with PK_ERROR_INVALID_ARGUMENT. */
gboolean   pk_access_list_check_url (const char   *url,
                                     GError      **error);

G_END_DECLS
