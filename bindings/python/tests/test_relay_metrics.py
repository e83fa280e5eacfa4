"""proxykit.Relay, proxykit.Bridge and proxykit.MetricsSampler."""
import os
import socket

import pytest

import proxykit


def test_tcp_relay_forwards_and_counts(echo_server):
    host, port, peers = echo_server
    with proxykit.Relay() as relay:
        name = relay.add_rule(in_port=0, out_host=host, out_port=port, name='echo',
                              listen_address='127.0.0.1',
                              egress=proxykit.Egress(address='127.0.0.1'), connect_timeout=5)
        assert name == 'echo' and relay.rules == ['echo']
        local = relay.local_port('echo')
        assert local > 0
        with socket.create_connection(('127.0.0.1', local), timeout=10) as c:
            c.sendall(b'relayed bytes')
            assert c.recv(100) == b'relayed bytes'
            assert relay.connections == 1
            c.shutdown(socket.SHUT_WR)
            assert c.recv(100) == b''
        status = relay.status()
        rule = status['rules'][0]
        assert rule['name'] == 'echo' and rule['protocol'].lower() == 'tcp'
        assert rule['connections'] == 1
        text = relay.prometheus()
        assert 'proxykit_relay_connections_total{rule="echo"} 1\n' in text
        assert 'proxykit_relay_bytes_total{rule="echo",direction="in"} 13\n' in text
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(('127.0.0.1', local), timeout=5).close()


def test_malformed_rule_names_the_field():
    with pytest.raises(proxykit.InvalidArgument) as info:
        proxykit.Relay(['50025;25;192.0.2.10;SCTP'])
    assert 'SCTP' in info.value.message or 'protocol' in info.value.message


def test_add_rule_keeps_earlier_port_zero_rules_and_their_connections(echo_server):
    host, port, _ = echo_server
    with proxykit.Relay() as relay:
        relay.add_rule(in_port=0, out_host=host, out_port=port, name='first',
                       listen_address='127.0.0.1')
        first = relay.local_port('first')
        live = socket.create_connection(('127.0.0.1', first), timeout=10)
        live.sendall(b'1')
        assert live.recv(1) == b'1'
        relay.add_rule(in_port=0, out_host=host, out_port=port, name='second',
                       listen_address='127.0.0.1')
        assert relay.local_port('first') == first
        assert relay.local_port('second') not in (0, first)
        live.sendall(b'2')                  # no EOF: the first rule was not restarted
        assert live.recv(1) == b'2'
        live.close()


def test_rule_string_with_port_zero_is_refused_with_the_field_named():
    with pytest.raises(proxykit.InvalidArgument) as info:
        proxykit.Relay(['0;25;127.0.0.1;TCP'])
    assert "in_port '0'" in info.value.message


def test_bridge_moves_bytes_both_ways_with_half_close():
    a_out, a_in = socket.socketpair()
    b_out, b_in = socket.socketpair()
    bridge = proxykit.Bridge(a_in, b_in)
    a_out.sendall(b'x' * 100000)
    a_out.shutdown(socket.SHUT_WR)
    b_out.sendall(b'reply')
    b_out.shutdown(socket.SHUT_WR)
    import threading
    got = bytearray()

    def drain():
        while True:
            chunk = b_out.recv(65536)
            if not chunk:
                return
            got.extend(chunk)
    t = threading.Thread(target=drain)
    t.start()
    result = bridge.run(timeout=30)
    t.join(10)
    assert result.error is None
    assert (result.bytes_a_to_b, result.bytes_b_to_a) == (100000, 5)
    assert bytes(got) == b'x' * 100000
    assert a_out.recv(100) == b'reply'
    assert a_in.getblocking()
    for s in (a_out, a_in, b_out, b_in):
        s.close()


def test_bridge_idle_timeout_is_reported():
    a_out, a_in = socket.socketpair()
    b_out, b_in = socket.socketpair()
    result = proxykit.Bridge(a_in, b_in, idle_timeout=0.2).run(timeout=30)
    assert isinstance(result.error, proxykit.TimedOut)
    assert result.bytes_a_to_b == 0
    for s in (a_out, a_in, b_out, b_in):
        s.close()


def test_metrics_sample_counts_a_watched_port():
    lst = socket.socket()
    lst.bind(('127.0.0.1', 0))
    lst.listen()
    port = lst.getsockname()[1]
    client = socket.create_connection(('127.0.0.1', port))
    server, _ = lst.accept()
    sample = proxykit.MetricsSampler(watch_ports=[port], watch_pids=[os.getpid()]).sample()
    assert sample['tcp']['ports'][str(port)]['ESTABLISHED'] >= 1
    assert sample['tcp']['ports'][str(port)]['LISTEN'] == 1
    assert str(os.getpid()) in sample['processes']
    text = proxykit.MetricsSampler.prometheus(sample)
    assert '# TYPE' in text and 'node_cpu_seconds_total' in text
    for s in (client, server, lst):
        s.close()


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_set_rules_reloads_keeping_unchanged_rules(echo_server):
    host, port, _ = echo_server
    a, b = free_port(), free_port()
    rule_a = f'127.0.0.1:{a};{port};{host};TCP'
    rule_b = f'127.0.0.1:{b};{port};{host};TCP'
    with proxykit.Relay() as relay:
        names = relay.set_rules([rule_a])
        live = socket.create_connection(('127.0.0.1', a), timeout=10)
        live.sendall(b'1')
        assert live.recv(1) == b'1'
        assert relay.set_rules([rule_a, rule_b]) == [names[0], relay.rules[1]]
        live.sendall(b'2')                                # rule A kept its connection
        assert live.recv(1) == b'2'
        with socket.create_connection(('127.0.0.1', b), timeout=10) as c:
            c.sendall(b'b')
            assert c.recv(1) == b'b'
        relay.set_rules([rule_b])                         # rule A goes, with its connection
        assert live.recv(1) == b''
        live.close()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(('127.0.0.1', a), timeout=5).close()
        with pytest.raises(proxykit.InvalidArgument):
            relay.set_rules([rule_b, 'nonsense'])
        assert relay.local_port(relay.rules[0]) == b    # nothing changed


def test_hysteresis_counts():
    h = proxykit.Hysteresis(fall=3, rise=2)
    assert [h.feed(False, now=i) for i in range(3)][-1] == 'failed'
    assert h.health == 'down'
    assert h.feed(True, now=4) is None and h.confirming
    assert h.feed(True, now=5) == 'recovered' and h.health == 'up'
    c = h.counters()
    assert c['total_failures'] == 1 and c['total_recoveries'] == 1 and c['checks'] == 5


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_relay_from_config_starts_reloads_and_names_bad_values(echo_server):
    host, port, _ = echo_server
    in_port, b_port = _free_port(), _free_port()
    text = f'[relay:a]\nlisten = {in_port}\ntarget = {host}:{port}\n'
    # The override (a flag) wins over the environment, which wins over the file.
    cfg = proxykit.Config(data='[relay]\nlisten-address = 127.0.0.3\n' + text,
                          environ={'RELAY_LISTEN_ADDRESS': '127.0.0.2'})
    cfg.set_override('relay', 'listen-address', '127.0.0.1', '--listen-address')
    relay = proxykit.Relay.from_config(cfg)
    assert relay.rules == ['a'] and relay.local_port('a') == 0
    with relay.start():
        assert relay.status()['rules'][0]['listen'] == f'127.0.0.1:{in_port}'
        with socket.create_connection(('127.0.0.1', in_port), timeout=10) as c:
            c.sendall(b'from config')
            assert c.recv(100) == b'from config'
            more = proxykit.Config(data=text + f'[relay:b]\nlisten = 127.0.0.1:{b_port}\ntarget = {host}:{port}\n',
                                   environ={})
            more.set_override('relay', 'listen-address', '127.0.0.1', '--listen-address')
            assert relay.reload(more) == ['a', 'b']
            assert relay.local_port('b') == b_port
            c.sendall(b'after reload')      # "a" kept its connection
            assert c.recv(100) == b'after reload'
        with pytest.raises(proxykit.ConfigError) as info:
            relay.reload(proxykit.Config(data='[relay:a]\nlisten = 1\n', environ={}))
        assert 'target' in info.value.message
        assert relay.rules == ['a', 'b'] and relay.local_port('a') == in_port
    with pytest.raises(proxykit.ConfigError) as info:
        proxykit.Relay.from_config(proxykit.Config(data=text + 'metrics-listen = 9112\n', environ={}))
    assert '[relay:a] metrics-listen' in info.value.message
