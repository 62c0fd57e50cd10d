// `exercise run ID` on a terminal: once the lab's UI has ended (and the
// questions asked after the run are answered), the reveal beside the run's
// ladder (RevealScreen), until q. Then the terminal is let go; the caller
// prints the reveal as text too, so it stays in the scrollback.

import { render } from 'ink';
import type { TcpmitmEvent } from '../engine/events.js';
import type { Lang } from '../exercise/schema.js';
import RevealScreen, { revealLayout } from './components/RevealScreen.js';
import { runLadder } from './run-ladder.js';
import { colorWanted } from './theme.js';
import { wrapCells } from './wrap.js';
import { releaseTerminal } from './release-terminal.js';

const HELP: Record<Lang, string> = {
  en: '↑/↓ PgUp/PgDn scroll · Tab: the other pane · q: done',
  zh: '↑/↓ PgUp/PgDn 滚动 · Tab：切换窗格 · q：结束',
};
const TITLE: Record<Lang, string> = { en: 'reveal', zh: '揭晓' };

export async function showReveal(o: { events: readonly TcpmitmEvent[]; reveal: string; lang: Lang; stdin?: NodeJS.ReadStream; stdout?: NodeJS.WriteStream }): Promise<void> {
  const out = o.stdout ?? process.stdout;
  const cols = out.columns ?? 80;
  const rows = out.rows ?? 24;
  // The ladder's width decides its layout; a first pass with no lines is enough to cut the screen.
  const first = revealLayout(cols, rows, 0);
  const ladder = runLadder(o.events, first.ladderWidth);
  const lay = revealLayout(cols, rows, ladder.lines.length);
  const instance = render(
    <RevealScreen
      ladder={ladder}
      reveal={wrapCells(o.reveal.trimEnd(), lay.revealWidth)}
      title={TITLE[o.lang]}
      help={HELP[o.lang]}
      width={cols}
      height={rows}
      color={colorWanted(process.env)}
    />,
    { ...(o.stdin ? { stdin: o.stdin } : {}), stdout: out, exitOnCtrlC: false, patchConsole: false },
  );
  await instance.waitUntilExit();
  instance.unmount();
  releaseTerminal(o.stdin ?? process.stdin);
}
