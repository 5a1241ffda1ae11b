import { describe, expect, it } from 'vitest';
import { runEvents } from '../src/index.js';
import { compiled, crew, testEngine } from './helpers.js';

const head = (extra = '') => `version: "1.0.0"
id: s
slice: 100ms
events: { tick: {} }
${extra}crews:
`;
const ticks = (n: number, at = 1) =>
  Array.from({ length: n }, (_, i) => ({ id: `t${i}`, ts: at + i, kind: 'tick', stream: 's', payload: {} }));

describe('crews', () => {
  it('run an inline workflow (its outputs are the result) or one named by id, found by the resolver', async () => {
    const workflow = (id: string, kind: string) => ({
      version: '1.0.0',
      metadata: { id },
      inputs: { type: 'object' },
      steps: [{ id: 'n', agent: '@orchestr8/echo', input: { count: '${inputs.events.length}' } }],
      outputs: { actions: [{ kind, payload: '${inputs.slice.index}' }] },
    });
    const stream = compiled(`${head()}  - id: inline
    on: [tick]
    workflow: ${JSON.stringify(workflow('inline-wf', 'from-inline'))}
  - id: named
    on: [tick]
    workflow: shared-wf
`);
    const r = await runEvents({
      stream,
      engine: testEngine(),
      events: ticks(2),
      resolveWorkflow: (id) => (id === 'shared-wf' ? workflow(id, 'from-named') : undefined),
    });
    expect(r.errors).toEqual([]);
    expect(r.actions.map((a) => [a.crew, a.kind, a.payload])).toEqual([
      ['inline', 'from-inline', 0],
      ['named', 'from-named', 0],
    ]);
    await expect(runEvents({ stream, engine: testEngine(), events: ticks(1) })).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: 'crew "named": no workflow "shared-wf"',
    });
  });

  it('refuses events beyond maxEventsPerSlice, and actions beyond maxActionsPerCrew, naming the limit', async () => {
    const stream =
      compiled(`${head('limits: { maxEventsPerSlice: 3, maxActionsPerCrew: 2 }\n')}${crew('c', ['tick'], '@test/count')}  - id: many
    on: [tick]
    steps:
      - id: s
        agent: "@orchestr8/echo"
        input: { actions: [{ kind: a }, { kind: b }, { kind: c }] }
`);
    const r = await runEvents({ stream, engine: testEngine(), events: ticks(5) });
    expect(r.errors.map((e) => [e.kind, e.eventId ?? e.crew, e.error.code])).toEqual([
      ['too-many-events', 't3', 'LIMIT_EXCEEDED'],
      ['too-many-events', 't4', 'LIMIT_EXCEEDED'],
      ['crew-failed', 'many', 'LIMIT_EXCEEDED'],
    ]);
    expect(r.errors[2]!.error.message).toBe('3 actions; a crew may publish 2 per slice');
    expect(r.context).toEqual({ count: 3 });
  });

  it("drops a slice's writes when the context would outgrow maxContextBytes, and says so", async () => {
    const stream = compiled(
      `${head('limits: { maxContextBytes: 64 }\n')}${crew('w', ['tick'], '@test/write', { key: 'big', value: 'x'.repeat(100) })}${crew('c', ['tick'], '@test/count')}`,
    );
    const r = await runEvents({ stream, engine: testEngine(), events: ticks(1) });
    expect(r.context).toEqual({});
    expect(r.errors[0]).toMatchObject({
      kind: 'context-too-large',
      slice: 0,
      error: { code: 'LIMIT_EXCEEDED' },
    });
    expect(r.actions).toHaveLength(1);
  });
});

describe('crews that do not depend on each other', () => {
  it('run at the same time', async () => {
    // Each waits until the other has started: run one after the other, both would time out.
    const stream = compiled(
      `${head()}${crew('a', ['tick'], '@test/meet', { name: 'a', other: 'b' }, [], '\n    timeout: 5s')}${crew('b', ['tick'], '@test/meet', { name: 'b', other: 'a' }, [], '\n    timeout: 5s')}`,
    );
    const r = await runEvents({ stream, engine: testEngine(), events: ticks(1) });
    expect(r.errors).toEqual([]);
    expect(r.actions.map((x) => x.payload)).toEqual(['a met b', 'b met a']);
  });
});
