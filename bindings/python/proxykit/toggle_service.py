"""PkToggleService: the dongles of a configuration, toggled, queried or
served, as ``pk-toggle`` runs them."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Dict, Iterable, List, Mapping, Optional, Tuple

from . import _loop, errors
from ._ffi import ffi, lib
from ._util import Service, has_function, not_built, string, strv, take_string
from .modem import Toggle

if TYPE_CHECKING:
    from .config import Config
    from .dongle import UsbControllerReset


def _ids(ids: Optional[Iterable[int]]):
    """``(array, n)`` for the C call; ``(NULL, 0)`` for every dongle."""
    if ids is None:
        return ffi.NULL, 0
    items = [int(i) for i in ids]
    return ffi.new('guint[]', items), len(items)


class ToggleService(Service):
    """Every dongle of a configuration with its :class:`Toggle`
    (``PkToggleService``), the code path of ``pk-toggle``: ``[toggle]``
    and ``[dongle:N]`` (or ``[toggle] dongles = 11-20``, or ``named`` by
    the subnet convention: dongle N's API at ``http://192.168.N.1``, the
    host's address ``192.168.N.100``), each with its HiLink modem, its
    cooldown, the shared state directory and limit, and the ladder through
    the dongles found on USB.

    >>> cfg = Config("/etc/proxykit/proxykit.conf")
    >>> svc = ToggleService(cfg)
    >>> [r["new_ip"] for r in svc.toggle(wait=True)]     # pk-toggle --all
    >>> svc.status()                                       # pk-toggle --status --json
    >>> with svc.serving_on("0.0.0.0:8080"):               # pk-toggle --serve
    ...     svc.reload(Config("/etc/proxykit/proxykit.conf"))

    Flags go in as overrides of ``config`` (:meth:`Config.set_override`
    of ``[toggle]`` keys); per dongle as ``values``.

    Args:
        config: a :class:`Config`.
        named: dongle numbers or ranges (``["11-13"]``) for the convention,
            when the configuration names no dongles.
        values: per-dongle values that win over ``[dongle:N]``:
            ``{"api": {11: "http://127.0.0.1:8080"}, "address": {11: "127.0.0.1"}}``.
        stages: ``(first, last)`` rungs for every toggle (``("usb", "usb")``
            for a rebind only); by default all of them, a plain toggle
            stopping at ``[toggle] max_stage``.
        use_usb: scan USB for the dongles (for the rungs past the modem).
        listen: ``"ADDRESS:PORT"`` that :meth:`start` serves on.
        controller_reset: a :class:`UsbControllerReset` that a recovery of
            many dongles (``toggle(recovery=True)``, ``pk-toggle --recover
            --all --allow-controller-reset``) may use first, when it is
            allowed and enough of them fail; ``[toggle]
            allow-controller-reset`` and its keys in ``config`` put theirs
            in its place.

    Raises:
        ConfigError: a value is not valid (the message names it).
        NotSupported: the library was built without libsoup.
    """

    def __init__(self, config: 'Config', *, named: Optional[Iterable[str]] = None,
                 values: Optional[Mapping[str, Mapping[int, str]]] = None,
                 stages: Optional[tuple] = None, use_usb: bool = True,
                 listen: str = '127.0.0.1:0',
                 controller_reset: Optional['UsbControllerReset'] = None):
        if not has_function('pk_toggle_service_new'):
            raise not_built('toggle service', 'libsoup-3.0 or json-glib')
        self._listen = listen
        self.serving = False
        self._ptr = _loop.wrap(lib.pk_toggle_service_new())
        lib.pk_toggle_service_set_use_usb(self._ptr, bool(use_usb))
        if named is not None:
            arr, keep = strv([str(n) for n in named])
            lib.pk_toggle_service_set_named_dongles(self._ptr, arr)
        for key, per_dongle in (values or {}).items():
            arr, keep = strv([f'{n}={v}' for n, v in per_dongle.items()])
            errors.call(lib.pk_toggle_service_set_dongle_values, self._ptr, key.encode(), arr,
                        key.encode())
        if stages is not None:
            first, last = stages
            lib.pk_toggle_service_set_stages(self._ptr, first.encode(), last.encode())
        if controller_reset is not None:
            lib.pk_toggle_service_set_controller_reset(self._ptr, controller_reset._ptr)
        self.reload(config)

    @property
    def controller_reset_allowed(self) -> bool:
        """Whether a recovery of many dongles may reset their USB controller
        (``pk_toggle_service_get_controller_reset()`` is set and allows it)."""
        reset = lib.pk_toggle_service_get_controller_reset(self._ptr)
        return reset != ffi.NULL and bool(lib.pk_usb_controller_reset_get_allowed(reset))

    def reload(self, config: 'Config') -> None:
        """Builds the dongles from ``config`` again and puts them in place
        of the ones before; while serving, the server gets them (a toggle
        that runs goes on to its end). On an error nothing changes."""
        _loop.run(lambda: errors.call(lib.pk_toggle_service_load_config, self._ptr, config._ptr))
        self._config = config

    # --- the dongles ---

    @property
    def ids(self) -> List[int]:
        """The dongle numbers, in ascending order."""
        return [lib.pk_toggle_service_get_dongle_id(self._ptr, i)
                for i in range(lib.pk_toggle_service_get_n_dongles(self._ptr))]

    def dongles(self) -> List[Dict[str, object]]:
        """Each dongle: ``dongle``, ``api``, ``address``, ``socks_host``,
        ``socks_port`` (what ``pk-toggle --check`` prints, and more)."""
        return [{'dongle': n,
                 'api': string(lib.pk_toggle_service_get_api(self._ptr, n)),
                 'address': string(lib.pk_toggle_service_get_address(self._ptr, n)),
                 'socks_host': string(lib.pk_toggle_service_get_socks_host(self._ptr, n)),
                 'socks_port': lib.pk_toggle_service_get_socks_port(self._ptr, n)}
                for n in self.ids]

    def toggle_of(self, id: int) -> Toggle:
        """The :class:`Toggle` of dongle ``id`` (for its cooldown, progress...)."""
        ptr = lib.pk_toggle_service_get_toggle(self._ptr, id)
        if ptr == ffi.NULL:
            raise errors.InvalidArgument(f'dongle {id} is not configured')
        return Toggle._from_ptr(ptr, owner=self)

    # --- toggles and queries ---

    def toggle(self, ids: Optional[Iterable[int]] = None, *, recovery: bool = False,
               wait: bool = False, timeout: Optional[float] = 600.0) -> List[Dict[str, object]]:
        """Toggles the dongles ``ids`` (all by default) at once and returns
        a result per dongle, in the order they ended: the dicts of
        :meth:`Toggle.run`, and for a toggle refused before it ran
        (busy, cooling down, the limit reached) ``dongle``, ``success``
        (False), ``reason`` (``"busy"``, ``"cooldown"``, ``"limit"``) and
        ``error``. With ``wait`` (``pk-toggle --all``), the limit makes a
        dongle wait for a place instead of refusing it."""
        arr, n = _ids(ids)

        def start(cancellable, callback, data):
            lib.pk_toggle_service_toggle_async(self._ptr, arr, n, bool(recovery), bool(wait),
                                               cancellable, callback, data)

        def finish(source, result):
            results = errors.call(lib.pk_toggle_service_toggle_finish, self._ptr, result)
            try:
                return json.loads(take_string(lib.pk_toggle_service_results_to_json(results, True)))
            finally:
                lib.g_ptr_array_unref(results)

        return _loop.call_async(start, finish, timeout, 'toggle')

    def diagnose(self, id: int, *, timeout: Optional[float] = 120.0) -> Tuple[bool, str]:
        """Diagnoses dongle ``id`` as a toggle does first, without running a
        rung (``pk_toggle_diagnose_async()``): ``(healthy, detail)``, the
        detail as the ``diagnose`` step says it."""
        ptr = lib.pk_toggle_service_get_toggle(self._ptr, id)
        if ptr == ffi.NULL:
            raise errors.InvalidArgument(f'dongle {id} is not configured')

        def start(cancellable, callback, data):
            lib.pk_toggle_diagnose_async(ptr, cancellable, callback, data)

        def finish(source, result):
            healthy = ffi.new('gboolean *')
            detail = ffi.new('char **')
            errors.call(lib.pk_toggle_diagnose_finish, ptr, result, healthy, detail)
            return bool(healthy[0]), take_string(detail[0])

        return _loop.call_async(start, finish, timeout, 'diagnosis')

    def _query(self, what: str, ids, timeout) -> List[Dict[str, object]]:
        arr, n = _ids(ids)
        start_fn = getattr(lib, f'pk_toggle_service_query_{what}_async')
        finish_fn = getattr(lib, f'pk_toggle_service_query_{what}_finish')

        def start(cancellable, callback, data):
            start_fn(self._ptr, arr, n, cancellable, callback, data)

        def finish(source, result):
            return json.loads(take_string(errors.call(finish_fn, self._ptr, result, ffi.NULL)))

        return _loop.call_async(start, finish, timeout, f'{what} of the dongles')

    def status(self, ids: Optional[Iterable[int]] = None,
               timeout: Optional[float] = 60.0) -> List[Dict[str, object]]:
        """What ``pk-toggle --status --json`` prints: per dongle its modem's
        state and WAN IP (``reachable``, ``connected``, ``state``,
        ``wan_ip``, ``error``), its USB side (``mode``, ``usb_path``,
        ``hub``, ``port``, ``interface``) and ``routing``."""
        return self._query('status', ids, timeout)

    def info(self, ids: Optional[Iterable[int]] = None,
             timeout: Optional[float] = 60.0) -> List[Dict[str, object]]:
        """What ``pk-toggle --info --json`` prints: per dongle ``device``
        and ``signal`` (or ``device_error``, ``signal_error``)."""
        return self._query('info', ids, timeout)

    @staticmethod
    def text(query: List[Dict[str, object]]) -> str:
        """The text ``pk-toggle --status`` or ``--info`` prints for what
        :meth:`status` or :meth:`info` returned."""
        return take_string(lib.pk_toggle_service_query_to_text(json.dumps(query).encode())) or ''

    # --- serving ---

    def start(self) -> 'ToggleService':
        """Serves the dongles over HTTP (``pk-toggle --serve``) on the
        address given at construction."""
        _loop.run(lambda: errors.call(lib.pk_toggle_service_listen, self._ptr, self._listen.encode()))
        self.serving = True
        return self

    def serving_on(self, listen: str) -> 'ToggleService':
        """Sets the address for :meth:`start` (``with svc.serving_on(...)``)."""
        self._listen = listen
        return self

    @property
    def port(self) -> int:
        """The port it serves on (0 when not serving)."""
        server = lib.pk_toggle_service_get_server(self._ptr)
        return lib.pk_toggle_server_get_port(server) if server != ffi.NULL else 0

    def stop(self) -> None:
        """Stops serving; toggles under way finish."""
        self.serving = False
        _loop.run(lambda: lib.pk_toggle_service_stop(self._ptr))
