"""proxykit.Dongle, UsbMap, DongleMonitor (on a umockdev testbed), Routing
(against python-dbusmock's NetworkManager) and DongleFarm.

The monitor and NetworkManager checks run in a child Python: umockdev needs
its library preloaded in the process that reads /sys, and libnm takes the
system bus from the environment once per process."""
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

import proxykit

HERE = os.path.dirname(os.path.abspath(__file__))


def test_dongle_by_hand():
    d = proxykit.Dongle(11, 'eth11', '192.168.11.100')
    assert (d.id, d.interface, d.host_address) == (11, 'eth11', '192.168.11.100')
    assert d.gateway == '192.168.11.1'
    assert d.api_url == 'http://192.168.11.1'
    assert d.mode == 'hilink' and d.ready
    assert d.usb_path is None and d.usb_id is None
    egress = d.egress()
    assert egress.address == '192.168.11.100' and egress.interface == 'eth11'
    assert egress.nameservers == ['192.168.11.1']
    info = d.to_dict()
    assert info['dongle'] == 11 and info['interface'] == 'eth11' and info['ready'] is True


def test_dongle_not_ready_has_no_egress():
    d = proxykit.Dongle(12)
    assert not d.ready and d.egress() is None


def test_usb_map_record_lookup_and_persist(tmp_path):
    usb_map = proxykit.UsbMap(str(tmp_path))
    seed = tmp_path / 'usb_mapping.json'
    seed.write_text(json.dumps({
        '11': {'hub': '1-1', 'port': '3', 'interface': 'enx0c5b8f279a64', 'mac': '0c:5b:8f:27:9a:64'},
        '12': {'hub': '1-1', 'port': 4},
    }))
    usb_map.import_seed(str(seed))
    e = usb_map.lookup(11)
    assert (e.hub_path, e.hub_port, e.usb_path, e.interface) == ('1-1', 3, '1-1.3', 'enx0c5b8f279a64')
    assert usb_map.lookup(usb_path='1-1.4').id == 12
    assert usb_map.lookup(mac_address='0C:5B:8F:27:9A:64').id == 11
    assert usb_map.lookup(13) is None
    assert e.port_sysfs_path == '/sys/bus/usb/devices/1-1:1.0/1-1-port3'

    # written atomically in the state directory, read back by a new map
    on_disk = json.loads((tmp_path / 'host' / 'usb-map.json').read_text())
    assert sorted(on_disk['dongles']) == ['11', '12']
    again = proxykit.UsbMap(str(tmp_path))
    again.load()
    assert [x.id for x in again.entries()] == [11, 12]
    again.remove(12)
    fresh = proxykit.UsbMap(str(tmp_path))
    fresh.load()
    assert [x.id for x in fresh.entries()] == [11]


def test_usb_map_bad_seed_names_the_field(tmp_path):
    seed = tmp_path / 'usb_mapping.json'
    seed.write_text(json.dumps({'11': {'hub': '1-1', 'port': 'x'}}))
    usb_map = proxykit.UsbMap(str(tmp_path))
    with pytest.raises(proxykit.Error) as e:
        usb_map.import_seed(str(seed))
    assert 'port' in str(e.value) and '11' in str(e.value)
    assert usb_map.entries() == []


def test_routing_settings_and_bad_backend():
    d = proxykit.Dongle(11, 'eth11', '192.168.11.100')
    r = proxykit.Routing(d)
    assert (r.table, r.metric, r.rule_priority, r.backend) == (11, 211, 1011, 'auto')
    r = proxykit.Routing(d, table=111, metric=300, rule_priority=5000, backend='rtnetlink')
    assert (r.table, r.metric, r.rule_priority, r.backend) == (111, 300, 5000, 'rtnetlink')
    with pytest.raises(proxykit.InvalidArgument):
        proxykit.Routing(d, backend='iproute')


def test_farm_config_errors_name_the_key():
    cfg = proxykit.Config(data='[dongles]\nauto = true\nport-base = 70000\n')
    assert proxykit.DongleFarm.config_enabled(cfg)
    with pytest.raises(proxykit.ConfigError) as e:
        proxykit.DongleFarm(cfg)
    assert 'port-base' in str(e.value)
    with pytest.raises(proxykit.ConfigError) as e:
        proxykit.DongleFarm(proxykit.Config(data='[dongles]\nrouting = iproute\n'))
    assert 'routing' in str(e.value)
    assert not proxykit.DongleFarm.config_enabled(proxykit.Config(data='[socks:a]\nlisten = 127.0.0.1:0\n'))


def _child(script, env_extra=None, wrapper=()):
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run([*wrapper, sys.executable, '-c', textwrap.dedent(script)],
                          env=env, capture_output=True, text=True, timeout=120)


# The start of a child script: a umockdev testbed with a root hub and a hub
# 1-1 (tb, root, hub), for the tests below that run under umockdev-wrapper.
HUB_TESTBED = '''
    import gi, json, threading, time
    gi.require_version('UMockdev', '1.0')
    from gi.repository import UMockdev
    import proxykit

    tb = UMockdev.Testbed.new()
    root = tb.add_device('usb', 'usb1', None, ['idVendor', '1d6b', 'idProduct', '0002'], ['DEVTYPE', 'usb_device'])
    hub = tb.add_device('usb', '1-1', root, ['idVendor', '05e3', 'idProduct', '0610', 'bDeviceClass', '09'],
                        ['DEVTYPE', 'usb_device'])
'''


@pytest.mark.skipif(shutil.which('umockdev-wrapper') is None, reason='umockdev is not installed')
def test_monitor_follows_uevents(tmp_path):
    """A testbed with a hub, a HiLink dongle and a mass-storage one: the
    monitor lists both, then reports a dongle plugged in and one pulled
    out, and records the map."""
    script = HUB_TESTBED + f'''

    def hilink(port, ifname):
        dev = tb.add_device('usb', f'1-1.{{port}}', hub, ['idVendor', '12d1', 'idProduct', '14db',
                            'serial', f'SER{{port}}', 'busnum', '1', 'devnum', str(port + 3)],
                            ['DEVTYPE', 'usb_device'])
        intf = tb.add_device('usb', f'1-1.{{port}}:1.0', dev, ['bInterfaceClass', '02'],
                             ['DEVTYPE', 'usb_interface', 'DRIVER', 'cdc_ether'])
        net = tb.add_device('net', ifname, intf, ['address', f'0c:5b:8f:27:9a:0{{port}}'], ['INTERFACE', ifname])
        return [dev, intf, net]

    first = hilink(1, 'enxfarm1')
    tb.add_device('usb', '1-1.4', hub, ['idVendor', '12d1', 'idProduct', '1f01', 'serial', 'MASS'],
                  ['DEVTYPE', 'usb_device'])
    cfg = proxykit.Config(data="""
    [dongles]
    state-dir = {tmp_path}
    [dongle:11]
    mac = 0c:5b:8f:27:9a:01
    [dongle:12]
    usb_path = 1-1.2
    """.replace('\\n    ', '\\n'))
    events = []
    seen = threading.Condition()

    def note(kind):
        def handler(d):
            with seen:
                events.append((kind, d.id, d.usb_path, d.mode))
                seen.notify_all()
        return handler

    def wait(n):
        with seen:
            return seen.wait_for(lambda: len(events) >= n, timeout=30)

    mon = proxykit.DongleMonitor(cfg, on_added=note('added'), on_removed=note('removed'))
    with mon:
        assert wait(2), events
        listed = [(d.id, d.usb_path, d.hub_path, d.hub_port, d.mode, d.interface) for d in mon.dongles()]
        assert listed == [(11, '1-1.1', '1-1', 1, 'hilink', 'enxfarm1'),
                          (0, '1-1.4', '1-1', 4, 'mass-storage', None)], listed
        second = hilink(2, 'enxfarm2')
        for p in second:
            tb.uevent(p, 'add')
        assert wait(3), events
        assert events[2] == ('added', 12, '1-1.2', 'hilink'), events
        assert mon.get(12).serial == 'SER2'
        for p in reversed(first):
            tb.uevent(p, 'remove')
            tb.remove_device(p)
        assert wait(4), events
        assert events[3][:3] == ('removed', 11, '1-1.1'), events
        assert [d.id for d in mon.dongles()] == [12, 0]
    usb_map = mon.usb_map
    assert sorted(e.id for e in usb_map.entries()) == [11, 12]
    assert usb_map.lookup(11).hub_port == 1      # kept after it went away
    print('OK')
    '''
    r = _child(script, wrapper=['umockdev-wrapper'])
    assert r.returncode == 0 and r.stdout.strip().endswith('OK'), r.stdout + r.stderr


def _dbusmock():
    try:
        import dbusmock  # noqa: F401
    except ImportError:
        return False
    return shutil.which('dbus-daemon') is not None


@pytest.mark.skipif(not _dbusmock(), reason='python3-dbusmock or dbus-daemon is not installed')
@pytest.mark.skipif(os.geteuid() != 0, reason='needs root for a network namespace')
def test_routing_through_networkmanager():
    """Against python-dbusmock's NetworkManager: a dongle whose interface
    NM manages is repaired in its connection profile (route table, rule,
    metric) followed by a reapply; a second diagnosis is healthy."""
    script = '''
    import atexit, dbus, dbusmock, json, os, subprocess, sys
    from dbusmock import DBusTestCase

    # the dongle's interface, in this namespace of its own
    for cmd in (['ip', 'link', 'add', 'enxfarm11', 'type', 'veth', 'peer', 'name', 'farm11peer'],
                ['ip', 'addr', 'add', '192.168.11.100/24', 'dev', 'enxfarm11'],
                ['ip', 'link', 'set', 'farm11peer', 'up'], ['ip', 'link', 'set', 'enxfarm11', 'up']):
        subprocess.run(cmd, check=True)
    DBusTestCase.start_system_bus()
    atexit.register(lambda: DBusTestCase.stop_dbus(DBusTestCase.system_bus_pid))
    server, obj = DBusTestCase.spawn_server_template('networkmanager', {}, stdout=subprocess.DEVNULL)
    atexit.register(server.terminate)
    nm = dbus.Interface(obj, dbusmock.MOCK_IFACE)
    dev_path = nm.AddEthernetDevice('mock_Ethernet11', 'enxfarm11', 100)
    bus = DBusTestCase.get_dbus(system_bus=True)
    settings = dbus.Interface(bus.get_object('org.freedesktop.NetworkManager',
                                             '/org/freedesktop/NetworkManager/Settings'),
                              'org.freedesktop.NetworkManager.Settings')
    con_path = settings.AddConnection(dbus.Dictionary({
        'connection': dbus.Dictionary({'id': 'dongle11', 'uuid': '0b7d5a64-0f1e-4b8e-9a3b-111111111111',
                                       'type': '802-3-ethernet', 'interface-name': 'enxfarm11'}, signature='sv'),
        'ipv4': dbus.Dictionary({'method': 'manual', 'route-metric': dbus.Int64(50)}, signature='sv'),
    }, signature='sa{sv}'))
    nm.AddActiveConnection([dev_path], con_path, '/', 'dongle11', 2)
    con = bus.get_object('org.freedesktop.NetworkManager', con_path)
    dbus.Interface(con, dbusmock.MOCK_IFACE).AddMethod(
        'org.freedesktop.NetworkManager.Settings.Connection', 'Update2', 'a{sa{sv}}ua{sv}', 'a{sv}',
        'self.ConnectionUpdate(self, args[0]); ret = dbus.Dictionary({}, signature="sv")')
    dev = bus.get_object('org.freedesktop.NetworkManager', dev_path)
    # What NetworkManager does on a reapply of that profile, done in the
    # kernel of this namespace (the mock cannot read its own settings back).
    reapply = '; '.join(f'subprocess.run({cmd!r})' for cmd in (
        'ip route replace default via 192.168.11.1 dev enxfarm11 table 11'.split(),
        'ip route replace default via 192.168.11.1 dev enxfarm11 metric 211'.split(),
        'ip rule add priority 1011 from 192.168.11.100 table 11'.split()))
    dbus.Interface(dev, dbusmock.MOCK_IFACE).AddMethod(
        'org.freedesktop.NetworkManager.Device', 'Reapply', 'a{sa{sv}}tu', '',
        'import subprocess; ' + reapply)

    import proxykit
    d = proxykit.Dongle(11, 'enxfarm11', '192.168.11.100')
    before = proxykit.Routing(d, backend='networkmanager').diagnose()
    assert not before.healthy and before.backend == 'networkmanager', before.to_dict()
    assert before.to_dict()['networkmanager'] is not None, before.to_dict()

    after = proxykit.Routing(d, backend='networkmanager').repair()
    assert after.healthy, (str(after), after.to_dict())
    assert any('dongle11' in a for a in after.actions), after.actions

    got = dbus.Interface(con, 'org.freedesktop.NetworkManager.Settings.Connection').GetSettings()
    ipv4 = got['ipv4']
    assert int(ipv4['route-table']) == 11, dict(ipv4)
    assert int(ipv4['route-metric']) == 211, dict(ipv4)
    rules = [{str(k): v for k, v in r.items()} for r in ipv4['routing-rules']]
    assert any(str(r.get('from')) == '192.168.11.100' and int(r.get('table')) == 11 and
               int(r.get('priority')) == 1011 for r in rules), rules
    calls = dbus.Interface(dev, dbusmock.MOCK_IFACE).GetCalls()
    assert any(str(c[1]) == 'Reapply' for c in calls), calls

    again = proxykit.Routing(d, backend='networkmanager').diagnose()
    assert again.healthy, (str(again), again.to_dict())
    print('OK')
    '''
    r = _child(script, wrapper=['unshare', '-n'])
    assert r.returncode == 0 and r.stdout.strip().endswith('OK'), r.stdout + r.stderr


def test_farm_without_dongles_starts_and_stops():
    """On a host with no dongle the farm runs with no listener, and a stop
    returns."""
    farm = proxykit.DongleFarm(monitor=proxykit.DongleMonitor(), port_base=20000,
                               listen_address='127.0.0.1', routing=False)
    assert (farm.port_base, farm.listen_address) == (20000, '127.0.0.1')
    with pytest.raises(proxykit.InvalidArgument):
        proxykit.DongleFarm(monitor=proxykit.DongleMonitor(), listen_address='not an address')
    with farm:
        assert farm.serving
        assert farm.n_listeners == 0 and farm.port(11) is None
        assert farm.to_dict() is not None
        text = farm.prometheus()
        assert '# TYPE proxykit_socks_connect_seconds histogram' in text
        assert 'listener=' not in text
    assert not farm.serving


def test_ladder_rungs_in_a_toggle():
    """The rungs past the modem go into a Toggle; a dongle that was never
    seen on USB fails the usb rung with a message that says so, and the
    result lists each rung with its duration."""
    assert proxykit.LADDER_STAGES == ('routing', 'modem', 'usb', 'power', 'hub')
    d = proxykit.Dongle(11, 'pk-none0', '127.0.0.1')
    assert proxykit.PowerStep(d, whole_hub=True).name == 'hub'
    modem = proxykit.HilinkModem('127.0.0.1:9', request_timeout=1)
    toggle = proxykit.Toggle(11, modem, steps=[proxykit.UsbStep(d, off=0.01, wait=0.1),
                                                proxykit.PowerStep(d, off=0.01, wait=0.1)])
    with pytest.raises(proxykit.Error) as exc:
        toggle.run(recovery=True)
    steps = exc.value.result['steps']
    assert [(s['name'], s['outcome']) for s in steps] == [('diagnose', 'failed'), ('usb', 'failed'),
                                                           ('power', 'failed')]
    assert 'no USB device known' in steps[1]['detail']
    assert 'hub port is not known' in steps[2]['detail']
    assert all(isinstance(s['duration_ms'], int) for s in steps)
    with pytest.raises(TypeError):
        proxykit.Toggle(12, modem, steps=['nonsense'])
    # A plain run stops at the max stage: the usb rung is for recoveries.
    bounded = proxykit.Toggle(13, modem, max_stage='modem', recovery_cooldown=0,
                              steps=['modem', proxykit.UsbStep(d, off=0.01, wait=0.1)])
    with pytest.raises(proxykit.Error) as exc:
        bounded.run()
    assert [s['name'] for s in exc.value.result['steps']] == ['diagnose', 'modem']


def test_probe_dongle_diagnosis():
    """Probe.dongle asks the ladder's questions: loopback holding
    127.0.0.1 passes; an address the interface does not hold fails, named."""
    assert proxykit.Probe.dongle(proxykit.Dongle(11, 'lo', '127.0.0.1')).run(timeout=5)
    probe = proxykit.Probe.dongle(proxykit.Dongle(12, 'lo', '192.168.12.100'))
    assert probe.kind == 'dongle' and probe.description == 'dongle 12'
    result = probe.run(timeout=5)
    assert not result and 'does not hold 192.168.12.100' in result.reason


def test_dongle_watch_settings_and_no_dongles(tmp_path):
    """DongleWatch from [watchdog]: the seed farm's defaults, the keys
    that override them, and a watch with no dongle that starts and stops."""
    config = proxykit.Config()
    config.load_data('[watchdog]\ndongles = true\n')
    assert proxykit.DongleWatch.config_enabled(config)
    watch = proxykit.DongleWatch(config)
    assert (watch.interval, watch.fall, watch.cooldown, watch.max_recoveries) == (180.0, 2, 180.0, 2)
    config.load_data(f'[watchdog]\nstate-dir = {tmp_path}\ndongle-interval = 2s\ndongle-retries = 3\n'
                     'dongle-cooldown = 10m\nmax-recoveries = 1\n')
    watch = proxykit.DongleWatch(config)
    assert (watch.interval, watch.fall, watch.cooldown, watch.max_recoveries) == (2.0, 3, 600.0, 1)
    assert not watch.controller_reset_allowed
    watch.set_controller_reset(proxykit.UsbControllerReset(proxykit.StateStore(tmp_path), allowed=True))
    assert watch.controller_reset_allowed
    watch.set_controller_reset(None)
    assert not watch.controller_reset_allowed
    config.load_data('[watchdog]\nallow-controller-reset = true\n')
    assert proxykit.DongleWatch(config).controller_reset_allowed
    config.load_data('[watchdog]\ndongle-retries = many\n')
    with pytest.raises(proxykit.ConfigError, match='dongle-retries'):
        proxykit.DongleWatch(config)

    started = []
    watch = proxykit.DongleWatch(monitor=proxykit.DongleMonitor(), state_store=proxykit.StateStore(tmp_path),
                                 interval=1, fall=2, on_recovery_started=lambda n, r: started.append(n))
    with watch:
        assert watch.serving and watch.n_dongles == 0 and watch.n_failing == 0 and watch.n_recovering == 0
    assert not watch.serving and started == []


def test_toggle_with_the_ladder_from_config(tmp_path):
    """Toggle.with_ladder builds the ladder pk-toggle and pk-watchdog
    --dongles build: every rung for a dongle on USB, the modem alone for
    one that is not; a bad [toggle] value is a ConfigError naming it."""
    config = proxykit.Config()
    config.load_data(f'[toggle]\nstate_dir = {tmp_path}\nsettle = 10ms\nusb_wait = 100ms\n')
    modem = proxykit.HilinkModem('127.0.0.1:9', request_timeout=1)
    d = proxykit.Dongle(11, 'pk-none0', '127.0.0.1')
    assert proxykit.Toggle.with_ladder(11, modem, config, dongle=d).n_steps == 5
    assert proxykit.Toggle.with_ladder(11, modem, config, dongle=d, first='usb', last='usb').n_steps == 1
    assert proxykit.Toggle.with_ladder(11, modem, config).n_steps == 1
    with pytest.raises(proxykit.InvalidArgument):
        proxykit.Toggle.with_ladder(11, modem, config, first='sky')
    bad = proxykit.Config()
    bad.load_data('[toggle]\nescalation = data,usb\n')
    with pytest.raises(proxykit.ConfigError, match='escalation'):
        proxykit.Toggle.with_ladder(11, modem, bad)
    bad.load_data('[toggle]\nescalation = data\nmax_stage = roof\n')
    with pytest.raises(proxykit.ConfigError, match='max_stage'):
        proxykit.Toggle.with_ladder(11, modem, bad)
    # [dongles] routing: off leaves the routing rung out; a bad one names the key
    off = proxykit.Config()
    off.load_data(f'[toggle]\nstate_dir = {tmp_path}\n[dongles]\nrouting = off\n')
    assert proxykit.Toggle.with_ladder(11, modem, off, dongle=d).n_steps == 4
    bad.load_data('[dongles]\nrouting = iproute\n')
    with pytest.raises(proxykit.ConfigError, match=r"\[dongles\] routing.*'iproute': expected auto, rtnetlink"):
        proxykit.Toggle.with_ladder(11, modem, bad)


def test_controller_reset_guard_rails(tmp_path):
    store = proxykit.StateStore(str(tmp_path))
    reset = proxykit.UsbControllerReset(store)
    assert not reset.allowed and reset.threshold == 70 and reset.interval == 600.0
    with pytest.raises(proxykit.NotAllowed, match='allow-controller-reset'):
        reset.maybe_reset([], 10)
    reset = proxykit.UsbControllerReset(store, allowed=True, pause=0.01)
    assert reset.is_due(7, 10) and not reset.is_due(6, 10) and not reset.is_due(0, 0)
    with pytest.raises(proxykit.NotAllowed, match='1 of 2 dongles failed'):
        reset.maybe_reset([proxykit.Dongle(11)], 2)
    # a dongle not on USB has no controller to reset
    with pytest.raises(proxykit.NotSupported, match='no xhci_hcd controller'):
        reset.maybe_reset([proxykit.Dongle(11)], 1)
    with pytest.raises(proxykit.NotSupported, match='dongle 11: not on USB'):
        proxykit.UsbControllerReset.controller_of(proxykit.Dongle(11))
    assert reset.remaining == 0 and not os.path.exists(tmp_path / 'host' / 'usb-controller-reset.json')

    cfg = proxykit.Config(data='[watchdog]\nallow-controller-reset = true\n'
                               'controller-reset-threshold = 50\ncontroller-reset-interval = 5min\n')
    reset = proxykit.UsbControllerReset(store, config=cfg)
    assert reset.allowed and reset.threshold == 50 and reset.interval == 300.0
    with pytest.raises(proxykit.ConfigError, match='controller-reset-threshold'):
        proxykit.UsbControllerReset(store, config=proxykit.Config(data='[watchdog]\ncontroller-reset-threshold = 0\n'))
    with pytest.raises(proxykit.InvalidArgument):
        proxykit.UsbControllerReset(store, threshold=101)


@pytest.mark.skipif(shutil.which('umockdev-wrapper') is None, reason='umockdev is not installed')
def test_port_power_under_the_dongles_lock(tmp_path):
    """A hub whose ports have the ``disable`` attribute: PortPower switches
    and cycles port 3, and refuses while dongle 11's lock is held."""
    script = HUB_TESTBED + f'''
    import fcntl, os
    intf = tb.add_device('usb', '1-1:1.0', hub, ['bInterfaceClass', '09'], ['DEVTYPE', 'usb_interface'])
    port = tb.get_root_dir() + intf + '/1-1-port3'
    os.makedirs(port)
    with open(port + '/disable', 'w') as f:
        f.write('0\\n')

    def disable():
        with open(port + '/disable') as f:
            return f.read().strip()

    entry = proxykit.UsbMapEntry(11, '1-1', 3)
    power = proxykit.PortPower(entry, state_dir={str(tmp_path)!r}, off=0.05)
    power.run('off')
    assert disable() == '1' and entry.power is False
    power.run('cycle')
    assert disable() == '0' and entry.power is True
    with open({str(tmp_path / 'toggle-11.lock')!r}, 'a') as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        try:
            power.run('off')
            raise SystemExit('not refused')
        except proxykit.Busy as e:
            assert 'toggle-11.lock' in str(e), e
    assert disable() == '0'
    try:
        power.run('reset')
        raise SystemExit('accepted')
    except proxykit.InvalidArgument:
        pass
    print('OK')
    '''
    r = _child(script, wrapper=['umockdev-wrapper'])
    assert r.returncode == 0 and r.stdout.strip().endswith('OK'), r.stdout + r.stderr


@pytest.mark.skipif(shutil.which('umockdev-wrapper') is None, reason='umockdev is not installed')
def test_monitor_discover_power_and_routing_as_pk_toggle_does(tmp_path):
    """pk-toggle --discover, --power-status, --power and --routing through
    the library: a HiLink dongle (11) on port 1, a seed file that knows
    dongle 13 on port 3 (gone from USB), ports with ``disable``."""
    seed = tmp_path / 'usb_mapping.json'
    seed.write_text(json.dumps({'13': {'hub': '1-1', 'port': 3}}))
    lock_dir = tmp_path / 'locks'
    lock_dir.mkdir()
    script = HUB_TESTBED + f'''
    import fcntl, os
    intf = tb.add_device('usb', '1-1:1.0', hub, ['bInterfaceClass', '09'], ['DEVTYPE', 'usb_interface'])
    ports = {{}}
    for n in (1, 3):
        ports[n] = tb.get_root_dir() + intf + f'/1-1-port{{n}}'
        os.makedirs(ports[n])
        with open(ports[n] + '/disable', 'w') as f:
            f.write('0\\n')

    def disable(n):
        with open(ports[n] + '/disable') as f:
            return f.read().strip()

    dev = tb.add_device('usb', '1-1.1', hub, ['idVendor', '12d1', 'idProduct', '14db', 'serial', 'SER1',
                        'busnum', '1', 'devnum', '4'], ['DEVTYPE', 'usb_device'])
    dintf = tb.add_device('usb', '1-1.1:1.0', dev, ['bInterfaceClass', '02'],
                          ['DEVTYPE', 'usb_interface', 'DRIVER', 'cdc_ether'])
    tb.add_device('net', 'enxfarm1', dintf, ['address', '0c:5b:8f:27:9a:01'], ['INTERFACE', 'enxfarm1'])
    cfg = proxykit.Config(data="""
    [dongles]
    state-dir = {tmp_path}
    [dongle:11]
    mac = 0c:5b:8f:27:9a:01
    """.replace('\\n    ', '\\n'))
    mon = proxykit.DongleMonitor(cfg)

    # --discover --import-map: the seed taken, the scan recorded
    found = mon.discover(import_maps=[{str(seed)!r}])
    assert [(d.id, d.usb_path) for d in found] == [(11, '1-1.1')], found
    assert [e.id for e in mon.usb_map_entries()] == [11, 13]
    assert [e.hub_port for e in mon.usb_map_entries([13, 11])] == [3, 1]
    try:
        mon.usb_map_entries([12])
        raise SystemExit('dongle 12 found')
    except proxykit.Failed as e:
        assert str(e) == 'dongle 12 is not in the USB map', e
    try:
        mon.discover(import_maps=[{str(tmp_path / 'missing.json')!r}])
        raise SystemExit('a missing seed taken')
    except proxykit.Error as e:
        assert 'missing.json' in str(e), e

    # --power-status: 13 gone from USB, its port still known
    status = mon.power_status()
    assert [(s['dongle'], s['hub'], s['port'], s['present'], s['power']) for s in status] == \\
        [(11, '1-1', 1, True, 'on'), (13, '1-1', 3, False, 'on')], status

    # --power off 11 13 while a toggle of 13 holds its lock: 11 switched,
    # 13 refused (Busy wins), each outcome on its PortPower
    powers = [proxykit.PortPower(e, state_dir={str(lock_dir)!r}, off=0.05) for e in mon.usb_map_entries([11, 13])]
    with open({str(lock_dir / 'toggle-13.lock')!r}, 'a') as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        try:
            proxykit.PortPower.run_all(powers, 'off')
            raise SystemExit('not refused')
        except proxykit.Busy as e:
            assert 'toggle-13.lock' in str(e), e
    assert powers[0].error is None and isinstance(powers[1].error, proxykit.Busy), (powers[0].error, powers[1].error)
    assert (disable(1), disable(3)) == ('1', '0')
    assert [s['power'] for s in mon.power_status([11, 13])] == ['off', 'on']
    proxykit.PortPower.run_all(powers, 'cycle')
    assert powers[1].error is None and (disable(1), disable(3)) == ('0', '0')
    # the same through the monitor, as pk-toggle --power off 13 does
    assert mon.power('off', [13], state_dir={str(lock_dir)!r}) == {{13: None}} and disable(3) == '1'
    with open({str(lock_dir / 'toggle-11.lock')!r}, 'a') as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        out = mon.power('on', state_dir={str(lock_dir)!r})
    assert sorted(out) == [11, 13] and out[13] is None and isinstance(out[11], proxykit.Busy), out
    assert (disable(1), disable(3)) == ('0', '0')

    # --routing: an unknown dongle at once; 11 has no address, so it
    # cannot be repaired, and says why in its diagnosis
    try:
        mon.repair_routing([12], backend='rtnetlink')
        raise SystemExit('dongle 12 repaired')
    except proxykit.Failed as e:
        assert 'dongle 12 is not on USB, or has no number yet' in str(e), e
    for diags in (mon.repair_routing([11], backend='rtnetlink'), mon.repair_routing(backend='rtnetlink')):
        assert len(diags) == 1 and not diags[0].healthy, diags
        d = diags[0].to_dict()
        assert sorted(d) == ['dongle', 'error', 'healthy'] and d['dongle'] == 11, d
        assert isinstance(diags[0].error, proxykit.Failed) and 'cannot be repaired' in str(diags[0].error)
        assert str(diags[0]).startswith('dongle 11 routing: routing of dongle 11 cannot be repaired')
    print('OK')
    '''
    r = _child(script, wrapper=['umockdev-wrapper'])
    assert r.returncode == 0 and r.stdout.strip().endswith('OK'), r.stdout + r.stderr
