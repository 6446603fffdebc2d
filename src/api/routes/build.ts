// POST /build: Docker's legacy builder over the Engine API. The body is the context tar (maybe gzip),
// streamed to a temp dir; progress goes out as newline-delimited `{"stream": …}` messages.
import { rm } from 'node:fs/promises';
import { BuildError, Builder, receiveContext } from '../../build/executor/index.js';
import type { DaemonContext } from '../../daemon/context.js';
import { parseNormalizedTagged } from '../../images/index.js';
import { BerthError, badRequest, messageOf } from '../../util/index.js';
import { type ApiRequest, jsonStream, type Router } from '../index.js';

/** `buildargs`/`labels`: a JSON object of strings (null values — unset args — are dropped). */
function stringMap(req: ApiRequest, name: string): Record<string, string> {
  const raw = req.jsonQuery<Record<string, unknown>>(name) ?? {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw badRequest(`invalid ${name}: expected a JSON object`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v === null || v === undefined) continue;
    if (typeof v !== 'string') throw badRequest(`invalid ${name}: value of ${k} must be a string`);
    out[k] = v;
  }
  return out;
}

export function registerBuildRoutes(router: Router, ctx: DaemonContext): void {
  const builder = new Builder({
    images: ctx.images,
    containers: ctx.containers,
    dataRoot: ctx.config.dataRoot,
    ...(ctx.pull ? { pull: (ref, opts) => ctx.pull!(ref, opts) } : {}),
  });

  router.post('/build', async (req) => {
    if (req.query.get('remote'))
      throw badRequest('remote build contexts are not supported: send the context tar');
    const tags = req.query.getAll('t').filter((t) => t !== '');
    for (const t of tags) {
      try {
        parseNormalizedTagged(t);
      } catch (err) {
        throw badRequest(`invalid tag ${JSON.stringify(t)}: ${messageOf(err)}`);
      }
    }
    const version = req.query.get('version');
    if (version === '2') throw badRequest('BuildKit is not supported by this daemon: use the legacy builder');
    const buildArgs = stringMap(req, 'buildargs');
    const labels = stringMap(req, 'labels');
    const contextDir = ctx.images.tempDir();
    await receiveContext(req.raw, contextDir);
    const out = jsonStream(req);
    try {
      const result = await builder.build(
        {
          contextDir,
          dockerfile: req.query.get('dockerfile') || 'Dockerfile',
          tags,
          buildArgs,
          labels,
          target: req.query.get('target') || undefined,
          noCache: req.bool('nocache'),
          pull: req.bool('pull'),
          quiet: req.bool('q'),
          rm: req.bool('rm', true),
          forceRm: req.bool('forcerm'),
          networkMode: req.query.get('networkmode') || undefined,
          platform: req.query.get('platform') || undefined,
          signal: req.signal,
        },
        {
          stream: (text) => out.write({ stream: text }),
          aux: (value) => out.write({ aux: value }),
        },
      );
      for (const t of result.tags) ctx.events.publish('image', 'tag', result.imageId, { name: t });
    } catch (err) {
      const message = messageOf(err);
      const code = err instanceof BuildError ? err.code : err instanceof BerthError ? err.status : 500;
      out.write({ errorDetail: { code, message }, error: message });
    } finally {
      out.end();
      await rm(contextDir, { recursive: true, force: true }).catch(() => {});
    }
  });
}
