import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Command } from 'commander';
import { COMMAND_MODULES, COMMANDS } from '../../../src/cli/program.js';

test('the table of top-level commands names exactly the modules that register each command', async () => {
  const actual: Record<string, string[]> = {};
  for (const [name, load] of Object.entries(COMMAND_MODULES)) {
    const program = new Command('berth').enablePositionalOptions();
    (await load()).register(program);
    for (const cmd of program.commands) {
      for (const n of [cmd.name(), ...cmd.aliases()]) (actual[n] ??= []).push(name);
    }
  }
  const sorted = (t: Record<string, string[]>) =>
    Object.fromEntries(
      Object.entries(t)
        .map(([k, v]) => [k, [...v].sort()])
        .sort(([a], [b]) => (a < b ? -1 : 1)),
    );
  assert.deepEqual(sorted(COMMANDS), sorted(actual));
});
