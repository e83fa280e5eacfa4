#!/usr/bin/python3
"""Checks that every default, unit, man page and doc names the one layout.

    check-paths.py SRCDIR BUILDDIR

The layout is what pk-paths.h says (/etc/proxykit, /var/lib/proxykit,
/run/proxykit, the same whatever the install prefix). Every absolute path
to a proxykit directory in the built units, the tools' --help, the man
pages, the guides and the README must lie under one of those three; the
units' StateDirectory= and RuntimeDirectory= must be those directories
(systemd takes them relative to /var/lib and /run). Exits 1 with one line
per disagreement."""
import glob
import os
import re
import subprocess
import sys

# An absolute path whose last directory before any file is "proxykit":
# /etc/proxykit/users, /var/lib/proxykit/metrics, /usr/local/etc/proxykit.
PATH = re.compile(r'(?<![\w./@-])(/(?:[\w.$@-]+/)*?proxykit)(?=[/\s`\'"),:;*]|$)')
TOOLS = ['pk-socks', 'pk-relay', 'pk-toggle', 'pk-watchdog', 'pk-metrics']


def layout(builddir):
    text = open(os.path.join(builddir, 'libproxykit', 'pk-paths.h')).read()
    found = dict(re.findall(r'#define (PK_\w+_DIR) "([^"]*)"', text))
    return found['PK_CONFIG_DIR'], found['PK_STATE_DIR'], found['PK_RUN_DIR']


def check_text(name, text, dirs, bad):
    for lineno, line in enumerate(text.splitlines(), 1):
        for m in PATH.finditer(line):
            if m.group(1) not in dirs:
                bad.append(f'{name}:{lineno}: {m.group(1)} is not one of {", ".join(dirs)}')


def main(srcdir, builddir):
    confdir, statedir, rundir = layout(builddir)
    dirs = (confdir, statedir, rundir)
    bad = []
    if dirs != ('/etc/proxykit', '/var/lib/proxykit', '/run/proxykit'):
        bad.append(f'pk-paths.h: {dirs}: not the distribution layout')

    units = sorted(glob.glob(os.path.join(builddir, 'data', '*.service')))
    if not units:
        bad.append('no built units in data/')
    for unit in units:
        text = open(unit).read()
        check_text(os.path.relpath(unit, builddir), text, dirs, bad)
        for var in re.findall(r'@\w+@', text):
            bad.append(f'{os.path.basename(unit)}: {var} was not substituted')
        for key, base in (('StateDirectory', '/var/lib'), ('RuntimeDirectory', '/run')):
            for value in re.findall(rf'^{key}=(.*)$', text, re.M):
                for d in value.split():
                    full = f'{base}/{d}'
                    if not any(full == x or full.startswith(x + '/') for x in dirs):
                        bad.append(f'{os.path.basename(unit)}: {key}={d} is {full}, outside the layout')
        if re.search(r'--config (?!' + re.escape(confdir) + r'/proxykit\.conf)', text):
            bad.append(f'{os.path.basename(unit)}: --config is not {confdir}/proxykit.conf')

    for tool in TOOLS:
        exe = os.path.join(builddir, 'cli', tool)
        out = subprocess.run([exe, '--help-all'], capture_output=True, text=True).stdout
        if not out:
            bad.append(f'{tool} --help-all printed nothing')
        check_text(f'{tool} --help-all', out, dirs, bad)

    docs = [os.path.join(srcdir, 'README.md')]
    for pattern in ('docs/*.md', 'docs/*/*.md', 'data/proxykit.conf', 'data/prometheus/**'):
        docs += [p for p in glob.glob(os.path.join(srcdir, pattern), recursive=True) if os.path.isfile(p)]
    for path in sorted(docs):
        check_text(os.path.relpath(path, srcdir), open(path, encoding='utf-8').read(), dirs, bad)

    # The defaults the man pages state are the ones the tools print.
    expect = {
        'pk-metrics': f'{statedir}/metrics',
        'pk-relay': f'{rundir}/pk-relay.json',
        'pk-toggle': rundir,
        'pk-watchdog': statedir,
    }
    for tool, default in expect.items():
        page = open(os.path.join(srcdir, 'docs', 'man', tool + '.md'), encoding='utf-8').read()
        helptext = subprocess.run([os.path.join(builddir, 'cli', tool), '--help-all'],
                                  capture_output=True, text=True).stdout
        if default not in page:
            bad.append(f'docs/man/{tool}.md does not name its default {default}')
        if default not in helptext:
            bad.append(f'{tool} --help-all does not name its default {default}')

    for line in bad:
        print(line)
    print(f'{len(bad)} disagreement(s) over {len(units)} units, {len(TOOLS)} tools, {len(docs)} documents')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1], sys.argv[2]))
