// Parses one Compose file: YAML 1.2 with anchors, aliases and `<<` merge keys, plus the Compose tags
// `!reset` (drop the inherited value) and `!override` (replace it instead of merging).
import { isMap, isScalar, isSeq, type Node, parseDocument, Scalar, type ScalarTag, visit } from 'yaml';
import { badRequest } from '../../util/index.js';

/** `!reset`: the merged value is removed. */
export class ResetTag {
  readonly value: unknown = null;
}
/** `!override`: the merged value is replaced by `value` wholesale. */
export class OverrideTag {
  constructor(public value: unknown) {}
}

// File modes are written 0644 in most Compose files; Docker's YAML reader takes a leading 0 as octal.
const LEGACY_OCTAL: ScalarTag = {
  identify: (v) => typeof v === 'number',
  default: true,
  tag: 'tag:yaml.org,2002:int',
  format: 'OCT',
  test: /^0[0-7]+$/,
  resolve: (s: string) => Number.parseInt(s, 8),
};

const RESET = '\u0000compose-reset';
const OVERRIDE = '\u0000compose-override';

export function parseComposeYaml(text: string, file: string): Record<string, unknown> {
  const doc = parseDocument(text, {
    merge: true,
    prettyErrors: false,
    uniqueKeys: true,
    customTags: (tags) => [LEGACY_OCTAL, ...tags],
  });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const pos = e?.linePos?.[0];
    throw badRequest(`${file}${pos ? `:${pos.line}:${pos.col}` : ''}: yaml: ${e?.message.split('\n')[0]}`);
  }
  // Turn the tags into sentinels the plain-JS conversion keeps, then into marker objects.
  visit(doc, {
    Node(_key, node) {
      const n = node as Node & { tag?: string };
      if (n.tag === '!reset') {
        return new Scalar(RESET);
      }
      if (n.tag === '!override') {
        n.tag = undefined;
        if (isMap(n)) n.set(OVERRIDE, true);
        else if (isSeq(n)) n.items.unshift(new Scalar(OVERRIDE));
      }
      return undefined;
    },
  });
  const js = doc.toJS({ maxAliasCount: 1000 }) as unknown;
  if (js === null || js === undefined) throw badRequest(`${file}: empty compose file`);
  if (typeof js !== 'object' || Array.isArray(js))
    throw badRequest(`${file}: top-level object must be a mapping`);
  return toMarkers(js, file) as Record<string, unknown>;
}

function toMarkers(v: unknown, file: string, open: Set<object> = new Set()): unknown {
  if (v === RESET) return new ResetTag();
  if (v === null || typeof v !== 'object') return v;
  // An alias inside its own anchor makes a cyclic tree: refuse it rather than recurse forever.
  if (open.has(v)) throw badRequest(`${file}: yaml: an alias refers to a node that contains it`);
  open.add(v);
  let out: unknown;
  if (Array.isArray(v)) {
    const items = v.map((x) => toMarkers(x, file, open));
    out = v[0] === OVERRIDE ? new OverrideTag(items.slice(1)) : items;
  } else {
    const o = v as Record<string, unknown>;
    const m: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(o)) if (k !== OVERRIDE) m[k] = toMarkers(val, file, open);
    out = OVERRIDE in o ? new OverrideTag(m) : m;
  }
  open.delete(v);
  return out;
}

/** The tree with markers replaced by what they carry (what the schema sees). */
export function stripMarkers(v: unknown): unknown {
  if (v instanceof ResetTag) return null;
  if (v instanceof OverrideTag) return stripMarkers(v.value);
  // A reset entry disappears (its placeholder value may not fit the schema, e.g. `!reset null`).
  if (Array.isArray(v)) return v.filter((x) => !(x instanceof ResetTag)).map(stripMarkers);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(v)) if (!(val instanceof ResetTag)) out[k] = stripMarkers(val);
    return out;
  }
  return v;
}

export { isScalar };
