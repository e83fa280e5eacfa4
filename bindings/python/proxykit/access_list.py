"""PkAccessList: a list of addresses and CIDRs kept up to date from a URL."""
from __future__ import annotations

from typing import Callable, List, Optional

from . import _loop, errors
from ._ffi import ffi, lib
from ._util import ms, string, take_string, take_strv
from .egress import Egress


class AccessList:
    """A list of IP addresses and CIDRs that an ``http``/``https`` URL
    serves, one per line with ``#`` comments, such as a farm's client
    allowlist or a blocklist. A copy with a bad line is rejected whole
    (:attr:`last_error` names the line); a failed fetch keeps the copy
    loaded before. Good copies are written to ``cache_path`` atomically,
    and :meth:`start` loads that copy first.

    >>> acl = AccessList("https://lists.example/allow.txt", refresh=900,
    ...                  cache_path="/var/lib/proxykit/access-lists/allow.list")
    >>> acl.refresh_now()            # one fetch, raises on failure
    >>> acl.matches("10.1.2.3"), acl.n_entries

    A :class:`SocksServer` takes one as its client allowlist or destination
    denylist (``allow_list=``, ``deny_list=``; ``allow-url``/``deny-url`` in
    a configuration) and keeps it up to date while it serves.

    Args:
        url: where the list is fetched from.
        refresh: seconds between fetches once started (default one hour).
        egress: the :class:`Egress` fetches leave through (default route if
            ``None``).
        cache_path: the file that keeps the last good copy.
        on_changed: called (on the callbacks thread, no arguments) when
            the entries change.
    """

    def __init__(self, url: str, *, refresh: Optional[float] = None,
                 egress: Optional[Egress] = None, cache_path: Optional[str] = None,
                 on_changed: Optional[Callable[[], None]] = None):
        self._ptr = _loop.wrap(lib.pk_access_list_new(url.encode()))
        self._connections: List[_loop.SignalConnection] = []
        if refresh is not None:
            lib.pk_access_list_set_refresh(self._ptr, ms(refresh))
        if egress is not None:
            lib.pk_access_list_set_egress(self._ptr, egress._ptr)
        if cache_path is not None:
            lib.pk_access_list_set_cache_path(self._ptr, cache_path.encode())
        if on_changed is not None:
            self.connect('changed', on_changed)

    @classmethod
    def _from_ptr(cls, ptr) -> Optional['AccessList']:
        """Wraps a borrowed ``PkAccessList *`` (takes a reference)."""
        if ptr == ffi.NULL:
            return None
        self = cls.__new__(cls)
        self._ptr = _loop.wrap(lib.g_object_ref(ptr))
        self._connections = []
        return self

    def connect(self, signal: str, handler: Callable) -> _loop.SignalConnection:
        """Connects a handler to a PkAccessList signal (``changed``)."""
        conn = _loop.connect_signal(self._ptr, signal, handler)
        self._connections.append(conn)
        return conn

    def _run(self, fn, *args):
        return _loop.run(lambda: fn(self._ptr, *args))

    def load_data(self, text: str) -> None:
        """Loads a copy given here, as if fetched (not cached). Raises
        :class:`ProtocolError` naming the first bad line; the list stays
        as it was then."""
        _loop.run(lambda: errors.call(lib.pk_access_list_load_data, self._ptr, text.encode()))

    def load_cache(self) -> None:
        """Loads the copy in :attr:`cache_path`. Raises :class:`NotFound`
        when there is no copy of this URL there, :class:`StateError` when
        it cannot be read or is malformed."""
        _loop.run(lambda: errors.call(lib.pk_access_list_load_cache, self._ptr))

    def refresh_now(self, timeout: Optional[float] = 60.0) -> None:
        """Fetches once now and waits for it. Raises what the fetch met
        (a connection error, :class:`ProtocolError` for an HTTP status or
        a malformed copy); the loaded copy stays then."""

        def start(cancellable, callback, data):
            lib.pk_access_list_refresh_async(self._ptr, cancellable, callback, data)

        def finish(source, result):
            errors.call(lib.pk_access_list_refresh_finish, self._ptr, result)

        _loop.call_async(start, finish, timeout, f'fetching {self.url}')

    def start(self) -> 'AccessList':
        """Keeps the list up to date in the package's GLib thread: the
        cache first if nothing is loaded, a fetch now, then every
        :attr:`refresh` seconds (sooner after a failure)."""
        self._run(lib.pk_access_list_start)
        return self

    def stop(self) -> None:
        """Stops fetching; the loaded copy stays."""
        self._run(lib.pk_access_list_stop)

    def __enter__(self) -> 'AccessList':
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The URL of the list."""
        return string(lib.pk_access_list_get_url(self._ptr))

    @property
    def refresh(self) -> float:
        """Seconds between fetches."""
        return lib.pk_access_list_get_refresh(self._ptr) / 1000.0

    @property
    def cache_path(self) -> Optional[str]:
        """The cache file, or ``None``."""
        return self._run(lambda p: string(lib.pk_access_list_get_cache_path(p)))

    @property
    def egress(self) -> Optional[Egress]:
        """The egress fetches leave through (``None``: the default route)."""
        ptr = self._run(lib.pk_access_list_get_egress)
        return Egress._from_ptr(ptr) if ptr != ffi.NULL else None

    @property
    def loaded(self) -> bool:
        """Whether a copy (fetched, cached or given) is loaded."""
        return bool(self._run(lib.pk_access_list_get_loaded))

    @property
    def n_entries(self) -> int:
        """How many entries the loaded copy has."""
        return self._run(lib.pk_access_list_get_n_entries)

    @property
    def entries(self) -> Optional[List[str]]:
        """The entries as written (``None`` while nothing is loaded)."""
        strv = self._run(lib.pk_access_list_dup_entries)
        return take_strv(strv) if strv != ffi.NULL else None

    def matches(self, address: str) -> bool:
        """Whether an entry covers the IP ``address``."""
        return bool(lib.pk_access_list_matches(self._ptr, address.encode()))

    @property
    def last_error(self) -> Optional[str]:
        """Why the last fetch failed (with the URL, and the line of a
        malformed copy), ``None`` after a good one."""
        return self._run(lambda p: take_string(lib.pk_access_list_dup_last_error(p)))

    @property
    def last_success(self) -> int:
        """When a fetch last succeeded, Unix time in seconds (0: never)."""
        return self._run(lib.pk_access_list_get_last_success)

    @property
    def fetch_failures(self) -> int:
        """How many fetches failed or were rejected."""
        return self._run(lib.pk_access_list_get_fetch_failures)

    def __repr__(self) -> str:
        return f'<proxykit.AccessList {self.url} {self.n_entries} entries>'

