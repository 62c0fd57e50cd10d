#!/usr/bin/env python3
"""A bulk transfer for intercept tests (plain sockets, no tcpmitm code).

  server HOST PORT        accept one connection, read to EOF, close; print the sha256 and byte count
  client HOST PORT MIB    connect, send MIB MiB of random bytes, shut down writing, wait for the
                          server's close; print the sha256 and byte count of what was sent
Each prints JSON lines: {"event": "listening"} / {"event": "result", "sha256": ..., "bytes": ...}.
"""
import hashlib, json, os, socket, sys

def say(**kw):
    print(json.dumps(kw), flush=True)

kind, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
family = socket.AF_INET6 if ':' in host else socket.AF_INET
if kind == 'server':
    s = socket.socket(family)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(1)
    say(event='listening')
    c, _ = s.accept()
    h, n = hashlib.sha256(), 0
    while True:
        b = c.recv(1 << 20)
        if not b:
            break
        h.update(b)
        n += len(b)
    c.close()
    say(event='result', sha256=h.hexdigest(), bytes=n)
else:
    mib = int(sys.argv[4])
    c = socket.create_connection((host, port))
    h = hashlib.sha256()
    for _ in range(mib):
        b = os.urandom(1 << 20)
        h.update(b)
        c.sendall(b)
    c.shutdown(socket.SHUT_WR)
    c.recv(1)
    c.close()
    say(event='result', sha256=h.hexdigest(), bytes=mib << 20)
