"""pk-socks, the built binary, driven by real clients on loopback.

curl (--socks5, --socks5-hostname, with and without user:password) against
a local HTTP server, python3-socks for CONNECT and UDP ASSOCIATE, signals,
and the command line's errors. Run with Debian's /usr/bin/python3 -m pytest;
PK_BUILDDIR names the build directory.
"""
import http.server
import json
import os
import signal
import socket
import subprocess
import threading
import time

import pytest
import socks

BUILDDIR = os.environ.get('PK_BUILDDIR', os.path.join(os.path.dirname(__file__), '..', 'build'))
PK_SOCKS = os.path.join(BUILDDIR, 'cli', 'pk-socks')

# Nothing from the caller's environment may send curl or pk-socks elsewhere.
CLEAN_ENV = {k: v for k, v in os.environ.items()
             if not k.lower().endswith('_proxy') and not k.startswith('SOCKS_')
             and k not in ('PROXYKIT_CONFIG', 'NOTIFY_SOCKET')}


def wait_for(cond, timeout=10.0, what='condition'):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f'timed out waiting for {what}')


class PkSocks:
    """One pk-socks process; its ports come from --port-file."""

    def __init__(self, tmp_path, *args, env=None, listen=True):
        self.port_file = tmp_path / f'ports-{id(self)}'
        self.log = tmp_path / f'log-{id(self)}'
        argv = [PK_SOCKS, '--port-file', str(self.port_file), '--verbose']
        if listen:
            argv += ['--listen', '127.0.0.1:0']
        argv += list(args)
        full_env = dict(CLEAN_ENV)
        full_env.update(env or {})
        self.logf = open(self.log, 'w')
        self.proc = subprocess.Popen(argv, stdout=self.logf, stderr=subprocess.STDOUT, env=full_env)
        wait_for(lambda: self.port_file.exists() or self.proc.poll() is not None,
                 what='pk-socks to listen')
        if self.proc.poll() is not None:
            raise AssertionError(f'pk-socks exited with {self.proc.returncode}: {self.log.read_text()}')
        self.read_ports()

    def read_ports(self):
        """The ports of the port file, read again (a reload rewrites it)."""
        self.ports = {}
        for line in self.port_file.read_text().splitlines():
            name, address = line.split()
            self.ports.setdefault(name, []).append(int(address.rsplit(':', 1)[1]))
        return self.ports

    def reloads(self):
        """How many reloads have ended: done, incomplete or refused."""
        return sum(self.log_text().count(f'reload {end}') for end in ('done', 'incomplete', 'refused'))

    def reload(self):
        """SIGHUP, then waits for the reload to end; returns its log lines."""
        before = len(self.log_text())
        n = self.reloads()
        self.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: self.reloads() > n, what='the reload')
        return self.log_text()[before:]

    @property
    def port(self):
        return next(iter(self.ports.values()))[0]

    def log_text(self):
        return self.log.read_text()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()
        return self.proc.returncode


@pytest.fixture
def pk_socks(tmp_path):
    started = []

    def start(*args, **kwargs):
        p = PkSocks(tmp_path, *args, **kwargs)
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()


def run_pk_socks(*args, env=None):
    full_env = dict(CLEAN_ENV)
    full_env.update(env or {})
    return subprocess.run([PK_SOCKS] + list(args), capture_output=True, text=True,
                          env=full_env, timeout=20)


@pytest.fixture(scope='module')
def http_server(tmp_path_factory):
    root = tmp_path_factory.mktemp('www')
    (root / 'hello.txt').write_text('hello through the proxy\n')

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope='module')
def tcp_echo():
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(16)
    stop = threading.Event()

    def serve(conn):
        with conn:
            while True:
                data = conn.recv(4096)
                if not data:
                    break
                conn.sendall(data)

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    listener.close()


@pytest.fixture(scope='module')
def udp_echo():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(('127.0.0.1', 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(65535)
            except OSError:
                continue
            sock.sendto(data, peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    stop.set()
    thread.join()
    sock.close()


def curl(*args):
    return subprocess.run(['curl', '--silent', '--show-error', '--max-time', '20'] + list(args),
                          capture_output=True, text=True, env=CLEAN_ENV, timeout=30)


def socks_connect(proxy_port, dest_port, username=None, password=None):
    s = socks.socksocket()
    s.set_proxy(socks.SOCKS5, '127.0.0.1', proxy_port, rdns=False,
                username=username, password=password)
    s.settimeout(10)
    s.connect(('127.0.0.1', dest_port))
    return s


def echo_once(s, payload):
    s.sendall(payload)
    got = b''
    while len(got) < len(payload):
        chunk = s.recv(4096)
        assert chunk, 'connection closed before the echo came back'
        got += chunk
    assert got == payload


# --- curl ---

def test_curl_socks5(pk_socks, http_server):
    p = pk_socks()
    r = curl('--socks5', f'127.0.0.1:{p.port}', f'http://127.0.0.1:{http_server}/hello.txt')
    assert r.returncode == 0, r.stderr
    assert r.stdout == 'hello through the proxy\n'


def test_curl_socks5_hostname(pk_socks, http_server):
    p = pk_socks()
    r = curl('--socks5-hostname', f'127.0.0.1:{p.port}', f'http://localhost:{http_server}/hello.txt')
    assert r.returncode == 0, r.stderr
    assert r.stdout == 'hello through the proxy\n'
    # The name went to the proxy, which logged it as the destination.
    wait_for(lambda: f'dest=localhost:{http_server}' in p.log_text(), what='the session log line')


def test_curl_with_password(pk_socks, http_server, tmp_path):
    users = tmp_path / 'users'
    users.write_text('alice:wonder land\n')
    p = pk_socks('--users', str(users))
    url = f'http://127.0.0.1:{http_server}/hello.txt'

    r = curl('--socks5', f'127.0.0.1:{p.port}', '--proxy-user', 'alice:wonder land', url)
    assert r.returncode == 0, r.stderr
    assert r.stdout == 'hello through the proxy\n'

    r = curl('--socks5-hostname', f'127.0.0.1:{p.port}', '--proxy-user', 'alice:wrong', url)
    assert r.returncode != 0
    r = curl('--socks5', f'127.0.0.1:{p.port}', url)
    assert r.returncode != 0
    log = wait_for(lambda: 'result=auth-failed' in p.log_text() and p.log_text(), what='auth failure log')
    assert "wrong password for user 'alice'" in log


# --- python3-socks ---

def test_pysocks_connect(pk_socks, tcp_echo):
    p = pk_socks()
    with socks_connect(p.port, tcp_echo) as s:
        echo_once(s, b'x' * 100000)


def test_pysocks_udp_associate(pk_socks, udp_echo):
    p = pk_socks()
    s = socks.socksocket(socket.AF_INET, socket.SOCK_DGRAM)
    s.set_proxy(socks.SOCKS5, '127.0.0.1', p.port)
    s.settimeout(10)
    try:
        for payload in (b'first datagram', b'second datagram'):
            s.sendto(payload, ('127.0.0.1', udp_echo))
            data, source = s.recvfrom(65535)
            assert data == payload
            assert source == ('127.0.0.1', udp_echo)
    finally:
        s.close()
    # Closing the control connection ends the association.
    wait_for(lambda: 'result=succeeded' in p.log_text(), what='the UDP session to end')
    # The line names where the datagrams went, not the request's address
    # (PySocks sends "0": the log said dest=0:PORT).
    line = next(l for l in p.log_text().splitlines() if 'cmd=udp-associate' in l)
    assert f' dest=127.0.0.1:{udp_echo} ' in line, line


def test_quiet_leaves_out_session_lines(pk_socks, tcp_echo):
    loud = pk_socks()
    quiet = pk_socks('--quiet')
    for p in (loud, quiet):
        with socks_connect(p.port, tcp_echo) as s:
            echo_once(s, b'quiet')
    # The same session ends in both; only the loud one says so.
    wait_for(lambda: 'result=succeeded' in loud.log_text(), what='the session line')
    assert quiet.stop() == 0
    log = quiet.log_text()
    assert 'result=' not in log, log
    assert 'stopped' in log, 'other lines are still logged'


@pytest.fixture
def dns_server():
    """A nameserver on loopback that answers A queries for *.farm.test with
    127.0.0.1 and NXDOMAIN otherwise, and counts its queries."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(('127.0.0.1', 0))
    sock.settimeout(0.2)
    stop = threading.Event()
    queries = []

    def serve():
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(512)
            except OSError:
                continue
            # Question: the name's labels, then QTYPE and QCLASS.
            pos, labels = 12, []
            while data[pos]:
                labels.append(data[pos + 1:pos + 1 + data[pos]].decode())
                pos += 1 + data[pos]
            qtype = int.from_bytes(data[pos + 1:pos + 3], 'big')
            question = data[12:pos + 5]
            name = '.'.join(labels)
            queries.append((name, qtype))
            known = name.endswith('farm.test')
            answers = b''
            if known and qtype == 1:
                answers = (b'\xc0\x0c' + (1).to_bytes(2, 'big') + (1).to_bytes(2, 'big')
                           + (60).to_bytes(4, 'big') + (4).to_bytes(2, 'big') + socket.inet_aton('127.0.0.1'))
            flags = 0x8180 if known else 0x8183
            header = (data[:2] + flags.to_bytes(2, 'big') + (1).to_bytes(2, 'big')
                      + (1 if answers else 0).to_bytes(2, 'big') + bytes(4))
            sock.sendto(header + question + answers, peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1], queries
    stop.set()
    thread.join()
    sock.close()


def test_egress_dns(pk_socks, http_server, dns_server):
    """Names are resolved by the egress's own nameserver, not the host's."""
    dns_port, queries = dns_server
    p = pk_socks('--egress-dns', f'127.0.0.1:{dns_port}')
    r = curl('--socks5-hostname', f'127.0.0.1:{p.port}', f'http://www.farm.test:{http_server}/hello.txt')
    assert r.returncode == 0, r.stderr + p.log_text()
    assert r.stdout == 'hello through the proxy\n'
    assert ('www.farm.test', 1) in queries

    # A name the egress's nameserver does not know: host unreachable.
    r = curl('--socks5-hostname', f'127.0.0.1:{p.port}', f'http://nowhere.example.test:{http_server}/')
    assert r.returncode != 0
    wait_for(lambda: 'result=host-unreachable' in p.log_text(), what='the failed resolution')


# --- signals ---

def test_sighup_keeps_live_session(pk_socks, tcp_echo, tmp_path):
    users = tmp_path / 'users'
    users.write_text('alice:one\n')
    p = pk_socks('--users', str(users))

    live = socks_connect(p.port, tcp_echo, 'alice', 'one')
    echo_once(live, b'before')

    users.write_text('bob:two\n')
    p.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: 'reload done' in p.log_text(), what='the reload')

    echo_once(live, b'after the reload')
    with pytest.raises(socks.ProxyError):
        socks_connect(p.port, tcp_echo, 'alice', 'one')
    with socks_connect(p.port, tcp_echo, 'bob', 'two') as s:
        echo_once(s, b'bob is in')
    echo_once(live, b'still alive')
    live.close()
    assert p.proc.poll() is None


def test_sighup_rereads_allowlist(pk_socks, tmp_path, http_server):
    conf = tmp_path / 'proxykit.conf'
    conf.write_text('[socks:1]\nlisten = 127.0.0.1:0\nallow = 10.0.0.0/8\n')
    p = pk_socks('--config', str(conf), listen=False)
    url = f'http://127.0.0.1:{http_server}/hello.txt'
    assert curl('--socks5', f'127.0.0.1:{p.port}', url).returncode != 0

    conf.write_text('[socks:1]\nlisten = 127.0.0.1:0\nallow = 10.0.0.0/8, 127.0.0.1\n')
    p.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: 'reload done' in p.log_text(), what='the reload')
    r = curl('--socks5', f'127.0.0.1:{p.port}', url)
    assert r.returncode == 0, r.stderr

    # A broken file on reload keeps the running settings.
    conf.write_text('[socks:1]\nlisten = 127.0.0.1:0\nallow = 10.0.0.0/99\n')
    log = p.reload()
    assert '10.0.0.0/99' in log
    assert 'reload done' not in log
    assert curl('--socks5', f'127.0.0.1:{p.port}', url).returncode == 0


def test_sighup_refuses_open_proxy(pk_socks, tcp_echo, tmp_path):
    """Emptying the users file of a public listener is refused on reload."""
    users = tmp_path / 'users'
    users.write_text('alice:one\n')
    p = pk_socks('--listen', '0.0.0.0:0', '--users', str(users), '--allow-host-destinations',
                 listen=False)

    users.write_text('# alice:one\n')
    log = p.reload()
    assert 'neither users nor a client allowlist' in log
    assert 'reload done' not in log
    with pytest.raises(socks.ProxyError):
        socks_connect(p.port, tcp_echo)
    with socks_connect(p.port, tcp_echo, 'alice', 'one') as s:
        echo_once(s, b'alice is still required')

    # A users file that names someone again is taken.
    users.write_text('bob:two\n')
    assert 'reload done' in p.reload()
    with socks_connect(p.port, tcp_echo, 'bob', 'two') as s:
        echo_once(s, b'bob is in')


def free_port():
    """A port nothing listens on now (bound once, then closed)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def refused(port, tcp_echo):
    try:
        socks_connect(port, tcp_echo).close()
    except OSError:
        return True
    return False


def test_sighup_adds_and_removes_listeners(pk_socks, tcp_echo, tmp_path):
    """A reload starts a new [socks:N], stops a removed one, and keeps an
    unchanged one with its open session."""
    conf = tmp_path / 'proxykit.conf'
    conf.write_text('[socks:keep]\nlisten = 127.0.0.1:0\n\n[socks:gone]\nlisten = 127.0.0.1:0\n')
    p = pk_socks('--config', str(conf), listen=False)
    keep, gone = p.ports['keep'][0], p.ports['gone'][0]
    live = socks_connect(keep, tcp_echo)
    echo_once(live, b'before')

    conf.write_text('[socks:keep]\nlisten = 127.0.0.1:0\n\n[socks:new]\nlisten = 127.0.0.1:0\n')
    log = p.reload()
    assert 'reload done' in log, log
    ports = p.read_ports()
    assert sorted(ports) == ['keep', 'new']
    assert ports['keep'] == [keep]
    with socks_connect(ports['new'][0], tcp_echo) as s:
        echo_once(s, b'the new listener answers')
    assert refused(gone, tcp_echo)
    echo_once(live, b'the kept session goes on')
    with socks_connect(keep, tcp_echo) as s:
        echo_once(s, b'the kept listener answers')
    live.close()
    assert p.proc.poll() is None


def test_sighup_moves_listener(pk_socks, tcp_echo, tmp_path):
    """A listener whose listen address changed is started again there."""
    first, second = free_port(), free_port()
    conf = tmp_path / 'proxykit.conf'
    conf.write_text(f'[socks:a]\nlisten = 127.0.0.1:{first}\n')
    p = pk_socks('--config', str(conf), listen=False)
    assert p.ports['a'] == [first]

    conf.write_text(f'[socks:a]\nlisten = 127.0.0.1:{second}\n')
    assert 'reload done' in p.reload()
    assert p.read_ports()['a'] == [second]
    with socks_connect(second, tcp_echo) as s:
        echo_once(s, b'moved')
    assert refused(first, tcp_echo)


def test_sighup_listener_port_in_use(pk_socks, tcp_echo, tmp_path):
    """A listener that cannot bind is named, the others still start, and
    the log does not say the reload is done."""
    conf = tmp_path / 'proxykit.conf'
    conf.write_text('[socks:a]\nlisten = 127.0.0.1:0\n')
    p = pk_socks('--config', str(conf), listen=False)
    with socket.socket() as taken:
        taken.bind(('127.0.0.1', 0))
        taken.listen()
        port = taken.getsockname()[1]
        conf.write_text(f'[socks:a]\nlisten = 127.0.0.1:0\n\n[socks:busy]\nlisten = 127.0.0.1:{port}\n'
                        '\n[socks:ok]\nlisten = 127.0.0.1:0\n')
        log = p.reload()
    assert 'reload done' not in log, log
    assert 'listener busy not started' in log
    assert 'reload incomplete' in log and 'busy' in log.split('reload incomplete')[1]
    ports = p.read_ports()
    assert sorted(ports) == ['a', 'ok']
    with socks_connect(ports['ok'][0], tcp_echo) as s:
        echo_once(s, b'the others start')

    # Once the port is free, the next reload starts the listener.
    assert 'reload done' in p.reload()
    assert p.read_ports()['busy'] == [port]


def test_sighup_bad_section_refused(pk_socks, tcp_echo, tmp_path):
    """A new section that does not parse refuses the whole reload: the
    running listeners stay, a removed one included."""
    conf = tmp_path / 'proxykit.conf'
    conf.write_text('[socks:a]\nlisten = 127.0.0.1:0\n\n[socks:b]\nlisten = 127.0.0.1:0\n')
    p = pk_socks('--config', str(conf), listen=False)
    conf.write_text('[socks:a]\nlisten = 127.0.0.1:0\n\n[socks:c]\nlisten = 127.0.0.1:0\nttl = 999\n')
    log = p.reload()
    assert 'reload refused' in log and 'reload done' not in log, log
    assert '[socks:c]' in log
    with socks_connect(p.ports['b'][0], tcp_echo) as s:
        echo_once(s, b'b stays')


def test_sigterm_drains(pk_socks, tcp_echo):
    p = pk_socks('--drain-timeout', '20s')
    live = socks_connect(p.port, tcp_echo)
    echo_once(live, b'busy')

    p.proc.send_signal(signal.SIGTERM)
    wait_for(lambda: 'stopping' in p.log_text(), what='the stop')
    # New clients are refused while the live session goes on.
    with pytest.raises(OSError):
        socks_connect(p.port, tcp_echo)
    echo_once(live, b'draining')
    assert p.proc.poll() is None
    live.close()
    assert p.proc.wait(timeout=10) == 0


def test_sd_notify(tmp_path, tcp_echo):
    """Under systemd: READY=1 once listening, STOPPING=1 on SIGTERM."""
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / 'notify')
    notify.bind(path)
    notify.settimeout(10)
    p = PkSocks(tmp_path, env={'NOTIFY_SOCKET': path})
    try:
        messages = notify.recv(4096).decode()
        assert 'READY=1' in messages.split('\n')
        p.proc.send_signal(signal.SIGTERM)
        while 'STOPPING=1' not in messages.split('\n'):
            messages = notify.recv(4096).decode()
        assert p.proc.wait(timeout=10) == 0
    finally:
        p.stop()
        notify.close()


# --- configuration and command line ---

def test_config_listeners(pk_socks, tmp_path, http_server):
    users = tmp_path / 'users'
    users.write_text('carol:pw\n')
    conf = tmp_path / 'proxykit.conf'
    conf.write_text(f"""
[socks:11]
listen = 127.0.0.1:0
idle-timeout = 5m

[socks:12]
listen = 127.0.0.1:0
users = {users}
max-sessions-per-client = 4

[watchdog]
interval = 10
""")
    p = pk_socks('--config', str(conf), listen=False)
    assert sorted(p.ports) == ['11', '12']
    url = f'http://127.0.0.1:{http_server}/hello.txt'
    r = curl('--socks5', f'127.0.0.1:{p.ports["11"][0]}', url)
    assert r.returncode == 0, r.stderr
    r = curl('--socks5', f'127.0.0.1:{p.ports["12"][0]}', url)
    assert r.returncode != 0
    r = curl('--socks5', f'127.0.0.1:{p.ports["12"][0]}', '--proxy-user', 'carol:pw', url)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize('args,needle', [
    (['--bogus'], '--bogus'),
    (['--ttl', '300'], '--ttl'),
    (['--fwmark', 'x'], '--fwmark'),
    (['--connect-timeout', 'soon'], '--connect-timeout'),
    (['--allow', '10.0.0.0/99'], '--allow'),
    (['--egress-address', 'not-an-ip'], '--egress-address'),
    (['--egress-dns', 'dns.example'], '--egress-dns'),
    (['--listen', '127.0.0.1:99999'], '--listen'),
    (['--users', '/nonexistent/users'], '--users'),
    (['extra-argument'], 'extra-argument'),
])
def test_bad_flag_exits_2(args, needle):
    r = run_pk_socks(*args)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert needle in lines[0]


def test_bad_config_line_exits_2(tmp_path):
    conf = tmp_path / 'proxykit.conf'
    conf.write_text('[socks:1]\nlisten = 127.0.0.1:0\nconect-timeout = 5\n')
    r = run_pk_socks('--config', str(conf))
    assert r.returncode == 2
    assert ':3:' in r.stderr and 'conect-timeout' in r.stderr

    conf.write_text('[socks:1]\nlisten = 127.0.0.1:0\n\nmax-sessions = lots\n')
    r = run_pk_socks('--config', str(conf))
    assert r.returncode == 2
    assert ':4:' in r.stderr and 'max-sessions' in r.stderr


def test_precedence_flag_env_config(tmp_path, pk_socks):
    conf = tmp_path / 'proxykit.conf'
    conf.write_text('[socks:1]\nlisten = 127.0.0.1:0\nconnect-timeout = 7s\n')
    # The environment overrides the file: a bad value there is the error.
    r = run_pk_socks('--config', str(conf), env={'SOCKS_CONNECT_TIMEOUT': 'never'})
    assert r.returncode == 2
    assert 'environment variable SOCKS_CONNECT_TIMEOUT' in r.stderr
    # A flag overrides both.
    p = pk_socks('--config', str(conf), '--connect-timeout', '3s', listen=False,
                  env={'SOCKS_CONNECT_TIMEOUT': 'never'})
    assert p.proc.poll() is None


def test_open_non_loopback_refused():
    r = run_pk_socks('--listen', '0.0.0.0:0')
    assert r.returncode == 2
    assert '--allow-open' in r.stderr and 'allowlist' in r.stderr


def test_allowlisted_non_loopback_starts(pk_socks, http_server):
    p = pk_socks('--listen', '0.0.0.0:0', '--allow', '127.0.0.1', listen=False)
    # Non-loopback listener: the host's own addresses are refused.
    r = curl('--socks5', f'127.0.0.1:{p.port}', f'http://127.0.0.1:{http_server}/hello.txt')
    assert r.returncode != 0
    wait_for(lambda: 'result=not-allowed' in p.log_text(), what='the refusal')


@pytest.mark.parametrize('workers', ['1', '2'])
def test_port_in_use_exits_1(pk_socks, tcp_echo, workers):
    """A second pk-socks on a port another one serves fails, rather than
    taking half of its connections (SO_REUSEPORT). The first keeps all."""
    first = pk_socks('--workers', workers)
    r = run_pk_socks('--listen', f'127.0.0.1:{first.port}', '--workers', workers)
    assert r.returncode == 1, r.stderr
    assert 'Address already in use' in r.stderr
    for _ in range(6):
        with socks_connect(first.port, tcp_echo) as s:
            echo_once(s, b'still the first one')
    wait_for(lambda: first.log_text().count('result=succeeded') == 6, what='six sessions on the first')


def test_reuse_port_shares(pk_socks, tcp_echo):
    """--reuse-port on both: they share the port (a restart without downtime)."""
    first = pk_socks('--reuse-port')
    second = pk_socks('--reuse-port', '--listen', f'127.0.0.1:{first.port}', listen=False)
    assert second.port == first.port
    first.stop()
    with socks_connect(second.port, tcp_echo) as s:
        echo_once(s, b'served by the second')


def test_version_and_help():
    r = run_pk_socks('--version')
    assert r.returncode == 0 and 'pk-socks' in r.stdout
    r = run_pk_socks('--help')
    assert r.returncode == 0 and '--listen' in r.stdout and '--allow-open' in r.stdout


def test_sample_config_checks(tmp_path):
    """data/proxykit.conf, the sample, is a valid configuration."""
    srcdir = os.environ.get('PK_SRCDIR', os.path.join(os.path.dirname(__file__), '..'))
    users = tmp_path / 'users'
    users.write_text('farm:secret\n')
    sample = open(os.path.join(srcdir, 'data', 'proxykit.conf')).read()
    conf = tmp_path / 'proxykit.conf'
    conf.write_text(sample.replace('/etc/proxykit/users', str(users)))
    r = run_pk_socks('--check', '--config', str(conf))
    assert r.returncode == 0, r.stderr
    assert 'configuration OK: 2 listener(s)' in r.stdout

    # Its [tunnel:NAME] and [watchdog] sections are valid for pk-watchdog
    # (--status reads the state directory and the config; it sends nothing).
    state_dir = tmp_path / 'state'
    state_dir.mkdir()
    r = subprocess.run([os.path.join(os.environ['PK_BUILDDIR'], 'cli', 'pk-watchdog'),
                        '--status', '--json', '--config', str(conf), '--state-dir', str(state_dir)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert [n['name'] for n in json.loads(r.stdout)] == ['vpn1']

    # --check finds what a start would refuse.
    conf.write_text('[socks:open]\nlisten = 0.0.0.0:10011\n')
    r = run_pk_socks('--check', '--config', str(conf))
    assert r.returncode == 2 and 'allow-open' in r.stderr
    conf.write_text('[socks:bad]\nlisten = eth0:10011\n')
    r = run_pk_socks('--check', '--config', str(conf))
    assert r.returncode == 2 and '[socks:bad] listen' in r.stderr
