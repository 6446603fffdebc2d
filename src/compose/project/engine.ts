// The reconcile engine: makes the daemon's containers, networks and volumes match a loaded Project, using
// only the public Engine API (so it drives berth and a real Docker daemon alike). Containers are found by
// the compose labels; a container is recreated only when its config-hash label differs from the model's.
import { posix } from 'node:path';
import type { ContainerSummary, EngineClient, Mount } from '../../client/index.js';
import { BerthError, badRequest } from '../../util/index.js';
import { dependencyOrder, serviceDependencies, serviceHash } from '../loader/graph.js';
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
const isActive = (c: ContainerSummary) =>
  c.State === 'running' || c.State === 'paused' || c.State === 'restarting';

/** Waits for every promise (none left running behind an error), then throws the first failure. */
async function settle<T>(work: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(work);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** One container `up` has to start (or leave running). */
interface Target {
  id: string;
  name: string;
  running: boolean;
  /** Created (or recreated) by this run. */
  fresh?: boolean;
}

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

  /** Creates the project networks `services` join that do not exist yet (one list call, creates in parallel). */
  async ensureNetworks(services: string[]): Promise<void> {
    const keys = new Set<string>();
    for (const s of services)
      if (this.service(s).network_mode === undefined)
        for (const k of Object.keys(this.service(s).networks ?? {})) keys.add(k);
    if (keys.size === 0) return;
    const wanted = [...keys].sort().map((key) => {
      const cfg = this.project.networks[key];
      if (!cfg) throw badRequest(`service refers to undefined network ${key}`);
      return { key, cfg, name: cfg.name ?? `${this.project.name}_${key}` };
    });
    // The name filter matches substrings: compare exact names below.
    const existing = new Set(
      (await this.client.networks.list({ filters: { name: wanted.map((w) => w.name) } })).map((n) => n.Name),
    );
    await settle(
      wanted
        .filter((w) => !existing.has(w.name))
        .map(async ({ key, cfg, name }) => {
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
        }),
    );
  }

  /** Creates the project volumes `services` mount that do not exist yet (in parallel). */
  async ensureVolumes(services: string[]): Promise<void> {
    const keys = new Set<string>();
    for (const s of services)
      for (const v of this.service(s).volumes ?? []) if (v.type === 'volume' && v.source) keys.add(v.source);
    await settle(
      [...keys].sort().map(async (key) => {
        const cfg = this.project.volumes[key];
        if (!cfg) throw badRequest(`service refers to undefined volume ${key}`);
        const name = cfg.name ?? `${this.project.name}_${key}`;
        try {
          await this.client.volumes.inspect(name);
          return;
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
      }),
    );
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

  /**
   * Makes sure every service's image exists: builds (always with `build`) or pulls what is missing. The
   * services' images are looked up, built and pulled concurrently, each image once.
   */
  async ensureImages(services: string[], build = false): Promise<void> {
    const once = new Map<string, Promise<unknown>>();
    const dedupe = <T>(key: string, f: () => Promise<T>): Promise<T> => {
      let p = once.get(key) as Promise<T> | undefined;
      if (!p) once.set(key, (p = f()));
      return p;
    };
    await settle(
      services.map(async (s) => {
        const svc = this.service(s);
        const ref = imageName(this.project, s);
        const exists = () => dedupe(`inspect ${ref}`, () => this.imageExists(ref));
        if (svc.build && (build || !(await exists()))) await this.build([s]);
        else if (!(await exists())) await dedupe(`pull ${ref}`, () => this.pull([s]));
      }),
    );
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

  /** Pulls the services' images, each image once, all at the same time (as docker compose does). */
  async pull(services?: string[], opts: { ignoreFailures?: boolean } = {}): Promise<void> {
    const names = services?.length ? services : Object.keys(this.project.services).sort();
    const refs = new Map<string, string>();
    for (const s of names) {
      const image = this.service(s).image;
      if (image && !refs.has(image)) refs.set(image, s);
    }
    await settle(
      [...refs].map(async ([ref, s]) => {
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
      }),
    );
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
    if (isActive(c)) {
      this.event('Container', name, 'Stopping');
      await this.client.containers.stop(c.Id as string, { t: timeout });
      this.event('Container', name, 'Stopped');
    }
    this.event('Container', name, 'Removing');
    await this.client.containers.remove(c.Id as string, { force: true });
    this.event('Container', name, 'Removed');
  }

  /**
   * Replaces `old` as docker compose does: the new container is created first under a temporary name,
   * then the old one is stopped and removed and the new one takes its name.
   */
  private async recreate(svc: ServiceConfig, old: ContainerSummary, n: number, timeout?: number) {
    const name = containerName(this.project, svc, n);
    this.event('Container', nameOf(old), 'Recreate');
    const tmp = `${(old.Id as string).slice(0, 12)}_${name}`;
    const inherit = await this.inheritedMounts(svc, old);
    const id = await this.createContainer(svc, n, { name: tmp, replace: old.Id, inherit });
    try {
      await this.removeContainer(old, timeout);
      await this.client.containers.rename(id, name);
    } catch (err) {
      // Leave no half-made replacement behind: the old container (if still there) keeps serving.
      await this.client.containers.remove(id, { force: true }).catch(() => {});
      throw err;
    }
    this.event('Container', name, 'Recreated');
    return id;
  }

  /** The volumes `old` has at the image's VOLUME paths (anonymous volumes a recreate keeps). */
  private async inheritedMounts(svc: ServiceConfig, old: ContainerSummary): Promise<Mount[]> {
    const volumes = (old.Mounts ?? []).filter((m) => m.Type === 'volume' && m.Name && m.Destination);
    if (volumes.length === 0) return [];
    let declared: Record<string, unknown>;
    try {
      declared = (await this.client.images.inspect(imageName(this.project, svc.name))).Config?.Volumes ?? {};
    } catch {
      return [];
    }
    return volumes
      .filter((m) => posix.normalize(m.Destination as string) in declared)
      .map((m) => ({
        Type: 'volume',
        Source: m.Name,
        Target: posix.normalize(m.Destination as string),
        ReadOnly: m.RW === false,
      }));
  }

  /**
   * Converges one service's containers to the model: removes extra replicas, recreates those whose
   * config-hash differs (or all with forceRecreate), creates the missing ones — each replica concurrently.
   * `existing` is the service's current containers when the caller listed them already. Returns what
   * to start.
   */
  async convergeService(
    name: string,
    opts: UpOptions = {},
    existing?: ContainerSummary[],
  ): Promise<Target[]> {
    const svc = this.service(name);
    const want = opts.scale?.[name] ?? replicas(svc);
    const hash = serviceHash(svc);
    const current = existing ?? (await this.containers({ services: [name] }));
    const keep = current.slice(0, want);
    const used = new Set(keep.map((c) => numberOf(c) || 1));
    const free: number[] = [];
    for (let n = 1; free.length < want - keep.length; n++) if (!used.has(n)) free.push(n);
    const [, kept, created] = await Promise.all([
      settle(current.slice(want).map((c) => this.removeContainer(c, opts.timeout))),
      settle(
        keep.map(async (c): Promise<Target> => {
          const n = numberOf(c) || 1;
          const stale = c.Labels?.[LABEL.configHash] !== hash;
          if (opts.forceRecreate || (stale && !opts.noRecreate)) {
            const id = await this.recreate(svc, c, n, opts.timeout);
            return { id, name: containerName(this.project, svc, n), running: false, fresh: true };
          }
          if (c.State === 'running') this.event('Container', nameOf(c), 'Running');
          return { id: c.Id as string, name: nameOf(c), running: c.State === 'running' };
        }),
      ),
      settle(
        free.map(
          async (n): Promise<Target> => ({
            id: await this.createContainer(svc, n),
            name: containerName(this.project, svc, n),
            running: false,
            fresh: true,
          }),
        ),
      ),
    ]);
    return [...kept, ...created];
  }

  private async startTargets(targets: Target[]): Promise<void> {
    await settle(
      targets
        .filter((t) => !t.running)
        .map(async (t) => {
          this.event('Container', t.name, 'Starting');
          await this.client.containers.start(t.id);
          this.event('Container', t.name, 'Started');
        }),
    );
  }

  private async restartTargets(targets: Target[], timeout?: number): Promise<void> {
    await settle(
      targets.map(async (t) => {
        this.event('Container', t.name, 'Restarting');
        await this.client.containers.restart(t.id, { t: timeout });
        this.event('Container', t.name, 'Started');
      }),
    );
  }

  /** Waits for the conditions `svc` puts on its dependencies (only those in `inScope`). */
  async waitDependencies(svc: ServiceConfig, inScope: Set<string>): Promise<void> {
    const conds = Object.entries(svc.depends_on ?? {}).filter(
      ([dep, cond]) => inScope.has(dep) && cond.condition !== 'service_started',
    );
    if (conds.length === 0) return;
    const all = await this.containers({ services: conds.map(([dep]) => dep) });
    await settle(
      conds.map(async ([dep, cond]) => {
        const cs = all.filter((c) => serviceOf(c) === dep);
        if (cs.length === 0) {
          if (cond.required)
            throw badRequest(`service ${svc.name} depends on ${dep}, which has no container`);
          return;
        }
        await settle(
          cs.map(async (c) => {
            const cname = nameOf(c);
            this.event('Container', cname, 'Waiting');
            if (cond.condition === 'service_healthy') await this.waitHealthy(c.Id as string, cname);
            else {
              const { StatusCode } = await this.client.containers.wait(c.Id as string);
              if (StatusCode !== 0)
                throw new BerthError(
                  500,
                  `service "${dep}" didn't complete successfully: exit ${StatusCode}`,
                );
            }
            this.event('Container', cname, cond.condition === 'service_healthy' ? 'Healthy' : 'Exited');
          }),
        );
      }),
    );
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

  /**
   * `up`: images, then networks and volumes, then every service converged and started as soon as the
   * services it depends on are (independent services concurrently). The project's containers are listed
   * once.
   */
  async up(opts: UpOptions = {}): Promise<string[]> {
    const order = this.scope(opts.services, opts.noDeps);
    const known = new Set([
      ...Object.keys(this.project.services),
      ...Object.keys(this.project.disabledServices),
    ]);
    const all = await this.containers({ oneoff: 'any' });
    const orphans = all.filter((c) => !known.has(serviceOf(c)));
    const mine = all.filter((c) => known.has(serviceOf(c)) && c.Labels?.[LABEL.oneoff] !== 'True');
    await this.ensureImages(order, opts.build);
    await Promise.all([
      this.ensureNetworks(order),
      this.ensureVolumes(order),
      orphans.length && opts.removeOrphans
        ? settle(orphans.map((c) => this.removeContainer(c, opts.timeout)))
        : undefined,
    ]);
    if (orphans.length && !opts.removeOrphans)
      this.warn(
        `Found orphan containers (${orphans.map(nameOf).join(', ')}) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.`,
      );
    const perService = new Map<string, Target[]>();
    const inScope = new Set(order);
    // Services whose containers this run replaced or restarted: dependents with depends_on.restart follow.
    const changed = new Set<string>();
    await this.graph(order, async (s) => {
      const targets = await this.convergeService(
        s,
        opts,
        mine.filter((c) => serviceOf(c) === s),
      );
      perService.set(s, targets);
      if (targets.some((t) => t.fresh)) changed.add(s);
      if (opts.noStart) return;
      const svc = this.service(s);
      await this.waitDependencies(svc, inScope);
      if (Object.entries(svc.depends_on ?? {}).some(([d, c]) => c.restart && changed.has(d))) {
        await this.restartTargets(targets.filter((t) => t.running));
        changed.add(s);
      }
      await this.startTargets(targets);
    });
    if (opts.noStart || !opts.wait) return order;
    await settle(
      order.flatMap((s) =>
        (perService.get(s) ?? []).map(async ({ id, name }) => {
          const info = await this.client.containers.inspect(id);
          if (info.State?.Health) await this.waitHealthy(id, name);
          else if (!info.State?.Running && info.State?.ExitCode !== 0)
            throw new BerthError(500, `container ${name} exited (${info.State?.ExitCode})`);
        }),
      ),
    );
    return order;
  }

  /** What `service` waits for before it is created or started (depends_on, links, volumes_from…). */
  private dependencies(service: string): string[] {
    const svc = this.project.services[service] ?? this.project.disabledServices[service];
    return svc ? serviceDependencies(svc) : [];
  }

  /**
   * Runs `fn` for every service once all the services it depends on (in `order`) are done, independent
   * services concurrently — as docker compose walks its dependency graph. The first error wins.
   */
  private async graph(order: string[], fn: (service: string) => Promise<void>): Promise<void> {
    const inOrder = new Set(order);
    const done = new Map<string, Promise<void>>();
    for (const s of order) {
      const waits = this.dependencies(s)
        .filter((d) => inOrder.has(d))
        .map((d) => done.get(d));
      done.set(
        s,
        Promise.all(waits).then(() => fn(s)),
      );
    }
    await settle([...done.values()]);
  }

  /**
   * The reverse walk (stop, remove): `fn` runs for a service once every service that depends on it is
   * done; independent services concurrently. Services outside the model (orphans) go at once.
   */
  private async reverseGraph(services: string[], fn: (service: string) => Promise<void>): Promise<void> {
    const inSet = new Set(services);
    const dependents = new Map<string, string[]>();
    for (const s of services)
      for (const d of this.dependencies(s))
        if (inSet.has(d)) dependents.set(d, [...(dependents.get(d) ?? []), s]);
    const done = new Map<string, Promise<void>>();
    const visit = (s: string, stack: string[]): Promise<void> => {
      let p = done.get(s);
      if (p) return p;
      const first = (dependents.get(s) ?? []).filter((d) => !stack.includes(d));
      p = Promise.all(first.map((d) => visit(d, [...stack, s]))).then(() => fn(s));
      done.set(s, p);
      return p;
    };
    await settle(services.map((s) => visit(s, [])));
  }

  /** The project's (non-one-off) containers of `services` (all when empty), grouped by service. */
  private async byService(services?: string[]): Promise<Map<string, ContainerSummary[]>> {
    for (const s of services ?? []) this.service(s);
    const out = new Map<string, ContainerSummary[]>();
    for (const c of await this.containers({ services }))
      out.set(serviceOf(c), [...(out.get(serviceOf(c)) ?? []), c]);
    return out;
  }

  /** `start`: starts existing containers in dependency order (independent services concurrently). */
  async start(services?: string[]): Promise<void> {
    const order = this.scope(services, true);
    const inScope = new Set(order);
    const groups = await this.byService(order);
    await this.graph(order, async (s) => {
      const cs = groups.get(s) ?? [];
      if (cs.length === 0) return;
      await this.waitDependencies(this.service(s), inScope);
      await this.startTargets(
        cs.map((c) => ({ id: c.Id as string, name: nameOf(c), running: c.State === 'running' })),
      );
    });
  }

  /** Runs `fn` on the containers of `services` (filtered), by dependency order or its reverse. */
  private async each(
    services: string[] | undefined,
    reverse: boolean,
    fn: (c: ContainerSummary, name: string) => Promise<void>,
    filter: (c: ContainerSummary) => boolean = () => true,
  ): Promise<void> {
    const groups = await this.byService(services);
    const run = async (s: string) => {
      await settle((groups.get(s) ?? []).filter(filter).map((c) => fn(c, nameOf(c))));
    };
    const names = [...groups.keys()].filter((s) => this.project.services[s]);
    if (reverse) await this.reverseGraph(names, run);
    else await this.graph(this.scope(names, true), run);
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
      isActive,
    );
  }

  /** `restart`: the services, and (transitively) those that depend on them with depends_on.restart. */
  async restart(services?: string[], timeout?: number): Promise<void> {
    const set = new Set(services ?? []);
    for (let grew = set.size > 0; grew; ) {
      grew = false;
      for (const [name, svc] of Object.entries(this.project.services))
        if (
          !set.has(name) &&
          Object.entries(svc.depends_on ?? {}).some(([d, c]) => c.restart === true && set.has(d))
        ) {
          set.add(name);
          grew = true;
        }
    }
    await this.each(set.size ? [...set] : undefined, false, async (c, name) => {
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
      (c) => !isActive(c),
    );
    return removed.sort();
  }

  /**
   * `down`: containers (dependents first, everything else at once; one list call), then the networks and,
   * on request, volumes and images — each kind in parallel.
   */
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
    const groups = new Map<string, ContainerSummary[]>();
    for (const c of targets) groups.set(serviceOf(c), [...(groups.get(serviceOf(c)) ?? []), c]);
    const ownNetworks = Object.entries(this.project.networks).filter(([, cfg]) => !cfg.external);
    // The project's networks are looked up while the containers go (their ids do not change).
    const listing = ownNetworks.length
      ? this.client.networks.list({ filters: projectFilter(this.project.name) })
      : undefined;
    listing?.catch(() => {});
    await this.reverseGraph([...groups.keys()], async (s) => {
      await settle((groups.get(s) ?? []).map((c) => this.removeContainer(c, opts.timeout)));
    });

    if (listing) {
      const nets = await listing;
      await settle(
        ownNetworks.map(async ([key, cfg]) => {
          const name = cfg.name ?? `${this.project.name}_${key}`;
          const n = nets.find((x) => x.Name === name);
          if (!n) return;
          this.event('Network', name, 'Removing');
          await this.client.networks.remove(n.Id ?? name);
          this.event('Network', name, 'Removed');
        }),
      );
    }
    if (opts.volumes)
      await settle(
        Object.entries(this.project.volumes).map(async ([key, cfg]) => {
          if (cfg.external) return;
          const name = cfg.name ?? `${this.project.name}_${key}`;
          try {
            const v = await this.client.volumes.inspect(name);
            if (v.Labels?.[LABEL.project] !== this.project.name) return;
          } catch {
            return;
          }
          this.event('Volume', name, 'Removing');
          await this.client.volumes.remove(name);
          this.event('Volume', name, 'Removed');
        }),
      );
    if (opts.rmi) {
      const refs = new Set<string>();
      for (const svc of Object.values(this.project.services))
        if (opts.rmi === 'all' || !svc.image) refs.add(imageName(this.project, svc.name));
      await settle(
        [...refs].map(async (ref) => {
          try {
            await this.client.images.remove(ref);
            this.event('Image', ref, 'Removed');
          } catch (err) {
            if ((err as { status?: number }).status !== 404)
              this.warn(`image ${ref}: ${(err as Error).message}`);
          }
        }),
      );
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
