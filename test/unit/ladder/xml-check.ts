// A small XML well-formedness check for the ladder's tests (no XML parser is a
// dependency): balanced tags, quoted attributes, no raw < or stray & in text
// or values, only the five predefined entities and numeric references.

const ENTITY = /&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g;

export function xmlProblems(doc: string): string[] {
  const problems: string[] = [];
  const body = doc.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  const re = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"]*")*)\s*(\/?)>/y;
  let i = 0;
  let text = '';
  const flushText = (): void => {
    if (/[<>]/.test(text.replace(ENTITY, ''))) problems.push(`raw < or > in text: ${JSON.stringify(text.slice(0, 40))}`);
    if (text.replace(ENTITY, '').includes('&')) problems.push(`stray & in text: ${JSON.stringify(text.slice(0, 40))}`);
    text = '';
  };
  while (i < body.length) {
    if (body[i] !== '<') {
      text += body[i];
      i++;
      continue;
    }
    flushText();
    re.lastIndex = i;
    const m = re.exec(body);
    if (!m) {
      problems.push(`malformed tag at ${i}: ${JSON.stringify(body.slice(i, i + 40))}`);
      break;
    }
    const [all, close, name, attrs, selfClose] = m;
    for (const a of attrs!.matchAll(/="([^"]*)"/g)) {
      const v = a[1]!.replace(ENTITY, '');
      if (/[<&]/.test(v)) problems.push(`raw < or & in an attribute of <${name}>`);
    }
    if (close) {
      if (stack.pop() !== name) problems.push(`</${name}> does not close the open element`);
    } else if (!selfClose) stack.push(name!);
    i += all!.length;
  }
  flushText();
  if (stack.length > 0) problems.push(`unclosed: ${stack.join(', ')}`);
  return problems;
}
