// The lab registry: one JSON file per lab in /run/tcpmitm/labs/<id>.json that
// records who owns it. Claimed first (exclusive create, so an id can have only
// one owner) and released last, so a crashed owner's leftovers can be found.

import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, TcpmitmError } from '../cli/errors.js';

/** /run is a tmpfs: records vanish on reboot, as the namespaces do. Overridable for tests. */
export function registryDir(): string {
  return process.env.TCPMITM_LAB_DIR ?? '/run/tcpmitm/labs';
}

export interface LabRecord {
  readonly id: string;
  /** The owner process: the `tcpmitm lab` run (or test) that created it. */
  readonly pid: number;
  /** The owner's start time (field 22 of /proc/<pid>/stat) so a reused pid is not taken for the owner. */
  readonly pidStart?: number;
  /** ISO 8601. */
  readonly created: string;
  readonly ipv6: boolean;
  /** [client, middle, server] namespace names. */
  readonly namespaces: readonly string[];
}

function fileOf(id: string): string {
  return join(registryDir(), `${id}.json`);
}

/** Start time of a process in clock ticks since boot, or undefined when it does not exist. */
export function processStart(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: split after the last ")".
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = Number(rest[19]);
    return Number.isFinite(start) ? start : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the record's owner is still the process that claimed the lab. */
export function ownerAlive(rec: LabRecord): boolean {
  const start = processStart(rec.pid);
  if (start === undefined) return false;
  return rec.pidStart === undefined || rec.pidStart === start;
}

/** Claims `id` for this process; throws E_LAB_EXISTS (exit 2) when another record holds it. */
export function claimLab(id: string, ipv6: boolean, namespaces: readonly string[], now: Date = new Date()): LabRecord {
  const rec: LabRecord = {
    id,
    pid: process.pid,
    pidStart: processStart(process.pid),
    created: now.toISOString(),
    ipv6,
    namespaces,
  };
  mkdirSync(registryDir(), { recursive: true, mode: 0o755 });
  try {
    writeFileSync(fileOf(id), JSON.stringify(rec) + '\n', { flag: 'wx', mode: 0o644 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      const other = readRecord(id);
      const owner = other ? ` by pid ${other.pid}${ownerAlive(other) ? '' : ' (no longer running)'}` : '';
      throw new TcpmitmError(
        'E_LAB_EXISTS',
        `lab '${id}' is already in use${owner}`,
        ExitCode.Usage,
        other && !ownerAlive(other)
          ? `remove the leftover with \`sudo tcpmitm lab down ${id}\` (or \`lab down --stale\`), or pick another --id`
          : 'pick another --id, or see `tcpmitm lab list`',
      );
    }
    throw err;
  }
  return rec;
}

export function readRecord(id: string): LabRecord | undefined {
  try {
    const rec = JSON.parse(readFileSync(fileOf(id), 'utf8')) as LabRecord;
    return typeof rec.id === 'string' && typeof rec.pid === 'number' ? rec : undefined;
  } catch {
    return undefined;
  }
}

export function releaseLab(id: string): void {
  rmSync(fileOf(id), { force: true });
}

/** Every record on this machine, sorted by id; unreadable files are skipped. */
export function listRecords(): LabRecord[] {
  let names: string[];
  try {
    names = readdirSync(registryDir());
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.json'))
    .map((n) => readRecord(n.slice(0, -5)))
    .filter((r): r is LabRecord => r !== undefined)
    .sort((a, b) => a.id.localeCompare(b.id));
}
