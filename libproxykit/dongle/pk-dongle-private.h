/* pk-dongle-private.h: what the monitor fills a PkDongle with (not installed)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

#include "pk-dongle.h"

G_BEGIN_DECLS

typedef struct {
  guint id;
  PkDongleMode mode;
  char *interface;
  char *host_address;
  char *mac_address;
  char *usb_path;        /* "1-1.3" */
  char *sysfs_path;
  char *hub_path;        /* "1-1"; "usb1" for a root hub port */
  guint hub_port;
  guint16 vendor_id;
  guint16 product_id;
  char *serial;
  guint busnum;
  guint devnum;
} PkDongleInfo;

void       pk_dongle_info_clear      (PkDongleInfo       *info);

PkDongle  *pk_dongle_new_from_info   (const PkDongleInfo *info);
/* Copies @info into @self; TRUE if anything changed (and notifies). */
gboolean   pk_dongle_update          (PkDongle           *self,
                                      const PkDongleInfo *info);
/* @self takes what @other holds (a dongle back as a new USB device, for
 * those that hold the old object); TRUE if anything changed. */
gboolean   pk_dongle_update_from     (PkDongle           *self,
                                      PkDongle           *other);
guint      pk_dongle_get_busnum      (PkDongle           *self);
guint      pk_dongle_get_devnum      (PkDongle           *self);

void       pk_dongle_build_json      (PkDongle           *self,
                                      JsonBuilder        *builder);

/* N of "192.168.N.x", the farm's convention; 0 otherwise. */
guint      pk_dongle_id_from_address (const char         *address);

/* "1-1.3" -> hub "1-1", port 3; "1-3" -> hub "usb1", port 3. FALSE for a
 * name that is not a USB device on a hub port (a root hub, an interface). */
gboolean   pk_usb_path_split         (const char         *usb_path,
                                      char              **out_hub,
                                      guint              *out_port);
/* The sysfs directory of port @port of hub @hub (where `disable` lives):
 * /sys/bus/usb/devices/1-1:1.0/1-1-port3, /sys/bus/usb/devices/1-0:1.0/usb1-port3. */
char      *pk_usb_port_dup_sysfs_path (const char        *hub,
                                       guint              port);

/* One write of @value to the sysfs attribute @path (PK_ERROR_NOT_SUPPORTED
 * when it does not exist). */
gboolean   pk_sysfs_write             (const char        *path,
                                       const char        *value,
                                       GError           **error);

G_END_DECLS
