// Finding the compose files and naming the project, as docker compose does.
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { badRequest } from '../../util/index.js';

export const DEFAULT_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yml', 'docker-compose.yaml'];
const OVERRIDE_FILES: Record<string, string[]> = {
  'compose.yaml': ['compose.override.yaml', 'compose.override.yml'],
  'compose.yml': ['compose.override.yml', 'compose.override.yaml'],
  'docker-compose.yml': ['docker-compose.override.yml', 'docker-compose.override.yaml'],
  'docker-compose.yaml': ['docker-compose.override.yaml', 'docker-compose.override.yml'],
};

/**
 * The first directory from `start` upwards holding a default compose file: that file plus its
 * override file, if any. Warns when several default names exist side by side.
 */
export function discoverFiles(start: string, warn: (msg: string) => void): string[] {
  let dir = start;
  for (;;) {
    const found = DEFAULT_FILES.filter((f) => existsSync(join(dir, f)));
    if (found.length > 0) {
      const first = found[0] as string;
      if (found.length > 1)
        warn(
          `Found multiple config files with supported names: ${found.map((f) => join(dir, f)).join(', ')}\nUsing ${join(dir, first)}`,
        );
      const files = [join(dir, first)];
      const override = (OVERRIDE_FILES[first] ?? []).find((o) => existsSync(join(dir, o)));
      if (override) files.push(join(dir, override));
      return files;
    }
    const up = dirname(dir);
    if (up === dir) throw badRequest('no configuration file provided: not found');
    dir = up;
  }
}

const VALID_NAME = /^[a-z0-9][a-z0-9_-]*$/;

/** Checks a project name given explicitly (-p, COMPOSE_PROJECT_NAME, top-level `name`). */
export function checkProjectName(name: string): string {
  if (name === '') throw badRequest('project name must not be empty');
  if (!VALID_NAME.test(name))
    throw badRequest(
      `invalid project name ${JSON.stringify(name)}: must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number`,
    );
  return name;
}

/** The default project name from a directory: its base name lower-cased, other characters dropped. */
export function projectNameFromDir(dir: string): string {
  const n = basename(dir)
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '')
    .replace(/^[_-]+/, '');
  if (n === '')
    throw badRequest(
      `project name must not be empty (derived from directory ${JSON.stringify(dir)}); use -p`,
    );
  return n;
}
