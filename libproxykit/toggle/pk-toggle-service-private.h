/* pk-toggle-service-private.h: what PkToggleService builds from a configuration
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "pk-dongle-monitor.h"
#include "pk-hilink-modem.h"
#include "pk-toggle-ladder.h"
#include "pk-toggle-modem-step.h"
#include "pk-toggle-service.h"
#include "pk-usb-controller-reset.h"

G_BEGIN_DECLS

typedef struct {
  guint id;
  char *api;
  char *address;
  char *socks_host;
  guint16 socks_port;
  PkHilinkModem *modem;
  PkToggle *toggle;
  PkToggleModemStep *modem_step;
} PkToggleServiceDongle;

/* A value for one dongle from the caller ("--api 11=URL"). */
typedef struct {
  guint id;
  char *key;
  char *value;
  char *text;      /* as given, "11=URL", for messages */
  char *origin;    /* "--api" */
} PkToggleServiceValue;

/* What the caller set before loading. */
typedef struct {
  GPtrArray *values;  /* PkToggleServiceValue */
  char **named;       /* dongle numbers for the convention, or NULL */
  char *first;        /* the ladder's rungs, NULL for the recovery ladder */
  char *last;
  gboolean use_usb;
} PkToggleServiceOptions;

/* What the options and the configuration make: built whole or not at
 * all, so that a reload with a bad configuration leaves the running one. */
typedef struct {
  PkConfig *config;
  GPtrArray *dongles;         /* PkToggleServiceDongle, sorted by id */
  PkToggleLimiter *limiter;
  PkRotationMethod method;
  guint cooldown_ms;
  guint64 max_concurrent;
  char *state_dir;
  char *token;                /* of the HTTP API, or NULL */
  gboolean allow_get;
  PkToggleLadderSettings *ladder;
  PkDongleMonitor *monitor;   /* the dongles on USB, or NULL */
  PkUsbControllerReset *controller_reset;  /* from [toggle], not allowed by default */
  gboolean controller_reset_set;           /* [toggle] has one of its keys */
} PkToggleServiceSetup;

PkToggleServiceSetup  *pk_toggle_service_setup_load (PkConfig                     *config,
                                                     const PkToggleServiceOptions *options,
                                                     GError                      **error);
void                   pk_toggle_service_setup_free (PkToggleServiceSetup         *s);
PkToggleServiceDongle *pk_toggle_service_setup_find (PkToggleServiceSetup         *s,
                                                     guint                         id);

void                   pk_toggle_service_value_free (PkToggleServiceValue         *v);

/* "11-20,25 30" -> sorted unique numbers 0..255; errors name @what. */
GArray                *pk_toggle_service_parse_id_list (const char  *what,
                                                        const char  *list,
                                                        GError     **error);

/* A scan of the dongles on USB now, or NULL (with a warning) without
 * discovery. */
PkDongleMonitor       *pk_toggle_service_scan       (PkConfig                     *config);

/* What the service runs now (NULL before a load). */
PkToggleServiceSetup  *pk_toggle_service_get_setup  (PkToggleService              *self);
/* The toggles of @ids (NULL: all) as new references, or NULL with
 * PK_ERROR_INVALID_ARGUMENT when one is not there. */
GPtrArray             *pk_toggle_service_select     (PkToggleService              *self,
                                                     const guint                  *ids,
                                                     gsize                         n_ids,
                                                     GError                      **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PkToggleServiceSetup, pk_toggle_service_setup_free)

G_END_DECLS
