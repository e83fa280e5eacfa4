#!/usr/bin/env python3
"""Checks that every public symbol in the GIR says since when it exists.

The version comes from the `Since:` line of the symbol's doc comment:
classes, interfaces, records, enumerations and flags, functions, methods,
constructors, properties, signals, callbacks and constants. Virtual
functions are described in their class struct and are left out. Exits 1
with one line per symbol that has no `Since:`.

    check-since.py GIR
"""
import sys
import xml.etree.ElementTree as ET

CORE = '{http://www.gtk.org/introspection/core/1.0}'
C = '{http://www.gtk.org/introspection/c/1.0}'
GLIB = '{http://www.gtk.org/introspection/glib/1.0}'
TOP = {'class', 'interface', 'record', 'enumeration', 'bitfield', 'function',
       'callback', 'constant'}
MEMBERS = {'method', 'constructor', 'function', 'property', GLIB + 'signal'}


def symbols(namespace):
    for top in namespace:
        tag = top.tag.replace(CORE, '')
        if tag not in TOP or top.get(GLIB + 'is-gtype-struct-for'):
            continue
        yield tag, top.get('name'), top
        for member in top:
            mtag = member.tag.replace(CORE, '')
            if mtag in MEMBERS:
                yield mtag.replace(GLIB, 'signal '), f"{top.get('name')}.{member.get('name')}", member


def main(argv):
    namespace = ET.parse(argv[0]).getroot().find(CORE + 'namespace')
    missing = []
    count = 0
    for tag, name, el in symbols(namespace):
        count += 1
        if not el.get('version'):
            ident = el.get(C + 'identifier') or el.get(C + 'type') or ''
            missing.append(f'{tag} {namespace.get("name")}.{name} {ident}: no "Since:" in its doc comment')
    for line in missing:
        print(line)
    print(f'{count - len(missing)} of {count} symbols say since when they exist')
    return 1 if missing else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
