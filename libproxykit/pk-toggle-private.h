/* pk-toggle-private.h: PkToggle internals shared with PkToggleServer
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "pk-toggle.h"

#ifdef HAVE_JSON_GLIB
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

JsonNode *pk_toggle_result_to_json_node (PkToggleResult *self);

G_END_DECLS
#endif
