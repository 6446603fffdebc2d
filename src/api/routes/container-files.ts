// Container filesystem routes: archive (HEAD stat, GET tar, PUT extract), export and changes.
import type { FilesDeps } from '../../containers/index.js';
import {
  archiveContainerPath,
  containerChanges,
  encodePathStat,
  exportContainer,
  extractToContainer,
  statContainerPath,
} from '../../containers/index.js';
import type { DaemonContext } from '../../daemon/context.js';
import type { Router } from '../index.js';

const STAT_HEADER = 'X-Docker-Container-Path-Stat';

export function registerContainerFileRoutes(router: Router, ctx: DaemonContext): void {
  const deps: FilesDeps = {
    containers: ctx.containers,
    lowerDirs: (chainId) => ctx.images.layers.lowerDirs(chainId),
  };

  router.head('/containers/:id/archive', async (req) => {
    const stat = await statContainerPath(deps, req.params.id!, req.query.get('path') ?? '');
    return {
      status: 200,
      headers: { [STAT_HEADER]: encodePathStat(stat), 'Content-Type': 'application/x-tar' },
    };
  });

  router.get('/containers/:id/archive', async (req) => {
    const { stat, stream } = await archiveContainerPath(deps, req.params.id!, req.query.get('path') ?? '');
    return {
      stream,
      headers: { [STAT_HEADER]: encodePathStat(stat), 'Content-Type': 'application/x-tar' },
    };
  });

  router.put('/containers/:id/archive', async (req) => {
    await extractToContainer(deps, req.params.id!, req.query.get('path') ?? '', req.raw, {
      noOverwriteDirNonDir: req.bool('noOverwriteDirNonDir'),
      copyUIDGID: req.bool('copyUIDGID'),
    });
    // Docker answers 200 with an empty body.
    return { status: 200, body: '' };
  });

  router.get('/containers/:id/export', async (req) => {
    const stream = await exportContainer(deps, req.params.id!);
    return { stream, headers: { 'Content-Type': 'application/x-tar' } };
  });

  router.get('/containers/:id/changes', async (req) => ({
    json: await containerChanges(deps, req.params.id!),
  }));
}
