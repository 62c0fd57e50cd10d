// One exercise's predictions asked on the terminal before its lab runs: the
// title and story, then one question at a time (choices with a cursor, an
// order being built, a number being typed). State and keys: exercise/prompt.ts.

import { Box, Text, useApp, useInput } from 'ink';
import { useRef, useState } from 'react';
import type { Answer } from '../../exercise/answers.js';
import { messages } from '../../exercise/messages.js';
import { initialPrompt, pressInput, promptDone, remaining, type PromptState } from '../../exercise/prompt.js';
import { inLang, type Exercise, type Lang } from '../../exercise/schema.js';

export interface PredictionPromptProps {
  readonly exercise: Exercise;
  readonly lang: Lang;
  /** Called once, with every answer given, after the last question. */
  readonly onDone: (answers: Readonly<Record<string, Answer>>) => void;
  /** Ctrl-C: the student left before the run. */
  readonly onInterrupt: () => void;
  /** Terminal width, for wrapping the story. */
  readonly width?: number;
}

/** The words around the questions, in each language. */
const KEYS = {
  en: { choice: '↑/↓ and Enter, or the number', order: 'pick them in order: ↑/↓ and Enter, or the number; Backspace takes one back', orderDone: 'Enter to confirm, Backspace to change', number: 'type a number and Enter (Enter alone: no answer)', start: 'Enter: start the lab (the questions come after it)', notNumber: 'not a number: type digits', of: (i: number, n: number) => `question ${i} of ${n}`, sofar: 'so far' },
  zh: { choice: '用 ↑/↓ 和回车选择，或按编号', order: '依次选出：↑/↓ 和回车，或按编号；退格键撤回一个', orderDone: '回车确认，退格键修改', number: '输入数字后回车（直接回车：不作答）', start: '回车：启动实验（问题在实验之后提出）', notNumber: '不是数字：请输入数字', of: (i: number, n: number) => `第 ${i} 题，共 ${n} 题`, sofar: '已选' },
} as const;

export default function PredictionPrompt(p: PredictionPromptProps) {
  const [s, setS] = useState<PromptState>(initialPrompt());
  // Keys can come faster than renders (typed ahead, pasted): each one is
  // applied to the state the previous key made, not to the last one drawn.
  const current = useRef<PromptState>(s);
  const { exit } = useApp();
  const x = p.exercise;
  const m = messages(p.lang);
  const k = KEYS[p.lang];
  useInput((input, key) => {
    if (key.ctrl && input === 'c') {
      p.onInterrupt();
      exit();
      return;
    }
    // Nothing to predict before the run (a diagnosis): the story, then Enter starts the lab.
    if (x.predictions.length === 0) {
      if (key.return) {
        p.onDone({});
        exit();
      }
      return;
    }
    const after = pressInput(x, current.current, input, key);
    current.current = after;
    setS(after);
    if (promptDone(x, after)) {
      p.onDone(after.answers);
      exit();
    }
  });
  const q = x.predictions[s.index];
  if (q === undefined) {
    if (x.predictions.length > 0) return null;
    return (
      <Box flexDirection="column" width={p.width}>
        <TitleAndStory exercise={x} lang={p.lang} />
        <Text dimColor>{k.start}</Text>
      </Box>
    );
  }
  return (
    <Box flexDirection="column" width={p.width}>
      <TitleAndStory exercise={x} lang={p.lang} />
      <Text dimColor>{k.of(s.index + 1, x.predictions.length)}</Text>
      <Text bold>{inLang(q.question, p.lang)}</Text>
      {q.kind === 'choice' &&
        q.choices.map((c, i) => (
          <Text key={c.id} inverse={i === s.cursor}>{`${i === s.cursor ? '▶' : ' '} ${i + 1}. ${inLang(c.text, p.lang)}`}</Text>
        ))}
      {q.kind === 'order' && (
        <>
          <Text>{`${k.sofar}${m.colon}${s.picked.length ? s.picked.join(' → ') : '…'}`}</Text>
          {remaining(q, s).map((item, i) => (
            <Text key={item} inverse={i === s.cursor}>{`${i === s.cursor ? '▶' : ' '} ${i + 1}. ${item}`}</Text>
          ))}
        </>
      )}
      {q.kind === 'number' && <Text>{`> ${s.typed}▏ ${m.unit(q.unit)}`}</Text>}
      {s.problem === 'not-a-number' && <Text color="red">{k.notNumber}</Text>}
      <Text dimColor>{q.kind === 'choice' ? k.choice : q.kind === 'order' ? (remaining(q, s).length ? k.order : k.orderDone) : k.number}</Text>
    </Box>
  );
}

/** What every screen of the prompt opens with: the title, the story. */
function TitleAndStory({ exercise: x, lang }: { readonly exercise: Exercise; readonly lang: Lang }) {
  const m = messages(lang);
  return (
    <>
      <Text bold>{`${m.exercise} ${x.number}${m.colon}${inLang(x.title, lang)}`}</Text>
      <Text> </Text>
      <Text>{inLang(x.story, lang).trimEnd()}</Text>
      <Text> </Text>
    </>
  );
}
