// Push and pull of a ~300 MB, 5-layer image: berth's registry client vs a private dockerd (20.10) vs
// skopeo, against berth's registry and Debian's docker-registry, side by side in one run.
//
//   npm run build && node --import tsx bench/registry-pushpull.ts [totalMB=300] [layers=5] [pullRounds=3] [store]
//
// store: where the two daemons keep their data (images, layers). `ext4` (the default): each daemon on an
// ext4 filesystem of its own with a journal (mkfs.ext4's defaults, loop-mounted from a file the bench
// makes), as /var/lib/docker is on a typical install. `root`: both under /tmp on this VM's root
// filesystem, which is ext4 *without* a journal; see "the disk" below for what that costs every tool.
//
// What each one does:
//   push  berth: gzip blobs already in its store (as after a build, commit or pull) → registry
//         docker: `docker push` of the image loaded from a docker-archive (dockerd compresses while pushing)
//         skopeo: `skopeo copy docker-archive:… docker://…` (compresses while pushing)
//   pull  berth: `docker pull` against a berth daemon (bin/berth's bundle, as users run it) after rmi;
//         docker: `docker pull` against dockerd after rmi (both download + verify + unpack, both driven by
//         the same docker CLI); skopeo: `skopeo copy docker://… dir:…` (download + verify only, no unpack)
//         Pulls alternate between the three tools for a few rounds and report medians (the machine may be
//         shared); each round starts from an empty store / after rmi, and the order turns each round.
//         The disk: the root filesystem here is ext4 without a journal, whose inode allocator skips, one by
//         one, inodes freed in the last 5 s, or in the last 5 min when their inode-table block is dirty -
//         and a pull dirties those blocks itself as it creates files next to them. So on `root` every pull
//         after an rmi (its own tool's, or another tool's in the same block groups) scans past the ~1000
//         inodes freed before it, for every file it creates: 10-15% of the machine's CPU during a pull
//         (perf: find_inode_bit → recently_deleted), paid by whichever tool pulls. A journaled ext4 has no
//         such scan, and a filesystem per daemon keeps the tools out of each other's block groups.
//         Before each timed pull the disk settles either way (`sync`, then a few seconds), so the deletes
//         of the round before are written out and at least the 5-s window has passed.
//         This VM also hands freed memory back to its host (virtio_balloon free page reporting): a page the
//         host took back costs a fault on the host at its first touch (a first 450 MB write: 1.5 s of
//         system time, against 0.14 s into memory freed a moment before). In some runs the page cache
//         berth's pulls write lands on such pages (perf: copy_folio_from_iter_atomic at 16-28% of the
//         machine's time during berth's pull, 1-3% during docker's), up to 1 s more per pull; which pulls
//         it hits changes from run to run. Docker's writes mostly escape it; why is not known.
// berth's push runs in this process, under the V8 flags the auto-started daemon gets (DAEMON_NODE_FLAGS):
// the script re-runs itself with them, so GC behaves as in the daemon. Run `npm run build` first: the
// pulls use the daemon of bin/berth.
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import {
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { DAEMON_NODE_FLAGS } from '../src/cli/connect.js';
import { Distribution } from '../src/distribution/index.js';
import { ImageService } from '../src/images/index.js';
import { tarDirectory } from '../src/layers/index.js';
import { startTestDaemon, type TestDaemon } from '../test/helpers/daemon.js';
import { type PrivateDockerd, startDockerd } from '../test/integration/client/dockerd.js';
import { generateTree } from './fixtures.js';
import { median } from './stats.js';

if (!DAEMON_NODE_FLAGS.every((f) => process.execArgv.includes(f))) {
  const r = spawnSync(
    process.execPath,
    [...process.execArgv, ...DAEMON_NODE_FLAGS, ...process.argv.slice(1)],
    {
      stdio: 'inherit',
    },
  );
  process.exit(r.status ?? 1);
}

const totalMb = Number(process.argv[2] ?? 300);
const layerCount = Number(process.argv[3] ?? 5);
const pullRounds = Math.max(1, Number(process.argv[4] ?? 3));
const store = process.argv[5] ?? 'ext4';
if (store !== 'ext4' && store !== 'root') throw new Error(`store must be ext4 or root, not ${store}`);

const work = mkdtempSync('/var/tmp/berth-bench-pushpull-');
const children: ChildProcess[] = [];
const filesystems: string[] = [];
let dockerd: PrivateDockerd | undefined;
let berthd: TestDaemon | undefined;
const REPO = join(import.meta.dirname, '..');
const run = promisify(execFile);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function waitUp(url: string, child: ChildProcess, name: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/v2/`)).status === 200) return;
    } catch {}
    await sleep(100);
  }
  throw new Error(`${name} did not answer on ${url}`);
}

/** berth's registry in its own process, as users start it (`berth registry serve`, from the build). */
async function startBerthRegistry(): Promise<string> {
  const port = await freePort();
  const root = join(work, 'reg-berth');
  const child = spawn(
    process.execPath,
    [join(REPO, 'bin/berth'), 'registry', 'serve', '-q', '--root', root, '--addr', `127.0.0.1:${port}`],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  children.push(child);
  await waitUp(`http://127.0.0.1:${port}`, child, 'berth registry');
  return `127.0.0.1:${port}`;
}

async function startDistribution(): Promise<string> {
  const port = await freePort();
  const dir = join(work, 'reg-distribution');
  mkdirSync(dir);
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: 127.0.0.1:${port}\n`,
  );
  const child = spawn('/usr/bin/docker-registry', ['serve', config], { stdio: 'ignore' });
  children.push(child);
  await waitUp(`http://127.0.0.1:${port}`, child, 'docker-registry');
  return `127.0.0.1:${port}`;
}

/**
 * A daemon's data root for `store` (see the header): undefined on `root` (the daemon's default under
 * /tmp), else the mount point of a new journaled ext4, made in a sparse file under the bench's work dir.
 */
function dataRoot(name: string): string | undefined {
  if (store === 'root') return undefined;
  const image = join(work, `${name}.ext4`);
  writeFileSync(image, '');
  truncateSync(image, 8 * 2 ** 30);
  // Inode tables and journal written now, not by a kernel thread during the pulls.
  const made = spawnSync('mkfs.ext4', ['-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0', image], {
    stdio: 'inherit',
  });
  if (made.status !== 0) throw new Error(`mkfs.ext4 failed on ${image}`);
  const mountPoint = mkdtempSync(`/tmp/berth-bench-${name}-`);
  const r = spawnSync('mount', ['-o', 'loop', image, mountPoint], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`could not mount ${image} on ${mountPoint}`);
  filesystems.push(mountPoint);
  return mountPoint;
}

/** Lets what the previous step deleted stop counting as recently freed (see the header). */
async function settle(): Promise<void> {
  await run('sync');
  await sleep(6000);
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  await run('sync');
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function main(): Promise<void> {
  // The image, built with berth: gzip layer blobs in `gen`, and a docker-archive for docker and skopeo.
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
      tag: i === layerCount - 1 ? 'bench:pushpull' : undefined,
    });
    parent = rec.id;
    rmSync(dir, { recursive: true, force: true });
  }
  const rec = gen.resolve('bench:pushpull');
  const manifest = await gen.getManifest(rec);
  const blobMb = manifest.layers.reduce((n, l) => n + l.size, 0) / 1048576;
  const archive = join(work, 'image.tar');
  await pipeline(await gen.save(['bench:pushpull']), createWriteStream(archive));
  console.log(
    `berth's client runs with V8 flags: ${process.execArgv.filter((f) => f !== 'tsx' && f !== '--import').join(' ')}`,
  );
  console.log(
    `daemons' data: ${store === 'ext4' ? 'an ext4 with a journal each (loop-mounted)' : '/tmp on the root filesystem (ext4, no journal)'}`,
  );
  console.log(
    `image: ${layerCount} layers, ${(statSync(archive).size / 1048576).toFixed(0)} MB uncompressed, ${blobMb.toFixed(0)} MB gzip blobs`,
  );

  const registries = { berth: await startBerthRegistry(), distribution: await startDistribution() };
  dockerd = await startDockerd({ dataRoot: dataRoot('docker') });
  const env = { ...process.env, DOCKER_HOST: dockerd.host };
  await run('/usr/bin/docker', ['load', '-q', '-i', archive], { env });
  const docker = (args: string[]) => run('/usr/bin/docker', args, { env, maxBuffer: 64 << 20 });
  const pushDist = new Distribution({ images: gen });
  // Pulls go through berth's daemon as users run it (bin/berth's bundle, the daemon's V8 flags), driven by
  // the same docker CLI as dockerd's pulls.
  berthd = await startTestDaemon({
    berthArgv: [...DAEMON_NODE_FLAGS, join(REPO, 'bin/berth')],
    dataRoot: dataRoot('berth'),
  });
  const berthDocker = (args: string[]) =>
    run('/usr/bin/docker', args, { env: { ...process.env, DOCKER_HOST: berthd!.host }, maxBuffer: 64 << 20 });

  const rows: { reg: string; op: string; berth: number; docker: number; skopeo: number }[] = [];
  for (const [name, host] of Object.entries(registries)) {
    const ref = (tool: string) => `${host}/${tool}/img:1`;
    await gen.tag('bench:pushpull', ref('berth'));
    await docker(['tag', 'bench:pushpull', ref('docker')]);
    const pushBerth = await time(() => pushDist.push(ref('berth'), undefined));
    const pushDocker = await time(() => docker(['push', ref('docker')]));
    const pushSkopeo = await time(() =>
      run('skopeo', [
        'copy',
        '-q',
        '--dest-tls-verify=false',
        `docker-archive:${archive}`,
        `docker://${ref('skopeo')}`,
      ]),
    );
    rows.push({ reg: name, op: 'push', berth: pushBerth, docker: pushDocker, skopeo: pushSkopeo });

    // Out of dockerd, so each of its pulls downloads and unpacks every layer.
    await docker(['rmi', ref('docker')]);
    await docker(['rmi', 'bench:pushpull']);
    const times: { berth: number[]; docker: number[]; skopeo: number[] } = {
      berth: [],
      docker: [],
      skopeo: [],
    };
    // One pull of each tool, from an empty store, and its clean-up.
    const out = join(work, `skopeo-${name}`);
    const pulls = {
      berth: {
        pull: () => berthDocker(['pull', '-q', ref('berth')]),
        cleanup: () => berthDocker(['rmi', ref('berth')]),
      },
      docker: {
        pull: () => docker(['pull', '-q', ref('docker')]),
        cleanup: () => docker(['rmi', ref('docker')]),
      },
      skopeo: {
        pull: () =>
          run('skopeo', ['copy', '-q', '--src-tls-verify=false', `docker://${ref('skopeo')}`, `dir:${out}`]),
        cleanup: async () => rmSync(out, { recursive: true, force: true }),
      },
    };
    const order = ['berth', 'docker', 'skopeo'] as const;
    for (let round = 0; round < pullRounds; round++) {
      // The order turns each round, so no tool always pulls right after the same other tool's clean-up.
      for (let k = 0; k < order.length; k++) {
        const tool = order[(round + k) % order.length]!;
        await settle();
        times[tool].push(await time(pulls[tool].pull));
        await pulls[tool].cleanup();
      }
    }
    // Back to the loaded state for the next registry.
    await docker(['pull', '-q', ref('docker')]);
    await docker(['tag', ref('docker'), 'bench:pushpull']);
    await docker(['rmi', ref('docker')]);
    const pullBerth = median(times.berth);
    const pullDocker = median(times.docker);
    const pullSkopeo = median(times.skopeo);
    const all = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(' ');
    console.log(
      `${name} pull rounds (s): berth ${all(times.berth)} | docker ${all(times.docker)} | skopeo ${all(times.skopeo)}`,
    );
    rows.push({ reg: name, op: 'pull', berth: pullBerth, docker: pullDocker, skopeo: pullSkopeo });
    console.log(`${name}: done`);
  }

  const f = (s: number) => `${s.toFixed(2)} s`.padStart(9);
  const r = (a: number, b: number) => (a / b).toFixed(2).padStart(6);
  console.log(
    '\nregistry      op     berth     docker     skopeo  berth/docker  berth/skopeo   (ratios: time, below 1 = berth faster)',
  );
  for (const row of rows) {
    console.log(
      `${row.reg.padEnd(13)} ${row.op.padEnd(4)} ${f(row.berth)} ${f(row.docker)} ${f(row.skopeo)}        ${r(row.berth, row.docker)}        ${r(row.berth, row.skopeo)}`,
    );
  }
  console.log(
    `MB/s berth push/pull: ${rows.map((x) => `${x.reg} ${x.op} ${(blobMb / x.berth).toFixed(0)}`).join(', ')}`,
  );
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    await dockerd?.stop();
    await berthd?.stop();
    for (const c of children.reverse()) {
      if (c.exitCode !== null) continue;
      c.kill('SIGTERM');
      for (let i = 0; i < 40 && c.exitCode === null; i++) await sleep(250);
    }
    for (const mountPoint of filesystems) {
      // What a daemon left mounted inside (an overlay, dockerd's own) goes with it.
      spawnSync('umount', ['-R', mountPoint], { stdio: 'inherit' });
      rmSync(mountPoint, { recursive: true, force: true });
    }
    rmSync(work, { recursive: true, force: true });
  });
