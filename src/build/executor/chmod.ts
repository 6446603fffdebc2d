// `--chmod` for COPY/ADD: octal modes replace the permission bits; symbolic modes (`u=rwx,g=rx,o=`,
// `+x`, `a+r`, `go-w`, `u+s`, `g=u`) are applied to each copied file's own mode the way chmod(1) does,
// with no umask: an omitted "who" means all of u, g and o. `X` adds execute only to directories and to
// files that already have an execute bit.
import { badRequest } from '../../util/index.js';
import type { ChmodSpec } from '../parser/index.js';

const WHO_MASK: Record<string, number> = { u: 0o4700, g: 0o2070, o: 0o1007, a: 0o7777 };
const CLAUSE = /^([ugoa]*)((?:[-+=](?:[rwxXst]*|[ugo]))+)$/;

interface Action {
  op: '+' | '-' | '=';
  perms: string;
}

interface Clause {
  mask: number;
  actions: Action[];
}

/** Parses a symbolic mode; throws 400 naming the bad clause. */
export function parseSymbolicMode(spec: string): Clause[] {
  if (spec === '') throw badRequest('invalid chmod parameter: empty mode');
  return spec.split(',').map((clause) => {
    const m = CLAUSE.exec(clause);
    if (!m) throw badRequest(`invalid chmod parameter: ${spec} (bad clause "${clause}")`);
    const who = m[1] ?? '';
    let mask = 0;
    for (const w of who === '' ? 'a' : who) mask |= WHO_MASK[w]!;
    const actions: Action[] = [];
    for (const a of (m[2] ?? '').matchAll(/([-+=])([ugo]|[rwxXst]*)/g))
      actions.push({ op: a[1] as Action['op'], perms: a[2] ?? '' });
    return { mask, actions };
  });
}

/** The permission bits a symbolic `perms` part stands for, before the who-mask. */
function permBits(perms: string, mode: number, isDir: boolean): number {
  // `g=u` style: copy another class's rwx to every class (the mask then picks the targets).
  if (perms === 'u' || perms === 'g' || perms === 'o') {
    const shift = perms === 'u' ? 6 : perms === 'g' ? 3 : 0;
    const rwx = (mode >> shift) & 0o7;
    return (rwx << 6) | (rwx << 3) | rwx;
  }
  let bits = 0;
  for (const p of perms) {
    if (p === 'r') bits |= 0o444;
    else if (p === 'w') bits |= 0o222;
    else if (p === 'x') bits |= 0o111;
    else if (p === 'X') {
      if (isDir || (mode & 0o111) !== 0) bits |= 0o111;
    } else if (p === 's') bits |= 0o6000;
    else if (p === 't') bits |= 0o1000;
  }
  return bits;
}

/** Applies a parsed symbolic mode to `mode` (permission bits only). */
export function applySymbolicMode(clauses: Clause[], mode: number, isDir: boolean): number {
  let m = mode & 0o7777;
  for (const { mask, actions } of clauses) {
    for (const { op, perms } of actions) {
      const bits = permBits(perms, m, isDir) & mask;
      if (op === '+') m |= bits;
      else if (op === '-') m &= ~bits;
      // `=` clears the class's rwx (and its special bit) first; a directory keeps setuid/setgid.
      else m = (m & ~(mask & (isDir ? 0o1777 : 0o7777))) | bits;
    }
  }
  return m & 0o7777;
}

/** The function giving a copied file's mode from its own bits (`spec` undefined: unchanged). */
export function compileChmod(spec: ChmodSpec | undefined): (mode: number, isDir: boolean) => number {
  if (!spec) return (mode) => mode & 0o7777;
  if ('octal' in spec) {
    const octal = spec.octal;
    return () => octal;
  }
  const clauses = parseSymbolicMode(spec.symbolic);
  return (mode, isDir) => applySymbolicMode(clauses, mode, isDir);
}
