// Builder flags (`--from=…`, `--mount=…`, `--link`) that lead an instruction's arguments.
import { InstructionError } from './errors.js';

export interface RawFlag {
  name: string;
  /** undefined for `--flag` without `=`. */
  value?: string;
  /** 0-based offset of the flag in the argument text. */
  offset: number;
}

/**
 * Splits leading `--name[=value]` words off the argument text. Quotes in a flag are removed;
 * `--` alone ends the flags. Returns the flags and the remaining text (leading space trimmed).
 */
export function extractFlags(
  text: string,
  escapeChar: string,
): { flags: RawFlag[]; rest: string; restOffset: number } {
  const flags: RawFlag[] = [];
  let i = 0;
  for (;;) {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t')) i++;
    if (!text.startsWith('--', i)) break;
    const start = i;
    let word = '';
    let quote = '';
    for (; i < text.length; i++) {
      const c = text[i]!;
      if (quote === '' && (c === ' ' || c === '\t')) break;
      if (c === escapeChar && quote !== "'" && i + 1 < text.length) {
        word += text[++i];
        continue;
      }
      if (quote === '' && (c === '"' || c === "'")) quote = c;
      else if (quote !== '' && c === quote) quote = '';
      else word += c;
    }
    if (word === '--') break;
    const eq = word.indexOf('=');
    if (eq < 0) flags.push({ name: word.slice(2), offset: start });
    else flags.push({ name: word.slice(2, eq), value: word.slice(eq + 1), offset: start });
  }
  while (i < text.length && (text[i] === ' ' || text[i] === '\t')) i++;
  return { flags, rest: text.slice(i), restOffset: i };
}

export type FlagKind = 'string' | 'bool' | 'strings';
export type FlagSpec = Record<string, FlagKind>;

export interface ParsedFlags {
  strings: Map<string, string>;
  bools: Map<string, boolean>;
  lists: Map<string, string[]>;
}

/** Validates raw flags against what an instruction accepts. `col` maps an offset to a column. */
export function checkFlags(raw: RawFlag[], spec: FlagSpec, col: (offset: number) => number): ParsedFlags {
  const out: ParsedFlags = { strings: new Map(), bools: new Map(), lists: new Map() };
  for (const f of raw) {
    const kind = spec[f.name];
    const column = col(f.offset);
    if (!kind) throw new InstructionError(`unknown flag: --${f.name}`, column);
    if (kind === 'bool') {
      if (out.bools.has(f.name)) throw new InstructionError(`Duplicate flag specified: --${f.name}`, column);
      let v = true;
      if (f.value !== undefined) {
        const lv = f.value.toLowerCase();
        if (lv === 'true' || lv === '1') v = true;
        else if (lv === 'false' || lv === '0') v = false;
        else
          throw new InstructionError(`expecting boolean value for flag --${f.name}, not: ${f.value}`, column);
      }
      out.bools.set(f.name, v);
      continue;
    }
    if (f.value === undefined) throw new InstructionError(`Missing a value on flag: --${f.name}`, column);
    if (kind === 'strings') {
      const list = out.lists.get(f.name) ?? [];
      list.push(f.value);
      out.lists.set(f.name, list);
    } else {
      if (out.strings.has(f.name))
        throw new InstructionError(`Duplicate flag specified: --${f.name}`, column);
      out.strings.set(f.name, f.value);
    }
  }
  return out;
}
