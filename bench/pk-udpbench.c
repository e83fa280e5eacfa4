/* pk-udpbench.c: UDP packets-per-second load on loopback, for relay benchmarks
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   pk-udpbench echo 127.0.0.1:7000 [--duration S]
 *   pk-udpbench send 127.0.0.1:7001 [--clients N] [--size B] [--window W]
 *                                   [--duration S] [--count N] [--json]
 *
 * `echo` answers every datagram to its sender (recvmmsg/sendmmsg, so that
 * it is never the bottleneck). `send` keeps W datagrams in flight on each
 * of N client sockets, counts the answers, and prints datagrams per
 * second received back, with the loss. Put a relay between the two to
 * measure it. Both are bounded in time (at most 120 s) and count, and
 * refuse any address that is not loopback: this is a benchmark, not a
 * flood tool.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>

#define BATCH 64
#define MAX_SIZE 9000
#define MAX_CLIENTS 256
#define MAX_DURATION_S 120

static double opt_duration = 5;
static gint64 opt_count = 50 * 1000 * 1000;
static int opt_clients = 4;
static int opt_size = 64;
static int opt_window = 64;
static gboolean opt_json;

static const GOptionEntry entries[] = {
  { "duration", 'd', 0, G_OPTION_ARG_DOUBLE, &opt_duration, "Seconds to run (default 5, at most 120)", "S" },
  { "count", 'n', 0, G_OPTION_ARG_INT64, &opt_count, "Stop after sending this many datagrams", "N" },
  { "clients", 'c', 0, G_OPTION_ARG_INT, &opt_clients, "Client sockets, i.e. relay sessions (default 4)", "N" },
  { "size", 's', 0, G_OPTION_ARG_INT, &opt_size, "Datagram size in bytes (default 64)", "B" },
  { "window", 'w', 0, G_OPTION_ARG_INT, &opt_window, "Datagrams in flight per client (default 64)", "W" },
  { "json", 'j', 0, G_OPTION_ARG_NONE, &opt_json, "Print the result as JSON", NULL },
  { NULL }
};

G_NORETURN static void
die (const char *format,
     ...) G_GNUC_PRINTF (1, 2);

static void
die (const char *format,
     ...)
{
  va_list args;

  va_start (args, format);
  fputs ("pk-udpbench: ", stderr);
  vfprintf (stderr, format, args);
  fputc ('\n', stderr);
  va_end (args);
  exit (2);
}

/* Loopback only: 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
static GSocketAddress *
parse_loopback (const char *str)
{
  g_autofree char *host = NULL;
  const char *colon = strrchr (str, ':');
  g_autoptr(GInetAddress) inet = NULL;
  guint64 port;

  if (colon == NULL || !g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &port, NULL))
    die ("'%s' is not ADDRESS:PORT", str);
  host = g_strndup (str, colon - str);
  if (host[0] == '[' && host[strlen (host) - 1] == ']')
    {
      char *inner = g_strndup (host + 1, strlen (host) - 2);
      g_free (host);
      host = inner;
    }
  inet = g_inet_address_new_from_string (host);
  if (inet == NULL || !g_inet_address_get_is_loopback (inet))
    die ("'%s' is not a loopback address: pk-udpbench only runs on loopback", host);
  return g_inet_socket_address_new (inet, port);
}

static int
udp_socket (GSocketAddress *address,
            gboolean        bind_it)
{
  struct sockaddr_storage ss;
  int fd = socket (g_socket_address_get_family (address), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int size = 4 << 20;

  if (fd < 0)
    die ("socket: %s", g_strerror (errno));
  (void) setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  (void) setsockopt (fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  g_socket_address_to_native (address, &ss, sizeof ss, NULL);
  if ((bind_it ? bind (fd, (struct sockaddr *) &ss, g_socket_address_get_native_size (address))
               : connect (fd, (struct sockaddr *) &ss, g_socket_address_get_native_size (address))) < 0)
    die ("%s: %s", bind_it ? "bind" : "connect", g_strerror (errno));
  return fd;
}

/* A batch of BATCH receive slots; with @from, senders are recorded. */
static void
prepare_recv (struct mmsghdr          *msgs,
              struct iovec            *iov,
              char                     bufs[][MAX_SIZE],
              struct sockaddr_storage *from)
{
  for (int i = 0; i < BATCH; i++)
    {
      iov[i].iov_base = bufs[i];
      iov[i].iov_len = MAX_SIZE;
      memset (&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      if (from != NULL)
        {
          msgs[i].msg_hdr.msg_name = &from[i];
          msgs[i].msg_hdr.msg_namelen = sizeof from[i];
        }
    }
}

static int
run_echo (GSocketAddress *address)
{
  static char bufs[BATCH][MAX_SIZE];
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  struct sockaddr_storage from[BATCH];
  int fd = udp_socket (address, TRUE);
  gint64 end = g_get_monotonic_time () + (gint64) (opt_duration * G_USEC_PER_SEC);
  guint64 echoed = 0;

  while (g_get_monotonic_time () < end)
    {
      struct pollfd pfd = { fd, POLLIN, 0 };
      int n;

      if (poll (&pfd, 1, 100) <= 0)
        continue;
      prepare_recv (msgs, iov, bufs, from);
      n = recvmmsg (fd, msgs, BATCH, MSG_DONTWAIT, NULL);
      if (n <= 0)
        continue;
      for (int i = 0; i < n; i++)
        iov[i].iov_len = msgs[i].msg_len;
      for (int sent = 0; sent < n;)
        {
          int r = sendmmsg (fd, msgs + sent, n - sent, MSG_DONTWAIT);
          if (r <= 0)
            break;
          sent += r;
          echoed += r;
        }
    }
  if (opt_json)
    printf ("{\"echoed\": %" G_GUINT64_FORMAT "}\n", echoed);
  else
    printf ("echoed %" G_GUINT64_FORMAT " datagrams\n", echoed);
  close (fd);
  return 0;
}

typedef struct {
  int fd;
  int in_flight;
} Sender;

static int
run_send (GSocketAddress *address)
{
  static char payload[MAX_SIZE];
  static char rbuf[BATCH][MAX_SIZE];
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  Sender senders[MAX_CLIENTS];
  struct pollfd pfds[MAX_CLIENTS];
  gint64 start, end, last_answer;
  guint64 sent = 0, received = 0;
  double elapsed;

  memset (payload, 'x', sizeof payload);
  for (int c = 0; c < opt_clients; c++)
    {
      senders[c].fd = udp_socket (address, FALSE);
      senders[c].in_flight = 0;
      pfds[c].fd = senders[c].fd;
      pfds[c].events = POLLIN;
    }

  start = last_answer = g_get_monotonic_time ();
  end = start + (gint64) (opt_duration * G_USEC_PER_SEC);
  while (g_get_monotonic_time () < end)
    {
      gint64 now;

      /* Top every client's window up. */
      for (int c = 0; c < opt_clients && (gint64) sent < opt_count; c++)
        {
          int want = MIN (opt_window - senders[c].in_flight, BATCH);
          int r;

          if (want <= 0)
            continue;
          want = (int) MIN ((gint64) want, opt_count - (gint64) sent);
          for (int i = 0; i < want; i++)
            {
              iov[i].iov_base = payload;
              iov[i].iov_len = opt_size;
              memset (&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
              msgs[i].msg_hdr.msg_iov = &iov[i];
              msgs[i].msg_hdr.msg_iovlen = 1;
            }
          r = sendmmsg (senders[c].fd, msgs, want, MSG_DONTWAIT);
          if (r > 0)
            {
              senders[c].in_flight += r;
              sent += r;
            }
        }

      if (poll (pfds, opt_clients, 10) < 0 && errno != EINTR)
        die ("poll: %s", g_strerror (errno));
      now = g_get_monotonic_time ();

      for (int c = 0; c < opt_clients; c++)
        {
          int n;

          if (!(pfds[c].revents & POLLIN))
            continue;
          prepare_recv (msgs, iov, rbuf, NULL);
          n = recvmmsg (senders[c].fd, msgs, BATCH, MSG_DONTWAIT, NULL);
          if (n > 0)
            {
              received += n;
              senders[c].in_flight = MAX (0, senders[c].in_flight - n);
              last_answer = now;
            }
        }

      /* Answers that stopped coming are lost: open the windows again. */
      if (now - last_answer > 50 * 1000)
        {
          for (int c = 0; c < opt_clients; c++)
            senders[c].in_flight = 0;
          last_answer = now;
        }
      if ((gint64) sent >= opt_count && now - last_answer > 20 * 1000)
        break;
    }
  elapsed = (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;

  if (opt_json)
    printf ("{\"clients\": %d, \"size\": %d, \"seconds\": %.3f, \"sent\": %" G_GUINT64_FORMAT
            ", \"received\": %" G_GUINT64_FORMAT ", \"pps\": %.0f, \"loss\": %.4f}\n",
            opt_clients, opt_size, elapsed, sent, received, received / elapsed,
            sent ? 1.0 - (double) received / sent : 0.0);
  else
    printf ("%d clients, %d-byte datagrams, %.1f s: sent %" G_GUINT64_FORMAT ", received %"
            G_GUINT64_FORMAT " (%.0f datagrams/s back, %.2f%% lost)\n",
            opt_clients, opt_size, elapsed, sent, received, received / elapsed,
            sent ? 100.0 * (1.0 - (double) received / sent) : 0.0);
  for (int c = 0; c < opt_clients; c++)
    close (senders[c].fd);
  return 0;
}

int
main (int argc, char **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("echo|send ADDRESS:PORT - UDP datagrams per second on loopback");
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketAddress) address = NULL;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    die ("%s", error->message);
  if (argc != 3 || (!g_str_equal (argv[1], "echo") && !g_str_equal (argv[1], "send")))
    die ("usage: pk-udpbench echo|send ADDRESS:PORT [OPTION...]");
  if (opt_duration <= 0 || opt_duration > MAX_DURATION_S)
    die ("--duration: %g is not from 0 to %d seconds", opt_duration, MAX_DURATION_S);
  if (opt_clients < 1 || opt_clients > MAX_CLIENTS)
    die ("--clients: %d is not from 1 to %d", opt_clients, MAX_CLIENTS);
  if (opt_size < 1 || opt_size > MAX_SIZE)
    die ("--size: %d is not from 1 to %d", opt_size, MAX_SIZE);
  if (opt_window < 1 || opt_window > 4096)
    die ("--window: %d is not from 1 to 4096", opt_window);
  if (opt_count < 1)
    die ("--count: %" G_GINT64_FORMAT " is not positive", opt_count);

  address = parse_loopback (argv[2]);
  return g_str_equal (argv[1], "echo") ? run_echo (address) : run_send (address);
}
