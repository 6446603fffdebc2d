// Turns one interpolated Compose file into the canonical (long) syntax, so files can be merged key by
// key: ports, volumes, depends_on, networks, environment, labels, build, env_file, secrets, extends.
// Relative paths are resolved against `baseDir` here, because it differs per file for extends/include.
import { homedir } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { badRequest } from '../../util/index.js';
import { formatPath } from './interpolate.js';
import type { PortConfig, VolumeMount } from './types.js';
import { OverrideTag, ResetTag } from './yaml.js';

export type Tree = Record<string, unknown>;
type Path = (string | number)[];

export interface CanonicalContext {
  file: string;
  baseDir: string;
  home?: string;
}

const isObj = (v: unknown): v is Tree =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

/** Applies `fn` to a value, looking through an !override marker; a !reset marker is kept as is. */
function through(v: unknown, fn: (v: unknown) => unknown): unknown {
  if (v instanceof ResetTag) return v;
  if (v instanceof OverrideTag) return new OverrideTag(fn(v.value));
  return fn(v);
}

function fail(ctx: CanonicalContext, path: Path, msg: string): never {
  throw badRequest(`${ctx.file}: ${formatPath(path)} ${msg}`);
}

const TRUE = new Set(['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON', '1']);
const FALSE = new Set(['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF', '0']);

export function toBool(v: unknown, ctx: CanonicalContext, path: Path): unknown {
  if (typeof v === 'boolean' || v === null || v === undefined || v instanceof ResetTag) return v;
  if (typeof v === 'string') {
    if (TRUE.has(v)) return true;
    if (FALSE.has(v)) return false;
  }
  return fail(ctx, path, `must be a boolean, got ${JSON.stringify(v)}`);
}

export function toInt(v: unknown, ctx: CanonicalContext, path: Path): unknown {
  if (typeof v === 'number' || v === null || v === undefined || v instanceof ResetTag) return v;
  if (typeof v === 'string' && /^[-+]?\d+$/.test(v.trim())) return Number.parseInt(v, 10);
  return fail(ctx, path, `must be an integer, got ${JSON.stringify(v)}`);
}

function toNumber(v: unknown, ctx: CanonicalContext, path: Path): unknown {
  if (typeof v === 'number' || v === null || v === undefined || v instanceof ResetTag) return v;
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
  return fail(ctx, path, `must be a number, got ${JSON.stringify(v)}`);
}

const scalarString = (v: unknown): string | null =>
  v === null || v === undefined ? null : typeof v === 'string' ? v : String(v);

/** `KEY=VAL` lists or maps → map; a bare KEY (or null value) stays null, to be resolved later. */
export function listOrDictToMap(v: unknown, sep = '=', allowNull = true): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  if (Array.isArray(v)) {
    for (const item of v) {
      const s = String(item);
      const i = s.indexOf(sep);
      if (i < 0) out[s] = allowNull ? null : '';
      else out[s.slice(0, i)] = s.slice(i + 1);
    }
  } else if (isObj(v)) {
    for (const [k, val] of Object.entries(v)) {
      if (val instanceof ResetTag || val instanceof OverrideTag) out[k] = val as unknown as string;
      else out[k] = val === null ? (allowNull ? null : '') : scalarString(val);
    }
  }
  return out;
}

export function expandHome(p: string, home: string | undefined): string {
  if (p === '~') return home ?? homedir();
  if (p.startsWith('~/')) return `${home ?? homedir()}${p.slice(1)}`;
  return p;
}

function resolvePath(p: string, ctx: CanonicalContext): string {
  const e = expandHome(p, ctx.home);
  return isAbsolute(e) ? e : resolve(ctx.baseDir, e);
}

const isRemoteContext = (c: string) =>
  /^[a-z][a-z0-9+.-]*:\/\//i.test(c) || c.startsWith('git@') || c.startsWith('github.com/');

// ---------- ports

const PORT_RE =
  /^(?:(?:(?<ip>\[[0-9a-fA-F:.]+\]|[0-9.]+|[0-9a-fA-F:]*:[0-9a-fA-F:]*):)?(?<pub>\d*(?:-\d+)?):)?(?<target>\d+(?:-\d+)?)(?:\/(?<proto>[a-z]+))?$/;

function range(s: string): [number, number] {
  const [a, b] = s.split('-');
  const lo = Number.parseInt(a as string, 10);
  return [lo, b === undefined ? lo : Number.parseInt(b, 10)];
}

export function parsePortShort(spec: string, ctx: CanonicalContext, path: Path): PortConfig[] {
  const m = PORT_RE.exec(spec.trim());
  if (!m?.groups) return fail(ctx, path, `invalid port specification ${JSON.stringify(spec)}`);
  let ip = m.groups.ip;
  if (ip?.startsWith('[')) ip = ip.slice(1, -1);
  const pub = m.groups.pub || undefined;
  const protocol = m.groups.proto ?? 'tcp';
  const [tLo, tHi] = range(m.groups.target as string);
  if (tHi < tLo || tHi > 65535 || tLo < 1)
    return fail(ctx, path, `invalid port range ${JSON.stringify(spec)}`);
  if (pub) {
    const [pLo, pHi] = range(pub);
    if (pHi < pLo || pHi > 65535) return fail(ctx, path, `invalid published port ${JSON.stringify(spec)}`);
  }
  const base = (target: number, published: string | undefined): PortConfig => {
    const p: PortConfig = { mode: 'ingress', target, protocol };
    if (ip) p.host_ip = ip;
    if (published !== undefined) p.published = published;
    return p;
  };
  if (tLo === tHi) return [base(tLo, pub)];
  const out: PortConfig[] = [];
  if (pub) {
    const [pLo, pHi] = range(pub);
    if (pHi - pLo !== tHi - tLo)
      return fail(ctx, path, `port ranges don't match in length: ${JSON.stringify(spec)}`);
    for (let i = 0; i <= tHi - tLo; i++) out.push(base(tLo + i, String(pLo + i)));
  } else for (let t = tLo; t <= tHi; t++) out.push(base(t, undefined));
  return out;
}

function canonicalPorts(v: unknown, ctx: CanonicalContext, path: Path): unknown {
  if (!Array.isArray(v)) return v;
  const out: PortConfig[] = [];
  v.forEach((item, i) => {
    const p = [...path, i];
    if (typeof item === 'number') out.push(...parsePortShort(String(item), ctx, p));
    else if (typeof item === 'string') out.push(...parsePortShort(item, ctx, p));
    else if (isObj(item)) {
      const port: PortConfig = {
        ...(item as Record<string, unknown>),
        mode: (item.mode as string) ?? 'ingress',
        target: toInt(item.target, ctx, [...p, 'target']) as number,
        protocol: (item.protocol as string) ?? 'tcp',
      };
      if (item.published !== undefined && item.published !== null) port.published = String(item.published);
      else delete port.published;
      out.push(port);
    }
  });
  return out;
}

// ---------- volumes

const PROPAGATION = new Set(['shared', 'slave', 'private', 'rshared', 'rslave', 'rprivate']);
const MODES = new Set(['ro', 'rw', 'z', 'Z', 'nocopy']);

export function parseVolumeShort(spec: string, ctx: CanonicalContext, path: Path): VolumeMount {
  const parts = spec.split(':');
  let source: string | undefined;
  let target: string;
  let mode: string | undefined;
  if (parts.length === 1) target = parts[0] as string;
  else if (parts.length === 2) {
    // "src:target" or "target:mode"
    if ((parts[1] as string).split(',').every((o) => MODES.has(o) || PROPAGATION.has(o))) {
      target = parts[0] as string;
      mode = parts[1];
    } else {
      source = parts[0];
      target = parts[1] as string;
    }
  } else if (parts.length === 3) {
    [source, target, mode] = parts as [string, string, string];
  } else return fail(ctx, path, `invalid volume specification ${JSON.stringify(spec)}`);
  if (target === '' || source === '')
    return fail(
      ctx,
      path,
      `invalid volume specification ${JSON.stringify(spec)}: empty section between colons`,
    );
  const isPath =
    source !== undefined && (source.startsWith('.') || source.startsWith('/') || source.startsWith('~'));
  const vol: VolumeMount = { type: isPath ? 'bind' : 'volume', target };
  if (source) vol.source = isPath ? resolvePath(source, ctx) : source;
  const opts = mode ? mode.split(',') : [];
  for (const o of opts) {
    if (o === 'ro') vol.read_only = true;
    else if (o === 'rw') vol.read_only = undefined;
    else if (o === 'z' || o === 'Z') vol.bind = { ...vol.bind, selinux: o };
    else if (o === 'nocopy') vol.volume = { ...vol.volume, nocopy: true };
    else if (PROPAGATION.has(o)) vol.bind = { ...vol.bind, propagation: o };
    else if (o !== '')
      return fail(ctx, path, `invalid volume mode ${JSON.stringify(o)} in ${JSON.stringify(spec)}`);
  }
  if (vol.read_only === undefined) delete vol.read_only;
  if (vol.type === 'bind') vol.bind = { create_host_path: true, ...vol.bind };
  else {
    delete vol.bind;
    vol.volume = { ...vol.volume };
  }
  return vol;
}

function canonicalVolumes(v: unknown, ctx: CanonicalContext, path: Path): unknown {
  if (!Array.isArray(v)) return v;
  return v.map((item, i) => {
    const p = [...path, i];
    if (typeof item === 'string') return parseVolumeShort(item, ctx, p);
    if (!isObj(item)) return item;
    const vol = { ...item } as VolumeMount;
    if (vol.read_only !== undefined)
      vol.read_only = toBool(vol.read_only, ctx, [...p, 'read_only']) as boolean;
    if (vol.type === 'bind' && typeof vol.source === 'string') vol.source = resolvePath(vol.source, ctx);
    if (isObj(vol.bind) && vol.bind.create_host_path !== undefined)
      vol.bind = {
        ...vol.bind,
        create_host_path: toBool(vol.bind.create_host_path, ctx, [
          ...p,
          'bind',
          'create_host_path',
        ]) as boolean,
      };
    if (isObj(vol.volume) && vol.volume.nocopy !== undefined)
      vol.volume = {
        ...vol.volume,
        nocopy: toBool(vol.volume.nocopy, ctx, [...p, 'volume', 'nocopy']) as boolean,
      };
    if (vol.type === 'volume' && vol.volume === undefined) vol.volume = {};
    return vol;
  });
}

// ---------- services

const BOOL_FIELDS = ['privileged', 'read_only', 'tty', 'stdin_open', 'init', 'oom_kill_disable'];
const INT_FIELDS = ['scale', 'cpu_shares', 'pids_limit', 'oom_score_adj', 'cpu_count', 'cpu_percent'];
const STRING_LIST_FIELDS = ['dns', 'dns_search', 'tmpfs', 'dns_opt'];

function canonicalService(raw: unknown, ctx: CanonicalContext, path: Path): unknown {
  if (raw === null || raw === undefined) return {};
  if (!isObj(raw)) return raw;
  const s: Tree = { ...raw };
  const at = (k: string, fn: (v: unknown, p: Path) => unknown) => {
    if (k in s) s[k] = through(s[k], (v) => fn(v, [...path, k]));
  };
  at('build', (v, p) => {
    const b: Tree = typeof v === 'string' ? { context: v } : isObj(v) ? { ...v } : {};
    const c = typeof b.context === 'string' ? b.context : '.';
    b.context = isRemoteContext(c) ? c : resolvePath(c, ctx);
    if (b.dockerfile === undefined && b.dockerfile_inline === undefined) b.dockerfile = 'Dockerfile';
    if (b.args !== undefined) b.args = listOrDictToMap(b.args);
    if (b.labels !== undefined) b.labels = listOrDictToMap(b.labels, '=', false);
    if (b.privileged !== undefined) b.privileged = toBool(b.privileged, ctx, [...p, 'privileged']);
    if (b.no_cache !== undefined) b.no_cache = toBool(b.no_cache, ctx, [...p, 'no_cache']);
    if (b.pull !== undefined) b.pull = toBool(b.pull, ctx, [...p, 'pull']);
    return b;
  });
  at('depends_on', (v, p) => {
    const out: Tree = {};
    if (Array.isArray(v))
      for (const n of v) out[String(n)] = { condition: 'service_started', required: true };
    else if (isObj(v))
      for (const [n, d] of Object.entries(v)) {
        if (d instanceof ResetTag) {
          out[n] = d;
          continue;
        }
        const dep: Tree = { condition: 'service_started', ...(isObj(d) ? d : {}) };
        dep.required = dep.required === undefined ? true : toBool(dep.required, ctx, [...p, n, 'required']);
        if (dep.restart !== undefined) dep.restart = toBool(dep.restart, ctx, [...p, n, 'restart']);
        out[n] = dep;
      }
    return out;
  });
  at('environment', (v) => listOrDictToMap(v));
  at('labels', (v) => listOrDictToMap(v, '=', false));
  at('annotations', (v) => listOrDictToMap(v, '=', false));
  at('sysctls', (v) => listOrDictToMap(v, '=', false));
  at('extra_hosts', (v) => {
    if (!Array.isArray(v)) return listOrDictToMap(v, '=', false);
    const out: Record<string, string> = {};
    for (const item of v) {
      const s = String(item);
      const i = s.includes('=') ? s.indexOf('=') : s.indexOf(':');
      if (i > 0) out[s.slice(0, i)] = s.slice(i + 1);
    }
    return out;
  });
  at('env_file', (v) => {
    const items = Array.isArray(v) ? v : [v];
    return items.map((e, i) => {
      const obj = isObj(e) ? e : { path: String(e) };
      const required =
        obj.required === undefined ? true : toBool(obj.required, ctx, [...path, 'env_file', i, 'required']);
      const entry: Tree = { path: resolvePath(String(obj.path), ctx), required };
      if (obj.format !== undefined) entry.format = obj.format;
      return entry;
    });
  });
  at('ports', (v, p) => canonicalPorts(v, ctx, p));
  at('volumes', (v, p) => canonicalVolumes(v, ctx, p));
  at('networks', (v) => {
    if (Array.isArray(v)) return Object.fromEntries(v.map((n) => [String(n), null]));
    return v;
  });
  for (const k of ['secrets', 'configs'])
    at(k, (v) => (Array.isArray(v) ? v.map((e) => (typeof e === 'string' ? { source: e } : e)) : v));
  at('extends', (v) => {
    const e: Tree = typeof v === 'string' ? { service: v } : isObj(v) ? { ...v } : {};
    if (typeof e.file === 'string') e.file = resolvePath(e.file, ctx);
    return e;
  });
  at('healthcheck', (v, p) => {
    if (!isObj(v)) return v;
    const h: Tree = { ...v };
    if (typeof h.test === 'string') h.test = ['CMD-SHELL', h.test];
    if (h.retries !== undefined) h.retries = toInt(h.retries, ctx, [...p, 'retries']);
    if (h.disable !== undefined) h.disable = toBool(h.disable, ctx, [...p, 'disable']);
    return h;
  });
  at('deploy', (v, p) => {
    if (!isObj(v)) return v;
    const d: Tree = { ...v };
    if (d.replicas !== undefined) d.replicas = toInt(d.replicas, ctx, [...p, 'replicas']);
    return d;
  });
  at('expose', (v) => (Array.isArray(v) ? v.map(String) : v));
  at('profiles', (v) => (Array.isArray(v) ? v.map(String) : v));
  at('cpus', (v, p) => toNumber(v, ctx, p));
  for (const k of BOOL_FIELDS) at(k, (v, p) => toBool(v, ctx, p));
  for (const k of INT_FIELDS) at(k, (v, p) => toInt(v, ctx, p));
  for (const k of STRING_LIST_FIELDS) at(k, (v) => (typeof v === 'string' ? [v] : v));
  return s;
}

function canonicalResources(v: unknown, kind: string, ctx: CanonicalContext): unknown {
  if (!isObj(v)) return v;
  const out: Tree = {};
  for (const [name, raw] of Object.entries(v)) {
    if (raw instanceof ResetTag) {
      out[name] = raw;
      continue;
    }
    out[name] = through(raw, (r) => {
      const res: Tree = isObj(r) ? { ...r } : {};
      const p = [kind, name];
      for (const b of ['external', 'internal', 'attachable', 'enable_ipv4', 'enable_ipv6'])
        if (res[b] !== undefined) res[b] = toBool(res[b], ctx, [...p, b]);
      if ((kind === 'secrets' || kind === 'configs') && typeof res.file === 'string')
        res.file = resolvePath(res.file, ctx);
      if (res.labels !== undefined) res.labels = listOrDictToMap(res.labels, '=', false);
      return res;
    });
  }
  return out;
}

/** The canonical form of one file's tree (which may still hold !reset / !override markers). */
export function canonicalize(tree: Tree, ctx: CanonicalContext): Tree {
  const out: Tree = { ...tree };
  if (isObj(out.services)) {
    const services: Tree = {};
    for (const [name, svc] of Object.entries(out.services))
      services[name] = through(svc, (v) => canonicalService(v, ctx, ['services', name]));
    out.services = services;
  }
  for (const kind of ['networks', 'volumes', 'secrets', 'configs'])
    if (kind in out) out[kind] = through(out[kind], (v) => canonicalResources(v ?? {}, kind, ctx));
  return out;
}
