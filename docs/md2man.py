#!/usr/bin/python3
"""Converts one docs/man/pk-TOOL.md (Markdown) to a man page with go-md2man.

    md2man.py CONVERTER INPUT.md OUTPUT.N VERSION

The sources come in two shapes: a pandoc title block
("% PK-SOCKS(1) proxykit | User Commands" then "# NAME" sections), or a
first heading "# pk-relay(1)" then "## NAME" sections. Both become
go-md2man's form: a title block "% NAME SECTION DATE SOURCE MANUAL" and
"#" sections, so that every page gets the same .TH line.
"""
import re
import subprocess
import sys
import tempfile
import time

TITLE = re.compile(r'^(?:%|#)\s*([A-Za-z0-9_.-]+)\s*\((\d)\)')


def normalize(text, version):
    lines = text.splitlines()
    while lines and not lines[0].strip():
        lines.pop(0)
    m = TITLE.match(lines[0]) if lines else None
    if m is None:
        raise SystemExit('md2man: the first line must be "% NAME(N) ..." or "# NAME(N)"')
    name, section = m.group(1).upper(), m.group(2)
    shift = lines[0].startswith('#')
    body = []
    in_code = False
    for line in lines[1:]:
        if line.startswith('```'):
            in_code = not in_code
        elif not in_code and line.startswith('%'):
            continue                       # the rest of a pandoc title block
        elif not in_code and shift and line.startswith('##'):
            line = line[1:]
        body.append(line)
    date = time.strftime('%B %Y', time.gmtime())
    head = f'% {name} {section} "{date}" "proxykit {version}" "User Commands"'
    return head + '\n\n' + '\n'.join(body).lstrip('\n') + '\n'


def main(converter, source, output, version):
    with open(source, encoding='utf-8') as f:
        text = normalize(f.read(), version)
    with tempfile.NamedTemporaryFile('w', suffix='.md', encoding='utf-8') as tmp:
        tmp.write(text)
        tmp.flush()
        subprocess.run([converter, '-in', tmp.name, '-out', output], check=True)
    return 0


if __name__ == '__main__':
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    sys.exit(main(*sys.argv[1:]))
