// Image routes of the Engine API: list, inspect, history, tag, remove, prune, save, load, import, commit.
import type { DaemonContext } from '../../daemon/context.js';
import { familiarString, parseNormalizedTagged } from '../../images/index.js';
import { badRequest, messageOf } from '../../util/index.js';
import { type ApiRequest, jsonStream, type Router } from '../index.js';

function filtersRecord(req: ApiRequest): Record<string, string[]> {
  return Object.fromEntries(req.filters());
}

/** `repo` + `tag` query parameters → one reference string (tag defaults to latest). */
export function referenceFrom(repo: string | null, tag: string | null): string | undefined {
  if (!repo) return undefined;
  if (tag) return repo.includes('@') ? repo : `${repo}:${tag}`;
  return repo;
}

/** Docker's `changes` parameter: a JSON-ish list, repeated parameters, or newline-separated. */
function changesOf(req: ApiRequest): string[] {
  return req.query
    .getAll('changes')
    .flatMap((c) => c.split('\n'))
    .filter((c) => c.trim() !== '');
}

export function registerImageRoutes(router: Router, ctx: DaemonContext): void {
  const images = ctx.images;
  const inUse = (id: string) => ctx.containers.isImageInUse(id);

  router.get('/images/json', async (req) => {
    const filters = filtersRecord(req);
    // Older clients send `filter=<reference>`.
    const legacy = req.query.get('filter');
    if (legacy) filters.reference = [...(filters.reference ?? []), legacy];
    return { json: await images.list({ all: req.bool('all'), filters }) };
  });

  router.get('/images/get', async (req) => {
    const names = req.query.getAll('names');
    if (names.length === 0) throw badRequest('no image names given: use names=<image>');
    return { stream: await images.save(names), headers: { 'Content-Type': 'application/x-tar' } };
  });

  router.get('/images/:name+/get', async (req) => ({
    stream: await images.save([req.params.name!]),
    headers: { 'Content-Type': 'application/x-tar' },
  }));

  router.get('/images/:name+/json', async (req) => ({ json: await images.inspect(req.params.name!) }));

  router.get('/images/:name+/history', async (req) => ({ json: await images.history(req.params.name!) }));

  router.post('/images/:name+/tag', async (req) => {
    const target = referenceFrom(req.query.get('repo'), req.query.get('tag'));
    if (!target) throw badRequest('repository name must have at least one component');
    await images.tag(req.params.name!, target);
    const rec = images.resolve(target);
    ctx.events.publish('image', 'tag', rec.id, { name: familiarString(parseNormalizedTagged(target)) });
    return { status: 201 };
  });

  router.delete('/images/:name+', async (req) => {
    const items = await images.remove(req.params.name!, {
      force: req.bool('force'),
      noPrune: req.bool('noprune'),
      isInUse: inUse,
    });
    for (const item of items) {
      if ('Untagged' in item && item.Untagged)
        ctx.events.publish('image', 'untag', item.Untagged, { name: item.Untagged });
      if ('Deleted' in item && item.Deleted)
        ctx.events.publish('image', 'delete', item.Deleted, { name: item.Deleted });
    }
    return { json: items };
  });

  router.post('/images/prune', async (req) => {
    const filters = filtersRecord(req);
    const dangling = filters.dangling?.[0];
    delete filters.dangling;
    const all = dangling !== undefined && ['false', '0'].includes(dangling.toLowerCase());
    const result = await images.prune({ all, isInUse: inUse, filters });
    ctx.events.publish('image', 'prune', '', { reclaimed: String(result.SpaceReclaimed) });
    return { json: result };
  });

  router.post('/images/load', async (req) => {
    const quiet = req.bool('quiet');
    const out = jsonStream(req);
    try {
      const { loaded } = await images.load(req.raw);
      for (const line of loaded) {
        out.write({ stream: `${line}\n` });
        ctx.events.publish('image', 'load', line.replace(/^Loaded image( ID)?: /, ''), {});
      }
    } catch (err) {
      out.write({ errorDetail: { message: messageOf(err) }, error: messageOf(err) });
    }
    if (quiet) {
      // The CLI prints the stream either way; quiet only drops progress bars, which load has none of.
    }
    out.end();
  });

  router.post('/images/create', async (req) => {
    const fromSrc = req.query.get('fromSrc');
    const fromImage = req.query.get('fromImage');
    if (fromSrc !== null) {
      if (fromSrc !== '-')
        throw badRequest('importing from a URL is not supported: send the tar as the body (fromSrc=-)');
      const ref = referenceFrom(req.query.get('repo'), req.query.get('tag'));
      const out = jsonStream(req);
      try {
        const rec = await images.importRootfs(req.raw, {
          ref,
          changes: changesOf(req),
          message: req.query.get('message') ?? undefined,
        });
        out.write({ status: rec.id });
        ctx.events.publish('image', 'import', rec.id, ref ? { name: ref } : {});
      } catch (err) {
        out.write({ errorDetail: { message: messageOf(err) }, error: messageOf(err) });
      }
      out.end();
      return;
    }
    if (fromImage) {
      const ref = referenceFrom(fromImage, req.query.get('tag'))!;
      const pull = ctx.pull;
      if (!pull)
        throw badRequest(`pull access denied for ${fromImage}: this berth has no registry client yet`);
      const out = jsonStream(req);
      try {
        // As Docker's API says: an empty tag on a name without tag or digest pulls every tag.
        const tag = req.query.get('tag');
        const bare = !/[:@]/.test(fromImage.slice(fromImage.lastIndexOf('/') + 1));
        await pull(ref, {
          allTags: !tag && bare,
          platform: req.query.get('platform') ?? undefined,
          auth: req.headers['x-registry-auth'] as string | undefined,
          progress: (msg) => out.write(msg),
        });
      } catch (err) {
        out.write({ errorDetail: { message: messageOf(err) }, error: messageOf(err) });
      }
      out.end();
      return;
    }
    throw badRequest('fromImage or fromSrc is required');
  });

  router.post('/commit', async (req) => {
    const ref = req.query.get('container');
    if (!ref) throw badRequest('container is required');
    const rec = ctx.containers.get(ref);
    const config = await req.json<Record<string, unknown>>();
    const pause = req.bool('pause', true) && rec.State.Running && !rec.State.Paused;
    if (pause) await ctx.containers.pause(rec.Id);
    try {
      const image = await images.commit({
        parent: rec.Image,
        layer: { upperDir: ctx.containers.upperDir(rec) },
        config: Object.keys(config).length
          ? (config as Parameters<typeof images.commit>[0]['config'])
          : undefined,
        changes: changesOf(req),
        author: req.query.get('author') ?? undefined,
        comment: req.query.get('comment') ?? undefined,
        tag: referenceFrom(req.query.get('repo'), req.query.get('tag')),
        recordParent: true,
      });
      ctx.events.publish('container', 'commit', rec.Id, { name: rec.Name, imageID: image.id });
      return { status: 201, json: { Id: image.id } };
    } finally {
      if (pause) await ctx.containers.unpause(rec.Id);
    }
  });
}
