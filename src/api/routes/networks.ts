// Network routes of the Engine API.
import type { DaemonContext } from '../../daemon/context.js';
import type { CreateNetworkOptions } from '../../network/index.js';
import { badRequest } from '../../util/index.js';
import type { Router } from '../index.js';

export function registerNetworkRoutes(router: Router, ctx: DaemonContext): void {
  const nets = ctx.networks;

  router.get('/networks', (req) => ({ json: nets.list(Object.fromEntries(req.filters())) }));

  router.get('/networks/:id', (req) => ({ json: nets.inspect(req.params.id!) }));

  router.post('/networks/create', async (req) => {
    const body = await req.json<CreateNetworkOptions>();
    if (!body || typeof body.Name !== 'string' || body.Name === '')
      throw badRequest('network name is required (Name)');
    const result = await nets.create(body);
    ctx.events.publish('network', 'create', result.Id, { name: body.Name, type: body.Driver || 'bridge' });
    return { status: 201, json: result };
  });

  router.delete('/networks/:id', async (req) => {
    const net = nets.inspect(req.params.id!);
    await nets.remove(net.Id);
    ctx.events.publish('network', 'destroy', net.Id, { name: net.Name, type: net.Driver });
    return { status: 204 };
  });

  router.post('/networks/prune', async (req) => {
    const result = await nets.prune(Object.fromEntries(req.filters()));
    ctx.events.publish('network', 'prune', '', {});
    return { json: result };
  });

  router.post('/networks/:id/connect', async (req) => {
    const body = await req.json<{
      Container?: string;
      EndpointConfig?: { Aliases?: string[]; IPAMConfig?: { IPv4Address?: string } };
    }>();
    if (!body.Container) throw badRequest('Container is required');
    const net = nets.inspect(req.params.id!);
    await ctx.containers.connectNetwork(body.Container, net.Name, body.EndpointConfig ?? {});
    ctx.events.publish('network', 'connect', net.Id, {
      name: net.Name,
      type: net.Driver,
      container: ctx.containers.get(body.Container).Id,
    });
    return { status: 200, body: '' };
  });

  router.post('/networks/:id/disconnect', async (req) => {
    const body = await req.json<{ Container?: string; Force?: boolean }>();
    if (!body.Container) throw badRequest('Container is required');
    const net = nets.inspect(req.params.id!);
    await ctx.containers.disconnectNetwork(body.Container, net.Name, !!body.Force);
    ctx.events.publish('network', 'disconnect', net.Id, {
      name: net.Name,
      type: net.Driver,
      container: ctx.containers.get(body.Container).Id,
    });
    return { status: 200, body: '' };
  });
}
