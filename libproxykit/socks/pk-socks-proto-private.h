/* pk-socks-proto-private.h: SOCKS5 messages as pure functions over byte buffers
 *
 * RFC 1928 (SOCKS5) and RFC 1929 (username/password). No I/O here, so that
 * every message can be unit-tested exhaustively and fuzzed. Parsers take a
 * buffer that may hold a partial message and say so; encoders write into a
 * caller's buffer and return the length written.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "pk-util-private.h"

G_BEGIN_DECLS

#define PK_SOCKS_VERSION 0x05
#define PK_SOCKS_USERPASS_VERSION 0x01

/* The longest message either side sends: a reply or request with a
 * 255-byte domain name (4 + 1 + 255 + 2). */
#define PK_SOCKS_MAX_MESSAGE 262

typedef enum {
  PK_SOCKS_METHOD_NO_AUTH = 0x00,
  PK_SOCKS_METHOD_GSSAPI = 0x01,
  PK_SOCKS_METHOD_USERPASS = 0x02,
  PK_SOCKS_METHOD_NO_ACCEPTABLE = 0xff,
} PkSocksMethod;

typedef enum {
  PK_SOCKS_CMD_CONNECT = 0x01,
  PK_SOCKS_CMD_BIND = 0x02,
  PK_SOCKS_CMD_UDP_ASSOCIATE = 0x03,
} PkSocksCommand;

typedef enum {
  PK_SOCKS_ATYP_IPV4 = 0x01,
  PK_SOCKS_ATYP_DOMAIN = 0x03,
  PK_SOCKS_ATYP_IPV6 = 0x04,
} PkSocksAddressType;

typedef enum {
  PK_SOCKS_REPLY_SUCCEEDED = 0x00,
  PK_SOCKS_REPLY_GENERAL_FAILURE = 0x01,
  PK_SOCKS_REPLY_NOT_ALLOWED = 0x02,
  PK_SOCKS_REPLY_NETWORK_UNREACHABLE = 0x03,
  PK_SOCKS_REPLY_HOST_UNREACHABLE = 0x04,
  PK_SOCKS_REPLY_CONNECTION_REFUSED = 0x05,
  PK_SOCKS_REPLY_TTL_EXPIRED = 0x06,
  PK_SOCKS_REPLY_COMMAND_NOT_SUPPORTED = 0x07,
  PK_SOCKS_REPLY_ADDRESS_TYPE_NOT_SUPPORTED = 0x08,
} PkSocksReply;

typedef enum {
  PK_SOCKS_PARSE_OK,         /* a whole message; *consumed says how long */
  PK_SOCKS_PARSE_NEED_MORE,  /* a valid prefix: read more and call again */
  PK_SOCKS_PARSE_ERROR,      /* malformed: @error says which field */
} PkSocksParseResult;

typedef struct {
  guint8 n_methods;
  guint8 methods[255];
} PkSocksGreeting;

typedef struct {
  guint8 username_len;
  guint8 password_len;
  char username[256];   /* NUL-terminated; may contain no NUL inside */
  char password[256];
} PkSocksUserPass;

typedef struct {
  guint8 atyp;          /* PkSocksAddressType */
  guint8 domain_len;
  guint16 port;         /* host byte order */
  union {
    guint8 ipv4[4];
    guint8 ipv6[16];
    char domain[256];   /* NUL-terminated when atyp is DOMAIN */
  } addr;
} PkSocksAddress;

typedef struct {
  guint8 command;       /* PkSocksCommand, or any other value (the caller answers 0x07) */
  PkSocksAddress address;
} PkSocksRequest;

typedef struct {
  guint8 reply;         /* PkSocksReply */
  PkSocksAddress address;
} PkSocksReplyMessage;

typedef struct {
  guint8 frag;
  PkSocksAddress address;
  gsize header_len;     /* the payload starts here */
} PkSocksUdpHeader;

/* Errors are PK_ERROR_PROTOCOL (malformed: bad version, zero methods, empty
 * domain, reserved byte set in a request...) or PK_ERROR_NOT_SUPPORTED for an
 * unknown address type (the server answers 0x08). Messages name the message
 * and the field: "SOCKS request: address type 0x02 is not supported". */

/* Client -> server: VER NMETHODS METHODS... */
PkSocksParseResult pk_socks_parse_greeting   (const guint8     *buf,
                                              gsize             len,
                                              PkSocksGreeting  *out,
                                              gsize            *consumed,
                                              GError          **error);
/* Server -> client: VER METHOD (for clients: probes, tests) */
PkSocksParseResult pk_socks_parse_method_choice (const guint8  *buf,
                                                 gsize          len,
                                                 guint8        *out_method,
                                                 gsize         *consumed,
                                                 GError       **error);
/* Client -> server (RFC 1929): VER ULEN UNAME PLEN PASSWD */
PkSocksParseResult pk_socks_parse_userpass   (const guint8     *buf,
                                              gsize             len,
                                              PkSocksUserPass  *out,
                                              gsize            *consumed,
                                              GError          **error);
/* Client -> server: VER CMD RSV ATYP DST.ADDR DST.PORT */
PkSocksParseResult pk_socks_parse_request    (const guint8     *buf,
                                              gsize             len,
                                              PkSocksRequest   *out,
                                              gsize            *consumed,
                                              GError          **error);
/* Server -> client: VER REP RSV ATYP BND.ADDR BND.PORT (for clients: probes, tests) */
PkSocksParseResult pk_socks_parse_reply      (const guint8        *buf,
                                              gsize                len,
                                              PkSocksReplyMessage *out,
                                              gsize               *consumed,
                                              GError             **error);
/* A UDP datagram: RSV(2) FRAG ATYP DST.ADDR DST.PORT DATA. A datagram is
 * whole: a short one is an error, never NEED_MORE. */
gboolean           pk_socks_parse_udp_header (const guint8      *buf,
                                              gsize              len,
                                              PkSocksUdpHeader  *out,
                                              GError           **error);

/* Encoders return the number of bytes written, or 0 if out_len is too small
 * or the input is invalid (a domain longer than 255, an empty one). */
gsize pk_socks_encode_greeting        (guint8           *out,
                                       gsize             out_len,
                                       const guint8     *methods,
                                       guint8            n_methods);
gsize pk_socks_encode_method_choice   (guint8           *out,
                                       gsize             out_len,
                                       guint8            method);
gsize pk_socks_encode_userpass        (guint8           *out,
                                       gsize             out_len,
                                       const char       *username,
                                       const char       *password);
gsize pk_socks_encode_userpass_status (guint8           *out,
                                       gsize             out_len,
                                       gboolean          success);
gsize pk_socks_encode_request         (guint8               *out,
                                       gsize                 out_len,
                                       guint8                command,
                                       const PkSocksAddress *address);
gsize pk_socks_encode_reply           (guint8               *out,
                                       gsize                 out_len,
                                       guint8                reply,
                                       const PkSocksAddress *bound);
gsize pk_socks_encode_udp_header      (guint8               *out,
                                       gsize                 out_len,
                                       const PkSocksAddress *address);

/* Conversions. from_socket_address takes IPv4-mapped IPv6 as IPv4.
 * to_socket_address returns NULL for a domain. */
gboolean        pk_socks_address_from_socket_address (GSocketAddress       *address,
                                                      PkSocksAddress       *out);
gboolean        pk_socks_address_from_sockaddr       (const PkSockaddr     *native,
                                                      PkSocksAddress       *out);
gboolean        pk_socks_address_set_domain          (PkSocksAddress       *out,
                                                      const char           *domain,
                                                      guint16               port);
GSocketAddress *pk_socks_address_to_socket_address   (const PkSocksAddress *address);
/* "1.2.3.4:80", "[::1]:80", "example.org:443" */
char           *pk_socks_address_to_string           (const PkSocksAddress *address);

/* The reply code that says what a connect or resolve error means:
 * refused 0x05, network unreachable 0x03, host unreachable 0x04, timeout
 * 0x06, PK_ERROR_NOT_ALLOWED 0x02, PK_ERROR_RESOLVE 0x04, PK_ERROR_EGRESS
 * 0x03, PK_ERROR_NOT_SUPPORTED 0x08, anything else 0x01. */
guint8          pk_socks_reply_from_error            (const GError         *error);
const char     *pk_socks_reply_to_string             (guint8                reply);

G_END_DECLS
