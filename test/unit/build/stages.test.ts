// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Dockerfile text uses ${…} on purpose
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DockerfileError, parseDockerfile, resolveStages, walkStage } from '../../../src/build/index.js';

const multi = `ARG BASE=alpine:3.19
FROM \${BASE} AS base
FROM base AS deps
RUN echo deps
FROM golang:1.22 AS gobuild
RUN --mount=type=bind,from=deps,target=/deps go build
FROM node:20 AS web
COPY --from=nginx:1.25 /etc/nginx /etc/nginx
FROM alpine:3.19 AS unused
FROM base AS final
COPY --from=gobuild /app /app
COPY --from=web /dist /srv
FROM final AS test
RUN make test
`;

test('the default target is the last stage and pulls in only what it needs', () => {
  const g = resolveStages(parseDockerfile(multi));
  assert.equal(g.target, 6);
  assert.deepEqual(g.order, [0, 1, 2, 3, 5, 6]);
  assert.deepEqual(g.groups, [[0, 3], [1], [2], [5], [6]]);
  // Every stage of a group depends only on earlier groups.
  const groupOf = new Map<number, number>();
  g.groups.forEach((grp, i) => {
    for (const s of grp) groupOf.set(s, i);
  });
  for (const s of g.order)
    for (const d of g.all[s]!.dependsOn) assert.ok(groupOf.get(d.stage)! < groupOf.get(s)!);
  assert.ok(!g.order.includes(4), 'unused stage is skipped');
});

test('target selection, dependency kinds and external images', () => {
  const g = resolveStages(parseDockerfile(multi), { target: 'FINAL' });
  assert.equal(g.target, 5);
  assert.deepEqual(g.groups, [[0, 3], [1], [2], [5]]);
  assert.deepEqual(g.order, [0, 1, 2, 3, 5]);
  assert.deepEqual(g.all[5]!.dependsOn, [
    { stage: 0, via: 'from', line: 10 },
    { stage: 2, via: 'copy', line: 11 },
    { stage: 3, via: 'copy', line: 12 },
  ]);
  assert.deepEqual(g.all[2]!.dependsOn, [{ stage: 1, via: 'mount', line: 6 }]);
  assert.deepEqual(g.all[3]!.externalImages, ['nginx:1.25']);
  assert.equal(g.all[0]!.base, 'alpine:3.19');
  assert.equal(g.all[1]!.baseStage, 0);
  const byIndex = resolveStages(parseDockerfile(multi), { target: '2' });
  assert.deepEqual(byIndex.order, [0, 1, 2]);
  assert.deepEqual(byIndex.groups, [[0], [1], [2]]);
});

test('parallel groups: independent stages share a wave', () => {
  const df = parseDockerfile(
    'FROM a AS x\nFROM b AS y\nFROM c AS z\nFROM d\nCOPY --from=x / /\nCOPY --from=y / /\nCOPY --from=z / /\n',
  );
  const g = resolveStages(df);
  assert.deepEqual(g.groups, [[0, 1, 2], [3]]);
});

test('an unknown target names it', () => {
  assert.throws(
    () => resolveStages(parseDockerfile(multi), { target: 'nope' }),
    (err: unknown) =>
      err instanceof DockerfileError &&
      err.message === 'Dockerfile:1: target stage "nope" could not be found',
  );
});

test('cycles are reported with the stages involved and the line', () => {
  const df = parseDockerfile(
    'FROM a AS one\nCOPY --from=two / /\nFROM b AS two\nCOPY --from=three / /\nFROM c AS three\nCOPY --from=one / /\nFROM d\n',
  );
  assert.throws(
    () => resolveStages(df),
    (err: unknown) =>
      err instanceof DockerfileError &&
      err.line === 6 &&
      err.message.includes('circular dependency detected on stage: one (one -> two -> three -> one)'),
  );
});

test('FROM only refers back: a later stage of the same name is an image', () => {
  const g = resolveStages(parseDockerfile('FROM later\nFROM x AS later\n'), { target: '0' });
  assert.equal(g.all[0]!.baseStage, undefined);
  assert.deepEqual(g.order, [0]);
});

test('build args override meta args; platform args are predefined', () => {
  const df = parseDockerfile(
    'ARG TAG=1\nARG IMG=alpine:${TAG}\nFROM --platform=$BUILDPLATFORM $IMG AS a\nFROM scratch\nARG TAG\nCOPY --from=a /x /y-$TAG\n',
  );
  const g = resolveStages(df, { buildArgs: { TAG: '2' }, buildPlatform: 'linux/arm64/v8' });
  assert.equal(g.all[0]!.base, 'alpine:2');
  assert.equal(g.all[0]!.platform, 'linux/arm64/v8');
  assert.equal(g.metaArgs.get('BUILDARCH'), 'arm64');
  assert.equal(g.metaArgs.get('BUILDVARIANT'), 'v8');
  assert.equal(g.metaArgs.get('TARGETPLATFORM'), 'linux/arm64/v8');
  const w = walkStage(df.stages[1]!, { metaArgs: g.metaArgs, buildArgs: { TAG: '2' } });
  const copy = w.steps[1]!.expanded;
  assert.equal(copy.kind === 'COPY' ? copy.dest : '', '/y-2');
});

test('COPY --from may use the stage scope', () => {
  const df = parseDockerfile('FROM a AS src\nFROM b\nARG FROM_STAGE=src\nCOPY --from=${FROM_STAGE} / /\n');
  assert.deepEqual(resolveStages(df).order, [0, 1]);
  assert.deepEqual(resolveStages(df, { buildArgs: { FROM_STAGE: 'busybox' } }).all[1]!.externalImages, [
    'busybox',
  ]);
});

test('errors while expanding a stage name the instruction line', () => {
  const df = parseDockerfile('FROM a\nENV X=1\nWORKDIR ${X:?}\nWORKDIR ${UNSET:?is required}\n');
  assert.throws(() => resolveStages(df), /^DockerfileError: Dockerfile:4: UNSET: is required$/);
});
