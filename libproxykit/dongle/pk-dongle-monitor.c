/* pk-dongle-monitor.c: the dongles plugged into this host, kept live by uevents
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkDongleMonitor:
 *
 * Finds the dongles of a farm through udev (libgudev) and follows them.
 *
 * A dongle is a Huawei USB device (vendor `12d1`): in HiLink mode
 * (`14db`, `14dc`, or any with a network interface) its `cdc_ether`
 * interface carries a `net` device, on which DHCP gives the host
 * `192.168.N.100`; in mass-storage mode (`1f01`) it has no network
 * interface until `usb_modeswitch` switches it. For each the monitor
 * reports a [class@Dongle]: its number N, interface, host address, USB
 * path, hub and port, vendor:product, serial and mode.
 *
 * N comes from the host address on the dongle's interface (`192.168.N.x`),
 * else from a `[dongle:N]` section of the configuration naming its
 * `interface`, `mac`, `usb_path` or `serial`, else from the [class@UsbMap]
 * (by MAC address, then by USB path). With a map set, every discovery
 * that changed something is recorded in it.
 *
 * After `pk_dongle_monitor_start()` the monitor follows `usb` and `net`
 * uevents, and link and address changes (rtnetlink, because an address
 * comes from DHCP after the interface appeared), and emits
 * [signal@DongleMonitor::dongle-added], [signal@DongleMonitor::dongle-changed]
 * (for example when the address arrives and the dongle becomes ready) and
 * [signal@DongleMonitor::dongle-removed], in the main context it was
 * started in. With [property@DongleMonitor:modeswitch], a dongle that
 * appears in mass-storage mode is switched with `usb_modeswitch`.
 *
 * ```c
 * g_autoptr(PkDongleMonitor) monitor = pk_dongle_monitor_new ();
 * g_autoptr(GPtrArray) dongles = NULL;
 *
 * pk_dongle_monitor_scan (monitor);
 * dongles = pk_dongle_monitor_list_dongles (monitor);
 * for (guint i = 0; i < dongles->len; i++)
 *   {
 *     PkDongle *d = g_ptr_array_index (dongles, i);
 *     g_print ("dongle %u on hub %s port %u: %s\n", pk_dongle_get_id (d),
 *              pk_dongle_get_hub_path (d), pk_dongle_get_hub_port (d),
 *              pk_dongle_mode_to_string (pk_dongle_get_mode (d)));
 *   }
 * ```
 *
 * Since: 0.2
 */

#include "config.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>

#ifdef HAVE_GUDEV
#include <gudev/gudev.h>
#include <json-glib/json-glib.h>
#endif

#include "pk-dongle-monitor.h"
#include "pk-dongle-private.h"
#include "pk-error.h"
#include "pk-routing-private.h"
#include "pk-rtnl-private.h"

#define HUAWEI_MASS_STORAGE 0x1f01

struct _PkDongleMonitor
{
  GObject parent_instance;

#ifdef HAVE_GUDEV
  GUdevClient *udev;
#endif
  PkConfig *config;
  PkUsbMap *usb_map;
  gboolean modeswitch;
  char *modeswitch_program;

  GHashTable *dongles;    /* USB sysfs path -> PkDongle */
  GHashTable *switched;   /* USB sysfs paths a modeswitch was started for */
  PkRtnlWatch *rtnl;
  GSource *rescan;
  GMainContext *context;
  gboolean started;
};

G_DEFINE_FINAL_TYPE (PkDongleMonitor, pk_dongle_monitor, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_MODESWITCH,
  PROP_USB_MAP,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_DONGLE_ADDED,
  SIGNAL_DONGLE_REMOVED,
  SIGNAL_DONGLE_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
pk_dongle_monitor_dispose (GObject *object)
{
  PkDongleMonitor *self = PK_DONGLE_MONITOR (object);

  pk_dongle_monitor_stop (self);
#ifdef HAVE_GUDEV
  g_clear_object (&self->udev);
#endif
  g_clear_object (&self->config);
  g_clear_object (&self->usb_map);

  G_OBJECT_CLASS (pk_dongle_monitor_parent_class)->dispose (object);
}

static void
pk_dongle_monitor_finalize (GObject *object)
{
  PkDongleMonitor *self = PK_DONGLE_MONITOR (object);

  g_hash_table_unref (self->dongles);
  g_hash_table_unref (self->switched);
  g_free (self->modeswitch_program);

  G_OBJECT_CLASS (pk_dongle_monitor_parent_class)->finalize (object);
}

static void
pk_dongle_monitor_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  PkDongleMonitor *self = PK_DONGLE_MONITOR (object);

  switch (prop_id)
    {
    case PROP_MODESWITCH:
      g_value_set_boolean (value, self->modeswitch);
      break;
    case PROP_USB_MAP:
      g_value_set_object (value, self->usb_map);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_dongle_monitor_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  PkDongleMonitor *self = PK_DONGLE_MONITOR (object);

  switch (prop_id)
    {
    case PROP_MODESWITCH:
      pk_dongle_monitor_set_modeswitch (self, g_value_get_boolean (value));
      break;
    case PROP_USB_MAP:
      pk_dongle_monitor_set_usb_map (self, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_dongle_monitor_class_init (PkDongleMonitorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pk_dongle_monitor_dispose;
  object_class->finalize = pk_dongle_monitor_finalize;
  object_class->get_property = pk_dongle_monitor_get_property;
  object_class->set_property = pk_dongle_monitor_set_property;

  /**
   * PkDongleMonitor:modeswitch:
   *
   * Whether a dongle that appears in mass-storage mode is switched to
   * HiLink mode with `usb_modeswitch` (once per appearance).
   *
   * Since: 0.2
   */
  properties[PROP_MODESWITCH] =
    g_param_spec_boolean ("modeswitch", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * PkDongleMonitor:usb-map:
   *
   * The USB map that numbers dongles without an address and records each
   * discovery, or %NULL.
   *
   * Since: 0.2
   */
  properties[PROP_USB_MAP] =
    g_param_spec_object ("usb-map", NULL, NULL, PK_TYPE_USB_MAP,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * PkDongleMonitor::dongle-added:
   * @self: the monitor
   * @dongle: the dongle that appeared
   *
   * A dongle appeared on USB (or was there when the monitor started).
   *
   * Since: 0.2
   */
  signals[SIGNAL_DONGLE_ADDED] =
    g_signal_new ("dongle-added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, PK_TYPE_DONGLE);
  /**
   * PkDongleMonitor::dongle-removed:
   * @self: the monitor
   * @dongle: the dongle that went
   *
   * A dongle left USB.
   *
   * Since: 0.2
   */
  signals[SIGNAL_DONGLE_REMOVED] =
    g_signal_new ("dongle-removed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, PK_TYPE_DONGLE);
  /**
   * PkDongleMonitor::dongle-changed:
   * @self: the monitor
   * @dongle: the dongle
   *
   * Something about a dongle changed: its interface, address, number,
   * mode, and so whether it is ready.
   *
   * Since: 0.2
   */
  signals[SIGNAL_DONGLE_CHANGED] =
    g_signal_new ("dongle-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, PK_TYPE_DONGLE);
}

static void
pk_dongle_monitor_init (PkDongleMonitor *self)
{
  self->dongles = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->switched = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->modeswitch_program = g_strdup ("usb_modeswitch");
}

/**
 * pk_dongle_monitor_new:
 *
 * Creates a monitor with no dongles yet: `pk_dongle_monitor_scan()` looks
 * once, `pk_dongle_monitor_start()` looks and follows.
 *
 * Returns: (transfer full): a new [class@DongleMonitor]
 *
 * Since: 0.2
 */
PkDongleMonitor *
pk_dongle_monitor_new (void)
{
  return g_object_new (PK_TYPE_DONGLE_MONITOR, NULL);
}

/**
 * pk_dongle_monitor_new_from_config:
 * @config: the configuration
 * @error: return location for a `GError`
 *
 * Creates a monitor that numbers dongles by the `[dongle:N]` sections of
 * @config, switches mass-storage dongles if `[dongles] modeswitch = true`,
 * and keeps the USB map in the state directory (`[dongles] state-dir`,
 * else `PROXYKIT_STATE_DIR`, else %PK_STATE_DIR_DEFAULT). A map that
 * cannot be read is reported (the monitor starts with an empty one and
 * leaves the file alone).
 *
 * Returns: (transfer full) (nullable): a new [class@DongleMonitor], or %NULL
 *   with @error set for a bad value
 *
 * Since: 0.2
 */
PkDongleMonitor *
pk_dongle_monitor_new_from_config (PkConfig  *config,
                                   GError   **error)
{
  g_autoptr(PkDongleMonitor) self = NULL;
  g_autoptr(PkStateStore) store = NULL;
  g_autoptr(PkUsbMap) map = NULL;
  g_autoptr(GError) local_error = NULL;
  gboolean modeswitch = FALSE;

  g_return_val_if_fail (PK_IS_CONFIG (config), NULL);

  if (!pk_config_get_boolean (config, "dongles", "modeswitch", NULL, FALSE, &modeswitch, error))
    return NULL;
  self = pk_dongle_monitor_new ();
  pk_dongle_monitor_set_config (self, config);
  pk_dongle_monitor_set_modeswitch (self, modeswitch);
  store = pk_state_store_new_from_config (config, "dongles");
  map = pk_usb_map_new (store);
  if (!pk_usb_map_load (map, &local_error))
    g_warning ("%s; the USB map starts empty", local_error->message);
  pk_dongle_monitor_set_usb_map (self, map);
  return g_steal_pointer (&self);
}

/**
 * pk_dongle_monitor_set_config:
 * @self: a [class@DongleMonitor]
 * @config: (nullable): a configuration whose `[dongle:N]` sections
 *   number dongles by `interface`, `mac`, `usb_path` or `serial`
 *
 * Sets where dongle numbers come from when the address does not say.
 *
 * Since: 0.2
 */
void
pk_dongle_monitor_set_config (PkDongleMonitor *self,
                              PkConfig        *config)
{
  g_return_if_fail (PK_IS_DONGLE_MONITOR (self));
  g_set_object (&self->config, config);
}

/**
 * pk_dongle_monitor_set_usb_map:
 * @self: a [class@DongleMonitor]
 * @map: (nullable): a USB map
 *
 * Sets the map that numbers dongles without an address and records each
 * discovery.
 *
 * Since: 0.2
 */
void
pk_dongle_monitor_set_usb_map (PkDongleMonitor *self,
                               PkUsbMap        *map)
{
  g_return_if_fail (PK_IS_DONGLE_MONITOR (self));
  if (g_set_object (&self->usb_map, map))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_USB_MAP]);
}

/**
 * pk_dongle_monitor_get_usb_map:
 * @self: a [class@DongleMonitor]
 *
 * The USB map, or %NULL.
 *
 * Returns: (transfer none) (nullable): the USB map, or %NULL
 *
 * Since: 0.2
 */
PkUsbMap *
pk_dongle_monitor_get_usb_map (PkDongleMonitor *self)
{
  g_return_val_if_fail (PK_IS_DONGLE_MONITOR (self), NULL);
  return self->usb_map;
}

/**
 * pk_dongle_monitor_get_modeswitch:
 * @self: a [class@DongleMonitor]
 *
 * Whether mass-storage dongles are switched to HiLink mode.
 *
 * Returns: whether mass-storage dongles are switched to HiLink mode
 *
 * Since: 0.2
 */
gboolean
pk_dongle_monitor_get_modeswitch (PkDongleMonitor *self)
{
  g_return_val_if_fail (PK_IS_DONGLE_MONITOR (self), FALSE);
  return self->modeswitch;
}

/**
 * pk_dongle_monitor_set_modeswitch:
 * @self: a [class@DongleMonitor]
 * @modeswitch: whether to switch mass-storage dongles
 *
 * Sets whether a dongle that appears in mass-storage mode is switched to
 * HiLink mode with `usb_modeswitch` (config `[dongles] modeswitch`).
 *
 * Since: 0.2
 */
void
pk_dongle_monitor_set_modeswitch (PkDongleMonitor *self,
                                  gboolean         modeswitch)
{
  g_return_if_fail (PK_IS_DONGLE_MONITOR (self));
  modeswitch = !!modeswitch;
  if (self->modeswitch == modeswitch)
    return;
  self->modeswitch = modeswitch;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODESWITCH]);
}

/**
 * pk_dongle_monitor_set_modeswitch_program:
 * @self: a [class@DongleMonitor]
 * @program: (nullable): the `usb_modeswitch` to run, or %NULL for the one
 *   in `PATH`
 *
 * Sets the program that switches modes.
 *
 * Since: 0.2
 */
void
pk_dongle_monitor_set_modeswitch_program (PkDongleMonitor *self,
                                          const char      *program)
{
  g_return_if_fail (PK_IS_DONGLE_MONITOR (self));
  g_free (self->modeswitch_program);
  self->modeswitch_program = g_strdup (program ? program : "usb_modeswitch");
}

/* --- looking --- */

/* Interface name -> its IPv4 address; a farm address (192.168.N.x) is
 * preferred when an interface has several. */
static GHashTable *
read_addresses (void)
{
  GHashTable *out = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  struct ifaddrs *list = NULL;

  if (getifaddrs (&list) < 0)
    return out;
  for (struct ifaddrs *i = list; i != NULL; i = i->ifa_next)
    {
      char buf[INET_ADDRSTRLEN];
      const char *have;

      if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET ||
          inet_ntop (AF_INET, &((struct sockaddr_in *) i->ifa_addr)->sin_addr, buf, sizeof buf) == NULL)
        continue;
      have = g_hash_table_lookup (out, i->ifa_name);
      if (have == NULL || (pk_dongle_id_from_address (have) == 0 && pk_dongle_id_from_address (buf) > 0))
        g_hash_table_replace (out, g_strdup (i->ifa_name), g_strdup (buf));
    }
  freeifaddrs (list);
  return out;
}

static gboolean
same_mac (const char *a,
          const char *b)
{
  return a != NULL && b != NULL && g_ascii_strcasecmp (a, b) == 0;
}

/* The [dongle:N] section that names this dongle, or 0. */
static guint
id_from_config (PkDongleMonitor    *self,
                const PkDongleInfo *info)
{
  g_auto(GStrv) sections = NULL;

  if (self->config == NULL)
    return 0;
  sections = pk_config_list_sections (self->config, "dongle");
  for (guint i = 0; sections[i] != NULL; i++)
    {
      g_autofree char *section = g_strconcat ("dongle:", sections[i], NULL);
      g_autofree char *interface = pk_config_dup_string (self->config, section, "interface", NULL, NULL);
      g_autofree char *mac = pk_config_dup_string (self->config, section, "mac", NULL, NULL);
      g_autofree char *usb_path = pk_config_dup_string (self->config, section, "usb_path", NULL, NULL);
      g_autofree char *serial = pk_config_dup_string (self->config, section, "serial", NULL, NULL);
      guint64 n;

      if (!g_ascii_string_to_unsigned (sections[i], 10, 1, 255, &n, NULL))
        continue;
      if ((interface != NULL && g_strcmp0 (interface, info->interface) == 0) ||
          same_mac (mac, info->mac_address) ||
          (usb_path != NULL && g_strcmp0 (usb_path, info->usb_path) == 0) ||
          (serial != NULL && g_strcmp0 (serial, info->serial) == 0))
        return (guint) n;
    }
  return 0;
}

static guint
id_from_map (PkDongleMonitor    *self,
             const PkDongleInfo *info)
{
  PkUsbMapEntry *e;

  if (self->usb_map == NULL)
    return 0;
  e = pk_usb_map_lookup_by_mac_address (self->usb_map, info->mac_address);
  if (e == NULL)
    e = pk_usb_map_lookup_by_usb_path (self->usb_map, info->usb_path);
  return e ? pk_usb_map_entry_get_id (e) : 0;
}

#ifdef HAVE_GUDEV

static char *
string_attr (GUdevDevice *dev,
             const char  *name)
{
  const char *v = g_udev_device_get_sysfs_attr (dev, name);
  char *copy;

  if (v == NULL)
    return NULL;
  /* sysfs values end in a newline */
  copy = g_strstrip (g_strdup (v));
  if (*copy == '\0')
    g_clear_pointer (&copy, g_free);
  return copy;
}

static guint
hex_attr (GUdevDevice *dev,
          const char  *name)
{
  g_autofree char *v = string_attr (dev, name);
  guint64 n;

  if (v == NULL || !g_ascii_string_to_unsigned (v, 16, 0, 0xffff, &n, NULL))
    return 0;
  return (guint) n;
}

typedef struct {
  char *name;
  char *mac;
} NetChild;

static void
net_child_free (NetChild *c)
{
  g_free (c->name);
  g_free (c->mac);
  g_free (c);
}

/* USB device sysfs path -> its network interface. */
static GHashTable *
read_net_children (GUdevClient *udev)
{
  GHashTable *out = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) net_child_free);
  GList *nets = g_udev_client_query_by_subsystem (udev, "net");

  for (GList *l = nets; l != NULL; l = l->next)
    {
      GUdevDevice *net = l->data;
      g_autoptr(GUdevDevice) usb = g_udev_device_get_parent_with_subsystem (net, "usb", "usb_device");
      NetChild *c;

      if (usb == NULL || g_hash_table_contains (out, g_udev_device_get_sysfs_path (usb)))
        continue;
      c = g_new0 (NetChild, 1);
      c->name = g_strdup (g_udev_device_get_name (net));
      c->mac = string_attr (net, "address");
      g_hash_table_insert (out, g_strdup (g_udev_device_get_sysfs_path (usb)), c);
    }
  g_list_free_full (nets, g_object_unref);
  return out;
}

static gboolean
configured_usb_path (PkDongleMonitor *self,
                     const char      *usb_path)
{
  g_auto(GStrv) sections = NULL;

  if (self->config == NULL)
    return FALSE;
  sections = pk_config_list_sections (self->config, "dongle");
  for (guint i = 0; sections[i] != NULL; i++)
    {
      g_autofree char *section = g_strconcat ("dongle:", sections[i], NULL);
      g_autofree char *path = pk_config_dup_string (self->config, section, "usb_path", NULL, NULL);

      if (g_strcmp0 (path, usb_path) == 0)
        return TRUE;
    }
  return FALSE;
}

/* What udev and the kernel say about one USB device; FALSE if it is not
 * a dongle. */
static gboolean
read_dongle (PkDongleMonitor *self,
             GUdevDevice     *usb,
             GHashTable      *nets,
             GHashTable      *addresses,
             PkDongleInfo    *info)
{
  const char *path = g_udev_device_get_sysfs_path (usb);
  const char *name = g_udev_device_get_name (usb);
  NetChild *net = g_hash_table_lookup (nets, path);
  guint vendor = hex_attr (usb, "idVendor");
  guint product = hex_attr (usb, "idProduct");

  if (g_strcmp0 (g_udev_device_get_devtype (usb), "usb_device") != 0)
    return FALSE;
  if (vendor != PK_DONGLE_HUAWEI_VENDOR_ID && !configured_usb_path (self, name))
    return FALSE;

  info->vendor_id = vendor;
  info->product_id = product;
  info->usb_path = g_strdup (name);
  info->sysfs_path = g_strdup (path);
  info->serial = string_attr (usb, "serial");
  info->busnum = (guint) g_udev_device_get_sysfs_attr_as_int (usb, "busnum");
  info->devnum = (guint) g_udev_device_get_sysfs_attr_as_int (usb, "devnum");
  if (!pk_usb_path_split (name, &info->hub_path, &info->hub_port))
    info->hub_path = NULL;

  if (net != NULL)
    {
      info->mode = PK_DONGLE_MODE_HILINK;
      info->interface = g_strdup (net->name);
      info->mac_address = g_strdup (net->mac);
      info->host_address = g_strdup (g_hash_table_lookup (addresses, net->name));
    }
  else if (product == HUAWEI_MASS_STORAGE)
    info->mode = PK_DONGLE_MODE_MASS_STORAGE;
  else if (product == 0x14db || product == 0x14dc)
    info->mode = PK_DONGLE_MODE_HILINK;
  else
    info->mode = PK_DONGLE_MODE_UNKNOWN;

  info->id = pk_dongle_id_from_address (info->host_address);
  if (info->id == 0)
    info->id = id_from_config (self, info);
  if (info->id == 0)
    info->id = id_from_map (self, info);
  return TRUE;
}

#endif /* HAVE_GUDEV */

static void
on_modeswitch_done (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *usb_path = user_data;

  if (pk_dongle_monitor_modeswitch_finish (PK_DONGLE_MONITOR (source), result, &error))
    g_message ("dongle at USB %s: switched from mass storage to HiLink mode", usb_path);
  else
    g_warning ("dongle at USB %s: %s", usb_path, error->message);
}

static void
record_in_map (PkDongleMonitor *self)
{
  g_autoptr(GPtrArray) list = pk_dongle_monitor_list_dongles (self);
  g_autoptr(GError) error = NULL;

  if (!pk_usb_map_record (self->usb_map, (PkDongle **) list->pdata, list->len, &error))
    g_warning ("USB map: %s", error->message);
}

/**
 * pk_dongle_monitor_scan:
 * @self: a [class@DongleMonitor]
 *
 * Looks at udev and the interfaces now, and brings the list of dongles up
 * to date, emitting the signals for what changed. The monitor does this
 * itself after `pk_dongle_monitor_start()` whenever a uevent or an address
 * change arrives.
 *
 * Since: 0.2
 */
void
pk_dongle_monitor_scan (PkDongleMonitor *self)
{
#ifdef HAVE_GUDEV
  const char * const subsystems[] = { "usb", "net", NULL };
  g_autoptr(GHashTable) addresses = NULL;
  g_autoptr(GHashTable) nets = NULL;
  g_autoptr(GHashTable) seen = NULL;
  g_autoptr(GPtrArray) added = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) changed = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) removed = g_ptr_array_new_with_free_func (g_object_unref);
  GList *usbs;
  GHashTableIter iter;
  gpointer key, value;

  g_return_if_fail (PK_IS_DONGLE_MONITOR (self));

  if (self->udev == NULL)
    self->udev = g_udev_client_new (subsystems);
  addresses = read_addresses ();
  nets = read_net_children (self->udev);
  seen = g_hash_table_new (g_str_hash, g_str_equal);

  usbs = g_udev_client_query_by_subsystem (self->udev, "usb");
  for (GList *l = usbs; l != NULL; l = l->next)
    {
      PkDongleInfo info = { 0 };
      PkDongle *dongle;

      if (!read_dongle (self, l->data, nets, addresses, &info))
        {
          pk_dongle_info_clear (&info);
          continue;
        }
      g_hash_table_add (seen, (gpointer) g_udev_device_get_sysfs_path (l->data));
      dongle = g_hash_table_lookup (self->dongles, info.sysfs_path);
      if (dongle == NULL)
        {
          dongle = pk_dongle_new_from_info (&info);
          g_hash_table_insert (self->dongles, g_strdup (info.sysfs_path), dongle);
          g_ptr_array_add (added, g_object_ref (dongle));
        }
      else if (pk_dongle_update (dongle, &info))
        g_ptr_array_add (changed, g_object_ref (dongle));
      pk_dongle_info_clear (&info);
    }

  g_hash_table_iter_init (&iter, self->dongles);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (!g_hash_table_contains (seen, key))
      {
        g_hash_table_remove (self->switched, key);
        g_ptr_array_add (removed, g_object_ref (value));
        g_hash_table_iter_remove (&iter);
      }
  g_list_free_full (usbs, g_object_unref);

  if (self->usb_map != NULL && (added->len > 0 || changed->len > 0))
    record_in_map (self);

  for (guint i = 0; i < removed->len; i++)
    {
      PkDongle *d = g_ptr_array_index (removed, i);
      g_info ("dongle %u removed (USB %s)", pk_dongle_get_id (d), pk_dongle_get_usb_path (d));
      g_signal_emit (self, signals[SIGNAL_DONGLE_REMOVED], 0, d);
    }
  for (guint i = 0; i < added->len; i++)
    {
      PkDongle *d = g_ptr_array_index (added, i);

      g_info ("dongle %u added (USB %s, %s%s%s)", pk_dongle_get_id (d), pk_dongle_get_usb_path (d),
              pk_dongle_mode_to_string (pk_dongle_get_mode (d)),
              pk_dongle_get_interface (d) ? ", " : "", pk_dongle_get_interface (d) ? pk_dongle_get_interface (d) : "");
      g_signal_emit (self, signals[SIGNAL_DONGLE_ADDED], 0, d);
      if (self->modeswitch && pk_dongle_get_mode (d) == PK_DONGLE_MODE_MASS_STORAGE &&
          g_hash_table_add (self->switched, g_strdup (pk_dongle_get_sysfs_path (d))))
        pk_dongle_monitor_modeswitch_async (self, d, NULL, on_modeswitch_done,
                                            g_strdup (pk_dongle_get_usb_path (d)));
    }
  for (guint i = 0; i < changed->len; i++)
    g_signal_emit (self, signals[SIGNAL_DONGLE_CHANGED], 0, g_ptr_array_index (changed, i));
#else
  g_return_if_fail (PK_IS_DONGLE_MONITOR (self));
#endif
}

/* --- following --- */

static gboolean
rescan_cb (gpointer user_data)
{
  PkDongleMonitor *self = user_data;

  g_clear_pointer (&self->rescan, g_source_unref);
  pk_dongle_monitor_scan (self);
  return G_SOURCE_REMOVE;
}

/* A plug-in is a burst of uevents (device, interface, net) and address
 * messages: one scan after the burst. */
static gboolean
schedule_rescan (gpointer user_data)
{
  PkDongleMonitor *self = user_data;

  if (self->rescan == NULL && self->started)
    {
      self->rescan = g_idle_source_new ();
      g_source_set_callback (self->rescan, rescan_cb, self, NULL);
      g_source_attach (self->rescan, self->context);
    }
  return G_SOURCE_CONTINUE;
}

#ifdef HAVE_GUDEV
static void
on_uevent (GUdevClient *client,
           const char  *action,
           GUdevDevice *device,
           gpointer     user_data)
{
  g_debug ("uevent %s %s", action, g_udev_device_get_sysfs_path (device));
  schedule_rescan (user_data);
}
#endif

/**
 * pk_dongle_monitor_start:
 * @self: a [class@DongleMonitor]
 * @error: return location for a `GError`
 *
 * Scans (emitting [signal@DongleMonitor::dongle-added] for each dongle
 * there) and from then on follows uevents and address changes in the
 * thread-default main context.
 *
 * Returns: %TRUE, or %FALSE with @error set (built without libgudev, or
 *   rtnetlink refused)
 *
 * Since: 0.2
 */
gboolean
pk_dongle_monitor_start (PkDongleMonitor  *self,
                         GError          **error)
{
  g_return_val_if_fail (PK_IS_DONGLE_MONITOR (self), FALSE);

  if (self->started)
    return TRUE;
#ifdef HAVE_GUDEV
  {
    const char * const subsystems[] = { "usb", "net", NULL };

    self->rtnl = pk_rtnl_watch_new (schedule_rescan, self, error);
    if (self->rtnl == NULL)
      return FALSE;
    if (self->udev == NULL)
      self->udev = g_udev_client_new (subsystems);
    g_signal_connect (self->udev, "uevent", G_CALLBACK (on_uevent), self);
    self->context = g_main_context_ref_thread_default ();
    self->started = TRUE;
    pk_dongle_monitor_scan (self);
    return TRUE;
  }
#else
  g_set_error_literal (error, PK_ERROR, PK_ERROR_NOT_SUPPORTED,
                       "dongle discovery needs libgudev, and this libproxykit was built without it");
  return FALSE;
#endif
}

/**
 * pk_dongle_monitor_stop:
 * @self: a [class@DongleMonitor]
 *
 * Stops following uevents; the dongles found so far stay listed.
 *
 * Since: 0.2
 */
void
pk_dongle_monitor_stop (PkDongleMonitor *self)
{
  g_return_if_fail (PK_IS_DONGLE_MONITOR (self));

  if (!self->started)
    return;
  self->started = FALSE;
#ifdef HAVE_GUDEV
  g_signal_handlers_disconnect_by_func (self->udev, on_uevent, self);
#endif
  g_clear_pointer (&self->rtnl, pk_rtnl_watch_free);
  if (self->rescan != NULL)
    {
      g_source_destroy (self->rescan);
      g_clear_pointer (&self->rescan, g_source_unref);
    }
  g_clear_pointer (&self->context, g_main_context_unref);
}

static gint
compare_dongles (gconstpointer a,
                 gconstpointer b)
{
  PkDongle *x = *(PkDongle * const *) a, *y = *(PkDongle * const *) b;
  guint ix = pk_dongle_get_id (x), iy = pk_dongle_get_id (y);

  /* Numbered dongles first, by number; then by USB path. */
  if (ix != iy)
    return ix == 0 ? 1 : iy == 0 ? -1 : ix < iy ? -1 : 1;
  return g_strcmp0 (pk_dongle_get_usb_path (x), pk_dongle_get_usb_path (y));
}

/**
 * pk_dongle_monitor_list_dongles:
 * @self: a [class@DongleMonitor]
 *
 * The dongles, numbered ones first
 * by number, then the others by USB path.
 *
 * Returns: (transfer full) (element-type PkDongle): the dongles, numbered
 *   ones first by number, then the others by USB path
 *
 * Since: 0.2
 */
GPtrArray *
pk_dongle_monitor_list_dongles (PkDongleMonitor *self)
{
  GPtrArray *list;
  GHashTableIter iter;
  gpointer value;

  g_return_val_if_fail (PK_IS_DONGLE_MONITOR (self), NULL);

  list = g_ptr_array_new_with_free_func (g_object_unref);
  g_hash_table_iter_init (&iter, self->dongles);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (list, g_object_ref (value));
  g_ptr_array_sort (list, compare_dongles);
  return list;
}

/**
 * pk_dongle_monitor_get_dongle:
 * @self: a [class@DongleMonitor]
 * @id: a dongle number
 *
 * The dongle numbered @id, or %NULL.
 *
 * Returns: (transfer none) (nullable): the dongle numbered @id, or %NULL
 *
 * Since: 0.2
 */
PkDongle *
pk_dongle_monitor_get_dongle (PkDongleMonitor *self,
                              guint            id)
{
  GHashTableIter iter;
  gpointer value;
  PkDongle *best = NULL;

  g_return_val_if_fail (PK_IS_DONGLE_MONITOR (self), NULL);

  if (id == 0)
    return NULL;
  /* Two dongles claiming one number (a misconfigured subnet): the ready
   * one, then the first by USB path, so that the answer is stable. */
  g_hash_table_iter_init (&iter, self->dongles);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      PkDongle *d = value;

      if (pk_dongle_get_id (d) != id)
        continue;
      if (best == NULL || (pk_dongle_is_ready (d) && !pk_dongle_is_ready (best)) ||
          (pk_dongle_is_ready (d) == pk_dongle_is_ready (best) &&
           g_strcmp0 (pk_dongle_get_usb_path (d), pk_dongle_get_usb_path (best)) < 0))
        best = d;
    }
  return best;
}

/**
 * pk_dongle_monitor_to_json:
 * @self: a [class@DongleMonitor]
 *
 * The dongles as a JSON array of the objects
 * `pk_dongle_to_json()` gives, in the order of
 * `pk_dongle_monitor_list_dongles()`.
 *
 * Returns: (transfer full): the dongles as a JSON array of the objects
 *   `pk_dongle_to_json()` gives, in the order of
 *   `pk_dongle_monitor_list_dongles()`
 *
 * Since: 0.2
 */
char *
pk_dongle_monitor_to_json (PkDongleMonitor *self)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GPtrArray) list = NULL;

  g_return_val_if_fail (PK_IS_DONGLE_MONITOR (self), NULL);

  list = pk_dongle_monitor_list_dongles (self);
  json_builder_begin_array (b);
  for (guint i = 0; i < list->len; i++)
    pk_dongle_build_json (g_ptr_array_index (list, i), b);
  json_builder_end_array (b);
  root = json_builder_get_root (b);
  return json_to_string (root, TRUE);
}

/* --- usb_modeswitch --- */

static void
on_modeswitch_exit (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *output = NULL;
  GSubprocess *proc = G_SUBPROCESS (source);

  if (!g_subprocess_communicate_utf8_finish (proc, result, &output, NULL, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (!g_subprocess_get_successful (proc))
    {
      g_autofree char *tail = g_strstrip (g_strdup (output ? output : ""));
      gsize len = strlen (tail);

      g_task_return_new_error (task, PK_ERROR, PK_ERROR_FAILED, "%s failed (exit status %d)%s%s",
                               (const char *) g_task_get_task_data (task),
                               g_subprocess_get_if_exited (proc) ? g_subprocess_get_exit_status (proc) : -1,
                               len ? ": " : "", len > 300 ? tail + len - 300 : tail);
      return;
    }
  g_task_return_boolean (task, TRUE);
}

/**
 * pk_dongle_monitor_modeswitch_async:
 * @self: a [class@DongleMonitor]
 * @dongle: a dongle in mass-storage mode
 * @cancellable: (nullable): a `GCancellable`
 * @callback: called when `usb_modeswitch` has finished
 * @user_data: data for @callback
 *
 * Switches @dongle from mass storage to HiLink mode: `usb_modeswitch -v
 * 0x12d1 -p 0x1f01 -b BUS -g DEVICE -M` with
 * %PK_DONGLE_MODESWITCH_MESSAGE. The dongle then leaves USB and comes
 * back as a HiLink device, which the monitor reports as a removal and an
 * addition.
 *
 * Since: 0.2
 */
void
pk_dongle_monitor_modeswitch_async (PkDongleMonitor     *self,
                                    PkDongle            *dongle,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autofree char *vendor = NULL;
  g_autofree char *product = NULL;
  g_autofree char *bus = NULL;
  g_autofree char *device = NULL;

  g_return_if_fail (PK_IS_DONGLE_MONITOR (self));
  g_return_if_fail (PK_IS_DONGLE (dongle));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_dongle_monitor_modeswitch_async);
  g_task_set_task_data (task, g_strdup_printf ("%s for USB %s", self->modeswitch_program,
                                               pk_dongle_get_usb_path (dongle)), g_free);

  if (pk_dongle_get_mode (dongle) != PK_DONGLE_MODE_MASS_STORAGE)
    {
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                               "the dongle at USB %s is in %s mode, not mass storage",
                               pk_dongle_get_usb_path (dongle), pk_dongle_mode_to_string (pk_dongle_get_mode (dongle)));
      return;
    }
  vendor = g_strdup_printf ("0x%04x", pk_dongle_get_vendor_id (dongle));
  product = g_strdup_printf ("0x%04x", pk_dongle_get_product_id (dongle));
  bus = g_strdup_printf ("%u", pk_dongle_get_busnum (dongle));
  device = g_strdup_printf ("%u", pk_dongle_get_devnum (dongle));
  /* -b/-g pick this device where several dongles share vendor:product. */
  if (pk_dongle_get_busnum (dongle) > 0 && pk_dongle_get_devnum (dongle) > 0)
    proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE, &error,
                             self->modeswitch_program, "-v", vendor, "-p", product, "-b", bus, "-g", device,
                             "-M", PK_DONGLE_MODESWITCH_MESSAGE, NULL);
  else
    proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE, &error,
                             self->modeswitch_program, "-v", vendor, "-p", product,
                             "-M", PK_DONGLE_MODESWITCH_MESSAGE, NULL);
  if (proc == NULL)
    {
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_NOT_SUPPORTED,
                               "cannot run %s (Debian package usb-modeswitch): %s",
                               self->modeswitch_program, error->message);
      return;
    }
  g_subprocess_communicate_utf8_async (proc, NULL, cancellable, on_modeswitch_exit, g_steal_pointer (&task));
}

/**
 * pk_dongle_monitor_modeswitch_finish:
 * @self: a [class@DongleMonitor]
 * @result: the result
 * @error: return location for a `GError`
 *
 * Finishes the operation that `pk_dongle_monitor_modeswitch_async()` started.
 *
 * Returns: %TRUE if `usb_modeswitch` succeeded, or %FALSE with @error set
 *   (its exit status and the end of its output)
 *
 * Since: 0.2
 */
gboolean
pk_dongle_monitor_modeswitch_finish (PkDongleMonitor  *self,
                                     GAsyncResult     *result,
                                     GError          **error)
{
  g_return_val_if_fail (PK_IS_DONGLE_MONITOR (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* --- what pk-toggle --discover, --power-status and --routing do --- */

/**
 * pk_dongle_monitor_discover:
 * @self: a [class@DongleMonitor]
 * @seed_files: (array zero-terminated=1) (nullable): the older tools'
 *   `usb_mapping.json` or `dongle_config.json` files to take into the USB
 *   map first ([method@UsbMap.import_seed]), or %NULL
 * @error: return location for a `GError`
 *
 * What `pk-toggle --discover` does: takes @seed_files into the USB map,
 * scans ([method@DongleMonitor.scan]), which records what it finds in the
 * map, and lists the dongles.
 *
 * Returns: (transfer full) (element-type PkDongle): the dongles, as
 *   [method@DongleMonitor.list_dongles] gives them, or %NULL with @error
 *   set when a seed file could not be taken (or there are seed files and
 *   no USB map)
 *
 * Since: 0.2
 */
GPtrArray *
pk_dongle_monitor_discover (PkDongleMonitor     *self,
                            const char * const  *seed_files,
                            GError             **error)
{
  g_return_val_if_fail (PK_IS_DONGLE_MONITOR (self), NULL);

  for (guint i = 0; seed_files != NULL && seed_files[i] != NULL; i++)
    {
      if (self->usb_map == NULL)
        {
          g_set_error (error, PK_ERROR, PK_ERROR_FAILED, "%s: no USB map to take it into", seed_files[i]);
          return NULL;
        }
      if (!pk_usb_map_import_seed (self->usb_map, seed_files[i], error))
        return NULL;
    }
  pk_dongle_monitor_scan (self);
  return pk_dongle_monitor_list_dongles (self);
}

/**
 * pk_dongle_monitor_lookup_usb_map_entries:
 * @self: a [class@DongleMonitor]
 * @ids: (array length=n_ids) (nullable): dongle numbers
 * @n_ids: how many, 0 for every dongle of the USB map
 * @error: return location for a `GError`
 *
 * The USB map's entries of the dongles @ids, in that order, or all of
 * them by number: where their hub ports are, present on USB or not.
 *
 * Returns: (transfer full) (element-type PkUsbMapEntry): the entries, or
 *   %NULL with %PK_ERROR_FAILED when a dongle is not in the map
 *
 * Since: 0.2
 */
GPtrArray *
pk_dongle_monitor_lookup_usb_map_entries (PkDongleMonitor  *self,
                                          const guint      *ids,
                                          gsize             n_ids,
                                          GError          **error)
{
  g_autoptr(GPtrArray) entries = NULL;

  g_return_val_if_fail (PK_IS_DONGLE_MONITOR (self), NULL);
  g_return_val_if_fail (ids != NULL || n_ids == 0, NULL);

  if (n_ids == 0)
    return self->usb_map ? pk_usb_map_list (self->usb_map) : g_ptr_array_new_with_free_func (g_object_unref);
  entries = g_ptr_array_new_with_free_func (g_object_unref);
  for (gsize i = 0; i < n_ids; i++)
    {
      PkUsbMapEntry *entry = self->usb_map ? pk_usb_map_lookup (self->usb_map, ids[i]) : NULL;

      if (entry == NULL)
        {
          g_set_error (error, PK_ERROR, PK_ERROR_FAILED, "dongle %u is not in the USB map", ids[i]);
          return NULL;
        }
      g_ptr_array_add (entries, g_object_ref (entry));
    }
  return g_steal_pointer (&entries);
}

static JsonNode *
power_json (PkUsbMapEntry *entry,
            gboolean       present)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  gboolean on = FALSE;
  g_autoptr(GError) error = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "dongle");
  json_builder_add_int_value (b, pk_usb_map_entry_get_id (entry));
  json_builder_set_member_name (b, "hub");
  json_builder_add_string_value (b, pk_usb_map_entry_get_hub_path (entry));
  json_builder_set_member_name (b, "port");
  json_builder_add_int_value (b, pk_usb_map_entry_get_hub_port (entry));
  json_builder_set_member_name (b, "present");
  json_builder_add_boolean_value (b, present);
  json_builder_set_member_name (b, "power");
  if (pk_usb_map_entry_get_power (entry, &on, &error))
    json_builder_add_string_value (b, on ? "on" : "off");
  else
    {
      json_builder_add_string_value (b, "unknown");
      json_builder_set_member_name (b, "error");
      json_builder_add_string_value (b, error->message);
    }
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/**
 * pk_dongle_monitor_power_to_json:
 * @self: a [class@DongleMonitor]
 * @ids: (array length=n_ids) (nullable): dongle numbers
 * @n_ids: how many, 0 for every dongle of the USB map
 * @error: return location for a `GError`
 *
 * The power of the hub ports of the dongles @ids (or of every dongle of
 * the USB map), read now, as `pk-toggle --power-status --json` prints it:
 * a JSON array of objects with `dongle`, `hub`, `port`, `present` (on USB
 * at the last scan), `power` (`on`, `off` or `unknown`) and, when it is
 * unknown, `error`.
 *
 * Returns: (transfer full): the JSON text, or %NULL with
 *   %PK_ERROR_FAILED when a dongle is not in the USB map
 *
 * Since: 0.2
 */
char *
pk_dongle_monitor_power_to_json (PkDongleMonitor  *self,
                                 const guint      *ids,
                                 gsize             n_ids,
                                 GError          **error)
{
  g_autoptr(GPtrArray) entries = pk_dongle_monitor_lookup_usb_map_entries (self, ids, n_ids, error);
  g_autoptr(JsonArray) out = NULL;
  g_autoptr(JsonNode) root = NULL;

  if (entries == NULL)
    return NULL;
  out = json_array_new ();
  for (guint i = 0; i < entries->len; i++)
    {
      PkUsbMapEntry *entry = g_ptr_array_index (entries, i);

      json_array_add_element (out, power_json (entry, pk_dongle_monitor_get_dongle (
                                                 self, pk_usb_map_entry_get_id (entry)) != NULL));
    }
  root = json_node_init_array (json_node_alloc (), out);
  return json_to_string (root, TRUE);
}

typedef struct {
  GPtrArray *results;     /* PkRoutingDiagnosis, in the order of the dongles */
  guint pending;
} RepairRun;

static void
repair_run_free (RepairRun *run)
{
  g_ptr_array_unref (run->results);
  g_free (run);
}

typedef struct {
  GTask *task;
  guint index;
  guint id;
} RepairOne;

static void
on_repaired (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  RepairOne *one = user_data;
  RepairRun *run = g_task_get_task_data (one->task);
  g_autoptr(GError) error = NULL;
  PkRoutingDiagnosis *d = pk_routing_repair_finish (PK_ROUTING (source), result, &error);

  if (d == NULL)
    d = pk_routing_diagnosis_new_failed (one->id, error);
  g_ptr_array_index (run->results, one->index) = d;
  if (--run->pending == 0)
    g_task_return_pointer (one->task, g_ptr_array_ref (run->results), (GDestroyNotify) g_ptr_array_unref);
  g_object_unref (one->task);
  g_free (one);
}

/**
 * pk_dongle_monitor_repair_routing_async:
 * @self: a [class@DongleMonitor]
 * @ids: (array length=n_ids) (nullable): dongle numbers
 * @n_ids: how many, 0 for every numbered HiLink dongle
 * @backend: how to read and change the routing
 * @cancellable: (nullable): a `GCancellable`
 * @callback: called when every repair is done
 * @user_data: data for @callback
 *
 * What `pk-toggle --routing` does: diagnoses and repairs the policy
 * routing ([method@Routing.repair_async]) of the dongles @ids, found by
 * the last scan, or of every numbered HiLink dongle, all at once.
 *
 * Since: 0.2
 */
void
pk_dongle_monitor_repair_routing_async (PkDongleMonitor     *self,
                                        const guint         *ids,
                                        gsize                n_ids,
                                        PkRoutingBackend     backend,
                                        GCancellable        *cancellable,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GPtrArray) selected = g_ptr_array_new_with_free_func (g_object_unref);
  RepairRun *run;

  g_return_if_fail (PK_IS_DONGLE_MONITOR (self));
  g_return_if_fail (ids != NULL || n_ids == 0);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_dongle_monitor_repair_routing_async);
  if (n_ids == 0)
    {
      g_autoptr(GPtrArray) dongles = pk_dongle_monitor_list_dongles (self);

      for (guint i = 0; i < dongles->len; i++)
        {
          PkDongle *d = g_ptr_array_index (dongles, i);

          /* the one the number stands for, when two claim it */
          if (pk_dongle_get_id (d) > 0 && pk_dongle_get_mode (d) == PK_DONGLE_MODE_HILINK &&
              pk_dongle_monitor_get_dongle (self, pk_dongle_get_id (d)) == d)
            g_ptr_array_add (selected, g_object_ref (d));
        }
    }
  for (gsize i = 0; i < n_ids; i++)
    {
      PkDongle *d = pk_dongle_monitor_get_dongle (self, ids[i]);

      if (d == NULL)
        {
          g_task_return_new_error (task, PK_ERROR, PK_ERROR_FAILED,
                                   "dongle %u is not on USB, or has no number yet "
                                   "(no 192.168.%u.x address, no [dongle:%u] naming it)", ids[i], ids[i], ids[i]);
          return;
        }
      g_ptr_array_add (selected, g_object_ref (d));
    }

  run = g_new0 (RepairRun, 1);
  run->results = g_ptr_array_new_with_free_func (g_object_unref);
  g_ptr_array_set_size (run->results, selected->len);
  run->pending = selected->len;
  g_task_set_task_data (task, run, (GDestroyNotify) repair_run_free);
  if (selected->len == 0)
    {
      g_task_return_pointer (task, g_ptr_array_ref (run->results), (GDestroyNotify) g_ptr_array_unref);
      return;
    }
  for (guint i = 0; i < selected->len; i++)
    {
      PkDongle *d = g_ptr_array_index (selected, i);
      g_autoptr(PkRouting) routing = pk_routing_new (d);
      RepairOne *one = g_new0 (RepairOne, 1);

      one->task = g_object_ref (task);
      one->index = i;
      one->id = pk_dongle_get_id (d);
      pk_routing_set_backend (routing, backend);
      pk_routing_repair_async (routing, cancellable, on_repaired, one);
    }
}

/**
 * pk_dongle_monitor_repair_routing_finish:
 * @self: a [class@DongleMonitor]
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Finishes [method@DongleMonitor.repair_routing_async]. A dongle that
 * could not be repaired has a diagnosis too, with its error
 * ([method@RoutingDiagnosis.get_error]).
 *
 * Returns: (transfer full) (element-type PkRoutingDiagnosis): the
 *   diagnoses after the repairs, in the order of the dongles, or %NULL
 *   with %PK_ERROR_FAILED when one of @ids is not on USB or has no number
 *   (nothing was repaired then)
 *
 * Since: 0.2
 */
GPtrArray *
pk_dongle_monitor_repair_routing_finish (PkDongleMonitor  *self,
                                         GAsyncResult     *result,
                                         GError          **error)
{
  g_return_val_if_fail (PK_IS_DONGLE_MONITOR (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pk_dongle_monitor_repair_routing_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
