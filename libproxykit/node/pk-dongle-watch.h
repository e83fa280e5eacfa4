/* pk-dongle-watch.h: every dongle under a watchdog, recovered through the ladder
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__PROXYKIT_INSIDE__) && !defined(PROXYKIT_COMPILATION)
#error "Only <proxykit/proxykit.h> can be included directly."
#endif

#include <gio/gio.h>
#include "pk-version-macros.h"
#include "pk-config.h"
#include "pk-dongle-monitor.h"
#include "pk-state-store.h"
#include "pk-toggle-ladder.h"
#include "pk-usb-controller-reset.h"

G_BEGIN_DECLS

/**
 * PK_DONGLE_WATCH_DEFAULT_INTERVAL_MS:
 *
 * A dongle is checked every 3 minutes, as the farms' own tools do.
 *
 * Since: 0.2
 */
#define PK_DONGLE_WATCH_DEFAULT_INTERVAL_MS 180000

/**
 * PK_DONGLE_WATCH_DEFAULT_RETRIES:
 *
 * Failed checks in a row that confirm a dongle's failure.
 *
 * Since: 0.2
 */
#define PK_DONGLE_WATCH_DEFAULT_RETRIES 2

#define PK_TYPE_DONGLE_WATCH (pk_dongle_watch_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkDongleWatch, pk_dongle_watch, PK, DONGLE_WATCH, GObject)

PK_AVAILABLE_IN_ALL
PkDongleWatch   *pk_dongle_watch_new               (PkDongleMonitor        *monitor,
                                                    PkStateStore           *store);
PK_AVAILABLE_IN_ALL
PkDongleWatch   *pk_dongle_watch_new_from_config   (PkConfig               *config,
                                                    GError                **error);
PK_AVAILABLE_IN_ALL
const char * const *pk_dongle_watch_get_config_keys (void);
PK_AVAILABLE_IN_ALL
gboolean         pk_dongle_watch_config_enabled    (PkConfig               *config,
                                                    GError                **error);

PK_AVAILABLE_IN_ALL
PkDongleMonitor *pk_dongle_watch_get_monitor       (PkDongleWatch          *self);
PK_AVAILABLE_IN_ALL
PkStateStore    *pk_dongle_watch_get_state_store   (PkDongleWatch          *self);
PK_AVAILABLE_IN_ALL
void             pk_dongle_watch_set_state_store   (PkDongleWatch          *self,
                                                    PkStateStore           *store);
PK_AVAILABLE_IN_ALL
PkToggleLadderSettings *pk_dongle_watch_get_ladder_settings (PkDongleWatch *self);
PK_AVAILABLE_IN_ALL
void             pk_dongle_watch_set_ladder_settings (PkDongleWatch        *self,
                                                      PkToggleLadderSettings *settings);

PK_AVAILABLE_IN_ALL
guint            pk_dongle_watch_get_interval_ms    (PkDongleWatch         *self);
PK_AVAILABLE_IN_ALL
void             pk_dongle_watch_set_interval_ms    (PkDongleWatch         *self,
                                                     guint                  interval_ms);
PK_AVAILABLE_IN_ALL
guint            pk_dongle_watch_get_retry_delay_ms (PkDongleWatch         *self);
PK_AVAILABLE_IN_ALL
void             pk_dongle_watch_set_retry_delay_ms (PkDongleWatch         *self,
                                                     guint                  retry_delay_ms);
PK_AVAILABLE_IN_ALL
guint            pk_dongle_watch_get_fall           (PkDongleWatch         *self);
PK_AVAILABLE_IN_ALL
void             pk_dongle_watch_set_fall           (PkDongleWatch         *self,
                                                     guint                  fall);
PK_AVAILABLE_IN_ALL
guint            pk_dongle_watch_get_rise           (PkDongleWatch         *self);
PK_AVAILABLE_IN_ALL
void             pk_dongle_watch_set_rise           (PkDongleWatch         *self,
                                                     guint                  rise);
PK_AVAILABLE_IN_ALL
guint            pk_dongle_watch_get_timeout_ms     (PkDongleWatch         *self);
PK_AVAILABLE_IN_ALL
void             pk_dongle_watch_set_timeout_ms     (PkDongleWatch         *self,
                                                     guint                  timeout_ms);
PK_AVAILABLE_IN_ALL
gboolean         pk_dongle_watch_set_socks_check    (PkDongleWatch         *self,
                                                     const char            *target,
                                                     GError               **error);

PK_AVAILABLE_IN_ALL
gboolean         pk_dongle_watch_start              (PkDongleWatch         *self,
                                                     GError               **error);
PK_AVAILABLE_IN_ALL
void             pk_dongle_watch_stop               (PkDongleWatch         *self);

PK_AVAILABLE_IN_ALL
void             pk_dongle_watch_set_controller_reset (PkDongleWatch        *self,
                                                       PkUsbControllerReset *reset);
PK_AVAILABLE_IN_ALL
PkUsbControllerReset *pk_dongle_watch_get_controller_reset (PkDongleWatch *self);

PK_AVAILABLE_IN_ALL
guint            pk_dongle_watch_get_n_dongles      (PkDongleWatch         *self);
PK_AVAILABLE_IN_ALL
guint            pk_dongle_watch_get_n_failing      (PkDongleWatch         *self);
PK_AVAILABLE_IN_ALL
guint            pk_dongle_watch_get_n_recovering   (PkDongleWatch         *self);

G_END_DECLS
