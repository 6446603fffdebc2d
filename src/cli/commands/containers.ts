// The container commands, at the top level (`berth run`, `berth ps`) and under the `container` group
// (`berth container ls`, `berth container run`), as the docker CLI offers both.
import type { Command } from 'commander';
import { containerGroup } from './container-common.js';
import { registerManageCommands } from './container-manage.js';
import { registerRunCommands } from './container-run.js';
import { registerStatsCommand } from './container-stats.js';

export { containerGroup } from './container-common.js';

export function register(program: Command): void {
  for (const [parent, inGroup] of [
    [program, false],
    [containerGroup(program), true],
  ] as const) {
    registerRunCommands(parent);
    registerManageCommands(parent, inGroup);
    registerStatsCommand(parent);
  }
}
