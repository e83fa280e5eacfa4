/* pk-routing.h: one dongle's policy routing, diagnosed and repaired
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

G_BEGIN_DECLS

/**
 * PK_ROUTING_METRIC_BASE:
 *
 * Dongle N's default route in the main table gets metric
 * `PK_ROUTING_METRIC_BASE + N` unless told otherwise: above the main
 * interface's (100 on most hosts), and the same whichever other dongles
 * come and go.
 *
 * Since: 0.2
 */
#define PK_ROUTING_METRIC_BASE 200

/**
 * PK_ROUTING_RULE_PRIORITY_BASE:
 *
 * Dongle N's rule `from 192.168.N.100 lookup N` gets priority
 * `PK_ROUTING_RULE_PRIORITY_BASE + N` unless told otherwise (before the
 * main table's 32766).
 *
 * Since: 0.2
 */
#define PK_ROUTING_RULE_PRIORITY_BASE 1000

/**
 * PkRoutingBackend:
 * @PK_ROUTING_BACKEND_AUTO: NetworkManager where it manages the dongle's
 *   interface (it would undo anything else), rtnetlink elsewhere
 * @PK_ROUTING_BACKEND_RTNETLINK: routes and rules straight in the kernel
 * @PK_ROUTING_BACKEND_NETWORKMANAGER: the interface's connection profile
 *   (`ipv4.route-table`, `ipv4.routing-rules`, `ipv4.route-metric`),
 *   then a reapply
 *
 * How [class@Routing] reads and changes a dongle's routing.
 *
 * Since: 0.2
 */
typedef enum {
  PK_ROUTING_BACKEND_AUTO,
  PK_ROUTING_BACKEND_RTNETLINK,
  PK_ROUTING_BACKEND_NETWORKMANAGER,
} PkRoutingBackend;

PK_AVAILABLE_IN_ALL
const char *pk_routing_backend_to_string   (PkRoutingBackend  backend);
PK_AVAILABLE_IN_ALL
gboolean    pk_routing_backend_from_string (const char       *str,
                                            PkRoutingBackend *out_backend);
PK_AVAILABLE_IN_ALL
gboolean    pk_routing_backend_from_config (PkConfig         *config,
                                            gboolean         *out_enabled,
                                            PkRoutingBackend *out_backend,
                                            GError          **error);

/* --- PkRoutingDiagnosis --- */

#define PK_TYPE_ROUTING_DIAGNOSIS (pk_routing_diagnosis_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkRoutingDiagnosis, pk_routing_diagnosis, PK, ROUTING_DIAGNOSIS, GObject)

PK_AVAILABLE_IN_ALL
guint               pk_routing_diagnosis_get_id              (PkRoutingDiagnosis *self);
PK_AVAILABLE_IN_ALL
const GError       *pk_routing_diagnosis_get_error           (PkRoutingDiagnosis *self);
PK_AVAILABLE_IN_ALL
gboolean            pk_routing_diagnosis_get_healthy         (PkRoutingDiagnosis *self);
PK_AVAILABLE_IN_ALL
const char * const *pk_routing_diagnosis_get_problems        (PkRoutingDiagnosis *self);
PK_AVAILABLE_IN_ALL
const char * const *pk_routing_diagnosis_get_actions         (PkRoutingDiagnosis *self);
PK_AVAILABLE_IN_ALL
PkRoutingBackend    pk_routing_diagnosis_get_backend         (PkRoutingDiagnosis *self);
PK_AVAILABLE_IN_ALL
gboolean            pk_routing_diagnosis_get_interface_present (PkRoutingDiagnosis *self);
PK_AVAILABLE_IN_ALL
gboolean            pk_routing_diagnosis_get_address_present (PkRoutingDiagnosis *self);
PK_AVAILABLE_IN_ALL
gboolean            pk_routing_diagnosis_get_table_route_present (PkRoutingDiagnosis *self);
PK_AVAILABLE_IN_ALL
gboolean            pk_routing_diagnosis_get_rule_present    (PkRoutingDiagnosis *self);
PK_AVAILABLE_IN_ALL
gint64              pk_routing_diagnosis_get_metric          (PkRoutingDiagnosis *self);
PK_AVAILABLE_IN_ALL
guint               pk_routing_diagnosis_get_expected_metric (PkRoutingDiagnosis *self);
PK_AVAILABLE_IN_ALL
const char         *pk_routing_diagnosis_get_main_interface  (PkRoutingDiagnosis *self);
PK_AVAILABLE_IN_ALL
gint64              pk_routing_diagnosis_get_main_metric     (PkRoutingDiagnosis *self);
PK_AVAILABLE_IN_ALL
gboolean            pk_routing_diagnosis_get_takes_default   (PkRoutingDiagnosis *self);
PK_AVAILABLE_IN_ALL
const char         *pk_routing_diagnosis_get_connection_id   (PkRoutingDiagnosis *self);
PK_AVAILABLE_IN_ALL
char               *pk_routing_diagnosis_to_string           (PkRoutingDiagnosis *self);
PK_AVAILABLE_IN_ALL
char               *pk_routing_diagnosis_to_json             (PkRoutingDiagnosis *self);

/* --- PkRouting --- */

#define PK_TYPE_ROUTING (pk_routing_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkRouting, pk_routing, PK, ROUTING, GObject)

PK_AVAILABLE_IN_ALL
PkRouting          *pk_routing_new               (PkDongle            *dongle);
PK_AVAILABLE_IN_ALL
PkDongle           *pk_routing_get_dongle        (PkRouting           *self);
PK_AVAILABLE_IN_ALL
guint               pk_routing_get_table         (PkRouting           *self);
PK_AVAILABLE_IN_ALL
void                pk_routing_set_table         (PkRouting           *self,
                                                  guint                table);
PK_AVAILABLE_IN_ALL
guint               pk_routing_get_metric        (PkRouting           *self);
PK_AVAILABLE_IN_ALL
void                pk_routing_set_metric        (PkRouting           *self,
                                                  guint                metric);
PK_AVAILABLE_IN_ALL
guint               pk_routing_get_rule_priority (PkRouting           *self);
PK_AVAILABLE_IN_ALL
void                pk_routing_set_rule_priority (PkRouting           *self,
                                                  guint                priority);
PK_AVAILABLE_IN_ALL
PkRoutingBackend    pk_routing_get_backend       (PkRouting           *self);
PK_AVAILABLE_IN_ALL
void                pk_routing_set_backend       (PkRouting           *self,
                                                  PkRoutingBackend     backend);

PK_AVAILABLE_IN_ALL
void                pk_routing_diagnose_async    (PkRouting           *self,
                                                  GCancellable        *cancellable,
                                                  GAsyncReadyCallback  callback,
                                                  gpointer             user_data);
PK_AVAILABLE_IN_ALL
PkRoutingDiagnosis *pk_routing_diagnose_finish   (PkRouting           *self,
                                                  GAsyncResult        *result,
                                                  GError             **error);
PK_AVAILABLE_IN_ALL
void                pk_routing_repair_async      (PkRouting           *self,
                                                  GCancellable        *cancellable,
                                                  GAsyncReadyCallback  callback,
                                                  gpointer             user_data);
PK_AVAILABLE_IN_ALL
PkRoutingDiagnosis *pk_routing_repair_finish     (PkRouting           *self,
                                                  GAsyncResult        *result,
                                                  GError             **error);

G_END_DECLS
