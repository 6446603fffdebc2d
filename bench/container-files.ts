// docker cp in and out, export and diff: the same docker CLI against a private berth daemon and a private
// dockerd, one after the other in one run, on a busybox container holding one large file and many small
// ones. Prints the median wall time of each operation per daemon and the berth/dockerd ratio.
//
//   node --import tsx bench/container-files.ts [--mb 200] [--files 2000] [--rounds 3]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestDaemon } from '../test/helpers/daemon.js';
import { makeBusyboxRootfs, tempDir } from '../test/helpers/index.js';
import { startDockerd } from '../test/integration/client/dockerd.js';
import { median } from './stats.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const MB = opt('mb', 200);
const FILES = opt('files', 2000);
const ROUNDS = opt('rounds', 3);

const tmp = tempDir('berth-bench-cp-');
const berth = await startTestDaemon();
const dockerd = await startDockerd();
try {
  const rootfs = join(tmp.path, 'rootfs');
  mkdirSync(rootfs);
  makeBusyboxRootfs(rootfs);
  execFileSync('tar', ['-C', rootfs, '-cf', join(tmp.path, 'rootfs.tar'), '.']);
  const data = join(tmp.path, 'data');
  mkdirSync(join(data, 'many'), { recursive: true });
  execFileSync('sh', ['-c', `head -c ${MB * 1_000_000} /dev/urandom > '${join(data, 'blob')}'`]);
  for (let i = 0; i < FILES; i++) writeFileSync(join(data, 'many', `f${i}`), `${i}\n`);

  const daemons = [
    ['berth', berth.env],
    ['dockerd', { ...process.env, DOCKER_HOST: dockerd.host }],
  ] as const;
  const times: Record<string, Record<string, number[]>> = {};
  for (const [name, env] of daemons) {
    const run = (a: string[]) => {
      const r = spawnSync('docker', a, { env, encoding: 'utf8', maxBuffer: 1 << 20 });
      if (r.status !== 0) throw new Error(`${name}: docker ${a.join(' ')}: ${r.stderr}`);
      return r.stdout.trim();
    };
    run(['import', '-c', 'CMD ["sh"]', join(tmp.path, 'rootfs.tar'), 'busybox:latest']);
    times[name] = { 'cp in': [], 'cp out': [], export: [], diff: [] };
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, env] of daemons) {
      const run = (a: string[]) => spawnSync('docker', a, { env, encoding: 'utf8', maxBuffer: 1 << 20 });
      const id = run(['run', '-d', '--network', 'none', 'busybox', 'sleep', '600']).stdout.trim();
      const out = join(tmp.path, `out-${name}`);
      const ops: [string, string[]][] = [
        ['cp in', ['cp', data, `${id}:/data`]],
        ['cp out', ['cp', `${id}:/data`, out]],
        ['export', ['export', '-o', join(tmp.path, `export-${name}.tar`), id]],
        ['diff', ['diff', id]],
      ];
      for (const [label, a] of ops) {
        const t0 = process.hrtime.bigint();
        const r = run(a);
        if (r.status !== 0) throw new Error(`${name}: docker ${a.join(' ')}: ${r.stderr}`);
        times[name]![label]!.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      run(['rm', '-f', id]);
      rmSync(out, { recursive: true, force: true });
      rmSync(join(tmp.path, `export-${name}.tar`), { force: true });
    }
  }
  console.log(`${MB} MB file + ${FILES} small files, median of ${ROUNDS} rounds (ms)`);
  console.log('operation   berth   dockerd   ratio');
  for (const label of Object.keys(times.berth!)) {
    const b = median(times.berth![label]!);
    const d = median(times.dockerd![label]!);
    console.log(
      `${label.padEnd(10)} ${b.toFixed(0).padStart(6)} ${d.toFixed(0).padStart(9)} ${(b / d).toFixed(2).padStart(7)}`,
    );
  }
} finally {
  await berth.stop();
  await dockerd.stop();
  tmp.cleanup();
}
