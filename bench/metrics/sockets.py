#!/usr/bin/python3
"""Holds N loopback TCP sockets open (N/2 connections, both ends) until
stdin closes. Prints "ready" when they are all established."""
import resource
import socket
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = n + 100
if soft < want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(want, soft), max(want, hard)))

listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(1024)
addr = listener.getsockname()
held = []
for _ in range(n // 2):
    c = socket.create_connection(addr)
    a, _ = listener.accept()
    held += [c, a]
print("ready", len(held), flush=True)
sys.stdin.read()
