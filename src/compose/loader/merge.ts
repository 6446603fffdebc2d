// Merges canonical Compose trees by the spec's rules: mappings merged key by key, sequences appended,
// ports/volumes/secrets/configs merged by their unique key, command/entrypoint/healthcheck.test
// replaced, logging replaced when the driver changes, `!reset` removes and `!override` replaces.
import { OverrideTag, ResetTag, stripMarkers } from './yaml.js';

type Tree = Record<string, unknown>;
const isObj = (v: unknown): v is Tree =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

const OVERRIDE = new Set(['command', 'entrypoint']);
const UNIQUE_LISTS = new Set([
  'dns',
  'dns_search',
  'dns_opt',
  'cap_add',
  'cap_drop',
  'profiles',
  'tmpfs',
  'expose',
  'security_opt',
  'group_add',
  'external_links',
  'links',
  'volumes_from',
  'devices',
]);

function portKey(p: unknown): string {
  const o = (isObj(p) ? p : {}) as Tree;
  return `${o.host_ip ?? ''}:${o.published ?? ''}:${o.target}/${o.protocol ?? 'tcp'}`;
}
const targetKey = (v: unknown) => String((isObj(v) ? (v.target ?? v.source) : v) ?? '');
const fileRefKey = (v: unknown) => (isObj(v) ? String(v.target ?? v.source) : String(v));
const envFileKey = (v: unknown) => (isObj(v) ? String(v.path) : String(v));

function keyFor(path: string[]): ((v: unknown) => string) | undefined {
  if (path.length !== 3 || path[0] !== 'services') return undefined;
  switch (path[2]) {
    case 'ports':
      return portKey;
    case 'volumes':
      return targetKey;
    case 'secrets':
    case 'configs':
      return fileRefKey;
    case 'env_file':
      return envFileKey;
    default:
      return UNIQUE_LISTS.has(path[2] as string) ? (v) => JSON.stringify(v) : undefined;
  }
}

/** Merges `over` onto `base` at `path` (keys from the root); returns undefined to delete. */
export function mergeValue(base: unknown, over: unknown, path: string[]): unknown {
  if (over instanceof ResetTag) return undefined;
  if (over instanceof OverrideTag) return stripMarkers(over.value);
  base = stripMarkers(base);
  if (base === undefined || base === null) return stripMarkers(over);
  const inService = path.length >= 3 && path[0] === 'services';
  if (inService && path.length === 3 && OVERRIDE.has(path[2] as string)) return stripMarkers(over);
  if (inService && path.length === 4 && path[2] === 'healthcheck' && path[3] === 'test')
    return stripMarkers(over);
  if (inService && path.length === 3 && path[2] === 'logging' && isObj(base) && isObj(over)) {
    if (base.driver !== undefined && over.driver !== undefined && base.driver !== over.driver)
      return stripMarkers(over);
  }
  if (Array.isArray(base) && Array.isArray(over)) {
    const key = keyFor(path);
    if (!key) return [...base, ...over.map(stripMarkers)];
    const out = [...base];
    for (const o of over) {
      const k = key(o);
      const i = out.findIndex((b) => key(b) === k);
      if (i < 0) out.push(stripMarkers(o));
      else {
        const b = out[i];
        // Same key: merge the entries, unless they are different kinds of mount (then the new one wins).
        const sameKind =
          isObj(b) && isObj(o) && (b.type === undefined || o.type === undefined || b.type === o.type);
        out[i] = sameKind ? mergeValue(b, o, [...path, '*']) : stripMarkers(o);
      }
    }
    return out;
  }
  if (isObj(base) && isObj(over)) return mergeMapping(base, over, path);
  return stripMarkers(over);
}

function mergeMapping(base: Tree, over: Tree, path: string[]): Tree {
  const out: Tree = { ...base };
  for (const [k, v] of Object.entries(over)) {
    // Extensions are opaque: replaced, never merged.
    if (k.startsWith('x-') || !(k in out)) {
      if (v instanceof ResetTag) delete out[k];
      else out[k] = stripMarkers(v);
      continue;
    }
    // Service names, network names... are map keys: '*' keeps the path patterns simple.
    const seg = path.length === 1 && path[0] === 'services' ? '*' : k;
    const merged = mergeValue(out[k], v, [...path, seg]);
    if (merged === undefined) delete out[k];
    else out[k] = merged;
  }
  return out;
}

/** Merges whole files in order. */
export function mergeTrees(trees: Tree[]): Tree {
  let out: Tree = {};
  for (const t of trees) out = mergeValue(out, t, []) as Tree;
  return out;
}

/** Merges one service definition onto another (for extends). */
export function mergeService(base: Tree, over: Tree): Tree {
  return mergeValue(base, over, ['services', '*']) as Tree;
}
