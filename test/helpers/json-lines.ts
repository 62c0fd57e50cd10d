// A program run in a test's network namespace whose stdout is JSON lines
// (tcpmitm's built-in peers, the tests' Python peers): each line parsed as it
// comes. The child is pushed onto `children`, for the file's afterEach to kill.

import { spawn, type ChildProcess } from 'node:child_process';

export interface JsonLinesRun {
  readonly child: ChildProcess;
  /** Every line so far, parsed. */
  readonly lines: Record<string, unknown>[];
  /** Resolves with the exit code (null: killed by a signal). */
  readonly done: Promise<number | null>;
  kill(): void;
}

/** `ip netns exec NS ARGV…`; stderr is `stderr` ('ignore' by default). */
export function spawnJsonLines(ns: string, argv: readonly string[], children: ChildProcess[], stderr: 'ignore' | 'inherit' = 'ignore'): JsonLinesRun {
  const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', stderr] });
  children.push(child);
  const lines: Record<string, unknown>[] = [];
  let buf = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
    }
  });
  const done = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
  return { child, lines, done, kill: () => void child.kill('SIGKILL') };
}
