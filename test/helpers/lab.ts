// Shared helpers for lab tests (real namespaces): the root check that fails in
// CI and skips with a stated reason elsewhere, unique lab ids, a compiled copy
// of the peers/topology for child processes, and a direct veth pair of two
// namespaces (no tcpmitm) for peer and probe tests.

import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tempDir } from './temp.js';

export const REPO = resolve(import.meta.dirname, '../..');

/** Lab tests need root; in CI (CI=true) its absence is a failure, elsewhere a stated skip. */
export function requireRoot(): { skip: boolean; reason?: string } {
  if (process.getuid?.() === 0) return { skip: false };
  const reason = 'lab tests need root (they create network namespaces): run `sudo npx vitest run test/lab`';
  if (process.env.CI === 'true') throw new Error(`${reason}; CI=true, so this fails instead of skipping`);
  console.warn(`skipping: ${reason}`);
  return { skip: true, reason };
}

/** The tracepoint the kernel probe reads (sock:inet_sock_set_state). */
export const TRACEFS_EVENT = '/sys/kernel/tracing/events/sock/inet_sock_set_state';

/**
 * Whether tests that compare with every kernel transition (the tracepoint)
 * must be skipped: only outside CI, with a warning; CI never skips them.
 */
export function skipWithoutTracepoint(): boolean {
  const skip = !existsSync(TRACEFS_EVENT) && process.env.CI !== 'true';
  if (skip) console.warn(`skipping: ${TRACEFS_EVENT} is absent (tracefs not mounted?)`);
  return skip;
}

/** A lab id unique across parallel workers, with the caller's prefix (≤ 12 chars). */
export function uniqueLabId(prefix: string): string {
  return `${prefix}${randomBytes(3).toString('hex')}`.slice(0, 12);
}

let built: string | undefined;
/**
 * Compiles the given entry points (and what they import) to a temp dir with
 * tsc, once per test file, so child processes can run them with plain node.
 * Returns the output dir, mirroring src/.
 */
export function compileForChildren(): string {
  if (built) return built;
  const out = tempDir('tcpmitm-tl-');
  const entries = ['src/lab/peers/main.ts', 'src/lab/topology.ts'];
  const r = spawnSync(
    process.execPath,
    [join(REPO, 'node_modules/typescript/bin/tsc'), '--ignoreConfig', '--outDir', out, '--rootDir', 'src', '--module', 'nodenext',
      '--target', 'es2022', '--strict', '--types', 'node', '--skipLibCheck', ...entries],
    { cwd: REPO, encoding: 'utf8' },
  );
  if (!existsSync(join(out, 'lab/peers/main.js'))) throw new Error(`compiling peers failed: ${r.stdout}${r.stderr}`);
  built = out;
  return out;
}

export interface PeerRun {
  readonly lines: Record<string, unknown>[];
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

/** Starts a built-in peer in a namespace; `done` resolves with every JSON line it printed. */
export function startPeer(ns: string, kind: 'server' | 'client', args: string[]): { child: ChildProcess; done: Promise<PeerRun>; lines: Record<string, unknown>[] } {
  const main = join(compileForChildren(), 'lab/peers/main.js');
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, main, kind, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  let out = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    let i: number;
    while ((i = out.indexOf('\n')) >= 0) {
      const l = out.slice(0, i);
      out = out.slice(i + 1);
      if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<PeerRun>((res) => child.on('close', (code, signal) => res({ lines, code, signal, stderr })));
  return { child, done, lines };
}

/** Waits until `pred` holds, polling every 10 ms, at most `ms`. */
export async function until(pred: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface VethPair {
  readonly ns: { client: string; server: string };
  /** A holder process in each namespace (for /proc/<pid>/net/tcp). */
  readonly pids: { client: number; server: number };
  destroy(): void;
}

/** Two namespaces <id>-c (198.18.0.1) and <id>-s (198.18.0.2) joined by one veth: no tcpmitm. */
export async function createVethPair(id: string): Promise<VethPair> {
  const ns = { client: `${id}-c`, server: `${id}-s` };
  const holders: ChildProcess[] = [];
  const destroy = (): void => {
    for (const h of holders) h.kill('SIGKILL');
    for (const n of Object.values(ns)) spawnSync('ip', ['netns', 'del', n]);
  };
  try {
    const tag = randomBytes(3).toString('hex');
    const batch = [
      `netns add ${ns.client}`,
      `netns add ${ns.server}`,
      `link add tv${tag}c type veth peer name tv${tag}s`,
      `link set dev tv${tag}c netns ${ns.client} name c0`,
      `link set dev tv${tag}s netns ${ns.server} name s0`,
    ].join('\n');
    execFileSync('ip', ['-batch', '-'], { input: batch + '\n' });
    for (const [n, dev, addr] of [[ns.client, 'c0', '198.18.0.1'], [ns.server, 's0', '198.18.0.2']] as const) {
      execFileSync('ip', ['-n', n, '-batch', '-'], { input: `link set lo up\naddr add ${addr}/24 dev ${dev}\nlink set ${dev} up\n` });
      const h = spawn('ip', ['netns', 'exec', n, 'sleep', '600'], { stdio: 'ignore' });
      holders.push(h);
    }
    // `ip netns exec` enters the namespace and then execs: until then the pid reads the root namespace.
    await until(() => holders.every((h) => readComm(h.pid!) === 'sleep'), 3000);
  } catch (err) {
    destroy();
    throw err;
  }
  return { ns, pids: { client: holders[0]!.pid!, server: holders[1]!.pid! }, destroy };
}

function readComm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

export function netnsList(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean);
}
