#!/usr/bin/python3
"""Rotate every dongle's mobile IP every N minutes.

Dongles come from the proxykit config file, one [dongle:N] section each:

    [dongle:11]
    url = http://192.168.11.1          # default http://192.168.N.1
    egress-address = 192.168.11.100    # default 192.168.N.100 (the host's address on it)
    username = admin                   # for dongles with a login
    password = secret

or from --dongle URL[@EGRESS_ADDRESS] options. All dongles rotate at once
(one thread each), and each rotation prints one JSON line:

    {"dongle": "11", "ok": true, "old_ip": "...", "new_ip": "...", "method": "data", "seconds": 6.1}

Examples:

    rotate-dongles.py --config /etc/proxykit/proxykit.conf --every 10
    rotate-dongles.py --dongle http://192.168.11.1@192.168.11.100 --rounds 1

Exit status: 0 when every rotation of the last round worked, 1 otherwise.
"""
import argparse
import concurrent.futures
import json
import sys
import time

import proxykit


def dongles_from_config(path):
    cfg = proxykit.Config(path)
    out = []
    for n in cfg.sections('dongle'):
        section = f'dongle:{n}'
        cfg.check_keys(section, ['url', 'egress-address', 'username', 'password'])
        out.append({
            'name': n,
            'url': cfg.get_string(section, 'url', default=f'http://192.168.{n}.1'),
            'egress_address': cfg.get_string(section, 'egress-address', default=f'192.168.{n}.100'),
            'username': cfg.get_string(section, 'username'),
            'password': cfg.get_string(section, 'password'),
        })
    return out


def dongles_from_args(specs):
    out = []
    for i, spec in enumerate(specs, 1):
        url, _, egress = spec.partition('@')
        out.append({'name': str(i), 'url': url, 'egress_address': egress or None,
                    'username': None, 'password': None})
    return out


def rotate_one(dongle, args):
    modem = proxykit.HilinkModem(dongle['url'], egress_address=dongle['egress_address'],
                                 username=dongle['username'], password=dongle['password'],
                                 request_timeout=args.request_timeout)
    line = {'dongle': dongle['name']}
    try:
        result = modem.rotate(method=args.method, escalate=args.escalate,
                              settle=args.settle, poll_interval=args.poll)
        line.update(ok=True, old_ip=result['old_ip'], new_ip=result['new_ip'],
                    method=result['method'], seconds=result['seconds'])
    except proxykit.Error as e:
        line.update(ok=False, error=type(e).__name__, message=e.message)
        if e.huawei_code:
            line['huawei_code'] = e.huawei_code
    return line


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split('\n', 2)[2])
    parser.add_argument('--config', help='proxykit config file with [dongle:N] sections')
    parser.add_argument('--dongle', action='append', default=[], metavar='URL[@EGRESS]',
                        help='a dongle (repeatable)')
    parser.add_argument('--every', type=float, default=10.0, metavar='MINUTES',
                        help='minutes between rounds (default 10)')
    parser.add_argument('--rounds', type=int, default=0, help='stop after this many rounds (0: never)')
    parser.add_argument('--method', default='data', choices=['data', 'netmode', 'reboot'])
    parser.add_argument('--escalate', default=None,
                        help='methods to try when the IP stays (default data,netmode,reboot; "none")')
    parser.add_argument('--request-timeout', type=float, default=None, metavar='SECONDS',
                        help='how long one API request may take, retries of a busy dongle '
                             'included (default: the library\'s, 10 s)')
    parser.add_argument('--settle', type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument('--poll', type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    dongles = (dongles_from_config(args.config) if args.config else []) + dongles_from_args(args.dongle)
    if not dongles:
        parser.error('no dongles: give --config with [dongle:N] sections or --dongle')

    rounds = 0
    all_ok = False
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(dongles)) as pool:
        while True:
            started = time.monotonic()
            lines = list(pool.map(lambda d: rotate_one(d, args), dongles))
            for line in lines:
                print(json.dumps(line), flush=True)
            all_ok = all(line['ok'] for line in lines)
            rounds += 1
            if args.rounds and rounds >= args.rounds:
                break
            time.sleep(max(0.0, args.every * 60 - (time.monotonic() - started)))
    return 0 if all_ok else 1


if __name__ == '__main__':
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
