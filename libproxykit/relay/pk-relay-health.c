/* pk-relay-health.c: a relay rule's upstream health check
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* A TCP connect to the outbound host through the rule's egress, with a
 * timeout; a number of failures in a row (confirmed sooner than the normal
 * interval) has the upstream down. The rule keeps listening either way. */

#include "config.h"

#include "pk-egress-private.h"
#include "pk-relay-health-private.h"

static void health_schedule (PkRelayListener *listener, guint delay_ms);

const char *
pk_relay_health_name (PkRelayHealth health)
{
  switch (health)
    {
    case PK_RELAY_HEALTH_DISABLED:
      return "disabled";
    case PK_RELAY_HEALTH_UNKNOWN:
      return "unknown";
    case PK_RELAY_HEALTH_UP:
      return "up";
    case PK_RELAY_HEALTH_DOWN:
      return "down";
    }
  return "unknown";
}

static void
health_done (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(PkRelayListener) listener = user_data;
  PkRelayRule *rule = listener->rule;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;

  listener->health_running = FALSE;
  socket = pk_egress_connect_to_host_finish (PK_EGRESS (source), result, &error);
  if (g_atomic_int_get (&listener->stopped))
    return;

  if (socket != NULL)
    {
      g_socket_close (socket, NULL);
      listener->health_failures = 0;
      g_clear_pointer (&listener->health_reason, g_free);
      if (listener->health != PK_RELAY_HEALTH_UP)
        g_message ("relay %s: upstream %s:%u is up", rule->name, rule->out_host, rule->out_port);
      listener->health = PK_RELAY_HEALTH_UP;
      health_schedule (listener, rule->health_interval_ms);
      return;
    }

  listener->health_failures++;
  g_free (listener->health_reason);
  listener->health_reason = g_strdup (error->message);
  /* The address in hand may be the reason. */
  pk_relay_listener_forget_addresses (listener);

  if (listener->health_failures < rule->health_retries)
    {
      /* Confirm a failure sooner than the normal interval. */
      health_schedule (listener, MIN (rule->health_interval_ms, 1000));
      return;
    }

  if (listener->health != PK_RELAY_HEALTH_DOWN)
    g_message ("relay %s: upstream %s:%u is down after %u failed checks: %s; still listening",
               rule->name, rule->out_host, rule->out_port, listener->health_failures,
               error->message);
  listener->health = PK_RELAY_HEALTH_DOWN;
  health_schedule (listener, rule->health_interval_ms);
}

static gboolean
health_timer_cb (gpointer user_data)
{
  PkRelayListener *listener = user_data;
  PkRelayRule *rule = listener->rule;

  g_clear_pointer (&listener->health_timer, g_source_unref);
  listener->health_running = TRUE;
  pk_egress_connect_to_host_async (listener->egress, rule->out_host, rule->out_port,
                                   rule->health_timeout_ms, listener->cancellable,
                                   health_done, pk_relay_listener_ref (listener));
  return G_SOURCE_REMOVE;
}

static void
health_schedule (PkRelayListener *listener,
                 guint            delay_ms)
{
  if (listener->health_timer != NULL)
    {
      g_source_destroy (listener->health_timer);
      g_source_unref (listener->health_timer);
    }
  listener->health_timer = g_timeout_source_new (delay_ms);
  g_source_set_callback (listener->health_timer, health_timer_cb, listener, NULL);
  g_source_set_static_name (listener->health_timer, "[proxykit] relay health check");
  g_source_attach (listener->health_timer, g_main_context_get_thread_default ());
}

void
pk_relay_health_start (PkRelayListener *listener)
{
  health_schedule (listener, 0);
}

void
pk_relay_health_stop (PkRelayListener *listener)
{
  if (listener->health_timer != NULL)
    {
      g_source_destroy (listener->health_timer);
      g_clear_pointer (&listener->health_timer, g_source_unref);
    }
}
