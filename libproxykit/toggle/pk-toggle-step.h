/* pk-toggle-step.h: one thing a PkToggle can do to get a dongle a new IP
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__PROXYKIT_INSIDE__) && !defined(PROXYKIT_COMPILATION)
#error "Only <proxykit/proxykit.h> can be included directly."
#endif

#include <gio/gio.h>
#include "pk-version-macros.h"
#include "pk-toggle-step-outcome.h"

G_BEGIN_DECLS

typedef struct _PkToggle PkToggle;

#define PK_TYPE_TOGGLE_STEP (pk_toggle_step_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_INTERFACE (PkToggleStep, pk_toggle_step, PK, TOGGLE_STEP, GObject)

/**
 * PkToggleStepInterface:
 * @get_name: returns the step's short name, e.g. `modem`
 * @run_async: starts the step on the dongle of @toggle
 * @run_finish: finishes @run_async; returns %TRUE if the step did its
 *   work (the toggle then checks the IP), and in @out_outcome what it did
 *   (whether it worked or not) when it has something to say
 *
 * One thing a [class@Toggle] can do to get a dongle a new IP: a modem
 * rotation today; a routing reset, a USB rebind or a port power cycle
 * later. Steps read what they need from the toggle
 * ([method@Toggle.get_modem], [method@Toggle.get_old_ip],
 * [method@Toggle.get_method]).
 */
struct _PkToggleStepInterface
{
  GTypeInterface g_iface;

  const char *(*get_name)   (PkToggleStep        *self);
  void        (*run_async)  (PkToggleStep        *self,
                             PkToggle            *toggle,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data);
  gboolean    (*run_finish) (PkToggleStep         *self,
                             GAsyncResult         *result,
                             PkToggleStepOutcome **out_outcome,
                             GError              **error);

  /*< private >*/
  gpointer padding[8];
};

PK_AVAILABLE_IN_ALL
const char *pk_toggle_step_get_name   (PkToggleStep        *self);
PK_AVAILABLE_IN_ALL
void        pk_toggle_step_run_async  (PkToggleStep        *self,
                                       PkToggle            *toggle,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data);
PK_AVAILABLE_IN_ALL
gboolean    pk_toggle_step_run_finish (PkToggleStep         *self,
                                       GAsyncResult         *result,
                                       PkToggleStepOutcome **out_outcome,
                                       GError              **error);

G_END_DECLS
