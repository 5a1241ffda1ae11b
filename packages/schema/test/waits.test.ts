// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
import { describe, expect, it } from 'vitest';
import { loadWorkflow, WAIT_AGENT_ID } from '../src/index.js';

const doc = (step: string[], extra: string[] = []) =>
  loadWorkflow(
    [
      'version: 1.0.0',
      'metadata: { id: waits }',
      'inputs: { type: object, properties: { orderId: { type: string } } }',
      'steps:',
      '  - id: order',
      '    agent: "@orchestr8/echo"',
      '  - id: w',
      '    dependencies: [order]',
      ...step.map((l) => `    ${l}`),
      ...extra,
    ].join('\n'),
    { filename: 'w.yaml' },
  );
const problems = (r: ReturnType<typeof doc>) =>
  r.diagnostics.map((d) => `${d.code} ${d.pointer} ${d.message}`);

describe('wait steps', () => {
  it('compile a timer to a delay and carry the reserved wait agent id', () => {
    const r = doc(['wait: { timer: 5m }']);
    expect(problems(r)).toEqual([]);
    const w = r.workflow!.stepById.get('w')!;
    expect(w.agentId).toBe(WAIT_AGENT_ID);
    expect(w.wait).toMatchObject({ kind: 'timer', delayMs: 300_000 });
  });

  it('take days in durations: a timer of 3d, an approval that times out after 2d', () => {
    const timer = doc(['wait: { timer: 3d }']);
    expect(problems(timer)).toEqual([]);
    expect(timer.workflow!.stepById.get('w')!.wait).toMatchObject({ kind: 'timer', delayMs: 3 * 86_400_000 });
    const approval = doc(['wait: { approval: { title: Refund }, timeout: 2d }']);
    expect(problems(approval)).toEqual([]);
    expect(approval.workflow!.stepById.get('w')!.wait!.timeoutMs).toBe(2 * 86_400_000);
    expect(problems(doc(['wait: { timer: 3 days }']))).toEqual([
      'E_SCHEMA /steps/1/wait/timer must be a duration greater than zero like "500ms", "30s", "5m", "1h" or "3d", or a number of milliseconds',
    ]);
  });

  it('compile an event match that reads event.* and the execution data', () => {
    const r = doc([
      'wait: { event: { name: paid, match: "event.payload.orderId == inputs.orderId" }, timeout: 1h, onTimeout: { output: { late: true } } }',
    ]);
    expect(problems(r)).toEqual([]);
    const w = r.workflow!.stepById.get('w')!.wait!;
    expect(w.kind).toBe('event');
    expect(
      w.events![0]!.match!.evaluate({
        event: { payload: { orderId: 'a' } },
        inputs: { orderId: 'a' },
      } as never),
    ).toBe(true);
    expect(w.timeoutMs).toBe(3_600_000);
  });

  it('refuse a step with both agent and wait, or neither', () => {
    expect(problems(doc(['agent: "@orchestr8/echo"', 'wait: { timer: 5m }']))).toEqual([
      'E_WAIT /steps/1/agent step "w" has both agent and wait; use one of them',
    ]);
    expect(problems(doc(['input: {}']))).toEqual(['E_WAIT /steps/1 step "w" has neither agent nor wait']);
  });

  it('refuse two kinds in one wait, a bad duration, and a literal until that is not ISO-8601', () => {
    expect(problems(doc(['wait: { timer: 5m, event: { name: x } }']))[0]).toMatch(
      /^E_WAIT \/steps\/1\/wait .*timer and event/,
    );
    expect(problems(doc(['wait: { timer: 5 minutes }']))[0]).toMatch(/^E_SCHEMA \/steps\/1\/wait\/timer/);
    expect(problems(doc(['wait: { until: "next tuesday" }']))).toEqual([
      'E_WAIT /steps/1/wait/until wait.until "next tuesday" is not an ISO-8601 date-time',
    ]);
    expect(problems(doc(['wait: { until: "${steps.order.output.shipBy}" }']))).toEqual([]);
  });

  it('refuse a match that does not compile, and event.* outside a match', () => {
    expect(
      problems(doc(['wait: { any: [{ name: a }, { name: b, match: "event.payload.x ==" }] }']))[0],
    ).toMatch(/^E_EXPRESSION \/steps\/1\/wait\/any\/1\/match/);
    expect(
      problems(
        doc(
          ['wait: { timer: 1s }'],
          ['  - id: z', '    agent: "@orchestr8/echo"', '    input: "${event.payload}"'],
        ),
      ),
    ).toEqual([
      'E_WAIT /steps/2/input ${event.payload} in the input of step "z": event.* exists only in a wait\'s match',
    ]);
  });

  it('refuse a timeout on a timer, onTimeout without timeout, and a wait in a forEach step', () => {
    expect(problems(doc(['wait: { timer: 1s, timeout: 5s }']))[0]).toMatch(
      /^E_WAIT \/steps\/1\/wait\/timeout/,
    );
    expect(problems(doc(['wait: { event: { name: x }, onTimeout: { output: 1 } }']))[0]).toMatch(
      /^E_WAIT \/steps\/1\/wait\/onTimeout/,
    );
    expect(problems(doc(['forEach: { items: [1, 2] }', 'wait: { timer: 1s }']))[0]).toMatch(
      /^E_WAIT \/steps\/1\/forEach/,
    );
  });

  it('compile an approval with its templated title and form', () => {
    const r = doc([
      'wait: { approval: { title: "Refund ${inputs.orderId}", form: { type: object, required: [amount] }, approvers: [ann] } }',
    ]);
    expect(problems(r)).toEqual([]);
    const a = r.workflow!.stepById.get('w')!.wait!.approval!;
    expect(a.form).toEqual({ type: 'object', required: ['amount'] });
    expect(a.approvers).toEqual(['ann']);
  });
});
