// `exercise run ID` on a terminal without --answers: asks the predictions
// with ink (PredictionPrompt), then lets the terminal go, before the lab and
// its own UI start.

import { render } from 'ink';
import type { Answers } from '../exercise/answers.js';
import type { Exercise, Lang } from '../exercise/schema.js';
import PredictionPrompt from './components/PredictionPrompt.js';
import { releaseTerminal } from './release-terminal.js';

export interface AskOptions {
  readonly stdin?: NodeJS.ReadStream;
  readonly stdout?: NodeJS.WriteStream;
}

/** The student's answers, or undefined when they left with Ctrl-C. */
export async function askPredictions(x: Exercise, lang: Lang, o: AskOptions = {}): Promise<Answers | undefined> {
  let answers: Answers | undefined;
  const out = o.stdout ?? process.stdout;
  const instance = render(
    <PredictionPrompt
      exercise={x}
      lang={lang}
      width={Math.min(out.columns ?? 80, 100)}
      onDone={(a) => {
        answers = { answers: a };
      }}
      onInterrupt={() => {
        answers = undefined;
      }}
    />,
    { ...(o.stdin ? { stdin: o.stdin } : {}), stdout: out, exitOnCtrlC: false, patchConsole: false },
  );
  await instance.waitUntilExit();
  instance.unmount();
  releaseTerminal(o.stdin ?? process.stdin);
  return answers;
}
