/* pk-usb-controller-reset.c: the last resort when most dongles fail at once
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkUsbControllerReset:
 *
 * The farm's last resort: when most of its dongles fail at once (70 % by
 * default), the fault is rarely in the dongles but in the USB host
 * controller they hang off, which no port power cycle reaches. This
 * object resets that controller, unbinding its `xhci_hcd` PCI device
 * (`/sys/bus/pci/drivers/xhci_hcd/unbind`) and binding it again after a
 * pause, which makes the kernel enumerate everything behind it anew.
 *
 * Guard rails: nothing happens unless it is allowed
 * ([method@UsbControllerReset.set_allowed]: `--allow-controller-reset`,
 * or `allow-controller-reset = true`), and at most once per interval
 * (10 min by default) for the whole host. The time of the last reset is
 * kept in the [class@StateStore] as a document
 * ([const@USB_CONTROLLER_RESET_DOCUMENT]), written atomically and
 * updated under the document's lock before the controller is touched, so
 * that two watchers, or a watcher restarted in a loop, never reset more
 * often than that.
 *
 * A watcher calls [method@UsbControllerReset.maybe_async] with the
 * dongles that failed in one round of checks and the number it watches;
 * the call tells it whether it reset something and, if not, why
 * (%PK_ERROR_NOT_ALLOWED: not allowed or too few failed;
 * %PK_ERROR_COOLDOWN: too soon after the last reset), so that it can go
 * on with its per-dongle recoveries.
 *
 * ```c
 * g_autoptr(PkUsbControllerReset) reset =
 *   pk_usb_controller_reset_new_from_config (config, "watchdog", store, &error);
 *
 * // after a round of checks, with failed[] the dongles that failed:
 * pk_usb_controller_reset_maybe_async (reset, failed, n_failed, n_watched,
 *                                      NULL, on_reset, self);
 *
 * static void
 * on_reset (GObject *source, GAsyncResult *result, gpointer user_data)
 * {
 *   g_autoptr(GError) error = NULL;
 *   g_auto(GStrv) reset = pk_usb_controller_reset_maybe_finish (
 *     PK_USB_CONTROLLER_RESET (source), result, &error);
 *
 *   if (reset == NULL && !g_error_matches (error, PK_ERROR, PK_ERROR_NOT_ALLOWED) &&
 *       !g_error_matches (error, PK_ERROR, PK_ERROR_COOLDOWN))
 *     g_warning ("%s", error->message);
 * }
 * ```
 *
 * Since: 0.2
 */

#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include <json-glib/json-glib.h>

#include "pk-dongle-private.h"
#include "pk-error.h"
#include "pk-usb-controller-reset.h"
#include "pk-util-private.h"

#define RECORD_VERSION 1
#define DRIVER "xhci_hcd"
#define DRIVER_DIR "/sys/bus/pci/drivers/" DRIVER
#define BIND_TRIES 3

struct _PkUsbControllerReset
{
  GObject parent_instance;

  PkStateStore *store;
  gboolean allowed;
  guint threshold;
  guint interval_ms;
  guint pause_ms;
};

G_DEFINE_FINAL_TYPE (PkUsbControllerReset, pk_usb_controller_reset, G_TYPE_OBJECT)

static void
pk_usb_controller_reset_finalize (GObject *object)
{
  g_clear_object (&PK_USB_CONTROLLER_RESET (object)->store);
  G_OBJECT_CLASS (pk_usb_controller_reset_parent_class)->finalize (object);
}

static void
pk_usb_controller_reset_class_init (PkUsbControllerResetClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pk_usb_controller_reset_finalize;
}

static void
pk_usb_controller_reset_init (PkUsbControllerReset *self)
{
  self->threshold = PK_USB_CONTROLLER_RESET_DEFAULT_THRESHOLD;
  self->interval_ms = PK_USB_CONTROLLER_RESET_DEFAULT_INTERVAL_MS;
  self->pause_ms = PK_USB_CONTROLLER_RESET_DEFAULT_PAUSE_MS;
}

/**
 * pk_usb_controller_reset_new:
 * @store: the state store that keeps the time of the last reset
 *
 * Creates the policy with its defaults: not allowed, 70 %, once per
 * 10 min.
 *
 * Returns: (transfer full): a new [class@UsbControllerReset]
 *
 * Since: 0.2
 */
PkUsbControllerReset *
pk_usb_controller_reset_new (PkStateStore *store)
{
  PkUsbControllerReset *self;

  g_return_val_if_fail (PK_IS_STATE_STORE (store), NULL);

  self = g_object_new (PK_TYPE_USB_CONTROLLER_RESET, NULL);
  self->store = g_object_ref (store);
  return self;
}

/**
 * pk_usb_controller_reset_get_config_keys:
 *
 * The keys [ctor@UsbControllerReset.new_from_config] reads, for a tool's
 * check of its section: `allow-controller-reset`,
 * `controller-reset-threshold`, `controller-reset-interval`.
 *
 * Returns: (transfer none) (array zero-terminated=1): the keys
 *
 * Since: 0.2
 */
const char * const *
pk_usb_controller_reset_get_config_keys (void)
{
  static const char * const keys[] = {
    "allow-controller-reset", "controller-reset-threshold", "controller-reset-interval", NULL
  };
  return keys;
}

/**
 * pk_usb_controller_reset_new_from_config:
 * @config: the configuration
 * @section: the section to read, such as `watchdog`
 * @store: the state store that keeps the time of the last reset
 * @error: return location for a `GError`
 *
 * Creates the policy from @section: `allow-controller-reset` (a boolean,
 * false by default), `controller-reset-threshold` (percent of the dongles,
 * 1-100, default 70) and `controller-reset-interval` (a duration, default
 * 10min).
 *
 * Returns: (transfer full) (nullable): a new [class@UsbControllerReset],
 *   or %NULL with @error set (%PK_ERROR_CONFIG naming the key)
 *
 * Since: 0.2
 */
PkUsbControllerReset *
pk_usb_controller_reset_new_from_config (PkConfig      *config,
                                         const char    *section,
                                         PkStateStore  *store,
                                         GError       **error)
{
  g_autoptr(PkUsbControllerReset) self = NULL;
  guint64 threshold, interval;

  g_return_val_if_fail (PK_IS_CONFIG (config), NULL);
  g_return_val_if_fail (section != NULL, NULL);
  g_return_val_if_fail (PK_IS_STATE_STORE (store), NULL);

  self = pk_usb_controller_reset_new (store);
  if (!pk_config_get_boolean (config, section, "allow-controller-reset", NULL, FALSE, &self->allowed, error) ||
      !pk_config_get_uint (config, section, "controller-reset-threshold", NULL, 1, 100,
                           PK_USB_CONTROLLER_RESET_DEFAULT_THRESHOLD, &threshold, error) ||
      !pk_config_get_duration_ms (config, section, "controller-reset-interval", NULL,
                                  PK_USB_CONTROLLER_RESET_DEFAULT_INTERVAL_MS, &interval, error))
    return NULL;
  self->threshold = (guint) threshold;
  self->interval_ms = (guint) MIN (interval, G_MAXUINT);
  return g_steal_pointer (&self);
}

/**
 * pk_usb_controller_reset_get_allowed:
 * @self: a [class@UsbControllerReset]
 *
 * Whether a reset may happen at all.
 *
 * Returns: %TRUE if a reset may happen at all
 *
 * Since: 0.2
 */
gboolean
pk_usb_controller_reset_get_allowed (PkUsbControllerReset *self)
{
  g_return_val_if_fail (PK_IS_USB_CONTROLLER_RESET (self), FALSE);
  return self->allowed;
}

/**
 * pk_usb_controller_reset_set_allowed:
 * @self: a [class@UsbControllerReset]
 * @allowed: %TRUE to allow resets (`--allow-controller-reset`)
 *
 * Allows or forbids resets; they are forbidden by default, as a reset
 * drops every USB device behind the controller for a while.
 *
 * Since: 0.2
 */
void
pk_usb_controller_reset_set_allowed (PkUsbControllerReset *self,
                                     gboolean              allowed)
{
  g_return_if_fail (PK_IS_USB_CONTROLLER_RESET (self));
  self->allowed = allowed;
}

/**
 * pk_usb_controller_reset_get_threshold:
 * @self: a [class@UsbControllerReset]
 *
 * The share of the dongles, in percent, that must fail at once.
 *
 * Returns: the share of the dongles, in percent, that must fail at once
 *
 * Since: 0.2
 */
guint
pk_usb_controller_reset_get_threshold (PkUsbControllerReset *self)
{
  g_return_val_if_fail (PK_IS_USB_CONTROLLER_RESET (self), 0);
  return self->threshold;
}

/**
 * pk_usb_controller_reset_set_threshold:
 * @self: a [class@UsbControllerReset]
 * @percent: 1-100 (default %PK_USB_CONTROLLER_RESET_DEFAULT_THRESHOLD)
 *
 * Sets the share of the dongles that must fail at once.
 *
 * Since: 0.2
 */
void
pk_usb_controller_reset_set_threshold (PkUsbControllerReset *self,
                                       guint                 percent)
{
  g_return_if_fail (PK_IS_USB_CONTROLLER_RESET (self));
  g_return_if_fail (percent >= 1 && percent <= 100);
  self->threshold = percent;
}

/**
 * pk_usb_controller_reset_get_interval:
 * @self: a [class@UsbControllerReset]
 *
 * The least time between two resets, in milliseconds.
 *
 * Returns: the least time between two resets, in milliseconds
 *
 * Since: 0.2
 */
guint
pk_usb_controller_reset_get_interval (PkUsbControllerReset *self)
{
  g_return_val_if_fail (PK_IS_USB_CONTROLLER_RESET (self), 0);
  return self->interval_ms;
}

/**
 * pk_usb_controller_reset_set_interval:
 * @self: a [class@UsbControllerReset]
 * @interval_ms: the least time between two resets of the host's
 *   controllers (default %PK_USB_CONTROLLER_RESET_DEFAULT_INTERVAL_MS)
 *
 * Sets the rate limit.
 *
 * Since: 0.2
 */
void
pk_usb_controller_reset_set_interval (PkUsbControllerReset *self,
                                      guint                 interval_ms)
{
  g_return_if_fail (PK_IS_USB_CONTROLLER_RESET (self));
  self->interval_ms = interval_ms;
}

/**
 * pk_usb_controller_reset_set_pause:
 * @self: a [class@UsbControllerReset]
 * @pause_ms: how long a controller stays unbound (default
 *   %PK_USB_CONTROLLER_RESET_DEFAULT_PAUSE_MS)
 *
 * Sets the pause between unbind and bind.
 *
 * Since: 0.2
 */
void
pk_usb_controller_reset_set_pause (PkUsbControllerReset *self,
                                   guint                 pause_ms)
{
  g_return_if_fail (PK_IS_USB_CONTROLLER_RESET (self));
  self->pause_ms = pause_ms;
}

/**
 * pk_usb_controller_reset_is_due:
 * @self: a [class@UsbControllerReset]
 * @n_failed: dongles that failed at once
 * @n_total: dongles watched
 *
 * Whether @n_failed of @n_total reaches the threshold. It says nothing of
 * the other guard rails (allowed, interval).
 *
 * Returns: %TRUE if @n_failed is at least the threshold's share of @n_total
 *
 * Since: 0.2
 */
gboolean
pk_usb_controller_reset_is_due (PkUsbControllerReset *self,
                                guint                 n_failed,
                                guint                 n_total)
{
  g_return_val_if_fail (PK_IS_USB_CONTROLLER_RESET (self), FALSE);
  return n_total > 0 && n_failed <= n_total && (guint64) n_failed * 100 >= (guint64) self->threshold * n_total;
}

/* When the last reset was (real time, microseconds), 0 if never. */
static gint64
load_last_reset (PkUsbControllerReset  *self,
                 GError               **error)
{
  g_autofree char *text = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) local_error = NULL;
  g_autofree char *path = pk_state_store_dup_document_path (self->store, PK_USB_CONTROLLER_RESET_DOCUMENT);
  JsonNode *root;

  text = pk_state_store_load_document (self->store, PK_USB_CONTROLLER_RESET_DOCUMENT, &local_error);
  if (text == NULL)
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return 0;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return -1;
    }
  root = json_parser_load_from_data (parser, text, -1, NULL) ? json_parser_get_root (parser) : NULL;
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root) ||
      json_object_get_int_member_with_default (json_node_get_object (root), "last_reset", -1) < 0)
    {
      /* A corrupt record must not stop the guard rail: it counts as a
       * reset now, so the next one waits a whole interval. */
      g_warning ("%s: not a reset record (expected {\"last_reset\": MICROSECONDS, ...}): "
                 "taken as a reset just now", path);
      return g_get_real_time ();
    }
  return json_object_get_int_member (json_node_get_object (root), "last_reset");
}

static guint
remaining_after (PkUsbControllerReset *self,
                 gint64                last)
{
  gint64 left;

  if (last <= 0)
    return 0;
  left = last + (gint64) self->interval_ms * 1000 - g_get_real_time ();
  /* a time in the future (the clock was set back) holds one interval at most */
  left = MIN (left, (gint64) self->interval_ms * 1000);
  return left > 0 ? (guint) ((left + 999) / 1000) : 0;
}

/**
 * pk_usb_controller_reset_get_remaining:
 * @self: a [class@UsbControllerReset]
 *
 * How long until a reset may happen again, from the record in the state
 * store (shared by every process that uses it).
 *
 * Returns: milliseconds until the next reset may happen, 0 if it may now
 *
 * Since: 0.2
 */
guint
pk_usb_controller_reset_get_remaining (PkUsbControllerReset *self)
{
  g_autoptr(GError) error = NULL;
  gint64 last;

  g_return_val_if_fail (PK_IS_USB_CONTROLLER_RESET (self), 0);

  last = load_last_reset (self, &error);
  if (last < 0)
    {
      g_warning ("%s", error->message);
      return self->interval_ms;
    }
  return remaining_after (self, last);
}

/* The USB device directory of @dongle in sysfs, however much is known. */
static char *
dongle_usb_dir (PkDongle *dongle)
{
  if (pk_dongle_get_sysfs_path (dongle) != NULL)
    return g_strdup (pk_dongle_get_sysfs_path (dongle));
  if (pk_dongle_get_usb_path (dongle) != NULL)
    return g_build_filename ("/sys/bus/usb/devices", pk_dongle_get_usb_path (dongle), NULL);
  if (pk_dongle_get_hub_path (dongle) != NULL)
    return g_build_filename ("/sys/bus/usb/devices", pk_dongle_get_hub_path (dongle), NULL);
  return NULL;
}

/**
 * pk_usb_controller_reset_dup_controller:
 * @dongle: a dongle on USB
 * @error: return location for a `GError`
 *
 * Finds the USB host controller @dongle hangs off: the first device above
 * it in sysfs that the `xhci_hcd` driver holds, a PCI device such as
 * `0000:00:14.0`.
 *
 * Returns: (transfer full) (nullable): the controller's PCI name, or
 *   %NULL with @error set (%PK_ERROR_NOT_SUPPORTED: no `xhci_hcd` above
 *   the dongle, or the dongle is not on USB)
 *
 * Since: 0.2
 */
char *
pk_usb_controller_reset_dup_controller (PkDongle  *dongle,
                                        GError   **error)
{
  g_autofree char *dir = NULL;
  g_autofree char *real = NULL;
  char *p;

  g_return_val_if_fail (PK_IS_DONGLE (dongle), NULL);

  dir = dongle_usb_dir (dongle);
  if (dir == NULL)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_NOT_SUPPORTED, "dongle %u: not on USB (never discovered)",
                   pk_dongle_get_id (dongle));
      return NULL;
    }
  real = realpath (dir, NULL);
  if (real == NULL)
    {
      int saved = errno;
      g_set_error (error, PK_ERROR, PK_ERROR_NOT_SUPPORTED, "dongle %u: %s: %s", pk_dongle_get_id (dongle), dir,
                   g_strerror (saved));
      return NULL;
    }
  /* /sys/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1.3: up to the
   * device the driver holds */
  while ((p = strrchr (real, '/')) != NULL && p != real)
    {
      g_autofree char *link = g_build_filename (real, "driver", NULL);
      g_autofree char *target = g_file_read_link (link, NULL);

      if (target != NULL && g_strcmp0 (strrchr (target, '/') ? strrchr (target, '/') + 1 : target, DRIVER) == 0)
        return g_strdup (p + 1);
      *p = '\0';
    }
  g_set_error (error, PK_ERROR, PK_ERROR_NOT_SUPPORTED, "dongle %u: no %s controller above %s",
               pk_dongle_get_id (dongle), DRIVER, dir);
  return NULL;
}

static gboolean
record_reset (PkUsbControllerReset  *self,
              char                 **controllers,
              guint                  n_failed,
              guint                  n_total,
              GError               **error)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "version");
  json_builder_add_int_value (b, RECORD_VERSION);
  json_builder_set_member_name (b, "last_reset");
  json_builder_add_int_value (b, g_get_real_time ());
  json_builder_set_member_name (b, "controllers");
  json_builder_begin_array (b);
  for (guint i = 0; controllers[i] != NULL; i++)
    json_builder_add_string_value (b, controllers[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "failed");
  json_builder_add_int_value (b, n_failed);
  json_builder_set_member_name (b, "total");
  json_builder_add_int_value (b, n_total);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  text = json_to_string (root, TRUE);
  return pk_state_store_save_document (self->store, PK_USB_CONTROLLER_RESET_DOCUMENT, text, error);
}

typedef struct {
  char **controllers;     /* the ones unbound, returned in the end */
  gboolean *bound;        /* which of them are bound again */
  guint tries;
  GSource *source;
} Reset;

static void
reset_free (Reset *r)
{
  g_strfreev (r->controllers);
  g_free (r->bound);
  pk_source_clear (&r->source);
  g_free (r);
}

static gboolean
reset_bind (gpointer user_data)
{
  GTask *task = user_data;
  PkUsbControllerReset *self = g_task_get_source_object (task);
  Reset *r = g_task_get_task_data (task);
  g_autoptr(GError) first_error = NULL;

  pk_source_clear (&r->source);
  r->tries++;
  for (guint i = 0; r->controllers[i] != NULL; i++)
    {
      g_autoptr(GError) error = NULL;

      if (r->bound[i])
        continue;
      if (pk_sysfs_write (DRIVER_DIR "/bind", r->controllers[i], &error))
        {
          g_message ("USB controller %s bound again", r->controllers[i]);
          r->bound[i] = TRUE;
        }
      else if (first_error == NULL)
        first_error = g_steal_pointer (&error);
    }
  if (first_error == NULL)
    g_task_return_pointer (task, g_strdupv (r->controllers), (GDestroyNotify) g_strfreev);
  else if (r->tries < BIND_TRIES)
    {
      /* Never leave a controller unbound: once more after a pause. */
      g_message ("%s; trying again", first_error->message);
      r->source = pk_timeout_source_attach (g_task_get_context (task), self->pause_ms, reset_bind, task);
      return G_SOURCE_REMOVE;
    }
  else
    {
      g_prefix_error (&first_error, "USB controller reset: cannot bind again after %u tries: ", r->tries);
      g_task_return_error (task, g_steal_pointer (&first_error));
    }
  g_object_unref (task);
  return G_SOURCE_REMOVE;
}

/**
 * pk_usb_controller_reset_maybe_async:
 * @self: a [class@UsbControllerReset]
 * @failed: (array length=n_failed): the dongles that failed at once
 * @n_failed: the number of @failed
 * @n_total: the number of dongles watched
 * @cancellable: (nullable): a `GCancellable` (a reset under way still
 *   binds its controllers again)
 * @callback: (scope async): called when the reset is done or declined
 * @user_data: data for @callback
 *
 * Resets the USB controllers of the @failed dongles if every guard rail
 * lets it: resets are allowed, @n_failed reaches the threshold's share of
 * @n_total ([method@UsbControllerReset.is_due]), and the last reset on
 * this host is one interval ago at least. The reset is recorded first,
 * then each controller is unbound from `xhci_hcd`, and bound again after
 * the pause (tried up to 3 times, so that none is left unbound).
 *
 * Since: 0.2
 */
void
pk_usb_controller_reset_maybe_async (PkUsbControllerReset  *self,
                                     PkDongle             **failed,
                                     guint                  n_failed,
                                     guint                  n_total,
                                     GCancellable          *cancellable,
                                     GAsyncReadyCallback    callback,
                                     gpointer               user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func (g_free);
  g_auto(GStrv) controllers = NULL;
  GError *error = NULL;
  Reset *r;
  guint n = 0;
  gint64 last;

  g_return_if_fail (PK_IS_USB_CONTROLLER_RESET (self));
  g_return_if_fail (failed != NULL || n_failed == 0);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_usb_controller_reset_maybe_async);

  if (!self->allowed)
    {
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_NOT_ALLOWED,
                               "USB controller reset: not allowed (--allow-controller-reset, "
                               "allow-controller-reset = true)");
      return;
    }
  if (!pk_usb_controller_reset_is_due (self, n_failed, n_total))
    {
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_NOT_ALLOWED,
                               "USB controller reset: %u of %u dongles failed, below %u %%",
                               n_failed, n_total, self->threshold);
      return;
    }
  for (guint i = 0; i < n_failed; i++)
    {
      g_autoptr(GError) local_error = NULL;
      g_autofree char *pci = pk_usb_controller_reset_dup_controller (failed[i], &local_error);

      if (pci == NULL)
        g_debug ("%s", local_error->message);
      else if (!g_ptr_array_find_with_equal_func (found, pci, g_str_equal, NULL))
        g_ptr_array_add (found, g_steal_pointer (&pci));
    }
  g_ptr_array_add (found, NULL);
  controllers = (char **) g_ptr_array_free (g_steal_pointer (&found), FALSE);
  if (controllers[0] == NULL)
    {
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_NOT_SUPPORTED,
                               "USB controller reset: no %s controller found above the %u failed dongles",
                               DRIVER, n_failed);
      return;
    }

  /* The decision and its record are one step under the record's lock:
   * two watchers never both reset. */
  if (!pk_state_store_lock_document (self->store, PK_USB_CONTROLLER_RESET_DOCUMENT, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  last = load_last_reset (self, &error);
  if (last < 0 || (n = remaining_after (self, last)) > 0 ||
      !record_reset (self, controllers, n_failed, n_total, &error))
    {
      pk_state_store_unlock_document (self->store, PK_USB_CONTROLLER_RESET_DOCUMENT);
      if (error == NULL)
        error = g_error_new (PK_ERROR, PK_ERROR_COOLDOWN,
                             "USB controller reset: the last one was less than %u s ago, next in %u s",
                             self->interval_ms / 1000, (n + 999) / 1000);
      g_task_return_error (task, error);
      return;
    }
  pk_state_store_unlock_document (self->store, PK_USB_CONTROLLER_RESET_DOCUMENT);

  r = g_new0 (Reset, 1);
  r->bound = g_new0 (gboolean, g_strv_length (controllers));
  g_task_set_task_data (task, r, (GDestroyNotify) reset_free);
  {
    g_autoptr(GStrvBuilder) unbound = g_strv_builder_new ();

    for (guint i = 0; controllers[i] != NULL; i++)
      {
        g_autoptr(GError) local_error = NULL;

        g_message ("%u of %u dongles failed at once: resetting USB controller %s (%s)", n_failed, n_total,
                   controllers[i], DRIVER);
        if (pk_sysfs_write (DRIVER_DIR "/unbind", controllers[i], &local_error))
          g_strv_builder_add (unbound, controllers[i]);
        else if (error == NULL)
          error = g_steal_pointer (&local_error);
      }
    r->controllers = g_strv_builder_end (unbound);
  }
  if (r->controllers[0] == NULL)
    {
      g_prefix_error (&error, "USB controller reset: cannot unbind: ");
      g_task_return_error (task, error);
      return;
    }
  if (error != NULL)
    {
      g_warning ("USB controller reset: %s", error->message);
      g_clear_error (&error);
    }
  r->source = pk_timeout_source_attach (g_task_get_context (task), self->pause_ms, reset_bind, task);
  g_steal_pointer (&task);
}

/**
 * pk_usb_controller_reset_maybe_finish:
 * @self: a [class@UsbControllerReset]
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Finishes [method@UsbControllerReset.maybe_async].
 *
 * Returns: (transfer full) (array zero-terminated=1) (nullable): the PCI
 *   names of the controllers reset, or %NULL with @error set:
 *   %PK_ERROR_NOT_ALLOWED (not allowed, or too few dongles failed),
 *   %PK_ERROR_COOLDOWN (too soon after the last reset),
 *   %PK_ERROR_NOT_SUPPORTED (no `xhci_hcd` controller above the dongles),
 *   or the error of a write to sysfs
 *
 * Since: 0.2
 */
char **
pk_usb_controller_reset_maybe_finish (PkUsbControllerReset  *self,
                                      GAsyncResult          *result,
                                      GError               **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pk_usb_controller_reset_maybe_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
