"""PkStateStore and PkNodeState: the node's state as JSON files."""
from __future__ import annotations

import contextlib
import json
import os
from typing import Dict, List, Optional

from . import _loop, errors
from ._ffi import ffi, lib
from ._util import b, take_string, take_strv

STATUSES = ('starting', 'online', 'ping_failed', 'stopped', 'recovering')


def _status_value(status: str) -> int:
    out = ffi.new('PkNodeStatus *')
    if not lib.pk_node_status_from_string(status.encode(), out):
        raise errors.InvalidArgument(f'node status {status!r}: expected one of {", ".join(STATUSES)}',
                                     errors.PK_ERROR_DOMAIN, lib.PK_ERROR_INVALID_ARGUMENT)
    return out[0]


class NodeState:
    """The recorded state of one proxy node (``PkNodeState``): its status
    (``"online"``, ``"ping_failed"``...), the tunnel and SOCKS listener in
    use and failure counters. :meth:`to_dict` gives all of it."""

    def __init__(self, name: str):
        self._ptr = _loop.wrap(lib.pk_node_state_new(name.encode()))

    @classmethod
    def _wrap(cls, ptr) -> 'NodeState':
        self = cls.__new__(cls)
        self._ptr = _loop.wrap(ptr)
        return self

    @classmethod
    def from_json(cls, text: str) -> 'NodeState':
        """A state from the JSON of a state file (``to_json()``'s format)."""
        raw = text.encode()
        return cls._wrap(errors.call(lib.pk_node_state_new_from_json, raw, len(raw)))

    def to_json(self) -> str:
        """The state as the JSON of its state file."""
        return take_string(lib.pk_node_state_to_json(self._ptr))

    def to_dict(self) -> Dict[str, object]:
        """The state as a dict (the state file's JSON, parsed)."""
        return json.loads(self.to_json())

    @property
    def name(self) -> str:
        """The node's name (the state file is ``NAME.json``)."""
        return ffi.string(lib.pk_node_state_get_name(self._ptr)).decode()

    @property
    def status(self) -> str:
        """``"starting"``, ``"online"``, ``"ping_failed"``, ``"stopped"`` or ``"recovering"``."""
        return ffi.string(lib.pk_node_status_to_string(lib.pk_node_state_get_status(self._ptr))).decode()

    def set_status(self, status: str, reason: Optional[str] = None) -> None:
        """Sets the status, with the reason for it (kept in the file)."""
        lib.pk_node_state_set_status(self._ptr, _status_value(status), b(reason))

    def set_tunnel(self, server: Optional[str], linkname: Optional[str], unit: int,
                   interface: Optional[str] = None, pid: int = 0) -> None:
        """Records the node's tunnel: server, pppd link name, unit, interface and pppd's
        pid."""
        lib.pk_node_state_set_tunnel(self._ptr, b(server), b(linkname), unit, b(interface), pid)

    def clear_tunnel(self) -> None:
        """Forgets the tunnel (it is down)."""
        lib.pk_node_state_clear_tunnel(self._ptr)

    def set_socks(self, listen: str, pid: int) -> None:
        """Records the node's SOCKS listener (``"ADDRESS:PORT"``) and the pid serving it."""
        lib.pk_node_state_set_socks(self._ptr, listen.encode(), pid)

    def clear_socks(self) -> None:
        """Forgets the SOCKS listener (it stopped)."""
        lib.pk_node_state_clear_socks(self._ptr)

    @property
    def socks_pid_is_current(self) -> bool:
        """Whether the recorded listener pid is still the process that was
        recorded (same start time and boot), so that it is safe to signal."""
        return bool(lib.pk_node_state_socks_pid_is_current(self._ptr))

    @property
    def fails(self) -> int:
        """Confirmed failures of the node, in total."""
        return lib.pk_node_state_get_fails(self._ptr)

    @property
    def recoveries(self) -> int:
        """Times a node supervisor brought the node back after a failure."""
        return lib.pk_node_state_get_recoveries(self._ptr)

    @property
    def tunnel_pid_is_alive(self) -> bool:
        """Whether the recorded tunnel process (pppd) still exists."""
        return bool(lib.pk_node_state_tunnel_pid_is_alive(self._ptr))

    def set_fails(self, fails: int, consecutive: Optional[int] = None) -> None:
        """Sets the failure counters: total ``fails`` and, if given, ``consecutive`` ones."""
        lib.pk_node_state_set_fails(self._ptr, fails)
        if consecutive is not None:
            lib.pk_node_state_set_consecutive_failures(self._ptr, consecutive)

    def __repr__(self) -> str:
        return f'<proxykit.NodeState {self.name} {self.status}>'


class StateStore:
    """Node states as JSON files under a directory (``PkStateStore``),
    written atomically."""

    def __init__(self, directory: str | os.PathLike):
        self._ptr = _loop.wrap(lib.pk_state_store_new(os.fsencode(directory)))

    @property
    def directory(self) -> str:
        """The directory of the state files."""
        return ffi.string(lib.pk_state_store_get_directory(self._ptr)).decode()

    def names(self) -> List[str]:
        """The names of the nodes that have a state file, sorted."""
        return take_strv(errors.call(lib.pk_state_store_list, self._ptr))

    def prometheus(self) -> str:
        """Every node's status and failure counts in the Prometheus text
        format (what pk-watchdog's ``/metrics`` serves):
        ``proxykit_node_status{node,status}``, ``proxykit_node_fails_total``,
        ``proxykit_node_recoveries_total``."""
        return take_string(lib.pk_state_store_dup_prometheus(self._ptr))

    def load(self, name: str, create: bool = False) -> NodeState:
        """Loads a node's state (:class:`NotFound` if there is none, unless
        ``create``)."""
        fn = lib.pk_state_store_load_or_new if create else lib.pk_state_store_load
        return NodeState._wrap(errors.call(fn, self._ptr, name.encode()))

    @contextlib.contextmanager
    def locked(self, name: str):
        """Holds the node's lock (waiting while another process holds it)
        and yields its :class:`NodeState`; saves it and unlocks when the
        block ends, or only unlocks if the block raised::

            with store.locked("node1") as node:
                node.set_status("ping_failed", "3 checks failed")
        """
        node = NodeState._wrap(errors.call(lib.pk_state_store_load_locked, self._ptr, name.encode()))
        try:
            yield node
        except BaseException:
            lib.pk_state_store_unlock(self._ptr, name.encode())
            raise
        errors.call(lib.pk_state_store_save_unlock, self._ptr, node._ptr)

    def save(self, node: NodeState) -> None:
        """Writes the node's state file atomically (a reader never sees half a file)."""
        errors.call(lib.pk_state_store_save, self._ptr, node._ptr)

    def remove(self, name: str) -> None:
        """Removes a node's state file (no error if there is none)."""
        errors.call(lib.pk_state_store_remove, self._ptr, name.encode())

    def path(self, name: str) -> str:
        """The path of the state file of ``name``."""
        return take_string(lib.pk_state_store_dup_path(self._ptr, name.encode()))
