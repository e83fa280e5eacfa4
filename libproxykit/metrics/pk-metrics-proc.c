/* pk-metrics-proc.c: parsers of /proc and the sock_diag dump behind
 * PkMetricsSampler. Each parser adds one member to the sample object, or
 * a null member where the host does not have the figure.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "pk-error.h"
#include "pk-metrics-private.h"

const char * const pk_tcp_state_names[PK_TCP_N_STATES] = {
  [0] = "UNKNOWN",
  [TCP_ESTABLISHED] = "ESTABLISHED",
  [TCP_SYN_SENT] = "SYN_SENT",
  [TCP_SYN_RECV] = "SYN_RECV",
  [TCP_FIN_WAIT1] = "FIN_WAIT1",
  [TCP_FIN_WAIT2] = "FIN_WAIT2",
  [TCP_TIME_WAIT] = "TIME_WAIT",
  [TCP_CLOSE] = "CLOSE",
  [TCP_CLOSE_WAIT] = "CLOSE_WAIT",
  [TCP_LAST_ACK] = "LAST_ACK",
  [TCP_LISTEN] = "LISTEN",
  [TCP_CLOSING] = "CLOSING",
};

char *
pk_metrics_read_file (const char *root,
                      const char *relative)
{
  g_autofree char *path = g_build_filename (root, relative, NULL);
  char *contents = NULL;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return NULL;
  return contents;
}

gboolean
pk_metrics_read_uint (const char *root,
                      const char *relative,
                      guint64    *out)
{
  g_autofree char *text = pk_metrics_read_file (root, relative);
  char *end = NULL;

  if (text == NULL)
    return FALSE;
  errno = 0;
  *out = g_ascii_strtoull (g_strchug (text), &end, 10);
  return errno == 0 && end != text;
}

/* Splits on blanks, dropping empty fields. */
static char **
split_fields (const char *line)
{
  char **fields = g_strsplit_set (line, " \t", -1);
  guint j = 0;

  for (guint i = 0; fields[i] != NULL; i++)
    {
      if (fields[i][0] != '\0')
        fields[j++] = fields[i];
      else
        g_free (fields[i]);
    }
  fields[j] = NULL;
  return fields;
}

/* ------------------------------------------------------------------ */
/* /proc/stat */

void
pk_metrics_parse_stat (const char *text,
                       GHashTable *out)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) f = NULL;
      PkCpuTimes *t;

      if (!g_str_has_prefix (lines[i], "cpu"))
        continue;
      f = split_fields (lines[i]);
      if (f[0] == NULL)
        continue;
      t = g_new0 (PkCpuTimes, 1);
      /* older kernels have fewer columns, newer ones may add some */
      for (guint c = 0; c < PK_CPU_N_FIELDS && f[c + 1] != NULL; c++)
        t->v[c] = g_ascii_strtoull (f[c + 1], NULL, 10);
      g_hash_table_replace (out, g_strdup (f[0]), t);
    }
}

/* ------------------------------------------------------------------ */
/* /proc/meminfo: values in kB become bytes */

void
pk_metrics_parse_meminfo (const char *text,
                          GHashTable *out)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *colon = strchr (lines[i], ':');
      guint64 v;
      char *end;

      if (colon == NULL)
        continue;
      *colon = '\0';
      v = g_ascii_strtoull (colon + 1, &end, 10);
      if (end == colon + 1)
        continue;
      if (strstr (end, "kB") != NULL)
        v *= 1024;
      g_hash_table_replace (out, g_strdup (g_strstrip (lines[i])),
                            g_memdup2 (&v, sizeof v));
    }
}

/* ------------------------------------------------------------------ */
/* /proc/net/dev: column names come from the header, so that a kernel
 * with other or extra columns is read right. */

void
pk_metrics_parse_net_dev (const char *text,
                          GHashTable *out)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  g_auto(GStrv) rx_names = NULL;
  g_auto(GStrv) tx_names = NULL;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *colon;
      g_auto(GStrv) f = NULL;
      PkIfaceCounters *c;
      guint nrx, ntx;

      if (strchr (lines[i], '|') != NULL)
        {
          g_auto(GStrv) parts = g_strsplit (lines[i], "|", -1);

          if (g_strv_length (parts) >= 3 && strstr (parts[1], "bytes") != NULL)
            {
              g_strfreev (rx_names);
              g_strfreev (tx_names);
              rx_names = split_fields (parts[1]);
              tx_names = split_fields (parts[2]);
            }
          continue;
        }
      colon = strchr (lines[i], ':');
      if (colon == NULL || rx_names == NULL)
        continue;
      *colon = '\0';
      f = split_fields (colon + 1);
      nrx = g_strv_length (rx_names);
      ntx = g_strv_length (tx_names);
      if (g_strv_length (f) < nrx + ntx)
        continue;
      c = g_new0 (PkIfaceCounters, 1);
      for (guint k = 0; k < nrx; k++)
        {
          guint64 v = g_ascii_strtoull (f[k], NULL, 10);
          if (strcmp (rx_names[k], "bytes") == 0) c->v[PK_IF_RX_BYTES] = v;
          else if (strcmp (rx_names[k], "packets") == 0) c->v[PK_IF_RX_PACKETS] = v;
          else if (strcmp (rx_names[k], "errs") == 0) c->v[PK_IF_RX_ERRORS] = v;
          else if (strcmp (rx_names[k], "drop") == 0) c->v[PK_IF_RX_DROPS] = v;
        }
      for (guint k = 0; k < ntx; k++)
        {
          guint64 v = g_ascii_strtoull (f[nrx + k], NULL, 10);
          if (strcmp (tx_names[k], "bytes") == 0) c->v[PK_IF_TX_BYTES] = v;
          else if (strcmp (tx_names[k], "packets") == 0) c->v[PK_IF_TX_PACKETS] = v;
          else if (strcmp (tx_names[k], "errs") == 0) c->v[PK_IF_TX_ERRORS] = v;
          else if (strcmp (tx_names[k], "drop") == 0) c->v[PK_IF_TX_DROPS] = v;
        }
      g_hash_table_replace (out, g_strdup (g_strstrip (lines[i])), c);
    }
}

/* ------------------------------------------------------------------ */
/* /proc/net/sockstat and sockstat6: "TCP: inuse 1 orphan 0 tw 2 ..." */

void
pk_metrics_build_sockstat (JsonBuilder *b,
                           const char  *text)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *colon = strchr (lines[i], ':');
      g_auto(GStrv) f = NULL;

      if (colon == NULL)
        continue;
      *colon = '\0';
      f = split_fields (colon + 1);
      if (strcmp (lines[i], "sockets") == 0)
        {
          if (f[0] != NULL && f[1] != NULL && strcmp (f[0], "used") == 0)
            {
              json_builder_set_member_name (b, "sockets_used");
              json_builder_add_int_value (b, g_ascii_strtoll (f[1], NULL, 10));
            }
          continue;
        }
      json_builder_set_member_name (b, lines[i]);
      json_builder_begin_object (b);
      for (guint k = 0; f[k] != NULL && f[k + 1] != NULL; k += 2)
        {
          json_builder_set_member_name (b, f[k]);
          json_builder_add_int_value (b, g_ascii_strtoll (f[k + 1], NULL, 10));
        }
      json_builder_end_object (b);
    }
}

/* ------------------------------------------------------------------ */
/* /proc/net/stat/nf_conntrack: a header, then one row of hex per CPU */

void
pk_metrics_build_conntrack_stats (JsonBuilder *b,
                                  const char  *text)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  g_auto(GStrv) names = NULL;
  g_autofree guint64 *sums = NULL;
  guint n;

  if (lines[0] == NULL)
    return;
  names = split_fields (lines[0]);
  n = g_strv_length (names);
  sums = g_new0 (guint64, n);
  for (guint i = 1; lines[i] != NULL; i++)
    {
      g_auto(GStrv) f = split_fields (lines[i]);

      for (guint k = 0; k < n && f[k] != NULL; k++)
        sums[k] += g_ascii_strtoull (f[k], NULL, 16);
    }
  for (guint k = 0; k < n; k++)
    {
      /* "entries" is global, repeated on every row */
      if (strcmp (names[k], "entries") == 0)
        continue;
      json_builder_set_member_name (b, names[k]);
      json_builder_add_int_value (b, (gint64) sums[k]);
    }
}

/* ------------------------------------------------------------------ */
/* /proc/net/softnet_stat: per CPU, hex: processed dropped time_squeeze */

guint
pk_metrics_parse_softnet (const char *text,
                          GArray     *rows)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) f = split_fields (lines[i]);
      PkSoftnetRow row = { 0 };

      if (g_strv_length (f) < 3)
        continue;
      row.processed = g_ascii_strtoull (f[0], NULL, 16);
      row.dropped = g_ascii_strtoull (f[1], NULL, 16);
      row.time_squeeze = g_ascii_strtoull (f[2], NULL, 16);
      g_array_append_val (rows, row);
    }
  return rows->len;
}

/* ------------------------------------------------------------------ */
/* /proc/PID/stat */

gboolean
pk_metrics_parse_pid_stat (const char     *text,
                           PkProcessStat  *out)
{
  const char *open = strchr (text, '(');
  const char *close = strrchr (text, ')');
  g_auto(GStrv) f = NULL;

  if (open == NULL || close == NULL || close < open)
    return FALSE;
  g_free (out->comm);
  out->comm = g_strndup (open + 1, close - open - 1);
  f = split_fields (close + 1);
  /* f[0] is field 3 (state) of proc(5) */
  if (g_strv_length (f) < 22)
    return FALSE;
  out->utime = g_ascii_strtoull (f[11], NULL, 10);
  out->stime = g_ascii_strtoull (f[12], NULL, 10);
  out->threads = g_ascii_strtoull (f[17], NULL, 10);
  out->rss_pages = g_ascii_strtoull (f[21], NULL, 10);
  return TRUE;
}

void
pk_process_stat_clear (PkProcessStat *stat)
{
  g_clear_pointer (&stat->comm, g_free);
}

/* ------------------------------------------------------------------ */
/* TCP sockets from a NETLINK_SOCK_DIAG dump: one pass over every socket,
 * counting by state, by watched local port, towards remote :443, and the
 * local ports in the ephemeral range. */

static gboolean
port_watched (const PkTcpCounts *c,
              guint16            port,
              guint             *index)
{
  for (guint i = 0; i < c->n_ports; i++)
    if (c->ports[i] == port)
      {
        *index = i;
        return TRUE;
      }
  return FALSE;
}

guint
pk_dest_key_hash (gconstpointer key)
{
  const PkDestKey *k = key;
  guint h = k->family * 31 + k->port;

  for (guint i = 0; i < 16; i++)
    h = h * 31 + k->addr[i];
  return h;
}

gboolean
pk_dest_key_equal (gconstpointer a,
                   gconstpointer b)
{
  return memcmp (a, b, sizeof (PkDestKey)) == 0;
}

static void
count_destination (PkTcpCounts                 *c,
                   const struct inet_diag_msg *m,
                   guint                        dport)
{
  PkDestKey key;
  guint64 *count;

  memset (&key, 0, sizeof key);
  key.family = m->idiag_family;
  key.port = dport;
  memcpy (key.addr, m->id.idiag_dst, m->idiag_family == AF_INET ? 4 : 16);
  count = g_hash_table_lookup (c->eph_by_dest, &key);
  if (count == NULL)
    {
      count = g_new0 (guint64, 1);
      g_hash_table_insert (c->eph_by_dest, g_memdup2 (&key, sizeof key), count);
    }
  (*count)++;
  if (*count > c->busiest_count)
    {
      c->busiest_count = *count;
      c->busiest_family = key.family;
      memcpy (c->busiest_addr, key.addr, 16);
      c->busiest_port = dport;
    }
}

/* family AF_UNSPEC: one TCPDIAG_GETSOCK request of the older interface,
 * which dumps IPv4 and IPv6 in a single walk of the socket hash (the
 * kernel's cost of a dump is mostly that walk); AF_INET/AF_INET6: one
 * SOCK_DIAG_BY_FAMILY request per family, for kernels without it. */
/* NLMSG_OK with the length checked before it is compared unsigned: the
 * macro compares a __u32 with an int. */
static inline gboolean
nlmsg_ok (const struct nlmsghdr *h,
          int                    left)
{
  return left >= (int) sizeof (struct nlmsghdr) &&
         h->nlmsg_len >= sizeof (struct nlmsghdr) &&
         h->nlmsg_len <= (guint) left;
}

static gboolean
dump_family (int          fd,
             int          family,
             guint8      *buf,
             gsize        buf_size,
             PkTcpCounts *c,
             GError     **error)
{
  union {
    struct {
      struct nlmsghdr nlh;
      struct inet_diag_req_v2 req;
    } v2;
    struct {
      struct nlmsghdr nlh;
      struct inet_diag_req req;
    } v1;
  } msg;
  struct sockaddr_nl nladdr = { .nl_family = AF_NETLINK };
  gsize len;

  memset (&msg, 0, sizeof msg);
  if (family == AF_UNSPEC)
    {
      len = sizeof msg.v1;
      msg.v1.nlh.nlmsg_len = len;
      msg.v1.nlh.nlmsg_type = TCPDIAG_GETSOCK;
      msg.v1.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
      msg.v1.nlh.nlmsg_seq = 1;
      msg.v1.req.idiag_family = AF_UNSPEC;
      msg.v1.req.idiag_states = ~0u;
    }
  else
    {
      len = sizeof msg.v2;
      msg.v2.nlh.nlmsg_len = len;
      msg.v2.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
      msg.v2.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
      msg.v2.nlh.nlmsg_seq = family;
      msg.v2.req.sdiag_family = family;
      msg.v2.req.sdiag_protocol = IPPROTO_TCP;
      msg.v2.req.idiag_states = ~0u;
    }

  if (sendto (fd, &msg, len, 0, (struct sockaddr *) &nladdr, sizeof nladdr) < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "sock_diag request: %s", g_strerror (errsv));
      return FALSE;
    }

  for (;;)
    {
      ssize_t n = recv (fd, buf, buf_size, 0);
      int left;
      struct nlmsghdr *h;

      if (n < 0)
        {
          int errsv = errno;
          if (errsv == EINTR)
            continue;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                       "sock_diag dump: %s", g_strerror (errsv));
          return FALSE;
        }
      if (n == 0)
        return TRUE;
      left = (int) n;
      for (h = (struct nlmsghdr *) buf; nlmsg_ok (h, left); h = NLMSG_NEXT (h, left))
        {
          const struct inet_diag_msg *m;
          guint state, sport, dport, idx;

          if (h->nlmsg_type == NLMSG_DONE)
            return TRUE;
          if (h->nlmsg_type == NLMSG_ERROR)
            {
              const struct nlmsgerr *e = NLMSG_DATA (h);
              int errsv = e->error < 0 ? -e->error : EIO;

              /* no IPv6 in this kernel: nothing to count */
              if (family == AF_INET6 && (errsv == ENOENT || errsv == EAFNOSUPPORT))
                return TRUE;
              g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                           "sock_diag dump: %s", g_strerror (errsv));
              return FALSE;
            }
          if (h->nlmsg_len < NLMSG_LENGTH (sizeof *m))
            continue;
          m = NLMSG_DATA (h);
          state = m->idiag_state;
          if (state == 12)   /* TCP_NEW_SYN_RECV: a request socket */
            state = TCP_SYN_RECV;
          if (state >= PK_TCP_N_STATES)
            state = 0;
          sport = ntohs (m->id.idiag_sport);
          dport = ntohs (m->id.idiag_dport);

          c->states[state]++;
          c->total++;
          if (port_watched (c, sport, &idx))
            c->port_states[idx][state]++;
          if (dport == 443)
            c->remote443[state]++;
          /* a listener's port is taken from the range too */
          if (sport >= c->eph_low && sport <= c->eph_high &&
              !(c->eph_seen[sport / 64] & (G_GUINT64_CONSTANT (1) << (sport % 64))))
            {
              c->eph_seen[sport / 64] |= G_GUINT64_CONSTANT (1) << (sport % 64);
              c->eph_in_use++;
            }
          if (c->eph_by_dest && state != TCP_LISTEN &&
              sport >= c->eph_low && sport <= c->eph_high)
            count_destination (c, m, dport);
        }
    }
}

gboolean
pk_metrics_tcp_dump (PkTcpCounts *c,
                     GError     **error)
{
  int fd;
  gboolean ok;
  gsize buf_size = 64 * 1024;
  g_autofree guint8 *buf = g_malloc (buf_size);

  fd = socket (AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "NETLINK_SOCK_DIAG socket: %s", g_strerror (errsv));
      return FALSE;
    }
  ok = !c->per_family && dump_family (fd, AF_UNSPEC, buf, buf_size, c, NULL);
  if (!ok)
    {
      /* start again from nothing with the per-family requests */
      guint n_ports = c->n_ports;
      guint16 *ports = c->ports;
      guint64 (*port_states)[PK_TCP_N_STATES] = c->port_states;
      GHashTable *by_dest = c->eph_by_dest;
      guint low = c->eph_low, high = c->eph_high;
      gboolean per_family = c->per_family;

      memset (c, 0, sizeof *c);
      memset (port_states, 0, sizeof *port_states * n_ports);
      if (by_dest)
        g_hash_table_remove_all (by_dest);
      c->n_ports = n_ports;
      c->ports = ports;
      c->port_states = port_states;
      c->eph_by_dest = by_dest;
      c->eph_low = low;
      c->eph_high = high;
      c->per_family = per_family;
      ok = dump_family (fd, AF_INET, buf, buf_size, c, error) &&
           dump_family (fd, AF_INET6, buf, buf_size, c, error);
    }
  close (fd);
  return ok;
}
