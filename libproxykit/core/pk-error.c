/* pk-error.c: the libproxykit error domain
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "pk-error.h"
#include "pk-error-private.h"

/* PK_ERROR is an extended GError domain (GLib 2.68): every error of it
 * carries this, which g_error_copy() copies and g_prefix_error() keeps,
 * so that a code a device reported survives whatever context callers put
 * in front of the message. The domain keeps its name, "pk-error-quark"
 * (G_DEFINE_EXTENDED_ERROR would name it "PkError"). */
typedef struct {
  guint hilink_code;
} PkErrorPrivate;

static PkErrorPrivate *
get_private (const GError *error)
{
  /* where GLib puts the private data: before the GError, aligned as
   * G_DEFINE_EXTENDED_ERROR computes it */
  const gsize sa = 2 * sizeof (gsize);
  const gsize as = (sizeof (PkErrorPrivate) + (sa - 1)) & -sa;

  return (PkErrorPrivate *) (((guint8 *) error) - as);
}

static void
private_init (GError *error)
{
  get_private (error)->hilink_code = 0;
}

static void
private_copy (const GError *src,
              GError       *dest)
{
  get_private (dest)->hilink_code = get_private (src)->hilink_code;
}

static void
private_clear (GError *error)
{
}

/**
 * pk_error_quark:
 *
 * The error domain of libproxykit, [error@Error]: `PK_ERROR` in C.
 *
 * Returns: the quark of the domain
 *
 * Since: 0.1
 */
GQuark
pk_error_quark (void)
{
  static GQuark q;
  static gsize initialized = 0;

  if (g_once_init_enter (&initialized))
    {
      q = g_error_domain_register_static ("pk-error-quark", sizeof (PkErrorPrivate),
                                          private_init, private_copy, private_clear);
      g_once_init_leave (&initialized, 1);
    }
  return q;
}

void
pk_error_set_hilink_code (GError *error,
                          guint   code)
{
  g_return_if_fail (error != NULL && error->domain == PK_ERROR);

  get_private (error)->hilink_code = code;
}

guint
pk_error_get_hilink_code (const GError *error)
{
  if (error == NULL || error->domain != PK_ERROR)
    return 0;
  return get_private (error)->hilink_code;
}
