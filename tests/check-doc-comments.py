#!/usr/bin/env python3
"""Checks two conventions of the doc comments, in the GIR.

* Every public symbol says since when it exists: the `Since:` line of its
  doc comment, on classes, interfaces, records, enumerations and flags,
  functions, methods, constructors, properties, signals, callbacks and
  constants. Virtual functions are described in their class struct and
  are left out.
* Links use gi-docgen's syntax only (`[class@SocksServer]`,
  `[method@Egress.connect_async]`, `[property@Tunnel:state]`), not
  gtk-doc's `#PkType` and `pk_function()`: outside code, those are not
  links in the reference. (`%NULL`, `%TRUE` and `%PK_ERROR_*` constants
  stay as they are; gi-docgen shows them as code.)

Exits 1 with one line per problem.

    check-doc-comments.py GIR
"""
import re
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


GTKDOC_LINK = re.compile(r'(?<![`\w])(#[A-Z]\w+(?:::?[a-z][\w-]*)?|\b[a-z]+_\w+\(\))')


def old_links(doc):
    """gtk-doc references outside code spans and code blocks."""
    text = re.sub(r'```.*?```', '', doc, flags=re.S)
    text = re.sub(r'`[^`]*`', '', text)
    return GTKDOC_LINK.findall(text)


def main(argv):
    namespace = ET.parse(argv[0]).getroot().find(CORE + 'namespace')
    missing = []
    count = 0
    for tag, name, el in symbols(namespace):
        count += 1
        if not el.get('version'):
            ident = el.get(C + 'identifier') or el.get(C + 'type') or ''
            missing.append(f'{tag} {namespace.get("name")}.{name} {ident}: no "Since:" in its doc comment')
    links = []
    for doc in namespace.iter(CORE + 'doc'):
        for ref in old_links(doc.text or ''):
            links.append(f'{doc.get("filename")}:{doc.get("line")}: {ref}: '
                         'a gtk-doc reference; use a gi-docgen link, or `code`')
    for line in missing + links:
        print(line)
    print(f'{count - len(missing)} of {count} symbols say since when they exist; '
          f'{len(links)} gtk-doc references')
    return 1 if missing or links else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
