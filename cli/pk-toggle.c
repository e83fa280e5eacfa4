/* pk-toggle.c: new mobile IPs for HiLink dongles, once or over HTTP
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "pk-cli-common.h"
#include "pk-toggle-dongles.h"

/* Exit status when a toggle was refused (busy, cooldown, limit): the
 * caller may try again later. */
#define EXIT_REFUSED PK_TOGGLE_EXIT_REFUSED

static char *opt_config;
static char *opt_method;
static gboolean opt_all;
static gboolean opt_status;
static gboolean opt_info;
static gboolean opt_json;
static char *opt_serve;
static char *opt_dongles;
static char **opt_api;
static char **opt_address;
static char *opt_escalation;
static char *opt_cooldown;
static char *opt_max_concurrent;
static gboolean opt_recovery;
static char *opt_settle;
static char *opt_poll_interval;
static char *opt_timeout;
static char *opt_request_timeout;
static char *opt_unchanged_polls;
static char *opt_state_dir;
static gboolean opt_check;
static char *opt_token_file;
static gboolean opt_allow_get;
static gboolean opt_version;
static char **opt_ids;

static const GOptionEntry entries[] = {
  { "method", 'm', 0, G_OPTION_ARG_STRING, &opt_method, "How to rotate first: data, netmode or reboot (default data)", "METHOD" },
  { "all", 'a', 0, G_OPTION_ARG_NONE, &opt_all, "Toggle (or with --status/--info: show) every configured dongle", NULL },
  { "status", 's', 0, G_OPTION_ARG_NONE, &opt_status, "Show the state and WAN IP of the dongles", NULL },
  { "info", 'i', 0, G_OPTION_ARG_NONE, &opt_info, "Show the device information and signal of the dongles", NULL },
  { "json", 'j', 0, G_OPTION_ARG_NONE, &opt_json, "Print results as JSON", NULL },
  { "serve", 0, 0, G_OPTION_ARG_STRING, &opt_serve, "Serve the HTTP API on ADDRESS:PORT (/toggle/N, /status, /proxy-info, /metrics)", "ADDR:PORT" },
  { "config", 'c', 0, G_OPTION_ARG_FILENAME, &opt_config, "Configuration file with [toggle] and [dongle:N] sections (default: " PK_CLI_DEFAULT_CONFIG ")", "FILE" },
  { "dongles", 'd', 0, G_OPTION_ARG_STRING, &opt_dongles, "Dongles by the subnet convention when the configuration has no [dongle:N], e.g. 11-20,25", "LIST" },
  { "api", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_api, "API address of dongle N (default http://192.168.N.1); repeatable", "N=URL" },
  { "address", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_address, "The host's address on dongle N's subnet, the egress (default 192.168.N.100); repeatable", "N=ADDR" },
  { "escalation", 'e', 0, G_OPTION_ARG_STRING, &opt_escalation, "Methods to try when the IP stays (default data,netmode,reboot; none for no escalation)", "LIST" },
  { "cooldown", 0, 0, G_OPTION_ARG_STRING, &opt_cooldown, "Pause after a toggle of a dongle before the next (default 15s)", "DURATION" },
  { "max-concurrent", 0, 0, G_OPTION_ARG_STRING, &opt_max_concurrent, "Toggles at once (default 3, 0: no limit)", "N" },
  { "recovery", 'r', 0, G_OPTION_ARG_NONE, &opt_recovery, "Ignore the limit on toggles at once (to bring dongles back)", NULL },
  { "settle", 0, 0, G_OPTION_ARG_STRING, &opt_settle, "Pause between switching off and on (default 3s)", "DURATION" },
  { "poll-interval", 0, 0, G_OPTION_ARG_STRING, &opt_poll_interval, "How often to poll the modem for its new IP (default 1s)", "DURATION" },
  { "timeout", 't', 0, G_OPTION_ARG_STRING, &opt_timeout, "How long one method may wait for the modem to come back (default 60s)", "DURATION" },
  { "request-timeout", 0, 0, G_OPTION_ARG_STRING, &opt_request_timeout, "Bound of one modem API call (default 10s)", "DURATION" },
  { "unchanged-polls", 0, 0, G_OPTION_ARG_STRING, &opt_unchanged_polls, "Polls with the old IP that make a method count as unchanged (default 3)", "N" },
  { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &opt_state_dir, "Where locks and cooldowns are shared with other pk-toggle processes (default $RUNTIME_DIRECTORY or " PK_RUN_DIR ")", "DIR" },
  { "token-file", 0, 0, G_OPTION_ARG_FILENAME, &opt_token_file, "With --serve: clients must send 'Authorization: Bearer TOKEN' (the file's first line) to toggle or see /proxy-info", "FILE" },
  { "allow-get", 0, 0, G_OPTION_ARG_NONE, &opt_allow_get, "With --serve: GET /toggle/N toggles too (older clients; POST otherwise)", NULL },
  { "check", 0, 0, G_OPTION_ARG_NONE, &opt_check, "Check the flags and configuration, print the dongles, and exit", NULL },
  PK_CLI_OPTION_VERBOSE,
  { "version", 'V', 0, G_OPTION_ARG_NONE, &opt_version, "Print the version and exit", NULL },
  { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_ids, NULL, "[N...]" },
  { NULL }
};

static const char * const toggle_keys[] = {
  "dongles", "method", "escalation", "cooldown", "max_concurrent", "settle",
  "poll_interval", "timeout", "request_timeout", "unchanged_polls", "state_dir",
  "socks_host", "username", "password", "token_file", "allow_get", "max_stage", "usb_off",
  "usb_wait", "power_off", "power_wait", "max_recoveries", "recovery_cooldown", NULL
};

typedef struct {
  guint id;
  char *api;
  char *address;
  char *socks_host;
  guint16 socks_port;
  PkHilinkModem *modem;
  PkToggle *toggle;
  PkToggleModemStep *modem_step;
} Dongle;

/* What the flags and the configuration make: built whole or not at all,
 * so that a reload with a bad configuration leaves the running one. */
typedef struct {
  PkConfig *config;
  GPtrArray *dongles;         /* Dongle, sorted by id */
  PkToggleLimiter *limiter;
  PkRotationMethod method;
  guint64 cooldown_ms;
  guint64 max_concurrent;
  guint64 request_timeout_ms;
  char *state_dir;
  char *token;                /* of the HTTP API, or NULL */
  gboolean allow_get;
  PkToggleLadderSettings *ladder;
  PkDongleMonitor *monitor;   /* the dongles on USB, or NULL */
} Setup;

typedef struct {
  Setup *s;
  GMainLoop *loop;
  int exit_status;
  guint pending;
  GQueue waiting;             /* Dongle, for --all */
  JsonArray *json_out;
  PkToggleServer *server;
} App;

static void
dongle_free (Dongle *d)
{
  g_clear_object (&d->toggle);
  g_clear_object (&d->modem_step);
  g_clear_object (&d->modem);
  g_free (d->api);
  g_free (d->address);
  g_free (d->socks_host);
  g_free (d);
}

static void
setup_free (Setup *s)
{
  g_clear_pointer (&s->dongles, g_ptr_array_unref);
  g_clear_object (&s->monitor);
  g_clear_pointer (&s->ladder, pk_toggle_ladder_settings_unref);
  g_clear_object (&s->limiter);
  g_clear_object (&s->config);
  g_free (s->state_dir);
  if (s->token != NULL)
    memset (s->token, 0, strlen (s->token));
  g_free (s->token);
  g_free (s);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Setup, setup_free)

#define FAIL(ret, ...) G_STMT_START { \
    g_set_error (error, PK_ERROR, PK_ERROR_CONFIG, __VA_ARGS__); \
    return ret; \
  } G_STMT_END

/* --- values from flags and the configuration --- */

/* The library's parsers, reached through PkConfig (the tools link the
 * public API only); errors name the flag. */
static gboolean
parse_flag (const char  *flag,
            const char  *value,
            gboolean     duration,
            guint64      max,
            guint64     *out,
            GError     **error)
{
  if (!pk_cli_parse_value (duration, value, 0, max, out, error))
    {
      g_prefix_error (error, "%s: ", flag);
      return FALSE;
    }
  return TRUE;
}

/* Flag, else the [toggle] key, else the default. */
static gboolean
get_setting (Setup       *s,
             const char  *flag,
             const char  *flag_value,
             const char  *key,
             gboolean     duration,
             guint64      max,
             guint64      default_value,
             guint64     *out,
             GError     **error)
{
  gboolean ok;

  if (flag_value != NULL)
    return parse_flag (flag, flag_value, duration, max, out, error);
  if (duration)
    ok = pk_config_get_duration_ms (s->config, "toggle", key, NULL, default_value, out, error);
  else
    ok = pk_config_get_uint (s->config, "toggle", key, NULL, 0, max, default_value, out, error);
  if (ok && duration && *out > max)
    {
      g_autofree char *where = pk_config_describe (s->config, "toggle", key);
      FAIL (FALSE, "%s: too long", where);
    }
  return ok;
}

static int
compare_ids (gconstpointer a,
             gconstpointer b)
{
  guint x = *(const guint *) a, y = *(const guint *) b;

  return x < y ? -1 : x > y;
}

/* "11-20,25 30" -> sorted unique numbers 0..255. */
static GArray *
parse_id_list (const char  *what,
               const char  *list,
               GError     **error)
{
  g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (guint));
  g_auto(GStrv) parts = g_strsplit_set (list, ", ", -1);

  for (guint i = 0; parts[i] != NULL; i++)
    {
      char *part = parts[i];
      char *dash;
      guint64 lo, hi;

      if (*part == '\0')
        continue;
      dash = strchr (part, '-');
      if (dash != NULL)
        *dash = '\0';
      if (!g_ascii_string_to_unsigned (part, 10, 0, 255, &lo, NULL) ||
          (dash != NULL && !g_ascii_string_to_unsigned (dash + 1, 10, lo, 255, &hi, NULL)))
        {
          if (dash != NULL)
            *dash = '-';
          g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                       "%s: '%s' is not a dongle number (0-255) or range (11-20)", what, part);
          return NULL;
        }
      if (dash == NULL)
        hi = lo;
      for (guint64 n = lo; n <= hi; n++)
        {
          guint id = (guint) n;
          gboolean seen = FALSE;

          for (guint j = 0; j < ids->len; j++)
            seen = seen || g_array_index (ids, guint, j) == id;
          if (!seen)
            g_array_append_val (ids, id);
        }
    }
  g_array_sort (ids, compare_ids);
  return g_steal_pointer (&ids);
}

/* "--api 11=http://..." for dongle @id: *out is the value or NULL. */
static gboolean
per_dongle_flag (const char   *flag,
                 char        **values,
                 guint         id,
                 const char  **out,
                 GError      **error)
{
  *out = NULL;
  for (guint i = 0; values != NULL && values[i] != NULL; i++)
    {
      const char *eq = strchr (values[i], '=');
      guint64 n;
      g_autofree char *num = NULL;

      if (eq == NULL)
        FAIL (FALSE, "%s '%s': expected N=VALUE", flag, values[i]);
      num = g_strndup (values[i], eq - values[i]);
      if (!g_ascii_string_to_unsigned (num, 10, 0, 255, &n, NULL))
        FAIL (FALSE, "%s '%s': '%s' is not a dongle number (0-255)", flag, values[i], num);
      if (n == id)
        *out = eq + 1;
    }
  return TRUE;
}

static gboolean
flags_name_known_dongles (const char  *flag,
                          char       **values,
                          GPtrArray   *dongles,
                          GError     **error)
{
  for (guint i = 0; values != NULL && values[i] != NULL; i++)
    {
      guint64 n = g_ascii_strtoull (values[i], NULL, 10);
      gboolean known = FALSE;

      for (guint j = 0; j < dongles->len; j++)
        known = known || ((Dongle *) g_ptr_array_index (dongles, j))->id == n;
      if (!known)
        FAIL (FALSE, "%s '%s': dongle %" G_GUINT64_FORMAT " is not configured", flag, values[i], n);
    }
  return TRUE;
}

static int
compare_dongles (gconstpointer a,
                 gconstpointer b)
{
  const Dongle *x = *(Dongle * const *) a, *y = *(Dongle * const *) b;

  return x->id < y->id ? -1 : x->id > y->id;
}

static Dongle *
make_dongle (Setup   *s,
             guint    id,
             GError **error)
{
  g_autofree char *section = g_strdup_printf ("dongle:%u", id);
  g_autofree char *default_api = g_strdup_printf ("http://192.168.%u.1", id);
  g_autofree char *default_address = g_strdup_printf ("192.168.%u.100", id);
  g_autofree char *interface = NULL;
  g_autofree char *username = NULL;
  g_autofree char *password = NULL;
  g_autofree char *default_user = NULL;
  g_autofree char *default_password = NULL;
  g_autofree char *default_socks_host = NULL;
  g_autoptr(PkEgress) egress = NULL;
  g_autoptr(PkToggleModemStep) step = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *api_flag, *address_flag;
  guint64 fwmark = 0, port = 0;
  Dongle *d;

  if (!per_dongle_flag ("--api", opt_api, id, &api_flag, error) ||
      !per_dongle_flag ("--address", opt_address, id, &address_flag, error) ||
      !pk_config_get_uint (s->config, section, "fwmark", NULL, 0, G_MAXUINT32, 0, &fwmark, error) ||
      !pk_config_get_uint (s->config, section, "socks_port", NULL, 1, 65535,
                           MIN (10000 + id, 65535), &port, error))
    return NULL;

  d = g_new0 (Dongle, 1);
  d->id = id;
  d->api = api_flag ? g_strdup (api_flag) : pk_config_dup_string (s->config, section, "api", NULL, default_api);
  d->address = address_flag ? g_strdup (address_flag)
                            : pk_config_dup_string (s->config, section, "address", NULL, default_address);
  d->socks_port = (guint16) port;
  interface = pk_config_dup_string (s->config, section, "interface", NULL, NULL);
  default_user = pk_config_dup_string (s->config, "toggle", "username", NULL, NULL);
  default_password = pk_config_dup_string (s->config, "toggle", "password", NULL, NULL);
  username = pk_config_dup_string (s->config, section, "username", NULL, default_user);
  password = pk_config_dup_string (s->config, section, "password", NULL, default_password);
  default_socks_host = pk_config_dup_string (s->config, "toggle", "socks_host", NULL, NULL);
  d->socks_host = pk_config_dup_string (s->config, section, "socks_host", NULL, default_socks_host);

  egress = pk_egress_new_full (d->address, interface, (guint32) fwmark, 0, &local_error);
  if (egress != NULL)
    d->modem = pk_hilink_modem_new (d->api, egress, &local_error);
  if (d->modem == NULL)
    {
      dongle_free (d);
      FAIL (NULL, "dongle %u: %s", id, local_error->message);
    }
  pk_hilink_modem_set_timeout (d->modem, (guint) s->request_timeout_ms);
  if (password != NULL)
    pk_hilink_modem_set_credentials (d->modem, username, password);

  /* The settings were checked with the others. */
  step = pk_toggle_modem_step_new_from_config (s->config, NULL);

  d->toggle = pk_toggle_new (id, PK_MODEM (d->modem), s->limiter);
  pk_toggle_set_cooldown (d->toggle, (guint) s->cooldown_ms);
  pk_toggle_set_state_dir (d->toggle, s->state_dir);
  d->modem_step = g_steal_pointer (&step);
  return d;
}

/* The ladder's settings from [toggle], and where locks and cooldowns
 * are shared with other pk-toggle processes: --state-dir must be usable. */
static PkToggleLadderSettings *
ladder_settings (PkConfig  *config,
                 GError   **error)
{
  g_autoptr(PkToggleLadderSettings) ladder = pk_toggle_ladder_settings_new_from_config (config, error);

  if (ladder == NULL)
    return NULL;
  if (opt_state_dir != NULL)
    {
      if (g_mkdir_with_parents (opt_state_dir, 0755) != 0 || access (opt_state_dir, W_OK) != 0)
        FAIL (NULL, "--state-dir '%s': cannot create or write it", opt_state_dir);
      pk_toggle_ladder_settings_set_state_dir (ladder, opt_state_dir);
    }
  return g_steal_pointer (&ladder);
}

static gboolean
load_settings (Setup   *s,
               GError **error)
{
  g_autofree char *method = NULL;
  g_autofree char *token_file = NULL;
  g_auto(GStrv) sections = NULL;
  g_autoptr(GError) local_error = NULL;

  if (pk_config_has_section (s->config, "toggle") &&
      !pk_config_check_keys (s->config, "toggle", toggle_keys, error))
    return FALSE;
  sections = pk_config_list_sections (s->config, "dongle");
  for (guint i = 0; sections[i] != NULL; i++)
    {
      g_autofree char *section = g_strconcat ("dongle:", sections[i], NULL);
      guint64 n;

      if (!g_ascii_string_to_unsigned (sections[i], 10, 0, 255, &n, NULL))
        {
          g_autofree char *where = pk_config_describe (s->config, section, NULL);
          FAIL (FALSE, "%s: '%s' is not a dongle number (0-255)", where ? where : section, sections[i]);
        }
      if (!pk_config_check_keys (s->config, section, pk_dongle_get_config_keys (), error))
        return FALSE;
    }

  method = opt_method ? g_strdup (opt_method) : pk_config_dup_string (s->config, "toggle", "method", NULL, "data");
  if (!pk_rotation_method_from_string (method, &s->method))
    {
      g_autofree char *where = opt_method ? g_strdup ("--method") : pk_config_describe (s->config, "toggle", "method");
      FAIL (FALSE, "%s: '%s': expected data, netmode or reboot", where, method);
    }
  /* The modem rung's flags win over [toggle]; the library reads both. */
  {
    const struct { const char *flag; const char *value; const char *key; } rung[] = {
      { "--escalation", opt_escalation, "escalation" },
      { "--settle", opt_settle, "settle" },
      { "--poll-interval", opt_poll_interval, "poll_interval" },
      { "--timeout", opt_timeout, "timeout" },
      { "--unchanged-polls", opt_unchanged_polls, "unchanged_polls" },
    };
    g_autoptr(PkToggleModemStep) check = NULL;

    for (guint i = 0; i < G_N_ELEMENTS (rung); i++)
      if (rung[i].value != NULL)
        pk_config_set_override (s->config, "toggle", rung[i].key, rung[i].value, rung[i].flag);
    check = pk_toggle_modem_step_new_from_config (s->config, error);
    if (check == NULL)
      return FALSE;
  }

  if (!get_setting (s, "--cooldown", opt_cooldown, "cooldown", TRUE, G_MAXUINT,
                    PK_TOGGLE_DEFAULT_COOLDOWN_MS, &s->cooldown_ms, error) ||
      !get_setting (s, "--max-concurrent", opt_max_concurrent, "max_concurrent", FALSE, 1000,
                    PK_TOGGLE_DEFAULT_MAX_CONCURRENT, &s->max_concurrent, error) ||
      !get_setting (s, "--request-timeout", opt_request_timeout, "request_timeout", TRUE, G_MAXUINT,
                    PK_HILINK_DEFAULT_TIMEOUT_MS, &s->request_timeout_ms, error))
    return FALSE;
  if (s->request_timeout_ms == 0)
    FAIL (FALSE, "request_timeout must not be 0");

  /* The ladder, and where locks and cooldowns are shared with other
   * pk-toggle processes (without a directory each process keeps its own). */
  s->ladder = ladder_settings (s->config, error);
  if (s->ladder == NULL)
    return FALSE;
  s->state_dir = g_strdup (pk_toggle_ladder_settings_get_state_dir (s->ladder));

  /* The API's token: in a file, so that it shows neither in ps nor in
   * the configuration, which is often world-readable. */
  token_file = opt_token_file ? g_strdup (opt_token_file)
                              : pk_config_dup_string (s->config, "toggle", "token_file", NULL, NULL);
  if (token_file != NULL)
    {
      g_autofree char *contents = NULL;
      g_autofree char *where = opt_token_file ? g_strdup ("--token-file")
                                              : pk_config_describe (s->config, "toggle", "token_file");

      if (!g_file_get_contents (token_file, &contents, NULL, &local_error))
        FAIL (FALSE, "%s: %s", where, local_error->message);
      contents[strcspn (contents, "\r\n")] = '\0';
      g_strstrip (contents);
      if (*contents == '\0')
        FAIL (FALSE, "%s: '%s' holds no token", where, token_file);
      s->token = g_steal_pointer (&contents);
    }
  if (opt_allow_get)
    s->allow_get = TRUE;
  else if (!pk_config_get_boolean (s->config, "toggle", "allow_get", NULL, FALSE, &s->allow_get, error))
    return FALSE;

  s->limiter = pk_toggle_limiter_new ((guint) s->max_concurrent);
  return TRUE;
}

static gboolean
load_dongles (Setup   *s,
              GError **error)
{
  g_auto(GStrv) sections = pk_config_list_sections (s->config, "dongle");
  g_autoptr(GArray) ids = NULL;
  g_autofree char *list = NULL;

  s->dongles = g_ptr_array_new_with_free_func ((GDestroyNotify) dongle_free);

  if (sections[0] != NULL)
    {
      if (opt_dongles != NULL)
        FAIL (FALSE, "--dongles: the configuration has [dongle:N] sections already");
      ids = g_array_new (FALSE, FALSE, sizeof (guint));
      for (guint i = 0; sections[i] != NULL; i++)
        {
          guint id = (guint) g_ascii_strtoull (sections[i], NULL, 10);
          g_array_append_val (ids, id);
        }
    }
  else
    {
      list = opt_dongles ? g_strdup (opt_dongles) : pk_config_dup_string (s->config, "toggle", "dongles", NULL, NULL);
      if (list != NULL)
        {
          g_autofree char *what = opt_dongles ? g_strdup ("--dongles")
                                              : pk_config_describe (s->config, "toggle", "dongles");
          ids = parse_id_list (what, list, error);
          if (ids == NULL)
            return FALSE;
        }
      else if (opt_ids != NULL)
        {
          /* Dongles named on the command line, by the convention. */
          ids = g_array_new (FALSE, FALSE, sizeof (guint));
          for (guint i = 0; opt_ids[i] != NULL; i++)
            {
              g_autoptr(GArray) one = parse_id_list ("argument", opt_ids[i], error);
              if (one == NULL)
                return FALSE;
              g_array_append_vals (ids, one->data, one->len);
            }
        }
      else
        FAIL (FALSE, "no dongles: name them (pk-toggle 11), add [dongle:N] sections or use --dongles");
    }

  for (guint i = 0; i < ids->len; i++)
    {
      guint id = g_array_index (ids, guint, i);
      gboolean seen = FALSE;
      Dongle *d;

      for (guint j = 0; j < s->dongles->len; j++)
        seen = seen || ((Dongle *) g_ptr_array_index (s->dongles, j))->id == id;
      if (seen)
        continue;
      d = make_dongle (s, id, error);
      if (d == NULL)
        return FALSE;
      g_ptr_array_add (s->dongles, d);
    }
  g_ptr_array_sort (s->dongles, compare_dongles);
  return flags_name_known_dongles ("--api", opt_api, s->dongles, error) &&
         flags_name_known_dongles ("--address", opt_address, s->dongles, error);
}

/* Reads the configuration (like pk_cli_load_config(), without exiting)
 * and builds everything from it and the flags. */
static Setup *
setup_load (GError **error)
{
  g_autoptr(Setup) s = g_new0 (Setup, 1);
  const char *path = opt_config;
  const char *env_path = g_getenv ("PROXYKIT_CONFIG");

  if (path == NULL && env_path != NULL && *env_path != '\0')
    path = env_path;
  if (path == NULL && g_file_test (PK_CLI_DEFAULT_CONFIG, G_FILE_TEST_EXISTS))
    path = PK_CLI_DEFAULT_CONFIG;

  s->config = pk_config_new ();
  if (path != NULL && !pk_config_load_file (s->config, path, error))
    return NULL;
  if (!load_settings (s, error) || !load_dongles (s, error))
    return NULL;
  /* The rungs past the modem need the dongles on USB. */
  if (!opt_check && !opt_status && !opt_info)
    s->monitor = pk_toggle_dongles_scan (s->config);
  for (guint i = 0; i < s->dongles->len; i++)
    {
      Dongle *d = g_ptr_array_index (s->dongles, i);

      pk_toggle_dongles_ladder (s->monitor, s->ladder, d->toggle, PK_TOGGLE_STEP (d->modem_step));
    }
  return g_steal_pointer (&s);
}

static Dongle *
find_dongle (App   *app,
             guint  id)
{
  for (guint i = 0; i < app->s->dongles->len; i++)
    {
      Dongle *d = g_ptr_array_index (app->s->dongles, i);
      if (d->id == id)
        return d;
    }
  return NULL;
}

/* The dongles the command names: the positional numbers, or all. */
static GPtrArray *
selected_dongles (App *app)
{
  GPtrArray *out = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;

  if (opt_all || opt_ids == NULL)
    {
      for (guint i = 0; i < app->s->dongles->len; i++)
        g_ptr_array_add (out, g_ptr_array_index (app->s->dongles, i));
      return out;
    }
  for (guint i = 0; opt_ids[i] != NULL; i++)
    {
      g_autoptr(GArray) ids = parse_id_list ("argument", opt_ids[i], &error);

      if (ids == NULL)
        pk_cli_usage_error ("%s", error->message);
      for (guint j = 0; j < ids->len; j++)
        {
          Dongle *d = find_dongle (app, g_array_index (ids, guint, j));
          if (d == NULL)
            pk_cli_usage_error ("dongle %u is not configured", g_array_index (ids, guint, j));
          g_ptr_array_add (out, d);
        }
    }
  return out;
}

static void
print_json (JsonNode *node)
{
  g_autofree char *text = json_to_string (node, TRUE);

  printf ("%s\n", text);
  fflush (stdout);
}

static void
done_one (App *app)
{
  if (--app->pending == 0)
    g_main_loop_quit (app->loop);
}

/* --- toggling --- */

static void start_toggle (App *app, Dongle *d);

static const char *
refusal_reason (const GError *error)
{
  if (g_error_matches (error, PK_ERROR, PK_ERROR_BUSY))
    return "busy";
  if (g_error_matches (error, PK_ERROR, PK_ERROR_COOLDOWN))
    return "cooldown";
  if (g_error_matches (error, PK_ERROR, PK_ERROR_NOT_ALLOWED))
    return "limit";
  return "error";
}

/* Why a toggle that ran failed, in the words an operator searches for. */
static const char *
failure_reason (const GError *error)
{
  if (g_error_matches (error, PK_ERROR, PK_ERROR_UNCHANGED))
    return "IP unchanged";
  if (error->domain == G_IO_ERROR)
    return "modem unreachable";
  if (g_error_matches (error, PK_ERROR, PK_ERROR_AUTH_FAILED))
    return "modem login failed";
  if (g_error_matches (error, PK_ERROR, PK_ERROR_BUSY))
    return "modem busy";
  return "modem error";
}

static void
on_toggled (GObject      *source,
            GAsyncResult *res,
            gpointer      user_data)
{
  Dongle *d = user_data;
  App *app = g_object_get_data (source, "pk-toggle-app");
  g_autoptr(GError) error = NULL;
  g_autoptr(PkToggleResult) result = pk_toggle_run_finish (PK_TOGGLE (source), res, &error);

  if (result == NULL && g_error_matches (error, PK_ERROR, PK_ERROR_NOT_ALLOWED) && opt_all)
    {
      /* --all waits for a place instead of giving up; a place that came
       * free in the meantime is taken at once. */
      if (pk_toggle_limiter_get_running (app->s->limiter) == 0)
        start_toggle (app, d);
      else
        g_queue_push_tail (&app->waiting, d);
      return;
    }

  if (result == NULL)
    {
      if (app->exit_status == 0)
        app->exit_status = EXIT_REFUSED;
      if (opt_json)
        {
          JsonObject *obj = json_object_new ();
          json_object_set_int_member (obj, "dongle", d->id);
          json_object_set_boolean_member (obj, "success", FALSE);
          json_object_set_string_member (obj, "reason", refusal_reason (error));
          json_object_set_string_member (obj, "error", error->message);
          json_array_add_object_element (app->json_out, obj);
        }
      else
        g_printerr ("pk-toggle: %s\n", error->message);
    }
  else
    {
      if (opt_json)
        {
          g_autofree char *text = pk_toggle_result_to_json (result);
          json_array_add_element (app->json_out, json_from_string (text, NULL));
        }
      if (pk_toggle_result_get_success (result))
        {
          if (!opt_json)
            {
              printf ("dongle %u: %s -> %s by %s in %.1f s",
                      d->id,
                      pk_toggle_result_get_old_ip (result) ? pk_toggle_result_get_old_ip (result) : "(none)",
                      pk_toggle_result_get_new_ip (result), pk_toggle_result_get_method (result),
                      pk_toggle_result_get_duration_ms (result) / 1000.0);
              if (pk_toggle_result_get_escalated (result))
                printf (" (escalated after %u attempts)", pk_toggle_result_get_attempts (result) - 1);
              printf ("\n");
              fflush (stdout);
            }
        }
      else
        {
          const GError *why = pk_toggle_result_get_error (result);

          app->exit_status = PK_CLI_EXIT_FAILURE;
          if (!opt_json)
            {
              g_printerr ("pk-toggle: dongle %u: %s: %s\n", d->id, failure_reason (why), why->message);
              for (guint i = 0; i < pk_toggle_result_get_n_steps (result); i++)
                g_printerr ("  %s: %s%s%s\n", pk_toggle_result_get_step_name (result, i),
                            pk_toggle_result_get_step_outcome (result, i),
                            pk_toggle_result_get_step_detail (result, i) ? ": " : "",
                            pk_toggle_result_get_step_detail (result, i) ? pk_toggle_result_get_step_detail (result, i) : "");
            }
        }
    }

  if (!g_queue_is_empty (&app->waiting))
    start_toggle (app, g_queue_pop_head (&app->waiting));
  done_one (app);
}

/* On a terminal, each step as it starts: a toggle takes seconds. */
static void
on_progress (PkToggle   *toggle,
             const char *text,
             gpointer    user_data)
{
  fprintf (stderr, "dongle %u: %s\n", pk_toggle_get_id (toggle), text);
  fflush (stderr);
}

static void
start_toggle (App    *app,
              Dongle *d)
{
  g_object_set_data (G_OBJECT (d->toggle), "pk-toggle-app", app);
  if (isatty (STDERR_FILENO) && !g_log_writer_is_journald (STDERR_FILENO))
    g_signal_connect (d->toggle, "progress", G_CALLBACK (on_progress), NULL);
  pk_toggle_run_async (d->toggle, app->s->method, opt_recovery || pk_toggle_dongles_recovery (),
                       NULL, on_toggled, d);
}

static int
run_toggles (App *app)
{
  g_autoptr(GPtrArray) selected = selected_dongles (app);
  g_autoptr(JsonNode) out = NULL;

  app->json_out = json_array_new ();
  app->pending = selected->len;
  for (guint i = 0; i < selected->len; i++)
    start_toggle (app, g_ptr_array_index (selected, i));
  if (app->pending > 0)
    g_main_loop_run (app->loop);

  if (opt_json)
    {
      out = json_node_new (JSON_NODE_ARRAY);
      if (!opt_all && selected->len == 1 && json_array_get_length (app->json_out) == 1)
        {
          print_json (json_array_get_element (app->json_out, 0));
          json_array_unref (app->json_out);
        }
      else
        {
          json_node_take_array (out, app->json_out);
          print_json (out);
        }
    }
  else
    json_array_unref (app->json_out);
  app->json_out = NULL;
  return app->exit_status;
}

/* --- --status and --info --- */

typedef struct {
  App *app;
  Dongle *dongle;
  JsonObject *obj;
  guint pending;
} Query;

static void
query_done (Query *q)
{
  if (--q->pending > 0)
    return;
  done_one (q->app);
}

static void
query_part_done (gpointer data)
{
  query_done (data);
}

static void
on_status (GObject      *source,
           GAsyncResult *res,
           gpointer      user_data)
{
  Query *q = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *wan_ip = NULL;
  PkModemState state = PK_MODEM_STATE_UNKNOWN;

  if (pk_modem_get_status_finish (PK_MODEM (source), res, &state, &wan_ip, &error))
    {
      json_object_set_boolean_member (q->obj, "reachable", TRUE);
      json_object_set_boolean_member (q->obj, "connected", state == PK_MODEM_STATE_CONNECTED);
      json_object_set_string_member (q->obj, "state", pk_modem_state_to_string (state));
      if (wan_ip != NULL)
        json_object_set_string_member (q->obj, "wan_ip", wan_ip);
      else
        json_object_set_null_member (q->obj, "wan_ip");
    }
  else if (g_error_matches (error, PK_ERROR, PK_ERROR_BUSY))
    {
      /* It answered, busy through every retry: there, not unreachable. */
      json_object_set_boolean_member (q->obj, "reachable", TRUE);
      json_object_set_boolean_member (q->obj, "connected", FALSE);
      json_object_set_string_member (q->obj, "state", "busy");
      json_object_set_null_member (q->obj, "wan_ip");
      json_object_set_string_member (q->obj, "error", error->message);
    }
  else
    {
      json_object_set_boolean_member (q->obj, "reachable", FALSE);
      json_object_set_boolean_member (q->obj, "connected", FALSE);
      json_object_set_string_member (q->obj, "state", "unreachable");
      json_object_set_null_member (q->obj, "wan_ip");
      json_object_set_string_member (q->obj, "error", error->message);
      q->app->exit_status = PK_CLI_EXIT_FAILURE;
    }
  query_done (q);
}

static JsonObject *
object_from_table (GHashTable *table)
{
  JsonObject *obj = json_object_new ();
  g_autoptr(GList) keys = g_list_sort (g_hash_table_get_keys (table), (GCompareFunc) strcmp);

  for (GList *l = keys; l != NULL; l = l->next)
    json_object_set_string_member (obj, l->data, g_hash_table_lookup (table, l->data));
  return obj;
}

static void
on_info_part (GObject      *source,
              GAsyncResult *res,
              gpointer      user_data,
              gboolean      is_signal)
{
  Query *q = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) table = is_signal ? pk_modem_get_signal_finish (PK_MODEM (source), res, &error)
                                          : pk_modem_get_device_info_finish (PK_MODEM (source), res, &error);
  const char *member = is_signal ? "signal" : "device";

  if (table != NULL)
    json_object_set_object_member (q->obj, member, object_from_table (table));
  else
    {
      g_autofree char *key = g_strconcat (member, "_error", NULL);
      json_object_set_null_member (q->obj, member);
      json_object_set_string_member (q->obj, key, error->message);
      q->app->exit_status = PK_CLI_EXIT_FAILURE;
    }
  query_done (q);
}

static void
on_device_info (GObject *source, GAsyncResult *res, gpointer user_data)
{
  on_info_part (source, res, user_data, FALSE);
}

static void
on_signal (GObject *source, GAsyncResult *res, gpointer user_data)
{
  on_info_part (source, res, user_data, TRUE);
}

static void
print_query_text (Query *q)
{
  JsonObject *o = q->obj;

  if (opt_status)
    {
      const char *wan_ip = json_object_get_null_member (o, "wan_ip") ? "-" : json_object_get_string_member (o, "wan_ip");

      g_autofree char *usb = pk_toggle_dongles_status_text (o);

      printf ("dongle %-3u  %-13s  %-15s  %s  %s", q->dongle->id, json_object_get_string_member (o, "state"),
              wan_ip, q->dongle->api, usb);
      if (json_object_has_member (o, "error"))
        printf ("  (%s)", json_object_get_string_member (o, "error"));
      printf ("\n");
      return;
    }

  printf ("dongle %u (%s)\n", q->dongle->id, q->dongle->api);
  for (guint part = 0; part < 2; part++)
    {
      const char *member = part == 0 ? "device" : "signal";
      JsonNode *node = json_object_get_member (o, member);

      if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
        {
          JsonObject *t = json_node_get_object (node);
          g_autoptr(GList) keys = g_list_sort (json_object_get_members (t), (GCompareFunc) strcmp);

          printf ("  %s:\n", member);
          for (GList *l = keys; l != NULL; l = l->next)
            {
              const char *v = json_object_get_string_member (t, l->data);
              /* The normalized names only; the device's own are in --json. */
              if (strchr (l->data, '-') != NULL || g_ascii_islower (*(const char *) l->data))
                if (v != NULL && *v != '\0')
                  printf ("    %-18s %s\n", (const char *) l->data, v);
            }
        }
      else
        {
          g_autofree char *key = g_strconcat (member, "_error", NULL);
          printf ("  %s: error: %s\n", member, json_object_get_string_member (o, key));
        }
    }
}

static int
run_queries (App *app)
{
  g_autoptr(GPtrArray) selected = selected_dongles (app);
  g_autoptr(GPtrArray) queries = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(JsonNode) out = json_node_new (JSON_NODE_ARRAY);
  g_autoptr(PkDongleMonitor) monitor = opt_status ? pk_toggle_dongles_scan (app->s->config) : NULL;
  JsonArray *array = json_array_new ();

  app->pending = selected->len;
  for (guint i = 0; i < selected->len; i++)
    {
      Dongle *d = g_ptr_array_index (selected, i);
      Query *q = g_new0 (Query, 1);

      q->app = app;
      q->dongle = d;
      q->obj = json_object_new ();
      json_object_set_int_member (q->obj, "dongle", d->id);
      json_object_set_string_member (q->obj, "api", d->api);
      json_object_set_string_member (q->obj, "egress_ip", d->address);
      g_ptr_array_add (queries, q);
      if (opt_status)
        {
          /* The modem's state, and the dongle's USB side and routing. */
          q->pending = 2;
          pk_modem_get_status_async (PK_MODEM (d->modem), NULL, on_status, q);
          pk_toggle_dongles_status (monitor, d->id, q->obj, query_part_done, q);
        }
      else
        {
          q->pending = 2;
          pk_modem_get_device_info_async (PK_MODEM (d->modem), NULL, on_device_info, q);
          pk_modem_get_signal_async (PK_MODEM (d->modem), NULL, on_signal, q);
        }
    }
  if (app->pending > 0)
    g_main_loop_run (app->loop);

  for (guint i = 0; i < queries->len; i++)
    {
      Query *q = g_ptr_array_index (queries, i);

      if (!opt_json)
        print_query_text (q);
      json_array_add_object_element (array, q->obj);
    }
  fflush (stdout);
  if (opt_json)
    {
      json_node_take_array (out, array);
      print_json (out);
    }
  else
    json_array_unref (array);
  return app->exit_status;
}

/* --- --serve --- */

static gboolean
on_stop (gpointer user_data)
{
  App *app = user_data;

  g_message ("stopping");
  pk_cli_sd_notify ("STOPPING=1");
  g_main_loop_quit (app->loop);
  return G_SOURCE_CONTINUE;
}

static void
serve_dongles (App   *app,
               Setup *s)
{
  for (guint i = 0; i < s->dongles->len; i++)
    {
      Dongle *d = g_ptr_array_index (s->dongles, i);
      pk_toggle_server_add_dongle (app->server, d->toggle, d->api, d->address, d->socks_host, d->socks_port);
    }
}

/* SIGHUP: the configuration again. The new dongles replace the old ones
 * (a toggle that runs goes on to its end, and the state directory keeps
 * its lock and cooldown); a bad configuration leaves everything as it is. */
static gboolean
on_reload (gpointer user_data)
{
  App *app = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(Setup) s = NULL;

  pk_cli_sd_notifyf ("RELOADING=1\nMONOTONIC_USEC=%" G_GINT64_FORMAT, g_get_monotonic_time ());
  s = setup_load (&error);
  if (s == NULL)
    g_warning ("reload refused, the running configuration stays: %s", error->message);
  else
    {
      for (guint i = 0; i < app->s->dongles->len; i++)
        {
          Dongle *old = g_ptr_array_index (app->s->dongles, i);
          gboolean kept = FALSE;

          for (guint j = 0; j < s->dongles->len; j++)
            kept = kept || ((Dongle *) g_ptr_array_index (s->dongles, j))->id == old->id;
          if (!kept)
            pk_toggle_server_remove_dongle (app->server, old->id);
        }
      serve_dongles (app, s);
      pk_toggle_server_set_default_method (app->server, s->method);
      pk_toggle_server_set_token (app->server, s->token);
      pk_toggle_server_set_allow_get (app->server, s->allow_get);
      g_message ("reloaded: %u dongles", s->dongles->len);
      setup_free (app->s);
      app->s = g_steal_pointer (&s);
    }
  pk_cli_sd_notify ("READY=1");
  return G_SOURCE_CONTINUE;
}

static int
run_server (App        *app,
            const char *listen)
{
  g_autoptr(GError) error = NULL;

  app->server = pk_toggle_server_new ();
  pk_toggle_server_set_default_method (app->server, app->s->method);
  pk_toggle_server_set_token (app->server, app->s->token);
  pk_toggle_server_set_allow_get (app->server, app->s->allow_get);
  /* With the farm's listeners ([dongles] auto), /proxy-info lists those. */
  if (pk_dongle_farm_config_enabled (app->s->config, NULL))
    {
      g_autoptr(PkStateStore) store = pk_state_store_new_from_config (app->s->config, "dongles");
      pk_toggle_server_set_state_store (app->server, store);
    }
  serve_dongles (app, app->s);
  if (!pk_toggle_server_listen (app->server, listen, &error))
    {
      if (g_error_matches (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT))
        pk_cli_usage_error ("--serve: %s", error->message);
      pk_cli_die (PK_CLI_EXIT_FAILURE, "%s", error->message);
    }

  pk_cli_handle_signals (on_stop, on_reload, app);
  pk_cli_sd_watchdog_start (NULL, NULL);
  g_message ("serving %u dongles on %s, port %u", app->s->dongles->len, listen,
             pk_toggle_server_get_port (app->server));
  pk_cli_sd_notifyf ("READY=1\nSTATUS=serving %u dongles on %s", app->s->dongles->len, listen);
  g_main_loop_run (app->loop);
  pk_toggle_server_stop (app->server);
  g_clear_object (&app->server);
  return PK_CLI_EXIT_OK;
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  App app = { 0 };
  int modes;
  int status;

  pk_cli_init ("pk-toggle");
  context = g_option_context_new ("- new mobile IPs for HiLink dongles");
  g_option_context_set_summary (context,
      "Rotates the WAN IP of dongle N (data off/on, network mode, reboot, escalating\n"
      "when the IP stays), shows the dongles, or serves the HTTP API with --serve.");
  g_option_context_set_description (context,
      "Exit status: 0 new IP (or status shown), 1 failed (IP unchanged, modem unreachable),\n"
      "2 bad flag or configuration, 3 refused (busy, cooldown, too many toggles at once).\n");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_main_entries (context, pk_toggle_dongles_entries, NULL);
  pk_cli_parse_options (context, &argc, &argv);

  if (opt_version)
    pk_cli_print_version ();

  /* --discover and --routing: USB and routing, no modem. */
  if (pk_toggle_dongles_mode ())
    {
      g_autoptr(PkConfig) config = NULL;
      g_autoptr(PkToggleLadderSettings) ladder = NULL;
      g_autoptr(GError) error = NULL;

      if (opt_status || opt_info || opt_serve != NULL || opt_check)
        pk_cli_usage_error ("--discover and --routing exclude --status, --info, --serve and --check");
      config = pk_cli_load_config (opt_config);
      ladder = ladder_settings (config, &error);
      if (ladder == NULL)
        pk_cli_usage_error ("%s", error->message);
      return pk_toggle_dongles_run (config, pk_toggle_ladder_settings_get_state_dir (ladder), opt_ids, opt_all,
                                    opt_json);
    }

  modes = (opt_status ? 1 : 0) + (opt_info ? 1 : 0) + (opt_serve != NULL ? 1 : 0) + (opt_check ? 1 : 0);
  if (modes > 1)
    pk_cli_usage_error ("--status, --info, --serve and --check exclude each other");
  if (opt_serve != NULL && (opt_ids != NULL || opt_all))
    pk_cli_usage_error ("--serve takes no dongle numbers and no --all");
  if (opt_check && (opt_ids != NULL || opt_all))
    pk_cli_usage_error ("--check takes no dongle numbers and no --all");
  if (modes == 0 && opt_ids == NULL && !opt_all)
    pk_cli_usage_error ("name a dongle (pk-toggle 11), or use --all, --status, --info or --serve");
  if (opt_all && opt_ids != NULL)
    pk_cli_usage_error ("--all takes no dongle numbers");

  {
    g_autoptr(GError) error = NULL;

    app.s = setup_load (&error);
    if (app.s == NULL)
      pk_cli_usage_error ("%s", error->message);
  }
  if (opt_check)
    {
      /* Nothing is contacted: the dongles as the configuration makes them. */
      for (guint i = 0; i < app.s->dongles->len; i++)
        {
          Dongle *d = g_ptr_array_index (app.s->dongles, i);
          printf ("dongle %u: api %s, address %s\n", d->id, d->api, d->address ? d->address : "-");
        }
      printf ("configuration OK: %u dongle(s)\n", app.s->dongles->len);
      g_clear_pointer (&app.s, setup_free);
      return PK_CLI_EXIT_OK;
    }
  app.loop = g_main_loop_new (NULL, FALSE);
  g_queue_init (&app.waiting);

  if (opt_serve != NULL)
    status = run_server (&app, opt_serve);
  else if (opt_status || opt_info)
    status = run_queries (&app);
  else
    status = run_toggles (&app);

  g_clear_pointer (&app.s, setup_free);
  g_main_loop_unref (app.loop);
  return status;
}
