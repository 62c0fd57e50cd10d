#!/usr/bin/env python3
"""Real programs on both ends of an intercept test (plain sockets, no tcpmitm code).

  server HOST PORT [--close-after-eof MS]   accept one connection at a time: read to EOF,
                                            send the bytes back reversed, close MS later
  client HOST PORT [--bytes N] [--pause-file F] [--no-shutdown 1]
                                            connect, send N bytes, (F: wait for F to exist,
                                            then send N more), shut down writing (not with
                                            --no-shutdown: then only wait for an answer),
                                            read the answer; print one JSON line with what
                                            happened
Each prints JSON lines: {"event": "listening"} / {"event": "result", ...}.
"""
import json, os, socket, sys, threading, time, errno

def say(**kw):
    print(json.dumps(kw), flush=True)

def family(host):
    return socket.AF_INET6 if ':' in host else socket.AF_INET

def server(host, port, close_after_ms):
    s = socket.socket(family(host))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(16)
    say(event='listening', port=port)
    def serve(c):
        data = b''
        try:
            while True:
                x = c.recv(65536)
                if not x:
                    break
                data += x
            c.sendall(data[::-1])
            time.sleep(close_after_ms / 1000)
        except OSError:
            pass
        finally:
            c.close()
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()

def client(host, port, n, pause_file, shutdown):
    data = bytes(i % 251 for i in range(n))
    k = socket.create_connection((host, port), timeout=20)
    local = k.getsockname()
    sent = data
    try:
        k.sendall(data)
        if pause_file:
            say(event='paused', local_port=local[1])
            while not os.path.exists(pause_file):
                time.sleep(0.02)
            k.sendall(data)
            sent = data + data
        if shutdown:
            k.shutdown(socket.SHUT_WR)
        got = b''
        while True:
            x = k.recv(65536)
            if not x:
                break
            got += x
        say(event='result', ok=True, equal=got == sent[::-1], sent=len(sent), got=len(got), local_port=local[1])
    except OSError as e:
        say(event='result', ok=False, error=errno.errorcode.get(e.errno, str(e.errno)) if e.errno else str(e), local_port=local[1])
    finally:
        k.close()

def main(argv):
    kind, host, port = argv[0], argv[1], int(argv[2])
    opts = dict(zip(argv[3::2], argv[4::2]))
    if kind == 'server':
        server(host, port, int(opts.get('--close-after-eof', '300')))
    else:
        client(host, port, int(opts.get('--bytes', '10000')), opts.get('--pause-file'), '--no-shutdown' not in opts)

if __name__ == '__main__':
    main(sys.argv[1:])
