/* test-relay-cli.c: the pk-relay tool: env file, --status, SIGHUP, bad input
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "pk-test-utils.h"

typedef struct {
  char *dir;
  char *env_file;
  char *state_file;
  char *log_file;
  char *tool;
  GSubprocess *relay;
  PkTestEchoServer *echo;
  guint16 echo_port;
} Fixture;

static guint16
free_port (GSocketType type)
{
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GSocket) s = g_socket_new (G_SOCKET_FAMILY_IPV4, type, G_SOCKET_PROTOCOL_DEFAULT, NULL);

  g_socket_bind (s, addr, FALSE, NULL);
  bound = g_socket_get_local_address (s, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->dir = g_dir_make_tmp ("pk-relay-cli-XXXXXX", &error);
  g_assert_no_error (error);
  f->env_file = g_build_filename (f->dir, "relay.env", NULL);
  f->state_file = g_build_filename (f->dir, "state.json", NULL);
  f->log_file = g_build_filename (f->dir, "log", NULL);
  f->tool = pk_test_build_path ("cli/pk-relay");
  f->echo = pk_test_echo_server_new ("127.0.0.1", G_SOCKET_TYPE_STREAM);
  f->echo_port = pk_test_echo_server_get_port (f->echo);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  if (f->relay != NULL)
    {
      g_subprocess_force_exit (f->relay);
      g_subprocess_wait (f->relay, NULL, NULL);
      g_object_unref (f->relay);
    }
  pk_test_echo_server_free (f->echo);
  g_unlink (f->env_file);
  g_unlink (f->state_file);
  g_unlink (f->log_file);
  g_rmdir (f->dir);
  g_free (f->dir);
  g_free (f->env_file);
  g_free (f->state_file);
  g_free (f->log_file);
  g_free (f->tool);
}

static void
write_env (Fixture    *f,
           const char *contents)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents (f->env_file, contents, -1, &error);
  g_assert_no_error (error);
}

/* The relay's open-file limit, soft and hard (0: as inherited). */
static rlim_t child_nofile;

static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (child_nofile > 0)
    {
      struct rlimit rl = { child_nofile, child_nofile };

      setrlimit (RLIMIT_NOFILE, &rl);
    }
}

static GSubprocess *
spawn (Fixture            *f,
       GSubprocessFlags    flags,
       const char * const *extra)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (flags);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  GSubprocess *proc;

  g_subprocess_launcher_unsetenv (launcher, "NOTIFY_SOCKET");
  g_subprocess_launcher_setenv (launcher, "PROXYKIT_CONFIG", "/dev/null", TRUE);
  if (!(flags & (G_SUBPROCESS_FLAGS_STDERR_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE)))
    g_subprocess_launcher_set_stderr_file_path (launcher, f->log_file);
  /* A relay must not outlive a test that failed half-way. */
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  g_ptr_array_add (argv, f->tool);
  g_ptr_array_add (argv, "--state-file");
  g_ptr_array_add (argv, f->state_file);
  for (guint i = 0; extra[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) extra[i]);
  g_ptr_array_add (argv, NULL);
  proc = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  return proc;
}

/* Runs `pk-relay --state-file F --status --json` and parses its output. */
static JsonObject *
status (Fixture *f)
{
  static const char * const args[] = { "--status", "--json", NULL };
  g_autoptr(GSubprocess) proc = spawn (f, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, args);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();

  g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  if (g_subprocess_get_exit_status (proc) != 0)
    return NULL;
  json_parser_load_from_data (parser, out, -1, &error);
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static guint16
rule_port (JsonObject *st,
           const char *name)
{
  JsonArray *rules = json_object_get_array_member (st, "rules");

  for (guint i = 0; i < json_array_get_length (rules); i++)
    {
      JsonObject *o = json_array_get_object_element (rules, i);

      if (g_str_equal (json_object_get_string_member (o, "name"), name))
        {
          const char *listen = json_object_get_string_member (o, "listen");
          return atoi (strrchr (listen, ':') + 1);
        }
    }
  return 0;
}

typedef struct {
  Fixture *f;
  const char *name;
  gboolean present;
} RuleWait;

static gboolean
rule_listed (gpointer data)
{
  RuleWait *w = data;
  g_autoptr(JsonObject) st = status (w->f);

  if (st == NULL)
    return FALSE;
  return (rule_port (st, w->name) != 0) == w->present;
}

static void
wait_rule (Fixture    *f,
           const char *name,
           gboolean    present)
{
  RuleWait w = { f, name, present };

  pk_test_wait_until (rule_listed, &w, 20000);
}

static GSocket *
connect_port (guint16 port)
{
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new (lo, port);

  return pk_test_connect_tcp (addr);
}

static void
roundtrip (GSocket    *s,
           const char *msg)
{
  char buf[64];
  gsize len = strlen (msg);

  pk_test_send_all (s, msg, len);
  pk_test_recv_exact (s, buf, len, 10000);
  g_assert_cmpmem (buf, len, msg, len);
}

static gboolean
refused (guint16 port)
{
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new (lo, port);
  g_autoptr(GSocket) s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, NULL);

  return !g_socket_connect (s, addr, NULL, NULL);
}

/* Waits until the relay's log holds @needle; fails the test after 10 s. */
static void
wait_log (Fixture    *f,
          const char *needle)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  for (;;)
    {
      g_autofree char *log = NULL;

      if (g_file_get_contents (f->log_file, &log, NULL, NULL) && strstr (log, needle) != NULL)
        return;
      if (g_get_monotonic_time () >= deadline)
        g_error ("the log does not say '%s': %s", needle, log ? log : "(no log)");
      g_usleep (20000);
    }
}

static void
test_env_file_sighup (Fixture       *f,
                      gconstpointer  data)
{
  static const char * const args_tmpl[] = { "--listen-address", "127.0.0.1", "--env-file", NULL, NULL };
  const char *args[G_N_ELEMENTS (args_tmpl)];
  guint16 p1 = free_port (G_SOCKET_TYPE_STREAM);
  guint16 p2 = free_port (G_SOCKET_TYPE_STREAM);
  guint16 p3 = free_port (G_SOCKET_TYPE_STREAM);
  guint16 pu = free_port (G_SOCKET_TYPE_DATAGRAM);
  g_autofree char *env1 = NULL;
  g_autofree char *env2 = NULL;
  g_autoptr(GSocket) live = NULL;
  g_autoptr(JsonObject) st = NULL;
  g_autoptr(GError) error = NULL;

  memcpy (args, args_tmpl, sizeof args);
  args[3] = f->env_file;

  /* The shell tools' format, as operators have it. */
  env1 = g_strdup_printf ("CONNECT_TIMEOUT=5\nKEEPALIVE_IDLE=60\nKEEPALIVE_INTVL=10\nKEEPALIVE_CNT=6\n"
                          "ENABLE_HEALTH_CHECK=false\n"
                          "RELAY_1=\"%u;%u;127.0.0.1;TCP\"\n"
                          "RELAY_2=\"%u;%u;127.0.0.1;TCP\"\n"
                          "RELAY_3=\"%u;%u;127.0.0.1;UDP\"\n",
                          p1, f->echo_port, p2, f->echo_port, pu, f->echo_port);
  write_env (f, env1);
  f->relay = spawn (f, G_SUBPROCESS_FLAGS_NONE, args);
  wait_rule (f, "RELAY_3", TRUE);

  st = status (f);
  g_assert_cmpuint (rule_port (st, "RELAY_1"), ==, p1);
  g_assert_cmpuint (rule_port (st, "RELAY_2"), ==, p2);
  live = connect_port (p1);
  roundtrip (live, "through RELAY_1");

  /* The table for people. */
  {
    static const char * const text_args[] = { "--status", NULL };
    g_autoptr(GSubprocess) proc = spawn (f, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, text_args);
    g_autofree char *out = NULL;
    g_autofree char *line = g_strdup_printf ("127.0.0.1:%u", f->echo_port);
    g_auto(GStrv) lines = NULL;

    g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, 0);
    lines = g_strsplit (out, "\n", -1);
    g_assert_true (g_str_has_prefix (lines[0], "RULE"));
    g_assert_true (g_str_has_prefix (lines[1], "RELAY_1 "));
    g_assert_nonnull (strstr (lines[1], line));
    g_assert_nonnull (strstr (lines[3], " udp "));
  }

  /* RELAY_1 unchanged, RELAY_2 removed, RELAY_4 added, RELAY_3 changed. */
  env2 = g_strdup_printf ("CONNECT_TIMEOUT=5\nKEEPALIVE_IDLE=60\nKEEPALIVE_INTVL=10\nKEEPALIVE_CNT=6\n"
                          "RELAY_1=\"%u;%u;127.0.0.1;TCP\"\n"
                          "RELAY_3=\"%u;%u;127.0.0.1;UDP\"\n"
                          "RELAY_4=\"%u;%u;127.0.0.1;TCP\"\n",
                          p1, f->echo_port, pu, f->echo_port + 1, p3, f->echo_port);
  write_env (f, env2);
  g_subprocess_send_signal (f->relay, SIGHUP);
  wait_rule (f, "RELAY_4", TRUE);

  g_assert_true (refused (p2));
  {
    g_autoptr(JsonObject) st2 = status (f);
    JsonArray *rules = json_object_get_array_member (st2, "rules");
    g_autofree char *target = g_strdup_printf ("127.0.0.1:%u", f->echo_port + 1);

    g_assert_cmpuint (json_array_get_length (rules), ==, 3);
    for (guint i = 0; i < 3; i++)
      {
        JsonObject *o = json_array_get_object_element (rules, i);
        if (g_str_equal (json_object_get_string_member (o, "name"), "RELAY_3"))
          g_assert_cmpstr (json_object_get_string_member (o, "target"), ==, target);
      }
  }
  roundtrip (live, "RELAY_1 kept its connection");
  {
    g_autoptr(GSocket) fresh = connect_port (p3);
    roundtrip (fresh, "through RELAY_4");
  }

  /* A broken file is refused as a whole; the running rules stay. */
  write_env (f, "RELAY_1=\"1;2;3\"\n");
  g_subprocess_send_signal (f->relay, SIGHUP);
  wait_log (f, "reload refused, the running rules stay: RELAY_1: relay spec '1;2;3'");
  roundtrip (live, "still there");

  /* A file with no rule at all (a typo) is refused too: the rules stay. */
  write_env (f, "CONNECT_TIMEOUT=5\nRELAY1=\n");
  g_subprocess_send_signal (f->relay, SIGHUP);
  wait_log (f, "reload refused, the running rules stay: no relay rules");
  roundtrip (live, "still there after an empty reload");
  {
    g_autoptr(GSocket) fresh = connect_port (p3);
    roundtrip (fresh, "RELAY_4 still accepts");
  }

  /* SIGTERM drains: no new clients, the live connection goes on until
   * its client is done; then a clean exit, and no status left behind. */
  g_subprocess_send_signal (f->relay, SIGTERM);
  {
    gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

    while (!refused (p1) && g_get_monotonic_time () < deadline)
      g_usleep (10000);
    g_assert_true (refused (p1));
  }
  roundtrip (live, "while draining");
  g_clear_object (&live);
  g_subprocess_wait (f->relay, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (f->relay));
  g_assert_cmpint (g_subprocess_get_exit_status (f->relay), ==, 0);
  g_clear_object (&f->relay);
  g_assert_false (g_file_test (f->state_file, G_FILE_TEST_EXISTS));
}

static guint
count_lines_with (const char *text,
                  const char *needle)
{
  g_auto(GStrv) lines = g_strsplit (text != NULL ? text : "", "\n", -1);
  guint n = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    if (strstr (lines[i], needle) != NULL)
      n++;
  return n;
}

static char *
read_log (Fixture *f)
{
  char *log = NULL;

  g_file_get_contents (f->log_file, &log, NULL, NULL);
  return log;
}

/* Out of descriptors, the accept loop pauses and says so in one line,
 * rather than spinning on EMFILE with a line per try (about 128,000 a
 * second without workers, ten a second per worker with them). Once
 * descriptors are free again, it accepts again. */
static void
test_out_of_descriptors (Fixture       *f,
                         gconstpointer  data)
{
  const char *workers = data;
  guint16 port = free_port (G_SOCKET_TYPE_STREAM);
  g_autofree char *rule = g_strdup_printf ("%u;%u;127.0.0.1;TCP", port, f->echo_port);
  const char *args[] = { "--listen-address", "127.0.0.1", "--workers", workers, rule, NULL };
  g_autoptr(GPtrArray) clients = g_ptr_array_new_with_free_func (g_object_unref);
  g_autofree char *log = NULL;
  g_autofree char *name = g_strdup_printf ("%u/tcp", port);
  gint64 deadline;

  /* About ten descriptors go to the relay itself, two to each connection.
   * With an odd number left, the last client takes the last one and its
   * upstream socket finds none: the relay closes it, and so on, without
   * ever failing to accept. One more descriptor makes the number even. */
  for (rlim_t limit = 32; limit <= 33 && count_lines_with (log, "accept") == 0; limit++)
    {
      if (f->relay != NULL)
        {
          g_subprocess_force_exit (f->relay);
          g_subprocess_wait (f->relay, NULL, NULL);
          g_clear_object (&f->relay);
          g_ptr_array_set_size (clients, 0);
        }
      child_nofile = limit;
      f->relay = spawn (f, G_SUBPROCESS_FLAGS_NONE, args);
      child_nofile = 0;
      wait_rule (f, name, TRUE);

      for (guint i = 0; i < 30; i++)
        g_ptr_array_add (clients, connect_port (port));
      deadline = g_get_monotonic_time () + 3 * G_USEC_PER_SEC;
      while (count_lines_with (log, "accept") == 0 && g_get_monotonic_time () < deadline)
        {
          g_usleep (20000);
          g_clear_pointer (&log, g_free);
          log = read_log (f);
        }
    }
  g_assert_cmpuint (count_lines_with (log, "accept"), >, 0);

  /* A second more of it: the first line, and no more. */
  g_usleep (G_USEC_PER_SEC);
  g_clear_pointer (&log, g_free);
  log = read_log (f);
  if (count_lines_with (log, "accept") > 2)
    g_error ("%u lines about accept in a second:\n%.2000s", count_lines_with (log, "accept"), log);
  g_assert_nonnull (strstr (log, "Too many open files; pausing accepts"));

  /* Clients go, their connections end: the waiting ones are served. */
  g_ptr_array_set_size (clients, 0);
  {
    g_autoptr(GSocket) fresh = connect_port (port);
    roundtrip (fresh, "accepting again");
  }
}

static gboolean
file_exists (gpointer path)
{
  return g_file_test (path, G_FILE_TEST_EXISTS);
}

/* A second pk-relay on a port the first serves exits 1 (workers or not),
 * rather than sharing it through SO_REUSEPORT and taking half of the
 * connections; with --reuse-port on both, they share it on purpose. */
static void
test_port_in_use (Fixture       *f,
                  gconstpointer  data)
{
  guint16 port = free_port (G_SOCKET_TYPE_STREAM);
  g_autofree char *rule = g_strdup_printf ("%u;%u;127.0.0.1;TCP", port, f->echo_port);
  g_autofree char *name = g_strdup_printf ("%u/tcp", port);
  g_autofree char *state2 = g_build_filename (f->dir, "state2.json", NULL);
  const char *first_args[] = { "--listen-address", "127.0.0.1", "--workers", "2", rule, NULL };
  const char *shared_args[] = { "--listen-address", "127.0.0.1", "--workers", "2", "--reuse-port", rule, NULL };
  const char *workers[] = { "0", "1", "2" };

  f->relay = spawn (f, G_SUBPROCESS_FLAGS_NONE, first_args);
  wait_rule (f, name, TRUE);
  for (guint i = 0; i < G_N_ELEMENTS (workers); i++)
    {
      const char *args[] = { "--state-file", state2, "--listen-address", "127.0.0.1",
                             "--workers", workers[i], rule, NULL };
      g_autoptr(GSubprocess) proc = spawn (f, G_SUBPROCESS_FLAGS_STDERR_PIPE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE, args);
      g_autofree char *err = NULL;
      g_autoptr(GError) error = NULL;

      g_subprocess_communicate_utf8 (proc, NULL, NULL, NULL, &err, &error);
      g_assert_no_error (error);
      g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, 1);
      if (strstr (err, "Address already in use") == NULL)
        g_error ("--workers %s: stderr '%s' does not name the port in use", workers[i], err);
    }
  {
    g_autoptr(GSocket) s = connect_port (port);
    roundtrip (s, "still the first relay");
  }

  /* Both opt in: the second one starts and serves the port too. */
  g_subprocess_force_exit (f->relay);
  g_subprocess_wait (f->relay, NULL, NULL);
  g_clear_object (&f->relay);
  f->relay = spawn (f, G_SUBPROCESS_FLAGS_NONE, shared_args);
  wait_rule (f, name, TRUE);
  {
    const char *args[] = { "--state-file", state2, "--listen-address", "127.0.0.1",
                           "--workers", "1", "--reuse-port", rule, NULL };
    g_autoptr(GSubprocess) second = spawn (f, G_SUBPROCESS_FLAGS_NONE, args);
    g_autoptr(GSocket) s = NULL;

    /* Once the first is gone, the second one answers on the port. */
    pk_test_wait_until (file_exists, state2, 20000);
    g_subprocess_force_exit (f->relay);
    g_subprocess_wait (f->relay, NULL, NULL);
    g_clear_object (&f->relay);
    s = connect_port (port);
    roundtrip (s, "served by the second relay");
    g_subprocess_force_exit (second);
    g_subprocess_wait (second, NULL, NULL);
  }
  g_unlink (state2);
}

static void
assert_usage_error (Fixture            *f,
                    const char * const *args,
                    const char         *expected)
{
  g_autoptr(GSubprocess) proc = spawn (f, G_SUBPROCESS_FLAGS_STDERR_PIPE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE, args);
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;

  g_subprocess_communicate_utf8 (proc, NULL, NULL, NULL, &err, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, 2);
  if (strstr (err, expected) == NULL)
    g_error ("stderr '%s' does not contain '%s'", err, expected);
}

static void
test_bad_input (Fixture       *f,
                gconstpointer  data)
{
  const char *env_args[] = { "--env-file", f->env_file, NULL };
  static const char * const bad_port[] = { "70000;25;127.0.0.1;TCP", NULL };
  static const char * const bad_proto[] = { "5000;25;127.0.0.1;SCTP", NULL };
  static const char * const missing[] = { "5000;25;127.0.0.1", NULL };
  static const char * const dup[] = { "5000;25;127.0.0.1;TCP", "5000;26;127.0.0.1;tcp", NULL };
  static const char * const none[] = { NULL };

  assert_usage_error (f, bad_port, "in_port '70000' is not a port");
  assert_usage_error (f, bad_proto, "protocol 'SCTP' is not TCP or UDP");
  assert_usage_error (f, missing, "missing fields");
  assert_usage_error (f, dup, "duplicate inbound port 5000/TCP");
  assert_usage_error (f, none, "no relay rules");

  /* --check too: an env file with no rule (RELAY1= for RELAY_1=) fails. */
  {
    const char *check_args[] = { "--check", "--env-file", f->env_file, NULL };

    write_env (f, "RELAY1=\n");
    assert_usage_error (f, check_args, "no relay rules");
  }

  /* One bad line in an env file: nothing starts. */
  write_env (f, "RELAY_1=\"5000;25;127.0.0.1;TCP\"\nRELAY_2=\"5001;;127.0.0.1;TCP\"\n");
  assert_usage_error (f, env_args, "RELAY_2: relay spec '5001;;127.0.0.1;TCP': out_port is empty");
}

static void
test_check_config (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *conf = g_build_filename (f->dir, "proxykit.conf", NULL);
  const char *args[] = { "--check", "--config", conf, "7000;25;192.0.2.1;TCP", NULL };
  g_autoptr(GSubprocess) proc = NULL;
  g_autofree char *out = NULL;
  g_autoptr(GError) error = NULL;

  g_file_set_contents (conf,
                       "[relay]\nconnect-timeout = 3s\n\n"
                       "[relay:smtp]\nlisten = 127.0.0.1:50025\ntarget = 192.0.2.10:25\n"
                       "health-check = yes\n", -1, &error);
  g_assert_no_error (error);
  proc = spawn (f, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, args);
  g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, 0);
  g_assert_nonnull (strstr (out, "7000/tcp: *:7000/tcp -> 192.0.2.1:25 connect-timeout=3000ms"));
  g_assert_nonnull (strstr (out, "smtp: 127.0.0.1:50025/tcp -> 192.0.2.10:25 connect-timeout=3000ms keepalive=60/10/6 health-check=on"));
  g_unlink (conf);
}

static void
test_status_not_running (Fixture       *f,
                         gconstpointer  data)
{
  static const char * const args[] = { "--status", NULL };
  g_autoptr(GSubprocess) proc = spawn (f, G_SUBPROCESS_FLAGS_STDERR_PIPE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE, args);
  g_autofree char *err = NULL;

  g_subprocess_communicate_utf8 (proc, NULL, NULL, NULL, &err, NULL);
  g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, 1);
  g_assert_nonnull (strstr (err, "no status"));
}

int
main (int argc, char **argv)
{
  pk_test_init (&argc, &argv);

  g_test_add ("/relay-cli/env-file/sighup-add-remove-keep", Fixture, NULL,
              fixture_setup, test_env_file_sighup, fixture_teardown);
  g_test_add ("/relay-cli/bad-input-starts-nothing", Fixture, NULL,
              fixture_setup, test_bad_input, fixture_teardown);
  g_test_add ("/relay-cli/check/config-sections", Fixture, NULL,
              fixture_setup, test_check_config, fixture_teardown);
  g_test_add ("/relay-cli/status/not-running", Fixture, NULL,
              fixture_setup, test_status_not_running, fixture_teardown);
  g_test_add ("/relay-cli/port-in-use", Fixture, NULL,
              fixture_setup, test_port_in_use, fixture_teardown);
  g_test_add ("/relay-cli/out-of-descriptors/no-workers", Fixture, "0",
              fixture_setup, test_out_of_descriptors, fixture_teardown);
  g_test_add ("/relay-cli/out-of-descriptors/workers", Fixture, "1",
              fixture_setup, test_out_of_descriptors, fixture_teardown);

  return g_test_run ();
}
