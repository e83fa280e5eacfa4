"""The standard Python packaging route: setup.py/pyproject.toml build the
cffi extension against `pkg-config proxykit-1` (here the build tree's
meson-uninstalled/proxykit-1-uninstalled.pc) and the result imports."""
import os
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
