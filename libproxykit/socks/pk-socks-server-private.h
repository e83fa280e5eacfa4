/* pk-socks-server-private.h: what PkSocksServer shares with its sessions
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "pk-socks-server.h"

G_BEGIN_DECLS

/* The access policy a session runs under: immutable once built, replaced
 * as a whole on reload, so that a live session keeps the one it started
 * with and needs no lock to read it. */
typedef struct {
  GHashTable *users;        /* username -> password; empty: no authentication */
  GPtrArray  *allow;        /* GInetAddressMask; NULL: every client */
  GPtrArray  *deny;         /* destinations refused by rule */
  GPtrArray  *deny_host;    /* the host itself, for non-loopback listeners */
} PkSocksPolicy;

PkSocksPolicy *pk_socks_policy_ref   (PkSocksPolicy *policy);
void           pk_socks_policy_unref (PkSocksPolicy *policy);
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

/* Runs one client connection, already accepted, to its end in the
 * thread-default main context of the caller. The listener loop and
 * worker threads both end up here. */
void           pk_socks_server_handle_client (PkSocksServer *self,
                                              GSocket       *client);

/* Used by sessions (any thread). */
PkSocksSessionConfig *pk_socks_server_dup_session_config (PkSocksServer *self);
/* Takes a slot for a new client; NULL if it may go ahead, otherwise why not. */
char          *pk_socks_server_take_slot       (PkSocksServer *self,
                                                GInetAddress  *client);
void           pk_socks_server_release_slot    (PkSocksServer *self,
                                                GInetAddress  *client);
void           pk_socks_server_session_ended   (PkSocksServer *self,
                                                guint          result,
                                                guint64        bytes_up,
                                                guint64        bytes_down);
GCancellable  *pk_socks_server_get_stop_cancellable (PkSocksServer *self);

typedef struct _PkSocksListener PkSocksListener;
void           pk_socks_listener_free          (gpointer       listener);

/* Shared by pk-socks-server.c (object, settings, counters) and
 * pk-socks-server-listen.c (listening, slots, stop). */
struct _PkSocksServer
{
  GObject parent_instance;

  GMutex lock;                 /* guards what sessions in other threads read */
  char *name;
  PkEgress *egress;
  guint handshake_timeout_ms;
  guint connect_timeout_ms;
  guint resolve_timeout_ms;
  guint idle_timeout_ms;
  guint udp_idle_timeout_ms;
  guint max_sessions;
  guint max_sessions_per_client;
  char *udp_advertise;
  GInetAddress *udp_advertise_inet;
  gboolean allow_host_destinations;
  gboolean allow_open;

  char *users_file;
  GHashTable *inline_users;
  GHashTable *file_users;
  GPtrArray *allow;
  GPtrArray *deny;
  PkSocksPolicy *policy;

  GPtrArray *listeners;        /* PkSocksListener */
  gboolean non_loopback;
  PkWorkers *workers;          /* nullable: listen() then serves on them */

  /* sessions */
  guint n_active;
  GHashTable *per_client;      /* address string -> count */
  GCancellable *stop_cancellable;
  gboolean stopping;
  GTask *stop_task;
  GSource *stop_deadline;
  GCancellable *stop_user_cancellable;
  gulong stop_user_handler;

  /* counters (atomic) */
  guint64 sessions_total;
  guint64 bytes_up;
  guint64 bytes_down;
  guint64 results[PK_SOCKS_RESULT_N];
};

void           pk_socks_server_rebuild_policy  (PkSocksServer *self);

/* pk-socks-server-config.c: the open-listener rule, checked before a
 * listener on @address is made. */
gboolean       pk_socks_server_check_open      (PkSocksServer  *self,
                                                GSocketAddress *address,
                                                GError        **error);

/* pk-socks-policy.c */
GHashTable    *pk_socks_users_new              (void);
GHashTable    *pk_socks_users_merge            (GHashTable    *a,
                                                GHashTable    *b);
/* "user:password"; @origin and @lineno (> 0) name a file's line in errors. */
gboolean       pk_socks_users_add_entry        (GHashTable    *users,
                                                const char    *line,
                                                const char    *origin,
                                                guint          lineno,
                                                GError       **error);
GHashTable    *pk_socks_users_load_file        (const char    *path,
                                                GError       **error);
/* 127.0.0.0/8, ::1, the unspecified addresses and the host's own. */
GPtrArray     *pk_socks_host_destinations      (void);

/* pk-socks-session.c */
void           pk_socks_session_start          (PkSocksServer *server,
                                                GSocket       *client);

G_END_DECLS
