/* pk-metrics-private.h: internals of the metrics area (not installed)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* ---- /proc parsers (pk-metrics-proc.c) ---- */

/* user nice system idle iowait irq softirq steal (guest is in user) */
enum { PK_CPU_USER, PK_CPU_NICE, PK_CPU_SYSTEM, PK_CPU_IDLE, PK_CPU_IOWAIT,
       PK_CPU_IRQ, PK_CPU_SOFTIRQ, PK_CPU_STEAL, PK_CPU_N_FIELDS };
typedef struct { guint64 v[PK_CPU_N_FIELDS]; } PkCpuTimes;

enum { PK_IF_RX_BYTES, PK_IF_RX_PACKETS, PK_IF_RX_ERRORS, PK_IF_RX_DROPS,
       PK_IF_TX_BYTES, PK_IF_TX_PACKETS, PK_IF_TX_ERRORS, PK_IF_TX_DROPS,
       PK_IF_N_FIELDS };
typedef struct { guint64 v[PK_IF_N_FIELDS]; } PkIfaceCounters;

typedef struct { guint64 processed, dropped, time_squeeze; } PkSoftnetRow;

typedef struct {
  char   *comm;
  guint64 utime, stime, threads, rss_pages;
} PkProcessStat;

#define PK_TCP_N_STATES 12
extern const char * const pk_tcp_state_names[PK_TCP_N_STATES];

typedef struct {
  guint64  states[PK_TCP_N_STATES];
  guint64  total;
  guint    n_ports;
  guint16 *ports;                          /* watched local ports */
  guint64 (*port_states)[PK_TCP_N_STATES]; /* n_ports rows */
  guint64  remote443[PK_TCP_N_STATES];
  guint    eph_low, eph_high;
  guint64  eph_in_use;
  guint64  eph_seen[65536 / 64];
  /* connect() runs out of ports per destination: sockets in the range by
   * remote address and port (PkDestKey -> count), and the busiest one */
  GHashTable *eph_by_dest;
  guint8   busiest_family;
  guint8   busiest_addr[16];
  guint16  busiest_port;
  guint64  busiest_count;
  gboolean per_family;     /* skip the one-walk AF_UNSPEC dump */
} PkTcpCounts;

typedef struct {
  guint8  family;
  guint8  addr[16];
  guint16 port;
} PkDestKey;

guint      pk_dest_key_hash            (gconstpointer key);
gboolean   pk_dest_key_equal           (gconstpointer a,
                                        gconstpointer b);

char      *pk_metrics_read_file        (const char *root,
                                        const char *relative);
gboolean   pk_metrics_read_uint        (const char *root,
                                        const char *relative,
                                        guint64    *out);
/* name ("cpu", "cpu0", ...) -> PkCpuTimes */
void       pk_metrics_parse_stat       (const char *text,
                                        GHashTable *out);
/* key -> guint64 (bytes where the file says kB) */
void       pk_metrics_parse_meminfo    (const char *text,
                                        GHashTable *out);
/* interface -> PkIfaceCounters */
void       pk_metrics_parse_net_dev    (const char *text,
                                        GHashTable *out);
void       pk_metrics_build_sockstat   (JsonBuilder *b,
                                        const char  *text);
void       pk_metrics_build_conntrack_stats (JsonBuilder *b,
                                             const char  *text);
guint      pk_metrics_parse_softnet    (const char *text,
                                        GArray     *rows);
gboolean   pk_metrics_parse_pid_stat   (const char    *text,
                                        PkProcessStat *out);
void       pk_process_stat_clear       (PkProcessStat *stat);
gboolean   pk_metrics_tcp_dump         (PkTcpCounts *counts,
                                        GError     **error);

/* Tests: count TCP with one SOCK_DIAG_BY_FAMILY dump per family, the
 * fallback for kernels without the AF_UNSPEC dump. */
typedef struct _PkMetricsSampler PkMetricsSampler;
void       pk_metrics_sampler_set_dump_per_family (PkMetricsSampler *self,
                                                   gboolean          per_family);

/* ---- sample helpers (pk-metrics-history.c) ---- */

/* Numeric leaves of a sample as "a.b.c" -> double, for rollups, alerts
 * and analysis. Null leaves (absent figures) are left out. */
GHashTable *pk_metrics_flatten         (JsonNode   *sample);
/* The value at a dotted path, FALSE if absent or not a number. */
gboolean   pk_metrics_lookup           (JsonNode   *sample,
                                        const char *path,
                                        double     *out);
gint64     pk_metrics_sample_time_us   (JsonNode   *sample);

G_END_DECLS
