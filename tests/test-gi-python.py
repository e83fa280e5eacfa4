#!/usr/bin/python3
"""libproxykit through GObject Introspection from Python (PyGObject): a SOCKS
server and a relay driven by the typelib alone, on loopback.

    GI_TYPELIB_PATH=build/libproxykit LD_LIBRARY_PATH=build/libproxykit \\
        tests/test-gi-python.py

Exits 77 (a skip for meson) where PyGObject or the typelib is missing.
"""
import socket
import struct
import sys
import threading
import unittest

try:
    import gi
    gi.require_version('Proxykit', '1')
    gi.require_version('Gio', '2.0')
    from gi.repository import GLib, Proxykit
except (ImportError, ValueError) as e:
    print(f'SKIP: no PyGObject or no Proxykit-1 typelib: {e}')
    sys.exit(77)

TIMEOUT_S = 20


def echo_server():
    """A TCP echo server on 127.0.0.1 in a thread; returns its port."""
    srv = socket.socket()
    srv.bind(('127.0.0.1', 0))
    srv.listen(8)

    def serve():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                while True:
                    data = conn.recv(65536)
                    if not data:
                        break
                    conn.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    return srv


def socks5_echo(proxy_port, port, payload):
    """A SOCKS5 CONNECT (no auth) to 127.0.0.1:port, then one echo."""
    with socket.create_connection(('127.0.0.1', proxy_port), timeout=TIMEOUT_S) as c:
        c.sendall(b'\x05\x01\x00')
        assert c.recv(2) == b'\x05\x00'
        c.sendall(b'\x05\x01\x00\x01' + socket.inet_aton('127.0.0.1') + struct.pack('!H', port))
        reply = c.recv(10)
        assert reply[:2] == b'\x05\x00', reply
        c.sendall(payload)
        got = b''
        while len(got) < len(payload):
            chunk = c.recv(65536)
            if not chunk:
                break
            got += chunk
        return got


def run_in_thread_while_looping(fn):
    """Runs fn() in a thread while the main loop turns (the library serves
    in this thread's main context); returns fn's result."""
    loop = GLib.MainLoop()
    box = {}

    def target():
        try:
            box['result'] = fn()
        except BaseException as e:  # noqa: B902 - reported to the test
            box['error'] = e
        finally:
            GLib.idle_add(loop.quit)

    timeout = GLib.timeout_add_seconds(TIMEOUT_S * 2, loop.quit)
    threading.Thread(target=target, daemon=True).start()
    loop.run()
    GLib.source_remove(timeout)
    if 'error' in box:
        raise box['error']
    if 'result' not in box:
        raise AssertionError('timed out')
    return box['result']


class GiTest(unittest.TestCase):
    def test_version(self):
        self.assertEqual(Proxykit.get_version(),
                         f'{Proxykit.get_major_version()}.{Proxykit.get_minor_version()}.'
                         f'{Proxykit.get_micro_version()}')
        self.assertEqual(Proxykit.MAJOR_VERSION, Proxykit.get_major_version())
        self.assertTrue(Proxykit.check_version(Proxykit.MAJOR_VERSION, 0, 0))

    def test_socks_server(self):
        srv = echo_server()
        server = Proxykit.SocksServer.new()
        server.set_name('gi')
        server.set_egress(Proxykit.Egress.new_full('127.0.0.1', None, 0, 0))
        server.listen('127.0.0.1:0')
        port = server.get_port()
        self.assertGreater(port, 0)
        self.assertEqual(server.get_property('name'), 'gi')

        got = run_in_thread_while_looping(lambda: socks5_echo(port, srv.getsockname()[1], b'via gi'))
        self.assertEqual(got, b'via gi')

        loop = GLib.MainLoop()
        done = {}

        def stopped(source, result):
            done['ok'] = source.stop_finish(result)
            loop.quit()

        server.stop_async(1000, None, stopped)
        loop.run()
        self.assertTrue(done['ok'])
        self.assertEqual(server.get_port(), 0)
        # every session has ended once the stop finishes: counted
        stats = server.get_stats().unpack()
        self.assertEqual(stats['sessions-total'], 1)
        self.assertEqual(stats['result-succeeded'], 1)
        srv.close()

    def test_bad_address_is_a_glib_error(self):
        server = Proxykit.SocksServer.new()
        with self.assertRaises(GLib.Error) as ctx:
            server.listen('not-an-address:x')
        self.assertEqual(ctx.exception.domain, 'pk-error-quark')

    def test_relay(self):
        srv = echo_server()
        relay = Proxykit.Relay.new()
        rule = Proxykit.RelayRule.new(Proxykit.RelayProtocol.TCP, 0, '127.0.0.1',
                                      srv.getsockname()[1])
        rule.set_name('gi-echo')
        rule.set_listen_address('127.0.0.1')
        relay.add_rule(rule)
        port = relay.get_local_port('gi-echo')
        self.assertGreater(port, 0)

        def client():
            with socket.create_connection(('127.0.0.1', port), timeout=TIMEOUT_S) as c:
                c.sendall(b'relayed')
                return c.recv(100)

        self.assertEqual(run_in_thread_while_looping(client), b'relayed')
        relay.stop()
        srv.close()

        with self.assertRaises(GLib.Error):
            Proxykit.RelayRule.new_from_string('1;2;3')


if __name__ == '__main__':
    unittest.main(verbosity=2)
