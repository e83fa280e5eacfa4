/* test-toggle.c: PkToggle against emulated E8372h dongles
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include <json-glib/json-glib.h>
#include <proxykit/proxykit.h>

#include "hilink-emu.h"
#include "pk-test-utils.h"

/* A stand-in for a later step (USB rebind, port power cycle): it
 * "power-cycles" the emulated dongle through the emulator, which brings it
 * back with a new IP. It shows that steps plug in without changes to
 * PkToggle. */
#define TEST_TYPE_POWER_STEP (test_power_step_get_type ())
G_DECLARE_FINAL_TYPE (TestPowerStep, test_power_step, TEST, POWER_STEP, GObject)

struct _TestPowerStep
{
  GObject parent_instance;
  HilinkEmu *emu;
  guint runs;
  const char *method;   /* what its outcome names, NULL for none */
};

static void test_power_step_iface_init (PkToggleStepInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestPowerStep, test_power_step, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (PK_TYPE_TOGGLE_STEP, test_power_step_iface_init))

static void
test_power_step_class_init (TestPowerStepClass *klass)
{
}

static void
test_power_step_init (TestPowerStep *self)
{
}

static const char *
power_get_name (PkToggleStep *step)
{
  return "power-cycle";
}

static gboolean
power_back (gpointer data)
{
  GTask *task = data;
  TestPowerStep *self = g_task_get_source_object (task);

  /* Like a USB rebind, the step waits until the dongle is back. */
  if (hilink_emu_get_status (self->emu) != 901)
    return G_SOURCE_CONTINUE;
  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
  return G_SOURCE_REMOVE;
}

static void
power_run_async (PkToggleStep        *step,
                 PkToggle            *toggle,
                 GCancellable        *cancellable,
                 GAsyncReadyCallback  callback,
                 gpointer             user_data)
{
  TestPowerStep *self = TEST_POWER_STEP (step);
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  self->runs++;
  g_assert_nonnull (pk_toggle_get_old_ip (toggle));
  hilink_emu_power_cycle (self->emu);
  g_timeout_add (10, power_back, task);
}

static gboolean
power_run_finish (PkToggleStep          *step,
                  GAsyncResult          *result,
                  PkToggleStepOutcome  **out_outcome,
                  GError               **error)
{
  *out_outcome = pk_toggle_step_outcome_new (TEST_POWER_STEP (step)->method, 1,
                                             TEST_POWER_STEP (step)->method != NULL, "port power cycled");
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
test_power_step_iface_init (PkToggleStepInterface *iface)
{
  iface->get_name = power_get_name;
  iface->run_async = power_run_async;
  iface->run_finish = power_run_finish;
}

/* --- fixture: two dongles, one limiter --- */

typedef struct {
  HilinkEmu *emu[3];
  PkHilinkModem *modem[3];
  PkToggle *toggle[3];
  PkToggleLimiter *limiter;
} Fixture;

static PkToggleModemStep *
new_modem_step (void)
{
  PkToggleModemStep *step = pk_toggle_modem_step_new ();

  pk_toggle_modem_step_set_timing (step, 20, 15, 3000);
  return step;
}

static void
setup (Fixture       *f,
       gconstpointer  data)
{
  f->limiter = pk_toggle_limiter_new (2);
  for (guint i = 0; i < G_N_ELEMENTS (f->emu); i++)
    {
      g_autoptr(PkToggleModemStep) step = new_modem_step ();

      f->emu[i] = hilink_test_emu_with_modem (31 + i, 40, 80, 2000, &f->modem[i]);
      f->toggle[i] = pk_toggle_new (31 + i, PK_MODEM (f->modem[i]), f->limiter);
      pk_toggle_set_cooldown (f->toggle[i], 0);
      pk_toggle_add_step (f->toggle[i], PK_TOGGLE_STEP (step));
    }
}

static void
teardown (Fixture       *f,
          gconstpointer  data)
{
  for (guint i = 0; i < G_N_ELEMENTS (f->emu); i++)
    {
      g_clear_object (&f->toggle[i]);
      g_clear_object (&f->modem[i]);
      g_clear_pointer (&f->emu[i], hilink_emu_free);
    }
  g_clear_object (&f->limiter);
}

static PkToggleResult *
run (PkToggle          *toggle,
     PkRotationMethod   method,
     gboolean           recovery,
     GError           **error)
{
  g_autoptr(GAsyncResult) res = NULL;

  pk_toggle_run_async (toggle, method, recovery, NULL, pk_test_store_result, &res);
  pk_test_wait_result (&res, 30000);
  return pk_toggle_run_finish (toggle, res, error);
}

static void
test_success (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkToggleResult) result = NULL;
  g_autofree char *old_ip = g_strdup (hilink_emu_get_wan_ip (f->emu[0]));
  g_autofree char *json = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *obj;
  JsonArray *steps;

  result = run (f->toggle[0], PK_ROTATION_METHOD_DATA, FALSE, &error);
  g_assert_no_error (error);
  g_assert_true (pk_toggle_result_get_success (result));
  g_assert_null (pk_toggle_result_get_error (result));
  g_assert_cmpuint (pk_toggle_result_get_id (result), ==, 31);
  g_assert_cmpstr (pk_toggle_result_get_old_ip (result), ==, old_ip);
  g_assert_cmpstr (pk_toggle_result_get_new_ip (result), ==, hilink_emu_get_wan_ip (f->emu[0]));
  g_assert_cmpstr (pk_toggle_result_get_new_ip (result), !=, old_ip);
  g_assert_cmpstr (pk_toggle_result_get_method (result), ==, "data");
  g_assert_cmpuint (pk_toggle_result_get_attempts (result), ==, 1);
  g_assert_false (pk_toggle_result_get_escalated (result));
  g_assert_cmpuint (pk_toggle_result_get_n_steps (result), ==, 2);
  g_assert_cmpstr (pk_toggle_result_get_step_name (result, 0), ==, "diagnose");
  g_assert_cmpstr (pk_toggle_result_get_step_outcome (result, 0), ==, "ok");
  g_assert_cmpstr (pk_toggle_result_get_step_name (result, 1), ==, "modem");
  g_assert_cmpstr (pk_toggle_result_get_step_outcome (result, 1), ==, "changed");
  g_assert_cmpstr (pk_toggle_result_get_step_detail (result, 1), ==, "data: changed");
  g_assert_true (pk_toggle_get_last_result (f->toggle[0]) == result);
  g_assert_cmpuint (pk_toggle_limiter_get_running (f->limiter), ==, 0);
  g_assert_false (pk_toggle_is_running (f->toggle[0]));

  json = pk_toggle_result_to_json (result);
  g_assert_true (json_parser_load_from_data (parser, json, -1, &error));
  obj = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpint (json_object_get_int_member (obj, "dongle"), ==, 31);
  g_assert_true (json_object_get_boolean_member (obj, "success"));
  g_assert_cmpstr (json_object_get_string_member (obj, "old_ip"), ==, old_ip);
  g_assert_cmpstr (json_object_get_string_member (obj, "method"), ==, "data");
  g_assert_false (json_object_has_member (obj, "error"));
  steps = json_object_get_array_member (obj, "steps");
  g_assert_cmpuint (json_array_get_length (steps), ==, 2);
}

static void
test_escalated (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkToggleResult) result = NULL;

  hilink_emu_set_sticky (f->emu[0], "data");
  result = run (f->toggle[0], PK_ROTATION_METHOD_DATA, FALSE, &error);
  g_assert_no_error (error);
  g_assert_true (pk_toggle_result_get_success (result));
  g_assert_cmpstr (pk_toggle_result_get_method (result), ==, "netmode");
  g_assert_cmpuint (pk_toggle_result_get_attempts (result), ==, 2);
  g_assert_true (pk_toggle_result_get_escalated (result));
  g_assert_nonnull (strstr (pk_toggle_result_get_step_detail (result, 1), "data: unchanged"));
}

static void
test_unchanged (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkToggleResult) result = NULL;
  g_autofree char *json = NULL;
  const GError *reason;

  hilink_emu_set_sticky (f->emu[0], "data,netmode,reboot");
  result = run (f->toggle[0], PK_ROTATION_METHOD_DATA, FALSE, &error);
  g_assert_no_error (error);
  g_assert_false (pk_toggle_result_get_success (result));
  reason = pk_toggle_result_get_error (result);
  g_assert_error ((GError *) reason, PK_ERROR, PK_ERROR_UNCHANGED);
  g_assert_null (pk_toggle_result_get_new_ip (result));
  g_assert_cmpstr (pk_toggle_result_get_step_outcome (result, 1), ==, "unchanged");
  g_assert_cmpuint (pk_toggle_result_get_attempts (result), ==, 3);

  json = pk_toggle_result_to_json (result);
  g_assert_nonnull (strstr (json, "\"success\":false"));
  g_assert_nonnull (strstr (json, "\"error\":"));
}

static void
test_busy (Fixture       *f,
           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) first = NULL;
  g_autoptr(PkToggleResult) second = NULL;
  g_autoptr(PkToggleResult) result = NULL;

  pk_toggle_run_async (f->toggle[0], PK_ROTATION_METHOD_DATA, FALSE, NULL, pk_test_store_result, &first);
  g_assert_true (pk_toggle_is_running (f->toggle[0]));
  second = run (f->toggle[0], PK_ROTATION_METHOD_DATA, FALSE, &error);
  g_assert_null (second);
  g_assert_error (error, PK_ERROR, PK_ERROR_BUSY);
  g_assert_nonnull (strstr (error->message, "dongle 31"));

  pk_test_wait_result (&first, 30000);
  result = pk_toggle_run_finish (f->toggle[0], first, NULL);
  g_assert_true (pk_toggle_result_get_success (result));
}

static void
test_cooldown (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkToggleResult) r1 = NULL;
  g_autoptr(PkToggleResult) r2 = NULL;
  guint remaining;

  pk_toggle_set_cooldown (f->toggle[0], 60000);
  g_assert_cmpuint (pk_toggle_get_cooldown (f->toggle[0]), ==, 60000);
  g_assert_cmpuint (pk_toggle_get_cooldown_remaining (f->toggle[0]), ==, 0);
  r1 = run (f->toggle[0], PK_ROTATION_METHOD_DATA, FALSE, &error);
  g_assert_no_error (error);

  remaining = pk_toggle_get_cooldown_remaining (f->toggle[0]);
  g_assert_cmpuint (remaining, >, 0);
  g_assert_cmpuint (remaining, <=, 60000);
  r2 = run (f->toggle[0], PK_ROTATION_METHOD_DATA, FALSE, &error);
  g_assert_null (r2);
  g_assert_error (error, PK_ERROR, PK_ERROR_COOLDOWN);
  g_clear_error (&error);

  /* Recovery does not skip the cooldown; the other dongle is not affected. */
  g_assert_null (run (f->toggle[0], PK_ROTATION_METHOD_DATA, TRUE, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_COOLDOWN);
  g_clear_error (&error);
  r2 = run (f->toggle[1], PK_ROTATION_METHOD_DATA, FALSE, &error);
  g_assert_no_error (error);
  g_assert_true (pk_toggle_result_get_success (r2));
}

static void
test_limit (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) a = NULL;
  g_autoptr(GAsyncResult) b = NULL;
  g_autoptr(GAsyncResult) c = NULL;
  g_autoptr(PkToggleResult) ra = NULL;
  g_autoptr(PkToggleResult) rb = NULL;
  g_autoptr(PkToggleResult) rc = NULL;

  /* The limiter allows two at once. */
  pk_toggle_run_async (f->toggle[0], PK_ROTATION_METHOD_DATA, FALSE, NULL, pk_test_store_result, &a);
  pk_toggle_run_async (f->toggle[1], PK_ROTATION_METHOD_DATA, FALSE, NULL, pk_test_store_result, &b);
  g_assert_cmpuint (pk_toggle_limiter_get_running (f->limiter), ==, 2);
  g_assert_cmpuint (pk_toggle_limiter_get_max (f->limiter), ==, 2);
  g_assert_null (run (f->toggle[2], PK_ROTATION_METHOD_DATA, FALSE, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_NOT_ALLOWED);
  g_clear_error (&error);

  /* A recovery run ignores the limit. */
  pk_toggle_run_async (f->toggle[2], PK_ROTATION_METHOD_DATA, TRUE, NULL, pk_test_store_result, &c);
  g_assert_cmpuint (pk_toggle_limiter_get_running (f->limiter), ==, 3);

  pk_test_wait_result (&a, 30000);
  pk_test_wait_result (&b, 30000);
  pk_test_wait_result (&c, 30000);
  ra = pk_toggle_run_finish (f->toggle[0], a, NULL);
  rb = pk_toggle_run_finish (f->toggle[1], b, NULL);
  rc = pk_toggle_run_finish (f->toggle[2], c, NULL);
  g_assert_true (pk_toggle_result_get_success (ra));
  g_assert_true (pk_toggle_result_get_success (rb));
  g_assert_true (pk_toggle_result_get_success (rc));
  g_assert_cmpuint (pk_toggle_limiter_get_running (f->limiter), ==, 0);
}

static gboolean
diagnose (PkToggle  *toggle,
          char     **detail)
{
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  gboolean healthy = FALSE;

  pk_toggle_diagnose_async (toggle, NULL, pk_test_store_result, &res);
  pk_test_wait_result (&res, 30000);
  g_assert_true (pk_toggle_diagnose_finish (toggle, res, &healthy, detail, &error));
  g_assert_no_error (error);
  return healthy;
}

/* The diagnosis alone: what a run's first step says, no rung, no lock. */
static void
test_diagnose (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkToggleResult) result = NULL;
  g_autofree char *detail = NULL;
  g_autofree char *down = NULL;
  g_autofree char *expected = g_strdup_printf ("connected, WAN IP %s", hilink_emu_get_wan_ip (f->emu[0]));

  g_assert_true (diagnose (f->toggle[0], &detail));
  g_assert_cmpstr (detail, ==, expected);
  g_assert_null (pk_toggle_get_last_result (f->toggle[0]));
  g_assert_false (pk_toggle_is_running (f->toggle[0]));

  /* as the run's own */
  result = run (f->toggle[0], PK_ROTATION_METHOD_DATA, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pk_toggle_result_get_step_detail (result, 0), ==, detail);

  g_clear_pointer (&f->emu[1], hilink_emu_free);
  g_assert_false (diagnose (f->toggle[1], &down));
  g_assert_nonnull (down);
  g_assert_false (diagnose (f->toggle[1], NULL));
}

static void
test_unreachable (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkToggleResult) result = NULL;

  g_clear_pointer (&f->emu[0], hilink_emu_free);
  result = run (f->toggle[0], PK_ROTATION_METHOD_DATA, FALSE, &error);
  g_assert_no_error (error);
  g_assert_false (pk_toggle_result_get_success (result));
  g_assert_error ((GError *) pk_toggle_result_get_error (result), G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_assert_cmpstr (pk_toggle_result_get_step_outcome (result, 0), ==, "failed");
  g_assert_cmpstr (pk_toggle_result_get_step_outcome (result, 1), ==, "failed");
  g_assert_null (pk_toggle_result_get_old_ip (result));
}

static void
test_later_step (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkToggleResult) result = NULL;
  g_autoptr(TestPowerStep) power = g_object_new (TEST_TYPE_POWER_STEP, NULL);
  g_autoptr(PkToggleModemStep) step = new_modem_step ();
  g_autoptr(PkToggle) toggle = pk_toggle_new (31, PK_MODEM (f->modem[0]), NULL);

  /* The modem rotation keeps the IP, so the (stand-in) power cycle step
   * after it runs, and its new IP is verified. */
  g_assert_true (pk_toggle_modem_step_set_escalation (step, "none", &error));
  pk_toggle_add_step (toggle, PK_TOGGLE_STEP (step));
  pk_toggle_add_step (toggle, PK_TOGGLE_STEP (power));
  g_assert_cmpuint (pk_toggle_get_n_steps (toggle), ==, 2);
  power->emu = f->emu[0];
  hilink_emu_set_sticky (f->emu[0], "data");

  result = run (toggle, PK_ROTATION_METHOD_DATA, FALSE, &error);
  g_assert_no_error (error);
  g_assert_true (pk_toggle_result_get_success (result));
  g_assert_cmpuint (power->runs, ==, 1);
  g_assert_cmpuint (hilink_emu_count (f->emu[0], "power_cycles"), ==, 1);
  g_assert_cmpstr (pk_toggle_result_get_method (result), ==, "power-cycle");
  g_assert_cmpuint (pk_toggle_result_get_n_steps (result), ==, 3);
  g_assert_cmpstr (pk_toggle_result_get_step_outcome (result, 1), ==, "unchanged");
  g_assert_cmpstr (pk_toggle_result_get_step_name (result, 2), ==, "power-cycle");
  g_assert_cmpstr (pk_toggle_result_get_step_outcome (result, 2), ==, "changed");
  g_assert_cmpstr (pk_toggle_result_get_step_detail (result, 2), ==, "port power cycled");
  g_assert_cmpstr (pk_toggle_result_get_new_ip (result), ==, hilink_emu_get_wan_ip (f->emu[0]));
}

/* A step's outcome (its method, attempts, escalation) is what the result
 * reports, whatever kind of step it is: the toggle never downcasts. */
static void
test_step_outcome_in_result (Fixture       *f,
                             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkToggleResult) result = NULL;
  g_autoptr(TestPowerStep) power = g_object_new (TEST_TYPE_POWER_STEP, NULL);
  g_autoptr(PkToggle) toggle = pk_toggle_new (32, PK_MODEM (f->modem[0]), NULL);

  power->emu = f->emu[0];
  power->method = "usb-rebind";
  pk_toggle_add_step (toggle, PK_TOGGLE_STEP (power));
  result = run (toggle, PK_ROTATION_METHOD_DATA, FALSE, &error);
  g_assert_no_error (error);
  g_assert_true (pk_toggle_result_get_success (result));
  g_assert_cmpstr (pk_toggle_result_get_method (result), ==, "usb-rebind");
  g_assert_cmpuint (pk_toggle_result_get_attempts (result), ==, 1);
  g_assert_true (pk_toggle_result_get_escalated (result));
  g_assert_cmpstr (pk_toggle_result_get_step_detail (result, 1), ==, "port power cycled");
}

static void
test_state_dir (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("pk-toggle-XXXXXX", &error);
  g_autoptr(PkToggle) other = pk_toggle_new (31, PK_MODEM (f->modem[0]), NULL);
  g_autoptr(PkToggleModemStep) step = new_modem_step ();
  g_autoptr(GAsyncResult) first = NULL;
  g_autoptr(PkToggleResult) r1 = NULL;
  g_autofree char *last = NULL;

  /* Two toggles of dongle 31 that share only the state directory, as a
   * one-shot pk-toggle and a running server do. */
  pk_toggle_add_step (other, PK_TOGGLE_STEP (step));
  pk_toggle_set_state_dir (f->toggle[0], dir);
  pk_toggle_set_state_dir (other, dir);
  g_assert_cmpstr (pk_toggle_get_state_dir (other), ==, dir);
  pk_toggle_set_cooldown (f->toggle[0], 60000);
  pk_toggle_set_cooldown (other, 60000);

  pk_toggle_run_async (f->toggle[0], PK_ROTATION_METHOD_DATA, FALSE, NULL, pk_test_store_result, &first);
  g_assert_null (run (other, PK_ROTATION_METHOD_DATA, FALSE, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_BUSY);
  g_assert_nonnull (strstr (error->message, "another process"));
  g_clear_error (&error);

  pk_test_wait_result (&first, 30000);
  r1 = pk_toggle_run_finish (f->toggle[0], first, &error);
  g_assert_true (pk_toggle_result_get_success (r1));

  /* The cooldown is shared too. */
  g_assert_cmpuint (pk_toggle_get_cooldown_remaining (other), >, 0);
  g_assert_null (run (other, PK_ROTATION_METHOD_DATA, FALSE, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_COOLDOWN);

  last = g_build_filename (dir, "toggle-31.last", NULL);
  g_assert_true (g_file_test (last, G_FILE_TEST_EXISTS));
  pk_test_run ("rm -rf '%s'", dir);
}

/* A toggle-N.last in the future, overflowing or not a number gives no
 * cooldown (and a warning), instead of one that lasts until the clock
 * catches up; a sane one is capped at the configured cooldown. */
static void
test_bad_last_file (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("pk-toggle-XXXXXX", &error);
  g_autofree char *last = g_build_filename (dir, "toggle-31.last", NULL);
  g_autoptr(PkToggle) toggle = pk_toggle_new (31, PK_MODEM (f->modem[0]), NULL);
  g_autoptr(PkToggleModemStep) step = new_modem_step ();
  g_autoptr(PkToggleResult) result = NULL;
  g_autofree char *future = g_strdup_printf ("%" G_GINT64_FORMAT "\n",
                                             g_get_real_time () + G_GINT64_CONSTANT (365) * 86400 * G_USEC_PER_SEC);
  g_autofree char *recent = g_strdup_printf ("%" G_GINT64_FORMAT "\n", g_get_real_time () - G_USEC_PER_SEC);
  const char *bad[] = { future, "99999999999999999999999\n", "9223372036854775807\n", "garbage\n", "-5\n" };

  g_assert_no_error (error);
  pk_toggle_add_step (toggle, PK_TOGGLE_STEP (step));
  pk_toggle_set_state_dir (toggle, dir);
  pk_toggle_set_cooldown (toggle, 60000);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      guint before = pk_test_count_expected_warnings ();

      g_file_set_contents (last, bad[i], -1, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (pk_toggle_get_cooldown_remaining (toggle), ==, 0);
      g_assert_cmpuint (pk_toggle_get_cooldown_remaining (toggle), ==, 0);
      /* one warning per bad value, not one per look */
      g_assert_cmpuint (pk_test_count_expected_warnings (), ==, before + 1);
    }

  /* The file in the future does not stop a toggle. */
  g_file_set_contents (last, future, -1, &error);
  g_assert_no_error (error);
  result = run (toggle, PK_ROTATION_METHOD_DATA, FALSE, &error);
  g_assert_no_error (error);
  g_assert_true (pk_toggle_result_get_success (result));
  g_clear_object (&result);

  /* A sane time still holds a cooldown, at most the configured one. */
  g_file_set_contents (last, recent, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pk_toggle_get_cooldown_remaining (toggle), >, 0);
  g_assert_cmpuint (pk_toggle_get_cooldown_remaining (toggle), <=, 60000);
  pk_test_run ("rm -rf '%s'", dir);
}

static void
test_no_steps (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HilinkEmu) emu = hilink_emu_new ("127.0.0.1", 0, 40, &error);
  g_autofree char *url = hilink_emu_dup_url (emu);
  g_autoptr(PkHilinkModem) modem = pk_hilink_modem_new (url, NULL, &error);
  g_autoptr(PkToggle) toggle = pk_toggle_new (40, PK_MODEM (modem), NULL);
  g_autoptr(PkToggleResult) result = NULL;

  g_assert_cmpuint (pk_toggle_limiter_get_max (pk_toggle_get_limiter (toggle)), ==, PK_TOGGLE_DEFAULT_MAX_CONCURRENT);
  g_assert_cmpuint (pk_toggle_get_cooldown (toggle), ==, PK_TOGGLE_DEFAULT_COOLDOWN_MS);
  g_assert_cmpuint (pk_toggle_get_id (toggle), ==, 40);
  g_assert_true (pk_toggle_get_modem (toggle) == PK_MODEM (modem));
  result = run (toggle, PK_ROTATION_METHOD_DATA, FALSE, &error);
  g_assert_no_error (error);
  g_assert_false (pk_toggle_result_get_success (result));
  g_assert_error ((GError *) pk_toggle_result_get_error (result), PK_ERROR, PK_ERROR_NOT_SUPPORTED);
}

int
main (int    argc,
      char **argv)
{
  pk_test_init (&argc, &argv);
  pk_test_expect_warnings ("no cooldown from it");

  g_test_add ("/toggle/success", Fixture, NULL, setup, test_success, teardown);
  g_test_add ("/toggle/escalated", Fixture, NULL, setup, test_escalated, teardown);
  g_test_add ("/toggle/unchanged", Fixture, NULL, setup, test_unchanged, teardown);
  g_test_add ("/toggle/busy", Fixture, NULL, setup, test_busy, teardown);
  g_test_add ("/toggle/cooldown", Fixture, NULL, setup, test_cooldown, teardown);
  g_test_add ("/toggle/limit", Fixture, NULL, setup, test_limit, teardown);
  g_test_add ("/toggle/unreachable", Fixture, NULL, setup, test_unreachable, teardown);
  g_test_add ("/toggle/diagnose", Fixture, NULL, setup, test_diagnose, teardown);
  g_test_add ("/toggle/later-step", Fixture, NULL, setup, test_later_step, teardown);
  g_test_add ("/toggle/step-outcome-in-result", Fixture, NULL, setup, test_step_outcome_in_result, teardown);
  g_test_add ("/toggle/state-dir", Fixture, NULL, setup, test_state_dir, teardown);
  g_test_add ("/toggle/bad-last-file", Fixture, NULL, setup, test_bad_last_file, teardown);
  g_test_add_func ("/toggle/no-steps", test_no_steps);

  return g_test_run ();
}
