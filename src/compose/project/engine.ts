// The reconcile engine: makes the daemon's containers, networks and volumes match a loaded Project, using
// only the public Engine API (so it drives berth and a real Docker daemon alike). Containers are found by
// the compose labels; a container is recreated only when its config-hash label differs from the model's.
import type { ContainerSummary, EngineClient } from '../../client/index.js';
import { BerthError, badRequest } from '../../util/index.js';
import { dependencyOrder, serviceHash } from '../loader/graph.js';
import { imageName } from '../loader/output.js';
import type { Project, ServiceConfig } from '../loader/types.js';
import { type CreateContext, containerName, createPlan, replicas } from './convert.js';
import { COMPOSE_VERSION, LABEL, projectFilter } from './labels.js';

export interface ProgressEvent {
  kind: 'Network' | 'Volume' | 'Container' | 'Image';
  name: string;
  status: string;
}

export interface EngineOptions {
  /** Receives one event per resource change ("Container p-web-1 Started"). */
  progress?: (e: ProgressEvent) => void;
  /** Receives warnings (orphans, unsupported fields). */
  warn?: (message: string) => void;
  /** Polling interval for health and completion waits, in ms. */
  pollMs?: number;
}

export interface UpOptions {
  services?: string[];
  build?: boolean;
  forceRecreate?: boolean;
  noRecreate?: boolean;
  noDeps?: boolean;
  removeOrphans?: boolean;
  /** Service → replica count, overriding deploy.replicas/scale. */
  scale?: Record<string, number>;
  /** Wait until every started container is running (and healthy when it has a health check). */
  wait?: boolean;
  /** Create only, do not start. */
  noStart?: boolean;
  timeout?: number;
}

export interface DownOptions {
  volumes?: boolean;
  rmi?: 'local' | 'all';
  removeOrphans?: boolean;
  timeout?: number;
}

export interface RunOptions {
  command?: string[];
  environment?: Record<string, string>;
  entrypoint?: string[];
  user?: string;
  workdir?: string;
  tty?: boolean;
  interactive?: boolean;
  servicePorts?: boolean;
  noDeps?: boolean;
  name?: string;
}

export const serviceOf = (c: ContainerSummary) => c.Labels?.[LABEL.service] ?? '';
export const numberOf = (c: ContainerSummary) => Number(c.Labels?.[LABEL.number] ?? 0);
export const nameOf = (c: ContainerSummary) => (c.Names?.[0] ?? '').replace(/^\//, '');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ComposeEngine {
  private readonly progress: (e: ProgressEvent) => void;
  private readonly warn: (m: string) => void;
  private readonly pollMs: number;

  constructor(
    readonly client: EngineClient,
    readonly project: Project,
    opts: EngineOptions = {},
  ) {
    this.progress = opts.progress ?? (() => {});
    this.warn = opts.warn ?? (() => {});
    this.pollMs = opts.pollMs ?? 250;
  }

  private event(kind: ProgressEvent['kind'], name: string, status: string): void {
    this.progress({ kind, name, status });
  }

  private service(name: string): ServiceConfig {
    const s = this.project.services[name];
    if (!s) throw badRequest(`no such service: ${name}`);
    return s;
  }

  /** The project's containers (one-off `run` containers only with oneoff), sorted by service and number. */
  async containers(
    opts: { all?: boolean; services?: string[]; oneoff?: boolean | 'any' } = {},
  ): Promise<ContainerSummary[]> {
    const extra: string[] = [];
    if (opts.oneoff !== 'any') extra.push(`${LABEL.oneoff}=${opts.oneoff ? 'True' : 'False'}`);
    const list = await this.client.containers.list({
      all: opts.all ?? true,
      filters: projectFilter(this.project.name, extra),
    });
    const only = opts.services?.length ? new Set(opts.services) : undefined;
    return list
      .filter((c) => !only || only.has(serviceOf(c)))
      .sort((a, b) => serviceOf(a).localeCompare(serviceOf(b)) || numberOf(a) - numberOf(b));
  }

  /** Containers labelled with this project whose service is no longer in the model. */
  async orphans(): Promise<ContainerSummary[]> {
    const known = new Set([
      ...Object.keys(this.project.services),
      ...Object.keys(this.project.disabledServices),
    ]);
    return (await this.containers({ oneoff: 'any' })).filter((c) => !known.has(serviceOf(c)));
  }

  /** The services in scope for a command, in start order (with dependencies unless noDeps). */
  scope(services: string[] | undefined, noDeps = false): string[] {
    for (const s of services ?? []) this.service(s);
    if (services?.length && noDeps) {
      const set = new Set(services);
      return dependencyOrder(this.project).filter((s) => set.has(s));
    }
    return dependencyOrder(this.project, services?.length ? services : undefined);
  }

  // ---------- networks and volumes

  async ensureNetworks(services: string[]): Promise<void> {
    const keys = new Set<string>();
    for (const s of services)
      if (this.service(s).network_mode === undefined)
        for (const k of Object.keys(this.service(s).networks ?? {})) keys.add(k);
    for (const key of [...keys].sort()) {
      const cfg = this.project.networks[key];
      if (!cfg) throw badRequest(`service refers to undefined network ${key}`);
      const name = cfg.name ?? `${this.project.name}_${key}`;
      const existing = await this.client.networks.list({ filters: { name: [name] } });
      if (existing.some((n) => n.Name === name)) continue;
      if (cfg.external) throw badRequest(`network ${name} declared as external, but could not be found`);
      const ipam = cfg.ipam as
        | { driver?: string; config?: { subnet?: string; gateway?: string; ip_range?: string }[] }
        | undefined;
      await this.client.networks.create({
        Name: name,
        Driver: cfg.driver ?? 'bridge',
        Internal: cfg.internal === true,
        Attachable: (cfg.attachable as boolean | undefined) ?? undefined,
        Options: (cfg.driver_opts as Record<string, string> | undefined) ?? undefined,
        IPAM: ipam
          ? {
              Driver: ipam.driver ?? 'default',
              Config: (ipam.config ?? []).map((c) => ({
                Subnet: c.subnet,
                Gateway: c.gateway,
                IPRange: c.ip_range,
              })),
            }
          : undefined,
        Labels: {
          ...((cfg.labels as Record<string, string> | undefined) ?? {}),
          [LABEL.project]: this.project.name,
          [LABEL.network]: key,
          [LABEL.version]: COMPOSE_VERSION,
        },
      });
      this.event('Network', name, 'Created');
    }
  }

  async ensureVolumes(services: string[]): Promise<void> {
    const keys = new Set<string>();
    for (const s of services)
      for (const v of this.service(s).volumes ?? []) if (v.type === 'volume' && v.source) keys.add(v.source);
    for (const key of [...keys].sort()) {
      const cfg = this.project.volumes[key];
      if (!cfg) throw badRequest(`service refers to undefined volume ${key}`);
      const name = cfg.name ?? `${this.project.name}_${key}`;
      try {
        await this.client.volumes.inspect(name);
        continue;
      } catch (err) {
        if ((err as { status?: number }).status !== 404) throw err;
      }
      if (cfg.external) throw badRequest(`external volume "${name}" not found`);
      await this.client.volumes.create({
        Name: name,
        Driver: cfg.driver ?? 'local',
        DriverOpts: (cfg.driver_opts as Record<string, string> | undefined) ?? undefined,
        Labels: {
          ...((cfg.labels as Record<string, string> | undefined) ?? {}),
          [LABEL.project]: this.project.name,
          [LABEL.volume]: key,
          [LABEL.version]: COMPOSE_VERSION,
        },
      });
      this.event('Volume', name, 'Created');
    }
  }

  // ---------- images

  private async imageExists(ref: string): Promise<boolean> {
    try {
      await this.client.images.inspect(ref);
      return true;
    } catch (err) {
      if ((err as { status?: number }).status === 404) return false;
      throw err;
    }
  }

  /** Makes sure every service's image exists: builds (always with `build`) or pulls what is missing. */
  async ensureImages(services: string[], build = false): Promise<void> {
    for (const s of services) {
      const svc = this.service(s);
      const ref = imageName(this.project, s);
      if (svc.build && (build || !(await this.imageExists(ref)))) await this.build([s]);
      else if (!(await this.imageExists(ref))) await this.pull([s]);
    }
  }

  /** Builds services that have a build section through POST /build (the context is sent as a tar). */
  async build(
    services?: string[],
    opts: { noCache?: boolean; pull?: boolean; onOutput?: (s: string) => void } = {},
  ): Promise<void> {
    const { buildService } = await import('./build.js');
    const names = services?.length ? services : Object.keys(this.project.services).sort();
    for (const s of names) {
      const svc = this.service(s);
      if (!svc.build) continue;
      const ref = imageName(this.project, s);
      this.event('Image', ref, 'Building');
      await buildService(this.client, svc, ref, { ...opts, labels: { [LABEL.project]: this.project.name } });
      this.event('Image', ref, 'Built');
    }
  }

  async pull(services?: string[], opts: { ignoreFailures?: boolean } = {}): Promise<void> {
    const names = services?.length ? services : Object.keys(this.project.services).sort();
    for (const s of names) {
      const svc = this.service(s);
      if (!svc.image) continue;
      const ref = svc.image;
      this.event('Image', ref, 'Pulling');
      try {
        const [repo, tag] = splitRef(ref);
        for await (const m of this.client.images.pull(repo, { tag }))
          if (m.error) throw new BerthError(500, `pull ${ref}: ${m.error}`);
        this.event('Image', ref, 'Pulled');
      } catch (err) {
        if (!opts.ignoreFailures) throw err;
        this.warn(`${s}: ${(err as Error).message}`);
      }
    }
  }

  async push(services?: string[]): Promise<void> {
    const names = services?.length ? services : Object.keys(this.project.services).sort();
    for (const s of names) {
      const svc = this.service(s);
      if (!svc.image) continue;
      this.event('Image', svc.image, 'Pushing');
      const [repo, tag] = splitRef(svc.image);
      for await (const m of this.client.images.push(repo, { tag }))
        if (m.error) throw new BerthError(500, `push ${svc.image}: ${m.error}`);
      this.event('Image', svc.image, 'Pushed');
    }
  }

  // ---------- containers

  private async createContainer(
    svc: ServiceConfig,
    number: number,
    extra: Partial<CreateContext> = {},
  ): Promise<string> {
    const name = extra.name ?? containerName(this.project, svc, number);
    const running = new Map<string, string>();
    if (svc.network_mode?.startsWith('service:')) {
      const target = svc.network_mode.slice(8);
      const c = (await this.containers({ services: [target] }))[0];
      if (c?.Id) running.set(target, c.Id);
    }
    const plan = createPlan(this.project, svc, {
      number,
      name,
      serviceContainer: (s) => running.get(s),
      ...extra,
    });
    this.event('Container', name, 'Creating');
    const { Id } = await this.client.containers.create(plan.body, { name });
    for (const n of plan.extraNetworks)
      await this.client.networks.connect(n.name, { Container: Id, EndpointConfig: n.endpoint });
    this.event('Container', name, 'Created');
    return Id;
  }

  private async removeContainer(c: ContainerSummary, timeout?: number): Promise<void> {
    const name = nameOf(c);
    if (c.State === 'running' || c.State === 'paused' || c.State === 'restarting') {
      this.event('Container', name, 'Stopping');
      await this.client.containers.stop(c.Id as string, { t: timeout });
      this.event('Container', name, 'Stopped');
    }
    this.event('Container', name, 'Removing');
    await this.client.containers.remove(c.Id as string, { force: true });
    this.event('Container', name, 'Removed');
  }

  /**
   * Converges one service's containers to the model: removes extra replicas, recreates those whose
   * config-hash differs (or all with forceRecreate), creates the missing ones. Returns the ids to start.
   */
  async convergeService(name: string, opts: UpOptions = {}): Promise<string[]> {
    const svc = this.service(name);
    const want = opts.scale?.[name] ?? replicas(svc);
    const hash = serviceHash(svc);
    const existing = await this.containers({ services: [name] });
    const keep = existing.slice(0, want);
    for (const c of existing.slice(want)) await this.removeContainer(c, opts.timeout);
    const ids: string[] = [];
    const used = new Set<number>();
    for (const c of keep) {
      const n = numberOf(c) || 1;
      used.add(n);
      const stale = c.Labels?.[LABEL.configHash] !== hash;
      if (opts.forceRecreate || (stale && !opts.noRecreate)) {
        this.event('Container', nameOf(c), 'Recreate');
        await this.removeContainer(c, opts.timeout);
        ids.push(await this.createContainer(svc, n));
        this.event('Container', containerName(this.project, svc, n), 'Recreated');
      } else {
        ids.push(c.Id as string);
        if (c.State === 'running') this.event('Container', nameOf(c), 'Running');
      }
    }
    for (let n = 1; ids.length < want; n++) {
      if (used.has(n)) continue;
      used.add(n);
      ids.push(await this.createContainer(svc, n));
    }
    return ids;
  }

  private async startIds(ids: string[]): Promise<void> {
    for (const id of ids) {
      const info = await this.client.containers.inspect(id);
      if (info.State?.Running) continue;
      const name = (info.Name ?? id).replace(/^\//, '');
      this.event('Container', name, 'Starting');
      await this.client.containers.start(id);
      this.event('Container', name, 'Started');
    }
  }

  /** Waits for the conditions `svc` puts on its dependencies (only those in `inScope`). */
  async waitDependencies(svc: ServiceConfig, inScope: Set<string>): Promise<void> {
    for (const [dep, cond] of Object.entries(svc.depends_on ?? {})) {
      if (!inScope.has(dep) || cond.condition === 'service_started') continue;
      const cs = await this.containers({ services: [dep] });
      if (cs.length === 0) {
        if (cond.required) throw badRequest(`service ${svc.name} depends on ${dep}, which has no container`);
        continue;
      }
      for (const c of cs) {
        const cname = nameOf(c);
        this.event('Container', cname, 'Waiting');
        if (cond.condition === 'service_healthy') await this.waitHealthy(c.Id as string, cname);
        else {
          const { StatusCode } = await this.client.containers.wait(c.Id as string);
          if (StatusCode !== 0)
            throw new BerthError(500, `service "${dep}" didn't complete successfully: exit ${StatusCode}`);
        }
        this.event('Container', cname, cond.condition === 'service_healthy' ? 'Healthy' : 'Exited');
      }
    }
  }

  async waitHealthy(id: string, name: string): Promise<void> {
    for (;;) {
      const info = await this.client.containers.inspect(id);
      const health = info.State?.Health?.Status;
      if (!info.State?.Health && info.State?.Running)
        throw badRequest(`container ${name} has no healthcheck configured`);
      if (health === 'healthy') return;
      if (health === 'unhealthy')
        throw new BerthError(500, `dependency failed to start: container ${name} is unhealthy`);
      if (!info.State?.Running && info.State?.Status !== 'created')
        throw new BerthError(
          500,
          `dependency failed to start: container ${name} exited (${info.State?.ExitCode})`,
        );
      await sleep(this.pollMs);
    }
  }

  /** `up`: images, networks, volumes, then each service converged and started in dependency order. */
  async up(opts: UpOptions = {}): Promise<string[]> {
    const order = this.scope(opts.services, opts.noDeps);
    const orphans = await this.orphans();
    if (orphans.length && opts.removeOrphans)
      for (const c of orphans) await this.removeContainer(c, opts.timeout);
    else if (orphans.length)
      this.warn(
        `Found orphan containers (${orphans.map(nameOf).join(', ')}) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.`,
      );
    await this.ensureImages(order, opts.build);
    await this.ensureNetworks(order);
    await this.ensureVolumes(order);
    const perService = new Map<string, string[]>();
    await this.graph(order, async (s) => {
      perService.set(s, await this.convergeService(s, opts));
    });
    if (opts.noStart) return order;
    const inScope = new Set(order);
    await this.graph(order, async (s) => {
      await this.waitDependencies(this.service(s), inScope);
      await this.startIds(perService.get(s) ?? []);
    });
    if (opts.wait)
      for (const s of order)
        for (const id of perService.get(s) ?? []) {
          const info = await this.client.containers.inspect(id);
          const name = (info.Name ?? id).replace(/^\//, '');
          if (info.State?.Health) await this.waitHealthy(id, name);
          else if (!info.State?.Running && info.State?.ExitCode !== 0)
            throw new BerthError(500, `container ${name} exited (${info.State?.ExitCode})`);
        }
    return order;
  }

  /**
   * Runs `fn` for every service once all the services it depends on (in `order`) are done, independent
   * services concurrently — as docker compose walks its dependency graph. The first error wins.
   */
  private async graph(order: string[], fn: (service: string) => Promise<void>): Promise<void> {
    const inOrder = new Set(order);
    const done = new Map<string, Promise<void>>();
    for (const s of order) {
      const svc = this.service(s);
      const deps = Object.keys(svc.depends_on ?? {});
      if (svc.network_mode?.startsWith('service:')) deps.push(svc.network_mode.slice(8));
      const waits = deps.filter((d) => inOrder.has(d)).map((d) => done.get(d));
      done.set(
        s,
        Promise.all(waits).then(() => fn(s)),
      );
    }
    const results = await Promise.allSettled(done.values());
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** `start`: starts existing containers in dependency order. */
  async start(services?: string[]): Promise<void> {
    const order = this.scope(services, true);
    const inScope = new Set(order);
    for (const s of order) {
      const cs = await this.containers({ services: [s] });
      if (cs.length === 0) continue;
      await this.waitDependencies(this.service(s), inScope);
      await this.startIds(cs.map((c) => c.Id as string));
    }
  }

  private reverseOrder(services?: string[]): string[] {
    const all = dependencyOrder(this.project).reverse();
    const only = services?.length ? new Set(services) : undefined;
    for (const s of services ?? []) this.service(s);
    return all.filter((s) => !only || only.has(s));
  }

  private async each(
    services: string[] | undefined,
    reverse: boolean,
    fn: (c: ContainerSummary, name: string) => Promise<void>,
    filter: (c: ContainerSummary) => boolean = () => true,
  ): Promise<void> {
    const order = reverse ? this.reverseOrder(services) : this.scope(services, true);
    for (const s of order)
      for (const c of await this.containers({ services: [s] })) if (filter(c)) await fn(c, nameOf(c));
  }

  async stop(services?: string[], timeout?: number): Promise<void> {
    await this.each(
      services,
      true,
      async (c, name) => {
        this.event('Container', name, 'Stopping');
        await this.client.containers.stop(c.Id as string, { t: timeout });
        this.event('Container', name, 'Stopped');
      },
      (c) => c.State === 'running' || c.State === 'paused' || c.State === 'restarting',
    );
  }

  async restart(services?: string[], timeout?: number): Promise<void> {
    await this.each(services, false, async (c, name) => {
      this.event('Container', name, 'Restarting');
      await this.client.containers.restart(c.Id as string, { t: timeout });
      this.event('Container', name, 'Started');
    });
  }

  async kill(services?: string[], signal?: string): Promise<void> {
    await this.each(
      services,
      true,
      async (c, name) => {
        this.event('Container', name, 'Killing');
        await this.client.containers.kill(c.Id as string, { signal });
        this.event('Container', name, 'Killed');
      },
      (c) => c.State === 'running',
    );
  }

  async pause(services?: string[]): Promise<void> {
    await this.each(
      services,
      false,
      async (c, name) => {
        await this.client.containers.pause(c.Id as string);
        this.event('Container', name, 'Paused');
      },
      (c) => c.State === 'running',
    );
  }

  async unpause(services?: string[]): Promise<void> {
    await this.each(
      services,
      false,
      async (c, name) => {
        await this.client.containers.unpause(c.Id as string);
        this.event('Container', name, 'Unpaused');
      },
      (c) => c.State === 'paused',
    );
  }

  /** `rm`: removes stopped containers (running ones too with `stop`). */
  async rm(services?: string[], opts: { stop?: boolean; volumes?: boolean } = {}): Promise<string[]> {
    if (opts.stop) await this.stop(services);
    const removed: string[] = [];
    await this.each(
      services,
      true,
      async (c, name) => {
        this.event('Container', name, 'Removing');
        await this.client.containers.remove(c.Id as string, { volumes: opts.volumes });
        this.event('Container', name, 'Removed');
        removed.push(name);
      },
      (c) => c.State !== 'running' && c.State !== 'paused' && c.State !== 'restarting',
    );
    return removed;
  }

  /** `down`: containers (in reverse dependency order), then networks, then volumes and images on request. */
  async down(opts: DownOptions = {}): Promise<void> {
    const known = new Set([
      ...Object.keys(this.project.services),
      ...Object.keys(this.project.disabledServices),
    ]);
    const all = await this.containers({ oneoff: 'any' });
    const targets = all.filter((c) => known.has(serviceOf(c)) || opts.removeOrphans);
    const orphans = all.filter((c) => !known.has(serviceOf(c)));
    if (orphans.length && !opts.removeOrphans)
      this.warn(`Found orphan containers (${orphans.map(nameOf).join(', ')}) for this project.`);
    // Dependents go first; services that do not depend on each other stop concurrently.
    const byService = new Map<string, ContainerSummary[]>();
    for (const c of targets) byService.set(serviceOf(c), [...(byService.get(serviceOf(c)) ?? []), c]);
    const dependents = new Map<string, string[]>();
    for (const [n, svc] of Object.entries({ ...this.project.disabledServices, ...this.project.services }))
      for (const d of Object.keys(svc.depends_on ?? {})) dependents.set(d, [...(dependents.get(d) ?? []), n]);
    const done = new Map<string, Promise<void>>();
    const removeService = (name: string, stack: string[]): Promise<void> => {
      let p = done.get(name);
      if (p) return p;
      const after = (dependents.get(name) ?? []).filter((d) => !stack.includes(d));
      p = Promise.all(after.map((d) => removeService(d, [...stack, name]))).then(async () => {
        await Promise.all((byService.get(name) ?? []).map((c) => this.removeContainer(c, opts.timeout)));
      });
      done.set(name, p);
      return p;
    };
    const results = await Promise.allSettled([...byService.keys()].map((n) => removeService(n, [])));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;

    const nets = await this.client.networks.list({ filters: projectFilter(this.project.name) });
    for (const [key, cfg] of Object.entries(this.project.networks)) {
      if (cfg.external) continue;
      const name = cfg.name ?? `${this.project.name}_${key}`;
      const n = nets.find((x) => x.Name === name);
      if (!n) continue;
      this.event('Network', name, 'Removing');
      await this.client.networks.remove(n.Id ?? name);
      this.event('Network', name, 'Removed');
    }
    if (opts.volumes)
      for (const [key, cfg] of Object.entries(this.project.volumes)) {
        if (cfg.external) continue;
        const name = cfg.name ?? `${this.project.name}_${key}`;
        try {
          const v = await this.client.volumes.inspect(name);
          if (v.Labels?.[LABEL.project] !== this.project.name) continue;
        } catch {
          continue;
        }
        this.event('Volume', name, 'Removing');
        await this.client.volumes.remove(name);
        this.event('Volume', name, 'Removed');
      }
    if (opts.rmi) {
      const seen = new Set<string>();
      for (const svc of Object.values(this.project.services)) {
        if (opts.rmi === 'local' && svc.image) continue;
        const ref = imageName(this.project, svc.name);
        if (seen.has(ref)) continue;
        seen.add(ref);
        try {
          await this.client.images.remove(ref);
          this.event('Image', ref, 'Removed');
        } catch (err) {
          if ((err as { status?: number }).status !== 404)
            this.warn(`image ${ref}: ${(err as Error).message}`);
        }
      }
    }
  }

  /** `run`: a one-off container of `service` (dependencies started first unless noDeps). Not started. */
  async createOneoff(service: string, opts: RunOptions = {}): Promise<{ id: string; name: string }> {
    const svc = this.service(service);
    if (!opts.noDeps && svc.depends_on && Object.keys(svc.depends_on).length) {
      const deps = Object.keys(svc.depends_on);
      await this.up({ services: deps });
      await this.waitDependencies(svc, new Set(deps));
    }
    await this.ensureImages([service]);
    await this.ensureNetworks([service]);
    await this.ensureVolumes([service]);
    const name =
      opts.name ?? `${this.project.name}-${service}-run-${Math.random().toString(16).slice(2, 14)}`;
    const id = await this.createContainer(svc, 1, {
      name,
      oneoff: true,
      command: opts.command?.length ? opts.command : undefined,
      environment: opts.environment,
      entrypoint: opts.entrypoint,
      user: opts.user,
      workdir: opts.workdir,
      tty: opts.tty,
      interactive: opts.interactive,
      publishPorts: opts.servicePorts === true,
    });
    return { id, name };
  }

  /** The container of `service` with index `index` (1-based), as exec/port pick it. */
  async containerFor(service: string, index = 1): Promise<ContainerSummary> {
    this.service(service);
    const cs = await this.containers({ services: [service], all: false });
    const c = cs.find((x) => numberOf(x) === index) ?? (index === 1 ? cs[0] : undefined);
    if (!c) throw badRequest(`service "${service}" is not running`);
    return c;
  }
}

/** "repo:tag" / "repo@digest" → [repo, tag]; the registry port colon is not a tag separator. */
export function splitRef(ref: string): [string, string | undefined] {
  const at = ref.indexOf('@');
  if (at >= 0) return [ref.slice(0, at), ref.slice(at + 1)];
  const colon = ref.lastIndexOf(':');
  if (colon > ref.lastIndexOf('/')) return [ref.slice(0, colon), ref.slice(colon + 1)];
  return [ref, 'latest'];
}
