/* pk-hilink-xml-private.h: the XML of the HiLink web API (not installed)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* One parsed reply: the root element (<response>, <error>, ...) with the
 * text of its direct children. Deeper elements are flattened by name,
 * first one wins, because no endpoint used here has repeated leaves that
 * matter. */
typedef struct {
  char       *root;
  char       *text;     /* the root's own text, e.g. "OK" in <response>OK</response> */
  GHashTable *fields;   /* element name -> text */
} PkHilinkXml;

/* How errors from the device start: "HiLink error N: meaning (url)". */
#define PK_HILINK_ERROR_PREFIX "HiLink error "

/* Longest reply accepted; real devices answer a few KiB. */
#define PK_HILINK_XML_MAX_SIZE (256 * 1024)

PkHilinkXml *pk_hilink_xml_parse      (const char   *data,
                                       gsize         length,
                                       GError      **error);
void         pk_hilink_xml_free       (PkHilinkXml  *xml);
const char  *pk_hilink_xml_get        (PkHilinkXml  *xml,
                                       const char   *name);
/* An <error><code>N</code></error> reply: returns TRUE and sets *code. */
gboolean     pk_hilink_xml_get_error_code (PkHilinkXml *xml,
                                           guint       *code);

/* "<?xml ...?><request><k1>v1</k1>...</request>", values escaped.
 * @pairs is a NULL-terminated array of key, value, key, value... */
char        *pk_hilink_xml_build_request (const char * const *pairs);

/* The meaning of a Huawei error code, or NULL if unknown. */
const char  *pk_hilink_error_describe (guint code);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PkHilinkXml, pk_hilink_xml_free)

G_END_DECLS
