"""proxykit.NodeSupervisor: bring-up with rollback, watching, failure
actions and recovery, against tests/fake-pppd in a network namespace of
the test's own (the startup check goes to a listener on the tunnel's own
address; nothing leaves the machine)."""
import textwrap

import pytest

import proxykit


SCRIPT = textwrap.dedent('''
    import os, signal, socket, subprocess, sys, time
    subprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)
    import proxykit
    tmp, pppd = sys.argv[1], sys.argv[2]
    os.environ['FAKE_PPPD_RUN_DIR'] = tmp

    def wait_for(cond, what, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return
            time.sleep(0.05)
        raise AssertionError('timed out waiting for ' + what)

    # the far end: every address of the namespace, reached through ppp3
    target = socket.socket()
    target.bind(('0.0.0.0', 0))
    target.listen(64)
    good = '10.64.3.1:%d' % target.getsockname()[1]
    closed = socket.socket()
    closed.bind(('127.0.0.1', 0))
    bad = '10.64.3.1:%d' % closed.getsockname()[1]
    closed.close()

    store = proxykit.StateStore(os.path.join(tmp, 'state'))
    cfg = proxykit.Config(data='[tunnel:n1]\\nserver = 192.0.2.7\\nunit = 3\\nlinkname = pk-py\\n'
                               'pppd = %s\\n' % pppd, environ={})

    # a startup check that fails every try: rolled back, recorded stopped
    sup = proxykit.NodeSupervisor('n1', store, config=cfg, run_dir=tmp,
                                  startup_check={'target': bad, 'tries': 2, 'delay': 0.05, 'timeout': 1})
    try:
        sup.bring_up()
        raise AssertionError('the bring-up passed a failing check')
    except proxykit.CheckFailed as e:
        assert 'failed 2 times' in e.message, e.message
    st = store.load('n1')
    assert st.status == 'stopped' and 'failed 2 times' in st.to_dict()['reason'], st.to_dict()
    assert not os.path.exists('/proc/sys/net/ipv4/conf/ppp3'), 'the tunnel was destroyed'

    # the same supervisor brings the node up, watches it, and recovers it
    sup = proxykit.NodeSupervisor('n1', store, config=cfg, run_dir=tmp, interval=0.2, retry_delay=0.1,
                                  fall=2, timeout=1, recover=True, recover_delay=0.1,
                                  startup_check={'target': good, 'tries': 3, 'delay': 0.1, 'timeout': 1})
    egress = sup.bring_up()
    assert egress.interface == 'ppp3', str(egress)
    sup.record_online()
    st = store.load('n1')
    assert st.status == 'online' and st.to_dict()['tunnel']['interface'] == 'ppp3', st.to_dict()
    old_pid = st.to_dict()['tunnel']['pid']
    assert sup.refresh() and sup.watching

    os.kill(old_pid, signal.SIGKILL)
    wait_for(lambda: sup.recoveries == 1, 'the recovery')
    st = store.load('n1')
    d = st.to_dict()
    assert st.status == 'online' and d['tunnel']['pid'] not in (0, old_pid), d
    assert st.fails == 1 and st.recoveries == 1, d
    assert sup.watching and sup.tunnel_interface == 'ppp3'
    status = proxykit.NodeSupervisor.status(store)
    assert status[0]['name'] == 'n1' and status[0]['pppd_alive'], status
    wait_for(lambda: 'proxykit_node_check_duration_seconds_count{node="n1"} 0' not in
             proxykit.NodeSupervisor.prometheus(store, [sup]), 'a check after the recovery')
    text = proxykit.NodeSupervisor.prometheus(store, [sup])
    assert 'proxykit_node_recoveries_total{node="n1"} 1' in text, text
    assert 'proxykit_node_fails_total{node="n1"} 1' in text, text
    assert proxykit.NodeSupervisor.list_nodes(store, cfg) == ['n1']

    # a check from cron on the healthy node
    sup.stop()
    assert not sup.watching
    assert sup.check_once()

    sup.shut_down()
    assert not os.path.exists('/proc/sys/net/ipv4/conf/ppp3'), 'shut_down destroyed the tunnel'
    print('supervisor ok')
''')


def test_supervisor_brings_up_rolls_back_watches_and_recovers(fake_pppd_script):
    proc = fake_pppd_script(SCRIPT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'supervisor ok' in proc.stdout


def test_supervisor_from_config_reads_watchdog_with_overrides(tmp_path):
    cfg = proxykit.Config(data='[watchdog]\ninterval = 5\nrecover = true\nstate-dir = %s\n' % tmp_path,
                          environ={'WATCHDOG_PPTP_RETRIES': '4'})
    sup = proxykit.NodeSupervisor.from_config(cfg, 'n2')
    assert sup.name == 'n2' and sup.store.directory == str(tmp_path)
    assert not sup.refresh() and not sup.busy
    with pytest.raises(proxykit.ConfigError, match='interval'):
        proxykit.NodeSupervisor.from_config(proxykit.Config(data='[watchdog]\ninterval = soon\n',
                                                            environ={}), 'n2')
    bogus = proxykit.Config(data='[watchdog]\nbogus = 1\n[tunnel:n2]\nserver = 192.0.2.1\n', environ={})
    with pytest.raises(proxykit.ConfigError, match='bogus'):
        proxykit.NodeSupervisor.check_config(bogus)
    proxykit.NodeSupervisor.check_config(bogus, extra_keys=['bogus'])
    with pytest.raises(proxykit.ConfigError, match='not a valid node name'):
        proxykit.NodeSupervisor.check_config(proxykit.Config(data='[tunnel:a/b]\n', environ={}))


def test_supervisor_refuses_a_bad_node_name(tmp_path):
    with pytest.raises(proxykit.InvalidArgument, match='valid node name'):
        proxykit.NodeSupervisor('../etc', tmp_path)


def test_node_watch_lists_watches_and_checks_every_node(tmp_path):
    import subprocess
    pppd = subprocess.Popen(['sleep', '600'])     # stands in for pppd, on lo
    try:
        store = proxykit.StateStore(tmp_path)
        for name in ('a', 'b'):
            st = proxykit.NodeState(name)
            st.set_tunnel(None, None, 0, 'lo', pppd.pid)
            st.set_status('online')
            store.save(st)
        cfg = proxykit.Config(data='[watchdog]\nretries = 1\ntimeout = 5\n[tunnel:c]\nserver = 192.0.2.1\n',
                              environ={})
        with pytest.raises(proxykit.ConfigError, match='bogus'):
            proxykit.NodeWatch(proxykit.Config(data='[watchdog]\nbogus = 1\n', environ={}), tmp_path)
        watch = proxykit.NodeWatch(cfg, store, nodes=['a', 'c'])
        assert watch.nodes == ['a', 'c'] and not watch.recover
        with watch:
            assert watch.supervisor('a').watching
            assert watch.supervisor('b') is None
            assert [n['name'] for n in watch.status()] == ['a', 'c']
            assert watch.status_text().splitlines()[1].split()[:3] == ['a', 'online', 'lo']
            assert 'proxykit_node_check_duration_seconds_count{node="a"}' in watch.prometheus()
        assert watch.supervisor('a') is None, 'stop let the supervisors go'
        watch.nodes = None
        pppd.kill()
        pppd.wait()
        assert watch.check_once() == 2        # a and b: their pppd is gone
        assert store.load('a').status == 'ping_failed'
    finally:
        pppd.kill()
        pppd.wait()
