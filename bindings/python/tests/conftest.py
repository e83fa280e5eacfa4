"""Shared fixtures of the proxykit pytest suite.

The suite runs against the in-tree build: meson's test passes PYTHONPATH
(the build dir's bindings/python) and PK_BUILDDIR/PK_SRCDIR. Everything
listens on 127.0.0.1, port 0; nothing leaves the machine.
"""
import os
import socket
import subprocess
import sys
import threading

import pytest


@pytest.fixture
def echo_server():
    """A TCP echo server on 127.0.0.1 (in a thread); yields (host, port, peers),
    where peers collects the address of every accepted client."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(('127.0.0.1', 0))
    srv.listen(16)
    peers = []
    stop = threading.Event()

    def serve_one(conn):
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                conn.sendall(data)

    def accept_loop():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, peer = srv.accept()
            except (socket.timeout, OSError):
                continue
            conn.settimeout(None)
            peers.append(peer)
            threading.Thread(target=serve_one, args=(conn,), daemon=True).start()

    t = threading.Thread(target=accept_loop, daemon=True)
    t.start()
    yield '127.0.0.1', srv.getsockname()[1], peers
    stop.set()
    t.join()
    srv.close()


@pytest.fixture
def closed_port():
    """A loopback port where nothing listens."""
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def blackhole_port():
    """A loopback port whose accept queue is full: connects get no SYN-ACK
    and hang until their timeout."""
    lst = socket.socket()
    lst.bind(('127.0.0.1', 0))
    lst.listen(0)
    port = lst.getsockname()[1]
    fillers = []
    for _ in range(4):
        f = socket.socket()
        f.setblocking(False)
        try:
            f.connect(('127.0.0.1', port))
        except BlockingIOError:
            pass
        fillers.append(f)
    yield port
    for f in fillers:
        f.close()
    lst.close()


@pytest.fixture
def builddir():
    return os.environ.get('PK_BUILDDIR')


@pytest.fixture
def srcdir():
    return os.environ.get('PK_SRCDIR',
                          os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
                              os.path.abspath(__file__))))))


@pytest.fixture
def fake_pppd_script(srcdir, tmp_path):
    """Runs a Python script in a network namespace of its own, with
    tmp_path and tests/fake-pppd as its arguments; returns the finished
    process. Skips without root or /dev/net/tun."""
    if os.geteuid() != 0 or not os.path.exists('/dev/net/tun'):
        pytest.skip('needs root and /dev/net/tun (a network namespace and a tun device)')

    def run(text, timeout=120):
        script = tmp_path / 'netns-script.py'
        script.write_text(text)
        return subprocess.run(['unshare', '--net', sys.executable, str(script), str(tmp_path),
                               os.path.join(srcdir, 'tests', 'fake-pppd')],
                              capture_output=True, text=True, timeout=timeout)
    return run


class HilinkEmulator:
    """tests/hilink-emulator (the emulated E8372h dongles) in a subprocess."""

    def __init__(self, program, count=1, extra=()):
        import subprocess
        self.proc = subprocess.Popen(
            [program, '--count', str(count), '--delay-ms', '200', '--reboot-ms', '500', *extra],
            stdout=subprocess.PIPE, text=True)
        self.urls = {}
        for _ in range(count):
            line = self.proc.stdout.readline().split()
            assert line and line[0] == 'dongle', f'emulator said {line!r}'
            self.urls[int(line[1])] = line[2]

    @property
    def url(self):
        return next(iter(self.urls.values()))

    def control(self, url=None, **params):
        """GET /emu/control?... (busy=N, sticky=LIST, expire=1, ...)."""
        import urllib.parse
        import urllib.request
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        query = urllib.parse.urlencode(params)
        with opener.open(f'{url or self.url}/emu/control?{query}', timeout=10) as r:
            assert r.read() == b'ok\n'

    def state(self, url=None):
        import urllib.request
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f'{url or self.url}/emu/state', timeout=10) as r:
            return dict(line.split('=', 1) for line in r.read().decode().splitlines() if '=' in line)

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()


def _emulator_program():
    builddir = os.environ.get('PK_BUILDDIR')
    program = os.path.join(builddir, 'tests', 'hilink-emulator') if builddir else None
    if not program or not os.access(program, os.X_OK):
        pytest.skip('tests/hilink-emulator is not built (libproxykit without libsoup?)')
    return program


@pytest.fixture
def hilink():
    """One emulated HiLink dongle on 127.0.0.1 (reconnect delay 200 ms)."""
    emu = HilinkEmulator(_emulator_program())
    yield emu
    emu.close()


@pytest.fixture
def hilink_farm():
    """Three emulated dongles (11, 12, 13)."""
    emu = HilinkEmulator(_emulator_program(), count=3)
    yield emu
    emu.close()


@pytest.fixture
def hilink_program():
    return _emulator_program()
