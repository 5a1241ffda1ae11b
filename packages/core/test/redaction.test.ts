// biome-ignore-all lint/suspicious/noTemplateCurlyInString: workflow documents contain ${...} templates
import { TerminalError } from '@orchestr8/common';
import { describe, expect, it } from 'vitest';
import { type Agent, type EngineEvent, REDACTED } from '../src/index.js';
import { agent, compile, dataOf, entriesOf, journalOf, settle, testEngine } from './helpers.js';

const API_KEY = 'sk-live-0123456789';
const DB_PASS = 'hunter2-db-pass';

const echo = agent('@t/echo', (input) => input);

/** Fails with the secret in its message and details, as a careless HTTP client might. */
const leaky = agent('@t/leaky', (input: { key: string }) => {
  throw new TerminalError(`upstream rejected key ${input.key} (401)`, { details: { key: input.key } });
});

describe('redaction', () => {
  it('writes the value of a context.secretRefs variable as [redacted] in journal inputs, outputs and errors, inside longer strings too', async () => {
    const seen: unknown[] = [];
    const recording = agent('@t/rec', (input) => {
      seen.push(input);
      return { header: input.header, echoed: [input.raw] };
    });
    const wf = compile({
      inputs: { type: 'object', properties: { token: { type: 'string' } } },
      context: { secretRefs: { apiKey: { env: 'T_API_KEY' } } },
      steps: [
        { id: 'call', agent: '@t/rec', input: { header: 'Bearer ${inputs.token}', raw: '${inputs.token}' } },
        { id: 'bad', agent: '@t/leaky', dependencies: ['call'], input: { key: '${inputs.token}' } },
      ],
    });
    const { engine } = testEngine([recording, leaky], { env: { T_API_KEY: API_KEY } });
    const r = await engine.execute(wf, { inputs: { token: API_KEY } });
    expect(r.status).toBe('failed');
    // Redaction is for the journal only: the agent got the real value.
    expect(seen).toEqual([{ header: `Bearer ${API_KEY}`, raw: API_KEY }]);

    const j = await journalOf(engine, r.executionId);
    expect(JSON.stringify(j)).not.toContain(API_KEY);
    expect(dataOf(entriesOf(j, 'execution.started')[0]).inputs).toEqual({ token: REDACTED });
    expect(dataOf(entriesOf(j, 'step.started', 'call')[0]).input).toEqual({
      header: `Bearer ${REDACTED}`,
      raw: REDACTED,
    });
    expect(dataOf(entriesOf(j, 'step.completed', 'call')[0]).output).toEqual({
      header: `Bearer ${REDACTED}`,
      echoed: [REDACTED],
    });
    const failed = dataOf(entriesOf(j, 'step.failed', 'bad')[0]).error;
    expect(failed).toMatchObject({
      message: `upstream rejected key ${REDACTED} (401)`,
      details: { key: REDACTED },
    });
    const end = entriesOf(j, 'execution.failed')[0];
    expect(dataOf(end).error.message).toBe(`upstream rejected key ${REDACTED} (401)`);
  });

  it('passes ${secrets.NAME} to the agent with its real value while the journal shows [redacted]', async () => {
    const seen: unknown[] = [];
    const wf = compile({
      context: { secretRefs: { apiKey: { env: 'T_API_KEY' } } },
      steps: [{ id: 'call', agent: '@t/rec', input: { auth: 'Bearer ${secrets.apiKey}' } }],
    });
    const recording = agent('@t/rec', (input) => {
      seen.push(input);
      return { ok: true };
    });
    const { engine } = testEngine([recording], { env: { T_API_KEY: API_KEY } });
    const r = await engine.execute(wf);
    expect(r.steps.call!.error).toBeUndefined();
    expect(r.status).toBe('completed');
    expect(seen).toEqual([{ auth: `Bearer ${API_KEY}` }]);
    const j = await journalOf(engine, r.executionId);
    expect(JSON.stringify(j)).not.toContain(API_KEY);
    expect(dataOf(entriesOf(j, 'step.started', 'call')[0]).input).toEqual({ auth: `Bearer ${REDACTED}` });
  });

  it('redacts the values of the variables named in createEngine({ secretEnv }) in every workflow', async () => {
    const connect = agent('@t/connect', (input: { user: string }) => ({
      url: `postgres://${input.user}:${DB_PASS}@db.internal/app`,
    }));
    const wf = compile({ steps: [{ id: 'c', agent: '@t/connect', input: { user: 'app' } }] });
    const { engine } = testEngine([connect], { env: { T_DB_PASS: DB_PASS }, secretEnv: ['T_DB_PASS'] });
    const r = await engine.execute(wf);
    expect(r.status).toBe('completed');
    const j = await journalOf(engine, r.executionId);
    expect(JSON.stringify(j)).not.toContain(DB_PASS);
    expect(dataOf(entriesOf(j, 'step.completed', 'c')[0]).output).toEqual({
      url: `postgres://app:${REDACTED}@db.internal/app`,
    });
  });

  it('leaves values of environment variables that are not declared secret as they are', async () => {
    const wf = compile({ steps: [{ id: 'e', agent: '@t/echo', input: { v: 'plain-value-1234' } }] });
    const { engine } = testEngine([echo], {
      env: { T_PLAIN: 'plain-value-1234', T_DB_PASS: DB_PASS },
      secretEnv: ['T_DB_PASS'],
    });
    const r = await engine.execute(wf);
    const j = await journalOf(engine, r.executionId);
    expect(dataOf(entriesOf(j, 'step.completed', 'e')[0]).output).toEqual({ v: 'plain-value-1234' });
  });

  it('publishes redacted data in events as well', async () => {
    const wf = compile({ steps: [{ id: 'e', agent: '@t/echo', input: { note: `key=${API_KEY}` } }] });
    const { engine } = testEngine([echo], { env: { T_API_KEY: API_KEY }, secretEnv: ['T_API_KEY'] });
    const events: EngineEvent[] = [];
    engine.events.subscribe((e) => {
      events.push(e);
    });
    await engine.execute(wf);
    await settle();
    expect(events.length).toBeGreaterThan(0);
    expect(JSON.stringify(events)).not.toContain(API_KEY);
    expect(events.find((e) => e.type === 'step.completed')!.data).toMatchObject({
      output: { note: `key=${REDACTED}` },
    });
  });

  it("writes the fields an agent lists in secretFields as [redacted] in its step's journal input", async () => {
    const login: Agent = {
      id: '@t/login',
      secretFields: ['password'],
      execute: (input: { user: string; password: string }) => ({
        user: input.user,
        ok: input.password === 'pw-1',
      }),
    };
    const wf = compile({ steps: [{ id: 'l', agent: '@t/login', input: { user: 'ada', password: 'pw-1' } }] });
    const { engine } = testEngine([login]);
    const r = await engine.execute(wf);
    // The agent itself got the real value.
    expect(r.steps.l!.output).toEqual({ user: 'ada', ok: true });
    const j = await journalOf(engine, r.executionId);
    expect(dataOf(entriesOf(j, 'step.started', 'l')[0]).input).toEqual({ user: 'ada', password: REDACTED });
  });

  it("applies a fallback agent's secretFields to the input journalled when the fallback starts", async () => {
    const backup: Agent = { id: '@t/backup', secretFields: ['token'], execute: () => ({ ok: true }) };
    const wf = compile({
      steps: [
        {
          id: 'p',
          agent: '@t/boom',
          input: { token: 'tok-abc', q: 1 },
          onError: 'fallback',
          fallbackStepId: 'b',
        },
        { id: 'b', agent: '@t/backup', input: {} },
      ],
    });
    const boom = agent('@t/boom', () => {
      throw new TerminalError('down');
    });
    const { engine } = testEngine([boom, backup]);
    const r = await engine.execute(wf);
    expect(r.status).toBe('completed');
    const j = await journalOf(engine, r.executionId);
    expect(dataOf(entriesOf(j, 'step.started', 'b')[0]).input).toEqual({ token: REDACTED, q: 1 });
  });
});
