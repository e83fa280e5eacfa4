/* test-config.c: PkConfig and the value parsers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <unistd.h>

#include <proxykit/proxykit.h>

#include "pk-test-utils.h"
#include "pk-util-private.h"

static const char *sample =
  "# proxykit.conf\n"
  "[socks:11]\n"
  "listen = 0.0.0.0:10011\n"
  "connect-timeout = 90s\n"
  "\n"
  "[socks:12]\n"
  "listen = 0.0.0.0:10012\n"
  "connect-timeout = soon\n"
  "open = maybe\n"
  "[relay:1]\n"
  "rule = 50025;25;pool.example;TCP\n"
  "[watchdog]\n"
  "interval = 180\n";

static PkConfig *
load_sample (const char * const *envp)
{
  g_autoptr(GError) error = NULL;
  PkConfig *config = pk_config_new ();

  pk_config_set_environ (config, envp);
  pk_config_load_data (config, sample, -1, "test.conf", &error);
  g_assert_no_error (error);
  return config;
}

static void
test_sections (void)
{
  const char *env[] = { NULL };
  g_autoptr(PkConfig) config = load_sample (env);
  g_auto(GStrv) socks = pk_config_list_sections (config, "socks");
  g_auto(GStrv) watchdog = pk_config_list_sections (config, "watchdog");
  g_auto(GStrv) tunnels = pk_config_list_sections (config, "tunnel");

  g_assert_cmpstrv (socks, ((const char *[]) { "11", "12", NULL }));
  g_assert_cmpstrv (watchdog, ((const char *[]) { "", NULL }));
  g_assert_cmpuint (g_strv_length (tunnels), ==, 0);
  g_assert_true (pk_config_has_section (config, "relay:1"));
  g_assert_true (pk_config_has_key (config, "socks:11", "listen"));
  g_assert_false (pk_config_has_key (config, "socks:11", "users"));
}

static void
test_precedence (void)
{
  const char *none[] = { NULL };
  const char *env[] = { "SOCKS_CONNECT_TIMEOUT=15", NULL };
  g_autoptr(PkConfig) config = load_sample (none);
  g_autoptr(PkConfig) config_env = load_sample (env);
  g_autoptr(GError) error = NULL;
  guint64 ms = 0;

  /* file over default */
  pk_config_get_duration_ms (config, "socks:11", "connect-timeout", "SOCKS_CONNECT_TIMEOUT",
                             120000, &ms, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ms, ==, 90000);

  /* default where nothing is set */
  pk_config_get_duration_ms (config, "socks:11", "idle-timeout", "SOCKS_IDLE_TIMEOUT",
                             600000, &ms, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ms, ==, 600000);

  /* environment over file */
  pk_config_get_duration_ms (config_env, "socks:11", "connect-timeout", "SOCKS_CONNECT_TIMEOUT",
                             120000, &ms, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ms, ==, 15000);
}

/* Overrides (flags) win over the environment and the file; one for a
 * section wins over one for every section; errors name them. */
static void
test_overrides (void)
{
  const char *envp[] = { "SOCKS_CONNECT_TIMEOUT=45", NULL };
  g_autoptr(PkConfig) config = load_sample (envp);
  g_autoptr(GError) error = NULL;
  g_autofree char *where = NULL;
  guint64 ms = 0;

  g_assert_true (pk_config_get_duration_ms (config, "socks:11", "connect-timeout", "SOCKS_CONNECT_TIMEOUT",
                                            1, &ms, &error));
  g_assert_cmpuint (ms, ==, 45000);

  pk_config_set_override (config, NULL, "connect-timeout", "5s", "--connect-timeout");
  g_assert_true (pk_config_get_duration_ms (config, "socks:11", "connect-timeout", "SOCKS_CONNECT_TIMEOUT",
                                            1, &ms, &error));
  g_assert_cmpuint (ms, ==, 5000);
  /* a key no file or variable sets */
  g_assert_true (pk_config_get_duration_ms (config, "socks:99", "connect-timeout", NULL, 1, &ms, &error));
  g_assert_cmpuint (ms, ==, 5000);
  g_assert_true (pk_config_has_value (config, "socks:99", "connect-timeout", NULL));

  pk_config_set_override (config, "socks:11", "connect-timeout", "7s", "--timeout-11");
  g_assert_true (pk_config_get_duration_ms (config, "socks:11", "connect-timeout", NULL, 1, &ms, &error));
  g_assert_cmpuint (ms, ==, 7000);
  g_assert_true (pk_config_get_duration_ms (config, "socks:12", "connect-timeout", NULL, 1, &ms, &error));
  g_assert_cmpuint (ms, ==, 5000);

  pk_config_set_override (config, NULL, "connect-timeout", "soon", "--connect-timeout");
  g_assert_false (pk_config_get_duration_ms (config, "socks:12", "connect-timeout", NULL, 1, &ms, &error));
  g_assert_true (g_str_has_prefix (error->message, "--connect-timeout: "));
  g_clear_error (&error);
  where = pk_config_describe_value (config, "socks:12", "connect-timeout", NULL);
  g_assert_cmpstr (where, ==, "--connect-timeout");
  g_clear_pointer (&where, g_free);

  /* removed: the file again */
  pk_config_set_override (config, NULL, "connect-timeout", NULL, NULL);
  pk_config_set_override (config, "socks:11", "connect-timeout", NULL, NULL);
  g_assert_true (pk_config_get_duration_ms (config, "socks:11", "connect-timeout", NULL, 1, &ms, &error));
  g_assert_cmpuint (ms, ==, 90000);
  where = pk_config_describe_value (config, "socks:11", "connect-timeout", NULL);
  g_assert_cmpstr (where, ==, "test.conf:4: [socks:11] connect-timeout");
  g_assert_false (pk_config_has_value (config, "socks:99", "connect-timeout", NULL));
}

static void
test_errors_name_the_line (void)
{
  const char *none[] = { NULL };
  const char *bad_env[] = { "WATCHDOG_CHECK_INTERVAL=often", NULL };
  g_autoptr(PkConfig) config = load_sample (none);
  g_autoptr(PkConfig) config_env = load_sample (bad_env);
  g_autoptr(GError) error = NULL;
  guint64 ms;
  gboolean b;
  const char *known[] = { "listen", "connect-timeout", NULL };

  g_assert_false (pk_config_get_duration_ms (config, "socks:12", "connect-timeout", NULL, 0, &ms, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "test.conf:8: [socks:12] connect-timeout"));
  g_assert_nonnull (strstr (error->message, "'soon'"));
  g_clear_error (&error);

  g_assert_false (pk_config_get_boolean (config, "socks:12", "open", NULL, FALSE, &b, &error));
  g_assert_nonnull (strstr (error->message, "test.conf:9:"));
  g_clear_error (&error);

  g_assert_false (pk_config_check_keys (config, "socks:12", known, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "test.conf:9: [socks:12] open: unknown key"));
  g_clear_error (&error);

  g_assert_false (pk_config_get_duration_ms (config_env, "watchdog", "interval",
                                             "WATCHDOG_CHECK_INTERVAL", 0, &ms, &error));
  g_assert_nonnull (strstr (error->message, "environment variable WATCHDOG_CHECK_INTERVAL"));
}

static void
test_malformed_file (void)
{
  g_autoptr(PkConfig) config = pk_config_new ();
  g_autoptr(GError) error = NULL;

  g_assert_false (pk_config_load_data (config, "[socks:1\nlisten=1\n", -1, "bad.conf", &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "bad.conf"));
  g_clear_error (&error);

  g_assert_false (pk_config_load_file (config, "/nonexistent/proxykit.conf", &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "/nonexistent/proxykit.conf"));
}

static void
test_env_file (void)
{
  g_autoptr(PkConfig) config = pk_config_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  int fd;
  const char *contents =
    "# relays\n"
    "RELAY_1=\"50025;25;pool.example;TCP\"\n"
    "export CONNECT_TIMEOUT=10\n"
    "KEEPALIVE_IDLE='60'\n";
  const char *env[] = { "CONNECT_TIMEOUT=99", NULL };

  fd = g_file_open_tmp ("pk-env-XXXXXX", &path, &error);
  g_assert_no_error (error);
  close (fd);
  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);

  pk_config_set_environ (config, env);
  pk_config_load_env_file (config, path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pk_config_getenv (config, "RELAY_1"), ==, "50025;25;pool.example;TCP");
  g_assert_cmpstr (pk_config_getenv (config, "CONNECT_TIMEOUT"), ==, "10");
  g_assert_cmpstr (pk_config_getenv (config, "KEEPALIVE_IDLE"), ==, "60");

  g_file_set_contents (path, "RELAY_1\n", -1, &error);
  g_assert_false (pk_config_load_env_file (config, path, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, ":1: expected NAME=value"));
  g_unlink (path);
}

/* "key = value   # comment" in the farm guide read the comment as part of
 * the value (issue 19.2). */
static void
test_trailing_comments (void)
{
  const char *none[] = { NULL };
  g_autoptr(PkConfig) config = pk_config_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  char *v;
  int fd;
  guint64 ms = 0;
  const char *data =
    "# header\n"
    "[socks:11]   # a listener\n"
    "users = /etc/proxykit/users          # user:password lines\n"
    "allow = 10.0.0.0/8\t# tab before\n"
    "password = pass#word\n"
    "quoted = \"a # b\"  # c\n"
    "escaped = a\\s# b\n"
    "idle-timeout = 10m # ten\n";

  pk_config_set_environ (config, none);
  pk_config_load_data (config, data, -1, "c.conf", &error);
  g_assert_no_error (error);
#define ASSERT_VALUE(key, want) \
  v = pk_config_dup_string (config, "socks:11", key, NULL, NULL); \
  g_assert_cmpstr (v, ==, want); \
  g_free (v);
  ASSERT_VALUE ("users", "/etc/proxykit/users");
  ASSERT_VALUE ("allow", "10.0.0.0/8");
  ASSERT_VALUE ("password", "pass#word");
  ASSERT_VALUE ("quoted", "\"a # b\"");
  ASSERT_VALUE ("escaped", "a # b");
#undef ASSERT_VALUE
  pk_config_get_duration_ms (config, "socks:11", "idle-timeout", NULL, 0, &ms, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ms, ==, 600000);

  fd = g_file_open_tmp ("pk-env-XXXXXX", &path, &error);
  g_assert_no_error (error);
  close (fd);
  g_file_set_contents (path,
                       "RELAY_1=50025;25;pool.example;TCP   # smtp\n"
                       "RELAY_2=\"50026;26;a#b;TCP\" # quoted\n"
                       "PASS=x#y\n", -1, &error);
  g_assert_no_error (error);
  pk_config_load_env_file (config, path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pk_config_getenv (config, "RELAY_1"), ==, "50025;25;pool.example;TCP");
  g_assert_cmpstr (pk_config_getenv (config, "RELAY_2"), ==, "50026;26;a#b;TCP");
  g_assert_cmpstr (pk_config_getenv (config, "PASS"), ==, "x#y");
  g_unlink (path);
}

static void
test_parse_host_port (void)
{
  struct { const char *in; guint16 def; const char *host; guint16 port; } good[] = {
    { "127.0.0.1:1080", 0, "127.0.0.1", 1080 },
    { "[::1]:1080", 0, "::1", 1080 },
    { "::1", 1080, "::1", 1080 },
    { "example.org", 443, "example.org", 443 },
    { "example.org:25", 443, "example.org", 25 },
  };
  const char *bad[] = { "", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "[::1", ":80", "[::1]x", "h:p" };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autofree char *host = NULL;
      g_autoptr(GError) error = NULL;
      guint16 port = 0;

      g_assert_true (pk_parse_host_port (good[i].in, good[i].def, &host, &port, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (host, ==, good[i].host);
      g_assert_cmpuint (port, ==, good[i].port);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *host = NULL;
      g_autoptr(GError) error = NULL;
      guint16 port = 0;

      g_assert_false (pk_parse_host_port (bad[i], 0, &host, &port, &error));
      g_assert_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT);
    }
}

static void
test_parse_duration (void)
{
  struct { const char *in; guint64 ms; } good[] = {
    { "30", 30000 }, { "30s", 30000 }, { "500ms", 500 }, { "2m", 120000 },
    { "1h", 3600000 }, { "1.5s", 1500 }, { " 7 ", 7000 }, { "0", 0 },
  };
  const char *bad[] = { "", "-1", "s", "10x", "1e400", "ten" };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      guint64 ms = 1;
      g_autoptr(GError) error = NULL;

      g_assert_true (pk_parse_duration_ms (good[i].in, &ms, &error));
      g_assert_cmpuint (ms, ==, good[i].ms);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      guint64 ms;
      g_autoptr(GError) error = NULL;

      g_assert_false (pk_parse_duration_ms (bad[i], &ms, &error));
      g_assert_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT);
    }
}

static void
test_cidr_list (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = pk_parse_cidr_list ("10.0.0.0/8, 192.168.1.5 ::1/128", &error);
  struct { const char *addr; gboolean match; } cases[] = {
    { "10.1.2.3", TRUE }, { "11.0.0.1", FALSE }, { "192.168.1.5", TRUE },
    { "192.168.1.6", FALSE }, { "::1", TRUE }, { "::ffff:10.9.9.9", TRUE }, { "::2", FALSE },
  };

  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 3);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GInetAddress) a = g_inet_address_new_from_string (cases[i].addr);
      g_assert_cmpint (pk_cidr_list_matches (list, a), ==, cases[i].match);
    }

  g_assert_null (pk_parse_cidr_list ("10.0.0.0/33", &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "10.0.0.0/33"));
}

int
main (int argc, char **argv)
{
  pk_test_init (&argc, &argv);

  g_test_add_func ("/config/sections", test_sections);
  g_test_add_func ("/config/precedence", test_precedence);
  g_test_add_func ("/config/overrides", test_overrides);
  g_test_add_func ("/config/errors-name-the-line", test_errors_name_the_line);
  g_test_add_func ("/config/malformed-file", test_malformed_file);
  g_test_add_func ("/config/env-file", test_env_file);
  g_test_add_func ("/config/trailing-comments", test_trailing_comments);
  g_test_add_func ("/util/parse-host-port", test_parse_host_port);
  g_test_add_func ("/util/parse-duration", test_parse_duration);
  g_test_add_func ("/util/cidr-list", test_cidr_list);

  return g_test_run ();
}
