/* pk-dongle-monitor.h: the dongles plugged into this host, kept live by uevents
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
#include "pk-routing.h"
#include "pk-usb-map.h"

G_BEGIN_DECLS

#define PK_TYPE_DONGLE_MONITOR (pk_dongle_monitor_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkDongleMonitor, pk_dongle_monitor, PK, DONGLE_MONITOR, GObject)

PK_AVAILABLE_IN_ALL
PkDongleMonitor *pk_dongle_monitor_new              (void);
PK_AVAILABLE_IN_ALL
PkDongleMonitor *pk_dongle_monitor_new_from_config  (PkConfig            *config,
                                                     GError             **error);
PK_AVAILABLE_IN_ALL
void             pk_dongle_monitor_set_config       (PkDongleMonitor     *self,
                                                     PkConfig            *config);
PK_AVAILABLE_IN_ALL
void             pk_dongle_monitor_set_usb_map      (PkDongleMonitor     *self,
                                                     PkUsbMap            *map);
PK_AVAILABLE_IN_ALL
PkUsbMap        *pk_dongle_monitor_get_usb_map      (PkDongleMonitor     *self);
PK_AVAILABLE_IN_ALL
gboolean         pk_dongle_monitor_get_modeswitch   (PkDongleMonitor     *self);
PK_AVAILABLE_IN_ALL
void             pk_dongle_monitor_set_modeswitch   (PkDongleMonitor     *self,
                                                     gboolean             modeswitch);
PK_AVAILABLE_IN_ALL
void             pk_dongle_monitor_set_modeswitch_program (PkDongleMonitor *self,
                                                           const char      *program);

PK_AVAILABLE_IN_ALL
gboolean         pk_dongle_monitor_start            (PkDongleMonitor     *self,
                                                     GError             **error);
PK_AVAILABLE_IN_ALL
void             pk_dongle_monitor_stop             (PkDongleMonitor     *self);
PK_AVAILABLE_IN_ALL
void             pk_dongle_monitor_scan             (PkDongleMonitor     *self);

PK_AVAILABLE_IN_ALL
GPtrArray       *pk_dongle_monitor_list_dongles     (PkDongleMonitor     *self);
PK_AVAILABLE_IN_ALL
PkDongle        *pk_dongle_monitor_get_dongle       (PkDongleMonitor     *self,
                                                     guint                id);
PK_AVAILABLE_IN_ALL
char            *pk_dongle_monitor_to_json          (PkDongleMonitor     *self);

PK_AVAILABLE_IN_ALL
void             pk_dongle_monitor_modeswitch_async (PkDongleMonitor     *self,
                                                     PkDongle            *dongle,
                                                     GCancellable        *cancellable,
                                                     GAsyncReadyCallback  callback,
                                                     gpointer             user_data);
PK_AVAILABLE_IN_ALL
gboolean         pk_dongle_monitor_modeswitch_finish (PkDongleMonitor    *self,
                                                      GAsyncResult       *result,
                                                      GError            **error);

PK_AVAILABLE_IN_ALL
GPtrArray       *pk_dongle_monitor_discover         (PkDongleMonitor     *self,
                                                     const char * const  *seed_files,
                                                     GError             **error);
PK_AVAILABLE_IN_ALL
GPtrArray       *pk_dongle_monitor_lookup_usb_map_entries (PkDongleMonitor *self,
                                                           const guint     *ids,
                                                           gsize            n_ids,
                                                           GError         **error);
PK_AVAILABLE_IN_ALL
char            *pk_dongle_monitor_power_to_json    (PkDongleMonitor     *self,
                                                     const guint         *ids,
                                                     gsize                n_ids,
                                                     GError             **error);
PK_AVAILABLE_IN_ALL
void             pk_dongle_monitor_repair_routing_async  (PkDongleMonitor     *self,
                                                          const guint         *ids,
                                                          gsize                n_ids,
                                                          PkRoutingBackend     backend,
                                                          GCancellable        *cancellable,
                                                          GAsyncReadyCallback  callback,
                                                          gpointer             user_data);
PK_AVAILABLE_IN_ALL
GPtrArray       *pk_dongle_monitor_repair_routing_finish (PkDongleMonitor     *self,
                                                          GAsyncResult        *result,
                                                          GError             **error);

G_END_DECLS
