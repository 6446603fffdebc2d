// Per-test fixture for network integration tests: a NetworkService with unique chain, bridge,
// netns names and a unique default subnet, test namespaces, background processes, and a final
// check that nothing of ours is left in the kernel.
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NetworkService, type NetworkServiceOptions } from '../../../src/network/index.js';
import { tempDir } from '../../helpers/index.js';

export interface Fixture {
  tag: string;
  svc: NetworkService;
  options: NetworkServiceOptions;
  dir: string;
  /** Creates a test netns `<tag>-<name>` and returns its path. */
  netns(name: string): string;
  /** Runs a command inside a test netns (its /etc/netns/<ns>/resolv.conf applies). */
  exec(ns: string, args: string[], timeoutMs?: number): Promise<{ code: number; out: string }>;
  /** Starts a background process inside a test netns. */
  spawnIn(ns: string, args: string[]): ChildProcess;
  /** Writes the resolv.conf `ip netns exec` bind-mounts for this netns. */
  setResolvConf(ns: string, text: string): void;
  nsName(name: string): string;
  /** The path of a test netns already made with `netns`. */
  nsPathOf(name: string): string;
  /** Tears down and returns what was left behind (must be empty). */
  teardown(): Promise<string[]>;
}

export async function makeFixture(): Promise<Fixture> {
  const tag = `bt${randomBytes(3).toString('hex')}`;
  const t = tempDir('berth-net-');
  const third = 1 + (randomBytes(1)[0]! % 250);
  const options: NetworkServiceOptions = {
    dataRoot: join(t.path, 'data'),
    runDir: join(t.path, 'run'),
    chainPrefix: tag.toUpperCase(),
    defaultBridge: `${tag}0`,
    defaultSubnet: `10.230.${third}.0/24`,
    netnsPrefix: `${tag}s-`,
  };
  const svc = new NetworkService(options);
  const namespaces: string[] = [];
  const procs: ChildProcess[] = [];
  const nsName = (name: string) => `${tag}-${name}`;
  await svc.init();
  return {
    tag,
    svc,
    options,
    dir: t.path,
    nsName,
    nsPathOf: (name) => `/run/netns/${nsName(name)}`,
    netns(name) {
      const ns = nsName(name);
      execFileSync('ip', ['netns', 'add', ns]);
      namespaces.push(ns);
      return `/run/netns/${ns}`;
    },
    exec(ns, args, timeoutMs = 15_000) {
      return execAsync('ip', ['netns', 'exec', nsName(ns), ...args], timeoutMs);
    },
    spawnIn(ns, args) {
      const p = spawn('ip', ['netns', 'exec', nsName(ns), ...args], { stdio: 'ignore' });
      procs.push(p);
      return p;
    },
    setResolvConf(ns, text) {
      const d = `/etc/netns/${nsName(ns)}`;
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, 'resolv.conf'), text);
    },
    async teardown() {
      for (const p of procs) p.kill('SIGKILL');
      const gateways = svc.list().flatMap((n) => n.IPAM.Config.map((c) => c.Gateway ?? ''));
      await svc.cleanup({ removeRecords: true });
      for (const ns of namespaces) {
        try {
          execFileSync('ip', ['netns', 'del', ns]);
        } catch {
          // already gone
        }
        rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
      }
      t.cleanup();
      const left = leftovers(tag);
      const ss = execFileSync('ss', ['-lntuH']).toString();
      for (const gw of gateways) if (gw && ss.includes(`${gw}:`)) left.push(`listener on ${gw}`);
      return left;
    },
  };
}

/**
 * Runs a command without blocking the event loop (the service's DNS server lives in this process)
 * and collects its exit code and output.
 */
export function execAsync(
  cmd: string,
  args: string[],
  timeoutMs = 15_000,
): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

/** Links, namespaces, rules and listeners carrying the tag: what a clean teardown leaves (nothing). */
export function leftovers(tag: string): string[] {
  const out: string[] = [];
  const links = JSON.parse(execFileSync('ip', ['-j', 'link', 'show']).toString()) as {
    ifname: string;
    ifalias?: string;
  }[];
  for (const l of links) {
    if (l.ifname.startsWith(tag) || l.ifalias?.startsWith(tag.toUpperCase())) out.push(`link ${l.ifname}`);
  }
  const ns = execFileSync('ip', ['netns', 'list']).toString();
  for (const line of ns.split('\n')) if (line.startsWith(tag)) out.push(`netns ${line}`);
  const save = execFileSync('iptables-save').toString();
  for (const line of save.split('\n')) if (line.includes(tag.toUpperCase())) out.push(`rule ${line}`);
  return out;
}

/** The host's main IPv4 address (source of its default route). */
export function hostMainIp(): string {
  const r = JSON.parse(execFileSync('ip', ['-j', 'route', 'get', '1.1.1.1']).toString()) as {
    prefsrc: string;
  }[];
  return r[0]!.prefsrc;
}

/** A TCP port that is free on the host right now. */
export function freePort(): number {
  return 20000 + (randomBytes(2).readUInt16BE(0) % 10000);
}

export async function waitFor(check: () => Promise<boolean>, what: string, tries = 50): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A random hex container id. */
export function cid(): string {
  return randomBytes(32).toString('hex');
}
