// Runs `tcpmitm lab --profile …` for the profile lab tests and reads back what
// the JSONL recorded: kernel and inferred state sequences with dwell times,
// segments, app events. Bounds how many labs run at once (2 cores).
// Builds on run-lab.ts (spawning, registry, clean-up).

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { labDown, readEvents, runCli, type CliRun, type LabEvent } from './run-lab.js';
import { limiter } from './limit.js';
import { tempDir } from './temp.js';

export const TMP = tempDir('tcpmitm-p4-');

/** Runs `fn` when fewer than 3 labs of this file are running. */
const limited = limiter(3);

export interface ProfileRun extends CliRun {
  readonly id: string;
  readonly events: LabEvent[];
  readonly json: string;
}

/**
 * `tcpmitm lab --id ID --no-ui --profile P --kernel-probe K --json F [args…]`,
 * bounded by `timeoutMs`, with the lab removed afterwards whatever happened.
 */
export async function runProfile(
  id: string,
  profile: string,
  opts: { probe?: 'trace' | 'proc' | 'off'; args?: readonly string[]; timeoutMs?: number } = {},
): Promise<ProfileRun> {
  const json = join(TMP, `${id}.jsonl`);
  const args = ['lab', '--id', id, '--no-ui', '--profile', profile, '--kernel-probe', opts.probe ?? 'trace', '--json', json, ...(opts.args ?? [])];
  try {
    const run = await limited(() => runCli(args, opts.timeoutMs ?? 40_000));
    return { ...run, id, events: readEvents(json), json };
  } finally {
    labDown(id);
  }
}

/** Writes a profile file under TMP and returns its path. */
export function writeProfile(name: string, text: string): string {
  const p = join(TMP, name);
  writeFileSync(p, text);
  return p;
}

/**
 * A Python server (the built-in peers' address and port) that accepts one
 * connection, greets it with "hello", then reads until EOF: it never closes by
 * itself, so whatever ends it is the test's doing. Written as `name` in TMP.
 */
export function writeGreeter(name: string): string {
  return writeProfile(
    name,
    `import os, socket
host, port = os.environ["TCPMITM_SERVER_ADDR"], int(os.environ["TCPMITM_SERVER_PORT"])
ls = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
c, _ = ls.accept()
c.sendall(b"hello")
while c.recv(1000):
    pass
`,
  );
}

export interface Dwell {
  readonly state: string;
  /** Seconds since the start of the run. */
  readonly t: number;
  /** Seconds in this state (undefined: still in it at the end). */
  readonly dwell?: number;
}

/** One endpoint's states for one source, each with how long it lasted; the first is the initial `from`. */
export function dwells(evs: readonly LabEvent[], endpoint: 'client' | 'server', source: 'inferred' | 'kernel', conn = 1): Dwell[] {
  const own = evs.filter((e) => e.type === 'state' && e.endpoint === endpoint && e.source === source && e.conn === conn);
  return own.map((e, i) => ({ state: String(e.to), t: e.t, dwell: i + 1 < own.length ? own[i + 1]!.t - e.t : undefined }));
}

/** The `to` states only, in order. */
export function seq(evs: readonly LabEvent[], endpoint: 'client' | 'server', source: 'inferred' | 'kernel', conn = 1): string[] {
  return dwells(evs, endpoint, source, conn).map((d) => d.state);
}

/** Whether `want` occurs in `seen` in order (a subsequence). */
export function isSubsequence(want: readonly string[], seen: readonly string[]): boolean {
  let i = 0;
  for (const s of seen) if (i < want.length && s === want[i]) i++;
  return i === want.length;
}

export function segments(evs: readonly LabEvent[], pred: (e: LabEvent) => boolean = () => true): LabEvent[] {
  return evs.filter((e) => e.type === 'segment' && pred(e));
}

export function appEvents(evs: readonly LabEvent[], endpoint: 'client' | 'server'): string[] {
  return evs.filter((e) => e.type === 'app' && e.endpoint === endpoint).map((e) => String(e.event));
}

/** A one-line summary for the test log: "ESTAB@0.412 → FIN-WAIT-1@0.420 …". */
export function show(evs: readonly LabEvent[], endpoint: 'client' | 'server', source: 'inferred' | 'kernel'): string {
  return dwells(evs, endpoint, source)
    .map((d) => `${d.state}@${d.t.toFixed(3)}`)
    .join(' → ');
}
