// Docker's unit parsing for flags: sizes (`512m`), durations (`1m30s`) and key=value lists.
import { badRequest } from '../../util/index.js';

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  p: 1024 ** 5,
};

/** `RAMInBytes`: a number with an optional binary unit (b, k, kb, m, mb, g, gb…), case-insensitive. */
export function parseBytes(value: string, flag = 'size'): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgtpb]?)(?:i?b)?$/i.exec(value.trim());
  if (!match) throw badRequest(`invalid ${flag}: '${value}'`);
  const unit = (match[2] || 'b').toLowerCase();
  return Math.floor(Number(match[1]) * SIZE_UNITS[unit]!);
}

const DURATION_UNITS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Go's time.ParseDuration, returned in nanoseconds (`1m30s`, `500ms`, `0`). */
export function parseDurationNs(value: string, flag = 'duration'): number {
  const text = value.trim();
  if (text === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    consumed = re.lastIndex;
  }
  if (consumed === 0 || consumed !== text.length) {
    throw badRequest(`invalid argument "${value}" for "--${flag}" flag: time: invalid duration "${value}"`);
  }
  return Math.round(total);
}

/** Splits `key=value`; a bare `key` yields undefined as the value. */
export function splitKeyValue(entry: string): [string, string | undefined] {
  const eq = entry.indexOf('=');
  return eq < 0 ? [entry, undefined] : [entry.slice(0, eq), entry.slice(eq + 1)];
}

/** Repeatable commander option collector. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
