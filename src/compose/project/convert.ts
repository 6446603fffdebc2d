// A compose service → the Engine API's container create body, the way docker compose v2 builds it.
import type {
  ContainerCreateRequest,
  EndpointSettings,
  HealthConfig,
  HostConfig,
  Mount,
} from '../../client/index.js';
import { badRequest, tryParseGoDuration } from '../../util/index.js';
import { serviceHash } from '../loader/graph.js';
import { imageName } from '../loader/output.js';
import { shellSplit } from '../loader/shellwords.js';
import type { Project, ServiceConfig, ServiceNetwork } from '../loader/types.js';
import { COMPOSE_VERSION, LABEL } from './labels.js';

/** A Go-style duration ("1m30s", "500ms", "10") → nanoseconds; a bare number is seconds, as compose reads it. */
export function durationNs(value: string | number, where: string): number {
  if (typeof value === 'number') return Math.round(value * 1e9);
  const s = value.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1e9);
  const ns = tryParseGoDuration(s);
  if (ns === undefined) throw badRequest(`${where}: invalid duration ${JSON.stringify(value)}`);
  return ns;
}

/** "512m", "1g", "1024" → bytes (binary units, as docker reads them). */
export function bytes(value: string | number, where: string): number {
  if (typeof value === 'number') return value;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$/i.exec(value.trim());
  if (!m) throw badRequest(`${where}: invalid size ${JSON.stringify(value)}`);
  const pow = ' kmgtp'.indexOf((m[2] || ' ').toLowerCase());
  return Math.round(Number(m[1]) * 1024 ** pow);
}

export function containerName(project: Project, svc: ServiceConfig, n: number): string {
  return svc.container_name ?? `${project.name}-${svc.name}-${n}`;
}

export function replicas(svc: ServiceConfig): number {
  return svc.deploy?.replicas ?? svc.scale ?? 1;
}

/** The networks a service joins, highest priority first (then by name), as [key, config]. */
export function serviceNetworks(svc: ServiceConfig): [string, ServiceNetwork][] {
  if (svc.network_mode !== undefined) return [];
  return Object.entries(svc.networks ?? {})
    .map(([k, v]): [string, ServiceNetwork] => [k, v ?? {}])
    .sort((a, b) => (b[1].priority ?? 0) - (a[1].priority ?? 0) || a[0].localeCompare(b[0]));
}

export function endpointFor(svc: ServiceConfig, net: ServiceNetwork): EndpointSettings {
  const ep: EndpointSettings = { Aliases: [svc.name, ...(net.aliases ?? [])] };
  if (net.ipv4_address || net.ipv6_address)
    ep.IPAMConfig = { IPv4Address: net.ipv4_address, IPv6Address: net.ipv6_address };
  return ep;
}

const str = (v: unknown) => (v === undefined || v === null ? undefined : String(v));

function healthcheck(h: ServiceConfig['healthcheck'], where: string): HealthConfig | undefined {
  if (!h) return undefined;
  if (h.disable) return { Test: ['NONE'] };
  const out: HealthConfig = {};
  if (h.test) out.Test = h.test;
  if (h.interval) out.Interval = durationNs(h.interval, `${where}.interval`);
  if (h.timeout) out.Timeout = durationNs(h.timeout, `${where}.timeout`);
  if (h.start_period) out.StartPeriod = durationNs(h.start_period, `${where}.start_period`);
  if (h.start_interval) out.StartInterval = durationNs(h.start_interval, `${where}.start_interval`);
  if (h.retries !== undefined) out.Retries = h.retries;
  return out;
}

function restartPolicy(v: string | undefined): HostConfig['RestartPolicy'] {
  if (!v || v === 'no') return undefined;
  const [name, count] = v.split(':');
  if (name === 'on-failure') return { Name: 'on-failure', MaximumRetryCount: Number(count ?? 0) };
  if (name === 'always' || name === 'unless-stopped') return { Name: name };
  throw badRequest(`restart: invalid restart policy ${JSON.stringify(v)}`);
}

function splitCommand(v: string | string[] | null | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  if (v === null) return undefined;
  return typeof v === 'string' ? shellSplit(v) : v;
}

export interface CreateContext {
  /** Container number (1-based) within the service. */
  number: number;
  /** The container name to use. */
  name: string;
  oneoff?: boolean;
  /** The id of the container this one replaces (recreate), as docker compose labels it. */
  replace?: string;
  /** The replaced container's volumes for the image's VOLUME paths, kept in the new container. */
  inherit?: Mount[];
  /** Resolves `network_mode: service:x` to a container id. */
  serviceContainer?: (service: string) => string | undefined;
  /** Overrides for `run`: command, extra environment, no ports. */
  command?: string[];
  environment?: Record<string, string>;
  publishPorts?: boolean;
  tty?: boolean;
  interactive?: boolean;
  entrypoint?: string[];
  user?: string;
  workdir?: string;
}

export interface CreatePlan {
  body: ContainerCreateRequest;
  /** Networks to connect after create (the first one is in the create body). */
  extraNetworks: { name: string; endpoint: EndpointSettings }[];
}

/** Labels of one container, as docker compose writes them. */
export function containerLabels(
  project: Project,
  svc: ServiceConfig,
  ctx: CreateContext,
): Record<string, string> {
  const deps = Object.entries(svc.depends_on ?? {})
    .map(([n, d]) => `${n}:${d.condition}:${d.restart === true}`)
    .join(',');
  return {
    ...(svc.labels ?? {}),
    [LABEL.project]: project.name,
    [LABEL.service]: svc.name,
    [LABEL.number]: String(ctx.number),
    [LABEL.oneoff]: ctx.oneoff ? 'True' : 'False',
    [LABEL.configHash]: serviceHash(svc),
    [LABEL.workingDir]: project.workingDir,
    [LABEL.configFiles]: project.composeFiles.join(','),
    [LABEL.version]: COMPOSE_VERSION,
    [LABEL.image]: imageName(project, svc.name),
    [LABEL.dependsOn]: deps,
    ...(ctx.replace ? { [LABEL.replace]: ctx.replace } : {}),
  };
}

/** Builds the create body of one container of `svc`. */
export function createPlan(project: Project, svc: ServiceConfig, ctx: CreateContext): CreatePlan {
  const where = `services.${svc.name}`;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(svc.environment ?? {})) if (v !== null) env[k] = v;
  Object.assign(env, ctx.environment ?? {});

  const exposed: Record<string, Record<string, never>> = {};
  const bindings: NonNullable<HostConfig['PortBindings']> = {};
  for (const e of (svc.expose as string[] | undefined) ?? []) {
    const [p, proto = 'tcp'] = e.split('/');
    exposed[`${p}/${proto}`] = {};
  }
  if (ctx.publishPorts !== false)
    for (const p of svc.ports ?? []) {
      const key = `${p.target}/${p.protocol ?? 'tcp'}`;
      exposed[key] = {};
      const list = (bindings[key] ??= []);
      list.push({ HostIp: p.host_ip ?? '', HostPort: p.published ?? '' });
    }

  const binds: string[] = [];
  const mounts: Mount[] = [];
  for (const v of svc.volumes ?? []) {
    if (v.type === 'bind') {
      if (!v.source) throw badRequest(`${where}.volumes: a bind mount needs a source`);
      const opts = [v.read_only ? 'ro' : 'rw', v.bind?.propagation].filter(Boolean);
      if (v.bind?.create_host_path === false)
        mounts.push({
          Type: 'bind',
          Source: v.source,
          Target: v.target,
          ReadOnly: v.read_only === true,
          BindOptions: v.bind?.propagation
            ? { Propagation: v.bind.propagation as NonNullable<Mount['BindOptions']>['Propagation'] }
            : undefined,
        });
      else binds.push(`${v.source}:${v.target}:${opts.join(',')}`);
    } else if (v.type === 'volume') {
      const m: Mount = { Type: 'volume', Target: v.target, ReadOnly: v.read_only === true };
      if (v.source) m.Source = project.volumes[v.source]?.name ?? v.source;
      if (v.volume?.nocopy) m.VolumeOptions = { NoCopy: true };
      mounts.push(m);
    } else if (v.type === 'tmpfs') {
      const m: Mount = { Type: 'tmpfs', Target: v.target, ReadOnly: v.read_only === true };
      if (v.tmpfs?.size !== undefined || v.tmpfs?.mode !== undefined)
        m.TmpfsOptions = {
          SizeBytes:
            v.tmpfs.size !== undefined ? bytes(v.tmpfs.size, `${where}.volumes.tmpfs.size`) : undefined,
          Mode: typeof v.tmpfs.mode === 'number' ? v.tmpfs.mode : undefined,
        };
      mounts.push(m);
    } else throw badRequest(`${where}.volumes: mount type ${v.type} is not supported`);
  }
  // On recreate the image's anonymous volumes carry over (as docker compose does); explicit config wins.
  const taken = new Set([...mounts.map((m) => m.Target), ...binds.map((b) => b.split(':')[1])]);
  for (const m of ctx.inherit ?? []) if (!taken.has(m.Target)) mounts.push(m);

  // Secrets and configs with a file source: bind-mounted read-only, as compose does without swarm.
  for (const kind of ['secrets', 'configs'] as const)
    for (const ref of svc[kind] ?? []) {
      const def = project[kind][ref.source];
      if (!def) throw badRequest(`${where}.${kind}: undefined ${kind.slice(0, -1)} ${ref.source}`);
      if (def.external)
        throw badRequest(`${where}.${kind}: external ${kind} need swarm mode (${ref.source})`);
      if (!def.file)
        throw badRequest(`${where}.${kind}: only file-based ${kind} are supported (${ref.source})`);
      const target =
        kind === 'secrets'
          ? ref.target?.startsWith('/')
            ? ref.target
            : `/run/secrets/${ref.target ?? ref.source}`
          : (ref.target ?? `/${ref.source}`);
      binds.push(`${def.file}:${target}:ro`);
    }

  const tmpfs: Record<string, string> = {};
  for (const t of (svc.tmpfs as string[] | undefined) ?? []) {
    const i = t.indexOf(':');
    if (i < 0) tmpfs[t] = '';
    else tmpfs[t.slice(0, i)] = t.slice(i + 1);
  }

  const limits = (svc.deploy?.resources as { limits?: Record<string, unknown> } | undefined)?.limits ?? {};
  const mem = limits.memory ?? svc.mem_limit;
  const cpus = limits.cpus ?? svc.cpus;
  const pids = limits.pids ?? svc.pids_limit;

  const ulimits: NonNullable<HostConfig['Ulimits']> = [];
  for (const [name, v] of Object.entries((svc.ulimits as Record<string, unknown> | undefined) ?? {})) {
    if (typeof v === 'number') ulimits.push({ Name: name, Soft: v, Hard: v });
    else if (v && typeof v === 'object') {
      const o = v as { soft?: number; hard?: number };
      ulimits.push({ Name: name, Soft: Number(o.soft), Hard: Number(o.hard) });
    }
  }

  let networkMode = svc.network_mode;
  if (networkMode?.startsWith('service:')) {
    const target = networkMode.slice(8);
    const id = ctx.serviceContainer?.(target);
    if (!id) throw badRequest(`${where}: network_mode service:${target}: no container for service ${target}`);
    networkMode = `container:${id}`;
  }
  const nets = serviceNetworks(svc);
  const endpoints: { name: string; endpoint: EndpointSettings }[] = nets.map(([k, n]) => ({
    name: project.networks[k]?.name ?? k,
    endpoint: endpointFor(svc, n),
  }));
  const first = endpoints[0];
  if (!networkMode) networkMode = first?.name ?? 'none';

  // volumes_from and links name the first container of a service (or a container outright).
  const firstContainer = (service: string, field: string) => {
    const target = project.services[service];
    if (!target) throw badRequest(`${where}.${field}: undefined service ${service}`);
    return containerName(project, target, 1);
  };
  const volumesFrom = ((svc.volumes_from as string[] | undefined) ?? []).map((v) => {
    if (v.startsWith('container:')) return v.slice(10);
    const [service, mode] = v.split(':') as [string, string | undefined];
    return mode
      ? `${firstContainer(service, 'volumes_from')}:${mode}`
      : firstContainer(service, 'volumes_from');
  });
  const links = ((svc.links as string[] | undefined) ?? []).map((l) => {
    const [service, alias] = l.split(':') as [string, string | undefined];
    return `${firstContainer(service, 'links')}:${alias ?? service}`;
  });
  for (const e of endpoints) if (links.length) e.endpoint.Links = links;

  const extraHosts = Object.entries((svc.extra_hosts as Record<string, string> | undefined) ?? {}).map(
    ([h, ip]) => `${h}:${ip}`,
  );
  const stopGrace = svc.stop_grace_period as string | undefined;

  const host: HostConfig = {
    Binds: binds.length ? binds : undefined,
    VolumesFrom: volumesFrom.length ? volumesFrom : undefined,
    Links: links.length ? links : undefined,
    Mounts: mounts.length ? mounts : undefined,
    PortBindings: Object.keys(bindings).length ? bindings : undefined,
    NetworkMode: networkMode,
    RestartPolicy: restartPolicy(svc.restart),
    Init: (svc.init as boolean | undefined) ?? undefined,
    ReadonlyRootfs: (svc.read_only as boolean | undefined) ?? undefined,
    Privileged: (svc.privileged as boolean | undefined) ?? undefined,
    CapAdd: (svc.cap_add as string[] | undefined) ?? undefined,
    CapDrop: (svc.cap_drop as string[] | undefined) ?? undefined,
    Ulimits: ulimits.length ? ulimits : undefined,
    Tmpfs: Object.keys(tmpfs).length ? tmpfs : undefined,
    ExtraHosts: extraHosts.length ? extraHosts : undefined,
    Dns: (svc.dns as string[] | undefined) ?? undefined,
    DnsSearch: (svc.dns_search as string[] | undefined) ?? undefined,
    Memory:
      mem !== undefined
        ? bytes(mem as string | number, `${where}.deploy.resources.limits.memory`)
        : undefined,
    NanoCpus: cpus !== undefined ? Math.round(Number(cpus) * 1e9) : undefined,
    PidsLimit: pids !== undefined ? Number(pids) : undefined,
    Sysctls: (svc.sysctls as Record<string, string> | undefined) ?? undefined,
  };
  const body: ContainerCreateRequest = {
    Image: imageName(project, svc.name),
    Cmd: ctx.command ?? splitCommand(svc.command),
    Entrypoint: ctx.entrypoint ?? splitCommand(svc.entrypoint),
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    ExposedPorts: Object.keys(exposed).length ? exposed : undefined,
    Labels: containerLabels(project, svc, ctx),
    User: ctx.user ?? str(svc.user),
    WorkingDir: ctx.workdir ?? str(svc.working_dir),
    Hostname: str(svc.hostname),
    Domainname: str(svc.domainname),
    Healthcheck: healthcheck(svc.healthcheck, `${where}.healthcheck`),
    StopSignal: str(svc.stop_signal),
    StopTimeout:
      stopGrace !== undefined
        ? Math.round(durationNs(stopGrace, `${where}.stop_grace_period`) / 1e9)
        : undefined,
    Tty: ctx.tty ?? (svc.tty as boolean | undefined) ?? false,
    OpenStdin: ctx.interactive ?? (svc.stdin_open as boolean | undefined) ?? false,
    AttachStdin: ctx.interactive ?? false,
    StdinOnce: ctx.interactive ?? false,
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: host,
    NetworkingConfig:
      first && !svc.network_mode ? { EndpointsConfig: { [first.name]: first.endpoint } } : undefined,
  };
  return { body, extraNetworks: svc.network_mode ? [] : endpoints.slice(1) };
}
