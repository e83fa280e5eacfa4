"""The package's infrastructure: version, errors, the loop thread, signals."""
import logging
import os
import re
import signal
import threading
import time

import pytest

import proxykit
from proxykit import _loop
from proxykit._ffi import lib


def test_version_is_the_c_library_version(srcdir):
    with open(os.path.join(srcdir, 'meson.build')) as f:
        m = re.search(r"version:\s*'([^']+)'", f.read())
    assert proxykit.__version__ == m.group(1)
    assert '.'.join(map(str, proxykit.version_info)) == proxykit.__version__
    # the loaded library's version (pk_get_version()), and the headers' one
    assert proxykit.get_version() == proxykit.__version__ == proxykit.compiled_version


def test_library_messages_go_to_python_logging(caplog, echo_server):
    host, port, _ = echo_server
    with caplog.at_level(logging.INFO, logger='proxykit'):
        with proxykit.Relay() as relay:
            relay.add_rule(in_port=0, out_host=host, out_port=port, name='logged',
                           listen_address='127.0.0.1')
    lines = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    assert any(name == 'proxykit' and level == logging.INFO and 'relay logged' in msg
               for name, level, msg in lines), lines


def test_log_levels_map_onto_logging(caplog):
    with caplog.at_level(logging.DEBUG, logger='proxykit'):
        proxykit._log.refresh()
        for level, text in ((lib.G_LOG_LEVEL_WARNING, b'w'), (lib.G_LOG_LEVEL_MESSAGE, b'm'),
                            (lib.G_LOG_LEVEL_INFO, b'i'), (lib.G_LOG_LEVEL_DEBUG, b'd')):
            lib.pk_py_log_emit(level, text)
    got = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == 'proxykit']
    assert got == [(logging.WARNING, 'w'), (logging.INFO, 'm'), (logging.INFO, 'i'),
                   (logging.DEBUG, 'd')]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger='proxykit'):
        proxykit._log.refresh()
        lib.pk_py_log_emit(lib.G_LOG_LEVEL_DEBUG, b'not wanted')
    assert not [r for r in caplog.records if r.name == 'proxykit']


PK_CODES = {
    'PK_ERROR_FAILED': proxykit.Failed,
    'PK_ERROR_INVALID_ARGUMENT': proxykit.InvalidArgument,
    'PK_ERROR_CONFIG': proxykit.ConfigError,
    'PK_ERROR_PROTOCOL': proxykit.ProtocolError,
    'PK_ERROR_AUTH_FAILED': proxykit.AuthFailed,
    'PK_ERROR_NOT_ALLOWED': proxykit.NotAllowed,
    'PK_ERROR_NOT_SUPPORTED': proxykit.NotSupported,
    'PK_ERROR_EGRESS': proxykit.EgressError,
    'PK_ERROR_RESOLVE': proxykit.ResolveError,
    'PK_ERROR_BUSY': proxykit.Busy,
    'PK_ERROR_COOLDOWN': proxykit.Cooldown,
    'PK_ERROR_TUNNEL': proxykit.TunnelError,
    'PK_ERROR_MODEM': proxykit.ModemError,
    'PK_ERROR_CHECK_FAILED': proxykit.CheckFailed,
    'PK_ERROR_STATE': proxykit.StateError,
    'PK_ERROR_UNCHANGED': proxykit.Unchanged,
}


@pytest.mark.parametrize('name', sorted(PK_CODES))
def test_every_pk_error_code_has_its_class(name):
    code = getattr(lib, name)
    err = proxykit.errors.make_error('pk-error-quark', code, 'boom')
    assert type(err) is PK_CODES[name]
    assert isinstance(err, proxykit.Error)
    assert (err.domain, err.code, err.message, str(err)) == ('pk-error-quark', code, 'boom', 'boom')


def test_pk_error_classes_are_distinct():
    assert len(set(PK_CODES.values())) == len(PK_CODES)


def test_modem_error_carries_the_huawei_code():
    err = proxykit.errors.make_error('pk-error-quark', lib.PK_ERROR_MODEM,
                                     'HiLink error 125003: the session token is stale')
    assert isinstance(err, proxykit.ModemError)
    assert err.huawei_code == 125003
    assert proxykit.errors.make_error('pk-error-quark', lib.PK_ERROR_MODEM, 'no code').huawei_code is None


def test_gio_errors_are_also_builtin_exceptions():
    timed = proxykit.errors.make_error('g-io-error-quark', lib.G_IO_ERROR_TIMED_OUT, 't')
    refused = proxykit.errors.make_error('g-io-error-quark', lib.G_IO_ERROR_CONNECTION_REFUSED, 'r')
    other = proxykit.errors.make_error('g-io-error-quark', lib.G_IO_ERROR_PROXY_FAILED, 'p')
    foreign = proxykit.errors.make_error('g-key-file-error-quark', 4, 'k')
    assert isinstance(timed, TimeoutError) and isinstance(timed, proxykit.TimedOut)
    assert isinstance(refused, ConnectionRefusedError)
    assert type(other) is proxykit.GioError and other.code == lib.G_IO_ERROR_PROXY_FAILED
    assert type(foreign) is proxykit.Error and foreign.domain == 'g-key-file-error-quark'


def test_loop_runs_in_its_own_thread():
    ident = _loop.run(threading.get_ident)
    assert ident != threading.get_ident()
    assert _loop.run(lambda: threading.current_thread().name) == 'proxykit-glib'


def test_exception_in_loop_reaches_the_caller():
    def boom():
        raise ValueError('from the loop')
    with pytest.raises(ValueError, match='from the loop'):
        _loop.run(boom)


def test_signal_handler_runs_on_the_callbacks_thread():
    egress = proxykit.Egress()
    seen = []
    done = threading.Event()

    def on_notify(pspec):
        seen.append((threading.current_thread().name, egress.ttl))
        done.set()

    conn = _loop.connect_signal(egress._ptr, 'notify::ttl', on_notify)
    egress.ttl = 9
    assert done.wait(10)
    conn.disconnect()
    assert seen == [('proxykit-callbacks', 9)]
    done.clear()
    egress.ttl = 10
    assert not done.wait(0.3)


def test_keyboard_interrupt_cancels_and_leaves_the_loop_usable(blackhole_port, echo_server):
    egress = proxykit.Egress(address='127.0.0.1')
    # A real SIGINT to the main thread, as Ctrl-C sends: it interrupts the
    # blocked wait (unlike _thread.interrupt_main, which only sets a flag).
    main = threading.main_thread().ident
    timer = threading.Timer(0.3, signal.pthread_kill, (main, signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        egress.connect('127.0.0.1', blackhole_port, timeout=60)
    timer.join()
    assert not _loop._pending, 'the interrupted call was not cancelled in C'
    host, port, _ = echo_server
    with egress.connect(host, port, timeout=10) as sock:
        sock.sendall(b'still alive')
        assert sock.recv(64) == b'still alive'


def test_python_side_timeout_cancels_the_call(blackhole_port):
    egress = proxykit.Egress()

    def start(cancellable, callback, data):
        lib.pk_egress_connect_to_host_async(egress._ptr, b'127.0.0.1', blackhole_port, 0,
                                            cancellable, callback, data)

    def finish(source, result):
        return proxykit.errors.call(lib.pk_egress_connect_to_host_finish, egress._ptr, result)

    t0 = time.monotonic()
    with pytest.raises(proxykit.TimedOut) as info:
        _loop.call_async(start, finish, 0.5, 'black hole')
    assert time.monotonic() - t0 < 30
    assert info.value.code == lib.G_IO_ERROR_TIMED_OUT
    assert not _loop._pending


def _public_members():
    import inspect
    for name in proxykit.__all__:
        obj = getattr(proxykit, name)
        if name.startswith('__') or not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        yield name, obj
        if inspect.isclass(obj) and not issubclass(obj, BaseException):
            for attr, member in vars(obj).items():
                if attr.startswith('_'):
                    continue
                if isinstance(member, property):
                    yield f'{name}.{attr}', member.fget
                elif isinstance(member, (staticmethod, classmethod)):
                    yield f'{name}.{attr}', member.__func__
                elif inspect.isfunction(member):
                    yield f'{name}.{attr}', member


def test_every_public_member_has_a_docstring():
    missing = [name for name, obj in _public_members() if not (obj.__doc__ or '').strip()]
    assert not missing, f'{len(missing)} public members without a docstring: {missing}'
