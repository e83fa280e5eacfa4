/* pk-toggle-service-config.c: the dongles and settings of a PkToggleService
 *
 * [toggle] and [dongle:N] of a configuration, the caller's values for one
 * dongle, and dongles by the subnet convention (dongle N: its API at
 * http://192.168.N.1, the host's address 192.168.N.100).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "pk-config-private.h"
#include "pk-dongle.h"
#include "pk-egress.h"
#include "pk-error.h"
#include "pk-hilink-modem-private.h"
#include "pk-state-store.h"
#include "pk-toggle-service-private.h"

static const char * const toggle_keys[] = {
  "dongles", "method", "escalation", "cooldown", "max_concurrent", "settle",
  "poll_interval", "timeout", "request_timeout", "unchanged_polls", "state_dir",
  "socks_host", "username", "password", "token_file", "allow_get", "max_stage", "usb_off",
  "usb_wait", "power_off", "power_wait", "max_recoveries", "recovery_cooldown",
  /* pk_usb_controller_reset_get_config_keys () */
  "allow-controller-reset", "controller-reset-threshold", "controller-reset-interval", NULL
};

#define FAIL(ret, ...) G_STMT_START { \
    g_set_error (error, PK_ERROR, PK_ERROR_CONFIG, __VA_ARGS__); \
    return ret; \
  } G_STMT_END

static void
dongle_free (PkToggleServiceDongle *d)
{
  g_clear_object (&d->toggle);
  g_clear_object (&d->modem_step);
  g_clear_object (&d->modem);
  g_free (d->api);
  g_free (d->address);
  g_free (d->socks_host);
  g_free (d);
}

void
pk_toggle_service_setup_free (PkToggleServiceSetup *s)
{
  g_clear_pointer (&s->dongles, g_ptr_array_unref);
  g_clear_object (&s->monitor);
  g_clear_object (&s->controller_reset);
  g_clear_pointer (&s->ladder, pk_toggle_ladder_settings_unref);
  g_clear_object (&s->limiter);
  g_clear_object (&s->config);
  g_free (s->state_dir);
  if (s->token != NULL)
    memset (s->token, 0, strlen (s->token));
  g_free (s->token);
  g_free (s);
}

void
pk_toggle_service_value_free (PkToggleServiceValue *v)
{
  g_free (v->key);
  g_free (v->value);
  g_free (v->text);
  g_free (v->origin);
  g_free (v);
}

PkToggleServiceDongle *
pk_toggle_service_setup_find (PkToggleServiceSetup *s,
                              guint                 id)
{
  for (guint i = 0; s != NULL && i < s->dongles->len; i++)
    {
      PkToggleServiceDongle *d = g_ptr_array_index (s->dongles, i);
      if (d->id == id)
        return d;
    }
  return NULL;
}

static int
compare_ids (gconstpointer a,
             gconstpointer b)
{
  guint x = *(const guint *) a, y = *(const guint *) b;

  return x < y ? -1 : x > y;
}

GArray *
pk_toggle_service_parse_id_list (const char  *what,
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

/* The caller's value of @key for dongle @id (the last one given), else
 * NULL. */
static const char *
dongle_value (const PkToggleServiceOptions *o,
              guint                         id,
              const char                   *key)
{
  const char *out = NULL;

  for (guint i = 0; o->values != NULL && i < o->values->len; i++)
    {
      PkToggleServiceValue *v = g_ptr_array_index (o->values, i);
      if (v->id == id && g_str_equal (v->key, key))
        out = v->value;
    }
  return out;
}

static int
compare_dongles (gconstpointer a,
                 gconstpointer b)
{
  const PkToggleServiceDongle *x = *(PkToggleServiceDongle * const *) a;
  const PkToggleServiceDongle *y = *(PkToggleServiceDongle * const *) b;

  return x->id < y->id ? -1 : x->id > y->id;
}

static PkToggleServiceDongle *
make_dongle (PkToggleServiceSetup         *s,
             const PkToggleServiceOptions *o,
             guint                         id,
             GError                      **error)
{
  g_autofree char *section = g_strdup_printf ("dongle:%u", id);
  g_autofree char *default_api = g_strdup_printf ("http://192.168.%u.1", id);
  g_autofree char *default_address = g_strdup_printf ("192.168.%u.100", id);
  g_autofree char *interface = NULL;
  g_autofree char *default_socks_host = NULL;
  g_autoptr(PkEgress) egress = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *api = dongle_value (o, id, "api");
  const char *address = dongle_value (o, id, "address");
  guint64 fwmark = 0, port = 0;
  PkToggleServiceDongle *d;

  if (!pk_config_get_uint (s->config, section, "fwmark", NULL, 0, G_MAXUINT32, 0, &fwmark, error) ||
      !pk_config_get_uint (s->config, section, "socks_port", NULL, 1, 65535,
                           MIN (10000 + id, 65535), &port, error))
    return NULL;

  d = g_new0 (PkToggleServiceDongle, 1);
  d->id = id;
  d->api = api ? g_strdup (api) : pk_config_dup_string (s->config, section, "api", NULL, default_api);
  d->address = address ? g_strdup (address)
                       : pk_config_dup_string (s->config, section, "address", NULL, default_address);
  d->socks_port = (guint16) port;
  interface = pk_config_dup_string (s->config, section, "interface", NULL, NULL);
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
  /* request_timeout was checked with the other settings */
  if (!pk_hilink_modem_apply_config (d->modem, s->config, id, error))
    {
      dongle_free (d);
      return NULL;
    }

  /* The settings were checked with the others. */
  d->modem_step = pk_toggle_modem_step_new_from_config (s->config, NULL);
  d->toggle = pk_toggle_new (id, PK_MODEM (d->modem), s->limiter);
  pk_toggle_set_cooldown (d->toggle, s->cooldown_ms);
  pk_toggle_set_state_dir (d->toggle, s->state_dir);
  return d;
}

static gboolean
load_settings (PkToggleServiceSetup  *s,
               GError               **error)
{
  g_autofree char *method = NULL;
  g_autofree char *token_file = NULL;
  g_auto(GStrv) sections = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(PkToggleModemStep) check = NULL;
  guint request_timeout_ms;

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

  method = pk_config_dup_string (s->config, "toggle", "method", NULL, "data");
  if (!pk_rotation_method_from_string (method, &s->method))
    {
      g_autofree char *where = pk_config_describe_value (s->config, "toggle", "method", NULL);
      FAIL (FALSE, "%s: '%s': expected data, netmode or reboot", where, method);
    }
  /* The modem rung's settings, checked once for every dongle. */
  check = pk_toggle_modem_step_new_from_config (s->config, error);
  if (check == NULL)
    return FALSE;

  /* request_timeout: checked here, read by each dongle's modem client
   * (pk_hilink_modem_apply_config()) */
  if (!pk_config_get_duration_uint (s->config, "toggle", "cooldown", NULL, 0, PK_TOGGLE_DEFAULT_COOLDOWN_MS,
                                    &s->cooldown_ms, error) ||
      !pk_config_get_uint (s->config, "toggle", "max_concurrent", NULL, 0, 1000, PK_TOGGLE_DEFAULT_MAX_CONCURRENT,
                           &s->max_concurrent, error) ||
      !pk_config_get_duration_uint (s->config, "toggle", "request_timeout", NULL, 0, PK_HILINK_DEFAULT_TIMEOUT_MS,
                                    &request_timeout_ms, error))
    return FALSE;
  if (request_timeout_ms == 0)
    FAIL (FALSE, "request_timeout must not be 0");

  /* The ladder, and where locks and cooldowns are shared with other
   * processes (without a directory each process keeps its own). */
  s->ladder = pk_toggle_ladder_settings_new_from_config (s->config, error);
  if (s->ladder == NULL)
    return FALSE;
  s->state_dir = g_strdup (pk_toggle_ladder_settings_get_state_dir (s->ladder));

  /* The USB controller reset before recoveries, recorded where the locks
   * and cooldowns are (host/usb-controller-reset.json). */
  {
    g_autoptr(PkStateStore) store = pk_state_store_new (s->state_dir);

    s->controller_reset = pk_usb_controller_reset_new_from_config (s->config, "toggle", store, error);
    if (s->controller_reset == NULL)
      return FALSE;
    for (const char * const *k = pk_usb_controller_reset_get_config_keys (); *k != NULL; k++)
      s->controller_reset_set = s->controller_reset_set || pk_config_has_value (s->config, "toggle", *k, NULL);
  }

  /* The API's token: in a file, so that it shows neither in ps nor in
   * the configuration, which is often world-readable. */
  token_file = pk_config_dup_string (s->config, "toggle", "token_file", NULL, NULL);
  if (token_file != NULL)
    {
      g_autofree char *contents = NULL;
      g_autofree char *where = pk_config_describe_value (s->config, "toggle", "token_file", NULL);

      if (!g_file_get_contents (token_file, &contents, NULL, &local_error))
        FAIL (FALSE, "%s: %s", where, local_error->message);
      contents[strcspn (contents, "\r\n")] = '\0';
      g_strstrip (contents);
      if (*contents == '\0')
        FAIL (FALSE, "%s: '%s' holds no token", where, token_file);
      s->token = g_steal_pointer (&contents);
    }
  if (!pk_config_get_boolean (s->config, "toggle", "allow_get", NULL, FALSE, &s->allow_get, error))
    return FALSE;

  s->limiter = pk_toggle_limiter_new ((guint) s->max_concurrent);
  return TRUE;
}

/* The dongle numbers: [dongle:N] sections, else [toggle] dongles, else
 * the caller's named dongles, by the convention. */
static GArray *
dongle_ids (PkToggleServiceSetup         *s,
            const PkToggleServiceOptions *o,
            GError                      **error)
{
  g_auto(GStrv) sections = pk_config_list_sections (s->config, "dongle");
  g_autofree char *list = NULL;
  g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (guint));

  if (sections[0] != NULL)
    {
      g_autofree char *where = pk_config_describe_value (s->config, "toggle", "dongles", NULL);
      g_autofree char *in_file = pk_config_describe (s->config, "toggle", "dongles");

      /* A list from the caller (a flag) cannot go with the sections; one
       * in the file is left alone, as it always was. */
      if (where != NULL && g_strcmp0 (where, in_file) != 0)
        FAIL (NULL, "%s: the configuration has [dongle:N] sections already", where);
      for (guint i = 0; sections[i] != NULL; i++)
        {
          guint id = (guint) g_ascii_strtoull (sections[i], NULL, 10);
          g_array_append_val (ids, id);
        }
      return g_steal_pointer (&ids);
    }
  list = pk_config_dup_string (s->config, "toggle", "dongles", NULL, NULL);
  if (list != NULL)
    {
      g_autofree char *what = pk_config_describe_value (s->config, "toggle", "dongles", NULL);
      return pk_toggle_service_parse_id_list (what, list, error);
    }
  if (o->named == NULL)
    FAIL (NULL, "no dongles: name them (pk-toggle 11), add [dongle:N] sections or use --dongles");
  for (guint i = 0; o->named[i] != NULL; i++)
    {
      g_autoptr(GArray) one = pk_toggle_service_parse_id_list ("argument", o->named[i], error);
      if (one == NULL)
        return NULL;
      g_array_append_vals (ids, one->data, one->len);
    }
  return g_steal_pointer (&ids);
}

static gboolean
load_dongles (PkToggleServiceSetup         *s,
              const PkToggleServiceOptions *o,
              GError                      **error)
{
  g_autoptr(GArray) ids = dongle_ids (s, o, error);

  if (ids == NULL)
    return FALSE;
  s->dongles = g_ptr_array_new_with_free_func ((GDestroyNotify) dongle_free);
  for (guint i = 0; i < ids->len; i++)
    {
      guint id = g_array_index (ids, guint, i);
      PkToggleServiceDongle *d;

      if (pk_toggle_service_setup_find (s, id) != NULL)
        continue;
      d = make_dongle (s, o, id, error);
      if (d == NULL)
        return FALSE;
      g_ptr_array_add (s->dongles, d);
    }
  g_ptr_array_sort (s->dongles, compare_dongles);

  /* A value for a dongle that is not there is a mistake of the caller's. */
  for (guint i = 0; o->values != NULL && i < o->values->len; i++)
    {
      PkToggleServiceValue *v = g_ptr_array_index (o->values, i);

      if (pk_toggle_service_setup_find (s, v->id) == NULL)
        FAIL (FALSE, "%s '%s': dongle %u is not configured", v->origin, v->text, v->id);
    }
  return TRUE;
}

PkDongleMonitor *
pk_toggle_service_scan (PkConfig *config)
{
  g_autoptr(GError) error = NULL;
  PkDongleMonitor *monitor = pk_dongle_monitor_new_from_config (config, &error);

  if (monitor == NULL)
    {
      g_warning ("no USB and routing details: %s", error->message);
      return NULL;
    }
  pk_dongle_monitor_scan (monitor);
  return monitor;
}

/* The rungs past the modem: found on USB, a dongle gets them all (for
 * recoveries) and a plain toggle stops at the max stage; with rungs
 * chosen, only those. Without the dongle on USB: the modem rung only. */
static void
add_ladder (PkToggleServiceSetup         *s,
            const PkToggleServiceOptions *o,
            PkToggleServiceDongle        *d)
{
  PkDongle *dongle = s->monitor ? pk_dongle_monitor_get_dongle (s->monitor, d->id) : NULL;
  PkToggleStep *modem_step = PK_TOGGLE_STEP (d->modem_step);

  if (o->first != NULL)
    pk_toggle_add_ladder (d->toggle, dongle, modem_step, s->ladder, o->first, o->last ? o->last : o->first);
  else
    {
      pk_toggle_add_recovery_ladder (d->toggle, dongle, modem_step, s->ladder);
      pk_toggle_set_max_stage (d->toggle, pk_toggle_ladder_settings_get_max_stage (s->ladder));
    }
}

PkToggleServiceSetup *
pk_toggle_service_setup_load (PkConfig                     *config,
                              const PkToggleServiceOptions *options,
                              GError                      **error)
{
  g_autoptr(PkToggleServiceSetup) s = g_new0 (PkToggleServiceSetup, 1);

  s->config = g_object_ref (config);
  if (!load_settings (s, error) || !load_dongles (s, options, error))
    return NULL;
  /* The rungs past the modem need the dongles on USB. */
  if (options->use_usb)
    s->monitor = pk_toggle_service_scan (s->config);
  for (guint i = 0; i < s->dongles->len; i++)
    add_ladder (s, options, g_ptr_array_index (s->dongles, i));
  return g_steal_pointer (&s);
}
