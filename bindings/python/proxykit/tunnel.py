"""PkTunnel: one PPTP tunnel through pppd and pptp-linux."""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, List, Optional

from . import _loop, errors
from ._ffi import ffi, lib
from ._util import b, ms, string, strv, take_strv
from .egress import Egress

if TYPE_CHECKING:
    from .config import Config
    from .state import NodeState


class Tunnel:
    """A PPTP tunnel (``PkTunnel``): pppd with pptp as its pty, watched
    until it ends. :meth:`start` returns once the ``pppN`` interface is up;
    :attr:`egress` is then an :class:`Egress` bound to it.

    >>> with Tunnel("vpn1", server="198.51.100.7", user="u", password="p") as tun:
    ...     SocksServer(listen="0.0.0.0:11001", egress=tun.egress).serve_forever()

    Args:
        linkname: pppd's linkname (names its pidfile).
        server: the PPTP server (an IP address).
        peer: a pppd peers file to ``call`` instead of building the options.
        user, password: the PPP credentials.
        unit: the ``pppN`` unit, -1 for any.
        options: more pppd options, one word each.
        pppd_path, pptp_path, run_dir: where pppd, pptp and the pidfiles are.
        start_timeout, stop_grace: seconds.
    """

    def __init__(self, linkname: str, *, server: Optional[str] = None, peer: Optional[str] = None,
                 user: Optional[str] = None, password: Optional[str] = None,
                 unit: Optional[int] = None, options: Optional[Iterable[str]] = None,
                 pppd_path: Optional[str] = None, pptp_path: Optional[str] = None,
                 run_dir: Optional[str] = None, start_timeout: Optional[float] = None,
                 stop_grace: Optional[float] = None):
        self._ptr = _loop.wrap(lib.pk_tunnel_new(linkname.encode()))
        if server is not None:
            errors.call(lib.pk_tunnel_set_server, self._ptr, server.encode())
        if peer is not None:
            errors.call(lib.pk_tunnel_set_peer, self._ptr, peer.encode())
        if user is not None:
            lib.pk_tunnel_set_user(self._ptr, user.encode())
        if password is not None:
            lib.pk_tunnel_set_password(self._ptr, password.encode())
        if unit is not None:
            lib.pk_tunnel_set_unit(self._ptr, unit)
        if options is not None:
            arr, keep = strv(options)
            lib.pk_tunnel_set_options(self._ptr, arr)
            del keep
        if pppd_path is not None:
            lib.pk_tunnel_set_pppd_path(self._ptr, pppd_path.encode())
        if pptp_path is not None:
            lib.pk_tunnel_set_pptp_path(self._ptr, pptp_path.encode())
        if run_dir is not None:
            lib.pk_tunnel_set_run_dir(self._ptr, run_dir.encode())
        if start_timeout is not None:
            lib.pk_tunnel_set_start_timeout_ms(self._ptr, ms(start_timeout))
        if stop_grace is not None:
            lib.pk_tunnel_set_stop_grace_ms(self._ptr, ms(stop_grace))

    @classmethod
    def from_config(cls, config: 'Config', name: str,
                    recorded: Optional['NodeState'] = None) -> 'Tunnel':
        """The tunnel of section ``[tunnel:NAME]`` (``server`` or ``peer``,
        ``user``, ``password-file``, ``unit``, ``linkname``, ``options``,
        ``pppd``), as pk-watchdog builds it; ``recorded`` (a
        :class:`NodeState`) stands in for a server, link name and unit the
        section lacks. Raises :class:`ConfigError`."""
        self = cls.__new__(cls)
        self._ptr = _loop.wrap(errors.call(lib.pk_tunnel_new_from_config, config._ptr, name.encode(),
                                           recorded._ptr if recorded is not None else ffi.NULL))
        return self

    @property
    def linkname(self) -> str:
        """pppd's link name (its pidfile is ``ppp-LINKNAME.pid``)."""
        return string(lib.pk_tunnel_get_linkname(self._ptr))

    @property
    def state(self) -> str:
        """``"down"``, ``"starting"``, ``"up"``, ``"stopping"`` or ``"failed"``."""
        return _loop.run(lambda: string(lib.pk_tunnel_state_to_string(lib.pk_tunnel_get_state(self._ptr))))

    @property
    def pid(self) -> int:
        """pppd's pid while the tunnel is up (0 otherwise)."""
        return _loop.run(lambda: lib.pk_tunnel_get_pid(self._ptr))

    @property
    def interface(self) -> Optional[str]:
        """The ``pppN`` interface while the tunnel is up."""
        return _loop.run(lambda: string(lib.pk_tunnel_get_interface(self._ptr)))

    @property
    def last_error(self) -> Optional[str]:
        """Why the last start or the tunnel failed (``None`` if it did not)."""
        return _loop.run(lambda: string(lib.pk_tunnel_get_last_error(self._ptr)))

    @property
    def egress(self) -> Egress:
        """An :class:`Egress` bound to the tunnel's interface and address
        (:class:`TunnelError` when it is not up)."""
        def get():
            e = Egress.__new__(Egress)
            e._ptr = _loop.wrap(errors.call(lib.pk_tunnel_get_egress, self._ptr))
            return e
        return _loop.run(get)

    def argv(self) -> List[str]:
        """The pppd command line :meth:`start` runs (for checks and logs)."""
        return take_strv(errors.call(lib.pk_tunnel_build_argv, self._ptr))

    def start(self, timeout: Optional[float] = None) -> 'Tunnel':
        """Starts pppd and waits until the interface is up.

        Raises:
            TunnelError: pppd exited (the message names its exit status).
            Busy: a pppd with this linkname already runs (see :meth:`adopt`).
            TimedOut: the interface did not come up in time.
        """
        def start(cancellable, callback, data):
            lib.pk_tunnel_start_async(self._ptr, cancellable, callback, data)

        def finish(source, result):
            errors.call(lib.pk_tunnel_start_finish, self._ptr, result)
            return self

        if timeout is None:
            timeout = lib.pk_tunnel_get_start_timeout_ms(self._ptr) / 1000.0 + 10.0
        return _loop.call_async(start, finish, timeout, f'tunnel {self.linkname}: start')

    def stop(self, timeout: Optional[float] = None) -> None:
        """Stops pppd (SIGTERM, then SIGKILL after the grace time)."""
        def start(cancellable, callback, data):
            lib.pk_tunnel_stop_async(self._ptr, cancellable, callback, data)

        def finish(source, result):
            errors.call(lib.pk_tunnel_stop_finish, self._ptr, result)

        if timeout is None:
            timeout = lib.pk_tunnel_get_stop_grace_ms(self._ptr) / 1000.0 + 10.0
        _loop.call_async(start, finish, timeout, f'tunnel {self.linkname}: stop')

    def adopt(self) -> bool:
        """Takes over a running pppd with this linkname (after a restart);
        False if none runs."""
        try:
            _loop.run(lambda: errors.call(lib.pk_tunnel_adopt, self._ptr))
        except errors.NotFound:
            return False
        return True

    def refresh(self) -> bool:
        """Checks pppd and the interface now; True if the tunnel is up."""
        return bool(_loop.run(lambda: lib.pk_tunnel_refresh(self._ptr)))

    def __enter__(self) -> 'Tunnel':
        return self.start()

    def __exit__(self, *exc) -> None:
        if self.state in ('up', 'starting'):
            self.stop()

    def __repr__(self) -> str:
        return f'<proxykit.Tunnel {self.linkname}>'
