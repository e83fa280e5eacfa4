/* pk-util.c: helpers shared inside the library
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pk-config.h"
#include "pk-error.h"
#include "pk-util-private.h"

void
pk_inet_address_list_free (gpointer list)
{
  g_list_free_full (list, g_object_unref);
}

/**
 * pk_parse_uint:
 * @str: text such as `"42"` (white space around it is allowed)
 * @min: the smallest value allowed
 * @max: the largest value allowed
 * @out: (out): the value
 * @error: return location for a `GError`
 *
 * Parses a whole number in decimal, the way every proxykit setting is
 * read, so that a flag and a config key accept the same text.
 *
 * Returns: %TRUE, or %FALSE with @error set (%PK_ERROR_INVALID_ARGUMENT,
 *   quoting @str and the range)
 *
 * Since: 0.1
 */
gboolean
pk_parse_uint (const char  *str,
               guint64      min,
               guint64      max,
               guint64     *out,
               GError     **error)
{
  g_autofree char *copy = str ? g_strstrip (g_strdup (str)) : NULL;
  guint64 value;

  if (copy == NULL || !g_ascii_string_to_unsigned (copy, 10, min, max, &value, NULL))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                   "'%s' is not a whole number from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT,
                   str ? str : "", min, max);
      return FALSE;
    }

  *out = value;
  return TRUE;
}

gboolean
pk_parse_host_port (const char  *str,
                    guint16      default_port,
                    char       **host,
                    guint16     *port,
                    GError     **error)
{
  const char *colon;
  g_autofree char *h = NULL;
  guint64 p = default_port;

  if (str == NULL || *str == '\0')
    {
      g_set_error_literal (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                           "empty address: expected HOST:PORT");
      return FALSE;
    }

  if (str[0] == '[')
    {
      const char *end = strchr (str, ']');

      if (end == NULL)
        goto bad;
      h = g_strndup (str + 1, end - str - 1);
      if (end[1] == ':')
        colon = end + 1;
      else if (end[1] == '\0')
        colon = NULL;
      else
        goto bad;
    }
  else
    {
      colon = strrchr (str, ':');
      /* More than one colon and no brackets: a bare IPv6 address. */
      if (colon != NULL && strchr (str, ':') != colon)
        colon = NULL;
      h = colon ? g_strndup (str, colon - str) : g_strdup (str);
    }

  if (colon != NULL)
    {
      if (!g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &p, NULL))
        {
          g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                       "'%s': port '%s' is not a number from 1 to 65535", str, colon + 1);
          return FALSE;
        }
    }
  else if (default_port == 0)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                   "'%s' has no port: expected HOST:PORT", str);
      return FALSE;
    }

  if (*h == '\0')
    goto bad;

  *host = g_steal_pointer (&h);
  *port = (guint16) p;
  return TRUE;

bad:
  g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
               "'%s' is not an address of the form HOST:PORT or [IPv6]:PORT", str);
  return FALSE;
}

GSocketAddress *
pk_parse_socket_address (const char  *str,
                         guint16      default_port,
                         GError     **error)
{
  g_autofree char *host = NULL;
  guint16 port;
  g_autoptr(GInetAddress) addr = NULL;

  if (!pk_parse_host_port (str, default_port, &host, &port, error))
    return NULL;

  addr = g_inet_address_new_from_string (host);
  if (addr == NULL)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                   "'%s': '%s' is not an IPv4 or IPv6 address", str, host);
      return NULL;
    }

  return g_inet_socket_address_new (addr, port);
}

/* Like pk_parse_socket_address(), for a listener: port 0 (any free port)
 * is fine, though not for a destination. */
GSocketAddress *
pk_parse_listen_address (const char  *str,
                         guint16      default_port,
                         GError     **error)
{
  if (str != NULL && g_str_has_suffix (str, ":0") && strlen (str) > 2)
    {
      g_autofree char *host = g_strndup (str, strlen (str) - 2);
      g_autoptr(GSocketAddress) with_port = pk_parse_socket_address (host, 1, error);

      if (with_port == NULL)
        return NULL;
      return g_inet_socket_address_new (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (with_port)), 0);
    }
  return pk_parse_socket_address (str, default_port, error);
}

/**
 * pk_parse_duration_ms:
 * @str: a number of seconds (`"30"`, `"1.5"`) or a number with a unit:
 *   `ms`, `s`, `m` (or `min`), `h`
 * @out_ms: (out): the duration in milliseconds
 * @error: return location for a `GError`
 *
 * Parses a duration, the way every proxykit setting is read, so that a
 * flag, an environment variable and a config key accept the same text.
 *
 * Returns: %TRUE, or %FALSE with @error set (%PK_ERROR_INVALID_ARGUMENT,
 *   quoting @str with examples)
 *
 * Since: 0.1
 */
gboolean
pk_parse_duration_ms (const char  *str,
                      guint64     *out_ms,
                      GError     **error)
{
  g_autofree char *copy = NULL;
  char *end = NULL;
  double value;
  double scale = 1000.0;

  if (str == NULL)
    goto bad;

  copy = g_strstrip (g_strdup (str));
  if (*copy == '\0' || *copy == '-' || *copy == '+')
    goto bad;

  errno = 0;
  value = g_ascii_strtod (copy, &end);
  if (errno != 0 || end == copy || value < 0)
    goto bad;

  if (*end == '\0' || g_str_equal (end, "s"))
    scale = 1000.0;
  else if (g_str_equal (end, "ms"))
    scale = 1.0;
  else if (g_str_equal (end, "m") || g_str_equal (end, "min"))
    scale = 60000.0;
  else if (g_str_equal (end, "h"))
    scale = 3600000.0;
  else
    goto bad;

  if (value * scale > (double) G_MAXUINT32 * 1000.0)
    goto bad;

  *out_ms = (guint64) (value * scale + 0.5);
  return TRUE;

bad:
  g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
               "'%s' is not a duration (examples: 30, 30s, 500ms, 2m, 1h)", str ? str : "");
  return FALSE;
}

gboolean
pk_cidr_list_add (GPtrArray   *list,
                  const char  *cidr,
                  GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  GInetAddressMask *mask;

  mask = g_inet_address_mask_new_from_string (cidr, &local_error);
  if (mask == NULL)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                   "'%s' is not an address or CIDR (examples: 10.0.0.0/8, 192.168.1.5, ::1/128)",
                   cidr);
      return FALSE;
    }

  g_ptr_array_add (list, mask);
  return TRUE;
}

GPtrArray *
pk_parse_cidr_list (const char  *str,
                    GError     **error)
{
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func (g_object_unref);
  g_auto(GStrv) parts = NULL;

  if (str == NULL)
    return g_steal_pointer (&list);

  parts = g_strsplit_set (str, ", \t\n", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      if (*parts[i] == '\0')
        continue;
      if (!pk_cidr_list_add (list, parts[i], error))
        return NULL;
    }

  return g_steal_pointer (&list);
}

GInetAddress *
pk_inet_address_unmap (GInetAddress *address)
{
  if (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV6)
    {
      const guint8 *bytes = g_inet_address_to_bytes (address);
      static const guint8 prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

      if (memcmp (bytes, prefix, sizeof prefix) == 0)
        return g_inet_address_new_from_bytes (bytes + 12, G_SOCKET_FAMILY_IPV4);
    }

  return g_object_ref (address);
}

gboolean
pk_cidr_list_matches (GPtrArray    *list,
                      GInetAddress *address)
{
  g_autoptr(GInetAddress) plain = NULL;

  if (list == NULL)
    return FALSE;

  plain = pk_inet_address_unmap (address);
  for (guint i = 0; i < list->len; i++)
    {
      GInetAddressMask *mask = g_ptr_array_index (list, i);

      if (g_inet_address_mask_get_family (mask) == g_inet_address_get_family (plain) &&
          g_inet_address_mask_matches (mask, plain))
        return TRUE;
    }

  return FALSE;
}

gboolean
pk_sockaddr_from_socket_address (PkSockaddr     *native,
                                 GSocketAddress *address)
{
  gssize len = g_socket_address_get_native_size (address);

  if (len <= 0 || (gsize) len > sizeof native->storage ||
      !g_socket_address_to_native (address, &native->storage, sizeof native->storage, NULL))
    return FALSE;
  native->len = len;
  return TRUE;
}

GSocketAddress *
pk_sockaddr_to_socket_address (const PkSockaddr *native)
{
  if (native->sa.sa_family != AF_INET && native->sa.sa_family != AF_INET6)
    return NULL;
  return g_socket_address_new_from_native ((gpointer) &native->storage, native->len);
}

void
pk_sockaddr_unmap (PkSockaddr *native)
{
  static const guint8 prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  guint16 port;
  guint8 v4[4];

  if (native->sa.sa_family != AF_INET6 || memcmp (&native->in6.sin6_addr, prefix, sizeof prefix) != 0)
    return;
  port = native->in6.sin6_port;
  memcpy (v4, (guint8 *) &native->in6.sin6_addr + 12, 4);
  memset (native, 0, sizeof *native);
  native->in.sin_family = AF_INET;
  native->in.sin_port = port;
  memcpy (&native->in.sin_addr, v4, 4);
  native->len = sizeof native->in;
}

char *
pk_format_sockaddr (const PkSockaddr *native)
{
  char host[INET6_ADDRSTRLEN];

  switch (native->sa.sa_family)
    {
    case AF_INET:
      inet_ntop (AF_INET, &native->in.sin_addr, host, sizeof host);
      return g_strdup_printf ("%s:%u", host, ntohs (native->in.sin_port));
    case AF_INET6:
      inet_ntop (AF_INET6, &native->in6.sin6_addr, host, sizeof host);
      return g_strdup_printf ("[%s]:%u", host, ntohs (native->in6.sin6_port));
    default:
      return g_strdup ("?");
    }
}

char *
pk_format_socket_address (GSocketAddress *address)
{
  PkSockaddr native;

  if (!G_IS_INET_SOCKET_ADDRESS (address) || !pk_sockaddr_from_socket_address (&native, address))
    return g_strdup ("?");
  return pk_format_sockaddr (&native);
}

void
pk_socket_set_nodelay (int fd)
{
  int one = 1;

  (void) setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static GQuark
peer_address_quark (void)
{
  static gsize quark = 0;

  if (g_once_init_enter (&quark))
    g_once_init_leave (&quark, g_quark_from_static_string ("pk-socket-peer"));
  return (GQuark) quark;
}

static gboolean
connect_error (const PkSockaddr  *address,
               int                errsv,
               GError           **error)
{
  g_autofree char *dest = pk_format_sockaddr (address);

  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
               "connect to %s: %s", dest, g_strerror (errsv));
  return FALSE;
}

gboolean
pk_fd_connect (int               fd,
               const PkSockaddr *address,
               gboolean         *in_progress,
               GError          **error)
{
  *in_progress = FALSE;
  if (connect (fd, &address->sa, address->len) == 0)
    return TRUE;
  /* EINTR: the connect goes on in the background, as with EINPROGRESS. */
  if (errno == EINPROGRESS || errno == EINTR)
    {
      *in_progress = TRUE;
      return TRUE;
    }
  return connect_error (address, errno, error);
}

gboolean
pk_fd_connect_finish (int               fd,
                      GIOCondition      condition,
                      const PkSockaddr *address,
                      GError          **error)
{
  int value = 0;
  socklen_t len = sizeof value;

  /* Writable and nothing else: connected (a failed connect reports
   * EPOLLERR and EPOLLHUP with EPOLLOUT). */
  if ((condition & G_IO_OUT) && !(condition & (G_IO_ERR | G_IO_HUP)))
    return TRUE;
  if (getsockopt (fd, SOL_SOCKET, SO_ERROR, &value, &len) < 0)
    value = errno;
  /* No error recorded: connected, and already closed again by the peer,
   * which the first read will tell. */
  if (value == 0)
    return TRUE;
  return connect_error (address, value, error);
}

GSocket *
pk_socket_new_accepted (int                fd,
                        const PkSockaddr  *peer,
                        GError           **error)
{
  GSocket *client;
  GSocketAddress *address;

  client = g_socket_new_from_fd (fd, error);
  if (client == NULL)
    {
      close (fd);
      return NULL;
    }
  /* GLib's sockets are always non-blocking underneath; this is its flag
   * for the blocking calls of the GSocket API. */
  g_socket_set_blocking (client, FALSE);

  address = pk_sockaddr_to_socket_address (peer);
  if (address != NULL)
    g_object_set_qdata_full (G_OBJECT (client), peer_address_quark (), address, g_object_unref);
  return client;
}

GSocketAddress *
pk_socket_dup_peer_address (GSocket  *socket,
                            GError  **error)
{
  GSocketAddress *peer = g_object_get_qdata (G_OBJECT (socket), peer_address_quark ());

  if (peer != NULL)
    return g_object_ref (peer);
  return g_socket_get_remote_address (socket, error);
}

gboolean
pk_socket_address_is_loopback (GSocketAddress *address)
{
  return G_IS_INET_SOCKET_ADDRESS (address) &&
         g_inet_address_get_is_loopback (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address)));
}

gboolean
pk_log_limit_due (PkLogLimit *limit,
                  gint64      interval_us,
                  guint64    *count)
{
  gint64 now = g_get_monotonic_time ();

  limit->pending++;
  if (limit->last_us != 0 && now - limit->last_us < interval_us)
    return FALSE;
  *count = limit->pending;
  limit->last_us = now;
  limit->pending = 0;
  return TRUE;
}

guint64
pk_fd_soft_limit (void)
{
  struct rlimit rl;

  if (getrlimit (RLIMIT_NOFILE, &rl) < 0)
    return 1024;
  return rl.rlim_cur == RLIM_INFINITY ? G_MAXUINT64 : (guint64) rl.rlim_cur;
}

GSource *
pk_timeout_source_attach (GMainContext *context,
                          guint         ms,
                          GSourceFunc   func,
                          gpointer      data)
{
  GSource *source = g_timeout_source_new (ms);

  g_source_set_callback (source, func, data, NULL);
  g_source_attach (source, context != NULL ? context : g_main_context_get_thread_default ());
  return source;
}

void
pk_source_clear (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}
