// The berth command line: Docker's command shapes over the Engine API.
import { closeClient, getClient } from './connect.js';
import { buildProgram, invokedCommand, talksToDaemon } from './program.js';

// The daemon answers the API version negotiation (/_ping) while this process loads and builds the
// command: the round trip overlaps start-up instead of following it. A failure here is not reported:
// the command's own first request (or ensureDaemon's auto-start) meets it again.
const command = invokedCommand(process.argv);
if (command !== undefined && talksToDaemon(command)) {
  try {
    getClient()
      .apiVersion()
      .catch(() => {});
  } catch {
    // an invalid DOCKER_HOST: the command reports it
  }
}

try {
  await (await buildProgram(process.argv)).parseAsync(process.argv);
} catch (err) {
  // Daemon errors print as the docker CLI prints them; usage errors exit 125 like docker's.
  const status = (err as { status?: number }).status;
  const fromDaemon = typeof status === 'number' && (err as Error).name === 'EngineError';
  console.error(
    fromDaemon ? `Error response from daemon: ${(err as Error).message}` : `berth: ${(err as Error).message}`,
  );
  process.exitCode = (err as { exitCode?: number }).exitCode ?? (fromDaemon ? 1 : 125);
} finally {
  closeClient();
}
