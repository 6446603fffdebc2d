// Bundles the CLI into dist/cli/ (run by bin/berth): main.js plus one chunk per lazily loaded command
// module and shared chunks. Loading ~40 separate ES modules costs a resolve, a package.json lookup, a read
// and a compile each; a few chunks start measurably faster (see bench/cli-startup.ts).
//
// Only commander is bundled: it is on every command's path. Other packages stay external (loaded from
// node_modules on demand) because some code reaches into a package's own module instance (tar-pax.ts
// patches tar-stream's headers module) and native addons cannot be bundled.
// Run after tsc (npm run build): node scripts/build-cli.mjs
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist/cli`;
const BUNDLED = new Set(['commander']);

rmSync(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: ['src/cli/main.ts'],
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
      name: 'external-packages',
      setup(b) {
        b.onResolve({ filter: /^[^./]/ }, (args) => {
          const pkg = args.path.startsWith('@')
            ? args.path.split('/').slice(0, 2).join('/')
            : args.path.split('/')[0];
          if (args.path.startsWith('node:') || !BUNDLED.has(pkg)) return { path: args.path, external: true };
          return undefined;
        });
      },
    },
  ],
});
if (result.errors.length > 0) process.exit(1);
const files = Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.js'));
console.log(`bundled the CLI: ${files.length} files in dist/cli/`);
