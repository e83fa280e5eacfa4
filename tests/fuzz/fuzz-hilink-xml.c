/* fuzz-hilink-xml.c: libFuzzer target for the HiLink XML reply parser
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <stdint.h>

#include "pk-hilink-xml-private.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(PkHilinkXml) xml = NULL;
  g_autoptr(GError) error = NULL;
  guint code = 0;

  xml = pk_hilink_xml_parse ((const char *) data, size, &error);
  if (xml == NULL)
    {
      g_assert (error != NULL);
      return 0;
    }
  g_assert (xml->root != NULL);
  (void) pk_hilink_xml_get_error_code (xml, &code);
  (void) pk_hilink_error_describe (code);
  (void) pk_hilink_xml_get (xml, "ConnectionStatus");
  return 0;
}
