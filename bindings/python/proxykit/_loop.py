"""The GLib main loop that the package owns, and calls into it.

libproxykit is asynchronous: its objects do their work in a GMainContext.
The package runs one private context in one thread (``proxykit-glib``),
started on first use and stopped at exit. Python code never iterates it:

* :func:`run` runs a function in the loop thread and returns its result;
* :func:`call_async` starts a C ``_async`` call there and waits for its
  ``_finish`` with a timeout; a timeout or a ``KeyboardInterrupt`` cancels
  the call through its GCancellable and lets it finish in C before the
  exception goes on, so no callback is left pointing at freed memory;
* :func:`connect_signal` connects a GObject signal; its handler runs on the
  ``proxykit-callbacks`` Python thread, never in the loop thread, so a slow
  handler cannot stall the loop.
"""
from __future__ import annotations

import atexit
import json
import itertools
import queue
import sys
import threading
import traceback
from typing import Any, Callable, Optional

from . import errors
from ._ffi import ASYNC_READY as _ASYNC_READY, def_extern, ffi, lib
from ._util import ms, python_wait

# After a timeout or an interrupt, how long to wait for the C call to
# acknowledge its cancellation before giving up on it (it stays registered,
# so its callback still finds it if it comes later).
CANCEL_GRACE = 5.0

_lock = threading.Lock()
_ids = itertools.count(1)
_calls: dict[int, Callable[[], None]] = {}
_pending: dict[int, '_AsyncCall'] = {}
_signals: dict[int, Callable[..., None]] = {}
_thread: Optional[threading.Thread] = None
_callbacks: Optional['_Dispatcher'] = None
_stopped = False


def _loop_main() -> None:
    lib.pk_py_loop_run()


def ensure_running() -> None:
    """Starts the loop thread if it does not run yet."""
    global _thread, _callbacks
    with _lock:
        if _stopped:
            raise RuntimeError('proxykit: the GLib loop has been stopped (interpreter exit)')
        if _thread is not None:
            return
        lib.pk_py_loop_init()
        _callbacks = _Dispatcher()
        _thread = threading.Thread(target=_loop_main, name='proxykit-glib', daemon=True)
        _thread.start()


def in_loop_thread() -> bool:
    return _thread is not None and threading.current_thread() is _thread


def stop() -> None:
    """Stops the loop thread (at interpreter exit). Objects released after
    this are freed in the releasing thread."""
    global _stopped
    with _lock:
        _stopped = True
        thread = _thread
    if thread is None:
        return
    lib.pk_py_loop_quit()
    thread.join(10)
    if _callbacks is not None:
        _callbacks.stop()


atexit.register(stop)


def _new_id() -> int:
    return next(_ids)


@def_extern('_pk_py_invoke_cb')
def _pk_py_invoke_cb(call_id):
    fn = _calls.pop(call_id, None)
    if fn is not None:
        fn()


def invoke(fn: Callable[[], None]) -> None:
    """Queues ``fn`` to run in the loop thread, without waiting."""
    ensure_running()
    call_id = _new_id()
    _calls[call_id] = fn
    lib.pk_py_invoke(call_id)


def run(fn: Callable[[], Any], timeout: Optional[float] = 30.0) -> Any:
    """Runs ``fn()`` in the loop thread and returns what it returns (or
    raises what it raises). For short, non-blocking work such as starting a
    listener."""
    if in_loop_thread():
        return fn()
    done = threading.Event()
    box: list = [None, None]

    def wrapper():
        try:
            box[0] = fn()
        except BaseException as e:  # noqa: B902 - handed to the caller
            box[1] = e
        finally:
            done.set()

    invoke(wrapper)
    if not done.wait(timeout):
        raise errors.timed_out('proxykit: a call into the GLib loop', timeout)
    if box[1] is not None:
        raise box[1]
    return box[0]


class _AsyncCall:
    def __init__(self, start, finish):
        self.id = _new_id()
        self.start = start
        self.finish = finish
        self.done = threading.Event()
        self.result: Any = None
        self.error: Optional[BaseException] = None
        self.abandoned = False
        self.cancellable = ffi.gc(lib.g_cancellable_new(), lib.pk_py_cancellable_unref)

    def begin(self):
        try:
            self.start(self.cancellable, _ASYNC_READY, ffi.cast('gpointer', self.id))
        except BaseException as e:  # noqa: B902 - handed to the caller
            _pending.pop(self.id, None)
            self.error = e
            self.done.set()

    def ready(self, source, res):
        try:
            self.result = self.finish(source, res)
        except BaseException as e:  # noqa: B902 - handed to the caller
            self.error = e
        if self.abandoned:
            # Nobody waits any more: drop the result now, which releases
            # whatever C object it holds.
            self.result = None
        self.done.set()


@def_extern('_pk_py_async_ready_cb')
def _pk_py_async_ready_cb(source, res, call_id):
    call = _pending.pop(call_id, None)
    if call is not None:
        call.ready(source, res)


def call_async(start: Callable, finish: Callable, timeout: Optional[float],
               what: str = 'operation') -> Any:
    """Runs one C async call to completion and returns its result.

    ``start(cancellable, callback, user_data)`` must call the ``_async``
    function with these three arguments; it runs in the loop thread.
    ``finish(source, result)`` calls the ``_finish`` function and returns a
    Python value or raises; it runs in the loop thread too.

    ``timeout`` (seconds, ``None`` for none) bounds the wait on the Python
    side: when it passes, the call is cancelled and :class:`TimedOut` is
    raised. A ``KeyboardInterrupt`` during the wait cancels it the same way.
    """
    call = _AsyncCall(start, finish)
    _pending[call.id] = call
    invoke(call.begin)
    try:
        if not call.done.wait(timeout):
            raise errors.timed_out(what, timeout)
    except BaseException:
        call.abandoned = True
        lib.g_cancellable_cancel(call.cancellable)
        call.done.wait(CANCEL_GRACE)
        raise
    if call.error is not None:
        raise call.error
    return call.result


def drain_stop(ptr, stop_async: Callable, stop_finish: Callable, drain: float,
               timeout: Optional[float], what: str) -> None:
    """The ``stop(drain_timeout)`` of a server: ``stop_async(ptr,
    drain_ms, ...)`` and ``stop_finish``, waited on for ``timeout`` seconds
    (by default a little longer than the drain, which the C side enforces)."""
    def start(cancellable, callback, data):
        stop_async(ptr, ms(drain), cancellable, callback, data)

    def finish(source, result):
        errors.call(stop_finish, ptr, result)

    call_async(start, finish, timeout if timeout is not None else python_wait(drain, 10.0), what)


# --- signals ---

_VALUE_GETTERS = {
    lib.G_TYPE_BOOLEAN: lambda v: bool(lib.g_value_get_boolean(v)),
    lib.G_TYPE_INT: lib.g_value_get_int,
    lib.G_TYPE_UINT: lib.g_value_get_uint,
    lib.G_TYPE_INT64: lib.g_value_get_int64,
    lib.G_TYPE_UINT64: lib.g_value_get_uint64,
    lib.G_TYPE_DOUBLE: lib.g_value_get_double,
    lib.G_TYPE_ENUM: lib.g_value_get_enum,
    lib.G_TYPE_FLAGS: lib.g_value_get_flags,
}


def _value_to_python(value):
    """A signal argument as a Python value: numbers and strings as such,
    GObjects as owned pointers, JSON nodes as what ``json.loads`` makes of
    them, anything else as None."""
    fundamental = lib.pk_py_value_fundamental(value)
    getter = _VALUE_GETTERS.get(fundamental)
    if getter is not None:
        return getter(value)
    if fundamental == lib.G_TYPE_STRING:
        s = lib.g_value_get_string(value)
        return ffi.string(s).decode('utf-8', 'replace') if s != ffi.NULL else None
    if fundamental == lib.G_TYPE_OBJECT:
        obj = lib.g_value_get_object(value)
        if obj != ffi.NULL:
            return wrap(lib.g_object_ref(obj))
    if fundamental == lib.G_TYPE_BOXED:
        text = lib.pk_py_value_dup_json(value)
        if text != ffi.NULL:
            try:
                return json.loads(ffi.string(text).decode('utf-8'))
            finally:
                lib.g_free(text)
    return None


@def_extern('_pk_py_signal_cb')
def _pk_py_signal_cb(handler_id, n_values, values):
    handler = _signals.get(handler_id)
    if handler is None:
        return
    # GValues live only during the emission: convert them here, in the loop
    # thread, and hand plain Python values to the callback thread.
    args = tuple(_value_to_python(lib.pk_py_value_nth(values, i)) for i in range(1, n_values))
    if _callbacks is not None:
        _callbacks.put(handler, args)


class SignalConnection:
    """A connected signal; :meth:`disconnect` ends it."""

    def __init__(self, instance, signal: str, handler: Callable[..., None]):
        self._instance = instance
        self._id = _new_id()
        _signals[self._id] = handler
        self._handler_id = run(lambda: lib.pk_py_signal_connect(
            instance, signal.encode(), self._id))

    def disconnect(self) -> None:
        if self._instance is None:
            return
        instance, self._instance = self._instance, None
        handler_id = self._handler_id
        _signals.pop(self._id, None)
        if not _stopped:
            run(lambda: lib.pk_py_signal_disconnect(instance, handler_id))


def connect_signal(instance, signal: str, handler: Callable[..., None]) -> SignalConnection:
    """Connects ``handler(*args)`` to a signal of the GObject ``instance``
    (a cdata pointer); the handler runs on the callbacks thread."""
    ensure_running()
    return SignalConnection(instance, signal, handler)


class _Dispatcher:
    """The Python thread on which user callbacks run, in emission order."""

    def __init__(self):
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._main, name='proxykit-callbacks', daemon=True)
        self._thread.start()

    def put(self, fn, args) -> None:
        self._queue.put((fn, args))

    def stop(self) -> None:
        self._queue.put(None)
        if threading.current_thread() is not self._thread:
            self._thread.join(5)

    def _main(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            fn, args = item
            try:
                fn(*args)
            except Exception:  # a callback's error must not end the thread
                print('proxykit: exception in a callback:', file=sys.stderr)
                traceback.print_exc()


def wrap(ptr):
    """Gives Python ownership of a (transfer full) GObject pointer: it is
    released in the loop thread when the Python object goes."""
    if ptr == ffi.NULL:
        return None
    return ffi.gc(lib.pk_py_track(ptr), lib.pk_py_object_unref)


def live_objects() -> int:
    """How many GObjects the package owns that are not finalized yet (the
    memory test checks that this is 0 once everything is dropped)."""
    return lib.pk_py_live_objects()
