/* pk-hysteresis.h: rise/fall hysteresis over check results, without timers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__PROXYKIT_INSIDE__) && !defined(PROXYKIT_COMPILATION)
#error "Only <proxykit/proxykit.h> can be included directly."
#endif

#include <glib-object.h>
#include "pk-version-macros.h"

G_BEGIN_DECLS

/**
 * PkHealth:
 * @PK_HEALTH_UNKNOWN: no result yet
 * @PK_HEALTH_UP: healthy
 * @PK_HEALTH_FAILING: healthy, but the last checks failed and a failure is
 *   being confirmed (fewer than the fall count)
 * @PK_HEALTH_DOWN: a failure was confirmed
 * @PK_HEALTH_RECOVERING: down, but the last checks passed and a recovery is
 *   being confirmed (fewer than the rise count)
 *
 * The health of a watched thing as seen through hysteresis.
 *
 * Since: 0.1
 */
typedef enum {
  PK_HEALTH_UNKNOWN,
  PK_HEALTH_UP,
  PK_HEALTH_FAILING,
  PK_HEALTH_DOWN,
  PK_HEALTH_RECOVERING,
} PkHealth;

/**
 * PkHysteresisEvent:
 * @PK_HYSTERESIS_EVENT_NONE: nothing was confirmed
 * @PK_HYSTERESIS_EVENT_FAILED: a failure was confirmed (fall count reached)
 * @PK_HYSTERESIS_EVENT_RECOVERED: a recovery was confirmed (rise count reached)
 *
 * What a result fed to a [struct@Hysteresis] confirmed.
 *
 * Since: 0.1
 */
typedef enum {
  PK_HYSTERESIS_EVENT_NONE,
  PK_HYSTERESIS_EVENT_FAILED,
  PK_HYSTERESIS_EVENT_RECOVERED,
} PkHysteresisEvent;

typedef struct _PkHysteresis PkHysteresis;

#define PK_TYPE_HYSTERESIS (pk_hysteresis_get_type ())
PK_AVAILABLE_IN_ALL
GType          pk_hysteresis_get_type  (void) G_GNUC_CONST;

PK_AVAILABLE_IN_ALL
const char    *pk_health_to_string     (PkHealth health);

PK_AVAILABLE_IN_ALL
PkHysteresis  *pk_hysteresis_new       (guint         fall,
                                        guint         rise);
PK_AVAILABLE_IN_ALL
PkHysteresis  *pk_hysteresis_ref       (PkHysteresis *self);
PK_AVAILABLE_IN_ALL
void           pk_hysteresis_unref     (PkHysteresis *self);

PK_AVAILABLE_IN_ALL
PkHysteresisEvent pk_hysteresis_feed   (PkHysteresis *self,
                                        gboolean      ok,
                                        gint64        now);
PK_AVAILABLE_IN_ALL
void           pk_hysteresis_reset     (PkHysteresis *self,
                                        PkHealth      health,
                                        gint64        now);

PK_AVAILABLE_IN_ALL
PkHealth       pk_hysteresis_get_health (PkHysteresis *self);
PK_AVAILABLE_IN_ALL
gboolean       pk_hysteresis_is_confirming (PkHysteresis *self);
PK_AVAILABLE_IN_ALL
guint          pk_hysteresis_get_fall  (PkHysteresis *self);
PK_AVAILABLE_IN_ALL
void           pk_hysteresis_set_fall  (PkHysteresis *self,
                                        guint         fall);
PK_AVAILABLE_IN_ALL
guint          pk_hysteresis_get_rise  (PkHysteresis *self);
PK_AVAILABLE_IN_ALL
void           pk_hysteresis_set_rise  (PkHysteresis *self,
                                        guint         rise);
PK_AVAILABLE_IN_ALL
guint          pk_hysteresis_get_consecutive_failures  (PkHysteresis *self);
PK_AVAILABLE_IN_ALL
guint          pk_hysteresis_get_consecutive_successes (PkHysteresis *self);
PK_AVAILABLE_IN_ALL
guint          pk_hysteresis_get_total_failures (PkHysteresis *self);
PK_AVAILABLE_IN_ALL
void           pk_hysteresis_set_total_failures (PkHysteresis *self,
                                                 guint         fails);
PK_AVAILABLE_IN_ALL
guint          pk_hysteresis_get_total_recoveries (PkHysteresis *self);
PK_AVAILABLE_IN_ALL
guint64        pk_hysteresis_get_n_checks (PkHysteresis *self);
PK_AVAILABLE_IN_ALL
gint64         pk_hysteresis_get_last_change (PkHysteresis *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PkHysteresis, pk_hysteresis_unref)

G_END_DECLS
