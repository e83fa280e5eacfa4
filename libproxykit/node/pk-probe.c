/* pk-probe.c: one asynchronous health check
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkProbe:
 *
 * One health check that runs asynchronously with a timeout and ends with
 * a result: passed or failed, the latency, and the reason of a failure
 * (the `GError` message).
 *
 * Kinds ([enum@ProbeKind]): a TCP connect through a [class@Egress], a process that
 * is alive, an interface that is up (IFF_UP, IFF_LOWER_UP and an IPv4
 * address: a PPP link's operstate reads "unknown"), a SOCKS5 round trip
 * through a listener, an HTTP GET through an egress, and a dongle's
 * diagnosis ([ctor@Probe.new_dongle]).
 *
 * [class@Probe] is one final class with a kind rather than a GInterface with
 * one implementation per check: the checks are few and fixed, a
 * [class@Watchdog] needs nothing from them but "run, with a timeout", and plain
 * constructors keep the API usable from the cffi bindings, which cannot
 * implement GObject interfaces. Anything else can feed results to a
 * watchdog directly with [method@Watchdog.feed].
 *
 * ```c
 * g_autoptr(PkProbe) probe = pk_probe_new_tcp_connect (egress, "1.1.1.1", 443);
 *
 * pk_probe_run_async (probe, 30000, NULL, on_probed, NULL);
 * ...
 * static void
 * on_probed (GObject *source, GAsyncResult *result, gpointer user_data)
 * {
 *   g_autoptr(GError) error = NULL;
 *   guint64 latency_us;
 *
 *   if (pk_probe_run_finish (PK_PROBE (source), result, &latency_us, &error))
 *     g_print ("ok in %" G_GUINT64_FORMAT " ms\n", latency_us / 1000);
 *   else
 *     g_print ("failed: %s\n", error->message);
 * }
 * ```
 *
 * The startup traffic check that pk-socks runs before it serves through a
 * tunnel is [func@startup_check_async]: a TCP connect to an IP address
 * (%PK_STARTUP_CHECK_TARGET_DEFAULT), tried several times with a delay.
 *
 * Since: 0.1
 */

#include "config.h"

#include "pk-error.h"
#include "pk-netif-private.h"
#include "pk-probe-private.h"
#include "pk-socks-client-private.h"
#include "pk-socks-proto-private.h"
#include "pk-util-private.h"

#define DEFAULT_TIMEOUT_MS 30000

struct _PkProbe
{
  GObject parent_instance;

  PkProbeKind kind;
  char *description;
  guint timeout_ms;

  PkEgress *egress;
  char *host;
  guint16 port;
  int pid;
  char *interface;
  char *proxy_host;
  guint16 proxy_port;
  char *url;
  PkDongle *dongle;
  PkRouting *routing;
  PkModem *modem;
};

G_DEFINE_FINAL_TYPE (PkProbe, pk_probe, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_TIMEOUT_MS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_COMPLETED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
pk_probe_finalize (GObject *object)
{
  PkProbe *self = PK_PROBE (object);

  g_free (self->description);
  g_clear_object (&self->egress);
  g_free (self->host);
  g_free (self->interface);
  g_free (self->proxy_host);
  g_free (self->url);
  g_clear_object (&self->dongle);
  g_clear_object (&self->routing);
  g_clear_object (&self->modem);

  G_OBJECT_CLASS (pk_probe_parent_class)->finalize (object);
}

static void
pk_probe_get_property (GObject    *object,
                       guint       prop_id,
                       GValue     *value,
                       GParamSpec *pspec)
{
  PkProbe *self = PK_PROBE (object);

  switch (prop_id)
    {
    case PROP_TIMEOUT_MS:
      g_value_set_uint (value, self->timeout_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_probe_set_property (GObject      *object,
                       guint         prop_id,
                       const GValue *value,
                       GParamSpec   *pspec)
{
  PkProbe *self = PK_PROBE (object);

  switch (prop_id)
    {
    case PROP_TIMEOUT_MS:
      pk_probe_set_timeout_ms (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_probe_class_init (PkProbeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = pk_probe_finalize;
  object_class->get_property = pk_probe_get_property;
  object_class->set_property = pk_probe_set_property;

  /**
   * PkProbe:timeout-ms:
   *
   * How long one run may take when [method@Probe.run_async] is given no
   * timeout, in milliseconds.
   *
   * Since: 0.1
   */
  properties[PROP_TIMEOUT_MS] =
    g_param_spec_uint ("timeout-ms", NULL, NULL, 1, G_MAXUINT, DEFAULT_TIMEOUT_MS,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * PkProbe::completed:
   * @self: the probe
   * @ok: whether the check passed
   * @latency_us: how long the run took, in microseconds
   * @reason: (nullable): why it failed, %NULL if it passed
   *
   * Emitted at the end of every run, before the run's callback.
   *
   * Since: 0.1
   */
  signals[SIGNAL_COMPLETED] =
    g_signal_new ("completed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 3, G_TYPE_BOOLEAN, G_TYPE_UINT64, G_TYPE_STRING);
}

static void
pk_probe_init (PkProbe *self)
{
  self->timeout_ms = DEFAULT_TIMEOUT_MS;
}

static PkProbe *
probe_new (PkProbeKind kind)
{
  PkProbe *self = g_object_new (PK_TYPE_PROBE, NULL);

  self->kind = kind;
  return self;
}

static char *
format_host_port (const char *host,
                  guint16     port)
{
  if (strchr (host, ':') != NULL)
    return g_strdup_printf ("[%s]:%u", host, port);
  return g_strdup_printf ("%s:%u", host, port);
}

/**
 * pk_probe_new_tcp_connect:
 * @egress: (nullable): the egress to connect through, %NULL for the default route
 * @host: an IP address or host name (resolved through @egress)
 * @port: the TCP port
 *
 * Creates a probe that passes when a TCP connection to @host:@port
 * through @egress is established (it is closed at once).
 *
 * Returns: (transfer full): a new [class@Probe]
 *
 * Since: 0.1
 */
PkProbe *
pk_probe_new_tcp_connect (PkEgress   *egress,
                          const char *host,
                          guint16     port)
{
  PkProbe *self;
  g_autofree char *target = NULL;
  g_autofree char *via = NULL;

  g_return_val_if_fail (egress == NULL || PK_IS_EGRESS (egress), NULL);
  g_return_val_if_fail (host != NULL, NULL);

  self = probe_new (PK_PROBE_TCP_CONNECT);
  self->egress = egress ? g_object_ref (egress) : pk_egress_new ();
  self->host = g_strdup (host);
  self->port = port;
  target = format_host_port (host, port);
  via = pk_egress_to_string (self->egress);
  self->description = g_strdup_printf ("tcp-connect %s via %s", target, via);
  return self;
}

/**
 * pk_probe_new_process:
 * @pid: a process id
 *
 * Creates a probe that passes while process @pid is alive (a zombie
 * counts as dead).
 *
 * Returns: (transfer full): a new [class@Probe]
 *
 * Since: 0.1
 */
PkProbe *
pk_probe_new_process (int pid)
{
  PkProbe *self = probe_new (PK_PROBE_PROCESS);

  self->pid = pid;
  self->description = g_strdup_printf ("process %d", pid);
  return self;
}

/**
 * pk_probe_new_interface:
 * @interface: an interface name, such as `ppp0`
 *
 * Creates a probe that passes while @interface exists, has IFF_UP and
 * IFF_LOWER_UP, and has an IPv4 address.
 *
 * Returns: (transfer full): a new [class@Probe]
 *
 * Since: 0.1
 */
PkProbe *
pk_probe_new_interface (const char *interface)
{
  PkProbe *self;

  g_return_val_if_fail (interface != NULL, NULL);

  self = probe_new (PK_PROBE_INTERFACE);
  self->interface = g_strdup (interface);
  self->description = g_strdup_printf ("interface %s", interface);
  return self;
}

/**
 * pk_probe_new_socks:
 * @proxy_host: the SOCKS5 listener's address
 * @proxy_port: the SOCKS5 listener's port
 * @target_host: the destination asked for (an IP address, or a name that
 *   the proxy resolves)
 * @target_port: the destination port
 *
 * Creates a probe that passes when the proxy accepts a SOCKS5 no-auth
 * greeting and answers a CONNECT to the target with "succeeded".
 *
 * Returns: (transfer full): a new [class@Probe]
 *
 * Since: 0.1
 */
PkProbe *
pk_probe_new_socks (const char *proxy_host,
                    guint16     proxy_port,
                    const char *target_host,
                    guint16     target_port)
{
  PkProbe *self;
  g_autofree char *proxy = NULL;
  g_autofree char *target = NULL;

  g_return_val_if_fail (proxy_host != NULL, NULL);
  g_return_val_if_fail (target_host != NULL && strlen (target_host) <= 255, NULL);

  self = probe_new (PK_PROBE_SOCKS);
  self->proxy_host = g_strdup (proxy_host);
  self->proxy_port = proxy_port;
  self->host = g_strdup (target_host);
  self->port = target_port;
  proxy = format_host_port (proxy_host, proxy_port);
  target = format_host_port (target_host, target_port);
  self->description = g_strdup_printf ("socks %s -> %s", proxy, target);
  return self;
}

/**
 * pk_probe_new_http:
 * @egress: (nullable): the egress to connect through, %NULL for the default route
 * @url: an `http://` or `https://` URL
 *
 * Creates a probe that passes when a GET of @url through @egress gets a
 * 2xx or 3xx status (redirects are not followed). The host name is
 * resolved by the system resolver: use an IP address in @url when the
 * answer must not depend on the host's DNS. Needs libsoup; without it,
 * runs fail with %PK_ERROR_NOT_SUPPORTED.
 *
 * Returns: (transfer full): a new [class@Probe]
 *
 * Since: 0.1
 */
PkProbe *
pk_probe_new_http (PkEgress   *egress,
                   const char *url)
{
  PkProbe *self;
  g_autofree char *via = NULL;

  g_return_val_if_fail (egress == NULL || PK_IS_EGRESS (egress), NULL);
  g_return_val_if_fail (url != NULL, NULL);

  self = probe_new (PK_PROBE_HTTP);
  self->egress = egress ? g_object_ref (egress) : pk_egress_new ();
  self->url = g_strdup (url);
  via = pk_egress_to_string (self->egress);
  self->description = g_strdup_printf ("http GET %s via %s", url, via);
  return self;
}

/**
 * pk_probe_new_dongle:
 * @dongle: the dongle
 * @routing: (nullable): the dongle's [class@Routing], or %NULL when the
 *   routing is not managed (then the interface is checked directly)
 * @modem: (nullable): the dongle's modem, or %NULL to leave the API out
 *
 * Creates a probe that asks what the diagnosis of the toggle ladder asks:
 * is the dongle's interface there, does it hold the host address
 * (`192.168.N.100`), is the routing right (with @routing), does the API
 * answer and is the modem connected with a WAN IP (with @modem). A run
 * fails with the first answer that is no, such as `interface enx... is
 * missing` or `routing: no rule from 192.168.11.100`.
 *
 * Returns: (transfer full): a new [class@Probe]
 *
 * Since: 0.2
 */
PkProbe *
pk_probe_new_dongle (PkDongle  *dongle,
                     PkRouting *routing,
                     PkModem   *modem)
{
  PkProbe *self;

  g_return_val_if_fail (PK_IS_DONGLE (dongle), NULL);
  g_return_val_if_fail (routing == NULL || PK_IS_ROUTING (routing), NULL);
  g_return_val_if_fail (modem == NULL || PK_IS_MODEM (modem), NULL);

  self = probe_new (PK_PROBE_DONGLE);
  self->dongle = g_object_ref (dongle);
  self->routing = routing ? g_object_ref (routing) : NULL;
  self->modem = modem ? g_object_ref (modem) : NULL;
  self->description = g_strdup_printf ("dongle %u", pk_dongle_get_id (dongle));
  return self;
}

/**
 * pk_probe_get_kind:
 * @self: a [class@Probe]
 *
 * Tells what the probe checks.
 *
 * Returns: what the probe checks
 *
 * Since: 0.1
 */
PkProbeKind
pk_probe_get_kind (PkProbe *self)
{
  g_return_val_if_fail (PK_IS_PROBE (self), 0);
  return self->kind;
}

/**
 * pk_probe_get_description:
 * @self: a [class@Probe]
 *
 * Gets a short description for logs, such as `interface ppp0`.
 *
 * Returns: a short description for logs, such as `interface ppp0`
 *
 * Since: 0.1
 */
const char *
pk_probe_get_description (PkProbe *self)
{
  g_return_val_if_fail (PK_IS_PROBE (self), NULL);
  return self->description;
}

/**
 * pk_probe_get_timeout_ms:
 * @self: a [class@Probe]
 *
 * Gets the default timeout of a run, in milliseconds.
 *
 * Returns: the default timeout of a run, in milliseconds
 *
 * Since: 0.1
 */
guint
pk_probe_get_timeout_ms (PkProbe *self)
{
  g_return_val_if_fail (PK_IS_PROBE (self), 0);
  return self->timeout_ms;
}

/**
 * pk_probe_set_timeout_ms:
 * @self: a [class@Probe]
 * @timeout_ms: the default timeout of a run, in milliseconds (at least 1)
 *
 * Sets the timeout used when [method@Probe.run_async] is given none.
 *
 * Since: 0.1
 */
void
pk_probe_set_timeout_ms (PkProbe *self,
                         guint    timeout_ms)
{
  g_return_if_fail (PK_IS_PROBE (self));

  timeout_ms = MAX (timeout_ms, 1);
  if (self->timeout_ms == timeout_ms)
    return;
  self->timeout_ms = timeout_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TIMEOUT_MS]);
}

/* --- running --- */

static void
run_data_free (PkProbeRun *data)
{
  if (data->kind_data_free != NULL)
    data->kind_data_free (data->kind_data);
  if (data->outer_id != 0)
    g_cancellable_disconnect (data->outer, data->outer_id);
  g_clear_object (&data->outer);
  if (data->timeout_source != NULL)
    {
      g_source_destroy (data->timeout_source);
      g_source_unref (data->timeout_source);
    }
  g_clear_object (&data->inner);
  if (data->stream != NULL)
    g_io_stream_close (data->stream, NULL, NULL);
  g_clear_object (&data->stream);
  g_free (data);
}

/* Every run ends here, so that the timeout is reported as such (not as
 * the cancellation it was implemented with) and "completed" is emitted. */
void
pk_probe_run_return (GTask  *task,
                     GError *error)
{
  PkProbe *self = g_task_get_source_object (task);
  PkProbeRun *data = g_task_get_task_data (task);
  guint64 latency = g_get_monotonic_time () - data->start;

  if (error != NULL && data->timed_out &&
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_clear_error (&error);
      error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "%s: timed out after %u ms",
                           self->description, data->timeout_ms);
    }
  else if (error != NULL && !g_str_has_prefix (error->message, self->description))
    g_prefix_error (&error, "%s: ", self->description);

  g_signal_emit (self, signals[SIGNAL_COMPLETED], 0, error == NULL, latency,
                 error ? error->message : NULL);

  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_int (task, (gssize) latency);
  g_object_unref (task);
}

static gboolean
run_timeout_cb (gpointer user_data)
{
  PkProbeRun *data = user_data;

  data->timed_out = TRUE;
  g_cancellable_cancel (data->inner);
  return G_SOURCE_REMOVE;
}

static void
run_outer_cancelled (GCancellable *cancellable,
                     gpointer      user_data)
{
  GCancellable *inner = user_data;

  g_cancellable_cancel (inner);
}

static void
tcp_connected (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  GTask *task = user_data;
  GError *error = NULL;
  g_autoptr(GSocket) socket = NULL;

  socket = pk_egress_connect_to_host_finish (PK_EGRESS (source), result, &error);
  if (socket != NULL)
    g_socket_close (socket, NULL);
  pk_probe_run_return (task, error);
}

/* --- SOCKS5 round trip (RFC 1928), no authentication --- */

static void
socks_answered (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  GTask *task = user_data;
  GError *error = NULL;
  guint8 reply = 0;

  if (!pk_socks_client_connect_finish (result, &reply, &error))
    pk_probe_run_return (task, error);
  else if (reply != PK_SOCKS_REPLY_SUCCEEDED)
    pk_probe_run_return (task, g_error_new (PK_ERROR, PK_ERROR_CHECK_FAILED, "the proxy answered 0x%02x (%s)",
                                            reply, pk_socks_reply_to_string (reply)));
  else
    pk_probe_run_return (task, NULL);
}

static void
socks_connected (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  GTask *task = user_data;
  PkProbe *self = g_task_get_source_object (task);
  PkProbeRun *data = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr(GSocket) socket = NULL;

  socket = pk_egress_connect_to_host_finish (PK_EGRESS (source), result, &error);
  if (socket == NULL)
    {
      pk_probe_run_return (task, error);
      return;
    }
  data->stream = G_IO_STREAM (g_socket_connection_factory_create_connection (socket));
  pk_socks_client_connect_async (data->stream, self->host, self->port, data->inner, socks_answered, task);
}

/* The finish functions of the probe return a count (a latency, a try
 * number) through g_task_return_int(). */
gboolean
pk_probe_propagate_count (GTask   *task,
                 guint64 *out_value,
                 GError **error)
{
  gssize n = g_task_propagate_int (task, error);

  if (n < 0)
    return FALSE;
  if (out_value)
    *out_value = n;
  return TRUE;
}

/**
 * pk_probe_run_async:
 * @self: a [class@Probe]
 * @timeout_ms: how long the run may take, 0 for [property@Probe:timeout-ms]
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when the run ends
 * @user_data: data for @callback
 *
 * Runs the check once. A run that takes longer than the timeout fails
 * with %G_IO_ERROR_TIMED_OUT.
 *
 * Since: 0.1
 */
void
pk_probe_run_async (PkProbe             *self,
                    guint                timeout_ms,
                    GCancellable        *cancellable,
                    GAsyncReadyCallback  callback,
                    gpointer             user_data)
{
  GTask *task;
  PkProbeRun *data;
  g_autofree char *reason = NULL;

  g_return_if_fail (PK_IS_PROBE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_probe_run_async);

  data = g_new0 (PkProbeRun, 1);
  data->start = g_get_monotonic_time ();
  data->timeout_ms = timeout_ms ? timeout_ms : self->timeout_ms;
  data->inner = g_cancellable_new ();
  g_task_set_task_data (task, data, (GDestroyNotify) run_data_free);

  if (cancellable != NULL)
    {
      data->outer = g_object_ref (cancellable);
      data->outer_id = g_cancellable_connect (cancellable, G_CALLBACK (run_outer_cancelled),
                                              data->inner, NULL);
    }
  data->timeout_source = g_timeout_source_new (data->timeout_ms);
  g_source_set_callback (data->timeout_source, run_timeout_cb, data, NULL);
  g_source_set_static_name (data->timeout_source, "[proxykit] probe timeout");
  g_source_attach (data->timeout_source, g_main_context_get_thread_default ());

  switch (self->kind)
    {
    case PK_PROBE_PROCESS:
      if (pk_process_is_alive (self->pid, &reason))
        pk_probe_run_return (task, NULL);
      else
        pk_probe_run_return (task, g_error_new_literal (PK_ERROR, PK_ERROR_CHECK_FAILED, reason));
      break;

    case PK_PROBE_INTERFACE:
      if (pk_netif_is_up (self->interface, NULL, &reason))
        pk_probe_run_return (task, NULL);
      else
        pk_probe_run_return (task, g_error_new_literal (PK_ERROR, PK_ERROR_CHECK_FAILED, reason));
      break;

    case PK_PROBE_TCP_CONNECT:
      pk_egress_connect_to_host_async (self->egress, self->host, self->port, data->timeout_ms,
                                       data->inner, tcp_connected, task);
      break;

    case PK_PROBE_SOCKS:
      {
        g_autoptr(PkEgress) plain = pk_egress_new ();
        pk_egress_connect_to_host_async (plain, self->proxy_host, self->proxy_port,
                                         data->timeout_ms, data->inner, socks_connected, task);
      }
      break;

    case PK_PROBE_HTTP:
      pk_probe_http_run (task, self->egress, self->url);
      break;

    case PK_PROBE_DONGLE:
      pk_probe_dongle_run (task, self->dongle, self->routing, self->modem);
      break;

    default:
      g_assert_not_reached ();
    }
}

/**
 * pk_probe_run_finish:
 * @self: a [class@Probe]
 * @result: the `GAsyncResult`
 * @out_latency_us: (out) (optional): how long the run took, in microseconds
 * @error: return location for a `GError`: the reason of a failure
 *
 * Finishes [method@Probe.run_async].
 *
 * Returns: %TRUE if the check passed, %FALSE with @error set if not
 *
 * Since: 0.1
 */
gboolean
pk_probe_run_finish (PkProbe       *self,
                     GAsyncResult  *result,
                     guint64       *out_latency_us,
                     GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pk_probe_run_async, FALSE);

  return pk_probe_propagate_count (G_TASK (result), out_latency_us, error);
}

/* --- retries --- */

typedef struct {
  guint tries;
  guint delay_ms;
  guint timeout_ms;
  guint attempt;
  GSource *delay_source;
  GSource *cancel_source;
  GError *last_error;
} RetryData;

static void
retry_data_clear_sources (RetryData *data)
{
  if (data->delay_source != NULL)
    {
      g_source_destroy (data->delay_source);
      g_clear_pointer (&data->delay_source, g_source_unref);
    }
  if (data->cancel_source != NULL)
    {
      g_source_destroy (data->cancel_source);
      g_clear_pointer (&data->cancel_source, g_source_unref);
    }
}

static void
retry_data_free (RetryData *data)
{
  retry_data_clear_sources (data);
  g_clear_error (&data->last_error);
  g_free (data);
}

static void retry_attempt (GTask *task);

static gboolean
retry_delay_done (gpointer user_data)
{
  GTask *task = user_data;
  RetryData *data = g_task_get_task_data (task);

  retry_data_clear_sources (data);
  if (g_task_return_error_if_cancelled (task))
    {
      g_object_unref (task);
      return G_SOURCE_REMOVE;
    }
  retry_attempt (task);
  return G_SOURCE_REMOVE;
}

static gboolean
retry_cancelled (GCancellable *cancellable,
                 gpointer      user_data)
{
  return retry_delay_done (user_data);
}

static void
retry_ran (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  GTask *task = user_data;
  PkProbe *self = PK_PROBE (source);
  RetryData *data = g_task_get_task_data (task);
  GError *error = NULL;
  GCancellable *cancellable = g_task_get_cancellable (task);

  if (pk_probe_run_finish (self, result, NULL, &error))
    {
      g_task_return_int (task, data->attempt);
      g_object_unref (task);
      return;
    }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  g_message ("check %u/%u failed: %s", data->attempt, data->tries, error->message);
  g_clear_error (&data->last_error);
  data->last_error = error;

  if (data->attempt >= data->tries)
    {
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_CHECK_FAILED,
                               "%s failed %u time%s; last: %s", self->description,
                               data->tries, data->tries == 1 ? "" : "s",
                               data->last_error->message);
      g_object_unref (task);
      return;
    }

  data->delay_source = pk_timeout_source_attach (NULL, data->delay_ms, retry_delay_done, task);
  if (cancellable != NULL)
    {
      data->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (data->cancel_source, G_SOURCE_FUNC (retry_cancelled), task, NULL);
      g_source_attach (data->cancel_source, g_main_context_get_thread_default ());
    }
}

static void
retry_attempt (GTask *task)
{
  PkProbe *self = g_task_get_source_object (task);
  RetryData *data = g_task_get_task_data (task);

  data->attempt++;
  pk_probe_run_async (self, data->timeout_ms, g_task_get_cancellable (task), retry_ran, task);
}

/**
 * pk_probe_run_with_retries_async:
 * @self: a [class@Probe]
 * @tries: how many runs at most (at least 1)
 * @delay_ms: the pause after a failed run, in milliseconds
 * @timeout_ms: the timeout of each run, 0 for [property@Probe:timeout-ms]
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when a run passed or all failed
 * @user_data: data for @callback
 *
 * Runs the check until it passes, at most @tries times, pausing @delay_ms
 * after each failure. Each failed run is logged.
 *
 * Since: 0.1
 */
void
pk_probe_run_with_retries_async (PkProbe             *self,
                                 guint                tries,
                                 guint                delay_ms,
                                 guint                timeout_ms,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  GTask *task;
  RetryData *data;

  g_return_if_fail (PK_IS_PROBE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_probe_run_with_retries_async);
  data = g_new0 (RetryData, 1);
  data->tries = MAX (tries, 1);
  data->delay_ms = delay_ms;
  data->timeout_ms = timeout_ms;
  g_task_set_task_data (task, data, (GDestroyNotify) retry_data_free);
  retry_attempt (task);
}

/**
 * pk_probe_run_with_retries_finish:
 * @self: a [class@Probe]
 * @result: the `GAsyncResult`
 * @out_tries: (out) (optional): the number of the run that passed
 * @error: return location for a `GError`
 *
 * Finishes [method@Probe.run_with_retries_async].
 *
 * Returns: %TRUE if a run passed; %FALSE with %PK_ERROR_CHECK_FAILED
 *   (naming the last reason) if all failed, or %G_IO_ERROR_CANCELLED
 *
 * Since: 0.1
 */
gboolean
pk_probe_run_with_retries_finish (PkProbe       *self,
                                  GAsyncResult  *result,
                                  guint         *out_tries,
                                  GError       **error)
{
  guint64 n = 0;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pk_probe_run_with_retries_async, FALSE);

  if (!pk_probe_propagate_count (G_TASK (result), &n, error))
    return FALSE;
  if (out_tries)
    *out_tries = n;
  return TRUE;
}

