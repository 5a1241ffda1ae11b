import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadStream, loadStreamFile, STREAM_JSON_SCHEMA, validateStreamObject } from '../src/index.js';

const valid = `version: "1.0.0"
id: match
slice: 500ms
epoch: "2026-01-01T00:00:00Z"
events:
  goal:
    payload:
      type: object
      required: [team]
  card: {}
context:
  keys:
    score: counter
    scorers: union
  initial:
    score: 0
backlog: merge
crews:
  - id: scorer
    on: [goal]
    steps:
      - id: echo
        agent: "@orchestr8/echo"
        input: { actions: [] }
  - id: referee
    on: [card]
    dependsOn: [scorer]
    timeout: 2s
    onError: skip-dependents
    workflow:
      version: "1.0.0"
      metadata: { id: referee }
      steps:
        - id: a
          agent: "@orchestr8/echo"
          input: {}
`;

describe('stream documents', () => {
  it('compiles a valid document: slice length, epoch, policies, dependency order', () => {
    const r = loadStream(valid);
    expect(r.diagnostics).toEqual([]);
    const s = r.stream!;
    expect(s.sliceMs).toBe(500);
    expect(s.epochMs).toBe(Date.parse('2026-01-01T00:00:00Z'));
    expect(s.backlog).toBe('merge');
    expect(s.keyPolicies).toEqual({ score: 'counter', scorers: 'union' });
    expect(s.order.map((c) => c.id)).toEqual(['scorer', 'referee']);
    expect(s.crews[1]).toMatchObject({ timeoutMs: 2000, onError: 'skip-dependents' });
    expect(s.crews[0]!.timeoutMs).toBe(10_000);
  });

  it('reports schema problems with line and column, and suggests a misspelt field', () => {
    const r = loadStream(
      valid.replace('backlog: merge', 'backlogg: merge').replace('slice: 500ms', 'slice: 0ms'),
      {
        filename: 's.yaml',
      },
    );
    expect(r.ok).toBe(false);
    const unknown = r.diagnostics.find((d) => d.message.includes('unknown field "backlogg"'))!;
    expect(unknown).toMatchObject({
      code: 'E_SCHEMA',
      file: 's.yaml',
      line: 17,
      column: 1,
      hint: 'did you mean "backlog"?',
    });
    const slice = r.diagnostics.find((d) => d.pointer === '/slice')!;
    expect(slice.message).toMatch(/greater than zero/);
    expect(slice.line).toBe(3);
  });

  it('reads durations as workflows do: days and fractions, one parser and pattern for both', () => {
    const doc = valid
      .replace('slice: 500ms', 'slice: 1d')
      .replace('timeout: 2s', 'timeout: 1.5s')
      .replace('backlog: merge', 'backlog: merge\nactions:\n  ttl: 3d');
    const r = loadStream(doc);
    expect(r.diagnostics).toEqual([]);
    expect(r.stream!.sliceMs).toBe(86_400_000);
    expect(r.stream!.crews[1]!.timeoutMs).toBe(1500);
    expect(r.stream!.actionTtlMs).toBe(3 * 86_400_000);

    const bad = loadStream(valid.replace('timeout: 2s', 'timeout: 2w'), { filename: 's.yaml' });
    const timeout = bad.diagnostics.find((d) => d.pointer === '/crews/1/timeout')!;
    expect(timeout.message).toMatch(/"3d"/);
    expect(timeout.line).toBe(28);

    // What the pattern allows but a timer cannot do: under a millisecond, beyond 24.8 days.
    const untimed = loadStream(
      valid.replace('slice: 500ms', 'slice: 0.5ms').replace('timeout: 2s', 'timeout: 25d'),
    );
    expect(untimed.diagnostics.map((d) => [d.pointer, d.message])).toEqual([
      ['/slice', 'must be a duration from 1ms to 24 days (2147483647 ms)'],
      ['/crews/1/timeout', 'must be a duration from 1ms to 24 days (2147483647 ms)'],
    ]);
  });

  it('reports unknown kinds, unknown crews, cycles and duplicate crews where they are written', () => {
    const doc = `version: "1.0.0"
id: s
slice: 100
events: { a: {} }
crews:
  - id: x
    on: [a, nope]
    dependsOn: [y]
    steps: [{ id: s, agent: "@orchestr8/echo" }]
  - id: y
    on: [a]
    dependsOn: [x, ghost]
    steps: [{ id: s, agent: "@orchestr8/echo" }]
  - id: y
    on: [a]
    steps: [{ id: s, agent: "@orchestr8/echo" }]
`;
    const r = loadStream(doc);
    const cycle = loadStream(doc.split('  - id: y\n    on: [a]\n    steps')[0]!);
    const by = (code: string) => r.diagnostics.filter((d) => d.code === code).map((d) => [d.line, d.message]);
    expect(by('E_UNKNOWN_KIND')).toEqual([[7, 'event kind "nope" is not declared in events']]);
    expect(by('E_UNKNOWN_CREW')).toEqual([[12, 'no crew "ghost"']]);
    expect(by('E_DUPLICATE_CREW')).toEqual([[14, 'duplicate crew id "y"']]);
    expect(
      cycle.diagnostics.filter((d) => d.code === 'E_CREW_CYCLE').map((d) => [d.line, d.message]),
    ).toEqual([[8, 'crews depend on each other in a cycle: x -> y -> x']]);
  });

  it('reports schema and reference problems in one run, with "did you mean" for misspelt crews and kinds', () => {
    const doc = valid
      .replace('slice: 500ms', 'slise: 500ms')
      .replace('on: [card]', 'on: [crad]')
      .replace('dependsOn: [scorer]', 'dependsOn: [scorrer]');
    const r = loadStream(doc);
    const got = r.diagnostics.map((d) => [d.code, d.line, d.message, d.hint]);
    expect(got).toEqual(
      expect.arrayContaining([
        ['E_SCHEMA', 3, 'unknown field "slise"', 'did you mean "slice"?'],
        ['E_UNKNOWN_KIND', 26, 'event kind "crad" is not declared in events', 'did you mean "card"?'],
        ['E_UNKNOWN_CREW', 27, 'no crew "scorrer"', 'did you mean "scorer"?'],
      ]),
    );
    // A name like none of them lists the known ones instead.
    const far = loadStream(valid.replace('on: [card]', 'on: [zzz]').replace('[scorer]', '[qqq]'));
    expect(far.diagnostics.map((d) => d.hint)).toEqual(['declared: goal, card', 'crews: scorer']);
    // A document whose crews are not even a list: the schema's problems alone, no crash.
    const broken = loadStream(valid.replace(/crews:[\s\S]*$/, 'crews: 3\n'));
    expect(broken.diagnostics.map((d) => d.code)).toEqual(['E_SCHEMA']);
  });

  it("reports a crew workflow's own problems under the crew, with positions", () => {
    const doc = valid.replace(
      'agent: "@orchestr8/echo"\n        input: { actions: [] }',
      'agentt: "@orchestr8/echo"',
    );
    const r = loadStream(doc);
    expect(r.ok).toBe(false);
    const d = r.diagnostics.find((x) => x.pointer === '/crews/0/steps/0/agentt')!;
    expect(d).toMatchObject({ message: 'crew workflow: unknown field "agentt"', line: 23, column: 9 });
    expect(d.hint).toBe('did you mean "agent"?');
  });

  it('refuses a crew with both or neither of workflow and steps, a bad payload schema and a mistyped initial value', () => {
    const doc = valid
      .replace('    steps:\n      - id: echo', '    workflow: other\n    steps:\n      - id: echo')
      .replace('required: [team]', 'required: 3')
      .replace('score: 0', 'score: "zero"');
    const codes = loadStream(doc).diagnostics.map((d) => d.code);
    expect(codes).toEqual(expect.arrayContaining(['E_CREW_WORKFLOW', 'E_PAYLOAD_SCHEMA', 'E_CONTEXT']));
  });

  it('with workflowExists, reports a crew workflow named by id that cannot be found, at its position', async () => {
    const doc = valid.replace(
      '    steps:\n      - id: echo\n        agent: "@orchestr8/echo"\n        input: { actions: [] }',
      '    workflow: nosuchflow',
    );
    expect(loadStream(doc).ok).toBe(true);
    const asked: string[] = [];
    const r = loadStream(doc, {
      workflowExists: (id) => {
        asked.push(id);
        return id !== 'nosuchflow';
      },
    });
    expect(r.ok).toBe(false);
    expect(r.diagnostics).toEqual([
      expect.objectContaining({
        code: 'E_CREW_WORKFLOW',
        pointer: '/crews/0/workflow',
        message: 'crew "scorer": no workflow "nosuchflow"',
        line: 21,
        column: 15,
      }),
    ]);
    expect(asked).toContain('nosuchflow');
    expect(loadStream(doc, { workflowExists: () => true }).ok).toBe(true);
    // A lookup that throws is a workflow not found: loading never throws.
    const thrown = loadStream(doc, {
      workflowExists: () => {
        throw new Error('EACCES');
      },
    });
    expect(thrown.diagnostics.map((d) => d.pointer)).toEqual(['/crews/0/workflow']);
    // loadStreamFile takes the same option.
    const file = join(mkdtempSync(join(tmpdir(), 'o8-stream-doc-')), 'named.stream.yaml');
    writeFileSync(file, doc);
    const fromFile = await loadStreamFile(file, { workflowExists: () => false });
    expect(fromFile.diagnostics[0]).toMatchObject({ code: 'E_CREW_WORKFLOW', file, line: 21, column: 15 });
    expect((await loadStreamFile(file)).ok).toBe(true);
  });

  it('with workflowExists, reports a crew workflow not found together with every other problem, by position', () => {
    const doc = valid
      .replace('slice: 500ms', 'slise: 500ms')
      .replace(
        '    steps:\n      - id: echo\n        agent: "@orchestr8/echo"\n        input: { actions: [] }',
        '    workflow: nosuchflow',
      )
      .replace('dependsOn: [scorer]', 'dependsOn: [scorrer]')
      .replace('score: 0', 'score: "zero"');
    // Schema problems: the semantic checks (the initial value) wait; references and crew workflows do not.
    const r = loadStream(doc, { workflowExists: (id) => id !== 'nosuchflow' });
    expect(r.diagnostics.map((d) => [d.line, d.code, d.message])).toEqual([
      [1, 'E_SCHEMA', 'missing required field "slice"'],
      [3, 'E_SCHEMA', 'unknown field "slise"'],
      [21, 'E_CREW_WORKFLOW', 'crew "scorer": no workflow "nosuchflow"'],
      [24, 'E_UNKNOWN_CREW', 'no crew "scorrer"'],
    ]);
    // Semantic problems (a mistyped initial value) come with it when the schema is satisfied.
    const semantic = loadStream(doc.replace('slise: 500ms', 'slice: 500ms'), {
      workflowExists: (id) => id !== 'nosuchflow',
    });
    expect(semantic.diagnostics.map((d) => [d.line, d.code])).toEqual([
      [16, 'E_CONTEXT'],
      [21, 'E_CREW_WORKFLOW'],
      [24, 'E_UNKNOWN_CREW'],
    ]);
    // Crews that are not even a list: nothing to look up, no crash.
    const broken = loadStream(valid.replace(/crews:[\s\S]*$/, 'crews: 3\n'), { workflowExists: () => false });
    expect(broken.diagnostics.map((d) => d.code)).toEqual(['E_SCHEMA']);
  });

  it('reports malformed YAML and JSON like workflows do', () => {
    expect(loadStream('id: [unclosed').diagnostics[0]!.code).toBe('E_PARSE');
    expect(loadStream('{"id": 1,}', { filename: 's.json' }).diagnostics[0]).toMatchObject({
      code: 'E_PARSE',
      line: 1,
    });
  });

  it('validates already-parsed documents with pointers', () => {
    const r = validateStreamObject({ version: '1.0.0', id: 'Bad Id', slice: 100, events: {}, crews: [] });
    expect(r.ok).toBe(false);
    expect(r.diagnostics.map((d) => d.pointer)).toEqual(expect.arrayContaining(['/id', '/events', '/crews']));
    expect(r.diagnostics.find((d) => d.pointer === '/id')!.line).toBeUndefined();
  });

  it('publishes the JSON Schema it validates with (schema/stream.schema.json)', () => {
    const file = JSON.parse(
      readFileSync(new URL('../../../schema/stream.schema.json', import.meta.url), 'utf8'),
    );
    expect(file).toEqual(JSON.parse(JSON.stringify(STREAM_JSON_SCHEMA)));
  });
});
