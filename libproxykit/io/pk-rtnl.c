/* pk-rtnl.c: IPv4 routes, rules and addresses through rtnetlink
 *
 * What `ip route`, `ip rule` and `ip addr` do, without running them: one
 * NETLINK_ROUTE socket per request, non-blocking, answered in the caller's
 * main context. Each request opens its socket in the calling thread, so
 * it acts in that thread's network namespace (the tests rely on it).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <arpa/inet.h>
#include <linux/fib_rules.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib-unix.h>

#include "pk-cancel-source-private.h"
#include "pk-rtnl-private.h"
#include "pk-util-private.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

#define RECV_BUFFER 65536

/* --- values --- */

void
pk_rtnl_route_free (PkRtnlRoute *route)
{
  if (route == NULL)
    return;
  g_free (route->dst);
  g_free (route->gateway);
  g_free (route->prefsrc);
  g_free (route);
}

void
pk_rtnl_rule_free (PkRtnlRule *rule)
{
  if (rule == NULL)
    return;
  g_free (rule->src);
  g_free (rule->dst);
  g_free (rule->iif);
  g_free (rule->oif);
  g_free (rule);
}

void
pk_rtnl_address_free (PkRtnlAddress *address)
{
  if (address == NULL)
    return;
  g_free (address->address);
  g_free (address->label);
  g_free (address);
}

void
pk_rtnl_snapshot_free (PkRtnlSnapshot *snapshot)
{
  if (snapshot == NULL)
    return;
  g_clear_pointer (&snapshot->routes, g_ptr_array_unref);
  g_clear_pointer (&snapshot->rules, g_ptr_array_unref);
  g_clear_pointer (&snapshot->addresses, g_ptr_array_unref);
  g_free (snapshot);
}


/* NLMSG_OK() without its signed/unsigned comparison (clang's
 * -Wsign-compare): @len is checked non-negative before the cast. */
static inline gboolean
nlmsg_ok (const struct nlmsghdr *h,
          int                    len)
{
  return len >= (int) sizeof (struct nlmsghdr) &&
         h->nlmsg_len >= sizeof (struct nlmsghdr) &&
         h->nlmsg_len <= (guint32) len;
}

static const char *
table_name (guint32 table,
            char    buf[16])
{
  switch (table)
    {
    case RT_TABLE_MAIN:
      return "main";
    case RT_TABLE_LOCAL:
      return "local";
    case RT_TABLE_DEFAULT:
      return "default";
    default:
      g_snprintf (buf, 16, "%u", table);
      return buf;
    }
}

char *
pk_rtnl_route_to_string (const PkRtnlRoute *route)
{
  GString *s = g_string_new (NULL);
  char name[IF_NAMESIZE] = "";
  char table[16];

  if (route->dst == NULL || route->dst_len == 0)
    g_string_append (s, "default");
  else
    g_string_append_printf (s, "%s/%u", route->dst, route->dst_len);
  if (route->gateway != NULL)
    g_string_append_printf (s, " via %s", route->gateway);
  if (route->oif > 0)
    {
      if (if_indextoname (route->oif, name) == NULL)
        g_snprintf (name, sizeof name, "if%d", route->oif);
      g_string_append_printf (s, " dev %s", name);
    }
  if (route->table != RT_TABLE_MAIN)
    g_string_append_printf (s, " table %s", table_name (route->table, table));
  if (route->metric != 0)
    g_string_append_printf (s, " metric %u", route->metric);
  return g_string_free (s, FALSE);
}

char *
pk_rtnl_rule_to_string (const PkRtnlRule *rule)
{
  GString *s = g_string_new (NULL);
  char table[16];

  if (rule->priority != 0)
    g_string_append_printf (s, "priority %u ", rule->priority);
  if (rule->src != NULL && rule->src_len == 32)
    g_string_append_printf (s, "from %s", rule->src);
  else if (rule->src != NULL)
    g_string_append_printf (s, "from %s/%u", rule->src, rule->src_len);
  else
    g_string_append (s, "from all");
  if (rule->dst != NULL)
    g_string_append_printf (s, " to %s/%u", rule->dst, rule->dst_len);
  if (rule->fwmark != 0)
    g_string_append_printf (s, " fwmark %u", rule->fwmark);
  if (rule->iif != NULL)
    g_string_append_printf (s, " iif %s", rule->iif);
  if (rule->oif != NULL)
    g_string_append_printf (s, " oif %s", rule->oif);
  g_string_append_printf (s, " lookup %s", table_name (rule->table, table));
  return g_string_free (s, FALSE);
}

/* --- messages --- */

static GByteArray *
msg_new (guint16      type,
         guint16      flags,
         const void  *body,
         gsize        body_len)
{
  GByteArray *m = g_byte_array_sized_new (256);
  struct nlmsghdr h = { 0 };
  static const guint8 zeros[4] = { 0 };

  h.nlmsg_type = type;
  h.nlmsg_flags = NLM_F_REQUEST | flags;
  g_byte_array_append (m, (const guint8 *) &h, sizeof h);
  g_byte_array_append (m, body, body_len);
  g_byte_array_append (m, zeros, NLMSG_ALIGN (m->len) - m->len);
  return m;
}

static void
msg_put_attr (GByteArray *m,
              guint16     type,
              const void *data,
              gsize       len)
{
  struct rtattr a = { .rta_len = RTA_LENGTH (len), .rta_type = type };
  static const guint8 zeros[4] = { 0 };

  g_byte_array_append (m, (const guint8 *) &a, sizeof a);
  g_byte_array_append (m, data, len);
  g_byte_array_append (m, zeros, RTA_ALIGN (m->len) - m->len);
}

static void
msg_put_u32 (GByteArray *m,
             guint16     type,
             guint32     value)
{
  msg_put_attr (m, type, &value, sizeof value);
}

static gboolean
msg_put_ipv4 (GByteArray  *m,
              guint16      type,
              const char  *address,
              GError     **error)
{
  struct in_addr in;

  if (inet_pton (AF_INET, address, &in) != 1)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "'%s' is not an IPv4 address", address);
      return FALSE;
    }
  msg_put_attr (m, type, &in, sizeof in);
  return TRUE;
}

static char *
ipv4_to_string (const void *data,
                gsize       len)
{
  char buf[INET_ADDRSTRLEN];

  if (len != 4 || inet_ntop (AF_INET, data, buf, sizeof buf) == NULL)
    return NULL;
  return g_strdup (buf);
}

static guint32
attr_u32 (const struct rtattr *a)
{
  guint32 v = 0;

  if (RTA_PAYLOAD (a) >= sizeof v)
    memcpy (&v, RTA_DATA (a), sizeof v);
  return v;
}

static PkRtnlRoute *
parse_route (const struct nlmsghdr *h)
{
  const struct rtmsg *rtm = NLMSG_DATA (h);
  int len = RTM_PAYLOAD (h);
  PkRtnlRoute *r;

  if (h->nlmsg_len < NLMSG_LENGTH (sizeof *rtm) || rtm->rtm_family != AF_INET)
    return NULL;
  r = g_new0 (PkRtnlRoute, 1);
  r->table = rtm->rtm_table;
  r->dst_len = rtm->rtm_dst_len;
  r->protocol = rtm->rtm_protocol;
  r->scope = rtm->rtm_scope;
  r->type = rtm->rtm_type;
  for (const struct rtattr *a = RTM_RTA (rtm); RTA_OK (a, len); a = RTA_NEXT (a, len))
    switch (a->rta_type)
      {
      case RTA_TABLE:
        r->table = attr_u32 (a);
        break;
      case RTA_DST:
        r->dst = ipv4_to_string (RTA_DATA (a), RTA_PAYLOAD (a));
        break;
      case RTA_GATEWAY:
        r->gateway = ipv4_to_string (RTA_DATA (a), RTA_PAYLOAD (a));
        break;
      case RTA_PREFSRC:
        r->prefsrc = ipv4_to_string (RTA_DATA (a), RTA_PAYLOAD (a));
        break;
      case RTA_OIF:
        r->oif = (int) attr_u32 (a);
        break;
      case RTA_PRIORITY:
        r->metric = attr_u32 (a);
        break;
      default:
        break;
      }
  return r;
}

static PkRtnlRule *
parse_rule (const struct nlmsghdr *h)
{
  const struct fib_rule_hdr *frh = NLMSG_DATA (h);
  int len = (int) h->nlmsg_len - (int) NLMSG_LENGTH (sizeof *frh);
  PkRtnlRule *r;

  if (len < 0 || frh->family != AF_INET)
    return NULL;
  r = g_new0 (PkRtnlRule, 1);
  r->table = frh->table;
  r->action = frh->action;
  r->src_len = frh->src_len;
  r->dst_len = frh->dst_len;
  for (const struct rtattr *a = (const struct rtattr *) ((const char *) frh + NLMSG_ALIGN (sizeof *frh));
       RTA_OK (a, len); a = RTA_NEXT (a, len))
    switch (a->rta_type)
      {
      case FRA_TABLE:
        r->table = attr_u32 (a);
        break;
      case FRA_PRIORITY:
        r->priority = attr_u32 (a);
        break;
      case FRA_SRC:
        r->src = ipv4_to_string (RTA_DATA (a), RTA_PAYLOAD (a));
        break;
      case FRA_DST:
        r->dst = ipv4_to_string (RTA_DATA (a), RTA_PAYLOAD (a));
        break;
      case FRA_FWMARK:
        r->fwmark = attr_u32 (a);
        break;
      case FRA_IIFNAME:
        r->iif = g_strndup (RTA_DATA (a), RTA_PAYLOAD (a));
        break;
      case FRA_OIFNAME:
        r->oif = g_strndup (RTA_DATA (a), RTA_PAYLOAD (a));
        break;
      default:
        break;
      }
  return r;
}

static PkRtnlAddress *
parse_address (const struct nlmsghdr *h)
{
  const struct ifaddrmsg *ifa = NLMSG_DATA (h);
  int len = IFA_PAYLOAD (h);
  g_autofree char *local = NULL;
  g_autofree char *address = NULL;
  PkRtnlAddress *r;

  if (h->nlmsg_len < NLMSG_LENGTH (sizeof *ifa) || ifa->ifa_family != AF_INET)
    return NULL;
  r = g_new0 (PkRtnlAddress, 1);
  r->ifindex = (int) ifa->ifa_index;
  r->prefixlen = ifa->ifa_prefixlen;
  for (const struct rtattr *a = IFA_RTA (ifa); RTA_OK (a, len); a = RTA_NEXT (a, len))
    switch (a->rta_type)
      {
      case IFA_LOCAL:
        g_free (local);
        local = ipv4_to_string (RTA_DATA (a), RTA_PAYLOAD (a));
        break;
      case IFA_ADDRESS:
        g_free (address);
        address = ipv4_to_string (RTA_DATA (a), RTA_PAYLOAD (a));
        break;
      case IFA_LABEL:
        r->label = g_strndup (RTA_DATA (a), RTA_PAYLOAD (a));
        break;
      default:
        break;
      }
  /* On a point-to-point link IFA_ADDRESS is the peer; IFA_LOCAL is ours. */
  r->address = local != NULL ? g_steal_pointer (&local) : g_steal_pointer (&address);
  if (r->address == NULL)
    {
      pk_rtnl_address_free (r);
      return NULL;
    }
  return r;
}

/* --- requests --- */

typedef struct {
  int fd;
  guint32 seq;
  GSource *io;
  GSource *cancel;
  GPtrArray *replies;   /* GBytes, one per message */
  char *what;
} Request;

static void
request_free (Request *r)
{
  if (r->io != NULL)
    {
      g_source_destroy (r->io);
      g_source_unref (r->io);
    }
  pk_cancel_source_destroy (&r->cancel);
  if (r->fd >= 0)
    close (r->fd);
  g_ptr_array_unref (r->replies);
  g_free (r->what);
  g_free (r);
}

/* Ends the request: the sources go first, so nothing fires after. */
static void
request_done (GTask  *task,
              GError *error)
{
  Request *r = g_task_get_task_data (task);

  if (r->io != NULL)
    {
      g_source_destroy (r->io);
      g_clear_pointer (&r->io, g_source_unref);
    }
  pk_cancel_source_destroy (&r->cancel);
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, g_ptr_array_ref (r->replies), (GDestroyNotify) g_ptr_array_unref);
  g_object_unref (task);
}

static GError *
error_from_ack (Request               *r,
                const struct nlmsghdr *h)
{
  const struct nlmsgerr *err = NLMSG_DATA (h);
  int code = -err->error;
  const char *detail = NULL;

  if (h->nlmsg_flags & NLM_F_ACK_TLVS)
    {
      gsize offset = sizeof *err;
      int len;

      if (!(h->nlmsg_flags & NLM_F_CAPPED))
        offset += err->msg.nlmsg_len - sizeof (struct nlmsghdr);
      len = (int) h->nlmsg_len - (int) NLMSG_LENGTH (offset);
      for (const struct rtattr *a = (const struct rtattr *) ((const char *) err + NLMSG_ALIGN (offset));
           len > 0 && RTA_OK (a, len); a = RTA_NEXT (a, len))
        if (a->rta_type == NLMSGERR_ATTR_MSG && RTA_PAYLOAD (a) > 1)
          detail = RTA_DATA (a);
    }
  return g_error_new (G_IO_ERROR, g_io_error_from_errno (code), "%s: %s%s%s", r->what,
                      g_strerror (code), detail ? " (" : "", detail ? detail : "");
}

static gboolean
request_readable (int          fd,
                  GIOCondition condition,
                  gpointer     user_data)
{
  GTask *task = user_data;
  Request *r = g_task_get_task_data (task);
  g_autofree guint8 *buf = g_malloc (RECV_BUFFER);

  for (;;)
    {
      gssize n = recv (fd, buf, RECV_BUFFER, MSG_DONTWAIT);
      int len;

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return G_SOURCE_CONTINUE;
      if (n <= 0)
        {
          int saved = n < 0 ? errno : ECONNRESET;
          request_done (task, g_error_new (G_IO_ERROR, g_io_error_from_errno (saved),
                                           "%s: rtnetlink: %s", r->what, g_strerror (saved)));
          return G_SOURCE_REMOVE;
        }
      len = (int) n;
      for (const struct nlmsghdr *h = (const struct nlmsghdr *) buf; nlmsg_ok (h, len); h = NLMSG_NEXT (h, len))
        {
          if (h->nlmsg_seq != r->seq)
            continue;
          if (h->nlmsg_type == NLMSG_DONE)
            {
              request_done (task, NULL);
              return G_SOURCE_REMOVE;
            }
          if (h->nlmsg_type == NLMSG_ERROR)
            {
              const struct nlmsgerr *err = NLMSG_DATA (h);

              request_done (task, err->error == 0 ? NULL : error_from_ack (r, h));
              return G_SOURCE_REMOVE;
            }
          g_ptr_array_add (r->replies, g_bytes_new (h, h->nlmsg_len));
        }
    }
}

static gboolean
request_cancelled (gpointer user_data)
{
  GTask *task = user_data;
  GError *error = NULL;

  g_cancellable_set_error_if_cancelled (g_task_get_cancellable (task), &error);
  request_done (task, error);
  return G_SOURCE_REMOVE;
}

static guint32
next_seq (void)
{
  static gint seq;

  return (guint32) g_atomic_int_add (&seq, 1) + 1;
}

/* Sends @msg (taken) and collects the replies with its sequence number
 * until NLMSG_DONE or an acknowledgement. */
static void
request_async (GByteArray          *msg,
               const char          *what,
               gpointer             source_tag,
               GCancellable        *cancellable,
               GAsyncReadyCallback  callback,
               gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  Request *r = g_new0 (Request, 1);
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  int one = 1;

  g_task_set_source_tag (task, source_tag);
  r->replies = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  r->what = g_strdup (what);
  r->seq = next_seq ();
  g_task_set_task_data (task, r, (GDestroyNotify) request_free);
  ((struct nlmsghdr *) msg->data)->nlmsg_len = msg->len;
  ((struct nlmsghdr *) msg->data)->nlmsg_seq = r->seq;

  if (g_task_return_error_if_cancelled (task))
    {
      g_byte_array_unref (msg);
      g_object_unref (task);
      return;
    }
  r->fd = socket (AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (r->fd < 0 || sendto (r->fd, msg->data, msg->len, 0, (struct sockaddr *) &kernel, sizeof kernel) < 0)
    {
      int saved = errno;
      g_byte_array_unref (msg);
      g_task_return_new_error (task, G_IO_ERROR, g_io_error_from_errno (saved), "%s: rtnetlink: %s",
                               what, g_strerror (saved));
      g_object_unref (task);
      return;
    }
  g_byte_array_unref (msg);
  /* The kernel's own words on a refusal, and no copy of our request in it. */
  setsockopt (r->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  setsockopt (r->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);

  r->io = g_unix_fd_source_new (r->fd, G_IO_IN | G_IO_ERR | G_IO_HUP);
  g_source_set_callback (r->io, G_SOURCE_FUNC (request_readable), task, NULL);
  g_source_attach (r->io, g_task_get_context (task));
  if (cancellable != NULL)
    {
      r->cancel = pk_cancel_source_new (cancellable);
      g_source_set_callback (r->cancel, request_cancelled, task, NULL);
      g_source_attach (r->cancel, g_task_get_context (task));
    }
}

/* --- snapshot --- */

typedef struct {
  PkRtnlSnapshot *snapshot;
  guint step;
} Snapshot;

static void
snapshot_data_free (Snapshot *s)
{
  pk_rtnl_snapshot_free (s->snapshot);
  g_free (s);
}

static void snapshot_next (GTask *task);

static void
on_dump (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  GTask *task = user_data;
  Snapshot *s = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr(GPtrArray) replies = g_task_propagate_pointer (G_TASK (result), &error);

  if (replies == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  for (guint i = 0; i < replies->len; i++)
    {
      const struct nlmsghdr *h = g_bytes_get_data (g_ptr_array_index (replies, i), NULL);
      gpointer item = NULL;

      switch (h->nlmsg_type)
        {
        case RTM_NEWROUTE:
          if ((item = parse_route (h)) != NULL)
            g_ptr_array_add (s->snapshot->routes, item);
          break;
        case RTM_NEWRULE:
          if ((item = parse_rule (h)) != NULL)
            g_ptr_array_add (s->snapshot->rules, item);
          break;
        case RTM_NEWADDR:
          if ((item = parse_address (h)) != NULL)
            g_ptr_array_add (s->snapshot->addresses, item);
          break;
        default:
          break;
        }
    }
  snapshot_next (task);
}

static void
snapshot_next (GTask *task)
{
  Snapshot *s = g_task_get_task_data (task);
  GByteArray *msg;

  switch (s->step++)
    {
    case 0:
      {
        struct rtmsg rtm = { .rtm_family = AF_INET };
        msg = msg_new (RTM_GETROUTE, NLM_F_DUMP, &rtm, sizeof rtm);
        request_async (msg, "list routes", pk_rtnl_snapshot_async, g_task_get_cancellable (task), on_dump, task);
      }
      return;
    case 1:
      {
        struct fib_rule_hdr frh = { .family = AF_INET };
        msg = msg_new (RTM_GETRULE, NLM_F_DUMP, &frh, sizeof frh);
        request_async (msg, "list rules", pk_rtnl_snapshot_async, g_task_get_cancellable (task), on_dump, task);
      }
      return;
    case 2:
      {
        struct ifaddrmsg ifa = { .ifa_family = AF_INET };
        msg = msg_new (RTM_GETADDR, NLM_F_DUMP, &ifa, sizeof ifa);
        request_async (msg, "list addresses", pk_rtnl_snapshot_async, g_task_get_cancellable (task), on_dump, task);
      }
      return;
    default:
      g_task_return_pointer (task, g_steal_pointer (&s->snapshot), (GDestroyNotify) pk_rtnl_snapshot_free);
      g_object_unref (task);
      return;
    }
}

void
pk_rtnl_snapshot_async (GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  Snapshot *s = g_new0 (Snapshot, 1);

  g_task_set_source_tag (task, pk_rtnl_snapshot_async);
  s->snapshot = g_new0 (PkRtnlSnapshot, 1);
  s->snapshot->routes = g_ptr_array_new_with_free_func ((GDestroyNotify) pk_rtnl_route_free);
  s->snapshot->rules = g_ptr_array_new_with_free_func ((GDestroyNotify) pk_rtnl_rule_free);
  s->snapshot->addresses = g_ptr_array_new_with_free_func ((GDestroyNotify) pk_rtnl_address_free);
  g_task_set_task_data (task, s, (GDestroyNotify) snapshot_data_free);
  snapshot_next (task);
}

PkRtnlSnapshot *
pk_rtnl_snapshot_finish (GAsyncResult  *result,
                         GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* --- changes --- */

static guint16
op_flags (PkRtnlOp op)
{
  switch (op)
    {
    case PK_RTNL_ADD:
      return NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    case PK_RTNL_REPLACE:
      return NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
    case PK_RTNL_DELETE:
    default:
      return NLM_F_ACK;
    }
}

static const char *
op_verb (PkRtnlOp op)
{
  return op == PK_RTNL_ADD ? "add" : op == PK_RTNL_REPLACE ? "replace" : "delete";
}

static void
on_change (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  GTask *task = user_data;
  GError *error = NULL;
  g_autoptr(GPtrArray) replies = g_task_propagate_pointer (G_TASK (result), &error);

  if (replies == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

void
pk_rtnl_change_route_async (PkRtnlOp             op,
                            const PkRtnlRoute   *route,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  g_autofree char *text = pk_rtnl_route_to_string (route);
  g_autofree char *what = g_strdup_printf ("route %s %s", op_verb (op), text);
  struct rtmsg rtm = { 0 };
  GByteArray *msg;
  GError *error = NULL;

  g_task_set_source_tag (task, pk_rtnl_change_route_async);
  rtm.rtm_family = AF_INET;
  rtm.rtm_dst_len = route->dst ? route->dst_len : 0;
  rtm.rtm_table = route->table < 256 ? route->table : RT_TABLE_UNSPEC;
  rtm.rtm_protocol = op == PK_RTNL_DELETE ? 0 : (route->protocol ? route->protocol : RTPROT_STATIC);
  rtm.rtm_scope = op == PK_RTNL_DELETE ? RT_SCOPE_NOWHERE
                                       : (route->gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
  rtm.rtm_type = RTN_UNICAST;
  msg = msg_new (op == PK_RTNL_DELETE ? RTM_DELROUTE : RTM_NEWROUTE, op_flags (op), &rtm, sizeof rtm);
  msg_put_u32 (msg, RTA_TABLE, route->table);
  if ((route->dst != NULL && route->dst_len > 0 && !msg_put_ipv4 (msg, RTA_DST, route->dst, &error)) ||
      (route->gateway != NULL && !msg_put_ipv4 (msg, RTA_GATEWAY, route->gateway, &error)) ||
      (route->prefsrc != NULL && !msg_put_ipv4 (msg, RTA_PREFSRC, route->prefsrc, &error)))
    {
      g_byte_array_unref (msg);
      g_prefix_error (&error, "%s: ", what);
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  if (route->oif > 0)
    msg_put_u32 (msg, RTA_OIF, (guint32) route->oif);
  msg_put_u32 (msg, RTA_PRIORITY, route->metric);
  request_async (msg, what, pk_rtnl_change_route_async, cancellable, on_change, task);
}

void
pk_rtnl_change_rule_async (PkRtnlOp             op,
                           const PkRtnlRule    *rule,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  g_autofree char *text = pk_rtnl_rule_to_string (rule);
  g_autofree char *what = g_strdup_printf ("rule %s %s", op_verb (op), text);
  struct fib_rule_hdr frh = { 0 };
  GByteArray *msg;
  GError *error = NULL;

  g_task_set_source_tag (task, pk_rtnl_change_rule_async);
  frh.family = AF_INET;
  frh.src_len = rule->src ? rule->src_len : 0;
  frh.table = rule->table < 256 ? rule->table : RT_TABLE_UNSPEC;
  frh.action = FR_ACT_TO_TBL;
  msg = msg_new (op == PK_RTNL_DELETE ? RTM_DELRULE : RTM_NEWRULE,
                 op == PK_RTNL_DELETE ? NLM_F_ACK : NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &frh, sizeof frh);
  msg_put_u32 (msg, FRA_TABLE, rule->table);
  if (rule->priority != 0)
    msg_put_u32 (msg, FRA_PRIORITY, rule->priority);
  if (rule->src != NULL && !msg_put_ipv4 (msg, FRA_SRC, rule->src, &error))
    {
      g_byte_array_unref (msg);
      g_prefix_error (&error, "%s: ", what);
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  request_async (msg, what, pk_rtnl_change_rule_async, cancellable, on_change, task);
}

gboolean
pk_rtnl_change_finish (GAsyncResult  *result,
                       GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* --- watching links and addresses --- */

/* A socket subscribed to @groups, or -1 with errno set. */
static int
subscribe (guint32 groups)
{
  struct sockaddr_nl local = { .nl_family = AF_NETLINK, .nl_groups = groups };
  int fd = socket (AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);

  if (fd >= 0 && bind (fd, (struct sockaddr *) &local, sizeof local) < 0)
    {
      int saved = errno;
      close (fd);
      errno = saved;
      return -1;
    }
  return fd;
}

/* The next queued datagram of a subscribed socket, or 0 when none is
 * left; sets *overrun when the kernel dropped some (ENOBUFS). */
static gssize
recv_queued (int       fd,
             void     *buf,
             gsize     size,
             gboolean *overrun)
{
  for (;;)
    {
      gssize n = recv (fd, buf, size, MSG_DONTWAIT);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == ENOBUFS)
        {
          *overrun = TRUE;
          continue;
        }
      return MAX (n, 0);
    }
}

struct _PkRtnlWatch
{
  int fd;
  GSource *source;
  GSourceFunc changed;
  gpointer user_data;
};

static gboolean
watch_readable (int          fd,
                GIOCondition condition,
                gpointer     user_data)
{
  PkRtnlWatch *watch = user_data;
  guint8 buf[8192];
  gboolean any = FALSE;

  /* Drain everything queued, then say it once: a dongle coming up is a
   * burst of link and address messages. An overrun means we missed some,
   * which is a change as well. */
  while (recv_queued (fd, buf, sizeof buf, &any) > 0)
    any = TRUE;
  if (any)
    watch->changed (watch->user_data);
  return G_SOURCE_CONTINUE;
}

PkRtnlWatch *
pk_rtnl_watch_new (GSourceFunc   changed,
                   gpointer      user_data,
                   GError      **error)
{
  PkRtnlWatch *watch;
  int fd;

  fd = subscribe (RTMGRP_LINK | RTMGRP_IPV4_IFADDR);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot watch links and addresses (rtnetlink): %s", g_strerror (saved));
      return NULL;
    }
  watch = g_new0 (PkRtnlWatch, 1);
  watch->fd = fd;
  watch->changed = changed;
  watch->user_data = user_data;
  watch->source = g_unix_fd_source_new (fd, G_IO_IN | G_IO_ERR);
  g_source_set_callback (watch->source, G_SOURCE_FUNC (watch_readable), watch, NULL);
  g_source_attach (watch->source, g_main_context_get_thread_default ());
  return watch;
}

void
pk_rtnl_watch_free (PkRtnlWatch *watch)
{
  if (watch == NULL)
    return;
  g_source_destroy (watch->source);
  g_source_unref (watch->source);
  close (watch->fd);
  g_free (watch);
}

/* --- the host's own addresses --- */

typedef struct {
  int ifindex;
  int family;
  guint8 bytes[16];
} HostAddress;

struct _PkRtnlHostAddresses
{
  gatomicrefcount ref;
  GMutex lock;
  int fd;
  guint32 dump_seq;
  gboolean dumping;
  GArray *entries;      /* HostAddress */
};

G_LOCK_DEFINE_STATIC (host_addresses);
static PkRtnlHostAddresses *host_addresses;

static void
host_addresses_apply (PkRtnlHostAddresses   *self,
                      const struct nlmsghdr *h)
{
  const struct ifaddrmsg *ifa = NLMSG_DATA (h);
  int len = IFA_PAYLOAD (h);
  const struct rtattr *local = NULL, *address = NULL, *a;
  HostAddress entry = { 0 };
  gsize size;

  if ((h->nlmsg_type != RTM_NEWADDR && h->nlmsg_type != RTM_DELADDR) ||
      h->nlmsg_len < NLMSG_LENGTH (sizeof *ifa) ||
      (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6))
    return;
  for (a = IFA_RTA (ifa); RTA_OK (a, len); a = RTA_NEXT (a, len))
    if (a->rta_type == IFA_LOCAL)
      local = a;
    else if (a->rta_type == IFA_ADDRESS)
      address = a;
  /* On a point-to-point link IFA_ADDRESS is the peer; IFA_LOCAL is ours. */
  a = local != NULL ? local : address;
  size = ifa->ifa_family == AF_INET ? 4 : 16;
  if (a == NULL || RTA_PAYLOAD (a) != size)
    return;
  entry.ifindex = (int) ifa->ifa_index;
  entry.family = ifa->ifa_family;
  memcpy (entry.bytes, RTA_DATA (a), size);

  for (guint i = 0; i < self->entries->len; i++)
    if (memcmp (&g_array_index (self->entries, HostAddress, i), &entry, sizeof entry) == 0)
      {
        if (h->nlmsg_type == RTM_DELADDR)
          g_array_remove_index_fast (self->entries, i);
        return;
      }
  if (h->nlmsg_type == RTM_NEWADDR)
    g_array_append_val (self->entries, entry);
}

/* Applies every queued message; returns FALSE if the kernel dropped some
 * (ENOBUFS), when only a fresh dump tells what is there. Lock held. */
static gboolean
host_addresses_drain (PkRtnlHostAddresses *self)
{
  gboolean overrun = FALSE;
  guint8 buf[16384] __attribute__ ((aligned (NLMSG_ALIGNTO)));
  gssize n;

  while ((n = recv_queued (self->fd, buf, sizeof buf, &overrun)) > 0)
    {
      int len = (int) n;

      for (const struct nlmsghdr *h = (const struct nlmsghdr *) buf; nlmsg_ok (h, len); h = NLMSG_NEXT (h, len))
        {
          if (self->dumping && h->nlmsg_seq == self->dump_seq &&
              (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR))
            self->dumping = FALSE;
          else
            host_addresses_apply (self, h);
        }
    }
  return !overrun;
}

/* Forgets what it knew and asks the kernel for every address, waiting
 * for the whole answer. Lock held. */
static gboolean
host_addresses_dump_once (PkRtnlHostAddresses  *self,
                          GError              **error)
{
  for (guint attempt = 0; attempt < 5; attempt++)
    {
      struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
      struct ifaddrmsg ifa = { .ifa_family = AF_UNSPEC };
      g_autoptr(GByteArray) msg = msg_new (RTM_GETADDR, NLM_F_DUMP, &ifa, sizeof ifa);
      gboolean complete = TRUE;

      g_array_set_size (self->entries, 0);
      self->dump_seq = next_seq ();
      ((struct nlmsghdr *) msg->data)->nlmsg_len = msg->len;
      ((struct nlmsghdr *) msg->data)->nlmsg_seq = self->dump_seq;
      if (sendto (self->fd, msg->data, msg->len, 0, (struct sockaddr *) &kernel, sizeof kernel) < 0)
        {
          int saved = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                       "listing the host's addresses (rtnetlink): %s", g_strerror (saved));
          return FALSE;
        }
      self->dumping = TRUE;
      while (self->dumping && complete)
        {
          struct pollfd pfd = { .fd = self->fd, .events = POLLIN };
          int r = poll (&pfd, 1, 5000);

          if (r < 0 && errno == EINTR)
            continue;
          if (r <= 0)
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                           "listing the host's addresses (rtnetlink): no answer");
              self->dumping = FALSE;
              return FALSE;
            }
          complete = host_addresses_drain (self);
        }
      if (complete)
        return TRUE;
      self->dumping = FALSE;
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
               "listing the host's addresses (rtnetlink): addresses change too fast");
  return FALSE;
}

/* On failure, what was known stays. */
static gboolean
host_addresses_dump (PkRtnlHostAddresses  *self,
                     GError              **error)
{
  GArray *old = self->entries;

  self->entries = g_array_new (FALSE, FALSE, sizeof (HostAddress));
  if (!host_addresses_dump_once (self, error))
    {
      g_array_unref (self->entries);
      self->entries = old;
      return FALSE;
    }
  g_array_unref (old);
  return TRUE;
}

static void
host_addresses_free (PkRtnlHostAddresses *self)
{
  if (self->fd >= 0)
    close (self->fd);
  g_array_unref (self->entries);
  g_mutex_clear (&self->lock);
  g_free (self);
}

/**
 * pk_rtnl_host_addresses_get:
 *
 * The process's one set of the host's addresses, made on first use in the
 * calling thread's network namespace.
 *
 * Returns: (transfer full): a reference to it, or %NULL with @error set
 */
PkRtnlHostAddresses *
pk_rtnl_host_addresses_get (GError **error)
{
  PkRtnlHostAddresses *self;
  int rcvbuf = 1 << 20;

  G_LOCK (host_addresses);
  if (host_addresses != NULL)
    {
      self = pk_rtnl_host_addresses_ref (host_addresses);
      G_UNLOCK (host_addresses);
      return self;
    }

  self = g_new0 (PkRtnlHostAddresses, 1);
  g_atomic_ref_count_init (&self->ref);
  g_mutex_init (&self->lock);
  self->entries = g_array_new (FALSE, FALSE, sizeof (HostAddress));
  /* Subscribed before the dump, so that no change falls between them. */
  self->fd = subscribe (RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR);
  if (self->fd < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot watch the host's addresses (rtnetlink): %s", g_strerror (saved));
      host_addresses_free (self);
      G_UNLOCK (host_addresses);
      return NULL;
    }
  setsockopt (self->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (!host_addresses_dump (self, error))
    {
      host_addresses_free (self);
      G_UNLOCK (host_addresses);
      return NULL;
    }
  host_addresses = self;
  G_UNLOCK (host_addresses);
  return self;
}

PkRtnlHostAddresses *
pk_rtnl_host_addresses_ref (PkRtnlHostAddresses *self)
{
  g_atomic_ref_count_inc (&self->ref);
  return self;
}

void
pk_rtnl_host_addresses_unref (PkRtnlHostAddresses *self)
{
  gboolean last;

  if (self == NULL)
    return;
  /* Under the global lock, so that _get() never revives one being freed. */
  G_LOCK (host_addresses);
  last = g_atomic_ref_count_dec (&self->ref);
  if (last && host_addresses == self)
    host_addresses = NULL;
  G_UNLOCK (host_addresses);
  if (last)
    host_addresses_free (self);
}

gboolean
pk_rtnl_host_addresses_contains (PkRtnlHostAddresses *self,
                                 GInetAddress        *address)
{
  g_autoptr(GInetAddress) plain = pk_inet_address_unmap (address);
  int family = g_inet_address_get_family (plain) == G_SOCKET_FAMILY_IPV6 ? AF_INET6 : AF_INET;
  const guint8 *bytes = g_inet_address_to_bytes (plain);
  gsize size = g_inet_address_get_native_size (plain);
  gboolean found = FALSE;

  g_mutex_lock (&self->lock);
  if (!host_addresses_drain (self))
    {
      g_autoptr(GError) error = NULL;

      /* Until a dump succeeds, what we hold may lack an address: keep it,
       * and try again at the next question. */
      if (!host_addresses_dump (self, &error))
        g_warning ("%s", error->message);
    }
  for (guint i = 0; i < self->entries->len && !found; i++)
    {
      const HostAddress *e = &g_array_index (self->entries, HostAddress, i);

      found = e->family == family && memcmp (e->bytes, bytes, size) == 0;
    }
  g_mutex_unlock (&self->lock);
  return found;
}
