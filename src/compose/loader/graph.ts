// Helpers the reconcile engine needs from the model: start order by depends_on, and a stable hash of a
// service's configuration (to tell whether a running container is out of date).
import { createHash } from 'node:crypto';
import { badRequest } from '../../util/index.js';
import type { Project, ServiceConfig } from './types.js';

/**
 * The services `svc` needs before it can be created: depends_on, plus what links, volumes_from and
 * network_mode: service: refer to (docker compose treats those as implicit service_started dependencies).
 */
export function serviceDependencies(svc: ServiceConfig): string[] {
  const deps = new Set(Object.keys(svc.depends_on ?? {}));
  for (const link of (svc.links as string[] | undefined) ?? []) deps.add(link.split(':')[0] as string);
  for (const vf of (svc.volumes_from as string[] | undefined) ?? [])
    if (!vf.startsWith('container:')) deps.add(vf.split(':')[0] as string);
  if (svc.network_mode?.startsWith('service:')) deps.add(svc.network_mode.slice(8));
  return [...deps].sort();
}

/**
 * Services in start order (every service after what it depends on), restricted to `only` and their
 * dependencies when given. Ties are broken by name so the order is stable. Reverse it to stop.
 */
export function dependencyOrder(project: Project, only?: string[]): string[] {
  const order: string[] = [];
  const done = new Set<string>();
  const visiting = new Set<string>();
  const visit = (name: string, from: string[]) => {
    if (done.has(name)) return;
    const svc = project.services[name];
    if (!svc) throw badRequest(`no such service: ${name}`);
    if (visiting.has(name)) throw badRequest(`dependency cycle detected: ${[...from, name].join(' -> ')}`);
    visiting.add(name);
    for (const dep of serviceDependencies(svc)) if (project.services[dep]) visit(dep, [...from, name]);
    visiting.delete(name);
    done.add(name);
    order.push(name);
  };
  for (const n of only ?? Object.keys(project.services).sort()) visit(n, []);
  return order;
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

/**
 * sha256 of the service's configuration, leaving out what does not change the container itself
 * (build section, scale/replicas, depends_on, profiles, pull policy) — as docker compose's config-hash.
 */
export function serviceHash(service: ServiceConfig): string {
  const { build: _b, scale: _s, depends_on: _d, profiles: _p, pull_policy: _pp, deploy, ...rest } = service;
  const copy: Record<string, unknown> = { ...rest };
  if (deploy) {
    const { replicas: _r, ...d } = deploy;
    if (Object.keys(d).length > 0) copy.deploy = d;
  }
  return createHash('sha256').update(canonicalJson(copy)).digest('hex');
}
