/* pk-toggle-result.c: what a PkToggle run did
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <json-glib/json-glib.h>

#include "pk-error.h"
#include "pk-error-private.h"
#include "pk-toggle-result.h"
#include "pk-toggle-private.h"

/* --- PkToggleResult --- */

/**
 * PkToggleResult:
 *
 * What one run of a [class@Toggle] did: the old and new IP, the method
 * that worked, the duration, and each step with its outcome (`ok`,
 * `changed`, `unchanged` or `failed`) and a one-line detail.
 *
 * Since: 0.1
 */
typedef struct {
  char *name;
  char *outcome;
  char *detail;
  guint64 duration_ms;
} Step;

struct _PkToggleResult
{
  GObject parent_instance;

  guint id;
  gboolean success;
  GError *error;
  char *old_ip;
  char *new_ip;
  char *method;
  guint64 duration_ms;
  gint64 finished_at;
  guint attempts;
  gboolean escalated;
  gboolean refused;
  GArray *steps;
};

G_DEFINE_FINAL_TYPE (PkToggleResult, pk_toggle_result, G_TYPE_OBJECT)

static void
step_clear (gpointer data)
{
  Step *s = data;

  g_free (s->name);
  g_free (s->outcome);
  g_free (s->detail);
}

static void
pk_toggle_result_finalize (GObject *object)
{
  PkToggleResult *self = PK_TOGGLE_RESULT (object);

  g_clear_error (&self->error);
  g_free (self->old_ip);
  g_free (self->new_ip);
  g_free (self->method);
  g_array_unref (self->steps);

  G_OBJECT_CLASS (pk_toggle_result_parent_class)->finalize (object);
}

static void
pk_toggle_result_class_init (PkToggleResultClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pk_toggle_result_finalize;
}

static void
pk_toggle_result_init (PkToggleResult *self)
{
  self->steps = g_array_new (FALSE, TRUE, sizeof (Step));
  g_array_set_clear_func (self->steps, step_clear);
}

static void
result_add_step (PkToggleResult *self,
                 const char     *name,
                 const char     *outcome,
                 const char     *detail)
{
  Step s = { g_strdup (name), g_strdup (outcome), g_strdup (detail) };

  g_array_append_val (self->steps, s);
}

/**
 * pk_toggle_result_get_id:
 * @self: a [class@ToggleResult]
 *
 * Gets the dongle's number.
 *
 * Returns: the dongle's number
 *
 * Since: 0.1
 */
guint
pk_toggle_result_get_id (PkToggleResult *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_RESULT (self), 0);
  return self->id;
}

/**
 * pk_toggle_result_get_success:
 * @self: a [class@ToggleResult]
 *
 * Tells whether the dongle has a new, verified IP.
 *
 * Returns: %TRUE if the dongle has a new, verified IP
 *
 * Since: 0.1
 */
gboolean
pk_toggle_result_get_success (PkToggleResult *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_RESULT (self), FALSE);
  return self->success;
}

/**
 * pk_toggle_result_get_error:
 * @self: a [class@ToggleResult]
 *
 * Tells why the toggle failed (%PK_ERROR_UNCHANGED when the IP stayed, the
 * modem's error when it could not be reached), or %NULL on success.
 *
 * Returns: (nullable) (transfer none): why the toggle failed
 *   (%PK_ERROR_UNCHANGED when the IP stayed, the modem's error when it
 *   could not be reached), or %NULL on success
 *
 * Since: 0.1
 */
const GError *
pk_toggle_result_get_error (PkToggleResult *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_RESULT (self), NULL);
  return self->error;
}

/**
 * pk_toggle_result_get_old_ip:
 * @self: a [class@ToggleResult]
 *
 * Gets the WAN IP before, %NULL if there was none or it could not be read.
 *
 * Returns: (nullable): the WAN IP before, %NULL if there was none or it
 *   could not be read
 *
 * Since: 0.1
 */
const char *
pk_toggle_result_get_old_ip (PkToggleResult *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_RESULT (self), NULL);
  return self->old_ip;
}

/**
 * pk_toggle_result_get_new_ip:
 * @self: a [class@ToggleResult]
 *
 * Gets the new WAN IP, %NULL unless the toggle succeeded.
 *
 * Returns: (nullable): the new WAN IP, %NULL unless the toggle succeeded
 *
 * Since: 0.1
 */
const char *
pk_toggle_result_get_new_ip (PkToggleResult *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_RESULT (self), NULL);
  return self->new_ip;
}

/**
 * pk_toggle_result_get_method:
 * @self: a [class@ToggleResult]
 *
 * Tells what brought the new IP (for the modem step the rotation method:
 * `data`, `netmode`, `reboot`), or the last thing tried; %NULL if no step ran.
 *
 * Returns: (nullable): what brought the new IP (for the modem step the
 *   rotation method: `data`, `netmode`, `reboot`), or the last thing
 *   tried; %NULL if no step ran
 *
 * Since: 0.1
 */
const char *
pk_toggle_result_get_method (PkToggleResult *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_RESULT (self), NULL);
  return self->method;
}

/**
 * pk_toggle_result_get_duration_ms:
 * @self: a [class@ToggleResult]
 *
 * Tells how long the toggle took, in milliseconds.
 *
 * Returns: how long the toggle took, in milliseconds
 *
 * Since: 0.1
 */
guint64
pk_toggle_result_get_duration_ms (PkToggleResult *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_RESULT (self), 0);
  return self->duration_ms;
}

/**
 * pk_toggle_result_get_finished_at:
 * @self: a [class@ToggleResult]
 *
 * Tells when the toggle ended, in microseconds since the epoch.
 *
 * Returns: when the toggle ended, in microseconds since the epoch
 *
 * Since: 0.1
 */
gint64
pk_toggle_result_get_finished_at (PkToggleResult *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_RESULT (self), 0);
  return self->finished_at;
}

/**
 * pk_toggle_result_get_attempts:
 * @self: a [class@ToggleResult]
 *
 * Tells how many rotation methods were tried.
 *
 * Returns: how many rotation methods were tried
 *
 * Since: 0.1
 */
guint
pk_toggle_result_get_attempts (PkToggleResult *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_RESULT (self), 0);
  return self->attempts;
}

/**
 * pk_toggle_result_get_escalated:
 * @self: a [class@ToggleResult]
 *
 * Tells whether the first method was not enough.
 *
 * Returns: %TRUE if the first method was not enough
 *
 * Since: 0.1
 */
gboolean
pk_toggle_result_get_escalated (PkToggleResult *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_RESULT (self), FALSE);
  return self->escalated;
}

/**
 * pk_toggle_result_get_n_steps:
 * @self: a [class@ToggleResult]
 *
 * Tells how many steps the toggle went through, the diagnosis included.
 *
 * Returns: how many steps the toggle went through, the diagnosis included
 *
 * Since: 0.1
 */
guint
pk_toggle_result_get_n_steps (PkToggleResult *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_RESULT (self), 0);
  return self->steps->len;
}

static Step *
result_get_step (PkToggleResult *self,
                 guint           index)
{
  g_return_val_if_fail (PK_IS_TOGGLE_RESULT (self), NULL);
  g_return_val_if_fail (index < self->steps->len, NULL);
  return &g_array_index (self->steps, Step, index);
}

/**
 * pk_toggle_result_get_step_name:
 * @self: a [class@ToggleResult]
 * @index: the step, from 0
 *
 * Gets the name of step @index: `diagnose`, `modem`, `verify`, ...
 *
 * Returns: the step's name: `diagnose`, `modem`, `verify`, ...
 *
 * Since: 0.1
 */
const char *
pk_toggle_result_get_step_name (PkToggleResult *self,
                                guint           index)
{
  Step *s = result_get_step (self, index);
  return s != NULL ? s->name : NULL;
}

/**
 * pk_toggle_result_get_step_outcome:
 * @self: a [class@ToggleResult]
 * @index: the step, from 0
 *
 * Gets the name of a value: `ok`, `changed`, `unchanged` or `failed`.
 *
 * Returns: `ok`, `changed`, `unchanged` or `failed`
 *
 * Since: 0.1
 */
const char *
pk_toggle_result_get_step_outcome (PkToggleResult *self,
                                   guint           index)
{
  Step *s = result_get_step (self, index);
  return s != NULL ? s->outcome : NULL;
}

/**
 * pk_toggle_result_get_step_detail:
 * @self: a [class@ToggleResult]
 * @index: the step, from 0
 *
 * Gets a one-line account of the step.
 *
 * Returns: (nullable): a one-line account of the step
 *
 * Since: 0.1
 */
const char *
pk_toggle_result_get_step_detail (PkToggleResult *self,
                                  guint           index)
{
  Step *s = result_get_step (self, index);
  return s != NULL ? s->detail : NULL;
}

/**
 * pk_toggle_result_get_step_duration_ms:
 * @self: a [class@ToggleResult]
 * @index: the step, from 0
 *
 * Gets how long step @index took, its check of the IP included.
 *
 * Returns: how long the step took, in milliseconds
 *
 * Since: 0.2
 */
guint64
pk_toggle_result_get_step_duration_ms (PkToggleResult *self,
                                       guint           index)
{
  Step *s = result_get_step (self, index);
  return s != NULL ? s->duration_ms : 0;
}

void
pk_toggle_result_insert_step (PkToggleResult *self,
                              guint           index,
                              const char     *name,
                              const char     *outcome,
                              const char     *detail,
                              guint64         duration_ms)
{
  Step s = { g_strdup (name), g_strdup (outcome), g_strdup (detail), duration_ms };

  g_return_if_fail (PK_IS_TOGGLE_RESULT (self));
  g_array_insert_val (self->steps, MIN (index, self->steps->len), s);
}

void
pk_toggle_result_set_step_duration (PkToggleResult *self,
                                    guint64         duration_ms)
{
  g_return_if_fail (self->steps->len > 0);
  g_array_index (self->steps, Step, self->steps->len - 1).duration_ms = duration_ms;
}

/**
 * pk_toggle_result_to_json:
 * @self: a [class@ToggleResult]
 *
 * Describes the result as a JSON object: `dongle`, `success`, `old_ip`,
 * `new_ip`, `method`, `duration_ms`, `attempts`, `escalated`,
 * `finished_at` (ISO 8601), `error` and `error_code` (the Huawei code or
 * 0) when it failed, and `steps` (objects with `name`, `outcome`,
 * `detail`, `duration_ms`). A refusal
 * ([method@ToggleResult.get_refused]) is `dongle`, `success` (false),
 * `reason` (`busy`, `cooldown`, `limit`) and `error` only.
 *
 * Returns: (transfer full) (nullable): the JSON text, or %NULL when the
 *   library was built without json-glib
 *
 * Since: 0.1
 */
char *
pk_toggle_result_to_json (PkToggleResult *self)
{
  g_autoptr(JsonNode) root = NULL;

  g_return_val_if_fail (PK_IS_TOGGLE_RESULT (self), NULL);

  root = pk_toggle_result_to_json_node (self);
  return json_to_string (root, FALSE);
}

JsonNode *
pk_toggle_result_to_json_node (PkToggleResult *self)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(GDateTime) dt = NULL;
  g_autofree char *when = NULL;

  dt = g_date_time_new_from_unix_utc (self->finished_at / G_USEC_PER_SEC);
  when = dt != NULL ? g_date_time_format_iso8601 (dt) : NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "dongle");
  json_builder_add_int_value (b, self->id);
  json_builder_set_member_name (b, "success");
  json_builder_add_boolean_value (b, self->success);
  if (self->refused)
    {
      /* It never ran: why not, as the HTTP API says it. */
      json_builder_set_member_name (b, "reason");
      json_builder_add_string_value (b, pk_toggle_refusal_reason (self->error));
      json_builder_set_member_name (b, "error");
      json_builder_add_string_value (b, self->error->message);
      json_builder_end_object (b);
      return json_builder_get_root (b);
    }
  json_builder_set_member_name (b, "old_ip");
  self->old_ip ? json_builder_add_string_value (b, self->old_ip) : json_builder_add_null_value (b);
  json_builder_set_member_name (b, "new_ip");
  self->new_ip ? json_builder_add_string_value (b, self->new_ip) : json_builder_add_null_value (b);
  json_builder_set_member_name (b, "method");
  self->method ? json_builder_add_string_value (b, self->method) : json_builder_add_null_value (b);
  json_builder_set_member_name (b, "duration_ms");
  json_builder_add_int_value (b, (gint64) self->duration_ms);
  json_builder_set_member_name (b, "attempts");
  json_builder_add_int_value (b, self->attempts);
  json_builder_set_member_name (b, "escalated");
  json_builder_add_boolean_value (b, self->escalated);
  json_builder_set_member_name (b, "finished_at");
  when ? json_builder_add_string_value (b, when) : json_builder_add_null_value (b);
  if (self->error != NULL)
    {
      json_builder_set_member_name (b, "error");
      json_builder_add_string_value (b, self->error->message);
      json_builder_set_member_name (b, "error_code");
      json_builder_add_int_value (b, pk_error_get_hilink_code (self->error));
    }
  json_builder_set_member_name (b, "steps");
  json_builder_begin_array (b);
  for (guint i = 0; i < self->steps->len; i++)
    {
      Step *s = &g_array_index (self->steps, Step, i);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, s->name);
      json_builder_set_member_name (b, "outcome");
      json_builder_add_string_value (b, s->outcome);
      json_builder_set_member_name (b, "detail");
      s->detail ? json_builder_add_string_value (b, s->detail) : json_builder_add_null_value (b);
      json_builder_set_member_name (b, "duration_ms");
      json_builder_add_int_value (b, (gint64) s->duration_ms);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);

  return json_builder_get_root (b);
}

/**
 * pk_toggle_result_get_refused:
 * @self: a [class@ToggleResult]
 *
 * Whether the toggle was refused before it ran (the dongle busy, cooling
 * down, or too many toggles at once): such a result has no steps and
 * [method@ToggleResult.get_error] says why. [class@ToggleService] returns
 * these for the dongles it could not toggle.
 *
 * Returns: %TRUE for a refusal
 *
 * Since: 0.2
 */
gboolean
pk_toggle_result_get_refused (PkToggleResult *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_RESULT (self), FALSE);

  return self->refused;
}

/**
 * pk_toggle_result_get_reason:
 * @self: a [class@ToggleResult]
 *
 * Why the toggle did not succeed, in one word or phrase: for a refusal
 * [func@Toggle.refusal_reason] (`busy`, `cooldown`, `limit`), for a run
 * that failed [func@Toggle.failure_reason] (`IP unchanged`, `modem
 * unreachable`, ...).
 *
 * Returns: (nullable): the reason, %NULL on success
 *
 * Since: 0.2
 */
const char *
pk_toggle_result_get_reason (PkToggleResult *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_RESULT (self), NULL);

  if (self->error == NULL)
    return NULL;
  return self->refused ? pk_toggle_refusal_reason (self->error) : pk_toggle_failure_reason (self->error);
}

/**
 * pk_toggle_refusal_reason:
 * @error: the error of a refused [method@Toggle.run_async]
 *
 * The word for a refusal that the HTTP API and `pk-toggle --json` give in
 * `reason`: `busy` ([error@Error.BUSY]), `cooldown`
 * ([error@Error.COOLDOWN]), `limit` ([error@Error.NOT_ALLOWED]), else
 * `error`.
 *
 * Returns: a static string
 *
 * Since: 0.2
 */
const char *
pk_toggle_refusal_reason (const GError *error)
{
  if (g_error_matches (error, PK_ERROR, PK_ERROR_BUSY))
    return "busy";
  if (g_error_matches (error, PK_ERROR, PK_ERROR_COOLDOWN))
    return "cooldown";
  if (g_error_matches (error, PK_ERROR, PK_ERROR_NOT_ALLOWED))
    return "limit";
  return "error";
}

/**
 * pk_toggle_failure_reason:
 * @error: the error of a toggle that ran and failed
 *
 * Why a toggle that ran failed, in the words an operator searches for:
 * `IP unchanged`, `modem unreachable`, `modem login failed`, `modem
 * busy`, else `modem error`.
 *
 * Returns: a static string
 *
 * Since: 0.2
 */
const char *
pk_toggle_failure_reason (const GError *error)
{
  g_return_val_if_fail (error != NULL, "modem error");

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

/* --- private API for PkToggle --- */

gboolean
pk_toggle_modem_status_to_json (JsonObject   *obj,
                                gboolean      ok,
                                PkModemState  state,
                                const char   *wan_ip,
                                const GError *error)
{
  gboolean busy = !ok && g_error_matches (error, PK_ERROR, PK_ERROR_BUSY);

  /* Busy through every retry: it answered, there, not unreachable. */
  json_object_set_boolean_member (obj, "reachable", ok || busy);
  json_object_set_boolean_member (obj, "connected", ok && state == PK_MODEM_STATE_CONNECTED);
  json_object_set_string_member (obj, "state", ok ? pk_modem_state_to_string (state) : busy ? "busy" : "unreachable");
  if (ok && wan_ip != NULL)
    json_object_set_string_member (obj, "wan_ip", wan_ip);
  else
    json_object_set_null_member (obj, "wan_ip");
  if (!ok)
    json_object_set_string_member (obj, "error", error->message);
  return ok || busy;
}

PkToggleResult *
pk_toggle_result_new_refused (guint         id,
                              const GError *error)
{
  PkToggleResult *self = pk_toggle_result_new (id);

  self->refused = TRUE;
  self->finished_at = g_get_real_time ();
  self->error = g_error_copy (error);
  return self;
}

PkToggleResult *
pk_toggle_result_new (guint id)
{
  PkToggleResult *self = g_object_new (PK_TYPE_TOGGLE_RESULT, NULL);

  self->id = id;
  return self;
}

void
pk_toggle_result_add_step (PkToggleResult *self,
                           const char     *name,
                           const char     *outcome,
                           const char     *detail)
{
  result_add_step (self, name, outcome, detail);
}

void
pk_toggle_result_set_ips (PkToggleResult *self,
                          const char     *old_ip,
                          const char     *new_ip)
{
  if (old_ip != NULL)
    {
      g_free (self->old_ip);
      self->old_ip = g_strdup (old_ip);
    }
  if (new_ip != NULL)
    {
      g_free (self->new_ip);
      self->new_ip = g_strdup (new_ip);
    }
}

void
pk_toggle_result_set_method (PkToggleResult *self,
                             const char     *method,
                             guint           attempts,
                             gboolean        escalated)
{
  g_free (self->method);
  self->method = g_strdup (method);
  self->attempts += attempts;
  self->escalated = self->escalated || escalated;
}

void
pk_toggle_result_finish (PkToggleResult *self,
                         guint64         duration_ms,
                         GError         *error)
{
  self->duration_ms = duration_ms;
  self->finished_at = g_get_real_time ();
  self->success = error == NULL;
  g_clear_error (&self->error);
  self->error = error;
}
