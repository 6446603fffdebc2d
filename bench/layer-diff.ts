// Benchmark: diff + compress of a ~300 MB directory tree into a layer blob (tar, gzip, sha256 of both
// streams) — berth's tarDirectory vs `tar -cf - . | gzip` (default level 6, what Docker's Go gzip uses)
// and `gzip -1`. Run: node --import tsx bench/layer-diff.ts [totalMB] [rounds]
import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { tarDirectory } from '../src/layers/index.js';
import { generateTree } from './fixtures.js';
import { median } from './stats.js';

const totalMb = Number(process.argv[2] ?? 300);
const rounds = Number(process.argv[3] ?? 3);

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
  // Contenders alternate for a few rounds (the machine is shared); medians are compared.
  const times: Record<string, number[]> = {};
  const sizes: Record<string, number> = {};
  const contenders: [string, () => Promise<number>][] = [
    ...[1, 6].map((level): [string, () => Promise<number>] => [
      `berth-${level}`,
      async () => {
        const { stream, done } = tarDirectory(tree, { gzipLevel: level });
        await pipeline(stream, createWriteStream(join(work, 'out.tgz')));
        return (await done).size;
      },
    ]),
    ...[6, 1].map((level): [string, () => Promise<number>] => [
      `ref-${level}`,
      async () => {
        const out = join(work, 'out.tgz');
        execFileSync('sh', ['-c', `tar -C "$1" -cf - . | gzip -${level} > "$2"`, 'sh', tree, out]);
        return statSync(out).size;
      },
    ]),
  ];
  for (let round = 0; round < rounds; round++) {
    for (const [name, fn] of contenders) {
      const [s, size] = await time(fn);
      (times[name] ??= []).push(s);
      sizes[name] = size;
    }
  }
  const results: Record<string, number> = {};
  for (const [name] of contenders) {
    results[name] = median(times[name]!);
    const label = name.startsWith('berth')
      ? `berth tarDirectory gzip -${name.slice(6)} (+ 2x sha256)`
      : `tar | gzip -${name.slice(4)}`;
    console.log(
      `${label}: ${results[name]!.toFixed(2)} s median of ${rounds}, ${(sizes[name]! / 1048576).toFixed(0)} MB`,
    );
  }
  console.log(
    `ratio berth(-1)/tar|gzip(-6): ${(results['berth-1']! / results['ref-6']!).toFixed(2)} (below 1 = berth faster; -6 is Go gzip's default)`,
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
