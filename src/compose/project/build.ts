// `build:` sections through POST /build: the context directory goes to the daemon as a streamed tar.
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import type { EngineClient } from '../../client/index.js';
import { BerthError, badRequest } from '../../util/index.js';
import type { ServiceConfig } from '../loader/types.js';

export interface BuildOptions {
  noCache?: boolean;
  pull?: boolean;
  labels?: Record<string, string>;
  /** Build output lines (the daemon's `stream` messages). */
  onOutput?: (s: string) => void;
}

export async function buildService(
  client: EngineClient,
  svc: ServiceConfig,
  tag: string,
  opts: BuildOptions = {},
): Promise<void> {
  const b = svc.build;
  if (!b) throw badRequest(`service ${svc.name} has no build section`);
  if (b.dockerfile_inline !== undefined)
    throw badRequest(`services.${svc.name}.build.dockerfile_inline is not supported`);
  if (!existsSync(b.context) || !statSync(b.context).isDirectory())
    throw badRequest(`services.${svc.name}.build.context: ${b.context} is not a directory`);
  const dockerfile = b.dockerfile ?? 'Dockerfile';
  const rel = isAbsolute(dockerfile) ? relative(b.context, dockerfile) : dockerfile;
  if (rel.startsWith('..'))
    throw badRequest(`services.${svc.name}.build.dockerfile: ${dockerfile} is outside the build context`);
  const buildargs: Record<string, string> = {};
  for (const [k, v] of Object.entries(b.args ?? {})) if (v !== null) buildargs[k] = v;
  // tar streams the context; the daemon applies .dockerignore itself.
  const tar = spawn('tar', ['-C', b.context, '-cf', '-', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let tarErr = '';
  tar.stderr.on('data', (d: Buffer) => {
    tarErr += d.toString();
  });
  try {
    const query = {
      t: tag,
      dockerfile: rel,
      target: b.target,
      buildargs: Object.keys(buildargs).length ? JSON.stringify(buildargs) : undefined,
      labels: JSON.stringify({ ...((b.labels as Record<string, string> | undefined) ?? {}), ...opts.labels }),
      nocache: opts.noCache,
      pull: opts.pull,
      rm: true,
    };
    for await (const m of client.images.build(tar.stdout, query)) {
      if (m.error) throw new BerthError(500, `build ${svc.name}: ${m.error}`);
      const line = (m as { stream?: string }).stream;
      if (line) opts.onOutput?.(line);
    }
  } catch (err) {
    tar.kill();
    if (
      (err as { status?: number }).status === 404 &&
      /page not found|no such route|not found/i.test((err as Error).message)
    )
      throw new BerthError(
        501,
        `build ${svc.name}: the daemon does not support image builds (POST /build): ${(err as Error).message}`,
      );
    throw err;
  }
  if (tar.exitCode !== null && tar.exitCode !== 0)
    throw badRequest(`build ${svc.name}: tar: ${tarErr.trim()}`);
}
