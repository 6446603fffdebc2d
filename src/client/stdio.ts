// Wiring a hijacked attach/exec stream to the local terminal or pipes, as `docker run -it`, `docker attach` and
// `docker exec -it` do: stdin in (half-closed on EOF), stdout/stderr out (demultiplexed without a TTY), raw mode
// and window-size tracking on a terminal.
import type { Readable, Writable } from 'node:stream';
import { demux } from './demux.js';
import type { HijackedStream } from './engine.js';

export interface StdioOptions {
  /** The container/exec has a TTY: output is raw, not multiplexed. */
  tty: boolean;
  /** Local input; omit when stdin is not attached. */
  stdin?: Readable;
  stdout: Writable;
  stderr: Writable;
  /** Called with the terminal size now and whenever it changes (only with tty and a terminal stdout). */
  resize?: (size: { h: number; w: number }) => Promise<void> | void;
}

interface TtyIn {
  isTTY?: boolean;
  isRaw?: boolean;
  setRawMode?: (on: boolean) => unknown;
}
interface TtyOut {
  isTTY?: boolean;
  rows?: number;
  columns?: number;
}

/**
 * Copies between the hijacked stream and local stdio until the daemon closes the output. Resolves when all
 * output has been written locally; local stdin is left open (and paused) for the caller.
 */
export async function pipeStdio(stream: HijackedStream, opts: StdioOptions): Promise<void> {
  const input = opts.stdin as (Readable & TtyIn) | undefined;
  const termOut = opts.stdout as Writable & TtyOut;
  const wasRaw = input?.isRaw === true;
  const raw = opts.tty && input?.isTTY === true && typeof input.setRawMode === 'function';
  if (raw) input!.setRawMode!(true);

  let onWinch: (() => void) | undefined;
  if (opts.tty && opts.resize && termOut.isTTY) {
    const send = () => {
      if (termOut.rows && termOut.columns)
        void Promise.resolve(opts.resize!({ h: termOut.rows, w: termOut.columns })).catch(() => {});
    };
    send();
    onWinch = send;
    termOut.on('resize', onWinch);
  }

  const onData = (b: Buffer) => {
    if (!stream.write(b)) {
      input!.pause();
      stream.once('drain', () => input!.resume());
    }
  };
  // EOF on local stdin closes the container's stdin but keeps its output flowing
  const onEnd = () => stream.end();
  if (input) {
    input.on('data', onData);
    input.once('end', onEnd);
    input.resume();
  } else {
    stream.end();
  }

  try {
    await new Promise<void>((resolve, reject) => {
      if (opts.tty) {
        stream.on('data', (b: Buffer) => opts.stdout.write(b));
        stream.once('end', () => resolve());
        stream.once('close', () => resolve());
        stream.once('error', reject);
        return;
      }
      const { stdout, stderr } = demux(stream);
      let open = 2;
      const done = () => {
        if (--open === 0) resolve();
      };
      stdout.on('data', (b: Buffer) => opts.stdout.write(b));
      stderr.on('data', (b: Buffer) => opts.stderr.write(b));
      stdout.once('end', done);
      stderr.once('end', done);
      stdout.once('error', reject);
      stream.once('error', reject);
    });
  } finally {
    if (input) {
      input.off('data', onData);
      input.off('end', onEnd);
      input.pause();
    }
    if (onWinch) termOut.off('resize', onWinch);
    if (raw && !wasRaw) input!.setRawMode!(false);
    stream.destroy();
  }
}
