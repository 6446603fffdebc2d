import assert from 'node:assert/strict';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type LogEntry, parseLogLine, readLogs } from '../../../src/runtime/index.js';
import { tempDir } from '../../helpers/index.js';

const LOG = [
  '2024-01-02T03:04:05.000000001+00:00 stdout F one',
  '2024-01-02T03:04:06.5+00:00 stderr F two',
  '2024-01-02T05:04:07.123456789+02:00 stdout P par',
  '2024-01-02T03:04:07.200000000+00:00 stdout F tial',
  'garbage line that is not k8s-file',
  '2024-01-02T03:04:08Z stdout F tty\r',
  '',
].join('\n');

async function collect(it: AsyncIterable<LogEntry>): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  for await (const e of it) out.push(e);
  return out;
}

test('parseLogLine normalises time to UTC nanoseconds and rejects other lines', () => {
  const p = parseLogLine('2024-01-02T05:04:07.123456789+02:00 stderr P x y');
  assert.deepEqual(p && { ...p }, {
    stream: 'stderr',
    time: '2024-01-02T03:04:07.123456789Z',
    timeMs: Date.UTC(2024, 0, 2, 3, 4, 7, 123),
    partial: true,
    message: 'x y',
  });
  assert.equal(parseLogLine('nope'), undefined);
  assert.equal(parseLogLine('notatime stdout F x'), undefined);
  assert.equal(parseLogLine('2024-01-02T03:04:05Z stdin F x'), undefined);
});

test('readLogs: whole file, partial lines joined, stream filters, since/until, tail', async () => {
  const dir = tempDir('berth-rt-logs-');
  try {
    const path = join(dir.path, 'c.log');
    writeFileSync(path, LOG);
    const all = await collect(readLogs(path));
    assert.deepEqual(
      all.map((e) => [e.stream, e.line]),
      [
        ['stdout', 'one\n'],
        ['stderr', 'two\n'],
        ['stdout', 'partial\n'],
        ['stdout', 'tty\r\n'],
      ],
    );
    assert.equal(all[0]!.time, '2024-01-02T03:04:05.000000001Z');
    assert.deepEqual(
      (await collect(readLogs(path, { stdout: false }))).map((e) => e.line),
      ['two\n'],
    );
    assert.deepEqual(
      (
        await collect(
          readLogs(path, {
            since: Date.UTC(2024, 0, 2, 3, 4, 6) / 1000,
            until: new Date(Date.UTC(2024, 0, 2, 3, 4, 7, 500)),
          }),
        )
      ).map((e) => e.line),
      ['two\n', 'partial\n'],
    );
    assert.deepEqual(
      (await collect(readLogs(path, { tail: 2 }))).map((e) => e.line),
      ['partial\n', 'tty\r\n'],
    );
    assert.deepEqual(await collect(readLogs(path, { tail: 0 })), []);
    assert.deepEqual(await collect(readLogs(join(dir.path, 'missing.log'))), []);
  } finally {
    dir.cleanup();
  }
});

test('readLogs follow: sees appended lines and stops when the container exits', async () => {
  const dir = tempDir('berth-rt-logs-');
  try {
    const path = join(dir.path, 'c.log');
    writeFileSync(path, '2024-01-02T03:04:05Z stdout F first\n');
    let exit!: () => void;
    const exited = new Promise<void>((r) => (exit = r));
    const seen: string[] = [];
    const reader = (async () => {
      for await (const e of readLogs(path, { follow: true, exited })) {
        seen.push(e.line);
        if (e.line === 'second\n') {
          appendFileSync(path, '2024-01-02T03:04:07Z stderr F third\n');
          exit();
        }
      }
    })();
    await new Promise((r) => setTimeout(r, 100));
    appendFileSync(path, '2024-01-02T03:04:06Z stdout P sec\n');
    appendFileSync(path, '2024-01-02T03:04:06Z stdout F ond\n');
    await reader;
    assert.deepEqual(seen, ['first\n', 'second\n', 'third\n']);
  } finally {
    dir.cleanup();
  }
});

test('readLogs follow: stops on abort', async () => {
  const dir = tempDir('berth-rt-logs-');
  try {
    const path = join(dir.path, 'c.log');
    writeFileSync(path, '');
    const ac = new AbortController();
    const seen: string[] = [];
    const reader = (async () => {
      for await (const e of readLogs(path, { follow: true, signal: ac.signal })) seen.push(e.line);
    })();
    appendFileSync(path, '2024-01-02T03:04:06Z stdout F x\n');
    setTimeout(() => ac.abort(), 300);
    await reader;
    assert.deepEqual(seen, ['x\n']);
  } finally {
    dir.cleanup();
  }
});
