import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildPrompt, LLM_PROVIDER_ENV, llmAgent, readJson, synthesize } from '../src/index.js';
import { caught, compile, contextFor, dataOf, entries, journal, run, testEngine } from './helpers.js';

const ANTHROPIC = 'https://api.anthropic.com/v1/messages';
const OPENAI = 'https://llm.example.test/v1/chat/completions';

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => {
  server.resetHandlers();
  delete process.env.ANTHROPIC_API_KEY;
  delete process.env.OPENAI_API_KEY;
  delete process.env[LLM_PROVIDER_ENV];
});
afterAll(() => server.close());

interface Seen {
  headers: Headers;
  body: any;
}

/** Answers the Anthropic endpoint with `replies` in order (the last one repeats); records requests. */
function anthropic(...replies: (string | (() => Response))[]): Seen[] {
  const seen: Seen[] = [];
  server.use(
    http.post(ANTHROPIC, async ({ request }) => {
      seen.push({ headers: request.headers, body: await request.json() });
      const reply = replies[Math.min(seen.length, replies.length) - 1]!;
      if (typeof reply === 'function') return reply();
      return HttpResponse.json({
        id: `msg_${seen.length}`,
        type: 'message',
        role: 'assistant',
        model: 'claude-test-1',
        content: [{ type: 'text', text: reply }],
        stop_reason: 'end_turn',
        usage: { input_tokens: 10, output_tokens: 5 },
      });
    }),
  );
  return seen;
}

const anthropicError =
  (status: number, type: string, headers: Record<string, string> = {}) =>
  () =>
    HttpResponse.json({ type: 'error', error: { type, message: `${type} happened` } }, { status, headers });

const prompt = {
  role: 'a release-notes editor',
  goals: ['Summarise the changes for users'],
  constraints: ['At most three bullet points'],
  instructions: 'Write the summary.',
  input: { commits: ['fix: crash on start', 'feat: dark mode'] },
};

const summarySchema = {
  type: 'object',
  required: ['title', 'bullets'],
  additionalProperties: false,
  properties: {
    title: { type: 'string', minLength: 3 },
    bullets: { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 3 },
  },
};

describe('@orchestr8/llm with anthropic', () => {
  it('sends the JSON prompt to the Messages API and returns text, model and usage', async () => {
    const seen = anthropic('Dark mode arrives; a crash is fixed.');
    const out = await llmAgent.execute(
      { provider: 'anthropic', apiKey: 'sk-ant-test', maxTokens: 300, temperature: 0.2, ...prompt },
      contextFor(),
    );
    expect(out).toEqual({
      text: 'Dark mode arrives; a crash is fixed.',
      model: 'claude-test-1',
      provider: 'anthropic',
      usage: { inputTokens: 10, outputTokens: 5 },
    });
    const req = seen[0]!;
    expect(req.headers.get('x-api-key')).toBe('sk-ant-test');
    expect(req.headers.get('anthropic-version')).toBe('2023-06-01');
    expect(req.body).toMatchObject({ model: 'claude-sonnet-4-5', max_tokens: 300, temperature: 0.2 });
    expect(req.body.system).toContain('You are a release-notes editor.');
    expect(req.body.system).toContain('- Summarise the changes for users');
    expect(req.body.system).toContain('- At most three bullet points');
    expect(req.body.messages).toHaveLength(1);
    expect(req.body.messages[0].content).toContain('Write the summary.');
    expect(req.body.messages[0].content).toContain('feat: dark mode');
  });

  it('takes the key from ANTHROPIC_API_KEY and the model from the agent config', async () => {
    process.env.ANTHROPIC_API_KEY = 'sk-env';
    const seen = anthropic('ok');
    await llmAgent.execute(
      { provider: 'anthropic', instructions: 'hi' },
      contextFor({ config: { model: 'claude-x' } }),
    );
    expect(seen[0]!.headers.get('x-api-key')).toBe('sk-env');
    expect(seen[0]!.body.model).toBe('claude-x');
  });

  it('fails with AUTH, before any request, when no key is configured', async () => {
    const e = await caught(() =>
      llmAgent.execute({ provider: 'anthropic', instructions: 'hi' }, contextFor()),
    );
    expect(e).toMatchObject({ code: 'AUTH', retryable: false });
    expect(e.message).toContain('ANTHROPIC_API_KEY');
  });

  it('parses a fenced JSON answer and validates it against outputSchema', async () => {
    anthropic('Here you go:\n```json\n{"title": "Release 2.0", "bullets": ["Dark mode"]}\n```');
    const out = await llmAgent.execute(
      { provider: 'anthropic', apiKey: 'k', ...prompt, outputSchema: summarySchema },
      contextFor(),
    );
    expect(out.json).toEqual({ title: 'Release 2.0', bullets: ['Dark mode'] });
    expect(out.repaired).toBeUndefined();
  });

  it('asks once for a correction when the answer does not satisfy outputSchema', async () => {
    const seen = anthropic('{"title": "Release 2.0"}', '{"title": "Release 2.0", "bullets": ["Dark mode"]}');
    const out = await llmAgent.execute(
      { provider: 'anthropic', apiKey: 'k', ...prompt, outputSchema: summarySchema },
      contextFor(),
    );
    expect(out).toMatchObject({
      json: { title: 'Release 2.0', bullets: ['Dark mode'] },
      repaired: true,
      usage: { inputTokens: 20, outputTokens: 10 },
    });
    expect(seen).toHaveLength(2);
    const messages = seen[1]!.body.messages;
    expect(messages.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(messages[1].content).toBe('{"title": "Release 2.0"}');
    expect(messages[2].content).toContain("must have required property 'bullets'");
  });

  it('fails with LLM_INVALID_OUTPUT when the correction is still wrong', async () => {
    const seen = anthropic('not json at all', '{"title": 5}');
    const e = await caught(() =>
      llmAgent.execute(
        { provider: 'anthropic', apiKey: 'k', ...prompt, outputSchema: summarySchema },
        contextFor(),
      ),
    );
    expect(seen).toHaveLength(2);
    expect(seen[1]!.body.messages[2].content).toContain('not valid JSON');
    expect(e).toMatchObject({ code: 'LLM_INVALID_OUTPUT', retryable: false });
    expect(e.details.answer).toBe('{"title": 5}');
  });

  it('retries an overloaded provider under the workflow retry policy, then completes', async () => {
    const seen = anthropic(anthropicError(529, 'overloaded_error'), 'fine now');
    const wf = compile({
      steps: [
        {
          id: 'ask',
          agent: '@orchestr8/llm',
          input: { provider: 'anthropic', apiKey: 'k', instructions: 'hi' },
        },
      ],
      policies: { resilience: { retry: { maxAttempts: 3, baseDelayMs: 10, jitter: 'none' } } },
    });
    const { engine, clock } = testEngine([llmAgent]);
    const r = await run(engine, clock, wf);
    expect(r.status).toBe('completed');
    expect(seen).toHaveLength(2);
    expect(r.steps.ask!.output).toMatchObject({ text: 'fine now' });
    const retrying = entries(await journal(engine, r.executionId), 'step.retrying', 'ask');
    expect(dataOf(retrying[0]).error).toMatchObject({ code: 'HTTP_5XX', retryable: true });
  });

  it('honours Retry-After on 429, and keeps the apiKey out of the journal', async () => {
    anthropic(anthropicError(429, 'rate_limit_error', { 'retry-after': '12' }), 'ok');
    const wf = compile({
      steps: [
        {
          id: 'ask',
          agent: '@orchestr8/llm',
          input: { provider: 'anthropic', apiKey: 'sk-secret-key', instructions: 'hi' },
        },
      ],
      policies: {
        resilience: { retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 60_000, jitter: 'none' } },
      },
    });
    const { engine, clock } = testEngine([llmAgent]);
    const r = await run(engine, clock, wf);
    expect(r.status).toBe('completed');
    const j = await journal(engine, r.executionId);
    const retrying = entries(j, 'step.retrying', 'ask');
    expect(dataOf(retrying[0])).toMatchObject({
      delayMs: 12_000,
      error: { code: 'HTTP_429', retryAfterMs: 12_000 },
    });
    expect(dataOf(entries(j, 'step.started', 'ask')[0]).input.apiKey).toBe('[redacted]');
    expect(JSON.stringify(j)).not.toContain('sk-secret-key');
  });

  it('fails at once with AUTH on 401 and HTTP_4XX on 400', async () => {
    anthropic(anthropicError(401, 'authentication_error'));
    const auth = await caught(() =>
      llmAgent.execute({ provider: 'anthropic', apiKey: 'bad', instructions: 'x' }, contextFor()),
    );
    expect(auth).toMatchObject({ code: 'AUTH', retryable: false });
    expect(auth.message).toContain('authentication_error');
    server.resetHandlers();
    anthropic(anthropicError(400, 'invalid_request_error'));
    const bad = await caught(() =>
      llmAgent.execute({ provider: 'anthropic', apiKey: 'k', instructions: 'x' }, contextFor()),
    );
    expect(bad).toMatchObject({ code: 'HTTP_4XX', retryable: false });
  });

  it('maps a network failure to a retryable NETWORK error', async () => {
    anthropic(() => HttpResponse.error());
    const e = await caught(() =>
      llmAgent.execute({ provider: 'anthropic', apiKey: 'k', instructions: 'x' }, contextFor()),
    );
    expect(e).toMatchObject({ code: 'NETWORK', retryable: true });
  });

  it('names the provider host as its circuit-breaker target', () => {
    expect(llmAgent.target!({ provider: 'anthropic' }, {})).toBe('api.anthropic.com');
    expect(llmAgent.target!({}, { provider: 'openai', baseUrl: 'http://localhost:11434/v1' })).toBe(
      'localhost:11434',
    );
    expect(llmAgent.target!({ provider: 'mock' }, {})).toBe('mock');
  });
});

describe('@orchestr8/llm with an OpenAI-compatible endpoint', () => {
  function openai(...replies: (string | (() => Response))[]): Seen[] {
    const seen: Seen[] = [];
    server.use(
      http.post(OPENAI, async ({ request }) => {
        seen.push({ headers: request.headers, body: await request.json() });
        const reply = replies[Math.min(seen.length, replies.length) - 1]!;
        if (typeof reply === 'function') return reply();
        return HttpResponse.json({
          id: 'chatcmpl-1',
          model: 'gpt-test',
          choices: [{ index: 0, message: { role: 'assistant', content: reply }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 },
        });
      }),
    );
    return seen;
  }

  it("posts chat completions to the operator's baseUrl with the host's Bearer key", async () => {
    process.env.OPENAI_API_KEY = 'sk-openai';
    const seen = openai('{"title": "Hello", "bullets": ["one"]}');
    const out = await llmAgent.execute(
      { ...prompt, outputSchema: summarySchema, model: 'gpt-test', maxTokens: 50 },
      contextFor(
        { config: { provider: 'openai', baseUrl: 'https://llm.example.test/v1/' } },
        { agents: { '@orchestr8/llm': { baseUrl: 'https://llm.example.test/v1' } } },
      ),
    );
    expect(out).toMatchObject({
      provider: 'openai',
      model: 'gpt-test',
      json: { title: 'Hello', bullets: ['one'] },
      usage: { inputTokens: 7, outputTokens: 3 },
    });
    const req = seen[0]!;
    expect(req.headers.get('authorization')).toBe('Bearer sk-openai');
    expect(req.body).toMatchObject({ model: 'gpt-test', max_tokens: 50 });
    expect(req.body.messages.map((m: { role: string }) => m.role)).toEqual(['system', 'user']);
    expect(req.body.messages[0].content).toContain('It must satisfy this JSON Schema');
  });

  it("never sends the host's key to a baseUrl a document chose", async () => {
    process.env.OPENAI_API_KEY = 'sk-openai-host';
    const seen: Headers[] = [];
    server.use(
      http.post('https://collector.example.test/v1/chat/completions', ({ request }) => {
        seen.push(request.headers);
        return HttpResponse.json({
          id: 'c',
          model: 'm',
          choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
        });
      }),
    );
    const e = await caught(() =>
      llmAgent.execute(
        { ...prompt, provider: 'openai', baseUrl: 'https://collector.example.test/v1' },
        contextFor(),
      ),
    );
    expect(e).toMatchObject({ code: 'CAPABILITY_DENIED', retryable: false });
    expect(e.message).toContain('OPENAI_API_KEY is sent only to https://api.openai.com/v1');
    expect(seen).toHaveLength(0);
    // With its own key (e.g. from a secret) a document may use its own endpoint.
    await llmAgent.execute(
      { ...prompt, provider: 'openai', apiKey: 'sk-own', baseUrl: 'https://collector.example.test/v1' },
      contextFor(),
    );
    expect(seen.map((h) => h.get('authorization'))).toEqual(['Bearer sk-own']);
  });

  it('maps 503 with Retry-After to a retryable HTTP_5XX carrying retryAfterMs', async () => {
    openai(() =>
      HttpResponse.json(
        { error: { message: 'busy', type: 'server_error' } },
        { status: 503, headers: { 'retry-after': '2' } },
      ),
    );
    const e = await caught(() =>
      llmAgent.execute(
        { provider: 'openai', apiKey: 'k', baseUrl: 'https://llm.example.test/v1', instructions: 'x' },
        contextFor(),
      ),
    );
    expect(e).toMatchObject({ code: 'HTTP_5XX', retryable: true, retryAfterMs: 2000 });
  });

  it('maps 403 to AUTH', async () => {
    openai(() =>
      HttpResponse.json({ error: { message: 'no access', type: 'permission_error' } }, { status: 403 }),
    );
    const e = await caught(() =>
      llmAgent.execute(
        { provider: 'openai', apiKey: 'k', baseUrl: 'https://llm.example.test/v1', instructions: 'x' },
        contextFor(),
      ),
    );
    expect(e).toMatchObject({ code: 'AUTH', retryable: false });
  });

  it('calls a self-hosted endpoint without a key', async () => {
    const seen = openai('hi');
    await llmAgent.execute(
      { provider: 'openai', baseUrl: 'https://llm.example.test/v1', instructions: 'x' },
      contextFor(),
    );
    expect(seen[0]!.headers.get('authorization')).toBeNull();
  });
});

describe('@orchestr8/llm mock provider', () => {
  it('answers offline with a value that satisfies outputSchema, the same every time', async () => {
    const schema = {
      type: 'object',
      required: ['title', 'score', 'tags', 'level', 'done', 'nested'],
      properties: {
        title: { type: 'string', minLength: 3, maxLength: 40 },
        score: { type: 'integer', minimum: 1, maximum: 10 },
        ratio: { type: 'number', exclusiveMinimum: 0 },
        tags: { type: 'array', items: { type: 'string' }, minItems: 2 },
        level: { enum: ['low', 'high'] },
        done: { type: 'boolean' },
        nested: { $ref: '#/$defs/item' },
        maybe: { anyOf: [{ type: 'null' }, { type: 'string' }] },
      },
      $defs: { item: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } } },
    };
    const input = { provider: 'mock', ...prompt, outputSchema: schema };
    const a = await llmAgent.execute(input, contextFor());
    const b = await llmAgent.execute(structuredClone(input), contextFor());
    expect(a).toEqual(b);
    expect(a.provider).toBe('mock');
    expect(a.json).toMatchObject({
      score: 1,
      tags: [expect.any(String), expect.any(String)],
      level: 'low',
      done: false,
      nested: { id: expect.any(String) },
      maybe: null,
    });
    expect((a.json as { title: string }).title).toContain('Summarise the changes for users');
    expect(JSON.parse(a.text)).toEqual(a.json);
  });

  it('takes strings from input fields of the same name', () => {
    const value = synthesize(
      { type: 'object', properties: { city: { type: 'string' } } },
      { input: { city: 'Lisbon' } },
    );
    expect(value).toEqual({ city: 'Lisbon' });
  });

  it('fills common string formats with fixed sample values', () => {
    const value = synthesize(
      {
        type: 'object',
        properties: {
          at: { type: 'string', format: 'date-time' },
          mail: { type: 'string', format: 'email' },
        },
      },
      {},
    );
    expect(value).toEqual({ at: '2024-01-01T00:00:00Z', mail: 'mock@example.com' });
  });

  it('answers text naming the role and goals when there is no outputSchema', async () => {
    const out = await llmAgent.execute({ provider: 'mock', ...prompt }, contextFor());
    expect(out.text).toContain('[mock] As a release-notes editor: Summarise the changes for users');
    expect(out.json).toBeUndefined();
  });

  it('returns a scripted mockResponse, checked against outputSchema', async () => {
    const scripted = { title: 'Scripted', bullets: ['x'] };
    const out = await llmAgent.execute(
      { provider: 'mock', mockResponse: scripted, outputSchema: summarySchema },
      contextFor(),
    );
    expect(out.json).toEqual(scripted);
    const text = await llmAgent.execute({ provider: 'mock', mockResponse: 'exactly this' }, contextFor());
    expect(text.text).toBe('exactly this');
    const bad = await caught(() =>
      llmAgent.execute(
        { provider: 'mock', mockResponse: { title: 1 }, outputSchema: summarySchema },
        contextFor(),
      ),
    );
    expect(bad).toMatchObject({ code: 'LLM_INVALID_OUTPUT' });
  });

  it('is chosen by ORCHESTR8_LLM_PROVIDER when neither input nor config names a provider', async () => {
    const none = await caught(() => llmAgent.execute({ instructions: 'x' }, contextFor()));
    expect(none).toMatchObject({ code: 'VALIDATION' });
    expect(none.message).toContain(LLM_PROVIDER_ENV);
    process.env[LLM_PROVIDER_ENV] = 'mock';
    const out = await llmAgent.execute({ instructions: 'x' }, contextFor());
    expect(out.provider).toBe('mock');
  });

  it('runs in a workflow and feeds a later step', async () => {
    const wf = compile({
      steps: [
        {
          id: 'classify',
          agent: { id: '@orchestr8/llm', config: { provider: 'mock' } },
          input: {
            role: 'a support triager',
            goals: ['Classify the ticket'],
            input: { ticket: '${inputs.ticket}' },
            outputSchema: {
              type: 'object',
              required: ['category'],
              properties: { category: { enum: ['bug', 'question'] } },
            },
          },
        },
      ],
      inputs: { type: 'object', properties: { ticket: { type: 'string' } } },
      outputs: { category: '${steps.classify.output.json.category}' },
    });
    const { engine, clock } = testEngine([llmAgent]);
    const r = await run(engine, clock, wf, { ticket: 'It crashes' });
    expect(r.status).toBe('completed');
    expect(r.outputs).toEqual({ category: 'bug' });
  });
});

describe('prompt helpers', () => {
  it('renders examples and input into the user message', () => {
    const p = buildPrompt({
      instructions: 'Translate.',
      examples: [{ input: 'hola', output: 'hello' }],
      input: 'adios',
    });
    expect(p.system).toBe('');
    expect(p.user).toBe(
      'Translate.\n\nExamples:\n\nExample 1:\nInput:\nhola\nOutput:\nhello\n\nInput:\nadios',
    );
  });

  it('reads JSON from bare text, code fences or surrounding prose', () => {
    expect(readJson('{"a":1}')).toEqual({ ok: true, value: { a: 1 } });
    expect(readJson('```\n[1,2]\n```')).toEqual({ ok: true, value: [1, 2] });
    expect(readJson('Sure! {"a": {"b": 2}} Hope that helps.')).toEqual({ ok: true, value: { a: { b: 2 } } });
    expect(readJson('no json here').ok).toBe(false);
  });
});
