import { describe, expect, it } from 'vitest';
import { runLadder } from '../../../src/ui/run-ladder.js';
import { connection, seg, start } from './fixtures/build.js';

describe('runLadder (the reveal screen\'s ladder of a finished run)', () => {
  it('reads run events in seconds, as the JSONL and the exercise results carry them: the time column counts seconds from the run\'s start, as the live UI does', () => {
    // A run's events: times in s since the run started.
    const events = [start(0), connection(0.5), seg(0.5, 'c2s', 'S', 0, 0, 0, 'syn'), seg(0.502, 's2c', 'SA', 0, 1, 0, 'syn-ack'), seg(1.75, 'c2s', 'FA', 1, 1, 0, 'fin')];
    const l = runLadder(events, 120);
    const times = l.lines.map((x) => /^\s*(\d+\.\d{3}) /.exec(x.text)?.[1]).filter((x) => x !== undefined);
    expect(times).toEqual(['0.500', '0.502', '1.750']);
  });
});
