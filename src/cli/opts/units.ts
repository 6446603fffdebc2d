// Docker's unit parsing for flags: sizes (`512m`), durations (`1m30s`, parsed by util) and key=value lists.
import { badRequest, tryParseGoDuration } from '../../util/index.js';

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

/** Go's time.ParseDuration, returned in nanoseconds (`1m30s`, `500ms`, `0`), with the docker CLI's flag error. */
export function parseDurationNs(value: string, flag = 'duration'): number {
  const ns = tryParseGoDuration(value.trim());
  if (ns === undefined) {
    throw badRequest(`invalid argument "${value}" for "--${flag}" flag: time: invalid duration "${value}"`);
  }
  return ns;
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
