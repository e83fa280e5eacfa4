#!/usr/bin/python3
"""The dongle farm in a box, end to end.

udev: a umockdev testbed with a powered hub (1-1), three E8372h in HiLink
mode on ports 1-3 (usb_device, its cdc_ether interface, the net device
under it) and one still in mass-storage mode on port 4.

Interfaces: for each HiLink dongle N a veth named as the testbed names
its net device, in this test's own network namespace, holding
192.168.N.100/24; its peer sits in a second namespace (the dongles' side)
at 192.168.N.1, where tests/hilink-emulator answers the web API, and a
small server answers DNS (every name is 192.168.N.1) and TCP on port 7
(it says which address the connection came from, then echoes).

Checked: pk-toggle --discover --json (every dongle with its hub and port,
the mass-storage one flagged, the USB map written); pk-toggle --routing
over rtnetlink (tables, rules and a dongle default route that took over
the host's default, read back with ip); pk-socks --dongles (a listener on
10000+N per dongle that carries a CONNECT out through its own veth, with
names resolved by the dongle); hotplug (a dongle plugged in, uevents plus
veth, gets its listener; unplugged, the listener goes and the others keep
their connections); /proxy-info of pk-toggle --serve lists exactly the
running listeners; pk-watchdog --dongles brings back a dongle that only
the USB map knows (port power rung, replug), one whose routing broke
(routing rung) and one whose interface went (USB rung, replug),
records online -> ping_failed -> recovering -> online, and respects the
recovery cooldown; [dongles] modeswitch runs usb_modeswitch for the
mass-storage dongle.

Nothing leaves the namespaces this test creates."""
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

if os.geteuid() != 0:
    print('SKIP: needs root for network namespaces (CI runs as root)')
    sys.exit(77)
if shutil.which('umockdev-wrapper') is None:
    print('SKIP: umockdev is not installed')
    sys.exit(77)
try:
    import gi
    gi.require_version('UMockdev', '1.0')
    from gi.repository import UMockdev
except (ImportError, ValueError):
    print('SKIP: gir1.2-umockdev-1.0 is not installed')
    sys.exit(77)

# The dongle side's servers: this same file, run with --dongle-side.
if len(sys.argv) > 1 and sys.argv[1] == '--dongle-side':
    def dns():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(('0.0.0.0', 53))
        while True:
            q, peer = s.recvfrom(512)
            # question: header (12 bytes), then QNAME, QTYPE, QCLASS
            end = q.index(b'\0', 12) + 5
            qtype = struct.unpack('!H', q[end - 4:end - 2])[0]
            # the dongle that is asked answers with its own address
            me = socket.inet_aton(peer[0].rsplit('.', 1)[0] + '.1')
            answer = b''
            if qtype == 1:
                answer = b'\xc0\x0c' + struct.pack('!HHIH', 1, 1, 60, 4) + me
            head = q[:2] + struct.pack('!HHHHH', 0x8180, 1, 1 if answer else 0, 0, 0)
            s.sendto(head + q[12:end] + answer, peer)

    def serve(conn, peer):
        with conn:
            conn.sendall((peer[0] + '\n').encode())
            while True:
                data = conn.recv(4096)
                if not data:
                    return
                conn.sendall(data)

    threading.Thread(target=dns, daemon=True).start()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(('0.0.0.0', 7))
    srv.listen(64)
    print('ready', flush=True)
    while True:
        c, p = srv.accept()
        threading.Thread(target=serve, args=(c, p), daemon=True).start()

if os.environ.get('PK_IN_NETNS') != '1':
    os.environ['PK_IN_NETNS'] = '1'
    # umockdev's testbed wants its own process preloaded too.
    os.execvp('unshare', ['unshare', '-n', 'umockdev-wrapper', sys.executable, os.path.abspath(__file__)])

build = os.environ['PK_BUILDDIR']
pk_toggle = os.path.join(build, 'cli', 'pk-toggle')
pk_socks = os.path.join(build, 'cli', 'pk-socks')
emulator = os.path.join(build, 'tests', 'hilink-emulator')
tmp = tempfile.mkdtemp(prefix='pk-farm-')
state_dir = os.path.join(tmp, 'state')
failures = []
procs = []

# Tools that are not udev consumers must see the real /sys.
plain_env = {k: v for k, v in os.environ.items() if k not in ('LD_PRELOAD', 'UMOCKDEV_DIR')}
plain_env.pop('NOTIFY_SOCKET', None)


def check(cond, what):
    print(('ok: ' if cond else 'FAILED: ') + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def wait_for(cond, what, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return check(True, what)
        time.sleep(0.05)
    return check(False, 'timed out waiting for ' + what)


def sh(*args, ns=None):
    cmd = list(args)
    if ns is not None:
        cmd = ['nsenter', '-t', str(ns), '-n'] + cmd
    return subprocess.run(cmd, env=plain_env, check=True, capture_output=True, text=True).stdout


# --- udev: the testbed ---

testbed = UMockdev.Testbed.new()
udev_env = dict(plain_env, UMOCKDEV_DIR=testbed.get_root_dir(), LD_PRELOAD='libumockdev-preload.so.0',
                PROXYKIT_STATE_DIR=state_dir)
# In the sanitizer build, umockdev's preload comes before ASan's runtime.
udev_env['ASAN_OPTIONS'] = ':'.join(filter(None, [plain_env.get('ASAN_OPTIONS'), 'verify_asan_link_order=0']))

# The USB host controller the dongles hang off: a PCI device xhci_hcd holds.
pci = testbed.add_device('pci', '0000:00:14.0', None,
                         ['vendor', '0x8086', 'device', '0xa36d', 'class', '0x0c0330'],
                         ['DRIVER', 'xhci_hcd', 'PCI_SLOT_NAME', '0000:00:14.0'])
testbed.set_attribute_link(pci, 'driver', '../../bus/pci/drivers/xhci_hcd')
root_hub = testbed.add_device('usb', 'usb1', pci,
                              ['idVendor', '1d6b', 'idProduct', '0002', 'bDeviceClass', '09',
                               'busnum', '1', 'devnum', '1'],
                              ['DEVTYPE', 'usb_device', 'DRIVER', 'usb'])
hub = testbed.add_device('usb', '1-1', root_hub,
                         ['idVendor', '05e3', 'idProduct', '0610', 'bDeviceClass', '09',
                          'busnum', '1', 'devnum', '2', 'maxchild', '4'],
                         ['DEVTYPE', 'usb_device', 'DRIVER', 'usb'])
hub_intf = testbed.add_device('usb', '1-1:1.0', hub, ['bInterfaceClass', '09'],
                              ['DEVTYPE', 'usb_interface', 'DRIVER', 'hub'])

DONGLES = {11: 1, 12: 2, 13: 3}        # N -> hub port

# The hub's ports, with the `disable` attribute of Linux 6.0 (port power).
tb_root = testbed.get_root_dir()
for port in range(1, 5):
    os.makedirs(f'{tb_root}{hub_intf}/1-1-port{port}')
    with open(f'{tb_root}{hub_intf}/1-1-port{port}/disable', 'w') as f:
        f.write('0\n')


# xhci_hcd's bind and unbind, as plain files: what was written last stays.
xhci_dir = f'{tb_root}/sys/bus/pci/drivers/xhci_hcd'
os.makedirs(xhci_dir, exist_ok=True)
for name in ('bind', 'unbind'):
    with open(f'{xhci_dir}/{name}', 'w') as f:
        pass


def attr_path(n, what):
    """A testbed file: dongle N's `authorized` or its port's `disable`."""
    port = DONGLES[n]
    if what == 'authorized':
        return f'{tb_root}{hub}/1-1.{port}/authorized'
    return f'{tb_root}{hub_intf}/1-1-port{port}/disable'


def read_attr(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


class Watch:
    """Records each change of some testbed files, in order, and plays a
    dongle's part (a replug) on the values it is told about."""

    def __init__(self, files, actions):
        self.files = files          # name -> path
        self.actions = actions      # (name, value) -> callable
        self.seen = []
        self.stop = False
        self.errors = []
        self.last = {name: read_attr(path) for name, path in files.items()}
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while True:
            # one last pass after stop: the values the tool wrote last
            last_pass = self.stop
            for name, path in self.files.items():
                v = read_attr(path)
                # '' is a write caught between truncation and data
                if v and v != self.last[name]:
                    self.last[name] = v
                    self.seen.append((name, v))
                    act = self.actions.get((name, v))
                    if act is not None:
                        try:
                            act()
                        except Exception as e:   # noqa: BLE001 (reported below)
                            self.errors.append(repr(e))
            if last_pass:
                return
            time.sleep(0.01)

    def done(self):
        self.stop = True
        self.thread.join()
        return self.seen


def ifname(n):
    return f'enx0c5b8f2799{n:02x}'


def mac(n):
    return f'0c:5b:8f:27:99:{n:02x}'


def plug_usb(n):
    """The sysfs tree of an E8372h in HiLink mode on port DONGLES[n]."""
    port = DONGLES[n]
    dev = testbed.add_device('usb', f'1-1.{port}', hub,
                             ['idVendor', '12d1', 'idProduct', '14db', 'manufacturer', 'HUAWEI_MOBILE',
                              'product', 'HUAWEI_MOBILE', 'serial', f'0123456789AB{n:04d}',
                              'busnum', '1', 'devnum', str(10 + n), 'speed', '480', 'authorized', '1'],
                             ['DEVTYPE', 'usb_device', 'DRIVER', 'usb', 'ID_VENDOR_ID', '12d1',
                              'ID_MODEL_ID', '14db'])
    intf = testbed.add_device('usb', f'1-1.{port}:1.0', dev,
                              ['bInterfaceClass', '02', 'bInterfaceSubClass', '06', 'bInterfaceNumber', '00'],
                              ['DEVTYPE', 'usb_interface', 'DRIVER', 'cdc_ether'])
    net = testbed.add_device('net', ifname(n), intf, ['address', mac(n), 'type', '1'],
                             ['INTERFACE', ifname(n), 'ID_NET_DRIVER', 'cdc_ether'])
    return [dev, intf, net]


mass_storage = testbed.add_device('usb', '1-1.4', hub,
                                  ['idVendor', '12d1', 'idProduct', '1f01', 'manufacturer', 'HUAWEI_MOBILE',
                                   'serial', '0123456789ABMASS', 'busnum', '1', 'devnum', '30'],
                                  ['DEVTYPE', 'usb_device', 'DRIVER', 'usb'])
testbed.add_device('usb', '1-1.4:1.0', mass_storage, ['bInterfaceClass', '08'],
                   ['DEVTYPE', 'usb_interface', 'DRIVER', 'usb-storage'])

# --- interfaces: the dongles' side in a namespace of its own ---

sh('ip', 'link', 'set', 'lo', 'up')
dongle_side = subprocess.Popen(['unshare', '-n', sys.executable, os.path.abspath(__file__), '--dongle-side'],
                               env=plain_env, stdout=subprocess.PIPE, text=True)
procs.append(dongle_side)
check(dongle_side.stdout.readline().strip() == 'ready', 'the dongle side serves DNS and TCP')
sh('ip', 'link', 'set', 'lo', 'up', ns=dongle_side.pid)
emulators = {}


def plug_net(n):
    peer = f'dpeer{n}'
    sh('ip', 'link', 'add', ifname(n), 'address', mac(n), 'type', 'veth', 'peer', 'name', peer)
    sh('ip', 'link', 'set', peer, 'netns', str(dongle_side.pid))
    sh('ip', 'addr', 'add', f'192.168.{n}.1/24', 'dev', peer, ns=dongle_side.pid)
    sh('ip', 'link', 'set', peer, 'up', ns=dongle_side.pid)
    sh('ip', 'addr', 'add', f'192.168.{n}.100/24', 'dev', ifname(n))
    sh('ip', 'link', 'set', ifname(n), 'up')
    if n not in emulators:
        emulators[n] = subprocess.Popen(['nsenter', '-t', str(dongle_side.pid), '-n', emulator,
                                         '-a', f'192.168.{n}.1', '-p', '80', '-f', str(n), '-n', '1'],
                                        env=plain_env, stdout=subprocess.DEVNULL)
        procs.append(emulators[n])


def unplug_net(n):
    sh('ip', 'link', 'del', ifname(n))


def plug(n):
    paths = plug_usb(n)
    plug_net(n)
    for p in paths:
        testbed.uevent(p, 'add')
    return paths


def unplug(n, paths):
    for p in reversed(paths):
        testbed.uevent(p, 'remove')
        testbed.remove_device(p)
    unplug_net(n)


usb_paths = {}
for n in (11, 12, 13):
    usb_paths[n] = plug_usb(n)
    plug_net(n)

conf = os.path.join(tmp, 'proxykit.conf')
with open(conf, 'w') as f:
    f.write(f"""[dongles]
auto = true
port-base = 10000
listen = 127.0.0.1
routing = rtnetlink
state-dir = {state_dir}

[dongle:11]
[dongle:12]
socks_port = 10112
[dongle:13]
""")


def run(*args, env=None):
    return subprocess.run(list(args), env=env or udev_env, capture_output=True, text=True, timeout=120)


try:
    # --- discovery ---
    r = run(pk_toggle, '-c', conf, '--discover', '--json')
    check(r.returncode == 0, f'pk-toggle --discover exits 0 ({r.stderr.strip()})')
    found = json.loads(r.stdout) if r.returncode == 0 else []
    by_port = {d['port']: d for d in found}
    check(sorted(by_port) == [1, 2, 3, 4], f'four dongles on ports 1-4 of hub 1-1: {sorted(by_port)}')
    for n, port in DONGLES.items():
        d = by_port.get(port, {})
        check(d.get('dongle') == n and d.get('hub') == '1-1' and d.get('usb_path') == f'1-1.{port}' and
              d.get('mode') == 'hilink' and d.get('interface') == ifname(n) and
              d.get('host_address') == f'192.168.{n}.100' and d.get('api') == f'http://192.168.{n}.1' and
              d.get('usb_id') == '12d1:14db' and d.get('serial') == f'0123456789AB{n:04d}' and d.get('ready'),
              f'dongle {n}: hub 1-1 port {port}, {ifname(n)}, 192.168.{n}.100, serial: {d}')
    ms = by_port.get(4, {})
    check(ms.get('mode') == 'mass-storage' and ms.get('usb_id') == '12d1:1f01' and not ms.get('ready') and
          ms.get('interface') is None, f'the dongle on port 4 is flagged mass-storage: {ms}')

    r = run(pk_toggle, '-c', conf, '--discover')
    check(r.returncode == 0 and 'mass-storage' in r.stdout and '1-1.4' in r.stdout and ifname(12) in r.stdout,
          'pk-toggle --discover prints a table with the mass-storage dongle')

    with open(os.path.join(state_dir, 'host', 'usb-map.json')) as f:
        usb_map = json.load(f)['dongles']
    check(sorted(usb_map) == ['11', '12', '13'] and
          all(usb_map[str(n)]['hub'] == '1-1' and usb_map[str(n)]['port'] == p and
              usb_map[str(n)]['serial'] == f'0123456789AB{n:04d}' and usb_map[str(n)]['interface'] == ifname(n)
              for n, p in DONGLES.items()),
          f'the USB map records N -> hub, port, serial, interface: {usb_map}')

    # --- routing over rtnetlink ---
    # The host's own uplink keeps metric 100; dongle 12's DHCP handed out
    # metric 50, which took over the default route.
    sh('ip', 'link', 'add', 'uplink0', 'type', 'veth', 'peer', 'name', 'uplink1')
    sh('ip', 'link', 'set', 'uplink1', 'up')
    sh('ip', 'addr', 'add', '10.99.0.2/24', 'dev', 'uplink0')
    sh('ip', 'link', 'set', 'uplink0', 'up')
    sh('ip', 'route', 'add', 'default', 'via', '10.99.0.1', 'dev', 'uplink0', 'metric', '100')
    sh('ip', 'route', 'add', 'default', 'via', '192.168.12.1', 'dev', ifname(12), 'metric', '50')

    r = run(pk_toggle, '-c', conf, '--routing', '12', '--json')
    check(r.returncode == 0, f'pk-toggle --routing 12 exits 0 ({r.stderr.strip()})')
    out = json.loads(r.stdout) if r.returncode == 0 else {}
    diag = out[0] if isinstance(out, list) and out else out
    check(diag.get('backend') == 'rtnetlink' and diag.get('healthy') is True and diag.get('table') == 12,
          f'routing 12 repaired over rtnetlink: {diag}')
    check(any('metric' in a or 'default' in a for a in diag.get('actions', [])),
          f'the repair says it corrected the default route: {diag.get("actions")}')
    default = sh('ip', '-4', 'route', 'show', 'default')
    check(re.search(r'via 10\.99\.0\.1 dev uplink0 .*metric 100\b', default) is not None and
          re.search(rf'via 192\.168\.12\.1 dev {ifname(12)} .*metric 212\b', default) is not None and
          'metric 50' not in default,
          f'the main table: the uplink keeps 100, dongle 12 gets 212:\n{default}')
    check(f'default via 192.168.12.1 dev {ifname(12)}' in sh('ip', 'route', 'show', 'table', '12'),
          'table 12 holds default via 192.168.12.1')
    rules = sh('ip', 'rule', 'show')
    check(re.search(r'^1012:\s+from 192\.168\.12\.100 lookup 12\b', rules, re.M) is not None,
          f'rule 1012: from 192.168.12.100 lookup 12:\n{rules}')

    r = run(pk_toggle, '-c', conf, '--routing', '--all', '--json')
    out = json.loads(r.stdout) if r.returncode == 0 else []
    check(r.returncode == 0 and sorted(d['dongle'] for d in out) == [11, 12, 13] and
          all(d['healthy'] for d in out), f'--routing --all: three healthy dongles ({r.stderr.strip()})')
    for n in (11, 13):
        check(f'default via 192.168.{n}.1 dev {ifname(n)}' in sh('ip', 'route', 'show', 'table', str(n)),
              f'table {n} holds default via 192.168.{n}.1')
    r = run(pk_toggle, '-c', conf, '--routing', '12', '--json')
    out = json.loads(r.stdout) if r.returncode == 0 else [{}]
    diag = out[0] if isinstance(out, list) else out
    check(diag.get('healthy') is True and diag.get('actions') == [], 'a second --routing finds nothing to do')

    # a table route removed by hand: diagnosed, then repaired
    sh('ip', 'route', 'del', 'default', 'table', '11')
    r = run(pk_toggle, '-c', conf, '--routing', '11')
    check(r.returncode == 0 and 'table' in r.stdout, f'--routing 11 reports the missing table route: {r.stdout}')
    check(f'default via 192.168.11.1 dev {ifname(11)}' in sh('ip', 'route', 'show', 'table', '11'),
          'table 11 repaired')

    # --status: USB side and routing health next to the modem's state
    r = run(pk_toggle, '-c', conf, '--status', '--all', '--json')
    status = json.loads(r.stdout) if r.returncode == 0 else []
    if isinstance(status, dict):
        status = status.get('dongles', [])
    by_id = {s.get('dongle', s.get('id')): s for s in status}
    check(r.returncode == 0 and all(by_id.get(n, {}).get('usb_path') == f'1-1.{p}' and
                                    by_id[n].get('mode') == 'hilink' and by_id[n].get('routing', {}).get('healthy') is True
                                    for n, p in DONGLES.items()),
          f'--status --json shows USB path, mode and routing ({r.stderr.strip()}): {status}')
    r = run(pk_toggle, '-c', conf, '--status', '--all')
    check(r.returncode == 0 and '1-1.1' in r.stdout and 'routing ok' in r.stdout,
          f'--status shows "1-1.1" and "routing ok": {r.stdout}')

    # --- listeners that follow the dongles ---
    # Dongle 13 is unplugged before pk-socks starts; it comes back later.
    unplug(13, usb_paths.pop(13))
    sh('ip', 'rule', 'del', 'from', '192.168.13.100', 'lookup', '13')

    def port_of(n):
        return 10112 if n == 12 else 10000 + n

    def connectable(port):
        with socket.socket() as s:
            return s.connect_ex(('127.0.0.1', port)) == 0

    def socks_connect(port, host, dport=7):
        s = socket.create_connection(('127.0.0.1', port), timeout=10)
        s.sendall(b'\x05\x01\x00')
        assert s.recv(2) == b'\x05\x00'
        if re.fullmatch(r'[\d.]+', host):
            dest = b'\x01' + socket.inet_aton(host)
        else:
            dest = b'\x03' + bytes([len(host)]) + host.encode()
        s.sendall(b'\x05\x01\x00' + dest + struct.pack('!H', dport))
        reply = s.recv(10)
        assert reply[:2] == b'\x05\x00', reply
        f = s.makefile('rb')
        return s, f, f.readline().decode().strip()

    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        metrics_port = probe.getsockname()[1]
    socks_log = open(os.path.join(tmp, 'pk-socks.log'), 'w')
    socks = subprocess.Popen([pk_socks, '-c', conf, '--dongles', '--workers', '1',
                              '--metrics', f'127.0.0.1:{metrics_port}'], env=udev_env,
                             stdout=socks_log, stderr=subprocess.STDOUT)
    procs.append(socks)
    wait_for(lambda: connectable(10011) and connectable(10112), 'listeners on 10011 and 10112 (from [dongle:12])')
    check(not connectable(10013), 'no listener for the unplugged dongle 13')

    held, held_f, peer = socks_connect(10011, '192.168.11.1')
    check(peer == '192.168.11.100', f'CONNECT through 10011 leaves from 192.168.11.100 (peer saw {peer})')
    s, f, peer = socks_connect(10112, 'modem.farm')
    check(peer == '192.168.12.100', f'CONNECT to a name through 10112: resolved by dongle 12, from {peer}')
    f.close()
    s.close()

    toggle = subprocess.Popen([pk_toggle, '-c', conf, '--serve', '127.0.0.1:0'], env=plain_env,
                              stderr=subprocess.PIPE, text=True)
    procs.append(toggle)
    m = re.search(r'port (\d+)', toggle.stderr.readline())
    threading.Thread(target=lambda: toggle.stderr.read(), daemon=True).start()
    api = f'http://127.0.0.1:{m.group(1)}' if m else None

    def proxy_info():
        with urllib.request.urlopen(api + '/proxy-info', timeout=10) as resp:
            return sorted((p['dongle'], p['port']) for p in json.load(resp)['proxies'])

    check(api is not None and proxy_info() == [(11, 10011), (12, 10112)],
          '/proxy-info lists the two running listeners')

    # hotplug: uevents plus the veth
    usb_paths[13] = plug(13)
    if wait_for(lambda: connectable(10013), 'dongle 13 plugged in: a listener on 10013'):
        s, f, peer = socks_connect(10013, '192.168.13.1')
        check(peer == '192.168.13.100', f'CONNECT through 10013 leaves from 192.168.13.100 (peer saw {peer})')
        f.close()
        s.close()
    # The farm records the listener just after it listens: wait for it.
    wait_for(lambda: api is not None and proxy_info() == [(11, 10011), (12, 10112), (13, 10013)],
             '/proxy-info lists dongle 13 too')

    unplug(13, usb_paths.pop(13))
    wait_for(lambda: not connectable(10013), 'dongle 13 unplugged: its listener is gone')
    check(api is not None and proxy_info() == [(11, 10011), (12, 10112)],
          '/proxy-info no longer lists dongle 13')
    held.sendall(b'still there\n')
    check(held_f.readline() == b'still there\n', 'the connection through dongle 11 outlived the hotplug')
    held_f.close()
    held.close()
    check(connectable(10011) and connectable(10112), 'the other listeners were not touched')

    # /metrics covers the dongles' listeners, by dongle, and only those that run
    def scrape():
        with urllib.request.urlopen(f'http://127.0.0.1:{metrics_port}/metrics', timeout=10) as resp:
            return resp.read().decode()

    def metric(text, line_start):
        for line in text.splitlines():
            if line.startswith(line_start + ' '):
                return float(line.rsplit(' ', 1)[1])
        return None

    wait_for(lambda: metric(scrape(), 'proxykit_socks_sessions_total{listener="dongle-12",result="succeeded"}') == 1,
             '/metrics to count the session through dongle 12')
    text = scrape()
    check( metric(text, 'proxykit_socks_connect_seconds_count{listener="dongle-11"}') == 1 and
          metric(text, 'proxykit_socks_handshake_seconds_count{listener="dongle-12"}') == 1,
          f'/metrics has connect and handshake histograms per dongle listener: {text}')
    check('listener="dongle-13"' not in text, '/metrics no longer lists the unplugged dongle 13')

    socks.send_signal(signal.SIGTERM)
    check(socks.wait(timeout=30) == 0, 'pk-socks stops cleanly')
    socks_log.close()

    # --- the ladder: diagnosis, then routing, modem, USB rebind, port power ---
    ladder_conf = os.path.join(tmp, 'ladder.conf')
    with open(conf) as src, open(ladder_conf, 'w') as dst:
        dst.write(src.read() + f"""
[toggle]
state_dir = {os.path.join(tmp, 'toggle-state')}
cooldown = 0
settle = 100ms
poll_interval = 100ms
usb_off = 500ms
usb_wait = 3s
power_off = 500ms
power_wait = 10s
recovery_cooldown = 0
""")

    def toggle_json(*args):
        r = run(pk_toggle, '-c', ladder_conf, '--json', *args)
        try:
            out = json.loads(r.stdout)
        except ValueError:
            out = {}
        return r, (out[0] if isinstance(out, list) and out else out)

    def rungs(res):
        return [(st['name'], st['outcome']) for st in res.get('steps', [])]

    # A plain toggle: the routing is right, so the climb starts at the modem.
    r, res = toggle_json('11')
    check(r.returncode == 0 and rungs(res)[:1] == [('diagnose', 'ok')] and
          [n for n, _ in rungs(res)] == ['diagnose', 'modem'] and res.get('new_ip') != res.get('old_ip'),
          f'pk-toggle 11: diagnose, then the modem, a new IP ({r.stderr.strip()}): {rungs(res)}')
    check(all(isinstance(st.get('duration_ms'), int) for st in res.get('steps', [])),
          'each rung in the JSON has its duration_ms')

    # The routing broken by hand: the diagnosis starts at the routing rung.
    sh('ip', 'rule', 'del', 'from', '192.168.11.100', 'lookup', '11')
    r, res = toggle_json('11')
    check(r.returncode == 0 and [n for n, _ in rungs(res)][:2] == ['diagnose', 'routing'] and
          res.get('success') is True,
          f'pk-toggle 11 with its rule gone starts at routing ({r.stderr.strip()}): {rungs(res)}')
    check(re.search(r'from 192\.168\.11\.100 lookup 11\b', sh('ip', 'rule', 'show')) is not None,
          'the routing rung put the rule back')

    # --rebind: authorized 0, then 1; the dongle "replugs" in between
    # (remove uevent and veth down, add uevent and veth up).
    net11 = usb_paths[11][2]
    w = Watch({'authorized': attr_path(11, 'authorized')},
              {('authorized', '0'): lambda: (testbed.uevent(net11, 'remove'),
                                             sh('ip', 'link', 'set', ifname(11), 'down')),
               ('authorized', '1'): lambda: (testbed.uevent(net11, 'add'),
                                             sh('ip', 'link', 'set', ifname(11), 'up'))})
    r, res = toggle_json('--rebind', '11')
    seen = w.done()
    check(seen == [('authorized', '0'), ('authorized', '1')] and not w.errors,
          f'--rebind 11 writes authorized 0, then 1: {seen} {w.errors}')
    check(r.returncode == 0 and rungs(res) == [('diagnose', 'ok'), ('usb', 'ok')] and res.get('success'),
          f'--rebind 11 sees the interface come back ({r.stderr.strip()}): {rungs(res)}')
    # the veth's down took its table route with it: the rung repaired it
    check(f'default via 192.168.11.1 dev {ifname(11)}' in sh('ip', 'route', 'show', 'table', '11'),
          'after the rebind, table 11 holds its default route again')

    # --recover: dongle 12 lost its address. The diagnosis starts at USB;
    # the rebind does not bring it back, the port power cycle does.
    sh('ip', 'addr', 'del', '192.168.12.100/24', 'dev', ifname(12))
    w = Watch({'authorized': attr_path(12, 'authorized'), 'disable': attr_path(12, 'disable')},
              {('disable', '0'): lambda: sh('ip', 'addr', 'add', '192.168.12.100/24', 'dev', ifname(12))})
    r, res = toggle_json('--recover', '12')
    seen = w.done()
    check(seen == [('authorized', '0'), ('authorized', '1'), ('disable', '1'), ('disable', '0')],
          f'--recover 12: authorized 0, 1, then the port off and on, in that order: {seen}')
    check([n for n, _ in rungs(res)] == ['diagnose', 'usb', 'power'] and rungs(res)[1][1] == 'failed' and
          rungs(res)[2][1] in ('ok', 'changed') and res.get('success') is True and r.returncode == 0,
          f'--recover 12: diagnose, usb (failed), power (ok) ({r.stderr.strip()}): {rungs(res)}')

    # --stage hub: every port of the hub, off then on.
    w = Watch({f'port{p}': f'{tb_root}{hub_intf}/1-1-port{p}/disable' for p in range(1, 5)}, {})
    r, res = toggle_json('--stage', 'hub', '11')
    seen = w.done()
    check(sorted(v for _, v in seen) == ['0'] * 4 + ['1'] * 4 and [v for _, v in seen][:4] == ['1'] * 4 and
          rungs(res) == [('diagnose', 'ok'), ('hub', 'ok')],
          f'--stage hub 11: the four ports off, then on ({r.stderr.strip()}): {seen} {rungs(res)}')

    # --power: dongle 13 is unplugged; the USB map still knows its port.
    w = Watch({'disable': attr_path(13, 'disable')}, {})
    r = run(pk_toggle, '-c', ladder_conf, '--power', 'cycle', '13')
    seen = w.done()
    check(r.returncode == 0 and seen == [('disable', '1'), ('disable', '0')],
          f'--power cycle 13 switches port 3 off, then on ({r.stderr.strip()}): {seen}')
    # A toggle or recovery of 13 holds its lock: --power is refused, the
    # port left alone.
    lock_path = os.path.join(tmp, 'toggle-state', 'toggle-13.lock')
    with open(lock_path, 'a') as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        r = run(pk_toggle, '-c', ladder_conf, '--power', 'off', '13')
    check(r.returncode == 3 and 'toggle-13.lock' in r.stderr and read_attr(attr_path(13, 'disable')) == '0',
          f'--power off 13 while its lock is held: refused with exit 3, port on ({r.returncode} {r.stderr.strip()})')
    r = run(pk_toggle, '-c', ladder_conf, '--power', 'off', '13')
    check(r.returncode == 0 and read_attr(attr_path(13, 'disable')) == '1', '--power off 13')
    r = run(pk_toggle, '-c', ladder_conf, '--power-status', '--json')
    ps = {p['dongle']: p for p in json.loads(r.stdout)} if r.returncode == 0 else {}
    check(ps.get(13, {}).get('power') == 'off' and ps[13].get('present') is False and ps[13].get('port') == 3 and
          ps.get(11, {}).get('power') == 'on' and ps[11].get('present') is True,
          f'--power-status: 13 off and gone, 11 on ({r.stderr.strip()}): {ps}')
    r = run(pk_toggle, '-c', ladder_conf, '--power', 'on', '13')
    check(r.returncode == 0 and read_attr(attr_path(13, 'disable')) == '0', '--power on 13, a dongle that has gone')

    # A dongle without its address, on a plain toggle (max stage modem):
    # the diagnosis calls for USB, which only a recovery may do.
    sh('ip', 'addr', 'del', '192.168.12.100/24', 'dev', ifname(12))
    w = Watch({'authorized': attr_path(12, 'authorized')}, {})
    r, res = toggle_json('12')
    seen = w.done()
    sh('ip', 'addr', 'add', '192.168.12.100/24', 'dev', ifname(12))
    check(r.returncode == 1 and seen == [] and 'recovery' in res.get('error', ''),
          f'pk-toggle 12 without its address stops at the modem, says a recovery is needed: {res.get("error")}')

    # /recover/N over HTTP, and the recovery cooldown answers 429.
    serve_conf = os.path.join(tmp, 'serve.conf')
    with open(ladder_conf) as src, open(serve_conf, 'w') as dst:
        dst.write(src.read().replace('recovery_cooldown = 0', 'recovery_cooldown = 1h')
                  .replace(os.path.join(tmp, 'toggle-state'), os.path.join(tmp, 'serve-state')))
    server = subprocess.Popen([pk_toggle, '-c', serve_conf, '--serve', '127.0.0.1:0'], env=udev_env,
                              stderr=subprocess.PIPE, text=True)
    procs.append(server)
    m = None
    while m is None:
        line = server.stderr.readline()
        if not line:
            break
        m = re.search(r'listening on \S*?:(\d+)', line) or re.search(r'port (\d+)', line)
    threading.Thread(target=lambda: server.stderr.read(), daemon=True).start()

    def post(path):
        req = urllib.request.Request(f'http://127.0.0.1:{m.group(1)}{path}', data=b'', method='POST')
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, json.load(resp)
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b'{}')

    if check(m is not None, 'pk-toggle --serve with the ladder listens'):
        status, body = post('/recover/11')
        check(status == 200 and body.get('success') is True and body.get('steps', [{}])[0].get('name') == 'diagnose',
              f'POST /recover/11: 200, the dongle is healthy: {status} {body}')
        status, body = post('/recover/11')
        check(status == 429, f'a second POST /recover/11 within the recovery cooldown: 429 ({status} {body})')
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=30)

    # --- pk-watchdog --dongles: a confirmed failure climbs the ladder ---
    pk_watchdog = os.path.join(build, 'cli', 'pk-watchdog')
    watch_state = os.path.join(tmp, 'watch-state')
    watch_conf = os.path.join(tmp, 'watch.conf')
    with open(ladder_conf) as src, open(watch_conf, 'w') as dst:
        dst.write(src.read().replace(os.path.join(tmp, 'toggle-state'), os.path.join(tmp, 'watch-toggle')) +
                  f"""
[watchdog]
state-dir = {watch_state}
timeout = 5s
""")
    # every dongle starts healthy (the address of 12 came back without its routes)
    run(pk_toggle, '-c', watch_conf, '--routing', '--all')

    def node_state(n):
        try:
            with open(os.path.join(watch_state, f'dongle-{n}.json')) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def fails(st):
        return st.get('counters', {}).get('fails')

    def start_watchdog(*extra):
        log = open(os.path.join(tmp, 'pk-watchdog.log'), 'w')
        p = subprocess.Popen([pk_watchdog, '-c', watch_conf, '--state-dir', watch_state, '--dongles',
                              '--dongle-interval', '300ms',
                              '--dongle-retry-delay', '200ms', '--dongle-retries', '2', *extra],
                             env=udev_env, stdout=log, stderr=subprocess.STDOUT)
        procs.append(p)
        return p, log

    def watch_log():
        with open(os.path.join(tmp, 'pk-watchdog.log')) as f:
            return f.read()

    def transitions(n):
        return re.findall(rf'dongle {n}: (\w+) -> (\w+)', watch_log())

    def logged_back_online(n):
        # the state file is written a moment before its line in the log
        wait_for(lambda: transitions(n)[-1:] == [('recovering', 'online')],
                 f'the log has dongle {n} back online', timeout=10)

    def stop_watchdog(p, log):
        p.send_signal(signal.SIGTERM)
        check(p.wait(timeout=30) == 0, 'pk-watchdog --dongles stops cleanly')
        log.close()

    # dongle 13 is not on USB; the USB map remembers its port (and, here,
    # not its interface): the power rung brings it back (it "replugs" when
    # its port is on again) and sees the new device's interface come up
    map_path = os.path.join(state_dir, 'host', 'usb-map.json')
    with open(map_path) as f:
        usb_map = json.load(f)
    usb_map['dongles']['13'].pop('interface', None)
    with open(map_path, 'w') as f:
        json.dump(usb_map, f)
    def replug13():
        if 13 not in usb_paths:     # once: a later port cycle finds it plugged
            usb_paths[13] = plug(13)

    w = Watch({'authorized': attr_path(13, 'authorized'), 'disable': attr_path(13, 'disable')},
              {('disable', '0'): replug13})
    wd, wd_log = start_watchdog('--dongle-cooldown', '0', '--metrics-listen', '127.0.0.1:0')
    wait_for(lambda: node_state(11).get('status') == 'online' and node_state(12).get('status') == 'online',
             'pk-watchdog --dongles records dongles 11 and 12 online')
    # (the watch takes the dongles one by one: 11 and 12 may be on record
    # a moment before the line of 13 is written)
    wait_for(lambda: 'dongle 13: watching it while it is not on USB (hub 1-1 port 3' in watch_log(),
             'dongle 13, gone, is watched through the USB map', timeout=10)
    if not wait_for(lambda: 'recovered' in (node_state(13).get('reason') or ''),
                    'dongle 13 brought back by the watchdog'):
        # its recoveries climb to the hub and power-cycle the others: stop here
        w.done()
        raise AssertionError('dongle 13 was not brought back: ' + watch_log()[-2000:])
    seen = w.done()
    st = node_state(13)
    # (authorized 1 is the replugged device's own file, not a write)
    check([x for x in seen if x[0] == 'disable'] == [('disable', '1'), ('disable', '0')] and
          ('authorized', '0') not in seen and not w.errors and st.get('status') == 'online' and
          re.search(r'usb failed, power (ok|changed)', st.get('reason', '')),
          f'dongle 13: the usb rung fails (not on USB), the port power cycle brings it back: {seen} {st}')

    # the routing broken: the routing rung, nothing on USB
    w = Watch({'authorized': attr_path(11, 'authorized'), 'disable': attr_path(11, 'disable')}, {})
    sh('ip', 'rule', 'del', 'from', '192.168.11.100', 'lookup', '11')
    wait_for(lambda: 'recovered' in (node_state(11).get('reason') or ''), 'dongle 11 recovered by the watchdog')
    seen = w.done()
    st = node_state(11)
    check(st.get('status') == 'online' and fails(st) == 1 and 'routing' in st.get('reason', '') and
          'usb' not in st.get('reason', ''), f'dongle 11: online again through the routing rung, fails 1: {st}')
    check(seen == [], f'no USB or port write for a broken routing: {seen}')
    check(re.search(r'from 192\.168\.11\.100 lookup 11\b', sh('ip', 'rule', 'show')) is not None,
          'the watchdog put the rule of dongle 11 back')
    logged_back_online(11)
    check(transitions(11)[-3:] == [('online', 'ping_failed'), ('ping_failed', 'recovering'), ('recovering', 'online')],
          f'dongle 11: online -> ping_failed -> recovering -> online: {transitions(11)}')

    # the interface gone: the USB rung, and the dongle "replugs"
    net12 = usb_paths[12][2]
    w = Watch({'authorized': attr_path(12, 'authorized'), 'disable': attr_path(12, 'disable')},
              {('authorized', '1'): lambda: (plug_net(12), testbed.uevent(net12, 'add'))})
    testbed.uevent(net12, 'remove')
    unplug_net(12)
    wait_for(lambda: 'recovered' in (node_state(12).get('reason') or ''), 'dongle 12 recovered by the watchdog',
             timeout=60)
    seen = w.done()
    st = node_state(12)
    check(seen == [('authorized', '0'), ('authorized', '1')] and not w.errors,
          f'dongle 12: authorized 0, then 1, no port power: {seen} {w.errors}')
    check(st.get('status') == 'online' and re.search(r'usb (ok|changed)', st.get('reason', '')) and fails(st) == 1,
          f'dongle 12: online again through the USB rung: {st}')
    logged_back_online(12)
    check(('ping_failed', 'recovering') in transitions(12) and transitions(12)[-1] == ('recovering', 'online'),
          f'dongle 12: ping_failed -> recovering -> online: {transitions(12)}')
    m = re.search(r'metrics on (http://127\.0\.0\.1:\d+/?\S*)', watch_log())
    if check(m is not None, f'pk-watchdog --dongles serves /metrics: {watch_log()[-500:]}'):
        url = m.group(1) if m.group(1).endswith('/metrics') else m.group(1).rstrip('/') + '/metrics'
        with urllib.request.urlopen(url, timeout=10) as resp:
            text = resp.read().decode()
        check(re.search(r'^proxykit_node_status\{node="dongle-12",status="online"\} 1$', text, re.M) and
              re.search(r'^proxykit_node_status\{node="dongle-11",status="recovering"\} 0$', text, re.M) and
              re.search(r'^proxykit_node_fails_total\{node="dongle-12"\} 1$', text, re.M),
              f'/metrics has each dongle\'s status and fails: {text}')
    r = run(pk_watchdog, '-c', watch_conf, '--state-dir', watch_state, '--status')
    check(r.returncode == 0 and re.search(rf'^dongle-11\s+online\s+{ifname(11)}', r.stdout, re.M) and
          re.search(rf'^dongle-12\s+online\s+{ifname(12)}', r.stdout, re.M),
          f'pk-watchdog --status lists the dongles: {r.stdout} {r.stderr}')
    stop_watchdog(wd, wd_log)

    # the recovery cooldown: dongle 11 was recovered a moment ago
    wd, wd_log = start_watchdog('--dongle-cooldown', '1h')
    wait_for(lambda: 'watching 3 dongles' in watch_log(), 'pk-watchdog --dongles watches again')
    w = Watch({'authorized': attr_path(11, 'authorized')}, {})
    sh('ip', 'rule', 'del', 'from', '192.168.11.100', 'lookup', '11')
    wait_for(lambda: 'recovered recently' in (node_state(11).get('reason') or ''),
             'the second recovery of dongle 11 is refused: cooldown')
    seen = w.done()
    st = node_state(11)
    check(st.get('status') == 'ping_failed' and fails(st) == 2 and seen == [] and
          re.search(r'from 192\.168\.11\.100 lookup 11\b', sh('ip', 'rule', 'show')) is None,
          f'within the cooldown dongle 11 stays ping_failed and untouched: {st}')
    r = run(pk_watchdog, '-c', watch_conf, '--state-dir', watch_state, '--status', '--json')
    listed = {n['name']: n for n in json.loads(r.stdout)} if r.returncode == 0 else {}
    check(listed.get('dongle-11', {}).get('status') == 'ping_failed' and
          listed.get('dongle-12', {}).get('status') == 'online',
          f'pk-watchdog --status --json: dongle-11 ping_failed, dongle-12 online: {list(listed)}')
    stop_watchdog(wd, wd_log)

    # most dongles failing at once: one reset of their USB controller, with
    # --allow-controller-reset only (11 is still down; 12 goes down too:
    # 2 of 3 reach a threshold of 60 %)
    with open(watch_conf, 'a') as f:
        f.write('controller-reset-threshold = 60\n')
    wd, wd_log = start_watchdog('--dongle-cooldown', '1h', '--allow-controller-reset')
    wait_for(lambda: 'USB controller reset allowed' in watch_log(), 'pk-watchdog --allow-controller-reset')
    sh('ip', 'rule', 'del', 'from', '192.168.12.100', 'lookup', '12')
    wait_for(lambda: 'reset: 2 of 3 dongles had failed' in watch_log(), 'the USB controller reset', timeout=60)
    check(read_attr(f'{xhci_dir}/unbind') == '0000:00:14.0' and read_attr(f'{xhci_dir}/bind') == '0000:00:14.0',
          'the controller reset unbinds and binds xhci_hcd\'s 0000:00:14.0')
    check(os.path.exists(os.path.join(tmp, 'watch-toggle', 'host', 'usb-controller-reset.json')),
          'the reset is recorded where pk-toggle shares its locks ([toggle] state_dir), for the 10 min limit')
    check(watch_log().count('resetting their USB controller') == 1,
          f'one controller reset for the failures of one round: {watch_log()[-1500:]}')
    stop_watchdog(wd, wd_log)
    run(pk_toggle, '-c', watch_conf, '--routing', '11')
    run(pk_toggle, '-c', watch_conf, '--routing', '12')

    # pk-toggle --recover --all: with 2 of 3 dongles failing (their rules
    # gone), --allow-controller-reset resets their USB controller once
    # before the ladders, records it, and lists it in each failing
    # dongle's result; without the flag, or within 10 min, no reset
    reset_conf = os.path.join(tmp, 'reset.conf')
    with open(ladder_conf) as src, open(reset_conf, 'w') as dst:
        # [toggle] is the last section
        dst.write(src.read().replace(os.path.join(tmp, 'toggle-state'), os.path.join(tmp, 'reset-state')) +
                  'controller-reset-threshold = 60\n')
    reset_record = os.path.join(tmp, 'reset-state', 'host', 'usb-controller-reset.json')

    def recover_all(*extra):
        for name in ('bind', 'unbind'):
            open(f'{xhci_dir}/{name}', 'w').close()
        for n in (11, 12):
            subprocess.run(['ip', 'rule', 'del', 'from', f'192.168.{n}.100', 'lookup', str(n)], env=plain_env,
                           capture_output=True)
        r = run(pk_toggle, '-c', reset_conf, '--recover', '--all', '--json', *extra)
        try:
            out = {res['dongle']: res for res in json.loads(r.stdout)}
        except (ValueError, TypeError, KeyError):
            out = {}
        resets = {n: [(st['name'], st['outcome']) for st in res.get('steps', []) if st['name'] == 'controller-reset']
                  for n, res in out.items()}
        return r, out, resets

    def recovered(r, out):
        return (r.returncode == 0 and all(out.get(n, {}).get('success') for n in (11, 12, 13)) and
                all(re.search(rf'from 192\.168\.{n}\.100 lookup {n}\b', sh('ip', 'rule', 'show'))
                    for n in (11, 12)))

    r, out, resets = recover_all()
    check(recovered(r, out) and read_attr(f'{xhci_dir}/unbind') == '' and read_attr(f'{xhci_dir}/bind') == '' and
          not os.path.exists(reset_record) and resets == {11: [], 12: [], 13: []},
          f'--recover --all without --allow-controller-reset: no controller reset, the ladders repair 11 and 12 '
          f'({r.returncode} {r.stderr.strip()[-800:]}): {resets}')

    r, out, resets = recover_all('--allow-controller-reset')
    check(read_attr(f'{xhci_dir}/unbind') == '0000:00:14.0' and read_attr(f'{xhci_dir}/bind') == '0000:00:14.0',
          f'--recover --all --allow-controller-reset unbinds and binds xhci_hcd\'s 0000:00:14.0 '
          f'({r.stderr.strip()[-800:]})')
    check(os.path.exists(reset_record), 'the reset is recorded in the toggle state directory, for the 10 min limit')
    check(resets == {11: [('controller-reset', 'ok')], 12: [('controller-reset', 'ok')], 13: []} and
          out[11]['steps'][0]['name'] == 'controller-reset' and
          isinstance(out[11]['steps'][0].get('duration_ms'), int) and
          '0000:00:14.0' in (out[11]['steps'][0].get('detail') or ''),
          f'the JSON lists the controller reset first for the failing dongles 11 and 12, not for 13: {resets}')
    check(recovered(r, out), f'after the reset the ladders bring 11 and 12 back ({r.returncode}): '
                             f'{[(n, res.get("success")) for n, res in out.items()]}')

    r, out, resets = recover_all('--allow-controller-reset')
    check(recovered(r, out) and read_attr(f'{xhci_dir}/unbind') == '' and resets == {11: [], 12: [], 13: []},
          f'within 10 min of the last one, no second controller reset ({r.returncode}): {resets}')
    r = run(pk_toggle, '-c', reset_conf, '--allow-controller-reset', '11')
    check(r.returncode == 2 and '--allow-controller-reset' in r.stderr,
          f'--allow-controller-reset without --recover: a usage error ({r.returncode} {r.stderr.strip()})')

    # --- mass storage: usb_modeswitch with the E8372h message ---
    bindir = os.path.join(tmp, 'bin')
    os.makedirs(bindir)
    record = os.path.join(tmp, 'modeswitch.args')
    with open(os.path.join(bindir, 'usb_modeswitch'), 'w') as f:
        f.write(f'#!/bin/sh\necho "$@" >> {record}\n')
    os.chmod(os.path.join(bindir, 'usb_modeswitch'), 0o755)
    with open(conf, 'a') as f:
        f.write('')
    conf2 = os.path.join(tmp, 'modeswitch.conf')
    with open(conf) as src, open(conf2, 'w') as dst:
        # and [dongle:11] lets in only clients from a network we are not on
        dst.write(src.read().replace('[dongles]\n', '[dongles]\nmodeswitch = true\n')
                  .replace('[dongle:11]\n', '[dongle:11]\nallow = 10.9.9.0/24\n'))
    env = dict(udev_env, PATH=bindir + ':' + udev_env['PATH'])
    socks = subprocess.Popen([pk_socks, '-c', conf2, '--dongles', '--workers', '1'], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(socks)
    # exists before the fake's echo has written its line: wait for the line
    wait_for(lambda: os.path.exists(record) and open(record).read().endswith('\n'),
             'usb_modeswitch runs for the mass-storage dongle')
    args = open(record).read().split() if os.path.exists(record) else []
    check('-v' in args and args[args.index('-v') + 1] in ('12d1', '0x12d1') and
          '-p' in args and args[args.index('-p') + 1] in ('1f01', '0x1f01') and
          '55534243123456780000000000000011062000000100000000000000000000' in args,
          f'usb_modeswitch -v 12d1 -p 1f01 with the E8372h message: {args}')

    def handshake(port):
        try:
            s, f, peer = socks_connect(port, f'192.168.{port % 100}.1')
        except (AssertionError, OSError):
            return None
        f.close()
        s.close()
        return peer

    wait_for(lambda: connectable(10011) and connectable(10112), 'the listeners are back')
    check(handshake(10011) is None, '[dongle:11] allow: a client outside the allowlist is refused')
    check(handshake(10112) == '192.168.12.100', 'dongle 12 without an allowlist of its own still serves')
    socks.send_signal(signal.SIGTERM)
    socks.wait(timeout=30)
except BaseException:
    failures.append('exception')
    raise
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    if failures:
        log = os.path.join(tmp, 'pk-socks.log')
        if os.path.exists(log):
            print(open(log).read())
    shutil.rmtree(tmp, ignore_errors=True)

print(f'{len(failures)} failure(s)')
sys.exit(1 if failures else 0)
