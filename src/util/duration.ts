// Go's time.ParseDuration and Duration.String(), which Docker uses for every duration it reads or prints
// (HEALTHCHECK and --health-* flags, --since/--until, --time): "1m30s", "1.5h", "300ms", "-2s", "0".
import { badRequest } from './errors.js';

/** Nanoseconds per unit; both the micro sign (U+00B5) and Greek mu (U+03BC) spell microseconds, as in Go. */
const UNITS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

// One `<number><unit>` term; `ms` is tried before `m`. The number may be `1`, `1.5`, `1.` or `.5` (not `.`).
const TERM = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/u;

/** Go's time.ParseDuration in nanoseconds, or undefined when `text` is not a Go duration (no trimming). */
export function tryParseGoDuration(text: string): number | undefined {
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest[0] === '-') sign = -1;
    rest = rest.slice(1);
  }
  // A bare zero is the only unit-less duration Go accepts.
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  let total = 0;
  while (rest !== '') {
    const m = TERM.exec(rest);
    if (!m) return undefined;
    total += Number(m[1]) * UNITS[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  // `-0s` would otherwise be -0.
  return total === 0 ? 0 : sign * Math.round(total);
}

/** Go's time.ParseDuration in nanoseconds; a malformed one is a 400 with Go's message. */
export function parseGoDuration(text: string): number {
  const ns = tryParseGoDuration(text);
  if (ns === undefined) throw badRequest(`time: invalid duration "${text}"`);
  return ns;
}

/** Go's Duration.String() of nanoseconds (`30s`, `1m30s`, `1h0m0s`, `100ms`, `1.5s`, `2µs`). */
export function formatGoDuration(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let n = Math.abs(ns);
  let out: string;
  if (n < 1e3) out = `${n}ns`;
  else if (n < 1e6) out = `${trim(n / 1e3)}µs`;
  else if (n < 1e9) out = `${trim(n / 1e6)}ms`;
  else {
    const h = Math.floor(n / 3600e9);
    n -= h * 3600e9;
    const m = Math.floor(n / 60e9);
    n -= m * 60e9;
    out = `${h > 0 ? `${h}h` : ''}${h > 0 || m > 0 ? `${m}m` : ''}${trim(n / 1e9)}s`;
  }
  return neg ? `-${out}` : out;
}

function trim(x: number): string {
  return String(Number(x.toFixed(9)));
}
