// biome-ignore-all lint/suspicious/noTemplateCurlyInString: workflow documents contain ${...} templates
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { RetryableError } from '@orchestr8/common';
import { describe, expect, it } from 'vitest';
import {
  createViewRedaction,
  type EngineEvent,
  REDACTED,
  redactorForDefinition,
  secretRefsOfDocument,
} from '../src/index.js';
import { abortable, agent, compile, journalOf, settle, testEngine } from './helpers.js';

const SECRET = 'sk-live-secret-7f3a9c';
const ENV = { T_API_KEY: SECRET };

function nest(levels: number, leaf: unknown): unknown {
  let v = leaf;
  for (let i = 0; i < levels; i++) v = { down: v };
  return v;
}

/** What an exporter would send of a span: its name, attributes, status and events. */
function exported(span: ReadableSpan): unknown {
  return {
    name: span.name,
    attributes: span.attributes,
    status: span.status,
    events: span.events.map((e) => ({ name: e.name, attributes: e.attributes })),
  };
}

/**
 * Every way a secret reached the journal in clear before: as an object key, 100 levels
 * deep, inside a longer string, in an error an agent threw (message and details), in a
 * cancel reason; and the step outputs hosts show.
 */
const document = {
  context: { secretRefs: { apiKey: { env: 'T_API_KEY' } } },
  steps: [
    { id: 'keyed', agent: '@t/keyed', input: { auth: 'Bearer ${secrets.apiKey}' } },
    {
      id: 'leaky',
      agent: '@t/leaky',
      input: { key: '${secrets.apiKey}' },
      onError: 'continue',
      policies: { retry: { maxAttempts: 2, baseDelayMs: 1, jitter: 'none' } },
    },
    { id: 'wait', agent: '@t/wait', input: {}, dependencies: ['keyed', 'leaky'] },
  ],
};

const keyed = agent('@t/keyed', (input: { auth: string }) => {
  const key = input.auth.slice('Bearer '.length);
  return { [key]: 'as a key', deep: nest(100, { token: key }), said: `the key is ${key}!` };
});
const leaky = agent('@t/leaky', (input: { key: string }) => {
  throw new RetryableError(`upstream rejected ${input.key}`, { details: { [input.key]: input.key } });
});

describe('a workflow secret in the engine outputs', () => {
  it('appears in no journal entry, event, observer call or span, wherever the data held it', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const observed: string[] = [];
    const { engine, clock } = testEngine([keyed, leaky, abortable('@t/wait')], {
      env: ENV,
      tracer: provider.getTracer('test'),
      observers: [{ onEvent: (e) => observed.push(JSON.stringify(e)) }],
    });
    const events: EngineEvent[] = [];
    engine.events.subscribe((e) => {
      events.push(e);
    });
    const handle = await engine.start(compile(document));
    await clock.runAll();
    await settle();
    engine.cancel(handle.id, { reason: `operator saw ${SECRET}` });
    const r = await handle.result;
    await settle();
    expect(r.status).toBe('cancelled');
    // The agents did get the real value.
    expect(Object.keys(r.steps.keyed!.output as object)).toContain(SECRET);

    const journal = await journalOf(engine, r.executionId);
    const outputs = {
      journal: JSON.stringify(journal),
      events: JSON.stringify(events),
      observers: observed.join('\n'),
      spans: JSON.stringify(exporter.getFinishedSpans().map(exported)),
    };
    for (const [where, text] of Object.entries(outputs)) {
      expect(text.length, where).toBeGreaterThan(100);
      expect(text, where).not.toContain(SECRET);
    }
    expect(outputs.journal).toContain(`"the key is ${REDACTED}!"`);
    // The failed attempts' spans say why, redacted.
    const attempt = exporter.getFinishedSpans().find((s) => s.name === 'attempt leaky #1')!;
    expect(attempt.status.message).toBe(`upstream rejected ${REDACTED}`);
    expect(outputs.spans).toContain(`operator saw ${REDACTED}`);

    // The store keeps step outputs whole (a resume re-renders templates from them) and
    // errors redacted; a view rebuilds the redactor from the stored definition.
    const steps = await engine.store.getSteps(r.executionId);
    expect(JSON.stringify(steps.find((s) => s.stepId === 'leaky')!.error)).not.toContain(SECRET);
    expect(JSON.stringify(steps.find((s) => s.stepId === 'keyed')!.output)).toContain(SECRET);
    const record = (await engine.store.getExecution(r.executionId))!;
    const def = await engine.store.getDefinitionByHash(record.definitionHash);
    const view = redactorForDefinition(def!.document, ENV);
    expect(JSON.stringify(view.redact(r))).not.toContain(SECRET);
    expect(JSON.stringify(view.redact(steps))).not.toContain(SECRET);
  });
});

describe('redactorForDefinition', () => {
  it('reads the secret variables of a stored document from the environment it is given', () => {
    const doc = { context: { secretRefs: { a: { env: 'T_A' }, b: { env: 'T_B' } } } };
    expect(secretRefsOfDocument(doc)).toEqual({ a: 'T_A', b: 'T_B' });
    const r = redactorForDefinition(doc, { T_A: 'alpha-value', T_B: '' });
    expect(r.redact({ x: 'alpha-value', y: '' })).toEqual({ x: REDACTED, y: '' });
    // Also the engine's secretEnv variables, for every document.
    expect(redactorForDefinition({}, { T_DB: 'db-pass-1' }, ['T_DB']).redact('db-pass-1')).toBe(REDACTED);
  });

  it('is inactive for a document without secrets, or when none of its variables is set', () => {
    expect(redactorForDefinition({ steps: [] }, ENV).active).toBe(false);
    expect(redactorForDefinition(document, {}).active).toBe(false);
    expect(redactorForDefinition(undefined, ENV).active).toBe(false);
  });
});

describe('createViewRedaction', () => {
  it('reads a definition once and a secret value on every call, so a rotated secret is redacted from then on', async () => {
    let reads = 0;
    const env: Record<string, string> = { T_API_KEY: 'first-value' };
    const views = createViewRedaction(
      {
        getDefinitionByHash: async () => {
          reads++;
          return { id: 'w', version: '1', hash: 'h', document, createdAt: 0 };
        },
      },
      { env },
    );
    const first = await views.forExecution({ definitionHash: 'h' });
    expect(first.redact('first-value')).toBe(REDACTED);
    expect(await views.forExecution({ definitionHash: 'h' })).toBe(first);
    env.T_API_KEY = 'second-value';
    expect((await views.forExecution({ definitionHash: 'h' })).redact('second-value')).toBe(REDACTED);
    expect(reads).toBe(1);
  });
});
