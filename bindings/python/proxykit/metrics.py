"""PkMetricsSampler: one snapshot of the host's health, as a dict or in
the Prometheus text format."""
from __future__ import annotations

import json
from typing import Iterable, Optional

from . import _loop, errors
from ._ffi import ffi, lib
from ._util import take_string


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

    def sample(self) -> dict:
        """Takes one sample now and returns it as a dict (the JSON object
        of ``pk-metrics --json``)."""
        return _json_node_to_python(errors.call(lib.pk_metrics_sampler_sample, self._ptr))

    @staticmethod
    def prometheus(sample: dict) -> str:
        """A sample in the Prometheus text exposition format."""
        node = errors.call(lib.json_from_string, json.dumps(sample).encode())
        try:
            return take_string(lib.pk_metrics_to_prometheus(node))
        finally:
            lib.json_node_unref(node)
