"""proxykit.AccessList against a list server on 127.0.0.1 (http.server):
fetch, conditional GET, a malformed copy (rejected, line named), a failed
fetch (old copy kept), the cache, the changed signal, and a SocksServer
that takes one as its client allowlist (its /metrics too)."""
import os
import socket
import sys
import time

import pytest
import socks

import proxykit

# The list server of the pk-socks tests (tests/list_server.py).
sys.path.insert(0, os.path.join(os.environ.get('PK_SRCDIR', os.path.join(os.path.dirname(__file__), '..', '..', '..')),
                                'tests'))
from list_server import ListServer  # noqa: E402

PATH = '/allow.txt'


class OneList:
    """The list at PATH of a ListServer: ``body``, ``status``, ``url``."""

    def __init__(self, server):
        self.server = server
        self.url = server.url(PATH)

    @property
    def requests(self):
        return [headers for _, headers in self.server.requests]

    def __setattr__(self, name, value):
        if name == 'body':
            self.server.lists[PATH] = value
        elif name == 'status':
            self.server.status = value
        else:
            super().__setattr__(name, value)


@pytest.fixture
def lists():
    s = ListServer()
    yield OneList(s)
    s.close()


def wait_for(cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError('timed out')


def test_fetch_entries_and_conditional_get(lists):
    lists.body = '# office\n10.0.0.0/8\n\n192.0.2.7  # the gateway\n2001:db8::/32\n'
    acl = proxykit.AccessList(lists.url)
    assert not acl.loaded and acl.entries is None and acl.last_success == 0
    acl.refresh_now()
    assert acl.loaded
    assert acl.entries == ['10.0.0.0/8', '192.0.2.7', '2001:db8::/32']
    assert acl.n_entries == 3
    assert acl.matches('10.1.2.3') and acl.matches('::ffff:192.0.2.7') and not acl.matches('192.0.2.8')
    assert acl.last_error is None and acl.last_success > 0

    # the second fetch is conditional; 304 keeps the copy and counts as a success
    acl.refresh_now()
    assert lists.requests[-1].get('If-None-Match')
    assert acl.n_entries == 3 and acl.fetch_failures == 0


def test_malformed_copy_rejected(lists):
    lists.body = '127.0.0.1\n'
    acl = proxykit.AccessList(lists.url)
    acl.refresh_now()
    lists.body = '127.0.0.1\n10.0.0.0/8\n10.0.0.0/99\n'
    with pytest.raises(proxykit.ProtocolError) as e:
        acl.refresh_now()
    assert "line 3 '10.0.0.0/99'" in str(e.value) and lists.url in str(e.value)
    assert acl.entries == ['127.0.0.1']
    assert "line 3 '10.0.0.0/99'" in acl.last_error
    assert acl.fetch_failures == 1

    with pytest.raises(proxykit.ProtocolError, match=r"line 1 'two words'"):
        acl.load_data('two words\n')
    assert acl.entries == ['127.0.0.1']


def test_failed_fetch_keeps_copy_and_cache_stands_in(lists, tmp_path):
    cache = tmp_path / 'lists' / 'allow.list'
    lists.body = '192.0.2.0/24\n'
    acl = proxykit.AccessList(lists.url, cache_path=str(cache))
    acl.refresh_now()
    assert cache.read_text().startswith('# proxykit access list cache\n')

    lists.status = 503
    with pytest.raises(proxykit.ProtocolError, match='HTTP status 503'):
        acl.refresh_now()
    assert acl.entries == ['192.0.2.0/24'] and acl.fetch_failures == 1

    # another process at boot, the URL failing: the cached copy loads
    again = proxykit.AccessList(lists.url, cache_path=str(cache))
    with again:
        wait_for(lambda: again.fetch_failures >= 1)
        assert again.entries == ['192.0.2.0/24']
    # a cache of another URL is not used
    other = proxykit.AccessList(lists.url + '?other', cache_path=str(cache))
    with pytest.raises(proxykit.NotFound, match='not a copy of'):
        other.load_cache()
    assert not other.loaded


def test_changed_signal_and_refresh(lists):
    lists.body = '10.0.0.1\n'
    changes = []
    acl = proxykit.AccessList(lists.url, refresh=0.1, on_changed=lambda: changes.append(1))
    with acl:
        wait_for(lambda: len(changes) == 1)
        lists.body = '10.0.0.1\n10.0.0.2\n'
        wait_for(lambda: acl.n_entries == 2)
        wait_for(lambda: len(changes) == 2)
        n = len(lists.requests)
        wait_for(lambda: len(lists.requests) > n + 1)
        # unchanged copies (304) change nothing
        assert len(changes) == 2


def allowed(port, echo_port):
    s = socks.socksocket(socket.AF_INET, socket.SOCK_STREAM)
    s.set_proxy(socks.SOCKS5, '127.0.0.1', port, rdns=False)
    s.settimeout(10)
    try:
        s.connect(('127.0.0.1', echo_port))
        s.sendall(b'x')
        return s.recv(1) == b'x'
    except socks.ProxyError:
        return False
    finally:
        s.close()


def test_socks_server_allow_list(lists, echo_server):
    _, echo_port, _ = echo_server
    lists.body = '192.0.2.1\n'
    acl = proxykit.AccessList(lists.url, refresh=0.1)
    with proxykit.SocksServer('127.0.0.1:0', name='u', allow_list=acl) as srv:
        wait_for(lambda: acl.loaded)
        assert not allowed(srv.port, echo_port)
        lists.body = '192.0.2.1\n127.0.0.1\n'
        wait_for(lambda: allowed(srv.port, echo_port))
        assert srv.allow_list.url == lists.url and srv.deny_list is None
        text = srv.prometheus()
        assert 'proxykit_socks_access_list_entries{listener="u",list="allow"} 2' in text
        assert 'proxykit_socks_access_list_loaded{listener="u",list="allow"} 1' in text
        assert 'proxykit_socks_access_list_loaded' in text
        assert 'proxykit_socks_access_list_last_success_timestamp_seconds' in text
        assert 'proxykit_socks_access_list_fetch_failures_total' in text


def test_socks_server_from_config(lists, echo_server, tmp_path):
    _, echo_port, _ = echo_server
    lists.body = '127.0.0.1\n'
    cfg = proxykit.Config(data=f'[socks:a]\nlisten = 127.0.0.1:0\nallow-url = {lists.url}\n'
                               f'refresh = 5m\nstate-dir = {tmp_path}\n')
    with proxykit.SocksServer.from_config(cfg, 'a') as srv:
        acl = srv.allow_list
        assert acl.refresh == 300.0
        assert acl.cache_path == str(tmp_path / 'access-lists' / 'socks-a-allow.list')
        wait_for(lambda: allowed(srv.port, echo_port))


def test_password_not_shown(lists, tmp_path):
    lists.status = 503
    url = lists.url.replace('http://', 'http://farm:s3cret@')
    acl = proxykit.AccessList(url)
    with pytest.raises(proxykit.ProtocolError) as e:
        acl.refresh_now()
    assert 'farm@127.0.0.1' in str(e.value) and 's3cret' not in str(e.value)
    assert 's3cret' not in acl.last_error
    assert acl.url == url
