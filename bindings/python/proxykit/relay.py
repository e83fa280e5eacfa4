"""PkRelay and PkBridge: port relays, and moving bytes between two sockets."""
from __future__ import annotations

import dataclasses
import json
import os
import socket
from typing import Dict, Iterable, List, Optional, Union

from . import _loop, errors
from ._ffi import ffi, lib
from ._util import b, ms, strv, take_string
from .config import Config
from .egress import Egress


class Relay:
    """A set of port relays (``PkRelay``), replacing socat and DNAT: what
    reaches an inbound port goes 1:1 to an outbound host and port, through
    an egress. Serves in the package's GLib thread until :meth:`stop` (or
    the end of a ``with`` block).

    >>> with Relay(["50025;25;192.0.2.10;TCP"]) as relay:
    ...     relay.status()["rules"][0]["connections"]

    Rules are the shell tools' ``in_port;out_port;out_host;TCP|UDP``
    strings (the inbound field may carry an address, ``127.0.0.1:50025``).
    A rule string needs a real port, as a config file does; for a free port
    chosen by the system, give the rule's parts to :meth:`add_rule` with
    ``in_port=0`` and read the port back with :meth:`local_port`.
    """

    def __init__(self, rules: Iterable[str] = (), **options):
        self._ptr = _loop.wrap(lib.pk_relay_new())
        self._names: List[str] = []
        for spec in rules:
            self.add_rule(spec, **options)

    @classmethod
    def from_config(cls, config: Config, rules: Iterable[str] = ()) -> 'Relay':
        """The relay of a configuration, as pk-relay builds it: the
        ``[relay:NAME]`` sections, the ``RELAY_N`` variables and ``rules``
        (``"in_port;out_port;out_host;TCP|UDP"`` strings), with overrides
        (see :meth:`Config.set_override`) over the environment over the file.
        ``[relay]`` holds ``listen-address`` (``RELAY_LISTEN_ADDRESS``),
        ``kernel-nat`` (``RELAY_KERNEL_NAT``) and the options every rule
        defaults to. Every rule is checked here (no rules at all is an
        error); :meth:`start` listens and :meth:`reload` applies the
        configuration read again. Raises :class:`ConfigError` naming the bad
        value and where it came from.

        >>> cfg = Config(data="[relay:smtp]\\nlisten = 127.0.0.1:50025\\ntarget = 192.0.2.10:25\\n")
        >>> with Relay.from_config(cfg).start() as relay:
        ...     relay.rules
        ['smtp']
        """
        arr, keep = strv(rules)
        self = cls.__new__(cls)
        self._ptr = _loop.wrap(errors.call(lib.pk_relay_new_from_config, config._ptr, arr))
        del keep
        self._names = self._list_names()
        return self

    def start(self) -> 'Relay':
        """Starts the rules of the configuration of :meth:`from_config`
        (nothing for a relay made otherwise). A rule that cannot listen
        (:class:`AddressInUse`...) does not stop the others."""
        try:
            _loop.run(lambda: errors.call(lib.pk_relay_start, self._ptr))
        finally:
            self._names = self._list_names()
        return self

    def reload(self, config: Config) -> List[str]:
        """Applies ``config`` (read again) to a relay of :meth:`from_config`,
        with the ``rules`` given to it: new rules start, rules no longer
        there stop, unchanged ones keep their connections. A configuration
        that does not load changes nothing. Returns the rule names."""
        try:
            _loop.run(lambda: errors.call(lib.pk_relay_reload_from_config, self._ptr, config._ptr))
        finally:
            self._names = self._list_names()
        return list(self._names)

    def _list_names(self) -> List[str]:
        def names():
            array = ffi.gc(lib.pk_relay_list_rules(self._ptr), lib.g_ptr_array_unref)
            return [ffi.string(lib.pk_relay_rule_get_name(ffi.cast('PkRelayRule *', array.pdata[i]))).decode()
                    for i in range(array.len)]
        return _loop.run(names)

    def add_rule(self, spec: Optional[str] = None, *, in_port: int = 0,
                 out_host: Optional[str] = None, out_port: int = 0, protocol: str = 'tcp',
                 name: Optional[str] = None,
                 listen_address: Optional[str] = None, egress: Optional[Egress] = None,
                 connect_timeout: Optional[float] = None, idle_timeout: Optional[float] = None,
                 max_sessions: Optional[int] = None, allow: Union[str, Iterable[str], None] = None,
                 keepalive: Optional[tuple] = None,
                 health_check: Optional[Dict[str, float]] = None) -> str:
        """Adds one rule and starts listening; returns the rule's name
        (``IN_PORT/tcp`` unless ``name`` is given).

        The rule is ``spec`` (``"in_port;out_port;out_host;TCP|UDP"``, with
        in_port 1-65535), or ``in_port``, ``out_host``, ``out_port`` and
        ``protocol`` given apart (``in_port=0`` picks a free port;
        :meth:`local_port` tells). Rules added before keep their sockets
        and connections, port-0 rules included.

        Args:
            keepalive: ``(idle_s, interval_s, count)`` for TCP keepalive.
            health_check: ``{"timeout": s, "retries": n, "interval": s}``.
        """
        rule = _make_rule(spec, in_port, out_host, out_port, protocol, name, listen_address,
                          egress, connect_timeout, idle_timeout, max_sessions, allow, keepalive,
                          health_check)
        rule_name = ffi.string(lib.pk_relay_rule_get_name(rule)).decode()
        _loop.run(lambda: errors.call(lib.pk_relay_add_rule, self._ptr, rule))
        self._names.append(rule_name)
        return rule_name

    def set_rules(self, specs: Iterable[str], **options) -> List[str]:
        """Makes ``specs`` (``"in_port;out_port;out_host;TCP|UDP"`` strings)
        the relay's rules, as a reload does: new rules start, rules no
        longer there stop, unchanged rules keep their sockets and live
        connections. All rules are checked first; on an error nothing
        changes. Returns the rule names."""
        rules = [_make_rule(spec, 0, None, 0, 'tcp', None, options.get('listen_address'),
                            options.get('egress'), options.get('connect_timeout'),
                            options.get('idle_timeout'), options.get('max_sessions'),
                            options.get('allow'), options.get('keepalive'),
                            options.get('health_check')) for spec in specs]
        array = ffi.gc(lib.g_ptr_array_new_with_free_func(ffi.NULL), lib.g_ptr_array_unref)
        for rule in rules:
            lib.g_ptr_array_add(array, rule)
        _loop.run(lambda: errors.call(lib.pk_relay_set_rules, self._ptr, array))
        self._names = [ffi.string(lib.pk_relay_rule_get_name(r)).decode() for r in rules]
        return list(self._names)

    def remove_rule(self, name: str) -> bool:
        """Stops a rule (closing its connections); False if there was none."""
        removed = bool(_loop.run(lambda: lib.pk_relay_remove_rule(self._ptr, name.encode())))
        if name in self._names:
            self._names.remove(name)
        return removed

    @property
    def rules(self) -> List[str]:
        """Names of the rules added here (in order)."""
        return list(self._names)

    def local_port(self, name: Optional[str] = None) -> int:
        """The port a rule listens on (the first rule's by default)."""
        name = name if name is not None else self._names[0]
        return _loop.run(lambda: lib.pk_relay_get_local_port(self._ptr, name.encode()))

    def status(self) -> dict:
        """Per-rule status and counters: ``{"rules": [{"name", "protocol",
        "listen", "target", "health", "connections", "active", "bytes_in",
        "bytes_out", ...}]}``."""
        return json.loads(_loop.run(lambda: take_string(lib.pk_relay_dup_status_json(self._ptr))))

    def prometheus(self) -> str:
        """The per-rule counters in the Prometheus text format (what
        pk-relay's ``/metrics`` serves)."""
        return _loop.run(lambda: take_string(lib.pk_relay_dup_prometheus(self._ptr)))

    @property
    def connections(self) -> int:
        """Connections open now, over all rules."""
        return _loop.run(lambda: lib.pk_relay_get_n_connections(self._ptr))

    def drain(self) -> None:
        """Stops accepting on every rule; open connections go on."""
        _loop.run(lambda: lib.pk_relay_drain(self._ptr))

    def stop(self) -> None:
        """Stops every rule and closes every connection."""
        _loop.run(lambda: lib.pk_relay_stop(self._ptr))
        self._names.clear()

    def __enter__(self) -> 'Relay':
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _make_rule(spec, in_port, out_host, out_port, protocol, name, listen_address, egress,
               connect_timeout, idle_timeout, max_sessions, allow, keepalive, health_check):
    """A PkRelayRule (owned by Python) from a spec string or its parts."""
    if spec is not None:
        ptr = errors.call(lib.pk_relay_rule_new_from_string, spec.encode())
    else:
        if not out_host or not 0 < out_port < 65536 or protocol.lower() not in ('tcp', 'udp'):
            raise errors.InvalidArgument(
                f'relay rule: need out_host, out_port 1-65535 and protocol tcp|udp '
                f'(got {out_host!r}, {out_port}, {protocol!r})',
                errors.PK_ERROR_DOMAIN, lib.PK_ERROR_INVALID_ARGUMENT)
        proto = lib.PK_RELAY_PROTOCOL_TCP if protocol.lower() == 'tcp' else lib.PK_RELAY_PROTOCOL_UDP
        ptr = lib.pk_relay_rule_new(proto, in_port, out_host.encode(), out_port)
    rule = ffi.gc(ptr, lib.pk_relay_rule_unref)
    if name is not None:
        lib.pk_relay_rule_set_name(rule, name.encode())
    if listen_address is not None:
        errors.call(lib.pk_relay_rule_set_listen_address, rule, listen_address.encode())
    if egress is not None:
        lib.pk_relay_rule_set_egress(rule, egress._ptr)
    if connect_timeout is not None:
        lib.pk_relay_rule_set_connect_timeout(rule, ms(connect_timeout))
    if idle_timeout is not None:
        lib.pk_relay_rule_set_idle_timeout(rule, ms(idle_timeout))
    if max_sessions is not None:
        lib.pk_relay_rule_set_max_sessions(rule, max_sessions)
    if allow is not None:
        cidrs = allow if isinstance(allow, str) else ','.join(allow)
        errors.call(lib.pk_relay_rule_set_allow, rule, cidrs.encode())
    if keepalive is not None:
        lib.pk_relay_rule_set_keepalive(rule, *keepalive)
    if health_check is not None:
        lib.pk_relay_rule_set_health_check(rule, True, ms(health_check.get('timeout', 5)),
                                           int(health_check.get('retries', 3)),
                                           ms(health_check.get('interval', 30)))
    return rule


@dataclasses.dataclass(frozen=True)
class BridgeResult:
    """Bytes moved by a :class:`Bridge`, and how it ended (``error`` is
    ``None`` when both directions ended with EOF)."""
    bytes_a_to_b: int
    bytes_b_to_a: int
    error: Optional[errors.Error] = None


class Bridge:
    """Moves bytes both ways between two connected sockets (``PkBridge``:
    splice, half-close, idle timeout) until both directions have ended.

    The sockets stay the caller's (the bridge works on duplicates of
    their descriptors); they are non-blocking while it runs.
    """

    def __init__(self, a: socket.socket, b: socket.socket, idle_timeout: Optional[float] = None):
        self._socks = (a, b)
        ga = _loop.wrap(errors.call(lib.g_socket_new_from_fd, os.dup(a.fileno())))
        gb = _loop.wrap(errors.call(lib.g_socket_new_from_fd, os.dup(b.fileno())))
        self._gsocks = (ga, gb)
        self._ptr = _loop.wrap(lib.pk_bridge_new(ga, gb))
        if idle_timeout is not None:
            lib.pk_bridge_set_idle_timeout(self._ptr, ms(idle_timeout))

    def run(self, timeout: Optional[float] = None) -> BridgeResult:
        """Runs until both directions end (or the idle timeout, or
        ``timeout`` seconds on the Python side, which cancels it).
        Returns the byte counts; an idle timeout or a reset is reported in
        :attr:`BridgeResult.error`, not raised."""
        blocking = [s.getblocking() for s in self._socks]

        def start(cancellable, callback, data):
            lib.pk_bridge_run_async(self._ptr, cancellable, callback, data)

        def finish(source, result):
            error = None
            try:
                errors.call(lib.pk_bridge_run_finish, self._ptr, result)
            except errors.Error as e:
                error = e
            return BridgeResult(lib.pk_bridge_get_bytes_a_to_b(self._ptr),
                                lib.pk_bridge_get_bytes_b_to_a(self._ptr), error)

        try:
            return _loop.call_async(start, finish, timeout, 'bridge')
        finally:
            for s, was in zip(self._socks, blocking):
                if s.fileno() >= 0:
                    s.setblocking(was)
