// Registry configuration: the typed shape, defaults, the YAML config file, and CLI flags over it.
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { badRequest } from '../util/index.js';

export interface TokenAuthConfig {
  /** PEM private key (RSA → RS256, EC P-256 → ES256) or any other file used as an HS256 secret. */
  key: string;
  /** Token endpoint URL put in the Bearer challenge; default `<scheme>://<Host>/token` of the request. */
  realm?: string;
  /** The audience clients must ask for (`service=`); default "berth-registry". */
  service?: string;
  /** The `iss` claim written and required; default "berth-registry". */
  issuer?: string;
  /** Token lifetime in seconds; default 300. */
  expiration?: number;
}

export interface AuthConfig {
  /** htpasswd file with bcrypt entries. Alone: basic auth. With `token`: the token endpoint's users. */
  htpasswd?: string;
  /** Realm named in the Basic challenge; default "berth-registry". */
  realm?: string;
  token?: TokenAuthConfig;
}

export interface TlsConfig {
  cert: string;
  key: string;
}

export interface LimitsConfig {
  /** Largest blob accepted, in bytes; default 0 = unlimited. Larger → 413 SIZE_INVALID. */
  maxBlobSize?: number;
  /** Largest manifest accepted, in bytes; default 4 MiB like distribution. */
  maxManifestSize?: number;
  /** Seconds an idle upload session lives before it is purged; default 86400. */
  uploadTTL?: number;
}

export interface RegistryConfig {
  /** host:port to listen on; default 127.0.0.1:5000 (port 0 = ephemeral). */
  addr?: string;
  /** Storage root directory. */
  root: string;
  auth?: AuthConfig;
  tls?: TlsConfig;
  limits?: LimitsConfig;
  /** Whether DELETE of blobs and manifests is allowed; default true (405 UNSUPPORTED when false). */
  deleteEnabled?: boolean;
  /** Where one line per request and per problem goes; default nowhere. */
  log?: (line: string) => void;
}

export const DEFAULT_ADDR = '127.0.0.1:5000';
export const DEFAULT_MAX_MANIFEST_SIZE = 4 * 1024 * 1024;
export const DEFAULT_UPLOAD_TTL = 86400;

export interface ResolvedLimits {
  maxBlobSize: number;
  maxManifestSize: number;
  uploadTTL: number;
}

export function resolveLimits(limits: LimitsConfig = {}): ResolvedLimits {
  return {
    maxBlobSize: limits.maxBlobSize ?? 0,
    maxManifestSize: limits.maxManifestSize ?? DEFAULT_MAX_MANIFEST_SIZE,
    uploadTTL: limits.uploadTTL ?? DEFAULT_UPLOAD_TTL,
  };
}

/** Splits `host:port`, `[v6]:port` or `:port` into parts; throws a 400 naming the bad address. */
export function parseAddr(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) throw badRequest(`invalid listen address "${addr}": expected host:port`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export interface CliFlags {
  addr?: string;
  root?: string;
  config?: string;
  htpasswd?: string;
  tlsCert?: string;
  tlsKey?: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function field<T>(
  obj: Obj,
  key: string,
  type: 'string' | 'number' | 'boolean',
  where: string,
): T | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== type) throw badRequest(`${where}.${key}: expected a ${type}, got ${JSON.stringify(v)}`);
  return v as T;
}

function section(obj: Obj, key: string, where: string): Obj | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw badRequest(`${where}.${key}: expected a mapping`);
  return v;
}

/** Parses the YAML config file text; `file` names it in errors. Unknown keys are rejected. */
export function parseConfigText(text: string, file: string): Partial<RegistryConfig> {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw badRequest(`${file}: invalid YAML: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (!isObj(doc)) throw badRequest(`${file}: expected a mapping at the top level`);
  const known = new Set(['addr', 'root', 'auth', 'tls', 'limits', 'deleteEnabled']);
  for (const key of Object.keys(doc)) {
    if (!known.has(key)) throw badRequest(`${file}: unknown key "${key}"`);
  }
  const out: Partial<RegistryConfig> = {
    addr: field(doc, 'addr', 'string', file),
    root: field(doc, 'root', 'string', file),
    deleteEnabled: field(doc, 'deleteEnabled', 'boolean', file),
  };
  const auth = section(doc, 'auth', file);
  if (auth) {
    const w = `${file}: auth`;
    out.auth = { htpasswd: field(auth, 'htpasswd', 'string', w), realm: field(auth, 'realm', 'string', w) };
    const token = section(auth, 'token', w);
    if (token) {
      const tw = `${w}.token`;
      const key = field<string>(token, 'key', 'string', tw);
      if (!key) throw badRequest(`${tw}.key: required (a PEM private key or a secret file)`);
      out.auth.token = {
        key,
        realm: field(token, 'realm', 'string', tw),
        service: field(token, 'service', 'string', tw),
        issuer: field(token, 'issuer', 'string', tw),
        expiration: field(token, 'expiration', 'number', tw),
      };
    }
  }
  const tls = section(doc, 'tls', file);
  if (tls) {
    const cert = field<string>(tls, 'cert', 'string', `${file}: tls`);
    const key = field<string>(tls, 'key', 'string', `${file}: tls`);
    if (!cert || !key) throw badRequest(`${file}: tls needs both cert and key`);
    out.tls = { cert, key };
  }
  const limits = section(doc, 'limits', file);
  if (limits) {
    const w = `${file}: limits`;
    out.limits = {
      maxBlobSize: field(limits, 'maxBlobSize', 'number', w),
      maxManifestSize: field(limits, 'maxManifestSize', 'number', w),
      uploadTTL: field(limits, 'uploadTTL', 'number', w),
    };
  }
  return out;
}

export async function loadConfigFile(path: string): Promise<Partial<RegistryConfig>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw badRequest(`cannot read registry config ${path}: ${(err as Error).message}`);
  }
  return parseConfigText(text, path);
}

/** The config file (if any) with CLI flags taking precedence. */
export async function configFromFlags(flags: CliFlags): Promise<RegistryConfig> {
  const file = flags.config ? await loadConfigFile(flags.config) : {};
  const root = flags.root ?? file.root;
  if (!root) throw badRequest('registry: no storage root (use --root or "root:" in the config file)');
  const config: RegistryConfig = { ...file, root, addr: flags.addr ?? file.addr ?? DEFAULT_ADDR };
  if (flags.htpasswd) config.auth = { ...config.auth, htpasswd: flags.htpasswd };
  if (flags.tlsCert || flags.tlsKey) {
    if (!flags.tlsCert || !flags.tlsKey) throw badRequest('registry: --tls-cert and --tls-key go together');
    config.tls = { cert: flags.tlsCert, key: flags.tlsKey };
  }
  return config;
}
