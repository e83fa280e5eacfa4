/* pk-socks-session-private.h: one SOCKS session and what it needs from
 * the server that runs it
 *
 * The session knows its server only through PkSocksSessionHost, a narrow
 * table of functions (settings, slots, counters, stop), so that the
 * server's struct stays private to the server's files and the session
 * code depends on nothing of the server but this header.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "pk-rtnl-private.h"

#include "pk-egress.h"
#include "pk-util-private.h"

G_BEGIN_DECLS

/* The access policy a session runs under: immutable once built, replaced
 * as a whole on reload, so that a live session keeps the one it started
 * with and needs no lock to read it. */
typedef struct {
  GHashTable *users;        /* username -> password; empty: no authentication */
  GPtrArray  *allow;        /* GInetAddressMask; NULL: every client */
  GPtrArray  *deny;         /* destinations refused by rule */
  GPtrArray  *deny_host;    /* the host itself, for non-loopback listeners: loopback, unspecified */
  PkRtnlHostAddresses *host_addresses; /* and its addresses now; NULL with deny_host NULL */
} PkSocksPolicy;

PkSocksPolicy *pk_socks_policy_ref   (PkSocksPolicy *policy);
void           pk_socks_policy_unref (PkSocksPolicy *policy);
/* pk-socks-policy.c: adds the host's own destinations to @policy; and
 * whether @policy refuses @address as a destination. */
void           pk_socks_policy_deny_host (PkSocksPolicy *policy);
gboolean       pk_socks_policy_denies    (PkSocksPolicy *policy,
                                          GInetAddress  *address);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PkSocksPolicy, pk_socks_policy_unref)

/* Why a session ended: a reply code, or one of these for sessions that
 * never got as far as a request. */
enum {
  PK_SOCKS_RESULT_AUTH_FAILED = 0x100,
  PK_SOCKS_RESULT_NO_ACCEPTABLE_METHOD,
  PK_SOCKS_RESULT_HANDSHAKE_FAILED,
  PK_SOCKS_RESULT_HANDSHAKE_TIMEOUT,
  PK_SOCKS_RESULT_N
};
const char    *pk_socks_result_to_string (guint result);

/* What a session needs from its server, read once when it starts. */
typedef struct {
  char           *name;             /* nullable */
  PkSocksPolicy  *policy;
  PkEgress       *egress;
  GInetAddress   *udp_advertise;    /* nullable */
  guint           handshake_timeout_ms;
  guint           connect_timeout_ms;
  guint           resolve_timeout_ms;
  guint           idle_timeout_ms;
  guint           udp_idle_timeout_ms;
} PkSocksSessionConfig;

void           pk_socks_session_config_free (PkSocksSessionConfig *config);

/* The durations a session reports as it goes. */
typedef enum {
  PK_SOCKS_LATENCY_HANDSHAKE,  /* accepted to request read (greeting, auth, request) */
  PK_SOCKS_LATENCY_CONNECT,    /* request read to destination connected (resolving too) */
  PK_SOCKS_LATENCY_N
} PkSocksLatency;

/* What a session asks of its host: any thread (the session's). */
typedef struct {
  /* The settings a session starts with. */
  PkSocksSessionConfig *(*dup_config)           (GObject      *host);
  /* Takes a slot for a new client; NULL if it may go ahead, else why not. */
  char                 *(*take_slot)            (GObject      *host,
                                                 GInetAddress *client);
  void                  (*release_slot)         (GObject      *host,
                                                 GInetAddress *client);
  /* Counts an ended session. */
  void                  (*ended)                (GObject      *host,
                                                 guint         result,
                                                 guint64       bytes_up,
                                                 guint64       bytes_down);
  /* Counts a duration of @kind. */
  void                  (*observe)              (GObject        *host,
                                                 PkSocksLatency  kind,
                                                 gint64          us);
  /* Cancelled when the host stops: sessions end. */
  GCancellable         *(*get_stop_cancellable) (GObject      *host);
} PkSocksSessionHost;

/* Runs one accepted client connection (@fd, non-blocking, which the
 * session owns and closes; @peer: its address) to its end in the
 * thread-default main context of the caller; holds a reference on @host
 * meanwhile. */
void           pk_socks_session_start          (const PkSocksSessionHost *iface,
                                                GObject                  *host,
                                                int                       fd,
                                                const PkSockaddr         *peer);

G_END_DECLS
