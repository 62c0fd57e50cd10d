// Keys typed while the run is being set up (the lab built, the UI loading)
// must not be echoed over the screen the UI is about to draw. `stty -echo`
// and not raw mode: raw mode would also turn Ctrl-C into a plain byte, and a
// Ctrl-C during the set-up must still interrupt it. The line discipline keeps
// what was typed; the UI reads it once it sets raw mode itself (type-ahead).

import { spawnSync } from 'node:child_process';

/**
 * Turns the terminal's echo off when stdin is one; returns the function that
 * puts back the settings found (also run at exit, whatever ends the process).
 * Where stdin is no terminal, or stty is missing, does nothing.
 */
export function holdEcho(stdin: { readonly isTTY?: boolean } = process.stdin): () => void {
  if (stdin.isTTY !== true) return () => undefined;
  // stty works on its stdin: ours, the terminal.
  const saved = spawnSync('stty', ['-g'], { stdio: ['inherit', 'pipe', 'ignore'], encoding: 'utf8', timeout: 2000 });
  const settings = saved.status === 0 ? saved.stdout.trim() : '';
  if (settings === '') return () => undefined;
  spawnSync('stty', ['-echo'], { stdio: ['inherit', 'ignore', 'ignore'], timeout: 2000 });
  let restored = false;
  const restore = (): void => {
    if (restored) return;
    restored = true;
    process.off('exit', restore);
    spawnSync('stty', [settings], { stdio: ['inherit', 'ignore', 'ignore'], timeout: 2000 });
  };
  process.on('exit', restore);
  return restore;
}
