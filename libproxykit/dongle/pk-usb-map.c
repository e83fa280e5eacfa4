/* pk-usb-map.c: which dongle sits on which hub port, kept across reboots
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkUsbMap:
 *
 * The farm's USB map: dongle N sits on port P of hub H (with its USB
 * device path, serial, MAC address and interface as last seen). It is
 * what is left of a dongle that has disappeared from USB, so that its hub
 * port can be powered back on, and what numbers a dongle that has no
 * address yet.
 *
 * The map is a document of a [class@StateStore]
 * ([const@USB_MAP_DOCUMENT], `STATE_DIR/host/usb-map.json`), written
 * atomically. `pk_usb_map_record()` refreshes it from a discovery: under
 * the document's lock it reads the file again, updates the dongles seen
 * now, keeps the others, and writes it back, so that pk-socks and
 * pk-toggle can both record what they see. `pk_usb_map_import_seed()`
 * takes in the older tools' `usb_mapping.json` and `dongle_config.json`.
 *
 * ```c
 * g_autoptr(PkStateStore) store = pk_state_store_new (NULL);
 * g_autoptr(PkUsbMap) map = pk_usb_map_new (store);
 * PkUsbMapEntry *entry;
 *
 * if (!pk_usb_map_load (map, &error))
 *   return FALSE;
 * entry = pk_usb_map_lookup (map, 11);
 * if (entry != NULL)
 *   g_print ("dongle 11: hub %s port %u (%s)\n",
 *            pk_usb_map_entry_get_hub_path (entry),
 *            pk_usb_map_entry_get_hub_port (entry),
 *            pk_usb_map_entry_dup_port_sysfs_path (entry));
 * ```
 *
 * Since: 0.2
 */

/**
 * PkUsbMapEntry:
 *
 * One dongle of a [class@UsbMap]: its number, its hub and port, and what
 * was last seen of it.
 *
 * Since: 0.2
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "pk-dongle-private.h"
#include "pk-error.h"
#include "pk-usb-hub-private.h"
#include "pk-usb-map.h"

#define MAP_VERSION 1

/* --- PkUsbMapEntry --- */

struct _PkUsbMapEntry
{
  GObject parent_instance;

  guint id;
  char *hub_path;
  guint hub_port;
  char *usb_path;
  char *serial;
  char *mac_address;
  char *interface;
  char *usb_id;
  gint64 last_seen;
};

G_DEFINE_FINAL_TYPE (PkUsbMapEntry, pk_usb_map_entry, G_TYPE_OBJECT)

static void
pk_usb_map_entry_finalize (GObject *object)
{
  PkUsbMapEntry *self = PK_USB_MAP_ENTRY (object);

  g_free (self->hub_path);
  g_free (self->usb_path);
  g_free (self->serial);
  g_free (self->mac_address);
  g_free (self->interface);
  g_free (self->usb_id);

  G_OBJECT_CLASS (pk_usb_map_entry_parent_class)->finalize (object);
}

static void
pk_usb_map_entry_class_init (PkUsbMapEntryClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pk_usb_map_entry_finalize;
}

static void
pk_usb_map_entry_init (PkUsbMapEntry *self)
{
}

/* "1-3.4" and port 4 -> "1-3.4.4"; "usb1" and port 3 -> "1-3". */
static char *
child_usb_path (const char *hub,
                guint       port)
{
  if (g_str_has_prefix (hub, "usb"))
    return g_strdup_printf ("%s-%u", hub + 3, port);
  return g_strdup_printf ("%s.%u", hub, port);
}

static gboolean
hub_path_is_valid (const char *hub)
{
  const char *p = hub;

  if (hub == NULL || *hub == '\0')
    return FALSE;
  if (g_str_has_prefix (hub, "usb"))
    {
      p = hub + 3;
      if (*p == '\0')
        return FALSE;
      for (; *p; p++)
        if (!g_ascii_isdigit (*p))
          return FALSE;
      return TRUE;
    }
  /* BUS-PORT[.PORT...] */
  if (!g_ascii_isdigit (*p))
    return FALSE;
  while (g_ascii_isdigit (*p))
    p++;
  if (*p++ != '-' || !g_ascii_isdigit (*p))
    return FALSE;
  while (*p)
    {
      if (*p == '.')
        {
          p++;
          if (!g_ascii_isdigit (*p))
            return FALSE;
        }
      else if (!g_ascii_isdigit (*p))
        return FALSE;
      else
        p++;
    }
  return TRUE;
}

/**
 * pk_usb_map_entry_new:
 * @id: the dongle's number N (1-255)
 * @hub_path: the hub, such as `1-1` (`usb1` for the root hub)
 * @hub_port: the port on it (1-255)
 *
 * A new [class@UsbMapEntry], its USB path derived from the
 * hub and port.
 *
 * Returns: (transfer full): a new [class@UsbMapEntry], its USB path derived
 *   from the hub and port
 *
 * Since: 0.2
 */
PkUsbMapEntry *
pk_usb_map_entry_new (guint       id,
                      const char *hub_path,
                      guint       hub_port)
{
  PkUsbMapEntry *self;

  g_return_val_if_fail (id >= 1 && id <= 255, NULL);
  g_return_val_if_fail (hub_path_is_valid (hub_path), NULL);
  g_return_val_if_fail (hub_port >= 1 && hub_port <= 255, NULL);

  self = g_object_new (PK_TYPE_USB_MAP_ENTRY, NULL);
  self->id = id;
  self->hub_path = g_strdup (hub_path);
  self->hub_port = hub_port;
  self->usb_path = child_usb_path (hub_path, hub_port);
  return self;
}

/**
 * pk_usb_map_entry_get_id:
 * @self: a [class@UsbMapEntry]
 *
 * The dongle's number N.
 *
 * Returns: the dongle's number N
 *
 * Since: 0.2
 */
guint
pk_usb_map_entry_get_id (PkUsbMapEntry *self)
{
  g_return_val_if_fail (PK_IS_USB_MAP_ENTRY (self), 0);
  return self->id;
}

/**
 * pk_usb_map_entry_get_hub_path:
 * @self: a [class@UsbMapEntry]
 *
 * The hub it sits on (`1-1`; `usb1` for the root hub).
 *
 * Returns: the hub it sits on (`1-1`; `usb1` for the root hub)
 *
 * Since: 0.2
 */
const char *
pk_usb_map_entry_get_hub_path (PkUsbMapEntry *self)
{
  g_return_val_if_fail (PK_IS_USB_MAP_ENTRY (self), NULL);
  return self->hub_path;
}

/**
 * pk_usb_map_entry_get_hub_port:
 * @self: a [class@UsbMapEntry]
 *
 * The port of the hub it sits on.
 *
 * Returns: the port of the hub it sits on
 *
 * Since: 0.2
 */
guint
pk_usb_map_entry_get_hub_port (PkUsbMapEntry *self)
{
  g_return_val_if_fail (PK_IS_USB_MAP_ENTRY (self), 0);
  return self->hub_port;
}

/**
 * pk_usb_map_entry_get_usb_path:
 * @self: a [class@UsbMapEntry]
 *
 * The USB device path a dongle on that port has (`1-1.3`).
 *
 * Returns: the USB device path a dongle on that port has (`1-1.3`)
 *
 * Since: 0.2
 */
const char *
pk_usb_map_entry_get_usb_path (PkUsbMapEntry *self)
{
  g_return_val_if_fail (PK_IS_USB_MAP_ENTRY (self), NULL);
  return self->usb_path;
}

/**
 * pk_usb_map_entry_get_serial:
 * @self: a [class@UsbMapEntry]
 *
 * The USB serial number last seen, or %NULL.
 *
 * Returns: (nullable): the USB serial number last seen, or %NULL
 *
 * Since: 0.2
 */
const char *
pk_usb_map_entry_get_serial (PkUsbMapEntry *self)
{
  g_return_val_if_fail (PK_IS_USB_MAP_ENTRY (self), NULL);
  return self->serial;
}

/**
 * pk_usb_map_entry_get_mac_address:
 * @self: a [class@UsbMapEntry]
 *
 * The MAC address of its interface last seen, or %NULL.
 *
 * Returns: (nullable): the MAC address of its interface last seen, or %NULL
 *
 * Since: 0.2
 */
const char *
pk_usb_map_entry_get_mac_address (PkUsbMapEntry *self)
{
  g_return_val_if_fail (PK_IS_USB_MAP_ENTRY (self), NULL);
  return self->mac_address;
}

/**
 * pk_usb_map_entry_get_interface:
 * @self: a [class@UsbMapEntry]
 *
 * Its network interface last seen, or %NULL.
 *
 * Returns: (nullable): its network interface last seen, or %NULL
 *
 * Since: 0.2
 */
const char *
pk_usb_map_entry_get_interface (PkUsbMapEntry *self)
{
  g_return_val_if_fail (PK_IS_USB_MAP_ENTRY (self), NULL);
  return self->interface;
}

/**
 * pk_usb_map_entry_get_usb_id:
 * @self: a [class@UsbMapEntry]
 *
 * `vendor:product` last seen (`12d1:14db`), or %NULL.
 *
 * Returns: (nullable): `vendor:product` last seen (`12d1:14db`), or %NULL
 *
 * Since: 0.2
 */
const char *
pk_usb_map_entry_get_usb_id (PkUsbMapEntry *self)
{
  g_return_val_if_fail (PK_IS_USB_MAP_ENTRY (self), NULL);
  return self->usb_id;
}

/**
 * pk_usb_map_entry_get_last_seen:
 * @self: a [class@UsbMapEntry]
 *
 * When a discovery last saw the dongle (Unix time), or 0.
 *
 * Returns: when a discovery last saw the dongle (Unix time), or 0
 *
 * Since: 0.2
 */
gint64
pk_usb_map_entry_get_last_seen (PkUsbMapEntry *self)
{
  g_return_val_if_fail (PK_IS_USB_MAP_ENTRY (self), 0);
  return self->last_seen;
}

/**
 * pk_usb_map_entry_dup_port_sysfs_path:
 * @self: a [class@UsbMapEntry]
 *
 * The sysfs directory of the dongle's hub port, whether or not a device
 * is plugged in: `/sys/bus/usb/devices/1-1:1.0/1-1-port3`. Its `disable`
 * attribute (Linux 6.0 and later) switches the port's power.
 *
 * Returns: (transfer full): the path
 *
 * Since: 0.2
 */
char *
pk_usb_map_entry_dup_port_sysfs_path (PkUsbMapEntry *self)
{
  g_return_val_if_fail (PK_IS_USB_MAP_ENTRY (self), NULL);
  return pk_usb_port_dup_sysfs_path (self->hub_path, self->hub_port);
}

/**
 * pk_usb_map_entry_get_power:
 * @self: a [class@UsbMapEntry]
 * @out_on: (out): %TRUE if the port has power
 * @error: return location for a `GError`
 *
 * Reads the `disable` attribute of the dongle's hub port (Linux 6.0 and
 * later) or, where the port has none (older kernels, some hubs), asks the
 * hub with a hub-class GET_STATUS request through usbfs. It works whether
 * or not the dongle is plugged in, so a port switched off stays known.
 *
 * Returns: %TRUE, or %FALSE with @error set (%PK_ERROR_NOT_SUPPORTED when
 *   the port has no `disable` attribute and the hub cannot be asked)
 *
 * Since: 0.2
 */
gboolean
pk_usb_map_entry_get_power (PkUsbMapEntry  *self,
                            gboolean       *out_on,
                            GError        **error)
{
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GError) hub_error = NULL;

  g_return_val_if_fail (PK_IS_USB_MAP_ENTRY (self), FALSE);

  dir = pk_usb_map_entry_dup_port_sysfs_path (self);
  path = g_build_filename (dir, "disable", NULL);
  if (g_file_get_contents (path, &text, NULL, &local_error))
    {
      if (out_on != NULL)
        *out_on = g_strstrip (text)[0] != '1';
      return TRUE;
    }
  if (pk_usb_hub_get_port_power (self->hub_path, self->hub_port, out_on, &hub_error))
    return TRUE;
  g_set_error (error, PK_ERROR, PK_ERROR_NOT_SUPPORTED,
               "dongle %u: hub %s port %u: cannot read %s (a kernel before 6.0, or a hub without it): %s; "
               "nor ask the hub: %s",
               self->id, self->hub_path, self->hub_port, path, local_error->message, hub_error->message);
  return FALSE;
}

/**
 * pk_usb_map_entry_set_power:
 * @self: a [class@UsbMapEntry]
 * @on: %TRUE to switch the port on, %FALSE to switch it off
 * @error: return location for a `GError`
 *
 * Switches the power of the dongle's hub port through its `disable`
 * attribute (Linux 6.0 and later) or, where the port has none (older
 * kernels, some hubs), with a hub-class SET_FEATURE or
 * CLEAR_FEATURE(PORT_POWER) request to the hub through usbfs, as uhubctl
 * does. Root only, either way.
 *
 * Returns: %TRUE, or %FALSE with @error set
 *
 * Since: 0.2
 */
gboolean
pk_usb_map_entry_set_power (PkUsbMapEntry  *self,
                            gboolean        on,
                            GError        **error)
{
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *how = "disable";

  g_return_val_if_fail (PK_IS_USB_MAP_ENTRY (self), FALSE);

  dir = pk_usb_map_entry_dup_port_sysfs_path (self);
  path = g_build_filename (dir, "disable", NULL);
  if (!pk_sysfs_write (path, on ? "0" : "1", &local_error))
    {
      g_autoptr(GError) hub_error = NULL;

      if (!g_error_matches (local_error, PK_ERROR, PK_ERROR_NOT_SUPPORTED))
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                      "dongle %u: hub %s port %u: cannot switch power %s: ",
                                      self->id, self->hub_path, self->hub_port, on ? "on" : "off");
          return FALSE;
        }
      /* No `disable` attribute: the hub's own request. */
      if (!pk_usb_hub_set_port_power (self->hub_path, self->hub_port, on, &hub_error))
        {
          g_set_error (error, PK_ERROR, hub_error->code,
                       "dongle %u: hub %s port %u: cannot switch power %s: %s; nor by USB request: %s",
                       self->id, self->hub_path, self->hub_port, on ? "on" : "off",
                       local_error->message, hub_error->message);
          return FALSE;
        }
      how = "USB request";
    }
  g_debug ("dongle %u: hub %s port %u power %s (%s)", self->id, self->hub_path, self->hub_port,
           on ? "on" : "off", how);
  return TRUE;
}

gboolean
pk_sysfs_write (const char  *path,
                const char  *value,
                GError     **error)
{
  /* sysfs wants one write of the whole value, to an attribute that
   * exists: no O_CREAT (a missing attribute is an old kernel, not a file
   * to make), no g_file_set_contents (). */
  int fd = open (path, O_WRONLY | O_TRUNC | O_CLOEXEC);
  size_t len = strlen (value);
  int saved = 0;

  if (fd < 0)
    saved = errno;
  else
    {
      ssize_t n = write (fd, value, len);

      if (n < 0)
        saved = errno;
      else if ((size_t) n != len)
        saved = EIO;
      if (close (fd) != 0 && saved == 0)
        saved = errno;
    }
  if (saved != 0)
    {
      g_set_error (error, PK_ERROR, saved == ENOENT ? PK_ERROR_NOT_SUPPORTED : PK_ERROR_STATE,
                   "cannot write '%s' to %s: %s", value, path, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

/* --- PkUsbMap --- */

struct _PkUsbMap
{
  GObject parent_instance;

  PkStateStore *store;
  GHashTable *entries;   /* id -> PkUsbMapEntry */
};

G_DEFINE_FINAL_TYPE (PkUsbMap, pk_usb_map, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_STORE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
pk_usb_map_finalize (GObject *object)
{
  PkUsbMap *self = PK_USB_MAP (object);

  g_clear_object (&self->store);
  g_hash_table_unref (self->entries);

  G_OBJECT_CLASS (pk_usb_map_parent_class)->finalize (object);
}

static void
pk_usb_map_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  PkUsbMap *self = PK_USB_MAP (object);

  switch (prop_id)
    {
    case PROP_STORE:
      g_value_set_object (value, self->store);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_usb_map_set_property (GObject      *object,
                         guint         prop_id,
                         const GValue *value,
                         GParamSpec   *pspec)
{
  PkUsbMap *self = PK_USB_MAP (object);

  switch (prop_id)
    {
    case PROP_STORE:
      self->store = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_usb_map_class_init (PkUsbMapClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = pk_usb_map_finalize;
  object_class->get_property = pk_usb_map_get_property;
  object_class->set_property = pk_usb_map_set_property;

  /**
   * PkUsbMap:store:
   *
   * The state store the map is kept in, or %NULL for a map in memory only.
   *
   * Since: 0.2
   */
  properties[PROP_STORE] =
    g_param_spec_object ("store", NULL, NULL, PK_TYPE_STATE_STORE,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
pk_usb_map_init (PkUsbMap *self)
{
  self->entries = g_hash_table_new_full (NULL, NULL, NULL, g_object_unref);
}

/**
 * pk_usb_map_new:
 * @store: (nullable): the state store to keep the map in, or %NULL for a
 *   map in memory only
 *
 * Creates an empty map; `pk_usb_map_load()` reads the stored one.
 *
 * Returns: (transfer full): a new [class@UsbMap]
 *
 * Since: 0.2
 */
PkUsbMap *
pk_usb_map_new (PkStateStore *store)
{
  g_return_val_if_fail (store == NULL || PK_IS_STATE_STORE (store), NULL);
  return g_object_new (PK_TYPE_USB_MAP, "store", store, NULL);
}

/**
 * pk_usb_map_get_store:
 * @self: a [class@UsbMap]
 *
 * The state store the map is kept in.
 *
 * Returns: (transfer none) (nullable): the state store the map is kept in
 *
 * Since: 0.2
 */
PkStateStore *
pk_usb_map_get_store (PkUsbMap *self)
{
  g_return_val_if_fail (PK_IS_USB_MAP (self), NULL);
  return self->store;
}

/* --- JSON --- */

static JsonObject *
entry_to_json (PkUsbMapEntry *e)
{
  JsonObject *o = json_object_new ();

#define SET_STRING(name, value) \
  ((value) ? json_object_set_string_member (o, name, value) : json_object_set_null_member (o, name))
  json_object_set_string_member (o, "hub", e->hub_path);
  json_object_set_int_member (o, "port", e->hub_port);
  json_object_set_string_member (o, "usb_path", e->usb_path);
  SET_STRING ("serial", e->serial);
  SET_STRING ("mac", e->mac_address);
  SET_STRING ("interface", e->interface);
  SET_STRING ("usb_id", e->usb_id);
#undef SET_STRING
  json_object_set_int_member (o, "last_seen", e->last_seen);
  return o;
}

static gint
compare_entries (gconstpointer a,
                 gconstpointer b)
{
  const PkUsbMapEntry *x = *(PkUsbMapEntry * const *) a, *y = *(PkUsbMapEntry * const *) b;

  return x->id < y->id ? -1 : x->id > y->id;
}

/**
 * pk_usb_map_list:
 * @self: a [class@UsbMap]
 *
 * The entries, sorted by
 * dongle number.
 *
 * Returns: (transfer container) (element-type PkUsbMapEntry): the entries,
 *   sorted by dongle number
 *
 * Since: 0.2
 */
GPtrArray *
pk_usb_map_list (PkUsbMap *self)
{
  GPtrArray *list;
  GHashTableIter iter;
  gpointer value;

  g_return_val_if_fail (PK_IS_USB_MAP (self), NULL);

  list = g_ptr_array_new_with_free_func (g_object_unref);
  g_hash_table_iter_init (&iter, self->entries);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (list, g_object_ref (value));
  g_ptr_array_sort (list, compare_entries);
  return list;
}

/**
 * pk_usb_map_to_json:
 * @self: a [class@UsbMap]
 *
 * The map as it is stored: `{"version": 1, "dongles": {"11": {"hub":
 * "1-1", "port": 3, "usb_path": "1-1.3", "serial": ..., "mac": ...,
 * "interface": ..., "usb_id": "12d1:14db", "last_seen": 1795000000}}}`.
 *
 * Returns: (transfer full): the JSON text
 *
 * Since: 0.2
 */
char *
pk_usb_map_to_json (PkUsbMap *self)
{
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(JsonNode) root = json_node_new (JSON_NODE_OBJECT);
  JsonObject *top = json_object_new ();
  JsonObject *dongles = json_object_new ();

  g_return_val_if_fail (PK_IS_USB_MAP (self), NULL);

  list = pk_usb_map_list (self);
  for (guint i = 0; i < list->len; i++)
    {
      PkUsbMapEntry *e = g_ptr_array_index (list, i);
      char key[8];

      g_snprintf (key, sizeof key, "%u", e->id);
      json_object_set_object_member (dongles, key, entry_to_json (e));
    }
  json_object_set_int_member (top, "version", MAP_VERSION);
  json_object_set_object_member (top, "dongles", dongles);
  json_node_take_object (root, top);
  return json_to_string (root, TRUE);
}

/* An optional string member; another type is an error naming it. */
static gboolean
opt_string (JsonObject  *o,
            const char  *what,
            const char  *member,
            char       **out,
            GError     **error)
{
  JsonNode *n = json_object_get_member (o, member);

  *out = NULL;
  if (n == NULL || JSON_NODE_HOLDS_NULL (n))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_STATE, "%s.%s: expected a string", what, member);
      return FALSE;
    }
  if (*json_node_get_string (n) != '\0')
    *out = g_strdup (json_node_get_string (n));
  return TRUE;
}

/* A port 1-255, as a number or a string of digits (the seed's shell
 * scripts wrote both). */
static gboolean
get_port (JsonObject  *o,
          const char  *what,
          guint       *out,
          GError     **error)
{
  JsonNode *n = json_object_get_member (o, "port");
  guint64 v = 0;

  if (n != NULL && JSON_NODE_HOLDS_VALUE (n))
    {
      if (json_node_get_value_type (n) == G_TYPE_INT64)
        v = json_node_get_int (n) > 0 ? (guint64) json_node_get_int (n) : 0;
      else if (json_node_get_value_type (n) == G_TYPE_STRING)
        (void) g_ascii_string_to_unsigned (json_node_get_string (n), 10, 1, 255, &v, NULL);
    }
  if (v < 1 || v > 255)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_STATE, "%s.port: expected a hub port number 1-255", what);
      return FALSE;
    }
  *out = (guint) v;
  return TRUE;
}

static gboolean
parse_id (const char  *key,
          const char  *origin,
          guint       *out,
          GError     **error)
{
  guint64 v;

  if (!g_ascii_string_to_unsigned (key, 10, 1, 255, &v, NULL))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_STATE, "%s: '%s' is not a dongle number (1-255)", origin, key);
      return FALSE;
    }
  *out = (guint) v;
  return TRUE;
}

/* "2025-08-20T14:30:00+09:00" or a number of seconds -> Unix time. */
static gint64
parse_time (JsonNode *n)
{
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n))
    return 0;
  if (json_node_get_value_type (n) == G_TYPE_INT64)
    return json_node_get_int (n);
  if (json_node_get_value_type (n) == G_TYPE_STRING)
    {
      g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601 (json_node_get_string (n), NULL);
      if (dt != NULL)
        return g_date_time_to_unix (dt);
    }
  return 0;
}

/* One entry of our own format, or of the seed's usb_mapping.json (the
 * same keys, minus usb_id and with an ISO date). */
static PkUsbMapEntry *
entry_from_json (guint        id,
                 JsonObject  *o,
                 const char  *what,
                 GError     **error)
{
  g_autofree char *hub = NULL;
  g_autofree char *usb_path = NULL;
  g_autoptr(PkUsbMapEntry) e = NULL;
  guint port;

  if (!opt_string (o, what, "hub", &hub, error) || !get_port (o, what, &port, error))
    return NULL;
  if (!hub_path_is_valid (hub))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_STATE,
                   "%s.hub: expected a hub such as '1-1' or '1-3.4' (or 'usb1' for the root hub)", what);
      return NULL;
    }
  e = pk_usb_map_entry_new (id, hub, port);
  if (!opt_string (o, what, "serial", &e->serial, error) ||
      !opt_string (o, what, "mac", &e->mac_address, error) ||
      !opt_string (o, what, "interface", &e->interface, error) ||
      !opt_string (o, what, "usb_id", &e->usb_id, error) ||
      !opt_string (o, what, "usb_path", &usb_path, error))
    return NULL;
  /* The seed recorded the interface's path (1-3.4.4:1.0) there, or
   * nothing; the hub and port decide. */
  e->last_seen = parse_time (json_object_get_member (o, "last_seen"));
  return g_steal_pointer (&e);
}

static GHashTable *
new_table (void)
{
  return g_hash_table_new_full (NULL, NULL, NULL, g_object_unref);
}

static GHashTable *
parse_map (const char  *data,
           const char  *origin,
           GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GHashTable) table = new_table ();
  JsonNode *root, *dongles;
  GList *members;

  if (!json_parser_load_from_data (parser, data, -1, &local_error))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_STATE, "%s: not valid JSON: %s", origin, local_error->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root) ||
      (dongles = json_object_get_member (json_node_get_object (root), "dongles")) == NULL ||
      !JSON_NODE_HOLDS_OBJECT (dongles))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_STATE, "%s: expected an object with a 'dongles' object", origin);
      return NULL;
    }
  members = json_object_get_members (json_node_get_object (dongles));
  for (GList *l = members; l != NULL; l = l->next)
    {
      JsonNode *n = json_object_get_member (json_node_get_object (dongles), l->data);
      g_autofree char *what = g_strdup_printf ("%s: dongles.%s", origin, (const char *) l->data);
      PkUsbMapEntry *e;
      guint id;

      if (!parse_id (l->data, origin, &id, error) ||
          !JSON_NODE_HOLDS_OBJECT (n) ||
          (e = entry_from_json (id, json_node_get_object (n), what, error)) == NULL)
        {
          if (error != NULL && *error == NULL)
            g_set_error (error, PK_ERROR, PK_ERROR_STATE, "%s: expected an object", what);
          g_list_free (members);
          return NULL;
        }
      g_hash_table_replace (table, GUINT_TO_POINTER (id), e);
    }
  g_list_free (members);
  return g_steal_pointer (&table);
}

/* The stored map, or an empty one if there is none yet. */
static GHashTable *
read_stored (PkUsbMap  *self,
             GError   **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *data = NULL;
  g_autofree char *path = NULL;

  if (self->store == NULL)
    return g_hash_table_ref (self->entries);
  data = pk_state_store_load_document (self->store, PK_USB_MAP_DOCUMENT, &local_error);
  if (data == NULL)
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return new_table ();
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  path = pk_state_store_dup_document_path (self->store, PK_USB_MAP_DOCUMENT);
  return parse_map (data, path, error);
}

/**
 * pk_usb_map_load:
 * @self: a [class@UsbMap]
 * @error: return location for a `GError`
 *
 * Reads the stored map (an empty one if there is none yet).
 *
 * Returns: %TRUE, or %FALSE with @error set (%PK_ERROR_STATE naming the
 *   file and the field that is wrong)
 *
 * Since: 0.2
 */
gboolean
pk_usb_map_load (PkUsbMap  *self,
                 GError   **error)
{
  GHashTable *table;

  g_return_val_if_fail (PK_IS_USB_MAP (self), FALSE);

  if (self->store == NULL)
    return TRUE;
  table = read_stored (self, error);
  if (table == NULL)
    return FALSE;
  g_hash_table_unref (self->entries);
  self->entries = table;
  return TRUE;
}

/* A change: under the document's lock, the stored map is read again,
 * @change applied to it, and written back. */
typedef gboolean (*ChangeFunc) (GHashTable *table, gpointer data, GError **error);

static gboolean
change (PkUsbMap    *self,
        ChangeFunc   func,
        gpointer     data,
        GError     **error)
{
  g_autoptr(GHashTable) table = NULL;
  g_autofree char *json = NULL;
  gboolean ok;

  if (self->store == NULL)
    return func (self->entries, data, error);

  if (!pk_state_store_lock_document (self->store, PK_USB_MAP_DOCUMENT, error))
    return FALSE;
  table = read_stored (self, error);
  ok = table != NULL && func (table, data, error);
  if (ok)
    {
      g_hash_table_unref (self->entries);
      self->entries = g_hash_table_ref (table);
      json = pk_usb_map_to_json (self);
      ok = pk_state_store_save_document (self->store, PK_USB_MAP_DOCUMENT, json, error);
    }
  pk_state_store_unlock_document (self->store, PK_USB_MAP_DOCUMENT);
  return ok;
}

/* A hub port holds one dongle: an older entry for the same port goes. */
static void
put_entry (GHashTable    *table,
           PkUsbMapEntry *e)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, table);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      PkUsbMapEntry *old = value;
      if (old->id != e->id && g_strcmp0 (old->usb_path, e->usb_path) == 0)
        g_hash_table_iter_remove (&iter);
    }
  g_hash_table_replace (table, GUINT_TO_POINTER (e->id), e);
}

typedef struct {
  PkDongle **dongles;
  guint n;
} RecordData;

static gboolean
record_change (GHashTable  *table,
               gpointer     data,
               GError     **error)
{
  RecordData *r = data;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  for (guint i = 0; i < r->n; i++)
    {
      PkDongle *d = r->dongles[i];
      PkUsbMapEntry *e;

      if (pk_dongle_get_id (d) == 0 || pk_dongle_get_hub_path (d) == NULL || pk_dongle_get_hub_port (d) == 0 ||
          !hub_path_is_valid (pk_dongle_get_hub_path (d)))
        continue;
      e = pk_usb_map_entry_new (pk_dongle_get_id (d), pk_dongle_get_hub_path (d), pk_dongle_get_hub_port (d));
      g_free (e->usb_path);
      e->usb_path = g_strdup (pk_dongle_get_usb_path (d));
      e->serial = g_strdup (pk_dongle_get_serial (d));
      e->mac_address = g_strdup (pk_dongle_get_mac_address (d));
      e->interface = g_strdup (pk_dongle_get_interface (d));
      e->usb_id = pk_dongle_dup_usb_id (d);
      e->last_seen = now;
      put_entry (table, e);
    }
  return TRUE;
}

/**
 * pk_usb_map_record:
 * @self: a [class@UsbMap]
 * @dongles: (array length=n_dongles): the dongles a discovery found
 * @n_dongles: how many
 * @error: return location for a `GError`
 *
 * Records where the dongles that have a number are now (hub, port, USB
 * path, serial, MAC address, interface, time seen). Dongles not in
 * @dongles keep their entries; an entry of another dongle for the same
 * port goes. With a store, this reads the stored map again and writes it
 * back under the document's lock.
 *
 * Returns: %TRUE, or %FALSE with @error set
 *
 * Since: 0.2
 */
gboolean
pk_usb_map_record (PkUsbMap   *self,
                   PkDongle  **dongles,
                   guint       n_dongles,
                   GError    **error)
{
  RecordData data = { dongles, n_dongles };

  g_return_val_if_fail (PK_IS_USB_MAP (self), FALSE);
  g_return_val_if_fail (dongles != NULL || n_dongles == 0, FALSE);

  return change (self, record_change, &data, error);
}

static gboolean
remove_change (GHashTable  *table,
               gpointer     data,
               GError     **error)
{
  g_hash_table_remove (table, data);
  return TRUE;
}

/**
 * pk_usb_map_remove:
 * @self: a [class@UsbMap]
 * @id: a dongle number
 * @error: return location for a `GError`
 *
 * Forgets dongle @id (one that left the farm for good).
 *
 * Returns: %TRUE, or %FALSE with @error set
 *
 * Since: 0.2
 */
gboolean
pk_usb_map_remove (PkUsbMap  *self,
                   guint      id,
                   GError   **error)
{
  g_return_val_if_fail (PK_IS_USB_MAP (self), FALSE);
  return change (self, remove_change, GUINT_TO_POINTER (id), error);
}

/* --- import of the older tools' files --- */

typedef struct {
  GHashTable *imported;
} ImportData;

/* An entry already there (seen by a discovery, or imported before) keeps
 * what it has; the import fills in what it lacks. */
static gboolean
import_change (GHashTable  *table,
               gpointer     data,
               GError     **error)
{
  ImportData *d = data;
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, d->imported);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      PkUsbMapEntry *in = value;
      PkUsbMapEntry *have = g_hash_table_lookup (table, key);

      if (have == NULL)
        {
          put_entry (table, g_object_ref (in));
          continue;
        }
#define FILL(field) G_STMT_START { if (have->field == NULL) have->field = g_strdup (in->field); } G_STMT_END
      FILL (serial);
      FILL (mac_address);
      FILL (interface);
      FILL (usb_id);
#undef FILL
    }
  return TRUE;
}

/* dongle_config.json: port_mapping {"11": {"hub", "port"}} and
 * interface_mapping {"11": {"interface", "ip", "gateway", "socks5_port"}}. */
static gboolean
import_dongle_config (JsonObject  *top,
                      const char  *origin,
                      GHashTable  *out,
                      GError     **error)
{
  JsonNode *ports = json_object_get_member (top, "port_mapping");
  JsonNode *ifaces = json_object_get_member (top, "interface_mapping");
  GList *members;

  if (ports == NULL || !JSON_NODE_HOLDS_OBJECT (ports))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_STATE, "%s: no 'port_mapping' object", origin);
      return FALSE;
    }
  members = json_object_get_members (json_node_get_object (ports));
  for (GList *l = members; l != NULL; l = l->next)
    {
      JsonNode *n = json_object_get_member (json_node_get_object (ports), l->data);
      g_autofree char *what = g_strdup_printf ("%s: port_mapping.%s", origin, (const char *) l->data);
      PkUsbMapEntry *e;
      guint id;

      if (!parse_id (l->data, origin, &id, error))
        goto fail;
      if (!JSON_NODE_HOLDS_OBJECT (n))
        {
          g_set_error (error, PK_ERROR, PK_ERROR_STATE, "%s: expected an object", what);
          goto fail;
        }
      if ((e = entry_from_json (id, json_node_get_object (n), what, error)) == NULL)
        goto fail;
      if (ifaces != NULL && JSON_NODE_HOLDS_OBJECT (ifaces))
        {
          JsonNode *i = json_object_get_member (json_node_get_object (ifaces), l->data);
          g_autofree char *iwhat = g_strdup_printf ("%s: interface_mapping.%s", origin, (const char *) l->data);

          if (i != NULL && JSON_NODE_HOLDS_OBJECT (i) &&
              !opt_string (json_node_get_object (i), iwhat, "interface", &e->interface, error))
            {
              g_object_unref (e);
              goto fail;
            }
        }
      g_hash_table_replace (out, GUINT_TO_POINTER (id), e);
    }
  g_list_free (members);
  return TRUE;

fail:
  g_list_free (members);
  return FALSE;
}

/* usb_mapping.json: {"11": {"hub", "port", "interface", "usb_path", "mac", "last_seen"}}. */
static gboolean
import_usb_mapping (JsonObject  *top,
                    const char  *origin,
                    GHashTable  *out,
                    GError     **error)
{
  GList *members = json_object_get_members (top);

  for (GList *l = members; l != NULL; l = l->next)
    {
      JsonNode *n = json_object_get_member (top, l->data);
      g_autofree char *what = g_strdup_printf ("%s: %s", origin, (const char *) l->data);
      PkUsbMapEntry *e;
      guint id;

      if (!parse_id (l->data, origin, &id, error))
        goto fail;
      if (!JSON_NODE_HOLDS_OBJECT (n))
        {
          g_set_error (error, PK_ERROR, PK_ERROR_STATE, "%s: expected an object", what);
          goto fail;
        }
      if ((e = entry_from_json (id, json_node_get_object (n), what, error)) == NULL)
        goto fail;
      g_hash_table_replace (out, GUINT_TO_POINTER (id), e);
    }
  g_list_free (members);
  return TRUE;

fail:
  g_list_free (members);
  return FALSE;
}

/**
 * pk_usb_map_import_seed:
 * @self: a [class@UsbMap]
 * @path: a `usb_mapping.json` or `dongle_config.json` of the older shell
 *   tools (which one is told by its contents)
 * @error: return location for a `GError`
 *
 * Takes the hub and port of each dongle (and interface, MAC address and
 * time seen where the file has them) into the map. Dongles the map knows
 * already keep their hub and port, which a discovery saw; the file only
 * fills in what they lack. Nothing is changed if the file has an error.
 *
 * Returns: %TRUE, or %FALSE with @error set (%PK_ERROR_STATE naming the
 *   file and field)
 *
 * Since: 0.2
 */
gboolean
pk_usb_map_import_seed (PkUsbMap    *self,
                        const char  *path,
                        GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GHashTable) imported = new_table ();
  ImportData data = { imported };
  JsonNode *root;
  JsonObject *top;
  gboolean ok;

  g_return_val_if_fail (PK_IS_USB_MAP (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  if (!json_parser_load_from_file (parser, path, &local_error))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_STATE, "%s: %s", path, local_error->message);
      return FALSE;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_STATE, "%s: expected a JSON object", path);
      return FALSE;
    }
  top = json_node_get_object (root);
  if (json_object_has_member (top, "port_mapping") || json_object_has_member (top, "interface_mapping"))
    ok = import_dongle_config (top, path, imported, error);
  else if (json_object_has_member (top, "dongles") && json_object_has_member (top, "version"))
    {
      g_autoptr(JsonGenerator) gen = json_generator_new ();
      g_autofree char *text = NULL;
      GHashTable *ours;

      json_generator_set_root (gen, root);
      text = json_generator_to_data (gen, NULL);
      ours = parse_map (text, path, error);
      ok = ours != NULL;
      if (ok)
        {
          g_hash_table_unref (imported);
          imported = ours;
          data.imported = ours;
        }
    }
  else
    ok = import_usb_mapping (top, path, imported, error);
  return ok && change (self, import_change, &data, error);
}

/* --- lookups --- */

/**
 * pk_usb_map_lookup:
 * @self: a [class@UsbMap]
 * @id: a dongle number
 *
 * The entry of dongle @id, or %NULL.
 *
 * Returns: (transfer none) (nullable): the entry of dongle @id, or %NULL
 *
 * Since: 0.2
 */
PkUsbMapEntry *
pk_usb_map_lookup (PkUsbMap *self,
                   guint     id)
{
  g_return_val_if_fail (PK_IS_USB_MAP (self), NULL);
  return g_hash_table_lookup (self->entries, GUINT_TO_POINTER (id));
}

/**
 * pk_usb_map_lookup_by_usb_path:
 * @self: a [class@UsbMap]
 * @usb_path: a USB device path such as `1-1.3`
 *
 * The entry of the dongle last seen on that
 * port, or %NULL.
 *
 * Returns: (transfer none) (nullable): the entry of the dongle last seen
 *   on that port, or %NULL
 *
 * Since: 0.2
 */
PkUsbMapEntry *
pk_usb_map_lookup_by_usb_path (PkUsbMap   *self,
                               const char *usb_path)
{
  GHashTableIter iter;
  gpointer value;

  g_return_val_if_fail (PK_IS_USB_MAP (self), NULL);

  g_hash_table_iter_init (&iter, self->entries);
  while (usb_path != NULL && g_hash_table_iter_next (&iter, NULL, &value))
    if (g_strcmp0 (((PkUsbMapEntry *) value)->usb_path, usb_path) == 0)
      return value;
  return NULL;
}

/**
 * pk_usb_map_lookup_by_mac_address:
 * @self: a [class@UsbMap]
 * @mac_address: a MAC address such as `0c:5b:8f:27:9a:64`
 *
 * The entry of the dongle last seen with that
 * MAC address (case does not matter), or %NULL.
 *
 * Returns: (transfer none) (nullable): the entry of the dongle last seen
 *   with that MAC address (case does not matter), or %NULL
 *
 * Since: 0.2
 */
PkUsbMapEntry *
pk_usb_map_lookup_by_mac_address (PkUsbMap   *self,
                                  const char *mac_address)
{
  GHashTableIter iter;
  gpointer value;

  g_return_val_if_fail (PK_IS_USB_MAP (self), NULL);

  g_hash_table_iter_init (&iter, self->entries);
  while (mac_address != NULL && g_hash_table_iter_next (&iter, NULL, &value))
    {
      const char *mac = ((PkUsbMapEntry *) value)->mac_address;
      if (mac != NULL && g_ascii_strcasecmp (mac, mac_address) == 0)
        return value;
    }
  return NULL;
}
