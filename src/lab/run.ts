// `tcpmitm lab`: the supervisor. It checks privileges and the profile, builds
// the lab, starts the inline session *inside* the middle namespace (a packet
// socket binds to interfaces of the calling process's namespace, and Node
// cannot setns), waits for it, and removes the lab whatever happens: normal end,
// Ctrl-C, SIGTERM, a crash of the session.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LabRunOptions } from './run-options.js';
import { createLab, type Lab } from './topology.js';
import { preflight } from '../session/preflight.js';
import { ExitCode, TcpmitmError } from '../cli/errors.js';
import { resolveLabProfile } from './peer-args.js';
import { labAbilities } from './abilities.js';
import { refuseUnanswerable } from '../session/verdict.js';
import { SESSION_NODE_FLAGS, type InnerConfig } from './inner-config.js';

/** A closed terminal (hang-up) must not crash us before the lab is removed. */
function ignoreClosedTerminal(): () => void {
  const ignore = () => undefined;
  process.stdout.on('error', ignore);
  process.stderr.on('error', ignore);
  return () => {
    process.stdout.off('error', ignore);
    process.stderr.off('error', ignore);
  };
}

export async function runLab(opts: LabRunOptions): Promise<number> {
  preflight({ namespaces: true, capture: 'packet-addon' });
  // A bad profile never starts a run (exit 2, with file:line:col).
  const profile = await resolveLabProfile(opts.profile ?? 'passthrough', opts.set);
  // …nor one that asks what this run can never answer.
  refuseUnanswerable(profile, labAbilities(opts));

  let lab: Lab | undefined;
  let stopping = false;
  let child: ReturnType<typeof spawn> | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping && sig === 'SIGINT' && child && child.exitCode === null) {
      // Second Ctrl-C: the session is stuck; stop it hard (the lab is still removed).
      child.kill('SIGKILL');
      return;
    }
    // Passed on, SIGINT included: a terminal's Ctrl-C reaches the whole process
    // group, but `kill -INT <supervisor pid>` reaches only us, and the session
    // must end (and flush its log) either way. The session ignores the duplicate.
    if (child && child.exitCode === null) child.kill(sig);
    stopping = true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  const restoreTerminal = ignoreClosedTerminal();
  try {
    lab = await createLab({ id: opts.id, ipv6: opts.ipv6 });
    if (stopping) return 130;
    const config: InnerConfig = {
      options: opts,
      profile,
      lab: {
        id: lab.id,
        ipv6: lab.ipv6,
        namespaces: lab.namespaces,
        holderPids: { client: lab.nsPid('client'), server: lab.nsPid('server') },
      },
    };
    const innerMain = fileURLToPath(new URL('./inner-main.js', import.meta.url));
    child = lab.spawn('middle', [process.execPath, ...SESSION_NODE_FLAGS, innerMain], {
      stdio: ['inherit', 'inherit', 'pipe'],
      env: { ...process.env, TCPMITM_INNER: JSON.stringify(config) },
    });
    // Relayed as it comes (the UI's last escape sequences have no newline).
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => process.stderr.write(chunk));
    const code = await new Promise<number>((resolve) => {
      child!.on('exit', (c, sig) => resolve(c ?? (sig === 'SIGINT' ? 130 : sig === 'SIGTERM' ? 143 : 1)));
      child!.on('error', (err) => {
        process.stderr.write(`tcpmitm: cannot start the session: ${err.message}\n`);
        resolve(ExitCode.Runtime);
      });
    });
    return code;
  } catch (err) {
    if (err instanceof TcpmitmError) throw err;
    throw new TcpmitmError('E_LAB', `lab failed: ${(err as Error).message}`, ExitCode.Runtime);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
    if (lab) await lab.destroy();
    restoreTerminal();
  }
}
