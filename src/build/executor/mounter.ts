// The builder's mounts and unmounts go through one long-lived shell: every spawn from the daemon forks
// the whole (large) daemon process and blocks its event loop until the child has exec'd (several ms,
// more on a loaded machine), while the shell forks a small process. Requests are lines on its stdin,
// answered in order with the exit code (and the error output on a failure). When the shell is gone or
// cannot start, the command is spawned directly as before.
import { type ChildProcess, spawn } from 'node:child_process';
import { run } from '../../util/index.js';

export interface MountResult {
  code: number;
  stderr: string;
}

// Reads a request (cwd, then the command, each argument quoted), answers `<code>[ <stderr on one line>]`.
const LOOP = `while IFS= read -r line; do
  out=$(eval "$line" 2>&1 >/dev/null); rc=$?
  if [ "$rc" -eq 0 ]; then echo 0; else printf '%d %s\\n' "$rc" "$(printf %s "$out" | tr '\\n' ' ')"; fi
done`;

const handle = (stream: unknown) => stream as { ref?: () => void; unref?: () => void };
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export class Mounter {
  private child: ChildProcess | undefined;
  private broken = false;
  private buffered = '';
  private readonly waiting: ((r: MountResult | undefined) => void)[] = [];

  /** Runs `mount`/`umount` with `args` in `cwd` (default /). */
  async run(command: 'mount' | 'umount', args: string[], cwd = '/'): Promise<MountResult> {
    if (/[\n\r\0]/.test([cwd, ...args].join(''))) return this.direct(command, args, cwd);
    const child = this.shell();
    if (!child) return this.direct(command, args, cwd);
    const r = await new Promise<MountResult | undefined>((resolve) => {
      this.waiting.push(resolve);
      // A request keeps the process alive until its answer (the idle shell does not).
      handle(child.stdout).ref?.();
      child.stdin!.write(`cd ${quote(cwd)} && ${command} ${args.map(quote).join(' ')}\n`);
    });
    // The shell went away before answering: done directly.
    return r ?? this.direct(command, args, cwd);
  }

  private async direct(command: string, args: string[], cwd: string): Promise<MountResult> {
    const r = await run(command, args, { cwd });
    return { code: r.code, stderr: r.stderr };
  }

  private shell(): ChildProcess | undefined {
    if (this.broken) return undefined;
    if (this.child) return this.child;
    let child: ChildProcess;
    try {
      child = spawn('/bin/sh', ['-c', LOOP], { stdio: ['pipe', 'pipe', 'ignore'] });
    } catch {
      this.broken = true;
      return undefined;
    }
    // The shell must not keep the daemon alive; it ends by itself when its stdin closes.
    child.unref();
    handle(child.stdin).unref?.();
    handle(child.stdout).unref?.();
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      this.buffered += chunk;
      let nl = this.buffered.indexOf('\n');
      while (nl >= 0) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        const sp = line.indexOf(' ');
        const code = Number(sp < 0 ? line : line.slice(0, sp));
        this.waiting.shift()?.({
          code: Number.isInteger(code) ? code : 1,
          stderr: sp < 0 ? '' : line.slice(sp + 1),
        });
        nl = this.buffered.indexOf('\n');
      }
      if (this.waiting.length === 0) handle(child.stdout).unref?.();
    });
    const gone = () => {
      this.broken = true;
      this.child = undefined;
      // Whatever was asked and not answered is done directly.
      for (const w of this.waiting.splice(0)) w(undefined);
    };
    child.on('error', gone);
    child.on('exit', gone);
    child.stdin!.on('error', () => {});
    this.child = child;
    return child;
  }
}
