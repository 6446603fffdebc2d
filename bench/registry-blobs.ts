// Concurrent blob GETs against berth's registry and Debian's docker-registry (CNCF distribution), side by
// side in one run: the same blobs pushed to both, 64 parallel keep-alive clients, bounded in requests and
// time. Prints requests/s, MB/s and the berth/distribution ratio per blob size.
//
//   node --import tsx bench/registry-blobs.ts [--clients 64] [--seconds 8] [--requests 20000]
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const CLIENTS = opt('clients', 64);
const SECONDS = opt('seconds', 8);
const MAX_REQUESTS = opt('requests', 20000);
const SCENARIOS = [
  { label: '4 KiB blobs', size: 4 * 1024, count: 32 },
  { label: '1 MiB blobs', size: 1024 * 1024, count: 16 },
];

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
      const r = await fetch(`${url}/v2/`);
      if (r.status === 200) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} did not answer on ${url}`);
}

async function startBerth(root: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const code = `import { startRegistry } from './src/registry/index.ts';
await startRegistry({ root: ${JSON.stringify(root)}, addr: '127.0.0.1:${port}' });`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: join(import.meta.dirname, '..'),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitUp(url, child, 'berth registry');
  return { url, child };
}

async function startDistribution(root: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  mkdirSync(root, { recursive: true });
  const config = join(root, 'config.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  cache:',
      '    blobdescriptor: inmemory',
      '  filesystem:',
      `    rootdirectory: ${join(root, 'data')}`,
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '',
    ].join('\n'),
  );
  const child = spawn('/usr/bin/docker-registry', ['serve', config], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitUp(url, child, 'docker-registry');
  return { url, child };
}

async function pushBlob(url: string, repo: string, data: Buffer): Promise<string> {
  const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
  // Two-step upload (POST then PUT) works on every registry.
  const start = await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  if (start.status !== 202) throw new Error(`POST upload: ${start.status}`);
  const loc = new URL(start.headers.get('location')!, url);
  loc.searchParams.set('digest', digest);
  const put = await fetch(loc, {
    method: 'PUT',
    body: new Uint8Array(data),
    headers: { 'Content-Type': 'application/octet-stream' },
  });
  if (put.status !== 201) throw new Error(`PUT upload: ${put.status} ${await put.text()}`);
  return digest;
}

interface Result {
  requests: number;
  bytes: number;
  seconds: number;
  errors: number;
}

async function load(url: string, repo: string, digests: string[], expectSize: number): Promise<Result> {
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
  const target = new URL(url);
  let issued = 0;
  let done = 0;
  let bytes = 0;
  let errors = 0;
  const started = process.hrtime.bigint();
  const deadline = Date.now() + SECONDS * 1000;
  const one = (digest: string) =>
    new Promise<void>((resolve) => {
      const r = request(
        { host: target.hostname, port: target.port, path: `/v2/${repo}/blobs/${digest}`, agent },
        (res) => {
          let n = 0;
          res.on('data', (c: Buffer) => (n += c.length));
          res.on('end', () => {
            if (res.statusCode !== 200 || n !== expectSize) errors++;
            bytes += n;
            done++;
            resolve();
          });
          res.on('error', () => {
            errors++;
            resolve();
          });
        },
      );
      r.on('error', () => {
        errors++;
        resolve();
      });
      r.end();
    });
  const client = async () => {
    while (issued < MAX_REQUESTS && Date.now() < deadline) {
      const digest = digests[issued++ % digests.length]!;
      await one(digest);
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, client));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  agent.destroy();
  return { requests: done, bytes, seconds, errors };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.on('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

const fmt = (n: number, d = 0) => n.toFixed(d).padStart(10);

/** Pushes of distinct blobs (POST + PUT), 16 at a time: the upload path, fsync and commit included. */
async function pushBench(berthUrl: string, distUrl: string): Promise<void> {
  const COUNT = 64;
  const SIZE = 256 * 1024;
  const PARALLEL = 16;
  const run = async (url: string, blobs: Buffer[]) => {
    let next = 0;
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        while (next < blobs.length) await pushBlob(url, 'bench/push', blobs[next++]!);
      }),
    );
    return Number(process.hrtime.bigint() - started) / 1e9;
  };
  // Different random blobs for each server, so neither finds them already stored.
  const make = () => Array.from({ length: COUNT }, () => randomBytes(SIZE));
  const b = await run(berthUrl, make());
  const d = await run(distUrl, make());
  console.log(`\npush: ${COUNT} distinct ${SIZE / 1024} KiB blobs, ${PARALLEL} at a time`);
  console.log(`${'server'.padEnd(16)}${'blobs/s'.padStart(10)}${'MB/s'.padStart(10)}`);
  for (const [name, secs] of [
    ['berth', b],
    ['docker-registry', d],
  ] as const) {
    console.log(`${name.padEnd(16)}${fmt(COUNT / secs)}${fmt((COUNT * SIZE) / secs / 1e6, 1)}`);
  }
  console.log(`ratio berth/docker-registry: ${(d / b).toFixed(2)}x`);
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'berth-bench-registry-'));
  const procs: ChildProcess[] = [];
  try {
    const berth = await startBerth(join(work, 'berth'));
    procs.push(berth.child);
    const dist = await startDistribution(join(work, 'distribution'));
    procs.push(dist.child);
    console.log(
      `registry blob GET benchmark: ${CLIENTS} clients, ≤${MAX_REQUESTS} requests or ${SECONDS}s per run`,
    );
    console.log(`berth: ${berth.url}   docker-registry: ${dist.url}`);
    for (const sc of SCENARIOS) {
      const blobs = Array.from({ length: sc.count }, () => randomBytes(sc.size));
      const repo = `bench/blobs-${sc.size}`;
      const digests: string[] = [];
      for (const b of blobs) {
        const d1 = await pushBlob(berth.url, repo, b);
        const d2 = await pushBlob(dist.url, repo, b);
        if (d1 !== d2) throw new Error('digest mismatch');
        digests.push(d1);
      }
      // Warm both (page cache, connection setup, JIT) with a short run before measuring.
      await load(berth.url, repo, digests, sc.size);
      await load(dist.url, repo, digests, sc.size);
      const b = await load(berth.url, repo, digests, sc.size);
      const d = await load(dist.url, repo, digests, sc.size);
      const rps = (r: Result) => r.requests / r.seconds;
      const mbs = (r: Result) => r.bytes / r.seconds / 1e6;
      console.log(`\n${sc.label} (${sc.count} blobs)`);
      console.log(
        `${'server'.padEnd(16)}${'requests'.padStart(10)}${'req/s'.padStart(10)}${'MB/s'.padStart(10)}${'errors'.padStart(10)}`,
      );
      for (const [name, r] of [
        ['berth', b],
        ['docker-registry', d],
      ] as const) {
        console.log(`${name.padEnd(16)}${fmt(r.requests)}${fmt(rps(r))}${fmt(mbs(r), 1)}${fmt(r.errors)}`);
      }
      console.log(
        `ratio berth/docker-registry: ${(rps(b) / rps(d)).toFixed(2)}x req/s, ${(mbs(b) / mbs(d)).toFixed(2)}x MB/s`,
      );
    }
    await pushBench(berth.url, dist.url);
  } finally {
    for (const p of procs) await stop(p);
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
