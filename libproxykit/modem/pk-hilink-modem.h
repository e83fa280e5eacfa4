/* pk-hilink-modem.h: a Huawei HiLink modem through its web API
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
#include "pk-modem.h"

G_BEGIN_DECLS

/**
 * PK_HILINK_DEFAULT_URL:
 *
 * Where a HiLink device answers out of the box.
 *
 * Since: 0.1
 */
#define PK_HILINK_DEFAULT_URL "http://192.168.8.1"

/**
 * PK_HILINK_DEFAULT_TIMEOUT_MS:
 *
 * The default bound of one call, session setup and retry included.
 *
 * Since: 0.1
 */
#define PK_HILINK_DEFAULT_TIMEOUT_MS 10000

#define PK_TYPE_HILINK_MODEM (pk_hilink_modem_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkHilinkModem, pk_hilink_modem, PK, HILINK_MODEM, GObject)

PK_AVAILABLE_IN_ALL
PkHilinkModem *pk_hilink_modem_new             (const char     *base_url,
                                                PkEgress       *egress,
                                                GError        **error);
PK_AVAILABLE_IN_ALL
const char    *pk_hilink_modem_get_base_url    (PkHilinkModem  *self);
PK_AVAILABLE_IN_ALL
PkEgress      *pk_hilink_modem_get_egress      (PkHilinkModem  *self);
PK_AVAILABLE_IN_ALL
void           pk_hilink_modem_set_credentials (PkHilinkModem  *self,
                                                const char     *username,
                                                const char     *password);
PK_AVAILABLE_IN_ALL
const char    *pk_hilink_modem_get_username    (PkHilinkModem  *self);
PK_AVAILABLE_IN_ALL
guint          pk_hilink_modem_get_timeout     (PkHilinkModem  *self);
PK_AVAILABLE_IN_ALL
void           pk_hilink_modem_set_timeout     (PkHilinkModem  *self,
                                                guint           timeout_ms);

PK_AVAILABLE_IN_ALL
guint          pk_hilink_error_get_code        (const GError   *error);

G_END_DECLS
