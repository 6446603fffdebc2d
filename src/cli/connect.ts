// The CLI's connection to the daemon: an Engine API client for BERTH_HOST / DOCKER_HOST, starting a
// background daemon when none answers on the default socket (so a first command just works).
import { spawn } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DaemonUnreachableError, DEFAULT_HOST, EngineClient, hostFromEnv } from '../client/index.js';

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
 */
export async function ensureDaemon(): Promise<EngineClient> {
  const c = getClient();
  try {
    await c.ping();
    return c;
  } catch (err) {
    if (!(err instanceof DaemonUnreachableError) || hostFromEnv() !== DEFAULT_HOST) throw err;
  }
  const logDir = '/var/log/berth';
  mkdirSync(logDir, { recursive: true });
  const log = openSync(join(logDir, 'daemon.log'), 'a');
  // Run the daemon with the same loader this CLI runs with (tsx in development, plain node when built).
  const main = join(
    dirname(fileURLToPath(import.meta.url)),
    import.meta.url.endsWith('.ts') ? 'main.ts' : 'main.js',
  );
  const child = spawn(process.execPath, [...process.execArgv, main, 'daemon'], {
    detached: true,
    stdio: ['ignore', log, log],
  });
  child.unref();
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 100));
    try {
      await c.ping();
      return c;
    } catch (err) {
      if (!(err instanceof DaemonUnreachableError)) throw err;
    }
  }
  throw new DaemonUnreachableError(
    DEFAULT_HOST,
    new Error(`the daemon did not start; see ${logDir}/daemon.log`),
  );
}
