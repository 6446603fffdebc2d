// Semantic checks on the loaded project: references to services, networks, volumes, secrets and configs
// must resolve, depends_on must not loop, container_name must stay unique.
import { badRequest } from '../../util/index.js';
import type { Project } from './types.js';

const invalid = (msg: string) => badRequest(`${msg}: invalid compose project`);

export function validateProject(p: Project): void {
  const names = new Set(Object.keys(p.services));
  for (const [name, s] of Object.entries(p.services)) {
    if (s.image === undefined && s.build === undefined)
      throw invalid(`service ${JSON.stringify(name)} has neither an image nor a build context specified`);
    for (const dep of Object.keys(s.depends_on ?? {}))
      if (!names.has(dep))
        throw invalid(`service ${JSON.stringify(name)} depends on undefined service ${JSON.stringify(dep)}`);
    for (const link of (s.links as string[] | undefined) ?? []) {
      const target = link.split(':')[0] as string;
      if (!names.has(target))
        throw invalid(`service ${JSON.stringify(name)} links to undefined service ${JSON.stringify(target)}`);
    }
    for (const net of Object.keys(s.networks ?? {}))
      if (!(net in p.networks))
        throw invalid(`service ${JSON.stringify(name)} refers to undefined network ${net}`);
    for (const v of s.volumes ?? [])
      if (v.type === 'volume' && v.source && !(v.source in p.volumes))
        throw invalid(`service ${JSON.stringify(name)} refers to undefined volume ${v.source}`);
    for (const kind of ['secrets', 'configs'] as const)
      for (const ref of s[kind] ?? [])
        if (!(ref.source in p[kind]))
          throw invalid(
            `service ${JSON.stringify(name)} refers to undefined ${kind.slice(0, -1)} ${ref.source}`,
          );
    const mode = s.network_mode;
    if (typeof mode === 'string' && mode.startsWith('service:') && !names.has(mode.slice(8)))
      throw invalid(
        `service ${JSON.stringify(name)} refers to undefined service ${mode.slice(8)} in network_mode`,
      );
    for (const vf of (s.volumes_from as string[] | undefined) ?? []) {
      if (vf.startsWith('container:')) continue;
      const target = vf.split(':')[0] as string;
      if (!names.has(target))
        throw invalid(
          `service ${JSON.stringify(name)} refers to undefined service ${target} in volumes_from`,
        );
    }
    if (s.container_name !== undefined) {
      const replicas = s.deploy?.replicas ?? s.scale;
      if (typeof replicas === 'number' && replicas > 1)
        throw invalid(
          `services.${name}: can't set container_name and ${s.deploy?.replicas !== undefined ? 'deploy.replicas' : 'scale'} as container name must be unique`,
        );
    }
  }
  const seenNames = new Map<string, string>();
  for (const [name, s] of Object.entries(p.services)) {
    if (s.container_name === undefined) continue;
    const other = seenNames.get(s.container_name);
    if (other)
      throw invalid(
        `services.${name}: container name ${JSON.stringify(s.container_name)} is already in use by service ${other}`,
      );
    seenNames.set(s.container_name, name);
  }
  checkCycles(p);
}

function checkCycles(p: Project): void {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string) => {
    if (state.get(n) === 'done') return;
    if (state.get(n) === 'visiting') {
      const cycle = [...stack.slice(stack.indexOf(n)), n];
      throw badRequest(`dependency cycle detected: ${cycle.join(' -> ')}`);
    }
    state.set(n, 'visiting');
    stack.push(n);
    for (const dep of Object.keys(p.services[n]?.depends_on ?? {})) visit(dep);
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of Object.keys(p.services).sort()) visit(n);
}
