"""The standard Python packaging route: setup.py/pyproject.toml build the
cffi extension against `pkg-config proxykit-1` (here the build tree's
meson-uninstalled/proxykit-1-uninstalled.pc) and the result imports."""
import os
import re
import shutil
import subprocess
import sys

import pytest

PYDIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_setuptools_build_against_pkg_config(builddir, tmp_path):
    if shutil.which('pkg-config') is None or (shutil.which('cc') or shutil.which('gcc')) is None:
        pytest.skip('no pkg-config or C compiler')
    src = tmp_path / 'src'
    shutil.copytree(PYDIR, src, ignore=shutil.ignore_patterns('tests', '__pycache__', '*.so', 'build'))
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(builddir, 'meson-uninstalled'))
    build = subprocess.run([sys.executable, 'setup.py', '-q', 'build_ext', '--inplace'],
                           cwd=src, env=env, capture_output=True, text=True, timeout=240)
    assert build.returncode == 0, build.stdout + build.stderr
    assert list((src / 'proxykit').glob('_proxykit*.so'))
    run_env = dict(os.environ, PYTHONPATH=str(src),
                   LD_LIBRARY_PATH=os.path.join(builddir, 'libproxykit'))
    check = subprocess.run([sys.executable, '-c', (
        'import proxykit, sys\n'
        'assert proxykit.__file__.startswith(sys.argv[1]), proxykit.__file__\n'
        'try:\n'
        '    proxykit.Egress(address="not-an-ip")\n'
        'except proxykit.InvalidArgument as e:\n'
        '    print(proxykit.__version__, e.code)\n'), str(src)],
        env=run_env, capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    import proxykit
    assert check.stdout.split() == [proxykit.__version__, '1']


def _clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ('PYTHONPATH', 'LD_LIBRARY_PATH', 'PKG_CONFIG_PATH', 'PYTHONHOME')}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK='1', PIP_NO_INDEX='1', **extra)
    return env


def test_pip_install_into_a_virtualenv_against_an_installed_library(builddir, tmp_path):
    """``pip install ./bindings/python`` against an installed proxykit-1
    (here: the build installed into a scratch root), in a virtualenv, gives
    ``import proxykit`` with neither PYTHONPATH nor LD_LIBRARY_PATH."""
    if shutil.which('pkg-config') is None or shutil.which('meson') is None:
        pytest.skip('no pkg-config or meson')
    venv = tmp_path / 'venv'
    made = subprocess.run(['/usr/bin/python3', '-m', 'venv', '--system-site-packages', str(venv)],
                          capture_output=True, text=True, timeout=120)
    if made.returncode != 0:
        pytest.skip(f'no virtualenv with pip here (apt-get install python3-venv): {made.stderr[-300:]}')
    root = tmp_path / 'root'
    inst = subprocess.run(['meson', 'install', '-C', builddir, '--no-rebuild', '--quiet',
                           '--destdir', str(root)], capture_output=True, text=True, timeout=240)
    assert inst.returncode == 0, inst.stdout + inst.stderr
    pcs = list(root.rglob('proxykit-1.pc'))
    assert len(pcs) == 1, pcs
    # as if installed with --prefix=<root>/<prefix>: no LD_LIBRARY_PATH
    # finds it there, only the extension's run path does
    pc = pcs[0].read_text()
    prefix = re.search(r'^prefix=(.*)$', pc, re.M).group(1)
    pcs[0].write_text(pc.replace(f'prefix={prefix}', f'prefix={root}{prefix}', 1))
    src = tmp_path / 'src'
    shutil.copytree(PYDIR, src, ignore=shutil.ignore_patterns('tests', '__pycache__', '*.so', 'build'))
    env = _clean_env(PKG_CONFIG_PATH=str(pcs[0].parent))
    pip = subprocess.run([str(venv / 'bin' / 'python'), '-m', 'pip', 'install', '--no-build-isolation',
                          '--no-deps', str(src)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert pip.returncode == 0, pip.stdout[-3000:] + pip.stderr[-3000:]
    check = subprocess.run([str(venv / 'bin' / 'python'), '-c', (
        'import proxykit\n'
        'print(proxykit.__file__)\n'
        'print(proxykit.get_version())\n'
        'with proxykit.SocksServer(listen="127.0.0.1:0") as s:\n'
        '    print(s.port > 0)\n')], cwd=tmp_path, env=_clean_env(),
        capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    where, version, listened = check.stdout.split()
    assert where.startswith(str(venv)), where
    import proxykit
    assert version == proxykit.__version__ and listened == 'True'
