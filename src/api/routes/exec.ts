// Exec routes of the Engine API.
import type { ExecConfig, ExecService } from '../../containers/exec.js';
import { badRequest, conflict, messageOf } from '../../util/index.js';
import { hijack, muxWriter, type Router } from '../index.js';

export function registerExecRoutes(router: Router, execs: ExecService): void {
  router.post('/containers/:id/exec', async (req) => {
    const body = await req.json<ExecConfig>();
    return { status: 201, json: execs.create(req.params.id!, body) };
  });

  router.get('/exec/:id/json', (req) => ({ json: execs.inspect(req.params.id!) }));

  router.post('/exec/:id/resize', async (req) => {
    const exec = execs.get(req.params.id!);
    if (!exec.handle) throw badRequest(`exec ${exec.ID} is not running`);
    await exec.handle.resize({ height: req.int('h', 0)!, width: req.int('w', 0)! });
    return { status: 200 };
  });

  router.post('/exec/:id/start', async (req) => {
    const body = await req.json<{ Detach?: boolean; Tty?: boolean; ConsoleSize?: [number, number] | null }>();
    const detach = !!body.Detach;
    const exec = execs.get(req.params.id!);
    const tty = body.Tty ?? !!exec.Config.Tty;
    if (detach) {
      await execs.start(exec.ID, { detach: true, tty });
      return { status: 200, body: '' };
    }
    if (exec.started) throw conflict(`Error: Exec command ${exec.ID} has already run`);
    // Hijack first, as Docker does: a process that cannot start is reported on the stream and through the
    // exec's exit code (126/127), which the CLI reads back with exec inspect.
    const socket = await hijack(req, { multiplexed: !tty });
    let handle: Awaited<ReturnType<ExecService['start']>>['handle'];
    try {
      ({ handle } = await execs.start(exec.ID, { detach: false, tty, consoleSize: body.ConsoleSize }));
    } catch (err) {
      const text = `OCI runtime exec failed: ${messageOf(err)}: unknown\r\n`;
      (tty ? socket : muxWriter(socket, 2)).write(text);
      socket.end();
      return;
    }
    // Wire the output before anything awaits: once a short process exits the runtime drains whatever
    // nobody reads, and its end event would pass unseen (lost output, a stuck stream).
    const pending: Promise<void>[] = [];
    const pipeOut = (from: NodeJS.ReadableStream | undefined, stream: 1 | 2) => {
      if (!from) return;
      const to = tty ? socket : muxWriter(socket, stream);
      from.pipe(to, { end: false });
      pending.push(new Promise((resolve) => from.once('end', resolve).once('close', resolve)));
    };
    if (exec.Config.AttachStdout !== false) pipeOut(handle.stdout, 1);
    else handle.stdout?.resume();
    if (exec.Config.AttachStderr !== false) pipeOut(handle.stderr, 2);
    else handle.stderr?.resume();
    if (handle.stdin) {
      socket.on('data', (b: Buffer) => handle.stdin!.write(b));
      // The client may have closed its stdin before we got here: then end the process's stdin at once.
      if (socket.readableEnded) handle.stdin.end();
      else socket.on('end', () => handle.stdin!.end());
    }
    await handle.wait().catch(() => undefined);
    await Promise.all(pending);
    socket.end();
  });
}
