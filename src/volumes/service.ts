// The local volume driver and its store: `volumes/<name>/_data` + `volumes/<name>/meta.json`, created by
// renaming a fully written temp directory into place, and the per-container reference files
// (`volumes/.refs/<containerId>.json`) that say which containers use which volumes.
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BerthError,
  badRequest,
  conflict,
  internal,
  labelMatches,
  notFound,
  randomId,
  runChecked,
  TEMP_PREFIX,
  tempPathFor,
  writeJsonAtomic,
} from '../util/index.js';
import { isMountPoint, treeSize, unmountAll } from './fsutil.js';
import {
  deactivateMounts,
  type ResolvedMounts,
  type ResolveMountsRequest,
  releaseMounts,
  resolveMounts,
} from './resolve.js';

/** Label Docker ≥ 23 puts on anonymous volumes; `volume prune` without `all` removes only these. */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const VALID_OPTS = new Set(['type', 'device', 'o', 'size']);
const REQUIRED_OPTS: Record<string, string[]> = { device: ['type'], type: ['device'], o: ['device'] };

/** Docker's `Volume` object (volume inspect / list / create responses). */
export interface Volume {
  Name: string;
  Driver: string;
  Mountpoint: string;
  CreatedAt: string;
  Status?: Record<string, unknown>;
  Labels: Record<string, string> | null;
  Scope: 'local';
  Options: Record<string, string> | null;
  UsageData?: { Size: number; RefCount: number };
}

/** Docker's `VolumeListResponse`. */
export interface VolumeListResponse {
  Volumes: Volume[];
  Warnings: string[];
}

export interface VolumeCreateOptions {
  Name?: string;
  Driver?: string;
  DriverOpts?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

/** Filters as the Engine API sends them: `{"label": ["a=b"]}` or the legacy `{"label": {"a=b": true}}`. */
export type Filters = Record<string, string[] | Record<string, boolean>>;

interface VolumeMeta {
  Name: string;
  Driver: string;
  CreatedAt: string;
  /** null when the request had none (Docker echoes null then, {} for an empty object). */
  Labels: Record<string, string> | null;
  Options: Record<string, string> | null;
}

/** What one container references; `active` while it runs (option volumes stay mounted while any is). */
export interface ContainerRefs {
  containerId: string;
  /** Every volume this container mounts. */
  volumes: string[];
  /** destination → name of the anonymous volumes created for this container (reused on restart). */
  anonymous: Record<string, string>;
  active: boolean;
}

export interface VolumeServiceOptions {
  /** Extra usage known to the caller (container IDs using a volume), merged with our own references. */
  usedBy?: (name: string) => string[];
}

const CONTAINER_ID_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Serialises store mutations inside this process (the daemon is the data root's only writer). */
class Mutex {
  private tail: Promise<void> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

function normalizeFilters(filters: Filters | undefined, allowed: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [key, raw] of Object.entries(filters ?? {})) {
    if (!allowed.includes(key)) throw badRequest(`invalid filter '${key}'`);
    const values = Array.isArray(raw) ? raw : Object.keys(raw).filter((k) => raw[k]);
    out.set(key, values.map(String));
  }
  return out;
}

function boolFilter(key: string, values: string[] | undefined): boolean | undefined {
  if (!values || values.length === 0) return undefined;
  const v = values[values.length - 1]!.toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw badRequest(`invalid filter '${key}=${values[values.length - 1]}'`);
}

function labelsMatch(labels: Record<string, string>, wanted: string[]): boolean {
  return wanted.every((w) => labelMatches(labels, w));
}

function nameMatches(name: string, pattern: string): boolean {
  if (name === pattern) return true;
  try {
    return new RegExp(pattern).test(name);
  } catch {
    return false;
  }
}

function nowRfc3339(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

export class VolumeService {
  readonly root: string;
  private readonly refsDir: string;
  private readonly metas = new Map<string, VolumeMeta>();
  private readonly refs = new Map<string, ContainerRefs>();
  private readonly lock = new Mutex();
  private readonly externalUsedBy: ((name: string) => string[]) | undefined;
  private readonly warnings: string[] = [];

  constructor(dataRoot: string, options: VolumeServiceOptions = {}) {
    this.root = join(dataRoot, 'volumes');
    this.refsDir = join(this.root, '.refs');
    this.externalUsedBy = options.usedBy;
  }

  /** Loads volumes and references from disk and removes leftovers of interrupted creates/removes. */
  async init(): Promise<void> {
    await mkdir(this.refsDir, { recursive: true, mode: 0o700 });
    this.metas.clear();
    this.refs.clear();
    for (const name of await readdir(this.root)) {
      const dir = join(this.root, name);
      if (name.startsWith(TEMP_PREFIX)) {
        // A create that never got renamed into place, or a remove that did not finish.
        await unmountAll(join(dir, '_data')).catch(() => undefined);
        if (!(await isMountPoint(join(dir, '_data')))) await rm(dir, { recursive: true, force: true });
        continue;
      }
      if (name.startsWith('.')) continue;
      try {
        const meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')) as VolumeMeta;
        if (meta.Name !== name) throw new Error(`meta.json names ${meta.Name}`);
        this.metas.set(name, meta);
      } catch (err) {
        this.warnings.push(`volume ${name}: unreadable metadata (${(err as Error).message}); skipped`);
      }
    }
    for (const file of await readdir(this.refsDir)) {
      const path = join(this.refsDir, file);
      if (file.startsWith(TEMP_PREFIX)) {
        await rm(path, { force: true });
        continue;
      }
      try {
        const r = JSON.parse(await readFile(path, 'utf8')) as ContainerRefs;
        this.refs.set(r.containerId, r);
      } catch (err) {
        this.warnings.push(`volume references ${file}: unreadable (${(err as Error).message}); skipped`);
      }
    }
  }

  /** Host path of a volume's data directory. */
  mountpoint(name: string): string {
    return join(this.root, name, '_data');
  }

  /** Container IDs using a volume: our references plus the caller's `usedBy`, sorted, unique. */
  usedBy(name: string): string[] {
    const ids = new Set<string>();
    for (const r of this.refs.values()) if (r.volumes.includes(name)) ids.add(r.containerId);
    for (const id of this.externalUsedBy?.(name) ?? []) ids.add(id);
    return [...ids].sort();
  }

  /** The references recorded for a container (undefined when it has none). */
  containerRefs(containerId: string): ContainerRefs | undefined {
    return this.refs.get(containerId);
  }

  has(name: string): boolean {
    return this.metas.has(name);
  }

  /** Creates a volume, or returns the existing one of that name (as Docker does, options are not compared). */
  create(opts: VolumeCreateOptions = {}): Promise<Volume> {
    return this.lock.run(async () => this.toVolume(await this.createLocked(opts, false)));
  }

  /** @internal Creates without taking the lock; `anonymous` adds Docker's anonymous label. */
  async createLocked(opts: VolumeCreateOptions, anonymous: boolean): Promise<VolumeMeta> {
    const name = opts.Name || randomId();
    const driver = opts.Driver || 'local';
    if (driver !== 'local')
      throw notFound(
        `create ${name}: error looking up volume plugin ${driver}: plugin "${driver}" not found`,
      );
    const existing = this.metas.get(name);
    if (existing) return existing;
    if (name.length === 1)
      throw badRequest(
        `create ${name}: volume name is too short, names should be at least two alphanumeric characters`,
      );
    if (!NAME_RE.test(name))
      throw badRequest(
        `create ${name}: ${JSON.stringify(name)} includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
      );
    const options = opts.DriverOpts ? { ...opts.DriverOpts } : null;
    this.validateOptions(name, options ?? {});
    let labels = opts.Labels ? { ...opts.Labels } : null;
    if (anonymous) labels = { ...(labels ?? {}), [ANONYMOUS_LABEL]: '' };
    const meta: VolumeMeta = {
      Name: name,
      Driver: 'local',
      CreatedAt: nowRfc3339(),
      Labels: labels,
      Options: options,
    };
    // Build the whole volume under a temp name, then rename it into place: never a half-made volume.
    const tmp = tempPathFor(join(this.root, name));
    try {
      await mkdir(join(tmp, '_data'), { recursive: true, mode: 0o755 });
      await writeJsonAtomic(join(tmp, 'meta.json'), meta);
      await rename(tmp, join(this.root, name));
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw internal(`create ${name}: ${(err as Error).message}`, err);
    }
    this.metas.set(name, meta);
    return meta;
  }

  private validateOptions(name: string, opts: Record<string, string>): void {
    for (const k of Object.keys(opts))
      if (!VALID_OPTS.has(k)) throw badRequest(`create ${name}: invalid option: ${JSON.stringify(k)}`);
    if ('size' in opts) throw badRequest(`create ${name}: quota size requested but no quota support`);
    for (const [k, reqs] of Object.entries(REQUIRED_OPTS))
      if (k in opts)
        for (const r of reqs)
          if (!(r in opts)) throw badRequest(`create ${name}: missing required option: ${JSON.stringify(r)}`);
    const isBind = (opts.o ?? '').split(',').some((o) => o === 'bind' || o === 'rbind');
    if (isBind) {
      const device = opts.device ?? '';
      if (!device.startsWith('/'))
        throw badRequest(`create ${name}: bind device must be an absolute host path: ${device}`);
      if (!existsSync(device)) throw badRequest(`create ${name}: bind source path does not exist: ${device}`);
    }
  }

  private getMeta(name: string): VolumeMeta {
    const meta = this.metas.get(name);
    if (!meta) throw notFound(`get ${name}: no such volume`);
    return meta;
  }

  private toVolume(meta: VolumeMeta): Volume {
    return {
      CreatedAt: meta.CreatedAt,
      Driver: meta.Driver,
      Labels: meta.Labels ? { ...meta.Labels } : null,
      Mountpoint: this.mountpoint(meta.Name),
      Name: meta.Name,
      Options: meta.Options ? { ...meta.Options } : null,
      Scope: 'local',
    };
  }

  /** Docker's volume inspect; `withUsage` adds UsageData (size walk) as `system df -v` shows. */
  async inspect(name: string, withUsage = false): Promise<Volume> {
    const v = this.toVolume(this.getMeta(name));
    if (withUsage) v.UsageData = await this.usage(name);
    return v;
  }

  private async usage(name: string): Promise<{ Size: number; RefCount: number }> {
    return { Size: await treeSize(this.mountpoint(name)), RefCount: this.usedBy(name).length };
  }

  /** GET /volumes: filters name (regexp/substring), label (key or key=value), dangling, driver. */
  async list(filters?: Filters): Promise<VolumeListResponse> {
    const f = normalizeFilters(filters, ['name', 'label', 'dangling', 'driver']);
    const dangling = boolFilter('dangling', f.get('dangling'));
    const out: Volume[] = [];
    for (const meta of [...this.metas.values()].sort((a, b) => a.Name.localeCompare(b.Name))) {
      const names = f.get('name');
      if (names && names.length > 0 && !names.some((n) => nameMatches(meta.Name, n))) continue;
      const drivers = f.get('driver');
      if (drivers && drivers.length > 0 && !drivers.includes(meta.Driver)) continue;
      if (!labelsMatch(meta.Labels ?? {}, f.get('label') ?? [])) continue;
      if (dangling !== undefined && (this.usedBy(meta.Name).length === 0) !== dangling) continue;
      out.push(this.toVolume(meta));
    }
    return { Volumes: out, Warnings: [...this.warnings] };
  }

  /** Every volume with UsageData, for `system df`. */
  async df(): Promise<Volume[]> {
    const out: Volume[] = [];
    for (const name of [...this.metas.keys()].sort()) out.push(await this.inspect(name, true));
    return out;
  }

  /** DELETE /volumes/{name}: 409 while a container uses it; `force` ignores a missing volume. */
  remove(name: string, opts: { force?: boolean } = {}): Promise<void> {
    return this.lock.run(async () => {
      if (!this.metas.has(name)) {
        if (opts.force) return;
        throw notFound(`get ${name}: no such volume`);
      }
      await this.removeLocked(name);
    });
  }

  private async removeLocked(name: string, ignoring?: string): Promise<void> {
    const users = this.usedBy(name).filter((id) => id !== ignoring);
    if (users.length > 0) throw conflict(`remove ${name}: volume is in use - [${users.join(', ')}]`);
    const dir = join(this.root, name);
    // Never delete through a mount (a bind-type volume would take the host's files with it).
    try {
      await unmountAll(this.mountpoint(name));
    } catch (err) {
      throw internal(`remove ${name}: ${(err as Error).message}`, err);
    }
    const tmp = tempPathFor(dir);
    await rename(dir, tmp);
    this.metas.delete(name);
    await rm(tmp, { recursive: true, force: true });
  }

  /**
   * POST /volumes/prune: unused volumes; only anonymous ones unless filter `all=true` (Docker ≥ 23).
   * Filters: label, label!, all.
   */
  prune(filters?: Filters): Promise<{ VolumesDeleted: string[]; SpaceReclaimed: number }> {
    return this.lock.run(async () => {
      const f = normalizeFilters(filters, ['label', 'label!', 'all']);
      const all = boolFilter('all', f.get('all')) ?? false;
      const deleted: string[] = [];
      let reclaimed = 0;
      for (const meta of [...this.metas.values()]) {
        if (!all && !(ANONYMOUS_LABEL in (meta.Labels ?? {}))) continue;
        if (!labelsMatch(meta.Labels ?? {}, f.get('label') ?? [])) continue;
        const not = f.get('label!') ?? [];
        if (not.length > 0 && not.some((l) => labelsMatch(meta.Labels ?? {}, [l]))) continue;
        if (this.usedBy(meta.Name).length > 0) continue;
        const size = await treeSize(this.mountpoint(meta.Name));
        try {
          await this.removeLocked(meta.Name);
        } catch (err) {
          if (err instanceof BerthError && err.status === 409) continue;
          throw err;
        }
        deleted.push(meta.Name);
        reclaimed += size;
      }
      return { VolumesDeleted: deleted, SpaceReclaimed: reclaimed };
    });
  }

  // ---- container mounts ----

  /** Resolves a container's mounts (call at create and at every start; see resolve.ts). */
  resolveMounts(req: ResolveMountsRequest): Promise<ResolvedMounts> {
    return resolveMounts(this, req);
  }

  /** The container stopped: unmount option volumes nobody running uses. References stay (in use). */
  deactivate(containerId: string): Promise<void> {
    return deactivateMounts(this, containerId);
  }

  /** The container is removed: drop its references; `removeAnonymous` (rm -v) removes its anonymous volumes. */
  releaseMounts(
    containerId: string,
    opts: { removeAnonymous?: boolean } = {},
  ): Promise<{ removed: string[]; kept: string[] }> {
    return releaseMounts(this, containerId, opts);
  }

  /**
   * Daemon start-up, after containers are loaded: drops references of containers that no longer exist and
   * marks the rest active or not by whether they run (unmounting option volumes nobody runs with).
   * Returns the IDs whose references were dropped.
   */
  reconcile(containers: Iterable<{ id: string; running: boolean }>): Promise<string[]> {
    return this.lock.run(async () => {
      const known = new Map<string, boolean>();
      for (const c of containers) known.set(c.id, c.running);
      const dropped: string[] = [];
      const touched = new Set<string>();
      for (const refs of [...this.refs.values()]) {
        const running = known.get(refs.containerId);
        if (running === undefined) {
          await this.setRefs(refs.containerId, undefined);
          dropped.push(refs.containerId);
        } else if (running !== refs.active)
          await this.setRefs(refs.containerId, { ...refs, active: running });
        for (const v of refs.volumes) touched.add(v);
      }
      for (const v of touched) {
        const active = [...this.refs.values()].some((r) => r.active && r.volumes.includes(v));
        if (active && this.metas.has(v)) await this.activate(v);
        else await this.deactivateIfUnused(v);
      }
      return dropped;
    });
  }

  // ---- references and activation, used by resolve.ts ----

  /** @internal */
  withLock<T>(fn: () => Promise<T>): Promise<T> {
    return this.lock.run(fn);
  }

  /** @internal Records (or replaces, or with `undefined` drops) a container's references, atomically. */
  async setRefs(containerId: string, refs: ContainerRefs | undefined): Promise<void> {
    if (!CONTAINER_ID_RE.test(containerId)) throw badRequest(`invalid container ID: ${containerId}`);
    const path = join(this.refsDir, `${containerId}.json`);
    if (refs) {
      await writeJsonAtomic(path, refs);
      this.refs.set(containerId, refs);
    } else {
      await rm(path, { force: true });
      this.refs.delete(containerId);
    }
  }

  /** @internal Whether a volume has driver options that need a mount (tmpfs, bind, block device…). */
  needsMount(name: string): boolean {
    return 'type' in (this.getMeta(name).Options ?? {});
  }

  /** @internal Mounts an option volume if it is not mounted yet. */
  async activate(name: string): Promise<void> {
    const meta = this.getMeta(name);
    if (!meta.Options || !('type' in meta.Options)) return;
    const target = this.mountpoint(name);
    if (await isMountPoint(target)) return;
    const { type = 'none', device = type, o } = meta.Options;
    const args = ['-t', type, ...(o ? ['-o', o] : []), device, target];
    try {
      await runChecked('mount', args);
    } catch (err) {
      throw internal(`error while mounting volume '${target}': ${(err as Error).message}`, err);
    }
  }

  /** @internal Unmounts an option volume once no running container (active refs) uses it. */
  async deactivateIfUnused(name: string): Promise<void> {
    const meta = this.metas.get(name);
    if (!meta?.Options || !('type' in meta.Options)) return;
    for (const r of this.refs.values()) if (r.active && r.volumes.includes(name)) return;
    await unmountAll(this.mountpoint(name));
  }

  /** @internal Removes a volume without the lock (caller holds it); skips one still in use by others. */
  async removeIfUnused(name: string, ignoring?: string): Promise<boolean> {
    if (!this.metas.has(name) || this.usedBy(name).some((id) => id !== ignoring)) return false;
    await this.removeLocked(name, ignoring);
    return true;
  }

  /** @internal */
  async isDirectory(path: string): Promise<boolean> {
    try {
      return (await stat(path)).isDirectory();
    } catch {
      return false;
    }
  }

  /** @internal */
  async exists(path: string): Promise<boolean> {
    try {
      await lstat(path);
      return true;
    } catch {
      return false;
    }
  }
}
