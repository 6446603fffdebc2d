// `build:` sections through POST /build: the context directory goes to the daemon as a streamed tar.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative } from 'node:path';
import type { EngineClient } from '../../client/index.js';
import { BerthError, badRequest, sha256 } from '../../util/index.js';
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
  if (!existsSync(b.context) || !statSync(b.context).isDirectory())
    throw badRequest(`services.${svc.name}.build.context: ${b.context} is not a directory`);
  if (b.dockerfile_inline !== undefined && b.dockerfile !== undefined)
    throw badRequest(`services.${svc.name}.build: dockerfile and dockerfile_inline are mutually exclusive`);
  // An inline Dockerfile travels in the context tar under a name of its own, next to the context's files.
  let inline: { dir: string; name: string } | undefined;
  if (b.dockerfile_inline !== undefined) {
    const text = String(b.dockerfile_inline);
    inline = {
      dir: mkdtempSync(join(tmpdir(), 'berth-inline-')),
      name: `Dockerfile.inline-${sha256(text).slice(7, 19)}`,
    };
    writeFileSync(join(inline.dir, inline.name), text);
  }
  const dockerfile = inline?.name ?? b.dockerfile ?? 'Dockerfile';
  const rel = isAbsolute(dockerfile) ? relative(b.context, dockerfile) : dockerfile;
  if (rel.startsWith('..')) {
    if (inline) rmSync(inline.dir, { recursive: true, force: true });
    throw badRequest(`services.${svc.name}.build.dockerfile: ${dockerfile} is outside the build context`);
  }
  const buildargs: Record<string, string> = {};
  for (const [k, v] of Object.entries(b.args ?? {})) if (v !== null) buildargs[k] = v;
  // tar streams the context; the daemon applies .dockerignore itself.
  const tarArgs = ['-C', b.context, '-cf', '-', '.'];
  if (inline) tarArgs.push('-C', inline.dir, inline.name);
  const tar = spawn('tar', tarArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
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
    // The last lines of output go into the error: a failed RUN is explained by what it printed.
    let tail: string[] = [];
    for await (const m of client.images.build(tar.stdout, query)) {
      if (m.error) {
        const shown = opts.onOutput ? '' : tail.join('').trimEnd();
        throw new BerthError(500, `build ${svc.name}: ${m.error}${shown ? `\n${shown}` : ''}`);
      }
      const line = (m as { stream?: string }).stream;
      if (!line) continue;
      opts.onOutput?.(line);
      tail.push(line);
      if (tail.length > 40) tail = tail.slice(-20);
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
  } finally {
    if (inline) rmSync(inline.dir, { recursive: true, force: true });
  }
  if (tar.exitCode !== null && tar.exitCode !== 0)
    throw badRequest(`build ${svc.name}: tar: ${tarErr.trim()}`);
}
