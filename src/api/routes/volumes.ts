// Volume routes of the Engine API.
import type { DaemonContext } from '../../daemon/context.js';
import type { VolumeCreateOptions } from '../../volumes/index.js';
import type { Router } from '../index.js';

export function registerVolumeRoutes(router: Router, ctx: DaemonContext): void {
  const vols = ctx.volumes;

  router.get('/volumes', async (req) => ({ json: await vols.list(Object.fromEntries(req.filters())) }));

  router.post('/volumes/create', async (req) => {
    const body = await req.json<VolumeCreateOptions>();
    const volume = await vols.create(body);
    ctx.events.publish('volume', 'create', volume.Name, { driver: volume.Driver });
    return { status: 201, json: volume };
  });

  router.get('/volumes/:name', async (req) => ({ json: await vols.inspect(req.params.name!) }));

  router.delete('/volumes/:name', async (req) => {
    await vols.remove(req.params.name!, { force: req.bool('force') });
    ctx.events.publish('volume', 'destroy', req.params.name!, {});
    return { status: 204 };
  });

  router.post('/volumes/prune', async (req) => ({
    json: await vols.prune(Object.fromEntries(req.filters())),
  }));
}
