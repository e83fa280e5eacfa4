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


def _cdefgen():
    """The generator module, from the source tree."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        '_cdefgen', os.path.join(PYDIR, 'proxykit', '_cdefgen.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_declarations_cover_every_exported_function(builddir):
    """The cffi declarations are generated from the public headers, so a
    class added to the library is in the bindings without a hand edit:
    every pk_* function the library exports is declared."""
    cdef_path = os.path.join(builddir, 'bindings', 'python', 'proxykit', '_cdef.h')
    lib_path = os.path.join(builddir, 'libproxykit', 'libproxykit-1.so')
    if shutil.which('nm') is None or not os.path.exists(cdef_path):
        pytest.skip('no nm, or no meson-generated _cdef.h')
    exported = {s for s in _cdefgen().exported_symbols(lib_path) if s.startswith('pk_')}
    with open(cdef_path) as f:
        declared = set(re.findall(r'\b(pk_\w+)\s*\(', f.read()))
    # GType getters of the enums come from glib-mkenums' header, which the
    # bindings do not read (they use the enum values).
    missing = sorted(s for s in exported - declared if not s.endswith('_get_type'))
    assert not missing, f'exported but not in the bindings: {missing}'


def test_cdefgen_reads_the_header_conventions(tmp_path):
    """The generator on a header with what others may add: a derivable
    type, flags, a callback, a struct, an inline helper, a string and an
    integer constant, a deprecated function."""
    header = tmp_path / 'pk-thing.h'
    header.write_text('''
#pragma once
#include "pk-version-macros.h"
G_BEGIN_DECLS
#define PK_THING_DEFAULT_NAME "thing"
#define PK_THING_MAX (16)
#define PK_TYPE_THING (pk_thing_get_type ())
PK_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (PkThing, pk_thing, PK, THING, GObject)
struct _PkThingClass { GObjectClass parent_class; void (*poke) (PkThing *self); };
/** PkThingFlags: doc */
typedef enum /*< flags >*/ {
  PK_THING_NONE = 0,
  PK_THING_LOUD = 1 << 0,
} PkThingFlags;
typedef struct { guint64 count; char *label; } PkThingInfo;
typedef void (*PkThingFunc) (PkThing *thing, gpointer user_data);
static inline gboolean pk_thing_is_loud (PkThingFlags f) { return (f & PK_THING_LOUD) != 0; }
PK_AVAILABLE_IN_ALL
PkThing *pk_thing_new (const char *name, PkThingFlags flags) G_GNUC_WARN_UNUSED_RESULT;
PK_DEPRECATED_FOR (pk_thing_new)
void pk_thing_foreach (PkThing *self, PkThingFunc func, gpointer user_data);
PK_AVAILABLE_IN_ALL
void pk_thing_printf (PkThing *self, const char *format, ...) G_GNUC_PRINTF (2, 3);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PkThingInfo, g_free)
G_END_DECLS
''')
    cdef = _cdefgen().generate([str(header)])
    for want in ('typedef ... PkThing;', '#define PK_THING_MAX ...',
                 'static const char *const PK_THING_DEFAULT_NAME;',
                 'PK_THING_LOUD,', 'typedef void (*PkThingFunc) (PkThing *thing, gpointer user_data);',
                 'guint64 count;', 'PkThing *pk_thing_new (const char *name, PkThingFlags flags);',
                 'void pk_thing_foreach (PkThing *self, PkThingFunc func, gpointer user_data);',
                 'void pk_thing_printf (PkThing *self, const char *format, ...);'):
        assert want in cdef, want
    assert 'pk_thing_is_loud' not in cdef and 'PkThingClass' not in cdef
    # and cffi accepts it
    import cffi
    cffi.FFI().cdef(cdef)
