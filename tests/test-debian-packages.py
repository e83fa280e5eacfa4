#!/usr/bin/python3
"""The Debian packages as an operator installs them (issue 17).

Builds the packages with ``dpkg-buildpackage -us -uc -b`` from a copy of the
source tree, runs lintian over them, then installs them with ``dpkg -i`` into
this Debian system seen through an overlay in a private mount namespace (the
machine itself is never changed) and, from the installed files only:

- ``pk-socks --check`` passes with the shipped /etc/proxykit/proxykit.conf,
  linked against the installed library; ``pk-relay --check`` says it has no
  rules, and passes once a ``[relay:NAME]`` is added;
- ``import proxykit`` works with no PYTHONPATH and uses the compiled
  extension;
- the typelib loads from PyGObject; a C program builds with
  ``pkg-config proxykit-1`` and runs;
- the units are installed, not enabled, and pass ``systemd-analyze verify``;
- /etc/proxykit/proxykit.conf is a conffile: an edit survives ``dpkg -r``,
  ``dpkg --purge`` removes it.

Needs root (mount namespace, overlayfs, chroot) and the packaging tools of
data/debian-packages-test.txt; skips with the reason where one is missing."""
import glob
import os
import re
import shutil
import subprocess
import tempfile

import pytest

SRCDIR = os.environ.get('PK_SRCDIR', os.path.join(os.path.dirname(__file__), '..'))
PACKAGES = ['libproxykit-1-0', 'libproxykit-dev', 'gir1.2-proxykit-1',
            'proxykit-tools', 'python3-proxykit']
CLEAN_PATH = 'PATH=/usr/sbin:/usr/bin:/sbin:/bin'

pytestmark = [
    pytest.mark.skipif(shutil.which('dpkg-buildpackage') is None,
                       reason='dpkg-buildpackage not installed (apt-get install dpkg-dev debhelper dh-python)'),
    pytest.mark.skipif(os.geteuid() != 0, reason='installing into an overlay of / needs root'),
]


def copy_source(dest):
    """The files git knows about (tracked, or new and not ignored); the whole
    tree but build directories when the source is not a git checkout."""
    ls = subprocess.run(['git', '-C', SRCDIR, 'ls-files', '-z', '-co', '--exclude-standard'],
                        capture_output=True)
    if ls.returncode == 0:
        for rel in ls.stdout.decode().split('\0'):
            src = os.path.join(SRCDIR, rel)
            if not rel or not os.path.lexists(src):
                continue
            os.makedirs(os.path.join(dest, os.path.dirname(rel)), exist_ok=True)
            shutil.copy2(src, os.path.join(dest, rel), follow_symlinks=False)
    else:
        shutil.copytree(SRCDIR, dest, symlinks=True, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns('build*', '.git', '__pycache__'))


@pytest.fixture(scope='module')
def workdir():
    d = tempfile.mkdtemp(prefix='pk-debian-')
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope='module')
def debs(workdir):
    src = os.path.join(workdir, 'libproxykit')
    copy_source(src)
    deps = subprocess.run(['dpkg-checkbuilddeps'], cwd=src, capture_output=True, text=True)
    if deps.returncode != 0:
        pytest.skip('build dependencies missing: ' + deps.stderr.strip())
    build = subprocess.run(['nice', '-n', '10', 'dpkg-buildpackage', '-us', '-uc', '-b',
                            '-j%d' % (os.cpu_count() or 1)],
                           cwd=src, capture_output=True, text=True)
    assert build.returncode == 0, (build.stdout + build.stderr)[-6000:]
    found = {}
    for path in glob.glob(os.path.join(workdir, '*.deb')):
        name = os.path.basename(path).split('_')[0]
        found[name] = path
    return found


def test_every_package_is_built(debs):
    assert set(PACKAGES) <= set(debs), sorted(debs)


def deb_files(deb):
    out = subprocess.run(['dpkg-deb', '--contents', deb], capture_output=True, text=True, check=True)
    # "./usr/lib/x/libproxykit-1.so.0 -> libproxykit-1.so.0.1.0" for a link.
    return [line.split(None, 5)[5].split(' -> ')[0].lstrip('.') for line in out.stdout.splitlines()]


def deb_field(deb, field):
    return subprocess.run(['dpkg-deb', '--field', deb, field],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_package_contents(debs):
    tools = deb_files(debs['proxykit-tools'])
    for tool in ['pk-socks', 'pk-relay', 'pk-toggle', 'pk-watchdog', 'pk-metrics']:
        assert '/usr/bin/' + tool in tools
        assert '/usr/share/man/man1/%s.1.gz' % tool in tools
        assert '/lib/systemd/system/%s.service' % tool in tools
    assert '/etc/proxykit/proxykit.conf' in tools
    assert '/usr/share/doc/proxykit-tools/examples/proxykit.conf' in tools
    # docs/fleet.md's Prometheus and Alertmanager examples, uncompressed.
    for f in ['proxykit-rules.yml', 'prometheus.yml', 'alertmanager.yml', 'tests/proxykit-rules.test.yml']:
        assert '/usr/share/doc/proxykit-tools/examples/prometheus/' + f in tools
    ctl = tempfile.mkdtemp()
    try:
        subprocess.run(['dpkg-deb', '--control', debs['proxykit-tools'], ctl], check=True)
        assert open(os.path.join(ctl, 'conffiles')).read().split() == ['/etc/proxykit/proxykit.conf']
    finally:
        shutil.rmtree(ctl)

    assert any(re.search(r'/libproxykit-1\.so\.\d+$', f) for f in deb_files(debs['libproxykit-1-0']))
    dev = deb_files(debs['libproxykit-dev'])
    assert '/usr/include/proxykit-1/proxykit/proxykit.h' in dev
    assert any(f.endswith('/pkgconfig/proxykit-1.pc') for f in dev)
    assert any(re.search(r'/gir-1\.0/Proxykit-[\d.]+\.gir$', f) for f in dev)
    assert any(re.search(r'/girepository-1\.0/Proxykit-[\d.]+\.typelib$', f)
               for f in deb_files(debs['gir1.2-proxykit-1']))
    py = deb_files(debs['python3-proxykit'])
    assert '/usr/lib/python3/dist-packages/proxykit/__init__.py' in py
    assert any(re.search(r'/proxykit/_proxykit\.cpython-.*\.so$', f) for f in py)
    # The library pulls in what it links against, the tools the library.
    assert 'libglib2.0-0' in deb_field(debs['libproxykit-1-0'], 'Depends')
    assert 'libproxykit-1-0' in deb_field(debs['proxykit-tools'], 'Depends')
    assert 'libproxykit-1-0' in deb_field(debs['python3-proxykit'], 'Depends')


@pytest.mark.skipif(shutil.which('lintian') is None, reason='lintian not installed')
def test_lintian_has_no_errors_or_warnings(debs, workdir):
    changes = glob.glob(os.path.join(workdir, '*.changes'))
    assert len(changes) == 1, changes
    out = subprocess.run(['lintian', '--pedantic', '--info', changes[0]],
                         capture_output=True, text=True)
    tags = [line for line in out.stdout.splitlines() if re.match(r'[EW]: ', line)]
    assert tags == [], out.stdout + out.stderr


class Root:
    """This system seen through an overlay whose upper layer is a directory
    of the test: each run() mounts it in a private mount namespace, chroots
    into it and runs a shell command there with a clean environment."""

    def __init__(self, workdir):
        self.top = os.path.join(workdir, 'root')
        for d in ['upper', 'work', 'merged']:
            os.makedirs(os.path.join(self.top, d), exist_ok=True)

    def put(self, path, text):
        """Writes a file into the root (its upper layer)."""
        dest = os.path.join(self.top, 'upper', path.lstrip('/'))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, 'w') as f:
            f.write(text)

    def run(self, script, check=True):
        m = os.path.join(self.top, 'merged')
        setup = ('set -e; '
                 'mount -t overlay overlay -o lowerdir=/,upperdir={t}/upper,workdir={t}/work {m}; '
                 'mount -t proc proc {m}/proc; mount --rbind /dev {m}/dev; '
                 'mount -t tmpfs tmpfs {m}/run; '
                 'exec chroot {m} /usr/bin/env -i {path} LC_ALL=C.UTF-8 /bin/sh -ec "$0"'
                 ).format(t=self.top, m=m, path=CLEAN_PATH)
        out = subprocess.run(['unshare', '--mount', '--propagation', 'private', '/bin/sh', '-c', setup,
                              'cd /; ' + script], capture_output=True, text=True)
        if check:
            assert out.returncode == 0, 'exit %d\n%s%s' % (out.returncode, out.stdout, out.stderr)
        return out


@pytest.fixture(scope='module')
def installed(debs, workdir):
    if shutil.which('unshare') is None:
        pytest.skip('unshare not installed (util-linux)')
    root = Root(workdir)
    probe = root.run('true', check=False)
    if probe.returncode != 0:
        pytest.skip('cannot mount an overlay of /: ' + probe.stderr.strip())
    # The packages, copied where the root can see them.
    pool = os.path.join(root.top, 'upper', 'var', 'cache', 'pk-debs')
    os.makedirs(pool)
    for name in PACKAGES:
        shutil.copy(debs[name], pool)
    out = root.run('dpkg -i /var/cache/pk-debs/*.deb')
    assert 'Setting up proxykit-tools' in out.stdout
    return root


def test_installed_tools_check_the_shipped_configuration(installed):
    out = installed.run('test -f /etc/proxykit/proxykit.conf; '
                        'ldd /usr/bin/pk-socks | grep libproxykit; '
                        'pk-socks --check --config /etc/proxykit/proxykit.conf; '
                        # Nothing to relay until a [relay:NAME] is added (exit 2).
                        '! pk-relay --check --config /etc/proxykit/proxykit.conf 2>/var/cache/relay.err; '
                        'grep "no relay rules" /var/cache/relay.err >/dev/null; '
                        '{ cat /etc/proxykit/proxykit.conf; printf "[relay:smtp]\\nlisten = 50025\\n'
                        'target = 127.0.0.1:25\\n"; } > /var/cache/relay.conf; '
                        'pk-relay --check --config /var/cache/relay.conf; '
                        'pk-toggle --help >/dev/null; pk-watchdog --help >/dev/null; '
                        'pk-metrics --help >/dev/null; man -w pk-socks')
    assert re.search(r'libproxykit-1\.so\.\d+ => (/usr)?/lib/[^ ]*/libproxykit-1\.so', out.stdout), out.stdout
    assert 'configuration OK' in out.stdout
    assert '127.0.0.1:25' in out.stdout
    assert '/usr/share/man/man1/pk-socks.1.gz' in out.stdout


def test_installed_python_package_imports_without_pythonpath(installed):
    out = installed.run('/usr/bin/python3 -c "import proxykit, proxykit._proxykit as ext; '
                        'print(proxykit.__file__, ext.__file__, proxykit.__version__)"')
    path, ext, version = out.stdout.split()
    assert path == '/usr/lib/python3/dist-packages/proxykit/__init__.py'
    assert re.match(r'/usr/lib/python3/dist-packages/proxykit/_proxykit\.cpython-.*\.so$', ext), ext
    assert re.match(r'\d+\.\d+\.\d+$', version)


def test_installed_typelib_loads_from_pygobject(installed):
    if installed.run('/usr/bin/python3 -c "import gi"', check=False).returncode != 0:
        pytest.skip('python3-gi not installed')
    installed.put('/var/cache/pk-gi.py', (
        'import glob, gi\n'
        'typelib, = glob.glob("/usr/lib/*/girepository-1.0/Proxykit-*.typelib")\n'
        'gi.require_version("Proxykit", typelib.rsplit("-", 1)[1][:-len(".typelib")])\n'
        'from gi.repository import Proxykit\n'
        'print(Proxykit.SocksServer.__gtype__.name)\n'))
    out = installed.run('/usr/bin/python3 /var/cache/pk-gi.py')
    assert out.stdout.strip() == 'PkSocksServer'


def test_installed_dev_package_builds_a_program(installed):
    if shutil.which('cc') is None:
        pytest.skip('no C compiler')
    installed.put('/var/cache/pk-dev.c', (
        '#include <proxykit/proxykit.h>\n'
        '#include <stdio.h>\n'
        'int main (void) {\n'
        '  printf ("%s %s\\n", PK_VERSION_S, g_type_name (PK_TYPE_SOCKS_SERVER));\n'
        '  return 0;\n'
        '}\n'))
    out = installed.run('cc -o /var/cache/pk-dev /var/cache/pk-dev.c $(pkg-config --cflags --libs proxykit-1); '
                        '/var/cache/pk-dev')
    assert out.stdout.split()[1] == 'PkSocksServer', out.stdout


def test_installed_units_are_not_enabled_and_verify(installed):
    units = ['pk-socks', 'pk-relay', 'pk-toggle', 'pk-watchdog', 'pk-metrics']
    out = installed.run('for u in {}; do echo "$u $(systemctl is-enabled $u.service || true)"; done'
                        .format(' '.join(units)))
    assert out.stdout.split() == [w for u in units for w in (u, 'disabled')], out.stdout
    if shutil.which('systemd-analyze') is None:
        pytest.skip('systemd-analyze not installed')
    out = installed.run('systemd-analyze verify --man=no ' +
                        ' '.join('/lib/systemd/system/%s.service' % u for u in units) + ' 2>&1')
    assert out.stdout.strip() == '', out.stdout


def test_configuration_is_a_conffile(installed):
    installed.run('echo "# edited by the operator" >> /etc/proxykit/proxykit.conf; '
                  'dpkg -r proxykit-tools')
    out = installed.run('test ! -e /usr/bin/pk-socks; tail -1 /etc/proxykit/proxykit.conf')
    assert out.stdout.strip() == '# edited by the operator'
    installed.run('dpkg --purge proxykit-tools; test ! -e /etc/proxykit/proxykit.conf')
