/* pk-toggle-limiter.c: how many toggles may run at once on one host
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "pk-toggle-limiter.h"
#include "pk-toggle-private.h"

/**
 * PkToggleLimiter:
 *
 * How many toggles may run at once, shared by the [class@Toggle]s of one
 * host: each radio reconnect and reboot draws power from the same USB
 * hubs, and the operator wants most dongles serving at any time.
 *
 * Since: 0.1
 */
struct _PkToggleLimiter
{
  GObject parent_instance;

  guint max;
  guint running;
};

G_DEFINE_FINAL_TYPE (PkToggleLimiter, pk_toggle_limiter, G_TYPE_OBJECT)

static void
pk_toggle_limiter_class_init (PkToggleLimiterClass *klass)
{
}

static void
pk_toggle_limiter_init (PkToggleLimiter *self)
{
}

/**
 * pk_toggle_limiter_new:
 * @max_concurrent: how many toggles may run at once, 0 for no limit
 *
 * Creates a limiter of concurrent toggles, shared by the toggles of a farm.
 *
 * Returns: (transfer full): a new [class@ToggleLimiter]
 *
 * Since: 0.1
 */
PkToggleLimiter *
pk_toggle_limiter_new (guint max_concurrent)
{
  PkToggleLimiter *self = g_object_new (PK_TYPE_TOGGLE_LIMITER, NULL);

  self->max = max_concurrent;
  return self;
}

/**
 * pk_toggle_limiter_get_max:
 * @self: a [class@ToggleLimiter]
 *
 * Gets the limit, 0 for none.
 *
 * Returns: the limit, 0 for none
 *
 * Since: 0.1
 */
guint
pk_toggle_limiter_get_max (PkToggleLimiter *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_LIMITER (self), 0);

  return self->max;
}

/**
 * pk_toggle_limiter_get_running:
 * @self: a [class@ToggleLimiter]
 *
 * Tells how many toggles run now.
 *
 * Returns: how many toggles run now
 *
 * Since: 0.1
 */
guint
pk_toggle_limiter_get_running (PkToggleLimiter *self)
{
  g_return_val_if_fail (PK_IS_TOGGLE_LIMITER (self), 0);

  return self->running;
}

/* --- private API for PkToggle --- */

gboolean
pk_toggle_limiter_try_acquire (PkToggleLimiter *self,
                               gboolean         ignore_limit)
{
  if (!ignore_limit && self->max > 0 && self->running >= self->max)
    return FALSE;
  self->running++;
  return TRUE;
}

void
pk_toggle_limiter_release (PkToggleLimiter *self)
{
  g_return_if_fail (self->running > 0);
  self->running--;
}
