// Bundles the CLI into dist/cli/ (run by bin/berth, and by dist/src/cli/main.js, see the end): main.js
// plus one chunk per lazily loaded command module and shared chunks. Loading ~40 separate ES modules
// costs a resolve, a package.json lookup, a read and a compile each; a few chunks start measurably faster
// (see bench/cli-startup.ts).
//
// Node's builtins are loaded with require(), not import: importing one as an ES module builds a facade
// that reads every export, and some exports are getters that load more (node:crypto's webcrypto,
// node:fs's promises, node:stream's promises): ~10 ms of every start. Through esbuild's CommonJS interop
// each property is read where it is used.
//
// Bundled packages: commander (on every command's path) and yaml (compose, registry config: a CommonJS
// tree of ~60 files, one resolve, read and compile each otherwise). Other packages stay external (loaded
// from node_modules on demand): some code reaches into a package's own module instance (tar-pax.ts
// patches tar-stream's headers module; compose's schema cache loads ajv and its standalone runtime with
// require), and native addons cannot be bundled.
// It also copies the Compose schema into dist/specs/ (see the end).
// Run after tsc (npm run build): node scripts/build-cli.mjs
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { isBuiltin } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const final = `${root}dist/cli`;
// Built aside and moved into place file by file (see below): berth commands running meanwhile (tests,
// daemons, other builds) never see a half-written bundle.
const outdir = `${final}.tmp-${process.pid}`;
const BUNDLED = new Set(['commander', 'yaml']);

/**
 * Rewrites `import { a, b as c } from 'node:x'` as `const { a, b: c } = require('node:x')` (type-only
 * imports and specifiers stay for esbuild to drop).
 */
function requireBuiltins(source) {
  return source.replace(/^import\s+\{([^}]*)\}\s+from\s+'([^']+)';/gm, (whole, list, spec) => {
    if (!isBuiltin(spec)) return whole;
    const names = list
      .split(',')
      .map((n) => n.trim())
      .filter((n) => n && !n.startsWith('type '))
      .map((n) => n.replace(/\s+as\s+/, ': '));
    if (names.length === 0) return whole;
    // Keeps the line count, so source maps still point at the right lines.
    const lines = whole.split('\n').length - 1;
    return `const { ${names.join(', ')} } = /* @__PURE__ */ require('${spec}');${'\n'.repeat(lines)}`;
  });
}

rmSync(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  // The layer worker (src/distribution/layer-workers.ts) is a thread's entry: a file of its own beside main.js.
  entryPoints: { main: 'src/cli/main.ts', 'layer-worker': 'src/distribution/layer-worker.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Whitespace and syntax only: identifiers keep their names, so stack traces stay readable.
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  chunkNames: 'chunks/[name]-[hash]',
  metafile: true,
  logLevel: 'warning',
  // commander is CommonJS: a bundled `require` of node builtins needs a real require in ESM output.
  banner: {
    js: "import{createRequire as __berthRequire}from'node:module';const require=__berthRequire(import.meta.url);",
  },
  plugins: [
    {
      name: 'berth-cli',
      setup(b) {
        b.onLoad({ filter: /\.ts$/ }, (args) => ({
          contents: requireBuiltins(readFileSync(args.path, 'utf8')),
          loader: 'ts',
        }));
        b.onResolve({ filter: /^[^./]/ }, (args) => {
          const parts = args.path.split('/');
          const pkg = args.path.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
          if (isBuiltin(args.path) || !BUNDLED.has(pkg)) return { path: args.path, external: true };
          return undefined;
        });
      },
    },
  ],
});
if (result.errors.length > 0) {
  rmSync(outdir, { recursive: true, force: true });
  process.exit(1);
}
// Chunks are named by their content hash: new ones join the old ones, then main.js is replaced (a rename,
// atomic), so a CLI or daemon started from the previous build can still import its lazily loaded chunks.
// Chunks of earlier builds are removed once they are a day old.
mkdirSync(`${final}/chunks`, { recursive: true });
const fresh = new Set();
for (const name of readdirSync(`${outdir}/chunks`)) {
  renameSync(`${outdir}/chunks/${name}`, `${final}/chunks/${name}`);
  fresh.add(name);
}
for (const name of readdirSync(outdir)) {
  if (name !== 'chunks') renameSync(`${outdir}/${name}`, `${final}/${name}`);
}
rmSync(outdir, { recursive: true, force: true });
const dayAgo = Date.now() - 24 * 3600 * 1000;
for (const name of readdirSync(`${final}/chunks`)) {
  const path = `${final}/chunks/${name}`;
  if (!fresh.has(name) && statSync(path).mtimeMs < dayAgo) rmSync(path, { force: true });
}
// tsc's dist/src/cli/main.js (what BERTH_TEST_DIST=1 tests and benches run) becomes a door into the bundle,
// so they exercise what bin/berth runs.
const tscMain = `${root}dist/src/cli/main.js`;
if (existsSync(tscMain)) {
  writeFileSync(
    `${tscMain}.tmp`,
    "// Written by scripts/build-cli.mjs over tsc's output: the CLI runs from its bundle.\nimport '../../cli/main.js';\n",
  );
  renameSync(`${tscMain}.tmp`, tscMain);
}
// The Compose schema goes with the build (dist/specs/), so a berth copied or installed without the
// specs folder beside it still validates compose files; the loader finds the nearest specs/ above it.
const schemaFrom = ['shared/specs', '../shared/specs']
  .map((d) => `${root}${d}/compose/compose-spec.json`)
  .find((f) => existsSync(f));
if (schemaFrom) {
  mkdirSync(`${root}dist/specs/compose`, { recursive: true });
  writeFileSync(`${root}dist/specs/compose/compose-spec.json.tmp`, readFileSync(schemaFrom));
  renameSync(
    `${root}dist/specs/compose/compose-spec.json.tmp`,
    `${root}dist/specs/compose/compose-spec.json`,
  );
} else console.warn('build-cli: compose-spec.json not found in shared/specs: dist/ has no compose schema');
const files = Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.js'));
console.log(`bundled the CLI: ${files.length} files in dist/cli/`);
