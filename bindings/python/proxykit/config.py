"""PkConfig: the one configuration format of all proxykit tools."""
from __future__ import annotations

import os
from typing import Iterable, List, Mapping, Optional

from . import _loop, errors
from ._util import b as _b, strv as _strv, take_strv as _strv_to_list, take_string
from ._ffi import ffi, lib

UINT64_MAX = 2 ** 64 - 1


class Config:
    """A proxykit configuration: the GKeyFile format of
    ``/etc/proxykit/proxykit.conf``, with sections such as ``[socks:11]``,
    plus the environment variables of the older shell tools.

    Lookups take the environment variable first (when one is named), then
    the file, then the default. Bad values raise :class:`ConfigError` with
    a message naming the file, line, section and key.

    >>> cfg = Config(data="[socks:11]\\nconnect-timeout = 5s\\n")
    >>> cfg.sections("socks")
    ['11']
    >>> cfg.get_duration_ms("socks:11", "connect-timeout")
    5000

    Args:
        path: a config file to load.
        data: config text to load (instead of or after ``path``).
        env_file: an environment file (``NAME=value`` lines) to load.
        environ: the environment to consult instead of ``os.environ``.
    """

    def __init__(self, path: Optional[str] = None, *, data: Optional[str] = None,
                 env_file: Optional[str] = None, environ: Optional[Mapping[str, str]] = None):
        self._ptr = _loop.wrap(lib.pk_config_new())
        if environ is not None:
            self.set_environ(environ)
        if path is not None:
            self.load_file(path)
        if data is not None:
            self.load_data(data)
        if env_file is not None:
            self.load_env_file(env_file)

    def load_file(self, path: str | os.PathLike) -> None:
        """Loads a config file; raises :class:`ConfigError` or :class:`NotFound`."""
        errors.call(lib.pk_config_load_file, self._ptr, os.fsencode(path))

    def load_data(self, data: str, origin: str = '<data>') -> None:
        """Loads config text; ``origin`` names it in error messages."""
        raw = data.encode()
        errors.call(lib.pk_config_load_data, self._ptr, raw, len(raw), origin.encode())

    def load_env_file(self, path: str | os.PathLike) -> None:
        """Loads an environment file of ``NAME=value`` lines, which is
        consulted before the environment."""
        errors.call(lib.pk_config_load_env_file, self._ptr, os.fsencode(path))

    def set_environ(self, environ: Optional[Mapping[str, str]]) -> None:
        """Sets the environment that lookups consult (``None``: the process's)."""
        if environ is None:
            lib.pk_config_set_environ(self._ptr, ffi.NULL)
            return
        arr, keep = _strv(f'{k}={v}' for k, v in environ.items())
        lib.pk_config_set_environ(self._ptr, arr)
        del keep

    def getenv(self, name: str) -> Optional[str]:
        """An environment variable as the config sees it, or ``None``."""
        v = lib.pk_config_getenv(self._ptr, name.encode())
        return ffi.string(v).decode() if v != ffi.NULL else None

    @property
    def origin(self) -> Optional[str]:
        """The file (or origin) the config was loaded from."""
        v = lib.pk_config_get_origin(self._ptr)
        return ffi.string(v).decode() if v != ffi.NULL else None

    def sections(self, kind: Optional[str] = None) -> List[str]:
        """Section names; with ``kind`` (``"socks"``), the names after
        ``socks:`` of the sections of that kind (``""`` for a bare ``[socks]``)."""
        return _strv_to_list(lib.pk_config_list_sections(self._ptr, _b(kind)))

    def has_section(self, section: str) -> bool:
        """Whether the configuration has the section ``section`` (``"socks:11"``)."""
        return bool(lib.pk_config_has_section(self._ptr, section.encode()))

    def has_key(self, section: str, key: str) -> bool:
        """Whether ``key`` is set in ``section``."""
        return bool(lib.pk_config_has_key(self._ptr, section.encode(), key.encode()))

    def describe(self, section: str, key: str) -> str:
        """Where a key comes from, as error messages name it (``file:LINE: [section] key``)."""
        return take_string(lib.pk_config_describe(self._ptr, section.encode(), key.encode()))

    def check_keys(self, section: str, known_keys: Iterable[str]) -> None:
        """Raises :class:`ConfigError` naming the first key of ``section``
        that is not in ``known_keys``."""
        arr, keep = _strv(known_keys)
        errors.call(lib.pk_config_check_keys, self._ptr, section.encode(), arr)
        del keep

    def get_string(self, section: str, key: str, env: Optional[str] = None,
                   default: Optional[str] = None) -> Optional[str]:
        """A string value: the environment variable ``env`` if set, then the
        file, then ``default``."""
        return take_string(lib.pk_config_dup_string(self._ptr, section.encode(), key.encode(),
                                                    _b(env), _b(default)))

    def get_uint(self, section: str, key: str, env: Optional[str] = None, *,
                 min: int = 0, max: int = UINT64_MAX, default: int = 0) -> int:
        """An unsigned integer in ``[min, max]``; raises :class:`ConfigError`."""
        out = ffi.new('guint64 *')
        errors.call(lib.pk_config_get_uint, self._ptr, section.encode(), key.encode(), _b(env),
                    min, max, default, out)
        return out[0]

    def get_duration_ms(self, section: str, key: str, env: Optional[str] = None, *,
                        default: int = 0) -> int:
        """A duration in milliseconds (``30``, ``30s``, ``500ms``, ``2m``, ``1h``)."""
        out = ffi.new('guint64 *')
        errors.call(lib.pk_config_get_duration_ms, self._ptr, section.encode(), key.encode(),
                    _b(env), default, out)
        return out[0]

    def get_duration(self, section: str, key: str, env: Optional[str] = None, *,
                     default: float = 0.0) -> float:
        """A duration in seconds, as a float."""
        return self.get_duration_ms(section, key, env, default=int(default * 1000)) / 1000.0

    def get_boolean(self, section: str, key: str, env: Optional[str] = None, *,
                    default: bool = False) -> bool:
        """A boolean (``true``/``false``, ``yes``/``no``, ``1``/``0``)."""
        out = ffi.new('gboolean *')
        errors.call(lib.pk_config_get_boolean, self._ptr, section.encode(), key.encode(),
                    _b(env), bool(default), out)
        return bool(out[0])

    # --- overrides: what a command-line flag does ---

    def set_override(self, section: Optional[str], key: str, value: Optional[str],
                     origin: Optional[str] = None) -> None:
        """Sets a value that wins over the environment and the file, for
        ``section`` (``None``: every section); ``origin`` (such as
        ``"--connect-timeout"``) names it in errors. ``value=None`` removes it.

        >>> cfg = Config(data="[socks:11]\\nconnect-timeout = 5s\\n")
        >>> cfg.set_override(None, "connect-timeout", "7s", "--connect-timeout")
        >>> cfg.get_duration_ms("socks:11", "connect-timeout")
        7000
        """
        lib.pk_config_set_override(self._ptr, _b(section), key.encode(), _b(value), _b(origin))

    def set_override_list(self, section: Optional[str], key: str,
                          values: Optional[Iterable[str]], origin: Optional[str] = None) -> None:
        """:meth:`set_override` for a list key (a repeated flag)."""
        if values is None:
            lib.pk_config_set_override_list(self._ptr, _b(section), key.encode(), ffi.NULL, _b(origin))
            return
        arr, keep = _strv(values)
        lib.pk_config_set_override_list(self._ptr, _b(section), key.encode(), arr, _b(origin))
        del keep

    def has_value(self, section: Optional[str], key: Optional[str], env: Optional[str] = None) -> bool:
        """Whether an override, ``env`` or the file sets ``key``."""
        return bool(lib.pk_config_has_value(self._ptr, _b(section), _b(key), _b(env)))

    def describe_value(self, section: Optional[str], key: Optional[str],
                       env: Optional[str] = None) -> Optional[str]:
        """Where the value of ``key`` comes from (``"--listen"``,
        ``"environment variable SOCKS_LISTEN"``, ``"proxykit.conf:3: [socks:11] listen"``),
        or ``None`` when nothing sets it."""
        return take_string(lib.pk_config_describe_value(self._ptr, _b(section), _b(key), _b(env)))
