/* test-probe-dongle.c: pk_probe_new_dongle(), the ladder's diagnosis as a probe
 *
 * A dongle on loopback ("lo" holding 127.0.0.1) with a HiLink emulator
 * on 127.0.0.1 as its API: every answer yes passes; a missing interface,
 * an address the interface does not hold, a routing that is wrong and an
 * API that does not answer each fail with their own reason.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <proxykit/proxykit.h>

#include "hilink-emu.h"
#include "pk-test-utils.h"

static gboolean
run_probe (PkProbe  *probe,
           GError  **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  pk_probe_run_async (probe, 10000, NULL, pk_test_store_result, &result);
  pk_test_wait_result (&result, 20000);
  return pk_probe_run_finish (probe, result, NULL, error);
}

static PkModem *
modem_for (HilinkEmu *emu)
{
  g_autofree char *url = hilink_emu_dup_url (emu);
  g_autoptr(GError) error = NULL;
  PkHilinkModem *modem = pk_hilink_modem_new (url, NULL, &error);

  g_assert_no_error (error);
  pk_hilink_modem_set_timeout (modem, 2000);
  return PK_MODEM (modem);
}

static void
test_healthy (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HilinkEmu) emu = hilink_emu_new ("127.0.0.1", 0, 11, &error);
  g_autoptr(PkModem) modem = modem_for (emu);
  g_autoptr(PkDongle) dongle = pk_dongle_new (11, "lo", "127.0.0.1");
  g_autoptr(PkProbe) probe = pk_probe_new_dongle (dongle, NULL, modem);

  g_assert_cmpint (pk_probe_get_kind (probe), ==, PK_PROBE_DONGLE);
  g_assert_cmpstr (pk_probe_get_description (probe), ==, "dongle 11");
  g_assert_true (run_probe (probe, &error));
  g_assert_no_error (error);
}

static void
test_interface_missing (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkDongle) dongle = pk_dongle_new (12, "pk-no-such0", "192.168.12.100");
  g_autoptr(PkProbe) probe = pk_probe_new_dongle (dongle, NULL, NULL);

  g_assert_false (run_probe (probe, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CHECK_FAILED);
  g_assert_true (g_str_has_prefix (error->message, "dongle 12: interface pk-no-such0"));
}

static void
test_address_not_held (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkDongle) dongle = pk_dongle_new (13, "lo", "192.168.13.100");
  g_autoptr(PkProbe) probe = pk_probe_new_dongle (dongle, NULL, NULL);

  g_assert_false (run_probe (probe, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CHECK_FAILED);
  g_assert_cmpstr (error->message, ==, "dongle 13: interface lo does not hold 192.168.13.100");
}

static void
test_routing_wrong (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkDongle) dongle = pk_dongle_new (14, "lo", "127.0.0.1");
  g_autoptr(PkRouting) routing = pk_routing_new (dongle);
  g_autoptr(PkProbe) probe = NULL;

  /* table 14 and its rule do not exist on this host */
  pk_routing_set_backend (routing, PK_ROUTING_BACKEND_RTNETLINK);
  probe = pk_probe_new_dongle (dongle, routing, NULL);
  g_assert_false (run_probe (probe, &error));
  g_assert_nonnull (error);
  g_assert_true (g_str_has_prefix (error->message, "dongle 14: routing: "));
}

static void
test_api_down (void)
{
  g_autoptr(GError) error = NULL;
  HilinkEmu *emu = hilink_emu_new ("127.0.0.1", 0, 15, &error);
  g_autoptr(PkModem) modem = modem_for (emu);
  g_autoptr(PkDongle) dongle = pk_dongle_new (15, "lo", "127.0.0.1");
  g_autoptr(PkProbe) probe = pk_probe_new_dongle (dongle, NULL, modem);

  hilink_emu_free (emu);  /* nothing answers on its port now */
  g_assert_false (run_probe (probe, &error));
  g_assert_nonnull (error);
  g_assert_true (g_str_has_prefix (error->message, "dongle 15: API: "));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/probe/dongle/healthy", test_healthy);
  g_test_add_func ("/probe/dongle/interface-missing", test_interface_missing);
  g_test_add_func ("/probe/dongle/address-not-held", test_address_not_held);
  g_test_add_func ("/probe/dongle/routing-wrong", test_routing_wrong);
  g_test_add_func ("/probe/dongle/api-down", test_api_down);
  return g_test_run ();
}
