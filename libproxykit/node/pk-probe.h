/* pk-probe.h: one asynchronous health check
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
#include "pk-config.h"
#include "pk-dongle.h"
#include "pk-modem.h"
#include "pk-routing.h"

G_BEGIN_DECLS

/**
 * PkProbeKind:
 * @PK_PROBE_TCP_CONNECT: a TCP connect to a host and port through an egress
 * @PK_PROBE_PROCESS: a process is alive (and not a zombie)
 * @PK_PROBE_INTERFACE: an interface is up: IFF_UP, IFF_LOWER_UP and an IPv4 address
 * @PK_PROBE_SOCKS: a SOCKS5 no-auth CONNECT through a proxy succeeds
 * @PK_PROBE_HTTP: an HTTP GET through an egress gets a 2xx or 3xx answer
 * @PK_PROBE_DONGLE: a dongle's diagnosis: its interface is there and holds
 *   its address, its routing is right, its API answers and its modem is
 *   connected with a WAN IP. Since: 0.2
 *
 * What a [class@Probe] checks.
 *
 * Since: 0.1
 */
typedef enum {
  PK_PROBE_TCP_CONNECT,
  PK_PROBE_PROCESS,
  PK_PROBE_INTERFACE,
  PK_PROBE_SOCKS,
  PK_PROBE_HTTP,
  PK_PROBE_DONGLE,
} PkProbeKind;

/**
 * PK_STARTUP_CHECK_TARGET_DEFAULT:
 *
 * The target of the startup traffic check: an IP address, so that DNS
 * plays no part.
 *
 * Since: 0.1
 */
#define PK_STARTUP_CHECK_TARGET_DEFAULT "1.1.1.1:443"

#define PK_TYPE_PROBE (pk_probe_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkProbe, pk_probe, PK, PROBE, GObject)

PK_AVAILABLE_IN_ALL
PkProbe      *pk_probe_new_tcp_connect  (PkEgress     *egress,
                                         const char   *host,
                                         guint16       port);
PK_AVAILABLE_IN_ALL
PkProbe      *pk_probe_new_process      (int           pid);
PK_AVAILABLE_IN_ALL
PkProbe      *pk_probe_new_interface    (const char   *interface);
PK_AVAILABLE_IN_ALL
PkProbe      *pk_probe_new_socks        (const char   *proxy_host,
                                         guint16       proxy_port,
                                         const char   *target_host,
                                         guint16       target_port);
PK_AVAILABLE_IN_ALL
PkProbe      *pk_probe_new_http         (PkEgress     *egress,
                                         const char   *url);

PK_AVAILABLE_IN_ALL
PkProbe      *pk_probe_new_dongle       (PkDongle     *dongle,
                                         PkRouting    *routing,
                                         PkModem      *modem);

PK_AVAILABLE_IN_ALL
PkProbeKind   pk_probe_get_kind         (PkProbe      *self);
PK_AVAILABLE_IN_ALL
const char   *pk_probe_get_description  (PkProbe      *self);
PK_AVAILABLE_IN_ALL
guint         pk_probe_get_timeout_ms   (PkProbe      *self);
PK_AVAILABLE_IN_ALL
void          pk_probe_set_timeout_ms   (PkProbe      *self,
                                         guint         timeout_ms);

PK_AVAILABLE_IN_ALL
void          pk_probe_run_async        (PkProbe             *self,
                                         guint                timeout_ms,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data);
PK_AVAILABLE_IN_ALL
gboolean      pk_probe_run_finish       (PkProbe       *self,
                                         GAsyncResult  *result,
                                         guint64       *out_latency_us,
                                         GError       **error);

PK_AVAILABLE_IN_ALL
void          pk_probe_run_with_retries_async  (PkProbe             *self,
                                                guint                tries,
                                                guint                delay_ms,
                                                guint                timeout_ms,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
PK_AVAILABLE_IN_ALL
gboolean      pk_probe_run_with_retries_finish (PkProbe       *self,
                                                GAsyncResult  *result,
                                                guint         *out_tries,
                                                GError       **error);

PK_AVAILABLE_IN_ALL
gboolean      pk_startup_check_get_settings (PkConfig  *config,
                                             char     **out_target,
                                             guint     *out_tries,
                                             guint     *out_delay_ms,
                                             guint     *out_timeout_ms,
                                             GError   **error);
PK_AVAILABLE_IN_ALL
void          pk_startup_check_async    (PkEgress            *egress,
                                         const char          *target,
                                         guint                tries,
                                         guint                delay_ms,
                                         guint                timeout_ms,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data);
PK_AVAILABLE_IN_ALL
gboolean      pk_startup_check_finish   (GAsyncResult  *result,
                                         guint         *out_tries,
                                         GError       **error);

G_END_DECLS
