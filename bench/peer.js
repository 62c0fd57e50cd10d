// The bench's own TCP client and server (run inside the lab's end namespaces):
// 1-byte request/response over one connection, connection churn, and one-way
// latency probes for delay precision. Each client run prints one JSON line.
//
//   node bench/peer.js server --host 198.18.0.2
//   node bench/peer.js probe --host 198.18.0.2 --deadline 10000
//   node bench/peer.js rr    --host 198.18.0.2 --duration 1.5
//   node bench/peer.js churn --host 198.18.0.2 --duration 1.5 --parallel 4
//   node bench/peer.js delay --host 198.18.0.2 --port 9010 --count 60 --interval 15
//   node bench/peer.js scale --host 198.18.0.2 --connections 10000 --seconds 5 --churn-seconds 5 --parallel 50

import net from 'node:net';

export const PORTS = { rr: 9001, churn: 9002, delay0: 9020, delay10: 9010, delay100: 9100 };

const args = parseArgs(process.argv.slice(2));

function parseArgs(argv) {
  const out = { mode: argv[0] };
  for (let i = 1; i < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1];
  return out;
}

const now = () => process.hrtime.bigint();

function server(host) {
  // rr: echo every byte back at once.
  net
    .createServer({ noDelay: true }, (s) => {
      s.setNoDelay(true);
      s.on('data', (d) => s.write(d));
      s.on('error', () => {});
    })
    .listen(PORTS.rr, host);
  // churn: read, and close when the client does (allowHalfOpen false: our FIN follows theirs).
  net
    .createServer((s) => {
      s.on('data', () => {});
      s.on('error', () => {});
    })
    .listen(PORTS.churn, host);
  // delay: each 8-byte message is the client's send time (CLOCK_MONOTONIC, ns, shared by
  // every namespace); answer with the one-way latency in ns, 8 bytes.
  for (const port of [PORTS.delay0, PORTS.delay10, PORTS.delay100]) {
    net
      .createServer({ noDelay: true }, (s) => {
        s.setNoDelay(true);
        let pending = Buffer.alloc(0);
        s.on('data', (d) => {
          const t = now();
          pending = Buffer.concat([pending, d]);
          while (pending.length >= 8) {
            const sent = pending.readBigUInt64BE(0);
            pending = pending.subarray(8);
            const reply = Buffer.alloc(8);
            reply.writeBigUInt64BE(t - sent);
            s.write(reply);
          }
        });
        s.on('error', () => {});
      })
      .listen(port, host);
  }
  process.stdout.write('listening\n');
}

function connect(host, port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, noDelay: true });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function rr(host, durationS, warmupS) {
  const s = await connect(host, PORTS.rr);
  s.setNoDelay(true);
  const one = Buffer.from([0x61]);
  const rtts = [];
  let resolveOne;
  s.on('data', () => resolveOne());
  const roundTrip = () =>
    new Promise((r) => {
      resolveOne = r;
      s.write(one);
    });
  const warmEnd = now() + BigInt(Math.round(warmupS * 1e9));
  while (now() < warmEnd) await roundTrip();
  const t0 = now();
  const end = t0 + BigInt(Math.round(durationS * 1e9));
  for (let t = t0; t < end; ) {
    await roundTrip();
    const t2 = now();
    rtts.push(Number(t2 - t) / 1000);
    t = t2;
  }
  const elapsed = Number(now() - t0) / 1e9;
  s.destroy();
  rtts.sort((a, b) => a - b);
  return { tps: rtts.length / elapsed, p50us: percentile(rtts, 50), p99us: percentile(rtts, 99), n: rtts.length };
}

/** One full cycle: connect, send one byte, close, and wait until the server's FIN has come back. */
function cycle(host) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port: PORTS.churn });
    s.once('connect', () => s.end('x'));
    s.on('data', () => {});
    s.once('error', () => resolve(false));
    s.once('close', (hadError) => resolve(!hadError));
  });
}

async function churn(host, durationS, parallel) {
  const t0 = now();
  const end = t0 + BigInt(Math.round(durationS * 1e9));
  let ok = 0;
  let failed = 0;
  const worker = async () => {
    while (now() < end) {
      if (await cycle(host)) ok++;
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  const elapsed = Number(now() - t0) / 1e9;
  return { cps: ok / elapsed, n: ok, failed, parallel };
}

async function delay(host, port, count, intervalMs) {
  const s = await connect(host, port);
  s.setNoDelay(true);
  const samplesUs = [];
  let pending = Buffer.alloc(0);
  let done;
  const finished = new Promise((r) => (done = r));
  s.on('data', (d) => {
    pending = Buffer.concat([pending, d]);
    while (pending.length >= 8) {
      samplesUs.push(Number(pending.readBigUInt64BE(0)) / 1000);
      pending = pending.subarray(8);
    }
    if (samplesUs.length >= count) done();
  });
  for (let i = 0; i < count; i++) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(now());
    s.write(b);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  const timeout = setTimeout(() => done(), 5000);
  await finished;
  clearTimeout(timeout);
  s.destroy();
  return { oneWayUs: samplesUs };
}

/**
 * One probe: a new connection, one byte there and back, close. Its time (µs),
 * or null when it did not complete within `timeoutMs` (a stall).
 */
function probeOnce(host, timeoutMs) {
  return new Promise((resolve) => {
    const t = now();
    const s = net.connect({ host, port: PORTS.rr, noDelay: true });
    const timer = setTimeout(() => finish(null), timeoutMs);
    const finish = (v) => {
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    s.once('connect', () => s.write('p'));
    s.once('data', () => finish(Number(now() - t) / 1000));
    s.once('error', () => finish(null));
  });
}

/** Probes one after another for `seconds`: round-trip times (µs, sorted), stalls, and the longest wait. */
async function probeFor(host, seconds, timeoutMs) {
  const rtts = [];
  let stalls = 0;
  const end = now() + BigInt(Math.round(seconds * 1e9));
  while (now() < end) {
    const us = await probeOnce(host, timeoutMs);
    if (us === null) stalls++;
    else rtts.push(us);
    await new Promise((r) => setTimeout(r, 10));
  }
  rtts.sort((a, b) => a - b);
  return { n: rtts.length, stalls, p50us: percentile(rtts, 50), p99us: percentile(rtts, 99), maxUs: rtts.length ? rtts[rtts.length - 1] : null };
}

/**
 * Scale: `count` connections opened (at most 200 connects in flight) and held,
 * probes while they are held, all closed at once, probes right after the
 * close (while the kernel and tcpmitm follow 2 × count closing sockets), then
 * churn with `parallel` workers beside the TIME-WAITs the close left.
 */
async function scale(host, count, seconds, churnSeconds, parallel) {
  const held = [];
  let failed = 0;
  const tOpen = now();
  let next = 0;
  const opener = async () => {
    while (next < count) {
      next++;
      try {
        const s = await connect(host, PORTS.churn);
        s.on('error', () => {});
        held.push(s);
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(200, count) }, opener));
  const openS = Number(now() - tOpen) / 1e9;
  const holding = await probeFor(host, seconds, 3000);
  // Every connection ends with a complete close: ours, then the server's FIN.
  const closed = Promise.all(held.map((s) => new Promise((r) => (s.once('close', r), s.end()))));
  const afterClose = await probeFor(host, seconds, 3000);
  await Promise.race([closed, new Promise((r) => setTimeout(r, 30_000))]);
  const churned = await churn(host, churnSeconds, parallel);
  return { connections: held.length, failed, openS, holding, afterClose, churn: churned };
}

/** Tries to connect (then closes) until one attempt succeeds: the path through the middle works. */
async function probe(host, deadlineMs) {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    const ok = await new Promise((resolve) => {
      const s = net.connect({ host, port: PORTS.rr, timeout: 300 });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('timeout', () => {
        s.destroy();
        resolve(false);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return { ok: true };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no connection to ${host}:${PORTS.rr} within ${deadlineMs} ms`);
}

const host = args.host ?? '198.18.0.2';
try {
  let result;
  switch (args.mode) {
    case 'server':
      server(host);
      break;
    case 'probe':
      result = await probe(host, Number(args.deadline ?? 10_000));
      break;
    case 'rr':
      result = await rr(host, Number(args.duration ?? 1.5), Number(args.warmup ?? 0.2));
      break;
    case 'churn':
      result = await churn(host, Number(args.duration ?? 1.5), Number(args.parallel ?? 4));
      break;
    case 'scale':
      result = await scale(host, Number(args.connections ?? 10_000), Number(args.seconds ?? 5), Number(args['churn-seconds'] ?? 5), Number(args.parallel ?? 50));
      break;
    case 'delay':
      result = await delay(host, Number(args.port), Number(args.count ?? 60), Number(args.interval ?? 15));
      break;
    default:
      process.stderr.write(`peer.js: unknown mode ${args.mode}\n`);
      process.exit(2);
  }
  if (result) {
    process.stdout.write(JSON.stringify(result) + '\n');
    process.exit(0);
  }
} catch (err) {
  process.stderr.write(`peer.js ${args.mode}: ${err.message}\n`);
  process.exit(1);
}
