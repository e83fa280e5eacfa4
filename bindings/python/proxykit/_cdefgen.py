#!/usr/bin/python3
"""Generates the cffi declarations of libproxykit from its public headers.

The headers follow one style (CONVENTIONS.md), and this reads that style:

* ``G_DECLARE_FINAL_TYPE (PkFoo, ...)``, ``G_DECLARE_DERIVABLE_TYPE``,
  ``G_DECLARE_INTERFACE`` and ``typedef struct _PkFoo PkFoo;`` give opaque
  types (``typedef ... PkFoo;``);
* ``typedef enum { ... } PkFoo;`` gives the enum's names, with ``...`` so
  that the compiler fills in the values (API mode);
* ``typedef struct { fields } PkFoo;`` gives the fields and ``...;``;
* ``typedef RET (*PkFooFunc) (...);`` is kept as it is;
* ``#define NAME 123`` and ``#define NAME "text"`` give constants;
* every other statement that declares a function is kept, without
  ``PK_AVAILABLE_IN_*`` and ``G_GNUC_*`` decorations.

Class and interface structs (``struct _PkFooInterface { ... };``), other
macros and anything the bindings cannot call are left out. A type the
declarations use but that neither the prelude (``_prelude.h``) nor the
headers define is declared opaque. With ``library``, functions that the
shared library does not export (a header of a feature the library was
built without) are left out too, so that the extension still loads.

    _cdefgen.py [--library LIB] [--output FILE] HEADER...

HEADER is ``proxykit.h`` (its ``#include "..."`` lines are followed, in
that order, in the directories of the given headers) or a list of headers.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from typing import Dict, Iterable, List, Optional, Set

HERE = os.path.dirname(os.path.abspath(__file__))

# Headers that declare nothing the bindings can use: symbol decorations, and
# GType getters of the enums (the bindings use the enum values).
SKIP_HEADERS = {'pk-version-macros.h', 'pk-enum-types.h'}

_DECLARE = re.compile(r'\bG_DECLARE_(?:FINAL|DERIVABLE)_TYPE\s*\(\s*(\w+)\s*,[^)]*\)'
                      r'|\bG_DECLARE_INTERFACE\s*\(\s*(\w+)\s*,[^)]*\)')
_DROP_MACROS = re.compile(r'\bG_DEFINE_\w+\s*\([^)]*\)\s*;?'
                          r'|\bPK_DEPRECATED_FOR\s*\([^)]*\)'
                          r'|\bG_GNUC_\w+\s*\([^)]*\)'
                          r'|\b(?:PK_AVAILABLE_IN_\w+|PK_DEPRECATED\w*|G_GNUC_\w+|G_BEGIN_DECLS'
                          r'|G_END_DECLS|_PK_EXTERN)\b')
_INT_VALUE = re.compile(r'^\(?\s*(-?(?:0[xX][0-9a-fA-F]+|\d+)[uUlL]*)\s*\)?$')
_STR_VALUE = re.compile(r'^"(?:[^"\\]|\\.)*"$')
_TYPE_WORD = re.compile(r'\b([A-Z]\w*[a-z]\w*)\b')


def _strip_comments(text: str) -> str:
    text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
    return re.sub(r'//[^\n]*', '', text)


class Cdef:
    """The declarations read from a set of headers."""

    def __init__(self):
        self.opaque: List[str] = []          # type names, in order
        self.parts: List[str] = []           # enums, structs, callbacks, functions, constants
        self.functions: Dict[str, str] = {}  # name -> declaration
        self.defined: Set[str] = set()       # every type name defined here

    def _opaque(self, name: str) -> None:
        if name not in self.defined:
            self.defined.add(name)
            self.opaque.append(name)

    def add_header(self, path: str) -> None:
        with open(path, encoding='utf-8') as f:
            text = f.read()
        text = _strip_comments(text).replace('\\\n', ' ')
        lines = []
        for line in text.splitlines():
            s = line.strip()
            if s.startswith('#'):
                m = re.match(r'#\s*define\s+([A-Z_][A-Z0-9_]*)\s+(.+)$', s)
                if m and not m.group(1).startswith('_'):
                    self._define(m.group(1), m.group(2).strip())
                continue
            lines.append(line)
        text = '\n'.join(lines)
        for m in _DECLARE.finditer(text):
            self._opaque(m.group(1) or m.group(2))
        text = _DECLARE.sub(' ', text)
        text = _DROP_MACROS.sub(' ', text)
        text = _strip_inline_definitions(text)
        for stmt in _statements(text):
            self._statement(stmt, path)

    def _define(self, name: str, value: str) -> None:
        if _INT_VALUE.match(value):
            self.parts.append(f'#define {name} ...')
        elif _STR_VALUE.match(value):
            self.parts.append(f'static const char *const {name};')

    def _statement(self, stmt: str, path: str) -> None:
        s = ' '.join(stmt.split())
        if not s:
            return
        m = re.match(r'typedef enum\s*\w*\s*\{(.*)\}\s*(\w+)$', s)
        if m:
            names = [e.split('=')[0].strip() for e in m.group(1).split(',') if e.strip()]
            body = ''.join(f'  {n},\n' for n in names)
            self.parts.append(f'typedef enum {{\n{body}  ...\n}} {m.group(2)};')
            self.defined.add(m.group(2))
            return
        m = re.match(r'typedef struct\s*\w*\s*\{(.*)\}\s*(\w+)$', s)
        if m:
            fields = ''.join(f'  {f.strip()};\n' for f in m.group(1).split(';') if f.strip())
            self.parts.append(f'typedef struct {{\n{fields}  ...;\n}} {m.group(2)};')
            self.defined.add(m.group(2))
            return
        m = re.match(r'typedef (?:struct|union) (\w+) (\w+)$', s)
        if m:
            self._opaque(m.group(2))
            return
        m = re.match(r'typedef .*\(\s*\*\s*(\w+)\s*\)\s*\(.*\)$', s)
        if m:
            self.parts.append(s + ';')
            self.defined.add(m.group(1))
            return
        if re.match(r'(?:struct|union|enum) \w+\s*\{', s):
            return          # class and interface structs: not for the bindings
        m = re.match(r'^[\w\s\*]*?\b(\w+)\s*\((.*)\)$', s)
        if m and not s.startswith('typedef'):
            self.functions[m.group(1)] = s + ';'
            self.parts.append(s + ';')
            return
        raise ValueError(f'{path}: cannot read this declaration for the Python bindings: {s}')

    def render(self, prelude: str, exported: Optional[Set[str]] = None) -> str:
        known = set(_prelude_types(prelude)) | self.defined
        parts = []
        for part in self.parts:
            m = re.match(r'^[\w\s\*]*?\b(\w+)\s*\(', part)
            if (exported is not None and m and m.group(1) in self.functions
                    and m.group(1) not in exported):
                continue
            parts.append(part)
        used = []
        for part in parts:
            if part.startswith(('typedef enum', '#define', 'static const')):
                continue
            for word in _TYPE_WORD.findall(part):
                if word not in known and word not in used:
                    used.append(word)
        out = ['', '/* --- libproxykit, generated from its public headers (_cdefgen.py) --- */']
        out += [f'typedef ... {name};' for name in used + self.opaque]
        out += parts
        return prelude.rstrip('\n') + '\n' + '\n'.join(out) + '\n'


def _strip_inline_definitions(text: str) -> str:
    """Removes ``static inline`` functions with their bodies: nothing the
    library exports, and cffi declares no bodies."""
    out = []
    pos = 0
    for m in re.finditer(r'\bstatic\s+(?:inline|G_INLINE_FUNC)\b', text):
        if m.start() < pos:
            continue
        brace = text.find('{', m.end())
        semi = text.find(';', m.end())
        if brace < 0 or (0 <= semi < brace):
            continue        # a declaration without a body
        depth = 0
        for i in range(brace, len(text)):
            depth += {'{': 1, '}': -1}.get(text[i], 0)
            if depth == 0:
                out.append(text[pos:m.start()])
                pos = i + 1
                break
    out.append(text[pos:])
    return ''.join(out)


def _statements(text: str) -> Iterable[str]:
    """Top-level statements (split at ';' outside braces and parentheses)."""
    depth = 0
    start = 0
    for i, c in enumerate(text):
        if c in '{(':
            depth += 1
        elif c in '})':
            depth -= 1
        elif c == ';' and depth == 0:
            yield text[start:i]
            start = i + 1
    if text[start:].strip():
        yield text[start:]


def _prelude_types(prelude: str) -> List[str]:
    text = _strip_comments(prelude)
    names = re.findall(r'typedef[^;{]*?(\w+)\s*;', text)
    names += re.findall(r'\}\s*(\w+)\s*;', text)
    names += re.findall(r'typedef[^;]*\(\s*\*\s*(\w+)\s*\)', text)
    return names


def header_list(paths: List[str], search_dirs: Iterable[str] = ()) -> List[str]:
    """The headers to read: the includes of an umbrella proxykit.h (found
    among ``paths``, or in their directories and ``search_dirs``), or
    ``paths`` themselves."""
    umbrella = [p for p in paths if os.path.basename(p) == 'proxykit.h']
    if not umbrella:
        return [p for p in paths if os.path.basename(p) not in SKIP_HEADERS]
    by_name = {os.path.basename(p): p for p in paths}
    dirs = []
    for d in [os.path.dirname(os.path.abspath(p)) for p in paths] + list(search_dirs):
        if d not in dirs:
            dirs.append(d)
    with open(umbrella[0], encoding='utf-8') as f:
        includes = re.findall(r'^\s*#\s*include\s+"([^"]+)"', f.read(), flags=re.M)
    out = []
    for name in includes:
        if name in SKIP_HEADERS:
            continue
        path = by_name.get(name) or next(
            (os.path.join(d, name) for d in dirs if os.path.exists(os.path.join(d, name))), None)
        if path is not None:
            out.append(path)    # a header not installed is a feature not built
    return out


def exported_symbols(library: str) -> Optional[Set[str]]:
    """The functions a shared library exports (nm -D), or None without nm."""
    nm = shutil.which('nm')
    if nm is None:
        return None
    proc = subprocess.run([nm, '-D', '--defined-only', library], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f'nm -D {library}: {proc.stderr.strip()}')
    return {line.split()[-1] for line in proc.stdout.splitlines() if line.split()}


def prelude() -> str:
    with open(os.path.join(HERE, '_prelude.h'), encoding='utf-8') as f:
        return f.read()


def generate(headers: List[str], library: Optional[str] = None,
             search_dirs: Iterable[str] = ()) -> str:
    cdef = Cdef()
    for path in header_list(headers, search_dirs):
        cdef.add_header(path)
    exported = exported_symbols(library) if library else None
    return cdef.render(prelude(), exported)


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--library', help='the shared library: keep only what it exports')
    parser.add_argument('--output', help='write here instead of stdout')
    parser.add_argument('headers', nargs='+')
    args = parser.parse_args(argv)
    text = generate(args.headers, args.library)
    if args.output:
        with open(args.output, 'w', encoding='utf-8') as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
