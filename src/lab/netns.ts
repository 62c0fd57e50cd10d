// Thin process helpers for network namespaces: run `ip`/`ethtool` and friends,
// list namespaces, find and signal the processes inside one, and spawn a
// command in a namespace. The only place in src/lab that spawns processes.

import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
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

/**
 * Pids of every process whose network namespace is `ns` (what `ip netns pids`
 * prints, without spawning it: a listing process started from inside the lab
 * would count itself). Read from /proc: the nsfs inode of the bind-mounted name
 * is the one /proc/<pid>/ns/net links to.
 */
export function netnsPids(ns: string): number[] {
  let ino: number;
  try {
    ino = statSync(join(NETNS_DIR, ns)).ino;
  } catch {
    return [];
  }
  const target = `net:[${ino}]`;
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readlinkSync(`/proc/${name}/ns/net`) === target) pids.push(Number(name));
    } catch {
      // Gone meanwhile, or a kernel thread.
    }
  }
  return pids;
}

/** SIGKILLs every process in the namespace (but this one), so that deleting it frees it at once. */
export function killNetnsProcesses(ns: string): void {
  for (const pid of netnsPids(ns)) {
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
