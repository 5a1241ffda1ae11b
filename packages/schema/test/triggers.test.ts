// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
import { describe, expect, it } from 'vitest';
import { type Diagnostic, loadWorkflow, renderValue, validateWorkflowObject } from '../src/index.js';

const doc = (triggers: unknown[], extra: Record<string, unknown> = {}) => ({
  version: '1.0.0',
  metadata: { id: 'triggered' },
  steps: [{ id: 'a', agent: '@orchestr8/echo', input: { x: '${inputs.x ?? 1}' } }],
  triggers,
  ...extra,
});
const codes = (r: { diagnostics: Diagnostic[] }) => r.diagnostics.map((d) => `${d.code} ${d.pointer}`);

describe('triggers in a document', () => {
  it('compile with their defaults: timezone UTC, overlap skip, no catch-up', () => {
    const r = validateWorkflowObject(
      doc(
        [
          { name: 'nightly', schedule: { cron: '0 2 * * *' }, inputs: { day: '${trigger.time}' } },
          {
            name: 'tick',
            schedule: {
              every: '15m',
              timezone: 'Europe/Berlin',
              overlap: 'bufferOne',
              catchUp: { policy: 'all', max: 3 },
            },
          },
          { name: 'gh', webhook: { signature: { secret: 'hook' }, dedupeHeader: 'X-GitHub-Delivery' } },
          {
            name: 'big-order',
            event: { name: 'order.created', condition: 'trigger.event.data.amount > 100' },
            flow: { concurrency: { limit: 2, key: '${inputs.customer}' } },
          },
        ],
        { context: { secretRefs: { hook: { env: 'HOOK_SECRET' } } } },
      ),
    );
    expect(r.diagnostics).toEqual([]);
    const [nightly, tick, gh, order] = r.workflow!.triggers;
    expect(nightly!.schedule).toEqual({
      cron: '0 2 * * *',
      timezone: 'UTC',
      overlap: 'skip',
      catchUp: { policy: 'none', windowMs: 86_400_000, max: 100 },
    });
    expect(tick!.schedule).toMatchObject({
      everyMs: 900_000,
      overlap: 'bufferOne',
      catchUp: { policy: 'all', max: 3 },
    });
    expect(gh!.webhook).toEqual({
      signature: {
        secret: 'hook',
        env: 'HOOK_SECRET',
        header: 'X-Hub-Signature-256',
        scheme: 'github',
        toleranceMs: 300_000,
      },
      dedupeHeader: 'X-GitHub-Delivery',
    });
    expect(
      order!.event!.condition!.evaluate({
        steps: {},
        inputs: {},
        variables: {},
        env: {},
        trigger: { event: { data: { amount: 101 } } },
      }),
    ).toBe(true);
    expect(
      renderValue(nightly!.inputs!, {
        steps: {},
        inputs: {},
        variables: {},
        env: {},
        trigger: { time: 'T' },
      }),
    ).toEqual({ day: 'T' });
  });

  it('a workflow without triggers has none', () => {
    const r = validateWorkflowObject({
      version: '1.0.0',
      metadata: { id: 'x' },
      steps: [{ id: 'a', agent: '@orchestr8/echo' }],
    });
    expect(r.workflow!.triggers).toEqual([]);
  });

  it('a bad cron expression is a diagnostic at the cron field, with its line', () => {
    const text = [
      'version: 1.0.0',
      'metadata: { id: t }',
      'steps: [{ id: a, agent: "@orchestr8/echo" }]',
      'triggers:',
      '  - name: nightly',
      '    schedule:',
      '      cron: "61 2 * * *"',
    ].join('\n');
    const r = loadWorkflow(text);
    expect(r.ok).toBe(false);
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]).toMatchObject({
      code: 'E_TRIGGER',
      pointer: '/triggers/0/schedule/cron',
      line: 7,
    });
    expect(r.diagnostics[0]!.message).toMatch(/invalid cron expression "61 2 \* \* \*"/);
  });

  it('a cron expression needs 5 or 6 fields (seconds first)', () => {
    expect(codes(validateWorkflowObject(doc([{ name: 'x', schedule: { cron: '* * * *' } }])))).toEqual([
      'E_TRIGGER /triggers/0/schedule/cron',
    ]);
    expect(codes(validateWorkflowObject(doc([{ name: 'x', schedule: { cron: '*/10 * * * * *' } }])))).toEqual(
      [],
    );
  });

  it('an unknown timezone is a diagnostic at the timezone field', () => {
    const r = validateWorkflowObject(
      doc([{ name: 'x', schedule: { cron: '0 2 * * *', timezone: 'Mars/Olympus' } }]),
    );
    expect(codes(r)).toEqual(['E_TRIGGER /triggers/0/schedule/timezone']);
    expect(r.diagnostics[0]!.message).toBe('unknown timezone "Mars/Olympus"');
  });

  it('a trigger has exactly one kind, a schedule exactly one of cron and every, and names are unique', () => {
    expect(codes(validateWorkflowObject(doc([{ name: 'x' }])))).toEqual(['E_TRIGGER /triggers/0']);
    expect(codes(validateWorkflowObject(doc([{ name: 'x', webhook: {}, event: { name: 'e' } }])))).toEqual([
      'E_TRIGGER /triggers/0',
    ]);
    expect(
      codes(validateWorkflowObject(doc([{ name: 'x', schedule: { cron: '* * * * *', every: '1m' } }]))),
    ).toEqual(['E_TRIGGER /triggers/0/schedule']);
    expect(
      codes(
        validateWorkflowObject(
          doc([
            { name: 'x', webhook: {} },
            { name: 'x', webhook: {} },
          ]),
        ),
      ),
    ).toEqual(['E_TRIGGER /triggers/1/name']);
  });

  it('a signing secret must name a context.secretRefs entry: the secret itself is never in the document', () => {
    const r = validateWorkflowObject(doc([{ name: 'gh', webhook: { signature: { secret: 'nope' } } }]));
    expect(codes(r)).toEqual(['E_TRIGGER /triggers/0/webhook/signature/secret']);
    // A literal secret is not even a valid name.
    expect(
      codes(validateWorkflowObject(doc([{ name: 'gh', webhook: { signature: { secret: 's3cr3t!' } } }])))[0],
    ).toMatch(/^E_SCHEMA/);
  });

  it('trigger templates read trigger.* and variables.*, and steps cannot read trigger.*', () => {
    expect(
      codes(validateWorkflowObject(doc([{ name: 'x', webhook: {}, inputs: { a: '${steps.a.output}' } }]))),
    ).toEqual(['E_TEMPLATE /triggers/0/inputs/a']);
    expect(
      codes(validateWorkflowObject(doc([{ name: 'x', event: { name: 'e', condition: 'inputs.a > 1' } }]))),
    ).toEqual(['E_TEMPLATE /triggers/0/event/condition']);
    const r = validateWorkflowObject({
      version: '1.0.0',
      metadata: { id: 'x' },
      steps: [{ id: 'a', agent: '@orchestr8/echo', input: '${trigger.time}' }],
    });
    expect(codes(r)).toEqual(['E_TEMPLATE /steps/0/input']);
  });

  it('debounce and batch exclude each other', () => {
    const r = validateWorkflowObject(
      doc([{ name: 'x', event: { name: 'e' }, flow: { debounce: '1s', batch: { maxMs: '1s' } } }]),
    );
    expect(codes(r)).toEqual(['E_TRIGGER /triggers/0/flow/batch']);
  });
});
