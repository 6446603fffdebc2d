// Byte-exact PAX extended attributes. tar-stream decodes and encodes every PAX value as UTF-8, which
// corrupts binary xattr values such as security.capability. These hooks replace its PAX record codec on
// one extract/pack instance: `SCHILY.xattr.*` values travel as latin1 strings (one char per byte), every
// other key stays UTF-8. If tar-stream's internals ever change shape, the hooks do nothing (fallback).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Extract, Pack } from 'tar-stream';

const XATTR = 'SCHILY.xattr.';

interface HeadersModule {
  encode(opts: Record<string, unknown>): Uint8Array | null;
}

let headersModule: HeadersModule | undefined;
function tarHeaders(): HeadersModule | undefined {
  if (headersModule) return headersModule;
  try {
    const require = createRequire(import.meta.url);
    headersModule = require(join(dirname(require.resolve('tar-stream')), 'headers.js')) as HeadersModule;
  } catch {
    headersModule = undefined;
  }
  return headersModule;
}

export function decodePaxRecords(buf: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let off = 0;
  while (off < buf.length) {
    const sp = buf.indexOf(0x20, off);
    if (sp < 0) break;
    const len = Number.parseInt(buf.subarray(off, sp).toString('latin1'), 10);
    if (!len || off + len > buf.length) break;
    const rec = buf.subarray(sp + 1, off + len - 1); // without the trailing newline
    const eq = rec.indexOf(0x3d);
    if (eq >= 0) {
      const key = rec.subarray(0, eq).toString('utf8');
      out[key] = rec.subarray(eq + 1).toString(key.startsWith(XATTR) ? 'latin1' : 'utf8');
    }
    off += len;
  }
  return out;
}

function record(key: string, value: string): Buffer {
  const body = Buffer.concat([
    Buffer.from(` ${key}=`, 'utf8'),
    Buffer.from(value, key.startsWith(XATTR) ? 'latin1' : 'utf8'),
    Buffer.from('\n'),
  ]);
  let digits = String(body.length).length;
  if (String(body.length + digits).length > digits) digits++;
  return Buffer.concat([Buffer.from(String(body.length + digits)), body]);
}

export function encodePaxRecords(
  name: string | undefined,
  linkname: string | undefined,
  pax: Record<string, string> | undefined,
): Buffer {
  const parts: Buffer[] = [];
  if (name) parts.push(record('path', name));
  if (linkname) parts.push(record('linkpath', linkname));
  for (const [k, v] of Object.entries(pax ?? {})) parts.push(record(k, v));
  return Buffer.concat(parts);
}

type Internal = Record<string, unknown>;

/** Makes `ex` decode PAX xattr values byte-exactly. */
export function binaryPaxExtract(ex: Extract): void {
  const self = ex as unknown as Internal;
  const original = self._decodeLongHeader;
  if (typeof original !== 'function') return;
  self._decodeLongHeader = function (this: Internal, buf: Buffer) {
    const header = this._header as { type?: string } | undefined;
    if (header?.type === 'pax-header') {
      const decoded = decodePaxRecords(Buffer.from(buf));
      this._pax = this._paxGlobal ? { ...(this._paxGlobal as object), ...decoded } : decoded;
      return;
    }
    return (original as (b: Buffer) => void).call(this, buf);
  };
}

/** Makes `pack` encode PAX xattr values byte-exactly. */
export function binaryPaxPack(pack: Pack): void {
  const self = pack as unknown as Internal;
  const headers = tarHeaders();
  if (typeof self._encodePax !== 'function' || !headers) return;
  self._encodePax = function (
    this: Internal & { push(b: Uint8Array): void },
    header: Record<string, unknown>,
  ) {
    const body = encodePaxRecords(
      header.name as string,
      header.linkname as string | undefined,
      header.pax as Record<string, string>,
    );
    const paxHeader = {
      name: 'PaxHeader',
      mode: header.mode,
      uid: header.uid,
      gid: header.gid,
      size: body.length,
      mtime: header.mtime,
      type: 'pax-header',
      linkname: header.linkname && 'PaxHeader',
      uname: header.uname,
      gname: header.gname,
      devmajor: header.devmajor,
      devminor: header.devminor,
    };
    this.push(headers.encode(paxHeader)!);
    this.push(body);
    const pad = (512 - (body.length % 512)) % 512;
    if (pad) this.push(Buffer.alloc(pad));
    this.push(headers.encode({ ...paxHeader, size: header.size, type: header.type })!);
  };
}
