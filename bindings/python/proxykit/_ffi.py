"""``ffi`` and ``lib`` of the bindings: the compiled extension (cffi API
mode), or the ABI-mode fallback (:mod:`proxykit._abi`) where the extension
could not be built (a host without a C compiler). Set
``PROXYKIT_FORCE_ABI=1`` to use the fallback anyway."""
import os

if os.environ.get('PROXYKIT_FORCE_ABI'):
    _api = None
else:
    try:
        from . import _proxykit as _api
    except ImportError:
        _api = None

if _api is not None:
    ffi, lib = _api.ffi, _api.lib
    MODE = 'api'

    def def_extern(name):
        """``@ffi.def_extern()`` for the callback ``name``."""
        return ffi.def_extern(name=name)

    ASYNC_READY = ffi.addressof(lib, 'pk_py_async_ready')
else:
    from ._abi import ffi, lib, def_extern  # noqa: F401
    MODE = 'abi'
    ASYNC_READY = lib.pk_py_async_ready
