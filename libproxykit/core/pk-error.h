/* pk-error.h: the libproxykit error domain
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__PROXYKIT_INSIDE__) && !defined(PROXYKIT_COMPILATION)
#error "Only <proxykit/proxykit.h> can be included directly."
#endif

#include <glib.h>
#include "pk-version-macros.h"

G_BEGIN_DECLS

/**
 * PK_ERROR:
 *
 * The error domain of libproxykit. Errors from GIO (for example
 * `G_IO_ERROR_CANCELLED`, `G_IO_ERROR_TIMED_OUT`,
 * `G_IO_ERROR_CONNECTION_REFUSED`) are passed on unchanged in their own
 * domain; `PK_ERROR` covers what GIO has no code for.
 */
#define PK_ERROR (pk_error_quark ())

/**
 * PkError:
 * @PK_ERROR_FAILED: a failure with no more specific code
 * @PK_ERROR_INVALID_ARGUMENT: an argument or option value is malformed
 * @PK_ERROR_CONFIG: a configuration file, line or environment variable is invalid
 * @PK_ERROR_PROTOCOL: a peer broke its protocol (a malformed SOCKS request, an unparsable reply)
 * @PK_ERROR_AUTH_FAILED: authentication was refused (wrong user or password, a modem login)
 * @PK_ERROR_NOT_ALLOWED: a rule refused it (allowlist, denylist, a session cap)
 * @PK_ERROR_NOT_SUPPORTED: the peer or the host does not support it
 * @PK_ERROR_EGRESS: the connection cannot leave through the configured egress
 * @PK_ERROR_RESOLVE: a host name could not be resolved
 * @PK_ERROR_BUSY: the resource is busy (a lock is held, a concurrency limit is reached)
 * @PK_ERROR_COOLDOWN: the operation is refused until a cooldown has passed
 * @PK_ERROR_TUNNEL: a tunnel failed (the message names pppd's exit reason)
 * @PK_ERROR_MODEM: a modem reported an error (the message carries its code)
 * @PK_ERROR_CHECK_FAILED: a health or traffic check failed
 * @PK_ERROR_STATE: the state store could not be read or written
 * @PK_ERROR_UNCHANGED: an operation meant to change something left it as it was (an IP rotation that kept the IP)
 *
 * Error codes in the %PK_ERROR domain.
 *
 * Since: 0.1
 */
typedef enum {
  PK_ERROR_FAILED,
  PK_ERROR_INVALID_ARGUMENT,
  PK_ERROR_CONFIG,
  PK_ERROR_PROTOCOL,
  PK_ERROR_AUTH_FAILED,
  PK_ERROR_NOT_ALLOWED,
  PK_ERROR_NOT_SUPPORTED,
  PK_ERROR_EGRESS,
  PK_ERROR_RESOLVE,
  PK_ERROR_BUSY,
  PK_ERROR_COOLDOWN,
  PK_ERROR_TUNNEL,
  PK_ERROR_MODEM,
  PK_ERROR_CHECK_FAILED,
  PK_ERROR_STATE,
  PK_ERROR_UNCHANGED,
} PkError;

PK_AVAILABLE_IN_ALL
GQuark pk_error_quark (void);

G_END_DECLS
