import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import {
  bytesSize,
  containerStatus,
  defaultHeader,
  displayJsonMessages,
  ellipsis,
  formatCommand,
  formatInspect,
  formatPorts,
  formatRows,
  goQuote,
  humanDuration,
  humanSize,
  inspectJson,
  type JsonMessage,
  ProgressError,
  parseTemplate,
  progressString,
  resolveFormat,
  sprintf,
  TemplateError,
  tabwrite,
  timeAgo,
  truncateId,
} from '../../../src/cli/format/index.js';

const data = {
  ID: 'abc',
  Names: ['web', 'db'],
  State: { Status: 'running', Pid: 42, Health: null },
  Config: { Env: ['A=1'], Labels: { 'com.x': 'y', a: 'b' } },
  Labels: { b: '2', a: '1' },
  Empty: [],
  Zero: 0,
  Float: 0.5,
  Big: 1073741824,
  Nested: [{ N: 'n0' }, { N: 'n1' }],
  Label(name: string) {
    return (this.Labels as Record<string, string>)[name] ?? '';
  },
};

const cases: [string, string][] = [
  ['plain text', 'plain text'],
  ['{{.ID}}', 'abc'],
  ['{{.State.Status}} {{.State.Pid}}', 'running 42'],
  ['{{.Big}} {{.Float}} {{.Zero}} {{1234567.5}} {{0.00001}}', '1073741824 0.5 0 1.2345675e+06 1e-05'],
  ['{{.Missing}}', '<no value>'],
  ['{{.State.Health}}', '<nil>'],
  ['{{.Names}}', '[web db]'],
  ['{{.Labels}}', 'map[a:1 b:2]'],
  ['{{json .}}', JSON.stringify(data)],
  ['{{json .Config}}', '{"Env":["A=1"],"Labels":{"com.x":"y","a":"b"}}'],
  ['{{.Names | json}}', '["web","db"]'],
  ['{{json .Missing}}', 'null'],
  ['{{json "<a&b>"}}', '"<a&b>"'],
  ['{{range .Names}}[{{.}}]{{end}}', '[web][db]'],
  ['{{range $i, $n := .Names}}{{$i}}={{$n}} {{end}}', '0=web 1=db '],
  ['{{range $k, $v := .Labels}}{{$k}}:{{$v}};{{end}}', 'a:1;b:2;'],
  ['{{range $v := .Labels}}{{$v}}{{end}}', '12'],
  ['{{range .Empty}}x{{else}}none{{end}}', 'none'],
  ['{{range .Missing}}x{{end}}', ''],
  ['{{range .Nested}}{{.N}}{{end}}', 'n0n1'],
  ['{{range .Names}}{{if eq . "db"}}{{break}}{{end}}{{.}}{{end}}', 'web'],
  ['{{range .Names}}{{if eq . "web"}}{{continue}}{{end}}{{.}}{{end}}', 'db'],
  ['{{if .Empty}}a{{else if .Zero}}b{{else if .ID}}c{{else}}d{{end}}', 'c'],
  ['{{if not .Zero}}zero{{end}}', 'zero'],
  ['{{with .State}}{{.Status}}{{end}}', 'running'],
  ['{{with .Missing}}x{{else}}y{{end}}', 'y'],
  ['{{index .Labels "a"}} {{index .Names 1}} {{index .Config.Labels "com.x"}}', '1 db y'],
  ['{{index .Labels "zz"}}', '<no value>'],
  ['{{(index .Nested 1).N}}', 'n1'],
  ['{{join .Names ","}}', 'web,db'],
  ['{{.Label "b"}}|{{.Label "zz"}}', '2|'],
  ['{{lower "ABC"}} {{upper .ID}} {{title "hello big-world"}}', 'abc ABC Hello Big-World'],
  ['{{split "a:b:c" ":"}} {{len (split "a:b" ":")}}', '[a b c] 2'],
  ['{{println "a" 1}}', 'a 1\n'],
  ['{{print "a" 1 2 "b"}}', 'a1 2b'],
  [
    '{{printf "%s-%d-%v-%q-%5s-%-5s|%05.1f%%" .ID 7 .Names "x" "r" "l" 3.14159}}',
    'abc-7-[web db]-"x"-    r-l    |003.1%',
  ],
  ['{{printf "%d" "x"}}', '%!d(string=x)'],
  ['{{printf "%s"}}', '%!s(MISSING)'],
  ['{{printf "%s" 1 2}}', '1%!(EXTRA int=2)'],
  ['{{"x" | printf "%s-%s" "y"}}', 'y-x'],
  ['{{pad "x" 1 2}}|{{truncate "abcdef" 3}}', ' x  |abc'],
  ['{{len .Names}} {{len .Labels}} {{len "héllo"}}', '2 2 6'],
  ['{{and 1 0 2}} {{and 1 2}} {{or 0 "" "z"}} {{or 0 ""}}', '0 2 z '],
  [
    '{{eq .ID "abc"}} {{eq 1 2 3 1}} {{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1 2}}',
    'true true true true true true false',
  ],
  ['{{$x := .ID}}{{$x}}{{$x = "new"}}{{$x}}', 'abcnew'],
  ['{{$n := 0}}{{range .Names}}{{$n = .}}{{end}}{{$n}}', 'db'],
  ['{{range .Names}}{{$.ID}}{{end}}', 'abcabc'],
  ['a {{- " b " -}} c', 'a b c'],
  ['a {{/* comment */}} b', 'a  b'],
  ['a {{- /* comment */ -}} b', 'ab'],
  ['{{`raw\\n`}} {{"esc\\t"}}', 'raw\\n esc\t'],
  ['{{1}} {{-1}} {{1.5}} {{0x10}} {{true}} {{nil | print}}', '1 -1 1.5 16 true <nil>'],
  ['{{slice "abcdef" 1 3}} {{html "<a&b>"}} {{urlquery "a b&c"}}', 'bc &lt;a&amp;b&gt; a+b%26c'],
];

test('template evaluation (Go text/template semantics)', () => {
  for (const [src, want] of cases) {
    assert.equal(parseTemplate(src).execute(data), want, src);
  }
});

const errors: [string, RegExp][] = [
  ['{{foo .}}', /^template: :1: function "foo" not defined$/],
  ['{{.ID', /^template: :1: unclosed action$/],
  ['{{if .ID}}x', /^template: :1: unexpected EOF$/],
  ['{{range .Names}}x{{else}}', /^template: :1: unexpected EOF$/],
  ['{{end}}', /^template: :1: unexpected \{\{end\}\}$/],
  ['{{else}}', /^template: :1: unexpected \{\{else\}\}$/],
  ['x\n\n{{$nope}}', /^template: :3: undefined variable "\$nope"$/],
  ['{{"abc}}', /^template: :1: unterminated quoted string$/],
  ['{{}}', /^template: :1: missing value for command$/],
  ['{{.ID | }}', /missing value for command/],
  ['{{!}}', /unexpected bad character U\+0021 '!' in command/],
  ['{{break}}', /\{\{break\}\} outside \{\{range\}\}/],
  ['{{define "x"}}{{end}}', /not supported/],
  ['{{(.ID}}', /unclosed left paren/],
  ['{{/* unclosed', /unclosed comment/],
];

test('template parse errors read like Go', () => {
  for (const [src, re] of errors) {
    assert.throws(
      () => parseTemplate(src),
      (err: unknown) => err instanceof TemplateError && re.test(err.message),
      src,
    );
  }
});

test('template execution errors name the position and the node', () => {
  const bad: [string, RegExp][] = [
    ['{{.A.B.C}}', /^template: :1:2: executing "" at <\.A\.B\.C>: nil pointer evaluating interface \{\}\.B$/],
    ['{{index .Names 5}}', /error calling index: index out of range: 5/],
    ['{{.ID.X}}', /can't evaluate field X in type string/],
    ['{{.ID "arg"}}', /ID is not a method but has arguments/],
    ['{{join .ID ","}}', /expected \[\]string/],
    ['{{range .ID}}{{end}}', /range can't iterate over abc/],
    ['{{len 3}}', /len of type int/],
    ['{{"x" 1}}', /can't give argument to non-function/],
  ];
  for (const [src, re] of bad) {
    assert.throws(
      () => parseTemplate(src).execute(data),
      (err: unknown) => err instanceof TemplateError && re.test(err.message),
      src,
    );
  }
});

test('sprintf and goQuote', () => {
  assert.equal(
    sprintf('%x %X %o %c %t %e %g', [255, 255, 8, 65, true, 1234.5, 0.00001]),
    'ff FF 10 A true 1.234500e+03 1e-05',
  );
  assert.equal(sprintf('%+d|%3d|%-3d|%.2s', [5, 7, 7, 'abc']), '+5|  7|7  |ab');
  assert.equal(goQuote('a"b\\c\n\t\x1b…'), '"a\\"b\\\\c\\n\\t\\x1b…"');
});

test('tabwrite aligns like Go tabwriter(minwidth 10, padding 3)', () => {
  assert.equal(tabwrite(''), '');
  assert.equal(
    tabwrite('A\tB\tC\nlonger cell\tb\tc\n'),
    'A             B         C\nlonger cell   b         c\n',
  );
  // a column block ends at a line without that column
  assert.equal(tabwrite('aaa\tb\tc\nx\ty\n'), 'aaa       b         c\nx         y\n');
  assert.equal(tabwrite('a\tb\nno tabs here\nc\td\n'), 'a         b\nno tabs here\nc         d\n');
  // trailing cells are not padded; multi-byte characters count once
  assert.equal(tabwrite('é\tx\nabc\ty'), 'é         x\nabc       y');
  assert.equal(tabwrite('a\tb\n', { minwidth: 0, padding: 1 }), 'a b\n');
});

test('human sizes (go-units)', () => {
  const cases: [number, string][] = [
    [0, '0B'],
    [999, '999B'],
    [1000, '1kB'],
    [4100, '4.1kB'],
    [1_234_567, '1.23MB'],
    [999_999, '1e+03kB'],
    [1_500_000_000, '1.5GB'],
    [4_261_574, '4.26MB'],
  ];
  for (const [n, s] of cases) assert.equal(humanSize(n), s, String(n));
  assert.equal(humanSize(4_261_574, 4), '4.262MB');
  assert.equal(bytesSize(0), '0B');
  assert.equal(bytesSize(1536), '1.5KiB');
  assert.equal(bytesSize(1_048_576), '1MiB');
  assert.equal(bytesSize(7.5 * 1024 ** 3), '7.5GiB');
});

test('human durations (go-units HumanDuration)', () => {
  const s = 1000;
  const m = 60 * s;
  const h = 60 * m;
  const d = 24 * h;
  const cases: [number, string][] = [
    [0, 'Less than a second'],
    [999, 'Less than a second'],
    [s, '1 second'],
    [59 * s, '59 seconds'],
    [60 * s, 'About a minute'],
    [119 * s, 'About a minute'],
    [2 * m, '2 minutes'],
    [59 * m, '59 minutes'],
    [60 * m, 'About an hour'],
    [89 * m, 'About an hour'],
    [90 * m, '2 hours'],
    [47 * h, '47 hours'],
    [48 * h, '2 days'],
    [13 * d, '13 days'],
    [14 * d, '2 weeks'],
    [59 * d, '8 weeks'],
    [60 * d, '2 months'],
    [729 * d, '24 months'],
    [731 * d, '2 years'],
  ];
  for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, String(ms));
  const now = Date.parse('2026-01-01T12:00:00Z');
  assert.equal(timeAgo('2026-01-01T11:00:00Z', now), 'About an hour ago');
  assert.equal(timeAgo(now / 1000 - 120, now), '2 minutes ago');
});

test('container status text (State.String)', () => {
  const now = Date.parse('2026-01-01T12:00:00Z');
  const started = '2026-01-01T11:59:57Z';
  const finished = '2026-01-01T11:55:00Z';
  assert.equal(containerStatus({ Running: true, StartedAt: started }, now), 'Up 3 seconds');
  assert.equal(
    containerStatus({ Running: true, Paused: true, StartedAt: started }, now),
    'Up 3 seconds (Paused)',
  );
  assert.equal(
    containerStatus({ Running: true, Restarting: true, ExitCode: 1, FinishedAt: finished }, now),
    'Restarting (1) 5 minutes ago',
  );
  assert.equal(
    containerStatus({ Running: true, StartedAt: started, Health: { Status: 'starting' } }, now),
    'Up 3 seconds (health: starting)',
  );
  assert.equal(
    containerStatus({ Running: true, StartedAt: started, Health: { Status: 'healthy' } }, now),
    'Up 3 seconds (healthy)',
  );
  assert.equal(containerStatus({ StartedAt: '0001-01-01T00:00:00Z' }, now), 'Created');
  assert.equal(
    containerStatus({ StartedAt: started, FinishedAt: finished, ExitCode: 0 }, now),
    'Exited (0) 5 minutes ago',
  );
  assert.equal(containerStatus({ Dead: true, StartedAt: started }, now), 'Dead');
  assert.equal(containerStatus({ RemovalInProgress: true }, now), 'Removal In Progress');
});

test('IDs, commands and ports', () => {
  assert.equal(truncateId('sha256:0123456789abcdef0123'), '0123456789ab');
  assert.equal(truncateId('0123456789abcdef'), '0123456789ab');
  assert.equal(truncateId('abc'), 'abc');
  assert.equal(ellipsis('abcdef', 4), 'abc…');
  assert.equal(ellipsis('abcd', 4), 'abcd');
  assert.equal(ellipsis('日本語テキスト', 6), '日本…');
  assert.equal(formatCommand('sh -c "while true; do sleep 1; done"'), '"sh -c \\"while true; …"');
  assert.equal(
    formatCommand('sh -c "while true; do sleep 1; done"', false),
    '"sh -c \\"while true; do sleep 1; done\\""',
  );
  assert.equal(formatCommand(''), '""');
  assert.equal(
    formatPorts([
      { IP: '::', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
      { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
    ]),
    '0.0.0.0:8080->80/tcp, [::]:8080->80/tcp',
  );
  assert.equal(
    formatPorts([
      { PrivatePort: 81, Type: 'tcp' },
      { PrivatePort: 80, Type: 'tcp' },
      { PrivatePort: 90, Type: 'tcp' },
      { PrivatePort: 53, Type: 'udp' },
      { IP: '0.0.0.0', PrivatePort: 5000, PublicPort: 5000, Type: 'tcp' },
      { IP: '0.0.0.0', PrivatePort: 5001, PublicPort: 5001, Type: 'tcp' },
    ]),
    // Go's DisplayablePorts emits a range as soon as it breaks, before the groups still open
    '80-81/tcp, 53/udp, 90/tcp, 0.0.0.0:5000-5001->5000-5001/tcp',
  );
  assert.equal(formatPorts([]), '');
});

test('formatRows: table headers, escapes, json and plain formats', () => {
  const rows = [
    { ID: 'abc', Name: 'one', Size: '1kB' },
    { ID: 'defghi', Name: 'two', Size: '0B' },
  ];
  const opts = { headers: { ID: 'THING ID' }, defaultTable: 'table {{.ID}}\\t{{.Name}}' };
  assert.equal(formatRows(undefined, rows, opts), 'THING ID   NAME\nabc        one\ndefghi     two\n');
  assert.equal(formatRows('table', rows, opts), formatRows(undefined, rows, opts));
  assert.equal(
    formatRows('table {{.ID}}\\t{{.Size}}\\t{{upper .Name}}', rows, opts),
    'THING ID   SIZE      NAME\nabc        1kB       ONE\ndefghi     0B        TWO\n',
  );
  assert.equal(formatRows('{{.ID}}:{{.Name}}', rows, opts), 'abc:one\ndefghi:two\n');
  assert.equal(formatRows('{{.ID}}\\n', rows, opts), 'abc\n\ndefghi\n\n');
  assert.equal(formatRows('json', rows, opts), `${JSON.stringify(rows[0])}\n${JSON.stringify(rows[1])}\n`);
  assert.equal(formatRows('table {{.ID}}  ', [], opts), 'THING ID\n');
  // like Docker, a leading space means the format is not a table
  assert.equal(formatRows(' table {{.ID}}', rows, opts), 'table abc\ntable defghi\n');
  assert.throws(() => formatRows('{{nope}}', rows, opts), /function "nope" not defined/);
  assert.deepEqual(resolveFormat('table {{.A}}\\t{{.B}}', ''), { table: true, source: '{{.A}}\t{{.B}}' });
  assert.equal(defaultHeader('CreatedAt'), 'CREATED AT');
  assert.equal(defaultHeader('ID'), 'ID');
  assert.equal(inspectJson([{ a: 1 }]), '[\n    {\n        "a": 1\n    }\n]\n');
  assert.equal(
    formatInspect(
      [
        { Id: 'x', State: { Status: 'up' } },
        { Id: 'y', State: {} },
      ],
      '{{.Id}}\\t{{.State.Status}}',
    ),
    // like docker inspect, `\t` stays literal
    'x\\tup\ny\\t<no value>\n',
  );
  assert.equal(formatInspect([{ a: 1 }]), inspectJson([{ a: 1 }]));
});

test('progress bars (JSONProgress.String)', () => {
  const now = 1_000_000;
  assert.equal(progressString({}, 200, now), '');
  assert.equal(progressString({ current: 1234 }, 200, now), ' 1.234kB');
  assert.equal(progressString({ current: 3, units: 'items' }, 200, now), '3 items');
  assert.equal(
    progressString({ current: 150_000, total: 300_000 }, 200, now),
    `[${'='.repeat(25)}>${' '.repeat(25)}]    150kB/300kB`,
  );
  assert.equal(
    // Go's integer Duration math: 10s/150000 per entry, times 150000 left, truncated to seconds
    progressString({ current: 150_000, total: 300_000, start: now - 10 }, 200, now).endsWith(' 9s'),
    true,
  );
  assert.equal(
    progressString({ current: 1, total: 300_000, start: now - 10 }, 80, now),
    '      1B/300kB 833h19m50s',
  );
  assert.equal(
    progressString({ current: 150_000, total: 300_000, start: now - 10 }, 40, now),
    '   150kB/300kB',
  );
  assert.equal(progressString({ current: 400, total: 300 }, 40, now), '    400B');
  assert.equal(progressString({ current: 2, total: 5, units: 'layers' }, 40, now), '2/5 layers');
  assert.equal(
    progressString({ current: 2, total: 5, hidecounts: true }, 200, now),
    `[${'='.repeat(20)}>${' '.repeat(30)}] `,
  );
});

async function shown(messages: JsonMessage[], terminal = false): Promise<{ text: string; aux: unknown[] }> {
  let text = '';
  const aux: unknown[] = [];
  const sink = new Writable({
    write(c, _e, cb) {
      text += c.toString();
      cb();
    },
  });
  await displayJsonMessages(
    (async function* () {
      yield* messages;
    })(),
    sink,
    { terminal, onAux: (a) => aux.push(a) },
  );
  return { text, aux };
}

test('progress display: streams, aux, errors', async () => {
  const build = await shown([
    { stream: 'Step 1/2 : FROM busybox\n' },
    { aux: { ID: 'sha256:abc' } },
    { stream: ' ---> abc\n' },
  ]);
  assert.equal(build.text, 'Step 1/2 : FROM busybox\n ---> abc\n');
  assert.deepEqual(build.aux, [{ ID: 'sha256:abc' }]);
  const loaded = await shown([
    { status: 'Loading layer', progressDetail: { current: 5, total: 10 }, id: 'l1' },
    { stream: 'Loaded image: x:1\n' },
  ]);
  assert.equal(loaded.text, 'Loaded image: x:1\n');
  await assert.rejects(
    shown([
      { status: 'Pulling', id: 'a' },
      { errorDetail: { message: 'manifest unknown' }, error: 'manifest unknown' },
    ]),
    (err: unknown) => err instanceof ProgressError && err.message === 'manifest unknown',
  );
  await assert.rejects(
    shown([{ errorDetail: { code: 401, message: 'unauthorized' }, error: 'unauthorized' }]),
    /authentication is required/,
  );
});
