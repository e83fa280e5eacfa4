/* pk-version.c: the version of the library at run time
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "pk-version.h"

/**
 * pk_get_major_version:
 *
 * The major version of the libproxykit that is running, which may differ
 * from [const@Proxykit.MAJOR_VERSION], the version the program was compiled
 * against.
 *
 * Returns: the major version
 *
 * Since: 0.2
 */
guint
pk_get_major_version (void)
{
  return PK_MAJOR_VERSION;
}

/**
 * pk_get_minor_version:
 *
 * The minor version of the libproxykit that is running.
 *
 * Returns: the minor version
 *
 * Since: 0.2
 */
guint
pk_get_minor_version (void)
{
  return PK_MINOR_VERSION;
}

/**
 * pk_get_micro_version:
 *
 * The micro version of the libproxykit that is running.
 *
 * Returns: the micro version
 *
 * Since: 0.2
 */
guint
pk_get_micro_version (void)
{
  return PK_MICRO_VERSION;
}

/**
 * pk_get_version:
 *
 * The version of the libproxykit that is running, as
 * "MAJOR.MINOR.MICRO". Programs and bindings that load the library at run
 * time report this, not [const@Proxykit.VERSION_S].
 *
 * Returns: (transfer none): the version string
 *
 * Since: 0.2
 */
const char *
pk_get_version (void)
{
  return PK_VERSION_S;
}

/**
 * pk_check_version:
 * @major: the required major version
 * @minor: the required minor version
 * @micro: the required micro version
 *
 * Whether the libproxykit that is running is at least version
 * @major.@minor.@micro, with the same major version. The run-time
 * counterpart of [func@Proxykit.CHECK_VERSION].
 *
 * Returns: %TRUE if it is compatible
 *
 * Since: 0.2
 */
gboolean
pk_check_version (guint major,
                  guint minor,
                  guint micro)
{
  return PK_MAJOR_VERSION == major &&
         (PK_MINOR_VERSION > minor ||
          (PK_MINOR_VERSION == minor && PK_MICRO_VERSION >= micro));
}
