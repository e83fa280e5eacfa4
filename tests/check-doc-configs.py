#!/usr/bin/python3
"""Every configuration example in the docs must parse as written: each
proxykit.conf example (a code block with [section] lines) and each env
file example (NAME=value lines) in README.md, docs/ and docs/man/ goes
through the --check of the tools that read its sections.

Files the examples name under /etc/proxykit (users files) are created in a
scratch directory with a placeholder line, so that --check can open them.
Nothing listens and nothing is sent: --check exits before either.

Usage: check-doc-configs.py SRCDIR BUILDDIR"""
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

src = Path(sys.argv[1])
build = Path(sys.argv[2])

SECTION = re.compile(r'^\[([A-Za-z][A-Za-z0-9_-]*)(?::[^\]]*)?\]\s*(#.*)?$')
KEY = re.compile(r'^[A-Za-z][A-Za-z0-9_-]*\s*=')
ENV = re.compile(r'^(export\s+)?[A-Z_][A-Z0-9_]*=')

# Which tool checks which sections. A block whose sections none of them
# reads still has to parse: pk-socks --check loads the whole file.
TOOLS = {
    'socks': 'pk-socks', 'relay': 'pk-relay', 'dongle': 'pk-toggle', 'toggle': 'pk-toggle',
}


def blocks(text):
    """Fenced blocks, and (in man pages) blocks indented by four spaces."""
    for m in re.finditer(r'^```[^\n]*\n(.*?)^```', text, re.S | re.M):
        yield m.group(1)
    fenceless = re.sub(r'^```[^\n]*\n.*?^```', '', text, flags=re.S | re.M)
    current = []
    for line in fenceless.splitlines() + ['']:
        if line.startswith('    ') or (current and line.strip() == ''):
            current.append(line[4:])
        else:
            if current:
                yield '\n'.join(current) + '\n'
            current = []


def kind(block):
    lines = [l.strip() for l in block.splitlines() if l.strip() and not l.strip().startswith('#')]
    if not lines:
        return None
    if any(SECTION.match(l) for l in lines) and any(KEY.match(l) for l in lines):
        return 'conf'
    if all(ENV.match(l) for l in lines):
        return 'env'
    return None


def localize(block, scratch):
    """Points /etc/proxykit/... paths into the scratch directory."""
    def repl(m):
        path = scratch / m.group(1)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_text('alice:secret\n')
        return str(path)
    return re.sub(r'/etc/proxykit/([A-Za-z0-9_./-]+)', repl, block)


def run(tool, args, where):
    cmd = [str(build / 'cli' / tool), '--check'] + args
    # Not the host's /etc/proxykit/proxykit.conf: an empty one.
    empty = scratch / 'empty.conf'
    empty.touch()
    env = dict(os.environ, PROXYKIT_CONFIG=str(empty))
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    if p.returncode != 0:
        return f'{where}: {tool} --check failed ({p.returncode}):\n{p.stderr.strip()}'
    return None


docs = [src / 'README.md'] + sorted((src / 'docs').glob('*.md')) + sorted((src / 'docs' / 'man').glob('*.md'))
failures = []
checked = 0
with tempfile.TemporaryDirectory(prefix='pk-doc-configs-') as tmp:
    scratch = Path(tmp)
    for doc in docs:
        for i, block in enumerate(blocks(doc.read_text())):
            k = kind(block)
            if k is None:
                continue
            where = f'{doc.relative_to(src)} (example {i + 1})'
            path = scratch / f'example-{checked}'
            path.write_text(localize(block, scratch))
            checked += 1
            if k == 'env':
                failures.append(run('pk-relay', ['--env-file', str(path)], where))
                continue
            sections = {SECTION.match(l.strip()).group(1) for l in block.splitlines()
                        if SECTION.match(l.strip())}
            tools = sorted({TOOLS[s] for s in sections if s in TOOLS}) or ['pk-socks']
            for tool in tools:
                failures.append(run(tool, ['--config', str(path)], where))

failures = [f for f in failures if f]
for f in failures:
    print(f)
if checked == 0:
    sys.exit('no configuration examples found: the extraction is broken')
print(f'{checked} examples checked, {len(failures)} failed')
sys.exit(1 if failures else 0)
