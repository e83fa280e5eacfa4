/* pk-relay-udp.c: the UDP half of PkRelay
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* A session per client address, each with its own connected upstream
 * socket, so that replies can be told apart without any state in the
 * packets. Datagrams move in batches with recvmmsg/sendmmsg; replies
 * leave by the listening socket with the address the client sent to as
 * their source (IP_PKTINFO), so that a client of a relay listening on
 * all addresses of a multi-homed host sees its replies come from where it
 * sent.
 *
 * The listening socket and every session's socket sit in one epoll set
 * per rule, watched by a single GSource: a main context polling thousands
 * of session sockets itself would pay for each of them on every wakeup.
 *
 * Most of the cost of a datagram is the kernel's path through the stack,
 * not the system call. Where a batch holds several datagrams of one
 * session, runs of equal-size datagrams (the last may be shorter) leave as
 * one message with UDP generic segmentation offload (UDP_SEGMENT, Linux
 * 4.18): the kernel takes them through the stack once and cuts them into
 * the original datagrams at the device or at the receiving socket, so the
 * boundaries are kept exactly. A socket on which the kernel refuses it (a
 * device without checksum offload, say) goes back to one datagram per
 * message, and the refused batch is sent again that way. */

#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib-unix.h>

#include "pk-error.h"
#include "pk-relay-udp-private.h"
#include "pk-util-private.h"

#define UDP_BATCH 32
#define UDP_BUFSIZE 65536
/* Batches per wakeup, so that one busy socket cannot starve the rest. */
#define UDP_ROUNDS 8
#define UDP_CTRL_LEN (CMSG_SPACE (sizeof (struct in6_pktinfo)) + CMSG_SPACE (sizeof (struct in_pktinfo)))
/* The destination a client sent to, and a segment size (UDP_GRO). */
#define UDP_RECV_CTRL_LEN (UDP_CTRL_LEN + CMSG_SPACE (sizeof (int)))
/* The reply source plus a segment size. */
#define UDP_OUT_CTRL_LEN (UDP_CTRL_LEN + CMSG_SPACE (sizeof (guint16)))

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
/* Datagrams collected for one peer before they are sent. */
#define UDP_OUT_MAX 64
/* The kernel's limit on segments per message (UDP_MAX_SEGMENTS in
 * include/linux/udp.h, not exported to user space): 64 since Linux 4.18,
 * more in recent kernels. A batch holds fewer anyway. */
#define UDP_GSO_MAX_SEGMENTS 64
/* The payload of one IPv4 datagram at most: 65535 less the IP and UDP
 * headers. IPv6 allows 20 bytes more; one limit keeps it simple. */
#define UDP_GSO_MAX_BYTES (65535 - 20 - 8)
/* Segments must fit the path MTU, or the kernel refuses the message;
 * datagrams larger than a 1500-byte Ethernet frame leave one by one. */
#define UDP_GSO_MAX_SEGMENT_IPV4 (1500 - 20 - 8)
#define UDP_GSO_MAX_SEGMENT_IPV6 (1500 - 40 - 8)

/* -1: not decided yet (the PK_RELAY_UDP_GSO environment variable, then
 * what the kernel supports); a PkRelayUdpGso otherwise. */
static gint gso_default = -1;
/* Process-wide: datagrams sent inside segmented messages, [0] to
 * upstreams, [1] to clients; sockets on which the kernel refused it;
 * datagrams received coalesced (UDP_GRO), from clients and upstreams. */
static guint64 gso_datagrams[2];
static guint64 gso_refused;
static guint64 gro_datagrams[2];

typedef struct {
  guint16 family;
  guint16 port;
  guint32 scope;
  guint8 addr[16];
} UdpKey;

typedef struct {
  PkRelayUdp *udp;
  UdpKey key;
  struct sockaddr_storage client;
  socklen_t client_len;
  /* The source of replies, as a control message ready to send. */
  union {
    char buf[UDP_CTRL_LEN];
    size_t align;           /* CMSG_ALIGN's unit; struct cmsghdr has a flexible member */
  } ctrl;
  gsize ctrl_len;
  GSocket *upstream;
  gint64 last_active;
  gboolean gso;                 /* segmentation offload on upstream */
  guint gso_max_segment;
} UdpSession;

/* Datagrams on their way to one peer by one socket, and the counters
 * they go to. */
typedef struct {
  int fd;
  gboolean *gso;
  guint max_segment;
  gpointer name;
  socklen_t name_len;
  const char *ctrl;
  gsize ctrl_len;
  guint64 *datagrams;
  guint64 *bytes;
  guint direction;              /* 0: to upstream, 1: to a client */
  guint n;
} UdpOutbox;

struct _PkRelayUdp
{
  PkRelayListener *listener;    /* owns this */
  GHashTable *sessions;         /* UdpKey -> UdpSession */
  int epfd;
  GSource *sweep;
  gboolean pktinfo;
  gboolean gso;                 /* allowed for this rule */
  gboolean gso_no_check;        /* tests: make the kernel refuse it */
  gboolean gro;                 /* receive coalesced datagrams */
  gboolean listen_gso;          /* segmentation offload on the listening socket */
  guint listen_gso_max_segment;

  struct mmsghdr msgs[UDP_BATCH];
  struct iovec iov[UDP_BATCH];
  struct sockaddr_storage addrs[UDP_BATCH];
  union {
    char buf[UDP_RECV_CTRL_LEN];
    struct cmsghdr align;
  } ctrl[UDP_BATCH];
  UdpSession *batch[UDP_BATCH];
  /* Datagrams on their way out, all to one peer, and their messages:
   * message m carries datagrams out_first[m] .. + out_count[m]. */
  UdpOutbox outbox;
  struct iovec out_iov[UDP_OUT_MAX];
  struct mmsghdr out[UDP_OUT_MAX];
  guint out_first[UDP_OUT_MAX];
  guint out_count[UDP_OUT_MAX];
  union {
    char buf[UDP_OUT_CTRL_LEN];
    struct cmsghdr align;
  } out_ctrl[UDP_OUT_MAX];
  guint8 *buffers;
};

static guint
udp_key_hash (gconstpointer p)
{
  const UdpKey *k = p;
  guint h = k->port * 2654435761u ^ k->family;

  for (guint i = 0; i < sizeof k->addr; i += 4)
    {
      guint32 w;

      memcpy (&w, k->addr + i, 4);
      h = (h ^ w) * 16777619u;
    }
  return h ^ k->scope;
}

static gboolean
udp_key_equal (gconstpointer a,
               gconstpointer b)
{
  return memcmp (a, b, sizeof (UdpKey)) == 0;
}

static void
udp_key_from_sockaddr (UdpKey                        *key,
                       const struct sockaddr_storage *ss)
{
  memset (key, 0, sizeof *key);
  key->family = ss->ss_family;
  if (ss->ss_family == AF_INET)
    {
      const struct sockaddr_in *sin = (const struct sockaddr_in *) ss;

      key->port = sin->sin_port;
      memcpy (key->addr, &sin->sin_addr, 4);
    }
  else if (ss->ss_family == AF_INET6)
    {
      const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) ss;

      key->port = sin6->sin6_port;
      key->scope = sin6->sin6_scope_id;
      memcpy (key->addr, &sin6->sin6_addr, 16);
    }
}

/* Descriptors are one budget for the whole process. A UDP session holds
 * one (its upstream socket) for as long as its client may send, and
 * clients cost nothing to make: without a bound across rules, UDP clients
 * take every descriptor and TCP rules can accept nothing. UDP sessions of
 * all rules together may hold half of RLIMIT_NOFILE; TCP keeps the rest. */
static gint udp_session_fds;

static gboolean
udp_budget_take (void)
{
  guint64 budget = pk_fd_soft_limit () / 2;

  if ((guint64) g_atomic_int_add (&udp_session_fds, 1) >= budget)
    {
      g_atomic_int_add (&udp_session_fds, -1);
      return FALSE;
    }
  return TRUE;
}

static void
udp_budget_release (void)
{
  g_atomic_int_add (&udp_session_fds, -1);
}

/* Every session holds one unit of the budget. */
static void
udp_session_free (UdpSession *session)
{
  udp_budget_release ();
  if (session->upstream != NULL)
    {
      (void) epoll_ctl (session->udp->epfd, EPOLL_CTL_DEL, g_socket_get_fd (session->upstream), NULL);
      g_socket_close (session->upstream, NULL);
      g_object_unref (session->upstream);
    }
  g_free (session);
}

/* Fills udp->out with the messages of the outbox's datagrams
 * udp->out_iov[from .. o->n): with segmentation offload on, each run of
 * equal-size datagrams (the last may be shorter) is one message with a
 * UDP_SEGMENT control message, within the kernel's limits; other
 * datagrams are one message each. Returns the number of messages. */
static guint
build_messages (PkRelayUdp *udp,
                guint       from)
{
  const UdpOutbox *o = &udp->outbox;
  gboolean gso = *o->gso;
  guint max_segment = o->max_segment;
  const char *ctrl = o->ctrl;
  gsize ctrl_len = o->ctrl_len;
  guint n = o->n;
  guint m = 0;

  for (guint i = from; i < n; m++)
    {
      struct msghdr *h = &udp->out[m].msg_hdr;
      gsize size = udp->out_iov[i].iov_len;
      gsize total = size;
      guint j = i + 1;

      /* A zero-length datagram cannot be a segment: it would vanish. */
      if (gso && size > 0 && size <= max_segment)
        {
          while (j < n && j - i < UDP_GSO_MAX_SEGMENTS &&
                 udp->out_iov[j].iov_len == size && total + size <= UDP_GSO_MAX_BYTES)
            total += udp->out_iov[j++].iov_len;
          if (j < n && j - i < UDP_GSO_MAX_SEGMENTS &&
              udp->out_iov[j].iov_len > 0 && udp->out_iov[j].iov_len < size &&
              total + udp->out_iov[j].iov_len <= UDP_GSO_MAX_BYTES)
            total += udp->out_iov[j++].iov_len;
        }

      memset (h, 0, sizeof *h);
      h->msg_name = o->name;
      h->msg_namelen = o->name_len;
      h->msg_iov = &udp->out_iov[i];
      h->msg_iovlen = j - i;
      if (j - i > 1)
        {
          char *buf = udp->out_ctrl[m].buf;
          struct cmsghdr *c = (struct cmsghdr *) (buf + ctrl_len);
          guint16 segment = size;

          /* ctrl_len is a CMSG_SPACE: the next header is aligned. */
          if (ctrl_len > 0)
            memcpy (buf, ctrl, ctrl_len);
          c->cmsg_level = SOL_UDP;
          c->cmsg_type = UDP_SEGMENT;
          c->cmsg_len = CMSG_LEN (sizeof segment);
          memcpy (CMSG_DATA (c), &segment, sizeof segment);
          h->msg_control = buf;
          h->msg_controllen = ctrl_len + CMSG_SPACE (sizeof segment);
        }
      else if (ctrl_len > 0)
        {
          h->msg_control = (gpointer) ctrl;
          h->msg_controllen = ctrl_len;
        }
      udp->out_first[m] = i;
      udp->out_count[m] = j - i;
      i = j;
    }
  return m;
}

/* Sends the outbox's datagrams, all to one peer, counts them and empties
 * it. A datagram that fails (a full buffer, an ICMP error reported late)
 * is dropped and counted: UDP promises no more. When the kernel refuses
 * segmentation offload, *o->gso is cleared for good and the datagrams not
 * sent yet go again one by one. */
static void
outbox_flush (PkRelayUdp *udp)
{
  UdpOutbox *o = &udp->outbox;
  PkRelayListener *listener = udp->listener;
  guint n = o->n;
  guint from = 0;

  while (from < n)
    {
      guint m = build_messages (udp, from);
      guint sent = 0;

      from = n;
      while (sent < m)
        {
          int r = sendmmsg (o->fd, udp->out + sent, m - sent, MSG_DONTWAIT);

          if (r < 0)
            {
              int saved_errno = errno;

              if (saved_errno == EINTR)
                continue;
              if (udp->out_count[sent] > 1 &&
                  (saved_errno == EINVAL || saved_errno == EIO || saved_errno == ENOPROTOOPT))
                {
                  g_debug ("relay %s: UDP segmentation offload refused (%s), sending datagram by datagram",
                           listener->rule->name, g_strerror (saved_errno));
                  *o->gso = FALSE;
                  PK_RELAY_COUNT (gso_refused, 1);
                  from = udp->out_first[sent];
                  break;
                }
              /* The socket is full: the rest would fail too. */
              if (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK || saved_errno == ENOBUFS)
                {
                  listener->dropped += n - udp->out_first[sent];
                  o->n = 0;
                  return;
                }
              /* This message failed: skip it and go on with the rest. */
              listener->dropped += udp->out_count[sent];
              sent++;
              continue;
            }
          for (guint k = sent; k < sent + (guint) r; k++)
            {
              *o->datagrams += udp->out_count[k];
              *o->bytes += udp->out[k].msg_len;
              if (udp->out_count[k] > 1)
                PK_RELAY_COUNT (gso_datagrams[o->direction], udp->out_count[k]);
            }
          sent += r;
        }
    }
  o->n = 0;
}

/* The segment size of a message the kernel coalesced from several
 * datagrams (UDP_GRO), or 0. */
static gsize
gro_segment (struct msghdr *h)
{
  if (h->msg_controllen == 0)
    return 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR (h); c != NULL; c = CMSG_NXTHDR (h, c))
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO)
      {
        int segment;

        memcpy (&segment, CMSG_DATA (c), sizeof segment);
        return segment > 0 ? segment : 0;
      }
  return 0;
}

/* Queues the datagrams of one received message for udp->outbox: one, or
 * several of the message's segment size (the last may be shorter) when the
 * kernel coalesced them, so that each leaves as it came. */
static void
outbox_add (PkRelayUdp *udp,
            guint8     *data,
            gsize       len,
            gsize       segment)
{
  UdpOutbox *o = &udp->outbox;

  if (segment > 0 && segment < len)
    PK_RELAY_COUNT (gro_datagrams[o->direction], (len + segment - 1) / segment);
  else
    segment = len;
  do
    {
      gsize size = MIN (segment, len);

      if (o->n == UDP_OUT_MAX)
        outbox_flush (udp);
      udp->out_iov[o->n].iov_base = data;
      udp->out_iov[o->n].iov_len = size;
      o->n++;
      data += size;
      len -= size;
    }
  while (len > 0);
}

static void
prepare_recv (PkRelayUdp *udp,
              gboolean    with_name)
{
  for (guint i = 0; i < UDP_BATCH; i++)
    {
      struct msghdr *h = &udp->msgs[i].msg_hdr;

      udp->iov[i].iov_base = udp->buffers + (gsize) i * UDP_BUFSIZE;
      udp->iov[i].iov_len = UDP_BUFSIZE;
      memset (h, 0, sizeof *h);
      h->msg_iov = &udp->iov[i];
      h->msg_iovlen = 1;
      if (with_name)
        {
          h->msg_name = &udp->addrs[i];
          h->msg_namelen = sizeof udp->addrs[i];
        }
      if ((with_name && udp->pktinfo) || udp->gro)
        {
          h->msg_control = udp->ctrl[i].buf;
          h->msg_controllen = sizeof udp->ctrl[i].buf;
        }
    }
}

/* The reply source: the destination the client sent to, taken from its
 * datagram's IP_PKTINFO / IPV6_PKTINFO and turned around. */
static void
session_set_reply_source (UdpSession    *session,
                          struct msghdr *h)
{
  for (struct cmsghdr *c = CMSG_FIRSTHDR (h); c != NULL; c = CMSG_NXTHDR (h, c))
    {
      struct cmsghdr *out = (struct cmsghdr *) session->ctrl.buf;

      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO)
        {
          struct in_pktinfo in, reply = { 0 };

          memcpy (&in, CMSG_DATA (c), sizeof in);
          reply.ipi_spec_dst = in.ipi_addr;
          out->cmsg_level = IPPROTO_IP;
          out->cmsg_type = IP_PKTINFO;
          out->cmsg_len = CMSG_LEN (sizeof reply);
          memcpy (CMSG_DATA (out), &reply, sizeof reply);
          session->ctrl_len = CMSG_SPACE (sizeof reply);
          return;
        }
      if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO)
        {
          struct in6_pktinfo in, reply = { 0 };

          memcpy (&in, CMSG_DATA (c), sizeof in);
          reply.ipi6_addr = in.ipi6_addr;
          /* A link-local source only means something with its link. */
          if (IN6_IS_ADDR_LINKLOCAL (&in.ipi6_addr))
            reply.ipi6_ifindex = in.ipi6_ifindex;
          out->cmsg_level = IPPROTO_IPV6;
          out->cmsg_type = IPV6_PKTINFO;
          out->cmsg_len = CMSG_LEN (sizeof reply);
          memcpy (CMSG_DATA (out), &reply, sizeof reply);
          session->ctrl_len = CMSG_SPACE (sizeof reply);
          return;
        }
    }
}

/* Drops are counted always and logged at most once every few seconds,
 * with how many there were: a datagram that vanishes without a trace is
 * the hardest thing to debug. */
#define DROP_LOG_INTERVAL_US (10 * G_USEC_PER_SEC)

static void
log_drop (PkRelayListener *listener,
          const char      *why)
{
  guint64 count;

  if (pk_log_limit_due (&listener->drop_log, DROP_LOG_INTERVAL_US, &count))
    g_message ("relay %s: datagram dropped: %s (%" G_GUINT64_FORMAT " dropped since the last message)",
               listener->rule->name, why, count);
}

static void gso_prepare_socket (PkRelayUdp *udp, GSocket *socket);
static guint gso_max_segment (GSocket *socket);

/* Points the session at @upstream with a new socket, in place: sessions
 * are not freed while epoll events are handled. */
static gboolean
session_reconnect (UdpSession     *session,
                   GSocketAddress *upstream,
                   GError        **error)
{
  PkRelayUdp *udp = session->udp;
  g_autoptr(GSocket) socket = NULL;
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = session };

  socket = pk_egress_create_socket (udp->listener->egress, g_socket_address_get_family (upstream),
                                    G_SOCKET_TYPE_DATAGRAM, error);
  if (socket == NULL || !g_socket_connect (socket, upstream, NULL, error))
    return FALSE;
  if (epoll_ctl (udp->epfd, EPOLL_CTL_ADD, g_socket_get_fd (socket), &ev) < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "epoll: %s", g_strerror (errno));
      return FALSE;
    }
  (void) epoll_ctl (udp->epfd, EPOLL_CTL_DEL, g_socket_get_fd (session->upstream), NULL);
  g_object_unref (session->upstream);
  session->upstream = g_steal_pointer (&socket);
  gso_prepare_socket (udp, session->upstream);
  session->gso_max_segment = gso_max_segment (session->upstream);
  return TRUE;
}

/* The upstream answered port unreachable (an ICMP error for an earlier
 * datagram). A name with several addresses (localhost: ::1 and
 * 127.0.0.1) moves on to the next one, and the session with it: TRUE
 * when the session's socket changed (the old one is closed). */
static gboolean
session_refused (UdpSession *session)
{
  PkRelayListener *listener = session->udp->listener;
  PkSockaddr peer = { 0 };
  g_autofree char *from = NULL;
  g_autofree char *why = NULL;

  peer.len = sizeof peer.storage;
  if (getpeername (g_socket_get_fd (session->upstream), &peer.sa, &peer.len) < 0)
    return FALSE;
  from = pk_format_sockaddr (&peer);
  listener->dropped++;
  if (pk_relay_listener_next_upstream (listener, &peer))
    {
      g_autofree char *to = NULL;
      PkSockaddr next;
      g_autoptr(GSocketAddress) next_sa = pk_relay_listener_dup_upstream (listener);

      if (next_sa != NULL && pk_sockaddr_from_socket_address (&next, next_sa))
        to = pk_format_sockaddr (&next);
      g_autoptr(GError) error = NULL;

      g_message ("relay %s: upstream %s refused a datagram (port unreachable); trying %s",
                 listener->rule->name, from, to ? to : "the next address");
      if (next_sa != NULL && session_reconnect (session, next_sa, &error))
        return TRUE;
      if (error != NULL)
        g_message ("relay %s: %s: %s", listener->rule->name, to ? to : "next address", error->message);
      return FALSE;
    }
  why = g_strdup_printf ("upstream %s refused it (port unreachable)", from);
  log_drop (listener, why);
  return FALSE;
}

static void
session_upstream_ready (UdpSession *session)
{
  PkRelayUdp *udp = session->udp;
  PkRelayListener *listener = udp->listener;
  int fd = g_socket_get_fd (session->upstream);
  int lfd = g_socket_get_fd (listener->socket);

  for (guint round = 0; round < UDP_ROUNDS; round++)
    {
      int n;

      prepare_recv (udp, FALSE);
      n = recvmmsg (fd, udp->msgs, UDP_BATCH, MSG_DONTWAIT, NULL);
      if (n <= 0)
        {
          /* ECONNREFUSED: an ICMP error for an earlier datagram; the
           * session stays, as the upstream may come back, unless the
           * name has another address to try. */
          if (n < 0 && errno == ECONNREFUSED)
            {
              if (session_refused (session))
                return;
            }
          else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            g_debug ("relay %s: upstream receive: %s", listener->rule->name, g_strerror (errno));
          break;
        }

      udp->outbox = (UdpOutbox) {
        .fd = lfd,
        .gso = &udp->listen_gso,
        .max_segment = udp->listen_gso_max_segment,
        .name = &session->client,
        .name_len = session->client_len,
        .ctrl = session->ctrl_len > 0 ? session->ctrl.buf : NULL,
        .ctrl_len = session->ctrl_len,
        .datagrams = &listener->datagrams_out,
        .bytes = &listener->bytes_out,
        .direction = 1,
      };
      for (int i = 0; i < n; i++)
        outbox_add (udp, udp->iov[i].iov_base, udp->msgs[i].msg_len, gro_segment (&udp->msgs[i].msg_hdr));
      outbox_flush (udp);
      session->last_active = g_get_monotonic_time ();
      if (n < UDP_BATCH)
        break;
    }
}

/* Tests: IPv4 sockets sending without UDP checksums, on which the kernel
 * refuses segmentation offload with EINVAL. */
static void
gso_prepare_socket (PkRelayUdp *udp,
                    GSocket    *socket)
{
  int one = 1;

  if (udp->gso_no_check)
    (void) setsockopt (g_socket_get_fd (socket), SOL_SOCKET, SO_NO_CHECK, &one, sizeof one);
  /* Coalesced datagrams (Linux 5.0) are cut back apart before they leave:
   * the receive path is taken once for a run of them. Every message is
   * read with its control messages while the listening socket has it on;
   * a session socket without it just receives datagram by datagram. */
  if (udp->gro && setsockopt (g_socket_get_fd (socket), SOL_UDP, UDP_GRO, &one, sizeof one) < 0 &&
      socket == udp->listener->socket)
    udp->gro = FALSE;
}

static guint
gso_max_segment (GSocket *socket)
{
  return g_socket_get_family (socket) == G_SOCKET_FAMILY_IPV6
    ? UDP_GSO_MAX_SEGMENT_IPV6 : UDP_GSO_MAX_SEGMENT_IPV4;
}

static UdpSession *
session_new (PkRelayUdp                    *udp,
             const UdpKey                  *key,
             const struct sockaddr_storage *client,
             socklen_t                      client_len,
             struct msghdr                 *h)
{
  PkRelayListener *listener = udp->listener;
  PkRelayRule *rule = listener->rule;
  g_autoptr(GSocketAddress) peer = NULL;
  g_autoptr(GSocketAddress) upstream = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  UdpSession *session;

  peer = g_socket_address_new_from_native ((gpointer) client, client_len);
  if (peer == NULL || !pk_relay_rule_allows (rule, peer) ||
      (rule->max_sessions > 0 && g_hash_table_size (udp->sessions) >= rule->max_sessions))
    {
      listener->refused++;
      return NULL;
    }

  upstream = pk_relay_listener_dup_upstream (listener);
  if (upstream == NULL)
    {
      /* Not resolved yet: this datagram is lost, later ones will pass. */
      pk_relay_listener_resolve (listener);
      listener->dropped++;
      log_drop (listener, "the upstream name is not resolved (yet)");
      return NULL;
    }

  if (!udp_budget_take ())
    {
      listener->refused++;
      log_drop (listener, "UDP sessions hold half of the process's descriptors (RLIMIT_NOFILE)");
      return NULL;
    }
  socket = pk_egress_create_socket (listener->egress, g_socket_address_get_family (upstream),
                                    G_SOCKET_TYPE_DATAGRAM, &error);
  if (socket == NULL || !g_socket_connect (socket, upstream, NULL, &error))
    {
      g_autofree char *who = pk_format_socket_address (peer);

      udp_budget_release ();
      listener->failed++;
      listener->dropped++;
      g_message ("relay %s: session for %s: %s", rule->name, who, error->message);
      return NULL;
    }

  session = g_new0 (UdpSession, 1);
  session->udp = udp;
  session->key = *key;
  memcpy (&session->client, client, client_len);
  session->client_len = client_len;
  if (udp->pktinfo)
    session_set_reply_source (session, h);
  session->upstream = g_steal_pointer (&socket);
  session->last_active = g_get_monotonic_time ();
  session->gso = udp->gso;
  gso_prepare_socket (udp, session->upstream);
  session->gso_max_segment = gso_max_segment (session->upstream);
  {
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = session };

    if (epoll_ctl (udp->epfd, EPOLL_CTL_ADD, g_socket_get_fd (session->upstream), &ev) < 0)
      {
        g_message ("relay %s: epoll: %s", rule->name, g_strerror (errno));
        listener->dropped++;
        udp_session_free (session);
        return NULL;
      }
  }

  g_hash_table_insert (udp->sessions, &session->key, session);
  listener->connections++;
  if (g_log_get_debug_enabled ())
    {
      g_autofree char *who = pk_format_socket_address (peer);
      g_debug ("relay %s: new UDP session for %s", rule->name, who);
    }
  return session;
}

static void
listener_ready (PkRelayUdp *udp)
{
  PkRelayListener *listener = udp->listener;
  int fd = g_socket_get_fd (listener->socket);

  for (guint round = 0; round < UDP_ROUNDS && !listener->stopped; round++)
    {
      gint64 now;
      int n;

      prepare_recv (udp, TRUE);
      n = recvmmsg (fd, udp->msgs, UDP_BATCH, MSG_DONTWAIT, NULL);
      if (n <= 0)
        break;
      now = g_get_monotonic_time ();

      for (int i = 0; i < n; i++)
        {
          struct msghdr *h = &udp->msgs[i].msg_hdr;
          UdpSession *session;
          UdpKey key;

          udp_key_from_sockaddr (&key, &udp->addrs[i]);
          session = (i > 0 && udp->batch[i - 1] != NULL && udp_key_equal (&key, &udp->batch[i - 1]->key))
                      ? udp->batch[i - 1] : g_hash_table_lookup (udp->sessions, &key);
          if (session == NULL)
            session = session_new (udp, &key, &udp->addrs[i], h->msg_namelen, h);
          if (session != NULL)
            session->last_active = now;
          udp->batch[i] = session;
        }

      /* Each session's datagrams go out together, in the order they
       * came, in one sendmmsg: runs for segmentation offload are longer
       * when clients interleave. */
      for (int i = 0; i < n; i++)
        {
          UdpSession *session = udp->batch[i];

          if (session == NULL)
            continue;
          udp->outbox = (UdpOutbox) {
            .fd = g_socket_get_fd (session->upstream),
            .gso = &session->gso,
            .max_segment = session->gso_max_segment,
            .datagrams = &listener->datagrams_in,
            .bytes = &listener->bytes_in,
            .direction = 0,
          };
          for (int j = i; j < n; j++)
            if (udp->batch[j] == session)
              {
                outbox_add (udp, udp->iov[j].iov_base, udp->msgs[j].msg_len,
                            gro_segment (&udp->msgs[j].msg_hdr));
                if (j > i)
                  udp->batch[j] = NULL;
              }
          outbox_flush (udp);
        }

      if (n < UDP_BATCH)
        break;
    }
}

static gboolean
epoll_cb (int          fd,
          GIOCondition condition,
          gpointer     user_data)
{
  PkRelayUdp *udp = user_data;
  struct epoll_event events[64];

  /* While datagrams keep coming, keep going: a main loop iteration costs
   * more than a look at the epoll set. Bounded, so that the rest of the
   * main context gets its turn. */
  for (guint round = 0; round < UDP_ROUNDS; round++)
    {
      int n = epoll_wait (fd, events, G_N_ELEMENTS (events), 0);

      if (n <= 0)
        break;
      /* Sessions only go away in the sweep or a flush, never while these
       * events are handled. */
      for (int i = 0; i < n; i++)
        {
          if (events[i].data.ptr == NULL)
            listener_ready (udp);
          else
            session_upstream_ready (events[i].data.ptr);
        }
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
sweep_cb (gpointer user_data)
{
  PkRelayUdp *udp = user_data;
  PkRelayRule *rule = udp->listener->rule;
  gint64 limit = (gint64) (rule->idle_timeout_ms ? rule->idle_timeout_ms : 60000) * 1000;
  gint64 now = g_get_monotonic_time ();
  GHashTableIter iter;
  UdpSession *session;

  g_hash_table_iter_init (&iter, udp->sessions);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &session))
    if (now - session->last_active > limit)
      g_hash_table_iter_remove (&iter);

  /* Keep the outbound address fresh while sessions need it. */
  if (g_hash_table_size (udp->sessions) > 0)
    {
      GSocketAddress *upstream = pk_relay_listener_dup_upstream (udp->listener);
      g_clear_object (&upstream);
    }

  return G_SOURCE_CONTINUE;
}

static void
enable_pktinfo (PkRelayUdp *udp,
                GSocket    *socket)
{
  int fd = g_socket_get_fd (socket);
  int one = 1;

  if (g_socket_get_family (socket) == G_SOCKET_FAMILY_IPV6)
    {
      if (setsockopt (fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one) < 0)
        return;
      /* IPv4 clients of a dual-stack socket report IP_PKTINFO instead. */
      (void) setsockopt (fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
    }
  else if (setsockopt (fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) < 0)
    return;
  udp->pktinfo = TRUE;
}

/* Whether to use segmentation offload: PK_RELAY_UDP_GSO=0 turns it off;
 * the kernel must know UDP_SEGMENT (Linux 4.18), which an older one,
 * ignoring the control message, would send as one big datagram. */
static gboolean
gso_wanted (GSocket *socket)
{
  int zero = 0;

  if (g_atomic_int_get (&gso_default) < 0)
    {
      const char *env = g_getenv ("PK_RELAY_UDP_GSO");

      g_atomic_int_set (&gso_default, env != NULL && g_str_equal (env, "0")
                                        ? PK_RELAY_UDP_GSO_OFF : PK_RELAY_UDP_GSO_ON);
    }
  if (g_atomic_int_get (&gso_default) == PK_RELAY_UDP_GSO_OFF)
    return FALSE;
  return setsockopt (g_socket_get_fd (socket), SOL_UDP, UDP_SEGMENT, &zero, sizeof zero) == 0;
}

/* For tests: how UDP rules started from now on use segmentation offload,
 * overriding PK_RELAY_UDP_GSO. */
void
pk_relay_udp_set_gso (PkRelayUdpGso mode)
{
  g_atomic_int_set (&gso_default, mode);
}

/* For tests: datagrams sent inside segmented messages by all UDP rules of
 * the process, to upstreams and to clients, and the sockets on which the
 * kernel refused it. */
void
pk_relay_udp_get_gso_stats (guint64 *to_upstream,
                            guint64 *to_clients,
                            guint64 *refused)
{
  *to_upstream = PK_RELAY_LOAD (gso_datagrams[0]);
  *to_clients = PK_RELAY_LOAD (gso_datagrams[1]);
  *refused = PK_RELAY_LOAD (gso_refused);
}

/* For tests: datagrams received coalesced (UDP_GRO) by all UDP rules of
 * the process, from clients and from upstreams. */
void
pk_relay_udp_get_gro_stats (guint64 *from_clients,
                            guint64 *from_upstreams)
{
  *from_clients = PK_RELAY_LOAD (gro_datagrams[0]);
  *from_upstreams = PK_RELAY_LOAD (gro_datagrams[1]);
}

gboolean
pk_relay_udp_start (PkRelayListener  *listener,
                    GError          **error)
{
  PkRelayRule *rule = listener->rule;
  PkRelayUdp *udp;
  guint idle_ms = rule->idle_timeout_ms ? rule->idle_timeout_ms : 60000;
  int size = 4 << 20;

  listener->socket = pk_relay_listen_socket (rule, G_SOCKET_TYPE_DATAGRAM, error);
  if (listener->socket == NULL)
    return FALSE;

  /* Room for bursts: the default receive buffer holds a few hundred
   * datagrams. The kernel caps this at net.core.rmem_max. */
  (void) setsockopt (g_socket_get_fd (listener->socket), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);

  udp = g_new0 (PkRelayUdp, 1);
  udp->listener = listener;
  udp->sessions = g_hash_table_new_full (udp_key_hash, udp_key_equal, NULL,
                                         (GDestroyNotify) udp_session_free);
  udp->buffers = g_malloc ((gsize) UDP_BATCH * UDP_BUFSIZE);
  if (rule->listen_address == NULL)
    enable_pktinfo (udp, listener->socket);
  udp->gso = gso_wanted (listener->socket);
  udp->gso_no_check = udp->gso && g_atomic_int_get (&gso_default) == PK_RELAY_UDP_GSO_REFUSED;
  udp->gro = udp->gso;
  gso_prepare_socket (udp, listener->socket);
  udp->listen_gso = udp->gso;
  udp->listen_gso_max_segment = gso_max_segment (listener->socket);
  listener->udp = udp;
  listener->upstream_changed = pk_relay_udp_flush;

  udp->epfd = epoll_create1 (EPOLL_CLOEXEC);
  {
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

    if (udp->epfd < 0 ||
        epoll_ctl (udp->epfd, EPOLL_CTL_ADD, g_socket_get_fd (listener->socket), &ev) < 0)
      {
        int saved_errno = errno;

        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                     "relay %s: epoll: %s", rule->name, g_strerror (saved_errno));
        return FALSE;
      }
  }
  listener->source = g_unix_fd_source_new (udp->epfd, G_IO_IN);
  g_source_set_callback (listener->source, G_SOURCE_FUNC (epoll_cb), udp, NULL);
  g_source_set_static_name (listener->source, "[proxykit] relay udp");
  g_source_attach (listener->source, g_main_context_get_thread_default ());

  udp->sweep = g_timeout_source_new (CLAMP (idle_ms / 4, 50, 5000));
  g_source_set_callback (udp->sweep, sweep_cb, udp, NULL);
  g_source_set_static_name (udp->sweep, "[proxykit] relay udp sweep");
  g_source_attach (udp->sweep, g_main_context_get_thread_default ());
  return TRUE;
}

void
pk_relay_udp_stop (PkRelayListener *listener)
{
  PkRelayUdp *udp = listener->udp;

  if (udp == NULL)
    return;
  if (udp->sweep != NULL)
    {
      g_source_destroy (udp->sweep);
      g_source_unref (udp->sweep);
    }
  /* Sessions leave the epoll set before it closes. */
  g_hash_table_unref (udp->sessions);
  if (udp->epfd >= 0)
    close (udp->epfd);
  g_free (udp->buffers);
  g_free (udp);
  listener->udp = NULL;
}

guint
pk_relay_udp_get_n_sessions (PkRelayListener *listener)
{
  return listener->udp ? g_hash_table_size (listener->udp->sessions) : 0;
}

void
pk_relay_udp_flush (PkRelayListener *listener)
{
  if (listener->udp != NULL)
    g_hash_table_remove_all (listener->udp->sessions);
}
