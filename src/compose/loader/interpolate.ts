// Compose variable substitution: ${VAR}, $VAR, ${VAR:-d}, ${VAR-d}, ${VAR:?e}, ${VAR?e}, ${VAR:+r},
// ${VAR+r}, $$ escapes, and nested templates inside the default / alternative text.
import { badRequest } from '../../util/index.js';

export type Lookup = (name: string) => string | undefined;

export interface SubstituteHooks {
  /** Called for a plain ${VAR} / $VAR that is not set (docker compose warns and uses ""). */
  onUnset?: (name: string) => void;
}

/** Raised for a missing required variable or a malformed template; callers add file and path. */
export class TemplateError extends Error {
  override name = 'TemplateError';
}

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;

/** Substitutes every variable in `template`. Throws TemplateError. */
export function substitute(template: string, lookup: Lookup, hooks: SubstituteHooks = {}): string {
  let out = '';
  let i = 0;
  while (i < template.length) {
    const c = template[i];
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = template[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next !== undefined && NAME_START.test(next)) {
      let j = i + 1;
      while (j < template.length && NAME_CHAR.test(template[j] as string)) j++;
      const name = template.slice(i + 1, j);
      const v = lookup(name);
      if (v === undefined) hooks.onUnset?.(name);
      out += v ?? '';
      i = j;
      continue;
    }
    if (next === '{') {
      const end = matchingBrace(template, i + 2);
      if (end < 0) throw new TemplateError(`Invalid template: "${template}"`);
      out += expandBraced(template.slice(i + 2, end), template, lookup, hooks);
      i = end + 1;
      continue;
    }
    // A lone '$' (end of string, or followed by a character that starts no variable).
    throw new TemplateError(`Invalid template: "${template}"`);
  }
  return out;
}

/** Index of the '}' closing a '${' whose body starts at `start`, honouring nested '${...}'. */
function matchingBrace(s: string, start: number): number {
  let depth = 1;
  for (let i = start; i < s.length; i++) {
    if (s[i] === '$' && s[i + 1] === '$') {
      i++;
    } else if (s[i] === '$' && s[i + 1] === '{') {
      depth++;
      i++;
    } else if (s[i] === '}') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

function expandBraced(body: string, template: string, lookup: Lookup, hooks: SubstituteHooks): string {
  let j = 0;
  if (!NAME_START.test(body[0] ?? '')) throw new TemplateError(`Invalid template: "${template}"`);
  while (j < body.length && NAME_CHAR.test(body[j] as string)) j++;
  const name = body.slice(0, j);
  const rest = body.slice(j);
  const value = lookup(name);
  if (rest === '') {
    if (value === undefined) hooks.onUnset?.(name);
    return value ?? '';
  }
  const op = rest.startsWith(':') ? rest.slice(0, 2) : rest.slice(0, 1);
  const arg = rest.slice(op.length);
  // The argument is itself a template, expanded only when used (so an unused ${X:?...} never fails).
  const expandArg = () => substitute(arg, lookup, hooks);
  switch (op) {
    case ':-':
      return value === undefined || value === '' ? expandArg() : value;
    case '-':
      return value === undefined ? expandArg() : value;
    case ':?':
      if (value === undefined || value === '') throw requiredError(name, expandArg());
      return value;
    case '?':
      if (value === undefined) throw requiredError(name, expandArg());
      return value;
    case ':+':
      return value === undefined || value === '' ? '' : expandArg();
    case '+':
      return value === undefined ? '' : expandArg();
    default:
      throw new TemplateError(`Invalid template: "${template}"`);
  }
}

function requiredError(name: string, message: string): TemplateError {
  return new TemplateError(
    message === ''
      ? `required variable ${name} is missing a value`
      : `required variable ${name} is missing a value: ${message}`,
  );
}

/** Path of a value inside the model, printed as docker compose does: services.web.ports[0]. */
export function formatPath(path: readonly (string | number)[]): string {
  let s = '';
  for (const p of path) {
    if (typeof p === 'number') s += `[${p}]`;
    else s += s === '' ? p : `.${p}`;
  }
  return s;
}

/**
 * Interpolates every string value (never the keys) of a parsed YAML tree, in place-free fashion.
 * `wrap` lets callers keep their own marker objects (reset/override tags) intact.
 */
export function interpolateTree(
  value: unknown,
  lookup: Lookup,
  file: string,
  onUnset: (name: string) => void,
  path: (string | number)[] = [],
): unknown {
  if (typeof value === 'string') {
    try {
      return substitute(value, lookup, { onUnset });
    } catch (err) {
      if (err instanceof TemplateError)
        throw badRequest(`${file}: error while interpolating ${formatPath(path)}: ${err.message}`);
      throw err;
    }
  }
  if (Array.isArray(value))
    return value.map((v, i) => interpolateTree(v, lookup, file, onUnset, [...path, i]));
  if (value !== null && typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      // A marker object (e.g. !override); interpolate what it wraps.
      const m = value as { value?: unknown };
      if ('value' in m) {
        const copy = Object.create(proto) as { value?: unknown };
        copy.value = interpolateTree(m.value, lookup, file, onUnset, path);
        return copy;
      }
      return value;
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      out[k] = interpolateTree(v, lookup, file, onUnset, [...path, k]);
    return out;
  }
  return value;
}
