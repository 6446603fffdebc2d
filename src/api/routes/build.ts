// POST /build: Docker's legacy builder over the Engine API. The body is the context tar (maybe gzip),
// streamed into a kept context directory (see build/context/sync.ts); progress goes out as newline-delimited `{"stream": …}` messages.
import { BuildError, Builder, buildTrace, checkSshForwards } from '../../build/index.js';
import type { DaemonContext } from '../../daemon/context.js';
import { parseNormalizedTagged } from '../../images/index.js';
import { badRequest, messageOf, notFound } from '../../util/index.js';
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

/**
 * `RUN --mount=type=secret` values: the legacy API has no session to fetch them from, so berth's CLI
 * sends them in the `X-Berth-Build-Secrets` header (base64 of a JSON object id → value).
 */
function secretsOf(req: ApiRequest): Record<string, string> {
  const header = req.headers['x-berth-build-secrets'];
  if (typeof header !== 'string' || header === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(header, 'base64').toString('utf8'));
  } catch {
    throw badRequest('invalid X-Berth-Build-Secrets header: expected base64 of a JSON object');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw badRequest('invalid X-Berth-Build-Secrets header: expected a JSON object');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (typeof v !== 'string')
      throw badRequest(`invalid X-Berth-Build-Secrets header: secret ${k} is not a string`);
    out[k] = v;
  }
  return out;
}

/** `RUN --mount=type=ssh` agents from berth's CLI: `X-Berth-Build-Ssh`, base64 of JSON id → socket path. */
function sshOf(req: ApiRequest) {
  const header = req.headers['x-berth-build-ssh'];
  if (typeof header !== 'string' || header === '') return undefined;
  try {
    return checkSshForwards(JSON.parse(Buffer.from(header, 'base64').toString('utf8')));
  } catch (err) {
    throw badRequest(`invalid X-Berth-Build-Ssh header: ${messageOf(err)}`);
  }
}

export function registerBuildRoutes(router: Router, ctx: DaemonContext): void {
  const builder = new Builder({
    images: ctx.images,
    containers: ctx.containers,
    dataRoot: ctx.config.dataRoot,
    // Looked up per build: the registry client may be wired into the context after the routes.
    pull: async (ref, opts) => {
      if (!ctx.pull) throw notFound(`No such image: ${ref} (this daemon has no registry client)`);
      await ctx.pull(ref, opts);
    },
  });

  router.post('/build/prune', async () => {
    const { entries, space } = await builder.prune();
    return { json: { CachesDeleted: entries.map((k) => k.replace(/^sha256:/, '')), SpaceReclaimed: space } };
  });

  router.post('/build/cancel', async () => {
    // The legacy builder stops when its client disconnects; there is nothing to cancel by id.
    return { status: 200 };
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
    const secrets = secretsOf(req);
    const ssh = sshOf(req);
    const trace = buildTrace(tags[0] ?? '-');
    const dockerfile = req.query.get('dockerfile') || 'Dockerfile';
    const received = await builder.receiveContext(req.raw, JSON.stringify([tags, dockerfile]));
    trace.mark('context');
    const out = jsonStream(req);
    try {
      const result = await builder.build(
        {
          contextDir: received.dir,
          context: received,
          dockerfile,
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
          secrets,
          ...(ssh ? { ssh } : {}),
          trace,
        },
        {
          stream: (text) => out.write({ stream: text }),
          aux: (value) => out.write({ aux: value }),
        },
      );
      for (const t of result.tags) ctx.events.publish('image', 'tag', result.imageId, { name: t });
    } catch (err) {
      const message = messageOf(err);
      // Only a failing RUN carries a code (its exit status), as in Docker; the CLI exits 1 otherwise.
      const code = err instanceof BuildError ? err.code : undefined;
      out.write({ errorDetail: code !== undefined ? { code, message } : { message }, error: message });
    } finally {
      out.end();
      await received.release();
      trace.mark('cleanup');
      trace.done();
    }
  });
}
