// The bench's lab and what forwards through it: one tcpmitm lab (built by
// tcpmitm's own createLab, so the topology is exactly the product's) whose
// middle namespace is, in turn, a kernel bridge, a tcpmitm session, or scapy;
// and the loopback of its server namespace, bare or through tcpmitm intercept.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createLab, labExists, removeLab } from '../dist/lab/topology.js';
import { netnsPids, runOk, run } from '../dist/lab/netns.js';
import { resolveProfile } from '../dist/session/profile-choice.js';
import { sessionNodeFlags } from '../dist/session/node-flags.js';
import { sendSessionConfig, sessionStdio } from '../dist/lab/session-link.js';
import { innerLabConfig } from '../dist/lab/inner-config.js';
import { DEFAULT_ESTABLISHED_MS, DEFAULT_MAX_CONNECTIONS, DEFAULT_STALE_MS } from '../dist/tcp/tracker.js';

const INNER_MAIN = fileURLToPath(new URL('../dist/lab/inner-main.js', import.meta.url));
const TCPMITM = fileURLToPath(new URL('../bin/tcpmitm.js', import.meta.url));
const PEER = fileURLToPath(new URL('./peer.js', import.meta.url));
const CAP_NOISE = /^Warning: .* - This may not actually work$/;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Builds the lab (removing a leftover of an earlier crashed bench with the same id first). */
export async function setupLab(id) {
  if (labExists(id)) await removeLab(id);
  const lab = await createLab({ id, ipv6: false });
  // Churn leaves thousands of client sockets in TIME-WAIT: a wide port range and
  // tw_reuse (per-namespace sysctls of our own client namespace) keep connect() from failing.
  await runOk('ip', ['netns', 'exec', lab.namespaces.client, 'sysctl', '-q', '-w', 'net.ipv4.ip_local_port_range=10000 65000', 'net.ipv4.tcp_tw_reuse=1']);
  return lab;
}

/** Waits until the client can reach the bench server (started first) through whatever forwards in the middle. */
export async function waitForPath(lab, deadlineMs = 10_000) {
  const r = await run('ip', ['netns', 'exec', lab.namespaces.client, process.execPath, PEER, 'probe', '--deadline', String(deadlineMs)]);
  if (r.code !== 0) throw new Error(`no path from client to server: ${r.stderr.trim()}`);
}

// ── forwarders ─────────────────────────────────────────────────────────

/** (1) The kernel: a Linux bridge joining m0 and m1, no STP, forwarding at once. */
export async function startBridge(lab) {
  const m = lab.namespaces.middle;
  await runOk('ip', ['-n', m, '-batch', '-'], ['link add br0 type bridge forward_delay 0 stp_state 0', 'link set m0 master br0', 'link set m1 master br0', 'link set br0 up'].join('\n') + '\n');
  await waitForPath(lab);
  return {
    pid: undefined,
    stop: async () => {
      await run('ip', ['-n', m, 'link', 'del', 'br0']);
    },
  };
}

/** netem on m1's egress: the kernel's own way of delaying the client's segments (a reference for delay precision). */
export async function setNetem(lab, ms) {
  const m = lab.namespaces.middle;
  if (ms === undefined) return void (await run('tc', ['-n', m, 'qdisc', 'del', 'dev', 'm1', 'root']));
  await runOk('tc', ['-n', m, 'qdisc', 'replace', 'dev', 'm1', 'root', 'netem', 'delay', `${ms}ms`]);
}

/** Resolves a built-in name or a file into the profile JSON the session takes (validated, as `tcpmitm lab` does). */
export function loadProfile(nameOrPath) {
  return resolveProfile(nameOrPath);
}

/**
 * (2)–(4) A tcpmitm session started exactly as `tcpmitm lab up --no-ui
 * --kernel-probe off` (or, with `kernelProbe: 'auto'`, as plain `lab up`) starts it (supervisor → `node dist/lab/inner-main.js` in
 * the middle namespace), on the already built lab. With `ui`, its stdout is a
 * pseudo-terminal (util-linux `script`) of 120×40 whose output we drain.
 * `options` overrides fields of the session's LabRunOptions.
 */
export async function startTcpmitm(lab, { profile, ui = false, pty = ui, nodeArgs = [], cpu, kernelProbe = 'off', probeStatsFile, options = {} }) {
  const config = {
    options: {
      id: lab.id,
      ipv6: false,
      profile: profile.name,
      set: {},
      port: 8080,
      peers: false,
      ui,
      segments: false,
      untilClosed: false,
      serverGraceS: 1,
      kernelProbe,
      timeWaitS: 60,
      finTimeoutS: 60,
      table: { maxConnections: DEFAULT_MAX_CONNECTIONS, establishedTimeoutS: DEFAULT_ESTABLISHED_MS / 1000, halfOpenTimeoutS: DEFAULT_STALE_MS / 1000 },
      // More options of LabRunOptions (bench/flood.js: table, json).
      ...options,
    },
    profile,
    // No sysctls: the bench measures a lab as `tcpmitm lab` runs it by default.
    lab: innerLabConfig(lab, { client: {}, server: {} }),
  };
  const argv = [process.execPath, ...sessionNodeFlags(config.options.table.maxConnections), ...nodeArgs, INNER_MAIN];
  // The kernel probe's own cost, written by the session when it stops (src/session/kernel-view.ts).
  const env = probeStatsFile ? { ...process.env, TCPMITM_PROBE_STATS: probeStatsFile } : process.env;
  const stderr = [];
  let child;
  let uiBytes = 0;
  if (!pty) {
    // The text log goes where `lab up > /dev/null` would send it.
    child = lab.spawn('middle', argv, { stdio: sessionStdio(['ignore', 'ignore', 'pipe']), env });
  } else {
    // Under `script`: a pseudo-terminal, and (as for a person at a terminal) a
    // session and scheduling autogroup of its own. The UI row and its
    // reference row both run this way, so they differ by the UI alone.
    const inner = ['ip', 'netns', 'exec', lab.namespaces.middle, ...argv].map(shellQuote).join(' ');
    // script(1) passes the session link (fd 3) on to the session.
    child = spawn('script', ['-qfc', `stty cols 120 rows 40; exec ${inner}`, '/dev/null'], { stdio: sessionStdio(['pipe', 'pipe', 'pipe']), env });
    child.stdout.on('data', (d) => (uiBytes += d.length));
  }
  sendSessionConfig(child, config);
  child.stderr.setEncoding('utf8').on('data', (d) => {
    for (const line of d.split('\n')) if (line && !CAP_NOISE.test(line)) stderr.push(line);
  });
  const exited = new Promise((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig)));
  let pid = pty ? undefined : child.pid;
  if (pty) pid = await findSessionPid(lab, exited);
  if (cpu !== undefined && pid !== undefined) await pin(pid, cpu);
  try {
    await Promise.race([waitForPath(lab), exited.then((c) => Promise.reject(new Error(`tcpmitm session exited (${c}): ${stderr.join(' | ')}`)))]);
    if (ui) {
      // Let the first frames render before measuring.
      const t0 = Date.now();
      while (uiBytes === 0 && Date.now() - t0 < 3000) await sleep(20);
      await sleep(200);
    }
  } catch (err) {
    await stopProcess(pid, child, exited);
    throw err;
  }
  return {
    pid,
    uiBytes: () => uiBytes,
    stderr,
    stop: () => stopProcess(pid, child, exited),
  };
}

/**
 * (5) `tcpmitm intercept --netns <the server namespace> --port P --host
 * 127.0.0.1 --no-ui`, as a user starts it (its text log drained, as `>
 * /dev/null` would): the loopback of the bench's own server namespace, port
 * P through netfilter's queue, the kernel probe on (intercept always runs
 * it). Ready once the run says its chain is in; the forwarder is the run's
 * child under the heap ceiling (src/session/heap-ceiling.ts).
 */
export async function startIntercept(lab, port, cpu, cpuProfDir) {
  // The flags reach the process that forwards too: intercept runs itself again with its execArgv (session/heap-ceiling.ts).
  const prof = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [];
  const args = [...prof, TCPMITM, 'intercept', '--netns', `/run/netns/${lab.namespaces.server}`, '--port', String(port), '--host', '127.0.0.1', '--no-ui'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const said = [];
  let ready = false;
  const onData = (d) => {
    for (const line of d.split('\n')) {
      if (line.includes('netfilter: ')) ready = true;
      else if (line.trim() && said.length < 20) said.push(line);
    }
  };
  child.stdout.setEncoding('utf8').on('data', onData);
  child.stderr.setEncoding('utf8').on('data', onData);
  let gone;
  const exited = new Promise((resolve) => child.once('exit', (c, s) => resolve((gone = c ?? s))));
  const stop = async () => {
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  };
  for (let i = 0; i < 400 && !ready && gone === undefined; i++) await sleep(25);
  if (!ready) {
    await stop();
    throw new Error(`tcpmitm intercept did not start (${gone ?? 'no netfilter line within 10 s'}): ${said.slice(-3).join(' | ')}`);
  }
  const r = await run('pgrep', ['-P', String(child.pid)]);
  const pid = Number(r.stdout.trim().split('\n')[0]) || child.pid;
  if (cpu !== undefined) await pin(pid, cpu);
  return { pid, stop };
}

/**
 * A bare bridge, no tracking: bench/cap-bridge.js (Node over libpcap),
 * bench/packet-bridge.js (Node over tcpmitm's addon), or the compiled
 * bench/c-bridge.c (`binary`): the floors under tcpmitm's own cost.
 */
export async function startBareBridge(lab, cpu, which, binary) {
  const argv = binary ? [binary, 'm0', 'm1'] : [process.execPath, fileURLToPath(new URL(`./${which}-bridge.js`, import.meta.url)), 'm0', 'm1'];
  const child = lab.spawn('middle', argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  const stderr = [];
  child.stderr.setEncoding('utf8').on('data', (d) => {
    for (const line of d.split('\n')) if (line && !CAP_NOISE.test(line)) stderr.push(line);
  });
  const exited = new Promise((resolve) => child.once('exit', (c, s) => resolve(c ?? s)));
  if (cpu !== undefined) await pin(child.pid, cpu);
  try {
    await Promise.race([waitForPath(lab), exited.then((c) => Promise.reject(new Error(`${which}-bridge exited (${c}): ${stderr.join(' | ')}`)))]);
  } catch (err) {
    await stopProcess(child.pid, child, exited);
    throw err;
  }
  return { pid: child.pid, stderr, stop: () => stopProcess(child.pid, child, exited) };
}

/** scapy's bridge_and_sniff between m0 and m1 (Debian's python3-scapy, system python). */
export async function startScapy(lab, cpu) {
  const code = "from scapy.all import bridge_and_sniff, conf\nconf.verb = 0\nbridge_and_sniff('m0', 'm1', store=False)";
  const child = lab.spawn('middle', ['/usr/bin/python3', '-c', code], { stdio: ['ignore', 'ignore', 'pipe'] });
  const stderr = [];
  child.stderr.setEncoding('utf8').on('data', (d) => stderr.push(d));
  const exited = new Promise((resolve) => child.once('exit', (c, s) => resolve(c ?? s)));
  if (cpu !== undefined) await pin(child.pid, cpu);
  try {
    await Promise.race([waitForPath(lab, 20_000), exited.then((c) => Promise.reject(new Error(`scapy exited (${c}): ${stderr.join('')}`)))]);
  } catch (err) {
    await stopProcess(child.pid, child, exited);
    throw err;
  }
  return { pid: child.pid, stop: () => stopProcess(child.pid, child, exited) };
}

export function scapyInstalled() {
  return new Promise((resolve) => {
    const p = spawn('/usr/bin/python3', ['-c', 'import scapy.all'], { stdio: 'ignore' });
    p.on('exit', (c) => resolve(c === 0));
    p.on('error', () => resolve(false));
  });
}

/** The node process of a UI session: the one process in the middle namespace besides the lab's holder. */
async function findSessionPid(lab, exited) {
  let gone = false;
  void exited.then(() => (gone = true));
  const holder = lab.nsPid('middle');
  for (let i = 0; i < 200 && !gone; i++) {
    for (const pid of await netnsPids(lab.namespaces.middle)) {
      if (pid === holder) continue;
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('inner-main.js')) return pid;
      } catch {
        // Gone meanwhile.
      }
    }
    await sleep(25);
  }
  return undefined;
}

/** SIGTERM (the session ends its run normally, writing a --cpu-prof profile), SIGKILL after 5 s. */
async function stopProcess(pid, child, exited) {
  const kill = (sig) => {
    try {
      if (pid !== undefined) process.kill(pid, sig);
      else child.kill(sig);
    } catch {
      // Already gone.
    }
  };
  kill('SIGTERM');
  const t = setTimeout(() => {
    kill('SIGKILL');
    child.kill('SIGKILL');
  }, 5000);
  await exited;
  clearTimeout(t);
}

/** Pins every thread of `pid` to one CPU (taskset -a). */
export async function pin(pid, cpu) {
  await runOk('taskset', ['-a', '-p', '-c', String(cpu), String(pid)]);
}

/** Processor a task last ran on (field 39 of /proc/<pid>/stat) and its utime+stime in clock ticks. */
export function procStat(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // f[0] is field 3 (state): field n is f[n - 3].
    return { cpu: Number(f[39 - 3]), ticks: Number(f[14 - 3]) + Number(f[15 - 3]) };
  } catch {
    return undefined;
  }
}

function shellQuote(s) {
  return /^[A-Za-z0-9_./=:-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
