import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  cleanIgnorePattern,
  IgnoreMatcher,
  parseDockerignore,
  readDockerignore,
  walkContext,
} from '../../../src/build/index.js';
import { tempDir } from '../../helpers/index.js';

test('parseDockerignore: comments, blanks, cleaning, exceptions', () => {
  const text =
    '\ufeff# comment\n\n  spaced  \n./lead/dot\n/abs/path\ntrail/\n! keep.txt\na//b/../c\n #not-a-comment\n';
  assert.deepEqual(parseDockerignore(text), [
    'spaced',
    'lead/dot',
    'abs/path',
    'trail',
    '!keep.txt',
    'a/c',
    '#not-a-comment',
  ]);
  assert.equal(cleanIgnorePattern('/'), '/');
  assert.equal(cleanIgnorePattern('./'), '.');
  assert.equal(cleanIgnorePattern('a/./b/'), 'a/b');
});

// [patterns, path, excluded?] — Docker's patternmatcher semantics.
const table: [string[], string, boolean][] = [
  [['*.md'], 'README.md', true],
  [['*.md'], 'docs/README.md', false],
  [['**/*.md'], 'docs/README.md', true],
  [['**/*.md'], 'README.md', true],
  [['docs'], 'docs/a/b.txt', true],
  [['docs'], 'docsx', false],
  [['docs/'], 'docs/a', true],
  [['/docs'], 'docs/a', true],
  [['./docs'], 'docs/a', true],
  [['a/*/c'], 'a/b/c', true],
  [['a/*/c'], 'a/b/x/c', false],
  [['a/**/c'], 'a/b/x/c', true],
  [['a/**/c'], 'a/c', true],
  [['a/**'], 'a/b/c', true],
  [['**'], 'anything/at/all', true],
  [['file?.txt'], 'file1.txt', true],
  [['file?.txt'], 'file12.txt', false],
  [['file?.txt'], 'file/.txt', false],
  [['[abc].txt'], 'b.txt', true],
  [['[abc].txt'], 'd.txt', false],
  [['[a-c].txt'], 'c.txt', true],
  [['[!a].txt'], 'a.txt', false],
  [['[!a].txt'], 'b.txt', true],
  [['a\\*b'], 'a*b', true],
  [['a\\*b'], 'axb', false],
  [['*.go', '!main.go'], 'main.go', false],
  [['*.go', '!main.go'], 'util.go', true],
  [['!main.go', '*.go'], 'main.go', true],
  [['node_modules', '!node_modules/keep'], 'node_modules/keep/x.js', false],
  [['node_modules', '!node_modules/keep'], 'node_modules/other/x.js', true],
  [['*', '!src', 'src/*.tmp'], 'src/a.tmp', true],
  [['*', '!src', 'src/*.tmp'], 'src/a.ts', false],
  [['*', '!src'], 'README', true],
  [['.git'], '.git/HEAD', true],
  [['.*'], '.env', true],
  [['a.b'], 'aXb', false],
  [['(x)'], '(x)', true],
  [['.'], 'anything', false],
  [['.'], '.', true],
  [[], 'x', false],
  [['**/foo/**'], 'a/b/foo/c/d', true],
  [['**/foo/**'], 'foo/x', true],
  [['**/foo/**'], 'afoo/x', false],
  [['a/**/b/**/c'], 'a/x/b/y/z/c', true],
  [['a/**/b/**/c'], 'a/b/c', true],
  [['a/**/b/**/c'], 'a/xb/c', false],
  [['a**b'], 'ab', true],
  [['a**b'], 'ax/b', true],
  [['a**b'], 'axb', false],
  [['[a-c][!0-9]'], 'bx', true],
  [['[a-c][!0-9]'], 'b1', false],
  [['[\\]]x'], ']x', true],
  [['*.txt'], 'dir.txt/inner', true],
  [['dir/*'], 'dir', false],
  [['dir/*'], 'dir/sub/file', true],
];

test('no pattern makes matching backtrack', () => {
  const m = new IgnoreMatcher(['*a*a*a*a*a*a*a*a*a*a*b', '**/**/**/**/**/**/x']);
  const name = 'a'.repeat(255);
  assert.equal(m.matches(name), false);
  assert.equal(m.matches(`${'d/'.repeat(60)}y`), false);
  assert.equal(m.matches(`${'d/'.repeat(60)}x`), true);
});

test('IgnoreMatcher.matches follows Docker rules', () => {
  for (const [patterns, path, want] of table) {
    const m = new IgnoreMatcher(patterns);
    assert.equal(m.matches(path), want, `${JSON.stringify(patterns)} ${path}`);
  }
});

test('mayIncludeBelow: only walk an excluded directory when an exception could match inside', () => {
  const m = new IgnoreMatcher([
    'node_modules',
    '!node_modules/keep/**',
    'build',
    '!**/*.keep',
    'x',
    '!x/y/z',
  ]);
  assert.equal(m.mayIncludeBelow('node_modules'), true);
  assert.equal(m.mayIncludeBelow('node_modules/keep'), true);
  assert.equal(m.mayIncludeBelow('build'), true, '**/ exception can match anywhere');
  assert.equal(m.mayIncludeBelow('x'), true);
  assert.equal(m.mayIncludeBelow('x/y'), true);
  assert.equal(m.mayIncludeBelow('x/q'), true, '**/*.keep could match under x/q');
  const n = new IgnoreMatcher(['vendor', '!src/keep']);
  assert.equal(n.mayIncludeBelow('vendor'), false);
  assert.equal(new IgnoreMatcher(['vendor']).mayIncludeBelow('vendor'), false);
});

test('bad patterns are 400 errors', () => {
  assert.throws(
    () => new IgnoreMatcher(['[abc']),
    (e: unknown) => (e as { status?: number }).status === 400,
  );
  assert.throws(() => new IgnoreMatcher(['!']), /illegal exclusion pattern/);
});

function makeContext(root: string): void {
  const files = [
    'Dockerfile',
    'README.md',
    'src/main.ts',
    'src/util.ts',
    'src/util.test.ts',
    'node_modules/a/index.js',
    'node_modules/keep/index.js',
    'node_modules/keep/sub/x.js',
    'build/out.bin',
    '.git/HEAD',
  ];
  for (const f of files) {
    mkdirSync(join(root, f, '..'), { recursive: true });
    writeFileSync(join(root, f), f);
  }
  symlinkSync('src/main.ts', join(root, 'link'));
}

test('walkContext streams included entries, parents first, and skips excluded trees', async () => {
  const ctx = tempDir('berth-build-ctx-');
  try {
    makeContext(ctx.path);
    const m = new IgnoreMatcher(
      parseDockerignore('.git\nbuild/\nnode_modules\n!node_modules/keep\n**/*.test.ts\n*.md\n'),
    );
    const seen: string[] = [];
    for await (const e of walkContext(ctx.path, m)) {
      seen.push(e.stats.isDirectory() ? `${e.path}/` : e.path);
      assert.ok(e.absolutePath.startsWith(ctx.path));
    }
    assert.deepEqual(seen, [
      'Dockerfile',
      'link',
      'node_modules/',
      'node_modules/keep/',
      'node_modules/keep/index.js',
      'node_modules/keep/sub/',
      'node_modules/keep/sub/x.js',
      'src/',
      'src/main.ts',
      'src/util.ts',
    ]);
    // Symlinks are reported, not followed.
    const all: string[] = [];
    for await (const e of walkContext(ctx.path)) if (e.stats.isSymbolicLink()) all.push(e.path);
    assert.deepEqual(all, ['link']);
  } finally {
    ctx.cleanup();
  }
});

test('walkContext does not descend into an excluded directory without possible exceptions', async () => {
  const ctx = tempDir('berth-build-ctx-');
  try {
    makeContext(ctx.path);
    // No exception can match inside node_modules, build, .git or src: none of their content appears.
    const m = new IgnoreMatcher(['node_modules', 'build', '.git', 'src', '!README.md']);
    const seen: string[] = [];
    for await (const e of walkContext(join(ctx.path), m)) seen.push(e.path);
    assert.deepEqual(seen, ['Dockerfile', 'README.md', 'link']);
  } finally {
    ctx.cleanup();
  }
});

test('readDockerignore: <Dockerfile>.dockerignore wins over the context file', async () => {
  const ctx = tempDir('berth-build-ign-');
  try {
    assert.deepEqual(await readDockerignore(ctx.path), { patterns: [], found: false });
    writeFileSync(join(ctx.path, '.dockerignore'), '*.log\n');
    const ctxOnly = await readDockerignore(ctx.path, join(ctx.path, 'Dockerfile'));
    assert.deepEqual(ctxOnly.patterns, ['*.log']);
    assert.equal(ctxOnly.found, true);
    mkdirSync(join(ctx.path, 'docker'));
    writeFileSync(join(ctx.path, 'docker', 'app.Dockerfile.dockerignore'), 'secret\n');
    const specific = await readDockerignore(ctx.path, join(ctx.path, 'docker', 'app.Dockerfile'));
    assert.deepEqual(specific.patterns, ['secret']);
  } finally {
    ctx.cleanup();
  }
});
