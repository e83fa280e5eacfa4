/* pk-relay-nft.c: UDP rules as nftables DNAT/SNAT in the kernel
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* The older tools relayed UDP with iptables DNAT plus MASQUERADE. This
 * does the same with a table of our own (`table ip pk_relay`), replaced
 * as a whole in one `nft -f` transaction on every change and deleted on
 * stop, so that it never touches anyone else's rules. Traffic relayed
 * this way is forwarded by the kernel: it needs net.ipv4.ip_forward=1,
 * reaches the relay host from outside (PREROUTING, as before), and
 * follows the outbound name only as far as it resolved when the rules
 * were applied. */

#include "config.h"

#include "pk-error.h"
#include "pk-relay-nft-private.h"
#include "pk-relay-rule-private.h"
#include "pk-util-private.h"

#include <json-glib/json-glib.h>

static gboolean
run_nft (const char * const  *argv,
         const char          *input,
         char               **output,
         GError             **error)
{
  g_autoptr(GSubprocess) proc = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  GSubprocessFlags flags = G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE;

  if (input != NULL)
    flags |= G_SUBPROCESS_FLAGS_STDIN_PIPE;
  proc = g_subprocess_newv (argv, flags, error);
  if (proc == NULL)
    {
      g_prefix_error (error, "kernel NAT needs nft (nftables): ");
      return FALSE;
    }
  if (!g_subprocess_communicate_utf8 (proc, input, NULL, &out, &err, error))
    return FALSE;
  if (!g_subprocess_get_if_exited (proc) || g_subprocess_get_exit_status (proc) != 0)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_FAILED, "nft failed: %s",
                   err && *err ? g_strstrip (err) : "no message");
      return FALSE;
    }
  if (output != NULL)
    *output = g_steal_pointer (&out);
  return TRUE;
}

/* IPv4 only, as iptables was: a name is resolved now. */
static char *
resolve_ipv4 (PkRelayRule  *rule,
              GError      **error)
{
  g_autoptr(GInetAddress) literal = g_inet_address_new_from_string (rule->out_host);
  g_autoptr(GResolver) resolver = NULL;
  GList *addresses;
  char *found = NULL;

  if (literal != NULL)
    {
      if (g_inet_address_get_family (literal) != G_SOCKET_FAMILY_IPV4)
        goto not_ipv4;
      return g_inet_address_to_string (literal);
    }

  resolver = g_resolver_get_default ();
  addresses = g_resolver_lookup_by_name (resolver, rule->out_host, NULL, error);
  if (addresses == NULL)
    {
      g_prefix_error (error, "relay %s: cannot resolve '%s' for kernel NAT: ", rule->name,
                      rule->out_host);
      return NULL;
    }
  for (GList *l = addresses; l != NULL && found == NULL; l = l->next)
    if (g_inet_address_get_family (l->data) == G_SOCKET_FAMILY_IPV4)
      found = g_inet_address_to_string (l->data);
  g_resolver_free_addresses (addresses);
  if (found != NULL)
    return found;

not_ipv4:
  g_set_error (error, PK_ERROR, PK_ERROR_NOT_SUPPORTED,
               "relay %s: kernel NAT relays IPv4 only, and %s has no IPv4 address",
               rule->name, rule->out_host);
  return NULL;
}

/* The rule names go into comments; they come from config section names
 * and variable names, but keep nft's quoting out of reach anyway. */
static char *
comment_for (PkRelayRule *rule)
{
  GString *s = g_string_new (NULL);

  for (const char *p = rule->name; *p && s->len < 120; p++)
    g_string_append_c (s, (g_ascii_isalnum (*p) || strchr ("_-.:/", *p)) ? *p : '_');
  return g_string_free (s, FALSE);
}

char *
pk_relay_nft_script (const char  *table,
                     GPtrArray   *rules,
                     GError     **error)
{
  g_autoptr(GString) pre = g_string_new (NULL);
  g_autoptr(GString) post = g_string_new (NULL);
  GString *script;

  for (guint i = 0; i < rules->len; i++)
    {
      PkRelayRule *rule = g_ptr_array_index (rules, i);
      g_autofree char *target = resolve_ipv4 (rule, error);
      g_autofree char *comment = NULL;
      g_autofree char *daddr = NULL;

      if (target == NULL)
        return NULL;
      if (rule->listen_address != NULL)
        {
          g_autoptr(GInetAddress) listen = g_inet_address_new_from_string (rule->listen_address);

          if (g_inet_address_get_family (listen) != G_SOCKET_FAMILY_IPV4)
            {
              g_set_error (error, PK_ERROR, PK_ERROR_NOT_SUPPORTED,
                           "relay %s: kernel NAT listens on IPv4 addresses only, not %s",
                           rule->name, rule->listen_address);
              return NULL;
            }
          daddr = g_strdup_printf ("ip daddr %s ", rule->listen_address);
        }
      comment = comment_for (rule);
      g_string_append_printf (pre, "    %sudp dport %u counter dnat to %s:%u comment \"%s\"\n",
                              daddr ? daddr : "", rule->in_port, target, rule->out_port, comment);
      /* Replies must come back through us: the upstream sees the relay
       * host as the client, as it did with MASQUERADE. */
      g_string_append_printf (post, "    ip daddr %s udp dport %u ct status dnat counter masquerade comment \"%s\"\n",
                              target, rule->out_port, comment);
    }

  script = g_string_new (NULL);
  /* Creating before deleting makes the delete valid whether or not the
   * table was there; the whole file is one transaction. */
  g_string_append_printf (script, "table ip %s\ndelete table ip %s\n", table, table);
  g_string_append_printf (script, "table ip %s {\n", table);
  g_string_append_printf (script, "  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n%s  }\n", pre->str);
  g_string_append_printf (script, "  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n%s  }\n", post->str);
  g_string_append (script, "}\n");
  return g_string_free (script, FALSE);
}

gboolean
pk_relay_nft_apply (const char  *table,
                    GPtrArray   *rules,
                    GError     **error)
{
  static const char * const argv[] = { "nft", "-f", "-", NULL };
  g_autofree char *script = pk_relay_nft_script (table, rules, error);
  g_autofree char *forward = NULL;

  if (script == NULL || !run_nft (argv, script, NULL, error))
    return FALSE;

  if (rules->len > 0 && g_file_get_contents ("/proc/sys/net/ipv4/ip_forward", &forward, NULL, NULL) &&
      forward[0] == '0')
    g_message ("kernel NAT: net.ipv4.ip_forward is 0, so relayed UDP will not be forwarded");
  return TRUE;
}

void
pk_relay_nft_remove (const char *table)
{
  g_autofree char *script = g_strdup_printf ("table ip %s\ndelete table ip %s\n", table, table);
  static const char * const argv[] = { "nft", "-f", "-", NULL };
  g_autoptr(GError) error = NULL;

  if (!run_nft (argv, script, NULL, &error))
    g_message ("kernel NAT: cannot remove table ip %s: %s", table, error->message);
}

/* Packets and bytes of each rule's DNAT, by comment, from `nft -j`. */
GHashTable *
pk_relay_nft_counters (const char *table)
{
  const char *argv[] = { "nft", "-j", "list", "table", "ip", table, NULL };
  g_autoptr(GHashTable) counters = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autofree char *out = NULL;

  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonArray *items;

  if (!run_nft (argv, NULL, &out, NULL) || !json_parser_load_from_data (parser, out, -1, NULL))
    return g_steal_pointer (&counters);
  items = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)), "nftables");
  for (guint i = 0; items != NULL && i < json_array_get_length (items); i++)
    {
      JsonObject *item = json_array_get_object_element (items, i);
      JsonObject *rule;
      JsonArray *expr;
      const char *comment;

      if (!json_object_has_member (item, "rule"))
        continue;
      rule = json_object_get_object_member (item, "rule");
      comment = json_object_get_string_member_with_default (rule, "comment", NULL);
      if (comment == NULL || g_strcmp0 (json_object_get_string_member_with_default (rule, "chain", ""), "prerouting") != 0)
        continue;
      expr = json_object_get_array_member (rule, "expr");
      for (guint j = 0; expr != NULL && j < json_array_get_length (expr); j++)
        {
          JsonObject *e = json_array_get_object_element (expr, j);

          if (json_object_has_member (e, "counter"))
            {
              JsonObject *c = json_object_get_object_member (e, "counter");
              guint64 *v = g_new (guint64, 2);

              v[0] = json_object_get_int_member_with_default (c, "packets", 0);
              v[1] = json_object_get_int_member_with_default (c, "bytes", 0);
              g_hash_table_replace (counters, g_strdup (comment), v);
            }
        }
    }
  return g_steal_pointer (&counters);
}
