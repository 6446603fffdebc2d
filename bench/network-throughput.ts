// Networking benchmark, berth vs Docker side by side in one run (root only):
//   - TCP throughput through a published port (HTTP GET of a large file, wrk), on 127.0.0.1 and on
//     the host's main address;
//   - connection rate through a published port (wrk with `Connection: close`, one TCP connection
//     per request);
//   - name-lookup latency from a second container to the first one's name via the embedded DNS.
// The server is the same busybox httpd host process in both cases, run inside the container's
// network namespace, so only the network path differs. berth's side is the NetworkService driven
// directly (named netns + connect); Docker's is a private dockerd (own data/exec root and socket,
// no docker0, default userland-proxy) with a busybox image made by `docker import`, containers
// `web` (published port) and `client` on a user network, lookups against its 127.0.0.11. Everything is removed at the end, Docker's
// iptables chains included (unless another dockerd is running).
//
// Run: node --import tsx bench/network-throughput.ts [--seconds 5] [--rounds 2]
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetworkService } from '../src/network/index.js';
import { makeBusyboxRootfs } from '../test/helpers/index.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const SECONDS = opt('seconds', 5);
const ROUNDS = opt('rounds', 2);
const LOOKUPS = opt('lookups', 2000);

function sh(cmd: string, argv: string[], env?: NodeJS.ProcessEnv): string {
  return execFileSync(cmd, argv, { env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

/** Runs a command without blocking our event loop (berth's DNS server lives in this process). */
function runAsync(cmd: string, argv: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.stderr.on('data', (d) => {
      err += d;
    });
    p.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} ${argv.join(' ')}: ${err}`)),
    );
  });
}

function hostMainIp(): string {
  const r = JSON.parse(sh('ip', ['-j', 'route', 'get', '1.1.1.1'])) as { prefsrc: string }[];
  return r[0]!.prefsrc;
}

function parseRate(text: string, unit: 'req' | 'transfer'): number {
  if (unit === 'req') return Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? Number.NaN);
  const m = /Transfer\/sec:\s+([\d.]+)(\w+)/.exec(text);
  if (!m) return Number.NaN;
  const mult: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 };
  return (Number(m[1]) * (mult[m[2]!] ?? 1)) / 1024 ** 2; // MiB/s
}

async function wrk(url: string, close: boolean): Promise<string> {
  const argv = ['-t2', close ? '-c16' : '-c4', `-d${SECONDS}s`, '--timeout', '5s'];
  if (close) argv.push('-H', 'Connection: close');
  return runAsync('wrk', [...argv, url]);
}

// A tiny sequential DNS client, run inside a container's netns: prints the mean latency in µs.
const PROBE = `
import { createSocket } from 'node:dgram';
const [server, name, n] = process.argv.slice(2);
const q = (id) => {
  const labels = name.split('.').flatMap((l) => [Buffer.from([l.length]), Buffer.from(l)]);
  const h = Buffer.alloc(12); h.writeUInt16BE(id, 0); h.writeUInt16BE(0x0100, 2); h.writeUInt16BE(1, 4);
  return Buffer.concat([h, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
};
const sock = createSocket('udp4');
let i = 0, ok = 0; const t0 = process.hrtime.bigint();
const next = () => {
  if (i >= Number(n)) { const us = Number(process.hrtime.bigint() - t0) / 1000 / Number(n); console.log(JSON.stringify({ us, ok })); sock.close(); return; }
  const id = i++ & 0xffff; const timer = setTimeout(next, 2000);
  sock.once('message', (m) => { clearTimeout(timer); if (m.readUInt16BE(0) === id && m.readUInt16BE(6) > 0) ok++; next(); });
  sock.send(q(id), 53, server);
};
next();
`;

interface Side {
  name: string;
  port: number;
  dnsProbe(n: number): Promise<{ us: number; ok: number }>;
  teardown(): Promise<void>;
}

async function berthSide(tmp: string, www: string): Promise<Side> {
  const tag = `bbench${randomBytes(2).toString('hex')}`;
  const svc = new NetworkService({
    dataRoot: join(tmp, 'berth-data'),
    runDir: join(tmp, 'berth-run'),
    chainPrefix: tag.toUpperCase(),
    defaultBridge: `${tag}0`,
    defaultSubnet: '10.229.77.0/24',
    netnsPrefix: `${tag}-`,
  });
  const procs: ChildProcess[] = [];
  await svc.init();
  const teardown = async () => {
    for (const p of procs) p.kill('SIGKILL');
    await svc.cleanup({ removeRecords: true });
  };
  try {
    await svc.create({ Name: 'benchnet' });
    const webId = randomBytes(32).toString('hex');
    const cliId = randomBytes(32).toString('hex');
    const port = 30000 + (randomBytes(2).readUInt16BE(0) % 5000);
    const t0 = performance.now();
    const webNs = await svc.createSandbox(webId);
    await svc.connect('benchnet', {
      containerId: webId,
      containerName: 'web',
      netnsPath: webNs,
      portBindings: { '80/tcp': [{ HostIp: '', HostPort: String(port) }] },
    });
    console.log(
      `berth: sandbox + connect with a published port took ${(performance.now() - t0).toFixed(1)} ms`,
    );
    const cliNs = await svc.createSandbox(cliId);
    const cli = await svc.connect('benchnet', {
      containerId: cliId,
      containerName: 'client',
      netnsPath: cliNs,
    });
    procs.push(
      spawn(
        'ip',
        ['netns', 'exec', webNs.split('/').pop()!, 'busybox', 'httpd', '-f', '-p', '80', '-h', www],
        {
          stdio: 'ignore',
        },
      ),
    );
    const probe = join(tmp, 'probe.mjs');
    return {
      name: 'berth',
      port,
      dnsProbe: async (n) =>
        JSON.parse(
          await runAsync('ip', [
            'netns',
            'exec',
            cliNs.split('/').pop()!,
            process.execPath,
            probe,
            cli.Gateway,
            'web',
            String(n),
          ]),
        ),
      teardown,
    };
  } catch (err) {
    await teardown();
    throw err;
  }
}

const DOCKER_CHAINS: [string, string][] = [
  ['filter', 'DOCKER'],
  ['filter', 'DOCKER-ISOLATION-STAGE-1'],
  ['filter', 'DOCKER-ISOLATION-STAGE-2'],
  ['filter', 'DOCKER-USER'],
  ['nat', 'DOCKER'],
];

async function dockerSide(tmp: string, www: string): Promise<Side> {
  const d = join(tmp, 'docker');
  mkdirSync(d, { recursive: true });
  const sock = join(d, 'd.sock');
  const env = { ...process.env, DOCKER_HOST: `unix://${sock}` };
  const docker = (argv: string[]) => sh('docker', argv, env).trim();
  const otherDockerd = sh('sh', ['-c', 'pgrep -x dockerd || true']).trim() !== '';
  const forwardPolicy = /-P FORWARD (\w+)/.exec(sh('iptables', ['-S', 'FORWARD']))?.[1] ?? 'ACCEPT';
  // --bridge none: no docker0, so we cannot collide with a Docker daemon (or another bench) here.
  const dockerd = spawn(
    'dockerd',
    [
      '--data-root',
      join(d, 'data'),
      '--exec-root',
      join(d, 'exec'),
      '--pidfile',
      join(d, 'd.pid'),
      '-H',
      `unix://${sock}`,
      '--bridge',
      'none',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  dockerd.stderr!.on('data', (b) => {
    log = (log + b).slice(-4000);
  });
  let server: ChildProcess | undefined;
  const teardown = async () => {
    server?.kill('SIGKILL');
    try {
      docker(['rm', '-f', 'web', 'client']);
    } catch {
      // not started
    }
    try {
      docker(['network', 'rm', 'benchnet']);
    } catch {
      // not created
    }
    dockerd.kill('SIGTERM');
    await new Promise((r) => {
      if (dockerd.exitCode !== null) r(null);
      else dockerd.once('exit', r);
      setTimeout(r, 20_000);
    });
    if (!otherDockerd) {
      // Docker leaves its chains and the jumps to them: remove exactly those.
      for (const table of ['filter', 'nat']) {
        for (const line of sh('iptables-save', ['-t', table]).split('\n')) {
          if (/^-A (FORWARD|PREROUTING|OUTPUT|POSTROUTING|INPUT) .*-j DOCKER/.test(line)) {
            const rule = line
              .slice(3)
              .match(/(?:[^\s"]+|"[^"]*")+/g)!
              .map((x) => x.replace(/^"|"$/g, ''));
            try {
              sh('iptables', ['-t', table, '-D', ...rule]);
            } catch {
              // already gone
            }
          }
        }
      }
      for (const [table, chain] of DOCKER_CHAINS) {
        try {
          sh('iptables', ['-t', table, '-F', chain]);
          sh('iptables', ['-t', table, '-X', chain]);
        } catch {
          // not there
        }
      }
      sh('iptables', ['-P', 'FORWARD', forwardPolicy]);
    }
    try {
      sh('sh', ['-c', `grep ' ${d}' /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r umount -l`]);
    } catch {
      // nothing mounted
    }
    rmSync(d, { recursive: true, force: true });
  };
  try {
    for (let i = 0; ; i++) {
      try {
        docker(['version', '--format', '{{.Server.Version}}']);
        break;
      } catch {
        if (i > 100 || dockerd.exitCode !== null) throw new Error(`dockerd did not start: ${log}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    const rootfs = join(d, 'rootfs');
    makeBusyboxRootfs(rootfs);
    const tar = join(d, 'rootfs.tar');
    sh('tar', ['-C', rootfs, '-cf', tar, '.']);
    docker(['import', tar, 'berth-bench-busybox:latest']);
    docker(['network', 'create', 'benchnet']);
    const port = 35000 + (randomBytes(2).readUInt16BE(0) % 5000);
    docker([
      'run',
      '-d',
      '--name',
      'web',
      '--network',
      'benchnet',
      '-p',
      `${port}:80`,
      'berth-bench-busybox',
      'sleep',
      '3600',
    ]);
    // The server is the same host process on both sides, entered into the container's netns, so
    // only the network path differs (not seccomp/cgroup costs of a runc container).
    const webPid = docker(['inspect', '-f', '{{.State.Pid}}', 'web']);
    server = spawn(
      'nsenter',
      [`--net=/proc/${webPid}/ns/net`, 'busybox', 'httpd', '-f', '-p', '80', '-h', www],
      {
        stdio: 'ignore',
      },
    );
    docker([
      'run',
      '-d',
      '--name',
      'client',
      '--network',
      'benchnet',
      'berth-bench-busybox',
      'sleep',
      '3600',
    ]);
    const pid = docker(['inspect', '-f', '{{.State.Pid}}', 'client']);
    const probe = join(tmp, 'probe.mjs');
    return {
      name: 'docker',
      port,
      dnsProbe: async (n) =>
        JSON.parse(
          await runAsync('nsenter', [
            `--net=/proc/${pid}/ns/net`,
            process.execPath,
            probe,
            '127.0.0.11',
            'web',
            String(n),
          ]),
        ),
      teardown,
    };
  } catch (err) {
    await teardown();
    throw err;
  }
}

async function waitHttp(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      await runAsync('busybox', ['wget', '-q', '-O', '/dev/null', url]);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${url} never answered`);
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root');
  if (!existsSync('/usr/bin/wrk')) sh('apt-get', ['install', '-y', 'wrk']);
  const tmp = mkdtempSync(join(tmpdir(), 'berth-netbench-'));
  const www = join(tmp, 'www');
  mkdirSync(www);
  writeFileSync(join(www, 'index.html'), 'ok\n');
  writeFileSync(join(www, 'big.bin'), Buffer.alloc(64 * 1024 * 1024, 7));
  writeFileSync(join(tmp, 'probe.mjs'), PROBE);
  const hostIp = hostMainIp();
  const sides: Side[] = [];
  try {
    sides.push(await berthSide(tmp, www));
    sides.push(await dockerSide(tmp, www));
    for (const s of sides) await waitHttp(`http://${hostIp}:${s.port}/index.html`);
    const results: Record<string, Record<string, number[]>> = {};
    const record = (side: string, metric: string, v: number) => {
      results[metric] ??= {};
      (results[metric][side] ??= []).push(v);
    };
    for (let round = 0; round < ROUNDS; round++) {
      // Lookups first, on a quiet machine, then the loads.
      for (const s of sides) {
        const dns = await s.dnsProbe(LOOKUPS);
        if (dns.ok !== LOOKUPS) console.log(`${s.name}: only ${dns.ok}/${LOOKUPS} lookups answered`);
        record(s.name, 'lookup latency (µs, lower is better)', dns.us);
      }
      for (const s of sides) {
        for (const [label, ip] of [
          ['throughput 127.0.0.1 (MiB/s)', '127.0.0.1'],
          [`throughput ${hostIp} (MiB/s)`, hostIp],
        ] as const) {
          record(s.name, label, parseRate(await wrk(`http://${ip}:${s.port}/big.bin`, false), 'transfer'));
        }
        record(
          s.name,
          'connections/s 127.0.0.1',
          parseRate(await wrk(`http://127.0.0.1:${s.port}/index.html`, true), 'req'),
        );
        record(
          s.name,
          `connections/s ${hostIp}`,
          parseRate(await wrk(`http://${hostIp}:${s.port}/index.html`, true), 'req'),
        );
      }
    }
    console.log(
      `\nnetwork benchmark: ${ROUNDS} round(s) of ${SECONDS}s per load, ${LOOKUPS} sequential lookups; best of rounds\n`,
    );
    console.log(
      `${'metric'.padEnd(40)} ${'berth'.padStart(10)} ${'docker'.padStart(10)}  ratio (berth/docker)`,
    );
    for (const [metric, bySide] of Object.entries(results)) {
      const lowerBetter = metric.includes('latency');
      const best = (v: number[]) => (lowerBetter ? Math.min(...v) : Math.max(...v));
      const b = best(bySide.berth ?? [Number.NaN]);
      const d = best(bySide.docker ?? [Number.NaN]);
      const ratio = lowerBetter ? d / b : b / d;
      console.log(
        `${metric.padEnd(40)} ${b.toFixed(1).padStart(10)} ${d.toFixed(1).padStart(10)}  ${ratio.toFixed(2)}x${lowerBetter ? ' (docker/berth: >1 means berth is faster)' : ''}`,
      );
    }
  } finally {
    for (const s of sides.reverse())
      await s.teardown().catch((e) => console.error(`teardown ${s.name}: ${e}`));
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
