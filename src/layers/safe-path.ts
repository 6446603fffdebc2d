// Path checks for extracting untrusted tars: every entry must land inside the layer directory, and no
// write may pass through a symlink (including one planted by an earlier entry of the same tar).
import { lstatSync, mkdirSync } from 'node:fs';
import { posix } from 'node:path';
import { badRequest } from '../util/index.js';

/** Normalises a tar entry name to a relative path ('' for the root); rejects absolute and escaping names. */
export function cleanEntryName(name: string, what = 'entry'): string {
  if (name.includes('\0')) throw badRequest(`unsafe tar ${what} "${name}": contains a NUL byte`);
  if (name.startsWith('/')) throw badRequest(`unsafe tar ${what} "${name}": absolute path`);
  const norm = posix.normalize(name);
  if (norm === '..' || norm.startsWith('../')) {
    throw badRequest(`unsafe tar ${what} "${name}": path escapes the layer directory`);
  }
  const cleaned = norm.replace(/\/+$/, '');
  return cleaned === '.' ? '' : cleaned;
}

/**
 * Makes sure every parent of `rel` under `root` is a real directory (creating missing ones), never a
 * symlink. `known` caches directories already checked during one extraction.
 */
export function ensureParents(root: string, rel: string, known: Set<string>, entry: string): void {
  const parts = rel.split('/');
  let cur = '';
  for (let i = 0; i < parts.length - 1; i++) {
    cur = cur ? `${cur}/${parts[i]}` : parts[i]!;
    if (known.has(cur)) continue;
    const abs = `${root}/${cur}`;
    let st: import('node:fs').Stats | undefined;
    try {
      // Missing is the common case (a fresh layer directory): no exception for it.
      st = lstatSync(abs, { throwIfNoEntry: false });
    } catch {
      st = undefined;
    }
    if (!st) {
      mkdirSync(abs, { mode: 0o755 });
    } else if (st.isSymbolicLink()) {
      throw badRequest(`unsafe tar entry "${entry}": parent "${cur}" is a symlink`);
    } else if (!st.isDirectory()) {
      throw badRequest(`tar entry "${entry}": parent "${cur}" is not a directory`);
    }
    known.add(cur);
  }
}

/** Forgets `rel` and everything below it (it was replaced by a non-directory or removed). */
export function forget(known: Set<string>, rel: string): void {
  known.delete(rel);
  const prefix = `${rel}/`;
  for (const k of known) if (k.startsWith(prefix)) known.delete(k);
}
