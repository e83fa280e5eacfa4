/* pk-toggle-service.h: the dongles of a configuration, toggled, queried or served
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
#include "pk-rotation.h"
#include "pk-toggle.h"
#include "pk-toggle-server.h"
#include "pk-usb-controller-reset.h"

G_BEGIN_DECLS

#define PK_TYPE_TOGGLE_SERVICE (pk_toggle_service_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkToggleService, pk_toggle_service, PK, TOGGLE_SERVICE, GObject)

PK_AVAILABLE_IN_ALL
PkToggleService  *pk_toggle_service_new                (void);
PK_AVAILABLE_IN_ALL
PkToggleService  *pk_toggle_service_new_from_config    (PkConfig         *config,
                                                        GError          **error);

/* Before loading: */
PK_AVAILABLE_IN_ALL
gboolean          pk_toggle_service_set_dongle_values  (PkToggleService  *self,
                                                        const char       *key,
                                                        const char * const *values,
                                                        const char       *origin,
                                                        GError          **error);
PK_AVAILABLE_IN_ALL
void              pk_toggle_service_set_named_dongles  (PkToggleService  *self,
                                                        const char * const *ids);
PK_AVAILABLE_IN_ALL
void              pk_toggle_service_set_stages         (PkToggleService  *self,
                                                        const char       *first,
                                                        const char       *last);
PK_AVAILABLE_IN_ALL
void              pk_toggle_service_set_use_usb        (PkToggleService  *self,
                                                        gboolean          use_usb);

PK_AVAILABLE_IN_ALL
gboolean          pk_toggle_service_load_config        (PkToggleService  *self,
                                                        PkConfig         *config,
                                                        GError          **error);

PK_AVAILABLE_IN_ALL
guint             pk_toggle_service_get_n_dongles      (PkToggleService  *self);
PK_AVAILABLE_IN_ALL
guint             pk_toggle_service_get_dongle_id      (PkToggleService  *self,
                                                        guint             index);
PK_AVAILABLE_IN_ALL
PkToggle         *pk_toggle_service_get_toggle         (PkToggleService  *self,
                                                        guint             id);
PK_AVAILABLE_IN_ALL
const char       *pk_toggle_service_get_api            (PkToggleService  *self,
                                                        guint             id);
PK_AVAILABLE_IN_ALL
const char       *pk_toggle_service_get_address        (PkToggleService  *self,
                                                        guint             id);
PK_AVAILABLE_IN_ALL
const char       *pk_toggle_service_get_socks_host     (PkToggleService  *self,
                                                        guint             id);
PK_AVAILABLE_IN_ALL
guint16           pk_toggle_service_get_socks_port     (PkToggleService  *self,
                                                        guint             id);
PK_AVAILABLE_IN_ALL
PkRotationMethod  pk_toggle_service_get_method         (PkToggleService  *self);
PK_AVAILABLE_IN_ALL
PkToggleLimiter  *pk_toggle_service_get_limiter        (PkToggleService  *self);

PK_AVAILABLE_IN_ALL
PkUsbControllerReset *pk_toggle_service_get_controller_reset (PkToggleService      *self);
PK_AVAILABLE_IN_ALL
void              pk_toggle_service_set_controller_reset (PkToggleService      *self,
                                                          PkUsbControllerReset *reset);

PK_AVAILABLE_IN_ALL
guint            *pk_toggle_service_parse_ids          (PkToggleService  *self,
                                                        const char * const *args,
                                                        gsize            *n_ids,
                                                        GError          **error);

PK_AVAILABLE_IN_ALL
void              pk_toggle_service_toggle_async       (PkToggleService     *self,
                                                        const guint         *ids,
                                                        gsize                n_ids,
                                                        gboolean             recovery,
                                                        gboolean             wait,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
PK_AVAILABLE_IN_ALL
GPtrArray        *pk_toggle_service_toggle_finish      (PkToggleService  *self,
                                                        GAsyncResult     *result,
                                                        GError          **error);
PK_AVAILABLE_IN_ALL
char             *pk_toggle_service_results_to_json    (GPtrArray        *results,
                                                        gboolean          as_array);

PK_AVAILABLE_IN_ALL
void              pk_toggle_service_query_status_async (PkToggleService     *self,
                                                        const guint         *ids,
                                                        gsize                n_ids,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
PK_AVAILABLE_IN_ALL
char             *pk_toggle_service_query_status_finish (PkToggleService *self,
                                                         GAsyncResult    *result,
                                                         gboolean        *all_ok,
                                                         GError         **error);
PK_AVAILABLE_IN_ALL
void              pk_toggle_service_query_info_async   (PkToggleService     *self,
                                                        const guint         *ids,
                                                        gsize                n_ids,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
PK_AVAILABLE_IN_ALL
char             *pk_toggle_service_query_info_finish  (PkToggleService  *self,
                                                        GAsyncResult     *result,
                                                        gboolean         *all_ok,
                                                        GError          **error);
PK_AVAILABLE_IN_ALL
char             *pk_toggle_service_query_to_text      (const char       *json);

PK_AVAILABLE_IN_ALL
gboolean          pk_toggle_service_listen             (PkToggleService  *self,
                                                        const char       *address,
                                                        GError          **error);
PK_AVAILABLE_IN_ALL
PkToggleServer   *pk_toggle_service_get_server         (PkToggleService  *self);
PK_AVAILABLE_IN_ALL
void              pk_toggle_service_stop               (PkToggleService  *self);

G_END_DECLS
