// Engine API request overhead: berth's server framework (router, version prefix, headers, JSON bodies) next to
// dockerd on the same machine, in one run. Both answer over a unix socket to keep-alive clients; berth's routes
// return fixed bodies, so this measures the HTTP layer, not the daemon behind it. Prints requests/s and the
// berth/dockerd ratio per endpoint. berth's server runs in a child process so that it does not share an event
// loop with the load generator.
//
//   node --import tsx bench/api-server.ts [--clients 16] [--seconds 4]
import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { createApiServer, Router } from '../src/api/index.js';
import { tempDir } from '../test/helpers/index.js';
import { startDockerd } from '../test/integration/client/dockerd.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const CLIENTS = opt('clients', 16);
const SECONDS = opt('seconds', 4);

function get(agent: Agent, socketPath: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, agent, headers: { Host: 'docker' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

async function load(
  socketPath: string,
  path: string,
  seconds = SECONDS,
): Promise<{ rps: number; errors: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
  let done = 0;
  let errors = 0;
  const deadline = Date.now() + seconds * 1000;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (Date.now() < deadline) {
        const status = await get(agent, socketPath, path).catch(() => 0);
        if (status !== 200) errors++;
        done++;
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  agent.destroy();
  return { rps: done / secs, errors };
}

function routes(): Router {
  return new Router()
    .get('/containers/json', () => ({ json: [] }))
    .get('/version', () => ({
      json: { Version: '0.1.0', ApiVersion: '1.47', MinAPIVersion: '1.24', Os: 'linux', Arch: 'amd64' },
    }))
    .get('/containers/:id/json', (req) => ({ json: { Id: req.params.id, State: { Running: false } } }));
}

async function waitFor(socketPath: string) {
  for (let i = 0; i < 200; i++) {
    if ((await get(new Agent(), socketPath, '/_ping').catch(() => 0)) === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing answers on ${socketPath}`);
}

async function main() {
  const dir = tempDir('berth-bench-api-');
  const dockerd = await startDockerd();
  const berthSock = join(dir.path, 'b.sock');
  const child = spawn(process.execPath, ['--import', 'tsx', process.argv[1]!, '--serve', berthSock], {
    stdio: 'inherit',
  });
  try {
    await waitFor(dockerd.socketPath);
    await waitFor(berthSock);
    // warm up both (JIT, connection pools) before measuring
    await load(berthSock, '/v1.41/containers/json', 1);
    await load(dockerd.socketPath, '/v1.41/containers/json', 1);
    const endpoints = ['/_ping', '/v1.41/version', '/v1.41/containers/json', '/v1.41/containers/nope/json'];
    console.log(`${CLIENTS} keep-alive clients, ${SECONDS}s per endpoint and server`);
    console.log(
      `${'endpoint'.padEnd(30)}${'berth req/s'.padStart(14)}${'dockerd req/s'.padStart(16)}${'ratio'.padStart(8)}`,
    );
    for (const ep of endpoints) {
      // dockerd answers 404 for the missing container; berth's route answers 200 — both are one JSON body
      const b = await load(berthSock, ep);
      const d = await load(dockerd.socketPath, ep);
      console.log(
        `${ep.padEnd(30)}${b.rps.toFixed(0).padStart(14)}${d.rps.toFixed(0).padStart(16)}${(b.rps / d.rps).toFixed(2).padStart(7)}x`,
      );
    }
    console.log('(dockerd builds /version from live system info, so that row compares different work)');
  } finally {
    child.kill();
    await dockerd.stop();
    dir.cleanup();
  }
}

const serveAt = args.indexOf('--serve');
if (serveAt >= 0) {
  await createApiServer(routes(), { socketPath: args[serveAt + 1]! });
} else {
  await main();
}
