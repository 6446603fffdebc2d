// Resource limits: Docker's --ulimit names, the daemon's own hard limits, and clamping between them.
// Without CAP_SYS_RESOURCE a container's rlimit above our hard limit makes the runtime fail.
import { readFileSync } from 'node:fs';
import { badRequest } from '../util/index.js';
import type { OciRlimit } from './oci.js';

export interface Ulimit {
  Name: string;
  Soft: number;
  Hard: number;
}

/** Docker ulimit name → RLIMIT_ type. */
export const ULIMIT_NAMES: Record<string, string> = {
  as: 'RLIMIT_AS',
  core: 'RLIMIT_CORE',
  cpu: 'RLIMIT_CPU',
  data: 'RLIMIT_DATA',
  fsize: 'RLIMIT_FSIZE',
  locks: 'RLIMIT_LOCKS',
  memlock: 'RLIMIT_MEMLOCK',
  msgqueue: 'RLIMIT_MSGQUEUE',
  nice: 'RLIMIT_NICE',
  nofile: 'RLIMIT_NOFILE',
  nproc: 'RLIMIT_NPROC',
  rss: 'RLIMIT_RSS',
  rtprio: 'RLIMIT_RTPRIO',
  rttime: 'RLIMIT_RTTIME',
  sigpending: 'RLIMIT_SIGPENDING',
  stack: 'RLIMIT_STACK',
};

/** /proc/self/limits row label → RLIMIT_ type. */
const PROC_LABELS: Record<string, string> = {
  'Max cpu time': 'RLIMIT_CPU',
  'Max file size': 'RLIMIT_FSIZE',
  'Max data size': 'RLIMIT_DATA',
  'Max stack size': 'RLIMIT_STACK',
  'Max core file size': 'RLIMIT_CORE',
  'Max resident set': 'RLIMIT_RSS',
  'Max processes': 'RLIMIT_NPROC',
  'Max open files': 'RLIMIT_NOFILE',
  'Max locked memory': 'RLIMIT_MEMLOCK',
  'Max address space': 'RLIMIT_AS',
  'Max file locks': 'RLIMIT_LOCKS',
  'Max pending signals': 'RLIMIT_SIGPENDING',
  'Max msgqueue size': 'RLIMIT_MSGQUEUE',
  'Max nice priority': 'RLIMIT_NICE',
  'Max realtime priority': 'RLIMIT_RTPRIO',
  'Max realtime timeout': 'RLIMIT_RTTIME',
};

/** 2^64-1, what "unlimited" is in the runtime spec (as a double; serializeSpec writes it exactly). */
export const RLIM_INFINITY = 2 ** 64;

export type HostLimits = Record<string, { soft: number; hard: number }>;

/** Parses /proc/<pid>/limits text into RLIMIT_ type → {soft, hard}. */
export function parseProcLimits(text: string): HostLimits {
  const out: HostLimits = {};
  for (const line of text.split('\n').slice(1)) {
    const label = Object.keys(PROC_LABELS).find((l) => line.startsWith(l));
    if (!label) continue;
    const [soft, hard] = line.slice(label.length).trim().split(/\s+/);
    const num = (v: string | undefined) => (v === 'unlimited' || v === undefined ? RLIM_INFINITY : Number(v));
    out[PROC_LABELS[label]!] = { soft: num(soft), hard: num(hard) };
  }
  return out;
}

let cachedHostLimits: HostLimits | undefined;
/** The daemon's own limits (read once: they do not change under us). */
export function hostLimits(): HostLimits {
  cachedHostLimits ??= parseProcLimits(readFileSync('/proc/self/limits', 'utf8'));
  return cachedHostLimits;
}

/** Docker's default: a generous open-files limit (containerd/dockerd run with LimitNOFILE=infinity). */
export const DEFAULT_ULIMITS: Ulimit[] = [{ Name: 'nofile', Soft: 1048576, Hard: 1048576 }];

/**
 * The rlimits for a container: defaults, overridden by `ulimits` by name, each clamped to the
 * daemon's hard limit (and soft ≤ hard). -1 means unlimited. Throws 400 for unknown names or soft > hard.
 */
export function computeRlimits(
  ulimits: readonly Ulimit[] = [],
  host: HostLimits = hostLimits(),
): OciRlimit[] {
  const byType = new Map<string, { soft: number; hard: number }>();
  for (const u of [...DEFAULT_ULIMITS, ...ulimits]) {
    const type = ULIMIT_NAMES[u.Name?.toLowerCase?.() ?? ''];
    if (!type) throw badRequest(`invalid ulimit "${u.Name}": unknown name`);
    const soft = u.Soft < 0 ? RLIM_INFINITY : u.Soft;
    const hard = u.Hard < 0 ? RLIM_INFINITY : u.Hard;
    if (!Number.isFinite(soft) || !Number.isFinite(hard) || soft > hard) {
      throw badRequest(
        `invalid ulimit ${u.Name}=${u.Soft}:${u.Hard}: soft limit must not exceed the hard limit`,
      );
    }
    byType.set(type, { soft, hard });
  }
  const out: OciRlimit[] = [];
  for (const [type, { soft, hard }] of byType) {
    const cap = host[type]?.hard ?? RLIM_INFINITY;
    const h = Math.min(hard, cap);
    out.push({ type, hard: h, soft: Math.min(soft, h) });
  }
  return out;
}
