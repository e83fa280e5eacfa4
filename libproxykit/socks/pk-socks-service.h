/* pk-socks-service.h: every SOCKS listener a configuration describes,
 * run, reloaded and stopped as one set
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
#include "pk-socks-server.h"
#include "pk-workers.h"

G_BEGIN_DECLS

/**
 * PkSocksServiceMain:
 * @PK_SOCKS_SERVICE_MAIN_AUTO: when the configuration asks for it
 *   (`SOCKS_LISTEN`, or a `[socks]` section with more than
 *   `metrics-listen`), or when there is no `[socks:NAME]` listener
 * @PK_SOCKS_SERVICE_MAIN_ALWAYS: always (a `--listen` flag, say)
 * @PK_SOCKS_SERVICE_MAIN_IF_ASKED: only when the configuration asks for
 *   it (when something else serves, such as a [class@DongleFarm])
 *
 * When a [class@SocksService] runs the main listener, named `main`, whose
 * settings are those of the bare `[socks]` section.
 *
 * Since: 0.2
 */
typedef enum {
  PK_SOCKS_SERVICE_MAIN_AUTO,
  PK_SOCKS_SERVICE_MAIN_ALWAYS,
  PK_SOCKS_SERVICE_MAIN_IF_ASKED,
} PkSocksServiceMain;

#define PK_TYPE_SOCKS_SERVICE (pk_socks_service_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkSocksService, pk_socks_service, PK, SOCKS_SERVICE, GObject)

PK_AVAILABLE_IN_ALL
PkSocksService *pk_socks_service_new_from_config (PkConfig            *config,
                                                  PkSocksServiceMain   main_listener,
                                                  GError             **error);

PK_AVAILABLE_IN_ALL
guint           pk_socks_service_get_n_servers   (PkSocksService      *self);
PK_AVAILABLE_IN_ALL
PkSocksServer  *pk_socks_service_get_server      (PkSocksService      *self,
                                                  guint                index);
PK_AVAILABLE_IN_ALL
GPtrArray      *pk_socks_service_dup_servers     (PkSocksService      *self);
PK_AVAILABLE_IN_ALL
PkConfig       *pk_socks_service_get_config      (PkSocksService      *self);

PK_AVAILABLE_IN_ALL
guint           pk_socks_service_get_drain_timeout (PkSocksService    *self);
PK_AVAILABLE_IN_ALL
void            pk_socks_service_set_drain_timeout (PkSocksService    *self,
                                                    guint              timeout_ms);

PK_AVAILABLE_IN_ALL
gboolean        pk_socks_service_check           (PkSocksService      *self,
                                                  GError             **error);
PK_AVAILABLE_IN_ALL
gboolean        pk_socks_service_start           (PkSocksService      *self,
                                                  PkWorkers           *workers,
                                                  GError             **error);
PK_AVAILABLE_IN_ALL
gboolean        pk_socks_service_reload          (PkSocksService      *self,
                                                  PkConfig            *config,
                                                  GError             **error);
PK_AVAILABLE_IN_ALL
char           *pk_socks_service_dup_port_lines  (PkSocksService      *self);

PK_AVAILABLE_IN_ALL
void            pk_socks_service_stop_async      (PkSocksService      *self,
                                                  guint                drain_timeout_ms,
                                                  GCancellable        *cancellable,
                                                  GAsyncReadyCallback  callback,
                                                  gpointer             user_data);
PK_AVAILABLE_IN_ALL
gboolean        pk_socks_service_stop_finish     (PkSocksService      *self,
                                                  GAsyncResult        *result,
                                                  GError             **error);
PK_AVAILABLE_IN_ALL
void            pk_socks_service_close           (PkSocksService      *self);

G_END_DECLS
