// Registry routes of the Engine API: push, login check (POST /auth) and distribution inspect. Pull is
// POST /images/create?fromImage= in images.ts, which calls ctx.pull (set by the daemon to Distribution.pull).
import type { DaemonContext } from '../../daemon/context.js';
import { Distribution, decodeRegistryAuth, normalizeAuth } from '../../distribution/index.js';
import { messageOf, statusOf } from '../../util/index.js';
import { jsonStream, type Router } from '../index.js';

/** Registers the routes and provides ctx.pull (used by POST /images/create?fromImage=). */
export function registerDistributionRoutes(router: Router, ctx: DaemonContext): Distribution {
  const dist = new Distribution({ images: ctx.images, insecureRegistries: ctx.config.insecureRegistries });
  ctx.pull = async (ref, opts) => {
    await dist.pull(ref, {
      ...(opts.platform ? { platform: opts.platform } : {}),
      auth: decodeRegistryAuth(opts.auth),
      progress: opts.progress,
      // Docker's API pulls every tag when fromImage has no tag and `tag` is empty; images.ts can ask for
      // that with `allTags: true` (a bare name from the builder or `run` means :latest).
      allTags: (opts as { allTags?: boolean }).allTags === true,
    });
    ctx.events.publish('image', 'pull', ref, { name: ref });
  };
  router.post('/images/:name+/push', async (req) => {
    const auth = decodeRegistryAuth(req.headers['x-registry-auth'] as string | undefined);
    const name = req.params.name!;
    const tag = req.query.get('tag') || undefined;
    const out = jsonStream(req);
    try {
      const pushed = await dist.push(name, tag, { auth, progress: (m) => out.write(m) });
      for (const p of pushed)
        ctx.events.publish('image', 'push', `${name}:${p.tag}`, { name: `${name}:${p.tag}` });
    } catch (err) {
      out.write({ errorDetail: { message: messageOf(err) }, error: messageOf(err) });
    }
    out.end();
  });

  router.post('/auth', async (req) => {
    const body = await req.json<Record<string, unknown>>();
    const auth = normalizeAuth(body) ?? {};
    try {
      return { json: await dist.login(auth) };
    } catch (err) {
      // Docker answers a failed login with 401 and the registry's reason.
      const status = statusOf(err) === 401 ? 401 : statusOf(err);
      return { status, json: { message: messageOf(err) } };
    }
  });

  router.get('/distribution/:name+/json', async (req) => {
    const auth = decodeRegistryAuth(req.headers['x-registry-auth'] as string | undefined);
    return { json: await dist.inspect(req.params.name!, auth) };
  });
  return dist;
}
