import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpAgent } from '../src/index.js';
import { contextFor } from './helpers.js';

// Its own file: msw patches the global fetch, and a request msw lets through loses the
// dispatcher (so it would skip the egress check the loopback tests in egress.test.ts assert).
const server = setupServer(http.get('https://api.example.com/users/7', () => HttpResponse.json({ id: 7 })));
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterAll(() => server.close());

describe('egress control with msw', () => {
  it('leaves msw in charge of public URLs in tests, though the agent passes its egress dispatcher', async () => {
    const out = await httpAgent.execute({ url: 'https://api.example.com/users/7' }, contextFor());
    expect(out).toMatchObject({ status: 200, body: { id: 7 } });
  });
});
