# The cffi extension is built by proxykit/_build.py against
# "pkg-config proxykit-1" (installed, or PKG_CONFIG_PATH=<builddir>/meson-uninstalled
# for a meson build tree). Metadata is in pyproject.toml.
#
# Where it cannot be built (no C compiler), the package is installed
# without it and uses the ABI-mode fallback (proxykit/_abi.py) at run time.
from setuptools import setup
from setuptools.command.build_ext import build_ext


class optional_build_ext(build_ext):
    def run(self):
        try:
            super().run()
        except Exception as e:  # CCompilerError, DistutilsExecError, ... as setuptools raises them
            self._fallback(e)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as e:
            self._fallback(e)

    def _fallback(self, error):
        self.warn(f'proxykit: the compiled extension was not built ({error}); '
                  'the package will use its ABI-mode fallback')


setup(cffi_modules=['proxykit/_build.py:ffibuilder'],
      cmdclass={'build_ext': optional_build_ext})
