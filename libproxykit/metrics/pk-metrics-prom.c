/* pk-metrics-prom.c: a sample of PkMetricsSampler in the Prometheus
 * text format. Figures that node_exporter also has keep its names (so
 * that dashboards and alert rules written for it work unchanged); the
 * others are proxykit_*, in base units.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "pk-metrics-private.h"
#include "pk-metrics-sampler.h"
#include "pk-prom-private.h"

static JsonObject *
get_object (JsonObject *o,
            const char *name)
{
  JsonNode *n;

  if (o == NULL || (n = json_object_get_member (o, name)) == NULL || !JSON_NODE_HOLDS_OBJECT (n))
    return NULL;
  return json_node_get_object (n);
}

static gboolean
get_number (JsonObject *o,
            const char *name,
            double     *out)
{
  JsonNode *n;

  if (o == NULL || (n = json_object_get_member (o, name)) == NULL ||
      !JSON_NODE_HOLDS_VALUE (n))
    return FALSE;
  switch (json_node_get_value_type (n))
    {
    case G_TYPE_INT64:
      *out = json_node_get_int (n);
      return TRUE;
    case G_TYPE_DOUBLE:
      *out = json_node_get_double (n);
      return TRUE;
    default:
      return FALSE;
    }
}

/* A family with a single unlabelled sample, if the figure exists. */
static void
single (PkPromWriter *w,
        JsonObject   *o,
        const char   *member,
        const char   *name,
        PkPromType    type,
        const char   *help)
{
  double v;

  if (!get_number (o, member, &v))
    return;
  pk_prom_writer_family (w, name, type, help);
  pk_prom_writer_sample (w, name, v, NULL);
}

static GList *
sorted_members (JsonObject *o)
{
  return g_list_sort (json_object_get_members (o), (GCompareFunc) strcmp);
}

static void
expose_cpu (PkPromWriter *w,
            JsonObject   *root)
{
  static const char *modes[] = { "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal" };
  JsonObject *cores = get_object (get_object (root, "cpu"), "cores");
  g_autoptr(GList) names = NULL;

  if (cores == NULL)
    return;
  pk_prom_writer_family (w, "node_cpu_seconds_total", PK_PROM_COUNTER,
                         "Seconds the CPUs spent in each mode.");
  names = sorted_members (cores);
  for (GList *l = names; l; l = l->next)
    {
      JsonObject *secs = get_object (get_object (cores, l->data), "seconds");
      const char *cpu = (const char *) l->data + 3;

      for (guint i = 0; i < G_N_ELEMENTS (modes); i++)
        {
          double v;
          if (get_number (secs, modes[i], &v))
            pk_prom_writer_sample (w, "node_cpu_seconds_total", v, "cpu", cpu, "mode", modes[i], NULL);
        }
    }
}

static void
expose_interfaces (PkPromWriter *w,
                   JsonObject   *root)
{
  static const struct { const char *member, *name, *help; } f[] = {
    { "rx_bytes", "node_network_receive_bytes_total", "Network device statistic receive_bytes." },
    { "rx_packets", "node_network_receive_packets_total", "Network device statistic receive_packets." },
    { "rx_errors", "node_network_receive_errs_total", "Network device statistic receive_errs." },
    { "rx_drops", "node_network_receive_drop_total", "Network device statistic receive_drop." },
    { "tx_bytes", "node_network_transmit_bytes_total", "Network device statistic transmit_bytes." },
    { "tx_packets", "node_network_transmit_packets_total", "Network device statistic transmit_packets." },
    { "tx_errors", "node_network_transmit_errs_total", "Network device statistic transmit_errs." },
    { "tx_drops", "node_network_transmit_drop_total", "Network device statistic transmit_drop." },
  };
  JsonObject *ifaces = get_object (root, "interfaces");
  g_autoptr(GList) names = NULL;

  if (ifaces == NULL)
    return;
  names = sorted_members (ifaces);
  for (guint i = 0; i < G_N_ELEMENTS (f); i++)
    {
      pk_prom_writer_family (w, f[i].name, PK_PROM_COUNTER, f[i].help);
      for (GList *l = names; l; l = l->next)
        {
          double v;
          if (get_number (get_object (ifaces, l->data), f[i].member, &v))
            pk_prom_writer_sample (w, f[i].name, v, "device", (const char *) l->data, NULL);
        }
    }
}

static void
expose_states (PkPromWriter *w,
               JsonObject   *states,
               const char   *name,
               const char   *label,
               const char   *label_value)
{
  g_autoptr(GList) members = sorted_members (states);

  for (GList *l = members; l; l = l->next)
    {
      g_autofree char *state = g_ascii_strdown (l->data, -1);
      double v;

      if (!get_number (states, l->data, &v))
        continue;
      /* The label list ends at the first NULL: without a label of its own,
       * "state" comes first. */
      if (label != NULL)
        pk_prom_writer_sample (w, name, v, label, label_value, "state", state, NULL);
      else
        pk_prom_writer_sample (w, name, v, "state", state, NULL);
    }
}

static void
expose_tcp (PkPromWriter *w,
            JsonObject   *root)
{
  JsonObject *tcp = get_object (root, "tcp");
  JsonObject *ports = get_object (tcp, "ports");
  JsonObject *eph = get_object (root, "ephemeral_ports");

  if (tcp != NULL)
    {
      pk_prom_writer_family (w, "node_tcp_connection_states", PK_PROM_GAUGE,
                             "Number of connection states.");
      expose_states (w, get_object (tcp, "states"), "node_tcp_connection_states", NULL, NULL);
      if (ports && json_object_get_size (ports) > 0)
        {
          g_autoptr(GList) names = sorted_members (ports);

          pk_prom_writer_family (w, "proxykit_tcp_local_port_connection_states", PK_PROM_GAUGE,
                                 "TCP sockets on a watched local port, by state.");
          for (GList *l = names; l; l = l->next)
            expose_states (w, get_object (ports, l->data),
                           "proxykit_tcp_local_port_connection_states", "port", l->data);
        }
      pk_prom_writer_family (w, "proxykit_tcp_remote_port_connection_states", PK_PROM_GAUGE,
                             "TCP sockets towards a remote port, by state.");
      expose_states (w, get_object (tcp, "remote_443"),
                     "proxykit_tcp_remote_port_connection_states", "port", "443");
    }
  single (w, eph, "size", "proxykit_ephemeral_ports", PK_PROM_GAUGE,
          "Size of the ephemeral port range (ip_local_port_range).");
  single (w, eph, "in_use", "proxykit_ephemeral_ports_in_use", PK_PROM_GAUGE,
          "Local ports of the ephemeral range used by TCP sockets.");
  {
    JsonObject *busiest = get_object (eph, "busiest_destination");
    double v;

    if (busiest && get_number (busiest, "in_use", &v))
      {
        pk_prom_writer_family (w, "proxykit_ephemeral_ports_busiest_destination_in_use", PK_PROM_GAUGE,
                               "TCP sockets on ephemeral ports towards the busiest remote address and port.");
        pk_prom_writer_sample (w, "proxykit_ephemeral_ports_busiest_destination_in_use", v,
                               "destination", json_object_get_string_member_with_default (busiest, "destination", ""),
                               NULL);
      }
  }
}

static void
expose_sockstat (PkPromWriter *w,
                 JsonObject   *root)
{
  JsonObject *ss = get_object (root, "sockstat");
  g_autoptr(GList) protos = NULL;

  if (ss == NULL)
    return;
  single (w, ss, "sockets_used", "node_sockstat_sockets_used", PK_PROM_GAUGE,
          "Number of IPv4 sockets in use.");
  protos = sorted_members (ss);
  for (GList *l = protos; l; l = l->next)
    {
      JsonObject *p = get_object (ss, l->data);
      g_autoptr(GList) keys = NULL;

      if (p == NULL)
        continue;
      keys = sorted_members (p);
      for (GList *k = keys; k; k = k->next)
        {
          g_autofree char *name = g_strdup_printf ("node_sockstat_%s_%s",
                                                   (char *) l->data, (char *) k->data);
          g_autofree char *help = g_strdup_printf ("Number of %s sockets in state %s.",
                                                   (char *) l->data, (char *) k->data);

          if (!pk_prom_is_valid_metric_name (name))
            continue;
          single (w, p, k->data, name, PK_PROM_GAUGE, help);
        }
    }
}

static void
expose_conntrack (PkPromWriter *w,
                  JsonObject   *root)
{
  JsonObject *ct = get_object (root, "conntrack");
  JsonObject *stats = get_object (ct, "stats");
  g_autoptr(GList) keys = NULL;

  single (w, ct, "entries", "node_nf_conntrack_entries", PK_PROM_GAUGE,
          "Number of currently allocated flow entries for connection tracking.");
  single (w, ct, "limit", "node_nf_conntrack_entries_limit", PK_PROM_GAUGE,
          "Maximum size of connection tracking table.");
  if (stats == NULL)
    return;
  keys = sorted_members (stats);
  for (GList *k = keys; k; k = k->next)
    {
      g_autofree char *name = g_strdup_printf ("node_nf_conntrack_stat_%s", (char *) k->data);
      g_autofree char *help = g_strdup_printf ("Conntrack statistic %s, summed over CPUs.",
                                               (char *) k->data);

      if (pk_prom_is_valid_metric_name (name))
        single (w, stats, k->data, name, PK_PROM_GAUGE, help);
    }
}

static void
expose_softnet (PkPromWriter *w,
                JsonObject   *root)
{
  static const struct { const char *member, *name, *help; } f[] = {
    { "processed", "node_softnet_processed_total", "Number of processed packets." },
    { "dropped", "node_softnet_dropped_total", "Number of dropped packets." },
    { "time_squeeze", "node_softnet_times_squeezed_total",
      "Number of times processing packets ran out of quota." },
  };
  JsonObject *cpus = get_object (get_object (root, "softnet"), "cpus");
  g_autoptr(GList) names = NULL;

  if (cpus == NULL)
    return;
  names = sorted_members (cpus);
  for (guint i = 0; i < G_N_ELEMENTS (f); i++)
    {
      pk_prom_writer_family (w, f[i].name, PK_PROM_COUNTER, f[i].help);
      for (GList *l = names; l; l = l->next)
        {
          double v;
          if (get_number (get_object (cpus, l->data), f[i].member, &v))
            pk_prom_writer_sample (w, f[i].name, v, "cpu", (const char *) l->data + 3, NULL);
        }
    }
}

static void
expose_processes (PkPromWriter *w,
                  JsonObject   *root)
{
  static const struct { const char *member, *name, *help; PkPromType type; } f[] = {
    { "rss_bytes", "proxykit_process_resident_memory_bytes", "Resident memory of a watched process.", PK_PROM_GAUGE },
    { "threads", "proxykit_process_threads", "Threads of a watched process.", PK_PROM_GAUGE },
    { "open_fds", "proxykit_process_open_fds", "Open file descriptors of a watched process.", PK_PROM_GAUGE },
    { "cpu_seconds", "proxykit_process_cpu_seconds_total", "User and system CPU time of a watched process.", PK_PROM_COUNTER },
  };
  JsonObject *procs = get_object (root, "processes");
  g_autoptr(GList) pids = NULL;

  if (procs == NULL || json_object_get_size (procs) == 0)
    return;
  pids = sorted_members (procs);
  for (guint i = 0; i < G_N_ELEMENTS (f); i++)
    {
      pk_prom_writer_family (w, f[i].name, f[i].type, f[i].help);
      for (GList *l = pids; l; l = l->next)
        {
          JsonObject *p = get_object (procs, l->data);
          double v;

          if (get_number (p, f[i].member, &v))
            pk_prom_writer_sample (w, f[i].name, v, "pid", (const char *) l->data,
                                   "name", json_object_get_string_member_with_default (p, "name", ""),
                                   NULL);
        }
    }
}

/**
 * pk_metrics_to_prometheus:
 * @sample: a sample from [method@MetricsSampler.sample]
 *
 * Writes @sample in the Prometheus text exposition format 0.0.4. Figures
 * that node_exporter also exports keep its names
 * (`node_tcp_connection_states{state="time_wait"}`,
 * `node_nf_conntrack_entries`, `node_sockstat_TCP_tw`, ...); the others are
 * named `proxykit_*`. Absent figures are left out.
 *
 * Returns: (transfer full): the exposition text
 *
 * Since: 0.1
 */
char *
pk_metrics_to_prometheus (JsonNode *sample)
{
  g_autoptr(PkPromWriter) w = pk_prom_writer_new ();
  JsonObject *root;
  JsonObject *load;

  g_return_val_if_fail (sample != NULL && JSON_NODE_HOLDS_OBJECT (sample), NULL);
  root = json_node_get_object (sample);

  expose_cpu (w, root);
  load = get_object (root, "load");
  single (w, load, "1m", "node_load1", PK_PROM_GAUGE, "1m load average.");
  single (w, load, "5m", "node_load5", PK_PROM_GAUGE, "5m load average.");
  single (w, load, "15m", "node_load15", PK_PROM_GAUGE, "15m load average.");
  {
    JsonObject *mem = get_object (root, "memory");
    single (w, mem, "total_bytes", "node_memory_MemTotal_bytes", PK_PROM_GAUGE, "Memory information field MemTotal_bytes.");
    single (w, mem, "free_bytes", "node_memory_MemFree_bytes", PK_PROM_GAUGE, "Memory information field MemFree_bytes.");
    single (w, mem, "available_bytes", "node_memory_MemAvailable_bytes", PK_PROM_GAUGE, "Memory information field MemAvailable_bytes.");
    single (w, mem, "buffers_bytes", "node_memory_Buffers_bytes", PK_PROM_GAUGE, "Memory information field Buffers_bytes.");
    single (w, mem, "cached_bytes", "node_memory_Cached_bytes", PK_PROM_GAUGE, "Memory information field Cached_bytes.");
    single (w, mem, "swap_total_bytes", "node_memory_SwapTotal_bytes", PK_PROM_GAUGE, "Memory information field SwapTotal_bytes.");
    single (w, mem, "swap_free_bytes", "node_memory_SwapFree_bytes", PK_PROM_GAUGE, "Memory information field SwapFree_bytes.");
  }
  expose_interfaces (w, root);
  expose_tcp (w, root);
  expose_sockstat (w, root);
  expose_conntrack (w, root);
  expose_softnet (w, root);
  expose_processes (w, root);
  return pk_prom_writer_free_to_string (g_steal_pointer (&w));
}
