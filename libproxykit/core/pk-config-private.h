/* pk-config-private.h: PkConfig lookups the library's constructors share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "pk-config.h"

G_BEGIN_DECLS

/* A duration of at least @min_ms that fits a guint of milliseconds (at
 * most G_MAXUINT); the error names where the value came from and says
 * "too short" or "too long", with the bounds. */
gboolean pk_config_get_duration_uint    (PkConfig    *self,
                                         const char  *section,
                                         const char  *key,
                                         const char  *env_name,
                                         guint        min_ms,
                                         guint        default_ms,
                                         guint       *out_ms,
                                         GError     **error);
/* A list ("a, b;c d"): its non-empty items, or NULL when unset. */
char   **pk_config_dup_list             (PkConfig    *self,
                                         const char  *section,
                                         const char  *key,
                                         const char  *env_name);

/* Turns @local_error (a setter's, taken) into a PK_ERROR_CONFIG that
 * names where the value of @key came from; returns FALSE. */
gboolean pk_config_value_error          (PkConfig    *self,
                                         const char  *section,
                                         const char  *key,
                                         const char  *env_name,
                                         GError      *local_error,
                                         GError     **error);

G_END_DECLS
