// `config` output: the canonical project as YAML or JSON with keys in docker compose's order, and the
// --services / --volumes / --profiles / --images lists.
import { Document, isScalar, visit } from 'yaml';
import type { Project } from './types.js';

type Tree = Record<string, unknown>;
const isObj = (v: unknown): v is Tree => v !== null && typeof v === 'object' && !Array.isArray(v);

const ORDER: Record<string, string[]> = {
  port: ['name', 'mode', 'host_ip', 'target', 'published', 'protocol', 'app_protocol'],
  volume: ['type', 'source', 'target', 'read_only', 'consistency', 'bind', 'volume', 'tmpfs', 'image'],
  bind: ['propagation', 'create_host_path', 'selinux'],
  depends: ['condition', 'restart', 'required'],
  build: ['context', 'dockerfile', 'dockerfile_inline'],
  healthcheck: ['test', 'timeout', 'interval', 'retries', 'start_period', 'start_interval', 'disable'],
  network: ['name', 'driver', 'driver_opts', 'ipam', 'external', 'internal', 'attachable', 'labels'],
  volumeRes: ['name', 'driver', 'driver_opts', 'external', 'labels'],
  secret: ['name', 'file', 'environment', 'content', 'external', 'labels'],
  fileRef: ['source', 'target', 'uid', 'gid', 'mode'],
  envFile: ['path', 'required'],
};

/** Keys in `preferred` order first, then the rest alphabetically; `nested` orders child values. */
function ordered(
  obj: Tree,
  preferred: string[] = [],
  nested: (k: string, v: unknown) => unknown = sorted,
): Tree {
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined);
  const rank = (k: string) => {
    const i = preferred.indexOf(k);
    return i < 0 ? preferred.length : i;
  };
  keys.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  const out: Tree = {};
  for (const k of keys) out[k] = nested(k, obj[k]);
  return out;
}

/** Plain alphabetical ordering, all the way down. */
function sorted(_k: string, v: unknown): unknown {
  if (Array.isArray(v)) return v.map((x) => sorted('', x));
  if (isObj(v)) return ordered(v);
  return v;
}

const each = (order: string[]) => (_k: string, v: unknown) =>
  Array.isArray(v) ? v.map((x) => (isObj(x) ? ordered(x, order, volumeChild) : x)) : v;

function volumeChild(k: string, v: unknown): unknown {
  if (k === 'bind' && isObj(v)) return ordered(v, ORDER.bind);
  return sorted(k, v);
}

function serviceChild(k: string, v: unknown): unknown {
  switch (k) {
    case 'ports':
      return each(ORDER.port as string[])(k, v);
    case 'volumes':
      return each(ORDER.volume as string[])(k, v);
    case 'secrets':
    case 'configs':
      return each(ORDER.fileRef as string[])(k, v);
    case 'env_file':
      return each(ORDER.envFile as string[])(k, v);
    case 'depends_on':
      return isObj(v) ? ordered(v, [], (_d, dep) => (isObj(dep) ? ordered(dep, ORDER.depends) : dep)) : v;
    case 'build':
      return isObj(v) ? ordered(v, ORDER.build) : v;
    case 'healthcheck':
      return isObj(v) ? ordered(v, ORDER.healthcheck) : v;
    case 'command':
    case 'entrypoint':
      return v;
    default:
      return sorted(k, v);
  }
}

/** The project as `docker compose config` shows it (a plain object, keys in print order). */
export function toConfigObject(p: Project): Tree {
  const out: Tree = { name: p.name };
  const services: Tree = {};
  for (const n of Object.keys(p.services).sort()) {
    const { name: _name, ...rest } = p.services[n] as Tree;
    services[n] = ordered(rest, [], serviceChild);
  }
  out.services = services;
  const section = (res: Record<string, Tree>, order: string[]) => {
    const o: Tree = {};
    for (const k of Object.keys(res).sort()) o[k] = ordered(res[k] as Tree, order);
    return o;
  };
  if (Object.keys(p.networks).length) out.networks = section(p.networks, ORDER.network as string[]);
  if (Object.keys(p.volumes).length) out.volumes = section(p.volumes, ORDER.volumeRes as string[]);
  if (Object.keys(p.secrets).length) out.secrets = section(p.secrets, ORDER.secret as string[]);
  if (Object.keys(p.configs).length) out.configs = section(p.configs, ORDER.secret as string[]);
  for (const k of Object.keys(p.extensions).sort()) out[k] = sorted(k, p.extensions[k]);
  return escapeDollars(out) as Tree;
}

/** Literal '$' is printed as '$$', as docker compose does, so the output loads again unchanged. */
function escapeDollars(v: unknown): unknown {
  if (typeof v === 'string') return v.replaceAll('$', '$$$$');
  if (Array.isArray(v)) return v.map(escapeDollars);
  if (isObj(v)) {
    const out: Tree = {};
    for (const [k, x] of Object.entries(v)) out[k] = escapeDollars(x);
    return out;
  }
  return v;
}

const YAML11_BOOL = /^(y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$/;

export function toYaml(p: Project): string {
  const doc = new Document(toConfigObject(p), { aliasDuplicateObjects: false });
  // Quote strings a YAML 1.1 reader (docker compose itself) would take for booleans.
  visit(doc, {
    Scalar(_k, node) {
      if (isScalar(node) && typeof node.value === 'string' && YAML11_BOOL.test(node.value))
        node.type = 'QUOTE_DOUBLE';
    },
  });
  return doc.toString({ lineWidth: 0 });
}

export function toJson(p: Project): string {
  return `${JSON.stringify(toConfigObject(p), null, 2)}\n`;
}

export const listServices = (p: Project): string[] => Object.keys(p.services).sort();
export const listVolumes = (p: Project): string[] => Object.keys(p.volumes).sort();
export const listNetworks = (p: Project): string[] => Object.keys(p.networks).sort();

/** Every profile any service declares, enabled or not. */
export function listProfiles(p: Project): string[] {
  const set = new Set<string>();
  for (const s of [...Object.values(p.services), ...Object.values(p.disabledServices)])
    for (const pr of s.profiles ?? []) set.add(pr);
  return [...set].sort();
}

/** The image each service runs: its `image`, or `<project>-<service>` for a service that is only built. */
export function imageName(p: Project, service: string): string {
  const s = p.services[service] ?? p.disabledServices[service];
  return s?.image ?? `${p.name}-${service}`;
}

export function listImages(p: Project): string[] {
  return listServices(p).map((n) => imageName(p, n));
}
