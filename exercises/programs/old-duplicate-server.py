# Exercise 16 (old-duplicate), the server: accepts two connections in turn.
# The first: it reads the client's 100-byte request and closes first, so
# TIME-WAIT is on this side. The second (the client again, from the same
# port): it reads until the client's FIN and closes. Each thing its socket
# sees is one JSON line, as tcpmitm's built-in peers print them; it exits 0
# only if it read exactly the 100 A's on the first and the 50 B's on the second.
# Usage: python3 old-duplicate-server.py HOST PORT
import json
import socket
import sys
import time

T0 = time.monotonic()


def say(event, **fields):
    print(json.dumps({'peer': 'server', 'event': event, 't': round((time.monotonic() - T0) * 1000, 1), **fields}), flush=True)


host, port = sys.argv[1], int(sys.argv[2])
family = socket.AF_INET6 if ':' in host else socket.AF_INET
ls = socket.socket(family, socket.SOCK_STREAM)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((host, port))
ls.listen(4)
say('listening', local=f'{host}:{port}')

read = {}
for n in (1, 2):
    c, peer = ls.accept()
    say('connected', local=f'{host}:{port}', remote=f'{peer[0]}:{peer[1]}')
    got = b''
    while n == 2 or len(got) < 100:
        b = c.recv(65536)
        if not b:
            say('eof')
            break
        got += b
        # The bytes themselves say which connection's data the application read: A… the first, B… the second.
        say('data', bytes=len(b), message=f'{b[:1].decode()}×{len(b)}')
    c.close()
    say('close')
    read[n] = got
ls.close()
# The exit status is the application's own check: each connection gave it exactly what was sent on it.
ok = read[1] == b'A' * 100 and read[2] == b'B' * 50
if not ok:
    say('unexpected', message=f'read {len(read[1])} bytes on the first connection and {len(read[2])} on the second')
say('exit', code=0 if ok else 3)
sys.exit(0 if ok else 3)
