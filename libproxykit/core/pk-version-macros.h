/* pk-version-macros.h: symbol availability
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__PROXYKIT_INSIDE__) && !defined(PROXYKIT_COMPILATION)
#error "Only <proxykit/proxykit.h> can be included directly."
#endif

#include <glib.h>

#ifndef _PK_EXTERN
#define _PK_EXTERN __attribute__((visibility ("default"))) extern
#endif

/**
 * PK_AVAILABLE_IN_ALL:
 *
 * Marks a symbol as part of the public, exported API.
 */
#define PK_AVAILABLE_IN_ALL _PK_EXTERN

/**
 * PK_AVAILABLE_IN_0_1:
 *
 * Marks a symbol as available since 0.1.
 */
#define PK_AVAILABLE_IN_0_1 _PK_EXTERN

/**
 * PK_DEPRECATED_FOR:
 * @f: the replacement
 *
 * Marks a symbol as deprecated in favour of @f.
 */
#define PK_DEPRECATED_FOR(f) G_DEPRECATED_FOR (f) _PK_EXTERN
