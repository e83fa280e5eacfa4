/* pk-socks-proto.c: SOCKS5 messages as pure functions over byte buffers
 *
 * RFC 1928 (SOCKS5) and RFC 1929 (username/password authentication).
 *
 * Every parser works on whatever has arrived so far: a valid prefix of a
 * message gives PK_SOCKS_PARSE_NEED_MORE, a whole one PK_SOCKS_PARSE_OK with
 * the number of bytes it took (bytes after it are left for the next
 * message), and a field that can never become valid gives
 * PK_SOCKS_PARSE_ERROR as soon as it is seen. No parser reads past @len.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <string.h>

#include "pk-error.h"
#include "pk-socks-proto-private.h"
#include "pk-util-private.h"

/* Reads a big-endian 16-bit value; the caller has checked the length. */
static inline guint16
read_u16 (const guint8 *p)
{
  return (guint16) ((p[0] << 8) | p[1]);
}

static inline void
write_u16 (guint8  *p,
           guint16  v)
{
  p[0] = v >> 8;
  p[1] = v & 0xff;
}

/* ATYP ADDR PORT starting at buf[off]. On OK, *end is the offset just past
 * the port. @what names the message for errors ("SOCKS request"). */
static PkSocksParseResult
parse_address (const guint8    *buf,
               gsize            len,
               gsize            off,
               PkSocksAddress  *out,
               gsize           *end,
               const char      *what,
               GError         **error)
{
  gsize addr_len;

  if (len <= off)
    return PK_SOCKS_PARSE_NEED_MORE;

  memset (out, 0, sizeof *out);
  out->atyp = buf[off];
  off++;

  switch (out->atyp)
    {
    case PK_SOCKS_ATYP_IPV4:
      addr_len = 4;
      break;
    case PK_SOCKS_ATYP_IPV6:
      addr_len = 16;
      break;
    case PK_SOCKS_ATYP_DOMAIN:
      if (len <= off)
        return PK_SOCKS_PARSE_NEED_MORE;
      out->domain_len = buf[off];
      if (out->domain_len == 0)
        {
          g_set_error (error, PK_ERROR, PK_ERROR_PROTOCOL,
                       "%s: domain name length is 0", what);
          return PK_SOCKS_PARSE_ERROR;
        }
      off++;
      addr_len = out->domain_len;
      break;
    default:
      g_set_error (error, PK_ERROR, PK_ERROR_NOT_SUPPORTED,
                   "%s: address type 0x%02x is not supported", what, out->atyp);
      return PK_SOCKS_PARSE_ERROR;
    }

  /* A NUL inside the name would cut it short for every C string function
   * after this one (and for the resolver), so it is refused as soon as it
   * has arrived rather than when the whole name is in. */
  if (out->atyp == PK_SOCKS_ATYP_DOMAIN &&
      memchr (buf + off, '\0', MIN (addr_len, len - off)) != NULL)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_PROTOCOL,
                   "%s: domain name contains a NUL byte", what);
      return PK_SOCKS_PARSE_ERROR;
    }

  if (len - off < addr_len + 2)
    return PK_SOCKS_PARSE_NEED_MORE;

  switch (out->atyp)
    {
    case PK_SOCKS_ATYP_IPV4:
      memcpy (out->addr.ipv4, buf + off, 4);
      break;
    case PK_SOCKS_ATYP_IPV6:
      memcpy (out->addr.ipv6, buf + off, 16);
      break;
    default:
      memcpy (out->addr.domain, buf + off, addr_len);
      out->addr.domain[addr_len] = '\0';
      break;
    }
  off += addr_len;
  out->port = read_u16 (buf + off);
  *end = off + 2;

  return PK_SOCKS_PARSE_OK;
}

static gboolean
check_version (guint8       version,
               guint8       expected,
               const char  *what,
               GError     **error)
{
  if (version == expected)
    return TRUE;

  g_set_error (error, PK_ERROR, PK_ERROR_PROTOCOL,
               "%s: version 0x%02x is not 0x%02x", what, version, expected);
  return FALSE;
}

PkSocksParseResult
pk_socks_parse_greeting (const guint8     *buf,
                         gsize             len,
                         PkSocksGreeting  *out,
                         gsize            *consumed,
                         GError          **error)
{
  static const char what[] = "SOCKS greeting";
  guint8 n;

  g_return_val_if_fail (buf != NULL || len == 0, PK_SOCKS_PARSE_ERROR);
  g_return_val_if_fail (out != NULL, PK_SOCKS_PARSE_ERROR);
  g_return_val_if_fail (consumed != NULL, PK_SOCKS_PARSE_ERROR);

  if (len < 1)
    return PK_SOCKS_PARSE_NEED_MORE;
  if (!check_version (buf[0], PK_SOCKS_VERSION, what, error))
    return PK_SOCKS_PARSE_ERROR;
  if (len < 2)
    return PK_SOCKS_PARSE_NEED_MORE;

  n = buf[1];
  if (n == 0)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_PROTOCOL,
                   "%s: NMETHODS is 0 (no authentication method offered)", what);
      return PK_SOCKS_PARSE_ERROR;
    }
  if (len - 2 < n)
    return PK_SOCKS_PARSE_NEED_MORE;

  out->n_methods = n;
  memcpy (out->methods, buf + 2, n);
  *consumed = 2 + (gsize) n;

  return PK_SOCKS_PARSE_OK;
}

PkSocksParseResult
pk_socks_parse_method_choice (const guint8  *buf,
                              gsize          len,
                              guint8        *out_method,
                              gsize         *consumed,
                              GError       **error)
{
  g_return_val_if_fail (buf != NULL || len == 0, PK_SOCKS_PARSE_ERROR);
  g_return_val_if_fail (out_method != NULL, PK_SOCKS_PARSE_ERROR);
  g_return_val_if_fail (consumed != NULL, PK_SOCKS_PARSE_ERROR);

  if (len < 1)
    return PK_SOCKS_PARSE_NEED_MORE;
  if (!check_version (buf[0], PK_SOCKS_VERSION, "SOCKS method choice", error))
    return PK_SOCKS_PARSE_ERROR;
  if (len < 2)
    return PK_SOCKS_PARSE_NEED_MORE;
  *out_method = buf[1];
  *consumed = 2;
  return PK_SOCKS_PARSE_OK;
}

/* One length-prefixed RFC 1929 field at buf[off]: LEN then LEN bytes, no
 * NUL among them, LEN from 1 to 255. */
static PkSocksParseResult
parse_userpass_field (const guint8  *buf,
                      gsize          len,
                      gsize          off,
                      guint8        *field_len,
                      char          *field,
                      gsize         *end,
                      const char    *len_name,
                      const char    *field_name,
                      GError       **error)
{
  static const char what[] = "SOCKS username/password";
  guint8 n;

  if (len <= off)
    return PK_SOCKS_PARSE_NEED_MORE;

  n = buf[off];
  if (n == 0)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_PROTOCOL,
                   "%s: %s is 0 (the %s must be 1 to 255 bytes)", what, len_name, field_name);
      return PK_SOCKS_PARSE_ERROR;
    }
  off++;

  if (memchr (buf + off, '\0', MIN ((gsize) n, len - off)) != NULL)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_PROTOCOL,
                   "%s: the %s contains a NUL byte", what, field_name);
      return PK_SOCKS_PARSE_ERROR;
    }

  if (len - off < n)
    return PK_SOCKS_PARSE_NEED_MORE;

  *field_len = n;
  memcpy (field, buf + off, n);
  field[n] = '\0';
  *end = off + n;

  return PK_SOCKS_PARSE_OK;
}

PkSocksParseResult
pk_socks_parse_userpass (const guint8     *buf,
                         gsize             len,
                         PkSocksUserPass  *out,
                         gsize            *consumed,
                         GError          **error)
{
  PkSocksParseResult r;
  gsize off;

  g_return_val_if_fail (buf != NULL || len == 0, PK_SOCKS_PARSE_ERROR);
  g_return_val_if_fail (out != NULL, PK_SOCKS_PARSE_ERROR);
  g_return_val_if_fail (consumed != NULL, PK_SOCKS_PARSE_ERROR);

  if (len < 1)
    return PK_SOCKS_PARSE_NEED_MORE;
  if (!check_version (buf[0], PK_SOCKS_USERPASS_VERSION, "SOCKS username/password", error))
    return PK_SOCKS_PARSE_ERROR;

  memset (out, 0, sizeof *out);

  r = parse_userpass_field (buf, len, 1, &out->username_len, out->username, &off,
                            "ULEN", "username", error);
  if (r != PK_SOCKS_PARSE_OK)
    return r;

  r = parse_userpass_field (buf, len, off, &out->password_len, out->password, &off,
                            "PLEN", "password", error);
  if (r != PK_SOCKS_PARSE_OK)
    return r;

  *consumed = off;
  return PK_SOCKS_PARSE_OK;
}

/* VER CODE RSV ATYP ADDR PORT: requests and replies share the layout. */
static PkSocksParseResult
parse_request_or_reply (const guint8    *buf,
                        gsize            len,
                        const char      *what,
                        gboolean         check_rsv,
                        guint8          *code,
                        PkSocksAddress  *address,
                        gsize           *consumed,
                        GError         **error)
{
  PkSocksParseResult r;
  gsize end;

  g_return_val_if_fail (buf != NULL || len == 0, PK_SOCKS_PARSE_ERROR);
  g_return_val_if_fail (consumed != NULL, PK_SOCKS_PARSE_ERROR);

  if (len < 1)
    return PK_SOCKS_PARSE_NEED_MORE;
  if (!check_version (buf[0], PK_SOCKS_VERSION, what, error))
    return PK_SOCKS_PARSE_ERROR;
  if (len < 3)
    return PK_SOCKS_PARSE_NEED_MORE;
  if (check_rsv && buf[2] != 0)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_PROTOCOL,
                   "%s: reserved byte is 0x%02x, not 0", what, buf[2]);
      return PK_SOCKS_PARSE_ERROR;
    }

  r = parse_address (buf, len, 3, address, &end, what, error);
  if (r != PK_SOCKS_PARSE_OK)
    return r;

  *code = buf[1];
  *consumed = end;
  return PK_SOCKS_PARSE_OK;
}

PkSocksParseResult
pk_socks_parse_request (const guint8     *buf,
                        gsize             len,
                        PkSocksRequest   *out,
                        gsize            *consumed,
                        GError          **error)
{
  g_return_val_if_fail (out != NULL, PK_SOCKS_PARSE_ERROR);

  /* Any command value parses: the server answers an unknown one with
   * 0x07 (command not supported) rather than dropping the connection. */
  return parse_request_or_reply (buf, len, "SOCKS request", TRUE,
                                 &out->command, &out->address, consumed, error);
}

PkSocksParseResult
pk_socks_parse_reply (const guint8        *buf,
                      gsize                len,
                      PkSocksReplyMessage *out,
                      gsize               *consumed,
                      GError             **error)
{
  g_return_val_if_fail (out != NULL, PK_SOCKS_PARSE_ERROR);

  /* RSV is not checked in replies: a client (a probe) has nothing to gain
   * from refusing a server that sets it, unlike a server facing clients. */
  return parse_request_or_reply (buf, len, "SOCKS reply", FALSE,
                                 &out->reply, &out->address, consumed, error);
}

gboolean
pk_socks_parse_udp_header (const guint8      *buf,
                           gsize              len,
                           PkSocksUdpHeader  *out,
                           GError           **error)
{
  static const char what[] = "SOCKS UDP header";
  PkSocksParseResult r;
  gsize end;

  g_return_val_if_fail (buf != NULL || len == 0, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  if (len >= 2 && (buf[0] != 0 || buf[1] != 0))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_PROTOCOL,
                   "%s: reserved bytes are 0x%04x, not 0", what, read_u16 (buf));
      return FALSE;
    }
  if (len < 3)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_PROTOCOL,
                   "%s: datagram of %" G_GSIZE_FORMAT " bytes is too short", what, len);
      return FALSE;
    }

  out->frag = buf[2];

  r = parse_address (buf, len, 3, &out->address, &end, what, error);
  if (r == PK_SOCKS_PARSE_ERROR)
    return FALSE;
  if (r == PK_SOCKS_PARSE_NEED_MORE)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_PROTOCOL,
                   "%s: datagram of %" G_GSIZE_FORMAT " bytes ends inside the address",
                   what, len);
      return FALSE;
    }

  out->header_len = end;
  return TRUE;
}

/* --- encoders --- */

static gsize
address_encoded_len (const PkSocksAddress *address)
{
  switch (address->atyp)
    {
    case PK_SOCKS_ATYP_IPV4:
      return 1 + 4 + 2;
    case PK_SOCKS_ATYP_IPV6:
      return 1 + 16 + 2;
    case PK_SOCKS_ATYP_DOMAIN:
      if (address->domain_len == 0 ||
          memchr (address->addr.domain, '\0', address->domain_len) != NULL)
        return 0;
      return 1 + 1 + address->domain_len + 2;
    default:
      return 0;
    }
}

/* Writes ATYP ADDR PORT; the caller has checked the room. */
static gsize
encode_address (guint8               *out,
                const PkSocksAddress *address)
{
  gsize off = 0;

  out[off++] = address->atyp;
  switch (address->atyp)
    {
    case PK_SOCKS_ATYP_IPV4:
      memcpy (out + off, address->addr.ipv4, 4);
      off += 4;
      break;
    case PK_SOCKS_ATYP_IPV6:
      memcpy (out + off, address->addr.ipv6, 16);
      off += 16;
      break;
    default:
      out[off++] = address->domain_len;
      memcpy (out + off, address->addr.domain, address->domain_len);
      off += address->domain_len;
      break;
    }
  write_u16 (out + off, address->port);

  return off + 2;
}

gsize
pk_socks_encode_greeting (guint8       *out,
                          gsize         out_len,
                          const guint8 *methods,
                          guint8        n_methods)
{
  g_return_val_if_fail (out != NULL || out_len == 0, 0);

  if (n_methods == 0 || methods == NULL || out_len < 2 + (gsize) n_methods)
    return 0;

  out[0] = PK_SOCKS_VERSION;
  out[1] = n_methods;
  memcpy (out + 2, methods, n_methods);

  return 2 + (gsize) n_methods;
}

gsize
pk_socks_encode_method_choice (guint8 *out,
                               gsize   out_len,
                               guint8  method)
{
  g_return_val_if_fail (out != NULL || out_len == 0, 0);

  if (out_len < 2)
    return 0;

  out[0] = PK_SOCKS_VERSION;
  out[1] = method;

  return 2;
}

gsize
pk_socks_encode_userpass (guint8     *out,
                          gsize       out_len,
                          const char *username,
                          const char *password)
{
  gsize ulen, plen;

  g_return_val_if_fail (out != NULL || out_len == 0, 0);

  if (username == NULL || password == NULL)
    return 0;

  ulen = strlen (username);
  plen = strlen (password);
  if (ulen == 0 || ulen > 255 || plen == 0 || plen > 255)
    return 0;
  if (out_len < 3 + ulen + plen)
    return 0;

  out[0] = PK_SOCKS_USERPASS_VERSION;
  out[1] = ulen;
  memcpy (out + 2, username, ulen);
  out[2 + ulen] = plen;
  memcpy (out + 3 + ulen, password, plen);

  return 3 + ulen + plen;
}

gsize
pk_socks_encode_userpass_status (guint8   *out,
                                 gsize     out_len,
                                 gboolean  success)
{
  g_return_val_if_fail (out != NULL || out_len == 0, 0);

  if (out_len < 2)
    return 0;

  out[0] = PK_SOCKS_USERPASS_VERSION;
  out[1] = success ? 0x00 : 0x01;

  return 2;
}

/* VER CODE RSV ATYP ADDR PORT: requests and replies share the layout. */
static gsize
encode_request_or_reply (guint8               *out,
                         gsize                 out_len,
                         guint8                code,
                         const PkSocksAddress *address)
{
  gsize alen;

  g_return_val_if_fail (out != NULL || out_len == 0, 0);
  g_return_val_if_fail (address != NULL, 0);

  alen = address_encoded_len (address);
  if (alen == 0 || out_len < 3 + alen)
    return 0;

  out[0] = PK_SOCKS_VERSION;
  out[1] = code;
  out[2] = 0;

  return 3 + encode_address (out + 3, address);
}

gsize
pk_socks_encode_request (guint8               *out,
                         gsize                 out_len,
                         guint8                command,
                         const PkSocksAddress *address)
{
  return encode_request_or_reply (out, out_len, command, address);
}

gsize
pk_socks_encode_reply (guint8               *out,
                       gsize                 out_len,
                       guint8                reply,
                       const PkSocksAddress *bound)
{
  return encode_request_or_reply (out, out_len, reply, bound);
}

gsize
pk_socks_encode_udp_header (guint8               *out,
                            gsize                 out_len,
                            const PkSocksAddress *address)
{
  gsize alen;

  g_return_val_if_fail (out != NULL || out_len == 0, 0);
  g_return_val_if_fail (address != NULL, 0);

  alen = address_encoded_len (address);
  if (alen == 0 || out_len < 3 + alen)
    return 0;

  out[0] = 0;
  out[1] = 0;
  out[2] = 0;   /* FRAG: this relay never fragments */

  return 3 + encode_address (out + 3, address);
}

/* --- conversions --- */

gboolean
pk_socks_address_from_sockaddr (const PkSockaddr *native,
                                PkSocksAddress   *out)
{
  PkSockaddr plain = *native;

  g_return_val_if_fail (out != NULL, FALSE);

  pk_sockaddr_unmap (&plain);
  memset (out, 0, sizeof *out);
  switch (plain.sa.sa_family)
    {
    case AF_INET:
      out->atyp = PK_SOCKS_ATYP_IPV4;
      out->port = g_ntohs (plain.in.sin_port);
      memcpy (out->addr.ipv4, &plain.in.sin_addr, 4);
      return TRUE;
    case AF_INET6:
      out->atyp = PK_SOCKS_ATYP_IPV6;
      out->port = g_ntohs (plain.in6.sin6_port);
      memcpy (out->addr.ipv6, &plain.in6.sin6_addr, 16);
      return TRUE;
    default:
      return FALSE;
    }
}

gboolean
pk_socks_address_from_socket_address (GSocketAddress *address,
                                      PkSocksAddress *out)
{
  PkSockaddr native;

  g_return_val_if_fail (out != NULL, FALSE);

  if (!G_IS_INET_SOCKET_ADDRESS (address) || !pk_sockaddr_from_socket_address (&native, address))
    return FALSE;
  return pk_socks_address_from_sockaddr (&native, out);
}

gboolean
pk_socks_address_set_domain (PkSocksAddress *out,
                             const char     *domain,
                             guint16         port)
{
  gsize n;

  g_return_val_if_fail (out != NULL, FALSE);

  if (domain == NULL)
    return FALSE;

  n = strlen (domain);
  if (n == 0 || n > 255)
    return FALSE;

  memset (out, 0, sizeof *out);
  out->atyp = PK_SOCKS_ATYP_DOMAIN;
  out->domain_len = n;
  memcpy (out->addr.domain, domain, n + 1);
  out->port = port;

  return TRUE;
}

GSocketAddress *
pk_socks_address_to_socket_address (const PkSocksAddress *address)
{
  g_autoptr(GInetAddress) inet = NULL;

  g_return_val_if_fail (address != NULL, NULL);

  switch (address->atyp)
    {
    case PK_SOCKS_ATYP_IPV4:
      inet = g_inet_address_new_from_bytes (address->addr.ipv4, G_SOCKET_FAMILY_IPV4);
      break;
    case PK_SOCKS_ATYP_IPV6:
      inet = g_inet_address_new_from_bytes (address->addr.ipv6, G_SOCKET_FAMILY_IPV6);
      break;
    default:
      return NULL;
    }

  return g_inet_socket_address_new (inet, address->port);
}

char *
pk_socks_address_to_string (const PkSocksAddress *address)
{
  g_autoptr(GInetAddress) inet = NULL;
  g_autofree char *host = NULL;
  GString *str;

  g_return_val_if_fail (address != NULL, NULL);

  switch (address->atyp)
    {
    case PK_SOCKS_ATYP_IPV4:
      inet = g_inet_address_new_from_bytes (address->addr.ipv4, G_SOCKET_FAMILY_IPV4);
      host = g_inet_address_to_string (inet);
      return g_strdup_printf ("%s:%u", host, address->port);
    case PK_SOCKS_ATYP_IPV6:
      inet = g_inet_address_new_from_bytes (address->addr.ipv6, G_SOCKET_FAMILY_IPV6);
      host = g_inet_address_to_string (inet);
      return g_strdup_printf ("[%s]:%u", host, address->port);
    case PK_SOCKS_ATYP_DOMAIN:
      break;
    default:
      return g_strdup_printf ("(address type 0x%02x):%u", address->atyp, address->port);
    }

  /* The name comes from the client and ends up in logs: anything that is
   * not printable ASCII is escaped so that it cannot forge log lines. */
  str = g_string_sized_new (address->domain_len + 8);
  for (guint i = 0; i < address->domain_len; i++)
    {
      guchar c = address->addr.domain[i];

      if (c >= 0x21 && c < 0x7f && c != '\\')
        g_string_append_c (str, c);
      else
        g_string_append_printf (str, "\\x%02x", c);
    }
  g_string_append_printf (str, ":%u", address->port);

  return g_string_free (str, FALSE);
}

guint8
pk_socks_reply_from_error (const GError *error)
{
  g_return_val_if_fail (error != NULL, PK_SOCKS_REPLY_GENERAL_FAILURE);

  if (error->domain == G_IO_ERROR)
    {
      switch (error->code)
        {
        case G_IO_ERROR_CONNECTION_REFUSED:
          return PK_SOCKS_REPLY_CONNECTION_REFUSED;
        case G_IO_ERROR_NETWORK_UNREACHABLE:
          return PK_SOCKS_REPLY_NETWORK_UNREACHABLE;
        case G_IO_ERROR_HOST_UNREACHABLE:
          return PK_SOCKS_REPLY_HOST_UNREACHABLE;
        case G_IO_ERROR_TIMED_OUT:
          return PK_SOCKS_REPLY_TTL_EXPIRED;
        default:
          return PK_SOCKS_REPLY_GENERAL_FAILURE;
        }
    }

  /* GResolver's own errors (when a caller resolves without an egress)
   * mean the same as PK_ERROR_RESOLVE. */
  if (error->domain == G_RESOLVER_ERROR)
    return PK_SOCKS_REPLY_HOST_UNREACHABLE;

  if (error->domain == PK_ERROR)
    {
      switch (error->code)
        {
        case PK_ERROR_NOT_ALLOWED:
          return PK_SOCKS_REPLY_NOT_ALLOWED;
        case PK_ERROR_RESOLVE:
          return PK_SOCKS_REPLY_HOST_UNREACHABLE;
        case PK_ERROR_EGRESS:
          return PK_SOCKS_REPLY_NETWORK_UNREACHABLE;
        case PK_ERROR_NOT_SUPPORTED:
          return PK_SOCKS_REPLY_ADDRESS_TYPE_NOT_SUPPORTED;
        default:
          return PK_SOCKS_REPLY_GENERAL_FAILURE;
        }
    }

  return PK_SOCKS_REPLY_GENERAL_FAILURE;
}

const char *
pk_socks_reply_to_string (guint8 reply)
{
  switch (reply)
    {
    case PK_SOCKS_REPLY_SUCCEEDED:
      return "succeeded";
    case PK_SOCKS_REPLY_GENERAL_FAILURE:
      return "general SOCKS server failure";
    case PK_SOCKS_REPLY_NOT_ALLOWED:
      return "connection not allowed by ruleset";
    case PK_SOCKS_REPLY_NETWORK_UNREACHABLE:
      return "network unreachable";
    case PK_SOCKS_REPLY_HOST_UNREACHABLE:
      return "host unreachable";
    case PK_SOCKS_REPLY_CONNECTION_REFUSED:
      return "connection refused";
    case PK_SOCKS_REPLY_TTL_EXPIRED:
      return "TTL expired";
    case PK_SOCKS_REPLY_COMMAND_NOT_SUPPORTED:
      return "command not supported";
    case PK_SOCKS_REPLY_ADDRESS_TYPE_NOT_SUPPORTED:
      return "address type not supported";
    default:
      return "unassigned reply code";
    }
}
