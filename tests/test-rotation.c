/* test-rotation.c: PkRotation against the emulated E8372h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include <proxykit/proxykit.h>

#include "hilink-emu.h"
#include "pk-test-utils.h"

typedef struct {
  HilinkEmu *emu;
  PkHilinkModem *modem;
} Fixture;

static void
setup (Fixture       *f,
       gconstpointer  data)
{
  /* Scaled down: reconnects in 40 ms, reboots in 80 ms. */
  f->emu = hilink_test_emu_with_modem (21, 40, 80, 2000, &f->modem);
}

static void
teardown (Fixture       *f,
          gconstpointer  data)
{
  g_clear_object (&f->modem);
  g_clear_pointer (&f->emu, hilink_emu_free);
}

static PkRotation *
new_rotation (Fixture          *f,
              PkRotationMethod  method)
{
  PkRotation *rotation = pk_rotation_new (PK_MODEM (f->modem), method);

  pk_rotation_set_timing (rotation, 20, 15, 3000);
  return rotation;
}

static gboolean
run (PkRotation  *rotation,
     GError     **error)
{
  g_autoptr(GAsyncResult) res = NULL;

  pk_rotation_run_async (rotation, NULL, pk_test_store_result, &res);
  pk_test_wait_result (&res, 30000);
  return pk_rotation_run_finish (rotation, res, error);
}

static void
assert_rotated (Fixture          *f,
                PkRotation       *rotation,
                const char       *old_ip,
                PkRotationMethod  method)
{
  g_assert_cmpstr (pk_rotation_get_old_ip (rotation), ==, old_ip);
  g_assert_nonnull (pk_rotation_get_new_ip (rotation));
  g_assert_cmpstr (pk_rotation_get_new_ip (rotation), !=, old_ip);
  g_assert_cmpstr (pk_rotation_get_new_ip (rotation), ==, hilink_emu_get_wan_ip (f->emu));
  g_assert_cmpint (pk_rotation_get_final_method (rotation), ==, method);
  g_assert_cmpint (hilink_emu_get_status (f->emu), ==, 901);
}

static void
test_method (Fixture       *f,
             gconstpointer  data)
{
  PkRotationMethod method = GPOINTER_TO_INT (data);
  g_autoptr(GError) error = NULL;
  g_autoptr(PkRotation) rotation = new_rotation (f, method);
  g_autofree char *old_ip = g_strdup (hilink_emu_get_wan_ip (f->emu));

  g_assert_true (run (rotation, &error));
  g_assert_no_error (error);
  assert_rotated (f, rotation, old_ip, method);
  g_assert_cmpuint (pk_rotation_get_n_attempts (rotation), ==, 1);
  g_assert_false (pk_rotation_get_escalated (rotation));
  g_assert_cmpint (pk_rotation_get_attempt_outcome (rotation, 0), ==, PK_ROTATION_OUTCOME_CHANGED);
  g_assert_null (pk_rotation_get_attempt_message (rotation, 0));
  g_assert_cmpuint (pk_rotation_get_duration_ms (rotation), >=, pk_rotation_get_attempt_duration_ms (rotation, 0));

  switch (method)
    {
    case PK_ROTATION_METHOD_NETMODE:
      /* Away to 3G and back to the mode it had. */
      g_assert_cmpstr (hilink_emu_get_net_mode (f->emu), ==, "00");
      g_assert_nonnull (strstr (hilink_emu_get_last_body (f->emu), "<NetworkMode>00</NetworkMode>"));
      g_assert_cmpuint (hilink_emu_count (f->emu, "reboots"), ==, 0);
      break;
    case PK_ROTATION_METHOD_REBOOT:
      g_assert_cmpuint (hilink_emu_count (f->emu, "reboots"), ==, 1);
      break;
    case PK_ROTATION_METHOD_DATA:
    default:
      g_assert_nonnull (strstr (hilink_emu_get_last_body (f->emu), "<dataswitch>1</dataswitch>"));
      g_assert_cmpuint (hilink_emu_count (f->emu, "reboots"), ==, 0);
      break;
    }
}

static void
test_netmode_from_3g (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkRotation) rotation = NULL;
  g_autoptr(GAsyncResult) res = NULL;

  /* A modem that is on 3G already goes away to auto and back to 3G. */
  pk_modem_set_network_mode_async (PK_MODEM (f->modem), PK_MODEM_NETWORK_MODE_3G_ONLY, NULL,
                                   pk_test_store_result, &res);
  pk_test_wait_result (&res, 30000);
  g_assert_true (pk_modem_set_network_mode_finish (PK_MODEM (f->modem), res, &error));
  rotation = new_rotation (f, PK_ROTATION_METHOD_NETMODE);
  g_assert_true (run (rotation, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (hilink_emu_get_net_mode (f->emu), ==, "02");
}

static void
test_escalation (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkRotation) rotation = new_rotation (f, PK_ROTATION_METHOD_DATA);
  g_autofree char *old_ip = g_strdup (hilink_emu_get_wan_ip (f->emu));

  /* The carrier hands the same IP back after a data switch. */
  hilink_emu_set_sticky (f->emu, "data");
  g_assert_true (run (rotation, &error));
  g_assert_no_error (error);
  assert_rotated (f, rotation, old_ip, PK_ROTATION_METHOD_NETMODE);
  g_assert_true (pk_rotation_get_escalated (rotation));
  g_assert_cmpuint (pk_rotation_get_n_attempts (rotation), ==, 2);
  g_assert_cmpint (pk_rotation_get_attempt_method (rotation, 0), ==, PK_ROTATION_METHOD_DATA);
  g_assert_cmpint (pk_rotation_get_attempt_outcome (rotation, 0), ==, PK_ROTATION_OUTCOME_UNCHANGED);
  g_assert_nonnull (strstr (pk_rotation_get_attempt_message (rotation, 0), old_ip));
  g_assert_cmpint (pk_rotation_get_attempt_method (rotation, 1), ==, PK_ROTATION_METHOD_NETMODE);
  g_assert_cmpint (pk_rotation_get_attempt_outcome (rotation, 1), ==, PK_ROTATION_OUTCOME_CHANGED);
}

static void
test_escalation_to_reboot (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkRotation) rotation = new_rotation (f, PK_ROTATION_METHOD_DATA);
  g_autofree char *old_ip = g_strdup (hilink_emu_get_wan_ip (f->emu));

  hilink_emu_set_sticky (f->emu, "data,netmode");
  g_assert_true (run (rotation, &error));
  g_assert_no_error (error);
  assert_rotated (f, rotation, old_ip, PK_ROTATION_METHOD_REBOOT);
  g_assert_cmpuint (pk_rotation_get_n_attempts (rotation), ==, 3);
  g_assert_cmpuint (hilink_emu_count (f->emu, "reboots"), ==, 1);
}

static void
test_escalation_starts_after_method (Fixture       *f,
                                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkRotation) rotation = new_rotation (f, PK_ROTATION_METHOD_NETMODE);
  g_autofree char *old_ip = g_strdup (hilink_emu_get_wan_ip (f->emu));

  /* netmode first, then what comes after it in the order: reboot, not data. */
  hilink_emu_set_sticky (f->emu, "netmode");
  g_assert_true (run (rotation, &error));
  g_assert_no_error (error);
  assert_rotated (f, rotation, old_ip, PK_ROTATION_METHOD_REBOOT);
  g_assert_cmpuint (pk_rotation_get_n_attempts (rotation), ==, 2);
  g_assert_cmpint (pk_rotation_get_attempt_method (rotation, 0), ==, PK_ROTATION_METHOD_NETMODE);
}

static void
test_custom_order (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkRotation) rotation = new_rotation (f, PK_ROTATION_METHOD_DATA);
  g_autofree char *order = NULL;

  g_assert_true (pk_rotation_set_escalation (rotation, " reboot , data ", &error));
  order = pk_rotation_dup_escalation (rotation);
  g_assert_cmpstr (order, ==, "reboot,data");

  /* data is last in this order: nothing after it. */
  hilink_emu_set_sticky (f->emu, "data");
  g_assert_false (run (rotation, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_UNCHANGED);
  g_assert_cmpuint (pk_rotation_get_n_attempts (rotation), ==, 1);
}

static void
test_all_unchanged (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkRotation) rotation = new_rotation (f, PK_ROTATION_METHOD_DATA);
  g_autofree char *old_ip = g_strdup (hilink_emu_get_wan_ip (f->emu));

  hilink_emu_set_sticky (f->emu, "data,netmode,reboot");
  g_assert_false (run (rotation, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_UNCHANGED);
  g_assert_nonnull (strstr (error->message, old_ip));
  g_assert_null (pk_rotation_get_new_ip (rotation));
  g_assert_cmpuint (pk_rotation_get_n_attempts (rotation), ==, 3);
  for (guint i = 0; i < 3; i++)
    g_assert_cmpint (pk_rotation_get_attempt_outcome (rotation, i), ==, PK_ROTATION_OUTCOME_UNCHANGED);
  g_assert_cmpint (pk_rotation_get_final_method (rotation), ==, PK_ROTATION_METHOD_REBOOT);
}

static void
test_no_escalation (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkRotation) rotation = new_rotation (f, PK_ROTATION_METHOD_DATA);

  g_assert_true (pk_rotation_set_escalation (rotation, "none", &error));
  hilink_emu_set_sticky (f->emu, "data");
  g_assert_false (run (rotation, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_UNCHANGED);
  g_assert_cmpuint (pk_rotation_get_n_attempts (rotation), ==, 1);
  g_assert_false (pk_rotation_get_escalated (rotation));
}

static void
test_refused_request_escalates (Fixture       *f,
                                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkRotation) rotation = new_rotation (f, PK_ROTATION_METHOD_NETMODE);

  /* The modem stays busy when the rotation reads the current IP: nothing
   * is switched, and the error says why. */
  hilink_emu_inject (f->emu, 100, 0, 0);
  g_assert_false (run (rotation, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_BUSY);
  g_assert_nonnull (strstr (error->message, "100004"));
  g_assert_cmpuint (pk_rotation_get_n_attempts (rotation), ==, 0);
}

static void
test_failed_attempt_escalates (Fixture       *f,
                               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkRotation) rotation = new_rotation (f, PK_ROTATION_METHOD_DATA);
  g_autofree char *old_ip = g_strdup (hilink_emu_get_wan_ip (f->emu));

  /* Log in is required and the modem has no credentials: every setter is
   * refused with 100003, so data and netmode fail; the status still reads. */
  hilink_emu_set_login (f->emu, "admin", "pw", 0);
  g_assert_true (pk_rotation_set_escalation (rotation, "data,netmode", &error));
  g_assert_false (run (rotation, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_MODEM);
  g_assert_cmpuint (pk_rotation_get_n_attempts (rotation), ==, 2);
  g_assert_cmpint (pk_rotation_get_attempt_outcome (rotation, 0), ==, PK_ROTATION_OUTCOME_FAILED);
  g_assert_nonnull (strstr (pk_rotation_get_attempt_message (rotation, 0), "100003"));
  g_assert_cmpint (pk_rotation_get_attempt_outcome (rotation, 1), ==, PK_ROTATION_OUTCOME_FAILED);
  g_assert_cmpstr (hilink_emu_get_wan_ip (f->emu), ==, old_ip);
}

static void
test_netmode_refused_escalates (Fixture       *f,
                                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkRotation) rotation = new_rotation (f, PK_ROTATION_METHOD_NETMODE);
  g_autofree char *old_ip = g_strdup (hilink_emu_get_wan_ip (f->emu));

  /* 112003: the modem will not change its network mode; reboot instead. */
  hilink_emu_inject_faults (f->emu, 0, TRUE);
  g_assert_true (run (rotation, &error));
  g_assert_no_error (error);
  assert_rotated (f, rotation, old_ip, PK_ROTATION_METHOD_REBOOT);
  g_assert_cmpint (pk_rotation_get_attempt_outcome (rotation, 0), ==, PK_ROTATION_OUTCOME_FAILED);
  g_assert_nonnull (strstr (pk_rotation_get_attempt_message (rotation, 0), "112003"));
}

static void
test_timeout (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkRotation) rotation = new_rotation (f, PK_ROTATION_METHOD_DATA);

  hilink_emu_set_delays (f->emu, 5000, 80);
  g_assert_true (pk_rotation_set_escalation (rotation, NULL, &error));
  pk_rotation_set_timing (rotation, 10, 20, 200);
  g_assert_false (run (rotation, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpint (pk_rotation_get_attempt_outcome (rotation, 0), ==, PK_ROTATION_OUTCOME_TIMED_OUT);
}

static void
test_unreachable (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkHilinkModem) modem = NULL;
  g_autoptr(PkRotation) rotation = NULL;
  g_autofree char *url = NULL;
  guint16 port;

  {
    HilinkEmu *emu = hilink_emu_new ("127.0.0.1", 0, 1, &error);
    port = hilink_emu_get_port (emu);
    hilink_emu_free (emu);
  }
  url = g_strdup_printf ("http://127.0.0.1:%u", port);
  modem = pk_hilink_modem_new (url, NULL, &error);
  pk_hilink_modem_set_timeout (modem, 500);
  rotation = pk_rotation_new (PK_MODEM (modem), PK_ROTATION_METHOD_DATA);
  g_assert_false (run (rotation, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_assert_true (g_str_has_prefix (error->message, "reading the current IP: "));
  g_assert_cmpuint (pk_rotation_get_n_attempts (rotation), ==, 0);
}

static void
test_cancel (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkRotation) rotation = new_rotation (f, PK_ROTATION_METHOD_DATA);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) res = NULL;

  /* A long pause between off and on, cancelled in the middle. */
  pk_rotation_set_timing (rotation, 10000, 15, 3000);
  pk_rotation_run_async (rotation, cancellable, pk_test_store_result, &res);
  while (hilink_emu_get_status (f->emu) != 902)
    g_main_context_iteration (NULL, TRUE);
  g_cancellable_cancel (cancellable);
  pk_test_wait_result (&res, 30000);
  g_assert_false (pk_rotation_run_finish (rotation, res, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (pk_rotation_get_duration_ms (rotation), <, 10000);
  /* Cancelled between off and on: data is on again. */
  g_assert_true (hilink_emu_get_data_enabled (f->emu));
}

/* --- a busy modem at every step --- */

typedef struct {
  const char *name;
  PkRotationMethod method;
  const char *busy_on;    /* see hilink_emu_busy_on() */
} BusyCase;

/* Each request of each method: the read of the current IP, the switches,
 * the reads of the net mode and the status polls afterwards. */
static const BusyCase busy_cases[] = {
  { "data/session", PK_ROTATION_METHOD_DATA, "GET:/api/webserver/SesTokInfo" },
  { "data/current-ip", PK_ROTATION_METHOD_DATA, "GET:/api/monitoring/status@1" },
  { "data/off", PK_ROTATION_METHOD_DATA, "POST:/api/dialup/mobile-dataswitch@1" },
  { "data/on", PK_ROTATION_METHOD_DATA, "POST:/api/dialup/mobile-dataswitch@2" },
  { "data/poll", PK_ROTATION_METHOD_DATA, "GET:/api/monitoring/status@2" },
  { "netmode/current-ip", PK_ROTATION_METHOD_NETMODE, "GET:/api/monitoring/status@1" },
  { "netmode/read-mode", PK_ROTATION_METHOD_NETMODE, "GET:/api/net/net-mode" },
  { "netmode/away", PK_ROTATION_METHOD_NETMODE, "POST:/api/net/net-mode@1" },
  { "netmode/back", PK_ROTATION_METHOD_NETMODE, "POST:/api/net/net-mode@2" },
  { "netmode/poll", PK_ROTATION_METHOD_NETMODE, "GET:/api/monitoring/status@2" },
  { "reboot/current-ip", PK_ROTATION_METHOD_REBOOT, "GET:/api/monitoring/status@1" },
  { "reboot/reboot", PK_ROTATION_METHOD_REBOOT, "POST:/api/device/control" },
  { "reboot/poll", PK_ROTATION_METHOD_REBOOT, "GET:/api/monitoring/status@2" },
};

static void
assert_as_found (Fixture *f)
{
  g_assert_true (hilink_emu_get_data_enabled (f->emu));
  g_assert_cmpstr (hilink_emu_get_net_mode (f->emu), ==, "00");
}

static void
test_busy_once (Fixture       *f,
                gconstpointer  data)
{
  const BusyCase *c = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PkRotation) rotation = new_rotation (f, c->method);
  g_autofree char *old_ip = g_strdup (hilink_emu_get_wan_ip (f->emu));

  /* One busy answer is retried: the method asked for still works. */
  g_assert_true (hilink_emu_busy_on (f->emu, c->busy_on, &error));
  g_assert_true (run (rotation, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (hilink_emu_count (f->emu, "busy"), ==, 1);
  assert_rotated (f, rotation, old_ip, c->method);
  g_assert_cmpuint (pk_rotation_get_n_attempts (rotation), ==, 1);
  assert_as_found (f);
}

static void
test_busy_between_off_and_on (Fixture       *f,
                              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkRotation) rotation = new_rotation (f, PK_ROTATION_METHOD_DATA);
  g_autofree char *old_ip = g_strdup (hilink_emu_get_wan_ip (f->emu));

  /* "data on" stays busy past the modem's retries: the rotation turns
   * data on again before it escalates, and netmode brings the new IP. */
  g_assert_true (hilink_emu_busy_on (f->emu, "POST:/api/dialup/mobile-dataswitch@2x6", &error));
  g_assert_true (run (rotation, &error));
  g_assert_no_error (error);
  assert_rotated (f, rotation, old_ip, PK_ROTATION_METHOD_NETMODE);
  g_assert_cmpint (pk_rotation_get_attempt_outcome (rotation, 0), ==, PK_ROTATION_OUTCOME_FAILED);
  g_assert_nonnull (strstr (pk_rotation_get_attempt_message (rotation, 0), "100004"));
  g_assert_null (strstr (pk_rotation_get_attempt_message (rotation, 0), "could not"));
  assert_as_found (f);
}

static void
test_busy_between_away_and_back (Fixture       *f,
                                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkRotation) rotation = new_rotation (f, PK_ROTATION_METHOD_NETMODE);
  g_autofree char *old_ip = g_strdup (hilink_emu_get_wan_ip (f->emu));

  /* The switch back stays busy: the mode is put back, then a reboot. */
  g_assert_true (hilink_emu_busy_on (f->emu, "POST:/api/net/net-mode@2x6", &error));
  g_assert_true (run (rotation, &error));
  g_assert_no_error (error);
  assert_rotated (f, rotation, old_ip, PK_ROTATION_METHOD_REBOOT);
  g_assert_cmpint (pk_rotation_get_attempt_outcome (rotation, 0), ==, PK_ROTATION_OUTCOME_FAILED);
  assert_as_found (f);
}

static void
test_busy_restore_fails (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkRotation) rotation = new_rotation (f, PK_ROTATION_METHOD_DATA);
  g_autofree char *warnings = NULL;

  /* Busy for good after data off: the run says that data is left off. */
  pk_hilink_modem_set_timeout (f->modem, 500);
  g_assert_true (pk_rotation_set_escalation (rotation, NULL, &error));
  g_assert_true (hilink_emu_busy_on (f->emu, "POST:/api/dialup/mobile-dataswitch@2x1000", &error));
  g_assert_false (run (rotation, &error));
  warnings = pk_test_take_expected_warnings ();
  g_assert_nonnull (strstr (warnings, "rotation: could not switch mobile data back on"));
  g_assert_error (error, PK_ERROR, PK_ERROR_MODEM);
  g_assert_nonnull (strstr (error->message, "could not switch mobile data back on"));
  g_assert_cmpuint (hilink_emu_count (f->emu, "busy"), >=, 4);

  /* Once the modem answers, a new run brings it back. */
  hilink_emu_clear_busy_on (f->emu);
  g_clear_object (&rotation);
  g_clear_error (&error);
  rotation = new_rotation (f, PK_ROTATION_METHOD_DATA);
  g_assert_true (run (rotation, &error));
  assert_as_found (f);
}

static void
test_names (void)
{
  g_autoptr(GError) error = NULL;
  PkRotationMethod m;
  g_autoptr(PkHilinkModem) modem = pk_hilink_modem_new ("http://127.0.0.1:9", NULL, &error);
  g_autoptr(PkRotation) rotation = pk_rotation_new (PK_MODEM (modem), PK_ROTATION_METHOD_REBOOT);

  g_assert_true (pk_rotation_method_from_string ("netmode", &m));
  g_assert_cmpint (m, ==, PK_ROTATION_METHOD_NETMODE);
  g_assert_false (pk_rotation_method_from_string ("usb", &m));
  g_assert_cmpstr (pk_rotation_outcome_to_string (PK_ROTATION_OUTCOME_TIMED_OUT), ==, "timed-out");
  g_assert_cmpint (pk_rotation_get_method (rotation), ==, PK_ROTATION_METHOD_REBOOT);
  g_assert_true (pk_rotation_get_modem (rotation) == PK_MODEM (modem));

  g_assert_false (pk_rotation_set_escalation (rotation, "data,usb", &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "'usb'"));
}

/* The method is a property of the enum type, so that GObject tooling
 * (introspection, g_object_get, bindings) sees the names. */
static void
test_method_property_is_an_enum (void)
{
  g_autoptr(PkHilinkModem) modem = pk_hilink_modem_new ("http://127.0.0.1:9", NULL, NULL);
  g_autoptr(PkRotation) rotation = pk_rotation_new (PK_MODEM (modem), PK_ROTATION_METHOD_NETMODE);
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (rotation), "method");
  PkRotationMethod method = PK_ROTATION_METHOD_DATA;

  g_assert_true (G_IS_PARAM_SPEC_ENUM (pspec));
  g_assert_true (pspec->value_type == PK_TYPE_ROTATION_METHOD);
  g_object_get (rotation, "method", &method, NULL);
  g_assert_cmpint (method, ==, PK_ROTATION_METHOD_NETMODE);
}

int
main (int    argc,
      char **argv)
{
  pk_test_init (&argc, &argv);
  pk_test_expect_warnings ("rotation: could not switch");

  g_test_add ("/rotation/method/data", Fixture, GINT_TO_POINTER (PK_ROTATION_METHOD_DATA),
              setup, test_method, teardown);
  g_test_add ("/rotation/method/netmode", Fixture, GINT_TO_POINTER (PK_ROTATION_METHOD_NETMODE),
              setup, test_method, teardown);
  g_test_add ("/rotation/method/reboot", Fixture, GINT_TO_POINTER (PK_ROTATION_METHOD_REBOOT),
              setup, test_method, teardown);
  g_test_add ("/rotation/method/netmode-from-3g", Fixture, NULL, setup, test_netmode_from_3g, teardown);
  g_test_add ("/rotation/escalation/data-to-netmode", Fixture, NULL, setup, test_escalation, teardown);
  g_test_add ("/rotation/escalation/to-reboot", Fixture, NULL, setup, test_escalation_to_reboot, teardown);
  g_test_add ("/rotation/escalation/starts-after-method", Fixture, NULL, setup,
              test_escalation_starts_after_method, teardown);
  g_test_add ("/rotation/escalation/custom-order", Fixture, NULL, setup, test_custom_order, teardown);
  g_test_add ("/rotation/escalation/all-unchanged", Fixture, NULL, setup, test_all_unchanged, teardown);
  g_test_add ("/rotation/escalation/none", Fixture, NULL, setup, test_no_escalation, teardown);
  g_test_add ("/rotation/escalation/after-failed-request", Fixture, NULL, setup,
              test_failed_attempt_escalates, teardown);
  g_test_add ("/rotation/error/busy-before-start", Fixture, NULL, setup, test_refused_request_escalates, teardown);
  g_test_add ("/rotation/escalation/after-netmode-refused", Fixture, NULL, setup,
              test_netmode_refused_escalates, teardown);
  g_test_add ("/rotation/error/timeout", Fixture, NULL, setup, test_timeout, teardown);
  g_test_add ("/rotation/error/cancel", Fixture, NULL, setup, test_cancel, teardown);
  g_test_add_func ("/rotation/error/unreachable", test_unreachable);
  g_test_add_func ("/rotation/names", test_names);
  g_test_add_func ("/rotation/method-property-is-an-enum", test_method_property_is_an_enum);
  for (gsize i = 0; i < G_N_ELEMENTS (busy_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/rotation/busy-once/%s", busy_cases[i].name);
      g_test_add (path, Fixture, &busy_cases[i], setup, test_busy_once, teardown);
    }
  g_test_add ("/rotation/busy/between-off-and-on", Fixture, NULL, setup,
              test_busy_between_off_and_on, teardown);
  g_test_add ("/rotation/busy/between-away-and-back", Fixture, NULL, setup,
              test_busy_between_away_and_back, teardown);
  g_test_add ("/rotation/busy/restore-fails", Fixture, NULL, setup, test_busy_restore_fails, teardown);

  return g_test_run ();
}
