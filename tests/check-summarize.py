#!/usr/bin/python3
"""tests/summarize.py counts the cases a crashed or timed-out GTest program
did not run (its TAP plan says how many) as failed, not dropped."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from summarize import count  # noqa: E402

# crashed after 2 of 30 cases: 2 passed, 28 failed
assert count({'result': 'FAIL', 'stdout': '1..30\nok 1 /a\nok 2 /b\n'}) == (2, 28, 0)
# timed out after a failure, 3 cases never ran
assert count({'result': 'TIMEOUT', 'stdout': '1..5\nok 1 /a\nnot ok 2 /b\n'}) == (1, 4, 0)
# crashed before any case: the whole plan fails
assert count({'result': 'FAIL', 'stdout': '1..3\n'}) == (0, 3, 0)
# crashed with every case reported: still one failure
assert count({'result': 'FAIL', 'stdout': '1..1\nok 1 /a\n'}) == (1, 1, 0)
# a clean run with a skip
assert count({'result': 'OK', 'stdout': '1..2\nok 1 /a\nok 2 /b # SKIP why\n'}) == (1, 0, 1)
# pytest's summary wins over TAP-looking lines
assert count({'result': 'FAIL', 'stdout': '1..9\n==== 3 passed, 1 failed in 1.0s ====\n'}) == (3, 1, 0)
print('ok')
