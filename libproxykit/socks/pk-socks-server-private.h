/* pk-socks-server-private.h: PkSocksServer's own struct, shared by its
 * files (object and settings, listening, policy); sessions see only the
 * narrow host interface of pk-socks-session-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "pk-prom-private.h"
#include "pk-socks-server.h"
#include "pk-prom-private.h"
#include "pk-socks-session-private.h"
#include "pk-util-private.h"

G_BEGIN_DECLS

/* Runs one client connection, already accepted, to its end in the
 * thread-default main context of the caller. The listener loop and
 * worker threads both end up here. */
void           pk_socks_server_handle_client (PkSocksServer    *self,
                                              int               fd,
                                              const PkSockaddr *peer);

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
  PkAccessList *allow_list;    /* allow-url: adds to allow, denies every client until loaded */
  PkAccessList *deny_list;     /* deny-url: adds to deny */
  gulong allow_list_handler;
  gulong deny_list_handler;
  PkSocksPolicy *policy;

  GPtrArray *listeners;        /* PkSocksListener */
  gboolean non_loopback;
  PkWorkers *workers;          /* nullable: listen() then serves on them */

  /* sessions */
  guint n_active;
  GHashTable *per_client;      /* address string -> count (guint *) */
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
  PkPromHistogram latency[PK_SOCKS_LATENCY_N];
};

void           pk_socks_server_rebuild_policy  (PkSocksServer *self);

/* The access lists fetch while the server listens: started when a
 * listener is added (in the caller's context), stopped when it stops. */
void           pk_socks_server_listener_added  (PkSocksServer  *self,
                                                GSocketAddress *address);
void           pk_socks_server_stop_access_lists (PkSocksServer *self);
/* The access_list families of pk_socks_server_dup_prometheus(). */
void           pk_socks_server_write_access_list_metrics (PkPromWriter          *w,
                                                          PkSocksServer * const *servers,
                                                          guint                  n_servers);

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

G_END_DECLS
