"""proxykit: Python bindings of libproxykit.

Building blocks for mobile and tunnel proxy nodes, from Python scripts:
SOCKS5 listeners pinned to an egress, HiLink dongle IP rotation, health
probes, relays and metrics, without GObject.

The C library works asynchronously in a GLib main loop; the package runs
that loop in a thread of its own, and the calls here block (each with a
``timeout``) until the C side is done. Errors are :class:`Error`
subclasses carrying the GError's ``domain``, ``code`` and ``message``.
"""
from ._ffi import ffi as _ffi, lib as _lib
from . import _log  # noqa: F401  (the library's messages into logging)
from .errors import (  # noqa: F401
    Error, Failed, InvalidArgument, ConfigError, ProtocolError, AuthFailed,
    NotAllowed, NotSupported, EgressError, ResolveError, Busy, Cooldown,
    TunnelError, ModemError, CheckFailed, StateError, Unchanged,
    GioError, Cancelled, TimedOut, ConnectionRefused, ConnectionClosed,
    HostUnreachable, NetworkUnreachable, HostNotFound, AddressInUse,
    PermissionDenied, NotFound,
)
from .egress import Egress  # noqa: F401
from .access_list import AccessList  # noqa: F401
from .config import Config  # noqa: F401
from .socks import ListenerDiff, SocksServer, SocksService, SocksStats, socks_prometheus  # noqa: F401
from .health import Hysteresis, Probe, ProbeResult, Watchdog, startup_check, startup_check_settings  # noqa: F401
from .relay import Relay, Bridge, BridgeResult  # noqa: F401
from .metrics import MetricsMonitor, MetricsSampler, MetricsServer, parse_time  # noqa: F401
from .modem import Modem, HilinkModem, ModemStatus, ModemTraffic, NETWORK_MODES  # noqa: F401
from .modem import RotationAttempt, RotationResult  # noqa: F401
from .modem import Toggle, ToggleLimiter, ToggleServer  # noqa: F401
from .toggle_service import ToggleService  # noqa: F401
from .history import MetricsAlerts, MetricsRecorder, analyze, read_history  # noqa: F401
from .state import NodeState, StateStore  # noqa: F401
from .tunnel import Tunnel  # noqa: F401
from .supervisor import NodeSupervisor, NodeWatch  # noqa: F401
from .dongle import Dongle, DongleFarm, DongleMonitor, DongleWatch, Routing, RoutingDiagnosis, UsbMap, UsbMapEntry  # noqa: F401
from .dongle import LADDER_STAGES, PowerStep, RoutingStep, UsbStep  # noqa: F401
from .dongle import POWER_ACTIONS, PortPower, UsbControllerReset  # noqa: F401



def get_version() -> str:
    """The version of the libproxykit that is loaded (``pk_get_version()``),
    which may be newer than the headers the bindings were built against."""
    return _ffi.string(_lib.pk_get_version()).decode()


#: The version of the loaded libproxykit, ``"MAJOR.MINOR.MICRO"``.
__version__: str = get_version()
#: The same as a tuple of ints.
version_info = (_lib.pk_get_major_version(), _lib.pk_get_minor_version(),
                _lib.pk_get_micro_version())
#: The version of the headers the extension was compiled against.
compiled_version: str = _ffi.string(_lib.PK_VERSION_S).decode()

__all__ = [
    '__version__', 'version_info', 'compiled_version', 'get_version',
    'Egress', 'AccessList', 'Config', 'SocksServer', 'SocksService', 'SocksStats', 'ListenerDiff',
    'Probe', 'ProbeResult', 'Watchdog', 'Hysteresis', 'startup_check', 'startup_check_settings',
    'Relay', 'Bridge', 'BridgeResult', 'MetricsSampler', 'MetricsMonitor', 'MetricsServer', 'parse_time',
    'Modem', 'HilinkModem', 'ModemStatus', 'ModemTraffic', 'NETWORK_MODES',
    'RotationResult', 'RotationAttempt',
    'Toggle', 'ToggleLimiter', 'ToggleServer', 'ToggleService', 'NodeState', 'StateStore', 'Tunnel',
    'NodeSupervisor', 'NodeWatch',
    'MetricsRecorder', 'MetricsAlerts', 'read_history', 'analyze',
    'Dongle', 'DongleMonitor', 'DongleFarm', 'DongleWatch', 'Routing', 'RoutingDiagnosis', 'UsbMap', 'UsbMapEntry',
    'PortPower', 'POWER_ACTIONS', 'UsbControllerReset',
    'Error', 'Failed', 'InvalidArgument', 'ConfigError', 'ProtocolError', 'AuthFailed',
    'NotAllowed', 'NotSupported', 'EgressError', 'ResolveError', 'Busy', 'Cooldown',
    'TunnelError', 'ModemError', 'CheckFailed', 'StateError', 'Unchanged',
    'GioError', 'Cancelled', 'TimedOut', 'ConnectionRefused', 'ConnectionClosed',
    'HostUnreachable', 'NetworkUnreachable', 'HostNotFound', 'AddressInUse',
    'PermissionDenied', 'NotFound',
]
