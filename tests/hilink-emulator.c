/* hilink-emulator.c: emulated Huawei E8372h dongles (HiLink web API)
 *
 * Runs one or more emulated dongles in one process, each on its own port,
 * and prints one line per dongle: "dongle N http://ADDRESS:PORT". It is
 * the stand-in for real dongles in the tests and the demo backend of the
 * README. Nothing here leaves loopback unless told to listen elsewhere.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include <glib-unix.h>

#include "hilink-emu.h"

static gboolean
quit_cb (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *address = NULL;
  g_autofree char *password = NULL;
  g_autofree char *username = NULL;
  g_autofree char *sticky = NULL;
  g_auto(GStrv) busy_on = NULL;
  int first = 11;
  int n = 1;
  int port = 0;
  int password_type = 4;
  int delay_ms = 2000;
  int reboot_ms = 5000;
  g_autoptr(GError) error = NULL;
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GPtrArray) emus = g_ptr_array_new_with_free_func ((GDestroyNotify) hilink_emu_free);
  GOptionEntry entries[] = {
    { "address", 'a', 0, G_OPTION_ARG_STRING, &address, "Address to listen on (default 127.0.0.1)", "ADDR" },
    { "port", 'p', 0, G_OPTION_ARG_INT, &port, "Port of the first dongle, the next ones follow (default: any free port)", "PORT" },
    { "first", 'f', 0, G_OPTION_ARG_INT, &first, "Number (subnet) of the first dongle (default 11)", "N" },
    { "count", 'n', 0, G_OPTION_ARG_INT, &n, "How many dongles (default 1)", "COUNT" },
    { "username", 'u', 0, G_OPTION_ARG_STRING, &username, "Login user name (default admin)", "USER" },
    { "password", 'P', 0, G_OPTION_ARG_STRING, &password, "Require a login with this password", "PASSWORD" },
    { "password-type", 't', 0, G_OPTION_ARG_INT, &password_type, "Login password type, 0 or 4 (default 4)", "TYPE" },
    { "delay-ms", 'd', 0, G_OPTION_ARG_INT, &delay_ms, "Reconnect delay after a data or net mode switch (default 2000)", "MS" },
    { "reboot-ms", 'r', 0, G_OPTION_ARG_INT, &reboot_ms, "How long a reboot takes (default 5000)", "MS" },
    { "sticky", 's', 0, G_OPTION_ARG_STRING, &sticky, "Methods that bring back the same IP: data,netmode,reboot", "LIST" },
    { "busy-on", 'b', 0, G_OPTION_ARG_STRING_ARRAY, &busy_on,
      "Answer 100004 to chosen requests, e.g. POST:/api/dialup/mobile-dataswitch@2x3 (the 2nd to 4th); repeatable", "[METHOD:]PATH[@NTH[xCOUNT]]" },
    { NULL }
  };

  context = g_option_context_new ("- emulated Huawei HiLink dongles");
  g_option_context_set_description (context,
      "Control: GET /emu/control?busy=N&busy_on=SPEC,...&slow_ms=N&drop=N&sticky=LIST&expire=1&delay_ms=N&reboot_ms=N\n"
      "         &http_error=N&http_status=5xx (the next N answers are that HTTP status)&logout=1 (login expired)\n"
      "State:   GET /emu/state\n");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      fprintf (stderr, "hilink-emulator: %s\n", error->message);
      return 2;
    }
  if (n < 1 || n > 250 || first < 0 || port < 0 || port > 65535 || delay_ms < 0 || reboot_ms < 0 ||
      (password != NULL && password_type != 0 && password_type != 3 && password_type != 4))
    {
      fprintf (stderr, "hilink-emulator: bad --count, --first, --port, --password-type or delay\n");
      return 2;
    }

  for (int i = 0; i < n; i++)
    {
      HilinkEmu *emu = hilink_emu_new (address, port != 0 ? port + i : 0, first + i, &error);
      g_autofree char *url = NULL;

      if (emu == NULL)
        {
          fprintf (stderr, "hilink-emulator: cannot listen: %s\n", error->message);
          return 1;
        }
      if (password != NULL)
        hilink_emu_set_login (emu, username, password, password_type);
      hilink_emu_set_delays (emu, delay_ms, reboot_ms);
      hilink_emu_set_sticky (emu, sticky);
      g_ptr_array_add (emus, emu);
      for (guint j = 0; busy_on != NULL && busy_on[j] != NULL; j++)
        if (!hilink_emu_busy_on (emu, busy_on[j], &error))
          {
            fprintf (stderr, "hilink-emulator: %s\n", error->message);
            return 2;
          }
      url = hilink_emu_dup_url (emu);
      printf ("dongle %d %s\n", first + i, url);
    }
  fflush (stdout);

  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, quit_cb, loop);
  g_unix_signal_add (SIGTERM, quit_cb, loop);
  g_main_loop_run (loop);
  return 0;
}
