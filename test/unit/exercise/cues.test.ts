// What exercises 14 and 15 needed of the exercise format: programs of the
// exercise's own (lab.commands, not beside the built-in peer's flags), and
// evidence of how a program ended (exit) and of what tcpmitm did (actions:
// the signal sent, the release, forged RSTs), quoted as the text log prints them.

import { describe, expect, it } from 'vitest';
import { parseExercise } from '../../../src/exercise/parse.js';
import { readEvidence } from '../../../src/exercise/evidence.js';
import { messages } from '../../../src/exercise/messages.js';
import type { TcpmitmEvent } from '../../../src/engine/events.js';
import { BASE } from './cases.js';

const en = messages('en');

const RUN: TcpmitmEvent[] = [
  { type: 'action', t: 0.637, conn: 1, rule: 1, action: 'signal', detail: "sent SIGKILL to the server's program (pid 42, built-in server) on rule 1 (on data from client)" },
  { type: 'action', t: 0.644, conn: 1, rule: 1, action: 'release', detail: "the server's program (pid 42) exited (SIGKILL): released data from client after 7 ms" },
  { type: 'action', t: 0.7, conn: 2, action: 'rst', detail: 'forged RST to client seq=1 (by hand)' },
  { type: 'exit', t: 0.644, endpoint: 'server', command: 'built-in server', signal: 'KILL', by: 'cue', rule: 1 },
  { type: 'exit', t: 1.679, endpoint: 'client', command: "exec python3 - <<'PY' …", signal: 'PIPE', by: 'self' },
];

describe('exercise cues', () => {
  it('lab.commands run programs of its own; beside the built-in flags of the same end they are an error', () => {
    const ok = parseExercise(BASE.replace('  profile: passthrough\n', "  profile: passthrough\n  commands: {client: 'exec python3 w.py'}\n  server: ['--on-eof', 'close']\n"), 'x.yaml');
    expect(ok.lab.commands).toEqual({ client: 'exec python3 w.py' });
    expect(() => parseExercise(BASE.replace('  profile: passthrough\n', "  profile: passthrough\n  commands: {client: 'exec python3 w.py'}\n  client: ['--send', '1']\n"), 'x.yaml')).toThrow(
      "x.yaml:9:3: lab.client: the built-in client's flags beside lab.commands.client; expected one of them: the command replaces the built-in client",
    );
  });

  it('exit evidence: how that end ended, the rule that killed it, when', () => {
    expect(readEvidence({ exit: { endpoint: 'server' } }, RUN, en).text).toBe('killed by SIGKILL, sent by tcpmitm on rule 1 (a signal rule) at 0.644s (built-in server)');
    expect(readEvidence({ exit: { endpoint: 'client' } }, RUN, en).text).toBe("killed by SIGPIPE at 1.679s (exec python3 - <<'PY' …)");
    expect(readEvidence({ exit: { endpoint: 'client' } }, [], en)).toEqual({ text: en.notSeen, seen: false });
  });

  it('actions evidence: the text-log lines of the kinds and connection asked for', () => {
    expect(readEvidence({ actions: { action: 'signal' } }, RUN, en).text).toBe("+0.637s  #1 SIGNAL  sent SIGKILL to the server's program (pid 42, built-in server) on rule 1 (on data from client)  (rule 1)");
    expect(readEvidence({ actions: { action: ['signal', 'release'], conn: 1 } }, RUN, en).text.split('\n')).toHaveLength(2);
    expect(readEvidence({ actions: { conn: 2 } }, RUN, en).text).toBe('+0.700s  #2 RST  forged RST to client seq=1 (by hand)');
    expect(readEvidence({ actions: { action: 'drop' } }, RUN, en).seen).toBe(false);
  });
});
