"""PkNodeSupervisor: one proxy node's life: tunnel, watchdog, recovery."""
from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Sequence

from . import _loop, errors
from ._ffi import ffi, lib
from ._util import b, ms, string, strv, take_string, take_strv
from .egress import Egress
from .state import NodeState, StateStore

if TYPE_CHECKING:
    from .config import Config
    from .tunnel import Tunnel


class NodeSupervisor:
    """Runs one proxy node from its record in a :class:`StateStore`
    (``PkNodeSupervisor``): the same code path as ``pk-socks
    --pptp-server`` and ``pk-watchdog``.

    * :meth:`bring_up` brings the tunnel up (adopting a running pppd of the
      same link name) and runs the startup check through it; on a failure
      it destroys the tunnel again and records the node ``stopped``.
      :meth:`record_online` records the listener that then serves.
    * :meth:`refresh` watches a node recorded ``online`` with a tunnel; on a
      confirmed failure the listener is stopped, the tunnel destroyed and
      the node recorded ``ping_failed`` (``fails`` + 1); with ``recover``
      it is brought back with backoff (``recoveries`` + 1).

    The work runs in the package's GLib thread while the object lives.

    >>> sup = NodeSupervisor.from_config(Config("/etc/proxykit/proxykit.conf"), "vpn1")
    >>> with sup:            # watched (and recovered) until the block ends
    ...     time.sleep(3600)

    Args:
        name: the node's name (its state file and ``[tunnel:NAME]``).
        store: a :class:`StateStore` or a directory.
        config: a :class:`Config` whose ``[tunnel:NAME]`` recovery brings
            the node back from.
        tunnel: a :class:`Tunnel` that :meth:`bring_up` brings up instead.
        interval, retry_delay, timeout, jitter: the watchdog's timing (seconds).
        fall, rise: failed / passed checks in a row that confirm a change.
        socks_check: ``"HOST:PORT"`` for a SOCKS round trip through the
            recorded listener on every check.
        recover, recover_delay, recover_max_delay: recovery with backoff.
        startup_check: ``{"target", "tries", "delay", "timeout"}`` (as
            :func:`startup_check_settings` returns).
        run_dir, pppd_path, socks_command: where pidfiles, pppd and the
            ``pk-socks`` that recovery starts are.
    """

    def __init__(self, name: str, store: StateStore | str | os.PathLike, *,
                 config: Optional['Config'] = None, tunnel: Optional['Tunnel'] = None,
                 interval: Optional[float] = None, retry_delay: Optional[float] = None,
                 timeout: Optional[float] = None, jitter: Optional[float] = None,
                 fall: Optional[int] = None, rise: Optional[int] = None,
                 socks_check: Optional[str] = None, recover: bool = False,
                 recover_delay: float = 10.0, recover_max_delay: float = 600.0,
                 startup_check: Optional[Dict[str, object]] = None,
                 run_dir: Optional[str] = None, pppd_path: Optional[str] = None,
                 socks_command: Optional[str] = None):
        if not lib.pk_state_store_is_valid_name(name.encode()):
            raise errors.InvalidArgument(f'{name!r} is not a valid node name', errors.PK_ERROR_DOMAIN,
                                         lib.PK_ERROR_INVALID_ARGUMENT)
        self._store = store if isinstance(store, StateStore) else StateStore(store)
        self._ptr = _loop.wrap(lib.pk_node_supervisor_new(self._store._ptr, name.encode()))
        self._config = config
        self._tunnel = tunnel
        if config is not None:
            lib.pk_node_supervisor_set_config(self._ptr, config._ptr)
        if tunnel is not None:
            lib.pk_node_supervisor_set_tunnel(self._ptr, tunnel._ptr)
        wd = lib.pk_node_supervisor_get_watchdog(self._ptr)
        for setter, value in ((lib.pk_watchdog_set_interval_ms, interval),
                              (lib.pk_watchdog_set_retry_delay_ms, retry_delay),
                              (lib.pk_watchdog_set_timeout_ms, timeout),
                              (lib.pk_watchdog_set_jitter_ms, jitter)):
            if value is not None:
                setter(wd, ms(value))
        if interval is not None:
            lib.pk_watchdog_set_initial_delay_ms(wd, ms(interval))
        if fall is not None:
            lib.pk_watchdog_set_fall(wd, fall)
        if rise is not None:
            lib.pk_watchdog_set_rise(wd, rise)
        if socks_check is not None:
            errors.call(lib.pk_node_supervisor_set_socks_check, self._ptr, socks_check.encode())
        lib.pk_node_supervisor_set_recovery(self._ptr, bool(recover), ms(recover_delay), ms(recover_max_delay))
        if startup_check is not None:
            lib.pk_node_supervisor_set_startup_check(
                self._ptr, b(startup_check.get('target')), int(startup_check.get('tries', 5)),
                ms(startup_check.get('delay', 20.0)), ms(startup_check.get('timeout', 30.0)))
        if run_dir is not None:
            lib.pk_node_supervisor_set_run_dir(self._ptr, os.fsencode(run_dir))
        if pppd_path is not None:
            lib.pk_node_supervisor_set_pppd_path(self._ptr, os.fsencode(pppd_path))
        if socks_command is not None:
            lib.pk_node_supervisor_set_socks_command(self._ptr, os.fsencode(socks_command))

    @classmethod
    def from_config(cls, config: 'Config', name: str,
                    store: StateStore | str | os.PathLike | None = None) -> 'NodeSupervisor':
        """The supervisor ``pk-watchdog`` runs for node ``name``: the settings of
        ``[watchdog]`` and ``[startup-check]`` (the environment winning over
        the file), recovery from ``[tunnel:NAME]``. Raises :class:`ConfigError`."""
        self = cls.__new__(cls)
        if store is not None and not isinstance(store, StateStore):
            store = StateStore(store)
        self._ptr = _loop.wrap(errors.call(lib.pk_node_supervisor_new_from_config, config._ptr,
                                           store._ptr if store is not None else ffi.NULL, name.encode()))
        self._store = StateStore.__new__(StateStore)
        self._store._ptr = _loop.wrap(lib.g_object_ref(lib.pk_node_supervisor_get_state_store(self._ptr)))
        self._config = config
        self._tunnel = None
        return self

    @property
    def name(self) -> str:
        """The node's name."""
        return string(lib.pk_node_supervisor_get_name(self._ptr))

    @property
    def store(self) -> StateStore:
        """Where the node is recorded."""
        return self._store

    @property
    def state(self) -> NodeState:
        """The node's recorded state, read now."""
        return self._store.load(self.name, create=True)

    @property
    def watching(self) -> bool:
        """Whether a watchdog runs over the node's tunnel."""
        return bool(_loop.run(lambda: lib.pk_node_supervisor_is_watching(self._ptr)))

    @property
    def busy(self) -> bool:
        """Whether failure actions or a recovery are under way or scheduled."""
        return bool(_loop.run(lambda: lib.pk_node_supervisor_is_busy(self._ptr)))

    @property
    def recoveries(self) -> int:
        """Recoveries this supervisor completed (the state file counts across processes)."""
        return _loop.run(lambda: lib.pk_node_supervisor_get_recoveries(self._ptr))

    @property
    def tunnel_interface(self) -> Optional[str]:
        """The interface of the tunnel this supervisor brought up or adopted."""
        def get():
            tunnel = lib.pk_node_supervisor_get_tunnel(self._ptr)
            return string(lib.pk_tunnel_get_interface(tunnel)) if tunnel != ffi.NULL else None
        return _loop.run(get)

    def bring_up(self, timeout: Optional[float] = 300.0) -> Egress:
        """Brings the tunnel up and runs the startup check through it;
        returns the tunnel's :class:`Egress`. On a failure the tunnel is
        destroyed, the node recorded ``stopped`` and the error raised
        (:class:`TunnelError`, :class:`CheckFailed`, ...)."""
        def start(cancellable, callback, data):
            lib.pk_node_supervisor_bring_up_async(self._ptr, cancellable, callback, data)

        def finish(source, result):
            e = Egress.__new__(Egress)
            e._ptr = _loop.wrap(errors.call(lib.pk_node_supervisor_bring_up_finish, self._ptr, result))
            return e

        return _loop.call_async(start, finish, timeout, f'node {self.name}: bring-up')

    def record_online(self, listen: Optional[str] = None, pid: Optional[int] = None) -> None:
        """Records the node ``online`` with its tunnel and listener (``listen``
        served by ``pid``, this process by default)."""
        _loop.run(lambda: errors.call(lib.pk_node_supervisor_record_online, self._ptr, b(listen),
                                      os.getpid() if pid is None else pid))

    def shut_down(self, timeout: Optional[float] = 60.0) -> None:
        """Stops watching and destroys the tunnel; the node becomes ``stopped``
        unless a failure was recorded meanwhile."""
        def start(cancellable, callback, data):
            lib.pk_node_supervisor_shut_down_async(self._ptr, cancellable, callback, data)

        def finish(source, result):
            errors.call(lib.pk_node_supervisor_shut_down_finish, self._ptr, result)

        _loop.call_async(start, finish, timeout, f'node {self.name}: shut down')

    def refresh(self) -> bool:
        """Reads the node's state and acts: watches an ``online`` node with a
        tunnel, recovers a ``ping_failed`` one (with ``recover``). Returns
        whether the node is watched now."""
        return bool(_loop.run(lambda: lib.pk_node_supervisor_refresh(self._ptr)))

    def stop(self) -> None:
        """Stops watching and calls off a scheduled recovery; the tunnel and
        listener keep running."""
        _loop.run(lambda: lib.pk_node_supervisor_stop(self._ptr))

    def check_once(self, timeout: Optional[float] = 120.0) -> bool:
        """One check, as ``pk-watchdog --once`` does: the count of failed
        checks lives in the state file, and the failure actions run once it
        reaches ``fall``. Returns whether the node passed; raises
        :class:`StateError` if the state could not be locked or written."""
        def start(cancellable, callback, data):
            lib.pk_node_supervisor_check_once_async(self._ptr, cancellable, callback, data)

        def finish(source, result):
            try:
                errors.call(lib.pk_node_supervisor_check_once_finish, self._ptr, result)
            except errors.CheckFailed:
                return False
            return True

        return _loop.call_async(start, finish, timeout, f'node {self.name}: check')

    @staticmethod
    def check_config(config: 'Config', extra_keys: Iterable[str] = ()) -> None:
        """Checks ``[watchdog]`` (its keys, plus ``extra_keys``) and every
        ``[tunnel:NAME]`` section, as ``pk-watchdog`` does at start; raises
        :class:`ConfigError` naming the bad section or key."""
        arr, keep = strv(extra_keys)
        errors.call(lib.pk_node_supervisor_check_config, config._ptr, arr)
        del keep

    @staticmethod
    def list_nodes(store: StateStore, config: Optional['Config'] = None) -> List[str]:
        """The nodes a supervisor can look after: the store's state files and
        the ``[tunnel:NAME]`` sections of ``config``."""
        return take_strv(lib.pk_node_supervisor_list_nodes(store._ptr,
                                                           config._ptr if config is not None else ffi.NULL))

    @staticmethod
    def status(store: StateStore, names: Optional[Iterable[str]] = None) -> List[Dict[str, object]]:
        """The nodes' state dicts (all of the store's by default), each with
        ``pppd_alive``: what ``pk-watchdog --status --json`` prints."""
        arr, keep = strv(names if names is not None else store.names())
        text = take_string(lib.pk_node_supervisor_dup_status_json(store._ptr, arr))
        del keep
        return json.loads(text)

    @staticmethod
    def prometheus(store: Optional[StateStore], supervisors: Sequence['NodeSupervisor'] = ()) -> str:
        """What ``pk-watchdog`` serves on ``/metrics``: every node's status,
        ``fails`` and ``recoveries``, and the supervisors' check latency
        histograms (``proxykit_node_check_duration_seconds``)."""
        # one slot at least: cffi has no empty arrays
        arr = ffi.new('PkNodeSupervisor *[]', max(len(supervisors), 1))
        for i, sup in enumerate(supervisors):
            arr[i] = sup._ptr
        return _loop.run(lambda: take_string(lib.pk_node_supervisor_dup_prometheus(
            store._ptr if store is not None else ffi.NULL, arr, len(supervisors))))

    def __enter__(self) -> 'NodeSupervisor':
        self.refresh()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f'<proxykit.NodeSupervisor {self.name}>'


class NodeWatch:
    """Every proxy node of a :class:`StateStore` (and every ``[tunnel:NAME]``
    section of the configuration), each with its :class:`NodeSupervisor`
    built from ``[watchdog]`` (``PkNodeWatch``): what ``pk-watchdog`` runs.

    * :meth:`start` watches the nodes recorded ``online`` with a tunnel and
      rescans the store every check interval (:meth:`refresh` rescans now);
      with ``[watchdog] recover`` a failed node is brought back.
    * :meth:`check_once` checks every node once, as ``pk-watchdog --once``.
    * :meth:`status`, :meth:`status_text` and :meth:`prometheus` describe
      the nodes as ``pk-watchdog --status`` and its ``/metrics`` do.

    Nodes named ``dongle-N`` belong to the dongles' watch: listed, not
    supervised.

    >>> with NodeWatch(Config("/etc/proxykit/proxykit.conf")) as watch:
    ...     time.sleep(3600)

    Args:
        config: a :class:`Config` (``[watchdog]``, ``[startup-check]``,
            ``[tunnel:NAME]``); raises :class:`ConfigError` naming a bad key.
        store: a :class:`StateStore` or directory; by default the one of
            ``[watchdog] state-dir``.
        extra_keys: further keys ``[watchdog]`` may hold.
        nodes: watch only these nodes (``pk-watchdog --node``).
    """

    def __init__(self, config: 'Config', store: StateStore | str | os.PathLike | None = None, *,
                 extra_keys: Iterable[str] = (), nodes: Optional[Iterable[str]] = None):
        if store is not None and not isinstance(store, StateStore):
            store = StateStore(store)
        arr, keep = strv(extra_keys)
        self._ptr = _loop.wrap(errors.call(lib.pk_node_watch_new_from_config, config._ptr,
                                           store._ptr if store is not None else ffi.NULL, arr))
        del keep
        self._config = config
        self._store = StateStore.__new__(StateStore)
        self._store._ptr = _loop.wrap(lib.g_object_ref(lib.pk_node_watch_get_state_store(self._ptr)))
        if nodes is not None:
            self.nodes = nodes

    @property
    def store(self) -> StateStore:
        """Where the nodes are recorded."""
        return self._store

    @property
    def nodes(self) -> List[str]:
        """The nodes: the store's and the configured ones that are selected."""
        return _loop.run(lambda: take_strv(lib.pk_node_watch_list_nodes(self._ptr)))

    @nodes.setter
    def nodes(self, names: Optional[Iterable[str]]) -> None:
        arr, keep = strv(names) if names is not None else (ffi.NULL, None)
        _loop.run(lambda: lib.pk_node_watch_set_nodes(self._ptr, arr))
        del keep

    @property
    def interval(self) -> float:
        """Seconds between check rounds (and rescans)."""
        wd = lib.pk_node_supervisor_get_watchdog(lib.pk_node_watch_get_settings(self._ptr))
        return lib.pk_watchdog_get_interval_ms(wd) / 1000.0

    @property
    def recover(self) -> bool:
        """Whether failed nodes are brought back."""
        return bool(lib.pk_node_supervisor_get_recover(lib.pk_node_watch_get_settings(self._ptr)))

    def supervisor(self, name: str) -> Optional[NodeSupervisor]:
        """The supervisor of node ``name``, if the watch has made one."""
        def get():
            ptr = lib.pk_node_watch_lookup(self._ptr, name.encode())
            if ptr == ffi.NULL:
                return None
            sup = NodeSupervisor.__new__(NodeSupervisor)
            sup._ptr = _loop.wrap(lib.g_object_ref(ptr))
            sup._store = self._store
            sup._config = self._config
            sup._tunnel = None
            return sup
        return _loop.run(get)

    def refresh(self) -> int:
        """Rescans the store now; returns how many nodes are watched."""
        return _loop.run(lambda: lib.pk_node_watch_refresh(self._ptr))

    def start(self) -> int:
        """Watches the nodes and rescans every interval until :meth:`stop`;
        returns how many nodes are watched."""
        return _loop.run(lambda: lib.pk_node_watch_start(self._ptr))

    def stop(self) -> None:
        """Stops the rescans and every supervisor; tunnels and listeners keep
        running."""
        _loop.run(lambda: lib.pk_node_watch_stop(self._ptr))

    def check_once(self, timeout: Optional[float] = 300.0) -> int:
        """Checks every node once (``pk-watchdog --once``); returns how many
        failed. Raises :class:`StateError` if a count or a failure could
        not be recorded."""
        def start(cancellable, callback, data):
            lib.pk_node_watch_check_once_async(self._ptr, cancellable, callback, data)

        def finish(source, result):
            n = ffi.new('guint *')
            errors.call(lib.pk_node_watch_check_once_finish, self._ptr, result, n)
            return n[0]

        return _loop.call_async(start, finish, timeout, 'nodes: check')

    def status(self) -> List[Dict[str, object]]:
        """The nodes' state dicts, as ``pk-watchdog --status --json`` prints."""
        return json.loads(_loop.run(lambda: take_string(lib.pk_node_watch_dup_status_json(self._ptr))))

    def status_text(self) -> str:
        """The table ``pk-watchdog --status`` prints."""
        return _loop.run(lambda: take_string(lib.pk_node_watch_dup_status_text(self._ptr)))

    def prometheus(self) -> str:
        """What ``pk-watchdog`` serves on ``/metrics``."""
        return _loop.run(lambda: take_string(lib.pk_node_watch_dup_prometheus(self._ptr)))

    def __enter__(self) -> 'NodeWatch':
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f'<proxykit.NodeWatch {self._store.directory}>'
