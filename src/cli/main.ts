// The berth command line: Docker's command shapes over the Engine API.
import { closeClient } from './connect.js';
import { buildProgram } from './program.js';

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
