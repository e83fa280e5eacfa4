/* pk-egress-config.c: a PkEgress from a configuration section
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "pk-config-private.h"
#include "pk-egress.h"
#include "pk-error.h"

static char *
env_name (const char *prefix,
          const char *name)
{
  return prefix != NULL ? g_strconcat (prefix, name, NULL) : NULL;
}

/**
 * pk_egress_new_from_config:
 * @config: a [class@Config]
 * @section: (nullable): the section, such as `socks:11`
 * @env_prefix: (nullable): the prefix of the environment variables that
 *   stand for the keys, such as `SOCKS_`; %NULL for none
 * @error: return location for a `GError`
 *
 * Builds an egress from the keys `egress-address`, `egress-interface`,
 * `egress-dns` (nameservers, comma-separated), `fwmark` and `ttl` of
 * @section, or the variables `PREFIX` + `EGRESS_ADDRESS`,
 * `EGRESS_INTERFACE`, `EGRESS_DNS`, `FWMARK`, `TTL`; overrides (flags)
 * win over both, as in every lookup of [class@Config].
 *
 * Returns: (transfer full): the egress (the default route when nothing is
 *   set), or %NULL with @error set (%PK_ERROR_CONFIG) naming the bad value
 *
 * Since: 0.2
 */
PkEgress *
pk_egress_new_from_config (PkConfig    *config,
                           const char  *section,
                           const char  *env_prefix,
                           GError     **error)
{
  g_autoptr(PkEgress) egress = pk_egress_new ();
  g_autofree char *env_address = env_name (env_prefix, "EGRESS_ADDRESS");
  g_autofree char *env_interface = env_name (env_prefix, "EGRESS_INTERFACE");
  g_autofree char *env_dns = env_name (env_prefix, "EGRESS_DNS");
  g_autofree char *env_fwmark = env_name (env_prefix, "FWMARK");
  g_autofree char *env_ttl = env_name (env_prefix, "TTL");
  g_autofree char *address = NULL;
  g_autofree char *interface = NULL;
  g_auto(GStrv) dns = NULL;
  GError *local_error = NULL;
  guint64 n;

  g_return_val_if_fail (PK_IS_CONFIG (config), NULL);

  address = pk_config_dup_string (config, section, "egress-address", env_address, NULL);
  if (address != NULL && !pk_egress_set_address (egress, address, &local_error))
    return pk_config_value_error (config, section, "egress-address", env_address, local_error, error), NULL;

  interface = pk_config_dup_string (config, section, "egress-interface", env_interface, NULL);
  if (interface != NULL)
    {
      g_autoptr(PkEgress) check = pk_egress_new_full (NULL, interface, 0, 0, &local_error);

      if (check == NULL)
        return pk_config_value_error (config, section, "egress-interface", env_interface, local_error, error), NULL;
      pk_egress_set_interface (egress, interface);
    }

  dns = pk_config_dup_list (config, section, "egress-dns", env_dns);
  if (dns != NULL && !pk_egress_set_nameservers (egress, (const char * const *) dns, &local_error))
    return pk_config_value_error (config, section, "egress-dns", env_dns, local_error, error), NULL;

  if (!pk_config_get_uint (config, section, "fwmark", env_fwmark, 0, G_MAXUINT32, 0, &n, error))
    return NULL;
  pk_egress_set_fwmark (egress, n);
  if (!pk_config_get_uint (config, section, "ttl", env_ttl, 0, 255, 0, &n, error))
    return NULL;
  pk_egress_set_ttl (egress, n);

  return g_steal_pointer (&egress);
}
