/* pk-dongle.h: one USB LTE dongle of a farm, as the host sees it
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__PROXYKIT_INSIDE__) && !defined(PROXYKIT_COMPILATION)
#error "Only <proxykit/proxykit.h> can be included directly."
#endif

#include <gio/gio.h>
#include "pk-version-macros.h"
#include "pk-egress.h"

G_BEGIN_DECLS

/**
 * PK_DONGLE_HUAWEI_VENDOR_ID:
 *
 * The USB vendor id of Huawei (`12d1`).
 *
 * Since: 0.2
 */
#define PK_DONGLE_HUAWEI_VENDOR_ID 0x12d1

/**
 * PK_DONGLE_MODESWITCH_MESSAGE:
 *
 * The `usb_modeswitch` message (`-M`) that switches an E8372h from mass
 * storage (`12d1:1f01`) to HiLink mode (`12d1:14db`).
 *
 * Since: 0.2
 */
#define PK_DONGLE_MODESWITCH_MESSAGE "55534243123456780000000000000011062000000100000000000000000000"

/**
 * PkDongleMode:
 * @PK_DONGLE_MODE_UNKNOWN: a Huawei device in a mode we do not drive
 *   (a serial modem, a diagnostics mode)
 * @PK_DONGLE_MODE_HILINK: HiLink mode (`12d1:14db`, `12d1:14dc`, or any
 *   Huawei device with a `cdc_ether` network interface): the dongle is a
 *   router on its own subnet
 * @PK_DONGLE_MODE_MASS_STORAGE: the virtual CD-ROM it starts as
 *   (`12d1:1f01`); `usb_modeswitch` turns it into HiLink mode
 *
 * What mode a dongle's USB device is in.
 *
 * Since: 0.2
 */
typedef enum {
  PK_DONGLE_MODE_UNKNOWN,
  PK_DONGLE_MODE_HILINK,
  PK_DONGLE_MODE_MASS_STORAGE,
} PkDongleMode;

PK_AVAILABLE_IN_ALL
const char *pk_dongle_mode_to_string (PkDongleMode mode);

PK_AVAILABLE_IN_ALL
const char * const *pk_dongle_get_config_keys (void);

#define PK_TYPE_DONGLE (pk_dongle_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkDongle, pk_dongle, PK, DONGLE, GObject)

PK_AVAILABLE_IN_ALL
PkDongle     *pk_dongle_new               (guint          id,
                                           const char    *interface,
                                           const char    *host_address);

PK_AVAILABLE_IN_ALL
guint         pk_dongle_get_id            (PkDongle      *self);
PK_AVAILABLE_IN_ALL
PkDongleMode  pk_dongle_get_mode          (PkDongle      *self);
PK_AVAILABLE_IN_ALL
const char   *pk_dongle_get_interface     (PkDongle      *self);
PK_AVAILABLE_IN_ALL
const char   *pk_dongle_get_host_address  (PkDongle      *self);
PK_AVAILABLE_IN_ALL
const char   *pk_dongle_get_gateway       (PkDongle      *self);
PK_AVAILABLE_IN_ALL
char         *pk_dongle_dup_api_url       (PkDongle      *self);
PK_AVAILABLE_IN_ALL
const char   *pk_dongle_get_mac_address   (PkDongle      *self);
PK_AVAILABLE_IN_ALL
const char   *pk_dongle_get_usb_path      (PkDongle      *self);
PK_AVAILABLE_IN_ALL
const char   *pk_dongle_get_sysfs_path    (PkDongle      *self);
PK_AVAILABLE_IN_ALL
const char   *pk_dongle_get_hub_path      (PkDongle      *self);
PK_AVAILABLE_IN_ALL
guint         pk_dongle_get_hub_port      (PkDongle      *self);
PK_AVAILABLE_IN_ALL
guint16       pk_dongle_get_vendor_id     (PkDongle      *self);
PK_AVAILABLE_IN_ALL
guint16       pk_dongle_get_product_id    (PkDongle      *self);
PK_AVAILABLE_IN_ALL
char         *pk_dongle_dup_usb_id        (PkDongle      *self);
PK_AVAILABLE_IN_ALL
const char   *pk_dongle_get_serial        (PkDongle      *self);
PK_AVAILABLE_IN_ALL
gboolean      pk_dongle_is_ready          (PkDongle      *self);

PK_AVAILABLE_IN_ALL
PkEgress     *pk_dongle_dup_egress        (PkDongle      *self);
PK_AVAILABLE_IN_ALL
char         *pk_dongle_to_json           (PkDongle      *self);

G_END_DECLS
