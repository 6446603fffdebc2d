// .dockerignore with Docker's rules (moby patternmatcher): patterns are cleaned paths relative to
// the context, `*` `?` `[...]` stay within one path element, `**` spans any number of them, a
// pattern also matches everything below a matching directory, `!` re-includes, the last matching
// pattern wins. The walker streams the context one directory at a time.
import type { Stats } from 'node:fs';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join, posix } from 'node:path';
import { badRequest } from '../../util/index.js';

export interface IgnoreRule {
  /** Cleaned pattern, without the leading `!`. */
  pattern: string;
  /** A `!` exception: matching paths are included again. */
  exclusion: boolean;
  matcher: PathPattern;
  /** Path elements of the pattern, for deciding whether to walk into an excluded directory. */
  elements: string[];
}

/** Docker's filepath.Clean for patterns: `./a/` → `a`, `/a` → `a`, `a//b/../c` → `a/c`. */
export function cleanPattern(p: string): string {
  let c = posix.normalize(p);
  if (c.length > 1 && c.endsWith('/')) c = c.slice(0, -1);
  if (c.length > 1 && c.startsWith('/')) c = c.slice(1);
  return c === '' ? '.' : c;
}

/** Reads .dockerignore text into patterns (`!` kept as a prefix): comments and blank lines dropped. */
export function parseDockerignore(text: string): string[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    if (raw.startsWith('#')) continue;
    let p = raw.trim();
    if (p === '') continue;
    let invert = false;
    if (p.startsWith('!')) {
      invert = true;
      p = p.slice(1).trim();
    }
    if (p !== '') p = cleanPattern(p);
    out.push(invert ? `!${p}` : p);
  }
  return out;
}

/** A compiled pattern. */
export interface PathPattern {
  /** Whether the pattern matches the whole cleaned path. */
  test(path: string): boolean;
  /** Whether it matches the path or one of its parent directories (Docker's rule for excludes). */
  testSelfOrParent(path: string): boolean;
}

type Tok =
  | { k: 'char'; c: string }
  | { k: 'any' } // ?  one character but '/'
  | { k: 'star' } // *  any run without '/'
  | { k: 'dirs' } // ** followed by more: any number of whole elements, even none
  | { k: 'all' } // ** at the end: anything
  | { k: 'class'; negate: boolean; items: (string | [string, string])[] };

function parseClass(body: string, pattern: string): Tok {
  let negate = false;
  let b = [...body];
  if (b[0] === '!' || b[0] === '^') {
    negate = true;
    b = b.slice(1);
  }
  const items: (string | [string, string])[] = [];
  for (let i = 0; i < b.length; i++) {
    let c = b[i]!;
    if (c === '\\' && i + 1 < b.length) c = b[++i]!;
    if (b[i + 1] === '-' && i + 2 < b.length) {
      let hi = b[i + 2]!;
      i += 2;
      if (hi === '\\' && i + 1 < b.length) hi = b[++i]!;
      if (hi < c) throw badRequest(`.dockerignore: syntax error in pattern "${pattern}"`);
      items.push([c, hi]);
    } else items.push(c);
  }
  if (items.length === 0) throw badRequest(`.dockerignore: syntax error in pattern "${pattern}"`);
  return { k: 'class', negate, items };
}

/**
 * Compiles one cleaned pattern (moby patternmatcher semantics). Matching simulates the pattern as
 * an automaton, so no pattern can make it backtrack.
 */
export function compilePattern(pattern: string): PathPattern {
  const toks: Tok[] = [];
  const cs = [...pattern];
  for (let i = 0; i < cs.length; i++) {
    const c = cs[i]!;
    if (c === '*') {
      if (cs[i + 1] === '*') {
        i++;
        if (cs[i + 1] === '/') i++;
        toks.push(i + 1 >= cs.length ? { k: 'all' } : { k: 'dirs' });
      } else toks.push({ k: 'star' });
    } else if (c === '?') toks.push({ k: 'any' });
    else if (c === '\\') toks.push({ k: 'char', c: i + 1 < cs.length ? cs[++i]! : '\\' });
    else if (c === '[') {
      let end = i + 1;
      while (end < cs.length && cs[end] !== ']') end += cs[end] === '\\' ? 2 : 1;
      if (end >= cs.length) throw badRequest(`.dockerignore: syntax error in pattern "${pattern}"`);
      toks.push(parseClass(cs.slice(i + 1, end).join(''), pattern));
      i = end;
    } else toks.push({ k: 'char', c });
  }
  if (toks.every((t) => t.k === 'char')) {
    // No wildcard: plain string comparisons.
    const lit = toks.map((t) => (t.k === 'char' ? t.c : '')).join('');
    return {
      test: (path) => path === lit,
      testSelfOrParent: (path) => path === lit || path.startsWith(`${lit}/`),
    };
  }
  // Every literal run of the pattern must occur in a matching path (or parent): a cheap pre-check.
  const literals: string[] = [];
  let run = '';
  for (const t of toks) {
    if (t.k === 'char') run += t.c;
    else {
      if (run) literals.push(run);
      run = '';
    }
  }
  if (run) literals.push(run);
  const possible = (path: string) => literals.every((l) => path.includes(l));
  return {
    test: (path) => possible(path) && runPattern(toks, path, false),
    testSelfOrParent: (path) => possible(path) && runPattern(toks, path, true),
  };
}

function classHas(t: Extract<Tok, { k: 'class' }>, c: string): boolean {
  const hit = t.items.some((it) => (typeof it === 'string' ? it === c : c >= it[0] && c <= it[1]));
  return hit !== t.negate;
}

/** Runs the automaton over `path`; with `orParent`, a match of any prefix ending before a '/' counts. */
function runPattern(toks: readonly Tok[], path: string, orParent: boolean): boolean {
  const m = toks.length;
  // State i: the first i tokens matched. inner[i]: inside the `.*` of a `dirs` token at i.
  let cur = new Uint8Array(m + 1);
  let inner = new Uint8Array(m + 1);
  const close = (set: Uint8Array) => {
    for (let i = 0; i < m; i++) {
      const k = toks[i]!.k;
      if (set[i] && (k === 'star' || k === 'dirs' || k === 'all')) set[i + 1] = 1;
    }
  };
  cur[0] = 1;
  close(cur);
  let next = new Uint8Array(m + 1);
  let nextInner = new Uint8Array(m + 1);
  for (const c of path) {
    if (orParent && c === '/' && cur[m]) return true;
    next.fill(0);
    nextInner.fill(0);
    let alive = false;
    for (let i = 0; i < m; i++) {
      const t = toks[i]!;
      if (t.k === 'dirs' && (cur[i] || inner[i])) {
        nextInner[i] = 1;
        if (c === '/') next[i + 1] = 1;
        alive = true;
      }
      if (!cur[i]) continue;
      let to = -1;
      if (t.k === 'star') to = c !== '/' ? i : -1;
      else if (t.k === 'all') to = i;
      else if (t.k === 'any') to = c !== '/' ? i + 1 : -1;
      else if (t.k === 'char') to = t.c === c ? i + 1 : -1;
      else if (t.k === 'class') to = classHas(t, c) ? i + 1 : -1;
      if (to >= 0) {
        next[to] = 1;
        alive = true;
      }
    }
    if (!alive) return false;
    close(next);
    [cur, next] = [next, cur];
    [inner, nextInner] = [nextInner, inner];
  }
  return cur[m] === 1;
}

function elementMatches(patternElement: string, name: string): boolean {
  return compilePattern(patternElement).test(name);
}

export class IgnoreMatcher {
  readonly rules: IgnoreRule[];
  readonly hasExclusions: boolean;

  /** `patterns` as parseDockerignore returns them (a leading `!` marks an exception); cleaned again here. */
  constructor(patterns: readonly string[]) {
    this.rules = [];
    for (const raw of patterns) {
      const exclusion = raw.startsWith('!');
      const rest = (exclusion ? raw.slice(1) : raw).trim();
      const p = rest === '' ? '' : cleanPattern(rest);
      if (p === '') throw badRequest('.dockerignore: illegal exclusion pattern: "!"');
      this.rules.push({ pattern: p, exclusion, matcher: compilePattern(p), elements: p.split('/') });
    }
    this.hasExclusions = this.rules.some((r) => r.exclusion);
  }

  /** Whether a context-relative path (`a/b.txt`) is excluded from the context. */
  matches(path: string): boolean {
    if (this.rules.length === 0) return false;
    const file = cleanPattern(path);
    let matched = false;
    for (const rule of this.rules) {
      // Only a rule that could flip the current answer needs testing.
      if (rule.exclusion !== matched) continue;
      // The pattern may match the path itself or any of its parent directories.
      if (rule.matcher.testSelfOrParent(file)) matched = !rule.exclusion;
    }
    return matched;
  }

  /** For an excluded directory: could an exception pattern re-include something below it? */
  mayIncludeBelow(dir: string): boolean {
    if (!this.hasExclusions) return false;
    const parts = cleanPattern(dir).split('/');
    return this.rules.some((rule) => {
      if (!rule.exclusion) return false;
      for (let i = 0; i < parts.length; i++) {
        const el = rule.elements[i];
        if (el === undefined) return true;
        if (el.startsWith('**')) return true;
        if (!elementMatches(el, parts[i]!)) return false;
      }
      return true;
    });
  }
}

export interface ContextEntry {
  /** Path relative to the context root, `/`-separated. */
  path: string;
  /** Absolute path on disk. */
  absolutePath: string;
  /** lstat of the entry (symlinks are not followed). */
  stats: Stats;
}

/** How many lstat calls run at once while listing one directory. */
const STAT_CONCURRENCY = 64;

async function statAll(dir: string, names: string[]): Promise<Stats[]> {
  const out: Stats[] = new Array(names.length);
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const i = next++;
      out[i] = await lstat(join(dir, names[i]!));
    }
  };
  await Promise.all(Array.from({ length: Math.min(STAT_CONCURRENCY, names.length) }, worker));
  return out;
}

interface DirFrame {
  rel: string;
  abs: string;
  names: string[];
  stats: Stats[];
  index: number;
  /** Set when this directory is excluded and is only walked for exceptions: emitted lazily. */
  pending?: ContextEntry;
}

/**
 * Streams the context's entries (directories before their content, names sorted) skipping
 * excluded ones. An excluded directory is still walked when an exception could match inside it;
 * it is then emitted just before its first included descendant. Memory is bounded by the depth
 * times the size of one directory listing.
 */
export async function* walkContext(root: string, matcher?: IgnoreMatcher): AsyncGenerator<ContextEntry> {
  const m = matcher ?? new IgnoreMatcher([]);
  const open = async (rel: string, abs: string, pending?: ContextEntry): Promise<DirFrame> => {
    // One directory listing at a time is the memory bound.
    const names = await readdir(abs);
    names.sort();
    const frame: DirFrame = { rel, abs, names, stats: await statAll(abs, names), index: 0 };
    if (pending) frame.pending = pending;
    return frame;
  };
  const stack: DirFrame[] = [await open('', root)];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.index >= top.names.length) {
      stack.pop();
      continue;
    }
    const i = top.index++;
    const name = top.names[i]!;
    const stats = top.stats[i]!;
    const path = top.rel === '' ? name : `${top.rel}/${name}`;
    const entry: ContextEntry = { path, absolutePath: join(top.abs, name), stats };
    if (m.matches(path)) {
      if (stats.isDirectory() && m.mayIncludeBelow(path))
        stack.push(await open(path, entry.absolutePath, entry));
      continue;
    }
    // Something inside excluded directories is kept: emit those directories first, outermost first.
    for (const f of stack) {
      if (f.pending) {
        yield f.pending;
        delete f.pending;
      }
    }
    yield entry;
    if (stats.isDirectory()) stack.push(await open(path, entry.absolutePath));
  }
}

/**
 * The ignore patterns for a build: `<Dockerfile>.dockerignore` beside the Dockerfile wins over the
 * context's `.dockerignore`, as in BuildKit. `found` tells whether any file existed.
 */
export async function readDockerignore(
  contextDir: string,
  dockerfilePath?: string,
): Promise<{ patterns: string[]; found: boolean; file?: string }> {
  const candidates: string[] = [];
  if (dockerfilePath)
    candidates.push(join(dirname(dockerfilePath), `${basename(dockerfilePath)}.dockerignore`));
  candidates.push(join(contextDir, '.dockerignore'));
  for (const file of candidates) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    return { patterns: parseDockerignore(text), found: true, file };
  }
  return { patterns: [], found: false };
}
