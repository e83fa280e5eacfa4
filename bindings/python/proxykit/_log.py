"""libproxykit's log messages in Python's :mod:`logging`.

The library logs through GLib (domain ``proxykit``). On import the package
installs a GLib log writer that hands those messages to the ``proxykit``
logger, so that they follow the application's logging configuration:

=====================  =================
GLib level             logging level
=====================  =================
error                  CRITICAL
critical               ERROR
warning                WARNING
message, info          INFO
debug                  DEBUG
=====================  =================

Messages of other domains (GLib's own) go to GLib's writer as before. Debug
messages are passed on while the ``proxykit`` logger is enabled for DEBUG
(checked at import, at each message passed on and by :func:`refresh`) or
``G_MESSAGES_DEBUG`` asks for them. ``PROXYKIT_LOG=glib`` in the
environment keeps GLib's own writer (messages on stderr or the journal).
"""
from __future__ import annotations

import atexit
import logging
import os

from ._ffi import def_extern, ffi, lib

logger = logging.getLogger('proxykit')

_LEVELS = {
    lib.G_LOG_LEVEL_ERROR: logging.CRITICAL,
    lib.G_LOG_LEVEL_CRITICAL: logging.ERROR,
    lib.G_LOG_LEVEL_WARNING: logging.WARNING,
    lib.G_LOG_LEVEL_MESSAGE: logging.INFO,
    lib.G_LOG_LEVEL_INFO: logging.INFO,
    lib.G_LOG_LEVEL_DEBUG: logging.DEBUG,
}


def refresh() -> None:
    """Tells the library again whether the ``proxykit`` logger wants debug
    messages (after ``logger.setLevel(logging.DEBUG)``, say)."""
    lib.pk_py_log_set_debug(logger.isEnabledFor(logging.DEBUG))


@def_extern('_pk_py_log_cb')
def _pk_py_log_cb(level, domain, message):
    py_level = next((v for k, v in _LEVELS.items() if level & k), logging.INFO)
    lib.pk_py_log_set_debug(logger.isEnabledFor(logging.DEBUG))
    if logger.isEnabledFor(py_level):
        logger.log(py_level, '%s', ffi.string(message).decode('utf-8', 'replace'))


def _disable() -> None:
    # No calls into Python while the interpreter goes away; threads of the
    # library that still log then write through GLib's writer.
    lib.pk_py_log_set_enabled(False)


def install() -> bool:
    """Routes the library's messages into :mod:`logging` (done on import;
    False where ``PROXYKIT_LOG=glib`` keeps GLib's writer)."""
    if os.environ.get('PROXYKIT_LOG', '').lower() == 'glib':
        return False
    lib.pk_py_log_install()
    refresh()
    lib.pk_py_log_set_enabled(True)
    atexit.register(_disable)
    return True


installed = install()
