// The build context arrives as a tar (maybe compressed) in the request body: it is streamed to a
// private directory with the layers module's safe extraction (paths checked, nothing outside the dir).
import { mkdir, rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { applyLayer } from '../../layers/index.js';
import { badRequest, messageOf } from '../../util/index.js';

/** Extracts the context tar into `dir` (created); removes it again when the tar is bad. */
export async function receiveContext(body: Readable, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    await applyLayer(body, dir);
  } catch (err) {
    await rm(dir, { recursive: true, force: true }).catch(() => {});
    throw badRequest(`invalid build context: ${messageOf(err)}`);
  }
}
