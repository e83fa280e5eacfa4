"""Shared fixtures of the proxykit pytest suite.

The suite runs against the in-tree build: meson's test passes PYTHONPATH
(the build dir's bindings/python) and PK_BUILDDIR/PK_SRCDIR. Everything
listens on 127.0.0.1, port 0; nothing leaves the machine.
"""
import os
import socket
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
