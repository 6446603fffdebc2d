// Registry credentials: the Engine API's X-Registry-Auth header and the docker CLI's config file
// (~/.docker/config.json or $DOCKER_CONFIG/config.json) with inline `auths`, `credsStore` and
// `credHelpers` (docker-credential-<helper> get/store/erase over stdin/stdout).
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { badRequest, run, writeJsonAtomic } from '../util/index.js';

/** Docker's AuthConfig as sent in X-Registry-Auth and POST /auth. */
export interface RegistryAuth {
  username?: string;
  password?: string;
  /** base64 "user:password" (the config file's form). */
  auth?: string;
  email?: string;
  serveraddress?: string;
  /** OAuth refresh token from an earlier login. */
  identitytoken?: string;
  /** A bearer token to send as it is. */
  registrytoken?: string;
}

/** The index server key Docker uses for Docker Hub in config files. */
export const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';

/** Decodes X-Registry-Auth (base64url JSON, padded or not); empty or "{}" → undefined. */
export function decodeRegistryAuth(headerValue: string | undefined): RegistryAuth | undefined {
  if (!headerValue || headerValue.trim() === '') return undefined;
  let parsed: unknown;
  try {
    const json = Buffer.from(headerValue.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
    parsed = JSON.parse(json);
  } catch {
    throw badRequest('invalid X-Registry-Auth header: expected base64url-encoded JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw badRequest('invalid X-Registry-Auth header: expected a JSON object');
  }
  return normalizeAuth(parsed as Record<string, unknown>);
}

/** Keeps the string fields of an AuthConfig and splits `auth` into username/password. */
export function normalizeAuth(raw: Record<string, unknown>): RegistryAuth | undefined {
  const out: RegistryAuth = {};
  for (const k of [
    'username',
    'password',
    'auth',
    'email',
    'serveraddress',
    'identitytoken',
    'registrytoken',
  ]) {
    const v = raw[k] ?? raw[k.charAt(0).toUpperCase() + k.slice(1)];
    if (typeof v === 'string' && v !== '') (out as Record<string, string>)[k] = v;
  }
  if (out.auth && !out.username) {
    const plain = Buffer.from(out.auth, 'base64').toString('utf8');
    const colon = plain.indexOf(':');
    if (colon > 0) {
      out.username = plain.slice(0, colon);
      out.password = plain.slice(colon + 1);
    }
  }
  return Object.keys(out).length ? out : undefined;
}

/** The key a registry host has in config files (Docker Hub's is the v1 index URL). */
export function configKey(host: string): string {
  return host === 'docker.io' || host === 'index.docker.io' || host === 'registry-1.docker.io'
    ? DOCKER_HUB_KEY
    : host;
}

/** A config file key → a host (`https://host/v1/`, `http://host`, `host`). */
function keyHost(key: string): string {
  if (key === DOCKER_HUB_KEY) return 'docker.io';
  return key.replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '');
}

interface ConfigFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [k: string]: unknown;
}

/** The docker CLI's config file: read credentials, store them on login, erase on logout. */
export class CredentialStore {
  readonly path: string;
  constructor(dir = process.env.DOCKER_CONFIG || join(homedir(), '.docker')) {
    this.path = join(dir, 'config.json');
  }

  private async read(): Promise<ConfigFile> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch {
      return {};
    }
    if (text.trim() === '') return {};
    try {
      const v = JSON.parse(text) as unknown;
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
      return v as ConfigFile;
    } catch (err) {
      throw badRequest(`${this.path}: invalid JSON: ${(err as Error).message}`);
    }
  }

  private helperFor(cfg: ConfigFile, host: string): string | undefined {
    return cfg.credHelpers?.[configKey(host)] ?? cfg.credHelpers?.[host] ?? cfg.credsStore;
  }

  /** Credentials for a registry host, or undefined when none are stored. */
  async get(host: string): Promise<RegistryAuth | undefined> {
    const cfg = await this.read();
    const helper = this.helperFor(cfg, host);
    if (helper) {
      const r = await run(`docker-credential-${helper}`, ['get'], { input: configKey(host) });
      if (r.code === 0) {
        const v = JSON.parse(r.stdout) as { Username?: string; Secret?: string };
        if (v.Username === '<token>') return { identitytoken: v.Secret, serveraddress: host };
        return { username: v.Username, password: v.Secret, serveraddress: host };
      }
      if (!/credentials not found/i.test(r.stdout + r.stderr)) {
        throw badRequest(`docker-credential-${helper} get failed: ${(r.stderr || r.stdout).trim()}`);
      }
    }
    for (const [key, entry] of Object.entries(cfg.auths ?? {})) {
      if (keyHost(key) !== host && key !== configKey(host)) continue;
      const a = normalizeAuth(entry as Record<string, unknown>);
      if (a) return { ...a, serveraddress: host };
    }
    return undefined;
  }

  /** Stores credentials (in the helper when one is configured, else base64 in `auths`). */
  async store(host: string, auth: RegistryAuth): Promise<void> {
    const cfg = await this.read();
    const helper = this.helperFor(cfg, host);
    const key = configKey(host);
    if (helper) {
      const payload = JSON.stringify({
        ServerURL: key,
        Username: auth.identitytoken ? '<token>' : auth.username,
        Secret: auth.identitytoken ?? auth.password,
      });
      const r = await run(`docker-credential-${helper}`, ['store'], { input: payload });
      if (r.code !== 0) throw badRequest(`docker-credential-${helper} store failed: ${r.stderr.trim()}`);
      cfg.auths = { ...(cfg.auths ?? {}), [key]: {} };
    } else {
      const entry: { auth?: string; identitytoken?: string } = {
        auth: Buffer.from(`${auth.username ?? ''}:${auth.password ?? ''}`).toString('base64'),
      };
      if (auth.identitytoken) entry.identitytoken = auth.identitytoken;
      cfg.auths = { ...(cfg.auths ?? {}), [key]: entry };
    }
    await writeJsonAtomic(this.path, cfg);
  }

  /** Removes credentials; false when there were none. */
  async erase(host: string): Promise<boolean> {
    const cfg = await this.read();
    const key = configKey(host);
    const helper = this.helperFor(cfg, host);
    let found = false;
    if (helper) {
      const r = await run(`docker-credential-${helper}`, ['erase'], { input: key });
      found = r.code === 0;
    }
    for (const k of Object.keys(cfg.auths ?? {})) {
      if (k === key || keyHost(k) === host) {
        delete cfg.auths![k];
        found = true;
      }
    }
    if (found) await writeJsonAtomic(this.path, cfg);
    return found;
  }
}
