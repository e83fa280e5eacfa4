"""proxykit.SocksServer: start and stop from Python, fetch through it with
python3-socks (PySocks), auth, errors, stats."""
import http.server
import socket
import threading

import pytest
import socks

import proxykit
from proxykit._ffi import lib


@pytest.fixture
def http_server():
    """An HTTP server on 127.0.0.1 answering every GET with a fixed body."""
    body = b'proxykit says hello\n' * 50

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1], body
    srv.shutdown()
    srv.server_close()
    t.join()


def socks_client(port, username=None, password=None):
    s = socks.socksocket(socket.AF_INET, socket.SOCK_STREAM)
    s.set_proxy(socks.SOCKS5, '127.0.0.1', port, rdns=False, username=username, password=password)
    s.settimeout(10)
    return s


def http_get(sock, port):
    sock.connect(('127.0.0.1', port))
    sock.sendall(b'GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n')
    data = b''
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    sock.close()
    head, _, body = data.partition(b'\r\n\r\n')
    return head, body


def test_fetch_through_server_started_from_python(http_server):
    http_port, body = http_server
    with proxykit.SocksServer(listen='127.0.0.1:0', egress_address='127.0.0.1', name='py') as srv:
        assert srv.serving and srv.port > 0
        port = srv.port
        assert srv.addresses == [f'127.0.0.1:{srv.port}']
        head, got = http_get(socks_client(srv.port), http_port)
        assert head.startswith(b'HTTP/1.0 200')
        assert got == body
    assert not srv.serving
    stats = srv.stats()
    # a typed result that still reads like the dict of earlier versions
    assert isinstance(stats, proxykit.SocksStats)
    assert stats.sessions_total == 1 and stats.results['succeeded'] == 1
    assert dict(stats)['result_succeeded'] == 1
    assert stats['sessions_total'] == 1
    assert stats['sessions_active'] == 0
    assert stats['result_succeeded'] == 1
    assert stats['bytes_down'] > len(body)
    assert stats['bytes_up'] > 0
    text = srv.prometheus()
    assert 'proxykit_socks_sessions_total{listener="py",result="succeeded"} 1\n' in text
    assert f'proxykit_socks_bytes_total{{listener="py",direction="down"}} {stats.bytes_down}\n' in text
    assert text == proxykit.socks_prometheus([srv])
    # the listener is gone once the block has ended (srv.port is 0 by
    # then, which PySocks would take for its default port 1080)
    assert srv.port == 0
    with pytest.raises((ConnectionRefusedError, socks.ProxyConnectionError)):
        socks_client(port).connect(('127.0.0.1', http_port))


def test_username_password_auth(echo_server):
    host, port, _ = echo_server
    with proxykit.SocksServer(listen='127.0.0.1:0', users={'alice': 's3cret'}) as srv:
        assert srv.auth_required
        s = socks_client(srv.port, 'alice', 's3cret')
        s.connect((host, port))
        s.sendall(b'ping')
        assert s.recv(10) == b'ping'
        s.close()
        with pytest.raises(socks.ProxyError, match='authentication failed'):
            socks_client(srv.port, 'alice', 'wrong').connect((host, port))
    assert srv.stats()['result_auth_failed'] == 1


def test_destination_refused_reaches_the_client(closed_port):
    with proxykit.SocksServer(listen='127.0.0.1:0') as srv:
        with pytest.raises(socks.ProxyError, match='refused'):
            socks_client(srv.port).connect(('127.0.0.1', closed_port))
    assert srv.stats()['result_connection_refused'] == 1


def test_allowlist_refuses_other_clients(echo_server):
    host, port, _ = echo_server
    with proxykit.SocksServer(listen='127.0.0.1:0', allowlist=['10.0.0.0/8']) as srv:
        with pytest.raises(socks.ProxyError, match='not allowed'):
            socks_client(srv.port).connect((host, port))
        srv.set_allowlist(['127.0.0.0/8'])
        s = socks_client(srv.port)
        s.connect((host, port))
        s.close()


def test_port_in_use_raises_address_in_use():
    with proxykit.SocksServer(listen='127.0.0.1:0') as first:
        second = proxykit.SocksServer(listen=f'127.0.0.1:{first.port}')
        with pytest.raises(proxykit.AddressInUse) as info:
            second.start()
        assert info.value.code == lib.G_IO_ERROR_ADDRESS_IN_USE
        assert str(first.port) in info.value.message


def test_malformed_listen_address():
    with pytest.raises(proxykit.Error) as info:
        proxykit.SocksServer(listen='not an address:99999').start()
    assert info.value.domain == 'pk-error-quark'
    assert 'not an address' in info.value.message


def test_malformed_users_entry_is_an_error():
    with pytest.raises(proxykit.Error) as info:
        proxykit.SocksServer(listen='127.0.0.1:0', users=['nocolon'])
    assert info.value.domain == 'pk-error-quark'


def test_stop_drains_a_live_session(echo_server):
    host, port, _ = echo_server
    srv = proxykit.SocksServer(listen='127.0.0.1:0').start()
    s = socks_client(srv.port)
    s.connect((host, port))
    s.sendall(b'x')
    assert s.recv(1) == b'x'
    assert srv.sessions_active == 1
    srv.stop(drain_timeout=0.2)
    assert srv.stats()['sessions_active'] == 0
    assert s.recv(1) == b''
    s.close()


def test_server_can_start_only_once():
    srv = proxykit.SocksServer(listen='127.0.0.1:0')
    srv.start()
    srv.stop()
    with pytest.raises(proxykit.Failed):
        srv.start()


def test_server_on_worker_threads(echo_server):
    host, port, _ = echo_server
    with proxykit.SocksServer(listen='127.0.0.1:0', workers=2) as srv:
        for i in range(4):
            s = socks_client(srv.port)
            s.connect((host, port))
            s.sendall(b'w%d' % i)
            assert s.recv(10) == b'w%d' % i
            s.close()
    stats = srv.stats()
    assert stats['sessions_total'] == 4 and stats['result_succeeded'] == 4


def test_port_in_use_unless_both_reuse_port(echo_server):
    host, port, _ = echo_server
    with proxykit.SocksServer(listen='127.0.0.1:0', workers=2) as first:
        second = proxykit.SocksServer(listen=f'127.0.0.1:{first.port}', workers=2)
        with pytest.raises(proxykit.AddressInUse):
            second.start()
    with pytest.raises(proxykit.InvalidArgument):
        proxykit.SocksServer(listen='127.0.0.1:0', reuse_port=True)
    with proxykit.SocksServer(listen='127.0.0.1:0', workers=1, reuse_port=True) as first:
        with proxykit.SocksServer(listen=f'127.0.0.1:{first.port}', workers=1,
                                  reuse_port=True) as second:
            assert second.port == first.port


def test_serve_forever_stops_on_ctrl_c():
    import signal
    import threading
    srv = proxykit.SocksServer(listen='127.0.0.1:0')
    timer = threading.Timer(0.3, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT))
    timer.start()
    srv.serve_forever()          # returns after Ctrl-C, stopped
    timer.join()
    assert not srv.serving and srv.port == 0


def test_open_listener_refused_from_python():
    """The library's rule, which Python did not enforce before: off
    loopback needs users, an allowlist or allow_open. Refused before a
    socket is made."""
    srv = proxykit.SocksServer(listen='0.0.0.0:0')
    with pytest.raises(proxykit.NotAllowed, match='allow-open'):
        srv.start()
    assert srv.port == 0
    assert proxykit.SocksServer(allow_open=True).allow_open


def test_server_from_config(echo_server):
    host, port, _ = echo_server
    cfg = proxykit.Config(data='[socks:a]\nlisten = 127.0.0.1:0\nusers-inline = alice:s3cret\n'
                               'connect-timeout = 9s\n', environ={})
    cfg.set_override(None, 'connect-timeout', '4s', '--connect-timeout')
    assert cfg.describe_value('socks:a', 'connect-timeout') == '--connect-timeout'
    assert proxykit.SocksServer.config_listen(cfg, 'a') == ['127.0.0.1:0']
    with proxykit.SocksServer.from_config(cfg, 'a') as srv:
        assert srv.name == 'a' and srv.auth_required
        s = socks_client(srv.port, 'alice', 's3cret')
        s.connect((host, port))
        s.sendall(b'ping')
        assert s.recv(10) == b'ping'
        s.close()
        # a reload that fails keeps the old users
        bad = proxykit.Config(data='[socks:a]\nallow = 10.0.0.0/99\n', environ={})
        with pytest.raises(proxykit.ConfigError, match=r'\[socks:a\] allow'):
            srv.reload(bad)
        assert srv.auth_required


def test_server_from_config_errors():
    cfg = proxykit.Config(data='[socks:a]\nlisten = 127.0.0.1:0\nttl = 999\n', environ={})
    with pytest.raises(proxykit.ConfigError, match=r'\[socks:a\] ttl'):
        proxykit.SocksServer.from_config(cfg, 'a')
    cfg = proxykit.Config(data='[e]\negress-address = 127.0.0.1\nfwmark = 5\n', environ={'P_TTL': '7'})
    egress = proxykit.Egress.from_config(cfg, 'e', 'P_')
    assert (egress.address, egress.fwmark, egress.ttl) == ('127.0.0.1', 5, 7)


def test_service_runs_reloads_and_stops_every_listener(echo_server):
    """The listener set of a file: the main listener only when asked, a
    reload that adds, removes and keeps listeners without dropping a live
    session of a kept one, a refused reload that changes nothing."""
    host, port, _ = echo_server
    two = '[socks:a]\nlisten = 127.0.0.1:0\n[socks:b]\nlisten = 127.0.0.1:0\n'
    cfg = proxykit.Config(data=two, environ={})
    assert [s.name for s in proxykit.SocksService(cfg).servers] == ['a', 'b']
    # asked for by SOCKS_LISTEN, or always
    assert [s.name for s in proxykit.SocksService(
        proxykit.Config(data=two, environ={'SOCKS_LISTEN': '127.0.0.1:0'})).servers] == ['main', 'a', 'b']
    assert [s.name for s in proxykit.SocksService(cfg, main='always').servers] == ['main', 'a', 'b']
    assert [s.name for s in proxykit.SocksService(proxykit.Config(data='', environ={}),
                                                  main='if-asked').servers] == []
    with pytest.raises(proxykit.ConfigError, match=r'\[socks:b\] ttl'):
        proxykit.SocksService(proxykit.Config(data=two + 'ttl = 999\n', environ={}))
    with pytest.raises(proxykit.InvalidArgument):
        proxykit.SocksService(cfg, main='sometimes')

    svc = proxykit.SocksService(cfg, drain_timeout=2.0)
    svc.retire_drain_timeout = 5
    assert svc.retire_drain_timeout == 5
    with svc:
        a, b = svc.servers
        assert sorted(line.split()[0] for line in svc.port_lines()) == ['a', 'b']
        assert f'a 127.0.0.1:{a.port}' in svc.port_lines()
        live = socks_client(b.port)
        live.connect((host, port))

        # b stays with its port and session, a goes, c comes
        fresh = proxykit.Config(data='[socks:b]\nlisten = 127.0.0.1:0\n[socks:c]\nlisten = 127.0.0.1:0\n',
                                environ={})
        svc.reload(fresh)
        names = [s.name for s in svc.servers]
        assert names == ['b', 'c'], names
        assert svc.servers[0].port == b.port
        live.sendall(b'still here')
        assert live.recv(20) == b'still here'
        live.close()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(('127.0.0.1', a.port), timeout=5).close()

        # a new section that does not parse refuses it all
        bad = proxykit.Config(data='[socks:b]\nlisten = 127.0.0.1:0\n[socks:d]\nlisten = 127.0.0.1:0\n'
                                   'max-sessions = lots\n', environ={})
        with pytest.raises(proxykit.ConfigError, match=r'socks:d'):
            svc.reload(bad)
        assert [s.name for s in svc.servers] == ['b', 'c']
        assert 'proxykit_socks_sessions_total{listener="b",result="succeeded"} 1' in svc.prometheus()
    assert not svc.serving
