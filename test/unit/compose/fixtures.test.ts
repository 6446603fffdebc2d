// Walks fixtures/valid/<name>/ (expected.yaml = canonical config output) and fixtures/invalid/<name>/
// (expected-error.txt = a substring of the error). args.json says what to load:
// { files, profiles, services, env, envFiles, projectName, projectDirectory, cwd, stdinFile }.
// Paths in expectations are written relative to the fixture as <dir>. UPDATE_FIXTURES=1 rewrites them.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type LoadOptions, loadProject, toYaml } from '../../../src/compose/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const update = process.env.UPDATE_FIXTURES === '1';

interface Args {
  files?: string[];
  profiles?: string[];
  services?: string[];
  env?: Record<string, string>;
  envFiles?: string[];
  projectName?: string;
  projectDirectory?: string;
  cwd?: string;
  stdinFile?: string;
}

function optionsFor(dir: string): LoadOptions {
  const argsPath = join(dir, 'args.json');
  const args: Args = existsSync(argsPath) ? JSON.parse(readFileSync(argsPath, 'utf8')) : {};
  return {
    workingDir: args.cwd ? join(dir, args.cwd) : dir,
    // A fixed environment keeps the fixtures independent of the machine running them.
    environment: { HOME: '/home/tester', ...args.env },
    files: args.files,
    profiles: args.profiles,
    services: args.services,
    envFiles: args.envFiles,
    projectName: args.projectName,
    projectDirectory: args.projectDirectory,
    stdin: args.stdinFile ? readFileSync(join(dir, args.stdinFile), 'utf8') : undefined,
  };
}

const relative = (s: string, dir: string) => s.split(dir).join('<dir>').split(dirname(dir)).join('<dir>/..');

const list = (kind: string) =>
  existsSync(join(root, kind))
    ? readdirSync(join(root, kind))
        .filter((n) => !n.startsWith('.'))
        .sort()
    : [];

for (const name of list('valid')) {
  test(`valid fixture ${name}`, async () => {
    const dir = join(root, 'valid', name);
    const { project, warnings } = await loadProject(optionsFor(dir));
    const out = relative(toYaml(project), dir);
    const expectedPath = join(dir, 'expected.yaml');
    const warnPath = join(dir, 'expected-warnings.txt');
    const warnText = warnings.map((w) => relative(w, dir)).join('\n');
    if (update) {
      writeFileSync(expectedPath, out);
      if (warnings.length > 0) writeFileSync(warnPath, `${warnText}\n`);
    }
    assert.equal(out, readFileSync(expectedPath, 'utf8'));
    if (existsSync(warnPath)) assert.equal(warnText, readFileSync(warnPath, 'utf8').trimEnd());
    else assert.deepEqual(warnings, []);
    // The canonical output is itself a compose file that loads back to the same model.
    const again = await loadProject({
      workingDir: dir,
      files: ['-'],
      stdin: toYaml(project),
      profiles: ['*'],
      environment: { HOME: '/home/tester' },
    });
    assert.equal(toYaml(again.project), toYaml(project));
    assert.deepEqual(again.warnings, []);
  });
}

for (const name of list('invalid')) {
  test(`invalid fixture ${name}`, async () => {
    const dir = join(root, 'invalid', name);
    const expectedPath = join(dir, 'expected-error.txt');
    let message: string | undefined;
    let status: number | undefined;
    try {
      await loadProject(optionsFor(dir));
    } catch (err) {
      message = relative((err as Error).message, dir);
      status = (err as { status?: number }).status;
    }
    assert.ok(message !== undefined, `${name} loaded without error`);
    if (update && !existsSync(expectedPath)) writeFileSync(expectedPath, `${message}\n`);
    const expected = readFileSync(expectedPath, 'utf8').trim();
    assert.ok(
      message.includes(expected),
      `error ${JSON.stringify(message)} lacks ${JSON.stringify(expected)}`,
    );
    assert.equal(status, 400);
  });
}

test('the fixture suite is big enough', () => {
  assert.ok(list('valid').length >= 25, `only ${list('valid').length} valid fixtures`);
  assert.ok(list('invalid').length >= 20, `only ${list('invalid').length} invalid fixtures`);
});
