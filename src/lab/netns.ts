// Thin process helpers for network namespaces: run `ip`/`ethtool` and friends,
// list namespaces, find and signal the processes inside one, and spawn a
// command in a namespace. The only place in src/lab that spawns processes.

import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { constants } from 'node:os';
import { TcpmitmError } from '../cli/errors.js';

/** Where iproute2 bind-mounts named namespaces. */
export const NETNS_DIR = '/var/run/netns';

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion, feeding `input` on stdin; never throws for a non-zero exit. */
export function run(cmd: string, args: readonly string[], input?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? 128 + signalNumber(signal), stdout, stderr }));
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(input ?? '');
  });
}

/** Runs a command and throws E_LAB_SETUP with its stderr when it fails. */
export async function runOk(cmd: string, args: readonly string[], input?: string): Promise<RunResult> {
  const r = await run(cmd, args, input);
  if (r.code !== 0) {
    const what = [cmd, ...args].join(' ');
    throw new TcpmitmError('E_LAB_SETUP', `\`${what}\` failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  }
  return r;
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal ? (constants.signals[signal] ?? 0) : 0;
}

/** Exit status of a child as a shell reports it: the code, or 128 + signal number. */
export function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  return code ?? 128 + signalNumber(signal);
}

/** Names of the existing named namespaces (reads the directory; no process spawned). */
export function listNetns(): string[] {
  try {
    return readdirSync(NETNS_DIR);
  } catch {
    return [];
  }
}

/** Pids of every process whose network namespace is `ns` (`ip netns pids`). */
export async function netnsPids(ns: string): Promise<number[]> {
  const r = await run('ip', ['netns', 'pids', ns]);
  if (r.code !== 0) return [];
  return r.stdout
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number);
}

/** SIGKILLs every process in the namespace, so that deleting it frees it at once. */
export async function killNetnsProcesses(ns: string): Promise<void> {
  for (const pid of await netnsPids(ns)) {
    if (pid === process.pid) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** Spawns `argv` inside namespace `ns` (via `ip netns exec`, which execs in place: the child's pid is the command's). */
export function spawnInNetns(ns: string, argv: readonly string[], options: SpawnOptions = {}): ChildProcess {
  if (argv.length === 0) throw new TcpmitmError('E_USAGE', 'no command given to run in the namespace', 2);
  return spawn('ip', ['netns', 'exec', ns, ...argv], options);
}
