// Docker's progress display for pull/push/load/build streams (jsonmessage): one line per layer id, redrawn in
// place on a terminal; on a pipe only the status changes are printed and the progress bars are left out.
import type { Writable } from 'node:stream';
import { humanSize } from './units.js';

export interface ProgressDetail {
  current?: number;
  total?: number;
  start?: number;
  units?: string;
  hidecounts?: boolean;
}

/** One object of a newline-delimited JSON progress stream. */
export interface JsonMessage {
  status?: string;
  id?: string;
  from?: string;
  stream?: string;
  progress?: string;
  progressDetail?: ProgressDetail;
  error?: string;
  errorDetail?: { code?: number; message?: string };
  aux?: unknown;
  time?: number;
  timeNano?: number;
}

/** Go's time.Duration.String() for whole seconds (1h2m3s, 45s, 0s). */
function durationString(seconds: number): string {
  if (seconds <= 0) return '0s';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/**
 * JSONProgress.String(): `[=====>      ]  1.23MB/4.56MB 3s` for a terminal `width` columns wide (the bar only
 * above 110 columns, the time left only above 50). Empty when there is nothing to show.
 */
export function progressString(p: ProgressDetail, width = 200, nowSeconds = Date.now() / 1000): string {
  const current = p.current ?? 0;
  const total = p.total ?? 0;
  if (current <= 0 && total <= 0) return '';
  if (total <= 0) return p.units ? `${current} ${p.units}` : humanSize(current, 4).padStart(8);
  let percentage = Math.trunc(Math.trunc((current / total) * 100) / 2);
  if (percentage > 50) percentage = 50;
  let bar = '';
  if (width > 110) bar = `[${'='.repeat(percentage)}>${' '.repeat(Math.max(0, 50 - percentage))}] `;
  let numbers = '';
  if (!p.hidecounts) {
    if (!p.units) {
      const cur = humanSize(current, 4);
      numbers = current > total ? cur.padStart(8) : `${cur.padStart(8)}/${humanSize(total, 4)}`;
    } else {
      numbers = current > total ? `${current} ${p.units}` : `${current}/${total} ${p.units}`;
    }
  }
  let left = '';
  if (current > 0 && p.start && p.start > 0 && percentage < 50 && width > 50) {
    // integer nanoseconds, truncated like Go's Duration arithmetic
    const perEntry = Math.floor(((nowSeconds - p.start) * 1e9) / current);
    left = ` ${durationString(Math.floor(((total - current) * perEntry) / 1e9))}`;
  }
  return bar + numbers + left;
}

export class ProgressError extends Error {
  readonly code?: number;
  constructor(message: string, code?: number) {
    super(message);
    this.name = 'ProgressError';
    this.code = code;
  }
}

export interface DisplayOptions {
  /** Redraw lines in place with cursor movements (a TTY). */
  terminal?: boolean;
  /** Terminal width for the progress bar (default 200 as Docker when unknown). */
  width?: number;
  /** Called for `aux` messages (image IDs from build/load, push digests). */
  onAux?: (aux: unknown) => void;
}

/** JSONMessage.Display: one message; undefined when it prints nothing (progress bars on a pipe). */
function displayOne(m: JsonMessage, terminal: boolean, width: number): string | undefined {
  // `progressDetail: {}` counts as progress (Go decodes it to a non-nil pointer): "Pull complete" lines
  const hasProgress = m.progressDetail !== undefined && m.progressDetail !== null;
  const progress = hasProgress ? progressString(m.progressDetail!, width) : '';
  let out = '';
  let endl = '';
  if (terminal && !m.stream && hasProgress) {
    out += '\x1b[2K\r';
    endl = '\r';
  } else if (hasProgress && progress !== '') {
    return undefined;
  }
  if (m.id) out += `${m.id}: `;
  if (m.from) out += `(from ${m.from}) `;
  if (hasProgress && terminal) out += `${m.status ?? ''} ${progress}${endl}`;
  else if (m.progress) out += `${m.status ?? ''} ${m.progress}${endl}`;
  else if (m.stream) out += `${m.stream}${endl}`;
  else out += `${m.status ?? ''}${endl}\n`;
  return out;
}

/**
 * Writes a progress stream as the docker CLI does (jsonmessage.DisplayJSONMessagesStream) and resolves when it
 * ends. An `error` message rejects with ProgressError after what came before it was shown.
 */
export async function displayJsonMessages(
  messages: AsyncIterable<JsonMessage>,
  out: Writable,
  options: DisplayOptions = {},
): Promise<void> {
  const terminal = options.terminal === true;
  const width = options.width ?? 200;
  let ids = new Map<string, number>();
  for await (const m of messages) {
    if (m.aux !== undefined) {
      options.onAux?.(m.aux);
      continue;
    }
    let diff = 0;
    const isProgress = (m.progressDetail !== undefined && m.progressDetail !== null) || !!m.progress;
    if (m.id && isProgress) {
      let line = ids.get(m.id);
      if (line === undefined) {
        // one line per id, in order of appearance; a fresh line for a new id
        line = ids.size;
        ids.set(m.id, line);
        if (terminal) out.write('\n');
      }
      diff = ids.size - line;
      if (terminal && diff > 0) out.write(`\x1b[${diff}A`);
    } else {
      // anything else ends the block of lines being redrawn
      ids = new Map();
    }
    if (m.errorDetail || m.error) {
      if (m.errorDetail?.code === 401) throw new ProgressError('authentication is required', 401);
      throw new ProgressError(m.errorDetail?.message ?? m.error ?? 'unknown error', m.errorDetail?.code);
    }
    const text = displayOne(m, terminal, width);
    if (text !== undefined) out.write(text);
    if (m.id && terminal && diff > 0) out.write(`\x1b[${diff}B`);
  }
}
