/* pk-error-private.h: what PK_ERROR errors carry besides their code
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The Huawei code of an error a HiLink device reported, kept with the
 * error itself (copies and prefixes keep it). 0: none. Read it through
 * pk_hilink_error_get_code(). */
void  pk_error_set_hilink_code (GError       *error,
                                guint         code);
guint pk_error_get_hilink_code (const GError *error);

G_END_DECLS
