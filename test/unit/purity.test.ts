// The pure layers (STYLE.md, DESIGN "Suggested layout") import no I/O and read
// no clock or randomness: time and rng come in as parameters. A textual check
// over every module, so a stray import fails the build.

import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');

/** Pure directories, and the few files in them whose job is I/O (named, so adding one is a decision). */
const PURE: Record<string, readonly string[]> = {
  'src/packet': [],
  'src/tcp': [],
  'src/rules': ['load.ts', 'emit-schema.ts'],
  'src/engine': ['runtime.ts', 'wake-timer.ts'],
  // load.ts reads files; lab-profile.ts loads the profile an exercise names; run.ts runs the lab.
  'src/exercise': ['load.ts', 'lab-profile.ts', 'run.ts'],
  // rules.ts is the rules as text; netfilter.ts runs iptables, leftovers.ts reads tracefs, session.ts runs the mode.
  'src/intercept': ['netfilter.ts', 'leftovers.ts', 'session.ts'],
  // tcpmitm ladder's generator: events in, SVG/HTML text out (the command reads and writes).
  'src/ladder': [],
};
/** Packages that do I/O on their own. */
const IO_PACKAGES = ['cap', 'raw-socket', 'ink', 'react'];

const files = Object.entries(PURE).flatMap(([dir, allowed]) =>
  readdirSync(join(root, dir))
    .filter((f) => f.endsWith('.ts') && !allowed.includes(f))
    .map((f) => relative(root, join(root, dir, f))),
);

describe('pure modules', () => {
  it('exist to be checked', () => {
    expect(files).toEqual(expect.arrayContaining(['src/packet/frame.ts', 'src/tcp/tracker.ts', 'src/engine/engine.ts', 'src/exercise/score.ts', 'src/exercise/reveal.ts', 'src/ladder/picture.ts']));
  });

  it.each(files)('%s imports no I/O and reads no clock or rng', (f) => {
    const text = readFileSync(join(root, f), 'utf8');
    const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*)'([^']+)'/g)].map((m) => m[1]!);
    for (const spec of specs) {
      const bad = spec.startsWith('node:') ? spec !== 'node:buffer' : IO_PACKAGES.includes(spec.split('/')[0]!);
      expect(bad, `${f} imports ${spec}`).toBe(false);
    }
    expect(text).not.toMatch(/\bDate\.now\(|Math\.random\(|performance\.now\(|\bprocess\.|\bsetTimeout\(|\bsetInterval\(/);
  });
});
