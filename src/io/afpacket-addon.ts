// Loads tcpmitm's native addon (native/afpacket) once, with an error that
// says how to build it.

import { createRequire } from 'node:module';
import { ExitCode, TcpmitmError } from '../cli/errors.js';

export type AfPacketAddon = typeof import('tcpmitm-afpacket');

/** What to run when the addon does not load (said by preflight and by the loader). */
export const BUILD_ADDON_HINT = 'build it with: npm rebuild tcpmitm-afpacket (it needs g++ make python3: sudo apt-get install -y g++ make python3)';

let addon: AfPacketAddon | undefined;

export function loadAfPacket(): AfPacketAddon {
  if (addon) return addon;
  try {
    addon = createRequire(import.meta.url)('tcpmitm-afpacket') as AfPacketAddon;
    return addon;
  } catch (err) {
    throw new TcpmitmError(
      'E_NATIVE',
      `tcpmitm's packet addon does not load: ${(err as Error).message.split('\n')[0]}`,
      ExitCode.Runtime,
      BUILD_ADDON_HINT,
    );
  }
}
