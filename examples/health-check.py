#!/usr/bin/python3
"""Health check of a proxy node with PkProbe: every SOCKS listener must
carry a CONNECT to a target, and optional extra checks must pass.

Listeners come from --socks HOST:PORT options or the [socks:N] sections of
the proxykit config file (their `listen` key). Each check prints one line,
or one JSON object with --json; the exit status is 0 when all passed, 1
when any failed (so it fits cron, systemd's ExecCondition and Nagios).

Examples:

    health-check.py --socks 127.0.0.1:10011 --target 10.0.0.1:443
    health-check.py --config /etc/proxykit/proxykit.conf --target 1.1.1.1:443 \\
        --tcp 192.168.11.1:80@192.168.11.100 --interface ppp0 --json
"""
import argparse
import json
import sys

import proxykit


def host_port(text, default_port=None):
    host, sep, port = text.rpartition(':')
    if not sep:
        if default_port is None:
            raise argparse.ArgumentTypeError(f'{text!r}: expected HOST:PORT')
        return text, default_port
    return host.strip('[]'), int(port)


def socks_from_config(path):
    cfg = proxykit.Config(path)
    out = []
    for n in cfg.sections('socks'):
        listen = cfg.get_string(f'socks:{n}', 'listen')
        if listen:
            host, port = host_port(listen, 1080)
            out.append((f'socks:{n}', '127.0.0.1' if host in ('0.0.0.0', '::', '') else host, port))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split('\n', 2)[2])
    parser.add_argument('--config', help='proxykit config file ([socks:N] sections)')
    parser.add_argument('--socks', action='append', default=[], metavar='HOST:PORT')
    parser.add_argument('--target', default='1.1.1.1:443', metavar='HOST:PORT',
                        help='destination the SOCKS checks CONNECT to (default 1.1.1.1:443)')
    parser.add_argument('--tcp', action='append', default=[], metavar='HOST:PORT[@EGRESS]',
                        help='a TCP connect check, optionally from an egress address')
    parser.add_argument('--http', action='append', default=[], metavar='URL', help='an HTTP GET check')
    parser.add_argument('--interface', action='append', default=[], help='an interface that must be up')
    parser.add_argument('--timeout', type=float, default=10.0, help='seconds per check (default 10)')
    parser.add_argument('--tries', type=int, default=1, help='tries per check (default 1)')
    parser.add_argument('--json', action='store_true', help='one JSON object per line')
    args = parser.parse_args()

    target_host, target_port = host_port(args.target)
    checks = []
    listeners = (socks_from_config(args.config) if args.config else []) + \
        [(f'socks {s}', *host_port(s)) for s in args.socks]
    for name, host, port in listeners:
        checks.append((name, proxykit.Probe.socks(host, port, target_host, target_port)))
    for spec in args.tcp:
        addr, _, egress = spec.partition('@')
        host, port = host_port(addr)
        eg = proxykit.Egress(address=egress) if egress else None
        checks.append((f'tcp {spec}', proxykit.Probe.tcp_connect(host, port, egress=eg)))
    for url in args.http:
        checks.append((f'http {url}', proxykit.Probe.http(url)))
    for ifname in args.interface:
        checks.append((f'interface {ifname}', proxykit.Probe.interface(ifname)))
    if not checks:
        parser.error('nothing to check: give --socks, --config, --tcp, --http or --interface')

    failed = 0
    for name, probe in checks:
        if args.tries > 1:
            result = probe.run_with_retries(tries=args.tries, delay=1.0, timeout=args.timeout)
        else:
            result = probe.run(timeout=args.timeout)
        failed += not result.ok
        if args.json:
            print(json.dumps({'check': name, 'ok': result.ok, 'latency_ms':
                              round(result.latency * 1000, 1) if result.latency else None,
                              'reason': result.reason}), flush=True)
        elif result.ok:
            latency = f' {result.latency * 1000:.1f} ms' if result.latency else ''
            print(f'OK    {name}{latency}', flush=True)
        else:
            print(f'FAIL  {name}: {result.reason}', flush=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
