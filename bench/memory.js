// Tracker memory: drives the real Engine (from dist/) in-process with built
// frames until N connections are ESTABLISHED on both ends, and reports the heap
// and the Buffer memory (outside the JS heap) that the connections keep alive.
// Run with --expose-gc: node --expose-gc bench/memory.js 10000

import { Engine } from '../dist/engine/engine.js';
import { buildTcpFrame } from '../dist/packet/build.js';

const N = Number(process.argv[2] ?? 10_000);
// --busy: 4 full-size frames of other traffic are captured (and forwarded) after
// each frame, as on a loaded link.
const BUSY = process.argv.includes('--busy');
if (typeof globalThis.gc !== 'function') {
  process.stderr.write('memory.js needs node --expose-gc\n');
  process.exit(2);
}

/** As packet-port.ts does it: every captured frame is a view of one receive slab, overwritten by the next. */
const slab = Buffer.alloc(65_600);
function captured(bytes) {
  bytes.copy(slab, 0, 0, bytes.length);
  return slab.subarray(0, bytes.length);
}

const CLIENT = '198.18.0.1';
const SERVER = '198.18.0.2';
const MACS = { c: '02:00:00:00:00:01', s: '02:00:00:00:00:02' };
const opts = [{ kind: 'mss', value: 1460 }, { kind: 'window-scale', shift: 7 }, { kind: 'sack-permitted' }, { kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamps', tsval: 1, tsecr: 0 }];

function frames(i) {
  const sport = 10_000 + (i % 50_000);
  const dst = 1 + Math.floor(i / 50_000);
  const cisn = (i * 7919) >>> 0;
  const sisn = (i * 104729 + 12345) >>> 0;
  const base = { srcMac: MACS.c, dstMac: MACS.s, src: CLIENT, dst: SERVER, srcPort: sport, dstPort: 8000 + dst };
  const rev = { srcMac: MACS.s, dstMac: MACS.c, src: SERVER, dst: CLIENT, srcPort: 8000 + dst, dstPort: sport };
  return [
    ['a', buildTcpFrame({ ...base, seq: cisn, flags: 'S', window: 64240, options: opts })],
    ['b', buildTcpFrame({ ...rev, seq: sisn, ack: cisn + 1, flags: 'SA', window: 65160, options: opts })],
    ['a', buildTcpFrame({ ...base, seq: cisn + 1, ack: sisn + 1, flags: 'A', window: 502 })],
    // One byte each way, as an idle application connection would have exchanged.
    ['a', buildTcpFrame({ ...base, seq: cisn + 1, ack: sisn + 1, flags: 'PA', window: 502, payload: Buffer.from('x') })],
    ['b', buildTcpFrame({ ...rev, seq: sisn + 1, ack: cisn + 2, flags: 'PA', window: 510, payload: Buffer.from('y') })],
    ['a', buildTcpFrame({ ...base, seq: cisn + 2, ack: sisn + 2, flags: 'A', window: 502 })],
  ];
}

// A non-TCP full-size frame (EtherType 0x88b5, local experimental): passed through untouched.
const filler = Buffer.alloc(1514);
filler.writeUInt16BE(0x88b5, 12);

function usage() {
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, buffers: m.arrayBuffers };
}

// Pre-built outside the measured window and kept alive through it, so that
// only what the engine retains is counted.
const raw = [];
for (let i = 0; i < N; i++) raw.push(frames(i));

let events = 0;
const engine = new Engine({
  start: 0,
  out: { send: () => {}, wakeAt: () => {}, emit: () => events++ },
});
const before = usage();
let t = 1;
for (let i = 0; i < N; i++) {
  for (const [port, bytes] of raw[i]) {
    engine.onFrame(port, captured(bytes), t);
    if (BUSY) for (let k = 0; k < 4; k++) engine.onFrame('a', captured(filler), t);
  }
  t += 0.01;
}
const after = usage();
raw.length = 0;
let established = 0;
for (const c of engine.connections()) if (c.clientEnd.state === 'ESTAB' && c.serverEnd.state === 'ESTAB') established++;
const mb = (b) => b / (1024 * 1024);
process.stdout.write(
  JSON.stringify({
    connections: N,
    busy: BUSY,
    established,
    events,
    heapMB: mb(after.heap - before.heap),
    buffersMB: mb(after.buffers - before.buffers),
    totalMB: mb(after.heap - before.heap + after.buffers - before.buffers),
  }) + '\n',
);
