import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { builtinProfileNames, loadProfile, loadProfileFile, profilesDir } from '../../../src/rules/load.js';
import { profileSchemaText } from '../../../src/rules/emit-schema.js';
import { TcpmitmError } from '../../../src/cli/errors.js';
import { compileProfile } from '../../../src/rules/match.js';
import { parseProfile } from '../../../src/rules/parse.js';
import type { SegmentEvent } from '../../../src/engine/events.js';
import { Playbook } from '../engine/playbook.js';

const EXPECTED = ['blackhole', 'coalesce-fin-ack', 'delay-fin', 'drop-last-ack', 'forge-rst', 'passthrough', 'simultaneous-close', 'time-wait-assassination'];

describe('built-in profiles', () => {
  it('are the eight of the scenario catalogue', () => {
    expect(builtinProfileNames()).toEqual(EXPECTED);
  });

  it.each(EXPECTED)('%s loads, validates, has expectations for both ends and is commented', (name) => {
    const loaded = loadProfileFile(name);
    expect(loaded.builtin).toBe(true);
    expect(loaded.file).toBe(`profiles/${name}.yaml`);
    expect(loaded.profile.name).toBe(name);
    expect(loaded.profile.expect?.client?.states?.length).toBeGreaterThan(0);
    expect(loaded.profile.expect?.server?.states?.length).toBeGreaterThan(0);
    // A reader learns the scenario from the file: a header of comment lines.
    expect(loaded.text.split('\n').filter((l) => l.startsWith('#')).length).toBeGreaterThanOrEqual(8);
    // No placeholder survives substitution.
    expect(JSON.stringify(loaded.profile.rules)).not.toContain('${');
  });

  it('drop-last-ack drops all by default and N with --set times=N', () => {
    expect(loadProfile('drop-last-ack').rules?.[0]?.times).toBe('all');
    expect(loadProfile('drop-last-ack', { times: '3' }).rules?.[0]?.times).toBe(3);
  });

  it('delay-fin takes side and ms; a bad side is refused before the run', () => {
    const r = loadProfile('delay-fin', { side: 'client', ms: '500' }).rules?.[0];
    expect(r?.match?.from).toBe('client');
    expect(r?.action).toEqual({ delay: { ms: 500 } });
    expect(() => loadProfile('delay-fin', { side: 'middle' })).toThrow(
      "profiles/delay-fin.yaml: --set side=middle: 'middle' is not allowed; expected one of client, server",
    );
  });

  it('a value from --set that fails validation is reported at the placeholder, naming the parameter', () => {
    let err: unknown;
    try {
      loadProfile('delay-fin', { ms: '-5' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TcpmitmError);
    expect((err as TcpmitmError).exitCode).toBe(2);
    const text = readFileSync(`${profilesDir()}delay-fin.yaml`, 'utf8').split('\n');
    const line = text.findIndex((l) => l.includes('ms: ${ms}')) + 1;
    const col = text[line - 1]!.indexOf('${ms}') + 1;
    expect((err as TcpmitmError).message).toBe(
      `profiles/delay-fin.yaml:${line}:${col}: rules[0].action.delay.ms: -5 is negative; expected a delay in ms from 0 to 600000 (from parameter ms = -5)`,
    );
  });

  it('forge-rst takes to, trigger, bytes and instead', () => {
    const r = loadProfile('forge-rst', { to: 'both', trigger: 'data', bytes: '1000', instead: 'true' }).rules?.[0];
    expect(r?.action).toEqual({ rst: { to: 'both', instead: true } });
    expect(r?.match?.role).toBe('data');
    expect(r?.match?.afterBytes).toBe(1000);
    expect(() => loadProfile('forge-rst', { colour: 'red' })).toThrow(/no parameter 'colour'; expected one of to, trigger, bytes, instead/);
  });

  it('an unknown name is a usage error listing the built-ins', () => {
    expect(() => loadProfile('no-such-profile')).toThrow(/'no-such-profile' is neither a built-in profile nor a file; expected one of blackhole, /);
  });

  it('profiles/schema.json is exactly what the zod schema generates (UPDATE_SCHEMA=1 rewrites it)', () => {
    if (process.env['UPDATE_SCHEMA'] === '1') writeFileSync(`${profilesDir()}schema.json`, profileSchemaText());
    expect(readFileSync(`${profilesDir()}schema.json`, 'utf8')).toBe(profileSchemaText());
  });
});

/** The segments a playbook's engine reported, as "from:role:verdict". */
const verdicts = (p: Playbook): string[] =>
  p.events.filter((e): e is SegmentEvent => e.type === 'segment').map((e) => `${e.from}:${e.role}:${e.verdict}`);

/**
 * issue 11 item 8: a built-in profile acts on the segment it is named for,
 * whatever else happens to be in flight. Each case plays the segments of a
 * real close through the engine with the built-in profile compiled.
 */
describe('built-in profiles act on the segment they are named for', () => {
  /**
   * The client sends a request and shuts down (FIN); the server writes its
   * answer and closes at once, so its FIN leaves with the last data and it is
   * in LAST-ACK while the client still ACKs data.
   */
  const halfCloseThenBulk = (p: Playbook): void => {
    p.handshake();
    p.fromClient('PA', 1, 1, 100);
    p.fromClient('FA', 101, 1);
    p.fromServer('A', 1, 102);
    p.fromServer('PA', 1, 102, 1000);
    p.fromServer('FPA', 1001, 102, 1000); // LAST-ACK from here
    p.fromClient('A', 102, 1001); // an ACK of data, reaching a server in LAST-ACK
    p.fromClient('A', 102, 2002); // the last ACK
  };

  it('drop-last-ack --set times=1 passes ACKs of data to a server in LAST-ACK and drops only the last ACK', () => {
    const p = new Playbook({ decider: compileProfile(loadProfile('drop-last-ack', { times: '1' })) });
    halfCloseThenBulk(p);
    expect(verdicts(p).slice(-2)).toEqual(['client:ack:pass', 'client:last-ack:drop']);
    expect(p.states('server').at(-1)).toBe('LAST-ACK');
    // The server retransmits its FIN; the client in TIME-WAIT re-ACKs it (a last-ack too); times=1: it passes.
    p.fromServer('FPA', 1001, 102, 1000);
    p.fromClient('A', 102, 2002);
    expect(verdicts(p).slice(-2)).toEqual(['server:retransmission:pass', 'client:last-ack:pass']);
    expect(p.states('server').at(-1)).toBe('CLOSED');
  });

  it("the old drop-last-ack rule (receiverState: LAST-ACK) drops the ACK of data instead, and the close completes undisturbed", () => {
    const old = parseProfile(
      `name: old-drop-last-ack
description: the rule before issue 11
rules:
  - match: {from: client, receiverState: LAST-ACK, flags: 'ACK,!SYN,!FIN,!RST'}
    action: drop
    times: 1
`,
      'old.yaml',
    );
    const p = new Playbook({ decider: compileProfile(old) });
    halfCloseThenBulk(p);
    expect(verdicts(p).slice(-2)).toEqual(['client:ack:drop', 'client:last-ack:pass']);
    expect(p.states('server').at(-1)).toBe('CLOSED');
  });

  it("coalesce-fin-ack holds the ACK of the client's FIN, not an ACK of its data the server sends in CLOSE-WAIT", () => {
    const p = new Playbook({ decider: compileProfile(loadProfile('coalesce-fin-ack')) });
    p.handshake();
    p.fromClient('PA', 1, 1, 100);
    p.fromClient('FA', 101, 1); // delivered at once: the server is in CLOSE-WAIT
    p.fromServer('A', 1, 101); // its ACK of the data, sent before the FIN reached it
    p.fromServer('A', 1, 102); // the ACK of the FIN: held
    p.now += 300;
    p.fromServer('FA', 1, 102); // its FIN carries the ACK alone
    expect(verdicts(p).slice(-4)).toEqual(['server:ack:pass', 'server:ack-of-fin:hold', 'server:ack-of-fin:coalesce', 'server:fin-ack:pass']);
    expect(p.states('client')).toEqual(['SYN-SENT', 'ESTAB', 'FIN-WAIT-1', 'TIME-WAIT']);
  });

  it("blackhole starts at the client's keepalive, not at the server's", () => {
    const p = new Playbook({ decider: compileProfile(loadProfile('blackhole')) });
    p.handshake();
    p.fromServer('A', 0, 1); // the server's keepalive probe (seq = snd_nxt - 1)
    p.fromClient('A', 0, 1); // the client's
    p.fromServer('A', 1, 1);
    expect(verdicts(p).slice(-3)).toEqual(['server:keepalive:pass', 'client:keepalive:drop', 'server:ack:drop']);
  });
});
