/* socks-listener.c: a SOCKS5 listener pinned to an egress, a complete program
 *
 * Build against an installed libproxykit:
 *
 *   cc -o socks-listener socks-listener.c $(pkg-config --cflags --libs proxykit-1)
 *
 * Run:
 *
 *   ./socks-listener 127.0.0.1:1080 [EGRESS_ADDRESS]
 *
 * It prints "listening on ADDRESS:PORT" once it serves (port 0 picks a free
 * port), and on SIGINT or SIGTERM stops accepting, gives live sessions five
 * seconds, prints the counters as JSON and exits 0.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>

#include <glib-unix.h>
#include <proxykit/proxykit.h>

static gboolean
on_signal (gpointer user_data)
{
  gboolean *stop_requested = user_data;

  *stop_requested = TRUE;
  return G_SOURCE_REMOVE;
}

static void
on_stopped (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  gboolean *done = user_data;
  g_autoptr(GError) error = NULL;

  if (!pk_socks_server_stop_finish (PK_SOCKS_SERVER (source), result, &error))
    g_printerr ("stop: %s\n", error->message);
  *done = TRUE;
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkSocksServer) server = pk_socks_server_new ();
  g_autoptr(PkEgress) egress = NULL;
  g_auto(GStrv) addresses = NULL;
  g_autofree char *stats = NULL;
  const char *listen = argc > 1 ? argv[1] : "127.0.0.1:1080";
  gboolean stop_requested = FALSE;
  gboolean done = FALSE;

  if (argc > 2)
    {
      /* Every outbound connection leaves from this address, never from
       * the default route. */
      egress = pk_egress_new_full (argv[2], NULL, 0, 0, &error);
      if (egress == NULL)
        {
          g_printerr ("socks-listener: %s\n", error->message);
          return 2;
        }
      pk_socks_server_set_egress (server, egress);
    }

  if (!pk_socks_server_listen (server, listen, &error))
    {
      g_printerr ("socks-listener: %s\n", error->message);
      return 1;
    }
  addresses = pk_socks_server_dup_listen_addresses (server);
  printf ("listening on %s (libproxykit %s)\n", addresses[0], PK_VERSION_S);
  fflush (stdout);

  /* Sessions run in this thread's main context. */
  g_unix_signal_add (SIGINT, on_signal, &stop_requested);
  g_unix_signal_add (SIGTERM, on_signal, &stop_requested);
  while (!stop_requested)
    g_main_context_iteration (NULL, TRUE);

  pk_socks_server_stop_async (server, 5000, NULL, on_stopped, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);

  stats = pk_socks_server_dup_stats_json (server);
  printf ("%s\n", stats);
  return 0;
}
