"""PkModem and PkHilinkModem: modem status, data switch, network mode, and
IP rotation, as blocking calls."""
from __future__ import annotations

import dataclasses
import time
from typing import Dict, Optional

from . import _loop, errors
from ._proxykit import ffi, lib
from ._util import b, ms, string
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

    def rotate(self, method: str = 'data', timeout: float = 120.0,
               poll_interval: float = 1.0, require_change: bool = True) -> Dict[str, object]:
        """Gets a new WAN IP from the carrier and returns
        ``{'old_ip': ..., 'new_ip': ..., 'seconds': ..., 'method': ...}``.

        Methods: ``"data"`` turns mobile data off and on; ``"mode"``
        switches the network mode away and back; ``"reboot"`` reboots the
        modem. The call waits until the modem is connected again.

        Raises:
            Unchanged: the modem came back with the same IP (unless
                ``require_change`` is false).
            TimedOut: it was not connected again within ``timeout``.
            ModemError, AuthFailed, Busy: the modem refused a step
                (``.huawei_code`` says why).
        """
        if method not in ('data', 'mode', 'reboot'):
            raise errors.InvalidArgument(f"rotate method {method!r}: expected 'data', 'mode' or 'reboot'",
                                         errors.PK_ERROR_DOMAIN, lib.PK_ERROR_INVALID_ARGUMENT)
        t0 = time.monotonic()
        old_ip = self.status().wan_ip
        if method == 'data':
            self.set_data_enabled(False)
            self.set_data_enabled(True)
        elif method == 'mode':
            mode = self.get_network_mode()
            other = '3g-only' if mode != '3g-only' else '4g-only'
            self.set_network_mode(other)
            self.wait_connected(timeout, poll_interval)
            self.set_network_mode(mode if mode != 'unknown' else 'auto')
        else:
            self.reboot()
        # Wait until connected again; the modem reports "connecting" (or
        # does not answer, rebooting) until then.
        remaining = max(1.0, timeout - (time.monotonic() - t0))
        if method == 'reboot':
            time.sleep(min(poll_interval, remaining))
        new = self.wait_connected(remaining, poll_interval)
        result = {'old_ip': old_ip, 'new_ip': new.wan_ip,
                  'seconds': round(time.monotonic() - t0, 3), 'method': method}
        if require_change and old_ip is not None and new.wan_ip == old_ip:
            raise errors.Unchanged(f'{self}: rotation by {method} kept the IP {old_ip}',
                                   errors.PK_ERROR_DOMAIN, lib.PK_ERROR_UNCHANGED)
        return result


class HilinkModem(Modem):
    """A Huawei HiLink modem (E8372h and kin) through its web API, reached
    through an egress (the host's address on the dongle's subnet).

    >>> modem = HilinkModem("192.168.11.1", egress_address="192.168.11.100")
    >>> modem.rotate(method="data")
    {'old_ip': '10.64.3.7', 'new_ip': '10.64.9.21', 'seconds': 6.2, 'method': 'data'}

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
        return string(lib.pk_hilink_modem_get_base_url(self._ptr))

    @property
    def egress(self) -> Optional[Egress]:
        ptr = lib.pk_hilink_modem_get_egress(self._ptr)
        return Egress._from_ptr(ptr) if ptr != ffi.NULL else None

    @property
    def request_timeout(self) -> float:
        return lib.pk_hilink_modem_get_timeout(self._ptr) / 1000.0

    def __str__(self) -> str:
        return f'HiLink {self.base_url}'

    def __repr__(self) -> str:
        return f'<proxykit.HilinkModem {self.base_url}>'
