// Spawning conmon, the per-container monitor Podman uses, and speaking its pipe protocol:
// _OCI_STARTPIPE (we write once to let it go, and once more after attaching for exec),
// _OCI_SYNCPIPE (it answers {"data": pid} or {"data": -1, "message": ...}; for exec a second
// {"data": exitCode}), _OCI_ATTACHPIPE (exec: {"data": 0} once the attach socket is listening).
import { type ChildProcess, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { BerthError, internal } from '../util/index.js';

export const CONMON = process.env.BERTH_CONMON ?? 'conmon';

export interface SyncMessage {
  data: number;
  message?: string;
}

/** A runtime failure with the exit code Docker records for it (127 not found, 126 not executable). */
export class RuntimeError extends BerthError {
  readonly exitCode: number;
  constructor(status: number, message: string, exitCode: number) {
    super(status, message);
    this.name = 'RuntimeError';
    this.exitCode = exitCode;
  }
}

/** Maps a runtime's create/exec error text to Docker's status and exit code. */
export function runtimeError(message: string): RuntimeError {
  const text = message.trim().replace(/^(runc|crun) (create|exec) failed: /, '');
  if (/executable file not found|no such file or directory/i.test(text))
    return new RuntimeError(400, text, 127);
  if (/permission denied/i.test(text)) return new RuntimeError(400, text, 126);
  return new RuntimeError(500, text || 'the OCI runtime failed without a message', 128);
}

/** Reads newline-separated JSON messages from a pipe, one at a time. */
export class MessageReader {
  private buffer = '';
  private readonly queue: SyncMessage[] = [];
  private waiters: ((m: SyncMessage | undefined) => void)[] = [];
  private ended = false;
  constructor(
    stream: Readable,
    private readonly what: string,
  ) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      this.buffer += chunk;
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl).trim();
        this.buffer = this.buffer.slice(nl + 1);
        if (line) this.push(this.parse(line));
      }
    });
    const finish = () => {
      if (this.buffer.trim()) this.push(this.parse(this.buffer.trim()));
      this.buffer = '';
      this.ended = true;
      for (const w of this.waiters.splice(0)) w(undefined);
    };
    stream.on('end', finish);
    stream.on('close', finish);
    stream.on('error', finish);
  }
  private parse(line: string): SyncMessage {
    try {
      const value = JSON.parse(line) as SyncMessage;
      if (typeof value.data === 'number') return value;
    } catch {
      // fall through
    }
    return { data: -1, message: `conmon sent an unreadable ${this.what} message: ${line}` };
  }
  private push(m: SyncMessage): void {
    const w = this.waiters.shift();
    if (w) w(m);
    else this.queue.push(m);
  }
  /** The next message, or undefined when the pipe closed first. */
  next(timeoutMs = 60_000): Promise<SyncMessage | undefined> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(internal(`timed out after ${timeoutMs} ms waiting for conmon's ${this.what} message`));
      }, timeoutMs);
      timer.unref();
      const waiter = (m: SyncMessage | undefined) => {
        clearTimeout(timer);
        resolve(m);
      };
      this.waiters.push(waiter);
    });
  }
}

export interface ConmonProcess {
  child: ChildProcess;
  sync: MessageReader;
  attach?: MessageReader;
  startPipe: Writable;
  /** Closes our ends of the pipes and lets the event loop forget the process. */
  release(): void;
  /** Resolves when the first conmon process (the one that forks the monitor) has exited. */
  parentExited: Promise<number | null>;
}

/**
 * Spawns conmon detached from us, with the sync and start pipes (and the attach pipe for exec), in
 * `cwd`: conmon also writes its `oom` marker into its working directory (as podman runs it, in the
 * bundle), which must not be wherever the daemon was started.
 */
export function spawnConmon(args: readonly string[], withAttachPipe: boolean, cwd: string): ConmonProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4' };
  if (withAttachPipe) env._OCI_ATTACHPIPE = '5';
  const stdio: ('ignore' | 'pipe')[] = ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'];
  if (withAttachPipe) stdio.push('pipe');
  // detached: conmon must survive us; it double-forks and is reparented to init.
  const child = spawn(CONMON, args, { stdio, env, detached: true, cwd });
  const parentExited = new Promise<number | null>((resolve, reject) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', (err) => reject(internal(`cannot run ${CONMON}: ${err.message}`, err)));
  });
  parentExited.catch(() => {});
  const syncStream = child.stdio[3] as Readable;
  const startPipe = child.stdio[4] as Writable;
  startPipe.on('error', () => {});
  const attachStream = withAttachPipe ? ((child.stdio as unknown as Readable[])[5] as Readable) : undefined;
  return {
    child,
    sync: new MessageReader(syncStream, 'sync'),
    attach: attachStream ? new MessageReader(attachStream, 'attach') : undefined,
    startPipe,
    parentExited,
    release() {
      syncStream.destroy();
      startPipe.destroy();
      attachStream?.destroy();
      child.unref();
    },
  };
}

/** Writes to the start pipe (conmon only needs a byte). */
export function signalStart(pipe: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    pipe.write('0', (err) =>
      err ? reject(internal(`cannot signal conmon to start: ${err.message}`)) : resolve(),
    );
  });
}
