"""PkProbe and PkWatchdog: health checks, and hysteresis over them."""
from __future__ import annotations

import dataclasses
from typing import Callable, Iterable, List, Optional

from . import _loop, errors
from ._ffi import ffi, lib
from ._util import b, ms, python_wait, string, take_string
from .egress import Egress


@dataclasses.dataclass(frozen=True)
class ProbeResult:
    """The outcome of a probe run.

    Attributes:
        ok: whether the check passed.
        latency: seconds the passing run took (``None`` on failure).
        reason: why it failed (the error's message), ``None`` when ok.
        error: the :class:`Error` it failed with, ``None`` when ok.
        tries: how many runs it took (for :meth:`Probe.run_with_retries`).
    """
    ok: bool
    latency: Optional[float] = None
    reason: Optional[str] = None
    error: Optional[errors.Error] = None
    tries: int = 1

    def __bool__(self) -> bool:
        return self.ok


def _egress_ptr(egress: Optional[Egress]):
    return egress._ptr if egress is not None else ffi.NULL


class Probe:
    """One health check (``PkProbe``). Build one with a class method:
    :meth:`tcp_connect`, :meth:`socks`, :meth:`http`, :meth:`process`,
    :meth:`interface`; run it with :meth:`run`.

    >>> probe = Probe.socks("127.0.0.1", 10011, "10.0.0.1", 443)
    >>> result = probe.run(timeout=10)
    >>> result.ok, result.latency, result.reason
    """

    def __init__(self, _ptr):
        self._ptr = _loop.wrap(_ptr)

    @classmethod
    def tcp_connect(cls, host: str, port: int, egress: Optional[Egress] = None) -> 'Probe':
        """Passes when a TCP connect to ``host``:``port`` through ``egress`` succeeds."""
        return cls(lib.pk_probe_new_tcp_connect(_egress_ptr(egress), host.encode(), port))

    @classmethod
    def socks(cls, proxy_host: str, proxy_port: int, target_host: str,
              target_port: int) -> 'Probe':
        """Passes when the SOCKS5 proxy answers a CONNECT to the target with
        "succeeded"."""
        return cls(lib.pk_probe_new_socks(proxy_host.encode(), proxy_port,
                                          target_host.encode(), target_port))

    @classmethod
    def http(cls, url: str, egress: Optional[Egress] = None) -> 'Probe':
        """Passes when a GET of ``url`` gets a 2xx or 3xx status."""
        return cls(lib.pk_probe_new_http(_egress_ptr(egress), url.encode()))

    @classmethod
    def process(cls, pid: int) -> 'Probe':
        """Passes while process ``pid`` is alive."""
        return cls(lib.pk_probe_new_process(pid))

    @classmethod
    def dongle(cls, dongle, routing=None, modem=None) -> 'Probe':
        """The ladder's diagnosis of a :class:`Dongle`: its interface holds
        its address, its :class:`Routing` (if given) is right, its
        :class:`HilinkModem` (if given) answers, connected with a WAN IP."""
        return cls(lib.pk_probe_new_dongle(dongle._ptr, routing._ptr if routing is not None else ffi.NULL,
                                           modem._modem() if modem is not None else ffi.NULL))

    @classmethod
    def interface(cls, name: str) -> 'Probe':
        """Passes while interface ``name`` is up with an IPv4 address."""
        return cls(lib.pk_probe_new_interface(name.encode()))

    @property
    def kind(self) -> str:
        """``tcp-connect``, ``process``, ``interface``, ``socks``, ``http`` or ``dongle``."""
        return {lib.PK_PROBE_TCP_CONNECT: 'tcp-connect', lib.PK_PROBE_PROCESS: 'process',
                lib.PK_PROBE_INTERFACE: 'interface', lib.PK_PROBE_SOCKS: 'socks',
                lib.PK_PROBE_HTTP: 'http', lib.PK_PROBE_DONGLE: 'dongle'}.get(lib.pk_probe_get_kind(self._ptr), 'unknown')

    @property
    def description(self) -> str:
        """What the probe checks, as log lines name it (``tcp 127.0.0.1:80``)."""
        return string(lib.pk_probe_get_description(self._ptr))

    @property
    def timeout(self) -> float:
        """Default seconds a run may take."""
        return lib.pk_probe_get_timeout_ms(self._ptr) / 1000.0

    @timeout.setter
    def timeout(self, value: float) -> None:
        lib.pk_probe_set_timeout_ms(self._ptr, ms(value))

    def __repr__(self) -> str:
        return f'<proxykit.Probe {self.description}>'

    def run(self, timeout: Optional[float] = None) -> ProbeResult:
        """Runs the check once; never raises for a failed check (see
        :attr:`ProbeResult.error`)."""
        latency = ffi.new('guint64 *')

        def start(cancellable, callback, data):
            lib.pk_probe_run_async(self._ptr, ms(timeout), cancellable, callback, data)

        def finish(source, result):
            try:
                errors.call(lib.pk_probe_run_finish, self._ptr, result, latency)
            except errors.Error as e:
                return ProbeResult(False, None, e.message, e)
            return ProbeResult(True, latency[0] / 1e6)

        wait = python_wait(timeout if timeout is not None else self.timeout)
        return _loop.call_async(start, finish, wait, f'probe {self.description}')

    def run_with_retries(self, tries: int = 3, delay: float = 1.0,
                         timeout: Optional[float] = None) -> ProbeResult:
        """Runs the check until it passes, at most ``tries`` times, pausing
        ``delay`` seconds after each failure."""
        n = ffi.new('guint *')

        def start(cancellable, callback, data):
            lib.pk_probe_run_with_retries_async(self._ptr, tries, ms(delay), ms(timeout),
                                                cancellable, callback, data)

        def finish(source, result):
            try:
                errors.call(lib.pk_probe_run_with_retries_finish, self._ptr, result, n)
            except errors.Error as e:
                return ProbeResult(False, None, e.message, e, n[0] or tries)
            return ProbeResult(True, None, None, None, n[0])

        per_run = timeout if timeout is not None else self.timeout
        wait = python_wait(tries * (per_run + delay), 5.0)
        return _loop.call_async(start, finish, wait, f'probe {self.description}')


def startup_check(egress: Optional[Egress] = None, target: Optional[str] = None, *,
                  tries: int = 5, delay: float = 20.0, timeout: float = 30.0) -> int:
    """The pk-socks startup check: a TCP connect to ``target``
    (``"HOST:PORT"``, an IP address) through ``egress``, tried up to
    ``tries`` times. Returns the number of tries it took; raises the last
    error (:class:`CheckFailed`, :class:`TimedOut`...) if all failed."""
    n = ffi.new('guint *')

    def start(cancellable, callback, data):
        lib.pk_startup_check_async(_egress_ptr(egress), b(target), tries, ms(delay), ms(timeout),
                                   cancellable, callback, data)

    def finish(source, result):
        errors.call(lib.pk_startup_check_finish, result, n)
        return n[0]

    return _loop.call_async(start, finish, python_wait(tries * (timeout + delay), 5.0),
                            'startup check')


def startup_check_settings(config: Optional['Config'] = None) -> dict:
    """The startup check's settings from ``[startup-check]`` of ``config``
    and the environment (``SOCKS_STARTUP_CHECK_*``): ``target``,
    ``tries``, ``delay`` and ``timeout`` (seconds), ready for
    :func:`startup_check`."""
    target = ffi.new('char **')
    tries = ffi.new('guint *')
    delay = ffi.new('guint *')
    timeout = ffi.new('guint *')
    errors.call(lib.pk_startup_check_get_settings, config._ptr if config is not None else ffi.NULL,
                target, tries, delay, timeout)
    return {'target': take_string(target[0]), 'tries': tries[0], 'delay': delay[0] / 1000.0,
            'timeout': timeout[0] / 1000.0}


def health_name(value: int) -> str:
    return string(lib.pk_health_to_string(value))


class Watchdog:
    """Hysteresis over probes (``PkWatchdog``), like haproxy's rise/fall:
    ``fall`` failed rounds in a row confirm a failure, ``rise`` passing
    rounds confirm a recovery. Rounds run on timers in the package's GLib
    thread between :meth:`start` and :meth:`stop` (or in a ``with`` block).

    Callbacks run on the ``proxykit-callbacks`` thread, in order:

    * ``on_state_change(old, new)``: health names (``"unknown"``, ``"up"``,
      ``"failing"``, ``"down"``, ``"recovering"``);
    * ``on_failed(reason)``: once per confirmed failure;
    * ``on_recovered()``: once per confirmed recovery;
    * ``on_checked(ok, reason)``: after every round.

    >>> wd = Watchdog("dongle11", [Probe.socks("127.0.0.1", 10011, "10.0.0.1", 443)],
    ...               interval=30, fall=3, rise=2,
    ...               on_failed=lambda reason: print("down:", reason))
    >>> wd.start()

    Durations are in seconds; ``None`` keeps the library's default.
    """

    def __init__(self, name: str, probes: Iterable[Probe] = (), *,
                 interval: Optional[float] = None, retry_delay: Optional[float] = None,
                 initial_delay: Optional[float] = None, jitter: Optional[float] = None,
                 timeout: Optional[float] = None, fall: Optional[int] = None,
                 rise: Optional[int] = None,
                 on_state_change: Optional[Callable[[str, str], None]] = None,
                 on_failed: Optional[Callable[[str], None]] = None,
                 on_recovered: Optional[Callable[[], None]] = None,
                 on_checked: Optional[Callable[[bool, Optional[str]], None]] = None):
        self._ptr = _loop.wrap(lib.pk_watchdog_new(name.encode()))
        self._probes: List[Probe] = []
        self._connections: list = []
        for probe in probes:
            self.add_probe(probe)
        for setter, value in ((lib.pk_watchdog_set_interval_ms, interval),
                              (lib.pk_watchdog_set_retry_delay_ms, retry_delay),
                              (lib.pk_watchdog_set_initial_delay_ms, initial_delay),
                              (lib.pk_watchdog_set_jitter_ms, jitter),
                              (lib.pk_watchdog_set_timeout_ms, timeout)):
            if value is not None:
                setter(self._ptr, ms(value) if value > 0 else 0)
        if fall is not None:
            lib.pk_watchdog_set_fall(self._ptr, fall)
        if rise is not None:
            lib.pk_watchdog_set_rise(self._ptr, rise)
        if on_state_change is not None:
            self.connect('state-changed',
                         lambda old, new: on_state_change(health_name(old), health_name(new)))
        if on_failed is not None:
            self.connect('failed', on_failed)
        if on_recovered is not None:
            self.connect('recovered', on_recovered)
        if on_checked is not None:
            self.connect('checked', on_checked)

    def connect(self, signal: str, handler: Callable) -> _loop.SignalConnection:
        """Connects a handler to a PkWatchdog signal (``checked``,
        ``state-changed``, ``failed``, ``recovered``); it gets the
        signal's arguments as Python values, on the callbacks thread."""
        conn = _loop.connect_signal(self._ptr, signal, handler)
        self._connections.append(conn)
        return conn

    def add_probe(self, probe: Probe) -> None:
        """Adds a probe; a check passes when every probe passes."""
        self._probes.append(probe)
        _loop.run(lambda: lib.pk_watchdog_add_probe(self._ptr, probe._ptr))

    @property
    def name(self) -> str:
        """The name given at construction (in log lines and events)."""
        return string(lib.pk_watchdog_get_name(self._ptr))

    @property
    def health(self) -> str:
        """``"unknown"``, ``"up"``, ``"failing"``, ``"down"`` or ``"recovering"``."""
        return health_name(_loop.run(lambda: lib.pk_watchdog_get_health(self._ptr)))

    @property
    def running(self) -> bool:
        """Whether it checks on its own schedule (between :meth:`start` and :meth:`stop`)."""
        return bool(_loop.run(lambda: lib.pk_watchdog_is_running(self._ptr)))

    @property
    def consecutive_failures(self) -> int:
        """Failed checks in a row, up to now."""
        return _loop.run(lambda: lib.pk_watchdog_get_consecutive_failures(self._ptr))

    @property
    def fails(self) -> int:
        """Confirmed failures so far."""
        return _loop.run(lambda: lib.pk_watchdog_get_fails(self._ptr))

    @property
    def last_reason(self) -> Optional[str]:
        """Why the last check failed (``None`` after a success)."""
        return _loop.run(lambda: string(lib.pk_watchdog_get_last_reason(self._ptr)))

    def start(self) -> 'Watchdog':
        """Starts the rounds (in the package's GLib thread)."""
        _loop.run(lambda: lib.pk_watchdog_start(self._ptr))
        return self

    def stop(self) -> None:
        """Stops the schedule; a check under way is cancelled. :meth:`check` still works."""
        _loop.run(lambda: lib.pk_watchdog_stop(self._ptr))

    def check(self, timeout: Optional[float] = 120.0) -> str:
        """Runs one round now (all probes), feeds its result, and returns
        the health after it. The callbacks fire as for a timed round."""
        def start(cancellable, callback, data):
            lib.pk_watchdog_check_async(self._ptr, cancellable, callback, data)

        def finish(source, result):
            errors.call(lib.pk_watchdog_check_finish, self._ptr, result)
            return health_name(lib.pk_watchdog_get_health(self._ptr))

        return _loop.call_async(start, finish, timeout, f'watchdog {self.name}')

    def feed(self, ok: bool, reason: Optional[str] = None) -> Optional[str]:
        """Feeds one result as if a round had produced it; returns
        ``"failed"``/``"recovered"`` when it confirmed one, else ``None``."""
        event = _loop.run(lambda: lib.pk_watchdog_feed(self._ptr, bool(ok), b(reason)))
        return {lib.PK_HYSTERESIS_EVENT_FAILED: 'failed',
                lib.PK_HYSTERESIS_EVENT_RECOVERED: 'recovered'}.get(event)

    def close(self) -> None:
        """Stops and disconnects the callbacks."""
        self.stop()
        for conn in self._connections:
            conn.disconnect()
        self._connections.clear()

    def __enter__(self) -> 'Watchdog':
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f'<proxykit.Watchdog {self.name}>'


class Hysteresis:
    """Rise/fall hysteresis over check results, without timers
    (``PkHysteresis``, what :class:`Watchdog` uses): ``fall`` failures in a
    row confirm a failure, ``rise`` successes a recovery.

    >>> h = Hysteresis(fall=3, rise=2)
    >>> [h.feed(False) for _ in range(3)]
    [None, None, 'failed']
    """

    def __init__(self, fall: int = 3, rise: int = 2):
        self._ptr = ffi.gc(lib.pk_hysteresis_new(fall, rise), lib.pk_hysteresis_unref)

    def feed(self, ok: bool, now: Optional[float] = None) -> Optional[str]:
        """One result; ``"failed"`` or ``"recovered"`` when it confirmed one."""
        import time
        event = lib.pk_hysteresis_feed(self._ptr, bool(ok), int((time.time() if now is None else now) * 1e6))
        return {lib.PK_HYSTERESIS_EVENT_FAILED: 'failed',
                lib.PK_HYSTERESIS_EVENT_RECOVERED: 'recovered'}.get(event)

    @property
    def health(self) -> str:
        """``"unknown"``, ``"up"``, ``"failing"``, ``"down"`` or ``"recovering"``."""
        return health_name(lib.pk_hysteresis_get_health(self._ptr))

    @property
    def confirming(self) -> bool:
        """Whether a change of health is being confirmed (between the first result and
        ``fall``/``rise``)."""
        return bool(lib.pk_hysteresis_is_confirming(self._ptr))

    def counters(self) -> dict:
        """Consecutive failures and successes, total failures and recoveries, and checks
        fed, as a dict."""
        return {'consecutive_failures': lib.pk_hysteresis_get_consecutive_failures(self._ptr),
                'consecutive_successes': lib.pk_hysteresis_get_consecutive_successes(self._ptr),
                'total_failures': lib.pk_hysteresis_get_total_failures(self._ptr),
                'total_recoveries': lib.pk_hysteresis_get_total_recoveries(self._ptr),
                'checks': lib.pk_hysteresis_get_n_checks(self._ptr)}
