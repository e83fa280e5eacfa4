/* pk-dns-private.h: the DNS message codec of the egress's stub resolver
 *
 * The system resolver sends its queries by the default route, to the
 * host's nameservers. A dongle's or a tunnel's traffic must not depend on
 * them (and a dongle's own DNS may answer only from its side), so an
 * egress with nameservers resolves with its own stub resolver instead
 * (pk_dns_resolve_async() in pk-egress-private.h: A and AAAA queries over
 * UDP to those nameservers, each from a socket of the egress, with random
 * IDs checked against the answer as well as the question and the
 * server's address, CNAME chains followed, a timeout per try and retries
 * over the nameservers).
 *
 * This codec is pure (no I/O, nothing from the egress) so that it can be
 * fuzzed, and so that the egress uses it without a cycle.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define PK_DNS_TYPE_A     1
#define PK_DNS_TYPE_CNAME 5
#define PK_DNS_TYPE_AAAA  28

#define PK_DNS_RCODE_NOERROR  0
#define PK_DNS_RCODE_SERVFAIL 2
#define PK_DNS_RCODE_NXDOMAIN 3

/* A plain UDP DNS message is at most 512 bytes without EDNS, which this
 * client does not offer. */
#define PK_DNS_MAX_UDP_MESSAGE 512

/* How many CNAMEs a chain may have before it is taken for a loop. */
#define PK_DNS_MAX_CNAME_HOPS 8

/* Writes a recursive query for @name (dotted, a trailing dot allowed);
 * returns its length, or 0 if @out_len is too small or @name is not a
 * valid DNS name (an empty label, a label over 63 bytes, over 255 in all). */
gsize     pk_dns_encode_query    (guint8       *out,
                                  gsize         out_len,
                                  guint16       id,
                                  const char   *name,
                                  guint16       qtype);

typedef struct {
  guint8 rcode;
  gboolean truncated;
  GPtrArray *addresses;   /* GInetAddress of @qtype for @qname, after CNAMEs */
  char *cname;            /* the chain's last name when it ends without an
                           * address of @qtype in this answer (ask again for
                           * it), else NULL */
  guint32 ttl;            /* the smallest TTL along the chain */
} PkDnsAnswer;

void      pk_dns_answer_clear    (PkDnsAnswer  *answer);

/* Parses an answer to the query (@id, @qname, @qtype). FALSE with
 * PK_ERROR_PROTOCOL if it is malformed or answers another query (ID,
 * question); a resolver then keeps waiting for the real answer. An error
 * RCODE is not a parse error: it is in answer->rcode. Names are compared
 * case-insensitively. Never reads past @len. */
gboolean  pk_dns_parse_answer    (const guint8  *buf,
                                  gsize          len,
                                  guint16        id,
                                  const char    *qname,
                                  guint16        qtype,
                                  PkDnsAnswer   *answer,
                                  GError       **error);

/* Parses "1.2.3.4", "1.2.3.4:5353", "::1", "[::1]:5353" into a list of
 * GInetSocketAddress (port 53 by default). */
GPtrArray *pk_dns_parse_nameservers (const char * const *nameservers,
                                     GError            **error);

/* "localhost" and names under it (RFC 6761), a trailing dot allowed,
 * in any case. */
gboolean  pk_dns_name_is_localhost (const char *name);

G_END_DECLS
