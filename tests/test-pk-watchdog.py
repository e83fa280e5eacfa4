#!/usr/bin/python3
"""pk-watchdog end to end, in a network namespace of its own.

First pk-socks --pptp-server with a startup check that always fails must
roll back (tunnel destroyed, node stopped, exit 1). Then pk-socks brings
the node online (fake pppd as the PPTP tunnel, startup check through
ppp5, listener bound to ppp5, the node state file). Then
pppd is killed with SIGKILL: pk-watchdog must confirm the failure, stop
the listener, destroy the tunnel and record ping_failed with fails 1;
with --recover it must bring the node back online (new tunnel, startup
check through it, new listener), count the recovery and say so on /metrics.

Only namespace addresses are used: the startup check and the SOCKS check
go to a listener on the tunnel's own address, 10.64.5.1, through ppp5."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

if os.geteuid() != 0:
    print('SKIP: needs root for a network namespace (CI runs as root)')
    sys.exit(77)
if os.environ.get('PK_IN_NETNS') != '1':
    os.environ['PK_IN_NETNS'] = '1'
    os.execvp('unshare', ['unshare', '-n', sys.executable, os.path.abspath(__file__)])

build = os.environ['PK_BUILDDIR']
src = os.environ['PK_SRCDIR']
fake_pppd = os.path.join(src, 'tests', 'fake-pppd')
pk_socks = os.path.join(build, 'cli', 'pk-socks')
pk_watchdog = os.path.join(build, 'cli', 'pk-watchdog')

subprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)
tmp = tempfile.mkdtemp(prefix='pk-wd-e2e-')
state_dir = os.path.join(tmp, 'state')
run_dir = os.path.join(tmp, 'run')
os.makedirs(state_dir)
os.makedirs(run_dir)
os.environ['FAKE_PPPD_RUN_DIR'] = run_dir
procs = []
failures = []


def check(cond, what):
    print(('ok: ' if cond else 'FAILED: ') + what, flush=True)
    if not cond:
        failures.append(what)


def wait_for(cond, what, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    check(False, 'timed out waiting for ' + what)
    return False


seen_pids = set()


def state():
    try:
        with open(os.path.join(state_dir, 'n1.json')) as f:
            st = json.load(f)
    except (OSError, ValueError):
        return {}
    # everything the node ever ran is cleaned up at the end
    for part in ('tunnel', 'socks'):
        if (st.get(part) or {}).get('pid'):
            seen_pids.add(st[part]['pid'])
    return st


def alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] not in ('Z', 'X')
    except OSError:
        return False


def connectable(port):
    s = socket.socket()
    s.settimeout(1)
    try:
        s.connect(('127.0.0.1', port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


# The far end of the tunnel: a listener on every address of the namespace,
# reached through ppp5 at ppp5's own address.
target = socket.socket()
target.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
target.bind(('0.0.0.0', 0))
target.listen(128)
target_port = target.getsockname()[1]
target_addr = '10.64.5.1:%d' % target_port

try:
    env = dict(os.environ,
               SOCKS_STARTUP_CHECK_TARGET=target_addr,
               SOCKS_STARTUP_CHECK_RETRIES='5',
               SOCKS_STARTUP_RETRY_DELAY='100ms',
               SOCKS_STARTUP_CHECK_TIMEOUT='1s')
    socks_port = free_port()
    pptp_args = ['--pptp-server', '203.0.113.7', '--pptp-unit', '5', '--pptp-linkname', 'pk-n1',
                 '--pppd', fake_pppd, '--pptp-run-dir', run_dir, '--node', 'n1', '--state-dir', state_dir,
                 '--listen', '127.0.0.1:%d' % socks_port, '--drain-timeout', '1s']

    # --- a startup check that fails every try rolls back ---
    bad_env = dict(env, SOCKS_STARTUP_CHECK_TARGET='10.64.5.1:%d' % free_port())
    r = subprocess.run([pk_socks] + pptp_args, env=bad_env, capture_output=True, text=True, timeout=60)
    check(r.returncode == 1, 'pk-socks exits 1 when the startup check fails (%d)' % r.returncode)
    check('failed 5 times' in r.stderr, 'it says the check failed 5 times')
    st = state()
    check(st.get('status') == 'stopped' and 'failed 5 times' in (st.get('reason') or ''),
          'the node is recorded stopped with the reason')
    check(st.get('tunnel', {}).get('pid') == 0 and not os.path.exists(os.path.join(run_dir, 'ppp-pk-n1.pid')),
          'the tunnel was destroyed')
    check(not os.path.exists('/proc/sys/net/ipv4/conf/ppp5'), 'ppp5 is gone')
    check(not connectable(socks_port), 'no listener was left')

    # --- the node comes online through pk-socks --pptp-server, over a
    # corrupt state file (kept aside as .corrupt) ---
    with open(os.path.join(state_dir, 'n1.json'), 'w') as f:
        f.write('{"name": "n1", "status": "onl')
    socks = subprocess.Popen([pk_socks] + pptp_args, env=env)
    procs.append(socks)
    wait_for(lambda: state().get('status') == 'online', 'pk-socks brings the node online')
    check(open(os.path.join(state_dir, 'n1.json.corrupt')).read() == '{"name": "n1", "status": "onl',
          'the corrupt state file is kept as n1.json.corrupt')
    check(connectable(socks_port), 'pk-socks listens')
    st = state()
    check(st.get('socks', {}).get('pid') == socks.pid, 'the listener pid is recorded')
    pppd_pid = st.get('tunnel', {}).get('pid', 0)
    check(alive(pppd_pid) and st['tunnel']['interface'] == 'ppp5', 'the tunnel pid and interface are recorded')
    conf = os.path.join(tmp, 'proxykit.conf')
    with open(conf, 'w') as f:
        f.write('[tunnel:n1]\nserver=203.0.113.7\nlinkname=pk-n1\nunit=5\npppd=%s\n' % fake_pppd)

    env.update(WATCHDOG_CHECK_INTERVAL='300ms',
               WATCHDOG_RETRY_DELAY='100ms',
               WATCHDOG_PPTP_RETRIES='3')
    log_path = os.path.join(tmp, 'pk-watchdog.log')
    log = open(log_path, 'w')
    metrics_port = free_port()
    wd = subprocess.Popen([pk_watchdog, '--state-dir', state_dir, '--run-dir', run_dir,
                           '--config', conf, '--recover', '--recover-delay', '200ms',
                           '--timeout', '2s', '--check-socks', '--socks-target', target_addr,
                           '--socks-command', pk_socks, '--metrics-listen', '127.0.0.1:%d' % metrics_port],
                          env=env, stdout=log, stderr=subprocess.STDOUT)
    procs.append(wd)

    # several healthy rounds, SOCKS round trips included
    wait_for(lambda: open(log_path, errors='replace').read().count('node n1: ok') >= 3, 'three passed rounds')
    check(state().get('status') == 'online', 'node online while healthy')

    # a state file that gets corrupt while watched: kept aside, the node
    # recorded again and still watched
    with open(os.path.join(state_dir, 'n1.json'), 'w') as f:
        f.write('{"name": "n1", "stat')
    wait_for(lambda: 'recorded its last known state again' in open(log_path, errors='replace').read(),
             'the watchdog to record the node again')
    wait_for(lambda: state().get('status') == 'online', 'the node online again in its file')
    check(open(os.path.join(state_dir, 'n1.json.corrupt')).read() == '{"name": "n1", "stat'
          and state().get('tunnel', {}).get('pid') == pppd_pid,
          'a corrupt file of a watched node is kept aside and the node recorded again')

    # --- the tunnel dies ---
    old_pid = pppd_pid
    os.kill(pppd_pid, signal.SIGKILL)
    wait_for(lambda: state().get('status') == 'ping_failed', 'status ping_failed')
    st = state()
    check(st.get('counters', {}).get('fails') == 1, 'fails is 1 after the failure (%s)' % st.get('counters'))
    check(st.get('socks') is None, 'SOCKS data cleared')
    check(st.get('tunnel', {}).get('pid') == 0, 'tunnel process cleared')
    check('does not exist' in (st.get('reason') or '') or 'gone' in (st.get('reason') or ''),
          'reason names the dead tunnel: %r' % st.get('reason'))
    # pk-socks closes its listener at once (live sessions may drain)
    check(wait_for(lambda: not connectable(socks_port), 'listener closed'), 'the listener was stopped')
    log_text = open(log_path, errors='replace').read()
    check(log_text.count('check failed (1/3)') >= 1 and log_text.count('check failed (3/3)') >= 1,
          'three failed checks in a row before acting')
    check(log_text.count('tunnel failure confirmed') == 1, 'exactly one failure action')
    check('\ufffd' not in log_text, 'the log is clean text')

    # --- --recover brings it back ---
    wait_for(lambda: state().get('status') == 'online', 'status online again', timeout=30)
    st = state()
    new_pid = st.get('tunnel', {}).get('pid', 0)
    check(new_pid not in (0, old_pid) and alive(new_pid), 'a new pppd runs (%s)' % new_pid)
    check(st.get('tunnel', {}).get('interface') == 'ppp5', 'tunnel on ppp5 again')
    check(st.get('socks') is not None and alive(st['socks']['pid']), 'a new listener runs')
    check(connectable(socks_port), 'the listener answers on its old address')
    check(st.get('counters', {}).get('fails') == 1, 'fails still 1 after the recovery')
    check(st.get('counters', {}).get('recoveries') == 1, 'recoveries is 1 after the recovery (%s)' % st.get('counters'))
    wait_for(lambda: open(log_path, errors='replace').read().count('node n1: ok') >= 5, 'passed rounds after recovery')

    # --- /metrics: status, fails, recoveries and the check latency per node ---
    text = urllib.request.urlopen('http://127.0.0.1:%d/metrics' % metrics_port, timeout=10).read().decode()
    check('proxykit_node_status{node="n1",status="online"} 1' in text, '/metrics: n1 online')
    check('proxykit_node_fails_total{node="n1"} 1' in text, '/metrics: fails 1')
    check('proxykit_node_recoveries_total{node="n1"} 1' in text, '/metrics: recoveries 1')
    counts = re.findall(r'^proxykit_node_check_duration_seconds_count\{node="n1"\} (\d+)$', text, re.M)
    check(counts and int(counts[0]) >= 5 and
          'proxykit_node_check_duration_seconds_bucket{node="n1",le="+Inf"} %s' % counts[0] in text,
          '/metrics: a check latency histogram for n1 (%s)' % counts)

    # --- --status --json ---
    out = subprocess.run([pk_watchdog, '--status', '--json', '--state-dir', state_dir, '--config', conf],
                         capture_output=True, text=True, env=env)
    nodes = json.loads(out.stdout)
    check(out.returncode == 0 and nodes[0]['name'] == 'n1' and nodes[0]['status'] == 'online'
          and nodes[0]['pppd_alive'], '--status --json reports n1 online')
    out = subprocess.run([pk_watchdog, '--status', '--state-dir', state_dir, '--config', conf],
                         capture_output=True, text=True, env=env)
    row = [line.split() for line in out.stdout.splitlines() if line.startswith('n1 ')]
    check(out.returncode == 0 and 'RECOV' in out.stdout and row and row[0][5:7] == ['1', '1'],
          '--status shows fails 1 and recoveries 1: %r' % out.stdout)

    wd.send_signal(signal.SIGTERM)
    check(wd.wait(timeout=10) == 0, 'pk-watchdog exits 0 on SIGTERM')
    # the recovered tunnel and listener outlive pk-watchdog
    check(alive(new_pid), 'the tunnel keeps running after pk-watchdog stops')

    # --- --once, as from cron: the count of failures lives in the file ---
    once = [pk_watchdog, '--once', '--state-dir', state_dir, '--run-dir', run_dir, '--config', conf,
            '--timeout', '2s']
    r = subprocess.run(once, env=env, capture_output=True, text=True, timeout=60)
    check(r.returncode == 0 and 'node n1: ok' in r.stderr, '--once on a healthy node says ok')
    os.kill(new_pid, signal.SIGKILL)
    wait_for(lambda: not alive(new_pid), 'the recovered pppd dies')
    # a state directory it cannot lock (mounted read-only) fails the run
    ro = subprocess.run(['unshare', '-m', 'sh', '-c',
                         'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"',
                         state_dir] + once, env=env, capture_output=True, text=True, timeout=60)
    check(ro.returncode == 1 and 'could not be locked' in ro.stderr,
          '--once fails when it cannot lock the state directory (%d: %s)' % (ro.returncode, ro.stderr[-300:]))
    check(state()['counters']['consecutive_failures'] == 0, 'nothing was recorded by that run')
    for n in (1, 2):
        r = subprocess.run(once, env=env, capture_output=True, text=True, timeout=60)
        st = state()
        check(r.returncode == 0 and st.get('status') == 'online'
              and st['counters']['consecutive_failures'] == n,
              '--once run %d: failure %d/3 recorded, no action yet' % (n, n))
    r = subprocess.run(once, env=env, capture_output=True, text=True, timeout=60)
    st = state()
    check(st.get('status') == 'ping_failed' and st['counters']['fails'] == 2,
          '--once run 3 confirms the failure: ping_failed, fails 2')
    check(st.get('socks') is None and 'tunnel failure confirmed' in r.stderr,
          '--once ran the failure actions')
    check(wait_for(lambda: not connectable(socks_port), 'listener closed by --once'),
          'the recovered listener was stopped')

    # --- a recorded listener pid that now belongs to someone else (a reboot
    # reused it) is not signalled ---
    stranger = subprocess.Popen(['sleep', '60'])
    procs.append(stranger)
    st = state()
    st['status'] = 'online'
    st['tunnel'] = dict(st.get('tunnel') or {}, pid=new_pid, interface='ppp5')
    st['socks'] = {'listen': '127.0.0.1:%d' % socks_port, 'pid': stranger.pid,
                   'process': 'another-boot:12345'}
    st['counters']['consecutive_failures'] = 2
    with open(os.path.join(state_dir, 'n1.json.tmp'), 'w') as f:
        json.dump(st, f)
    os.rename(os.path.join(state_dir, 'n1.json.tmp'), os.path.join(state_dir, 'n1.json'))
    r = subprocess.run(once, env=env, capture_output=True, text=True, timeout=60)
    check('tunnel failure confirmed' in r.stderr and state().get('status') == 'ping_failed',
          '--once confirms the failure of the doctored node')
    check(stranger.poll() is None and 'not the recorded listener' in r.stderr,
          'the process that reuses the listener pid is not signalled')
finally:
    st = state()
    # SIGKILL for the listener: SIGTERM would let it drain for 30 s
    for pid, sig in (((st.get('socks') or {}).get('pid', 0), signal.SIGKILL),
                     ((st.get('tunnel') or {}).get('pid', 0), signal.SIGTERM)):
        if pid:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
    for pid in seen_pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    if failures or os.environ.get('PK_E2E_SHOW_LOG'):
        print(open(os.path.join(tmp, 'pk-watchdog.log'), errors='replace').read())
    subprocess.run(['rm', '-rf', tmp])

sys.exit(1 if failures else 0)
