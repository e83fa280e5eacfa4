/* pk-usb-hub.c: port power through USB hub-class requests
 *
 * Linux 6.0 gave each hub port a `disable` attribute; older kernels, and
 * hubs whose driver does not offer it, leave the hub's own class
 * requests: SET_FEATURE and CLEAR_FEATURE(PORT_POWER) to switch a port,
 * GET_STATUS to read it, sent to the hub's endpoint 0 through usbfs.
 * libgusb (libusb) carries them; the hub's kernel driver stays bound, as
 * requests to recipient "other" (a port) need no claimed interface.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#ifdef HAVE_GUSB
#include <gusb.h>
#endif

#include "pk-error.h"
#include "pk-usb-hub-private.h"

#define TRANSFER_TIMEOUT_MS 5000

#ifdef HAVE_GUSB
static gboolean
read_sysfs_uint (const char  *hub,
                 const char  *name,
                 guint64      max,
                 guint64     *out,
                 GError     **error)
{
  g_autofree char *path = g_build_filename ("/sys/bus/usb/devices", hub, name, NULL);
  g_autofree char *text = NULL;
  g_autoptr(GError) local_error = NULL;

  if (!g_file_get_contents (path, &text, NULL, &local_error))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_NOT_SUPPORTED, "hub %s is not on USB: %s", hub, local_error->message);
      return FALSE;
    }
  /* speed may be "1.5"; only its whole part is wanted */
  text[strcspn (text, ".\n")] = '\0';
  if (!g_ascii_string_to_unsigned (text, 10, 0, max, out, &local_error))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_NOT_SUPPORTED, "hub %s: %s: %s", hub, path, local_error->message);
      return FALSE;
    }
  return TRUE;
}

/* The hub opened through usbfs, found by its bus and device number. */
static GUsbDevice *
open_hub (const char   *hub,
          GUsbContext **out_context,
          gboolean     *out_superspeed,
          GError      **error)
{
  g_autoptr(GUsbContext) context = NULL;
  g_autoptr(GUsbDevice) device = NULL;
  g_autoptr(GError) local_error = NULL;
  guint64 bus, devnum, speed = 0;

  if (!read_sysfs_uint (hub, "busnum", 255, &bus, error) || !read_sysfs_uint (hub, "devnum", 255, &devnum, error))
    return NULL;
  /* speed in Mbit/s: 5000 and above is a USB 3 hub (its own status bits) */
  (void) read_sysfs_uint (hub, "speed", G_MAXUINT, &speed, NULL);
  context = g_usb_context_new (&local_error);
  if (context == NULL)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_NOT_SUPPORTED, "hub %s: cannot use libusb: %s", hub, local_error->message);
      return NULL;
    }
  device = g_usb_context_find_by_bus_address (context, (guint8) bus, (guint8) devnum, &local_error);
  if (device == NULL)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_NOT_SUPPORTED, "hub %s (bus %u device %u) is not on USB: %s", hub,
                   (guint) bus, (guint) devnum, local_error->message);
      return NULL;
    }
  if (!g_usb_device_open (device, &local_error))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_STATE, "hub %s (bus %u device %u): cannot open it: %s", hub,
                   (guint) bus, (guint) devnum, local_error->message);
      return NULL;
    }
  *out_context = g_steal_pointer (&context);
  if (out_superspeed != NULL)
    *out_superspeed = speed >= 5000;
  return g_steal_pointer (&device);
}
#endif

gboolean
pk_usb_hub_set_port_power (const char  *hub,
                           guint        port,
                           gboolean     on,
                           GError     **error)
{
#ifdef HAVE_GUSB
  g_autoptr(GUsbContext) context = NULL;
  g_autoptr(GUsbDevice) device = NULL;
  g_autoptr(GError) local_error = NULL;
  gboolean ok;

  g_return_val_if_fail (hub != NULL && port >= 1 && port <= 255, FALSE);

  device = open_hub (hub, &context, NULL, error);
  if (device == NULL)
    return FALSE;
  ok = g_usb_device_control_transfer (device, G_USB_DEVICE_DIRECTION_HOST_TO_DEVICE,
                                      G_USB_DEVICE_REQUEST_TYPE_CLASS, G_USB_DEVICE_RECIPIENT_OTHER,
                                      on ? PK_USB_HUB_REQUEST_SET_FEATURE : PK_USB_HUB_REQUEST_CLEAR_FEATURE,
                                      PK_USB_HUB_FEATURE_PORT_POWER, (guint16) port,
                                      NULL, 0, NULL, TRANSFER_TIMEOUT_MS, NULL, &local_error);
  (void) g_usb_device_close (device, NULL);
  if (!ok)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_STATE, "hub %s port %u: %s(PORT_POWER) failed: %s", hub, port,
                   on ? "SET_FEATURE" : "CLEAR_FEATURE", local_error->message);
      return FALSE;
    }
  return TRUE;
#else
  g_set_error (error, PK_ERROR, PK_ERROR_NOT_SUPPORTED,
               "hub %s port %u: built without libgusb, no port power by USB request", hub, port);
  return FALSE;
#endif
}

gboolean
pk_usb_hub_get_port_power (const char  *hub,
                           guint        port,
                           gboolean    *out_on,
                           GError     **error)
{
#ifdef HAVE_GUSB
  g_autoptr(GUsbContext) context = NULL;
  g_autoptr(GUsbDevice) device = NULL;
  g_autoptr(GError) local_error = NULL;
  guint8 status[4] = { 0 };
  gsize got = 0;
  gboolean superspeed = FALSE;
  gboolean ok;
  guint16 port_status;

  g_return_val_if_fail (hub != NULL && port >= 1 && port <= 255, FALSE);

  device = open_hub (hub, &context, &superspeed, error);
  if (device == NULL)
    return FALSE;
  ok = g_usb_device_control_transfer (device, G_USB_DEVICE_DIRECTION_DEVICE_TO_HOST,
                                      G_USB_DEVICE_REQUEST_TYPE_CLASS, G_USB_DEVICE_RECIPIENT_OTHER,
                                      PK_USB_HUB_REQUEST_GET_STATUS, 0, (guint16) port,
                                      status, sizeof status, &got, TRANSFER_TIMEOUT_MS, NULL, &local_error);
  (void) g_usb_device_close (device, NULL);
  if (!ok || got < 2)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_STATE, "hub %s port %u: GET_STATUS failed: %s", hub, port,
                   local_error ? local_error->message : "short answer");
      return FALSE;
    }
  port_status = (guint16) (status[0] | (status[1] << 8));
  if (out_on != NULL)
    *out_on = (port_status & (superspeed ? PK_USB_HUB_SS_PORT_STAT_POWER : PK_USB_HUB_PORT_STAT_POWER)) != 0;
  return TRUE;
#else
  g_set_error (error, PK_ERROR, PK_ERROR_NOT_SUPPORTED,
               "hub %s port %u: built without libgusb, no port status by USB request", hub, port);
  return FALSE;
#endif
}
