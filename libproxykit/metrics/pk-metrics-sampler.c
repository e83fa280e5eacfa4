/* pk-metrics-sampler.c: one snapshot of the host's health
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * PkMetricsSampler:
 *
 * Takes samples of the figures behind the usual failures of a proxy node:
 * ephemeral port exhaustion, too many `TIME_WAIT` sockets, a full conntrack
 * table, packet drops in softnet or at the NIC, a leaking process.
 *
 * Each call of [method@MetricsSampler.sample] returns one JSON object:
 * CPU (total and per core, in % since the previous sample), load average,
 * memory, per-interface counters with rates, TCP sockets by state from a
 * `NETLINK_SOCK_DIAG` dump (also per watched local port and towards remote
 * port 443), `/proc/net/sockstat`, conntrack, ephemeral ports in use
 * against `ip_local_port_range`, softnet drops and time squeezes, and the
 * watched processes. A figure the host does not have (no conntrack, say)
 * is a JSON `null`, never a zero. Rates and percentages need a previous
 * sample, so they are `null` in the first one.
 *
 * [property@MetricsSampler:proc-root] and [property@MetricsSampler:sys-root]
 * point the parsers at another tree (captured fixtures).
 *
 * ```c
 * g_autoptr(PkMetricsSampler) sampler = pk_metrics_sampler_new ();
 * g_autoptr(JsonNode) sample = NULL;
 *
 * pk_metrics_sampler_add_watch_port (sampler, 10011);
 * pk_metrics_sampler_add_watch_process (sampler, "pk-socks");
 * sample = pk_metrics_sampler_sample (sampler, &error);
 * g_print ("%s\n", json_to_string (sample, TRUE));
 * ```
 *
 * Since: 0.1
 */

#include "config.h"

#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "pk-error.h"
#include "pk-metrics-private.h"
#include "pk-metrics-sampler.h"

struct _PkMetricsSampler
{
  GObject parent_instance;

  char *proc_root;
  char *sys_root;
  gboolean sock_diag;

  GArray *watch_ports;     /* guint16 */
  GArray *watch_pids;      /* int */
  GPtrArray *watch_names;

  /* the previous sample, for rates */
  gint64 prev_time_us;
  GHashTable *prev_cpu;     /* name -> PkCpuTimes */
  GHashTable *prev_ifaces;  /* name -> PkIfaceCounters */
  GArray *prev_softnet;     /* PkSoftnetRow */
  GHashTable *prev_proc;    /* pid -> guint64 ticks */

  long clk_tck;
  long page_size;
  gboolean per_family;
};

G_DEFINE_FINAL_TYPE (PkMetricsSampler, pk_metrics_sampler, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_PROC_ROOT,
  PROP_SYS_ROOT,
  PROP_SOCK_DIAG,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
pk_metrics_sampler_finalize (GObject *object)
{
  PkMetricsSampler *self = PK_METRICS_SAMPLER (object);

  g_free (self->proc_root);
  g_free (self->sys_root);
  g_array_unref (self->watch_ports);
  g_array_unref (self->watch_pids);
  g_ptr_array_unref (self->watch_names);
  g_clear_pointer (&self->prev_cpu, g_hash_table_unref);
  g_clear_pointer (&self->prev_ifaces, g_hash_table_unref);
  g_clear_pointer (&self->prev_softnet, g_array_unref);
  g_clear_pointer (&self->prev_proc, g_hash_table_unref);

  G_OBJECT_CLASS (pk_metrics_sampler_parent_class)->finalize (object);
}

static void
pk_metrics_sampler_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  PkMetricsSampler *self = PK_METRICS_SAMPLER (object);

  switch (prop_id)
    {
    case PROP_PROC_ROOT:
      g_value_set_string (value, self->proc_root);
      break;
    case PROP_SYS_ROOT:
      g_value_set_string (value, self->sys_root);
      break;
    case PROP_SOCK_DIAG:
      g_value_set_boolean (value, self->sock_diag);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_metrics_sampler_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  PkMetricsSampler *self = PK_METRICS_SAMPLER (object);

  switch (prop_id)
    {
    case PROP_PROC_ROOT:
      pk_metrics_sampler_set_proc_root (self, g_value_get_string (value));
      break;
    case PROP_SYS_ROOT:
      pk_metrics_sampler_set_sys_root (self, g_value_get_string (value));
      break;
    case PROP_SOCK_DIAG:
      pk_metrics_sampler_set_sock_diag (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pk_metrics_sampler_class_init (PkMetricsSamplerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = pk_metrics_sampler_finalize;
  object_class->get_property = pk_metrics_sampler_get_property;
  object_class->set_property = pk_metrics_sampler_set_property;

  /**
   * PkMetricsSampler:proc-root:
   *
   * Where procfs is read from; `/proc` by default.
   *
   * Since: 0.1
   */
  properties[PROP_PROC_ROOT] =
    g_param_spec_string ("proc-root", NULL, NULL, "/proc",
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * PkMetricsSampler:sys-root:
   *
   * Where sysfs is read from; `/sys` by default.
   *
   * Since: 0.1
   */
  properties[PROP_SYS_ROOT] =
    g_param_spec_string ("sys-root", NULL, NULL, "/sys",
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * PkMetricsSampler:sock-diag:
   *
   * Whether TCP sockets are counted from a live `NETLINK_SOCK_DIAG` dump
   * of the caller's network namespace. With it off (as on fixtures) the
   * `tcp` member and the ephemeral ports in use are null.
   *
   * Since: 0.1
   */
  properties[PROP_SOCK_DIAG] =
    g_param_spec_boolean ("sock-diag", NULL, NULL, TRUE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
pk_metrics_sampler_init (PkMetricsSampler *self)
{
  self->proc_root = g_strdup ("/proc");
  self->sys_root = g_strdup ("/sys");
  self->sock_diag = TRUE;
  self->watch_ports = g_array_new (FALSE, FALSE, sizeof (guint16));
  self->watch_pids = g_array_new (FALSE, FALSE, sizeof (int));
  self->watch_names = g_ptr_array_new_with_free_func (g_free);
  self->clk_tck = sysconf (_SC_CLK_TCK);
  if (self->clk_tck <= 0)
    self->clk_tck = 100;
  self->page_size = sysconf (_SC_PAGESIZE);
  if (self->page_size <= 0)
    self->page_size = 4096;
}

/**
 * pk_metrics_sampler_new:
 *
 * Creates a sampler of the live host.
 *
 * Returns: (transfer full): a sampler of the live host
 *
 * Since: 0.1
 */
PkMetricsSampler *
pk_metrics_sampler_new (void)
{
  return g_object_new (PK_TYPE_METRICS_SAMPLER, NULL);
}

/**
 * pk_metrics_sampler_get_proc_root:
 * @self: a sampler
 *
 * Tells where procfs is read from.
 *
 * Returns: where procfs is read from
 *
 * Since: 0.1
 */
const char *
pk_metrics_sampler_get_proc_root (PkMetricsSampler *self)
{
  g_return_val_if_fail (PK_IS_METRICS_SAMPLER (self), NULL);
  return self->proc_root;
}

static void
forget_previous (PkMetricsSampler *self)
{
  self->prev_time_us = 0;
  g_clear_pointer (&self->prev_cpu, g_hash_table_unref);
  g_clear_pointer (&self->prev_ifaces, g_hash_table_unref);
  g_clear_pointer (&self->prev_softnet, g_array_unref);
  g_clear_pointer (&self->prev_proc, g_hash_table_unref);
}

/**
 * pk_metrics_sampler_set_proc_root:
 * @self: a sampler
 * @proc_root: (nullable): a directory laid out like `/proc`; %NULL for `/proc`
 *
 * Points the parsers at another procfs tree. The previous sample is kept,
 * so that rates between two fixtures can be computed.
 *
 * Since: 0.1
 */
void
pk_metrics_sampler_set_proc_root (PkMetricsSampler *self,
                                  const char       *proc_root)
{
  g_return_if_fail (PK_IS_METRICS_SAMPLER (self));

  if (proc_root == NULL)
    proc_root = "/proc";
  if (g_strcmp0 (self->proc_root, proc_root) == 0)
    return;
  g_free (self->proc_root);
  self->proc_root = g_strdup (proc_root);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROC_ROOT]);
}

/**
 * pk_metrics_sampler_get_sys_root:
 * @self: a sampler
 *
 * Tells where sysfs is read from.
 *
 * Returns: where sysfs is read from
 *
 * Since: 0.1
 */
const char *
pk_metrics_sampler_get_sys_root (PkMetricsSampler *self)
{
  g_return_val_if_fail (PK_IS_METRICS_SAMPLER (self), NULL);
  return self->sys_root;
}

/**
 * pk_metrics_sampler_set_sys_root:
 * @self: a sampler
 * @sys_root: (nullable): a directory laid out like `/sys`; %NULL for `/sys`
 *
 * Points the sysfs readers at another tree.
 *
 * Since: 0.1
 */
void
pk_metrics_sampler_set_sys_root (PkMetricsSampler *self,
                                 const char       *sys_root)
{
  g_return_if_fail (PK_IS_METRICS_SAMPLER (self));

  if (sys_root == NULL)
    sys_root = "/sys";
  if (g_strcmp0 (self->sys_root, sys_root) == 0)
    return;
  g_free (self->sys_root);
  self->sys_root = g_strdup (sys_root);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SYS_ROOT]);
}

/**
 * pk_metrics_sampler_get_sock_diag:
 * @self: a sampler
 *
 * Tells whether TCP sockets are counted through `NETLINK_SOCK_DIAG`.
 *
 * Returns: whether TCP sockets are counted through `NETLINK_SOCK_DIAG`
 *
 * Since: 0.1
 */
gboolean
pk_metrics_sampler_get_sock_diag (PkMetricsSampler *self)
{
  g_return_val_if_fail (PK_IS_METRICS_SAMPLER (self), FALSE);
  return self->sock_diag;
}

/**
 * pk_metrics_sampler_set_sock_diag:
 * @self: a sampler
 * @sock_diag: whether to count TCP sockets
 *
 * Turns the `NETLINK_SOCK_DIAG` dump on or off.
 *
 * Since: 0.1
 */
void
pk_metrics_sampler_set_sock_diag (PkMetricsSampler *self,
                                  gboolean          sock_diag)
{
  g_return_if_fail (PK_IS_METRICS_SAMPLER (self));

  sock_diag = !!sock_diag;
  if (self->sock_diag == sock_diag)
    return;
  self->sock_diag = sock_diag;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SOCK_DIAG]);
}

void
pk_metrics_sampler_set_dump_per_family (PkMetricsSampler *self,
                                        gboolean          per_family)
{
  g_return_if_fail (PK_IS_METRICS_SAMPLER (self));
  self->per_family = per_family;
}

/**
 * pk_metrics_sampler_add_watch_port:
 * @self: a sampler
 * @port: a local TCP port (a SOCKS listener, say)
 *
 * Adds @port to the ports whose sockets are also counted by state.
 *
 * Since: 0.1
 */
void
pk_metrics_sampler_add_watch_port (PkMetricsSampler *self,
                                   guint             port)
{
  guint16 p = port;

  g_return_if_fail (PK_IS_METRICS_SAMPLER (self));
  g_return_if_fail (port > 0 && port <= 65535);

  for (guint i = 0; i < self->watch_ports->len; i++)
    if (g_array_index (self->watch_ports, guint16, i) == p)
      return;
  g_array_append_val (self->watch_ports, p);
}

/**
 * pk_metrics_sampler_add_watch_pid:
 * @self: a sampler
 * @pid: a process id
 *
 * Adds a process to watch (RSS, threads, open fds, CPU).
 *
 * Since: 0.1
 */
void
pk_metrics_sampler_add_watch_pid (PkMetricsSampler *self,
                                  int               pid)
{
  g_return_if_fail (PK_IS_METRICS_SAMPLER (self));
  g_return_if_fail (pid > 0);

  g_array_append_val (self->watch_pids, pid);
}

/**
 * pk_metrics_sampler_add_watch_process:
 * @self: a sampler
 * @name: a process name, as in `/proc/PID/comm`
 *
 * Watches every process of that name.
 *
 * Since: 0.1
 */
void
pk_metrics_sampler_add_watch_process (PkMetricsSampler *self,
                                      const char       *name)
{
  g_return_if_fail (PK_IS_METRICS_SAMPLER (self));
  g_return_if_fail (name != NULL && *name != '\0');

  g_ptr_array_add (self->watch_names, g_strdup (name));
}

/* ------------------------------------------------------------------ */

static void
add_null (JsonBuilder *b,
          const char  *name)
{
  json_builder_set_member_name (b, name);
  json_builder_add_null_value (b);
}

static void
add_int (JsonBuilder *b,
         const char  *name,
         guint64      value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, (gint64) value);
}

static void
add_double (JsonBuilder *b,
            const char  *name,
            double       value)
{
  json_builder_set_member_name (b, name);
  /* two decimals are plenty for percentages and rates, and keep the
   * history files small */
  json_builder_add_double_value (b, ((gint64) (value * 100 + (value < 0 ? -0.5 : 0.5))) / 100.0);
}

static void
add_rate (JsonBuilder *b,
          const char  *name,
          guint64      now,
          guint64     *prev,
          double       seconds)
{
  if (prev == NULL || seconds <= 0 || now < *prev)
    add_null (b, name);   /* first sample, or a counter reset */
  else
    add_double (b, name, (now - *prev) / seconds);
}

static void
build_cpu_times (PkMetricsSampler *self,
                 JsonBuilder      *b,
                 PkCpuTimes       *now,
                 PkCpuTimes       *prev)
{
  static const char *names[PK_CPU_N_FIELDS] = {
    "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"
  };
  guint64 total = 0, ptotal = 0;

  for (guint i = 0; i < PK_CPU_N_FIELDS; i++)
    {
      total += now->v[i];
      if (prev)
        ptotal += prev->v[i];
    }
  if (prev != NULL && total > ptotal)
    {
      double dt = total - ptotal;
      guint64 idle = now->v[PK_CPU_IDLE] + now->v[PK_CPU_IOWAIT];
      guint64 pidle = prev->v[PK_CPU_IDLE] + prev->v[PK_CPU_IOWAIT];

      add_double (b, "busy_pct", 100.0 * (dt - (double) (idle - MIN (idle, pidle))) / dt);
      for (guint i = 0; i < PK_CPU_N_FIELDS; i++)
        {
          g_autofree char *key = g_strconcat (names[i], "_pct", NULL);
          add_double (b, key, 100.0 * (now->v[i] - MIN (now->v[i], prev->v[i])) / dt);
        }
    }
  else
    add_null (b, "busy_pct");
  json_builder_set_member_name (b, "seconds");
  json_builder_begin_object (b);
  for (guint i = 0; i < PK_CPU_N_FIELDS; i++)
    add_double (b, names[i], (double) now->v[i] / self->clk_tck);
  json_builder_end_object (b);
}

static gint
compare_cpu_names (gconstpointer a,
                   gconstpointer b)
{
  const char *sa = *(const char **) a, *sb = *(const char **) b;

  return (int) g_ascii_strtoll (sa + 3, NULL, 10) - (int) g_ascii_strtoll (sb + 3, NULL, 10);
}

static void
sample_cpu (PkMetricsSampler *self,
            JsonBuilder      *b)
{
  g_autofree char *text = pk_metrics_read_file (self->proc_root, "stat");
  g_autoptr(GHashTable) cpus = NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer key;
  PkCpuTimes *total;

  json_builder_set_member_name (b, "cpu");
  if (text == NULL)
    {
      json_builder_add_null_value (b);
      return;
    }
  cpus = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  pk_metrics_parse_stat (text, cpus);
  total = g_hash_table_lookup (cpus, "cpu");
  if (total == NULL)
    {
      json_builder_add_null_value (b);
      return;
    }

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "total");
  json_builder_begin_object (b);
  build_cpu_times (self, b, total,
                   self->prev_cpu ? g_hash_table_lookup (self->prev_cpu, "cpu") : NULL);
  json_builder_end_object (b);

  g_hash_table_iter_init (&iter, cpus);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (strcmp (key, "cpu") != 0)
      g_ptr_array_add (names, key);
  g_ptr_array_sort (names, compare_cpu_names);
  json_builder_set_member_name (b, "cores");
  json_builder_begin_object (b);
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = names->pdata[i];

      json_builder_set_member_name (b, name);
      json_builder_begin_object (b);
      build_cpu_times (self, b, g_hash_table_lookup (cpus, name),
                       self->prev_cpu ? g_hash_table_lookup (self->prev_cpu, name) : NULL);
      json_builder_end_object (b);
    }
  json_builder_end_object (b);
  json_builder_end_object (b);

  g_clear_pointer (&self->prev_cpu, g_hash_table_unref);
  self->prev_cpu = g_steal_pointer (&cpus);
}

static void
sample_load (PkMetricsSampler *self,
             JsonBuilder      *b)
{
  g_autofree char *text = pk_metrics_read_file (self->proc_root, "loadavg");
  g_auto(GStrv) f = NULL;

  json_builder_set_member_name (b, "load");
  if (text == NULL || g_strv_length (f = g_strsplit (g_strstrip (text), " ", -1)) < 3)
    {
      json_builder_add_null_value (b);
      return;
    }
  json_builder_begin_object (b);
  add_double (b, "1m", g_ascii_strtod (f[0], NULL));
  add_double (b, "5m", g_ascii_strtod (f[1], NULL));
  add_double (b, "15m", g_ascii_strtod (f[2], NULL));
  json_builder_end_object (b);
}

static void
sample_memory (PkMetricsSampler *self,
               JsonBuilder      *b)
{
  static const struct { const char *key, *name; } fields[] = {
    { "MemTotal", "total_bytes" },
    { "MemFree", "free_bytes" },
    { "MemAvailable", "available_bytes" },
    { "Buffers", "buffers_bytes" },
    { "Cached", "cached_bytes" },
    { "SwapTotal", "swap_total_bytes" },
    { "SwapFree", "swap_free_bytes" },
  };
  g_autofree char *text = pk_metrics_read_file (self->proc_root, "meminfo");
  g_autoptr(GHashTable) mem = NULL;
  guint64 *total, *avail;

  json_builder_set_member_name (b, "memory");
  if (text == NULL)
    {
      json_builder_add_null_value (b);
      return;
    }
  mem = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  pk_metrics_parse_meminfo (text, mem);
  json_builder_begin_object (b);
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      guint64 *v = g_hash_table_lookup (mem, fields[i].key);
      if (v)
        add_int (b, fields[i].name, *v);
      else
        add_null (b, fields[i].name);
    }
  total = g_hash_table_lookup (mem, "MemTotal");
  avail = g_hash_table_lookup (mem, "MemAvailable");
  if (total && avail && *total > 0)
    add_double (b, "used_pct", 100.0 * (*total - MIN (*avail, *total)) / *total);
  else
    add_null (b, "used_pct");
  json_builder_end_object (b);
}

static void
sample_interfaces (PkMetricsSampler *self,
                   JsonBuilder      *b,
                   double            seconds)
{
  static const char *names[PK_IF_N_FIELDS] = {
    "rx_bytes", "rx_packets", "rx_errors", "rx_drops",
    "tx_bytes", "tx_packets", "tx_errors", "tx_drops",
  };
  g_autofree char *text = pk_metrics_read_file (self->proc_root, "net/dev");
  g_autoptr(GHashTable) ifaces = NULL;
  g_autoptr(GList) keys = NULL;

  json_builder_set_member_name (b, "interfaces");
  if (text == NULL)
    {
      json_builder_add_null_value (b);
      return;
    }
  ifaces = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  pk_metrics_parse_net_dev (text, ifaces);
  keys = g_list_sort (g_hash_table_get_keys (ifaces), (GCompareFunc) strcmp);
  json_builder_begin_object (b);
  for (GList *l = keys; l; l = l->next)
    {
      PkIfaceCounters *c = g_hash_table_lookup (ifaces, l->data);
      PkIfaceCounters *p = self->prev_ifaces ? g_hash_table_lookup (self->prev_ifaces, l->data) : NULL;

      g_autofree char *rel = g_strdup_printf ("class/net/%s/operstate", (char *) l->data);
      g_autofree char *oper = pk_metrics_read_file (self->sys_root, rel);

      json_builder_set_member_name (b, l->data);
      json_builder_begin_object (b);
      /* "up", "down", "unknown" (PPP links say that while up) */
      json_builder_set_member_name (b, "operstate");
      if (oper)
        json_builder_add_string_value (b, g_strstrip (oper));
      else
        json_builder_add_null_value (b);
      for (guint i = 0; i < PK_IF_N_FIELDS; i++)
        add_int (b, names[i], c->v[i]);
      for (guint i = 0; i < PK_IF_N_FIELDS; i++)
        {
          g_autofree char *key = g_strconcat (names[i], "_per_s", NULL);
          add_rate (b, key, c->v[i], p ? &p->v[i] : NULL, seconds);
        }
      json_builder_end_object (b);
    }
  json_builder_end_object (b);
  g_clear_pointer (&self->prev_ifaces, g_hash_table_unref);
  self->prev_ifaces = g_steal_pointer (&ifaces);
}

static void
build_states (JsonBuilder   *b,
              const char    *name,
              const guint64 *states)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_object (b);
  for (guint s = 1; s < PK_TCP_N_STATES; s++)
    add_int (b, pk_tcp_state_names[s], states[s]);
  json_builder_end_object (b);
}

static gboolean
read_port_range (PkMetricsSampler *self,
                 guint            *low,
                 guint            *high)
{
  g_autofree char *text = pk_metrics_read_file (self->proc_root, "sys/net/ipv4/ip_local_port_range");
  char *end;

  if (text == NULL)
    return FALSE;
  *low = g_ascii_strtoull (text, &end, 10);
  if (end == text)
    return FALSE;
  *high = g_ascii_strtoull (end, NULL, 10);
  return *low > 0 && *high >= *low && *high <= 65535;
}

static void
sample_tcp (PkMetricsSampler *self,
            JsonBuilder      *b)
{
  g_autofree PkTcpCounts *c = g_new0 (PkTcpCounts, 1);
  g_autofree guint64 (*port_states)[PK_TCP_N_STATES] = NULL;
  g_autoptr(GError) error = NULL;
  gboolean have_range, have_tcp = FALSE;
  guint low = 0, high = 0;

  have_range = read_port_range (self, &low, &high);
  c->eph_low = have_range ? low : 1;
  c->eph_high = have_range ? high : 0;
  c->per_family = self->per_family;
  c->eph_by_dest = g_hash_table_new_full (pk_dest_key_hash, pk_dest_key_equal, g_free, g_free);
  c->n_ports = self->watch_ports->len;
  c->ports = (guint16 *) self->watch_ports->data;
  port_states = g_malloc0 (sizeof *port_states * MAX (c->n_ports, 1));
  c->port_states = port_states;

  if (self->sock_diag)
    {
      have_tcp = pk_metrics_tcp_dump (c, &error);
      if (!have_tcp)
        g_debug ("metrics: no TCP figures: %s", error->message);
    }

  json_builder_set_member_name (b, "tcp");
  if (have_tcp)
    {
      json_builder_begin_object (b);
      add_int (b, "total", c->total);
      build_states (b, "states", c->states);
      json_builder_set_member_name (b, "ports");
      json_builder_begin_object (b);
      for (guint i = 0; i < c->n_ports; i++)
        {
          g_autofree char *port = g_strdup_printf ("%u", c->ports[i]);
          build_states (b, port, c->port_states[i]);
        }
      json_builder_end_object (b);
      build_states (b, "remote_443", c->remote443);
      json_builder_end_object (b);
    }
  else
    json_builder_add_null_value (b);

  json_builder_set_member_name (b, "ephemeral_ports");
  if (!have_range)
    json_builder_add_null_value (b);
  else
    {
      guint64 size = high - low + 1;

      json_builder_begin_object (b);
      add_int (b, "low", low);
      add_int (b, "high", high);
      add_int (b, "size", size);
      if (have_tcp)
        {
          add_int (b, "in_use", c->eph_in_use);
          add_double (b, "used_pct", 100.0 * c->eph_in_use / size);
          /* ports are only exhausted per destination: a local port may
           * serve many destinations at once */
          json_builder_set_member_name (b, "busiest_destination");
          if (c->busiest_count > 0)
            {
              g_autoptr(GInetAddress) addr =
                g_inet_address_new_from_bytes (c->busiest_addr,
                                               c->busiest_family == AF_INET ? G_SOCKET_FAMILY_IPV4
                                                                            : G_SOCKET_FAMILY_IPV6);
              g_autofree char *astr = g_inet_address_to_string (addr);
              g_autofree char *dest = c->busiest_family == AF_INET
                                        ? g_strdup_printf ("%s:%u", astr, c->busiest_port)
                                        : g_strdup_printf ("[%s]:%u", astr, c->busiest_port);

              json_builder_begin_object (b);
              json_builder_set_member_name (b, "destination");
              json_builder_add_string_value (b, dest);
              add_int (b, "in_use", c->busiest_count);
              add_double (b, "used_pct", 100.0 * c->busiest_count / size);
              json_builder_end_object (b);
            }
          else
            json_builder_add_null_value (b);
        }
      else
        {
          add_null (b, "in_use");
          add_null (b, "used_pct");
          add_null (b, "busiest_destination");
        }
      json_builder_end_object (b);
    }
  g_hash_table_unref (c->eph_by_dest);
}

static void
sample_sockstat (PkMetricsSampler *self,
                 JsonBuilder      *b)
{
  g_autofree char *text = pk_metrics_read_file (self->proc_root, "net/sockstat");
  g_autofree char *text6 = pk_metrics_read_file (self->proc_root, "net/sockstat6");

  json_builder_set_member_name (b, "sockstat");
  if (text == NULL)
    {
      json_builder_add_null_value (b);
      return;
    }
  json_builder_begin_object (b);
  pk_metrics_build_sockstat (b, text);
  if (text6)
    pk_metrics_build_sockstat (b, text6);
  json_builder_end_object (b);
}

static void
sample_conntrack (PkMetricsSampler *self,
                  JsonBuilder      *b)
{
  guint64 count, max;
  gboolean have_count, have_max;
  g_autofree char *stats = NULL;

  have_count = pk_metrics_read_uint (self->proc_root, "sys/net/netfilter/nf_conntrack_count", &count);
  have_max = pk_metrics_read_uint (self->proc_root, "sys/net/netfilter/nf_conntrack_max", &max);
  json_builder_set_member_name (b, "conntrack");
  if (!have_count)
    {
      json_builder_add_null_value (b);
      return;
    }
  json_builder_begin_object (b);
  add_int (b, "entries", count);
  if (have_max)
    add_int (b, "limit", max);
  else
    add_null (b, "limit");
  if (have_max && max > 0)
    add_double (b, "used_pct", 100.0 * count / max);
  else
    add_null (b, "used_pct");
  stats = pk_metrics_read_file (self->proc_root, "net/stat/nf_conntrack");
  json_builder_set_member_name (b, "stats");
  if (stats)
    {
      json_builder_begin_object (b);
      pk_metrics_build_conntrack_stats (b, stats);
      json_builder_end_object (b);
    }
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
}

static void
sample_softnet (PkMetricsSampler *self,
                JsonBuilder      *b,
                double            seconds)
{
  g_autofree char *text = pk_metrics_read_file (self->proc_root, "net/softnet_stat");
  g_autoptr(GArray) rows = g_array_new (FALSE, TRUE, sizeof (PkSoftnetRow));
  PkSoftnetRow sum = { 0 }, psum = { 0 };

  json_builder_set_member_name (b, "softnet");
  if (text == NULL || pk_metrics_parse_softnet (text, rows) == 0)
    {
      json_builder_add_null_value (b);
      return;
    }
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "cpus");
  json_builder_begin_object (b);
  for (guint i = 0; i < rows->len; i++)
    {
      PkSoftnetRow *r = &g_array_index (rows, PkSoftnetRow, i);
      g_autofree char *name = g_strdup_printf ("cpu%u", i);

      sum.processed += r->processed;
      sum.dropped += r->dropped;
      sum.time_squeeze += r->time_squeeze;
      json_builder_set_member_name (b, name);
      json_builder_begin_object (b);
      add_int (b, "processed", r->processed);
      add_int (b, "dropped", r->dropped);
      add_int (b, "time_squeeze", r->time_squeeze);
      json_builder_end_object (b);
    }
  json_builder_end_object (b);
  add_int (b, "processed", sum.processed);
  add_int (b, "dropped", sum.dropped);
  add_int (b, "time_squeeze", sum.time_squeeze);
  if (self->prev_softnet)
    for (guint i = 0; i < self->prev_softnet->len; i++)
      {
        PkSoftnetRow *r = &g_array_index (self->prev_softnet, PkSoftnetRow, i);
        psum.processed += r->processed;
        psum.dropped += r->dropped;
        psum.time_squeeze += r->time_squeeze;
      }
  add_rate (b, "dropped_per_s", sum.dropped, self->prev_softnet ? &psum.dropped : NULL, seconds);
  add_rate (b, "time_squeeze_per_s", sum.time_squeeze,
            self->prev_softnet ? &psum.time_squeeze : NULL, seconds);
  json_builder_end_object (b);
  g_clear_pointer (&self->prev_softnet, g_array_unref);
  self->prev_softnet = g_steal_pointer (&rows);
}

static guint64
count_fds (const char *proc_root,
           int         pid,
           gboolean   *ok)
{
  g_autofree char *path = g_strdup_printf ("%s/%d/fd", proc_root, pid);
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  guint64 n = 0;

  *ok = dir != NULL;
  if (dir == NULL)
    return 0;
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

static void
build_process (PkMetricsSampler *self,
               JsonBuilder      *b,
               int               pid,
               const char       *stat_text,
               GHashTable       *now_ticks,
               double            seconds)
{
  PkProcessStat st = { 0 };
  g_autofree char *pid_str = g_strdup_printf ("%d", pid);
  guint64 fds, ticks;
  gboolean fds_ok;
  guint64 *prev;

  if (!pk_metrics_parse_pid_stat (stat_text, &st))
    {
      pk_process_stat_clear (&st);
      return;
    }
  ticks = st.utime + st.stime;
  json_builder_set_member_name (b, pid_str);
  json_builder_begin_object (b);
  add_int (b, "pid", pid);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, st.comm);
  add_int (b, "rss_bytes", st.rss_pages * self->page_size);
  add_int (b, "threads", st.threads);
  fds = count_fds (self->proc_root, pid, &fds_ok);
  if (fds_ok)
    add_int (b, "open_fds", fds);
  else
    add_null (b, "open_fds");   /* someone else's process, without root */
  add_double (b, "cpu_seconds", (double) ticks / self->clk_tck);
  prev = self->prev_proc ? g_hash_table_lookup (self->prev_proc, GINT_TO_POINTER (pid)) : NULL;
  if (prev && seconds > 0 && ticks >= *prev)
    add_double (b, "cpu_pct", 100.0 * ((double) (ticks - *prev) / self->clk_tck) / seconds);
  else
    add_null (b, "cpu_pct");
  json_builder_end_object (b);
  g_hash_table_insert (now_ticks, GINT_TO_POINTER (pid), g_memdup2 (&ticks, sizeof ticks));
  pk_process_stat_clear (&st);
}

static gboolean
comm_matches (const char *comm,
              const char *name)
{
  /* comm is cut at 15 bytes */
  return strcmp (comm, name) == 0 ||
         (strlen (name) > 15 && strlen (comm) == 15 && strncmp (comm, name, 15) == 0);
}

static void
sample_processes (PkMetricsSampler *self,
                  JsonBuilder      *b,
                  double            seconds)
{
  g_autoptr(GHashTable) now_ticks = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  g_autoptr(GPtrArray) missing = g_ptr_array_new_with_free_func (g_free);
  g_autofree gboolean *name_found = g_new0 (gboolean, self->watch_names->len + 1);

  json_builder_set_member_name (b, "processes");
  json_builder_begin_object (b);
  for (guint i = 0; i < self->watch_pids->len; i++)
    {
      int pid = g_array_index (self->watch_pids, int, i);
      g_autofree char *rel = g_strdup_printf ("%d/stat", pid);
      g_autofree char *text = pk_metrics_read_file (self->proc_root, rel);

      if (text)
        build_process (self, b, pid, text, now_ticks, seconds);
      else
        g_ptr_array_add (missing, g_strdup_printf ("%d", pid));
    }
  if (self->watch_names->len > 0)
    {
      g_autoptr(GDir) dir = g_dir_open (self->proc_root, 0, NULL);
      const char *entry;

      while (dir && (entry = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *rel = NULL;
          g_autofree char *text = NULL;
          const char *open, *close;
          int pid;

          if (!g_ascii_isdigit (entry[0]))
            continue;
          pid = atoi (entry);
          if (g_hash_table_contains (now_ticks, GINT_TO_POINTER (pid)))
            continue;
          rel = g_strdup_printf ("%s/stat", entry);
          text = pk_metrics_read_file (self->proc_root, rel);
          if (text == NULL || (open = strchr (text, '(')) == NULL ||
              (close = strrchr (text, ')')) == NULL || close < open)
            continue;
          for (guint k = 0; k < self->watch_names->len; k++)
            {
              g_autofree char *comm = g_strndup (open + 1, close - open - 1);

              if (comm_matches (comm, self->watch_names->pdata[k]))
                {
                  name_found[k] = TRUE;
                  build_process (self, b, pid, text, now_ticks, seconds);
                  break;
                }
            }
        }
      for (guint k = 0; k < self->watch_names->len; k++)
        if (!name_found[k])
          g_ptr_array_add (missing, g_strdup (self->watch_names->pdata[k]));
    }
  json_builder_end_object (b);

  /* watched but not running: named, so that a dead proxy is not silent */
  json_builder_set_member_name (b, "processes_missing");
  json_builder_begin_array (b);
  for (guint i = 0; i < missing->len; i++)
    json_builder_add_string_value (b, missing->pdata[i]);
  json_builder_end_array (b);

  g_clear_pointer (&self->prev_proc, g_hash_table_unref);
  self->prev_proc = g_steal_pointer (&now_ticks);
}

/**
 * pk_metrics_sampler_sample:
 * @self: a sampler
 * @error: return location for a `GError`
 *
 * Takes one sample now. See [method@MetricsSampler.sample_at].
 *
 * Returns: (transfer full): a JSON object
 *
 * Since: 0.1
 */
JsonNode *
pk_metrics_sampler_sample (PkMetricsSampler *self,
                           GError          **error)
{
  return pk_metrics_sampler_sample_at (self, g_get_real_time (), error);
}

/**
 * pk_metrics_sampler_sample_json:
 * @self: a sampler
 * @error: return location for a `GError`
 *
 * Takes one sample now and returns it as JSON text, for callers without
 * json-glib (language bindings).
 *
 * Returns: (transfer full): the sample as a JSON object, or %NULL
 *
 * Since: 0.1
 */
char *
pk_metrics_sampler_sample_json (PkMetricsSampler *self,
                                GError          **error)
{
  g_autoptr(JsonNode) sample = pk_metrics_sampler_sample (self, error);

  return sample ? json_to_string (sample, FALSE) : NULL;
}

/**
 * pk_metrics_sampler_sample_at:
 * @self: a sampler
 * @unix_time_us: the time of the sample, in microseconds since the epoch
 * @error: return location for a `GError`
 *
 * Takes one sample and stamps it with @unix_time_us, which is also the
 * time base of the rates against the previous sample (tests and replays
 * give their own clock).
 *
 * Returns: (transfer full): a JSON object, or %NULL if procfs cannot be
 *   read at all (with @error set)
 *
 * Since: 0.1
 */
JsonNode *
pk_metrics_sampler_sample_at (PkMetricsSampler *self,
                              gint64            unix_time_us,
                              GError          **error)
{
  g_autoptr(JsonBuilder) b = NULL;
  g_autoptr(GDateTime) dt = NULL;
  g_autofree char *iso = NULL;
  g_autofree char *hostname = NULL;
  double seconds = 0;

  g_return_val_if_fail (PK_IS_METRICS_SAMPLER (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!g_file_test (self->proc_root, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, PK_ERROR, PK_ERROR_NOT_SUPPORTED,
                   "proc-root %s is not a directory", self->proc_root);
      return NULL;
    }
  if (self->prev_time_us > 0 && unix_time_us > self->prev_time_us)
    seconds = (unix_time_us - self->prev_time_us) / 1e6;
  else if (self->prev_time_us > 0)
    forget_previous (self);   /* the clock went back: no rates */

  b = json_builder_new ();
  json_builder_begin_object (b);
  dt = g_date_time_new_from_unix_utc (unix_time_us / G_USEC_PER_SEC);
  iso = g_date_time_format (dt, "%Y-%m-%dT%H:%M:%SZ");
  json_builder_set_member_name (b, "time");
  json_builder_add_string_value (b, iso);
  json_builder_set_member_name (b, "timestamp");
  json_builder_add_double_value (b, unix_time_us / 1e6);
  hostname = pk_metrics_read_file (self->proc_root, "sys/kernel/hostname");
  json_builder_set_member_name (b, "host");
  if (hostname)
    json_builder_add_string_value (b, g_strstrip (hostname));
  else
    json_builder_add_null_value (b);
  if (seconds > 0)
    add_double (b, "interval_s", seconds);
  else
    add_null (b, "interval_s");

  sample_cpu (self, b);
  sample_load (self, b);
  sample_memory (self, b);
  sample_interfaces (self, b, seconds);
  sample_tcp (self, b);
  sample_sockstat (self, b);
  sample_conntrack (self, b);
  sample_softnet (self, b, seconds);
  sample_processes (self, b, seconds);

  json_builder_end_object (b);
  self->prev_time_us = unix_time_us;
  return json_builder_get_root (b);
}
