/* pk-netif.c: interface and process state for probes and tunnels
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <signal.h>
#include <sys/types.h>

#include "pk-netif-private.h"

#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000
#endif

gboolean
pk_netif_is_up (const char  *ifname,
                char       **out_ipv4,
                char       **out_reason)
{
  struct ifaddrs *list = NULL;
  unsigned int flags = 0;
  gboolean found = FALSE;
  char ipv4[INET_ADDRSTRLEN] = "";

  if (out_ipv4)
    *out_ipv4 = NULL;

  if (if_nametoindex (ifname) == 0)
    {
      if (out_reason)
        *out_reason = g_strdup_printf ("interface %s does not exist", ifname);
      return FALSE;
    }

  /* getifaddrs() reads the link flags from rtnetlink, which carries
   * IFF_LOWER_UP; SIOCGIFFLAGS returns only the low 16 bits. */
  if (getifaddrs (&list) < 0)
    {
      int saved_errno = errno;
      if (out_reason)
        *out_reason = g_strdup_printf ("cannot list interfaces: %s", g_strerror (saved_errno));
      return FALSE;
    }
  for (struct ifaddrs *ifa = list; ifa != NULL; ifa = ifa->ifa_next)
    {
      if (g_strcmp0 (ifa->ifa_name, ifname) != 0)
        continue;
      found = TRUE;
      flags |= ifa->ifa_flags;
      if (ipv4[0] == '\0' && ifa->ifa_addr != NULL && ifa->ifa_addr->sa_family == AF_INET)
        inet_ntop (AF_INET, &((struct sockaddr_in *) ifa->ifa_addr)->sin_addr, ipv4, sizeof ipv4);
    }
  freeifaddrs (list);

  if (!found)
    {
      if (out_reason)
        *out_reason = g_strdup_printf ("interface %s does not exist", ifname);
      return FALSE;
    }
  if (!(flags & IFF_UP))
    {
      if (out_reason)
        *out_reason = g_strdup_printf ("interface %s is down (no IFF_UP)", ifname);
      return FALSE;
    }
  if (!(flags & IFF_LOWER_UP))
    {
      if (out_reason)
        *out_reason = g_strdup_printf ("interface %s has no carrier (no IFF_LOWER_UP)", ifname);
      return FALSE;
    }
  if (ipv4[0] == '\0')
    {
      if (out_reason)
        *out_reason = g_strdup_printf ("interface %s has no IPv4 address", ifname);
      return FALSE;
    }
  if (out_ipv4)
    *out_ipv4 = g_strdup (ipv4);
  return TRUE;
}

gboolean
pk_process_is_alive (int    pid,
                     char **out_reason)
{
  g_autofree char *path = NULL;
  g_autofree char *stat = NULL;
  const char *paren;

  if (pid <= 0)
    {
      if (out_reason)
        *out_reason = g_strdup_printf ("no process (pid %d)", pid);
      return FALSE;
    }
  if (kill (pid, 0) < 0 && errno == ESRCH)
    {
      if (out_reason)
        *out_reason = g_strdup_printf ("process %d is gone", pid);
      return FALSE;
    }
  /* kill(pid, 0) succeeds for a zombie: a process that died but was not
   * reaped yet is dead for our purposes. */
  path = g_strdup_printf ("/proc/%d/stat", pid);
  if (g_file_get_contents (path, &stat, NULL, NULL) &&
      (paren = strrchr (stat, ')')) != NULL &&
      paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X'))
    {
      if (out_reason)
        *out_reason = g_strdup_printf ("process %d has exited (zombie)", pid);
      return FALSE;
    }
  return TRUE;
}
