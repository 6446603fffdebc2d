// IPv4 arithmetic for IPAM: addresses as unsigned 32-bit numbers, subnets as {base, prefix}.
import { badRequest } from '../util/index.js';

export interface Cidr {
  base: number;
  prefix: number;
}

export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n >>> 0;
}

export function isIpv4(text: string): boolean {
  return parseIpv4(text) !== undefined;
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses `a.b.c.d/n`; `what` names the field in the error (e.g. "IPAM.Config[0].Subnet"). */
export function parseCidr(text: string, what = 'subnet'): Cidr {
  const [ip, len, ...rest] = text.split('/');
  const addr = parseIpv4(ip ?? '');
  const prefix = Number(len);
  if (addr === undefined || rest.length > 0 || len === undefined || !/^\d{1,2}$/.test(len) || prefix > 32) {
    throw badRequest(`invalid ${what} ${JSON.stringify(text)}: expected an IPv4 CIDR like 10.1.0.0/24`);
  }
  return { base: (addr & maskOf(prefix)) >>> 0, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIpv4(c.base)}/${c.prefix}`;
}

export function cidrSize(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function cidrContains(c: Cidr, addr: number): boolean {
  return (addr & maskOf(c.prefix)) >>> 0 === c.base;
}

export function cidrOverlaps(a: Cidr, b: Cidr): boolean {
  const prefix = Math.min(a.prefix, b.prefix);
  const m = maskOf(prefix);
  return (a.base & m) >>> 0 === (b.base & m) >>> 0;
}

/** Whether `inner` lies entirely within `outer`. */
export function cidrWithin(inner: Cidr, outer: Cidr): boolean {
  return inner.prefix >= outer.prefix && cidrContains(outer, inner.base);
}
