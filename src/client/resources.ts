// Typed calls for the endpoints the berth CLI and compose use, grouped by resource like the docker CLI.
import type { Readable } from 'node:stream';
import { type EngineTransport, encodeFilters, type HijackedStream, type Query } from './engine.js';
import type {
  AuthConfig,
  BuildPruneResponse,
  ContainerCreateRequest,
  ContainerCreateResponse,
  ContainerInspectResponse,
  ContainerPruneResponse,
  ContainerSummary,
  ContainerTopResponse,
  ContainerUpdateResponse,
  ContainerWaitResponse,
  CreateImageInfo,
  DistributionInspect,
  EventMessage,
  ExecConfig,
  ExecInspectResponse,
  FilesystemChange,
  IdResponse,
  ImageDeleteResponseItem,
  ImageHistoryResponseItem,
  ImageInspect,
  ImagePruneResponse,
  ImageSummary,
  Network,
  NetworkConnectRequest,
  NetworkCreateRequest,
  NetworkCreateResponse,
  NetworkDisconnectRequest,
  NetworkPruneResponse,
  PushImageInfo,
  Resources,
  RestartPolicy,
  SystemAuthResponse,
  SystemDataUsageResponse,
  SystemInfo,
  SystemVersion,
  Volume,
  VolumeCreateOptions,
  VolumeListResponse,
  VolumePruneResponse,
} from './types.js';

export type Filters = Record<string, string | string[]>;

/** One progress/status object from pull, push, load, import or build. */
export type ProgressMessage = CreateImageInfo &
  PushImageInfo & { stream?: string; aux?: Record<string, unknown>; errorDetail?: { message?: string } };

/** A sample from GET /containers/{id}/stats (the parts docker stats shows). */
export interface ContainerStats {
  read: string;
  preread?: string;
  name?: string;
  id?: string;
  pids_stats?: { current?: number; limit?: number };
  cpu_stats: {
    cpu_usage: {
      total_usage: number;
      percpu_usage?: number[];
      usage_in_kernelmode?: number;
      usage_in_usermode?: number;
    };
    system_cpu_usage?: number;
    online_cpus?: number;
  };
  precpu_stats: ContainerStats['cpu_stats'];
  memory_stats: { usage?: number; limit?: number; max_usage?: number; stats?: Record<string, number> };
  blkio_stats?: {
    io_service_bytes_recursive?: { major: number; minor: number; op: string; value: number }[] | null;
  };
  networks?: Record<string, { rx_bytes: number; tx_bytes: number; rx_packets?: number; tx_packets?: number }>;
}

/** Stat of a path inside a container, from the X-Docker-Container-Path-Stat header. */
export interface PathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

/** Go's base64.URLEncoding: URL-safe alphabet *with* padding (dockerd's decoder insists on it). */
export function base64UrlPadded(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

/** X-Registry-Auth: the JSON auth config as the docker CLI encodes it. */
export function registryAuthHeader(auth: AuthConfig | undefined): Record<string, string> {
  if (!auth) return {};
  return { 'X-Registry-Auth': base64UrlPadded(auth) };
}

function decodePathStat(header: string | string[] | undefined): PathStat | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  if (!v) return undefined;
  return JSON.parse(Buffer.from(v, 'base64').toString('utf8')) as PathStat;
}

const enc = encodeURIComponent;
/** Image names keep their slashes in the path (the daemon's routes take them greedily). */
const encName = (name: string) => name.split('/').map(enc).join('/');

export interface LogsOptions {
  follow?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  since?: string | number;
  until?: string | number;
  timestamps?: boolean;
  tail?: string | number;
}

export interface AttachOptions {
  stream?: boolean;
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  logs?: boolean;
  detachKeys?: string;
}

export class Containers {
  constructor(private readonly t: EngineTransport) {}

  list(
    opts: { all?: boolean; limit?: number; size?: boolean; filters?: Filters } = {},
  ): Promise<ContainerSummary[]> {
    const query: Query = {
      all: opts.all,
      limit: opts.limit,
      size: opts.size,
      filters: encodeFilters(opts.filters),
    };
    return this.t.json('GET', '/containers/json', { query });
  }
  create(
    body: ContainerCreateRequest,
    opts: { name?: string; platform?: string } = {},
  ): Promise<ContainerCreateResponse> {
    return this.t.json('POST', '/containers/create', {
      query: { name: opts.name, platform: opts.platform },
      body,
    });
  }
  inspect(id: string, opts: { size?: boolean } = {}): Promise<ContainerInspectResponse> {
    return this.t.json('GET', `/containers/${enc(id)}/json`, { query: { size: opts.size } });
  }
  start(id: string, opts: { detachKeys?: string } = {}): Promise<void> {
    return this.t.send('POST', `/containers/${enc(id)}/start`, { query: { detachKeys: opts.detachKeys } });
  }
  stop(id: string, opts: { t?: number; signal?: string } = {}): Promise<void> {
    return this.t.send('POST', `/containers/${enc(id)}/stop`, { query: { t: opts.t, signal: opts.signal } });
  }
  restart(id: string, opts: { t?: number; signal?: string } = {}): Promise<void> {
    return this.t.send('POST', `/containers/${enc(id)}/restart`, {
      query: { t: opts.t, signal: opts.signal },
    });
  }
  kill(id: string, opts: { signal?: string } = {}): Promise<void> {
    return this.t.send('POST', `/containers/${enc(id)}/kill`, { query: { signal: opts.signal } });
  }
  pause(id: string): Promise<void> {
    return this.t.send('POST', `/containers/${enc(id)}/pause`);
  }
  unpause(id: string): Promise<void> {
    return this.t.send('POST', `/containers/${enc(id)}/unpause`);
  }
  /** Waits for the condition (default not-running) and returns the exit code. */
  wait(id: string, opts: { condition?: 'not-running' | 'next-exit' | 'removed'; signal?: AbortSignal } = {}) {
    return this.t.json<ContainerWaitResponse>('POST', `/containers/${enc(id)}/wait`, {
      query: { condition: opts.condition },
      signal: opts.signal,
    });
  }
  remove(id: string, opts: { force?: boolean; volumes?: boolean; link?: boolean } = {}): Promise<void> {
    const query = { force: opts.force, v: opts.volumes, link: opts.link };
    return this.t.send('DELETE', `/containers/${enc(id)}`, { query });
  }
  rename(id: string, name: string): Promise<void> {
    return this.t.send('POST', `/containers/${enc(id)}/rename`, { query: { name } });
  }
  update(id: string, body: Resources & { RestartPolicy?: RestartPolicy }): Promise<ContainerUpdateResponse> {
    return this.t.json('POST', `/containers/${enc(id)}/update`, { body });
  }
  /** The raw log stream: multiplexed (use demux) unless the container has a TTY. */
  async logs(id: string, opts: LogsOptions = {}, signal?: AbortSignal): Promise<Readable> {
    const query: Query = { ...opts };
    const res = await this.t.request('GET', `/containers/${enc(id)}/logs`, { query, signal });
    return res.stream;
  }
  top(id: string, opts: { psArgs?: string } = {}): Promise<ContainerTopResponse> {
    return this.t.json('GET', `/containers/${enc(id)}/top`, { query: { ps_args: opts.psArgs } });
  }
  /** One stats sample (stream=false). */
  stats(id: string, opts: { oneShot?: boolean } = {}): Promise<ContainerStats> {
    return this.t.json('GET', `/containers/${enc(id)}/stats`, {
      query: { stream: false, 'one-shot': opts.oneShot },
    });
  }
  /** Stats samples every second until the signal aborts or the container goes away. */
  statsStream(id: string, signal?: AbortSignal): AsyncGenerator<ContainerStats> {
    return this.t.jsonStream('GET', `/containers/${enc(id)}/stats`, { query: { stream: true }, signal });
  }
  async changes(id: string): Promise<FilesystemChange[]> {
    return (await this.t.json<FilesystemChange[] | null>('GET', `/containers/${enc(id)}/changes`)) ?? [];
  }
  /** The container's filesystem as a tar stream. */
  async export(id: string): Promise<Readable> {
    return (await this.t.request('GET', `/containers/${enc(id)}/export`)).stream;
  }
  /** A tar of `path` in the container, and its stat. */
  async getArchive(id: string, path: string): Promise<{ stream: Readable; stat?: PathStat }> {
    const res = await this.t.request('GET', `/containers/${enc(id)}/archive`, { query: { path } });
    return { stream: res.stream, stat: decodePathStat(res.headers['x-docker-container-path-stat']) };
  }
  /** HEAD on the archive endpoint: the stat of a path without its content. */
  async statPath(id: string, path: string): Promise<PathStat | undefined> {
    const res = await this.t.request('HEAD', `/containers/${enc(id)}/archive`, { query: { path } });
    res.stream.resume();
    return decodePathStat(res.headers['x-docker-container-path-stat']);
  }
  /** Extracts a tar stream into directory `path` of the container. */
  putArchive(
    id: string,
    path: string,
    tar: Readable | Buffer,
    opts: { noOverwriteDirNonDir?: boolean; copyUIDGID?: boolean } = {},
  ): Promise<void> {
    const query: Query = {
      path,
      noOverwriteDirNonDir: opts.noOverwriteDirNonDir,
      copyUIDGID: opts.copyUIDGID,
    };
    return this.t.send('PUT', `/containers/${enc(id)}/archive`, {
      query,
      body: tar,
      headers: { 'Content-Type': 'application/x-tar' },
    });
  }
  resize(id: string, size: { h: number; w: number }): Promise<void> {
    return this.t.send('POST', `/containers/${enc(id)}/resize`, { query: size });
  }
  /** Attaches to the container's stdio; multiplexed unless it has a TTY (see `contentType`). */
  attach(id: string, opts: AttachOptions = {}): Promise<HijackedStream> {
    const { detachKeys, ...rest } = opts;
    return this.t.hijack(`/containers/${enc(id)}/attach`, { query: { ...rest, detachKeys } });
  }
  prune(opts: { filters?: Filters } = {}): Promise<ContainerPruneResponse> {
    return this.t.json('POST', '/containers/prune', { query: { filters: encodeFilters(opts.filters) } });
  }
}

export class Exec {
  constructor(private readonly t: EngineTransport) {}

  create(containerId: string, config: ExecConfig): Promise<IdResponse> {
    return this.t.json('POST', `/containers/${enc(containerId)}/exec`, { body: config });
  }
  /** Starts attached: the hijacked stream (multiplexed unless Tty). */
  start(
    execId: string,
    opts: { Tty?: boolean; ConsoleSize?: [number, number] } = {},
  ): Promise<HijackedStream> {
    return this.t.hijack(`/exec/${enc(execId)}/start`, { body: { Detach: false, ...opts } });
  }
  startDetached(execId: string, opts: { Tty?: boolean } = {}): Promise<void> {
    return this.t.send('POST', `/exec/${enc(execId)}/start`, { body: { Detach: true, ...opts } });
  }
  inspect(execId: string): Promise<ExecInspectResponse> {
    return this.t.json('GET', `/exec/${enc(execId)}/json`);
  }
  resize(execId: string, size: { h: number; w: number }): Promise<void> {
    return this.t.send('POST', `/exec/${enc(execId)}/resize`, { query: size });
  }
}

export class Images {
  constructor(private readonly t: EngineTransport) {}

  list(opts: { all?: boolean; digests?: boolean; filters?: Filters } = {}): Promise<ImageSummary[]> {
    const query: Query = { all: opts.all, digests: opts.digests, filters: encodeFilters(opts.filters) };
    return this.t.json('GET', '/images/json', { query });
  }
  inspect(name: string): Promise<ImageInspect> {
    return this.t.json('GET', `/images/${encName(name)}/json`);
  }
  history(name: string): Promise<ImageHistoryResponseItem[]> {
    return this.t.json('GET', `/images/${encName(name)}/history`);
  }
  tag(name: string, repo: string, tag?: string): Promise<void> {
    return this.t.send('POST', `/images/${encName(name)}/tag`, { query: { repo, tag } });
  }
  remove(
    name: string,
    opts: { force?: boolean; noprune?: boolean } = {},
  ): Promise<ImageDeleteResponseItem[]> {
    return this.t.json('DELETE', `/images/${encName(name)}`, { query: opts });
  }
  prune(opts: { filters?: Filters } = {}): Promise<ImagePruneResponse> {
    return this.t.json('POST', '/images/prune', { query: { filters: encodeFilters(opts.filters) } });
  }
  /** `docker save` of one image: a tar stream. */
  async get(name: string): Promise<Readable> {
    return (await this.t.request('GET', `/images/${encName(name)}/get`)).stream;
  }
  /** `docker save` of several images into one tar stream. */
  async save(names: string[]): Promise<Readable> {
    return (await this.t.request('GET', '/images/get', { query: { names } })).stream;
  }
  /** `docker load`: progress messages while the tar is read. */
  load(tar: Readable | Buffer, opts: { quiet?: boolean } = {}): AsyncGenerator<ProgressMessage> {
    return this.t.jsonStream('POST', '/images/load', {
      query: { quiet: opts.quiet },
      body: tar,
      headers: { 'Content-Type': 'application/x-tar' },
    });
  }
  /** `docker pull`. */
  pull(
    image: string,
    opts: { tag?: string; platform?: string; auth?: AuthConfig } = {},
  ): AsyncGenerator<ProgressMessage> {
    return this.t.jsonStream('POST', '/images/create', {
      query: { fromImage: image, tag: opts.tag, platform: opts.platform },
      headers: registryAuthHeader(opts.auth),
    });
  }
  /** `docker import`: a rootfs tar (stream) or a URL becomes an image. */
  import(
    source: Readable | Buffer | string,
    opts: { repo?: string; tag?: string; message?: string; changes?: string[]; platform?: string } = {},
  ): AsyncGenerator<ProgressMessage> {
    const fromSrc = typeof source === 'string' ? source : '-';
    return this.t.jsonStream('POST', '/images/create', {
      query: {
        fromSrc,
        repo: opts.repo,
        tag: opts.tag,
        message: opts.message,
        changes: opts.changes,
        platform: opts.platform,
      },
      body: typeof source === 'string' ? undefined : source,
      headers: typeof source === 'string' ? {} : { 'Content-Type': 'application/x-tar' },
    });
  }
  /** `docker push` (the auth header is required by Docker even when empty). */
  push(name: string, opts: { tag?: string; auth?: AuthConfig } = {}): AsyncGenerator<ProgressMessage> {
    return this.t.jsonStream('POST', `/images/${encName(name)}/push`, {
      query: { tag: opts.tag },
      headers: registryAuthHeader(opts.auth ?? {}),
    });
  }
  /** POST /build with a context tar; progress and `aux` ({ID}) messages. */
  build(
    context: Readable | Buffer,
    query: Query = {},
    auth?: Record<string, AuthConfig>,
  ): AsyncGenerator<ProgressMessage> {
    const headers: Record<string, string> = { 'Content-Type': 'application/x-tar' };
    if (auth) headers['X-Registry-Config'] = base64UrlPadded(auth);
    return this.t.jsonStream('POST', '/build', { query, body: context, headers });
  }
  buildPrune(opts: { all?: boolean; filters?: Filters } = {}): Promise<BuildPruneResponse> {
    return this.t.json('POST', '/build/prune', {
      query: { all: opts.all, filters: encodeFilters(opts.filters) },
    });
  }
  distribution(name: string, auth?: AuthConfig): Promise<DistributionInspect> {
    return this.t.json('GET', `/distribution/${encName(name)}/json`, { headers: registryAuthHeader(auth) });
  }
}

export class Networks {
  constructor(private readonly t: EngineTransport) {}

  list(opts: { filters?: Filters } = {}): Promise<Network[]> {
    return this.t.json('GET', '/networks', { query: { filters: encodeFilters(opts.filters) } });
  }
  inspect(id: string, opts: { verbose?: boolean; scope?: string } = {}): Promise<Network> {
    return this.t.json('GET', `/networks/${enc(id)}`, { query: opts });
  }
  create(body: NetworkCreateRequest): Promise<NetworkCreateResponse> {
    return this.t.json('POST', '/networks/create', { body });
  }
  remove(id: string): Promise<void> {
    return this.t.send('DELETE', `/networks/${enc(id)}`);
  }
  connect(id: string, body: NetworkConnectRequest): Promise<void> {
    return this.t.send('POST', `/networks/${enc(id)}/connect`, { body });
  }
  disconnect(id: string, body: NetworkDisconnectRequest): Promise<void> {
    return this.t.send('POST', `/networks/${enc(id)}/disconnect`, { body });
  }
  prune(opts: { filters?: Filters } = {}): Promise<NetworkPruneResponse> {
    return this.t.json('POST', '/networks/prune', { query: { filters: encodeFilters(opts.filters) } });
  }
}

export class Volumes {
  constructor(private readonly t: EngineTransport) {}

  list(opts: { filters?: Filters } = {}): Promise<VolumeListResponse> {
    return this.t.json('GET', '/volumes', { query: { filters: encodeFilters(opts.filters) } });
  }
  inspect(name: string): Promise<Volume> {
    return this.t.json('GET', `/volumes/${enc(name)}`);
  }
  create(body: VolumeCreateOptions = {}): Promise<Volume> {
    return this.t.json('POST', '/volumes/create', { body });
  }
  remove(name: string, opts: { force?: boolean } = {}): Promise<void> {
    return this.t.send('DELETE', `/volumes/${enc(name)}`, { query: opts });
  }
  prune(opts: { filters?: Filters; all?: boolean } = {}): Promise<VolumePruneResponse> {
    const filters = { ...opts.filters, ...(opts.all ? { all: 'true' } : {}) };
    return this.t.json('POST', '/volumes/prune', { query: { filters: encodeFilters(filters) } });
  }
}

export class System {
  constructor(private readonly t: EngineTransport) {}

  info(): Promise<SystemInfo> {
    return this.t.json('GET', '/info');
  }
  version(): Promise<SystemVersion> {
    return this.t.json('GET', '/version');
  }
  df(): Promise<SystemDataUsageResponse> {
    return this.t.json('GET', '/system/df');
  }
  events(opts: { since?: string; until?: string; filters?: Filters; signal?: AbortSignal } = {}) {
    const query: Query = { since: opts.since, until: opts.until, filters: encodeFilters(opts.filters) };
    return this.t.jsonStream<EventMessage>('GET', '/events', { query, signal: opts.signal });
  }
  auth(config: AuthConfig): Promise<SystemAuthResponse> {
    return this.t.json('POST', '/auth', { body: config });
  }
}
