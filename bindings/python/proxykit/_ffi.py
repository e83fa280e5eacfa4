"""``ffi`` and ``lib`` of the bindings: the compiled extension (cffi API
mode, ``proxykit._proxykit``), built against libproxykit's headers."""
try:
    from . import _proxykit as _api
except ImportError as e:
    # Say what is missing: the extension (never built for this Python) or
    # the shared library it links to (not installed, or not on the loader's
    # path), and keep the loader's own message.
    raise ImportError(
        f'proxykit: cannot load its compiled extension ({e}). It needs '
        f'libproxykit-1.so.0 where the dynamic loader finds it (install the library, '
        f'or set LD_LIBRARY_PATH to a build tree\'s libproxykit directory), and an '
        f'extension built for this Python (pip install ./bindings/python, or the meson '
        f'build).', name=e.name, path=e.path) from e

ffi, lib = _api.ffi, _api.lib


def def_extern(name):
    """``@ffi.def_extern()`` for the callback ``name``."""
    return ffi.def_extern(name=name)


ASYNC_READY = ffi.addressof(lib, 'pk_py_async_ready')
