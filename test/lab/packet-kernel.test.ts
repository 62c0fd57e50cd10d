// The packet builders against real judges: tshark dissects built frames
// (802.1Q, IPv4 options, IPv6 extension chains, every TCP option) and finds
// their checksums good; and a real Linux kernel accepts a forged RST
// (IPv4 and IPv6) whose seq is its rcv_nxt — while an in-window but inexact
// one only draws a challenge ACK (RFC 5961 §3.2). Needs root (namespaces).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTcpFrame, forgeRstFrom } from '../../src/packet/build.js';
import { type TcpFrame, decodeFrame } from '../../src/packet/frame.js';
import { TcpFlag } from '../../src/tcp/segment.js';
import { tempDir } from '../helpers/temp.js';

const isRoot = process.getuid?.() === 0;
if (!isRoot && process.env.CI === 'true') throw new Error('packet-kernel lab tests need root, and CI must not skip them');
const NS_A = 'tpk-la';
const NS_B = 'tpk-lb';
const DEV_A = 'tpk-la0';
const DEV_B = 'tpk-lb0';
const work = tempDir('tpk-');
const children: ChildProcess[] = [];

function sh(...args: string[]): string {
  return execFileSync(args[0]!, args.slice(1), { encoding: 'utf8', timeout: 15_000 });
}
function inNs(ns: string, ...args: string[]): string {
  return sh('ip', 'netns', 'exec', ns, ...args);
}
function removeNamespaces(): void {
  for (const ns of [NS_A, NS_B]) {
    try {
      sh('ip', 'netns', 'del', ns);
    } catch {
      // absent: nothing to remove
    }
  }
}

/** Writes a classic pcap (LINKTYPE_ETHERNET) for tshark. */
function writePcap(path: string, frames: readonly Buffer[]): void {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b2c3d4, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(65535, 16);
  head.writeUInt32LE(1, 20);
  const recs = frames.map((f, i) => {
    const r = Buffer.alloc(16);
    r.writeUInt32LE(1_700_000_000 + i, 0);
    r.writeUInt32LE(f.length, 8);
    r.writeUInt32LE(f.length, 12);
    return Buffer.concat([r, f]);
  });
  writeFileSync(path, Buffer.concat([head, ...recs]));
}

describe.skipIf(!isRoot)('built frames checked by tshark', () => {
  it('dissects them as built, with good IPv4 and TCP checksums', () => {
    const base = { srcPort: 40000, dstPort: 8080, seq: 0xfffffff0, ack: 77, window: 1024 };
    const frames = [
      buildTcpFrame({ ...base, src: '198.18.0.1', dst: '198.18.0.2', flags: 'S', vlan: { id: 100, pcp: 3 }, options: [{ kind: 'mss', value: 1460 }, { kind: 'sack-permitted' }, { kind: 'timestamps', tsval: 1, tsecr: 0 }, { kind: 'nop' }, { kind: 'window-scale', shift: 7 }] }),
      buildTcpFrame({ ...base, src: '198.18.0.1', dst: '198.18.0.2', flags: 'PA', ipv4Options: Uint8Array.of(0x94, 4, 0, 0), options: [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'sack', blocks: [[1000, 2000], [3000, 4000]] }], payload: Buffer.from('hello') }),
      buildTcpFrame({ ...base, src: '2001:2::1', dst: '2001:2::2', flags: 'RA', ipv6Extensions: [{ type: 0, body: Uint8Array.of(0, 1, 4, 0, 0, 0, 0) }, { type: 43, body: Uint8Array.of(0, 0, 0, 0, 0, 0, 0) }, { type: 60, body: Uint8Array.of(0, 1, 4, 0, 0, 0, 0) }] }),
      buildTcpFrame({ ...base, src: '2001:2::1', dst: '2001:2::2', flags: 'FA', vlan: { id: 4094 }, payload: Buffer.alloc(999, 0x5a) }),
    ];
    const pcap = join(work, 'built.pcap');
    writePcap(pcap, frames);
    const fields = ['vlan.id', 'ip.checksum.status', 'tcp.checksum.status', 'tcp.flags.str', 'tcp.seq_raw', 'tcp.len', 'tcp.options.wscale.shift', 'tcp.options.sack_le', 'ipv6.routing.segleft'];
    const out = sh('tshark', '-r', pcap, '-o', 'tcp.check_checksum:TRUE', '-o', 'tcp.relative_sequence_numbers:FALSE', '-o', 'ip.check_checksum:TRUE', '-T', 'fields', '-E', 'separator=|', ...fields.flatMap((f) => ['-e', f]));
    const rows = out.trim().split('\n').map((l) => l.split('|'));
    // checksum.status: 1 = good (0 bad, 2 unverified).
    expect(rows.map((r) => [r[0], r[1], r[2]])).toEqual([['100', '1', '1'], ['', '1', '1'], ['', '', '1'], ['4094', '', '1']]);
    expect(rows.map((r) => r[3]!.replace(/·/g, '').trim())).toEqual(['S', 'AP', 'AR', 'AF']);
    expect(rows.map((r) => [r[4], r[5]])).toEqual([['4294967280', '0'], ['4294967280', '5'], ['4294967280', '0'], ['4294967280', '999']]);
    expect(rows[0]![6]).toBe('7');
    expect(rows[1]![7]).toBe('1000,3000');
    expect(rows[2]![8]).toBe('0');
  });
});

/** A pcap pipe running inside a namespace: frames out as hex lines, hex lines in are injected. */
interface Pipe {
  readonly frames: Buffer[];
  send(frame: Buffer): void;
  /** The first captured TCP frame at index >= `from` that satisfies `pred`. */
  waitFor(pred: (f: TcpFrame) => boolean, what: string, from?: number): Promise<TcpFrame>;
}

async function openPipe(ns: string, dev: string, filter: string): Promise<Pipe> {
  const capPath = createRequire(import.meta.url).resolve('cap');
  const script = `
    const { Cap } = require(process.env.CAP_PATH);
    const c = new Cap(); const buf = Buffer.alloc(65535);
    c.open(process.env.DEV, process.env.FILTER, 1 << 20, buf);
    if (c.setMinBytes) c.setMinBytes(0);
    c.on('packet', (n) => process.stdout.write(buf.subarray(0, n).toString('hex') + '\\n'));
    require('node:readline').createInterface({ input: process.stdin }).on('line', (l) => c.send(Buffer.from(l, 'hex')))
      .on('close', () => { c.close(); process.exit(0); });
    process.stdout.write('ready\\n');`;
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], {
    env: { ...process.env, CAP_PATH: capPath, DEV: dev, FILTER: filter },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(child);
  const frames: Buffer[] = [];
  const waiters = new Set<() => void>();
  let ready!: () => void;
  const readyP = new Promise<void>((r) => (ready = r));
  createInterface({ input: child.stdout! }).on('line', (l) => {
    if (l === 'ready') return ready();
    frames.push(Buffer.from(l, 'hex'));
    for (const w of waiters) w();
  });
  await readyP;
  return {
    frames,
    send: (f) => child.stdin!.write(`${f.toString('hex')}\n`),
    waitFor: (pred, what, from = 0) =>
      new Promise((resolve, reject) => {
        let seen = from;
        const check = () => {
          for (; seen < frames.length; seen++) {
            const r = decodeFrame(frames[seen]!);
            if (r.ok && r.value.kind === 'tcp' && pred(r.value)) {
              waiters.delete(check);
              clearTimeout(timer);
              return resolve(r.value);
            }
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${what}`));
        }, 5000);
        waiters.add(check);
        check();
      }),
  };
}

/** Runs python3 in a namespace; resolves with its stdout lines as they come. */
function python(ns: string, code: string): { lines: string[]; next: (what: string) => Promise<string>; done: Promise<void> } {
  const child = spawn('ip', ['netns', 'exec', ns, 'python3', '-u', '-c', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const lines: string[] = [];
  let wake: (() => void) | undefined;
  createInterface({ input: child.stdout! }).on('line', (l) => {
    lines.push(l);
    wake?.();
  });
  let read = 0;
  const next = (what: string) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 8000);
      const check = () => {
        if (read < lines.length) {
          clearTimeout(timer);
          wake = undefined;
          resolve(lines[read++]!);
        }
      };
      wake = check;
      check();
    });
  const done = new Promise<void>((r) => child.on('exit', () => r()));
  return { lines, next, done };
}

const SERVER = `
import socket, sys
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1)
print('listening')
c, _ = s.accept()
print('got', c.recv(100).decode().strip())
try:
    data = c.recv(100)
    print('eof' if not data else 'data')
except ConnectionResetError:
    print('ECONNRESET')
`;
const CLIENT = `
import socket, sys, time
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
c = socket.socket(fam, socket.SOCK_STREAM)
c.connect((sys.argv[1], int(sys.argv[2])))
c.sendall(b'hello\\n')
print('sent')
time.sleep(15)
`;

function withArgs(code: string, ...args: string[]): string {
  return `import sys; sys.argv = ['x', ${args.map((a) => JSON.stringify(a)).join(', ')}]\n${code}`;
}

function established(ns: string, port: number): boolean {
  return inNs(ns, 'ss', '-Htn', 'state', 'established', `( sport = :${port} )`).trim() !== '';
}

describe.skipIf(!isRoot)('a real kernel accepts a forged RST', () => {
  beforeAll(() => {
    removeNamespaces();
    sh('ip', 'netns', 'add', NS_A);
    sh('ip', 'netns', 'add', NS_B);
    sh('ip', 'link', 'add', DEV_A, 'netns', NS_A, 'type', 'veth', 'peer', 'name', DEV_B, 'netns', NS_B);
    for (const [ns, dev, v4, v6] of [
      [NS_A, DEV_A, '198.18.0.1/24', '2001:2::1/64'],
      [NS_B, DEV_B, '198.18.0.2/24', '2001:2::2/64'],
    ] as const) {
      sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
      sh('ip', '-n', ns, 'addr', 'add', v4, 'dev', dev);
      sh('ip', '-n', ns, 'addr', 'add', v6, 'dev', dev, 'nodad');
      inNs(ns, 'ethtool', '-K', dev, 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off');
      sh('ip', '-n', ns, 'link', 'set', dev, 'up');
    }
  });
  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.pid) c.kill('SIGKILL');
    removeNamespaces();
    rmSync(work, { recursive: true, force: true });
  });

  it.each([
    ['IPv4', '198.18.0.2', 9101],
    ['IPv6', '2001:2::2', 9102],
  ] as const)('%s: in-window RST draws a challenge ACK; RST at rcv_nxt resets the socket', async (_, addr, port) => {
    const pipe = await openPipe(NS_A, DEV_A, `tcp port ${port}`);
    const server = python(NS_B, withArgs(SERVER, addr, String(port)));
    expect(await server.next('listening')).toBe('listening');
    const client = python(NS_A, withArgs(CLIENT, addr, String(port)));
    expect(await client.next('sent')).toBe('sent');
    expect(await server.next('data')).toBe('got hello');
    // The last client→server segment carrying data; the server's ACK of it
    // confirms rcv_nxt = seq + length.
    const data = await pipe.waitFor((f) => f.dstPort === port && f.payloadLength > 0, 'client data');
    const rcvNxt = (data.seq + data.payloadLength) >>> 0;
    await pipe.waitFor((f) => f.srcPort === port && (f.flags & TcpFlag.ACK) !== 0 && f.ack === rcvNxt, 'server ACK of data');
    expect(established(NS_B, port)).toBe(true);

    // RFC 5961 §3.2: in the window but not exact → challenge ACK, no reset.
    const before = pipe.frames.length;
    pipe.send(forgeRstFrom(data, { seq: rcvNxt + 1, direction: 'same' }));
    const challenge = await pipe.waitFor((f) => f.srcPort === port && f.flags === TcpFlag.ACK && f.ack === rcvNxt, 'challenge ACK', before);
    expect(challenge.tcpChecksumOk).toBe(true);
    expect(established(NS_B, port)).toBe(true);

    const rst = forgeRstFrom(data, { seq: rcvNxt, direction: 'same' });
    const decoded = decodeFrame(rst);
    expect(decoded.ok && decoded.value.kind === 'tcp' && decoded.value.tcpChecksumOk).toBe(true);
    pipe.send(rst);
    expect(await server.next('reset')).toBe('ECONNRESET');
    expect(established(NS_B, port)).toBe(false);
  });
});
