"""proxykit.HilinkModem against the HiLink emulator (tests/hilink-emulator)."""
import pytest

import proxykit

# Rotation timing scaled down for the emulator (reconnect delay 200 ms).
FAST = dict(settle=0.05, poll_interval=0.05, attempt_timeout=10, unchanged_polls=3, timeout=60)
from proxykit._ffi import lib


def test_status_and_device_info(hilink):
    modem = proxykit.HilinkModem(hilink.url, egress_address='127.0.0.1', timeout=20)
    st = modem.status()
    assert isinstance(st, proxykit.ModemStatus)
    assert st.connected and st.wan_ip == hilink.state()['wan_ip']
    info = modem.device_info()
    assert info['imei'] and info['device-name']
    assert isinstance(modem.traffic(), proxykit.ModemTraffic)
    assert modem.get_data_enabled() is True
    assert hilink.state()['last_peer'].startswith('127.0.0.1')


def test_rotate_by_data_switch_changes_the_ip(hilink):
    modem = proxykit.HilinkModem(hilink.url, egress_address='127.0.0.1', timeout=20)
    before = modem.wan_ip
    result = modem.rotate(method='data', **FAST)
    assert set(result) == {'old_ip', 'new_ip', 'seconds', 'method', 'escalated', 'attempts'}
    assert result['old_ip'] == before
    assert result['method'] == 'data' and not result['escalated']
    assert [a['outcome'] for a in result['attempts']] == ['changed']
    assert result['new_ip'] != before
    assert result['new_ip'] == hilink.state()['wan_ip']
    assert result['seconds'] > 0


def test_rotate_by_network_mode_restores_the_mode(hilink):
    modem = proxykit.HilinkModem(hilink.url, egress_address='127.0.0.1', timeout=20)
    mode = modem.get_network_mode()
    result = modem.rotate(method='netmode', **FAST)
    assert result['new_ip'] != result['old_ip']
    assert result['method'] == 'netmode'
    assert modem.get_network_mode() == mode


def test_sticky_ip_escalates_to_the_next_method(hilink):
    hilink.control(sticky='data')
    modem = proxykit.HilinkModem(hilink.url, timeout=20)
    result = modem.rotate(method='data', escalate='data,netmode', **FAST)
    assert result['escalated'] and result['method'] == 'netmode'
    assert [a['outcome'] for a in result['attempts']] == ['unchanged', 'changed']
    assert result['new_ip'] != result['old_ip']


def test_sticky_ip_without_escalation_raises_unchanged(hilink):
    hilink.control(sticky='data')
    modem = proxykit.HilinkModem(hilink.url, timeout=20)
    old = modem.wan_ip
    with pytest.raises(proxykit.Unchanged) as info:
        modem.rotate(method='data', escalate='none', **FAST)
    assert info.value.code == lib.PK_ERROR_UNCHANGED
    assert info.value.result['old_ip'] == old
    assert info.value.result['attempts'][0]['outcome'] == 'unchanged'


def test_one_busy_answer_is_retried(hilink):
    hilink.control(busy=1)
    modem = proxykit.HilinkModem(hilink.url, timeout=20)
    modem.set_data_enabled(False)
    assert modem.get_data_enabled() is False
    assert hilink.state()['busy'] == '1'


def test_rotation_busy_between_off_and_on_leaves_data_on(hilink):
    # "data on" stays busy past one call's retries: the rotation switches
    # data back on, then escalates; the mode is the one it found.
    modem = proxykit.HilinkModem(hilink.url, request_timeout=2, timeout=20)
    mode = modem.get_network_mode()
    hilink.control(busy_on='POST:/api/dialup/mobile-dataswitch@2x6')
    result = modem.rotate(method='data', escalate='data,netmode', **FAST)
    assert [a['outcome'] for a in result['attempts']] == ['failed', 'changed']
    assert result['method'] == 'netmode' and result['new_ip'] != result['old_ip']
    assert modem.get_data_enabled() is True
    assert modem.get_network_mode() == mode
    assert hilink.state()['data'] == '1'


def test_busy_device_raises_busy_with_huawei_code(hilink):
    hilink.control(busy=50)
    # Busy through the first try and every retry (a 2 s bound keeps it short).
    modem = proxykit.HilinkModem(hilink.url, request_timeout=2, timeout=20)
    with pytest.raises(proxykit.Busy) as info:
        modem.set_data_enabled(False)
    err = info.value
    assert err.huawei_code == 100004
    assert err.code == lib.PK_ERROR_BUSY and err.domain == 'pk-error-quark'
    assert hilink.url.split('//')[1] in err.message


def test_wrong_password_raises_auth_failed(hilink_program):
    from conftest import HilinkEmulator
    emu = HilinkEmulator(hilink_program, extra=('--password', 'right'))
    try:
        modem = proxykit.HilinkModem(emu.url, username='admin', password='wrong', timeout=20)
        with pytest.raises(proxykit.AuthFailed) as info:
            modem.set_data_enabled(False)
        assert info.value.huawei_code is not None
        assert info.value.huawei_code // 1000 == 108
        good = proxykit.HilinkModem(emu.url, username='admin', password='right', timeout=20)
        assert good.rotate(**FAST)['new_ip']
    finally:
        emu.close()


def test_unreachable_modem_raises_connection_refused(closed_port):
    modem = proxykit.HilinkModem(f'http://127.0.0.1:{closed_port}', request_timeout=1, timeout=20)
    with pytest.raises(proxykit.Error) as info:
        modem.status()
    assert info.value.domain in ('g-io-error-quark', 'pk-error-quark')


def test_bad_arguments():
    modem = proxykit.HilinkModem('127.0.0.1')
    with pytest.raises(proxykit.InvalidArgument):
        modem.set_network_mode('5g-turbo')
    with pytest.raises(proxykit.InvalidArgument):
        modem.rotate(method='magic')
    with pytest.raises(proxykit.Error):
        proxykit.HilinkModem('http://[not a url', timeout=1)
