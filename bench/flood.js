// Floods and churn against a real lab session: does the tracker's bound hold
// the session process's memory? Not a timed test: it reports figures.
//
//  * SYN flood and ACK flood: --count frames of distinct random 4-tuples sent
//    from the client namespace (bench/flood-sender.js), each into a fresh
//    session; peak RSS (VmHWM) and RSS once the session has worked through
//    them, and whether a normal connection still gets through afterwards.
//  * churn: real connections (bench/peer.js churn, 4 in parallel) for
//    --churn seconds, RSS sampled every --sample seconds; growth after the
//    first minute is the figure (target ≤ 10 %).
//
//   node bench/flood.js [--id fl1] [--count 1000000] [--kinds syn,ack] [--churn 300] [--sample 30]
//                       [--max-connections N] [--rate PPS] [--out FILE]
//
// Sessions are started as `tcpmitm lab up --no-ui --kernel-probe off > /dev/null`
// (bench/lab.js). Figures also go to bench/flood-results.json (or --out).

import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadProfile, procStat, setupLab, sleep, startBridge, startTcpmitm, waitForPath } from './lab.js';

const PEER = fileURLToPath(new URL('./peer.js', import.meta.url));
const SENDER = fileURLToPath(new URL('./flood-sender.js', import.meta.url));
const BIN = fileURLToPath(new URL('../bin/tcpmitm.js', import.meta.url));
const MODES = ['lab', 'attach', 'tap'];
const SERVER = '198.18.0.2';
const USAGE = `usage: node bench/flood.js [--id fl1] [--count 1000000] [--kinds syn,ack] [--churn 300] [--sample 30] [--max-connections N] [--rate PPS] [--out FILE]
  --count N            frames (distinct random tuples) per flood (default 1000000)
  --kinds K,...        floods to run: syn, ack (default both; none: --kinds '')
  --modes M,...        lab (the lab session), attach (tcpmitm attach --a m0 --b m1 in the middle
                       namespace), tap (tcpmitm tap --iface m0 beside a kernel bridge); default lab
  --churn S            seconds of connection churn (default 300; 0: none)
  --sample S           RSS sampling interval during churn (default 30)
  --max-connections N  the session's --max-connections (default: tcpmitm's)
  --rate PPS           pace the flood (default 0: as fast as the sender goes)
  --node-arg ARG       a node flag for the session (repeatable), e.g. --node-arg --max-old-space-size=160
`;

function parseArgs(argv) {
  const o = { modes: ['lab'], id: 'fl1', count: 1_000_000, kinds: ['syn', 'ack'], churn: 300, sample: 30, maxConnections: undefined, rate: 0, nodeArgs: [], out: fileURLToPath(new URL('./flood-results.json', import.meta.url)) };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => argv[++i];
    if (a === '--help' || a === '-h') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else if (a === '--id') o.id = v();
    else if (a === '--count') o.count = Number(v());
    else if (a === '--kinds') o.kinds = v().split(',').filter(Boolean);
    else if (a === '--modes') o.modes = v().split(',').filter(Boolean);
    else if (a === '--churn') o.churn = Number(v());
    else if (a === '--sample') o.sample = Number(v());
    else if (a === '--max-connections') o.maxConnections = Number(v());
    else if (a === '--rate') o.rate = Number(v());
    else if (a === '--out') o.out = v();
    else if (a === '--node-arg') o.nodeArgs.push(v());
    else {
      process.stderr.write(`flood: unknown option ${a}\n${USAGE}`);
      process.exit(2);
    }
  }
  if (o.kinds.some((k) => k !== 'syn' && k !== 'ack') || o.modes.length === 0 || o.modes.some((m) => !MODES.includes(m)) || !(o.count >= 1) || !(o.churn >= 0) || !(o.sample > 0)) {
    process.stderr.write(`flood: bad arguments\n${USAGE}`);
    process.exit(2);
  }
  return o;
}

/** VmRSS and VmHWM (peak) of a process, MB. */
function memOf(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
    return { rssMB: kb('VmRSS') / 1024, peakMB: kb('VmHWM') / 1024 };
  } catch {
    return { rssMB: NaN, peakMB: NaN };
  }
}

const mb = (x) => (Number.isFinite(x) ? Math.round(x) : null);

function runChild(lab, side, argv, timeoutMs) {
  return new Promise((resolve) => {
    const child = lab.spawn(side, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      let json = null;
      try {
        json = JSON.parse(out.trim().split('\n').pop());
      } catch {
        // Reported below.
      }
      resolve({ code, json, err: err.trim() });
    });
  });
}

/** Waits (bounded) until the session has stopped using CPU for 2 s: it has worked through the frames queued at its port. */
async function untilIdle(pid, maxS) {
  let last = procStat(pid)?.ticks;
  let still = 0;
  for (let i = 0; i < maxS && still < 2; i++) {
    await sleep(1000);
    const now = procStat(pid)?.ticks;
    still = now !== undefined && last !== undefined && now - last <= 2 ? still + 1 : 0;
    last = now;
  }
}

/**
 * The process under test for `mode`: the lab session (as `tcpmitm lab up`
 * starts it), or `tcpmitm attach` between m0 and m1, or `tcpmitm tap` on m0
 * with a kernel bridge forwarding (both as a user would run them, in the
 * middle namespace, text log to /dev/null).
 */
async function startForwarder(lab, profile, o, mode) {
  if (mode === 'lab') return startTcpmitm(lab, { profile, options: sessionOptions(o), nodeArgs: o.nodeArgs });
  const table = o.maxConnections === undefined ? [] : ['--max-connections', String(o.maxConnections)];
  const bridge = mode === 'tap' ? await startBridge(lab) : undefined;
  const args = mode === 'attach' ? ['attach', '--a', 'm0', '--b', 'm1'] : ['tap', '--iface', 'm0'];
  const child = lab.spawn('middle', [process.execPath, ...o.nodeArgs, BIN, ...args, '--no-ui', ...table], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.once('exit', (c, sig) => resolve(c ?? sig)));
  const stop = async () => {
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
    await bridge?.stop();
  };
  try {
    await Promise.race([waitForPath(lab), exited.then((c) => Promise.reject(new Error(`tcpmitm ${mode} exited (${c}): ${stderr.trim()}`)))]);
    // tap sees the path through the bridge at once; give it a moment to open its capture.
    await sleep(500);
  } catch (err) {
    await stop();
    throw err;
  }
  // attach and tap run themselves again under the session's heap ceiling (src/session/heap-ceiling.ts): the forwarder is that child.
  const forwarder = Number(spawnSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' }).stdout.trim().split('\n')[0]) || child.pid;
  return { pid: forwarder, stop };
}

function sessionOptions(o) {
  return o.maxConnections === undefined ? {} : { table: { maxConnections: o.maxConnections, establishedTimeoutS: 432_000, halfOpenTimeoutS: 180 } };
}

async function flood(lab, profile, o, mode, kind) {
  const s = await startForwarder(lab, profile, o, mode);
  try {
    const start = memOf(s.pid);
    const t0 = Date.now();
    let peak = start.rssMB;
    const sampler = setInterval(() => (peak = Math.max(peak, memOf(s.pid).rssMB)), 500);
    const sent = await runChild(lab, 'client', [process.execPath, SENDER, '--kind', kind, '--count', String(o.count), '--rate', String(o.rate), '--dst', SERVER], 30 * 60_000);
    await untilIdle(s.pid, 900);
    clearInterval(sampler);
    const end = memOf(s.pid);
    let connects = true;
    try {
      await waitForPath(lab, 10_000);
    } catch {
      connects = false;
    }
    return {
      mode,
      kind,
      frames: sent.json?.sent ?? null,
      senderPps: sent.json?.pps ?? null,
      senderError: sent.code === 0 ? undefined : sent.err,
      seconds: (Date.now() - t0) / 1000,
      startRssMB: mb(start.rssMB),
      peakRssMB: mb(Math.max(peak, end.peakMB)),
      endRssMB: mb(end.rssMB),
      normalConnectionWorks: connects,
    };
  } finally {
    await s.stop();
  }
}

async function churn(lab, profile, o, mode) {
  const s = await startForwarder(lab, profile, o, mode);
  try {
    const t0 = Date.now();
    const samples = [{ t: 0, rssMB: mb(memOf(s.pid).rssMB) }];
    const run = runChild(lab, 'client', [process.execPath, PEER, 'churn', '--duration', String(o.churn), '--parallel', '4', '--host', SERVER], (o.churn + 60) * 1000);
    let done = false;
    void run.then(() => (done = true));
    // Samples every --sample s, and at one minute (the reference for growth).
    const at = [...new Set([60, ...Array.from({ length: Math.floor(o.churn / o.sample) }, (_, i) => (i + 1) * o.sample)])].filter((t) => t <= o.churn).sort((a, b) => a - b);
    for (const t of at) {
      while (!done && Date.now() - t0 < t * 1000) await sleep(200);
      if (done) break;
      samples.push({ t, rssMB: mb(memOf(s.pid).rssMB) });
    }
    const r = await run;
    samples.push({ t: Math.round((Date.now() - t0) / 1000), rssMB: mb(memOf(s.pid).rssMB), end: true });
    const ref = samples.find((x) => x.t === 60)?.rssMB;
    const after = samples.filter((x) => x.t > 60).map((x) => x.rssMB);
    const growthPct = ref && after.length ? Math.round(((Math.max(...after) - ref) / ref) * 1000) / 10 : null;
    return { mode, seconds: o.churn, cps: r.json ? Math.round(r.json.cps) : null, connections: r.json?.n ?? null, failed: r.json?.failed ?? null, samples, growthAfterFirstMinutePct: growthPct, peakRssMB: mb(memOf(s.pid).peakMB) };
  } finally {
    await s.stop();
  }
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) {
    process.stderr.write('flood: needs root (network namespaces)\n');
    return 2;
  }
  const profile = await loadProfile('passthrough');
  const lab = await setupLab(o.id);
  const onSignal = () => void lab.destroy().finally(() => process.exit(130));
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const results = { date: new Date().toISOString(), count: o.count, maxConnections: o.maxConnections ?? 'default', floods: [], churn: [] };
  try {
    const server = lab.spawn('server', [process.execPath, PEER, 'server', '--host', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve, reject) => {
      server.stdout.once('data', resolve);
      server.once('exit', (c) => reject(new Error(`bench server exited ${c}`)));
    });
    for (const mode of o.modes) {
      for (const kind of o.kinds) {
        process.stderr.write(`flood: ${mode}: ${o.count} ${kind.toUpperCase()}s of random tuples\n`);
        const f = await flood(lab, profile, o, mode, kind);
        results.floods.push(f);
        process.stderr.write(`flood: ${JSON.stringify(f)}\n`);
      }
      if (o.churn > 0) {
        process.stderr.write(`flood: ${mode}: ${o.churn} s of churn, RSS every ${o.sample} s\n`);
        const c = await churn(lab, profile, o, mode);
        results.churn.push(c);
        process.stderr.write(`flood: ${JSON.stringify(c)}\n`);
      }
    }
  } finally {
    await lab.destroy();
  }
  const lines = [];
  for (const f of results.floods) {
    lines.push(`${f.mode}: ${f.kind.toUpperCase()} flood, ${f.frames} tuples (sender ${f.senderPps} pps): RSS ${f.startRssMB} MB at start, peak ${f.peakRssMB} MB, ${f.endRssMB} MB after; a normal connection afterwards: ${f.normalConnectionWorks ? 'works' : 'FAILS'}`);
  }
  for (const c of results.churn) {
    lines.push(`${c.mode}: churn ${c.seconds} s, ${c.cps} conn/s (${c.connections} connections): RSS ${c.samples.map((x) => `${x.t}s ${x.rssMB}`).join(', ')} MB; growth after the first minute ${c.growthAfterFirstMinutePct} % (target ≤ 10 %)`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  writeFileSync(o.out, JSON.stringify(results, null, 2) + '\n');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`flood: ${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
