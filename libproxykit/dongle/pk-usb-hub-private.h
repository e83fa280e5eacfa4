/* pk-usb-hub-private.h: port power through USB hub-class requests (not installed)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The hub-class requests of USB 2.0 section 11.24 that switch and read a
 * port's power (uhubctl sends the same). */
#define PK_USB_HUB_REQUEST_GET_STATUS    0x00
#define PK_USB_HUB_REQUEST_CLEAR_FEATURE 0x01
#define PK_USB_HUB_REQUEST_SET_FEATURE   0x03
#define PK_USB_HUB_FEATURE_PORT_POWER    8
/* wPortStatus: the power bit of a USB 2 hub, and of a USB 3 hub. */
#define PK_USB_HUB_PORT_STAT_POWER       0x0100
#define PK_USB_HUB_SS_PORT_STAT_POWER    0x0200

/* Port @port of hub @hub ("1-1"; "usb1" for a root hub) on or off with a
 * SET_FEATURE or CLEAR_FEATURE(PORT_POWER) control transfer through
 * usbfs (libgusb), for kernels and hubs without the port's `disable`
 * attribute. PK_ERROR_NOT_SUPPORTED without libgusb or when the hub is
 * not found on USB. */
gboolean pk_usb_hub_set_port_power (const char  *hub,
                                    guint        port,
                                    gboolean     on,
                                    GError     **error);
/* The same port's power, from a GET_STATUS(port) request. */
gboolean pk_usb_hub_get_port_power (const char  *hub,
                                    guint        port,
                                    gboolean    *out_on,
                                    GError     **error);

G_END_DECLS
