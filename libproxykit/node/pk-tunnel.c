/* pk-tunnel.c: one PPTP tunnel through pppd and pptp-linux
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkTunnel:
 *
 * One PPTP tunnel: a pppd that runs pptp-linux as its pty,
 *
 * ```
 * pppd pty "pptp SERVER --nolaunchpppd" linkname LINK unit N nodetach [user U] [file OPTS] OPTIONS...
 * ```
 *
 * or `pppd call PEER linkname LINK unit N nodetach OPTIONS...` for a peers
 * file that already says how to reach the server.
 *
 * The tunnel is up when pppd's link pidfile, `RUN_DIR/ppp-LINK.pid`,
 * names the interface on its second line and that interface has IFF_UP,
 * IFF_LOWER_UP and an IPv4 address (a PPP link's operstate reads
 * "unknown" and is not consulted). [method@Tunnel.start_async] waits for that
 * with a timeout; if pppd exits first, the error names pppd's documented
 * exit status ("the peer failed to authenticate itself", "the kernel has
 * no PPP support"). [method@Tunnel.stop_async] sends SIGTERM, then SIGKILL
 * after a grace period, and removes the host route to the server that
 * pptp leaves behind. A tunnel whose pppd outlived our process is taken
 * over with [method@Tunnel.adopt], from its pidfile.
 *
 * An up tunnel gives a [class@Egress] bound to its interface, through which
 * the startup check and the SOCKS listener dial out.
 *
 * ```c
 * g_autoptr(PkTunnel) tunnel = pk_tunnel_new ("pk-11");
 *
 * pk_tunnel_set_server (tunnel, "vpn.example.net", NULL);
 * pk_tunnel_set_user (tunnel, "alice");
 * pk_tunnel_set_password (tunnel, password);
 * pk_tunnel_set_unit (tunnel, 11);
 * pk_tunnel_start_async (tunnel, NULL, on_tunnel_up, NULL);
 * ...
 * g_autoptr(PkEgress) egress = pk_tunnel_get_egress (tunnel, &error);  // ppp11
 * ```
 *
 * The password is never put on pppd's command line (where `ps` shows it):
 * it goes into an options file of mode 0600 in the run directory, passed
 * with `file`, and removed when the tunnel stops.
 *
 * Since: 0.1
 */

#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/types.h>

#include "pk-enum-types.h"
#include "pk-error.h"
#include "pk-netif-private.h"
#include "pk-tunnel.h"
#include "pk-tunnel-pppd-private.h"
#include "pk-util-private.h"

#define POLL_MS 100

struct _PkTunnel
{
  GObject parent_instance;

  char *linkname;
  char *server;
  char *peer;
  char *user;
  char *password;
  int unit;
  char **options;
  char *pppd_path;
  char *pptp_path;
  char *run_dir;
  guint start_timeout_ms;
  guint stop_grace_ms;

  PkTunnelState state;
  int pid;
  GSubprocess *process;
  GCancellable *process_cancellable;
  char *interface;
  char *last_error;
  char *options_file;

  GSource *monitor;        /* liveness of an adopted pppd */
  GTask *start_task;
  GSource *start_poll;
  GSource *start_timeout;
  GSource *start_cancel;
  gboolean fail_when_gone; /* a start timed out: pppd is stopped, the tunnel failed */
  GPtrArray *stop_tasks;
  GSource *stop_poll;
  GSource *stop_kill;
};

G_DEFINE_FINAL_TYPE (PkTunnel, pk_tunnel, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_LINKNAME,
  PROP_STATE,
  PROP_INTERFACE,
  PROP_PID,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void tunnel_finish_start (PkTunnel *self, GError *error);
static void tunnel_process_gone (PkTunnel *self, const char *why);

static void
pk_tunnel_dispose (GObject *object)
{
  PkTunnel *self = PK_TUNNEL (object);

  /* pppd keeps running when the object goes away (our process may be
   * restarting): pk_tunnel_adopt() takes it over later. */
  if (self->process_cancellable)
    g_cancellable_cancel (self->process_cancellable);
  g_clear_object (&self->process_cancellable);
  g_clear_object (&self->process);
  pk_source_clear (&self->monitor);
  pk_source_clear (&self->start_poll);
  pk_source_clear (&self->start_timeout);
  pk_source_clear (&self->start_cancel);
  pk_source_clear (&self->stop_poll);
  pk_source_clear (&self->stop_kill);

  G_OBJECT_CLASS (pk_tunnel_parent_class)->dispose (object);
}

static void
pk_tunnel_finalize (GObject *object)
{
  PkTunnel *self = PK_TUNNEL (object);

  g_free (self->linkname);
  g_free (self->server);
  g_free (self->peer);
  g_free (self->user);
  if (self->password)
    memset (self->password, 0, strlen (self->password));
  g_free (self->password);
  g_strfreev (self->options);
  g_free (self->pppd_path);
  g_free (self->pptp_path);
  g_free (self->run_dir);
  g_free (self->interface);
  g_free (self->last_error);
  g_free (self->options_file);
  g_ptr_array_unref (self->stop_tasks);

  G_OBJECT_CLASS (pk_tunnel_parent_class)->finalize (object);
}

static void
pk_tunnel_get_property (GObject    *object,
                        guint       prop_id,
                        GValue     *value,
                        GParamSpec *pspec)
{
  PkTunnel *self = PK_TUNNEL (object);

  switch (prop_id)
    {
    case PROP_LINKNAME: g_value_set_string (value, self->linkname); break;
    case PROP_STATE: g_value_set_enum (value, self->state); break;
    case PROP_INTERFACE: g_value_set_string (value, self->interface); break;
    case PROP_PID: g_value_set_int (value, self->pid); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_tunnel_set_property (GObject      *object,
                        guint         prop_id,
                        const GValue *value,
                        GParamSpec   *pspec)
{
  PkTunnel *self = PK_TUNNEL (object);

  switch (prop_id)
    {
    case PROP_LINKNAME: self->linkname = g_value_dup_string (value); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_tunnel_class_init (PkTunnelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pk_tunnel_dispose;
  object_class->finalize = pk_tunnel_finalize;
  object_class->get_property = pk_tunnel_get_property;
  object_class->set_property = pk_tunnel_set_property;

  /**
   * PkTunnel:linkname:
   *
   * pppd's `linkname`: its pidfile is `RUN_DIR/ppp-LINKNAME.pid`.
   *
   * Since: 0.1
   */
  properties[PROP_LINKNAME] =
    g_param_spec_string ("linkname", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * PkTunnel:state:
   *
   * The tunnel's state.
   *
   * Since: 0.1
   */
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, PK_TYPE_TUNNEL_STATE, PK_TUNNEL_STATE_DOWN,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * PkTunnel:interface:
   *
   * The interface, such as `ppp11`, once pppd named it.
   *
   * Since: 0.1
   */
  properties[PROP_INTERFACE] =
    g_param_spec_string ("interface", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * PkTunnel:pid:
   *
   * pppd's pid, 0 when none runs.
   *
   * Since: 0.1
   */
  properties[PROP_PID] =
    g_param_spec_int ("pid", NULL, NULL, 0, G_MAXINT, 0,
                      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
pk_tunnel_init (PkTunnel *self)
{
  self->unit = -1;
  self->pppd_path = g_strdup (PK_TUNNEL_PPPD_PATH_DEFAULT);
  self->pptp_path = g_strdup ("pptp");
  self->run_dir = g_strdup (PK_TUNNEL_RUN_DIR_DEFAULT);
  self->start_timeout_ms = 60000;
  self->stop_grace_ms = 5000;
  self->stop_tasks = g_ptr_array_new ();
}

/**
 * pk_tunnel_new:
 * @linkname: pppd's linkname (letters, digits, `-`, `_`, `.`)
 *
 * Creates a tunnel that is down. Set a server (or a peer) before starting.
 *
 * Returns: (transfer full): a new [class@Tunnel]
 *
 * Since: 0.1
 */
PkTunnel *
pk_tunnel_new (const char *linkname)
{
  g_return_val_if_fail (pk_pppd_is_valid_word (linkname, "-_."), NULL);

  return g_object_new (PK_TYPE_TUNNEL, "linkname", linkname, NULL);
}

/**
 * pk_tunnel_get_linkname:
 * @self: a [class@Tunnel]
 *
 * Gets the linkname.
 *
 * Returns: the linkname
 *
 * Since: 0.1
 */
const char *
pk_tunnel_get_linkname (PkTunnel *self)
{
  g_return_val_if_fail (PK_IS_TUNNEL (self), NULL);
  return self->linkname;
}

/**
 * pk_tunnel_get_server:
 * @self: a [class@Tunnel]
 *
 * Gets the PPTP server.
 *
 * Returns: (nullable): the PPTP server
 *
 * Since: 0.1
 */
const char *
pk_tunnel_get_server (PkTunnel *self)
{
  g_return_val_if_fail (PK_IS_TUNNEL (self), NULL);
  return self->server;
}

/**
 * pk_tunnel_set_server:
 * @self: a [class@Tunnel]
 * @server: (nullable): the PPTP server, a host name or an IP address
 * @error: return location for a `GError`
 *
 * Sets the server that pptp connects to. The server goes into the
 * command that pppd runs through the shell, so only host name and
 * address characters are accepted.
 *
 * Returns: %TRUE, or %FALSE with %PK_ERROR_INVALID_ARGUMENT
 *
 * Since: 0.1
 */
gboolean
pk_tunnel_set_server (PkTunnel    *self,
                      const char  *server,
                      GError     **error)
{
  g_return_val_if_fail (PK_IS_TUNNEL (self), FALSE);

  if (server != NULL && !pk_pppd_is_valid_word (server, "-.:"))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                   "PPTP server '%s' is not a host name or an IP address", server);
      return FALSE;
    }
  g_free (self->server);
  self->server = g_strdup (server);
  return TRUE;
}

/**
 * pk_tunnel_get_peer:
 * @self: a [class@Tunnel]
 *
 * Gets the peers file used with `call`.
 *
 * Returns: (nullable): the peers file used with `call`
 *
 * Since: 0.1
 */
const char *
pk_tunnel_get_peer (PkTunnel *self)
{
  g_return_val_if_fail (PK_IS_TUNNEL (self), NULL);
  return self->peer;
}

/**
 * pk_tunnel_set_peer:
 * @self: a [class@Tunnel]
 * @peer: (nullable): the name of a file in `/etc/ppp/peers`
 * @error: return location for a `GError`
 *
 * Uses `pppd call PEER` instead of a server: the peers file says how to
 * reach the server. A peer takes precedence over a server.
 *
 * Returns: %TRUE, or %FALSE with %PK_ERROR_INVALID_ARGUMENT
 *
 * Since: 0.1
 */
gboolean
pk_tunnel_set_peer (PkTunnel    *self,
                    const char  *peer,
                    GError     **error)
{
  g_return_val_if_fail (PK_IS_TUNNEL (self), FALSE);

  if (peer != NULL && !pk_pppd_is_valid_word (peer, "-_.@"))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_INVALID_ARGUMENT,
                   "pppd peer '%s' is not a file name in /etc/ppp/peers", peer);
      return FALSE;
    }
  g_free (self->peer);
  self->peer = g_strdup (peer);
  return TRUE;
}

/**
 * pk_tunnel_get_user:
 * @self: a [class@Tunnel]
 *
 * Gets the user name.
 *
 * Returns: (nullable): the user name
 *
 * Since: 0.1
 */
const char *
pk_tunnel_get_user (PkTunnel *self)
{
  g_return_val_if_fail (PK_IS_TUNNEL (self), NULL);
  return self->user;
}

/**
 * pk_tunnel_set_user:
 * @self: a [class@Tunnel]
 * @user: (nullable): the user name (pppd's `user`)
 *
 * Sets the user name used to authenticate to the server.
 *
 * Since: 0.1
 */
void
pk_tunnel_set_user (PkTunnel   *self,
                    const char *user)
{
  g_return_if_fail (PK_IS_TUNNEL (self));
  g_free (self->user);
  self->user = g_strdup (user);
}

/**
 * pk_tunnel_set_password:
 * @self: a [class@Tunnel]
 * @password: (nullable): the password, or %NULL to rely on
 *   `/etc/ppp/chap-secrets`
 *
 * Sets the password. It reaches pppd through an options file of mode
 * 0600, never its command line.
 *
 * Since: 0.1
 */
void
pk_tunnel_set_password (PkTunnel   *self,
                        const char *password)
{
  g_return_if_fail (PK_IS_TUNNEL (self));
  if (self->password)
    memset (self->password, 0, strlen (self->password));
  g_free (self->password);
  self->password = g_strdup (password);
}

/**
 * pk_tunnel_get_unit:
 * @self: a [class@Tunnel]
 *
 * Gets pppd's unit (the N of `pppN`), or -1 for pppd's choice.
 *
 * Returns: pppd's unit (the N of `pppN`), or -1 for pppd's choice
 *
 * Since: 0.1
 */
int
pk_tunnel_get_unit (PkTunnel *self)
{
  g_return_val_if_fail (PK_IS_TUNNEL (self), -1);
  return self->unit;
}

/**
 * pk_tunnel_set_unit:
 * @self: a [class@Tunnel]
 * @unit: the N of `pppN`, or -1 for pppd's choice
 *
 * Sets pppd's `unit`.
 *
 * Since: 0.1
 */
void
pk_tunnel_set_unit (PkTunnel *self,
                    int       unit)
{
  g_return_if_fail (PK_IS_TUNNEL (self));
  self->unit = unit < 0 ? -1 : unit;
}

/**
 * pk_tunnel_get_options:
 * @self: a [class@Tunnel]
 *
 * Gets the extra pppd options.
 *
 * Returns: (nullable) (array zero-terminated=1) (transfer none): the extra pppd options
 *
 * Since: 0.1
 */
const char * const *
pk_tunnel_get_options (PkTunnel *self)
{
  g_return_val_if_fail (PK_IS_TUNNEL (self), NULL);
  return (const char * const *) self->options;
}

/**
 * pk_tunnel_set_options:
 * @self: a [class@Tunnel]
 * @options: (nullable) (array zero-terminated=1): pppd options, one word
 *   per element (`"require-mppe-128"`, `"mtu"`, `"1400"`)
 *
 * Sets options appended to pppd's command line.
 *
 * Since: 0.1
 */
void
pk_tunnel_set_options (PkTunnel           *self,
                       const char * const *options)
{
  g_return_if_fail (PK_IS_TUNNEL (self));
  g_strfreev (self->options);
  self->options = g_strdupv ((char **) options);
}

/**
 * pk_tunnel_get_pppd_path:
 * @self: a [class@Tunnel]
 *
 * Gets the pppd binary.
 *
 * Returns: the pppd binary
 *
 * Since: 0.1
 */
const char *
pk_tunnel_get_pppd_path (PkTunnel *self)
{
  g_return_val_if_fail (PK_IS_TUNNEL (self), NULL);
  return self->pppd_path;
}

/**
 * pk_tunnel_set_pppd_path:
 * @self: a [class@Tunnel]
 * @path: (nullable): the pppd binary, %NULL for %PK_TUNNEL_PPPD_PATH_DEFAULT
 *
 * Sets which pppd runs.
 *
 * Since: 0.1
 */
void
pk_tunnel_set_pppd_path (PkTunnel   *self,
                         const char *path)
{
  g_return_if_fail (PK_IS_TUNNEL (self));
  g_free (self->pppd_path);
  self->pppd_path = g_strdup (path ? path : PK_TUNNEL_PPPD_PATH_DEFAULT);
}

/**
 * pk_tunnel_get_pptp_path:
 * @self: a [class@Tunnel]
 *
 * Gets the pptp command in the `pty` option.
 *
 * Returns: the pptp command in the `pty` option
 *
 * Since: 0.1
 */
const char *
pk_tunnel_get_pptp_path (PkTunnel *self)
{
  g_return_val_if_fail (PK_IS_TUNNEL (self), NULL);
  return self->pptp_path;
}

/**
 * pk_tunnel_set_pptp_path:
 * @self: a [class@Tunnel]
 * @path: (nullable): the pptp binary, %NULL for `pptp` from pppd's PATH
 *
 * Sets the pptp command that pppd runs as its pty.
 *
 * Since: 0.1
 */
void
pk_tunnel_set_pptp_path (PkTunnel   *self,
                         const char *path)
{
  g_return_if_fail (PK_IS_TUNNEL (self));
  g_free (self->pptp_path);
  self->pptp_path = g_strdup (path ? path : "pptp");
}

/**
 * pk_tunnel_get_run_dir:
 * @self: a [class@Tunnel]
 *
 * Tells where pppd's pidfiles are looked for.
 *
 * Returns: where pppd's pidfiles are looked for
 *
 * Since: 0.1
 */
const char *
pk_tunnel_get_run_dir (PkTunnel *self)
{
  g_return_val_if_fail (PK_IS_TUNNEL (self), NULL);
  return self->run_dir;
}

/**
 * pk_tunnel_set_run_dir:
 * @self: a [class@Tunnel]
 * @run_dir: (nullable): the directory, %NULL for %PK_TUNNEL_RUN_DIR_DEFAULT
 *
 * Sets where pppd's pidfiles are (pppd's compiled-in `_PATH_VARRUN`;
 * tests point it at a temporary directory).
 *
 * Since: 0.1
 */
void
pk_tunnel_set_run_dir (PkTunnel   *self,
                       const char *run_dir)
{
  g_return_if_fail (PK_IS_TUNNEL (self));
  g_free (self->run_dir);
  self->run_dir = g_strdup (run_dir ? run_dir : PK_TUNNEL_RUN_DIR_DEFAULT);
}

/**
 * pk_tunnel_get_start_timeout_ms:
 * @self: a [class@Tunnel]
 *
 * Tells how long a start waits for the interface, in milliseconds.
 *
 * Returns: how long a start waits for the interface, in milliseconds
 *
 * Since: 0.1
 */
guint
pk_tunnel_get_start_timeout_ms (PkTunnel *self)
{
  g_return_val_if_fail (PK_IS_TUNNEL (self), 0);
  return self->start_timeout_ms;
}

/**
 * pk_tunnel_set_start_timeout_ms:
 * @self: a [class@Tunnel]
 * @timeout_ms: how long a start waits for the interface (default 60 s)
 *
 * Sets the start timeout.
 *
 * Since: 0.1
 */
void
pk_tunnel_set_start_timeout_ms (PkTunnel *self,
                                guint     timeout_ms)
{
  g_return_if_fail (PK_IS_TUNNEL (self));
  self->start_timeout_ms = MAX (timeout_ms, 1);
}

/**
 * pk_tunnel_get_stop_grace_ms:
 * @self: a [class@Tunnel]
 *
 * Tells how long a stop waits after SIGTERM before SIGKILL.
 *
 * Returns: how long a stop waits after SIGTERM before SIGKILL
 *
 * Since: 0.1
 */
guint
pk_tunnel_get_stop_grace_ms (PkTunnel *self)
{
  g_return_val_if_fail (PK_IS_TUNNEL (self), 0);
  return self->stop_grace_ms;
}

/**
 * pk_tunnel_set_stop_grace_ms:
 * @self: a [class@Tunnel]
 * @grace_ms: how long to wait after SIGTERM before SIGKILL (default 5 s)
 *
 * Sets the stop grace period.
 *
 * Since: 0.1
 */
void
pk_tunnel_set_stop_grace_ms (PkTunnel *self,
                             guint     grace_ms)
{
  g_return_if_fail (PK_IS_TUNNEL (self));
  self->stop_grace_ms = grace_ms;
}

/**
 * pk_tunnel_get_state:
 * @self: a [class@Tunnel]
 *
 * Gets the state.
 *
 * Returns: the state
 *
 * Since: 0.1
 */
PkTunnelState
pk_tunnel_get_state (PkTunnel *self)
{
  g_return_val_if_fail (PK_IS_TUNNEL (self), PK_TUNNEL_STATE_DOWN);
  return self->state;
}

/**
 * pk_tunnel_state_to_string:
 * @state: a [enum@TunnelState]
 *
 * Gets the name of a value: `down`, `starting`, `up`, `stopping` or `failed`.
 *
 * Returns: `down`, `starting`, `up`, `stopping` or `failed`
 *
 * Since: 0.1
 */
const char *
pk_tunnel_state_to_string (PkTunnelState state)
{
  switch (state)
    {
    case PK_TUNNEL_STATE_DOWN: return "down";
    case PK_TUNNEL_STATE_STARTING: return "starting";
    case PK_TUNNEL_STATE_UP: return "up";
    case PK_TUNNEL_STATE_STOPPING: return "stopping";
    case PK_TUNNEL_STATE_FAILED: return "failed";
    default: return "invalid";
    }
}

/**
 * pk_tunnel_get_pid:
 * @self: a [class@Tunnel]
 *
 * Gets pppd's pid, or 0.
 *
 * Returns: pppd's pid, or 0
 *
 * Since: 0.1
 */
int
pk_tunnel_get_pid (PkTunnel *self)
{
  g_return_val_if_fail (PK_IS_TUNNEL (self), 0);
  return self->pid;
}

/**
 * pk_tunnel_get_interface:
 * @self: a [class@Tunnel]
 *
 * Gets the interface, once pppd named it.
 *
 * Returns: (nullable): the interface, once pppd named it
 *
 * Since: 0.1
 */
const char *
pk_tunnel_get_interface (PkTunnel *self)
{
  g_return_val_if_fail (PK_IS_TUNNEL (self), NULL);
  return self->interface;
}

/**
 * pk_tunnel_get_last_error:
 * @self: a [class@Tunnel]
 *
 * Tells why the tunnel last failed.
 *
 * Returns: (nullable): why the tunnel last failed
 *
 * Since: 0.1
 */
const char *
pk_tunnel_get_last_error (PkTunnel *self)
{
  g_return_val_if_fail (PK_IS_TUNNEL (self), NULL);
  return self->last_error;
}

/**
 * pk_tunnel_dup_pidfile_path:
 * @self: a [class@Tunnel]
 *
 * Gets the path of pppd's link pidfile.
 *
 * Returns: (transfer full): the path of pppd's link pidfile
 *
 * Since: 0.1
 */
char *
pk_tunnel_dup_pidfile_path (PkTunnel *self)
{
  g_autofree char *file = NULL;

  g_return_val_if_fail (PK_IS_TUNNEL (self), NULL);
  file = g_strdup_printf ("ppp-%s.pid", self->linkname);
  return g_build_filename (self->run_dir, file, NULL);
}

static void
set_state (PkTunnel      *self,
           PkTunnelState  state)
{
  if (self->state == state)
    return;
  g_debug ("tunnel %s: %s -> %s", self->linkname,
           pk_tunnel_state_to_string (self->state), pk_tunnel_state_to_string (state));
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

static void
set_pid (PkTunnel *self,
         int       pid)
{
  if (self->pid == pid)
    return;
  self->pid = pid;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PID]);
}

static void
set_interface (PkTunnel   *self,
               const char *interface)
{
  if (g_strcmp0 (self->interface, interface) == 0)
    return;
  g_free (self->interface);
  self->interface = g_strdup (interface);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_INTERFACE]);
}

static void
set_last_error (PkTunnel   *self,
                const char *message)
{
  g_free (self->last_error);
  self->last_error = g_strdup (message);
}

/* pppd's link pidfile: the pid, then (once the unit exists) the
 * interface name. */
static gboolean
read_pidfile (PkTunnel  *self,
              int       *out_pid,
              char     **out_ifname)
{
  g_autofree char *path = pk_tunnel_dup_pidfile_path (self);
  g_autofree char *text = NULL;

  *out_pid = 0;
  *out_ifname = NULL;
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return FALSE;
  return pk_pppd_parse_pidfile (text, out_pid, out_ifname);
}

/* Reads the pidfile and the interface; moves between starting and up.
 * Returns TRUE if up. */
static gboolean
check_link (PkTunnel *self)
{
  g_autofree char *ifname = NULL;
  int pid = 0;

  if (read_pidfile (self, &pid, &ifname) && ifname != NULL && (self->pid == 0 || pid == self->pid))
    set_interface (self, ifname);
  else if (self->interface == NULL && self->unit >= 0)
    {
      /* the rtnetlink view: pppd names the unit pppN */
      g_autofree char *guess = g_strdup_printf ("ppp%d", self->unit);
      if (pk_netif_is_up (guess, NULL, NULL))
        set_interface (self, guess);
    }

  if (self->interface != NULL && pk_netif_is_up (self->interface, NULL, NULL))
    {
      if (self->state == PK_TUNNEL_STATE_STARTING)
        set_state (self, PK_TUNNEL_STATE_UP);
      return TRUE;
    }
  if (self->state == PK_TUNNEL_STATE_UP)
    set_state (self, PK_TUNNEL_STATE_STARTING);
  return FALSE;
}

static char *
options_file_path (PkTunnel *self)
{
  g_autofree char *file = g_strdup_printf ("pk-tunnel-%s.options", self->linkname);
  return g_build_filename (self->run_dir, file, NULL);
}

/**
 * pk_tunnel_build_argv:
 * @self: a [class@Tunnel]
 * @error: return location for a `GError`
 *
 * Builds pppd's command line as [method@Tunnel.start_async] runs it. With a
 * password, it names the options file (`file PATH`) that a start writes.
 *
 * Returns: (transfer full) (array zero-terminated=1) (nullable): the
 *   argv, or %NULL with %PK_ERROR_INVALID_ARGUMENT if neither a server
 *   nor a peer was set
 *
 * Since: 0.1
 */
char **
pk_tunnel_build_argv (PkTunnel  *self,
                      GError   **error)
{
  g_autofree char *options_file = NULL;
  PkPppdCommand cmd = { 0 };

  g_return_val_if_fail (PK_IS_TUNNEL (self), NULL);

  if (self->password != NULL)
    options_file = options_file_path (self);
  cmd.pppd_path = self->pppd_path;
  cmd.pptp_path = self->pptp_path;
  cmd.linkname = self->linkname;
  cmd.server = self->server;
  cmd.peer = self->peer;
  cmd.unit = self->unit;
  cmd.user = self->user;
  cmd.options_file = options_file;
  cmd.options = (const char * const *) self->options;
  return pk_pppd_build_argv (&cmd, error);
}

static gboolean
write_options_file (PkTunnel  *self,
                    GError   **error)
{
  g_autofree char *path = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GError) local_error = NULL;

  if (self->password == NULL)
    return TRUE;
  path = options_file_path (self);
  text = pk_pppd_options_file_text (self->linkname, self->password);
  if (!g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &local_error))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_TUNNEL, "tunnel %s: cannot write pppd options: %s",
                   self->linkname, local_error->message);
      return FALSE;
    }
  memset (text, 0, strlen (text));
  g_free (self->options_file);
  self->options_file = g_steal_pointer (&path);
  return TRUE;
}

/* Runs `ip ARGS...` and returns its output, or NULL. */
static char *
run_ip (const char * const *args)
{
  g_autofree char *ip = g_find_program_in_path ("ip");
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *out = NULL;
  int status = 0;

  if (ip == NULL)
    ip = g_strdup ("/sbin/ip");
  g_ptr_array_add (argv, ip);
  for (guint i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  if (!g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                     &out, NULL, &status, NULL) ||
      !g_spawn_check_wait_status (status, NULL))
    return NULL;
  return g_steal_pointer (&out);
}

/* pptp adds a host route to the server through the old default gateway
 * so that its GRE packets do not enter the tunnel, and leaves it behind
 * when it is killed. Only an IP literal is handled: resolving a name here
 * could pick another address than pptp did. */
static void
remove_host_route (PkTunnel *self)
{
  g_autoptr(GInetAddress) addr = NULL;
  g_autofree char *dest = NULL;
  g_autofree char *routes = NULL;

  if (self->server == NULL || self->peer != NULL)
    return;
  addr = g_inet_address_new_from_string (self->server);
  if (addr == NULL || g_inet_address_get_family (addr) != G_SOCKET_FAMILY_IPV4)
    return;
  dest = g_strdup_printf ("%s/32", self->server);
  {
    const char *show[] = { "-4", "route", "show", "exact", dest, NULL };
    routes = run_ip (show);
  }
  if (routes == NULL || *g_strstrip (routes) == '\0' || strstr (routes, "dev ppp") != NULL)
    return;
  {
    const char *del[] = { "-4", "route", "del", dest, NULL };
    g_autofree char *out = run_ip (del);
    if (out == NULL)
      g_warning ("tunnel %s: cannot remove the host route to %s", self->linkname, self->server);
    else
      g_info ("tunnel %s: removed the host route to %s left by pptp", self->linkname, self->server);
  }
}

/* After pppd is gone, by itself or stopped: what pppd would have cleaned
 * up had it not been killed. */
static void
cleanup_after_exit (PkTunnel *self)
{
  g_autofree char *path = pk_tunnel_dup_pidfile_path (self);
  g_autofree char *ifname = NULL;
  gboolean other_pppd = FALSE;
  int pid = 0;

  /* ours, or a dead pppd's (killed before it could clean up); a live
   * one is a new tunnel of this link, started by someone else */
  if (read_pidfile (self, &pid, &ifname) && pid != self->pid && pk_process_is_alive (pid, NULL))
    other_pppd = TRUE;
  else if (pid != 0)
    {
      g_unlink (path);
      if (ifname != NULL)
        {
          g_autofree char *unit_file = g_strdup_printf ("%s.pid", ifname);
          g_autofree char *unit_path = g_build_filename (self->run_dir, unit_file, NULL);
          g_unlink (unit_path);
        }
    }
  /* the same path serves the other pppd: it removes it when it stops */
  if (self->options_file != NULL && !other_pppd)
    g_unlink (self->options_file);
  g_clear_pointer (&self->options_file, g_free);
  if (!other_pppd)
    remove_host_route (self);
  pk_source_clear (&self->monitor);
  g_clear_object (&self->process);
  set_pid (self, 0);
  set_interface (self, NULL);
}

static void
finish_stops (PkTunnel *self)
{
  g_autoptr(GPtrArray) tasks = g_steal_pointer (&self->stop_tasks);

  self->stop_tasks = g_ptr_array_new ();
  pk_source_clear (&self->stop_poll);
  pk_source_clear (&self->stop_kill);
  for (guint i = 0; i < tasks->len; i++)
    {
      GTask *task = g_ptr_array_index (tasks, i);
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
    }
}

/* pppd is gone: a stop is complete, a start failed, or an up tunnel died. */
static void
tunnel_process_gone (PkTunnel   *self,
                     const char *why)
{
  /* The signals below may drop the caller's last reference. */
  G_GNUC_UNUSED g_autoptr(PkTunnel) hold = g_object_ref (self);
  gboolean stopping = self->state == PK_TUNNEL_STATE_STOPPING;

  cleanup_after_exit (self);
  if (stopping)
    {
      set_state (self, self->fail_when_gone ? PK_TUNNEL_STATE_FAILED : PK_TUNNEL_STATE_DOWN);
      self->fail_when_gone = FALSE;
      finish_stops (self);
      return;
    }

  set_last_error (self, why);
  g_message ("%s", why);
  set_state (self, PK_TUNNEL_STATE_FAILED);
  if (self->start_task != NULL)
    tunnel_finish_start (self, g_error_new_literal (PK_ERROR, PK_ERROR_TUNNEL, why));
}

static void
process_exited (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  GSubprocess *process = G_SUBPROCESS (source);
  g_autoptr(GError) error = NULL;
  PkTunnel *self;
  g_autofree char *why = NULL;

  if (!g_subprocess_wait_finish (process, result, &error))
    return;   /* cancelled: the tunnel object went away */
  self = user_data;
  if (self->process != process)
    return;

  if (g_subprocess_get_if_exited (process))
    {
      int status = g_subprocess_get_exit_status (process);
      why = g_strdup_printf ("tunnel %s: pppd exited with status %d: %s", self->linkname,
                             status, pk_tunnel_describe_exit_status (status));
    }
  else
    why = g_strdup_printf ("tunnel %s: pppd was killed by signal %d (%s)", self->linkname,
                           g_subprocess_get_term_sig (process),
                           g_strsignal (g_subprocess_get_term_sig (process)));
  tunnel_process_gone (self, why);
}

/* For a pppd we did not start, nobody gets its exit status: its
 * disappearance is noticed by polling. */
static gboolean
monitor_adopted (gpointer user_data)
{
  PkTunnel *self = user_data;
  g_autofree char *why = NULL;

  /* our own child's end comes with its exit status (process_exited) */
  if (self->process != NULL || (self->pid != 0 && pk_process_is_alive (self->pid, NULL)))
    {
      if (self->state == PK_TUNNEL_STATE_UP || self->state == PK_TUNNEL_STATE_STARTING)
        check_link (self);
      return G_SOURCE_CONTINUE;
    }
  g_clear_pointer (&self->monitor, g_source_unref);
  why = g_strdup_printf ("tunnel %s: pppd (pid %d) has exited", self->linkname, self->pid);
  tunnel_process_gone (self, why);
  return G_SOURCE_REMOVE;
}

static void
tunnel_finish_start (PkTunnel *self,
                     GError   *error)
{
  GTask *task = g_steal_pointer (&self->start_task);

  pk_source_clear (&self->start_poll);
  pk_source_clear (&self->start_timeout);
  pk_source_clear (&self->start_cancel);
  if (task == NULL)
    {
      g_clear_error (&error);
      return;
    }
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static gboolean
start_poll_cb (gpointer user_data)
{
  PkTunnel *self = user_data;

  if (!check_link (self))
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&self->start_poll, g_source_unref);
  g_info ("tunnel %s: up on %s (pppd pid %d)", self->linkname, self->interface, self->pid);
  tunnel_finish_start (self, NULL);
  /* from now on, notice the interface going down */
  self->monitor = pk_timeout_source_attach (NULL, POLL_MS * 5, monitor_adopted, self);
  return G_SOURCE_REMOVE;
}

static void
stop_internal (PkTunnel *self);

static gboolean
start_timeout_cb (gpointer user_data)
{
  PkTunnel *self = user_data;
  g_autofree char *why = NULL;

  g_clear_pointer (&self->start_timeout, g_source_unref);
  why = g_strdup_printf ("tunnel %s did not come up within %u ms%s%s", self->linkname,
                         self->start_timeout_ms, self->interface ? " on " : "",
                         self->interface ? self->interface : "");
  set_last_error (self, why);
  g_message ("%s", why);
  tunnel_finish_start (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_TIMED_OUT, why));
  /* Take pppd down; the tunnel ends in "failed", not "down". */
  self->fail_when_gone = TRUE;
  stop_internal (self);
  return G_SOURCE_REMOVE;
}

static gboolean
start_cancelled_cb (GCancellable *cancellable,
                    gpointer      user_data)
{
  PkTunnel *self = user_data;

  g_clear_pointer (&self->start_cancel, g_source_unref);
  tunnel_finish_start (self, g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                          "the start of tunnel %s was cancelled", self->linkname));
  stop_internal (self);
  return G_SOURCE_REMOVE;
}

/* Our pppd's command line names our linkname: a recycled pid that now
 * belongs to something else is not adopted. */
static gboolean
cmdline_has_linkname (PkTunnel *self,
                      int       pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/cmdline", pid);
  g_autofree char *data = NULL;
  gsize len = 0;

  return g_file_get_contents (path, &data, &len, NULL) &&
         pk_pppd_cmdline_has_linkname (data, len, self->linkname);
}

/**
 * pk_tunnel_start_async:
 * @self: a [class@Tunnel]
 * @cancellable: (nullable): a `GCancellable`; cancelling stops pppd
 * @callback: (scope async): called when the tunnel is up or failed
 * @user_data: data for @callback
 *
 * Starts pppd and waits until the interface is up, at most
 * [method@Tunnel.set_start_timeout_ms]. Fails with %PK_ERROR_BUSY if a pppd with
 * this linkname already runs (adopt it instead), %PK_ERROR_TUNNEL naming
 * pppd's exit status if it exits first, or %G_IO_ERROR_TIMED_OUT (pppd
 * is then stopped).
 *
 * Since: 0.1
 */
void
pk_tunnel_start_async (PkTunnel            *self,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_auto(GStrv) argv = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autofree char *existing_if = NULL;
  g_autofree char *pidfile = NULL;
  int existing = 0;

  g_return_if_fail (PK_IS_TUNNEL (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_tunnel_start_async);

  if (self->state == PK_TUNNEL_STATE_STARTING || self->state == PK_TUNNEL_STATE_UP ||
      self->state == PK_TUNNEL_STATE_STOPPING)
    {
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_BUSY, "tunnel %s is already %s",
                               self->linkname, pk_tunnel_state_to_string (self->state));
      return;
    }
  if (read_pidfile (self, &existing, &existing_if) && pk_process_is_alive (existing, NULL) &&
      cmdline_has_linkname (self, existing))
    {
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_BUSY,
                               "tunnel %s: pppd already runs with this linkname (pid %d); adopt it",
                               self->linkname, existing);
      return;
    }
  /* a stale pidfile from a pppd that was killed */
  pidfile = pk_tunnel_dup_pidfile_path (self);
  g_unlink (pidfile);

  argv = pk_tunnel_build_argv (self, &error);
  if (argv == NULL || !write_options_file (self, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_INHERIT);
  self->process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv, &error);
  if (self->process == NULL)
    {
      g_autofree char *why = g_strdup_printf ("tunnel %s: cannot run %s: %s", self->linkname,
                                              self->pppd_path, error->message);
      set_last_error (self, why);
      cleanup_after_exit (self);
      set_state (self, PK_TUNNEL_STATE_FAILED);
      g_task_return_new_error (task, PK_ERROR, PK_ERROR_TUNNEL, "%s", why);
      return;
    }
  g_info ("tunnel %s: started %s (pid %s)", self->linkname, self->pppd_path,
          g_subprocess_get_identifier (self->process));
  set_pid (self, atoi (g_subprocess_get_identifier (self->process)));
  set_interface (self, NULL);
  set_last_error (self, NULL);
  set_state (self, PK_TUNNEL_STATE_STARTING);

  g_clear_object (&self->process_cancellable);
  self->process_cancellable = g_cancellable_new ();
  g_subprocess_wait_async (self->process, self->process_cancellable, process_exited, self);

  self->start_task = g_steal_pointer (&task);
  self->start_poll = pk_timeout_source_attach (NULL, POLL_MS, start_poll_cb, self);
  self->start_timeout = pk_timeout_source_attach (NULL, self->start_timeout_ms, start_timeout_cb, self);
  if (cancellable != NULL)
    {
      self->start_cancel = g_cancellable_source_new (cancellable);
      g_source_set_callback (self->start_cancel, G_SOURCE_FUNC (start_cancelled_cb), self, NULL);
      g_source_attach (self->start_cancel, g_main_context_get_thread_default ());
    }
}

/**
 * pk_tunnel_start_finish:
 * @self: a [class@Tunnel]
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Finishes [method@Tunnel.start_async].
 *
 * Returns: %TRUE if the tunnel is up
 *
 * Since: 0.1
 */
gboolean
pk_tunnel_start_finish (PkTunnel      *self,
                        GAsyncResult  *result,
                        GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pk_tunnel_start_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static gboolean
stop_kill_cb (gpointer user_data)
{
  PkTunnel *self = user_data;

  g_clear_pointer (&self->stop_kill, g_source_unref);
  if (self->pid != 0)
    {
      g_message ("tunnel %s: pppd (pid %d) ignored SIGTERM for %u ms; sending SIGKILL",
                 self->linkname, self->pid, self->stop_grace_ms);
      kill (self->pid, SIGKILL);
    }
  return G_SOURCE_REMOVE;
}

/* an adopted pppd is not our child: poll until it is gone */
static gboolean
stop_poll_cb (gpointer user_data)
{
  PkTunnel *self = user_data;

  if (self->pid != 0 && pk_process_is_alive (self->pid, NULL))
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&self->stop_poll, g_source_unref);
  tunnel_process_gone (self, NULL);
  return G_SOURCE_REMOVE;
}

static void
stop_internal (PkTunnel *self)
{
  if (self->pid == 0)
    {
      cleanup_after_exit (self);
      set_state (self, PK_TUNNEL_STATE_DOWN);
      finish_stops (self);
      return;
    }
  if (self->state == PK_TUNNEL_STATE_STOPPING)
    return;
  set_state (self, PK_TUNNEL_STATE_STOPPING);
  pk_source_clear (&self->monitor);
  kill (self->pid, SIGTERM);
  if (self->stop_grace_ms > 0)
    self->stop_kill = pk_timeout_source_attach (NULL, self->stop_grace_ms, stop_kill_cb, self);
  else
    kill (self->pid, SIGKILL);
  if (self->process == NULL)
    self->stop_poll = pk_timeout_source_attach (NULL, POLL_MS / 2, stop_poll_cb, self);
}

/**
 * pk_tunnel_stop_async:
 * @self: a [class@Tunnel]
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async): called when pppd is gone
 * @user_data: data for @callback
 *
 * Stops pppd: SIGTERM, then SIGKILL after [method@Tunnel.set_stop_grace_ms]. Then
 * removes the host route to the server that pptp leaves behind, the
 * pidfiles a killed pppd leaves, and the options file. A start in
 * progress fails with %G_IO_ERROR_CANCELLED. Stopping a tunnel that is
 * down succeeds at once.
 *
 * Since: 0.1
 */
void
pk_tunnel_stop_async (PkTunnel            *self,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (PK_IS_TUNNEL (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pk_tunnel_stop_async);
  g_ptr_array_add (self->stop_tasks, task);

  self->fail_when_gone = FALSE;
  if (self->start_task != NULL)
    tunnel_finish_start (self, g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                            "tunnel %s was stopped while starting", self->linkname));
  set_last_error (self, NULL);
  stop_internal (self);
}

/**
 * pk_tunnel_stop_finish:
 * @self: a [class@Tunnel]
 * @result: the `GAsyncResult`
 * @error: return location for a `GError`
 *
 * Finishes [method@Tunnel.stop_async].
 *
 * Returns: %TRUE once pppd is gone
 *
 * Since: 0.1
 */
gboolean
pk_tunnel_stop_finish (PkTunnel      *self,
                       GAsyncResult  *result,
                       GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pk_tunnel_stop_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * pk_tunnel_adopt:
 * @self: a [class@Tunnel]
 * @error: return location for a `GError`
 *
 * Takes over a pppd that runs with this linkname, from its pidfile (after
 * a restart of our process). The tunnel is then up, or starting if the
 * interface is not up yet, and is watched until pppd ends.
 *
 * Returns: %TRUE if a pppd was adopted; %FALSE with %G_IO_ERROR_NOT_FOUND
 *   if none runs, %PK_ERROR_BUSY if this tunnel already runs one
 *
 * Since: 0.1
 */
gboolean
pk_tunnel_adopt (PkTunnel  *self,
                 GError   **error)
{
  g_autofree char *ifname = NULL;
  g_autofree char *path = NULL;
  int pid = 0;

  g_return_val_if_fail (PK_IS_TUNNEL (self), FALSE);

  if (self->pid != 0)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_BUSY, "tunnel %s already runs pppd (pid %d)",
                   self->linkname, self->pid);
      return FALSE;
    }
  path = pk_tunnel_dup_pidfile_path (self);
  if (!read_pidfile (self, &pid, &ifname))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "tunnel %s: no pppd pidfile at %s", self->linkname, path);
      return FALSE;
    }
  if (!pk_process_is_alive (pid, NULL) || !cmdline_has_linkname (self, pid))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "tunnel %s: %s names pid %d, which is not a running pppd with linkname %s",
                   self->linkname, path, pid, self->linkname);
      return FALSE;
    }

  set_pid (self, pid);
  set_interface (self, ifname);
  set_last_error (self, NULL);
  set_state (self, PK_TUNNEL_STATE_STARTING);
  check_link (self);
  self->monitor = pk_timeout_source_attach (NULL, POLL_MS * 5, monitor_adopted, self);
  g_info ("tunnel %s: adopted pppd (pid %d) on %s, %s", self->linkname, pid,
          ifname ? ifname : "no interface yet", pk_tunnel_state_to_string (self->state));
  return TRUE;
}

/**
 * pk_tunnel_refresh:
 * @self: a [class@Tunnel]
 *
 * Checks pppd and the interface now, instead of at the next poll, and
 * updates the state.
 *
 * Returns: %TRUE if the tunnel is up
 *
 * Since: 0.1
 */
gboolean
pk_tunnel_refresh (PkTunnel *self)
{
  g_return_val_if_fail (PK_IS_TUNNEL (self), FALSE);

  if (self->state != PK_TUNNEL_STATE_UP && self->state != PK_TUNNEL_STATE_STARTING)
    return FALSE;
  if (self->process == NULL && !pk_process_is_alive (self->pid, NULL))
    {
      g_autofree char *why = g_strdup_printf ("tunnel %s: pppd (pid %d) has exited",
                                              self->linkname, self->pid);
      tunnel_process_gone (self, why);
      return FALSE;
    }
  return check_link (self);
}

/**
 * pk_tunnel_get_egress:
 * @self: a [class@Tunnel]
 * @error: return location for a `GError`
 *
 * Makes a new [class@Egress] bound to the tunnel's interface with its IPv4 address
 * as source, or %NULL with %PK_ERROR_TUNNEL if the tunnel is not up.
 *
 * Returns: (transfer full) (nullable): a new [class@Egress] bound to the
 *   tunnel's interface with its IPv4 address as source, or %NULL with
 *   %PK_ERROR_TUNNEL if the tunnel is not up
 *
 * Since: 0.1
 */
PkEgress *
pk_tunnel_get_egress (PkTunnel  *self,
                      GError   **error)
{
  g_autofree char *ipv4 = NULL;
  g_autofree char *reason = NULL;

  g_return_val_if_fail (PK_IS_TUNNEL (self), NULL);

  if (self->state != PK_TUNNEL_STATE_UP || self->interface == NULL)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_TUNNEL, "tunnel %s is %s, not up",
                   self->linkname, pk_tunnel_state_to_string (self->state));
      return NULL;
    }
  if (!pk_netif_is_up (self->interface, &ipv4, &reason))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_TUNNEL, "tunnel %s: %s", self->linkname, reason);
      return NULL;
    }
  return pk_egress_new_full (ipv4, self->interface, 0, 0, error);
}
