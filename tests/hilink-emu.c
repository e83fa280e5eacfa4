/* hilink-emu.c: an emulated Huawei E8372h (HiLink web API) on loopback
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include <libsoup/soup.h>

#include <proxykit/proxykit.h>

#include "hilink-emu.h"
#include "pk-test-utils.h"
#include "pk-hilink-xml-private.h"

#define MAX_SESSION_TOKENS 16

/* "[METHOD:]PATH[@NTH[xCOUNT]]": requests @nth to @nth + @count - 1
 * that match answer 100004. */
typedef struct {
  char *method;         /* NULL for any */
  char *path;
  guint nth;
  guint count;
  guint seen;
} BusyRule;

typedef struct {
  GHashTable *tokens;   /* set of valid tokens */
  gboolean logged_in;
} Session;

struct _HilinkEmu
{
  SoupServer *server;
  guint16 port;
  char *address;
  guint id;

  /* device state */
  int status;            /* 900..903 */
  char *wan_ip;
  guint ip_counter;
  gboolean data_on;
  char *net_mode;
  char *network_band;
  char *lte_band;
  gboolean rebooting;
  GSource *pending;      /* reconnect or reboot timer */
  gint64 connected_at;

  /* login */
  char *username;
  char *password;
  int password_type;

  /* knobs */
  guint reconnect_ms;
  guint reboot_ms;
  char **sticky;
  guint busy;
  guint slow_ms;
  guint drop;
  guint garbage;
  guint http_errors;     /* the next N answers are HTTP http_status */
  guint http_status;
  gboolean refuse_netmode;
  GPtrArray *busy_rules; /* BusyRule */

  GHashTable *sessions;  /* id -> Session */
  guint session_counter;
  guint token_counter;

  GHashTable *counters;
  char *last_peer;
  char *last_body;
};

static void
busy_rule_free (gpointer data)
{
  BusyRule *rule = data;

  g_free (rule->method);
  g_free (rule->path);
  g_free (rule);
}

/* Whether a busy rule picks this request (and counts it). */
static gboolean
busy_rule_hit (HilinkEmu  *emu,
               const char *method,
               const char *path)
{
  gboolean hit = FALSE;

  for (guint i = 0; i < emu->busy_rules->len; i++)
    {
      BusyRule *rule = g_ptr_array_index (emu->busy_rules, i);

      if (!g_str_equal (rule->path, path) ||
          (rule->method != NULL && g_ascii_strcasecmp (rule->method, method) != 0))
        continue;
      rule->seen++;
      if (rule->seen >= rule->nth && rule->seen - rule->nth < rule->count)
        hit = TRUE;
    }
  return hit;
}

static void
session_free (Session *s)
{
  g_hash_table_unref (s->tokens);
  g_free (s);
}

static void
count (HilinkEmu  *emu,
       const char *what)
{
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (emu->counters, what));
  g_hash_table_replace (emu->counters, g_strdup (what), GUINT_TO_POINTER (n + 1));
}

guint
hilink_emu_count (HilinkEmu  *emu,
                  const char *what)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (emu->counters, what));
}

static char *
new_token (HilinkEmu *emu)
{
  return g_strdup_printf ("tok%u%08x%08x", emu->id, ++emu->token_counter, g_random_int ());
}

static char *
new_session (HilinkEmu *emu)
{
  Session *s = g_new0 (Session, 1);
  char *id = g_strdup_printf ("sess%u-%u-%08x", emu->id, ++emu->session_counter, g_random_int ());

  s->tokens = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_hash_table_insert (emu->sessions, g_strdup (id), s);
  return id;
}

static char *
session_add_token (HilinkEmu *emu,
                   Session   *s)
{
  char *tok = new_token (emu);

  if (g_hash_table_size (s->tokens) >= MAX_SESSION_TOKENS)
    g_hash_table_remove_all (s->tokens);
  g_hash_table_add (s->tokens, g_strdup (tok));
  return tok;
}

static void
next_wan_ip (HilinkEmu *emu)
{
  emu->ip_counter = emu->ip_counter % 250 + 1;
  g_free (emu->wan_ip);
  emu->wan_ip = g_strdup_printf ("100.64.%u.%u", emu->id % 256, emu->ip_counter + 1);
}

static gboolean
is_sticky (HilinkEmu  *emu,
           const char *method)
{
  return emu->sticky != NULL && g_strv_contains ((const char * const *) emu->sticky, method);
}

static void
cancel_pending (HilinkEmu *emu)
{
  if (emu->pending != NULL)
    {
      g_source_destroy (emu->pending);
      g_clear_pointer (&emu->pending, g_source_unref);
    }
}

typedef struct {
  HilinkEmu *emu;
  char *method;
} Pending;

static void
pending_free (gpointer data)
{
  Pending *p = data;
  g_free (p->method);
  g_free (p);
}

static gboolean
reconnected_cb (gpointer user_data)
{
  Pending *p = user_data;
  HilinkEmu *emu = p->emu;

  if (!is_sticky (emu, p->method))
    next_wan_ip (emu);
  emu->status = 901;
  emu->connected_at = g_get_monotonic_time ();
  g_clear_pointer (&emu->pending, g_source_unref);
  return G_SOURCE_REMOVE;
}

/* The device drops its data connection and comes back after the
 * reconnect delay, with a new address unless @method is sticky. wan_ip
 * keeps the last address; the status shows it only while connected. */
static void
start_reconnect (HilinkEmu  *emu,
                 const char *method)
{
  Pending *p = g_new0 (Pending, 1);

  p->emu = emu;
  p->method = g_strdup (method);
  cancel_pending (emu);
  emu->status = 900;
  emu->pending = g_timeout_source_new (emu->reconnect_ms);
  g_source_set_callback (emu->pending, reconnected_cb, p, pending_free);
  g_source_attach (emu->pending, g_main_context_get_thread_default ());
}

static gboolean reboot_done_cb (gpointer user_data);

/* The device goes away for reboot_ms, forgetting its sessions, then
 * reconnects (a new IP unless @method is sticky). */
static void
start_reboot (HilinkEmu  *emu,
              const char *method)
{
  Pending *p = g_new0 (Pending, 1);

  cancel_pending (emu);
  emu->rebooting = TRUE;
  emu->status = 902;
  g_hash_table_remove_all (emu->sessions);
  p->emu = emu;
  p->method = g_strdup (method);
  emu->pending = g_timeout_source_new (emu->reboot_ms);
  g_source_set_callback (emu->pending, reboot_done_cb, p, pending_free);
  g_source_attach (emu->pending, g_main_context_get_thread_default ());
}

void
hilink_emu_power_cycle (HilinkEmu *emu)
{
  count (emu, "power_cycles");
  start_reboot (emu, "power");
}

static gboolean
reboot_done_cb (gpointer user_data)
{
  Pending *p = user_data;
  HilinkEmu *emu = p->emu;

  emu->rebooting = FALSE;
  g_clear_pointer (&emu->pending, g_source_unref);
  if (emu->data_on)
    start_reconnect (emu, p->method);
  else
    emu->status = 902;
  return G_SOURCE_REMOVE;
}

/* --- answers --- */

static void
reply_xml (SoupServerMessage *msg,
           const char        *xml)
{
  g_autofree char *full = g_strconcat ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", xml, "\n", NULL);

  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "text/html", SOUP_MEMORY_COPY, full, strlen (full));
}

static void
reply_error (HilinkEmu         *emu,
             SoupServerMessage *msg,
             guint              code)
{
  g_autofree char *xml = g_strdup_printf ("<error>\n<code>%u</code>\n<message></message>\n</error>", code);

  count (emu, "errors");
  if (code == 125002 || code == 125003)
    count (emu, "token_errors");
  reply_xml (msg, xml);
}

static void
reply_ok (SoupServerMessage *msg)
{
  reply_xml (msg, "<response>OK</response>");
}

static void
reply_fields (SoupServerMessage  *msg,
              const char * const *pairs)
{
  GString *s = g_string_new ("<response>\n");

  for (gsize i = 0; pairs[i] != NULL; i += 2)
    {
      g_autofree char *esc = g_markup_escape_text (pairs[i + 1] != NULL ? pairs[i + 1] : "", -1);
      g_string_append_printf (s, "<%s>%s</%s>\n", pairs[i], esc, pairs[i]);
    }
  g_string_append (s, "</response>");
  reply_xml (msg, s->str);
  g_string_free (s, TRUE);
}

static char *
cookie_session (SoupServerMessage *msg)
{
  const char *cookie = soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "Cookie");
  const char *p;

  if (cookie == NULL || (p = strstr (cookie, "SessionID=")) == NULL)
    return NULL;
  p += strlen ("SessionID=");
  return g_strndup (p, strcspn (p, ";"));
}

static char *
expected_password (HilinkEmu  *emu,
                   int         type,
                   const char *token)
{
  if (type == 4)
    {
      g_autofree char *h1 = g_compute_checksum_for_string (G_CHECKSUM_SHA256, emu->password, -1);
      g_autofree char *b1 = g_base64_encode ((const guchar *) h1, strlen (h1));
      g_autofree char *joined = g_strconcat (emu->username, b1, token, NULL);
      g_autofree char *h2 = g_compute_checksum_for_string (G_CHECKSUM_SHA256, joined, -1);
      return g_base64_encode ((const guchar *) h2, strlen (h2));
    }
  return g_base64_encode ((const guchar *) emu->password, strlen (emu->password));
}

static void
handle_api (HilinkEmu         *emu,
            SoupServerMessage *msg,
            const char        *path)
{
  const char *method = soup_server_message_get_method (msg);
  SoupMessageHeaders *req_headers = soup_server_message_get_request_headers (msg);
  SoupMessageHeaders *resp_headers = soup_server_message_get_response_headers (msg);
  g_autofree char *sid = cookie_session (msg);
  Session *session = sid != NULL ? g_hash_table_lookup (emu->sessions, sid) : NULL;
  gboolean is_post = g_str_equal (method, "POST");
  g_autoptr(PkHilinkXml) req = NULL;
  gboolean login_on = emu->password_type >= 0;

  count (emu, "requests");

  if (busy_rule_hit (emu, method, path))
    {
      count (emu, "busy");
      reply_error (emu, msg, 100004);
      return;
    }

  if (g_str_equal (path, "/api/webserver/SesTokInfo"))
    {
      g_autofree char *new_sid = NULL;
      g_autofree char *tok = NULL;
      g_autofree char *ses = NULL;

      count (emu, "sessions");
      if (session == NULL)
        {
          new_sid = new_session (emu);
          session = g_hash_table_lookup (emu->sessions, new_sid);
        }
      tok = session_add_token (emu, session);
      ses = g_strdup_printf ("SessionID=%s", new_sid != NULL ? new_sid : sid);
      {
        const char *pairs[] = { "SesInfo", ses, "TokInfo", tok, NULL };
        reply_fields (msg, pairs);
      }
      return;
    }

  if (emu->busy > 0 && !g_str_equal (path, "/api/user/state-login"))
    {
      emu->busy--;
      count (emu, "busy");
      reply_error (emu, msg, 100004);
      return;
    }

  if (is_post)
    {
      const char *tok = soup_message_headers_get_one (req_headers, "__RequestVerificationToken");
      SoupMessageBody *body = soup_server_message_get_request_body (msg);
      g_autoptr(GBytes) bytes = soup_message_body_flatten (body);
      g_autoptr(GError) error = NULL;

      count (emu, "posts");
      if (session == NULL)
        {
          reply_error (emu, msg, 125002);
          return;
        }
      if (tok == NULL || !g_hash_table_remove (session->tokens, tok))
        {
          reply_error (emu, msg, 125003);
          return;
        }
      g_free (emu->last_body);
      emu->last_body = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
      req = pk_hilink_xml_parse (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), &error);
      if (req == NULL || g_strcmp0 (req->root, "request") != 0)
        {
          reply_error (emu, msg, 100005);
          return;
        }

      if (g_str_equal (path, "/api/user/login"))
        {
          const char *user = pk_hilink_xml_get (req, "Username");
          const char *pw = pk_hilink_xml_get (req, "Password");
          const char *type = pk_hilink_xml_get (req, "password_type");
          g_autofree char *expected = NULL;
          g_autofree char *new_sid = NULL;
          g_autofree char *cookie = NULL;
          g_autofree char *t1 = NULL;
          g_autofree char *t2 = NULL;
          Session *fresh;

          count (emu, "logins");
          if (!login_on)
            {
              reply_error (emu, msg, 100002);
              return;
            }
          if (type == NULL || atoi (type) != emu->password_type)
            {
              reply_error (emu, msg, 108006);
              return;
            }
          expected = expected_password (emu, emu->password_type, tok);
          if (g_strcmp0 (user, emu->username) != 0 || g_strcmp0 (pw, expected) != 0)
            {
              reply_error (emu, msg, 108006);
              return;
            }
          /* A login starts a new session with two fresh tokens. */
          g_hash_table_remove (emu->sessions, sid);
          new_sid = new_session (emu);
          fresh = g_hash_table_lookup (emu->sessions, new_sid);
          fresh->logged_in = TRUE;
          t1 = session_add_token (emu, fresh);
          t2 = session_add_token (emu, fresh);
          cookie = g_strdup_printf ("SessionID=%s; path=/; HttpOnly", new_sid);
          soup_message_headers_replace (resp_headers, "Set-Cookie", cookie);
          soup_message_headers_replace (resp_headers, "__RequestVerificationTokenone", t1);
          soup_message_headers_replace (resp_headers, "__RequestVerificationTokentwo", t2);
          reply_ok (msg);
          return;
        }

      /* Each POST answer carries the next token. */
      {
        g_autofree char *next = session_add_token (emu, session);
        soup_message_headers_replace (resp_headers, "__RequestVerificationToken", next);
      }
    }

  if (g_str_equal (path, "/api/user/state-login"))
    {
      if (!login_on)
        {
          reply_error (emu, msg, 100002);
          return;
        }
      {
        g_autofree char *type = g_strdup_printf ("%d", emu->password_type);
        const char *pairs[] = {
          "State", session != NULL && session->logged_in ? "0" : "-1",
          "Username", session != NULL && session->logged_in ? emu->username : "",
          "password_type", type,
          "firstlogin", "0",
          NULL
        };
        reply_fields (msg, pairs);
      }
      return;
    }

  if (g_str_equal (path, "/api/monitoring/status"))
    {
      g_autofree char *status = g_strdup_printf ("%d", emu->status);
      const char *pairs[] = {
        "ConnectionStatus", status,
        "WifiConnectionStatus", "",
        "SignalStrength", "",
        "SignalIcon", "4",
        "CurrentNetworkType", g_str_equal (emu->net_mode, "02") ? "4" : "19",
        "CurrentServiceDomain", "3",
        "RoamingStatus", "0",
        "BatteryStatus", "",
        "BatteryLevel", "",
        "simlockStatus", "0",
        "WanIPAddress", emu->status == 901 ? emu->wan_ip : "",
        "WanIPv6Address", "",
        "PrimaryDns", emu->status == 901 ? "100.64.0.53" : "",
        "SecondaryDns", emu->status == 901 ? "100.64.0.54" : "",
        "CurrentWifiUser", "0",
        "TotalWifiUser", "0",
        "ServiceStatus", "2",
        "SimStatus", "1",
        NULL
      };
      reply_fields (msg, pairs);
      return;
    }

  if (g_str_equal (path, "/api/monitoring/traffic-statistics"))
    {
      gint64 up_s = emu->status == 901 ? (g_get_monotonic_time () - emu->connected_at) / G_USEC_PER_SEC : 0;
      g_autofree char *t = g_strdup_printf ("%" G_GINT64_FORMAT, up_s);
      g_autofree char *rx = g_strdup_printf ("%" G_GINT64_FORMAT, 1000 + up_s * 5000);
      g_autofree char *tx = g_strdup_printf ("%" G_GINT64_FORMAT, 500 + up_s * 1000);
      const char *pairs[] = {
        "CurrentConnectTime", t,
        "CurrentUpload", tx,
        "CurrentDownload", rx,
        "CurrentDownloadRate", "5000",
        "CurrentUploadRate", "1000",
        "TotalUpload", "7340032",
        "TotalDownload", "52428800",
        "TotalConnectTime", "86400",
        "showtraffic", "1",
        NULL
      };
      reply_fields (msg, pairs);
      return;
    }

  if (g_str_equal (path, "/api/device/signal"))
    {
      gboolean three_g = g_str_equal (emu->net_mode, "02");
      const char *pairs[] = {
        "pci", three_g ? "" : "301",
        "sc", three_g ? "112" : "",
        "cell_id", "20522283",
        "rsrq", three_g ? "" : "-9.0dB",
        "rsrp", three_g ? "" : "-95dBm",
        "rssi", "-67dBm",
        "sinr", three_g ? "" : "12dB",
        "rscp", three_g ? "-80dBm" : "",
        "ecio", three_g ? "-6dB" : "",
        "mode", three_g ? "2" : "7",
        "band", three_g ? "" : "3",
        NULL
      };
      reply_fields (msg, pairs);
      return;
    }

  /* From here on the device wants a login when one is configured. */
  if (login_on && (session == NULL || !session->logged_in))
    {
      count (emu, "not_logged_in");
      reply_error (emu, msg, 100003);
      return;
    }

  if (g_str_equal (path, "/api/device/information"))
    {
      g_autofree char *serial = g_strdup_printf ("EMU0000000%02u", emu->id % 100);
      g_autofree char *imei = g_strdup_printf ("8600000000000%02u", emu->id % 100);
      g_autofree char *mac = g_strdup_printf ("02:00:00:00:00:%02x", emu->id % 256);
      const char *pairs[] = {
        "DeviceName", "E8372h-320",
        "SerialNumber", serial,
        "Imei", imei,
        "Imsi", "001010000000001",
        "Iccid", "8900100000000000001",
        "Msisdn", "",
        "HardwareVersion", "CL4E8372HM",
        "SoftwareVersion", "10.0.3.1(H195SP1C983)",
        "WebUIVersion", "WEBUI 10.0.3.1(W13SP5C7702)",
        "MacAddress1", mac,
        "MacAddress2", "",
        "ProductFamily", "LTE",
        "Classify", "wingle",
        "supportmode", "LTE|WCDMA|GSM",
        "workmode", g_str_equal (emu->net_mode, "02") ? "WCDMA" : "LTE",
        NULL
      };
      reply_fields (msg, pairs);
      return;
    }

  if (g_str_equal (path, "/api/dialup/mobile-dataswitch"))
    {
      if (!is_post)
        {
          const char *pairs[] = { "dataswitch", emu->data_on ? "1" : "0", NULL };
          reply_fields (msg, pairs);
          return;
        }
      {
        const char *v = pk_hilink_xml_get (req, "dataswitch");
        if (g_strcmp0 (v, "0") == 0)
          {
            cancel_pending (emu);
            emu->data_on = FALSE;
            emu->status = 902;
            reply_ok (msg);
          }
        else if (g_strcmp0 (v, "1") == 0)
          {
            if (!emu->data_on || emu->status != 901)
              {
                emu->data_on = TRUE;
                start_reconnect (emu, "data");
              }
            reply_ok (msg);
          }
        else
          reply_error (emu, msg, 100005);
      }
      return;
    }

  if (g_str_equal (path, "/api/net/net-mode"))
    {
      if (!is_post)
        {
          const char *pairs[] = {
            "NetworkMode", emu->net_mode,
            "NetworkBand", emu->network_band,
            "LTEBand", emu->lte_band,
            NULL
          };
          reply_fields (msg, pairs);
          return;
        }
      {
        static const char * const modes[] = { "00", "01", "02", "03", "0201", "0301", "0302", NULL };
        const char *mode = pk_hilink_xml_get (req, "NetworkMode");
        const char *nb = pk_hilink_xml_get (req, "NetworkBand");
        const char *lb = pk_hilink_xml_get (req, "LTEBand");

        if (mode == NULL || nb == NULL || lb == NULL ||
            !g_strv_contains (modes, mode) || emu->refuse_netmode)
          {
            reply_error (emu, msg, 112003);
            return;
          }
        g_free (emu->network_band);
        emu->network_band = g_strdup (nb);
        g_free (emu->lte_band);
        emu->lte_band = g_strdup (lb);
        if (!g_str_equal (mode, emu->net_mode))
          {
            g_free (emu->net_mode);
            emu->net_mode = g_strdup (mode);
            if (emu->data_on)
              start_reconnect (emu, "netmode");
          }
        reply_ok (msg);
      }
      return;
    }

  if (g_str_equal (path, "/api/device/control") && is_post)
    {

      if (g_strcmp0 (pk_hilink_xml_get (req, "Control"), "1") != 0)
        {
          reply_error (emu, msg, 100005);
          return;
        }
      count (emu, "reboots");
      reply_ok (msg);
      start_reboot (emu, "reboot");
      return;
    }

  /* Unknown endpoints: what a device says to what it does not have. */
  reply_error (emu, msg, 100002);
}

static void
handle_control (HilinkEmu         *emu,
                SoupServerMessage *msg,
                GHashTable        *query)
{
  const char *v;

  if (query != NULL)
    {
      if ((v = g_hash_table_lookup (query, "busy")) != NULL)
        emu->busy = atoi (v);
      if ((v = g_hash_table_lookup (query, "slow_ms")) != NULL)
        emu->slow_ms = atoi (v);
      if ((v = g_hash_table_lookup (query, "drop")) != NULL)
        emu->drop = atoi (v);
      if ((v = g_hash_table_lookup (query, "garbage")) != NULL)
        emu->garbage = atoi (v);
      if ((v = g_hash_table_lookup (query, "http_error")) != NULL)
        {
          const char *status = g_hash_table_lookup (query, "http_status");
          hilink_emu_inject_http_error (emu, atoi (v), status ? atoi (status) : 503);
        }
      if (g_hash_table_lookup (query, "logout") != NULL)
        hilink_emu_expire_login (emu);
      if ((v = g_hash_table_lookup (query, "busy_on")) != NULL)
        {
          g_auto(GStrv) specs = g_strsplit (v, ",", -1);
          g_autoptr(GError) error = NULL;

          hilink_emu_clear_busy_on (emu);
          for (guint i = 0; specs[i] != NULL; i++)
            if (*specs[i] != '\0' && !hilink_emu_busy_on (emu, specs[i], &error))
              {
                soup_server_message_set_status (msg, SOUP_STATUS_BAD_REQUEST, NULL);
                soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_COPY,
                                                  error->message, strlen (error->message));
                return;
              }
        }
      if ((v = g_hash_table_lookup (query, "refuse_netmode")) != NULL)
        emu->refuse_netmode = atoi (v) != 0;
      if ((v = g_hash_table_lookup (query, "sticky")) != NULL)
        hilink_emu_set_sticky (emu, v);
      if ((v = g_hash_table_lookup (query, "delay_ms")) != NULL)
        emu->reconnect_ms = atoi (v);
      if ((v = g_hash_table_lookup (query, "reboot_ms")) != NULL)
        emu->reboot_ms = atoi (v);
      if (g_hash_table_lookup (query, "expire") != NULL)
        hilink_emu_expire_sessions (emu);
      if (g_hash_table_lookup (query, "expire_tokens") != NULL)
        hilink_emu_expire_tokens (emu);
    }
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_STATIC, "ok\n", 3);
}

static void
handle_state (HilinkEmu         *emu,
              SoupServerMessage *msg)
{
  g_autofree char *text = g_strdup_printf ("wan_ip=%s\nstatus=%d\ndata=%d\nmode=%s\n"
                                           "requests=%u\nposts=%u\nlogins=%u\nreboots=%u\n"
                                           "sessions=%u\ntoken_errors=%u\nbusy=%u\nlast_peer=%s\n",
                                           emu->status == 901 ? emu->wan_ip : "",
                                           emu->status, emu->data_on, emu->net_mode,
                                           hilink_emu_count (emu, "requests"),
                                           hilink_emu_count (emu, "posts"),
                                           hilink_emu_count (emu, "logins"),
                                           hilink_emu_count (emu, "reboots"),
                                           hilink_emu_count (emu, "sessions"),
                                           hilink_emu_count (emu, "token_errors"),
                                           hilink_emu_count (emu, "busy"),
                                           emu->last_peer ? emu->last_peer : "");

  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_COPY, text, strlen (text));
}

typedef struct {
  HilinkEmu *emu;
  SoupServerMessage *msg;
  char *path;
} Delayed;

static gboolean
delayed_cb (gpointer user_data)
{
  Delayed *d = user_data;

  handle_api (d->emu, d->msg, d->path);
  soup_server_message_unpause (d->msg);
  g_object_unref (d->msg);
  g_free (d->path);
  g_free (d);
  return G_SOURCE_REMOVE;
}

static void
drop_connection (HilinkEmu         *emu,
                 SoupServerMessage *msg)
{
  GIOStream *stream = soup_server_message_steal_connection (msg);

  count (emu, "dropped");
  if (stream != NULL)
    {
      g_io_stream_close (stream, NULL, NULL);
      g_object_unref (stream);
    }
}

static void
server_cb (SoupServer        *server,
           SoupServerMessage *msg,
           const char        *path,
           GHashTable        *query,
           gpointer           user_data)
{
  HilinkEmu *emu = user_data;

  g_free (emu->last_peer);
  emu->last_peer = g_strdup (soup_server_message_get_remote_host (msg));

  if (g_str_equal (path, "/emu/control"))
    {
      handle_control (emu, msg, query);
      return;
    }
  if (g_str_equal (path, "/emu/state"))
    {
      handle_state (emu, msg);
      return;
    }
  if (!g_str_has_prefix (path, "/api/"))
    {
      soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
      return;
    }

  /* A rebooting device does not answer at all. */
  if (emu->rebooting || emu->drop > 0)
    {
      if (!emu->rebooting)
        emu->drop--;
      drop_connection (emu, msg);
      return;
    }

  if (emu->http_errors > 0)
    {
      /* the device's web server restarting or overloaded */
      emu->http_errors--;
      count (emu, "http_errors");
      soup_server_message_set_status (msg, emu->http_status, NULL);
      soup_server_message_set_response (msg, "text/html", SOUP_MEMORY_STATIC, "", 0);
      return;
    }

  if (emu->garbage > 0)
    {
      static const char page[] = "<html><head><title>Redirect</title></head><body>"
                                 "<script>location='/html/home.html'</script><br></body></html>";
      emu->garbage--;
      count (emu, "garbage");
      soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
      soup_server_message_set_response (msg, "text/html", SOUP_MEMORY_STATIC, page, strlen (page));
      return;
    }

  if (emu->slow_ms > 0)
    {
      Delayed *d = g_new0 (Delayed, 1);

      d->emu = emu;
      d->msg = g_object_ref (msg);
      d->path = g_strdup (path);
      soup_server_message_pause (msg);
      g_timeout_add (emu->slow_ms, delayed_cb, d);
      return;
    }

  handle_api (emu, msg, path);
}

HilinkEmu *
hilink_emu_new (const char  *address,
                guint16      port,
                guint        id,
                GError     **error)
{
  g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (address != NULL ? address : "127.0.0.1");
  g_autoptr(GSocketAddress) sa = NULL;
  HilinkEmu *emu;
  GSList *uris;

  if (inet == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "bad address %s", address);
      return NULL;
    }

  emu = g_new0 (HilinkEmu, 1);
  emu->id = id;
  emu->address = g_inet_address_to_string (inet);
  emu->status = 901;
  emu->data_on = TRUE;
  emu->net_mode = g_strdup ("00");
  emu->network_band = g_strdup ("3FFFFFFF");
  emu->lte_band = g_strdup ("800C5");
  emu->password_type = -1;
  emu->reconnect_ms = 200;
  emu->reboot_ms = 300;
  emu->connected_at = g_get_monotonic_time ();
  emu->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) session_free);
  emu->counters = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  emu->busy_rules = g_ptr_array_new_with_free_func (busy_rule_free);
  next_wan_ip (emu);

  emu->server = soup_server_new ("server-header", "", NULL);
  soup_server_add_handler (emu->server, NULL, server_cb, emu, NULL);
  sa = g_inet_socket_address_new (inet, port);
  if (!soup_server_listen (emu->server, sa, 0, error))
    {
      hilink_emu_free (emu);
      return NULL;
    }
  uris = soup_server_get_uris (emu->server);
  emu->port = g_uri_get_port (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return emu;
}

void
hilink_emu_free (HilinkEmu *emu)
{
  if (emu == NULL)
    return;
  cancel_pending (emu);
  if (emu->server != NULL)
    soup_server_disconnect (emu->server);
  g_clear_object (&emu->server);
  g_hash_table_unref (emu->sessions);
  g_hash_table_unref (emu->counters);
  g_strfreev (emu->sticky);
  g_ptr_array_unref (emu->busy_rules);
  g_free (emu->address);
  g_free (emu->wan_ip);
  g_free (emu->net_mode);
  g_free (emu->network_band);
  g_free (emu->lte_band);
  g_free (emu->username);
  g_free (emu->password);
  g_free (emu->last_peer);
  g_free (emu->last_body);
  g_free (emu);
}

guint16
hilink_emu_get_port (HilinkEmu *emu)
{
  return emu->port;
}

char *
hilink_emu_dup_url (HilinkEmu *emu)
{
  return g_strdup_printf ("http://%s:%u", emu->address, emu->port);
}

void
hilink_emu_set_login (HilinkEmu  *emu,
                      const char *username,
                      const char *password,
                      int         password_type)
{
  g_free (emu->username);
  emu->username = g_strdup (username != NULL ? username : "admin");
  g_free (emu->password);
  emu->password = g_strdup (password != NULL ? password : "");
  emu->password_type = password_type;
  g_hash_table_remove_all (emu->sessions);
}

void
hilink_emu_set_delays (HilinkEmu *emu,
                       guint      reconnect_ms,
                       guint      reboot_ms)
{
  emu->reconnect_ms = reconnect_ms;
  emu->reboot_ms = reboot_ms;
}

void
hilink_emu_set_sticky (HilinkEmu  *emu,
                       const char *methods)
{
  g_strfreev (emu->sticky);
  emu->sticky = (methods != NULL && *methods != '\0') ? g_strsplit (methods, ",", -1) : NULL;
}

void
hilink_emu_inject (HilinkEmu *emu,
                   guint      busy,
                   guint      slow_ms,
                   guint      drop)
{
  emu->busy = busy;
  emu->slow_ms = slow_ms;
  emu->drop = drop;
}

gboolean
hilink_emu_busy_on (HilinkEmu   *emu,
                    const char  *spec,
                    GError     **error)
{
  g_autoptr(GString) path = g_string_new (NULL);
  g_autofree char *method = NULL;
  const char *p = spec;
  const char *colon = strchr (spec, ':');
  const char *slash = strchr (spec, '/');
  const char *at;
  guint64 nth = 1, n = 1;
  char *end = NULL;
  BusyRule *rule;

  if (colon != NULL && (slash == NULL || colon < slash))
    {
      method = g_strndup (spec, colon - spec);
      p = colon + 1;
    }
  at = strchr (p, '@');
  g_string_append_len (path, p, at != NULL ? at - p : (gssize) strlen (p));
  if (at != NULL)
    {
      nth = g_ascii_strtoull (at + 1, &end, 10);
      if (end != NULL && *end == 'x')
        n = g_ascii_strtoull (end + 1, &end, 10);
    }
  if (path->str[0] != '/' || nth == 0 || n == 0 || (end != NULL && *end != '\0'))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "busy rule '%s': expected [METHOD:]PATH[@NTH[xCOUNT]], e.g. "
                   "POST:/api/dialup/mobile-dataswitch@2x3", spec);
      return FALSE;
    }
  rule = g_new0 (BusyRule, 1);
  rule->method = g_steal_pointer (&method);
  rule->path = g_string_free (g_steal_pointer (&path), FALSE);
  rule->nth = (guint) nth;
  rule->count = (guint) n;
  g_ptr_array_add (emu->busy_rules, rule);
  return TRUE;
}

void
hilink_emu_clear_busy_on (HilinkEmu *emu)
{
  g_ptr_array_set_size (emu->busy_rules, 0);
}

void
hilink_emu_inject_faults (HilinkEmu *emu,
                          guint      garbage,
                          gboolean   refuse_netmode)
{
  emu->garbage = garbage;
  emu->refuse_netmode = refuse_netmode;
}

void
hilink_emu_inject_http_error (HilinkEmu *emu,
                              guint      n,
                              guint      status)
{
  g_return_if_fail (status >= 100 && status <= 599);
  emu->http_errors = n;
  emu->http_status = status;
}

void
hilink_emu_expire_login (HilinkEmu *emu)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, emu->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    ((Session *) value)->logged_in = FALSE;
}

void
hilink_emu_expire_tokens (HilinkEmu *emu)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, emu->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_hash_table_remove_all (((Session *) value)->tokens);
}

void
hilink_emu_expire_sessions (HilinkEmu *emu)
{
  g_hash_table_remove_all (emu->sessions);
}

const char *
hilink_emu_get_wan_ip (HilinkEmu *emu)
{
  return emu->status == 901 ? emu->wan_ip : NULL;
}

gboolean
hilink_emu_get_data_enabled (HilinkEmu *emu)
{
  return emu->data_on;
}

int
hilink_emu_get_status (HilinkEmu *emu)
{
  return emu->status;
}

const char *
hilink_emu_get_net_mode (HilinkEmu *emu)
{
  return emu->net_mode;
}

const char *
hilink_emu_get_last_peer (HilinkEmu *emu)
{
  return emu->last_peer;
}

const char *
hilink_emu_get_last_body (HilinkEmu *emu)
{
  return emu->last_body;
}

HilinkEmu *
hilink_test_emu_with_modem (guint           id,
                            guint           reconnect_ms,
                            guint           reboot_ms,
                            guint           timeout_ms,
                            PkHilinkModem **modem)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  HilinkEmu *emu = hilink_emu_new ("127.0.0.1", 0, id, &error);

  g_assert_no_error (error);
  hilink_emu_set_delays (emu, reconnect_ms, reboot_ms);
  url = hilink_emu_dup_url (emu);
  *modem = pk_hilink_modem_new (url, NULL, &error);
  g_assert_no_error (error);
  pk_hilink_modem_set_timeout (*modem, timeout_ms);
  return emu;
}
