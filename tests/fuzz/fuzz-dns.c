/* fuzz-dns.c: libFuzzer target for the DNS answer parser
 *
 * The input is an answer to a query for "example.org" (its ID is taken
 * from the input, so that the fuzzer need not guess it; the type from a
 * bit of the flags). Whatever parses must be consistent: addresses of the
 * asked type only, a CNAME left only when there is no address. The input
 * is also taken as a name: if it encodes as a query, the query's question,
 * sent back as an empty answer, must parse.
 *
 *   build-fuzz/tests/fuzz-dns -max_len=600 /tmp/dns-corpus tests/fuzz/corpus-dns
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "pk-dns-private.h"

int LLVMFuzzerTestOneInput (const guint8 *data,
                            size_t        size);

#define CHECK(cond) G_STMT_START { if (!(cond)) { g_printerr ("%s:%d: %s\n", __FILE__, __LINE__, #cond); abort (); } } G_STMT_END

static void
fuzz_answer (const guint8 *data,
             size_t        size)
{
  guint16 id = size >= 2 ? (data[0] << 8) | data[1] : 0;
  guint16 qtype = size >= 4 && (data[3] & 0x10) ? PK_DNS_TYPE_AAAA : PK_DNS_TYPE_A;
  PkDnsAnswer answer;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  ok = pk_dns_parse_answer (data, size, id, "example.org", qtype, &answer, &error);
  CHECK (ok == (error == NULL));
  if (ok && answer.addresses != NULL)
    {
      GSocketFamily family = qtype == PK_DNS_TYPE_A ? G_SOCKET_FAMILY_IPV4 : G_SOCKET_FAMILY_IPV6;

      for (guint i = 0; i < answer.addresses->len; i++)
        CHECK (g_inet_address_get_family (answer.addresses->pdata[i]) == family);
      CHECK (answer.cname == NULL || answer.addresses->len == 0);
      if (answer.cname != NULL)
        CHECK (strlen (answer.cname) > 0 && strlen (answer.cname) <= 255);
    }
  pk_dns_answer_clear (&answer);
}

static void
fuzz_name (const guint8 *data,
           size_t        size)
{
  g_autofree char *name = g_strndup ((const char *) data, MIN (size, 300));
  guint8 msg[PK_DNS_MAX_UDP_MESSAGE];
  PkDnsAnswer answer;
  g_autoptr(GError) error = NULL;
  gsize n;

  n = pk_dns_encode_query (msg, sizeof msg, 0x1234, name, PK_DNS_TYPE_AAAA);
  if (n == 0)
    return;

  CHECK (n <= 12 + 255 + 4);
  msg[2] |= 0x80;   /* the query, as an answer with no records */
  if (!pk_dns_parse_answer (msg, n, 0x1234, name, PK_DNS_TYPE_AAAA, &answer, &error))
    {
      /* Only a label with a dot inside can fail, and encoding splits on
       * dots, so nothing should; a NUL cannot be in a C string. */
      g_printerr ("%s\n", error->message);
      abort ();
    }
  CHECK (answer.addresses->len == 0 && answer.cname == NULL);
  pk_dns_answer_clear (&answer);
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  fuzz_answer (data, size);
  fuzz_name (data, size);
  return 0;
}
