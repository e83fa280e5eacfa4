/* pk-config.h: the one configuration format of all proxykit tools
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__PROXYKIT_INSIDE__) && !defined(PROXYKIT_COMPILATION)
#error "Only <proxykit/proxykit.h> can be included directly."
#endif

#include <gio/gio.h>
#include "pk-version-macros.h"

G_BEGIN_DECLS

#define PK_TYPE_CONFIG (pk_config_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PkConfig, pk_config, PK, CONFIG, GObject)

PK_AVAILABLE_IN_ALL
PkConfig     *pk_config_new               (void);
PK_AVAILABLE_IN_ALL
gboolean      pk_config_load_file         (PkConfig     *self,
                                           const char   *path,
                                           GError      **error);
PK_AVAILABLE_IN_ALL
gboolean      pk_config_load_data         (PkConfig     *self,
                                           const char   *data,
                                           gssize        length,
                                           const char   *origin,
                                           GError      **error);
PK_AVAILABLE_IN_ALL
gboolean      pk_config_load_env_file     (PkConfig     *self,
                                           const char   *path,
                                           GError      **error);
PK_AVAILABLE_IN_ALL
void          pk_config_set_environ       (PkConfig           *self,
                                           const char * const *envp);
PK_AVAILABLE_IN_ALL
const char   *pk_config_getenv            (PkConfig     *self,
                                           const char   *name);

PK_AVAILABLE_IN_ALL
void          pk_config_set_override      (PkConfig     *self,
                                           const char   *section,
                                           const char   *key,
                                           const char   *value,
                                           const char   *origin);
PK_AVAILABLE_IN_ALL
void          pk_config_set_override_list (PkConfig           *self,
                                           const char         *section,
                                           const char         *key,
                                           const char * const *values,
                                           const char         *origin);
PK_AVAILABLE_IN_ALL
gboolean      pk_config_has_value         (PkConfig     *self,
                                           const char   *section,
                                           const char   *key,
                                           const char   *env_name);
PK_AVAILABLE_IN_ALL
char         *pk_config_describe_value    (PkConfig     *self,
                                           const char   *section,
                                           const char   *key,
                                           const char   *env_name);

PK_AVAILABLE_IN_ALL
const char   *pk_config_get_origin        (PkConfig     *self);
PK_AVAILABLE_IN_ALL
char        **pk_config_list_sections     (PkConfig     *self,
                                           const char   *kind);
PK_AVAILABLE_IN_ALL
gboolean      pk_config_has_section       (PkConfig     *self,
                                           const char   *section);
PK_AVAILABLE_IN_ALL
gboolean      pk_config_has_key           (PkConfig     *self,
                                           const char   *section,
                                           const char   *key);
PK_AVAILABLE_IN_ALL
char         *pk_config_describe          (PkConfig     *self,
                                           const char   *section,
                                           const char   *key);
PK_AVAILABLE_IN_ALL
gboolean      pk_config_check_keys        (PkConfig           *self,
                                           const char         *section,
                                           const char * const *known_keys,
                                           GError            **error);

PK_AVAILABLE_IN_ALL
char         *pk_config_dup_string        (PkConfig     *self,
                                           const char   *section,
                                           const char   *key,
                                           const char   *env_name,
                                           const char   *default_value);
PK_AVAILABLE_IN_ALL
gboolean      pk_config_get_uint          (PkConfig     *self,
                                           const char   *section,
                                           const char   *key,
                                           const char   *env_name,
                                           guint64       min,
                                           guint64       max,
                                           guint64       default_value,
                                           guint64      *out_value,
                                           GError      **error);
PK_AVAILABLE_IN_ALL
gboolean      pk_config_get_duration_ms   (PkConfig     *self,
                                           const char   *section,
                                           const char   *key,
                                           const char   *env_name,
                                           guint64       default_ms,
                                           guint64      *out_ms,
                                           GError      **error);
PK_AVAILABLE_IN_ALL
gboolean      pk_config_get_boolean       (PkConfig     *self,
                                           const char   *section,
                                           const char   *key,
                                           const char   *env_name,
                                           gboolean      default_value,
                                           gboolean     *out_value,
                                           GError      **error);

PK_AVAILABLE_IN_ALL
gboolean      pk_parse_duration_ms        (const char   *str,
                                           guint64      *out_ms,
                                           GError      **error);
PK_AVAILABLE_IN_ALL
gboolean      pk_parse_uint               (const char   *str,
                                           guint64       min,
                                           guint64       max,
                                           guint64      *out,
                                           GError      **error);

G_END_DECLS
