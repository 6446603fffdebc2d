// Container routes of the Engine API: lifecycle, attach, logs, wait, inspect and list.
import type { Duplex, Readable, Writable } from 'node:stream';
import type { ContainerRecord, CreateRequest } from '../../containers/index.js';
import type { DaemonContext } from '../../daemon/context.js';
import { cgroupPids, containerPaths, type LogEntry, readLogs, readStats, top } from '../../runtime/index.js';
import { badRequest } from '../../util/index.js';
import { compareVersions, hijack, jsonStream, muxWriter, type Router } from '../index.js';

function parseLogTime(value: string | null, name: string): number | undefined {
  if (value === null || value === '' || value === '0') return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value);
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw badRequest(`invalid value for "${name}": ${value}`);
  return ms / 1000;
}

/** Writes log entries to `out`, framed unless the container has a TTY. */
async function writeLogs(
  entries: AsyncIterable<LogEntry>,
  out: Writable,
  tty: boolean,
  timestamps: boolean,
): Promise<void> {
  const stdout = tty ? out : muxWriter(out, 1);
  const stderr = tty ? out : muxWriter(out, 2);
  for await (const entry of entries) {
    const text = timestamps ? `${entry.time} ${entry.line}` : entry.line;
    const target = entry.stream === 'stderr' ? stderr : stdout;
    if (!target.write(text)) await new Promise((r) => target.once('drain', r));
  }
}

function exitOf(ctx: DaemonContext, rec: ContainerRecord): Promise<unknown> {
  return ctx.containers.wait(rec.Id, 'next-exit').catch(() => undefined);
}

export function registerContainerRoutes(router: Router, ctx: DaemonContext): void {
  const c = ctx.containers;

  router.get('/containers/json', async (req) => {
    const size = req.bool('size');
    const limit = req.int('limit');
    const list = c.list({
      all: req.bool('all'),
      limit: req.bool('latest') ? 1 : limit,
      filters: req.filters(),
    });
    return { json: await Promise.all(list.map((rec) => c.summary(rec, { size }))) };
  });

  router.post('/containers/create', async (req) => {
    const body = await req.json<CreateRequest>();
    const name = req.query.get('name') ?? undefined;
    const platform = req.query.get('platform');
    if (platform && !/^linux(\/(amd64|x86_64))?/.test(platform)) {
      throw badRequest(
        `image with reference ${body.Image} was found but does not match the specified platform: wanted ${platform}`,
      );
    }
    return { status: 201, json: await c.create(body, name || undefined) };
  });

  router.get('/containers/:id/json', async (req) => ({
    json: await c.inspect(req.params.id!, { size: req.bool('size') }),
  }));

  router.post('/containers/:id/start', async (req) => {
    const result = await c.start(req.params.id!);
    return { status: result === 'already' ? 304 : 204 };
  });

  router.post('/containers/:id/stop', async (req) => {
    const result = await c.stop(req.params.id!, {
      timeout: req.int('t'),
      signal: req.query.get('signal') || undefined,
    });
    return { status: result === 'already' ? 304 : 204 };
  });

  router.post('/containers/:id/restart', async (req) => {
    await c.restart(req.params.id!, { timeout: req.int('t'), signal: req.query.get('signal') || undefined });
    return { status: 204 };
  });

  router.post('/containers/:id/kill', async (req) => {
    await c.kill(req.params.id!, req.query.get('signal') || 'SIGKILL');
    return { status: 204 };
  });

  router.post('/containers/:id/pause', async (req) => {
    await c.pause(req.params.id!);
    return { status: 204 };
  });

  router.post('/containers/:id/unpause', async (req) => {
    await c.unpause(req.params.id!);
    return { status: 204 };
  });

  router.post('/containers/:id/rename', async (req) => {
    const name = req.query.get('name');
    if (!name) throw badRequest('name is required');
    await c.rename(req.params.id!, name);
    return { status: 204 };
  });

  router.delete('/containers/:id', async (req) => {
    await c.remove(req.params.id!, { force: req.bool('force'), volumes: req.bool('v') });
    return { status: 204 };
  });

  router.post('/containers/prune', async (req) => ({ json: await c.prune(req.filters()) }));

  router.post('/containers/:id/wait', async (req) => {
    const condition = req.query.get('condition') ?? 'not-running';
    const rec = c.get(req.params.id!);
    const waiting = c.wait(rec.Id, condition, req.signal);
    // Docker sends the headers at once so that clients know the wait is registered before they start.
    req.res.writeHead(200, { 'Content-Type': 'application/json' });
    req.res.flushHeaders();
    const result = await waiting;
    req.res.end(`${JSON.stringify(result)}\n`);
  });

  router.post('/containers/:id/resize', async (req) => {
    const rec = c.get(req.params.id!);
    const height = req.int('h', 0)!;
    const width = req.int('w', 0)!;
    if (!rec.State.Running) throw badRequest(`Container ${rec.Id} is not running`);
    if (rec.Config.Tty) await ctx.containers.resize(rec, { height, width });
    return { status: 200 };
  });

  router.post('/containers/:id/attach', async (req) => {
    const rec = c.get(req.params.id!);
    const wantStdin = req.bool('stdin');
    const wantStdout = req.bool('stdout');
    const wantStderr = req.bool('stderr');
    const stream = req.bool('stream');
    const logs = req.bool('logs');
    const tty = rec.Config.Tty;
    const socket = await hijack(req, { multiplexed: !tty });
    if (logs) {
      await writeLogs(
        readLogs(containerPaths(c.dir(rec)).log, { stdout: wantStdout, stderr: wantStderr }),
        socket,
        tty,
        false,
      );
    }
    if (!stream) {
      socket.end();
      return;
    }
    const attached = await c.attachWhenReady(rec, () =>
      attachTo(ctx, rec, socket, { wantStdin, wantStdout, wantStderr, tty }),
    );
    if (!attached) socket.end();
  });

  router.get('/containers/:id/logs', async (req) => {
    const rec = c.get(req.params.id!);
    const stdout = req.bool('stdout');
    const stderr = req.bool('stderr');
    if (!stdout && !stderr) throw badRequest('Bad parameters: you must choose at least one stream');
    const tailText = req.query.get('tail');
    let tail: number | undefined;
    if (tailText && tailText !== 'all') {
      if (!/^-?\d+$/.test(tailText)) throw badRequest(`invalid value for "tail": ${tailText}`);
      tail = Number(tailText);
    }
    const follow = req.bool('follow') && rec.State.Running;
    const tty = rec.Config.Tty;
    const contentType =
      !tty && compareVersions(req.apiVersion, '1.42') >= 0
        ? 'application/vnd.docker.multiplexed-stream'
        : 'application/vnd.docker.raw-stream';
    req.res.writeHead(200, { 'Content-Type': contentType });
    req.res.flushHeaders();
    const controller = new AbortController();
    req.signal.addEventListener('abort', () => controller.abort());
    const entries = readLogs(containerPaths(c.dir(rec)).log, {
      follow,
      since: parseLogTime(req.query.get('since'), 'since'),
      until: parseLogTime(req.query.get('until'), 'until'),
      tail,
      stdout,
      stderr,
      signal: controller.signal,
      exited: follow ? exitOf(ctx, rec) : undefined,
    });
    await writeLogs(entries, req.res, tty, req.bool('timestamps'));
    req.res.end();
  });

  router.get('/containers/:id/top', async (req) => {
    const rec = c.get(req.params.id!);
    if (!rec.State.Running) throw badRequest(`Container ${rec.Id} is not running`);
    return { json: await top(cgroupPids(c.cgroupsPath(rec)), req.query.get('ps_args') ?? '-ef') };
  });

  router.get('/containers/:id/stats', async (req) => {
    const rec = c.get(req.params.id!);
    const streaming = req.bool('stream', true) && !req.bool('one-shot');
    // A container that is not running has no cgroup: Docker answers with a zero sample, not an error.
    if (!rec.State.Running) {
      if (!streaming) return { json: stoppedStats(rec) };
      const out = jsonStream(req);
      out.write(stoppedStats(rec));
      out.end();
      return;
    }
    const input = () => ({
      cgroupsPath: c.cgroupsPath(rec),
      id: rec.Id,
      name: `/${rec.Name}`,
      pid: rec.State.Running ? rec.State.Pid : undefined,
    });
    // One-shot stats still carry a precpu sample, so CPU % can be computed: Docker samples twice too.
    let previous = readStats(input());
    if (!streaming) {
      if (!req.bool('one-shot')) {
        await new Promise((r) => setTimeout(r, 200));
        previous = readStats(input(), previous);
      }
      return { json: previous };
    }
    const out = jsonStream(req);
    while (!out.closed) {
      await new Promise((r) => setTimeout(r, 1000));
      previous = readStats(input(), previous);
      out.write(previous);
      if (!c.get(rec.Id).State.Running) break;
    }
    out.end();
  });
}

/** Docker's stats for a stopped container: zero times and usage. */
function stoppedStats(rec: ContainerRecord) {
  const zero = '0001-01-01T00:00:00Z';
  const cpu = () => ({
    cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  });
  return {
    read: zero,
    preread: zero,
    pids_stats: {},
    blkio_stats: { io_service_bytes_recursive: null, io_serviced_recursive: null },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: cpu(),
    precpu_stats: cpu(),
    memory_stats: {},
    name: `/${rec.Name}`,
    id: rec.Id,
  };
}

interface AttachWants {
  wantStdin: boolean;
  wantStdout: boolean;
  wantStderr: boolean;
  tty: boolean;
}

/** Connects a hijacked client connection to the container's monitor. Resolves once connected. */
async function attachTo(
  ctx: DaemonContext,
  rec: ContainerRecord,
  socket: Duplex,
  wants: AttachWants,
): Promise<void> {
  const streams = await ctx.containers.attachStreams(rec);
  const outputs: Readable[] = [];
  if (wants.wantStdout) {
    streams.stdout.pipe(wants.tty ? socket : muxWriter(socket, 1), { end: false });
    outputs.push(streams.stdout);
  } else streams.stdout.resume();
  if (wants.wantStderr && !wants.tty) {
    streams.stderr.pipe(muxWriter(socket, 2), { end: false });
    outputs.push(streams.stderr);
  } else streams.stderr.resume();
  const open = new Set(outputs);
  const done = (o: Readable) => {
    if (!open.delete(o) || open.size > 0) return;
    streams.close();
    socket.end();
  };
  for (const o of outputs) o.once('end', () => done(o)).once('close', () => done(o));
  if (outputs.length === 0) ctx.containers.wait(rec.Id, 'next-exit').then(() => socket.end());
  if (wants.wantStdin) {
    socket.on('data', (chunk: Buffer) => streams.stdin.write(chunk));
    const onEnd = () => {
      if (rec.Config.StdinOnce) streams.stdin.end();
    };
    // The client may have closed its stdin before the container's streams were ready: 'end' is past.
    if (socket.readableEnded) onEnd();
    else socket.on('end', onEnd);
  }
  socket.on('close', () => streams.close());
  socket.on('error', () => streams.close());
}
