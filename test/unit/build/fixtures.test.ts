// Fixture tests in BuildKit's style: every fixtures/valid/<name>/Dockerfile must parse to its
// expected.json; every fixtures/invalid/<name>/Dockerfile must fail with expected-error.txt (invalid ones
// also go through the executor's pre-flight platform check, which refuses a foreign FROM --platform).
// UPDATE_FIXTURES=1 rewrites the expected files (review the diff before committing).
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkBuildPlatforms } from '../../../src/build/executor/platform.js';
import {
  type Dockerfile,
  type Instruction,
  parseDockerfile,
  resolveStages,
} from '../../../src/build/index.js';

const here = new URL('.', import.meta.url).pathname;
const validDir = join(here, 'fixtures', 'valid');
const invalidDir = join(here, 'fixtures', 'invalid');
const update = process.env.UPDATE_FIXTURES === '1';

/** JSON with sorted keys so dumps are stable. */
function stable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stable);
  if (value instanceof Map) return stable(Object.fromEntries(value));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) out[k] = stable((value as Record<string, unknown>)[k]);
    return out;
  }
  return value;
}

function compact(i: Instruction): Record<string, unknown> {
  const { location, ...rest } = i;
  const lines =
    location.startLine === location.endLine
      ? `${location.startLine}`
      : `${location.startLine}-${location.endLine}`;
  const out: Record<string, unknown> = { lines, ...rest };
  if (i.kind === 'ONBUILD') out.instruction = compact(i.instruction);
  return out;
}

/** The dump: parse result, expansion in scope, and the stage graph for the default target. */
function dump(df: Dockerfile): unknown {
  const graph = resolveStages(df, { buildPlatform: 'linux/amd64', targetPlatform: 'linux/amd64' });
  return stable({
    directives: df.directives,
    metaArgs: df.metaArgs.map(compact),
    stages: df.stages.map((s) => {
      const r = graph.all[s.index]!;
      return {
        index: s.index,
        name: s.name,
        base: s.base,
        resolvedBase: r.base,
        platform: r.platform,
        dependsOn: r.dependsOn,
        externalImages: r.externalImages,
        from: compact(s.from),
        instructions: s.instructions.map((instr, n) => {
          const step = r.steps[n]!;
          const c = compact(instr);
          const e = compact(step.expanded);
          if (JSON.stringify(e) !== JSON.stringify(c)) c.expanded = e;
          if (step.unset.length) c.unset = step.unset;
          return c;
        }),
        env: r.finalEnv,
      };
    }),
    graph: { target: graph.target, order: graph.order, groups: graph.groups },
    warnings: df.warnings,
  });
}

const dirs = (d: string) => (existsSync(d) ? readdirSync(d).sort() : []);

test('fixture corpus is broad enough', () => {
  assert.ok(dirs(validDir).length >= 40, `valid fixtures: ${dirs(validDir).length}`);
  assert.ok(dirs(invalidDir).length >= 25, `invalid fixtures: ${dirs(invalidDir).length}`);
});

for (const name of dirs(validDir)) {
  test(`valid fixture: ${name}`, () => {
    const dir = join(validDir, name);
    const text = readFileSync(join(dir, 'Dockerfile'), 'utf8');
    const got = `${JSON.stringify(dump(parseDockerfile(text)), null, 2)}\n`;
    const expectedFile = join(dir, 'expected.json');
    if (update) writeFileSync(expectedFile, got);
    assert.equal(got, readFileSync(expectedFile, 'utf8'));
  });
}

for (const name of dirs(invalidDir)) {
  test(`invalid fixture: ${name}`, () => {
    const dir = join(invalidDir, name);
    const text = readFileSync(join(dir, 'Dockerfile'), 'utf8');
    let message: string | undefined;
    try {
      const df = parseDockerfile(text);
      checkBuildPlatforms(resolveStages(df), df.filename, undefined, { os: 'linux', arch: 'amd64' });
    } catch (err) {
      assert.equal((err as { status?: number }).status, 400, `not a 400: ${String(err)}`);
      message = (err as Error).message;
    }
    assert.ok(message !== undefined, 'expected an error');
    const expectedFile = join(dir, 'expected-error.txt');
    if (update) writeFileSync(expectedFile, `${message}\n`);
    assert.equal(`${message}\n`, readFileSync(expectedFile, 'utf8'));
  });
}
