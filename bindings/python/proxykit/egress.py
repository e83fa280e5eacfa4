"""PkEgress: how an outbound connection leaves the host."""
from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, List, Optional

from . import _loop, errors
from ._util import ms as _ms, python_wait as _python_wait, string as _str, strv, take_string
from ._ffi import ffi, lib

if TYPE_CHECKING:
    from .config import Config


def socket_from_gsocket(gsocket) -> socket.socket:
    """A Python socket on a duplicate of a GSocket's descriptor, in blocking
    mode. The GSocket itself is left to its owner (which closes its fd)."""
    fd = os.dup(lib.g_socket_get_fd(gsocket))
    sock = socket.socket(fileno=fd)
    sock.setblocking(True)
    return sock


class Egress:
    """How an outbound connection leaves the host: a source address, an
    interface (``SO_BINDTODEVICE``), a firewall mark (``SO_MARK``) and a TTL.

    Everything in libproxykit that dials out does it through an egress, and
    a connection that cannot honour its egress fails with
    :class:`proxykit.EgressError` instead of falling back to the default
    route.

    >>> egress = Egress(address="192.168.11.100")
    >>> sock = egress.connect("example.org", 443, timeout=10)

    Args:
        address: source IP address (an IP literal), or ``None``.
        interface: interface name to bind to, or ``None``.
        fwmark: firewall mark, 0 for none.
        ttl: IP TTL / hop limit, 0 for the system default.
        nameservers: DNS servers (``"192.168.8.1"``, ``"192.168.8.1:53"``)
            that names are resolved with, through this egress, instead of
            the host's resolver (so that a dongle's DNS goes out through
            the dongle).
    """

    def __init__(self, address: Optional[str] = None, interface: Optional[str] = None,
                 fwmark: int = 0, ttl: int = 0, nameservers: Optional[List[str]] = None):
        ptr = errors.call(lib.pk_egress_new_full,
                          address.encode() if address else ffi.NULL,
                          interface.encode() if interface else ffi.NULL,
                          fwmark, ttl)
        self._ptr = _loop.wrap(ptr)
        if nameservers is not None:
            self.nameservers = nameservers

    @classmethod
    def from_config(cls, config: 'Config', section: Optional[str] = None,
                    env_prefix: Optional[str] = None) -> 'Egress':
        """An egress from the keys ``egress-address``, ``egress-interface``,
        ``egress-dns``, ``fwmark`` and ``ttl`` of ``section`` (and the
        variables ``env_prefix`` + ``EGRESS_ADDRESS``, ...; overrides win).
        Raises :class:`ConfigError` naming the bad value."""
        self = cls.__new__(cls)
        self._ptr = _loop.wrap(errors.call(lib.pk_egress_new_from_config, config._ptr,
                                           section.encode() if section else ffi.NULL,
                                           env_prefix.encode() if env_prefix else ffi.NULL))
        return self

    @classmethod
    def _from_ptr(cls, ptr) -> 'Egress':
        """Wraps a borrowed ``PkEgress *`` (takes a reference)."""
        self = cls.__new__(cls)
        self._ptr = _loop.wrap(lib.g_object_ref(ptr))
        return self

    @property
    def address(self) -> Optional[str]:
        """The source address, or ``None``."""
        return _str(lib.pk_egress_get_address(self._ptr))

    @address.setter
    def address(self, value: Optional[str]) -> None:
        errors.call(lib.pk_egress_set_address, self._ptr,
                    value.encode() if value else ffi.NULL)

    @property
    def interface(self) -> Optional[str]:
        """The interface connections are bound to, or ``None``."""
        return _str(lib.pk_egress_get_interface(self._ptr))

    @interface.setter
    def interface(self, value: Optional[str]) -> None:
        lib.pk_egress_set_interface(self._ptr, value.encode() if value else ffi.NULL)

    @property
    def fwmark(self) -> int:
        """The firewall mark (``SO_MARK``), 0 for none."""
        return lib.pk_egress_get_fwmark(self._ptr)

    @fwmark.setter
    def fwmark(self, value: int) -> None:
        lib.pk_egress_set_fwmark(self._ptr, value)

    @property
    def ttl(self) -> int:
        """The IP TTL, 0 for the system default."""
        return lib.pk_egress_get_ttl(self._ptr)

    @ttl.setter
    def ttl(self, value: int) -> None:
        lib.pk_egress_set_ttl(self._ptr, value)

    @property
    def nameservers(self) -> List[str]:
        """The egress's own DNS servers (empty: the host's resolver)."""
        arr = lib.pk_egress_get_nameservers(self._ptr)
        out = []
        i = 0
        while arr != ffi.NULL and arr[i] != ffi.NULL:
            out.append(ffi.string(arr[i]).decode())
            i += 1
        return out

    @nameservers.setter
    def nameservers(self, value: Optional[List[str]]) -> None:
        if not value:
            errors.call(lib.pk_egress_set_nameservers, self._ptr, ffi.NULL)
            return
        arr, keep = strv(value)
        errors.call(lib.pk_egress_set_nameservers, self._ptr, arr)
        del keep

    @property
    def is_default(self) -> bool:
        """True when the egress changes nothing (the default route)."""
        return bool(lib.pk_egress_is_default(self._ptr))

    def __str__(self) -> str:
        return take_string(lib.pk_egress_to_string(self._ptr))

    def __repr__(self) -> str:
        return f'<proxykit.Egress {self}>'

    def prepare_socket(self, sock: socket.socket) -> None:
        """Applies the egress to an unconnected socket (binds it to the
        source address and interface, sets the mark and the TTL)."""
        gsock = _loop.wrap(errors.call(lib.g_socket_new_from_fd, os.dup(sock.fileno())))
        errors.call(lib.pk_egress_prepare_socket, self._ptr, gsock)

    def resolve(self, host: str, timeout: Optional[float] = 30.0) -> List[str]:
        """Resolves ``host`` to the addresses this egress can reach
        (an IP literal comes back as itself).

        Raises:
            ResolveError: the name does not resolve.
            EgressError: no address has the egress's address family.
            TimedOut: ``timeout`` passed.
        """
        def start(cancellable, callback, data):
            lib.pk_egress_resolve_async(self._ptr, host.encode(), _ms(timeout),
                                        cancellable, callback, data)

        def finish(source, result):
            addresses = errors.call(lib.pk_egress_resolve_finish, self._ptr, result)
            out = []
            node = addresses
            while node != ffi.NULL:
                s = lib.g_inet_address_to_string(ffi.cast('GInetAddress *', node.data))
                out.append(ffi.string(s).decode())
                lib.g_free(s)
                lib.g_object_unref(node.data)
                node = node.next
            lib.g_list_free(addresses)
            return out

        return _loop.call_async(start, finish, _python_wait(timeout), f'resolving {host}')

    def connect(self, host: str, port: int, timeout: Optional[float] = 30.0) -> socket.socket:
        """Connects to ``host``:``port`` through this egress and returns a
        connected, blocking :class:`socket.socket` (the caller closes it).

        ``host`` is a name or an IP literal; its addresses are tried in turn
        until one answers or ``timeout`` seconds (for resolving and
        connecting together) have passed.

        Raises:
            ConnectionRefused: nothing listens there.
            TimedOut: ``timeout`` passed.
            EgressError: the egress cannot be applied (an address the host
                does not hold, a missing interface).
            ResolveError: ``host`` does not resolve.
        """
        if not 0 < port < 65536:
            raise errors.InvalidArgument(f'port {port} is out of range 1-65535',
                                         errors.PK_ERROR_DOMAIN, lib.PK_ERROR_INVALID_ARGUMENT)

        def start(cancellable, callback, data):
            lib.pk_egress_connect_to_host_async(self._ptr, host.encode(), port, _ms(timeout),
                                                cancellable, callback, data)

        def finish(source, result):
            gsock = _loop.wrap(errors.call(lib.pk_egress_connect_to_host_finish,
                                           self._ptr, result))
            return socket_from_gsocket(gsock)

        return _loop.call_async(start, finish, _python_wait(timeout),
                                f'connecting to {host}:{port}')
