// Splits a command string into words the way go-shellwords does (no variable expansion):
// whitespace separates words, '...' is literal, "..." honours \" \\ \$ \` escapes, \x escapes x.
import { badRequest } from '../../util/index.js';

export function shellSplit(input: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < input.length; i++) {
    const c = input[i] as string;
    if (quote === "'") {
      if (c === "'") quote = null;
      else cur += c;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === '\\' && i + 1 < input.length && '"\\$`\n'.includes(input[i + 1] as string)) {
        i++;
        if (input[i] !== '\n') cur += input[i];
      } else cur += c;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (c === "'" || c === '"') quote = c;
    else if (c === '\\') {
      i++;
      if (i >= input.length)
        throw badRequest(`invalid command line string: trailing backslash in ${JSON.stringify(input)}`);
      if (input[i] !== '\n') cur += input[i];
    } else cur += c;
  }
  if (quote) throw badRequest(`invalid command line string: unclosed ${quote} in ${JSON.stringify(input)}`);
  if (inWord) words.push(cur);
  return words;
}
