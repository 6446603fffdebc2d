// The CLI's connection to the daemon: an Engine API client for BERTH_HOST / DOCKER_HOST, starting a
// background daemon when none answers on the default socket (so a first command just works).
//
// This module is on every command's start-up path: it imports nothing beyond the client, and the
// auto-start path loads what it needs (child_process, fs) only when no daemon answers.
import { DaemonUnreachableError, DEFAULT_HOST, EngineClient } from '../client/index.js';

let client: EngineClient | undefined;

/** The shared client of this CLI invocation. */
export function getClient(): EngineClient {
  client ??= new EngineClient();
  return client;
}

export function closeClient(): void {
  client?.close();
  client = undefined;
}

/**
 * Makes sure a daemon answers. Only the default local socket is auto-started: a DOCKER_HOST pointing
 * elsewhere (a real Docker, a remote berth) is never second-guessed.
 *
 * Costs no extra round trip when a daemon answers: the one /_ping it sends is the client's API version
 * negotiation, which the first request would send anyway (the client remembers the negotiated version).
 */
export async function ensureDaemon(): Promise<EngineClient> {
  const c = getClient();
  try {
    await c.apiVersion();
    return c;
  } catch (err) {
    if (!(err instanceof DaemonUnreachableError) || c.host !== DEFAULT_HOST) throw err;
  }
  await startDaemon();
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 100));
    try {
      await c.apiVersion();
      return c;
    } catch (err) {
      if (!(err instanceof DaemonUnreachableError)) throw err;
    }
  }
  throw new DaemonUnreachableError(
    DEFAULT_HOST,
    new Error(`the daemon did not start; see ${LOG_DIR}/daemon.log`),
  );
}

const LOG_DIR = '/var/log/berth';

/**
 * V8 settings for the long-running daemon: a small young generation and one V8 worker thread keep its
 * idle RSS near 65 MB instead of ~90 MB after activity (bench/run.ts --daemon-node-flags measures it).
 * They only take effect on the command line, not once the process runs.
 */
export const DAEMON_NODE_FLAGS = ['--max-semi-space-size=1', '--v8-pool-size=1'];

/** Starts `berth daemon` in the background, detached, logging to /var/log/berth/daemon.log. */
async function startDaemon(): Promise<void> {
  const [{ spawn }, { mkdirSync, openSync }, { join }] = await Promise.all([
    import('node:child_process'),
    import('node:fs'),
    import('node:path'),
  ]);
  mkdirSync(LOG_DIR, { recursive: true });
  const log = openSync(join(LOG_DIR, 'daemon.log'), 'a');
  // The same script with the same loader this CLI runs as: bin/berth (the bundle), dist/src/cli/main.js,
  // or src/cli/main.ts under tsx (its --import is in execArgv).
  const child = spawn(
    process.execPath,
    [...process.execArgv, ...DAEMON_NODE_FLAGS, process.argv[1]!, 'daemon'],
    {
      detached: true,
      stdio: ['ignore', log, log],
    },
  );
  child.unref();
}
