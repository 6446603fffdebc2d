// Dockerfile-style config changes for import and commit (`--change 'CMD ["sh"]'`): a minimal parser of
// the instructions Docker accepts there.
import { badRequest } from '../util/index.js';
import type { ContainerConfig } from './media.js';

const ALLOWED = [
  'CMD',
  'ENTRYPOINT',
  'ENV',
  'EXPOSE',
  'LABEL',
  'ONBUILD',
  'STOPSIGNAL',
  'USER',
  'VOLUME',
  'WORKDIR',
];

function jsonOrShell(rest: string): string[] {
  const t = rest.trim();
  if (t.startsWith('[')) {
    try {
      const v = JSON.parse(t) as unknown;
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
    } catch {}
  }
  return ['/bin/sh', '-c', t];
}

function unquote(s: string): string {
  if (s.length >= 2 && ((s.startsWith('"') && s.endsWith('"')) || (s.startsWith("'") && s.endsWith("'")))) {
    return s.slice(1, -1);
  }
  return s;
}

/** `k=v k2="v 2"` or the legacy `k v with spaces`. */
function keyValues(rest: string, instr: string): [string, string][] {
  const t = rest.trim();
  const firstSpace = t.search(/\s/);
  const firstEq = t.indexOf('=');
  if (firstEq < 0 || (firstSpace >= 0 && firstSpace < firstEq)) {
    if (firstSpace < 0) throw badRequest(`${instr} requires a value: "${instr} ${rest}"`);
    return [[t.slice(0, firstSpace), t.slice(firstSpace).trim()]];
  }
  const out: [string, string][] = [];
  const re = /("(?:[^"\\]|\\.)*"|[^\s=]+)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g;
  for (const m of t.matchAll(re)) out.push([unquote(m[1]!), unquote(m[2]!)]);
  return out;
}

/** Applies change lines to a copy of `base`. */
export function applyChanges(base: ContainerConfig, changes: readonly string[]): ContainerConfig {
  const cfg: ContainerConfig = structuredClone(base);
  for (const line of changes) {
    const trimmed = line.trim();
    if (!trimmed) continue;
    const sp = trimmed.search(/\s/);
    const instr = (sp < 0 ? trimmed : trimmed.slice(0, sp)).toUpperCase();
    const rest = sp < 0 ? '' : trimmed.slice(sp + 1);
    if (!ALLOWED.includes(instr)) throw badRequest(`${instr} is not a valid change command`);
    switch (instr) {
      case 'CMD':
        cfg.Cmd = jsonOrShell(rest);
        break;
      case 'ENTRYPOINT':
        cfg.Entrypoint = jsonOrShell(rest);
        break;
      case 'ENV': {
        const env = [...(cfg.Env ?? [])];
        for (const [k, v] of keyValues(rest, instr)) {
          const i = env.findIndex((e) => e.split('=')[0] === k);
          if (i >= 0) env[i] = `${k}=${v}`;
          else env.push(`${k}=${v}`);
        }
        cfg.Env = env;
        break;
      }
      case 'LABEL':
        cfg.Labels = { ...(cfg.Labels ?? {}) };
        for (const [k, v] of keyValues(rest, instr)) cfg.Labels[unquote(k)] = v;
        break;
      case 'EXPOSE':
        cfg.ExposedPorts = { ...(cfg.ExposedPorts ?? {}) };
        for (const p of rest.trim().split(/\s+/)) {
          if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/i.test(p)) throw badRequest(`invalid port in EXPOSE: "${p}"`);
          cfg.ExposedPorts[p.includes('/') ? p.toLowerCase() : `${p}/tcp`] = {};
        }
        break;
      case 'VOLUME': {
        cfg.Volumes = { ...(cfg.Volumes ?? {}) };
        const t = rest.trim();
        const vols = t.startsWith('[') ? (JSON.parse(t) as string[]) : t.split(/\s+/);
        for (const v of vols) cfg.Volumes[v] = {};
        break;
      }
      case 'USER':
        cfg.User = rest.trim();
        break;
      case 'WORKDIR':
        cfg.WorkingDir = rest.trim();
        break;
      case 'STOPSIGNAL':
        cfg.StopSignal = rest.trim();
        break;
      case 'ONBUILD':
        cfg.OnBuild = [...(cfg.OnBuild ?? []), rest.trim()];
        break;
    }
  }
  return cfg;
}
