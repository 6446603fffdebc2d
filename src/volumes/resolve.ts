// From a container's mount requests (-v, --mount, --tmpfs, --volumes-from, image VOLUMEs) to the resolved
// OCI mount list and Docker's MountPoint list: volumes are created on demand, image content is copied up
// into empty volumes, and a failure undoes everything this call made.
import { mkdir, rm } from 'node:fs/promises';
import { badRequest, internal, isBerthError, randomId } from '../util/index.js';
import { copyDirContents, isEmptyDir, mountPropagation, resolveInRoot } from './fsutil.js';
import type { ContainerRefs, VolumeService } from './service.js';
import {
  type ApiMount,
  type MountSpec,
  type MountType,
  parseApiMount,
  parseBind,
  parseTmpfs,
  parseVolumesFrom,
} from './spec.js';

/** One entry of the OCI runtime spec's `mounts`. */
export interface OciMount {
  source: string;
  destination: string;
  type: string;
  options: string[];
}

/** Docker's `MountPoint` (container inspect `Mounts`). */
export interface MountPoint {
  Type: MountType;
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
}

/** `--volumes-from` source: the spec as given and that container's inspect `Mounts`. */
export interface VolumesFromSource {
  spec: string;
  mountPoints: MountPoint[];
}

export interface ResolveMountsRequest {
  containerId: string;
  /** HostConfig.Binds (`-v`). */
  binds?: string[];
  /** HostConfig.Mounts (`--mount`). */
  mounts?: ApiMount[];
  /** HostConfig.Tmpfs (`--tmpfs`): destination → options. */
  tmpfs?: Record<string, string>;
  /** HostConfig.VolumesFrom, each with the other container's mount points (the caller looks it up). */
  volumesFrom?: VolumesFromSource[];
  /** Config.Volumes (image VOLUMEs and CLI anonymous `-v /path`): anonymous volumes unless mounted over. */
  imageVolumes?: Record<string, unknown> | string[];
  /** The merged image rootfs to copy volume content up from (no copy-up when absent). */
  imageRootfsPath?: string;
  /** HostConfig.VolumeDriver (only `local` exists). */
  volumeDriver?: string;
  /**
   * Make read-only mounts recursively read-only (`rro`, runc ≥ 1.1, kernel ≥ 5.12) as Docker ≥ 25 does
   * for API ≥ 1.44. Default true; pass false for older API clients or a runtime without `rro`.
   */
  recursiveReadOnly?: boolean;
}

export interface ResolvedMounts {
  /** Sorted parents first, ready for the OCI spec (after the runtime's default mounts). */
  ociMounts: OciMount[];
  /** For container inspect `Mounts` (HostConfig.Tmpfs entries are not listed, as in Docker). */
  mountPoints: MountPoint[];
}

type Planned =
  | { kind: 'spec'; spec: MountSpec; listed: boolean; image?: boolean }
  | { kind: 'from'; mp: MountPoint; rw: boolean };

const OPPOSITES: Record<string, string> = {
  ro: 'rw',
  exec: 'noexec',
  suid: 'nosuid',
  dev: 'nodev',
  atime: 'noatime',
  diratime: 'nodiratime',
  relatime: 'norelatime',
  strictatime: 'nostrictatime',
  sync: 'async',
  mand: 'nomand',
};
for (const [a, b] of Object.entries({ ...OPPOSITES })) OPPOSITES[b] = a;
const PROPAGATION_FLAGS = new Set(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave']);

/** Docker's MergeTmpfsOptions: later flags override their opposites, later key=value win. */
export function mergeTmpfsOptions(options: string[]): string[] {
  const out: string[] = [];
  for (const o of options) {
    if (o === '') continue;
    const eq = o.indexOf('=');
    let drop: (x: string) => boolean;
    if (eq >= 0) drop = (x) => x.startsWith(o.slice(0, eq + 1));
    else if (PROPAGATION_FLAGS.has(o)) drop = (x) => PROPAGATION_FLAGS.has(x);
    else drop = (x) => x === o || x === OPPOSITES[o];
    for (let i = out.length - 1; i >= 0; i--) if (drop(out[i]!)) out.splice(i, 1);
    out.push(o);
  }
  return out;
}

function tmpfsOci(destination: string, data: string): OciMount {
  return {
    source: 'tmpfs',
    destination,
    type: 'tmpfs',
    options: mergeTmpfsOptions(['noexec', 'nosuid', 'nodev', 'rprivate', ...data.split(',')]),
  };
}

/**
 * Docker's bind options; volumes carry no propagation flag, binds default to rprivate. Read-only mounts are
 * recursively read-only (`rro`) as Docker ≥ 25 makes them, unless turned off.
 */
function bindOptions(
  readOnly: boolean,
  propagation: string | undefined,
  nonRecursive: boolean,
  rro: boolean,
): string[] {
  const prop = propagation === undefined ? [] : [propagation || 'rprivate'];
  const ro = readOnly ? [rro ? 'rro' : 'ro'] : [];
  return [nonRecursive ? 'bind' : 'rbind', ...ro, ...prop];
}

function depth(p: string): number {
  return p === '/' ? 0 : p.split('/').length;
}

function nonEmpty(m: Record<string, string> | undefined): Record<string, string> | undefined {
  return m && Object.keys(m).length > 0 ? m : undefined;
}

function imageVolumePaths(v: ResolveMountsRequest['imageVolumes']): string[] {
  if (!v) return [];
  return Array.isArray(v) ? v : Object.keys(v);
}

/** Resolves a container's mounts; idempotent per container (anonymous volumes are reused on restart). */
export async function resolveMounts(svc: VolumeService, req: ResolveMountsRequest): Promise<ResolvedMounts> {
  // Parse and validate everything first: bad input must not create anything.
  const plan = new Map<string, Planned>();
  const explicit = new Set<string>();
  const tmpfsDests = new Set<string>();
  for (const [dest, data] of Object.entries(req.tmpfs ?? {}))
    tmpfsDests.add(parseTmpfs(dest, data).destination);
  for (const vf of req.volumesFrom ?? []) {
    const { readWrite } = parseVolumesFrom(vf.spec);
    for (const mp of vf.mountPoints) plan.set(mp.Destination, { kind: 'from', mp, rw: mp.RW && readWrite });
  }
  const addExplicit = (spec: MountSpec) => {
    if (explicit.has(spec.destination) || tmpfsDests.has(spec.destination))
      throw badRequest(`Duplicate mount point: ${spec.destination}`);
    explicit.add(spec.destination);
    plan.set(spec.destination, { kind: 'spec', spec, listed: true });
  };
  for (const raw of req.binds ?? []) addExplicit(parseBind(raw, req.volumeDriver ?? ''));
  for (const m of req.mounts ?? []) addExplicit(parseApiMount(m));
  for (const [dest, data] of Object.entries(req.tmpfs ?? {}))
    plan.set(parseTmpfs(dest, data).destination, {
      kind: 'spec',
      spec: parseTmpfs(dest, data),
      listed: false,
    });
  for (const p of imageVolumePaths(req.imageVolumes)) {
    const spec = parseBind(p); // a bare absolute path: an anonymous volume with copy-up
    if (spec.type !== 'volume' || spec.source !== '')
      throw badRequest(`invalid volume specification: '${p}'`);
    if (!plan.has(spec.destination))
      plan.set(spec.destination, { kind: 'spec', spec, listed: true, image: true });
  }
  for (const entry of plan.values()) {
    const driver = entry.kind === 'spec' ? entry.spec.volume?.driver : entry.mp.Driver;
    if (driver && driver !== 'local')
      throw badRequest(`error looking up volume plugin ${driver}: plugin "${driver}" not found`);
  }
  return svc.withLock(() => apply(svc, req, plan));
}

async function apply(svc: VolumeService, req: ResolveMountsRequest, plan: Map<string, Planned>) {
  const prev = svc.containerRefs(req.containerId);
  const created: string[] = [];
  const createdDirs: string[] = [];
  const used = new Set<string>();
  const anonymous: Record<string, string> = {};
  const activated: string[] = [];
  let refsWritten = false;
  try {
    // Volume names and creation.
    const names = new Map<string, string>(); // destination → volume name
    for (const [dest, entry] of plan) {
      if (entry.kind === 'from') {
        if (entry.mp.Type === 'volume' && entry.mp.Name) {
          await svc.inspect(entry.mp.Name); // 404 "get x: no such volume" when gone
          names.set(dest, entry.mp.Name);
        }
        continue;
      }
      const spec = entry.spec;
      if (spec.type !== 'volume') continue;
      let name = spec.source;
      const isAnon = name === '';
      if (isAnon) {
        const old = prev?.anonymous[dest];
        name = old && svc.has(old) ? old : randomId();
        anonymous[dest] = name;
      }
      if (!svc.has(name)) {
        await svc.createLocked(
          {
            Name: name,
            Driver: 'local',
            DriverOpts: nonEmpty(spec.volume?.driverOpts),
            Labels: nonEmpty(spec.volume?.labels),
          },
          isAnon,
        );
        created.push(name);
      }
      names.set(dest, name);
    }
    for (const n of names.values()) used.add(n);
    // Host directories for `-v /host:/ctr` that do not exist yet.
    for (const entry of plan.values()) {
      if (entry.kind !== 'spec' || entry.spec.type !== 'bind' || !entry.spec.createHostPath) continue;
      if (await svc.exists(entry.spec.source)) continue;
      const first = await mkdir(entry.spec.source, { recursive: true, mode: 0o755 });
      if (first) createdDirs.push(first);
    }
    // Shared/slave propagation only works from a shared (or slave) source mount; Docker refuses otherwise.
    for (const entry of plan.values()) {
      if (entry.kind !== 'spec' || entry.spec.type !== 'bind') continue;
      const prop = entry.spec.propagation;
      if (!['shared', 'rshared', 'slave', 'rslave'].includes(prop)) continue;
      const info = await mountPropagation(entry.spec.source);
      if (prop.endsWith('shared') && !info.shared)
        throw badRequest(
          `path ${entry.spec.source} is mounted on ${info.mountPoint} but it is not a shared mount.`,
        );
      if (prop.endsWith('slave') && !info.shared && !info.slave)
        throw badRequest(
          `path ${entry.spec.source} is mounted on ${info.mountPoint} but it is not a shared or slave mount.`,
        );
    }
    // References first, so a concurrent remove sees the volumes as in use.
    const refs: ContainerRefs = {
      containerId: req.containerId,
      volumes: [...used].sort(),
      anonymous,
      active: true,
    };
    await svc.setRefs(req.containerId, refs);
    refsWritten = true;
    for (const name of used) {
      if (!svc.needsMount(name)) continue;
      await svc.activate(name);
      activated.push(name);
    }
    // A subpath must exist inside its volume, and its symlinks must not lead out of it.
    const subpaths = new Map<string, string>(); // destination → host source
    for (const [dest, entry] of plan) {
      const sub = entry.kind === 'spec' ? entry.spec.volume?.subpath : undefined;
      if (!sub) continue;
      const base = svc.mountpoint(names.get(dest)!);
      const host = await resolveInRoot(base, sub);
      if (!(await svc.exists(host)))
        throw badRequest(
          `cannot access path ${host}: subpath ${sub} does not exist in volume ${names.get(dest)}`,
        );
      subpaths.set(dest, host);
    }
    // Copy-up: only into an empty volume this container did not use before (Docker does it at create).
    if (req.imageRootfsPath) {
      for (const [dest, entry] of plan) {
        if (entry.kind !== 'spec' || entry.spec.type !== 'volume' || !entry.spec.copyData) continue;
        const name = names.get(dest)!;
        if (prev?.volumes.includes(name)) continue;
        const src = await resolveInRoot(req.imageRootfsPath, dest);
        if (!(await svc.isDirectory(src))) continue;
        const target = svc.mountpoint(name);
        if (!(await isEmptyDir(target))) continue;
        await copyDirContents(src, target);
      }
    }
    return build(svc, plan, names, subpaths, req.recursiveReadOnly !== false);
  } catch (err) {
    // Undo what this call made, newest first; keep the original error.
    try {
      if (refsWritten) await svc.setRefs(req.containerId, prev);
      for (const name of activated) await svc.deactivateIfUnused(name);
      for (const name of created.reverse()) await svc.removeIfUnused(name);
      for (const dir of createdDirs) await rm(dir, { recursive: true, force: true });
    } catch {
      // best effort; init() cleans what remains
    }
    if (isBerthError(err)) throw err;
    throw internal(`mounting volumes for ${req.containerId}: ${(err as Error).message}`, err);
  }
}

function build(
  svc: VolumeService,
  plan: Map<string, Planned>,
  names: Map<string, string>,
  subpaths: Map<string, string>,
  rroDefault: boolean,
): ResolvedMounts {
  const oci: OciMount[] = [];
  const mps: MountPoint[] = [];
  for (const [dest, entry] of plan) {
    if (entry.kind === 'from') {
      const mp = entry.mp;
      const m: MountPoint = { ...mp, Destination: dest, RW: entry.rw, Mode: '' };
      if (mp.Type === 'volume') {
        const name = names.get(dest)!;
        m.Source = svc.mountpoint(name);
        oci.push({
          source: m.Source,
          destination: dest,
          type: 'bind',
          options: bindOptions(!entry.rw, undefined, false, rroDefault),
        });
      } else if (mp.Type === 'bind') {
        oci.push({
          source: mp.Source,
          destination: dest,
          type: 'bind',
          options: bindOptions(!entry.rw, mp.Propagation, false, rroDefault),
        });
      } else oci.push(tmpfsOci(dest, entry.rw ? '' : 'ro'));
      mps.push(m);
      continue;
    }
    const s = entry.spec;
    const rw = !s.readOnly;
    if (s.type === 'bind') {
      oci.push({
        source: s.source,
        destination: dest,
        type: 'bind',
        options: bindOptions(
          s.readOnly,
          s.propagation,
          s.nonRecursive,
          s.recursiveReadOnly === 'force' || (s.recursiveReadOnly !== 'off' && rroDefault),
        ),
      });
      mps.push({
        Type: 'bind',
        Source: s.source,
        Destination: dest,
        Mode: s.mode,
        RW: rw,
        Propagation: s.propagation || 'rprivate',
      });
    } else if (s.type === 'volume') {
      const name = names.get(dest)!;
      const mountpoint = svc.mountpoint(name);
      oci.push({
        source: subpaths.get(dest) ?? mountpoint,
        destination: dest,
        type: 'bind',
        options: bindOptions(s.readOnly, undefined, false, rroDefault),
      });
      mps.push({
        Type: 'volume',
        Name: name,
        Source: mountpoint,
        Destination: dest,
        Driver: 'local',
        // Docker labels local volumes from Binds/Mounts 'z'; image (Config.Volumes) ones keep ''.
        Mode: entry.image ? '' : s.mode || 'z',
        RW: rw,
        Propagation: '',
      });
    } else {
      oci.push(tmpfsOci(dest, s.tmpfsData ?? ''));
      if (entry.listed)
        mps.push({ Type: 'tmpfs', Source: '', Destination: dest, Mode: '', RW: rw, Propagation: '' });
    }
  }
  // Parents before children, so a mount inside another mount lands on top of it.
  const ociMounts = oci
    .map((m, i) => ({ m, i }))
    .sort((a, b) => depth(a.m.destination) - depth(b.m.destination) || a.i - b.i)
    .map((x) => x.m);
  mps.sort((a, b) => a.Destination.localeCompare(b.Destination));
  return { ociMounts, mountPoints: mps };
}

/** The container stopped: option volumes (tmpfs, bind device…) are unmounted when no running container uses them. */
export function deactivateMounts(svc: VolumeService, containerId: string): Promise<void> {
  return svc.withLock(async () => {
    const refs = svc.containerRefs(containerId);
    if (!refs?.active) return;
    await svc.setRefs(containerId, { ...refs, active: false });
    for (const name of refs.volumes) await svc.deactivateIfUnused(name);
  });
}

/**
 * The container is being removed: drop its references; with `removeAnonymous` (`rm -v`) also remove the
 * anonymous volumes created for it, unless another container still uses one. Named volumes are kept.
 */
export function releaseMounts(
  svc: VolumeService,
  containerId: string,
  opts: { removeAnonymous?: boolean } = {},
): Promise<{ removed: string[]; kept: string[] }> {
  return svc.withLock(async () => {
    const refs = svc.containerRefs(containerId);
    if (!refs) return { removed: [], kept: [] };
    await svc.setRefs(containerId, undefined);
    for (const name of refs.volumes) await svc.deactivateIfUnused(name);
    const removed: string[] = [];
    const kept: string[] = [];
    if (opts.removeAnonymous) {
      for (const name of Object.values(refs.anonymous)) {
        if (await svc.removeIfUnused(name, containerId)) removed.push(name);
        else kept.push(name);
      }
    }
    return { removed, kept };
  });
}
