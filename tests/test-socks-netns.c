/* test-socks-netns.c: PkSocksServer's egress in network namespaces
 *
 * The test process moves into a namespace of its own ("host"), and a
 * child moves into another ("upstream", where an echo server that first
 * reports the peer address it sees runs). Two veth links join them:
 *
 *   host                                    upstream
 *   pkva0 10.201.1.1/24 + 10.201.1.5/24 --- pkvb0 10.201.1.2/24
 *   pkva1 10.201.2.1/24 --------------------pkvb1 10.201.2.2/24
 *   route 10.201.9.0/24 via 10.201.1.2       lo   10.201.9.9/32 (the "internet")
 *   pkva2 (down, no address)                 (pkvb1 answers ARP only for its own address)
 *   fwmark 7: table 7, route 10.201.9.0/24 via 10.201.2.2
 *
 * The child dies with the test (PR_SET_PDEATHSIG), and both namespaces
 * with their processes, so nothing is left behind even if a test aborts.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <signal.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "socks-test-fixture.h"

#define TARGET "10.201.9.9"

static pid_t peer_pid;
static guint16 peer_port;


static const char peer_script[] =
  "import socket, threading\n"
  "s = socket.socket()\n"
  "s.bind(('0.0.0.0', 0))\n"
  "s.listen(64)\n"
  "print(s.getsockname()[1], flush=True)\n"
  "def serve(c, peer):\n"
  "    with c:\n"
  "        c.sendall(('PEER %s\\n' % peer[0]).encode())\n"
  "        while True:\n"
  "            d = c.recv(65536)\n"
  "            if not d:\n"
  "                break\n"
  "            c.sendall(d)\n"
  "while True:\n"
  "    c, peer = s.accept()\n"
  "    threading.Thread(target=serve, args=(c, peer), daemon=True).start()\n";

/* Before any thread exists: fork the child that becomes the upstream
 * namespace, and read the port its echo server bound. */
static gboolean
start_peer (char **reason)
{
  int out[2];
  pid_t parent = getpid ();
  char buf[16] = { 0 };
  gssize n;

  if (pipe (out) < 0)
    {
      *reason = g_strdup_printf ("pipe: %s", g_strerror (errno));
      return FALSE;
    }

  peer_pid = fork ();
  if (peer_pid < 0)
    {
      *reason = g_strdup_printf ("fork: %s", g_strerror (errno));
      return FALSE;
    }
  if (peer_pid == 0)
    {
      prctl (PR_SET_PDEATHSIG, SIGKILL);
      if (getppid () != parent || unshare (CLONE_NEWNET) < 0)
        _exit (1);
      dup2 (out[1], STDOUT_FILENO);
      close (out[0]);
      close (out[1]);
      execl ("/usr/bin/python3", "python3", "-c", peer_script, (char *) NULL);
      _exit (127);
    }

  /* The read end stays open as long as the child lives: a write to a
   * closed pipe would kill it. */
  close (out[1]);
  for (gsize len = 0; len < sizeof buf - 1 && strchr (buf, '\n') == NULL; len += n)
    if ((n = read (out[0], buf + len, sizeof buf - 1 - len)) <= 0)
      break;
  if ((peer_port = atoi (buf)) == 0)
    {
      *reason = g_strdup ("the upstream namespace's echo server did not start (/usr/bin/python3?)");
      return FALSE;
    }
  return TRUE;
}

static void
setup_links (void)
{
  pk_test_run ("ip link add pkva0 type veth peer name pkvb0 && "
               "ip link add pkva1 type veth peer name pkvb1 && "
               "ip link add pkva2 type veth peer name pkvb2 && "
               "ip link set pkvb0 netns %d && ip link set pkvb1 netns %d && "
               "ip addr add 10.201.1.1/24 dev pkva0 && ip addr add 10.201.1.5/24 dev pkva0 && "
               "ip link set pkva0 up && "
               "ip addr add 10.201.2.1/24 dev pkva1 && ip link set pkva1 up && "
               "ip route add 10.201.9.0/24 via 10.201.1.2 dev pkva0 && "
               "ip route add 10.201.9.0/24 via 10.201.2.2 dev pkva1 table 7 && "
               "ip rule add fwmark 7 table 7",
               (int) peer_pid, (int) peer_pid);
  pk_test_run ("nsenter -t %d -n sh -c '"
               "ip link set lo up && ip addr add " TARGET "/32 dev lo && "
               "ip addr add 10.201.1.2/24 dev pkvb0 && ip link set pkvb0 up && "
               "ip addr add 10.201.2.2/24 dev pkvb1 && ip link set pkvb1 up && "
               "sysctl -qw net.ipv4.conf.pkvb1.arp_ignore=1'",
               (int) peer_pid);
}

static void
use_egress_full (Fixture    *f,
                 const char *address,
                 const char *interface,
                 guint32     fwmark)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PkEgress) egress = pk_egress_new_full (address, interface, fwmark, 0, &error);

  g_assert_no_error (error);
  pk_socks_server_set_egress (f->server, egress);
}

static void
use_egress (Fixture    *f,
            const char *address,
            const char *interface)
{
  use_egress_full (f, address, interface, 0);
}

/* Reads the upstream's "PEER a.b.c.d" line and checks it, then that data
 * flows. */
static void
assert_upstream_saw (GSocket    *sock,
                     const char *source)
{
  g_autofree char *expected = g_strdup_printf ("PEER %s\n", source);
  gsize len = strlen (expected);
  char buf[64];

  pk_test_recv_exact (sock, buf, len, 5000);
  g_assert_cmpmem (buf, len, expected, len);
  pk_test_send_all (sock, "ping", 4);
  pk_test_recv_exact (sock, buf, 4, 5000);
  g_assert_cmpmem (buf, 4, "ping", 4);
}

static void
test_default_egress (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GSocket) sock = NULL;

  g_assert_cmpuint (connect_via_proxy (f, TARGET, peer_port, &sock), ==, 0);
  assert_upstream_saw (sock, "10.201.1.1");
}

static void
test_source_address (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GSocket) sock = NULL;

  use_egress (f, "10.201.1.5", NULL);
  g_assert_cmpuint (connect_via_proxy (f, TARGET, peer_port, &sock), ==, 0);
  assert_upstream_saw (sock, "10.201.1.5");
}

static void
test_interface (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GSocket) sock = NULL;

  use_egress (f, NULL, "pkva0");
  g_assert_cmpuint (connect_via_proxy (f, TARGET, peer_port, &sock), ==, 0);
  assert_upstream_saw (sock, "10.201.1.1");
  g_clear_object (&sock);

  /* Bound to pkva1, the upstream is reachable on its own link... */
  use_egress (f, NULL, "pkva1");
  g_assert_cmpuint (connect_via_proxy (f, "10.201.2.2", peer_port, &sock), ==, 0);
  assert_upstream_saw (sock, "10.201.2.1");
  g_clear_object (&sock);

  /* ...but the target, routed by pkva0 only, is not: nobody on pkva1's
   * link answers for it, and the connect fails there instead of taking
   * the route by pkva0. */
  g_assert_cmpuint (connect_via_proxy (f, TARGET, peer_port, NULL), ==, 4);

  /* An interface that is down: network unreachable. */
  use_egress (f, NULL, "pkva2");
  g_assert_cmpuint (connect_via_proxy (f, TARGET, peer_port, NULL), ==, 3);
}

/* The mark selects the policy-routing table, and with it the link. */
static void
test_fwmark (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(GSocket) sock = NULL;

  use_egress_full (f, NULL, NULL, 7);
  g_assert_cmpuint (connect_via_proxy (f, TARGET, peer_port, &sock), ==, 0);
  assert_upstream_saw (sock, "10.201.2.1");
}

static void
test_address_not_on_host (Fixture       *f,
                          gconstpointer  data)
{
  g_autofree char *warnings = NULL;

  use_egress (f, "10.201.3.3", NULL);
  g_assert_cmpuint (connect_via_proxy (f, TARGET, peer_port, NULL), ==, 3);

  /* The operator is told why, once, naming the egress. */
  pk_test_wait_until (no_sessions, f->server, 5000);
  warnings = take_expected_warnings ();
  g_assert_nonnull (strstr (warnings, "10.201.3.3"));
}

/* A listener beyond loopback refuses the host's own addresses, also one
 * the host gains after it started (a dongle plugged in), and stops
 * refusing it once the host lost it: no reload in between. */
static void
test_deny_host_follows_addresses (Fixture       *f,
                                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) sock = NULL;
  g_autoptr(PkTestEchoServer) local = NULL;

  pk_socks_server_set_allowlist (f->server, "127.0.0.1", &error);
  g_assert_no_error (error);
  listen_on (f, "0.0.0.0:0");
  g_assert_false (pk_socks_server_is_listening_on_loopback_only (f->server));

  /* Before: the target is the upstream's, reached through pkva0. */
  g_assert_cmpuint (connect_via_proxy (f, TARGET, peer_port, &sock), ==, 0);
  assert_upstream_saw (sock, "10.201.1.1");
  g_clear_object (&sock);

  /* The host gains the address, and a service listens on it. */
  pk_test_run ("ip addr add " TARGET "/32 dev pkva2 && ip link set pkva2 up");
  local = pk_test_echo_server_new (TARGET, G_SOCKET_TYPE_STREAM);
  g_assert_cmpuint (connect_via_proxy (f, TARGET, pk_test_echo_server_get_port (local), NULL), ==, 2);
  g_assert_cmpuint (connect_via_proxy (f, TARGET, peer_port, NULL), ==, 2);
  g_assert_cmpuint (pk_test_echo_server_get_n_connections (local), ==, 0);

  /* The host loses it: the upstream is reachable again. */
  g_clear_pointer (&local, pk_test_echo_server_free);
  pk_test_run ("ip addr del " TARGET "/32 dev pkva2 && ip link set pkva2 down");
  g_assert_cmpuint (connect_via_proxy (f, TARGET, peer_port, &sock), ==, 0);
  assert_upstream_saw (sock, "10.201.1.1");
}

static void
test_skip (gconstpointer data)
{
  g_test_skip (data);
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *reason = NULL;
  int status;
  int ret;

  pk_test_init (&argc, &argv);

  if (!pk_test_enter_new_netns (&reason) || !start_peer (&reason))
    {
      g_test_add_data_func ("/socks-netns/skipped", reason, test_skip);
      return g_test_run ();
    }
  setup_links ();

  expect_warnings ("egress");

  g_test_add ("/socks-netns/egress/default", Fixture, NULL, setup, test_default_egress, teardown);
  g_test_add ("/socks-netns/egress/source-address", Fixture, NULL, setup, test_source_address, teardown);
  g_test_add ("/socks-netns/egress/interface", Fixture, NULL, setup, test_interface, teardown);
  g_test_add ("/socks-netns/egress/fwmark", Fixture, NULL, setup, test_fwmark, teardown);
  g_test_add ("/socks-netns/egress/address-not-on-host", Fixture, NULL, setup, test_address_not_on_host, teardown);
  g_test_add ("/socks-netns/policy/deny-host-follows-addresses", Fixture, "no-listen", setup,
              test_deny_host_follows_addresses, teardown);

  ret = g_test_run ();

  kill (peer_pid, SIGKILL);
  waitpid (peer_pid, &status, 0);
  return ret;
}
