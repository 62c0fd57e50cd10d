// `npm run bench`: what putting tcpmitm inline costs, against the kernel's own
// bridge on the same lab, in one bounded run (issue 6). Interleaved rounds,
// medians, ratios to the bridge, CPU placement; writes bench/results.json.
//
//   node bench/run.js [--rounds 3] [--with-scapy] [--only bridge,passthrough,...]
//                     [--cpu-prof DIR] [--id bn1] [--pin] [--workloads bulk,rr,churn,scale]
//                     [--scale-connections 10000]
//
// --pin: the forwarder (tcpmitm's session, scapy) on CPU 1, the endpoints
// (iperf3, the bench client and server) on CPU 0. The kernel bridge forwards
// in softirq on the sending endpoint's CPU either way.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, release } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setupLab, startBridge, startBareBridge, startTcpmitm, startIntercept, startScapy, scapyInstalled, setNetem, loadProfile, procStat, sleep } from './lab.js';
import { median, percentile, ratio, fmtNum, fmtRatio, formatTable } from './stats.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const PEER = join(HERE, 'peer.js');
const MEMORY = join(HERE, 'memory.js');
const RESULTS = join(HERE, 'results.json');
const SERVER = '198.18.0.2';
/** The loopback rows: client and server both in the server namespace, over its lo. */
const LOOPBACK = '127.0.0.1';
/** Each workload's server port (iperf3's; bench/peer.js PORTS.rr and PORTS.churn): intercept takes one port per run. */
const WORKLOAD_PORTS = { bulk: 5201, rr: 9001, churn: 9002 };
/** The whole run stays under 5 minutes: no new round starts past this. */
const BUDGET_S = 270;

const ROWS = ['bridge', 'cbridge', 'capbridge', 'pktbridge', 'passthrough', 'probe', 'rules10', 'ptynoui', 'ui', 'scapy', 'delay', 'loopback', 'intercept'];
const WORKLOADS = ['bulk', 'rr', 'churn', 'scale'];
/** The rows the scale workload runs on (once, in the first round: it takes ~25 s a row). */
const SCALE_ROWS = ['bridge', 'passthrough', 'probe'];
const USAGE = `usage: node bench/run.js [options]   (as root; npm run bench runs it after the bootstrap)
  --rounds N          interleaved rounds, medians reported (default 3)
  --with-scapy        add scapy's bridge_and_sniff (apt-get install python3-scapy)
  --only R,R,...      rows of the table (default all): ${ROWS.join(', ')}
                      (scapy also needs --with-scapy; delay: the delay-precision runs)
  --workloads W,...   of ${WORKLOADS.join(', ')} (default all); tracker memory is always measured
                      (scale: the first --scale-rounds rounds only, rows ${SCALE_ROWS.join(', ')})
  --scale-connections N  connections the scale workload holds, then closes (default 10000)
  --scale-rounds N    rounds (from the first) that also run the scale workload, medians reported (default 1)
  --bulk-mb N         bulk transfer size (default 200)
  --cpu-prof DIR      V8 CPU profiles of the tcpmitm sessions into DIR
  --pin               forwarder on CPU 1, endpoints on CPU 0
  --id ID             lab id (default bn1)
  --flood             then floods and churn (bench/flood.js, lab <id>f): peak RSS, RSS over time
  --flood-args "…"    options for bench/flood.js, e.g. "--count 200000 --churn 60" (see its --help)
Method and the last figures: docs/bench.md
`;

const opts = parseArgs(process.argv.slice(2));
const t0 = Date.now();
const elapsedS = () => (Date.now() - t0) / 1000;

function parseArgs(argv) {
  const o = { pin: false, rounds: 3, withScapy: false, only: undefined, cpuProf: undefined, id: 'bn1', bulkMB: 200, scaleConnections: 10_000, scaleRounds: 1 };
  const list = (v, known, what) => {
    const xs = (v ?? '').split(',').filter(Boolean);
    const bad = xs.filter((x) => !known.includes(x));
    if (xs.length === 0 || bad.length) {
      process.stderr.write(`bench: unknown ${what} ${bad.join(', ') || '(none given)'}; known: ${known.join(', ')}\n`);
      process.exit(2);
    }
    return xs;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else if (a === '--rounds') o.rounds = Math.max(1, Number(argv[++i]));
    else if (a === '--with-scapy') o.withScapy = true;
    else if (a === '--pin') o.pin = true;
    else if (a === '--workloads') o.workloads = list(argv[++i], WORKLOADS, 'workload');
    else if (a === '--only') o.only = list(argv[++i], ROWS, 'row');
    else if (a === '--cpu-prof') o.cpuProf = argv[++i];
    else if (a === '--id') o.id = argv[++i];
    else if (a === '--bulk-mb') o.bulkMB = Number(argv[++i]);
    else if (a === '--flood') o.flood = true;
    else if (a === '--flood-args') o.floodArgs = argv[++i].split(/\s+/).filter(Boolean);
    else if (a === '--scale-connections') o.scaleConnections = Math.max(1, Number(argv[++i]));
    else if (a === '--scale-rounds') o.scaleRounds = Math.max(1, Number(argv[++i]));
    else {
      process.stderr.write(`bench: unknown option ${a}\n${USAGE}`);
      process.exit(2);
    }
  }
  return o;
}

// ── workloads (each runs a client in the client namespace, bounded by a timeout) ──

/**
 * Runs argv in a namespace; `done` resolves with stdout, or null on failure or
 * timeout (the figure becomes n/a). `ip netns exec` execs in place: `pid` is argv[0]'s.
 */
function runIn(lab, side, argv, timeoutMs, note) {
  const child = lab.spawn(side, endpointArgv(argv), { stdio: ['ignore', 'pipe', 'pipe'] });
  const done = new Promise((resolve) => {
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
    const timer = setTimeout(() => {
      note(`${argv[0]} ${argv[2] ?? ''}: timed out after ${timeoutMs} ms`);
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve({ out, pid: child.pid });
      else {
        if (code !== null) note(`${argv.slice(0, 2).join(' ')} exited ${code}: ${err.trim().split('\n').slice(-2).join(' | ')}`);
        resolve(null);
      }
    });
  });
  return { done, pid: child.pid };
}

/** With --pin, endpoints run on CPU 0 (taskset execs in place: the pid stays argv[0]'s). */
function endpointArgv(argv) {
  return opts.pin ? ['taskset', '-c', '0', ...argv] : argv;
}
const FWD_CPU = () => (opts.pin ? 1 : undefined);

async function bulk(lab, ctx, mb) {
  const argv = ['iperf3', '-c', ctx.host ?? SERVER, '-p', String(WORKLOAD_PORTS.bulk), '-n', `${mb}M`, '-J'];
  const { done: child, pid: clientPid } = runIn(lab, ctx.side ?? 'client', argv, 60_000, ctx.note);
  // CPU placement: sample where the forwarder and both iperf3 ends run during the transfer.
  const placement = { forwarder: [], client: [], server: [] };
  const fwdBefore = ctx.fwdPid ? procStat(ctx.fwdPid) : undefined;
  const tStart = Date.now();
  let done = false;
  void child.then(() => (done = true));
  while (!done) {
    await sleep(50);
    if (done) break;
    const f = ctx.fwdPid && procStat(ctx.fwdPid);
    const c = clientPid && procStat(clientPid);
    const s = procStat(ctx.iperfServerPid);
    if (f) placement.forwarder.push(f.cpu);
    if (c) placement.client.push(c.cpu);
    if (s) placement.server.push(s.cpu);
  }
  const r = await child;
  const secs = (Date.now() - tStart) / 1000;
  const fwdAfter = ctx.fwdPid ? procStat(ctx.fwdPid) : undefined;
  const cpuPct = fwdBefore && fwdAfter ? ((fwdAfter.ticks - fwdBefore.ticks) / 100 / secs) * 100 : null;
  if (!r) return { mbps: null, placement, cpuPct };
  try {
    const j = JSON.parse(r.out);
    return { mbps: j.end.sum_received.bytes / j.end.sum_received.seconds / 1e6, retransmits: j.end.sum_sent.retransmits ?? null, placement, cpuPct };
  } catch (err) {
    ctx.note(`iperf3 output unreadable: ${err.message}`);
    return { mbps: null, placement, cpuPct };
  }
}

async function peerRun(lab, ctx, args, timeoutMs) {
  const r = await runIn(lab, ctx.side ?? 'client', [process.execPath, PEER, ...args, '--host', ctx.host ?? SERVER], timeoutMs, ctx.note).done;
  if (!r) return null;
  try {
    return JSON.parse(r.out.trim().split('\n').pop());
  } catch {
    ctx.note(`peer ${args[0]}: unreadable output`);
    return null;
  }
}

/**
 * Churn, and the forwarder's CPU per connection over it (user + system, all
 * its threads: the probe's worker too): what tcpmitm costs per connection,
 * which a loaded machine's throughput hides (connections/s on two cores
 * moves with whatever else runs; CPU per connection much less).
 */
async function churnRun(lab, ctx) {
  const before = ctx.fwdPid ? procStat(ctx.fwdPid) : undefined;
  const r = await peerRun(lab, ctx, CHURN_ARGS, 15_000);
  const after = ctx.fwdPid ? procStat(ctx.fwdPid) : undefined;
  const cpuUsPerConn = r?.n > 0 && before && after ? ((after.ticks - before.ticks) * 10_000) / r.n : null;
  return r && { ...r, cpuUsPerConn };
}

// Port 9020 has no delay rule: the same probes through the same session show
// what the forwarding path and both endpoints' wake-ups add on their own.
const DELAYS = [
  { ms: 0, port: 9020, count: 60, interval: 15 },
  { ms: 10, port: 9010, count: 60, interval: 15 },
  { ms: 100, port: 9100, count: 40, interval: 30 },
];

/** Delay precision: one-way latency of 8-byte messages minus the requested delay, µs. */
async function delayErrors(lab, ctx, setDelay, delays = DELAYS) {
  const out = {};
  for (const d of delays) {
    if (setDelay) await setDelay(d.ms);
    const r = await peerRun(lab, ctx, ['delay', '--port', String(d.port), '--count', String(d.count), '--interval', String(d.interval)], 20_000);
    out[d.ms] = r ? r.oneWayUs.map((us) => us - d.ms * 1000) : [];
    if (r && r.oneWayUs.length < d.count) ctx.note(`delay ${d.ms} ms: ${r.oneWayUs.length}/${d.count} answers`);
  }
  if (setDelay) await setDelay(undefined);
  return out;
}

/**
 * Scale: opts.scaleConnections held, then closed; a probe connection's round
 * trip while holding and right after the close, churn with 50 workers beside
 * the TIME-WAITs, and the forwarder's CPU over the whole run.
 */
async function scaleRun(lab, ctx) {
  const before = ctx.fwdPid ? procStat(ctx.fwdPid) : undefined;
  const kernelBefore = kernelLosses(lab);
  const t = Date.now();
  const args = ['scale', '--connections', String(opts.scaleConnections), '--seconds', '5', '--churn-seconds', '5', '--parallel', '50'];
  const r = await peerRun(lab, ctx, args, 150_000);
  const after = ctx.fwdPid ? procStat(ctx.fwdPid) : undefined;
  const kernelAfter = kernelLosses(lab);
  const cpuPct = before && after ? ((after.ticks - before.ticks) / 100 / ((Date.now() - t) / 1000)) * 100 : null;
  if (r && r.connections < opts.scaleConnections) ctx.note(`scale: ${r.connections}/${opts.scaleConnections} connections opened`);
  const backlogDrops = kernelBefore.backlogDrops == null || kernelAfter.backlogDrops == null ? null : kernelAfter.backlogDrops - kernelBefore.backlogDrops;
  const clientRtos = kernelBefore.clientRtos == null || kernelAfter.clientRtos == null ? null : kernelAfter.clientRtos - kernelBefore.clientRtos;
  return r && { ...r, cpuPct, backlogDrops, clientRtos };
}

/**
 * What the kernels lost around a scale run: frames dropped in the per-CPU
 * receive backlogs (softnet_stat's second column, host-wide: the peer's
 * 10 000 FINs enter veth at once, past net.core.netdev_max_backlog), and the
 * client namespace's retransmission timeouts. These, not tcpmitm's queue,
 * make the slowest probes right after the close (a lost SYN waits 1 s).
 */
function kernelLosses(lab) {
  let backlogDrops = null;
  try {
    backlogDrops = readFileSync('/proc/net/softnet_stat', 'utf8').trim().split('\n').reduce((sum, line) => sum + parseInt(line.split(/\s+/)[1], 16), 0);
  } catch {}
  let clientRtos = null;
  const r = spawnSync('ip', ['netns', 'exec', lab.namespaces.client, 'cat', '/proc/net/netstat'], { encoding: 'utf8' });
  const lines = r.status === 0 ? r.stdout.split('\n').filter((l) => l.startsWith('TcpExt:')) : [];
  if (lines.length === 2) {
    const names = lines[0].split(/\s+/);
    const values = lines[1].split(/\s+/);
    const i = names.indexOf('TCPTimeouts');
    if (i > 0) clientRtos = Number(values[i]);
  }
  return { backlogDrops, clientRtos };
}

/** Each figure of the scale runs of one row, the median over its rounds. */
function medianScale(runs) {
  if (runs.length === 0) return null;
  const m = (f) => median(runs.map(f).filter((x) => x != null));
  const phase = (k) => ({ n: m((x) => x[k].n), stalls: m((x) => x[k].stalls), p50us: m((x) => x[k].p50us), p99us: m((x) => x[k].p99us), maxUs: m((x) => x[k].maxUs) });
  return {
    runs: runs.length,
    connections: m((x) => x.connections),
    holding: phase('holding'),
    afterClose: phase('afterClose'),
    churn: { cps: m((x) => x.churn.cps) },
    cpuPct: m((x) => x.cpuPct),
    backlogDrops: m((x) => x.backlogDrops),
    clientRtos: m((x) => x.clientRtos),
  };
}

const RR_ARGS = ['rr', '--duration', '1.5', '--warmup', '0.2'];
const CHURN_ARGS = ['churn', '--duration', '1.5', '--parallel', '4'];

/** A row whose forwarder takes one port (intercept): started for each workload on that workload's port, stopped after it. */
async function perWorkloadRow(lab, v, ctx, want) {
  const row = {};
  const steps = [
    ['bulk', () => bulk(lab, ctx, v.bulkMB ?? opts.bulkMB)],
    ['rr', () => peerRun(lab, ctx, RR_ARGS, 15_000)],
    ['churn', () => churnRun(lab, ctx)],
  ];
  for (const [w, workload] of steps) {
    if (!want(w)) continue;
    let fwd;
    try {
      fwd = await v.start(lab, WORKLOAD_PORTS[w]);
    } catch (err) {
      ctx.note(`${w}: did not start: ${err.message}`);
      continue;
    }
    ctx.fwdPid = fwd.pid;
    try {
      row[w] = await workload();
    } catch (err) {
      ctx.note(`${w}: workload failed: ${err.message}`);
    } finally {
      await fwd.stop();
    }
  }
  return row;
}

/** The client namespace's sysctls (bench/lab.js setupLab) in another namespace whose programs connect out too. */
async function runSysctls(ns) {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv4.ip_local_port_range=10000 65000', 'net.ipv4.tcp_tw_reuse=1'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sysctl in ${ns}: ${r.stderr.trim()}`);
}

// ── profiles the bench writes for itself ──────────────────────────────

function writeProfiles(dir) {
  // Ten rules on a role that never occurs here (window probes from the server)
  // and on ports nobody uses: each is evaluated on every segment, none matches.
  const rules10 = ['name: bench-10-rules', 'description: ten rules that never match (bench)', 'rules:'];
  for (let i = 1; i <= 10; i++) {
    rules10.push(`  - id: never-${i}`, `    match: {role: window-probe, from: server, port: ${i}}`, '    action: drop');
  }
  const delay = [
    'name: bench-delay',
    'description: delay the client data segments to port 9010 by 10 ms and to 9100 by 100 ms (bench)',
    'rules:',
    '  - id: delay-10',
    '    match: {from: client, role: data, port: 9010}',
    '    action: {delay: {ms: 10}}',
    '  - id: delay-100',
    '    match: {from: client, role: data, port: 9100}',
    '    action: {delay: {ms: 100}}',
  ];
  writeFileSync(join(dir, 'rules10.yaml'), rules10.join('\n') + '\n');
  writeFileSync(join(dir, 'delay.yaml'), delay.join('\n') + '\n');
  return { rules10: join(dir, 'rules10.yaml'), delay: join(dir, 'delay.yaml') };
}

// ── the run ───────────────────────────────────────────────────────────

function memoryRun(busy) {
  return new Promise((resolve) => {
    const args = ['--expose-gc', MEMORY, '10000', ...(busy ? ['--busy'] : [])];
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('exit', (code) => {
      clearTimeout(timer);
      try {
        resolve(code === 0 ? JSON.parse(out) : null);
      } catch {
        resolve(null);
      }
    });
  });
}

/** Builds bench/c-bridge.c with the C compiler bootstrap installs (g++ brings gcc). */
function compileCBridge(dir) {
  const path = join(dir, 'c-bridge');
  const r = spawnSync('gcc', ['-O2', '-o', path, join(HERE, 'c-bridge.c')], { encoding: 'utf8' });
  if (r.status === 0) return { path };
  return { error: `c-bridge.c does not compile: ${(r.error?.message ?? r.stderr).split('\n')[0]}` };
}

async function main() {
  if (process.getuid?.() !== 0) {
    process.stderr.write('bench: needs root (network namespaces, libpcap); run it with sudo\n');
    return 2;
  }
  if (opts.withScapy && !(await scapyInstalled())) {
    process.stderr.write("bench: --with-scapy needs Debian's python3-scapy for /usr/bin/python3: apt-get install python3-scapy\n");
    return 2;
  }
  const tmp = mkdtempSync(join(tmpdir(), 'tcpmitm-bench-'));
  const files = writeProfiles(tmp);
  const profiles = {
    passthrough: await loadProfile('passthrough'),
    rules10: await loadProfile(files.rules10),
    delay: await loadProfile(files.delay),
  };
  let uiAvailable = true;
  let uiReason = '';
  try {
    await import('../dist/ui/start.js');
  } catch (err) {
    uiAvailable = false;
    uiReason = `the terminal UI does not load: ${err.message.split('\n')[0]}`;
  }
  const cBridge = compileCBridge(tmp);
  const nodeArgs = opts.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProf}`] : [];

  const variants = [
    { key: 'bridge', label: 'kernel bridge (br0)', start: (lab) => startBridge(lab) },
    { key: 'cbridge', label: 'bare C bridge, same syscalls', start: (lab) => startBareBridge(lab, FWD_CPU(), 'c', cBridge.path), na: cBridge.error },
    { key: 'capbridge', label: 'bare Node bridge over cap', start: (lab) => startBareBridge(lab, FWD_CPU(), 'cap') },
    { key: 'pktbridge', label: 'bare Node bridge, packet addon', start: (lab) => startBareBridge(lab, FWD_CPU(), 'packet') },
    { key: 'passthrough', label: 'tcpmitm passthrough', start: (lab) => startTcpmitm(lab, { profile: profiles.passthrough, nodeArgs, cpu: FWD_CPU() }) },
    // What `tcpmitm lab up` runs by default: the kernel probe on (auto: the tracepoint where tracefs works).
    { key: 'probe', label: 'tcpmitm passthrough, probe auto', probeStats: true, start: (lab) => startTcpmitm(lab, { profile: profiles.passthrough, nodeArgs, cpu: FWD_CPU(), kernelProbe: 'auto', probeStatsFile: join(tmp, 'probe-stats.json') }) },
    { key: 'rules10', label: 'tcpmitm, 10 rules (none match)', start: (lab) => startTcpmitm(lab, { profile: profiles.rules10, nodeArgs, cpu: FWD_CPU() }) },
    { key: 'ptynoui', label: 'tcpmitm in a pty, text log', start: (lab) => startTcpmitm(lab, { profile: profiles.passthrough, pty: true, nodeArgs, cpu: FWD_CPU() }) },
    { key: 'ui', label: 'tcpmitm + UI in a pty', start: (lab) => startTcpmitm(lab, { profile: profiles.passthrough, ui: true, nodeArgs, cpu: FWD_CPU() }), na: uiAvailable ? undefined : uiReason },
    ...(opts.withScapy ? [{ key: 'scapy', label: 'scapy bridge_and_sniff', start: (lab) => startScapy(lab, FWD_CPU()), bulkMB: 20 }] : []),
    // Intercept: the loopback of the server namespace (client and server both there, MTU 65 536,
    // offloads on), bare and through `tcpmitm intercept` on each workload's port in turn
    // (a run per workload: intercept takes one port); ratios to the bare loopback. 1000 MB
    // bulk: 200 MB cross the bare loopback in under 0.1 s, too short to measure.
    { key: 'loopback', label: 'loopback (server netns), no tcpmitm', base: 'loopback', side: 'server', host: LOOPBACK, bulkMB: 1000, start: async () => ({ pid: undefined, stop: async () => {} }) },
    { key: 'intercept', label: 'tcpmitm intercept on that loopback', base: 'loopback', side: 'server', host: LOOPBACK, bulkMB: 1000, perWorkload: true, start: (lab, port) => startIntercept(lab, port, FWD_CPU(), opts.cpuProf) },
  ].filter((v) => !opts.only || opts.only.includes(v.key));
  const withLoopback = variants.some((v) => v.side === 'server');
  const withDelay = !opts.only || opts.only.includes('delay');

  const notes = [];
  const note = (m) => {
    notes.push(m);
    process.stderr.write(`bench: ${m}\n`);
  };
  const raw = Object.fromEntries(variants.map((v) => [v.key, []]));
  const delaySamples = { bridge: { 0: [], 10: [], 100: [] }, tcpmitm: { 0: [], 10: [], 100: [] } };

  let lab;
  let cleaning;
  const cleanup = async () => {
    cleaning ??= (async () => {
      try {
        if (lab) await lab.destroy();
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    })();
    return cleaning;
  };
  const onSignal = (sig) => {
    process.stderr.write(`bench: ${sig}: removing the lab\n`);
    void cleanup().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);

  let memory = { quiet: null, busy: null };
  let netemOk;
  let rounds = 0;
  try {
    process.stderr.write(`bench: lab ${opts.id}, ${opts.rounds} rounds of ${variants.map((v) => v.key).join(', ')}${withDelay ? ', delay' : ''}\n`);
    lab = await setupLab(opts.id);
    // Servers in the server namespace for the whole run.
    const iperf = lab.spawn('server', endpointArgv(['iperf3', '-s', '-p', '5201']), { stdio: ['ignore', 'ignore', 'pipe'] });
    const peerServer = lab.spawn('server', endpointArgv([process.execPath, PEER, 'server', '--host', SERVER]), { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve, reject) => {
      peerServer.stdout.once('data', resolve);
      peerServer.once('exit', (c) => reject(new Error(`bench server exited ${c}`)));
    });
    if (withLoopback) {
      // The loopback rows' bench server (iperf3 listens on every address already); their churn's
      // TIME-WAITs are the server namespace's own, as the client namespace's are for the other rows.
      await runSysctls(lab.namespaces.server);
      const loServer = lab.spawn('server', endpointArgv([process.execPath, PEER, 'server', '--host', LOOPBACK]), { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise((resolve, reject) => {
        loServer.stdout.once('data', resolve);
        loServer.once('exit', (c) => reject(new Error(`loopback bench server exited ${c}`)));
      });
    }
    await sleep(100);

    let roundS = 0;
    for (let r = 0; r < opts.rounds; r++) {
      if (r > 0 && elapsedS() + roundS > BUDGET_S) {
        note(`stopped after ${r} rounds to stay within ${BUDGET_S} s`);
        break;
      }
      const rs = Date.now();
      for (const v of variants) {
        if (v.na) continue;
        const ctx = { note: (m) => note(`round ${r + 1} ${v.key}: ${m}`), iperfServerPid: iperf.pid, fwdPid: undefined, side: v.side, host: v.host };
        process.stderr.write(`bench: round ${r + 1}/${opts.rounds} ${v.label}\n`);
        const want = (w) => !opts.workloads || opts.workloads.includes(w);
        if (v.perWorkload) {
          raw[v.key].push(await perWorkloadRow(lab, v, ctx, want));
          continue;
        }
        let fwd;
        try {
          fwd = await v.start(lab);
        } catch (err) {
          ctx.note(`did not start: ${err.message}`);
          raw[v.key].push({ failed: err.message });
          continue;
        }
        ctx.fwdPid = fwd.pid;
        const row = {};
        try {
          if (want('bulk')) row.bulk = await bulk(lab, ctx, v.bulkMB ?? opts.bulkMB);
          if (want('rr')) row.rr = await peerRun(lab, ctx, RR_ARGS, 15_000);
          if (want('churn')) row.churn = await churnRun(lab, ctx);
          if (want('scale') && r < opts.scaleRounds && SCALE_ROWS.includes(v.key)) row.scale = await scaleRun(lab, ctx);
          if (v.key === 'bridge' && withDelay) {
            const base = await delayErrors(lab, ctx, undefined, DELAYS.filter((d) => d.ms === 0));
            delaySamples.bridge[0].push(...base[0]);
          }
          if (v.key === 'bridge' && withDelay && netemOk !== false) {
            try {
              const d = await delayErrors(lab, ctx, (ms) => setNetem(lab, ms), DELAYS.filter((d) => d.ms > 0));
              for (const ms of [10, 100]) delaySamples.bridge[ms].push(...d[ms]);
              netemOk = true;
            } catch (err) {
              // The kernel reference is optional: not every kernel has sch_netem.
              netemOk = false;
              ctx.note(`kernel netem reference unavailable: ${err.message.split('\n')[0]}`);
            }
          }
          if (fwd.uiBytes) row.uiBytes = fwd.uiBytes();
        } catch (err) {
          ctx.note(`workload failed: ${err.message}`);
        } finally {
          await fwd.stop();
        }
        if (fwd.stderr?.length) ctx.note(`session stderr: ${fwd.stderr.slice(-3).join(' | ')}`);
        if (v.probeStats) {
          try {
            row.probeStats = JSON.parse(readFileSync(join(tmp, 'probe-stats.json'), 'utf8'));
            rmSync(join(tmp, 'probe-stats.json'));
          } catch (err) {
            ctx.note(`kernel probe stats unreadable: ${err.message}`);
          }
        }
        raw[v.key].push(row);
      }
      if (withDelay) {
        process.stderr.write(`bench: round ${r + 1}/${opts.rounds} tcpmitm delay profile\n`);
        const ctx = { note: (m) => note(`round ${r + 1} delay: ${m}`) };
        try {
          const fwd = await startTcpmitm(lab, { profile: profiles.delay, nodeArgs, cpu: FWD_CPU() });
          try {
            const d = await delayErrors(lab, ctx);
            for (const ms of [0, 10, 100]) delaySamples.tcpmitm[ms].push(...d[ms]);
          } finally {
            await fwd.stop();
          }
        } catch (err) {
          ctx.note(err.message);
        }
      }
      rounds++;
      roundS = (Date.now() - rs) / 1000;
    }
    process.stderr.write('bench: tracker memory, 10 000 connections (in-process)\n');
    memory = { quiet: await memoryRun(false), busy: await memoryRun(true) };
  } finally {
    await cleanup();
  }

  // ── report ──
  const med = {};
  for (const v of variants) {
    const rows = raw[v.key].filter((x) => !x.failed);
    med[v.key] = {
      bulkMBps: median(rows.map((x) => x.bulk?.mbps)),
      forwarderCpuPct: median(rows.map((x) => x.bulk?.cpuPct)),
      rrTps: median(rows.map((x) => x.rr?.tps)),
      rrP50us: median(rows.map((x) => x.rr?.p50us)),
      rrP99us: median(rows.map((x) => x.rr?.p99us)),
      churnCps: median(rows.map((x) => x.churn?.cps)),
      churnCpuUs: median(rows.map((x) => x.churn?.cpuUsPerConn)),
      scale: medianScale(rows.filter((x) => x.scale).map((x) => x.scale)),
      probeStats: rows.find((x) => x.scale && x.probeStats)?.probeStats ?? null,
      rounds: rows.length,
      na: v.na,
    };
  }
  const base = med.bridge ?? {};
  const baseOf = Object.fromEntries(variants.map((v) => [v.key, v.base ?? 'bridge']));
  const cell = (key, k, higherIsBetter = true) => {
    const m = med[key];
    if (!m || m.na) return 'n/a';
    const b = med[baseOf[key]] ?? {};
    const r = key === baseOf[key] ? null : ratio(m[k], b[k]);
    return fmtNum(m[k]) + (higherIsBetter || r == null ? fmtRatio(r) : fmtRatio(r));
  };
  const header = ['', 'bulk MB/s', 'rr tx/s', 'rr p50 µs', 'rr p99 µs', 'churn conn/s', 'fwd CPU % (bulk)', 'fwd µs/conn (churn)'];
  const table = [header];
  for (const v of variants) {
    if (v.na) {
      table.push([v.label, 'n/a', 'n/a', 'n/a', 'n/a', 'n/a', `(${v.na})`, 'n/a']);
      continue;
    }
    table.push([
      v.label + (v.bulkMB ? ` [${v.bulkMB} MB bulk]` : ''),
      cell(v.key, 'bulkMBps'),
      cell(v.key, 'rrTps'),
      cell(v.key, 'rrP50us', false),
      cell(v.key, 'rrP99us', false),
      cell(v.key, 'churnCps'),
      v.key === 'bridge' || v.key === 'loopback' ? 'softirq' : fmtNum(med[v.key].forwarderCpuPct),
      v.key === 'bridge' || v.key === 'loopback' ? 'softirq' : fmtNum(med[v.key].churnCpuUs),
    ]);
  }
  // The scale workload: one run per row, figures as measured.
  const scaleVariants = variants.filter((v) => med[v.key]?.scale);
  const ms = (us) => (us == null ? 'n/a' : fmtNum(us / 1000));
  const scaleTable = [['', 'held', 'hold p50 ms', 'hold p99 ms', 'after close p50 ms', 'p99 ms', 'max ms', 'stalls', 'churn/50 conn/s', 'fwd CPU %', 'backlog drops', 'client RTOs']];
  for (const v of scaleVariants) {
    const x = med[v.key].scale;
    scaleTable.push([v.label, String(x.connections), ms(x.holding.p50us), ms(x.holding.p99us), ms(x.afterClose.p50us), ms(x.afterClose.p99us), ms(Math.max(x.holding.maxUs ?? 0, x.afterClose.maxUs ?? 0)), String(x.holding.stalls + x.afterClose.stalls), fmtNum(x.churn.cps), fmtNum(x.cpuPct), x.backlogDrops == null ? 'n/a' : String(x.backlogDrops), x.clientRtos == null ? 'n/a' : String(x.clientRtos)]);
  }
  const delay = {};
  for (const who of ['bridge', 'tcpmitm']) {
    delay[who] = {};
    for (const ms of [0, 10, 100]) {
      const xs = delaySamples[who][ms].map((us) => us / 1000);
      delay[who][ms] = { n: xs.length, p50ms: percentile(xs, 50), p99ms: percentile(xs, 99), maxMs: xs.length ? Math.max(...xs) : null };
    }
  }
  const placement = {};
  for (const v of variants) {
    const count = (xs) => xs.reduce((acc, c) => ((acc[`cpu${c}`] = (acc[`cpu${c}`] ?? 0) + 1), acc), {});
    const rows = raw[v.key].filter((x) => x.bulk);
    placement[v.key] = {
      forwarder: count(rows.flatMap((x) => x.bulk.placement.forwarder)),
      iperfClient: count(rows.flatMap((x) => x.bulk.placement.client)),
      iperfServer: count(rows.flatMap((x) => x.bulk.placement.server)),
    };
  }
  const cpuList = cpus();
  const machine = { cores: cpuList.length, cpu: cpuList[0]?.model ?? '?', node: process.version, kernel: release() };

  const lines = [];
  lines.push(`tcpmitm bench — ${machine.cores} cores (${machine.cpu}), Linux ${machine.kernel}, Node ${machine.node}`);
  lines.push(
    `${rounds} interleaved rounds, medians; (×) = ratio to the kernel bridge${withLoopback ? ' (the intercept row: to the bare loopback)' : ''}; ` +
      (opts.pin ? 'pinned: forwarder on CPU 1, endpoints on CPU 0' : 'nothing pinned (affinity: all cores)'),
  );
  lines.push('');
  lines.push(formatTable(table));
  lines.push('');
  if (scaleVariants.length) {
    lines.push(`scale (${opts.scaleRounds === 1 ? 'first round' : `first ${opts.scaleRounds} rounds, medians`}): ${opts.scaleConnections} connections held, a new probe connection's round trip every 10 ms for 5 s, all closed, 5 s more probes, then 5 s of churn with 50 workers beside the TIME-WAITs; a stall is a probe not answered within 3 s; backlog drops: frames the kernel dropped in its receive backlogs (host-wide), client RTOs: the client namespace's retransmission timeouts, both over the scale run`);
    lines.push(formatTable(scaleTable));
    const ps = med.probe?.probeStats;
    if (ps) {
      lines.push(
        `kernel probe's own cost over that round (${ps.source}, lookups via ${ps.tables}): ${ps.reads} reads, ${fmtNum(ps.totalMs / Math.max(1, ps.reads))} ms mean, ` +
          `${fmtNum(ps.maxMs)} ms max, ${ps.over1ms} over 1 ms, ${ps.over5ms} over 5 ms; ${ps.transitions} transitions, ${ps.lookups} 4-tuple lookups`,
      );
    }
    lines.push('');
  }
  const d = (who, ms) => {
    const x = delay[who][ms];
    return x.n ? `p50 ${fmtNum(x.p50ms)} ms, p99 ${fmtNum(x.p99ms)} ms (n=${x.n})` : 'n/a';
  };
  if (withDelay) {
    lines.push('delay precision, actual one-way latency minus requested (client → server, monotonic clock):');
    lines.push(`  tcpmitm no delay:      ${d('tcpmitm', 0)}    kernel bridge:       ${d('bridge', 0)}   (the path alone)`);
    lines.push(`  tcpmitm delay 10 ms:   ${d('tcpmitm', 10)}    kernel netem 10 ms:  ${d('bridge', 10)}`);
    lines.push(`  tcpmitm delay 100 ms:  ${d('tcpmitm', 100)}    kernel netem 100 ms: ${d('bridge', 100)}`);
  }
  const mem = (m) => (m ? `${fmtNum(m.heapMB)} MB heap + ${fmtNum(m.buffersMB)} MB Buffers (${m.established}/${m.connections} ESTAB)` : 'n/a');
  lines.push(`tracker memory, 10 000 connections: quiet ${mem(memory.quiet)}; busy link ${mem(memory.busy)}`);
  lines.push('CPU placement during bulk (samples every 50 ms):');
  for (const v of variants) {
    const p = placement[v.key];
    if (!p) continue;
    const fmt = (o) => Object.entries(o).map(([k, n]) => `${k}×${n}`).join(' ') || '-';
    lines.push(`  ${v.key.padEnd(12)} forwarder ${fmt(p.forwarder).padEnd(18)} iperf3 client ${fmt(p.iperfClient).padEnd(18)} iperf3 server ${fmt(p.iperfServer)}`);
  }
  const targets = [];
  const tgt = (name, ok, fig) => targets.push(`  ${ok == null ? '?' : ok ? 'met ' : 'MISS'}  ${name}: ${fig}`);
  const pt = med.passthrough;
  if (pt && base.bulkMBps) {
    const rb = ratio(pt.bulkMBps, base.bulkMBps);
    const rr = ratio(pt.rrTps, base.rrTps);
    const rc = ratio(pt.churnCps, base.churnCps);
    tgt('throughput ≥ 70% of the kernel bridge', rb == null ? null : rb >= 0.7, fmtRatio(rb).trim());
    tgt('request/response ≥ 50%', rr == null ? null : rr >= 0.5, fmtRatio(rr).trim());
    tgt('churn ≥ 80%', rc == null ? null : rc >= 0.8, fmtRatio(rc).trim());
  }
  if (withDelay) {
    const p99 = Math.max(delay.tcpmitm[10].p99ms ?? Infinity, delay.tcpmitm[100].p99ms ?? Infinity);
    tgt('delay error p99 ≤ 2 ms', Number.isFinite(p99) ? p99 <= 2 : null, `${fmtNum(p99)} ms`);
  }
  // The default configuration (kernel probe on) against the probe off: what the probe costs.
  const pr = med.probe;
  if (pr && pt && !pr.na) {
    const rc = ratio(pr.churnCps, pt.churnCps);
    tgt('churn with the kernel probe ≥ 90% of without', rc == null ? null : rc >= 0.9, fmtRatio(rc).trim());
  }
  if (pr?.scale && pt?.scale) {
    const a = pr.scale;
    const b = pt.scale;
    const hold = ratio(a.holding.p99us, b.holding.p99us);
    const after = ratio(a.afterClose.p99us, b.afterClose.p99us);
    const churn = ratio(a.churn.cps, b.churn.cps);
    const stalls = a.holding.stalls + a.afterClose.stalls;
    tgt(`probe rtt p99 at ${opts.scaleConnections} connections within 2× of probe off`, hold == null || after == null ? null : hold <= 2 && after <= 2, `holding ${fmtRatio(hold).trim()}, after close ${fmtRatio(after).trim()}`);
    tgt('no stall with the kernel probe', stalls === 0, `${stalls} probes unanswered within 3 s`);
    tgt(`churn (50 workers) beside ${opts.scaleConnections} TIME-WAITs with the probe ≥ 90% of without`, churn == null ? null : churn >= 0.9, fmtRatio(churn).trim());
  }
  if (memory.busy) tgt('10 000 connections ≤ 64 MB heap', memory.busy.heapMB <= 64, `${fmtNum(memory.busy.heapMB)} MB heap (${fmtNum(memory.busy.totalMB)} MB with Buffers, busy link)`);
  // The UI's cost: against the same session in the same kind of pty without it.
  const noUi = med.ptynoui && !med.ptynoui.na ? med.ptynoui : pt;
  if (med.ui && !med.ui.na && noUi) {
    const ru = ratio(med.ui.bulkMBps, noUi.bulkMBps);
    const rur = ratio(med.ui.rrTps, noUi.rrTps);
    tgt('with UI ≥ 90% of without', ru == null ? null : ru >= 0.9 && rur >= 0.9, `bulk ${fmtRatio(ru).trim()}, rr ${fmtRatio(rur).trim()}`);
  }
  if (med.scapy && pt) tgt('≥ 50× scapy bulk', ratio(pt.bulkMBps, med.scapy.bulkMBps) >= 50, fmtRatio(ratio(pt.bulkMBps, med.scapy.bulkMBps)).trim());
  if (targets.length) lines.push('targets (reported, not asserted):', ...targets);
  if (notes.length) lines.push('notes:', ...notes.map((n) => `  ${n}`));
  lines.push(`total ${elapsedS().toFixed(0)} s; raw figures in bench/results.json`);
  process.stdout.write(lines.join('\n') + '\n');

  writeFileSync(
    RESULTS,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        machine,
        config: { pin: opts.pin, rounds, requestedRounds: opts.rounds, bulkMB: opts.bulkMB, rrSeconds: 1.5, churnSeconds: 1.5, churnParallel: 4, delays: DELAYS, kernelProbe: { probe: 'auto', otherTcpmitmRows: 'off' }, scaleConnections: opts.scaleConnections, cpuProf: opts.cpuProf ?? null },
        medians: med,
        delay,
        delaySamplesMs: Object.fromEntries(Object.entries(delaySamples).map(([who, byMs]) => [who, Object.fromEntries(Object.entries(byMs).map(([ms, xs]) => [ms, xs.map((us) => Math.round(us) / 1000)]))])),
        memory,
        placement,
        raw,
        notes,
        table: lines,
        durationS: elapsedS(),
      },
      null,
      2,
    ) + '\n',
  );
  if (opts.flood) {
    // Its own lab and report (bench/flood-results.json): the memory bound under floods and churn.
    const f = spawnSync(process.execPath, [join(HERE, 'flood.js'), '--id', `${opts.id}f`, ...(opts.floodArgs ?? [])], { stdio: 'inherit' });
    if (f.status !== 0) return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bench: ${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
