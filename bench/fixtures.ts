// Shared generator for the image/layer benchmarks: a directory tree of ~`mb` MB with a mix of
// incompressible (random) and compressible (text) files of assorted sizes, deterministic per seed.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function generateTree(dir: string, mb: number, seed: number): number {
  let total = 0;
  let n = 0;
  const target = mb * 1024 * 1024;
  let state = createHash('sha256').update(String(seed)).digest();
  const next = () => {
    state = createHash('sha256').update(state).digest();
    return state.readUInt32LE(0);
  };
  while (total < target) {
    const sub = join(dir, `d${n % 17}`, `e${n % 5}`);
    mkdirSync(sub, { recursive: true });
    const size = 1024 + (next() % (640 * 1024));
    let data: Buffer;
    if (n % 2 === 0) {
      // Random blocks: what compressed binaries and media look like.
      const blocks: Buffer[] = [];
      for (let b = 0; b < size; b += 32) {
        state = createHash('sha256').update(state).digest();
        blocks.push(state);
      }
      data = Buffer.concat(blocks).subarray(0, size);
    } else {
      const line = `line ${seed} ${n} the quick brown fox jumps over the lazy dog ${next()}\n`;
      data = Buffer.from(line.repeat(Math.ceil(size / line.length))).subarray(0, size);
    }
    writeFileSync(join(sub, `f${n}.bin`), data);
    total += size;
    n++;
  }
  return n;
}
