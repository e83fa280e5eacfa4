/* pk-egress-resolve.c: names to addresses through an egress
 *
 * pk_egress_resolve_async(): an address literal at once, else the system
 * resolver, or with #PkEgress:nameservers the stub resolver below, whose
 * queries leave through the egress itself (the codec is pk-dns.c). The
 * answer keeps the addresses of the egress's family.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <sys/random.h>

#include "pk-dns-private.h"
#include "pk-egress.h"
#include "pk-egress-private.h"
#include "pk-error.h"
#include "pk-util-private.h"

/* --- resolving --- */

typedef struct {
  char *host;
  GSource *timeout_source;
  GCancellable *lookup_cancellable;
  GCancellable *outer_cancellable;
  gulong cancelled_id;
  gboolean timed_out;
  guint timeout_ms;
} ResolveData;

static void
resolve_data_free (ResolveData *data)
{
  if (data->timeout_source != NULL)
    {
      g_source_destroy (data->timeout_source);
      g_source_unref (data->timeout_source);
    }
  if (data->outer_cancellable != NULL)
    {
      g_cancellable_disconnect (data->outer_cancellable, data->cancelled_id);
      g_object_unref (data->outer_cancellable);
    }
  g_clear_object (&data->lookup_cancellable);
  g_free (data->host);
  g_free (data);
}

static void
resolve_complete (GTask  *task,
                  GList  *addresses,
                  GError *error)
{
  ResolveData *data = g_task_get_task_data (task);
  PkEgress *self = g_task_get_source_object (task);
  GList *usable = NULL;
  GSocketFamily family;

  if (addresses == NULL)
    {
      if (data->timed_out)
        g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                 "resolving '%s' timed out after %u ms",
                                 data->host, data->timeout_ms);
      else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
               g_error_matches (error, PK_ERROR, PK_ERROR_RESOLVE) ||
               g_error_matches (error, PK_ERROR, PK_ERROR_EGRESS))
        g_task_return_error (task, g_error_copy (error));
      else
        g_task_return_new_error (task, PK_ERROR, PK_ERROR_RESOLVE,
                                 "cannot resolve '%s': %s", data->host, error->message);
      return;
    }

  /* A source address pins the family: an IPv6 answer cannot leave
   * through an IPv4 egress, so it is not offered at all. */
  family = pk_egress_get_family (self);
  for (GList *l = addresses; l != NULL; l = l->next)
    {
      GInetAddress *addr = l->data;

      if (family == G_SOCKET_FAMILY_INVALID || g_inet_address_get_family (addr) == family)
        usable = g_list_prepend (usable, g_object_ref (addr));
    }
  g_resolver_free_addresses (addresses);

  if (usable == NULL)
    {
      g_autofree char *desc = pk_egress_to_string (self);
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_EGRESS,
                               "'%s' has no %s address to reach through egress %s",
                               data->host, family == G_SOCKET_FAMILY_IPV6 ? "IPv6" : "IPv4", desc);
      return;
    }

  g_task_return_pointer (task, g_list_reverse (usable), pk_inet_address_list_free);
}

static void
resolve_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  GList *addresses;

  addresses = g_resolver_lookup_by_name_finish (G_RESOLVER (source), result, &error);
  resolve_complete (task, addresses, error);
}

static void
dns_resolve_done (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  GList *addresses;

  addresses = pk_dns_resolve_finish (result, &error);
  resolve_complete (task, addresses, error);
}

static gboolean
resolve_timeout_cb (gpointer user_data)
{
  ResolveData *data = user_data;

  data->timed_out = TRUE;
  g_cancellable_cancel (data->lookup_cancellable);

  return G_SOURCE_REMOVE;
}

static void
resolve_outer_cancelled (GCancellable *cancellable,
                         gpointer      user_data)
{
  GCancellable *lookup_cancellable = user_data;

  g_cancellable_cancel (lookup_cancellable);
}

/**
 * pk_egress_resolve_async:
 * @self: a [class@Egress]
 * @host: a host name or an IP address literal
 * @timeout_ms: timeout in milliseconds, 0 for none
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Resolves @host to the addresses that can be reached through this
 * egress (of its source address's family, when it has one). Names are
 * resolved off the calling thread; the callback runs in the thread-default
 * main context of the caller.
 *
 * Since: 0.1
 */
void
pk_egress_resolve_async (PkEgress            *self,
                         const char          *host,
                         guint                timeout_ms,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GInetAddress) literal = NULL;
  g_autoptr(GResolver) resolver = NULL;
  ResolveData *data;

  g_return_if_fail (PK_IS_EGRESS (self));
  g_return_if_fail (host != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_egress_resolve_async);

  literal = g_inet_address_new_from_string (host);
  if (literal != NULL)
    {
      GSocketFamily family = pk_egress_get_family (self);

      if (family != G_SOCKET_FAMILY_INVALID && g_inet_address_get_family (literal) != family)
        {
          g_autofree char *desc = pk_egress_to_string (self);
          g_task_return_new_error (task, PK_ERROR, PK_ERROR_EGRESS,
                                   "%s cannot be reached through egress %s: address families differ",
                                   host, desc);
          return;
        }
      g_task_return_pointer (task, g_list_prepend (NULL, g_steal_pointer (&literal)),
                             pk_inet_address_list_free);
      return;
    }

  data = g_new0 (ResolveData, 1);
  data->host = g_strdup (host);
  data->timeout_ms = timeout_ms;
  data->lookup_cancellable = g_cancellable_new ();
  g_task_set_task_data (task, data, (GDestroyNotify) resolve_data_free);

  if (cancellable != NULL)
    {
      /* The lookup has its own cancellable so that the timeout can cancel
       * it without cancelling the caller's. */
      data->outer_cancellable = g_object_ref (cancellable);
      data->cancelled_id = g_cancellable_connect (cancellable, G_CALLBACK (resolve_outer_cancelled),
                                                  g_object_ref (data->lookup_cancellable),
                                                  g_object_unref);
    }

  if (timeout_ms > 0)
    {
      data->timeout_source = g_timeout_source_new (timeout_ms);
      g_source_set_callback (data->timeout_source, resolve_timeout_cb, data, NULL);
      g_source_set_static_name (data->timeout_source, "[proxykit] resolve timeout");
      g_source_attach (data->timeout_source, g_main_context_get_thread_default ());
    }

  if (pk_egress_get_nameserver_addresses (self) != NULL)
    {
      /* A try gets two thirds of the time: a lost datagram still leaves
       * room for a second try, and when no answer comes at all, the
       * timeout above ends the lookup (as G_IO_ERROR_TIMED_OUT) before
       * the tries run out. */
      guint try_ms = timeout_ms > 0 ? CLAMP (timeout_ms / 3 * 2, 100, 2000) : 2000;

      pk_dns_resolve_async (self, pk_egress_get_nameserver_addresses (self), host, pk_egress_get_family (self),
                            try_ms, data->lookup_cancellable,
                            dns_resolve_done, g_object_ref (task));
      return;
    }

  resolver = g_resolver_get_default ();
  g_resolver_lookup_by_name_async (resolver, host, data->lookup_cancellable,
                                   resolve_done, g_object_ref (task));
}

/**
 * pk_egress_resolve_finish:
 * @self: a [class@Egress]
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Finishes [method@Egress.resolve_async].
 *
 * Returns: (transfer full) (element-type GInetAddress): the addresses, or
 *   %NULL with @error set: %PK_ERROR_RESOLVE, %PK_ERROR_EGRESS,
 *   %G_IO_ERROR_TIMED_OUT or %G_IO_ERROR_CANCELLED
 *
 * Since: 0.1
 */
GList *
pk_egress_resolve_finish (PkEgress      *self,
                          GAsyncResult  *result,
                          GError       **error)
{
  g_return_val_if_fail (PK_IS_EGRESS (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pk_egress_resolve_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* --- the stub resolver: queries over UDP through the egress --- */

typedef struct _Resolve Resolve;

typedef struct {
  Resolve *resolve;
  guint16 qtype;
  guint16 id;
  guint try;                /* tries made so far */
  GSocket *socket;
  GSocketAddress *server;
  GSource *read_source;
  GSource *timer;
  gboolean done;
  PkDnsAnswer answer;
  gboolean have_answer;
  gboolean egress_failed;   /* the last try could not even make its socket */
  char *last_error;
} Query;

struct _Resolve {
  GTask *task;              /* one reference, dropped when returned */
  PkEgress *egress;
  GPtrArray *servers;
  char *name;               /* asked now (the CNAME target after a hop) */
  char *orig_name;
  GSocketFamily family;
  guint try_timeout_ms;
  guint max_tries;
  guint cname_hops;
  Query queries[2];
  guint n_queries;
  guint n_pending;
};

static void
query_stop (Query *q)
{
  if (q->read_source != NULL)
    {
      g_source_destroy (q->read_source);
      g_clear_pointer (&q->read_source, g_source_unref);
    }
  if (q->timer != NULL)
    {
      g_source_destroy (q->timer);
      g_clear_pointer (&q->timer, g_source_unref);
    }
  if (q->socket != NULL)
    g_socket_close (q->socket, NULL);
  g_clear_object (&q->socket);
  g_clear_object (&q->server);
}

static void
query_clear (Query *q)
{
  query_stop (q);
  pk_dns_answer_clear (&q->answer);
  g_clear_pointer (&q->last_error, g_free);
}

static void
resolve_free (Resolve *r)
{
  for (guint i = 0; i < G_N_ELEMENTS (r->queries); i++)
    query_clear (&r->queries[i]);
  g_clear_object (&r->egress);
  g_clear_pointer (&r->servers, g_ptr_array_unref);
  g_free (r->name);
  g_free (r->orig_name);
  g_free (r);
}

static guint16
random_id (void)
{
  guint16 id;

  /* Unpredictable IDs are half of what keeps off-path spoofers out (the
   * kernel's random source port is the other). */
  if (getrandom (&id, sizeof id, GRND_NONBLOCK) != sizeof id)
    id = g_random_int_range (0, 65536);
  return id;
}

static const char *
qtype_name (guint16 qtype)
{
  return qtype == PK_DNS_TYPE_A ? "A" : "AAAA";
}

static void query_send (Query *q);
static void resolve_query_done (Resolve *r);

static void
query_finish (Query *q)
{
  query_stop (q);
  q->done = TRUE;
  resolve_query_done (q->resolve);
}

/* The try failed (timeout, refused, SERVFAIL): ask the next nameserver,
 * or give up after max_tries. */
static void
query_retry (Query      *q,
             const char *why)
{
  g_autofree char *server = q->server != NULL ? pk_format_socket_address (q->server) : g_strdup ("?");

  g_free (q->last_error);
  q->last_error = g_strdup_printf ("%s: %s", server, why);
  query_stop (q);

  if (q->try >= q->resolve->max_tries)
    query_finish (q);
  else
    query_send (q);
}

static gboolean
query_timeout_cb (gpointer user_data)
{
  Query *q = user_data;

  g_clear_pointer (&q->timer, g_source_unref);
  query_retry (q, "no answer");
  return G_SOURCE_REMOVE;
}

static void resolve_return_error (Resolve *r,
                                  GError  *error);

static gboolean
query_readable_cb (GSocket      *socket,
                   GIOCondition  condition,
                   gpointer      user_data)
{
  Query *q = user_data;
  Resolve *r = q->resolve;
  guint8 buf[PK_DNS_MAX_UDP_MESSAGE + 1];

  if (g_task_return_error_if_cancelled (r->task))
    {
      /* resolve_return_error would return a second time: only clean up. */
      resolve_return_error (r, NULL);
      return G_SOURCE_REMOVE;
    }

  for (;;)
    {
      g_autoptr(GSocketAddress) from = NULL;
      g_autoptr(GError) error = NULL;
      gssize n;

      n = g_socket_receive_from (socket, &from, (char *) buf, sizeof buf, NULL, &error);
      if (n < 0)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            return G_SOURCE_CONTINUE;
          /* ICMP port unreachable on the connected socket */
          query_retry (q, error->message);
          return G_SOURCE_REMOVE;
        }

      /* The socket is connected, so the kernel only passes the server's
       * datagrams; the check is for the record. */
      if (!G_IS_INET_SOCKET_ADDRESS (from) ||
          !g_inet_address_equal (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (from)),
                                 g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (q->server))))
        continue;

      pk_dns_answer_clear (&q->answer);
      if (!pk_dns_parse_answer (buf, n, q->id, r->name, q->qtype, &q->answer, &error))
        {
          /* Wrong ID or question, or garbage: not our answer, keep
           * waiting for it until the try times out. */
          g_debug ("DNS: ignoring a datagram: %s", error->message);
          continue;
        }

      if (q->answer.rcode == PK_DNS_RCODE_NOERROR || q->answer.rcode == PK_DNS_RCODE_NXDOMAIN)
        {
          q->have_answer = TRUE;
          query_finish (q);
        }
      else
        {
          g_autofree char *why = g_strdup_printf ("RCODE %u", q->answer.rcode);
          query_retry (q, why);
        }
      return G_SOURCE_REMOVE;
    }
}

static void
query_send (Query *q)
{
  Resolve *r = q->resolve;
  guint8 msg[PK_DNS_MAX_UDP_MESSAGE];
  gsize len;

  while (q->try < r->max_tries)
    {
      GSocketAddress *server = g_ptr_array_index (r->servers, q->try % r->servers->len);
      g_autoptr(GError) error = NULL;

      q->try++;
      q->id = random_id ();
      len = pk_dns_encode_query (msg, sizeof msg, q->id, r->name, q->qtype);
      if (len == 0)
        {
          /* Checked for the name asked; a CNAME's target is checked by
           * the parser, so this is only a safety net. */
          g_free (q->last_error);
          q->last_error = g_strdup_printf ("'%s' is not a valid DNS name", r->name);
          break;
        }

      q->server = g_object_ref (server);
      q->socket = pk_egress_create_socket (r->egress, g_socket_address_get_family (server),
                                           G_SOCKET_TYPE_DATAGRAM, &error);
      q->egress_failed = q->socket == NULL && g_error_matches (error, PK_ERROR, PK_ERROR_EGRESS);
      if (q->socket == NULL ||
          !g_socket_connect (q->socket, server, NULL, &error) ||
          g_socket_send (q->socket, (const char *) msg, len, NULL, &error) < 0)
        {
          g_autofree char *where = pk_format_socket_address (server);

          g_free (q->last_error);
          q->last_error = g_strdup_printf ("%s: %s", where, error->message);
          query_stop (q);
          continue;
        }

      q->read_source = g_socket_create_source (q->socket, G_IO_IN, g_task_get_cancellable (r->task));
      g_source_set_callback (q->read_source, G_SOURCE_FUNC (query_readable_cb), q, NULL);
      g_source_set_static_name (q->read_source, "[proxykit] DNS answer");
      g_source_attach (q->read_source, g_task_get_context (r->task));

      q->timer = g_timeout_source_new (r->try_timeout_ms);
      g_source_set_callback (q->timer, query_timeout_cb, q, NULL);
      g_source_set_static_name (q->timer, "[proxykit] DNS try timeout");
      g_source_attach (q->timer, g_task_get_context (r->task));
      return;
    }

  query_finish (q);
}

static void
resolve_start_queries (Resolve *r)
{
  static const guint16 types[] = { PK_DNS_TYPE_A, PK_DNS_TYPE_AAAA };
  GTask *task;
  guint n_queries;

  r->n_queries = 0;
  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    {
      Query *q;

      if ((types[i] == PK_DNS_TYPE_A && r->family == G_SOCKET_FAMILY_IPV6) ||
          (types[i] == PK_DNS_TYPE_AAAA && r->family == G_SOCKET_FAMILY_IPV4))
        continue;
      q = &r->queries[r->n_queries++];
      query_clear (q);
      memset (q, 0, sizeof *q);
      q->resolve = r;
      q->qtype = types[i];
    }

  n_queries = r->n_pending = r->n_queries;
  /* query_send may finish a query at once (no usable nameserver); count
   * them all as pending first so that the last one is seen as last, and
   * hold the task (and so @r) until the loop is over. */
  task = g_object_ref (r->task);
  for (guint i = 0; i < n_queries; i++)
    query_send (&r->queries[i]);
  g_object_unref (task);
}

/* Ends the task with @error (or, with NULL, only tears it down after it
 * was returned as cancelled). */
static void
resolve_return_error (Resolve *r,
                      GError  *error)
{
  GTask *task = r->task;

  for (guint i = 0; i < r->n_queries; i++)
    query_stop (&r->queries[i]);
  r->n_pending = G_MAXUINT;   /* no more query_done */
  if (error != NULL)
    g_task_return_error (task, error);
  g_object_unref (task);
}

static void
resolve_query_done (Resolve *r)
{
  GList *addresses = NULL;
  const char *cname = NULL;
  gboolean nxdomain = FALSE;
  gboolean egress_failed;
  g_autoptr(GString) why = NULL;
  GTask *task = r->task;

  if (r->n_pending == G_MAXUINT || --r->n_pending > 0)
    return;

  /* IPv4 first: a dongle's network rarely routes IPv6, and a caller
   * connecting in order should not wait on it first. */
  for (guint i = 0; i < r->n_queries; i++)
    {
      Query *q = &r->queries[i];

      if (!q->have_answer)
        continue;
      if (q->answer.rcode == PK_DNS_RCODE_NXDOMAIN)
        nxdomain = TRUE;
      for (guint j = 0; q->answer.addresses != NULL && j < q->answer.addresses->len; j++)
        addresses = g_list_prepend (addresses, g_object_ref (q->answer.addresses->pdata[j]));
      if (q->answer.cname != NULL)
        cname = q->answer.cname;
    }
  addresses = g_list_reverse (addresses);

  if (addresses != NULL)
    {
      for (guint i = 0; i < r->n_queries; i++)
        query_stop (&r->queries[i]);
      g_task_return_pointer (task, addresses, pk_inet_address_list_free);
      g_object_unref (task);
      return;
    }

  if (cname != NULL && !nxdomain)
    {
      if (r->cname_hops++ < PK_DNS_MAX_CNAME_HOPS)
        {
          /* The resolver stopped at a CNAME: ask for its target. */
          g_free (r->name);
          r->name = g_strdup (cname);
          resolve_start_queries (r);
          return;
        }
      resolve_return_error (r, g_error_new (PK_ERROR, PK_ERROR_RESOLVE,
                                            "cannot resolve '%s': CNAME chain longer than %u",
                                            r->orig_name, PK_DNS_MAX_CNAME_HOPS));
      return;
    }

  if (nxdomain)
    {
      resolve_return_error (r, g_error_new (PK_ERROR, PK_ERROR_RESOLVE,
                                            "cannot resolve '%s': no such name", r->orig_name));
      return;
    }

  /* When the egress cannot make a socket at all (its interface is gone),
   * say so: it is the egress that failed, not the name. */
  egress_failed = TRUE;
  for (guint i = 0; i < r->n_queries; i++)
    egress_failed = egress_failed && r->queries[i].egress_failed;

  why = g_string_new (NULL);
  for (guint i = 0; i < r->n_queries; i++)
    {
      Query *q = &r->queries[i];

      if (why->len > 0)
        g_string_append (why, "; ");
      if (q->have_answer)
        g_string_append_printf (why, "no %s record", qtype_name (q->qtype));
      else
        g_string_append_printf (why, "%s: %s", qtype_name (q->qtype),
                                q->last_error != NULL ? q->last_error : "no nameserver");
    }
  resolve_return_error (r, g_error_new (PK_ERROR, egress_failed ? PK_ERROR_EGRESS : PK_ERROR_RESOLVE,
                                        "cannot resolve '%s': %s", r->orig_name, why->str));
}

void
pk_dns_resolve_async (PkEgress            *egress,
                      GPtrArray           *nameservers,
                      const char          *name,
                      GSocketFamily        family,
                      guint                try_timeout_ms,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  GTask *task;
  Resolve *r;
  guint8 probe[PK_DNS_MAX_UDP_MESSAGE];
  g_autoptr(GPtrArray) usable = NULL;

  g_return_if_fail (PK_IS_EGRESS (egress));
  g_return_if_fail (nameservers != NULL);
  g_return_if_fail (name != NULL);

  task = g_task_new (egress, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_dns_resolve_async);

  if (pk_dns_name_is_localhost (name))
    {
      GList *list = NULL;

      if (family != G_SOCKET_FAMILY_IPV4)
        list = g_list_prepend (list, g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV6));
      if (family != G_SOCKET_FAMILY_IPV6)
        list = g_list_prepend (list, g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4));
      g_task_return_pointer (task, list, pk_inet_address_list_free);
      g_object_unref (task);
      return;
    }

  if (pk_dns_encode_query (probe, sizeof probe, 0, name, PK_DNS_TYPE_A) == 0)
    {
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_RESOLVE,
                               "cannot resolve '%s': not a valid DNS name", name);
      g_object_unref (task);
      return;
    }

  /* An egress with a source address can only reach nameservers of its
   * family. */
  usable = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < nameservers->len; i++)
    {
      GSocketAddress *ns = nameservers->pdata[i];
      g_autoptr(GInetAddress) source = NULL;
      const char *src = pk_egress_get_address (egress);

      if (src != NULL)
        source = g_inet_address_new_from_string (src);
      if (source == NULL || g_inet_address_get_family (source) == g_socket_address_get_family (ns))
        g_ptr_array_add (usable, g_object_ref (ns));
    }
  if (usable->len == 0)
    {
      g_autofree char *desc = pk_egress_to_string (egress);
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_EGRESS,
                               "cannot resolve '%s': no nameserver reachable through egress %s",
                               name, desc);
      g_object_unref (task);
      return;
    }

  r = g_new0 (Resolve, 1);
  r->task = task;
  r->egress = g_object_ref (egress);
  r->servers = g_steal_pointer (&usable);
  r->name = g_strdup (name);
  r->orig_name = g_strdup (name);
  r->family = family;
  r->try_timeout_ms = MAX (try_timeout_ms, 1);
  r->max_tries = 2 * r->servers->len;
  g_task_set_task_data (task, r, (GDestroyNotify) resolve_free);

  resolve_start_queries (r);
}

GList *
pk_dns_resolve_finish (GAsyncResult  *result,
                       GError       **error)
{
  g_return_val_if_fail (G_IS_TASK (result), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pk_dns_resolve_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
