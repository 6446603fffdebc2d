// Parsing and validation of mount requests: `-v`/HostConfig.Binds, `--mount`/HostConfig.Mounts, `--tmpfs`/
// HostConfig.Tmpfs and `--volumes-from`, with the error texts Docker's daemon and CLI print. Pure: only the
// bind-source existence check of `--mount type=bind` touches the filesystem.
import { existsSync } from 'node:fs';
import { posix } from 'node:path';
import { badRequest } from '../util/index.js';

export type MountType = 'bind' | 'volume' | 'tmpfs';
export type Propagation = 'private' | 'rprivate' | 'shared' | 'rshared' | 'slave' | 'rslave';

/** Docker's API `Mount` object (HostConfig.Mounts), also what `parseMountFlag` returns. */
export interface ApiMount {
  Type?: string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: {
    Propagation?: string;
    NonRecursive?: boolean;
    CreateMountpoint?: boolean;
    ReadOnlyNonRecursive?: boolean;
    ReadOnlyForceRecursive?: boolean;
  };
  VolumeOptions?: {
    NoCopy?: boolean;
    Labels?: Record<string, string>;
    DriverConfig?: { Name?: string; Options?: Record<string, string> };
    Subpath?: string;
  };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number; Options?: string[][] };
}

/** One validated mount request, before volumes are created or paths resolved. */
export interface MountSpec {
  type: MountType;
  /** bind: host path; volume: volume name ('' = anonymous); tmpfs: ''. */
  source: string;
  /** Cleaned absolute path in the container. */
  destination: string;
  readOnly: boolean;
  /** The `-v` mode string as given ('' for --mount and image volumes); shown as MountPoint.Mode. */
  mode: string;
  /** bind only; '' means Docker's default (rprivate). */
  propagation: Propagation | '';
  /** bind: `bind` instead of `rbind`. */
  nonRecursive: boolean;
  /** Read-only mounts: 'default' = recursive when possible (Docker ≥ 25), 'off' = plain ro, 'force' = rro. */
  recursiveReadOnly?: 'default' | 'off' | 'force';
  /** volume: copy image content into an empty volume (off with nocopy / volume-nocopy). */
  copyData: boolean;
  /** bind: create a missing host directory (`-v` does, `--mount` only with CreateMountpoint). */
  createHostPath: boolean;
  /** volume only. */
  volume?: {
    driver: string;
    driverOpts: Record<string, string>;
    labels: Record<string, string>;
    subpath: string;
  };
  /** tmpfs only: the mount data string (`size=64m,mode=1777`, may be ''). */
  tmpfsData?: string;
}

export const PROPAGATIONS: readonly Propagation[] = [
  'private',
  'rprivate',
  'shared',
  'rshared',
  'slave',
  'rslave',
];
const RW_MODES = new Set(['rw', 'ro']);
const LABEL_MODES = new Set(['z', 'Z']);
const COPY_MODES = new Set(['nocopy']);
const CONSISTENCY_MODES = new Set(['consistent', 'cached', 'delegated']);

const invalidSpec = (raw: string) => `invalid volume specification: '${raw}'`;

/** Docker's `linuxValidMountMode`: comma-separated, each option known, at most one of each kind. */
export function validMountMode(mode: string): boolean {
  if (mode === '') return true;
  const counts = { rw: 0, label: 0, prop: 0, copy: 0, consistency: 0 };
  for (const o of mode.split(',')) {
    if (RW_MODES.has(o)) counts.rw++;
    else if (LABEL_MODES.has(o)) counts.label++;
    else if ((PROPAGATIONS as readonly string[]).includes(o)) counts.prop++;
    else if (COPY_MODES.has(o)) counts.copy++;
    else if (CONSISTENCY_MODES.has(o)) counts.consistency++;
    else return false;
  }
  return Object.values(counts).every((n) => n <= 1);
}

const modeHas = (mode: string, o: string) => mode.split(',').includes(o);
const modePropagation = (mode: string): Propagation | '' =>
  (mode.split(',').find((o) => (PROPAGATIONS as readonly string[]).includes(o)) as Propagation | undefined) ??
  '';

function checkAbsoluteTarget(type: string, target: string): void {
  if (target === '') throw mountConfigError(type, 'field Target must not be empty');
  if (posix.normalize(target) === '/' || /^\/+$/.test(target))
    throw mountConfigError(type, "invalid specification: destination can't be '/'");
  if (!posix.isAbsolute(target))
    throw mountConfigError(type, `invalid mount path: '${target}' mount path must be absolute`);
}

function mountConfigError(type: string, detail: string): Error {
  return new Error(`invalid mount config for type "${type}": ${detail}`);
}

/** Cleans a container path the way Go's path.Clean does. */
export function cleanPath(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/**
 * Parses one `-v` / HostConfig.Binds entry: `name:/ctr[:mode]`, `/host:/ctr[:mode]` or anonymous `/ctr`.
 * A missing host directory is created later (createHostPath), as `-v` does.
 */
export function parseBind(raw: string, volumeDriver = ''): MountSpec {
  const arr = raw.split(':');
  if (arr.length > 3 || arr[0] === '') throw badRequest(invalidSpec(raw));
  let source = '';
  let target = '';
  let mode = '';
  if (arr.length === 1) target = arr[0]!;
  else if (arr.length === 2) {
    // `/ctr:ro` is not a volume: a mode needs a source.
    if (validMountMode(arr[1]!)) throw badRequest(invalidSpec(raw));
    [source, target] = arr as [string, string];
  } else [source, target, mode] = arr as [string, string, string];
  if (!validMountMode(mode)) throw badRequest(`invalid mode: ${mode}`);
  const type: MountType = posix.isAbsolute(source) ? 'bind' : 'volume';
  const api: ApiMount = { Type: type, Source: source, Target: target, ReadOnly: modeHas(mode, 'ro') };
  if (type === 'volume' && volumeDriver !== '') api.VolumeOptions = { DriverConfig: { Name: volumeDriver } };
  if (modeHas(mode, 'nocopy')) api.VolumeOptions = { ...api.VolumeOptions, NoCopy: true };
  const prop = modePropagation(mode);
  if (prop !== '') api.BindOptions = { Propagation: prop };
  try {
    const spec = fromApiMount(api, false);
    spec.mode = mode;
    spec.createHostPath = type === 'bind';
    return spec;
  } catch (err) {
    throw badRequest(`${invalidSpec(raw)}: ${(err as Error).message}`);
  }
}

/** Validates one HostConfig.Mounts object (daemon side); a bind source must exist unless CreateMountpoint. */
export function parseApiMount(m: ApiMount): MountSpec {
  try {
    return fromApiMount(m, !m.BindOptions?.CreateMountpoint);
  } catch (err) {
    throw badRequest((err as Error).message);
  }
}

function fromApiMount(m: ApiMount, checkBindSource: boolean): MountSpec {
  const type = m.Type ?? '';
  const target = m.Target ?? '';
  const source = m.Source ?? '';
  checkAbsoluteTarget(type, target);
  const base = {
    destination: cleanPath(target),
    readOnly: m.ReadOnly === true,
    mode: '',
    propagation: '' as Propagation | '',
    nonRecursive: false,
    copyData: true,
    createHostPath: false,
  };
  switch (type) {
    case 'bind': {
      if (source === '') throw mountConfigError(type, 'field Source must not be empty');
      const prop = m.BindOptions?.Propagation ?? '';
      if (prop !== '' && !(PROPAGATIONS as readonly string[]).includes(prop))
        throw mountConfigError(type, `invalid propagation mode: ${prop}`);
      if (m.VolumeOptions) throw mountConfigError(type, 'field VolumeOptions must not be specified');
      if (m.TmpfsOptions) throw mountConfigError(type, 'field TmpfsOptions must not be specified');
      if (!posix.isAbsolute(source))
        throw mountConfigError(type, `invalid mount path: '${source}' mount path must be absolute`);
      if (m.BindOptions?.ReadOnlyNonRecursive && m.BindOptions?.ReadOnlyForceRecursive)
        throw mountConfigError(
          type,
          'ReadOnlyNonRecursive and ReadOnlyForceRecursive are mutually exclusive',
        );
      if ((m.BindOptions?.ReadOnlyNonRecursive || m.BindOptions?.ReadOnlyForceRecursive) && !m.ReadOnly)
        throw mountConfigError(type, 'ReadOnlyNonRecursive and ReadOnlyForceRecursive need ReadOnly');
      if (checkBindSource && !existsSync(source))
        throw mountConfigError(type, `bind source path does not exist: ${source}`);
      return {
        ...base,
        type,
        source: cleanPath(source),
        propagation: prop as Propagation | '',
        nonRecursive: m.BindOptions?.NonRecursive === true,
        recursiveReadOnly: m.BindOptions?.ReadOnlyNonRecursive
          ? 'off'
          : m.BindOptions?.ReadOnlyForceRecursive
            ? 'force'
            : 'default',
        copyData: false,
        createHostPath: m.BindOptions?.CreateMountpoint === true,
      };
    }
    case 'volume': {
      if (m.BindOptions) throw mountConfigError(type, 'field BindOptions must not be specified');
      if (m.TmpfsOptions) throw mountConfigError(type, 'field TmpfsOptions must not be specified');
      if (source === '' && m.ReadOnly)
        throw mountConfigError(type, 'must not set ReadOnly mode when using anonymous volumes');
      const vo = m.VolumeOptions ?? {};
      const subpath = vo.Subpath ?? '';
      if (subpath !== '') {
        if (source === '') throw mountConfigError(type, 'must not set Subpath when using anonymous volumes');
        if (posix.isAbsolute(subpath) || posix.normalize(subpath).split('/').includes('..'))
          throw mountConfigError(type, 'subpath must be a relative path within the volume');
      }
      return {
        ...base,
        type,
        source,
        copyData: vo.NoCopy !== true && subpath === '',
        volume: {
          driver: vo.DriverConfig?.Name || 'local',
          driverOpts: { ...(vo.DriverConfig?.Options ?? {}) },
          labels: { ...(vo.Labels ?? {}) },
          subpath,
        },
      };
    }
    case 'tmpfs': {
      if (m.BindOptions) throw mountConfigError(type, 'field BindOptions must not be specified');
      if (m.VolumeOptions) throw mountConfigError(type, 'field VolumeOptions must not be specified');
      if (source !== '') throw mountConfigError(type, 'field Source must not be specified');
      let data: string;
      try {
        data = tmpfsOptionsToData(m.TmpfsOptions, m.ReadOnly === true);
      } catch (err) {
        throw mountConfigError(type, (err as Error).message);
      }
      return { ...base, type, source: '', copyData: false, tmpfsData: data };
    }
    default:
      throw mountConfigError(type, 'mount type unknown');
  }
}

/** Docker's ConvertTmpfsOptions: API TmpfsOptions → mount data (`ro,mode=1777,size=64m`). */
export function tmpfsOptionsToData(opts: ApiMount['TmpfsOptions'], readOnly: boolean): string {
  const raw: string[] = [];
  if (readOnly) raw.push('ro');
  if (opts?.Mode) raw.push(`mode=${opts.Mode.toString(8)}`);
  const size = opts?.SizeBytes ?? 0;
  if (size < 0) throw new Error('invalid tmpfs size: must not be negative');
  if (size > 0) {
    let n = size;
    let suffix = '';
    for (const s of ['k', 'm', 'g']) {
      if (n % 1024 !== 0) break;
      n /= 1024;
      suffix = s;
    }
    raw.push(`size=${n}${suffix}`);
  }
  for (const o of opts?.Options ?? []) {
    if (o.length < 1 || o.length > 2) throw new Error('invalid option array length');
    if (o[0] !== 'exec' && o[0] !== 'noexec') throw new Error(`invalid option: ${o[0]}`);
    raw.push(o.length === 1 ? o[0] : `${o[0]}=${o[1]}`);
  }
  return raw.join(',');
}

const TMPFS_FLAGS = new Set([
  'ro',
  'rw',
  'exec',
  'noexec',
  'suid',
  'nosuid',
  'dev',
  'nodev',
  'sync',
  'async',
  'dirsync',
  'atime',
  'noatime',
  'diratime',
  'nodiratime',
  'relatime',
  'norelatime',
  'strictatime',
  'nostrictatime',
  'mand',
  'nomand',
  'tmpcopyup',
  ...PROPAGATIONS,
]);
const TMPFS_KEYS = new Set(['size', 'mode', 'uid', 'gid', 'nr_inodes', 'nr_blocks', 'mpol', 'huge']);

/** Validates a HostConfig.Tmpfs entry (destination → data) and returns its MountSpec. */
export function parseTmpfs(destination: string, data = ''): MountSpec {
  try {
    checkAbsoluteTarget('tmpfs', destination);
  } catch (err) {
    throw badRequest((err as Error).message.replace('invalid mount config for type "tmpfs": ', ''));
  }
  for (const o of data === '' ? [] : data.split(',')) {
    const eq = o.indexOf('=');
    const ok = eq < 0 ? TMPFS_FLAGS.has(o) : TMPFS_KEYS.has(o.slice(0, eq)) && o.length > eq + 1;
    if (!ok) throw badRequest(`invalid tmpfs option "${o}" for ${destination}`);
    if (o.startsWith('size=') && parseSize(o.slice(5)) === undefined && !/^\d+%$/.test(o.slice(5)))
      throw badRequest(`invalid tmpfs size "${o.slice(5)}" for ${destination}`);
    if (o.startsWith('mode=') && !/^[0-7]{1,4}$/.test(o.slice(5)))
      throw badRequest(`invalid tmpfs mode "${o.slice(5)}" for ${destination}`);
  }
  return {
    type: 'tmpfs',
    source: '',
    destination: cleanPath(destination),
    readOnly: modeHas(data, 'ro'),
    mode: '',
    propagation: '',
    nonRecursive: false,
    copyData: false,
    createHostPath: false,
    tmpfsData: data,
  };
}

/** The CLI's `--tmpfs /path[:opts]` → [destination, data] for HostConfig.Tmpfs. */
export function parseTmpfsFlag(value: string): [string, string] {
  const i = value.indexOf(':');
  const dest = i < 0 ? value : value.slice(0, i);
  const data = i < 0 ? '' : value.slice(i + 1);
  parseTmpfs(dest, data);
  return [dest, data];
}

/** Docker's units.RAMInBytes: `64m`, `1.5g`, `512`, `100MiB` → bytes (binary multipliers). */
export function parseSize(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?) ?([kmgtp])?i?b?$/i.exec(value);
  if (!m) return undefined;
  const pow = m[2] ? 'kmgtp'.indexOf(m[2].toLowerCase()) + 1 : 0;
  return Math.trunc(Number(m[1]) * 1024 ** pow);
}

function parseBool(v: string): boolean | undefined {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(v)) return false;
  return undefined;
}

/** Splits one CSV record the way Go's encoding/csv does (quoted fields, doubled quotes). */
function splitCsv(value: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  let i = 0;
  let fieldStart = true;
  while (i < value.length) {
    const c = value[i]!;
    if (quoted) {
      if (c === '"' && value[i + 1] === '"') {
        cur += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"' && fieldStart) quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
      fieldStart = true;
      i++;
      continue;
    } else cur += c;
    fieldStart = false;
    i++;
  }
  if (quoted) throw badRequest(`invalid mount spec '${value}': unterminated quoted field`);
  out.push(cur);
  return out;
}

/** The CLI's `--mount` CSV → an API Mount object, with docker CLI's error texts. */
export function parseMountFlag(value: string, cwd = process.cwd()): ApiMount {
  const m: ApiMount = { Type: 'volume' };
  const bind = () => {
    m.BindOptions ??= {};
    return m.BindOptions;
  };
  const vol = () => {
    m.VolumeOptions ??= {};
    return m.VolumeOptions;
  };
  const tmpfs = () => {
    m.TmpfsOptions ??= {};
    return m.TmpfsOptions;
  };
  const setMap = (map: Record<string, string>, kv: string) => {
    const i = kv.indexOf('=');
    if (i < 0) map[kv] = '';
    else map[kv.slice(0, i)] = kv.slice(i + 1);
  };
  const bool = (key: string, val: string) => {
    const b = parseBool(val);
    if (b === undefined) throw badRequest(`invalid value for ${key}: ${val}`);
    return b;
  };
  for (const field of splitCsv(value)) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    const val = eq < 0 ? '' : field.slice(eq + 1);
    if (eq < 0) {
      if (key === 'readonly' || key === 'ro') m.ReadOnly = true;
      else if (key === 'volume-nocopy') vol().NoCopy = true;
      else if (key === 'bind-nonrecursive') bind().NonRecursive = true;
      else throw badRequest(`invalid field '${field}' must be a key=value pair`);
      continue;
    }
    switch (key) {
      case 'type':
        m.Type = val.toLowerCase();
        break;
      case 'source':
      case 'src':
        m.Source = val === '.' || val.startsWith('./') ? posix.join(cwd, val) : val;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.Target = val;
        break;
      case 'readonly':
      case 'ro':
        m.ReadOnly = bool(key, val);
        break;
      case 'consistency':
        m.Consistency = val.toLowerCase();
        break;
      case 'bind-propagation':
        bind().Propagation = val.toLowerCase();
        break;
      case 'bind-nonrecursive':
        bind().NonRecursive = bool(key, val);
        break;
      case 'bind-create-src':
        bind().CreateMountpoint = bool(key, val);
        break;
      case 'bind-recursive':
        if (val === 'disabled') bind().NonRecursive = true;
        else if (val === 'writable') bind().ReadOnlyNonRecursive = true;
        else if (val === 'readonly') bind().ReadOnlyForceRecursive = true;
        else if (val === 'enabled') bind();
        else
          throw badRequest(
            `invalid value for ${key}: ${val} (must be "enabled", "disabled", "writable", or "readonly")`,
          );
        break;
      case 'volume-subpath':
        vol().Subpath = val;
        break;
      case 'volume-nocopy':
        vol().NoCopy = bool(key, val);
        break;
      case 'volume-label':
        vol().Labels ??= {};
        setMap(vol().Labels!, val);
        break;
      case 'volume-driver':
        vol().DriverConfig ??= {};
        vol().DriverConfig!.Name = val;
        break;
      case 'volume-opt':
        vol().DriverConfig ??= {};
        vol().DriverConfig!.Options ??= {};
        setMap(vol().DriverConfig!.Options!, val);
        break;
      case 'tmpfs-size': {
        const n = parseSize(val);
        if (n === undefined) throw badRequest(`invalid value for ${key}: ${val}`);
        tmpfs().SizeBytes = n;
        break;
      }
      case 'tmpfs-mode': {
        if (!/^[0-7]+$/.test(val) || Number.parseInt(val, 8) > 0xffffffff)
          throw badRequest(`invalid value for ${key}: ${val}`);
        tmpfs().Mode = Number.parseInt(val, 8);
        break;
      }
      default:
        throw badRequest(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (!m.Type) throw badRequest('type is required');
  if (!m.Target) throw badRequest('target is required');
  if (m.VolumeOptions && m.Type !== 'volume')
    throw badRequest(`cannot mix 'volume-*' options with mount type '${m.Type}'`);
  if (m.BindOptions && m.Type !== 'bind')
    throw badRequest(`cannot mix 'bind-*' options with mount type '${m.Type}'`);
  if (m.TmpfsOptions && m.Type !== 'tmpfs')
    throw badRequest(`cannot mix 'tmpfs-*' options with mount type '${m.Type}'`);
  if (m.BindOptions?.ReadOnlyNonRecursive && !m.ReadOnly)
    throw badRequest("option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction");
  if (m.BindOptions?.ReadOnlyForceRecursive && !m.ReadOnly)
    throw badRequest("option 'bind-recursive=readonly' requires 'readonly' to be specified in conjunction");
  return m;
}

/** `--volumes-from container[:ro|rw]` → container name/ID and whether its mounts may stay writable. */
export function parseVolumesFrom(spec: string): { container: string; mode: string; readWrite: boolean } {
  if (spec === '') throw badRequest('volumes-from specification cannot be an empty string');
  const i = spec.indexOf(':');
  const container = i < 0 ? spec : spec.slice(0, i);
  const mode = i < 0 ? '' : spec.slice(i + 1);
  if (container === '') throw badRequest(invalidSpec(spec));
  // Propagation and copy modes are not allowed: the mounts keep those of the source container.
  if (!validMountMode(mode) || modePropagation(mode) !== '' || modeHas(mode, 'nocopy'))
    throw badRequest(`invalid mode: ${mode}`);
  return { container, mode: mode || 'rw', readWrite: !modeHas(mode, 'ro') };
}
