// Linux capabilities: Docker's default set and the --cap-add / --cap-drop rules.
import { readFileSync } from 'node:fs';
import { badRequest } from '../util/index.js';

/** Every capability by number (linux/capability.h). */
export const ALL_CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
] as const;

/** Docker's default capability set (moby oci/caps/defaults.go). */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** The capabilities this kernel knows (up to /proc/sys/kernel/cap_last_cap). */
export function kernelCapabilities(): string[] {
  try {
    const last = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
    if (Number.isInteger(last)) return ALL_CAPABILITIES.slice(0, last + 1);
  } catch {
    // not Linux or /proc missing: assume the full list
  }
  return [...ALL_CAPABILITIES];
}

/** "net_admin", "NET_ADMIN", "CAP_NET_ADMIN" → "CAP_NET_ADMIN"; "all" → "ALL". Throws 400 on unknown names. */
export function normalizeCapability(name: string): string {
  const upper = name.trim().toUpperCase();
  if (upper === 'ALL') return 'ALL';
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!(ALL_CAPABILITIES as readonly string[]).includes(full)) {
    throw badRequest(`invalid capability "${name}": unknown capability`);
  }
  return full;
}

/**
 * Docker's TweakCapabilities: start from the defaults (or everything when privileged), then apply
 * adds and drops. "ALL" in drop empties the base; "ALL" in add takes everything; an explicit add
 * wins over a drop of ALL, and an explicit drop wins over an add of ALL.
 */
export function computeCapabilities(
  capAdd: readonly string[] = [],
  capDrop: readonly string[] = [],
  privileged = false,
): string[] {
  const known = kernelCapabilities();
  if (privileged) return known;
  const add = capAdd.map(normalizeCapability);
  const drop = capDrop.map(normalizeCapability);
  let base: string[];
  if (add.includes('ALL')) base = [...known];
  else if (drop.includes('ALL')) base = [];
  else base = [...DEFAULT_CAPABILITIES];
  const result = new Set(base);
  for (const c of drop) if (c !== 'ALL') result.delete(c);
  for (const c of add) if (c !== 'ALL') result.add(c);
  // keep kernel order for a stable spec
  return known.filter((c) => result.has(c));
}
