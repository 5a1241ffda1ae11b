import { defineAgent } from '@orchestr8/agent-base';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { HttpResponse, http, withHttpMocks } from '../src/http-mocks.js';
import { createTestEngine, expectStep } from '../src/index.js';

const getJson = defineAgent<{ url: string }, unknown>({
  id: '@acme/get-json',
  async execute(input, ctx) {
    const res = await fetch(input.url, { signal: ctx.signal });
    return res.json();
  },
});

const server = withHttpMocks([
  http.get('https://api.example.test/users/:id', ({ params }) =>
    HttpResponse.json({ id: params.id, name: 'Ada' }),
  ),
]);
afterAll(() => server.close());

const workflow = (url: string) => ({
  version: '1.0.0',
  metadata: { id: 'http-test' },
  steps: [{ id: 'get', agent: '@acme/get-json', input: { url }, policies: { retry: { maxAttempts: 1 } } }],
});

describe('withHttpMocks', () => {
  it('answers an agent’s requests from the handlers', async () => {
    const engine = createTestEngine({ agents: [getJson] });
    const result = await engine.run(workflow('https://api.example.test/users/7'));
    expectStep(result, 'get').toHaveCompleted().toHaveOutput({ id: '7', name: 'Ada' });
  });

  it('fails a request no handler answers, and lists it', async () => {
    // msw reports the unhandled request with console.error: checked here, not printed.
    const printed = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const engine = createTestEngine({ agents: [getJson] });
      const result = await engine.run(workflow('https://elsewhere.example.test/'));
      expectStep(result, 'get').toHaveStatus('failed');
      expect(server.unhandled).toEqual(['GET https://elsewhere.example.test/']);
      expect(printed.mock.calls.flat().join('\n')).toContain('GET https://elsewhere.example.test/');
    } finally {
      printed.mockRestore();
    }
  });
});
