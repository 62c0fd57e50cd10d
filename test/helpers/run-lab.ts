// Drives the real CLI (`node bin/tcpmitm.js lab …`) for end-to-end lab tests:
// spawns it with a private lab registry, collects its output and JSONL events,
// bounds every wait, and removes what a run left behind (namespaces, records).
// The built dist/ must be current: the first call runs scripts/bootstrap.sh.

import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, netnsList } from './lab.js';

export const BIN = join(REPO, 'bin/tcpmitm.js');

/**
 * A registry directory of our own: `lab down --stale` and `lab list` then see
 * only the labs these tests made, never another run's on the same machine.
 */
export const REGISTRY = `/tmp/tcpmitm-l3-registry-${process.pid}`;

export type LabEvent = Record<string, unknown> & { type: string; t: number };

let bootstrapped = false;
/**
 * Builds dist/ once per test file (quick when it is up to date). Under a lock:
 * the build starts with `rm -rf dist`, and two workers building at once would
 * delete each other's output. A build with type errors still emits (tsc has no
 * noEmitOnError here): with the lab's own entry points present we go on, with
 * a warning, so a type error elsewhere in the tree does not hide lab results.
 */
export function ensureBuilt(): void {
  if (bootstrapped) return;
  // The build after a failed one would `rm -rf dist` under a running lab of
  // another worker: remember which sources a failed build already compiled.
  const newest = newestSource();
  const marker = '/tmp/tcpmitm-l3-build-with-errors';
  const distOk = (): boolean => ['dist/cli/main.js', 'dist/lab/run.js', 'dist/lab/session.js', 'dist/lab/inner-main.js'].every((f) => existsSync(join(REPO, f)));
  if (existsSync(marker) && readFileSync(marker, 'utf8') === String(newest) && distOk()) {
    bootstrapped = true;
    return;
  }
  const r = spawnSync('flock', ['-w', '120', '/tmp/tcpmitm-bootstrap.lock', 'bash', join(REPO, 'scripts/bootstrap.sh')], { cwd: REPO, encoding: 'utf8' });
  if (r.status !== 0) {
    if (!distOk()) throw new Error(`bootstrap failed (${r.status}): ${r.stdout}${r.stderr}`);
    console.warn(`bootstrap reported errors; testing what tsc emitted:\n${r.stdout}${r.stderr}`);
    writeFileSync(marker, String(newest));
  }
  bootstrapped = true;
}

/** Newest modification time (ms) of the files the build reads. */
function newestSource(): number {
  let newest = 0;
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const d of ['src', 'types']) if (existsSync(join(REPO, d))) walk(join(REPO, d));
  return newest;
}

export function cliEnv(): NodeJS.ProcessEnv {
  mkdirSync(REGISTRY, { recursive: true });
  return { ...process.env, TCPMITM_LAB_DIR: REGISTRY, FORCE_COLOR: '0' };
}

export interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

export interface RunningCli {
  readonly child: ChildProcess;
  /** Output so far. */
  stdout(): string;
  stderr(): string;
  /**
   * Resolves when the process has exited and its output pipes have closed (it
   * is killed at the deadline). The pipes stay open as long as the session it
   * started lives: after a SIGKILL of the supervisor, wait for `exited`.
   */
  readonly done: Promise<CliRun>;
  /** Resolves with the exit code/signal as soon as the process itself has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `tcpmitm ARGS` (with `env`, default cliEnv()); SIGKILLed (whole group) if still running after `timeoutMs`. */
export function startCli(args: readonly string[], timeoutMs = 30_000, env: NodeJS.ProcessEnv = cliEnv()): RunningCli {
  ensureBuilt();
  const t0 = performance.now();
  // Own process group, so a timeout can kill the peers it spawned as well.
  const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }, timeoutMs);
  const done = new Promise<CliRun>((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: out, stderr: err, ms: performance.now() - t0 });
    }),
  );
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, stdout: () => out, stderr: () => err, done, exited };
}

/** Runs `tcpmitm ARGS` to completion (bounded). */
export function runCli(args: readonly string[], timeoutMs = 30_000, env?: NodeJS.ProcessEnv): Promise<CliRun> {
  return startCli(args, timeoutMs, env).done;
}

/** Parses a JSONL file written by `--json FILE` (missing file: no events). */
export function readEvents(path: string): LabEvent[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as LabEvent);
}

/** Waits until `pred` holds for the events in `path`, polling every 20 ms, at most `ms`. */
export async function waitForEvents(path: string, pred: (evs: LabEvent[]) => boolean, ms = 10_000): Promise<LabEvent[]> {
  const end = Date.now() + ms;
  for (;;) {
    let evs: LabEvent[] = [];
    try {
      evs = readEvents(path);
    } catch {
      // A line half-written: read again.
    }
    if (pred(evs)) return evs;
    if (Date.now() > end) throw new Error(`events in ${path} did not reach the expected point within ${ms} ms (${evs.length} events)`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits until the lab's three namespaces exist (bounded). */
export async function waitForLab(id: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (labNamespaces(id).length < 3) {
    if (Date.now() > end) throw new Error(`lab ${id} did not come up within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Inferred or kernel state sequence of one endpoint of one connection: [from0, to0, to1, …]. */
export function states(evs: readonly LabEvent[], endpoint: 'client' | 'server', source: 'inferred' | 'kernel', conn = 1): string[] {
  const own = evs.filter((e) => e.type === 'state' && e.endpoint === endpoint && e.source === source && e.conn === conn);
  if (own.length === 0) return [];
  return [String(own[0]!.from), ...own.map((e) => String(e.to))];
}

/** Which of the lab's namespaces exist now. */
export function labNamespaces(id: string): string[] {
  return netnsList().filter((n) => n === `${id}-c` || n === `${id}-m` || n === `${id}-s`);
}

export function registryFile(id: string): string {
  return join(REGISTRY, `${id}.json`);
}

export function registryIds(): string[] {
  try {
    return readdirSync(REGISTRY)
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -5));
  } catch {
    return [];
  }
}

/** MAC addresses of the lab's veths (c0, m0, m1, s0), read while the lab is up. */
export function labMacs(id: string): string[] {
  const macs: string[] = [];
  for (const [ns, devs] of [[`${id}-c`, ['c0']], [`${id}-m`, ['m0', 'm1']], [`${id}-s`, ['s0']]] as const) {
    for (const dev of devs) {
      const out = execFileSync('ip', ['-n', ns, '-o', 'link', 'show', 'dev', dev], { encoding: 'utf8' });
      const m = /link\/ether ([0-9a-f:]{17})/.exec(out);
      if (m) macs.push(m[1]!);
    }
  }
  return macs;
}

/** Interfaces in the root namespace carrying one of these MACs (a veth that survived its namespace). */
export function rootLinksWithMacs(macs: readonly string[]): string[] {
  const out = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => macs.some((m) => l.includes(`link/ether ${m}`)));
}

/**
 * Temporary veth names (tm<6 hex><c0|m0|m1|s0>) in the root namespace that
 * persist across two looks 600 ms apart: a lab being created elsewhere holds
 * them for a moment only, a leftover keeps them.
 */
export async function persistentTempVeths(): Promise<string[]> {
  const look = (): Set<string> =>
    new Set(
      // stderr quiet: a veth whose peer's namespace is going away draws 'Peer netns reference is invalid'.
      execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
        .split('\n')
        .map((l) => /^\d+: (tm[0-9a-f]{6}(?:c0|m0|m1|s0))[@:]/.exec(l)?.[1])
        .filter((n): n is string => n !== undefined),
    );
  const first = look();
  await new Promise((r) => setTimeout(r, 600));
  return [...look()].filter((n) => first.has(n));
}

/** Everything of lab `id` still present: namespaces and the registry record. */
export function leftovers(id: string): string[] {
  return [...labNamespaces(id), ...(existsSync(registryFile(id)) ? [registryFile(id)] : [])];
}

/** Removes lab `id` whatever state it is in (for afterEach); never throws. */
export function labDown(id: string): void {
  if (leftovers(id).length === 0) return;
  spawnSync(process.execPath, [BIN, 'lab', 'down', id], { cwd: REPO, env: cliEnv(), encoding: 'utf8', timeout: 15_000 });
  // Belt and braces: whatever `lab down` could not remove.
  for (const ns of labNamespaces(id)) {
    const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split(/\s+/).filter(Boolean);
    for (const p of pids) {
      try {
        process.kill(Number(p), 'SIGKILL');
      } catch {
        // Gone.
      }
    }
    spawnSync('ip', ['netns', 'del', ns]);
  }
  spawnSync('rm', ['-f', registryFile(id)]);
}

/**
 * Removes every lab in our private registry (for afterEach/afterAll): a run
 * whose id we did not choose (e.g. one that ignored --id) is found here too.
 */
export function labDownAll(): void {
  for (const id of registryIds()) labDown(id);
  if (registryIds().length === 0) rmSync(REGISTRY, { recursive: true, force: true });
}

/** afterEach of the lab tests: kill what is still running (whole groups), then remove every lab they made. */
export function stopRunsAndLabs(running: RunningCli[], ids: string[]): void {
  for (const r of running.splice(0)) {
    try {
      process.kill(-r.child.pid!, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  for (const id of ids.splice(0)) labDown(id);
  labDownAll();
}

/** Waits until `python3 -m http.server` in the server namespace says it serves. */
export function httpServerUp(json: string): Promise<LabEvent[]> {
  return waitForEvents(json, (evs) => evs.some((e) => e.type === 'app' && e.endpoint === 'server' && String(e.detail).startsWith('Serving HTTP')));
}
