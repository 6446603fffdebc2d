// Human-readable sizes, durations, IDs, commands and ports as the docker CLI prints them
// (docker/go-units and the CLI's formatter package).
import { goG, goQuote } from './template.js';

const DECIMAL = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const BINARY = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

function scaled(size: number, base: number, units: string[], precision: number): string {
  let i = 0;
  while (size >= base && i < units.length - 1) {
    size /= base;
    i++;
  }
  return `${goG(size, precision)}${units[i]}`;
}

/** units.HumanSizeWithPrecision: decimal units, `precision` significant digits (1.23MB, 4.1kB, 0B). */
export function humanSize(bytes: number, precision = 3): string {
  return scaled(bytes, 1000, DECIMAL, precision);
}

/** units.BytesSize: binary units with 4 significant digits (docker stats memory: 1.5MiB). */
export function bytesSize(bytes: number): string {
  return scaled(bytes, 1024, BINARY, 4);
}

/** units.HumanDuration of a duration in milliseconds ("About a minute", "2 hours", "3 weeks"). */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(ms / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(ms / 3_600_000 / 24 / 365)} years`;
}

function toMs(t: Date | string | number): number {
  if (t instanceof Date) return t.getTime();
  if (typeof t === 'number') return t < 1e11 ? t * 1000 : t; // unix seconds (API `Created`) or ms
  return Date.parse(t);
}

/** "5 minutes ago" for a time (Date, RFC 3339 string, or unix seconds as in the API's `Created`). */
export function timeAgo(t: Date | string | number, now: number = Date.now()): string {
  return `${humanDuration(now - toMs(t))} ago`;
}

const ZERO_TIME = '0001-01-01T00:00:00Z';
const isZero = (t: string | undefined) => !t || t.startsWith('0001-01-01');

export interface StateForStatus {
  Running?: boolean;
  Paused?: boolean;
  Restarting?: boolean;
  Dead?: boolean;
  RemovalInProgress?: boolean;
  ExitCode?: number;
  StartedAt?: string;
  FinishedAt?: string;
  Health?: { Status?: string } | null;
}

/** The `Status` text of a container as the daemon reports it ("Up 3 seconds (healthy)", "Exited (0) 5 minutes ago"). */
export function containerStatus(s: StateForStatus, now: number = Date.now()): string {
  const since = (t: string | undefined) => humanDuration(now - Date.parse(t ?? ZERO_TIME));
  if (s.Running) {
    if (s.Paused) return `Up ${since(s.StartedAt)} (Paused)`;
    if (s.Restarting) return `Restarting (${s.ExitCode ?? 0}) ${since(s.FinishedAt)} ago`;
    const h = s.Health?.Status;
    if (h && h !== 'none') return `Up ${since(s.StartedAt)} (${h === 'starting' ? 'health: starting' : h})`;
    return `Up ${since(s.StartedAt)}`;
  }
  if (s.RemovalInProgress) return 'Removal In Progress';
  if (s.Dead) return 'Dead';
  if (isZero(s.StartedAt)) return 'Created';
  if (isZero(s.FinishedAt)) return '';
  return `Exited (${s.ExitCode ?? 0}) ${since(s.FinishedAt)} ago`;
}

/** stringid.TruncateID: drops a `sha256:` prefix and keeps 12 characters. */
export function truncateId(id: string): string {
  const i = id.indexOf(':');
  return (i === -1 ? id : id.slice(i + 1)).slice(0, 12);
}

function charWidth(ch: string): number {
  const c = ch.codePointAt(0)!;
  // East Asian wide and fullwidth ranges take two columns
  if (
    (c >= 0x1100 && c <= 0x115f) ||
    (c >= 0x2e80 && c <= 0xa4cf) ||
    (c >= 0xac00 && c <= 0xd7a3) ||
    (c >= 0xf900 && c <= 0xfaff) ||
    (c >= 0xfe30 && c <= 0xfe4f) ||
    (c >= 0xff00 && c <= 0xff60) ||
    (c >= 0xffe0 && c <= 0xffe6) ||
    (c >= 0x1f300 && c <= 0x1faff) ||
    (c >= 0x20000 && c <= 0x3fffd)
  )
    return 2;
  return 1;
}

/** formatter.Ellipsis: cut to `max` display columns, ending with "…" when cut. */
export function ellipsis(s: string, max: number): string {
  const chars = [...s];
  const total = chars.reduce((n, ch) => n + charWidth(ch), 0);
  if (total <= max) return s;
  if (max <= 0) return '';
  let out = '';
  let w = 0;
  for (const ch of chars) {
    const cw = charWidth(ch);
    if (w + cw > max - 1) break;
    out += ch;
    w += cw;
  }
  return `${out}…`;
}

/** The COMMAND column of docker ps: quoted, and cut to 20 columns unless --no-trunc. */
export function formatCommand(command: string, trunc = true): string {
  return goQuote(trunc ? ellipsis(command, 20) : command);
}

export interface PortLike {
  IP?: string;
  PrivatePort: number;
  PublicPort?: number;
  Type: string;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function joinHostPort(host: string, port: string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The PORTS column of docker ps: ranges grouped, published ports as host->container/proto. */
export function formatPorts(input: readonly PortLike[]): string {
  const ports = [...input].sort(
    (a, b) =>
      a.PrivatePort - b.PrivatePort ||
      cmp(a.IP ?? '', b.IP ?? '') ||
      (a.PublicPort ?? 0) - (b.PublicPort ?? 0) ||
      cmp(a.Type, b.Type),
  );
  const groups = new Map<string, { first: number; last: number }>();
  const result: string[] = [];
  const hostMappings: string[] = [];
  const form = (key: string, first: number, last: number) => {
    const slash = key.lastIndexOf('/');
    const ip = slash === -1 ? '' : key.slice(0, slash);
    const type = slash === -1 ? key : key.slice(slash + 1);
    let group = first === last ? String(first) : `${first}-${last}`;
    if (ip) group = `${joinHostPort(ip, group)}->${group}`;
    return `${group}/${type}`;
  };
  for (const p of ports) {
    let key = p.Type;
    if (p.IP) {
      if ((p.PublicPort ?? 0) !== p.PrivatePort) {
        hostMappings.push(`${joinHostPort(p.IP, String(p.PublicPort ?? 0))}->${p.PrivatePort}/${p.Type}`);
        continue;
      }
      key = `${p.IP}/${p.Type}`;
    }
    const g = groups.get(key);
    if (!g) {
      groups.set(key, { first: p.PrivatePort, last: p.PrivatePort });
      continue;
    }
    if (p.PrivatePort === g.last + 1) {
      g.last = p.PrivatePort;
      continue;
    }
    result.push(form(key, g.first, g.last));
    groups.set(key, { first: p.PrivatePort, last: p.PrivatePort });
  }
  for (const [key, g] of groups) result.push(form(key, g.first, g.last));
  return [...result, ...hostMappings].join(', ');
}
