// NetworkService: Docker's networks on one host. Records (with their IPAM allocations and published
// ports) live in `<dataRoot>/networks/<id>.json`; the kernel state (bridges, veths, iptables chains,
// DNS listeners) is derived from them and re-derived on start, so a crash leaves nothing we cannot
// rebuild or clean.
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import {
  BerthError,
  badRequest,
  conflict,
  internal,
  labelMatches,
  messageOf,
  notFound,
  parseUntil,
  randomId,
  run,
  shortId,
  tempPathFor,
  writeJsonAtomic,
} from '../util/index.js';
import { EmbeddedDns } from './dns.js';
import {
  type DnsSettings,
  type HostsSettings,
  hostsFileFor,
  isLocalResolver,
  parseResolvConf,
  readHostResolvConf,
  readResolvConfFile,
  renderResolvConf,
  replaceNameservers,
  upstreamResolvers,
  writeResolvConfInPlace,
} from './files.js';
import {
  applyRules,
  type BridgeRules,
  type Chains,
  chainsFor,
  ensureJumps,
  removeAll,
  renderRules,
} from './firewall.js';
import {
  type Cidr,
  cidrContains,
  cidrOverlaps,
  cidrSize,
  cidrWithin,
  formatCidr,
  formatIpv4,
  parseCidr,
  parseIpv4,
} from './ipv4.js';
import {
  addNamedNetns,
  createVeth,
  deleteLink,
  deleteLinksAndNetns,
  deleteNamedNetns,
  enableForwarding,
  ensureBridge,
  hostRoutes,
  linkExists,
  linkPresent,
  listLinks,
  listNamedNetns,
} from './linux.js';
import { type PortReservation, portsForInspect, rereservePorts, reservePorts, wantedPorts } from './ports.js';
import type {
  ConnectOptions,
  CreateNetworkOptions,
  EndpointRecord,
  EndpointSettings,
  NetworkFilters,
  NetworkInspect,
  NetworkRecord,
  NetworkSettings,
  PortMap,
  PortSet,
  PublishedPort,
} from './types.js';

export interface NetworkServiceOptions {
  dataRoot: string;
  /** Volatile state (tmpfs, e.g. /run/berth): markers of the namespaces we created. */
  runDir: string;
  /** Prefix of our iptables chains and of the marks on our links (default `BERTH`). */
  chainPrefix?: string;
  /** The default network's Linux bridge (default `berth0`; Docker's is docker0). */
  defaultBridge?: string;
  /** The default network's subnet (default 10.201.0.0/16). */
  defaultSubnet?: string;
  /** Where user networks without a subnet get a /24 from (default 10.202.0.0/15). */
  pool?: string;
  /** Prefix of the namespaces `createSandbox` makes under /run/netns (default `berth-`). */
  netnsPrefix?: string;
  /** Port of the embedded DNS on each user network's gateway (default 53). */
  dnsPort?: number;
}

export const DEFAULT_SUBNET = '10.201.0.0/16';
export const DEFAULT_POOL = '10.202.0.0/15';
const PREDEFINED = ['bridge', 'host', 'none'];
/** Names `create` refuses: the predefined ones and `default` (NetworkMode for the default bridge). */
const RESERVED = [...PREDEFINED, 'default'];
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

// Subnets Docker and Podman pick by default; auto-allocation steers clear of them too.
const FOREIGN_DEFAULTS = ['172.16.0.0/12', '192.168.0.0/16', '10.88.0.0/16', '10.89.0.0/16'].map((s) =>
  parseCidr(s),
);

/** Saves of endpoint changes (connect, disconnect, a container's release): no fsync, see save(). */
const ENDPOINTS = { durable: false } as const;

const forbidden = (message: string) => new BerthError(403, message);

/** A parsed `filters` value from the API: `{"label": {"a=b": true}}` or `{"label": ["a=b"]}`. */
export type FilterInput = NetworkFilters | Record<string, string[] | Record<string, boolean>>;

export class NetworkService {
  readonly dataRoot: string;
  readonly runDir: string;
  readonly chainPrefix: string;
  readonly defaultBridge: string;
  readonly defaultSubnet: string;
  readonly pool: Cidr;
  readonly netnsPrefix: string;
  readonly dnsPort: number;
  private readonly chains: Chains;
  private readonly networks = new Map<string, NetworkRecord>();
  private readonly dns = new Map<string, EmbeddedDns>();
  private readonly reservations = new Map<string, PortReservation[]>();
  private queue: Promise<unknown> = Promise.resolve();
  /** Per-container queues: one container's sandbox, connects and release never interleave. */
  private readonly containerQueues = new Map<string, Promise<unknown>>();
  /** Container releases under way: a network removal waits for them (its endpoints are going). */
  private readonly releasing = new Map<string, Promise<void>>();
  /**
   * Endpoints of released containers whose links are still being deleted: they keep their address and
   * ports until then, but inspect and the embedded DNS no longer show them (the container is gone).
   */
  private readonly leaving = new Set<string>();
  /** The rule rewrite running now, and the one queued behind it that later changes join. */
  private rulesRunning: Promise<void> | undefined;
  private rulesQueued: Promise<void> | undefined;
  /** Bridges made (or checked) by this process: a connect then only looks at sysfs. */
  private readonly materialized = new Set<string>();
  /** The rule set last written: an unchanged one (a container without published ports) is not rewritten. */
  private appliedRules: string | undefined;
  /** Problems met while loading records (malformed files are skipped, never fatal). */
  readonly warnings: string[] = [];

  constructor(opts: NetworkServiceOptions) {
    this.dataRoot = opts.dataRoot;
    this.runDir = opts.runDir;
    this.chainPrefix = opts.chainPrefix ?? 'BERTH';
    this.defaultBridge = opts.defaultBridge ?? 'berth0';
    this.defaultSubnet = formatCidr(parseCidr(opts.defaultSubnet ?? DEFAULT_SUBNET, 'defaultSubnet'));
    this.pool = parseCidr(opts.pool ?? DEFAULT_POOL, 'pool');
    this.netnsPrefix = opts.netnsPrefix ?? 'berth-';
    this.dnsPort = opts.dnsPort ?? 53;
    this.chains = chainsFor(this.chainPrefix);
    if (!/^[A-Z][A-Z0-9_]{0,14}$/.test(this.chainPrefix)) {
      throw badRequest(`invalid chainPrefix ${JSON.stringify(this.chainPrefix)}: 1-15 of A-Z, 0-9, _`);
    }
  }

  private get dir(): string {
    return join(this.dataRoot, 'networks');
  }

  private get sandboxDir(): string {
    return join(this.runDir, 'netns');
  }

  /**
   * Serialises changes of the in-memory records (and their saves): one writer at a time. Container
   * operations hold it only for the bookkeeping (address and port allocation, records); their slow
   * external steps (`ip netns add`, veth batches, iptables-restore) run outside it.
   */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => {});
    return next;
  }

  /** Serialises the operations of one container (taken before `exclusive`, never inside it). */
  private perContainer<T>(containerId: unknown, fn: () => Promise<T>): Promise<T> {
    const key = String(containerId);
    const prev = this.containerQueues.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => {});
    this.containerQueues.set(key, tail);
    tail.then(() => {
      if (this.containerQueues.get(key) === tail) this.containerQueues.delete(key);
    });
    return next;
  }

  // ---------------------------------------------------------------- start-up and recovery

  /**
   * Loads the records, creates the predefined networks on first start, and rebuilds the kernel
   * state: bridges, iptables chains, DNS listeners, port reservations. With `isAlive`, endpoints
   * (and sandboxes) of containers that are no longer running are released; without it they are
   * kept until `reconcile` is called.
   */
  init(opts: { isAlive?: (containerId: string) => boolean } = {}): Promise<void> {
    return this.exclusive(async () => {
      await mkdir(this.dir, { recursive: true });
      await mkdir(this.sandboxDir, { recursive: true });
      this.appliedRules = undefined;
      this.materialized.clear();
      await this.load();
      await this.ensurePredefined();
      await enableForwarding();
      await ensureJumps(this.chains);
      if (opts.isAlive) await this.release(opts.isAlive);
      await this.removeStrayLinks();
      for (const net of this.networks.values()) {
        if (net.driver !== 'bridge') continue;
        await this.materialize(net);
        for (const ep of Object.values(net.endpoints)) await this.readopt(net, ep);
      }
      await this.syncRules();
    });
  }

  /** Releases the endpoints and sandboxes of containers not in `live` (after a restart). */
  reconcile(live: Iterable<string>): Promise<void> {
    const set = new Set(live);
    return this.exclusive(async () => {
      await this.release((id) => set.has(id));
      await this.syncRules();
    });
  }

  private async load(): Promise<void> {
    this.networks.clear();
    for (const file of await readdir(this.dir)) {
      if (!file.endsWith('.json') || file.startsWith('.')) continue;
      const path = join(this.dir, file);
      try {
        const rec = JSON.parse(await readFile(path, 'utf8')) as NetworkRecord;
        if (typeof rec.id !== 'string' || typeof rec.name !== 'string' || typeof rec.endpoints !== 'object') {
          throw new Error('missing id, name or endpoints');
        }
        this.networks.set(rec.id, rec);
      } catch (err) {
        this.warnings.push(`skipping malformed network record ${path}: ${messageOf(err)}`);
      }
    }
  }

  private async ensurePredefined(): Promise<void> {
    const now = new Date().toISOString();
    for (const name of PREDEFINED) {
      if (this.findByName(name)) continue;
      const isBridge = name === 'bridge';
      const subnet = isBridge ? this.defaultSubnet : '';
      const rec: NetworkRecord = {
        id: randomId(),
        name,
        driver: isBridge ? 'bridge' : name === 'host' ? 'host' : 'null',
        created: now,
        internal: false,
        attachable: false,
        enableIPv6: false,
        labels: {},
        options: isBridge
          ? {
              'com.docker.network.bridge.default_bridge': 'true',
              'com.docker.network.bridge.enable_icc': 'true',
              'com.docker.network.bridge.enable_ip_masquerade': 'true',
              'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
              'com.docker.network.bridge.name': this.defaultBridge,
              'com.docker.network.driver.mtu': '1500',
            }
          : {},
        bridge: isBridge ? this.defaultBridge : '',
        subnet,
        gateway: isBridge ? formatIpv4(parseCidr(subnet).base + 1) : '',
        ipRange: '',
        userIpam: false,
        predefined: true,
        endpoints: {},
      };
      await this.save(rec);
    }
  }

  private async release(isAlive: (id: string) => boolean): Promise<void> {
    for (const net of this.networks.values()) {
      let changed = false;
      for (const [key, ep] of Object.entries(net.endpoints)) {
        if (isAlive(ep.containerId)) continue;
        await deleteLink(ep.hostVeth).catch(() => {});
        this.dropReservations(ep.endpointId);
        delete net.endpoints[key];
        changed = true;
      }
      if (changed) await this.save(net);
    }
    for (const file of existsSync(this.sandboxDir) ? await readdir(this.sandboxDir) : []) {
      if (!isAlive(file)) await this.destroySandboxNow(file);
    }
  }

  /** Re-plumbs an endpoint whose container survived us: veth, DNS, port reservations. */
  private async readopt(net: NetworkRecord, ep: EndpointRecord): Promise<void> {
    if (!(await linkExists(ep.hostVeth))) {
      if (!existsSync(ep.netnsPath)) {
        delete net.endpoints[ep.containerId];
        await this.save(net);
        return;
      }
      await createVeth(this.vethSpec(net, ep)).catch((err) => {
        this.warnings.push(`cannot restore ${ep.containerName} on ${net.name}: ${messageOf(err)}`);
      });
    }
    if (!this.reservations.has(ep.endpointId) && ep.ports.length > 0) {
      this.reservations.set(ep.endpointId, await rereservePorts(ep.ports));
    }
  }

  /** Veths and bridges carrying our mark that no record explains (a crash mid-connect or remove). */
  private async removeStrayLinks(): Promise<void> {
    const known = new Set<string>();
    for (const net of this.networks.values()) {
      if (net.bridge) known.add(net.bridge);
      for (const ep of Object.values(net.endpoints)) known.add(ep.hostVeth);
    }
    for (const link of await listLinks()) {
      if (link.ifalias?.startsWith(`${this.chainPrefix}:`) && !known.has(link.ifname)) {
        await deleteLink(link.ifname).catch(() => {});
      }
    }
  }

  // ---------------------------------------------------------------- records

  /**
   * Writes a network record (temp file + rename). `durable: false` skips the fsync: for endpoint
   * changes, which describe running containers and are re-derived after a power loss anyway (init
   * releases the endpoints of containers that are not running); a network's own settings are durable.
   */
  private async save(rec: NetworkRecord, opts: { durable?: boolean } = {}): Promise<void> {
    const path = join(this.dir, `${rec.id}.json`);
    if (opts.durable !== false) await writeJsonAtomic(path, rec);
    else {
      const tmp = tempPathFor(path);
      try {
        await writeFile(tmp, `${JSON.stringify(rec, null, 2)}\n`);
        await rename(tmp, path);
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
    }
    this.networks.set(rec.id, rec);
  }

  private findByName(name: string): NetworkRecord | undefined {
    for (const n of this.networks.values()) if (n.name === name) return n;
    return undefined;
  }

  /** Docker's lookup order: full id, exact name, then a unique id prefix. */
  private find(ref: string): NetworkRecord {
    if (typeof ref !== 'string' || ref === '') throw notFound(`network ${ref} not found`);
    // NetworkMode "default" is the default bridge on Linux.
    if (ref === 'default') ref = 'bridge';
    const byId = this.networks.get(ref);
    if (byId) return byId;
    const byName = this.findByName(ref);
    if (byName) return byName;
    const matches = [...this.networks.values()].filter((n) => n.id.startsWith(ref));
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) {
      throw badRequest(`network ${ref} is ambiguous (${matches.length} matches found based on ID prefix)`);
    }
    throw notFound(`network ${ref} not found`);
  }

  // ---------------------------------------------------------------- create / list / inspect / remove

  create(opts: CreateNetworkOptions): Promise<{ Id: string; Warning: string }> {
    return this.exclusive(async () => {
      if (!opts || typeof opts.Name !== 'string' || opts.Name === '')
        throw badRequest('network name is required (Name)');
      const name = opts.Name;
      if (!NAME_RE.test(name)) {
        throw badRequest(
          `invalid network name ${JSON.stringify(name)}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`,
        );
      }
      if (RESERVED.includes(name)) throw forbidden(`${name} is a pre-defined network and cannot be created`);
      if (this.findByName(name)) throw conflict(`network with name ${name} already exists`);
      const driver = opts.Driver ?? 'bridge';
      if (driver !== 'bridge') {
        throw notFound(`plugin "${driver}" not found`);
      }
      if (opts.EnableIPv6) throw badRequest('IPv6 networks are not supported by berth (EnableIPv6)');
      if (opts.Ingress) throw forbidden('ingress networks need swarm mode, which berth does not provide');
      if (opts.IPAM?.Driver && opts.IPAM.Driver !== 'default') {
        throw notFound(`plugin "${opts.IPAM.Driver}" not found`);
      }
      const configs = opts.IPAM?.Config ?? [];
      if (configs.length > 1)
        throw badRequest('only one IPAM config (one IPv4 subnet) per network is supported');
      const labels = checkStringMap(opts.Labels, 'Labels');
      const options = checkStringMap(opts.Options, 'Options');
      const id = randomId();
      let subnet: Cidr;
      let gateway: number;
      let ipRange = '';
      const cfg = configs[0];
      if (cfg?.Subnet) {
        subnet = parseCidr(cfg.Subnet, 'IPAM.Config[0].Subnet');
        if (subnet.prefix > 30) throw badRequest(`subnet ${cfg.Subnet} is too small (at most /30)`);
        for (const other of this.networks.values()) {
          if (other.subnet && cidrOverlaps(subnet, parseCidr(other.subnet))) {
            throw forbidden('Pool overlaps with other one on this address space');
          }
        }
        if (cfg.IPRange) {
          const range = parseCidr(cfg.IPRange, 'IPAM.Config[0].IPRange');
          if (!cidrWithin(range, subnet))
            throw badRequest(`IPRange ${cfg.IPRange} is not within subnet ${cfg.Subnet}`);
          ipRange = formatCidr(range);
        }
        if (cfg.Gateway) {
          const gw = parseIpv4(cfg.Gateway);
          if (gw === undefined)
            throw badRequest(`invalid IPAM.Config[0].Gateway ${JSON.stringify(cfg.Gateway)}`);
          if (!cidrContains(subnet, gw)) throw badRequest(`no matching subnet for gateway ${cfg.Gateway}`);
          gateway = gw;
        } else {
          gateway = subnet.base + 1;
        }
      } else {
        if (cfg?.Gateway || cfg?.IPRange)
          throw badRequest('IPAM.Config[0]: a Gateway or IPRange needs a Subnet');
        subnet = await this.autoSubnet();
        gateway = subnet.base + 1;
      }
      const bridge = options['com.docker.network.bridge.name'] ?? `br-${id.slice(0, 12)}`;
      if (!/^[a-zA-Z0-9_.-]{1,15}$/.test(bridge))
        throw badRequest(`invalid bridge name ${JSON.stringify(bridge)}`);
      for (const n of this.networks.values()) {
        if (n.bridge === bridge) throw conflict(`bridge name ${bridge} is already used by network ${n.name}`);
      }
      if (await linkExists(bridge))
        throw conflict(`a network interface named ${bridge} already exists on the host`);
      const rec: NetworkRecord = {
        id,
        name,
        driver: 'bridge',
        created: new Date().toISOString(),
        internal: opts.Internal === true,
        attachable: opts.Attachable === true,
        enableIPv6: false,
        labels,
        options,
        bridge,
        subnet: formatCidr(subnet),
        gateway: formatIpv4(gateway),
        ipRange,
        userIpam: !!cfg?.Subnet,
        predefined: false,
        endpoints: {},
      };
      // Like Docker, the bridge (and its DNS) exist from creation on: the subnet is visibly taken.
      try {
        await this.save(rec);
        await this.materialize(rec);
        await this.syncRules();
      } catch (err) {
        await this.stopDns(rec.id).catch(() => {});
        await deleteLink(rec.bridge).catch(() => {});
        await rm(join(this.dir, `${rec.id}.json`), { force: true });
        this.networks.delete(rec.id);
        await this.syncRules().catch(() => {});
        throw err;
      }
      return { Id: id, Warning: '' };
    });
  }

  /** A free /24 from the pool, clear of our networks, the host's routes and Docker/Podman defaults. */
  private async autoSubnet(): Promise<Cidr> {
    const taken: Cidr[] = [...FOREIGN_DEFAULTS];
    for (const n of this.networks.values()) if (n.subnet) taken.push(parseCidr(n.subnet));
    for (const r of await hostRoutes()) {
      try {
        const c = parseCidr(r);
        if (c.prefix > 0) taken.push(c);
      } catch {
        // a route we cannot parse cannot clash with an IPv4 /24 either
      }
    }
    const count = cidrSize(this.pool) / 256;
    for (let i = 0; i < count; i++) {
      const candidate: Cidr = { base: (this.pool.base + i * 256) >>> 0, prefix: 24 };
      if (!taken.some((t) => cidrOverlaps(t, candidate))) return candidate;
    }
    throw forbidden(
      `could not find an available, non-overlapping IPv4 address pool among ${formatCidr(this.pool)}`,
    );
  }

  /** `GET /networks`: like inspect, but `Containers` is empty as in Docker since API 1.28. */
  list(filters: FilterInput = {}): NetworkInspect[] {
    const f = normalizeFilters(filters);
    return [...this.networks.values()]
      .filter((n) => matches(n, f))
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((n) => ({ ...this.toInspect(n), Containers: {} }));
  }

  inspect(ref: string): NetworkInspect {
    return this.toInspect(this.find(ref));
  }

  async remove(ref: string): Promise<void> {
    await this.releasesDone();
    return this.exclusive(async () => {
      const net = this.find(ref);
      await this.removeNow(net);
    });
  }

  /** Containers that just exited release their endpoints in the background: a removal waits for them. */
  private async releasesDone(): Promise<void> {
    await Promise.allSettled([...this.releasing.values()]);
  }

  private async removeNow(net: NetworkRecord): Promise<void> {
    if (net.predefined) throw forbidden(`${net.name} is a pre-defined network and cannot be removed`);
    if (Object.keys(net.endpoints).length > 0) {
      throw conflict(`error while removing network: network ${net.name} id ${net.id} has active endpoints`);
    }
    await this.stopDns(net.id);
    await rm(join(this.dir, `${net.id}.json`), { force: true });
    this.networks.delete(net.id);
    // The bridge's deletion waits in the kernel (RCU) and the rules' rewrite runs iptables-restore:
    // side by side. Rules that still name a vanishing bridge, or a bridge without rules, harm nothing; a
    // bridge that failed to go is swept as a stray link at the next start.
    const [unlinked, synced] = await Promise.allSettled([deleteLink(net.bridge), this.syncRules()]);
    this.materialized.delete(net.bridge);
    if (unlinked.status === 'rejected') throw unlinked.reason;
    if (synced.status === 'rejected') throw synced.reason;
  }

  /** Removes user networks without endpoints (`label` / `label!` filters as Docker's prune). */
  async prune(filters: FilterInput = {}): Promise<{ NetworksDeleted: string[] }> {
    await this.releasesDone();
    return this.exclusive(async () => {
      const f = normalizeFilters(filters);
      for (const key of Object.keys(f)) {
        if (key !== 'label' && key !== 'label!' && key !== 'until')
          throw badRequest(`invalid filter '${key}'`);
      }
      const deleted: string[] = [];
      for (const net of [...this.networks.values()]) {
        if (net.predefined || Object.keys(net.endpoints).length > 0) continue;
        if (f.label && !f.label.every((l) => labelMatches(net.labels, l))) continue;
        if (f['label!']?.some((l) => labelMatches(net.labels, l))) continue;
        if (f.until && !f.until.every((u) => Date.parse(net.created) < parseUntil(u))) continue;
        await this.removeNow(net);
        deleted.push(net.name);
      }
      return { NetworksDeleted: deleted };
    });
  }

  private toInspect(n: NetworkRecord): NetworkInspect {
    const containers: NetworkInspect['Containers'] = {};
    const prefix = n.subnet ? parseCidr(n.subnet).prefix : 0;
    for (const ep of this.shownEndpoints(n)) {
      containers[ep.containerId] = {
        Name: ep.containerName,
        EndpointID: ep.endpointId,
        MacAddress: ep.mac,
        IPv4Address: `${ep.ipv4}/${prefix}`,
        IPv6Address: '',
      };
    }
    const config = n.subnet
      ? [{ Subnet: n.subnet, Gateway: n.gateway, ...(n.ipRange ? { IPRange: n.ipRange } : {}) }]
      : [];
    return {
      Name: n.name,
      Id: n.id,
      Created: n.created,
      Scope: 'local',
      Driver: n.driver,
      EnableIPv6: n.enableIPv6,
      IPAM: { Driver: 'default', Options: n.predefined ? null : {}, Config: config },
      Internal: n.internal,
      Attachable: n.attachable,
      Ingress: false,
      ConfigFrom: { Network: '' },
      ConfigOnly: false,
      Containers: containers,
      Options: { ...n.options },
      Labels: { ...n.labels },
    };
  }

  // ---------------------------------------------------------------- kernel state

  private bridgeCidr(net: NetworkRecord): string {
    return `${net.gateway}/${parseCidr(net.subnet).prefix}`;
  }

  private hasDns(net: NetworkRecord): boolean {
    return net.driver === 'bridge' && !net.predefined;
  }

  /** Creates the bridge and, for user networks, starts the embedded DNS on its gateway. */
  private async materialize(net: NetworkRecord): Promise<void> {
    if (!this.materialized.has(net.bridge) || !linkPresent(net.bridge)) {
      await ensureBridge(net.bridge, this.bridgeCidr(net), `${this.chainPrefix}:net:${net.id.slice(0, 12)}`);
      this.materialized.add(net.bridge);
    }
    if (this.hasDns(net) && !this.dns.get(net.id)?.running) {
      const server = new EmbeddedDns(net.gateway, this.resolverFor(net.id), this.dnsPort);
      try {
        await server.start();
      } catch (err) {
        throw internal(`cannot start DNS for network ${net.name} on ${net.gateway}:${this.dnsPort}`, err);
      }
      this.dns.set(net.id, server);
    }
  }

  private async stopDns(netId: string): Promise<void> {
    const server = this.dns.get(netId);
    this.dns.delete(netId);
    await server?.stop();
  }

  /**
   * Rewrites our chains from the records. Concurrent changes coalesce: while a rewrite runs, the
   * callers that come meanwhile share the one queued behind it, which renders the records as they are
   * when it starts (so it includes every change made before). Rewrites never overlap, so the last one
   * written is always the newest state.
   */
  private syncRules(): Promise<void> {
    if (this.rulesQueued) return this.rulesQueued;
    const after = this.rulesRunning ?? Promise.resolve();
    const next: Promise<void> = after
      .catch(() => {})
      .then(() => {
        this.rulesQueued = undefined;
        this.rulesRunning = next;
        return this.applyRulesNow();
      });
    this.rulesQueued = next;
    next
      .catch(() => {})
      .then(() => {
        if (this.rulesRunning === next) this.rulesRunning = undefined;
      });
    return next;
  }

  private async applyRulesNow(): Promise<void> {
    const bridges: BridgeRules[] = [];
    for (const n of this.networks.values()) {
      if (n.driver !== 'bridge') continue;
      bridges.push({
        bridge: n.bridge,
        subnet: n.subnet,
        gateway: n.gateway,
        internal: n.internal,
        dns: this.hasDns(n),
        endpoints: Object.values(n.endpoints).map((e) => ({ ipv4: e.ipv4, ports: e.ports })),
      });
    }
    const text = renderRules(this.chains, bridges);
    if (text === this.appliedRules) return;
    this.appliedRules = undefined; // unknown until the restore succeeds
    await applyRules(this.chains, bridges);
    this.appliedRules = text;
  }

  private dropReservations(endpointId: string): void {
    for (const r of this.reservations.get(endpointId) ?? []) r.close();
    this.reservations.delete(endpointId);
  }

  // ---------------------------------------------------------------- DNS data

  private resolverFor(netId: string) {
    return {
      lookup: (name: string, clientIp: string) => this.lookupName(netId, name, clientIp),
      reverse: (ip: string, clientIp: string) => this.reverseName(netId, ip, clientIp),
      upstreams: (clientIp: string) => {
        // An internal network has no way out, so its DNS does not forward either (as Docker's).
        if (this.networks.get(netId)?.internal) return [];
        const ep = this.endpointByIp(netId, clientIp);
        return ep && ep.dns.length > 0 ? ep.dns : upstreamResolvers(readHostResolvConf());
      },
    };
  }

  /** A network's endpoints without those of containers being released. */
  private shownEndpoints(net: NetworkRecord): EndpointRecord[] {
    const all = Object.values(net.endpoints);
    return this.leaving.size === 0 ? all : all.filter((e) => !this.leaving.has(e.endpointId));
  }

  private endpointByIp(netId: string, ip: string): EndpointRecord | undefined {
    const net = this.networks.get(netId);
    return net ? Object.values(net.endpoints).find((e) => e.ipv4 === ip) : undefined;
  }

  /** The networks a query is answered from: the one it arrived on, then the client's other ones. */
  private scopeFor(netId: string, clientIp: string): NetworkRecord[] {
    const first = this.networks.get(netId);
    if (!first) return [];
    const out = [first];
    const client = this.endpointByIp(netId, clientIp);
    if (client) {
      for (const n of this.networks.values()) {
        if (n !== first && this.hasDns(n) && n.endpoints[client.containerId]) out.push(n);
      }
    }
    return out;
  }

  private lookupName(netId: string, name: string, clientIp: string): string[] | undefined {
    const clientId = this.endpointByIp(netId, clientIp)?.containerId;
    for (const net of this.scopeFor(netId, clientIp)) {
      const suffix = `.${net.name.toLowerCase()}`;
      const bare = name.endsWith(suffix) ? name.slice(0, -suffix.length) : name;
      // A link alias is seen by the linking container only, and wins over other names.
      const client = clientId ? net.endpoints[clientId] : undefined;
      const linked = client?.links?.find((l) => l.alias.toLowerCase() === bare);
      const target = linked && this.shownEndpoints(net).find((e) => e.containerName === linked.name);
      if (target) return [target.ipv4];
      const ips: string[] = [];
      for (const ep of this.shownEndpoints(net)) {
        const names = [ep.containerName, ...ep.aliases, shortId(ep.containerId)].map((x) => x.toLowerCase());
        if (names.includes(bare)) ips.push(ep.ipv4);
      }
      if (ips.length > 0) return ips;
    }
    return undefined;
  }

  private reverseName(netId: string, ip: string, clientIp: string): string | undefined {
    for (const net of this.scopeFor(netId, clientIp)) {
      const ep = this.shownEndpoints(net).find((e) => e.ipv4 === ip);
      if (ep) return `${ep.containerName}.${net.name}`;
    }
    return undefined;
  }

  // ---------------------------------------------------------------- sandboxes (network modes)

  /**
   * A network namespace for a container of mode `bridge`/user network or `none`: a named netns
   * (`/run/netns/<prefix><id12>`) with loopback up, to be put in the OCI spec's network namespace
   * `path` and passed to `connect`. Idempotent.
   */
  createSandbox(containerId: string, opts: { loopback?: boolean } = {}): Promise<string> {
    // The first namespace ever makes /run/netns a shared mount: that set-up is not for two at once.
    const make = () => this.createSandboxNow(containerId, opts);
    return this.perContainer(containerId, () => (existsSync('/run/netns') ? make() : this.exclusive(make)));
  }

  private async createSandboxNow(containerId: string, opts: { loopback?: boolean }): Promise<string> {
    checkContainerId(containerId);
    await mkdir(this.sandboxDir, { recursive: true });
    await writeFile(join(this.sandboxDir, containerId), '');
    try {
      return await addNamedNetns(this.netnsName(containerId), opts);
    } catch (err) {
      await rm(join(this.sandboxDir, containerId), { force: true });
      throw err;
    }
  }

  /**
   * What namespace a container of `HostConfig.NetworkMode` runs in:
   * - `host`: none of its own (`netnsPath` null: leave the network namespace out of the OCI spec);
   * - `none`: a fresh sandbox with only loopback;
   * - `container:<ref>`: the sandbox of that container (`resolveContainer` maps a name or id prefix
   *   to its full id); 404 when it has none;
   * - `default`, `bridge` or a network name/id: a fresh sandbox, then `connect` it to `network`.
   */
  async sandboxFor(
    networkMode: string,
    containerId: string,
    resolveContainer: (ref: string) => string | undefined = (ref) => ref,
  ): Promise<{
    mode: 'host' | 'none' | 'container' | 'network';
    netnsPath: string | null;
    network?: string;
  }> {
    const mode = networkMode === '' || networkMode === 'default' ? 'bridge' : networkMode;
    if (mode === 'host') return { mode: 'host', netnsPath: null };
    if (mode === 'none') return { mode: 'none', netnsPath: await this.createSandbox(containerId) };
    if (mode.startsWith('container:')) {
      const ref = mode.slice('container:'.length);
      const target = ref ? resolveContainer(ref) : undefined;
      const path = target ? this.sandboxPath(target) : '';
      if (!target || !existsSync(path)) throw notFound(`No such container: ${ref}`);
      return { mode: 'container', netnsPath: path };
    }
    const net = this.find(mode); // 404 before anything is made
    if (net.driver === 'host') return { mode: 'host', netnsPath: null };
    const path = await this.createSandbox(containerId);
    if (net.driver === 'null') return { mode: 'none', netnsPath: path };
    return { mode: 'network', netnsPath: path, network: net.name };
  }

  /**
   * A container's whole teardown (its exit or removal): every endpoint's record, reservations and
   * rules, then its host veths and its sandbox in one `ip` process. Idempotent.
   */
  releaseContainer(containerId: string): Promise<void> {
    const done = this.perContainer(containerId, async () => {
      checkContainerId(containerId);
      // Only this container's own (queued) operations change its endpoints: the list stays right.
      const eps = this.endpointsOfContainer(containerId);
      for (const { ep } of eps) this.leaving.add(ep.endpointId);
      try {
        // Links first, outside the lock: the addresses and ports stay allocated until no interface
        // holds them, so a new container never gets an address still answering in a dying namespace.
        await deleteLinksAndNetns(
          eps.map((x) => x.ep.hostVeth),
          [this.netnsName(containerId)],
        );
        await rm(join(this.sandboxDir, containerId), { force: true });
      } finally {
        const changed = await this.exclusive(async () => {
          const nets = new Set<NetworkRecord>();
          for (const { net, ep } of eps) {
            this.leaving.delete(ep.endpointId);
            if (net.endpoints[containerId] !== ep) continue;
            delete net.endpoints[containerId];
            this.dropReservations(ep.endpointId);
            nets.add(net);
          }
          for (const net of nets) await this.save(net, ENDPOINTS);
          return nets.size > 0;
        });
        if (changed) await this.syncRules();
      }
    });
    const tracked = done.then(
      () => {},
      () => {},
    );
    this.releasing.set(String(containerId), tracked);
    tracked.then(() => {
      if (this.releasing.get(String(containerId)) === tracked) this.releasing.delete(String(containerId));
    });
    return done;
  }

  /** Deletes a container's sandbox namespace (after `disconnectAll`); idempotent. */
  destroySandbox(containerId: string): Promise<void> {
    return this.perContainer(containerId, () => this.destroySandboxNow(containerId));
  }

  private async destroySandboxNow(containerId: string): Promise<void> {
    await deleteNamedNetns(this.netnsName(containerId));
    await rm(join(this.sandboxDir, containerId), { force: true });
  }

  sandboxPath(containerId: string): string {
    return `/run/netns/${this.netnsName(containerId)}`;
  }

  private netnsName(containerId: string): string {
    return `${this.netnsPrefix}${shortId(containerId)}`;
  }

  // ---------------------------------------------------------------- connect / disconnect

  /**
   * Attaches a container's namespace to a bridge network: allocates the address, checks and
   * reserves the published host ports (a 409 before anything is created), creates the bridge on
   * demand, the veth pair (`eth0`, `eth1`…), routes and iptables rules. Idempotent: connecting an
   * already connected container returns its existing settings. Nothing is left half-made on error.
   */
  connect(ref: string, opts: ConnectOptions): Promise<EndpointSettings> {
    return this.perContainer(opts?.containerId, () => this.connectNow(ref, opts));
  }

  private async connectNow(ref: string, opts: ConnectOptions): Promise<EndpointSettings> {
    // Under the lock: checks, the address, the host ports and the record entry that holds them.
    const prepared = await this.exclusive(
      async (): Promise<{ done: EndpointSettings } | { net: NetworkRecord; ep: EndpointRecord }> => {
        const net = this.find(ref);
        if (net.driver !== 'bridge') {
          throw badRequest(
            `container cannot be disconnected from host network or connected to ${net.name} network`,
          );
        }
        checkContainerId(opts?.containerId);
        const containerName = (opts.containerName ?? '').replace(/^\//, '');
        if (!containerName) throw badRequest('containerName is required');
        if (typeof opts.netnsPath !== 'string' || !existsSync(opts.netnsPath)) {
          throw badRequest(`network namespace ${JSON.stringify(opts.netnsPath)} does not exist`);
        }
        const aliases = (opts.aliases ?? []).filter((a) => a !== '');
        for (const a of aliases) {
          if (typeof a !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(a))
            throw badRequest(`invalid alias ${JSON.stringify(a)}`);
        }
        const links = (opts.links ?? []).map(parseLink);
        for (const d of opts.dns ?? []) {
          if (typeof d !== 'string' || isIP(d) === 0)
            throw badRequest(`invalid DNS server address ${JSON.stringify(d)}`);
        }
        // The embedded DNS forwards over IPv4 only; IPv6 `--dns` servers are kept out of its upstreams.
        const dns = (opts.dns ?? []).filter((d) => isIP(d) === 4);

        const existing = net.endpoints[opts.containerId];
        if (existing) {
          if (existing.netnsPath === opts.netnsPath && linkPresent(existing.hostVeth)) {
            return { done: this.toEndpointSettings(net, existing) };
          }
          await this.disconnectNow(net, existing); // stale (old namespace): replace it
        }

        const ipv4 = this.allocateIp(net, opts.ipv4Address);
        const mac = opts.macAddress ? checkMac(opts.macAddress) : macFor(ipv4);
        await this.materialize(net);
        const inUse = this.allPorts();
        const wanted = net.internal ? [] : wantedPorts(opts.portBindings, opts.exposedPorts, opts.publishAll);
        const { ports, reservations } = await reservePorts(wanted, inUse);
        const endpointId = randomId();
        const others = this.endpointsOfContainer(opts.containerId);
        const ep: EndpointRecord = {
          endpointId,
          containerId: opts.containerId,
          containerName,
          ifName: nextIfName(others.map((o) => o.ep.ifName)),
          hostVeth: `vb${endpointId.slice(0, 11)}`,
          netnsPath: opts.netnsPath,
          ipv4,
          mac,
          aliases,
          ...(links.length ? { links } : {}),
          ports,
          dns,
          defaultRoute: !net.internal && !others.some((o) => o.ep.defaultRoute),
        };
        // In the records now (unsaved): the address and ports are taken, the network cannot be removed.
        net.endpoints[ep.containerId] = ep;
        this.reservations.set(endpointId, reservations);
        return { net, ep };
      },
    );
    if ('done' in prepared) return prepared.done;
    const { net, ep } = prepared;
    let plumbed = false;
    try {
      await createVeth(this.vethSpec(net, ep));
      plumbed = true;
      await this.exclusive(() => this.save(net, ENDPOINTS));
      await this.syncRules();
    } catch (err) {
      if (plumbed) await deleteLink(ep.hostVeth).catch(() => {});
      // Another connect may have saved the entry or written rules for it meanwhile: both are redone.
      const removed = await this.exclusive(async () => {
        this.dropReservations(ep.endpointId);
        if (net.endpoints[ep.containerId] !== ep) return false;
        delete net.endpoints[ep.containerId];
        await this.save(net, ENDPOINTS).catch(() => {});
        return true;
      });
      if (removed) await this.syncRules().catch(() => {});
      throw err;
    }
    if (this.hasDns(net)) {
      // The endpoint is made; a resolv.conf we cannot rewrite costs name resolution, not the connect.
      await this.useEmbeddedDns(net, ep, this.resolvConfPathOf(ep.containerId, opts.resolvConfPath)).catch(
        (err) => console.error(`berth: resolv.conf of ${ep.containerId} on ${net.name}: ${messageOf(err)}`),
      );
    }
    return this.toEndpointSettings(net, ep);
  }

  /** Where a container's resolv.conf is: as given, or the containers module's `<dataRoot>/containers/<id>/`. */
  private resolvConfPathOf(containerId: string, given: string | null | undefined): string | undefined {
    if (given === null) return undefined;
    return given ?? join(this.dataRoot, 'containers', containerId, 'resolv.conf');
  }

  /** Gateways of the DNS-serving networks a container is on: the embedded servers its resolv.conf may name. */
  private embeddedServersOf(containerId: string): Set<string> {
    const out = new Set<string>();
    for (const { net } of this.endpointsOfContainer(containerId)) if (this.hasDns(net)) out.add(net.gateway);
    return out;
  }

  /**
   * Docker's rewrite when a running container joins a user network: its resolv.conf (written at start with
   * `--dns` or the host's resolvers) now names the network's embedded DNS, and the servers it named become
   * that DNS's upstreams for the container's other names. A file that already names one of the container's
   * embedded servers is left alone (that server answers for all its networks); a missing or empty one has
   * not been written yet (a starting container) and gets its content from the start.
   */
  private async useEmbeddedDns(
    net: NetworkRecord,
    ep: EndpointRecord,
    path: string | undefined,
  ): Promise<void> {
    if (!path) return;
    const text = await readResolvConfFile(path);
    if (!text?.trim()) return;
    const { nameservers } = parseResolvConf(text);
    const embedded = this.embeddedServersOf(ep.containerId);
    if (nameservers.some((ns) => embedded.has(ns))) return;
    if (ep.dns.length === 0) {
      // Forward as the container resolved before; the host's current servers are the default anyway.
      const previous = nameservers.filter((ns) => isIP(ns) === 4 && !isLocalResolver(ns));
      const host = upstreamResolvers(readHostResolvConf());
      if (previous.length > 0 && previous.join(' ') !== host.join(' ')) {
        ep.dns = previous;
        await this.save(net, ENDPOINTS);
      }
    }
    await writeResolvConfInPlace(path, replaceNameservers(text, [net.gateway], { embedded: true }));
  }

  /**
   * After a running container leaves a user network whose DNS its resolv.conf names: another of its
   * embedded servers, else the upstreams that DNS forwarded to, so it keeps resolving.
   */
  private async leaveEmbeddedDns(
    net: NetworkRecord,
    ep: EndpointRecord,
    path: string | undefined,
  ): Promise<void> {
    if (!path) return;
    const text = await readResolvConfFile(path);
    if (!text?.trim() || !parseResolvConf(text).nameservers.includes(net.gateway)) return;
    const [other] = this.embeddedServersOf(ep.containerId);
    const next = other
      ? replaceNameservers(text, [other], { embedded: true })
      : replaceNameservers(text, ep.dns.length > 0 ? ep.dns : upstreamResolvers(readHostResolvConf()));
    await writeResolvConfInPlace(path, next);
  }

  private vethSpec(net: NetworkRecord, ep: EndpointRecord) {
    return {
      hostVeth: ep.hostVeth,
      ifName: ep.ifName,
      netnsPath: ep.netnsPath,
      bridge: net.bridge,
      alias: `${this.chainPrefix}:ep:${ep.endpointId.slice(0, 12)}`,
      cidr: `${ep.ipv4}/${parseCidr(net.subnet).prefix}`,
      gateway: net.gateway,
      mac: ep.mac,
      defaultRoute: ep.defaultRoute,
    };
  }

  private allocateIp(net: NetworkRecord, wanted?: string): string {
    const subnet = parseCidr(net.subnet);
    const range = net.ipRange ? parseCidr(net.ipRange) : subnet;
    const used = new Set(Object.values(net.endpoints).map((e) => e.ipv4));
    used.add(net.gateway);
    const first = subnet.base;
    const last = subnet.base + cidrSize(subnet) - 1;
    if (wanted) {
      if (!net.userIpam) {
        throw badRequest(
          'user specified IP address is supported only when connecting to networks with user configured subnets',
        );
      }
      const addr = parseIpv4(wanted);
      if (addr === undefined) throw badRequest(`invalid IPv4 address ${JSON.stringify(wanted)}`);
      if (!cidrContains(subnet, addr) || addr === first || addr === last) {
        throw badRequest(`Invalid address ${wanted}: It does not belong to any of this network's subnets`);
      }
      if (used.has(wanted)) throw conflict(`Address already in use: ${wanted} on network ${net.name}`);
      return wanted;
    }
    const size = cidrSize(range);
    for (let i = 0; i < size; i++) {
      const addr = (range.base + i) >>> 0;
      if (addr === first || addr === last) continue;
      const text = formatIpv4(addr);
      if (!used.has(text)) return text;
    }
    throw conflict(`no available IPv4 addresses on network ${net.name} (${net.ipRange || net.subnet})`);
  }

  private allPorts(): PublishedPort[] {
    const out: PublishedPort[] = [];
    for (const n of this.networks.values()) for (const e of Object.values(n.endpoints)) out.push(...e.ports);
    return out;
  }

  private endpointsOfContainer(containerId: string): { net: NetworkRecord; ep: EndpointRecord }[] {
    const out: { net: NetworkRecord; ep: EndpointRecord }[] = [];
    for (const net of this.networks.values()) {
      const ep = net.endpoints[containerId];
      if (ep) out.push({ net, ep });
    }
    return out;
  }

  /** Detaches a container from a network; 404 when it is not connected (unless `force`). */
  disconnect(
    ref: string,
    containerId: string,
    opts: { force?: boolean; resolvConfPath?: string | null } = {},
  ): Promise<void> {
    return this.perContainer(containerId, () =>
      this.exclusive(async () => {
        const net = this.find(ref);
        const ep = net.endpoints[containerId];
        if (!ep) {
          if (opts.force) return;
          throw notFound(`container ${containerId} is not connected to network ${net.name}`);
        }
        await this.disconnectNow(net, ep);
        if (this.hasDns(net)) {
          await this.leaveEmbeddedDns(net, ep, this.resolvConfPathOf(containerId, opts.resolvConfPath)).catch(
            (err) =>
              console.error(`berth: resolv.conf of ${containerId} leaving ${net.name}: ${messageOf(err)}`),
          );
        }
      }),
    );
  }

  /** Detaches a container from every network (on container stop); idempotent. */
  disconnectAll(containerId: string): Promise<void> {
    return this.perContainer(containerId, () =>
      this.exclusive(async () => {
        for (const { net, ep } of this.endpointsOfContainer(containerId)) await this.disconnectNow(net, ep);
      }),
    );
  }

  private async disconnectNow(net: NetworkRecord, ep: EndpointRecord): Promise<void> {
    await deleteLink(ep.hostVeth);
    delete net.endpoints[ep.containerId];
    await this.save(net, ENDPOINTS);
    await this.syncRules();
    this.dropReservations(ep.endpointId);
    if (ep.defaultRoute) {
      // Hand the default route to another outbound network of the container, as Docker does.
      const next = this.endpointsOfContainer(ep.containerId).find((o) => !o.net.internal);
      if (next && existsSync(next.ep.netnsPath)) {
        next.ep.defaultRoute = true;
        await this.save(next.net, ENDPOINTS);
        await run('nsenter', [
          `--net=${next.ep.netnsPath}`,
          'ip',
          'route',
          'replace',
          'default',
          'via',
          next.net.gateway,
          'dev',
          next.ep.ifName,
        ]);
      }
    }
  }

  private toEndpointSettings(net: NetworkRecord, ep: EndpointRecord): EndpointSettings {
    const isUser = !net.predefined;
    return {
      IPAMConfig: null,
      Links: isUser && ep.links?.length ? ep.links.map((l) => `${l.name}:${l.alias}`) : null,
      Aliases: isUser ? [...ep.aliases, shortId(ep.containerId)] : null,
      MacAddress: ep.mac,
      DriverOpts: null,
      NetworkID: net.id,
      EndpointID: ep.endpointId,
      Gateway: net.gateway,
      IPAddress: ep.ipv4,
      IPPrefixLen: parseCidr(net.subnet).prefix,
      IPv6Gateway: '',
      GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0,
      DNSNames: isUser ? [ep.containerName, ...ep.aliases, shortId(ep.containerId)] : null,
    };
  }

  /** `NetworkSettings.Networks` for a container: network name → EndpointSettings. */
  endpointsOf(containerId: string): Record<string, EndpointSettings> {
    const out: Record<string, EndpointSettings> = {};
    for (const { net, ep } of this.endpointsOfContainer(containerId))
      out[net.name] = this.toEndpointSettings(net, ep);
    return out;
  }

  /**
   * `NetworkSettings` of `GET /containers/{id}/json` (swagger `NetworkSettings`): per-network
   * endpoints, ports, and the legacy top-level fields taken from the default `bridge` endpoint.
   */
  networkSettings(containerId: string, exposed: PortSet = {}): NetworkSettings {
    const networks = this.endpointsOf(containerId);
    const def = networks.bridge;
    return {
      Bridge: '',
      SandboxID: existsSync(this.sandboxPath(containerId)) ? containerId : '',
      SandboxKey: existsSync(this.sandboxPath(containerId)) ? this.sandboxPath(containerId) : '',
      HairpinMode: false,
      LinkLocalIPv6Address: '',
      LinkLocalIPv6PrefixLen: 0,
      Ports: this.portsOf(containerId, exposed),
      SecondaryIPAddresses: null,
      SecondaryIPv6Addresses: null,
      EndpointID: def?.EndpointID ?? '',
      Gateway: def?.Gateway ?? '',
      GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0,
      IPAddress: def?.IPAddress ?? '',
      IPPrefixLen: def?.IPPrefixLen ?? 0,
      IPv6Gateway: '',
      MacAddress: def?.MacAddress ?? '',
      Networks: networks,
    };
  }

  /** `NetworkSettings.Ports` for a container (exposed ports without a binding map to null). */
  portsOf(containerId: string, exposed: PortSet = {}): PortMap {
    const ports = this.endpointsOfContainer(containerId).flatMap((x) => x.ep.ports);
    return portsForInspect(ports, exposed);
  }

  // ---------------------------------------------------------------- container files

  /** The default bridge's gateway: what `--add-host x:host-gateway` resolves to. */
  hostGateway(): string {
    return this.findByName('bridge')?.gateway ?? formatIpv4(parseCidr(this.defaultSubnet).base + 1);
  }

  /**
   * The container's /etc/resolv.conf: containers on a user network ask its embedded DNS (the
   * gateway of the first such network); on the default bridge they get `--dns` or the host's.
   */
  resolvConfFor(
    endpoints: readonly Pick<EndpointSettings, 'NetworkID'>[],
    settings: DnsSettings = {},
  ): string {
    let server: string | undefined;
    for (const e of endpoints) {
      const net = this.networks.get(e.NetworkID);
      if (net && this.hasDns(net)) {
        server = net.gateway;
        break;
      }
    }
    return renderResolvConf(server, settings);
  }

  /** The container's /etc/hosts (Docker's format; `host-gateway` → `hostGateway()`). */
  hostsFileFor(settings: Omit<HostsSettings, 'hostGateway'>): string {
    return hostsFileFor({ ...settings, hostGateway: this.hostGateway() });
  }

  // ---------------------------------------------------------------- shutdown and uninstall

  /** Daemon shutdown: stops DNS listeners and lets go of held ports; kernel state stays for restart. */
  close(): Promise<void> {
    return this.exclusive(async () => {
      for (const id of [...this.dns.keys()]) await this.stopDns(id);
      for (const id of [...this.reservations.keys()]) this.dropReservations(id);
    });
  }

  /**
   * Removes everything this service created in the kernel: veths and bridges carrying our mark,
   * our sandboxes, our iptables chains and the jumps to them; stops DNS. With `removeRecords`,
   * the network records go too (uninstall).
   */
  cleanup(opts: { removeRecords?: boolean } = {}): Promise<void> {
    return this.exclusive(async () => {
      for (const id of [...this.dns.keys()]) await this.stopDns(id);
      for (const id of [...this.reservations.keys()]) this.dropReservations(id);
      const links = await listLinks();
      // Veths first (their bridge must outlive them), then bridges.
      for (const pass of [':ep:', ':net:']) {
        for (const l of links) {
          if (l.ifalias?.startsWith(`${this.chainPrefix}${pass}`)) await deleteLink(l.ifname).catch(() => {});
        }
      }
      for (const n of this.networks.values()) if (n.bridge) await deleteLink(n.bridge).catch(() => {});
      for (const name of await listNamedNetns()) {
        if (name.startsWith(this.netnsPrefix)) await deleteNamedNetns(name);
      }
      await rm(this.sandboxDir, { recursive: true, force: true });
      await removeAll(this.chains);
      this.appliedRules = undefined;
      this.materialized.clear();
      if (opts.removeRecords) {
        await rm(this.dir, { recursive: true, force: true });
        this.networks.clear();
      } else {
        for (const n of this.networks.values()) {
          if (Object.keys(n.endpoints).length > 0) {
            n.endpoints = {};
            await this.save(n);
          }
        }
      }
    });
  }
}

// ------------------------------------------------------------------ helpers

function checkContainerId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !/^[a-f0-9]{12,64}$/.test(id)) {
    throw badRequest(`invalid container id ${JSON.stringify(id)}: expected 12 to 64 hex digits`);
  }
}

function checkStringMap(value: unknown, what: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value))
    throw badRequest(`${what} must be an object of strings`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw badRequest(`${what}.${k} must be a string`);
    out[k] = v;
  }
  return out;
}

function checkMac(mac: string): string {
  if (!/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(mac))
    throw badRequest(`invalid MAC address ${JSON.stringify(mac)}`);
  if (Number.parseInt(mac.slice(0, 2), 16) & 1)
    throw badRequest(`invalid MAC address ${mac}: multicast bit set`);
  return mac.toLowerCase();
}

/** Docker's classic MAC: 02:42 followed by the IPv4 address, so it is stable per address. */
export function macFor(ipv4: string): string {
  const n = parseIpv4(ipv4) ?? 0;
  const bytes = [0x02, 0x42, n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

function nextIfName(used: string[]): string {
  for (let i = 0; ; i++) if (!used.includes(`eth${i}`)) return `eth${i}`;
}

const FILTER_KEYS = ['name', 'id', 'label', 'label!', 'driver', 'type', 'dangling', 'scope', 'until'];

function normalizeFilters(input: FilterInput): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (input === null || typeof input !== 'object') throw badRequest('filters must be an object');
  for (const [key, value] of Object.entries(input)) {
    if (!FILTER_KEYS.includes(key)) throw badRequest(`invalid filter '${key}'`);
    if (value === undefined) continue;
    const list = Array.isArray(value)
      ? value
      : Object.keys(value).filter((k) => (value as Record<string, boolean>)[k]);
    out[key] = list.map(String);
  }
  for (const t of out.type ?? []) {
    if (t !== 'custom' && t !== 'builtin') throw badRequest(`invalid filter: 'type'='${t}'`);
  }
  for (const d of out.dangling ?? []) {
    if (!['true', 'false', '1', '0'].includes(d)) throw badRequest(`invalid filter 'dangling=${d}'`);
  }
  return out;
}

function matches(n: NetworkRecord, f: Record<string, string[]>): boolean {
  // Each key must match; the values of one key are alternatives (Docker's semantics).
  if (f.name && !f.name.some((v) => n.name.includes(v))) return false;
  if (f.id && !f.id.some((v) => n.id.startsWith(v))) return false;
  if (f.label && !f.label.every((l) => labelMatches(n.labels, l))) return false;
  if (f['label!']?.some((l) => labelMatches(n.labels, l))) return false;
  if (f.driver && !f.driver.includes(n.driver)) return false;
  if (f.scope && !f.scope.includes('local')) return false;
  if (f.type && !f.type.some((t) => (t === 'builtin') === n.predefined)) return false;
  if (f.dangling) {
    const wantDangling = f.dangling.some((d) => d === 'true' || d === '1');
    const dangling = !n.predefined && Object.keys(n.endpoints).length === 0;
    if (wantDangling !== dangling) return false;
  }
  if (f.until && !f.until.every((u) => Date.parse(n.created) < parseUntil(u))) return false;
  return true;
}

/** `db`, `db:store` or Docker's stored form `/db:/web/store` → the container name and the alias. */
function parseLink(spec: unknown): { name: string; alias: string } {
  if (typeof spec !== 'string') throw badRequest(`invalid link ${JSON.stringify(spec)}`);
  const [rawName = '', rawAlias] = spec.split(':');
  const name = rawName.replace(/^\//, '');
  const alias = rawAlias === undefined ? name : (rawAlias.split('/').pop() ?? '');
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name) || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(alias))
    throw badRequest(`invalid link ${JSON.stringify(spec)}: expected container[:alias]`);
  return { name, alias };
}
