/* pk-toggle-private.h: PkToggle internals shared with PkToggleServer
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "pk-toggle.h"

G_BEGIN_DECLS

/* TRUE and one more running, unless the limit is reached (a recovery run
 * ignores it). */
gboolean        pk_toggle_limiter_try_acquire (PkToggleLimiter *self,
                                               gboolean         ignore_limit);
void            pk_toggle_limiter_release     (PkToggleLimiter *self);

/* Emits PkToggle::progress. */
void            pk_toggle_emit_progress       (PkToggle        *self,
                                               const char      *text);

PkToggleResult *pk_toggle_result_new          (guint            id);
void            pk_toggle_result_add_step     (PkToggleResult  *self,
                                               const char      *name,
                                               const char      *outcome,
                                               const char      *detail);
/* NULL leaves a value as it is. */
void            pk_toggle_result_set_ips      (PkToggleResult  *self,
                                               const char      *old_ip,
                                               const char      *new_ip);
/* What brought (or last tried for) the new IP; @attempts add up. */
void            pk_toggle_result_set_method   (PkToggleResult  *self,
                                               const char      *method,
                                               guint            attempts,
                                               gboolean         escalated);
/* Takes @error (NULL on success). */
void            pk_toggle_result_finish       (PkToggleResult  *self,
                                               guint64          duration_ms,
                                               GError          *error);

G_END_DECLS

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

JsonNode *pk_toggle_result_to_json_node (PkToggleResult *self);

G_END_DECLS
