#!/usr/bin/env python3
"""Checks that the umbrella header includes only headers this build installs.

<proxykit/proxykit.h> includes the headers of optional parts under
`#if PK_HAVE_...`; with the values of this build's pk-features.h, every
header it includes must be one that is installed (a public header, or a
generated one), and every installed public header must be included.

    check-umbrella.py PK_FEATURES_H PROXYKIT_H HEADER...
"""
import os
import re
import sys

GENERATED = {'pk-version.h', 'pk-enum-types.h', 'pk-features.h', 'pk-paths.h'}


def main():
    features_h, umbrella, headers = sys.argv[1], sys.argv[2], sys.argv[3:]
    features = {}
    with open(features_h, encoding='utf-8') as f:
        for m in re.finditer(r'^#define (PK_HAVE_\w+) (\d+)', f.read(), re.M):
            features[m.group(1)] = int(m.group(2))
    installed = {os.path.basename(h) for h in headers} | GENERATED
    included = set()
    active = [True]
    with open(umbrella, encoding='utf-8') as f:
        for line in f:
            m = re.match(r'\s*#\s*if\s+(PK_HAVE_\w+)\s*$', line)
            if m:
                if m.group(1) not in features:
                    print(f'proxykit.h: {m.group(1)} is not defined in pk-features.h')
                    return 1
                active.append(active[-1] and features[m.group(1)] != 0)
                continue
            if re.match(r'\s*#\s*endif', line):
                active.pop()
                continue
            m = re.match(r'\s*#\s*include\s+"(pk-[\w-]+\.h)"', line)
            if m and active[-1]:
                included.add(m.group(1))
    bad = 0
    for h in sorted(included - installed):
        print(f'proxykit.h includes {h}, which this build does not install')
        bad += 1
    for h in sorted(installed - included - {'proxykit.h'}):
        print(f'{h} is installed but proxykit.h does not include it')
        bad += 1
    if bad:
        return 1
    print(f'proxykit.h includes the {len(included)} headers this build installs '
          f'({", ".join(f"{k}={v}" for k, v in sorted(features.items()))})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
