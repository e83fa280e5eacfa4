/* pk-connbench.c: connection-rate, latency and idle-session load for SOCKS5
 * servers and TCP relays, on loopback only.
 *
 *   pk-connbench echo  --listen 127.0.0.1:0 --port-file FILE [--duration S]
 *   pk-connbench rate  --target 127.0.0.1:PORT [--socks 127.0.0.1:PORT
 *                      [--user U --password P]] [--concurrency N]
 *                      [--duration S] [--max N]
 *   pk-connbench hold  --target ... [--socks ...] --count N [--duration S]
 *
 * rate: each client connects, does a full SOCKS5 handshake (greeting,
 * optional RFC 1929 authentication, CONNECT to the target) unless there is
 * no --socks, sends one byte, waits for its echo and closes; N clients are
 * kept in flight until --duration seconds or --max connections. Prints one
 * JSON object: connections per second, p50/p99 latency of the whole
 * exchange, failures by cause.
 * hold: opens --count sessions the same way and keeps them open (idle),
 * prints "ready OK FAILED" on stdout, and closes them all when stdin ends
 * or after --duration seconds.
 * echo: a single-threaded epoll echo server that writes its port to FILE.
 *
 * Every loop is bounded in count and time. Only loopback addresses are
 * accepted.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONN_TIMEOUT_NS (10ll * 1000000000ll)

enum { ST_CONNECTING, ST_METHOD, ST_AUTH, ST_REPLY, ST_ECHO, ST_IDLE };

enum { ERR_CONNECT, ERR_TIMEOUT, ERR_EOF, ERR_PROTOCOL, ERR_AUTH, ERR_REPLY, ERR_IO, N_ERR };
static const char *err_names[N_ERR] = { "connect", "timeout", "eof", "protocol", "auth", "reply", "io" };

typedef struct
{
  int fd;
  int state;
  int64_t start;
  unsigned char buf[300];
  size_t got;
  size_t need;
} Conn;

static struct sockaddr_in target, proxy;
static int use_socks;
static const char *user, *password;

static int64_t
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void
die (const char *msg)
{
  fprintf (stderr, "pk-connbench: %s\n", msg);
  exit (2);
}

static void
parse_loopback (const char *str, struct sockaddr_in *sa)
{
  char host[64];
  const char *colon = strrchr (str, ':');

  if (colon == NULL || (size_t) (colon - str) >= sizeof host)
    die ("addresses are HOST:PORT");
  memcpy (host, str, colon - str);
  host[colon - str] = '\0';
  memset (sa, 0, sizeof *sa);
  sa->sin_family = AF_INET;
  sa->sin_port = htons (atoi (colon + 1));
  if (inet_pton (AF_INET, host, &sa->sin_addr) != 1)
    die ("addresses are IPv4 literals");
  /* Loopback only: this tool must never load anything off the machine. */
  if ((ntohl (sa->sin_addr.s_addr) >> 24) != 127)
    die ("only loopback addresses (127.0.0.0/8) are allowed");
}

static void
raise_nofile (void)
{
  struct rlimit rl;

  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
    {
      rl.rlim_cur = rl.rlim_max;
      setrlimit (RLIMIT_NOFILE, &rl);
    }
}

/* --- client side --- */

static int
conn_send (Conn *c, const void *data, size_t len)
{
  /* Handshake messages are tiny: on a fresh socket they go out whole. */
  return send (c->fd, data, len, MSG_NOSIGNAL) == (ssize_t) len ? 0 : -1;
}

static int
conn_open (Conn *c, int ep, uint32_t slot)
{
  struct epoll_event ev = { .events = EPOLLOUT, .data.u32 = slot };
  const struct sockaddr_in *to = use_socks ? &proxy : &target;
  int one = 1;

  c->fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0)
    return -1;
  setsockopt (c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->start = now_ns ();
  c->state = ST_CONNECTING;
  c->got = 0;
  if (connect (c->fd, (const struct sockaddr *) to, sizeof *to) < 0 && errno != EINPROGRESS)
    {
      close (c->fd);
      c->fd = -1;
      return -1;
    }
  epoll_ctl (ep, EPOLL_CTL_ADD, c->fd, &ev);
  return 0;
}

static void
conn_close (Conn *c)
{
  if (c->fd >= 0)
    close (c->fd);
  c->fd = -1;
}

static void
expect (Conn *c, int ep, uint32_t slot, int state, size_t need)
{
  struct epoll_event ev = { .events = EPOLLIN, .data.u32 = slot };

  c->state = state;
  c->got = 0;
  c->need = need;
  epoll_ctl (ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static int
send_request (Conn *c)
{
  unsigned char req[10] = { 5, 1, 0, 1 };

  memcpy (req + 4, &target.sin_addr, 4);
  memcpy (req + 8, &target.sin_port, 2);
  return conn_send (c, req, sizeof req);
}

/* Advances a connection; returns 1 when its exchange is complete, 0 to
 * wait, or -(1 + ERR_*) on failure. */
static int
conn_step (Conn *c, int ep, uint32_t slot)
{
  if (c->state == ST_CONNECTING)
    {
      int err = 0;
      socklen_t len = sizeof err;

      getsockopt (c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0)
        return -(1 + ERR_CONNECT);
      if (!use_socks)
        {
          if (conn_send (c, "x", 1) < 0)
            return -(1 + ERR_IO);
          expect (c, ep, slot, ST_ECHO, 1);
          return 0;
        }
      if (user != NULL)
        {
          unsigned char greeting[] = { 5, 1, 2 };
          if (conn_send (c, greeting, 3) < 0)
            return -(1 + ERR_IO);
        }
      else
        {
          unsigned char greeting[] = { 5, 1, 0 };
          if (conn_send (c, greeting, 3) < 0)
            return -(1 + ERR_IO);
        }
      expect (c, ep, slot, ST_METHOD, 2);
      return 0;
    }

  for (int round = 0; round < 4; round++)
    {
      ssize_t n = recv (c->fd, c->buf + c->got, c->need - c->got, 0);

      if (n == 0)
        return -(1 + ERR_EOF);
      if (n < 0)
        return errno == EAGAIN ? 0 : -(1 + ERR_IO);
      c->got += n;
      if (c->state == ST_REPLY && c->got >= 5 && c->need == 5)
        {
          /* The bound address decides the length of the reply. */
          if (c->buf[1] != 0)
            return -(1 + ERR_REPLY);
          c->need = c->buf[3] == 1 ? 10 : c->buf[3] == 4 ? 22 : 7 + c->buf[4];
        }
      if (c->got < c->need)
        continue;

      switch (c->state)
        {
        case ST_METHOD:
          if (c->buf[0] != 5 || c->buf[1] != (user != NULL ? 2 : 0))
            return -(1 + ERR_PROTOCOL);
          if (user != NULL)
            {
              unsigned char auth[515];
              size_t ul = strlen (user), pl = strlen (password);

              auth[0] = 1;
              auth[1] = ul;
              memcpy (auth + 2, user, ul);
              auth[2 + ul] = pl;
              memcpy (auth + 3 + ul, password, pl);
              if (conn_send (c, auth, 3 + ul + pl) < 0)
                return -(1 + ERR_IO);
              expect (c, ep, slot, ST_AUTH, 2);
            }
          else
            {
              if (send_request (c) < 0)
                return -(1 + ERR_IO);
              expect (c, ep, slot, ST_REPLY, 5);
            }
          break;
        case ST_AUTH:
          if (c->buf[1] != 0)
            return -(1 + ERR_AUTH);
          if (send_request (c) < 0)
            return -(1 + ERR_IO);
          expect (c, ep, slot, ST_REPLY, 5);
          break;
        case ST_REPLY:
          if (conn_send (c, "x", 1) < 0)
            return -(1 + ERR_IO);
          expect (c, ep, slot, ST_ECHO, 1);
          break;
        case ST_ECHO:
          if (c->buf[0] != 'x')
            return -(1 + ERR_PROTOCOL);
          return 1;
        default:
          return -(1 + ERR_PROTOCOL);
        }
    }
  return 0;
}

static int
cmp_u32 (const void *a, const void *b)
{
  uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

  return x < y ? -1 : x > y;
}

static int
run_rate (int concurrency, double duration, long max)
{
  int ep = epoll_create1 (EPOLL_CLOEXEC);
  Conn *conns = calloc (concurrency, sizeof *conns);
  uint32_t *lat = malloc (sizeof *lat * (size_t) max);
  long started = 0, ok = 0, failed = 0, errs[N_ERR] = { 0 };
  int64_t t0 = now_ns (), deadline = t0 + (int64_t) (duration * 1e9), t_end;
  struct epoll_event events[256];
  int active = 0;

  for (int i = 0; i < concurrency; i++)
    conns[i].fd = -1;

  for (;;)
    {
      int64_t now = now_ns ();

      /* Refill: a new client in every free slot while time and count
       * allow. */
      for (int i = 0; i < concurrency && now < deadline && started < max; i++)
        if (conns[i].fd < 0)
          {
            started++;
            if (conn_open (&conns[i], ep, i) < 0)
              {
                failed++;
                errs[ERR_CONNECT]++;
              }
            else
              active++;
          }
      if (active == 0)
        break;
      /* Hard stop: what is still in flight 10 s after the deadline has
       * timed out. */
      if (now > deadline + CONN_TIMEOUT_NS)
        break;

      int n = epoll_wait (ep, events, 256, 100);
      now = now_ns ();
      for (int k = 0; k < n; k++)
        {
          uint32_t slot = events[k].data.u32;
          Conn *c = &conns[slot];
          int r;

          if (c->fd < 0)
            continue;
          r = conn_step (c, ep, slot);
          if (r == 0)
            continue;
          if (r > 0)
            {
              if (ok < max)
                lat[ok] = (uint32_t) ((now - c->start) / 1000);
              ok++;
            }
          else
            {
              failed++;
              errs[-r - 1]++;
            }
          conn_close (c);
          active--;
        }
      /* Per-connection timeout. */
      for (int i = 0; i < concurrency; i++)
        if (conns[i].fd >= 0 && now - conns[i].start > CONN_TIMEOUT_NS)
          {
            conn_close (&conns[i]);
            active--;
            failed++;
            errs[ERR_TIMEOUT]++;
          }
    }
  for (int i = 0; i < concurrency; i++)
    if (conns[i].fd >= 0)
      {
        conn_close (&conns[i]);
        failed++;
        errs[ERR_TIMEOUT]++;
      }
  t_end = now_ns ();

  qsort (lat, ok < max ? ok : max, sizeof *lat, cmp_u32);
  {
    double secs = (t_end - t0) / 1e9;
    long nl = ok < max ? ok : max;

    printf ("{\"ok\": %ld, \"failed\": %ld, \"seconds\": %.3f, \"conn_per_s\": %.1f, "
            "\"p50_us\": %u, \"p99_us\": %u, \"concurrency\": %d, \"errors\": {",
            ok, failed, secs, ok / secs,
            nl > 0 ? lat[nl / 2] : 0, nl > 0 ? lat[(nl * 99) / 100] : 0, concurrency);
    for (int e = 0; e < N_ERR; e++)
      printf ("%s\"%s\": %ld", e ? ", " : "", err_names[e], errs[e]);
    printf ("}}\n");
  }
  free (lat);
  free (conns);
  close (ep);
  return failed == 0 ? 0 : 1;
}

static int
run_hold (int count, double duration)
{
  int ep = epoll_create1 (EPOLL_CLOEXEC);
  Conn *conns = calloc (count, sizeof *conns);
  long ok = 0, failed = 0;
  int64_t deadline = now_ns () + (int64_t) (duration * 1e9);
  int64_t setup_deadline = now_ns () + 60ll * 1000000000ll;
  struct epoll_event events[256];
  int pending = 0, opened = 0;
  const int window = 64;

  /* Opens sessions a window at a time, so that the server sees a steady
   * stream of handshakes rather than a burst the backlog cannot hold. */
  while ((opened < count || pending > 0) && now_ns () < setup_deadline)
    {
      while (opened < count && pending < window)
        {
          if (conn_open (&conns[opened], ep, opened) < 0)
            failed++;
          else
            pending++;
          opened++;
        }
      int n = epoll_wait (ep, events, 256, 100);
      for (int k = 0; k < n; k++)
        {
          uint32_t slot = events[k].data.u32;
          Conn *c = &conns[slot];
          int r;

          if (c->fd < 0 || c->state == ST_IDLE)
            continue;
          r = conn_step (c, ep, slot);
          if (r == 0)
            continue;
          pending--;
          if (r > 0)
            {
              ok++;
              c->state = ST_IDLE;
              epoll_ctl (ep, EPOLL_CTL_DEL, c->fd, NULL);
            }
          else
            {
              failed++;
              conn_close (c);
            }
        }
    }
  failed += pending;
  printf ("ready %ld %ld\n", ok, failed);
  fflush (stdout);

  /* Hold until stdin ends or the time is up. */
  for (;;)
    {
      struct pollfd pfd = { .fd = 0, .events = POLLIN };
      int64_t left = (deadline - now_ns ()) / 1000000;
      char b[64];

      if (left <= 0)
        break;
      if (poll (&pfd, 1, left > 1000 ? 1000 : (int) left) > 0 && read (0, b, sizeof b) <= 0)
        break;
    }
  for (int i = 0; i < count; i++)
    conn_close (&conns[i]);
  free (conns);
  close (ep);
  return 0;
}

/* --- echo server --- */

typedef struct
{
  char *pending;
  size_t off, len;
} EchoConn;

static int
run_echo (const char *listen_addr, const char *port_file, double duration)
{
  struct sockaddr_in sa;
  socklen_t len = sizeof sa;
  int one = 1;
  int ls = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int ep = epoll_create1 (EPOLL_CLOEXEC);
  struct epoll_event ev = { .events = EPOLLIN, .data.fd = ls };
  int64_t deadline = now_ns () + (int64_t) (duration * 1e9);
  static char buf[65536];
  size_t max_fd = 1 << 16;
  EchoConn *ec = calloc (max_fd, sizeof *ec);

  parse_loopback (listen_addr, &sa);
  setsockopt (ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind (ls, (struct sockaddr *) &sa, sizeof sa) < 0 || listen (ls, 4096) < 0)
    die ("cannot listen");
  getsockname (ls, (struct sockaddr *) &sa, &len);
  {
    FILE *f = fopen (port_file, "w");
    if (f == NULL)
      die ("cannot write the port file");
    fprintf (f, "%d\n", ntohs (sa.sin_port));
    fclose (f);
  }
  epoll_ctl (ep, EPOLL_CTL_ADD, ls, &ev);

  while (now_ns () < deadline)
    {
      struct epoll_event events[256];
      int n = epoll_wait (ep, events, 256, 500);

      for (int k = 0; k < n; k++)
        {
          int fd = events[k].data.fd;

          if (fd == ls)
            {
              for (int i = 0; i < 256; i++)
                {
                  int c = accept4 (ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                  struct epoll_event cev = { .events = EPOLLIN, .data.fd = c };

                  if (c < 0)
                    break;
                  if ((size_t) c >= max_fd)
                    {
                      close (c);
                      continue;
                    }
                  setsockopt (c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                  epoll_ctl (ep, EPOLL_CTL_ADD, c, &cev);
                }
              continue;
            }

          EchoConn *e = &ec[fd];
          if (e->pending != NULL)
            {
              ssize_t w = send (fd, e->pending + e->off, e->len - e->off, MSG_NOSIGNAL);
              if (w < 0 && errno != EAGAIN)
                goto drop;
              if (w > 0)
                e->off += w;
              if (e->off < e->len)
                continue;
              free (e->pending);
              e->pending = NULL;
              struct epoll_event cev = { .events = EPOLLIN, .data.fd = fd };
              epoll_ctl (ep, EPOLL_CTL_MOD, fd, &cev);
              continue;
            }
          for (int round = 0; round < 16; round++)
            {
              ssize_t r = recv (fd, buf, sizeof buf, 0), w;

              if (r == 0)
                goto drop;
              if (r < 0)
                {
                  if (errno == EAGAIN)
                    break;
                  goto drop;
                }
              w = send (fd, buf, r, MSG_NOSIGNAL);
              if (w < 0 && errno != EAGAIN)
                goto drop;
              if (w < 0)
                w = 0;
              if (w < r)
                {
                  struct epoll_event cev = { .events = EPOLLOUT, .data.fd = fd };

                  e->pending = malloc (r - w);
                  memcpy (e->pending, buf + w, r - w);
                  e->off = 0;
                  e->len = r - w;
                  epoll_ctl (ep, EPOLL_CTL_MOD, fd, &cev);
                  break;
                }
            }
          continue;
drop:
          free (e->pending);
          e->pending = NULL;
          close (fd);
        }
    }
  return 0;
}

int
main (int argc, char *argv[])
{
  static struct option opts[] = {
    { "target", required_argument, NULL, 't' },
    { "socks", required_argument, NULL, 's' },
    { "user", required_argument, NULL, 'u' },
    { "password", required_argument, NULL, 'p' },
    { "concurrency", required_argument, NULL, 'c' },
    { "duration", required_argument, NULL, 'd' },
    { "max", required_argument, NULL, 'm' },
    { "count", required_argument, NULL, 'n' },
    { "listen", required_argument, NULL, 'l' },
    { "port-file", required_argument, NULL, 'f' },
    { NULL, 0, NULL, 0 },
  };
  const char *mode, *listen_addr = "127.0.0.1:0", *port_file = NULL;
  int concurrency = 50, count = 1000, opt;
  double duration = 5;
  long max = 1000000;

  if (argc < 2)
    die ("usage: pk-connbench echo|rate|hold [options] (see the comment at the top of pk-connbench.c)");
  mode = argv[1];
  optind = 2;
  while ((opt = getopt_long (argc, argv, "", opts, NULL)) != -1)
    switch (opt)
      {
      case 't': parse_loopback (optarg, &target); break;
      case 's': parse_loopback (optarg, &proxy); use_socks = 1; break;
      case 'u': user = optarg; break;
      case 'p': password = optarg; break;
      case 'c': concurrency = atoi (optarg); break;
      case 'd': duration = atof (optarg); break;
      case 'm': max = atol (optarg); break;
      case 'n': count = atoi (optarg); break;
      case 'l': listen_addr = optarg; break;
      case 'f': port_file = optarg; break;
      default: die ("unknown option");
      }
  /* Bounds, so that a typo cannot start an endless or huge run. */
  if (concurrency < 1 || concurrency > 10000 || duration <= 0 || duration > 3600 ||
      max < 1 || max > 10000000 || count < 1 || count > 100000)
    die ("--concurrency 1..10000, --duration up to 3600 s, --max up to 10^7, --count up to 10^5");
  if ((user == NULL) != (password == NULL))
    die ("--user and --password go together");
  if (user != NULL && (strlen (user) > 255 || strlen (password) > 255))
    die ("user and password are at most 255 bytes");
  raise_nofile ();

  if (strcmp (mode, "echo") == 0)
    {
      if (port_file == NULL)
        die ("echo needs --port-file");
      return run_echo (listen_addr, port_file, duration);
    }
  if (target.sin_family == 0)
    die ("--target is required");
  if (strcmp (mode, "rate") == 0)
    return run_rate (concurrency, duration, max);
  if (strcmp (mode, "hold") == 0)
    return run_hold (count, duration);
  die ("mode is echo, rate or hold");
  return 2;
}
