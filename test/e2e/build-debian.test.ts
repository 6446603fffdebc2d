// [NETWORK, SLOW] The "done when" case: a multi-stage build from the Debian test image that
// installs a Python web stack (Flask from Debian's packages: PyPI is not reachable) with apt-get in a
// builder stage and copies only what runs into the final stage; built by `berth build`, by the real
// `docker build` (docker 28 CLI, legacy builder API) and by docker-compose 1.29 (docker-py, legacy API)
// against one berth daemon, then run with a published port and asked for a page. apt's lists and archives
// live in `RUN --mount=type=cache` so the later builds do not download again. Needs deb.debian.org;
// skipped when the mirror does not answer or BERTH_SKIP_NETWORK_TESTS is set. The Debian image is cached
// under /var/tmp/berth-test-cache.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestDaemon } from '../helpers/daemon.js';
import { debianImageTar } from '../helpers/debian-image.js';
import { berthArgv, haveCommand, isRoot, tempDir } from '../helpers/index.js';
import { cacheUse, DOCKER, daemonWithBusybox, runTool, writeContext } from '../integration/build/helpers.js';

const COMPOSE = '/usr/bin/docker-compose';

function mirrorAnswers(): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      'http://deb.debian.org/debian/dists/bookworm/Release',
      { method: 'HEAD', timeout: 5000 },
      (res) => {
        res.resume();
        resolve((res.statusCode ?? 500) < 400);
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

const skip = !isRoot()
  ? 'needs root'
  : process.env.BERTH_SKIP_NETWORK_TESTS
    ? 'BERTH_SKIP_NETWORK_TESTS is set'
    : !haveCommand('runc') || !haveCommand('conmon') || !existsSync(DOCKER) || !existsSync('/bin/busybox')
      ? 'needs runc, conmon, the docker CLI and busybox-static'
      : !existsSync(COMPOSE)
        ? 'needs docker-compose 1.29 (/usr/bin/docker-compose)'
        : !(await mirrorAnswers())
          ? 'deb.debian.org does not answer (network test)'
          : undefined;

// apt keeps what it downloads: Debian's docker-clean hook (when the image has one) would empty the cache.
const APT_CACHE =
  '--mount=type=cache,id=bt-apt-lists,target=/var/lib/apt/lists,sharing=locked \\\n' +
  '    --mount=type=cache,id=bt-apt-archives,target=/var/cache/apt/archives,sharing=locked';

const DOCKERFILE = `# A Python web stack from Debian packages; only the interpreter and the app's modules ship.
FROM debian:bookworm AS runtime
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8
RUN ${APT_CACHE} \\
    rm -f /etc/apt/apt.conf.d/docker-clean && \\
    apt-get update && apt-get install -y --no-install-recommends python3

FROM runtime AS builder
RUN ${APT_CACHE} \\
    apt-get update && apt-get install -y --no-install-recommends python3-flask
COPY app/ /src/app/
COPY tools/ /src/tools/
# Only the modules the app imports (and theirs) go to /opt/site; the apt packages stay behind.
RUN mkdir -p /opt/site && cp /src/app/*.py /opt/site/ \\
 && python3 /src/tools/collect.py /opt/site \\
 && python3 -m compileall -q /opt/site

FROM runtime
COPY --from=builder /opt/site /opt/site
ENV PYTHONPATH=/opt/site
WORKDIR /opt/site
# The final stage has no python3-flask package: the copied modules must be enough.
RUN python3 -c 'import web; print("flask", web.flask_version())' && ! dpkg -s python3-flask >/dev/null 2>&1
USER nobody
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/')"]
CMD ["python3", "/opt/site/web.py"]
`;

/** The app; `by` tells the builds apart in the page it serves. */
const app = (by: string) => `import importlib.metadata
import platform

from flask import Flask

app = Flask(__name__)


def flask_version():
    try:
        return importlib.metadata.version("flask")
    except importlib.metadata.PackageNotFoundError:
        import flask
        return getattr(flask, "__version__", "unknown")


@app.route("/")
def index():
    return "hello from a ${by}-built Flask on Python %s\\n" % platform.python_version()


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=8000)
`;

// Copies the top-level dist-packages modules the app loads (Flask and what Flask imports).
const COLLECT = `import os
import shutil
import sys

sys.path.insert(0, "/src/app")
import web  # noqa: E402,F401  (imported to see what it loads)

dest = sys.argv[1]
roots = set()
for mod in list(sys.modules.values()):
    path = getattr(mod, "__file__", None) or ""
    if "/dist-packages/" in path:
        roots.add(path.split("/dist-packages/", 1)[1].split("/", 1)[0])
for root in sorted(roots):
    src = os.path.join("/usr/lib/python3/dist-packages", root)
    if os.path.isdir(src):
        shutil.copytree(src, os.path.join(dest, root))
    else:
        shutil.copy2(src, dest)
    print("kept", root)
`;

const COMPOSE_FILE = `version: "3.8"
services:
  web:
    build:
      context: .
    image: bt-pyweb:compose
`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

describe('[network, slow] a multi-stage Python web stack from Debian, built three ways', { skip }, () => {
  let d: TestDaemon;
  const tmp = tempDir('berth-build-debian-');
  const ctx = join(tmp.path, 'ctx');
  const ctxDocker = join(tmp.path, 'ctx-docker');
  const docker = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
    runTool(DOCKER, args, { ...d.env, ...extra });

  before(async () => {
    d = await daemonWithBusybox();
    const load = await runTool(DOCKER, ['load', '-i', await debianImageTar()], d.env);
    assert.equal(load.status, 0, load.stderr);
    const files = (by: string) => ({
      Dockerfile: DOCKERFILE,
      'app/web.py': app(by),
      'tools/collect.py': COLLECT,
      'docker-compose.yml': COMPOSE_FILE,
      '.dockerignore': 'docker-compose.yml\n',
    });
    writeContext(ctx, files('berth'));
    // docker build gets an edited app: the apt-get steps come from the cache, the rest runs again.
    writeContext(ctxDocker, files('docker'));
  });
  after(async () => {
    await d?.stop();
    tmp.cleanup();
  });

  test('berth build: apt-get in the builder, only the runtime bits in the final stage', async () => {
    const r = await runTool(process.execPath, [...berthArgv(), 'build', '-t', 'bt-pyweb:berth', ctx], d.env);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /Setting up python3 /);
    assert.match(r.stdout, /Setting up python3-flask /);
    assert.match(r.stdout, /kept flask\n/);
    assert.match(r.stdout, /kept werkzeug\n/);
    assert.match(r.stdout, /flask \d+\.\d+/);
    const inspect = await docker(['image', 'inspect', 'bt-pyweb:berth']);
    assert.equal(inspect.status, 0, inspect.stderr);
    const [img] = JSON.parse(inspect.stdout) as {
      Config: { Cmd: string[]; User: string; ExposedPorts: Record<string, object>; Env: string[] };
    }[];
    assert.deepEqual(img!.Config.Cmd, ['python3', '/opt/site/web.py']);
    assert.equal(img!.Config.User, 'nobody');
    assert.deepEqual(Object.keys(img!.Config.ExposedPorts), ['8000/tcp']);
    assert.ok(img!.Config.Env.includes('PYTHONPATH=/opt/site'));
    // The builder's Debian packages did not come along.
    const pkgs = await docker([
      'run',
      '--rm',
      'bt-pyweb:berth',
      'sh',
      '-c',
      'dpkg -l | grep -c flask || true',
    ]);
    assert.equal(pkgs.stdout.trim(), '0', pkgs.stderr);
  });

  test('the real docker build (legacy builder) builds it, apt-get steps from the cache', async () => {
    const r = await docker(['build', '-t', 'bt-pyweb:docker', ctxDocker], { DOCKER_BUILDKIT: '0' });
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /Successfully tagged bt-pyweb:docker\n/);
    const steps = cacheUse(r.stdout).filter((s) => s.step.startsWith('RUN'));
    assert.equal(steps.length, 4, r.stdout);
    // Same daemon: the apt-get RUNs are cache hits; the app changed, so the steps after its COPY ran.
    assert.deepEqual(
      steps.map((s) => [/apt-get/.test(s.step), s.cached]),
      [
        [true, true],
        [true, true],
        [false, false],
        [false, false],
      ],
      r.stdout,
    );
    assert.match(r.stdout, /kept flask\n/);
  });

  test('docker-compose 1.29 builds the same Dockerfile through the legacy API', async () => {
    const r = await runTool(
      COMPOSE,
      ['-p', 'btpyweb', 'build'],
      {
        ...d.env,
        COMPOSE_DOCKER_CLI_BUILD: '0',
        DOCKER_BUILDKIT: '0',
      },
      { cwd: ctx },
    );
    assert.equal(r.status, 0, r.stderr + r.stdout);
    const inspect = await docker([
      'image',
      'inspect',
      '--format',
      '{{json .Config.Cmd}}',
      'bt-pyweb:compose',
    ]);
    assert.equal(inspect.status, 0, inspect.stderr);
    assert.equal(inspect.stdout.trim(), '["python3","/opt/site/web.py"]');
    // The same Dockerfile and context as berth build's: every step from the cache, the same image.
    const ids = await docker([
      'image',
      'inspect',
      '--format',
      '{{.Id}}',
      'bt-pyweb:compose',
      'bt-pyweb:berth',
    ]);
    const [compose, berth] = ids.stdout.trim().split('\n');
    assert.ok(compose?.startsWith('sha256:'), ids.stdout + ids.stderr);
    assert.equal(compose, berth);
  });

  /** Runs `tag` with port 8000 published on a free host port and returns the page it serves. */
  async function serve(tag: string): Promise<string> {
    const port = await freePort();
    const name = `bt-pyweb-${Math.random().toString(16).slice(2, 8)}`;
    const run = await docker(['run', '-d', '--name', name, '-p', `127.0.0.1:${port}:8000`, tag]);
    assert.equal(run.status, 0, run.stderr);
    try {
      let page: { status: number; body: string } | undefined;
      let lastErr: unknown;
      // The server needs a moment to start: poll until it answers (bounded, not a timing assertion).
      for (let i = 0; i < 100 && !page; i++) {
        try {
          page = await get(`http://127.0.0.1:${port}/`);
        } catch (err) {
          lastErr = err;
          await sleep(200);
        }
      }
      if (!page) {
        const logs = await docker(['logs', name]);
        assert.fail(`no answer on port ${port}: ${String(lastErr)}\n${logs.stdout}${logs.stderr}`);
      }
      assert.equal(page.status, 200);
      return page.body;
    } finally {
      await docker(['rm', '-f', name]);
    }
  }

  test('the images serve HTTP on a published port', async () => {
    assert.match(await serve('bt-pyweb:compose'), /^hello from a berth-built Flask on Python 3\.\d+\.\d+\n$/);
    assert.match(await serve('bt-pyweb:docker'), /^hello from a docker-built Flask on Python 3\.\d+\.\d+\n$/);
  });
});
