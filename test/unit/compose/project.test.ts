// The service → create body conversion and its helpers (no daemon needed).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  bytes,
  containerName,
  createPlan,
  dependencyOrder,
  durationNs,
  LABEL,
  loadProject,
  type Project,
  replicas,
  serviceDependencies,
  serviceHash,
  splitRef,
} from '../../../src/compose/index.js';
import { tempDir } from '../../helpers/index.js';

async function project(yaml: string, env: Record<string, string> = {}): Promise<Project> {
  const t = tempDir('berth-compose-unit-');
  try {
    writeFileSync(join(t.path, 'compose.yaml'), yaml);
    writeFileSync(join(t.path, 'secret.txt'), 's3cret');
    return (await loadProject({ workingDir: t.path, projectName: 'demo', environment: env })).project;
  } finally {
    t.cleanup();
  }
}

test('a full service becomes the create body docker compose would send', async () => {
  const p = await project(`
services:
  web:
    image: busybox
    command: sh -c 'echo "a b"'
    entrypoint: ["/bin/sh", "-e"]
    environment: { A: "1", B: "two" }
    ports: ["127.0.0.1:8080:80", "9000/udp"]
    expose: ["7000"]
    volumes:
      - data:/data
      - ./site:/site:ro
      - type: tmpfs
        target: /scratch
        tmpfs: { size: 1m }
    networks:
      front: { aliases: [www], ipv4_address: 172.30.0.5 }
      back: {}
    healthcheck: { test: "wget -q localhost", interval: 1m30s, timeout: 500ms, retries: 3 }
    restart: on-failure:2
    user: "1000:1000"
    working_dir: /w
    labels: { team: a }
    deploy: { resources: { limits: { memory: 64m, cpus: "0.5", pids: 100 } } }
    hostname: h
    init: true
    read_only: true
    cap_add: [NET_ADMIN]
    cap_drop: [ALL]
    ulimits: { nofile: { soft: 1024, hard: 2048 }, nproc: 512 }
    tmpfs: [/run:size=1m]
    stop_signal: SIGINT
    stop_grace_period: 1m
    extra_hosts: ["db:10.0.0.9"]
    dns: [1.1.1.1]
    secrets: [token]
    configs: [{ source: conf, target: /etc/app.conf }]
networks:
  front: { ipam: { config: [{ subnet: 172.30.0.0/24 }] } }
  back: {}
volumes:
  data: {}
secrets:
  token: { file: ./secret.txt }
configs:
  conf: { file: ./secret.txt }
`);
  const svc = p.services.web!;
  const { body, extraNetworks } = createPlan(p, svc, { number: 1, name: 'demo-web-1' });
  assert.deepEqual(body.Cmd, ['sh', '-c', 'echo "a b"']);
  assert.deepEqual(body.Entrypoint, ['/bin/sh', '-e']);
  assert.deepEqual(body.Env, ['A=1', 'B=two']);
  assert.deepEqual(Object.keys(body.ExposedPorts ?? {}).sort(), ['7000/tcp', '80/tcp', '9000/udp']);
  const h = body.HostConfig!;
  assert.deepEqual(h.PortBindings?.['80/tcp'], [{ HostIp: '127.0.0.1', HostPort: '8080' }]);
  assert.deepEqual(h.PortBindings?.['9000/udp'], [{ HostIp: '', HostPort: '' }]);
  assert.deepEqual(h.Mounts?.[0], { Type: 'volume', Source: 'demo_data', Target: '/data', ReadOnly: false });
  assert.equal(h.Mounts?.[1]?.Type, 'tmpfs');
  assert.equal(h.Mounts?.[1]?.TmpfsOptions?.SizeBytes, 1024 * 1024);
  assert.match(h.Binds?.[0] ?? '', /\/site:\/site:ro$/);
  assert.ok(h.Binds?.some((b) => b.endsWith('secret.txt:/run/secrets/token:ro')));
  assert.ok(h.Binds?.some((b) => b.endsWith('secret.txt:/etc/app.conf:ro')));
  // Networks: the first (by name, equal priority) in the body, the rest connected after create.
  assert.equal(h.NetworkMode, 'demo_back');
  assert.deepEqual(body.NetworkingConfig?.EndpointsConfig?.demo_back, { Aliases: ['web'] });
  assert.deepEqual(extraNetworks, [
    {
      name: 'demo_front',
      endpoint: {
        Aliases: ['web', 'www'],
        IPAMConfig: { IPv4Address: '172.30.0.5', IPv6Address: undefined },
      },
    },
  ]);
  assert.deepEqual(body.Healthcheck, {
    Test: ['CMD-SHELL', 'wget -q localhost'],
    Interval: 90e9,
    Timeout: 500e6,
    Retries: 3,
  });
  assert.deepEqual(h.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 2 });
  assert.equal(body.User, '1000:1000');
  assert.equal(body.WorkingDir, '/w');
  assert.equal(h.Memory, 64 * 1024 * 1024);
  assert.equal(h.NanoCpus, 5e8);
  assert.equal(h.PidsLimit, 100);
  assert.equal(body.Hostname, 'h');
  assert.equal(h.Init, true);
  assert.equal(h.ReadonlyRootfs, true);
  assert.deepEqual(h.CapAdd, ['NET_ADMIN']);
  assert.deepEqual(h.CapDrop, ['ALL']);
  assert.deepEqual(h.Ulimits, [
    { Name: 'nofile', Soft: 1024, Hard: 2048 },
    { Name: 'nproc', Soft: 512, Hard: 512 },
  ]);
  assert.deepEqual(h.Tmpfs, { '/run': 'size=1m' });
  assert.equal(body.StopSignal, 'SIGINT');
  assert.equal(body.StopTimeout, 60);
  assert.deepEqual(h.ExtraHosts, ['db:10.0.0.9']);
  assert.deepEqual(h.Dns, ['1.1.1.1']);
  const labels = body.Labels ?? {};
  assert.equal(labels.team, 'a');
  assert.equal(labels[LABEL.project], 'demo');
  assert.equal(labels[LABEL.service], 'web');
  assert.equal(labels[LABEL.number], '1');
  assert.equal(labels[LABEL.oneoff], 'False');
  assert.equal(labels[LABEL.configHash], serviceHash(svc));
  assert.equal(labels[LABEL.image], 'busybox');
});

test('names, replicas, network_mode and one-off overrides', async () => {
  const p = await project(`
services:
  db: { image: busybox, deploy: { replicas: 3 } }
  side: { image: busybox, network_mode: "service:db", depends_on: [db] }
  fixed: { image: busybox, container_name: my-fixed, scale: 1, ports: ["80"] }
  built: { build: . }
`);
  assert.equal(containerName(p, p.services.db!, 2), 'demo-db-2');
  assert.equal(containerName(p, p.services.fixed!, 1), 'my-fixed');
  assert.equal(replicas(p.services.db!), 3);
  assert.equal(createPlan(p, p.services.built!, { number: 1, name: 'x' }).body.Image, 'demo-built');
  const side = createPlan(p, p.services.side!, { number: 1, name: 'x', serviceContainer: () => 'abc' });
  assert.equal(side.body.HostConfig?.NetworkMode, 'container:abc');
  assert.equal(side.body.NetworkingConfig, undefined);
  assert.equal(side.body.Labels?.[LABEL.dependsOn], 'db:service_started:false');
  assert.throws(
    () => createPlan(p, p.services.side!, { number: 1, name: 'x', serviceContainer: () => undefined }),
    /network_mode service:db: no container for service db/,
  );
  const run = createPlan(p, p.services.fixed!, {
    number: 1,
    name: 'r',
    oneoff: true,
    command: ['echo', 'hi'],
    environment: { X: '1' },
    publishPorts: false,
  });
  assert.deepEqual(run.body.Cmd, ['echo', 'hi']);
  assert.deepEqual(run.body.Env, ['X=1']);
  assert.equal(run.body.HostConfig?.PortBindings, undefined);
  assert.equal(run.body.Labels?.[LABEL.oneoff], 'True');
});

test('the config hash ignores scale and depends_on but not the environment', async () => {
  const a = await project('services:\n  s: { image: busybox, environment: [X=1], scale: 1 }\n');
  const b = await project('services:\n  s: { image: busybox, environment: [X=1], scale: 4 }\n');
  const c = await project('services:\n  s: { image: busybox, environment: [X=2] }\n');
  assert.equal(serviceHash(a.services.s!), serviceHash(b.services.s!));
  assert.notEqual(serviceHash(a.services.s!), serviceHash(c.services.s!));
});

test('bad values name the field', async () => {
  assert.throws(
    () => durationNs('ten seconds', 'services.a.healthcheck.interval'),
    /services\.a\.healthcheck\.interval: invalid duration/,
  );
  assert.throws(() => durationNs('', 'x'), /invalid duration/);
  assert.equal(durationNs('1h2m3s', 'x'), 3723e9);
  assert.equal(durationNs('2', 'x'), 2e9);
  assert.throws(
    () => bytes('lots', 'services.a.deploy.resources.limits.memory'),
    /limits\.memory: invalid size "lots"/,
  );
  assert.equal(bytes('1g', 'x'), 1024 ** 3);
  assert.equal(bytes('512', 'x'), 512);
  const p = await project(
    'services:\n  a: { image: busybox, restart: sometimes, healthcheck: { test: [CMD, x], interval: soon } }\n',
  ).catch((e: Error) => e);
  if (p instanceof Error) assert.match(p.message, /restart|interval/);
  else {
    assert.throws(
      () => createPlan(p, p.services.a!, { number: 1, name: 'a' }),
      /invalid (restart policy|duration)/,
    );
  }
});

test('splitRef keeps registry ports out of the tag', () => {
  assert.deepEqual(splitRef('busybox'), ['busybox', 'latest']);
  assert.deepEqual(splitRef('localhost:5000/app:1.2'), ['localhost:5000/app', '1.2']);
  assert.deepEqual(splitRef('localhost:5000/app'), ['localhost:5000/app', 'latest']);
  assert.deepEqual(splitRef('app@sha256:abc'), ['app', 'sha256:abc']);
});

test('examples/three-tier loads, with its .env, and converts', async () => {
  const dir = join(import.meta.dirname, '../../../examples/three-tier');
  const { project: p } = await loadProject({ workingDir: dir, environment: {} });
  assert.equal(p.name, 'three-tier');
  assert.deepEqual(Object.keys(p.services).sort(), ['app', 'db', 'proxy']);
  const db = createPlan(p, p.services.db!, { number: 1, name: 'three-tier-db-1' }).body;
  assert.ok(db.Env?.includes('MYSQL_DATABASE=visits'));
  assert.equal(db.HostConfig?.Mounts?.[0]?.Source, 'three-tier_dbdata');
  assert.equal(db.Image, 'three-tier-db');
  const missing = await loadProject({ workingDir: dir, envFiles: ['/dev/null'], environment: {} }).catch(
    (e: Error) => e,
  );
  assert.ok(missing instanceof Error);
  assert.match(missing.message, /MYSQL_(DATABASE|USER|PASSWORD|ROOT_PASSWORD)/);
});

test('volumes_from and links name the first container of a service; both order creation', async () => {
  const p = await project(`
services:
  data: { image: busybox, volumes: [/shared] }
  db: { image: busybox }
  app:
    image: busybox
    volumes_from: ["data:ro", "container:legacy"]
    links: ["db:database", "data"]
    networks: [a, b]
networks: { a: {}, b: {} }
`);
  const { body, extraNetworks } = createPlan(p, p.services.app!, { number: 1, name: 'demo-app-1' });
  assert.deepEqual(body.HostConfig?.VolumesFrom, ['demo-data-1:ro', 'legacy']);
  assert.deepEqual(body.HostConfig?.Links, ['demo-db-1:database', 'demo-data-1:data']);
  // Per-network links: the daemon makes the aliases visible to this container only.
  assert.deepEqual(body.NetworkingConfig?.EndpointsConfig?.demo_a?.Links, body.HostConfig?.Links);
  assert.deepEqual(extraNetworks[0]?.endpoint.Links, body.HostConfig?.Links);
  assert.deepEqual(serviceDependencies(p.services.app!), ['data', 'db']);
  assert.deepEqual(dependencyOrder(p), ['data', 'db', 'app']);
});

test('links and volumes_from to undefined services, and cycles through them, are refused', async () => {
  await assert.rejects(
    project('services:\n  a: { image: busybox, links: [nope] }\n'),
    /links to undefined service "nope"/,
  );
  await assert.rejects(
    project('services:\n  a: { image: busybox, volumes_from: [nope] }\n'),
    /undefined service nope in volumes_from/,
  );
  const p = await project(
    'services:\n  a: { image: busybox, links: [b] }\n  b: { image: busybox, volumes_from: [a] }\n',
  );
  assert.throws(() => dependencyOrder(p), /dependency cycle detected: a -> b -> a/);
});

test('a recreate keeps inherited anonymous volumes unless the service mounts something there', async () => {
  const p = await project(`
services:
  db: { image: busybox, volumes: ["data:/var/lib/db"] }
volumes: { data: {} }
`);
  const inherit = [
    { Type: 'volume' as const, Source: 'anon1', Target: '/var/lib/db' },
    { Type: 'volume' as const, Source: 'anon2', Target: '/cache' },
  ];
  const { body } = createPlan(p, p.services.db!, { number: 1, name: 'x_demo-db-1', inherit });
  assert.deepEqual(
    body.HostConfig?.Mounts?.map((m) => [m.Target, m.Source]),
    [
      ['/var/lib/db', 'demo_data'],
      ['/cache', 'anon2'],
    ],
  );
});
