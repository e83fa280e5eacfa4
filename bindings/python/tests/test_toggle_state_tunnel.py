"""proxykit.Toggle (against the HiLink emulator), proxykit.StateStore and
proxykit.Tunnel (against tests/fake-pppd)."""
import json
import os
import textwrap

import pytest

import proxykit
from proxykit._ffi import lib

FAST = dict(settle=0.05, poll_interval=0.05, attempt_timeout=10, unchanged_polls=3)


def test_toggle_rotates_then_cools_down(hilink):
    modem = proxykit.HilinkModem(hilink.url, egress_address='127.0.0.1', timeout=20)
    toggle = proxykit.Toggle(11, modem, cooldown=60, **FAST)
    result = toggle.run(timeout=60)
    assert result['success'] and result['new_ip'] != result['old_ip']
    assert result['new_ip'] == hilink.state()['wan_ip']
    assert result['steps'][0]['name'] == 'diagnose'
    with pytest.raises(proxykit.Cooldown) as info:
        toggle.run(timeout=60)
    assert info.value.code == lib.PK_ERROR_COOLDOWN
    assert 0 < toggle.cooldown_remaining <= 60


def test_toggle_reports_progress(hilink):
    import threading
    modem = proxykit.HilinkModem(hilink.url, egress_address='127.0.0.1', timeout=20)
    toggle = proxykit.Toggle(11, modem, cooldown=0, **FAST)
    steps = []
    done = threading.Event()

    def on_progress(text):
        steps.append(text)
        if text.startswith('data: new IP'):
            done.set()

    conn = toggle.on_progress(on_progress)
    toggle.run(timeout=60)
    assert done.wait(10), steps
    conn.disconnect()
    assert steps[0] == 'diagnose'
    assert 'data: mobile data off' in steps and 'data: waiting for a new IP' in steps


def test_toggle_that_keeps_the_ip_raises_with_the_result(hilink):
    hilink.control(sticky='data')
    modem = proxykit.HilinkModem(hilink.url, timeout=20)
    toggle = proxykit.Toggle(12, modem, escalate='none', cooldown=0, **FAST)
    with pytest.raises(proxykit.Error) as info:
        toggle.run(timeout=60)
    assert info.value.result['success'] is False
    assert info.value.result['old_ip'] == hilink.state()['wan_ip']


def test_state_store_round_trip(tmp_path):
    store = proxykit.StateStore(tmp_path)
    node = store.load('node1', create=True)
    assert node.status == 'stopped'      # a new node has not started yet
    node.set_status('online', 'tunnel up')
    node.set_socks('0.0.0.0:11001', 4242)
    store.save(node)
    assert store.names() == ['node1']
    path = store.path('node1')
    assert os.path.dirname(path) == str(tmp_path)
    on_disk = json.loads(open(path).read())
    again = proxykit.StateStore(str(tmp_path)).load('node1')
    assert again.status == 'online'
    assert again.to_dict() == on_disk
    text = store.prometheus()
    assert 'proxykit_node_status{node="node1",status="online"} 1\n' in text
    assert 'proxykit_node_status{node="node1",status="ping_failed"} 0\n' in text
    assert 'proxykit_node_fails_total{node="node1"} 0\n' in text
    with pytest.raises(proxykit.InvalidArgument):
        node.set_status('sleepy')
    node.set_socks('127.0.0.1:1080', os.getpid())
    assert node.socks_pid_is_current
    store.remove('node1')
    assert store.names() == []
    with pytest.raises(proxykit.Error):
        store.load('node1')


def fake_pppd(srcdir):
    return os.path.join(srcdir, 'tests', 'fake-pppd')


def test_tunnel_argv_names_server_and_link():
    tunnel = proxykit.Tunnel('vpn1', server='192.0.2.7', user='u', password='p', unit=3)
    argv = tunnel.argv()
    assert 'vpn1' in argv and any('192.0.2.7' in a for a in argv)
    assert tunnel.state == 'down' and tunnel.interface is None
    with pytest.raises(proxykit.TunnelError):
        tunnel.egress


def test_tunnel_whose_pppd_exits_raises_tunnel_error(srcdir, tmp_path, monkeypatch):
    # With FAKE_PPPD_EXIT, fake-pppd exits at once and touches no network.
    monkeypatch.setenv('FAKE_PPPD_RUN_DIR', str(tmp_path))
    monkeypatch.setenv('FAKE_PPPD_EXIT', '19')
    tunnel = proxykit.Tunnel('pk-py', server='192.0.2.7', user='u', password='p',
                             pppd_path=fake_pppd(srcdir), run_dir=str(tmp_path), start_timeout=10)
    with pytest.raises(proxykit.TunnelError) as info:
        tunnel.start()
    assert info.value.code == lib.PK_ERROR_TUNNEL
    assert '19' in info.value.message
    assert tunnel.state in ('failed', 'down')


UP_SCRIPT = textwrap.dedent('''
    import os, subprocess, sys
    subprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)
    import proxykit
    run_dir, pppd = sys.argv[1], sys.argv[2]
    os.environ['FAKE_PPPD_RUN_DIR'] = run_dir
    with proxykit.Tunnel('pk-py', server='192.0.2.7', user='u', password='p', unit=0,
                         pppd_path=pppd, run_dir=run_dir, start_timeout=20) as tun:
        assert tun.state == 'up', tun.state
        assert tun.interface == 'ppp0', tun.interface
        egress = tun.egress
        assert egress.interface == 'ppp0', str(egress)
        assert tun.pid > 0
    assert tun.state == 'down', tun.state
    print('tunnel up and down')
''')


def test_tunnel_up_and_down_in_a_namespace(fake_pppd_script):
    proc = fake_pppd_script(UP_SCRIPT, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'tunnel up and down' in proc.stdout


def test_state_store_lock_saves_or_releases(tmp_path):
    store = proxykit.StateStore(tmp_path)
    with store.locked('node2') as node:
        node.set_status('ping_failed', '3 checks failed')
    assert store.load('node2').status == 'ping_failed'
    with pytest.raises(RuntimeError):
        with store.locked('node2') as node:
            node.set_status('online')
            raise RuntimeError('changed my mind')
    assert store.load('node2').status == 'ping_failed'
    with store.locked('node2') as node:       # the lock was released
        assert node.status == 'ping_failed'


def test_startup_check_settings_from_config_and_environment():
    cfg = proxykit.Config(data='[startup-check]\nretries = 2\nretry-delay = 500ms\n'
                               'target = 127.0.0.1:9\n',
                          environ={'SOCKS_STARTUP_CHECK_TIMEOUT': '3'})
    assert proxykit.startup_check_settings(cfg) == {
        'target': '127.0.0.1:9', 'tries': 2, 'delay': 0.5, 'timeout': 3.0}


def test_toggle_failure_carries_the_huawei_code_behind_its_context(hilink):
    # the toggle puts "dongle N: ..." in front of the device's message; the
    # code travels with the error, not in its text
    hilink.control(busy=500)
    modem = proxykit.HilinkModem(hilink.url, request_timeout=1)
    toggle = proxykit.Toggle(13, modem, escalate='none', cooldown=0, **FAST)
    with pytest.raises(proxykit.Error) as info:
        toggle.run(timeout=60)
    assert not info.value.message.startswith('HiLink error')
    assert info.value.huawei_code == 100004


def test_tunnel_from_config_and_recorded_state():
    cfg = proxykit.Config(data='[tunnel:vpn1]\nserver = vpn.example.net\nunit = 4\n'
                               '[tunnel:old]\nlisten = 127.0.0.1:0\n', environ={})
    t = proxykit.Tunnel.from_config(cfg, 'vpn1')
    assert t.linkname == 'pk-vpn1'
    assert 'vpn.example.net' in ' '.join(t.argv())
    with pytest.raises(proxykit.ConfigError, match='no PPTP server'):
        proxykit.Tunnel.from_config(cfg, 'old')
    state = proxykit.NodeState('old')
    state.set_tunnel('198.51.100.4', 'pk-was', 2, None, 0)
    assert proxykit.Tunnel.from_config(cfg, 'old', state).linkname == 'pk-was'
