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

describe('a schedule that can never fire', () => {
  const yaml = (cron: string, timezone?: string) =>
    [
      'version: 1.0.0',
      'metadata: { id: t }',
      'steps: [{ id: a, agent: "@orchestr8/echo" }]',
      'triggers:',
      '  - name: nightly',
      '    schedule:',
      ...(timezone ? [`      timezone: ${timezone}`] : []),
      `      cron: "${cron}"`,
    ].join('\n');

  it('a cron expression no date matches (February 31st) is an error at the cron field, with its line', () => {
    const r = loadWorkflow(yaml('0 0 31 2 *'));
    expect(r.ok).toBe(false);
    expect(r.diagnostics.map((d) => [d.code, d.pointer, d.line, d.column, d.message])).toEqual([
      ['E_TRIGGER', '/triggers/0/schedule/cron', 7, 13, 'cron "0 0 31 2 *" never fires (no date matches it)'],
    ]);
  });

  it('February 30th and April 31st never fire either, in any timezone', () => {
    const r = loadWorkflow(yaml('0 0 30 2 *', 'Europe/Berlin'));
    expect(r.diagnostics.map((d) => [d.code, d.pointer, d.line, d.column, d.message])).toEqual([
      ['E_TRIGGER', '/triggers/0/schedule/cron', 8, 13, 'cron "0 0 30 2 *" never fires (no date matches it)'],
    ]);
    expect(codes(validateWorkflowObject(doc([{ name: 'x', schedule: { cron: '0 0 0 31 4 *' } }])))).toEqual([
      'E_TRIGGER /triggers/0/schedule/cron',
    ]);
  });

  it('an expression that fires only in leap years (February 29th) is valid', () => {
    expect(loadWorkflow(yaml('0 0 29 2 *')).diagnostics).toEqual([]);
    expect(loadWorkflow(yaml('0 0 29 2 *', 'America/New_York')).diagnostics).toEqual([]);
    expect(loadWorkflow(yaml('0 0 L 2 *')).diagnostics).toEqual([]);
  });
});

describe('trigger.* reads only what the trigger carries', () => {
  const table = (r: { diagnostics: Diagnostic[] }) =>
    r.diagnostics.map((d) => [d.code, d.pointer, d.line, d.column, d.message, d.hint]);

  it('an unknown field of trigger in inputs is an error at the template, naming the fields of the kind', () => {
    const text = [
      'version: 1.0.0',
      'metadata: { id: t }',
      'steps: [{ id: a, agent: "@orchestr8/echo" }]',
      'triggers:',
      '  - name: gh',
      '    webhook: {}',
      '    inputs:',
      '      ok: "${trigger.body.id}"',
      '      id: "${trigger.nope}"',
      '      repo: "repo ${trigger.bdy.repository}"',
    ].join('\n');
    expect(table(loadWorkflow(text))).toEqual([
      [
        'E_TEMPLATE',
        '/triggers/0/inputs/id',
        9,
        11,
        'the inputs of trigger "gh" reads trigger.nope, which a webhook trigger does not have (it has name, kind, time, timestamp, body, headers, query, deliveryId)',
        undefined,
      ],
      [
        'E_TEMPLATE',
        '/triggers/0/inputs/repo',
        10,
        13,
        'the inputs of trigger "gh" reads trigger.bdy, which a webhook trigger does not have (it has name, kind, time, timestamp, body, headers, query, deliveryId)',
        'did you mean trigger.body?',
      ],
    ]);
  });

  it('the fields depend on the kind: a schedule has no body, an event has event.name|id|data', () => {
    const text = [
      'version: 1.0.0',
      'metadata: { id: t }',
      'steps: [{ id: a, agent: "@orchestr8/echo" }]',
      'triggers:',
      '  - name: nightly',
      '    schedule: { cron: "0 2 * * *" }',
      '    inputs: { day: "${trigger.time}", id: "${trigger.body.id ?? 0}" }',
      '  - name: orders',
      '    event: { name: order.created, condition: "trigger.event.dta.amount > 1" }',
      '    inputs: { id: "${trigger.event.data.id}", at: "${trigger.timestamp}" }',
    ].join('\n');
    expect(table(loadWorkflow(text))).toEqual([
      [
        'E_TEMPLATE',
        '/triggers/0/inputs/id',
        7,
        43,
        'the inputs of trigger "nightly" reads trigger.body, which a schedule trigger does not have (it has name, kind, time, timestamp)',
        undefined,
      ],
      [
        'E_TEMPLATE',
        '/triggers/1/event/condition',
        9,
        46,
        'the condition of trigger "orders" reads trigger.event.dta, which trigger.event does not have (it has name, id, data)',
        'did you mean trigger.event.data?',
      ],
    ]);
  });

  it('trigger.batch exists only when the trigger batches, and in its inputs and keys, not its condition', () => {
    const batching = {
      name: 'x',
      event: { name: 'e' },
      flow: { batch: { maxMs: '1s' }, concurrency: { limit: 1, key: '${trigger.batch[0].name}' } },
      inputs: { items: '${trigger.batch}' },
    };
    expect(codes(validateWorkflowObject(doc([batching])))).toEqual([]);
    expect(
      codes(
        validateWorkflowObject(
          doc([{ ...batching, event: { name: 'e', condition: 'trigger.batch != null' } }]),
        ),
      ),
    ).toEqual(['E_TEMPLATE /triggers/0/event/condition']);
    const r = validateWorkflowObject(
      doc([{ name: 'x', webhook: {}, inputs: { items: '${trigger.batch}' } }]),
    );
    expect(codes(r)).toEqual(['E_TEMPLATE /triggers/0/inputs/items']);
    expect(r.diagnostics[0]!.hint).toBe('trigger.batch exists only with flow.batch, and not in a condition');
  });
});
