// Published ports: Docker's `-p` spec parser, the `NetworkSettings.Ports` shape, and host-port
// allocation (explicit, ephemeral, ranges) with a probe that the port is really free on the host.
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer, isIP, type Server } from 'node:net';
import { badRequest, conflict } from '../util/index.js';
import type { PortBinding, PortMap, PortSet, Protocol, PublishedPort } from './types.js';

const PROTOS: readonly string[] = ['tcp', 'udp', 'sctp'];

function parsePortNumber(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : undefined;
}

function parseRange(text: string): [number, number] | undefined {
  const [a, b, ...rest] = text.split('-');
  if (rest.length > 0 || a === undefined) return undefined;
  const start = parsePortNumber(a);
  const end = b === undefined ? start : parsePortNumber(b);
  if (start === undefined || end === undefined || end < start) return undefined;
  return [start, end];
}

function splitParts(raw: string): [string, string, string] {
  const parts = raw.split(':');
  if (parts.length === 1) return ['', '', parts[0]!];
  if (parts.length === 2) return ['', parts[0]!, parts[1]!];
  const n = parts.length;
  return [parts.slice(0, n - 2).join(':'), parts[n - 2]!, parts[n - 1]!];
}

export interface ParsedPortSpecs {
  exposedPorts: PortSet;
  portBindings: PortMap;
}

/**
 * Parses `-p` specs (`[ip:][hostPort|range]:containerPort|range[/proto]`) into `ExposedPorts` and
 * `HostConfig.PortBindings`, with the errors Docker gives. An unspecified host IP is '' and an
 * unspecified host port '' (ephemeral), as the docker CLI sends them.
 */
export function parsePortSpecs(specs: readonly string[]): ParsedPortSpecs {
  const exposedPorts: PortSet = {};
  const portBindings: PortMap = {};
  for (const raw of specs) {
    let [ip, hostPort, containerPart] = splitParts(raw);
    const slash = containerPart.indexOf('/');
    let containerPort = slash < 0 ? containerPart : containerPart.slice(0, slash);
    let proto = slash < 0 ? 'tcp' : containerPart.slice(slash + 1) || 'tcp';
    if (containerPort === '') throw badRequest(`no port specified: ${raw}<empty>`);
    proto = proto.toLowerCase();
    if (!PROTOS.includes(proto)) throw badRequest(`invalid proto: ${proto}`);
    if (ip.startsWith('[')) {
      if (!ip.endsWith(']')) throw badRequest(`Invalid ip address: ${ip}`);
      ip = ip.slice(1, -1);
    }
    if (ip !== '' && isIP(ip) === 0) throw badRequest(`Invalid ip address: ${ip}`);
    const cRange = parseRange(containerPort);
    if (!cRange) throw badRequest(`invalid containerPort: ${containerPort}`);
    let hRange: [number, number] | undefined;
    if (hostPort !== '') {
      hRange = parseRange(hostPort);
      if (!hRange) throw badRequest(`invalid hostPort: ${hostPort}`);
      if (hRange[1] - hRange[0] !== cRange[1] - cRange[0] && cRange[0] !== cRange[1]) {
        throw badRequest(
          `invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`,
        );
      }
    }
    const count = cRange[1] - cRange[0] + 1;
    for (let i = 0; i < count; i++) {
      containerPort = `${cRange[0] + i}/${proto}`;
      let hPort = '';
      if (hRange) {
        hPort = String(hRange[0] + i);
        // A host range with a single container port is the range to pick a free port from.
        if (count === 1 && hRange[0] !== hRange[1]) hPort += `-${hRange[1]}`;
      }
      exposedPorts[containerPort] = {};
      (portBindings[containerPort] ??= []).push({ HostIp: ip, HostPort: hPort });
    }
  }
  return { exposedPorts, portBindings };
}

/** Parses a `80/tcp` key; throws 400 naming it when malformed. */
export function parsePortKey(key: string): { port: number; proto: Protocol } {
  const [p, proto = 'tcp', ...rest] = key.split('/');
  const port = parsePortNumber(p ?? '');
  if (port === undefined || rest.length > 0 || !PROTOS.includes(proto)) {
    throw badRequest(`invalid port ${JSON.stringify(key)}: expected <port>[/tcp|/udp|/sctp]`);
  }
  return { port, proto: proto as Protocol };
}

/** `NetworkSettings.Ports` for inspect: every exposed port, bound ones with their host side. */
export function portsForInspect(published: readonly PublishedPort[], exposed: PortSet = {}): PortMap {
  const out: PortMap = {};
  for (const key of Object.keys(exposed)) out[key] = null;
  for (const p of published) {
    const key = `${p.containerPort}/${p.proto}`;
    const list = out[key] ?? [];
    list.push({ HostIp: p.hostIp, HostPort: String(p.hostPort) });
    out[key] = list;
  }
  return out;
}

/** The ephemeral range: the kernel's ip_local_port_range (Docker's default is 32768-60999 too). */
export function ephemeralRange(): [number, number] {
  try {
    const [a, b] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    const lo = Number(a);
    const hi = Number(b);
    if (lo > 0 && hi >= lo && hi <= 65535) return [lo, hi];
  } catch {
    // fall through to Docker's default
  }
  return [32768, 60999];
}

interface Wanted {
  proto: Protocol;
  containerPort: number;
  hostIp: string;
  /** [lo, hi]; lo === hi for a fixed port. */
  range: [number, number];
  explicit: boolean;
}

/** Turns PortBindings (and -P exposed ports) into the list of host ports to reserve. */
export function wantedPorts(bindings: PortMap = {}, exposed: PortSet = {}, publishAll = false): Wanted[] {
  const out: Wanted[] = [];
  const eph = ephemeralRange();
  const keys = new Set(Object.keys(bindings));
  if (publishAll) for (const k of Object.keys(exposed)) keys.add(k);
  for (const key of [...keys].sort()) {
    const { port, proto } = parsePortKey(key);
    const list = bindings[key];
    if (list !== null && list !== undefined && !Array.isArray(list)) {
      throw badRequest(`invalid PortBindings[${JSON.stringify(key)}]: expected a list of {HostIp, HostPort}`);
    }
    const entries: PortBinding[] = list && list.length > 0 ? list : [{ HostIp: '', HostPort: '' }];
    for (const b of entries) {
      if (b === null || typeof b !== 'object')
        throw badRequest(`invalid PortBindings[${JSON.stringify(key)}] entry`);
      const hostIp = b.HostIp === '' || b.HostIp === undefined ? '0.0.0.0' : b.HostIp;
      if (isIP(hostIp) === 0) throw badRequest(`Invalid ip address: ${hostIp}`);
      if (isIP(hostIp) === 6) continue; // IPv6 publishing is not supported (IPv4 networks only)
      const hp = String(b.HostPort ?? '');
      if (hp === '' || hp === '0') {
        out.push({ proto, containerPort: port, hostIp, range: eph, explicit: false });
        continue;
      }
      const r = parseRange(hp);
      if (!r) throw badRequest(`invalid hostPort: ${hp}`);
      out.push({ proto, containerPort: port, hostIp, range: r, explicit: r[0] === r[1] });
    }
  }
  return out;
}

/** A host port we hold open so no other process can take it while a container publishes it. */
export interface PortReservation {
  proto: Protocol;
  hostIp: string;
  hostPort: number;
  close(): void;
}

function overlapsIp(a: string, b: string): boolean {
  return a === b || a === '0.0.0.0' || b === '0.0.0.0';
}

/** Binds the port on the host; resolves undefined when it is taken (EADDRINUSE/EACCES). */
function tryBind(proto: Protocol, hostIp: string, hostPort: number): Promise<PortReservation | undefined> {
  return new Promise((resolve, reject) => {
    const fail = (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolve(undefined);
      else if (err.code === 'EADDRNOTAVAIL')
        reject(badRequest(`Invalid ip address: ${hostIp} is not an address of this host`));
      else reject(err);
    };
    if (proto === 'udp') {
      const sock = createSocket({ type: 'udp4', reuseAddr: false });
      sock.once('error', fail);
      sock.bind({ address: hostIp, port: hostPort, exclusive: true }, () => {
        sock.removeListener('error', fail);
        sock.on('error', () => {});
        sock.unref();
        resolve({ proto, hostIp, hostPort, close: () => sock.close() });
      });
      return;
    }
    // TCP (and SCTP, which Node cannot bind: the TCP probe is the best we have for it).
    const server: Server = createServer((s) => s.destroy());
    server.once('error', fail);
    server.listen({ host: hostIp, port: hostPort, exclusive: true, backlog: 1 }, () => {
      server.removeListener('error', fail);
      server.on('error', () => {});
      server.unref();
      resolve({ proto, hostIp, hostPort, close: () => server.close() });
    });
  });
}

/**
 * Reserves every wanted host port, or none: on any failure the ones already taken are released and
 * a 409 like Docker's ("Bind for 0.0.0.0:8080 failed: port is already allocated") is thrown.
 * `inUse` lists ports other endpoints of this daemon hold.
 */
export async function reservePorts(
  wanted: readonly Wanted[],
  inUse: readonly PublishedPort[],
): Promise<{ ports: PublishedPort[]; reservations: PortReservation[] }> {
  const reservations: PortReservation[] = [];
  const ports: PublishedPort[] = [];
  const taken = (proto: Protocol, ip: string, port: number) =>
    [...inUse, ...ports].some((p) => p.proto === proto && p.hostPort === port && overlapsIp(p.hostIp, ip));
  try {
    for (const w of wanted) {
      const [lo, hi] = w.range;
      const span = hi - lo + 1;
      // Ephemeral picks start at a random offset so restarts do not reuse the same ports at once.
      const start = w.explicit ? 0 : Math.floor(Math.random() * span);
      let got: PortReservation | undefined;
      for (let i = 0; i < span && !got; i++) {
        const port = lo + ((start + i) % span);
        if (taken(w.proto, w.hostIp, port)) continue;
        got = await tryBind(w.proto, w.hostIp, port);
      }
      if (!got) {
        const what = w.explicit ? `${w.hostIp}:${lo}` : `${w.hostIp}:${lo}-${hi}`;
        throw conflict(
          w.explicit
            ? `Bind for ${what} failed: port is already allocated`
            : `Bind for ${what} failed: all ports in the range are already allocated`,
        );
      }
      reservations.push(got);
      ports.push({
        proto: w.proto,
        containerPort: w.containerPort,
        hostIp: w.hostIp,
        hostPort: got.hostPort,
      });
    }
  } catch (err) {
    for (const r of reservations) r.close();
    throw err;
  }
  return { ports, reservations };
}

/** Re-takes the ports of an endpoint adopted after a restart; ports someone else took are skipped. */
export async function rereservePorts(ports: readonly PublishedPort[]): Promise<PortReservation[]> {
  const out: PortReservation[] = [];
  for (const p of ports) {
    const r = await tryBind(p.proto, p.hostIp, p.hostPort).catch(() => undefined);
    if (r) out.push(r);
  }
  return out;
}
