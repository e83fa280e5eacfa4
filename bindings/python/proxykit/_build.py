#!/usr/bin/python3
"""Builds the cffi extension ``proxykit._proxykit`` (API mode).

Used three ways:

* by setuptools (``pyproject.toml``/``setup.py``: ``cffi_modules``), which
  compiles against ``pkg-config proxykit-1``: the installed library, or the
  just-built one with ``PKG_CONFIG_PATH=<builddir>/meson-uninstalled``;
* by meson: ``_build.py --emit-c OUT`` writes the C source, and meson
  compiles it as a Python extension against the in-tree library;
* by hand: ``_build.py --compile DIR``.

The declarations live in ``_cdef.h`` and the C helpers in ``_shim.c``,
next to this file.
"""
import argparse
import os
import sys

import cffi

HERE = os.path.dirname(os.path.abspath(__file__))


def _read(name):
    with open(os.path.join(HERE, name), encoding='utf-8') as f:
        return f.read()


def cdef_source():
    return _read('_cdef.h')


def make_builder(pkgconfig=True):
    builder = cffi.FFI()
    builder.cdef(cdef_source())
    shim = _read('_shim.c')
    if pkgconfig:
        builder.set_source_pkgconfig('proxykit._proxykit', ['proxykit-1'], shim)
    else:
        builder.set_source('proxykit._proxykit', shim)
    return builder


# setuptools' cffi_modules runs this file with __name__ "__cffi__" and takes
# "ffibuilder"; pkg-config is only consulted then, so that --emit-c works
# without a proxykit-1.pc.
if __name__ == '__cffi__':
    try:
        ffibuilder = make_builder(pkgconfig=True)
    except cffi.PkgConfigError as e:
        # No proxykit-1.pc: compiling can only fail now, and setup.py then
        # installs the package for its ABI-mode fallback.
        print(f'proxykit: pkg-config proxykit-1: {e}', file=sys.stderr)
        ffibuilder = make_builder(pkgconfig=False)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--emit-c', metavar='FILE', help='write the C source of the extension')
    parser.add_argument('--compile', metavar='DIR', help='compile the extension into DIR')
    args = parser.parse_args(argv)
    if args.emit_c:
        make_builder(pkgconfig=False).emit_c_code(args.emit_c)
    if args.compile:
        make_builder(pkgconfig=True).compile(tmpdir=args.compile, verbose=True)
    if not args.emit_c and not args.compile:
        parser.error('nothing to do: give --emit-c or --compile')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
