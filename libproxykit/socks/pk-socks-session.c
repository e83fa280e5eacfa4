/* pk-socks-session.c: one SOCKS5 client connection, from accept to close
 *
 * A session runs entirely in the thread-default main context of the
 * thread that accepted it, as a small state machine on that context's
 * PkPoller: one watch, with the client's descriptor in slot 0, its
 * handshake deadline and the server's stop cancellable (shared by every
 * watch of the poller: no signal handler per session), carries the
 * handshake (greeting, RFC 1929 auth, request: non-blocking reads into
 * the session's buffer), the connect (the upstream in slot 1), the UDP control
 * connection and, for CONNECT, the data path itself (a PkBridgeCore that
 * takes the watch over). No GSource or GIO stream per session. Names are
 * resolved and connects made through the listener's egress; UDP
 * ASSOCIATE runs a PkSocksUdpRelay. It ends with one log line.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pk-bridge-private.h"
#include "pk-egress-private.h"
#include "pk-error.h"
#include "pk-socks-proto-private.h"
#include "pk-socks-session-private.h"
#include "pk-socks-udp-private.h"
#include "pk-util-private.h"

typedef enum {
  STATE_GREETING,
  STATE_AUTH,
  STATE_REQUEST,
  STATE_CONNECTING,
  STATE_RELAYING,
  STATE_UDP,
  STATE_ENDED,
} State;

typedef struct {
  int ref_count;              /* the session's own thread only */
  const PkSocksSessionHost *host_iface;
  GObject *host;              /* the server */
  PkSocksSessionConfig *config;
  State state;

  int client;                 /* the descriptor: no GSocket */
  GInetAddress *client_inet;  /* IPv4-mapped shown as IPv4 */
  char *client_str;
  char *username;
  char *dest_str;
  char *denied;               /* why the client is refused, if it is */
  gboolean has_slot;
  gint64 start_us;

  GCancellable *stop;         /* the host's: ends the session */
  GCancellable *cancellable;  /* resolving only: cancelled by the stop and the end */
  gulong stop_handler;
  PkPollerWatch *watch;       /* slot 0: the client; NULL once the bridge has it */

  guint8 buf[PK_SOCKS_MAX_MESSAGE * 2];
  gsize len;

  /* CONNECT */
  guint16 dest_port;
  gint64 connect_started_us;  /* the connect timeout covers resolving too */
  int upstream;               /* -1 until connected */
  PkEgressConnectOp *connect_op;  /* while connecting */
  PkBridgeCore core;          /* CONNECT's data path, on the session's watch */

  guint8 command;

  /* UDP ASSOCIATE */
  PkSocksUdpRelay *udp;
  gulong udp_idle_handler;

  guint64 bytes_up;
  guint64 bytes_down;
} Session;

static void session_end (Session *s, guint result, const char *format, ...) G_GNUC_PRINTF (3, 4);
static void session_process (Session *s);

static Session *
session_ref (Session *s)
{
  s->ref_count++;
  return s;
}

static void
session_unref (Session *s)
{
  if (--s->ref_count > 0)
    return;

  g_assert (s->state == STATE_ENDED);
  if (s->stop_handler != 0)
    g_cancellable_disconnect (s->stop, s->stop_handler);
  g_clear_object (&s->cancellable);
  g_clear_object (&s->udp);
  g_clear_object (&s->client_inet);
  g_clear_pointer (&s->client_str, g_free);
  g_clear_pointer (&s->username, g_free);
  g_clear_pointer (&s->dest_str, g_free);
  g_clear_pointer (&s->denied, g_free);
  g_clear_pointer (&s->config, pk_socks_session_config_free);
  g_clear_object (&s->host);
  g_free (s);
}


/* @value in decimal at the end of @buf (no printf): the start. */
static const char *
format_u64 (char    *buf,
            gsize    size,
            guint64  value)
{
  char *p = buf + size - 1;

  *p = '\0';
  do
    {
      *--p = (char) ('0' + value % 10);
      value /= 10;
    }
  while (value != 0);
  return p;
}

static void
log_session_end (Session    *s,
                 guint       result,
                 const char *detail)
{
  const char *name = s->config->name;
  g_autofree char *egress = pk_egress_to_string (s->config->egress);
  char up_buf[24], down_buf[24], duration_buf[24];
  gint64 duration_us = g_get_monotonic_time () - s->start_us;
  const char *up = format_u64 (up_buf, sizeof up_buf, s->bytes_up);
  const char *down = format_u64 (down_buf, sizeof down_buf, s->bytes_down);
  const char *duration_ms = format_u64 (duration_buf, sizeof duration_buf,
                                        (guint64) MAX (duration_us, 0) / 1000);
  const char *result_str = pk_socks_result_to_string (result);
  const char *dest = s->dest_str != NULL ? s->dest_str : "-";
  const char *command = s->command == PK_SOCKS_CMD_CONNECT ? "connect"
                        : s->command == PK_SOCKS_CMD_UDP_ASSOCIATE ? "udp-associate"
                        : s->command == PK_SOCKS_CMD_BIND ? "bind"
                        : s->command == 0 ? "-" : "other";
  char stack[512];
  g_autofree char *heap = NULL;
  const char *message = stack;
  int n;

  /* The line is formatted once, on the stack unless it is long; the
   * fields are what g_log_structured() would pass, without its copy. */
#define SESSION_LINE_ARGS \
  name ? "[" : "", name ? name : "", name ? "]" : "", \
  s->client_str, \
  s->username ? " user=" : "", s->username ? s->username : "", \
  command, dest, egress, up, down, duration_us / 1e6, result_str, \
  detail ? " error=" : "", detail ? detail : ""
#define SESSION_LINE_FORMAT \
  "socks%s%s%s client=%s%s%s cmd=%s dest=%s egress=%s up=%s down=%s duration=%.3fs result=%s%s%s"
  n = g_snprintf (stack, sizeof stack, SESSION_LINE_FORMAT, SESSION_LINE_ARGS);
  if (n < 0 || (gsize) n >= sizeof stack)
    message = heap = g_strdup_printf (SESSION_LINE_FORMAT, SESSION_LINE_ARGS);
#undef SESSION_LINE_ARGS
#undef SESSION_LINE_FORMAT

  {
    const GLogField fields[] = {
      { "MESSAGE", message, -1 },
      { "PRIORITY", "6", -1 },
      { "GLIB_DOMAIN", G_LOG_DOMAIN, -1 },
      { "PK_LISTENER", name != NULL ? name : "", -1 },
      { "PK_CLIENT", s->client_str, -1 },
      { "PK_USER", s->username != NULL ? s->username : "", -1 },
      { "PK_DESTINATION", dest, -1 },
      { "PK_EGRESS", egress, -1 },
      { "PK_BYTES_UP", up, -1 },
      { "PK_BYTES_DOWN", down, -1 },
      { "PK_DURATION_MS", duration_ms, -1 },
      { "PK_RESULT", result_str, -1 },
      { "PK_COMMAND", command, -1 },
    };

    g_log_structured_array (G_LOG_LEVEL_INFO, fields, G_N_ELEMENTS (fields));
  }
}

/* Ends the session: stops everything it waits on, logs it, counts it and
 * closes both sockets. Pending callbacks hold their own reference and find
 * the session ended. */
static void
session_end (Session    *s,
             guint       result,
             const char *format,
             ...)
{
  g_autofree char *detail = NULL;

  if (s->state == STATE_ENDED)
    return;
  s->state = STATE_ENDED;

  if (format != NULL)
    {
      va_list args;

      va_start (args, format);
      detail = g_strdup_vprintf (format, args);
      va_end (args);
    }

  /* The connect first: its descriptor is in the watch. */
  g_clear_pointer (&s->connect_op, pk_egress_connect_op_cancel);
  g_clear_pointer (&s->watch, pk_poller_watch_destroy);
  if (s->cancellable != NULL)
    g_cancellable_cancel (s->cancellable);

  if (s->udp != NULL)
    {
      PkSocksUdpRelayStats stats;

      if (s->udp_idle_handler != 0)
        g_signal_handler_disconnect (s->udp, s->udp_idle_handler);
      s->udp_idle_handler = 0;
      pk_socks_udp_relay_stop (s->udp);
      pk_socks_udp_relay_get_stats (s->udp, &stats);
      s->bytes_up = stats.bytes_from_client;
      s->bytes_down = stats.bytes_to_client;
      /* The request's address of a UDP ASSOCIATE is where the client will
       * send from (often 0.0.0.0:0 or "0"), not a destination: the log
       * names where its datagrams went. */
      g_free (s->dest_str);
      s->dest_str = pk_socks_udp_relay_dup_destinations (s->udp);
    }

  log_session_end (s, result, detail);
  s->host_iface->ended (s->host, result, s->bytes_up, s->bytes_down);

  if (s->client >= 0)
    close (s->client);
  s->client = -1;
  if (s->upstream >= 0)
    close (s->upstream);
  s->upstream = -1;
  if (s->has_slot)
    s->host_iface->release_slot (s->host, s->client_inet);
  s->has_slot = FALSE;

  session_unref (s);
}

static gboolean
send_to_client (Session      *s,
                const guint8 *data,
                gsize         len)
{
  gssize n;

  /* Handshake replies are a few bytes on a socket whose send buffer is
   * empty: they go out in one call, or the client is not worth waiting
   * for. */
  do
    n = send (s->client, data, len, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n == (gssize) len)
    return TRUE;
  session_end (s, PK_SOCKS_RESULT_HANDSHAKE_FAILED, "cannot send to the client: %s",
               n < 0 ? g_strerror (errno) : "short write");
  return FALSE;
}

static void
reply_and_end (Session              *s,
               guint8                reply,
               const PkSocksAddress *bound,
               const char           *detail)
{
  guint8 out[PK_SOCKS_MAX_MESSAGE];
  PkSocksAddress zero = { .atyp = PK_SOCKS_ATYP_IPV4 };
  gsize n;

  n = pk_socks_encode_reply (out, sizeof out, reply, bound ? bound : &zero);
  if (n > 0 && !send_to_client (s, out, n))
    return;
  session_end (s, reply, "%s", detail);
}

/* --- handshake --- */

/* The client is readable during the handshake: what it sent goes into
 * the session's buffer, and the state machine takes what it can. */
static void
handshake_readable (Session *s)
{
  gssize n;

  if (s->len == sizeof s->buf)
    {
      session_end (s, PK_SOCKS_RESULT_HANDSHAKE_FAILED, "handshake too long");
      return;
    }

  do
    n = recv (s->client, s->buf + s->len, sizeof s->buf - s->len, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    {
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        session_end (s, PK_SOCKS_RESULT_HANDSHAKE_FAILED, "%s", g_strerror (errno));
      return;
    }
  if (n == 0)
    {
      session_end (s, PK_SOCKS_RESULT_HANDSHAKE_FAILED, "client closed the connection during the handshake");
      return;
    }

  s->len += n;
  session_process (s);
}

static void control_readable (Session *s);

/* The session's watch, until the bridge takes it over: the client's
 * descriptor (slot 0), the handshake deadline (-1) and the stop
 * (PK_POLLER_CANCELLED); while connecting, the upstream's descriptor
 * (slot 1) and the connect's deadline, for the egress connect. */
static void
session_watch_cb (PkPollerWatch *watch,
                  int            slot,
                  GIOCondition   condition,
                  gpointer       data)
{
  Session *s = data;

  session_ref (s);
  if (s->connect_op != NULL && (slot == 1 || slot == -1 || slot == PK_POLLER_CANCELLED))
    /* The connect's descriptor, its deadline, or the stop, which it
     * reports (connect_done()). */
    pk_egress_connect_op_dispatch (s->connect_op, slot, condition);
  else if (slot == PK_POLLER_CANCELLED)
    {
      /* A resolve ends by itself on cancellation, and reports it. */
      if (s->state <= STATE_REQUEST || s->state == STATE_UDP)
        session_end (s, s->state == STATE_UDP ? PK_SOCKS_REPLY_SUCCEEDED : PK_SOCKS_RESULT_HANDSHAKE_FAILED,
                     "closed by server stop");
    }
  else if (slot == -1)
    {
      if (s->state <= STATE_REQUEST)
        session_end (s, PK_SOCKS_RESULT_HANDSHAKE_TIMEOUT, "no request within %u ms",
                     s->config->handshake_timeout_ms);
    }
  else if (s->state <= STATE_REQUEST)
    handshake_readable (s);
  else if (s->state == STATE_UDP)
    control_readable (s);
  else if (s->state == STATE_CONNECTING)
    /* Early data (or a hang-up) while the connect runs: it waits in the
     * socket for the bridge; nothing to read until then. */
    pk_poller_watch_set_events (watch, 0, 0);
  session_unref (s);
}

static void
consume (Session *s,
         gsize    n)
{
  memmove (s->buf, s->buf + n, s->len - n);
  s->len -= n;
}

/* Compares every byte whatever the first difference, so that timing does
 * not tell how much of a password was right. */
static gboolean
secret_equal (const char *a,
              const char *b)
{
  gsize la = strlen (a), lb = strlen (b);
  guint8 diff = la != lb;

  for (gsize i = 0; i < lb; i++)
    diff |= (guint8) ((i < la ? a[i] : 0) ^ b[i]);
  return diff == 0;
}

static void start_connect (Session *s, const PkSocksRequest *request);
static void start_udp (Session *s, const PkSocksRequest *request);

static gboolean
process_greeting (Session *s)
{
  PkSocksGreeting greeting;
  g_autoptr(GError) error = NULL;
  gboolean auth = g_hash_table_size (s->config->policy->users) > 0;
  guint8 wanted = auth ? PK_SOCKS_METHOD_USERPASS : PK_SOCKS_METHOD_NO_AUTH;
  guint8 chosen = PK_SOCKS_METHOD_NO_ACCEPTABLE;
  guint8 out[2];
  gsize consumed;

  switch (pk_socks_parse_greeting (s->buf, s->len, &greeting, &consumed, &error))
    {
    case PK_SOCKS_PARSE_NEED_MORE:
      return FALSE;
    case PK_SOCKS_PARSE_ERROR:
      session_end (s, PK_SOCKS_RESULT_HANDSHAKE_FAILED, "%s", error->message);
      return FALSE;
    case PK_SOCKS_PARSE_OK:
      break;
    }
  consume (s, consumed);

  for (guint i = 0; i < greeting.n_methods; i++)
    if (greeting.methods[i] == wanted)
      chosen = wanted;

  /* A client that may not connect (outside the allowlist, over a cap) is
   * refused before it can send credentials: checking them would answer
   * whether a password is right to someone who may not use it anyway. */
  if (auth && s->denied != NULL)
    {
      if (send_to_client (s, out, pk_socks_encode_method_choice (out, sizeof out,
                                                                 PK_SOCKS_METHOD_NO_ACCEPTABLE)))
        session_end (s, PK_SOCKS_REPLY_NOT_ALLOWED, "%s (refused before authentication)", s->denied);
      return FALSE;
    }

  if (!send_to_client (s, out, pk_socks_encode_method_choice (out, sizeof out, chosen)))
    return FALSE;

  if (chosen == PK_SOCKS_METHOD_NO_ACCEPTABLE)
    {
      session_end (s, PK_SOCKS_RESULT_NO_ACCEPTABLE_METHOD, "client did not offer %s",
                   auth ? "username/password authentication" : "the no-authentication method");
      return FALSE;
    }

  s->state = chosen == PK_SOCKS_METHOD_USERPASS ? STATE_AUTH : STATE_REQUEST;
  return TRUE;
}

static gboolean
process_auth (Session *s)
{
  PkSocksUserPass userpass;
  g_autoptr(GError) error = NULL;
  const char *password;
  gboolean ok;
  guint8 out[2];
  gsize consumed;

  switch (pk_socks_parse_userpass (s->buf, s->len, &userpass, &consumed, &error))
    {
    case PK_SOCKS_PARSE_NEED_MORE:
      return FALSE;
    case PK_SOCKS_PARSE_ERROR:
      session_end (s, PK_SOCKS_RESULT_HANDSHAKE_FAILED, "%s", error->message);
      return FALSE;
    case PK_SOCKS_PARSE_OK:
      break;
    }
  consume (s, consumed);

  password = g_hash_table_lookup (s->config->policy->users, userpass.username);
  ok = secret_equal (password != NULL ? password : "", userpass.password) && password != NULL;
  memset (userpass.password, 0, sizeof userpass.password);

  if (!send_to_client (s, out, pk_socks_encode_userpass_status (out, sizeof out, ok)))
    return FALSE;

  if (!ok)
    {
      g_autofree char *user = g_strescape (userpass.username, NULL);
      session_end (s, PK_SOCKS_RESULT_AUTH_FAILED, password != NULL ? "wrong password for user '%s'"
                                                                    : "unknown user '%s'", user);
      return FALSE;
    }

  s->username = g_strescape (userpass.username, NULL);
  s->state = STATE_REQUEST;
  return TRUE;
}

static gboolean
process_request (Session *s)
{
  PkSocksRequest request;
  g_autoptr(GError) error = NULL;
  gsize consumed;

  switch (pk_socks_parse_request (s->buf, s->len, &request, &consumed, &error))
    {
    case PK_SOCKS_PARSE_NEED_MORE:
      return FALSE;
    case PK_SOCKS_PARSE_ERROR:
      if (g_error_matches (error, PK_ERROR, PK_ERROR_NOT_SUPPORTED))
        reply_and_end (s, PK_SOCKS_REPLY_ADDRESS_TYPE_NOT_SUPPORTED, NULL, error->message);
      else
        {
          guint8 out[PK_SOCKS_MAX_MESSAGE];
          PkSocksAddress zero = { .atyp = PK_SOCKS_ATYP_IPV4 };
          gsize n = pk_socks_encode_reply (out, sizeof out, PK_SOCKS_REPLY_GENERAL_FAILURE, &zero);

          if (send_to_client (s, out, n))
            session_end (s, PK_SOCKS_RESULT_HANDSHAKE_FAILED, "%s", error->message);
        }
      return FALSE;
    case PK_SOCKS_PARSE_OK:
      break;
    }
  consume (s, consumed);

  /* The handshake is over: no deadline. The client stays in the set
   * until it sends early (see session_watch_cb()), so that the bridge
   * usually finds it there. */
  pk_poller_watch_set_deadline (s->watch, -1);
  s->dest_str = pk_socks_address_to_string (&request.address);
  s->command = request.command;
  s->host_iface->observe (s->host, PK_SOCKS_LATENCY_HANDSHAKE, g_get_monotonic_time () - s->start_us);

  if (s->denied != NULL)
    {
      reply_and_end (s, PK_SOCKS_REPLY_NOT_ALLOWED, NULL, s->denied);
      return FALSE;
    }

  switch (request.command)
    {
    case PK_SOCKS_CMD_CONNECT:
      start_connect (s, &request);
      break;
    case PK_SOCKS_CMD_UDP_ASSOCIATE:
      start_udp (s, &request);
      break;
    default:
      {
        g_autofree char *detail = g_strdup_printf ("command 0x%02x is not supported", request.command);
        reply_and_end (s, PK_SOCKS_REPLY_COMMAND_NOT_SUPPORTED, NULL, detail);
      }
      break;
    }
  return FALSE;
}

static void
session_process (Session *s)
{
  gboolean more = TRUE;

  session_ref (s);
  while (more && s->state != STATE_ENDED)
    {
      switch (s->state)
        {
        case STATE_GREETING:
          more = process_greeting (s);
          break;
        case STATE_AUTH:
          more = process_auth (s);
          break;
        case STATE_REQUEST:
          more = process_request (s);
          break;
        default:
          more = FALSE;
          break;
        }
    }
  session_unref (s);
}

/* --- CONNECT --- */

static gboolean
destination_denied (PkSocksPolicy *policy,
                    GInetAddress  *address)
{
  return pk_socks_policy_denies (policy, address);
}

static void
bridge_done (PkBridgeCore *core,
             GError       *error,
             gpointer      data)
{
  Session *s = data;

  /* The core destroyed the watch and closed both descriptors. */
  s->watch = NULL;
  s->client = -1;
  s->upstream = -1;
  s->bytes_up += core->dir[0].bytes;
  s->bytes_down += core->dir[1].bytes;

  if (error == NULL)
    session_end (s, PK_SOCKS_REPLY_SUCCEEDED, NULL);
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    session_end (s, PK_SOCKS_REPLY_SUCCEEDED, "idle for %u ms", s->config->idle_timeout_ms);
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    session_end (s, PK_SOCKS_REPLY_SUCCEEDED, "closed by server stop");
  else
    session_end (s, PK_SOCKS_REPLY_SUCCEEDED, "%s", error->message);
  g_clear_error (&error);
  session_unref (s);
}

static void
connected (Session *s)
{
  PkSockaddr native = { .len = sizeof native.storage };
  PkSocksAddress bound = { .atyp = PK_SOCKS_ATYP_IPV4 };
  guint8 out[PK_SOCKS_MAX_MESSAGE];
  gsize n;

  if (getsockname (s->upstream, &native.sa, &native.len) < 0 ||
      !pk_socks_address_from_sockaddr (&native, &bound))
    {
      reply_and_end (s, PK_SOCKS_REPLY_GENERAL_FAILURE, NULL, "upstream socket has no local address");
      return;
    }

  n = pk_socks_encode_reply (out, sizeof out, PK_SOCKS_REPLY_SUCCEEDED, &bound);
  if (!send_to_client (s, out, n))
    return;

  /* Bytes the client sent after its request, without waiting for the
   * reply, belong to the destination. */
  if (s->len > 0)
    {
      gssize sent;

      do
        sent = send (s->upstream, s->buf, s->len, MSG_NOSIGNAL);
      while (sent < 0 && errno == EINTR);
      if (sent != (gssize) s->len)
        {
          session_end (s, PK_SOCKS_REPLY_SUCCEEDED, "cannot pass early data on: %s",
                       sent < 0 ? g_strerror (errno) : "short write");
          return;
        }
      s->bytes_up += s->len;
      s->len = 0;
    }

  /* A stop that came while the connect finished: the watch has had its
   * cancellation already. */
  if (g_cancellable_is_cancelled (s->stop))
    {
      session_end (s, PK_SOCKS_REPLY_SUCCEEDED, "closed by server stop");
      return;
    }

  /* The bridge takes the session's watch over, with the client already
   * in it and the stop cancellable; it calls bridge_done() once. */
  s->state = STATE_RELAYING;
  /* It closes both descriptors at the end (which takes them out of the
   * epoll set and sends the last FIN without a shutdown()). */
  pk_socket_set_nodelay (s->upstream);
  pk_bridge_core_start (&s->core, s->client, s->upstream,
                        g_steal_pointer (&s->watch), pk_pipe_pool_get_thread_default (),
                        s->config->idle_timeout_ms, TRUE, bridge_done, session_ref (s));
}

/* The egress connect's plain callback, in the session's thread: never
 * after session_end(), which cancels the connect. */
static void
connect_done (int      fd,
              GError  *error,
              gpointer data)
{
  Session *s = data;

  s->connect_op = NULL;
  if (fd >= 0)
    {
      s->upstream = fd;
      s->host_iface->observe (s->host, PK_SOCKS_LATENCY_CONNECT,
                              g_get_monotonic_time () - s->connect_started_us);
      connected (s);
    }
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    session_end (s, PK_SOCKS_REPLY_GENERAL_FAILURE, "closed by server stop");
  else
    {
      if (g_error_matches (error, PK_ERROR, PK_ERROR_EGRESS))
        {
          /* Never another route: say so where an operator looks. */
          const char *name = s->config->name;

          g_warning ("socks%s%s%s: %s: %s", name ? "[" : "", name ? name : "", name ? "]" : "",
                     s->dest_str, error->message);
        }
      reply_and_end (s, pk_socks_reply_from_error (error), NULL, error->message);
    }
  g_clear_error (&error);
}

static gboolean
destination_allowed (GInetAddress *address,
                     gpointer      user_data)
{
  return !destination_denied (user_data, address);
}

/* The egress tries the addresses policy allows, in order, under the
 * connect timeout; none allowed is PK_ERROR_NOT_ALLOWED. */
static void
connect_addresses (Session *s,
                   GList   *addresses)
{
  PkEgressConnectOp *op;

  /* It may be over (and the session with it) before this returns. */
  session_ref (s);
  op = pk_egress_connect_op_start (s->config->egress, addresses, s->dest_port, s->dest_str,
                                   s->connect_started_us, s->config->connect_timeout_ms,
                                   destination_allowed, s->config->policy, s->stop,
                                   s->watch, 1, connect_done, s);
  if (op != NULL)
    s->connect_op = op;
  pk_inet_address_list_free (addresses);
  session_unref (s);
}

static void
resolve_done_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  Session *s = data;
  g_autoptr(GError) error = NULL;
  GList *addresses = pk_egress_resolve_finish (PK_EGRESS (source), result, &error);

  if (s->state == STATE_ENDED)
    pk_inet_address_list_free (addresses);
  else if (addresses == NULL)
    reply_and_end (s, pk_socks_reply_from_error (error), NULL, error->message);
  else
    connect_addresses (s, addresses);
  session_unref (s);
}

static void
stop_requested_cb (GCancellable *stop,
                   gpointer      data)
{
  /* May run in another thread: cancelling is thread-safe, and the
   * session's own sources notice in its context. */
  g_cancellable_cancel (data);
}

static void
start_connect (Session              *s,
               const PkSocksRequest *request)
{
  guint connect_timeout = s->config->connect_timeout_ms;

  s->state = STATE_CONNECTING;
  s->dest_port = request->address.port;
  s->connect_started_us = g_get_monotonic_time ();

  if (request->address.atyp == PK_SOCKS_ATYP_DOMAIN)
    {
      guint resolve_timeout = s->config->resolve_timeout_ms;

      if (connect_timeout > 0 && (resolve_timeout == 0 || connect_timeout < resolve_timeout))
        resolve_timeout = connect_timeout;
      /* The destination policy must see the addresses before anything
       * connects to them, so resolving and connecting are two steps. A
       * cancellable of its own, which the end of the session cancels too. */
      s->cancellable = g_cancellable_new ();
      s->stop_handler = g_cancellable_connect (s->stop, G_CALLBACK (stop_requested_cb),
                                               g_object_ref (s->cancellable), g_object_unref);
      pk_egress_resolve_async (s->config->egress, request->address.addr.domain, resolve_timeout,
                               s->cancellable, resolve_done_cb, session_ref (s));
    }
  else
    {
      GInetAddress *inet = request->address.atyp == PK_SOCKS_ATYP_IPV4
                           ? g_inet_address_new_from_bytes (request->address.addr.ipv4, G_SOCKET_FAMILY_IPV4)
                           : g_inet_address_new_from_bytes (request->address.addr.ipv6, G_SOCKET_FAMILY_IPV6);

      connect_addresses (s, g_list_prepend (NULL, inet));
    }
}

/* --- UDP ASSOCIATE --- */

static gboolean
udp_filter (GInetAddress *address,
            guint16       port,
            gpointer      data)
{
  return !destination_denied (data, address);
}

static gboolean
udp_idle_end_cb (gpointer data)
{
  Session *s = data;

  session_end (s, PK_SOCKS_REPLY_SUCCEEDED, "UDP association idle for %u ms",
               s->config->udp_idle_timeout_ms);
  return G_SOURCE_REMOVE;
}

static void
udp_idle_cb (PkSocksUdpRelay *relay,
             gpointer         data)
{
  Session *s = data;
  GSource *idle = g_idle_source_new ();

  /* Not from inside the relay's own signal: ending drops the relay. */
  g_source_set_callback (idle, udp_idle_end_cb, session_ref (s), (GDestroyNotify) session_unref);
  g_source_set_static_name (idle, "[proxykit] socks UDP idle");
  g_source_attach (idle, g_main_context_get_thread_default ());
  g_source_unref (idle);
}

/* The UDP association's TCP connection: anything the client sends is
 * dropped; RFC 1928: the association ends when the connection does. */
static void
control_readable (Session *s)
{
  char discard[512];
  gssize n;

  do
    n = recv (s->client, discard, sizeof discard, 0);
  while (n < 0 && errno == EINTR);
  if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)))
    return;
  if (n == 0)
    session_end (s, PK_SOCKS_REPLY_SUCCEEDED, NULL);
  else
    session_end (s, PK_SOCKS_REPLY_SUCCEEDED, "%s", g_strerror (errno));
}

static void
start_udp (Session              *s,
           const PkSocksRequest *request)
{
  g_autoptr(GSocketAddress) local = NULL;
  g_autoptr(GSocketAddress) advertise = NULL;
  g_autoptr(GSocketAddress) reply_address = NULL;
  g_autoptr(GError) error = NULL;
  PkSocksAddress bound;
  guint8 out[PK_SOCKS_MAX_MESSAGE];
  gsize n;

  {
    PkSockaddr native = { .len = sizeof native.storage };

    if (getsockname (s->client, &native.sa, &native.len) == 0)
      local = pk_sockaddr_to_socket_address (&native);
    if (local == NULL)
      {
        reply_and_end (s, PK_SOCKS_REPLY_GENERAL_FAILURE, NULL, "the client's socket has no local address");
        return;
      }
  }
  if (s->config->udp_advertise != NULL)
    advertise = g_inet_socket_address_new (s->config->udp_advertise, 0);

  s->udp = pk_socks_udp_relay_new (local, s->client_inet, request->address.port,
                                   s->config->egress, advertise,
                                   s->config->udp_idle_timeout_ms, &error);
  if (s->udp == NULL)
    {
      reply_and_end (s, PK_SOCKS_REPLY_GENERAL_FAILURE, NULL, error->message);
      return;
    }
  pk_socks_udp_relay_set_destination_filter (s->udp, udp_filter,
                                             pk_socks_policy_ref (s->config->policy),
                                             (GDestroyNotify) pk_socks_policy_unref);

  reply_address = pk_socks_udp_relay_get_reply_address (s->udp);
  if (!pk_socks_address_from_socket_address (reply_address, &bound))
    {
      reply_and_end (s, PK_SOCKS_REPLY_GENERAL_FAILURE, NULL, "UDP relay has no usable address");
      return;
    }

  n = pk_socks_encode_reply (out, sizeof out, PK_SOCKS_REPLY_SUCCEEDED, &bound);
  if (!send_to_client (s, out, n))
    return;

  s->state = STATE_UDP;
  s->udp_idle_handler = g_signal_connect (s->udp, "idle", G_CALLBACK (udp_idle_cb), s);
  pk_socks_udp_relay_start (s->udp);

  pk_poller_watch_set_events (s->watch, 0, G_IO_IN);
}

/* --- start --- */

void
pk_socks_session_start (const PkSocksSessionHost *iface,
                        GObject                  *host,
                        int                       fd,
                        const PkSockaddr         *peer_native)
{
  Session *s = g_new0 (Session, 1);
  PkSockaddr plain = *peer_native;
  g_autoptr(GError) error = NULL;
  PkPoller *poller;

  s->ref_count = 1;
  s->host_iface = iface;
  s->host = g_object_ref (host);
  s->config = iface->dup_config (host);
  s->client = fd;
  s->upstream = -1;
  s->start_us = g_get_monotonic_time ();
  s->stop = iface->get_stop_cancellable (host);

  /* The client's address, IPv4-mapped shown as IPv4, straight from the
   * native one (no GSocketAddress). */
  pk_sockaddr_unmap (&plain);
  if (plain.sa.sa_family != AF_INET && plain.sa.sa_family != AF_INET6)
    {
      s->client_str = g_strdup ("?");
      s->client_inet = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
      session_end (s, PK_SOCKS_RESULT_HANDSHAKE_FAILED, "client address unknown: not an IP socket");
      return;
    }
  if (plain.sa.sa_family == AF_INET)
    s->client_inet = g_inet_address_new_from_bytes ((guint8 *) &plain.in.sin_addr, G_SOCKET_FAMILY_IPV4);
  else
    s->client_inet = g_inet_address_new_from_bytes ((guint8 *) &plain.in6.sin6_addr, G_SOCKET_FAMILY_IPV6);
  s->client_str = pk_format_sockaddr (&plain);

  if (s->config->policy->allow != NULL && !pk_cidr_list_matches (s->config->policy->allow, s->client_inet))
    s->denied = g_strdup_printf ("client %s is not in the allowlist", s->client_str);
  else if ((s->denied = iface->take_slot (host, s->client_inet)) == NULL)
    s->has_slot = TRUE;

  /* One watch for the whole session: see the top of this file. */
  poller = pk_poller_get_thread_default (&error);
  if (poller == NULL)
    {
      session_end (s, PK_SOCKS_RESULT_HANDSHAKE_FAILED, "%s", error->message);
      return;
    }
  s->watch = pk_poller_watch_new (poller, session_watch_cb, s);
  if (!pk_poller_watch_set_fd (s->watch, 0, fd, G_IO_IN, &error))
    {
      session_end (s, PK_SOCKS_RESULT_HANDSHAKE_FAILED, "%s", error->message);
      return;
    }
  if (s->config->handshake_timeout_ms > 0)
    pk_poller_watch_set_deadline (s->watch, s->start_us +
                                            (gint64) s->config->handshake_timeout_ms * G_TIME_SPAN_MILLISECOND);
  pk_poller_watch_set_cancellable (s->watch, s->stop);
}
