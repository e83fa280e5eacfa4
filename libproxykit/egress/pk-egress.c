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

/* --- for the resolve and connect halves --- */

GSocketFamily
pk_egress_get_family (PkEgress *self)
{
  if (self->inet_address == NULL)
    return G_SOCKET_FAMILY_INVALID;
  return g_inet_address_get_family (self->inet_address);
}

GPtrArray *
pk_egress_get_nameserver_addresses (PkEgress *self)
{
  return self->nameserver_addresses;
}
