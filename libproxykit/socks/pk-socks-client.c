/* pk-socks-client.c: the client side of a SOCKS5 CONNECT, on the codec
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "pk-error.h"
#include "pk-socks-client-private.h"
#include "pk-socks-proto-private.h"

typedef enum {
  AWAIT_METHOD,
  AWAIT_REPLY,
} Stage;

typedef struct {
  GIOStream *stream;
  PkSocksAddress target;
  Stage stage;
  guint8 out[PK_SOCKS_MAX_MESSAGE];
  guint8 in[PK_SOCKS_MAX_MESSAGE];
  gsize in_len;
} Client;

static void
client_free (Client *c)
{
  g_clear_object (&c->stream);
  g_free (c);
}

static void read_more (GTask *task);

static void
written (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  GTask *task = user_data;
  GError *error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  read_more (task);
}

static void
send_message (GTask *task,
              gsize  len)
{
  Client *c = g_task_get_task_data (task);

  g_output_stream_write_all_async (g_io_stream_get_output_stream (c->stream), c->out, len,
                                   G_PRIORITY_DEFAULT, g_task_get_cancellable (task), written, task);
}

/* What has been read so far: a whole answer moves the exchange on, a
 * partial one asks for more. */
static void
parse_answer (GTask *task)
{
  Client *c = g_task_get_task_data (task);
  GError *error = NULL;
  PkSocksParseResult r;
  gsize consumed = 0;

  if (c->stage == AWAIT_METHOD)
    {
      guint8 method = 0;

      r = pk_socks_parse_method_choice (c->in, c->in_len, &method, &consumed, &error);
      if (r == PK_SOCKS_PARSE_OK)
        {
          gsize n;

          if (method != PK_SOCKS_METHOD_NO_AUTH)
            {
              g_task_return_new_error (task, PK_ERROR, PK_ERROR_AUTH_FAILED,
                                       "the proxy refused no-auth (method 0x%02x)", method);
              g_object_unref (task);
              return;
            }
          /* nothing may follow the choice before our request */
          c->in_len = 0;
          c->stage = AWAIT_REPLY;
          n = pk_socks_encode_request (c->out, sizeof c->out, PK_SOCKS_CMD_CONNECT, &c->target);
          send_message (task, n);
          return;
        }
    }
  else
    {
      PkSocksReplyMessage reply;

      r = pk_socks_parse_reply (c->in, c->in_len, &reply, &consumed, &error);
      if (r == PK_SOCKS_PARSE_OK)
        {
          g_task_return_int (task, reply.reply);
          g_object_unref (task);
          return;
        }
    }

  if (r == PK_SOCKS_PARSE_ERROR)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  read_more (task);
}

static void
read_done (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  GTask *task = user_data;
  Client *c = g_task_get_task_data (task);
  GError *error = NULL;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  if (n < 0)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  if (n == 0)
    {
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_PROTOCOL,
                               "the proxy closed the connection during the handshake");
      g_object_unref (task);
      return;
    }
  c->in_len += n;
  parse_answer (task);
}

static void
read_more (GTask *task)
{
  Client *c = g_task_get_task_data (task);

  /* the codec asks for more only while a message can still fit */
  g_input_stream_read_async (g_io_stream_get_input_stream (c->stream), c->in + c->in_len,
                             sizeof c->in - c->in_len, G_PRIORITY_DEFAULT,
                             g_task_get_cancellable (task), read_done, task);
}

void
pk_socks_client_connect_async (GIOStream           *stream,
                               const char          *host,
                               guint16              port,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  static const guint8 no_auth = PK_SOCKS_METHOD_NO_AUTH;
  g_autoptr(GInetAddress) literal = NULL;
  GTask *task;
  Client *c;
  gsize n;

  g_return_if_fail (G_IS_IO_STREAM (stream));
  g_return_if_fail (host != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_socks_client_connect_async);
  c = g_new0 (Client, 1);
  c->stream = g_object_ref (stream);
  g_task_set_task_data (task, c, (GDestroyNotify) client_free);

  literal = g_inet_address_new_from_string (host);
  if (literal != NULL)
    {
      g_autoptr(GSocketAddress) sa = g_inet_socket_address_new (literal, port);
      pk_socks_address_from_socket_address (sa, &c->target);
    }
  else if (!pk_socks_address_set_domain (&c->target, host, port))
    {
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                               "'%s' cannot be sent in a SOCKS5 request", host);
      g_object_unref (task);
      return;
    }

  c->stage = AWAIT_METHOD;
  n = pk_socks_encode_greeting (c->out, sizeof c->out, &no_auth, 1);
  send_message (task, n);
}

gboolean
pk_socks_client_connect_finish (GAsyncResult  *result,
                                guint8        *out_reply,
                                GError       **error)
{
  gssize reply;

  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pk_socks_client_connect_async, FALSE);

  reply = g_task_propagate_int (G_TASK (result), error);
  if (reply < 0)
    return FALSE;
  if (out_reply != NULL)
    *out_reply = (guint8) reply;
  return TRUE;
}
