// `tcpmitm lab list | down | exec`: find labs on this machine (registry records
// joined with the namespaces that exist), remove them — one by id or every one
// whose owner died — and run a command inside one of a lab's namespaces.

import { ExitCode, TcpmitmError, UsageError } from '../cli/errors.js';
import { exitStatus, listNetns, spawnInNetns } from './netns.js';
import { listRecords, ownerAlive, readRecord, type LabRecord } from './registry.js';
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

/**
 * Removes every lab whose owner is gone. Only labs with a registry record are
 * considered: a namespace triple without one may belong to someone else.
 * `only` restricts it to those ids (tests use it so as not to touch other runs).
 */
export async function removeStaleLabs(only?: readonly string[]): Promise<string[]> {
  const removed: string[] = [];
  for (const rec of listRecords()) {
    if (only && !only.includes(rec.id)) continue;
    if (ownerAlive(rec)) continue;
    await removeLab(rec.id);
    removed.push(rec.id);
  }
  return removed;
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
  preflight({ namespaces: true, capture: false });
  if (stale) {
    const removed = await removeStaleLabs();
    process.stdout.write(removed.length ? `removed ${removed.join(', ')}\n` : 'no stale labs\n');
    return ExitCode.Ok;
  }
  const lab = id!;
  if (!labExists(lab)) {
    throw new TcpmitmError('E_LAB_UNKNOWN', `no lab '${lab}' on this machine`, ExitCode.Usage, 'see `tcpmitm lab list`');
  }
  const rec = readRecord(lab);
  if (rec && ownerAlive(rec) && rec.pid !== process.pid) {
    process.stderr.write(`tcpmitm: note: lab '${lab}' belonged to running pid ${rec.pid}; that run will now fail\n`);
  }
  await removeLab(lab);
  process.stdout.write(`removed ${lab}\n`);
  return ExitCode.Ok;
}

export async function labExecCommand(id: string, where: string, cmd: readonly string[]): Promise<number> {
  const side = parseSide(where);
  if (!side) throw new UsageError(`'${where}' is not a place in a lab: expected client, server or middle`);
  if (cmd.length === 0) throw new UsageError('no command given', `e.g. tcpmitm lab exec ${id} ${side} -- curl http://198.18.0.2:8080/`);
  const ns = namespacesOf(id)[side];
  if (!listNetns().includes(ns)) {
    throw new TcpmitmError('E_LAB_UNKNOWN', `no lab '${id}' here (namespace ${ns} does not exist)`, ExitCode.Usage, 'see `tcpmitm lab list`');
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
