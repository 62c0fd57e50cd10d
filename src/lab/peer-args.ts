// A profile's `lab.server` / `lab.client` are the built-in peers' flags, and
// only the lab runs those peers: the lab checks them when it chooses the
// profile, with the peers' own parsers (exit 2 before any namespace exists).

import { parseArgs } from 'node:util';
import { clientOptionsFrom, serverOptionsFrom } from './peers/cli.js';
import { ExitCode, TcpmitmError } from '../cli/errors.js';
import type { Profile } from '../rules/schema.js';
import { resolveProfile, type ChosenProfile } from '../session/profile-choice.js';

/** resolveProfile, plus the check of the profile's built-in peer flags. */
export async function resolveLabProfile(nameOrPath: string, set: Readonly<Record<string, string>> = {}): Promise<ChosenProfile> {
  const chosen = await resolveProfile(nameOrPath, set);
  checkPeerArgs(chosen.file, chosen.lab);
  return chosen;
}

const PEER_FLAGS = {
  server: ['port', 'host', 'on-eof', 'send', 'keepalive', 'count', 'write-after-ms', 'close-after', 'timeout'],
  client: ['connect', 'send', 'recv', 'then', 'count', 'keepalive', 'write-after-ms', 'timeout'],
} as const;

/** Throws E_PROFILE (exit 2) for a `lab.server` / `lab.client` flag the built-in peer would refuse. */
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
