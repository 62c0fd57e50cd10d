// The kill sweep (issue 12 §4): `tcpmitm lab up` is SIGKILLed — the supervisor,
// and separately the session process — at offsets from 0 to 1.5 s after it
// started, while it creates the lab, once its run is up (on a loaded machine
// that can take longer than 1.5 s), and during its teardown (after a SIGINT). Afterwards nothing of it
// may remain: no namespace, no veth in any namespace (none lingering with a
// process in it, none in the root namespace), no registry record, no tracefs
// instance, no process. Where the session could clean up by itself (the
// supervisor died once the run had started; the session died and the
// supervisor lives) nothing may remain without any help; elsewhere nothing
// once `lab down --stale` has run. Each case has a registry of its own, so one
// case's `--stale` never does another's work. Bounded here (every 150 ms for the
// supervisor, 300 ms for the session, a few offsets into the lab's creation, once
// its run is up and into its teardown); TCPMITM_SWEEP_STEP_MS=50 runs it finer.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireRoot, uniqueLabId } from '../helpers/lab.js';
import { type RunningCli, ensureBuilt, labNamespaces, persistentTempVeths, readEvents, runCli, startCli } from '../helpers/run-lab.js';
import { tempDir } from '../helpers/temp.js';

const root = requireRoot();
const dir = tempDir('cl-sweep-');
const STEP = Number(process.env.TCPMITM_SWEEP_STEP_MS ?? 0);
const range = (step: number): number[] => Array.from({ length: Math.floor(1500 / step) + 1 }, (_, i) => i * step);
const SUPERVISOR_OFFSETS = range(STEP || 150);
const SESSION_OFFSETS = range(STEP || 300);
const AFTER_START_OFFSETS = STEP ? range(STEP).filter((t) => t <= 600) : [0, 100, 300];
/** Creation (after the record appears) and teardown take a few hundred ms: finer steps there. */
const SHORT_OFFSETS = STEP ? range(Math.max(1, STEP / 5)).filter((t) => t <= 300) : [0, 25, 50, 100];
const TRACE_INSTANCES = '/sys/kernel/tracing/instances';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Runs the cases at most `max` at a time (2 cores, shared). */
async function inBatches<T, R>(items: readonly T[], max: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: max }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  }));
  return out;
}

/** Fields of /proc/<pid>/stat after the command name: [state, ppid, pgrp, session, …]. */
function statFields(pid: number): string[] | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

function allPids(): number[] {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number);
}

/** What a case's lab is known by: the session id of everything it started (the CLI runs in a session of its own), its namespaces' inodes, its veths' MACs. */
interface Traces {
  readonly id: string;
  readonly sid: number;
  readonly inodes: Set<number>;
  readonly macs: Set<string>;
}

/** Adds what exists of lab `id` now to `tr`. */
function look(id: string, tr: Traces): void {
  for (const ns of labNamespaces(id)) {
    try {
      tr.inodes.add(statSync(join('/var/run/netns', ns)).ino);
      const links = execFileSync('ip', ['-n', ns, '-o', 'link', 'show'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      for (const m of links.matchAll(/link\/ether ([0-9a-f:]{17})/g)) tr.macs.add(m[1]!);
    } catch {
      // Removed meanwhile.
    }
  }
}

/**
 * Live processes of the lab: in its session, or in one of its namespaces
 * (even once the names are gone). Zombies are dead. A namespace's inode is
 * reused once it is freed: one that now carries another name is another's.
 */
function labProcesses(tr: Traces): string[] {
  const reused = new Set<number>();
  for (const name of readdirSync('/var/run/netns')) {
    if (name.startsWith(`${tr.id}-`)) continue;
    try {
      const ino = statSync(join('/var/run/netns', name)).ino;
      if (tr.inodes.has(ino)) reused.add(ino);
    } catch {
      // Removed meanwhile.
    }
  }
  const out: string[] = [];
  for (const pid of allPids()) {
    const f = statFields(pid);
    if (!f || f[0] === 'Z' || f[0] === 'X') continue;
    let ns = '';
    try {
      ns = readlinkSync(`/proc/${pid}/ns/net`);
    } catch {
      // Gone, or a kernel thread.
    }
    const inLab = [...tr.inodes].some((ino) => !reused.has(ino) && ns === `net:[${ino}]`);
    if (Number(f[3]) === tr.sid || inLab) out.push(`process ${pid} (${cmdline(pid) || '?'})${inLab ? ` in ${ns}` : ''}`);
  }
  return out;
}

/** Waits (bounded) until the lab has no live process; true when none is left. */
async function processesGone(tr: Traces, ms = 20_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (labProcesses(tr).length > 0) {
    if (Date.now() > end) return false;
    await sleep(20);
  }
  return true;
}

/** Everything of the lab still there: namespaces, registry files, trace instance, processes, veths in the root namespace. */
function leftovers(id: string, registry: string, tr: Traces): string[] {
  const left = labNamespaces(id).map((n) => `namespace ${n}`);
  if (existsSync(registry)) left.push(...readdirSync(registry).map((f) => `registry file ${f}`));
  if (existsSync(join(TRACE_INSTANCES, `tcpmitm-${id}`))) left.push(`trace instance tcpmitm-${id}`);
  left.push(...labProcesses(tr));
  const root = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  for (const mac of tr.macs) if (root.includes(`link/ether ${mac}`)) left.push(`a veth with MAC ${mac} in the root namespace`);
  return left;
}

/** Whatever a failed case left, removed so the next runs clean (never throws). */
function scrub(id: string, registry: string, tr: Traces): void {
  for (const p of labProcesses(tr)) {
    try {
      process.kill(Number(/^process (\d+)/.exec(p)![1]), 'SIGKILL');
    } catch {
      // Gone.
    }
  }
  for (const ns of labNamespaces(id)) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      // Gone.
    }
  }
  try {
    rmSync(join(TRACE_INSTANCES, `tcpmitm-${id}`), { recursive: false });
  } catch {
    // Absent or busy.
  }
  rmSync(registry, { recursive: true, force: true });
}

interface CaseResult {
  readonly label: string;
  /** What the case found it had to do. */
  readonly how: string;
  readonly left: string[];
}

/** From when the offset counts: the CLI's start, its registry record's creation, the run's `start` event, the SIGINT that starts the teardown. */
type Phase = 'run' | 'creating' | 'started' | 'teardown';
const PHASE_WORDS: Record<Phase, string> = { run: 'lab up started', creating: 'its record appeared', started: 'the run started', teardown: 'SIGINT' };

/**
 * One case: `lab up`, then SIGKILL of `target` at `offsetMs` after the start
 * (phase run) or after a SIGINT to the supervisor once the run is up (phase
 * teardown); then what must be left: nothing.
 */
async function sweepCase(target: 'supervisor' | 'session', phase: Phase, offsetMs: number): Promise<CaseResult> {
  const id = uniqueLabId('cls');
  const registry = tempDir('cl-sweep-reg-');
  const env = { ...process.env, TCPMITM_LAB_DIR: registry, FORCE_COLOR: '0' };
  const json = join(dir, `${id}.jsonl`);
  const started = (): boolean => {
    try {
      return readEvents(json).some((e) => e.type === 'start');
    } catch {
      return false; // A line half-written: not yet.
    }
  };
  const label = `${target} SIGKILLed ${offsetMs} ms after ${PHASE_WORDS[phase]}`;
  const cli: RunningCli = startCli(['lab', 'up', '--no-ui', '--id', id, '--json', json], 60_000, env);
  const tr: Traces = { id, sid: cli.child.pid!, inodes: new Set(), macs: new Set() };
  const t0 = performance.now();
  let how = '';
  const fail: string[] = [];
  try {
    if (phase === 'creating') {
      const record = join(registry, `${id}.json`);
      for (const end = Date.now() + 30_000; !existsSync(record) && cli.child.exitCode === null && Date.now() < end;) await sleep(5);
      if (!existsSync(record)) throw new Error(`${label}: the record never appeared`);
    } else if (phase !== 'run') {
      for (const end = Date.now() + 30_000; !started() && cli.child.exitCode === null && Date.now() < end;) await sleep(20);
      if (!started()) throw new Error(`${label}: the run never started`);
      look(id, tr);
      if (phase === 'teardown') process.kill(cli.child.pid!, 'SIGINT');
    }
    const t1 = performance.now();
    await sleep(offsetMs - (performance.now() - (phase === 'run' ? t0 : t1)));
    look(id, tr);
    if (target === 'supervisor') {
      // The session watches its supervisor from before its run starts: it must clean up by itself then.
      const selfCleaning = phase !== 'teardown' && started();
      const before = `${existsSync(join(registry, `${id}.json`)) ? 'record' : 'no record'}, ${labNamespaces(id).length} namespaces`;
      let killed = true;
      try {
        process.kill(cli.child.pid!, 'SIGKILL');
      } catch {
        killed = false; // The teardown was over already.
      }
      look(id, tr);
      await cli.exited;
      if (!(await processesGone(tr))) fail.push('processes still running 20 s after the kill');
      if (!killed) {
        how = 'it had already finished';
      } else if (selfCleaning) {
        how = `killed with the run up (${before}): the session removed the lab itself`;
      } else {
        const down = await runCli(['lab', 'down', '--stale'], 30_000, env);
        if (down.code !== 0) fail.push(`lab down --stale exited ${down.code}: ${down.stderr.trim()}`);
        how = `killed with ${before}; then lab down --stale: ${down.stdout.trim()}`;
      }
    } else {
      // The session is the one process of the CLI's session running inner-main.js; killed as soon as it is there.
      let pid: number | undefined;
      for (const end = Date.now() + 30_000; pid === undefined && cli.child.exitCode === null && Date.now() < end; await sleep(5)) {
        pid = allPids().find((p) => Number(statFields(p)?.[3]) === tr.sid && cmdline(p).includes('dist/lab/inner-main.js'));
      }
      const at = Math.round(performance.now() - (phase === 'run' ? t0 : t1));
      const during = phase === 'run' && started() ? ' (the run had started)' : '';
      look(id, tr);
      if (pid !== undefined) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // It ended by itself meanwhile (teardown).
        }
      }
      const run = await cli.done;
      const said = run.stderr.includes(`the session (pid ${pid}) was killed by SIGKILL; removing the lab`);
      if (phase !== 'teardown') {
        if (pid === undefined) fail.push('the session never appeared');
        if (run.code !== 1 || !said) fail.push(`the supervisor exited ${run.code} with ${JSON.stringify(run.stderr.trim())}`);
      } else if (!(run.code === 130 || (run.code === 1 && said))) {
        fail.push(`the supervisor exited ${run.code} with ${JSON.stringify(run.stderr.trim())}`);
      }
      if (!(await processesGone(tr))) fail.push('processes still running 20 s after the kill');
      how = pid === undefined ? `it had already finished; the supervisor exited ${run.code}` : `killed at ${at} ms${during}; the supervisor exited ${run.code} and removed the lab`;
    }
    return { label, how, left: [...fail, ...leftovers(id, registry, tr)] };
  } catch (err) {
    // A result, not a rejection: the other cases in flight must still get to clean up.
    return { label, how: 'the case failed', left: [String(err)] };
  } finally {
    try {
      process.kill(-cli.child.pid!, 'SIGKILL');
    } catch {
      // Gone.
    }
    scrub(id, registry, tr);
  }
}

describe.skipIf(root.skip)('kill sweep of `tcpmitm lab up` (real namespaces)', () => {
  let tmpBefore: Set<string>;
  beforeAll(async () => {
    ensureBuilt();
    tmpBefore = new Set(await persistentTempVeths());
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function sweep(cases: readonly [target: 'supervisor' | 'session', phase: Phase, offsetMs: number][]): Promise<void> {
    const results = await inBatches(cases, 3, ([target, phase, offset]) => sweepCase(target, phase, offset));
    console.log(results.map((r) => `${r.label}: ${r.how}; left: ${r.left.length ? r.left.join(', ') : 'nothing'}`).join('\n'));
    expect(results.filter((r) => r.left.length > 0)).toEqual([]);
    // The temporaries of the old topology code (tm<6 hex><c0|m0|m1|s0>): none appears any more.
    expect((await persistentTempVeths()).filter((n) => !tmpBefore.has(n))).toEqual([]);
  }

  it(`the supervisor, at ${SUPERVISOR_OFFSETS.length} offsets from 0 to 1.5 s`, async () => {
    await sweep(SUPERVISOR_OFFSETS.map((t) => ['supervisor', 'run', t] as const));
  }, 240_000);

  it(`the session, at ${SESSION_OFFSETS.length} offsets from 0 to 1.5 s`, async () => {
    await sweep(SESSION_OFFSETS.map((t) => ['session', 'run', t] as const));
  }, 240_000);

  it(`the supervisor while it creates the lab, at ${SHORT_OFFSETS.length} offsets after its record appeared`, async () => {
    await sweep(SHORT_OFFSETS.map((t) => ['supervisor', 'creating', t] as const));
  }, 240_000);

  it('either, once the run has started', async () => {
    await sweep(AFTER_START_OFFSETS.flatMap((t) => [['supervisor', 'started', t] as const, ['session', 'started', t] as const]));
  }, 240_000);

  it('either, during the teardown that a SIGINT starts', async () => {
    await sweep(SHORT_OFFSETS.flatMap((t) => [['supervisor', 'teardown', t] as const, ['session', 'teardown', t] as const]));
  }, 240_000);
});
