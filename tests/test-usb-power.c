/* test-usb-power.c: hub port power by USB request, PkPortPower, the controller reset
 *
 * A umockdev testbed holds a USB 2 hub (1-1, bus 1 device 2) whose ports
 * have no `disable` attribute, as on kernels before 6.0. Its usbfs node
 * /dev/bus/usb/001/002 is emulated by umockdev's ioctl handler: libusb
 * (through libgusb) opens it and submits URBs, and the handler answers
 * each control transfer as a hub would, keeping each port's power, and
 * records the setup packets in order. Run under umockdev-wrapper.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/usbdevice_fs.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <umockdev.h>

#include "pk-dongle-private.h"
#include "pk-test-utils.h"
#include "pk-toggle-private.h"
#include "pk-usb-hub-private.h"
#include "proxykit.h"

#define HUB_NODE "/dev/bus/usb/001/002"
#define N_PORTS 4

typedef struct {
  guint8 request_type;
  guint8 request;
  guint16 value;
  guint16 index;
} Setup;

typedef struct {
  UMockdevTestbed *testbed;
  UMockdevIoctlBase *handler;
  char *hub;
  char *hub_intf;
  char *dongle;               /* 1-1.3's sysfs path */
  char *state_dir;

  /* the emulated hub, touched by umockdev's worker thread */
  GMutex lock;
  GArray *transfers;          /* Setup, in the order they came */
  gboolean power[N_PORTS + 1];
  UMockdevIoctlData *pending; /* the URB submitted, until reaped */
} Fixture;

/* 18 bytes of device descriptor (a Genesys 05e3:0610 USB 2 hub, class 9),
 * then its configuration: one interface (class 9), one interrupt endpoint. */
static const guint8 hub_descriptors[] = {
  0x12, 0x01, 0x00, 0x02, 0x09, 0x00, 0x01, 0x40, 0xe3, 0x05, 0x10, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
  0x09, 0x02, 0x19, 0x00, 0x01, 0x01, 0x00, 0xe0, 0x32,
  0x09, 0x04, 0x00, 0x00, 0x01, 0x09, 0x00, 0x00, 0x00,
  0x07, 0x05, 0x81, 0x03, 0x01, 0x00, 0x0c,
};

static void
answer_urb (Fixture                 *f,
            UMockdevIoctlData       *urb_data,
            GError                 **error)
{
  struct usbdevfs_urb *urb = (struct usbdevfs_urb *) urb_data->data;
  g_autoptr(UMockdevIoctlData) buffer = NULL;
  guint8 *b;
  Setup s;
  guint16 length;

  buffer = umockdev_ioctl_data_resolve (urb_data, offsetof (struct usbdevfs_urb, buffer),
                                        (gsize) urb->buffer_length, error);
  if (buffer == NULL)
    return;
  b = buffer->data;
  s.request_type = b[0];
  s.request = b[1];
  s.value = (guint16) (b[2] | b[3] << 8);
  s.index = (guint16) (b[4] | b[5] << 8);
  length = (guint16) (b[6] | b[7] << 8);
  g_array_append_val (f->transfers, s);

  urb->status = 0;
  urb->actual_length = 0;
  /* class requests to a port: 0x23 out, 0xa3 in */
  if ((s.request_type == 0x23 || s.request_type == 0xa3) && s.index >= 1 && s.index <= N_PORTS)
    {
      if (s.request == PK_USB_HUB_REQUEST_SET_FEATURE && s.value == PK_USB_HUB_FEATURE_PORT_POWER)
        f->power[s.index] = TRUE;
      else if (s.request == PK_USB_HUB_REQUEST_CLEAR_FEATURE && s.value == PK_USB_HUB_FEATURE_PORT_POWER)
        f->power[s.index] = FALSE;
      else if (s.request == PK_USB_HUB_REQUEST_GET_STATUS && length == 4 && urb->buffer_length >= 12)
        {
          guint16 status = f->power[s.index] ? PK_USB_HUB_PORT_STAT_POWER : 0;

          b[8] = status & 0xff;
          b[9] = status >> 8;
          b[10] = b[11] = 0;
          urb->actual_length = 4;
        }
      else
        urb->status = -EPIPE;    /* a stall, as a hub answers what it does not know */
    }
  else
    urb->status = -EPIPE;
}

/* umockdev's worker thread: usbfs as the kernel offers it to libusb. */
static gboolean
on_ioctl (UMockdevIoctlBase   *handler,
          UMockdevIoctlClient *client,
          gpointer             user_data)
{
  Fixture *f = user_data;
  gulong request = umockdev_ioctl_client_get_request (client);
  UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg (client);
  g_autoptr(GError) error = NULL;
  G_GNUC_UNUSED g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&f->lock);

  if (request == USBDEVFS_SUBMITURB)
    {
      g_autoptr(UMockdevIoctlData) urb = umockdev_ioctl_data_resolve (arg, 0, sizeof (struct usbdevfs_urb), &error);

      g_assert_no_error (error);
      g_assert_null (f->pending);
      answer_urb (f, urb, &error);
      g_assert_no_error (error);
      f->pending = g_object_ref (urb);
      umockdev_ioctl_client_complete (client, 0, 0);
    }
  else if (request == USBDEVFS_REAPURB || request == USBDEVFS_REAPURBNDELAY)
    {
      g_autoptr(UMockdevIoctlData) out = NULL;

      if (f->pending == NULL)
        {
          umockdev_ioctl_client_complete (client, -1, EAGAIN);
          return TRUE;
        }
      out = umockdev_ioctl_data_resolve (arg, 0, sizeof (gpointer), &error);
      g_assert_no_error (error);
      umockdev_ioctl_data_set_ptr (out, 0, f->pending);
      g_clear_object (&f->pending);
      umockdev_ioctl_client_complete (client, 0, 0);
    }
  else if (request == USBDEVFS_GET_CAPABILITIES)
    {
      g_autoptr(UMockdevIoctlData) caps = umockdev_ioctl_data_resolve (arg, 0, sizeof (guint32), &error);

      g_assert_no_error (error);
      memset (caps->data, 0, sizeof (guint32));
      umockdev_ioctl_client_complete (client, 0, 0);
    }
  else if (request == USBDEVFS_DISCARDURB)
    {
      g_clear_object (&f->pending);
      umockdev_ioctl_client_complete (client, 0, 0);
    }
  else
    umockdev_ioctl_client_complete (client, -1, ENOTTY);
  return TRUE;
}

static void
add_port_dirs (Fixture  *f,
               gboolean  with_disable)
{
  g_autofree char *root = umockdev_testbed_get_root_dir (f->testbed);

  for (guint p = 1; p <= N_PORTS; p++)
    {
      g_autofree char *dir = g_strdup_printf ("%s%s/1-1-port%u", root, f->hub_intf, p);
      g_autofree char *disable = g_build_filename (dir, "disable", NULL);

      g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
      if (with_disable)
        g_assert_true (g_file_set_contents (disable, "0\n", -1, NULL));
    }
}

static void
setup (Fixture       *f,
       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *pci = NULL;
  g_autofree char *root_hub = NULL;

  g_mutex_init (&f->lock);
  f->transfers = g_array_new (FALSE, FALSE, sizeof (Setup));
  for (guint p = 1; p <= N_PORTS; p++)
    f->power[p] = TRUE;

  f->testbed = umockdev_testbed_new ();
  pci = umockdev_testbed_add_device (f->testbed, "pci", "0000:00:14.0", NULL,
                                     "vendor", "0x8086", "device", "0xa36d", "class", "0x0c0330", NULL,
                                     "DRIVER", "xhci_hcd", "PCI_SLOT_NAME", "0000:00:14.0", NULL);
  root_hub = umockdev_testbed_add_device (f->testbed, "usb", "usb1", pci,
                                          "idVendor", "1d6b", "idProduct", "0002", "bDeviceClass", "09",
                                          "busnum", "1", "devnum", "1", "speed", "480", "maxchild", "2", NULL,
                                          "DEVTYPE", "usb_device", "DRIVER", "usb", NULL);
  f->hub = umockdev_testbed_add_device (f->testbed, "usb", "1-1", root_hub,
                                                  "idVendor", "05e3", "idProduct", "0610", "bDeviceClass", "09",
                                                  "busnum", "1", "devnum", "2", "speed", "480", "maxchild", "4",
                                                  "bConfigurationValue", "1", "dev", "189:1", NULL,
                                                  "DEVTYPE", "usb_device", "DRIVER", "usb", "BUSNUM", "001",
                                                  "DEVNUM", "002", "DEVNAME", HUB_NODE, NULL);
  umockdev_testbed_set_attribute_binary (f->testbed, f->hub, "descriptors", (guint8 *) hub_descriptors,
                                         sizeof hub_descriptors);
  f->hub_intf = umockdev_testbed_add_device (f->testbed, "usb", "1-1:1.0", f->hub,
                                                       "bInterfaceClass", "09", NULL,
                                                       "DEVTYPE", "usb_interface", "DRIVER", "hub", NULL);
  add_port_dirs (f, GPOINTER_TO_INT (data));
  f->dongle = umockdev_testbed_add_device (f->testbed, "usb", "1-1.3", f->hub,
                                                     "idVendor", "12d1", "idProduct", "14db",
                                                     "busnum", "1", "devnum", "13", NULL,
                                                     "DEVTYPE", "usb_device", "DRIVER", "usb", NULL);
  /* the controller: xhci_hcd holds the PCI device above usb1 */
  umockdev_testbed_set_attribute_link (f->testbed, pci, "driver", "../../bus/pci/drivers/xhci_hcd");
  {
    /* the usbfs node libusb opens; its ioctls go to the handler */
    g_autofree char *root = umockdev_testbed_get_root_dir (f->testbed);
    g_autofree char *node = g_build_filename (root, HUB_NODE, NULL);
    g_autofree char *dir = g_path_get_dirname (node);

    g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
    g_assert_true (g_file_set_contents (node, "", 0, NULL));
  }

  f->handler = umockdev_ioctl_base_new ();
  g_signal_connect (f->handler, "handle-ioctl", G_CALLBACK (on_ioctl), f);
  g_assert_true (umockdev_testbed_attach_ioctl (f->testbed, HUB_NODE, f->handler, &error));
  g_assert_no_error (error);

  f->state_dir = g_dir_make_tmp ("pk-usb-power-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
teardown (Fixture       *f,
          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  umockdev_testbed_detach_ioctl (f->testbed, HUB_NODE, &error);
  g_clear_object (&f->handler);
  g_clear_object (&f->pending);
  g_clear_object (&f->testbed);
  g_array_unref (f->transfers);
  g_mutex_clear (&f->lock);
  pk_test_run ("rm -rf '%s'", f->state_dir);
  g_free (f->state_dir);
  g_free (f->hub);
  g_free (f->hub_intf);
  g_free (f->dongle);
}

/* The transfers so far, as "REQUESTTYPE REQUEST VALUE INDEX" lines. */
static char *
transfers_text (Fixture *f)
{
  G_GNUC_UNUSED g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&f->lock);
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < f->transfers->len; i++)
    {
      Setup *s = &g_array_index (f->transfers, Setup, i);
      g_string_append_printf (out, "%s%02x %02x %04x %04x", i ? "; " : "", s->request_type, s->request,
                              s->value, s->index);
    }
  return g_string_free (out, FALSE);
}

static void
clear_transfers (Fixture *f)
{
  G_GNUC_UNUSED g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&f->lock);
  g_array_set_size (f->transfers, 0);
}

/* CLEAR_FEATURE(PORT_POWER) to port 3 */
#define OFF_3 "23 01 0008 0003"
#define ON_3 "23 03 0008 0003"
#define STATUS_3 "a3 00 0000 0003"

static void
test_request_switch (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(PkUsbMapEntry) entry = pk_usb_map_entry_new (11, "1-1", 3);
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  gboolean on = TRUE;

  pk_usb_map_entry_set_power (entry, FALSE, &error);
  g_assert_no_error (error);
  g_assert_false (f->power[3]);
  g_assert_true (pk_usb_map_entry_get_power (entry, &on, &error));
  g_assert_no_error (error);
  g_assert_false (on);
  g_assert_true (pk_usb_map_entry_set_power (entry, TRUE, &error));
  g_assert_no_error (error);
  g_assert_true (pk_usb_map_entry_get_power (entry, &on, &error));
  g_assert_true (on);

  text = transfers_text (f);
  g_assert_cmpstr (text, ==, OFF_3 "; " STATUS_3 "; " ON_3 "; " STATUS_3);
  for (guint p = 1; p <= N_PORTS; p++)
    g_assert_true (f->power[p]);
}

static void
test_request_hub_missing (Fixture       *f,
                          gconstpointer  data)
{
  /* hub 1-2 is not on USB: the error names the port and both ways tried */
  g_autoptr(PkUsbMapEntry) entry = pk_usb_map_entry_new (12, "1-2", 1);
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  g_assert_false (pk_usb_map_entry_set_power (entry, FALSE, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_NOT_SUPPORTED);
  g_assert_nonnull (strstr (error->message, "hub 1-2 port 1"));
  g_assert_nonnull (strstr (error->message, "disable"));
  g_assert_nonnull (strstr (error->message, "USB request"));
  text = transfers_text (f);
  g_assert_cmpstr (text, ==, "");
}

static void
test_sysfs_preferred (Fixture       *f,
                      gconstpointer  data)
{
  /* Ports with `disable`: the attribute, no USB request. */
  g_autoptr(PkUsbMapEntry) entry = pk_usb_map_entry_new (11, "1-1", 3);
  g_autoptr(GError) error = NULL;
  g_autofree char *root = umockdev_testbed_get_root_dir (f->testbed);
  g_autofree char *path = g_strdup_printf ("%s%s/1-1-port3/disable", root, f->hub_intf);
  g_autofree char *contents = NULL;
  g_autofree char *text = NULL;

  g_assert_true (pk_usb_map_entry_set_power (entry, FALSE, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "1");
  text = transfers_text (f);
  g_assert_cmpstr (text, ==, "");
  g_assert_true (pk_usb_map_entry_set_power (entry, TRUE, &error));
}

static void
run_power (PkPortPower        *power,
           PkPortPowerAction   action,
           GCancellable       *cancellable,
           GError            **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  pk_port_power_run_async (power, action, cancellable, pk_test_store_result, &result);
  pk_test_wait_result (&result, 10000);
  (void) pk_port_power_run_finish (power, result, error);
}

static void
test_port_power_cycle (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(PkUsbMapEntry) entry = pk_usb_map_entry_new (11, "1-1", 3);
  g_autoptr(PkPortPower) power = pk_port_power_new (entry);
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *lock = g_build_filename (f->state_dir, "toggle-11.lock", NULL);

  pk_port_power_set_state_dir (power, f->state_dir);
  pk_port_power_set_off_time (power, 50);
  run_power (power, PK_PORT_POWER_CYCLE, NULL, &error);
  g_assert_no_error (error);
  text = transfers_text (f);
  g_assert_cmpstr (text, ==, OFF_3 "; " ON_3);
  g_assert_true (f->power[3]);
  /* the lock is the toggle's, and it was let go */
  g_assert_true (g_file_test (lock, G_FILE_TEST_EXISTS));

  clear_transfers (f);
  run_power (power, PK_PORT_POWER_OFF, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (f->power[3]);
  run_power (power, PK_PORT_POWER_ON, NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&text, g_free);
  text = transfers_text (f);
  g_assert_cmpstr (text, ==, OFF_3 "; " ON_3);
}

static gboolean
cancel_soon (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

static void
test_port_power_cycle_cancelled (Fixture       *f,
                                 gconstpointer  data)
{
  /* Cancelled in its pause, a cycle switches the port back on at once. */
  g_autoptr(PkUsbMapEntry) entry = pk_usb_map_entry_new (11, "1-1", 3);
  g_autoptr(PkPortPower) power = pk_port_power_new (entry);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  pk_port_power_set_off_time (power, 60000);
  g_timeout_add (50, cancel_soon, cancellable);
  run_power (power, PK_PORT_POWER_CYCLE, cancellable, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  text = transfers_text (f);
  g_assert_cmpstr (text, ==, OFF_3 "; " ON_3);
  g_assert_true (f->power[3]);
}

static void
test_port_power_locked (Fixture       *f,
                        gconstpointer  data)
{
  /* A toggle of dongle 11 holds its lock: no switch, a clear refusal. */
  g_autoptr(PkUsbMapEntry) entry = pk_usb_map_entry_new (11, "1-1", 3);
  g_autoptr(PkPortPower) power = pk_port_power_new (entry);
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  int fd = pk_toggle_lock_acquire (f->state_dir, 11, &error);

  g_assert_no_error (error);
  g_assert_cmpint (fd, >=, 0);
  pk_port_power_set_state_dir (power, f->state_dir);
  run_power (power, PK_PORT_POWER_CYCLE, NULL, &error);
  g_assert_error (error, PK_ERROR, PK_ERROR_BUSY);
  g_assert_nonnull (strstr (error->message, "toggle-11.lock"));
  text = transfers_text (f);
  g_assert_cmpstr (text, ==, "");
  close (fd);

  g_clear_error (&error);
  run_power (power, PK_PORT_POWER_OFF, NULL, &error);
  g_assert_no_error (error);
  run_power (power, PK_PORT_POWER_ON, NULL, &error);
  g_assert_no_error (error);
}

static void
test_port_power_run_all (Fixture       *f,
                         gconstpointer  data)
{
  /* Ports 2 and 3 off at once (pk-toggle --power off 12 11) while a
   * toggle of 11 holds its lock: 12 switched, 11 refused, and the
   * refusal is the run's error. */
  g_autoptr(PkUsbMapEntry) e11 = pk_usb_map_entry_new (11, "1-1", 3);
  g_autoptr(PkUsbMapEntry) e12 = pk_usb_map_entry_new (12, "1-1", 2);
  PkPortPower *powers[2] = { pk_port_power_new (e12), pk_port_power_new (e11) };
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  int fd = pk_toggle_lock_acquire (f->state_dir, 11, &error);

  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (powers); i++)
    {
      pk_port_power_set_state_dir (powers[i], f->state_dir);
      pk_port_power_set_off_time (powers[i], 20);
    }
  pk_port_power_run_all_async (powers, G_N_ELEMENTS (powers), PK_PORT_POWER_OFF, NULL, pk_test_store_result,
                               &result);
  pk_test_wait_result (&result, 10000);
  g_assert_false (pk_port_power_run_all_finish (result, &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_BUSY);
  g_assert_null (pk_port_power_get_error (powers[0]));
  g_assert_error ((GError *) pk_port_power_get_error (powers[1]), PK_ERROR, PK_ERROR_BUSY);
  g_assert_false (f->power[2]);
  g_assert_true (f->power[3]);
  close (fd);

  /* The lock let go: a cycle of both, and no error left over. */
  g_clear_error (&error);
  g_clear_object (&result);
  pk_port_power_run_all_async (powers, G_N_ELEMENTS (powers), PK_PORT_POWER_CYCLE, NULL, pk_test_store_result,
                               &result);
  pk_test_wait_result (&result, 10000);
  g_assert_true (pk_port_power_run_all_finish (result, &error));
  g_assert_no_error (error);
  g_assert_null (pk_port_power_get_error (powers[1]));
  g_assert_true (f->power[2] && f->power[3]);

  /* None at all: done at once. */
  g_clear_object (&result);
  pk_port_power_run_all_async (NULL, 0, PK_PORT_POWER_ON, NULL, pk_test_store_result, &result);
  pk_test_wait_result (&result, 10000);
  g_assert_true (pk_port_power_run_all_finish (result, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (powers); i++)
    g_object_unref (powers[i]);
}

/* --- the USB controller reset --- */

static PkDongle *
make_dongle (Fixture    *f,
             guint       id,
             const char *sysfs_path)
{
  PkDongleInfo info = { 0 };

  info.id = id;
  info.mode = PK_DONGLE_MODE_HILINK;
  info.usb_path = (char *) "1-1.3";
  info.sysfs_path = (char *) sysfs_path;
  info.hub_path = (char *) "1-1";
  info.hub_port = 3;
  return pk_dongle_new_from_info (&info);
}

static char *
driver_file (Fixture    *f,
             const char *name)
{
  g_autofree char *root = umockdev_testbed_get_root_dir (f->testbed);
  g_autofree char *dir = g_build_filename (root, "sys/bus/pci/drivers/xhci_hcd", NULL);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  return g_build_filename (dir, name, NULL);
}

/* bind and unbind as regular files: what was written last stays. */
static void
make_driver_files (Fixture *f)
{
  g_autofree char *unbind = driver_file (f, "unbind");
  g_autofree char *bind = driver_file (f, "bind");

  g_assert_true (g_file_set_contents (unbind, "", 0, NULL));
  g_assert_true (g_file_set_contents (bind, "", 0, NULL));
}

static char *
read_driver_file (Fixture    *f,
                  const char *name)
{
  g_autofree char *path = driver_file (f, name);
  char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  return text;
}

/* The writes to unbind and bind, in the order they came: both are
 * FIFOs; the reader opens bind only after it has read unbind, so a
 * writer that binds first blocks (and the test times out). */
typedef struct {
  char *unbind;
  char *bind;
  GString *log;
} DriverWrites;

static gpointer
read_driver_writes (gpointer data)
{
  DriverWrites *w = data;
  const char *files[] = { w->unbind, w->bind };
  const char *names[] = { "unbind", "bind" };

  for (guint i = 0; i < 2; i++)
    {
      char buf[64] = { 0 };
      /* the raw syscall: umockdev's open() holds its lock while a FIFO's
       * open blocks, and the writer's open() needs that lock too */
      int fd = (int) syscall (SYS_openat, AT_FDCWD, files[i], O_RDONLY | O_CLOEXEC);
      ssize_t n;

      g_assert_cmpint (fd, >=, 0);
      n = read (fd, buf, sizeof buf - 1);
      close (fd);
      g_string_append_printf (w->log, "%s%s %.*s", i ? "; " : "", names[i], (int) MAX (n, 0), buf);
    }
  return NULL;
}

static void
run_reset (PkUsbControllerReset   *reset,
           PkDongle              **failed,
           guint                   n_failed,
           guint                   n_total,
           char                 ***out,
           GError                **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  pk_usb_controller_reset_maybe_async (reset, failed, n_failed, n_total, NULL, pk_test_store_result, &result);
  pk_test_wait_result (&result, 10000);
  *out = pk_usb_controller_reset_maybe_finish (reset, result, error);
}

static void
test_controller_found (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(PkDongle) dongle = make_dongle (f, 11, f->dongle);
  g_autoptr(PkDongle) gone = make_dongle (f, 12, NULL);   /* by its USB path only */
  g_autoptr(GError) error = NULL;
  g_autofree char *pci = pk_usb_controller_reset_dup_controller (dongle, &error);
  g_autofree char *pci2 = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (pci, ==, "0000:00:14.0");
  pci2 = pk_usb_controller_reset_dup_controller (gone, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pci2, ==, "0000:00:14.0");
}

static void
test_controller_reset (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(PkStateStore) store = pk_state_store_new (f->state_dir);
  g_autoptr(PkUsbControllerReset) reset = pk_usb_controller_reset_new (store);
  g_autoptr(PkDongle) dongle = make_dongle (f, 11, f->dongle);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) done = NULL;
  g_autofree char *record = NULL;
  DriverWrites w = { 0 };
  GThread *reader;
  PkDongle *failed[] = { dongle };

  w.unbind = driver_file (f, "unbind");
  w.bind = driver_file (f, "bind");
  w.log = g_string_new (NULL);
  g_assert_cmpint (mkfifo (w.unbind, 0600), ==, 0);
  g_assert_cmpint (mkfifo (w.bind, 0600), ==, 0);

  pk_usb_controller_reset_set_allowed (reset, TRUE);
  pk_usb_controller_reset_set_pause (reset, 10);
  /* 7 of 10 failed: at the threshold */
  g_assert_true (pk_usb_controller_reset_is_due (reset, 7, 10));
  g_assert_false (pk_usb_controller_reset_is_due (reset, 6, 10));
  reader = g_thread_new ("driver-writes", read_driver_writes, &w);
  run_reset (reset, failed, 1, 1, &done, &error);
  g_thread_join (reader);
  g_assert_no_error (error);
  g_assert_nonnull (done);
  g_assert_cmpstr (done[0], ==, "0000:00:14.0");
  g_assert_null (done[1]);
  g_assert_cmpstr (w.log->str, ==, "unbind 0000:00:14.0; bind 0000:00:14.0");

  /* recorded, for every process that uses the store */
  record = pk_state_store_load_document (store, PK_USB_CONTROLLER_RESET_DOCUMENT, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (record, "\"last_reset\""));
  g_assert_nonnull (strstr (record, "0000:00:14.0"));
  g_assert_cmpuint (pk_usb_controller_reset_get_remaining (reset), >, 0);

  g_string_free (w.log, TRUE);
  g_free (w.unbind);
  g_free (w.bind);
}

static void
test_controller_reset_rate_limited (Fixture       *f,
                                    gconstpointer  data)
{
  /* Two policies on one state store, as two watcher processes: the second
   * reset within the interval is refused, and nothing is written. */
  g_autoptr(PkStateStore) store = pk_state_store_new (f->state_dir);
  g_autoptr(PkUsbControllerReset) first = pk_usb_controller_reset_new (store);
  g_autoptr(PkUsbControllerReset) second = pk_usb_controller_reset_new (store);
  g_autoptr(PkDongle) dongle = make_dongle (f, 11, f->dongle);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) done = NULL;
  g_autofree char *unbind = NULL;
  g_autofree char *bind = NULL;
  PkDongle *failed[] = { dongle };

  make_driver_files (f);
  pk_usb_controller_reset_set_allowed (first, TRUE);
  pk_usb_controller_reset_set_pause (first, 10);
  pk_usb_controller_reset_set_allowed (second, TRUE);
  pk_usb_controller_reset_set_pause (second, 10);

  run_reset (first, failed, 1, 1, &done, &error);
  g_assert_no_error (error);
  g_assert_nonnull (done);
  g_clear_pointer (&done, g_strfreev);
  make_driver_files (f);

  run_reset (second, failed, 1, 1, &done, &error);
  g_assert_error (error, PK_ERROR, PK_ERROR_COOLDOWN);
  g_assert_null (done);
  unbind = read_driver_file (f, "unbind");
  bind = read_driver_file (f, "bind");
  g_assert_cmpstr (unbind, ==, "");
  g_assert_cmpstr (bind, ==, "");

  /* an interval of 0: due again */
  g_clear_error (&error);
  pk_usb_controller_reset_set_interval (second, 0);
  run_reset (second, failed, 1, 1, &done, &error);
  g_assert_no_error (error);
  g_assert_nonnull (done);
}

static void
test_controller_reset_guard_rails (Fixture       *f,
                                   gconstpointer  data)
{
  g_autoptr(PkStateStore) store = pk_state_store_new (f->state_dir);
  g_autoptr(PkUsbControllerReset) reset = pk_usb_controller_reset_new (store);
  g_autoptr(PkDongle) dongle = make_dongle (f, 11, f->dongle);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) done = NULL;
  g_autofree char *unbind = NULL;
  g_autofree char *record = NULL;
  PkDongle *failed[] = { dongle };

  make_driver_files (f);
  /* not allowed by default */
  run_reset (reset, failed, 1, 1, &done, &error);
  g_assert_error (error, PK_ERROR, PK_ERROR_NOT_ALLOWED);
  g_assert_nonnull (strstr (error->message, "allow-controller-reset"));
  g_clear_error (&error);

  /* allowed, but 1 of 2 failed: below 70 % */
  pk_usb_controller_reset_set_allowed (reset, TRUE);
  run_reset (reset, failed, 1, 2, &done, &error);
  g_assert_error (error, PK_ERROR, PK_ERROR_NOT_ALLOWED);
  g_assert_nonnull (strstr (error->message, "1 of 2"));

  unbind = read_driver_file (f, "unbind");
  g_assert_cmpstr (unbind, ==, "");
  record = pk_state_store_load_document (store, PK_USB_CONTROLLER_RESET_DOCUMENT, NULL);
  g_assert_null (record);
  g_assert_cmpuint (pk_usb_controller_reset_get_remaining (reset), ==, 0);
}

int
main (int    argc,
      char **argv)
{
  if (strstr (g_getenv ("LD_PRELOAD") ? g_getenv ("LD_PRELOAD") : "", "libumockdev-preload") == NULL)
    {
      g_print ("1..0 # SKIP not under umockdev-wrapper (LD_PRELOAD=libumockdev-preload.so.0)\n");
      return 0;
    }
  pk_test_init (&argc, &argv);

#define ADD(path, fn, with_disable) \
  g_test_add (path, Fixture, GINT_TO_POINTER (with_disable), setup, fn, teardown)
  ADD ("/usb-power/request/switch", test_request_switch, FALSE);
  ADD ("/usb-power/request/hub-missing", test_request_hub_missing, FALSE);
  ADD ("/usb-power/sysfs/preferred", test_sysfs_preferred, TRUE);
  ADD ("/usb-power/port-power/cycle", test_port_power_cycle, FALSE);
  ADD ("/usb-power/port-power/cycle-cancelled", test_port_power_cycle_cancelled, FALSE);
  ADD ("/usb-power/port-power/locked", test_port_power_locked, FALSE);
  ADD ("/usb-power/port-power/run-all", test_port_power_run_all, FALSE);
  ADD ("/usb-power/controller/found", test_controller_found, FALSE);
  ADD ("/usb-power/controller/reset", test_controller_reset, FALSE);
  ADD ("/usb-power/controller/rate-limited", test_controller_reset_rate_limited, FALSE);
  ADD ("/usb-power/controller/guard-rails", test_controller_reset_guard_rails, FALSE);
#undef ADD
  return g_test_run ();
}
