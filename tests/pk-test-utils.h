/* pk-test-utils.h: helpers shared by the tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* g_test_init() plus the conventions of these tests: no network access
 * beyond loopback and namespaces the test makes, fatal criticals. */
void      pk_test_init              (int    *argc,
                                     char ***argv);

/* Moves the calling process into a new, empty network namespace with lo
 * up. Call it first in main(), before any thread exists. Returns FALSE
 * (and says why in @reason) where that is not allowed; tests then skip. */
gboolean  pk_test_enter_new_netns   (char  **reason);

/* Runs a command (through /bin/sh) and fails the test if it fails. */
void      pk_test_run               (const char *format,
                                     ...) G_GNUC_PRINTF (1, 2);

/* A timeout scaled for slow builds: timeout_ms times
 * PK_TEST_TIMEOUT_MULTIPLIER (tests/run-all sets it for the sanitizer
 * build; 3 by default where AddressSanitizer is compiled in). Every wait
 * below scales its timeout with it. */
guint     pk_test_timeout_ms        (guint  timeout_ms);

/* A GAsyncReadyCallback that keeps the result: pass &result (a
 * GAsyncResult * that is NULL) as user_data, then pk_test_wait_result(). */
void      pk_test_store_result      (GObject       *source,
                                     GAsyncResult  *result,
                                     gpointer       user_data);
/* Iterates the thread-default main context until *result is set; fails
 * the test after timeout_ms. */
void      pk_test_wait_result       (GAsyncResult **result,
                                     guint          timeout_ms);

/* Iterates the thread-default main context until *flag is TRUE; fails
 * the test after timeout_ms. */
void      pk_test_wait_for_flag     (gboolean *flag,
                                     guint     timeout_ms);
void      pk_test_wait_until        (gboolean (*cond) (gpointer data),
                                     gpointer  data,
                                     guint     timeout_ms);

/* A TCP or UDP echo server in its own thread. TCP: echoes each
 * connection until EOF, then shuts down its write side (so half-close
 * passes through); UDP: echoes each datagram to its sender. It records the
 * address of the last peer, so that egress tests can check the source. */
typedef struct _PkTestEchoServer PkTestEchoServer;

PkTestEchoServer *pk_test_echo_server_new        (const char        *address,
                                                  GSocketType        type);
guint16           pk_test_echo_server_get_port   (PkTestEchoServer  *server);
GSocketAddress   *pk_test_echo_server_get_address (PkTestEchoServer *server);
char             *pk_test_echo_server_dup_last_peer (PkTestEchoServer *server);
guint             pk_test_echo_server_get_n_connections (PkTestEchoServer *server);
void              pk_test_echo_server_free       (PkTestEchoServer  *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PkTestEchoServer, pk_test_echo_server_free)

/* Warnings are fatal in tests (pk_test_init); the ones a test expects
 * (an egress that cannot be applied, an accept loop out of descriptors, a
 * corrupt file) are recorded instead, one line each, when they contain
 * @needle. Call pk_test_expect_warnings() once, in main(); take returns
 * the expected warnings so far and forgets them. */
void      pk_test_expect_warnings        (const char *needle);
char     *pk_test_take_expected_warnings (void);
guint     pk_test_count_expected_warnings (void);

/* A nameserver on 127.0.0.1 in its own thread: A queries for names under
 * ".farm.test" are answered with 127.0.0.1, AAAA queries for them with no
 * address, anything else with NXDOMAIN. Give its "127.0.0.1:PORT" to an
 * egress (pk_egress_set_nameservers()) so that names in tests never go to
 * the system resolver. */
typedef struct _PkTestDnsServer PkTestDnsServer;

PkTestDnsServer  *pk_test_dns_server_new          (void);
char             *pk_test_dns_server_dup_address  (PkTestDnsServer  *server);
guint             pk_test_dns_server_get_n_queries (PkTestDnsServer *server);
void              pk_test_dns_server_free         (PkTestDnsServer  *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PkTestDnsServer, pk_test_dns_server_free)

/* A listening TCP socket that never accepts: with its backlog filled,
 * connects to it hang, which is how connect timeouts are tested on
 * loopback. */
GSocket  *pk_test_blackhole_listener_new (guint16 *port);

/* Blocking helpers on plain sockets, for clients in tests. */
GSocket  *pk_test_connect_tcp       (GSocketAddress *address);
void      pk_test_send_all          (GSocket        *socket,
                                     const void     *data,
                                     gsize           len);
/* Reads exactly len bytes; fails the test on EOF or after timeout_ms. */
void      pk_test_recv_exact        (GSocket        *socket,
                                     void           *buf,
                                     gsize           len,
                                     guint           timeout_ms);
/* TRUE if the peer closed (EOF) within timeout_ms. */
gboolean  pk_test_wait_eof          (GSocket        *socket,
                                     guint           timeout_ms);

/* Path of a program built in the tree, from the MESON_* or PK_BUILDDIR
 * environment the test runs in. */
char     *pk_test_build_path        (const char *relative);

G_END_DECLS
