// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createTestEngine,
  loadWorkflowTestFile,
  parseWorkflowTestDocument,
  runWorkflowTest,
} from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'o8-testing-waits-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const refund = {
  version: '1.0.0',
  metadata: { id: 'refund' },
  inputs: { type: 'object', properties: { orderId: { type: 'string' } } },
  steps: [
    { id: 'cool-off', wait: { timer: '48h' } },
    {
      id: 'paid',
      dependencies: ['cool-off'],
      wait: { event: { name: 'paid', match: 'event.payload.orderId == inputs.orderId' }, timeout: '1h' },
    },
    {
      id: 'ok',
      dependencies: ['paid'],
      wait: {
        approval: { title: 'Refund ${inputs.orderId}?', form: { type: 'object', required: ['amount'] } },
      },
    },
    {
      id: 'done',
      agent: '@orchestr8/echo',
      dependencies: ['ok'],
      input: { amount: '${steps.ok.output.data.amount}' },
    },
  ],
  outputs: { amount: '${steps.done.output.amount}' },
};

describe('the test engine with waits', () => {
  it('skips through a 48-hour timer instantly in fake time', async () => {
    const engine = createTestEngine();
    const r = await engine.run({
      version: '1.0.0',
      metadata: { id: 'nap' },
      steps: [{ id: 'nap', wait: { timer: '48h' } }],
    });
    expect(r.status).toBe('completed');
    expect(Date.parse((r.steps.nap!.output as { firedAt: string }).firedAt) - r.startedAt!).toBe(
      48 * 3_600_000,
    );
    await engine.close();
  });

  it('sends events and decisions once their steps wait, in order', async () => {
    const engine = createTestEngine();
    const r = await engine.run(refund, {
      inputs: { orderId: 'A1' },
      send: [
        { event: { name: 'paid', id: 'p1', payload: { orderId: 'A1' } } },
        { approve: { step: 'ok', by: 'ann', data: { amount: 12 } } },
      ],
    });
    expect(r.status).toBe('completed');
    expect(r.outputs).toEqual({ amount: 12 });
    expect(r.steps.paid!.output).toMatchObject({ id: 'p1', payload: { orderId: 'A1' } });
    // The event was sent after the 48 h timer, once its step waited; not before.
    expect(Date.parse((r.steps.paid!.output as { receivedAt: string }).receivedAt) - r.startedAt!).toBe(
      48 * 3_600_000,
    );
    await engine.close();
  });

  it('an advance before an event lets its wait time out first', async () => {
    const engine = createTestEngine();
    await expect(
      engine.run(refund, {
        inputs: { orderId: 'A1' },
        send: [{ advance: '49h' }, { event: { name: 'paid', payload: { orderId: 'A1' } } }],
      }),
    ).rejects.toMatchObject({
      code: 'TIMEOUT',
      message: expect.stringContaining('send[1] (event paid) was never used'),
    });
    await engine.close();
  });

  it('says what the execution waits for when nothing more is sent', async () => {
    const engine = createTestEngine();
    await expect(
      engine.run(refund, {
        inputs: { orderId: 'A1' },
        send: [{ event: { name: 'paid', payload: { orderId: 'A1' } } }],
      }),
    ).rejects.toMatchObject({
      code: 'TIMEOUT',
      message: expect.stringContaining('step ok waits for a decision (send approve or reject)'),
    });
    await engine.close();
  });
});

describe('*.test.yaml with send', () => {
  it('approves, rejects and times out, and asserts what happened', async () => {
    writeFileSync(join(dir, 'refund.json'), JSON.stringify(refund));
    const file = join(dir, 'refund.test.yaml');
    writeFileSync(
      file,
      [
        'workflow: ./refund.json',
        'inputs: { orderId: A1 }',
        'tests:',
        '  - name: approved',
        '    send:',
        '      - event: { name: paid, payload: { orderId: A1 } }',
        '      - approve: { step: ok, by: ann, data: { amount: 12 } }',
        '    expect:',
        '      outputs: { amount: 12 }',
        '      steps: { ok: { output: { approved: true, by: ann } } }',
        '      journal: [{ type: approval.decided, stepId: ok, count: 1 }, { type: step.woken, stepId: paid }]',
        '  - name: rejected',
        '    send:',
        '      - event: { name: paid, payload: { orderId: A1 } }',
        '      - reject: { step: ok, by: bob, comment: too late }',
        '    expect:',
        '      status: failed',
        '      steps: { ok: { status: failed, error: { code: REJECTED, message: too late } } }',
        '  - name: never paid',
        '    expect:',
        '      status: failed',
        '      steps: { paid: { status: failed, error: { code: TIMEOUT } } }',
        '      journal: [{ type: wait.timed_out, stepId: paid }]',
        '  - name: wrong order',
        '    send:',
        '      - event: { name: paid, payload: { orderId: B2 } }',
        '      - approve: { step: ok, data: { amount: 1 } }',
        '',
      ].join('\n'),
    );
    const loaded = await loadWorkflowTestFile(file);
    expect(loaded.problems).toEqual([]);
    const outcomes = await Promise.all(loaded.cases.map((c) => runWorkflowTest(c)));
    expect(outcomes.slice(0, 3).map((o) => [o.name, o.failures])).toEqual([
      ['approved', []],
      ['rejected', []],
      ['never paid', []],
    ]);
    // B2's event matches nothing: the wait times out, and the approval is never reached.
    expect(outcomes[3]!.passed).toBe(false);
    expect(outcomes[3]!.failures[0]!.message).toContain('send[1] (approve ok) was never used');
  });

  it('names what is wrong with a malformed send list', () => {
    const r = parseWorkflowTestDocument(
      {
        workflow: { version: '1.0.0', metadata: { id: 'x' }, steps: [] },
        send: [
          { event: { payload: 1 } },
          { approve: { step: 'ok', dta: {} } },
          { advance: 'soon' },
          { event: { name: 'a' }, approve: { step: 'b' } },
        ],
      },
      't.test.yaml',
    );
    expect(r.problems).toEqual([
      'send[0].event.name must be a non-empty string',
      'send[1].approve: unknown field "dta" (expected step, by, data, comment)',
      'send[2].advance: "soon" is not a duration (like 500ms, 90s, 5m, 2h)',
      'send[3] must have exactly one of event, signal, approve, reject, advance',
    ]);
  });
});
