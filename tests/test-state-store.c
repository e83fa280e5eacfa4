/* test-state-store.c: PkNodeState and PkStateStore
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <sys/wait.h>
#include <time.h>
#include <utime.h>
#include <unistd.h>

#include <proxykit/proxykit.h>

#include "pk-test-utils.h"

typedef struct {
  char *dir;
  PkStateStore *store;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  g_autofree char *base = g_dir_make_tmp ("pk-state-XXXXXX", NULL);

  g_assert_nonnull (base);
  /* a directory that does not exist yet: the first save creates it */
  f->dir = g_build_filename (base, "state", NULL);
  f->store = pk_state_store_new (f->dir);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_autofree char *base = g_path_get_dirname (f->dir);

  pk_test_run ("rm -rf '%s'", base);
  g_clear_object (&f->store);
  g_free (f->dir);
}

static void
test_default_directory (void)
{
  g_autoptr(PkStateStore) store = pk_state_store_new (NULL);

  g_assert_cmpstr (pk_state_store_get_directory (store), ==, "/var/lib/proxykit");
}

static void
test_round_trip (Fixture *f, gconstpointer data)
{
  g_autoptr(PkNodeState) node = pk_node_state_new ("11");
  g_autoptr(PkNodeState) back = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) names = NULL;

  pk_node_state_set_tunnel (node, "198.51.100.7", "pk-11", 11, "ppp11", 4242);
  pk_node_state_set_socks (node, "0.0.0.0:10011", 4240);
  pk_node_state_set_status (node, PK_NODE_STATUS_ONLINE, NULL);
  pk_node_state_set_fails (node, 2);
  pk_node_state_set_consecutive_failures (node, 1);
  pk_node_state_set_last_change (node, 1795000000);
  g_assert_cmpint (pk_node_state_get_status_changed (node), >, 0);

  g_assert_true (pk_state_store_save (f->store, node, &error));
  g_assert_no_error (error);

  back = pk_state_store_load (f->store, "11", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pk_node_state_get_name (back), ==, "11");
  g_assert_cmpint (pk_node_state_get_status (back), ==, PK_NODE_STATUS_ONLINE);
  g_assert_cmpstr (pk_node_state_get_tunnel_server (back), ==, "198.51.100.7");
  g_assert_cmpstr (pk_node_state_get_tunnel_linkname (back), ==, "pk-11");
  g_assert_cmpint (pk_node_state_get_tunnel_unit (back), ==, 11);
  g_assert_cmpstr (pk_node_state_get_tunnel_interface (back), ==, "ppp11");
  g_assert_cmpint (pk_node_state_get_tunnel_pid (back), ==, 4242);
  g_assert_cmpstr (pk_node_state_get_socks_listen (back), ==, "0.0.0.0:10011");
  g_assert_cmpint (pk_node_state_get_socks_pid (back), ==, 4240);
  g_assert_cmpuint (pk_node_state_get_fails (back), ==, 2);
  g_assert_cmpuint (pk_node_state_get_consecutive_failures (back), ==, 1);
  g_assert_cmpint (pk_node_state_get_last_change (back), ==, 1795000000);
  g_assert_cmpint (pk_node_state_get_status_changed (back), ==, pk_node_state_get_status_changed (node));

  names = pk_state_store_list (f->store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (names), ==, 1);
  g_assert_cmpstr (names[0], ==, "11");
}

static void
test_status_strings_in_file (Fixture *f, gconstpointer data)
{
  g_autoptr(PkNodeState) node = pk_node_state_new ("a");
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  g_autofree char *text = NULL;
  g_autoptr(PkNodeState) back = NULL;

  pk_node_state_set_tunnel (node, "x", "pk-a", 0, "ppp0", 1);
  pk_node_state_set_socks (node, "127.0.0.1:1080", 2);
  pk_node_state_set_status (node, PK_NODE_STATUS_PING_FAILED, "pppd is gone");
  pk_node_state_clear_socks (node);
  g_assert_true (pk_state_store_save (f->store, node, &error));

  path = pk_state_store_dup_path (f->store, "a");
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  g_assert_nonnull (strstr (text, "\"ping_failed\""));
  g_assert_nonnull (strstr (text, "\"socks\" : null"));
  g_assert_nonnull (strstr (text, "pppd is gone"));

  back = pk_state_store_load (f->store, "a", &error);
  g_assert_no_error (error);
  g_assert_null (pk_node_state_get_socks_listen (back));
  g_assert_cmpint (pk_node_state_get_socks_pid (back), ==, 0);
  g_assert_cmpstr (pk_node_state_get_reason (back), ==, "pppd is gone");
}

/* The recorded listener pid is only "current" while it is the process
 * that was recorded: not after it exited, not for a process that reuses
 * the pid, and (for files without the start time) not for a process
 * that is not pk-socks. */
static void
test_socks_pid_identity (void)
{
  g_autoptr(PkNodeState) node = pk_node_state_new ("n");
  g_autoptr(PkNodeState) back = NULL;
  g_autoptr(PkNodeState) legacy = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) child = NULL;
  g_autofree char *json = NULL;
  g_autofree char *doctored = NULL;
  g_autofree char *legacy_json = NULL;
  char *process;
  int child_pid;

  g_assert_false (pk_node_state_socks_pid_is_current (node));
  pk_node_state_set_socks (node, "127.0.0.1:1080", getpid ());
  g_assert_true (pk_node_state_socks_pid_is_current (node));

  json = pk_node_state_to_json (node);
  back = pk_node_state_new_from_json (json, -1, &error);
  g_assert_no_error (error);
  g_assert_true (pk_node_state_socks_pid_is_current (back));
  g_clear_object (&back);

  /* the same pid, started at another time */
  process = strstr (json, "\"process\"");
  g_assert_nonnull (process);
  doctored = g_strdup (json);
  process = strstr (doctored, "\"process\"");
  process = strchr (process + strlen ("\"process\""), ':');
  process = strchr (process, '"') + 1;
  *process = *process == 'x' ? 'y' : 'x';
  back = pk_node_state_new_from_json (doctored, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (pk_node_state_get_socks_pid (back), ==, getpid ());
  g_assert_false (pk_node_state_socks_pid_is_current (back));

  /* a file from before the start time was recorded: this test is not pk-socks */
  legacy_json = g_strdup_printf ("{\"name\": \"n\", \"status\": \"online\", "
                                 "\"socks\": {\"listen\": \"127.0.0.1:1080\", \"pid\": %d}}", getpid ());
  legacy = pk_node_state_new_from_json (legacy_json, -1, &error);
  g_assert_no_error (error);
  g_assert_false (pk_node_state_socks_pid_is_current (legacy));

  /* a process that has exited */
  child = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &error, "sleep", "30", NULL);
  g_assert_no_error (error);
  child_pid = atoi (g_subprocess_get_identifier (child));
  pk_node_state_set_socks (node, "127.0.0.1:1080", child_pid);
  g_assert_true (pk_node_state_socks_pid_is_current (node));
  g_subprocess_force_exit (child);
  g_subprocess_wait (child, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (pk_node_state_socks_pid_is_current (node));
}

static void
test_missing_node (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkNodeState) node = pk_state_store_load (f->store, "nope", &error);
  g_auto(GStrv) names = NULL;

  g_assert_null (node);
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_clear_error (&error);

  node = pk_state_store_load_or_new (f->store, "nope", &error);
  g_assert_no_error (error);
  g_assert_cmpint (pk_node_state_get_status (node), ==, PK_NODE_STATUS_STOPPED);
  g_assert_cmpint (pk_node_state_get_tunnel_unit (node), ==, -1);

  /* a state directory that does not exist lists no nodes */
  names = pk_state_store_list (f->store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (names), ==, 0);
}

static void
test_bad_names (Fixture *f, gconstpointer data)
{
  const char *bad[] = { "", "../etc/passwd", ".hidden", "a/b", "sp ace", NULL };
  g_autoptr(GError) error = NULL;

  for (guint i = 0; bad[i]; i++)
    {
      g_autoptr(PkNodeState) node = pk_state_store_load (f->store, bad[i], &error);
      g_assert_null (node);
      g_assert_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT);
      g_clear_error (&error);
    }
  g_assert_true (pk_state_store_is_valid_name ("socks:11"));
  g_assert_true (pk_state_store_is_valid_name ("pptp-a_1@host"));
}

static void
write_file (Fixture    *f,
            const char *name,
            const char *text)
{
  g_autofree char *path = pk_state_store_dup_path (f->store, name);

  g_assert_cmpint (g_mkdir_with_parents (f->dir, 0755), ==, 0);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
}

static void
test_corrupt_files_name_the_problem (Fixture *f, gconstpointer data)
{
  struct { const char *text; const char *expect; } cases[] = {
    { "{\"name\": \"n\", \"status\": \"online\"", "not valid JSON" },
    { "[1, 2]", "not a JSON object" },
    { "{\"name\": \"n\", \"status\": \"sleeping\"}", "'status' is 'sleeping'" },
    { "{\"name\": \"n\", \"tunnel\": {\"pid\": \"12\"}}", "'tunnel.pid' should be an integer" },
    { "{\"name\": \"n\", \"counters\": 3}", "'counters' should be an object" },
    { "{\"name\": \"other\"}", "'name' is 'other', expected 'n'" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PkNodeState) node = NULL;
      g_autofree char *path = pk_state_store_dup_path (f->store, "n");

      write_file (f, "n", cases[i].text);
      node = pk_state_store_load (f->store, "n", &error);
      g_assert_null (node);
      g_assert_error (error, PK_ERROR, PK_ERROR_STATE);
      if (strstr (error->message, cases[i].expect) == NULL)
        g_error ("case %u: '%s' does not mention '%s'", i, error->message, cases[i].expect);
      g_assert_nonnull (strstr (error->message, path));
    }
}

/* A locked change (what pk-socks and pk-watchdog make) to a node whose
 * file is corrupt keeps the file as NAME.json.corrupt and records a new
 * state, instead of failing for good. */
static void
test_corrupt_file_set_aside (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkNodeState) node = NULL;
  g_autoptr(PkNodeState) back = NULL;
  g_autofree char *path = pk_state_store_dup_path (f->store, "n");
  g_autofree char *aside = g_strconcat (path, ".corrupt", NULL);
  g_autofree char *kept = NULL;
  guint before = pk_test_count_expected_warnings ();

  write_file (f, "n", "{\"name\": \"n\", \"status\": \"onl");
  node = pk_state_store_load_locked (f->store, "n", &error);
  g_assert_no_error (error);
  g_assert_nonnull (node);
  g_assert_cmpuint (pk_test_count_expected_warnings (), ==, before + 1);
  g_assert_true (g_file_get_contents (aside, &kept, NULL, NULL));
  g_assert_cmpstr (kept, ==, "{\"name\": \"n\", \"status\": \"onl");

  pk_node_state_set_socks (node, "127.0.0.1:1080", 0);
  pk_node_state_set_status (node, PK_NODE_STATUS_ONLINE, NULL);
  g_assert_true (pk_state_store_save_unlock (f->store, node, &error));
  g_assert_no_error (error);
  back = pk_state_store_load (f->store, "n", &error);
  g_assert_no_error (error);
  g_assert_cmpint (pk_node_state_get_status (back), ==, PK_NODE_STATUS_ONLINE);
}

/* Temporary files of a write that was killed are removed by the next
 * locked change; a fresh one (a write in progress) is not. */
static void
test_stale_temporary_files_removed (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkNodeState) node = NULL;
  g_autofree char *stale = g_build_filename (f->dir, "n.json.Ab3xYz", NULL);
  g_autofree char *fresh = g_build_filename (f->dir, "n.json.Qw9eRt", NULL);
  g_autofree char *other = g_build_filename (f->dir, "m.json.Ab3xYz", NULL);
  struct utimbuf old = { .actime = time (NULL) - 3600, .modtime = time (NULL) - 3600 };

  write_file (f, "n", "{\"name\": \"n\"}");
  g_assert_true (g_file_set_contents (stale, "{\"name\"", -1, NULL));
  g_assert_true (g_file_set_contents (fresh, "{\"name\"", -1, NULL));
  g_assert_true (g_file_set_contents (other, "{\"name\"", -1, NULL));
  g_assert_cmpint (g_utime (stale, &old), ==, 0);
  g_assert_cmpint (g_utime (other, &old), ==, 0);

  node = pk_state_store_load_locked (f->store, "n", &error);
  g_assert_no_error (error);
  pk_state_store_unlock (f->store, "n");
  g_assert_false (g_file_test (stale, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (fresh, G_FILE_TEST_EXISTS));
  /* another node's files wait for that node's lock */
  g_assert_true (g_file_test (other, G_FILE_TEST_EXISTS));
}

static void
test_unknown_fields_ignored (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkNodeState) node = NULL;

  write_file (f, "n", "{\"name\": \"n\", \"status\": \"starting\", \"future\": [1], "
                      "\"counters\": {\"fails\": 7, \"new\": true}}");
  node = pk_state_store_load (f->store, "n", &error);
  g_assert_no_error (error);
  g_assert_cmpint (pk_node_state_get_status (node), ==, PK_NODE_STATUS_STARTING);
  g_assert_cmpuint (pk_node_state_get_fails (node), ==, 7);
}

/* A reader racing a writer sees complete documents only: the writer in a
 * child process rewrites the file as fast as it can while we parse it. */
static void
test_reader_never_sees_half_a_file (Fixture *f, gconstpointer data)
{
  g_autoptr(PkNodeState) first = pk_node_state_new ("race");
  g_autoptr(GError) error = NULL;
  pid_t child;
  int status = 0;
  guint reads = 0;
  guint max_fails = 0;

  g_assert_true (pk_state_store_save (f->store, first, &error));

  child = fork ();
  g_assert_cmpint (child, >=, 0);
  if (child == 0)
    {
      g_autoptr(PkNodeState) node = pk_node_state_new ("race");

      for (guint i = 1; i <= 300; i++)
        {
          /* a big reason makes the document span several writes */
          g_autofree char *reason = g_strnfill (4096 + i, 'x');
          pk_node_state_set_fails (node, i);
          pk_node_state_set_status (node, i % 2 ? PK_NODE_STATUS_ONLINE : PK_NODE_STATUS_PING_FAILED,
                                    reason);
          if (!pk_state_store_save (f->store, node, NULL))
            _exit (2);
        }
      _exit (0);
    }

  while (waitpid (child, &status, WNOHANG) == 0)
    {
      g_autoptr(PkNodeState) node = pk_state_store_load (f->store, "race", &error);

      g_assert_no_error (error);
      g_assert_nonnull (node);
      max_fails = MAX (max_fails, pk_node_state_get_fails (node));
      reads++;
    }
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
  g_assert_cmpuint (reads, >, 0);
  g_test_message ("%u complete reads during 300 writes (highest fails seen %u)", reads, max_fails);
}

/* Two processes add to one counter through the lock: no update is lost. */
static void
test_locked_updates_are_not_lost (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkNodeState) node = NULL;
  pid_t child;
  int status = 0;

  child = fork ();
  g_assert_cmpint (child, >=, 0);
  if (child == 0)
    {
      g_autoptr(PkStateStore) store = pk_state_store_new (f->dir);

      for (guint i = 0; i < 200; i++)
        {
          g_autoptr(PkNodeState) n = pk_state_store_load_locked (store, "count", NULL);
          if (n == NULL)
            _exit (2);
          pk_node_state_set_fails (n, pk_node_state_get_fails (n) + 1);
          if (!pk_state_store_save_unlock (store, n, NULL))
            _exit (3);
        }
      _exit (0);
    }
  for (guint i = 0; i < 200; i++)
    {
      g_autoptr(PkNodeState) n = pk_state_store_load_locked (f->store, "count", &error);
      g_assert_no_error (error);
      pk_node_state_set_fails (n, pk_node_state_get_fails (n) + 1);
      g_assert_true (pk_state_store_save_unlock (f->store, n, &error));
    }
  g_assert_cmpint (waitpid (child, &status, 0), ==, child);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);

  node = pk_state_store_load (f->store, "count", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pk_node_state_get_fails (node), ==, 400);

  /* the lock file is not a node */
  {
    g_auto(GStrv) names = pk_state_store_list (f->store, &error);
    g_assert_cmpuint (g_strv_length (names), ==, 1);
  }
}

static void
test_remove (Fixture *f, gconstpointer data)
{
  g_autoptr(PkNodeState) node = pk_node_state_new ("gone");
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) names = NULL;

  g_assert_true (pk_state_store_save (f->store, node, &error));
  g_assert_true (pk_state_store_remove (f->store, "gone", &error));
  g_assert_true (pk_state_store_remove (f->store, "gone", &error));
  g_assert_no_error (error);
  names = pk_state_store_list (f->store, &error);
  g_assert_cmpuint (g_strv_length (names), ==, 0);
}

/* pk-watchdog keeps a tunnel's identity and drops its process by passing
 * the node's own strings back */
static void
test_set_tunnel_from_own_values (void)
{
  g_autoptr(PkNodeState) node = pk_node_state_new ("own");

  pk_node_state_set_tunnel (node, "198.51.100.7", "pk-own", 4, "ppp4", 99);
  pk_node_state_set_socks (node, "127.0.0.1:1080", 98);
  pk_node_state_set_tunnel (node, pk_node_state_get_tunnel_server (node),
                            pk_node_state_get_tunnel_linkname (node),
                            pk_node_state_get_tunnel_unit (node), NULL, 0);
  pk_node_state_set_socks (node, pk_node_state_get_socks_listen (node), 0);
  g_assert_cmpstr (pk_node_state_get_tunnel_server (node), ==, "198.51.100.7");
  g_assert_cmpstr (pk_node_state_get_tunnel_linkname (node), ==, "pk-own");
  g_assert_null (pk_node_state_get_tunnel_interface (node));
  g_assert_cmpint (pk_node_state_get_tunnel_pid (node), ==, 0);
  g_assert_cmpstr (pk_node_state_get_socks_listen (node), ==, "127.0.0.1:1080");
}

static void
test_status_names (void)
{
  PkNodeStatus s;

  g_assert_cmpstr (pk_node_status_to_string (PK_NODE_STATUS_PING_FAILED), ==, "ping_failed");
  g_assert_true (pk_node_status_from_string ("stopped", &s));
  g_assert_cmpint (s, ==, PK_NODE_STATUS_STOPPED);
  g_assert_false (pk_node_status_from_string ("offline", &s));
}

int
main (int argc, char **argv)
{
  pk_test_init (&argc, &argv);
  pk_test_expect_warnings (".corrupt, the node starts from a new state");

  g_test_add_func ("/state-store/default-directory", test_default_directory);
  g_test_add_func ("/state-store/status-names", test_status_names);
  g_test_add_func ("/state-store/set-tunnel-from-own-values", test_set_tunnel_from_own_values);
  g_test_add_func ("/state-store/socks-pid-identity", test_socks_pid_identity);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, setup, fn, teardown)
  ADD ("/state-store/round-trip", test_round_trip);
  ADD ("/state-store/status-strings-in-file", test_status_strings_in_file);
  ADD ("/state-store/missing-node", test_missing_node);
  ADD ("/state-store/bad-names", test_bad_names);
  ADD ("/state-store/corrupt-files-name-the-problem", test_corrupt_files_name_the_problem);
  ADD ("/state-store/unknown-fields-ignored", test_unknown_fields_ignored);
  ADD ("/state-store/corrupt-file-set-aside", test_corrupt_file_set_aside);
  ADD ("/state-store/stale-temporary-files-removed", test_stale_temporary_files_removed);
  ADD ("/state-store/reader-never-sees-half-a-file", test_reader_never_sees_half_a_file);
  ADD ("/state-store/remove", test_remove);
  ADD ("/state-store/locked-updates-are-not-lost", test_locked_updates_are_not_lost);

  return g_test_run ();
}
