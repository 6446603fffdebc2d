// Container network setup cost, berth's direct `ip`/`iptables-restore` plumbing vs the CNI plugin
// chain Podman and containerd use (bridge + host-local + portmap + firewall, invoked directly with
// the CNI_* environment and the net conf on stdin), side by side in one run (root only). Each
// iteration attaches a fresh netns with one published port and detaches it again.
//
// Run: node --import tsx bench/network-setup.ts [--iterations 10]
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetworkService } from '../src/network/index.js';

const args = process.argv.slice(2);
const ITER = Number(args[args.indexOf('--iterations') + 1] ?? 10) || 10;
const CNI_PATH = '/usr/lib/cni';

function plugin(type: string, env: Record<string, string>, conf: object): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(join(CNI_PATH, type), [], { env: { ...process.env, ...env, CNI_PATH } });
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${type} ${env.CNI_COMMAND}: ${out}`)),
    );
    p.stdin.end(JSON.stringify(conf));
  });
}

async function cniChain(cmd: 'ADD' | 'DEL', id: string, netns: string, tmp: string, port: number) {
  const base = { cniVersion: '1.0.0', name: 'berthbench' };
  const plugins: { type: string; [k: string]: unknown }[] = [
    {
      type: 'bridge',
      bridge: 'bcnibench0',
      isGateway: true,
      ipMasq: true,
      hairpinMode: true,
      ipam: {
        type: 'host-local',
        ranges: [[{ subnet: '10.229.99.0/24' }]],
        routes: [{ dst: '0.0.0.0/0' }],
        dataDir: join(tmp, 'ipam'),
      },
    },
    {
      type: 'portmap',
      capabilities: { portMappings: true },
      runtimeConfig: { portMappings: [{ hostPort: port, containerPort: 80, protocol: 'tcp' }] },
    },
    { type: 'firewall' },
  ];
  const env = { CNI_COMMAND: cmd, CNI_CONTAINERID: id, CNI_NETNS: netns, CNI_IFNAME: 'eth0' };
  let prev: unknown;
  for (const p of cmd === 'ADD' ? plugins : [...plugins].reverse()) {
    const out = await plugin(p.type, env, { ...base, ...p, ...(prev ? { prevResult: prev } : {}) });
    if (cmd === 'ADD') prev = JSON.parse(out);
  }
}

function cleanupCni(): void {
  try {
    execFileSync('ip', ['link', 'del', 'bcnibench0'], { stdio: 'ignore' });
  } catch {
    // gone
  }
  // The plugins' shared chains stay behind after DEL; remove them only when nobody else uses CNI.
  const nat = execFileSync('iptables-save', ['-t', 'nat']).toString();
  if (/^-A CNI-HOSTPORT-DNAT /m.test(nat) || /^:CNI-[0-9a-f]{24} /m.test(nat)) return;
  const rm = (table: string, argv: string[]) => {
    try {
      execFileSync('iptables', ['-t', table, ...argv], { stdio: 'ignore' });
    } catch {
      // not there
    }
  };
  for (const table of ['nat', 'filter']) {
    const save = execFileSync('iptables-save', ['-t', table]).toString();
    for (const line of save.split('\n')) {
      if (/^-A (PREROUTING|OUTPUT|POSTROUTING|FORWARD|INPUT) .*-j CNI-/.test(line))
        rm(table, ['-D', ...splitRule(line.slice(3))]);
    }
    for (const m of save.matchAll(/^:(CNI-[A-Z-]+) /gm)) rm(table, ['-F', m[1]!]);
    for (const m of save.matchAll(/^:(CNI-[A-Z-]+) /gm)) rm(table, ['-X', m[1]!]);
  }
}

/** Splits an iptables-save rule into arguments, keeping quoted comments whole. */
function splitRule(rule: string): string[] {
  return (rule.match(/(?:[^\s"]+|"[^"]*")+/g) ?? []).map((x) => x.replace(/^"|"$/g, ''));
}

const stats = (ms: number[]) => {
  const s = [...ms].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, min: s[0]! };
};

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root');
  const tmp = mkdtempSync(join(tmpdir(), 'berth-setupbench-'));
  const tag = `bsb${randomBytes(2).toString('hex')}`;
  const svc = new NetworkService({
    dataRoot: join(tmp, 'data'),
    runDir: join(tmp, 'run'),
    chainPrefix: tag.toUpperCase(),
    defaultBridge: `${tag}0`,
    defaultSubnet: '10.229.98.0/24',
    netnsPrefix: `${tag}-`,
  });
  const ns = `${tag}cni`;
  execFileSync('ip', ['netns', 'add', ns]);
  const times: Record<string, number[]> = {
    'berth attach': [],
    'berth detach': [],
    'CNI ADD': [],
    'CNI DEL': [],
  };
  try {
    await svc.init();
    await svc.create({ Name: 'setupbench' });
    for (let i = 0; i < ITER; i++) {
      const port = 40000 + i;
      const id = randomBytes(32).toString('hex');
      let t = performance.now();
      const path = await svc.createSandbox(id);
      await svc.connect('setupbench', {
        containerId: id,
        containerName: `c${i}`,
        netnsPath: path,
        portBindings: { '80/tcp': [{ HostIp: '', HostPort: String(port) }] },
      });
      times['berth attach']!.push(performance.now() - t);
      t = performance.now();
      await svc.disconnectAll(id);
      await svc.destroySandbox(id);
      times['berth detach']!.push(performance.now() - t);

      const cid = randomBytes(32).toString('hex');
      t = performance.now();
      await cniChain('ADD', cid, `/run/netns/${ns}`, tmp, port + 1000);
      times['CNI ADD']!.push(performance.now() - t);
      t = performance.now();
      await cniChain('DEL', cid, `/run/netns/${ns}`, tmp, port + 1000);
      times['CNI DEL']!.push(performance.now() - t);
    }
  } finally {
    await svc.cleanup({ removeRecords: true });
    try {
      execFileSync('ip', ['netns', 'del', ns]);
    } catch {
      // gone
    }
    cleanupCni();
    rmSync(tmp, { recursive: true, force: true });
  }
  console.log(`\nnetwork setup: ${ITER} attach/detach cycles with one published port (ms)\n`);
  console.log(`${'step'.padEnd(14)} ${'median'.padStart(8)} ${'min'.padStart(8)}`);
  for (const [k, v] of Object.entries(times)) {
    const s = stats(v);
    console.log(`${k.padEnd(14)} ${s.median.toFixed(1).padStart(8)} ${s.min.toFixed(1).padStart(8)}`);
  }
  const ratio = (a: string, b: string) => stats(times[b]!).median / stats(times[a]!).median;
  console.log(
    `\nattach: CNI/berth = ${ratio('berth attach', 'CNI ADD').toFixed(2)}x, detach: CNI/berth = ${ratio('berth detach', 'CNI DEL').toFixed(2)}x (>1: berth faster)`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
