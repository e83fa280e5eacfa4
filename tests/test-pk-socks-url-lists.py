"""pk-socks with access lists from URLs (allow-url, deny-url): the built
binary against a list server on loopback started here, with real SOCKS
clients. A list reaches a running pk-socks without a restart, shrinks,
fails to fetch, comes malformed; the cache stands in at start; a live
session survives a swap. Run with Debian's /usr/bin/python3 -m pytest;
PK_BUILDDIR names the build directory.
"""
import importlib.util
import os
import re
import shutil
import subprocess
import urllib.request

import pytest
import socks

from list_server import ListServer

# The pk-socks harness (process, port file, clients) of test-pk-socks.py.
_spec = importlib.util.spec_from_file_location(
    'pk_socks_harness', os.path.join(os.path.dirname(__file__), 'test-pk-socks.py'))
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)
wait_for, socks_connect, echo_once, run_pk_socks = (
    harness.wait_for, harness.socks_connect, harness.echo_once, harness.run_pk_socks)
tcp_echo = harness.tcp_echo
pk_socks = harness.pk_socks


@pytest.fixture
def lists():
    s = ListServer()
    yield s
    s.close()


def allowed(port, echo):
    """Whether a new client gets through the listener (the allowlist)."""
    try:
        with socks_connect(port, echo) as s:
            echo_once(s, b'ping')
        return True
    except socks.ProxyError:
        return False


def start(pk_socks, tmp_path, body, *, refresh='200ms', extra=''):
    conf = tmp_path / 'proxykit.conf'
    conf.write_text(f'[socks:a]\nlisten = 127.0.0.1:0\nallow-url = {body}\nrefresh = {refresh}\n{extra}')
    return pk_socks('--config', str(conf), listen=False,
                    env={'PROXYKIT_STATE_DIR': str(tmp_path / 'state')})


def cache_file(tmp_path):
    return tmp_path / 'state' / 'access-lists' / 'socks-a-allow.list'


def test_list_applied_without_restart_and_shrinks(pk_socks, tmp_path, lists, tcp_echo):
    lists.lists['/allow.txt'] = '# the farm\n192.0.2.0/24\n'
    p = start(pk_socks, tmp_path, lists.url('/allow.txt'))
    wait_for(lambda: '1 entry loaded' in p.log_text(), what='the first copy')
    assert not allowed(p.port, tcp_echo)

    lists.lists['/allow.txt'] = '# the farm\n192.0.2.0/24\n\n127.0.0.1   # this host\n'
    wait_for(lambda: allowed(p.port, tcp_echo), what='the grown list to apply')

    # the list shrinks: this client is out again
    lists.lists['/allow.txt'] = '192.0.2.0/24\n'
    wait_for(lambda: not allowed(p.port, tcp_echo), what='the shrunk list to apply')
    assert p.proc.poll() is None


def test_conditional_get(pk_socks, tmp_path, lists, tcp_echo):
    lists.lists['/allow.txt'] = '127.0.0.1\n'
    p = start(pk_socks, tmp_path, lists.url('/allow.txt'))
    wait_for(lambda: lists.gets('/allow.txt') >= 3, what='refetches')
    # after the first copy every request carries its ETag
    assert all('If-None-Match' in h for path, h in lists.requests[1:])
    assert allowed(p.port, tcp_echo)


def test_live_session_survives_swap(pk_socks, tmp_path, lists, tcp_echo):
    lists.lists['/allow.txt'] = '127.0.0.0/8\n'
    p = start(pk_socks, tmp_path, lists.url('/allow.txt'))
    wait_for(lambda: allowed(p.port, tcp_echo), what='the list')
    live = socks_connect(p.port, tcp_echo)
    echo_once(live, b'before the swap')

    lists.lists['/allow.txt'] = '192.0.2.1\n'
    wait_for(lambda: not allowed(p.port, tcp_echo), what='the swap')
    echo_once(live, b'after the swap')
    live.close()


def test_fails_closed_until_loaded(pk_socks, tmp_path, lists, tcp_echo):
    # nothing at the URL and no cache: no client gets in
    p = start(pk_socks, tmp_path, lists.url('/missing.txt'))
    wait_for(lambda: 'HTTP status 404' in p.log_text(), what='the failed fetch')
    assert lists.url('/missing.txt') in p.log_text()
    assert 'no copy loaded yet' in p.log_text()
    assert not allowed(p.port, tcp_echo)


def test_fetch_failure_keeps_list_and_cache_used_at_start(pk_socks, tmp_path, lists, tcp_echo):
    lists.lists['/allow.txt'] = '127.0.0.1\n'
    p = start(pk_socks, tmp_path, lists.url('/allow.txt'))
    wait_for(lambda: cache_file(tmp_path).exists(), what='the cache')
    assert '127.0.0.1' in cache_file(tmp_path).read_text()
    assert allowed(p.port, tcp_echo)

    # the server fails: the list stays
    lists.status = 500
    wait_for(lambda: 'HTTP status 500' in p.log_text(), what='the failed fetch')
    assert 'keeping the copy loaded before (1 entry)' in p.log_text()
    assert allowed(p.port, tcp_echo)
    p.stop()

    # a restart while the URL fails: the cached copy lets the client in
    q = start(pk_socks, tmp_path, lists.url('/allow.txt'))
    wait_for(lambda: 'from the cache' in q.log_text(), what='the cache to load')
    assert allowed(q.port, tcp_echo)
    wait_for(lambda: 'HTTP status 500' in q.log_text(), what='the failed fetch')
    assert allowed(q.port, tcp_echo)


def test_malformed_list_rejected(pk_socks, tmp_path, lists, tcp_echo):
    lists.lists['/allow.txt'] = '127.0.0.1\n'
    p = start(pk_socks, tmp_path, lists.url('/allow.txt'))
    wait_for(lambda: allowed(p.port, tcp_echo), what='the list')
    # the cache is written just after the list applies
    wait_for(lambda: cache_file(tmp_path).exists(), what='the cache')
    good_cache = cache_file(tmp_path).read_text()

    lists.lists['/allow.txt'] = '# half a list\n192.0.2.1\nnot-an-address\n'
    wait_for(lambda: "line 3 'not-an-address'" in p.log_text(), what='the rejection')
    assert lists.url('/allow.txt') in p.log_text()
    # nothing of it applied: 127.0.0.1 is still in, the cache is the good copy
    assert allowed(p.port, tcp_echo)
    assert cache_file(tmp_path).read_text() == good_cache


def test_deny_url(pk_socks, tmp_path, lists, tcp_echo):
    lists.lists['/deny.txt'] = '192.0.2.0/24\n'
    conf = tmp_path / 'proxykit.conf'
    conf.write_text(f'[socks:a]\nlisten = 127.0.0.1:0\ndeny-url = {lists.url("/deny.txt")}\n'
                    f'refresh = 200ms\nallow-host-destinations = true\n')
    p = pk_socks('--config', str(conf), listen=False, env={'PROXYKIT_STATE_DIR': str(tmp_path / 'state')})
    wait_for(lambda: '1 entry loaded' in p.log_text(), what='the list')
    assert allowed(p.port, tcp_echo)
    lists.lists['/deny.txt'] = '192.0.2.0/24\n127.0.0.1\n'
    wait_for(lambda: not allowed(p.port, tcp_echo), what='the destination to be denied')


def test_sighup_keeps_loaded_list(pk_socks, tmp_path, lists, tcp_echo):
    lists.lists['/allow.txt'] = '127.0.0.1\n'
    p = start(pk_socks, tmp_path, lists.url('/allow.txt'), refresh='1h')
    wait_for(lambda: allowed(p.port, tcp_echo), what='the list')
    n = lists.gets('/allow.txt')
    lists.status = 500
    log = p.reload()
    assert 'reload done' in log
    # the reload fetched again, failed, and kept the list
    wait_for(lambda: lists.gets('/allow.txt') > n, what='the fetch of the reload')
    wait_for(lambda: 'HTTP status 500' in p.log_text(), what='the failure')
    assert allowed(p.port, tcp_echo)


def test_open_listener_rule_counts_allow_url(tmp_path):
    conf = tmp_path / 'proxykit.conf'
    conf.write_text('[socks:a]\nlisten = 0.0.0.0:0\nallow-url = https://lists.example/allow.txt\n')
    r = run_pk_socks('--check', '--config', str(conf))
    assert r.returncode == 0, r.stderr
    conf.write_text('[socks:a]\nlisten = 0.0.0.0:0\n')
    assert run_pk_socks('--check', '--config', str(conf)).returncode == 2


@pytest.mark.parametrize('conf, needle', [
    ('allow-url = ftp://lists.example/a', "'ftp://lists.example/a' is not an http or https URL"),
    ('allow-url = http://127.0.0.1/a\nrefresh = 1x', 'refresh'),
    ('deny-url = http://127.0.0.1/a\nurl-egress = no-such-if-name-too-long', 'url-egress'),
])
def test_bad_values(tmp_path, conf, needle):
    path = tmp_path / 'proxykit.conf'
    path.write_text(f'[socks:a]\nlisten = 127.0.0.1:0\n{conf}\n')
    r = run_pk_socks('--check', '--config', str(path))
    assert r.returncode == 2
    assert needle in r.stderr


def test_metrics(pk_socks, tmp_path, lists, tcp_echo):
    lists.lists['/allow.txt'] = '127.0.0.1\n10.0.0.0/8\n'
    conf = tmp_path / 'proxykit.conf'
    conf.write_text(f'[socks:a]\nlisten = 127.0.0.1:0\nallow-url = {lists.url("/allow.txt")}\n'
                    f'deny-url = {lists.url("/missing.txt")}\nrefresh = 200ms\n')
    p = pk_socks('--config', str(conf), '--metrics-listen', '127.0.0.1:0', listen=False,
                 env={'PROXYKIT_STATE_DIR': str(tmp_path / 'state')})
    url = wait_for(lambda: re.search(r'metrics on (http://\S+/metrics)', p.log_text()), what='/metrics').group(1)
    wait_for(lambda: 'HTTP status 404' in p.log_text(), what='the failed fetch of the deny list')

    def scrape():
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.read().decode()

    text = wait_for(lambda: (t := scrape()) and 'list="allow"} 2' in t and t, what='the entries')
    assert 'proxykit_socks_access_list_entries{listener="a",list="allow"} 2' in text
    assert 'proxykit_socks_access_list_loaded{listener="a",list="allow"} 1' in text
    assert 'proxykit_socks_access_list_loaded{listener="a",list="deny"} 0' in text
    assert re.search(r'proxykit_socks_access_list_last_success_timestamp_seconds\{listener="a",list="allow"\} [1-9]',
                     text)
    assert re.search(r'proxykit_socks_access_list_fetch_failures_total\{listener="a",list="deny"\} [1-9]', text)
    if shutil.which('promtool'):
        out = subprocess.run(['promtool', 'check', 'metrics'], input=text, capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr


def test_sighup_new_url(pk_socks, tmp_path, lists, tcp_echo):
    lists.lists['/a.txt'] = '127.0.0.1\n'
    lists.lists['/b.txt'] = '192.0.2.1\n'
    p = start(pk_socks, tmp_path, lists.url('/a.txt'), refresh='1h')
    wait_for(lambda: allowed(p.port, tcp_echo), what='the list')
    (tmp_path / 'proxykit.conf').write_text(
        f'[socks:a]\nlisten = 127.0.0.1:0\nallow-url = {lists.url("/b.txt")}\nrefresh = 1h\n')
    assert 'reload done' in p.reload()
    wait_for(lambda: lists.gets('/b.txt') > 0, what='the new URL to be fetched')
    wait_for(lambda: not allowed(p.port, tcp_echo), what='the new list')
    # the cache of the old URL was not taken for the new one, without a warning
    assert 'not a copy of' not in p.log_text()
    wait_for(lambda: lists.url('/b.txt') in cache_file(tmp_path).read_text(), what='the new cache')
