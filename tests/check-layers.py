#!/usr/bin/env python3
"""Checks that the library's includes point downward only.

Each folder under libproxykit/ is an area at a layer:

    core (0) <- io (1) <- egress (2) <- services (3) <- node, toggle (4)

A file may include headers of its own area and of areas at lower layers;
services (socks, relay, modem, metrics, dongle) may not include one another,
except where ALLOWED says so, and NOT_INCLUDE keeps cut cycles inside an
area cut. The umbrella header at the top includes
everything and is exempt. Exits 1 with one line per violation.

    check-layers.py SRCDIR
"""
import os
import re
import sys

LAYER = {
    'core': 0,
    'io': 1,
    'egress': 2,
    'socks': 3, 'relay': 3, 'modem': 3, 'metrics': 3, 'dongle': 3,
    'node': 4, 'toggle': 4,
}
# Sideways includes between areas of the same layer that the design means:
# a node (its supervisor, the watchdog's dongle recovery) may drive the
# toggle ladder; the toggle never reaches back into node.
ALLOWED = {
    ('node', 'toggle'),
}
# Inside an area: cycles that were cut and must stay cut. The DNS codec
# knows nothing of the egress that uses it; a SOCKS session knows its
# server only through PkSocksSessionHost (pk-socks-session-private.h); a
# relay rule's listener knows nothing of what serves it (TCP, UDP, health),
# and those know neither one another nor PkRelay, which puts them together.
_RELAY_PARTS = {'pk-relay.h', 'pk-relay-private.h', 'pk-relay-tcp-private.h',
                'pk-relay-udp-private.h', 'pk-relay-health-private.h'}
NOT_INCLUDE = {
    'pk-relay-listener.c': _RELAY_PARTS,
    'pk-relay-listener-private.h': _RELAY_PARTS,
    'pk-relay-tcp.c': _RELAY_PARTS - {'pk-relay-tcp-private.h'},
    'pk-relay-tcp-private.h': _RELAY_PARTS - {'pk-relay-tcp-private.h'},
    'pk-relay-udp.c': _RELAY_PARTS - {'pk-relay-udp-private.h'},
    'pk-relay-udp-private.h': _RELAY_PARTS - {'pk-relay-udp-private.h'},
    'pk-relay-health.c': _RELAY_PARTS - {'pk-relay-health-private.h'},
    'pk-relay-health-private.h': _RELAY_PARTS - {'pk-relay-health-private.h'},
    'pk-dns.c': {'pk-egress.h', 'pk-egress-private.h'},
    'pk-dns-private.h': {'pk-egress.h', 'pk-egress-private.h'},
    'pk-socks-session.c': {'pk-socks-server.h', 'pk-socks-server-private.h'},
    'pk-socks-session-private.h': {'pk-socks-server.h', 'pk-socks-server-private.h'},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+[<"](?:proxykit/)?(pk-[\w-]+\.h)[>"]', re.M)


def main():
    root = os.path.join(sys.argv[1], 'libproxykit')
    where = {}
    files = []
    for area in sorted(os.listdir(root)):
        folder = os.path.join(root, area)
        if not os.path.isdir(folder) or os.path.islink(folder):
            continue
        if area not in LAYER:
            print(f'libproxykit/{area}/: a folder that has no layer in tests/check-layers.py')
            return 1
        for name in sorted(os.listdir(folder)):
            if name.endswith(('.c', '.h')):
                where[name] = area
                files.append((area, name))
    # Generated headers live at the top (pk-version.h, pk-paths.h, pk-enum-types.h, pk-features.h).
    generated = {'pk-version.h', 'pk-paths.h', 'pk-enum-types.h', 'pk-features.h'}
    bad = 0
    for area, name in files:
        with open(os.path.join(root, area, name), encoding='utf-8') as f:
            text = f.read()
        for m in INCLUDE.finditer(text):
            header = m.group(1)
            if header in generated:
                continue
            target = where.get(header)
            if target is None:
                print(f'libproxykit/{area}/{name}: includes {header}, which no area holds')
                bad += 1
                continue
            if header in NOT_INCLUDE.get(name, ()):
                print(f'libproxykit/{area}/{name}: includes {header}, a cycle cut on purpose')
                bad += 1
                continue
            if target == area or (area, target) in ALLOWED:
                continue
            if LAYER[target] < LAYER[area]:
                continue
            print(f'libproxykit/{area}/{name}: includes {target}/{header}, '
                  f'an area at layer {LAYER[target]} from layer {LAYER[area]}')
            bad += 1
    if bad:
        print(f'{bad} include(s) point upward or sideways')
        return 1
    print(f'{len(files)} files: every include points downward')
    return 0


if __name__ == '__main__':
    sys.exit(main())
