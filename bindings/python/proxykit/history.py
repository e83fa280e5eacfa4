"""PkMetricsRecorder, PkMetricsAlerts and pk_metrics_analyze: metrics
history on disk, alert rules and failure analysis."""
from __future__ import annotations

import datetime
import json
import os
import time
from typing import List, Optional, Union

from . import _loop, errors
from ._ffi import ffi, lib
from ._util import take_string
from .config import Config
from .metrics import _json_node_to_python

_RESOLUTIONS = {'raw': lib.PK_METRICS_RESOLUTION_RAW, 'hour': lib.PK_METRICS_RESOLUTION_HOUR,
                'day': lib.PK_METRICS_RESOLUTION_DAY}


def _node(value):
    """A Python value as a (transfer full) JsonNode."""
    return errors.call(lib.json_from_string, json.dumps(value).encode())


#: A point in time: seconds since the epoch, or a :class:`datetime.datetime`
#: (a naive one is local time, as :meth:`datetime.datetime.timestamp` has it).
When = Union[float, int, datetime.datetime]


def _us(t: Optional[When]) -> int:
    """Microseconds since the epoch of ``t`` (``None``: now)."""
    if t is None:
        return int(time.time() * 1e6)
    if isinstance(t, datetime.datetime):
        return int(t.timestamp() * 1e6)
    if isinstance(t, (int, float)) and not isinstance(t, bool):
        return int(t * 1e6)
    raise TypeError(f'a time must be seconds since the epoch or a datetime, not {type(t).__name__}')


def _seconds(d: Union[float, int, datetime.timedelta]) -> float:
    return d.total_seconds() if isinstance(d, datetime.timedelta) else float(d)


class MetricsRecorder:
    """Keeps samples (from :meth:`MetricsSampler.sample`) as JSON lines in
    hourly or daily files under ``directory``, with hourly and daily
    rollups and retention (``PkMetricsRecorder``), as ``pk-metrics
    record`` does.

    Args:
        layout: ``"hour"`` (a file per hour) or ``"day"``.
        retention: ``(raw_days, max_bytes, hourly_days, daily_days)``.
    """

    def __init__(self, directory: str | os.PathLike, *, layout: Optional[str] = None,
                 retention: Optional[tuple] = None):
        self._ptr = _loop.wrap(lib.pk_metrics_recorder_new(os.fsencode(directory)))
        if layout is not None:
            if layout not in ('hour', 'day'):
                raise errors.InvalidArgument(f"history layout {layout!r}: expected 'hour' or 'day'",
                                             errors.PK_ERROR_DOMAIN, lib.PK_ERROR_INVALID_ARGUMENT)
            lib.pk_metrics_recorder_set_layout(self._ptr, lib.PK_METRICS_FILE_HOURLY if layout == 'hour'
                                               else lib.PK_METRICS_FILE_DAILY)
        if retention is not None:
            lib.pk_metrics_recorder_set_retention(self._ptr, *retention)

    @property
    def directory(self) -> str:
        """The history directory."""
        return ffi.string(lib.pk_metrics_recorder_get_directory(self._ptr)).decode()

    def append(self, sample: dict) -> None:
        """Appends one sample (and updates the rollups)."""
        node = _node(sample)
        try:
            errors.call(lib.pk_metrics_recorder_append, self._ptr, node)
        finally:
            lib.json_node_unref(node)

    def expire(self, now: Optional[When] = None) -> None:
        """Removes what is past retention, as of ``now`` (seconds since
        the epoch or a datetime, default now)."""
        errors.call(lib.pk_metrics_recorder_expire, self._ptr, _us(now))

    @property
    def raw_size(self) -> int:
        """Bytes of raw history on disk."""
        return lib.pk_metrics_recorder_get_raw_size(self._ptr)


def read_history(directory: str | os.PathLike, since: When, until: Optional[When] = None,
                 resolution: str = 'raw') -> List[dict]:
    """Samples (``resolution="raw"``) or rollups (``"hour"``, ``"day"``)
    from ``since`` to ``until`` (default now), oldest first. Times are
    seconds since the epoch or :class:`datetime.datetime` objects."""
    if resolution not in _RESOLUTIONS:
        raise errors.InvalidArgument(f"resolution {resolution!r}: expected raw, hour or day",
                                     errors.PK_ERROR_DOMAIN, lib.PK_ERROR_INVALID_ARGUMENT)
    return _json_node_to_python(errors.call(lib.pk_metrics_history_read, os.fsencode(directory),
                                            _RESOLUTIONS[resolution], _us(since), _us(until)))


def analyze(directory: str | os.PathLike, at: Optional[When] = None,
            window: Union[float, datetime.timedelta] = 1200.0) -> dict:
    """The likely causes of a failure at ``at`` (seconds since the epoch or
    a datetime; default now), from the history of the ``window`` seconds
    (or :class:`datetime.timedelta`) before it (``pk-metrics analyze``).
    Raises :class:`Error` when there is no history then."""
    return _json_node_to_python(errors.call(lib.pk_metrics_analyze, os.fsencode(directory),
                                            _us(at), int(_seconds(window) * 1e6)))


class MetricsAlerts:
    """The ``[alert:NAME]`` rules of a :class:`Config` (``PkMetricsAlerts``):
    thresholds with hold and hysteresis, spikes and drops against an EMA,
    absent figures, cooldowns.

    ``dispatch=False`` (the default here) only returns the events;
    ``True`` also notifies as configured (log, stdout, exec, webhook).
    """

    def __init__(self, config: Config, dispatch: bool = False):
        self._config = config
        self._ptr = _loop.wrap(errors.call(lib.pk_metrics_alerts_new_from_config, config._ptr))
        lib.pk_metrics_alerts_set_dispatch(self._ptr, bool(dispatch))

    @property
    def n_rules(self) -> int:
        """How many ``[alert:NAME]`` rules were read."""
        return lib.pk_metrics_alerts_get_n_rules(self._ptr)

    def evaluate(self, sample: Optional[dict], now: Optional[When] = None) -> List[dict]:
        """Feeds one sample (``None`` for a missed one) to every rule and
        returns the events it caused (``alert``, ``state``, ``value``...)."""
        node = _node(sample) if sample is not None else ffi.NULL
        try:
            return _json_node_to_python(lib.pk_metrics_alerts_evaluate(self._ptr, node, _us(now)))
        finally:
            if node != ffi.NULL:
                lib.json_node_unref(node)
