// Exec instances: created against a running container, started once, inspected afterwards.
import type { ExecHandle, OciRuntime } from '../runtime/index.js';
import { badRequest, conflict, notFound, randomId } from '../util/index.js';
import type { ContainerRecord } from './record.js';
import type { ContainerService } from './service.js';

export interface ExecConfig {
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  DetachKeys?: string;
  Tty?: boolean;
  Env?: string[] | null;
  Cmd?: string[];
  Privileged?: boolean;
  User?: string;
  WorkingDir?: string;
  ConsoleSize?: [number, number] | null;
}

export interface ExecInstance {
  ID: string;
  ContainerID: string;
  Config: ExecConfig;
  Running: boolean;
  ExitCode: number | null;
  Pid: number;
  started: boolean;
  handle?: ExecHandle;
}

/** Exec instances live in memory, as in Docker; they are gone with the container or the daemon. */
export class ExecService {
  private readonly execs = new Map<string, ExecInstance>();

  constructor(
    private readonly containers: ContainerService,
    private readonly runtime: OciRuntime,
  ) {}

  create(ref: string, config: ExecConfig): { Id: string } {
    const rec = this.containers.get(ref);
    if (!rec.State.Running) throw conflict(`container ${rec.Id} is not running`);
    if (rec.State.Paused) throw conflict(`Container ${rec.Id} is paused, unpause the container before exec`);
    if (
      !Array.isArray(config.Cmd) ||
      config.Cmd.length === 0 ||
      config.Cmd.some((a) => typeof a !== 'string')
    ) {
      throw badRequest('No exec command specified');
    }
    const id = randomId();
    this.execs.set(id, {
      ID: id,
      ContainerID: rec.Id,
      Config: config,
      Running: false,
      ExitCode: null,
      Pid: 0,
      started: false,
    });
    this.containers.publish(rec, `exec_create: ${config.Cmd.join(' ')}`, { execID: id });
    return { Id: id };
  }

  get(id: string): ExecInstance {
    const exec = this.execs.get(id);
    if (!exec) throw notFound(`No such exec instance: ${id}`);
    return exec;
  }

  inspect(id: string) {
    const e = this.get(id);
    return {
      ID: e.ID,
      Running: e.Running,
      ExitCode: e.ExitCode,
      ProcessConfig: {
        tty: !!e.Config.Tty,
        entrypoint: e.Config.Cmd?.[0] ?? '',
        arguments: e.Config.Cmd?.slice(1) ?? [],
        privileged: !!e.Config.Privileged,
        user: e.Config.User ?? '',
      },
      OpenStdin: !!e.Config.AttachStdin,
      OpenStderr: !!e.Config.AttachStderr,
      OpenStdout: !!e.Config.AttachStdout,
      CanRemove: false,
      ContainerID: e.ContainerID,
      DetachKeys: e.Config.DetachKeys ?? '',
      Pid: e.Pid,
    };
  }

  /** Starts the process; the caller wires the handle's streams when not detached. */
  async start(
    id: string,
    opts: { detach: boolean; tty?: boolean; consoleSize?: [number, number] | null },
  ): Promise<{ exec: ExecInstance; rec: ContainerRecord; handle: ExecHandle }> {
    const exec = this.get(id);
    if (exec.started) throw conflict(`Error: Exec command ${id} has already run`);
    const rec = this.containers.get(exec.ContainerID);
    if (!rec.State.Running) throw conflict(`container ${rec.Id} is not running`);
    exec.started = true;
    const tty = opts.tty ?? !!exec.Config.Tty;
    const spec = await this.containers.processSpec(rec, {
      Cmd: exec.Config.Cmd!,
      Env: exec.Config.Env ?? [],
      User: exec.Config.User ?? '',
      WorkingDir: exec.Config.WorkingDir ?? '',
      Privileged: !!exec.Config.Privileged,
      Tty: tty,
    });
    // The terminal's size goes into the process spec: the runtime sets it before the process runs, so
    // a short process never writes to a default-sized terminal (and nothing races its exit).
    const size = opts.consoleSize ?? exec.Config.ConsoleSize;
    if (tty && size && size[0] > 0 && size[1] > 0) spec.consoleSize = { height: size[0], width: size[1] };
    let handle: ExecHandle;
    try {
      handle = await this.runtime.exec(rec.Id, this.containers.dir(rec), spec, {
        tty,
        stdin: !!exec.Config.AttachStdin && !opts.detach,
        detach: opts.detach,
      });
    } catch (err) {
      exec.ExitCode = (err as { exitCode?: number }).exitCode ?? 126;
      throw err;
    }
    exec.handle = handle;
    exec.Running = true;
    exec.Pid = handle.pid;
    this.containers.publish(rec, `exec_start: ${exec.Config.Cmd!.join(' ')}`, { execID: id });
    handle.wait().then(
      (code) => {
        exec.Running = false;
        exec.ExitCode = code;
        this.containers.publish(rec, 'exec_die', { execID: id, exitCode: String(code) });
      },
      () => {
        exec.Running = false;
        exec.ExitCode = 126;
      },
    );
    return { exec, rec, handle };
  }

  /** Forgets the exec instances of a removed container. */
  forgetContainer(containerId: string): void {
    for (const [id, e] of this.execs) if (e.ContainerID === containerId) this.execs.delete(id);
  }
}
