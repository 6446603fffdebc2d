// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Dockerfile text uses ${…} on purpose
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CHECK_RULES,
  type CheckOptions,
  IgnoreMatcher,
  parseDockerfile,
  runChecks,
} from '../../../src/build/index.js';

function rules(text: string, options: CheckOptions = {}): string[] {
  return runChecks(parseDockerfile(text), { hasDockerignore: true, ...options }).violations.map(
    (v) => `${v.line}:${v.rule}`,
  );
}

/** A Dockerfile that triggers none of the rules. */
const CLEAN = `FROM alpine:3.19 AS build
RUN apk add --no-cache make && make
FROM alpine:3.19
COPY --from=build /out /app
USER 1000
EXPOSE 8080
HEALTHCHECK CMD ["wget", "-q", "localhost:8080"]
CMD ["/app"]
`;

test('a clean Dockerfile has no violations', () => {
  assert.deepEqual(rules(CLEAN), []);
});

test('every rule has a unique id, an origin and a description', () => {
  const ids = CHECK_RULES.map((r) => r.id);
  assert.equal(new Set(ids).size, ids.length);
  for (const r of CHECK_RULES)
    assert.ok(r.description.length > 0 && (r.origin === 'docker' || r.origin === 'berth'));
});

// [rule, Dockerfile, expected lines]
const cases: [string, string, number[]][] = [
  ['StageNameCasing', 'FROM alpine:3.19 AS Build\nUSER 1\n', [1]],
  ['FromAsCasing', 'FROM alpine:3.19 as build\nUSER 1\n', [1]],
  ['FromAsCasing', 'from alpine:3.19 AS build\nuser 1\n', [1]],
  ['NoEmptyContinuation', 'FROM alpine:3.19\nRUN a \\\n\n  b\nUSER 1\n', [2]],
  ['ConsistentInstructionCasing', 'FROM alpine:3.19\nrun a\nUSER 1\n', [2]],
  ['DuplicateStageName', 'FROM alpine:3.19 AS a\nFROM alpine:3.19 AS a\nUSER 1\n', [2]],
  ['ReservedStageName', 'FROM alpine:3.19 AS scratch\nUSER 1\n', [1]],
  ['JSONArgsRecommended', 'FROM alpine:3.19\nUSER 1\nCMD run me\nENTRYPOINT exec me\n', [3, 4]],
  ['MaintainerDeprecated', 'FROM alpine:3.19\nMAINTAINER me\nUSER 1\n', [2]],
  ['LegacyKeyValueFormat', 'FROM alpine:3.19\nENV A b\nLABEL c d\nENV E=f\nUSER 1\n', [2, 3]],
  ['MultipleInstructionsDisallowed', 'FROM alpine:3.19\nUSER 1\nCMD ["a"]\nCMD ["b"]\n', [3]],
  ['WorkdirRelativePath', 'FROM alpine:3.19\nWORKDIR app\nWORKDIR /abs\nWORKDIR rel\nUSER 1\n', [2]],
  ['ExposeProtoCasing', 'FROM alpine:3.19\nEXPOSE 80/TCP\nHEALTHCHECK NONE\nUSER 1\n', [2]],
  ['ExposeInvalidFormat', 'FROM alpine:3.19\nEXPOSE 127.0.0.1:80:80\nHEALTHCHECK NONE\nUSER 1\n', [2]],
  [
    'SecretsUsedInArgOrEnv',
    'ARG GITHUB_TOKEN\nFROM alpine:3.19\nENV DB_PASSWORD=x PUBLIC_KEY=y KEYBOARD=z\nUSER 1\n',
    [1, 3],
  ],
  ['UndefinedArgInFrom', 'ARG A=alpine\nFROM ${A}:${TAG}\nUSER 1\n', [2]],
  ['RedundantTargetPlatform', 'FROM --platform=$TARGETPLATFORM alpine:3.19\nUSER 1\n', [1]],
  ['FromPlatformFlagConstDisallowed', 'FROM --platform=linux/amd64 alpine:3.19\nUSER 1\n', [1]],
  [
    'UndefinedVar',
    'ARG META=1\nFROM alpine:3.19\nARG DECLARED\nENV A=$NOPE B=$DECLARED C=${MAYBE:-x} D=$PATH E=$META\nUSER 1\n',
    [4, 4],
  ],
  [
    'UnpinnedBaseImage',
    'FROM alpine\nFROM alpine:latest\nFROM alpine:3.19\nFROM alpine@sha256:abc\nFROM scratch\nUSER 1\n',
    [1, 2],
  ],
  ['RootUserInFinalStage', 'FROM alpine:3.19\nRUN true\n', [1]],
  ['RootUserInFinalStage', 'FROM alpine:3.19\nUSER 1000\nUSER root\n', [3]],
  ['AptListsNotCleaned', 'FROM debian:12\nRUN apt-get update && apt-get install -y curl\nUSER 1\n', [2]],
  ['ConsecutiveRunInstructions', 'FROM alpine:3.19\nRUN a\nRUN b\nRUN c\nUSER 1\nRUN d\nRUN e\n', [2, 6]],
  ['MissingHealthcheck', 'FROM alpine:3.19\nEXPOSE 80\nUSER 1\n', [2]],
  ['CopyIgnoredFile', 'FROM alpine:3.19\nCOPY secret.txt /\nCOPY ok.txt /\nUSER 1\n', [2]],
];

test('each rule reports its lines', () => {
  const ignore = new IgnoreMatcher(['secret.txt']);
  for (const [rule, text, lines] of cases) {
    const got = runChecks(parseDockerfile(text), { hasDockerignore: true, ignore, only: [rule] }).violations;
    assert.deepEqual(
      got.map((v) => v.line),
      lines,
      `${rule}: ${JSON.stringify(got.map((v) => v.text))}`,
    );
    for (const v of got) assert.equal(v.rule, rule);
  }
});

test('messages use Docker wording and carry file and line', () => {
  const df = parseDockerfile('FROM alpine:3.19 as build\nUSER 1\nCMD run\n', { filename: 'app.Dockerfile' });
  const texts = runChecks(df).violations.map((v) => v.text);
  assert.ok(
    texts.includes("app.Dockerfile:1: 'as' and 'FROM' keywords' casing do not match (FromAsCasing)"),
    texts.join('\n'),
  );
  assert.ok(
    texts.includes(
      'app.Dockerfile:3: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals (JSONArgsRecommended)',
    ),
  );
});

test('UndefinedVar suggests a close name in scope', () => {
  const df = parseDockerfile('FROM alpine:3.19\nENV APP_HOME=/app\nENV PATH=$PAHT:$APP_HOEM/bin\nUSER 1\n');
  assert.deepEqual(
    runChecks(df, { only: ['UndefinedVar'] }).violations.map((v) => v.message),
    [
      "Usage of undefined variable '$PAHT' (did you mean $PATH?)",
      "Usage of undefined variable '$APP_HOEM' (did you mean $APP_HOME?)",
    ],
  );
});

test('RUN variants that do not need cleaning or merging are not reported', () => {
  const text = `FROM debian:12
RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*
RUN --mount=type=cache,target=/var/lib/apt apt-get install -y git
RUN --mount=type=cache,target=/root/.cache pip install x
RUN echo after-mount
USER 1
`;
  assert.deepEqual(rules(text, { only: ['AptListsNotCleaned', 'ConsecutiveRunInstructions'] }), []);
});

test('USER and HEALTHCHECK are inherited through stage bases', () => {
  const text = 'FROM alpine:3.19 AS base\nUSER app\nHEALTHCHECK CMD ["true"]\nFROM base\nEXPOSE 80\n';
  assert.deepEqual(rules(text, { only: ['RootUserInFinalStage', 'MissingHealthcheck'] }), []);
  // The target option picks the stage whose image is being built.
  const t = 'FROM alpine:3.19 AS tools\nRUN true\nFROM alpine:3.19\nUSER 1\n';
  assert.deepEqual(rules(t, { only: ['RootUserInFinalStage'] }), []);
  assert.deepEqual(rules(t, { only: ['RootUserInFinalStage'], target: 'tools' }), ['1:RootUserInFinalStage']);
});

test('COPY of the whole context without a .dockerignore', () => {
  const text = 'FROM alpine:3.19\nCOPY . /app\nCOPY --from=x . /y\nADD ./ /z\nUSER 1\n';
  assert.deepEqual(rules(text, { hasDockerignore: false, only: ['CopyWholeContextWithoutDockerignore'] }), [
    '2:CopyWholeContextWithoutDockerignore',
    '4:CopyWholeContextWithoutDockerignore',
  ]);
  assert.deepEqual(rules(text, { hasDockerignore: true, only: ['CopyWholeContextWithoutDockerignore'] }), []);
});

test('# check=skip and error=true are honoured', () => {
  const base = 'FROM alpine:3.19 as b\nUSER 1\nCMD run\n';
  assert.deepEqual(rules(base), ['1:FromAsCasing', '3:JSONArgsRecommended']);
  assert.deepEqual(rules(`# check=skip=JSONArgsRecommended\n${base}`), ['2:FromAsCasing']);
  assert.deepEqual(rules(`# check=skip=all\n${base}`), []);
  assert.deepEqual(rules(base, { skip: ['FromAsCasing'] }), ['3:JSONArgsRecommended']);
  const failing = runChecks(parseDockerfile(`# check=error=true\n${base}`));
  assert.equal(failing.failed, true);
  const passing = runChecks(parseDockerfile(`# check=error=true\n${CLEAN}`));
  assert.equal(passing.failed, false);
  assert.equal(runChecks(parseDockerfile(base)).failed, false, 'warnings only without error=true');
});
