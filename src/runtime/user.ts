// Resolving Docker's `--user` (name|uid[:group|gid]) and `--group-add` through the image's
// /etc/passwd and /etc/group, with Docker's error messages.
import { readFileSync } from 'node:fs';
import { badRequest } from '../util/index.js';
import { resolveInRoot } from './rootfs.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}
interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const MAX_ID = 2 ** 31 - 1;

function readLines(rootfs: string, path: string): string[][] {
  let text: string;
  try {
    text = readFileSync(resolveInRoot(rootfs, path), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(':'));
}

export function parsePasswd(rootfs: string): PasswdEntry[] {
  return readLines(rootfs, '/etc/passwd')
    .filter((f) => f.length >= 4)
    .map((f) => ({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? '/' }))
    .filter((e) => Number.isInteger(e.uid) && Number.isInteger(e.gid));
}

export function parseGroup(rootfs: string): GroupEntry[] {
  return readLines(rootfs, '/etc/group')
    .filter((f) => f.length >= 3)
    .map((f) => ({ name: f[0]!, gid: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) }))
    .filter((e) => Number.isInteger(e.gid));
}

function numericId(value: string): number | undefined {
  if (!/^\d+$/.test(value)) return undefined;
  const n = Number(value);
  if (n > MAX_ID) throw badRequest(`invalid user/group id ${value}: out of range`);
  return n;
}

function lookupGroup(groups: GroupEntry[], spec: string): number {
  const id = numericId(spec);
  if (id !== undefined) return id;
  const found = groups.find((g) => g.name === spec);
  if (!found) throw badRequest(`unable to find group ${spec}: no matching entries in group file`);
  return found.gid;
}

/**
 * Resolves `user` ("", "name", "uid", "name:group", "uid:gid"...) inside `rootfs`. Numeric ids need no
 * entry (as in Docker); names must exist. Supplementary groups are the groups listing the user as a
 * member plus `groupAdd`.
 */
export function resolveUser(
  rootfs: string,
  user: string | undefined,
  groupAdd: readonly string[] = [],
): ResolvedUser {
  const spec = user ?? '';
  const [userPart = '', groupPart, ...rest] = spec.split(':');
  if (rest.length > 0) throw badRequest(`invalid user "${spec}": expected user[:group]`);
  const passwd = parsePasswd(rootfs);
  const groups = parseGroup(rootfs);
  let entry: PasswdEntry | undefined;
  let uid: number;
  const asId = numericId(userPart);
  if (userPart === '') {
    uid = 0;
    entry = passwd.find((p) => p.uid === 0);
  } else if (asId !== undefined) {
    uid = asId;
    entry = passwd.find((p) => p.uid === asId);
  } else {
    entry = passwd.find((p) => p.name === userPart);
    if (!entry) throw badRequest(`unable to find user ${userPart}: no matching entries in passwd file`);
    uid = entry.uid;
  }
  let gid = entry?.gid ?? 0;
  if (groupPart !== undefined && groupPart !== '') gid = lookupGroup(groups, groupPart);
  const additional: number[] = [];
  // Supplementary groups from /etc/group apply only when no explicit group was given (like runc's GetExecUser).
  if (entry && (groupPart === undefined || groupPart === '')) {
    for (const g of groups) if (g.members.includes(entry.name) && g.gid !== gid) additional.push(g.gid);
  }
  for (const g of groupAdd) additional.push(lookupGroup(groups, g));
  return { uid, gid, additionalGids: [...new Set(additional)], home: entry?.home || '/' };
}
