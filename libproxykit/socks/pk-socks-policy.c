/* pk-socks-policy.c: what a SOCKS session is allowed, built once per reload
 *
 * Users (a user:password file or inline entries), the client allowlist,
 * the destination denylists, and the names of the ways a session ends.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "pk-error.h"
#include "pk-socks-proto-private.h"
#include "pk-socks-server-private.h"
#include "pk-util-private.h"

GHashTable *
pk_socks_users_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

PkSocksPolicy *
pk_socks_policy_ref (PkSocksPolicy *policy)
{
  return g_atomic_rc_box_acquire (policy);
}

static void
policy_clear (gpointer data)
{
  PkSocksPolicy *policy = data;

  g_clear_pointer (&policy->users, g_hash_table_unref);
  g_clear_pointer (&policy->allow, g_ptr_array_unref);
  g_clear_pointer (&policy->deny, g_ptr_array_unref);
  g_clear_pointer (&policy->deny_host, g_ptr_array_unref);
  g_clear_pointer (&policy->host_addresses, pk_rtnl_host_addresses_unref);
}

void
pk_socks_policy_unref (PkSocksPolicy *policy)
{
  g_atomic_rc_box_release_full (policy, policy_clear);
}

static const char * const result_names[] = {
  [PK_SOCKS_REPLY_SUCCEEDED] = "succeeded",
  [PK_SOCKS_REPLY_GENERAL_FAILURE] = "general-failure",
  [PK_SOCKS_REPLY_NOT_ALLOWED] = "not-allowed",
  [PK_SOCKS_REPLY_NETWORK_UNREACHABLE] = "network-unreachable",
  [PK_SOCKS_REPLY_HOST_UNREACHABLE] = "host-unreachable",
  [PK_SOCKS_REPLY_CONNECTION_REFUSED] = "connection-refused",
  [PK_SOCKS_REPLY_TTL_EXPIRED] = "ttl-expired",
  [PK_SOCKS_REPLY_COMMAND_NOT_SUPPORTED] = "command-not-supported",
  [PK_SOCKS_REPLY_ADDRESS_TYPE_NOT_SUPPORTED] = "address-type-not-supported",
};

static const char * const extra_result_names[] = {
  "auth-failed",
  "no-acceptable-method",
  "handshake-failed",
  "handshake-timeout",
};

const char *
pk_socks_result_to_string (guint result)
{
  if (result < G_N_ELEMENTS (result_names))
    return result_names[result];
  if (result >= PK_SOCKS_RESULT_AUTH_FAILED && result < PK_SOCKS_RESULT_N)
    return extra_result_names[result - PK_SOCKS_RESULT_AUTH_FAILED];
  return "unknown";
}

void
pk_socks_session_config_free (PkSocksSessionConfig *config)
{
  g_clear_pointer (&config->name, g_free);
  g_clear_pointer (&config->policy, pk_socks_policy_unref);
  g_clear_object (&config->egress);
  g_clear_object (&config->udp_advertise);
  g_free (config);
}

/* 127.0.0.0/8, ::1, the unspecified addresses (a connect to 0.0.0.0 reaches
 * the host too), and every address on the host's interfaces: followed
 * through rtnetlink, so that an address the host gains later (a dongle
 * plugged in, a tunnel brought up) is refused as soon as it exists. */
void
pk_socks_policy_deny_host (PkSocksPolicy *policy)
{
  g_autoptr(GError) error = NULL;

  policy->deny_host = pk_parse_cidr_list ("127.0.0.0/8 0.0.0.0/8 ::1/128 ::/128", NULL);
  policy->host_addresses = pk_rtnl_host_addresses_get (&error);
  if (policy->host_addresses == NULL)
    g_warning ("%s: only loopback is denied as a destination", error->message);
}

gboolean
pk_socks_policy_denies (PkSocksPolicy *policy,
                        GInetAddress  *address)
{
  return pk_cidr_list_matches (policy->deny, address) ||
         pk_cidr_list_matches (policy->deny_host, address) ||
         (policy->host_addresses != NULL && pk_rtnl_host_addresses_contains (policy->host_addresses, address));
}

GHashTable *
pk_socks_users_merge (GHashTable *a,
                      GHashTable *b)
{
  GHashTable *users = pk_socks_users_new ();
  GHashTable *sources[] = { a, b };

  for (guint i = 0; i < G_N_ELEMENTS (sources); i++)
    {
      GHashTableIter iter;
      gpointer key, value;

      g_hash_table_iter_init (&iter, sources[i]);
      while (g_hash_table_iter_next (&iter, &key, &value))
        g_hash_table_replace (users, g_strdup (key), g_strdup (value));
    }
  return users;
}

gboolean
pk_socks_users_add_entry (GHashTable  *users,
                          const char  *line,
                          const char  *origin,
                          guint        lineno,
                          GError     **error)
{
  const char *colon = strchr (line, ':');
  gsize ulen;

  if (colon == NULL || colon == line || colon[1] == '\0')
    {
      if (lineno > 0)
        g_set_error (error, PK_ERROR, PK_ERROR_CONFIG,
                     "%s:%u: expected user:password", origin, lineno);
      else
        g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                     "user entry '%s': expected user:password", line);
      return FALSE;
    }
  ulen = colon - line;
  if (ulen > 255 || strlen (colon + 1) > 255)
    {
      if (lineno > 0)
        g_set_error (error, PK_ERROR, PK_ERROR_CONFIG,
                     "%s:%u: user name and password must be at most 255 bytes each", origin, lineno);
      else
        g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                     "user entry for '%.*s': user name and password must be at most 255 bytes each",
                     (int) MIN (ulen, 64), line);
      return FALSE;
    }
  g_hash_table_replace (users, g_strndup (line, ulen), g_strdup (colon + 1));
  return TRUE;
}

GHashTable *
pk_socks_users_load_file (const char  *path,
                          GError     **error)
{
  g_autoptr(GHashTable) users = pk_socks_users_new ();
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GError) local_error = NULL;

  if (!g_file_get_contents (path, &contents, NULL, &local_error))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_CONFIG, "users file: %s", local_error->message);
      return NULL;
    }

  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *line = g_strstrip (lines[i]);

      if (*line == '\0' || *line == '#')
        continue;
      if (!pk_socks_users_add_entry (users, line, path, i + 1, error))
        return NULL;
    }

  return g_steal_pointer (&users);
}
