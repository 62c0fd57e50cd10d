// `tcpmitm lab`: the supervisor. It checks privileges and the profile, builds
// the lab, starts the inline session *inside* the middle namespace (a packet
// socket binds to interfaces of the calling process's namespace, and Node
// cannot setns), waits for it, and removes the lab whatever happens: normal end,
// Ctrl-C, SIGTERM, a crash of the session.

import { fileURLToPath } from 'node:url';
import type { LabRunOptions } from './run-options.js';
import { createLab, type Lab } from './topology.js';
import { preflight } from '../session/preflight.js';
import { ExitCode, TcpmitmError } from '../cli/errors.js';
import { resolveLabProfile } from './peer-args.js';
import type { ChosenProfile } from '../session/profile-choice.js';
import { labAbilities } from './abilities.js';
import { refuseUnanswerable } from '../session/verdict.js';
import { refuseUnsendableSignals } from '../session/cue-check.js';
import { innerLabConfig, type InnerConfig } from './inner-config.js';
import { sessionNodeFlags } from '../session/node-flags.js';
import { sendSessionConfig, sessionStdio } from './session-link.js';
import { exitStatus } from './netns.js';
import { SignalRelay } from '../session/signal-relay.js';
import { applySysctls } from './sysctls.js';
import { resolveSysctls, sysctlsRecord } from '../rules/sysctls.js';
import { holdEcho } from '../ui/terminal-echo.js';

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

/**
 * Runs a lab. `chosen`: a profile already chosen and checked by the caller
 * (an exercise's, which may be written inside the exercise file) instead of
 * `opts.profile`, which then only names it.
 */
export async function runLab(opts: LabRunOptions, chosen?: ChosenProfile): Promise<number> {
  // Building the lab takes a while: keys typed meanwhile wait for the UI, unechoed (terminal-echo.ts).
  const restoreEcho = opts.ui ? holdEcho() : () => undefined;
  try {
    return await runLabEchoHeld(opts, chosen);
  } finally {
    restoreEcho();
  }
}

async function runLabEchoHeld(opts: LabRunOptions, chosen?: ChosenProfile): Promise<number> {
  preflight({ namespaces: true, capture: 'packet-addon' });
  // A bad profile never starts a run (exit 2, with file:line:col).
  const profile = chosen ?? (await resolveLabProfile(opts.profile ?? 'passthrough', opts.set));
  // …nor one that asks what this run can never answer.
  refuseUnanswerable(profile, labAbilities(opts));
  // …nor one that signals a program this run does not have (lab up).
  refuseUnsendableSignals(profile, labAbilities(opts));

  let lab: Lab | undefined;
  const relay = new SignalRelay();
  const restoreTerminal = ignoreClosedTerminal();
  // Building the lab takes a while: keys typed meanwhile wait for the UI, unechoed (terminal-echo.ts).
  const restoreEcho = opts.ui ? holdEcho() : () => undefined;
  try {
    lab = await createLab({ id: opts.id, ipv6: opts.ipv6 });
    if (relay.stopping) return exitStatus(null, relay.stopping);
    // Before any program starts: a socket takes some of them when it is made.
    const sysctls = await applySysctls(lab.namespaces, resolveSysctls([profile.lab?.sysctls, opts.sysctls]));
    const config: InnerConfig = {
      options: opts,
      profile,
      lab: innerLabConfig(lab, sysctlsRecord(sysctls)),
    };
    const innerMain = fileURLToPath(new URL('./inner-main.js', import.meta.url));
    const session = lab.spawn('middle', [process.execPath, ...sessionNodeFlags(opts.table.maxConnections), innerMain], { stdio: sessionStdio(['inherit', 'inherit', 'pipe']) });
    relay.relayTo(session);
    sendSessionConfig(session, config);
    // Relayed as it comes (the UI's last escape sequences have no newline).
    session.stderr!.setEncoding('utf8');
    session.stderr!.on('data', (chunk: string) => process.stderr.write(chunk));
    const code = await new Promise<number>((resolve) => {
      session.on('exit', (c, sig) => resolve(c ?? relay.statusOfKilled(sig, `the session (pid ${session.pid})`, '; removing the lab')));
      session.on('error', (err) => {
        process.stderr.write(`tcpmitm: cannot start the session: ${err.message}\n`);
        resolve(ExitCode.Runtime);
      });
    });
    return code;
  } catch (err) {
    if (err instanceof TcpmitmError) throw err;
    throw new TcpmitmError('E_LAB', `lab failed: ${(err as Error).message}`, ExitCode.Runtime);
  } finally {
    relay.hold();
    if (lab) {
      const left = await lab.destroy();
      if (left.length > 0) process.stderr.write(`tcpmitm: lab '${lab.id}' not fully removed: ${left.join('; ')}; run \`sudo tcpmitm lab down ${lab.id}\`\n`);
    }
    relay.dispose();
    restoreTerminal();
  }
}
