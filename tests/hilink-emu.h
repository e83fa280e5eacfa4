/* hilink-emu.h: an emulated Huawei E8372h (HiLink web API) on loopback
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <proxykit/proxykit.h>

G_BEGIN_DECLS

/* One emulated dongle: a libsoup server on the thread-default main
 * context. It follows the device's API: SesTokInfo and single-use tokens
 * (a reused token gets 125003, an unknown session 125002), optional login
 * (password types 0 and 4), status with WanIPAddress, a data switch and
 * a net mode that change the WAN IP after a delay, reboot, and errors
 * injected on request. WAN IPs are 100.64.ID.x strings (shared address
 * space, only ever text here).
 *
 * The same knobs are reachable over HTTP for out-of-process use:
 *   GET /emu/control?busy=N&busy_on=SPEC,...&slow_ms=N&drop=N&garbage=N
 *                   &http_error=N&http_status=5xx&logout=1&refuse_netmode=0|1
 *                   &sticky=data,netmode&expire=1&expire_tokens=1
 *                   &delay_ms=N&reboot_ms=N
 *   GET /emu/state   -> key=value lines (wan_ip, status, data, mode,
 *                       requests, posts, logins, busy, last_peer, reboots)
 */
typedef struct _HilinkEmu HilinkEmu;

HilinkEmu  *hilink_emu_new              (const char  *address,
                                         guint16      port,
                                         guint        id,
                                         GError     **error);
void        hilink_emu_free             (HilinkEmu   *emu);
guint16     hilink_emu_get_port         (HilinkEmu   *emu);
char       *hilink_emu_dup_url          (HilinkEmu   *emu);

/* password_type -1 turns login off (state-login answers 100002). */
void        hilink_emu_set_login        (HilinkEmu   *emu,
                                         const char  *username,
                                         const char  *password,
                                         int          password_type);
void        hilink_emu_set_delays       (HilinkEmu   *emu,
                                         guint        reconnect_ms,
                                         guint        reboot_ms);
/* Methods ("data", "netmode", "reboot", comma-separated) after which the
 * device comes back with the same WAN IP. */
void        hilink_emu_set_sticky       (HilinkEmu   *emu,
                                         const char  *methods);
/* The next @busy answers are 100004, every answer waits @slow_ms, the
 * next @drop connections are closed without an answer. */
void        hilink_emu_inject           (HilinkEmu   *emu,
                                         guint        busy,
                                         guint        slow_ms,
                                         guint        drop);
/* Answers 100004 to chosen requests. @spec is [METHOD:]PATH[@NTH[xCOUNT]]:
 * of the requests to PATH (with METHOD, if given) counted from now, the
 * NTH (default 1) and the COUNT - 1 (default 0) after it are busy, e.g.
 * "POST:/api/dialup/mobile-dataswitch@2x3" for the first three tries of
 * the data-on of a data rotation. Rules add up; clear_busy_on removes
 * them. Fails on a malformed @spec. */
gboolean    hilink_emu_busy_on          (HilinkEmu   *emu,
                                         const char  *spec,
                                         GError     **error);
void        hilink_emu_clear_busy_on    (HilinkEmu   *emu);
/* The next @garbage answers are not XML (a redirect page, as devices send
 * for what they do not know); with @refuse_netmode, setting a network
 * mode fails with 112003. */
void        hilink_emu_inject_faults    (HilinkEmu   *emu,
                                         guint        garbage,
                                         gboolean     refuse_netmode);
/* The next @n answers to /api/ requests are HTTP @status with an empty
 * body, as the device's web server gives while it restarts (503) or
 * fails (500). */
void        hilink_emu_inject_http_error (HilinkEmu  *emu,
                                         guint        n,
                                         guint        status);
/* Logs every session out, keeping the sessions and their tokens, as a
 * device does when a login times out: the next call that needs a login
 * gets 100003. */
void        hilink_emu_expire_login     (HilinkEmu   *emu);
/* Cuts the power: no answers for the reboot time, then it reconnects
 * with a new IP (unless "power" is sticky). */
void        hilink_emu_power_cycle      (HilinkEmu   *emu);
/* Forgets the tokens handed out, keeping the sessions: the next POST with
 * one gets 125003. */
void        hilink_emu_expire_tokens    (HilinkEmu   *emu);
/* Forgets every session, as a device does after a while. */
void        hilink_emu_expire_sessions  (HilinkEmu   *emu);

const char *hilink_emu_get_wan_ip       (HilinkEmu   *emu);
int         hilink_emu_get_status       (HilinkEmu   *emu);
gboolean    hilink_emu_get_data_enabled (HilinkEmu   *emu);
const char *hilink_emu_get_net_mode     (HilinkEmu   *emu);
const char *hilink_emu_get_last_peer    (HilinkEmu   *emu);
const char *hilink_emu_get_last_body    (HilinkEmu   *emu);
guint       hilink_emu_count            (HilinkEmu   *emu,
                                         const char  *what);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HilinkEmu, hilink_emu_free)

/* A new emulated dongle number @id on 127.0.0.1 with the given delays,
 * and a PkHilinkModem for it (no egress) with @timeout_ms per call; fails
 * the test on error. */
HilinkEmu  *hilink_test_emu_with_modem  (guint           id,
                                         guint           reconnect_ms,
                                         guint           reboot_ms,
                                         guint           timeout_ms,
                                         PkHilinkModem **modem);

G_END_DECLS
