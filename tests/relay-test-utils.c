/* relay-test-utils.c: what the relay's test programs share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "relay-test-utils.h"

JsonObject *
rule_status (PkRelay    *relay,
             const char *name)
{
  g_autofree char *json = pk_relay_dup_status_json (relay);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonArray *rules;

  json_parser_load_from_data (parser, json, -1, &error);
  g_assert_no_error (error);
  rules = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)), "rules");
  for (guint i = 0; i < json_array_get_length (rules); i++)
    {
      JsonObject *o = json_array_get_object_element (rules, i);

      if (g_str_equal (json_object_get_string_member (o, "name"), name))
        return json_object_ref (o);
    }
  return NULL;
}

gint64
rule_counter (PkRelay    *relay,
              const char *name,
              const char *member)
{
  g_autoptr(JsonObject) o = rule_status (relay, name);

  g_assert_nonnull (o);
  return json_object_get_int_member (o, member);
}

gboolean
counter_set (gpointer data)
{
  Counter *c = data;

  return rule_counter (c->relay, c->rule, c->member) > 0;
}

gboolean
socket_readable (gpointer data)
{
  return g_socket_condition_check (data, G_IO_IN) != 0;
}

GSocketAddress *
loopback (const char *ip,
          guint16     port)
{
  g_autoptr(GInetAddress) a = g_inet_address_new_from_string (ip);

  return g_inet_socket_address_new (a, port);
}

/* A rule on 127.0.0.1 port 0 (the system picks) to 127.0.0.1:out_port. */
PkRelayRule *
loopback_rule (PkRelayProtocol protocol,
               guint16         out_port,
               const char     *name)
{
  PkRelayRule *rule = pk_relay_rule_new (protocol, 0, "127.0.0.1", out_port);

  pk_relay_rule_set_name (rule, name);
  g_assert_true (pk_relay_rule_set_listen_address (rule, "127.0.0.1", NULL));
  return rule;
}

guint16
start_rule (PkRelay     *relay,
            PkRelayRule *rule)
{
  g_autoptr(GError) error = NULL;

  pk_relay_add_rule (relay, rule, &error);
  g_assert_no_error (error);
  return pk_relay_get_local_port (relay, pk_relay_rule_get_name (rule));
}

gboolean
client_done (gpointer data)
{
  return g_atomic_int_get (&((Client *) data)->done);
}

void
client_join (Client *client)
{
  pk_test_wait_until (client_done, client, 60000);
  g_thread_join (client->thread);
}

guint16
unused_port (void)
{
  g_autoptr(GSocket) s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, NULL);
  g_autoptr(GSocketAddress) any = loopback ("127.0.0.1", 0);
  g_autoptr(GSocketAddress) bound = NULL;

  g_socket_bind (s, any, TRUE, NULL);
  bound = g_socket_get_local_address (s, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

gpointer
udp_clients_thread (gpointer data)
{
  UdpClients *u = data;
  g_autoptr(GSocketAddress) addr = loopback (u->connect_to, u->port);
  GSocket *sockets[16];

  g_assert_cmpuint (u->n_clients, <=, G_N_ELEMENTS (sockets));
  for (guint c = 0; c < u->n_clients; c++)
    {
      g_autoptr(GError) error = NULL;

      sockets[c] = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_DEFAULT, NULL);
      /* Connected: replies from any other address are not delivered. */
      g_socket_connect (sockets[c], addr, NULL, &error);
      g_assert_no_error (error);
      g_socket_set_timeout (sockets[c], u->timeout_s ? u->timeout_s : 5);
    }

  /* All clients send, interleaved, then all read their own answers. */
  for (guint i = 0; i < u->n_datagrams; i++)
    for (guint c = 0; c < u->n_clients; c++)
      {
        g_autofree char *msg = g_strdup_printf ("client %u datagram %u", c, i);
        g_socket_send (sockets[c], msg, strlen (msg), NULL, NULL);
      }
  for (guint c = 0; c < u->n_clients; c++)
    {
      for (guint i = 0; i < u->n_datagrams; i++)
        {
          char buf[128];
          gssize n = g_socket_receive (sockets[c], buf, sizeof buf - 1, NULL, NULL);
          g_autofree char *want = g_strdup_printf ("client %u datagram %u", c, i);

          if (n <= 0)
            break;
          buf[n] = '\0';
          if (g_str_equal (buf, want))
            u->ok++;
        }
      g_object_unref (sockets[c]);
    }
  g_atomic_int_set (&u->client.done, 1);
  return NULL;
}

typedef struct {
  GResolverClass parent_class;
} TestResolverClass;

G_DEFINE_TYPE (TestResolver, test_resolver, G_TYPE_RESOLVER)

static GList *
test_resolver_answer (TestResolver  *self,
                      const char    *name,
                      GError       **error)
{
  g_auto(GStrv) addresses = NULL;
  GList *list = NULL;

  if (!g_str_equal (name, "moving.test") || self->address == NULL)
    {
      g_set_error (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND, "no such name '%s'", name);
      return NULL;
    }
  /* "A,B": several addresses, in that order. */
  addresses = g_strsplit (self->address, ",", -1);
  for (guint i = 0; addresses[i] != NULL; i++)
    list = g_list_append (list, g_inet_address_new_from_string (addresses[i]));
  return list;
}

static void
test_resolver_lookup_async (GResolver                *resolver,
                            const char               *name,
                            GResolverNameLookupFlags  flags,
                            GCancellable             *cancellable,
                            GAsyncReadyCallback       callback,
                            gpointer                  user_data)
{
  g_autoptr(GTask) task = g_task_new (resolver, cancellable, callback, user_data);
  GError *error = NULL;
  GList *answer = test_resolver_answer ((TestResolver *) resolver, name, &error);

  if (answer == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, answer, (GDestroyNotify) g_resolver_free_addresses);
}

static void
test_resolver_lookup_plain_async (GResolver           *resolver,
                                  const char          *name,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  test_resolver_lookup_async (resolver, name, 0, cancellable, callback, user_data);
}

static GList *
test_resolver_lookup_finish (GResolver     *resolver,
                             GAsyncResult  *result,
                             GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static GList *
test_resolver_lookup (GResolver     *resolver,
                      const char    *name,
                      GCancellable  *cancellable,
                      GError       **error)
{
  return test_resolver_answer ((TestResolver *) resolver, name, error);
}

static void
test_resolver_finalize (GObject *object)
{
  g_free (((TestResolver *) object)->address);
  G_OBJECT_CLASS (test_resolver_parent_class)->finalize (object);
}

static void
test_resolver_class_init (TestResolverClass *klass)
{
  GResolverClass *resolver_class = G_RESOLVER_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = test_resolver_finalize;
  resolver_class->lookup_by_name = test_resolver_lookup;
  resolver_class->lookup_by_name_async = test_resolver_lookup_plain_async;
  resolver_class->lookup_by_name_finish = test_resolver_lookup_finish;
  resolver_class->lookup_by_name_with_flags_async = test_resolver_lookup_async;
  resolver_class->lookup_by_name_with_flags_finish = test_resolver_lookup_finish;
}

static void
test_resolver_init (TestResolver *self)
{
}

gboolean
connect_refused (guint16 port)
{
  g_autoptr(GSocketAddress) addr = loopback ("127.0.0.1", port);
  g_autoptr(GSocket) s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, NULL);
  g_autoptr(GError) error = NULL;

  g_socket_connect (s, addr, NULL, &error);
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
}

void
echo_roundtrip (GSocket    *client,
                const char *msg)
{
  gsize len = strlen (msg);
  g_autofree char *buf = g_malloc (len);

  pk_test_send_all (client, msg, len);
  pk_test_wait_until (socket_readable, client, 10000);
  pk_test_recv_exact (client, buf, len, 10000);
  g_assert_cmpmem (buf, len, msg, len);
}
