"""proxykit.ToggleService against three emulated dongles: pk-toggle's code
path from Python (configuration, --all, --status, --info, --serve)."""
import json
import urllib.request

import pytest

import proxykit


def config_for(farm, tmp_path, extra=''):
    text = (f'[toggle]\nsettle = 50ms\npoll_interval = 50ms\ntimeout = 10s\nrequest_timeout = 1s\n'
            f'state_dir = {tmp_path}\n{extra}\n')
    for n, url in sorted(farm.urls.items()):
        text += f'[dongle:{n}]\napi = {url}\naddress = 127.0.0.1\n'
    return proxykit.Config(data=text)


def test_dongles_from_the_configuration(hilink_farm, tmp_path):
    svc = proxykit.ToggleService(config_for(hilink_farm, tmp_path), use_usb=False)
    assert svc.ids == [11, 12, 13]
    d = svc.dongles()[0]
    assert d == {'dongle': 11, 'api': hilink_farm.urls[11], 'address': '127.0.0.1',
                 'socks_host': None, 'socks_port': 10011}
    assert svc.toggle_of(12).id == 12


def test_convention_and_per_dongle_values():
    svc = proxykit.ToggleService(proxykit.Config(data=''), named=['21-22'], use_usb=False,
                                 values={'api': {22: 'http://127.0.0.1:9'}})
    assert [(d['dongle'], d['api'], d['address']) for d in svc.dongles()] == [
        (21, 'http://192.168.21.1', '192.168.21.100'), (22, 'http://127.0.0.1:9', '192.168.22.100')]
    with pytest.raises(proxykit.ConfigError, match="dongle 23 is not configured"):
        proxykit.ToggleService(proxykit.Config(data=''), named=['21'], use_usb=False,
                               values={'address': {23: '10.0.0.1'}})
    with pytest.raises(proxykit.ConfigError, match='no dongles'):
        proxykit.ToggleService(proxykit.Config(data=''), use_usb=False)


def test_toggle_all_waits_then_cooldown_refuses(hilink_farm, tmp_path):
    config = config_for(hilink_farm, tmp_path, 'max_concurrent = 1')
    svc = proxykit.ToggleService(config, use_usb=False)
    before = {n: hilink_farm.state(u)['wan_ip'] for n, u in hilink_farm.urls.items()}
    results = svc.toggle(wait=True, timeout=120)
    assert sorted(r['dongle'] for r in results) == [11, 12, 13]
    for r in results:
        assert r['success'] and r['old_ip'] == before[r['dongle']] != r['new_ip']
    again = svc.toggle([11], timeout=60)
    assert again == [{'dongle': 11, 'success': False, 'reason': 'cooldown', 'error': again[0]['error']}]


def test_status_info_and_text(hilink_farm, tmp_path):
    svc = proxykit.ToggleService(config_for(hilink_farm, tmp_path), use_usb=False)
    status = svc.status([12])
    assert len(status) == 1 and status[0]['dongle'] == 12
    assert status[0]['connected'] is True
    assert status[0]['wan_ip'] == hilink_farm.state(hilink_farm.urls[12])['wan_ip']
    assert proxykit.ToggleService.text(status).startswith('dongle 12 ')
    info = svc.info()
    assert [i['dongle'] for i in info] == [11, 12, 13]
    assert info[0]['device']['device-name'] == 'E8372h-320'
    assert '  signal:\n' in proxykit.ToggleService.text(info)


def test_serve_and_reload(hilink_farm, tmp_path):
    svc = proxykit.ToggleService(config_for(hilink_farm, tmp_path), use_usb=False)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with svc.serving_on('127.0.0.1:0'):
        assert svc.port > 0
        fewer = dict(hilink_farm.urls)
        del fewer[13]

        class Two:
            urls = fewer
        svc.reload(config_for(Two, tmp_path))
        with opener.open(f'http://127.0.0.1:{svc.port}/proxy-info', timeout=10) as r:
            proxies = json.loads(r.read())['proxies']
        assert [p['dongle'] for p in proxies] == [11, 12]
        with pytest.raises(proxykit.ConfigError, match='later'):
            svc.reload(config_for(hilink_farm, tmp_path, 'cooldown = later'))
        assert svc.ids == [11, 12]
    assert svc.port == 0


def test_diagnose_and_controller_reset(hilink_farm, tmp_path, closed_port):
    values = {'api': {13: f'http://127.0.0.1:{closed_port}'}}
    svc = proxykit.ToggleService(config_for(hilink_farm, tmp_path), use_usb=False, values=values)
    healthy, detail = svc.diagnose(11)
    assert healthy and detail.startswith('connected, WAN IP ')
    assert detail.endswith(hilink_farm.state(hilink_farm.urls[11])['wan_ip'])
    healthy, detail = svc.diagnose(13)
    assert not healthy and detail
    with pytest.raises(proxykit.InvalidArgument):
        svc.diagnose(99)
    assert not svc.controller_reset_allowed

    # a policy of the caller's, or [toggle]'s keys in its place
    reset = proxykit.UsbControllerReset(proxykit.StateStore(str(tmp_path / 'store')), allowed=True)
    svc = proxykit.ToggleService(config_for(hilink_farm, tmp_path), use_usb=False, controller_reset=reset)
    assert svc.controller_reset_allowed
    svc.reload(config_for(hilink_farm, tmp_path, 'controller-reset-threshold = 50'))
    assert not svc.controller_reset_allowed
    svc = proxykit.ToggleService(config_for(hilink_farm, tmp_path, 'allow-controller-reset = true\n'
                                            'controller-reset-threshold = 30'),
                                 use_usb=False, values=values)
    assert svc.controller_reset_allowed
    # 1 of 3 fails, past 30 %, but no dongle is on USB: no reset, the
    # recoveries run as ever
    results = svc.toggle(recovery=True, timeout=120)
    assert sorted(r['dongle'] for r in results) == [11, 12, 13]
    assert not any(s['name'] == 'controller-reset' for r in results for s in r.get('steps', []))
    assert not (tmp_path / 'host' / 'usb-controller-reset.json').exists()
    with pytest.raises(proxykit.ConfigError, match='controller-reset-threshold'):
        proxykit.ToggleService(config_for(hilink_farm, tmp_path, 'controller-reset-threshold = 0'),
                               use_usb=False)
