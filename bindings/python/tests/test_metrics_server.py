"""proxykit.MetricsServer: /metrics, /api/sample and /api/history over
real HTTP on loopback; MetricsSampler.from_config."""
import json
import urllib.error
import urllib.request

import pytest

import proxykit

# no proxy from the environment: the server is on loopback
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(url):
    try:
        with _opener.open(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_metrics_and_sample(tmp_path):
    sampler = proxykit.MetricsSampler()
    with proxykit.MetricsServer('127.0.0.1:0', sampler=sampler, history_dir=tmp_path) as srv:
        assert srv.port > 0
        [url] = srv.urls
        assert url == f'http://127.0.0.1:{srv.port}/metrics'
        status, text = get(url)
        assert status == 200 and 'node_load1 ' in text
        srv.set_last_sample({'time': 'then', 'load': {'1': 0.5}})
        status, text = get(f'http://127.0.0.1:{srv.port}/api/sample')
        assert status == 200 and json.loads(text) == {'time': 'then', 'load': {'1': 0.5}}
        status, _ = get(f'http://127.0.0.1:{srv.port}/api/history?since=0')
        assert status == 400
    assert srv.port == 0


def test_bare_port_is_loopback_and_errors():
    with proxykit.MetricsServer('0') as srv:
        assert srv.urls[0].startswith('http://127.0.0.1:')
        status, text = get(f'http://127.0.0.1:{srv.port}/metrics')
        assert status == 200 and text == ''
        status, _ = get(f'http://127.0.0.1:{srv.port}/api/history')
        assert status == 404
    with pytest.raises(proxykit.InvalidArgument):
        proxykit.MetricsServer('eth0:9110').start()


def test_sampler_from_config_and_parse_time():
    cfg = proxykit.Config(data='[metrics]\nwatch-ports = 1, 70000\n', environ={})
    with pytest.raises(proxykit.ConfigError, match=r'\[metrics\] watch-ports'):
        proxykit.MetricsSampler.from_config(cfg)
    cfg = proxykit.Config(data='[metrics]\nwatch-ports = 10011\n', environ={})
    assert 'cpu' in json.dumps(proxykit.MetricsSampler.from_config(cfg).sample())
    assert proxykit.parse_time('2025-08-20T14:30:00Z') == 1755700200
    with pytest.raises(proxykit.InvalidArgument, match='not a time'):
        proxykit.parse_time('yesterday-ish')


def test_sample_as_a_table():
    sample = proxykit.MetricsSampler().sample()
    text = proxykit.MetricsSampler.table(sample)
    assert text.startswith('time ') and '\nload ' in text and '\nmemory ' in text
    assert proxykit.MetricsSampler.table({}).startswith('time         ?')


def test_monitor_records_alerts_and_serves_the_last_sample(tmp_path):
    """MetricsMonitor: samples on its timer into the history, an alert
    event reaches Python as a dict, a bad rule on reload changes nothing."""
    import threading
    cfg = proxykit.Config(data=f'[metrics]\ndirectory = {tmp_path}\ninterval = 100ms\n'
                               '[alert:memory]\nmetric = memory.total_bytes\nthreshold = 1\nnotify = stdout\n',
                          environ={})
    samples, alerts = [], []
    three = threading.Event()

    def on_sample(sample):
        samples.append(sample)
        if len(samples) >= 3:
            three.set()

    mon = proxykit.MetricsMonitor.from_config(cfg, proxykit.MetricsSampler(sock_diag=False),
                                              on_sample=on_sample,
                                              on_alert=lambda event, to_stdout: alerts.append((event, to_stdout)))
    assert mon.interval == 0.1
    with mon:
        assert mon.serving
        assert three.wait(30)
    assert not mon.serving
    assert 'memory' in samples[0] and samples[0]['memory']['total_bytes'] > 1
    assert len(alerts) == 1
    event, to_stdout = alerts[0]
    assert event['alert'] == 'memory' and event['state'] == 'firing' and to_stdout is True
    assert list(tmp_path.iterdir()), 'the history has files'

    with pytest.raises(proxykit.ConfigError, match=r'alert:x'):
        mon.reload_alerts(proxykit.Config(data='[alert:x]\nmetric = cpu.busy\nthreshold = lots\n', environ={}))
    assert mon.reload_alerts(proxykit.Config(data='', environ={})) == 0
    with pytest.raises(proxykit.ConfigError, match=r'interval'):
        proxykit.MetricsMonitor.from_config(proxykit.Config(data='[metrics]\ninterval = 10ms\n', environ={}),
                                            proxykit.MetricsSampler())
