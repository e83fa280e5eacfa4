/* pk-usb-controller-reset.h: the last resort when most dongles fail at once
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
#include "pk-dongle.h"
#include "pk-state-store.h"

G_BEGIN_DECLS

/**
 * PK_USB_CONTROLLER_RESET_DOCUMENT:
 *
 * The name of the reset record among the state store's documents
 * (`STATE_DIR/host/usb-controller-reset.json`).
 *
 * Since: 0.2
 */
#define PK_USB_CONTROLLER_RESET_DOCUMENT "usb-controller-reset"

/**
 * PK_USB_CONTROLLER_RESET_DEFAULT_THRESHOLD:
 *
 * The share of the dongles, in percent, that must fail at once before
 * their USB controller is reset.
 *
 * Since: 0.2
 */
#define PK_USB_CONTROLLER_RESET_DEFAULT_THRESHOLD 70

/**
 * PK_USB_CONTROLLER_RESET_DEFAULT_INTERVAL_MS:
 *
 * The least time between two resets of the USB controllers of a host.
 *
 * Since: 0.2
 */
#define PK_USB_CONTROLLER_RESET_DEFAULT_INTERVAL_MS 600000

/**
 * PK_USB_CONTROLLER_RESET_DEFAULT_PAUSE_MS:
 *
 * How long a controller stays unbound before it is bound again.
 *
 * Since: 0.2
 */
#define PK_USB_CONTROLLER_RESET_DEFAULT_PAUSE_MS 2000

#define PK_TYPE_USB_CONTROLLER_RESET (pk_usb_controller_reset_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkUsbControllerReset, pk_usb_controller_reset, PK, USB_CONTROLLER_RESET, GObject)

PK_AVAILABLE_IN_ALL
PkUsbControllerReset *pk_usb_controller_reset_new             (PkStateStore          *store);
PK_AVAILABLE_IN_ALL
PkUsbControllerReset *pk_usb_controller_reset_new_from_config (PkConfig              *config,
                                                               const char            *section,
                                                               PkStateStore          *store,
                                                               GError               **error);
PK_AVAILABLE_IN_ALL
const char * const   *pk_usb_controller_reset_get_config_keys (void);

PK_AVAILABLE_IN_ALL
gboolean              pk_usb_controller_reset_get_allowed     (PkUsbControllerReset  *self);
PK_AVAILABLE_IN_ALL
void                  pk_usb_controller_reset_set_allowed     (PkUsbControllerReset  *self,
                                                               gboolean               allowed);
PK_AVAILABLE_IN_ALL
guint                 pk_usb_controller_reset_get_threshold   (PkUsbControllerReset  *self);
PK_AVAILABLE_IN_ALL
void                  pk_usb_controller_reset_set_threshold   (PkUsbControllerReset  *self,
                                                               guint                  percent);
PK_AVAILABLE_IN_ALL
guint                 pk_usb_controller_reset_get_interval    (PkUsbControllerReset  *self);
PK_AVAILABLE_IN_ALL
void                  pk_usb_controller_reset_set_interval    (PkUsbControllerReset  *self,
                                                               guint                  interval_ms);
PK_AVAILABLE_IN_ALL
void                  pk_usb_controller_reset_set_pause       (PkUsbControllerReset  *self,
                                                               guint                  pause_ms);

PK_AVAILABLE_IN_ALL
gboolean              pk_usb_controller_reset_is_due          (PkUsbControllerReset  *self,
                                                               guint                  n_failed,
                                                               guint                  n_total);
PK_AVAILABLE_IN_ALL
guint                 pk_usb_controller_reset_get_remaining   (PkUsbControllerReset  *self);
PK_AVAILABLE_IN_ALL
char                 *pk_usb_controller_reset_dup_controller  (PkDongle              *dongle,
                                                               GError               **error);

PK_AVAILABLE_IN_ALL
void                  pk_usb_controller_reset_maybe_async     (PkUsbControllerReset  *self,
                                                               PkDongle             **failed,
                                                               guint                  n_failed,
                                                               guint                  n_total,
                                                               GCancellable          *cancellable,
                                                               GAsyncReadyCallback    callback,
                                                               gpointer               user_data);
PK_AVAILABLE_IN_ALL
char                **pk_usb_controller_reset_maybe_finish    (PkUsbControllerReset  *self,
                                                               GAsyncResult          *result,
                                                               GError               **error);

G_END_DECLS
