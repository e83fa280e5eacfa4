"""Small conversions shared by the wrappers."""
from __future__ import annotations

import dataclasses
import threading
from typing import Any, Dict, Iterable, Iterator, List, Optional

from ._ffi import ffi, lib


def has_function(name: str) -> bool:
    """Whether libproxykit has ``name``: the declarations come from its
    headers, less what the library was built without (HiLink and the toggle
    server need libsoup)."""
    return hasattr(lib, name)


def not_built(feature: str, needs: str):
    """The error for a class whose C side the library was built without."""
    from . import errors
    return errors.NotSupported(f'libproxykit was built without {needs}: no {feature}',
                               errors.PK_ERROR_DOMAIN, lib.PK_ERROR_NOT_SUPPORTED)


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


class Service:
    """What servers share: ``with`` starts and stops them, and
    :meth:`serve_forever` serves until Ctrl-C. Subclasses have ``start()``,
    ``stop()`` and a ``serving`` property."""

    def serve_forever(self) -> None:
        """Starts (if needed) and blocks until Ctrl-C, then stops. For
        scripts whose only job is to serve."""
        if not self.serving:
            self.start()
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class Record:
    """What the typed results share (frozen dataclasses): attributes are
    the API, and the dict access of earlier versions still works
    (``result["new_ip"]``, ``"new_ip" in result``, ``dict(result)``)."""

    def as_dict(self) -> Dict[str, Any]:
        """The fields as a plain dict (nested results too)."""
        return {k: _plain(self[k]) for k in self.keys()}

    def keys(self) -> List[str]:
        """The field names (the keys of the dict access)."""
        return [f.name for f in dataclasses.fields(self)]

    def __getitem__(self, key: str) -> Any:
        if key not in self.keys():
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        """``self[key]``, or ``default`` for a key that is not a field."""
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        return key in self.keys()

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())


def _plain(value: Any) -> Any:
    if isinstance(value, Record):
        return value.as_dict()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
