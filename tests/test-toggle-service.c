/* test-toggle-service.c: PkToggleService against emulated E8372h dongles
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <json-glib/json-glib.h>
#include <proxykit/proxykit.h>

#include "hilink-emu.h"
#include "pk-test-utils.h"

#define N_DONGLES 3
#define FIRST_ID 41

typedef struct {
  HilinkEmu *emu[N_DONGLES];
  char *state_dir;
} Fixture;

static void
setup (Fixture       *f,
       gconstpointer  data)
{
  f->state_dir = g_dir_make_tmp ("pk-toggle-service-XXXXXX", NULL);
  g_assert_nonnull (f->state_dir);
  for (guint i = 0; i < N_DONGLES; i++)
    {
      g_autoptr(GError) error = NULL;

      f->emu[i] = hilink_emu_new ("127.0.0.1", 0, FIRST_ID + i, &error);
      g_assert_no_error (error);
      hilink_emu_set_delays (f->emu[i], 40, 80);
    }
}

static void
teardown (Fixture       *f,
          gconstpointer  data)
{
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", f->state_dir);

  for (guint i = 0; i < N_DONGLES; i++)
    g_clear_pointer (&f->emu[i], hilink_emu_free);
  g_assert_cmpint (system (cmd), ==, 0);
  g_free (f->state_dir);
}

/* [toggle] with fast timings, and a [dongle:N] per emulator (the first
 * @n of them). */
static PkConfig *
make_config (Fixture    *f,
             guint       n,
             const char *extra)
{
  g_autoptr(PkConfig) config = pk_config_new ();
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(GError) error = NULL;

  g_string_append_printf (text,
                          "[toggle]\nsettle = 20ms\npoll_interval = 15ms\ntimeout = 3s\n"
                          "state_dir = %s\nsocks_host = 203.0.113.9\n%s\n",
                          f->state_dir, extra ? extra : "");
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *url = hilink_emu_dup_url (f->emu[i]);
      g_string_append_printf (text, "[dongle:%u]\napi = %s\naddress = 127.0.0.1\n", FIRST_ID + i, url);
    }
  g_assert_true (pk_config_load_data (config, text->str, -1, "test.conf", &error));
  g_assert_no_error (error);
  return g_steal_pointer (&config);
}

static PkToggleService *
make_service (PkConfig *config)
{
  g_autoptr(PkToggleService) service = pk_toggle_service_new ();
  g_autoptr(GError) error = NULL;

  pk_toggle_service_set_use_usb (service, FALSE);
  g_assert_true (pk_toggle_service_load_config (service, config, &error));
  g_assert_no_error (error);
  return g_steal_pointer (&service);
}

static GPtrArray *
toggle (PkToggleService *service,
        const guint     *ids,
        gsize            n_ids,
        gboolean         wait)
{
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *results;

  pk_toggle_service_toggle_async (service, ids, n_ids, FALSE, wait, NULL, pk_test_store_result, &res);
  pk_test_wait_result (&res, 30000);
  results = pk_toggle_service_toggle_finish (service, res, &error);
  g_assert_no_error (error);
  return results;
}

static JsonNode *
parse (const char *text)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node = json_from_string (text, &error);

  g_assert_no_error (error);
  g_assert_nonnull (node);
  return node;
}

static void
test_config (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(PkConfig) config = make_config (f, N_DONGLES, "[dongle:42]\nsocks_port = 2042\n");
  g_autoptr(PkToggleService) service = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *url = hilink_emu_dup_url (f->emu[0]);
  g_autofree guint *ids = NULL;
  const char *args[] = { "43", "41-42", NULL };
  const char *bad[] = { "44", NULL };
  gsize n_ids = 0;

  /* A section twice in the text is one section. */
  service = make_service (config);
  g_assert_cmpuint (pk_toggle_service_get_n_dongles (service), ==, 3);
  g_assert_cmpuint (pk_toggle_service_get_dongle_id (service, 0), ==, 41);
  g_assert_cmpuint (pk_toggle_service_get_dongle_id (service, 2), ==, 43);
  g_assert_cmpstr (pk_toggle_service_get_api (service, 41), ==, url);
  g_assert_cmpstr (pk_toggle_service_get_address (service, 41), ==, "127.0.0.1");
  g_assert_cmpstr (pk_toggle_service_get_socks_host (service, 41), ==, "203.0.113.9");
  g_assert_cmpuint (pk_toggle_service_get_socks_port (service, 41), ==, 10041);
  g_assert_cmpuint (pk_toggle_service_get_socks_port (service, 42), ==, 2042);
  g_assert_cmpuint (pk_toggle_get_id (pk_toggle_service_get_toggle (service, 43)), ==, 43);
  g_assert_cmpuint (pk_toggle_get_cooldown (pk_toggle_service_get_toggle (service, 43)), ==,
                    PK_TOGGLE_DEFAULT_COOLDOWN_MS);
  g_assert_cmpstr (pk_toggle_get_state_dir (pk_toggle_service_get_toggle (service, 43)), ==, f->state_dir);
  g_assert_null (pk_toggle_service_get_toggle (service, 44));
  g_assert_cmpuint (pk_toggle_limiter_get_max (pk_toggle_service_get_limiter (service)), ==,
                    PK_TOGGLE_DEFAULT_MAX_CONCURRENT);
  g_assert_cmpint (pk_toggle_service_get_method (service), ==, PK_ROTATION_METHOD_DATA);

  ids = pk_toggle_service_parse_ids (service, args, &n_ids, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n_ids, ==, 3);
  g_assert_cmpuint (ids[0], ==, 43);
  g_assert_cmpuint (ids[2], ==, 42);
  g_assert_null (pk_toggle_service_parse_ids (service, bad, &n_ids, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT);
  g_assert_cmpstr (error->message, ==, "dongle 44 is not configured");
}

static void
test_convention_and_values (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(PkConfig) config = pk_config_new ();
  g_autoptr(PkToggleService) service = pk_toggle_service_new ();
  g_autoptr(GError) error = NULL;
  const char *named[] = { "11-12", NULL };
  const char *api[] = { "12=http://127.0.0.1:9", NULL };
  const char *unknown[] = { "13=10.0.0.1", NULL };
  const char *malformed[] = { "12", NULL };

  /* Without a dongle there is nothing to build. */
  pk_toggle_service_set_use_usb (service, FALSE);
  g_assert_false (pk_toggle_service_load_config (service, config, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "no dongles"));
  g_clear_error (&error);

  g_assert_false (pk_toggle_service_set_dongle_values (service, "api", malformed, "--api", &error));
  g_assert_cmpstr (error->message, ==, "--api '12': expected N=VALUE");
  g_clear_error (&error);

  pk_toggle_service_set_named_dongles (service, named);
  g_assert_true (pk_toggle_service_set_dongle_values (service, "api", api, "--api", &error));
  g_assert_true (pk_toggle_service_load_config (service, config, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (pk_toggle_service_get_n_dongles (service), ==, 2);
  g_assert_cmpstr (pk_toggle_service_get_api (service, 11), ==, "http://192.168.11.1");
  g_assert_cmpstr (pk_toggle_service_get_address (service, 11), ==, "192.168.11.100");
  g_assert_cmpstr (pk_toggle_service_get_api (service, 12), ==, "http://127.0.0.1:9");

  /* A value for a dongle that is not there fails the load, which leaves
   * the dongles as they were. */
  g_assert_true (pk_toggle_service_set_dongle_values (service, "address", unknown, "--address", &error));
  g_assert_false (pk_toggle_service_load_config (service, config, &error));
  g_assert_cmpstr (error->message, ==, "--address '13=10.0.0.1': dongle 13 is not configured");
  g_assert_cmpuint (pk_toggle_service_get_n_dongles (service), ==, 2);
  g_clear_error (&error);

  /* A flag's list of dongles cannot go with [dongle:N] sections. */
  g_clear_object (&config);
  config = make_config (f, 1, NULL);
  pk_config_set_override (config, "toggle", "dongles", "11", "--dongles");
  g_clear_object (&service);
  service = pk_toggle_service_new ();
  pk_toggle_service_set_use_usb (service, FALSE);
  g_assert_false (pk_toggle_service_load_config (service, config, &error));
  g_assert_cmpstr (error->message, ==, "--dongles: the configuration has [dongle:N] sections already");
}

static void
test_all_waits_for_a_place (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(PkConfig) config = make_config (f, N_DONGLES, "max_concurrent = 1\ncooldown = 0\n");
  g_autoptr(PkToggleService) service = make_service (config);
  g_autoptr(GPtrArray) results = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *json = NULL;
  char *old_ip[N_DONGLES];

  for (guint i = 0; i < N_DONGLES; i++)
    old_ip[i] = g_strdup (hilink_emu_get_wan_ip (f->emu[i]));

  /* One place: with @wait each dongle takes it in turn. */
  results = toggle (service, NULL, 0, TRUE);
  g_assert_cmpuint (results->len, ==, N_DONGLES);
  for (guint i = 0; i < results->len; i++)
    {
      PkToggleResult *r = g_ptr_array_index (results, i);
      guint n = pk_toggle_result_get_id (r) - FIRST_ID;

      g_assert_true (pk_toggle_result_get_success (r));
      g_assert_false (pk_toggle_result_get_refused (r));
      g_assert_null (pk_toggle_result_get_reason (r));
      g_assert_cmpstr (pk_toggle_result_get_old_ip (r), ==, old_ip[n]);
      g_assert_cmpstr (pk_toggle_result_get_new_ip (r), ==, hilink_emu_get_wan_ip (f->emu[n]));
      g_assert_cmpstr (pk_toggle_result_get_new_ip (r), !=, old_ip[n]);
    }
  json = pk_toggle_service_results_to_json (results, TRUE);
  root = parse (json);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (root));
  g_assert_cmpuint (json_array_get_length (json_node_get_array (root)), ==, N_DONGLES);
  g_assert_true (json_object_get_boolean_member (json_array_get_object_element (json_node_get_array (root), 0),
                                                 "success"));
  for (guint i = 0; i < N_DONGLES; i++)
    g_free (old_ip[i]);
}

static gboolean
set_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Opens of files in a directory over @ms of the main loop. */
static guint
count_opens_during (const char *dir,
                    guint       ms)
{
  int in = inotify_init1 (IN_NONBLOCK | IN_CLOEXEC);
  gboolean done = FALSE;
  char buf[4096] __attribute__ ((aligned (__alignof__ (struct inotify_event))));
  guint opens = 0;
  gssize n;

  g_assert_cmpint (in, >=, 0);
  g_assert_cmpint (inotify_add_watch (in, dir, IN_OPEN), >=, 0);
  g_timeout_add (ms, set_flag, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
  while ((n = read (in, buf, sizeof buf)) > 0)
    for (char *p = buf; p < buf + n; p += sizeof (struct inotify_event) + ((struct inotify_event *) p)->len)
      opens++;
  close (in);
  return opens;
}

/* A recovery of --all that finds the host's recovery slots taken (by
 * pk-watchdog, say) waits for one, looking again now and then: it does
 * not spin on the lock files, and it runs once a slot is free. */
static void
test_recovery_waits_for_a_host_slot (Fixture       *f,
                                     gconstpointer  data)
{
  g_autoptr(PkConfig) config = make_config (f, 1, "max_recoveries = 1\nrecovery_cooldown = 0\n");
  g_autoptr(PkToggleService) service = make_service (config);
  g_autofree char *slot = g_build_filename (f->state_dir, "recovery-0.lock", NULL);
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GPtrArray) results = NULL;
  g_autoptr(GError) error = NULL;
  PkToggleResult *r;
  int other = open (slot, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

  /* Another process's recovery holds the host's only slot. */
  g_assert_cmpint (other, >=, 0);
  g_assert_cmpint (flock (other, LOCK_EX | LOCK_NB), ==, 0);
  pk_toggle_service_toggle_async (service, NULL, 0, TRUE, TRUE, NULL, pk_test_store_result, &res);
  g_assert_cmpuint (count_opens_during (f->state_dir, 1000), <, 50);
  g_assert_null (res);

  /* Free again: the waiting recovery takes the slot and runs. */
  close (other);
  pk_test_wait_result (&res, 30000);
  results = pk_toggle_service_toggle_finish (service, res, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (results->len, ==, 1);
  r = g_ptr_array_index (results, 0);
  g_assert_false (pk_toggle_result_get_refused (r));
  g_assert_true (pk_toggle_result_get_success (r));
}

static guint n_toggled;

static void
on_toggled (PkToggleService *service,
            PkToggleResult  *result,
            gpointer         user_data)
{
  n_toggled++;
}

static void
test_refusals (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(PkConfig) config = make_config (f, N_DONGLES, "max_concurrent = 1\n");
  g_autoptr(PkToggleService) service = make_service (config);
  g_autoptr(GPtrArray) results = NULL;
  g_autoptr(GPtrArray) again = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *json = NULL;
  guint refused = 0, changed = 0;
  guint ran[1] = { 0 };
  JsonObject *obj;

  /* Without @wait, the limit refuses the dongles past the first. */
  g_signal_connect (service, "toggled", G_CALLBACK (on_toggled), NULL);
  n_toggled = 0;
  results = toggle (service, NULL, 0, FALSE);
  g_assert_cmpuint (results->len, ==, N_DONGLES);
  g_assert_cmpuint (n_toggled, ==, N_DONGLES);
  for (guint i = 0; i < results->len; i++)
    {
      PkToggleResult *r = g_ptr_array_index (results, i);

      if (pk_toggle_result_get_refused (r))
        {
          refused++;
          g_assert_false (pk_toggle_result_get_success (r));
          g_assert_error ((GError *) pk_toggle_result_get_error (r), PK_ERROR, PK_ERROR_NOT_ALLOWED);
          g_assert_cmpstr (pk_toggle_result_get_reason (r), ==, "limit");
          g_assert_cmpuint (pk_toggle_result_get_n_steps (r), ==, 0);
        }
      else if (pk_toggle_result_get_success (r))
        {
          changed++;
          ran[0] = pk_toggle_result_get_id (r);
        }
    }
  g_assert_cmpuint (refused, ==, 2);
  g_assert_cmpuint (changed, ==, 1);

  /* The one that ran cools down: a refusal, in the CLI's JSON form. */
  again = toggle (service, ran, 1, TRUE);
  g_assert_cmpuint (again->len, ==, 1);
  g_assert_cmpstr (pk_toggle_result_get_reason (g_ptr_array_index (again, 0)), ==, "cooldown");
  json = pk_toggle_service_results_to_json (again, FALSE);
  root = parse (json);
  obj = json_node_get_object (root);
  g_assert_cmpint (json_object_get_int_member (obj, "dongle"), ==, ran[0]);
  g_assert_false (json_object_get_boolean_member (obj, "success"));
  g_assert_cmpstr (json_object_get_string_member (obj, "reason"), ==, "cooldown");
  g_assert_true (json_object_has_member (obj, "error"));
  g_assert_false (json_object_has_member (obj, "steps"));
}

static void
test_status_and_info (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(PkConfig) config = make_config (f, N_DONGLES, NULL);
  g_autoptr(PkToggleService) service = make_service (config);
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) status = NULL;
  g_autoptr(JsonNode) info = NULL;
  g_autofree char *json = NULL;
  g_autofree char *text = NULL;
  g_autofree char *info_json = NULL;
  g_autofree char *info_text = NULL;
  const guint ids[] = { 42, 41 };
  gboolean all_ok = FALSE;
  JsonArray *array;
  JsonObject *obj;

  pk_toggle_service_query_status_async (service, ids, G_N_ELEMENTS (ids), NULL, pk_test_store_result, &res);
  pk_test_wait_result (&res, 30000);
  json = pk_toggle_service_query_status_finish (service, res, &all_ok, &error);
  g_assert_no_error (error);
  g_assert_true (all_ok);
  status = parse (json);
  array = json_node_get_array (status);
  g_assert_cmpuint (json_array_get_length (array), ==, 2);
  obj = json_array_get_object_element (array, 0);
  g_assert_cmpint (json_object_get_int_member (obj, "dongle"), ==, 42);
  g_assert_true (json_object_get_boolean_member (obj, "reachable"));
  g_assert_true (json_object_get_boolean_member (obj, "connected"));
  g_assert_cmpstr (json_object_get_string_member (obj, "wan_ip"), ==, hilink_emu_get_wan_ip (f->emu[1]));
  g_assert_cmpstr (json_object_get_string_member (obj, "egress_ip"), ==, "127.0.0.1");
  g_assert_true (json_object_has_member (obj, "mode"));
  text = pk_toggle_service_query_to_text (json);
  g_assert_true (g_str_has_prefix (text, "dongle 42   connected "));
  g_assert_nonnull (strstr (text, hilink_emu_get_wan_ip (f->emu[0])));

  g_clear_object (&res);
  pk_toggle_service_query_info_async (service, NULL, 0, NULL, pk_test_store_result, &res);
  pk_test_wait_result (&res, 30000);
  info_json = pk_toggle_service_query_info_finish (service, res, &all_ok, &error);
  g_assert_no_error (error);
  g_assert_true (all_ok);
  info = parse (info_json);
  array = json_node_get_array (info);
  g_assert_cmpuint (json_array_get_length (array), ==, N_DONGLES);
  obj = json_object_get_object_member (json_array_get_object_element (array, 0), "device");
  g_assert_cmpstr (json_object_get_string_member (obj, "device-name"), ==, "E8372h-320");
  info_text = pk_toggle_service_query_to_text (info_json);
  g_assert_true (g_str_has_prefix (info_text, "dongle 41 ("));
  g_assert_nonnull (strstr (info_text, "  signal:\n"));
}

static void
test_unreachable_status (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(PkConfig) config = make_config (f, 1, "request_timeout = 1s\n");
  g_autoptr(PkToggleService) service = make_service (config);
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *json = NULL;
  gboolean all_ok = TRUE;
  JsonObject *obj;

  g_clear_pointer (&f->emu[0], hilink_emu_free);
  pk_toggle_service_query_status_async (service, NULL, 0, NULL, pk_test_store_result, &res);
  pk_test_wait_result (&res, 30000);
  json = pk_toggle_service_query_status_finish (service, res, &all_ok, &error);
  g_assert_no_error (error);
  g_assert_false (all_ok);
  root = parse (json);
  obj = json_array_get_object_element (json_node_get_array (root), 0);
  g_assert_false (json_object_get_boolean_member (obj, "reachable"));
  g_assert_cmpstr (json_object_get_string_member (obj, "state"), ==, "unreachable");
  g_assert_true (json_object_get_null_member (obj, "wan_ip"));
}

static void
test_serve_and_reload (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(PkConfig) config = make_config (f, N_DONGLES, "allow_get = true\n");
  g_autoptr(PkConfig) fewer = make_config (f, 2, "method = netmode\n");
  g_autoptr(PkConfig) bad = make_config (f, 1, "cooldown = later\n");
  g_autoptr(PkToggleService) service = make_service (config);
  g_autoptr(GError) error = NULL;
  PkToggleServer *server;

  g_assert_false (pk_toggle_service_listen (service, "nowhere", &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT);
  g_assert_null (pk_toggle_service_get_server (service));
  g_clear_error (&error);

  g_assert_true (pk_toggle_service_listen (service, "127.0.0.1:0", &error));
  g_assert_no_error (error);
  server = pk_toggle_service_get_server (service);
  g_assert_nonnull (server);
  g_assert_cmpuint (pk_toggle_server_get_port (server), >, 0);
  g_assert_true (pk_toggle_server_get_toggle (server, 43) == pk_toggle_service_get_toggle (service, 43));

  /* A reload: 43 is gone, 41 and 42 are the new toggles. */
  g_assert_true (pk_toggle_service_load_config (service, fewer, &error));
  g_assert_no_error (error);
  g_assert_null (pk_toggle_server_get_toggle (server, 43));
  g_assert_true (pk_toggle_server_get_toggle (server, 41) == pk_toggle_service_get_toggle (service, 41));
  g_assert_cmpint (pk_toggle_service_get_method (service), ==, PK_ROTATION_METHOD_NETMODE);

  /* A bad configuration leaves the running set. */
  g_assert_false (pk_toggle_service_load_config (service, bad, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "later"));
  g_assert_cmpuint (pk_toggle_service_get_n_dongles (service), ==, 2);
  g_assert_nonnull (pk_toggle_server_get_toggle (server, 42));

  pk_toggle_service_stop (service);
  g_assert_null (pk_toggle_service_get_server (service));
}

static void
test_reasons (void)
{
  g_autoptr(GError) busy = g_error_new_literal (PK_ERROR, PK_ERROR_BUSY, "x");
  g_autoptr(GError) cooldown = g_error_new_literal (PK_ERROR, PK_ERROR_COOLDOWN, "x");
  g_autoptr(GError) limit = g_error_new_literal (PK_ERROR, PK_ERROR_NOT_ALLOWED, "x");
  g_autoptr(GError) unchanged = g_error_new_literal (PK_ERROR, PK_ERROR_UNCHANGED, "x");
  g_autoptr(GError) io = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "x");
  g_autoptr(GError) auth = g_error_new_literal (PK_ERROR, PK_ERROR_AUTH_FAILED, "x");
  g_autoptr(GError) other = g_error_new_literal (PK_ERROR, PK_ERROR_CONFIG, "x");

  g_assert_cmpstr (pk_toggle_refusal_reason (busy), ==, "busy");
  g_assert_cmpstr (pk_toggle_refusal_reason (cooldown), ==, "cooldown");
  g_assert_cmpstr (pk_toggle_refusal_reason (limit), ==, "limit");
  g_assert_cmpstr (pk_toggle_refusal_reason (other), ==, "error");
  g_assert_cmpstr (pk_toggle_failure_reason (unchanged), ==, "IP unchanged");
  g_assert_cmpstr (pk_toggle_failure_reason (io), ==, "modem unreachable");
  g_assert_cmpstr (pk_toggle_failure_reason (auth), ==, "modem login failed");
  g_assert_cmpstr (pk_toggle_failure_reason (busy), ==, "modem busy");
  g_assert_cmpstr (pk_toggle_failure_reason (other), ==, "modem error");
}

int
main (int    argc,
      char **argv)
{
  pk_test_init (&argc, &argv);

  g_test_add ("/toggle-service/config", Fixture, NULL, setup, test_config, teardown);
  g_test_add ("/toggle-service/convention-and-values", Fixture, NULL, setup, test_convention_and_values, teardown);
  g_test_add ("/toggle-service/all-waits-for-a-place", Fixture, NULL, setup, test_all_waits_for_a_place, teardown);
  g_test_add ("/toggle-service/recovery-waits-for-a-host-slot", Fixture, NULL, setup,
              test_recovery_waits_for_a_host_slot, teardown);
  g_test_add ("/toggle-service/refusals", Fixture, NULL, setup, test_refusals, teardown);
  g_test_add ("/toggle-service/status-and-info", Fixture, NULL, setup, test_status_and_info, teardown);
  g_test_add ("/toggle-service/unreachable-status", Fixture, NULL, setup, test_unreachable_status, teardown);
  g_test_add ("/toggle-service/serve-and-reload", Fixture, NULL, setup, test_serve_and_reload, teardown);
  g_test_add_func ("/toggle-service/reasons", test_reasons);

  return g_test_run ();
}
