"""The dongle farm's host side: PkDongle, PkDongleMonitor, PkUsbMap,
PkRouting and PkDongleFarm.

The C objects live in the package's GLib thread (the monitor follows
uevents there); every read and call here goes through that thread."""
from __future__ import annotations

import json
import os
from typing import Callable, Dict, Iterable, List, Optional

from . import _loop, errors
from ._ffi import ffi, lib
from ._util import Service, b, ms, string, take_string, take_strv
from .config import Config
from .egress import Egress
from .state import StateStore

MODES = ('unknown', 'hilink', 'mass-storage')
BACKENDS = ('auto', 'rtnetlink', 'networkmanager')


def _enum_value(from_string, ctype: str, name: str, what: str, expected: str) -> int:
    """The C value of enum name ``name`` (``from_string`` parses it)."""
    out = ffi.new(f'{ctype} *')
    if not from_string(name.encode(), out):
        raise errors.InvalidArgument(f'{what} {name!r}: expected {expected}',
                                     errors.PK_ERROR_DOMAIN, lib.PK_ERROR_INVALID_ARGUMENT)
    return out[0]


def _backend_value(backend: str) -> int:
    return _enum_value(lib.pk_routing_backend_from_string, 'PkRoutingBackend', backend, 'routing backend',
                       f'one of {", ".join(BACKENDS)}')


def _in_loop(fn, *args):
    return _loop.run(lambda: fn(*args))


class Dongle:
    """One USB dongle as the host sees it (``PkDongle``): its number N
    (subnet ``192.168.N.0/24``), mode, interface, addresses and where it
    sits on USB. The monitor keeps it up to date; the properties read it
    now. ``Dongle(11, "eth11", "192.168.11.100")`` describes a dongle by
    hand (for :class:`Routing` or an egress without discovery)."""

    def __init__(self, id: int, interface: Optional[str] = None, host_address: Optional[str] = None):
        self._ptr = _loop.wrap(lib.pk_dongle_new(id, b(interface), b(host_address)))

    @classmethod
    def _wrap(cls, owned) -> 'Dongle':
        self = cls.__new__(cls)
        self._ptr = owned
        return self

    def _get(self, fn):
        return _in_loop(fn, self._ptr)

    @property
    def id(self) -> int:
        """N, or 0 while it is not known (a mass-storage dongle)."""
        return self._get(lib.pk_dongle_get_id)

    @property
    def mode(self) -> str:
        """``"hilink"``, ``"mass-storage"`` or ``"unknown"``."""
        return string(lib.pk_dongle_mode_to_string(self._get(lib.pk_dongle_get_mode)))

    @property
    def ready(self) -> bool:
        """HiLink mode with a number, an interface and a host address."""
        return bool(self._get(lib.pk_dongle_is_ready))

    @property
    def interface(self) -> Optional[str]:
        """The network interface (``enx<mac>``), or ``None`` in mass-storage mode."""
        return _loop.run(lambda: string(lib.pk_dongle_get_interface(self._ptr)))

    @property
    def host_address(self) -> Optional[str]:
        """The host's address on the dongle's subnet (``192.168.N.100``), or ``None``."""
        return _loop.run(lambda: string(lib.pk_dongle_get_host_address(self._ptr)))

    @property
    def gateway(self) -> Optional[str]:
        """The dongle's own address (``192.168.N.1``), or ``None``."""
        return _loop.run(lambda: string(lib.pk_dongle_get_gateway(self._ptr)))

    @property
    def api_url(self) -> Optional[str]:
        """The dongle's web API (``http://192.168.N.1``), or ``None``."""
        return take_string(self._get(lib.pk_dongle_dup_api_url))

    @property
    def mac_address(self) -> Optional[str]:
        """The interface's MAC address, or ``None``."""
        return _loop.run(lambda: string(lib.pk_dongle_get_mac_address(self._ptr)))

    @property
    def usb_path(self) -> Optional[str]:
        """``"1-1.3"``: port 3 of hub ``1-1``."""
        return _loop.run(lambda: string(lib.pk_dongle_get_usb_path(self._ptr)))

    @property
    def sysfs_path(self) -> Optional[str]:
        """The USB device's sysfs path, or ``None`` for a dongle made by hand."""
        return _loop.run(lambda: string(lib.pk_dongle_get_sysfs_path(self._ptr)))

    @property
    def hub_path(self) -> Optional[str]:
        """The hub it is plugged into (``1-1``), or ``None``."""
        return _loop.run(lambda: string(lib.pk_dongle_get_hub_path(self._ptr)))

    @property
    def hub_port(self) -> int:
        """The hub port it is plugged into (1-based), or 0."""
        return self._get(lib.pk_dongle_get_hub_port)

    @property
    def usb_id(self) -> Optional[str]:
        """``"12d1:14db"``, or ``None`` for a dongle made by hand."""
        return take_string(self._get(lib.pk_dongle_dup_usb_id))

    @property
    def serial(self) -> Optional[str]:
        """The USB serial number, or ``None``."""
        return _loop.run(lambda: string(lib.pk_dongle_get_serial(self._ptr)))

    def egress(self) -> Optional[Egress]:
        """The way out through this dongle (its host address, its
        interface, names resolved by the dongle), or ``None`` if it is not
        ready."""
        ptr = self._get(lib.pk_dongle_dup_egress)
        if ptr == ffi.NULL:
            return None
        egress = Egress._from_ptr(ptr)
        lib.g_object_unref(ptr)
        return egress

    def to_dict(self) -> Dict[str, object]:
        """What ``pk-toggle --discover --json`` prints for it."""
        return json.loads(take_string(self._get(lib.pk_dongle_to_json)))

    def __eq__(self, other) -> bool:
        return isinstance(other, Dongle) and ffi.cast('void *', self._ptr) == ffi.cast('void *', other._ptr)

    def __hash__(self) -> int:
        return hash(int(ffi.cast('uintptr_t', self._ptr)))

    def __repr__(self) -> str:
        return f'<proxykit.Dongle {self.id} {self.mode} {self.usb_path or self.interface}>'


def _ids(ids: Optional[Iterable[int]]):
    """Dongle numbers as a ``guint[]`` and its length (0: every dongle)."""
    numbers = [int(i) for i in (ids or ())]
    for n in numbers:
        if not 1 <= n <= 255:
            raise errors.InvalidArgument(f'{n!r} is not a dongle number (1-255)',
                                         errors.PK_ERROR_DOMAIN, lib.PK_ERROR_INVALID_ARGUMENT)
    return (ffi.new('guint[]', numbers) if numbers else ffi.NULL), len(numbers)


def _take_dongles(array) -> List[Dongle]:
    out = [Dongle._wrap(_loop.wrap(lib.g_object_ref(array.pdata[i]))) for i in range(array.len)]
    lib.g_ptr_array_unref(array)
    return out


class UsbMapEntry:
    """Where dongle N was last seen on USB (a row of :class:`UsbMap`)."""

    def __init__(self, id: int, hub_path: str, hub_port: int):
        self._ptr = _loop.wrap(lib.pk_usb_map_entry_new(id, hub_path.encode(), hub_port))

    @classmethod
    def _borrow(cls, ptr) -> Optional['UsbMapEntry']:
        if ptr == ffi.NULL:
            return None
        self = cls.__new__(cls)
        self._ptr = _loop.wrap(lib.g_object_ref(ptr))
        return self

    @property
    def id(self):
        """The dongle's number N."""
        return lib.pk_usb_map_entry_get_id(self._ptr)

    @property
    def hub_path(self):
        """The hub (``1-1``)."""
        return string(lib.pk_usb_map_entry_get_hub_path(self._ptr))

    @property
    def hub_port(self):
        """The port on the hub."""
        return lib.pk_usb_map_entry_get_hub_port(self._ptr)

    @property
    def usb_path(self):
        """The USB path (``1-1.3``)."""
        return string(lib.pk_usb_map_entry_get_usb_path(self._ptr))

    @property
    def serial(self):
        """The USB serial number, or ``None``."""
        return string(lib.pk_usb_map_entry_get_serial(self._ptr))

    @property
    def mac_address(self):
        """The MAC address of its interface, or ``None``."""
        return string(lib.pk_usb_map_entry_get_mac_address(self._ptr))

    @property
    def interface(self):
        """Its interface, or ``None``."""
        return string(lib.pk_usb_map_entry_get_interface(self._ptr))

    @property
    def usb_id(self):
        """``vendor:product``, or ``None``."""
        return string(lib.pk_usb_map_entry_get_usb_id(self._ptr))

    @property
    def last_seen(self):
        """Unix time the dongle was last seen there."""
        return lib.pk_usb_map_entry_get_last_seen(self._ptr)

    @property
    def port_sysfs_path(self) -> str:
        """The hub port's directory in sysfs (where its power is switched)."""
        return take_string(lib.pk_usb_map_entry_dup_port_sysfs_path(self._ptr))

    @property
    def power(self) -> bool:
        """Whether the hub port has power, from its sysfs ``disable``
        attribute (Linux 6.0 and later) or, where the port has none, from a
        hub-class GET_STATUS request (known whether or not the dongle is
        plugged in). Raises :class:`NotSupported` when neither works."""
        on = ffi.new('gboolean *')
        _loop.run(lambda: errors.call(lib.pk_usb_map_entry_get_power, self._ptr, on))
        return bool(on[0])

    def set_power(self, on: bool) -> None:
        """Switches the hub port on or off (root only): its ``disable``
        attribute, or a SET/CLEAR_FEATURE(PORT_POWER) request to the hub
        where the port has none. :class:`PortPower` does it under the
        dongle's lock."""
        _loop.run(lambda: errors.call(lib.pk_usb_map_entry_set_power, self._ptr, bool(on)))

    def __repr__(self) -> str:
        return f'<proxykit.UsbMapEntry {self.id} hub {self.hub_path} port {self.hub_port}>'


class UsbMap:
    """Dongle N <-> hub and port, with serial and interface, kept in the
    state directory (``host/usb-map.json``, written atomically).

    Args:
        store: a :class:`StateStore` or the state directory."""

    def __init__(self, store):
        if not isinstance(store, StateStore):
            store = StateStore(store)
        self._store = store
        self._ptr = _loop.wrap(lib.pk_usb_map_new(store._ptr))

    @classmethod
    def _borrow(cls, ptr) -> 'UsbMap':
        self = cls.__new__(cls)
        self._ptr = _loop.wrap(lib.g_object_ref(ptr))
        self._store = None
        return self

    def load(self) -> None:
        """Reads the map again (a missing file is an empty map)."""
        _loop.run(lambda: errors.call(lib.pk_usb_map_load, self._ptr))

    def record(self, dongles: List[Dongle]) -> None:
        """Records where these dongles are now (a discovery does this)."""
        ptrs = ffi.new('PkDongle *[]', [ffi.cast('PkDongle *', d._ptr) for d in dongles])
        _loop.run(lambda: errors.call(lib.pk_usb_map_record, self._ptr, ptrs, len(dongles)))

    def import_seed(self, path: str | os.PathLike) -> None:
        """Takes the older tools' ``usb_mapping.json`` or ``dongle_config.json``."""
        _loop.run(lambda: errors.call(lib.pk_usb_map_import_seed, self._ptr, os.fsencode(path)))

    def remove(self, id: int) -> None:
        """Forgets dongle ``id``."""
        _loop.run(lambda: errors.call(lib.pk_usb_map_remove, self._ptr, id))

    def lookup(self, id: int = 0, *, usb_path: Optional[str] = None,
               mac_address: Optional[str] = None) -> Optional[UsbMapEntry]:
        """The entry of dongle ``id``, or the one at ``usb_path`` or with
        ``mac_address``; ``None`` if there is none."""
        if usb_path is not None:
            fn = lambda: lib.pk_usb_map_lookup_by_usb_path(self._ptr, usb_path.encode())  # noqa: E731
        elif mac_address is not None:
            fn = lambda: lib.pk_usb_map_lookup_by_mac_address(self._ptr, mac_address.encode())  # noqa: E731
        else:
            fn = lambda: lib.pk_usb_map_lookup(self._ptr, id)  # noqa: E731
        return _loop.run(lambda: UsbMapEntry._borrow(fn()))

    def entries(self) -> List[UsbMapEntry]:
        """Every :class:`UsbMapEntry`, by dongle number."""
        def read():
            array = lib.pk_usb_map_list(self._ptr)
            out = [UsbMapEntry._borrow(array.pdata[i]) for i in range(array.len)]
            lib.g_ptr_array_unref(array)
            return out
        return _loop.run(read)

    def to_dict(self) -> Dict[str, object]:
        """The map as it is stored (``{"version": 1, "dongles": {...}}``)."""
        return json.loads(take_string(_in_loop(lib.pk_usb_map_to_json, self._ptr)))


class DongleMonitor:
    """The dongles on this host's USB (``PkDongleMonitor``, through
    libgudev): HiLink dongles by their network interface, mass-storage ones
    by their USB id. :meth:`scan` looks once; :meth:`start` follows
    uevents and address changes, calling the ``on_added``,
    ``on_removed`` and ``on_changed`` handlers with a :class:`Dongle`.

    >>> with DongleMonitor(Config("/etc/proxykit/proxykit.conf")) as mon:
    ...     for d in mon.dongles():
    ...         print(d.id, d.hub_path, d.hub_port, d.mode)

    Args:
        config: a :class:`Config` (``[dongle:N]`` sections name dongles;
            ``[dongles] modeswitch``, ``state-dir`` for the USB map).
        usb_map: a :class:`UsbMap` to record discoveries in.
        modeswitch: switch mass-storage dongles with ``usb_modeswitch``.
        modeswitch_program: the ``usb_modeswitch`` to run."""

    def __init__(self, config: Optional[Config] = None, *, usb_map: Optional[UsbMap] = None,
                 modeswitch: Optional[bool] = None, modeswitch_program: Optional[str] = None,
                 on_added: Optional[Callable[[Dongle], None]] = None,
                 on_removed: Optional[Callable[[Dongle], None]] = None,
                 on_changed: Optional[Callable[[Dongle], None]] = None):
        if config is not None:
            self._ptr = _loop.wrap(errors.call(lib.pk_dongle_monitor_new_from_config, config._ptr))
        else:
            self._ptr = _loop.wrap(lib.pk_dongle_monitor_new())
        self._config = config
        self._connections: List[_loop.SignalConnection] = []
        if usb_map is not None:
            _loop.run(lambda: lib.pk_dongle_monitor_set_usb_map(self._ptr, usb_map._ptr))
        if modeswitch is not None:
            _loop.run(lambda: lib.pk_dongle_monitor_set_modeswitch(self._ptr, bool(modeswitch)))
        if modeswitch_program is not None:
            lib.pk_dongle_monitor_set_modeswitch_program(self._ptr, modeswitch_program.encode())
        for signal, handler in (('dongle-added', on_added), ('dongle-removed', on_removed),
                                ('dongle-changed', on_changed)):
            if handler is not None:
                self.connect(signal, handler)

    def connect(self, signal: str, handler: Callable[[Dongle], None]) -> _loop.SignalConnection:
        """Connects ``handler(dongle)`` to ``dongle-added``,
        ``dongle-removed`` or ``dongle-changed``; it runs on the package's
        callbacks thread."""
        conn = _loop.connect_signal(self._ptr, signal, lambda ptr: handler(Dongle._wrap(ptr)))
        self._connections.append(conn)
        return conn

    @property
    def usb_map(self) -> Optional[UsbMap]:
        """The :class:`UsbMap` discoveries are recorded in, or ``None``."""
        ptr = _in_loop(lib.pk_dongle_monitor_get_usb_map, self._ptr)
        return None if ptr == ffi.NULL else UsbMap._borrow(ptr)

    @property
    def modeswitch(self) -> bool:
        """Whether mass-storage dongles are switched with ``usb_modeswitch``."""
        return bool(_in_loop(lib.pk_dongle_monitor_get_modeswitch, self._ptr))

    def scan(self) -> List[Dongle]:
        """Looks at udev and the interfaces now; returns the dongles."""
        _in_loop(lib.pk_dongle_monitor_scan, self._ptr)
        return self.dongles()

    def start(self) -> 'DongleMonitor':
        """Scans, then follows uevents and address changes."""
        _loop.run(lambda: errors.call(lib.pk_dongle_monitor_start, self._ptr))
        return self

    def stop(self) -> None:
        """Stops following uevents; the dongles stay listed as they were."""
        _in_loop(lib.pk_dongle_monitor_stop, self._ptr)

    def __enter__(self) -> 'DongleMonitor':
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        for conn in self._connections:
            conn.disconnect()
        self._connections.clear()

    def dongles(self) -> List[Dongle]:
        """The dongles, by number (unnumbered ones last)."""
        return _loop.run(lambda: _take_dongles(lib.pk_dongle_monitor_list_dongles(self._ptr)))

    def get(self, id: int) -> Optional[Dongle]:
        """The dongle numbered ``id``, or ``None``."""
        def find():
            ptr = lib.pk_dongle_monitor_get_dongle(self._ptr, id)
            return None if ptr == ffi.NULL else Dongle._wrap(_loop.wrap(lib.g_object_ref(ptr)))
        return _loop.run(find)

    def to_list(self) -> List[Dict[str, object]]:
        """What ``pk-toggle --discover --json`` prints."""
        return json.loads(take_string(_in_loop(lib.pk_dongle_monitor_to_json, self._ptr)))

    def modeswitch_dongle(self, dongle: Dongle, timeout: Optional[float] = 60.0) -> None:
        """Runs ``usb_modeswitch`` with the E8372h message for a
        mass-storage dongle (:class:`Failed` if it is not one, or the
        program fails)."""
        def start(cancellable, callback, data):
            lib.pk_dongle_monitor_modeswitch_async(self._ptr, dongle._ptr, cancellable, callback, data)

        def finish(source, result):
            errors.call(lib.pk_dongle_monitor_modeswitch_finish, self._ptr, result)

        _loop.call_async(start, finish, timeout, f'usb_modeswitch for USB {dongle.usb_path}')

    def discover(self, import_maps: Iterable[str | os.PathLike] = ()) -> List[Dongle]:
        """What ``pk-toggle --discover`` does: takes the older tools'
        ``usb_mapping.json`` or ``dongle_config.json`` files into the USB
        map, scans (recording what it finds in the map) and returns the
        dongles."""
        paths = [ffi.new('char[]', os.fsencode(p)) for p in import_maps]
        seeds = ffi.new('char *[]', paths + [ffi.NULL])
        return _loop.run(lambda: _take_dongles(errors.call(lib.pk_dongle_monitor_discover, self._ptr, seeds)))

    def usb_map_entries(self, ids: Optional[Iterable[int]] = None) -> List[UsbMapEntry]:
        """The :class:`UsbMapEntry` of each dongle of ``ids``, in that
        order, or of every dongle the USB map knows; :class:`Failed` names
        a dongle that is not in the map."""
        numbers, n_ids = _ids(ids)

        def read():
            array = errors.call(lib.pk_dongle_monitor_lookup_usb_map_entries, self._ptr, numbers, n_ids)
            out = [UsbMapEntry._borrow(array.pdata[i]) for i in range(array.len)]
            lib.g_ptr_array_unref(array)
            return out
        return _loop.run(read)

    def power_status(self, ids: Optional[Iterable[int]] = None) -> List[Dict[str, object]]:
        """What ``pk-toggle --power-status --json`` prints: for each
        dongle of ``ids`` (or of the USB map) its ``hub``, ``port``,
        ``present`` (on USB at the last :meth:`scan`) and ``power``
        (``"on"``, ``"off"`` or ``"unknown"``, then with ``error``)."""
        numbers, n_ids = _ids(ids)
        return json.loads(take_string(_loop.run(
            lambda: errors.call(lib.pk_dongle_monitor_power_to_json, self._ptr, numbers, n_ids))))

    def power(self, action: str, ids: Optional[Iterable[int]] = None, *, state_dir: Optional[str] = None,
              off: float = 5.0, timeout: Optional[float] = 60.0) -> Dict[int, Optional[errors.Error]]:
        """What ``pk-toggle --power ACTION`` does: switches the hub ports of
        the dongles ``ids`` (or of every dongle of the USB map) all at
        once, each under its dongle's lock in ``state_dir``. Returns each
        dongle's outcome, ``None`` or the error (:class:`Busy` while a
        toggle of it runs); raises nothing for those, so check them."""
        powers = [PortPower(e, state_dir=state_dir, off=off) for e in self.usb_map_entries(ids)]
        try:
            PortPower.run_all(powers, action, timeout)
        except errors.Error as e:
            if not any(p.error is not None for p in powers):
                raise e
        return {p.entry.id: p.error for p in powers}

    def repair_routing(self, ids: Optional[Iterable[int]] = None, *, backend: str = 'auto',
                       timeout: Optional[float] = 60.0) -> List['RoutingDiagnosis']:
        """What ``pk-toggle --routing`` does: diagnoses and repairs the
        routing of the dongles ``ids`` (found by the last :meth:`scan`), or
        of every numbered HiLink dongle, all at once. Returns a
        :class:`RoutingDiagnosis` for each, in order; one that could not be
        repaired has its :attr:`~RoutingDiagnosis.error`. Raises
        :class:`Failed` at once for a dongle that is not on USB or has no
        number."""
        numbers, n_ids = _ids(ids)
        value = _backend_value(backend)

        def start(cancellable, callback, data):
            lib.pk_dongle_monitor_repair_routing_async(self._ptr, numbers, n_ids, value, cancellable,
                                                       callback, data)

        def finish(source, result):
            array = errors.call(lib.pk_dongle_monitor_repair_routing_finish, self._ptr, result)
            out = [RoutingDiagnosis(lib.g_object_ref(array.pdata[i])) for i in range(array.len)]
            lib.g_ptr_array_unref(array)
            return out

        return _loop.call_async(start, finish, timeout, 'routing repair')


class RoutingDiagnosis:
    """What :meth:`Routing.diagnose` or :meth:`Routing.repair` found
    (``PkRoutingDiagnosis``): :attr:`healthy`, :attr:`problems` and
    :attr:`actions` in words, and every field in :meth:`to_dict`."""

    def __init__(self, ptr):
        self._ptr = _loop.wrap(ptr)
        self._dict = json.loads(take_string(lib.pk_routing_diagnosis_to_json(self._ptr)))
        self._text = take_string(lib.pk_routing_diagnosis_to_string(self._ptr))

    @property
    def healthy(self) -> bool:
        """Whether the table, the rule and the metric are all as they should be."""
        return bool(self._dict['healthy'])

    @property
    def problems(self) -> List[str]:
        """What is wrong, in words (empty when healthy)."""
        return list(self._dict['problems'])

    @property
    def actions(self) -> List[str]:
        """What a repair changed."""
        return list(self._dict['actions'])

    @property
    def backend(self) -> Optional[str]:
        """``"rtnetlink"`` or ``"networkmanager"``: what was read and
        changed (``None`` when the diagnosis could not be made)."""
        return self._dict.get('backend')

    @property
    def error(self) -> Optional[errors.Error]:
        """Why the dongle could not be diagnosed or repaired (a dongle
        :meth:`DongleMonitor.repair_routing` could not reach), else ``None``."""
        gerror = lib.pk_routing_diagnosis_get_error(self._ptr)
        return None if gerror == ffi.NULL else errors.take_gerror(lib.g_error_copy(gerror))

    def to_dict(self) -> Dict[str, object]:
        """Every field: table, rule, metrics, main interface, NetworkManager profile..."""
        return dict(self._dict)

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f'<proxykit.RoutingDiagnosis dongle {self._dict.get("dongle")} ' \
               f'{"healthy" if self.healthy else "unhealthy"}>'


class Routing:
    """One dongle's policy routing (``PkRouting``): table N with ``default
    via 192.168.N.1``, the rule ``from 192.168.N.100 lookup N``, and a
    default route in the main table whose metric (200+N) stays above the
    host's own. Through NetworkManager where it manages the interface,
    rtnetlink elsewhere (``backend``)."""

    def __init__(self, dongle: Dongle, *, table: Optional[int] = None, metric: Optional[int] = None,
                 rule_priority: Optional[int] = None, backend: str = 'auto'):
        self.dongle = dongle
        self._ptr = _loop.wrap(lib.pk_routing_new(dongle._ptr))
        lib.pk_routing_set_backend(self._ptr, _backend_value(backend))
        if table is not None:
            lib.pk_routing_set_table(self._ptr, table)
        if metric is not None:
            lib.pk_routing_set_metric(self._ptr, metric)
        if rule_priority is not None:
            lib.pk_routing_set_rule_priority(self._ptr, rule_priority)

    @property
    def table(self):
        """The routing table (N unless told otherwise)."""
        return lib.pk_routing_get_table(self._ptr)

    @property
    def metric(self):
        """The metric of the dongle's default route in the main table (200+N)."""
        return lib.pk_routing_get_metric(self._ptr)

    @property
    def rule_priority(self):
        """The priority of the rule ``from 192.168.N.100 lookup N`` (1000+N)."""
        return lib.pk_routing_get_rule_priority(self._ptr)

    @property
    def backend(self):
        """``"auto"``, ``"rtnetlink"`` or ``"networkmanager"``."""
        return string(lib.pk_routing_backend_to_string( lib.pk_routing_get_backend(self._ptr)))

    def _run(self, start_fn, finish_fn, what, timeout):
        def start(cancellable, callback, data):
            start_fn(self._ptr, cancellable, callback, data)

        def finish(source, result):
            return RoutingDiagnosis(errors.call(finish_fn, self._ptr, result))

        return _loop.call_async(start, finish, timeout, f'dongle {self.dongle.id} routing: {what}')

    def diagnose(self, timeout: Optional[float] = 30.0) -> RoutingDiagnosis:
        """Reads the routing and says what is wrong; changes nothing."""
        return self._run(lib.pk_routing_diagnose_async, lib.pk_routing_diagnose_finish, 'diagnose', timeout)

    def repair(self, timeout: Optional[float] = 30.0) -> RoutingDiagnosis:
        """Sets up what is missing and corrects what is wrong; the
        diagnosis after it lists the :attr:`~RoutingDiagnosis.actions`."""
        return self._run(lib.pk_routing_repair_async, lib.pk_routing_repair_finish, 'repair', timeout)


class DongleFarm(Service):
    """A SOCKS5 listener per dongle (``PkDongleFarm``), on port
    ``port_base + N``, leaving through that dongle: it starts when the
    dongle appears and is ready and stops when it goes, without touching
    the others. ``[dongles]`` and ``[dongle:N]`` in ``config`` set ports,
    users, allowlists, TTL and routing.

    >>> with DongleFarm(Config("/etc/proxykit/proxykit.conf")) as farm:
    ...     farm.serve_forever()

    Args:
        config: a :class:`Config`, or
        monitor: a :class:`DongleMonitor` to follow (without config).
        port_base, listen_address: override the config.
        routing: ``False`` to leave routing alone, or a backend name.
        drain_timeout: seconds live sessions get when it stops."""

    drain_timeout: float = 5.0

    def __init__(self, config: Optional[Config] = None, *, monitor: Optional[DongleMonitor] = None,
                 port_base: Optional[int] = None, listen_address: Optional[str] = None,
                 routing=None, state_store: Optional[StateStore] = None,
                 on_listener_started: Optional[Callable[[Dongle, int], None]] = None,
                 on_listener_stopped: Optional[Callable[[int], None]] = None):
        if (config is None) == (monitor is None):
            raise TypeError('DongleFarm takes either config or monitor')
        if config is not None:
            self._ptr = _loop.wrap(errors.call(lib.pk_dongle_farm_new_from_config, config._ptr))
        else:
            self._ptr = _loop.wrap(lib.pk_dongle_farm_new(monitor._ptr))
        self._keep = (config, monitor, state_store)
        self._connections: List[_loop.SignalConnection] = []
        self._serving = False
        if port_base is not None:
            lib.pk_dongle_farm_set_port_base(self._ptr, port_base)
        if listen_address is not None:
            errors.call(lib.pk_dongle_farm_set_listen_address, self._ptr, listen_address.encode())
        if routing is not None:
            if routing is False:
                lib.pk_dongle_farm_set_routing(self._ptr, False, lib.PK_ROUTING_BACKEND_AUTO)
            else:
                lib.pk_dongle_farm_set_routing(self._ptr, True,
                                               _backend_value('auto' if routing is True else routing))
        if state_store is not None:
            lib.pk_dongle_farm_set_state_store(self._ptr, state_store._ptr)
        if on_listener_started is not None:
            self.connect('listener-started',
                         lambda dongle, server: on_listener_started(Dongle._wrap(dongle),
                                                                    lib.pk_socks_server_get_port(server)))
        if on_listener_stopped is not None:
            self.connect('listener-stopped', on_listener_stopped)

    @staticmethod
    def config_enabled(config: Config) -> bool:
        """``[dongles] auto = true`` in ``config``."""
        return bool(errors.call(lib.pk_dongle_farm_config_enabled, config._ptr))

    def connect(self, signal: str, handler: Callable) -> _loop.SignalConnection:
        """Connects a handler to ``listener-started`` (dongle, server
        pointers) or ``listener-stopped`` (the dongle's number)."""
        conn = _loop.connect_signal(self._ptr, signal, handler)
        self._connections.append(conn)
        return conn

    @property
    def monitor(self) -> DongleMonitor:
        """The :class:`DongleMonitor` the farm follows."""
        mon = DongleMonitor.__new__(DongleMonitor)
        mon._ptr = _loop.wrap(lib.g_object_ref(lib.pk_dongle_farm_get_monitor(self._ptr)))
        mon._config = None
        mon._connections = []
        return mon

    @property
    def port_base(self):
        """Dongle N listens on ``port_base + N`` (unless ``[dongle:N]`` says otherwise)."""
        return lib.pk_dongle_farm_get_port_base(self._ptr)

    @property
    def listen_address(self):
        """The address every dongle listener binds to."""
        return string(lib.pk_dongle_farm_get_listen_address(self._ptr))

    @property
    def serving(self) -> bool:
        """Whether :meth:`start` ran and :meth:`stop` did not yet."""
        return self._serving

    def start(self) -> 'DongleFarm':
        """Starts the monitor and a listener for every ready dongle."""
        _loop.run(lambda: errors.call(lib.pk_dongle_farm_start, self._ptr))
        self._serving = True
        return self

    def stop(self, drain_timeout: Optional[float] = None, timeout: Optional[float] = None) -> None:
        """Stops following the dongles and stops every listener, letting
        live sessions finish for up to ``drain_timeout`` seconds."""
        if not self._serving:
            return
        self._serving = False
        drain = self.drain_timeout if drain_timeout is None else drain_timeout

        try:
            _loop.drain_stop(self._ptr, lib.pk_dongle_farm_stop_async, lib.pk_dongle_farm_stop_finish,
                             drain, timeout, 'stopping the dongle farm')
        finally:
            for conn in self._connections:
                conn.disconnect()
            self._connections.clear()

    def close(self) -> None:
        """Closes every listener and session now."""
        self._serving = False
        _in_loop(lib.pk_dongle_farm_close, self._ptr)

    @property
    def n_listeners(self) -> int:
        """How many dongles have a listener now."""
        return _in_loop(lib.pk_dongle_farm_get_n_listeners, self._ptr)

    def port(self, id: int) -> Optional[int]:
        """The port dongle ``id``'s listener is bound to, or ``None``."""
        def read():
            server = lib.pk_dongle_farm_get_server(self._ptr, id)
            return None if server == ffi.NULL else lib.pk_socks_server_get_port(server)
        return _loop.run(read)

    def to_dict(self) -> Dict[str, object]:
        """The listeners by dongle: port, egress and state."""
        return json.loads(take_string(_in_loop(lib.pk_dongle_farm_to_json, self._ptr)))

    def prometheus(self) -> str:
        """The counters and latency histograms of every dongle's listener in
        the Prometheus text format, labelled ``listener="dongle-N"`` (what
        pk-socks' ``/metrics`` serves for them)."""
        def read():
            array = lib.pk_dongle_farm_dup_servers(self._ptr)
            try:
                servers = ffi.cast('PkSocksServer **', array.pdata)
                return take_string(lib.pk_socks_server_dup_prometheus(servers, array.len))
            finally:
                lib.g_ptr_array_unref(array)
        return _loop.run(read)


# --- the toggle ladder's rungs past the modem ---

LADDER_STAGES = ('routing', 'modem', 'usb', 'power', 'hub')
"""The rungs of the toggle ladder, lowest first (``pk_toggle_ladder_get_stages()``)."""


class RoutingStep:
    """The ``routing`` rung of a :class:`Toggle`: repairs the dongle's
    :class:`Routing` (``PkToggleRoutingStep``)."""

    name = 'routing'

    def __init__(self, routing: Routing):
        self.routing = routing
        self._step_ptr = _loop.wrap(lib.pk_toggle_routing_step_new(routing._ptr))


class UsbStep:
    """The ``usb`` rung: ``authorized`` 0, then 1, on the dongle's USB
    device, then up to ``wait`` seconds for its interface and address
    (``PkToggleUsbStep``)."""

    name = 'usb'

    def __init__(self, dongle: Dongle, *, off: float = 1.0, wait: float = 15.0):
        self.dongle = dongle
        self._step_ptr = _loop.wrap(lib.pk_toggle_usb_step_new(dongle._ptr))
        lib.pk_toggle_usb_step_set_timing(self._step_ptr, ms(off), ms(wait))


class PowerStep:
    """The ``power`` rung (the dongle's hub port) or, with
    ``whole_hub=True``, the ``hub`` rung (every port of its hub): off for
    ``off`` seconds, on, then up to ``wait`` seconds for the interface and
    its address (``PkTogglePowerStep``)."""

    def __init__(self, dongle: Dongle, *, whole_hub: bool = False, off: float = 5.0, wait: float = 60.0):
        self.dongle = dongle
        self.name = 'hub' if whole_hub else 'power'
        self._step_ptr = _loop.wrap(lib.pk_toggle_power_step_new(dongle._ptr, bool(whole_hub)))
        lib.pk_toggle_power_step_set_timing(self._step_ptr, ms(off), ms(wait))


class DongleWatch(Service):
    """Every dongle under a watchdog (``PkDongleWatch``), as
    ``pk-watchdog --dongles`` runs it: the ladder's diagnosis every
    ``interval`` seconds, a failure confirmed after ``fall`` failed checks
    in a row, then the recovery ladder (routing, modem, USB rebind, port
    power, hub) within the host's limit on recoveries at once and the
    recovery cooldown. The state store records ``dongle-N`` as
    ``online``, ``ping_failed`` or ``recovering``.

    >>> with DongleWatch(Config("/etc/proxykit/proxykit.conf")) as watch:
    ...     watch.serve_forever()

    Args:
        config: a :class:`Config` (``[watchdog]``, ``[toggle]``,
            ``[dongles]``), or
        monitor: a :class:`DongleMonitor` and state_store: a
            :class:`StateStore` (built-in settings).
        interval, retry_delay, timeout: seconds; fall: failed checks that
            confirm a failure; cooldown: seconds between two recoveries of
            a dongle; max_recoveries: recoveries at once on the host.
        on_recovery_started: called with (N, reason);
        on_recovery_finished: called with (N, success, detail)."""

    def __init__(self, config: Optional[Config] = None, *, monitor: Optional[DongleMonitor] = None,
                 state_store: Optional[StateStore] = None, interval: Optional[float] = None,
                 retry_delay: Optional[float] = None, timeout: Optional[float] = None,
                 fall: Optional[int] = None, cooldown: Optional[float] = None,
                 max_recoveries: Optional[int] = None,
                 on_recovery_started: Optional[Callable[[int, str], None]] = None,
                 on_recovery_finished: Optional[Callable[[int, bool, str], None]] = None):
        if config is not None:
            if monitor is not None:
                raise TypeError('DongleWatch takes either config or monitor')
            self._ptr = _loop.wrap(errors.call(lib.pk_dongle_watch_new_from_config, config._ptr))
            if state_store is not None:
                lib.pk_dongle_watch_set_state_store(self._ptr, state_store._ptr)
        else:
            if monitor is None or state_store is None:
                raise TypeError('DongleWatch takes config, or monitor and state_store')
            self._ptr = _loop.wrap(lib.pk_dongle_watch_new(monitor._ptr, state_store._ptr))
        self._keep = (config, monitor, state_store)
        self._connections: List[_loop.SignalConnection] = []
        self._serving = False
        if interval is not None:
            lib.pk_dongle_watch_set_interval_ms(self._ptr, ms(interval))
        if retry_delay is not None:
            lib.pk_dongle_watch_set_retry_delay_ms(self._ptr, ms(retry_delay))
        if timeout is not None:
            lib.pk_dongle_watch_set_timeout_ms(self._ptr, ms(timeout))
        if fall is not None:
            lib.pk_dongle_watch_set_fall(self._ptr, fall)
        ladder = lib.pk_dongle_watch_get_ladder_settings(self._ptr)
        if cooldown is not None:
            lib.pk_toggle_ladder_settings_set_recovery_cooldown(ladder, ms(cooldown))
        if max_recoveries is not None:
            lib.pk_toggle_ladder_settings_set_max_recoveries(ladder, max_recoveries)
        if on_recovery_started is not None:
            self.connect('recovery-started', lambda n, reason: on_recovery_started(n, string(reason)))
        if on_recovery_finished is not None:
            self.connect('recovery-finished',
                         lambda n, ok, detail: on_recovery_finished(n, bool(ok), string(detail)))

    @staticmethod
    def config_enabled(config: Config) -> bool:
        """``[watchdog] dongles = true`` in ``config``."""
        return bool(errors.call(lib.pk_dongle_watch_config_enabled, config._ptr))

    def connect(self, signal: str, handler: Callable) -> _loop.SignalConnection:
        """Connects a handler to ``recovery-started`` (N, reason) or
        ``recovery-finished`` (N, success, detail); strings arrive as
        ``char *``."""
        conn = _loop.connect_signal(self._ptr, signal, handler)
        self._connections.append(conn)
        return conn

    @property
    def serving(self) -> bool:
        """Whether :meth:`start` ran and :meth:`stop` did not yet."""
        return self._serving

    def start(self) -> 'DongleWatch':
        """Starts the monitor and watches every dongle it finds."""
        _loop.run(lambda: errors.call(lib.pk_dongle_watch_start, self._ptr))
        self._serving = True
        return self

    def stop(self) -> None:
        """Stops the checks and cancels the recoveries that run."""
        if not self._serving:
            return
        self._serving = False
        _in_loop(lib.pk_dongle_watch_stop, self._ptr)
        for conn in self._connections:
            conn.disconnect()
        self._connections.clear()

    @property
    def interval(self) -> float:
        """Seconds between a dongle's checks."""
        return lib.pk_dongle_watch_get_interval_ms(self._ptr) / 1000.0

    @property
    def fall(self) -> int:
        """Failed checks in a row that confirm a failure."""
        return lib.pk_dongle_watch_get_fall(self._ptr)

    @property
    def cooldown(self) -> float:
        """Seconds between two recoveries of a dongle."""
        ladder = lib.pk_dongle_watch_get_ladder_settings(self._ptr)
        return lib.pk_toggle_ladder_settings_get_recovery_cooldown(ladder) / 1000.0

    @property
    def max_recoveries(self) -> int:
        """Recoveries at once on the host (0: no limit)."""
        ladder = lib.pk_dongle_watch_get_ladder_settings(self._ptr)
        return lib.pk_toggle_ladder_settings_get_max_recoveries(ladder)

    @property
    def n_dongles(self) -> int:
        """How many dongles are watched."""
        return _in_loop(lib.pk_dongle_watch_get_n_dongles, self._ptr)

    @property
    def n_failing(self) -> int:
        """How many dongles have a confirmed failure."""
        return _in_loop(lib.pk_dongle_watch_get_n_failing, self._ptr)

    @property
    def n_recovering(self) -> int:
        """How many recoveries run now."""
        return _in_loop(lib.pk_dongle_watch_get_n_recovering, self._ptr)

    def set_controller_reset(self, reset: Optional['UsbControllerReset']) -> None:
        """Lets the watch reset the dongles' USB controller when most of
        them fail at once (:class:`UsbControllerReset`; a watch from a
        config has one from ``[watchdog]``), or not (``None``)."""
        self._controller_reset = reset
        _in_loop(lib.pk_dongle_watch_set_controller_reset, self._ptr,
                 reset._ptr if reset is not None else ffi.NULL)

    @property
    def controller_reset_allowed(self) -> bool:
        """Whether a controller reset may happen (set and allowed)."""
        def read():
            reset = lib.pk_dongle_watch_get_controller_reset(self._ptr)
            return reset != ffi.NULL and bool(lib.pk_usb_controller_reset_get_allowed(reset))
        return _loop.run(read)


# --- hub port power under the dongle's lock, the USB controller reset ---

POWER_ACTIONS = ('on', 'off', 'cycle')


def _power_action(action: str) -> int:
    return _enum_value(lib.pk_port_power_action_from_string, 'PkPortPowerAction', action, 'power action',
                       'on, off or cycle')


class PortPower:
    """Switches the hub port of one dongle of the :class:`UsbMap` on, off,
    or cycles it (off, ``off`` seconds, on), as ``pk-toggle --power`` does
    (``PkPortPower``). With ``state_dir`` (the toggles' lock directory) it
    holds the dongle's lock, ``toggle-N.lock``, for the whole switch, and
    raises :class:`Busy` at once while a toggle or recovery holds it.

    >>> PortPower(usb_map.lookup(11), state_dir='/run/proxykit').run('cycle')
    """

    def __init__(self, entry: UsbMapEntry, *, state_dir: Optional[str] = None, off: float = 5.0):
        self.entry = entry
        self._ptr = _loop.wrap(lib.pk_port_power_new(entry._ptr))
        if state_dir is not None:
            lib.pk_port_power_set_state_dir(self._ptr, os.fsencode(state_dir))
        lib.pk_port_power_set_off_time(self._ptr, ms(off))

    def run(self, action: str, timeout: Optional[float] = 60.0) -> None:
        """``"on"``, ``"off"`` or ``"cycle"``. A cycle interrupted by the
        timeout or Ctrl-C switches the port back on before it raises."""
        value = _power_action(action)

        def start(cancellable, callback, data):
            lib.pk_port_power_run_async(self._ptr, value, cancellable, callback, data)

        def finish(source, result):
            errors.call(lib.pk_port_power_run_finish, self._ptr, result)

        _loop.call_async(start, finish, timeout, f'dongle {self.entry.id} power {action}')

    @property
    def error(self) -> Optional[errors.Error]:
        """Why the last run failed or was refused (:class:`Busy`), or ``None``."""
        gerror = _in_loop(lib.pk_port_power_get_error, self._ptr)
        return None if gerror == ffi.NULL else errors.take_gerror(lib.g_error_copy(gerror))

    @staticmethod
    def run_all(powers: List['PortPower'], action: str, timeout: Optional[float] = 60.0) -> None:
        """What ``pk-toggle --power`` does: ``action`` on every port at
        once, each under its dongle's lock, so that a cycle of many pauses
        once. Each one's outcome is then its :attr:`error`; this raises the
        first refusal (:class:`Busy`) if there was one, else the first
        failure."""
        value = _power_action(action)
        ptrs = ffi.new('PkPortPower *[]', [p._ptr for p in powers] or [ffi.NULL])

        def start(cancellable, callback, data):
            lib.pk_port_power_run_all_async(ptrs, len(powers), value, cancellable, callback, data)

        def finish(source, result):
            errors.call(lib.pk_port_power_run_all_finish, result)

        _loop.call_async(start, finish, timeout, f'power {action} of {len(powers)} ports')

    def __repr__(self) -> str:
        return f'<proxykit.PortPower dongle {self.entry.id} hub {self.entry.hub_path} port {self.entry.hub_port}>'


class UsbControllerReset:
    """The last resort when most dongles fail at once
    (``PkUsbControllerReset``): unbinds the ``xhci_hcd`` PCI device the
    failed dongles hang off and binds it again after ``pause`` seconds.
    Only when ``allowed`` (``--allow-controller-reset``), when at least
    ``threshold`` percent of the ``total`` dongles failed, and at most once
    per ``interval`` seconds for the host (recorded in ``store``).

    Args:
        store: a :class:`StateStore` (the record of the last reset), or
        config: with ``section``, reads ``allow-controller-reset``,
            ``controller-reset-threshold`` and ``controller-reset-interval``
    """

    def __init__(self, store: StateStore, *, config: Optional[Config] = None, section: str = 'watchdog',
                 allowed: Optional[bool] = None, threshold: Optional[int] = None,
                 interval: Optional[float] = None, pause: Optional[float] = None):
        if config is not None:
            self._ptr = _loop.wrap(errors.call(lib.pk_usb_controller_reset_new_from_config, config._ptr,
                                               section.encode(), store._ptr))
        else:
            self._ptr = _loop.wrap(lib.pk_usb_controller_reset_new(store._ptr))
        if allowed is not None:
            lib.pk_usb_controller_reset_set_allowed(self._ptr, bool(allowed))
        if threshold is not None:
            if not 1 <= threshold <= 100:
                raise errors.InvalidArgument(f'threshold {threshold}: expected a percentage, 1-100',
                                             errors.PK_ERROR_DOMAIN, lib.PK_ERROR_INVALID_ARGUMENT)
            lib.pk_usb_controller_reset_set_threshold(self._ptr, threshold)
        if interval is not None:
            lib.pk_usb_controller_reset_set_interval(self._ptr, ms(interval))
        if pause is not None:
            lib.pk_usb_controller_reset_set_pause(self._ptr, ms(pause))

    @property
    def allowed(self) -> bool:
        """Whether a reset may happen at all (off by default)."""
        return bool(lib.pk_usb_controller_reset_get_allowed(self._ptr))

    @property
    def threshold(self) -> int:
        """The share of the dongles, in percent, that must fail at once."""
        return lib.pk_usb_controller_reset_get_threshold(self._ptr)

    @property
    def interval(self) -> float:
        """The least time between two resets, in seconds."""
        return lib.pk_usb_controller_reset_get_interval(self._ptr) / 1000.0

    @property
    def remaining(self) -> float:
        """Seconds until a reset may happen again (0 if it may now)."""
        return _in_loop(lib.pk_usb_controller_reset_get_remaining, self._ptr) / 1000.0

    def is_due(self, failed: int, total: int) -> bool:
        """Whether ``failed`` of ``total`` reaches the threshold."""
        return bool(lib.pk_usb_controller_reset_is_due(self._ptr, failed, total))

    @staticmethod
    def controller_of(dongle: Dongle) -> str:
        """The PCI name of the ``xhci_hcd`` controller ``dongle`` hangs off."""
        return take_string(_loop.run(lambda: errors.call(lib.pk_usb_controller_reset_dup_controller, dongle._ptr)))

    def maybe_reset(self, failed: List[Dongle], total: int, timeout: Optional[float] = 60.0) -> List[str]:
        """Resets the controllers of ``failed`` if the guard rails let it;
        returns their PCI names. Raises :class:`NotAllowed` (not allowed, or
        too few failed) or :class:`Cooldown` (too soon after the last)."""
        ptrs = ffi.new('PkDongle *[]', [d._ptr for d in failed] or [ffi.NULL])

        def start(cancellable, callback, data):
            lib.pk_usb_controller_reset_maybe_async(self._ptr, ptrs, len(failed), total, cancellable, callback, data)

        def finish(source, result):
            return take_strv(errors.call(lib.pk_usb_controller_reset_maybe_finish, self._ptr, result))

        return _loop.call_async(start, finish, timeout, 'USB controller reset')
