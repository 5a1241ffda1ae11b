// biome-ignore-all lint/suspicious/noTemplateCurlyInString: workflow documents contain ${...} templates
import { TerminalError } from '@orchestr8/common';
import { describe, expect, it } from 'vitest';
import { type Agent, createRedactor, type EngineEvent, REDACTED, REDACTED_TOO_DEEP } from '../src/index.js';
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

/** `levels` objects nested in one another, `leaf` at the bottom. */
function nest(levels: number, leaf: unknown): unknown {
  let v = leaf;
  for (let i = 0; i < levels; i++) v = { down: v };
  return v;
}

describe('createRedactor', () => {
  const r = createRedactor([API_KEY]);

  it('redacts a secret used as an object key, keeping the key in its place and the value', () => {
    const input = { a: 1, [API_KEY]: 'v', [`Bearer ${API_KEY}`]: { x: 2 }, z: 3 };
    const out = r.redact(input) as Record<string, unknown>;
    expect(Object.keys(out)).toEqual(['a', REDACTED, `Bearer ${REDACTED}`, 'z']);
    expect(out).toEqual({ a: 1, [REDACTED]: 'v', [`Bearer ${REDACTED}`]: { x: 2 }, z: 3 });
  });

  it('redacts a secret 100 levels deep: past the levels it walks, the subtree holding it is replaced whole', () => {
    const out = r.redact({ top: nest(100, { token: API_KEY }), clean: nest(100, 'fine') });
    const text = JSON.stringify(out);
    expect(text).not.toContain(API_KEY);
    expect(text).toContain(REDACTED_TOO_DEEP);
    // A deep subtree without a secret is kept as it is.
    expect((out as { clean: unknown }).clean).toEqual(nest(100, 'fine'));
    // So is a secret used as a key down there.
    expect(JSON.stringify(r.redact(nest(100, { [API_KEY]: 1 })))).not.toContain(API_KEY);
  });

  it('replaces cyclic data past the levels it walks with the marker instead of walking forever', () => {
    const cyclic: Record<string, unknown> = { note: 'x' };
    cyclic.self = cyclic;
    const out = r.redact(cyclic);
    expect(JSON.stringify(out, (_k, v) => v)).toContain(REDACTED_TOO_DEEP);
  });

  it('redacts every occurrence inside longer strings; overlapping secrets become one marker with nothing of either left', () => {
    expect(r.redact(`a ${API_KEY} b ${API_KEY}${API_KEY} c`)).toBe(`a ${REDACTED} b ${REDACTED} c`);
    const overlapping = createRedactor(['abcdef', 'defghi']);
    expect(overlapping.redact('xx abcdefghi yy')).toBe(`xx ${REDACTED} yy`);
    // A secret inside another is not found half-way: the longer one goes whole.
    expect(createRedactor(['pass', 'password1']).redact('password1 pass')).toBe(`${REDACTED} ${REDACTED}`);
  });

  it('redacts a secret shorter than 4 characters where a whole value or key equals it, not inside longer strings', () => {
    const short = createRedactor(['abc']);
    expect(short.redact({ v: 'abc', abc: 1, text: 'abcdef', list: ['abc'] })).toEqual({
      v: REDACTED,
      [REDACTED]: 1,
      text: 'abcdef',
      list: [REDACTED],
    });
  });

  it('leaves what it is given unchanged and returns it as is when nothing matched', () => {
    const clean = { a: { b: ['c', 1, null] } };
    expect(r.redact(clean)).toBe(clean);
    const dirty = { keep: { same: true }, secret: [API_KEY] };
    const out = r.redact(dirty) as typeof dirty;
    expect(dirty.secret[0]).toBe(API_KEY);
    expect(out.keep).toBe(dirty.keep);
    expect(out.secret).toEqual([REDACTED]);
  });

  it('keeps a key named __proto__ an ordinary key (JSON.parse makes them) and redacts under it', () => {
    const parsed = JSON.parse(`{"__proto__": {"k": "${API_KEY}"}, "${API_KEY}": 1}`);
    const out = r.redact(parsed) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(JSON.stringify(out)).toBe(`{"__proto__":{"k":"${REDACTED}"},"${REDACTED}":1}`);
  });

  it('checks what toJSON returns, since that is what gets written', () => {
    class Credentials {
      constructor(private readonly key: string) {}
      toJSON() {
        return { auth: `Bearer ${this.key}` };
      }
    }
    expect(JSON.stringify(r.redact({ c: new Credentials(API_KEY) }))).toBe(
      `{"c":{"auth":"Bearer ${REDACTED}"}}`,
    );
    const when = new Date(0);
    expect(r.redact({ when })).toEqual({ when });
  });

  it('redacts the fields listed as secret whatever their value, at any depth', () => {
    const fields = createRedactor([], ['password']);
    expect(fields.redact({ user: 'ada', password: { any: 'thing' } })).toEqual({
      user: 'ada',
      password: REDACTED,
    });
    expect(JSON.stringify(fields.redact(nest(100, { password: 'pw' })))).not.toContain('"pw"');
  });
});
