"""ABI-mode fallback of the bindings, for hosts without a C compiler.

The compiled extension (API mode, ``_proxykit``) is what the package uses
when it exists. Without it, this module gives the same ``ffi`` and
``lib``: it turns ``_cdef.h`` into a plain cdef (values that API mode lets
the compiler fill in are GLib's stable ABI values here), opens
``libproxykit-1.so.0`` with ``ffi.dlopen`` (its dependencies, GLib,
GObject, GIO and json-glib, resolve through it), and implements the C
helpers of ``_shim.c`` in Python with ``ffi.callback``.
"""
from __future__ import annotations

import os
import re
import subprocess
import threading

import cffi

HERE = os.path.dirname(os.path.abspath(__file__))

# Values API mode gets from the headers. GLib keeps them stable (they are
# ABI); the PK_* enums count from 0 in order, as the cdef lists them.
_ENUM_VALUES = {
    'G_SOCKET_FAMILY_UNIX': 1, 'G_SOCKET_FAMILY_IPV4': 2, 'G_SOCKET_FAMILY_IPV6': 10,
    'G_IO_ERROR_FAILED': 0, 'G_IO_ERROR_NOT_FOUND': 1, 'G_IO_ERROR_EXISTS': 2,
    'G_IO_ERROR_PERMISSION_DENIED': 14, 'G_IO_ERROR_INVALID_ARGUMENT': 13,
    'G_IO_ERROR_NOT_SUPPORTED': 15, 'G_IO_ERROR_CANCELLED': 19, 'G_IO_ERROR_BUSY': 26,
    'G_IO_ERROR_TIMED_OUT': 24, 'G_IO_ERROR_HOST_NOT_FOUND': 28, 'G_IO_ERROR_WOULD_BLOCK': 27,
    'G_IO_ERROR_ADDRESS_IN_USE': 33, 'G_IO_ERROR_PARTIAL_INPUT': 34,
    'G_IO_ERROR_INVALID_DATA': 35, 'G_IO_ERROR_HOST_UNREACHABLE': 37,
    'G_IO_ERROR_NETWORK_UNREACHABLE': 38, 'G_IO_ERROR_CONNECTION_REFUSED': 39,
    'G_IO_ERROR_PROXY_FAILED': 40, 'G_IO_ERROR_BROKEN_PIPE': 44,
    'G_IO_ERROR_CONNECTION_CLOSED': 44, 'G_IO_ERROR_NOT_CONNECTED': 45,
    'G_IO_ERROR_MESSAGE_TOO_LARGE': 46,
}
# G_TYPE_MAKE_FUNDAMENTAL (n) = n << 2
_DEFINES = {
    'G_TYPE_BOOLEAN': 5 << 2, 'G_TYPE_INT': 6 << 2, 'G_TYPE_UINT': 7 << 2,
    'G_TYPE_INT64': 10 << 2, 'G_TYPE_UINT64': 11 << 2, 'G_TYPE_ENUM': 12 << 2,
    'G_TYPE_FLAGS': 13 << 2, 'G_TYPE_DOUBLE': 15 << 2, 'G_TYPE_STRING': 16 << 2,
    'G_TYPE_OBJECT': 20 << 2, 'PK_HILINK_DEFAULT_TIMEOUT_MS': 10000,
}
_STRUCTS = {
    'GHashTableIter': 'gpointer dummy1; gpointer dummy2; gpointer dummy3; int dummy4; '
                      'gboolean dummy5; gpointer dummy6;',
}

_EXTRA_CDEF = '''
typedef struct { unsigned int flags; void *marshal; gpointer data; void *notifiers; } GClosure;
typedef ... GMainContext;
typedef ... GMainLoop;
typedef ... GSource;
typedef gboolean (*GSourceFunc) (gpointer user_data);
typedef void (*GClosureMarshal) (GClosure *closure, GValue *return_value, guint n_param_values,
                                 const GValue *param_values, gpointer invocation_hint,
                                 gpointer marshal_data);
typedef void (*GWeakNotify) (gpointer data, GObject *where_the_object_was);
GMainContext *g_main_context_new (void);
gboolean g_main_context_iteration (GMainContext *context, gboolean may_block);
void g_main_context_push_thread_default (GMainContext *context);
void g_main_context_pop_thread_default (GMainContext *context);
GMainLoop *g_main_loop_new (GMainContext *context, gboolean is_running);
void g_main_loop_run (GMainLoop *loop);
void g_main_loop_quit (GMainLoop *loop);
GSource *g_idle_source_new (void);
void g_source_set_priority (GSource *source, gint priority);
void g_source_set_callback (GSource *source, GSourceFunc func, gpointer data, GDestroyNotify notify);
guint g_source_attach (GSource *source, GMainContext *context);
void g_source_unref (GSource *source);
GType g_type_fundamental (GType type_id);
GClosure *g_closure_new_simple (guint sizeof_closure, gpointer data);
void g_closure_set_marshal (GClosure *closure, GClosureMarshal marshal);
unsigned long g_signal_connect_closure (gpointer instance, const gchar *detailed_signal,
                                        GClosure *closure, gboolean after);
gboolean g_signal_handler_is_connected (gpointer instance, unsigned long handler_id);
void g_signal_handler_disconnect (gpointer instance, unsigned long handler_id);
void g_object_weak_ref (GObject *object, GWeakNotify notify, gpointer data);
'''


def abi_cdef(text: str) -> str:
    """``_cdef.h`` (API dialect) as a cdef that ABI mode accepts."""
    text = re.sub(r'/\*.*?\*/', '', text, flags=re.S)
    out = []
    enum_next = None
    for line in text.splitlines():
        s = line.strip()
        if s.startswith('extern "Python"') or re.match(r'^\w[\w\s\*]*\bpk_py_\w+\s*\(', s) \
                or s.startswith('static const char *const') or s.startswith('#define'):
            continue
        if s == 'typedef ... GValue;':
            out.append('typedef struct { GType g_type; uint64_t data[2]; } GValue;')
            continue
        m = re.match(r'typedef int\.\.\. (\w+);', s)
        if m:
            out.append({'gssize': 'typedef long gssize;'}.get(m.group(1), f'typedef unsigned long {m.group(1)};'))
            continue
        m = re.match(r'typedef struct \{ \.\.\.; \} (\w+);', s)
        if m:
            out.append(f'typedef struct {{ {_STRUCTS[m.group(1)]} }} {m.group(1)};')
            continue
        if s.startswith('typedef enum'):
            enum_next = 0
        elif enum_next is not None and s.startswith('}'):
            enum_next = None
        elif enum_next is not None:
            if s in ('...', '...;'):
                continue
            m = re.match(r'(\w+)\s*,?$', s)
            if m:
                name = m.group(1)
                value = _ENUM_VALUES.get(name, enum_next)
                enum_next = value + 1
                out.append(f'  {name} = {value},')
                continue
        if s == '...;':
            continue
        out.append(line)
    return '\n'.join(out)


ffi = cffi.FFI()
with open(os.path.join(HERE, '_cdef.h'), encoding='utf-8') as _f:
    ffi.cdef(abi_cdef(_f.read()))
ffi.cdef(_EXTRA_CDEF)

class _Resolved:
    """Every function and constant of the cdef, looked up once at import.

    cffi resolves the names of a dlopen()ed library lazily, under a lock
    that is not reentrant; a lookup that triggers the garbage collector,
    whose finalizers (ffi.gc) call into the library again, would deadlock
    on it. So nothing is left to look up later."""

    def __init__(self, library):
        for name in dir(library):
            try:
                setattr(self, name, getattr(library, name))
            except AttributeError:
                pass        # not in this build of the library (HiLink without libsoup)
        # Types that finalizers use, parsed now for the same reason.
        for cdecl in ('void *', 'GObject *', 'char *', 'uintptr_t', 'GValue *'):
            ffi.typeof(cdecl)


_dl = _Resolved(ffi.dlopen(os.environ.get('PROXYKIT_LIBRARY', 'libproxykit-1.so.0')))

_GVALUE_SIZE = ffi.sizeof('GValue')


def _pkgconfig_version() -> str:
    try:
        return subprocess.run(['pkg-config', '--modversion', 'proxykit-1'], capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return '0.0.0'


class _Shim:
    """_shim.c in Python."""

    def __init__(self):
        self.lock = threading.Lock()
        self.context = None
        self.loop = None
        self.running = False
        self.live = 0
        self.externs = {}
        version = _pkgconfig_version()
        parts = (version.split('.') + ['0', '0', '0'])[:3]
        self.PK_VERSION_S = ffi.new('char[]', version.encode())
        self.PK_MAJOR_VERSION, self.PK_MINOR_VERSION, self.PK_MICRO_VERSION = (
            int(p) if p.isdigit() else 0 for p in parts)
        self._invoke_idle = ffi.callback('gboolean(gpointer)', self._on_invoke)
        self._unref_idle = ffi.callback('gboolean(gpointer)', self._on_unref)
        self.pk_py_async_ready = ffi.callback('void(GObject *, GAsyncResult *, gpointer)',
                                              self._on_async_ready)
        self._marshal = ffi.callback('void(GClosure *, GValue *, guint, const GValue *, gpointer, gpointer)',
                                     self._on_signal)
        self._finalized = ffi.callback('void(gpointer, GObject *)', self._on_finalized)

    # callbacks into the Python side (_loop registers them with def_extern)
    def _on_invoke(self, data):
        self.externs['_pk_py_invoke_cb'](int(ffi.cast('uintptr_t', data)))
        return 0

    def _on_async_ready(self, source, res, data):
        self.externs['_pk_py_async_ready_cb'](source, res, int(ffi.cast('uintptr_t', data)))

    def _on_signal(self, closure, return_value, n_values, values, hint, marshal_data):
        self.externs['_pk_py_signal_cb'](int(ffi.cast('uintptr_t', closure.data)), n_values, values)

    def _on_unref(self, data):
        _dl.g_object_unref(data)
        return 0

    def _on_finalized(self, data, where):
        with self.lock:
            self.live -= 1

    def _idle(self, func, data):
        source = _dl.g_idle_source_new()
        _dl.g_source_set_priority(source, 0)
        _dl.g_source_set_callback(source, func, data, ffi.NULL)
        _dl.g_source_attach(source, self.context)
        _dl.g_source_unref(source)

    # the functions of _shim.c
    def pk_py_loop_init(self):
        with self.lock:
            if self.context is None:
                self.context = _dl.g_main_context_new()
                self.loop = _dl.g_main_loop_new(self.context, False)

    def pk_py_loop_run(self):
        _dl.g_main_context_push_thread_default(self.context)
        with self.lock:
            self.running = True
        _dl.g_main_loop_run(self.loop)
        with self.lock:
            self.running = False
        while _dl.g_main_context_iteration(self.context, False):
            pass
        _dl.g_main_context_pop_thread_default(self.context)

    def pk_py_loop_quit(self):
        if self.loop is not None:
            _dl.g_main_loop_quit(self.loop)

    def pk_py_loop_is_running(self):
        with self.lock:
            return self.running

    def pk_py_invoke(self, call_id):
        self._idle(self._invoke_idle, ffi.cast('void *', call_id))

    def pk_py_object_unref(self, obj):
        with self.lock:
            if self.running:
                self._idle(self._unref_idle, obj)
                return
        _dl.g_object_unref(obj)

    def pk_py_cancellable_unref(self, obj):
        _dl.g_object_unref(obj)

    def pk_py_track(self, obj):
        if obj != ffi.NULL:
            with self.lock:
                self.live += 1
            _dl.g_object_weak_ref(ffi.cast('GObject *', obj), self._finalized, ffi.NULL)
        return obj

    def pk_py_live_objects(self):
        with self.lock:
            return self.live

    def pk_py_value_fundamental(self, value):
        return _dl.g_type_fundamental(value.g_type)

    def pk_py_value_nth(self, values, i):
        return ffi.cast('GValue *', ffi.cast('char *', values) + i * _GVALUE_SIZE)

    def pk_py_signal_connect(self, instance, signal, handler_id):
        closure = _dl.g_closure_new_simple(ffi.sizeof('GClosure'), ffi.cast('void *', handler_id))
        _dl.g_closure_set_marshal(closure, self._marshal)
        return _dl.g_signal_connect_closure(instance, signal, closure, False)

    def pk_py_signal_disconnect(self, instance, handler_id):
        if _dl.g_signal_handler_is_connected(instance, handler_id):
            _dl.g_signal_handler_disconnect(instance, handler_id)


class _Lib:
    """``lib``: the shim's names, the constants API mode has, then the
    library's symbols."""

    def __init__(self):
        self._shim = _Shim()

    def __getattr__(self, name):
        if hasattr(self._shim, name) and not name.startswith('_'):
            value = getattr(self._shim, name)
        elif name in _DEFINES:
            value = _DEFINES[name]
        else:
            value = getattr(_dl, name)
        setattr(self, name, value)
        return value


lib = _Lib()


def def_extern(name):
    """Registers a Python function for one of the shim's callbacks (what
    ``extern "Python"`` does in API mode)."""
    def register(fn):
        lib._shim.externs[name] = fn
        return fn
    return register
