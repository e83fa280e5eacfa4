/* pk-toggle-service.c: the dongles of a configuration, toggled, queried or served
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkToggleService:
 *
 * Every dongle of a configuration with its [class@Toggle], as `pk-toggle`
 * runs them: built from `[toggle]` and `[dongle:N]` (or, without
 * sections, `[toggle] dongles = 11-20` or the dongles the caller names,
 * by the subnet convention: dongle N's API at `http://192.168.N.1`, the
 * host's address `192.168.N.100`), each with its [class@HilinkModem]
 * (egress, credentials, request timeout), its cooldown, the state
 * directory shared with other processes, one [class@ToggleLimiter] for
 * all, and the ladder ([method@Toggle.add_recovery_ladder]) through the
 * dongles found on USB.
 *
 * It toggles a set of dongles ([method@ToggleService.toggle_async]),
 * asks them for their state or their device information
 * ([method@ToggleService.query_status_async],
 * [method@ToggleService.query_info_async]), or serves them over HTTP
 * ([method@ToggleService.listen], a [class@ToggleServer]); a later
 * [method@ToggleService.load_config] replaces the dongles (a reload:
 * a toggle that runs goes on to its end, and a bad configuration leaves
 * the running set as it is).
 *
 * A caller's flags go in as overrides of the configuration
 * ([method@Config.set_override] of `[toggle]` keys: `method`,
 * `cooldown`, `max_concurrent`, `request_timeout`, `state_dir`,
 * `token_file`, `allow_get`, `dongles`, `allow-controller-reset`, the
 * modem rung's), and per dongle with
 * [method@ToggleService.set_dongle_values].
 *
 * A recovery of many dongles ([method@ToggleService.toggle_async] with
 * `recovery`, `pk-toggle --recover --all`) may first reset their USB
 * controller: with a [class@UsbControllerReset] that allows it
 * ([method@ToggleService.set_controller_reset], or `[toggle]
 * allow-controller-reset = true`), the dongles are diagnosed first
 * ([method@Toggle.diagnose_async]), and when the failing share reaches
 * its threshold (70 %), and the last reset on the host is one interval
 * (10 min) ago, their controller is unbound and bound again once before
 * their ladders run. The results of the failing dongles list it as their
 * first step, `controller-reset`.
 *
 * ```c
 * g_autoptr(PkConfig) config = pk_config_new ();
 * g_autoptr(PkToggleService) service = NULL;
 *
 * pk_config_set_override (config, "toggle", "dongles", "11-13", "--dongles");
 * service = pk_toggle_service_new_from_config (config, &error);
 * pk_toggle_service_toggle_async (service, NULL, 0, FALSE, TRUE, NULL,
 *                                 on_toggled, NULL);
 * ```
 *
 * Since: 0.2
 */
#include "config.h"

#include <string.h>

#include <json-glib/json-glib.h>

#include "pk-error.h"
#include "pk-state-store.h"
#include "pk-toggle-private.h"
#include "pk-toggle-service-private.h"

struct _PkToggleService
{
  GObject parent_instance;

  PkToggleServiceOptions options;
  PkToggleServiceSetup *setup;
  PkToggleServer *server;
  PkUsbControllerReset *controller_reset;  /* nullable */
};

G_DEFINE_FINAL_TYPE (PkToggleService, pk_toggle_service, G_TYPE_OBJECT)

enum {
  SIGNAL_TOGGLED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
pk_toggle_service_finalize (GObject *object)
{
  PkToggleService *self = PK_TOGGLE_SERVICE (object);

  pk_toggle_service_stop (self);
  g_clear_pointer (&self->options.values, g_ptr_array_unref);
  g_clear_pointer (&self->options.named, g_strfreev);
  g_free (self->options.first);
  g_free (self->options.last);
  g_clear_pointer (&self->setup, pk_toggle_service_setup_free);
  g_clear_object (&self->controller_reset);
  G_OBJECT_CLASS (pk_toggle_service_parent_class)->finalize (object);
}

static void
pk_toggle_service_class_init (PkToggleServiceClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pk_toggle_service_finalize;

  /**
   * PkToggleService::toggled:
   * @self: the [class@ToggleService]
   * @result: the [class@ToggleResult] of one dongle (a refusal too)
   *
   * Emitted during [method@ToggleService.toggle_async] as each dongle's
   * toggle ends, so that a caller can show it before the others end.
   *
   * Since: 0.2
   */
  signals[SIGNAL_TOGGLED] =
    g_signal_new ("toggled", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, PK_TYPE_TOGGLE_RESULT);
}

static void
pk_toggle_service_init (PkToggleService *self)
{
  self->options.values = g_ptr_array_new_with_free_func ((GDestroyNotify) pk_toggle_service_value_free);
  self->options.use_usb = TRUE;
}

/**
 * pk_toggle_service_new:
 *
 * A service without dongles yet: set what the caller gives
 * ([method@ToggleService.set_dongle_values],
 * [method@ToggleService.set_named_dongles],
 * [method@ToggleService.set_stages]), then
 * [method@ToggleService.load_config].
 *
 * Returns: (transfer full): a new [class@ToggleService]
 *
 * Since: 0.2
 */
PkToggleService *
pk_toggle_service_new (void)
{
  return g_object_new (PK_TYPE_TOGGLE_SERVICE, NULL);
}

/**
 * pk_toggle_service_new_from_config:
 * @config: a [class@Config]
 * @error: return location for a `GError`
 *
 * [ctor@ToggleService.new] and [method@ToggleService.load_config].
 *
 * Returns: (transfer full) (nullable): a new [class@ToggleService], or
 *   %NULL with @error set (%PK_ERROR_CONFIG naming the value)
 *
 * Since: 0.2
 */
PkToggleService *
pk_toggle_service_new_from_config (PkConfig  *config,
                                   GError   **error)
{
  g_autoptr(PkToggleService) self = pk_toggle_service_new ();

  if (!pk_toggle_service_load_config (self, config, error))
    return NULL;
  return g_steal_pointer (&self);
}

/**
 * pk_toggle_service_set_dongle_values:
 * @self: a [class@ToggleService]
 * @key: the `[dongle:N]` key the values stand for: `api` or `address`
 * @values: (array zero-terminated=1) (nullable): items `N=VALUE`
 * @origin: (nullable): where they come from, for messages (`--api`)
 * @error: return location for a `GError`
 *
 * Values of @key for single dongles that win over the configuration,
 * such as `pk-toggle --api 11=http://127.0.0.1:8080`. Each must name a
 * dongle that the configuration (or the convention) has: a later
 * [method@ToggleService.load_config] fails otherwise.
 *
 * Returns: %TRUE, or %FALSE with @error set when an item is not `N=VALUE`
 *   with N a dongle number
 *
 * Since: 0.2
 */
gboolean
pk_toggle_service_set_dongle_values (PkToggleService     *self,
                                     const char          *key,
                                     const char * const  *values,
                                     const char          *origin,
                                     GError             **error)
{
  g_return_val_if_fail (PK_IS_TOGGLE_SERVICE (self), FALSE);
  g_return_val_if_fail (key != NULL, FALSE);

  if (origin == NULL)
    origin = key;
  for (guint i = 0; values != NULL && values[i] != NULL; i++)
    {
      const char *eq = strchr (values[i], '=');
      g_autofree char *num = NULL;
      PkToggleServiceValue *v;
      guint64 n;

      if (eq == NULL)
        {
          g_set_error (error, PK_ERROR, PK_ERROR_CONFIG, "%s '%s': expected N=VALUE", origin, values[i]);
          return FALSE;
        }
      num = g_strndup (values[i], eq - values[i]);
      if (!g_ascii_string_to_unsigned (num, 10, 0, 255, &n, NULL))
        {
          g_set_error (error, PK_ERROR, PK_ERROR_CONFIG, "%s '%s': '%s' is not a dongle number (0-255)",
                       origin, values[i], num);
          return FALSE;
        }
      v = g_new0 (PkToggleServiceValue, 1);
      v->id = (guint) n;
      v->key = g_strdup (key);
      v->value = g_strdup (eq + 1);
      v->text = g_strdup (values[i]);
      v->origin = g_strdup (origin);
      g_ptr_array_add (self->options.values, v);
    }
  return TRUE;
}

/**
 * pk_toggle_service_set_named_dongles:
 * @self: a [class@ToggleService]
 * @ids: (array zero-terminated=1) (nullable): dongle numbers and ranges
 *   (`11`, `11-20`, `11,12`)
 *
 * The dongles the caller names (`pk-toggle 11 12`): when the
 * configuration has neither `[dongle:N]` sections nor `[toggle] dongles`,
 * these are the dongles, by the subnet convention.
 *
 * Since: 0.2
 */
void
pk_toggle_service_set_named_dongles (PkToggleService    *self,
                                     const char * const *ids)
{
  g_return_if_fail (PK_IS_TOGGLE_SERVICE (self));

  g_strfreev (self->options.named);
  self->options.named = g_strdupv ((char **) ids);
}

/**
 * pk_toggle_service_set_stages:
 * @self: a [class@ToggleService]
 * @first: (nullable): the lowest rung (`routing`, `modem`, `usb`, `power`,
 *   `hub`), or %NULL for every rung
 * @last: (nullable): the highest rung, %NULL for @first
 *
 * Which rungs the toggles get: by default (%NULL) all of them, a plain
 * toggle stopping at `[toggle] max_stage` and a recovery climbing to the
 * hub; `usb`..`usb` for a rebind only, `modem`..`modem` for the modem
 * only. Takes effect at the next [method@ToggleService.load_config].
 *
 * Since: 0.2
 */
void
pk_toggle_service_set_stages (PkToggleService *self,
                              const char      *first,
                              const char      *last)
{
  g_return_if_fail (PK_IS_TOGGLE_SERVICE (self));

  g_free (self->options.first);
  g_free (self->options.last);
  self->options.first = g_strdup (first);
  self->options.last = g_strdup (first != NULL ? last : NULL);
}

/**
 * pk_toggle_service_set_use_usb:
 * @self: a [class@ToggleService]
 * @use_usb: whether to look for the dongles on USB
 *
 * With %TRUE (the default), [method@ToggleService.load_config] scans USB
 * for the dongles so that their toggles get the rungs past the modem;
 * with %FALSE it leaves USB alone and the toggles have the modem rung
 * only (enough to check a configuration, or to ask the modems).
 *
 * Since: 0.2
 */
void
pk_toggle_service_set_use_usb (PkToggleService *self,
                               gboolean         use_usb)
{
  g_return_if_fail (PK_IS_TOGGLE_SERVICE (self));

  self->options.use_usb = use_usb;
}

/* Whether /proxy-info lists the farm's listeners ([dongles] auto). */
static gboolean
farm_enabled (PkConfig *config)
{
  gboolean on = FALSE;

  return pk_config_has_section (config, "dongles") &&
         pk_config_get_boolean (config, "dongles", "auto", NULL, FALSE, &on, NULL) && on;
}

static void
serve_setup (PkToggleService      *self,
             PkToggleServiceSetup *s)
{
  pk_toggle_server_set_default_method (self->server, s->method);
  pk_toggle_server_set_token (self->server, s->token);
  pk_toggle_server_set_allow_get (self->server, s->allow_get);
  for (guint i = 0; i < s->dongles->len; i++)
    {
      PkToggleServiceDongle *d = g_ptr_array_index (s->dongles, i);
      pk_toggle_server_add_dongle (self->server, d->toggle, d->api, d->address, d->socks_host, d->socks_port);
    }
}

/**
 * pk_toggle_service_load_config:
 * @self: a [class@ToggleService]
 * @config: a [class@Config], with the caller's overrides
 * @error: return location for a `GError`
 *
 * Builds every dongle from @config and what was set on @self, and puts
 * them in place of the ones before (a reload). While serving, the server
 * gets the new set: dongles that are gone are removed, the others
 * replaced (a toggle that runs goes on to its end; the state directory
 * keeps its locks and cooldowns), and the method, token and `allow_get`
 * are updated. On an error nothing changes.
 *
 * Returns: %TRUE, or %FALSE with @error set (%PK_ERROR_CONFIG naming the
 *   value, or the error of a dongle's modem or egress)
 *
 * Since: 0.2
 */
gboolean
pk_toggle_service_load_config (PkToggleService  *self,
                               PkConfig         *config,
                               GError          **error)
{
  g_autoptr(PkToggleServiceSetup) s = NULL;

  g_return_val_if_fail (PK_IS_TOGGLE_SERVICE (self), FALSE);
  g_return_val_if_fail (PK_IS_CONFIG (config), FALSE);

  s = pk_toggle_service_setup_load (config, &self->options, error);
  if (s == NULL)
    return FALSE;
  if (self->server != NULL)
    {
      for (guint i = 0; i < self->setup->dongles->len; i++)
        {
          PkToggleServiceDongle *old = g_ptr_array_index (self->setup->dongles, i);

          if (pk_toggle_service_setup_find (s, old->id) == NULL)
            pk_toggle_server_remove_dongle (self->server, old->id);
        }
      serve_setup (self, s);
    }
  if (s->controller_reset_set)
    g_set_object (&self->controller_reset, s->controller_reset);
  g_clear_pointer (&self->setup, pk_toggle_service_setup_free);
  self->setup = g_steal_pointer (&s);
  return TRUE;
}

/* --- the dongles --- */

/**
 * pk_toggle_service_get_n_dongles:
 * @self: a [class@ToggleService]
 *
 * The number of dongles the configuration gave.
 *
 * Returns: how many dongles the service has
 *
 * Since: 0.2
 */
guint
pk_toggle_service_get_n_dongles (PkToggleService *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_SERVICE (self), 0);

  return self->setup ? self->setup->dongles->len : 0;
}

/**
 * pk_toggle_service_get_dongle_id:
 * @self: a [class@ToggleService]
 * @index: from 0 to [method@ToggleService.get_n_dongles] - 1
 *
 * The dongles in ascending order, by position.
 *
 * Returns: the number of the @index-th dongle, in ascending order
 *
 * Since: 0.2
 */
guint
pk_toggle_service_get_dongle_id (PkToggleService *self,
                                 guint            index)
{
  g_return_val_if_fail (PK_IS_TOGGLE_SERVICE (self), 0);
  g_return_val_if_fail (index < pk_toggle_service_get_n_dongles (self), 0);

  return ((PkToggleServiceDongle *) g_ptr_array_index (self->setup->dongles, index))->id;
}

static PkToggleServiceDongle *
find (PkToggleService *self,
      guint            id)
{
  return pk_toggle_service_setup_find (self->setup, id);
}

PkToggleServiceSetup *
pk_toggle_service_get_setup (PkToggleService *self)
{
  return self->setup;
}

/**
 * pk_toggle_service_get_toggle:
 * @self: a [class@ToggleService]
 * @id: a dongle number
 *
 * The [class@Toggle] of one dongle, with its ladder.
 *
 * Returns: (transfer none) (nullable): the toggle of dongle @id, or %NULL
 *   when the service has no such dongle
 *
 * Since: 0.2
 */
PkToggle *
pk_toggle_service_get_toggle (PkToggleService *self,
                              guint            id)
{
  PkToggleServiceDongle *d;

  g_return_val_if_fail (PK_IS_TOGGLE_SERVICE (self), NULL);
  d = find (self, id);
  return d ? d->toggle : NULL;
}

/**
 * pk_toggle_service_get_api:
 * @self: a [class@ToggleService]
 * @id: a dongle number
 *
 * Where dongle @id's HiLink API is.
 *
 * Returns: (nullable): the base URL of dongle @id's HiLink API, or %NULL
 *   when the service has no such dongle
 *
 * Since: 0.2
 */
const char *
pk_toggle_service_get_api (PkToggleService *self,
                           guint            id)
{
  PkToggleServiceDongle *d;

  g_return_val_if_fail (PK_IS_TOGGLE_SERVICE (self), NULL);
  d = find (self, id);
  return d ? d->api : NULL;
}

/**
 * pk_toggle_service_get_address:
 * @self: a [class@ToggleService]
 * @id: a dongle number
 *
 * The egress of dongle @id's modem.
 *
 * Returns: (nullable): the host's address on dongle @id's subnet, its
 *   egress, or %NULL when the service has no such dongle
 *
 * Since: 0.2
 */
const char *
pk_toggle_service_get_address (PkToggleService *self,
                               guint            id)
{
  PkToggleServiceDongle *d;

  g_return_val_if_fail (PK_IS_TOGGLE_SERVICE (self), NULL);
  d = find (self, id);
  return d ? d->address : NULL;
}

/**
 * pk_toggle_service_get_socks_host:
 * @self: a [class@ToggleService]
 * @id: a dongle number
 *
 * The host of dongle @id's SOCKS listener.
 *
 * Returns: (nullable): the host that `/proxy-info` gives for dongle @id's
 *   SOCKS listener, or %NULL when none is configured
 *
 * Since: 0.2
 */
const char *
pk_toggle_service_get_socks_host (PkToggleService *self,
                                  guint            id)
{
  PkToggleServiceDongle *d;

  g_return_val_if_fail (PK_IS_TOGGLE_SERVICE (self), NULL);
  d = find (self, id);
  return d ? d->socks_host : NULL;
}

/**
 * pk_toggle_service_get_socks_port:
 * @self: a [class@ToggleService]
 * @id: a dongle number
 *
 * The port of dongle @id's SOCKS listener.
 *
 * Returns: the port of dongle @id's SOCKS listener (10000 + N by
 *   default), 0 when the service has no such dongle
 *
 * Since: 0.2
 */
guint16
pk_toggle_service_get_socks_port (PkToggleService *self,
                                  guint            id)
{
  PkToggleServiceDongle *d;

  g_return_val_if_fail (PK_IS_TOGGLE_SERVICE (self), 0);
  d = find (self, id);
  return d ? d->socks_port : 0;
}

/**
 * pk_toggle_service_get_method:
 * @self: a [class@ToggleService]
 *
 * The rotation method of toggles.
 *
 * Returns: the method toggles start with (`[toggle] method`)
 *
 * Since: 0.2
 */
PkRotationMethod
pk_toggle_service_get_method (PkToggleService *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_SERVICE (self), PK_ROTATION_METHOD_DATA);

  return self->setup ? self->setup->method : PK_ROTATION_METHOD_DATA;
}

/**
 * pk_toggle_service_get_limiter:
 * @self: a [class@ToggleService]
 *
 * The limit on toggles at once.
 *
 * Returns: (transfer none) (nullable): the limit on toggles at once that
 *   the dongles share (`[toggle] max_concurrent`)
 *
 * Since: 0.2
 */
PkToggleLimiter *
pk_toggle_service_get_limiter (PkToggleService *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_SERVICE (self), NULL);

  return self->setup ? self->setup->limiter : NULL;
}

/**
 * pk_toggle_service_get_controller_reset:
 * @self: a [class@ToggleService]
 *
 * See [method@ToggleService.set_controller_reset].
 *
 * Returns: (transfer none) (nullable): the USB controller reset before
 *   recoveries, or %NULL for none
 *
 * Since: 0.2
 */
PkUsbControllerReset *
pk_toggle_service_get_controller_reset (PkToggleService *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_SERVICE (self), NULL);

  return self->controller_reset;
}

/**
 * pk_toggle_service_set_controller_reset:
 * @self: a [class@ToggleService]
 * @reset: (nullable): the policy, or %NULL for none
 *
 * Lets a recovery of many dongles ([method@ToggleService.toggle_async]
 * with `recovery`) reset their USB controller first, when @reset allows
 * it ([method@UsbControllerReset.set_allowed]) and enough of them fail.
 * [method@ToggleService.load_config] puts in its place the one
 * `[toggle]` makes when it has `allow-controller-reset`,
 * `controller-reset-threshold` or `controller-reset-interval` (recorded in
 * the toggles' state directory).
 *
 * Since: 0.2
 */
void
pk_toggle_service_set_controller_reset (PkToggleService      *self,
                                        PkUsbControllerReset *reset)
{
  g_return_if_fail (PK_IS_TOGGLE_SERVICE (self));
  g_return_if_fail (reset == NULL || PK_IS_USB_CONTROLLER_RESET (reset));

  g_set_object (&self->controller_reset, reset);
}

/**
 * pk_toggle_service_parse_ids:
 * @self: a [class@ToggleService]
 * @args: (array zero-terminated=1) (nullable): dongle numbers and ranges
 *   (`11`, `11-20`, `11,12`), or %NULL for every dongle
 * @n_ids: (out): the number of ids returned
 * @error: return location for a `GError`
 *
 * The dongles that @args name, each of them one the service has.
 *
 * Returns: (array length=n_ids) (transfer full) (nullable): the numbers,
 *   or %NULL with @error set (%PK_ERROR_INVALID_ARGUMENT) for a bad number
 *   or a dongle the service does not have
 *
 * Since: 0.2
 */
guint *
pk_toggle_service_parse_ids (PkToggleService     *self,
                             const char * const  *args,
                             gsize               *n_ids,
                             GError             **error)
{
  g_autoptr(GArray) out = g_array_new (FALSE, FALSE, sizeof (guint));

  g_return_val_if_fail (PK_IS_TOGGLE_SERVICE (self), NULL);
  g_return_val_if_fail (n_ids != NULL, NULL);

  *n_ids = 0;
  for (guint i = 0; args == NULL && i < pk_toggle_service_get_n_dongles (self); i++)
    {
      guint id = pk_toggle_service_get_dongle_id (self, i);
      g_array_append_val (out, id);
    }
  for (guint i = 0; args != NULL && args[i] != NULL; i++)
    {
      g_autoptr(GArray) ids = pk_toggle_service_parse_id_list ("argument", args[i], error);

      if (ids == NULL)
        return NULL;
      for (guint j = 0; j < ids->len; j++)
        if (find (self, g_array_index (ids, guint, j)) == NULL)
          {
            g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT, "dongle %u is not configured",
                         g_array_index (ids, guint, j));
            return NULL;
          }
      g_array_append_vals (out, ids->data, ids->len);
    }
  *n_ids = out->len;
  return (guint *) g_array_free (g_steal_pointer (&out), FALSE);
}

/* --- toggles --- */

typedef struct {
  GPtrArray *toggles;     /* PkToggle, in the order asked */
  PkToggleLimiter *limiter;
  PkRotationMethod method;
  gboolean recovery;
  gboolean wait;
  GQueue waiting;         /* PkToggle, for a place */
  gboolean retry_pending; /* a look for places is due */
  GPtrArray *results;     /* PkToggleResult, as they finish */
  guint pending;
  guint running;          /* of ours, started and not ended */
  /* the USB controller reset before a recovery */
  PkUsbControllerReset *reset;
  GArray *failing;        /* guint, the dongles the diagnosis found failing */
  guint diagnosing;
  gint64 reset_started;
  char *reset_outcome;    /* NULL when no reset ran */
  char *reset_detail;
  guint64 reset_ms;
} ToggleRun;

static void
toggle_run_free (ToggleRun *run)
{
  g_ptr_array_unref (run->toggles);
  g_clear_object (&run->limiter);
  g_queue_clear (&run->waiting);
  g_ptr_array_unref (run->results);
  g_clear_object (&run->reset);
  g_clear_pointer (&run->failing, g_array_unref);
  g_free (run->reset_outcome);
  g_free (run->reset_detail);
  g_free (run);
}

static void start_toggle (GTask *task, PkToggle *toggle);

static gboolean
is_failing (ToggleRun *run,
            guint      id)
{
  for (guint i = 0; run->failing != NULL && i < run->failing->len; i++)
    if (g_array_index (run->failing, guint, i) == id)
      return TRUE;
  return FALSE;
}

/* While none of ours runs to hand its place on, a place can only come
 * free in another caller's toggle (the limit on toggles at once is the
 * service's, the recovery slots are the host's): look again now and
 * then, for every waiting dongle. */
#define WAIT_RETRY_MS 250

static gboolean
retry_waiting (gpointer user_data)
{
  GTask *task = user_data;
  ToggleRun *run = g_task_get_task_data (task);

  run->retry_pending = FALSE;
  while (!g_queue_is_empty (&run->waiting))
    start_toggle (task, g_queue_pop_head (&run->waiting));
  return G_SOURCE_REMOVE;
}

static void
on_toggled (GObject      *source,
            GAsyncResult *res,
            gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  ToggleRun *run = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  PkToggleResult *result = pk_toggle_run_finish (PK_TOGGLE (source), res, &error);

  run->running--;
  if (result == NULL && run->wait && g_error_matches (error, PK_ERROR, PK_ERROR_NOT_ALLOWED))
    {
      /* Waiting for a place instead of giving up. Never at once: a
       * refusal by slots another process holds would come straight back,
       * and again, as fast as the lock files open. */
      g_queue_push_tail (&run->waiting, source);
      if (run->running == 0 && !run->retry_pending)
        {
          run->retry_pending = TRUE;
          g_timeout_add_full (G_PRIORITY_DEFAULT, WAIT_RETRY_MS, retry_waiting, g_object_ref (task),
                              g_object_unref);
        }
      return;
    }
  if (result == NULL)
    result = pk_toggle_result_new_refused (pk_toggle_get_id (PK_TOGGLE (source)), error);
  else if (run->reset_outcome != NULL && is_failing (run, pk_toggle_get_id (PK_TOGGLE (source))))
    pk_toggle_result_insert_step (result, 0, "controller-reset", run->reset_outcome, run->reset_detail,
                                  run->reset_ms);
  g_ptr_array_add (run->results, result);
  g_signal_emit (g_task_get_source_object (task), signals[SIGNAL_TOGGLED], 0, result);

  if (!g_queue_is_empty (&run->waiting))
    start_toggle (task, g_queue_pop_head (&run->waiting));
  if (--run->pending == 0)
    g_task_return_pointer (task, g_ptr_array_ref (run->results), (GDestroyNotify) g_ptr_array_unref);
}

static void
start_toggle (GTask    *task,
              PkToggle *toggle)
{
  ToggleRun *run = g_task_get_task_data (task);

  run->running++;
  pk_toggle_run_async (toggle, run->method, run->recovery, g_task_get_cancellable (task), on_toggled,
                       g_object_ref (task));
}

static void
start_toggles (GTask *task)
{
  ToggleRun *run = g_task_get_task_data (task);

  for (guint i = 0; i < run->toggles->len; i++)
    start_toggle (task, g_ptr_array_index (run->toggles, i));
}

static void
on_controller_reset (GObject      *source,
                     GAsyncResult *res,
                     gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  ToggleRun *run = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) reset = pk_usb_controller_reset_maybe_finish (PK_USB_CONTROLLER_RESET (source), res, &error);

  run->reset_ms = (guint64) ((g_get_monotonic_time () - run->reset_started) / 1000);
  if (reset != NULL)
    {
      g_autofree char *list = g_strjoinv (", ", reset);

      run->reset_outcome = g_strdup ("ok");
      run->reset_detail = g_strdup_printf ("USB controller %s unbound and bound again: %u of %u dongles failed",
                                           list, run->failing->len, run->toggles->len);
      g_message ("%s", run->reset_detail);
    }
  else if (g_error_matches (error, PK_ERROR, PK_ERROR_NOT_ALLOWED) ||
           g_error_matches (error, PK_ERROR, PK_ERROR_COOLDOWN))
    g_message ("%s", error->message);
  else
    {
      g_warning ("USB controller reset failed: %s", error->message);
      run->reset_outcome = g_strdup ("failed");
      run->reset_detail = g_strdup (error->message);
    }
  /* The ladders then diagnose again and climb only as far as needed. */
  start_toggles (task);
}

/* Once every dongle is diagnosed: the USB controller reset when enough
 * of them fail, then the ladders. */
static void
on_pre_diagnosed (GObject      *source,
                  GAsyncResult *res,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PkToggleService *self = g_task_get_source_object (task);
  ToggleRun *run = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) dongles = g_ptr_array_new ();
  gboolean healthy = TRUE;
  guint id = pk_toggle_get_id (PK_TOGGLE (source));
  guint total = run->toggles->len;
  GCancellable *cancellable;

  /* cancelled: the ladders are refused as well */
  if (pk_toggle_diagnose_finish (PK_TOGGLE (source), res, &healthy, NULL, &error) && !healthy)
    g_array_append_val (run->failing, id);
  if (--run->diagnosing > 0)
    return;

  if (!pk_usb_controller_reset_is_due (run->reset, run->failing->len, total))
    {
      start_toggles (task);
      return;
    }
  if (pk_usb_controller_reset_get_remaining (run->reset) > 0)
    {
      g_message ("%u of %u dongles failed: the USB controller was reset less than %u s ago, not again",
                 run->failing->len, total, pk_usb_controller_reset_get_interval (run->reset) / 1000);
      start_toggles (task);
      return;
    }
  for (guint i = 0; i < run->failing->len; i++)
    {
      PkDongle *dongle = self->setup && self->setup->monitor
                           ? pk_dongle_monitor_get_dongle (self->setup->monitor,
                                                           g_array_index (run->failing, guint, i))
                           : NULL;
      if (dongle != NULL)
        g_ptr_array_add (dongles, dongle);
    }
  if (dongles->len == 0)
    {
      g_message ("%u of %u dongles failed, none of them found on USB: no USB controller to reset",
                 run->failing->len, total);
      start_toggles (task);
      return;
    }
  g_message ("%u of %u dongles failed at once: resetting their USB controller", run->failing->len, total);
  run->reset_started = g_get_monotonic_time ();
  cancellable = g_task_get_cancellable (task);
  pk_usb_controller_reset_maybe_async (run->reset, (PkDongle **) dongles->pdata, dongles->len, total, cancellable,
                                       on_controller_reset, g_steal_pointer (&task));
}

GPtrArray *
pk_toggle_service_select (PkToggleService *self,
                          const guint     *ids,
                          gsize            n_ids,
                          GError         **error)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func (g_object_unref);

  if (ids == NULL)
    n_ids = pk_toggle_service_get_n_dongles (self);
  for (gsize i = 0; i < n_ids; i++)
    {
      guint id = ids ? ids[i] : pk_toggle_service_get_dongle_id (self, (guint) i);
      PkToggle *toggle = pk_toggle_service_get_toggle (self, id);

      if (toggle == NULL)
        {
          g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT, "dongle %u is not configured", id);
          return NULL;
        }
      g_ptr_array_add (out, g_object_ref (toggle));
    }
  return g_steal_pointer (&out);
}

/**
 * pk_toggle_service_toggle_async:
 * @self: a [class@ToggleService]
 * @ids: (array length=n_ids) (nullable): the dongles, %NULL for all
 * @n_ids: the number of @ids
 * @recovery: run as recoveries ([method@Toggle.run_async])
 * @wait: when too many toggles (or, with @recovery, recoveries on the
 *   host) run at once, wait for a place instead of refusing
 *   (`pk-toggle --all`)
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when every toggle has ended
 * @user_data: data for @callback
 *
 * Toggles the dongles, all at once, with the configured method; each is
 * refused while it toggles already or cools down, and without @wait while
 * the limit on toggles at once (or the host's recovery slots) is reached.
 * With @wait, a dongle waiting for a place another process holds looks
 * again every 250 ms.
 *
 * A recovery up the whole ladder with a USB controller reset that is
 * allowed ([method@ToggleService.set_controller_reset]) diagnoses the
 * dongles first; when enough of them fail, it resets their USB controller
 * once (see [class@UsbControllerReset]) before their ladders run, and the
 * results of the failing dongles list it as their first step,
 * `controller-reset` (`ok`, or `failed` with the error).
 *
 * Since: 0.2
 */
void
pk_toggle_service_toggle_async (PkToggleService     *self,
                                const guint         *ids,
                                gsize                n_ids,
                                gboolean             recovery,
                                gboolean             wait,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  ToggleRun *run;

  g_return_if_fail (PK_IS_TOGGLE_SERVICE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_toggle_service_toggle_async);
  run = g_new0 (ToggleRun, 1);
  g_queue_init (&run->waiting);
  run->results = g_ptr_array_new_with_free_func (g_object_unref);
  run->toggles = pk_toggle_service_select (self, ids, n_ids, &error);
  g_task_set_task_data (task, run, (GDestroyNotify) toggle_run_free);
  if (run->toggles == NULL)
    {
      run->toggles = g_ptr_array_new ();
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  run->limiter = self->setup ? g_object_ref (self->setup->limiter) : NULL;
  run->method = pk_toggle_service_get_method (self);
  run->recovery = recovery;
  run->wait = wait;
  run->pending = run->toggles->len;
  if (run->pending == 0)
    {
      g_task_return_pointer (task, g_ptr_array_ref (run->results), (GDestroyNotify) g_ptr_array_unref);
      return;
    }
  /* A recovery up the whole ladder, a reset allowed: how many fail? */
  if (recovery && self->controller_reset != NULL && self->options.first == NULL &&
      pk_usb_controller_reset_get_allowed (self->controller_reset))
    {
      run->reset = g_object_ref (self->controller_reset);
      run->failing = g_array_new (FALSE, FALSE, sizeof (guint));
      run->diagnosing = run->toggles->len;
      for (guint i = 0; i < run->toggles->len; i++)
        pk_toggle_diagnose_async (g_ptr_array_index (run->toggles, i), cancellable, on_pre_diagnosed,
                                  g_object_ref (task));
      return;
    }
  start_toggles (task);
}

/**
 * pk_toggle_service_toggle_finish:
 * @self: a [class@ToggleService]
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Finishes [method@ToggleService.toggle_async].
 *
 * Returns: (transfer full) (element-type PkToggleResult) (nullable):
 *   a result for each dongle, in the order they ended; a refused toggle's
 *   result has [method@ToggleResult.get_refused] set. %NULL with @error
 *   set only when a dongle asked for is not there.
 *
 * Since: 0.2
 */
GPtrArray *
pk_toggle_service_toggle_finish (PkToggleService  *self,
                                 GAsyncResult     *result,
                                 GError          **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pk_toggle_service_toggle_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * pk_toggle_service_results_to_json:
 * @results: (element-type PkToggleResult): results of
 *   [method@ToggleService.toggle_finish]
 * @as_array: %FALSE for the one result's object alone (@results must
 *   then hold one)
 *
 * What `pk-toggle --json` prints: each result as
 * [method@ToggleResult.to_json] describes it, in an array, indented.
 *
 * Returns: (transfer full): the JSON text
 *
 * Since: 0.2
 */
char *
pk_toggle_service_results_to_json (GPtrArray *results,
                                   gboolean   as_array)
{
  g_autoptr(JsonNode) root = NULL;

  g_return_val_if_fail (results != NULL, NULL);
  g_return_val_if_fail (as_array || results->len == 1, NULL);

  if (!as_array)
    root = pk_toggle_result_to_json_node (g_ptr_array_index (results, 0));
  else
    {
      JsonArray *array = json_array_new ();

      for (guint i = 0; i < results->len; i++)
        json_array_add_element (array, pk_toggle_result_to_json_node (g_ptr_array_index (results, i)));
      root = json_node_init_array (json_node_alloc (), array);
      json_array_unref (array);
    }
  return json_to_string (root, TRUE);
}

/* --- serving --- */

/**
 * pk_toggle_service_listen:
 * @self: a [class@ToggleService]
 * @address: `ADDRESS:PORT` (port 0 for any)
 * @error: return location for a `GError`
 *
 * Serves the dongles over HTTP with a [class@ToggleServer]: the method,
 * token and `allow_get` of `[toggle]`, and with `[dongles] auto` the
 * farm's listeners in `/proxy-info`. A later
 * [method@ToggleService.load_config] hands the server the new dongles.
 *
 * Returns: %TRUE, or %FALSE with @error set (%PK_ERROR_INVALID_ARGUMENT
 *   for a bad address)
 *
 * Since: 0.2
 */
gboolean
pk_toggle_service_listen (PkToggleService  *self,
                          const char       *address,
                          GError          **error)
{
  g_return_val_if_fail (PK_IS_TOGGLE_SERVICE (self), FALSE);
  g_return_val_if_fail (self->setup != NULL, FALSE);
  g_return_val_if_fail (self->server == NULL, FALSE);

  self->server = pk_toggle_server_new ();
  if (farm_enabled (self->setup->config))
    {
      g_autoptr(PkStateStore) store = pk_state_store_new_from_config (self->setup->config, "dongles");
      pk_toggle_server_set_state_store (self->server, store);
    }
  serve_setup (self, self->setup);
  if (!pk_toggle_server_listen (self->server, address, error))
    {
      g_clear_object (&self->server);
      return FALSE;
    }
  return TRUE;
}

/**
 * pk_toggle_service_get_server:
 * @self: a [class@ToggleService]
 *
 * The HTTP server.
 *
 * Returns: (transfer none) (nullable): the server of
 *   [method@ToggleService.listen], or %NULL when not serving
 *
 * Since: 0.2
 */
PkToggleServer *
pk_toggle_service_get_server (PkToggleService *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_SERVICE (self), NULL);

  return self->server;
}

/**
 * pk_toggle_service_stop:
 * @self: a [class@ToggleService]
 *
 * Stops serving. Does nothing when not serving.
 *
 * Since: 0.2
 */
void
pk_toggle_service_stop (PkToggleService *self)
{
  g_return_if_fail (PK_IS_TOGGLE_SERVICE (self));

  if (self->server == NULL)
    return;
  pk_toggle_server_stop (self->server);
  g_clear_object (&self->server);
}
