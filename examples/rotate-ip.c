/* rotate-ip.c: get a HiLink dongle a new mobile IP with PkRotation
 *
 *   rotate-ip [API-URL [EGRESS-ADDRESS [METHOD]]]
 *   rotate-ip http://192.168.11.1 192.168.11.100 data
 *
 * Try it against the emulator: build/tests/hilink-emulator prints the URL
 * of an emulated dongle; use 127.0.0.1 as the egress address.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <proxykit/proxykit.h>

typedef struct {
  GMainLoop *loop;
  int status;
} Run;

static void
on_rotated (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  PkRotation *rotation = PK_ROTATION (source);
  Run *run = user_data;
  g_autoptr(GError) error = NULL;

  if (pk_rotation_run_finish (rotation, result, &error))
    g_print ("%s -> %s by %s in %" G_GUINT64_FORMAT " ms%s\n",
             pk_rotation_get_old_ip (rotation), pk_rotation_get_new_ip (rotation),
             pk_rotation_method_to_string (pk_rotation_get_final_method (rotation)),
             pk_rotation_get_duration_ms (rotation),
             pk_rotation_get_escalated (rotation) ? " (escalated)" : "");
  else
    {
      g_printerr ("no new IP: %s (Huawei code %u)\n", error->message, pk_hilink_error_get_code (error));
      run->status = 1;
    }

  for (guint i = 0; i < pk_rotation_get_n_attempts (rotation); i++)
    g_print ("  %s: %s\n", pk_rotation_method_to_string (pk_rotation_get_attempt_method (rotation, i)),
             pk_rotation_outcome_to_string (pk_rotation_get_attempt_outcome (rotation, i)));
  g_main_loop_quit (run->loop);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkEgress) egress = NULL;
  g_autoptr(PkHilinkModem) modem = NULL;
  g_autoptr(PkRotation) rotation = NULL;
  PkRotationMethod method = PK_ROTATION_METHOD_DATA;
  Run run = { g_main_loop_new (NULL, FALSE), 0 };

  if (argc > 3 && !pk_rotation_method_from_string (argv[3], &method))
    {
      g_printerr ("unknown method %s (data, netmode, reboot)\n", argv[3]);
      return 2;
    }
  egress = pk_egress_new_full (argc > 2 ? argv[2] : NULL, NULL, 0, 0, &error);
  if (egress != NULL)
    modem = pk_hilink_modem_new (argc > 1 ? argv[1] : NULL, egress, &error);
  if (modem == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }

  rotation = pk_rotation_new (PK_MODEM (modem), method);
  pk_rotation_run_async (rotation, NULL, on_rotated, &run);
  g_main_loop_run (run.loop);
  g_main_loop_unref (run.loop);
  return run.status;
}
