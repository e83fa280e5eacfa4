"""PkModem and PkHilinkModem: modem status, data switch, network mode, and
IP rotation, as blocking calls."""
from __future__ import annotations

import dataclasses
import time
from typing import Dict, Optional, Tuple

from . import _loop, errors
from ._ffi import ffi, lib
from ._util import Record, Service, has_function, not_built, b, ms, string, take_string as _util_take_string
from .egress import Egress

_STATES = {
    lib.PK_MODEM_STATE_UNKNOWN: 'unknown',
    lib.PK_MODEM_STATE_CONNECTING: 'connecting',
    lib.PK_MODEM_STATE_CONNECTED: 'connected',
    lib.PK_MODEM_STATE_DISCONNECTED: 'disconnected',
    lib.PK_MODEM_STATE_DISCONNECTING: 'disconnecting',
}

#: Network modes by their names in the C library (``"auto"``, ``"4g-only"``...).
NETWORK_MODES: Dict[str, int] = {
    string(lib.pk_modem_network_mode_to_string(v)): v
    for v in (lib.PK_MODEM_NETWORK_MODE_UNKNOWN, lib.PK_MODEM_NETWORK_MODE_AUTO,
              lib.PK_MODEM_NETWORK_MODE_2G_ONLY, lib.PK_MODEM_NETWORK_MODE_3G_ONLY,
              lib.PK_MODEM_NETWORK_MODE_4G_ONLY, lib.PK_MODEM_NETWORK_MODE_3G_2G,
              lib.PK_MODEM_NETWORK_MODE_4G_2G, lib.PK_MODEM_NETWORK_MODE_4G_3G)
}
_MODE_NAMES = {v: k for k, v in NETWORK_MODES.items()}


@dataclasses.dataclass(frozen=True)
class ModemStatus:
    """The data connection of a modem: ``state`` is ``"connected"``,
    ``"connecting"``, ``"disconnected"``, ``"disconnecting"`` or
    ``"unknown"``; ``wan_ip`` is the address the carrier gave (while
    connected)."""
    state: str
    wan_ip: Optional[str]

    @property
    def connected(self) -> bool:
        """Whether the data connection is up."""
        return self.state == 'connected'


@dataclasses.dataclass(frozen=True)
class ModemTraffic:
    """Traffic counters: this connection's bytes and rates (bytes/s), its
    age in seconds, and the totals since the counters were reset."""
    rx_bytes: int
    tx_bytes: int
    rx_rate: int
    tx_rate: int
    connect_time_s: int
    total_rx_bytes: int
    total_tx_bytes: int


def _take_hash_table(table) -> Dict[str, str]:
    out: Dict[str, str] = {}
    if table == ffi.NULL:
        return out
    it = ffi.new('GHashTableIter *')
    key = ffi.new('gpointer *')
    value = ffi.new('gpointer *')
    lib.g_hash_table_iter_init(it, table)
    while lib.g_hash_table_iter_next(it, key, value):
        out[string(ffi.cast('char *', key[0]))] = string(ffi.cast('char *', value[0]))
    lib.g_hash_table_unref(table)
    return out


class Modem:
    """A modem through the ``PkModem`` interface (the base of
    :class:`HilinkModem`). Every call blocks until the modem answered or
    ``timeout`` seconds passed (default :attr:`timeout`)."""

    #: Default seconds a call may take, login included.
    timeout: float = 60.0

    def __init__(self):
        raise TypeError('Modem is abstract: use HilinkModem')

    def _modem(self):
        return ffi.cast('PkModem *', self._ptr)

    def _call(self, start_fn, finish, what, timeout, *args):
        modem = self._modem()

        def start(cancellable, callback, data):
            start_fn(modem, *args, cancellable, callback, data)

        return _loop.call_async(start, finish, self.timeout if timeout is None else timeout,
                                f'{self}: {what}')

    def status(self, timeout: Optional[float] = None) -> ModemStatus:
        """The connection state and the WAN address."""
        state = ffi.new('PkModemState *')
        wan = ffi.new('char **')

        def finish(source, result):
            errors.call(lib.pk_modem_get_status_finish, self._modem(), result, state, wan)
            ip = string(wan[0])
            lib.g_free(wan[0])
            return ModemStatus(_STATES.get(state[0], 'unknown'), ip or None)

        return self._call(lib.pk_modem_get_status_async, finish, 'status', timeout)

    @property
    def wan_ip(self) -> Optional[str]:
        """The WAN address now (``None`` while not connected)."""
        return self.status().wan_ip

    def device_info(self, timeout: Optional[float] = None) -> Dict[str, str]:
        """``device-name``, ``imei``, ``imsi``, ``iccid``, ``serial-number``,
        ``software-version``, ``mac-address``... as the modem reports them."""
        def finish(source, result):
            return _take_hash_table(errors.call(lib.pk_modem_get_device_info_finish,
                                                self._modem(), result))
        return self._call(lib.pk_modem_get_device_info_async, finish, 'device info', timeout)

    def signal(self, timeout: Optional[float] = None) -> Dict[str, str]:
        """Radio values (``rssi``, ``rsrp``, ``rsrq``, ``sinr``, ``band``...)
        as strings, as the modem reports them (``"-85dBm"``)."""
        def finish(source, result):
            return _take_hash_table(errors.call(lib.pk_modem_get_signal_finish,
                                                self._modem(), result))
        return self._call(lib.pk_modem_get_signal_async, finish, 'signal', timeout)

    def traffic(self, timeout: Optional[float] = None) -> ModemTraffic:
        """Traffic counters of the data connection."""
        out = ffi.new('PkModemTraffic *')

        def finish(source, result):
            errors.call(lib.pk_modem_get_traffic_finish, self._modem(), result, out)
            return ModemTraffic(**{f.name: getattr(out, f.name)
                                   for f in dataclasses.fields(ModemTraffic)})
        return self._call(lib.pk_modem_get_traffic_async, finish, 'traffic', timeout)

    def get_data_enabled(self, timeout: Optional[float] = None) -> bool:
        """Whether the mobile data switch is on."""
        out = ffi.new('gboolean *')

        def finish(source, result):
            errors.call(lib.pk_modem_get_data_enabled_finish, self._modem(), result, out)
            return bool(out[0])
        return self._call(lib.pk_modem_get_data_enabled_async, finish, 'data switch', timeout)

    def set_data_enabled(self, enabled: bool, timeout: Optional[float] = None) -> None:
        """Turns mobile data on or off."""
        def finish(source, result):
            errors.call(lib.pk_modem_set_data_enabled_finish, self._modem(), result)
        self._call(lib.pk_modem_set_data_enabled_async, finish,
                   f'data switch {"on" if enabled else "off"}', timeout, bool(enabled))

    def get_network_mode(self, timeout: Optional[float] = None) -> str:
        """The network mode: ``"auto"``, ``"4g-only"``, ``"3g-only"``..."""
        out = ffi.new('PkModemNetworkMode *')

        def finish(source, result):
            errors.call(lib.pk_modem_get_network_mode_finish, self._modem(), result, out)
            return _MODE_NAMES.get(out[0], 'unknown')
        return self._call(lib.pk_modem_get_network_mode_async, finish, 'network mode', timeout)

    def set_network_mode(self, mode: str, timeout: Optional[float] = None) -> None:
        """Sets the network mode (a name from :data:`NETWORK_MODES`)."""
        if mode not in NETWORK_MODES or mode == 'unknown':
            raise errors.InvalidArgument(
                f'network mode {mode!r}: expected one of '
                f'{", ".join(m for m in NETWORK_MODES if m != "unknown")}',
                errors.PK_ERROR_DOMAIN, lib.PK_ERROR_INVALID_ARGUMENT)

        def finish(source, result):
            errors.call(lib.pk_modem_set_network_mode_finish, self._modem(), result)
        self._call(lib.pk_modem_set_network_mode_async, finish, f'network mode {mode}',
                   timeout, NETWORK_MODES[mode])

    def reboot(self, timeout: Optional[float] = None) -> None:
        """Reboots the modem (it comes back after a while)."""
        def finish(source, result):
            errors.call(lib.pk_modem_reboot_finish, self._modem(), result)
        self._call(lib.pk_modem_reboot_async, finish, 'reboot', timeout)

    def rotate(self, method: str = 'data', *, escalate: Optional[str] = None,
               settle: Optional[float] = None, poll_interval: Optional[float] = None,
               attempt_timeout: Optional[float] = None, unchanged_polls: Optional[int] = None,
               timeout: Optional[float] = 600.0) -> 'RotationResult':
        """Gets a new WAN IP from the carrier (``PkRotation``) and returns a
        :class:`RotationResult` (``old_ip``, ``new_ip``, ``seconds``,
        ``method``, ``escalated``, ``attempts``).

        ``method`` is tried first: ``"data"`` (mobile data off, a pause,
        on), ``"netmode"`` (to 3G and back; ``"mode"`` works too) or
        ``"reboot"``. When the IP stays the same the rotation escalates
        along ``escalate`` (``"data,netmode,reboot"`` by default; ``"none"``
        for no escalation). ``method`` in the result is the method that
        worked; ``attempts`` lists each try with its outcome.

        ``settle``, ``poll_interval`` and ``attempt_timeout`` (seconds) and
        ``unchanged_polls`` tune each attempt (the library's defaults suit
        real dongles); ``timeout`` bounds the whole call.

        Raises:
            Unchanged: the modem kept its IP through every method.
            TimedOut: it did not come back.
            ModemError, AuthFailed, Busy: the modem refused
                (``.huawei_code`` says why).
            The exception's ``.result`` holds the same
            :class:`RotationResult` as a success.
        """
        rot = _loop.wrap(lib.pk_rotation_new(self._modem(), rotation_method(method)))
        _tune(rot, lib.pk_rotation_set_escalation, lib.pk_rotation_set_timing,
              lib.pk_rotation_set_unchanged_polls, escalate, settle, poll_interval,
              attempt_timeout, unchanged_polls)

        def start(cancellable, callback, data):
            lib.pk_rotation_run_async(rot, cancellable, callback, data)

        def finish(source, result):
            err = ffi.new('GError **')
            ok = lib.pk_rotation_run_finish(rot, result, err)
            summary = _rotation_result(rot)
            if not ok:
                exc = errors.take_gerror(err[0])
                exc.result = summary
                raise exc
            return summary

        return _loop.call_async(start, finish, timeout, f'{self}: rotation by {method}')

    def wait_connected(self, timeout: float = 120.0, poll_interval: float = 1.0,
                       not_ip: Optional[str] = None) -> ModemStatus:
        """Polls :meth:`status` until the modem is connected with a WAN
        address (other than ``not_ip``, if given); raises :class:`TimedOut`."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                st = self.status(timeout=max(1.0, min(self.timeout, deadline - time.monotonic())))
            except (errors.TimedOut, errors.ConnectionRefused, errors.ConnectionClosed,
                    errors.Busy, errors.HostUnreachable):
                st = None      # a rebooting modem does not answer for a while
            if st is not None and st.connected and st.wan_ip and st.wan_ip != not_ip:
                return st
            if time.monotonic() >= deadline:
                raise errors.timed_out(f'{self}: waiting for a connection', timeout)
            time.sleep(poll_interval)


def rotation_method(method: str) -> int:
    """A rotation method name (``data``, ``netmode`` or ``mode``, ``reboot``)
    as its PkRotationMethod value."""
    out = ffi.new('PkRotationMethod *')
    if method == 'mode':
        method = 'netmode'
    if not lib.pk_rotation_method_from_string(method.encode(), out):
        raise errors.InvalidArgument(
            f"rotation method {method!r}: expected 'data', 'netmode' or 'reboot'",
            errors.PK_ERROR_DOMAIN, lib.PK_ERROR_INVALID_ARGUMENT)
    return out[0]


def _tune(obj, set_escalation, set_timing, set_unchanged_polls, escalate, settle,
          poll_interval, attempt_timeout, unchanged_polls) -> None:
    """Escalation and timing of a PkRotation or a PkToggleModemStep (the
    library's defaults, 3 s / 1 s / 60 s, for what is not given)."""
    if escalate is not None:
        errors.call(set_escalation, obj, escalate.encode())
    if settle is not None or poll_interval is not None or attempt_timeout is not None:
        set_timing(obj, ms(3.0 if settle is None else settle),
                   ms(1.0 if poll_interval is None else poll_interval),
                   ms(60.0 if attempt_timeout is None else attempt_timeout))
    if unchanged_polls is not None:
        set_unchanged_polls(obj, unchanged_polls)


@dataclasses.dataclass(frozen=True)
class RotationAttempt(Record):
    """One method tried during a rotation: ``method`` (``"data"``,
    ``"netmode"``, ``"reboot"``), its ``outcome`` (``"changed"``,
    ``"unchanged"``, ``"timed-out"``, ``"failed"``), the library's
    ``message`` about it, and how long it took in ``seconds``."""
    method: str
    outcome: str
    message: Optional[str]
    seconds: float


@dataclasses.dataclass(frozen=True)
class RotationResult(Record):
    """What :meth:`Modem.rotate` did: the WAN address before and after, how
    long it took, the method that worked (or was tried last), whether it
    had to escalate, and each attempt in order. ``result["new_ip"]`` works
    as well as ``result.new_ip``."""
    old_ip: Optional[str]
    new_ip: Optional[str]
    seconds: float
    method: str
    escalated: bool
    attempts: Tuple[RotationAttempt, ...]

    @property
    def changed(self) -> bool:
        """Whether the WAN address changed."""
        return bool(self.new_ip) and self.new_ip != self.old_ip


def _rotation_result(rot) -> RotationResult:
    attempts = tuple(RotationAttempt(
        method=string(lib.pk_rotation_method_to_string(lib.pk_rotation_get_attempt_method(rot, i))),
        outcome=string(lib.pk_rotation_outcome_to_string(lib.pk_rotation_get_attempt_outcome(rot, i))),
        message=string(lib.pk_rotation_get_attempt_message(rot, i)),
        seconds=lib.pk_rotation_get_attempt_duration_ms(rot, i) / 1000.0,
    ) for i in range(lib.pk_rotation_get_n_attempts(rot)))
    return RotationResult(
        old_ip=string(lib.pk_rotation_get_old_ip(rot)),
        new_ip=string(lib.pk_rotation_get_new_ip(rot)),
        seconds=lib.pk_rotation_get_duration_ms(rot) / 1000.0,
        method=string(lib.pk_rotation_method_to_string(lib.pk_rotation_get_final_method(rot))),
        escalated=bool(lib.pk_rotation_get_escalated(rot)),
        attempts=attempts,
    )


class HilinkModem(Modem):
    """A Huawei HiLink modem (E8372h and kin) through its web API, reached
    through an egress (the host's address on the dongle's subnet).

    >>> modem = HilinkModem("192.168.11.1", egress_address="192.168.11.100")
    >>> modem.rotate(method="data")["new_ip"]
    '10.64.9.21'

    Args:
        host: the modem's address or base URL (``"192.168.8.1"``,
            ``"http://192.168.8.1"``, ``"http://127.0.0.1:8080"``).
        egress: the :class:`Egress` to reach it through; or give
            ``egress_address`` / ``egress_interface``.
        username, password: for modems with a login.
        request_timeout: seconds per HTTP request (the library's default
            is 10).
        timeout: default seconds a whole call may take.
    """

    def __init__(self, host: str = '192.168.8.1', *, egress: Optional[Egress] = None,
                 egress_address: Optional[str] = None, egress_interface: Optional[str] = None,
                 username: Optional[str] = None, password: Optional[str] = None,
                 request_timeout: Optional[float] = None, timeout: float = 60.0):
        url = host if '://' in host else f'http://{host}'
        if egress is None and (egress_address or egress_interface):
            egress = Egress(address=egress_address, interface=egress_interface)
        self._egress = egress
        if not has_function('pk_hilink_modem_new'):
            raise not_built('HiLink support', 'libsoup-3.0')
        ptr = errors.call(lib.pk_hilink_modem_new, url.encode(),
                          egress._ptr if egress is not None else ffi.NULL)
        self._ptr = _loop.wrap(ptr)
        self.timeout = timeout
        if username is not None or password is not None:
            lib.pk_hilink_modem_set_credentials(self._ptr, b(username or 'admin'), b(password))
        if request_timeout is not None:
            lib.pk_hilink_modem_set_timeout(self._ptr, ms(request_timeout))

    @property
    def base_url(self) -> str:
        """The web API's address (``http://192.168.8.1``)."""
        return string(lib.pk_hilink_modem_get_base_url(self._ptr))

    @property
    def egress(self) -> Optional[Egress]:
        """The egress requests to the modem leave through (``None``: the default route)."""
        ptr = lib.pk_hilink_modem_get_egress(self._ptr)
        return Egress._from_ptr(ptr) if ptr != ffi.NULL else None

    @property
    def request_timeout(self) -> float:
        """Seconds one request to the modem may take."""
        return lib.pk_hilink_modem_get_timeout(self._ptr) / 1000.0

    def __str__(self) -> str:
        return f'HiLink {self.base_url}'

    def __repr__(self) -> str:
        return f'<proxykit.HilinkModem {self.base_url}>'


class ToggleLimiter:
    """A limit on toggles running at once, shared by the :class:`Toggle`
    objects of one host (``PkToggleLimiter``)."""

    def __init__(self, max_concurrent: int = 2):
        self._ptr = _loop.wrap(lib.pk_toggle_limiter_new(max_concurrent))

    @property
    def max(self) -> int:
        """How many toggles may run at once."""
        return lib.pk_toggle_limiter_get_max(self._ptr)

    @property
    def running(self) -> int:
        """How many toggles run now."""
        return _loop.run(lambda: lib.pk_toggle_limiter_get_running(self._ptr))


_LADDER = ('routing', 'modem', 'usb', 'power', 'hub')


class Toggle:
    """One dongle's "get me a new IP" (``PkToggle``): a diagnosis, then a
    rotation step, with a per-dongle lock, a cooldown between toggles and a
    host-wide limit (what ``pk-toggle`` and its HTTP API run).

    >>> toggle = Toggle(11, HilinkModem("192.168.11.1", egress_address="192.168.11.100"),
    ...                 cooldown=60)
    >>> toggle.run()["new_ip"]

    Args:
        id: the dongle's number.
        modem: its :class:`Modem`.
        limiter: a :class:`ToggleLimiter` shared with other toggles (one
            of its own by default).
        cooldown: seconds after a toggle during which the next is refused.
        escalate, settle, poll_interval, attempt_timeout, unchanged_polls:
            as for :meth:`Modem.rotate`.
        steps: the ladder, lowest rung first: ``'modem'`` for the modem
            rotation, and rungs such as :class:`RoutingStep`,
            :class:`UsbStep`, :class:`PowerStep` (default: the modem only).
        routing: the dongle's :class:`Routing`; the diagnosis then checks
            the interface, its address and the routing, and starts at the
            rung that fits (``usb`` for a missing interface, ``routing``
            for wrong routing).
        max_stage: the last rung a run that is not a recovery may take
            (``'modem'``); recoveries climb them all.
        max_recoveries: recoveries at once on the host (needs a state
            directory; ``pk-toggle`` uses 2).
        recovery_cooldown: seconds after a recovery before the next one.
    """

    def __init__(self, id: int, modem: Modem, *, limiter: Optional[ToggleLimiter] = None,
                 cooldown: Optional[float] = None, escalate: Optional[str] = None,
                 settle: Optional[float] = None, poll_interval: Optional[float] = None,
                 attempt_timeout: Optional[float] = None, unchanged_polls: Optional[int] = None,
                 steps=('modem',), routing=None, max_stage: Optional[str] = None,
                 max_recoveries: Optional[int] = None, recovery_cooldown: Optional[float] = None):
        self._modem = modem
        self._limiter = limiter
        self._ptr = _loop.wrap(lib.pk_toggle_new(id, modem._modem(),
                                                 limiter._ptr if limiter is not None else ffi.NULL))
        step = _loop.wrap(lib.pk_toggle_modem_step_new())
        _tune(step, lib.pk_toggle_modem_step_set_escalation, lib.pk_toggle_modem_step_set_timing,
              lib.pk_toggle_modem_step_set_unchanged_polls, escalate, settle, poll_interval,
              attempt_timeout, unchanged_polls)
        self._steps = list(steps)
        for st in self._steps:
            ptr = step if isinstance(st, str) and st == 'modem' else getattr(st, '_step_ptr', None)
            if ptr is None:
                raise TypeError(f'steps: {st!r} is neither \'modem\' nor a toggle step')
            lib.pk_toggle_add_step(self._ptr, ffi.cast('PkToggleStep *', ptr))
        self._routing = routing
        if routing is not None:
            lib.pk_toggle_set_routing(self._ptr, routing._ptr)
        if max_stage is not None:
            lib.pk_toggle_set_max_stage(self._ptr, max_stage.encode())
        if max_recoveries is not None:
            lib.pk_toggle_set_max_recoveries(self._ptr, max_recoveries)
        if recovery_cooldown is not None:
            lib.pk_toggle_set_recovery_cooldown(self._ptr, ms(recovery_cooldown))
        if cooldown is not None:
            lib.pk_toggle_set_cooldown(self._ptr, ms(cooldown) if cooldown > 0 else 0)

    @classmethod
    def _from_ptr(cls, ptr, owner=None) -> 'Toggle':
        """Wraps a ``PkToggle *`` that the library made (a reference is
        taken); ``owner`` is kept alive with it (what holds its modem and
        rungs, such as a :class:`ToggleService`)."""
        self = cls.__new__(cls)
        self._ptr = _loop.wrap(lib.g_object_ref(ptr))
        self._modem = None
        self._limiter = None
        self._steps = []
        self._routing = None
        self._owner = owner
        return self

    @classmethod
    def with_ladder(cls, id: int, modem: Modem, config, *, dongle=None,
                    limiter: Optional[ToggleLimiter] = None, first: str = 'routing',
                    last: str = 'hub') -> 'Toggle':
        """A toggle with the ladder ``pk-toggle`` and ``pk-watchdog
        --dongles`` build: the modem rung from ``[toggle]``
        (``pk_toggle_modem_step_new_from_config()``), and the rungs from
        ``first`` to ``last`` with the ``[toggle]`` and ``[dongles]``
        settings (``PkToggleLadderSettings``: timings, routing, recoveries
        at once, recovery cooldown, state directory). Without ``dongle``
        (a :class:`Dongle` on USB) only the modem rung is added; a plain
        run stops at ``[toggle] max_stage``.

        Raises:
            ConfigError: a ``[toggle]`` value is not valid."""
        if first not in _LADDER or last not in _LADDER:
            raise errors.InvalidArgument(f'rungs {first!r}..{last!r}: expected {", ".join(_LADDER)}')
        self = cls(id, modem, limiter=limiter, steps=())
        settings = ffi.gc(errors.call(lib.pk_toggle_ladder_settings_new_from_config, config._ptr),
                          lib.pk_toggle_ladder_settings_unref)
        step = _loop.wrap(errors.call(lib.pk_toggle_modem_step_new_from_config, config._ptr))
        self._keep_ladder = (config, dongle, settings, step)
        lib.pk_toggle_add_ladder(self._ptr, dongle._ptr if dongle is not None else ffi.NULL,
                                 ffi.cast('PkToggleStep *', step), settings, first.encode(), last.encode())
        lib.pk_toggle_set_max_stage(self._ptr, lib.pk_toggle_ladder_settings_get_max_stage(settings))
        return self

    @property
    def n_steps(self) -> int:
        """How many rungs the toggle may climb."""
        return lib.pk_toggle_get_n_steps(self._ptr)

    @property
    def id(self) -> int:
        """The dongle number (``11`` for the dongle on 192.168.11.x)."""
        return lib.pk_toggle_get_id(self._ptr)

    @property
    def running(self) -> bool:
        """Whether a toggle of this dongle runs now."""
        return bool(_loop.run(lambda: lib.pk_toggle_is_running(self._ptr)))

    @property
    def cooldown_remaining(self) -> float:
        """Seconds until the next toggle is allowed."""
        return _loop.run(lambda: lib.pk_toggle_get_cooldown_remaining(self._ptr)) / 1000.0

    def on_progress(self, handler) -> '_loop.SignalConnection':
        """Calls ``handler(text)`` at each step of a run as it starts
        (``"diagnose"``, ``"data: mobile data off"``, ``"data: waiting for
        a new IP"``, ...; ``PkToggle::progress``), on the callbacks thread.
        Returns the connection; ``.disconnect()`` ends it."""
        return _loop.connect_signal(self._ptr, 'progress', handler)

    def run(self, method: str = 'data', recovery: bool = False,
            timeout: Optional[float] = 600.0) -> Dict[str, object]:
        """Runs the toggle and returns its result: ``dongle``, ``success``,
        ``old_ip``, ``new_ip``, ``method``, ``duration_ms``, ``attempts``,
        ``escalated``, ``finished_at``, ``steps`` (and ``error``,
        ``error_code`` when it failed).

        ``recovery`` ignores the host-wide limit and counts a healthy
        dongle (connected, with a WAN IP) as success, new IP or not: to
        bring back a dongle that is down. Each step in ``steps`` has its
        ``duration_ms``.

        Raises:
            Busy: this dongle is toggling already.
            Cooldown: the last toggle was too recent (see
                :attr:`cooldown_remaining`).
            NotAllowed: too many toggles run at once.
            Unchanged, TimedOut, ModemError...: the toggle ran and failed;
                the exception's ``.result`` holds the result dict.
        """
        import json
        value = rotation_method(method)

        def start(cancellable, callback, data):
            lib.pk_toggle_run_async(self._ptr, value, bool(recovery), cancellable, callback, data)

        def finish(source, result):
            res = _loop.wrap(errors.call(lib.pk_toggle_run_finish, self._ptr, result))
            summary = json.loads(_util_take_string(lib.pk_toggle_result_to_json(res)) or '{}')
            if not lib.pk_toggle_result_get_success(res):
                gerror = lib.pk_toggle_result_get_error(res)
                if gerror != ffi.NULL:
                    domain = ffi.string(lib.g_quark_to_string(gerror.domain)).decode()
                    exc = errors.make_error(domain, gerror.code,
                                            ffi.string(gerror.message).decode('utf-8', 'replace'))
                    exc.huawei_code = lib.pk_hilink_error_get_code(gerror) or None
                else:
                    exc = errors.Failed(f'dongle {self.id}: the toggle failed')
                exc.result = summary
                raise exc
            return summary

        return _loop.call_async(start, finish, timeout, f'dongle {self.id}: toggle')


class ToggleServer(Service):
    """The HTTP API of ``pk-toggle --serve`` (``PkToggleServer``):
    ``POST /toggle/N`` runs dongle N's :class:`Toggle`, ``GET /status`` and
    ``GET /proxy-info`` describe the dongles. Serves in the package's GLib
    thread until :meth:`stop` (or the end of a ``with`` block).

    With ``token``, ``/toggle/N`` and ``/proxy-info`` need the header
    ``Authorization: Bearer TOKEN`` (else 401). ``allow_get=True`` lets
    older clients toggle with a GET.

    >>> with ToggleServer("0.0.0.0:8080", [(toggle11, {"socks_port": 10011})],
    ...                   token=open("/etc/proxykit/toggle.token").read().strip()) as srv:
    ...     srv.serve_forever()
    """

    def __init__(self, listen: str = '127.0.0.1:0', dongles=(), default_method: Optional[str] = None,
                 token: Optional[str] = None, allow_get: bool = False):
        self._listen = listen
        self.serving = False
        self._toggles: list = []
        self._ptr = (_loop.wrap(lib.pk_toggle_server_new())
                     if has_function('pk_toggle_server_new') else ffi.NULL)
        for toggle, info in dongles:
            self.add_dongle(toggle, **info)
        if default_method is not None and self._ptr != ffi.NULL:
            lib.pk_toggle_server_set_default_method(self._ptr, rotation_method(default_method))
        if self._ptr != ffi.NULL:
            lib.pk_toggle_server_set_token(self._ptr, b(token))
            lib.pk_toggle_server_set_allow_get(self._ptr, bool(allow_get))

    def add_dongle(self, toggle: Toggle, api_url: Optional[str] = None,
                   egress_ip: Optional[str] = None, socks_host: Optional[str] = None,
                   socks_port: int = 0) -> None:
        """Adds (or replaces) dongle ``toggle.id``; the rest is what
        ``/status`` and ``/proxy-info`` report."""
        self._toggles.append(toggle)
        if self._ptr != ffi.NULL:
            _loop.run(lambda: lib.pk_toggle_server_add_dongle(
                self._ptr, toggle._ptr, b(api_url), b(egress_ip), b(socks_host), socks_port))

    def start(self) -> 'ToggleServer':
        """Listens on the address given at construction and serves the HTTP
        API (in the package's GLib thread). Raises :class:`NotSupported`
        where the library has no toggle server (built without libsoup or
        json-glib), :class:`AddressInUse`..."""
        if self._ptr == ffi.NULL:
            raise not_built('toggle server', 'libsoup-3.0 or json-glib')
        _loop.run(lambda: errors.call(lib.pk_toggle_server_listen, self._ptr, self._listen.encode()))
        self.serving = True
        return self

    @property
    def port(self) -> int:
        """The port it listens on (0 when not listening)."""
        return lib.pk_toggle_server_get_port(self._ptr) if self._ptr != ffi.NULL else 0

    def stop(self) -> None:
        """Stops listening; toggles under way finish."""
        self.serving = False
        if self._ptr != ffi.NULL:
            _loop.run(lambda: lib.pk_toggle_server_stop(self._ptr))

