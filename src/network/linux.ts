// Links, addresses and namespaces through iproute2 (`ip`), and the sysctls bridge networking needs.
// One `ip -batch` per namespace keeps a connect to a handful of process spawns.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { internal, run, runChecked } from '../util/index.js';

export interface LinkInfo {
  ifname: string;
  ifalias?: string;
  operstate?: string;
}

export async function listLinks(): Promise<LinkInfo[]> {
  const r = await runChecked('ip', ['-j', 'link', 'show']);
  return JSON.parse(r.stdout || '[]') as LinkInfo[];
}

export async function linkExists(name: string): Promise<boolean> {
  return (await run('ip', ['link', 'show', 'dev', name])).code === 0;
}

export async function deleteLink(name: string): Promise<void> {
  const r = await run('ip', ['link', 'del', 'dev', name]);
  if (r.code !== 0 && !/Cannot find device|does not exist/.test(r.stderr)) {
    throw internal(`ip link del ${name} failed: ${r.stderr.trim()}`);
  }
}

async function sysctl(path: string, value: string): Promise<void> {
  try {
    await writeFile(path, value);
  } catch (err) {
    throw internal(`cannot set ${path} to ${value}`, err);
  }
}

export async function enableForwarding(): Promise<void> {
  await sysctl('/proc/sys/net/ipv4/ip_forward', '1');
}

/** Creates (or completes) a bridge with the gateway address; `alias` marks it as ours for cleanup. */
export async function ensureBridge(name: string, gatewayCidr: string, alias: string): Promise<void> {
  if (!linkPresent(name)) {
    const r = await run('ip', ['link', 'add', 'name', name, 'type', 'bridge']);
    if (r.code !== 0 && !/File exists/.test(r.stderr)) {
      throw internal(`cannot create bridge ${name}: ${r.stderr.trim()}`);
    }
  }
  try {
    await runChecked('ip', ['-batch', '-'], {
      input: [
        `link set dev ${name} alias ${alias}`,
        `addr replace ${gatewayCidr} dev ${name}`,
        `link set dev ${name} up`,
        '',
      ].join('\n'),
    });
    // 127.0.0.1 published ports are DNATed to the bridge: the kernel must route loopback sources there.
    await sysctl(`/proc/sys/net/ipv4/conf/${name}/route_localnet`, '1');
  } catch (err) {
    await deleteLink(name).catch(() => {});
    throw err;
  }
}

export interface VethSpec {
  hostVeth: string;
  ifName: string;
  netnsPath: string;
  bridge: string;
  alias: string;
  cidr: string;
  gateway: string;
  mac: string;
  defaultRoute: boolean;
}

/** Whether a link of that name exists in our namespace (sysfs: no process spawned). */
export function linkPresent(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}

/** `ip` arguments that run inside the namespace: `-n <name>` for a named netns, else through nsenter. */
function ipIn(netnsPath: string): { cmd: string; args: string[] } {
  const named = /^\/run\/netns\/([^/]+)$/.exec(netnsPath);
  return named
    ? { cmd: 'ip', args: ['-n', named[1]!] }
    : { cmd: 'nsenter', args: [`--net=${netnsPath}`, 'ip'] };
}

/**
 * Creates the veth pair with its peer directly in the namespace, addresses it and plugs it in: two
 * `ip -batch` processes (the host side, then the namespace side), whatever the number of settings.
 */
export async function createVeth(s: VethSpec): Promise<void> {
  if (!existsSync(s.netnsPath)) throw internal(`network namespace ${s.netnsPath} does not exist`);
  if (linkPresent(s.hostVeth)) await deleteLink(s.hostVeth); // a leftover of a crash mid-connect
  try {
    await runChecked('ip', ['-batch', '-'], {
      input: [
        `link add ${s.hostVeth} type veth peer name ${s.ifName} address ${s.mac} netns ${s.netnsPath}`,
        `link set dev ${s.hostVeth} master ${s.bridge} alias ${s.alias}`,
        // Hairpin lets a container reach itself through its own published port.
        `link set dev ${s.hostVeth} type bridge_slave hairpin on`,
        `link set dev ${s.hostVeth} up`,
        '',
      ].join('\n'),
    });
    const inside = [
      `link set dev lo up`,
      `addr add ${s.cidr} dev ${s.ifName}`,
      `link set dev ${s.ifName} up`,
    ];
    if (s.defaultRoute) inside.push(`route replace default via ${s.gateway} dev ${s.ifName}`);
    const ip = ipIn(s.netnsPath);
    await runChecked(ip.cmd, [...ip.args, '-batch', '-'], { input: `${inside.join('\n')}\n` });
  } catch (err) {
    await deleteLink(s.hostVeth).catch(() => {});
    throw err;
  }
}

/**
 * Deletes host-side links and named namespaces in one `ip -force -batch` (a container's teardown):
 * missing ones are not an error. Deleting the namespace also destroys the veth peers inside it.
 */
export async function deleteLinksAndNetns(
  links: readonly string[],
  netnsNames: readonly string[],
): Promise<void> {
  const lines = [
    ...links.filter(linkPresent).map((l) => `link del dev ${l}`),
    ...netnsNames.filter((n) => existsSync(`/run/netns/${n}`)).map((n) => `netns del ${n}`),
  ];
  if (lines.length === 0) return;
  const r = await run('ip', ['-force', '-batch', '-'], { input: `${lines.join('\n')}\n` });
  if (r.code !== 0 && !/Cannot find device|does not exist|No such file/.test(r.stderr)) {
    throw internal(`ip -batch (${lines.join('; ')}) failed: ${r.stderr.trim()}`);
  }
}

/** Removes a container-side interface when its host side is already gone (netns kept alive). */
export async function deleteLinkInNetns(netnsPath: string, ifName: string): Promise<void> {
  if (!existsSync(netnsPath)) return;
  await run('nsenter', [`--net=${netnsPath}`, 'ip', 'link', 'del', 'dev', ifName]);
}

/** A named namespace; `loopback` brings lo up (a bridge connect does that in its own batch instead). */
export async function addNamedNetns(name: string, opts: { loopback?: boolean } = {}): Promise<string> {
  const path = `/run/netns/${name}`;
  if (!existsSync(path)) await runChecked('ip', ['netns', 'add', name]);
  if (opts.loopback !== false) await runChecked('ip', ['-n', name, 'link', 'set', 'dev', 'lo', 'up']);
  return path;
}

export async function deleteNamedNetns(name: string): Promise<void> {
  if (existsSync(`/run/netns/${name}`)) await run('ip', ['netns', 'del', name]);
}

export async function listNamedNetns(): Promise<string[]> {
  const r = await run('ip', ['-j', 'netns', 'list']);
  if (r.code !== 0 || !r.stdout.trim()) return [];
  return (JSON.parse(r.stdout) as { name: string }[]).map((n) => n.name);
}

/** The host's IPv4 routes' destinations (to keep auto-allocated subnets off them). */
export async function hostRoutes(): Promise<string[]> {
  const r = await run('ip', ['-j', '-4', 'route', 'show', 'table', 'all']);
  if (r.code !== 0) return [];
  const routes = JSON.parse(r.stdout || '[]') as { dst?: string; type?: string }[];
  return routes
    .filter((x) => x.dst && x.dst !== 'default' && (x.type === undefined || x.type === 'unicast'))
    .map((x) => (x.dst!.includes('/') ? x.dst! : `${x.dst}/32`));
}
