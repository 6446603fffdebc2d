// Shared by the build tests: a private berth daemon with a busybox image, and a runner for CLIs.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importBusybox, startTestDaemon, type TestDaemon } from '../../helpers/daemon.js';

export const REPO = join(fileURLToPath(import.meta.url), '../../../..');
export const DOCKER = '/usr/local/bin/docker';

export { type Result, runTool } from '../../helpers/index.js';

/** A private daemon with `busybox:latest` imported from a busybox-static rootfs. */
export async function daemonWithBusybox(): Promise<TestDaemon> {
  const d = await startTestDaemon();
  try {
    await importBusybox(d);
  } catch (err) {
    await d.stop();
    throw err;
  }
  return d;
}

/** Writes a context directory from a map of relative paths to contents. */
export function writeContext(dir: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    const path = join(dir, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  }
}

/** The step blocks of a legacy build log: `Step n/m : INSTR` → whether it used the cache. */
export function cacheUse(log: string): { step: string; cached: boolean }[] {
  const out: { step: string; cached: boolean }[] = [];
  for (const block of log.split(/^Step \d+\/\d+ : /m).slice(1)) {
    const [first = ''] = block.split('\n');
    out.push({ step: first, cached: block.includes(' ---> Using cache') });
  }
  return out;
}
