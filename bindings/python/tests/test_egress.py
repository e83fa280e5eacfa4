"""proxykit.Egress: connect through an egress to loopback servers."""
import socket

import pytest

import proxykit
from proxykit._ffi import lib


def test_properties_round_trip():
    e = proxykit.Egress(address='127.0.0.1', fwmark=0x11, ttl=33)
    assert (e.address, e.interface, e.fwmark, e.ttl) == ('127.0.0.1', None, 0x11, 33)
    assert not e.is_default
    assert '127.0.0.1' in str(e)
    e.address = None
    e.fwmark = 0
    e.ttl = 0
    assert e.is_default


def test_connect_through_egress_reaches_loopback_server(echo_server):
    host, port, peers = echo_server
    egress = proxykit.Egress(address='127.0.0.1', ttl=17)
    with egress.connect(host, port, timeout=10) as sock:
        assert isinstance(sock, socket.socket)
        assert sock.gettimeout() is None
        sock.sendall(b'hello through the egress')
        assert sock.recv(100) == b'hello through the egress'
        assert sock.getsockopt(socket.IPPROTO_IP, socket.IP_TTL) == 17
        local = sock.getsockname()
    assert peers[-1] == local


def test_connect_refused_raises_connection_refused(closed_port):
    egress = proxykit.Egress(address='127.0.0.1')
    with pytest.raises(proxykit.ConnectionRefused) as info:
        egress.connect('127.0.0.1', closed_port, timeout=10)
    err = info.value
    assert err.domain == 'g-io-error-quark'
    assert err.code == lib.G_IO_ERROR_CONNECTION_REFUSED
    assert str(closed_port) in err.message
    assert isinstance(err, ConnectionRefusedError)


def test_malformed_egress_address_is_invalid_argument():
    with pytest.raises(proxykit.InvalidArgument) as info:
        proxykit.Egress(address='192.168.11.x')
    assert info.value.domain == 'pk-error-quark'
    assert info.value.code == lib.PK_ERROR_INVALID_ARGUMENT
    assert '192.168.11.x' in info.value.message


def test_address_the_host_does_not_hold_is_egress_error(echo_server):
    # 192.0.2.0/24 is TEST-NET-1: no host holds it, so bind() fails locally
    # and no packet is sent.
    host, port, _ = echo_server
    egress = proxykit.Egress(address='192.0.2.55')
    with pytest.raises(proxykit.EgressError) as info:
        egress.connect(host, port, timeout=10)
    assert info.value.code == lib.PK_ERROR_EGRESS
    assert '192.0.2.55' in info.value.message


def test_connect_timeout_raises_timed_out(blackhole_port):
    with pytest.raises(proxykit.TimedOut) as info:
        proxykit.Egress().connect('127.0.0.1', blackhole_port, timeout=0.3)
    assert info.value.code == lib.G_IO_ERROR_TIMED_OUT
    assert isinstance(info.value, TimeoutError)


def test_resolve_literal_and_localhost():
    egress = proxykit.Egress(address='127.0.0.1')
    assert egress.resolve('127.0.0.1') == ['127.0.0.1']
    assert '127.0.0.1' in egress.resolve('localhost', timeout=10)


def test_prepare_socket_binds_the_source_address():
    egress = proxykit.Egress(address='127.0.0.1', ttl=5)
    with socket.socket() as s:
        egress.prepare_socket(s)
        assert s.getsockname()[0] == '127.0.0.1'
        assert s.getsockopt(socket.IPPROTO_IP, socket.IP_TTL) == 5


def test_bad_port_is_invalid_argument():
    with pytest.raises(proxykit.InvalidArgument):
        proxykit.Egress().connect('127.0.0.1', 0)
