/* pk-toggle-step-outcome.h: what one step of a PkToggle did
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__PROXYKIT_INSIDE__) && !defined(PROXYKIT_COMPILATION)
#error "Only <proxykit/proxykit.h> can be included directly."
#endif

#include <gio/gio.h>
#include "pk-version-macros.h"

G_BEGIN_DECLS

#define PK_TYPE_TOGGLE_STEP_OUTCOME (pk_toggle_step_outcome_get_type ())

typedef struct _PkToggleStepOutcome PkToggleStepOutcome;

PK_AVAILABLE_IN_ALL
GType                pk_toggle_step_outcome_get_type     (void) G_GNUC_CONST;
PK_AVAILABLE_IN_ALL
PkToggleStepOutcome *pk_toggle_step_outcome_new          (const char                *method,
                                                          guint                      attempts,
                                                          gboolean                   escalated,
                                                          const char                *detail);
PK_AVAILABLE_IN_ALL
PkToggleStepOutcome *pk_toggle_step_outcome_copy         (const PkToggleStepOutcome *self);
PK_AVAILABLE_IN_ALL
void                 pk_toggle_step_outcome_free         (PkToggleStepOutcome       *self);
PK_AVAILABLE_IN_ALL
const char          *pk_toggle_step_outcome_get_method   (const PkToggleStepOutcome *self);
PK_AVAILABLE_IN_ALL
guint                pk_toggle_step_outcome_get_attempts (const PkToggleStepOutcome *self);
PK_AVAILABLE_IN_ALL
gboolean             pk_toggle_step_outcome_get_escalated (const PkToggleStepOutcome *self);
PK_AVAILABLE_IN_ALL
const char          *pk_toggle_step_outcome_get_detail   (const PkToggleStepOutcome *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PkToggleStepOutcome, pk_toggle_step_outcome_free)

G_END_DECLS
