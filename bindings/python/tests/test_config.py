"""proxykit.Config: sections, typed lookups, precedence, error messages."""
import pytest

import proxykit
from proxykit._ffi import lib

CONF = """\
[socks:11]
listen = 0.0.0.0:10011
connect-timeout = 5s
auth = yes

[socks:12]
listen = 0.0.0.0:10012
port = many

[relay:1]
spec = 50025;25;127.0.0.1;TCP
"""


@pytest.fixture
def conf_file(tmp_path):
    p = tmp_path / 'proxykit.conf'
    p.write_text(CONF)
    return p


def test_sections_and_typed_values(conf_file):
    cfg = proxykit.Config(str(conf_file), environ={})
    assert cfg.origin == str(conf_file)
    assert sorted(cfg.sections('socks')) == ['11', '12']
    assert cfg.sections('relay') == ['1']
    assert cfg.has_section('socks:11') and not cfg.has_section('socks:13')
    assert cfg.has_key('socks:11', 'auth') and not cfg.has_key('socks:11', 'nope')
    assert cfg.get_string('socks:11', 'listen') == '0.0.0.0:10011'
    assert cfg.get_string('socks:11', 'missing', default='d') == 'd'
    assert cfg.get_duration_ms('socks:11', 'connect-timeout') == 5000
    assert cfg.get_duration('socks:11', 'connect-timeout') == 5.0
    assert cfg.get_boolean('socks:11', 'auth') is True
    assert cfg.get_uint('socks:11', 'missing', default=7) == 7


def test_environment_overrides_the_file(conf_file):
    cfg = proxykit.Config(str(conf_file), environ={'SOCKS_CONNECT_TIMEOUT': '250ms'})
    assert cfg.getenv('SOCKS_CONNECT_TIMEOUT') == '250ms'
    assert cfg.get_duration_ms('socks:11', 'connect-timeout', 'SOCKS_CONNECT_TIMEOUT') == 250


def test_bad_value_names_file_line_section_and_key(conf_file):
    cfg = proxykit.Config(str(conf_file), environ={})
    with pytest.raises(proxykit.ConfigError) as info:
        cfg.get_uint('socks:12', 'port', max=65535)
    err = info.value
    assert err.code == lib.PK_ERROR_CONFIG and err.domain == 'pk-error-quark'
    assert f'{conf_file}:8' in err.message
    assert '[socks:12] port' in err.message


def test_unknown_key_is_reported(conf_file):
    cfg = proxykit.Config(str(conf_file), environ={})
    cfg.check_keys('socks:11', ['listen', 'connect-timeout', 'auth'])
    with pytest.raises(proxykit.ConfigError, match='port'):
        cfg.check_keys('socks:12', ['listen'])


def test_missing_file_raises():
    with pytest.raises(proxykit.Error):
        proxykit.Config('/nonexistent/proxykit.conf')


def test_data_and_env_file(tmp_path):
    env = tmp_path / 'env'
    env.write_text('WATCHDOG_CHECK_INTERVAL=45\n')
    cfg = proxykit.Config(data='[watchdog]\ninterval = 10s\n', env_file=str(env), environ={})
    assert cfg.get_duration_ms('watchdog', 'interval') == 10000
    assert cfg.get_duration_ms('watchdog', 'interval', 'WATCHDOG_CHECK_INTERVAL') == 45000
