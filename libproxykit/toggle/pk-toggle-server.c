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
 * - `GET /toggle/N` runs the toggle of dongle N (query: `method=data|netmode|reboot`,
 *   `recovery=1` to ignore the concurrency limit) and answers its result
 *   as JSON: 200 with a new IP, 502 when the IP stayed or the modem
 *   failed, 409 while dongle N toggles already, 429 with `Retry-After`
 *   while it cools down or too many toggles run, 400 for a bad number,
 *   404 for a dongle that is not configured.
 * - `GET /status` lists the dongles with their state, WAN IP, whether
 *   they toggle now, their cooldown and their last toggle.
 * - `GET /proxy-info` lists each dongle's SOCKS endpoint (host, port,
 *   egress IP).
 * - `GET /metrics` serves counters in the Prometheus text format.
 *
 * Anything else is a 404 with a JSON body; methods other than GET a 405.
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
#include "pk-prom-private.h"
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
  GHashTable *dongles;  /* id -> Dongle */
  GArray *ids;          /* sorted */
  PkRotationMethod default_method;
  guint16 port;
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
      reply_error (req->msg, SOUP_STATUS_CONFLICT, req->id, "busy", error->message);
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
                   cooldown ? "cooldown" : "limit", error->message);
    }
  else
    reply_error (req->msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, req->id, "error", error->message);

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
               GHashTable        *query)
{
  PkRotationMethod method = self->default_method;
  gboolean recovery = FALSE;
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
      recovery = r != NULL && (g_str_equal (r, "1") || g_str_equal (r, "true") || g_str_equal (r, "yes"));
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

  if (pk_modem_get_status_finish (PK_MODEM (source), res, &state, &wan_ip, &error))
    {
      json_object_set_boolean_member (obj, "reachable", TRUE);
      json_object_set_boolean_member (obj, "connected", state == PK_MODEM_STATE_CONNECTED);
      json_object_set_string_member (obj, "state", pk_modem_state_to_string (state));
      if (wan_ip != NULL)
        json_object_set_string_member (obj, "wan_ip", wan_ip);
      else
        json_object_set_null_member (obj, "wan_ip");
    }
  else
    {
      json_object_set_boolean_member (obj, "reachable", FALSE);
      json_object_set_boolean_member (obj, "connected", FALSE);
      json_object_set_string_member (obj, "state", "unreachable");
      json_object_set_null_member (obj, "wan_ip");
      json_object_set_string_member (obj, "error", error->message);
    }
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
  for (guint i = 0; i < self->ids->len; i++)
    {
      guint id = g_array_index (self->ids, guint, i);
      Dongle *d = g_hash_table_lookup (self->dongles, GUINT_TO_POINTER (id));
      const char *host = d->socks_host != NULL ? d->socks_host : local_host;

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "dongle");
      json_builder_add_int_value (b, id);
      json_builder_set_member_name (b, "type");
      json_builder_add_string_value (b, "socks5");
      json_builder_set_member_name (b, "host");
      host ? json_builder_add_string_value (b, host) : json_builder_add_null_value (b);
      json_builder_set_member_name (b, "port");
      json_builder_add_int_value (b, d->socks_port);
      json_builder_set_member_name (b, "egress_ip");
      d->egress_ip ? json_builder_add_string_value (b, d->egress_ip) : json_builder_add_null_value (b);
      json_builder_end_object (b);
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

static void
server_cb (SoupServer        *server,
           SoupServerMessage *msg,
           const char        *path,
           GHashTable        *query,
           gpointer           user_data)
{
  PkToggleServer *self = user_data;
  const char *method = soup_server_message_get_method (msg);

  if (!g_str_equal (method, "GET") && !g_str_equal (method, "HEAD"))
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", "GET, HEAD");
      reply_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, -1, "bad-method", "only GET is served");
      return;
    }

  if (g_str_has_prefix (path, "/toggle/"))
    handle_toggle (self, msg, path + strlen ("/toggle/"), query);
  else if (g_str_equal (path, "/status"))
    handle_status (self, msg);
  else if (g_str_equal (path, "/proxy-info"))
    handle_proxy_info (self, msg);
  else if (g_str_equal (path, "/metrics"))
    handle_metrics (self, msg);
  else
    {
      g_autofree char *m = g_strdup_printf ("no such path: %s (try /toggle/N, /status, /proxy-info, /metrics)",
                                            path);
      reply_error (msg, SOUP_STATUS_NOT_FOUND, -1, "not-found", m);
    }
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

  self->server = pk_http_server_listen (address, "pk-toggle/" PACKAGE_VERSION " ", server_cb, self, &self->port, error);
  return self->server != NULL;
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

  if (self->server != NULL)
    {
      soup_server_disconnect (self->server);
      g_clear_object (&self->server);
    }
}
