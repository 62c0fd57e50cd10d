#!/usr/bin/env python3
"""One end of a scripted TCP exchange in QinQ frames (802.1ad outer tag, 802.1Q
inner tag) over an AF_PACKET socket: for kernels without VLAN devices, and to
see the tags exactly as they arrive. Each received frame is printed as a JSON
line with its tags as the kernel delivered them (an outer tag the kernel moved
into the aux data is put back, with the TPID it reports: outerFromAux).

  qinq_peer.py client|server|syn-only DEV MYMAC PEERMAC MYIP PEERIP

client: SYN, ACK, "hello", FIN; then a marker frame (not TCP). server: answers
(SYN-ACK, ACK, FIN-ACK) and exits at the marker. syn-only: a SYN, then the
marker. It prints {"ready": true} once its socket is bound. Every wait is
bounded (10 s: exit 3)."""

import json
import socket
import struct
import sys

ROLE, DEV, MYMAC, PEERMAC, MYIP, PEERIP = sys.argv[1:7]
OUTER = (0x88A8, 100)
INNER = (0x8100, 200)
MARKER_TYPE = 0x88B5  # IEEE local experimental EtherType: not IP, passed untouched
CPORT, SPORT = 43210, 8080
SOL_PACKET, PACKET_AUXDATA = 263, 8
TP_STATUS_VLAN_VALID, TP_STATUS_VLAN_TPID_VALID = 0x10, 0x40
F = {'F': 1, 'S': 2, 'R': 4, 'P': 8, 'A': 16}


def mac(text):
    return bytes.fromhex(text.replace(':', ''))


def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def tags(ethertype):
    return struct.pack('!HHHHH', OUTER[0], OUTER[1], INNER[0], INNER[1], ethertype)


def tcp_frame(sport, dport, seq, ack, flags, payload=b''):
    bits = sum(F[c] for c in flags)
    tcp = struct.pack('!HHIIBBHHH', sport, dport, seq, ack, 5 << 4, bits, 65535, 0, 0) + payload
    pseudo = socket.inet_aton(MYIP) + socket.inet_aton(PEERIP) + struct.pack('!BBH', 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack('!H', csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, socket.inet_aton(MYIP), socket.inet_aton(PEERIP))
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    return mac(PEERMAC) + mac(MYMAC) + tags(0x0800) + ip + tcp


sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
sock.bind((DEV, 0))
sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
sock.settimeout(10)
print(json.dumps({'ready': True}), flush=True)  # bound: frames from now on are seen


def receive():
    """The next frame addressed to us, tags restored, as a dict (printed)."""
    while True:
        try:
            data, anc, _, addr = sock.recvmsg(65535, socket.CMSG_SPACE(32))
        except socket.timeout:
            print(json.dumps({'error': 'timed out waiting for a frame'}), flush=True)
            sys.exit(3)
        if addr[2] == socket.PACKET_OUTGOING or data[0:6] != mac(MYMAC):
            continue
        from_aux = False
        for level, kind, aux in anc:
            if level == SOL_PACKET and kind == PACKET_AUXDATA:
                status, _, _, _, _, tci, tpid = struct.unpack('=IIIHHHH', aux[:20])
                if status & TP_STATUS_VLAN_VALID:
                    tpid = tpid if status & TP_STATUS_VLAN_TPID_VALID else 0x8100
                    data = data[:12] + struct.pack('!HH', tpid, tci) + data[12:]
                    from_aux = True
        found = []
        at = 12
        while struct.unpack('!H', data[at:at + 2])[0] in (0x8100, 0x88A8) and len(found) < 3:
            tpid, tci = struct.unpack('!HH', data[at:at + 4])
            found.append([tpid, tci & 0xFFF])
            at += 4
        ethertype = struct.unpack('!H', data[at:at + 2])[0]
        seen = {'tags': found, 'ethertype': ethertype, 'outerFromAux': from_aux}
        if ethertype == 0x0800 and data[at + 2 + 9] == 6:
            t = at + 2 + (data[at + 2] & 15) * 4
            sport, dport, seq, ack, _, bits = struct.unpack('!HHIIBB', data[t:t + 14])
            seen.update(flags=''.join(c for c in 'SAFRP' if bits & F[c]), seq=seq, ack=ack, sport=sport, dport=dport)
        print(json.dumps(seen), flush=True)
        return seen


def expect(flags):
    while True:
        got = receive()
        if got.get('flags') == flags:
            return got


def send(frame):
    sock.send(frame)


def marker():
    send(mac(PEERMAC) + mac(MYMAC) + tags(MARKER_TYPE) + b'tcpmitm-marker'.ljust(46, b'\0'))


if ROLE == 'client':
    send(tcp_frame(CPORT, SPORT, 1000, 0, 'S'))
    expect('SA')
    send(tcp_frame(CPORT, SPORT, 1001, 5001, 'A'))
    send(tcp_frame(CPORT, SPORT, 1001, 5001, 'AP', b'hello'))
    expect('A')
    send(tcp_frame(CPORT, SPORT, 1006, 5001, 'AF'))
    expect('AF')
    send(tcp_frame(CPORT, SPORT, 1007, 5002, 'A'))
    marker()
elif ROLE == 'syn-only':
    send(tcp_frame(CPORT, SPORT, 1000, 0, 'S'))
    marker()
else:
    while True:
        got = receive()
        if got['ethertype'] == MARKER_TYPE:
            break
        flags = got.get('flags')
        if flags == 'S':
            send(tcp_frame(SPORT, CPORT, 5000, 1001, 'SA'))
        elif flags == 'AP':
            send(tcp_frame(SPORT, CPORT, 5001, 1006, 'A'))
        elif flags == 'AF':
            send(tcp_frame(SPORT, CPORT, 5001, 1007, 'AF'))
