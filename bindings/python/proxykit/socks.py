"""PkSocksServer: a SOCKS5 listener pinned to an egress."""
from __future__ import annotations

import dataclasses
import json
import threading
from typing import Dict, Iterable, List, Mapping, NamedTuple, Optional, Union

from . import _loop, errors
from ._ffi import ffi, lib
from ._util import Record, Service, b, ms, string, strv, take_string, take_strv
from .access_list import AccessList
from .config import Config
from .egress import Egress

Users = Union[Mapping[str, str], Iterable[str]]


@dataclasses.dataclass(frozen=True)
class SocksStats(Record):
    """Counters of a :class:`SocksServer`: sessions open now and since the
    start, bytes relayed from clients (``bytes_up``) and to them
    (``bytes_down``), and ``results``: how many sessions ended each way,
    by name (``succeeded``, ``auth_failed``, ``connection_refused``,
    ``not_allowed``, ``handshake_timeout``, ...).

    The flat keys of earlier versions still work:
    ``stats["result_auth_failed"]`` is ``stats.results["auth_failed"]``."""
    sessions_active: int
    sessions_total: int
    bytes_up: int
    bytes_down: int
    results: Dict[str, int]

    def keys(self) -> List[str]:
        """The flat keys of the dict access: the counters and ``result_NAME`` for each
        result."""
        return (['sessions_active', 'sessions_total', 'bytes_up', 'bytes_down']
                + [f'result_{name}' for name in self.results])

    def __getitem__(self, key: str):
        if key.startswith('result_') and key[len('result_'):] in self.results:
            return self.results[key[len('result_'):]]
        if key in ('sessions_active', 'sessions_total', 'bytes_up', 'bytes_down'):
            return getattr(self, key)
        raise KeyError(key)


class ListenerDiff(NamedTuple):
    """The listener names of :meth:`SocksServer.diff_config_listeners`."""

    added: List[str]
    removed: List[str]
    changed: List[str]


class SocksServer(Service):
    """A SOCKS5 server (RFC 1928/1929) whose outbound connections all leave
    through one :class:`Egress`.

    It serves in the package's GLib thread: :meth:`start` returns at once,
    and the server runs until :meth:`stop` (or the end of a ``with`` block).

    >>> with SocksServer(listen="127.0.0.1:1080", egress_address="192.168.11.100") as srv:
    ...     pass                      # clients use 127.0.0.1:1080 meanwhile
    >>> srv.stats()["sessions_total"]

    Args:
        listen: ``"ADDRESS:PORT"`` or a list of them (port 0 picks a free
            port; :attr:`port` tells which).
        egress: an :class:`Egress`; or give ``egress_address``,
            ``egress_interface``, ``fwmark`` and ``ttl`` to build one.
        name: the name in log lines (``socks[11]``).
        users: ``{"user": "password"}`` or ``["user:password", ...]``;
            clients must authenticate while there is any user.
        users_file: a file of ``user:password`` lines (re-read by :meth:`reload`).
        allowlist: client CIDRs allowed in (a string or a list), default all.
        denylist: destination CIDRs refused.
        allow_list: an :class:`AccessList` of clients let in too (kept up
            to date while serving; until it has a copy, only ``allowlist``
            lets clients in).
        deny_list: an :class:`AccessList` of destinations refused too.
        handshake_timeout, connect_timeout, resolve_timeout, idle_timeout,
        udp_idle_timeout: seconds (``None`` keeps the library's default).
        max_sessions, max_sessions_per_client: caps (0 for none).
        udp_advertise_address: the address UDP ASSOCIATE replies name.
        allow_host_destinations: let a non-loopback listener reach the host.
        allow_open: allow a non-loopback listener with neither users nor an
            allowlist; without it :meth:`start` refuses one with
            :class:`NotAllowed`, as pk-socks does.
        drain_timeout: seconds live sessions get when the ``with`` block ends.
        workers: serve on this many worker threads (``PkWorkers``: each
            with its own ``SO_REUSEPORT`` socket and main context; 0 for one
            per CPU) instead of the package's GLib thread. Only these
            workers share a port: one another process listens on raises
            :class:`AddressInUse`.
        reuse_port: with ``workers``, let other processes that opt in too
            listen on the same ports (``PkWorkers:reuse-port``); the kernel
            splits connections between them.
    """

    def __init__(self, listen: Union[str, Iterable[str]] = '127.0.0.1:1080', *,
                 egress: Optional[Egress] = None,
                 egress_address: Optional[str] = None,
                 egress_interface: Optional[str] = None,
                 fwmark: int = 0, ttl: int = 0,
                 name: Optional[str] = None,
                 users: Optional[Users] = None,
                 users_file: Optional[str] = None,
                 allowlist: Union[str, Iterable[str], None] = None,
                 denylist: Union[str, Iterable[str], None] = None,
                 allow_list: Optional[AccessList] = None,
                 deny_list: Optional[AccessList] = None,
                 handshake_timeout: Optional[float] = None,
                 connect_timeout: Optional[float] = None,
                 resolve_timeout: Optional[float] = None,
                 idle_timeout: Optional[float] = None,
                 udp_idle_timeout: Optional[float] = None,
                 max_sessions: Optional[int] = None,
                 max_sessions_per_client: Optional[int] = None,
                 udp_advertise_address: Optional[str] = None,
                 allow_host_destinations: Optional[bool] = None,
                 allow_open: Optional[bool] = None,
                 drain_timeout: float = 5.0,
                 workers: Optional[int] = None,
                 reuse_port: bool = False):
        if reuse_port and workers is None:
            raise errors.InvalidArgument('reuse_port needs workers', errors.PK_ERROR_DOMAIN,
                                         lib.PK_ERROR_INVALID_ARGUMENT)
        self._listen = [listen] if isinstance(listen, str) else list(listen)
        self._ptr = _loop.wrap(lib.pk_socks_server_new())
        self._setup(drain_timeout, workers, reuse_port)

        if egress is None and (egress_address or egress_interface or fwmark or ttl):
            egress = Egress(address=egress_address, interface=egress_interface,
                            fwmark=fwmark, ttl=ttl)
        if egress is not None:
            lib.pk_socks_server_set_egress(self._ptr, egress._ptr)
        if name is not None:
            lib.pk_socks_server_set_name(self._ptr, name.encode())
        for setter, value in ((lib.pk_socks_server_set_handshake_timeout, handshake_timeout),
                              (lib.pk_socks_server_set_connect_timeout, connect_timeout),
                              (lib.pk_socks_server_set_resolve_timeout, resolve_timeout),
                              (lib.pk_socks_server_set_idle_timeout, idle_timeout),
                              (lib.pk_socks_server_set_udp_idle_timeout, udp_idle_timeout)):
            if value is not None:
                setter(self._ptr, ms(value))
        if max_sessions is not None:
            lib.pk_socks_server_set_max_sessions(self._ptr, max_sessions)
        if max_sessions_per_client is not None:
            lib.pk_socks_server_set_max_sessions_per_client(self._ptr, max_sessions_per_client)
        if udp_advertise_address is not None:
            errors.call(lib.pk_socks_server_set_udp_advertise_address, self._ptr,
                        udp_advertise_address.encode())
        if allow_host_destinations is not None:
            lib.pk_socks_server_set_allow_host_destinations(self._ptr, bool(allow_host_destinations))
        if allow_open is not None:
            lib.pk_socks_server_set_allow_open(self._ptr, bool(allow_open))
        if users_file is not None:
            errors.call(lib.pk_socks_server_set_users_file, self._ptr, users_file.encode())
        if users is not None:
            self.set_users(users)
        if allowlist is not None:
            self.set_allowlist(allowlist)
        if denylist is not None:
            self.set_denylist(denylist)
        if allow_list is not None:
            _loop.run(lambda: lib.pk_socks_server_set_allow_access_list(self._ptr, allow_list._ptr))
        if deny_list is not None:
            _loop.run(lambda: lib.pk_socks_server_set_deny_access_list(self._ptr, deny_list._ptr))

    def _setup(self, drain_timeout: float, workers: Optional[int], reuse_port: bool = False) -> None:
        self._state = 'new'
        self._state_lock = threading.Lock()
        self._config: Optional[Config] = None
        self._config_name: Optional[str] = None
        self.drain_timeout = drain_timeout
        self._workers = None
        if workers is not None:
            self._workers = _loop.wrap(lib.pk_workers_new(workers))
            lib.pk_workers_set_reuse_port(self._workers, bool(reuse_port))
            lib.pk_socks_server_set_workers(self._ptr, self._workers)

    @classmethod
    def from_config(cls, config: Config, name: Optional[str] = None, *,
                    drain_timeout: float = 5.0, workers: Optional[int] = None,
                    reuse_port: bool = False) -> 'SocksServer':
        """The listener of section ``[socks:NAME]`` (``name=None``: the
        main listener, ``[socks]``), as pk-socks builds it: overrides (see
        :meth:`Config.set_override`), then the ``SOCKS_*`` variables, then
        the file, then the defaults. :meth:`start` listens on its ``listen``
        addresses and :meth:`reload` reads its users and lists again.
        Raises :class:`ConfigError` naming the bad value.

        >>> cfg = Config(data="[socks:a]\nlisten = 127.0.0.1:0\nusers-inline = u:p\n")
        >>> with SocksServer.from_config(cfg, "a") as srv:
        ...     srv.auth_required
        True
        """
        self = cls.__new__(cls)
        self._ptr = _loop.wrap(errors.call(lib.pk_socks_server_new_from_config, config._ptr, b(name)))
        self._setup(drain_timeout, workers, reuse_port)
        self._listen = []
        self._config = config
        self._config_name = name
        return self

    @classmethod
    def _borrow(cls, ptr) -> 'SocksServer':
        """A view of a listener another object runs (a :class:`SocksService`)."""
        self = cls.__new__(cls)
        self._ptr = _loop.wrap(lib.g_object_ref(ptr))
        self._setup(0.0, None)
        self._listen = []
        self._state = 'run by its service'
        return self

    @staticmethod
    def config_listen(config: Config, name: Optional[str] = None) -> List[str]:
        """The addresses the listener of ``name`` is configured to listen on."""
        return take_strv(errors.call(lib.pk_socks_server_dup_config_listen, config._ptr, b(name)))

    @staticmethod
    def diff_config_listeners(old: Config, new: Config) -> 'ListenerDiff':
        """What a reload from ``old`` to ``new`` does to the listeners: the
        ``[socks:NAME]`` names ``added`` (to start) and ``removed`` (to
        stop), and the ``changed`` ones whose listen addresses differ (to
        stop and start again; ``""`` is the main listener). Raises
        :class:`ConfigError` when a listener of ``new`` has no ``listen``.

        >>> old = Config(data="[socks:a]\nlisten = 127.0.0.1:0\n")
        >>> new = Config(data="[socks:b]\nlisten = 127.0.0.1:0\n")
        >>> SocksServer.diff_config_listeners(old, new)
        ListenerDiff(added=['b'], removed=['a'], changed=[])
        """
        added, removed, changed = (ffi.new('char ***') for _ in range(3))
        errors.call(lib.pk_socks_server_diff_config_listeners, old._ptr, new._ptr, added, removed, changed)
        return ListenerDiff(take_strv(added[0]), take_strv(removed[0]), take_strv(changed[0]))

    # --- policy (may change while serving; live sessions keep theirs) ---

    def _in_loop(self, fn, *args):
        return _loop.run(lambda: errors.call(fn, self._ptr, *args))

    def set_users(self, users: Users) -> None:
        """Replaces the inline users: a mapping or ``"user:password"`` strings."""
        entries = [f'{u}:{p}' for u, p in users.items()] if isinstance(users, Mapping) else list(users)
        arr, keep = strv(entries)
        self._in_loop(lib.pk_socks_server_set_users, arr)
        del keep

    def set_allowlist(self, cidrs: Union[str, Iterable[str], None]) -> None:
        """Sets the client CIDRs let in (``None``: everyone)."""
        if cidrs is not None and not isinstance(cidrs, str):
            cidrs = ','.join(cidrs)
        self._in_loop(lib.pk_socks_server_set_allowlist, b(cidrs))

    def set_denylist(self, cidrs: Union[str, Iterable[str], None]) -> None:
        """Sets the destination CIDRs refused (``None``: none)."""
        if cidrs is not None and not isinstance(cidrs, str):
            cidrs = ','.join(cidrs)
        self._in_loop(lib.pk_socks_server_set_denylist, b(cidrs))

    def reload(self, config: Optional[Config] = None) -> None:
        """Re-reads the users file without touching live sessions; for a
        server made by :meth:`from_config`, also its users and lists from
        ``config`` (the one it was made from, by default), all or nothing."""
        config = config if config is not None else self._config
        if config is None:
            self._in_loop(lib.pk_socks_server_reload)
            return
        self._in_loop(lib.pk_socks_server_reload_from_config, config._ptr, b(self._config_name))

    # --- life cycle ---

    def start(self) -> 'SocksServer':
        """Binds the listening sockets and starts serving (in the package's
        GLib thread). Raises :class:`AddressInUse`, :class:`InvalidArgument`..."""
        with self._state_lock:
            if self._state != 'new':
                raise errors.Failed(f'SOCKS server is {self._state}; it can start once')
            self._state = 'starting'
        try:
            if self._config is not None:
                self._in_loop(lib.pk_socks_server_listen_from_config, self._config._ptr,
                              b(self._config_name))
            for address in self._listen:
                self._in_loop(lib.pk_socks_server_listen, address.encode())
            if self._workers is not None:
                errors.call(lib.pk_workers_start, self._workers)
        except BaseException:
            _loop.run(lambda: lib.pk_socks_server_close(self._ptr))
            self._state = 'stopped'
            raise
        self._state = 'serving'
        return self

    def stop(self, drain_timeout: Optional[float] = None, timeout: Optional[float] = None) -> None:
        """Stops accepting, lets live sessions finish for up to
        ``drain_timeout`` seconds (default :attr:`drain_timeout`), closes the
        rest, and returns once every session has ended."""
        with self._state_lock:
            if self._state != 'serving':
                self._state = 'stopped'
                return
            self._state = 'stopping'
        drain = self.drain_timeout if drain_timeout is None else drain_timeout

        try:
            _loop.drain_stop(self._ptr, lib.pk_socks_server_stop_async, lib.pk_socks_server_stop_finish,
                             drain, timeout, 'stopping the SOCKS server')
        finally:
            self._state = 'stopped'
            self._stop_workers()

    def close(self) -> None:
        """Closes the listeners and every live session now."""
        with self._state_lock:
            was = self._state
            self._state = 'stopped'
        if was in ('serving', 'starting'):
            _loop.run(lambda: lib.pk_socks_server_close(self._ptr))
        self._stop_workers()

    def _stop_workers(self) -> None:
        if self._workers is not None:
            lib.pk_workers_stop(self._workers)

    # --- state ---

    @property
    def serving(self) -> bool:
        """Whether it listens now (between :meth:`start` and :meth:`stop`)."""
        return self._state == 'serving'

    @property
    def port(self) -> int:
        """The port of the first listening socket (0 when not listening)."""
        return lib.pk_socks_server_get_port(self._ptr)

    @property
    def addresses(self) -> List[str]:
        """The addresses it listens on, as ``"ADDRESS:PORT"``."""
        return _loop.run(lambda: take_strv(lib.pk_socks_server_dup_listen_addresses(self._ptr)))

    @property
    def name(self) -> Optional[str]:
        """The name in log lines (``None``: the library's default)."""
        return string(lib.pk_socks_server_get_name(self._ptr))

    @property
    def egress(self) -> Optional[Egress]:
        """The egress outbound connections leave through."""
        ptr = lib.pk_socks_server_get_egress(self._ptr)
        return Egress._from_ptr(ptr) if ptr != ffi.NULL else None

    @property
    def allow_open(self) -> bool:
        """Whether a non-loopback listener with neither users nor an
        allowlist is allowed."""
        return bool(lib.pk_socks_server_get_allow_open(self._ptr))

    @property
    def allow_list(self) -> Optional[AccessList]:
        """The :class:`AccessList` of clients (``allow-url``), or ``None``."""
        return AccessList._from_ptr(_loop.run(lambda: lib.pk_socks_server_get_allow_access_list(self._ptr)))

    @property
    def deny_list(self) -> Optional[AccessList]:
        """The :class:`AccessList` of refused destinations (``deny-url``), or ``None``."""
        return AccessList._from_ptr(_loop.run(lambda: lib.pk_socks_server_get_deny_access_list(self._ptr)))

    @property
    def auth_required(self) -> bool:
        """Whether clients must authenticate (there is a user)."""
        return bool(lib.pk_socks_server_get_auth_required(self._ptr))

    @property
    def sessions_active(self) -> int:
        """Sessions open now."""
        return lib.pk_socks_server_get_sessions_active(self._ptr)

    def prometheus(self) -> str:
        """The counters in the Prometheus text format (what pk-socks'
        ``/metrics`` serves); :func:`socks_prometheus` for several servers."""
        return socks_prometheus([self])

    def stats(self) -> 'SocksStats':
        """A snapshot of the counters (:class:`SocksStats`)."""
        raw = json.loads(take_string(lib.pk_socks_server_dup_stats_json(self._ptr)))
        raw = {k.replace('-', '_'): v for k, v in raw.items()}
        results = {k[len('result_'):]: v for k, v in raw.items() if k.startswith('result_')}
        return SocksStats(sessions_active=raw.get('sessions_active', 0),
                          sessions_total=raw.get('sessions_total', 0),
                          bytes_up=raw.get('bytes_up', 0), bytes_down=raw.get('bytes_down', 0),
                          results=results)

    def __repr__(self) -> str:
        return f'<proxykit.SocksServer {self._listen} {self._state}>'


class SocksService(Service):
    """Every SOCKS listener a :class:`Config` describes, run, reloaded and
    stopped as one set, as pk-socks does (``PkSocksService``): one
    :class:`SocksServer` per ``[socks:NAME]`` section, and the main one
    (``main``, the bare ``[socks]`` section) when ``main`` says so:
    ``"auto"`` (asked for by the file or ``SOCKS_LISTEN``, or no named
    listener), ``"always"`` or ``"if-asked"``.

    >>> cfg = Config(data="[socks:a]\nlisten = 127.0.0.1:0\n[socks:b]\nlisten = 127.0.0.1:0\n")
    >>> with SocksService(cfg) as svc:
    ...     [srv.name for srv in svc.servers]
    ['a', 'b']
    """

    _MAIN = {'auto': 'PK_SOCKS_SERVICE_MAIN_AUTO', 'always': 'PK_SOCKS_SERVICE_MAIN_ALWAYS',
             'if-asked': 'PK_SOCKS_SERVICE_MAIN_IF_ASKED'}

    def __init__(self, config: Config, *, main: str = 'auto', drain_timeout: float = 5.0,
                 workers: Optional[int] = None, reuse_port: bool = False):
        if main not in self._MAIN:
            raise errors.InvalidArgument(f"main '{main}': expected auto, always or if-asked",
                                         errors.PK_ERROR_DOMAIN, lib.PK_ERROR_INVALID_ARGUMENT)
        self._config = config
        self._ptr = _loop.wrap(errors.call(lib.pk_socks_service_new_from_config, config._ptr,
                                           getattr(lib, self._MAIN[main])))
        self.drain_timeout = drain_timeout
        self._state = 'new'
        self._workers = None
        if workers is not None:
            self._workers = _loop.wrap(lib.pk_workers_new(workers))
            lib.pk_workers_set_reuse_port(self._workers, bool(reuse_port))

    @property
    def servers(self) -> List[SocksServer]:
        """The listeners now, the main one first (read their ports, names
        and counters; the service starts and stops them)."""
        def read():
            count = lib.pk_socks_service_get_n_servers(self._ptr)
            return [SocksServer._borrow(lib.pk_socks_service_get_server(self._ptr, i)) for i in range(count)]
        return _loop.run(read)

    @property
    def serving(self) -> bool:
        """Whether it listens now (between :meth:`start` and :meth:`stop`)."""
        return self._state == 'serving'

    @property
    def retire_drain_timeout(self) -> float:
        """How long, in seconds, the sessions of a listener a :meth:`reload`
        removes may go on (30 by default)."""
        return lib.pk_socks_service_get_drain_timeout(self._ptr) / 1000

    @retire_drain_timeout.setter
    def retire_drain_timeout(self, seconds: float) -> None:
        lib.pk_socks_service_set_drain_timeout(self._ptr, ms(seconds))

    def check(self) -> None:
        """Checks every listener's addresses (the open-listener rule
        included) without listening; raises the first error, which names
        the listener."""
        _loop.run(lambda: errors.call(lib.pk_socks_service_check, self._ptr))

    def start(self) -> 'SocksService':
        """Listens on every listener's addresses and serves (in the
        package's GLib thread, or on ``workers`` threads)."""
        if self._state != 'new':
            raise errors.Failed(f'SOCKS service is {self._state}; it can start once')
        try:
            _loop.run(lambda: errors.call(lib.pk_socks_service_start, self._ptr,
                                          self._workers if self._workers is not None else ffi.NULL))
            if self._workers is not None:
                errors.call(lib.pk_workers_start, self._workers)
        except BaseException:
            self.close()
            raise
        self._state = 'serving'
        return self

    def reload(self, config: Optional[Config] = None) -> None:
        """Applies ``config`` (the one the service runs with, by default):
        new listeners start, removed ones drain, the others take their new
        users and lists with no session dropped. Raises :class:`ConfigError`
        when the reload is refused (nothing changed), :class:`Failed` when a
        listener could not start (the rest applied)."""
        config = config if config is not None else self._config
        _loop.run(lambda: errors.call(lib.pk_socks_service_reload, self._ptr, config._ptr))
        self._config = config

    def port_lines(self) -> List[str]:
        """``"NAME ADDRESS:PORT"`` for each bound socket (pk-socks' port file)."""
        return _loop.run(lambda: take_string(lib.pk_socks_service_dup_port_lines(self._ptr))).splitlines()

    def prometheus(self) -> str:
        """The counters and histograms of every listener, Prometheus text."""
        return socks_prometheus(self.servers)

    def stop(self, drain_timeout: Optional[float] = None, timeout: Optional[float] = None) -> None:
        """Stops every listener (and those a reload retired), lets live
        sessions finish for up to ``drain_timeout`` seconds, closes the rest."""
        if self._state != 'serving':
            self._state = 'stopped'
            return
        self._state = 'stopping'
        drain = self.drain_timeout if drain_timeout is None else drain_timeout

        try:
            _loop.drain_stop(self._ptr, lib.pk_socks_service_stop_async, lib.pk_socks_service_stop_finish,
                             drain, timeout, 'stopping the SOCKS service')
        finally:
            self._state = 'stopped'
            if self._workers is not None:
                lib.pk_workers_stop(self._workers)

    def close(self) -> None:
        """Closes every listener and session now."""
        self._state = 'stopped'
        _loop.run(lambda: lib.pk_socks_service_close(self._ptr))
        if self._workers is not None:
            lib.pk_workers_stop(self._workers)


def socks_prometheus(servers: Iterable[SocksServer]) -> str:
    """The counters of every server in the Prometheus text format, one set
    of families labelled by listener name (``proxykit_socks_sessions_total``,
    ``proxykit_socks_bytes_total``, ``proxykit_socks_sessions_active``) and
    the latency histograms ``proxykit_socks_handshake_seconds`` and
    ``proxykit_socks_connect_seconds``."""
    servers = list(servers)
    ptrs = ffi.new('PkSocksServer *[]', [srv._ptr for srv in servers] or [ffi.NULL])
    return take_string(lib.pk_socks_server_dup_prometheus(ptrs, len(servers)))
