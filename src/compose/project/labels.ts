// The labels docker compose v2 puts on what it creates; berth writes the same so either tool can manage a
// project the other started, and so containers are found by label, never by name.
export const LABEL = {
  project: 'com.docker.compose.project',
  service: 'com.docker.compose.service',
  number: 'com.docker.compose.container-number',
  oneoff: 'com.docker.compose.oneoff',
  configHash: 'com.docker.compose.config-hash',
  workingDir: 'com.docker.compose.project.working_dir',
  configFiles: 'com.docker.compose.project.config_files',
  version: 'com.docker.compose.version',
  image: 'com.docker.compose.image',
  dependsOn: 'com.docker.compose.depends_on',
  network: 'com.docker.compose.network',
  volume: 'com.docker.compose.volume',
  replace: 'com.docker.compose.replace',
} as const;

/** The compose version berth reports in labels and `berth compose version`. */
export const COMPOSE_VERSION = '2.29.0';

export function projectFilter(project: string, extra: string[] = []): { label: string[] } {
  return { label: [`${LABEL.project}=${project}`, ...extra] };
}
