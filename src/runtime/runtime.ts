// The container runtime driver: runc (or crun) under conmon. conmon holds each container's stdio,
// writes its log and exit code and serves attach, so containers outlive the daemon; runc's state
// directory plus the files in the container dir are all a restarted daemon needs to re-adopt them.
import { existsSync, constants as fsConstants, readFileSync, watch } from 'node:fs';
import { lstat, mkdir, open, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { basename, join } from 'node:path';
import { PassThrough, type Readable, Writable } from 'node:stream';
import { SeqpacketSocket } from 'node-unix-socket';
import { badRequest, conflict, internal, notFound, randomId, run, writeFileAtomic } from '../util/index.js';
import { RuntimeError, runtimeError, signalStart, spawnConmon } from './conmon.js';
import type { OciProcess, OciSpec } from './oci.js';
import { type ContainerPaths, containerPaths } from './paths.js';
import { serializeSpec } from './spec.js';

export type RuntimeName = 'runc' | 'crun';

/** `runc state` output. */
export interface RuntimeState {
  ociVersion: string;
  id: string;
  pid: number;
  status: 'creating' | 'created' | 'running' | 'paused' | 'stopped';
  bundle: string;
  rootfs?: string;
  created: string;
}

export interface RuntimeOptions {
  /** 'runc' (default), 'crun', or a path to an OCI runtime binary. */
  runtime?: string;
  /** The runtime's state root (`--root`); keeps our containers apart from docker's and podman's. */
  stateRoot?: string;
  /** Short directory for attach sockets whose bundle path is too long for a socket address. */
  socketDir?: string;
  /** Exec sessions' files (process.json, attach socket, ctl fifo), one short directory each. */
  execRoot?: string;
  /**
   * The cgroup conmon moves to before it forks the monitor (as Podman does), so stopping the
   * daemon's service cgroup does not take the monitors with it. null leaves conmon in ours.
   */
  conmonCgroup?: string | null;
}

/** sun_path holds 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH = 107;

export interface CreateOptions {
  id: string;
  /** The container directory; see containerPaths() for its layout. */
  dir: string;
  spec: OciSpec;
  tty?: boolean;
  /** Keep a stdin pipe that attach clients write to. */
  openStdin?: boolean;
  /** Docker's StdinOnce: close the container's stdin when the first attached client detaches. */
  stdinOnce?: boolean;
  name?: string;
  /** Rotate the log when it exceeds this many bytes (conmon truncates it). */
  logSizeMax?: number;
}

export interface ExitInfo {
  exitCode: number;
  /** When conmon recorded the exit (the exit file's mtime). */
  finishedAt: Date;
  oomKilled: boolean;
}

export interface AttachStreams {
  /** Present when the container was created with openStdin; end() closes the container's stdin. */
  stdin: Writable;
  stdout: Readable;
  /** Empty for TTY containers (a terminal has one output stream). */
  stderr: Readable;
  /** Disconnects without touching the container. */
  close(): void;
}

export interface ExecOptions {
  tty?: boolean;
  stdin?: boolean;
  /** Do not attach: run in the background; exit code still available from wait(). */
  detach?: boolean;
}

export interface ExecHandle {
  id: string;
  pid: number;
  stdin?: Writable;
  stdout?: Readable;
  stderr?: Readable;
  /** The exit code (126/127 map as Docker's); resolves after the output streams have ended. */
  wait(): Promise<number>;
  resize(size: { height: number; width: number }): Promise<void>;
}

const SIGNALS = osConstants.signals as Record<string, number>;

/** Parses "KILL", "SIGKILL", "9" into a signal number; throws 400 otherwise. */
export function parseSignal(signal: string | number): number {
  if (typeof signal === 'number') {
    if (Number.isInteger(signal) && signal > 0 && signal < 65) return signal;
    throw badRequest(`invalid signal: ${signal}`);
  }
  const s = signal.trim().toUpperCase();
  if (/^\d+$/.test(s)) return parseSignal(Number(s));
  const name = s.startsWith('SIG') ? s : `SIG${s}`;
  const n = SIGNALS[name];
  if (n === undefined) throw badRequest(`invalid signal: ${signal}`);
  return n;
}

/** True when crun can run containers here (crun 1.8 refuses cgroup v1 hybrid setups). */
export function crunUsable(): boolean {
  if (!existsSync('/sys/fs/cgroup/cgroup.controllers')) return false; // not pure cgroup v2
  return findBinary('crun') !== undefined;
}

function findBinary(name: string): string | undefined {
  if (name.includes('/')) return existsSync(name) ? name : undefined;
  for (const dir of (
    process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  ).split(':')) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** The runtime binary: runc unless `preferred` names another; crun is refused (400) where it cannot run. 500 if missing. */
export function pickRuntime(preferred?: string): string {
  if (preferred === 'crun' && !crunUsable()) {
    throw badRequest('crun cannot run containers on this host (it needs cgroup v2); use runc');
  }
  const path = findBinary(preferred ?? 'runc');
  if (!path) throw internal(`OCI runtime ${preferred ?? 'runc'} is not installed`);
  return path;
}

export class OciRuntime {
  readonly runtimePath: string;
  readonly stateRoot: string;
  readonly socketDir: string;
  readonly execRoot: string;
  readonly conmonCgroup: string | null;
  private socketDirMade = false;

  constructor(options: RuntimeOptions = {}) {
    this.runtimePath = pickRuntime(options.runtime);
    this.stateRoot = options.stateRoot ?? '/run/berth/runtime';
    this.socketDir = options.socketDir ?? '/run/berth/sockets';
    this.execRoot = options.execRoot ?? '/run/berth/exec';
    this.conmonCgroup = options.conmonCgroup === undefined ? '/berth/conmon' : options.conmonCgroup;
  }

  /**
   * conmon binds the attach socket at `<bundle>/attach` (--full-attach) when that path fits in a
   * sockaddr_un (107 bytes); otherwise at `<socketDir>/<uuid>/attach`, through a symlink to the bundle.
   */
  private attachArgs(bundle: string): string[] {
    if (join(bundle, 'attach').length <= MAX_SOCKET_PATH)
      return ['--full-attach', '--socket-dir-path', bundle];
    return ['--socket-dir-path', this.socketDir];
  }

  /** Where the attach socket of the container (or exec session) `uuid` in `bundle` can be reached. */
  attachPath(bundle: string, uuid: string): string {
    const full = join(bundle, 'attach');
    return full.length <= MAX_SOCKET_PATH ? full : join(this.socketDir, uuid, 'attach');
  }

  private readonly monitorMoves = new Set<Promise<void>>();

  private runtimeArgs(): string[] {
    return ['--root', this.stateRoot];
  }

  /** Runs `<runtime> --root R <args>`; returns stdout, throws with the runtime's message. */
  private async runtime(args: string[], what: string): Promise<string> {
    const result = await run(this.runtimePath, [...this.runtimeArgs(), ...args]);
    if (result.code !== 0) {
      const msg = (result.stderr || result.stdout).trim();
      if (/does not exist|not found|no such file/i.test(msg) && !/exec/.test(what)) {
        throw notFound(`No such container: ${args[args.length - 1]}`);
      }
      if (/not running|already running|has stopped|paused|cannot (pause|resume)/i.test(msg)) {
        throw conflict(`cannot ${what} container ${args[args.length - 1]}: ${msg}`);
      }
      throw internal(`${what} failed: ${msg}`);
    }
    return result.stdout;
  }

  private conmonArgs(
    p: ContainerPaths,
    cid: string,
    uuid: string,
    bundle: string,
    opts: {
      tty?: boolean;
      stdin?: boolean;
      leaveStdinOpen?: boolean;
      logPath: string;
      exitDir: string;
      name?: string;
    },
  ): string[] {
    const args = [
      '--api-version',
      '1',
      '-c',
      cid,
      '-u',
      uuid,
      '-n',
      opts.name ?? cid,
      '-r',
      this.runtimePath,
      '-b',
      bundle,
      '-p',
      join(bundle, 'pidfile'),
      '-P',
      join(bundle, 'conmon.pid'),
      '-l',
      `k8s-file:${opts.logPath}`,
      '--exit-dir',
      opts.exitDir,
      ...this.attachArgs(bundle),
      '--log-level',
      'error',
      '--syslog',
    ];
    for (const a of this.runtimeArgs()) args.push('--runtime-arg', a);
    args.push('--runtime-arg', '--log-format=json', '--runtime-arg', '--log', `--runtime-arg=${p.ociLog}`);
    if (opts.tty) args.push('-t');
    if (opts.stdin) args.push('-i');
    if (opts.leaveStdinOpen) args.push('--leave-stdin-open');
    return args;
  }

  /**
   * Writes config.json and creates the container under a fresh conmon (state "created").
   * Throws RuntimeError (400, exitCode 127/126) when the command cannot be found or executed.
   */
  async create(options: CreateOptions): Promise<{ pid: number; conmonPid: number }> {
    const p = containerPaths(options.dir);
    const tty = options.tty ?? options.spec.process.terminal === true;
    // Independent file-system steps, side by side (each is a thread-pool round trip).
    await Promise.all([
      mkdir(p.exitDir, { recursive: true }).then(() => rm(join(p.exitDir, options.id), { force: true })),
      this.socketDirMade ||
        mkdir(this.socketDir, { recursive: true }).then(() => (this.socketDirMade = true)),
      mkdir(p.persistDir, { recursive: true }).then(() =>
        Promise.all([
          rm(join(p.persistDir, 'exit'), { force: true }),
          rm(join(p.persistDir, 'oom'), { force: true }),
        ]),
      ),
      writeFile(p.ociLog, ''),
      // Written afresh at every start (never read back after a crash): no fsync on the hot path.
      writeFile(
        p.config,
        serializeSpec({
          ...options.spec,
          process: { ...options.spec.process, terminal: tty },
        }),
      ),
    ]);
    const args = this.conmonArgs(p, options.id, options.id, p.bundle, {
      tty,
      stdin: options.openStdin,
      leaveStdinOpen: options.openStdin && !options.stdinOnce,
      logPath: p.log,
      exitDir: p.exitDir,
      name: options.name,
    });
    args.push('--persist-dir', p.persistDir);
    if (options.logSizeMax && options.logSizeMax > 0) args.push('--log-size-max', String(options.logSizeMax));
    const conmon = spawnConmon(args, false, p.bundle);
    // conmon's first process is moved while it starts the runtime (not before: see moveMonitor); the
    // monitor it forks is moved again once known, in case it was forked before the first move landed.
    this.moveMonitor(conmon.child.pid ?? 0);
    try {
      await signalStart(conmon.startPipe);
      const parentCode = await conmon.parentExited;
      const msg = await conmon.sync.next();
      if (!msg) throw internal(`conmon exited (status ${parentCode}) without reporting the container's pid`);
      if (msg.data < 0) {
        // conmon passes on the runtime's stderr; the runtime's JSON log has the cleaner message.
        throw runtimeError((await lastRuntimeError(p.ociLog)) ?? msg.message ?? '');
      }
      const conmonPid = Number((await readFile(p.conmonPidFile, 'utf8').catch(() => '')).trim()) || 0;
      this.moveMonitor(conmonPid);
      return { pid: msg.data, conmonPid };
    } catch (err) {
      await run(this.runtimePath, [...this.runtimeArgs(), 'delete', '--force', options.id]).catch(() => {});
      throw err;
    } finally {
      conmon.release();
    }
  }

  /**
   * Moves a conmon process into berth's conmon cgroup, so that stopping the daemon's service does not
   * take the monitors with it. Not awaited: on cgroup v1 the first cgroup.procs write after a quiet
   * spell waits for an RCU grace period (5-30 ms here); awaiting it before signalling conmon held every
   * start up by that much, while a move running beside runc create shares the wait runc's own first
   * cgroup write has anyway. settle() awaits the pending moves.
   */
  private moveMonitor(pid: number): void {
    if (!pid || !this.conmonCgroup) return;
    const move = moveToCgroup(pid, this.conmonCgroup).finally(() => this.monitorMoves.delete(move));
    this.monitorMoves.add(move);
  }

  /** Resolves once every pending monitor move has been done (daemon shutdown). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.monitorMoves]);
  }

  async start(id: string): Promise<void> {
    if (await this.startByFifo(id)) return;
    await this.runtime(['start', id], 'start');
  }

  /**
   * runc's start, without spawning runc (one process less per run): a created container's init waits
   * in an open of `<state>/<id>/exec.fifo` for writing; `runc start` opens it for reading, reads the
   * "0" init writes just before it execs the process, and removes the fifo (runc tells "created" from
   * "running" by the fifo's presence). False when that protocol is not there (another runtime, no
   * fifo, init gone): the caller runs `runc start`, which reports the problem in its own words.
   */
  private async startByFifo(id: string): Promise<boolean> {
    const state = await this.runcState(id);
    if (!state) return false;
    const fifo = join(this.stateRoot, id, 'exec.fifo');
    try {
      if (!(await lstat(fifo)).isFIFO()) return false;
    } catch {
      return false;
    }
    if ((await initStatus(state)) !== 'alive') return false;
    // The open blocks (in the thread pool) until the writer is there; an init that died after the
    // check never comes, so after a while our own non-blocking writer releases the open.
    const opening = open(fifo, 'r');
    const guard = setTimeout(() => {
      open(fifo, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK)
        .then((w) => w.close())
        .catch(() => {});
    }, 5000);
    let data: Buffer;
    try {
      const reader = await opening;
      try {
        data = await reader.readFile();
      } finally {
        await reader.close();
      }
    } finally {
      clearTimeout(guard);
    }
    if (data.length === 0) throw internal(`cannot start container ${id}: its init exited before the start`);
    await rm(fifo, { force: true });
    return true;
  }

  async kill(id: string, signal: string | number = 'SIGTERM', all = false): Promise<void> {
    const sig = parseSignal(signal);
    // SIGKILL and --all stay with runc: it also reaps a container without a PID namespace of its own.
    if (!all && sig !== osConstants.signals.SIGKILL && (await this.killInit(id, sig))) return;
    const args = ['kill'];
    if (all) args.push('--all');
    await this.runtime([...args, id, String(sig)], 'kill');
  }

  /**
   * runc's kill of the init process, without spawning runc (a `compose down` of ten services spawned
   * ten of them at once). False when anything differs from the plain case (another runtime, no state,
   * init gone or a zombie): the caller runs `runc kill`, which reports it in its own words.
   */
  private async killInit(id: string, sig: number): Promise<boolean> {
    const state = await this.runcState(id);
    if (!state || (await initStatus(state)) !== 'alive') return false;
    try {
      process.kill(state.init_process_pid!, sig);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * runc's delete of a stopped container, without spawning runc: its cgroups (empty: the PID namespace
   * died with its init) and its state directory, as runc removes them. False for anything else (init
   * alive or a zombie, no PID namespace of its own, hooks to run, a cgroup still busy): runc does it.
   */
  private async deleteStopped(id: string): Promise<boolean> {
    const state = await this.runcState(id);
    if (!state?.cgroup_paths || state.config?.hooks) return false;
    if (!state.config?.namespaces?.some((n) => n.type === 'NEWPID')) return false;
    if ((await initStatus(state)) !== 'gone') return false;
    // cpu and cpuacct may share one hierarchy: a path already removed is fine.
    for (const path of new Set(Object.values(state.cgroup_paths))) {
      try {
        await rmdir(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return false;
      }
    }
    await rm(join(this.stateRoot, id), { recursive: true, force: true });
    return true;
  }

  /** runc's state.json of a container, when the runtime is runc and the file is readable. */
  private async runcState(id: string): Promise<RuncState | undefined> {
    if (basename(this.runtimePath) !== 'runc') return undefined;
    try {
      return JSON.parse(await readFile(join(this.stateRoot, id, 'state.json'), 'utf8')) as RuncState;
    } catch {
      return undefined;
    }
  }

  async pause(id: string): Promise<void> {
    await this.runtime(['pause', id], 'pause');
  }

  async resume(id: string): Promise<void> {
    await this.runtime(['resume', id], 'resume');
  }

  /** Removes the runtime's state; `force` kills a running container first. Missing is not an error. */
  async delete(id: string, options: { force?: boolean } = {}): Promise<void> {
    await this.deleteState(id, options);
    // conmon's short attach-socket link, when the bundle path was too long for --full-attach
    await rm(join(this.socketDir, id), { force: true }).catch(() => {});
  }

  private async deleteState(id: string, options: { force?: boolean }): Promise<void> {
    if (await this.deleteStopped(id)) return;
    const result = await run(this.runtimePath, [
      ...this.runtimeArgs(),
      'delete',
      ...(options.force ? ['--force'] : []),
      id,
    ]);
    if (result.code !== 0) {
      const msg = (result.stderr || result.stdout).trim();
      if (/does not exist|not found/i.test(msg)) return;
      if (/running|paused/i.test(msg)) throw conflict(`cannot delete container ${id}: ${msg}`);
      throw internal(`delete failed: ${msg}`);
    }
  }

  /** The runtime's view of the container, or undefined if it has no state (never created, deleted). */
  async state(id: string): Promise<RuntimeState | undefined> {
    const result = await run(this.runtimePath, [...this.runtimeArgs(), 'state', id]);
    if (result.code !== 0) {
      if (/does not exist|not found/i.test(result.stderr)) return undefined;
      throw internal(`state of ${id} failed: ${result.stderr.trim()}`);
    }
    return JSON.parse(result.stdout) as RuntimeState;
  }

  /** Ids of every container in our state root. */
  async list(): Promise<RuntimeState[]> {
    const result = await run(this.runtimePath, [...this.runtimeArgs(), 'list', '--format', 'json']);
    if (result.code !== 0) return [];
    return (JSON.parse(result.stdout || 'null') as RuntimeState[] | null) ?? [];
  }

  /** Sends "1 <h> <w>" to conmon's control fifo (TTY containers only). */
  async resize(dir: string, size: { height: number; width: number }): Promise<void> {
    await resizeVia(containerPaths(dir).ctl, size);
  }

  /** Connects to conmon's attach socket. Attach before start() to see all output; pass the container's tty. */
  attach(id: string, dir: string, options: { tty?: boolean } = {}): Promise<AttachStreams> {
    return attachSocket(this.attachPath(dir, id), options.tty === true);
  }

  /**
   * Runs a process in a running container under its own conmon (so TTYs and exit codes work like
   * for the container itself). The session's files live in `<execRoot>/<execId>/` and are removed
   * after it exits; `dir` is the container's directory (for the runtime's error log).
   */
  async exec(
    id: string,
    dir: string,
    processSpec: OciProcess,
    options: ExecOptions = {},
  ): Promise<ExecHandle> {
    const p = containerPaths(dir);
    const execId = randomId().slice(0, 16);
    const session = join(this.execRoot, execId);
    const exitDir = join(session, 'exits');
    await mkdir(exitDir, { recursive: true });
    const specPath = join(session, 'process.json');
    await writeFileAtomic(specPath, serializeSpec({ ...processSpec, terminal: options.tty === true }));
    const attach = !options.detach;
    const args = this.conmonArgs(p, id, execId, session, {
      tty: options.tty,
      stdin: options.stdin && attach,
      logPath: join(session, 'exec.log'),
      exitDir,
    });
    // Without a persist dir conmon writes its oom marker into its working directory.
    args.push('--exec', '--exec-process-spec', specPath, '--persist-dir', session);
    if (attach) args.push('--exec-attach');
    const conmon = spawnConmon(args, attach, session);
    this.moveMonitor(conmon.child.pid ?? 0);
    let streams: AttachStreams | undefined;
    try {
      await signalStart(conmon.startPipe);
      if (attach) {
        const ready = await conmon.attach!.next();
        if (!ready || ready.data < 0) {
          throw internal(
            `conmon could not set up the exec attach socket: ${ready?.message ?? 'pipe closed'}`,
          );
        }
        streams = await attachSocket(this.attachPath(session, execId), options.tty === true, !!options.stdin);
        await signalStart(conmon.startPipe);
      }
      const started = await conmon.sync.next();
      if (!started) throw internal('conmon exited without reporting the exec process pid');
      if (started.data < 0) throw runtimeError((await lastRuntimeError(p.ociLog)) ?? started.message ?? '');
      readFile(join(session, 'conmon.pid'), 'utf8').then(
        (pid) => this.moveMonitor(Number(pid.trim()) || 0),
        () => {},
      );
      const exitPromise = (async () => {
        // api v1: a second sync message carries the exit code; the exit file is the fallback.
        const done = await conmon.sync.next(24 * 3600_000).catch(() => undefined);
        let code = done?.data;
        if (code === undefined || code < 0) {
          const fromFile = await readExitFile(join(exitDir, id));
          code = fromFile ?? (done?.message ? runtimeError(done.message).exitCode : 255);
        }
        if (streams) await Promise.all([ended(streams.stdout), ended(streams.stderr)]);
        conmon.release();
        await rm(session, { recursive: true, force: true });
        return code;
      })();
      exitPromise.catch(() => {});
      return {
        id: execId,
        pid: started.data,
        stdin: options.stdin ? streams?.stdin : undefined,
        stdout: streams?.stdout,
        stderr: streams?.stderr,
        wait: () => exitPromise,
        resize: (size) => resizeVia(join(session, 'ctl'), size),
      };
    } catch (err) {
      streams?.close();
      conmon.release();
      await rm(session, { recursive: true, force: true });
      if (err instanceof RuntimeError) throw err;
      throw err;
    }
  }
}

/** The parts of runc's state.json that berth reads. */
interface RuncState {
  init_process_pid?: number;
  init_process_start?: number;
  cgroup_paths?: Record<string, string>;
  config?: { namespaces?: { type: string }[]; hooks?: unknown };
}

/**
 * Whether the init runc recorded still runs, checked as runc checks it: the pid's start time in
 * /proc/<pid>/stat must be the recorded one, so a recycled pid is never taken for it. A zombie is
 * neither (runc calls it stopped, but its cgroup still holds it).
 */
async function initStatus(state: RuncState): Promise<'alive' | 'gone' | 'zombie'> {
  const pid = state.init_process_pid;
  if (!pid || !state.init_process_start) return 'gone';
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 'gone';
  }
  // Fields after the command name (which may hold spaces and parentheses): state is field 3, the
  // start time field 22.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (Number(fields[19]) !== state.init_process_start) return 'gone';
  return fields[0] === 'Z' || fields[0] === 'X' ? 'zombie' : 'alive';
}

/**
 * Best effort: puts `pid` into `cgroup` in the unified hierarchy (v2, or v1 hybrid's "unified") and
 * the v1 name=systemd hierarchy — the ones service managers track processes by.
 */
async function moveToCgroup(pid: number | undefined, cgroup: string | null): Promise<void> {
  if (!pid || !cgroup) return;
  const roots = existsSync('/sys/fs/cgroup/cgroup.controllers')
    ? ['/sys/fs/cgroup']
    : ['/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified'];
  await Promise.all(
    roots.map(async (root) => {
      if (!existsSync(root)) return;
      const dir = join(root, cgroup);
      try {
        // The cgroup normally exists from an earlier container: write first, make it when missing.
        await writeFile(join(dir, 'cgroup.procs'), String(pid)).catch(async () => {
          await mkdir(dir, { recursive: true });
          await writeFile(join(dir, 'cgroup.procs'), String(pid));
        });
      } catch {
        // not allowed here (nested, read-only cgroupfs): conmon stays where we are
      }
    }),
  );
}

/** The last error the runtime logged (runc/crun --log-format=json), if any. */
async function lastRuntimeError(ociLog: string): Promise<string | undefined> {
  const text = await readFile(ociLog, 'utf8').catch(() => '');
  let found: string | undefined;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string };
      if (entry.level === 'error' && entry.msg) found = entry.msg;
    } catch {
      // not JSON: ignore
    }
  }
  return found;
}

async function readExitFile(path: string): Promise<number | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const n = Number.parseInt(text.trim(), 10);
  return Number.isInteger(n) ? n : undefined;
}

/** The container's exit, if conmon has recorded one (works after a daemon restart). */
export async function readExit(id: string, dir: string): Promise<ExitInfo | undefined> {
  const p = containerPaths(dir);
  for (const file of [join(p.exitDir, id), join(p.persistDir, 'exit')]) {
    const code = await readExitFile(file);
    if (code === undefined) continue;
    const { mtime } = await import('node:fs/promises').then((fs) => fs.stat(file));
    return { exitCode: code, finishedAt: mtime, oomKilled: existsSync(join(p.persistDir, 'oom')) };
  }
  return undefined;
}

/** The pid of the container's conmon, if it is still alive. */
export function conmonPid(dir: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(containerPaths(dir).conmonPidFile, 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('conmon') ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Waits until conmon records the container's exit. Watches the exit directory; polls as a backstop;
 * gives up with exit code 255 (Docker's "unknown") if conmon died without writing one.
 */
export function waitExit(id: string, dir: string, signal?: AbortSignal): Promise<ExitInfo> {
  const p = containerPaths(dir);
  return new Promise((resolve, reject) => {
    let settled = false;
    let watcher: ReturnType<typeof watch> | undefined;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err: Error | undefined, info?: ExitInfo) => {
      if (settled) return;
      settled = true;
      watcher?.close();
      clearInterval(timer);
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(info!);
    };
    const onAbort = () => finish(internal(`stopped waiting for container ${id}`));
    let misses = 0;
    const check = async () => {
      const info = await readExit(id, dir).catch(() => undefined);
      if (info) return finish(undefined, info);
      // conmon gone and still no exit file (after a grace period): the exit is unknown.
      if (conmonPid(dir) === undefined && ++misses > 3) {
        finish(undefined, { exitCode: 255, finishedAt: new Date(), oomKilled: false });
      }
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort);
    try {
      watcher = watch(p.exitDir, () => void check());
    } catch {
      // no exit dir yet: polling alone
    }
    // The watcher sees the exit file appear; the poll only backs it up (and notices a vanished conmon),
    // so it stays slow: an idle daemon with many containers wakes up rarely.
    timer = setInterval(() => void check(), 1000);
    void check();
  });
}

function ended(stream: Readable): Promise<void> {
  if (stream.readableEnded || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(resolve, 2000);
    const done = () => {
      clearTimeout(t);
      resolve();
    };
    stream.once('end', done);
    stream.once('close', done);
    stream.resume();
  });
}

async function resizeVia(fifo: string, size: { height: number; width: number }): Promise<void> {
  const h = Math.trunc(size.height);
  const w = Math.trunc(size.width);
  if (!(h > 0 && w > 0 && h < 65536 && w < 65536))
    throw badRequest(`invalid terminal size ${size.height}x${size.width}`);
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // Non-blocking: if conmon is gone there is no reader and we fail instead of hanging.
    handle = await open(fifo, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
  } catch (err) {
    throw conflict(`cannot resize: the container's monitor is not running (${(err as Error).message})`);
  }
  try {
    await handle.write(`1 ${h} ${w}\n`);
  } finally {
    await handle.close();
  }
}

const PIPE_STDOUT = 2;
const PIPE_STDERR = 3;

/**
 * Connects to a conmon SOCK_SEQPACKET attach socket: each packet is a stream id byte and data. With
 * `separateStdin`, stdin goes through a second connection (its copy of the output is dropped): the socket
 * library closes a connection it has written to when the peer goes away, sometimes before reading what
 * is left, so the output connection is never written to and a short process keeps its output.
 */
function attachSocket(path: string, tty: boolean, separateStdin = false): Promise<AttachStreams> {
  return new Promise((resolve, reject) => {
    const sock = new SeqpacketSocket();
    const input = separateStdin ? new SeqpacketSocket() : sock;
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let closed = false;
    let inputClosed = false;
    const endOutputs = () => {
      if (!stdout.writableEnded) stdout.end();
      if (!stderr.writableEnded) stderr.end();
      if (input !== sock && !inputClosed) {
        inputClosed = true;
        input.destroy();
      }
    };
    sock.on('data', (buf: Buffer) => {
      if (buf.length === 0) return;
      const data = buf.subarray(1);
      if (buf[0] === PIPE_STDERR && !tty) stderr.write(data);
      else if (buf[0] === PIPE_STDOUT || buf[0] === PIPE_STDERR) stdout.write(data);
    });
    sock.on('end', endOutputs);
    sock.on('close', () => {
      closed = true;
      endOutputs();
    });
    sock.on('error', (err: Error) => {
      endOutputs();
      if (!connected) reject(conflict(`cannot attach: ${err.message}`));
    });
    if (input !== sock) {
      input.on('data', () => {});
      input.on('close', () => {
        inputClosed = true;
      });
      input.on('error', () => {
        inputClosed = true;
      });
    }
    let connected = false;
    const stdin = new Writable({
      write(chunk: Buffer, _enc, cb) {
        if (closed || inputClosed) return cb();
        // conmon reads stdin in chunks of up to 8 KiB per packet.
        for (let off = 0; off < chunk.length; off += 8192) input.write(chunk.subarray(off, off + 8192));
        cb();
      },
      final(cb) {
        if (!closed && !inputClosed) input.end();
        cb();
      },
    });
    const ready = () => {
      connected = true;
      resolve({
        stdin,
        stdout,
        stderr,
        close() {
          if (!closed) sock.destroy();
          closed = true;
          endOutputs();
        },
      });
    };
    try {
      sock.connect(path, () => {
        if (input === sock) return ready();
        try {
          input.connect(path, ready);
        } catch (err) {
          sock.destroy();
          reject(conflict(`cannot attach to ${path}: ${(err as Error).message}`));
        }
      });
    } catch (err) {
      reject(conflict(`cannot attach to ${path}: ${(err as Error).message}`));
    }
  });
}

export interface RecoveredState {
  /** 'missing': the runtime has no state for it (never created, or deleted). */
  status: 'created' | 'running' | 'paused' | 'stopped' | 'missing';
  pid: number;
  /** Whether the container's conmon is alive (it must be for logs, attach and exit recording). */
  monitored: boolean;
  exit?: ExitInfo;
}

/** What a restarted daemon needs to re-adopt a container: runtime state, monitor, recorded exit. */
export async function recover(runtime: OciRuntime, id: string, dir: string): Promise<RecoveredState> {
  const state = await runtime.state(id);
  const exit = await readExit(id, dir);
  const monitored = conmonPid(dir) !== undefined;
  if (!state) return { status: 'missing', pid: 0, monitored, exit };
  const status = state.status === 'creating' ? 'created' : state.status;
  return { status, pid: state.pid, monitored, exit: status === 'stopped' ? exit : undefined };
}
