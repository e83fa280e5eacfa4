/* relay-with-status.c: relay ports with PkRelay and print each rule's status
 *
 *   relay-with-status RULE...
 *   relay-with-status '127.0.0.1:50025;25;192.0.2.10;TCP' '51820;51820;192.0.2.20;UDP'
 *
 * Rules are in the shell tools' format, in_port;out_port;out_host;TCP|UDP.
 * Every 5 seconds it prints the status JSON; Ctrl-C stops it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib-unix.h>
#include <proxykit/proxykit.h>

static gboolean
print_status (gpointer user_data)
{
  g_autofree char *json = pk_relay_dup_status_json (PK_RELAY (user_data));

  g_print ("%s\n", json);
  return G_SOURCE_CONTINUE;
}

static gboolean
quit (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  g_autoptr(GPtrArray) rules = g_ptr_array_new_with_free_func ((GDestroyNotify) pk_relay_rule_unref);
  g_autoptr(PkRelay) relay = pk_relay_new ();
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GError) error = NULL;

  if (argc < 2)
    {
      g_printerr ("usage: %s 'in_port;out_port;out_host;TCP|UDP'...\n", argv[0]);
      return 2;
    }

  /* Read every rule before anything listens. */
  for (int i = 1; i < argc; i++)
    {
      PkRelayRule *rule = pk_relay_rule_new_from_string (argv[i], &error);

      if (rule == NULL)
        {
          g_printerr ("%s\n", error->message);
          return 2;
        }
      pk_relay_rule_set_health_check (rule, TRUE, 5000, 3, 30000);
      g_ptr_array_add (rules, rule);
    }

  if (!pk_relay_set_rules (relay, rules, &error))
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }

  g_timeout_add_seconds (5, print_status, relay);
  g_unix_signal_add (SIGINT, quit, loop);
  g_main_loop_run (loop);

  pk_relay_stop (relay);
  return 0;
}
