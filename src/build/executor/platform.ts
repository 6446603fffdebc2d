// `FROM --platform` and `build --platform`: builds here run natively and cannot emulate another
// architecture, so a stage may only ask for the local platform (spelled any way containerd's platform
// parser accepts: `linux`, `amd64`, `x86_64`, `linux/amd64`, `linux/amd64/v2`, …). Another platform is a
// 400 naming the FROM line and both platforms.
import { badRequest } from '../../util/index.js';
import { DockerfileError, type StageGraph } from '../parser/index.js';

export interface Platform {
  os: string;
  arch: string;
  variant?: string;
}

const ARCH_ALIASES: Record<string, string> = {
  x86_64: 'amd64',
  'x86-64': 'amd64',
  aarch64: 'arm64',
  armhf: 'arm',
  armel: 'arm',
  i386: '386',
  i686: '386',
};
const KNOWN_OS = new Set([
  'linux',
  'windows',
  'darwin',
  'freebsd',
  'netbsd',
  'openbsd',
  'solaris',
  'illumos',
]);

/** The platform this daemon builds for. */
export function localPlatform(): Platform {
  const a = process.arch;
  const arch = a === 'x64' ? 'amd64' : a === 'ia32' ? '386' : a;
  return { os: 'linux', arch };
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.arch}${p.variant ? `/${p.variant}` : ''}`;
}

/** Parses and normalizes `os[/arch[/variant]]` or a lone `os`/`arch`; throws 400 when malformed. */
export function parsePlatform(spec: string, local: Platform = localPlatform()): Platform {
  const parts = spec.trim().toLowerCase().split('/');
  if (parts.some((p) => !/^[a-z0-9_-]+$/.test(p)) || parts.length > 3)
    throw badRequest(`invalid platform "${spec}": expected os/arch[/variant]`);
  let os: string;
  let arch: string;
  let variant: string | undefined;
  if (parts.length === 1) {
    const only = parts[0]!;
    if (KNOWN_OS.has(only)) {
      os = only;
      arch = local.arch;
    } else {
      os = local.os;
      arch = only;
    }
  } else {
    [os = '', arch = '', variant] = parts;
  }
  if (os === 'macos') os = 'darwin';
  arch = ARCH_ALIASES[arch] ?? arch;
  // arm64's only variant is v8, its default; amd64's v1 is the baseline.
  if ((arch === 'arm64' && variant === 'v8') || (arch === 'amd64' && variant === 'v1')) variant = undefined;
  return variant ? { os, arch, variant } : { os, arch };
}

/** Whether a platform runs natively here (amd64 variants up to v3 are accepted on amd64). */
export function runsLocally(p: Platform, local: Platform = localPlatform()): boolean {
  if (p.os !== local.os || p.arch !== local.arch) return false;
  if (p.variant === undefined) return true;
  return p.arch === 'amd64' ? ['v2', 'v3'].includes(p.variant) : p.variant === local.variant;
}

/**
 * Checks the requested build platform and the `FROM --platform` of every stage the target needs.
 * Stages the build skips are not checked, as BuildKit would not resolve them either.
 */
export function checkBuildPlatforms(
  graph: StageGraph,
  file: string,
  requested?: string,
  local: Platform = localPlatform(),
): void {
  const here = formatPlatform(local);
  if (requested !== undefined && requested !== '') {
    const p = parsePlatform(requested, local);
    if (!runsLocally(p, local))
      throw badRequest(
        `platform ${formatPlatform(p)} is not supported: this builder runs natively on ${here} and cannot emulate other platforms`,
      );
  }
  for (const i of graph.order) {
    const rs = graph.all[i]!;
    if (rs.platform === undefined) continue;
    const line = rs.stage.from.location.startLine;
    let p: Platform;
    try {
      p = parsePlatform(rs.platform, local);
    } catch (err) {
      throw new DockerfileError(file, line, `FROM --platform=${rs.platform}: ${(err as Error).message}`);
    }
    if (!runsLocally(p, local))
      throw new DockerfileError(
        file,
        line,
        `FROM --platform=${rs.platform}: platform ${formatPlatform(p)} is not supported: this builder runs natively on ${here} and cannot emulate other platforms`,
      );
  }
}
