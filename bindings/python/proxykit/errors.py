"""The exceptions of :mod:`proxykit`.

Every error from the C library arrives as a ``GError`` and becomes an
instance of a :class:`Error` subclass that keeps the ``GError``'s domain,
code and message. ``PK_ERROR`` codes map to named classes (for example
:class:`AuthFailed`, :class:`ModemError`); GIO's errors keep GIO's meaning
and also derive from the matching built-in exception, so that
``except TimeoutError`` and ``except ConnectionRefusedError`` work.
"""
from __future__ import annotations

import re
from typing import Optional

from ._ffi import ffi, lib

PK_ERROR_DOMAIN = 'pk-error-quark'
GIO_ERROR_DOMAIN = 'g-io-error-quark'


class Error(Exception):
    """Base class of every error that proxykit raises.

    Attributes:
        domain: the GError domain, ``"pk-error-quark"`` for libproxykit's
            own errors and ``"g-io-error-quark"`` for GIO's.
        code: the code within the domain (a ``PK_ERROR_*`` or
            ``G_IO_ERROR_*`` value).
        message: the message from the C library, which names what failed.
        huawei_code: for errors a HiLink modem reported, its numeric code
            (``100004`` busy -> :class:`Busy`, ``108006`` wrong password ->
            :class:`AuthFailed`, others -> :class:`ModemError`); else ``None``.
    """

    huawei_code: Optional[int] = None

    def __init__(self, message: str, domain: str = PK_ERROR_DOMAIN, code: int = 0):
        super().__init__(message)
        self.message = message
        self.domain = domain
        self.code = code

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.message!r}, domain={self.domain!r}, code={self.code})'


# --- PK_ERROR ---

class Failed(Error):
    """``PK_ERROR_FAILED``: a failure with no more specific code."""


class InvalidArgument(Error, ValueError):
    """``PK_ERROR_INVALID_ARGUMENT``: an argument or option value is malformed."""


class ConfigError(Error):
    """``PK_ERROR_CONFIG``: a config file, line or environment variable is invalid."""


class ProtocolError(Error):
    """``PK_ERROR_PROTOCOL``: a peer broke its protocol."""


class AuthFailed(Error):
    """``PK_ERROR_AUTH_FAILED``: authentication was refused."""


class NotAllowed(Error):
    """``PK_ERROR_NOT_ALLOWED``: a rule refused it (allowlist, a session cap)."""


class NotSupported(Error):
    """``PK_ERROR_NOT_SUPPORTED``: the peer or the host does not support it."""


class EgressError(Error):
    """``PK_ERROR_EGRESS``: the connection cannot leave through the egress."""


class ResolveError(Error):
    """``PK_ERROR_RESOLVE``: a host name could not be resolved."""


class Busy(Error):
    """``PK_ERROR_BUSY``: a lock is held or a concurrency limit is reached."""


class Cooldown(Error):
    """``PK_ERROR_COOLDOWN``: refused until a cooldown has passed."""


class TunnelError(Error):
    """``PK_ERROR_TUNNEL``: a tunnel failed (the message names pppd's reason)."""


class ModemError(Error):
    """``PK_ERROR_MODEM``: a modem reported an error.

    Attributes:
        huawei_code: the numeric error code of the HiLink API (for example
            ``125002`` for a stale token, ``112001`` for a failed
            network-mode change), or ``None`` when the error has none.
    """

    def __init__(self, message: str, domain: str = PK_ERROR_DOMAIN, code: int = 0):
        super().__init__(message, domain, code)
        self.huawei_code = _huawei_code_in(message)


class CheckFailed(Error):
    """``PK_ERROR_CHECK_FAILED``: a health or traffic check failed."""


class StateError(Error):
    """``PK_ERROR_STATE``: the state store could not be read or written."""


class Unchanged(Error):
    """``PK_ERROR_UNCHANGED``: an operation left things as they were
    (an IP rotation that kept the IP)."""


# --- GIO's errors (G_IO_ERROR), passed on by the library unchanged ---

class GioError(Error, OSError):
    """An error in GIO's domain with no more specific class here."""


class Cancelled(GioError):
    """``G_IO_ERROR_CANCELLED``: the operation was cancelled."""


class TimedOut(GioError, TimeoutError):
    """``G_IO_ERROR_TIMED_OUT``, or a Python-side timeout of a blocking call."""


class ConnectionRefused(GioError, ConnectionRefusedError):
    """``G_IO_ERROR_CONNECTION_REFUSED``."""


class ConnectionClosed(GioError, ConnectionResetError):
    """``G_IO_ERROR_CONNECTION_CLOSED`` or ``G_IO_ERROR_BROKEN_PIPE``."""


class HostUnreachable(GioError):
    """``G_IO_ERROR_HOST_UNREACHABLE``."""


class NetworkUnreachable(GioError):
    """``G_IO_ERROR_NETWORK_UNREACHABLE``."""


class HostNotFound(GioError):
    """``G_IO_ERROR_HOST_NOT_FOUND``."""


class AddressInUse(GioError):
    """``G_IO_ERROR_ADDRESS_IN_USE``."""


class PermissionDenied(GioError, PermissionError):
    """``G_IO_ERROR_PERMISSION_DENIED``."""


class NotFound(GioError, FileNotFoundError):
    """``G_IO_ERROR_NOT_FOUND``."""


# For an error made in Python from a message alone (make_error()): the
# HiLink code in its text. Errors from C carry theirs with them
# (pk_hilink_error_get_code()), whatever context is in front.
_HAVE_HILINK = hasattr(lib, 'pk_hilink_error_get_code')
_HUAWEI_CODE = re.compile(r'\bHiLink error (\d+):')


def _huawei_code_in(message: str) -> Optional[int]:
    m = _HUAWEI_CODE.search(message)
    return int(m.group(1)) if m else None


_PK_CLASSES = {
    lib.PK_ERROR_FAILED: Failed,
    lib.PK_ERROR_INVALID_ARGUMENT: InvalidArgument,
    lib.PK_ERROR_CONFIG: ConfigError,
    lib.PK_ERROR_PROTOCOL: ProtocolError,
    lib.PK_ERROR_AUTH_FAILED: AuthFailed,
    lib.PK_ERROR_NOT_ALLOWED: NotAllowed,
    lib.PK_ERROR_NOT_SUPPORTED: NotSupported,
    lib.PK_ERROR_EGRESS: EgressError,
    lib.PK_ERROR_RESOLVE: ResolveError,
    lib.PK_ERROR_BUSY: Busy,
    lib.PK_ERROR_COOLDOWN: Cooldown,
    lib.PK_ERROR_TUNNEL: TunnelError,
    lib.PK_ERROR_MODEM: ModemError,
    lib.PK_ERROR_CHECK_FAILED: CheckFailed,
    lib.PK_ERROR_STATE: StateError,
    lib.PK_ERROR_UNCHANGED: Unchanged,
}

_GIO_CLASSES = {
    lib.G_IO_ERROR_CANCELLED: Cancelled,
    lib.G_IO_ERROR_TIMED_OUT: TimedOut,
    lib.G_IO_ERROR_CONNECTION_REFUSED: ConnectionRefused,
    lib.G_IO_ERROR_CONNECTION_CLOSED: ConnectionClosed,
    lib.G_IO_ERROR_BROKEN_PIPE: ConnectionClosed,
    lib.G_IO_ERROR_HOST_UNREACHABLE: HostUnreachable,
    lib.G_IO_ERROR_NETWORK_UNREACHABLE: NetworkUnreachable,
    lib.G_IO_ERROR_HOST_NOT_FOUND: HostNotFound,
    lib.G_IO_ERROR_ADDRESS_IN_USE: AddressInUse,
    lib.G_IO_ERROR_PERMISSION_DENIED: PermissionDenied,
    lib.G_IO_ERROR_NOT_FOUND: NotFound,
}


def error_class(domain: str, code: int) -> type:
    """The :class:`Error` subclass for a GError domain and code."""
    if domain == PK_ERROR_DOMAIN:
        return _PK_CLASSES.get(code, Error)
    if domain == GIO_ERROR_DOMAIN:
        return _GIO_CLASSES.get(code, GioError)
    return Error


def make_error(domain: str, code: int, message: str) -> Error:
    return error_class(domain, code)(message, domain, code)


def take_gerror(gerror) -> Error:
    """Turns a ``GError *`` into an exception and frees the GError."""
    domain = ffi.string(lib.g_quark_to_string(gerror.domain)).decode()
    message = ffi.string(gerror.message).decode('utf-8', 'replace') if gerror.message else ''
    code = gerror.code
    huawei_code = lib.pk_hilink_error_get_code(gerror) if _HAVE_HILINK else 0
    lib.g_error_free(gerror)
    err = make_error(domain, code, message)
    err.huawei_code = huawei_code or None
    return err


def call(fn, *args):
    """Calls a C function whose last parameter is ``GError **``: returns its
    result, or raises the GError it set."""
    err = ffi.new('GError **')
    ret = fn(*args, err)
    if err[0] != ffi.NULL:
        raise take_gerror(err[0])
    return ret


def timed_out(what: str, timeout: float) -> TimedOut:
    return TimedOut(f'{what} timed out after {timeout:g} s', GIO_ERROR_DOMAIN,
                    lib.G_IO_ERROR_TIMED_OUT)
