"""PkMetricsSampler: one snapshot of the host's health, as a dict or in
the Prometheus text format."""
from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Callable, Iterable, List, Optional

from . import _loop, errors
from ._ffi import ffi, lib
from ._util import Service, take_string, take_strv

if TYPE_CHECKING:
    from .config import Config


def _json_node_to_python(node) -> dict:
    try:
        return json.loads(take_string(lib.json_to_string(node, False)))
    finally:
        lib.json_node_unref(node)


class MetricsSampler:
    """Samples CPU, memory, file descriptors, sockets (through
    ``sock_diag``: LISTEN, ESTABLISHED, TIME_WAIT, per watched port) and
    watched processes.

    >>> sampler = MetricsSampler(watch_ports=[10011, 10012])
    >>> sample = sampler.sample()          # a dict
    >>> print(MetricsSampler.prometheus(sample))

    Args:
        proc_root, sys_root: read another ``/proc`` and ``/sys`` (tests).
        sock_diag: count sockets through netlink ``sock_diag``.
        watch_ports, watch_pids, watch_processes: what to report on.
    """

    def __init__(self, *, proc_root: Optional[str] = None, sys_root: Optional[str] = None,
                 sock_diag: Optional[bool] = None, watch_ports: Iterable[int] = (),
                 watch_pids: Iterable[int] = (), watch_processes: Iterable[str] = ()):
        self._ptr = _loop.wrap(lib.pk_metrics_sampler_new())
        if proc_root is not None:
            lib.pk_metrics_sampler_set_proc_root(self._ptr, proc_root.encode())
        if sys_root is not None:
            lib.pk_metrics_sampler_set_sys_root(self._ptr, sys_root.encode())
        if sock_diag is not None:
            lib.pk_metrics_sampler_set_sock_diag(self._ptr, bool(sock_diag))
        for port in watch_ports:
            lib.pk_metrics_sampler_add_watch_port(self._ptr, port)
        for pid in watch_pids:
            lib.pk_metrics_sampler_add_watch_pid(self._ptr, pid)
        for name in watch_processes:
            lib.pk_metrics_sampler_add_watch_process(self._ptr, name.encode())

    @classmethod
    def from_config(cls, config: 'Config') -> 'MetricsSampler':
        """A sampler from the ``[metrics]`` section (``watch-ports``,
        ``watch-processes``) that also watches every ``[socks:NAME]`` port.
        Raises :class:`ConfigError` naming the bad value."""
        self = cls.__new__(cls)
        self._ptr = _loop.wrap(errors.call(lib.pk_metrics_sampler_new_from_config, config._ptr))
        return self

    def sample(self) -> dict:
        """Takes one sample now and returns it as a dict (the JSON object
        of ``pk-metrics --json``)."""
        return _json_node_to_python(errors.call(lib.pk_metrics_sampler_sample, self._ptr))

    @staticmethod
    def _render(render, sample: dict) -> str:
        node = errors.call(lib.json_from_string, json.dumps(sample).encode())
        try:
            return take_string(render(node))
        finally:
            lib.json_node_unref(node)

    @staticmethod
    def table(sample: dict) -> str:
        """A sample as the table ``pk-metrics`` prints, for people."""
        return MetricsSampler._render(lib.pk_metrics_format_table, sample)

    @staticmethod
    def prometheus(sample: dict) -> str:
        """A sample in the Prometheus text exposition format."""
        return MetricsSampler._render(lib.pk_metrics_to_prometheus, sample)


class MetricsMonitor(Service):
    """What ``pk-metrics record`` runs (``PkMetricsMonitor``): a sample of
    ``sampler`` every ``interval`` seconds, appended to the history under
    the ``[metrics]`` directory and evaluated by the ``[alert:NAME]`` rules.
    ``on_sample(sample)`` gets each sample as a dict, ``on_alert(event,
    to_stdout)`` each alert event, on the callbacks thread.

    >>> cfg = Config("/etc/proxykit/proxykit.conf")
    >>> with MetricsMonitor.from_config(cfg, MetricsSampler()) as mon:
    ...     input("recording; Enter stops")
    """

    def __init__(self, sampler: MetricsSampler, *, interval: float = 10.0,
                 on_sample: Optional[Callable[[dict], None]] = None,
                 on_alert: Optional[Callable[[dict, bool], None]] = None):
        self._ptr = _loop.wrap(lib.pk_metrics_monitor_new(sampler._ptr, ffi.NULL, ffi.NULL,
                                                          max(100, int(round(interval * 1000)))))
        self._setup(on_sample, on_alert)

    def _setup(self, on_sample, on_alert) -> None:
        self._serving = False
        self._connections = []
        if on_sample is not None:
            self._connections.append(_loop.connect_signal(self._ptr, 'sampled', on_sample))
        if on_alert is not None:
            self._connections.append(_loop.connect_signal(self._ptr, 'alert', on_alert))

    @classmethod
    def from_config(cls, config: 'Config', sampler: MetricsSampler, *,
                    on_sample: Optional[Callable[[dict], None]] = None,
                    on_alert: Optional[Callable[[dict, bool], None]] = None) -> 'MetricsMonitor':
        """The interval of ``[metrics]`` (default 10 s), its history and the
        ``[alert:NAME]`` rules; raises :class:`ConfigError` naming the key."""
        self = cls.__new__(cls)
        self._ptr = _loop.wrap(errors.call(lib.pk_metrics_monitor_new_from_config, config._ptr, sampler._ptr))
        self._setup(on_sample, on_alert)
        return self

    @property
    def interval(self) -> float:
        """Seconds between samples."""
        return lib.pk_metrics_monitor_get_interval(self._ptr) / 1000

    @property
    def serving(self) -> bool:
        """Whether it samples on its timer now."""
        return self._serving

    def start(self) -> 'MetricsMonitor':
        """Takes a sample now, then one every interval (in the package's
        GLib thread)."""
        _loop.run(lambda: lib.pk_metrics_monitor_start(self._ptr))
        self._serving = True
        return self

    def stop(self) -> None:
        """Stops sampling."""
        _loop.run(lambda: lib.pk_metrics_monitor_stop(self._ptr))
        self._serving = False

    def tick(self) -> dict:
        """One sample now, recorded and evaluated as the timer does."""
        return _json_node_to_python(_loop.run(lambda: errors.call(lib.pk_metrics_monitor_tick, self._ptr)))

    def reload_alerts(self, config: 'Config') -> int:
        """Replaces the rules with those of ``config`` (a bad rule changes
        nothing and raises :class:`ConfigError`); returns how many there are."""
        def reload():
            errors.call(lib.pk_metrics_monitor_reload_alerts, self._ptr, config._ptr)
            return lib.pk_metrics_alerts_get_n_rules(lib.pk_metrics_monitor_get_alerts(self._ptr))
        return _loop.run(reload)


def parse_time(text: str) -> float:
    """A time as ``pk-metrics analyze`` and ``/api/history`` read it (Unix
    seconds, ISO 8601, ``"2025-08-20 14:30"`` local time, or a duration
    ago such as ``"1h"``), in Unix seconds."""
    out = ffi.new('gint64 *')
    errors.call(lib.pk_metrics_parse_time, text.encode(), out)
    return out[0] / 1e6


class MetricsServer(Service):
    """``PkMetricsServer``: ``/metrics`` in the Prometheus text format (a
    fresh sample of ``sampler`` per scrape), ``/api/sample`` and
    ``/api/history`` (the history a recorder keeps in ``history_dir``),
    served in the package's GLib thread.

    >>> with MetricsServer("127.0.0.1:0", sampler=MetricsSampler()) as srv:
    ...     print(srv.urls)                 # ['http://127.0.0.1:40123/metrics']

    Args:
        listen: ``"ADDRESS:PORT"``, or a bare port for loopback.
        sampler: a :class:`MetricsSampler`, or ``None`` for none.
        history_dir: a recorder's directory, or ``None`` (404 on ``/api/history``).
    """

    def __init__(self, listen: str = '127.0.0.1:9110', *, sampler: Optional[MetricsSampler] = None,
                 history_dir: Optional[str | os.PathLike] = None):
        self._listen = listen
        self._ptr = _loop.wrap(lib.pk_metrics_server_new())
        self._sampler = sampler
        self._serving = False
        if sampler is not None:
            lib.pk_metrics_server_set_sampler(self._ptr, sampler._ptr)
        if history_dir is not None:
            lib.pk_metrics_server_set_history_directory(self._ptr, os.fsencode(history_dir))

    def start(self) -> 'MetricsServer':
        """Listens (raises :class:`AddressInUse`, :class:`InvalidArgument`...)."""
        if not self._serving:
            _loop.run(lambda: errors.call(lib.pk_metrics_server_listen, self._ptr, self._listen.encode()))
            self._serving = True
        return self

    def stop(self) -> None:
        """Stops listening."""
        if self._serving:
            _loop.run(lambda: lib.pk_metrics_server_stop(self._ptr))
            self._serving = False

    @property
    def serving(self) -> bool:
        """Whether it listens now."""
        return self._serving

    @property
    def port(self) -> int:
        """The port listened on (0 when not listening)."""
        return lib.pk_metrics_server_get_port(self._ptr)

    @property
    def urls(self) -> List[str]:
        """The ``/metrics`` URL of each listening socket."""
        return _loop.run(lambda: take_strv(lib.pk_metrics_server_dup_urls(self._ptr)))

    def set_last_sample(self, sample: Optional[dict]) -> None:
        """The sample ``/api/sample`` answers with (``None``: a fresh one)."""
        if sample is None:
            _loop.run(lambda: lib.pk_metrics_server_set_last_sample(self._ptr, ffi.NULL))
            return
        node = errors.call(lib.json_from_string, json.dumps(sample).encode())
        try:
            _loop.run(lambda: lib.pk_metrics_server_set_last_sample(self._ptr, node))
        finally:
            lib.json_node_unref(node)
