/* test-socks-proto.c: the SOCKS5 codec (RFC 1928, RFC 1929)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include <gio/gunixsocketaddress.h>

#include <proxykit/proxykit.h>

#include "pk-socks-proto-private.h"
#include "pk-test-utils.h"

typedef enum {
  MSG_GREETING,
  MSG_USERPASS,
  MSG_REQUEST,
  MSG_REPLY,
  MSG_METHOD_CHOICE,
} MsgType;

static const char *msg_names[] = { "greeting", "userpass", "request", "reply", "method-choice" };

typedef union {
  guint8 method;
  PkSocksGreeting greeting;
  PkSocksUserPass userpass;
  PkSocksRequest request;
  PkSocksReplyMessage reply;
} AnyMessage;

static PkSocksParseResult
parse_any (MsgType       type,
           const guint8 *buf,
           gsize         len,
           AnyMessage   *out,
           gsize        *consumed,
           GError      **error)
{
  switch (type)
    {
    case MSG_GREETING:
      return pk_socks_parse_greeting (buf, len, &out->greeting, consumed, error);
    case MSG_USERPASS:
      return pk_socks_parse_userpass (buf, len, &out->userpass, consumed, error);
    case MSG_REQUEST:
      return pk_socks_parse_request (buf, len, &out->request, consumed, error);
    case MSG_METHOD_CHOICE:
      return pk_socks_parse_method_choice (buf, len, &out->method, consumed, error);
    case MSG_REPLY:
    default:
      return pk_socks_parse_reply (buf, len, &out->reply, consumed, error);
    }
}

/* Encodes what parse_any() produced, with out_len as the room given. */
static gsize
encode_any (MsgType           type,
            const AnyMessage *msg,
            guint8           *out,
            gsize             out_len)
{
  switch (type)
    {
    case MSG_GREETING:
      return pk_socks_encode_greeting (out, out_len, msg->greeting.methods, msg->greeting.n_methods);
    case MSG_USERPASS:
      return pk_socks_encode_userpass (out, out_len, msg->userpass.username, msg->userpass.password);
    case MSG_REQUEST:
      return pk_socks_encode_request (out, out_len, msg->request.command, &msg->request.address);
    case MSG_METHOD_CHOICE:
      return pk_socks_encode_method_choice (out, out_len, msg->method);
    case MSG_REPLY:
    default:
      return pk_socks_encode_reply (out, out_len, msg->reply.reply, &msg->reply.address);
    }
}

typedef struct {
  MsgType type;
  const char *name;
  const guint8 *bytes;
  gsize len;
} ValidCase;

#define B(...) (const guint8[]) { __VA_ARGS__ }, sizeof ((const guint8[]) { __VA_ARGS__ })

static const ValidCase valid_cases[] = {
  { MSG_GREETING, "no-auth", B (0x05, 0x01, 0x00) },
  { MSG_GREETING, "three-methods", B (0x05, 0x03, 0x00, 0x01, 0x02) },
  { MSG_USERPASS, "short", B (0x01, 0x01, 'u', 0x01, 'p') },
  { MSG_USERPASS, "alice", B (0x01, 0x05, 'a', 'l', 'i', 'c', 'e', 0x06, 's', '3', 'c', 'r', '3', 't') },
  { MSG_REQUEST, "connect-ipv4", B (0x05, 0x01, 0x00, 0x01, 127, 0, 0, 1, 0x1f, 0x90) },
  { MSG_REQUEST, "connect-ipv6", B (0x05, 0x01, 0x00, 0x04, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x01, 0xbb) },
  { MSG_REQUEST, "connect-domain", B (0x05, 0x01, 0x00, 0x03, 11, 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'o', 'r', 'g', 0x01, 0xbb) },
  { MSG_REQUEST, "udp-associate", B (0x05, 0x03, 0x00, 0x01, 0, 0, 0, 0, 0, 0) },
  { MSG_REQUEST, "unknown-command", B (0x05, 0x09, 0x00, 0x01, 10, 0, 0, 1, 0, 80) },
  { MSG_REPLY, "success-ipv4", B (0x05, 0x00, 0x00, 0x01, 192, 168, 11, 100, 0x27, 0x1b) },
  { MSG_REPLY, "refused-ipv6", B (0x05, 0x05, 0x00, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0) },
  { MSG_REPLY, "domain", B (0x05, 0x00, 0x00, 0x03, 1, 'h', 0, 1) },
  { MSG_METHOD_CHOICE, "no-auth", B (0x05, 0x00) },
  { MSG_METHOD_CHOICE, "none-acceptable", B (0x05, 0xff) },
};

/* A request with a 255-byte name: the longest message there is. */
static GBytes *
longest_request (void)
{
  guint8 buf[PK_SOCKS_MAX_MESSAGE];

  buf[0] = 0x05;
  buf[1] = 0x01;
  buf[2] = 0x00;
  buf[3] = 0x03;
  buf[4] = 255;
  memset (buf + 5, 'a', 255);
  buf[260] = 0x12;
  buf[261] = 0x34;
  return g_bytes_new (buf, sizeof buf);
}

static void
check_valid (MsgType       type,
             const char   *name,
             const guint8 *bytes,
             gsize         len)
{
  AnyMessage msg;
  guint8 out[PK_SOCKS_MAX_MESSAGE + 16];
  g_autofree guint8 *padded = NULL;
  gsize consumed = 0;
  gsize written;
  g_autoptr(GError) error = NULL;

  g_test_message ("%s %s", msg_names[type], name);

  /* Whole message */
  g_assert_cmpint (parse_any (type, bytes, len, &msg, &consumed, &error), ==, PK_SOCKS_PARSE_OK);
  g_assert_no_error (error);
  g_assert_cmpuint (consumed, ==, len);

  /* Round trip */
  written = encode_any (type, &msg, out, sizeof out);
  g_assert_cmpmem (out, written, bytes, len);

  /* Exactly enough room works, one byte less does not */
  g_assert_cmpuint (encode_any (type, &msg, out, len), ==, len);
  for (gsize room = 0; room < len; room++)
    g_assert_cmpuint (encode_any (type, &msg, out, room), ==, 0);

  /* Every proper prefix is a valid start */
  for (gsize n = 0; n < len; n++)
    {
      AnyMessage partial;

      consumed = 12345;
      g_assert_cmpint (parse_any (type, bytes, n, &partial, &consumed, &error), ==,
                       PK_SOCKS_PARSE_NEED_MORE);
      g_assert_no_error (error);
      g_assert_cmpuint (consumed, ==, 12345);
    }

  /* Trailing bytes are left for the next message */
  padded = g_malloc (len + 7);
  memcpy (padded, bytes, len);
  memset (padded + len, 0x05, 7);
  g_assert_cmpint (parse_any (type, padded, len + 7, &msg, &consumed, &error), ==, PK_SOCKS_PARSE_OK);
  g_assert_no_error (error);
  g_assert_cmpuint (consumed, ==, len);
}

static void
test_valid_messages (void)
{
  g_autoptr(GBytes) longest = longest_request ();

  for (gsize i = 0; i < G_N_ELEMENTS (valid_cases); i++)
    check_valid (valid_cases[i].type, valid_cases[i].name, valid_cases[i].bytes, valid_cases[i].len);

  check_valid (MSG_REQUEST, "longest", g_bytes_get_data (longest, NULL), g_bytes_get_size (longest));
}

static void
test_parsed_fields (void)
{
  PkSocksGreeting greeting;
  PkSocksUserPass up;
  PkSocksRequest req;
  PkSocksReplyMessage reply;
  gsize consumed;
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (pk_socks_parse_greeting (valid_cases[1].bytes, valid_cases[1].len,
                                            &greeting, &consumed, &error), ==, PK_SOCKS_PARSE_OK);
  g_assert_cmpuint (greeting.n_methods, ==, 3);
  g_assert_cmpuint (greeting.methods[2], ==, PK_SOCKS_METHOD_USERPASS);

  g_assert_cmpint (pk_socks_parse_userpass (valid_cases[3].bytes, valid_cases[3].len,
                                            &up, &consumed, &error), ==, PK_SOCKS_PARSE_OK);
  g_assert_cmpstr (up.username, ==, "alice");
  g_assert_cmpstr (up.password, ==, "s3cr3t");
  g_assert_cmpuint (up.username_len, ==, 5);
  g_assert_cmpuint (up.password_len, ==, 6);

  g_assert_cmpint (pk_socks_parse_request (valid_cases[4].bytes, valid_cases[4].len,
                                           &req, &consumed, &error), ==, PK_SOCKS_PARSE_OK);
  g_assert_cmpuint (req.command, ==, PK_SOCKS_CMD_CONNECT);
  g_assert_cmpuint (req.address.atyp, ==, PK_SOCKS_ATYP_IPV4);
  g_assert_cmpuint (req.address.port, ==, 8080);
  g_assert_cmpmem (req.address.addr.ipv4, 4, ((guint8[]) { 127, 0, 0, 1 }), 4);

  g_assert_cmpint (pk_socks_parse_request (valid_cases[6].bytes, valid_cases[6].len,
                                           &req, &consumed, &error), ==, PK_SOCKS_PARSE_OK);
  g_assert_cmpuint (req.address.atyp, ==, PK_SOCKS_ATYP_DOMAIN);
  g_assert_cmpstr (req.address.addr.domain, ==, "example.org");
  g_assert_cmpuint (req.address.domain_len, ==, 11);
  g_assert_cmpuint (req.address.port, ==, 443);

  g_assert_cmpint (pk_socks_parse_request (valid_cases[8].bytes, valid_cases[8].len,
                                           &req, &consumed, &error), ==, PK_SOCKS_PARSE_OK);
  g_assert_cmpuint (req.command, ==, 0x09);

  g_assert_cmpint (pk_socks_parse_reply (valid_cases[10].bytes, valid_cases[10].len,
                                         &reply, &consumed, &error), ==, PK_SOCKS_PARSE_OK);
  g_assert_cmpuint (reply.reply, ==, PK_SOCKS_REPLY_CONNECTION_REFUSED);
  g_assert_cmpuint (reply.address.atyp, ==, PK_SOCKS_ATYP_IPV6);
  g_assert_cmpuint (reply.address.addr.ipv6[15], ==, 1);
  g_assert_no_error (error);
}

typedef struct {
  MsgType type;
  const char *name;
  const guint8 *bytes;
  gsize len;
  int code;
  const char *message;   /* must appear in the error message */
} InvalidCase;

static const InvalidCase invalid_cases[] = {
  { MSG_GREETING, "socks4", B (0x04, 0x01, 0x00, 0x50), PK_ERROR_PROTOCOL, "SOCKS greeting: version 0x04" },
  { MSG_GREETING, "http", B ('G', 'E', 'T', ' '), PK_ERROR_PROTOCOL, "SOCKS greeting: version 0x47" },
  { MSG_GREETING, "nmethods-0", B (0x05, 0x00), PK_ERROR_PROTOCOL, "SOCKS greeting: NMETHODS is 0" },
  { MSG_USERPASS, "version", B (0x05, 0x01, 'u', 0x01, 'p'), PK_ERROR_PROTOCOL, "SOCKS username/password: version 0x05" },
  { MSG_USERPASS, "ulen-0", B (0x01, 0x00, 0x01, 'p'), PK_ERROR_PROTOCOL, "SOCKS username/password: ULEN is 0" },
  { MSG_USERPASS, "plen-0", B (0x01, 0x01, 'u', 0x00), PK_ERROR_PROTOCOL, "SOCKS username/password: PLEN is 0" },
  { MSG_USERPASS, "nul-in-username", B (0x01, 0x03, 'a', 0, 'b', 0x01, 'p'), PK_ERROR_PROTOCOL, "username contains a NUL" },
  { MSG_USERPASS, "nul-in-password", B (0x01, 0x01, 'u', 0x02, 'p', 0), PK_ERROR_PROTOCOL, "password contains a NUL" },
  /* refused as soon as the NUL arrives, before the field is complete */
  { MSG_USERPASS, "nul-in-partial-username", B (0x01, 0x09, 0), PK_ERROR_PROTOCOL, "username contains a NUL" },
  { MSG_REQUEST, "version", B (0x04, 0x01, 0x00, 0x01, 1, 2, 3, 4, 0, 80), PK_ERROR_PROTOCOL, "SOCKS request: version 0x04" },
  { MSG_REQUEST, "rsv", B (0x05, 0x01, 0x01, 0x01, 1, 2, 3, 4, 0, 80), PK_ERROR_PROTOCOL, "SOCKS request: reserved byte is 0x01" },
  { MSG_REQUEST, "atyp-0", B (0x05, 0x01, 0x00, 0x00, 1, 2, 3, 4, 0, 80), PK_ERROR_NOT_SUPPORTED, "SOCKS request: address type 0x00 is not supported" },
  { MSG_REQUEST, "atyp-2", B (0x05, 0x01, 0x00, 0x02), PK_ERROR_NOT_SUPPORTED, "SOCKS request: address type 0x02 is not supported" },
  { MSG_REQUEST, "atyp-ff", B (0x05, 0x01, 0x00, 0xff, 0), PK_ERROR_NOT_SUPPORTED, "address type 0xff" },
  { MSG_REQUEST, "domain-len-0", B (0x05, 0x01, 0x00, 0x03, 0x00, 0, 80), PK_ERROR_PROTOCOL, "SOCKS request: domain name length is 0" },
  { MSG_REQUEST, "domain-nul", B (0x05, 0x01, 0x00, 0x03, 0x03, 'a', 0, 'b', 0, 80), PK_ERROR_PROTOCOL, "SOCKS request: domain name contains a NUL" },
  { MSG_REQUEST, "domain-nul-partial", B (0x05, 0x01, 0x00, 0x03, 0x20, 'a', 0), PK_ERROR_PROTOCOL, "domain name contains a NUL" },
  { MSG_REPLY, "version", B (0x00, 0x5a, 0x00, 0x00), PK_ERROR_PROTOCOL, "SOCKS reply: version 0x00" },
  { MSG_REPLY, "atyp", B (0x05, 0x00, 0x00, 0x05), PK_ERROR_NOT_SUPPORTED, "SOCKS reply: address type 0x05" },
  { MSG_REPLY, "domain-len-0", B (0x05, 0x00, 0x00, 0x03, 0x00), PK_ERROR_PROTOCOL, "SOCKS reply: domain name length is 0" },
  { MSG_METHOD_CHOICE, "socks4", B (0x00, 0x5a), PK_ERROR_PROTOCOL, "SOCKS method choice: version 0x00" },
};

static void
test_invalid_messages (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (invalid_cases); i++)
    {
      const InvalidCase *c = &invalid_cases[i];
      AnyMessage msg;
      gsize consumed = 999;
      g_autoptr(GError) error = NULL;

      g_test_message ("%s %s", msg_names[c->type], c->name);
      g_assert_cmpint (parse_any (c->type, c->bytes, c->len, &msg, &consumed, &error), ==,
                       PK_SOCKS_PARSE_ERROR);
      g_assert_error (error, PK_ERROR, c->code);
      if (strstr (error->message, c->message) == NULL)
        g_error ("%s %s: error '%s' does not say '%s'",
                 msg_names[c->type], c->name, error->message, c->message);
      g_assert_cmpuint (consumed, ==, 999);
    }
}

/* A reply is parsed by clients, which have no reason to refuse a server
 * that sets the reserved byte. */
static void
test_reply_ignores_rsv (void)
{
  static const guint8 reply[] = { 0x05, 0x00, 0x07, 0x01, 1, 2, 3, 4, 0, 80 };
  PkSocksReplyMessage msg;
  gsize consumed;
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (pk_socks_parse_reply (reply, sizeof reply, &msg, &consumed, &error), ==,
                   PK_SOCKS_PARSE_OK);
  g_assert_no_error (error);
  g_assert_cmpuint (consumed, ==, sizeof reply);
}

static void
test_udp_header (void)
{
  static const guint8 v4[] = { 0, 0, 0, 0x01, 127, 0, 0, 1, 0x00, 0x35, 'h', 'i' };
  static const guint8 v6[] = { 0, 0, 0, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x12, 0x34 };
  static const guint8 dom[] = { 0, 0, 0x02, 0x03, 4, 'h', 'o', 's', 't', 0x00, 0x07, 0xde, 0xad };
  PkSocksUdpHeader hdr;
  guint8 out[300];
  gsize n;
  g_autoptr(GError) error = NULL;

  g_assert_true (pk_socks_parse_udp_header (v4, sizeof v4, &hdr, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (hdr.frag, ==, 0);
  g_assert_cmpuint (hdr.header_len, ==, 10);
  g_assert_cmpuint (hdr.address.port, ==, 53);
  g_assert_cmpmem (v4 + hdr.header_len, sizeof v4 - hdr.header_len, "hi", 2);
  n = pk_socks_encode_udp_header (out, sizeof out, &hdr.address);
  g_assert_cmpmem (out, n, v4, hdr.header_len);
  for (gsize room = 0; room < hdr.header_len; room++)
    g_assert_cmpuint (pk_socks_encode_udp_header (out, room, &hdr.address), ==, 0);

  /* A header alone, with no payload, is a valid (empty) datagram */
  g_assert_true (pk_socks_parse_udp_header (v6, sizeof v6, &hdr, &error));
  g_assert_cmpuint (hdr.header_len, ==, sizeof v6);
  g_assert_cmpuint (hdr.address.atyp, ==, PK_SOCKS_ATYP_IPV6);
  n = pk_socks_encode_udp_header (out, sizeof out, &hdr.address);
  g_assert_cmpmem (out, n, v6, sizeof v6);

  /* FRAG is reported, not refused: the relay decides to drop it */
  g_assert_true (pk_socks_parse_udp_header (dom, sizeof dom, &hdr, &error));
  g_assert_cmpuint (hdr.frag, ==, 2);
  g_assert_cmpstr (hdr.address.addr.domain, ==, "host");
  g_assert_cmpuint (hdr.header_len, ==, 11);
  /* encoding never sets FRAG */
  n = pk_socks_encode_udp_header (out, sizeof out, &hdr.address);
  g_assert_cmpuint (n, ==, 11);
  g_assert_cmpuint (out[2], ==, 0);
  g_assert_cmpmem (out + 3, n - 3, dom + 3, 8);

  /* A datagram is whole: every truncation is an error, never "more" */
  for (gsize len = 0; len < 10; len++)
    {
      g_clear_error (&error);
      g_assert_false (pk_socks_parse_udp_header (v4, len, &hdr, &error));
      g_assert_error (error, PK_ERROR, PK_ERROR_PROTOCOL);
      g_assert_nonnull (strstr (error->message, "SOCKS UDP header"));
    }

  g_clear_error (&error);
  g_assert_false (pk_socks_parse_udp_header ((const guint8[]) { 0, 1, 0, 1, 1, 2, 3, 4, 0, 1 }, 10, &hdr, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "reserved"));

  g_clear_error (&error);
  g_assert_false (pk_socks_parse_udp_header ((const guint8[]) { 0, 0, 0, 2, 1, 2, 3, 4, 0, 1 }, 10, &hdr, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_NOT_SUPPORTED);
  g_assert_nonnull (strstr (error->message, "SOCKS UDP header: address type 0x02"));

  g_clear_error (&error);
  g_assert_false (pk_socks_parse_udp_header ((const guint8[]) { 0, 0, 0, 3, 0, 0, 1 }, 7, &hdr, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "domain name length is 0"));

  g_clear_error (&error);
  g_assert_false (pk_socks_parse_udp_header ((const guint8[]) { 0, 0, 0, 3, 2, 'a', 0, 0, 1 }, 9, &hdr, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "NUL"));
}

static void
test_encoders_refuse_invalid (void)
{
  guint8 out[600];
  PkSocksAddress addr;
  char long_name[257];

  memset (long_name, 'x', 256);
  long_name[256] = '\0';

  g_assert_cmpuint (pk_socks_encode_greeting (out, sizeof out, (const guint8[]) { 0 }, 0), ==, 0);
  g_assert_cmpuint (pk_socks_encode_userpass (out, sizeof out, "", "p"), ==, 0);
  g_assert_cmpuint (pk_socks_encode_userpass (out, sizeof out, "u", ""), ==, 0);
  g_assert_cmpuint (pk_socks_encode_userpass (out, sizeof out, long_name, "p"), ==, 0);
  g_assert_cmpuint (pk_socks_encode_userpass (out, sizeof out, "u", long_name), ==, 0);
  long_name[255] = '\0';
  g_assert_cmpuint (pk_socks_encode_userpass (out, sizeof out, long_name, long_name), ==, 3 + 255 + 255);

  g_assert_cmpuint (pk_socks_encode_method_choice (out, 1, 0x02), ==, 0);
  g_assert_cmpuint (pk_socks_encode_method_choice (out, 2, 0x02), ==, 2);
  g_assert_cmpmem (out, 2, ((guint8[]) { 0x05, 0x02 }), 2);
  g_assert_cmpuint (pk_socks_encode_userpass_status (out, 1, TRUE), ==, 0);
  g_assert_cmpuint (pk_socks_encode_userpass_status (out, 2, TRUE), ==, 2);
  g_assert_cmpmem (out, 2, ((guint8[]) { 0x01, 0x00 }), 2);
  g_assert_cmpuint (pk_socks_encode_userpass_status (out, 2, FALSE), ==, 2);
  g_assert_cmpmem (out, 2, ((guint8[]) { 0x01, 0x01 }), 2);

  /* Domain names: empty, too long, NUL inside, unknown type */
  g_assert_false (pk_socks_address_set_domain (&addr, "", 80));
  long_name[255] = 'x';
  g_assert_false (pk_socks_address_set_domain (&addr, long_name, 80));
  long_name[255] = '\0';
  g_assert_true (pk_socks_address_set_domain (&addr, long_name, 80));
  g_assert_cmpuint (pk_socks_encode_request (out, sizeof out, 1, &addr), ==, PK_SOCKS_MAX_MESSAGE);

  memset (&addr, 0, sizeof addr);
  addr.atyp = PK_SOCKS_ATYP_DOMAIN;
  g_assert_cmpuint (pk_socks_encode_request (out, sizeof out, 1, &addr), ==, 0);
  g_assert_cmpuint (pk_socks_encode_reply (out, sizeof out, 0, &addr), ==, 0);
  g_assert_cmpuint (pk_socks_encode_udp_header (out, sizeof out, &addr), ==, 0);
  addr.domain_len = 3;
  memcpy (addr.addr.domain, "a\0b", 4);
  g_assert_cmpuint (pk_socks_encode_request (out, sizeof out, 1, &addr), ==, 0);
  addr.atyp = 0x02;
  g_assert_cmpuint (pk_socks_encode_reply (out, sizeof out, 0, &addr), ==, 0);
}

static void
check_from_socket_address (const char   *ip,
                           guint16       port,
                           guint8        atyp,
                           const char   *expected_string)
{
  g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (ip);
  g_autoptr(GSocketAddress) sa = g_inet_socket_address_new (inet, port);
  g_autoptr(GSocketAddress) back = NULL;
  g_autofree char *str = NULL;
  PkSocksAddress addr;

  g_assert_true (pk_socks_address_from_socket_address (sa, &addr));
  g_assert_cmpuint (addr.atyp, ==, atyp);
  g_assert_cmpuint (addr.port, ==, port);
  str = pk_socks_address_to_string (&addr);
  g_assert_cmpstr (str, ==, expected_string);

  back = pk_socks_address_to_socket_address (&addr);
  g_assert_nonnull (back);
  g_assert_cmpuint (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (back)), ==, port);
  g_assert_cmpint (g_socket_address_get_family (back), ==,
                   atyp == PK_SOCKS_ATYP_IPV4 ? G_SOCKET_FAMILY_IPV4 : G_SOCKET_FAMILY_IPV6);
}

static void
test_address_conversions (void)
{
  PkSocksAddress addr;
  g_autofree char *str = NULL;
  g_autofree char *escaped = NULL;
  g_autoptr(GSocketAddress) unix_addr = NULL;

  check_from_socket_address ("192.168.11.100", 10011, PK_SOCKS_ATYP_IPV4, "192.168.11.100:10011");
  check_from_socket_address ("::1", 80, PK_SOCKS_ATYP_IPV6, "[::1]:80");
  check_from_socket_address ("2001:db8::7", 0, PK_SOCKS_ATYP_IPV6, "[2001:db8::7]:0");
  /* A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d */
  check_from_socket_address ("::ffff:10.1.2.3", 1080, PK_SOCKS_ATYP_IPV4, "10.1.2.3:1080");

  g_assert_true (pk_socks_address_set_domain (&addr, "example.org", 443));
  g_assert_cmpuint (addr.domain_len, ==, 11);
  g_assert_null (pk_socks_address_to_socket_address (&addr));
  str = pk_socks_address_to_string (&addr);
  g_assert_cmpstr (str, ==, "example.org:443");

  /* A client's name cannot write control characters into logs */
  g_assert_true (pk_socks_address_set_domain (&addr, "a\nb c", 1));
  escaped = pk_socks_address_to_string (&addr);
  g_assert_cmpstr (escaped, ==, "a\\x0ab\\x20c:1");

  unix_addr = g_unix_socket_address_new ("/nonexistent");
  g_assert_false (pk_socks_address_from_socket_address (unix_addr, &addr));
}

static void
test_reply_from_error (void)
{
  static const struct {
    const char *domain;
    int code;
    guint8 reply;
  } cases[] = {
    { "io", G_IO_ERROR_CONNECTION_REFUSED, 0x05 },
    { "io", G_IO_ERROR_NETWORK_UNREACHABLE, 0x03 },
    { "io", G_IO_ERROR_HOST_UNREACHABLE, 0x04 },
    { "io", G_IO_ERROR_TIMED_OUT, 0x06 },
    { "io", G_IO_ERROR_FAILED, 0x01 },
    { "io", G_IO_ERROR_CANCELLED, 0x01 },
    { "io", G_IO_ERROR_PERMISSION_DENIED, 0x01 },
    { "pk", PK_ERROR_NOT_ALLOWED, 0x02 },
    { "pk", PK_ERROR_RESOLVE, 0x04 },
    { "pk", PK_ERROR_EGRESS, 0x03 },
    { "pk", PK_ERROR_NOT_SUPPORTED, 0x08 },
    { "pk", PK_ERROR_FAILED, 0x01 },
    { "pk", PK_ERROR_PROTOCOL, 0x01 },
    { "pk", PK_ERROR_BUSY, 0x01 },
    { "resolver", G_RESOLVER_ERROR_NOT_FOUND, 0x04 },
    { "resolver", G_RESOLVER_ERROR_TEMPORARY_FAILURE, 0x04 },
    { "other", 0, 0x01 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      GQuark domain;
      g_autoptr(GError) error = NULL;

      if (g_str_equal (cases[i].domain, "io"))
        domain = G_IO_ERROR;
      else if (g_str_equal (cases[i].domain, "pk"))
        domain = PK_ERROR;
      else if (g_str_equal (cases[i].domain, "resolver"))
        domain = G_RESOLVER_ERROR;
      else
        domain = G_FILE_ERROR;

      error = g_error_new_literal (domain, cases[i].code, "x");
      g_test_message ("%s %d", cases[i].domain, cases[i].code);
      g_assert_cmpuint (pk_socks_reply_from_error (error), ==, cases[i].reply);
    }

  g_assert_cmpstr (pk_socks_reply_to_string (0x05), ==, "connection refused");
  g_assert_cmpstr (pk_socks_reply_to_string (0x06), ==, "TTL expired");
  g_assert_cmpstr (pk_socks_reply_to_string (0x42), ==, "unassigned reply code");
}

/* Byte-by-byte arrival, as from a slow client: the parser says NEED_MORE
 * until the last byte, whatever the message. */
static void
test_incremental_request (void)
{
  guint8 buf[PK_SOCKS_MAX_MESSAGE];
  PkSocksAddress addr;
  PkSocksRequest req;
  gsize n, consumed;
  gsize filled;

  g_assert_true (pk_socks_address_set_domain (&addr, "proxy.example", 8443));
  n = pk_socks_encode_request (buf, sizeof buf, PK_SOCKS_CMD_CONNECT, &addr);
  g_assert_cmpuint (n, ==, 3 + 1 + 1 + 13 + 2);

  for (filled = 0; ; filled++)
    {
      g_autoptr(GError) error = NULL;
      PkSocksParseResult r = pk_socks_parse_request (buf, filled, &req, &consumed, &error);

      g_assert_no_error (error);
      if (r == PK_SOCKS_PARSE_OK)
        break;
      g_assert_cmpint (r, ==, PK_SOCKS_PARSE_NEED_MORE);
    }
  g_assert_cmpuint (filled, ==, n);
  g_assert_cmpuint (consumed, ==, n);
  g_assert_cmpstr (req.address.addr.domain, ==, "proxy.example");
  g_assert_cmpuint (req.address.port, ==, 8443);
}

int
main (int    argc,
      char **argv)
{
  pk_test_init (&argc, &argv);

  g_test_add_func ("/socks-proto/valid-messages", test_valid_messages);
  g_test_add_func ("/socks-proto/parsed-fields", test_parsed_fields);
  g_test_add_func ("/socks-proto/invalid-messages", test_invalid_messages);
  g_test_add_func ("/socks-proto/reply-ignores-rsv", test_reply_ignores_rsv);
  g_test_add_func ("/socks-proto/udp-header", test_udp_header);
  g_test_add_func ("/socks-proto/encoders-refuse-invalid", test_encoders_refuse_invalid);
  g_test_add_func ("/socks-proto/address-conversions", test_address_conversions);
  g_test_add_func ("/socks-proto/reply-from-error", test_reply_from_error);
  g_test_add_func ("/socks-proto/incremental-request", test_incremental_request);

  return g_test_run ();
}
