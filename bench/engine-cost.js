// The engine's own cost, in process (no sockets, no lab): a bulk transfer's
// frames (MSS data one way, an ACK per two segments back) and churn's
// connections (handshake, a request, a reply, the close: 10 frames) through
// Engine.onFrame with the passthrough profile and nobody reading pass
// segments, as a session with the text log runs it. Prints ns per frame and
// µs per connection (medians of 5 runs), in CPU time (process.cpuUsage: a
// busy machine's other work does not count). Needs `npm run build`.
//
//   node bench/engine-cost.js [--frames 400000] [--connections 20000]

import { Engine } from '../dist/engine/engine.js';
import { buildTcpFrame } from '../dist/packet/build.js';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
};
const FRAMES = arg('--frames', 400_000);
const CONNECTIONS = arg('--connections', 20_000);
const MSS = 1448;

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const C = '198.18.0.1';
const S = '198.18.0.2';

function engine() {
  let events = 0;
  const e = new Engine({
    start: 0,
    out: { send() {}, wakeAt() {}, emit: () => void events++, wantsPassSegments: () => false },
  });
  return { e, events: () => events };
}

const frame = (src, dst, sport, dport, seq, ack, flags, len) =>
  buildTcpFrame({ src, dst, srcPort: sport, dstPort: dport, seq, ack, flags, window: 502, payload: new Uint8Array(len) });

/** ns per frame of an established connection's bulk: data c→s, an ACK s→c every second segment. */
function bulk() {
  const { e } = engine();
  const cisn = 1000;
  const sisn = 9000;
  let t = 1;
  e.onFrame('a', frame(C, S, 40000, 5201, cisn, 0, 'S', 0), t++);
  e.onFrame('b', frame(S, C, 5201, 40000, sisn, cisn + 1, 'SA', 0), t++);
  e.onFrame('a', frame(C, S, 40000, 5201, cisn + 1, sisn + 1, 'A', 0), t++);
  const data = frame(C, S, 40000, 5201, 0, sisn + 1, 'PA', MSS);
  const ack = frame(S, C, 5201, 40000, sisn + 1, 0, 'A', 0);
  const seqAt = 14 + 20 + 4;
  const ackAt = 14 + 20 + 8;
  let seq = cisn + 1;
  const t0 = cpuMs();
  for (let i = 0; i < FRAMES; i++) {
    if (i % 3 === 2) {
      ack.writeUInt32BE(seq >>> 0, ackAt);
      e.onFrame('b', ack, t);
    } else {
      data.writeUInt32BE(seq >>> 0, seqAt);
      seq += MSS;
      e.onFrame('a', data, t);
    }
    t += 0.001;
  }
  return ((cpuMs() - t0) * 1e6) / FRAMES;
}

/** µs per connection: SYN, SYN-ACK, ACK, request, its ACK, reply, its ACK, FIN, FIN-ACK, last ACK. */
function churn() {
  const { e } = engine();
  // One frame per shape, copied and given each connection's port and numbers.
  const shapes = new Map();
  const make = (fromClient, flags, len, port, seq, ack) => {
    const key = `${fromClient}${flags}${len}`;
    let f = shapes.get(key);
    if (f === undefined) shapes.set(key, (f = fromClient ? frame(C, S, 1, 9002, 0, 0, flags, len) : frame(S, C, 9002, 1, 0, 0, flags, len)));
    const copy = Buffer.from(f);
    copy.writeUInt16BE(port, fromClient ? 34 : 36);
    copy.writeUInt32BE(seq >>> 0, 38);
    copy.writeUInt32BE(ack >>> 0, 42);
    return [fromClient ? 'a' : 'b', copy];
  };
  const frames = [];
  for (let i = 0; i < CONNECTIONS; i++) {
    const p = 10000 + (i % 50000);
    const c = 1000 + i * 7919;
    const s = 500000 + i * 104729;
    const cs = (seq, ack, flags, len = 0) => make(true, flags, len, p, seq, ack);
    const sc = (seq, ack, flags, len = 0) => make(false, flags, len, p, seq, ack);
    frames.push(
      cs(c, 0, 'S'),
      sc(s, c + 1, 'SA'),
      cs(c + 1, s + 1, 'A'),
      cs(c + 1, s + 1, 'PA', 64),
      sc(s + 1, c + 65, 'A'),
      sc(s + 1, c + 65, 'PA', 64),
      cs(c + 65, s + 65, 'A'),
      cs(c + 65, s + 65, 'FA'),
      sc(s + 65, c + 66, 'FA'),
      cs(c + 66, s + 66, 'A'),
    );
  }
  let t = 1;
  const t0 = cpuMs();
  for (const [port, f] of frames) e.onFrame(port, f, (t += 0.01));
  return ((cpuMs() - t0) * 1000) / CONNECTIONS;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const b = [];
const c = [];
for (let r = 0; r < 5; r++) {
  b.push(bulk());
  c.push(churn());
}
process.stdout.write(`bulk: ${median(b).toFixed(0)} ns/frame   churn: ${median(c).toFixed(2)} µs/connection (10 frames)\n`);
