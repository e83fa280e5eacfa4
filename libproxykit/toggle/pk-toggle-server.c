/* pk-toggle-server.c: the HTTP API of pk-toggle --serve
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkToggleServer:
 *
 * Offers the [class@Toggle]s of a host over HTTP (libsoup), the API that
 * farm tooling already calls:
 *
 * - `POST /toggle/N` runs the toggle of dongle N (query or form body:
 *   `method=data|netmode|reboot`, `recovery=1` to ignore the concurrency
 *   limit) and answers its result
 *   as JSON: 200 with a new IP, 502 when the IP stayed or the modem
 *   failed, 409 while dongle N toggles already, 429 with `Retry-After`
 *   while it cools down or too many toggles run, 400 for a bad number,
 *   404 for a dongle that is not configured.
 * - `POST /recover/N` runs it as a recovery: it climbs the whole ladder
 *   (up to a power cycle of the hub, see [class@ToggleRoutingStep]) and
 *   a healthy dongle counts, new IP or not; the same answers as
 *   `/toggle/N`, and its own limit and cooldown
 *   ([method@Toggle.set_max_recoveries],
 *   [method@Toggle.set_recovery_cooldown]) also answer 429.
 * - `GET /status` lists the dongles with their state, WAN IP, whether
 *   they toggle now, their cooldown and their last toggle.
 * - `GET /proxy-info` lists each dongle's SOCKS endpoint (host, port,
 *   egress IP). With a state store ([method@ToggleServer.set_state_store])
 *   it lists exactly the listeners a [class@DongleFarm] runs: the
 *   `dongle-N` nodes that are online and whose process lives.
 * - `GET /metrics` serves counters in the Prometheus text format.
 *
 * Anything else is a 404 with a JSON body; other methods a 405.
 *
 * Changing state takes a POST: `GET /toggle/N` is a 405 unless
 * [method@ToggleServer.set_allow_get] keeps it for older clients. With a
 * token ([method@ToggleServer.set_token]), `/toggle/N` and `/proxy-info`
 * answer 401 unless the request carries `Authorization: Bearer TOKEN`;
 * `/status` and `/metrics` stay open for monitoring. Listening beyond
 * loopback without a token logs a warning.
 *
 * ```c
 * g_autoptr(PkToggleServer) server = pk_toggle_server_new ();
 *
 * pk_toggle_server_add_dongle (server, toggle, "http://192.168.11.1",
 *                              "192.168.11.100", NULL, 10011);
 * if (!pk_toggle_server_listen (server, "0.0.0.0:80", &error))
 *   g_printerr ("%s\n", error->message);
 * ```
 *
 * Since: 0.1
 */

#include "config.h"

#include <string.h>

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "pk-error.h"
#include "pk-http-server-private.h"
#include "pk-netif-private.h"
#include "pk-prom-private.h"
#include "pk-state-store.h"
#include "pk-toggle-private.h"
#include "pk-toggle-server.h"
#include "pk-util-private.h"

/* What a client is told to wait when too many toggles run: about the
 * time one data toggle takes. */
#define LIMIT_RETRY_AFTER_S 5

typedef struct {
  PkToggle *toggle;
  char *api_url;
  char *egress_ip;
  char *socks_host;
  guint16 socks_port;

  guint64 changed;
  guint64 unchanged;
  guint64 failed;
  guint64 refused_busy;
  guint64 refused_cooldown;
  guint64 refused_limit;
  double duration_sum_s;
  guint64 duration_count;
  gint64 last_success;  /* real time, microseconds */
} Dongle;

struct _PkToggleServer
{
  GObject parent_instance;

  SoupServer *server;
  PkHttpListener *listener;
  GHashTable *dongles;  /* id -> Dongle */
  GArray *ids;          /* sorted */
  PkRotationMethod default_method;
  guint16 port;
  char *token;          /* bearer token of /toggle and /proxy-info, or NULL */
  gboolean allow_get;   /* GET /toggle/N changes state, for older clients */
  PkStateStore *store;  /* the farm's listeners, for /proxy-info */
};

G_DEFINE_FINAL_TYPE (PkToggleServer, pk_toggle_server, G_TYPE_OBJECT)

static void
dongle_free (Dongle *d)
{
  g_clear_object (&d->toggle);
  g_free (d->api_url);
  g_free (d->egress_ip);
  g_free (d->socks_host);
  g_free (d);
}

static void
pk_toggle_server_finalize (GObject *object)
{
  PkToggleServer *self = PK_TOGGLE_SERVER (object);

  pk_toggle_server_stop (self);
  g_clear_pointer (&self->token, g_free);
  g_clear_object (&self->store);
  g_hash_table_unref (self->dongles);
  g_array_unref (self->ids);

  G_OBJECT_CLASS (pk_toggle_server_parent_class)->finalize (object);
}

static void
pk_toggle_server_class_init (PkToggleServerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pk_toggle_server_finalize;
}

static void
pk_toggle_server_init (PkToggleServer *self)
{
  self->dongles = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) dongle_free);
  self->ids = g_array_new (FALSE, FALSE, sizeof (guint));
  self->default_method = PK_ROTATION_METHOD_DATA;
}

/**
 * pk_toggle_server_new:
 *
 * Creates a server with no dongles.
 *
 * Returns: (transfer full): a new [class@ToggleServer]
 *
 * Since: 0.1
 */
PkToggleServer *
pk_toggle_server_new (void)
{
  return g_object_new (PK_TYPE_TOGGLE_SERVER, NULL);
}

static int
compare_ids (gconstpointer a,
             gconstpointer b)
{
  guint x = *(const guint *) a, y = *(const guint *) b;

  return x < y ? -1 : x > y;
}

/**
 * pk_toggle_server_add_dongle:
 * @self: a [class@ToggleServer]
 * @toggle: the dongle's toggle; its id is the N of `/toggle/N`
 * @api_url: (nullable): the modem API address, shown in `/status`
 * @egress_ip: (nullable): the host's address on the dongle's subnet
 * @socks_host: (nullable): the host clients reach the dongle's SOCKS
 *   port on, or %NULL for the address the request came in on
 * @socks_port: the dongle's SOCKS port (10000 + N by convention)
 *
 * Adds a dongle, or replaces the one with the same number (keeping its
 * counters).
 *
 * Since: 0.1
 */
void
pk_toggle_server_add_dongle (PkToggleServer *self,
                             PkToggle       *toggle,
                             const char     *api_url,
                             const char     *egress_ip,
                             const char     *socks_host,
                             guint16         socks_port)
{
  Dongle *d;
  guint id;

  g_return_if_fail (PK_IS_TOGGLE_SERVER (self));
  g_return_if_fail (PK_IS_TOGGLE (toggle));

  id = pk_toggle_get_id (toggle);
  d = g_hash_table_lookup (self->dongles, GUINT_TO_POINTER (id));
  if (d == NULL)
    {
      d = g_new0 (Dongle, 1);
      g_hash_table_insert (self->dongles, GUINT_TO_POINTER (id), d);
      g_array_append_val (self->ids, id);
      g_array_sort (self->ids, compare_ids);
    }
  /* A replaced dongle keeps its counters: /metrics counts on. */
  g_set_object (&d->toggle, toggle);
  g_free (d->api_url);
  d->api_url = g_strdup (api_url);
  g_free (d->egress_ip);
  d->egress_ip = g_strdup (egress_ip);
  g_free (d->socks_host);
  d->socks_host = g_strdup (socks_host);
  d->socks_port = socks_port;
}

/**
 * pk_toggle_server_remove_dongle:
 * @self: a [class@ToggleServer]
 * @id: a dongle number
 *
 * Stops serving dongle @id; a toggle of it that runs goes on to its end.
 *
 * Returns: %TRUE if the dongle was served
 *
 * Since: 0.1
 */
gboolean
pk_toggle_server_remove_dongle (PkToggleServer *self,
                                guint           id)
{
  g_return_val_if_fail (PK_IS_TOGGLE_SERVER (self), FALSE);

  if (!g_hash_table_remove (self->dongles, GUINT_TO_POINTER (id)))
    return FALSE;
  for (guint i = 0; i < self->ids->len; i++)
    if (g_array_index (self->ids, guint, i) == id)
      {
        g_array_remove_index (self->ids, i);
        break;
      }
  return TRUE;
}

/**
 * pk_toggle_server_get_toggle:
 * @self: a [class@ToggleServer]
 * @id: a dongle number
 *
 * Gets the toggle of dongle @id, or %NULL.
 *
 * Returns: (transfer none) (nullable): the toggle of dongle @id, or %NULL
 *
 * Since: 0.1
 */
PkToggle *
pk_toggle_server_get_toggle (PkToggleServer *self,
                             guint           id)
{
  Dongle *d;

  g_return_val_if_fail (PK_IS_TOGGLE_SERVER (self), NULL);

  d = g_hash_table_lookup (self->dongles, GUINT_TO_POINTER (id));
  return d != NULL ? d->toggle : NULL;
}

/**
 * pk_toggle_server_set_default_method:
 * @self: a [class@ToggleServer]
 * @method: the method of `/toggle/N` without a `method` query
 *
 * Sets the rotation method used when the request names none.
 *
 * Since: 0.1
 */
void
pk_toggle_server_set_default_method (PkToggleServer   *self,
                                     PkRotationMethod  method)
{
  g_return_if_fail (PK_IS_TOGGLE_SERVER (self));

  self->default_method = method;
}

/**
 * pk_toggle_server_set_token:
 * @self: a [class@ToggleServer]
 * @token: (nullable): the bearer token clients must send, or %NULL for none
 *
 * Requires `Authorization: Bearer @token` on the routes that change state
 * or list the proxies (`/toggle/N`, `/proxy-info`); others answer 401.
 * Without a token, these routes are open to anyone who reaches the
 * server, and [method@ToggleServer.listen] warns when that is beyond
 * loopback.
 *
 * Since: 0.2
 */
void
pk_toggle_server_set_token (PkToggleServer *self,
                            const char     *token)
{
  g_return_if_fail (PK_IS_TOGGLE_SERVER (self));

  g_free (self->token);
  self->token = token != NULL && *token != '\0' ? g_strdup (token) : NULL;
}

/**
 * pk_toggle_server_set_allow_get:
 * @self: a [class@ToggleServer]
 * @allow: whether `GET /toggle/N` toggles
 *
 * A compatibility switch for older clients that toggle with a GET. By
 * default only `POST /toggle/N` toggles, so that a crawler, a prefetch or
 * a cross-site image cannot; a GET answers 405.
 *
 * Since: 0.2
 */
void
pk_toggle_server_set_allow_get (PkToggleServer *self,
                                gboolean        allow)
{
  g_return_if_fail (PK_IS_TOGGLE_SERVER (self));

  self->allow_get = allow;
}

/* --- answers --- */

static void
reply_json (SoupServerMessage *msg,
            guint              status,
            JsonNode          *node)
{
  g_autofree char *text = json_to_string (node, TRUE);
  gsize len = strlen (text);

  /* libsoup 3.0 has no name for 429. */
  soup_server_message_set_status (msg, status, status == 429 ? "Too Many Requests" : NULL);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Cache-Control", "no-store");
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE,
                                    g_steal_pointer (&text), len);
  soup_message_body_append (soup_server_message_get_response_body (msg), SOUP_MEMORY_STATIC, "\n", 1);
}

static void
reply_error (SoupServerMessage *msg,
             guint              status,
             int                dongle,
             const char        *reason,
             const char        *message)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (b);
  if (dongle >= 0)
    {
      json_builder_set_member_name (b, "dongle");
      json_builder_add_int_value (b, dongle);
    }
  json_builder_set_member_name (b, "error");
  json_builder_add_string_value (b, message);
  if (reason != NULL)
    {
      json_builder_set_member_name (b, "reason");
      json_builder_add_string_value (b, reason);
    }
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  reply_json (msg, status, root);
}

/* --- /toggle/N --- */

typedef struct {
  PkToggleServer *self;
  SoupServerMessage *msg;
  guint id;
} ToggleRequest;

static void
on_toggled (GObject      *source,
            GAsyncResult *res,
            gpointer      user_data)
{
  ToggleRequest *req = user_data;
  Dongle *d = g_hash_table_lookup (req->self->dongles, GUINT_TO_POINTER (req->id));
  PkToggle *toggle = PK_TOGGLE (source);
  g_autoptr(GError) error = NULL;
  g_autoptr(PkToggleResult) result = pk_toggle_run_finish (toggle, res, &error);

  if (result != NULL)
    {
      g_autoptr(JsonNode) node = pk_toggle_result_to_json_node (result);
      const GError *reason = pk_toggle_result_get_error (result);

      if (reason != NULL)
        g_info ("dongle %u: toggle failed after %" G_GUINT64_FORMAT " ms: %s", req->id,
                pk_toggle_result_get_duration_ms (result), reason->message);
      else
        g_info ("dongle %u: %s -> %s by %s in %" G_GUINT64_FORMAT " ms", req->id,
                pk_toggle_result_get_old_ip (result) ? pk_toggle_result_get_old_ip (result) : "(none)",
                pk_toggle_result_get_new_ip (result), pk_toggle_result_get_method (result),
                pk_toggle_result_get_duration_ms (result));
      if (d != NULL)
        {
          d->duration_sum_s += pk_toggle_result_get_duration_ms (result) / 1000.0;
          d->duration_count++;
          if (pk_toggle_result_get_success (result))
            {
              d->changed++;
              d->last_success = pk_toggle_result_get_finished_at (result);
            }
          else if (g_error_matches (reason, PK_ERROR, PK_ERROR_UNCHANGED))
            d->unchanged++;
          else
            d->failed++;
        }
      reply_json (req->msg, pk_toggle_result_get_success (result) ? SOUP_STATUS_OK : SOUP_STATUS_BAD_GATEWAY,
                  node);
    }
  else if (g_error_matches (error, PK_ERROR, PK_ERROR_BUSY))
    {
      g_debug ("dongle %u: %s", req->id, error->message);
      if (d != NULL)
        d->refused_busy++;
      reply_error (req->msg, SOUP_STATUS_CONFLICT, req->id, pk_toggle_refusal_reason (error), error->message);
    }
  else if (g_error_matches (error, PK_ERROR, PK_ERROR_COOLDOWN) ||
           g_error_matches (error, PK_ERROR, PK_ERROR_NOT_ALLOWED))
    {
      gboolean cooldown = error->code == PK_ERROR_COOLDOWN;
      guint retry_s = cooldown ? (pk_toggle_get_cooldown_remaining (toggle) + 999) / 1000
                               : LIMIT_RETRY_AFTER_S;
      g_autofree char *retry = g_strdup_printf ("%u", MAX (retry_s, 1));

      if (d != NULL)
        {
          if (cooldown)
            d->refused_cooldown++;
          else
            d->refused_limit++;
        }
      soup_message_headers_replace (soup_server_message_get_response_headers (req->msg),
                                    "Retry-After", retry);
      reply_error (req->msg, 429 /* Too Many Requests */, req->id,
                   pk_toggle_refusal_reason (error), error->message);
    }
  else
    reply_error (req->msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, req->id, pk_toggle_refusal_reason (error),
                 error->message);

  soup_server_message_unpause (req->msg);
  g_object_unref (req->msg);
  g_object_unref (req->self);
  g_free (req);
}

/* "11" -> 11; subnet numbers are 0..255, written without sign or
 * leading junk. */
static gboolean
parse_dongle_number (const char *str,
                     guint      *out)
{
  guint64 value;

  if (str == NULL || *str == '\0' || strlen (str) > 3)
    return FALSE;
  for (const char *p = str; *p != '\0'; p++)
    if (!g_ascii_isdigit (*p))
      return FALSE;
  value = g_ascii_strtoull (str, NULL, 10);
  if (value > 255)
    return FALSE;
  *out = (guint) value;
  return TRUE;
}

static void
handle_toggle (PkToggleServer    *self,
               SoupServerMessage *msg,
               const char        *number,
               GHashTable        *query,
               gboolean           recover)
{
  PkRotationMethod method = self->default_method;
  gboolean recovery = recover;
  ToggleRequest *req;
  Dongle *d;
  guint id;

  if (!parse_dongle_number (number, &id))
    {
      g_autofree char *m = g_strdup_printf ("'%s' is not a dongle number (0-255)", number);
      reply_error (msg, SOUP_STATUS_BAD_REQUEST, -1, "bad-request", m);
      return;
    }
  d = g_hash_table_lookup (self->dongles, GUINT_TO_POINTER (id));
  if (d == NULL)
    {
      g_autofree char *m = g_strdup_printf ("dongle %u is not configured", id);
      reply_error (msg, SOUP_STATUS_NOT_FOUND, id, "unknown-dongle", m);
      return;
    }
  if (query != NULL)
    {
      const char *m = g_hash_table_lookup (query, "method");
      const char *r = g_hash_table_lookup (query, "recovery");

      if (m != NULL && !pk_rotation_method_from_string (m, &method))
        {
          g_autofree char *text = g_strdup_printf ("method '%s': expected data, netmode or reboot", m);
          reply_error (msg, SOUP_STATUS_BAD_REQUEST, id, "bad-request", text);
          return;
        }
      recovery = recover || (r != NULL && (g_str_equal (r, "1") || g_str_equal (r, "true") || g_str_equal (r, "yes")));
    }

  req = g_new0 (ToggleRequest, 1);
  req->self = g_object_ref (self);
  req->msg = g_object_ref (msg);
  req->id = id;
  soup_server_message_pause (msg);
  pk_toggle_run_async (d->toggle, method, recovery, NULL, on_toggled, req);
}

/* --- /status --- */

typedef struct {
  PkToggleServer *self;
  SoupServerMessage *msg;
  guint pending;
  GHashTable *states;   /* id -> JsonNode of the modem part */
} StatusRequest;

typedef struct {
  StatusRequest *req;
  guint id;
} StatusPart;

static void
status_reply (StatusRequest *req)
{
  PkToggleServer *self = req->self;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  guint running = 0, max = 0;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "dongles");
  json_builder_begin_array (b);
  for (guint i = 0; i < self->ids->len; i++)
    {
      guint id = g_array_index (self->ids, guint, i);
      Dongle *d = g_hash_table_lookup (self->dongles, GUINT_TO_POINTER (id));
      JsonObject *state = g_hash_table_lookup (req->states, GUINT_TO_POINTER (id));
      PkToggleResult *last;
      PkToggleLimiter *limiter;
      GList *members;

      if (d == NULL)
        continue;
      limiter = pk_toggle_get_limiter (d->toggle);
      running = pk_toggle_limiter_get_running (limiter);
      max = pk_toggle_limiter_get_max (limiter);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "dongle");
      json_builder_add_int_value (b, id);
      json_builder_set_member_name (b, "api");
      d->api_url ? json_builder_add_string_value (b, d->api_url) : json_builder_add_null_value (b);
      json_builder_set_member_name (b, "egress_ip");
      d->egress_ip ? json_builder_add_string_value (b, d->egress_ip) : json_builder_add_null_value (b);
      members = state != NULL ? json_object_get_members (state) : NULL;
      for (GList *l = members; l != NULL; l = l->next)
        {
          json_builder_set_member_name (b, l->data);
          json_builder_add_value (b, json_node_copy (json_object_get_member (state, l->data)));
        }
      g_list_free (members);
      json_builder_set_member_name (b, "toggling");
      json_builder_add_boolean_value (b, pk_toggle_is_running (d->toggle));
      json_builder_set_member_name (b, "cooldown_remaining_ms");
      json_builder_add_int_value (b, pk_toggle_get_cooldown_remaining (d->toggle));
      json_builder_set_member_name (b, "last_toggle");
      last = pk_toggle_get_last_result (d->toggle);
      if (last != NULL)
        json_builder_add_value (b, pk_toggle_result_to_json_node (last));
      else
        json_builder_add_null_value (b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "toggles_running");
  json_builder_add_int_value (b, running);
  json_builder_set_member_name (b, "max_concurrent");
  json_builder_add_int_value (b, max);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  reply_json (req->msg, SOUP_STATUS_OK, root);
  soup_server_message_unpause (req->msg);

  g_hash_table_unref (req->states);
  g_object_unref (req->msg);
  g_object_unref (req->self);
  g_free (req);
}

static void
on_status (GObject      *source,
           GAsyncResult *res,
           gpointer      user_data)
{
  StatusPart *part = user_data;
  StatusRequest *req = part->req;
  g_autoptr(GError) error = NULL;
  g_autofree char *wan_ip = NULL;
  PkModemState state = PK_MODEM_STATE_UNKNOWN;
  JsonObject *obj = json_object_new ();
  gboolean ok = pk_modem_get_status_finish (PK_MODEM (source), res, &state, &wan_ip, &error);

  pk_toggle_modem_status_to_json (obj, ok, state, wan_ip, error);
  g_hash_table_insert (req->states, GUINT_TO_POINTER (part->id), obj);
  g_free (part);

  if (--req->pending == 0)
    status_reply (req);
}

static void
handle_status (PkToggleServer    *self,
               SoupServerMessage *msg)
{
  StatusRequest *req = g_new0 (StatusRequest, 1);

  req->self = g_object_ref (self);
  req->msg = g_object_ref (msg);
  req->states = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) json_object_unref);
  soup_server_message_pause (msg);

  /* Every modem is asked at once; each call has its own timeout. */
  req->pending = 1;
  for (guint i = 0; i < self->ids->len; i++)
    {
      guint id = g_array_index (self->ids, guint, i);
      Dongle *d = g_hash_table_lookup (self->dongles, GUINT_TO_POINTER (id));
      StatusPart *part = g_new0 (StatusPart, 1);

      part->req = req;
      part->id = id;
      req->pending++;
      pk_modem_get_status_async (pk_toggle_get_modem (d->toggle), NULL, on_status, part);
    }
  if (--req->pending == 0)
    status_reply (req);
}

/* --- /proxy-info --- */

/**
 * pk_toggle_server_set_state_store:
 * @self: a [class@ToggleServer]
 * @store: (nullable): the state store a [class@DongleFarm] records its
 *   listeners in, or %NULL
 *
 * With a store, `/proxy-info` lists exactly the dongle listeners that run
 * now (nodes `dongle-N` online, with a live process), with the port each
 * really listens on, instead of each configured dongle's port.
 *
 * Since: 0.2
 */
void
pk_toggle_server_set_state_store (PkToggleServer *self,
                                  PkStateStore   *store)
{
  g_return_if_fail (PK_IS_TOGGLE_SERVER (self));
  g_set_object (&self->store, store);
}

typedef struct {
  guint id;
  char *egress_ip;
  guint16 port;
} Listener;

static void
listener_free (Listener *l)
{
  g_free (l->egress_ip);
  g_free (l);
}

/* The dongle listeners recorded in the store that run now. */
static GPtrArray *
live_listeners (PkToggleServer *self)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) listener_free);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) names = pk_state_store_list (self->store, &error);

  if (names == NULL)
    {
      g_warning ("/proxy-info: %s", error->message);
      return out;
    }
  for (guint i = 0; names[i] != NULL; i++)
    {
      g_autoptr(PkNodeState) node = NULL;
      const char *listen, *colon;
      guint64 port;
      Listener *l;

      if (!g_str_has_prefix (names[i], "dongle-"))
        continue;
      node = pk_state_store_load (self->store, names[i], NULL);
      if (node == NULL || pk_node_state_get_dongle_id (node) == 0 ||
          pk_node_state_get_status (node) != PK_NODE_STATUS_ONLINE ||
          (listen = pk_node_state_get_socks_listen (node)) == NULL ||
          (colon = strrchr (listen, ':')) == NULL ||
          !g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &port, NULL) ||
          !pk_process_is_alive (pk_node_state_get_socks_pid (node), NULL))
        continue;
      l = g_new0 (Listener, 1);
      l->id = pk_node_state_get_dongle_id (node);
      l->egress_ip = g_strdup (pk_node_state_get_dongle_address (node));
      l->port = (guint16) port;
      g_ptr_array_add (out, l);
    }
  return out;
}

static int
compare_listeners (gconstpointer a,
                   gconstpointer b)
{
  const Listener *x = *(Listener * const *) a, *y = *(Listener * const *) b;

  return x->id < y->id ? -1 : x->id > y->id;
}

static void
add_proxy (JsonBuilder *b,
           guint        id,
           const char  *host,
           guint16      port,
           const char  *egress_ip)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "dongle");
  json_builder_add_int_value (b, id);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "socks5");
  json_builder_set_member_name (b, "host");
  host ? json_builder_add_string_value (b, host) : json_builder_add_null_value (b);
  json_builder_set_member_name (b, "port");
  json_builder_add_int_value (b, port);
  json_builder_set_member_name (b, "egress_ip");
  egress_ip ? json_builder_add_string_value (b, egress_ip) : json_builder_add_null_value (b);
  json_builder_end_object (b);
}

static void
handle_proxy_info (PkToggleServer    *self,
                   SoupServerMessage *msg)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *local_host = NULL;
  GSocketAddress *local = soup_server_message_get_local_address (msg);

  if (G_IS_INET_SOCKET_ADDRESS (local))
    {
      g_autoptr(GInetAddress) unmapped =
        pk_inet_address_unmap (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (local)));
      local_host = g_inet_address_to_string (unmapped);
    }

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "proxies");
  json_builder_begin_array (b);
  if (self->store != NULL)
    {
      g_autoptr(GPtrArray) live = live_listeners (self);

      g_ptr_array_sort (live, compare_listeners);
      for (guint i = 0; i < live->len; i++)
        {
          Listener *l = g_ptr_array_index (live, i);
          Dongle *d = g_hash_table_lookup (self->dongles, GUINT_TO_POINTER (l->id));
          const char *host = d != NULL && d->socks_host != NULL ? d->socks_host : local_host;

          add_proxy (b, l->id, host, l->port, l->egress_ip);
        }
    }
  else
    for (guint i = 0; i < self->ids->len; i++)
      {
        guint id = g_array_index (self->ids, guint, i);
        Dongle *d = g_hash_table_lookup (self->dongles, GUINT_TO_POINTER (id));

        add_proxy (b, id, d->socks_host != NULL ? d->socks_host : local_host, d->socks_port, d->egress_ip);
      }
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  reply_json (msg, SOUP_STATUS_OK, root);
}

/* --- /metrics --- */

/* The dongle at @index of the sorted ids, with its number as a label. */
static Dongle *
nth_dongle (PkToggleServer *self,
            guint           index,
            char            label[16])
{
  guint id = g_array_index (self->ids, guint, index);

  g_snprintf (label, 16, "%u", id);
  return g_hash_table_lookup (self->dongles, GUINT_TO_POINTER (id));
}

static void
handle_metrics (PkToggleServer    *self,
                SoupServerMessage *msg)
{
  g_autoptr(PkPromWriter) w = pk_prom_writer_new ();
  g_autoptr(GBytes) body = NULL;
  guint running = 0, max = 0;
  char id[16];
  guint n = self->ids->len;

  pk_prom_writer_family (w, "proxykit_toggle_total", PK_PROM_COUNTER,
                         "Toggles run, by dongle and result (changed, unchanged, failed).");
  for (guint i = 0; i < n; i++)
    {
      Dongle *d = nth_dongle (self, i, id);
      pk_prom_writer_sample_uint (w, "proxykit_toggle_total", d->changed, "dongle", id, "result", "changed", NULL);
      pk_prom_writer_sample_uint (w, "proxykit_toggle_total", d->unchanged, "dongle", id, "result", "unchanged", NULL);
      pk_prom_writer_sample_uint (w, "proxykit_toggle_total", d->failed, "dongle", id, "result", "failed", NULL);
    }

  pk_prom_writer_family (w, "proxykit_toggle_refused_total", PK_PROM_COUNTER,
                         "Toggle requests refused, by dongle and reason (busy, cooldown, limit).");
  for (guint i = 0; i < n; i++)
    {
      Dongle *d = nth_dongle (self, i, id);
      pk_prom_writer_sample_uint (w, "proxykit_toggle_refused_total", d->refused_busy, "dongle", id, "reason", "busy", NULL);
      pk_prom_writer_sample_uint (w, "proxykit_toggle_refused_total", d->refused_cooldown, "dongle", id, "reason", "cooldown", NULL);
      pk_prom_writer_sample_uint (w, "proxykit_toggle_refused_total", d->refused_limit, "dongle", id, "reason", "limit", NULL);
    }

  pk_prom_writer_family (w, "proxykit_toggle_duration_seconds", PK_PROM_SUMMARY,
                         "How long toggles took.");
  for (guint i = 0; i < n; i++)
    {
      Dongle *d = nth_dongle (self, i, id);
      pk_prom_writer_sample (w, "proxykit_toggle_duration_seconds_sum", d->duration_sum_s, "dongle", id, NULL);
      pk_prom_writer_sample_uint (w, "proxykit_toggle_duration_seconds_count", d->duration_count, "dongle", id, NULL);
    }

  pk_prom_writer_family (w, "proxykit_toggle_last_success_timestamp_seconds", PK_PROM_GAUGE,
                         "When a dongle last got a new IP (Unix time), 0 if never.");
  for (guint i = 0; i < n; i++)
    {
      Dongle *d = nth_dongle (self, i, id);
      pk_prom_writer_sample (w, "proxykit_toggle_last_success_timestamp_seconds",
                             d->last_success / (double) G_USEC_PER_SEC, "dongle", id, NULL);
    }

  pk_prom_writer_family (w, "proxykit_toggle_cooldown_remaining_seconds", PK_PROM_GAUGE,
                         "Time until a dongle may toggle again.");
  for (guint i = 0; i < n; i++)
    {
      Dongle *d = nth_dongle (self, i, id);
      PkToggleLimiter *limiter = pk_toggle_get_limiter (d->toggle);

      pk_prom_writer_sample (w, "proxykit_toggle_cooldown_remaining_seconds",
                             pk_toggle_get_cooldown_remaining (d->toggle) / 1000.0, "dongle", id, NULL);
      running = pk_toggle_limiter_get_running (limiter);
      max = pk_toggle_limiter_get_max (limiter);
    }

  pk_prom_writer_family (w, "proxykit_toggle_running", PK_PROM_GAUGE, "Toggles running now.");
  pk_prom_writer_sample_uint (w, "proxykit_toggle_running", running, NULL);
  pk_prom_writer_family (w, "proxykit_toggle_max_concurrent", PK_PROM_GAUGE,
                         "How many toggles may run at once (0: no limit).");
  pk_prom_writer_sample_uint (w, "proxykit_toggle_max_concurrent", max, NULL);

  body = pk_prom_writer_free_to_bytes (g_steal_pointer (&w));
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, PK_PROM_CONTENT_TYPE, SOUP_MEMORY_COPY,
                                    g_bytes_get_data (body, NULL), g_bytes_get_size (body));
}

/* Compares in time that does not depend on where they differ. */
static gboolean
token_equal (const char *a,
             const char *b)
{
  gsize la = strlen (a), lb = strlen (b);
  guchar diff = la != lb;

  for (gsize i = 0; i < la; i++)
    diff |= (guchar) a[i] ^ (guchar) b[i % (lb ? lb : 1)];
  return diff == 0;
}

static gboolean
authorized (PkToggleServer    *self,
            SoupServerMessage *msg)
{
  const char *auth;

  if (self->token == NULL)
    return TRUE;
  auth = soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "Authorization");
  if (auth != NULL && g_ascii_strncasecmp (auth, "Bearer ", 7) == 0)
    {
      auth += 7;
      while (*auth == ' ')
        auth++;
      if (token_equal (auth, self->token))
        return TRUE;
    }
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "WWW-Authenticate", "Bearer realm=\"pk-toggle\"");
  reply_error (msg, SOUP_STATUS_UNAUTHORIZED, -1, "unauthorized",
               auth == NULL ? "this route needs Authorization: Bearer TOKEN" : "wrong token");
  return FALSE;
}

static void
method_not_allowed (SoupServerMessage *msg,
                    const char        *allow,
                    const char        *text)
{
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", allow);
  reply_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, -1, "bad-method", text);
}

static void
server_cb (SoupServer        *server,
           SoupServerMessage *msg,
           const char        *path,
           GHashTable        *query,
           gpointer           user_data)
{
  PkToggleServer *self = user_data;
  const char *method = soup_server_message_get_method (msg);
  gboolean get = g_str_equal (method, "GET") || g_str_equal (method, "HEAD");

  if (g_str_has_prefix (path, "/toggle/") || g_str_has_prefix (path, "/recover/"))
    {
      gboolean recover = g_str_has_prefix (path, "/recover/");
      g_autoptr(GHashTable) form = NULL;

      if (!g_str_equal (method, "POST") && !(get && self->allow_get))
        {
          method_not_allowed (msg, self->allow_get ? "POST, GET" : "POST",
                              "a toggle takes a POST (GET only with pk-toggle --allow-get)");
          return;
        }
      if (!authorized (self, msg))
        return;
      /* Parameters may come in the query or as a form body. */
      if (g_str_equal (method, "POST"))
        {
          const char *type = soup_message_headers_get_content_type (soup_server_message_get_request_headers (msg), NULL);
          SoupMessageBody *body = soup_server_message_get_request_body (msg);

          if (g_strcmp0 (type, "application/x-www-form-urlencoded") == 0 && body->length > 0)
            {
              g_autoptr(GBytes) bytes = soup_message_body_flatten (body);
              g_autofree char *text = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));

              form = soup_form_decode (text);
              if (query != NULL)
                {
                  GHashTableIter it;
                  gpointer k, v;

                  g_hash_table_iter_init (&it, query);
                  while (g_hash_table_iter_next (&it, &k, &v))
                    if (!g_hash_table_contains (form, k))
                      g_hash_table_insert (form, g_strdup (k), g_strdup (v));
                }
              query = form;
            }
        }
      handle_toggle (self, msg, path + (recover ? strlen ("/recover/") : strlen ("/toggle/")), query, recover);
      return;
    }

  if (!get)
    {
      method_not_allowed (msg, "GET, HEAD", "only GET is served here");
      return;
    }
  if (g_str_equal (path, "/status"))
    handle_status (self, msg);
  else if (g_str_equal (path, "/proxy-info"))
    {
      if (authorized (self, msg))
        handle_proxy_info (self, msg);
    }
  else if (g_str_equal (path, "/metrics"))
    handle_metrics (self, msg);
  else
    {
      g_autofree char *m = g_strdup_printf ("no such path: %s (try /toggle/N, /recover/N, /status, /proxy-info, /metrics)",
                                            path);
      reply_error (msg, SOUP_STATUS_NOT_FOUND, -1, "not-found", m);
    }
}

static gboolean
listen_address_is_loopback (const char *address)
{
  g_autoptr(GSocketAddress) sa = pk_parse_listen_address (address, 0, NULL);

  return sa != NULL && pk_socket_address_is_loopback (sa);
}

/**
 * pk_toggle_server_listen:
 * @self: a [class@ToggleServer]
 * @address: `ADDRESS:PORT` to listen on, e.g. `0.0.0.0:80` or
 *   `127.0.0.1:0` (0 picks a free port, see [method@ToggleServer.get_port])
 * @error: return location for a `GError`
 *
 * Starts serving on the thread-default main context.
 *
 * Returns: %TRUE, or %FALSE with @error set when @address is malformed
 *   (%PK_ERROR_INVALID_ARGUMENT) or cannot be listened on (GIO's error)
 *
 * Since: 0.1
 */
gboolean
pk_toggle_server_listen (PkToggleServer  *self,
                         const char      *address,
                         GError         **error)
{
  g_return_val_if_fail (PK_IS_TOGGLE_SERVER (self), FALSE);
  g_return_val_if_fail (address != NULL, FALSE);
  g_return_val_if_fail (self->server == NULL, FALSE);

  self->server = pk_http_server_listen (address, "pk-toggle/" PACKAGE_VERSION " ", server_cb, self,
                                        &self->listener, &self->port, error);
  if (self->server == NULL)
    return FALSE;
  if (self->token == NULL && !listen_address_is_loopback (address))
    g_warning ("the toggle API on %s has no token: anyone who reaches it can toggle dongles "
               "and list the proxies (set a token file, or listen on 127.0.0.1)", address);
  return TRUE;
}

/**
 * pk_toggle_server_get_port:
 * @self: a [class@ToggleServer]
 *
 * Gets the port listened on, 0 before [method@ToggleServer.listen].
 *
 * Returns: the port listened on, 0 before [method@ToggleServer.listen]
 *
 * Since: 0.1
 */
guint16
pk_toggle_server_get_port (PkToggleServer *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_SERVER (self), 0);

  return self->port;
}

/**
 * pk_toggle_server_stop:
 * @self: a [class@ToggleServer]
 *
 * Stops listening. Toggles that run go on to their end.
 *
 * Since: 0.1
 */
void
pk_toggle_server_stop (PkToggleServer *self)
{
  g_return_if_fail (PK_IS_TOGGLE_SERVER (self));

  pk_http_server_stop (&self->server, &self->listener);
}
