#!/usr/bin/python3
"""Builds the cffi extension ``proxykit._proxykit`` (API mode).

Used three ways:

* by setuptools (``pyproject.toml``/``setup.py``: ``cffi_modules``), which
  compiles against ``pkg-config proxykit-1``: the installed library, or the
  just-built one with ``PKG_CONFIG_PATH=<builddir>/meson-uninstalled``;
* by meson: ``_build.py --emit-c OUT --cdef CDEF --library LIB HEADER...``
  writes the C source (and the generated declarations), and meson compiles
  it as a Python extension against the in-tree library;
* by hand: ``_build.py --compile DIR``.

The declarations are generated from the library's public headers
(``_cdefgen.py``, after the GLib ones in ``_prelude.h``); the C helpers are
in ``_shim.c``, next to this file.
"""
import argparse
import glob
import os
import subprocess
import sys

import cffi

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _cdefgen  # noqa: E402

PKG = 'proxykit-1'


def _read(name):
    with open(os.path.join(HERE, name), encoding='utf-8') as f:
        return f.read()


def _pkgconfig(*args):
    return subprocess.run(['pkg-config', *args, PKG], capture_output=True, text=True,
                          check=True).stdout.strip()


def installed_headers_and_library():
    """proxykit.h, the include directories and the shared library that
    ``pkg-config proxykit-1`` points to."""
    try:
        cflags = _pkgconfig('--cflags-only-I').split()
        # -L first: it has PKG_CONFIG_SYSROOT_DIR applied (a staged install)
        libdirs = [f[2:] for f in _pkgconfig('--libs-only-L').split() if f.startswith('-L')]
        libdirs.append(_pkgconfig('--variable=libdir'))
    except (OSError, subprocess.CalledProcessError) as e:
        stderr = getattr(e, 'stderr', '') or ''
        raise SystemExit(f'proxykit: pkg-config {PKG} failed ({stderr.strip() or e}): '
                         f'install libproxykit-dev, or set PKG_CONFIG_PATH to the '
                         f'meson-uninstalled directory of a build tree') from None
    dirs = [flag[2:] for flag in cflags if flag.startswith('-I')]
    for d in dirs:
        umbrella = os.path.join(d, 'proxykit', 'proxykit.h')
        if os.path.exists(umbrella):
            break
    else:
        raise SystemExit(f'proxykit: no proxykit/proxykit.h under {" ".join(cflags)}')
    for libdir in libdirs:
        libs = sorted(glob.glob(os.path.join(libdir, f'lib{PKG}.so*')), key=len)
        if libs:
            return [umbrella], dirs, libs[0]
    return [umbrella], dirs, None


# Where the dynamic loader looks anyway: no run path is needed for these.
SYSTEM_LIBDIRS = ('/lib', '/usr/lib', '/lib64', '/usr/lib64')


def _run_path(library):
    """Linker flags that let the extension find ``library`` without
    LD_LIBRARY_PATH when it is outside the loader's default directories
    (a prefix such as /opt/proxykit, or a build tree)."""
    if not library:
        return []
    libdir = os.path.dirname(os.path.realpath(library))
    if libdir in SYSTEM_LIBDIRS or os.path.dirname(libdir) in SYSTEM_LIBDIRS:
        return []           # /usr/lib/x86_64-linux-gnu and the like
    return [f'-Wl,-rpath,{libdir}']


def make_builder(cdef, pkgconfig=True, library=None):
    builder = cffi.FFI()
    builder.cdef(cdef)
    shim = _read('_shim.c')
    if pkgconfig:
        builder.set_source_pkgconfig('proxykit._proxykit', [PKG], shim,
                                     extra_link_args=_run_path(library))
    else:
        builder.set_source('proxykit._proxykit', shim)
    return builder


# setuptools' cffi_modules runs this file with __name__ "__cffi__" and takes
# "ffibuilder".
if __name__ == '__cffi__':
    _headers, _dirs, _library = installed_headers_and_library()
    ffibuilder = make_builder(_cdefgen.generate(_headers, _library, _dirs), pkgconfig=True,
                              library=_library)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--emit-c', metavar='FILE', help='write the C source of the extension')
    parser.add_argument('--cdef', metavar='FILE', help='also write the generated declarations here')
    parser.add_argument('--library', help='the shared library (its exports bound the declarations)')
    parser.add_argument('--compile', metavar='DIR', help='compile the extension into DIR')
    parser.add_argument('headers', nargs='*', help='public headers (default: pkg-config proxykit-1)')
    args = parser.parse_args(argv)
    if not args.emit_c and not args.compile:
        parser.error('nothing to do: give --emit-c or --compile')
    headers, dirs, library = args.headers, [], args.library
    if not headers:
        headers, dirs, found = installed_headers_and_library()
        library = library or found
    cdef = _cdefgen.generate(headers, library, dirs)
    if args.cdef:
        with open(args.cdef, 'w', encoding='utf-8') as f:
            f.write(cdef)
    if args.emit_c:
        make_builder(cdef, pkgconfig=False).emit_c_code(args.emit_c)
    if args.compile:
        make_builder(cdef, pkgconfig=True, library=library).compile(tmpdir=args.compile,
                                                                   verbose=True)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
