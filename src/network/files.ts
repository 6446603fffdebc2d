// The container's /etc/resolv.conf and /etc/hosts, in the format Docker writes them.
import { constants, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { isIP } from 'node:net';
import { badRequest } from '../util/index.js';

export interface ResolvConf {
  nameservers: string[];
  search: string[];
  options: string[];
}

export function parseResolvConf(text: string): ResolvConf {
  const out: ResolvConf = { nameservers: [], search: [], options: [] };
  for (const line of text.split('\n')) {
    const fields = line
      .replace(/[#;].*$/, '')
      .trim()
      .split(/\s+/);
    const [key, ...rest] = fields;
    if (key === 'nameserver' && rest[0]) out.nameservers.push(rest[0]);
    else if (key === 'search' || key === 'domain') out.search = rest;
    else if (key === 'options') out.options.push(...rest);
  }
  return out;
}

/** True for resolvers a container cannot reach: loopback (127.0.0.53 systemd-resolved, ::1). */
export function isLocalResolver(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1' || ip === '0.0.0.0';
}

/** Docker's fallback when the host has no usable resolver. */
export const DEFAULT_RESOLVERS = ['8.8.8.8', '8.8.4.4'];

export function readHostResolvConf(path = '/etc/resolv.conf'): ResolvConf {
  try {
    return parseResolvConf(readFileSync(path, 'utf8'));
  } catch {
    return { nameservers: [], search: [], options: [] };
  }
}

/** The host's resolvers a container can use (IPv4 only, no loopback), or Docker's fallback. */
export function upstreamResolvers(conf: ResolvConf = readHostResolvConf()): string[] {
  const usable = conf.nameservers.filter((ns) => isIP(ns) === 4 && !isLocalResolver(ns));
  return usable.length > 0 ? usable : DEFAULT_RESOLVERS;
}

export interface DnsSettings {
  /** `--dns` */
  dns?: string[];
  /** `--dns-search`; `.` alone means no search domains. */
  dnsSearch?: string[];
  /** `--dns-opt` */
  dnsOptions?: string[];
}

/**
 * Renders a container's resolv.conf. With `embeddedServer` (a user-defined network's DNS) the
 * container asks it for everything and it forwards other names (to `--dns` when given); otherwise
 * the container gets `--dns` or the host's usable resolvers, as on Docker's default bridge.
 */
export function renderResolvConf(
  embeddedServer: string | undefined,
  settings: DnsSettings = {},
  host: ResolvConf = readHostResolvConf(),
): string {
  for (const ns of settings.dns ?? []) {
    if (isIP(ns) === 0) throw badRequest(`invalid DNS server address ${JSON.stringify(ns)} (--dns)`);
  }
  for (const opt of settings.dnsOptions ?? []) {
    if (!/^\S+$/.test(opt)) throw badRequest(`invalid DNS option ${JSON.stringify(opt)} (--dns-opt)`);
  }
  for (const s of settings.dnsSearch ?? []) {
    if (!/^[A-Za-z0-9._-]+$/.test(s))
      throw badRequest(`invalid DNS search domain ${JSON.stringify(s)} (--dns-search)`);
  }
  let search = settings.dnsSearch && settings.dnsSearch.length > 0 ? settings.dnsSearch : host.search;
  if (search.length === 1 && search[0] === '.') search = [];
  let nameservers: string[];
  let options = settings.dnsOptions && settings.dnsOptions.length > 0 ? settings.dnsOptions : host.options;
  if (embeddedServer) {
    nameservers = [embeddedServer];
    // Docker sets ndots:0 for its embedded server unless the user chose ndots.
    if (!options.some((o) => o.startsWith('ndots:'))) options = [...options, 'ndots:0'];
  } else if (settings.dns && settings.dns.length > 0) {
    nameservers = settings.dns;
  } else {
    nameservers = upstreamResolvers(host);
  }
  const lines: string[] = [];
  if (search.length > 0) lines.push(`search ${search.join(' ')}`);
  for (const ns of nameservers) lines.push(`nameserver ${ns}`);
  if (options.length > 0) lines.push(`options ${options.join(' ')}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Points a resolv.conf at other nameservers and keeps every other line (search, options, comments): Docker's
 * rewrite of a running container's file when it joins a network with embedded DNS (then `embedded`, which
 * adds `ndots:0` unless an ndots is set) or leaves the one it asked.
 */
export function replaceNameservers(
  text: string,
  nameservers: string[],
  opts: { embedded?: boolean } = {},
): string {
  const isNameserver = (line: string) => /^\s*nameserver\s/.test(line);
  const isOptions = (line: string) => /^\s*options\s/.test(line);
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const first = lines.findIndex(isNameserver);
  const kept = lines.filter((l) => !isNameserver(l));
  // Where the old nameservers stood; else before the options, as renderResolvConf orders them.
  let at =
    first >= 0 ? lines.slice(0, first).filter((l) => !isNameserver(l)).length : kept.findIndex(isOptions);
  if (at < 0) at = kept.length;
  kept.splice(at, 0, ...nameservers.map((ns) => `nameserver ${ns}`));
  if (opts.embedded && !parseResolvConf(text).options.some((o) => o.startsWith('ndots:'))) {
    const o = kept.findIndex(isOptions);
    if (o >= 0) kept[o] = `${kept[o]!.replace(/\s+$/, '')} ndots:0`;
    else kept.push('options ndots:0');
  }
  return `${kept.join('\n')}\n`;
}

/** Reads a container's resolv.conf; undefined when it is missing, a link or not a regular file. */
export async function readResolvConfFile(path: string): Promise<string | undefined> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => undefined);
  if (!fh) return undefined;
  try {
    if (!(await fh.stat()).isFile()) return undefined;
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}

/**
 * Rewrites a container's resolv.conf through its own inode: the runtime bind-mounted that inode into the
 * container, so a rename would leave the container reading the old file.
 */
export async function writeResolvConfInPlace(path: string, text: string): Promise<void> {
  const fh = await open(path, constants.O_WRONLY | constants.O_NOFOLLOW);
  try {
    if (!(await fh.stat()).isFile()) throw badRequest(`${path} is not a regular file`);
    // Write, then cut: a reader never sees an empty file (which would mean "ask 127.0.0.1").
    const data = Buffer.from(text, 'utf8');
    await fh.write(data, 0, data.length, 0);
    await fh.truncate(data.length);
  } finally {
    await fh.close();
  }
}

export interface HostsSettings {
  hostname: string;
  domainname?: string;
  /** The container's address on its first network; '' or undefined for none/host modes. */
  ip?: string;
  /** `--add-host name:ip` (or `name=ip`); `host-gateway` is replaced by `hostGateway`. */
  extraHosts?: string[];
  /** What `host-gateway` means: the default bridge's gateway address. */
  hostGateway?: string;
}

/** Renders /etc/hosts as Docker does: the fixed localhost lines, extra hosts, then the container. */
export function hostsFileFor(s: HostsSettings): string {
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
  ];
  for (const entry of s.extraHosts ?? []) {
    // Docker accepts host:ip and host=ip; IPv6 addresses contain colons, so split at the first one.
    const sep = entry.indexOf('=') >= 0 ? entry.indexOf('=') : entry.indexOf(':');
    const name = sep > 0 ? entry.slice(0, sep) : '';
    let ip = sep > 0 ? entry.slice(sep + 1) : '';
    if (ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
    if (ip === 'host-gateway') {
      if (!s.hostGateway)
        throw badRequest(`invalid extra host ${JSON.stringify(entry)}: no host gateway is known`);
      ip = s.hostGateway;
    }
    if (!name || !/^[A-Za-z0-9._-]+$/.test(name)) {
      throw badRequest(`invalid argument ${JSON.stringify(entry)} for "--add-host" flag: invalid host name`);
    }
    if (isIP(ip) === 0) throw badRequest(`invalid IP address in add-host: ${JSON.stringify(ip)}`);
    lines.push(`${ip}\t${name}`);
  }
  if (s.ip) {
    const names = s.domainname ? `${s.hostname}.${s.domainname} ${s.hostname}` : s.hostname;
    lines.push(`${s.ip}\t${names}`);
  }
  return `${lines.join('\n')}\n`;
}
