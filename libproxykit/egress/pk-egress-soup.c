/* pk-egress-soup.c: libsoup sessions whose connections leave through an egress
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <gobject/gvaluecollector.h>

#include "pk-egress-soup-private.h"

/* On the session: the egress without its source address (libsoup binds
 * that itself), or nothing when there is nothing else to apply. On a
 * message: that same egress, and the error that kept it off a socket. */
#define SOCKET_EGRESS_KEY "pk-egress-soup-socket-egress"
#define ERROR_KEY "pk-egress-soup-error"

SoupSession *
pk_egress_soup_session_new (PkEgress   *egress,
                            const char *first_property_name,
                            ...)
{
  g_autoptr(GSocketAddress) local = NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  g_autoptr(GArray) values = g_array_new (FALSE, TRUE, sizeof (GValue));
  GObjectClass *klass;
  SoupSession *session;
  va_list args;

  g_return_val_if_fail (egress == NULL || PK_IS_EGRESS (egress), NULL);

  g_array_set_clear_func (values, (GDestroyNotify) g_value_unset);
  if (egress != NULL && pk_egress_get_address (egress) != NULL)
    {
      g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (pk_egress_get_address (egress));
      local = g_inet_socket_address_new (inet, 0);
    }

  /* Many of the session's properties are construct-only ("local-address",
   * "max-conns"...): all of them go to the constructor. */
  g_array_set_size (values, 2);
  g_ptr_array_add (names, (gpointer) "proxy-resolver");
  g_value_init (&g_array_index (values, GValue, 0), G_TYPE_PROXY_RESOLVER);

  g_ptr_array_add (names, (gpointer) "local-address");
  g_value_init (&g_array_index (values, GValue, 1), G_TYPE_INET_SOCKET_ADDRESS);
  g_value_set_object (&g_array_index (values, GValue, 1), local);

  klass = g_type_class_ref (SOUP_TYPE_SESSION);
  va_start (args, first_property_name);
  for (const char *name = first_property_name; name != NULL; name = va_arg (args, const char *))
    {
      GParamSpec *pspec = g_object_class_find_property (klass, name);
      g_autofree char *error = NULL;
      GValue *value;

      g_return_val_if_fail (pspec != NULL, NULL);
      g_array_set_size (values, values->len + 1);
      value = &g_array_index (values, GValue, values->len - 1);
      G_VALUE_COLLECT_INIT (value, pspec->value_type, args, 0, &error);
      if (error != NULL)
        g_error ("pk_egress_soup_session_new: %s: %s", name, error);
      g_ptr_array_add (names, (gpointer) name);
    }
  va_end (args);
  g_type_class_unref (klass);

  session = (SoupSession *) g_object_new_with_properties (SOUP_TYPE_SESSION, names->len,
                                                          (const char **) names->pdata,
                                                          (const GValue *) values->data);

  if (egress != NULL &&
      (pk_egress_get_interface (egress) != NULL || pk_egress_get_fwmark (egress) != 0 ||
       pk_egress_get_ttl (egress) != 0))
    g_object_set_data_full (G_OBJECT (session), SOCKET_EGRESS_KEY,
                            pk_egress_new_full (NULL, pk_egress_get_interface (egress),
                                                pk_egress_get_fwmark (egress),
                                                pk_egress_get_ttl (egress), NULL),
                            g_object_unref);
  return session;
}

static void
on_network_event (SoupMessage        *message,
                  GSocketClientEvent  event,
                  GIOStream          *connection,
                  gpointer            user_data)
{
  PkEgress *egress = user_data;
  GSocket *socket;
  GError *error = NULL;

  /* The socket exists but is not connected yet: the one moment where
   * SO_BINDTODEVICE, the mark and the TTL can still be applied. */
  if (event != G_SOCKET_CLIENT_CONNECTING || !G_IS_SOCKET_CONNECTION (connection))
    return;
  socket = g_socket_connection_get_socket (G_SOCKET_CONNECTION (connection));
  if (pk_egress_prepare_socket (egress, socket, &error))
    return;

  /* Better no connection than one through the wrong interface. The
   * first error is the one that says why. */
  if (g_object_get_data (G_OBJECT (message), ERROR_KEY) == NULL)
    g_object_set_data_full (G_OBJECT (message), ERROR_KEY, error, (GDestroyNotify) g_error_free);
  else
    g_error_free (error);
  g_socket_close (socket, NULL);
}

static void
unref_egress (gpointer  data,
              GClosure *closure)
{
  g_object_unref (data);
}

void
pk_egress_soup_message_prepare (SoupSession *session,
                                SoupMessage *message)
{
  PkEgress *egress;

  g_return_if_fail (SOUP_IS_SESSION (session));
  g_return_if_fail (SOUP_IS_MESSAGE (message));

  egress = g_object_get_data (G_OBJECT (session), SOCKET_EGRESS_KEY);
  if (egress == NULL)
    return;
  /* the message holds the egress: it may outlive the session */
  g_signal_connect_data (message, "network-event", G_CALLBACK (on_network_event),
                         g_object_ref (egress), unref_egress, 0);
}

GError *
pk_egress_soup_message_steal_error (SoupMessage *message)
{
  g_return_val_if_fail (SOUP_IS_MESSAGE (message), NULL);

  return g_object_steal_data (G_OBJECT (message), ERROR_KEY);
}
