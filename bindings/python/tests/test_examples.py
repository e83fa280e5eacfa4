"""The examples in examples/ run, so that they cannot rot."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
import socks


def example(srcdir, name):
    return os.path.join(srcdir, 'examples', name)


def fetch_echo(proxy_port, host, port, payload=b'through the example'):
    s = socks.socksocket()
    s.set_proxy(socks.SOCKS5, '127.0.0.1', proxy_port)
    s.settimeout(10)
    s.connect((host, port))
    s.sendall(payload)
    got = s.recv(100)
    s.close()
    return got


def run_socks_listener(program, echo_server, env=None):
    host, port, _ = echo_server
    proc = subprocess.Popen([program, '127.0.0.1:0', '127.0.0.1'], stdout=subprocess.PIPE,
                            text=True, env=env)
    try:
        first = proc.stdout.readline()
        assert first.startswith('listening on 127.0.0.1:'), first
        proxy_port = int(first.split()[2].rsplit(':', 1)[1].rstrip(')'))
        assert fetch_echo(proxy_port, host, port) == b'through the example'
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    stats = json.loads(out.strip().splitlines()[-1])
    assert stats['sessions-total'] == 1 and stats['result-succeeded'] == 1


def test_c_socks_listener_built_by_meson(builddir, echo_server):
    program = os.path.join(builddir, 'examples', 'socks-listener')
    run_socks_listener(program, echo_server)


def test_c_examples_build_with_pkg_config(builddir, srcdir, echo_server, tmp_path):
    """Every examples/*.c compiles warning-free with nothing but
    `pkg-config --cflags --libs proxykit-1`; the SOCKS listener also runs."""
    cc = shutil.which('cc') or shutil.which('gcc')
    if cc is None or shutil.which('pkg-config') is None:
        pytest.skip('no C compiler or pkg-config')
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(builddir, 'meson-uninstalled'))
    flags = subprocess.run(['pkg-config', '--cflags', '--libs', 'proxykit-1'], env=env,
                           check=True, capture_output=True, text=True).stdout.split()
    sources = sorted(f for f in os.listdir(os.path.join(srcdir, 'examples')) if f.endswith('.c'))
    assert 'socks-listener.c' in sources
    for source in sources:
        program = str(tmp_path / source[:-2])
        subprocess.run([cc, '-Wall', '-Wextra', '-Werror', '-o', program,
                        example(srcdir, source)] + flags, check=True)
    run_env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(builddir, 'libproxykit'))
    run_socks_listener(str(tmp_path / 'socks-listener'), echo_server, env=run_env)


def test_c_rotate_ip_against_the_emulator(builddir, hilink):
    program = os.path.join(builddir, 'examples', 'rotate-ip')
    old = hilink.state()['wan_ip']
    proc = subprocess.run([program, hilink.url, '127.0.0.1', 'data'], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    new = hilink.state()['wan_ip']
    assert new != old
    assert f'{old} -> {new} by data' in proc.stdout


def test_c_relay_with_status(builddir, echo_server):
    host, port, _ = echo_server
    free = socket.socket()
    free.bind(('127.0.0.1', 0))
    in_port = free.getsockname()[1]
    free.close()
    proc = subprocess.Popen([os.path.join(builddir, 'examples', 'relay-with-status'),
                             f'127.0.0.1:{in_port};{port};{host};TCP'],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(100):
            try:
                c = socket.create_connection(('127.0.0.1', in_port), timeout=10)
                break
            except ConnectionRefusedError:
                time.sleep(0.05)
        with c:
            c.sendall(b'via the relay example')
            assert c.recv(100) == b'via the relay example'
        text = ''
        while True:                                     # printed every 5 s, over lines
            line = proc.stdout.readline()
            assert line, 'relay-with-status ended without a status'
            text += line
            try:
                status = json.loads(text)
                break
            except json.JSONDecodeError:
                continue
        rule = status['rules'][0]
        assert rule['connections'] >= 1
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == 0


def test_rotate_dongles_rotates_every_dongle(hilink_farm, srcdir, tmp_path):
    conf = tmp_path / 'proxykit.conf'
    conf.write_text(''.join(f'[dongle:{n}]\nurl = {url}\negress-address = 127.0.0.1\n\n'
                            for n, url in hilink_farm.urls.items()))
    proc = subprocess.run([sys.executable, example(srcdir, 'rotate-dongles.py'),
                           '--config', str(conf), '--every', '0.001', '--rounds', '2',
                           '--settle', '0.05', '--poll', '0.05'],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == 6
    assert sorted({line['dongle'] for line in lines}) == sorted(str(n) for n in hilink_farm.urls)
    for line in lines:
        assert line['ok'] and line['new_ip'] != line['old_ip'], line
    for n, url in hilink_farm.urls.items():
        last = [line for line in lines if line['dongle'] == str(n)][-1]
        assert hilink_farm.state(url)['wan_ip'] == last['new_ip']


def test_rotate_dongles_reports_a_busy_dongle(hilink, srcdir):
    hilink.control(busy=100)
    proc = subprocess.run([sys.executable, example(srcdir, 'rotate-dongles.py'),
                           '--dongle', f'{hilink.url}@127.0.0.1', '--rounds', '1',
                           '--escalate', 'none', '--settle', '0.05', '--poll', '0.05',
                           '--request-timeout', '1'],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    line = json.loads(proc.stdout)
    assert not line['ok'] and line['error'] == 'Busy' and line['huawei_code'] == 100004


def test_health_check_passes_and_fails(srcdir, echo_server, closed_port):
    import proxykit
    host, port, _ = echo_server
    with proxykit.SocksServer(listen='127.0.0.1:0') as srv:
        ok = subprocess.run([sys.executable, example(srcdir, 'health-check.py'),
                             '--socks', f'127.0.0.1:{srv.port}', '--target', f'{host}:{port}',
                             '--tcp', f'{host}:{port}@127.0.0.1', '--interface', 'lo'],
                            capture_output=True, text=True, timeout=60)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert ok.stdout.count('OK ') == 3
        bad = subprocess.run([sys.executable, example(srcdir, 'health-check.py'), '--json',
                              '--socks', f'127.0.0.1:{srv.port}',
                              '--target', f'127.0.0.1:{closed_port}'],
                             capture_output=True, text=True, timeout=60)
        assert bad.returncode == 1
        result = json.loads(bad.stdout)
        assert result['ok'] is False and result['reason']
