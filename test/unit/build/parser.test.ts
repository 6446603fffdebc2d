// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Dockerfile text uses ${…} on purpose
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type CopyInstruction,
  DockerfileError,
  expandInstruction,
  type HealthcheckInstruction,
  type Instruction,
  parseChmod,
  parseDockerfile,
  parseGoDuration,
  parseMount,
  parsePortSpec,
  type RunInstruction,
} from '../../../src/build/index.js';

function only(text: string): Instruction {
  const df = parseDockerfile(`FROM scratch\n${text}`);
  return df.stages[0]!.instructions[0]!;
}

function parseError(text: string, filename?: string): DockerfileError {
  try {
    parseDockerfile(text, { filename });
  } catch (err) {
    assert.ok(err instanceof DockerfileError, `not a DockerfileError: ${String(err)}`);
    return err;
  }
  assert.fail('expected a parse error');
}

test('errors name the file, line and column and carry status 400', () => {
  const err = parseError('FROM alpine\n\n  RUNN echo\n', 'build/Dockerfile.dev');
  assert.equal(err.message, 'build/Dockerfile.dev:3:3: unknown instruction: RUNN (did you mean RUN?)');
  assert.equal(err.status, 400);
  assert.equal(err.line, 3);
  assert.equal(err.column, 3);
  assert.equal(parseError('FROM a\nCOPY  --nope a b\n').message, 'Dockerfile:2:7: unknown flag: --nope');
  assert.equal(
    parseError('FORM alpine\n').message,
    'Dockerfile:1:1: unknown instruction: FORM (did you mean FROM?)',
  );
});

test('locations and original text cover continuations and heredocs', () => {
  const df = parseDockerfile('FROM alpine\nRUN a \\\n  && b\nCOPY <<EOF /x\nbody\nEOF\nCMD c\n');
  const [run, copy, cmd] = df.stages[0]!.instructions;
  assert.deepEqual(run!.location, { startLine: 2, endLine: 3, column: 1 });
  assert.equal(run!.original, 'RUN a   && b');
  assert.deepEqual(copy!.location, { startLine: 4, endLine: 6, column: 1 });
  assert.equal(copy!.original, 'COPY <<EOF /x\nbody\nEOF');
  assert.equal(cmd!.location.startLine, 7);
});

test('parser directives: only at the top, case-insensitive, repeated is an error', () => {
  let df = parseDockerfile('# Syntax=docker/dockerfile:1\n# ESCAPE=`\n# check=skip=all\nFROM a\n');
  assert.equal(df.directives.syntax, 'docker/dockerfile:1');
  assert.equal(df.directives.escape, '`');
  assert.equal(df.directives.checks.skip, 'all');
  df = parseDockerfile('FROM a\n# escape=`\nRUN x \\\n y\n');
  assert.equal(df.directives.escape, '\\', 'a directive after an instruction is a comment');
  df = parseDockerfile('# unknowndirective=1\n# escape=`\nFROM a\n');
  assert.equal(df.directives.escape, '\\', 'an unknown directive ends the directive block');
  df = parseDockerfile('# check=skip=JSONArgsRecommended, StageNameCasing ; error=true\nFROM a\n');
  assert.deepEqual(df.directives.checks, { skip: ['JSONArgsRecommended', 'StageNameCasing'], error: true });
  assert.match(parseError('# check=error=maybe\nFROM a\n').message, /^Dockerfile:1: invalid boolean/);
});

test('exec form vs shell form, and invalid JSON falls back to shell form', () => {
  const run = only('RUN ["echo", "a b"]') as RunInstruction;
  assert.deepEqual(run.command, { form: 'exec', args: ['echo', 'a b'] });
  const shell = only('RUN [not json]') as RunInstruction;
  assert.deepEqual(shell.command, { form: 'shell', script: '[not json]' });
  assert.match(
    parseError('FROM a\nRUN ["a", {"b": 1}]\n').message,
    /arrays must be comprised of strings only/,
  );
});

test('heredocs: several on a line, fd, chomp, quoting', () => {
  const run = only('RUN <<A 3<<-"B" cat\nline a\nA\n\tline b\n\tB\n') as RunInstruction;
  assert.deepEqual(
    run.heredocs.map((h) => [h.name, h.content, h.expand, h.chomp, h.fd]),
    [
      ['A', 'line a\n', true, false, 0],
      ['B', 'line b\n', false, true, 3],
    ],
  );
  // A terminator indented with spaces (not tabs) does not end a <<- heredoc.
  assert.match(parseError('FROM a\nRUN <<-EOF\n  EOF\n').message, /^Dockerfile:2: unterminated heredoc/);
  // `<<` inside quotes is not a heredoc.
  const quoted = only('RUN echo "<<EOF"\nRUN next') as RunInstruction;
  assert.equal(quoted.heredocs.length, 0);
  // Heredocs are not recognised in instructions that do not take them.
  const env = parseDockerfile('FROM a\nENV A=<<EOF\nRUN x\n').stages[0]!.instructions;
  assert.equal(env.length, 2);
});

test('COPY heredoc source expands in scope unless quoted', () => {
  const copy = only('COPY <<EOF /etc/conf\nname=$NAME\nEOF') as CopyInstruction;
  const e = expandInstruction(copy, { NAME: 'berth' }).instruction as CopyInstruction;
  const src = e.sources[0]!;
  assert.equal(src.kind, 'heredoc');
  if (src.kind === 'heredoc') assert.equal(src.heredoc.content, 'name=berth\n');
});

test('RUN --mount: every type with defaults and validation', () => {
  assert.deepEqual(parseMount('type=cache,target=/c'), {
    type: 'cache',
    readonly: false,
    target: '/c',
    id: '/c',
    sharing: 'shared',
  });
  assert.deepEqual(parseMount('type=secret,id=tok'), {
    type: 'secret',
    readonly: true,
    id: 'tok',
    target: '/run/secrets/tok',
  });
  assert.equal(parseMount('type=secret,target=/root/.npmrc').id, '.npmrc');
  assert.deepEqual(parseMount('type=ssh'), {
    type: 'ssh',
    readonly: true,
    id: 'default',
    target: '/run/buildkit/ssh_agent.0',
  });
  assert.deepEqual(parseMount('target=/src,from=build,source=/out,rw'), {
    type: 'bind',
    readonly: false,
    target: '/src',
    from: 'build',
    source: '/out',
  });
  assert.equal(parseMount('type=tmpfs,target=/t,size=1g').size, 1024 ** 3);
  assert.equal(parseMount('type=cache,target=/c,mode=0700,uid=1,gid=2').mode, 0o700);
  assert.equal(parseMount('"type=bind","target=/a,b"').target, '/a,b');
  const bad: [string, RegExp][] = [
    ['type=nfs,target=/x', /unsupported mount type "nfs"/],
    ['type=cache', /requires a target/],
    ['type=bind', /requires a target/],
    ['type=secret', /requires an id or a target/],
    ['type=cache,target=/x,sharing=all', /unsupported sharing value/],
    ['type=tmpfs,target=/x,source=/y', /not supported for type=tmpfs/],
    ['type=bind,target=/x,size=1m', /size is not supported/],
    ['type=cache,target=/x,mode=999', /invalid mode/],
    ['type=cache,target=/x,uid=root', /invalid uid/],
    ['type=cache,target=/x,foo=bar', /unexpected key 'foo'/],
    ['type=cache,target=/x,ro=maybe', /invalid value for ro/],
  ];
  for (const [v, re] of bad) assert.throws(() => parseMount(v), re, v);
});

test('COPY/ADD flags are typed', () => {
  const c = only(
    'COPY --from=build --chown=1:2 --chmod=755 --link --exclude=a --exclude=b --parents x y /d/',
  ) as CopyInstruction;
  assert.equal(c.from, 'build');
  assert.equal(c.chown, '1:2');
  assert.deepEqual(c.chmod, { octal: 0o755 });
  assert.equal(c.link, true);
  assert.deepEqual(c.excludes, ['a', 'b']);
  assert.equal(c.parents, true);
  assert.deepEqual(
    c.sources.map((s) => (s.kind === 'path' ? s.path : '')),
    ['x', 'y'],
  );
  assert.equal(c.dest, '/d/');
  const a = only('ADD --keep-git-dir --checksum=sha256:abc123 https://x/y.git /src') as CopyInstruction;
  assert.equal(a.keepGitDir, true);
  assert.equal(a.checksum, 'sha256:abc123');
  assert.match(parseError('FROM a\nADD --from=x a b\n').message, /unknown flag: --from/);
  assert.match(parseError('FROM a\nCOPY --checksum=sha256:0 a b\n').message, /unknown flag: --checksum/);
  assert.match(parseError('FROM a\nADD --checksum=md5:0 a b\n').message, /invalid checksum digest format/);
  assert.match(parseError('FROM a\nCOPY --link=false --link a b\n').message, /Duplicate flag/);
  // The chmod of a variable is checked once expanded.
  const v = only('COPY --chmod=$MODE a b') as CopyInstruction;
  assert.equal(v.chmod, undefined);
  const e = expandInstruction(v, { MODE: '0600' }).instruction as CopyInstruction;
  assert.deepEqual(e.chmod, { octal: 0o600 });
  assert.throws(() => expandInstruction(v, { MODE: 'bad' }), /invalid chmod parameter: bad/);
});

test('parseChmod: octal and symbolic forms', () => {
  assert.deepEqual(parseChmod('0644'), { octal: 0o644 });
  assert.deepEqual(parseChmod('4755'), { octal: 0o4755 });
  assert.deepEqual(parseChmod('u+x'), { symbolic: 'u+x' });
  assert.deepEqual(parseChmod('a=rX,u+w'), { symbolic: 'a=rX,u+w' });
  assert.deepEqual(parseChmod('+x'), { symbolic: '+x' });
  for (const bad of ['', '8', '77777', 'u', 'x+u', 'u=rwz', 'u+x,'])
    assert.throws(() => parseChmod(bad), bad);
});

test('EXPOSE ports: protocols, ranges, validation', () => {
  assert.deepEqual(parsePortSpec('80'), { start: 80, end: 80, protocol: 'tcp' });
  assert.deepEqual(parsePortSpec('53/UDP'), { start: 53, end: 53, protocol: 'udp' });
  assert.deepEqual(parsePortSpec('8000-8010/tcp'), { start: 8000, end: 8010, protocol: 'tcp' });
  assert.deepEqual(parsePortSpec('127.0.0.1:8080:80'), { start: 80, end: 80, protocol: 'tcp' });
  for (const bad of ['0', '65536', 'x', '80/icmp', '90-80', '']) assert.throws(() => parsePortSpec(bad), bad);
});

test('HEALTHCHECK durations are Go durations, stored in nanoseconds', () => {
  const h = only(
    'HEALTHCHECK --interval=1m30s --timeout=1.5s --start-period=0 --retries=0 CMD true',
  ) as HealthcheckInstruction;
  assert.equal(h.none, false);
  if (!h.none) {
    assert.deepEqual(h.test, ['CMD-SHELL', 'true']);
    assert.equal(h.intervalNs, 90e9);
    assert.equal(h.timeoutNs, 1.5e9);
    assert.equal(h.startPeriodNs, 0);
    assert.equal(h.retries, 0);
  }
  assert.equal(parseGoDuration('1h2m3s4ms'), 3723004e6);
  assert.equal(parseGoDuration('300ms'), 3e8);
  assert.equal(parseGoDuration('2us'), 2000);
  assert.equal(parseGoDuration('-1s'), -1e9);
  for (const bad of ['', '1', 'abc', '1d', '.s', '1s2']) assert.equal(parseGoDuration(bad), undefined, bad);
  assert.match(parseError('FROM a\nHEALTHCHECK --interval=-1s CMD x\n').message, /cannot be negative/);
  assert.match(
    parseError('FROM a\nHEALTHCHECK --retries=x CMD x\n').message,
    /invalid HEALTHCHECK --retries/,
  );
});

test('ONBUILD keeps the trigger text and validates it', () => {
  const o = only('ONBUILD   RUN --mount=type=cache,target=/c make');
  assert.equal(o.kind, 'ONBUILD');
  if (o.kind === 'ONBUILD') {
    assert.equal(o.trigger, 'RUN --mount=type=cache,target=/c make');
    assert.equal(o.instruction.kind, 'RUN');
  }
  assert.match(
    parseError('FROM a\nONBUILD MAINTAINER me\n').message,
    /MAINTAINER isn't allowed as an ONBUILD trigger/,
  );
  assert.match(parseError('FROM a\nONBUILD\n').message, /ONBUILD requires at least one argument/);
});

test('ARG before FROM are meta args; other instructions before FROM are errors', () => {
  const df = parseDockerfile('ARG A=1 B\nARG C\nFROM x\nARG D\n');
  assert.deepEqual(
    df.metaArgs.flatMap((a) => a.args),
    [{ name: 'A', default: '1' }, { name: 'B' }, { name: 'C' }],
  );
  assert.equal(df.stages[0]!.instructions.length, 1);
  assert.equal(
    parseError('ARG A\nENV B=1\nFROM x\n').message,
    'Dockerfile:2: no build stage in current context',
  );
});

test('stage names are lower-cased and validated', () => {
  const df = parseDockerfile('FROM a AS Build-1.x\nFROM b as other_2\n');
  assert.deepEqual(
    df.stages.map((s) => s.name),
    ['build-1.x', 'other_2'],
  );
  assert.match(parseError('FROM a AS b$c\n').message, /invalid name for build stage/);
});

test('a huge Dockerfile parses in bounded time (no pathological regexes)', () => {
  const lines = ['FROM alpine'];
  for (let i = 0; i < 5000; i++) lines.push(`RUN echo ${'x'.repeat(50)} \\`, `  && echo ${i}`);
  const df = parseDockerfile(`${lines.join('\n')}\n`);
  assert.equal(df.stages[0]!.instructions.length, 5000);
});
