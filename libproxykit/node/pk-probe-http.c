/* pk-probe-http.c: the HTTP GET of a PkProbe, through its egress
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "pk-error.h"
#include "pk-probe-private.h"

#ifdef HAVE_LIBSOUP
#include <libsoup/soup.h>

#include "pk-egress-soup-private.h"

typedef struct {
  SoupSession *session;
  SoupMessage *message;
} Http;

static void
http_free (Http *http)
{
  g_clear_object (&http->message);
  g_clear_object (&http->session);
  g_free (http);
}

static void
http_sent (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  GTask *task = user_data;
  PkProbeRun *data = g_task_get_task_data (task);
  Http *http = data->kind_data;
  GError *error = NULL;
  g_autoptr(GInputStream) body = NULL;
  guint status;

  body = soup_session_send_finish (SOUP_SESSION (source), result, &error);
  if (body == NULL)
    {
      GError *egress_error = pk_egress_soup_message_steal_error (http->message);

      /* the egress could not be applied: say so, not "socket closed" */
      if (egress_error != NULL)
        {
          g_clear_error (&error);
          error = egress_error;
        }
      pk_probe_run_return (task, error);
      return;
    }
  g_input_stream_close (body, NULL, NULL);
  status = soup_message_get_status (http->message);
  if (status < 200 || status >= 400)
    error = g_error_new (PK_ERROR, PK_ERROR_CHECK_FAILED, "HTTP status %u %s", status,
                         soup_message_get_reason_phrase (http->message));
  pk_probe_run_return (task, error);
}

void
pk_probe_http_run (GTask      *task,
                   PkEgress   *egress,
                   const char *url)
{
  PkProbeRun *data = g_task_get_task_data (task);
  g_autoptr(GUri) uri = g_uri_parse (url, SOUP_HTTP_URI_FLAGS, NULL);
  Http *http;

  if (uri == NULL || (g_strcmp0 (g_uri_get_scheme (uri), "http") != 0 &&
                      g_strcmp0 (g_uri_get_scheme (uri), "https") != 0))
    {
      pk_probe_run_return (task, g_error_new (PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                                              "'%s' is not an http or https URL", url));
      return;
    }

  http = g_new0 (Http, 1);
  data->kind_data = http;
  data->kind_data_free = (GDestroyNotify) http_free;
  /* One session per run: connections must not be shared with other
   * egresses or kept across checks. The egress session has no proxy: a
   * check that went out through an http_proxy would check the proxy. */
  http->session = pk_egress_soup_session_new (egress,
                                              "timeout", (data->timeout_ms + 999) / 1000,
                                              "max-conns", 1,
                                              NULL);
  http->message = soup_message_new_from_uri ("GET", uri);
  soup_message_add_flags (http->message, SOUP_MESSAGE_NO_REDIRECT | SOUP_MESSAGE_NEW_CONNECTION);
  pk_egress_soup_message_prepare (http->session, http->message);
  soup_session_send_async (http->session, http->message, G_PRIORITY_DEFAULT,
                           data->inner, http_sent, task);
}

#else /* !HAVE_LIBSOUP */

void
pk_probe_http_run (GTask      *task,
                   PkEgress   *egress,
                   const char *url)
{
  pk_probe_run_return (task, g_error_new (PK_ERROR, PK_ERROR_NOT_SUPPORTED,
                                          "HTTP probes need libsoup, which this build lacks"));
}

#endif
