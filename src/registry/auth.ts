// Authentication: htpasswd (bcrypt) basic auth, or bearer tokens (JWT) issued by the built-in token
// endpoint after basic auth — the flow Docker Hub uses, so docker, podman and skopeo speak it unchanged.
import {
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  randomBytes,
  sign,
  timingSafeEqual,
  verify,
} from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import bcrypt from 'bcryptjs';
import { badRequest } from '../util/index.js';
import type { AuthConfig } from './config.js';
import { regError } from './errors.js';

/** One entry of a scope: `repository:<name>:pull,push` or `registry:catalog:*`. */
export interface Access {
  type: string;
  name: string;
  actions: string[];
}

/** Parses htpasswd text; only bcrypt entries ($2a$/$2b$/$2y$) are accepted, like distribution. */
export function parseHtpasswd(text: string, file: string): Map<string, string> {
  const users = new Map<string, string>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    if (colon <= 0 || !/^\$2[aby]\$\d\d\$.{53}$/.test(hash)) {
      throw badRequest(`${file}:${i + 1}: expected "user:<bcrypt hash>"`);
    }
    users.set(user, hash.replace(/^\$2y\$/, '$2b$'));
  });
  return users;
}

/** Parses a `scope` parameter (several scopes separated by spaces, or repeated parameters). */
export function parseScopes(scopes: string[]): Access[] {
  const out: Access[] = [];
  for (const s of scopes.flatMap((x) => x.split(' '))) {
    if (!s) continue;
    const first = s.indexOf(':');
    const last = s.lastIndexOf(':');
    if (first < 0 || last === first) continue;
    out.push({
      type: s.slice(0, first),
      name: s.slice(first + 1, last),
      actions: s.slice(last + 1).split(','),
    });
  }
  return out;
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/** Signs and verifies JWTs with an RSA/EC private key (RS256/ES256) or a shared secret (HS256). */
export class TokenSigner {
  readonly alg: 'RS256' | 'ES256' | 'HS256';
  private readonly privateKey?: KeyObject;
  private readonly publicKey?: KeyObject;
  private readonly secret?: Buffer;
  readonly kid: string;

  constructor(keyMaterial: Buffer) {
    if (keyMaterial.toString('utf8').includes('-----BEGIN')) {
      this.privateKey = createPrivateKey(keyMaterial);
      this.publicKey = createPublicKey(this.privateKey);
      const type = this.privateKey.asymmetricKeyType;
      if (type === 'rsa') this.alg = 'RS256';
      else if (type === 'ec') this.alg = 'ES256';
      else throw badRequest(`token key: unsupported key type ${type} (use RSA or EC P-256)`);
      const der = this.publicKey.export({ type: 'spki', format: 'der' });
      this.kid = createHash('sha256').update(der).digest('hex').slice(0, 16);
    } else {
      this.alg = 'HS256';
      this.secret = keyMaterial;
      this.kid = 'hs256';
    }
  }

  private signature(input: string): Buffer {
    if (this.secret) return createHmac('sha256', this.secret).update(input).digest();
    return sign('sha256', Buffer.from(input), {
      key: this.privateKey!,
      dsaEncoding: this.alg === 'ES256' ? 'ieee-p1363' : undefined,
    });
  }

  sign(claims: Record<string, unknown>): string {
    const header = b64url(JSON.stringify({ alg: this.alg, typ: 'JWT', kid: this.kid }));
    const input = `${header}.${b64url(JSON.stringify(claims))}`;
    return `${input}.${b64url(this.signature(input))}`;
  }

  /** The claims of a token this signer made, or null when it is malformed or its signature is wrong. */
  verify(token: string): Record<string, unknown> | null {
    const parts = token.split('.');
    if (parts.length !== 3) return null;
    const [h, p, s] = parts as [string, string, string];
    try {
      const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as { alg?: string };
      if (header.alg !== this.alg) return null;
      const sig = Buffer.from(s, 'base64url');
      const input = `${h}.${p}`;
      let ok: boolean;
      if (this.secret) {
        const want = this.signature(input);
        ok = want.length === sig.length && timingSafeEqual(want, sig);
      } else {
        ok = verify(
          'sha256',
          Buffer.from(input),
          { key: this.publicKey!, dsaEncoding: this.alg === 'ES256' ? 'ieee-p1363' : undefined },
          sig,
        );
      }
      if (!ok) return null;
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
      return typeof claims === 'object' && claims !== null ? (claims as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  }
}

export interface AuthContext {
  /** Scheme + host the client used, for the default token realm. */
  baseUrl: string;
}

export interface Authenticator {
  /** Throws UNAUTHORIZED (with a challenge) or DENIED unless the request may do `needed`. */
  authorize(req: IncomingMessage, needed: Access[], ctx: AuthContext): Promise<void>;
  /** Token endpoint, when token auth is on: the JSON body to send, or throws UNAUTHORIZED. */
  issueToken?(req: IncomingMessage, params: URLSearchParams): Promise<Record<string, unknown>>;
}

const formatScope = (a: Access) => `${a.type}:${a.name}:${a.actions.join(',')}`;

/** Checks credentials against the htpasswd entries; verified ones are remembered so bcrypt runs once. */
class Credentials {
  private readonly users: Map<string, string>;
  private readonly verified = new Map<string, number>();
  constructor(users: Map<string, string>) {
    this.users = users;
  }

  /** The user name when the Basic `Authorization` header holds valid credentials, else null. */
  async check(header: string | undefined): Promise<string | null> {
    if (!header || !/^basic /i.test(header)) return null;
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return null;
    return this.checkPassword(decoded.slice(0, colon), decoded.slice(colon + 1));
  }

  has(user: string): boolean {
    return this.users.has(user);
  }

  async checkPassword(user: string, password: string): Promise<string | null> {
    const hash = this.users.get(user);
    if (!hash) return null;
    const key = createHash('sha256').update(`${user}\0${password}\0${hash}`).digest('hex');
    const until = this.verified.get(key);
    if (until !== undefined && until > Date.now()) return user;
    if (!(await bcrypt.compare(password, hash))) return null;
    if (this.verified.size > 10_000) this.verified.clear();
    this.verified.set(key, Date.now() + 5 * 60_000);
    return user;
  }
}

class BasicAuth implements Authenticator {
  private readonly creds: Credentials;
  private readonly realm: string;
  constructor(creds: Credentials, realm: string) {
    this.creds = creds;
    this.realm = realm;
  }
  async authorize(req: IncomingMessage): Promise<void> {
    if (await this.creds.check(req.headers.authorization)) return;
    throw regError('UNAUTHORIZED', 'authentication required', {
      headers: { 'WWW-Authenticate': `Basic realm="${this.realm}"` },
    });
  }
}

const KNOWN_ACTIONS = new Set(['pull', 'push', 'delete', '*']);

class TokenAuth implements Authenticator {
  private readonly creds: Credentials;
  private readonly signer: TokenSigner;
  private readonly service: string;
  private readonly issuer: string;
  private readonly realm?: string;
  private readonly expiration: number;

  constructor(creds: Credentials, signer: TokenSigner, cfg: NonNullable<AuthConfig['token']>) {
    this.creds = creds;
    this.signer = signer;
    this.service = cfg.service ?? 'berth-registry';
    this.issuer = cfg.issuer ?? 'berth-registry';
    this.realm = cfg.realm;
    this.expiration = cfg.expiration ?? 300;
  }

  private challenge(needed: Access[], ctx: AuthContext, error?: string): Record<string, string> {
    let value = `Bearer realm="${this.realm ?? `${ctx.baseUrl}/token`}",service="${this.service}"`;
    if (needed.length > 0) value += `,scope="${needed.map(formatScope).join(' ')}"`;
    if (error) value += `,error="${error}"`;
    return { 'WWW-Authenticate': value };
  }

  async authorize(req: IncomingMessage, needed: Access[], ctx: AuthContext): Promise<void> {
    const header = req.headers.authorization;
    if (!header || !/^bearer /i.test(header)) {
      throw regError('UNAUTHORIZED', 'authentication required', { headers: this.challenge(needed, ctx) });
    }
    const claims = this.signer.verify(header.slice(7).trim());
    const now = Math.floor(Date.now() / 1000);
    const valid =
      claims !== null &&
      // A refresh token only buys access tokens at the token endpoint.
      claims.typ !== REFRESH &&
      claims.iss === this.issuer &&
      (claims.aud === this.service || (Array.isArray(claims.aud) && claims.aud.includes(this.service))) &&
      typeof claims.exp === 'number' &&
      claims.exp > now &&
      (typeof claims.nbf !== 'number' || claims.nbf <= now + 60);
    if (!valid) {
      throw regError('UNAUTHORIZED', 'invalid or expired token', {
        headers: this.challenge(needed, ctx, 'invalid_token'),
      });
    }
    const granted = Array.isArray(claims.access) ? (claims.access as Access[]) : [];
    for (const need of needed) {
      for (const action of need.actions) {
        const ok = granted.some(
          (g) =>
            g.type === need.type &&
            g.name === need.name &&
            Array.isArray(g.actions) &&
            (g.actions.includes(action) || g.actions.includes('*')),
        );
        if (!ok) {
          throw regError('UNAUTHORIZED', `token lacks ${formatScope(need)}`, {
            headers: this.challenge(needed, ctx, 'insufficient_scope'),
            detail: [{ Type: need.type, Name: need.name, Action: action }],
          });
        }
      }
    }
  }

  async issueToken(req: IncomingMessage, params: URLSearchParams): Promise<Record<string, unknown>> {
    let user: string | null = null;
    const grant = params.get('grant_type');
    if (grant === 'refresh_token') {
      user = this.refreshUser(params.get('refresh_token') ?? '');
      if (!user) {
        throw regError('UNAUTHORIZED', 'invalid or expired refresh token', {
          headers: { 'WWW-Authenticate': 'Basic realm="berth-registry-token"' },
        });
      }
    } else if (grant === 'password') {
      user = await this.creds.checkPassword(params.get('username') ?? '', params.get('password') ?? '');
    } else if (grant !== null) {
      throw regError('UNSUPPORTED', `unsupported grant_type "${grant}"`, { status: 400 });
    } else {
      user = await this.creds.check(req.headers.authorization);
    }
    if (!user) {
      throw regError('UNAUTHORIZED', 'invalid username or password', {
        headers: { 'WWW-Authenticate': 'Basic realm="berth-registry-token"' },
      });
    }
    const service = params.get('service');
    if (service && service !== this.service) {
      throw regError('DENIED', `unknown service "${service}"`);
    }
    // Authenticated users get what they ask for: there are no per-repository ACLs (yet).
    const access = parseScopes(params.getAll('scope'))
      .map((a) => ({ ...a, actions: a.actions.filter((x) => KNOWN_ACTIONS.has(x)) }))
      .filter((a) => (a.type === 'repository' || a.type === 'registry') && a.actions.length > 0);
    const now = Math.floor(Date.now() / 1000);
    const token = this.signer.sign({
      iss: this.issuer,
      sub: user,
      aud: this.service,
      exp: now + this.expiration,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(12).toString('hex'),
      access,
    });
    const out: Record<string, unknown> = {
      token,
      access_token: token,
      expires_in: this.expiration,
      issued_at: new Date(now * 1000).toISOString(),
    };
    // Offline access (docker login: `offline_token=true` on GET, `access_type=offline` on the password
    // grant) also gets a long-lived refresh token, which docker keeps as `identitytoken` instead of the
    // password and later trades with grant_type=refresh_token.
    const offline =
      (grant === null && params.get('offline_token') === 'true') ||
      (grant === 'password' && params.get('access_type') === 'offline');
    if (offline) {
      out.refresh_token = this.signer.sign({
        typ: REFRESH,
        iss: this.issuer,
        sub: user,
        aud: this.service,
        iat: now,
        exp: now + REFRESH_LIFETIME,
        jti: randomBytes(12).toString('hex'),
      });
    }
    return out;
  }

  /** The user a refresh token was issued to, while it is valid and the user still exists. */
  private refreshUser(token: string): string | null {
    const claims = this.signer.verify(token);
    const now = Math.floor(Date.now() / 1000);
    if (
      !claims ||
      claims.typ !== REFRESH ||
      claims.iss !== this.issuer ||
      claims.aud !== this.service ||
      typeof claims.sub !== 'string' ||
      typeof claims.exp !== 'number' ||
      claims.exp <= now
    )
      return null;
    return this.creds.has(claims.sub) ? claims.sub : null;
  }
}

/** The `typ` claim of refresh tokens, and how long they last (90 days). */
const REFRESH = 'refresh';
const REFRESH_LIFETIME = 90 * 24 * 3600;

/** Builds the authenticator for a config; null when auth is off. */
export async function createAuthenticator(cfg: AuthConfig | undefined): Promise<Authenticator | null> {
  if (!cfg || (!cfg.htpasswd && !cfg.token)) return null;
  let users = new Map<string, string>();
  if (cfg.htpasswd) {
    let text: string;
    try {
      text = await readFile(cfg.htpasswd, 'utf8');
    } catch (err) {
      throw badRequest(`cannot read htpasswd file ${cfg.htpasswd}: ${(err as Error).message}`);
    }
    users = parseHtpasswd(text, cfg.htpasswd);
  }
  const creds = new Credentials(users);
  if (cfg.token) {
    let key: Buffer;
    try {
      key = await readFile(cfg.token.key);
    } catch (err) {
      throw badRequest(`cannot read token key ${cfg.token.key}: ${(err as Error).message}`);
    }
    return new TokenAuth(creds, new TokenSigner(key), cfg.token);
  }
  return new BasicAuth(creds, cfg.realm ?? 'berth-registry');
}
