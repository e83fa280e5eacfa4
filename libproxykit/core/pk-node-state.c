/* pk-node-state.c: the recorded state of one proxy node
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkNodeState:
 *
 * What is known about one proxy node: its status (`starting`, `online`,
 * `ping_failed`, `stopped`), the PPTP tunnel or the dongle it leaves
 * through, the SOCKS listener that serves it and the watchdog's counters.
 * A dongle node (`"dongle": { "id": 11, "interface": "enx...",
 * "address": "192.168.11.100" }`) is what [class@DongleFarm] records for
 * each dongle's listener.
 *
 * A [class@NodeState] is a plain value object; [class@StateStore] reads and writes
 * it as one JSON file per node, which is what the tools share (pk-socks
 * records its tunnel and listener, pk-watchdog reads them and records
 * failures).
 *
 * ```c
 * g_autoptr(PkNodeState) node = pk_node_state_new ("11");
 *
 * pk_node_state_set_tunnel (node, "vpn.example.net", "pk-11", 11, "ppp11", pppd_pid);
 * pk_node_state_set_socks (node, "0.0.0.0:10011", getpid ());
 * pk_node_state_set_status (node, PK_NODE_STATUS_ONLINE, NULL);
 * pk_state_store_save (store, node, &error);
 * ```
 *
 * The JSON form:
 *
 * ```json
 * {
 *   "name": "11",
 *   "status": "online",
 *   "status_changed": 1795000000,
 *   "reason": null,
 *   "tunnel": { "server": "vpn.example.net", "linkname": "pk-11", "unit": 11,
 *               "interface": "ppp11", "pid": 4242 },
 *   "socks": { "listen": "0.0.0.0:10011", "pid": 4240 },
 *   "dongle": null,
 *   "counters": { "fails": 0, "consecutive_failures": 0, "recoveries": 0,
 *                 "last_change": 1795000000 }
 * }
 * ```
 *
 * Since: 0.1
 */

#include "config.h"

#include <signal.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "pk-enum-types.h"
#include "pk-error.h"
#include "pk-node-state.h"

struct _PkNodeState
{
  GObject parent_instance;

  char *name;
  PkNodeStatus status;
  gint64 status_changed;
  char *reason;

  gboolean has_tunnel;
  char *tunnel_server;
  char *tunnel_linkname;
  int tunnel_unit;
  char *tunnel_interface;
  int tunnel_pid;

  gboolean has_socks;
  char *socks_listen;
  int socks_pid;
  char *socks_process;    /* "BOOT_ID:STARTTIME" of socks_pid when recorded */

  guint dongle_id;
  char *dongle_interface;
  char *dongle_address;

  guint fails;
  guint consecutive_failures;
  guint recoveries;
  gint64 last_change;
};

G_DEFINE_FINAL_TYPE (PkNodeState, pk_node_state, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_NAME,
  PROP_STATUS,
  PROP_FAILS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static const char * const status_names[] = {
  [PK_NODE_STATUS_STARTING] = "starting",
  [PK_NODE_STATUS_ONLINE] = "online",
  [PK_NODE_STATUS_PING_FAILED] = "ping_failed",
  [PK_NODE_STATUS_STOPPED] = "stopped",
  [PK_NODE_STATUS_RECOVERING] = "recovering",
};

/**
 * pk_node_status_to_string:
 * @status: a [enum@NodeStatus]
 *
 * Gets the name of @status as written in state files.
 *
 * Returns: the name of @status as written in state files
 *
 * Since: 0.1
 */
const char *
pk_node_status_to_string (PkNodeStatus status)
{
  if ((guint) status >= G_N_ELEMENTS (status_names))
    return "unknown";
  return status_names[status];
}

/**
 * pk_node_status_from_string:
 * @str: a status name such as `online`
 * @out_status: (out): the status
 *
 * Parses the name of a status, as written in state files.
 *
 * Returns: %TRUE if @str names a status
 *
 * Since: 0.1
 */
gboolean
pk_node_status_from_string (const char   *str,
                            PkNodeStatus *out_status)
{
  for (guint i = 0; i < G_N_ELEMENTS (status_names); i++)
    if (g_strcmp0 (str, status_names[i]) == 0)
      {
        *out_status = i;
        return TRUE;
      }
  return FALSE;
}

static void
pk_node_state_finalize (GObject *object)
{
  PkNodeState *self = PK_NODE_STATE (object);

  g_free (self->name);
  g_free (self->reason);
  pk_node_state_clear_tunnel (self);
  pk_node_state_clear_socks (self);
  pk_node_state_clear_dongle (self);

  G_OBJECT_CLASS (pk_node_state_parent_class)->finalize (object);
}

static void
pk_node_state_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  PkNodeState *self = PK_NODE_STATE (object);

  switch (prop_id)
    {
    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    case PROP_STATUS:
      g_value_set_enum (value, self->status);
      break;
    case PROP_FAILS:
      g_value_set_uint (value, self->fails);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_node_state_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  PkNodeState *self = PK_NODE_STATE (object);

  switch (prop_id)
    {
    case PROP_NAME:
      self->name = g_value_dup_string (value);
      break;
    case PROP_STATUS:
      pk_node_state_set_status (self, g_value_get_enum (value), NULL);
      break;
    case PROP_FAILS:
      pk_node_state_set_fails (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_node_state_class_init (PkNodeStateClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = pk_node_state_finalize;
  object_class->get_property = pk_node_state_get_property;
  object_class->set_property = pk_node_state_set_property;

  /**
   * PkNodeState:name:
   *
   * The node's name, also the name of its state file (`NAME.json`).
   *
   * Since: 0.1
   */
  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * PkNodeState:status:
   *
   * The node's status.
   *
   * Since: 0.1
   */
  properties[PROP_STATUS] =
    g_param_spec_enum ("status", NULL, NULL, PK_TYPE_NODE_STATUS, PK_NODE_STATUS_STOPPED,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * PkNodeState:fails:
   *
   * How many confirmed failures the node has had in total.
   *
   * Since: 0.1
   */
  properties[PROP_FAILS] =
    g_param_spec_uint ("fails", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
pk_node_state_init (PkNodeState *self)
{
  self->status = PK_NODE_STATUS_STOPPED;
}

/**
 * pk_node_state_new:
 * @name: the node's name
 *
 * Creates the state of a node that has never run: status `stopped`, no
 * tunnel, no listener, counters at zero.
 *
 * Returns: (transfer full): a new [class@NodeState]
 *
 * Since: 0.1
 */
PkNodeState *
pk_node_state_new (const char *name)
{
  g_return_val_if_fail (name != NULL, NULL);

  return g_object_new (PK_TYPE_NODE_STATE, "name", name, NULL);
}

/**
 * pk_node_state_get_name:
 * @self: a [class@NodeState]
 *
 * Gets the node's name.
 *
 * Returns: the node's name
 *
 * Since: 0.1
 */
const char *
pk_node_state_get_name (PkNodeState *self)
{
  g_return_val_if_fail (PK_IS_NODE_STATE (self), NULL);
  return self->name;
}

/**
 * pk_node_state_get_status:
 * @self: a [class@NodeState]
 *
 * Gets the node's status.
 *
 * Returns: the node's status
 *
 * Since: 0.1
 */
PkNodeStatus
pk_node_state_get_status (PkNodeState *self)
{
  g_return_val_if_fail (PK_IS_NODE_STATE (self), PK_NODE_STATUS_STOPPED);
  return self->status;
}

/**
 * pk_node_state_set_status:
 * @self: a [class@NodeState]
 * @status: the new status
 * @reason: (nullable): why, for failures (shown by `pk-watchdog --status`)
 *
 * Sets the status and its reason. When the status changes, the time of
 * the change is recorded.
 *
 * Since: 0.1
 */
void
pk_node_state_set_status (PkNodeState  *self,
                          PkNodeStatus  status,
                          const char   *reason)
{
  g_return_if_fail (PK_IS_NODE_STATE (self));

  if (g_strcmp0 (reason, self->reason) != 0)
    {
      g_free (self->reason);
      self->reason = g_strdup (reason);
    }
  if (status == self->status)
    return;
  self->status = status;
  self->status_changed = g_get_real_time () / G_USEC_PER_SEC;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
}

/**
 * pk_node_state_get_reason:
 * @self: a [class@NodeState]
 *
 * Gets the reason given with the status.
 *
 * Returns: (nullable): the reason given with the status
 *
 * Since: 0.1
 */
const char *
pk_node_state_get_reason (PkNodeState *self)
{
  g_return_val_if_fail (PK_IS_NODE_STATE (self), NULL);
  return self->reason;
}

/**
 * pk_node_state_get_status_changed:
 * @self: a [class@NodeState]
 *
 * Tells when the status last changed, in seconds since the epoch (0 if never).
 *
 * Returns: when the status last changed, in seconds since the epoch (0 if never)
 *
 * Since: 0.1
 */
gint64
pk_node_state_get_status_changed (PkNodeState *self)
{
  g_return_val_if_fail (PK_IS_NODE_STATE (self), 0);
  return self->status_changed;
}

/**
 * pk_node_state_get_tunnel_server:
 * @self: a [class@NodeState]
 *
 * Gets the PPTP server, or %NULL without a tunnel.
 *
 * Returns: (nullable): the PPTP server, or %NULL without a tunnel
 *
 * Since: 0.1
 */
const char *
pk_node_state_get_tunnel_server (PkNodeState *self)
{
  g_return_val_if_fail (PK_IS_NODE_STATE (self), NULL);
  return self->tunnel_server;
}

/**
 * pk_node_state_get_tunnel_linkname:
 * @self: a [class@NodeState]
 *
 * Gets pppd's linkname (its pidfile is `ppp-LINKNAME.pid`).
 *
 * Returns: (nullable): pppd's linkname (its pidfile is `ppp-LINKNAME.pid`)
 *
 * Since: 0.1
 */
const char *
pk_node_state_get_tunnel_linkname (PkNodeState *self)
{
  g_return_val_if_fail (PK_IS_NODE_STATE (self), NULL);
  return self->tunnel_linkname;
}

/**
 * pk_node_state_get_tunnel_interface:
 * @self: a [class@NodeState]
 *
 * Gets the tunnel's interface (`pppN`).
 *
 * Returns: (nullable): the tunnel's interface (`pppN`)
 *
 * Since: 0.1
 */
const char *
pk_node_state_get_tunnel_interface (PkNodeState *self)
{
  g_return_val_if_fail (PK_IS_NODE_STATE (self), NULL);
  return self->tunnel_interface;
}

/**
 * pk_node_state_get_tunnel_unit:
 * @self: a [class@NodeState]
 *
 * Gets pppd's unit number, or -1 without a tunnel.
 *
 * Returns: pppd's unit number, or -1 without a tunnel
 *
 * Since: 0.1
 */
int
pk_node_state_get_tunnel_unit (PkNodeState *self)
{
  g_return_val_if_fail (PK_IS_NODE_STATE (self), -1);
  return self->has_tunnel ? self->tunnel_unit : -1;
}

/**
 * pk_node_state_get_tunnel_pid:
 * @self: a [class@NodeState]
 *
 * Gets the pid of pppd, or 0.
 *
 * Returns: the pid of pppd, or 0
 *
 * Since: 0.1
 */
int
pk_node_state_get_tunnel_pid (PkNodeState *self)
{
  g_return_val_if_fail (PK_IS_NODE_STATE (self), 0);
  return self->tunnel_pid;
}

/**
 * pk_node_state_set_tunnel:
 * @self: a [class@NodeState]
 * @server: (nullable): the PPTP server
 * @linkname: (nullable): pppd's linkname
 * @unit: pppd's unit number, or -1
 * @interface: (nullable): the interface, such as `ppp11`
 * @pid: pppd's pid, or 0
 *
 * Records the node's tunnel.
 *
 * Since: 0.1
 */
void
pk_node_state_set_tunnel (PkNodeState *self,
                          const char  *server,
                          const char  *linkname,
                          int          unit,
                          const char  *interface,
                          int          pid)
{
  /* the arguments may be this node's own strings */
  char *new_server = g_strdup (server);
  char *new_linkname = g_strdup (linkname);
  char *new_interface = g_strdup (interface);

  g_return_if_fail (PK_IS_NODE_STATE (self));

  pk_node_state_clear_tunnel (self);
  self->has_tunnel = TRUE;
  self->tunnel_server = new_server;
  self->tunnel_linkname = new_linkname;
  self->tunnel_unit = unit;
  self->tunnel_interface = new_interface;
  self->tunnel_pid = pid;
}

/**
 * pk_node_state_clear_tunnel:
 * @self: a [class@NodeState]
 *
 * Forgets the tunnel (after it was destroyed).
 *
 * Since: 0.1
 */
void
pk_node_state_clear_tunnel (PkNodeState *self)
{
  g_return_if_fail (PK_IS_NODE_STATE (self));

  self->has_tunnel = FALSE;
  g_clear_pointer (&self->tunnel_server, g_free);
  g_clear_pointer (&self->tunnel_linkname, g_free);
  g_clear_pointer (&self->tunnel_interface, g_free);
  self->tunnel_unit = -1;
  self->tunnel_pid = 0;
}

/* Who a pid is: the boot it runs in and its start time (field 22 of
 * /proc/PID/stat, in clock ticks since boot). A reused pid, in this boot
 * or a later one, has another. NULL if the process does not run. */
static char *
process_identity (int pid)
{
  g_autofree char *path = NULL;
  g_autofree char *stat = NULL;
  g_autofree char *boot_id = NULL;
  g_auto(GStrv) fields = NULL;
  const char *paren;

  if (pid <= 0)
    return NULL;
  path = g_strdup_printf ("/proc/%d/stat", pid);
  if (!g_file_get_contents (path, &stat, NULL, NULL) ||
      (paren = strrchr (stat, ')')) == NULL)
    return NULL;
  /* after the command: state (field 3) ... starttime (field 22) */
  fields = g_strsplit (paren + 1, " ", 0);
  if (g_strv_length (fields) < 21 || fields[1][0] == 'Z' || fields[1][0] == 'X')
    return NULL;
  if (!g_file_get_contents ("/proc/sys/kernel/random/boot_id", &boot_id, NULL, NULL))
    boot_id = g_strdup ("");
  return g_strdup_printf ("%s:%s", g_strstrip (boot_id), fields[20]);
}

static gboolean
process_is_pk_socks (int pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/cmdline", pid);
  g_autofree char *cmdline = NULL;
  g_autofree char *base = NULL;

  if (!g_file_get_contents (path, &cmdline, NULL, NULL))
    return FALSE;
  base = g_path_get_basename (cmdline);
  return g_str_equal (base, "pk-socks");
}

/**
 * pk_node_state_get_socks_listen:
 * @self: a [class@NodeState]
 *
 * Gets the SOCKS listener's address, or %NULL.
 *
 * Returns: (nullable): the SOCKS listener's address, or %NULL
 *
 * Since: 0.1
 */
const char *
pk_node_state_get_socks_listen (PkNodeState *self)
{
  g_return_val_if_fail (PK_IS_NODE_STATE (self), NULL);
  return self->socks_listen;
}

/**
 * pk_node_state_get_socks_pid:
 * @self: a [class@NodeState]
 *
 * Gets the pid of the process serving SOCKS (pk-socks), or 0.
 *
 * Returns: the pid of the process serving SOCKS (pk-socks), or 0
 *
 * Since: 0.1
 */
int
pk_node_state_get_socks_pid (PkNodeState *self)
{
  g_return_val_if_fail (PK_IS_NODE_STATE (self), 0);
  return self->socks_pid;
}

/**
 * pk_node_state_set_socks:
 * @self: a [class@NodeState]
 * @listen: (nullable): the listener's address, such as `0.0.0.0:10011`
 * @pid: the pid of the process that serves it, or 0
 *
 * Records the node's SOCKS listener.
 *
 * Since: 0.1
 */
void
pk_node_state_set_socks (PkNodeState *self,
                         const char  *listen,
                         int          pid)
{
  /* @listen may be this node's own string */
  char *new_listen = g_strdup (listen);

  g_return_if_fail (PK_IS_NODE_STATE (self));

  pk_node_state_clear_socks (self);
  self->has_socks = TRUE;
  self->socks_listen = new_listen;
  self->socks_pid = pid;
  self->socks_process = process_identity (pid);
}

/**
 * pk_node_state_clear_socks:
 * @self: a [class@NodeState]
 *
 * Forgets the SOCKS listener (after it was stopped).
 *
 * Since: 0.1
 */
void
pk_node_state_clear_socks (PkNodeState *self)
{
  g_return_if_fail (PK_IS_NODE_STATE (self));

  self->has_socks = FALSE;
  g_clear_pointer (&self->socks_listen, g_free);
  g_clear_pointer (&self->socks_process, g_free);
  self->socks_pid = 0;
}

/**
 * pk_node_state_get_dongle_id:
 * @self: a [class@NodeState]
 *
 * The number N of the dongle the node leaves through, or 0 if it is not a
 * dongle node.
 *
 * Returns: the number N of the dongle the node leaves through, or 0 if it
 *   is not a dongle node
 *
 * Since: 0.2
 */
guint
pk_node_state_get_dongle_id (PkNodeState *self)
{
  g_return_val_if_fail (PK_IS_NODE_STATE (self), 0);
  return self->dongle_id;
}

/**
 * pk_node_state_get_dongle_interface:
 * @self: a [class@NodeState]
 *
 * The dongle's network interface, or %NULL.
 *
 * Returns: (nullable): the dongle's network interface, or %NULL
 *
 * Since: 0.2
 */
const char *
pk_node_state_get_dongle_interface (PkNodeState *self)
{
  g_return_val_if_fail (PK_IS_NODE_STATE (self), NULL);
  return self->dongle_interface;
}

/**
 * pk_node_state_get_dongle_address:
 * @self: a [class@NodeState]
 *
 * The host's address on the dongle's subnet (the egress
 * address), or %NULL.
 *
 * Returns: (nullable): the host's address on the dongle's subnet (the
 *   egress address), or %NULL
 *
 * Since: 0.2
 */
const char *
pk_node_state_get_dongle_address (PkNodeState *self)
{
  g_return_val_if_fail (PK_IS_NODE_STATE (self), NULL);
  return self->dongle_address;
}

/**
 * pk_node_state_set_dongle:
 * @self: a [class@NodeState]
 * @id: the dongle's number N (1-255)
 * @interface: (nullable): its network interface
 * @address: (nullable): the host's address on its subnet, such as `192.168.11.100`
 *
 * Records the dongle the node leaves through.
 *
 * Since: 0.2
 */
void
pk_node_state_set_dongle (PkNodeState *self,
                          guint        id,
                          const char  *interface,
                          const char  *address)
{
  char *new_interface = g_strdup (interface);
  char *new_address = g_strdup (address);

  g_return_if_fail (PK_IS_NODE_STATE (self));

  pk_node_state_clear_dongle (self);
  self->dongle_id = id;
  self->dongle_interface = new_interface;
  self->dongle_address = new_address;
}

/**
 * pk_node_state_clear_dongle:
 * @self: a [class@NodeState]
 *
 * Forgets the dongle.
 *
 * Since: 0.2
 */
void
pk_node_state_clear_dongle (PkNodeState *self)
{
  g_return_if_fail (PK_IS_NODE_STATE (self));

  self->dongle_id = 0;
  g_clear_pointer (&self->dongle_interface, g_free);
  g_clear_pointer (&self->dongle_address, g_free);
}

/**
 * pk_node_state_socks_pid_is_current:
 * @self: a [class@NodeState]
 *
 * Whether the recorded SOCKS pid still belongs to the process that was
 * recorded, so that it is safe to signal. A pid is reused once its
 * process has exited (after a reboot, by anything), so the pid alone
 * does not say: [method@NodeState.set_socks] also records the process's
 * start time and the boot it started in, and this compares them. For a
 * state written without them (by an older version), the process must be
 * a `pk-socks`.
 *
 * Returns: %TRUE if the listener's process is the one recorded and runs
 *
 * Since: 0.2
 */
gboolean
pk_node_state_socks_pid_is_current (PkNodeState *self)
{
  g_autofree char *now = NULL;

  g_return_val_if_fail (PK_IS_NODE_STATE (self), FALSE);

  if (self->socks_pid <= 0)
    return FALSE;
  now = process_identity (self->socks_pid);
  if (now == NULL)
    return FALSE;
  if (self->socks_process != NULL)
    return g_str_equal (now, self->socks_process);
  return process_is_pk_socks (self->socks_pid);
}

/**
 * pk_node_state_get_fails:
 * @self: a [class@NodeState]
 *
 * Gets the total number of confirmed failures.
 *
 * Returns: the total number of confirmed failures
 *
 * Since: 0.1
 */
guint
pk_node_state_get_fails (PkNodeState *self)
{
  g_return_val_if_fail (PK_IS_NODE_STATE (self), 0);
  return self->fails;
}

/**
 * pk_node_state_set_fails:
 * @self: a [class@NodeState]
 * @fails: the total number of confirmed failures
 *
 * Sets the failure counter.
 *
 * Since: 0.1
 */
void
pk_node_state_set_fails (PkNodeState *self,
                         guint        fails)
{
  g_return_if_fail (PK_IS_NODE_STATE (self));

  if (self->fails == fails)
    return;
  self->fails = fails;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FAILS]);
}

/**
 * pk_node_state_get_consecutive_failures:
 * @self: a [class@NodeState]
 *
 * Tells how many checks in a row have failed.
 *
 * Returns: how many checks in a row have failed
 *
 * Since: 0.1
 */
guint
pk_node_state_get_consecutive_failures (PkNodeState *self)
{
  g_return_val_if_fail (PK_IS_NODE_STATE (self), 0);
  return self->consecutive_failures;
}

/**
 * pk_node_state_set_consecutive_failures:
 * @self: a [class@NodeState]
 * @n: how many checks in a row have failed
 *
 * Sets the consecutive-failure counter.
 *
 * Since: 0.1
 */
void
pk_node_state_set_consecutive_failures (PkNodeState *self,
                                        guint        n)
{
  g_return_if_fail (PK_IS_NODE_STATE (self));
  self->consecutive_failures = n;
}

/**
 * pk_node_state_get_recoveries:
 * @self: a [class@NodeState]
 *
 * Tells how many times a node supervisor brought the node back online
 * after a confirmed failure ([class@NodeSupervisor]).
 *
 * Returns: the number of recoveries
 *
 * Since: 0.2
 */
guint
pk_node_state_get_recoveries (PkNodeState *self)
{
  g_return_val_if_fail (PK_IS_NODE_STATE (self), 0);
  return self->recoveries;
}

/**
 * pk_node_state_set_recoveries:
 * @self: a [class@NodeState]
 * @recoveries: the number of recoveries
 *
 * Sets the recovery counter.
 *
 * Since: 0.2
 */
void
pk_node_state_set_recoveries (PkNodeState *self,
                              guint        recoveries)
{
  g_return_if_fail (PK_IS_NODE_STATE (self));
  self->recoveries = recoveries;
}

/**
 * pk_node_state_tunnel_pid_is_alive:
 * @self: a [class@NodeState]
 *
 * Whether the recorded tunnel process (pppd) still exists: what
 * `pk-watchdog --status` shows as `pppd_alive`.
 *
 * Returns: %TRUE if a tunnel pid is recorded and a process has it
 *
 * Since: 0.2
 */
gboolean
pk_node_state_tunnel_pid_is_alive (PkNodeState *self)
{
  g_return_val_if_fail (PK_IS_NODE_STATE (self), FALSE);
  return self->tunnel_pid > 0 && kill (self->tunnel_pid, 0) == 0;
}

/**
 * pk_node_state_get_last_change:
 * @self: a [class@NodeState]
 *
 * Tells when the watchdog last saw the node's health change, in seconds since
 * the epoch (0 if never).
 *
 * Returns: when the watchdog last saw the node's health change, in
 *   seconds since the epoch (0 if never)
 *
 * Since: 0.1
 */
gint64
pk_node_state_get_last_change (PkNodeState *self)
{
  g_return_val_if_fail (PK_IS_NODE_STATE (self), 0);
  return self->last_change;
}

/**
 * pk_node_state_set_last_change:
 * @self: a [class@NodeState]
 * @unix_time: seconds since the epoch
 *
 * Sets when the watchdog last saw the node's health change.
 *
 * Since: 0.1
 */
void
pk_node_state_set_last_change (PkNodeState *self,
                               gint64       unix_time)
{
  g_return_if_fail (PK_IS_NODE_STATE (self));
  self->last_change = unix_time;
}

/**
 * pk_node_state_to_json:
 * @self: a [class@NodeState]
 *
 * Serializes the node's state as written to its state file.
 *
 * Returns: (transfer full): the node's state as a JSON document
 *
 * Since: 0.1
 */
char *
pk_node_state_to_json (PkNodeState *self)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;

  g_return_val_if_fail (PK_IS_NODE_STATE (self), NULL);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, self->name);
  json_builder_set_member_name (b, "status");
  json_builder_add_string_value (b, pk_node_status_to_string (self->status));
  json_builder_set_member_name (b, "status_changed");
  json_builder_add_int_value (b, self->status_changed);
  json_builder_set_member_name (b, "reason");
  if (self->reason != NULL)
    json_builder_add_string_value (b, self->reason);
  else
    json_builder_add_null_value (b);

  json_builder_set_member_name (b, "tunnel");
  if (self->has_tunnel)
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "server");
      json_builder_add_string_value (b, self->tunnel_server);
      json_builder_set_member_name (b, "linkname");
      json_builder_add_string_value (b, self->tunnel_linkname);
      json_builder_set_member_name (b, "unit");
      json_builder_add_int_value (b, self->tunnel_unit);
      json_builder_set_member_name (b, "interface");
      json_builder_add_string_value (b, self->tunnel_interface);
      json_builder_set_member_name (b, "pid");
      json_builder_add_int_value (b, self->tunnel_pid);
      json_builder_end_object (b);
    }
  else
    json_builder_add_null_value (b);

  json_builder_set_member_name (b, "socks");
  if (self->has_socks)
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "listen");
      json_builder_add_string_value (b, self->socks_listen);
      json_builder_set_member_name (b, "pid");
      json_builder_add_int_value (b, self->socks_pid);
      if (self->socks_process != NULL)
        {
          json_builder_set_member_name (b, "process");
          json_builder_add_string_value (b, self->socks_process);
        }
      json_builder_end_object (b);
    }
  else
    json_builder_add_null_value (b);

  json_builder_set_member_name (b, "dongle");
  if (self->dongle_id > 0)
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "id");
      json_builder_add_int_value (b, self->dongle_id);
      json_builder_set_member_name (b, "interface");
      self->dongle_interface ? json_builder_add_string_value (b, self->dongle_interface)
                             : json_builder_add_null_value (b);
      json_builder_set_member_name (b, "address");
      self->dongle_address ? json_builder_add_string_value (b, self->dongle_address)
                           : json_builder_add_null_value (b);
      json_builder_end_object (b);
    }
  else
    json_builder_add_null_value (b);

  json_builder_set_member_name (b, "counters");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "fails");
  json_builder_add_int_value (b, self->fails);
  json_builder_set_member_name (b, "consecutive_failures");
  json_builder_add_int_value (b, self->consecutive_failures);
  json_builder_set_member_name (b, "recoveries");
  json_builder_add_int_value (b, self->recoveries);
  json_builder_set_member_name (b, "last_change");
  json_builder_add_int_value (b, self->last_change);
  json_builder_end_object (b);

  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  return json_generator_to_data (gen, NULL);
}

/* Reads an optional member of the type wanted; a member of another type
 * is an error naming the field, so that a hand-edited file fails loudly. */
static gboolean
get_member (JsonObject   *obj,
            const char   *prefix,
            const char   *member,
            GType         type,
            JsonNode    **out,
            GError      **error)
{
  JsonNode *node = json_object_get_member (obj, member);

  *out = NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if ((type == JSON_TYPE_OBJECT && !JSON_NODE_HOLDS_OBJECT (node)) ||
      (type != JSON_TYPE_OBJECT &&
       (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != type)))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_STATE,
                   "field '%s%s' should be %s", prefix, member,
                   type == JSON_TYPE_OBJECT ? "an object" :
                   type == G_TYPE_STRING ? "a string" : "an integer");
      return FALSE;
    }
  *out = node;
  return TRUE;
}

#define GET_STRING(obj, prefix, name, dest) G_STMT_START {                 \
    JsonNode *n_;                                                           \
    if (!get_member (obj, prefix, name, G_TYPE_STRING, &n_, error))         \
      return NULL;                                                          \
    g_free (dest);                                                          \
    dest = n_ ? g_strdup (json_node_get_string (n_)) : NULL;                \
  } G_STMT_END
#define GET_INT(obj, prefix, name, dest, def) G_STMT_START {               \
    JsonNode *n_;                                                           \
    if (!get_member (obj, prefix, name, G_TYPE_INT64, &n_, error))          \
      return NULL;                                                          \
    dest = n_ ? json_node_get_int (n_) : (def);                             \
  } G_STMT_END

/**
 * pk_node_state_new_from_json:
 * @data: a JSON document as written by [method@NodeState.to_json]
 * @length: the length of @data, or -1 if it is nul-terminated
 * @error: return location for a `GError`
 *
 * Parses a node's state. Unknown fields are ignored, so that files
 * written by newer versions can be read.
 *
 * Returns: (transfer full) (nullable): the state, or %NULL with @error
 *   set (%PK_ERROR_STATE naming the field that is wrong)
 *
 * Since: 0.1
 */
PkNodeState *
pk_node_state_new_from_json (const char  *data,
                             gssize       length,
                             GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) local_error = NULL;
  g_autoptr(PkNodeState) self = NULL;
  g_autofree char *name = NULL;
  g_autofree char *status = NULL;
  JsonNode *root;
  JsonObject *obj;
  JsonNode *sub;

  if (!json_parser_load_from_data (parser, data, length, &local_error))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_STATE, "not valid JSON: %s", local_error->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, PK_ERROR, PK_ERROR_STATE, "the document is not a JSON object");
      return NULL;
    }
  obj = json_node_get_object (root);

  GET_STRING (obj, "", "name", name);
  if (name == NULL || *name == '\0')
    {
      g_set_error_literal (error, PK_ERROR, PK_ERROR_STATE, "field 'name' is missing");
      return NULL;
    }
  self = pk_node_state_new (name);

  GET_STRING (obj, "", "status", status);
  if (status != NULL && !pk_node_status_from_string (status, &self->status))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_STATE,
                   "field 'status' is '%s', expected starting, online, ping_failed, stopped or recovering",
                   status);
      return NULL;
    }
  GET_INT (obj, "", "status_changed", self->status_changed, 0);
  GET_STRING (obj, "", "reason", self->reason);

  if (!get_member (obj, "", "tunnel", JSON_TYPE_OBJECT, &sub, error))
    return NULL;
  if (sub != NULL)
    {
      JsonObject *t = json_node_get_object (sub);

      self->has_tunnel = TRUE;
      GET_STRING (t, "tunnel.", "server", self->tunnel_server);
      GET_STRING (t, "tunnel.", "linkname", self->tunnel_linkname);
      GET_INT (t, "tunnel.", "unit", self->tunnel_unit, -1);
      GET_STRING (t, "tunnel.", "interface", self->tunnel_interface);
      GET_INT (t, "tunnel.", "pid", self->tunnel_pid, 0);
    }

  if (!get_member (obj, "", "socks", JSON_TYPE_OBJECT, &sub, error))
    return NULL;
  if (sub != NULL)
    {
      JsonObject *s = json_node_get_object (sub);

      self->has_socks = TRUE;
      GET_STRING (s, "socks.", "listen", self->socks_listen);
      GET_INT (s, "socks.", "pid", self->socks_pid, 0);
      GET_STRING (s, "socks.", "process", self->socks_process);
    }

  if (!get_member (obj, "", "dongle", JSON_TYPE_OBJECT, &sub, error))
    return NULL;
  if (sub != NULL)
    {
      JsonObject *d = json_node_get_object (sub);
      gint64 id;

      GET_INT (d, "dongle.", "id", id, 0);
      if (id < 1 || id > 255)
        {
          g_set_error (error, PK_ERROR, PK_ERROR_STATE,
                       "field 'dongle.id' is %" G_GINT64_FORMAT ", expected 1-255", id);
          return NULL;
        }
      self->dongle_id = (guint) id;
      GET_STRING (d, "dongle.", "interface", self->dongle_interface);
      GET_STRING (d, "dongle.", "address", self->dongle_address);
    }

  if (!get_member (obj, "", "counters", JSON_TYPE_OBJECT, &sub, error))
    return NULL;
  if (sub != NULL)
    {
      JsonObject *c = json_node_get_object (sub);

      GET_INT (c, "counters.", "fails", self->fails, 0);
      GET_INT (c, "counters.", "consecutive_failures", self->consecutive_failures, 0);
      GET_INT (c, "counters.", "recoveries", self->recoveries, 0);
      GET_INT (c, "counters.", "last_change", self->last_change, 0);
    }

  return g_steal_pointer (&self);
}
