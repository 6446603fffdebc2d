import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Command } from 'commander';
import { buildProgram, COMMAND_MODULES, COMMANDS, SUBCOMMANDS } from '../../../src/cli/program.js';

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

/** A command's help text and, recursively, its subcommands' (what the user can see of its definition). */
function describeCommand(cmd: Command): string {
  return [cmd.helpInformation(), ...cmd.commands.map(describeCommand)].join('\n');
}

test('building only the invoked command gives it exactly as the full program has it', async () => {
  const full = await buildProgram(['node', 'berth']);
  for (const name of Object.keys(COMMANDS)) {
    const only = await buildProgram(['node', 'berth', name, '--some-flag', 'arg']);
    assert.deepEqual(
      only.commands.map((c) => c.name()),
      [name],
      `berth ${name} builds only ${name}`,
    );
    const expected = full.commands.find((c) => c.name() === name)!;
    assert.equal(describeCommand(only.commands[0]!), describeCommand(expected), `berth ${name}`);
  }
});

test('help, versions and unknown commands build every command', async () => {
  const all = Object.keys(COMMANDS).sort();
  for (const argv of [[], ['--help'], ['-v'], ['no-such-command'], ['help', 'ps']]) {
    const program = await buildProgram(['node', 'berth', ...argv]);
    const names = program.commands.map((c) => c.name()).sort();
    assert.deepEqual(names, all, `berth ${argv.join(' ')}`);
  }
});

test('an options-first command line finds its command, and the program stays usable afterwards', async () => {
  const program = await buildProgram(['node', 'berth', '--debug', 'version']);
  assert.deepEqual(
    program.commands.map((c) => c.name()),
    ['version'],
  );
  // The stand-in is gone once registration is over: commands added later are real.
  program.command('extra').description('added after build');
  assert.equal(program.commands.find((c) => c.name() === 'extra')?.description(), 'added after build');
});

test('the table of subcommands names exactly the modules that register each subcommand of a shared group', async () => {
  const actual: Record<string, Record<string, string[]>> = {};
  for (const [name, load] of Object.entries(COMMAND_MODULES)) {
    const program = new Command('berth').enablePositionalOptions();
    (await load()).register(program);
    for (const group of program.commands) {
      for (const sub of group.commands) {
        for (const n of [sub.name(), ...sub.aliases()]) ((actual[group.name()] ??= {})[n] ??= []).push(name);
      }
    }
  }
  const shared = Object.fromEntries(
    Object.entries(actual).filter(([group]) => (COMMANDS[group] ?? []).length > 1),
  );
  assert.deepEqual(Object.keys(SUBCOMMANDS).sort(), Object.keys(shared).sort());
  for (const [group, subs] of Object.entries(shared)) assert.deepEqual(SUBCOMMANDS[group], subs, group);
});

test('building one subcommand of a shared group gives it exactly as the full program has it', async () => {
  const full = await buildProgram(['node', 'berth']);
  for (const [group, subs] of Object.entries(SUBCOMMANDS)) {
    const fullGroup = full.commands.find((c) => c.name() === group)!;
    for (const sub of Object.keys(subs)) {
      const program = await buildProgram(['node', 'berth', group, sub, '--x']);
      const built = program.commands.find((c) => c.name() === group)!;
      const mine = built.commands.find((c) => c.name() === sub || c.aliases().includes(sub));
      const theirs = fullGroup.commands.find((c) => c.name() === sub || c.aliases().includes(sub))!;
      assert.ok(mine, `berth ${group} ${sub} is built`);
      assert.equal(describeCommand(mine), describeCommand(theirs), `berth ${group} ${sub}`);
    }
  }
});
