/* test-dns.c: the stub resolver behind PkEgress:nameservers, against a
 * tiny DNS responder on 127.0.0.1 (never a real resolver)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include <proxykit/proxykit.h>

#include "pk-dns-private.h"
#include "pk-egress-private.h"
#include "pk-test-utils.h"

#define WAIT_MS 20000

/* --- the responder --- */

typedef struct {
  guint16 id;
  guint16 qtype;
  char name[256];
  const guint8 *question;   /* QNAME QTYPE QCLASS, as sent */
  gsize question_len;
} TestQuery;

typedef struct _Responder Responder;

/* Writes the answer to @q into @out and returns its length; 0 drops the
 * query. May call responder_send() for extra datagrams before it. */
typedef gsize (*ResponderFunc) (Responder       *r,
                                const TestQuery *q,
                                guint8          *out);

struct _Responder {
  GSocket *socket;
  GSource *source;
  GSocketAddress *last_peer;
  ResponderFunc func;
  guint n_queries;
  guint n_aaaa;
  GPtrArray *names;         /* every name asked, in order */
};

static void
put16 (guint8  *p,
       guint16  v)
{
  p[0] = v >> 8;
  p[1] = v & 0xff;
}

static void
responder_send (Responder    *r,
                const guint8 *buf,
                gsize         len)
{
  g_assert_cmpint (g_socket_send_to (r->socket, r->last_peer, (const char *) buf, len, NULL, NULL),
                   ==, (gssize) len);
}

static gboolean
responder_readable (GSocket      *socket,
                    GIOCondition  condition,
                    gpointer      user_data)
{
  Responder *r = user_data;
  guint8 buf[600];
  guint8 out[600];
  TestQuery q;
  gssize n;
  gsize off, len;

  g_clear_object (&r->last_peer);
  n = g_socket_receive_from (socket, &r->last_peer, (char *) buf, sizeof buf, NULL, NULL);
  if (n < 12)
    return G_SOURCE_CONTINUE;

  /* Queries are uncompressed: read the labels by hand. */
  memset (&q, 0, sizeof q);
  q.id = (buf[0] << 8) | buf[1];
  g_assert_cmpuint (buf[2] & 0x81, ==, 0x01);  /* a query, with RD */
  off = 12;
  while (buf[off] != 0)
    {
      if (q.name[0] != '\0')
        g_strlcat (q.name, ".", sizeof q.name);
      strncat (q.name, (const char *) buf + off + 1, buf[off]);
      off += 1 + buf[off];
    }
  off++;
  q.qtype = (buf[off] << 8) | buf[off + 1];
  q.question = buf + 12;
  q.question_len = off + 4 - 12;

  r->n_queries++;
  if (q.qtype == PK_DNS_TYPE_AAAA)
    r->n_aaaa++;
  g_ptr_array_add (r->names, g_strdup (q.name));

  len = r->func (r, &q, out);
  if (len > 0)
    responder_send (r, out, len);

  return G_SOURCE_CONTINUE;
}

static Responder *
responder_new (ResponderFunc func)
{
  Responder *r = g_new0 (Responder, 1);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new (lo, 0);
  g_autoptr(GError) error = NULL;

  r->func = func;
  r->names = g_ptr_array_new_with_free_func (g_free);
  r->socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_DEFAULT, &error);
  g_assert_no_error (error);
  g_socket_bind (r->socket, addr, FALSE, &error);
  g_assert_no_error (error);
  g_socket_set_blocking (r->socket, FALSE);
  r->source = g_socket_create_source (r->socket, G_IO_IN, NULL);
  g_source_set_callback (r->source, G_SOURCE_FUNC (responder_readable), r, NULL);
  g_source_attach (r->source, NULL);
  return r;
}

static char *
responder_address (Responder *r)
{
  g_autoptr(GSocketAddress) addr = g_socket_get_local_address (r->socket, NULL);

  return g_strdup_printf ("127.0.0.1:%u", g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (addr)));
}

static void
responder_free (Responder *r)
{
  g_source_destroy (r->source);
  g_source_unref (r->source);
  g_object_unref (r->socket);
  g_clear_object (&r->last_peer);
  g_ptr_array_unref (r->names);
  g_free (r);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Responder, responder_free)

/* Header and the question echoed; returns the offset after it. */
static gsize
begin_answer (const TestQuery *q,
              guint8          *out,
              guint16          id,
              guint8           rcode,
              guint16          ancount)
{
  memset (out, 0, 12);
  put16 (out, id);
  out[2] = 0x81;          /* QR, RD */
  out[3] = 0x80 | rcode;  /* RA */
  put16 (out + 4, 1);
  put16 (out + 6, ancount);
  memcpy (out + 12, q->question, q->question_len);
  return 12 + q->question_len;
}

/* A record whose owner is a pointer to @owner_offset. */
static gsize
add_record (guint8       *out,
            gsize         off,
            guint16       owner_offset,
            guint16       type,
            const guint8 *rdata,
            guint16       rdlen)
{
  put16 (out + off, 0xc000 | owner_offset);
  put16 (out + off + 2, type);
  put16 (out + off + 4, 1);
  put16 (out + off + 6, 0);
  put16 (out + off + 8, 300);
  put16 (out + off + 10, rdlen);
  memcpy (out + off + 12, rdata, rdlen);
  return off + 12 + rdlen;
}

/* A CNAME to @target (uncompressed); *target_offset says where the
 * target's name starts, for later records to point at. */
static gsize
add_cname (guint8     *out,
           gsize       off,
           guint16     owner_offset,
           const char *target,
           guint16    *target_offset)
{
  guint8 wire[256];
  gsize n = 0;
  g_auto(GStrv) labels = g_strsplit (target, ".", -1);

  for (guint i = 0; labels[i] != NULL; i++)
    {
      wire[n++] = strlen (labels[i]);
      memcpy (wire + n, labels[i], strlen (labels[i]));
      n += strlen (labels[i]);
    }
  wire[n++] = 0;
  *target_offset = off + 12;
  return add_record (out, off, owner_offset, PK_DNS_TYPE_CNAME, wire, n);
}

static const guint8 addr_a[4] = { 10, 1, 2, 3 };
static const guint8 addr_aaaa[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5 };

/* The address of the query's type for any name. */
static gsize
answer_plain (Responder       *r,
              const TestQuery *q,
              guint8          *out)
{
  gsize off = begin_answer (q, out, q->id, 0, 1);

  if (q->qtype == PK_DNS_TYPE_A)
    return add_record (out, off, 12, PK_DNS_TYPE_A, addr_a, 4);
  return add_record (out, off, 12, PK_DNS_TYPE_AAAA, addr_aaaa, 16);
}

/* --- running a lookup --- */

static GList *
egress_resolve (PkEgress    *egress,
                const char  *host,
                guint        timeout_ms,
                GError     **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  pk_egress_resolve_async (egress, host, timeout_ms, NULL, pk_test_store_result, &result);
  pk_test_wait_result (&result, WAIT_MS);
  return pk_egress_resolve_finish (egress, result, error);
}

/* pk_dns_resolve_async() itself, with no overall timeout: each try waits
 * @try_ms. */
static GList *
dns_resolve (PkEgress       *egress,
             Responder      *r,
             const char     *name,
             GSocketFamily   family,
             guint           try_ms,
             GError        **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GPtrArray) servers = NULL;
  g_autofree char *server = r != NULL ? responder_address (r) : NULL;

  servers = pk_dns_parse_nameservers ((const char *[]) { server, NULL }, error);
  g_assert_nonnull (servers);
  pk_dns_resolve_async (egress, servers, name, family, try_ms, NULL, pk_test_store_result, &result);
  pk_test_wait_result (&result, WAIT_MS);
  return pk_dns_resolve_finish (result, error);
}

static PkEgress *
egress_with (const char *address,
             Responder  *r1,
             Responder  *r2)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkEgress) egress = pk_egress_new_full (address, NULL, 0, 0, &error);
  g_autofree char *ns1 = responder_address (r1);
  g_autofree char *ns2 = r2 != NULL ? responder_address (r2) : NULL;
  const char *servers[] = { ns1, ns2, NULL };

  g_assert_no_error (error);
  g_assert_true (pk_egress_set_nameservers (egress, servers, &error));
  g_assert_no_error (error);
  return g_steal_pointer (&egress);
}

static void
assert_addresses (GList      *list,
                  const char *expected)
{
  g_autoptr(GString) got = g_string_new (NULL);

  for (GList *l = list; l != NULL; l = l->next)
    {
      g_autofree char *s = g_inet_address_to_string (l->data);
      if (got->len > 0)
        g_string_append_c (got, ' ');
      g_string_append (got, s);
    }
  g_assert_cmpstr (got->str, ==, expected);
}

/* --- tests: lookups --- */

static void
expect_addresses (PkEgress   *egress,
                  const char *host,
                  const char *expected)
{
  g_autoptr(GError) error = NULL;
  GList *list = egress_resolve (egress, host, 5000, &error);

  g_assert_no_error (error);
  assert_addresses (list, expected);
  g_list_free_full (list, g_object_unref);
}

static void
test_a_and_aaaa (void)
{
  g_autoptr(Responder) r = responder_new (answer_plain);
  g_autoptr(PkEgress) egress = egress_with (NULL, r, NULL);
  g_autoptr(GError) error = NULL;
  GList *list;

  list = egress_resolve (egress, "Host.Example.", 5000, &error);
  g_assert_no_error (error);
  /* IPv4 first */
  assert_addresses (list, "10.1.2.3 2001:db8::5");
  g_list_free_full (list, g_object_unref);
  g_assert_cmpuint (r->n_queries, ==, 2);
  g_assert_cmpuint (r->n_aaaa, ==, 1);
}

/* An egress with an IPv4 source asks only for A records, and from its
 * source address. */
static void
test_egress_family (void)
{
  g_autoptr(Responder) r = responder_new (answer_plain);
  g_autoptr(PkEgress) egress = egress_with ("127.0.0.4", r, NULL);
  g_autofree char *peer = NULL;

  expect_addresses (egress, "host.example", "10.1.2.3");
  g_assert_cmpuint (r->n_queries, ==, 1);
  g_assert_cmpuint (r->n_aaaa, ==, 0);
  peer = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (r->last_peer)));
  g_assert_cmpstr (peer, ==, "127.0.0.4");
}

/* host.example CNAME alias.example CNAME final.example A 10.0.0.9, all in
 * one compressed answer. */
static gsize
answer_cname_chain (Responder       *r,
                    const TestQuery *q,
                    guint8          *out)
{
  static const guint8 final[4] = { 10, 0, 0, 9 };
  static const guint8 decoy[4] = { 10, 6, 6, 6 };
  guint16 alias, fin;
  gsize off;

  if (q->qtype != PK_DNS_TYPE_A)
    return begin_answer (q, out, q->id, 0, 0);   /* no AAAA */

  off = begin_answer (q, out, q->id, 0, 4);
  off = add_cname (out, off, 12, "alias.example", &alias);
  /* A record of a name not on the chain: not ours */
  off = add_record (out, off, alias + 6, PK_DNS_TYPE_A, decoy, 4);
  off = add_cname (out, off, alias, "final.example", &fin);
  return add_record (out, off, fin, PK_DNS_TYPE_A, final, 4);
}

static void
test_cname_chain (void)
{
  g_autoptr(Responder) r = responder_new (answer_cname_chain);
  g_autoptr(PkEgress) egress = egress_with (NULL, r, NULL);

  expect_addresses (egress, "host.example", "10.0.0.9");
}

/* start.example has only a CNAME in its answer: the client asks again
 * for the target. */
static gsize
answer_cname_only (Responder       *r,
                   const TestQuery *q,
                   guint8          *out)
{
  guint16 target;
  gsize off;

  if (g_str_equal (q->name, "end.example"))
    return answer_plain (r, q, out);

  off = begin_answer (q, out, q->id, 0, 1);
  return add_cname (out, off, 12, "end.example", &target);
}

static void
test_cname_requery (void)
{
  g_autoptr(Responder) r = responder_new (answer_cname_only);
  g_autoptr(PkEgress) egress = egress_with (NULL, r, NULL);

  expect_addresses (egress, "start.example", "10.1.2.3 2001:db8::5");
  g_assert_cmpuint (r->n_queries, ==, 4);
  g_assert_cmpstr (r->names->pdata[3], ==, "end.example");
}

/* Before the real answer: one with another ID and one to another
 * question, both carrying a poisoned address. */
static gsize
answer_spoofed_first (Responder       *r,
                      const TestQuery *q,
                      guint8          *out)
{
  static const guint8 poison[4] = { 10, 6, 6, 6 };
  guint8 fake[600];
  gsize off;

  off = begin_answer (q, fake, q->id ^ 0x5a5a, 0, 1);
  off = add_record (fake, off, 12, PK_DNS_TYPE_A, poison, 4);
  responder_send (r, fake, off);

  off = begin_answer (q, fake, q->id, 0, 1);
  fake[13] = fake[13] == 'x' ? 'y' : 'x';   /* another name */
  off = add_record (fake, off, 12, PK_DNS_TYPE_A, poison, 4);
  responder_send (r, fake, off);

  /* garbage */
  responder_send (r, (const guint8 *) "\x12\x34", 2);

  return answer_plain (r, q, out);
}

static void
test_spoofed_answers_ignored (void)
{
  g_autoptr(Responder) r = responder_new (answer_spoofed_first);
  g_autoptr(PkEgress) egress = egress_with ("127.0.0.1", r, NULL);

  expect_addresses (egress, "host.example", "10.1.2.3");
  g_assert_cmpuint (r->n_queries, ==, 1);
}

static gsize
answer_after_a_drop (Responder       *r,
                     const TestQuery *q,
                     guint8          *out)
{
  /* The first query is lost */
  if (r->n_queries == 1)
    return 0;
  return answer_plain (r, q, out);
}

static void
test_retry_after_loss (void)
{
  g_autoptr(Responder) r = responder_new (answer_after_a_drop);
  g_autoptr(PkEgress) egress = egress_with ("127.0.0.1", r, NULL);
  g_autoptr(GError) error = NULL;
  GList *list;

  list = dns_resolve (egress, r, "host.example", G_SOCKET_FAMILY_IPV4, 100, &error);
  g_assert_no_error (error);
  assert_addresses (list, "10.1.2.3");
  g_list_free_full (list, g_object_unref);
  g_assert_cmpuint (r->n_queries, ==, 2);
}

static gsize
answer_servfail (Responder       *r,
                 const TestQuery *q,
                 guint8          *out)
{
  return begin_answer (q, out, q->id, PK_DNS_RCODE_SERVFAIL, 0);
}

static void
test_next_server_after_servfail (void)
{
  g_autoptr(Responder) bad = responder_new (answer_servfail);
  g_autoptr(Responder) good = responder_new (answer_plain);
  g_autoptr(PkEgress) egress = egress_with ("127.0.0.1", bad, good);

  expect_addresses (egress, "host.example", "10.1.2.3");
  g_assert_cmpuint (bad->n_queries, ==, 1);
  g_assert_cmpuint (good->n_queries, ==, 1);
}

static gsize
answer_nxdomain (Responder       *r,
                 const TestQuery *q,
                 guint8          *out)
{
  return begin_answer (q, out, q->id, PK_DNS_RCODE_NXDOMAIN, 0);
}

static void
test_nxdomain (void)
{
  g_autoptr(Responder) r = responder_new (answer_nxdomain);
  g_autoptr(PkEgress) egress = egress_with (NULL, r, NULL);
  g_autoptr(GError) error = NULL;
  GList *list;

  list = egress_resolve (egress, "nothing.example", 5000, &error);
  g_assert_null (list);
  g_assert_error (error, PK_ERROR, PK_ERROR_RESOLVE);
  g_assert_nonnull (strstr (error->message, "'nothing.example'"));
  g_assert_nonnull (strstr (error->message, "no such name"));
}

static gsize
answer_nothing (Responder       *r,
                const TestQuery *q,
                guint8          *out)
{
  return 0;
}

/* With no answer at all, the tries run out (each server twice) and the
 * error names the server; through an egress, its timeout ends it first. */
static void
test_no_answer (void)
{
  g_autoptr(Responder) r = responder_new (answer_nothing);
  g_autoptr(PkEgress) egress = egress_with ("127.0.0.1", r, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) timeout_error = NULL;
  g_autofree char *server = responder_address (r);
  GList *list;

  /* No nameserver at all */
  list = dns_resolve (egress, NULL, "x.example", G_SOCKET_FAMILY_IPV4, 50, &error);
  g_assert_null (list);
  g_assert_error (error, PK_ERROR, PK_ERROR_EGRESS);
  g_clear_error (&error);

  list = dns_resolve (egress, r, "x.example", G_SOCKET_FAMILY_IPV4, 50, &error);
  g_assert_null (list);
  g_assert_error (error, PK_ERROR, PK_ERROR_RESOLVE);
  g_assert_nonnull (strstr (error->message, server));
  g_assert_nonnull (strstr (error->message, "no answer"));
  g_assert_cmpuint (r->n_queries, ==, 2);

  list = egress_resolve (egress, "x.example", 300, &timeout_error);
  g_assert_null (list);
  g_assert_error (timeout_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
}

/* An egress that cannot make sockets (its interface is gone) fails as the
 * egress, not as the name. */
static void
test_egress_failure (void)
{
  g_autoptr(Responder) r = responder_new (answer_plain);
  g_autoptr(PkEgress) egress = egress_with (NULL, r, NULL);
  g_autoptr(GError) error = NULL;
  GList *list;

  pk_egress_set_interface (egress, "pknosuch0");
  list = egress_resolve (egress, "host.example", 5000, &error);
  g_assert_null (list);
  g_assert_error (error, PK_ERROR, PK_ERROR_EGRESS);
  g_assert_nonnull (strstr (error->message, "host.example"));
  g_assert_nonnull (strstr (error->message, "pknosuch0"));
  g_assert_cmpuint (r->n_queries, ==, 0);
}

static void
test_cancel (void)
{
  g_autoptr(Responder) r = responder_new (answer_nothing);
  g_autoptr(PkEgress) egress = egress_with (NULL, r, NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  pk_egress_resolve_async (egress, "x.example", 0, cancellable, pk_test_store_result, &result);
  g_cancellable_cancel (cancellable);
  pk_test_wait_result (&result, WAIT_MS);
  g_assert_null (pk_egress_resolve_finish (egress, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/* "localhost" is never asked (RFC 6761), and a malformed name neither. */
static void
test_no_query_needed (void)
{
  g_autoptr(Responder) r = responder_new (answer_plain);
  g_autoptr(PkEgress) egress = egress_with (NULL, r, NULL);
  g_autoptr(PkEgress) egress4 = egress_with ("127.0.0.1", r, NULL);
  g_autoptr(GError) error = NULL;
  GList *list;

  expect_addresses (egress, "localhost", "127.0.0.1 ::1");

  expect_addresses (egress4, "www.LOCALHOST", "127.0.0.1");

  list = egress_resolve (egress, "a..example", 5000, &error);
  g_assert_null (list);
  g_assert_error (error, PK_ERROR, PK_ERROR_RESOLVE);
  g_assert_nonnull (strstr (error->message, "not a valid DNS name"));

  /* IP literals never were */
  g_clear_error (&error);
  expect_addresses (egress, "10.9.8.7", "10.9.8.7");

  g_assert_cmpuint (r->n_queries, ==, 0);
}

static void
on_notify (GObject    *object,
           GParamSpec *pspec,
           gpointer    user_data)
{
  (*(guint *) user_data)++;
}

static void
test_nameservers_property (void)
{
  g_autoptr(PkEgress) egress = pk_egress_new ();
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) got = NULL;
  guint notified = 0;

  g_signal_connect (egress, "notify::nameservers", G_CALLBACK (on_notify), &notified);
  g_assert_null (pk_egress_get_nameservers (egress));

  g_assert_true (pk_egress_set_nameservers (egress, (const char *[]) { "192.168.8.1", "[fd00::1]:5353", NULL }, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (notified, ==, 1);
  g_assert_cmpstr (pk_egress_get_nameservers (egress)[1], ==, "[fd00::1]:5353");

  /* the same again: no change, no notify */
  g_assert_true (pk_egress_set_nameservers (egress, (const char *[]) { "192.168.8.1", "[fd00::1]:5353", NULL }, &error));
  g_assert_cmpuint (notified, ==, 1);

  g_object_get (egress, "nameservers", &got, NULL);
  g_assert_cmpuint (g_strv_length (got), ==, 2);

  g_assert_false (pk_egress_set_nameservers (egress, (const char *[]) { "192.168.8.1", "dns.example", NULL }, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "dns.example"));
  /* unchanged by the failure */
  g_assert_cmpstr (pk_egress_get_nameservers (egress)[0], ==, "192.168.8.1");

  g_assert_true (pk_egress_set_nameservers (egress, NULL, NULL));
  g_assert_null (pk_egress_get_nameservers (egress));
  g_assert_cmpuint (notified, ==, 2);
}

/* --- tests: the codec --- */

static void
test_encode_query (void)
{
  static const guint8 expected[] = {
    0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
    7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'o', 'r', 'g', 0,
    0, 28, 0, 1,
  };
  guint8 out[600];
  char name[300];
  gsize n;

  n = pk_dns_encode_query (out, sizeof out, 0xbeef, "example.org", PK_DNS_TYPE_AAAA);
  g_assert_cmpmem (out, n, expected, sizeof expected);
  n = pk_dns_encode_query (out, sizeof out, 0xbeef, "example.org.", PK_DNS_TYPE_AAAA);
  g_assert_cmpmem (out, n, expected, sizeof expected);
  for (gsize room = 0; room < sizeof expected; room++)
    g_assert_cmpuint (pk_dns_encode_query (out, room, 0xbeef, "example.org", PK_DNS_TYPE_AAAA), ==, 0);

  g_assert_cmpuint (pk_dns_encode_query (out, sizeof out, 1, "", 1), ==, 0);
  g_assert_cmpuint (pk_dns_encode_query (out, sizeof out, 1, ".", 1), ==, 0);
  g_assert_cmpuint (pk_dns_encode_query (out, sizeof out, 1, ".a", 1), ==, 0);
  g_assert_cmpuint (pk_dns_encode_query (out, sizeof out, 1, "a..b", 1), ==, 0);
  g_assert_cmpuint (pk_dns_encode_query (out, sizeof out, 1, "a..", 1), ==, 0);

  /* labels up to 63 bytes, names up to 253 characters */
  memset (name, 'a', 64);
  name[64] = '\0';
  g_assert_cmpuint (pk_dns_encode_query (out, sizeof out, 1, name, 1), ==, 0);
  name[63] = '\0';
  g_assert_cmpuint (pk_dns_encode_query (out, sizeof out, 1, name, 1), ==, 12 + 65 + 4);
  for (guint i = 0; i < 253; i++)
    name[i] = i % 2 ? '.' : 'b';
  name[253] = '\0';
  g_assert_cmpuint (pk_dns_encode_query (out, sizeof out, 1, name, 1), ==, 12 + 255 + 4);
  name[253] = 'b';
  name[254] = '\0';
  g_assert_cmpuint (pk_dns_encode_query (out, sizeof out, 1, name, 1), ==, 0);
}

/* A query for a.b turned into a response with the given answer bytes. */
static gsize
make_answer (guint8       *out,
             guint16       ancount,
             const guint8 *records,
             gsize         len)
{
  gsize n = pk_dns_encode_query (out, 600, 7, "a.b", PK_DNS_TYPE_A);

  out[2] |= 0x80;
  put16 (out + 6, ancount);
  if (len > 0)
    memcpy (out + n, records, len);
  return n + len;
}

static void
check_answer_error (const guint8 *records,
                    gsize         len,
                    guint16       ancount,
                    const char   *message)
{
  guint8 buf[600];
  gsize n = make_answer (buf, ancount, records, len);
  PkDnsAnswer answer;
  g_autoptr(GError) error = NULL;

  g_assert_false (pk_dns_parse_answer (buf, n, 7, "a.b", PK_DNS_TYPE_A, &answer, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_PROTOCOL);
  if (strstr (error->message, message) == NULL)
    g_error ("'%s' does not say '%s'", error->message, message);
  pk_dns_answer_clear (&answer);
}

static void
test_parse_answer (void)
{
  /* the question's name is at offset 12 */
  static const guint8 good[] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4 };
  static const guint8 self_pointer[] = { 0xc0, 29, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4 };
  static const guint8 forward_pointer[] = { 0xc0, 40, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4 };
  static const guint8 short_rdata[] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 5, 1, 2, 3, 4, 5 };
  static const guint8 past_end[] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 9, 1, 2, 3, 4 };
  static const guint8 dot_label[] = { 3, 'a', '.', 'b', 0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4 };
  static const guint8 label_type[] = { 0x40, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4 };
  static const guint8 cname_root[] = { 0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 1, 0 };
  guint8 buf[600];
  guint8 loop[600];
  gsize n, off;
  PkDnsAnswer answer;
  g_autoptr(GError) error = NULL;

  n = make_answer (buf, 1, good, sizeof good);
  g_assert_true (pk_dns_parse_answer (buf, n, 7, "A.B.", PK_DNS_TYPE_A, &answer, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (answer.addresses->len, ==, 1);
  g_assert_cmpuint (answer.ttl, ==, 60);
  g_assert_null (answer.cname);
  pk_dns_answer_clear (&answer);

  /* every truncation is an error, never a read past the end */
  for (gsize len = 0; len < n; len++)
    {
      g_clear_error (&error);
      g_assert_false (pk_dns_parse_answer (buf, len, 7, "a.b", PK_DNS_TYPE_A, &answer, &error));
      g_assert_error (error, PK_ERROR, PK_ERROR_PROTOCOL);
      pk_dns_answer_clear (&answer);
    }

  /* but a truncated answer (TC) keeps its whole records */
  buf[2] |= 0x02;
  put16 (buf + 6, 3);
  g_clear_error (&error);
  g_assert_true (pk_dns_parse_answer (buf, n, 7, "a.b", PK_DNS_TYPE_A, &answer, &error));
  g_assert_true (answer.truncated);
  g_assert_cmpuint (answer.addresses->len, ==, 1);
  pk_dns_answer_clear (&answer);

  /* other ID, other type, not a response */
  n = make_answer (buf, 1, good, sizeof good);
  g_clear_error (&error);
  g_assert_false (pk_dns_parse_answer (buf, n, 8, "a.b", PK_DNS_TYPE_A, &answer, &error));
  g_assert_nonnull (strstr (error->message, "ID 0x0007"));
  g_clear_error (&error);
  g_assert_false (pk_dns_parse_answer (buf, n, 7, "a.b", PK_DNS_TYPE_AAAA, &answer, &error));
  g_assert_nonnull (strstr (error->message, "question"));
  g_clear_error (&error);
  g_assert_false (pk_dns_parse_answer (buf, n, 7, "a.c", PK_DNS_TYPE_A, &answer, &error));
  buf[2] &= ~0x80;
  g_clear_error (&error);
  g_assert_false (pk_dns_parse_answer (buf, n, 7, "a.b", PK_DNS_TYPE_A, &answer, &error));
  g_assert_nonnull (strstr (error->message, "not a response"));

  check_answer_error (self_pointer, sizeof self_pointer, 1, "does not point backwards");
  check_answer_error (forward_pointer, sizeof forward_pointer, 1, "does not point backwards");
  check_answer_error (short_rdata, sizeof short_rdata, 1, "A record of 5 bytes");
  check_answer_error (past_end, sizeof past_end, 1, "truncated record data");
  check_answer_error (dot_label, sizeof dot_label, 1, "label contains a dot");
  check_answer_error (label_type, sizeof label_type, 1, "label type 0x40");
  /* found by fuzz-dns: the resolver would have asked for "" next */
  check_answer_error (cname_root, sizeof cname_root, 1, "CNAME to the root");

  /* a CNAME loop: a.b -> c -> a.b ... is cut after PK_DNS_MAX_CNAME_HOPS */
  n = make_answer (loop, 0, NULL, 0);
  off = n;
  put16 (loop + off, 0xc00c); put16 (loop + off + 2, 5); put16 (loop + off + 4, 1);
  put16 (loop + off + 6, 0); put16 (loop + off + 8, 60); put16 (loop + off + 10, 3);
  loop[off + 12] = 1; loop[off + 13] = 'c'; loop[off + 14] = 0;
  off += 15;
  put16 (loop + off, 0xc000 | (n + 12)); put16 (loop + off + 2, 5); put16 (loop + off + 4, 1);
  put16 (loop + off + 6, 0); put16 (loop + off + 8, 60); put16 (loop + off + 10, 2);
  put16 (loop + off + 12, 0xc00c);
  off += 14;
  put16 (loop + 6, 2);
  g_clear_error (&error);
  g_assert_false (pk_dns_parse_answer (loop, off, 7, "a.b", PK_DNS_TYPE_A, &answer, &error));
  g_assert_nonnull (strstr (error->message, "more than 8 CNAMEs"));

  /* an error RCODE without a question is an answer, not garbage */
  memset (buf, 0, 12);
  buf[1] = 7;
  buf[2] = 0x80;
  buf[3] = 0x01;   /* FORMERR */
  g_clear_error (&error);
  g_assert_true (pk_dns_parse_answer (buf, 12, 7, "a.b", PK_DNS_TYPE_A, &answer, &error));
  g_assert_cmpuint (answer.rcode, ==, 1);
  pk_dns_answer_clear (&answer);
}

int
main (int    argc,
      char **argv)
{
  pk_test_init (&argc, &argv);

  g_test_add_func ("/dns/encode-query", test_encode_query);
  g_test_add_func ("/dns/parse-answer", test_parse_answer);
  g_test_add_func ("/dns/nameservers-property", test_nameservers_property);
  g_test_add_func ("/dns/a-and-aaaa", test_a_and_aaaa);
  g_test_add_func ("/dns/egress-family", test_egress_family);
  g_test_add_func ("/dns/cname-chain", test_cname_chain);
  g_test_add_func ("/dns/cname-requery", test_cname_requery);
  g_test_add_func ("/dns/spoofed-answers-ignored", test_spoofed_answers_ignored);
  g_test_add_func ("/dns/retry-after-loss", test_retry_after_loss);
  g_test_add_func ("/dns/next-server-after-servfail", test_next_server_after_servfail);
  g_test_add_func ("/dns/nxdomain", test_nxdomain);
  g_test_add_func ("/dns/no-answer", test_no_answer);
  g_test_add_func ("/dns/egress-failure", test_egress_failure);
  g_test_add_func ("/dns/cancel", test_cancel);
  g_test_add_func ("/dns/no-query-needed", test_no_query_needed);

  return g_test_run ();
}
