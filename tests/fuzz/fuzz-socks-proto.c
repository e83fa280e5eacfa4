/* fuzz-socks-proto.c: libFuzzer target for the SOCKS5 codec
 *
 * Every input goes through every parser. Whatever parses is checked
 * against the codec's own promises: it consumed no more than it was
 * given, a shorter prefix asks for more, and encoding the parsed message
 * gives back the bytes it came from (with the reserved bytes and FRAG that
 * encoders always write as 0).
 *
 *   CC=clang meson setup build-fuzz -Dfuzzing=true -Dpython=disabled
 *   ninja -C build-fuzz tests/fuzz-socks-proto
 *   build-fuzz/tests/fuzz-socks-proto -max_len=600 tests/fuzz/corpus-socks
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "pk-socks-proto-private.h"

int LLVMFuzzerTestOneInput (const guint8 *data,
                            size_t        size);

#define CHECK(cond) G_STMT_START { if (!(cond)) { g_printerr ("%s:%d: %s\n", __FILE__, __LINE__, #cond); abort (); } } G_STMT_END

static void
check_address (const PkSocksAddress *address)
{
  g_autofree char *str = pk_socks_address_to_string (address);
  g_autoptr(GSocketAddress) sa = pk_socks_address_to_socket_address (address);

  CHECK (str != NULL);
  CHECK ((sa == NULL) == (address->atyp == PK_SOCKS_ATYP_DOMAIN));

  if (address->atyp == PK_SOCKS_ATYP_DOMAIN)
    {
      CHECK (address->domain_len > 0);
      CHECK (strlen (address->addr.domain) == address->domain_len);
    }
  else
    {
      PkSocksAddress back;
      CHECK (pk_socks_address_from_socket_address (sa, &back));
      /* An IPv4-mapped IPv6 address comes back as IPv4; anything else as it was. */
      if (back.atyp == address->atyp)
        CHECK (memcmp (&back.addr, &address->addr,
                       address->atyp == PK_SOCKS_ATYP_IPV4 ? 4 : 16) == 0);
      CHECK (back.port == address->port);
    }
}

/* The shared checks for a message that parsed: re-encoded, it gives back
 * data[0..consumed) with the bytes in @ignore (0-terminated offsets) set to
 * 0; a prefix one byte short asks for more. */
static void
check_round_trip (const guint8 *data,
                  gsize         consumed,
                  const guint8 *encoded,
                  gsize         encoded_len,
                  const gsize  *ignore)
{
  guint8 expected[PK_SOCKS_MAX_MESSAGE + 256];

  CHECK (consumed <= sizeof expected);
  CHECK (encoded_len == consumed);
  memcpy (expected, data, consumed);
  for (; *ignore != 0; ignore++)
    if (*ignore < consumed)
      expected[*ignore] = 0;
  CHECK (memcmp (expected, encoded, consumed) == 0);
}

#define PREFIX_NEEDS_MORE(parse, data, consumed, type) G_STMT_START { \
    type partial;                                                     \
    gsize c2 = 0;                                                     \
    CHECK (parse (data, consumed - 1, &partial, &c2, NULL) == PK_SOCKS_PARSE_NEED_MORE); \
    CHECK (parse (data, consumed / 2, &partial, &c2, NULL) == PK_SOCKS_PARSE_NEED_MORE); \
  } G_STMT_END

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  static const gsize no_ignore[] = { 0 };
  static const gsize rsv_ignore[] = { 2, 0 };
  guint8 out[PK_SOCKS_MAX_MESSAGE + 256];
  gsize consumed, n;
  PkSocksParseResult r;

  {
    PkSocksGreeting g;
    g_autoptr(GError) error = NULL;

    r = pk_socks_parse_greeting (data, size, &g, &consumed, &error);
    CHECK ((r == PK_SOCKS_PARSE_ERROR) == (error != NULL));
    if (r == PK_SOCKS_PARSE_OK)
      {
        CHECK (consumed <= size);
        n = pk_socks_encode_greeting (out, sizeof out, g.methods, g.n_methods);
        check_round_trip (data, consumed, out, n, no_ignore);
        PREFIX_NEEDS_MORE (pk_socks_parse_greeting, data, consumed, PkSocksGreeting);
      }
  }

  {
    guint8 method;
    g_autoptr(GError) error = NULL;

    r = pk_socks_parse_method_choice (data, size, &method, &consumed, &error);
    CHECK ((r == PK_SOCKS_PARSE_ERROR) == (error != NULL));
    if (r == PK_SOCKS_PARSE_OK)
      {
        CHECK (consumed == 2 && consumed <= size);
        n = pk_socks_encode_method_choice (out, sizeof out, method);
        check_round_trip (data, consumed, out, n, no_ignore);
        PREFIX_NEEDS_MORE (pk_socks_parse_method_choice, data, consumed, guint8);
      }
  }

  {
    PkSocksUserPass up;
    g_autoptr(GError) error = NULL;

    r = pk_socks_parse_userpass (data, size, &up, &consumed, &error);
    CHECK ((r == PK_SOCKS_PARSE_ERROR) == (error != NULL));
    if (r == PK_SOCKS_PARSE_OK)
      {
        CHECK (consumed <= size);
        CHECK (strlen (up.username) == up.username_len);
        CHECK (strlen (up.password) == up.password_len);
        n = pk_socks_encode_userpass (out, sizeof out, up.username, up.password);
        check_round_trip (data, consumed, out, n, no_ignore);
        PREFIX_NEEDS_MORE (pk_socks_parse_userpass, data, consumed, PkSocksUserPass);
      }
  }

  {
    PkSocksRequest req;
    g_autoptr(GError) error = NULL;

    r = pk_socks_parse_request (data, size, &req, &consumed, &error);
    CHECK ((r == PK_SOCKS_PARSE_ERROR) == (error != NULL));
    if (r == PK_SOCKS_PARSE_OK)
      {
        CHECK (consumed <= size);
        check_address (&req.address);
        n = pk_socks_encode_request (out, sizeof out, req.command, &req.address);
        check_round_trip (data, consumed, out, n, no_ignore);
        PREFIX_NEEDS_MORE (pk_socks_parse_request, data, consumed, PkSocksRequest);
      }
    else if (r == PK_SOCKS_PARSE_ERROR)
      {
        /* The server turns this into a reply code; it must be a valid one. */
        CHECK (pk_socks_reply_from_error (error) <= PK_SOCKS_REPLY_ADDRESS_TYPE_NOT_SUPPORTED);
      }
  }

  {
    PkSocksReplyMessage reply;
    g_autoptr(GError) error = NULL;

    r = pk_socks_parse_reply (data, size, &reply, &consumed, &error);
    CHECK ((r == PK_SOCKS_PARSE_ERROR) == (error != NULL));
    if (r == PK_SOCKS_PARSE_OK)
      {
        CHECK (consumed <= size);
        check_address (&reply.address);
        CHECK (pk_socks_reply_to_string (reply.reply) != NULL);
        n = pk_socks_encode_reply (out, sizeof out, reply.reply, &reply.address);
        check_round_trip (data, consumed, out, n, rsv_ignore);
        PREFIX_NEEDS_MORE (pk_socks_parse_reply, data, consumed, PkSocksReplyMessage);
      }
  }

  {
    static const gsize frag_ignore[] = { 2, 0 };
    PkSocksUdpHeader hdr;
    g_autoptr(GError) error = NULL;
    gboolean ok;

    ok = pk_socks_parse_udp_header (data, size, &hdr, &error);
    CHECK (ok == (error == NULL));
    if (ok)
      {
        CHECK (hdr.header_len <= size);
        check_address (&hdr.address);
        n = pk_socks_encode_udp_header (out, sizeof out, &hdr.address);
        check_round_trip (data, hdr.header_len, out, n, frag_ignore);
        /* A datagram is whole: cut short, it is an error. */
        CHECK (!pk_socks_parse_udp_header (data, hdr.header_len - 1, &hdr, NULL));
      }
  }

  return 0;
}
