"""proxykit.MetricsRecorder, read_history, analyze, MetricsAlerts and
ToggleServer."""
import datetime
import json
import time
import urllib.error
import urllib.request

import pytest

import proxykit


def get(url, timeout=30, method=None, headers=None):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    req = urllib.request.Request(url, method=method, headers=headers or {},
                                 data=b'' if method == 'POST' else None)
    try:
        with opener.open(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b'null')
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b'null')


def test_recorder_keeps_samples_that_read_history_returns(tmp_path):
    sampler = proxykit.MetricsSampler()
    rec = proxykit.MetricsRecorder(tmp_path, layout='hour')
    t0 = time.time()
    for _ in range(3):
        rec.append(sampler.sample())
    assert rec.raw_size > 0
    samples = proxykit.read_history(tmp_path, since=t0 - 60)
    assert len(samples) == 3
    assert all('tcp' in s and 'timestamp' in s for s in samples)
    rollups = proxykit.read_history(tmp_path, since=t0 - 7200, resolution='hour')
    assert isinstance(rollups, list)
    report = proxykit.analyze(tmp_path, at=time.time(), window=600)
    assert isinstance(report, dict) and report
    with pytest.raises(proxykit.InvalidArgument):
        proxykit.read_history(tmp_path, since=t0, resolution='weekly')


def test_read_history_takes_datetimes(tmp_path):
    rec = proxykit.MetricsRecorder(tmp_path, layout='hour')
    rec.append(proxykit.MetricsSampler().sample())
    now = datetime.datetime.now(datetime.timezone.utc)
    assert len(proxykit.read_history(tmp_path, since=now - datetime.timedelta(minutes=1))) == 1
    # a naive datetime is local time, as datetime.timestamp() has it
    assert len(proxykit.read_history(tmp_path, since=datetime.datetime.now() - datetime.timedelta(minutes=1),
                                     until=datetime.datetime.now() + datetime.timedelta(minutes=1))) == 1
    assert proxykit.read_history(tmp_path, since=now + datetime.timedelta(minutes=1)) == []
    assert proxykit.analyze(tmp_path, at=now, window=datetime.timedelta(minutes=10))
    with pytest.raises(TypeError):
        proxykit.read_history(tmp_path, since='yesterday')


def test_analyze_without_history_raises(tmp_path):
    with pytest.raises(proxykit.Error):
        proxykit.analyze(tmp_path, at=time.time(), window=60)


def test_alert_fires_after_for_samples_and_resolves():
    cfg = proxykit.Config(data='[alert:load]\nmetric = load.1m\nkind = above\n'
                               'threshold = 100\nfor = 2\nclear-for = 1\n', environ={})
    alerts = proxykit.MetricsAlerts(cfg)
    assert alerts.n_rules == 1
    now = time.time()
    assert alerts.evaluate({'load': {'1m': 500.0}}, now) == []
    events = alerts.evaluate({'load': {'1m': 500.0}}, now + 10)
    assert [(e['alert'], e['state']) for e in events] == [('load', 'firing')]
    assert events[0]['value'] == 500.0
    resolved = alerts.evaluate({'load': {'1m': 1.0}}, now + 20)
    assert [(e['alert'], e['state']) for e in resolved] == [('load', 'resolved')]


def test_bad_alert_rule_names_the_key():
    cfg = proxykit.Config(data='[alert:x]\nmetric = load.1m\nkind = sideways\n', environ={})
    with pytest.raises(proxykit.ConfigError) as info:
        proxykit.MetricsAlerts(cfg)
    assert 'kind' in info.value.message


def test_toggle_server_toggles_over_http(hilink):
    modem = proxykit.HilinkModem(hilink.url, egress_address='127.0.0.1', timeout=20)
    toggle = proxykit.Toggle(11, modem, cooldown=60, settle=0.05, poll_interval=0.05,
                             attempt_timeout=10, unchanged_polls=3)
    with proxykit.ToggleServer('127.0.0.1:0') as srv:
        srv.add_dongle(toggle, api_url=hilink.url, egress_ip='127.0.0.1', socks_port=10011)
        base = f'http://127.0.0.1:{srv.port}'
        status, body = get(f'{base}/toggle/11', method='POST')
        assert status == 200 and body['success'] and body['new_ip'] != body['old_ip']
        status, _ = get(f'{base}/toggle/11', method='POST')
        assert status == 429                      # cooling down
        status, info = get(f'{base}/proxy-info')
        assert status == 200 and '10011' in json.dumps(info)
        status, _ = get(f'{base}/toggle/12', method='POST')
        assert status == 404
        status, _ = get(f'{base}/toggle/11')
        assert status == 405                      # a GET changes nothing


def test_toggle_server_token(hilink):
    modem = proxykit.HilinkModem(hilink.url, egress_address='127.0.0.1', timeout=20)
    toggle = proxykit.Toggle(11, modem, cooldown=60, settle=0.05, poll_interval=0.05,
                             attempt_timeout=10, unchanged_polls=3)
    with proxykit.ToggleServer('127.0.0.1:0', token='s3cret', allow_get=True) as srv:
        srv.add_dongle(toggle, api_url=hilink.url, egress_ip='127.0.0.1', socks_port=10011)
        base = f'http://127.0.0.1:{srv.port}'
        assert get(f'{base}/toggle/11', method='POST')[0] == 401
        assert get(f'{base}/proxy-info')[0] == 401
        assert get(f'{base}/status')[0] == 200
        status, body = get(f'{base}/toggle/11', headers={'Authorization': 'Bearer s3cret'})
        assert status == 200 and body['success']
