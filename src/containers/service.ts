// The container service: create, start, stop, remove and watch containers. It composes the image store
// (root filesystems), the volumes and network services (mounts, namespaces, ports) and the runtime
// (conmon + runc), and keeps each container's record and state machine.
import { readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname as hostHostname } from 'node:os';
import { join } from 'node:path';
import type { EventBus } from '../daemon/events.js';
import type { ImageService } from '../images/index.js';
import type { NetworkService } from '../network/index.js';
import {
  type AttachStreams,
  CGROUP_PARENT,
  commandOf,
  containerPaths,
  execProcessSpec,
  generateSpec,
  mergeConfig,
  type OciRuntime,
  type OciSpec,
  parseSignal,
  type ResolvedMount,
  recover,
  waitExit,
} from '../runtime/index.js';
import {
  BerthError,
  badRequest,
  conflict,
  internal,
  isMountPoint,
  labelMatches,
  notFound,
  parseUntil,
  randomId,
  treeSize,
} from '../util/index.js';
import type { VolumeService } from '../volumes/index.js';
import { filterContainers, type ListOptions } from './filters.js';
import { HealthMonitor } from './health.js';
import { generateName, validateName } from './names.js';
import type { ContainerConfig, ContainerRecord, EndpointSettings, HostConfig } from './record.js';
import { initialState } from './record.js';
import { checkAutoRemove, shouldRestart, validateRestartPolicy } from './restart-policy.js';
import { ContainerStore } from './store.js';
import { containerInspect, containerSummary, type InspectPaths } from './view.js';

export interface CreateRequest extends Partial<ContainerConfig> {
  HostConfig?: HostConfig;
  NetworkingConfig?: {
    EndpointsConfig?: Record<
      string,
      { Aliases?: string[] | null; IPAMConfig?: { IPv4Address?: string } | null } | null
    > | null;
  } | null;
}

export interface ContainerServiceDeps {
  dataRoot: string;
  events: EventBus;
  images: ImageService;
  networks: NetworkService;
  volumes: VolumeService;
  runtime: OciRuntime;
}

/** Where the runtime-independent files of a container live. */
export function containerFiles(dir: string) {
  return {
    upper: join(dir, 'upper'),
    work: join(dir, 'work'),
    hosts: join(dir, 'hosts'),
    resolvConf: join(dir, 'resolv.conf'),
    hostname: join(dir, 'hostname'),
  };
}

/**
 * Saves of state transitions (start, exit, stop, pause, health, removing) skip the fsync: the state
 * they describe lives in tmpfs (the runtime's state, conmon's pid and exit files) and does not
 * survive a power loss anyway, where recovery re-derives it. A container's existence and
 * configuration (create, rename, network changes) are written durably.
 */
const TRANSIENT = { durable: false } as const;

type Waiter = {
  condition: 'next-exit' | 'not-running' | 'removed';
  resolve: (code: { StatusCode: number; Error: { Message: string } | null }) => void;
};

export class ContainerService {
  readonly store: ContainerStore;
  private readonly waiters = new Map<string, Waiter[]>();
  private readonly exitWatches = new Map<string, AbortController>();
  private readonly health = new Map<string, HealthMonitor>();
  private readonly restartTimers = new Map<string, NodeJS.Timeout>();
  /** Containers whose exit was handled: runtime state, network and mounts are released already. */
  private readonly released = new Set<string>();
  /** Background clean-ups of exited containers (daemon shutdown waits for them). */
  private readonly reaping = new Set<Promise<void>>();
  /**
   * Per container, the release (runtime state, network, mounts) of its last exit while it goes on in
   * the background: start, remove, withRootfs await it before touching that state again.
   */
  private readonly cleanups = new Map<string, Promise<void>>();
  /** Restarts decided while init() runs, scheduled once the network state is reconciled. */
  private deferredRestarts: (() => void)[] | undefined;
  /** Serialises lifecycle operations per container (start vs stop vs remove races). */
  private readonly locks = new Map<string, Promise<unknown>>();
  /** Attach clients waiting for a created container's monitor to exist (docker run attaches before start). */
  private readonly pendingAttach = new Map<string, { connect: () => Promise<void>; fail: () => void }[]>();

  constructor(private readonly deps: ContainerServiceDeps) {
    this.store = new ContainerStore(join(deps.dataRoot, 'containers'));
  }

  private exclusive<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => {});
    this.locks.set(id, tail);
    tail.then(() => {
      if (this.locks.get(id) === tail) this.locks.delete(id);
    });
    return next;
  }

  // ------------------------------------------------------------------ recovery

  /** Rebuilds state after a daemon (re)start: re-adopts live containers, records exits that happened meanwhile. */
  async init(): Promise<void> {
    this.deferredRestarts = [];
    try {
      await this.recoverAll();
    } finally {
      const deferred = this.deferredRestarts;
      this.deferredRestarts = undefined;
      for (const schedule of deferred) schedule();
    }
  }

  private async recoverAll(): Promise<void> {
    const { broken } = await this.store.load();
    for (const id of broken) {
      // A directory without a record is a create that died half-way: nothing refers to it.
      await this.deps.images.layers.unmount(join(this.store.dir(id), 'rootfs')).catch(() => {});
      await this.deps.runtime.delete(id, { force: true }).catch(() => {});
      await this.deps.networks.destroySandbox(id).catch(() => {});
      await rm(this.store.dir(id), { recursive: true, force: true });
    }
    for (const rec of this.store.all()) {
      if (rec.State.Status === 'removing') {
        await this.finishRemove(rec, { volumes: false }).catch(() => {});
        continue;
      }
      if (!['running', 'paused', 'restarting'].includes(rec.State.Status)) continue;
      const dir = this.store.dir(rec.Id);
      const state = await recover(this.deps.runtime, rec.Id, dir);
      if ((state.status === 'running' || state.status === 'paused') && state.monitored) {
        rec.State.Pid = state.pid;
        rec.State.Status = state.status;
        rec.State.Running = true;
        rec.State.Paused = state.status === 'paused';
        await this.store.save(rec, TRANSIENT);
        this.watchExit(rec);
        this.startHealth(rec);
      } else {
        const exit = state.exit;
        await this.handleExit(
          rec,
          exit?.exitCode ?? 255,
          exit?.finishedAt ?? new Date(),
          exit?.oomKilled ?? false,
          true,
        );
      }
    }
    await this.deps.networks.reconcile(
      this.store
        .all()
        .filter((r) => r.State.Running)
        .map((r) => r.Id),
    );
  }

  // ------------------------------------------------------------------ queries

  get(ref: string): ContainerRecord {
    return this.store.get(ref);
  }

  list(opts: ListOptions): ContainerRecord[] {
    return filterContainers(this.store.all(), {
      ...opts,
      resolveImage: (r) => this.deps.images.find(r)?.id,
      resolveContainer: (r) => this.store.find(r),
    });
  }

  async summary(rec: ContainerRecord, opts: { size?: boolean } = {}) {
    const sizes = opts.size ? await this.sizes(rec) : {};
    return containerSummary(rec, sizes);
  }

  async inspect(ref: string, opts: { size?: boolean } = {}) {
    const rec = this.store.get(ref);
    return containerInspect(rec, this.inspectPaths(rec), opts.size ? await this.sizes(rec) : {});
  }

  /** Sizes walk the container's upper dir: asynchronously, so `ps -s` never stalls the API. */
  private async sizes(rec: ContainerRecord): Promise<{ sizeRw: number; sizeRootFs: number }> {
    const image = this.deps.images.find(rec.Image);
    const sizeRw = await treeSize(containerFiles(this.store.dir(rec.Id)).upper);
    return { sizeRw, sizeRootFs: sizeRw + (image?.size ?? 0) };
  }

  inspectPaths(rec: ContainerRecord): InspectPaths {
    const dir = this.store.dir(rec.Id);
    const files = containerFiles(dir);
    return {
      resolvConfPath: files.resolvConf,
      hostnamePath: files.hostname,
      hostsPath: files.hosts,
      logPath: containerPaths(dir).log,
      upperDir: files.upper,
      workDir: files.work,
      mergedDir: containerPaths(dir).rootfs,
      lowerDirs: '',
    };
  }

  dir(rec: ContainerRecord): string {
    return this.store.dir(rec.Id);
  }

  /** The ID of a container made from the image (for the rmi conflict message), or false. */
  isImageInUse(imageId: string): string | false {
    return this.store.all().find((c) => c.Image === imageId)?.Id ?? false;
  }

  volumeUsers(name: string): string[] {
    return this.store
      .all()
      .filter((c) => c.Mounts.some((m) => m.Type === 'volume' && m.Name === name))
      .map((c) => c.Id);
  }

  // ------------------------------------------------------------------ create

  async create(body: CreateRequest, requestedName?: string): Promise<{ Id: string; Warnings: string[] }> {
    if (typeof body !== 'object' || body === null)
      throw badRequest('invalid create body: expected a JSON object');
    if (!body.Image) throw badRequest('No image specified: config.Image is required');
    const hostConfig: HostConfig = { ...(body.HostConfig ?? {}) };
    const policy = validateRestartPolicy(hostConfig.RestartPolicy);
    checkAutoRemove(policy, !!hostConfig.AutoRemove);
    hostConfig.RestartPolicy = {
      Name: policy.Name || 'no',
      MaximumRetryCount: policy.MaximumRetryCount ?? 0,
    };
    const networkMode =
      !hostConfig.NetworkMode || hostConfig.NetworkMode === 'default' ? 'bridge' : hostConfig.NetworkMode;
    hostConfig.NetworkMode = hostConfig.NetworkMode || 'default';
    await this.checkNetworkMode(networkMode);

    const image = await this.deps.images.get(body.Image);
    const { HostConfig: _h, NetworkingConfig: networking, ...createConfig } = body;
    const merged = mergeConfig(image.config.config ?? {}, createConfig as Parameters<typeof mergeConfig>[1]);
    const command = commandOf(merged);

    let name: string;
    if (requestedName) {
      name = validateName(requestedName);
    } else {
      let attempt = 0;
      do name = generateName(attempt++);
      while (this.store.nameTaken(name));
    }
    if (this.store.nameTaken(name)) {
      throw conflict(
        `Conflict. The container name "/${name}" is already in use by container "${this.store.nameTaken(name)}". You have to remove (or rename) that container to be able to reuse that name.`,
      );
    }

    const id = randomId();
    const config: ContainerConfig = {
      Hostname: merged.Hostname || id.slice(0, 12),
      Domainname: merged.Domainname ?? '',
      User: merged.User ?? '',
      AttachStdin: !!merged.AttachStdin,
      AttachStdout: merged.AttachStdout ?? false,
      AttachStderr: merged.AttachStderr ?? false,
      ExposedPorts: merged.ExposedPorts ?? undefined,
      Tty: !!merged.Tty,
      OpenStdin: !!merged.OpenStdin,
      StdinOnce: !!merged.StdinOnce,
      Env: merged.Env ?? [],
      Cmd: merged.Cmd ?? null,
      Healthcheck: merged.Healthcheck ?? undefined,
      Image: body.Image,
      Volumes: merged.Volumes ?? null,
      WorkingDir: merged.WorkingDir ?? '',
      Entrypoint: merged.Entrypoint ?? null,
      OnBuild: null,
      Labels: merged.Labels ?? {},
      StopSignal: merged.StopSignal,
      StopTimeout: merged.StopTimeout,
    };
    const aliases: Record<string, string[]> = {};
    for (const [net, ep] of Object.entries(networking?.EndpointsConfig ?? {})) {
      if (ep?.Aliases?.length) aliases[net === 'default' ? 'bridge' : net] = ep.Aliases;
    }
    const ipv4: Record<string, string> = {};
    for (const [net, ep] of Object.entries(networking?.EndpointsConfig ?? {})) {
      if (ep?.IPAMConfig?.IPv4Address) ipv4[net === 'default' ? 'bridge' : net] = ep.IPAMConfig.IPv4Address;
    }
    const record: ContainerRecord = {
      Id: id,
      Name: name,
      Created: new Date().toISOString(),
      Path: command[0] ?? '',
      Args: command.slice(1),
      Image: image.record.id,
      ImageName: body.Image,
      Config: config,
      HostConfig: hostConfig,
      State: initialState(),
      RestartCount: 0,
      Mounts: [],
      Networks: {},
      NetworkAliases: aliases,
      Ports: {},
      SandboxKey: '',
      ImageChainId: image.record.topChainId,
      StoppedByUser: false,
      MonitorPid: 0,
    };
    if (Object.keys(ipv4).length)
      (record as ContainerRecord & { RequestedIPs?: Record<string, string> }).RequestedIPs = ipv4;

    const dir = this.store.dir(id);
    const files = containerFiles(dir);
    const trace = phaseTrace(id, 'create');
    await this.exclusive(id, async () => {
      try {
        await Promise.all(
          [files.upper, files.work, containerPaths(dir).rootfs].map((d) => mkdir(d, { recursive: true })),
        );
        this.store.add(record);
        trace.mark('record');
        if (this.mountless(record)) {
          // The record is final already: its write and the overlay mount go side by side.
          const [mounted, saved] = await Promise.allSettled([
            this.mountRootfs(record),
            this.store.save(record),
          ]);
          if (mounted.status === 'rejected') throw mounted.reason;
          if (saved.status === 'rejected') throw saved.reason;
          trace.done('mount+save');
          return;
        }
        await this.mountRootfs(record);
        trace.mark('mount');
        const resolved = await this.deps.volumes.resolveMounts(this.mountRequest(record));
        record.Mounts = resolved.mountPoints as ContainerRecord['Mounts'];
        // Mounts are made ready again at every start; until then nothing stays mounted for it.
        await this.deps.volumes.deactivate(id);
        trace.mark('volumes');
        await this.store.save(record);
        trace.done('save');
      } catch (err) {
        await this.destroyFiles(record).catch(() => {});
        throw err;
      }
    });
    this.publish(record, 'create');
    return { Id: id, Warnings: [] };
  }

  /**
   * A container without binds, mounts, tmpfs, volumes-from or image volumes: the volumes service has
   * nothing to resolve, reference or release for it (four record writes saved per run).
   */
  private mountless(rec: ContainerRecord): boolean {
    const hc = rec.HostConfig;
    const volumes = rec.Config.Volumes;
    return (
      !hc.Binds?.length &&
      !hc.Mounts?.length &&
      Object.keys(hc.Tmpfs ?? {}).length === 0 &&
      !hc.VolumesFrom?.length &&
      (Array.isArray(volumes) ? volumes.length === 0 : Object.keys(volumes ?? {}).length === 0)
    );
  }

  /** What the volumes service needs to resolve a container's mounts (the same at create and every start). */
  private mountRequest(rec: ContainerRecord): Parameters<VolumeService['resolveMounts']>[0] {
    const hc = rec.HostConfig;
    type Source = NonNullable<Parameters<VolumeService['resolveMounts']>[0]['volumesFrom']>[number];
    const volumesFrom = (hc.VolumesFrom ?? []).map((spec): Source => {
      const other = this.store.get(spec.split(':')[0]!);
      return { spec, mountPoints: other.Mounts as Source['mountPoints'] };
    });
    return {
      containerId: rec.Id,
      binds: hc.Binds ?? undefined,
      mounts: (hc.Mounts ?? undefined) as Parameters<VolumeService['resolveMounts']>[0]['mounts'],
      tmpfs: hc.Tmpfs ?? undefined,
      volumesFrom,
      imageVolumes: rec.Config.Volumes ?? undefined,
      imageRootfsPath: containerPaths(this.store.dir(rec.Id)).rootfs,
    };
  }

  private async checkNetworkMode(mode: string): Promise<void> {
    if (mode === 'host' || mode === 'none' || mode === 'bridge') return;
    if (mode.startsWith('container:')) {
      this.store.get(mode.slice('container:'.length));
    }
    // A named network is looked up at start, as Docker does: a 404 at create would make the docker CLI
    // try to pull the image instead of reporting the missing network.
  }

  private async mountRootfs(rec: ContainerRecord): Promise<void> {
    const dir = this.store.dir(rec.Id);
    const target = containerPaths(dir).rootfs;
    if (await isMountPoint(target)) return;
    const files = containerFiles(dir);
    // A `run --rm` container's files go with it: as podman does, its overlay skips syncs (volatile),
    // the whole-filesystem sync at its unmount among them.
    await this.deps.images.layers.mountRootfs(rec.ImageChainId, files.upper, files.work, target, {
      volatile: rec.HostConfig.AutoRemove === true,
    });
  }

  private async unmountRootfs(rec: ContainerRecord): Promise<void> {
    const target = containerPaths(this.store.dir(rec.Id)).rootfs;
    if (await isMountPoint(target)) await this.deps.images.layers.unmount(target);
  }

  /** Runs `fn` with the container's root filesystem mounted (for cp, export and diff of stopped containers). */
  async withRootfs<T>(rec: ContainerRecord, fn: (rootfs: string) => Promise<T>): Promise<T> {
    await this.cleanedUp(rec.Id);
    const wasMounted = await isMountPoint(containerPaths(this.store.dir(rec.Id)).rootfs);
    await this.mountRootfs(rec);
    try {
      return await fn(containerPaths(this.store.dir(rec.Id)).rootfs);
    } finally {
      if (!wasMounted && !rec.State.Running) await this.unmountRootfs(rec).catch(() => {});
    }
  }

  // ------------------------------------------------------------------ start

  async start(ref: string): Promise<'started' | 'already'> {
    const rec = this.store.get(ref);
    return this.exclusive(rec.Id, async () => {
      try {
        return await this.startLocked(rec);
      } catch (err) {
        // Docker removes an AutoRemove container whose start failed; `run --rm` waits for that removal.
        if (rec.HostConfig.AutoRemove)
          await this.removeLocked(rec, { force: true, volumes: true }).catch(() => {});
        throw err;
      }
    });
  }

  private async startLocked(rec: ContainerRecord): Promise<'started' | 'already'> {
    if (rec.State.Status === 'running' || rec.State.Status === 'paused') return 'already';
    if (rec.State.Status === 'removing' || rec.State.Status === 'dead') {
      throw conflict(`cannot start container ${rec.Id}: container is marked for removal`);
    }
    const timer = this.restartTimers.get(rec.Id);
    if (timer) {
      clearTimeout(timer);
      this.restartTimers.delete(rec.Id);
    }
    await this.cleanedUp(rec.Id);
    const dir = this.store.dir(rec.Id);
    const paths = containerPaths(dir);
    const files = containerFiles(dir);
    rec.StoppedByUser = false;
    this.released.delete(rec.Id);
    const trace = phaseTrace(rec.Id, 'start');
    try {
      await this.mountRootfs(rec);
      trace.mark('mount');
      const { netns, plumb } = await this.prepareNetwork(rec);
      trace.mark('netns');
      // The bridge plumbing (veth, addresses, routes, rules) only needs the namespace: it runs while
      // the runtime creates the container in it, and the etc files get their content (the address)
      // after it, in place (the runtime bind-mounts the inodes, the process reads them after start).
      let plumbMs = 0;
      const plumbing = plumb
        ? (async () => {
            const t0 = performance.now();
            await ensureFiles([files.hosts, files.resolvConf, files.hostname]);
            await plumb();
            await this.writeEtcFiles(rec);
            plumbMs = performance.now() - t0;
          })()
        : this.writeEtcFiles(rec);
      // With nothing to overlap, the etc files must exist before the runtime bind-mounts them.
      if (!plumb) await plumbing;
      const creating = (async () => {
        const ociMounts: ResolvedMount[] = this.mountless(rec)
          ? []
          : (await this.deps.volumes.resolveMounts(this.mountRequest(rec))).ociMounts;
        const spec: OciSpec = generateSpec({
          id: rec.Id,
          rootfs: paths.rootfs,
          config: rec.Config as Parameters<typeof generateSpec>[0]['config'],
          hostConfig: rec.HostConfig as Parameters<typeof generateSpec>[0]['hostConfig'],
          mounts: ociMounts,
          etc: { hosts: files.hosts, resolvConf: files.resolvConf, hostname: files.hostname },
          netns,
        });
        clampCapabilities(spec);
        if (plumb) await ensureFiles([files.hosts, files.resolvConf, files.hostname]);
        return this.deps.runtime.create({
          id: rec.Id,
          dir,
          spec,
          tty: rec.Config.Tty,
          openStdin: rec.Config.OpenStdin,
          stdinOnce: rec.Config.StdinOnce,
          name: rec.Name,
        });
      })();
      // Both settle before anything else: a failure's clean-up must not race the other half.
      const [plumbed, made] = await Promise.allSettled([plumbing, creating]);
      if (made.status === 'rejected') throw made.reason;
      if (plumbed.status === 'rejected') throw plumbed.reason;
      const created = made.value;
      rec.MonitorPid = created.conmonPid;
      if (netns === undefined) rec.SandboxKey = `/proc/${created.pid}/ns/net`;
      if (plumb) trace.add('network', plumbMs);
      trace.mark('conmon-create');
      await this.releasePendingAttach(rec.Id, true);
      trace.mark('attach');
      await this.deps.runtime.start(rec.Id);
      trace.mark('runtime-start');
      rec.State = {
        ...rec.State,
        Status: 'running',
        Running: true,
        Paused: false,
        Restarting: false,
        OOMKilled: false,
        Dead: false,
        Pid: created.pid,
        ExitCode: 0,
        Error: '',
        StartedAt: new Date().toISOString(),
      };
      await this.store.save(rec, TRANSIENT);
      trace.done('save');
    } catch (err) {
      await this.releasePendingAttach(rec.Id, false);
      await this.deps.runtime.delete(rec.Id, { force: true }).catch(() => {});
      await this.tearDownNetwork(rec).catch(() => {});
      await this.unmountRootfs(rec).catch(() => {});
      const exitCode = (err as { exitCode?: number }).exitCode ?? 128;
      rec.State = {
        ...rec.State,
        Status: rec.State.Status === 'restarting' ? 'exited' : rec.State.Status,
        Running: false,
        Restarting: false,
        ExitCode: exitCode,
        Error: (err as Error).message,
      };
      if (rec.State.Status === 'running') rec.State.Status = 'exited';
      await this.store.save(rec, TRANSIENT).catch(() => {});
      throw err instanceof BerthError
        ? err
        : internal(`failed to start container ${rec.Id}: ${(err as Error).message}`, err);
    }
    this.watchExit(rec);
    this.startHealth(rec);
    this.publish(rec, 'start');
    return 'started';
  }

  /**
   * Creates the network namespace; returns it for the spec, and for a bridge/user network the
   * `plumb` step that joins the container's networks (it runs alongside the runtime's create).
   */
  private async prepareNetwork(
    rec: ContainerRecord,
  ): Promise<{ netns: string | undefined; plumb?: () => Promise<void> }> {
    const mode =
      rec.HostConfig.NetworkMode === 'default' || !rec.HostConfig.NetworkMode
        ? 'bridge'
        : rec.HostConfig.NetworkMode;
    rec.Networks = {};
    rec.Ports = {};
    if (mode === 'host') {
      rec.SandboxKey = '';
      return { netns: 'host' };
    }
    if (mode.startsWith('container:')) {
      const other = this.store.get(mode.slice('container:'.length));
      if (!other.State.Running) throw conflict(`cannot join network of a non running container: ${other.Id}`);
      rec.SandboxKey = other.SandboxKey || `/proc/${other.State.Pid}/ns/net`;
      return { netns: rec.SandboxKey };
    }
    if (mode === 'none') {
      // runc makes the namespace (loopback up) itself: no named netns to create and delete per run.
      // SandboxKey is filled in once the container's pid is known.
      rec.SandboxKey = '';
      return { netns: undefined };
    }
    // A named network's existence is checked before anything is made (a 404 leaves nothing behind).
    this.deps.networks.inspect(mode);
    // Loopback comes up in the connect's own `ip` batch.
    const netns = await this.deps.networks.createSandbox(rec.Id, { loopback: false });
    rec.SandboxKey = netns;
    return { netns, plumb: () => this.joinNetworks(rec, mode, netns) };
  }

  /**
   * Connects the sandbox to the container's networks (the first one gets the published ports). A
   * failure tears nothing down here: the runtime may be creating the container in this namespace
   * right now; startLocked releases the network once both halves have settled.
   */
  private async joinNetworks(rec: ContainerRecord, mode: string, netns: string): Promise<void> {
    const requested = (rec as ContainerRecord & { RequestedIPs?: Record<string, string> }).RequestedIPs ?? {};
    const names = [
      mode,
      ...Object.keys(rec.NetworkAliases ?? {}).filter((n) => n !== mode && n !== 'default'),
    ];
    for (const [i, network] of [...new Set(names)].entries()) {
      const net = this.deps.networks.inspect(network);
      const endpoint = await this.deps.networks.connect(network, {
        containerId: rec.Id,
        containerName: rec.Name,
        netnsPath: netns,
        aliases: rec.NetworkAliases?.[network] ?? [],
        ...(Array.isArray(rec.HostConfig.Links) ? { links: rec.HostConfig.Links as string[] } : {}),
        ipv4Address: requested[network],
        portBindings:
          i === 0
            ? ((rec.HostConfig.PortBindings ?? undefined) as Parameters<
                NetworkService['connect']
              >[1]['portBindings'])
            : undefined,
        exposedPorts:
          i === 0
            ? (rec.Config.ExposedPorts as Parameters<NetworkService['connect']>[1]['exposedPorts'])
            : undefined,
        publishAll: i === 0 ? !!rec.HostConfig.PublishAllPorts : false,
        dns: rec.HostConfig.Dns ?? undefined,
      });
      rec.Networks[net.Name] = endpoint as EndpointSettings;
    }
    rec.Ports = this.deps.networks.portsOf(
      rec.Id,
      (rec.Config.ExposedPorts ?? {}) as Record<string, Record<string, never>>,
    ) as ContainerRecord['Ports'];
  }

  private async tearDownNetwork(rec: ContainerRecord): Promise<void> {
    await this.deps.networks.releaseContainer(rec.Id);
  }

  private async writeEtcFiles(rec: ContainerRecord): Promise<void> {
    const files = containerFiles(this.store.dir(rec.Id));
    const mode = rec.HostConfig.NetworkMode;
    const hostNet = mode === 'host';
    const hostname = hostNet ? hostHostname() : rec.Config.Hostname;
    const firstIp = Object.values(rec.Networks)[0]?.IPAddress ?? '';
    await writeFile(files.hostname, `${hostname}\n`);
    if (hostNet) {
      await writeFile(
        files.hosts,
        await readFile('/etc/hosts', 'utf8').catch(() => '127.0.0.1\tlocalhost\n'),
      );
    } else {
      await writeFile(
        files.hosts,
        this.deps.networks.hostsFileFor({
          hostname,
          domainname: rec.Config.Domainname,
          ip: firstIp,
          extraHosts: rec.HostConfig.ExtraHosts ?? [],
        }),
      );
    }
    await writeFile(
      files.resolvConf,
      this.deps.networks.resolvConfFor(Object.values(rec.Networks), {
        dns: rec.HostConfig.Dns ?? undefined,
        dnsSearch: rec.HostConfig.DnsSearch ?? undefined,
        dnsOptions: rec.HostConfig.DnsOptions ?? undefined,
      }),
    );
  }

  // ------------------------------------------------------------------ exits, restarts, health

  private watchExit(rec: ContainerRecord): void {
    this.exitWatches.get(rec.Id)?.abort();
    const controller = new AbortController();
    this.exitWatches.set(rec.Id, controller);
    waitExit(rec.Id, this.store.dir(rec.Id), controller.signal).then(
      (info) => {
        if (this.exitWatches.get(rec.Id) === controller) this.exitWatches.delete(rec.Id);
        this.exclusive(rec.Id, () =>
          this.handleExit(rec, info.exitCode, info.finishedAt, info.oomKilled, false),
        ).catch((err) => console.error(`berth: recording the exit of ${rec.Id}: ${(err as Error).message}`));
      },
      () => {},
    );
  }

  private startHealth(rec: ContainerRecord): void {
    const check = rec.Config.Healthcheck;
    if (!check?.Test?.length || check.Test[0] === 'NONE') return;
    this.health.get(rec.Id)?.stop();
    const monitor = new HealthMonitor({
      config: check,
      runProbe: (cmd, timeoutMs) => this.runProbe(rec, cmd, timeoutMs),
      onStatus: (status, health) => {
        rec.State.Health = health;
        this.store.save(rec, TRANSIENT).catch(() => {});
        this.publish(rec, `health_status: ${status}`);
      },
      onProbe: (health) => {
        rec.State.Health = health;
      },
    });
    rec.State.Health = monitor.health;
    this.health.set(rec.Id, monitor);
    monitor.start();
  }

  private async runProbe(
    rec: ContainerRecord,
    cmd: string[],
    timeoutMs: number,
  ): Promise<{ exitCode: number; output: string }> {
    const spec = await this.processSpec(rec, {
      Cmd: cmd,
      Env: [],
      User: '',
      WorkingDir: '',
      Privileged: false,
      Tty: false,
    });
    const handle = await this.deps.runtime.exec(rec.Id, this.store.dir(rec.Id), spec, {
      tty: false,
      stdin: false,
    });
    const chunks: Buffer[] = [];
    handle.stdout?.on('data', (b: Buffer) => chunks.push(b));
    handle.stderr?.on('data', (b: Buffer) => chunks.push(b));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<number>((resolve) => {
      timer = setTimeout(() => {
        process.kill(handle.pid, 'SIGKILL');
        resolve(-1);
      }, timeoutMs);
    });
    const exitCode = await Promise.race([handle.wait(), timeout]);
    clearTimeout(timer);
    const output = Buffer.concat(chunks).toString('utf8');
    return exitCode === -1
      ? { exitCode: -1, output: `Health check exceeded timeout (${timeoutMs}ms)` }
      : { exitCode, output };
  }

  private async handleExit(
    rec: ContainerRecord,
    exitCode: number,
    finishedAt: Date,
    oomKilled: boolean,
    recovering: boolean,
  ): Promise<void> {
    if (!this.store.find(rec.Id)) return;
    const trace = phaseTrace(rec.Id, 'exit');
    trace.mark('detect', finishedAt.getTime());
    this.health.get(rec.Id)?.stop();
    this.health.delete(rec.Id);
    const cleanupTrace = phaseTrace(rec.Id, 'exit-cleanup');
    // The runtime state, the network and the mounts are independent: release them side by side.
    const release = Promise.all([
      this.deps.runtime.delete(rec.Id, { force: true }).catch(() => {}),
      this.tearDownNetwork(rec).catch(() => {}),
      (this.mountless(rec) ? Promise.resolve() : this.deps.volumes.deactivate(rec.Id))
        .catch(() => {})
        .then(() => this.unmountRootfs(rec))
        .catch(() => {}),
    ]).then(() => {
      this.released.add(rec.Id);
      cleanupTrace.done('release');
    });
    this.trackCleanup(rec.Id, release);
    if (rec.HostConfig.AutoRemove && !recovering) {
      await this.autoRemove(rec, exitCode, finishedAt, oomKilled, release, trace);
      return;
    }
    // The exit is recorded and answered now, as dockerd answers a stop once the container no longer
    // runs; the release goes on in the background (a start, remove or shutdown awaits it first).
    // Recovery waits for it: the network service reconciles right after.
    if (recovering) await release;
    const ranFor =
      Date.parse(rec.State.StartedAt) > 0 ? finishedAt.getTime() - Date.parse(rec.State.StartedAt) : 0;
    this.recordExit(rec, 'exited', exitCode, finishedAt, oomKilled);
    if (rec.State.Health) rec.State.Health = { ...rec.State.Health, Status: 'unhealthy' };
    // An AutoRemove container goes straight on to 'removing' (saved there); a crash before that finds it
    // running, records the exit again and removes it.
    if (!rec.HostConfig.AutoRemove) await this.store.save(rec, TRANSIENT);
    trace.mark('save');
    this.publish(rec, 'die', { exitCode: String(exitCode) });
    this.notify(rec.Id, 'exit', exitCode);

    if (rec.HostConfig.AutoRemove) {
      await this.removeLocked(rec, { force: true, volumes: true });
      trace.done('remove');
      return;
    }
    trace.done();
    const decision = shouldRestart({
      policy: validateRestartPolicy(rec.HostConfig.RestartPolicy),
      exitCode,
      restartCount: rec.RestartCount,
      stoppedByUser: rec.StoppedByUser,
      daemonStarting: recovering,
      ranForMs: ranFor,
      previousDelayMs: (rec as ContainerRecord & { RestartDelayMs?: number }).RestartDelayMs ?? 0,
    });
    if (!decision.restart) return;
    (rec as ContainerRecord & { RestartDelayMs?: number }).RestartDelayMs = decision.delayMs;
    rec.State.Status = 'restarting';
    rec.State.Restarting = true;
    await this.store.save(rec, TRANSIENT);
    // During init the network service has not reconciled yet (it would delete a new sandbox as stale).
    if (this.deferredRestarts) {
      this.deferredRestarts.push(() => this.scheduleRestart(rec, decision.delayMs));
      return;
    }
    this.scheduleRestart(rec, decision.delayMs);
  }

  /** The record's state once its process has exited ('removing' for an AutoRemove container). */
  private recordExit(
    rec: ContainerRecord,
    status: 'exited' | 'removing',
    exitCode: number,
    finishedAt: Date,
    oomKilled: boolean,
  ): void {
    rec.State = {
      ...rec.State,
      Status: status,
      Running: false,
      Paused: false,
      Restarting: false,
      OOMKilled: oomKilled,
      Pid: 0,
      ExitCode: exitCode,
      FinishedAt: finishedAt.toISOString(),
    };
    rec.Ports = {};
  }

  /**
   * The exit of an AutoRemove container (`run --rm`): the record leaves the index at once (name free,
   * lookups 404) and the "exit" and "removed" waiters are answered, so the client is not held while
   * the runtime state, network, mounts and files go; that clean-up goes on in the background (close()
   * waits for it). A crash meanwhile leaves a "running" record that recovery finds exited and removes.
   */
  private async autoRemove(
    rec: ContainerRecord,
    exitCode: number,
    finishedAt: Date,
    oomKilled: boolean,
    release: Promise<void>,
    trace: ReturnType<typeof phaseTrace>,
  ): Promise<void> {
    this.recordExit(rec, 'removing', exitCode, finishedAt, oomKilled);
    this.exitWatches.get(rec.Id)?.abort();
    // Volumes are freed before the answer (still under the container's lock): `docker volume rm`
    // right after `run --rm -v` must work.
    if (!this.mountless(rec)) {
      await release;
      await this.deps.volumes.releaseMounts(rec.Id, { removeAnonymous: true }).catch(() => {});
    }
    this.store.forget(rec);
    this.publish(rec, 'die', { exitCode: String(exitCode) });
    this.notify(rec.Id, 'exit', exitCode);
    this.notify(rec.Id, 'removed', exitCode);
    trace.mark('answer');
    const reap = (async () => {
      await release;
      trace.mark('cleanup');
      this.released.delete(rec.Id);
      await this.destroyFiles(rec).catch((err) =>
        console.error(`berth: removing the files of ${rec.Id}: ${(err as Error).message}`),
      );
      this.publish(rec, 'destroy');
      await this.releasePendingAttach(rec.Id, false);
      trace.done('remove');
    })();
    this.reaping.add(reap);
    reap.finally(() => this.reaping.delete(reap));
  }

  /** Registers a container's background release: awaited per container and at shutdown. */
  private trackCleanup(id: string, release: Promise<void>): void {
    const tracked: Promise<void> = release.finally(() => {
      if (this.cleanups.get(id) === tracked) this.cleanups.delete(id);
      this.reaping.delete(tracked);
    });
    this.cleanups.set(id, tracked);
    this.reaping.add(tracked);
  }

  /** Resolves once the release of the container's last exit (if still going on) has finished. */
  private async cleanedUp(id: string): Promise<void> {
    const pending = this.cleanups.get(id);
    if (pending) await pending;
  }

  private scheduleRestart(rec: ContainerRecord, delayMs: number): void {
    const timer = setTimeout(() => {
      this.restartTimers.delete(rec.Id);
      this.exclusive(rec.Id, async () => {
        if (rec.State.Status !== 'restarting' || !this.store.find(rec.Id)) return;
        rec.RestartCount += 1;
        await this.startLocked(rec);
        this.publish(rec, 'restart');
      }).catch((err) => console.error(`berth: restarting ${rec.Id}: ${(err as Error).message}`));
    }, delayMs);
    this.restartTimers.set(rec.Id, timer);
  }

  // ------------------------------------------------------------------ stop, kill, pause

  async stop(ref: string, opts: { timeout?: number; signal?: string } = {}): Promise<'stopped' | 'already'> {
    const rec = this.store.get(ref);
    if (rec.State.Status === 'restarting') {
      rec.StoppedByUser = true;
      this.cancelRestart(rec);
      return 'stopped';
    }
    if (!rec.State.Running) return 'already';
    rec.StoppedByUser = true;
    await this.store.save(rec, TRANSIENT);
    const exited = this.nextExit(rec.Id);
    if (rec.State.Paused) await this.deps.runtime.resume(rec.Id).catch(() => {});
    const signal = opts.signal ?? rec.Config.StopSignal ?? 'SIGTERM';
    const timeoutSec = opts.timeout ?? rec.Config.StopTimeout ?? 10;
    await this.deps.runtime.kill(rec.Id, signal).catch(() => {});
    if (timeoutSec >= 0) {
      const timedOut = await Promise.race([
        exited.then(() => false),
        sleep(timeoutSec * 1000).then(() => true),
      ]);
      if (timedOut) await this.deps.runtime.kill(rec.Id, 'SIGKILL', true).catch(() => {});
    }
    await exited;
    this.publish(rec, 'stop');
    return 'stopped';
  }

  private cancelRestart(rec: ContainerRecord, persist = true): void {
    const timer = this.restartTimers.get(rec.Id);
    if (timer) clearTimeout(timer);
    this.restartTimers.delete(rec.Id);
    // Only a pending restart has state to undo (a save here raced the caller's own save of the record).
    if (!timer && rec.State.Status !== 'restarting') return;
    rec.State.Status = 'exited';
    rec.State.Restarting = false;
    if (persist) this.store.save(rec, TRANSIENT).catch(() => {});
  }

  async kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    const rec = this.store.get(ref);
    const number = parseSignal(signal);
    if (!rec.State.Running) {
      throw conflict(`Cannot kill container: ${ref}: Container ${rec.Id} is not running`);
    }
    if (number === 9 || number === 15 || number === 2) rec.StoppedByUser = true;
    // As dockerd: SIGKILL answers once the container has exited (up to a bound); other signals at once.
    const exited = number === 9 ? this.nextExit(rec.Id) : undefined;
    await this.deps.runtime.kill(rec.Id, number);
    this.publish(rec, 'kill', { signal: String(number) });
    if (exited) await Promise.race([exited, sleep(10_000)]);
  }

  async restart(ref: string, opts: { timeout?: number; signal?: string } = {}): Promise<void> {
    const rec = this.store.get(ref);
    await this.stop(rec.Id, opts);
    await this.start(rec.Id);
    this.publish(rec, 'restart');
  }

  // Under the container's lock, as the other lifecycle operations: two pauses (or unpauses) at once, as
  // `docker unpause c c` sends them, must not both see the old state.
  async pause(ref: string): Promise<void> {
    const rec = this.store.get(ref);
    await this.exclusive(rec.Id, async () => {
      if (!rec.State.Running) throw conflict(`Container ${rec.Id} is not running`);
      if (rec.State.Paused) throw conflict(`Container ${rec.Id} is already paused`);
      await this.deps.runtime.pause(rec.Id);
      rec.State.Paused = true;
      rec.State.Status = 'paused';
      await this.store.save(rec, TRANSIENT);
      this.publish(rec, 'pause');
    });
  }

  async unpause(ref: string): Promise<void> {
    const rec = this.store.get(ref);
    await this.exclusive(rec.Id, async () => {
      if (!rec.State.Paused) throw conflict(`Container ${rec.Id} is not paused`);
      await this.deps.runtime.resume(rec.Id);
      rec.State.Paused = false;
      rec.State.Status = 'running';
      await this.store.save(rec, TRANSIENT);
      this.publish(rec, 'unpause');
    });
  }

  // ------------------------------------------------------------------ wait

  private nextExit(id: string): Promise<number> {
    return new Promise((resolve) =>
      this.addWaiter(id, { condition: 'next-exit', resolve: (r) => resolve(r.StatusCode) }),
    );
  }

  private addWaiter(id: string, waiter: Waiter): void {
    const list = this.waiters.get(id) ?? [];
    list.push(waiter);
    this.waiters.set(id, list);
  }

  private notify(id: string, what: 'exit' | 'removed', code: number): void {
    const list = this.waiters.get(id) ?? [];
    const keep: Waiter[] = [];
    for (const w of list) {
      if (what === 'exit' && w.condition === 'removed') keep.push(w);
      else w.resolve({ StatusCode: code, Error: null });
    }
    if (keep.length) this.waiters.set(id, keep);
    else this.waiters.delete(id);
  }

  /** POST /containers/{id}/wait: not-running (default), next-exit, removed. */
  wait(
    ref: string,
    condition = 'not-running',
    signal?: AbortSignal,
  ): Promise<{ StatusCode: number; Error: { Message: string } | null }> {
    if (!['not-running', 'next-exit', 'removed', ''].includes(condition)) {
      throw badRequest(`invalid condition: "${condition}"`);
    }
    const rec = this.store.get(ref);
    const cond = (condition || 'not-running') as Waiter['condition'];
    if (cond === 'not-running' && !rec.State.Running && rec.State.Status !== 'restarting') {
      return Promise.resolve({ StatusCode: rec.State.ExitCode, Error: null });
    }
    return new Promise((resolve) => {
      const waiter: Waiter = { condition: cond, resolve };
      this.addWaiter(rec.Id, waiter);
      signal?.addEventListener('abort', () => {
        const list = this.waiters.get(rec.Id)?.filter((w) => w !== waiter) ?? [];
        this.waiters.set(rec.Id, list);
      });
    });
  }

  // ------------------------------------------------------------------ remove, rename, prune

  async remove(ref: string, opts: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    const rec = this.store.get(ref);
    await this.exclusive(rec.Id, async () => {
      if (rec.State.Running && !opts.force) {
        const what = rec.State.Paused ? 'paused' : 'running';
        throw conflict(
          `cannot remove container "/${rec.Name}": container is ${what}: ${rec.State.Paused ? 'unpause and then stop' : 'stop'} the container before removing or force remove`,
        );
      }
      if (rec.State.Status === 'removing')
        throw conflict(`removal of container ${rec.Id} is already in progress`);
    });
    if (rec.State.Running) {
      rec.StoppedByUser = true;
      const exited = this.nextExit(rec.Id);
      if (rec.State.Paused) await this.deps.runtime.resume(rec.Id).catch(() => {});
      await this.deps.runtime.kill(rec.Id, 'SIGKILL', true).catch(() => {});
      await Promise.race([exited, sleep(10_000)]);
    }
    await this.exclusive(rec.Id, () => this.removeLocked(rec, opts));
  }

  private async removeLocked(
    rec: ContainerRecord,
    opts: { force?: boolean; volumes?: boolean },
  ): Promise<void> {
    if (!this.store.find(rec.Id)) return;
    this.cancelRestart(rec, false);
    rec.State.Status = 'removing';
    await this.store.save(rec, TRANSIENT);
    await this.finishRemove(rec, opts);
  }

  private async finishRemove(rec: ContainerRecord, opts: { volumes?: boolean }): Promise<void> {
    this.health.get(rec.Id)?.stop();
    this.health.delete(rec.Id);
    this.exitWatches.get(rec.Id)?.abort();
    await this.cleanedUp(rec.Id);
    // After a recorded exit the runtime state and network are already gone (two tool runs saved).
    if (!this.released.has(rec.Id)) {
      await this.deps.runtime.delete(rec.Id, { force: true }).catch(() => {});
      await this.tearDownNetwork(rec).catch(() => {});
    }
    this.released.delete(rec.Id);
    if (!this.mountless(rec) || rec.Mounts.length > 0)
      await this.deps.volumes.releaseMounts(rec.Id, { removeAnonymous: !!opts.volumes });
    await this.destroyFiles(rec);
    this.publish(rec, 'destroy');
    this.notify(rec.Id, 'removed', rec.State.ExitCode);
    await this.releasePendingAttach(rec.Id, false);
  }

  private async destroyFiles(rec: ContainerRecord): Promise<void> {
    await this.unmountRootfs(rec).catch(() => {});
    await this.store.remove(rec);
  }

  async rename(ref: string, newName: string): Promise<void> {
    const rec = this.store.get(ref);
    const name = validateName(newName);
    if (name === rec.Name) throw badRequest('Renaming a container with the same name as its current name');
    const oldName = rec.Name;
    await this.store.rename(rec, name);
    this.publish(rec, 'rename', { oldName: `/${oldName}` });
  }

  async prune(
    filters: Map<string, string[]>,
  ): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }> {
    const deleted: string[] = [];
    let space = 0;
    const until = filters.get('until')?.[0];
    const untilMs = until ? parseUntil(until) : undefined;
    const labels = filters.get('label') ?? [];
    for (const rec of this.store.all()) {
      if (rec.State.Status !== 'exited' && rec.State.Status !== 'created' && rec.State.Status !== 'dead')
        continue;
      if (untilMs !== undefined && Date.parse(rec.Created) >= untilMs) continue;
      if (!labels.every((l) => labelMatches(rec.Config.Labels, l))) continue;
      space += (await this.sizes(rec)).sizeRw;
      await this.remove(rec.Id, { volumes: false });
      deleted.push(rec.Id);
    }
    return { ContainersDeleted: deleted, SpaceReclaimed: space };
  }

  // ------------------------------------------------------------------ networks of a container

  /** POST /networks/{id}/connect: joins now when running, else at the next start. */
  async connectNetwork(
    ref: string,
    network: string,
    endpoint: { Aliases?: string[]; IPAMConfig?: { IPv4Address?: string } },
  ): Promise<void> {
    const rec = this.store.get(ref);
    const mode = rec.HostConfig.NetworkMode ?? 'default';
    if (mode === 'host' || mode === 'none' || mode.startsWith('container:')) {
      throw badRequest(
        `container sharing network namespace with another container or host cannot be connected to any other network`,
      );
    }
    if (rec.Networks[network])
      throw conflict(`endpoint with name ${rec.Name} already exists in network ${network}`);
    rec.NetworkAliases = { ...rec.NetworkAliases, [network]: endpoint.Aliases ?? [] };
    if (rec.State.Running) {
      const settings = await this.deps.networks.connect(network, {
        containerId: rec.Id,
        containerName: rec.Name,
        netnsPath: rec.SandboxKey,
        aliases: endpoint.Aliases ?? [],
        ipv4Address: endpoint.IPAMConfig?.IPv4Address,
        ...(rec.HostConfig.Dns?.length ? { dns: rec.HostConfig.Dns } : {}),
        // Joining a user network points the container's resolv.conf at that network's embedded DNS.
        resolvConfPath: containerFiles(this.store.dir(rec.Id)).resolvConf,
      });
      rec.Networks[network] = settings as EndpointSettings;
    }
    await this.store.save(rec);
  }

  async disconnectNetwork(ref: string, network: string, force: boolean): Promise<void> {
    const rec = this.store.get(ref);
    const known =
      rec.Networks[network] || rec.NetworkAliases?.[network] || rec.HostConfig.NetworkMode === network;
    if (!known && !force) throw notFound(`container ${rec.Id} is not connected to network ${network}`);
    if (rec.State.Running && rec.Networks[network])
      await this.deps.networks.disconnect(network, rec.Id, {
        force,
        resolvConfPath: containerFiles(this.store.dir(rec.Id)).resolvConf,
      });
    delete rec.Networks[network];
    if (rec.NetworkAliases) delete rec.NetworkAliases[network];
    await this.store.save(rec);
  }

  // ------------------------------------------------------------------ attach and exec support

  /**
   * Runs `connect` once the container has a monitor to attach to: now if it is running, else during its
   * next start, after the monitor exists and before the process runs (docker run attaches before start,
   * and must not miss the first bytes). Resolves false if the container exits or fails to start first.
   */
  attachWhenReady(rec: ContainerRecord, connect: () => Promise<void>): Promise<boolean> {
    if (rec.State.Running) return connect().then(() => true);
    return new Promise((resolve, reject) => {
      const list = this.pendingAttach.get(rec.Id) ?? [];
      list.push({
        connect: () => connect().then(() => resolve(true), reject),
        fail: () => resolve(false),
      });
      this.pendingAttach.set(rec.Id, list);
    });
  }

  private async releasePendingAttach(id: string, ready: boolean): Promise<void> {
    const list = this.pendingAttach.get(id);
    this.pendingAttach.delete(id);
    for (const p of list ?? []) {
      if (ready) await p.connect().catch(() => {});
      else p.fail();
    }
  }

  /** The OCI process for an exec or probe, based on the container's own process. */
  async processSpec(
    rec: ContainerRecord,
    opts: {
      Cmd: string[];
      Env: string[];
      User: string;
      WorkingDir: string;
      Privileged: boolean;
      Tty: boolean;
    },
  ): Promise<OciSpec['process']> {
    const paths = containerPaths(this.store.dir(rec.Id));
    const config = JSON.parse(await readFile(paths.config, 'utf8')) as OciSpec;
    const spec = execProcessSpec(config, paths.rootfs, opts);
    clampCapabilities({ process: spec } as OciSpec);
    return spec;
  }

  /** Opens the container's attach streams (conmon's attach socket). */
  attachStreams(rec: ContainerRecord): Promise<AttachStreams> {
    return this.deps.runtime.attach(rec.Id, this.store.dir(rec.Id), { tty: rec.Config.Tty });
  }

  resize(rec: ContainerRecord, size: { height: number; width: number }): Promise<void> {
    return this.deps.runtime.resize(this.store.dir(rec.Id), size);
  }

  upperDir(rec: ContainerRecord): string {
    return containerFiles(this.store.dir(rec.Id)).upper;
  }

  /** The cgroup path the runtime spec gave the container (relative to each controller's root). */
  cgroupsPath(rec: ContainerRecord): string {
    return `${CGROUP_PARENT}/${rec.Id}`;
  }

  // ------------------------------------------------------------------ events

  publish(rec: ContainerRecord, action: string, extra: Record<string, string> = {}): void {
    this.deps.events.publish('container', action, rec.Id, {
      ...rec.Config.Labels,
      image: rec.ImageName,
      name: rec.Name,
      ...extra,
    });
  }

  /** Daemon shutdown: stop watching; containers keep running under their monitors. */
  async close(): Promise<void> {
    for (const c of this.exitWatches.values()) c.abort();
    for (const m of this.health.values()) m.stop();
    for (const t of this.restartTimers.values()) clearTimeout(t);
    await Promise.allSettled([...this.reaping]);
    await this.deps.runtime.settle();
  }
}

/** The daemon's own capability bounding set: a container cannot get more (runc fails with EPERM). */
let boundingCaps: Set<string> | undefined;
function ownBoundingCaps(): Set<string> {
  if (boundingCaps) return boundingCaps;
  const names = [
    'CHOWN',
    'DAC_OVERRIDE',
    'DAC_READ_SEARCH',
    'FOWNER',
    'FSETID',
    'KILL',
    'SETGID',
    'SETUID',
    'SETPCAP',
    'LINUX_IMMUTABLE',
    'NET_BIND_SERVICE',
    'NET_BROADCAST',
    'NET_ADMIN',
    'NET_RAW',
    'IPC_LOCK',
    'IPC_OWNER',
    'SYS_MODULE',
    'SYS_RAWIO',
    'SYS_CHROOT',
    'SYS_PTRACE',
    'SYS_PACCT',
    'SYS_ADMIN',
    'SYS_BOOT',
    'SYS_NICE',
    'SYS_RESOURCE',
    'SYS_TIME',
    'SYS_TTY_CONFIG',
    'MKNOD',
    'LEASE',
    'AUDIT_WRITE',
    'AUDIT_CONTROL',
    'SETFCAP',
    'MAC_OVERRIDE',
    'MAC_ADMIN',
    'SYSLOG',
    'WAKE_ALARM',
    'BLOCK_SUSPEND',
    'AUDIT_READ',
    'PERFMON',
    'BPF',
    'CHECKPOINT_RESTORE',
  ];
  const set = new Set<string>();
  try {
    const line = readFileSync('/proc/self/status', 'utf8').match(/^CapBnd:\s*([0-9a-f]+)/m);
    const mask = BigInt(`0x${line?.[1] ?? '0'}`);
    names.forEach((n, i) => {
      if ((mask >> BigInt(i)) & 1n) set.add(`CAP_${n}`);
    });
  } catch {
    for (const n of names) set.add(`CAP_${n}`);
  }
  boundingCaps = set;
  return set;
}

/** Drops capabilities the daemon does not hold itself (--privileged on a host that withholds some). */
function clampCapabilities(spec: OciSpec): void {
  const caps = spec.process?.capabilities;
  if (!caps) return;
  const own = ownBoundingCaps();
  const keep = (list: string[] | undefined) => list?.filter((c) => own.has(c));
  caps.bounding = keep(caps.bounding) ?? [];
  caps.effective = keep(caps.effective) ?? [];
  caps.permitted = keep(caps.permitted) ?? [];
  if (caps.inheritable) caps.inheritable = keep(caps.inheritable);
  if (caps.ambient) caps.ambient = keep(caps.ambient);
}

/**
 * Per-phase timings of create/start/exit, printed to the daemon's stderr when BERTH_TRACE=phases
 * (bench/run.ts reads them to see where a `docker run --rm` spends its time).
 */
function phaseTrace(id: string, op: string) {
  const on = process.env.BERTH_TRACE === 'phases';
  let last = performance.now();
  const parts: string[] = [];
  const mark = (phase: string, wallMs?: number) => {
    if (!on) return;
    const now = performance.now();
    // `wallMs` measures from a wall-clock instant (the exit time conmon recorded) instead of the last mark.
    const ms = wallMs !== undefined ? Date.now() - wallMs : now - last;
    parts.push(`${phase}=${ms.toFixed(2)}`);
    last = now;
  };
  return {
    mark,
    /** A phase that overlapped others: its own duration, the running mark unchanged. */
    add(phase: string, ms: number) {
      if (on) parts.push(`${phase}=${ms.toFixed(2)}`);
    },
    done(phase?: string) {
      if (!on) return;
      if (phase) mark(phase);
      console.error(`berth-trace ${id.slice(0, 12)} ${op} ${parts.join(' ')}`);
    },
  };
}

/** Creates the files if missing, keeping the inode (and content) of existing ones. */
async function ensureFiles(paths: readonly string[]): Promise<void> {
  await Promise.all(paths.map((p) => writeFile(p, '', { flag: 'a' })));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
