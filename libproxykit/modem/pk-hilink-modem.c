/* pk-hilink-modem.c: a Huawei HiLink modem through its web API
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkHilinkModem:
 *
 * A [iface@Modem] for Huawei HiLink devices (E8372h, E3372h and their
 * kin), spoken to through the device's web API with libsoup.
 *
 * The client sets up a session with `GET /api/webserver/SesTokInfo`
 * (a session cookie and a `__RequestVerificationToken`), treats every
 * token as single-use, takes fresh ones from the headers of each answer
 * and, on error 125002 or 125003, sets the session up again and retries
 * once. When credentials are set it logs in when
 * `/api/user/state-login` says it must (password types 0, 3 and 4), and
 * logs in again, once, when a call meets 100003.
 *
 * Devices answer 100004 ("system busy") for a while when they switch
 * data or network mode. That answer, an HTTP 5xx and a connection that
 * fails are tried again, up to 5 times, after pauses that double from a
 * fiftieth of the timeout (200, 400, 800, 1600, 3200 ms for the default
 * 10 s), never past the timeout; only then does the call fail. A reboot
 * request whose connection fails is not sent again.
 *
 * Every connection leaves through the modem's [class@Egress], so that
 * dongles that all answer on 192.168.8.1 stay apart: the source address
 * is pinned with `SoupSession:local-address`, the interface, mark and
 * TTL are applied when libsoup creates the socket, and no proxy from the
 * environment is used.
 *
 * Errors the device reports (`<error><code>N</code></error>`) become
 * %PK_ERROR_MODEM (%PK_ERROR_BUSY for 100004, %PK_ERROR_AUTH_FAILED for
 * 100003 and the 108xxx login errors) that carry the device's code:
 * [func@hilink_error_get_code] reads it, however the message was
 * prefixed on its way up; the message starts with `HiLink error N: `.
 * Every call is bounded by [method@HilinkModem.set_timeout]; when that
 * passes it fails with %G_IO_ERROR_TIMED_OUT.
 *
 * ```c
 * g_autoptr(GError) error = NULL;
 * g_autoptr(PkEgress) egress = pk_egress_new_full ("192.168.11.100", NULL, 0, 0, &error);
 * g_autoptr(PkHilinkModem) modem = pk_hilink_modem_new ("http://192.168.11.1", egress, &error);
 *
 * pk_hilink_modem_set_credentials (modem, "admin", "secret");
 * pk_modem_set_data_enabled_async (PK_MODEM (modem), FALSE, NULL, on_data_off, NULL);
 * ```
 *
 * Since: 0.1
 */

#include "config.h"

#include <string.h>

#include <libsoup/soup.h>

#include "pk-egress-soup-private.h"
#include "pk-error.h"
#include "pk-error-private.h"
#include "pk-config-private.h"
#include "pk-hilink-modem.h"
#include "pk-hilink-modem-private.h"
#include "pk-hilink-xml-private.h"
#include "pk-util-private.h"

#define MAX_TOKENS 8
#define MAX_RETRIES 5

struct _PkHilinkModem
{
  GObject parent_instance;

  char *base_url;
  PkEgress *egress;
  char *username;
  char *password;
  guint timeout_ms;

  SoupSession *session;

  /* HiLink session state */
  gboolean have_session;
  gboolean logged_in;
  gboolean login_not_needed;
  char *cookie;
  GQueue tokens;

  /* what net-mode last said, so that a mode change keeps the bands */
  char *network_band;
  char *lte_band;
};

static void pk_hilink_modem_iface_init (PkModemInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PkHilinkModem, pk_hilink_modem, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (PK_TYPE_MODEM, pk_hilink_modem_iface_init))

enum {
  PROP_0,
  PROP_BASE_URL,
  PROP_EGRESS,
  PROP_USERNAME,
  PROP_TIMEOUT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
drop_session (PkHilinkModem *self)
{
  self->have_session = FALSE;
  self->logged_in = FALSE;
  g_clear_pointer (&self->cookie, g_free);
  g_queue_clear_full (&self->tokens, g_free);
}

static void
pk_hilink_modem_finalize (GObject *object)
{
  PkHilinkModem *self = PK_HILINK_MODEM (object);

  drop_session (self);
  g_clear_object (&self->session);
  g_clear_pointer (&self->base_url, g_free);
  g_clear_object (&self->egress);
  g_clear_pointer (&self->username, g_free);
  if (self->password != NULL)
    memset (self->password, 0, strlen (self->password));
  g_clear_pointer (&self->password, g_free);
  g_clear_pointer (&self->network_band, g_free);
  g_clear_pointer (&self->lte_band, g_free);

  G_OBJECT_CLASS (pk_hilink_modem_parent_class)->finalize (object);
}

static void
pk_hilink_modem_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  PkHilinkModem *self = PK_HILINK_MODEM (object);

  switch (prop_id)
    {
    case PROP_BASE_URL:
      g_value_set_string (value, self->base_url);
      break;
    case PROP_EGRESS:
      g_value_set_object (value, self->egress);
      break;
    case PROP_USERNAME:
      g_value_set_string (value, self->username);
      break;
    case PROP_TIMEOUT:
      g_value_set_uint (value, self->timeout_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_hilink_modem_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  PkHilinkModem *self = PK_HILINK_MODEM (object);

  switch (prop_id)
    {
    case PROP_BASE_URL:
      {
        const char *url = g_value_get_string (value);
        gsize len;

        if (url == NULL)
          url = PK_HILINK_DEFAULT_URL;
        len = strlen (url);
        while (len > 0 && url[len - 1] == '/')
          len--;
        self->base_url = g_strndup (url, len);
      }
      break;
    case PROP_EGRESS:
      self->egress = g_value_dup_object (value);
      break;
    case PROP_USERNAME:
      pk_hilink_modem_set_credentials (self, g_value_get_string (value), self->password);
      break;
    case PROP_TIMEOUT:
      pk_hilink_modem_set_timeout (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_hilink_modem_constructed (GObject *object)
{
  PkHilinkModem *self = PK_HILINK_MODEM (object);

  G_OBJECT_CLASS (pk_hilink_modem_parent_class)->constructed (object);

  if (self->egress == NULL)
    self->egress = pk_egress_new ();

  /* A dongle's API is on its own subnet: never through a proxy. */
  self->session = pk_egress_soup_session_new (self->egress,
                                              "user-agent", "proxykit/" PACKAGE_VERSION,
                                              "max-conns-per-host", 4,
                                              NULL);
}

static void
pk_hilink_modem_class_init (PkHilinkModemClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = pk_hilink_modem_finalize;
  object_class->constructed = pk_hilink_modem_constructed;
  object_class->get_property = pk_hilink_modem_get_property;
  object_class->set_property = pk_hilink_modem_set_property;

  /**
   * PkHilinkModem:base-url:
   *
   * The web API's base URL, e.g. `http://192.168.11.1`.
   *
   * Since: 0.1
   */
  properties[PROP_BASE_URL] =
    g_param_spec_string ("base-url", NULL, NULL, PK_HILINK_DEFAULT_URL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * PkHilinkModem:egress:
   *
   * The egress every connection to the device leaves through.
   *
   * Since: 0.1
   */
  properties[PROP_EGRESS] =
    g_param_spec_object ("egress", NULL, NULL, PK_TYPE_EGRESS,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * PkHilinkModem:username:
   *
   * The user name to log in with, or %NULL to never log in.
   *
   * Since: 0.1
   */
  properties[PROP_USERNAME] =
    g_param_spec_string ("username", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * PkHilinkModem:timeout:
   *
   * The bound of one call in milliseconds, session setup and retry
   * included.
   *
   * Since: 0.1
   */
  properties[PROP_TIMEOUT] =
    g_param_spec_uint ("timeout", NULL, NULL, 1, G_MAXUINT, PK_HILINK_DEFAULT_TIMEOUT_MS,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
pk_hilink_modem_init (PkHilinkModem *self)
{
  self->timeout_ms = PK_HILINK_DEFAULT_TIMEOUT_MS;
  g_queue_init (&self->tokens);
}

/**
 * pk_hilink_modem_new:
 * @base_url: (nullable): the web API's base URL, e.g. `http://192.168.11.1`;
 *   %NULL for %PK_HILINK_DEFAULT_URL
 * @egress: (nullable): the egress to reach the device through (the host's
 *   address on the dongle's subnet), or %NULL for the default route
 * @error: return location for a `GError`
 *
 * Creates a client for one HiLink device. Nothing is sent until the first
 * call.
 *
 * Returns: (transfer full) (nullable): a new [class@HilinkModem], or %NULL with
 *   @error set (%PK_ERROR_INVALID_ARGUMENT) if @base_url is not an http URL
 *
 * Since: 0.1
 */
PkHilinkModem *
pk_hilink_modem_new (const char  *base_url,
                     PkEgress    *egress,
                     GError     **error)
{
  g_autoptr(GUri) uri = NULL;

  g_return_val_if_fail (egress == NULL || PK_IS_EGRESS (egress), NULL);

  if (base_url != NULL)
    {
      uri = g_uri_parse (base_url, G_URI_FLAGS_NONE, NULL);
      if (uri == NULL || g_strcmp0 (g_uri_get_scheme (uri), "http") != 0 ||
          g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
        {
          g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                       "modem API address '%s' is not an http:// URL with a host", base_url);
          return NULL;
        }
    }

  return g_object_new (PK_TYPE_HILINK_MODEM,
                       "base-url", base_url,
                       "egress", egress,
                       NULL);
}

/**
 * pk_hilink_modem_get_base_url:
 * @self: a [class@HilinkModem]
 *
 * Gets the web API's base URL, without a trailing slash.
 *
 * Returns: the web API's base URL, without a trailing slash
 *
 * Since: 0.1
 */
const char *
pk_hilink_modem_get_base_url (PkHilinkModem *self)
{
  g_return_val_if_fail (PK_IS_HILINK_MODEM (self), NULL);

  return self->base_url;
}

/**
 * pk_hilink_modem_get_egress:
 * @self: a [class@HilinkModem]
 *
 * Gets the egress connections leave through.
 *
 * Returns: (transfer none): the egress connections leave through
 *
 * Since: 0.1
 */
PkEgress *
pk_hilink_modem_get_egress (PkHilinkModem *self)
{
  g_return_val_if_fail (PK_IS_HILINK_MODEM (self), NULL);

  return self->egress;
}

/**
 * pk_hilink_modem_set_credentials:
 * @self: a [class@HilinkModem]
 * @username: (nullable): the user name, %NULL for `admin`
 * @password: (nullable): the password, or %NULL to never log in
 *
 * Sets the credentials used when the device asks for a login. The next
 * call sets up a new session.
 *
 * Since: 0.1
 */
void
pk_hilink_modem_set_credentials (PkHilinkModem *self,
                                 const char    *username,
                                 const char    *password)
{
  g_autofree char *new_password = g_strdup (password);
  gboolean user_changed;

  g_return_if_fail (PK_IS_HILINK_MODEM (self));

  if (username == NULL && password != NULL)
    username = "admin";
  user_changed = g_strcmp0 (username, self->username) != 0;

  g_free (self->username);
  self->username = g_strdup (username);
  if (self->password != NULL)
    memset (self->password, 0, strlen (self->password));
  g_free (self->password);
  self->password = g_steal_pointer (&new_password);
  self->login_not_needed = FALSE;
  drop_session (self);

  if (user_changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_USERNAME]);
}

/* [dongle:N] key, else [toggle] key. */
static char *
dongle_or_toggle (PkConfig   *config,
                  guint       id,
                  const char *key)
{
  g_autofree char *section = g_strdup_printf ("dongle:%u", id);
  g_autofree char *fallback = pk_config_dup_string (config, "toggle", key, NULL, NULL);

  return pk_config_dup_string (config, section, key, NULL, fallback);
}

gboolean
pk_hilink_modem_apply_config (PkHilinkModem  *self,
                              PkConfig       *config,
                              guint           id,
                              GError        **error)
{
  g_autofree char *username = NULL;
  g_autofree char *password = NULL;
  guint timeout;

  g_return_val_if_fail (PK_IS_HILINK_MODEM (self), FALSE);
  g_return_val_if_fail (PK_IS_CONFIG (config), FALSE);

  if (!pk_config_get_duration_uint (config, "toggle", "request_timeout", NULL, 1, PK_HILINK_DEFAULT_TIMEOUT_MS,
                                    &timeout, error))
    return FALSE;
  pk_hilink_modem_set_timeout (self, timeout);
  username = dongle_or_toggle (config, id, "username");
  password = dongle_or_toggle (config, id, "password");
  if (password != NULL)
    pk_hilink_modem_set_credentials (self, username, password);
  if (password != NULL)
    memset (password, 0, strlen (password));
  return TRUE;
}

/**
 * pk_hilink_modem_get_username:
 * @self: a [class@HilinkModem]
 *
 * Gets the user name, or %NULL if none is set.
 *
 * Returns: (nullable): the user name, or %NULL if none is set
 *
 * Since: 0.1
 */
const char *
pk_hilink_modem_get_username (PkHilinkModem *self)
{
  g_return_val_if_fail (PK_IS_HILINK_MODEM (self), NULL);

  return self->username;
}

/**
 * pk_hilink_modem_get_timeout:
 * @self: a [class@HilinkModem]
 *
 * Gets the bound of one call, in milliseconds.
 *
 * Returns: the bound of one call, in milliseconds
 *
 * Since: 0.1
 */
guint
pk_hilink_modem_get_timeout (PkHilinkModem *self)
{
  g_return_val_if_fail (PK_IS_HILINK_MODEM (self), 0);

  return self->timeout_ms;
}

/**
 * pk_hilink_modem_set_timeout:
 * @self: a [class@HilinkModem]
 * @timeout_ms: the bound of one call in milliseconds (at least 1)
 *
 * Sets how long one call may take, session setup, login and retry
 * included.
 *
 * Since: 0.1
 */
void
pk_hilink_modem_set_timeout (PkHilinkModem *self,
                             guint          timeout_ms)
{
  g_return_if_fail (PK_IS_HILINK_MODEM (self));

  timeout_ms = MAX (timeout_ms, 1);
  if (self->timeout_ms == timeout_ms)
    return;
  self->timeout_ms = timeout_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TIMEOUT]);
}

/* --- requests --- */

typedef enum {
  STAGE_SESSION,     /* GET SesTokInfo */
  STAGE_STATE_LOGIN, /* GET state-login */
  STAGE_LOGIN,       /* POST login */
  STAGE_MAIN,        /* the call itself */
} Stage;

typedef struct {
  char *method;
  char *path;
  char *body;
  char *login_body;
  Stage stage;
  gboolean session_retried;
  gboolean login_retried;
  gboolean drop_session_after;
  guint n_retries;               /* after busy and transient failures */
  gint64 deadline;               /* monotonic, when the timeout fires */
  GSource *retry_source;         /* the pause before the next try */
  GSource *retry_cancel_source;
  GCancellable *cancellable;     /* ours: cancelled by the caller's or the timeout */
  GCancellable *outer;
  gulong outer_id;
  GSource *timeout_source;
  gboolean timed_out;
  SoupMessage *message;
} Call;

static void
call_stop_retry_pause (Call *call)
{
  if (call->retry_source != NULL)
    {
      g_source_destroy (call->retry_source);
      g_clear_pointer (&call->retry_source, g_source_unref);
    }
  if (call->retry_cancel_source != NULL)
    {
      g_source_destroy (call->retry_cancel_source);
      g_clear_pointer (&call->retry_cancel_source, g_source_unref);
    }
}

static void
call_free (Call *call)
{
  call_stop_retry_pause (call);
  if (call->timeout_source != NULL)
    {
      g_source_destroy (call->timeout_source);
      g_source_unref (call->timeout_source);
    }
  if (call->outer != NULL)
    {
      g_cancellable_disconnect (call->outer, call->outer_id);
      g_object_unref (call->outer);
    }
  g_clear_object (&call->cancellable);
  g_clear_object (&call->message);
  g_free (call->method);
  g_free (call->path);
  g_free (call->body);
  g_free (call->login_body);
  g_free (call);
}

static void
set_hilink_error (GError       **error,
                  PkHilinkModem *self,
                  const char    *path,
                  guint          code,
                  const char    *device_message,
                  gboolean       during_login)
{
  const char *meaning = pk_hilink_error_describe (code);
  PkError pk_code = PK_ERROR_MODEM;

  if (code == 100004)
    pk_code = PK_ERROR_BUSY;
  else if (code == 100003 || (code >= 108001 && code <= 108007) || (during_login && code != 100002))
    pk_code = PK_ERROR_AUTH_FAILED;

  /* Devices mostly leave <message> empty; when they do say something, it
   * goes after the code's meaning. */
  g_set_error (error, PK_ERROR, pk_code,
               PK_HILINK_ERROR_PREFIX "%u: %s%s%s (%s%s)",
               code, meaning != NULL ? meaning : "unknown error code",
               device_message != NULL && *device_message != '\0' ? ": " : "",
               device_message != NULL ? device_message : "",
               self->base_url, path);
  if (error != NULL && *error != NULL)
    pk_error_set_hilink_code (*error, code);
}

static void call_step (GTask *task);

static void
take_tokens (PkHilinkModem *self,
             SoupMessage   *message,
             gboolean       replace)
{
  SoupMessageHeaders *headers = soup_message_get_response_headers (message);
  const char *one = soup_message_headers_get_one (headers, "__RequestVerificationTokenone");
  const char *two = soup_message_headers_get_one (headers, "__RequestVerificationTokentwo");
  const char *single = soup_message_headers_get_one (headers, "__RequestVerificationToken");
  const char *set_cookie = soup_message_headers_get_one (headers, "Set-Cookie");

  if (replace && (one != NULL || single != NULL))
    g_queue_clear_full (&self->tokens, g_free);

  if (one != NULL)
    {
      g_queue_push_tail (&self->tokens, g_strdup (one));
      if (two != NULL)
        g_queue_push_tail (&self->tokens, g_strdup (two));
    }
  else if (single != NULL)
    g_queue_push_tail (&self->tokens, g_strdup (single));

  while (g_queue_get_length (&self->tokens) > MAX_TOKENS)
    g_free (g_queue_pop_head (&self->tokens));

  /* A login hands out a new session cookie. */
  if (set_cookie != NULL && g_str_has_prefix (set_cookie, "SessionID="))
    {
      const char *end = strchr (set_cookie, ';');
      g_free (self->cookie);
      self->cookie = end != NULL ? g_strndup (set_cookie, end - set_cookie) : g_strdup (set_cookie);
    }
}

static char *
login_password (PkHilinkModem *self,
                guint          password_type,
                const char    *token)
{
  if (password_type == 4)
    {
      g_autofree char *pw_hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, self->password, -1);
      g_autofree char *pw_b64 = g_base64_encode ((const guchar *) pw_hash, strlen (pw_hash));
      g_autofree char *joined = g_strconcat (self->username, pw_b64, token != NULL ? token : "", NULL);
      g_autofree char *hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, joined, -1);

      return g_base64_encode ((const guchar *) hash, strlen (hash));
    }

  /* Types 0 and 3: the password in base64. */
  return g_base64_encode ((const guchar *) self->password, strlen (self->password));
}

static void
return_timed_out (GTask       *task,
                  const char  *path)
{
  PkHilinkModem *self = g_task_get_source_object (task);

  g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                           "modem %s: no answer within %u ms (%s)",
                           self->base_url, self->timeout_ms, path);
}

/* Ends the pause before a retry: the next try, or the timeout's or the
 * caller's cancellation. Takes the task's reference. */
static void
retry_wake (GTask *task)
{
  Call *call = g_task_get_task_data (task);

  call_stop_retry_pause (call);
  if (call->timed_out)
    {
      return_timed_out (task, call->path);
      g_object_unref (task);
      return;
    }
  if (g_cancellable_is_cancelled (call->cancellable))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Operation was cancelled");
      g_object_unref (task);
      return;
    }
  call_step (task);
}

static gboolean
retry_pause_done_cb (gpointer user_data)
{
  retry_wake (user_data);
  return G_SOURCE_REMOVE;
}

static gboolean
retry_pause_cancelled_cb (GCancellable *cancellable,
                          gpointer      user_data)
{
  retry_wake (user_data);
  return G_SOURCE_REMOVE;
}

/* After a transient failure (100004, an HTTP 5xx, a connection that
 * failed) the call tries again after a pause, up to MAX_RETRIES times.
 * The pauses double from a fiftieth of the timeout, so that all of them
 * fit in 62 % of it and a device busy while it switches gets seconds to
 * settle; a pause that would pass the timeout is not taken. Returns TRUE
 * and takes the task's reference when a retry is scheduled. */
static gboolean
retry_later (GTask        *task,
             const GError *error)
{
  PkHilinkModem *self = g_task_get_source_object (task);
  Call *call = g_task_get_task_data (task);
  guint pause_ms = MAX (self->timeout_ms / 50, 1) << call->n_retries;

  if (call->n_retries >= MAX_RETRIES ||
      g_get_monotonic_time () + (gint64) pause_ms * 1000 >= call->deadline)
    return FALSE;

  call->n_retries++;
  g_debug ("modem %s: %s; trying again in %u ms (retry %u of %u)",
           self->base_url, error->message, pause_ms, call->n_retries, MAX_RETRIES);
  call->retry_source = pk_timeout_source_attach (NULL, pause_ms, retry_pause_done_cb, task);
  call->retry_cancel_source = g_cancellable_source_new (call->cancellable);
  g_source_set_callback (call->retry_cancel_source, G_SOURCE_FUNC (retry_pause_cancelled_cb), task, NULL);
  g_source_attach (call->retry_cancel_source, g_main_context_get_thread_default ());
  return TRUE;
}

static void
on_response (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PkHilinkModem *self = g_task_get_source_object (task);
  Call *call = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(PkHilinkXml) xml = NULL;
  g_autoptr(SoupMessage) message = g_steal_pointer (&call->message);
  const char *path;
  guint status;
  guint code;

  body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  path = g_uri_get_path (soup_message_get_uri (message));

  if (body == NULL)
    {
      if (call->timed_out)
        return_timed_out (task, path);
      else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_task_return_error (task, g_steal_pointer (&error));
      else
        {
          GError *egress_error = pk_egress_soup_message_steal_error (message);

          /* The transport failed: the device is switching, rebooting or
           * gone (or the egress could not be applied). Its next answer
           * needs a new session. A reboot is not sent twice: the device
           * may have taken the first. */
          if (egress_error != NULL)
            {
              g_clear_error (&error);
              error = egress_error;
            }
          drop_session (self);
          g_prefix_error (&error, "modem %s%s: ", self->base_url, path);
          if (!call->drop_session_after && retry_later (task, error))
            {
              call->stage = STAGE_SESSION;
              g_steal_pointer (&task);
              return;
            }
          g_task_return_error (task, g_steal_pointer (&error));
        }
      return;
    }

  status = soup_message_get_status (message);
  if (!SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      g_set_error (&error, PK_ERROR, PK_ERROR_PROTOCOL,
                   "modem %s%s: HTTP %u %s", self->base_url, path, status,
                   soup_message_get_reason_phrase (message) ? soup_message_get_reason_phrase (message) : "");
      /* 5xx: the web server is overloaded or restarting; a 4xx stays. */
      if (status >= 500 && status <= 599 && retry_later (task, error))
        {
          g_steal_pointer (&task);
          return;
        }
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  xml = pk_hilink_xml_parse (g_bytes_get_data (body, NULL), g_bytes_get_size (body), &error);
  if (xml == NULL)
    {
      g_prefix_error (&error, "modem %s%s: ", self->base_url, path);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  take_tokens (self, message, call->stage == STAGE_LOGIN);

  if (pk_hilink_xml_get_error_code (xml, &code))
    {
      if (code == 100004)
        {
          set_hilink_error (&error, self, path, code, pk_hilink_xml_get (xml, "message"), FALSE);
          if (retry_later (task, error))
            {
              /* A login body holds a token spent now: read the state again. */
              if (call->stage == STAGE_LOGIN)
                call->stage = STAGE_STATE_LOGIN;
              g_steal_pointer (&task);
              return;
            }
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      if ((code == 125002 || code == 125003) && !call->session_retried)
        {
          /* The session or token went stale: set it up again, once. */
          g_debug ("modem %s: %s answered %u, setting up a new session", self->base_url, path, code);
          call->session_retried = TRUE;
          drop_session (self);
          call->stage = STAGE_SESSION;
          call_step (g_steal_pointer (&task));
          return;
        }
      if (call->stage == STAGE_STATE_LOGIN && code == 100002)
        {
          self->login_not_needed = TRUE;
          call->stage = STAGE_MAIN;
          call_step (g_steal_pointer (&task));
          return;
        }
      if (call->stage == STAGE_MAIN && code == 100003 && self->password != NULL &&
          !call->login_retried)
        {
          /* The login timed out on the device: log in again, once. */
          call->login_retried = TRUE;
          self->logged_in = FALSE;
          self->login_not_needed = FALSE;
          call->stage = STAGE_STATE_LOGIN;
          call_step (g_steal_pointer (&task));
          return;
        }
      if (call->stage == STAGE_LOGIN && code == 108003)
        {
          self->logged_in = TRUE;
          call->stage = STAGE_MAIN;
          call_step (g_steal_pointer (&task));
          return;
        }
      set_hilink_error (&error, self, path, code, pk_hilink_xml_get (xml, "message"),
                        call->stage == STAGE_LOGIN);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  switch (call->stage)
    {
    case STAGE_SESSION:
      {
        const char *ses = pk_hilink_xml_get (xml, "SesInfo");
        const char *tok = pk_hilink_xml_get (xml, "TokInfo");

        if (tok == NULL || *tok == '\0')
          {
            g_task_return_new_error (task, PK_ERROR, PK_ERROR_PROTOCOL,
                                     "modem %s%s: no TokInfo in the answer", self->base_url, path);
            return;
          }
        if (ses != NULL && *ses != '\0')
          {
            g_free (self->cookie);
            self->cookie = g_str_has_prefix (ses, "SessionID=") ? g_strdup (ses)
                                                               : g_strconcat ("SessionID=", ses, NULL);
          }
        g_queue_clear_full (&self->tokens, g_free);
        g_queue_push_tail (&self->tokens, g_strdup (tok));
        self->have_session = TRUE;
        call->stage = (self->password != NULL && !self->logged_in && !self->login_not_needed)
                      ? STAGE_STATE_LOGIN : STAGE_MAIN;
        call_step (g_steal_pointer (&task));
      }
      return;

    case STAGE_STATE_LOGIN:
      if (g_strcmp0 (pk_hilink_xml_get (xml, "State"), "0") == 0)
        {
          self->logged_in = TRUE;
          call->stage = STAGE_MAIN;
        }
      else
        {
          const char *type_str = pk_hilink_xml_get (xml, "password_type");
          guint type = type_str != NULL ? (guint) g_ascii_strtoull (type_str, NULL, 10) : 0;
          const char *token = g_queue_peek_head (&self->tokens);
          g_autofree char *password = login_password (self, type, token);
          g_autofree char *type_text = g_strdup_printf ("%u", type);
          const char *pairs[] = {
            "Username", self->username,
            "Password", password,
            "password_type", type_text,
            NULL
          };

          if (type != 0 && type != 3 && type != 4)
            {
              g_task_return_new_error (task, PK_ERROR, PK_ERROR_NOT_SUPPORTED,
                                       "modem %s: login with password_type %u is not supported",
                                       self->base_url, type);
              return;
            }
          g_free (call->login_body);
          call->login_body = pk_hilink_xml_build_request (pairs);
          call->stage = STAGE_LOGIN;
        }
      call_step (g_steal_pointer (&task));
      return;

    case STAGE_LOGIN:
      self->logged_in = TRUE;
      g_debug ("modem %s: logged in as %s", self->base_url, self->username);
      call->stage = STAGE_MAIN;
      call_step (g_steal_pointer (&task));
      return;

    case STAGE_MAIN:
    default:
      if (call->drop_session_after)
        drop_session (self);
      g_task_return_pointer (task, g_steal_pointer (&xml), (GDestroyNotify) pk_hilink_xml_free);
      return;
    }
}

static void
call_step (GTask *task)
{
  PkHilinkModem *self = g_task_get_source_object (task);
  Call *call = g_task_get_task_data (task);
  g_autofree char *url = NULL;
  SoupMessageHeaders *headers;
  const char *method = "GET";
  const char *path = call->path;
  const char *body = NULL;
  gboolean needs_token = FALSE;

  if (call->stage == STAGE_MAIN && !self->have_session)
    call->stage = STAGE_SESSION;
  if (call->stage == STAGE_MAIN && self->password != NULL && !self->logged_in &&
      !self->login_not_needed)
    call->stage = STAGE_STATE_LOGIN;

  switch (call->stage)
    {
    case STAGE_SESSION:
      path = "/api/webserver/SesTokInfo";
      break;
    case STAGE_STATE_LOGIN:
      path = "/api/user/state-login";
      break;
    case STAGE_LOGIN:
      method = "POST";
      path = "/api/user/login";
      body = call->login_body;
      needs_token = TRUE;
      break;
    case STAGE_MAIN:
    default:
      method = call->method;
      body = call->body;
      needs_token = g_str_equal (method, "POST");
      break;
    }

  /* A POST spends a token; with none left, ask for one first. */
  if (needs_token && g_queue_is_empty (&self->tokens))
    {
      call->stage = STAGE_SESSION;
      path = "/api/webserver/SesTokInfo";
      method = "GET";
      body = NULL;
      needs_token = FALSE;
    }

  url = g_strconcat (self->base_url, path, NULL);
  call->message = soup_message_new (method, url);
  if (call->message == NULL)
    {
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                               "modem API address '%s' is not usable", url);
      g_object_unref (task);
      return;
    }
  headers = soup_message_get_request_headers (call->message);
  /* A connection per request. One kept open across a USB rebind or a
   * replug belongs to an interface that is gone: a request sent on it
   * goes nowhere and waits out its whole timeout. The calls are few and
   * the link is local, so a handshake each costs nothing. */
  soup_message_headers_replace (headers, "Connection", "close");
  if (self->cookie != NULL)
    soup_message_headers_replace (headers, "Cookie", self->cookie);
  if (needs_token)
    {
      g_autofree char *token = g_queue_pop_head (&self->tokens);
      soup_message_headers_replace (headers, "__RequestVerificationToken", token);
    }
  else if (g_queue_get_length (&self->tokens) > 0)
    soup_message_headers_replace (headers, "__RequestVerificationToken",
                                  g_queue_peek_head (&self->tokens));
  if (body != NULL)
    {
      g_autoptr(GBytes) bytes = g_bytes_new (body, strlen (body));
      soup_message_set_request_body_from_bytes (call->message, "application/xml", bytes);
    }
  pk_egress_soup_message_prepare (self->session, call->message);

  soup_session_send_and_read_async (self->session, call->message, G_PRIORITY_DEFAULT,
                                    call->cancellable, on_response, task);
}

static gboolean
call_timeout_cb (gpointer user_data)
{
  Call *call = user_data;

  call->timed_out = TRUE;
  g_cancellable_cancel (call->cancellable);
  g_clear_pointer (&call->timeout_source, g_source_unref);
  return G_SOURCE_REMOVE;
}

static void
call_outer_cancelled (GCancellable *outer,
                      gpointer      user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

/* Sends one request, with session setup, login, the one retry on a
 * stale session or login and the retries after transient failures as
 * needed; the task returns the parsed <response>. */
static void
hilink_call (PkHilinkModem       *self,
             const char          *method,
             const char          *path,
             const char * const  *pairs,
             gpointer             source_tag,
             GCancellable        *cancellable,
             GAsyncReadyCallback  callback,
             gpointer             user_data)
{
  GTask *task;
  Call *call;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);

  call = g_new0 (Call, 1);
  call->method = g_strdup (method);
  call->path = g_strdup (path);
  call->body = pairs != NULL ? pk_hilink_xml_build_request (pairs) : NULL;
  call->stage = STAGE_MAIN;
  call->cancellable = g_cancellable_new ();
  if (cancellable != NULL)
    {
      call->outer = g_object_ref (cancellable);
      call->outer_id = g_cancellable_connect (cancellable, G_CALLBACK (call_outer_cancelled),
                                              call->cancellable, NULL);
    }
  call->deadline = g_get_monotonic_time () + (gint64) self->timeout_ms * 1000;
  call->timeout_source = pk_timeout_source_attach (NULL, self->timeout_ms, call_timeout_cb, call);
  g_task_set_task_data (task, call, (GDestroyNotify) call_free);

  /* A reboot ends the device's sessions. */
  if (g_str_equal (method, "POST") && g_str_equal (path, "/api/device/control"))
    call->drop_session_after = TRUE;

  call_step (task);
}

static PkHilinkXml *
hilink_call_finish (PkHilinkModem  *self,
                    GAsyncResult   *result,
                    gpointer        source_tag,
                    GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* A setter answers <response>OK</response>. */
static gboolean
check_ok (PkHilinkModem  *self,
          PkHilinkXml    *xml,
          const char     *path,
          GError        **error)
{
  if (g_strcmp0 (xml->root, "response") != 0)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_PROTOCOL,
                   "modem %s%s: unexpected <%s> answer", self->base_url, path, xml->root);
      return FALSE;
    }
  return TRUE;
}

static guint64
field_u64 (PkHilinkXml *xml,
           const char  *name)
{
  const char *str = pk_hilink_xml_get (xml, name);

  return str != NULL ? g_ascii_strtoull (str, NULL, 10) : 0;
}

/* --- PkModem --- */

static void
hilink_get_status_async (PkModem             *modem,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  hilink_call (PK_HILINK_MODEM (modem), "GET", "/api/monitoring/status", NULL,
               hilink_get_status_async, cancellable, callback, user_data);
}

static gboolean
hilink_get_status_finish (PkModem       *modem,
                          GAsyncResult  *result,
                          PkModemState  *out_state,
                          char         **out_wan_ip,
                          GError       **error)
{
  g_autoptr(PkHilinkXml) xml = NULL;
  const char *status;
  const char *wan_ip;
  PkModemState state = PK_MODEM_STATE_UNKNOWN;

  xml = hilink_call_finish (PK_HILINK_MODEM (modem), result, hilink_get_status_async, error);
  if (xml == NULL)
    return FALSE;

  status = pk_hilink_xml_get (xml, "ConnectionStatus");
  if (status == NULL)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_PROTOCOL,
                   "modem %s/api/monitoring/status: no ConnectionStatus in the answer",
                   PK_HILINK_MODEM (modem)->base_url);
      return FALSE;
    }
  if (g_str_equal (status, "900"))
    state = PK_MODEM_STATE_CONNECTING;
  else if (g_str_equal (status, "901"))
    state = PK_MODEM_STATE_CONNECTED;
  else if (g_str_equal (status, "902"))
    state = PK_MODEM_STATE_DISCONNECTED;
  else if (g_str_equal (status, "903"))
    state = PK_MODEM_STATE_DISCONNECTING;

  wan_ip = pk_hilink_xml_get (xml, "WanIPAddress");
  if (out_state != NULL)
    *out_state = state;
  if (out_wan_ip != NULL)
    *out_wan_ip = (wan_ip != NULL && *wan_ip != '\0') ? g_strdup (wan_ip) : NULL;
  return TRUE;
}

static GHashTable *
table_from_xml (PkHilinkXml        *xml,
                const char * const *map)
{
  GHashTable *table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GHashTableIter iter;
  gpointer key, value;

  /* The device's own names stay for what has no common name; what has
   * one is under that name only. */
  g_hash_table_iter_init (&iter, xml->fields);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      const char *name = key;

      for (gsize i = 0; map[i] != NULL; i += 2)
        if (g_str_equal (map[i], key))
          name = map[i + 1];
      if (*(const char *) value != '\0' || name == key)
        g_hash_table_insert (table, g_strdup (name), g_strdup (value));
    }
  return table;
}

static void
hilink_get_device_info_async (PkModem             *modem,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  hilink_call (PK_HILINK_MODEM (modem), "GET", "/api/device/information", NULL,
               hilink_get_device_info_async, cancellable, callback, user_data);
}

static GHashTable *
hilink_get_device_info_finish (PkModem       *modem,
                               GAsyncResult  *result,
                               GError       **error)
{
  static const char * const map[] = {
    "DeviceName", "device-name",
    "SerialNumber", "serial-number",
    "Imei", "imei",
    "Imsi", "imsi",
    "Iccid", "iccid",
    "Msisdn", "msisdn",
    "HardwareVersion", "hardware-version",
    "SoftwareVersion", "software-version",
    "WebUIVersion", "webui-version",
    "MacAddress1", "mac-address",
    "ProductFamily", "product-family",
    "workmode", "work-mode",
    NULL
  };
  g_autoptr(PkHilinkXml) xml = NULL;

  xml = hilink_call_finish (PK_HILINK_MODEM (modem), result, hilink_get_device_info_async, error);
  if (xml == NULL)
    return NULL;
  return table_from_xml (xml, map);
}

static void
hilink_get_signal_async (PkModem             *modem,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  hilink_call (PK_HILINK_MODEM (modem), "GET", "/api/device/signal", NULL,
               hilink_get_signal_async, cancellable, callback, user_data);
}

static GHashTable *
hilink_get_signal_finish (PkModem       *modem,
                          GAsyncResult  *result,
                          GError       **error)
{
  static const char * const map[] = {
    "cell_id", "cell-id",
    NULL
  };
  g_autoptr(PkHilinkXml) xml = NULL;

  xml = hilink_call_finish (PK_HILINK_MODEM (modem), result, hilink_get_signal_async, error);
  if (xml == NULL)
    return NULL;
  return table_from_xml (xml, map);
}

static void
hilink_get_traffic_async (PkModem             *modem,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  hilink_call (PK_HILINK_MODEM (modem), "GET", "/api/monitoring/traffic-statistics", NULL,
               hilink_get_traffic_async, cancellable, callback, user_data);
}

static gboolean
hilink_get_traffic_finish (PkModem         *modem,
                           GAsyncResult    *result,
                           PkModemTraffic  *out_traffic,
                           GError         **error)
{
  g_autoptr(PkHilinkXml) xml = NULL;

  xml = hilink_call_finish (PK_HILINK_MODEM (modem), result, hilink_get_traffic_async, error);
  if (xml == NULL)
    return FALSE;
  if (out_traffic != NULL)
    {
      out_traffic->rx_bytes = field_u64 (xml, "CurrentDownload");
      out_traffic->tx_bytes = field_u64 (xml, "CurrentUpload");
      out_traffic->rx_rate = field_u64 (xml, "CurrentDownloadRate");
      out_traffic->tx_rate = field_u64 (xml, "CurrentUploadRate");
      out_traffic->connect_time_s = field_u64 (xml, "CurrentConnectTime");
      out_traffic->total_rx_bytes = field_u64 (xml, "TotalDownload");
      out_traffic->total_tx_bytes = field_u64 (xml, "TotalUpload");
    }
  return TRUE;
}

static void
hilink_get_data_enabled_async (PkModem             *modem,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  hilink_call (PK_HILINK_MODEM (modem), "GET", "/api/dialup/mobile-dataswitch", NULL,
               hilink_get_data_enabled_async, cancellable, callback, user_data);
}

static gboolean
hilink_get_data_enabled_finish (PkModem       *modem,
                                GAsyncResult  *result,
                                gboolean      *out_enabled,
                                GError       **error)
{
  g_autoptr(PkHilinkXml) xml = NULL;
  const char *value;

  xml = hilink_call_finish (PK_HILINK_MODEM (modem), result, hilink_get_data_enabled_async, error);
  if (xml == NULL)
    return FALSE;
  value = pk_hilink_xml_get (xml, "dataswitch");
  if (value == NULL)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_PROTOCOL,
                   "modem %s/api/dialup/mobile-dataswitch: no dataswitch in the answer",
                   PK_HILINK_MODEM (modem)->base_url);
      return FALSE;
    }
  if (out_enabled != NULL)
    *out_enabled = g_str_equal (value, "1");
  return TRUE;
}

static void
hilink_set_data_enabled_async (PkModem             *modem,
                               gboolean             enabled,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  const char *pairs[] = { "dataswitch", enabled ? "1" : "0", NULL };

  hilink_call (PK_HILINK_MODEM (modem), "POST", "/api/dialup/mobile-dataswitch", pairs,
               hilink_set_data_enabled_async, cancellable, callback, user_data);
}

static gboolean
hilink_set_data_enabled_finish (PkModem       *modem,
                                GAsyncResult  *result,
                                GError       **error)
{
  g_autoptr(PkHilinkXml) xml = NULL;

  xml = hilink_call_finish (PK_HILINK_MODEM (modem), result, hilink_set_data_enabled_async, error);
  return xml != NULL && check_ok (PK_HILINK_MODEM (modem), xml, "/api/dialup/mobile-dataswitch", error);
}

static const struct {
  const char *code;
  PkModemNetworkMode mode;
} net_modes[] = {
  { "00", PK_MODEM_NETWORK_MODE_AUTO },
  { "01", PK_MODEM_NETWORK_MODE_2G_ONLY },
  { "02", PK_MODEM_NETWORK_MODE_3G_ONLY },
  { "03", PK_MODEM_NETWORK_MODE_4G_ONLY },
  { "0201", PK_MODEM_NETWORK_MODE_3G_2G },
  { "0301", PK_MODEM_NETWORK_MODE_4G_2G },
  { "0302", PK_MODEM_NETWORK_MODE_4G_3G },
};

static void
hilink_get_network_mode_async (PkModem             *modem,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  hilink_call (PK_HILINK_MODEM (modem), "GET", "/api/net/net-mode", NULL,
               hilink_get_network_mode_async, cancellable, callback, user_data);
}

static gboolean
hilink_get_network_mode_finish (PkModem             *modem,
                                GAsyncResult        *result,
                                PkModemNetworkMode  *out_mode,
                                GError             **error)
{
  PkHilinkModem *self = PK_HILINK_MODEM (modem);
  g_autoptr(PkHilinkXml) xml = NULL;
  const char *code;
  const char *band;

  xml = hilink_call_finish (self, result, hilink_get_network_mode_async, error);
  if (xml == NULL)
    return FALSE;

  code = pk_hilink_xml_get (xml, "NetworkMode");
  if (code == NULL)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_PROTOCOL,
                   "modem %s/api/net/net-mode: no NetworkMode in the answer", self->base_url);
      return FALSE;
    }
  if (out_mode != NULL)
    {
      *out_mode = PK_MODEM_NETWORK_MODE_UNKNOWN;
      for (gsize i = 0; i < G_N_ELEMENTS (net_modes); i++)
        if (g_str_equal (net_modes[i].code, code))
          *out_mode = net_modes[i].mode;
    }
  band = pk_hilink_xml_get (xml, "NetworkBand");
  if (band != NULL && *band != '\0')
    {
      g_free (self->network_band);
      self->network_band = g_strdup (band);
    }
  band = pk_hilink_xml_get (xml, "LTEBand");
  if (band != NULL && *band != '\0')
    {
      g_free (self->lte_band);
      self->lte_band = g_strdup (band);
    }
  return TRUE;
}

static void
hilink_set_network_mode_async (PkModem             *modem,
                               PkModemNetworkMode   mode,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  PkHilinkModem *self = PK_HILINK_MODEM (modem);
  const char *code = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (net_modes); i++)
    if (net_modes[i].mode == mode)
      code = net_modes[i].code;

  if (code == NULL)
    {
      g_task_report_new_error (self, callback, user_data, hilink_set_network_mode_async,
                               PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                               "network mode %s cannot be set", pk_modem_network_mode_to_string (mode));
      return;
    }

  {
    /* The order matters to the device: mode, then 3G bands, then LTE bands.
     * Without a previous read, all bands. */
    const char *pairs[] = {
      "NetworkMode", code,
      "NetworkBand", self->network_band != NULL ? self->network_band : "3FFFFFFF",
      "LTEBand", self->lte_band != NULL ? self->lte_band : "7FFFFFFFFFFFFFFF",
      NULL
    };

    hilink_call (self, "POST", "/api/net/net-mode", pairs,
                 hilink_set_network_mode_async, cancellable, callback, user_data);
  }
}

static gboolean
hilink_set_network_mode_finish (PkModem       *modem,
                                GAsyncResult  *result,
                                GError       **error)
{
  g_autoptr(PkHilinkXml) xml = NULL;

  if (g_async_result_is_tagged (result, hilink_set_network_mode_async) &&
      !g_task_get_task_data (G_TASK (result)))
    return g_task_propagate_boolean (G_TASK (result), error);

  xml = hilink_call_finish (PK_HILINK_MODEM (modem), result, hilink_set_network_mode_async, error);
  return xml != NULL && check_ok (PK_HILINK_MODEM (modem), xml, "/api/net/net-mode", error);
}

static void
hilink_reboot_async (PkModem             *modem,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  const char *pairs[] = { "Control", "1", NULL };

  hilink_call (PK_HILINK_MODEM (modem), "POST", "/api/device/control", pairs,
               hilink_reboot_async, cancellable, callback, user_data);
}

static gboolean
hilink_reboot_finish (PkModem       *modem,
                      GAsyncResult  *result,
                      GError       **error)
{
  g_autoptr(PkHilinkXml) xml = NULL;

  xml = hilink_call_finish (PK_HILINK_MODEM (modem), result, hilink_reboot_async, error);
  return xml != NULL && check_ok (PK_HILINK_MODEM (modem), xml, "/api/device/control", error);
}

static void
pk_hilink_modem_iface_init (PkModemInterface *iface)
{
  iface->get_status_async = hilink_get_status_async;
  iface->get_status_finish = hilink_get_status_finish;
  iface->get_device_info_async = hilink_get_device_info_async;
  iface->get_device_info_finish = hilink_get_device_info_finish;
  iface->get_signal_async = hilink_get_signal_async;
  iface->get_signal_finish = hilink_get_signal_finish;
  iface->get_traffic_async = hilink_get_traffic_async;
  iface->get_traffic_finish = hilink_get_traffic_finish;
  iface->get_data_enabled_async = hilink_get_data_enabled_async;
  iface->get_data_enabled_finish = hilink_get_data_enabled_finish;
  iface->set_data_enabled_async = hilink_set_data_enabled_async;
  iface->set_data_enabled_finish = hilink_set_data_enabled_finish;
  iface->get_network_mode_async = hilink_get_network_mode_async;
  iface->get_network_mode_finish = hilink_get_network_mode_finish;
  iface->set_network_mode_async = hilink_set_network_mode_async;
  iface->set_network_mode_finish = hilink_set_network_mode_finish;
  iface->reboot_async = hilink_reboot_async;
  iface->reboot_finish = hilink_reboot_finish;
}

/**
 * pk_hilink_error_get_code:
 * @error: (nullable): a `GError` from a [class@HilinkModem] call
 *
 * The Huawei error code of an error the device reported. Such errors are
 * in the %PK_ERROR domain and carry the code with them (whatever context
 * callers put in front of the message, and in copies); their message
 * reads `HiLink error N: ` followed by the code's meaning. An error made
 * elsewhere from such a message (one read back from a log or a JSON
 * answer) gives its code too, when the message starts with it.
 *
 * Returns: the Huawei code (e.g. 100004, 108006, 125003), or 0 if @error
 *   is %NULL or did not come from the device
 *
 * Since: 0.1
 */
guint
pk_hilink_error_get_code (const GError *error)
{
  const char *p;
  guint64 code;
  char *end = NULL;

  if (error == NULL || error->domain != PK_ERROR)
    return 0;
  if (pk_error_get_hilink_code (error) != 0)
    return pk_error_get_hilink_code (error);
  if (error->message == NULL || !g_str_has_prefix (error->message, PK_HILINK_ERROR_PREFIX))
    return 0;

  p = error->message + strlen (PK_HILINK_ERROR_PREFIX);
  if (!g_ascii_isdigit (*p))
    return 0;
  code = g_ascii_strtoull (p, &end, 10);
  if (end == NULL || *end != ':' || code > G_MAXUINT)
    return 0;
  return (guint) code;
}
