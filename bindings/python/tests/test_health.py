"""proxykit.Probe and proxykit.Watchdog: real checks against loopback
servers, and watchdog callbacks on the callbacks thread."""
import os
import subprocess
import threading

import pytest

import proxykit


def test_tcp_probe_passes_and_fails(echo_server, closed_port):
    host, port, peers = echo_server
    egress = proxykit.Egress(address='127.0.0.1')
    ok = proxykit.Probe.tcp_connect(host, port, egress=egress).run(timeout=10)
    assert ok and ok.ok and ok.latency > 0 and ok.reason is None
    bad = proxykit.Probe.tcp_connect('127.0.0.1', closed_port).run(timeout=10)
    assert not bad
    assert isinstance(bad.error, proxykit.ConnectionRefused)
    assert bad.reason == bad.error.message


def test_socks_probe_through_a_python_started_server(echo_server, closed_port):
    host, port, _ = echo_server
    with proxykit.SocksServer(listen='127.0.0.1:0') as srv:
        probe = proxykit.Probe.socks('127.0.0.1', srv.port, host, port)
        assert probe.kind == 'socks'
        assert probe.run(timeout=10).ok
        refused = proxykit.Probe.socks('127.0.0.1', srv.port, '127.0.0.1', closed_port).run(timeout=10)
        assert not refused.ok and refused.reason
    assert not proxykit.Probe.socks('127.0.0.1', srv.port, host, port).run(timeout=10).ok


def test_process_probe():
    assert proxykit.Probe.process(os.getpid()).run(timeout=5).ok
    child = subprocess.Popen(['true'])
    child.wait()
    assert not proxykit.Probe.process(child.pid).run(timeout=5).ok


def test_interface_probe():
    assert proxykit.Probe.interface('lo').run(timeout=5).ok
    missing = proxykit.Probe.interface('pk-nonexist0').run(timeout=5)
    assert not missing.ok and 'pk-nonexist0' in missing.reason


def test_run_with_retries_counts_tries(closed_port):
    result = proxykit.Probe.tcp_connect('127.0.0.1', closed_port).run_with_retries(
        tries=3, delay=0.05, timeout=5)
    assert not result.ok and result.tries == 3


def test_startup_check(echo_server, closed_port):
    host, port, _ = echo_server
    egress = proxykit.Egress(address='127.0.0.1')
    assert proxykit.startup_check(egress, f'{host}:{port}', tries=2, delay=0.05, timeout=5) == 1
    with pytest.raises(proxykit.Error):
        proxykit.startup_check(egress, f'127.0.0.1:{closed_port}', tries=2, delay=0.05, timeout=5)


class Recorder:
    def __init__(self):
        self.events = []
        self.threads = set()
        self.cond = threading.Condition()

    def add(self, *event):
        with self.cond:
            self.events.append(event)
            self.threads.add(threading.current_thread().name)
            self.cond.notify_all()

    def wait_for(self, event, timeout=10):
        with self.cond:
            return self.cond.wait_for(lambda: event in self.events, timeout)


def test_watchdog_feed_confirms_failure_and_recovery():
    rec = Recorder()
    wd = proxykit.Watchdog('fed', fall=2, rise=2,
                           on_state_change=lambda old, new: rec.add('state', old, new),
                           on_failed=lambda reason: rec.add('failed', reason),
                           on_recovered=lambda: rec.add('recovered'))
    assert wd.feed(True) is None
    assert wd.feed(True) in (None, 'recovered')
    assert wd.feed(False, 'first') is None
    assert wd.feed(False, 'second') == 'failed'
    assert wd.health == 'down'
    assert rec.wait_for(('failed', 'second'))
    assert wd.feed(True) is None
    assert wd.feed(True) == 'recovered'
    assert rec.wait_for(('recovered',))
    assert wd.health == 'up'
    states = [e[1:] for e in rec.events if e[0] == 'state']
    assert ('up', 'failing') in states and ('failing', 'down') in states
    assert ('down', 'recovering') in states and ('recovering', 'up') in states
    assert rec.threads == {'proxykit-callbacks'}
    wd.close()


def test_watchdog_timed_rounds_detect_a_dead_target(closed_port):
    rec = Recorder()
    probe = proxykit.Probe.tcp_connect('127.0.0.1', closed_port)
    with proxykit.Watchdog('dead', [probe], interval=0.05, retry_delay=0.05, initial_delay=0,
                           jitter=0, timeout=2, fall=2, rise=1,
                           on_failed=lambda reason: rec.add('failed', reason),
                           on_checked=lambda ok, reason: rec.add('checked', ok)) as wd:
        assert wd.running
        with rec.cond:
            assert rec.cond.wait_for(lambda: any(e[0] == 'failed' for e in rec.events), 20)
        assert wd.health == 'down'
        assert wd.fails >= 1
    reason = next(e[1] for e in rec.events if e[0] == 'failed')
    assert str(closed_port) in reason
    assert ('checked', False) in rec.events
    assert not wd.running


def test_watchdog_check_runs_one_round(echo_server):
    host, port, _ = echo_server
    wd = proxykit.Watchdog('once', [proxykit.Probe.tcp_connect(host, port)], fall=1, rise=1)
    assert wd.check(timeout=20) == 'up'
