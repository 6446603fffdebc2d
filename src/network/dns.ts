// Embedded DNS for a user-defined network: answers container names, aliases and short ids with
// their address on the network (A; AAAA gets an empty answer; PTR for reverse lookups) and
// forwards everything else to upstream resolvers. It listens on the network's gateway address,
// UDP and TCP port 53 (see the README section in index.ts for why not 127.0.0.11).
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import dnsPacket from 'dns-packet';

const TTL = 600;
const FORWARD_TIMEOUT_MS = 4000;
const RCODE_SERVFAIL = 2;
const RCODE_NXDOMAIN = 3;

export interface DnsResolver {
  /** Addresses for `name` as seen by the client at `clientIp`; undefined when the name is not ours. */
  lookup(name: string, clientIp: string): string[] | undefined;
  /** The name for an address (PTR), or undefined when it is not ours. */
  reverse(ip: string, clientIp: string): string | undefined;
  /** Upstream resolvers for the client's other names. */
  upstreams(clientIp: string): string[];
}

export class EmbeddedDns {
  private udp?: UdpSocket;
  private tcp?: Server;
  private readonly conns = new Set<Socket>();

  constructor(
    readonly address: string,
    private readonly resolver: DnsResolver,
    readonly port = 53,
    /** Port of the upstream resolvers (53; tests use another). */
    readonly forwardPort = 53,
  ) {}

  async start(): Promise<void> {
    const udp = createSocket({ type: 'udp4', reuseAddr: true });
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind({ address: this.address, port: this.port }, () => {
        udp.removeListener('error', reject);
        resolve();
      });
    });
    udp.on('error', () => {}); // a bad datagram must never take the daemon down
    udp.on('message', (msg, rinfo) => {
      this.answer(msg, rinfo.address, 'udp')
        .then((reply) => {
          if (reply) udp.send(reply, rinfo.port, rinfo.address);
        })
        .catch(() => {});
    });
    this.udp = udp;
    const tcp = createServer((sock) => this.serveTcp(sock));
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen({ host: this.address, port: this.port }, () => {
          tcp.removeListener('error', reject);
          resolve();
        });
      });
    } catch (err) {
      udp.close();
      this.udp = undefined;
      throw err;
    }
    tcp.on('error', () => {});
    this.tcp = tcp;
  }

  async stop(): Promise<void> {
    const udp = this.udp;
    const tcp = this.tcp;
    this.udp = undefined;
    this.tcp = undefined;
    for (const c of this.conns) c.destroy();
    this.conns.clear();
    if (udp) await new Promise<void>((r) => udp.close(() => r()));
    if (tcp) await new Promise<void>((r) => tcp.close(() => r()));
  }

  get running(): boolean {
    return this.udp !== undefined;
  }

  private serveTcp(sock: Socket): void {
    this.conns.add(sock);
    sock.setTimeout(10_000, () => sock.destroy());
    sock.on('close', () => this.conns.delete(sock));
    sock.on('error', () => {});
    let buf = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length > 70_000) return sock.destroy();
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        this.answer(msg, sock.remoteAddress ?? '', 'tcp')
          .then((reply) => {
            if (!reply || sock.destroyed) return;
            const head = Buffer.alloc(2);
            head.writeUInt16BE(reply.length);
            sock.write(Buffer.concat([head, reply]));
          })
          .catch(() => sock.destroy());
      }
    });
  }

  /** Builds the reply for one query; undefined drops it (undecodable input). */
  async answer(msg: Buffer, clientIp: string, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    let query: dnsPacket.DecodedPacket;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return undefined;
    }
    if (query.type !== 'query') return undefined;
    const q = query.questions?.[0];
    if (!q) return this.reply(query, [], RCODE_SERVFAIL);
    const name = q.name.toLowerCase().replace(/\.$/, '');
    if (q.type === 'A' || q.type === 'AAAA') {
      const ips = this.resolver.lookup(name, clientIp);
      if (ips) {
        const answers: dnsPacket.Answer[] =
          q.type === 'A'
            ? ips.map((ip) => ({ type: 'A', name: q.name, ttl: TTL, class: 'IN', data: ip }))
            : [];
        return this.reply(query, answers, 0);
      }
    } else if (q.type === 'PTR') {
      const ip = ptrToIp(name);
      const target = ip ? this.resolver.reverse(ip, clientIp) : undefined;
      if (target)
        return this.reply(query, [{ type: 'PTR', name: q.name, ttl: TTL, class: 'IN', data: target }], 0);
    }
    const upstream = this.resolver.upstreams(clientIp);
    for (const server of upstream) {
      const reply = await (transport === 'udp'
        ? forwardUdp(msg, server, this.forwardPort)
        : forwardTcp(msg, server, this.forwardPort)
      ).catch(() => undefined);
      if (reply) return reply;
    }
    return this.reply(query, [], upstream.length === 0 ? RCODE_NXDOMAIN : RCODE_SERVFAIL);
  }

  private reply(query: dnsPacket.DecodedPacket, answers: dnsPacket.Answer[], rcode: number): Buffer {
    const flags =
      (query.flag_rd ? dnsPacket.RECURSION_DESIRED : 0) | dnsPacket.RECURSION_AVAILABLE | (rcode & 0xf);
    return dnsPacket.encode({
      type: 'response',
      id: query.id,
      flags,
      questions: query.questions,
      answers,
    });
  }
}

/** `4.3.2.1.in-addr.arpa` → `1.2.3.4`. */
export function ptrToIp(name: string): string | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa$/.exec(name);
  return m ? `${m[4]}.${m[3]}.${m[2]}.${m[1]}` : undefined;
}

function forwardUdp(msg: Buffer, server: string, port: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error(`DNS upstream ${server} timed out`));
    }, FORWARD_TIMEOUT_MS);
    sock.on('error', (err) => {
      clearTimeout(timer);
      sock.close();
      reject(err);
    });
    sock.on('message', (reply) => {
      clearTimeout(timer);
      sock.close();
      resolve(reply);
    });
    sock.send(msg, port, server);
  });
}

function forwardTcp(msg: Buffer, server: string, port: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = tcpConnect({ host: server, port });
    sock.setTimeout(FORWARD_TIMEOUT_MS, () => sock.destroy(new Error(`DNS upstream ${server} timed out`)));
    let buf = Buffer.alloc(0);
    sock.on('error', reject);
    sock.on('connect', () => {
      const head = Buffer.alloc(2);
      head.writeUInt16BE(msg.length);
      sock.write(Buffer.concat([head, msg]));
    });
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        resolve(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        sock.destroy();
      }
    });
    sock.on('close', () => reject(new Error(`DNS upstream ${server} closed the connection`)));
  });
}
