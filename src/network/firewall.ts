// iptables rules for bridge networks, kept entirely in chains of our own (`<P>`, `<P>-POSTROUTING`,
// `<P>-FORWARD`, `<P>-ISOLATION-1/2`) so that removal is exact. The whole rule set is computed from
// the network records and written in one `iptables-restore --noflush` (atomic, one process however
// many rules), so every change, recovery and rollback is the same idempotent "sync".
import { internal, run, runChecked } from '../util/index.js';
import type { PublishedPort } from './types.js';

export interface BridgeRules {
  bridge: string;
  subnet: string;
  gateway: string;
  internal: boolean;
  /** Whether the embedded DNS listens on the gateway (its port 53 must not be DNATed away). */
  dns: boolean;
  endpoints: { ipv4: string; ports: PublishedPort[] }[];
}

export interface Chains {
  nat: string;
  postrouting: string;
  forward: string;
  isolation1: string;
  isolation2: string;
}

export function chainsFor(prefix: string): Chains {
  return {
    nat: prefix,
    postrouting: `${prefix}-POSTROUTING`,
    forward: `${prefix}-FORWARD`,
    isolation1: `${prefix}-ISOLATION-1`,
    isolation2: `${prefix}-ISOLATION-2`,
  };
}

/** The jumps from the built-in chains into ours. */
function jumps(c: Chains): { table: string; chain: string; rule: string[] }[] {
  return [
    { table: 'nat', chain: 'PREROUTING', rule: ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', c.nat] },
    { table: 'nat', chain: 'OUTPUT', rule: ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', c.nat] },
    { table: 'nat', chain: 'POSTROUTING', rule: ['-j', c.postrouting] },
    { table: 'filter', chain: 'FORWARD', rule: ['-j', c.forward] },
  ];
}

/** The iptables-restore input for our chains (each declared chain is flushed and refilled). */
export function renderRules(c: Chains, bridges: readonly BridgeRules[]): string {
  const nat: string[] = [`:${c.nat} - [0:0]`, `:${c.postrouting} - [0:0]`];
  const filter: string[] = [
    `:${c.forward} - [0:0]`,
    `:${c.isolation1} - [0:0]`,
    `:${c.isolation2} - [0:0]`,
    `-A ${c.forward} -j ${c.isolation1}`,
  ];
  for (const b of bridges) {
    const br = b.bridge;
    if (b.dns) {
      for (const proto of ['udp', 'tcp']) {
        nat.push(`-A ${c.nat} -i ${br} -d ${b.gateway}/32 -p ${proto} --dport 53 -j RETURN`);
      }
    }
    if (!b.internal) {
      for (const ep of b.endpoints) {
        for (const p of ep.ports) {
          const dst = p.hostIp === '0.0.0.0' ? '' : ` -d ${p.hostIp}/32`;
          nat.push(
            `-A ${c.nat}${dst} -p ${p.proto} -m ${p.proto} --dport ${p.hostPort} -j DNAT --to-destination ${ep.ipv4}:${p.containerPort}`,
          );
        }
      }
      nat.push(`-A ${c.postrouting} -s ${b.subnet} ! -o ${br} -j MASQUERADE`);
    }
    // Published on 127.0.0.1 (route_localnet) and container-to-published-port (hairpin) traffic
    // must come back through the host, so its source becomes the gateway.
    nat.push(`-A ${c.postrouting} -s 127.0.0.0/8 -o ${br} -j MASQUERADE`);
    nat.push(`-A ${c.postrouting} -s ${b.subnet} -o ${br} -m conntrack --ctstate DNAT -j MASQUERADE`);

    filter.push(`-A ${c.isolation1} -i ${br} ! -o ${br} -j ${c.isolation2}`);
    filter.push(`-A ${c.isolation2} -o ${br} -j DROP`);
    filter.push(`-A ${c.forward} -i ${br} -o ${br} -j ACCEPT`);
    if (b.internal) {
      filter.push(`-A ${c.forward} -i ${br} ! -o ${br} -j DROP`);
      filter.push(`-A ${c.forward} -o ${br} ! -i ${br} -j DROP`);
    } else {
      filter.push(`-A ${c.forward} -o ${br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);
      filter.push(`-A ${c.forward} -o ${br} -m conntrack --ctstate DNAT -j ACCEPT`);
      filter.push(`-A ${c.forward} -i ${br} ! -o ${br} -j ACCEPT`);
    }
  }
  filter.push(`-A ${c.isolation1} -j RETURN`, `-A ${c.isolation2} -j RETURN`);
  return ['*nat', ...nat, 'COMMIT', '*filter', ...filter, 'COMMIT', ''].join('\n');
}

export async function applyRules(c: Chains, bridges: readonly BridgeRules[]): Promise<void> {
  const input = renderRules(c, bridges);
  const r = await run('iptables-restore', ['--noflush', '--wait'], { input });
  if (r.code !== 0) throw internal(`iptables-restore of ${c.nat} chains failed: ${r.stderr.trim()}`);
}

/** Makes sure the built-in chains jump into ours (first, so a DROP policy elsewhere cannot win). */
export async function ensureJumps(c: Chains): Promise<void> {
  // The chains must exist before a jump to them can be added.
  await applyRulesIfMissing(c);
  for (const j of jumps(c)) {
    const check = await run('iptables', ['--wait', '-t', j.table, '-C', j.chain, ...j.rule]);
    if (check.code !== 0)
      await runChecked('iptables', ['--wait', '-t', j.table, '-I', j.chain, '1', ...j.rule]);
  }
}

async function applyRulesIfMissing(c: Chains): Promise<void> {
  const r = await run('iptables', ['--wait', '-t', 'nat', '-S', c.nat]);
  if (r.code !== 0) await applyRules(c, []);
}

/** Removes every jump to our chains, then the chains: exactly what we created, nothing else. */
export async function removeAll(c: Chains): Promise<void> {
  for (const j of jumps(c)) {
    for (let i = 0; i < 20; i++) {
      const r = await run('iptables', ['--wait', '-t', j.table, '-D', j.chain, ...j.rule]);
      if (r.code !== 0) break;
    }
  }
  for (const [table, chain] of [
    ['nat', c.nat],
    ['nat', c.postrouting],
    ['filter', c.forward],
    ['filter', c.isolation1],
    ['filter', c.isolation2],
  ] as const) {
    await run('iptables', ['--wait', '-t', table, '-F', chain]);
  }
  for (const [table, chain] of [
    ['nat', c.nat],
    ['nat', c.postrouting],
    ['filter', c.forward],
    ['filter', c.isolation1],
    ['filter', c.isolation2],
  ] as const) {
    await run('iptables', ['--wait', '-t', table, '-X', chain]);
  }
}

/** Lines of `iptables -S` (both tables) that mention our prefix; empty after a clean removal. */
export async function listOurRules(prefix: string): Promise<string[]> {
  const out: string[] = [];
  for (const table of ['nat', 'filter']) {
    const r = await run('iptables', ['--wait', '-t', table, '-S']);
    for (const line of r.stdout.split('\n')) if (line.includes(prefix)) out.push(`${table}: ${line}`);
  }
  return out;
}
