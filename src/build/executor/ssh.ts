// `RUN --mount=type=ssh`: BuildKit forwards an ssh-agent from the client through its session. berth's
// daemon runs on the client's host, so `berth build --ssh default=$SSH_AUTH_SOCK` hands it the agent
// socket's path and the RUN container gets that socket bind-mounted at the mount's target
// (`/run/buildkit/ssh_agent.<n>` by default), with SSH_AUTH_SOCK pointing at the first one. Without a
// forwarded agent for the id, a `required=true` mount fails with BuildKit's error and an optional one is
// left out (SSH_AUTH_SOCK then names a missing socket, as with BuildKit). Key files (`--ssh id=key.pem`)
// are not supported: only agent sockets.
import { statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { badRequest } from '../../util/index.js';
import { DockerfileError, type RunMount } from '../parser/index.js';
import type { SourceLocation } from './remote.js';

/** id → host path of an ssh-agent socket. */
export type SshForwards = Record<string, string>;

const ID_RE = /^[A-Za-z0-9_.-]+$/;

/**
 * Parses `--ssh` values as `docker build` takes them: `default` (the agent in $SSH_AUTH_SOCK),
 * `<id>=<socket>`, repeatable. Throws 400 for a bad id, a missing socket or a path that is not a socket.
 */
export function parseSshSpecs(specs: readonly string[], env: NodeJS.ProcessEnv = process.env): SshForwards {
  const out: SshForwards = {};
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const id = eq < 0 ? spec : spec.slice(0, eq);
    if (!ID_RE.test(id)) throw badRequest(`invalid --ssh ${spec}: bad id "${id}"`);
    let path = eq < 0 ? (env.SSH_AUTH_SOCK ?? '') : spec.slice(eq + 1);
    if (path === '') throw badRequest(`invalid --ssh ${spec}: no socket given and SSH_AUTH_SOCK is not set`);
    if (path.includes(','))
      throw badRequest(`invalid --ssh ${spec}: key files are not supported, only an ssh-agent socket`);
    path = isAbsolute(path) ? path : resolve(path);
    let isSocket = false;
    try {
      isSocket = statSync(path).isSocket();
    } catch {
      throw badRequest(`invalid --ssh ${spec}: ${path} does not exist`);
    }
    if (!isSocket)
      throw badRequest(`invalid --ssh ${spec}: ${path} is not a socket (key files are not supported)`);
    if (Object.hasOwn(out, id)) throw badRequest(`invalid --ssh ${spec}: id "${id}" given twice`);
    out[id] = path;
  }
  return out;
}

/** Checks forwards that came over the API (id → absolute socket path); throws 400 naming the bad one. */
export function checkSshForwards(value: unknown): SshForwards {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw badRequest('invalid ssh forwards: expected a JSON object of id to socket path');
  const out: SshForwards = {};
  for (const [id, path] of Object.entries(value)) {
    if (!ID_RE.test(id)) throw badRequest(`invalid ssh forward id "${id}"`);
    if (typeof path !== 'string' || !isAbsolute(path))
      throw badRequest(`invalid ssh forward ${id}: the socket path must be absolute`);
    out[id] = path;
  }
  return out;
}

export interface SshMountResult {
  /** `host:container` for the container's Binds, absent when the optional agent is missing. */
  bind?: string;
  /** The container path the mount targets (for SSH_AUTH_SOCK). */
  target: string;
}

/**
 * The bind for one `type=ssh` mount. `target` is the mount's absolute container path. Throws a
 * DockerfileError for a required agent that was not forwarded or whose socket has gone.
 */
export function sshMountBind(
  m: RunMount,
  target: string,
  forwards: SshForwards | undefined,
  where: SourceLocation,
): SshMountResult {
  const id = m.id ?? 'default';
  const socket = forwards?.[id];
  if (socket === undefined) {
    if (m.required)
      throw new DockerfileError(
        where.file,
        where.line,
        `no SSH key "${id}" forwarded from the client (give berth build --ssh ${id}=$SSH_AUTH_SOCK)`,
      );
    return { target };
  }
  let ok = false;
  try {
    ok = statSync(socket).isSocket();
  } catch {
    ok = false;
  }
  if (!ok)
    throw new DockerfileError(where.file, where.line, `ssh agent socket for "${id}" is gone: ${socket}`);
  return { bind: `${socket}:${target}`, target };
}
