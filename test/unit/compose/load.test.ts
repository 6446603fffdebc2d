// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Compose ${VAR} templates are the subject here.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  imageName,
  listImages,
  listProfiles,
  listServices,
  listVolumes,
  loadProject,
  toJson,
  toYaml,
} from '../../../src/compose/index.js';
import { tempDir } from '../../helpers/index.js';

function write(dir: string, files: Record<string, string>): void {
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), c);
  }
}

const env = { HOME: '/home/t' };

test('discovery prefers compose.yaml, warns about several names, and adds the override file', async () => {
  const t = tempDir('berth-compose-');
  try {
    write(t.path, {
      'compose.yaml': 'services: {a: {image: from-compose}}\n',
      'docker-compose.yml': 'services: {a: {image: from-docker-compose}}\n',
      'compose.override.yaml': 'services: {a: {labels: [o=1]}}\n',
      'docker-compose.override.yml': 'services: {a: {labels: [wrong=1]}}\n',
    });
    const { project, warnings } = await loadProject({ workingDir: t.path, environment: env });
    assert.equal(project.services.a?.image, 'from-compose');
    assert.deepEqual(project.services.a?.labels, { o: '1' });
    assert.deepEqual(project.composeFiles, [
      join(t.path, 'compose.yaml'),
      join(t.path, 'compose.override.yaml'),
    ]);
    assert.match(warnings[0] ?? '', /Found multiple config files with supported names/);
  } finally {
    t.cleanup();
  }
});

test('no compose file anywhere up the tree is an error', async () => {
  const t = tempDir('berth-compose-');
  try {
    await assert.rejects(loadProject({ workingDir: t.path, environment: env }), {
      status: 400,
      message: 'no configuration file provided: not found',
    });
  } finally {
    t.cleanup();
  }
});

test('--project-directory sets where paths, .env and the default name come from', async () => {
  const t = tempDir('berth-compose-');
  try {
    write(t.path, {
      'files/compose.yaml': 'services: {a: {image: "x:${TAG}", volumes: ["./d:/d"]}}\n',
      'proj/.env': 'TAG=fromproj\n',
    });
    const { project } = await loadProject({
      workingDir: t.path,
      files: ['files/compose.yaml'],
      projectDirectory: 'proj',
      environment: env,
    });
    assert.equal(project.name, 'proj');
    assert.equal(project.workingDir, join(t.path, 'proj'));
    assert.equal(project.services.a?.image, 'x:fromproj');
    assert.equal(project.services.a?.volumes?.[0]?.source, join(t.path, 'proj/d'));
    assert.equal(project.environment.TAG, 'fromproj');
  } finally {
    t.cleanup();
  }
});

test('COMPOSE_FILE and COMPOSE_PROJECT_NAME may come from .env; the process environment wins', async () => {
  const t = tempDir('berth-compose-');
  try {
    write(t.path, {
      '.env': 'COMPOSE_FILE=one.yaml:two.yaml\nCOMPOSE_PROJECT_NAME=dotenvname\nX=dot\n',
      'one.yaml': 'services: {a: {image: one}}\n',
      'two.yaml': 'services: {a: {environment: {X: "${X}"}}}\n',
    });
    const a = await loadProject({ workingDir: t.path, environment: env });
    assert.equal(a.project.name, 'dotenvname');
    assert.deepEqual(a.project.services.a?.environment, { X: 'dot' });
    const b = await loadProject({
      workingDir: t.path,
      environment: { ...env, X: 'proc', COMPOSE_PROJECT_NAME: 'procname' },
    });
    assert.equal(b.project.name, 'procname');
    assert.deepEqual(b.project.services.a?.environment, { X: 'proc' });
  } finally {
    t.cleanup();
  }
});

test('the default project name is the normalised directory name, and must not end up empty', async () => {
  const t = tempDir('berth-compose-');
  try {
    write(t.path, {
      'My App.V2/compose.yaml': 'services: {a: {image: x}}\n',
      '__/compose.yaml': 'services: {a: {image: x}}\n',
    });
    const { project } = await loadProject({ workingDir: join(t.path, 'My App.V2'), environment: env });
    assert.equal(project.name, 'myappv2');
    assert.equal(project.networks.default?.name, 'myappv2_default');
    await assert.rejects(
      loadProject({ workingDir: join(t.path, '__'), environment: env }),
      /project name must not be empty/,
    );
  } finally {
    t.cleanup();
  }
});

test('config output: JSON and YAML agree, lists for --services/--volumes/--profiles/--images', async () => {
  const t = tempDir('berth-compose-');
  try {
    write(t.path, {
      'compose.yaml': [
        'services:',
        '  web: {image: nginx, volumes: ["v1:/a"]}',
        '  built: {build: ., profiles: [dev]}',
        '  tool: {image: tool, profiles: [ops]}',
        'volumes: {v1: {}, v2: {external: true}}',
      ].join('\n'),
    });
    const { project } = await loadProject({ workingDir: t.path, environment: env, profiles: ['dev'] });
    assert.deepEqual(listServices(project), ['built', 'web']);
    assert.deepEqual(listVolumes(project), ['v1', 'v2']);
    assert.deepEqual(listProfiles(project), ['dev', 'ops']);
    assert.equal(imageName(project, 'built'), `${project.name}-built`);
    assert.deepEqual(listImages(project), [`${project.name}-built`, 'nginx']);
    const json = JSON.parse(toJson(project));
    assert.deepEqual(Object.keys(json), ['name', 'services', 'networks', 'volumes']);
    assert.equal(json.volumes.v2.name, 'v2');
    assert.equal(json.volumes.v1.name, `${project.name}_v1`);
    assert.ok(!('tool' in json.services));
    assert.ok(toYaml(project).startsWith(`name: ${project.name}\nservices:\n  built:\n`));
  } finally {
    t.cleanup();
  }
});

test('-f - reads the given content and resolves paths against the working directory', async () => {
  const t = tempDir('berth-compose-');
  try {
    const { project } = await loadProject({
      workingDir: t.path,
      files: ['-'],
      stdin: 'services: {a: {image: x, volumes: ["./v:/v"]}}\n',
      environment: env,
    });
    assert.equal(project.services.a?.volumes?.[0]?.source, join(t.path, 'v'));
    assert.deepEqual(project.composeFiles, ['-']);
    await assert.rejects(loadProject({ workingDir: t.path, files: ['-'], environment: env }), /no content/);
  } finally {
    t.cleanup();
  }
});

test('errors name the file and the path', async () => {
  const t = tempDir('berth-compose-');
  try {
    write(t.path, {
      'compose.yaml': 'services:\n  web:\n    image: x\n    ports: ["${P:?port please}:80"]\n',
    });
    await assert.rejects(loadProject({ workingDir: t.path, environment: env }), {
      status: 400,
      message: `${join(t.path, 'compose.yaml')}: error while interpolating services.web.ports[0]: required variable P is missing a value: port please`,
    });
    write(t.path, { 'compose.yaml': 'services:\n  web:\n    image: x\n    deploy: {replicas: many}\n' });
    await assert.rejects(
      loadProject({ workingDir: t.path, environment: env }),
      /services\.web\.deploy\.replicas must be an integer/,
    );
    write(t.path, { 'compose.yaml': '- just\n- a list\n' });
    await assert.rejects(
      loadProject({ workingDir: t.path, environment: env }),
      /top-level object must be a mapping/,
    );
    write(t.path, { 'compose.yaml': '' });
    await assert.rejects(loadProject({ workingDir: t.path, environment: env }), /empty compose file/);
  } finally {
    t.cleanup();
  }
});

test('an unknown service named explicitly is an error', async () => {
  const t = tempDir('berth-compose-');
  try {
    write(t.path, { 'compose.yaml': 'services: {a: {image: x}}\n' });
    await assert.rejects(
      loadProject({ workingDir: t.path, environment: env, services: ['nope'] }),
      /no such service: nope/,
    );
  } finally {
    t.cleanup();
  }
});
