/* pk-startup-check.c: the startup traffic check of a tunnel
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "pk-error.h"
#include "pk-probe-private.h"
#include "pk-util-private.h"

/**
 * pk_startup_check_get_settings:
 * @config: (nullable): a [class@Config], or %NULL for the environment alone
 * @out_target: (out) (optional) (transfer full): the target, `HOST:PORT`
 * @out_tries: (out) (optional): how many tries
 * @out_delay_ms: (out) (optional): the pause between tries
 * @out_timeout_ms: (out) (optional): the timeout of each try
 * @error: return location for a `GError`
 *
 * Reads the startup check's settings: key `retries`
 * (`SOCKS_STARTUP_CHECK_RETRIES`, default 5), `retry-delay`
 * (`SOCKS_STARTUP_RETRY_DELAY`, default 20 s), `timeout`
 * (`SOCKS_STARTUP_CHECK_TIMEOUT`, default 30 s) and `target`
 * (`SOCKS_STARTUP_CHECK_TARGET`, default %PK_STARTUP_CHECK_TARGET_DEFAULT)
 * of section `[startup-check]`, the environment winning over the file.
 *
 * Returns: %TRUE, or %FALSE with @error naming the bad value
 *
 * Since: 0.1
 */
gboolean
pk_startup_check_get_settings (PkConfig  *config,
                               char     **out_target,
                               guint     *out_tries,
                               guint     *out_delay_ms,
                               guint     *out_timeout_ms,
                               GError   **error)
{
  g_autoptr(PkConfig) own = NULL;
  guint64 tries, delay, timeout;
  g_autofree char *target = NULL;
  g_autofree char *host = NULL;
  guint16 port;

  if (config == NULL)
    config = own = pk_config_new ();

  if (!pk_config_get_uint (config, "startup-check", "retries", "SOCKS_STARTUP_CHECK_RETRIES",
                           1, 1000, 5, &tries, error) ||
      !pk_config_get_duration_ms (config, "startup-check", "retry-delay", "SOCKS_STARTUP_RETRY_DELAY",
                                  20000, &delay, error) ||
      !pk_config_get_duration_ms (config, "startup-check", "timeout", "SOCKS_STARTUP_CHECK_TIMEOUT",
                                  30000, &timeout, error))
    return FALSE;
  target = pk_config_dup_string (config, "startup-check", "target", "SOCKS_STARTUP_CHECK_TARGET",
                                 PK_STARTUP_CHECK_TARGET_DEFAULT);
  if (!pk_parse_host_port (target, 0, &host, &port, error))
    {
      g_prefix_error (error, "startup check target: ");
      return FALSE;
    }
  if (delay > G_MAXUINT || timeout > G_MAXUINT || timeout == 0)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_CONFIG,
                   "startup check: retry delay and timeout must be between 1 ms and 49 days");
      return FALSE;
    }

  if (out_target)
    *out_target = g_steal_pointer (&target);
  if (out_tries)
    *out_tries = tries;
  if (out_delay_ms)
    *out_delay_ms = delay;
  if (out_timeout_ms)
    *out_timeout_ms = timeout;
  return TRUE;
}

static void
startup_check_done (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  guint tries = 0;

  if (pk_probe_run_with_retries_finish (PK_PROBE (source), result, &tries, &error))
    g_task_return_int (task, tries);
  else
    g_task_return_error (task, error);
}

/**
 * pk_startup_check_async:
 * @egress: (nullable): the egress to check, such as a tunnel's
 * @target: (nullable): `HOST:PORT` to connect to, %NULL for
 *   %PK_STARTUP_CHECK_TARGET_DEFAULT (use an IP address: no DNS)
 * @tries: how many tries at most (`SOCKS_STARTUP_CHECK_RETRIES`, 5)
 * @delay_ms: the pause after a failed try (`SOCKS_STARTUP_RETRY_DELAY`, 20 s)
 * @timeout_ms: the timeout of each try (`SOCKS_STARTUP_CHECK_TIMEOUT`, 30 s)
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when a try passed or all failed
 * @user_data: data for @callback
 *
 * Verifies that traffic leaves through @egress: a plain TCP connect to
 * @target, tried up to @tries times. A caller that gets a failure rolls
 * back what it started (pk-socks stops its listener and destroys the
 * tunnel). [func@startup_check_get_settings] reads the values from the
 * configuration and the environment.
 *
 * Since: 0.1
 */
void
pk_startup_check_async (PkEgress            *egress,
                        const char          *target,
                        guint                tries,
                        guint                delay_ms,
                        guint                timeout_ms,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(PkProbe) probe = NULL;
  g_autofree char *host = NULL;
  GError *error = NULL;
  guint16 port = 0;

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_startup_check_async);

  if (!pk_parse_host_port (target ? target : PK_STARTUP_CHECK_TARGET_DEFAULT, 0, &host, &port, &error))
    {
      g_prefix_error (&error, "startup check target: ");
      g_task_return_error (task, error);
      return;
    }
  probe = pk_probe_new_tcp_connect (egress, host, port);
  pk_probe_run_with_retries_async (probe, tries, delay_ms, timeout_ms, cancellable,
                                   startup_check_done, g_steal_pointer (&task));
}

/**
 * pk_startup_check_finish:
 * @result: the `GAsyncResult`
 * @out_tries: (out) (optional): the number of the try that passed
 * @error: return location for a `GError`
 *
 * Finishes [func@startup_check_async].
 *
 * Returns: %TRUE if traffic passed; %FALSE with %PK_ERROR_CHECK_FAILED if
 *   every try failed
 *
 * Since: 0.1
 */
gboolean
pk_startup_check_finish (GAsyncResult  *result,
                         guint         *out_tries,
                         GError       **error)
{
  guint64 n = 0;

  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pk_startup_check_async, FALSE);

  if (!pk_probe_propagate_count (G_TASK (result), &n, error))
    return FALSE;
  if (out_tries)
    *out_tries = n;
  return TRUE;
}
