#!/usr/bin/python3
"""The suite's main cases in one process (test_memory.py runs it, also
under valgrind --leak-check=full). Everything it creates it also drops;
then it stops the GLib loop thread (which releases what was queued for
it) and checks that every GObject the bindings owned has been finalized.

    leakcheck_main.py [HILINK_EMULATOR]
"""
import gc
import socket
import subprocess
import sys
import threading

import socks

import proxykit


def echo_server():
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


def main(argv):
    srv = echo_server()
    port = srv.getsockname()[1]

    # Egress, errors
    egress = proxykit.Egress(address='127.0.0.1', ttl=9)
    with egress.connect('127.0.0.1', port, timeout=10) as s:
        s.sendall(b'x')
        assert s.recv(1) == b'x'
    assert egress.resolve('localhost')
    closed = socket.socket()
    closed.bind(('127.0.0.1', 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    for bad in (lambda: egress.connect('127.0.0.1', closed_port, timeout=5),
                lambda: proxykit.Egress(address='nonsense')):
        try:
            bad()
            raise AssertionError('no error')
        except proxykit.Error:
            pass

    # Config
    cfg = proxykit.Config(data='[socks:1]\nlisten = 127.0.0.1:0\nt = 5s\n', environ={'A': 'b'})
    assert cfg.sections('socks') == ['1'] and cfg.get_duration_ms('socks:1', 't') == 5000
    try:
        cfg.get_uint('socks:1', 'listen')
        raise AssertionError('get_uint of "127.0.0.1:0" raised no ConfigError')
    except proxykit.ConfigError as e:
        assert 'listen' in e.message, e.message

    # SOCKS server with a fetch, a probe and a watchdog round through it
    with proxykit.SocksServer(listen='127.0.0.1:0', egress=egress, users={'u': 'p'}) as server:
        c = socks.socksocket()
        c.set_proxy(socks.SOCKS5, '127.0.0.1', server.port, username='u', password='p')
        c.connect(('127.0.0.1', port))
        c.sendall(b'hello')
        assert c.recv(5) == b'hello'
        c.close()
    assert server.stats()['sessions_total'] == 1
    with proxykit.SocksServer(listen='127.0.0.1:0') as open_server:
        probe = proxykit.Probe.socks('127.0.0.1', open_server.port, '127.0.0.1', port)
        assert probe.run(timeout=10).ok
        events = []
        wd = proxykit.Watchdog('leak', [probe], fall=1, rise=1,
                               on_state_change=lambda old, new: events.append(new))
        assert wd.check(timeout=20) == 'up'
        wd.close()

    # Relay, metrics
    with proxykit.Relay() as relay:
        relay.add_rule(in_port=0, out_host='127.0.0.1', out_port=port, listen_address='127.0.0.1')
        with socket.create_connection(('127.0.0.1', relay.local_port()), timeout=10) as c:
            c.sendall(b'r')
            assert c.recv(1) == b'r'
        relay.status()
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        free = s.getsockname()[1]
    cfg = proxykit.Config(data=f'[relay:leak]\nlisten = 127.0.0.1:{free}\ntarget = 127.0.0.1:{port}\n', environ={})
    with proxykit.Relay.from_config(cfg).start() as relay:
        relay.reload(cfg)
        relay.prometheus()
    assert 'tcp' in proxykit.MetricsSampler(watch_ports=[port]).sample()

    # HiLink rotation against the emulator
    if len(argv) > 1:
        emu = subprocess.Popen([argv[1], '--delay-ms', '100'], stdout=subprocess.PIPE, text=True)
        url = emu.stdout.readline().split()[2]
        modem = proxykit.HilinkModem(url, egress_address='127.0.0.1')
        r = modem.rotate(settle=0.05, poll_interval=0.05, attempt_timeout=10)
        assert r['new_ip'] != r['old_ip']
        assert modem.device_info()
        emu.terminate()
        emu.wait()
        emu.stdout.close()
        del modem

    srv.close()
    del egress, cfg, server, open_server, probe, wd, relay
    gc.collect()
    print('main cases done', flush=True)
    return check_instances()


def check_instances():
    from proxykit import _loop
    _loop.stop()
    live = _loop.live_objects()
    print('live objects:', live, flush=True)
    return 1 if live else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
