// `compose up -d` and `compose down` of a 10-service busybox project: berth compose against a private berth
// daemon vs docker-compose 1.29 (Debian's) against a private real Docker daemon, side by side, with ratios.
// berth runs as the compiled CLI (bin/berth → dist/), as a user runs it: `npm run build` first.
//   npm run build && node --import tsx bench/compose.ts [--runs 3] [--services 10]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { EngineClient } from '../src/client/index.js';
import { startTestDaemon } from '../test/helpers/daemon.js';
import { haveCommand, makeBusyboxRootfs, tempDir } from '../test/helpers/index.js';
import { startDockerd } from '../test/integration/client/dockerd.js';
import { median } from './stats.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const RUNS = arg('runs', 3);
const SERVICES = arg('services', 10);
const BERTH = join(import.meta.dirname, '../bin/berth');
if (spawnSync(process.execPath, [BERTH, 'compose', 'version']).status !== 0) {
  console.error('bench/compose: run `npm run build` first (the bench times the compiled CLI, bin/berth)');
  process.exit(1);
}

for (const tool of ['docker-compose', 'dockerd', 'runc', 'conmon'])
  if (!haveCommand(tool)) {
    console.error(`bench/compose: needs ${tool}`);
    process.exit(1);
  }

const tmp = tempDir('berth-bench-compose-');
const rootfs = join(tmp.path, 'rootfs');
mkdirSync(rootfs);
makeBusyboxRootfs(rootfs);
const tar = execFileSync('tar', ['-C', rootfs, '-c', '.'], { maxBuffer: 64 * 1024 * 1024 });
const proj = join(tmp.path, 'proj');
mkdirSync(proj);
let yaml = 'services:\n';
// The command exits on SIGTERM so `down` measures a clean stop on both sides (the private dockerd here
// sometimes hangs killing containers that ignore SIGTERM, which would time only that).
for (let i = 0; i < SERVICES; i++)
  yaml += `  s${i}:\n    image: busybox:latest\n    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]\n`;
writeFileSync(join(proj, 'docker-compose.yml'), yaml);

async function importBusybox(client: EngineClient) {
  for await (const _ of client.images.import(Readable.from(tar), {
    repo: 'busybox',
    tag: 'latest',
    changes: ['CMD ["sh"]'],
  }));
}

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd: proj, env, encoding: 'utf8', timeout: 120_000 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status === 0) return ms;
  // A failed or timed-out run is reported, not fatal: the private dockerd here sometimes never sees a
  // container exit, which hangs docker-compose down.
  console.error(
    `${cmd} ${args.slice(-3).join(' ')} failed (${r.status ?? 'timeout'}): ${r.stderr.trim().split('\n').at(-1)}`,
  );
  return Number.NaN;
}

// The daemon runs compiled too (bin/berth daemon), as it would in use.
const berth = await startTestDaemon({ berthArgv: [BERTH] });
const dockerd = await startDockerd();
const docker = new EngineClient({ host: dockerd.host });
try {
  for (let i = 0; ; i++) {
    try {
      await docker.ping();
      break;
    } catch (err) {
      if (i > 100) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await importBusybox(berth.client);
  await importBusybox(docker);
  const berthEnv = { ...berth.env };
  const dockerEnv = {
    ...process.env,
    DOCKER_HOST: dockerd.host,
    COMPOSE_INTERACTIVE_NO_CLI: '1',
    COMPOSE_HTTP_TIMEOUT: '300',
  };
  const results = {
    berth: { up: [] as number[], down: [] as number[] },
    ref: { up: [] as number[], down: [] as number[] },
  };
  for (let r = 0; r < RUNS; r++) {
    const b = [BERTH, 'compose', '-p', 'benchc'];
    results.berth.up.push(timed(process.execPath, [...b, 'up', '-d'], berthEnv));
    results.berth.down.push(timed(process.execPath, [...b, 'down', '-t', '1'], berthEnv));
    results.ref.up.push(timed('docker-compose', ['-p', 'benchc', 'up', '-d'], dockerEnv));
    results.ref.down.push(timed('docker-compose', ['-p', 'benchc', 'down', '-t', '1'], dockerEnv));
  }
  const baseline = median(
    [0, 1, 2].map(() => timed(process.execPath, [BERTH, 'compose', 'version'], berthEnv)),
  );
  console.log(`compose ${SERVICES} busybox services, median of ${RUNS} runs (ms)`);
  console.log(
    'operation   berth compose/berth   docker-compose 1.29/dockerd   ratio (berth/docker)   speed-up',
  );
  for (const op of ['up', 'down'] as const) {
    const a = median(results.berth[op]);
    const d = median(results.ref[op]);
    console.log(
      `${`${op}${op === 'up' ? ' -d' : ''}`.padEnd(12)}${a.toFixed(0).padStart(19)}${d.toFixed(0).padStart(30)}${(a / d).toFixed(2).padStart(23)}${`${(d / a).toFixed(1)}x`.padStart(11)}`,
    );
  }
  console.log(`(berth CLI start-up, compiled, 'compose version': ${baseline.toFixed(0)} ms, included above)`);
} finally {
  spawnSync('docker-compose', ['-p', 'benchc', 'down', '-t', '1'], {
    cwd: proj,
    env: { ...process.env, DOCKER_HOST: dockerd.host },
  });
  docker.close();
  await dockerd.stop();
  await berth.stop();
  tmp.cleanup();
}
