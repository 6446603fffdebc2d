// Reading conmon's k8s-file logs: `<RFC3339Nano> <stdout|stderr> <F|P> <message>` per line, where
// P marks a partial line continued by the next entry. Streams the file; with follow, keeps reading
// as it grows until the container exits or the caller stops.
import { createReadStream, watch } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { badRequest } from '../util/index.js';

export interface LogEntry {
  stream: 'stdout' | 'stderr';
  /** RFC 3339 with nanoseconds, in UTC ("2024-01-02T03:04:05.123456789Z"), as Docker prints it. */
  time: string;
  /** Milliseconds since the epoch, for comparisons. */
  timeMs: number;
  /** The line including its trailing newline (absent only on a final partial line). */
  line: string;
}

export interface ReadLogsOptions {
  follow?: boolean;
  /** Only entries at or after this time (seconds since the epoch, or a Date). */
  since?: number | Date;
  /** Only entries at or before this time. */
  until?: number | Date;
  /** Only the last n lines (before following); undefined or negative = all. */
  tail?: number;
  stdout?: boolean;
  stderr?: boolean;
  /** Stop following when this aborts. */
  signal?: AbortSignal;
  /** Stop following once this resolves (e.g. the container's exit), after draining the file. */
  exited?: Promise<unknown>;
}

interface ParsedLine {
  stream: 'stdout' | 'stderr';
  time: string;
  timeMs: number;
  partial: boolean;
  message: string;
}

/** Parses one k8s-file line; undefined for a line that does not follow the format. */
export function parseLogLine(line: string): ParsedLine | undefined {
  const m = /^(\S+) (stdout|stderr) ([FP]) ?(.*)$/s.exec(line);
  if (!m) return undefined;
  const [, ts, stream, tag, message] = m;
  const time = toUtcNano(ts!);
  if (!time) return undefined;
  return {
    stream: stream as 'stdout' | 'stderr',
    time: time.text,
    timeMs: time.ms,
    partial: tag === 'P',
    message: message!,
  };
}

/** "2024-01-02T03:04:05.123456789+02:00" → UTC text with nanoseconds kept, and epoch ms. */
function toUtcNano(ts: string): { text: string; ms: number } | undefined {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(ts);
  if (!m) return undefined;
  const frac = (m[2] ?? '').padEnd(9, '0');
  const ms = Date.parse(`${m[1]}.${frac.slice(0, 3)}${m[3]}`);
  if (Number.isNaN(ms)) return undefined;
  const utc = new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19);
  return { text: `${utc}.${frac}Z`, ms };
}

function toMs(t: number | Date | undefined): number | undefined {
  if (t === undefined) return undefined;
  if (t instanceof Date) return t.getTime();
  if (!Number.isFinite(t)) throw badRequest(`invalid log time ${t}`);
  return t * 1000;
}

/** Joins partial entries into whole lines and applies the stream/time filters. */
class Assembler {
  private pending = new Map<string, ParsedLine & { text: string }>();
  constructor(private readonly opts: { stdout: boolean; stderr: boolean; since?: number; until?: number }) {}
  push(raw: string): LogEntry | undefined {
    const p = parseLogLine(raw);
    if (!p) return undefined;
    const prev = this.pending.get(p.stream);
    const text = (prev?.text ?? '') + p.message;
    if (p.partial) {
      this.pending.set(p.stream, { ...(prev ?? p), text });
      return undefined;
    }
    this.pending.delete(p.stream);
    const first = prev ?? p;
    return this.filter({ stream: p.stream, time: first.time, timeMs: first.timeMs, line: `${text}\n` });
  }
  flush(): LogEntry[] {
    const out: LogEntry[] = [];
    for (const p of this.pending.values()) {
      const e = this.filter({ stream: p.stream, time: p.time, timeMs: p.timeMs, line: p.text });
      if (e) out.push(e);
    }
    this.pending.clear();
    return out;
  }
  private filter(e: LogEntry): LogEntry | undefined {
    if (e.stream === 'stdout' && !this.opts.stdout) return undefined;
    if (e.stream === 'stderr' && !this.opts.stderr) return undefined;
    if (this.opts.since !== undefined && e.timeMs < this.opts.since) return undefined;
    if (this.opts.until !== undefined && e.timeMs > this.opts.until) return undefined;
    return e;
  }
}

/**
 * Streams a container's log. Without follow, yields what the file holds and ends; with follow,
 * waits for new lines until `signal` aborts or `exited` resolves (then drains what is left).
 */
export async function* readLogs(logPath: string, options: ReadLogsOptions = {}): AsyncGenerator<LogEntry> {
  const stdout = options.stdout ?? true;
  const stderr = options.stderr ?? true;
  const until = toMs(options.until);
  const asm = new Assembler({ stdout, stderr, since: toMs(options.since), until });
  const tail = options.tail !== undefined && options.tail >= 0 ? options.tail : undefined;

  let size = 0;
  try {
    size = (await stat(logPath)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }

  // 1) what the file holds now
  let offset = 0;
  if (size > 0) {
    // Split on \n only: TTY output carries \r inside messages.
    const ring: LogEntry[] = [];
    let carry = '';
    for await (const chunk of createReadStream(logPath, { start: 0, end: size - 1, encoding: 'utf8' })) {
      const lines = (carry + (chunk as string)).split('\n');
      carry = lines.pop() ?? '';
      for (const line of lines) {
        offset += Buffer.byteLength(line) + 1;
        const e = asm.push(line);
        if (!e) continue;
        if (tail === undefined) yield e;
        else {
          ring.push(e);
          if (ring.length > tail) ring.shift();
        }
      }
    }
    // an unterminated last line stays in the file for follow (or is read below when not following)
    if (!options.follow && carry) {
      const e = asm.push(carry);
      if (e) ring.push(e);
      if (e && tail === undefined) yield ring.pop()!;
      if (tail !== undefined && ring.length > tail) ring.shift();
    }
    if (tail !== undefined) yield* ring;
  }
  if (!options.follow || (until !== undefined && Date.now() >= until)) {
    yield* asm.flush();
    return;
  }

  // 2) follow: wake on file changes, the exit, or abort; poll as a backstop.
  let exited = false;
  let wake: (() => void) | undefined;
  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  options.exited?.then(
    () => {
      exited = true;
      poke();
    },
    () => {
      exited = true;
      poke();
    },
  );
  options.signal?.addEventListener('abort', poke);
  let watcher: ReturnType<typeof watch> | undefined;
  try {
    watcher = watch(logPath, poke);
  } catch {
    // file not there yet
  }
  const timer = setInterval(poke, 500);
  let carry = '';
  try {
    for (;;) {
      const finalPass = exited || options.signal?.aborted === true;
      let current = 0;
      try {
        current = (await stat(logPath)).size;
      } catch {
        current = 0;
      }
      if (current < offset) offset = 0; // truncated by rotation: start over
      if (current > offset) {
        if (!watcher) {
          try {
            watcher = watch(logPath, poke);
          } catch {
            // keep polling
          }
        }
        const fh = await open(logPath, 'r');
        try {
          const buf = Buffer.alloc(Math.min(current - offset, 1 << 20));
          const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
          offset += bytesRead;
          carry += buf.subarray(0, bytesRead).toString('utf8');
        } finally {
          await fh.close();
        }
        const lines = carry.split('\n');
        carry = lines.pop() ?? '';
        for (const line of lines) {
          const e = asm.push(line);
          if (e) yield e;
        }
        if (current > offset) continue; // more than one chunk waiting
      }
      if (options.signal?.aborted) break;
      if (finalPass) break;
      if (until !== undefined && Date.now() >= until) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    clearInterval(timer);
    watcher?.close();
    options.signal?.removeEventListener('abort', poke);
  }
  if (carry) {
    const e = asm.push(carry);
    if (e) yield e;
  }
  yield* asm.flush();
}
