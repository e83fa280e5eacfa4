"""/metrics of pk-socks, pk-relay and pk-watchdog (--metrics-listen and the
metrics-listen key), scraped over loopback after real traffic went through
each daemon: the counters must have moved, and the text must pass
`promtool check metrics` when promtool is installed.

Run with Debian's /usr/bin/python3 -m pytest; PK_BUILDDIR names the build
directory.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import pytest
import socks

BUILDDIR = os.environ.get('PK_BUILDDIR', os.path.join(os.path.dirname(__file__), '..', 'build'))
CLI = os.path.join(BUILDDIR, 'cli')
PROMTOOL = shutil.which('promtool')

CLEAN_ENV = {k: v for k, v in os.environ.items()
             if not k.lower().endswith('_proxy') and not k.startswith(('SOCKS_', 'RELAY', 'WATCHDOG_'))
             and k not in ('PROXYKIT_CONFIG', 'NOTIFY_SOCKET')}


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_for(cond, timeout=10.0, what='condition'):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f'timed out waiting for {what}')


class Daemon:
    def __init__(self, tmp_path, argv, env=None):
        self.log = tmp_path / f'log-{os.path.basename(argv[0])}-{id(self)}'
        self.logf = open(self.log, 'w')
        full_env = dict(CLEAN_ENV)
        full_env['PROXYKIT_CONFIG'] = str(tmp_path / 'empty.conf')
        (tmp_path / 'empty.conf').touch()
        full_env.update(env or {})
        self.proc = subprocess.Popen(argv, stdout=self.logf, stderr=subprocess.STDOUT, env=full_env)
        self.url = wait_for(self._metrics_url, what=f'{argv[0]} to serve /metrics')

    def _metrics_url(self):
        if self.proc.poll() is not None:
            raise AssertionError(f'exited with {self.proc.returncode}: {self.log.read_text()}')
        m = re.search(r'metrics on (http://\S+/metrics)', self.log.read_text())
        return m and m.group(1)

    def scrape(self):
        with urllib.request.urlopen(self.url, timeout=10) as r:
            assert r.status == 200
            assert r.headers['Content-Type'].startswith('text/plain; version=0.0.4')
            text = r.read().decode()
        if PROMTOOL is not None:
            out = subprocess.run([PROMTOOL, 'check', 'metrics'], input=text, capture_output=True, text=True)
            assert out.returncode == 0, out.stdout + out.stderr + text
        return text

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()


@pytest.fixture
def daemons():
    started = []
    yield lambda *a, **kw: started.append(Daemon(*a, **kw)) or started[-1]
    for d in started:
        d.stop()


def sample(text, name, **labels):
    """The value of the sample of @name with exactly @labels, or None."""
    for line in text.splitlines():
        m = re.match(r'^(\w+)(?:\{(.*)\})? (\S+)$', line)
        if m is None or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ''))
        if got == {k: str(v) for k, v in labels.items()}:
            return float(m.group(3))
    return None


class EchoServer:
    """A TCP server on 127.0.0.1 that sends back what it reads."""

    def __init__(self):
        self.sock = socket.create_server(('127.0.0.1', 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn):
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    def close(self):
        self.sock.close()


@pytest.fixture
def echo():
    server = EchoServer()
    yield server
    server.close()


def exchange(sock, payload):
    sock.sendall(payload)
    got = b''
    while len(got) < len(payload):
        chunk = sock.recv(65536)
        assert chunk, 'connection closed early'
        got += chunk
    assert got == payload


def test_socks_metrics_count_sessions_results_and_bytes(tmp_path, daemons, echo):
    port = free_port()
    d = daemons(tmp_path, [os.path.join(CLI, 'pk-socks'), '--listen', '127.0.0.1:0', '--workers', '1',
                           '--port-file', str(tmp_path / 'ports'), '--metrics-listen', f'127.0.0.1:{port}'])
    socks_port = int(wait_for(lambda: (tmp_path / 'ports').exists() and (tmp_path / 'ports').read_text())
                     .split()[1].rsplit(':', 1)[1])
    before = d.scrape()
    assert sample(before, 'proxykit_socks_sessions_total', listener='main', result='succeeded') == 0
    assert sample(before, 'proxykit_socks_bytes_total', listener='main', direction='up') == 0

    payload = b'x' * 5000
    for _ in range(2):
        s = socks.socksocket()
        s.set_proxy(socks.SOCKS5, '127.0.0.1', socks_port)
        s.connect(('127.0.0.1', echo.port))
        exchange(s, payload)
        s.close()
    # a destination nobody listens on: a connect error
    closed = free_port()
    s = socks.socksocket()
    s.set_proxy(socks.SOCKS5, '127.0.0.1', socks_port)
    with pytest.raises(socks.ProxyError):
        s.connect(('127.0.0.1', closed))
    s.close()

    text = wait_for(lambda: (t := d.scrape()) and
                    sample(t, 'proxykit_socks_sessions_total', listener='main', result='succeeded') == 2 and
                    sample(t, 'proxykit_socks_sessions_total', listener='main', result='connection-refused') == 1
                    and t, what='the sessions to be counted')
    assert sample(text, 'proxykit_socks_bytes_total', listener='main', direction='up') == 10000
    assert sample(text, 'proxykit_socks_bytes_total', listener='main', direction='down') == 10000
    assert sample(text, 'proxykit_socks_sessions_active', listener='main') == 0
    assert sample(text, 'proxykit_socks_sessions_total', listener='main', result='auth-failed') == 0


def test_socks_metrics_latency_histograms(tmp_path, daemons, echo):
    """A client that takes 0.3 s between its greeting and its request
    lands in the handshake histogram above the 0.25 s bucket; connects
    are timed only when they succeed. (--metrics is the short name.)"""
    port = free_port()
    d = daemons(tmp_path, [os.path.join(CLI, 'pk-socks'), '--listen', '127.0.0.1:0', '--workers', '1',
                           '--port-file', str(tmp_path / 'ports'), '--metrics', f'127.0.0.1:{port}'])
    socks_port = int(wait_for(lambda: (tmp_path / 'ports').exists() and (tmp_path / 'ports').read_text())
                     .split()[1].rsplit(':', 1)[1])
    bucket = 'proxykit_socks_handshake_seconds_bucket'
    before = d.scrape()
    assert sample(before, 'proxykit_socks_handshake_seconds_count', listener='main') == 0
    assert sample(before, bucket, listener='main', le='+Inf') == 0

    with socket.create_connection(('127.0.0.1', socks_port), timeout=10) as s:
        s.sendall(b'\x05\x01\x00')
        assert s.recv(2) == b'\x05\x00'
        time.sleep(0.3)
        s.sendall(b'\x05\x01\x00\x01' + socket.inet_aton('127.0.0.1') + echo.port.to_bytes(2, 'big'))
        assert s.recv(10)[:2] == b'\x05\x00'
        exchange(s, b'ping')
    s = socks.socksocket()
    s.set_proxy(socks.SOCKS5, '127.0.0.1', socks_port)
    with pytest.raises(socks.ProxyError):
        s.connect(('127.0.0.1', free_port()))
    s.close()

    text = wait_for(lambda: (t := d.scrape()) and
                    sample(t, 'proxykit_socks_handshake_seconds_count', listener='main') == 2 and t,
                    what='both handshakes to be timed')
    assert sample(text, bucket, listener='main', le='0.25') <= 1
    assert sample(text, bucket, listener='main', le='+Inf') == 2
    assert sample(text, 'proxykit_socks_handshake_seconds_sum', listener='main') >= 0.3
    # the refused connect is not timed
    assert sample(text, 'proxykit_socks_connect_seconds_count', listener='main') == 1
    assert sample(text, 'proxykit_socks_connect_seconds_bucket', listener='main', le='+Inf') == 1


def test_socks_metrics_listen_from_config(tmp_path, daemons):
    port = free_port()
    conf = tmp_path / 'pk.conf'
    conf.write_text(f'[socks]\nlisten = 127.0.0.1:0\nmetrics-listen = 127.0.0.1:{port}\n'
                    '[socks:second]\nlisten = 127.0.0.1:0\n')
    d = daemons(tmp_path, [os.path.join(CLI, 'pk-socks'), '--config', str(conf), '--workers', '1'])
    assert d.url == f'http://127.0.0.1:{port}/metrics'
    text = d.scrape()
    assert sample(text, 'proxykit_socks_sessions_active', listener='main') == 0
    assert sample(text, 'proxykit_socks_sessions_active', listener='second') == 0


def test_socks_metrics_listen_in_a_named_section_is_an_error(tmp_path):
    """One /metrics serves every listener: metrics-listen in [socks:NAME]
    would be ignored, so it is refused, naming the file, line and section."""
    conf = tmp_path / 'pk.conf'
    conf.write_text('[socks:second]\nlisten = 127.0.0.1:0\nmetrics-listen = 127.0.0.1:9111\n')
    out = subprocess.run([os.path.join(CLI, 'pk-socks'), '--config', str(conf), '--check'],
                         capture_output=True, text=True, env=dict(CLEAN_ENV), timeout=30)
    assert out.returncode == 2, out.stderr
    assert 'pk.conf:3' in out.stderr and '[socks:second] metrics-listen' in out.stderr, out.stderr
    assert 'belongs in [socks]' in out.stderr


def test_socks_section_with_only_metrics_listen_adds_no_listener(tmp_path, daemons):
    port = free_port()
    conf = tmp_path / 'pk.conf'
    conf.write_text(f'[socks]\nmetrics-listen = {port}\n[socks:only]\nlisten = 127.0.0.1:0\n')
    d = daemons(tmp_path, [os.path.join(CLI, 'pk-socks'), '--config', str(conf), '--workers', '1',
                           '--port-file', str(tmp_path / 'ports')])
    assert d.url == f'http://127.0.0.1:{port}/metrics'
    wait_for(lambda: (tmp_path / 'ports').exists(), what='the port file')
    assert [line.split()[0] for line in (tmp_path / 'ports').read_text().splitlines()] == ['only']
    text = d.scrape()
    assert sample(text, 'proxykit_socks_sessions_active', listener='only') == 0
    assert sample(text, 'proxykit_socks_sessions_active', listener='main') is None


def test_socks_without_the_flag_serves_no_metrics(tmp_path):
    log = tmp_path / 'log'
    (tmp_path / 'empty.conf').touch()
    env = dict(CLEAN_ENV, PROXYKIT_CONFIG=str(tmp_path / 'empty.conf'))
    with open(log, 'w') as logf:
        p = subprocess.Popen([os.path.join(CLI, 'pk-socks'), '--listen', '127.0.0.1:0', '--workers', '1',
                              '--port-file', str(tmp_path / 'ports')], stdout=logf, stderr=subprocess.STDOUT, env=env)
        try:
            wait_for(lambda: (tmp_path / 'ports').exists(), what='pk-socks to listen')
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=15)
    assert 'metrics on' not in log.read_text()


def test_relay_metrics_count_connections_and_bytes(tmp_path, daemons, echo):
    port, in_port = free_port(), free_port()
    (tmp_path / 'relay.env').touch()
    d = daemons(tmp_path, [os.path.join(CLI, 'pk-relay'), '--env-file', str(tmp_path / 'relay.env'),
                           '--state-file', str(tmp_path / 'relay.json'), '--listen-address', '127.0.0.1',
                           '--workers', '1', '--metrics-listen', f'127.0.0.1:{port}',
                           f'{in_port};{echo.port};127.0.0.1;TCP'])
    rule = json.loads(wait_for(lambda: (tmp_path / 'relay.json').exists() and
                               (tmp_path / 'relay.json').read_text()))['rules'][0]['name']
    before = d.scrape()
    assert sample(before, 'proxykit_relay_connections_total', rule=rule) == 0

    for size in (1000, 3000):
        with socket.create_connection(('127.0.0.1', in_port)) as s:
            exchange(s, b'y' * size)
    text = wait_for(lambda: (t := d.scrape()) and
                    sample(t, 'proxykit_relay_bytes_total', rule=rule, direction='out') == 4000 and t,
                    what='the bytes to be counted')
    assert sample(text, 'proxykit_relay_connections_total', rule=rule) == 2
    assert sample(text, 'proxykit_relay_bytes_total', rule=rule, direction='in') == 4000
    assert sample(text, 'proxykit_relay_failed_total', rule=rule) == 0
    assert sample(text, 'proxykit_relay_healthy', rule=rule) == 1


class UdpEcho:
    """A UDP server on 127.0.0.1 that sends back what it reads."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(('127.0.0.1', 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(65536)
                self.sock.sendto(data, peer)
            except OSError:
                return


def test_relay_metrics_udp_sessions_and_rule_info(tmp_path, daemons, echo):
    udp_echo = UdpEcho()
    port, tcp_port, udp_port = free_port(), free_port(), free_port()
    conf = tmp_path / 'relay.conf'
    conf.write_text(f'[relay]\nlisten-address = 127.0.0.1\nmetrics-listen = 127.0.0.1:{port}\n'
                    f'[relay:web]\nlisten = {tcp_port}\ntarget = 127.0.0.1:{echo.port}\n'
                    f'[relay:dns]\nlisten = {udp_port}\ntarget = 127.0.0.1:{udp_echo.port}\nprotocol = udp\n')
    (tmp_path / 'relay.env').touch()
    d = daemons(tmp_path, [os.path.join(CLI, 'pk-relay'), '--config', str(conf), '--env-file', str(tmp_path / 'relay.env'),
                           '--state-file', str(tmp_path / 'relay.json'), '--workers', '1'])
    assert d.url == f'http://127.0.0.1:{port}/metrics'
    text = d.scrape()
    assert sample(text, 'proxykit_relay_rule_info', rule='web', protocol='tcp', mode='relay') == 1
    assert sample(text, 'proxykit_relay_rule_info', rule='dns', protocol='udp', mode='relay') == 1
    assert sample(text, 'proxykit_relay_udp_sessions', rule='dns') == 0
    assert sample(text, 'proxykit_relay_udp_sessions', rule='web') is None

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
        c.settimeout(10)
        for i in range(3):
            c.sendto(b'q' * 100, ('127.0.0.1', udp_port))
            assert c.recv(1000) == b'q' * 100
        text = d.scrape()
    assert sample(text, 'proxykit_relay_udp_sessions', rule='dns') == 1
    assert sample(text, 'proxykit_relay_connections_total', rule='dns') == 1
    assert sample(text, 'proxykit_relay_datagrams_total', rule='dns', direction='in') == 3
    assert sample(text, 'proxykit_relay_datagrams_total', rule='dns', direction='out') == 3
    assert sample(text, 'proxykit_relay_bytes_total', rule='dns', direction='in') == 300
    assert sample(text, 'proxykit_relay_udp_dropped_total', rule='dns') == 0
    assert sample(text, 'proxykit_relay_healthy', rule='dns') == 1


@pytest.mark.parametrize('section, where', [
    ('[relay]\nmetrics-listen = nonsense:port\n[relay:a]\n', 'relay.conf:2: [relay] metrics-listen'),
    ('[relay:a]\nmetrics-listen = 9112\n', 'relay.conf:2: [relay:a] metrics-listen'),
])
def test_relay_metrics_listen_errors_name_the_section(tmp_path, section, where):
    conf = tmp_path / 'relay.conf'
    conf.write_text(section + f'listen = 127.0.0.1:{free_port()}\ntarget = 127.0.0.1:{free_port()}\n')
    (tmp_path / 'relay.env').touch()
    out = subprocess.run([os.path.join(CLI, 'pk-relay'), '--config', str(conf), '--env-file', str(tmp_path / 'relay.env'),
                          '--state-file', str(tmp_path / 'relay.json'), '--workers', '0'],
                         capture_output=True, text=True, env=CLEAN_ENV, timeout=30)
    assert out.returncode == 2, out.stderr
    assert where in out.stderr, out.stderr


def write_node(state_dir, name, status, fails):
    (state_dir / f'{name}.json').write_text(json.dumps({
        'name': name, 'status': status, 'status_changed': 1795000000, 'reason': None,
        'tunnel': None, 'socks': None, 'dongle': None,
        'counters': {'fails': fails, 'consecutive_failures': 0, 'last_change': 1795000000}}))


def test_watchdog_metrics_node_status_and_fails(tmp_path, daemons):
    state_dir = tmp_path / 'state'
    state_dir.mkdir()
    write_node(state_dir, '11', 'ping_failed', 3)
    write_node(state_dir, '12', 'stopped', 0)
    port = free_port()
    conf = tmp_path / 'pk.conf'
    conf.write_text(f'[watchdog]\nmetrics-listen = {port}\n')
    d = daemons(tmp_path, [os.path.join(CLI, 'pk-watchdog'), '--config', str(conf), '--state-dir', str(state_dir),
                           '--run-dir', str(tmp_path), '--interval', '1h'])
    assert d.url == f'http://127.0.0.1:{port}/metrics'
    text = d.scrape()
    assert sample(text, 'proxykit_node_status', node='11', status='ping_failed') == 1
    assert sample(text, 'proxykit_node_status', node='11', status='online') == 0
    assert sample(text, 'proxykit_node_status', node='12', status='stopped') == 1
    assert sample(text, 'proxykit_node_fails_total', node='11') == 3

    # A node's state changes on disk (another process, a recovery): the
    # next scrape says so.
    write_node(state_dir, '11', 'online', 4)
    text = d.scrape()
    assert sample(text, 'proxykit_node_status', node='11', status='ping_failed') == 0
    assert sample(text, 'proxykit_node_status', node='11', status='online') == 1
    assert sample(text, 'proxykit_node_fails_total', node='11') == 4


def test_bad_metrics_address_is_a_usage_error(tmp_path):
    (tmp_path / 'empty.conf').touch()
    env = dict(CLEAN_ENV, PROXYKIT_CONFIG=str(tmp_path / 'empty.conf'))
    out = subprocess.run([os.path.join(CLI, 'pk-socks'), '--listen', '127.0.0.1:0', '--workers', '1',
                          '--metrics', 'nonsense:port'], capture_output=True, text=True, env=env, timeout=30)
    assert out.returncode == 2, out.stderr
    assert '--metrics' in out.stderr and 'nonsense:port' in out.stderr
