// Benchmark: diff + compress of a ~300 MB directory tree into a layer blob (tar, gzip, sha256 of both
// streams) — berth's tarDirectory vs `tar -cf - . | gzip` (default level 6, what Docker's Go gzip uses)
// and `gzip -1`. Run: node --import tsx bench/layer-diff.ts [totalMB]
import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { tarDirectory } from '../src/layers/index.js';
import { generateTree } from './fixtures.js';

const totalMb = Number(process.argv[2] ?? 300);
const work = mkdtempSync('/var/tmp/berth-bench-diff-');

async function time<T>(fn: () => Promise<T> | T): Promise<[number, T]> {
  const t0 = process.hrtime.bigint();
  const r = await fn();
  return [Number(process.hrtime.bigint() - t0) / 1e9, r];
}

async function main(): Promise<void> {
  const tree = join(work, 'tree');
  const files = generateTree(tree, totalMb, 42);
  execFileSync('sync');
  // Warm the page cache so the first contender does not pay for it.
  execFileSync('sh', ['-c', 'find "$1" -type f -exec cat {} + > /dev/null', 'sh', tree]);
  console.log(`tree: ${files} files, ${totalMb} MB`);
  const results: Record<string, number> = {};
  for (const level of [1, 6]) {
    const out = join(work, `berth${level}.tgz`);
    const [s, res] = await time(async () => {
      const { stream, done } = tarDirectory(tree, { gzipLevel: level });
      await pipeline(stream, createWriteStream(out));
      return done;
    });
    results[`berth-${level}`] = s;
    console.log(
      `berth tarDirectory gzip -${level} (+ 2x sha256): ${s.toFixed(2)} s, ${(res.size / 1048576).toFixed(0)} MB`,
    );
  }
  for (const level of [6, 1]) {
    const out = join(work, `ref${level}.tgz`);
    const [s] = await time(() =>
      execFileSync('sh', ['-c', `tar -C "$1" -cf - . | gzip -${level} > "$2"`, 'sh', tree, out]),
    );
    results[`ref-${level}`] = s;
    console.log(`tar | gzip -${level}: ${s.toFixed(2)} s, ${(statSync(out).size / 1048576).toFixed(0)} MB`);
  }
  console.log(
    `ratio berth(-1)/tar|gzip(-6): ${(results['berth-1']! / results['ref-6']!).toFixed(2)} (below 1 = berth faster)`,
  );
  console.log(`ratio berth(-1)/tar|gzip(-1): ${(results['berth-1']! / results['ref-1']!).toFixed(2)}`);
  console.log(`ratio berth(-6)/tar|gzip(-6): ${(results['berth-6']! / results['ref-6']!).toFixed(2)}`);
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => rmSync(work, { recursive: true, force: true }));
