// Validation of one interpolated Compose file against the Compose Specification's JSON schema
// (draft-07), with errors worded like docker compose: "services.web Additional property foo is not allowed".
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { badRequest, internal } from '../../util/index.js';
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

function getValidator(): ValidateFunction {
  if (validator) return validator;
  const path = findSchemaPath();
  if (!path) throw internal(`compose schema not found (looked for ${SCHEMA_REL}; set BERTH_COMPOSE_SCHEMA)`);
  const schema = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  // The schema names the draft-07 meta-schema by an https URL ajv does not know; ajv's default is draft-07.
  delete schema.$schema;
  const ajv = new Ajv({ allErrors: false, strict: false, allowUnionTypes: true });
  const addFormats = addFormatsModule as unknown as (a: Ajv) => Ajv;
  addFormats(ajv);
  // Formats docker compose's schema used in older revisions; harmless if unused.
  ajv.addFormat('duration', /^[-+]?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/);
  ajv.addFormat('ports', true);
  ajv.addFormat('expose', true);
  validator = ajv.compile(schema);
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

/** Throws a 400 naming the file and the offending path. */
export function validateSchema(tree: unknown, file: string): void {
  const validate = getValidator();
  if (validate(tree)) return;
  const errors = validate.errors ?? [];
  // ajv reports the innermost failure first; prefer the deepest path and an "additional property".
  const best = [...errors].sort(
    (a, b) =>
      b.instancePath.split('/').length - a.instancePath.split('/').length ||
      Number(b.keyword === 'additionalProperties') - Number(a.keyword === 'additionalProperties'),
  )[0];
  throw badRequest(`validating ${file}: ${best ? describe(best) : 'invalid compose file'}`);
}
