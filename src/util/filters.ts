// Pieces of Docker's list and prune filters that every resource shares.
import { badRequest } from './errors.js';

/** Docker's `label` filter: `key` (present) or `key=value` (equal). */
export function labelMatches(labels: Record<string, string> | null | undefined, filter: string): boolean {
  const l = labels ?? {};
  const eq = filter.indexOf('=');
  if (eq < 0) return filter in l;
  return l[filter.slice(0, eq)] === filter.slice(eq + 1);
}

const DURATION = /^((\d+(\.\d+)?)(ns|us|µs|ms|s|m|h))+$/;
const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 };

/**
 * Docker's `until` filter as milliseconds since the epoch: unix seconds (`1700000000.5`), a Go duration
 * before now (`10m`, `1h30m`), or a date (RFC 3339); 400 "invalid filter 'until=x'" otherwise.
 */
export function parseUntil(value: string): number {
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  if (DURATION.test(value)) {
    let ms = 0;
    for (const m of value.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g))
      ms += Number(m[1]) * UNIT_MS[m[2]!]!;
    return Date.now() - ms;
  }
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw badRequest(`invalid filter 'until=${value}'`);
  return t;
}
