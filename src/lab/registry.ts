// The lab registry: one JSON file per lab in /run/tcpmitm/labs/<id>.json that
// records who owns it. Claimed first (exclusive create, so an id can have only
// one owner) and released last, so a crashed owner's leftovers can be found.
// A record's file name is its identity: what a file says about its own id is
// checked against its name, never used to find what to remove.

import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, TcpmitmError } from '../cli/errors.js';
import { checkLabId, isLabId } from './lab-id.js';

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

/** A file in the registry named like a record that is not one (see `parseRecord`). */
export interface DamagedRecord {
  readonly id: string;
  readonly file: string;
  /** What is wrong with it. */
  readonly problem: string;
  /** Last modification, ms since the epoch. */
  readonly mtimeMs: number;
}

function fileOf(id: string): string {
  return join(registryDir(), `${checkLabId(id)}.json`);
}

/**
 * Start time of a process in clock ticks since boot, or undefined when it
 * does not exist — or is a zombie: dead, only not yet reaped by its parent.
 */
export function processStart(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: split after the last ")".
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest[0] === 'Z' || rest[0] === 'X') return undefined;
    const start = Number(rest[19]);
    return Number.isFinite(start) ? start : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the record's owner is still the process that claimed the lab. */
export function ownerAlive(rec: Pick<LabRecord, 'pid' | 'pidStart'>): boolean {
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
  const file = fileOf(id);
  mkdirSync(registryDir(), { recursive: true, mode: 0o755 });
  try {
    writeFileSync(file, JSON.stringify(rec) + '\n', { flag: 'wx', mode: 0o644 });
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

/**
 * Checks the text of `<id>.json` (pure): a record whose own id is not its
 * file's name, or whose owner is not a pid, is not trusted for anything.
 */
export function parseRecord(id: string, text: string): { ok: true; record: LabRecord } | { ok: false; problem: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { ok: false, problem: text.trim() === '' ? 'empty' : 'not JSON' };
  }
  if (typeof v !== 'object' || v === null) return { ok: false, problem: 'not a JSON object' };
  const r = v as Record<string, unknown>;
  if (r.id !== id) return { ok: false, problem: `its id ${JSON.stringify(r.id)} is not its file name's '${id}'` };
  if (!Number.isSafeInteger(r.pid) || (r.pid as number) <= 0) return { ok: false, problem: `its pid ${JSON.stringify(r.pid)} is not a process id` };
  if (r.pidStart !== undefined && !Number.isSafeInteger(r.pidStart)) return { ok: false, problem: `its pidStart ${JSON.stringify(r.pidStart)} is not a number` };
  return {
    ok: true,
    record: {
      id,
      pid: r.pid as number,
      ...(r.pidStart === undefined ? {} : { pidStart: r.pidStart as number }),
      created: typeof r.created === 'string' ? r.created : '',
      ipv6: r.ipv6 === true,
      namespaces: Array.isArray(r.namespaces) ? r.namespaces.filter((n): n is string => typeof n === 'string') : [],
    },
  };
}

export function readRecord(id: string): LabRecord | undefined {
  let text: string;
  try {
    text = readFileSync(fileOf(id), 'utf8');
  } catch {
    return undefined;
  }
  const r = parseRecord(id, text);
  return r.ok ? r.record : undefined;
}

/** Whether a file (valid or not) holds `id` in the registry. */
export function recordFileExists(id: string): boolean {
  try {
    statSync(fileOf(id));
    return true;
  } catch {
    return false;
  }
}

export function releaseLab(id: string): void {
  rmSync(fileOf(id), { force: true });
}

/**
 * Every file of the registry named `<lab id>.json`, sorted by id: the valid
 * records, and the damaged ones (a claim cut short between its create and its
 * write is empty; anything else was not written by tcpmitm). Files with other
 * names are not tcpmitm's and are not looked at.
 */
export function scanRegistry(): { records: LabRecord[]; damaged: DamagedRecord[] } {
  let names: string[];
  try {
    names = readdirSync(registryDir());
  } catch {
    return { records: [], damaged: [] };
  }
  const records: LabRecord[] = [];
  const damaged: DamagedRecord[] = [];
  for (const name of names.sort()) {
    if (!name.endsWith('.json')) continue;
    const id = name.slice(0, -5);
    if (!isLabId(id)) continue;
    const file = join(registryDir(), name);
    let text: string;
    let mtimeMs: number;
    try {
      mtimeMs = statSync(file).mtimeMs;
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // Removed meanwhile.
    }
    const r = parseRecord(id, text);
    if (r.ok) records.push(r.record);
    else damaged.push({ id, file, problem: r.problem, mtimeMs });
  }
  return { records, damaged };
}

/** Every valid record on this machine, sorted by id. */
export function listRecords(): LabRecord[] {
  return scanRegistry().records;
}
