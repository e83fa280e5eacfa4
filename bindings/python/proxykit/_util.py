"""Small conversions shared by the wrappers."""
from __future__ import annotations

from typing import Iterable, List, Optional

from ._ffi import ffi, lib


def b(s: Optional[str]):
    """A str as a C string argument, None as NULL."""
    return s.encode() if s is not None else ffi.NULL


def string(ptr) -> Optional[str]:
    """A borrowed C string as a str (NULL as None)."""
    return ffi.string(ptr).decode('utf-8', 'replace') if ptr != ffi.NULL else None


def take_string(ptr) -> Optional[str]:
    """A (transfer full) C string as a str; frees it."""
    if ptr == ffi.NULL:
        return None
    try:
        return ffi.string(ptr).decode('utf-8', 'replace')
    finally:
        lib.g_free(ptr)


def take_strv(strv) -> List[str]:
    """A (transfer full) NULL-terminated string array as a list; frees it."""
    out: List[str] = []
    if strv == ffi.NULL:
        return out
    try:
        i = 0
        while strv[i] != ffi.NULL:
            out.append(ffi.string(strv[i]).decode('utf-8', 'replace'))
            i += 1
    finally:
        lib.g_strfreev(strv)
    return out


def strv(items: Iterable[str]):
    """A NULL-terminated ``const char * const *`` and the buffers behind it
    (keep both alive for the duration of the call)."""
    keep = [ffi.new('char[]', s.encode()) for s in items]
    arr = ffi.new('const char *[]', keep + [ffi.NULL])
    return arr, keep


def ms(seconds: Optional[float]) -> int:
    """Seconds (float) as whole milliseconds for C; None or <= 0 as 0."""
    if seconds is None or seconds <= 0:
        return 0
    return max(1, int(round(seconds * 1000)))


def python_wait(timeout: Optional[float], grace: float = 2.0) -> Optional[float]:
    """How long Python waits for a C call that has its own ``timeout``: a
    little longer, so that the C library reports its own timeout error."""
    return None if timeout is None else timeout + grace
