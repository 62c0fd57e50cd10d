# Exercise 16 (old-duplicate), the client: two connections from one fixed
# source port. The first sends a 100-byte request ('A'…), reads until the
# server's FIN and closes. The second starts on the same 4-tuple a quarter
# of a second later (the server's TIME-WAIT lets a newer SYN in), sends 50
# bytes ('B'…), keeps the connection open a second and closes. Each thing
# its socket sees is one JSON line, as tcpmitm's built-in peers print them.
# Usage: python3 old-duplicate-client.py CLIENT_HOST SERVER_HOST PORT [HOLD_S [SOURCE_PORT]]
# (HOLD_S: how long the second connection stays open, default 1 s; SOURCE_PORT
# default 41000. Labs running at once should not share a 4-tuple: the kernel
# probe's tracepoint is host-wide and tells sockets apart by their 4-tuple.)
import json
import socket
import sys
import time

T0 = time.monotonic()


def say(event, **fields):
    print(json.dumps({'peer': 'client', 'event': event, 't': round((time.monotonic() - T0) * 1000, 1), **fields}), flush=True)


me, server, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
hold_s = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
SOURCE_PORT = int(sys.argv[5]) if len(sys.argv) > 5 else 41000
family = socket.AF_INET6 if ':' in server else socket.AF_INET


TCP_CLOSE = 7


def connect():
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((me, SOURCE_PORT))
    s.connect((server, port))
    say('connected', local=f'{me}:{SOURCE_PORT}', remote=f'{server}:{port}')
    return s


def close_when_closed(s):
    """Our FIN goes out (LAST-ACK); once the server's ACK has closed the socket (TCP_INFO's first byte), the fd is closed
    and the 4-tuple is free: a connect() before that would fail with EADDRNOTAVAIL."""
    s.shutdown(socket.SHUT_WR)
    say('shutdown')
    while s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] != TCP_CLOSE:
        time.sleep(0.002)
    s.close()
    say('close')


s = connect()
s.sendall(b'A' * 100)
say('sent', bytes=100)
while s.recv(65536):
    pass
say('eof')
close_when_closed(s)

# A quarter of a second later (the server's TIME-WAIT lasts 60 s), from the same port.
time.sleep(0.25)
s = connect()
s.sendall(b'B' * 50)
say('sent', bytes=50)
time.sleep(hold_s)
s.close()
say('close')
say('exit', code=0)
