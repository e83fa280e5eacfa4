/* pk-toggle-dongles.h: pk-toggle's dongle side (--discover, --routing, --status columns)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

#include "pk-cli-common.h"

G_BEGIN_DECLS

/* --discover, --routing, --import-map, for the main group. */
extern const GOptionEntry pk_toggle_dongles_entries[];

/* TRUE if --discover, --routing, --power or --power-status was given
 * (checks the ladder flags too). */
gboolean  pk_toggle_dongles_mode   (void);

/* TRUE when the flags ask for a recovery: a healthy dongle counts. */
gboolean  pk_toggle_dongles_recovery (void);
/* TRUE when the flags name a rung past the modem. */

/* --max-stage as [toggle] max_stage over @config; --rebind and --stage
 * as the rungs of @service's toggles. */
void      pk_toggle_dongles_override (PkConfig        *config);
void      pk_toggle_dongles_stages   (PkToggleService *service);

/* pk-toggle's exit status for a refusal (busy, cooldown, limit). */
#define PK_TOGGLE_EXIT_REFUSED 3

/* Runs --discover, --routing or --power (@ids: the positional numbers, or
 * --all; @lock_dir: where the dongles' locks are, or NULL for none) and
 * returns the exit status. */
int       pk_toggle_dongles_run    (PkConfig   *config,
                                    const char *lock_dir,
                                    char      **ids,
                                    gboolean    all,
                                    gboolean    json);

G_END_DECLS
