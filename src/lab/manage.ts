// `tcpmitm lab list | down | exec`: find labs on this machine (registry records
// joined with the namespaces that exist), remove them — one by id or every one
// whose owner died — and run a command inside one of a lab's namespaces.

import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { ExitCode, TcpmitmError, UsageError } from '../cli/errors.js';
import { onPath } from '../session/program.js';
import { exitStatus, listNetns, spawnInNetns } from './netns.js';
import { listRecords, ownerAlive, readRecord, releaseLab, scanRegistry, type LabRecord } from './registry.js';
import { checkLabId } from './lab-id.js';
import { labExists, namespacesOf, parseSide, removeLab } from './topology.js';
import { preflight } from '../session/preflight.js';

export interface LabStatus {
  readonly id: string;
  /** Owner pid, if a record exists. */
  readonly pid?: number;
  readonly alive: boolean;
  /** ISO 8601 creation time, if a record exists. */
  readonly created?: string;
  readonly ipv6?: boolean;
  /** Which of <id>-c, <id>-m, <id>-s exist now. */
  readonly namespaces: readonly string[];
}

function statusOf(rec: LabRecord, present: Set<string>): LabStatus {
  return {
    id: rec.id,
    pid: rec.pid,
    alive: ownerAlive(rec),
    created: rec.created,
    ipv6: rec.ipv6,
    namespaces: Object.values(namespacesOf(rec.id)).filter((n) => present.has(n)),
  };
}

/** Every registered lab with its owner's liveness and the namespaces present. */
export function listLabs(): LabStatus[] {
  const present = new Set(listNetns());
  return listRecords().map((r) => statusOf(r, present));
}

export interface StaleSweep {
  /** Labs removed whole. */
  readonly removed: string[];
  /** Labs of which something could not be removed (their records stay): what, for each. */
  readonly incomplete: { readonly id: string; readonly left: string[] }[];
  /** What was done about registry files that are not valid records. */
  readonly damaged: string[];
}

/** How old an empty record must be before it is taken for a claim cut short (its owner writes it right after creating it). */
const EMPTY_RECORD_GRACE_MS = 10_000;

/**
 * Removes every lab whose owner is gone. Only labs with a valid registry
 * record are considered: a namespace triple without one may belong to
 * someone else, and a record whose own id is not its file name, or that is
 * not JSON, was not written by tcpmitm and is left alone — except an empty
 * one, what a claim killed between its create and its write leaves. `only`
 * restricts it to those ids (tests use it so as not to touch other runs).
 */
export async function removeStaleLabs(only?: readonly string[], now: number = Date.now()): Promise<StaleSweep> {
  const sweep: StaleSweep = { removed: [], incomplete: [], damaged: [] };
  const { records, damaged } = scanRegistry();
  for (const rec of records) {
    if (only && !only.includes(rec.id)) continue;
    if (ownerAlive(rec)) continue;
    const left = await removeLab(rec.id);
    if (left.length === 0) sweep.removed.push(rec.id);
    else sweep.incomplete.push({ id: rec.id, left });
  }
  for (const d of damaged) {
    if (only && !only.includes(d.id)) continue;
    if (d.problem === 'empty' && now - d.mtimeMs > EMPTY_RECORD_GRACE_MS) {
      releaseLab(d.id);
      sweep.damaged.push(`removed ${d.file} (empty: a claim cut short)`);
    } else if (d.problem !== 'empty') {
      sweep.damaged.push(`left ${d.file} alone: it is not a lab record (${d.problem}); remove it by hand if you know it is no lab's`);
    }
  }
  return sweep;
}

function age(created: string | undefined, now: number): string {
  if (!created) return '?';
  const s = Math.max(0, Math.round((now - Date.parse(created)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${Math.round(s / 3600)}h`;
}

/** Renders `lab list` as a table (pure: `now` is a parameter). */
export function formatLabTable(labs: readonly LabStatus[], now: number): string {
  if (labs.length === 0) return 'no labs\n';
  const rows = [
    ['ID', 'OWNER', 'ALIVE', 'AGE', 'IPV6', 'NAMESPACES'],
    ...labs.map((l) => [
      l.id,
      l.pid === undefined ? '-' : String(l.pid),
      l.alive ? 'yes' : 'no (stale)',
      age(l.created, now),
      l.ipv6 ? 'yes' : 'no',
      l.namespaces.length ? l.namespaces.join(' ') : '(none)',
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

export async function labListCommand(json: boolean): Promise<number> {
  const labs = listLabs();
  process.stdout.write(json ? JSON.stringify(labs) + '\n' : formatLabTable(labs, Date.now()));
  return ExitCode.Ok;
}

export async function labDownCommand(id: string | undefined, stale: boolean): Promise<number> {
  if (id !== undefined && stale) throw new UsageError('give either a lab id or --stale, not both');
  if (id === undefined && !stale) throw new UsageError('which lab? give its id, or --stale for every lab whose owner is gone', 'see `tcpmitm lab list`');
  if (id !== undefined) checkLabId(id);
  preflight({ namespaces: true, capture: false });
  if (stale) {
    const sweep = await removeStaleLabs();
    for (const note of sweep.damaged) process.stderr.write(`tcpmitm: note: ${note}\n`);
    for (const { id: lab, left } of sweep.incomplete) process.stderr.write(`tcpmitm: lab '${lab}' not fully removed: ${left.join('; ')}\n`);
    process.stdout.write(sweep.removed.length ? `removed ${sweep.removed.join(', ')}\n` : 'no stale labs\n');
    return sweep.incomplete.length > 0 ? ExitCode.Runtime : ExitCode.Ok;
  }
  const lab = id!;
  if (!labExists(lab)) {
    throw new TcpmitmError('E_LAB_UNKNOWN', `no lab '${lab}' on this machine`, ExitCode.Usage, 'see `tcpmitm lab list`');
  }
  const rec = readRecord(lab);
  if (rec && ownerAlive(rec) && rec.pid !== process.pid) {
    process.stderr.write(`tcpmitm: note: lab '${lab}' belonged to running pid ${rec.pid}; that run will now fail\n`);
  }
  const left = await removeLab(lab);
  if (left.length > 0) {
    throw new TcpmitmError('E_LAB_DOWN', `lab '${lab}' not fully removed: ${left.join('; ')}`, ExitCode.Runtime, `its record is kept: retry \`sudo tcpmitm lab down ${lab}\``);
  }
  process.stdout.write(`removed ${lab}\n`);
  return ExitCode.Ok;
}

/**
 * `lab exec ID WHERE -- CMD…`: runs CMD as root (this process's user) inside
 * one of the lab's namespaces, directly (no shell), and exits with its status.
 * What keeps it from running there is tcpmitm's exit 2 instead, never a code
 * the command could have returned: not root (`ip netns exec` would exit 255),
 * no such lab or place, or a command that is not there (`ip` would exit 1).
 */
export async function labExecCommand(id: string, where: string, cmd: readonly string[]): Promise<number> {
  checkLabId(id);
  const side = parseSide(where);
  if (!side) throw new UsageError(`'${where}' is not a place in a lab: expected client, server or middle`);
  if (cmd.length === 0) throw new UsageError('no command given', `e.g. tcpmitm lab exec ${id} ${side} -- curl http://198.18.0.2:8080/`);
  preflight({ namespaces: true, capture: false });
  const ns = namespacesOf(id)[side];
  if (!listNetns().includes(ns)) {
    throw new TcpmitmError('E_LAB_UNKNOWN', `no lab '${id}' here (namespace ${ns} does not exist)`, ExitCode.Usage, 'see `tcpmitm lab list`');
  }
  const program = cmd[0]!;
  if (!(program.includes('/') ? isExecutableFile(program) : onPath(program))) {
    throw new TcpmitmError('E_EXEC', `cannot run '${program}': ${program.includes('/') ? 'not an executable file' : 'not found on PATH'}`, ExitCode.Usage, 'give the command after `--`, e.g. `-- curl -s http://198.18.0.2:8080/`; it runs directly, not through a shell');
  }
  const child = spawnInNetns(ns, cmd, { stdio: 'inherit' });
  // The child shares the terminal: let it have Ctrl-C, and report its status.
  const ignore = (): void => undefined;
  process.on('SIGINT', ignore);
  try {
    return await new Promise<number>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code, signal) => resolve(exitStatus(code, signal)));
    });
  } finally {
    process.off('SIGINT', ignore);
  }
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, fsConstants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
