// Word processing the way BuildKit's Dockerfile shell lexer does it: quotes, escapes and
// `$var` / `${var…}` substitution with the POSIX modifiers BuildKit supports. No command
// substitution, no arithmetic: a Dockerfile word is not a shell script.
import { BerthError } from '../../util/index.js';

/** Where variable values come from: a map, a plain record, or a lookup function. */
export type EnvSource =
  | ReadonlyMap<string, string>
  | Readonly<Record<string, string | undefined>>
  | ((name: string) => string | undefined);

export interface ExpandOptions {
  /** The Dockerfile's escape character, `\` (default) or `` ` ``. */
  escapeChar?: string;
  /** Keep `$name` for unset variables instead of substituting ''. */
  skipUnset?: boolean;
  /** Substitute variables only; quotes are ordinary characters and escapes stay (heredoc bodies). */
  keepQuotes?: boolean;
}

export interface ExpandResult {
  /** The whole word, quotes and escapes processed, variables substituted (no splitting). */
  value: string;
  /** The same, split into words on unquoted whitespace (like BuildKit's ProcessWords). */
  words: string[];
  /** Variables referenced but not set in the environment (for the UndefinedVar check). */
  unset: string[];
}

/** A malformed word (400); callers add file and line. */
export class ShellExpansionError extends BerthError {
  constructor(message: string) {
    super(400, message);
    this.name = 'ShellExpansionError';
  }
}

function lookupIn(env: EnvSource): (name: string) => string | undefined {
  if (typeof env === 'function') return env;
  if (env instanceof Map) return (name) => env.get(name);
  const rec = env as Readonly<Record<string, string | undefined>>;
  return (name) => (Object.hasOwn(rec, name) ? rec[name] : undefined);
}

const SPECIAL_PARAMS = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);
const isSpace = (c: string) =>
  c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v';
const isNameChar = (c: string) => /[\p{L}\p{N}_]/u.test(c);
const isDigit = (c: string) => c >= '0' && c <= '9';

/** Accumulates output both as one string and as split words. */
class Out {
  value = '';
  words: string[] = [];
  private cur = '';
  private inWord = false;
  /** Literal text (quoted or escaped): never splits. */
  raw(s: string): void {
    this.value += s;
    this.cur += s;
    this.inWord = true;
  }
  /** Unquoted text: whitespace separates words. */
  split(s: string): void {
    this.value += s;
    for (const c of s) {
      if (isSpace(c)) this.blank();
      else {
        this.cur += c;
        this.inWord = true;
      }
    }
  }
  /** An explicitly empty quoted string still makes a word (`""`). */
  mark(): void {
    this.inWord = true;
  }
  blank(): void {
    if (this.inWord) this.words.push(this.cur);
    this.cur = '';
    this.inWord = false;
  }
  finish(): void {
    this.blank();
  }
}

class Lexer {
  private pos = 0;
  readonly unset: string[] = [];
  constructor(
    private readonly src: string,
    private readonly lookup: (name: string) => string | undefined,
    private readonly esc: string,
    private readonly skipUnset: boolean,
    private readonly keepQuotes = false,
  ) {}

  private peek(): string {
    return this.pos < this.src.length ? this.src[this.pos]! : '';
  }
  private next(): string {
    return this.pos < this.src.length ? this.src[this.pos++]! : '';
  }

  run(): ExpandResult {
    const out = new Out();
    this.processUntil(out, [], true);
    out.finish();
    return { value: out.value, words: out.words, unset: [...new Set(this.unset)] };
  }

  /** Processes until one of `stops` (consumed, returned) or the end (returns ''). */
  processUntil(out: Out, stops: string[], topLevel: boolean, rawEscapes = false): string {
    while (this.pos < this.src.length) {
      const ch = this.peek();
      if (stops.includes(ch)) {
        this.next();
        return ch;
      }
      if (ch === "'" && !this.keepQuotes) {
        this.next();
        out.mark();
        out.raw(this.singleQuoted());
      } else if (ch === '"' && !this.keepQuotes) {
        this.next();
        out.mark();
        this.doubleQuoted(out);
      } else if (ch === '$') {
        this.next();
        const v = this.dollar();
        if (topLevel) out.split(v);
        else out.raw(v);
      } else if (ch === this.esc) {
        this.next();
        if (this.pos >= this.src.length) break; // a trailing escape is dropped
        const n = this.next();
        if (rawEscapes) {
          out.raw(ch + n);
          continue;
        }
        // In heredoc bodies only \$ and the escape itself are escapes, as in a shell heredoc.
        out.raw(this.keepQuotes && n !== '$' && n !== this.esc ? ch + n : n);
      } else {
        this.next();
        if (topLevel) out.split(ch);
        else out.raw(ch);
      }
    }
    return '';
  }

  private singleQuoted(): string {
    const end = this.src.indexOf("'", this.pos);
    if (end < 0)
      throw new ShellExpansionError('unexpected end of statement while looking for matching single-quote');
    const s = this.src.slice(this.pos, end);
    this.pos = end + 1;
    return s;
  }

  private doubleQuoted(out: Out): void {
    for (;;) {
      if (this.pos >= this.src.length)
        throw new ShellExpansionError('unexpected end of statement while looking for matching double-quote');
      const ch = this.next();
      if (ch === '"') return;
      if (ch === '$') {
        out.raw(this.dollar());
      } else if (ch === this.esc) {
        const n = this.peek();
        if (n === '') continue;
        // Only ", $ and the escape character itself can be escaped; other escapes stay as written.
        if (n === '"' || n === '$' || n === this.esc) out.raw(this.next());
        else out.raw(ch);
      } else {
        out.raw(ch);
      }
    }
  }

  private name(): string {
    let name = '';
    const first = this.peek();
    if (first !== '' && isDigit(first)) {
      while (isDigit(this.peek())) name += this.next();
      return name;
    }
    if (first !== '' && SPECIAL_PARAMS.has(first)) return this.next();
    while (this.pos < this.src.length && isNameChar(this.peek())) name += this.next();
    return name;
  }

  private get(name: string): string | undefined {
    const v = this.lookup(name);
    if (v === undefined) this.unset.push(name);
    return v;
  }

  /** After a `$`. */
  private dollar(): string {
    if (this.peek() !== '{') {
      const name = this.name();
      if (name === '') return '$';
      const v = this.get(name);
      if (v === undefined) return this.skipUnset ? `$${name}` : '';
      return v;
    }
    this.next(); // {
    const first = this.peek();
    if (first === '') throw new ShellExpansionError("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':')
      throw new ShellExpansionError('syntax error: bad substitution');
    const name = this.name();
    const op = this.next();
    if (op === '') throw new ShellExpansionError("syntax error: missing '}'");
    if (op === '}') {
      const v = this.get(name);
      if (v === undefined) return this.skipUnset ? `\${${name}}` : '';
      return v;
    }
    const value = this.lookup(name);
    const set = value !== undefined;
    if (op === ':') {
      const mod = this.next();
      const word = this.subWord(['}']);
      // A variable with a default is not reported as undefined.
      if (mod === '-') return value ? value : word;
      if (mod === '+') return value ? word : '';
      if (mod === '?') {
        if (!set) throw new ShellExpansionError(`${name}: ${word || 'is not allowed to be unset'}`);
        if (value === '') throw new ShellExpansionError(`${name}: ${word || 'is not allowed to be empty'}`);
        return value;
      }
      throw new ShellExpansionError(`unsupported modifier (:${mod}) in substitution`);
    }
    if (op === '-' || op === '+' || op === '?') {
      const word = this.subWord(['}']);
      if (op === '-') return set ? value : word;
      if (op === '+') return set ? word : '';
      if (!set) throw new ShellExpansionError(`${name}: ${word || 'is not allowed to be unset'}`);
      return value;
    }
    if (op === '#' || op === '%') {
      const longest = this.peek() === op;
      if (longest) this.next();
      const pattern = this.subWord(['}'], true);
      const v = this.get(name) ?? '';
      return op === '#' ? trimPrefix(v, pattern, longest) : trimSuffix(v, pattern, longest);
    }
    if (op === '/') {
      const all = this.peek() === '/';
      if (all) this.next();
      const out = new Out();
      // As in BuildKit, the pattern runs to the next '/': `${a/p/r}` needs both slashes.
      if (this.processUntil(out, ['/'], false, true) === '')
        throw new ShellExpansionError(`syntax error: missing '/' in \${}`);
      const replacement = this.subWord(['}'], true);
      const v = this.get(name) ?? '';
      return replacePattern(v, out.value, unescapePattern(replacement), all);
    }
    throw new ShellExpansionError(`unsupported modifier (${op}) in substitution`);
  }

  private subWord(stops: string[], rawEscapes = false): string {
    const out = new Out();
    if (this.processUntil(out, stops, false, rawEscapes) === '')
      throw new ShellExpansionError("syntax error: missing '}'");
    return out.value;
  }
}

export type GlobToken = { kind: 'star' } | { kind: 'any' } | { kind: 'char'; ch: string };

/**
 * Parses a substitution pattern as BuildKit does: `*` any run of characters, `?` one character,
 * `\\*` `\\?` `\\\\` literal, `\\}` and `\\/` the bare character; everything else (brackets
 * included) is literal.
 */
export function parseGlob(pattern: string): GlobToken[] {
  const out: GlobToken[] = [];
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '*') out.push({ kind: 'star' });
    else if (c === '?') out.push({ kind: 'any' });
    else if (c === '\\' && i + 1 < chars.length) {
      const n = chars[++i]!;
      if (n !== '*' && n !== '?' && n !== '\\' && n !== '}' && n !== '/')
        throw new ShellExpansionError(
          `invalid pattern (${pattern}) in substitution: invalid escape '\\${n}'`,
        );
      out.push({ kind: 'char', ch: n });
    } else out.push({ kind: 'char', ch: c });
  }
  return out;
}

/**
 * For every prefix length k of `text` (0..n), whether the glob matches text[0..k). Simulates the
 * pattern as an automaton, O(n·m): no backtracking, whatever the pattern.
 */
function prefixMatches(tokens: readonly GlobToken[], text: readonly string[]): boolean[] {
  const m = tokens.length;
  let cur = new Uint8Array(m + 1);
  const close = (set: Uint8Array) => {
    for (let i = 0; i < m; i++) if (set[i] && tokens[i]!.kind === 'star') set[i + 1] = 1;
  };
  cur[0] = 1;
  close(cur);
  const ok: boolean[] = [cur[m] === 1];
  for (const c of text) {
    const next = new Uint8Array(m + 1);
    let any = false;
    for (let i = 0; i < m; i++) {
      if (!cur[i]) continue;
      const t = tokens[i]!;
      if (t.kind === 'star') next[i] = 1;
      else if (t.kind === 'any' || t.ch === c) next[i + 1] = 1;
      else continue;
      any = true;
    }
    close(next);
    ok.push(next[m] === 1);
    cur = next;
    if (!any) {
      // Nothing can match any longer prefix.
      while (ok.length <= text.length) ok.push(false);
      break;
    }
  }
  return ok;
}

function trimPrefix(v: string, pattern: string, longest: boolean): string {
  const text = [...v];
  const ok = prefixMatches(parseGlob(pattern), text);
  const k = longest ? ok.lastIndexOf(true) : ok.indexOf(true);
  return k < 0 ? v : text.slice(k).join('');
}

function trimSuffix(v: string, pattern: string, longest: boolean): string {
  // The shortest/longest suffix is the shortest/longest prefix of the reversed string.
  const text = [...v].reverse();
  const ok = prefixMatches(parseGlob(pattern).reverse(), text);
  const k = longest ? ok.lastIndexOf(true) : ok.indexOf(true);
  return k < 0 ? v : text.slice(k).reverse().join('');
}

function replacePattern(v: string, pattern: string, replacement: string, all: boolean): string {
  const tokens = parseGlob(pattern);
  if (tokens.length === 0) return v;
  const text = [...v];
  let out = '';
  let s = 0;
  let replaced = false;
  while (s < text.length) {
    // Leftmost match, longest at that position (the greedy `*` of BuildKit's regexp).
    const k = all || !replaced ? prefixMatches(tokens, text.slice(s)).lastIndexOf(true) : -1;
    if (k > 0) {
      out += replacement;
      s += k;
      replaced = true;
    } else {
      out += text[s];
      s++;
    }
  }
  return out;
}

/**
 * Expands one Dockerfile word: quotes removed, escapes processed, variables substituted.
 * Throws ShellExpansionError on a malformed word (unterminated quote, bad `${…}`, `${x:?msg}`).
 */
export function expandWord(word: string, env: EnvSource, options: ExpandOptions = {}): string {
  return expandDetailed(word, env, options).value;
}

/** Expands and splits into words on unquoted whitespace (after substitution, like ProcessWords). */
export function expandWords(word: string, env: EnvSource, options: ExpandOptions = {}): string[] {
  return expandDetailed(word, env, options).words;
}

/** Expansion with the split words and the names of unset variables it referenced. */
export function expandDetailed(word: string, env: EnvSource, options: ExpandOptions = {}): ExpandResult {
  const lexer = new Lexer(
    word,
    lookupIn(env),
    options.escapeChar ?? '\\',
    options.skipUnset ?? false,
    options.keepQuotes ?? false,
  );
  return lexer.run();
}

/**
 * Splits a line into whitespace-separated words, keeping quotes and escapes as written (BuildKit's
 * parseWords, used for ENV/LABEL/ARG before expansion).
 */
export function splitRawWords(line: string, escapeChar = '\\'): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote === '' && isSpace(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
      continue;
    }
    inWord = true;
    cur += c;
    if (c === escapeChar && quote !== "'" && i + 1 < line.length) {
      cur += line[++i];
      continue;
    }
    if (quote === '' && (c === '"' || c === "'")) quote = c;
    else if (quote === c) quote = '';
  }
  if (inWord) words.push(cur);
  return words;
}

/** The replacement of `${a/p/r}` with its escapes removed. */
function unescapePattern(s: string): string {
  return s.replace(/\\([\s\S])/g, '$1');
}
