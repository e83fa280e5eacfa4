/* pk-dns.c: the DNS message codec of the egress's stub resolver
 *
 * See pk-dns-private.h. Only what a proxy needs to turn a name into
 * addresses: RFC 1035 queries with RD set, answers parsed with name
 * compression (pointers must point backwards, so that a loop is
 * impossible) and CNAME chains followed inside one answer. Pure: no I/O,
 * and nothing from the egress (the transport is pk-egress-resolve.c).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <string.h>

#include "pk-dns-private.h"
#include "pk-error.h"
#include "pk-util-private.h"

#define HEADER_LEN 12
#define CLASS_IN 1
#define MAX_NAME 255
#define MAX_RECORDS 64

static inline guint16
get_u16 (const guint8 *p)
{
  return (guint16) ((p[0] << 8) | p[1]);
}

static inline guint32
get_u32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3];
}

static inline void
put_u16 (guint8  *p,
         guint16  v)
{
  p[0] = v >> 8;
  p[1] = v & 0xff;
}

gsize
pk_dns_encode_query (guint8     *out,
                     gsize       out_len,
                     guint16     id,
                     const char *name,
                     guint16     qtype)
{
  gsize name_len, off, wire_len;
  const char *p;

  g_return_val_if_fail (out != NULL || out_len == 0, 0);
  g_return_val_if_fail (name != NULL, 0);

  name_len = strlen (name);
  if (name_len > 0 && name[name_len - 1] == '.')
    name_len--;
  if (name_len == 0)
    return 0;

  /* Labels plus their length bytes plus the root: one more than the text. */
  wire_len = name_len + 2;
  if (wire_len > MAX_NAME || out_len < HEADER_LEN + wire_len + 4)
    return 0;

  memset (out, 0, HEADER_LEN);
  put_u16 (out, id);
  out[2] = 0x01;          /* RD: the nameserver recurses for us */
  put_u16 (out + 4, 1);   /* QDCOUNT */

  off = HEADER_LEN;
  p = name;
  while (p < name + name_len)
    {
      const char *dot = memchr (p, '.', name + name_len - p);
      gsize label = (dot != NULL ? dot : name + name_len) - p;

      if (label == 0 || label > 63)
        return 0;
      out[off++] = label;
      memcpy (out + off, p, label);
      off += label;
      p += label + 1;
    }
  /* A trailing dot inside the name ("a..") left an empty label behind. */
  if (name[name_len - 1] == '.')
    return 0;
  out[off++] = 0;

  put_u16 (out + off, qtype);
  put_u16 (out + off + 2, CLASS_IN);

  return off + 4;
}

/* Reads a possibly compressed name at *off into @out as dotted lowercase
 * text, and moves *off past it (past the first pointer, if any). */
static gboolean
read_name (const guint8  *buf,
           gsize          len,
           gsize         *off,
           char           out[MAX_NAME + 1],
           GError       **error)
{
  gsize pos = *off;
  gsize limit = *off;   /* a pointer must point before this */
  gsize n = 0;
  gboolean jumped = FALSE;

  for (;;)
    {
      guint8 c;

      if (pos >= len)
        goto truncated;
      c = buf[pos];

      if ((c & 0xc0) == 0xc0)
        {
          gsize target;

          if (pos + 1 >= len)
            goto truncated;
          target = ((gsize) (c & 0x3f) << 8) | buf[pos + 1];
          if (target >= limit)
            {
              g_set_error (error, PK_ERROR, PK_ERROR_PROTOCOL,
                           "DNS answer: name pointer to offset %" G_GSIZE_FORMAT " does not point backwards",
                           target);
              return FALSE;
            }
          if (!jumped)
            *off = pos + 2;
          jumped = TRUE;
          limit = target;
          pos = target;
          continue;
        }
      if ((c & 0xc0) != 0)
        {
          g_set_error (error, PK_ERROR, PK_ERROR_PROTOCOL,
                       "DNS answer: label type 0x%02x is not supported", c & 0xc0);
          return FALSE;
        }
      if (c == 0)
        {
          if (!jumped)
            *off = pos + 1;
          break;
        }

      if (pos + 1 + c > len)
        goto truncated;
      /* The text form is the wire form less two bytes (the first length
       * and the root): 253 at most, so that any name read here can be
       * asked for in turn. */
      if (n + (n > 0) + c > MAX_NAME - 2)
        {
          g_set_error_literal (error, PK_ERROR, PK_ERROR_PROTOCOL,
                               "DNS answer: name longer than 255 bytes");
          return FALSE;
        }
      if (n > 0)
        out[n++] = '.';
      for (guint i = 0; i < c; i++)
        {
          guint8 ch = buf[pos + 1 + i];

          /* A dot or a NUL inside a label would make the text form
           * ambiguous (and could splice a chain onto another name). */
          if (ch == '.' || ch == '\0')
            {
              g_set_error_literal (error, PK_ERROR, PK_ERROR_PROTOCOL,
                                   "DNS answer: label contains a dot or a NUL byte");
              return FALSE;
            }
          out[n++] = g_ascii_tolower (ch);
        }
      pos += 1 + c;
    }

  out[n] = '\0';
  return TRUE;

truncated:
  g_set_error_literal (error, PK_ERROR, PK_ERROR_PROTOCOL, "DNS answer: truncated inside a name");
  return FALSE;
}

/* @qname as it compares with read_name()'s output. */
static char *
normalize_name (const char *name)
{
  gsize n = strlen (name);

  if (n > 0 && name[n - 1] == '.')
    n--;
  return g_ascii_strdown (name, n);
}

void
pk_dns_answer_clear (PkDnsAnswer *answer)
{
  g_clear_pointer (&answer->addresses, g_ptr_array_unref);
  g_clear_pointer (&answer->cname, g_free);
}

typedef struct {
  char owner[MAX_NAME + 1];
  guint16 type;
  guint32 ttl;
  guint16 rdlen;
  gsize rdata;          /* offset in the message */
  char target[MAX_NAME + 1];   /* CNAME only */
} Record;

gboolean
pk_dns_parse_answer (const guint8  *buf,
                     gsize          len,
                     guint16        id,
                     const char    *qname,
                     guint16        qtype,
                     PkDnsAnswer   *answer,
                     GError       **error)
{
  g_autofree char *want = NULL;
  g_autofree Record *records = NULL;
  char name[MAX_NAME + 1];
  guint16 qdcount, ancount, n_records = 0;
  gsize off;
  guint hops;

  g_return_val_if_fail (buf != NULL || len == 0, FALSE);
  g_return_val_if_fail (qname != NULL, FALSE);
  g_return_val_if_fail (answer != NULL, FALSE);

  memset (answer, 0, sizeof *answer);

  if (len < HEADER_LEN)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_PROTOCOL,
                   "DNS answer: %" G_GSIZE_FORMAT " bytes is shorter than a header", len);
      return FALSE;
    }
  if (get_u16 (buf) != id)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_PROTOCOL,
                   "DNS answer: ID 0x%04x does not match the query's 0x%04x", get_u16 (buf), id);
      return FALSE;
    }
  if ((buf[2] & 0x80) == 0 || (buf[2] & 0x78) != 0)
    {
      g_set_error_literal (error, PK_ERROR, PK_ERROR_PROTOCOL,
                           "DNS answer: not a response to a standard query");
      return FALSE;
    }

  answer->truncated = (buf[2] & 0x02) != 0;
  answer->rcode = buf[3] & 0x0f;
  qdcount = get_u16 (buf + 4);
  ancount = get_u16 (buf + 6);
  want = normalize_name (qname);

  /* An error answer may come without its question (FORMERR from a server
   * that could not parse it); a good one must echo ours. */
  if (qdcount == 0 && answer->rcode != PK_DNS_RCODE_NOERROR)
    return TRUE;
  if (qdcount != 1)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_PROTOCOL,
                   "DNS answer: %u questions, expected 1", qdcount);
      return FALSE;
    }

  off = HEADER_LEN;
  if (!read_name (buf, len, &off, name, error))
    return FALSE;
  if (len - off < 4)
    {
      g_set_error_literal (error, PK_ERROR, PK_ERROR_PROTOCOL, "DNS answer: truncated question");
      return FALSE;
    }
  if (strcmp (name, want) != 0 || get_u16 (buf + off) != qtype || get_u16 (buf + off + 2) != CLASS_IN)
    {
      g_set_error_literal (error, PK_ERROR, PK_ERROR_PROTOCOL,
                           "DNS answer: the question is not the one asked");
      return FALSE;
    }
  off += 4;

  if (answer->rcode != PK_DNS_RCODE_NOERROR)
    return TRUE;

  records = g_new (Record, MIN (ancount, MAX_RECORDS));
  for (guint i = 0; i < ancount; i++)
    {
      Record *r;
      Record skipped;

      /* A truncated answer keeps the records that arrived whole. */
      if (off >= len && answer->truncated)
        break;

      r = n_records < MAX_RECORDS ? &records[n_records] : &skipped;
      if (!read_name (buf, len, &off, r->owner, error))
        return FALSE;
      if (len - off < 10)
        {
          g_set_error_literal (error, PK_ERROR, PK_ERROR_PROTOCOL, "DNS answer: truncated record");
          return FALSE;
        }
      r->type = get_u16 (buf + off);
      r->ttl = get_u32 (buf + off + 4);
      r->rdlen = get_u16 (buf + off + 8);
      r->rdata = off + 10;
      if (len - r->rdata < r->rdlen)
        {
          g_set_error_literal (error, PK_ERROR, PK_ERROR_PROTOCOL, "DNS answer: truncated record data");
          return FALSE;
        }
      if (get_u16 (buf + off + 2) != CLASS_IN)
        r->type = 0;   /* not ours to use */
      off = r->rdata + r->rdlen;

      if (r->type == PK_DNS_TYPE_CNAME)
        {
          gsize toff = r->rdata;

          if (!read_name (buf, r->rdata + r->rdlen, &toff, r->target, error))
            return FALSE;
          if (r->target[0] == '\0')
            {
              g_set_error_literal (error, PK_ERROR, PK_ERROR_PROTOCOL,
                                   "DNS answer: CNAME to the root");
              return FALSE;
            }
        }
      else if ((r->type == PK_DNS_TYPE_A && r->rdlen != 4) ||
               (r->type == PK_DNS_TYPE_AAAA && r->rdlen != 16))
        {
          g_set_error (error, PK_ERROR, PK_ERROR_PROTOCOL,
                       "DNS answer: %s record of %u bytes",
                       r->type == PK_DNS_TYPE_A ? "A" : "AAAA", r->rdlen);
          return FALSE;
        }

      if (r != &skipped)
        n_records++;
    }

  /* Follow the chain from the name asked; the addresses are those of its
   * last name. */
  answer->addresses = g_ptr_array_new_with_free_func (g_object_unref);
  answer->ttl = G_MAXUINT32;
  g_strlcpy (name, want, sizeof name);
  for (hops = 0; ; hops++)
    {
      const Record *cname = NULL;

      for (guint i = 0; i < n_records; i++)
        {
          const Record *r = &records[i];

          if (strcmp (r->owner, name) != 0)
            continue;
          if (r->type == qtype)
            {
              g_ptr_array_add (answer->addresses,
                               g_inet_address_new_from_bytes (buf + r->rdata,
                                                              qtype == PK_DNS_TYPE_A ?
                                                              G_SOCKET_FAMILY_IPV4 :
                                                              G_SOCKET_FAMILY_IPV6));
              answer->ttl = MIN (answer->ttl, r->ttl);
            }
          else if (r->type == PK_DNS_TYPE_CNAME && cname == NULL)
            cname = r;
        }

      if (answer->addresses->len > 0 || cname == NULL)
        break;
      if (hops == PK_DNS_MAX_CNAME_HOPS)
        {
          g_set_error (error, PK_ERROR, PK_ERROR_PROTOCOL,
                       "DNS answer: more than %u CNAMEs from '%s'", PK_DNS_MAX_CNAME_HOPS, want);
          pk_dns_answer_clear (answer);
          return FALSE;
        }
      answer->ttl = MIN (answer->ttl, cname->ttl);
      g_strlcpy (name, cname->target, sizeof name);
    }

  if (answer->addresses->len == 0 && strcmp (name, want) != 0)
    answer->cname = g_strdup (name);
  if (answer->ttl == G_MAXUINT32)
    answer->ttl = 0;

  return TRUE;
}

GPtrArray *
pk_dns_parse_nameservers (const char * const  *nameservers,
                          GError             **error)
{
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func (g_object_unref);

  for (gsize i = 0; nameservers != NULL && nameservers[i] != NULL; i++)
    {
      g_autofree char *host = NULL;
      g_autoptr(GInetAddress) inet = NULL;
      guint16 port;

      if (!pk_parse_host_port (nameservers[i], 53, &host, &port, error))
        return NULL;
      inet = g_inet_address_new_from_string (host);
      if (inet == NULL)
        {
          g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                       "nameserver '%s' is not an IP address", nameservers[i]);
          return NULL;
        }
      g_ptr_array_add (list, g_inet_socket_address_new (inet, port));
    }

  return g_steal_pointer (&list);
}

gboolean
pk_dns_name_is_localhost (const char *name)
{
  g_autofree char *n = normalize_name (name);

  return g_str_equal (n, "localhost") || g_str_has_suffix (n, ".localhost");
}
