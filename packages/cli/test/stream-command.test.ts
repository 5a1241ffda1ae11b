import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNatsTransport } from '@orchestr8/streams';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { useNats } from '../../streams/test/use-nats.js';
import {
  assertBuilt,
  BIN,
  type CliOptions,
  cli as cliIn,
  startCli as startCliIn,
  useTempRoot,
} from './fixtures/harness.js';

const FIX = join(import.meta.dirname, 'fixtures/streams');

/** The URL `serve` prints once it listens, from its stdout so far. */
const listening = (out: () => string) =>
  vi.waitFor(
    () => {
      const m = /listening on (http:\S+)/.exec(out());
      if (!m) throw new Error(`serve is not listening yet: ${out()}`);
      return m[1]!;
    },
    { timeout: 60_000, interval: 50 },
  );
const DOC = join(FIX, 'match.stream.yaml');
const EVENTS = join(FIX, 'events.ndjson');
const tmp = useTempRoot('o8-stream-');

/** Every command runs in a temporary project: the crews' executions go to its SQLite store. */
let work: string;
beforeAll(() => {
  assertBuilt();
  work = tmp();
});
const cli = (args: readonly string[], options: CliOptions = {}) => cliIn(args, { cwd: work, ...options });
const startCli = (args: readonly string[], options: CliOptions & { timeoutMs?: number } = {}) =>
  startCliIn(args, { cwd: work, ...options });

const lines = (s: string) =>
  s
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));

describe('orchestr8 stream', () => {
  it('validate: valid documents exit 0; problems are reported with file:line:col and exit 1', async () => {
    const ok = await cli(['stream', 'validate', DOC]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('match.stream.yaml: valid');
    const bad = join(tmp(), 'bad.yaml');
    writeFileSync(
      bad,
      readFileSync(DOC, 'utf8')
        .replace('dependsOn: [scorer]', 'dependsOn: [nobody]')
        .replace('slice: 500ms', 'slise: 500ms'),
    );
    const r = await cli(['stream', 'validate', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${bad}:4:1 error E_SCHEMA unknown field "slise" (at /slise)`);
    expect(r.stderr).toContain('hint: did you mean "slice"?');
    // The reference problem in the same run as the schema's.
    expect(r.stderr).toMatch(/bad\.yaml:\d+:\d+ error E_UNKNOWN_CREW no crew "nobody"/);
    const missing = await cli(['stream', 'validate', join(tmp(), 'nope.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/E_READ cannot read .*nope\.yaml: no such file/);
  });

  it('validate and run: a crew workflow named by id is looked for as run looks for it, and one not found is reported at the crew (exit 1)', async () => {
    const dir = tmp();
    const doc = join(dir, 'named.stream.yaml');
    writeFileSync(
      doc,
      'version: "1.0.0"\nid: named\nslice: 500ms\nevents:\n  goal: {}\ncrews:\n  - id: scorer\n    on: [goal]\n    workflow: scoring\n',
    );
    const r = await cli(['stream', 'validate', doc]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `${doc}:9:15 error E_CREW_WORKFLOW crew "scorer": no workflow "scoring" (at /crews/0/workflow)`,
    );
    // run refuses it the same way, before reading any event (an unusable document: exit 2).
    const run = await cli(['stream', 'run', doc, '--events', EVENTS]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('E_CREW_WORKFLOW crew "scorer": no workflow "scoring"');
    // So does replay (an empty recording: the document is refused before it is read).
    const empty = join(dir, 'empty.ndjson');
    writeFileSync(empty, '');
    const replay = await cli(['stream', 'replay', doc, '--events', empty, '--actions', empty]);
    expect(replay.code).toBe(2);
    expect(replay.stderr).toContain(`${doc}:9:15 error E_CREW_WORKFLOW crew "scorer": no workflow "scoring"`);
    // status never runs crews: it does not look for them (here it goes on to the server).
    const status = await cli(['stream', 'status', doc, '--server', 'http://127.0.0.1:9']);
    expect(status.stderr).not.toContain('E_CREW_WORKFLOW');
    expect(status.stderr).toContain('error NETWORK: cannot reach http://127.0.0.1:9');
    // A directory of that name is not a workflow: reported the same way, not a crash.
    mkdirSync(join(dir, 'scoring.yaml'));
    const dirNamed = await cli(['stream', 'validate', doc]);
    expect(dirNamed.code).toBe(1);
    expect(dirNamed.stderr).toContain('E_CREW_WORKFLOW crew "scorer": no workflow "scoring"');
    rmSync(join(dir, 'scoring.yaml'), { recursive: true });
    // A workflow file with errors: reported with its own file, line and column.
    const broken = join(dir, 'broken.stream.yaml');
    writeFileSync(
      broken,
      readFileSync(doc, 'utf8')
        .replace('id: named', 'id: brokenflow')
        .replace('workflow: scoring', 'workflow: broken'),
    );
    writeFileSync(join(dir, 'broken.yaml'), 'version: "1.0.0"\nmetadata: { id: broken }\nsteps: 3\n');
    const invalid = await cli(['stream', 'validate', broken]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toBe(`${join(dir, 'broken.yaml')}:3:8 error E_SCHEMA must be array (at /steps)\n`);
    const runInvalid = await cli(['stream', 'run', broken, '--events', EVENTS]);
    expect(runInvalid.code).toBe(2);
    expect(runInvalid.stderr).toBe(
      `${join(dir, 'broken.yaml')}:3:8 error E_SCHEMA must be array (at /steps)\n`,
    );
    // serve --stream refuses it before listening.
    const served = await cli(['serve', '--port', '0', '--stream', doc]);
    expect(served.code).toBe(2);
    expect(served.stderr).toContain(`${doc}:9:15 error E_CREW_WORKFLOW crew "scorer": no workflow "scoring"`);
    // Next to the document (or in ./workflows), it is found.
    writeFileSync(
      join(dir, 'scoring.yaml'),
      'version: "1.0.0"\nmetadata: { id: scoring }\nsteps:\n  - id: s\n    agent: "@orchestr8/echo"\n    input: { actions: [] }\n',
    );
    const ok = await cli(['stream', 'validate', doc]);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    // Eight CLI runs: over the default 20 s on a loaded machine.
  }, 90_000);

  it('help: --store says once where executions are recorded; status says --nats or --server is required', async () => {
    const flat = (t: string) => t.replace(/\s+/g, ' ');
    const run = flat((await cli(['stream', 'run', '--help'])).stdout);
    expect(run).toContain("where the crews' executions are recorded: sqlite:<path>");
    const replay = flat((await cli(['stream', 'replay', '--help'])).stdout);
    expect(replay).toContain("(and the replay's are recorded): sqlite:<path>");
    for (const text of [run, replay]) expect(text).not.toMatch(/recorded\)?: where executions/);
    const status = flat((await cli(['stream', 'status', '--help'])).stdout);
    expect(status).toContain('(this or --server is required)');
    expect(status).toContain('(this or --nats is required)');
  });

  it('serve refuses the same stream given twice as a usage error (exit 2), naming both files', async () => {
    const r = await cli(['serve', '--port', '0', '--stream', DOC, '--stream', DOC]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('stream "match" is given twice (also by');
    expect(r.stderr).not.toContain('AGENT_FAILED');
  });

  it('run --events: NDJSON events in, NDJSON actions out, refused events on stderr; replay of the recording matches', async () => {
    const slices = join(tmp(), 'slices.ndjson');
    const r = await cli(['stream', 'run', DOC, '--events', EVENTS, '--slices-out', slices]);
    expect(r.code).toBe(0);
    const actions = lines(r.stdout);
    expect(actions.map((a) => [a.id, a.kind, a.payload])).toEqual([
      ['match:0:scorer:0', 'announce', { team: 'home', goalsBefore: 0 }],
      ['match:0:referee:0', 'review', { events: 2, announcements: 1 }],
      ['match:1:scorer:0', 'announce', { team: 'away', goalsBefore: 1 }],
      ['match:1:scorer:1', 'announce', { team: 'home', goalsBefore: 1 }],
      ['match:1:referee:0', 'review', { events: 2, announcements: 2 }],
    ]);
    expect(r.stderr).toContain(
      'invalid-event (event bad): VALIDATION /payload: payload missing required field "player"; /payload/team: payload must be string',
    );
    expect(r.stderr).toMatch(/invalid-event \(.*events\.ndjson:6: not JSON/);
    expect(r.stderr).toContain(
      'stream match: 6 events read, 4 accepted, 2 refused, 0 duplicates; 2 slices, 5 actions, 0 crew errors',
    );

    const recorded = join(tmp(), 'actions.ndjson');
    writeFileSync(recorded, r.stdout);
    const same = await cli([
      'stream',
      'replay',
      DOC,
      '--events',
      EVENTS,
      '--actions',
      recorded,
      '--slices',
      slices,
    ]);
    expect(same.stdout).toContain('replay matches: 2 slices, 5 recorded actions, 0 mismatches');
    expect(same.code).toBe(0);

    // An edited recording: the replay names the action that differs, and exits 1.
    writeFileSync(recorded, r.stdout.replace('"goalsBefore":1', '"goalsBefore":7'));
    const differs = await cli(['stream', 'replay', DOC, '--events', EVENTS, '--actions', recorded, '--json']);
    expect(differs.code).toBe(1);
    const report = JSON.parse(differs.stdout);
    expect(report).toMatchObject({
      ok: false,
      slicesCompared: 2,
      context: { goals: 3, scorers: ['ada', 'bo'], lastScorer: 'ada' },
    });
    expect(report.mismatches.map((m: { slice: number; message: string }) => [m.slice, m.message])).toEqual([
      [1, 'action match:1:scorer:0 differs'],
    ]);
  }, 90_000);

  it('run --events: an id already taken in its slice is dropped, reported and counted; in another slice it is another event, and the recording replays', async () => {
    const dir = tmp();
    const goal = (id: string, ms: number, player: string) =>
      `${JSON.stringify({ id, ts: `2026-01-01T00:00:00.${String(ms).padStart(3, '0')}Z`, kind: 'goal', stream: 'match', payload: { team: 'home', player } })}\n`;
    const events = join(dir, 'events.ndjson');
    // Slices are 500ms: e1 twice in slice 0 (the second dropped), then once in slice 1.
    writeFileSync(
      events,
      goal('e1', 100, 'ada') + goal('e2', 200, 'bo') + goal('e1', 300, 'cy') + goal('e1', 700, 'di'),
    );
    const slices = join(dir, 'slices.ndjson');
    const r = await cli(['stream', 'run', DOC, '--events', events, '--slices-out', slices]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      'duplicate-event (slice 0, event e1): CONFLICT slice 0 already holds an event "e1" (a different one): the first is kept, this one dropped',
    );
    expect(r.stderr).toContain(
      'stream match: 4 events read, 3 accepted, 0 refused, 1 duplicate; 2 slices, 5 actions, 0 crew errors',
    );
    expect(lines(readFileSync(slices, 'utf8')).map((x) => x.eventIds)).toEqual([['e1', 'e2'], ['e1']]);
    const actions = join(dir, 'actions.ndjson');
    writeFileSync(actions, r.stdout);
    for (const withSlices of [['--slices', slices], []]) {
      const replay = await cli([
        'stream',
        'replay',
        DOC,
        '--events',
        events,
        '--actions',
        actions,
        ...withSlices,
      ]);
      expect(replay.stdout).toContain('replay matches: 2 slices, 5 recorded actions, 0 mismatches');
      expect(replay.code).toBe(0);
    }
  }, 90_000);

  it('replay: --from not before --to is a usage error (exit 2); a range with no slice compares nothing (exit 1)', async () => {
    const replay = (...range: string[]) =>
      cli(['stream', 'replay', DOC, '--events', join(FIX, 'events.ndjson'), '--actions', empty, ...range]);
    const empty = join(tmp(), 'none.ndjson');
    writeFileSync(empty, '');
    const reversed = await replay('--from', '2027-01-01', '--to', '2026-01-01');
    expect(reversed.code).toBe(2);
    expect(reversed.stderr).toContain(
      'error: --from (2027-01-01) must be before --to (2026-01-01): no slice starts in that range',
    );
    expect((await replay('--from', '1000', '--to', '1000')).code).toBe(2);
    const later = await replay('--from', '2030-01-01T00:00:00Z', '--to', '2030-01-02T00:00:00Z');
    expect(later.stdout).toBe('replay compared nothing: 0 slices, 0 recorded actions, 0 mismatches\n');
    expect(later.stderr).toContain(
      'stream replay: no slice to compare: no slice of the recording starts in the range (--from 2030-01-01T00:00:00Z --to 2030-01-02T00:00:00Z)',
    );
    expect(later.code).toBe(1);
    const json = await replay('--from', '2030-01-01T00:00:00Z', '--json');
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, slicesCompared: 0 });
    expect(json.code).toBe(1);
    const nothing = await cli(['stream', 'replay', DOC, '--events', empty, '--actions', empty]);
    expect(nothing.stderr).toContain(
      'stream replay: no slice to compare: the event log holds no valid event',
    );
    expect(nothing.code).toBe(1);
  }, 90_000);

  it("validate: a crew workflow not found, and the errors of one found, are reported with the document's other problems", async () => {
    const dir = tmp();
    const doc = join(dir, 'many.stream.yaml');
    writeFileSync(
      doc,
      'version: "1.0.0"\nid: many\nslice: 500ms\nevents:\n  goal: {}\ncrews:\n  - id: a\n    on: [goal]\n    workflow: nope\n  - id: b\n    on: [gaol]\n    dependsOn: [aa]\n    workflow: broken\n',
    );
    writeFileSync(join(dir, 'broken.yaml'), 'version: "1.0.0"\nmetadata: { id: broken }\nsteps: 3\n');
    const r = await cli(['stream', 'validate', doc]);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n').filter((l) => / error /.test(l))).toEqual([
      `${doc}:9:15 error E_CREW_WORKFLOW crew "a": no workflow "nope" (at /crews/0/workflow)`,
      `${doc}:11:10 error E_UNKNOWN_KIND event kind "gaol" is not declared in events (at /crews/1/on/0)`,
      `${doc}:12:17 error E_UNKNOWN_CREW no crew "aa" (at /crews/1/dependsOn/0)`,
      `${join(dir, 'broken.yaml')}:3:8 error E_SCHEMA must be array (at /steps)`,
    ]);
  });

  it('run --events - reads the events from stdin', async () => {
    const child = spawn(process.execPath, [BIN, 'stream', 'run', DOC, '--events', '-'], {
      cwd: work,
      env: { ...process.env, NO_COLOR: '1' },
    });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stdin.end(readFileSync(EVENTS, 'utf8'));
    const code = await new Promise((r) => child.on('close', r));
    expect(code).toBe(0);
    expect(lines(stdout)).toHaveLength(5);
  });

  it('crews may use the agents of --agents modules', async () => {
    const events = join(tmp(), 'ticks.ndjson');
    writeFileSync(
      events,
      [10, 20, 1500]
        .map(
          (ts, i) => `${JSON.stringify({ id: `t${i}`, ts, kind: 'tick', stream: 'tally', payload: {} })}\n`,
        )
        .join(''),
    );
    const r = await cli([
      'stream',
      'run',
      join(FIX, 'tally.stream.yaml'),
      '--events',
      events,
      '--agents',
      join(FIX, 'agents.mjs'),
    ]);
    expect(r.code).toBe(0);
    expect(lines(r.stdout).map((a) => a.payload)).toEqual([
      { n: 2, slice: 0 },
      { n: 1, slice: 1 },
    ]);
  });

  it("run --events records each slice's crews as executions in the project's store (SQLite by default)", async () => {
    const project = tmp();
    const r = await cli(['stream', 'run', DOC, '--events', EVENTS], { cwd: project });
    expect(r.code).toBe(0);
    const list = await cli(['list', '--json'], { cwd: project });
    expect(list.code).toBe(0);
    const items = JSON.parse(list.stdout) as { status: string }[];
    // Two slices, two crews each (scorer, referee).
    expect(items).toHaveLength(4);
    expect(items.every((e) => e.status === 'completed')).toBe(true);
  }, 60_000);

  it('replay --recorded-outputs reproduces a stream whose crews are not deterministic; a plain replay does not', async () => {
    const project = tmp();
    const doc = join(FIX, 'dice.stream.yaml');
    const events = join(project, 'ticks.ndjson');
    writeFileSync(
      events,
      [10, 20, 1500, 2500]
        .map((ts, i) => `${JSON.stringify({ id: `t${i}`, ts, kind: 'tick', stream: 'dice', payload: {} })}\n`)
        .join(''),
    );
    const slices = join(project, 'slices.ndjson');
    const agents = ['--agents', join(FIX, 'agents.mjs')];
    const r = await cli(['stream', 'run', doc, '--events', events, '--slices-out', slices, ...agents], {
      cwd: project,
    });
    expect(r.code).toBe(0);
    const actions = join(project, 'actions.ndjson');
    writeFileSync(actions, r.stdout);
    expect(lines(r.stdout)).toHaveLength(3);
    const args = [
      'stream',
      'replay',
      doc,
      '--events',
      events,
      '--actions',
      actions,
      '--slices',
      slices,
      ...agents,
    ];
    const exact = await cli([...args, '--recorded-outputs'], { cwd: project });
    expect(exact.stdout).toContain('replay matches: 3 slices, 3 recorded actions, 0 mismatches');
    expect(exact.code).toBe(0);
    const rolled = await cli([...args, '--json'], { cwd: project });
    expect(rolled.code).toBe(1);
    expect(JSON.parse(rolled.stdout).mismatches).toHaveLength(3);
    // Without the slice records there is nothing to find the recorded executions by.
    const noSlices = await cli(
      ['stream', 'replay', doc, '--events', events, '--actions', actions, '--recorded-outputs'],
      { cwd: project },
    );
    expect(noSlices.code).toBe(2);
    expect(noSlices.stderr).toContain(
      '--recorded-outputs needs the slice records (--slices <file>, or --nats)',
    );
  }, 120_000);

  it('serve --stream: events over HTTP, actions over SSE, crews as executions in the store, stream metrics', async () => {
    const project = tmp();
    const serve = startCli(['serve', '--port', '0', '--stream', DOC, '--stream-grace', '50ms'], {
      cwd: project,
      timeoutMs: 120_000,
    });
    let out = '';
    serve.child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const url = await listening(() => out);
    const abort = new AbortController();
    const sse = await fetch(`${url}/streams/match/actions`, { signal: abort.signal });
    expect(sse.headers.get('content-type')).toMatch(/^text\/event-stream/);
    let frames = '';
    void (async () => {
      for await (const c of sse.body as unknown as AsyncIterable<Uint8Array>)
        frames += Buffer.from(c).toString();
    })().catch(() => {});
    // In a slice still open: the clock is real here.
    const ts = Date.now() + 600;
    const body = [
      { id: 'h1', ts, kind: 'goal', payload: { team: 'home', player: 'ada' } },
      { id: 'h2', ts, kind: 'card', payload: {} },
    ]
      .map((e) => JSON.stringify(e))
      .join('\n');
    const post = await fetch(`${url}/streams/match/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body,
    });
    expect(post.status).toBe(202);
    expect(await post.json()).toEqual({ accepted: 2, duplicates: 0, late: 0 });
    await expect
      .poll(() => (frames.match(/^event: action$/gm) ?? []).length, { timeout: 30_000, interval: 50 })
      .toBeGreaterThanOrEqual(2);
    abort.abort();
    const data = frames
      .split('\n')
      .filter((l) => l.startsWith('data: '))
      .map((l) => JSON.parse(l.slice(6)));
    expect(data.map((a) => [a.crew, a.kind, a.payload])).toEqual([
      ['scorer', 'announce', { team: 'home', goalsBefore: 0 }],
      ['referee', 'review', { events: 2, announcements: 1 }],
    ]);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain('orchestr8_stream_events_total{stream="match"} 2');
    expect(metrics).toContain('orchestr8_stream_actions_total{stream="match"} 2');
    const status = await cli(['stream', 'status', DOC, '--server', url], { cwd: project });
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^stream match: committed slice \d+, lag \d+ ms, backlog 0 slices$/m);
    expect(status.stdout).toContain('processed: 2 events, 2 actions, 1 slices');
    expect(status.stdout).toMatch(
      new RegExp(`^processor \\S+ \\(pid ${serve.child.pid}\\): running, heartbeat [\\d.]+ (ms|s) ago`, 'm'),
    );
    serve.child.kill('SIGTERM');
    expect((await serve.done).code).toBe(0);
    const list = await cli(['list', '--json'], { cwd: project });
    expect((JSON.parse(list.stdout) as unknown[]).length).toBe(2);
  }, 150_000);

  it('refuses bad usage with a clear message and exit 2', async () => {
    const both = await cli(['stream', 'run', DOC]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain(
      'error: stream run needs exactly one of --events <file|-> and --nats <url>',
    );
    const time = await cli([
      'stream',
      'replay',
      DOC,
      '--events',
      EVENTS,
      '--actions',
      EVENTS,
      '--from',
      'yesterday',
    ]);
    expect(time.code).toBe(2);
    expect(time.stderr).toContain(
      'error: --from expects an ISO-8601 time or epoch milliseconds, got "yesterday"',
    );
  });

  describe('on NATS JetStream', () => {
    const nats = useNats();

    it('run --nats processes live events until Ctrl-C; replay --nats reproduces its actions', async () => {
      const transport = await createNatsTransport({ streamId: 'match', servers: nats.url });
      const events = readFileSync(EVENTS, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{'));
      for (const e of events) await transport.publishEvent(JSON.parse(e));
      const run = startCli(['stream', 'run', DOC, '--nats', nats.url], { timeoutMs: 60_000 });
      let out = '';
      run.child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      await expect
        .poll(() => out.split('\n').filter(Boolean).length, { timeout: 45_000, interval: 50 })
        .toBeGreaterThanOrEqual(5);
      run.child.kill('SIGINT');
      const done = await run.done;
      expect(done.code).toBe(0);
      expect(lines(done.stdout).map((a) => a.id)).toEqual([
        'match:0:scorer:0',
        'match:0:referee:0',
        'match:1:scorer:0',
        'match:1:scorer:1',
        'match:1:referee:0',
      ]);
      expect(done.stderr).toContain('invalid-event (event bad)');
      expect(done.stderr).toContain('stream match: stopped after slice 1 (4 events, 5 actions)');
      expect((await transport.loadContext())?.values).toEqual({
        goals: 3,
        scorers: ['ada', 'bo'],
        lastScorer: 'ada',
      });
      await transport.close();

      const status = await cli(['stream', 'status', DOC, '--nats', nats.url, '--json']);
      expect(status.code).toBe(0);
      expect(JSON.parse(status.stdout)).toMatchObject({
        stream: 'match',
        committedSlice: 1,
        backlog: 0,
        events: 5,
        actions: 5,
        errors: 1,
        recent: 2,
        crews: { scorer: { runs: 2, failures: 0 }, referee: { runs: 2, failures: 0 } },
      });
      const text = await cli(['stream', 'status', DOC, '--nats', nats.url]);
      expect(text.stdout).toMatch(/^stream match: committed slice 1, lag \d+ ms, backlog 0 events$/m);

      const replay = await cli(['stream', 'replay', DOC, '--nats', nats.url]);
      expect(replay.stdout).toContain('replay matches: 2 slices, 5 recorded actions, 0 mismatches');
      expect(replay.code).toBe(0);
    }, 90_000);

    it('run --nats: a second processor on the same stream says it is a standby, and takes over when the first stops', async () => {
      // A short ack wait: the claim lasts that long, and a standby retries every third of it.
      const args = ['stream', 'run', DOC, '--nats', nats.url, '--ack-wait', '3s', '--processor-id'];
      const first = startCli([...args, 'first'], { timeoutMs: 60_000 });
      await expect
        .poll(() => first.output().stderr, { timeout: 45_000, interval: 50 })
        .toContain('stream match: processing events from');
      const second = startCli([...args, 'second'], { timeoutMs: 60_000 });
      await expect
        .poll(() => second.output().stderr, { timeout: 45_000, interval: 50 })
        .toContain('stream match: standby, another processor holds the stream');
      expect(second.output().stderr).not.toContain('processing events from');
      // stream status tells the holder from the standby by their heartbeats.
      await vi.waitFor(
        async () => {
          const status = await cli(['stream', 'status', DOC, '--nats', nats.url]);
          expect(status.stdout).toMatch(
            new RegExp(`^processor first \\(pid ${first.child.pid}\\): running, heartbeat`, 'm'),
          );
          expect(status.stdout).toMatch(
            new RegExp(
              `^processor second \\(pid ${second.child.pid}\\): standby \\(another processor holds the stream\\)`,
              'm',
            ),
          );
        },
        { timeout: 45_000, interval: 500 },
      );
      first.child.kill('SIGINT');
      expect((await first.done).code).toBe(0);
      await expect
        .poll(() => second.output().stderr, { timeout: 45_000, interval: 50 })
        .toContain('stream match: processing events from');
      second.child.kill('SIGINT');
      expect((await second.done).code).toBe(0);
    }, 120_000);

    it('serve --stream --stream-nats: events POSTed over HTTP are logged on JetStream and processed into its actions and KV context', async () => {
      const project = tmp();
      const serve = startCli(['serve', '--port', '0', '--stream', DOC, '--stream-nats', nats.url], {
        cwd: project,
        timeoutMs: 120_000,
      });
      const url = await listening(() => serve.output().stdout);
      const ts = Date.now() + 600;
      const post = await fetch(`${url}/streams/match/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([{ id: 'n1', ts, kind: 'goal', payload: { team: 'home', player: 'cy' } }]),
      });
      expect(await post.json()).toEqual({ accepted: 1, duplicates: 0, late: 0 });
      const transport = await createNatsTransport({
        streamId: 'match',
        servers: nats.url,
        consumer: 'reader',
      });
      try {
        await expect
          .poll(
            async () =>
              (await transport.readActions()).some(
                (a) => a.id.endsWith(':scorer:0') && (a.payload as any).team === 'home' && a.ts > ts - 1000,
              ),
            { timeout: 30_000, interval: 100 },
          )
          .toBe(true);
        expect((await transport.readEvents()).map((e: any) => e.id)).toContain('n1');
        const context = (await transport.loadContext())!;
        expect(context.values.scorers).toContain('cy');
      } finally {
        await transport.close();
      }
      serve.child.kill('SIGTERM');
      expect((await serve.done).code).toBe(0);
    }, 150_000);

    it('SIGKILL mid-stream, then restart: no event applied twice to the context, no slice lost, no action published twice', async () => {
      // The first to connect creates the durable consumer: with the same ack wait as the CLI's.
      const transport = await createNatsTransport({ streamId: 'tally', servers: nats.url, ackWaitMs: 1000 });
      // 20 slices of 5 events each, long ago: a backlog the processor works through.
      for (let i = 0; i < 100; i++)
        await transport.publishEvent({
          id: `k${i}`,
          ts: Math.floor(i / 5) * 1000 + (i % 5),
          kind: 'tick',
          stream: 'tally',
          payload: {},
        });
      const args = [
        'stream',
        'run',
        join(FIX, 'tally.stream.yaml'),
        '--nats',
        nats.url,
        '--agents',
        join(FIX, 'agents.mjs'),
        '--ack-wait',
        '1s',
        '--heartbeat',
        '200ms',
      ];
      const env = { ORCHESTR8_TEST_TALLY_MS: '150' }; // a slow crew: the kill lands mid-stream
      const first = startCli(args, { env, timeoutMs: 60_000 });
      let printed = '';
      first.child.stdout!.on('data', (d: Buffer) => (printed += d.toString()));
      await expect
        .poll(() => printed.split('\n').filter(Boolean).length, { timeout: 45_000, interval: 20 })
        .toBeGreaterThanOrEqual(5);
      first.child.kill('SIGKILL');
      expect((await first.done).signal).toBe('SIGKILL');
      const before = (await transport.loadContext())!;
      expect(before.slice).toBeGreaterThanOrEqual(3);
      expect(before.slice).toBeLessThan(19);
      // The dead processor's heartbeat goes stale after three silent intervals.
      const tally = join(FIX, 'tally.stream.yaml');
      const stale = await vi.waitFor(
        async () => {
          const r = await cli(['stream', 'status', tally, '--nats', nats.url]);
          expect(r.stdout).toContain('STALE');
          return r;
        },
        { timeout: 20_000, interval: 200 },
      );
      expect(stale.stdout).toMatch(
        new RegExp(
          `^processor \\S+ \\(pid ${first.child.pid}\\): STALE: no heartbeat for [\\d.]+ (ms|s) \\(every 200 ms expected\\); at slice \\d+`,
          'm',
        ),
      );
      expect(stale.code).toBe(1);

      const second = startCli(args, { env, timeoutMs: 90_000 });
      await expect
        .poll(async () => (await transport.loadContext())!.slice, { timeout: 60_000, interval: 50 })
        .toBeGreaterThanOrEqual(19);
      second.child.kill('SIGINT');
      expect((await second.done).code).toBe(0);

      expect((await transport.loadContext())!).toEqual({ slice: 19, values: { tally: 100 } });
      // The restarted processor took the dead one's place; stopped cleanly, it is not stale.
      const after = await cli([
        'stream',
        'status',
        join(FIX, 'tally.stream.yaml'),
        '--nats',
        nats.url,
        '--json',
      ]);
      expect(after.code).toBe(0);
      expect(JSON.parse(after.stdout).processors).toEqual([
        expect.objectContaining({
          pid: second.child.pid,
          state: 'stopped',
          stale: false,
          committedSlice: 19,
        }),
      ]);
      const actions = await transport.readActions();
      expect(actions.map((a) => a.payload)).toEqual(
        Array.from({ length: 20 }, (_, slice) => ({ n: 5, slice })),
      );
      expect(new Set(actions.map((a) => a.id)).size).toBe(20);
      expect((await transport.readSlices()).map((r) => r.index)).toEqual(
        Array.from({ length: 20 }, (_, i) => i),
      );
      await transport.close();
    }, 150_000);
  });
});
