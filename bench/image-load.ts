// Benchmark: load + unpack of a ~300 MB, 6-layer docker-archive tar — berth vs `docker load` on a private
// dockerd (20.10), side by side in one run. Run: node --import tsx bench/image-load.ts [totalMB] [layers] [rounds]
import { execFileSync } from 'node:child_process';
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ImageService } from '../src/images/index.js';
import { tarDirectory } from '../src/layers/index.js';
import { type PrivateDockerd, startDockerd } from '../test/integration/client/dockerd.js';
import { generateTree } from './fixtures.js';
import { median } from './stats.js';

const totalMb = Number(process.argv[2] ?? 300);
const layerCount = Number(process.argv[3] ?? 6);
const rounds = Number(process.argv[4] ?? 3);

const work = mkdtempSync('/var/tmp/berth-bench-load-');
let dockerd: PrivateDockerd | undefined;

async function main(): Promise<void> {
  // 1. Build the image with berth and save it as Docker would (uncompressed layer.tar files).
  const gen = new ImageService(join(work, 'gen'));
  await gen.init();
  let parent: string | null = null;
  for (let i = 0; i < layerCount; i++) {
    const dir = join(work, `layer${i}`);
    mkdirSync(dir);
    generateTree(dir, totalMb / layerCount, i);
    const { stream } = tarDirectory(dir, { gzipLevel: 1 });
    const rec = await gen.commit({
      parent,
      layer: stream,
      createdBy: `layer ${i}`,
      tag: i === layerCount - 1 ? 'bench:load' : undefined,
    });
    parent = rec.id;
    rmSync(dir, { recursive: true, force: true });
  }
  const tar = join(work, 'image.tar');
  await pipeline(await gen.save(['bench:load']), createWriteStream(tar));
  rmSync(join(work, 'gen'), { recursive: true, force: true });
  const tarMb = statSync(tar).size / 1048576;
  console.log(`image: ${layerCount} layers, ${tarMb.toFixed(0)} MB docker-archive`);
  execFileSync('sync');

  // 2. Alternate berth load (verify + unpack every layer) and docker load on a private daemon, a few
  //    rounds each, so load from other processes on the machine hits both alike; report medians.
  dockerd = await startDockerd();
  const env = { ...process.env, DOCKER_HOST: dockerd.host };
  const berthTimes: number[] = [];
  const dockerTimes: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const svc = new ImageService(join(work, 'berth'));
    await svc.init();
    let t0 = process.hrtime.bigint();
    await svc.load(createReadStream(tar));
    berthTimes.push(Number(process.hrtime.bigint() - t0) / 1e9);
    rmSync(join(work, 'berth'), { recursive: true, force: true });
    execFileSync('sync');

    t0 = process.hrtime.bigint();
    execFileSync('/usr/bin/docker', ['load', '-q', '-i', tar], { env, stdio: 'ignore' });
    dockerTimes.push(Number(process.hrtime.bigint() - t0) / 1e9);
    execFileSync('/usr/bin/docker', ['rmi', 'bench:load'], { env, stdio: 'ignore' });
    execFileSync('sync');
    console.log(
      `round ${round + 1}: berth ${berthTimes.at(-1)!.toFixed(2)} s, docker ${dockerTimes.at(-1)!.toFixed(2)} s`,
    );
  }
  const berthS = median(berthTimes);
  const dockerS = median(dockerTimes);
  console.log(`berth load:  ${berthS.toFixed(2)} s median (${(tarMb / berthS).toFixed(0)} MB/s)`);
  console.log(`docker load: ${dockerS.toFixed(2)} s median (${(tarMb / dockerS).toFixed(0)} MB/s)`);
  console.log(`ratio berth/docker time: ${(berthS / dockerS).toFixed(2)} (below 1 = berth faster)`);
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    await dockerd?.stop();
    rmSync(work, { recursive: true, force: true });
  });
