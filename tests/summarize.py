#!/usr/bin/python3
"""Prints one closing line, 'N passed, N failed, N skipped', over meson test logs.

Counts individual test cases: TAP lines for GTest programs, pytest's own
summary for the Python suite, and one case for any other test. A program
that crashed or timed out counts every case of its TAP plan (``1..N``) that
it did not report as failed, and at least one failure, so that a crash is
never hidden behind passing cases nor shrinks the count."""
import json
import re
import sys

TAP = re.compile(r'^(not ok|ok)\b(.*)$', re.M)
PLAN = re.compile(r'^1\.\.(\d+)\b', re.M)
# '=== 5 passed, 1 skipped in 2.3s ===' or, with -q, '5 passed in 2.3s'
PYTEST = re.compile(r'^=*\s*(\d+ \w+(?:, \d+ \w+)*) in [\d.]+s\b', re.M)


def count(entry):
    out = entry.get('stdout') or ''
    result = entry['result']
    passed = failed = skipped = 0
    tap = TAP.findall(out)
    py = PYTEST.findall(out)
    if py:
        for n, what in re.findall(r'(\d+) (\w+)', py[-1]):
            n = int(n)
            if what == 'passed':
                passed += n
            elif what in ('failed', 'error', 'errors'):
                failed += n
            elif what in ('skipped', 'xfailed', 'deselected'):
                skipped += n
            elif what == 'xpassed':
                failed += n
    elif tap or PLAN.search(out):
        for status, rest in tap:
            if '# SKIP' in rest or '# skip' in rest:
                skipped += 1
            elif status == 'ok':
                passed += 1
            else:
                failed += 1
    elif result == 'SKIP':
        skipped += 1
    elif result in ('OK', 'EXPECTEDFAIL'):
        passed += 1
    else:
        failed += 1
    if result not in ('OK', 'SKIP', 'EXPECTEDFAIL'):
        plan = PLAN.search(out)
        if plan and not py:
            failed += max(0, int(plan.group(1)) - len(tap))
        if failed == 0:
            failed += 1
    return passed, failed, skipped


def main(paths):
    total = [0, 0, 0]
    for path in paths:
        try:
            lines = open(path).read().splitlines()
        except FileNotFoundError:
            print(f'{path}: no test log (the build or test run did not start)')
            total[1] += 1
            continue
        for line in lines:
            entry = json.loads(line)
            p, f, s = count(entry)
            total[0] += p
            total[1] += f
            total[2] += s
            if f:
                print(f'FAILED: {entry["name"]} ({entry["result"]}, {f} failed)')
    print(f'{total[0]} passed, {total[1]} failed, {total[2]} skipped')
    return 1 if total[1] else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
