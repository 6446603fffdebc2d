// Image builds side by side: berth's legacy builder, Docker's legacy builder, BuildKit (dockerd 20.10) and
// buildah, on the same multi-stage Dockerfile and context. Three scenarios: a cold build (--no-cache, base
// image present), a no-op rebuild (everything cached) and a rebuild after editing one source file. The
// docker 28 CLI with DOCKER_BUILDKIT=0 drives both berth and dockerd's legacy builder, so the client is the
// same. A second berth row drives the same daemon with berth's own CLI (`berth build`; dist/ when built,
// else through tsx, whose start-up then counts). RUN steps use --network none everywhere (the private
// dockerd has no bridge; berth then runs them on runc directly, without conmon). Prints the median wall
// time of each scenario, the ratio against berth, the speed-up over the fastest other builder, and the
// load average before and after. A last row, the docker CLI's floor, times the same docker 28 command
// against a server that only drains the context and answers (no build): what no daemon can go below.
//
//   node --import tsx bench/build.ts [--rounds 3] [--files 300]
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestDaemon } from '../test/helpers/daemon.js';
import { berthArgv, haveCommand, makeBusyboxRootfs, tempDir } from '../test/helpers/index.js';
import { startDockerd } from '../test/integration/client/dockerd.js';
import { median } from './stats.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const ROUNDS = opt('rounds', 3);
const FILES = opt('files', 300);
const DOCKER28 = '/usr/local/bin/docker';
const DOCKER20 = '/usr/bin/docker';

const DOCKERFILE = `FROM busybox AS deps
WORKDIR /deps
COPY deps/ ./
RUN for i in $(seq 1 200); do echo "dep $i" > gen$i; done && tar -cf /deps.tar .

FROM busybox AS build
WORKDIR /src
COPY src/ ./
RUN cat *.txt | wc -c > /size && md5sum *.txt > /sums

FROM busybox
WORKDIR /opt/app
COPY --from=deps /deps.tar ./
COPY --from=build /size /sums ./
ENV MODE=prod
LABEL org.example.bench=build
CMD ["cat", "/opt/app/size"]
`;

/** The floor server: `node floor-server.mjs <socket>`; prints "ready" once listening. */
const FLOOR_SERVER = `import { createServer } from 'node:http';
import { rmSync } from 'node:fs';
const sock = process.argv[2];
rmSync(sock, { force: true });
createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (!req.url.includes('/build')) {
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Api-Version': '1.47', Ostype: 'linux' });
      return res.end('OK');
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ aux: { ID: 'sha256:' + '0'.repeat(64) } }) + '\\n' + JSON.stringify({ stream: 'Successfully built 000000000000\\n' }) + '\\n');
  });
}).listen(sock, () => console.log('ready'));
`;

interface Tool {
  name: string;
  build(ctx: string, noCache: boolean): void;
}

/** A build that gave no answer in time (dockerd 20.10's BuildKit sometimes hangs on a loaded machine). */
class Hang extends Error {}

/** Wall time of one build; a hung one is killed, done again untimed, and counts as no sample (NaN). */
function timed(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  try {
    fn();
  } catch (err) {
    if (!(err instanceof Hang)) throw err;
    console.error(`${err.message}: killed; this sample is dropped`);
    fn();
    return Number.NaN;
  }
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function check(cmd: string, argv: string[], env: NodeJS.ProcessEnv): void {
  // dockerd 20.10's BuildKit occasionally hangs at "load build definition" on a loaded machine: a build
  // that takes over 90 s is killed (see timed()).
  const r = spawnSync(cmd, argv, {
    env,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    timeout: 90_000,
    killSignal: 'SIGKILL',
  });
  if (r.status === 0) return;
  if (r.signal === 'SIGKILL') throw new Hang(`${cmd} ${argv.join(' ')}: no answer in 90 s`);
  throw new Error(`${cmd} ${argv.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}${r.stdout}`);
}

async function main(): Promise<void> {
  const tmp = tempDir('berth-bench-build-');
  const cleanups: (() => Promise<void> | void)[] = [() => tmp.cleanup()];
  try {
    // The busybox base image as a rootfs tar.
    const rootfs = join(tmp.path, 'rootfs');
    mkdirSync(rootfs);
    makeBusyboxRootfs(rootfs);
    const baseTar = join(tmp.path, 'busybox.tar');
    execFileSync('tar', ['-C', rootfs, '-cf', baseTar, '.']);
    // The context: many small sources and a few deps.
    const ctx = join(tmp.path, 'ctx');
    mkdirSync(join(ctx, 'src'), { recursive: true });
    mkdirSync(join(ctx, 'deps'), { recursive: true });
    for (let i = 0; i < FILES; i++)
      writeFileSync(join(ctx, 'src', `f${i}.txt`), `${'x'.repeat(4000)} ${i}\n`);
    for (let i = 0; i < 20; i++) writeFileSync(join(ctx, 'deps', `d${i}`), `dep ${i}\n`);
    writeFileSync(join(ctx, 'Dockerfile'), DOCKERFILE);

    const tools: Tool[] = [];
    const berth = await startTestDaemon();
    cleanups.push(() => berth.stop());
    check(DOCKER28, ['import', '-c', 'CMD ["sh"]', baseTar, 'busybox:latest'], berth.env);
    const berthEnv = { ...berth.env, DOCKER_BUILDKIT: '0' };
    tools.push({
      name: 'berth (legacy builder)',
      build: (c, noCache) =>
        check(
          DOCKER28,
          ['build', '--network', 'none', ...(noCache ? ['--no-cache'] : []), '-t', 'bench:b', c],
          berthEnv,
        ),
    });

    const dist = join(fileURLToPath(import.meta.url), '../../dist/src/cli/main.js');
    const cli = existsSync(dist) ? [dist] : berthArgv();
    tools.push({
      name: `berth (berth CLI${existsSync(dist) ? '' : ', tsx'})`,
      build: (c, noCache) =>
        check(
          process.execPath,
          [...cli, 'build', '--network', 'none', ...(noCache ? ['--no-cache'] : []), '-t', 'bench:c', c],
          berth.env,
        ),
    });

    if (haveCommand('dockerd')) {
      const dockerd = await startDockerd();
      cleanups.push(() => dockerd.stop());
      const denv = { ...process.env, DOCKER_HOST: dockerd.host };
      check(DOCKER28, ['import', '-c', 'CMD ["sh"]', baseTar, 'busybox:latest'], denv);
      tools.push({
        name: 'docker legacy builder',
        build: (c, noCache) =>
          check(
            DOCKER28,
            ['build', '--network', 'none', ...(noCache ? ['--no-cache'] : []), '-t', 'bench:d', c],
            { ...denv, DOCKER_BUILDKIT: '0' },
          ),
      });
      // BuildKit gets a dockerd of its own: when it hangs (see check()) it wedges its daemon, and the
      // legacy builder's figures must not go with it.
      const dockerdK = await startDockerd();
      cleanups.push(() => dockerdK.stop());
      const kenv = { ...process.env, DOCKER_HOST: dockerdK.host };
      check(DOCKER28, ['import', '-c', 'CMD ["sh"]', baseTar, 'busybox:latest'], kenv);
      tools.push({
        name: 'BuildKit (dockerd 20.10)',
        build: (c, noCache) =>
          check(
            DOCKER20,
            [
              'build',
              '--progress',
              'plain',
              '--network',
              'none',
              ...(noCache ? ['--no-cache'] : []),
              '-t',
              'bench:k',
              c,
            ],
            { ...kenv, DOCKER_BUILDKIT: '1' },
          ),
      });
      // buildah reads the same base image from a docker-archive saved by dockerd.
      if (haveCommand('buildah')) {
        const archive = join(tmp.path, 'busybox-archive.tar');
        check(DOCKER28, ['save', '-o', archive, 'busybox:latest'], denv);
        const root = join(tmp.path, 'buildah-root');
        const runroot = join(tmp.path, 'buildah-run');
        const bargs = ['--root', root, '--runroot', runroot, '--storage-driver', 'overlay'];
        // crun refuses this host's hybrid cgroups; runc is what berth and dockerd use too.
        const runcPath = execFileSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).trim();
        check('buildah', [...bargs, 'pull', '-q', `docker-archive:${archive}`], process.env);
        const images = spawnSync('buildah', [...bargs, 'images', '-q'], { encoding: 'utf8' })
          .stdout.trim()
          .split('\n');
        check('buildah', [...bargs, 'tag', images[0]!, 'busybox:latest'], process.env);
        cleanups.push(() => {
          spawnSync('buildah', [...bargs, 'rm', '--all']);
          spawnSync('buildah', [...bargs, 'rmi', '--all', '--force']);
          const mounts = spawnSync('sh', ['-c', `grep ' ${root}' /proc/mounts | cut -d' ' -f2`], {
            encoding: 'utf8',
          });
          for (const m of mounts.stdout.trim().split('\n').filter(Boolean).reverse())
            spawnSync('umount', ['-l', m]);
        });
        tools.push({
          name: 'buildah bud',
          build: (c, noCache) =>
            check(
              'buildah',
              [
                ...bargs,
                'bud',
                '--runtime',
                runcPath,
                '--pull-never',
                '--layers',
                '--network',
                'none',
                ...(noCache ? ['--no-cache'] : []),
                '-t',
                'bench:h',
                c,
              ],
              process.env,
            ),
        });
      }
    }

    // The client's floor: a server (its own process: the timed builds block this one) that answers the
    // ping and drains the context tar, then reports success.
    const floorSock = join(tmp.path, 'floor.sock');
    const floorServer = join(tmp.path, 'floor-server.mjs');
    writeFileSync(floorServer, FLOOR_SERVER);
    const floor: ChildProcess = spawn(process.execPath, [floorServer, floorSock], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    cleanups.push(() => {
      floor.kill();
    });
    await new Promise<void>((resolve, reject) => {
      floor.stdout!.once('data', () => resolve());
      floor.once('exit', (code) => reject(new Error(`the floor server exited (${code})`)));
    });
    const floorEnv = { ...process.env, DOCKER_HOST: `unix://${floorSock}`, DOCKER_BUILDKIT: '0' };
    const floorTool: Tool = {
      name: 'docker CLI floor (no build)',
      build: (c) => check(DOCKER28, ['build', '--network', 'none', '-t', 'bench:f', c], floorEnv),
    };

    const load0 = loadavg();
    // A tool that hangs even when a build is done again is left out of the rest of the run.
    const hung = new Set<string>();
    const sample = (t: Tool, fn: () => number): number => {
      if (hung.has(t.name)) return Number.NaN;
      try {
        return fn();
      } catch (err) {
        if (!(err instanceof Hang)) throw err;
        console.error(`${t.name} hangs: left out of the rest of the run`);
        hung.add(t.name);
        return Number.NaN;
      }
    };
    // Warm-up: every tool builds once (caches populated, page cache warm).
    for (const t of tools) sample(t, () => timed(() => t.build(ctx, false)));
    const results = new Map<string, { cold: number[]; noop: number[]; edit: number[] }>();
    for (const t of tools) results.set(t.name, { cold: [], noop: [], edit: [] });
    const floorTimes: number[] = [];
    timed(() => floorTool.build(ctx, false));
    for (let round = 0; round < ROUNDS; round++) {
      for (const t of tools) {
        const r = results.get(t.name)!;
        r.cold.push(sample(t, () => timed(() => t.build(ctx, true))));
        r.noop.push(sample(t, () => timed(() => t.build(ctx, false))));
        writeFileSync(join(ctx, 'src', 'f7.txt'), `edited ${round} ${Date.now()}\n`);
        // A fresh edit of the same file before each tool's rebuild, so every tool rebuilds from that COPY.
        r.edit.push(sample(t, () => timed(() => t.build(ctx, false))));
      }
      floorTimes.push(timed(() => floorTool.build(ctx, false)));
    }
    const base = results.get(tools[0]!.name)!;
    const row = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(26) : c.padStart(22))).join('');
    console.log(
      `build bench: ${FILES} source files, ${ROUNDS} rounds, median wall time (ratio = tool / berth)`,
    );
    console.log(row(['tool', 'cold (--no-cache)', 'no-op rebuild', 'one-file edit']));
    for (const t of tools) {
      const r = results.get(t.name)!;
      const cell = (xs: number[], b: number[]) =>
        `${median(xs).toFixed(0)} ms (${(median(xs) / median(b)).toFixed(2)}x)`;
      console.log(row([t.name, cell(r.cold, base.cold), cell(r.noop, base.noop), cell(r.edit, base.edit)]));
    }
    const f = median(floorTimes);
    console.log(
      row([floorTool.name, '-', `${f.toFixed(0)} ms (${(f / median(base.noop)).toFixed(2)}x)`, '-']),
    );
    // The goal: berth (docker CLI) against the fastest of the other builders.
    const others = tools.filter((t) => !t.name.startsWith('berth'));
    if (others.length > 0) {
      const speedup = (k: 'cold' | 'noop' | 'edit') => {
        const best = Math.min(
          ...others.map((t) => median(results.get(t.name)![k])).filter((x) => !Number.isNaN(x)),
        );
        return `${(best / median(base[k])).toFixed(2)}x`;
      };
      console.log(
        `berth speed-up over the fastest other builder: cold ${speedup('cold')}, no-op ${speedup('noop')} (goal 3x), one-file edit ${speedup('edit')} (goal 1.5x)`,
      );
    }
    const load1 = loadavg();
    console.log(
      `load average (1 min) before ${load0[0]!.toFixed(2)}, after ${load1[0]!.toFixed(2)} on ${cpus().length} cores`,
    );
  } finally {
    for (const c of cleanups.reverse()) await c();
  }
}

await main();
