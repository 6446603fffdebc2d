// berth's formatting against the real docker CLI: the docker CLI lists fixtures served by a test server, and
// our rows/templates/tabwriter must print the same text.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { type ApiServer, createApiServer, jsonStream, Router } from '../../../src/api/index.js';
import {
  containerRow,
  displayJsonMessages,
  formatRows,
  IMAGES_DIGESTS_TABLE,
  IMAGES_FORMAT,
  imageRows,
  NETWORKS_FORMAT,
  networkRow,
  PS_FORMAT,
  parseTemplate,
  VOLUMES_FORMAT,
  volumeRow,
} from '../../../src/cli/format/index.js';
import type { ContainerSummary, ImageSummary, Network, Volume } from '../../../src/client/index.js';
import { haveCommand, tempDir } from '../../helpers/index.js';

// Both sides render times in the local zone; pin it so zone names agree.
process.env.TZ = 'UTC';
const DOCKER = '/usr/local/bin/docker';
const skip = existsSync(DOCKER) ? false : 'docker 28 CLI not installed';
const dir = tempDir('berth-parity-');
const socketPath = join(dir.path, 'p.sock');
let server: ApiServer;

const now = Math.floor(Date.now() / 1000);
const ID1 = 'f00dcafe0123456789abcdef0123456789abcdef0123456789abcdef01234567';
const ID2 = 'beef0000aaaabbbbccccddddeeeeffff00001111222233334444555566667777';
const IMG = 'sha256:1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef';

const containers: ContainerSummary[] = [
  {
    Id: ID1,
    Names: ['/web', '/other/alias'],
    Image:
      'localhost:5000/team/web:1.2@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
    ImageID: IMG,
    Command: 'sh -c "while true; do echo hello; sleep 1; done"',
    Created: now - 3 * 3600 - 600,
    Ports: [
      { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
      { IP: '::', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
      { PrivatePort: 443, Type: 'tcp' },
      { PrivatePort: 444, Type: 'tcp' },
      { PrivatePort: 445, Type: 'tcp' },
      { PrivatePort: 53, Type: 'udp' },
      { IP: '127.0.0.1', PrivatePort: 9000, PublicPort: 9000, Type: 'tcp' },
      { IP: '127.0.0.1', PrivatePort: 9001, PublicPort: 9001, Type: 'tcp' },
    ],
    SizeRw: 12345,
    SizeRootFs: 4567890,
    Labels: { 'com.example.a': 'one' },
    State: 'running',
    Status: 'Up 3 hours (healthy)',
    HostConfig: { NetworkMode: 'bridge' },
    NetworkSettings: { Networks: { bridge: {} } },
    Mounts: [
      {
        Type: 'volume',
        Name: 'a-very-long-volume-name-here',
        Source: '/var/lib/x',
        Destination: '/data',
        Driver: 'local',
        Mode: '',
        RW: true,
        Propagation: '',
      },
      { Type: 'bind', Source: '/srv', Destination: '/srv', Mode: '', RW: true, Propagation: 'rprivate' },
    ],
  },
  {
    Id: ID2,
    Names: ['/db'],
    Image: IMG,
    ImageID: IMG,
    Command: 'postgres',
    Created: now - 40,
    Ports: [],
    Labels: {},
    State: 'exited',
    Status: 'Exited (0) 5 seconds ago',
    HostConfig: { NetworkMode: 'none' },
    NetworkSettings: { Networks: {} },
    Mounts: [],
  },
];

const images: ImageSummary[] = [
  {
    Id: IMG,
    ParentId: '',
    RepoTags: ['busybox:latest', 'busybox:1.36'],
    RepoDigests: ['busybox@sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'],
    Created: now - 86400 * 20,
    Size: 4_261_574,
    SharedSize: -1,
    Labels: {},
    Containers: -1,
  },
  {
    Id: 'sha256:7777777777777777777777777777777777777777777777777777777777777777',
    ParentId: '',
    RepoTags: ['localhost:5000/tools/bb:v1', 'localhost:5000/tools/bb:v2'],
    RepoDigests: [],
    Created: now - 90,
    Size: 123_456_789,
    SharedSize: -1,
    Labels: { 'x<y': 'a&b' },
    Containers: 2,
  },
  {
    Id: 'sha256:9999999999999999999999999999999999999999999999999999999999999999',
    ParentId: '',
    RepoTags: [],
    RepoDigests: [],
    Created: now - 3600 * 5,
    Size: 999,
    SharedSize: -1,
    Labels: {},
    Containers: -1,
  },
  {
    Id: 'sha256:8888888888888888888888888888888888888888888888888888888888888888',
    ParentId: '',
    RepoTags: [],
    RepoDigests: [
      'registry.example.com/only/digest@sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc',
    ],
    Created: now - 86400 * 400,
    Size: 1_500_000_000,
    SharedSize: -1,
    Labels: {},
    Containers: -1,
  },
];

const networks: Network[] = [
  {
    Name: 'bridge',
    Id: 'aaaabbbbccccddddeeeeffff0000111122223333444455556666777788889999',
    Created: '2026-01-02T03:04:05.123456789Z',
    Scope: 'local',
    Driver: 'bridge',
    EnableIPv6: false,
    Internal: false,
    Labels: { team: 'x' },
  },
  {
    Name: 'none',
    Id: '1111222233334444555566667777888899990000aaaabbbbccccddddeeeeffff',
    Created: '2026-01-02T03:04:05Z',
    Scope: 'local',
    Driver: 'null',
    EnableIPv6: true,
    Internal: true,
    Labels: {},
  },
];

const volumes: Volume[] = [
  {
    Name: 'data',
    Driver: 'local',
    Mountpoint: '/var/lib/berth/volumes/data/_data',
    Labels: { a: 'b' },
    Scope: 'local',
    Options: {},
  },
  {
    Name: 'f3a1c0ffee0000000000000000000000000000000000000000000000000000aa',
    Driver: 'local',
    Mountpoint: '/var/lib/berth/volumes/f3/_data',
    Labels: {},
    Scope: 'local',
    Options: {},
    UsageData: { Size: 123456, RefCount: 2 },
  },
];

const VERSION = {
  Platform: { Name: 'berth' },
  Components: [
    { Name: 'Engine', Version: '0.1.0', Details: { ApiVersion: '1.47', MinAPIVersion: '1.24', Os: 'linux' } },
    { Name: 'runc', Version: '1.1.5', Details: { GitCommit: 'abc' } },
  ],
  Version: '0.1.0',
  ApiVersion: '1.47',
  MinAPIVersion: '1.24',
  GitCommit: 'abcdef0',
  GoVersion: 'node20',
  Os: 'linux',
  Arch: 'amd64',
  KernelVersion: '6.1.0-test',
  BuildTime: '2026-01-01T00:00:00.000000000+00:00',
};

const PULL = [
  { status: 'Pulling from library/busybox', id: 'latest' },
  { status: 'Pulling fs layer', progressDetail: {}, id: 'aaa111' },
  { status: 'Pulling fs layer', progressDetail: {}, id: 'bbb222' },
  {
    status: 'Downloading',
    progressDetail: { current: 1500, total: 300000 },
    progress: '[>   ]  1.5kB/300kB',
    id: 'aaa111',
  },
  {
    status: 'Downloading',
    progressDetail: { current: 150000, total: 300000 },
    progress: '[==> ] 150kB/300kB',
    id: 'aaa111',
  },
  { status: 'Downloading', progressDetail: { current: 99, total: 1000 }, id: 'bbb222' },
  { status: 'Verifying Checksum', progressDetail: {}, id: 'aaa111' },
  { status: 'Download complete', progressDetail: {}, id: 'aaa111' },
  { status: 'Extracting', progressDetail: { current: 32768, total: 300000 }, id: 'aaa111' },
  { status: 'Pull complete', progressDetail: {}, id: 'aaa111' },
  { status: 'Download complete', progressDetail: {}, id: 'bbb222' },
  { status: 'Pull complete', progressDetail: {}, id: 'bbb222' },
  { status: 'Digest: sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd' },
  { status: 'Status: Downloaded newer image for busybox:latest' },
];

before(async () => {
  const router = new Router()
    .get('/containers/json', () => ({ json: containers }))
    .get('/images/json', () => ({ json: images }))
    .get('/networks', () => ({ json: networks }))
    .get('/volumes', () => ({ json: { Volumes: volumes, Warnings: [] } }))
    .get('/version', () => ({ json: VERSION }))
    .post('/images/create', async (req) => {
      const s = jsonStream(req);
      for (const m of PULL) s.write(m);
      s.end();
    });
  server = await createApiServer(router, { socketPath, onError: () => {} });
});

after(async () => {
  await server?.close();
  dir.cleanup();
});

function docker(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      DOCKER,
      args,
      { env: { ...process.env, DOCKER_HOST: `unix://${socketPath}`, DOCKER_CONFIG: dir.path, TZ: 'UTC' } },
      (err, stdout, stderr) => (err ? reject(new Error(`${args.join(' ')}: ${stderr}`)) : resolve(stdout)),
    );
  });
}

const psRows = (trunc = true) => containers.map((c) => containerRow(c, { trunc }));

/**
 * berth's rows and the docker CLI's output, both taken within one wall-clock second: a container created
 * 40 s ago reads "40 seconds ago" or "41 seconds ago" depending on the instant.
 */
async function psBoth(berth: () => string, args: string[]): Promise<[string, string]> {
  for (;;) {
    const second = Math.floor(Date.now() / 1000);
    const ours = berth();
    const theirs = await docker(args);
    if (Math.floor(Date.now() / 1000) === second) return [ours, theirs];
  }
}

test('docker ps (default table)', { skip }, async () => {
  const [ours, theirs] = await psBoth(() => formatRows(undefined, psRows(), PS_FORMAT), ['ps', '-a']);
  assert.equal(ours, theirs);
});

test('docker ps --no-trunc', { skip }, async () => {
  const [ours, theirs] = await psBoth(
    () => formatRows(undefined, psRows(false), PS_FORMAT),
    ['ps', '-a', '--no-trunc'],
  );
  assert.equal(ours, theirs);
});

test('docker ps with custom table columns', { skip }, async () => {
  const format =
    'table {{.ID}}\\t{{.Label "com.example.a"}}\\t{{.Labels}}\\t{{.Mounts}}\\t{{.LocalVolumes}}\\t{{.Networks}}\\t{{.Size}}\\t{{.State}}\\t{{.CreatedAt}}';
  const [ours, theirs] = await psBoth(
    () => formatRows(format, psRows(), PS_FORMAT),
    ['ps', '-a', '--format', format],
  );
  assert.equal(ours, theirs);
});

test('docker ps --format json and plain templates', { skip }, async () => {
  for (const format of [
    '{{json .}}',
    '{{.Names}}: {{.Status}} {{.Ports}}',
    '{{.ID}}\\t{{.Image}}',
    '{{upper .Names}} {{split .Labels ","}} {{len .Names}}',
  ]) {
    const [ours, theirs] = await psBoth(
      () => formatRows(format, psRows(), PS_FORMAT),
      ['ps', '-a', '--format', format],
    );
    assert.equal(ours, theirs, format);
  }
  const imgs = images.flatMap((i) => imageRows(i));
  assert.equal(formatRows('json', imgs, IMAGES_FORMAT), await docker(['images', '--format', 'json']));
  const nets = networks.map((n) => networkRow(n));
  assert.equal(
    formatRows('json', nets, NETWORKS_FORMAT),
    await docker(['network', 'ls', '--format', 'json']),
  );
  const vols = volumes.map((v) => volumeRow(v));
  assert.equal(
    formatRows('{{json .}}', vols, VOLUMES_FORMAT),
    await docker(['volume', 'ls', '--format', '{{json .}}']),
  );
  for (const format of ['table', 'table {{.Names}}\t{{json .Ports}}']) {
    const [ours, theirs] = await psBoth(
      () => formatRows(format, psRows(), PS_FORMAT),
      ['ps', '-a', '--format', format],
    );
    assert.equal(ours, theirs, format);
  }
});

test('docker images, with and without --digests', { skip }, async () => {
  const rows = (digests: boolean) => images.flatMap((i) => imageRows(i, { digests }));
  assert.equal(formatRows(undefined, rows(false), IMAGES_FORMAT), await docker(['images']));
  assert.equal(
    formatRows(IMAGES_DIGESTS_TABLE, rows(true), IMAGES_FORMAT),
    await docker(['images', '--digests']),
  );
  const f = 'table {{.ID}}\\t{{.Repository}}:{{.Tag}}\\t{{.CreatedAt}}\\t{{.Containers}}\\t{{.Size}}';
  assert.equal(formatRows(f, rows(false), IMAGES_FORMAT), await docker(['images', '--format', f]));
});

test('docker network ls and volume ls', { skip }, async () => {
  const nets = networks.map((n) => networkRow(n));
  assert.equal(formatRows(undefined, nets, NETWORKS_FORMAT), await docker(['network', 'ls']));
  const nf = 'table {{.Name}}\\t{{.IPv6}}\\t{{.Internal}}\\t{{.Labels}}\\t{{.Label "team"}}\\t{{.CreatedAt}}';
  assert.equal(formatRows(nf, nets, NETWORKS_FORMAT), await docker(['network', 'ls', '--format', nf]));
  const vols = volumes.map((v) => volumeRow(v));
  assert.equal(formatRows(undefined, vols, VOLUMES_FORMAT), await docker(['volume', 'ls']));
  const vf = 'table {{.Name}}\\t{{.Mountpoint}}\\t{{.Labels}}\\t{{.Scope}}';
  assert.equal(formatRows(vf, vols, VOLUMES_FORMAT), await docker(['volume', 'ls', '--format', vf]));
});

// Go's text/template, executed by the docker CLI over /version, against ours over the same data.
const TEMPLATES = [
  '{{.Server.Version}}',
  '{{range .Server.Components}}{{.Name}}={{.Version}};{{end}}',
  '{{range $i, $c := .Server.Components}}{{$i}}:{{$c.Name}} {{end}}',
  '{{range $k, $v := (index .Server.Components 0).Details}}{{$k}}={{$v}},{{end}}',
  '{{index (index .Server.Components 0).Details "ApiVersion"}}',
  '{{json .Server.Components}}',
  '{{(index .Server.Components 1).Details}}',
  '{{if eq .Server.Os "linux"}}penguin{{else}}other{{end}}',
  '{{if and .Server.Os (ne .Server.Arch "arm64")}}both{{end}}',
  '{{or "" .Server.Arch}} {{not .Server.Os}} {{len .Server.Components}} {{len .Server.Version}}',
  '{{printf "%s/%s %5.2f %-6s| %03d %q %v %x" .Server.Os .Server.Arch 3.14159 "ab" 7 "q\\"t" (index .Server.Components 0).Details 255}}',
  '{{print 1 2 "a" "b" 3}} {{println "x" 2}}',
  '{{upper .Server.Os}} {{lower "ABC"}} {{title "hello wide-world"}} {{split "a,b,c" ","}} {{join (split "a,b" ",") "+"}}',
  '{{pad .Server.Os 2 3}}|{{truncate .Server.GitCommit 3}}',
  '{{with .Server.Platform}}{{.Name}}{{end}} {{with .Server.Experimental}}x{{else}}none{{end}}',
  '{{- /* trimmed */ -}}  {{ .Server.Os -}}   !',
  '{{$v := .Server.Version}}{{range .Server.Components}}{{$v}}{{end}}',
  '{{range .Server.Components}}{{if eq .Name "runc"}}{{break}}{{end}}{{.Name}}{{end}}',
  '{{.Server.Components | len}} {{.Server.Os | printf "%s!"}} {{"x" | upper | printf "%s-%s" "y"}}',
  '{{lt 1 2}} {{le 2 2}} {{gt 1.5 2.5}} {{ge "b" "a"}} {{eq 1 2 1}}',
  '{{slice "abcdef" 1 3}} {{html "<a&b>"}} {{urlquery "a b&c"}}',
];

test('Go template semantics match the docker CLI', { skip }, async () => {
  const data = { Server: { ...VERSION, Experimental: false } };
  for (const t of TEMPLATES) {
    const expected = await docker(['version', '--format', t]);
    assert.equal(`${parseTemplate(t).execute(data)}\n`, expected, t);
  }
});

test('template errors read like the docker CLI', { skip }, async () => {
  for (const t of ['{{foo .}}', '{{.Server.Os', '{{if .Server.Os}}x', '{{end}}', '{{$x}}', '{{"abc}}']) {
    const real = await docker(['version', '--format', t]).then(
      () => '',
      (e: Error) => e.message,
    );
    let ours = '';
    try {
      parseTemplate(t);
    } catch (err) {
      ours = (err as Error).message;
    }
    assert.ok(ours, `${t} should fail`);
    // docker names this template "version"; list commands leave it unnamed, as we do
    assert.ok(
      real.includes(ours.replace('template: :', 'template: version:')),
      `${t}: docker said ${real}, we said ${ours}`,
    );
  }
});

async function render(terminal: boolean, width?: number): Promise<string> {
  const chunks: string[] = [];
  const sink = new Writable({
    write(c, _e, cb) {
      chunks.push(c.toString());
      cb();
    },
  });
  await displayJsonMessages(
    (async function* () {
      yield* PULL;
    })(),
    sink,
    { terminal, width },
  );
  return chunks.join('');
}

test('pull progress on a pipe matches docker pull', { skip }, async () => {
  const real = await docker(['pull', 'busybox']);
  // docker's pull command adds a line before the stream and the pulled reference after it
  assert.equal(`Using default tag: latest\n${await render(false)}docker.io/library/busybox:latest\n`, real);
});

test('pull progress on a terminal matches docker pull', {
  skip: skip || !haveCommand('script'),
}, async () => {
  // `script` gives docker a pseudo-terminal of 0 columns (no bar, no time left)
  const real = await new Promise<string>((resolve, reject) =>
    execFile(
      'script',
      ['-qec', `${DOCKER} pull busybox`, '/dev/null'],
      { env: { ...process.env, DOCKER_HOST: `unix://${socketPath}`, DOCKER_CONFIG: dir.path, TZ: 'UTC' } },
      (err, stdout) => (err ? reject(err) : resolve(stdout)),
    ),
  );
  const ours = `Using default tag: latest\n${await render(true, 0)}docker.io/library/busybox:latest\n`;
  // the pty turns \n into \r\n
  assert.equal(JSON.stringify(ours.replace(/\n/g, '\r\n')), JSON.stringify(real));
});
