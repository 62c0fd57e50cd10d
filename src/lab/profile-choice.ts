// The profile a run uses, chosen by `--profile NAME|FILE` and `--set k=v`:
// loaded and validated before anything starts (a bad profile exits 2), then
// handed to the session as plain JSON and compiled there into a Decider.

import { parseArgs } from 'node:util';
import { builtinProfileNames, loadProfileFile } from '../rules/load.js';
import { clientOptionsFrom, serverOptionsFrom } from './peers/cli.js';
import { ExitCode, TcpmitmError } from '../cli/errors.js';
import { compileProfile } from '../rules/match.js';
import type { Profile } from '../rules/schema.js';
import type { Decider } from '../engine/plan.js';

export interface ChosenProfile {
  readonly name: string;
  /** Where it came from, as messages show it ("profiles/drop-last-ack.yaml"). */
  readonly file: string;
  readonly profile: Profile;
  readonly lab?: Profile['lab'];
  readonly expect?: Profile['expect'];
  /** Built-in profile names, for the UI's picker. */
  readonly builtins: string[];
}

export async function resolveProfile(nameOrPath: string, set: Readonly<Record<string, string>> = {}): Promise<ChosenProfile> {
  const loaded = loadProfileFile(nameOrPath, set);
  checkPeerArgs(loaded.file, loaded.profile.lab);
  return {
    name: loaded.profile.name,
    file: loaded.file,
    profile: loaded.profile,
    lab: loaded.profile.lab,
    expect: loaded.profile.expect,
    builtins: builtinProfileNames(),
  };
}

export function compileChosen(c: ChosenProfile): Decider {
  return compileProfile(c.profile);
}

const PEER_FLAGS = {
  server: ['port', 'host', 'on-eof', 'send', 'keepalive', 'count', 'write-after-ms', 'timeout'],
  client: ['connect', 'send', 'recv', 'then', 'count', 'keepalive', 'write-after-ms', 'timeout'],
} as const;

/**
 * A profile's `lab.server` / `lab.client` are the built-in peers' flags: they
 * are checked here, with the peers' own parsers, so a bad one stops the run
 * before any namespace exists (exit 2) instead of failing inside the lab.
 */
export function checkPeerArgs(file: string, lab: Profile['lab']): void {
  for (const which of ['server', 'client'] as const) {
    const argv = lab?.[which];
    if (!argv) continue;
    try {
      const { values } = parseArgs({
        args: [...argv],
        options: Object.fromEntries(PEER_FLAGS[which].map((f) => [f, { type: 'string' as const }])),
        strict: true,
        allowPositionals: false,
      });
      const flags = Object.fromEntries(Object.entries(values).map(([k, v]) => [k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()), v as string]));
      if (which === 'server') serverOptionsFrom(flags);
      else clientOptionsFrom({ connect: '198.18.0.2:8080', ...flags });
    } catch (err) {
      throw new TcpmitmError(
        'E_PROFILE',
        `${file}: lab.${which}: ${(err as Error).message}; expected flags of \`tcpmitm peer ${which}\` (${PEER_FLAGS[which].map((f) => `--${f}`).join(', ')})`,
        ExitCode.Usage,
      );
    }
  }
}
