#!/usr/bin/python3
"""Runs the proxykit pytest suite against a build directory.

    run-pytest.py BUILDDIR [pytest args...]

Puts BUILDDIR/bindings/python first on sys.path and PYTHONPATH (so that
scripts the tests start import the same build), then runs pytest on this
directory. pytest's closing line ("N passed ... in X.XXs") goes to stdout,
where tests/summarize.py counts it.
"""
import os
import sys

import pytest


def main(argv):
    builddir = os.path.abspath(argv[0])
    pydir = os.path.join(builddir, 'bindings', 'python')
    sys.path.insert(0, pydir)
    os.environ['PYTHONPATH'] = os.pathsep.join(
        p for p in (pydir, os.environ.get('PYTHONPATH')) if p)
    os.environ.setdefault('PK_BUILDDIR', builddir)
    here = os.path.dirname(os.path.abspath(__file__))
    return pytest.main(['-p', 'no:cacheprovider', '-v', '-rs', here] + argv[1:])


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
