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


def dns_server(answers):
    """A UDP DNS server on 127.0.0.1 that answers A queries from
    ``answers`` (name -> IPv4) and NXDOMAIN otherwise; returns (sock, port, asked)."""
    import struct
    import threading
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(('127.0.0.1', 0))
    asked = []

    def serve():
        while True:
            try:
                data, peer = sock.recvfrom(512)
            except OSError:
                return
            qid, flags, qd = struct.unpack('>HHH', data[:6])
            i, labels = 12, []
            while data[i]:
                labels.append(data[i + 1:i + 1 + data[i]].decode())
                i += 1 + data[i]
            question = data[12:i + 5]
            qtype = struct.unpack('>H', data[i + 1:i + 3])[0]
            name = '.'.join(labels)
            asked.append((name, qtype))
            if qtype == 1 and name in answers:
                answer = b'\xc0\x0c' + struct.pack('>HHIH', 1, 1, 60, 4) + socket.inet_aton(answers[name])
                reply = struct.pack('>HHHHHH', qid, 0x8180, 1, 1, 0, 0) + question + answer
            else:
                rcode = 3 if name not in answers else 0
                reply = struct.pack('>HHHHHH', qid, 0x8180 | rcode, 1, 0, 0, 0) + question
            sock.sendto(reply, peer)

    threading.Thread(target=serve, daemon=True).start()
    return sock, sock.getsockname()[1], asked


def test_names_resolve_through_the_egress_nameservers(echo_server):
    host, port, _ = echo_server
    dns, dns_port, asked = dns_server({'dongle11.test': '127.0.0.1'})
    try:
        egress = proxykit.Egress(address='127.0.0.1', nameservers=[f'127.0.0.1:{dns_port}'])
        assert egress.nameservers == [f'127.0.0.1:{dns_port}']
        assert egress.resolve('dongle11.test', timeout=10) == ['127.0.0.1']
        assert ('dongle11.test', 1) in asked
        with egress.connect('dongle11.test', port, timeout=10) as s:
            s.sendall(b'by name')
            assert s.recv(10) == b'by name'
        with pytest.raises(proxykit.Error):
            egress.resolve('missing.test', timeout=10)
    finally:
        dns.close()
    with pytest.raises(proxykit.InvalidArgument):
        proxykit.Egress(nameservers=['not-an-ip'])
