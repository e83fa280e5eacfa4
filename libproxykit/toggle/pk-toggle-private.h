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

/* Opens and locks STATE_DIR/toggle-N.lock (flock(2), without waiting):
 * the one per-dongle lock that toggles, recoveries and port power
 * switches share, across processes. The descriptor, or -1 with
 * PK_ERROR_BUSY when another holds it. */
int             pk_toggle_lock_acquire        (const char      *state_dir,
                                               guint            id,
                                               GError         **error);

/* A cycle: @do_switch off, @off_ms, on, then (with a @dongle) up to
 * @wait_ms for its interface to come back with an address. Cancelled, it
 * switches on before it returns; a failed switch off is switched on
 * again. Finish with g_task_propagate_boolean() on the GTask of @owner. */
typedef gboolean (*PkToggleCycleSwitch) (gpointer   owner,
                                         gboolean   on,
                                         GString   *detail,
                                         GError   **error);
void            pk_toggle_cycle_start         (gpointer             owner,
                                               PkDongle            *dongle,
                                               PkToggleCycleSwitch  do_switch,
                                               guint                off_ms,
                                               guint                wait_ms,
                                               GCancellable        *cancellable,
                                               GAsyncReadyCallback  callback,
                                               gpointer             user_data,
                                               gpointer             source_tag);

/* Emits PkToggle::progress. */
void            pk_toggle_emit_progress       (PkToggle        *self,
                                               const char      *text);

PkToggleResult *pk_toggle_result_new          (guint            id);
/* A refusal (busy, cooldown, limit): no steps, a copy of @error. */
PkToggleResult *pk_toggle_result_new_refused  (guint            id,
                                               const GError    *error);
void            pk_toggle_result_add_step     (PkToggleResult  *self,
                                               const char      *name,
                                               const char      *outcome,
                                               const char      *detail);
/* A step that ran before the toggle (the USB controller reset of
 * PkToggleService), at @index (past the end: last). */
void            pk_toggle_result_insert_step  (PkToggleResult  *self,
                                               guint            index,
                                               const char      *name,
                                               const char      *outcome,
                                               const char      *detail,
                                               guint64          duration_ms);
/* Of the step added last. */
void            pk_toggle_result_set_step_duration (PkToggleResult *self,
                                                    guint64         duration_ms);
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

/* A modem's answer to pk_modem_get_status_async() into @obj, as /status
 * and pk-toggle --status show it: "reachable", "connected", "state",
 * "wan_ip", and "error" when @ok is FALSE. A modem busy through every
 * retry answered: it counts as reachable. Returns whether it was. */
gboolean  pk_toggle_modem_status_to_json (JsonObject    *obj,
                                          gboolean       ok,
                                          PkModemState   state,
                                          const char    *wan_ip,
                                          const GError  *error);

G_END_DECLS
