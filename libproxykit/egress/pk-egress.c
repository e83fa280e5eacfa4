/* pk-egress.c: how an outbound socket leaves the host
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkEgress:
 *
 * Says how an outbound connection leaves the host: its source address, the
 * interface it is bound to (`SO_BINDTODEVICE`), a firewall mark (`SO_MARK`)
 * for policy routing and the IP TTL.
 *
 * With [property@Egress:nameservers] set, names are resolved by asking those
 * nameservers through the egress itself (so that a dongle's DNS goes out
 * through the dongle) instead of through the system resolver.
 *
 * Everything in libproxykit that dials out (SOCKS CONNECT, relay upstreams,
 * probes, startup checks) dials through an egress, so that traffic meant for
 * a dongle or a tunnel never falls back to the default route: when the
 * egress cannot be applied, the connection fails with %PK_ERROR_EGRESS and
 * a message that names the egress.
 *
 * ```c
 * g_autoptr(GError) error = NULL;
 * g_autoptr(PkEgress) egress = pk_egress_new_full ("192.168.11.100", NULL, 0, 0, &error);
 *
 * pk_egress_connect_to_host_async (egress, "example.org", 443, 30000,
 *                                  NULL, on_connected, data);
 * ```
 *
 * Since: 0.1
 */

#include "config.h"

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pk-dns-private.h"
#include "pk-poller-private.h"
#include "pk-egress.h"
#include "pk-egress-private.h"
#include "pk-error.h"
#include "pk-util-private.h"

struct _PkEgress
{
  GObject parent_instance;

  char *address;
  GInetAddress *inet_address;
  PkSockaddr source;                 /* inet_address, port 0: what bind() takes */
  char *interface;
  guint32 fwmark;
  guint ttl;
  char **nameservers;
  GPtrArray *nameserver_addresses;   /* GInetSocketAddress; NULL: the system resolver */
};

G_DEFINE_FINAL_TYPE (PkEgress, pk_egress, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ADDRESS,
  PROP_INTERFACE,
  PROP_FWMARK,
  PROP_TTL,
  PROP_NAMESERVERS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
pk_egress_finalize (GObject *object)
{
  PkEgress *self = PK_EGRESS (object);

  g_clear_pointer (&self->address, g_free);
  g_clear_object (&self->inet_address);
  g_clear_pointer (&self->interface, g_free);
  g_clear_pointer (&self->nameservers, g_strfreev);
  g_clear_pointer (&self->nameserver_addresses, g_ptr_array_unref);

  G_OBJECT_CLASS (pk_egress_parent_class)->finalize (object);
}

static void
pk_egress_get_property (GObject    *object,
                        guint       prop_id,
                        GValue     *value,
                        GParamSpec *pspec)
{
  PkEgress *self = PK_EGRESS (object);

  switch (prop_id)
    {
    case PROP_ADDRESS:
      g_value_set_string (value, self->address);
      break;
    case PROP_INTERFACE:
      g_value_set_string (value, self->interface);
      break;
    case PROP_FWMARK:
      g_value_set_uint (value, self->fwmark);
      break;
    case PROP_TTL:
      g_value_set_uint (value, self->ttl);
      break;
    case PROP_NAMESERVERS:
      g_value_set_boxed (value, self->nameservers);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_egress_set_property (GObject      *object,
                        guint         prop_id,
                        const GValue *value,
                        GParamSpec   *pspec)
{
  PkEgress *self = PK_EGRESS (object);
  g_autoptr(GError) error = NULL;

  switch (prop_id)
    {
    case PROP_ADDRESS:
      if (!pk_egress_set_address (self, g_value_get_string (value), &error))
        g_critical ("%s", error->message);
      break;
    case PROP_INTERFACE:
      pk_egress_set_interface (self, g_value_get_string (value));
      break;
    case PROP_FWMARK:
      pk_egress_set_fwmark (self, g_value_get_uint (value));
      break;
    case PROP_TTL:
      pk_egress_set_ttl (self, g_value_get_uint (value));
      break;
    case PROP_NAMESERVERS:
      if (!pk_egress_set_nameservers (self, g_value_get_boxed (value), &error))
        g_critical ("%s", error->message);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_egress_class_init (PkEgressClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = pk_egress_finalize;
  object_class->get_property = pk_egress_get_property;
  object_class->set_property = pk_egress_set_property;

  /**
   * PkEgress:address:
   *
   * The source address of outbound sockets, or %NULL for the kernel's
   * choice.
   *
   * Since: 0.1
   */
  properties[PROP_ADDRESS] =
    g_param_spec_string ("address", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * PkEgress:interface:
   *
   * The interface outbound sockets are bound to with `SO_BINDTODEVICE`,
   * or %NULL for none.
   *
   * Since: 0.1
   */
  properties[PROP_INTERFACE] =
    g_param_spec_string ("interface", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * PkEgress:fwmark:
   *
   * The firewall mark (`SO_MARK`) of outbound sockets, 0 for none.
   *
   * Since: 0.1
   */
  properties[PROP_FWMARK] =
    g_param_spec_uint ("fwmark", NULL, NULL, 0, G_MAXUINT32, 0,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * PkEgress:ttl:
   *
   * The IP TTL (IPv6 hop limit) of outbound packets, 0 for the system
   * default.
   *
   * Since: 0.1
   */
  properties[PROP_TTL] =
    g_param_spec_uint ("ttl", NULL, NULL, 0, 255, 0,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * PkEgress:nameservers:
   *
   * The nameservers that resolve names for this egress ("192.168.8.1",
   * "[fd00::1]:5353"), asked through the egress itself so that a dongle's
   * DNS goes out through the dongle; %NULL or empty for the system
   * resolver.
   *
   * Since: 0.1
   */
  properties[PROP_NAMESERVERS] =
    g_param_spec_boxed ("nameservers", NULL, NULL, G_TYPE_STRV,
                        G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
pk_egress_init (PkEgress *self)
{
}

/**
 * pk_egress_new:
 *
 * Creates an egress that changes nothing: sockets leave by the default
 * route with the kernel's choice of source address.
 *
 * Returns: (transfer full): a new [class@Egress]
 *
 * Since: 0.1
 */
PkEgress *
pk_egress_new (void)
{
  return g_object_new (PK_TYPE_EGRESS, NULL);
}

/**
 * pk_egress_new_full:
 * @address: (nullable): source address, IPv4 or IPv6
 * @interface: (nullable): interface name for `SO_BINDTODEVICE`
 * @fwmark: firewall mark, 0 for none
 * @ttl: IP TTL, 0 for the default
 * @error: return location for a `GError`
 *
 * Creates an egress and checks its values.
 *
 * Returns: (transfer full) (nullable): a new [class@Egress], or %NULL with
 *   @error set if @address is not an IP address or @interface is not a
 *   valid interface name
 *
 * Since: 0.1
 */
PkEgress *
pk_egress_new_full (const char  *address,
                    const char  *interface,
                    guint32      fwmark,
                    guint        ttl,
                    GError     **error)
{
  g_autoptr(PkEgress) self = pk_egress_new ();

  g_return_val_if_fail (ttl <= 255, NULL);

  if (!pk_egress_set_address (self, address, error))
    return NULL;

  if (interface != NULL && (*interface == '\0' || strlen (interface) >= IFNAMSIZ ||
                            strchr (interface, '/') != NULL || g_ascii_isspace (*interface)))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                   "egress interface '%s' is not a valid interface name", interface);
      return NULL;
    }

  pk_egress_set_interface (self, interface);
  pk_egress_set_fwmark (self, fwmark);
  pk_egress_set_ttl (self, ttl);

  return g_steal_pointer (&self);
}

/**
 * pk_egress_get_address:
 * @self: a [class@Egress]
 *
 * Gets the source address, or %NULL.
 *
 * Returns: (nullable): the source address, or %NULL
 *
 * Since: 0.1
 */
const char *
pk_egress_get_address (PkEgress *self)
{
  g_return_val_if_fail (PK_IS_EGRESS (self), NULL);

  return self->address;
}

/**
 * pk_egress_set_address:
 * @self: a [class@Egress]
 * @address: (nullable): an IPv4 or IPv6 address, or %NULL
 * @error: return location for a `GError`
 *
 * Sets the source address of outbound sockets.
 *
 * Returns: %TRUE, or %FALSE with @error set if @address is not an IP address
 *
 * Since: 0.1
 */
gboolean
pk_egress_set_address (PkEgress    *self,
                       const char  *address,
                       GError     **error)
{
  g_autoptr(GInetAddress) inet = NULL;

  g_return_val_if_fail (PK_IS_EGRESS (self), FALSE);

  if (address != NULL && *address == '\0')
    address = NULL;

  if (g_strcmp0 (address, self->address) == 0)
    return TRUE;

  if (address != NULL)
    {
      inet = g_inet_address_new_from_string (address);
      if (inet == NULL)
        {
          g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                       "egress address '%s' is not an IPv4 or IPv6 address", address);
          return FALSE;
        }
    }

  g_free (self->address);
  self->address = g_strdup (address);
  g_set_object (&self->inet_address, inet);
  if (inet != NULL)
    {
      g_autoptr(GSocketAddress) source = g_inet_socket_address_new (inet, 0);

      if (!pk_sockaddr_from_socket_address (&self->source, source))
        g_assert_not_reached ();
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ADDRESS]);

  return TRUE;
}

/**
 * pk_egress_get_interface:
 * @self: a [class@Egress]
 *
 * Gets the interface name, or %NULL.
 *
 * Returns: (nullable): the interface name, or %NULL
 *
 * Since: 0.1
 */
const char *
pk_egress_get_interface (PkEgress *self)
{
  g_return_val_if_fail (PK_IS_EGRESS (self), NULL);

  return self->interface;
}

/**
 * pk_egress_set_interface:
 * @self: a [class@Egress]
 * @interface: (nullable): an interface name, or %NULL
 *
 * Sets the interface outbound sockets are bound to.
 *
 * Since: 0.1
 */
void
pk_egress_set_interface (PkEgress   *self,
                         const char *interface)
{
  g_return_if_fail (PK_IS_EGRESS (self));

  if (interface != NULL && *interface == '\0')
    interface = NULL;

  if (g_strcmp0 (self->interface, interface) == 0)
    return;

  g_free (self->interface);
  self->interface = g_strdup (interface);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_INTERFACE]);
}

/**
 * pk_egress_get_fwmark:
 * @self: a [class@Egress]
 *
 * Gets the firewall mark, 0 for none.
 *
 * Returns: the firewall mark, 0 for none
 *
 * Since: 0.1
 */
guint32
pk_egress_get_fwmark (PkEgress *self)
{
  g_return_val_if_fail (PK_IS_EGRESS (self), 0);

  return self->fwmark;
}

/**
 * pk_egress_set_fwmark:
 * @self: a [class@Egress]
 * @fwmark: the firewall mark, 0 for none
 *
 * Sets the `SO_MARK` of outbound sockets.
 *
 * Since: 0.1
 */
void
pk_egress_set_fwmark (PkEgress *self,
                      guint32   fwmark)
{
  g_return_if_fail (PK_IS_EGRESS (self));

  if (self->fwmark == fwmark)
    return;

  self->fwmark = fwmark;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FWMARK]);
}

/**
 * pk_egress_get_ttl:
 * @self: a [class@Egress]
 *
 * Gets the IP TTL, 0 for the system default.
 *
 * Returns: the IP TTL, 0 for the system default
 *
 * Since: 0.1
 */
guint
pk_egress_get_ttl (PkEgress *self)
{
  g_return_val_if_fail (PK_IS_EGRESS (self), 0);

  return self->ttl;
}

/**
 * pk_egress_set_ttl:
 * @self: a [class@Egress]
 * @ttl: the IP TTL from 1 to 255, 0 for the system default
 *
 * Sets the TTL (IPv6 hop limit) of outbound packets.
 *
 * Since: 0.1
 */
void
pk_egress_set_ttl (PkEgress *self,
                   guint     ttl)
{
  g_return_if_fail (PK_IS_EGRESS (self));
  g_return_if_fail (ttl <= 255);

  if (self->ttl == ttl)
    return;

  self->ttl = ttl;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TTL]);
}

/**
 * pk_egress_get_nameservers:
 * @self: a [class@Egress]
 *
 * Gets the nameservers, or %NULL for the system resolver.
 *
 * Returns: (nullable) (transfer none) (array zero-terminated=1): the
 *   nameservers, or %NULL for the system resolver
 *
 * Since: 0.1
 */
const char * const *
pk_egress_get_nameservers (PkEgress *self)
{
  g_return_val_if_fail (PK_IS_EGRESS (self), NULL);

  return (const char * const *) self->nameservers;
}

/**
 * pk_egress_set_nameservers:
 * @self: a [class@Egress]
 * @nameservers: (nullable) (array zero-terminated=1): IP addresses with an
 *   optional port ("192.168.8.1", "192.168.8.1:53", "[fd00::1]:53"), or
 *   %NULL for the system resolver
 * @error: return location for a `GError`
 *
 * Sets the nameservers that [method@Egress.resolve_async] asks, through this
 * egress, instead of the system resolver.
 *
 * Returns: %TRUE, or %FALSE with @error set if an entry is not an IP
 *   address with an optional port
 *
 * Since: 0.1
 */
gboolean
pk_egress_set_nameservers (PkEgress            *self,
                           const char * const  *nameservers,
                           GError             **error)
{
  g_autoptr(GPtrArray) addresses = NULL;

  g_return_val_if_fail (PK_IS_EGRESS (self), FALSE);

  if (nameservers != NULL && nameservers[0] == NULL)
    nameservers = NULL;

  if ((self->nameservers == NULL && nameservers == NULL) ||
      (self->nameservers != NULL && nameservers != NULL &&
       g_strv_equal ((const char * const *) self->nameservers, nameservers)))
    return TRUE;

  if (nameservers != NULL)
    {
      addresses = pk_dns_parse_nameservers (nameservers, error);
      if (addresses == NULL)
        return FALSE;
    }

  g_strfreev (self->nameservers);
  self->nameservers = g_strdupv ((char **) nameservers);
  g_clear_pointer (&self->nameserver_addresses, g_ptr_array_unref);
  self->nameserver_addresses = g_steal_pointer (&addresses);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NAMESERVERS]);

  return TRUE;
}

/**
 * pk_egress_is_default:
 * @self: a [class@Egress]
 *
 * Tells whether the egress changes nothing about outbound sockets.
 *
 * Returns: %TRUE if the egress changes nothing about outbound sockets
 *
 * Since: 0.1
 */
gboolean
pk_egress_is_default (PkEgress *self)
{
  g_return_val_if_fail (PK_IS_EGRESS (self), TRUE);

  return self->address == NULL && self->interface == NULL &&
         self->fwmark == 0 && self->ttl == 0;
}

/**
 * pk_egress_to_string:
 * @self: a [class@Egress]
 *
 * Describes the egress for logs, for example
 * `address=192.168.11.100 interface=eth1` or `default`.
 *
 * Returns: (transfer full): a description
 *
 * Since: 0.1
 */
char *
pk_egress_to_string (PkEgress *self)
{
  GString *str;

  g_return_val_if_fail (PK_IS_EGRESS (self), NULL);

  if (pk_egress_is_default (self))
    return g_strdup ("default");

  str = g_string_new (NULL);
  if (self->address != NULL)
    g_string_append_printf (str, "address=%s ", self->address);
  if (self->interface != NULL)
    g_string_append_printf (str, "interface=%s ", self->interface);
  if (self->fwmark != 0)
    g_string_append_printf (str, "fwmark=0x%x ", self->fwmark);
  if (self->ttl != 0)
    g_string_append_printf (str, "ttl=%u ", self->ttl);
  g_string_truncate (str, str->len - 1);

  return g_string_free (str, FALSE);
}

static gboolean
egress_error (PkEgress    *self,
              GError     **error,
              int          saved_errno,
              const char  *what)
{
  g_autofree char *desc = pk_egress_to_string (self);

  g_set_error (error, PK_ERROR, PK_ERROR_EGRESS,
               "egress %s: %s: %s", desc, what, g_strerror (saved_errno));
  return FALSE;
}

/**
 * pk_egress_prepare_socket:
 * @self: a [class@Egress]
 * @socket: an unconnected socket
 * @error: return location for a `GError`
 *
 * Applies the egress to @socket: binds it to the interface, sets the mark
 * and the TTL, and binds it to the source address (port 0). A source
 * address of another family than @socket is an error, since the socket
 * could only leave by another route.
 *
 * Returns: %TRUE, or %FALSE with @error set (%PK_ERROR_EGRESS)
 *
 * Since: 0.1
 */
gboolean
pk_egress_prepare_socket (PkEgress  *self,
                          GSocket   *socket,
                          GError   **error)
{
  g_return_val_if_fail (PK_IS_EGRESS (self), FALSE);
  g_return_val_if_fail (G_IS_SOCKET (socket), FALSE);

  return pk_egress_prepare_fd (self, g_socket_get_fd (socket), g_socket_get_family (socket),
                               g_socket_get_socket_type (socket), error);
}

gboolean
pk_egress_prepare_fd (PkEgress       *self,
                      int             fd,
                      GSocketFamily   family,
                      GSocketType     type,
                      GError        **error)
{
  if (self->interface != NULL &&
      setsockopt (fd, SOL_SOCKET, SO_BINDTODEVICE,
                  self->interface, strlen (self->interface) + 1) < 0)
    {
      int saved_errno = errno;
      g_autofree char *what = g_strdup_printf ("cannot bind to interface %s", self->interface);
      return egress_error (self, error, saved_errno, what);
    }

  if (self->fwmark != 0 &&
      setsockopt (fd, SOL_SOCKET, SO_MARK, &self->fwmark, sizeof self->fwmark) < 0)
    return egress_error (self, error, errno, "cannot set SO_MARK");

  if (self->ttl != 0)
    {
      int ttl = self->ttl;
      int r;

      if (family == G_SOCKET_FAMILY_IPV6)
        r = setsockopt (fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl);
      else
        r = setsockopt (fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
      if (r < 0)
        return egress_error (self, error, errno, "cannot set the TTL");
    }

  if (self->inet_address != NULL)
    {
      if (g_inet_address_get_family (self->inet_address) != family)
        {
          g_autofree char *desc = pk_egress_to_string (self);
          g_set_error (error, PK_ERROR, PK_ERROR_EGRESS,
                       "egress %s: source address is %s, destination is %s",
                       desc,
                       g_inet_address_get_family (self->inet_address) == G_SOCKET_FAMILY_IPV6 ? "IPv6" : "IPv4",
                       family == G_SOCKET_FAMILY_IPV6 ? "IPv6" : "IPv4");
          return FALSE;
        }

      /* The port is taken at connect time, not here: many sessions share
       * one source address, and IP_BIND_ADDRESS_NO_PORT keeps bind() from
       * reserving an ephemeral port per socket (a farm host runs out of
       * them otherwise). */
#ifdef IP_BIND_ADDRESS_NO_PORT
      if (type == G_SOCKET_TYPE_STREAM)
        {
          int one = 1;
          (void) setsockopt (fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        }
#endif

      if (bind (fd, &self->source.sa, self->source.len) < 0)
        {
          int saved_errno = errno;
          g_autofree char *what = g_strdup_printf ("cannot bind to source address %s",
                                                   self->address);
          return egress_error (self, error, saved_errno, what);
        }
    }

  return TRUE;
}

/**
 * pk_egress_create_socket:
 * @self: a [class@Egress]
 * @family: %G_SOCKET_FAMILY_IPV4 or %G_SOCKET_FAMILY_IPV6
 * @type: %G_SOCKET_TYPE_STREAM or %G_SOCKET_TYPE_DATAGRAM
 * @error: return location for a `GError`
 *
 * Creates a non-blocking socket with the egress applied to it.
 *
 * Returns: (transfer full) (nullable): the socket, or %NULL with @error set
 *
 * Since: 0.1
 */
GSocket *
pk_egress_create_socket (PkEgress       *self,
                         GSocketFamily   family,
                         GSocketType     type,
                         GError        **error)
{
  g_autoptr(GSocket) socket = NULL;

  g_return_val_if_fail (PK_IS_EGRESS (self), NULL);

  socket = g_socket_new (family, type, G_SOCKET_PROTOCOL_DEFAULT, error);
  if (socket == NULL)
    return NULL;

  g_socket_set_blocking (socket, FALSE);

  if (!pk_egress_prepare_socket (self, socket, error))
    return NULL;

  return g_steal_pointer (&socket);
}

int
pk_egress_open_fd (PkEgress       *self,
                   GSocketFamily   family,
                   GSocketType     type,
                   GError        **error)
{
  int fd;

  g_return_val_if_fail (PK_IS_EGRESS (self), -1);

  fd = socket (family, (type == G_SOCKET_TYPE_DATAGRAM ? SOCK_DGRAM : SOCK_STREAM) |
                       SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "Unable to create socket: %s", g_strerror (saved_errno));
      return -1;
    }
  if (!pk_egress_prepare_fd (self, fd, family, type, error))
    {
      close (fd);
      return -1;
    }
  return fd;
}

/* --- resolving --- */

typedef struct {
  char *host;
  GSource *timeout_source;
  GCancellable *lookup_cancellable;
  GCancellable *outer_cancellable;
  gulong cancelled_id;
  gboolean timed_out;
  guint timeout_ms;
} ResolveData;

static void
resolve_data_free (ResolveData *data)
{
  if (data->timeout_source != NULL)
    {
      g_source_destroy (data->timeout_source);
      g_source_unref (data->timeout_source);
    }
  if (data->outer_cancellable != NULL)
    {
      g_cancellable_disconnect (data->outer_cancellable, data->cancelled_id);
      g_object_unref (data->outer_cancellable);
    }
  g_clear_object (&data->lookup_cancellable);
  g_free (data->host);
  g_free (data);
}

static GSocketFamily
egress_family (PkEgress *self)
{
  if (self->inet_address == NULL)
    return G_SOCKET_FAMILY_INVALID;
  return g_inet_address_get_family (self->inet_address);
}

static void
resolve_complete (GTask  *task,
                  GList  *addresses,
                  GError *error)
{
  ResolveData *data = g_task_get_task_data (task);
  PkEgress *self = g_task_get_source_object (task);
  GList *usable = NULL;
  GSocketFamily family;

  if (addresses == NULL)
    {
      if (data->timed_out)
        g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                 "resolving '%s' timed out after %u ms",
                                 data->host, data->timeout_ms);
      else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
               g_error_matches (error, PK_ERROR, PK_ERROR_RESOLVE) ||
               g_error_matches (error, PK_ERROR, PK_ERROR_EGRESS))
        g_task_return_error (task, g_error_copy (error));
      else
        g_task_return_new_error (task, PK_ERROR, PK_ERROR_RESOLVE,
                                 "cannot resolve '%s': %s", data->host, error->message);
      return;
    }

  /* A source address pins the family: an IPv6 answer cannot leave
   * through an IPv4 egress, so it is not offered at all. */
  family = egress_family (self);
  for (GList *l = addresses; l != NULL; l = l->next)
    {
      GInetAddress *addr = l->data;

      if (family == G_SOCKET_FAMILY_INVALID || g_inet_address_get_family (addr) == family)
        usable = g_list_prepend (usable, g_object_ref (addr));
    }
  g_resolver_free_addresses (addresses);

  if (usable == NULL)
    {
      g_autofree char *desc = pk_egress_to_string (self);
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_EGRESS,
                               "'%s' has no %s address to reach through egress %s",
                               data->host, family == G_SOCKET_FAMILY_IPV6 ? "IPv6" : "IPv4", desc);
      return;
    }

  g_task_return_pointer (task, g_list_reverse (usable), pk_inet_address_list_free);
}

static void
resolve_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  GList *addresses;

  addresses = g_resolver_lookup_by_name_finish (G_RESOLVER (source), result, &error);
  resolve_complete (task, addresses, error);
}

static void
dns_resolve_done (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  GList *addresses;

  addresses = pk_dns_resolve_finish (result, &error);
  resolve_complete (task, addresses, error);
}

static gboolean
resolve_timeout_cb (gpointer user_data)
{
  ResolveData *data = user_data;

  data->timed_out = TRUE;
  g_cancellable_cancel (data->lookup_cancellable);

  return G_SOURCE_REMOVE;
}

static void
resolve_outer_cancelled (GCancellable *cancellable,
                         gpointer      user_data)
{
  GCancellable *lookup_cancellable = user_data;

  g_cancellable_cancel (lookup_cancellable);
}

/**
 * pk_egress_resolve_async:
 * @self: a [class@Egress]
 * @host: a host name or an IP address literal
 * @timeout_ms: timeout in milliseconds, 0 for none
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Resolves @host to the addresses that can be reached through this
 * egress (of its source address's family, when it has one). Names are
 * resolved off the calling thread; the callback runs in the thread-default
 * main context of the caller.
 *
 * Since: 0.1
 */
void
pk_egress_resolve_async (PkEgress            *self,
                         const char          *host,
                         guint                timeout_ms,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GInetAddress) literal = NULL;
  g_autoptr(GResolver) resolver = NULL;
  ResolveData *data;

  g_return_if_fail (PK_IS_EGRESS (self));
  g_return_if_fail (host != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_egress_resolve_async);

  literal = g_inet_address_new_from_string (host);
  if (literal != NULL)
    {
      GSocketFamily family = egress_family (self);

      if (family != G_SOCKET_FAMILY_INVALID && g_inet_address_get_family (literal) != family)
        {
          g_autofree char *desc = pk_egress_to_string (self);
          g_task_return_new_error (task, PK_ERROR, PK_ERROR_EGRESS,
                                   "%s cannot be reached through egress %s: address families differ",
                                   host, desc);
          return;
        }
      g_task_return_pointer (task, g_list_prepend (NULL, g_steal_pointer (&literal)),
                             pk_inet_address_list_free);
      return;
    }

  data = g_new0 (ResolveData, 1);
  data->host = g_strdup (host);
  data->timeout_ms = timeout_ms;
  data->lookup_cancellable = g_cancellable_new ();
  g_task_set_task_data (task, data, (GDestroyNotify) resolve_data_free);

  if (cancellable != NULL)
    {
      /* The lookup has its own cancellable so that the timeout can cancel
       * it without cancelling the caller's. */
      data->outer_cancellable = g_object_ref (cancellable);
      data->cancelled_id = g_cancellable_connect (cancellable, G_CALLBACK (resolve_outer_cancelled),
                                                  g_object_ref (data->lookup_cancellable),
                                                  g_object_unref);
    }

  if (timeout_ms > 0)
    {
      data->timeout_source = g_timeout_source_new (timeout_ms);
      g_source_set_callback (data->timeout_source, resolve_timeout_cb, data, NULL);
      g_source_set_static_name (data->timeout_source, "[proxykit] resolve timeout");
      g_source_attach (data->timeout_source, g_main_context_get_thread_default ());
    }

  if (self->nameserver_addresses != NULL)
    {
      /* A try gets two thirds of the time: a lost datagram still leaves
       * room for a second try, and when no answer comes at all, the
       * timeout above ends the lookup (as G_IO_ERROR_TIMED_OUT) before
       * the tries run out. */
      guint try_ms = timeout_ms > 0 ? CLAMP (timeout_ms / 3 * 2, 100, 2000) : 2000;

      pk_dns_resolve_async (self, self->nameserver_addresses, host, egress_family (self),
                            try_ms, data->lookup_cancellable,
                            dns_resolve_done, g_object_ref (task));
      return;
    }

  resolver = g_resolver_get_default ();
  g_resolver_lookup_by_name_async (resolver, host, data->lookup_cancellable,
                                   resolve_done, g_object_ref (task));
}

/**
 * pk_egress_resolve_finish:
 * @self: a [class@Egress]
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Finishes [method@Egress.resolve_async].
 *
 * Returns: (transfer full) (element-type GInetAddress): the addresses, or
 *   %NULL with @error set: %PK_ERROR_RESOLVE, %PK_ERROR_EGRESS,
 *   %G_IO_ERROR_TIMED_OUT or %G_IO_ERROR_CANCELLED
 *
 * Since: 0.1
 */
GList *
pk_egress_resolve_finish (PkEgress      *self,
                          GAsyncResult  *result,
                          GError       **error)
{
  g_return_val_if_fail (PK_IS_EGRESS (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pk_egress_resolve_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* --- connecting --- */

typedef struct {
  GSocket *socket;
  GSocketAddress *address;
  PkPollerWatch *watch;     /* writability, the timeout and cancellation */
  guint timeout_ms;
} ConnectData;

static void
connect_data_free (ConnectData *data)
{
  g_clear_pointer (&data->watch, pk_poller_watch_destroy);
  g_clear_object (&data->socket);
  g_clear_object (&data->address);
  g_free (data);
}

static char *
describe_address (GSocketAddress *address)
{
  return g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (address));
}

/* The watch holds the task's reference until it fires. */
static GTask *
connect_stop (ConnectData *data,
              GTask       *task)
{
  g_clear_pointer (&data->watch, pk_poller_watch_destroy);
  return task;
}

/* The socket is writable (connected or failed), the timeout passed
 * (@slot -1), or the connect was cancelled. */
static void
connect_watch_cb (PkPollerWatch *watch,
                  int            slot,
                  GIOCondition   condition,
                  gpointer       user_data)
{
  g_autoptr(GTask) task = user_data;
  ConnectData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autofree char *dest = NULL;

  connect_stop (data, task);

  /* PK_POLLER_CANCELLED, or cancelled while the socket became ready. */
  if (g_task_return_error_if_cancelled (task))
    return;

  if (slot == -1)
    {
      dest = describe_address (data->address);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                               "connect to %s timed out after %u ms", dest, data->timeout_ms);
      return;
    }

  if (!g_socket_check_connect_result (data->socket, &error))
    {
      dest = describe_address (data->address);
      g_prefix_error (&error, "connect to %s: ", dest);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  g_task_return_pointer (task, g_steal_pointer (&data->socket), g_object_unref);
}

/**
 * pk_egress_connect_async:
 * @self: a [class@Egress]
 * @address: the destination
 * @timeout_ms: timeout in milliseconds, 0 for none
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Opens a TCP connection to @address through this egress. The socket is
 * non-blocking and never leaves by another route than the egress allows.
 *
 * Since: 0.1
 */
void
pk_egress_connect_async (PkEgress            *self,
                         GSocketAddress      *address,
                         guint                timeout_ms,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  ConnectData *data;

  g_return_if_fail (PK_IS_EGRESS (self));
  g_return_if_fail (G_IS_INET_SOCKET_ADDRESS (address));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_egress_connect_async);

  data = g_new0 (ConnectData, 1);
  data->address = g_object_ref (address);
  data->timeout_ms = timeout_ms;
  g_task_set_task_data (task, data, (GDestroyNotify) connect_data_free);

  data->socket = pk_egress_create_socket (self, g_socket_address_get_family (address),
                                          G_SOCKET_TYPE_STREAM, &error);
  if (data->socket == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (g_socket_connect (data->socket, address, NULL, &error))
    {
      g_task_return_pointer (task, g_steal_pointer (&data->socket), g_object_unref);
      return;
    }

  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PENDING))
    {
      g_autofree char *dest = describe_address (address);
      g_prefix_error (&error, "connect to %s: ", dest);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  /* The socket, the timeout and cancellation in the context's poller:
   * see pk-poller-private.h. */
  data->watch = pk_poller_watch_new (pk_poller_get_thread_default (), connect_watch_cb,
                                     g_object_ref (task));
  if (!pk_poller_watch_set_fd (data->watch, 0, g_socket_get_fd (data->socket), G_IO_OUT, &error))
    {
      g_object_unref (connect_stop (data, task));
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (timeout_ms > 0)
    pk_poller_watch_set_deadline (data->watch, g_get_monotonic_time () +
                                               (gint64) timeout_ms * G_TIME_SPAN_MILLISECOND);

  if (cancellable != NULL)
    pk_poller_watch_set_cancellable (data->watch, cancellable);
}

/**
 * pk_egress_connect_finish:
 * @self: a [class@Egress]
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Finishes [method@Egress.connect_async].
 *
 * Returns: (transfer full): the connected, non-blocking socket, or %NULL
 *   with @error set: GIO's errors for the connect itself
 *   (%G_IO_ERROR_CONNECTION_REFUSED, %G_IO_ERROR_NETWORK_UNREACHABLE,
 *   %G_IO_ERROR_HOST_UNREACHABLE, %G_IO_ERROR_TIMED_OUT), %PK_ERROR_EGRESS
 *   when the egress cannot be applied
 *
 * Since: 0.1
 */
GSocket *
pk_egress_connect_finish (PkEgress      *self,
                          GAsyncResult  *result,
                          GError       **error)
{
  g_return_val_if_fail (PK_IS_EGRESS (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pk_egress_connect_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

typedef struct {
  char *host;
  guint16 port;
  guint timeout_ms;
  gint64 deadline;
  GList *addresses;
  GList *next;
  GError *first_error;
} HostConnectData;

static void
host_connect_data_free (HostConnectData *data)
{
  g_free (data->host);
  pk_inet_address_list_free (data->addresses);
  g_clear_error (&data->first_error);
  g_free (data);
}

static void host_connect_try_next (GTask *task);

static void
host_connect_done (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  HostConnectData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  GSocket *socket;

  socket = pk_egress_connect_finish (PK_EGRESS (source), result, &error);
  if (socket != NULL)
    {
      g_task_return_pointer (task, socket, g_object_unref);
      return;
    }

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
      g_error_matches (error, PK_ERROR, PK_ERROR_EGRESS))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  /* The first address's error is the one to report: it is the address
   * the host prefers, and later ones tend to fail the same way. */
  if (data->first_error == NULL)
    data->first_error = g_steal_pointer (&error);

  host_connect_try_next (g_steal_pointer (&task));
}

static void
host_connect_try_next (GTask *task)
{
  HostConnectData *data = g_task_get_task_data (task);
  PkEgress *self = g_task_get_source_object (task);
  g_autoptr(GSocketAddress) address = NULL;
  guint timeout_ms = 0;

  if (data->next == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&data->first_error));
      g_object_unref (task);
      return;
    }

  if (data->deadline > 0)
    {
      gint64 left = (data->deadline - g_get_monotonic_time ()) / 1000;

      if (left <= 0)
        {
          if (data->first_error != NULL)
            g_task_return_error (task, g_steal_pointer (&data->first_error));
          else
            g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                     "connect to %s:%u timed out after %u ms",
                                     data->host, data->port, data->timeout_ms);
          g_object_unref (task);
          return;
        }
      timeout_ms = (guint) left;
    }

  address = g_inet_socket_address_new (data->next->data, data->port);
  data->next = data->next->next;

  pk_egress_connect_async (self, address, timeout_ms, g_task_get_cancellable (task),
                           host_connect_done, task);
}

static void
host_resolve_done (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  GTask *task = user_data;
  HostConnectData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  data->addresses = pk_egress_resolve_finish (PK_EGRESS (source), result, &error);
  if (data->addresses == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }

  data->next = data->addresses;
  host_connect_try_next (task);
}

/**
 * pk_egress_connect_to_host_async:
 * @self: a [class@Egress]
 * @host: a host name or an IP address literal
 * @port: the destination port
 * @timeout_ms: timeout in milliseconds for resolving and connecting
 *   together, 0 for none
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * Resolves @host (see [method@Egress.resolve_async]) and connects to its
 * addresses in turn until one answers or the time is up.
 *
 * Since: 0.1
 */
void
pk_egress_connect_to_host_async (PkEgress            *self,
                                 const char          *host,
                                 guint16              port,
                                 guint                timeout_ms,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  GTask *task;
  HostConnectData *data;

  g_return_if_fail (PK_IS_EGRESS (self));
  g_return_if_fail (host != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_egress_connect_to_host_async);

  data = g_new0 (HostConnectData, 1);
  data->host = g_strdup (host);
  data->port = port;
  data->timeout_ms = timeout_ms;
  if (timeout_ms > 0)
    data->deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  g_task_set_task_data (task, data, (GDestroyNotify) host_connect_data_free);

  pk_egress_resolve_async (self, host, timeout_ms, cancellable, host_resolve_done, task);
}

/**
 * pk_egress_connect_to_host_finish:
 * @self: a [class@Egress]
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Finishes [method@Egress.connect_to_host_async].
 *
 * Returns: (transfer full): the connected, non-blocking socket, or %NULL
 *   with @error set (see [method@Egress.connect_finish] and
 *   [method@Egress.resolve_finish])
 *
 * Since: 0.1
 */
GSocket *
pk_egress_connect_to_host_finish (PkEgress      *self,
                                  GAsyncResult  *result,
                                  GError       **error)
{
  g_return_val_if_fail (PK_IS_EGRESS (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pk_egress_connect_to_host_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
