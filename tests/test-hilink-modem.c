/* test-hilink-modem.c: PkHilinkModem against the emulated E8372h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include <proxykit/proxykit.h>

#include "hilink-emu.h"
#include "pk-hilink-xml-private.h"
#include "pk-test-utils.h"

typedef struct {
  HilinkEmu *emu;
  PkHilinkModem *modem;
} Fixture;

static void
setup (Fixture       *f,
       gconstpointer  data)
{
  f->emu = hilink_test_emu_with_modem (11, 50, 100, 5000, &f->modem);
}

static void
teardown (Fixture       *f,
          gconstpointer  data)
{
  g_clear_object (&f->modem);
  g_clear_pointer (&f->emu, hilink_emu_free);
}

#define on_result pk_test_store_result
#define WAIT(res) pk_test_wait_result (&(res), 30000)

static gboolean
get_status (PkHilinkModem  *modem,
            PkModemState   *state,
            char          **wan_ip,
            GError        **error)
{
  g_autoptr(GAsyncResult) res = NULL;

  pk_modem_get_status_async (PK_MODEM (modem), NULL, on_result, &res);
  WAIT (res);
  return pk_modem_get_status_finish (PK_MODEM (modem), res, state, wan_ip, error);
}

static gboolean
set_data (PkHilinkModem  *modem,
          gboolean        on,
          GError        **error)
{
  g_autoptr(GAsyncResult) res = NULL;

  pk_modem_set_data_enabled_async (PK_MODEM (modem), on, NULL, on_result, &res);
  WAIT (res);
  return pk_modem_set_data_enabled_finish (PK_MODEM (modem), res, error);
}

static GHashTable *
get_info (PkHilinkModem  *modem,
          GError        **error)
{
  g_autoptr(GAsyncResult) res = NULL;

  pk_modem_get_device_info_async (PK_MODEM (modem), NULL, on_result, &res);
  WAIT (res);
  return pk_modem_get_device_info_finish (PK_MODEM (modem), res, error);
}

static gboolean
emu_connected (gpointer data)
{
  return hilink_emu_get_status (data) == 901;
}

/* --- status, sessions, tokens --- */

static void
test_status (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *wan_ip = NULL;
  PkModemState state = PK_MODEM_STATE_UNKNOWN;

  g_assert_true (get_status (f->modem, &state, &wan_ip, &error));
  g_assert_no_error (error);
  g_assert_cmpint (state, ==, PK_MODEM_STATE_CONNECTED);
  g_assert_cmpstr (wan_ip, ==, hilink_emu_get_wan_ip (f->emu));
  g_assert_true (g_str_has_prefix (wan_ip, "100.64.11."));
  g_assert_cmpuint (hilink_emu_count (f->emu, "sessions"), ==, 1);
}

static void
test_disconnected_status (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *wan_ip = NULL;
  PkModemState state = PK_MODEM_STATE_UNKNOWN;

  g_assert_true (set_data (f->modem, FALSE, &error));
  g_assert_true (get_status (f->modem, &state, &wan_ip, &error));
  g_assert_no_error (error);
  g_assert_cmpint (state, ==, PK_MODEM_STATE_DISCONNECTED);
  g_assert_null (wan_ip);
}

static void
test_tokens_single_use (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  /* Each POST spends a token and takes the next one from the answer's
   * header: three POSTs, one session, no token error. */
  g_assert_true (set_data (f->modem, TRUE, &error));
  g_assert_true (set_data (f->modem, TRUE, &error));
  g_assert_true (set_data (f->modem, TRUE, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (hilink_emu_count (f->emu, "posts"), ==, 3);
  g_assert_cmpuint (hilink_emu_count (f->emu, "sessions"), ==, 1);
  g_assert_cmpuint (hilink_emu_count (f->emu, "token_errors"), ==, 0);
}

static void
test_session_expired_retry (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (set_data (f->modem, TRUE, &error));
  hilink_emu_expire_sessions (f->emu);

  /* 125002, a new session, the retry succeeds. */
  g_assert_true (set_data (f->modem, FALSE, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (hilink_emu_count (f->emu, "token_errors"), ==, 1);
  g_assert_cmpuint (hilink_emu_count (f->emu, "sessions"), ==, 2);
  g_assert_cmpint (hilink_emu_get_status (f->emu), ==, 902);
}

static void
test_token_rejected_retry (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (set_data (f->modem, TRUE, &error));
  hilink_emu_expire_tokens (f->emu);

  /* 125003 for the stale token; SesTokInfo in the same session hands a
   * fresh one, and the retry goes through. */
  g_assert_true (set_data (f->modem, FALSE, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (hilink_emu_count (f->emu, "token_errors"), ==, 1);
  g_assert_cmpuint (hilink_emu_count (f->emu, "sessions"), ==, 2);
  g_assert_cmpint (hilink_emu_get_status (f->emu), ==, 902);
}

/* A device that keeps rejecting the session: the client retries once,
 * then reports the code. */
static gboolean
expire_again (gpointer data)
{
  Fixture *f = data;
  /* Expire while the retry's SesTokInfo is answered: keeps every POST's
   * session unknown. */
  if (hilink_emu_count (f->emu, "sessions") >= 2)
    hilink_emu_expire_sessions (f->emu);
  return G_SOURCE_CONTINUE;
}

static void
test_session_retry_only_once (Fixture       *f,
                              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  guint id;

  g_assert_true (set_data (f->modem, TRUE, &error));
  hilink_emu_expire_sessions (f->emu);
  /* Answers are slowed so that the sessions can be expired in between. */
  hilink_emu_inject (f->emu, 0, 30, 0);
  id = g_timeout_add (5, expire_again, f);

  pk_modem_set_data_enabled_async (PK_MODEM (f->modem), FALSE, NULL, on_result, &res);
  WAIT (res);
  g_source_remove (id);
  g_assert_false (pk_modem_set_data_enabled_finish (PK_MODEM (f->modem), res, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_MODEM);
  g_assert_cmpuint (pk_hilink_error_get_code (error), ==, 125002);
  g_assert_true (g_str_has_prefix (error->message, "HiLink error 125002: wrong session"));
  g_assert_cmpuint (hilink_emu_count (f->emu, "token_errors"), ==, 2);
}

static void
test_egress_source_address (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkEgress) egress = pk_egress_new_full ("127.0.0.2", NULL, 0, 0, &error);
  g_autofree char *url = hilink_emu_dup_url (f->emu);
  g_autoptr(PkHilinkModem) modem = pk_hilink_modem_new (url, egress, &error);

  g_assert_no_error (error);
  g_assert_true (pk_hilink_modem_get_egress (modem) == egress);
  g_assert_true (get_status (modem, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (hilink_emu_get_last_peer (f->emu), ==, "127.0.0.2");

  /* An egress whose interface does not exist: no connection at all. */
  {
    g_autoptr(PkEgress) bad = pk_egress_new_full ("127.0.0.3", "pk-nosuchif0", 0, 0, &error);
    g_autoptr(PkHilinkModem) m2 = pk_hilink_modem_new (url, bad, &error);

    /* (retried as transient, as a dongle that is replugging: for 62 % of
     * the request timeout) */
    pk_hilink_modem_set_timeout (m2, 500);
    g_assert_false (get_status (m2, NULL, NULL, &error));
    g_assert_nonnull (error);
    g_assert_cmpstr (hilink_emu_get_last_peer (f->emu), ==, "127.0.0.2");
  }
}

/* --- login --- */

static void
test_login (Fixture       *f,
            gconstpointer  data)
{
  int type = GPOINTER_TO_INT (data);
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) info = NULL;

  hilink_emu_set_login (f->emu, "admin", "s3cret<&>", type);
  pk_hilink_modem_set_credentials (f->modem, "admin", "s3cret<&>");

  info = get_info (f->modem, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_hash_table_lookup (info, "device-name"), ==, "E8372h-320");
  g_assert_cmpuint (hilink_emu_count (f->emu, "logins"), ==, 1);

  /* The login's session and tokens carry on. */
  g_assert_true (set_data (f->modem, TRUE, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (hilink_emu_count (f->emu, "logins"), ==, 1);
  g_assert_cmpuint (hilink_emu_count (f->emu, "token_errors"), ==, 0);

  /* The device forgets the login: 125002, new session, login again. */
  hilink_emu_expire_sessions (f->emu);
  g_assert_true (set_data (f->modem, TRUE, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (hilink_emu_count (f->emu, "logins"), ==, 2);
}

static void
test_login_wrong_password (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) info = NULL;

  hilink_emu_set_login (f->emu, "admin", "right", 4);
  pk_hilink_modem_set_credentials (f->modem, NULL, "wrong");
  g_assert_cmpstr (pk_hilink_modem_get_username (f->modem), ==, "admin");

  info = get_info (f->modem, &error);
  g_assert_null (info);
  g_assert_error (error, PK_ERROR, PK_ERROR_AUTH_FAILED);
  g_assert_cmpuint (pk_hilink_error_get_code (error), ==, 108006);
  g_assert_nonnull (strstr (error->message, "user/login"));
}

static void
test_login_required_without_credentials (Fixture       *f,
                                         gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) info = NULL;

  hilink_emu_set_login (f->emu, "admin", "right", 0);
  info = get_info (f->modem, &error);
  g_assert_null (info);
  g_assert_error (error, PK_ERROR, PK_ERROR_AUTH_FAILED);
  g_assert_cmpuint (pk_hilink_error_get_code (error), ==, 100003);
  g_assert_cmpuint (hilink_emu_count (f->emu, "logins"), ==, 0);
}

static void
test_login_not_needed (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) info = NULL;

  /* state-login answers 100002: no login, and none tried. */
  pk_hilink_modem_set_credentials (f->modem, "admin", "unused");
  info = get_info (f->modem, &error);
  g_assert_no_error (error);
  g_assert_nonnull (info);
  g_assert_cmpuint (hilink_emu_count (f->emu, "logins"), ==, 0);
}

/* --- endpoints --- */

static void
test_device_info_and_signal (Fixture       *f,
                             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) info = NULL;
  g_autoptr(GHashTable) signal = NULL;
  g_autoptr(GAsyncResult) res = NULL;

  info = get_info (f->modem, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_hash_table_lookup (info, "imei"), ==, "860000000000011");
  g_assert_cmpstr (g_hash_table_lookup (info, "serial-number"), ==, "EMU000000011");
  g_assert_cmpstr (g_hash_table_lookup (info, "mac-address"), ==, "02:00:00:00:00:0b");
  g_assert_cmpstr (g_hash_table_lookup (info, "hardware-version"), ==, "CL4E8372HM");
  /* What has a common name is under it only; the rest keeps the device's. */
  g_assert_null (g_hash_table_lookup (info, "HardwareVersion"));
  g_assert_cmpstr (g_hash_table_lookup (info, "Classify"), ==, "wingle");

  pk_modem_get_signal_async (PK_MODEM (f->modem), NULL, on_result, &res);
  WAIT (res);
  signal = pk_modem_get_signal_finish (PK_MODEM (f->modem), res, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_hash_table_lookup (signal, "rsrp"), ==, "-95dBm");
  g_assert_cmpstr (g_hash_table_lookup (signal, "cell-id"), ==, "20522283");
  g_assert_null (g_hash_table_lookup (signal, "cell_id"));
}

static void
test_traffic (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  PkModemTraffic traffic = { 0 };

  pk_modem_get_traffic_async (PK_MODEM (f->modem), NULL, on_result, &res);
  WAIT (res);
  g_assert_true (pk_modem_get_traffic_finish (PK_MODEM (f->modem), res, &traffic, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (traffic.total_rx_bytes, ==, 52428800);
  g_assert_cmpuint (traffic.total_tx_bytes, ==, 7340032);
  g_assert_cmpuint (traffic.rx_rate, ==, 5000);
  g_assert_cmpuint (traffic.rx_bytes, >=, 1000);
}

static void
test_data_switch (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *old_ip = g_strdup (hilink_emu_get_wan_ip (f->emu));
  g_autofree char *new_ip = NULL;
  gboolean enabled = FALSE;
  PkModemState state;

  {
    g_autoptr(GAsyncResult) res = NULL;
    pk_modem_get_data_enabled_async (PK_MODEM (f->modem), NULL, on_result, &res);
    WAIT (res);
    g_assert_true (pk_modem_get_data_enabled_finish (PK_MODEM (f->modem), res, &enabled, &error));
    g_assert_true (enabled);
  }

  g_assert_true (set_data (f->modem, FALSE, &error));
  g_assert_cmpstr (hilink_emu_get_last_body (f->emu), ==,
                   "<?xml version=\"1.0\" encoding=\"UTF-8\"?><request><dataswitch>0</dataswitch></request>");
  g_assert_true (set_data (f->modem, TRUE, &error));
  g_assert_no_error (error);
  pk_test_wait_until (emu_connected, f->emu, 5000);
  g_assert_true (get_status (f->modem, &state, &new_ip, &error));
  g_assert_cmpint (state, ==, PK_MODEM_STATE_CONNECTED);
  g_assert_cmpstr (new_ip, !=, old_ip);
}

static void
test_network_mode (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  PkModemNetworkMode mode = PK_MODEM_NETWORK_MODE_UNKNOWN;
  const char *body;

  {
    g_autoptr(GAsyncResult) res = NULL;
    pk_modem_get_network_mode_async (PK_MODEM (f->modem), NULL, on_result, &res);
    WAIT (res);
    g_assert_true (pk_modem_get_network_mode_finish (PK_MODEM (f->modem), res, &mode, &error));
    g_assert_cmpint (mode, ==, PK_MODEM_NETWORK_MODE_AUTO);
  }
  {
    g_autoptr(GAsyncResult) res = NULL;
    pk_modem_set_network_mode_async (PK_MODEM (f->modem), PK_MODEM_NETWORK_MODE_3G_ONLY, NULL, on_result, &res);
    WAIT (res);
    g_assert_true (pk_modem_set_network_mode_finish (PK_MODEM (f->modem), res, &error));
    g_assert_no_error (error);
  }
  g_assert_cmpstr (hilink_emu_get_net_mode (f->emu), ==, "02");

  /* Mode, then the bands read before, in that order. */
  body = hilink_emu_get_last_body (f->emu);
  g_assert_nonnull (strstr (body, "<NetworkMode>02</NetworkMode><NetworkBand>3FFFFFFF</NetworkBand>"
                                  "<LTEBand>800C5</LTEBand>"));

  {
    g_autoptr(GAsyncResult) res = NULL;
    pk_modem_set_network_mode_async (PK_MODEM (f->modem), PK_MODEM_NETWORK_MODE_UNKNOWN, NULL, on_result, &res);
    WAIT (res);
    g_assert_false (pk_modem_set_network_mode_finish (PK_MODEM (f->modem), res, &error));
    g_assert_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT);
  }
}

static void
test_reboot (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  g_autofree char *old_ip = g_strdup (hilink_emu_get_wan_ip (f->emu));
  g_autofree char *new_ip = NULL;

  pk_modem_reboot_async (PK_MODEM (f->modem), NULL, on_result, &res);
  WAIT (res);
  g_assert_true (pk_modem_reboot_finish (PK_MODEM (f->modem), res, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (hilink_emu_count (f->emu, "reboots"), ==, 1);

  /* While it reboots it does not answer; a call retries until it does. */
  g_assert_true (get_status (f->modem, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (hilink_emu_count (f->emu, "dropped"), >=, 1);

  pk_test_wait_until (emu_connected, f->emu, 5000);
  g_assert_true (get_status (f->modem, NULL, &new_ip, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (new_ip, !=, old_ip);
}

/* --- error paths --- */

static void
test_busy (Fixture       *f,
           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  /* One busy answer, as a device gives while it switches: retried. */
  hilink_emu_inject (f->emu, 1, 0, 0);
  g_assert_true (set_data (f->modem, FALSE, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (hilink_emu_count (f->emu, "busy"), ==, 1);
  g_assert_false (hilink_emu_get_data_enabled (f->emu));
}

static void
test_busy_persistent (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  /* A device that stays busy: the first try and 5 retries, then the
   * error with the device's code. */
  hilink_emu_inject (f->emu, 100, 0, 0);
  g_assert_false (set_data (f->modem, FALSE, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_BUSY);
  g_assert_cmpuint (pk_hilink_error_get_code (error), ==, 100004);
  g_assert_true (g_str_has_prefix (error->message, "HiLink error 100004: system busy"));

  /* The code travels with the error, not in the text: context in front
   * of the message and copies keep it. */
  g_prefix_error (&error, "dongle 11: data: ");
  g_assert_cmpuint (pk_hilink_error_get_code (error), ==, 100004);
  {
    g_autoptr(GError) copy = g_error_copy (error);
    g_assert_cmpuint (pk_hilink_error_get_code (copy), ==, 100004);
  }
  g_assert_cmpuint (hilink_emu_count (f->emu, "busy"), ==, 6);
  g_assert_true (hilink_emu_get_data_enabled (f->emu));
  g_clear_error (&error);

  /* Nothing is left broken. */
  hilink_emu_inject (f->emu, 0, 0, 0);
  g_assert_true (set_data (f->modem, FALSE, &error));
  g_assert_no_error (error);
}

static void
test_busy_on_each_request (Fixture       *f,
                           gconstpointer  data)
{
  static const char * const specs[] = {
    "GET:/api/webserver/SesTokInfo",
    "GET:/api/user/state-login",
    "POST:/api/user/login",
    "POST:/api/dialup/mobile-dataswitch",
  };

  /* With a login: each request of the call meets busy once. */
  hilink_emu_set_login (f->emu, "admin", "secret", 4);
  pk_hilink_modem_set_credentials (f->modem, "admin", "secret");
  for (gsize i = 0; i < G_N_ELEMENTS (specs); i++)
    {
      g_autoptr(GError) error = NULL;

      g_test_message ("busy on %s", specs[i]);
      pk_hilink_modem_set_credentials (f->modem, "admin", "secret");
      hilink_emu_expire_sessions (f->emu);
      hilink_emu_clear_busy_on (f->emu);
      g_assert_true (hilink_emu_busy_on (f->emu, specs[i], &error));
      g_assert_true (set_data (f->modem, i % 2 == 0 ? FALSE : TRUE, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (hilink_emu_count (f->emu, "busy"), ==, i + 1);
      g_assert_cmpint (hilink_emu_get_data_enabled (f->emu), ==, i % 2 != 0);
    }
}

static void
test_stale_session_and_login (Fixture       *f,
                              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  hilink_emu_set_login (f->emu, "admin", "secret", 4);
  pk_hilink_modem_set_credentials (f->modem, "admin", "secret");
  g_assert_true (set_data (f->modem, FALSE, &error));
  g_assert_no_error (error);

  /* 125003: a new token; 125002: a new session, logged in again. */
  hilink_emu_expire_tokens (f->emu);
  g_assert_true (set_data (f->modem, TRUE, &error));
  g_assert_no_error (error);
  hilink_emu_expire_sessions (f->emu);
  g_assert_true (set_data (f->modem, FALSE, &error));
  g_assert_no_error (error);
  g_assert_false (hilink_emu_get_data_enabled (f->emu));
  g_assert_cmpuint (hilink_emu_count (f->emu, "token_errors"), >=, 2);
}

static void
test_login_expired (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) info = NULL;

  hilink_emu_set_login (f->emu, "admin", "secret", 4);
  pk_hilink_modem_set_credentials (f->modem, "admin", "secret");
  info = get_info (f->modem, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (hilink_emu_count (f->emu, "logins"), ==, 1);

  /* The device logs the session out (its login timed out) and keeps the
   * session: the call meets 100003, logs in again and goes through. */
  hilink_emu_expire_login (f->emu);
  g_assert_true (set_data (f->modem, FALSE, &error));
  g_assert_no_error (error);
  g_assert_false (hilink_emu_get_data_enabled (f->emu));
  g_assert_cmpuint (hilink_emu_count (f->emu, "not_logged_in"), ==, 1);
  g_assert_cmpuint (hilink_emu_count (f->emu, "logins"), ==, 2);
  g_assert_cmpuint (hilink_emu_count (f->emu, "token_errors"), ==, 0);

  /* And once more later, for a read. */
  hilink_emu_expire_login (f->emu);
  g_clear_pointer (&info, g_hash_table_unref);
  info = get_info (f->modem, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_hash_table_lookup (info, "device-name"), ==, "E8372h-320");
  g_assert_cmpuint (hilink_emu_count (f->emu, "logins"), ==, 3);
}

/* The modem's calls, each as one request of the client; what HTTP 5xx is
 * injected into. */
typedef enum {
  CALL_STATUS,
  CALL_INFO,
  CALL_DATA,
  CALL_NETMODE,
  CALL_TRAFFIC,
} CallKind;

static gboolean
run_call (Fixture   *f,
          CallKind   kind,
          GError   **error)
{
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GHashTable) info = NULL;
  g_autofree char *wan_ip = NULL;
  PkModemTraffic traffic;

  switch (kind)
    {
    case CALL_STATUS:
      return get_status (f->modem, NULL, &wan_ip, error);
    case CALL_INFO:
      info = get_info (f->modem, error);
      return info != NULL;
    case CALL_DATA:
      return set_data (f->modem, FALSE, error);
    case CALL_NETMODE:
      pk_modem_set_network_mode_async (PK_MODEM (f->modem), PK_MODEM_NETWORK_MODE_4G_ONLY, NULL, on_result, &res);
      WAIT (res);
      return pk_modem_set_network_mode_finish (PK_MODEM (f->modem), res, error);
    case CALL_TRAFFIC:
      pk_modem_get_traffic_async (PK_MODEM (f->modem), NULL, on_result, &res);
      WAIT (res);
      return pk_modem_get_traffic_finish (PK_MODEM (f->modem), res, &traffic, error);
    default:
      g_assert_not_reached ();
    }
}

static void
test_http_5xx_transient (Fixture       *f,
                         gconstpointer  data)
{
  CallKind kind = GPOINTER_TO_INT (data);
  g_autoptr(GError) error = NULL;

  /* The web server restarts: two 503s (on the session's request or the
   * call's own), then answers. The call is retried and goes through. */
  hilink_emu_inject_http_error (f->emu, 2, 503);
  g_assert_true (run_call (f, kind, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (hilink_emu_count (f->emu, "http_errors"), ==, 2);
  if (kind == CALL_DATA)
    g_assert_false (hilink_emu_get_data_enabled (f->emu));
}

static void
test_http_5xx_persistent (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  guint n;

  /* A server that keeps failing: retried with growing pauses within the
   * call's timeout, then the HTTP error. */
  pk_hilink_modem_set_timeout (f->modem, 1000);
  hilink_emu_inject_http_error (f->emu, 1000, 500);
  g_assert_false (run_call (f, CALL_STATUS, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "HTTP 500"));
  n = hilink_emu_count (f->emu, "http_errors");
  g_assert_cmpuint (n, >=, 2);
  g_assert_cmpuint (n, <=, 6);

  /* a 4xx is the client's fault: not retried */
  g_clear_error (&error);
  hilink_emu_inject_http_error (f->emu, 1000, 404);
  g_assert_false (run_call (f, CALL_STATUS, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "HTTP 404"));
  g_assert_cmpuint (hilink_emu_count (f->emu, "http_errors"), ==, n + 1);
}

static void
test_busy_control_endpoint (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (hilink_emu_busy_on (f->emu, "mobile-dataswitch", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (hilink_emu_busy_on (f->emu, "/api/x@0", &error));
  g_clear_error (&error);

  /* Only the second and third reads of the status are busy. */
  g_assert_true (hilink_emu_busy_on (f->emu, "/api/monitoring/status@2x2", &error));
  g_assert_true (get_status (f->modem, NULL, NULL, &error));
  g_assert_cmpuint (hilink_emu_count (f->emu, "busy"), ==, 0);
  g_assert_true (get_status (f->modem, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (hilink_emu_count (f->emu, "busy"), ==, 2);
  g_assert_true (get_status (f->modem, NULL, NULL, &error));
  g_assert_cmpuint (hilink_emu_count (f->emu, "busy"), ==, 2);
}

static void
test_not_xml (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (get_status (f->modem, NULL, NULL, &error));
  hilink_emu_inject_faults (f->emu, 1, FALSE);
  g_assert_false (get_status (f->modem, NULL, NULL, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "/api/monitoring/status"));
  g_clear_error (&error);
  g_assert_true (get_status (f->modem, NULL, NULL, &error));
  g_assert_no_error (error);
}

static void
test_http_error (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkHilinkModem) modem = NULL;
  g_autofree char *url = hilink_emu_dup_url (f->emu);
  g_autofree char *prefixed = g_strconcat (url, "/not-api", NULL);

  /* The emulator answers 404 outside /api/. */
  modem = pk_hilink_modem_new (prefixed, NULL, &error);
  g_assert_false (get_status (modem, NULL, NULL, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "HTTP 404"));
}

static void
test_netmode_refused (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) res = NULL;

  hilink_emu_inject_faults (f->emu, 0, TRUE);
  pk_modem_set_network_mode_async (PK_MODEM (f->modem), PK_MODEM_NETWORK_MODE_4G_ONLY, NULL, on_result, &res);
  WAIT (res);
  g_assert_false (pk_modem_set_network_mode_finish (PK_MODEM (f->modem), res, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_MODEM);
  g_assert_cmpuint (pk_hilink_error_get_code (error), ==, 112003);
  g_assert_true (g_str_has_prefix (error->message, "HiLink error 112003: setting the network mode failed"));
}

static void
test_dropped_connection (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  /* Two lost answers are retried... */
  hilink_emu_inject (f->emu, 0, 0, 2);
  g_assert_true (get_status (f->modem, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (hilink_emu_count (f->emu, "dropped"), ==, 2);

  /* ...a device that never answers is not. */
  hilink_emu_inject (f->emu, 0, 0, 100);
  g_assert_false (get_status (f->modem, NULL, NULL, &error));
  g_assert_nonnull (error);
  g_assert_false (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT));
  g_assert_nonnull (strstr (error->message, "/api/"));
  g_clear_error (&error);

  hilink_emu_inject (f->emu, 0, 0, 0);
  g_assert_true (get_status (f->modem, NULL, NULL, &error));
  g_assert_no_error (error);
}

static void
test_timeout (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  hilink_emu_inject (f->emu, 0, 3000, 0);
  pk_hilink_modem_set_timeout (f->modem, 200);
  g_assert_cmpuint (pk_hilink_modem_get_timeout (f->modem), ==, 200);
  g_assert_false (get_status (f->modem, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_nonnull (strstr (error->message, "200 ms"));
}

static void
test_cancel (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();

  hilink_emu_inject (f->emu, 0, 3000, 0);
  pk_modem_get_status_async (PK_MODEM (f->modem), cancellable, on_result, &res);
  g_cancellable_cancel (cancellable);
  WAIT (res);
  g_assert_false (pk_modem_get_status_finish (PK_MODEM (f->modem), res, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static void
test_unreachable (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkHilinkModem) modem = NULL;
  g_autofree char *url = NULL;
  guint16 port;

  /* A port nobody listens on. */
  {
    HilinkEmu *emu = hilink_emu_new ("127.0.0.1", 0, 1, &error);
    port = hilink_emu_get_port (emu);
    hilink_emu_free (emu);
  }
  url = g_strdup_printf ("http://127.0.0.1:%u", port);
  modem = pk_hilink_modem_new (url, NULL, &error);
  pk_hilink_modem_set_timeout (modem, 500);
  g_assert_false (get_status (modem, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_assert_nonnull (strstr (error->message, url));
}

static void
test_bad_url (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkHilinkModem) modem = pk_hilink_modem_new ("ftp://192.168.8.1", NULL, &error);

  g_assert_null (modem);
  g_assert_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "ftp://192.168.8.1"));
  g_clear_error (&error);

  modem = pk_hilink_modem_new (NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pk_hilink_modem_get_base_url (modem), ==, PK_HILINK_DEFAULT_URL);
}

static void
test_error_code (void)
{
  g_autoptr(GError) e1 = g_error_new (PK_ERROR, PK_ERROR_MODEM, "HiLink error 112003: x");
  g_autoptr(GError) e2 = g_error_new (PK_ERROR, PK_ERROR_MODEM, "HiLink error abc: x");
  g_autoptr(GError) e3 = g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED, "HiLink error 100004: x");

  g_assert_cmpuint (pk_hilink_error_get_code (e1), ==, 112003);
  g_assert_cmpuint (pk_hilink_error_get_code (e2), ==, 0);
  g_assert_cmpuint (pk_hilink_error_get_code (e3), ==, 0);
  g_assert_cmpuint (pk_hilink_error_get_code (NULL), ==, 0);
}

/* --- the XML parser --- */

static void
test_xml_parse (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkHilinkXml) xml = NULL;
  guint code = 0;
  static const char reply[] =
    "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
    "<response><a>1</a><b> two &amp; </b><nested><c>3</c></nested><a>dup</a><empty/></response>";

  xml = pk_hilink_xml_parse (reply, strlen (reply), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (xml->root, ==, "response");
  g_assert_cmpstr (pk_hilink_xml_get (xml, "a"), ==, "1");
  g_assert_cmpstr (pk_hilink_xml_get (xml, "b"), ==, "two &");
  g_assert_cmpstr (pk_hilink_xml_get (xml, "c"), ==, "3");
  g_assert_cmpstr (pk_hilink_xml_get (xml, "empty"), ==, "");
  g_assert_false (pk_hilink_xml_get_error_code (xml, &code));
  g_clear_pointer (&xml, pk_hilink_xml_free);

  xml = pk_hilink_xml_parse ("<response>OK</response>", 23, &error);
  g_assert_cmpstr (xml->text, ==, "OK");
  g_clear_pointer (&xml, pk_hilink_xml_free);

  xml = pk_hilink_xml_parse ("<error><code>125003</code><message/></error>", 44, &error);
  g_assert_true (pk_hilink_xml_get_error_code (xml, &code));
  g_assert_cmpuint (code, ==, 125003);
  g_clear_pointer (&xml, pk_hilink_xml_free);

  xml = pk_hilink_xml_parse ("<error><code>99999999999</code></error>", 39, &error);
  g_assert_true (pk_hilink_xml_get_error_code (xml, &code));
  g_assert_cmpuint (code, ==, 0);
  g_clear_pointer (&xml, pk_hilink_xml_free);

  for (const char * const *bad = (const char * const[]) {
         "", "<?xml", "<response>", "<a></b>", "text only", "<a/><b/>",
         "<html><body>redirect<br></body></html>", NULL }; *bad != NULL; bad++)
    {
      xml = pk_hilink_xml_parse (*bad, strlen (*bad), &error);
      g_assert_null (xml);
      g_assert_error (error, PK_ERROR, PK_ERROR_PROTOCOL);
      g_clear_error (&error);
    }

  {
    GString *deep = g_string_new (NULL);
    for (int i = 0; i < 40; i++)
      g_string_append (deep, "<x>");
    xml = pk_hilink_xml_parse (deep->str, deep->len, &error);
    g_assert_null (xml);
    g_assert_error (error, PK_ERROR, PK_ERROR_PROTOCOL);
    g_clear_error (&error);
    g_string_free (deep, TRUE);
  }
}

static void
test_xml_build (void)
{
  const char *pairs[] = { "Username", "a<b", "Password", "&", NULL };
  g_autofree char *xml = pk_hilink_xml_build_request (pairs);

  g_assert_cmpstr (xml, ==, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><request>"
                   "<Username>a&lt;b</Username><Password>&amp;</Password></request>");
}

int
main (int    argc,
      char **argv)
{
  pk_test_init (&argc, &argv);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, setup, fn, teardown)
  ADD ("/hilink-modem/status/connected", test_status);
  ADD ("/hilink-modem/status/disconnected", test_disconnected_status);
  ADD ("/hilink-modem/session/tokens-single-use", test_tokens_single_use);
  ADD ("/hilink-modem/session/expired-retry", test_session_expired_retry);
  ADD ("/hilink-modem/session/token-rejected-retry", test_token_rejected_retry);
  ADD ("/hilink-modem/session/retry-only-once", test_session_retry_only_once);
  ADD ("/hilink-modem/egress/source-address", test_egress_source_address);
  g_test_add ("/hilink-modem/login/type-0", Fixture, GINT_TO_POINTER (0), setup, test_login, teardown);
  g_test_add ("/hilink-modem/login/type-3", Fixture, GINT_TO_POINTER (3), setup, test_login, teardown);
  g_test_add ("/hilink-modem/login/type-4", Fixture, GINT_TO_POINTER (4), setup, test_login, teardown);
  ADD ("/hilink-modem/login/wrong-password", test_login_wrong_password);
  ADD ("/hilink-modem/login/required-without-credentials", test_login_required_without_credentials);
  ADD ("/hilink-modem/login/not-needed", test_login_not_needed);
  ADD ("/hilink-modem/endpoint/device-info-and-signal", test_device_info_and_signal);
  ADD ("/hilink-modem/endpoint/traffic", test_traffic);
  ADD ("/hilink-modem/endpoint/data-switch", test_data_switch);
  ADD ("/hilink-modem/endpoint/network-mode", test_network_mode);
  ADD ("/hilink-modem/endpoint/reboot", test_reboot);
  ADD ("/hilink-modem/error/busy", test_busy);
  ADD ("/hilink-modem/error/busy-persistent", test_busy_persistent);
  ADD ("/hilink-modem/error/busy-on-each-request", test_busy_on_each_request);
  ADD ("/hilink-modem/error/stale-session-and-login", test_stale_session_and_login);
  ADD ("/hilink-modem/emulator/busy-on", test_busy_control_endpoint);
  ADD ("/hilink-modem/error/dropped-connection", test_dropped_connection);
  ADD ("/hilink-modem/error/not-xml", test_not_xml);
  ADD ("/hilink-modem/error/http-status", test_http_error);
  ADD ("/hilink-modem/error/http-5xx-persistent", test_http_5xx_persistent);
  ADD ("/hilink-modem/login/expired", test_login_expired);
  {
    static const char * const calls[] = { "status", "info", "data", "netmode", "traffic" };

    for (guint i = 0; i < G_N_ELEMENTS (calls); i++)
      {
        g_autofree char *path = g_strdup_printf ("/hilink-modem/error/http-5xx/%s", calls[i]);
        g_test_add (path, Fixture, GINT_TO_POINTER (i), setup, test_http_5xx_transient, teardown);
      }
  }
  ADD ("/hilink-modem/error/netmode-refused", test_netmode_refused);
  ADD ("/hilink-modem/error/timeout", test_timeout);
  ADD ("/hilink-modem/error/cancel", test_cancel);
#undef ADD
  g_test_add_func ("/hilink-modem/error/unreachable", test_unreachable);
  g_test_add_func ("/hilink-modem/error/bad-url", test_bad_url);
  g_test_add_func ("/hilink-modem/error/code", test_error_code);
  g_test_add_func ("/hilink-modem/xml/parse", test_xml_parse);
  g_test_add_func ("/hilink-modem/xml/build", test_xml_build);

  return g_test_run ();
}
