"""Memory: every C object the bindings own is released by its Python
owner, and valgrind finds no leak of C memory in the main cases
(leakcheck_main.py: Egress, Config, SocksServer, Probe, Watchdog, Relay,
MetricsSampler, HilinkModem rotation)."""
import os
import re
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def emulator(builddir):
    program = os.path.join(builddir or '', 'tests', 'hilink-emulator')
    return [program] if os.access(program, os.X_OK) else []


def test_every_owned_object_is_finalized(builddir):
    proc = subprocess.run([sys.executable, os.path.join(HERE, 'leakcheck_main.py')] + emulator(builddir),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'live objects: 0' in proc.stdout


# Where an allocation comes from: a frame of the C side (libproxykit, the
# GLib stack, the bindings' shim) before any frame of Python or cffi.
C_SIDE = re.compile(r'libproxykit|libglib|libgobject|libgio|libsoup|libjson|pk-[\w-]+\.c|\bpk_py_')
PY_SIDE = re.compile(r'python3\.\d+|_cffi_backend|Py\w+|_Py\w+')


def c_side_leaks(log):
    leaks = []
    for m in re.finditer(r'([\d,]+) bytes in [\d,]+ blocks are (definitely|indirectly) lost'
                         r'.*?\n((?:==\d+==    (?:at|by) .*\n)+)', log):
        frames = re.findall(r'(?:at|by) 0x[0-9A-F]+: (.*)', m.group(3))[1:]
        for frame in frames:
            if PY_SIDE.search(frame):
                break
            if C_SIDE.search(frame):
                leaks.append(m.group(0))
                break
    return leaks


@pytest.mark.skipif(shutil.which('valgrind') is None, reason='valgrind is not installed')
def test_no_c_leak_under_valgrind(builddir, tmp_path):
    log = tmp_path / 'valgrind.log'
    env = dict(os.environ, PYTHONMALLOC='malloc')
    proc = subprocess.run(['valgrind', '--leak-check=full', '--show-leak-kinds=definite,indirect',
                           '--num-callers=40', f'--log-file={log}',
                           sys.executable, os.path.join(HERE, 'leakcheck_main.py')] + emulator(builddir),
                          capture_output=True, text=True, timeout=280, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = log.read_text()
    assert 'LEAK SUMMARY' in text or 'All heap blocks were freed' in text
    leaks = c_side_leaks(text)
    assert not leaks, 'C memory leaked:\n' + '\n'.join(leaks[:5])
