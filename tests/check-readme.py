#!/usr/bin/python3
"""The README's test command and .ci/run must not drift apart: CI has to
run exactly what the README tells a person to run."""
import re
import sys
from pathlib import Path

src = Path(sys.argv[1])
readme = (src / 'README.md').read_text()
ci = (src / '.ci' / 'run').read_text()

blocks = re.findall(r'```(?:sh|bash)?\n(.*?)```', readme, re.S)
ci_cmd = [l for l in ci.splitlines() if l.startswith('apt-get')]
if len(ci_cmd) != 1:
    sys.exit('.ci/run must hold exactly one apt-get ... command line')
if not any(ci_cmd[0] in b for b in blocks):
    sys.exit(f'README.md has no code block with the CI command:\n{ci_cmd[0]}')
print('README and .ci/run agree')
