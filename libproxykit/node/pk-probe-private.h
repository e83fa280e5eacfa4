/* pk-probe-private.h: one run of a PkProbe, shared by the files of the probe
 *
 * pk-probe.c holds the object, the run with its timeout and the simple
 * kinds; pk-probe-http.c the HTTP GET; pk-startup-check.c the startup
 * check on top of retries; pk-probe-dongle.c the dongle diagnosis.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "pk-probe.h"
#include "pk-dongle.h"
#include "pk-modem.h"
#include "pk-routing.h"

G_BEGIN_DECLS

/* The task data of pk_probe_run_async(). */
typedef struct {
  gint64 start;
  guint timeout_ms;
  gboolean timed_out;
  /* cancelled by the timeout and by the caller's cancellable: what a
   * kind passes to the calls it makes */
  GCancellable *inner;
  GCancellable *outer;
  gulong outer_id;
  GSource *timeout_source;

  GIOStream *stream;             /* SOCKS: the connection to the proxy */
  gpointer kind_data;            /* HTTP: its own state */
  GDestroyNotify kind_data_free;
} PkProbeRun;

/* Ends a run with @error (taken; NULL when the check passed): every run
 * ends here, so that a timeout reads as one and "completed" is emitted. */
void     pk_probe_run_return      (GTask    *task,
                                   GError   *error);
/* A count (a latency, a try number) returned with g_task_return_int(). */
gboolean pk_probe_propagate_count (GTask    *task,
                                   guint64  *out_value,
                                   GError  **error);
/* The HTTP GET of a run (pk-probe-http.c). */
void     pk_probe_http_run        (GTask      *task,
                                   PkEgress   *egress,
                                   const char *url);

/* The diagnosis of a dongle (pk-probe-dongle.c). */
void     pk_probe_dongle_run      (GTask      *task,
                                   PkDongle   *dongle,
                                   PkRouting  *routing,
                                   PkModem    *modem);

G_END_DECLS
