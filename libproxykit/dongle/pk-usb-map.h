/* pk-usb-map.h: which dongle sits on which hub port, kept across reboots
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__PROXYKIT_INSIDE__) && !defined(PROXYKIT_COMPILATION)
#error "Only <proxykit/proxykit.h> can be included directly."
#endif

#include <gio/gio.h>
#include "pk-version-macros.h"
#include "pk-state-store.h"
#include "pk-dongle.h"

G_BEGIN_DECLS

/**
 * PK_USB_MAP_DOCUMENT:
 *
 * The name of the USB map among the state store's documents
 * (`STATE_DIR/host/usb-map.json`).
 *
 * Since: 0.2
 */
#define PK_USB_MAP_DOCUMENT "usb-map"

#define PK_TYPE_USB_MAP_ENTRY (pk_usb_map_entry_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkUsbMapEntry, pk_usb_map_entry, PK, USB_MAP_ENTRY, GObject)

PK_AVAILABLE_IN_ALL
PkUsbMapEntry *pk_usb_map_entry_new            (guint           id,
                                                const char     *hub_path,
                                                guint           hub_port);
PK_AVAILABLE_IN_ALL
guint          pk_usb_map_entry_get_id         (PkUsbMapEntry  *self);
PK_AVAILABLE_IN_ALL
const char    *pk_usb_map_entry_get_hub_path   (PkUsbMapEntry  *self);
PK_AVAILABLE_IN_ALL
guint          pk_usb_map_entry_get_hub_port   (PkUsbMapEntry  *self);
PK_AVAILABLE_IN_ALL
const char    *pk_usb_map_entry_get_usb_path   (PkUsbMapEntry  *self);
PK_AVAILABLE_IN_ALL
const char    *pk_usb_map_entry_get_serial     (PkUsbMapEntry  *self);
PK_AVAILABLE_IN_ALL
const char    *pk_usb_map_entry_get_mac_address (PkUsbMapEntry *self);
PK_AVAILABLE_IN_ALL
const char    *pk_usb_map_entry_get_interface  (PkUsbMapEntry  *self);
PK_AVAILABLE_IN_ALL
const char    *pk_usb_map_entry_get_usb_id     (PkUsbMapEntry  *self);
PK_AVAILABLE_IN_ALL
gint64         pk_usb_map_entry_get_last_seen  (PkUsbMapEntry  *self);
PK_AVAILABLE_IN_ALL
char          *pk_usb_map_entry_dup_port_sysfs_path (PkUsbMapEntry *self);
PK_AVAILABLE_IN_ALL
gboolean       pk_usb_map_entry_get_power      (PkUsbMapEntry  *self,
                                                gboolean       *out_on,
                                                GError        **error);
PK_AVAILABLE_IN_ALL
gboolean       pk_usb_map_entry_set_power      (PkUsbMapEntry  *self,
                                                gboolean        on,
                                                GError        **error);

#define PK_TYPE_USB_MAP (pk_usb_map_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkUsbMap, pk_usb_map, PK, USB_MAP, GObject)

PK_AVAILABLE_IN_ALL
PkUsbMap      *pk_usb_map_new                  (PkStateStore   *store);
PK_AVAILABLE_IN_ALL
PkStateStore  *pk_usb_map_get_store            (PkUsbMap       *self);
PK_AVAILABLE_IN_ALL
gboolean       pk_usb_map_load                 (PkUsbMap       *self,
                                                GError        **error);
PK_AVAILABLE_IN_ALL
gboolean       pk_usb_map_record               (PkUsbMap       *self,
                                                PkDongle      **dongles,
                                                guint           n_dongles,
                                                GError        **error);
PK_AVAILABLE_IN_ALL
gboolean       pk_usb_map_import_seed          (PkUsbMap       *self,
                                                const char     *path,
                                                GError        **error);
PK_AVAILABLE_IN_ALL
gboolean       pk_usb_map_remove               (PkUsbMap       *self,
                                                guint           id,
                                                GError        **error);

PK_AVAILABLE_IN_ALL
PkUsbMapEntry *pk_usb_map_lookup               (PkUsbMap       *self,
                                                guint           id);
PK_AVAILABLE_IN_ALL
PkUsbMapEntry *pk_usb_map_lookup_by_usb_path   (PkUsbMap       *self,
                                                const char     *usb_path);
PK_AVAILABLE_IN_ALL
PkUsbMapEntry *pk_usb_map_lookup_by_mac_address (PkUsbMap      *self,
                                                 const char    *mac_address);
PK_AVAILABLE_IN_ALL
GPtrArray     *pk_usb_map_list                 (PkUsbMap       *self);
PK_AVAILABLE_IN_ALL
char          *pk_usb_map_to_json              (PkUsbMap       *self);

G_END_DECLS
