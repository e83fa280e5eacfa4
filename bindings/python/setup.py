# The cffi extension is built by proxykit/_build.py against
# "pkg-config proxykit-1" (installed, or PKG_CONFIG_PATH=<builddir>/meson-uninstalled
# for a meson build tree): its declarations are generated from the
# library's installed headers. Metadata is in pyproject.toml.
from setuptools import setup

setup(cffi_modules=['proxykit/_build.py:ffibuilder'])
