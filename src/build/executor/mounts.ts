// `RUN --mount=type=bind` sources: resolved inside their root (the context or a stage's/image's root)
// so symlinks cannot lead out of it, and required to exist, as BuildKit requires (a bind of a missing
// path would otherwise create it on the host).
import { existsSync } from 'node:fs';
import { resolveInRoot } from '../../runtime/index.js';
import { DockerfileError } from '../parser/index.js';
import type { SourceLocation } from './remote.js';

/** Host path of a bind mount's `source` under `root`; throws a DockerfileError when it is missing. */
export function bindMountSource(
  root: string,
  source: string,
  where: SourceLocation,
  rootName: string,
): string {
  const host = resolveInRoot(root, source);
  if (!existsSync(host))
    throw new DockerfileError(
      where.file,
      where.line,
      `RUN --mount=type=bind: source "${source}" not found in ${rootName}`,
    );
  return host;
}
