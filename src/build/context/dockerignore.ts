// .dockerignore with Docker's rules (moby patternmatcher): patterns are cleaned paths relative to
// the context, `*` `?` `[...]` stay within one path element, `**` spans any number of them, a
// pattern also matches everything below a matching directory, `!` re-includes, the last matching
// pattern wins. The walker streams the context one directory at a time.
import type { Stats } from 'node:fs';
import { lstat, opendir, readFile } from 'node:fs/promises';
import { basename, dirname, join, posix } from 'node:path';
import { badRequest } from '../../util/index.js';

export interface IgnoreRule {
  /** Cleaned pattern, without the leading `!`. */
  pattern: string;
  /** A `!` exception: matching paths are included again. */
  exclusion: boolean;
  regex: RegExp;
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

const REGEX_SPECIAL = new Set(['.', '+', '(', ')', '|', '{', '}', '$', '^']);

/** Compiles one cleaned pattern to an anchored regular expression. */
export function compilePattern(pattern: string): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') i++;
        // `**` at the end matches everything; elsewhere any number of whole elements (even none).
        re += i + 1 >= pattern.length ? '.*' : '(?:.*/)?';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '\\') {
      if (i + 1 < pattern.length) re += `\\${pattern[++i]}`;
      else re += '\\\\';
    } else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw badRequest(`.dockerignore: syntax error in pattern "${pattern}"`);
      let body = pattern.slice(i + 1, end);
      if (body.startsWith('!')) body = `^${body.slice(1)}`;
      re += `[${body}]`;
      i = end;
    } else if (REGEX_SPECIAL.has(c) || c === ']') re += `\\${c}`;
    else re += c;
  }
  try {
    return new RegExp(`${re}$`, 'su');
  } catch {
    throw badRequest(`.dockerignore: syntax error in pattern "${pattern}"`);
  }
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
      this.rules.push({ pattern: p, exclusion, regex: compilePattern(p), elements: p.split('/') });
    }
    this.hasExclusions = this.rules.some((r) => r.exclusion);
  }

  /** Whether a context-relative path (`a/b.txt`) is excluded from the context. */
  matches(path: string): boolean {
    const file = cleanPattern(path);
    const parent = posix.dirname(file);
    const parents: string[] = [];
    if (parent === '.') parents.push('.');
    else {
      const parts = parent.split('/');
      for (let i = 1; i <= parts.length; i++) parents.push(parts.slice(0, i).join('/'));
    }
    let matched = false;
    for (const rule of this.rules) {
      // Only a rule that could flip the current answer needs testing.
      if (rule.exclusion !== matched) continue;
      if (rule.regex.test(file) || parents.some((p) => rule.regex.test(p))) matched = !rule.exclusion;
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

/**
 * Streams the context's entries (directories before their content, names sorted) skipping
 * excluded ones. An excluded directory is still walked when an exception could match inside it;
 * it is then emitted just before its first included descendant.
 */
export async function* walkContext(root: string, matcher?: IgnoreMatcher): AsyncGenerator<ContextEntry> {
  const m = matcher ?? new IgnoreMatcher([]);
  // Excluded directories walked for exceptions, waiting to be emitted if something inside is kept.
  const pending: ContextEntry[] = [];
  async function* walk(rel: string): AsyncGenerator<ContextEntry> {
    const abs = rel === '' ? root : join(root, rel);
    const names: string[] = [];
    const dir = await opendir(abs);
    for await (const d of dir) names.push(d.name);
    names.sort();
    for (const name of names) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const absolutePath = join(abs, name);
      const stats = await lstat(absolutePath);
      const entry: ContextEntry = { path, absolutePath, stats };
      if (m.matches(path)) {
        if (stats.isDirectory() && m.mayIncludeBelow(path)) {
          pending.push(entry);
          yield* walk(path);
          if (pending[pending.length - 1] === entry) pending.pop();
        }
        continue;
      }
      while (pending.length > 0) yield pending.shift()!;
      yield entry;
      if (stats.isDirectory()) yield* walk(path);
    }
  }
  yield* walk('');
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
