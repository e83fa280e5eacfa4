/* pk-dns.c: a small stub resolver that asks through an egress
 *
 * See pk-dns-private.h. Only what a proxy needs to turn a name into
 * addresses: RFC 1035 queries with RD set, answers parsed with name
 * compression (pointers must point backwards, so that a loop is
 * impossible), CNAME chains followed inside one answer and, when a
 * resolver leaves the chain's end out, by asking again.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <string.h>
#include <sys/random.h>

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

/* --- resolving --- */

typedef struct _Resolve Resolve;

typedef struct {
  Resolve *resolve;
  guint16 qtype;
  guint16 id;
  guint try;                /* tries made so far */
  GSocket *socket;
  GSocketAddress *server;
  GSource *read_source;
  GSource *timer;
  gboolean done;
  PkDnsAnswer answer;
  gboolean have_answer;
  gboolean egress_failed;   /* the last try could not even make its socket */
  char *last_error;
} Query;

struct _Resolve {
  GTask *task;              /* one reference, dropped when returned */
  PkEgress *egress;
  GPtrArray *servers;
  char *name;               /* asked now (the CNAME target after a hop) */
  char *orig_name;
  GSocketFamily family;
  guint try_timeout_ms;
  guint max_tries;
  guint cname_hops;
  Query queries[2];
  guint n_queries;
  guint n_pending;
};

static void
query_stop (Query *q)
{
  if (q->read_source != NULL)
    {
      g_source_destroy (q->read_source);
      g_clear_pointer (&q->read_source, g_source_unref);
    }
  if (q->timer != NULL)
    {
      g_source_destroy (q->timer);
      g_clear_pointer (&q->timer, g_source_unref);
    }
  if (q->socket != NULL)
    g_socket_close (q->socket, NULL);
  g_clear_object (&q->socket);
  g_clear_object (&q->server);
}

static void
query_clear (Query *q)
{
  query_stop (q);
  pk_dns_answer_clear (&q->answer);
  g_clear_pointer (&q->last_error, g_free);
}

static void
resolve_free (Resolve *r)
{
  for (guint i = 0; i < G_N_ELEMENTS (r->queries); i++)
    query_clear (&r->queries[i]);
  g_clear_object (&r->egress);
  g_clear_pointer (&r->servers, g_ptr_array_unref);
  g_free (r->name);
  g_free (r->orig_name);
  g_free (r);
}

static guint16
random_id (void)
{
  guint16 id;

  /* Unpredictable IDs are half of what keeps off-path spoofers out (the
   * kernel's random source port is the other). */
  if (getrandom (&id, sizeof id, GRND_NONBLOCK) != sizeof id)
    id = g_random_int_range (0, 65536);
  return id;
}

static const char *
qtype_name (guint16 qtype)
{
  return qtype == PK_DNS_TYPE_A ? "A" : "AAAA";
}

static void query_send (Query *q);
static void resolve_query_done (Resolve *r);

static void
query_finish (Query *q)
{
  query_stop (q);
  q->done = TRUE;
  resolve_query_done (q->resolve);
}

/* The try failed (timeout, refused, SERVFAIL): ask the next nameserver,
 * or give up after max_tries. */
static void
query_retry (Query      *q,
             const char *why)
{
  g_autofree char *server = q->server != NULL ? pk_format_socket_address (q->server) : g_strdup ("?");

  g_free (q->last_error);
  q->last_error = g_strdup_printf ("%s: %s", server, why);
  query_stop (q);

  if (q->try >= q->resolve->max_tries)
    query_finish (q);
  else
    query_send (q);
}

static gboolean
query_timeout_cb (gpointer user_data)
{
  Query *q = user_data;

  g_clear_pointer (&q->timer, g_source_unref);
  query_retry (q, "no answer");
  return G_SOURCE_REMOVE;
}

static void resolve_return_error (Resolve *r,
                                  GError  *error);

static gboolean
query_readable_cb (GSocket      *socket,
                   GIOCondition  condition,
                   gpointer      user_data)
{
  Query *q = user_data;
  Resolve *r = q->resolve;
  guint8 buf[PK_DNS_MAX_UDP_MESSAGE + 1];

  if (g_task_return_error_if_cancelled (r->task))
    {
      /* resolve_return_error would return a second time: only clean up. */
      resolve_return_error (r, NULL);
      return G_SOURCE_REMOVE;
    }

  for (;;)
    {
      g_autoptr(GSocketAddress) from = NULL;
      g_autoptr(GError) error = NULL;
      gssize n;

      n = g_socket_receive_from (socket, &from, (char *) buf, sizeof buf, NULL, &error);
      if (n < 0)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            return G_SOURCE_CONTINUE;
          /* ICMP port unreachable on the connected socket */
          query_retry (q, error->message);
          return G_SOURCE_REMOVE;
        }

      /* The socket is connected, so the kernel only passes the server's
       * datagrams; the check is for the record. */
      if (!G_IS_INET_SOCKET_ADDRESS (from) ||
          !g_inet_address_equal (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (from)),
                                 g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (q->server))))
        continue;

      pk_dns_answer_clear (&q->answer);
      if (!pk_dns_parse_answer (buf, n, q->id, r->name, q->qtype, &q->answer, &error))
        {
          /* Wrong ID or question, or garbage: not our answer, keep
           * waiting for it until the try times out. */
          g_debug ("DNS: ignoring a datagram: %s", error->message);
          continue;
        }

      if (q->answer.rcode == PK_DNS_RCODE_NOERROR || q->answer.rcode == PK_DNS_RCODE_NXDOMAIN)
        {
          q->have_answer = TRUE;
          query_finish (q);
        }
      else
        {
          g_autofree char *why = g_strdup_printf ("RCODE %u", q->answer.rcode);
          query_retry (q, why);
        }
      return G_SOURCE_REMOVE;
    }
}

static void
query_send (Query *q)
{
  Resolve *r = q->resolve;
  guint8 msg[PK_DNS_MAX_UDP_MESSAGE];
  gsize len;

  while (q->try < r->max_tries)
    {
      GSocketAddress *server = g_ptr_array_index (r->servers, q->try % r->servers->len);
      g_autoptr(GError) error = NULL;

      q->try++;
      q->id = random_id ();
      len = pk_dns_encode_query (msg, sizeof msg, q->id, r->name, q->qtype);
      if (len == 0)
        {
          /* Checked for the name asked; a CNAME's target is checked by
           * the parser, so this is only a safety net. */
          g_free (q->last_error);
          q->last_error = g_strdup_printf ("'%s' is not a valid DNS name", r->name);
          break;
        }

      q->server = g_object_ref (server);
      q->socket = pk_egress_create_socket (r->egress, g_socket_address_get_family (server),
                                           G_SOCKET_TYPE_DATAGRAM, &error);
      q->egress_failed = q->socket == NULL && g_error_matches (error, PK_ERROR, PK_ERROR_EGRESS);
      if (q->socket == NULL ||
          !g_socket_connect (q->socket, server, NULL, &error) ||
          g_socket_send (q->socket, (const char *) msg, len, NULL, &error) < 0)
        {
          g_autofree char *where = pk_format_socket_address (server);

          g_free (q->last_error);
          q->last_error = g_strdup_printf ("%s: %s", where, error->message);
          query_stop (q);
          continue;
        }

      q->read_source = g_socket_create_source (q->socket, G_IO_IN, g_task_get_cancellable (r->task));
      g_source_set_callback (q->read_source, G_SOURCE_FUNC (query_readable_cb), q, NULL);
      g_source_set_static_name (q->read_source, "[proxykit] DNS answer");
      g_source_attach (q->read_source, g_task_get_context (r->task));

      q->timer = g_timeout_source_new (r->try_timeout_ms);
      g_source_set_callback (q->timer, query_timeout_cb, q, NULL);
      g_source_set_static_name (q->timer, "[proxykit] DNS try timeout");
      g_source_attach (q->timer, g_task_get_context (r->task));
      return;
    }

  query_finish (q);
}

static void
resolve_start_queries (Resolve *r)
{
  static const guint16 types[] = { PK_DNS_TYPE_A, PK_DNS_TYPE_AAAA };
  GTask *task;
  guint n_queries;

  r->n_queries = 0;
  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    {
      Query *q;

      if ((types[i] == PK_DNS_TYPE_A && r->family == G_SOCKET_FAMILY_IPV6) ||
          (types[i] == PK_DNS_TYPE_AAAA && r->family == G_SOCKET_FAMILY_IPV4))
        continue;
      q = &r->queries[r->n_queries++];
      query_clear (q);
      memset (q, 0, sizeof *q);
      q->resolve = r;
      q->qtype = types[i];
    }

  n_queries = r->n_pending = r->n_queries;
  /* query_send may finish a query at once (no usable nameserver); count
   * them all as pending first so that the last one is seen as last, and
   * hold the task (and so @r) until the loop is over. */
  task = g_object_ref (r->task);
  for (guint i = 0; i < n_queries; i++)
    query_send (&r->queries[i]);
  g_object_unref (task);
}

/* Ends the task with @error (or, with NULL, only tears it down after it
 * was returned as cancelled). */
static void
resolve_return_error (Resolve *r,
                      GError  *error)
{
  GTask *task = r->task;

  for (guint i = 0; i < r->n_queries; i++)
    query_stop (&r->queries[i]);
  r->n_pending = G_MAXUINT;   /* no more query_done */
  if (error != NULL)
    g_task_return_error (task, error);
  g_object_unref (task);
}

static void
resolve_query_done (Resolve *r)
{
  GList *addresses = NULL;
  const char *cname = NULL;
  gboolean nxdomain = FALSE;
  gboolean egress_failed;
  g_autoptr(GString) why = NULL;
  GTask *task = r->task;

  if (r->n_pending == G_MAXUINT || --r->n_pending > 0)
    return;

  /* IPv4 first: a dongle's network rarely routes IPv6, and a caller
   * connecting in order should not wait on it first. */
  for (guint i = 0; i < r->n_queries; i++)
    {
      Query *q = &r->queries[i];

      if (!q->have_answer)
        continue;
      if (q->answer.rcode == PK_DNS_RCODE_NXDOMAIN)
        nxdomain = TRUE;
      for (guint j = 0; q->answer.addresses != NULL && j < q->answer.addresses->len; j++)
        addresses = g_list_prepend (addresses, g_object_ref (q->answer.addresses->pdata[j]));
      if (q->answer.cname != NULL)
        cname = q->answer.cname;
    }
  addresses = g_list_reverse (addresses);

  if (addresses != NULL)
    {
      for (guint i = 0; i < r->n_queries; i++)
        query_stop (&r->queries[i]);
      g_task_return_pointer (task, addresses, pk_inet_address_list_free);
      g_object_unref (task);
      return;
    }

  if (cname != NULL && !nxdomain)
    {
      if (r->cname_hops++ < PK_DNS_MAX_CNAME_HOPS)
        {
          /* The resolver stopped at a CNAME: ask for its target. */
          g_free (r->name);
          r->name = g_strdup (cname);
          resolve_start_queries (r);
          return;
        }
      resolve_return_error (r, g_error_new (PK_ERROR, PK_ERROR_RESOLVE,
                                            "cannot resolve '%s': CNAME chain longer than %u",
                                            r->orig_name, PK_DNS_MAX_CNAME_HOPS));
      return;
    }

  if (nxdomain)
    {
      resolve_return_error (r, g_error_new (PK_ERROR, PK_ERROR_RESOLVE,
                                            "cannot resolve '%s': no such name", r->orig_name));
      return;
    }

  /* When the egress cannot make a socket at all (its interface is gone),
   * say so: it is the egress that failed, not the name. */
  egress_failed = TRUE;
  for (guint i = 0; i < r->n_queries; i++)
    egress_failed = egress_failed && r->queries[i].egress_failed;

  why = g_string_new (NULL);
  for (guint i = 0; i < r->n_queries; i++)
    {
      Query *q = &r->queries[i];

      if (why->len > 0)
        g_string_append (why, "; ");
      if (q->have_answer)
        g_string_append_printf (why, "no %s record", qtype_name (q->qtype));
      else
        g_string_append_printf (why, "%s: %s", qtype_name (q->qtype),
                                q->last_error != NULL ? q->last_error : "no nameserver");
    }
  resolve_return_error (r, g_error_new (PK_ERROR, egress_failed ? PK_ERROR_EGRESS : PK_ERROR_RESOLVE,
                                        "cannot resolve '%s': %s", r->orig_name, why->str));
}

static gboolean
is_localhost (const char *name)
{
  g_autofree char *n = normalize_name (name);

  return g_str_equal (n, "localhost") || g_str_has_suffix (n, ".localhost");
}

void
pk_dns_resolve_async (PkEgress            *egress,
                      GPtrArray           *nameservers,
                      const char          *name,
                      GSocketFamily        family,
                      guint                try_timeout_ms,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  GTask *task;
  Resolve *r;
  guint8 probe[PK_DNS_MAX_UDP_MESSAGE];
  g_autoptr(GPtrArray) usable = NULL;

  g_return_if_fail (PK_IS_EGRESS (egress));
  g_return_if_fail (nameservers != NULL);
  g_return_if_fail (name != NULL);

  task = g_task_new (egress, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_dns_resolve_async);

  if (is_localhost (name))
    {
      GList *list = NULL;

      if (family != G_SOCKET_FAMILY_IPV4)
        list = g_list_prepend (list, g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV6));
      if (family != G_SOCKET_FAMILY_IPV6)
        list = g_list_prepend (list, g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4));
      g_task_return_pointer (task, list, pk_inet_address_list_free);
      g_object_unref (task);
      return;
    }

  if (pk_dns_encode_query (probe, sizeof probe, 0, name, PK_DNS_TYPE_A) == 0)
    {
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_RESOLVE,
                               "cannot resolve '%s': not a valid DNS name", name);
      g_object_unref (task);
      return;
    }

  /* An egress with a source address can only reach nameservers of its
   * family. */
  usable = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < nameservers->len; i++)
    {
      GSocketAddress *ns = nameservers->pdata[i];
      g_autoptr(GInetAddress) source = NULL;
      const char *src = pk_egress_get_address (egress);

      if (src != NULL)
        source = g_inet_address_new_from_string (src);
      if (source == NULL || g_inet_address_get_family (source) == g_socket_address_get_family (ns))
        g_ptr_array_add (usable, g_object_ref (ns));
    }
  if (usable->len == 0)
    {
      g_autofree char *desc = pk_egress_to_string (egress);
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_EGRESS,
                               "cannot resolve '%s': no nameserver reachable through egress %s",
                               name, desc);
      g_object_unref (task);
      return;
    }

  r = g_new0 (Resolve, 1);
  r->task = task;
  r->egress = g_object_ref (egress);
  r->servers = g_steal_pointer (&usable);
  r->name = g_strdup (name);
  r->orig_name = g_strdup (name);
  r->family = family;
  r->try_timeout_ms = MAX (try_timeout_ms, 1);
  r->max_tries = 2 * r->servers->len;
  g_task_set_task_data (task, r, (GDestroyNotify) resolve_free);

  resolve_start_queries (r);
}

GList *
pk_dns_resolve_finish (GAsyncResult  *result,
                       GError       **error)
{
  g_return_val_if_fail (G_IS_TASK (result), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pk_dns_resolve_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
