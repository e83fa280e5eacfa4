/* pk-dongle.c: one USB LTE dongle of a farm, as the host sees it
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkDongle:
 *
 * A Huawei HiLink dongle (E8372h and kin) as the host sees it: its number
 * N, its network interface and the host's address on its subnet
 * (`192.168.N.100`), the dongle's own address (`192.168.N.1`, its web API
 * and nameserver), and where it sits on USB: the device path
 * (`1-1.3`), the hub (`1-1`) and port (3), vendor:product, serial, and its
 * mode ([enum@DongleMode]).
 *
 * Dongles come from a [class@DongleMonitor], which keeps them current as
 * uevents arrive; `pk_dongle_new()` makes one by hand (for routing or tests).
 * A dongle is *ready* when it is in HiLink mode, has a number, an
 * interface and the host address on it: then `pk_dongle_dup_egress()` gives
 * the [class@Egress] its traffic leaves through (source address, interface,
 * and names resolved by the dongle).
 *
 * ```c
 * g_autoptr(PkDongle) dongle = pk_dongle_new (11, "enx0c5b8f279a64", NULL);
 * g_autoptr(PkEgress) egress = pk_dongle_dup_egress (dongle);
 * // source 192.168.11.100, interface enx0c5b8f279a64, DNS 192.168.11.1
 * ```
 *
 * Since: 0.2
 */

#include "config.h"

#include <arpa/inet.h>

#include "pk-dongle-private.h"
#include "pk-enum-types.h"

struct _PkDongle
{
  GObject parent_instance;

  PkDongleInfo info;
  char *gateway;
};

G_DEFINE_FINAL_TYPE (PkDongle, pk_dongle, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_MODE,
  PROP_INTERFACE,
  PROP_HOST_ADDRESS,
  PROP_GATEWAY,
  PROP_MAC_ADDRESS,
  PROP_USB_PATH,
  PROP_SYSFS_PATH,
  PROP_HUB_PATH,
  PROP_HUB_PORT,
  PROP_VENDOR_ID,
  PROP_PRODUCT_ID,
  PROP_SERIAL,
  PROP_READY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/**
 * pk_dongle_mode_to_string:
 * @mode: a [enum@DongleMode]
 *
 * The name of @mode in configuration, JSON and logs.
 *
 * Returns: `hilink`, `mass-storage` or `unknown`
 *
 * Since: 0.2
 */
const char *
pk_dongle_mode_to_string (PkDongleMode mode)
{
  switch (mode)
    {
    case PK_DONGLE_MODE_HILINK:
      return "hilink";
    case PK_DONGLE_MODE_MASS_STORAGE:
      return "mass-storage";
    case PK_DONGLE_MODE_UNKNOWN:
    default:
      return "unknown";
    }
}

/**
 * pk_dongle_get_config_keys:
 *
 * The keys a `[dongle:N]` section of `proxykit.conf` may hold, for
 * `pk_config_check_keys()`: the modem's `api`, `address` (the egress),
 * `interface`, `fwmark`, `username`, `password`; the listener's
 * `socks_host`, `socks_port`, `users`, `allow`, `ttl`; and what numbers a
 * dongle without an address: `mac`, `usb_path`, `serial`.
 *
 * Returns: (transfer none) (array zero-terminated=1): the keys
 *
 * Since: 0.2
 */
const char * const *
pk_dongle_get_config_keys (void)
{
  static const char * const keys[] = {
    "api", "address", "interface", "fwmark", "username", "password",
    "socks_host", "socks_port", "users", "allow", "ttl",
    "mac", "usb_path", "serial", NULL
  };
  return keys;
}

void
pk_dongle_info_clear (PkDongleInfo *info)
{
  g_clear_pointer (&info->interface, g_free);
  g_clear_pointer (&info->host_address, g_free);
  g_clear_pointer (&info->mac_address, g_free);
  g_clear_pointer (&info->usb_path, g_free);
  g_clear_pointer (&info->sysfs_path, g_free);
  g_clear_pointer (&info->hub_path, g_free);
  g_clear_pointer (&info->serial, g_free);
  memset (info, 0, sizeof *info);
}

guint
pk_dongle_id_from_address (const char *address)
{
  struct in_addr in;
  guint8 b[4];

  if (address == NULL || inet_pton (AF_INET, address, &in) != 1)
    return 0;
  memcpy (b, &in, 4);
  if (b[0] != 192 || b[1] != 168 || b[2] == 0)
    return 0;
  return b[2];
}

gboolean
pk_usb_path_split (const char  *usb_path,
                   char       **out_hub,
                   guint       *out_port)
{
  const char *dash, *dot, *last;
  guint64 port, bus;

  if (usb_path == NULL || strchr (usb_path, ':') != NULL || (dash = strchr (usb_path, '-')) == NULL)
    return FALSE;
  dot = strrchr (usb_path, '.');
  last = dot != NULL ? dot + 1 : dash + 1;
  if (!g_ascii_string_to_unsigned (last, 10, 1, 255, &port, NULL))
    return FALSE;
  if (dot != NULL)
    *out_hub = g_strndup (usb_path, dot - usb_path);
  else
    {
      g_autofree char *bus_str = g_strndup (usb_path, dash - usb_path);

      if (!g_ascii_string_to_unsigned (bus_str, 10, 1, 255, &bus, NULL))
        return FALSE;
      *out_hub = g_strdup_printf ("usb%" G_GUINT64_FORMAT, bus);
    }
  *out_port = (guint) port;
  return TRUE;
}

char *
pk_usb_port_dup_sysfs_path (const char *hub,
                            guint       port)
{
  /* A hub's ports hang off its interface 0 (HUB:1.0); a root hub "usbB"
   * names that interface "B-0:1.0". */
  if (g_str_has_prefix (hub, "usb"))
    return g_strdup_printf ("/sys/bus/usb/devices/%s-0:1.0/%s-port%u", hub + 3, hub, port);
  return g_strdup_printf ("/sys/bus/usb/devices/%s:1.0/%s-port%u", hub, hub, port);
}

/* The dongle's own address: .1 of the host's /24. */
static char *
gateway_for (const char *host_address)
{
  struct in_addr in;
  guint8 b[4];

  if (host_address == NULL || inet_pton (AF_INET, host_address, &in) != 1)
    return NULL;
  memcpy (b, &in, 4);
  return g_strdup_printf ("%u.%u.%u.1", b[0], b[1], b[2]);
}

static void
pk_dongle_finalize (GObject *object)
{
  PkDongle *self = PK_DONGLE (object);

  pk_dongle_info_clear (&self->info);
  g_free (self->gateway);

  G_OBJECT_CLASS (pk_dongle_parent_class)->finalize (object);
}

static void
pk_dongle_get_property (GObject    *object,
                        guint       prop_id,
                        GValue     *value,
                        GParamSpec *pspec)
{
  PkDongle *self = PK_DONGLE (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_uint (value, self->info.id);
      break;
    case PROP_MODE:
      g_value_set_enum (value, self->info.mode);
      break;
    case PROP_INTERFACE:
      g_value_set_string (value, self->info.interface);
      break;
    case PROP_HOST_ADDRESS:
      g_value_set_string (value, self->info.host_address);
      break;
    case PROP_GATEWAY:
      g_value_set_string (value, self->gateway);
      break;
    case PROP_MAC_ADDRESS:
      g_value_set_string (value, self->info.mac_address);
      break;
    case PROP_USB_PATH:
      g_value_set_string (value, self->info.usb_path);
      break;
    case PROP_SYSFS_PATH:
      g_value_set_string (value, self->info.sysfs_path);
      break;
    case PROP_HUB_PATH:
      g_value_set_string (value, self->info.hub_path);
      break;
    case PROP_HUB_PORT:
      g_value_set_uint (value, self->info.hub_port);
      break;
    case PROP_VENDOR_ID:
      g_value_set_uint (value, self->info.vendor_id);
      break;
    case PROP_PRODUCT_ID:
      g_value_set_uint (value, self->info.product_id);
      break;
    case PROP_SERIAL:
      g_value_set_string (value, self->info.serial);
      break;
    case PROP_READY:
      g_value_set_boolean (value, pk_dongle_is_ready (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_dongle_class_init (PkDongleClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->finalize = pk_dongle_finalize;
  object_class->get_property = pk_dongle_get_property;

  /**
   * PkDongle:id:
   *
   * The dongle's number N (its subnet `192.168.N.0/24`), or 0 while it is
   * not known.
   *
   * Since: 0.2
   */
  properties[PROP_ID] = g_param_spec_uint ("id", NULL, NULL, 0, 255, 0, ro);
  /**
   * PkDongle:mode:
   *
   * The mode of its USB device.
   *
   * Since: 0.2
   */
  properties[PROP_MODE] = g_param_spec_enum ("mode", NULL, NULL, PK_TYPE_DONGLE_MODE,
                                             PK_DONGLE_MODE_UNKNOWN, ro);
  /**
   * PkDongle:interface:
   *
   * Its network interface (`enx...`, `ethN`, `usbN`), or %NULL.
   *
   * Since: 0.2
   */
  properties[PROP_INTERFACE] = g_param_spec_string ("interface", NULL, NULL, NULL, ro);
  /**
   * PkDongle:host-address:
   *
   * The host's IPv4 address on the dongle's interface, or %NULL.
   *
   * Since: 0.2
   */
  properties[PROP_HOST_ADDRESS] = g_param_spec_string ("host-address", NULL, NULL, NULL, ro);
  /**
   * PkDongle:gateway:
   *
   * The dongle's own address (`192.168.N.1`): its web API, nameserver and
   * the gateway of its routes.
   *
   * Since: 0.2
   */
  properties[PROP_GATEWAY] = g_param_spec_string ("gateway", NULL, NULL, NULL, ro);
  /**
   * PkDongle:mac-address:
   *
   * The MAC address of its interface, or %NULL.
   *
   * Since: 0.2
   */
  properties[PROP_MAC_ADDRESS] = g_param_spec_string ("mac-address", NULL, NULL, NULL, ro);
  /**
   * PkDongle:usb-path:
   *
   * Its USB device name, such as `1-1.3` (`/sys/bus/usb/devices/1-1.3`).
   *
   * Since: 0.2
   */
  properties[PROP_USB_PATH] = g_param_spec_string ("usb-path", NULL, NULL, NULL, ro);
  /**
   * PkDongle:sysfs-path:
   *
   * The sysfs path of its USB device.
   *
   * Since: 0.2
   */
  properties[PROP_SYSFS_PATH] = g_param_spec_string ("sysfs-path", NULL, NULL, NULL, ro);
  /**
   * PkDongle:hub-path:
   *
   * The hub it is plugged into (`1-1`; `usb1` for a port of the root hub).
   *
   * Since: 0.2
   */
  properties[PROP_HUB_PATH] = g_param_spec_string ("hub-path", NULL, NULL, NULL, ro);
  /**
   * PkDongle:hub-port:
   *
   * The hub port it is plugged into (1-255), or 0.
   *
   * Since: 0.2
   */
  properties[PROP_HUB_PORT] = g_param_spec_uint ("hub-port", NULL, NULL, 0, 255, 0, ro);
  /**
   * PkDongle:vendor-id:
   *
   * The USB vendor id (`0x12d1` for Huawei).
   *
   * Since: 0.2
   */
  properties[PROP_VENDOR_ID] = g_param_spec_uint ("vendor-id", NULL, NULL, 0, 0xffff, 0, ro);
  /**
   * PkDongle:product-id:
   *
   * The USB product id (`0x14db` in HiLink mode, `0x1f01` in mass storage).
   *
   * Since: 0.2
   */
  properties[PROP_PRODUCT_ID] = g_param_spec_uint ("product-id", NULL, NULL, 0, 0xffff, 0, ro);
  /**
   * PkDongle:serial:
   *
   * The USB serial number, or %NULL. Many dongles share one
   * (`0123456789ABCDEF`): the MAC address tells them apart.
   *
   * Since: 0.2
   */
  properties[PROP_SERIAL] = g_param_spec_string ("serial", NULL, NULL, NULL, ro);
  /**
   * PkDongle:ready:
   *
   * Whether the dongle can carry traffic: HiLink mode, a number, an
   * interface and the host address on it.
   *
   * Since: 0.2
   */
  properties[PROP_READY] = g_param_spec_boolean ("ready", NULL, NULL, FALSE, ro);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
pk_dongle_init (PkDongle *self)
{
}

/**
 * pk_dongle_new:
 * @id: the dongle's number N (1-255)
 * @interface: (nullable): its network interface
 * @host_address: (nullable): the host's address on its subnet, or %NULL
 *   for `192.168.N.100`
 *
 * Makes a HiLink dongle by hand, by the farm's subnet convention, for
 * when there is no [class@DongleMonitor] (routing a known interface, tests).
 *
 * Returns: (transfer full): a new [class@Dongle]
 *
 * Since: 0.2
 */
PkDongle *
pk_dongle_new (guint       id,
               const char *interface,
               const char *host_address)
{
  PkDongleInfo info = { 0 };
  g_autofree char *address = NULL;

  g_return_val_if_fail (id <= 255, NULL);

  address = host_address ? g_strdup (host_address) : g_strdup_printf ("192.168.%u.100", id);
  info.id = id;
  info.mode = PK_DONGLE_MODE_HILINK;
  info.interface = (char *) interface;
  info.host_address = address;
  return pk_dongle_new_from_info (&info);
}

PkDongle *
pk_dongle_new_from_info (const PkDongleInfo *info)
{
  PkDongle *self = g_object_new (PK_TYPE_DONGLE, NULL);

  pk_dongle_update (self, info);
  return self;
}

static gboolean
update_string (PkDongle    *self,
               char       **field,
               const char  *value,
               guint        prop)
{
  if (g_strcmp0 (*field, value) == 0)
    return FALSE;
  g_free (*field);
  *field = g_strdup (value);
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
  return TRUE;
}

static gboolean
update_uint (PkDongle *self,
             guint    *field,
             guint     value,
             guint     prop)
{
  if (*field == value)
    return FALSE;
  *field = value;
  if (prop != PROP_0)
    g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
  return TRUE;
}

gboolean
pk_dongle_update (PkDongle           *self,
                  const PkDongleInfo *info)
{
  gboolean changed = FALSE;
  gboolean was_ready = pk_dongle_is_ready (self);
  guint vendor = self->info.vendor_id, product = self->info.product_id;
  g_autofree char *gateway = gateway_for (info->host_address);

  g_object_freeze_notify (G_OBJECT (self));
  changed |= update_uint (self, &self->info.id, info->id, PROP_ID);
  changed |= update_uint (self, (guint *) &self->info.mode, info->mode, PROP_MODE);
  changed |= update_string (self, &self->info.interface, info->interface, PROP_INTERFACE);
  changed |= update_string (self, &self->info.host_address, info->host_address, PROP_HOST_ADDRESS);
  changed |= update_string (self, &self->gateway, gateway, PROP_GATEWAY);
  changed |= update_string (self, &self->info.mac_address, info->mac_address, PROP_MAC_ADDRESS);
  changed |= update_string (self, &self->info.usb_path, info->usb_path, PROP_USB_PATH);
  changed |= update_string (self, &self->info.sysfs_path, info->sysfs_path, PROP_SYSFS_PATH);
  changed |= update_string (self, &self->info.hub_path, info->hub_path, PROP_HUB_PATH);
  changed |= update_uint (self, &self->info.hub_port, info->hub_port, PROP_HUB_PORT);
  changed |= update_string (self, &self->info.serial, info->serial, PROP_SERIAL);
  changed |= update_uint (self, &self->info.busnum, info->busnum, PROP_0);
  changed |= update_uint (self, &self->info.devnum, info->devnum, PROP_0);
  if (vendor != info->vendor_id)
    {
      self->info.vendor_id = info->vendor_id;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VENDOR_ID]);
      changed = TRUE;
    }
  if (product != info->product_id)
    {
      self->info.product_id = info->product_id;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PRODUCT_ID]);
      changed = TRUE;
    }
  if (was_ready != pk_dongle_is_ready (self))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_READY]);
  g_object_thaw_notify (G_OBJECT (self));
  return changed;
}

/* @self takes what @other holds: a dongle that came back as a new USB
 * device, for those that hold the old object. */
gboolean
pk_dongle_update_from (PkDongle *self,
                       PkDongle *other)
{
  g_return_val_if_fail (PK_IS_DONGLE (self) && PK_IS_DONGLE (other), FALSE);
  return self != other && pk_dongle_update (self, &other->info);
}

/**
 * pk_dongle_get_id:
 * @self: a [class@Dongle]
 *
 * The dongle's number N, or 0 while it is not known.
 *
 * Returns: the dongle's number N, or 0 while it is not known
 *
 * Since: 0.2
 */
guint
pk_dongle_get_id (PkDongle *self)
{
  g_return_val_if_fail (PK_IS_DONGLE (self), 0);
  return self->info.id;
}

/**
 * pk_dongle_get_mode:
 * @self: a [class@Dongle]
 *
 * The mode of its USB device.
 *
 * Returns: the mode of its USB device
 *
 * Since: 0.2
 */
PkDongleMode
pk_dongle_get_mode (PkDongle *self)
{
  g_return_val_if_fail (PK_IS_DONGLE (self), PK_DONGLE_MODE_UNKNOWN);
  return self->info.mode;
}

/**
 * pk_dongle_get_interface:
 * @self: a [class@Dongle]
 *
 * Its network interface, or %NULL.
 *
 * Returns: (nullable): its network interface, or %NULL
 *
 * Since: 0.2
 */
const char *
pk_dongle_get_interface (PkDongle *self)
{
  g_return_val_if_fail (PK_IS_DONGLE (self), NULL);
  return self->info.interface;
}

/**
 * pk_dongle_get_host_address:
 * @self: a [class@Dongle]
 *
 * The host's IPv4 address on its interface, or %NULL.
 *
 * Returns: (nullable): the host's IPv4 address on its interface, or %NULL
 *
 * Since: 0.2
 */
const char *
pk_dongle_get_host_address (PkDongle *self)
{
  g_return_val_if_fail (PK_IS_DONGLE (self), NULL);
  return self->info.host_address;
}

/**
 * pk_dongle_get_gateway:
 * @self: a [class@Dongle]
 *
 * The dongle's own address (`192.168.N.1`), or %NULL while the
 * host has no address on its subnet.
 *
 * Returns: (nullable): the dongle's own address (`192.168.N.1`), or %NULL
 *   while the host has no address on its subnet
 *
 * Since: 0.2
 */
const char *
pk_dongle_get_gateway (PkDongle *self)
{
  g_return_val_if_fail (PK_IS_DONGLE (self), NULL);
  return self->gateway;
}

/**
 * pk_dongle_dup_api_url:
 * @self: a [class@Dongle]
 *
 * The address of the dongle's web API, which [class@HilinkModem] talks to.
 *
 * Returns: (transfer full) (nullable): the URL of its web API,
 *   `http://192.168.N.1`, or %NULL while its address is not known
 *
 * Since: 0.2
 */
char *
pk_dongle_dup_api_url (PkDongle *self)
{
  g_return_val_if_fail (PK_IS_DONGLE (self), NULL);
  return self->gateway ? g_strconcat ("http://", self->gateway, NULL) : NULL;
}

/**
 * pk_dongle_get_mac_address:
 * @self: a [class@Dongle]
 *
 * The MAC address of its interface, or %NULL.
 *
 * Returns: (nullable): the MAC address of its interface, or %NULL
 *
 * Since: 0.2
 */
const char *
pk_dongle_get_mac_address (PkDongle *self)
{
  g_return_val_if_fail (PK_IS_DONGLE (self), NULL);
  return self->info.mac_address;
}

/**
 * pk_dongle_get_usb_path:
 * @self: a [class@Dongle]
 *
 * Its USB device name (`1-1.3`), or %NULL for a dongle made by
 * hand.
 *
 * Returns: (nullable): its USB device name (`1-1.3`), or %NULL for a
 *   dongle made by hand
 *
 * Since: 0.2
 */
const char *
pk_dongle_get_usb_path (PkDongle *self)
{
  g_return_val_if_fail (PK_IS_DONGLE (self), NULL);
  return self->info.usb_path;
}

/**
 * pk_dongle_get_sysfs_path:
 * @self: a [class@Dongle]
 *
 * The sysfs path of its USB device, or %NULL.
 *
 * Returns: (nullable): the sysfs path of its USB device, or %NULL
 *
 * Since: 0.2
 */
const char *
pk_dongle_get_sysfs_path (PkDongle *self)
{
  g_return_val_if_fail (PK_IS_DONGLE (self), NULL);
  return self->info.sysfs_path;
}

/**
 * pk_dongle_get_hub_path:
 * @self: a [class@Dongle]
 *
 * The hub it is plugged into (`1-1`, or `usb1` for the root
 * hub), or %NULL.
 *
 * Returns: (nullable): the hub it is plugged into (`1-1`, or `usb1` for
 *   the root hub), or %NULL
 *
 * Since: 0.2
 */
const char *
pk_dongle_get_hub_path (PkDongle *self)
{
  g_return_val_if_fail (PK_IS_DONGLE (self), NULL);
  return self->info.hub_path;
}

/**
 * pk_dongle_get_hub_port:
 * @self: a [class@Dongle]
 *
 * The hub port it is plugged into, or 0.
 *
 * Returns: the hub port it is plugged into, or 0
 *
 * Since: 0.2
 */
guint
pk_dongle_get_hub_port (PkDongle *self)
{
  g_return_val_if_fail (PK_IS_DONGLE (self), 0);
  return self->info.hub_port;
}

/**
 * pk_dongle_get_vendor_id:
 * @self: a [class@Dongle]
 *
 * The USB vendor id, or 0.
 *
 * Returns: the USB vendor id, or 0
 *
 * Since: 0.2
 */
guint16
pk_dongle_get_vendor_id (PkDongle *self)
{
  g_return_val_if_fail (PK_IS_DONGLE (self), 0);
  return self->info.vendor_id;
}

/**
 * pk_dongle_get_product_id:
 * @self: a [class@Dongle]
 *
 * The USB product id, or 0.
 *
 * Returns: the USB product id, or 0
 *
 * Since: 0.2
 */
guint16
pk_dongle_get_product_id (PkDongle *self)
{
  g_return_val_if_fail (PK_IS_DONGLE (self), 0);
  return self->info.product_id;
}

/**
 * pk_dongle_dup_usb_id:
 * @self: a [class@Dongle]
 *
 * `vendor:product` as lsusb prints it
 * (`12d1:14db`), or %NULL for a dongle made by hand.
 *
 * Returns: (transfer full) (nullable): `vendor:product` as lsusb prints it
 *   (`12d1:14db`), or %NULL for a dongle made by hand
 *
 * Since: 0.2
 */
char *
pk_dongle_dup_usb_id (PkDongle *self)
{
  g_return_val_if_fail (PK_IS_DONGLE (self), NULL);
  if (self->info.vendor_id == 0 && self->info.product_id == 0)
    return NULL;
  return g_strdup_printf ("%04x:%04x", self->info.vendor_id, self->info.product_id);
}

/**
 * pk_dongle_get_serial:
 * @self: a [class@Dongle]
 *
 * The USB serial number, or %NULL.
 *
 * Returns: (nullable): the USB serial number, or %NULL
 *
 * Since: 0.2
 */
const char *
pk_dongle_get_serial (PkDongle *self)
{
  g_return_val_if_fail (PK_IS_DONGLE (self), NULL);
  return self->info.serial;
}

guint
pk_dongle_get_busnum (PkDongle *self)
{
  return self->info.busnum;
}

guint
pk_dongle_get_devnum (PkDongle *self)
{
  return self->info.devnum;
}

/**
 * pk_dongle_is_ready:
 * @self: a [class@Dongle]
 *
 * %TRUE if the dongle can carry traffic: HiLink mode, a number, an interface
 * and the host's address on it.
 *
 * Returns: %TRUE if the dongle can carry traffic: HiLink mode, a number,
 *   an interface and the host's address on it
 *
 * Since: 0.2
 */
gboolean
pk_dongle_is_ready (PkDongle *self)
{
  g_return_val_if_fail (PK_IS_DONGLE (self), FALSE);
  return self->info.mode == PK_DONGLE_MODE_HILINK && self->info.id > 0 &&
         self->info.interface != NULL && self->info.host_address != NULL;
}

/**
 * pk_dongle_dup_egress:
 * @self: a [class@Dongle]
 *
 * The way out through this dongle: source address the host address,
 * bound to its interface, and names resolved by asking the dongle
 * (its gateway address) through that same egress.
 *
 * Returns: (transfer full) (nullable): a new [class@Egress], or %NULL if the
 *   dongle is not ready
 *
 * Since: 0.2
 */
PkEgress *
pk_dongle_dup_egress (PkDongle *self)
{
  g_autoptr(PkEgress) egress = NULL;
  const char *dns[] = { self->gateway, NULL };

  g_return_val_if_fail (PK_IS_DONGLE (self), NULL);

  if (!pk_dongle_is_ready (self))
    return NULL;
  egress = pk_egress_new_full (self->info.host_address, self->info.interface, 0, 0, NULL);
  if (egress == NULL || (self->gateway != NULL && !pk_egress_set_nameservers (egress, dns, NULL)))
    return NULL;
  return g_steal_pointer (&egress);
}

static void
add_string (JsonBuilder *b,
            const char  *name,
            const char  *value)
{
  json_builder_set_member_name (b, name);
  value ? json_builder_add_string_value (b, value) : json_builder_add_null_value (b);
}

void
pk_dongle_build_json (PkDongle    *self,
                      JsonBuilder *b)
{
  g_autofree char *api = pk_dongle_dup_api_url (self);
  g_autofree char *usb_id = pk_dongle_dup_usb_id (self);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "dongle");
  self->info.id ? json_builder_add_int_value (b, self->info.id) : json_builder_add_null_value (b);
  add_string (b, "mode", pk_dongle_mode_to_string (self->info.mode));
  json_builder_set_member_name (b, "ready");
  json_builder_add_boolean_value (b, pk_dongle_is_ready (self));
  add_string (b, "interface", self->info.interface);
  add_string (b, "host_address", self->info.host_address);
  add_string (b, "api", api);
  add_string (b, "mac", self->info.mac_address);
  add_string (b, "usb_path", self->info.usb_path);
  add_string (b, "hub", self->info.hub_path);
  json_builder_set_member_name (b, "port");
  self->info.hub_port ? json_builder_add_int_value (b, self->info.hub_port) : json_builder_add_null_value (b);
  add_string (b, "usb_id", usb_id);
  add_string (b, "serial", self->info.serial);
  add_string (b, "sysfs_path", self->info.sysfs_path);
  json_builder_end_object (b);
}

/**
 * pk_dongle_to_json:
 * @self: a [class@Dongle]
 *
 * The dongle as a JSON object: `dongle` (N or null), `mode`, `ready`,
 * `interface`, `host_address`, `api`, `mac`, `usb_path`, `hub`, `port`,
 * `usb_id`, `serial`, `sysfs_path` (unknown values are null).
 *
 * Returns: (transfer full): the JSON text
 *
 * Since: 0.2
 */
char *
pk_dongle_to_json (PkDongle *self)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  g_return_val_if_fail (PK_IS_DONGLE (self), NULL);

  pk_dongle_build_json (self, b);
  root = json_builder_get_root (b);
  return json_to_string (root, TRUE);
}
