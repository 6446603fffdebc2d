// Validation of one interpolated Compose file against the Compose Specification's JSON schema
// (draft-07), with errors worded like docker compose: "services.web Additional property foo is not allowed".
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Ajv, ErrorObject, ValidateFunction } from 'ajv';
import { badRequest, internal, sha256 } from '../../util/index.js';
import { formatPath } from './interpolate.js';

const SCHEMA_REL = join('specs', 'compose', 'compose-spec.json');

/** Where the schema lives: $BERTH_COMPOSE_SCHEMA, else a `shared/specs` or `specs` folder above this module. */
export function findSchemaPath(env: Record<string, string | undefined> = process.env): string | undefined {
  if (env.BERTH_COMPOSE_SCHEMA && existsSync(env.BERTH_COMPOSE_SCHEMA)) return env.BERTH_COMPOSE_SCHEMA;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    for (const c of [join(dir, 'shared', SCHEMA_REL), join(dir, SCHEMA_REL)]) if (existsSync(c)) return c;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

let validator: ValidateFunction | undefined;

/** Bumped when the Ajv options below change: the cached code must come from the same options. */
const CODE_VERSION = 1;

/** Where the compiled validator is kept between runs: $BERTH_CACHE_DIR, else ~/.cache/berth. */
function cacheDir(): string {
  return (
    process.env.BERTH_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'berth')
  );
}

let source: { text: string; key: string } | undefined;

/** The schema's text and the key its cached validator and validation results go by. */
function schemaSource(): { text: string; key: string } {
  if (source) return source;
  const path = findSchemaPath();
  if (!path) throw internal(`compose schema not found (looked for ${SCHEMA_REL}; set BERTH_COMPOSE_SCHEMA)`);
  const text = readFileSync(path, 'utf8');
  source = { text, key: sha256(`${CODE_VERSION}\n${text}`).slice(7, 23) };
  return source;
}

/** Evaluates Ajv's standalone (CommonJS) validator code, its `require` resolving from this module. */
function loadStandalone(code: string): ValidateFunction {
  const mod: { exports: { default?: ValidateFunction } & Partial<ValidateFunction> } = { exports: {} };
  new Function('require', 'module', 'exports', code)(createRequire(import.meta.url), mod, mod.exports);
  const fn = mod.exports.default ?? (mod.exports as ValidateFunction);
  if (typeof fn !== 'function') throw new Error('not a validator module');
  return fn;
}

/**
 * The schema's validator. Compiling the Compose schema costs a few hundred ms — most of a CLI call — so
 * the compiled code is cached on disk, keyed by the schema's and the options' hash, and later calls
 * only evaluate it. The cache is best effort: unreadable or unwritable, the schema is compiled again.
 */
function getValidator(): ValidateFunction {
  if (validator) return validator;
  const { text, key } = schemaSource();
  const cached = join(cacheDir(), `compose-schema-${key}.cjs`);
  try {
    validator = loadStandalone(readFileSync(cached, 'utf8'));
    return validator;
  } catch {
    // not cached yet (or damaged): compile below
  }
  const schema = JSON.parse(text) as Record<string, unknown>;
  // The schema names the draft-07 meta-schema by an https URL ajv does not know; ajv's default is draft-07.
  delete schema.$schema;
  // Ajv itself is loaded only here, on a cache miss (a CLI call with a warm cache never pays for it).
  const require = createRequire(import.meta.url);
  const { Ajv: AjvClass } = require('ajv') as { Ajv: typeof Ajv };
  const ajv = new AjvClass({
    allErrors: false,
    strict: false,
    allowUnionTypes: true,
    code: { source: true },
  });
  // Formats docker compose's schema used in older revisions (the current one has none): accepted as is,
  // so the standalone code needs no format functions.
  for (const f of ['duration', 'ports', 'expose']) ajv.addFormat(f, true);
  validator = ajv.compile(schema);
  try {
    const standalone = require('ajv/dist/standalone') as (a: Ajv, v: ValidateFunction) => string;
    mkdirSync(cacheDir(), { recursive: true, mode: 0o700 });
    // Synchronous temp + rename: a CLI that exits right after loading still leaves a whole file or none.
    const tmp = `${cached}.${process.pid}.tmp`;
    writeFileSync(tmp, standalone(ajv, validator), { mode: 0o600 });
    renameSync(tmp, cached);
  } catch {
    // best effort: the next run compiles again
  }
  return validator;
}

function pathOf(instancePath: string): (string | number)[] {
  return instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

const TYPE_NAMES: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'a boolean',
  null: 'null',
};

function describe(e: ErrorObject): string {
  const path = formatPath(pathOf(e.instancePath)) || '(root)';
  switch (e.keyword) {
    case 'additionalProperties':
      return `${path} Additional property ${(e.params as { additionalProperty: string }).additionalProperty} is not allowed`;
    case 'type': {
      const t = (e.params as { type: string | string[] }).type;
      return `${path} must be ${(Array.isArray(t) ? t : [t]).map((x) => TYPE_NAMES[x] ?? `a ${x}`).join(' or ')}`;
    }
    case 'required':
      return `${path} ${(e.params as { missingProperty: string }).missingProperty} is required`;
    case 'enum':
      return `${path} must be one of ${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)}`;
    case 'pattern':
      return `${path} does not match pattern ${(e.params as { pattern: string }).pattern}`;
    case 'uniqueItems':
      return `${path} must contain unique items`;
    default:
      return `${path} ${e.message ?? 'is invalid'}`;
  }
}

/** How many recently passed documents are remembered (a line of 32 hex digits each). */
const PASSED_KEEP = 256;

/**
 * Documents that passed validation lately, by hash: validation is a pure function of the document and
 * the schema, so an unchanged file (every command after the first on a project) skips loading and
 * running the validator, which is most of a short command's own time. Only passes are remembered;
 * a failing document is validated every time, for its error.
 */
const passed = {
  file: () => join(cacheDir(), `compose-valid-${schemaSource().key}.txt`),
  hashes: undefined as string[] | undefined,
  load(): string[] {
    if (this.hashes) return this.hashes;
    try {
      this.hashes = readFileSync(this.file(), 'utf8').split('\n').filter(Boolean);
    } catch {
      this.hashes = [];
    }
    return this.hashes;
  },
  has(hash: string): boolean {
    return this.load().includes(hash);
  },
  add(hash: string): void {
    const hashes = [...this.load().filter((h) => h !== hash), hash].slice(-PASSED_KEEP);
    this.hashes = hashes;
    try {
      mkdirSync(cacheDir(), { recursive: true, mode: 0o700 });
      const tmp = `${this.file()}.${process.pid}.tmp`;
      writeFileSync(tmp, `${hashes.join('\n')}\n`, { mode: 0o600 });
      renameSync(tmp, this.file());
    } catch {
      // best effort: the next run validates again
    }
  },
};

/** Throws a 400 naming the file and the offending path. */
export function validateSchema(tree: unknown, file: string): void {
  const hash = sha256(JSON.stringify(tree) ?? 'undefined').slice(7, 39);
  if (passed.has(hash)) return;
  const validate = getValidator();
  if (validate(tree)) {
    passed.add(hash);
    return;
  }
  const errors = validate.errors ?? [];
  // ajv reports the innermost failure first; prefer the deepest path and an "additional property".
  const best = [...errors].sort(
    (a, b) =>
      b.instancePath.split('/').length - a.instancePath.split('/').length ||
      Number(b.keyword === 'additionalProperties') - Number(a.keyword === 'additionalProperties'),
  )[0];
  throw badRequest(`validating ${file}: ${best ? describe(best) : 'invalid compose file'}`);
}
