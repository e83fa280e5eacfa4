#!/usr/bin/python3
"""pk-toggle end to end: the CLI and its HTTP API against three emulated
E8372h dongles (tests/hilink-emulator), all on loopback.

Delays are scaled down (reconnects in 60 ms) so that the suite takes
seconds. The emulator hands out 100.64.N.x addresses: they are strings in
its answers, nothing connects to them."""
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import pytest

BUILD = os.environ.get('PK_BUILDDIR') or os.environ.get('MESON_BUILD_ROOT') or 'build'
EMULATOR = os.path.join(BUILD, 'tests', 'hilink-emulator')
TOOL = os.path.join(BUILD, 'cli', 'pk-toggle')

# Never through a proxy from the environment.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url, timeout=20, method=None, headers=None):
    """(status, headers, body) of a GET (or @method), errors included."""
    req = urllib.request.Request(url, method=method, headers=headers or {},
                                 data=b'' if method == 'POST' else None)
    try:
        with OPENER.open(req, timeout=timeout) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


class Emulator:
    def __init__(self, count=3, first=11):
        self.proc = subprocess.Popen(
            [EMULATOR, '--count', str(count), '--first', str(first),
             '--delay-ms', '60', '--reboot-ms', '120'],
            stdout=subprocess.PIPE, text=True)
        self.urls = {}
        for _ in range(count):
            line = self.proc.stdout.readline().split()
            assert line[0] == 'dongle', line
            self.urls[int(line[1])] = line[2]

    def control(self, n, **knobs):
        query = '&'.join(f'{k}={v}' for k, v in knobs.items())
        status, _, _ = http_get(f'{self.urls[n]}/emu/control?{query}')
        assert status == 200

    def state(self, n):
        _, _, body = http_get(f'{self.urls[n]}/emu/state')
        return dict(line.split('=', 1) for line in body.splitlines())

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def emu():
    e = Emulator()
    yield e
    e.stop()


@pytest.fixture
def workdir():
    with tempfile.TemporaryDirectory(prefix='pk-toggle-test-') as d:
        yield d


def write_config(emu, workdir, extra=''):
    path = os.path.join(workdir, 'proxykit.conf')
    with open(path, 'w') as f:
        f.write('[toggle]\n'
                'settle = 30ms\n'
                'poll_interval = 20ms\n'
                'timeout = 3s\n'
                'request_timeout = 2s\n'
                'cooldown = 0\n'
                f'state_dir = {workdir}/state\n'
                + extra + '\n')
        for n, url in emu.urls.items():
            f.write(f'[dongle:{n}]\napi = {url}\naddress = 127.0.0.1\n\n')
    return path


def run(*args, check=None):
    env = dict(os.environ)
    env.pop('NOTIFY_SOCKET', None)
    env.pop('PROXYKIT_CONFIG', None)
    p = subprocess.run([TOOL, *args], capture_output=True, text=True, timeout=60, env=env)
    if check is not None:
        assert p.returncode == check, (p.returncode, p.stdout, p.stderr)
    return p


# --- the CLI ---

def test_toggle_prints_old_and_new_ip(emu, workdir):
    conf = write_config(emu, workdir)
    before = emu.state(11)['wan_ip']
    p = run('-c', conf, '11', check=0)
    m = re.fullmatch(r'dongle 11: (\S+) -> (\S+) by data in [0-9.]+ s\n', p.stdout)
    assert m, p.stdout
    assert m.group(1) == before
    assert m.group(2) != before
    assert m.group(2) == emu.state(11)['wan_ip']


def test_toggle_json_and_method(emu, workdir):
    conf = write_config(emu, workdir)
    p = run('-c', conf, '--json', '--method', 'netmode', '12', check=0)
    result = json.loads(p.stdout)
    assert result['dongle'] == 12
    assert result['success'] is True
    assert result['method'] == 'netmode'
    assert result['new_ip'] == emu.state(12)['wan_ip'] != result['old_ip']
    assert [s['name'] for s in result['steps']] == ['diagnose', 'modem']
    assert emu.state(12)['mode'] == '00'  # back to the mode it had


def test_toggle_all(emu, workdir):
    conf = write_config(emu, workdir)
    before = {n: emu.state(n)['wan_ip'] for n in emu.urls}
    p = run('-c', conf, '--all', '--json', '--max-concurrent', '1', check=0)
    results = json.loads(p.stdout)
    assert sorted(r['dongle'] for r in results) == [11, 12, 13]
    for r in results:
        assert r['success'] and r['old_ip'] == before[r['dongle']] != r['new_ip']


def test_escalation_when_ip_stays(emu, workdir):
    conf = write_config(emu, workdir)
    emu.control(13, sticky='data')
    p = run('-c', conf, '--json', '13', check=0)
    result = json.loads(p.stdout)
    assert result['escalated'] is True
    assert result['method'] == 'netmode'
    assert result['attempts'] == 2
    assert 'data: unchanged' in result['steps'][1]['detail']


def test_ip_unchanged_fails(emu, workdir):
    conf = write_config(emu, workdir)
    emu.control(12, sticky='data,netmode,reboot')
    p = run('-c', conf, '12', check=1)
    assert 'dongle 12: IP unchanged' in p.stderr
    assert p.stdout == ''


def test_modem_unreachable_fails(emu, workdir):
    conf = write_config(emu, workdir)
    # A port that was free a moment ago, on loopback.
    closed = Emulator(count=1, first=40)
    url = closed.urls[40]
    closed.stop()
    p = run('-c', conf, '--api', f'11={url}', '11', check=1)
    assert 'dongle 11: modem unreachable' in p.stderr


def test_cooldown_refuses(emu, workdir):
    conf = write_config(emu, workdir)
    run('-c', conf, '--cooldown', '60s', '13', check=0)
    p = run('-c', conf, '--cooldown', '60s', '13', check=3)
    assert 'dongle 13: cooling down' in p.stderr


def test_busy_across_processes(emu, workdir):
    conf = write_config(emu, workdir)
    emu.control(11, slow_ms=150)
    first = subprocess.Popen([TOOL, '-c', conf, '11'], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    # Wait until the first one holds the dongle (its first request is in).
    deadline = time.monotonic() + 10
    while int(emu.state(11)['requests']) == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    p = run('-c', conf, '11', check=3)
    assert 'running already' in p.stderr
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err


def test_recover_all_waits_for_the_hosts_recovery_slots(emu, workdir):
    # Another process (pk-watchdog, say) holds the host's only recovery
    # slot: --recover --all waits for it, idle, then recovers every dongle.
    conf = write_config(emu, workdir, 'max_recoveries = 1\nrecovery_cooldown = 0')
    os.makedirs(os.path.join(workdir, 'state'), exist_ok=True)
    env = dict(os.environ)
    env.pop('NOTIFY_SOCKET', None)
    with open(os.path.join(workdir, 'state', 'recovery-0.lock'), 'a') as slot:
        fcntl.flock(slot, fcntl.LOCK_EX)
        proc = subprocess.Popen([TOOL, '-c', conf, '--recover', '--all', '--json'], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started = time.monotonic()
        time.sleep(1.5)
        assert proc.poll() is None, proc.communicate()
        with open(f'/proc/{proc.pid}/stat') as f:
            fields = f.read().rsplit(')', 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
        wall = time.monotonic() - started
        # waiting, not spinning on the lock files (which takes a whole core)
        assert cpu < wall / 2, (cpu, wall)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    results = json.loads(out)
    assert sorted(r['dongle'] for r in results) == [11, 12, 13]
    assert all(r['success'] and 'reason' not in r for r in results), results


def test_status_and_info(emu, workdir):
    conf = write_config(emu, workdir)
    p = run('-c', conf, '--status', '--json', check=0)
    status = json.loads(p.stdout)
    assert [s['dongle'] for s in status] == [11, 12, 13]
    for s in status:
        assert s['connected'] is True
        assert s['wan_ip'] == emu.state(s['dongle'])['wan_ip']
    p = run('-c', conf, '--status', '12', check=0)
    assert re.match(r'dongle 12\s+connected\s+100\.64\.12\.\d+', p.stdout), p.stdout
    p = run('-c', conf, '--info', '11', check=0)
    assert 'imei' in p.stdout and 'rsrp' in p.stdout
    p = run('-c', conf, '--info', '--json', '11', check=0)
    info = json.loads(p.stdout)[0]
    assert info['device']['device-name'] == 'E8372h-320'
    assert info['signal']['rssi'] == '-67dBm'


def test_status_survives_a_busy_modem(emu, workdir):
    conf = write_config(emu, workdir)
    # One busy answer to the status read is retried, not "unreachable".
    emu.control(12, busy_on='GET:/api/monitoring/status')
    p = run('-c', conf, '--status', '--json', '12', check=0)
    s = json.loads(p.stdout)[0]
    assert s['reachable'] is True and s['connected'] is True, s
    assert s['wan_ip'] == emu.state(12)['wan_ip']
    assert emu.state(12)['busy'] == '1'
    # Busy through every retry: it answered, so it is "busy", not unreachable.
    emu.control(12, busy_on='GET:/api/monitoring/status@1x1000')
    p = run('-c', conf, '--status', '--json', '12', check=0)
    s = json.loads(p.stdout)[0]
    assert s['state'] == 'busy' and s['reachable'] is True, s
    assert '100004' in s['error']


def test_toggle_survives_busy_between_off_and_on(emu, workdir):
    conf = write_config(emu, workdir)
    before = emu.state(11)
    # Data on stays busy past the retries of one call: the toggle puts
    # data back on and escalates; the dongle ends with data on and its mode.
    emu.control(11, busy_on='POST:/api/dialup/mobile-dataswitch@2x6')
    p = run('-c', conf, '--json', '11', check=0)
    result = json.loads(p.stdout)
    assert result['success'] is True, result
    after = emu.state(11)
    assert after['data'] == '1' and after['mode'] == before['mode']
    assert after['wan_ip'] != before['wan_ip']


def test_subnet_convention_and_api_override(emu, workdir):
    # No config: dongle 11 by the convention, its API moved to the emulator.
    p = run('--api', f'11={emu.urls[11]}', '--address', '11=127.0.0.1', '--state-dir',
            os.path.join(workdir, 's'), '--settle', '20ms', '--poll-interval', '20ms', '11', check=0)
    assert p.stdout.startswith('dongle 11: 100.64.11.')
    # An override for a dongle that is not configured is an error.
    p = run('--api', f'12={emu.urls[12]}', '11', check=2)
    assert '--api' in p.stderr


@pytest.mark.parametrize('args, needle', [
    (['--method', 'sideways', '11'], '--method'),
    (['--cooldown', 'soon', '11'], '--cooldown'),
    (['--max-concurrent', '-1', '11'], '--max-concurrent'),
    (['--escalation', 'data,usb', '11'], 'usb'),
    (['--bogus'], '--bogus'),
    (['300'], '300'),
    ([], 'name a dongle'),
    (['--status', '--serve', '127.0.0.1:0'], '--serve'),
    (['--serve', 'nowhere:80', '--dongles', '11'], '--serve'),
])
def test_usage_errors(args, needle):
    p = run('-c', '/dev/null', *args, check=2)
    assert needle in p.stderr
    assert len(p.stderr.strip().splitlines()) <= 2  # one line plus "Try --help"


def test_config_errors_name_the_line(emu, workdir):
    conf = write_config(emu, workdir, extra='colour = blue')
    p = run('-c', conf, '11', check=2)
    assert 'proxykit.conf' in p.stderr and 'colour' in p.stderr
    conf = write_config(emu, workdir, extra='cooldown = later')
    p = run('-c', conf, '11', check=2)
    assert 'cooldown' in p.stderr and 'later' in p.stderr


def test_progress_on_a_terminal(emu, workdir):
    import pty
    conf = write_config(emu, workdir)
    emu.control(11, sticky='data')     # the data switch keeps the IP: escalates
    master, slave = pty.openpty()
    env = dict(os.environ)
    env.pop('NOTIFY_SOCKET', None)
    p = subprocess.run([TOOL, '-c', conf, '11'], stdout=subprocess.PIPE, stderr=slave,
                       text=True, timeout=60, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    shown = b''.join(chunks).decode().replace('\r\n', '\n')
    assert p.returncode == 0, shown
    steps = [line for line in shown.splitlines() if line.startswith('dongle 11: ')]
    assert steps[0] == 'dongle 11: diagnose', shown
    for want in ('dongle 11: data: mobile data off', 'dongle 11: data: mobile data on',
                 'dongle 11: data: waiting for a new IP', 'escalating to netmode',
                 'dongle 11: netmode: network mode to 3G', 'dongle 11: netmode: new IP'):
        assert any(want in line for line in steps), (want, shown)
    # Not on a pipe or in the journal: only the result.
    p = run('-c', conf, '--cooldown', '0', '11', check=0)
    assert 'mobile data off' not in p.stderr


def test_version_and_help():
    p = run('--version', check=0)
    assert 'pk-toggle' in p.stdout
    p = run('--help', check=0)
    assert '--serve' in p.stdout and '--method' in p.stdout


# --- the HTTP API ---

class Server:
    def __init__(self, conf, *extra):
        env = dict(os.environ)
        env.pop('NOTIFY_SOCKET', None)
        self.proc = subprocess.Popen([TOOL, '-c', conf, '--serve', '127.0.0.1:0', *extra],
                                     stderr=subprocess.PIPE, text=True, env=env)
        line = self.proc.stderr.readline()
        m = re.search(r'port (\d+)', line)
        assert m, line
        self.base = f'http://127.0.0.1:{m.group(1)}'
        # Keep reading its log so that it never blocks on a full pipe.
        self.log = []
        threading.Thread(target=lambda: self.log.extend(self.proc.stderr), daemon=True).start()

    def get(self, path, **kw):
        return http_get(self.base + path, **kw)

    def post(self, path, **kw):
        return http_get(self.base + path, method='POST', **kw)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=10)


@pytest.fixture
def server(emu, workdir):
    conf = write_config(emu, workdir)
    s = Server(conf, '--cooldown', '30s', '--max-concurrent', '1')
    yield s
    if s.proc.poll() is None:
        s.stop()


def test_http_toggle_and_cooldown(emu, server):
    before = emu.state(11)['wan_ip']
    status, _, body = server.post('/toggle/11')
    assert status == 200, body
    result = json.loads(body)
    assert result['success'] and result['old_ip'] == before
    assert result['new_ip'] == emu.state(11)['wan_ip'] != before

    status, headers, body = server.post('/toggle/11')
    assert status == 429
    assert json.loads(body)['reason'] == 'cooldown'
    assert 1 <= int(headers['Retry-After']) <= 30


def test_http_busy_and_limit(emu, server):
    emu.control(12, slow_ms=150)
    answers = {}
    t = threading.Thread(target=lambda: answers.setdefault('12', server.post('/toggle/12')))
    t.start()
    deadline = time.monotonic() + 10
    while int(emu.state(12)['requests']) == 0 and time.monotonic() < deadline:
        time.sleep(0.02)

    status, _, body = server.post('/toggle/12')
    assert status == 409 and json.loads(body)['reason'] == 'busy'
    status, headers, body = server.post('/toggle/13')
    assert status == 429 and json.loads(body)['reason'] == 'limit'
    assert int(headers['Retry-After']) >= 1
    # Recovery ignores the limit of one toggle at once.
    status, _, body = server.post('/toggle/13?recovery=1')
    assert status == 200, body

    t.join(timeout=60)
    assert answers['12'][0] == 200


def test_http_failed_toggle(emu, server):
    emu.control(13, sticky='data,netmode,reboot')
    status, _, body = server.post('/toggle/13?method=reboot')
    assert status == 502
    result = json.loads(body)
    assert result['success'] is False and result['new_ip'] is None
    assert result['method'] == 'reboot'


def test_http_bad_requests(server):
    for path, code in [('/toggle/abc', 400), ('/toggle/300', 400), ('/toggle/-1', 400),
                       ('/toggle/99', 404), ('/nothing', 404), ('/toggle/11?method=usb', 400)]:
        status, headers, body = server.post(path) if path.startswith('/toggle/') else server.get(path)
        assert status == code, (path, status)
        assert headers['Content-Type'].startswith('application/json')
        assert 'error' in json.loads(body)


def test_http_status_proxy_info_metrics(emu, server):
    assert server.post('/toggle/11')[0] == 200

    status, _, body = server.get('/status')
    assert status == 200
    dongles = {d['dongle']: d for d in json.loads(body)['dongles']}
    assert sorted(dongles) == [11, 12, 13]
    for n, d in dongles.items():
        assert d['connected'] is True
        assert d['wan_ip'] == emu.state(n)['wan_ip']
    assert dongles[11]['last_toggle']['success'] is True
    assert dongles[11]['cooldown_remaining_ms'] > 0
    assert dongles[12]['last_toggle'] is None

    status, _, body = server.get('/proxy-info')
    proxies = json.loads(body)['proxies']
    assert [(p['dongle'], p['port'], p['host'], p['egress_ip']) for p in proxies] == \
        [(n, 10000 + n, '127.0.0.1', '127.0.0.1') for n in (11, 12, 13)]

    server.post('/toggle/11')  # refused: cooldown
    status, headers, body = server.get('/metrics')
    assert status == 200
    assert headers['Content-Type'].startswith('text/plain; version=0.0.4')
    assert 'proxykit_toggle_total{dongle="11",result="changed"} 1\n' in body
    assert 'proxykit_toggle_refused_total{dongle="11",reason="cooldown"} 1\n' in body
    assert 'proxykit_toggle_max_concurrent 1\n' in body


def test_http_reload_on_sighup(emu, workdir):
    conf = write_config(emu, workdir)
    s = Server(conf)
    try:
        assert s.post('/toggle/13')[0] == 200
        # Dongle 13 leaves the configuration; 12 gets a SOCKS host.
        with open(conf, 'w') as f:
            f.write(f'[toggle]\nsettle = 30ms\npoll_interval = 20ms\ncooldown = 0\n'
                    f'state_dir = {workdir}/state\n\n'
                    f'[dongle:11]\napi = {emu.urls[11]}\naddress = 127.0.0.1\n\n'
                    f'[dongle:12]\napi = {emu.urls[12]}\naddress = 127.0.0.1\n'
                    f'socks_host = 203.0.113.7\n')
        s.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            proxies = json.loads(s.get('/proxy-info')[2])['proxies']
            if len(proxies) == 2:
                break
            time.sleep(0.05)
        assert [(p['dongle'], p['host']) for p in proxies] == [(11, '127.0.0.1'), (12, '203.0.113.7')]
        assert s.post('/toggle/13')[0] == 404
        assert s.post('/toggle/12')[0] == 200

        # A broken configuration is refused; the running one stays.
        with open(conf, 'a') as f:
            f.write('\n[toggle]\ncooldown = whenever\n')
        s.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while not any('reload refused' in line for line in s.log) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any('reload refused' in line and 'cooldown' in line for line in s.log), s.log
        assert len(json.loads(s.get('/proxy-info')[2])['proxies']) == 2
        assert s.post('/toggle/11')[0] == 200
    finally:
        assert s.stop() == 0


def test_http_toggle_takes_post(emu, server):
    before = emu.state(11)['wan_ip']
    status, headers, body = server.get('/toggle/11')
    assert status == 405 and headers['Allow'] == 'POST'
    assert emu.state(11)['wan_ip'] == before
    assert server.post('/status')[0] == 405
    # Parameters may come as a form body.
    status, _, body = server.post('/toggle/11', headers={'Content-Type': 'application/x-www-form-urlencoded'})
    assert status == 200, body


def test_http_allow_get_compatibility(emu, workdir):
    s = Server(write_config(emu, workdir), '--allow-get')
    try:
        assert s.get('/toggle/11')[0] == 200
    finally:
        s.stop()


def test_http_token(emu, workdir):
    token = os.path.join(workdir, 'token')
    with open(token, 'w') as f:
        f.write('t0ken-123\n')
    s = Server(write_config(emu, workdir, extra=f'token_file = {token}  # bearer token'))
    try:
        before = emu.state(11)['wan_ip']
        status, headers, body = s.post('/toggle/11')
        assert status == 401 and 'Bearer' in headers['WWW-Authenticate']
        assert s.post('/toggle/11', headers={'Authorization': 'Bearer wrong'})[0] == 401
        assert s.post('/toggle/11', headers={'Authorization': 'Bearer t0ken-12'})[0] == 401
        assert emu.state(11)['wan_ip'] == before
        assert s.get('/proxy-info')[0] == 401
        assert s.get('/status')[0] == 200 and s.get('/metrics')[0] == 200
        auth = {'Authorization': 'Bearer t0ken-123'}
        assert s.post('/toggle/11', headers=auth)[0] == 200
        assert s.get('/proxy-info', headers=auth)[0] == 200
    finally:
        s.stop()
    assert not any('no token' in line for line in s.log), s.log


def test_http_warns_without_token_beyond_loopback(emu, workdir):
    conf = write_config(emu, workdir)
    env = dict(os.environ)
    env.pop('NOTIFY_SOCKET', None)
    # Bound to the wildcard only for the moment it takes to read its log.
    proc = subprocess.Popen([TOOL, '-c', conf, '--serve', '0.0.0.0:0'],
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = proc.stderr.readline()
        assert 'no token' in first and '0.0.0.0:0' in first, first
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    p = run('-c', conf, '--token-file', os.path.join(workdir, 'missing'), '--check', check=2)
    assert '--token-file' in p.stderr


def test_check_prints_dongles(emu, workdir):
    conf = write_config(emu, workdir)
    p = run('-c', conf, '--check', check=0)
    assert 'configuration OK: 3 dongle(s)' in p.stdout
    p = run('-c', write_config(emu, workdir, extra='url = http://x'), '--check', check=2)
    assert 'url' in p.stderr


def test_http_stops_on_sigterm(server):
    assert server.stop() == 0


if __name__ == '__main__':
    sys.exit(pytest.main([__file__, '-q', '-p', 'no:cacheprovider']))
